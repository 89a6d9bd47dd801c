/*
 * sink.c: the sink interface, the fd writer behind file, stdout and discard,
 * and the fan-out consumer (see sink.h).
 *
 * Kinds: sink_open_conf() picks the kind from the table below; every call goes
 * through it. The fd writer is this file's own kind.
 *
 * The fd writer: regular files are written with plain write(2) once 64 KiB are
 * buffered, and at the end of each consumer batch, so a quiet service still
 * writes promptly. Pipes and sockets are non-blocking and wait for EV_WRITE.
 * stdout is never made non-blocking in place: its open file description may be
 * stderr's too, and our children's; the sink writes to a private description of
 * it, or with MSG_DONTWAIT to a socket (std_private() in util.c).
 * fsync: batch syncs at most once a second while writing; always syncs after
 * every write; both sync at close. A record counts as done once the kernel has
 * it.
 *
 * A write that fails (ENOSPC, EIO) keeps every record and retries every
 * second; the sink is down meanwhile (readiness, sluice_sink_up), and a cancel
 * takes its records back for the spool. A regular file never ends in a torn
 * record: the bytes of a record the kernel took only in part are cut off again
 * (ftruncate) and the record is written whole later.
 */
#include "sink.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bio.h"
#include "envcheck.h"
#include "log.h"
#include "scope.h"
#include "recbuf.h"
#include "track.h"
#include "util.h"

#define FLUSH_AT  (64 * 1024)
#define HIGH_MARK (1024 * 1024)
#define LOW_MARK  (256 * 1024)
#define WARN_USEC (60 * UINT64_C(1000000))

struct sink {
	struct scope *scope;
	char *name;
	const struct sink_kind *kind;
	const struct conf_sink *conf; /* NULL for the dead letter and the joblog */
	void *state;		      /* the kind's */
	/* records: appended = done + held + returned; done = written + lost + failed */
	uint64_t appended, done, lost, failed, returned;
	void (*wake)(void *);
	void *wake_arg;

	/* the fd writer */
	enum sink_fd_target to;
	char *path;
	enum fsync_mode fsync;
	int fd;
	bool regular;
	enum std_how how; /* stdout: how to write without blocking (util.h) */
	struct recbuf out;
	struct event *write_ev, *retry_ev, *sync_ev;
	bool sync_due, failing, broken, sync_inflight;
	uint64_t last_warn;
	struct bio_job sync_job;
};

/*
 * Tracked items handed to the sinks, holding refs references to one entry of track.c
 * (one record, or a run of them): released once every sink has finished k items.
 * Consecutive items of one entry share a held slot.
 */
struct held {
	uint32_t source, track;
	uint64_t index, k;
	uint32_t refs;
};

struct sinks {
	struct scope *scope;
	struct queue *in;
	struct sink **v;
	size_t n;
	bool started, draining, finished, in_pump, repump;
	uint64_t count;		/* items handed to the sinks */
	struct held *held;	/* a ring */
	size_t hhead, hn, hcap; /* hcap: a power of two */
};

_Static_assert(offsetof(struct sink_kind, conf) == 0, "a sink kind starts with its conf");

/* Below: file, stdout and discard share the fd writer; the dead letter and joblog too. */
extern const struct sink_kind sink_file, sink_stdout;

/* ---- for kinds ---- */

void **sink_state(struct sink *s)
{
	return &s->state;
}

const struct conf_sink *sink_conf(const struct sink *s)
{
	return s->conf;
}

struct scope *sink_scope(struct sink *s)
{
	return s->scope;
}

void sink_count_done(struct sink *s, uint64_t n)
{
	s->done += n;
}

void sink_count_lost(struct sink *s, uint64_t n)
{
	s->done += n;
	s->lost += n;
}

void sink_count_failed(struct sink *s, uint64_t n)
{
	s->done += n;
	s->failed += n;
}

void sink_count_returned(struct sink *s, uint64_t n)
{
	s->returned += n;
}

uint64_t sink_give_back(struct sink *s, struct recbuf *b, sink_give_cb give, void *arg)
{
	uint64_t n = recbuf_records(b);
	for (size_t i = 0; give != NULL && i < n; i++) {
		size_t len;
		const char *data = recbuf_record(b, i, &len);
		give(arg, data, len, recbuf_record_meta(b, i));
	}
	recbuf_clear(b);
	sink_count_returned(s, n);
	return n;
}

void sink_wake(struct sink *s)
{
	if (s->wake != NULL)
		s->wake(s->wake_arg);
}

/* ---- the fd writer: file, stdout, discard ---- */

static int open_path(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static void sink_write_cb(evutil_socket_t fd, short what, void *arg);
static void sink_retry_cb(evutil_socket_t fd, short what, void *arg);
static void sink_sync_cb(evutil_socket_t fd, short what, void *arg);

static void sink_attach(struct sink *s, int fd)
{
	struct stat st;
	s->fd = fd;
	s->regular = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
	/* Only a description of our own: stdout's is never changed (std_private()). */
	if (fd > STDERR_FILENO && !s->regular) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && !(fl & O_NONBLOCK))
			fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	}
	if (s->write_ev != NULL)
		event_free(s->write_ev);
	s->write_ev = fd >= 0 && !s->regular
			  ? event_new(scope_base(s->scope), fd, EV_WRITE, sink_write_cb, s)
			  : NULL;
}

/* What the kernel takes now, without blocking (recbuf_write for stdout). */
static ssize_t fd_write(struct sink *s)
{
	struct recbuf *b = &s->out;
	if (s->how == STD_PLAIN)
		return recbuf_write(b, s->fd);
	ssize_t n = std_write(s->fd, s->how, b->p + b->off, b->len - b->off);
	if (n > 0)
		b->off += (size_t)n;
	return n;
}

static struct sink *sink_alloc(struct scope *sc, const char *name, const struct sink_kind *kind)
{
	struct sink *s = xcalloc(1, sizeof(*s));
	s->scope = sc;
	s->name = xstrdup(name);
	s->kind = kind;
	s->fd = -1;
	return s;
}

struct sink *sink_open(struct scope *sc, const char *name, enum sink_fd_target to, const char *path,
		       enum fsync_mode fsync, char *err, size_t errlen)
{
	int fd = -1;
	if (to == SINK_TO_FILE) {
		fd = open_path(path);
		if (fd < 0) {
			snprintf(err, errlen, "sink '%s': cannot open '%s' for writing: %s", name,
				 path, strerror(errno));
			return NULL;
		}
	}
	struct sink *s = sink_alloc(sc, name, &sink_file);
	if (to == SINK_TO_STDOUT)
		fd = std_private(STDOUT_FILENO, &s->how);
	s->to = to;
	s->path = path != NULL ? xstrdup(path) : NULL;
	s->fsync = fsync;
	s->retry_ev = evtimer_new(scope_base(sc), sink_retry_cb, s);
	s->sync_ev = evtimer_new(scope_base(sc), sink_sync_cb, s);
	sink_attach(s, fd);
	/* A cancel while it cannot write gives its records back, with their origin. */
	s->out.keep_meta = true;
	return s;
}

static void fd_add(struct sink *s, const char *data, size_t len, const struct recbuf_meta *m)
{
	if (s->broken) {
		sink_count_lost(s, 1);
		return;
	}
	if (s->fd < 0) {
		/* discard: done as soon as it is handed over */
		sink_count_done(s, 1);
		return;
	}
	recbuf_add_meta(&s->out, data, len, m);
	if (s->regular && recbuf_unwritten(&s->out) >= FLUSH_AT)
		sink_flush(s);
}

void sink_append(struct sink *s, const char *data, size_t len)
{
	s->appended++;
	fd_add(s, data, len, NULL);
}

static void fd_append(struct sink *s, const struct item *it)
{
	struct recbuf_meta m = {
	    .seq = it->seq, .index = it->index, .source = it->source, .track = it->track};
	fd_add(s, it->data, it->len, &m);
}

/*
 * The reader is gone for good (EPIPE) or the fd is unusable: no record can ever be
 * written again, so nothing can finish. Count what is held as lost and cancel,
 * which spools everything still queued.
 */
static void sink_broken(struct sink *s)
{
	char msg[256];
	snprintf(msg, sizeof(msg), "sink '%s' cannot write to '%s' any more: %s", s->name,
		 s->path != NULL ? s->path : "stdout", strerror(errno));
	sink_count_lost(s, recbuf_clear(&s->out));
	if (s->fd > STDERR_FILENO)
		close(s->fd);
	s->fd = -1;
	s->broken = true;
	scope_sink_broken(s->scope, msg);
}

/* Blocking: only at close and reopen, off the hot path. */
static void sink_sync(struct sink *s)
{
	if (fdatasync(s->fd) < 0 && errno != EINVAL)
		log_warn("sink '%s': fdatasync of '%s' failed", s->name, s->path);
	s->sync_due = false;
}

static void sink_sync_done(struct bio_job *j)
{
	struct sink *s = j->arg;
	s->sync_inflight = false;
	if (j->result < 0 && j->err != EINVAL) {
		errno = j->err;
		log_warn("sink '%s': fdatasync of '%s' failed", s->name, s->path);
	}
	sink_flush(s);
	sink_wake(s);
}

/* fdatasync on the bio pool, on a dup of the fd so a reopen cannot pull it away. */
static void sink_sync_async(struct sink *s)
{
	if (s->sync_inflight || s->fd < 0)
		return;
	int fd = dup(s->fd);
	if (fd < 0) {
		sink_sync(s);
		return;
	}
	s->sync_due = false;
	s->sync_inflight = true;
	s->sync_job = (struct bio_job){
	    .work = bio_work_sync_close, .done = sink_sync_done, .arg = s, .fd = fd};
	bio_submit(&s->sync_job);
}

static void sink_sync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sink *s = arg;
	if (s->sync_due && s->fd >= 0)
		sink_sync_async(s);
}

/*
 * A write failed: the bytes of a record the kernel took only in part are cut
 * off the file again (it ends with the last whole record), to be written whole
 * later; a warning at the first failure and then once a minute.
 */
static void fd_failed(struct sink *s)
{
	int err = errno;
	size_t torn = (size_t)(recbuf_written_pos(&s->out) - recbuf_confirmed_pos(&s->out));
	const char *path = s->path != NULL ? s->path : "stdout";
	if (torn > 0 && s->regular) {
		off_t end = lseek(s->fd, 0, SEEK_END);
		if (end >= (off_t)torn && ftruncate(s->fd, end - (off_t)torn) == 0)
			recbuf_rewind(&s->out);
		else
			log_warn("sink '%s': cannot cut the partly written record off '%s'",
				 s->name, path);
	}
	uint64_t now = now_usec();
	if (!s->failing || now - s->last_warn >= WARN_USEC) {
		log_warnx("sink '%s': cannot write to '%s': %s; holding %llu record(s), retrying "
			  "every second",
			  s->name, path, strerror(err),
			  (unsigned long long)recbuf_records(&s->out));
		s->last_warn = now;
	}
	s->failing = true;
}

static void fd_flush(struct sink *s)
{
	if (s->fd < 0 || evtimer_pending(s->retry_ev, NULL))
		return;
	/* fsync: always: no new write until the last one is on disk. */
	if (s->sync_inflight && s->fsync == FSYNC_ALWAYS)
		return;
	while (recbuf_unwritten(&s->out) > 0) {
		ssize_t n = fd_write(s);
		if (n > 0) {
			s->sync_due = true;
			sink_count_done(s, recbuf_confirm_written(&s->out));
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			event_add(s->write_ev, NULL);
			break;
		}
		if (errno == EPIPE || errno == EBADF || errno == EINVAL) {
			sink_broken(s);
			return;
		}
		/* ENOSPC, EIO...: may pass; keep every record and try again. */
		fd_failed(s);
		struct timeval tv = {1, 0};
		evtimer_add(s->retry_ev, &tv);
		return;
	}
	if (recbuf_unwritten(&s->out) == 0 && s->failing) {
		log_info("sink '%s': writing again", s->name);
		s->failing = false;
	}
	if (s->sync_due && s->regular) {
		if (s->fsync == FSYNC_ALWAYS) {
			sink_sync_async(s);
		} else if (s->fsync == FSYNC_BATCH && !evtimer_pending(s->sync_ev, NULL)) {
			struct timeval tv = {1, 0};
			evtimer_add(s->sync_ev, &tv);
		}
	}
}

static void sink_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sink *s = arg;
	sink_flush(s);
	sink_wake(s);
}

static void sink_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	sink_write_cb(fd, what, arg);
}

static bool fd_busy(const struct sink *s)
{
	size_t len = recbuf_unwritten(&s->out);
	/* Hysteresis: busy above the high mark until drained below the low mark. */
	return len >= HIGH_MARK ||
	       (len > LOW_MARK && (evtimer_pending(s->retry_ev, NULL) ||
				   (s->write_ev && event_pending(s->write_ev, EV_WRITE, NULL))));
}

static bool fd_idle(const struct sink *s)
{
	return recbuf_unwritten(&s->out) == 0 || s->fd < 0;
}

static bool fd_up(const struct sink *s)
{
	return !s->failing && !s->broken;
}

static bool fd_down(const struct sink *s)
{
	return s->failing;
}

static uint64_t fd_take_back(struct sink *s, sink_give_cb give, void *arg)
{
	return sink_give_back(s, &s->out, give, arg);
}

static void fd_reopen(struct sink *s)
{
	if (s->to != SINK_TO_FILE)
		return;
	sink_flush(s);
	int fd = open_path(s->path);
	if (fd < 0) {
		log_warn("sink '%s': cannot reopen '%s'; still writing to the old file", s->name,
			 s->path);
		return;
	}
	if (s->fsync != FSYNC_NEVER && s->fd >= 0)
		sink_sync(s);
	if (s->fd >= 0)
		close(s->fd);
	sink_attach(s, fd);
	log_info("sink '%s': reopened '%s'", s->name, s->path);
}

static uint64_t fd_close(struct sink *s, uint64_t timeout_usec)
{
	uint64_t end = now_usec() + timeout_usec;
	uint64_t lost = 0;
	if (s->fd < 0)
		return 0;
	event_del(s->retry_ev);
	while (recbuf_unwritten(&s->out) > 0) {
		ssize_t n = fd_write(s);
		if (n > 0) {
			sink_count_done(s, recbuf_confirm_written(&s->out));
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		uint64_t now = now_usec();
		if (now >= end || !(n < 0 && errno == EAGAIN)) {
			if (n < 0 && errno != EAGAIN)
				fd_failed(s);
			lost = recbuf_clear(&s->out);
			sink_count_lost(s, lost);
			log_error("sink '%s': %llu record(s) could not be written before the "
				  "deadline and are lost",
				  s->name, (unsigned long long)lost);
			break;
		}
		struct pollfd pfd = {.fd = s->fd, .events = POLLOUT};
		poll(&pfd, 1, (int)((end - now) / 1000) + 1);
	}
	if (s->regular && s->fsync != FSYNC_NEVER)
		sink_sync(s);
	if (s->fd > STDERR_FILENO)
		close(s->fd);
	s->fd = -1;
	return lost;
}

static void fd_free(struct sink *s)
{
	if (s->fd >= 0)
		fd_close(s, 0);
}

/* Every kind that reconnects or retries (tcp, unix, exec, http) has these two. */
const struct conf_key sink_backoff_row = {
    "backoff",	    CT_DURATION,
    CF_ENTRY,	    .off = CONF_SNK(backoff),
    .def = "100ms", .doc = "The first reconnect or retry delay; doubles."};
const struct conf_key sink_max_backoff_row = {"max_backoff", CT_DURATION,
					      CF_ENTRY,	     .off = CONF_SNK(max_backoff),
					      .def = "10s",  .doc = "The cap of the backoff."};

static const struct conf_key file_rows[] = {
    {"path", CT_STR, CF_NONEMPTY, .off = CONF_SNK(path), .required = CONF_ALL_KINDS,
     .doc = "file: the file to append to."},
    {"fsync", CT_ENUM, .off = CONF_SNK(fsync), .def = "never",
     .values = (const char *const[]){"never", "batch", "always", NULL},
     .doc = "never, batch (at most once a second) or always."},
    {"mode", CT_ENUM, CF_BOOL_ENUM, .off = CONF_SNK(truncate), .def = "append",
     .values = (const char *const[]){"append", "truncate", NULL},
     .doc = "append, or truncate: emptied at the start."},
};

static void file_envcheck(struct envcheck *ck, const char *owner, const void *entry)
{
	const struct conf_sink *s = entry;
	envcheck_creatable(ck, owner, s->path, &s->path, s->pos, false);
}

/* file, stdout and discard: the fd writer above; sink_open_conf opens them with sink_open. */
#define FD_SINK_KIND(...)                                                                          \
	{                                                                                          \
		.conf = {__VA_ARGS__}, .append = fd_append, .flush = fd_flush, .busy = fd_busy,    \
		.idle = fd_idle, .up = fd_up, .down = fd_down, .take_back = fd_take_back,          \
		.reopen = fd_reopen, .close = fd_close, .free = fd_free,                           \
	}

const struct sink_kind sink_file =
    FD_SINK_KIND(.name = "file", CONF_ROWS(&file_rows[0], &file_rows[1], &file_rows[2]),
		 .envcheck = file_envcheck);
const struct sink_kind sink_stdout = FD_SINK_KIND(.name = "stdout");
const struct sink_kind sink_discard = FD_SINK_KIND(.name = "discard");

/* ---- the interface ---- */

struct sink *sink_open_conf(struct scope *sc, const struct conf_sink *cs, char *err, size_t errlen)
{
	struct sink *s;
	const struct sink_kind *kind = (const struct sink_kind *)cs->kind;
	if (kind->open == NULL) {
		enum sink_fd_target to = kind == &sink_file	? SINK_TO_FILE
					 : kind == &sink_stdout ? SINK_TO_STDOUT
								: SINK_TO_NOWHERE;
		s = sink_open(sc, cs->name, to, cs->path, cs->fsync, err, errlen);
		if (s != NULL) {
			s->kind = kind;
			s->conf = cs;
		}
		return s;
	}
	s = sink_alloc(sc, cs->name, kind);
	s->conf = cs;
	if (s->kind->open(s, err, errlen) < 0) {
		sink_free(s);
		return NULL;
	}
	return s;
}

void sink_put(struct sink *s, const struct item *it)
{
	s->appended++;
	s->kind->append(s, it);
}

void sink_flush(struct sink *s)
{
	s->kind->flush(s);
}

bool sink_busy(const struct sink *s)
{
	return s->kind->busy(s);
}

bool sink_empty(const struct sink *s)
{
	return s->kind->idle(s);
}

void sink_reopen(struct sink *s)
{
	if (s->kind->reopen != NULL)
		s->kind->reopen(s);
}

uint64_t sink_close(struct sink *s, uint64_t timeout_usec)
{
	s->kind->close(s, timeout_usec);
	return s->lost;
}

void sink_free(struct sink *s)
{
	if (s == NULL)
		return;
	if (s->kind->free != NULL)
		s->kind->free(s);
	if (s->write_ev != NULL)
		event_free(s->write_ev);
	if (s->retry_ev != NULL)
		event_free(s->retry_ev);
	if (s->sync_ev != NULL)
		event_free(s->sync_ev);
	recbuf_free(&s->out);
	free(s->name);
	free(s->path);
	free(s);
}

uint64_t sink_written(const struct sink *s)
{
	return s->done - s->lost - s->failed;
}

uint64_t sink_held(const struct sink *s)
{
	return s->appended - s->done - s->returned;
}

bool sink_up(const struct sink *s)
{
	return s->kind->up == NULL || s->kind->up(s);
}

uint64_t sink_failed(const struct sink *s)
{
	return s->failed;
}

const char *sink_name(const struct sink *s)
{
	return s->name;
}

bool sink_fails_records(const struct sink *s)
{
	return s->kind->fails_records;
}

/* ---- the fan-out consumer ---- */

static bool any_busy(const struct sinks *ss)
{
	for (size_t i = 0; i < ss->n; i++)
		if (sink_busy(ss->v[i]))
			return true;
	return false;
}

/* The hold takes over the item's reference to its record: the item leaves untracked. */
static void hold(struct sinks *ss, struct item *it)
{
	if (ss->hn > 0) {
		struct held *last = &ss->held[(ss->hhead + ss->hn - 1) & (ss->hcap - 1)];
		if (last->track == it->track && last->source == it->source &&
		    last->k + 1 == ss->count) {
			last->k = ss->count;
			last->refs++;
			it->track = 0;
			return;
		}
	}
	if (ss->hn == ss->hcap) {
		size_t cap = ss->hcap ? ss->hcap * 2 : 256;
		struct held *v = xmalloc(cap * sizeof(*v));
		for (size_t i = 0; i < ss->hn; i++)
			v[i] = ss->held[(ss->hhead + i) & (ss->hcap - 1)];
		free(ss->held);
		ss->held = v;
		ss->hhead = 0;
		ss->hcap = cap;
	}
	ss->held[(ss->hhead + ss->hn) & (ss->hcap - 1)] = (struct held){.source = it->source,
									.track = it->track,
									.index = it->index,
									.k = ss->count,
									.refs = 1};
	ss->hn++;
	it->track = 0;
}

/* Records every sink has finished are done for their sources. */
static void release_done(struct sinks *ss)
{
	uint64_t min = ss->count;
	for (size_t i = 0; i < ss->n; i++)
		if (ss->v[i]->done < min)
			min = ss->v[i]->done;
	while (ss->hn > 0 && ss->held[ss->hhead].k <= min) {
		struct held h = ss->held[ss->hhead];
		ss->hhead = (ss->hhead + 1) & (ss->hcap - 1);
		ss->hn--;
		track_release_refs(h.source, h.index, h.track, h.refs);
	}
}

static void sinks_check_finished(struct sinks *ss)
{
	if (!ss->draining || ss->finished)
		return;
	for (size_t i = 0; i < ss->n; i++)
		if (!sink_empty(ss->v[i]))
			return;
	ss->finished = true;
	scope_sinks_finished(ss->scope);
}

static void put_all(struct sinks *ss, struct item *it)
{
	ss->count++;
	for (size_t i = 0; i < ss->n; i++)
		sink_put(ss->v[i], it);
	if (it->track != 0)
		hold(ss, it);
	item_free(it);
}

/* The input has ended: partial batches go, commands' stdin closes. */
static void begin_drain(struct sinks *ss)
{
	ss->draining = true;
	for (size_t i = 0; i < ss->n; i++)
		if (ss->v[i]->kind->drain != NULL)
			ss->v[i]->kind->drain(ss->v[i]);
}

static void sinks_pump(void *arg)
{
	struct sinks *ss = arg;
	struct item *it;
	/* A kind may wake the consumer from inside a flush: go round again instead. */
	if (ss->in_pump) {
		ss->repump = true;
		return;
	}
	ss->in_pump = true;
	do {
		ss->repump = false;
		/* Once cancelling, what is queued goes to the spool, not out. */
		while (!ss->draining && !scope_cancelling(ss->scope) && !any_busy(ss) &&
		       (it = queue_pop(ss->in)) != NULL) {
			if (it->flags & ITEM_PILL) {
				item_free(it);
				begin_drain(ss);
				break;
			}
			put_all(ss, it);
		}
		bool was_busy = any_busy(ss);
		for (size_t i = 0; i < ss->n; i++)
			sink_flush(ss->v[i]);
		/* A flush that made room (a peer took records) is no wake: look again. */
		if (was_busy && !any_busy(ss) && !ss->draining)
			ss->repump = true;
		release_done(ss);
		sinks_check_finished(ss);
	} while (ss->repump);
	ss->in_pump = false;
}

struct sinks *sinks_new(struct scope *sc, const struct conf *c, struct queue *in, char *err,
			size_t errlen)
{
	struct sinks *ss = xcalloc(1, sizeof(*ss));
	ss->scope = sc;
	ss->in = in;
	ss->v = xcalloc(c->n_sinks, sizeof(*ss->v));
	for (size_t i = 0; i < c->n_sinks; i++) {
		struct sink *s = sink_open_conf(sc, &c->sinks[i], err, errlen);
		if (s == NULL) {
			sinks_free(ss);
			return NULL;
		}
		s->wake = sinks_pump;
		s->wake_arg = ss;
		ss->v[ss->n++] = s;
	}
	return ss;
}

void sinks_start(struct sinks *ss)
{
	ss->started = true;
	queue_set_consumer(ss->in, sinks_pump, ss);
}

void sink_move(struct sink *s, struct scope *sc)
{
	s->scope = sc;
}

void sinks_move(struct sinks *ss, struct scope *sc, struct queue *in)
{
	ss->scope = sc;
	for (size_t i = 0; i < ss->n; i++)
		sink_move(ss->v[i], sc);
	ss->in = in;
	if (ss->started)
		sinks_start(ss);
}

void sinks_finish(struct sinks *ss)
{
	if (!ss->draining)
		begin_drain(ss);
	if (ss->finished)
		scope_sinks_finished(ss->scope);
	else
		sinks_pump(ss);
}

/* A record a down sink gave back goes to the spool, for the sinks, as an item. */
static void give_to_spool(void *arg, const char *data, size_t len, const struct recbuf_meta *m)
{
	struct sinks *ss = arg;
	struct item *it = item_new(data, len, m != NULL ? m->seq : 0, m != NULL ? m->source : 0);
	it->index = m != NULL ? m->index : 0;
	if (m != NULL && m->track != 0) {
		/* Its source hears it is abandoned (and a durable one keeps it instead). */
		it->track = m->track;
		track_retain(it);
	}
	/* "@sinks": the spool's name for the sinks' queue (pipeline.c). */
	scope_unfinished(ss->scope, "@sinks", it);
}

bool sinks_take_back(struct sinks *ss)
{
	struct sink *most = NULL;
	bool down = false;
	for (size_t i = 0; i < ss->n; i++) {
		struct sink *s = ss->v[i];
		if (s->kind->down == NULL || !s->kind->down(s))
			continue;
		down = true;
		if (s->kind->take_back != NULL &&
		    (most == NULL || s->appended - s->done - s->returned >
					 most->appended - most->done - most->returned))
			most = s;
	}
	if (down) {
		/*
		 * A sink that cannot write now would only lose them: what is queued stays,
		 * for the spool, and so does what the down sinks hold (every sink got
		 * every record, so the one holding the most has them all).
		 */
		uint64_t n = most != NULL ? most->kind->take_back(most, give_to_spool, ss) : 0;
		for (size_t i = 0; i < ss->n; i++) {
			struct sink *s = ss->v[i];
			if (s != most && s->kind->take_back != NULL && s->kind->down(s))
				s->kind->take_back(s, NULL, NULL);
		}
		if (n > 0)
			log_warnx(
			    "sink '%s' could not write %llu record(s) before the cancel; they "
			    "are taken back as unfinished",
			    most->name, (unsigned long long)n);
	}
	return down;
}

void sinks_drain_queue(struct sinks *ss)
{
	struct item *it;
	if (sinks_take_back(ss))
		return;
	while ((it = queue_pop(ss->in)) != NULL) {
		if (it->flags & ITEM_PILL)
			item_free(it);
		else
			put_all(ss, it);
	}
}

void sinks_reopen(struct sinks *ss)
{
	for (size_t i = 0; i < ss->n; i++)
		sink_reopen(ss->v[i]);
}

const struct sink *sinks_first_down(const struct sinks *ss)
{
	for (size_t i = 0; ss != NULL && i < ss->n; i++)
		if (!sink_up(ss->v[i]))
			return ss->v[i];
	return NULL;
}

size_t sinks_count(const struct sinks *ss)
{
	return ss->n;
}

struct sink *sinks_get(const struct sinks *ss, size_t i)
{
	return ss->v[i];
}

uint64_t sinks_close(struct sinks *ss, uint64_t timeout_usec)
{
	uint64_t left = 0;
	for (size_t i = 0; i < ss->n; i++)
		left += sink_close(ss->v[i], timeout_usec);
	release_done(ss);
	/* What was never written is not done: its sources hear so. */
	while (ss->hn > 0) {
		struct held h = ss->held[ss->hhead];
		ss->hhead = (ss->hhead + 1) & (ss->hcap - 1);
		ss->hn--;
		track_abandon_key(h.source, h.index, h.track);
		track_release_refs(h.source, h.index, h.track, h.refs);
	}
	return left;
}

bool sink_settled(const struct sink *s)
{
	return s == NULL || !s->sync_inflight;
}

bool sinks_settled(const struct sinks *ss)
{
	for (size_t i = 0; ss != NULL && i < ss->n; i++)
		if (!sink_settled(ss->v[i]))
			return false;
	return true;
}

void sinks_free(struct sinks *ss)
{
	if (ss == NULL)
		return;
	for (size_t i = 0; i < ss->n; i++)
		sink_free(ss->v[i]);
	free(ss->v);
	free(ss->held);
	free(ss);
}
