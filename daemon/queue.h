/*
 * queue.h: a bounded FIFO of items (asyncio.Queue(maxsize), bounded in items and
 * in bytes) with waiters on both ends.
 *
 * The consumer is told, through a deferred event, when items arrive in a queue it
 * found empty; while it is busy it pops on its own. A producer whose push is
 * refused (when_full: block) keeps its item, registers a waiter and stops taking
 * input: that is the one backpressure mechanism of the daemon. Waiters are woken,
 * also through a deferred event, once the queue falls below its low mark (3/4).
 * With drop_newest/drop_oldest a push never fails; drops are counted and logged.
 * Pills and forced pushes ignore the bounds: they are bounded by their senders.
 */
#ifndef SLUICE_QUEUE_H
#define SLUICE_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "conf.h"
#include "item.h"

struct event_base;
struct queue;
typedef void (*queue_cb)(void *arg);

struct queue_waiter {
	TAILQ_ENTRY(queue_waiter) entry;
	queue_cb cb;
	void *arg;
	bool waiting;
	/* Bytes the waiter wants to push (item_cost); 0 for "any small item". */
	uint64_t need;
};

struct queue_stats {
	uint64_t pushed;  /* every item offered, dropped ones included */
	uint64_t dropped; /* by drop_newest/drop_oldest */
};

struct queue *queue_new(struct event_base *base, const char *name, const struct conf_queue *cq);
/* Frees the queue and any items still in it. */
void queue_free(struct queue *q);

/* Returns false when full and when_full is block: the caller keeps the item. */
bool queue_push(struct queue *q, struct item *it);
/* Pushes regardless of the bounds (pills, a stopping source's remnant, replay). */
void queue_push_force(struct queue *q, struct item *it);
/* Returns the oldest entry (possibly a pill), or NULL. */
struct item *queue_pop(struct queue *q);
/* Would a push of a small item be refused? */
bool queue_full(const struct queue *q);

/* Real items queued (pills excluded) and their bytes. */
uint64_t queue_len(const struct queue *q);
uint64_t queue_bytes(const struct queue *q);
const struct queue_stats *queue_stats(const struct queue *q);
const char *queue_name(const struct queue *q);

void queue_set_consumer(struct queue *q, queue_cb cb, void *arg);
/*
 * One-shot: cb(arg) runs from the loop once the queue is below its low mark and
 * an item of w->need bytes would fit (set need first; a waiter is never woken
 * just to be refused again).
 */
void queue_wait_space(struct queue *q, struct queue_waiter *w, queue_cb cb, void *arg);
void queue_cancel_wait(struct queue *q, struct queue_waiter *w);

/* Removes every real item (pills are freed) and returns them as a list linked by ->next. */
struct item *queue_take_all(struct queue *q);

#endif
