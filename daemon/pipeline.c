/*
 * pipeline.c: the scope (see pipeline.h).
 *
 * Layout: queues[i] feeds stages[i]; queues[n_stages] feeds the sinks. Sources
 * all push into queues[0]. Pills: when the last source ends, queues[0] gets one
 * per worker of stage 0; a stage whose workers have all taken their pill and
 * finished passes pills on; the sinks stop at theirs.
 *
 * Stopping: a first SIGTERM stops the sources and lets everything read so far
 * drain, within shutdown.grace. Cancel (a second signal, grace passing, the
 * deadline, or a failure under on_failure: cancel) stops the sources, makes the
 * stages stop their running items, and once every stage is quiet writes every
 * unfinished item (cancelled in flight, or still queued) to the spool in one
 * atomic file. Only then does the loop exit.
 *
 * Spool replay: at start, the spool (and a previous replay that had not
 * finished) is merged into PATH.replaying and its items are queued first, into
 * the stage they were waiting for. PATH.replaying is removed when every one of
 * those records is done end to end (tracked: a sink frees an item as soon as it
 * buffers it, long before its write), or superseded by a new spool.
 *
 * Reload: a successor is built from the running pipeline ("from"). Sources whose
 * block is unchanged move to it whole (position, connections, listener); a changed
 * listening source takes over the old one's socket; unchanged sinks, dead letter
 * and joblog are shared, and so is the error report. The old pipeline then
 * retires: its remaining sources stop and its stages drain, within its grace,
 * their results going to the shared sinks. To the successor the retiring pipeline
 * is one more live source, so the successor cannot pass its pills (or finish a
 * cancel) before the old one is done; what the old one could not finish within
 * its grace is queued in the successor, which runs it or, cancelling too, spools
 * it with its own: a retiring pipeline never spools.
 * Source ids, sequence numbers and the item hooks are shared by every pipeline.
 * A retiring pipeline that has finished is freed by its owner (pipeline_settled).
 *
 * Elsewhere: the states and their transitions (lifecycle.c), spool replay
 * (replay.c), a cancel's unfinished items and their spool (unfinished.c), the
 * summary (summary.c), the 1 s tick (tick.c), the failure log (failure-log.c) and
 * the dead-letter line (dead-letter.c).
 */
#include "pipeline.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "child.h"
#include "dead-letter.h"
#include "failure-log.h"
#include "joblog.h"
#include "journal-loop.h"
#include "lifecycle.h"
#include "log.h"
#include "sdnotify.h"
#include "sink.h"
#include "source.h"
#include "stage.h"
#include "replay.h"
#include "scope.h"
#include "summary.h"
#include "tick.h"
#include "track.h"
#include "unfinished.h"
#include "units.h"
#include "util.h"

#define SINKS_STAGE "@sinks"

struct pipeline {
	struct scope scope; /* what its sources, stages and sinks see of it */
	struct event_base *base;
	struct conf *conf;
	enum lc_state state; /* lifecycle.h: changed by lifecycle_step() alone */
	enum stop_reason reason;
	uint64_t started_at;

	struct source **sources;
	/* The file each source was built from: a moved source's kind still points into it. */
	const struct conf **source_origin;
	size_t n_sources, live_sources;
	struct queue **queues;
	struct stage **stages;
	size_t n_stages;
	struct sinks *sinks;
	const struct conf
	    *sinks_origin; /* the file the sinks were built from (shared ones: older) */
	struct sink *dead_letter;
	uint64_t dead_lettered;
	struct sink *joblog;
	struct done_set *done;	 /* --resume */
	int64_t wall_minus_mono; /* usec, to print monotonic start times as wall clock */
	struct report *report;

	struct event *grace_timer, *deadline_timer, *cancel_timer, *finish_ev, *memory_ev;
	struct tick *tick;
	TAILQ_HEAD(, queue_waiter) memory_waiters;

	struct unfinished unf; /* a cancel's: spooled, handed to the successor, or lost */
	uint64_t lost, replayed, sink_lost;
	uint64_t skipped_failed; /* --resume: items the joblog lists as failed, skipped */
	uint64_t kept; /* unfinished items whose source keeps them (dir: the file stays) */
	char *replay_path;
	bool sink_broken; /* a sink can never write again: what waits for the sinks is spooled */

	struct failure_log failure_log;
	uint64_t items_done;

	/* Reload (see the top of this file). */
	TAILQ_ENTRY(pipeline) entry;
	struct pipeline *pred, *succ; /* draining behind this one / that replaced this one */
	bool lent_sinks, lent_dead_letter, lent_joblog, lent_report;
	bool inherited_trouble; /* a retired predecessor had failures */
	uint64_t retired_at;
	struct item *fwd_pending; /* a result on its way to the successor's sinks */
	struct queue_waiter fwd_wait;
	void (*done_cb)(struct pipeline *p, void *arg);
	void *done_arg;
};

/* Shared by every pipeline alive (two during a reload). */
static TAILQ_HEAD(, pipeline) pipelines = TAILQ_HEAD_INITIALIZER(pipelines);
static char **source_names; /* source ids: configured sources, then names seen in a spool */
static size_t n_names;
static uint64_t next_seq = 1;
static struct pipeline *replay_owner; /* the pipeline that removes PATH.replaying */
/* The records replayed from the spool, tracked under source ids of their own. */
static struct {
	uint32_t first_id; /* ids from here on were added by the replay */
	struct tracker **trackers;
	size_t n_trackers;
	uint64_t pending; /* replayed records not done yet */
} spool_replay;
static void spool_replay_untrack(void);

struct event_base *pipeline_base(struct pipeline *p)
{
	return p->base;
}

const struct conf *pipeline_conf(const struct pipeline *p)
{
	return p->conf;
}

static struct pipeline *of(const struct scope *sc)
{
	return (struct pipeline *)((const char *)sc - offsetof(struct pipeline, scope));
}

static uint64_t op_next_seq(struct scope *sc)
{
	(void)sc;
	return next_seq++;
}

static const char *id_name(uint32_t index)
{
	return index < n_names ? source_names[index] : "?";
}

static const char *op_source_name(const struct scope *sc, uint32_t index)
{
	(void)sc;
	return id_name(index);
}

/* A new id for a source: a replaced source and its successor never share one. */
static uint32_t add_name(const char *name)
{
	source_names = xrealloc(source_names, (n_names + 1) * sizeof(char *));
	source_names[n_names] = xstrdup(name);
	return (uint32_t)n_names++;
}

/* Every change of state goes through here: the table in lifecycle.c decides. */
static bool step(struct pipeline *p, enum lc_event ev)
{
	return lifecycle_step(&p->state, ev, p->conf->name);
}

static bool op_cancelling(const struct scope *sc)
{
	return lifecycle_cancelled(of(sc)->state);
}

/* ---- memory_limit ---- */

static void memory_below_cb(void)
{
	struct pipeline *p;
	TAILQ_FOREACH(p, &pipelines, entry)
	{
		event_active(p->memory_ev, 0, 0);
	}
}

static void memory_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;
	TAILQ_HEAD(, queue_waiter) woken = TAILQ_HEAD_INITIALIZER(woken);
	struct queue_waiter *w;
	TAILQ_CONCAT(&woken, &p->memory_waiters, entry);
	while ((w = TAILQ_FIRST(&woken)) != NULL) {
		TAILQ_REMOVE(&woken, w, entry);
		w->waiting = false;
		w->cb(w->arg);
	}
}

static void op_wait_memory(struct scope *sc, struct queue_waiter *w, queue_cb cb, void *arg)
{
	struct pipeline *p = of(sc);
	w->cb = cb;
	w->arg = arg;
	if (w->waiting)
		return;
	w->waiting = true;
	TAILQ_INSERT_TAIL(&p->memory_waiters, w, entry);
	if (!scope_memory_full(sc)) {
		event_active(p->memory_ev, 0, 0);
		return;
	}
	item_stats.low_mark = p->conf->memory_limit - p->conf->memory_limit / 4;
	item_stats.below_cb = memory_below_cb;
}

static void op_cancel_wait_memory(struct scope *sc, struct queue_waiter *w)
{
	struct pipeline *p = of(sc);
	if (!w->waiting)
		return;
	TAILQ_REMOVE(&p->memory_waiters, w, entry);
	w->waiting = false;
}

/* ---- building ---- */

static unsigned pills_for(struct pipeline *p, size_t queue_index)
{
	return queue_index < p->n_stages ? stage_workers(p->stages[queue_index]) : 1;
}

/*
 * A record is done (track.h): its joblog line goes out now, so --resume never
 * skips a record a sink had not finished. Every pipeline alive shares the hook;
 * the newest joblog takes the line.
 */
static void joblog_done(void *arg, const char *line, bool line_failed, enum track_status st)
{
	struct pipeline *p, *to = NULL;
	char *failed = NULL;
	(void)arg;
	if (st == TRACK_ABANDONED)
		return; /* unfinished: spooled, or left for --resume to redo */
	TAILQ_FOREACH(p, &pipelines, entry)
	if (p->joblog != NULL)
		to = p;
	if (to == NULL)
		return;
	if (st == TRACK_FAILED && !line_failed) {
		/* It passed the stages, then failed at the sinks (a 4xx, a drop): not "ok". */
		const char *outcome = line;
		for (int i = 0; i < 7 && outcome != NULL; i++)
			outcome = strchr(outcome, '\t') != NULL ? strchr(outcome, '\t') + 1 : NULL;
		if (outcome != NULL)
			line = failed =
			    xasprintf("%.*s\tfailed:sink\t-\t-", (int)(outcome - line - 1), line);
	}
	sink_append(to->joblog, line, strlen(line));
	sink_flush(to->joblog);
	free(failed);
}

/* reloaded: a reload's new joblog path is appended to, never truncated. */
static int open_joblog(struct pipeline *p, bool reloaded, char *err, size_t errlen)
{
	const char *path = p->conf->joblog;
	struct stat sb;
	/* Empty counts as new: a SIGKILL right after a start leaves it so, headerless. */
	bool is_new = stat(path, &sb) != 0 || sb.st_size == 0;
	if (p->conf->resume && !reloaded) {
		p->done = joblog_read_done(path, err, errlen);
		if (p->done == NULL)
			return -1;
		size_t failed = done_set_failed(p->done);
		if (p->conf->resume_failed)
			log_info(
			    "--resume-failed: the joblog records %zu item(s) as done, which are "
			    "skipped, and %zu as failed, which run again",
			    done_set_size(p->done) - failed, failed);
		else
			log_info("--resume: the joblog records %zu item(s) as finished; they are "
				 "skipped (%zu of them failed: --resume-failed runs those again)",
				 done_set_size(p->done), failed);
	} else if (!is_new && !reloaded) {
		/* A new run without --resume starts a new log, as GNU parallel does. */
		if (truncate(path, 0) < 0) {
			snprintf(err, errlen, "cannot truncate joblog '%s': %s", path,
				 strerror(errno));
			return -1;
		}
		is_new = true;
	}
	p->joblog = sink_open(&p->scope, "joblog", SINK_TO_FILE, path, FSYNC_NEVER, err, errlen);
	if (p->joblog == NULL)
		return -1;
	if (is_new)
		sink_append(p->joblog, joblog_header, strlen(joblog_header));
	track_set_hook(joblog_done, NULL);
	return 0;
}

static void grace_cb(evutil_socket_t fd, short what, void *arg);
static void deadline_cb(evutil_socket_t fd, short what, void *arg);
static void cancel_backstop_cb(evutil_socket_t fd, short what, void *arg);
static void finish_cb(evutil_socket_t fd, short what, void *arg);

/* ---- a reload: what a successor takes over ---- */

/* Two malloc'ed strings, freed: are they the same? */
static bool same_printed(char *a, char *b)
{
	bool same = strcmp(a, b) == 0;
	free(a);
	free(b);
	return same;
}

/* The running source of from that an unchanged block of the new file describes. */
static struct source *unchanged_source(struct pipeline *from, const struct conf *conf,
				       const struct conf_source *cs)
{
	if (from->conf->max_item_bytes != conf->max_item_bytes)
		return NULL;
	for (size_t i = 0; i < from->n_sources; i++) {
		struct source *s = from->sources[i];
		if (strcmp(source_name(s), cs->name) == 0)
			return same_printed(conf_printed_source(source_conf(s)),
					    conf_printed_source(cs))
				   ? s
				   : NULL;
	}
	return NULL;
}

static const char *listen_address(const struct conf_source *cs)
{
	return source_conf_address(cs);
}

/* A source of from, being replaced, that listens where cs will: its socket is taken over. */
static struct source *replaced_listener(struct pipeline *from, const struct conf_source *cs)
{
	const char *addr = listen_address(cs);
	for (size_t i = 0; addr != NULL && i < from->n_sources; i++) {
		const struct conf_source *old = source_conf(from->sources[i]);
		if (old->kind == cs->kind && strcmp(listen_address(old), addr) == 0)
			return from->sources[i];
	}
	return NULL;
}

static bool same_dead_letter(const struct conf *a, const struct conf *b)
{
	return a->dead_letter.enabled && b->dead_letter.enabled &&
	       a->dead_letter.type == b->dead_letter.type &&
	       str_same(a->dead_letter.path, b->dead_letter.path);
}

/*
 * Everything that could fail is done: from gives up what p takes over. Nothing
 * here can fail, so a reload that fails leaves from exactly as it was.
 */
static void take_over(struct pipeline *p, struct pipeline *from, struct source **moved,
		      struct source **listeners)
{
	char kept[512] = "";
	size_t kl = 0;
	for (size_t i = 0; i < p->n_sources; i++) {
		if (listeners[i] != NULL)
			source_handover(listeners[i], p->sources[i]);
		if (moved[i] == NULL)
			continue;
		p->sources[i] = moved[i];
		source_move(moved[i], &p->scope, &p->conf->sources[i], p->queues[0]);
		/* Out of from's table: from no longer runs, stops or frees it. */
		for (size_t j = 0; j < from->n_sources; j++)
			if (from->sources[j] == moved[i]) {
				size_t after = from->n_sources - j - 1;
				p->source_origin[i] = from->source_origin[j];
				memmove(&from->sources[j], &from->sources[j + 1],
					after * sizeof(*from->sources));
				memmove(&from->source_origin[j], &from->source_origin[j + 1],
					after * sizeof(*from->source_origin));
				from->n_sources--;
				break;
			}
		if (kl < sizeof(kept))
			kl += (size_t)snprintf(kept + kl, sizeof(kept) - kl, "%s%s", kl ? ", " : "",
					       source_name(moved[i]));
	}
	if (p->sinks == NULL) {
		p->sinks = from->sinks;
		p->sinks_origin = from->sinks_origin;
		from->sinks = NULL;
		from->lent_sinks = true;
	}
	if (p->dead_letter == NULL && same_dead_letter(from->conf, p->conf)) {
		p->dead_letter = from->dead_letter;
		sink_move(p->dead_letter, &p->scope);
		from->lent_dead_letter = true;
	}
	if (p->conf->joblog != NULL && p->joblog == NULL) {
		p->joblog = from->joblog;
		sink_move(p->joblog, &p->scope);
		from->lent_joblog = true;
	}
	/* One error report for the daemon's run, as for any scope. */
	report_free(p->report);
	p->report = from->report;
	from->lent_report = true;
	p->done = from->done;
	from->done = NULL;
	p->replay_path = from->replay_path;
	from->replay_path = NULL;
	if (replay_owner == from)
		replay_owner = p;
	p->pred = from;
	from->succ = p;
	log_info("reload: sources carried over as they are: %s; sinks %s", kl ? kept : "none",
		 from->lent_sinks ? "shared" : "opened anew (they start once the old ones close)");
}

/* Its callbacks for its sources, stages and sinks (below). */
static const struct scope_ops pipeline_ops;
static void cancel(struct pipeline *p, enum stop_reason why, const char *detail);
static void finish_if_quiet(struct pipeline *p);
static void item_done(struct pipeline *p, const char *stage, const struct item *it,
		      uint64_t started_at, const struct failure *f);

struct pipeline *pipeline_new(struct event_base *base, struct conf *conf, struct pipeline *from,
			      int *exit_code)
{
	struct pipeline *p = xcalloc(1, sizeof(*p));
	struct source **moved = NULL, **listeners = NULL;
	char err[1024];

	TAILQ_INSERT_TAIL(&pipelines, p, entry);
	p->base = base;
	p->conf = conf;
	p->scope = (struct scope){.ops = &pipeline_ops, .base = base, .conf = conf};
	p->report = report_new();
	TAILQ_INIT(&p->memory_waiters);
	p->memory_ev = event_new(base, -1, 0, memory_ev_cb, p);
	p->finish_ev = event_new(base, -1, 0, finish_cb, p);
	p->grace_timer = evtimer_new(base, grace_cb, p);
	p->deadline_timer = evtimer_new(base, deadline_cb, p);
	p->cancel_timer = evtimer_new(base, cancel_backstop_cb, p);
	p->tick = tick_new(p);

	/* Before the sources: they ask whether there is a journal to write to. */
	if (conf->journal.enabled && journal_loop_open(base, conf, err, sizeof(err)) < 0) {
		log_error("%s", err);
		*exit_code = 73;
		goto fail;
	}

	p->n_stages = conf->n_stages;
	p->queues = xcalloc(p->n_stages + 1, sizeof(*p->queues));
	for (size_t i = 0; i < p->n_stages; i++)
		p->queues[i] = queue_new(base, conf->stages[i].name, &conf->stages[i].queue);
	p->queues[p->n_stages] = queue_new(base, "sinks", &conf->queue);

	p->stages = xcalloc(p->n_stages, sizeof(*p->stages));
	for (size_t i = 0; i < p->n_stages; i++) {
		p->stages[i] = stage_new(&p->scope, &conf->stages[i], p->queues[i],
					 p->queues[i + 1], err, sizeof(err));
		if (p->stages[i] == NULL) {
			log_error("%s", err);
			*exit_code = 78;
			goto fail;
		}
	}

	/* Unchanged sinks are shared with from (take_over), not opened twice. */
	if (from == NULL ||
	    !same_printed(conf_printed_sinks(from->conf), conf_printed_sinks(conf))) {
		p->sinks = sinks_new(&p->scope, conf, p->queues[p->n_stages], err, sizeof(err));
		p->sinks_origin = conf;
		if (p->sinks == NULL) {
			log_error("%s", err);
			*exit_code = 73;
			goto fail;
		}
	}
	if (conf->dead_letter.enabled && (from == NULL || !same_dead_letter(from->conf, conf))) {
		p->dead_letter = sink_open(
		    &p->scope, "dead_letter",
		    conf->dead_letter.type == DEAD_LETTER_STDOUT ? SINK_TO_STDOUT : SINK_TO_FILE,
		    conf->dead_letter.path, FSYNC_NEVER, err, sizeof(err));
		if (p->dead_letter == NULL) {
			log_error("%s", err);
			*exit_code = 73;
			goto fail;
		}
	}

	if (conf->joblog != NULL && (from == NULL || !str_same(from->conf->joblog, conf->joblog)) &&
	    open_joblog(p, from != NULL, err, sizeof(err)) < 0) {
		log_error("%s", err);
		*exit_code = conf->resume ? 66 : 73;
		goto fail;
	}
	if (conf->resume && conf->joblog == NULL && from == NULL) {
		log_error(
		    "--resume needs a 'joblog' in %s: it is where finished items are recorded",
		    conf->file);
		*exit_code = 64;
		goto fail;
	}
	if (p->n_stages > 0)
		stage_set_last(p->stages[p->n_stages - 1]);

	p->sources = xcalloc(conf->n_sources, sizeof(*p->sources));
	p->source_origin = xcalloc(conf->n_sources, sizeof(*p->source_origin));
	moved = xcalloc(conf->n_sources, sizeof(*moved));
	listeners = xcalloc(conf->n_sources, sizeof(*listeners));
	for (size_t i = 0; i < conf->n_sources; i++, p->n_sources++) {
		const struct conf_source *cs = &conf->sources[i];
		if (from != NULL && (moved[i] = unchanged_source(from, conf, cs)) != NULL)
			continue;
		p->sources[i] = source_new(&p->scope, cs, add_name(cs->name), p->queues[0]);
		p->source_origin[i] = conf;
		if (from != NULL && (listeners[i] = replaced_listener(from, cs)) != NULL)
			source_inherit_listener(p->sources[i], listeners[i]);
		if (source_open(p->sources[i], err, sizeof(err)) < 0) {
			log_error("%s", err);
			*exit_code = 66;
			p->n_sources++;
			goto fail;
		}
	}
	if (from != NULL)
		take_over(p, from, moved, listeners);
	free(moved);
	free(listeners);
	return p;
fail:
	free(moved);
	free(listeners);
	pipeline_free(p);
	return NULL;
}

void pipeline_free(struct pipeline *p)
{
	if (p == NULL)
		return;
	/* The last one: what is freed below was never finished, so no joblog line. */
	if (TAILQ_FIRST(&pipelines) == p && TAILQ_NEXT(p, entry) == NULL)
		track_set_hook(NULL, NULL);
	if (p->succ != NULL)
		p->succ->pred = NULL;
	if (p->pred != NULL)
		p->pred->succ = NULL;
	for (size_t i = 0; i < p->n_sources; i++)
		source_free(p->sources[i]);
	free(p->sources);
	free(p->source_origin);
	for (size_t i = 0; i < p->n_stages; i++)
		stage_free(p->stages[i]);
	free(p->stages);
	sinks_free(p->sinks);
	for (size_t i = 0; p->queues != NULL && i <= p->n_stages; i++)
		queue_free(p->queues[i]);
	free(p->queues);
	unfinished_free(&p->unf);
	item_free(p->fwd_pending);
	if (!p->lent_dead_letter)
		sink_free(p->dead_letter);
	if (!p->lent_joblog)
		sink_free(p->joblog);
	p->joblog = NULL; /* joblog_done() looks for a joblog in every pipeline */
	done_set_free(p->done);
	event_free(p->memory_ev);
	event_free(p->finish_ev);
	event_free(p->grace_timer);
	event_free(p->deadline_timer);
	event_free(p->cancel_timer);
	tick_free(p->tick);
	if (!p->lent_report)
		report_free(p->report);
	free(p->replay_path);
	if (replay_owner == p)
		replay_owner = NULL;
	TAILQ_REMOVE(&pipelines, p, entry);
	if (TAILQ_EMPTY(&pipelines)) {
		/* The last one: nothing can reach the hooks or the source ids any more. */
		journal_loop_close();
		item_stats.below_cb = NULL;
		spool_replay_untrack();
		for (size_t i = 0; i < n_names; i++)
			free(source_names[i]);
		free(source_names);
		source_names = NULL;
		n_names = 0;
	}
	free(p);
}

/* ---- spool replay ---- */

static void replay_done(void)
{
	struct pipeline *p = replay_owner;
	if (p == NULL || p->replay_path == NULL || lifecycle_cancelled(p->state) ||
	    p->unf.spool_failed)
		return;
	if (unlink(p->replay_path) == 0)
		log_info("every item replayed from the spool is done; removed '%s'",
			 p->replay_path);
}

static void spool_replay_untrack(void)
{
	for (size_t i = 0; i < spool_replay.n_trackers; i++)
		track_free(spool_replay.trackers[i]);
	free(spool_replay.trackers);
	spool_replay.trackers = NULL;
	spool_replay.n_trackers = 0;
	spool_replay.pending = 0;
}

/* A replayed record is done; an abandoned one (a cancel) goes to the new spool. */
static void spool_replay_record_done(void *arg, const struct track_done *d)
{
	if (d->status == TRACK_ABANDONED || spool_replay.pending == 0 || --spool_replay.pending > 0)
		return;
	spool_replay_untrack();
	replay_done();
}

/*
 * The id of a name seen in the spool: one of its own, not the live source's (whose
 * tracker would be told of records it never read, and whose indexes may repeat).
 */
static uint32_t spool_replay_id(const char *name)
{
	for (size_t i = spool_replay.first_id; i < n_names; i++)
		if (strcmp(source_names[i], name) == 0)
			return (uint32_t)i;
	return add_name(name);
}

/* Tracks every replayed item (the joblog's hook may have already). */
static void spool_replay_track(struct replay_batch *b)
{
	spool_replay.n_trackers = n_names - spool_replay.first_id;
	spool_replay.trackers = xcalloc(spool_replay.n_trackers + 1, sizeof(struct tracker *));
	for (size_t i = 0; i < spool_replay.n_trackers; i++)
		spool_replay.trackers[i] = track_new((uint32_t)(spool_replay.first_id + i), false,
						     spool_replay_record_done, NULL);
	for (struct item *it = b->head; it != NULL; it = it->next) {
		if (it->track == 0)
			track_item(spool_replay.trackers[it->source - spool_replay.first_id], it,
				   NULL, 0, 0);
		spool_replay.pending++;
	}
}

/* The queue for items that waited for stage (a name, or SINKS_STAGE); -1 if p has none. */
static ssize_t stage_queue(struct pipeline *p, const char *stage)
{
	if (strcmp(stage, SINKS_STAGE) == 0)
		return (ssize_t)p->n_stages;
	for (size_t i = 0; i < p->n_stages; i++)
		if (strcmp(stage_name(p->stages[i]), stage) == 0)
			return (ssize_t)i;
	return -1;
}

static size_t queue_index_for(struct pipeline *p, const char *stage)
{
	ssize_t q = stage_queue(p, stage);
	if (q >= 0)
		return (size_t)q;
	log_warnx("spooled item for stage '%s', which no longer exists: queued at the first stage",
		  stage);
	return 0;
}

/* Returns -1 if the spool cannot be used and the start must fail. */
static int replay_spool(struct pipeline *p)
{
	const char *spool = p->conf->shutdown.spool;
	struct replay_batch b;

	if (spool == NULL)
		return 0;
	p->replay_path = xasprintf("%s.replaying", spool);
	spool_replay.first_id = (uint32_t)n_names;
	if (replay_load(spool, p->replay_path, p->conf->max_item_bytes, spool_replay_id, p->done,
			&b) < 0)
		return -1;
	spool_replay_track(&b);
	if (b.max_seq >= next_seq)
		next_seq = b.max_seq + 1;
	size_t i = 0;
	for (struct item *it = b.head, *next; it != NULL; it = next, i++) {
		next = it->next;
		it->next = NULL;
		size_t q = queue_index_for(p, b.stage_of[i]);
		/* It had passed every stage: its joblog line is due once the sinks have it. */
		if (q == p->n_stages)
			item_done(p, SINKS_STAGE, it, 0, NULL);
		queue_push_force(p->queues[q], it);
		free(b.stage_of[i]);
		p->replayed++;
	}
	free(b.stage_of);
	if (p->done != NULL)
		done_set_sort(p->done);
	replay_owner = p;
	if (p->replayed > 0)
		log_info("replaying %" PRIu64 " unfinished item(s) from the spool", p->replayed);
	else if (access(p->replay_path, F_OK) == 0)
		unlink(p->replay_path);
	return 0;
}

/*
 * A journaled item comes back under an id of its own per source name (not the live
 * source's: records of several runs may share an index), its journal id as index.
 */
struct journal_replay_ctx {
	struct pipeline *p;
	uint32_t first_id; /* ids from here on were added by this replay */
};

static uint32_t replay_id(struct journal_replay_ctx *ctx, const char *name)
{
	for (size_t i = ctx->first_id; i < n_names; i++)
		if (strcmp(source_names[i], name) == 0)
			return (uint32_t)i;
	return add_name(name);
}

static void journal_item_cb(void *arg, uint64_t id, const struct spool_record *r)
{
	struct journal_replay_ctx *ctx = arg;
	struct pipeline *p = ctx->p;
	struct item *it = item_new(r->data, r->len, next_seq++, replay_id(ctx, r->source));
	it->index = id;
	track_item_hooked(it);
	journal_loop_adopt(it, id);
	/* Into the first stage: the journal holds items as their sources gave them. */
	queue_push_force(p->queues[0], it);
	p->replayed++;
}

static void replay_journal(struct pipeline *p)
{
	struct journal_replay_ctx ctx = {.p = p, .first_id = (uint32_t)n_names};
	journal_loop_replay(journal_item_cb, &ctx);
}

/* ---- lifecycle ---- */

static void push_pills(struct pipeline *p, size_t queue_index)
{
	unsigned n = pills_for(p, queue_index);
	for (unsigned i = 0; i < n; i++)
		queue_push_force(p->queues[queue_index], item_pill());
}

/* A source (or a retired predecessor) has produced everything it will. */
static void one_source_less(struct pipeline *p)
{
	if (--p->live_sources > 0 || lifecycle_cancelled(p->state))
		return;
	if (lifecycle_allows(p->state, LC_INPUT_ENDED))
		step(p, LC_INPUT_ENDED);
	push_pills(p, 0);
}

static void op_source_ended(struct scope *sc, struct source *s)
{
	struct pipeline *p = of(sc);
	log_debug("source '%s' ended after %" PRIu64 " item(s)", source_name(s), source_items(s));
	one_source_less(p);
}

static void retire_done(struct pipeline *p);

static void op_stage_finished(struct scope *sc, struct stage *st)
{
	struct pipeline *p = of(sc);
	for (size_t i = 0; i < p->n_stages; i++)
		if (p->stages[i] == st)
			push_pills(p, i + 1);
}

/* The last pill left the last stage: everything read is through. */
static void stopped(struct pipeline *p)
{
	if (!step(p, LC_DRAINED))
		return;
	if (p->succ != NULL)
		retire_done(p);
	else if (p->done_cb != NULL)
		p->done_cb(p, p->done_arg);
}

static void op_sinks_finished(struct scope *sc)
{
	struct pipeline *p = of(sc);
	/* Once cancelling, finished sinks matter only to a retiring pipeline closing its own. */
	if (lifecycle_allows(p->state, LC_DRAINED))
		stopped(p);
	else if (p->state == LC_CLOSING_SINKS && step(p, LC_SINKS_CLOSED))
		retire_done(p);
}

static void stop_sources(struct pipeline *p)
{
	for (size_t i = 0; i < p->n_sources; i++)
		source_stop(p->sources[i]);
}

static void set_timer(struct event *ev, uint64_t usec)
{
	struct timeval tv = {(time_t)(usec / 1000000), (suseconds_t)(usec % 1000000)};
	evtimer_add(ev, &tv);
}

void pipeline_stop(struct pipeline *p)
{
	char d[32];
	if (p->state == LC_STOPPING) {
		cancel(p, STOP_SIGNAL, "a second stop signal");
		return;
	}
	if (!lifecycle_allows(p->state, LC_STOP))
		return; /* cancelling, or over */
	step(p, LC_STOP);
	if (p->reason == STOP_NONE)
		p->reason = STOP_SIGNAL;
	sdnotify("STOPPING=1\nSTATUS=draining");
	log_info("stopping: sources stop reading; draining what was read (grace %s; a second "
		 "signal cancels now)",
		 units_format_duration(p->conf->shutdown.grace, d, sizeof(d)));
	set_timer(p->grace_timer, p->conf->shutdown.grace);
	stop_sources(p);
}

static void cancel(struct pipeline *p, enum stop_reason why, const char *detail)
{
	if (!lifecycle_allows(p->state, LC_CANCEL))
		return; /* cancelling already, or over */
	/* The first cause decides the exit code; a failure outranks a signal. */
	if (p->reason == STOP_NONE || (p->reason == STOP_SIGNAL && why != STOP_SIGNAL))
		p->reason = why;
	step(p, LC_CANCEL);
	if (p->succ != NULL) {
		log_warnx("cancelling the previous pipeline: %s; what it has not finished goes "
			  "to the new one",
			  detail);
	} else {
		log_warnx("cancelling the pipeline: %s", detail);
		sdnotify("STOPPING=1\nSTATUS=cancelling: %s", detail);
	}
	/* One scope: a failure anywhere cancels all; a cancel reaches what drains behind. */
	if (p->pred != NULL)
		cancel(p->pred, why, "the pipeline that replaced it is cancelled");
	if (p->succ != NULL && why != STOP_SIGNAL)
		cancel(p->succ, why, detail);
	evtimer_del(p->grace_timer);
	evtimer_del(p->deadline_timer);
	/* Children get kill_after to go after SIGTERM, then SIGKILL; this is the backstop. */
	set_timer(p->cancel_timer, p->conf->shutdown.kill_after * 2 + 1000000);
	stop_sources(p);
	for (size_t i = 0; i < p->n_stages; i++)
		stage_cancel(p->stages[i]);
	finish_if_quiet(p);
}

/* Every stage's cancelled work has come back: the cancel can finish (finish_cb). */
static void finish_if_quiet(struct pipeline *p)
{
	for (size_t i = 0; i < p->n_stages; i++)
		if (!stage_quiet(p->stages[i]))
			return;
	event_active(p->finish_ev, 0, 0);
}

static void keep_unfinished(struct pipeline *p, const char *stage, struct item *it)
{
	/* A spool directory keeps its own files until they are done: nothing to spool. */
	if (p->succ == NULL && track_abandon(it)) {
		p->kept++;
		item_free(it);
		return;
	}
	unfinished_add(&p->unf, stage, it);
}

static const char *source_name_of(void *arg, uint32_t source)
{
	return id_name(source);
}

/* The unfinished items are spooled or counted lost: the cancel is over. */
static void unfinished_done(void *arg, bool lost)
{
	struct pipeline *p = arg;
	if (lost)
		p->lost = p->unf.n;
	else if (p->unf.spooled > 0 && p->replay_path != NULL)
		unlink(p->replay_path); /* its items are in the new spool */
	unfinished_clear(&p->unf);
	step(p, LC_SPOOLED);
	if (p->done_cb != NULL)
		p->done_cb(p, p->done_arg);
}

static struct queue *successor_sinks_queue(struct pipeline *p)
{
	return p->succ->queues[p->succ->n_stages];
}

/*
 * A cancelled predecessor's unfinished items are queued in the successor: it runs
 * them, or, cancelling too, spools them with its own (counted there as queued).
 */
static void hand_over_unfinished(struct pipeline *p)
{
	struct pipeline *succ = p->succ;
	for (size_t i = 0; i < p->unf.n; i++) {
		ssize_t q = stage_queue(succ, p->unf.v[i].stage);
		queue_push_force(succ->queues[q >= 0 ? q : 0], p->unf.v[i].it);
		free(p->unf.v[i].stage);
	}
	if (p->unf.n > 0)
		log_info("reload: %zu item(s) the previous pipeline had not finished went to the "
			 "new one",
			 p->unf.n);
	unfinished_forget(&p->unf);
}

static void finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;
	/* Cancelling, the stages quiet (or given up on); not yet spooling or handing over. */
	if (p->state != LC_CANCELLING && p->state != LC_GIVEN_UP)
		return;
	/* Its predecessor first hands over what it has not finished (retire_done()). */
	if (p->pred != NULL)
		return;
	evtimer_del(p->cancel_timer);
	/* Finished results waiting for the sinks go out rather than to the spool, unless
	 * a sink is broken (then they could only be lost); a retiring pipeline hands
	 * them to its successor instead. */
	if (!p->sink_broken && p->succ == NULL)
		sinks_drain_queue(p->sinks);
	if (p->fwd_pending != NULL) {
		queue_cancel_wait(successor_sinks_queue(p), &p->fwd_wait);
		keep_unfinished(p, SINKS_STAGE, p->fwd_pending);
		p->fwd_pending = NULL;
	}
	for (size_t i = 0; i <= p->n_stages; i++) {
		const char *name = i < p->n_stages ? stage_name(p->stages[i]) : SINKS_STAGE;
		uint64_t n = 0;
		for (struct item *it = queue_take_all(p->queues[i]), *next; it != NULL; it = next) {
			next = it->next;
			it->next = NULL;
			keep_unfinished(p, name, it);
			n++;
		}
		if (i < p->n_stages)
			stage_count_unfinished_queued(p->stages[i], n);
	}
	if (p->succ != NULL) {
		/* A down sink's records go over too, rather than be lost at its close. */
		if (p->sinks != NULL)
			sinks_take_back(p->sinks);
		hand_over_unfinished(p);
		step(p, LC_HAND_OVER);
		if (p->sinks == NULL) {
			step(p, LC_SINKS_CLOSED);
			retire_done(p);
			return;
		}
		/* Records its own sinks hold are theirs to write: for kill_after at most. */
		set_timer(p->cancel_timer, p->conf->shutdown.kill_after);
		sinks_finish(p->sinks);
		return;
	}
	step(p, LC_SPOOL);
	unfinished_spool(&p->unf, p->conf->shutdown.spool, source_name_of, p, unfinished_done, p);
}

static void grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;
	char d[32], msg[96];
	snprintf(msg, sizeof(msg), "the grace period (%s) passed before the drain finished",
		 units_format_duration(p->conf->shutdown.grace, d, sizeof(d)));
	cancel(p, STOP_SIGNAL, msg);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;
	char d[32], msg[96];
	snprintf(msg, sizeof(msg), "the deadline (%s) passed",
		 units_format_duration(p->conf->deadline, d, sizeof(d)));
	cancel(p, STOP_DEADLINE, msg);
}

static void cancel_backstop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;
	if (p->state == LC_CLOSING_SINKS) {
		/* A retiring pipeline's own sinks had kill_after to write what they held. */
		step(p, LC_SINKS_CLOSED);
		retire_done(p);
		return;
	}
	if (!lifecycle_allows(p->state, LC_GIVE_UP))
		return;
	log_error("cancelled work did not come back within twice kill_after; giving up on it");
	step(p, LC_GIVE_UP);
	for (size_t i = 0; i < p->n_stages; i++) {
		struct stage_counts c;
		stage_counts(p->stages[i], &c);
		p->lost += c.in_flight;
	}
	event_active(p->finish_ev, 0, 0);
}

/* ---- failures ---- */

static void op_item_failed(struct scope *sc, const char *stage, enum on_failure policy,
			   const struct item *it, const struct failure *f)
{
	struct pipeline *p = of(sc);
	const char *source = id_name(it->source);
	report_add(p->report, stage, source, it, f);
	failure_log_item(&p->failure_log, stage, source, it, f);
	track_failed(it);
	if (policy == ON_FAILURE_DEAD_LETTER && p->dead_letter != NULL) {
		char *line = dead_letter_json(stage, source, it, f);
		sink_append(p->dead_letter, line, strlen(line));
		sink_flush(p->dead_letter);
		p->dead_lettered++;
		free(line);
	}
	if (policy == ON_FAILURE_CANCEL) {
		char msg[400];
		snprintf(msg, sizeof(msg),
			 "stage '%s' has on_failure: cancel and item %" PRIu64 " failed: %.250s",
			 stage, it->seq, f->message);
		cancel(p, STOP_FAILURE, msg);
	}
}

/*
 * The joblog a record finished in p is listed in: p's own, else its successor's (a
 * reload that added a joblog: what the old pipeline still finishes is listed too).
 */
static struct sink *joblog_for(const struct pipeline *p)
{
	for (; p != NULL; p = p->succ)
		if (p->joblog != NULL)
			return p->joblog;
	return NULL;
}

static void item_done(struct pipeline *p, const char *stage, const struct item *it,
		      uint64_t started_at, const struct failure *f)
{
	char line[512], status[16] = "-", sig[16] = "-", outcome[64] = "ok";
	p->items_done++;
	struct sink *joblog = joblog_for(p);
	if (joblog == NULL)
		return;
	uint64_t now = now_usec();
	if (started_at == 0) /* a builtin: it ran just now */
		started_at = now;
	if (f != NULL) {
		snprintf(outcome, sizeof(outcome), "failed:%s", failure_kind_name(f->kind));
		if (f->exit_status >= 0)
			snprintf(status, sizeof(status), "%d", f->exit_status);
		if (f->signal > 0)
			snprintf(sig, sizeof(sig), "%d", f->signal);
	} else {
		snprintf(status, sizeof(status), "0");
	}
	int n = snprintf(line, sizeof(line),
			 "%" PRIu64 "\t%s\t%" PRIu64 "\t%s\t%.3f\t%.3f\t%" PRIu32 "\t%s\t%s\t%s",
			 it->seq, id_name(it->source), it->index, stage,
			 (double)((int64_t)started_at + p->wall_minus_mono) / 1e6,
			 (double)(now - started_at) / 1e6, it->attempts, outcome, status, sig);
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	line[n] = '\0';
	/* Written once every part of the record is done (joblog_done), or now if untracked. */
	if (!track_note(it, line, f != NULL)) {
		sink_append(joblog, line, (size_t)n);
		sink_flush(joblog);
	}
}

static bool op_already_done(struct scope *sc, uint32_t source, uint64_t index)
{
	struct pipeline *p = of(sc);
	switch (done_set_lookup(p->done, id_name(source), index)) {
	case DONE_OK:
		return true;
	case DONE_FAILED:
		if (p->conf->resume_failed)
			return false;
		p->skipped_failed++;
		return true;
	default:
		return false;
	}
}

void pipeline_progress(struct pipeline *p, struct pipeline_progress *pp)
{
	double sum = 0, f;
	memset(pp, 0, sizeof(*pp));
	pp->fraction = 0;
	for (size_t i = 0; i < p->n_sources; i++) {
		pp->read += source_items(p->sources[i]);
		if (pp->fraction >= 0 && source_progress(p->sources[i], &f))
			sum += f;
		else
			pp->fraction = -1;
	}
	if (pp->fraction >= 0 && p->n_sources > 0)
		pp->fraction = sum / (double)p->n_sources;
	pp->failed = report_total(p->report);
	/* Without stages nothing runs: an item is done when the sinks have it. */
	pp->done = p->n_stages > 0 ? p->items_done : queue_stats(p->queues[0])->pushed;
}

bool pipeline_is_job(const struct pipeline *p)
{
	for (size_t i = 0; i < p->conf->n_sources; i++) {
		if (!source_conf_finite(&p->conf->sources[i]))
			return false;
	}
	return true;
}

static void op_sink_broken(struct scope *sc, const char *why)
{
	struct pipeline *p = of(sc);
	log_error("%s", why);
	p->sink_broken = true;
	cancel(p, STOP_FAILURE, why);
}

/* ---- running ---- */

/* A job whose sources were stopped before their input ended did not finish. */
static bool cut_short(const struct pipeline *p)
{
	if (!pipeline_is_job(p))
		return false;
	for (size_t i = 0; i < p->n_sources; i++)
		if (source_cut_short(p->sources[i]))
			return true;
	return false;
}

static bool trouble(const struct pipeline *p)
{
	/* Items skipped as failed by an earlier run are failures still: the job is not done. */
	bool t = p->inherited_trouble || report_total(p->report) > 0 || p->sink_lost > 0 ||
		 p->skipped_failed > 0;
	for (size_t i = 0; i < p->n_sources; i++)
		t |= source_rejected(p->sources[i]) > 0 || source_failed(p->sources[i]);
	for (size_t i = 0; i <= p->n_stages; i++)
		t |= queue_stats(p->queues[i])->dropped > 0;
	return t;
}

static void forward_results(void *arg);

static void forward_resume(void *arg)
{
	struct pipeline *p = arg;
	if (p->fwd_pending == NULL || !lifecycle_flowing(p->state))
		return;
	struct queue *to = successor_sinks_queue(p);
	if (!queue_push(to, p->fwd_pending)) {
		queue_wait_space(to, &p->fwd_wait, forward_resume, p);
		return;
	}
	p->fwd_pending = NULL;
	forward_results(p);
}

/*
 * The consumer of a retiring pipeline's last queue when it shares its successor's
 * sinks: results move on to the successor's sinks queue, under its bound; the
 * pill means every stage has finished.
 */
static void forward_results(void *arg)
{
	struct pipeline *p = arg;
	struct item *it;
	/* Running or draining only: a cancel hands the rest over (finish_cb). */
	while (p->fwd_pending == NULL && lifecycle_flowing(p->state) &&
	       (it = queue_pop(p->queues[p->n_stages])) != NULL) {
		struct queue *to = successor_sinks_queue(p);
		if (it->flags & ITEM_PILL) {
			item_free(it);
			stopped(p);
			return;
		}
		if (!queue_push(to, it)) {
			p->fwd_pending = it;
			p->fwd_wait.need = item_cost(it);
			queue_wait_space(to, &p->fwd_wait, forward_resume, p);
		}
	}
}

/* A predecessor still draining counts as one more source: its leftovers may still come. */
static size_t count_live_sources(const struct pipeline *p)
{
	size_t n = p->pred != NULL;
	for (size_t i = 0; i < p->n_sources; i++)
		n += !source_ended(p->sources[i]);
	return n;
}

/* A reload: the running pipeline stops its sources and drains behind its successor. */
static void retire_begin(struct pipeline *p)
{
	char d[32];
	bool pills_due = p->state == LC_RUNNING; /* none went in yet */
	p->retired_at = now_usec();
	step(p, LC_STOP);
	evtimer_del(p->deadline_timer);
	tick_stop(p->tick);
	if (p->lent_sinks) {
		/* Whatever waits for the sinks goes first, in order. */
		struct queue *from = p->queues[p->n_stages],
			     *to = p->succ->queues[p->succ->n_stages];
		for (struct item *it = queue_take_all(from), *next; it != NULL; it = next) {
			next = it->next;
			it->next = NULL;
			queue_push_force(to, it);
		}
		queue_set_consumer(from, forward_results, p);
	}
	p->live_sources = count_live_sources(p);
	log_info("reload: the previous pipeline drains: %zu source(s) stop, %zu stage(s) finish "
		 "what they have (grace %s)",
		 p->n_sources, p->n_stages,
		 units_format_duration(p->conf->shutdown.grace, d, sizeof(d)));
	set_timer(p->grace_timer, p->conf->shutdown.grace);
	if (p->live_sources == 0 && pills_due) {
		p->live_sources = 1;
		one_source_less(p);
	}
	stop_sources(p);
}

/* A retiring pipeline is done: its successor is on its own; its owner may free it
 * (pipeline_settled). */
static void retire_done(struct pipeline *p)
{
	struct pipeline *succ = p->succ;
	evtimer_del(p->grace_timer);
	evtimer_del(p->cancel_timer);
	/* Drained (or given kill_after), they hold nothing: closing them does not wait. */
	if (p->sinks != NULL)
		p->sink_lost = sinks_close(p->sinks, 0);
	if (p->dead_letter != NULL && !p->lent_dead_letter)
		sink_close(p->dead_letter, 0);
	if (p->joblog != NULL && !p->lent_joblog)
		sink_close(p->joblog, 0);
	log_info("reload: the previous pipeline '%s' finished %.3fs after the reload; its counts:",
		 p->conf->name, (double)(now_usec() - p->retired_at) / 1e6);
	summary_log_counts(p);
	succ->inherited_trouble |= trouble(p);
	succ->lost += p->lost + p->sink_lost;
	succ->kept += p->kept;
	succ->pred = NULL;
	p->succ = NULL;
	if (!p->lent_sinks) {
		/* Its sinks are closed: the next ones start, wherever a reload has put them. */
		struct pipeline *holder = succ;
		while (holder->lent_sinks)
			holder = holder->succ;
		sinks_start(holder->sinks);
	}
	if (!lifecycle_cancelled(succ->state))
		one_source_less(succ);
	else if (succ->state == LC_GIVEN_UP)
		event_active(succ->finish_ev, 0, 0);
	else
		finish_if_quiet(succ);
	if (p->done_cb != NULL)
		p->done_cb(p, p->done_arg);
}

int pipeline_start(struct pipeline *p, void (*done)(struct pipeline *p, void *arg), void *arg)
{
	struct pipeline *pred = p->pred;
	p->done_cb = done;
	p->done_arg = arg;
	if (pred == NULL && replay_spool(p) < 0)
		return 73;
	if (pred == NULL && journal_loop_on())
		replay_journal(p);
	for (size_t i = 0; i < p->n_stages; i++)
		stage_start(p->stages[i]);
	/* Sinks of its own start once the old ones are closed: two writers on one file
	 * or pipe could interleave their records. */
	if (pred != NULL && pred->lent_sinks)
		sinks_move(p->sinks, &p->scope, p->queues[p->n_stages]);
	else if (pred == NULL)
		sinks_start(p->sinks);
	p->started_at = now_usec();
	p->wall_minus_mono = (int64_t)(wall_time() * 1e6) - (int64_t)p->started_at;
	step(p, LC_START);
	p->live_sources = count_live_sources(p);
	if (p->conf->deadline > 0)
		set_timer(p->deadline_timer, p->conf->deadline);
	log_info("pipeline '%s' running: %zu source(s), %zu stage(s), %zu sink(s)", p->conf->name,
		 p->n_sources, p->n_stages, sinks_count(p->sinks));
	for (size_t i = 0; i < p->n_sources; i++)
		if (!source_started(p->sources[i]))
			source_start(p->sources[i]);
	tick_start(p->tick);
	sdnotify("READY=1\nSTATUS=running");
	if (pred != NULL)
		retire_begin(pred);
	return 0;
}

int pipeline_finish(struct pipeline *p)
{
	/* Syncs in flight finish before their sinks close. */
	bio_shutdown();

	/* Sinks finish whole records; a reader that is gone costs at most kill_after. */
	p->sink_lost = sinks_close(p->sinks, p->conf->shutdown.kill_after);
	if (p->dead_letter != NULL)
		sink_close(p->dead_letter, p->conf->shutdown.kill_after);
	if (p->joblog != NULL)
		sink_close(p->joblog, p->conf->shutdown.kill_after);
	child_kill_all(SIGKILL);
	child_reap_blocking(1000000);

	if (p->reason == STOP_FAILURE || p->reason == STOP_DEADLINE)
		return 2;
	if ((lifecycle_cancelled(p->state) && (p->unf.spooled > 0 || p->lost > 0 || p->kept > 0)) ||
	    cut_short(p))
		return 75;
	return trouble(p) ? 1 : 0;
}

/* ---- views and control ---- */

const char *pipeline_state_name(const struct pipeline *p)
{
	return lifecycle_public_name(p->state);
}

bool pipeline_stop_requested(const struct pipeline *p)
{
	return lifecycle_stop_requested(p->state);
}

bool pipeline_ready(const struct pipeline *p)
{
	return p->state == LC_RUNNING;
}

bool pipeline_previous_draining(const struct pipeline *p)
{
	return p->pred != NULL;
}

uint64_t pipeline_previous_items(const struct pipeline *p)
{
	uint64_t n = 0;
	for (const struct pipeline *q = p->pred; q != NULL; q = q->pred) {
		for (size_t i = 0; i < q->n_stages; i++) {
			struct stage_counts c;
			stage_counts(q->stages[i], &c);
			n += c.in_flight + c.queued;
		}
		n += queue_len(q->queues[q->n_stages]) + (q->fwd_pending != NULL);
	}
	return n;
}

double pipeline_uptime(const struct pipeline *p)
{
	return p->started_at ? (double)(now_usec() - p->started_at) / 1e6 : 0;
}

size_t pipeline_n_sources(const struct pipeline *p)
{
	return p->n_sources;
}

struct source *pipeline_source(const struct pipeline *p, size_t i)
{
	return p->sources[i];
}

size_t pipeline_n_stages(const struct pipeline *p)
{
	return p->n_stages;
}

struct stage *pipeline_stage(const struct pipeline *p, size_t i)
{
	return p->stages[i];
}

struct queue *pipeline_queue(const struct pipeline *p, size_t i)
{
	return p->queues[i];
}

struct sinks *pipeline_sinks(const struct pipeline *p)
{
	return p->sinks;
}

uint64_t pipeline_items_done(const struct pipeline *p)
{
	return p->items_done;
}

uint64_t pipeline_dead_lettered(const struct pipeline *p)
{
	return p->dead_lettered;
}

void pipeline_totals(const struct pipeline *p, struct pipeline_totals *t)
{
	*t = (struct pipeline_totals){
	    .replayed = p->replayed,
	    .skipped_failed = p->skipped_failed,
	    .spooled = p->unf.spooled,
	    .lost = p->lost + p->sink_lost,
	    .kept = p->kept,
	    .dead_lettered = p->dead_lettered,
	    .has_dead_letter = p->dead_letter != NULL,
	    .cancelled = lifecycle_cancelled(p->state),
	    .cut_short = cut_short(p),
	    .elapsed = (double)(now_usec() - p->started_at) / 1e6,
	    .report = p->report,
	};
}

int pipeline_pause(struct pipeline *p, const char *name, bool pause, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->n_sources; i++) {
		if (strcmp(source_name(p->sources[i]), name) == 0) {
			source_hold(p->sources[i], pause);
			log_info("source '%s' %s by the operator", name,
				 pause ? "paused" : "resumed");
			return 0;
		}
	}
	for (size_t i = 0; i < p->n_stages; i++) {
		if (strcmp(stage_name(p->stages[i]), name) == 0) {
			stage_pause(p->stages[i], pause);
			log_info("stage '%s' %s by the operator", name,
				 pause ? "paused" : "resumed");
			return 0;
		}
	}
	snprintf(err, errlen, "no source or stage named '%s'", name);
	return -1;
}

int pipeline_scale(struct pipeline *p, const char *stage, unsigned workers, char *err,
		   size_t errlen)
{
	if (workers < 1 || workers > WORKERS_MAX) {
		snprintf(err, errlen, "workers must be between 1 and %u, got %u", WORKERS_MAX,
			 workers);
		return -1;
	}
	for (size_t i = 0; i < p->n_stages; i++) {
		if (strcmp(stage_name(p->stages[i]), stage) == 0) {
			stage_scale(p->stages[i], workers);
			return 0;
		}
	}
	snprintf(err, errlen, "no stage named '%s'", stage);
	return -1;
}

bool pipeline_finished(const struct pipeline *p)
{
	return lifecycle_over(p->state) && p->succ == NULL;
}

bool pipeline_settled(const struct pipeline *p)
{
	if (!pipeline_finished(p) || !sinks_settled(p->sinks) ||
	    (!p->lent_dead_letter && !sink_settled(p->dead_letter)) ||
	    (!p->lent_joblog && !sink_settled(p->joblog)))
		return false;
	for (size_t i = 0; i < p->n_sources; i++)
		if (!source_settled(p->sources[i]))
			return false;
	return true;
}

bool pipeline_uses_conf(const struct pipeline *p, const struct conf *conf)
{
	if (p->conf == conf || (p->sinks != NULL && p->sinks_origin == conf))
		return true;
	for (size_t i = 0; i < p->n_sources; i++)
		if (p->source_origin[i] == conf)
			return true;
	return false;
}

void pipeline_reopen(struct pipeline *p)
{
	sinks_reopen(p->sinks);
	if (p->dead_letter != NULL)
		sink_reopen(p->dead_letter);
}

/* ---- the scope its sources, stages and sinks see ---- */

static void op_stage_quiet(struct scope *sc)
{
	finish_if_quiet(of(sc));
}

static void op_cancel(struct scope *sc, enum stop_reason why, const char *detail)
{
	cancel(of(sc), why, detail);
}

static void op_unfinished(struct scope *sc, const char *stage, struct item *it)
{
	keep_unfinished(of(sc), stage, it);
}

static void op_item_done(struct scope *sc, const char *stage, const struct item *it,
			 uint64_t started_at, const struct failure *f)
{
	item_done(of(sc), stage, it, started_at, f);
}

static const struct scope_ops pipeline_ops = {
    .item_failed = op_item_failed,
    .item_done = op_item_done,
    .already_done = op_already_done,
    .unfinished = op_unfinished,
    .source_ended = op_source_ended,
    .stage_finished = op_stage_finished,
    .stage_quiet = op_stage_quiet,
    .sinks_finished = op_sinks_finished,
    .cancel = op_cancel,
    .sink_broken = op_sink_broken,
    .cancelling = op_cancelling,
    .wait_memory = op_wait_memory,
    .cancel_wait_memory = op_cancel_wait_memory,
    .next_seq = op_next_seq,
    .source_name = op_source_name,
};
