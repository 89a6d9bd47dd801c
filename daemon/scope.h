/*
 * scope.h: what a source, a stage or a sink may ask of the scope that owns it (a
 * pipeline, pipeline.c): its loop and its configuration, and a few calls upward,
 * through a table of callbacks. Components report upward through these alone;
 * cancel travels downward from the scope. A reload moves a source or the sinks
 * to another scope (source_move, sinks_move): they then report to that one.
 */
#ifndef SLUICE_SCOPE_H
#define SLUICE_SCOPE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "item.h"
#include "queue.h"
#include "report.h"

struct event_base;
struct scope;
struct source;
struct stage;

enum stop_reason {
	STOP_NONE = 0,
	STOP_SIGNAL,   /* SIGTERM/SIGINT: drain; a second one, or grace passing: cancel */
	STOP_FAILURE,  /* a stage with on_failure: cancel failed */
	STOP_DEADLINE, /* the job's deadline passed */
};

struct scope_ops {
	/*
	 * A failed item: counted in the report, then skipped, dead-lettered, or it
	 * cancels all. stage is a stage name, or "source:NAME"/"sink:NAME".
	 */
	void (*item_failed)(struct scope *sc, const char *stage, enum on_failure policy,
			    const struct item *it, const struct failure *f);
	/* An item left the pipeline at stage (f: how it failed, or NULL): the joblog line. */
	void (*item_done)(struct scope *sc, const char *stage, const struct item *it,
			  uint64_t started_at, const struct failure *f);
	/* --resume: the joblog records this record as finished (and, with --resume-failed, ok). */
	bool (*already_done)(struct scope *sc, uint32_t source, uint64_t index);
	/* An unfinished item while cancelling: spooled (or counted lost); takes ownership. */
	void (*unfinished)(struct scope *sc, const char *stage, struct item *it);

	/* Progress of the lifecycle, reported upward. */
	void (*source_ended)(struct scope *sc, struct source *s);
	void (*stage_finished)(struct scope *sc, struct stage *st);
	void (*stage_quiet)(struct scope *sc); /* a stage's cancelled work has all come back */
	void (*sinks_finished)(struct scope *sc);
	void (*cancel)(struct scope *sc, enum stop_reason why, const char *detail);
	/* A sink can never write again (its reader is gone): cancel, as a failure. */
	void (*sink_broken)(struct scope *sc, const char *why);
	bool (*cancelling)(const struct scope *sc);

	/* One-shot wakeup when live item bytes fall below 3/4 of memory_limit. */
	void (*wait_memory)(struct scope *sc, struct queue_waiter *w, queue_cb cb, void *arg);
	void (*cancel_wait_memory)(struct scope *sc, struct queue_waiter *w);

	/* Sequence numbers and source ids are shared by every scope alive. */
	uint64_t (*next_seq)(struct scope *sc);
	const char *(*source_name)(const struct scope *sc, uint32_t index);
};

struct scope {
	const struct scope_ops *ops;
	struct event_base *base;
	const struct conf *conf;
};

static inline struct event_base *scope_base(const struct scope *sc)
{
	return sc->base;
}

static inline const struct conf *scope_conf(const struct scope *sc)
{
	return sc->conf;
}

static inline bool scope_memory_full(const struct scope *sc)
{
	return item_stats.live_bytes >= sc->conf->memory_limit;
}

/* The calls, as components write them. */
static inline void scope_item_failed(struct scope *sc, const char *stage, enum on_failure policy,
				     const struct item *it, const struct failure *f)
{
	sc->ops->item_failed(sc, stage, policy, it, f);
}

static inline void scope_item_done(struct scope *sc, const char *stage, const struct item *it,
				   uint64_t started_at, const struct failure *f)
{
	sc->ops->item_done(sc, stage, it, started_at, f);
}

static inline bool scope_already_done(struct scope *sc, uint32_t source, uint64_t index)
{
	return sc->ops->already_done(sc, source, index);
}

static inline void scope_unfinished(struct scope *sc, const char *stage, struct item *it)
{
	sc->ops->unfinished(sc, stage, it);
}

static inline void scope_source_ended(struct scope *sc, struct source *s)
{
	sc->ops->source_ended(sc, s);
}

static inline void scope_stage_finished(struct scope *sc, struct stage *st)
{
	sc->ops->stage_finished(sc, st);
}

static inline void scope_stage_quiet(struct scope *sc)
{
	sc->ops->stage_quiet(sc);
}

static inline void scope_sinks_finished(struct scope *sc)
{
	sc->ops->sinks_finished(sc);
}

static inline void scope_cancel(struct scope *sc, enum stop_reason why, const char *detail)
{
	sc->ops->cancel(sc, why, detail);
}

static inline void scope_sink_broken(struct scope *sc, const char *why)
{
	sc->ops->sink_broken(sc, why);
}

static inline bool scope_cancelling(const struct scope *sc)
{
	return sc->ops->cancelling(sc);
}

static inline void scope_wait_memory(struct scope *sc, struct queue_waiter *w, queue_cb cb,
				     void *arg)
{
	sc->ops->wait_memory(sc, w, cb, arg);
}

static inline void scope_cancel_wait_memory(struct scope *sc, struct queue_waiter *w)
{
	sc->ops->cancel_wait_memory(sc, w);
}

static inline uint64_t scope_next_seq(struct scope *sc)
{
	return sc->ops->next_seq(sc);
}

static inline const char *scope_source_name(const struct scope *sc, uint32_t index)
{
	return sc->ops->source_name(sc, index);
}

#endif
