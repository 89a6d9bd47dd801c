/*
 * journal-loop.c: the journal on the loop (see journal-loop.h).
 *
 * State: one journal for the daemon, a deferred flush event (activated by any
 * append or done mark, so a loop iteration writes once), a batch window timer,
 * and two waiter lists: answers waiting for durability (each with the byte mark
 * it needs: assigned at the write that carried its items) and sources waiting
 * for room. One sync at a time is in flight on the bio pool; what is written
 * meanwhile waits for the next one (group commit). A write that fails (ENOSPC)
 * keeps its buffer (journal.c), is logged once, counts as full (the sources
 * pause) and is retried every 100 ms: nothing is dropped.
 */
#include "journal-loop.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "bio.h"
#include "log.h"
#include "statesync.h"
#include "track.h"
#include "util.h"

#define RETRY_USEC 100000

TAILQ_HEAD(journal_waiters, journal_waiter);

static struct {
	struct journal *j;
	struct event_base *base;
	struct event *flush_ev, *window_ev, *retry_ev;
	enum fsync_mode fsync;
	struct journal_recovery rec;
	uint64_t replayed;
	bool replay_done;
	bool failing; /* the last write failed: full until one succeeds */
	bool full;    /* at max_bytes (logged once per episode) */
	uint64_t max_bytes, warned_at;
	bool sync_inflight, closing;
	struct bio_job job;
	struct journal_sync sync;
	struct journal_waiters safe, room;
} jl;

static void schedule_flush(void)
{
	/* While writes fail, the retry timer flushes. */
	if (!jl.failing)
		event_active(jl.flush_ev, 0, 0);
}

static void journal_done_cb(uint64_t id)
{
	journal_done(jl.j, id);
	schedule_flush();
}

/* Runs (and unlinks) the waiters of list whose mark is at most upto. */
static void release(struct journal_waiters *list, uint64_t upto, bool room)
{
	struct journal_waiters ready = TAILQ_HEAD_INITIALIZER(ready);
	struct journal_waiter *w, *next;
	for (w = TAILQ_FIRST(list); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (!room && w->mark > upto)
			continue;
		TAILQ_REMOVE(list, w, entry);
		TAILQ_INSERT_TAIL(&ready, w, entry);
	}
	while ((w = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, w, entry);
		w->waiting = false;
		w->cb(w->arg);
	}
}

static void start_sync(void);
static void arm_sync(void);

static void sync_work(struct bio_job *job)
{
	journal_sync_run(job->arg);
}

static void sync_done(struct bio_job *job)
{
	jl.sync_inflight = false;
	if (jl.sync.err != 0)
		log_warnx("journal: fdatasync failed: %s; answers wait for the next one",
			  strerror(jl.sync.err));
	journal_sync_end(jl.j, &jl.sync);
	if (jl.closing) {
		journal_loop_close();
		return;
	}
	release(&jl.safe, journal_synced_mark(jl.j), false);
	if (journal_synced_mark(jl.j) < journal_written(jl.j))
		arm_sync();
}

static void start_sync(void)
{
	if (jl.sync_inflight)
		return;
	if (!journal_sync_begin(jl.j, &jl.sync)) {
		release(&jl.safe, journal_synced_mark(jl.j), false);
		return;
	}
	jl.sync_inflight = true;
	jl.job = (struct bio_job){.work = sync_work, .done = sync_done, .arg = &jl.sync};
	bio_submit(&jl.job);
}

static void window_cb(evutil_socket_t fd, short what, void *arg)
{
	start_sync();
}

/* always: a sync now (or right after the one in flight); batch: at the window's end. */
static void arm_sync(void)
{
	if (jl.fsync == FSYNC_ALWAYS) {
		start_sync();
		return;
	}
	if (!event_pending(jl.window_ev, EV_TIMEOUT, NULL) && !jl.sync_inflight) {
		struct timeval tv = {0, FSYNC_BATCH_WINDOW_USEC};
		evtimer_add(jl.window_ev, &tv);
	}
}

static void flush(void)
{
	char err[512];
	uint64_t before = journal_written(jl.j);
	if (journal_flush(jl.j, err, sizeof(err)) < 0) {
		/* Once per 10 s at most: a disk that stays full should not flood the log. */
		if (!jl.failing && now_usec() - jl.warned_at >= 10000000) {
			log_warnx("journal: %s; sources that journal pause until it can be "
				  "written (nothing is dropped)",
				  err);
			jl.warned_at = now_usec();
		}
		jl.failing = true;
		struct timeval tv = {0, RETRY_USEC};
		evtimer_add(jl.retry_ev, &tv);
		return;
	}
	jl.failing = false;
	uint64_t mark = journal_written(jl.j);
	struct journal_waiter *w;
	TAILQ_FOREACH(w, &jl.safe, entry)
	if (w->mark == UINT64_MAX)
		w->mark = mark;
	if (jl.fsync == FSYNC_NEVER)
		release(&jl.safe, mark, false);
	else if (mark > before || !TAILQ_EMPTY(&jl.safe))
		arm_sync();
	if (journal_full(jl.j) && !jl.full) {
		jl.full = true;
		if (now_usec() - jl.warned_at < 10000000)
			return;
		jl.warned_at = now_usec();
		log_warnx("journal: full (max_bytes %" PRIu64 " bytes): sources that journal "
			  "pause until items are done (nothing is dropped)",
			  jl.max_bytes);
	} else if (!journal_full(jl.j)) {
		jl.full = false;
		release(&jl.room, 0, true);
	}
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	flush();
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	flush();
}

/*
 * A quarter of max_bytes (at most 64 MiB), and of the room the filesystem has: a
 * segment that alone filled the disk could never be deleted (it is the one being
 * written), whereas older ones go as their items are done.
 */
static uint64_t segment_bytes_for(uint64_t max_bytes, const char *dir)
{
	uint64_t seg = max_bytes / 4;
	struct statvfs fs;
	if (seg > (64u << 20))
		seg = 64u << 20;
	if (statvfs(dir, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize / 4 < seg)
		seg = (uint64_t)fs.f_bavail * fs.f_frsize / 4;
	return seg < 4096 ? 4096 : seg;
}

int journal_loop_open(struct event_base *base, const struct conf *c, char *err, size_t errlen)
{
	if (jl.j != NULL)
		return 0;
	if (mkdir(c->state_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create state_dir '%s': %s", c->state_dir,
			 strerror(errno));
		return -1;
	}
	char *dir = xasprintf("%s/journal", c->state_dir);
	jl.j = journal_open(dir, c->journal.max_bytes,
			    segment_bytes_for(c->journal.max_bytes, c->state_dir), &jl.rec, err,
			    errlen);
	free(dir);
	if (jl.j == NULL)
		return -1;
	jl.base = base;
	jl.fsync = c->journal.fsync;
	jl.max_bytes = c->journal.max_bytes;
	jl.flush_ev = event_new(base, -1, 0, flush_cb, NULL);
	jl.window_ev = evtimer_new(base, window_cb, NULL);
	jl.retry_ev = evtimer_new(base, retry_cb, NULL);
	TAILQ_INIT(&jl.safe);
	TAILQ_INIT(&jl.room);
	if (jl.rec.torn_bytes > 0 || jl.rec.damaged_bytes > 0)
		log_warnx("journal: dropped %" PRIu64 " byte(s) of torn tail and %" PRIu64
			  " damaged byte(s) in %" PRIu64 " segment(s)",
			  jl.rec.torn_bytes, jl.rec.damaged_bytes, jl.rec.damaged_segments);
	track_set_journal(journal_done_cb);
	return 0;
}

bool journal_loop_on(void)
{
	return jl.j != NULL;
}

const struct journal_recovery *journal_loop_recovery(void)
{
	return &jl.rec;
}

uint64_t journal_loop_replayed(void)
{
	return jl.replayed;
}

long journal_loop_replay(journal_replay_cb cb, void *arg)
{
	char err[512];
	if (jl.j == NULL || jl.replay_done)
		return 0;
	jl.replay_done = true;
	long n = journal_replay(jl.j, cb, arg, err, sizeof(err));
	if (n < 0) {
		log_warnx("journal: %s", err);
		return 0;
	}
	jl.replayed = (uint64_t)n;
	log_info("replayed %ld item(s) from the journal, dropped %" PRIu64
		 " byte(s) of torn tail%s",
		 n, jl.rec.torn_bytes, jl.rec.damaged_bytes > 0 ? " and damaged records" : "");
	return n;
}

void journal_loop_append(struct item *it, const char *source)
{
	struct spool_record r = {.seq = it->seq,
				 .index = it->index,
				 .attempts = it->attempts,
				 .data = it->data,
				 .len = it->len};
	uint64_t id;
	snprintf(r.source, sizeof(r.source), "%s", source);
	if (journal_append(jl.j, &r, &id) < 0) {
		log_warn("journal: cannot start a segment; item %" PRIu64 " of '%s' is not "
			 "journaled",
			 it->index, source);
		return;
	}
	track_journaled(it, id);
	schedule_flush();
}

void journal_loop_adopt(struct item *it, uint64_t id)
{
	track_journaled(it, id);
}

bool journal_loop_full(void)
{
	return jl.j != NULL && (jl.failing || journal_full(jl.j));
}

static void wait_on(struct journal_waiters *list, struct journal_waiter *w, void (*cb)(void *arg),
		    void *arg, bool room)
{
	w->cb = cb;
	w->arg = arg;
	w->room = room;
	w->mark = UINT64_MAX;
	if (w->waiting)
		TAILQ_REMOVE(room ? &jl.room : &jl.safe, w, entry);
	w->waiting = true;
	TAILQ_INSERT_TAIL(list, w, entry);
}

void journal_loop_wait_room(struct journal_waiter *w, void (*cb)(void *arg), void *arg)
{
	wait_on(&jl.room, w, cb, arg, true);
	schedule_flush();
}

void journal_loop_when_safe(struct journal_waiter *w, void (*cb)(void *arg), void *arg)
{
	wait_on(&jl.safe, w, cb, arg, false);
	schedule_flush();
}

void journal_loop_cancel(struct journal_waiter *w)
{
	if (!w->waiting)
		return;
	TAILQ_REMOVE(w->room ? &jl.room : &jl.safe, w, entry);
	w->waiting = false;
}

uint64_t journal_loop_bytes(void)
{
	return jl.j ? journal_bytes(jl.j) : 0;
}

uint64_t journal_loop_items(void)
{
	return jl.j ? journal_items(jl.j) : 0;
}

void journal_loop_close(void)
{
	char err[512];
	if (jl.j == NULL)
		return;
	track_set_journal(NULL);
	if (jl.sync_inflight) {
		jl.closing = true; /* sync_done comes back here (bio_shutdown runs it) */
		return;
	}
	if (journal_flush(jl.j, err, sizeof(err)) < 0)
		log_warnx("journal: at exit: %s (the items not written are replayed from "
			  "their earlier records, or lost if they had none)",
			  err);
	if (jl.fsync != FSYNC_NEVER) {
		/* At exit the loop serves nobody: a plain sync is fine here. */
		struct journal_sync s;
		if (journal_sync_begin(jl.j, &s)) {
			journal_sync_run(&s);
			journal_sync_end(jl.j, &s);
		}
	}
	journal_close(jl.j);
	event_free(jl.flush_ev);
	event_free(jl.window_ev);
	event_free(jl.retry_ev);
	memset(&jl, 0, sizeof(jl));
}
