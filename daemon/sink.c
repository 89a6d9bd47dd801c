/*
 * sink.c: buffered record writers and the fan-out consumer (see sink.h).
 *
 * Regular files are written with plain write(2) once 64 KiB are buffered, and at
 * the end of each consumer batch, so a quiet service still writes promptly. Pipes
 * and sockets are non-blocking and wait for EV_WRITE. fsync: batch syncs at most
 * once a second while writing; always syncs after every write; both sync at close.
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
#include "log.h"
#include "pipeline.h"
#include "util.h"

#define FLUSH_AT (64 * 1024)
#define HIGH_MARK (1024 * 1024)
#define LOW_MARK (256 * 1024)

/*
 * A linear output buffer: records are appended whole and written from off; one
 * memcpy per record and one write(2) per 64 KiB, where an evbuffer cost two
 * calls and an iovec per record.
 */
struct outbuf {
	char *p;
	size_t off, len, cap;
};

static size_t outbuf_len(const struct outbuf *b)
{
	return b->len - b->off;
}

/* Appends data and a newline. */
static void outbuf_add(struct outbuf *b, const char *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		if (b->off > 0) {
			memmove(b->p, b->p + b->off, b->len - b->off);
			b->len -= b->off;
			b->off = 0;
		}
		if (b->len + n + 1 > b->cap) {
			size_t cap = b->cap ? b->cap : FLUSH_AT * 2;
			while (cap < b->len + n + 1)
				cap *= 2;
			b->p = xrealloc(b->p, cap);
			b->cap = cap;
		}
	}
	memcpy(b->p + b->len, data, n);
	b->p[b->len + n] = '\n';
	b->len += n + 1;
}

static ssize_t outbuf_write(struct outbuf *b, int fd)
{
	ssize_t n = write(fd, b->p + b->off, b->len - b->off);
	if (n > 0) {
		b->off += (size_t)n;
		if (b->off == b->len)
			b->off = b->len = 0;
	}
	return n;
}

struct sink {
	struct pipeline *p;
	char *name;
	enum sink_type type;
	char *path;
	enum fsync_mode fsync;
	int fd;
	bool regular;
	bool restore_blocking; /* we set O_NONBLOCK on an fd we share (stdout) */
	struct outbuf out;
	struct event *write_ev, *retry_ev, *sync_ev;
	bool sync_due, error_logged, broken, sync_inflight;
	struct bio_job sync_job;
	uint64_t appended, lost; /* lost: handed to us, never written */
	void (*wake)(void *);
	void *wake_arg;
};

struct sinks {
	struct pipeline *p;
	struct queue *in;
	struct sink **v;
	size_t n;
	bool draining, finished;
};

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
	if (fd >= 0 && !s->regular) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && !(fl & O_NONBLOCK)) {
			fcntl(fd, F_SETFL, fl | O_NONBLOCK);
			s->restore_blocking = fd <= STDERR_FILENO;
		}
	}
	if (s->write_ev != NULL)
		event_free(s->write_ev);
	s->write_ev = fd >= 0 && !s->regular
			      ? event_new(pipeline_base(s->p), fd, EV_WRITE, sink_write_cb, s)
			      : NULL;
}

struct sink *sink_open(struct pipeline *p, const char *name, enum sink_type type, const char *path,
		       enum fsync_mode fsync, char *err, size_t errlen)
{
	int fd = -1;
	if (type == SINK_FILE) {
		fd = open_path(path);
		if (fd < 0) {
			snprintf(err, errlen, "sink '%s': cannot open '%s' for writing: %s", name, path,
				 strerror(errno));
			return NULL;
		}
	} else if (type == SINK_STDOUT) {
		fd = STDOUT_FILENO;
	}
	struct sink *s = xcalloc(1, sizeof(*s));
	s->p = p;
	s->name = xstrdup(name);
	s->type = type;
	s->path = path != NULL ? xstrdup(path) : NULL;
	s->fsync = fsync;
	s->retry_ev = evtimer_new(pipeline_base(p), sink_retry_cb, s);
	s->sync_ev = evtimer_new(pipeline_base(p), sink_sync_cb, s);
	sink_attach(s, fd);
	return s;
}

void sink_append(struct sink *s, const char *data, size_t len)
{
	s->appended++;
	if (s->broken) {
		s->lost++;
		return;
	}
	if (s->fd < 0)
		return;
	outbuf_add(&s->out, data, len);
	if (s->regular && outbuf_len(&s->out) >= FLUSH_AT)
		sink_flush(s);
}

/* Records still held; an item holding a newline counts once per line (an estimate then). */
static uint64_t count_records(const struct outbuf *b)
{
	uint64_t n = 0;
	for (const char *p = b->p + b->off, *end = b->p + b->len;
	     (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		n++;
	return n;
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
	s->lost += count_records(&s->out);
	s->out.off = s->out.len = 0;
	if (s->fd > STDERR_FILENO)
		close(s->fd);
	s->fd = -1;
	s->broken = true;
	pipeline_sink_broken(s->p, msg);
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
	if (s->wake != NULL && !sink_busy(s))
		s->wake(s->wake_arg);
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
	s->sync_job = (struct bio_job){.work = bio_work_sync_close, .done = sink_sync_done,
				       .arg = s, .fd = fd};
	bio_submit(&s->sync_job);
}

static void sink_sync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sink *s = arg;
	if (s->sync_due && s->fd >= 0)
		sink_sync_async(s);
}

void sink_flush(struct sink *s)
{
	if (s->fd < 0 || evtimer_pending(s->retry_ev, NULL))
		return;
	/* fsync: always: no new write until the last one is on disk. */
	if (s->sync_inflight && s->fsync == FSYNC_ALWAYS)
		return;
	while (outbuf_len(&s->out) > 0) {
		ssize_t n = outbuf_write(&s->out, s->fd);
		if (n > 0) {
			s->sync_due = true;
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
		if (!s->error_logged)
			log_warn("sink '%s': write to '%s' failed; holding %zu bytes and retrying "
				 "every second",
				 s->name, s->path != NULL ? s->path : "stdout",
				 outbuf_len(&s->out));
		s->error_logged = true;
		struct timeval tv = {1, 0};
		evtimer_add(s->retry_ev, &tv);
		return;
	}
	if (outbuf_len(&s->out) == 0 && s->error_logged) {
		log_info("sink '%s': writing again", s->name);
		s->error_logged = false;
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
	if (s->wake != NULL && !sink_busy(s))
		s->wake(s->wake_arg);
}

static void sink_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	sink_write_cb(fd, what, arg);
}

bool sink_busy(const struct sink *s)
{
	size_t len = outbuf_len(&s->out);
	/* Hysteresis: busy above the high mark until drained below the low mark. */
	return len >= HIGH_MARK || (len > LOW_MARK && (evtimer_pending(s->retry_ev, NULL) ||
						       (s->write_ev && event_pending(s->write_ev, EV_WRITE, NULL))));
}

bool sink_empty(const struct sink *s)
{
	return outbuf_len(&s->out) == 0;
}

void sink_reopen(struct sink *s)
{
	if (s->type != SINK_FILE)
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

uint64_t sink_close(struct sink *s, uint64_t timeout_usec)
{
	uint64_t end = now_usec() + timeout_usec;
	if (s->fd >= 0) {
		event_del(s->retry_ev);
		while (outbuf_len(&s->out) > 0) {
			ssize_t n = outbuf_write(&s->out, s->fd);
			if (n > 0 || (n < 0 && errno == EINTR))
				continue;
			uint64_t now = now_usec();
			if (now >= end || !(n < 0 && errno == EAGAIN)) {
				if (n < 0 && errno != EAGAIN)
					log_warn("sink '%s': final write failed", s->name);
				uint64_t left = count_records(&s->out);
				s->lost += left;
				log_error("sink '%s': %llu record(s) could not be written before the "
					  "deadline and are lost",
					  s->name, (unsigned long long)left);
				break;
			}
			struct pollfd pfd = {.fd = s->fd, .events = POLLOUT};
			poll(&pfd, 1, (int)((end - now) / 1000) + 1);
		}
		if (s->regular && s->fsync != FSYNC_NEVER)
			sink_sync(s);
		if (s->restore_blocking) {
			int fl = fcntl(s->fd, F_GETFL);
			if (fl >= 0)
				fcntl(s->fd, F_SETFL, fl & ~O_NONBLOCK);
		}
		if (s->fd > STDERR_FILENO)
			close(s->fd);
		s->fd = -1;
	}
	return s->lost;
}

void sink_free(struct sink *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		sink_close(s, 0);
	if (s->write_ev != NULL)
		event_free(s->write_ev);
	event_free(s->retry_ev);
	event_free(s->sync_ev);
	free(s->out.p);
	free(s->name);
	free(s->path);
	free(s);
}

uint64_t sink_written(const struct sink *s)
{
	return s->appended - s->lost;
}

const char *sink_name(const struct sink *s)
{
	return s->name;
}

/* ---- the fan-out consumer ---- */

static bool any_busy(const struct sinks *ss)
{
	for (size_t i = 0; i < ss->n; i++)
		if (sink_busy(ss->v[i]))
			return true;
	return false;
}

static void sinks_check_finished(struct sinks *ss)
{
	if (!ss->draining || ss->finished)
		return;
	for (size_t i = 0; i < ss->n; i++)
		if (!sink_empty(ss->v[i]) && ss->v[i]->fd >= 0)
			return;
	ss->finished = true;
	pipeline_sinks_finished(ss->p);
}

static void sinks_pump(void *arg)
{
	struct sinks *ss = arg;
	struct item *it;
	/* Once cancelling, what is queued goes to the spool, not out. */
	while (!ss->draining && !pipeline_cancelling(ss->p) && !any_busy(ss) &&
	       (it = queue_pop(ss->in)) != NULL) {
		if (it->flags & ITEM_PILL) {
			ss->draining = true;
			item_free(it);
			break;
		}
		for (size_t i = 0; i < ss->n; i++)
			sink_append(ss->v[i], it->data, it->len);
		item_free(it);
	}
	for (size_t i = 0; i < ss->n; i++)
		sink_flush(ss->v[i]);
	sinks_check_finished(ss);
}

struct sinks *sinks_new(struct pipeline *p, const struct conf *c, struct queue *in, char *err,
			size_t errlen)
{
	struct sinks *ss = xcalloc(1, sizeof(*ss));
	ss->p = p;
	ss->in = in;
	ss->v = xcalloc(c->n_sinks, sizeof(*ss->v));
	for (size_t i = 0; i < c->n_sinks; i++) {
		const struct conf_sink *cs = &c->sinks[i];
		struct sink *s = sink_open(p, cs->name, cs->type, cs->path, cs->fsync, err, errlen);
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
	queue_set_consumer(ss->in, sinks_pump, ss);
}

void sinks_drain_queue(struct sinks *ss)
{
	struct item *it;
	while ((it = queue_pop(ss->in)) != NULL) {
		if (!(it->flags & ITEM_PILL))
			for (size_t i = 0; i < ss->n; i++)
				sink_append(ss->v[i], it->data, it->len);
		item_free(it);
	}
}

void sinks_reopen(struct sinks *ss)
{
	for (size_t i = 0; i < ss->n; i++)
		sink_reopen(ss->v[i]);
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
	return left;
}

void sinks_free(struct sinks *ss)
{
	if (ss == NULL)
		return;
	for (size_t i = 0; i < ss->n; i++)
		sink_free(ss->v[i]);
	free(ss->v);
	free(ss);
}
