/*
 * stage.h: a pool of `workers` slots between an input and an output queue.
 *
 * A slot is a small state machine (asyncio's Task): idle -> running -> (emitting)
 * -> idle, or retired once it takes a poison pill. The worker kind (exec,
 * builtin, ...) only starts an item and reports back through stage_slot_done();
 * timeouts, accounting, the failure policy, pills and backpressure live here, so
 * every kind gets them the same way.
 */
#ifndef SLUICE_STAGE_H
#define SLUICE_STAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf-schema.h"
#include "conf.h"
#include "item.h"
#include "queue.h"
#include "report.h"

struct scope;
struct stage;
struct stage_slot;

struct stage_counts {
	uint64_t in, ok, failed, dropped, in_flight, queued;
};

/* A worker kind: one table entry each (DESIGN §2). */
struct worker_kind {
	/* Its block (exec:, builtin: ...) as a row of the stage (conf-schema.h): picks the kind. */
	struct conf_kind conf;
	/* Completes inside start(): no timeout applies (nothing could interrupt it). */
	bool synchronous;
	/* Per-stage state; returns -1 with a message in err on failure. */
	int (*init)(struct stage *st, void **state, char *err, size_t errlen);
	void (*free)(void *state);
	/* Starts slot's item; completion comes through stage_slot_done, possibly at once. */
	void (*start)(struct stage_slot *slot);
	/* Stop the running item (timeout or cancel); completion still comes through done. */
	void (*cancel)(struct stage_slot *slot);
	/*
	 * Optional: the slot will take no more items (drain, cancel, scale down); a kind
	 * with a long-lived process per slot lets it exit, then calls
	 * stage_slot_finished(). Returns false when there is nothing to wait for.
	 */
	bool (*finish)(struct stage_slot *slot);
	/* Optional: results emitted while running (stage_slot_emit) may flow again. */
	void (*output_ready)(struct stage_slot *slot);
};

/* What an exec or coprocess stage needs of the host (work-exec.c; the conf_kind's envcheck). */
struct envcheck;
void work_exec_envcheck(struct envcheck *ck, const char *owner, const void *entry);

#define STAGE_HIST_BUCKETS 12
extern const double stage_hist_bounds[STAGE_HIST_BUCKETS]; /* seconds; +Inf is implied */

struct stage_timing {
	uint64_t buckets[STAGE_HIST_BUCKETS + 1]; /* per bucket, not cumulative */
	double sum;				  /* seconds */
	uint64_t count;
};

struct stage *stage_new(struct scope *sc, const struct conf_stage *cs, struct queue *in,
			struct queue *out, char *err, size_t errlen);
void stage_free(struct stage *st);
void stage_start(struct stage *st);
/* Cancelling: emitting results are forced downstream, running items are stopped. */
void stage_cancel(struct stage *st);
/* No slot running or emitting. */
bool stage_quiet(const struct stage *st);
/* Busy with no completion for far longer than its timeout allows (the watchdog's test). */
bool stage_wedged(const struct stage *st);
void stage_counts(const struct stage *st, struct stage_counts *c);
/* Counts an item that a cancel took out of this stage's queue. */
void stage_count_unfinished_queued(struct stage *st, uint64_t n);
/* Workers up or down, live; scaling down lets running items finish. */
void stage_scale(struct stage *st, unsigned workers);
/* The stage's rate changed (a reload): a start put off at the old rate is not waited for. */
void stage_rate_changed(struct stage *st);
/* Pause: start no new item (running ones finish). */
void stage_pause(struct stage *st, bool paused);
bool stage_paused(const struct stage *st);
/* The stage feeds the sinks: an item it finishes leaves the pipeline. */
void stage_set_last(struct stage *st);
uint64_t stage_retries(const struct stage *st);
uint64_t stage_restarts(const struct stage *st);
void stage_count_restart(struct stage *st);
const struct stage_timing *stage_timing(const struct stage *st);
const char *stage_name(const struct stage *st);
const struct conf_stage *stage_conf(const struct stage *st);
struct scope *stage_scope(const struct stage *st);
unsigned stage_workers(const struct stage *st);

/* For worker kinds. */
struct item *stage_slot_item(struct stage_slot *slot);
/* The kind takes the input item over (it passes it on as an output). */
struct item *stage_slot_take_item(struct stage_slot *slot);
struct scope *stage_slot_scope(struct stage_slot *slot);
void *stage_slot_state(struct stage_slot *slot); /* the kind's per-stage state */
void **stage_slot_work(struct stage_slot *slot); /* the kind's per-slot pointer */
/*
 * Reports the slot's item as done: f == NULL means success and outputs (a list
 * linked by ->next, may be NULL) go downstream; else it failed.
 */
void stage_slot_done(struct stage_slot *slot, struct item *outputs, const struct failure *f);
/*
 * Passes one result on while the item is still running (a command's output
 * lines as they come). Takes the item in any case; false means "stop producing
 * until output_ready()": the queue downstream is full.
 */
bool stage_slot_emit(struct stage_slot *slot, struct item *it);
/* Results leave this stage in input order (no streaming of partial results). */
bool stage_slot_ordered(struct stage_slot *slot);
/* After finish() returned true: the slot's long-lived work has ended. */
void stage_slot_finished(struct stage_slot *slot);

#endif
