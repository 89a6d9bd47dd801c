/*
 * source.c: what every source shares (see source.h): emitting with backpressure,
 * pause accounting, and the framed fd reader (its splitting is frame.c).
 *
 * The reader keeps one linear buffer of max_item_bytes plus a read's worth, so a
 * record that fits the limit always fits the buffer. A record longer than the
 * limit is rejected (counted, dead-lettered with its head) and the reader skips
 * to the next delimiter. Regular files cannot be polled, so they are read
 * through a manually activated event: one batch of reads per loop iteration,
 * which keeps signals and timers served while a large file streams in.
 */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame.h"
#include "log.h"
#include "scope.h"
#include "report.h"
#include "journal-loop.h"
#include "track.h"
#include "util.h"

#define READ_CHUNK	   (256 * 1024)
#define READS_PER_CALLBACK 8

struct source {
	struct scope *scope;
	const struct conf_source *conf;
	const struct source_kind *kind;
	void *state;
	uint32_t index;
	struct queue *out;
	uint64_t max_item;

	struct item *pending;
	int inherited_fd; /* a reload: the listening socket of the source this one replaces */
	struct tracker *tracker; /* items are tracked (track.h) when set */
	void *token;		 /* ... on behalf of this */
	struct queue_waiter queue_wait, memory_wait;
	struct journal_waiter journal_wait; /* for room in a full journal */
	bool journaled;			    /* its items go to the journal first */
	bool paused, ended, stopping, failed, started, held, warned;
	uint64_t items, rejected, skipped, next_index;
	uint64_t paused_since, paused_usec;

	/* Stopped before its input ended (source_cut_short): what it left. */
	bool cut;
	uint64_t unread; /* records, UINT64_MAX until known */
	int rest_fd;	 /* a regular file's rest, counted by source_unread() */
	off_t rest_off;

	/* framed fd reader */
	int fd;
	bool regular;
	struct event *ev;
	struct frame fr;
	uint64_t fd_off;	     /* the input's offset of fr.buf[fr.end] (what was read) */
	uint64_t rec_start, rec_off; /* ... and of the last record framed (its tracked range) */
	uint64_t framed_until;	     /* the kind's framed() hears of records starting before */
};

_Static_assert(offsetof(struct source_kind, conf) == 0, "a source kind starts with its conf");

/*
 * What cannot be read again after a crash goes to the journal (when there is one):
 * a kind that replays (a file, a spool directory, a stream that keeps what was not
 * acked, a client with ack: done that sends again what it had no answer for) says so.
 */
static bool cannot_replay(const struct conf_source *cs)
{
	const struct source_kind *k = source_kind_of(cs->kind);
	return k->replays == NULL || !k->replays(cs);
}

bool source_replays_always(const struct conf_source *cs)
{
	return true;
}

bool source_replays_if_acked(const struct conf_source *cs)
{
	return conf_ack_done(cs->ack);
}

const struct source_kind *source_kind_of(const struct conf_kind *kind)
{
	return (const struct source_kind *)kind;
}

/* Records split at a delimiter: the fd reader's, and the split of the kinds that split. */
const struct conf_key source_framing_row = {
    "framing",
    CT_ENUM,
    .off = CONF_SRC(framing),
    .def = "lines",
    .values = conf_framing_names,
    .doc = "lines: an item per line; nul: items end at NUL bytes."};
const struct conf_key source_split_row = {
    "split",
    CT_ENUM,
    .off = CONF_SRC(split),
    .def = "none",
    .values = conf_split_names,
    .doc = "none: a body or file is one item; lines or nul: one item per record."};

bool source_conf_finite(const struct conf_source *cs)
{
	const struct source_kind *k = source_kind_of(cs->kind);
	return k->finite != NULL && k->finite(cs);
}

const char *source_conf_address(const struct conf_source *cs)
{
	const struct source_kind *k = source_kind_of(cs->kind);
	return k->address != NULL ? k->address(cs) : NULL;
}

struct source *source_new(struct scope *sc, const struct conf_source *cs, uint32_t index,
			  struct queue *out)
{
	struct source *s = xcalloc(1, sizeof(*s));
	s->scope = sc;
	s->conf = cs;
	s->kind = source_kind_of(cs->kind);
	s->index = index;
	s->out = out;
	s->max_item = scope_conf(sc)->max_item_bytes;
	s->fd = -1;
	s->framed_until = UINT64_MAX;
	s->inherited_fd = -1;
	s->rest_fd = -1;
	s->unread = UINT64_MAX;
	s->fr.max = s->max_item;
	s->fr.delim = cs->framing == FRAMING_NUL ? '\0' : '\n';
	if (s->kind->splits)
		s->fr.delim = cs->split == SPLIT_NUL ? '\0' : '\n';
	s->journaled = journal_loop_on() && cannot_replay(cs);
	return s;
}

bool source_journaled(const struct source *s)
{
	return s->journaled;
}

int source_open(struct source *s, char *err, size_t errlen)
{
	return s->kind->open != NULL ? s->kind->open(s, err, errlen) : 0;
}

void source_start(struct source *s)
{
	s->started = true;
	s->kind->start(s);
}

static void source_pause(struct source *s);

bool source_started(const struct source *s)
{
	return s->started;
}

void source_move(struct source *s, struct scope *sc, const struct conf_source *cs,
		 struct queue *out)
{
	queue_cancel_wait(s->out, &s->queue_wait);
	scope_cancel_wait_memory(s->scope, &s->memory_wait);
	s->scope = sc;
	s->conf = cs;
	s->out = out;
	/* Held back: it waits again, on the new pipeline's queue and budget. */
	if (s->paused && !s->ended)
		source_pause(s);
}

void source_inherit_listener(struct source *s, struct source *old)
{
	int fd = old->kind->listener != NULL ? old->kind->listener(old) : -1;
	if (fd >= 0)
		s->inherited_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

int source_inherited_fd(struct source *s)
{
	int fd = s->inherited_fd;
	s->inherited_fd = -1;
	return fd;
}

void source_handover(struct source *old, struct source *s)
{
	/* Records on a carried-over connection go on numbering from where they were. */
	s->next_index = old->next_index;
	if (old->kind->handover != NULL)
		old->kind->handover(old, s);
}

bool source_settled(const struct source *s)
{
	return track_idle(s->tracker);
}

void source_free(struct source *s)
{
	if (s == NULL)
		return;
	if (s->inherited_fd >= 0)
		close(s->inherited_fd);
	if (s->rest_fd >= 0)
		close(s->rest_fd);
	if (s->kind->free != NULL)
		s->kind->free(s);
	/* Unregistered first: the frees below must not report back into the kind. */
	track_free(s->tracker);
	s->tracker = NULL;
	scope_cancel_wait_memory(s->scope, &s->memory_wait);
	queue_cancel_wait(s->out, &s->queue_wait);
	journal_loop_cancel(&s->journal_wait);
	item_free(s->pending);
	if (s->ev != NULL)
		event_free(s->ev);
	if (s->fd > STDERR_FILENO)
		close(s->fd);
	free(s->fr.buf);
	free(s);
}

const char *source_kind_name(const struct source *s)
{
	return s->kind->conf.name;
}

const char *source_name(const struct source *s)
{
	return s->conf->name;
}

uint64_t source_items(const struct source *s)
{
	return s->items;
}

uint64_t source_rejected(const struct source *s)
{
	return s->rejected;
}

uint64_t source_skipped(const struct source *s)
{
	return s->skipped;
}

bool source_failed(const struct source *s)
{
	return s->failed;
}

bool source_ended(const struct source *s)
{
	return s->ended;
}

uint64_t source_paused_usec(const struct source *s)
{
	return s->paused_usec + (s->paused ? now_usec() - s->paused_since : 0);
}

bool source_checkpoint(const struct source *s, struct source_checkpoint *ck)
{
	return s->kind->checkpoint != NULL && s->kind->checkpoint(s, ck);
}

bool source_progress(struct source *s, double *fraction)
{
	double done, total;
	if (s->ended) {
		*fraction = 1;
		return true;
	}
	if (s->kind->progress == NULL || !s->kind->progress(s, &done, &total) || total <= 0)
		return false;
	*fraction = done >= total ? 1 : done / total;
	return true;
}

/* For file sources: bytes consumed (read minus still buffered) over the file's size. */
bool source_fd_progress(struct source *s, double *done, double *total)
{
	struct stat st;
	off_t pos;
	if (!s->regular || s->fd < 0 || fstat(s->fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (pos = lseek(s->fd, 0, SEEK_CUR)) < 0)
		return false;
	*done = (double)pos - (double)(s->fr.end - s->fr.start);
	*total = (double)st.st_size;
	return true;
}

struct scope *source_scope(struct source *s)
{
	return s->scope;
}

const struct conf_source *source_conf(struct source *s)
{
	return s->conf;
}

void **source_state(struct source *s)
{
	return &s->state;
}

bool source_stopping(const struct source *s)
{
	return s->stopping;
}

void source_set_failed(struct source *s)
{
	s->failed = true;
}

static void source_resume_cb(void *arg)
{
	struct source *s = arg;
	if (s->ended || !s->paused)
		return;
	if (s->pending != NULL) {
		if (!queue_push(s->out, s->pending)) {
			s->queue_wait.need = item_cost(s->pending);
			queue_wait_space(s->out, &s->queue_wait, source_resume_cb, s);
			return;
		}
		s->pending = NULL;
	}
	if (scope_memory_full(s->scope)) {
		scope_wait_memory(s->scope, &s->memory_wait, source_resume_cb, s);
		return;
	}
	if (s->journaled && journal_loop_full()) {
		journal_loop_wait_room(&s->journal_wait, source_resume_cb, s);
		return;
	}
	if (s->held)
		return;
	if (s->warned)
		log_info("source '%s' reads again after %.1fs held back", s->conf->name,
			 (double)(now_usec() - s->paused_since) / 1e6);
	s->warned = false;
	s->paused = false;
	s->paused_usec += now_usec() - s->paused_since;
	s->kind->resume(s);
}

static void source_pause(struct source *s)
{
	if (!s->paused) {
		s->paused = true;
		s->paused_since = now_usec();
	}
	if (s->pending != NULL) {
		s->queue_wait.need = item_cost(s->pending);
		queue_wait_space(s->out, &s->queue_wait, source_resume_cb, s);
	} else if (s->journaled && journal_loop_full())
		journal_loop_wait_room(&s->journal_wait, source_resume_cb, s);
	else
		scope_wait_memory(s->scope, &s->memory_wait, source_resume_cb, s);
}

void source_track(struct source *s, track_done_cb cb, void *arg, bool durable)
{
	s->tracker = track_new(s->index, durable, cb, arg);
}

void source_track_runs(struct source *s, uint32_t run_max)
{
	track_set_run(s->tracker, run_max);
}

void source_set_token(struct source *s, void *token)
{
	s->token = token;
}

uint64_t source_last_index(const struct source *s)
{
	return s->next_index;
}

char source_delim(const struct source *s)
{
	return s->fr.delim;
}

uint64_t source_max_item(const struct source *s)
{
	return s->max_item;
}

static void reject(struct source *s, const char *data, size_t len, size_t total, uint64_t index)
{
	struct item *it = item_new(data, len, scope_next_seq(s->scope), s->index);
	it->index = index;
	struct failure f = {.kind = FAIL_ITEM_TOO_LARGE, .exit_status = -1};
	snprintf(f.message, sizeof(f.message),
		 "record of at least %zu bytes is over max_item_bytes (%llu); kept its first %zu "
		 "bytes",
		 total, (unsigned long long)s->max_item, len);
	s->rejected++;
	if (s->kind->untracked != NULL)
		s->kind->untracked(s, index);
	char where[160];
	snprintf(where, sizeof(where), "source:%s", s->conf->name);
	scope_item_failed(s->scope, where, ON_FAILURE_DEAD_LETTER, it, &f);
	item_free(it);
}

bool source_emit(struct source *s, const char *data, size_t len)
{
	uint64_t index = ++s->next_index;
	if (scope_already_done(s->scope, s->index, index)) {
		s->skipped++;
		if (s->kind->untracked != NULL)
			s->kind->untracked(s, index);
		return true;
	}
	if (len > s->max_item) {
		reject(s, data, (size_t)s->max_item, len, index);
		return true;
	}
	struct item *it = item_new(data, len, scope_next_seq(s->scope), s->index);
	it->index = index;
	s->items++;
	if (s->tracker != NULL)
		track_item(s->tracker, it, s->token, s->rec_start, s->rec_off);
	else
		track_item_hooked(it);
	if (s->journaled)
		journal_loop_append(it, s->conf->name);
	if (s->stopping) {
		queue_push_force(s->out, it);
		return true;
	}
	if (!queue_push(s->out, it)) {
		s->pending = it;
		source_pause(s);
		return false;
	}
	if (scope_memory_full(s->scope) || (s->journaled && journal_loop_full())) {
		source_pause(s);
		return false;
	}
	if (s->held) {
		/* Paused by the operator: no waiter; source_hold(false) resumes it. */
		s->paused = true;
		s->paused_since = now_usec();
		return false;
	}
	return true;
}

void source_emit_force(struct source *s, const char *data, size_t len)
{
	uint64_t index = ++s->next_index;
	if (scope_already_done(s->scope, s->index, index)) {
		s->skipped++;
		return;
	}
	if (len > s->max_item) {
		reject(s, data, (size_t)s->max_item, len, index);
		return;
	}
	struct item *it = item_new(data, len, scope_next_seq(s->scope), s->index);
	it->index = index;
	s->items++;
	if (s->tracker != NULL)
		track_item(s->tracker, it, s->token, s->rec_start, s->rec_off);
	else
		track_item_hooked(it);
	if (s->journaled)
		journal_loop_append(it, s->conf->name);
	/* drop_newest/drop_oldest still drop; block is what is overridden. */
	if (!queue_push(s->out, it))
		queue_push_force(s->out, it);
}

bool source_ready(struct source *s)
{
	if (s->stopping || s->ended)
		return true;
	if (s->paused)
		return false;
	if (s->held) {
		s->paused = true;
		s->paused_since = now_usec();
		return false;
	}
	if (queue_full(s->out)) {
		s->paused = true;
		s->paused_since = now_usec();
		queue_wait_space(s->out, &s->queue_wait, source_resume_cb, s);
		return false;
	}
	if (scope_memory_full(s->scope) || (s->journaled && journal_loop_full())) {
		source_pause(s);
		return false;
	}
	return true;
}

void source_reject(struct source *s, const char *data, size_t total)
{
	reject(s, data, total < s->max_item ? total : (size_t)s->max_item, total, ++s->next_index);
}

void source_reject_why(struct source *s, const char *data, size_t len, const char *why)
{
	size_t keep = len < s->max_item ? len : (size_t)s->max_item;
	struct item *it = item_new(data, keep, scope_next_seq(s->scope), s->index);
	it->index = ++s->next_index;
	struct failure f = {.kind = FAIL_REJECTED, .exit_status = -1};
	snprintf(f.message, sizeof(f.message), "%s", why);
	s->rejected++;
	char where[160];
	snprintf(where, sizeof(where), "source:%s", s->conf->name);
	scope_item_failed(s->scope, where, ON_FAILURE_DEAD_LETTER, it, &f);
	item_free(it);
}

void source_hold(struct source *s, bool hold)
{
	if (s->held == hold)
		return;
	s->held = hold;
	if (hold || !s->paused || s->pending != NULL || s->ended)
		return;
	if (!s->queue_wait.waiting && !s->memory_wait.waiting && !s->journal_wait.waiting)
		source_resume_cb(s);
}

bool source_held(const struct source *s)
{
	return s->held;
}

bool source_paused(const struct source *s)
{
	return s->paused && !s->held;
}

/* Backpressure that lasts is made visible: a warn line once per pause. */
void source_check_pause(struct source *s, uint64_t warn_after_usec)
{
	if (!s->paused || s->held) {
		s->warned = false;
		return;
	}
	uint64_t held_for = now_usec() - s->paused_since;
	if (!s->warned && held_for >= warn_after_usec) {
		s->warned = true;
		log_warnx("source '%s' has been held back by backpressure for %.1fs (queue '%s' is "
			  "%s; a downstream stage or sink is slower than the input)",
			  s->conf->name, (double)held_for / 1e6, queue_name(s->out),
			  s->pending != NULL ? "full" : "within memory_limit");
	}
}

void source_end(struct source *s)
{
	if (s->ended)
		return;
	s->ended = true;
	if (s->paused) {
		s->paused = false;
		s->paused_usec += now_usec() - s->paused_since;
	}
	if (s->pending != NULL) {
		queue_push_force(s->out, s->pending);
		s->pending = NULL;
	}
	scope_cancel_wait_memory(s->scope, &s->memory_wait);
	queue_cancel_wait(s->out, &s->queue_wait);
	/* The reader's buffer (max_item_bytes and more) is not kept by an ended source. */
	if (s->fd < 0 && s->ev == NULL) {
		free(s->fr.buf);
		s->fr.buf = NULL;
		s->fr.start = s->fr.end = s->fr.cap = 0;
	}
	scope_source_ended(s->scope, s);
}

/*
 * At a stop before the end: is input left, and how much? A regular file's rest
 * is counted later (reading it here would block the loop); a generator knows its
 * count; a pipe or a command cannot tell.
 */
static void note_unread(struct source *s)
{
	double done, total;
	if (s->kind->progress == NULL || !s->kind->progress(s, &done, &total)) {
		s->cut = true;
		return;
	}
	s->cut = done < total;
	if (!s->cut)
		return;
	if (s->regular && s->fd >= 0) {
		s->rest_fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
		s->rest_off = (off_t)done;
	} else {
		s->unread = (uint64_t)(total - done); /* a generator: in items */
	}
}

void source_stop(struct source *s)
{
	if (s->ended || s->stopping)
		return;
	s->stopping = true;
	note_unread(s);
	if (s->pending != NULL) {
		queue_push_force(s->out, s->pending);
		s->pending = NULL;
	}
	if (!s->started)
		source_end(s);
	else
		s->kind->stop(s);
}

bool source_cut_short(const struct source *s)
{
	return s->cut;
}

uint64_t source_unread(struct source *s, uint64_t *bytes)
{
	struct stat st;
	*bytes = 0;
	if (s->rest_fd < 0 || fstat(s->rest_fd, &st) < 0 || st.st_size <= s->rest_off)
		return s->unread;
	*bytes = (uint64_t)(st.st_size - s->rest_off);
	if (*bytes > UNREAD_COUNT_MAX)
		return UINT64_MAX;
	/* Records are delimited; a last one without its delimiter is a record too. */
	uint64_t n = 0;
	char buf[65536], last = s->fr.delim;
	ssize_t r;
	for (off_t off = s->rest_off; (r = pread(s->rest_fd, buf, sizeof(buf), off)) > 0;
	     off += r) {
		for (char *c = buf; (c = memchr(c, s->fr.delim, (size_t)(buf + r - c))) != NULL;
		     c++)
			n++;
		last = buf[r - 1];
	}
	s->unread = n + (last != s->fr.delim);
	close(s->rest_fd);
	s->rest_fd = -1;
	return s->unread;
}

/* ---- the framed fd reader ---- */

/* Emits every complete record in the buffer; false when the source must pause. */
static bool split_records(struct source *s)
{
	enum frame_res r;
	const char *rec;
	size_t len;
	while ((r = frame_next(&s->fr, &rec, &len)) != FRAME_MORE) {
		s->rec_start = s->rec_off;
		s->rec_off = s->fd_off - (s->fr.end - s->fr.start);
		if (s->kind->framed != NULL && s->rec_start < s->framed_until &&
		    s->kind->framed(s, s->next_index + 1, s->rec_start, s->rec_off)) {
			s->next_index++;
			continue;
		}
		if (r == FRAME_TOO_LONG)
			reject(s, rec, (size_t)s->max_item, len, ++s->next_index);
		else if (!source_emit(s, rec, len))
			return false;
	}
	return true;
}

static void fd_read(struct source *s)
{
	for (int round = 0; round < READS_PER_CALLBACK; round++) {
		if (!split_records(s) || s->ended)
			return;
		size_t room = frame_room(&s->fr, READ_CHUNK / 2);
		ssize_t n = read(s->fd, s->fr.buf + s->fr.end, room);
		if (n > 0) {
			s->fr.end += (size_t)n;
			s->fd_off += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			log_warn("source '%s': read failed", s->conf->name);
			source_set_failed(s);
		}
		/* EOF: a last record without its delimiter is still a record. */
		const char *rec;
		size_t len;
		if (frame_last(&s->fr, &rec, &len)) {
			s->rec_start = s->rec_off;
			s->rec_off = s->fd_off;
			bool skip = s->kind->framed != NULL && s->rec_start < s->framed_until &&
				    s->kind->framed(s, s->next_index + 1, s->rec_start, s->rec_off);
			if (skip)
				s->next_index++;
			else if (!source_emit(s, rec, len))
				return;
		}
		if (s->ev != NULL)
			event_del(s->ev);
		s->kind->eof(s);
		return;
	}
	if (s->regular && !s->paused && !s->ended)
		event_active(s->ev, EV_READ, 0);
}

static void fd_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct source *s = arg;
	if (!s->paused && !s->ended)
		fd_read(s);
	/* A pause taken inside the reads stops a pollable fd until resume. */
	if (s->paused && !s->regular && s->ev != NULL)
		event_del(s->ev);
}

void source_fd_attach(struct source *s, int fd)
{
	struct stat st;
	s->fd = fd;
	s->regular = fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
	off_t at = s->regular ? lseek(fd, 0, SEEK_CUR) : 0;
	s->fd_off = s->rec_start = s->rec_off = at > 0 ? (uint64_t)at : 0;
	if (s->fr.buf == NULL) {
		s->fr.cap = (size_t)s->max_item + READ_CHUNK + 1;
		s->fr.buf = xmalloc(s->fr.cap);
	}
	if (s->ev != NULL)
		event_free(s->ev);
	if (!s->regular) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	}
	s->ev = event_new(scope_base(s->scope), s->regular ? -1 : fd,
			  s->regular ? 0 : EV_READ | EV_PERSIST, fd_read_cb, s);
}

/* Some fds cannot be polled (/dev/null, for one): read those as regular files. */
static void fd_poll_or_loop(struct source *s)
{
	if (!s->regular && event_add(s->ev, NULL) == 0)
		return;
	if (!s->regular) {
		s->regular = true;
		event_free(s->ev);
		s->ev = event_new(scope_base(s->scope), -1, 0, fd_read_cb, s);
	}
	event_active(s->ev, EV_READ, 0);
}

void source_fd_start(struct source *s)
{
	fd_poll_or_loop(s);
}

void source_fd_resume(struct source *s)
{
	fd_poll_or_loop(s);
	/* Records may be waiting in the buffer with nothing new to poll for. */
	if (!s->regular)
		event_active(s->ev, EV_READ, 0);
}

void source_fd_reset(struct source *s, int fd)
{
	if (fd != s->fd) {
		if (s->fd > STDERR_FILENO)
			close(s->fd);
		source_fd_attach(s, fd);
	}
	source_fd_start(s);
}

int source_fd(const struct source *s)
{
	return s->fd;
}

void source_framed_until(struct source *s, uint64_t off)
{
	s->framed_until = off;
}

void source_framed_range(const struct source *s, uint64_t *start, uint64_t *end)
{
	*start = s->rec_start;
	*end = s->rec_off;
}

void source_fd_seek(struct source *s, uint64_t off)
{
	if (lseek(s->fd, (off_t)off, SEEK_SET) < 0)
		return;
	s->fd_off = s->rec_start = s->rec_off = off;
	s->fr.start = s->fr.end = 0;
	s->fr.skipping = false;
}

void source_fd_flush_close(struct source *s)
{
	/*
	 * A pipe's bytes, once read, exist only here: s->stopping makes every emit a
	 * forced push, so none is lost. A file's read-ahead has not become items yet
	 * and is still in the file, so it is left there rather than drained.
	 */
	if (s->regular)
		s->fr.start = s->fr.end;
	split_records(s);
	if (s->fr.end > s->fr.start && !s->fr.skipping)
		log_warnx("source '%s': stopped with an incomplete record of %zu bytes; it was "
			  "not passed on",
			  s->conf->name, s->fr.end - s->fr.start);
	s->fr.start = s->fr.end = 0;
	if (s->ev != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (s->fd > STDERR_FILENO)
		close(s->fd);
	s->fd = -1;
}
