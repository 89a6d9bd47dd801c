/*
 * queue.c: bounded FIFO with waiters (see queue.h). The list is intrusive through
 * item->next. Wakeups go through event_active() so that a push never runs the
 * consumer, and a pop never runs a producer, inside the caller's stack: callbacks
 * stay short and re-entrancy cannot happen.
 */
#include "queue.h"

#include <event2/event.h>
#include <stdlib.h>

#include "log.h"
#include "track.h"
#include "util.h"

struct queue {
	char *name;
	struct conf_queue conf;
	struct item *head, *tail;
	uint64_t n_items;   /* real items */
	uint64_t n_entries; /* real items and pills */
	uint64_t bytes;
	struct queue_stats stats;
	uint64_t drops_unlogged;
	uint64_t last_drop_log;

	queue_cb consumer_cb;
	void *consumer_arg;
	struct event *ready_ev;

	TAILQ_HEAD(, queue_waiter) waiters;
	struct event *space_ev;
};

static void queue_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	if (q->consumer_cb != NULL)
		q->consumer_cb(q->consumer_arg);
}

static bool over_bounds(const struct queue *q, size_t extra_bytes);

static bool fits(const struct queue *q, const struct queue_waiter *w)
{
	return !over_bounds(q, w->need > 0 ? w->need : sizeof(struct item));
}

static void queue_space_cb(evutil_socket_t fd, short what, void *arg)
{
	struct queue *q = arg;
	TAILQ_HEAD(, queue_waiter) woken = TAILQ_HEAD_INITIALIZER(woken);
	struct queue_waiter *w, *next;

	/* Detach the ones whose item fits: a woken producer that fills the queue again
	 * re-registers; one whose item does not fit yet waits for more to drain. */
	for (w = TAILQ_FIRST(&q->waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (fits(q, w)) {
			TAILQ_REMOVE(&q->waiters, w, entry);
			TAILQ_INSERT_TAIL(&woken, w, entry);
		}
	}
	while ((w = TAILQ_FIRST(&woken)) != NULL) {
		TAILQ_REMOVE(&woken, w, entry);
		w->waiting = false;
		w->cb(w->arg);
	}
}

struct queue *queue_new(struct event_base *base, const char *name, const struct conf_queue *cq)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	q->name = xstrdup(name);
	q->conf = *cq;
	TAILQ_INIT(&q->waiters);
	q->ready_ev = event_new(base, -1, 0, queue_ready_cb, q);
	q->space_ev = event_new(base, -1, 0, queue_space_cb, q);
	return q;
}

void queue_free(struct queue *q)
{
	struct item *it;
	if (q == NULL)
		return;
	while ((it = queue_pop(q)) != NULL)
		item_free(it);
	event_free(q->ready_ev);
	event_free(q->space_ev);
	free(q->name);
	free(q);
}

static void link_tail(struct queue *q, struct item *it)
{
	bool was_empty = q->n_entries == 0;
	it->next = NULL;
	if (q->tail != NULL)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->n_entries++;
	if (!(it->flags & ITEM_PILL)) {
		q->n_items++;
		q->bytes += item_cost(it);
	}
	if (was_empty && q->consumer_cb != NULL)
		event_active(q->ready_ev, 0, 0);
}

static bool over_bounds(const struct queue *q, size_t extra_bytes)
{
	if (q->n_items >= q->conf.capacity)
		return true;
	/* An empty queue takes any one item, so a large item cannot wedge it. */
	return q->n_items > 0 && q->bytes + extra_bytes > q->conf.max_bytes;
}

static void count_drop(struct queue *q)
{
	uint64_t now = now_usec();
	q->stats.dropped++;
	q->drops_unlogged++;
	if (q->last_drop_log == 0 || now - q->last_drop_log >= 10000000) {
		log_warnx("queue '%s' is full: dropped %llu item(s) (when_full: %s)", q->name,
			  (unsigned long long)q->drops_unlogged,
			  q->conf.when_full == WHEN_FULL_DROP_NEWEST ? "drop_newest"
								     : "drop_oldest");
		q->drops_unlogged = 0;
		q->last_drop_log = now;
	}
}

bool queue_push(struct queue *q, struct item *it)
{
	if (!over_bounds(q, item_cost(it))) {
		q->stats.pushed++;
		link_tail(q, it);
		return true;
	}
	switch (q->conf.when_full) {
	case WHEN_FULL_BLOCK:
		return false;
	case WHEN_FULL_DROP_NEWEST:
		q->stats.pushed++;
		count_drop(q);
		track_failed(it);
		item_free(it);
		return true;
	case WHEN_FULL_DROP_OLDEST:
		q->stats.pushed++;
		/* Pills only ever sit behind every real item, so the head is a real one. */
		while (q->n_items > 0 && over_bounds(q, item_cost(it))) {
			struct item *old = queue_pop(q);
			if (old->flags & ITEM_PILL) {
				link_tail(q, old);
				break;
			}
			count_drop(q);
			track_failed(old);
			item_free(old);
		}
		link_tail(q, it);
		return true;
	}
	return false;
}

void queue_push_force(struct queue *q, struct item *it)
{
	if (!(it->flags & ITEM_PILL))
		q->stats.pushed++;
	link_tail(q, it);
}

struct item *queue_pop(struct queue *q)
{
	struct item *it = q->head;
	if (it == NULL)
		return NULL;
	q->head = it->next;
	if (q->head == NULL)
		q->tail = NULL;
	it->next = NULL;
	q->n_entries--;
	if (!(it->flags & ITEM_PILL)) {
		q->n_items--;
		q->bytes -= item_cost(it);
	}
	if (!TAILQ_EMPTY(&q->waiters) && q->n_items <= q->conf.capacity - q->conf.capacity / 4 &&
	    (q->bytes <= q->conf.max_bytes - q->conf.max_bytes / 4 || q->n_items == 0))
		event_active(q->space_ev, 0, 0);
	return it;
}

bool queue_full(const struct queue *q)
{
	return q->conf.when_full == WHEN_FULL_BLOCK && over_bounds(q, sizeof(struct item));
}

uint64_t queue_len(const struct queue *q)
{
	return q->n_items;
}

uint64_t queue_bytes(const struct queue *q)
{
	return q->bytes;
}

const struct queue_stats *queue_stats(const struct queue *q)
{
	return &q->stats;
}

const char *queue_name(const struct queue *q)
{
	return q->name;
}

void queue_set_consumer(struct queue *q, queue_cb cb, void *arg)
{
	q->consumer_cb = cb;
	q->consumer_arg = arg;
	if (q->n_entries > 0 && cb != NULL)
		event_active(q->ready_ev, 0, 0);
}

void queue_wait_space(struct queue *q, struct queue_waiter *w, queue_cb cb, void *arg)
{
	w->cb = cb;
	w->arg = arg;
	if (w->waiting)
		return;
	w->waiting = true;
	TAILQ_INSERT_TAIL(&q->waiters, w, entry);
	/* It may have drained between the refused push and this call. */
	if (fits(q, w))
		event_active(q->space_ev, 0, 0);
}

void queue_cancel_wait(struct queue *q, struct queue_waiter *w)
{
	if (!w->waiting)
		return;
	TAILQ_REMOVE(&q->waiters, w, entry);
	w->waiting = false;
}

struct item *queue_take_all(struct queue *q)
{
	struct item *list = NULL, **tailp = &list, *it;
	while ((it = queue_pop(q)) != NULL) {
		if (it->flags & ITEM_PILL) {
			item_free(it);
			continue;
		}
		*tailp = it;
		tailp = &it->next;
	}
	return list;
}
