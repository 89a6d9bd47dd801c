/*
 * stage.c: the worker pool (see stage.h).
 *
 * A slot goes idle -> running -> (backoff -> running)* -> done -> idle. Unordered,
 * a done slot waits in `outq` until its results are passed on, so results leave
 * as they finish and a full output queue holds the slots. Ordered, every started
 * item gets an entry in `orderq`, in start order; a finished item parks its
 * results in its entry and frees its slot, and only done entries at the head
 * leave, so results leave in input order. No new item starts while `window`
 * entries are outstanding: a slow head holds the stage back, never more memory.
 *
 * Every wait here is a cancellation point: the retry backoff and the rate limit
 * are timers that a cancel deletes; running items are stopped through the kind
 * (unless the stage is shielded, then they get kill_after to finish).
 *
 * Pills: the first pill tells the stage its input has ended; the stage is
 * finished when its queue is empty and no slot is busy, whatever its worker
 * count is by then (scale may have changed it after the pills were queued).
 * The pump never recurses: a kind that completes inside start() (builtin)
 * makes the running pump loop go round again instead.
 */
#include "stage.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "log.h"
#include "scope.h"
#include "util.h"

enum slot_state { SLOT_IDLE = 0, SLOT_RUNNING, SLOT_BACKOFF, SLOT_DONE, SLOT_RETIRED };

const double stage_hist_bounds[STAGE_HIST_BUCKETS] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.25,
						      0.5,   1,	    2.5,  5,	10,  60};

struct stage_slot {
	struct stage *st;
	enum slot_state state;
	struct item *item;    /* the input being worked on */
	struct item *pending; /* outputs not yet passed on */
	void *work;	      /* the worker kind's own per-slot state */
	struct event *timer;  /* the item's timeout, or the retry backoff */
	uint64_t started_at;
	bool timed_out, cancelled, in_outq, finishing, blocked;
	TAILQ_ENTRY(stage_slot) block_entry; /* running, with emitted results held */
	struct order_entry *entry;	     /* ordered: the item's place in orderq */
	struct stage_slot *next_idle;
	TAILQ_ENTRY(stage_slot) out_entry;
};

struct order_entry {
	TAILQ_ENTRY(order_entry) link;
	struct item *pending; /* its results, once done */
	bool done;
};

/* Reorder window: outstanding items per worker, ordered. */
#define ORDER_WINDOW_PER_WORKER 4

struct stage {
	struct scope *scope;
	const struct conf_stage *conf;
	const struct worker_kind *kind;
	void *state;
	struct queue *in, *out;
	struct stage_slot **slots;
	unsigned n_slots;  /* allocated */
	unsigned target;   /* workers wanted */
	unsigned n_active; /* slots not retired */
	unsigned n_busy;   /* running or in backoff */
	unsigned n_done;   /* waiting in outq */
	unsigned n_finishing;
	struct stage_slot *idle;
	TAILQ_HEAD(, stage_slot) outq;
	TAILQ_HEAD(, stage_slot) blocked;
	TAILQ_HEAD(, order_entry) orderq;
	unsigned n_order; /* entries in orderq */
	struct queue_waiter out_waiter;
	struct event *rate_timer, *shield_timer;
	double tokens;	    /* the rate's bucket: starts allowed now, fractions kept */
	uint64_t rate_last; /* when tokens were last added (monotonic usec) */
	enum { RATE_IDLE, RATE_FLOWING, RATE_WAITING } rate_state;
	uint64_t last_progress; /* when an item last completed, or the stage became busy */
	uint64_t ok, failed, retries, restarts, unfinished_inflight, unfinished_queued;
	struct stage_timing timing;
	bool in_pump, repump, input_ended, finished, cancelling, paused, last;
};

static void stage_pump(struct stage *st);
static void flush_outq(struct stage *st);
static void flush_orderq(struct stage *st);
static void out_space_cb(void *arg);

static struct timeval tv_of(uint64_t usec)
{
	struct timeval tv = {(time_t)(usec / 1000000), (suseconds_t)(usec % 1000000)};
	return tv;
}

static void slot_make_idle(struct stage_slot *slot)
{
	struct stage *st = slot->st;
	slot->state = SLOT_IDLE;
	slot->next_idle = st->idle;
	st->idle = slot;
}

static bool slot_ask_finish(struct stage_slot *slot)
{
	struct stage *st = slot->st;
	if (slot->work == NULL || st->kind->finish == NULL || slot->finishing)
		return false;
	slot->finishing = true;
	if (!st->kind->finish(slot)) {
		slot->finishing = false;
		return false;
	}
	st->n_finishing++;
	return true;
}

/* A slot with nothing left to pass on: back to idle, or retired if scaled down. */
static void slot_release(struct stage_slot *slot)
{
	struct stage *st = slot->st;
	if (st->n_active > st->target) {
		slot->state = SLOT_RETIRED;
		st->n_active--;
		slot_ask_finish(slot);
		return;
	}
	slot_make_idle(slot);
	/* Freed after the cancel (its results had to wait for room): nothing more comes. */
	if (st->cancelling)
		slot_ask_finish(slot);
}

static void stage_in_cb(void *arg)
{
	stage_pump(arg);
}

static void rate_cb(evutil_socket_t fd, short what, void *arg)
{
	stage_pump(arg);
}

static void slot_start(struct stage_slot *slot)
{
	struct stage *st = slot->st;
	slot->state = SLOT_RUNNING;
	slot->timed_out = false;
	/* A builtin completes inside start(): its duration is ~0 and not worth a clock read. */
	slot->started_at = st->kind->synchronous ? 0 : now_usec();
	slot->item->attempts++;
	if (st->conf->timeout > 0 && !st->kind->synchronous) {
		struct timeval tv = tv_of(st->conf->timeout);
		evtimer_add(slot->timer, &tv);
	}
	st->kind->start(slot);
}

static void slot_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stage_slot *slot = arg;
	if (slot->state == SLOT_BACKOFF) {
		slot_start(slot);
		return;
	}
	if (slot->state != SLOT_RUNNING)
		return;
	slot->timed_out = true;
	log_debug("stage '%s': item %llu timed out; stopping it", slot->st->conf->name,
		  (unsigned long long)slot->item->seq);
	slot->st->kind->cancel(slot);
}

static struct stage_slot *slot_new(struct stage *st)
{
	struct stage_slot *slot = xcalloc(1, sizeof(*slot));
	slot->st = st;
	slot->timer = evtimer_new(scope_base(st->scope), slot_timer_cb, slot);
	st->slots = xrealloc(st->slots, (st->n_slots + 1) * sizeof(*st->slots));
	st->slots[st->n_slots++] = slot;
	return slot;
}

static void shield_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stage *st = arg;
	log_warnx("stage '%s': shielded items still running after kill_after; stopping them",
		  st->conf->name);
	for (unsigned i = 0; i < st->n_slots; i++) {
		struct stage_slot *slot = st->slots[i];
		if (slot->state == SLOT_RUNNING && !slot->cancelled) {
			slot->cancelled = true;
			st->kind->cancel(slot);
		}
	}
}

_Static_assert(offsetof(struct worker_kind, conf) == 0, "a worker kind starts with its conf");

struct stage *stage_new(struct scope *sc, const struct conf_stage *cs, struct queue *in,
			struct queue *out, char *err, size_t errlen)
{
	struct stage *st = xcalloc(1, sizeof(*st));
	st->scope = sc;
	st->conf = cs;
	st->kind = (const struct worker_kind *)cs->kind;
	st->in = in;
	st->out = out;
	TAILQ_INIT(&st->outq);
	TAILQ_INIT(&st->blocked);
	TAILQ_INIT(&st->orderq);
	if (st->kind->init != NULL && st->kind->init(st, &st->state, err, errlen) < 0) {
		free(st);
		return NULL;
	}
	st->rate_timer = evtimer_new(scope_base(sc), rate_cb, st);
	st->tokens = 1;
	st->rate_last = now_usec();
	st->shield_timer = evtimer_new(scope_base(sc), shield_cb, st);
	st->target = (unsigned)cs->workers;
	for (unsigned i = 0; i < st->target; i++)
		slot_make_idle(slot_new(st));
	st->n_active = st->target;
	return st;
}

static void free_list(struct item *it)
{
	while (it != NULL) {
		struct item *next = it->next;
		item_free(it);
		it = next;
	}
}

void stage_free(struct stage *st)
{
	if (st == NULL)
		return;
	for (unsigned i = 0; i < st->n_slots; i++) {
		struct stage_slot *slot = st->slots[i];
		event_free(slot->timer);
		item_free(slot->item);
		free_list(slot->pending);
		free(slot);
	}
	struct order_entry *e;
	while ((e = TAILQ_FIRST(&st->orderq)) != NULL) {
		TAILQ_REMOVE(&st->orderq, e, link);
		free_list(e->pending);
		free(e);
	}
	if (st->kind->free != NULL)
		st->kind->free(st->state);
	event_free(st->rate_timer);
	event_free(st->shield_timer);
	free(st->slots);
	free(st);
}

void stage_start(struct stage *st)
{
	queue_set_consumer(st->in, stage_in_cb, st);
}

static void maybe_finished(struct stage *st)
{
	if (st->finished || st->cancelling || !st->input_ended || queue_len(st->in) > 0 ||
	    st->n_busy > 0 || st->n_done > 0 || st->n_order > 0)
		return;
	/* Long-lived workers (co-processes) are let go before the stage counts as done. */
	if (st->n_finishing == 0)
		for (unsigned i = 0; i < st->n_slots; i++)
			if (st->slots[i]->state == SLOT_IDLE)
				slot_ask_finish(st->slots[i]);
	if (st->n_finishing > 0)
		return;
	st->finished = true;
	scope_stage_finished(st->scope, st);
}

/*
 * The token bucket on item starts; false (and a timer) when the next must wait.
 * Fractions of a token are kept, so a rate is not rounded to the timer's or the
 * clock's granularity. Idle time (no item, or no free worker) banks starts up
 * to `burst`; time while items wait (a timer that fired late, a long pump)
 * is owed in full, up to a tenth of a second's worth more, so a stalled loop
 * is not made up for in one rush. What is owed is kept when the input queue
 * runs dry for a moment (the source refills it on the next turn of the loop).
 * The clock is read fresh, and only to refill the bucket: when it is empty, or
 * at the first start after the stage was idle; never once per start.
 */
static bool rate_allows(struct stage *st)
{
	double rate = st->conf->rate;
	if (rate <= 0)
		return true;
	if (st->tokens < 1 || st->rate_state == RATE_IDLE) {
		uint64_t now = now_usec();
		double cap = (double)st->conf->burst;
		if (st->rate_state != RATE_IDLE)
			cap += rate / 10;
		else if (st->tokens > cap)
			cap = st->tokens;
		st->tokens += (double)(now - st->rate_last) * rate / 1e6;
		st->rate_last = now;
		if (st->tokens > cap)
			st->tokens = cap;
		if (st->rate_state == RATE_IDLE)
			st->rate_state = RATE_FLOWING;
	}
	if (st->tokens >= 1) {
		st->tokens -= 1;
		return true;
	}
	st->rate_state = RATE_WAITING;
	if (!evtimer_pending(st->rate_timer, NULL)) {
		/* Until the next whole token, rounded up: never a wake-up that finds none. */
		struct timeval tv = tv_of((uint64_t)((1 - st->tokens) * 1e6 / rate) + 1);
		evtimer_add(st->rate_timer, &tv);
	}
	return false;
}

static void stage_pump(struct stage *st)
{
	if (st->in_pump) {
		st->repump = true;
		return;
	}
	st->in_pump = true;
	bool rate_wait;
	do {
		st->repump = false;
		rate_wait = false;
		while (st->idle != NULL && !st->cancelling && !st->paused &&
		       (!st->conf->ordered || st->n_order < ORDER_WINDOW_PER_WORKER * st->target)) {
			if (queue_len(st->in) == 0 && st->input_ended)
				break;
			if (queue_len(st->in) > 0 && !rate_allows(st)) {
				rate_wait = true;
				break;
			}
			struct item *it = queue_pop(st->in);
			if (it == NULL)
				break;
			if (it->flags & ITEM_PILL) {
				item_free(it);
				st->input_ended = true;
				continue;
			}
			struct stage_slot *slot = st->idle;
			st->idle = slot->next_idle;
			slot->item = it;
			slot->cancelled = false;
			if (st->n_busy++ == 0 && !st->kind->synchronous)
				st->last_progress = now_usec();
			if (st->conf->ordered) {
				slot->entry = xcalloc(1, sizeof(*slot->entry));
				TAILQ_INSERT_TAIL(&st->orderq, slot->entry, link);
				st->n_order++;
			}
			slot_start(slot);
		}
	} while (st->repump);
	st->in_pump = false;
	/* Nothing waits for a token now: time from here on is idle time, banked up to burst. */
	if (!rate_wait)
		st->rate_state = RATE_IDLE;
	maybe_finished(st);
}

/* Pushes the slot's pending outputs; false if the queue refused one. */
static bool push_list(struct stage *st, struct item **list);

static bool slot_flush(struct stage_slot *slot)
{
	return push_list(slot->st, &slot->pending);
}

/* Running slots whose emitted results were held: pass them on, let them go on. */
static void flush_blocked(struct stage *st)
{
	struct stage_slot *slot;
	while ((slot = TAILQ_FIRST(&st->blocked)) != NULL) {
		if (!push_list(st, &slot->pending)) {
			st->out_waiter.need = item_cost(slot->pending);
			queue_wait_space(st->out, &st->out_waiter, out_space_cb, st);
			return;
		}
		TAILQ_REMOVE(&st->blocked, slot, block_entry);
		slot->blocked = false;
		if (st->kind->output_ready != NULL && slot->state == SLOT_RUNNING)
			st->kind->output_ready(slot);
	}
}

bool stage_slot_emit(struct stage_slot *slot, struct item *it)
{
	struct stage *st = slot->st;
	it->next = NULL;
	it->attempts = 0;
	if (st->cancelling) {
		queue_push_force(st->out, it);
		return true;
	}
	if (slot->pending == NULL && queue_push(st->out, it))
		return true;
	struct item **tailp = &slot->pending;
	while (*tailp != NULL)
		tailp = &(*tailp)->next;
	*tailp = it;
	if (!slot->blocked) {
		slot->blocked = true;
		TAILQ_INSERT_TAIL(&st->blocked, slot, block_entry);
	}
	st->out_waiter.need = item_cost(slot->pending);
	queue_wait_space(st->out, &st->out_waiter, out_space_cb, st);
	return false;
}

bool stage_slot_ordered(struct stage_slot *slot)
{
	return slot->st->conf->ordered;
}

static void out_space_cb(void *arg)
{
	struct stage *st = arg;
	flush_blocked(st);
	flush_outq(st);
	flush_orderq(st);
	if (!st->cancelling)
		stage_pump(st);
}

static void flush_outq(struct stage *st)
{
	struct stage_slot *slot, *next;
	for (slot = TAILQ_FIRST(&st->outq); slot != NULL; slot = next) {
		next = TAILQ_NEXT(slot, out_entry);
		if (slot->state != SLOT_DONE)
			continue;
		if (!slot_flush(slot)) {
			st->out_waiter.need = item_cost(slot->pending);
			queue_wait_space(st->out, &st->out_waiter, out_space_cb, st);
			break;
		}
		TAILQ_REMOVE(&st->outq, slot, out_entry);
		slot->in_outq = false;
		st->n_done--;
		slot_release(slot);
	}
}

/* Pushes one list of results; false (the rest kept in *list) if the queue refused one. */
static bool push_list(struct stage *st, struct item **list)
{
	while (*list != NULL) {
		struct item *it = *list, *next = it->next;
		it->next = NULL;
		if (st->cancelling) {
			queue_push_force(st->out, it);
		} else if (!queue_push(st->out, it)) {
			it->next = next;
			return false;
		}
		*list = next;
	}
	return true;
}

/* Ordered: done entries leave from the head; cancelling, every done one leaves. */
static void flush_orderq(struct stage *st)
{
	struct order_entry *e, *next;
	for (e = TAILQ_FIRST(&st->orderq); e != NULL; e = next) {
		next = TAILQ_NEXT(e, link);
		if (!e->done) {
			if (st->cancelling)
				continue;
			break;
		}
		if (!push_list(st, &e->pending)) {
			st->out_waiter.need = item_cost(e->pending);
			queue_wait_space(st->out, &st->out_waiter, out_space_cb, st);
			break;
		}
		TAILQ_REMOVE(&st->orderq, e, link);
		free(e);
		st->n_order--;
	}
}

static void record_timing(struct stage *st, uint64_t usec)
{
	double sec = (double)usec / 1e6;
	unsigned b = 0;
	while (b < STAGE_HIST_BUCKETS && sec > stage_hist_bounds[b])
		b++;
	st->timing.buckets[b]++;
	st->timing.sum += sec;
	st->timing.count++;
}

/* Full jitter (AWS's "exponential backoff and jitter"): uniform in [0, min(cap, base*2^n)]. */
static uint64_t backoff_delay(const struct conf_stage *cs, uint32_t attempts)
{
	uint64_t d = cs->retry.backoff;
	for (uint32_t i = 1; i < attempts && d < cs->retry.max_backoff; i++)
		d *= 2;
	if (d > cs->retry.max_backoff)
		d = cs->retry.max_backoff;
	return d == 0 ? 0 : (uint64_t)random() % (d + 1);
}

static void check_max_failures(struct stage *st)
{
	const struct conf_stage *cs = st->conf;
	uint64_t done = st->ok + st->failed;
	bool over = cs->max_failures_pct ? done >= 10 && st->failed * 100 > cs->max_failures * done
					 : cs->max_failures > 0 && st->failed > cs->max_failures;
	if (cs->max_failures == 0 || !over)
		return;
	char msg[256];
	snprintf(msg, sizeof(msg),
		 "stage '%s' passed its failure budget (max_failures: %llu%s): %llu of %llu items "
		 "failed",
		 cs->name, (unsigned long long)cs->max_failures, cs->max_failures_pct ? "%" : "",
		 (unsigned long long)st->failed, (unsigned long long)done);
	scope_cancel(st->scope, STOP_FAILURE, msg);
}

void stage_slot_done(struct stage_slot *slot, struct item *outputs, const struct failure *f)
{
	struct stage *st = slot->st;
	const struct conf_stage *cs = st->conf;
	struct failure timeout;

	if (!st->kind->synchronous) {
		evtimer_del(slot->timer);
		st->last_progress = now_usec();
		record_timing(st, st->last_progress - slot->started_at);
	} else {
		record_timing(st, 0);
	}

	if (f != NULL && slot->cancelled && !slot->timed_out) {
		/* Cancelled, not failed: the item goes to the spool to be done again. */
		st->unfinished_inflight++;
		scope_unfinished(st->scope, cs->name, slot->item);
		slot->item = NULL;
		outputs = NULL;
	} else if (f != NULL) {
		if (slot->timed_out && f->kind != FAIL_TIMEOUT) {
			timeout = *f;
			timeout.kind = FAIL_TIMEOUT;
			snprintf(timeout.message, sizeof(timeout.message),
				 "timed out after %.3fs (%.200s)", (double)cs->timeout / 1e6,
				 f->message);
			f = &timeout;
		}
		if (!st->cancelling && slot->item->attempts < cs->retry.attempts) {
			uint64_t delay = backoff_delay(cs, slot->item->attempts);
			struct timeval tv = tv_of(delay);
			st->retries++;
			log_debug(
			    "stage '%s': item %llu failed (%s), attempt %u of %llu; retrying in "
			    "%.3fs",
			    cs->name, (unsigned long long)slot->item->seq, f->message,
			    slot->item->attempts, (unsigned long long)cs->retry.attempts,
			    (double)delay / 1e6);
			slot->state = SLOT_BACKOFF;
			evtimer_add(slot->timer, &tv);
			return;
		}
		st->failed++;
		scope_item_failed(st->scope, cs->name, cs->on_failure, slot->item, f);
		scope_item_done(st->scope, cs->name, slot->item, slot->started_at, f);
		check_max_failures(st);
	} else {
		st->ok++;
		/* A builtin may have passed its input on as the output: same identity. */
		if (outputs == NULL || st->last)
			scope_item_done(st->scope, cs->name,
					slot->item != NULL ? slot->item : outputs, slot->started_at,
					NULL);
	}
	item_free(slot->item);
	slot->item = NULL;
	/* attempts count per stage: results start afresh in the next one. */
	for (struct item *o = outputs; o != NULL; o = o->next)
		o->attempts = 0;
	/* Results it emitted while running and that are still held go first. */
	if (slot->blocked) {
		TAILQ_REMOVE(&st->blocked, slot, block_entry);
		slot->blocked = false;
	}
	if (slot->pending != NULL) {
		struct item **tailp = &slot->pending;
		while (*tailp != NULL)
			tailp = &(*tailp)->next;
		*tailp = outputs;
		outputs = slot->pending;
		slot->pending = NULL;
	}

	st->n_busy--;
	if (slot->entry != NULL) {
		/* Ordered: the results park in the item's entry; the slot is free now. */
		slot->entry->pending = outputs;
		slot->entry->done = true;
		slot->entry = NULL;
		slot_release(slot);
		flush_orderq(st);
	} else {
		slot->pending = outputs;
		if (TAILQ_EMPTY(&st->outq) && push_list(st, &slot->pending)) {
			/* The common case: nothing waiting, and the results went straight on. */
			slot_release(slot);
		} else {
			slot->state = SLOT_DONE;
			st->n_done++;
			TAILQ_INSERT_TAIL(&st->outq, slot, out_entry);
			slot->in_outq = true;
			flush_outq(st);
		}
	}

	if (st->cancelling) {
		if (stage_quiet(st))
			scope_stage_quiet(st->scope);
	} else {
		stage_pump(st);
	}
}

void stage_slot_finished(struct stage_slot *slot)
{
	struct stage *st = slot->st;
	if (!slot->finishing)
		return;
	slot->finishing = false;
	st->n_finishing--;
	if (st->cancelling) {
		if (stage_quiet(st))
			scope_stage_quiet(st->scope);
	} else {
		maybe_finished(st);
	}
}

void stage_cancel(struct stage *st)
{
	if (st->cancelling)
		return;
	st->cancelling = true;
	evtimer_del(st->rate_timer);
	queue_cancel_wait(st->out, &st->out_waiter);
	bool shielded = false;
	/* Results already emitted by running items go on (and to the spool downstream). */
	flush_blocked(st);
	for (unsigned i = 0; i < st->n_slots; i++) {
		struct stage_slot *slot = st->slots[i];
		switch (slot->state) {
		case SLOT_BACKOFF:
			/* The backoff is a cancellation point: the item is unfinished. */
			evtimer_del(slot->timer);
			st->n_busy--;
			st->unfinished_inflight++;
			scope_unfinished(st->scope, st->conf->name, slot->item);
			slot->item = NULL;
			if (slot->entry != NULL) {
				slot->entry->done = true;
				slot->entry = NULL;
			}
			slot_release(slot);
			break;
		case SLOT_RUNNING:
			if (st->conf->shield) {
				shielded = true;
			} else if (!slot->cancelled) {
				slot->cancelled = true;
				st->kind->cancel(slot);
			}
			break;
		case SLOT_IDLE:
			slot_ask_finish(slot);
			break;
		default:
			break;
		}
	}
	if (shielded) {
		struct timeval tv = tv_of(scope_conf(st->scope)->shutdown.kill_after);
		log_info("stage '%s' is shielded: its running items may finish (up to %.3fs)",
			 st->conf->name, (double)scope_conf(st->scope)->shutdown.kill_after / 1e6);
		evtimer_add(st->shield_timer, &tv);
	}
	flush_outq(st);
	flush_orderq(st);
}

bool stage_wedged(const struct stage *st)
{
	uint64_t kill_after = scope_conf(st->scope)->shutdown.kill_after;
	/* A running item outlives its timeout only if killing it failed: that is stuck. */
	return st->n_busy > 0 && st->conf->timeout > 0 &&
	       now_usec() - st->last_progress > 2 * (st->conf->timeout + kill_after) + 5000000;
}

bool stage_quiet(const struct stage *st)
{
	bool quiet = st->n_busy == 0 && st->n_done == 0 && st->n_order == 0 && st->n_finishing == 0;
	if (quiet && st->cancelling)
		evtimer_del(st->shield_timer);
	return quiet;
}

void stage_scale(struct stage *st, unsigned workers)
{
	if (workers < 1)
		workers = 1;
	log_info("stage '%s': workers %u -> %u", st->conf->name, st->target, workers);
	st->target = workers;
	/* Down: idle slots go now, busy ones when they are released. */
	while (st->n_active > st->target && st->idle != NULL) {
		struct stage_slot *slot = st->idle;
		st->idle = slot->next_idle;
		slot->state = SLOT_RETIRED;
		st->n_active--;
		slot_ask_finish(slot);
	}
	/* Up: retired slots come back first. */
	for (unsigned i = 0; i < st->n_slots && st->n_active < st->target; i++) {
		struct stage_slot *slot = st->slots[i];
		if (slot->state == SLOT_RETIRED && !slot->finishing) {
			slot_make_idle(slot);
			st->n_active++;
		}
	}
	while (st->n_active < st->target) {
		slot_make_idle(slot_new(st));
		st->n_active++;
	}
	if (!st->cancelling)
		stage_pump(st);
}

void stage_rate_changed(struct stage *st)
{
	/* A start the old rate put off is decided again at the new one: the bucket refills
	 * from its last refill at the new rate. */
	evtimer_del(st->rate_timer);
	if (!st->cancelling)
		stage_pump(st);
}

void stage_pause(struct stage *st, bool paused)
{
	st->paused = paused;
	if (!paused && !st->cancelling)
		stage_pump(st);
}

bool stage_paused(const struct stage *st)
{
	return st->paused;
}

void stage_set_last(struct stage *st)
{
	st->last = true;
}

void stage_counts(const struct stage *st, struct stage_counts *c)
{
	const struct queue_stats *qs = queue_stats(st->in);
	c->in = qs->pushed;
	c->dropped = qs->dropped;
	c->ok = st->ok;
	c->failed = st->failed;
	c->in_flight = st->n_busy + st->unfinished_inflight;
	c->queued = queue_len(st->in) + st->unfinished_queued;
}

void stage_count_unfinished_queued(struct stage *st, uint64_t n)
{
	st->unfinished_queued += n;
}

uint64_t stage_retries(const struct stage *st)
{
	return st->retries;
}

uint64_t stage_restarts(const struct stage *st)
{
	return st->restarts;
}

void stage_count_restart(struct stage *st)
{
	st->restarts++;
}

const struct stage_timing *stage_timing(const struct stage *st)
{
	return &st->timing;
}

const char *stage_name(const struct stage *st)
{
	return st->conf->name;
}

const struct conf_stage *stage_conf(const struct stage *st)
{
	return st->conf;
}

struct scope *stage_scope(const struct stage *st)
{
	return st->scope;
}

unsigned stage_workers(const struct stage *st)
{
	return st->target;
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

struct scope *stage_slot_scope(struct stage_slot *slot)
{
	return slot->st->scope;
}

void *stage_slot_state(struct stage_slot *slot)
{
	return slot->st->state;
}

void **stage_slot_work(struct stage_slot *slot)
{
	return &slot->work;
}
