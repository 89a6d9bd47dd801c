/*
 * pipeline.h: the scope that owns every source, queue, stage and sink (asyncio's
 * TaskGroup). It runs the lifecycle
 *     starting -> running -> draining -> (cancelling) -> stopped
 * (lifecycle.h) and is the one place that decides the exit code. Its sources,
 * stages and sinks see it through struct scope (scope.h) alone: they report
 * upward through its callbacks; cancel travels downward from here.
 */
#ifndef SLUICE_PIPELINE_H
#define SLUICE_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "queue.h"
#include "report.h"

struct event_base;
struct pipeline;
struct source;
struct stage;

/*
 * Builds the pipeline; opens inputs and outputs. Returns NULL and sets *exit_code on
 * error. from: the running pipeline a reload replaces, or NULL. What did not change
 * is taken over from it (unchanged sources whole, listening sockets, unchanged sinks,
 * dead letter and joblog); a failure leaves from untouched.
 */
struct pipeline *pipeline_new(struct event_base *base, struct conf *conf, struct pipeline *from,
			      int *exit_code);
/*
 * Replays the spool (at the first start), starts everything and retires the
 * pipeline it replaces. done(p, arg) runs on the loop when p has stopped: drained,
 * or cancelled with its unfinished items spooled (or handed to its successor).
 * Returns 0, or 73 when the spool cannot be used.
 */
int pipeline_start(struct pipeline *p, void (*done)(struct pipeline *p, void *arg), void *arg);
/* After the loop: closes the outputs, stops every child; returns the exit code. */
int pipeline_finish(struct pipeline *p);
void pipeline_free(struct pipeline *p);
/*
 * A pipeline replaced by a reload has finished and nothing of its own is still
 * busy elsewhere (an fdatasync on the bio pool, a record in its successor's
 * sinks whose ack is due): pipeline_free() may run, from the loop.
 */
bool pipeline_settled(const struct pipeline *p);
/* Stopped, and out of the reload chain (its done callback has run). */
bool pipeline_finished(const struct pipeline *p);
/* Something p runs (itself, a source or the sinks it took over) points into conf. */
bool pipeline_uses_conf(const struct pipeline *p, const struct conf *conf);

/* Signal handling entry points. */
void pipeline_stop(struct pipeline *p); /* graceful; a second call cancels */
void pipeline_reopen(struct pipeline *p);

struct pipeline_progress {
	uint64_t read; /* items the sources produced */
	uint64_t done; /* items that left the pipeline (written, filtered, or failed) */
	uint64_t failed;
	double fraction; /* of the input consumed, 0..1, or -1 when a source cannot tell */
};
void pipeline_progress(struct pipeline *p, struct pipeline_progress *pp);
/* Every source is finite (a job, not a service). */
bool pipeline_is_job(const struct pipeline *p);

/* Read-only views, for status, metrics and sd_notify. */
const char *pipeline_state_name(const struct pipeline *p);
bool pipeline_ready(const struct pipeline *p); /* running, not stopping or cancelled */
/* A stop (signal, drain) or a cancel was asked for: a second one would cancel. */
bool pipeline_stop_requested(const struct pipeline *p);
double pipeline_uptime(const struct pipeline *p);
/* Items that pipelines replaced by a reload still hold (queued or in flight): 0 once drained. */
uint64_t pipeline_previous_items(const struct pipeline *p);
bool pipeline_previous_draining(const struct pipeline *p);
size_t pipeline_n_sources(const struct pipeline *p);
struct source *pipeline_source(const struct pipeline *p, size_t i);
size_t pipeline_n_stages(const struct pipeline *p);
struct stage *pipeline_stage(const struct pipeline *p, size_t i);
/* queues[i] feeds stage i; queues[n_stages] feeds the sinks. */
struct queue *pipeline_queue(const struct pipeline *p, size_t i);
struct sinks *pipeline_sinks(const struct pipeline *p);
uint64_t pipeline_dead_lettered(const struct pipeline *p);
/* Items that left the pipeline at a stage (the joblog's lines, counted). */
uint64_t pipeline_items_done(const struct pipeline *p);
/* What the summary reports beyond the per-component counts. */
struct pipeline_totals {
	uint64_t replayed, skipped_failed, spooled, lost, kept, dead_lettered;
	bool has_dead_letter;
	bool cancelled; /* stopped by a cancel, not a drain */
	bool cut_short; /* a job stopped before its input ended */
	double elapsed; /* seconds since the start */
	const struct report *report;
};
void pipeline_totals(const struct pipeline *p, struct pipeline_totals *t);

/* Control: pause or resume a source or a stage by name; scale a stage. -1 and err if unknown. */
int pipeline_pause(struct pipeline *p, const char *name, bool pause, char *err, size_t errlen);
int pipeline_scale(struct pipeline *p, const char *stage, unsigned workers, char *err,
		   size_t errlen);

/* For services (status, progress, control). */
struct event_base *pipeline_base(struct pipeline *p);
const struct conf *pipeline_conf(const struct pipeline *p);

#endif
