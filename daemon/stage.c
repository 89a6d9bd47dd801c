/*
 * stage.c: the worker pool (see stage.h).
 *
 * Invariants: a slot is on the idle list iff its state is IDLE; n_running counts
 * RUNNING slots, the emitting list holds exactly the EMITTING ones, in the order
 * they blocked, so results leave in the order they finished. The pump never
 * recurses: a kind that completes inside start() (builtin) makes the running
 * pump loop go round again instead.
 */
#include "stage.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "log.h"
#include "pipeline.h"
#include "util.h"

enum slot_state { SLOT_IDLE = 0, SLOT_RUNNING, SLOT_EMITTING, SLOT_RETIRED };

struct stage_slot {
	struct stage *st;
	enum slot_state state;
	struct item *item;    /* the input being worked on */
	struct item *pending; /* outputs refused by a full queue */
	void *work;           /* the worker kind's own per-slot state */
	struct event *timer;
	bool timed_out, cancelled;
	struct stage_slot *next_idle;
	TAILQ_ENTRY(stage_slot) emit_entry;
};

struct stage {
	struct pipeline *p;
	const struct conf_stage *conf;
	const struct worker_kind *kind;
	void *state;
	struct queue *in, *out;
	struct stage_slot *slots;
	unsigned n_slots, n_running, n_emitting, n_retired;
	struct stage_slot *idle;
	TAILQ_HEAD(, stage_slot) emitting;
	struct queue_waiter out_waiter;
	uint64_t ok, failed, unfinished_inflight, unfinished_queued;
	bool in_pump, repump, finished, cancelling;
};

static void stage_pump(struct stage *st);

static void slot_make_idle(struct stage_slot *slot)
{
	struct stage *st = slot->st;
	slot->state = SLOT_IDLE;
	slot->next_idle = st->idle;
	st->idle = slot;
}

static void stage_in_cb(void *arg)
{
	stage_pump(arg);
}

static void slot_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stage_slot *slot = arg;
	if (slot->state != SLOT_RUNNING)
		return;
	slot->timed_out = true;
	log_debug("stage '%s': item %llu timed out; stopping it", slot->st->conf->name,
		  (unsigned long long)slot->item->seq);
	slot->st->kind->cancel(slot);
}

struct stage *stage_new(struct pipeline *p, const struct conf_stage *cs, struct queue *in,
			struct queue *out, char *err, size_t errlen)
{
	struct stage *st = xcalloc(1, sizeof(*st));
	st->p = p;
	st->conf = cs;
	st->kind = cs->kind == STAGE_EXEC ? &work_exec : &work_builtin;
	st->in = in;
	st->out = out;
	TAILQ_INIT(&st->emitting);
	if (st->kind->init != NULL && st->kind->init(st, &st->state, err, errlen) < 0) {
		free(st);
		return NULL;
	}
	st->n_slots = (unsigned)cs->workers;
	st->slots = xcalloc(st->n_slots, sizeof(*st->slots));
	for (unsigned i = st->n_slots; i-- > 0;) {
		struct stage_slot *slot = &st->slots[i];
		slot->st = st;
		if (cs->timeout > 0)
			slot->timer = evtimer_new(pipeline_base(p), slot_timeout_cb, slot);
		slot_make_idle(slot);
	}
	return st;
}

void stage_free(struct stage *st)
{
	if (st == NULL)
		return;
	for (unsigned i = 0; i < st->n_slots; i++) {
		struct stage_slot *slot = &st->slots[i];
		if (slot->timer != NULL)
			event_free(slot->timer);
		item_free(slot->item);
		while (slot->pending != NULL) {
			struct item *next = slot->pending->next;
			item_free(slot->pending);
			slot->pending = next;
		}
	}
	if (st->kind->free != NULL)
		st->kind->free(st->state);
	free(st->slots);
	free(st);
}

void stage_start(struct stage *st)
{
	queue_set_consumer(st->in, stage_in_cb, st);
}

static void check_finished(struct stage *st)
{
	if (st->finished || st->n_retired < st->n_slots || st->n_running > 0 || st->n_emitting > 0)
		return;
	st->finished = true;
	pipeline_stage_finished(st->p, st);
}

static void slot_start(struct stage_slot *slot, struct item *it)
{
	struct stage *st = slot->st;
	slot->state = SLOT_RUNNING;
	slot->item = it;
	slot->timed_out = false;
	slot->cancelled = false;
	it->attempts++;
	st->n_running++;
	if (slot->timer != NULL) {
		struct timeval tv = {(time_t)(st->conf->timeout / 1000000),
				     (suseconds_t)(st->conf->timeout % 1000000)};
		evtimer_add(slot->timer, &tv);
	}
	st->kind->start(slot);
}

static void stage_pump(struct stage *st)
{
	if (st->in_pump) {
		st->repump = true;
		return;
	}
	st->in_pump = true;
	do {
		st->repump = false;
		while (st->idle != NULL && !st->cancelling) {
			struct item *it = queue_pop(st->in);
			if (it == NULL)
				break;
			struct stage_slot *slot = st->idle;
			st->idle = slot->next_idle;
			if (it->flags & ITEM_PILL) {
				item_free(it);
				slot->state = SLOT_RETIRED;
				st->n_retired++;
				continue;
			}
			slot_start(slot, it);
		}
	} while (st->repump);
	st->in_pump = false;
	if (!st->cancelling)
		check_finished(st);
}

/* Pushes the slot's pending outputs; returns false if the queue refused one. */
static bool slot_flush(struct stage_slot *slot)
{
	struct stage *st = slot->st;
	while (slot->pending != NULL) {
		struct item *it = slot->pending;
		struct item *next = it->next;
		it->next = NULL;
		if (st->cancelling) {
			queue_push_force(st->out, it);
		} else if (!queue_push(st->out, it)) {
			it->next = next;
			return false;
		}
		slot->pending = next;
	}
	return true;
}

static void stage_out_space_cb(void *arg)
{
	struct stage *st = arg;
	struct stage_slot *slot;
	while ((slot = TAILQ_FIRST(&st->emitting)) != NULL) {
		if (!slot_flush(slot)) {
			queue_wait_space(st->out, &st->out_waiter, stage_out_space_cb, st);
			break;
		}
		TAILQ_REMOVE(&st->emitting, slot, emit_entry);
		st->n_emitting--;
		slot_make_idle(slot);
	}
	stage_pump(st);
}

void stage_slot_done(struct stage_slot *slot, struct item *outputs, const struct failure *f)
{
	struct stage *st = slot->st;

	if (slot->timer != NULL)
		evtimer_del(slot->timer);
	st->n_running--;

	if (f != NULL && slot->cancelled && !slot->timed_out) {
		/* Cancelled, not failed: the item goes to the spool to be done again. */
		st->unfinished_inflight++;
		pipeline_unfinished(st->p, st->conf->name, slot->item);
		slot->item = NULL;
		outputs = NULL;
	} else if (f != NULL) {
		struct failure timeout;
		if (slot->timed_out && f->kind != FAIL_TIMEOUT) {
			timeout = *f;
			timeout.kind = FAIL_TIMEOUT;
			snprintf(timeout.message, sizeof(timeout.message),
				 "timed out after %.3fs (%.200s)", (double)st->conf->timeout / 1e6,
				 f->message);
			f = &timeout;
		}
		st->failed++;
		pipeline_item_failed(st->p, st->conf->name, st->conf->on_failure, slot->item, f);
	} else {
		st->ok++;
	}
	item_free(slot->item);
	slot->item = NULL;

	slot->pending = outputs;
	if (slot_flush(slot)) {
		slot_make_idle(slot);
	} else {
		slot->state = SLOT_EMITTING;
		st->n_emitting++;
		TAILQ_INSERT_TAIL(&st->emitting, slot, emit_entry);
		queue_wait_space(st->out, &st->out_waiter, stage_out_space_cb, st);
	}

	if (st->cancelling) {
		if (stage_quiet(st))
			pipeline_stage_quiet(st->p);
	} else {
		stage_pump(st);
	}
}

void stage_cancel(struct stage *st)
{
	struct stage_slot *slot;
	if (st->cancelling)
		return;
	st->cancelling = true;
	queue_cancel_wait(st->out, &st->out_waiter);
	while ((slot = TAILQ_FIRST(&st->emitting)) != NULL) {
		TAILQ_REMOVE(&st->emitting, slot, emit_entry);
		st->n_emitting--;
		slot_flush(slot);
		slot_make_idle(slot);
	}
	for (unsigned i = 0; i < st->n_slots; i++) {
		slot = &st->slots[i];
		if (slot->state == SLOT_RUNNING && !slot->cancelled) {
			slot->cancelled = true;
			st->kind->cancel(slot);
		}
	}
}

bool stage_quiet(const struct stage *st)
{
	return st->n_running == 0 && st->n_emitting == 0;
}

void stage_counts(const struct stage *st, struct stage_counts *c)
{
	const struct queue_stats *qs = queue_stats(st->in);
	c->in = qs->pushed;
	c->dropped = qs->dropped;
	c->ok = st->ok;
	c->failed = st->failed;
	c->in_flight = st->n_running + st->unfinished_inflight;
	c->queued = queue_len(st->in) + st->unfinished_queued;
}

void stage_count_unfinished_queued(struct stage *st, uint64_t n)
{
	st->unfinished_queued += n;
}

const char *stage_name(const struct stage *st)
{
	return st->conf->name;
}

const struct conf_stage *stage_conf(const struct stage *st)
{
	return st->conf;
}

struct pipeline *stage_pipeline(const struct stage *st)
{
	return st->p;
}

unsigned stage_workers(const struct stage *st)
{
	return st->n_slots;
}

struct item *stage_slot_item(struct stage_slot *slot)
{
	return slot->item;
}

struct item *stage_slot_take_item(struct stage_slot *slot)
{
	struct item *it = slot->item;
	slot->item = NULL;
	return it;
}

const struct conf_stage *stage_slot_conf(struct stage_slot *slot)
{
	return slot->st->conf;
}

struct pipeline *stage_slot_pipeline(struct stage_slot *slot)
{
	return slot->st->p;
}

void *stage_slot_state(struct stage_slot *slot)
{
	return slot->st->state;
}

void **stage_slot_work(struct stage_slot *slot)
{
	return &slot->work;
}
