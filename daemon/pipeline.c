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
 * the stage they were waiting for. PATH.replaying is removed when the last of
 * those items (or what they turned into) is gone, or superseded by a new spool.
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
 */
#include "pipeline.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "child.h"
#include "joblog.h"
#include "log.h"
#include "sdnotify.h"
#include "sink.h"
#include "source.h"
#include "spool.h"
#include "stage.h"
#include "status.h"
#include "track.h"
#include "units.h"
#include "util.h"

#define SINKS_STAGE	  "@sinks"
#define FAILURE_LOG_BURST 10

enum state { ST_STARTING = 0, ST_RUNNING, ST_DRAINING, ST_CANCELLING, ST_STOPPED };

struct unfinished {
	char *stage;
	struct item *it;
};

struct pipeline {
	struct event_base *base;
	struct conf *conf;
	enum state state;
	enum stop_reason reason;
	bool stop_requested;
	uint64_t started_at;

	struct source **sources;
	size_t n_sources, live_sources;
	struct queue **queues;
	struct stage **stages;
	size_t n_stages;
	struct sinks *sinks;
	struct sink *dead_letter;
	uint64_t dead_lettered;
	struct sink *joblog;
	struct done_set *done;	 /* --resume */
	int64_t wall_minus_mono; /* usec, to print monotonic start times as wall clock */
	struct report *report;

	struct event *grace_timer, *deadline_timer, *cancel_timer, *finish_ev, *memory_ev, *tick;
	uint64_t ticks, done_at_last_tick;
	char last_status[256];
	TAILQ_HEAD(, queue_waiter) memory_waiters;

	struct unfinished *unf;
	size_t n_unf, cap_unf;
	uint64_t spooled, lost, replayed, sink_lost;
	uint64_t skipped_failed; /* --resume: items the joblog lists as failed, skipped */
	uint64_t kept; /* unfinished items whose source keeps them (dir: the file stays) */
	char *replay_path;
	bool spool_failed, sink_failed;
	bool spooling; /* the spool is being made durable on the bio pool */

	uint64_t failures_logged, failures_unlogged, last_failure_log;
	uint64_t items_done;

	/* Reload (see the top of this file). */
	TAILQ_ENTRY(pipeline) entry;
	struct pipeline *pred, *succ; /* draining behind this one / that replaced this one */
	bool lent_sinks, lent_dead_letter, lent_joblog, lent_report;
	bool inherited_trouble; /* a retired predecessor had failures */
	bool backstop_fired;	/* cancelled work that never came back was given up on */
	bool closing_sinks;	/* cancelled while retiring: its own sinks write what they hold */
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

struct event_base *pipeline_base(struct pipeline *p)
{
	return p->base;
}

const struct conf *pipeline_conf(const struct pipeline *p)
{
	return p->conf;
}

uint64_t pipeline_next_seq(struct pipeline *p)
{
	(void)p;
	return next_seq++;
}

const char *pipeline_source_name(const struct pipeline *p, uint32_t index)
{
	(void)p;
	return index < n_names ? source_names[index] : "?";
}

/* A fresh id for a source: a replaced source and its successor never share one. */
static uint32_t add_name(const char *name)
{
	source_names = xrealloc(source_names, (n_names + 1) * sizeof(char *));
	source_names[n_names] = xstrdup(name);
	return (uint32_t)n_names++;
}

/* The id of a name seen in a spool: any source of that name will do. */
static uint32_t intern_name(const char *name)
{
	for (size_t i = 0; i < n_names; i++)
		if (strcmp(source_names[i], name) == 0)
			return (uint32_t)i;
	return add_name(name);
}

bool pipeline_cancelling(const struct pipeline *p)
{
	return p->state == ST_CANCELLING;
}

/* ---- memory_limit ---- */

bool pipeline_memory_full(const struct pipeline *p)
{
	return item_stats.live_bytes >= p->conf->memory_limit;
}

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

void pipeline_wait_memory(struct pipeline *p, struct queue_waiter *w, queue_cb cb, void *arg)
{
	w->cb = cb;
	w->arg = arg;
	if (w->waiting)
		return;
	w->waiting = true;
	TAILQ_INSERT_TAIL(&p->memory_waiters, w, entry);
	if (!pipeline_memory_full(p)) {
		event_active(p->memory_ev, 0, 0);
		return;
	}
	item_stats.low_mark = p->conf->memory_limit - p->conf->memory_limit / 4;
	item_stats.below_cb = memory_below_cb;
}

void pipeline_cancel_wait_memory(struct pipeline *p, struct queue_waiter *w)
{
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
	bool fresh = stat(path, &sb) != 0 || sb.st_size == 0;
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
	} else if (!fresh && !reloaded) {
		/* A new run without --resume starts a new log, as GNU parallel does. */
		if (truncate(path, 0) < 0) {
			snprintf(err, errlen, "cannot truncate joblog '%s': %s", path,
				 strerror(errno));
			return -1;
		}
		fresh = true;
	}
	p->joblog = sink_open(p, "joblog", SINK_FILE, path, FSYNC_NEVER, err, errlen);
	if (p->joblog == NULL)
		return -1;
	if (fresh)
		sink_append(p->joblog, joblog_header, strlen(joblog_header));
	track_set_hook(joblog_done, NULL);
	return 0;
}

static bool pipeline_healthy_cb(void *arg);
static void grace_cb(evutil_socket_t fd, short what, void *arg);
static void tick_cb(evutil_socket_t fd, short what, void *arg);
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
		if (old->type == cs->type && strcmp(listen_address(old), addr) == 0)
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
		source_move(moved[i], p, &p->conf->sources[i], p->queues[0]);
		/* Out of from's table: from no longer runs, stops or frees it. */
		for (size_t j = 0; j < from->n_sources; j++)
			if (from->sources[j] == moved[i]) {
				memmove(&from->sources[j], &from->sources[j + 1],
					(from->n_sources - j - 1) * sizeof(*from->sources));
				from->n_sources--;
				break;
			}
		if (kl < sizeof(kept))
			kl += (size_t)snprintf(kept + kl, sizeof(kept) - kl, "%s%s", kl ? ", " : "",
					       source_name(moved[i]));
	}
	if (p->sinks == NULL) {
		p->sinks = from->sinks;
		from->sinks = NULL;
		from->lent_sinks = true;
	}
	if (p->dead_letter == NULL && same_dead_letter(from->conf, p->conf)) {
		p->dead_letter = from->dead_letter;
		sink_move(p->dead_letter, p);
		from->lent_dead_letter = true;
	}
	if (p->conf->joblog != NULL && p->joblog == NULL) {
		p->joblog = from->joblog;
		sink_move(p->joblog, p);
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

struct pipeline *pipeline_new(struct event_base *base, struct conf *conf, struct pipeline *from,
			      int *exit_code)
{
	struct pipeline *p = xcalloc(1, sizeof(*p));
	struct source **moved = NULL, **listeners = NULL;
	char err[1024];

	TAILQ_INSERT_TAIL(&pipelines, p, entry);
	p->base = base;
	p->conf = conf;
	p->report = report_new();
	TAILQ_INIT(&p->memory_waiters);
	p->memory_ev = event_new(base, -1, 0, memory_ev_cb, p);
	p->finish_ev = event_new(base, -1, 0, finish_cb, p);
	p->grace_timer = evtimer_new(base, grace_cb, p);
	p->deadline_timer = evtimer_new(base, deadline_cb, p);
	p->cancel_timer = evtimer_new(base, cancel_backstop_cb, p);
	p->tick = event_new(base, -1, EV_PERSIST, tick_cb, p);

	p->n_stages = conf->n_stages;
	p->queues = xcalloc(p->n_stages + 1, sizeof(*p->queues));
	for (size_t i = 0; i < p->n_stages; i++)
		p->queues[i] = queue_new(base, conf->stages[i].name, &conf->stages[i].queue);
	p->queues[p->n_stages] = queue_new(base, "sinks", &conf->queue);

	p->stages = xcalloc(p->n_stages, sizeof(*p->stages));
	for (size_t i = 0; i < p->n_stages; i++) {
		p->stages[i] = stage_new(p, &conf->stages[i], p->queues[i], p->queues[i + 1], err,
					 sizeof(err));
		if (p->stages[i] == NULL) {
			log_error("%s", err);
			*exit_code = 78;
			goto fail;
		}
	}

	/* Unchanged sinks are shared with from (take_over), not opened twice. */
	if (from == NULL ||
	    !same_printed(conf_printed_sinks(from->conf), conf_printed_sinks(conf))) {
		p->sinks = sinks_new(p, conf, p->queues[p->n_stages], err, sizeof(err));
		if (p->sinks == NULL) {
			log_error("%s", err);
			*exit_code = 73;
			goto fail;
		}
	}
	if (conf->dead_letter.enabled && (from == NULL || !same_dead_letter(from->conf, conf))) {
		p->dead_letter = sink_open(p, "dead_letter", conf->dead_letter.type,
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
	moved = xcalloc(conf->n_sources, sizeof(*moved));
	listeners = xcalloc(conf->n_sources, sizeof(*listeners));
	for (size_t i = 0; i < conf->n_sources; i++, p->n_sources++) {
		const struct conf_source *cs = &conf->sources[i];
		if (from != NULL && (moved[i] = unchanged_source(from, conf, cs)) != NULL)
			continue;
		p->sources[i] = source_new(p, cs, add_name(cs->name), p->queues[0]);
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
	for (size_t i = 0; i < p->n_stages; i++)
		stage_free(p->stages[i]);
	free(p->stages);
	sinks_free(p->sinks);
	for (size_t i = 0; p->queues != NULL && i <= p->n_stages; i++)
		queue_free(p->queues[i]);
	free(p->queues);
	for (size_t i = 0; i < p->n_unf; i++) {
		free(p->unf[i].stage);
		item_free(p->unf[i].it);
	}
	free(p->unf);
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
	event_free(p->tick);
	if (!p->lent_report)
		report_free(p->report);
	free(p->replay_path);
	if (replay_owner == p)
		replay_owner = NULL;
	TAILQ_REMOVE(&pipelines, p, entry);
	if (TAILQ_EMPTY(&pipelines)) {
		/* The last one: nothing can reach the hooks or the source ids any more. */
		item_stats.below_cb = NULL;
		item_stats.replay_done_cb = NULL;
		for (size_t i = 0; i < n_names; i++)
			free(source_names[i]);
		free(source_names);
		source_names = NULL;
		n_names = 0;
	}
	free(p);
}

/* ---- spool replay ---- */

struct replay_ctx {
	struct pipeline *p;
	struct spool_writer *merged;
	struct item *head, **tailp;
	char **stage_of;
	size_t n, cap;
};

static void replay_record_cb(void *arg, const struct spool_record *r)
{
	struct replay_ctx *ctx = arg;
	struct item *it = item_new(r->data, r->len, r->seq, intern_name(r->source));
	it->attempts = r->attempts;
	it->index = r->index;
	item_mark_replayed(it);
	track_item_hooked(it);
	/* --resume: a record coming back from the spool is not read from its source again. */
	if (ctx->p->done != NULL)
		done_set_add(ctx->p->done, r->source, r->index, false);
	if (r->seq >= next_seq)
		next_seq = r->seq + 1;
	*ctx->tailp = it;
	ctx->tailp = &it->next;
	if (ctx->n == ctx->cap) {
		ctx->cap = ctx->cap ? ctx->cap * 2 : 64;
		ctx->stage_of = xrealloc(ctx->stage_of, ctx->cap * sizeof(char *));
	}
	ctx->stage_of[ctx->n++] = xstrdup(r->stage);
	if (ctx->merged != NULL)
		spool_add(ctx->merged, r);
}

static void replay_done(void)
{
	struct pipeline *p = replay_owner;
	if (p == NULL || p->replay_path == NULL || p->state == ST_CANCELLING || p->spool_failed)
		return;
	if (unlink(p->replay_path) == 0)
		log_info("every item replayed from the spool is done; removed '%s'",
			 p->replay_path);
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
	char err[1024];
	struct replay_ctx ctx = {.p = p};
	long n_old, n_new;

	if (spool == NULL)
		return 0;
	p->replay_path = xasprintf("%s.replaying", spool);
	ctx.tailp = &ctx.head;
	bool fresh = access(spool, F_OK) == 0;
	if (fresh) {
		char *tmp = xasprintf("%s.merge", spool);
		ctx.merged = spool_begin(tmp, err, sizeof(err));
		free(tmp);
		if (ctx.merged == NULL) {
			log_error("%s", err);
			return -1;
		}
	}
	n_old = spool_read(p->replay_path, p->conf->max_item_bytes, replay_record_cb, &ctx, err,
			   sizeof(err));
	if (n_old < 0)
		log_error("%s", err);
	n_new = fresh ? spool_read(spool, p->conf->max_item_bytes, replay_record_cb, &ctx, err,
				   sizeof(err))
		      : 0;
	if (n_new < 0)
		log_error("%s", err);
	if (ctx.merged != NULL) {
		/* One file holds everything being replayed before the spool itself goes. */
		char *tmp = xasprintf("%s.merge", spool);
		if (spool_commit(ctx.merged, err, sizeof(err)) < 0 ||
		    rename(tmp, p->replay_path) < 0) {
			log_error("cannot set the spool aside for replay: %s", err);
			free(tmp);
			struct item *it = ctx.head;
			while (it != NULL) {
				struct item *next = it->next;
				item_free(it);
				it = next;
			}
			for (size_t i = 0; i < ctx.n; i++)
				free(ctx.stage_of[i]);
			free(ctx.stage_of);
			return -1;
		}
		free(tmp);
		if (n_new >= 0)
			unlink(spool);
	}
	size_t i = 0;
	for (struct item *it = ctx.head, *next; it != NULL; it = next, i++) {
		next = it->next;
		it->next = NULL;
		size_t q = queue_index_for(p, ctx.stage_of[i]);
		/* It had passed every stage: its joblog line is due once the sinks have it. */
		if (q == p->n_stages)
			pipeline_item_done(p, SINKS_STAGE, it, 0, NULL);
		queue_push_force(p->queues[q], it);
		free(ctx.stage_of[i]);
		p->replayed++;
	}
	free(ctx.stage_of);
	if (p->done != NULL)
		done_set_sort(p->done);
	item_stats.replay_done_cb = replay_done;
	replay_owner = p;
	if (p->replayed > 0)
		log_info("replaying %" PRIu64 " unfinished item(s) from the spool", p->replayed);
	else if (access(p->replay_path, F_OK) == 0)
		unlink(p->replay_path);
	return 0;
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
	if (--p->live_sources > 0 || p->state == ST_CANCELLING)
		return;
	if (p->state == ST_RUNNING)
		p->state = ST_DRAINING;
	push_pills(p, 0);
}

void pipeline_source_ended(struct pipeline *p, struct source *s)
{
	log_debug("source '%s' ended after %" PRIu64 " item(s)", source_name(s), source_items(s));
	one_source_less(p);
}

static void retire_done(struct pipeline *p);
static void print_counts(struct pipeline *p, void (*out)(const char *fmt, ...));
static void info_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void pipeline_stage_finished(struct pipeline *p, struct stage *st)
{
	for (size_t i = 0; i < p->n_stages; i++)
		if (p->stages[i] == st)
			push_pills(p, i + 1);
}

static void stopped(struct pipeline *p)
{
	p->state = ST_STOPPED;
	if (p->succ != NULL)
		retire_done(p);
	else if (p->done_cb != NULL)
		p->done_cb(p, p->done_arg);
}

void pipeline_sinks_finished(struct pipeline *p)
{
	if (p->state != ST_CANCELLING) {
		stopped(p);
	} else if (p->closing_sinks) {
		p->closing_sinks = false;
		retire_done(p);
	}
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
	if (p->state == ST_CANCELLING || p->state == ST_STOPPED)
		return;
	if (p->stop_requested) {
		pipeline_cancel(p, STOP_SIGNAL, "a second stop signal");
		return;
	}
	p->stop_requested = true;
	if (p->reason == STOP_NONE)
		p->reason = STOP_SIGNAL;
	sdnotify("STOPPING=1\nSTATUS=draining");
	log_info("stopping: sources stop reading; draining what was read (grace %s; a second "
		 "signal cancels now)",
		 units_format_duration(p->conf->shutdown.grace, d, sizeof(d)));
	set_timer(p->grace_timer, p->conf->shutdown.grace);
	stop_sources(p);
}

void pipeline_cancel(struct pipeline *p, enum stop_reason why, const char *detail)
{
	if (p->state == ST_CANCELLING || p->state == ST_STOPPED)
		return;
	/* The first cause decides the exit code; a failure outranks a signal. */
	if (p->reason == STOP_NONE || (p->reason == STOP_SIGNAL && why != STOP_SIGNAL))
		p->reason = why;
	p->state = ST_CANCELLING;
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
		pipeline_cancel(p->pred, why, "the pipeline that replaced it is cancelled");
	if (p->succ != NULL && why != STOP_SIGNAL)
		pipeline_cancel(p->succ, why, detail);
	evtimer_del(p->grace_timer);
	evtimer_del(p->deadline_timer);
	/* Children get kill_after to go after SIGTERM, then SIGKILL; this is the backstop. */
	set_timer(p->cancel_timer, p->conf->shutdown.kill_after * 2 + 1000000);
	stop_sources(p);
	for (size_t i = 0; i < p->n_stages; i++)
		stage_cancel(p->stages[i]);
	pipeline_stage_quiet(p);
}

void pipeline_stage_quiet(struct pipeline *p)
{
	for (size_t i = 0; i < p->n_stages; i++)
		if (!stage_quiet(p->stages[i]))
			return;
	event_active(p->finish_ev, 0, 0);
}

void pipeline_unfinished(struct pipeline *p, const char *stage, struct item *it)
{
	/* A spool directory keeps its own files until they are done: nothing to spool. */
	if (p->succ == NULL && track_abandon(it)) {
		p->kept++;
		item_free(it);
		return;
	}
	if (p->n_unf == p->cap_unf) {
		p->cap_unf = p->cap_unf ? p->cap_unf * 2 : 64;
		p->unf = xrealloc(p->unf, p->cap_unf * sizeof(*p->unf));
	}
	p->unf[p->n_unf].stage = xstrdup(stage);
	p->unf[p->n_unf].it = it;
	p->n_unf++;
}

_Static_assert(SPOOL_NAME_MAX >= CONF_NAME_MAX, "a spool record must hold any name whole");

static void spool_lost(struct pipeline *p)
{
	p->lost = p->n_unf;
	log_error("%zu unfinished item(s) were lost%s", p->n_unf,
		  p->conf->shutdown.spool == NULL
		      ? ": set shutdown.spool (or run under systemd with StateDirectory=) to "
			"keep them for the next start"
		      : "");
}

/* The unfinished items are spooled or counted lost: the cancel is over. */
static void unfinished_done(struct pipeline *p)
{
	for (size_t i = 0; i < p->n_unf; i++) {
		free(p->unf[i].stage);
		item_free(p->unf[i].it);
	}
	p->n_unf = 0;
	if (p->done_cb != NULL)
		p->done_cb(p, p->done_arg);
}

static void spool_committed_cb(void *arg, int rc, const char *err)
{
	struct pipeline *p = arg;
	p->spooling = false;
	if (rc == 0) {
		log_info("spooled %" PRIu64
			 " unfinished item(s) to '%s'; they run first at the next start",
			 p->spooled, p->conf->shutdown.spool);
		if (p->replay_path != NULL)
			unlink(p->replay_path);
	} else {
		p->spooled = 0;
		p->spool_failed = true;
		log_error("%s", err);
		spool_lost(p);
	}
	unfinished_done(p);
}

/*
 * Writes the spool; true when its fsyncs went to the bio pool, which then calls
 * unfinished_done() (no fsync on the loop, even at a stop: signals and the control
 * socket stay served).
 */
static bool write_spool(struct pipeline *p)
{
	const char *path = p->conf->shutdown.spool;
	char err[1024];
	uint64_t n = p->n_unf;

	if (n == 0)
		return false;
	if (path != NULL) {
		struct spool_writer *w = spool_begin(path, err, sizeof(err));
		for (size_t i = 0; w != NULL && i < p->n_unf; i++) {
			struct item *it = p->unf[i].it;
			struct spool_record r = {.seq = it->seq,
						 .index = it->index,
						 .attempts = it->attempts,
						 .data = it->data,
						 .len = it->len};
			snprintf(r.stage, sizeof(r.stage), "%s", p->unf[i].stage);
			snprintf(r.source, sizeof(r.source), "%s",
				 pipeline_source_name(p, it->source));
			spool_add(w, &r);
		}
		if (w != NULL) {
			p->spooled = n; /* what the spool holds, whatever comes back meanwhile */
			p->spooling = true;
			spool_commit_async(w, spool_committed_cb, p);
			return true;
		}
		p->spool_failed = true;
		log_error("%s", err);
	}
	spool_lost(p);
	return false;
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
	for (size_t i = 0; i < p->n_unf; i++) {
		ssize_t q = stage_queue(succ, p->unf[i].stage);
		queue_push_force(succ->queues[q >= 0 ? q : 0], p->unf[i].it);
		free(p->unf[i].stage);
	}
	if (p->n_unf > 0)
		log_info("reload: %zu item(s) the previous pipeline had not finished went to the "
			 "new one",
			 p->n_unf);
	p->n_unf = 0;
}

static void finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;
	if (p->state != ST_CANCELLING || p->spooling)
		return;
	/* Its predecessor first hands over what it has not finished (retire_done()). */
	if (p->pred != NULL)
		return;
	evtimer_del(p->cancel_timer);
	/* Finished results waiting for the sinks go out rather than to the spool, unless
	 * a sink is broken (then they could only be lost); a retiring pipeline hands
	 * them to its successor instead. */
	if (!p->sink_failed && p->succ == NULL)
		sinks_drain_queue(p->sinks);
	if (p->fwd_pending != NULL) {
		queue_cancel_wait(successor_sinks_queue(p), &p->fwd_wait);
		pipeline_unfinished(p, SINKS_STAGE, p->fwd_pending);
		p->fwd_pending = NULL;
	}
	for (size_t i = 0; i <= p->n_stages; i++) {
		const char *name = i < p->n_stages ? stage_name(p->stages[i]) : SINKS_STAGE;
		uint64_t n = 0;
		for (struct item *it = queue_take_all(p->queues[i]), *next; it != NULL; it = next) {
			next = it->next;
			it->next = NULL;
			pipeline_unfinished(p, name, it);
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
		if (p->sinks == NULL) {
			retire_done(p);
			return;
		}
		/* Records its own sinks hold are theirs to write: for kill_after at most. */
		p->closing_sinks = true;
		set_timer(p->cancel_timer, p->conf->shutdown.kill_after);
		sinks_finish(p->sinks);
		return;
	}
	if (!write_spool(p))
		unfinished_done(p);
}

static void grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;
	char d[32], msg[96];
	snprintf(msg, sizeof(msg), "the grace period (%s) passed before the drain finished",
		 units_format_duration(p->conf->shutdown.grace, d, sizeof(d)));
	pipeline_cancel(p, STOP_SIGNAL, msg);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;
	char d[32], msg[96];
	snprintf(msg, sizeof(msg), "the deadline (%s) passed",
		 units_format_duration(p->conf->deadline, d, sizeof(d)));
	pipeline_cancel(p, STOP_DEADLINE, msg);
}

static void cancel_backstop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;
	if (p->closing_sinks) {
		/* A retiring pipeline's own sinks had kill_after to write what they held. */
		p->closing_sinks = false;
		retire_done(p);
		return;
	}
	log_error("cancelled work did not come back within twice kill_after; giving up on it");
	p->backstop_fired = true;
	for (size_t i = 0; i < p->n_stages; i++) {
		struct stage_counts c;
		stage_counts(p->stages[i], &c);
		p->lost += c.in_flight;
	}
	event_active(p->finish_ev, 0, 0);
}

/* ---- failures ---- */

static void dead_letter_write(struct pipeline *p, const char *stage, const struct item *it,
			      const struct failure *f)
{
	char when[64], sig[16], status[16];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	/* JSON null where there is no exit status or signal keeps each field's type. */
	snprintf(sig, sizeof(sig), f->signal > 0 ? "%d" : "null", f->signal);
	snprintf(status, sizeof(status), f->exit_status >= 0 ? "%d" : "null", f->exit_status);
	const char *source = pipeline_source_name(p, it->source);
	char *item = json_escape_bytes(it->data, it->len);
	char *msg = json_escape_bytes(f->message, strlen(f->message));
	char *err = json_escape_bytes(f->stderr_tail, strlen(f->stderr_tail));
	char *src = json_escape_bytes(source, strlen(source));
	char *line =
	    xasprintf("{\"time\":\"%s\",\"stage\":\"%s\",\"source\":\"%s\",\"seq\":%" PRIu64
		      ",\"attempts\":%" PRIu32 ",\"error\":\"%s\",\"exit_status\":%s,"
		      "\"signal\":%s,\"message\":\"%s\",\"stderr\":\"%s\",\"item\":\"%s\"}",
		      when, stage, src, it->seq, it->attempts, failure_kind_name(f->kind), status,
		      sig, msg, err, item);
	sink_append(p->dead_letter, line, strlen(line));
	sink_flush(p->dead_letter);
	p->dead_lettered++;
	free(line);
	free(item);
	free(msg);
	free(err);
	free(src);
}

static void log_failure(struct pipeline *p, const char *stage, const struct item *it,
			const struct failure *f)
{
	uint64_t now = now_usec();
	/* A burst in full, then at most one line a second with a count of the rest. */
	if (p->failures_logged >= FAILURE_LOG_BURST && now - p->last_failure_log < 1000000) {
		p->failures_unlogged++;
		return;
	}
	char more[64] = "";
	if (p->failures_unlogged > 0)
		snprintf(more, sizeof(more), " (%" PRIu64 " more failures not logged)",
			 p->failures_unlogged);
	p->failures_unlogged = 0;
	p->failures_logged++;
	p->last_failure_log = now;
	char *tail = json_escape_bytes(f->stderr_tail, strlen(f->stderr_tail));
	bool at_source = strncmp(stage, "source:", 7) == 0,
	     at_sink = strncmp(stage, "sink:", 5) == 0;
	const char *where = at_source ? stage + 7 : at_sink ? stage + 5 : stage;
	log_item(LOG_WARN, where, pipeline_source_name(p, it->source), it->seq,
		 "%s '%s': item %" PRIu64 " failed (%s): %s%s%s%s",
		 at_source ? "source"
		 : at_sink ? "sink"
			   : "stage",
		 where, it->seq, failure_kind_name(f->kind), f->message,
		 tail[0] ? "; stderr: " : "", tail, more);
	free(tail);
}

void pipeline_item_failed(struct pipeline *p, const char *stage, enum on_failure policy,
			  const struct item *it, const struct failure *f)
{
	report_add(p->report, stage, pipeline_source_name(p, it->source), it, f);
	log_failure(p, stage, it, f);
	track_failed(it);
	if (policy == ON_FAILURE_DEAD_LETTER && p->dead_letter != NULL)
		dead_letter_write(p, stage, it, f);
	if (policy == ON_FAILURE_CANCEL) {
		char msg[400];
		snprintf(msg, sizeof(msg),
			 "stage '%s' has on_failure: cancel and item %" PRIu64 " failed: %.250s",
			 stage, it->seq, f->message);
		pipeline_cancel(p, STOP_FAILURE, msg);
	}
}

void pipeline_item_done(struct pipeline *p, const char *stage, const struct item *it,
			uint64_t started_at, const struct failure *f)
{
	char line[512], status[16] = "-", sig[16] = "-", outcome[64] = "ok";
	p->items_done++;
	if (p->joblog == NULL)
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
			 it->seq, pipeline_source_name(p, it->source), it->index, stage,
			 (double)((int64_t)started_at + p->wall_minus_mono) / 1e6,
			 (double)(now - started_at) / 1e6, it->attempts, outcome, status, sig);
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	line[n] = '\0';
	/* Written once every part of the record is done (joblog_done), or now if untracked. */
	if (!track_note(it, line, f != NULL)) {
		sink_append(p->joblog, line, (size_t)n);
		sink_flush(p->joblog);
	}
}

bool pipeline_already_done(struct pipeline *p, uint32_t source, uint64_t index)
{
	switch (done_set_lookup(p->done, pipeline_source_name(p, source), index)) {
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

void pipeline_sink_broken(struct pipeline *p, const char *why)
{
	log_error("%s", why);
	p->sink_failed = true;
	pipeline_cancel(p, STOP_FAILURE, why);
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
	if (p->fwd_pending == NULL || (p->state != ST_RUNNING && p->state != ST_DRAINING))
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
	while (p->fwd_pending == NULL && (p->state == ST_RUNNING || p->state == ST_DRAINING) &&
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
	p->retired_at = now_usec();
	p->stop_requested = true;
	evtimer_del(p->deadline_timer);
	event_del(p->tick);
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
	if (p->live_sources == 0 && p->state == ST_RUNNING) {
		p->live_sources = 1;
		one_source_less(p);
	}
	stop_sources(p);
}

/* A retiring pipeline is done: its successor is on its own. Freed with the daemon. */
static void retire_done(struct pipeline *p)
{
	struct pipeline *succ = p->succ;
	evtimer_del(p->grace_timer);
	evtimer_del(p->cancel_timer);
	p->state = ST_STOPPED;
	/* Drained (or given kill_after), they hold nothing: closing them does not wait. */
	if (p->sinks != NULL)
		p->sink_lost = sinks_close(p->sinks, 0);
	if (p->dead_letter != NULL && !p->lent_dead_letter)
		sink_close(p->dead_letter, 0);
	if (p->joblog != NULL && !p->lent_joblog)
		sink_close(p->joblog, 0);
	log_info("reload: the previous pipeline '%s' finished %.3fs after the reload; its counts:",
		 p->conf->name, (double)(now_usec() - p->retired_at) / 1e6);
	print_counts(p, info_out);
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
	if (succ->state != ST_CANCELLING)
		one_source_less(succ);
	else if (succ->backstop_fired)
		event_active(succ->finish_ev, 0, 0);
	else
		pipeline_stage_quiet(succ);
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
	for (size_t i = 0; i < p->n_stages; i++)
		stage_start(p->stages[i]);
	/* Sinks of its own start once the old ones are closed: two writers on one file
	 * or pipe could interleave their records. */
	if (pred != NULL && pred->lent_sinks)
		sinks_move(p->sinks, p, p->queues[p->n_stages]);
	else if (pred == NULL)
		sinks_start(p->sinks);
	p->started_at = now_usec();
	p->wall_minus_mono = (int64_t)(wall_time() * 1e6) - (int64_t)p->started_at;
	p->state = ST_RUNNING;
	p->live_sources = count_live_sources(p);
	if (p->conf->deadline > 0)
		set_timer(p->deadline_timer, p->conf->deadline);
	log_info("pipeline '%s' running: %zu source(s), %zu stage(s), %zu sink(s)", p->conf->name,
		 p->n_sources, p->n_stages, sinks_count(p->sinks));
	for (size_t i = 0; i < p->n_sources; i++)
		if (!source_started(p->sources[i]))
			source_start(p->sources[i]);
	struct timeval one = {1, 0};
	event_add(p->tick, &one);
	sdnotify_watch(pipeline_healthy_cb, p);
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
	if ((p->state == ST_CANCELLING && (p->spooled > 0 || p->lost > 0 || p->kept > 0)) ||
	    cut_short(p))
		return 75;
	return trouble(p) ? 1 : 0;
}

/* What a job cut short left unread, and how to finish it. */
static void print_unread(struct pipeline *p, FILE *out)
{
	for (size_t i = 0; i < p->n_sources; i++) {
		struct source *s = p->sources[i];
		uint64_t bytes, n;
		if (!source_cut_short(s))
			continue;
		if ((n = source_unread(s, &bytes)) != UINT64_MAX)
			fprintf(out, "not read: source %s: %" PRIu64 " records\n", source_name(s),
				n);
		else if (bytes > 0)
			fprintf(out,
				"not read: source %s: %" PRIu64 " bytes (too many to count the "
				"records)\n",
				source_name(s), bytes);
		else
			fprintf(out,
				"not read: source %s: the rest of its input (a pipe or a command "
				"cannot say how much)\n",
				source_name(s));
	}
	if (p->conf->joblog != NULL)
		fprintf(out,
			"incomplete: stopped before its input ended; run it again with --resume "
			"to do the rest\n");
	else
		fprintf(out,
			"incomplete: stopped before its input ended; a new run starts over (with "
			"a joblog, --resume would do only the rest)\n");
}

static void print_counts(struct pipeline *p, void (*out)(const char *fmt, ...))
{
	for (size_t i = 0; i < p->n_sources; i++)
		out("source %s: items=%" PRIu64 " rejected=%" PRIu64 " skipped=%" PRIu64 "\n",
		    source_name(p->sources[i]), source_items(p->sources[i]),
		    source_rejected(p->sources[i]), source_skipped(p->sources[i]));
	for (size_t i = 0; i < p->n_stages; i++) {
		struct stage_counts c;
		stage_counts(p->stages[i], &c);
		out("stage %s: in=%" PRIu64 " ok=%" PRIu64 " failed=%" PRIu64 " dropped=%" PRIu64
		    " in_flight=%" PRIu64 " queued=%" PRIu64 "\n",
		    stage_name(p->stages[i]), c.in, c.ok, c.failed, c.dropped, c.in_flight,
		    c.queued);
	}
	const struct queue_stats *qs = queue_stats(p->queues[p->n_stages]);
	out("sinks: in=%" PRIu64 " dropped=%" PRIu64 " queued=%" PRIu64 "\n", qs->pushed,
	    qs->dropped, queue_len(p->queues[p->n_stages]));
	for (size_t i = 0; p->sinks != NULL && i < sinks_count(p->sinks); i++) {
		struct sink *s = sinks_get(p->sinks, i);
		/* Only an http sink can fail a record (a 4xx); other lines keep their shape. */
		if (sink_type(s) == SINK_HTTP)
			out("sink %s: written=%" PRIu64 " failed=%" PRIu64 "\n", sink_name(s),
			    sink_written(s), sink_failed(s));
		else
			out("sink %s: written=%" PRIu64 "\n", sink_name(s), sink_written(s));
	}
	if (p->dead_letter != NULL)
		out("dead_letter: written=%" PRIu64 "\n", p->dead_lettered);
}

static FILE *summary_out; /* while pipeline_summary() builds the summary */

static void raw_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void raw_out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(summary_out, fmt, ap);
	va_end(ap);
}

static void info_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info_out(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_info("status: %s", buf);
}

void pipeline_summary(struct pipeline *p, int exit_code)
{
	static const char *const meaning[] = {[0] = "all items succeeded",
					      [1] = "some items failed or were dropped",
					      [2] = "cancelled"};
	const char *what = "error";
	if (exit_code <= 2)
		what = meaning[exit_code];
	else if (exit_code == 75)
		what = p->state == ST_CANCELLING ? "stopped before the drain finished"
						 : "stopped before its input ended";
	char *text = NULL;
	size_t len = 0;
	FILE *out = summary_out = open_memstream(&text, &len);
	fprintf(out, "summary: pipeline '%s' exit=%d (%s) elapsed=%.3fs\n", p->conf->name,
		exit_code, what, (double)(now_usec() - p->started_at) / 1e6);
	print_counts(p, raw_out);
	if (p->replayed > 0)
		fprintf(out, "replayed: items=%" PRIu64 "\n", p->replayed);
	if (p->skipped_failed > 0)
		fprintf(out,
			"resume: skipped=%" PRIu64 " item(s) that failed in an earlier run "
			"(the joblog says so); --resume-failed runs them again\n",
			p->skipped_failed);
	if (p->kept > 0)
		fprintf(out, "unfinished: spooled=%" PRIu64 " lost=%" PRIu64 " kept=%" PRIu64 "\n",
			p->spooled, p->lost + p->sink_lost, p->kept);
	else
		fprintf(out, "unfinished: spooled=%" PRIu64 " lost=%" PRIu64 "\n", p->spooled,
			p->lost + p->sink_lost);
	if (exit_code == 75 && cut_short(p))
		print_unread(p, out);
	report_print(p->report, out, log_is_json());
	fclose(out);
	summary_out = NULL;
	log_summary(text);
	free(text);
}

/* ---- the 1 s tick: pauses made visible, systemd kept informed ---- */

static bool pipeline_healthy_cb(void *arg)
{
	struct pipeline *p = arg;
	for (size_t i = 0; i < p->n_stages; i++)
		if (stage_wedged(p->stages[i]))
			return false;
	return true;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;
	char line[256];
	p->ticks++;
	for (size_t i = 0; i < p->n_sources; i++)
		source_check_pause(p->sources[i], 5000000);
	if (!sdnotify_enabled())
		return;
	status_line(p, line, sizeof(line));
	/* Counters every 5 s; a change of state (a pause, a drain) at once. */
	if (p->ticks % 5 == 0 || strncmp(line, p->last_status, strcspn(line, ":")) != 0 ||
	    (strstr(line, "held back") == NULL) != (strstr(p->last_status, "held back") == NULL) ||
	    (strstr(line, "cannot write") == NULL) !=
		(strstr(p->last_status, "cannot write") == NULL)) {
		sdnotify("STATUS=%s", line);
		snprintf(p->last_status, sizeof(p->last_status), "%s", line);
	}
	/* A drain that is still moving asks systemd for more time, a little at a time. */
	if ((p->stop_requested || p->state == ST_CANCELLING) &&
	    p->items_done != p->done_at_last_tick)
		sdnotify("EXTEND_TIMEOUT_USEC=%llu",
			 (unsigned long long)(5000000 + 2 * p->conf->shutdown.kill_after));
	p->done_at_last_tick = p->items_done;
}

/* ---- views and control ---- */

const char *pipeline_state_name(const struct pipeline *p)
{
	static const char *const names[] = {"starting", "running", "draining", "cancelling",
					    "stopped"};
	if (p->state == ST_RUNNING && p->stop_requested)
		return "draining";
	return names[p->state];
}

bool pipeline_stop_requested(const struct pipeline *p)
{
	return p->stop_requested || p->state == ST_CANCELLING;
}

bool pipeline_ready(const struct pipeline *p)
{
	return p->state == ST_RUNNING && !p->stop_requested;
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

uint64_t pipeline_failures(const struct pipeline *p)
{
	return report_total(p->report);
}

uint64_t pipeline_dead_lettered(const struct pipeline *p)
{
	return p->dead_lettered;
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
	if (workers < 1 || workers > 100000) {
		snprintf(err, errlen, "workers must be between 1 and 100000, got %u", workers);
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

void pipeline_status_log(struct pipeline *p)
{
	print_counts(p, info_out);
}

void pipeline_reopen(struct pipeline *p)
{
	sinks_reopen(p->sinks);
	if (p->dead_letter != NULL)
		sink_reopen(p->dead_letter);
}
