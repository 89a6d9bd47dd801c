/*
 * Unit tests for the bounded queue: bounds, drop policies, pills, waiters.
 *
 * LINK: queue.o item.o track.o log.o util.o
 */
#include <check.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "queue.h"

static struct event_base *base;

static struct queue *make(uint64_t cap, uint64_t bytes, enum when_full wf)
{
	struct conf_queue cq = {.capacity = cap, .max_bytes = bytes, .when_full = wf};
	return queue_new(base, "q", &cq);
}

static struct item *it(const char *s)
{
	static uint64_t seq;
	return item_new(s, strlen(s), ++seq, 0);
}

static void setup(void)
{
	base = event_base_new();
}

static void teardown(void)
{
	event_base_free(base);
	ck_assert_uint_eq(item_stats.live_items, 0);
}

START_TEST(fifo_order)
{
	struct queue *q = make(10, 1 << 20, WHEN_FULL_BLOCK);
	ck_assert(queue_push(q, it("a")));
	ck_assert(queue_push(q, it("b")));
	ck_assert(queue_push(q, it("c")));
	ck_assert_uint_eq(queue_len(q), 3);
	const char *want[] = {"a", "b", "c"};
	for (int i = 0; i < 3; i++) {
		struct item *x = queue_pop(q);
		ck_assert_str_eq(x->data, want[i]);
		item_free(x);
	}
	ck_assert_ptr_null(queue_pop(q));
	ck_assert_uint_eq(queue_bytes(q), 0);
	queue_free(q);
}
END_TEST

START_TEST(block_at_capacity)
{
	struct queue *q = make(2, 1 << 20, WHEN_FULL_BLOCK);
	ck_assert(queue_push(q, it("a")));
	ck_assert(!queue_full(q));
	ck_assert(queue_push(q, it("b")));
	ck_assert(queue_full(q));
	struct item *c = it("c");
	ck_assert(!queue_push(q, c)); /* refused: the caller keeps it */
	ck_assert_uint_eq(queue_stats(q)->pushed, 2);
	item_free(c);
	queue_free(q);
}
END_TEST

START_TEST(block_at_bytes)
{
	struct item *a = it("0123456789");
	struct queue *q = make(100, item_cost(a) + 5, WHEN_FULL_BLOCK);
	ck_assert(queue_push(q, a));
	struct item *b = it("0123456789");
	ck_assert(!queue_push(q, b));
	item_free(b);
	queue_free(q);
}
END_TEST

START_TEST(oversized_item_into_empty_queue)
{
	/* An item bigger than max_bytes must not wedge an empty queue forever. */
	struct queue *q = make(100, 8, WHEN_FULL_BLOCK);
	ck_assert(queue_push(q, it("a long item, longer than eight bytes")));
	struct item *b = it("b");
	ck_assert(!queue_push(q, b));
	item_free(b);
	queue_free(q);
}
END_TEST

START_TEST(drop_newest)
{
	struct queue *q = make(2, 1 << 20, WHEN_FULL_DROP_NEWEST);
	ck_assert(queue_push(q, it("a")));
	ck_assert(queue_push(q, it("b")));
	ck_assert(queue_push(q, it("c")));
	ck_assert_uint_eq(queue_len(q), 2);
	ck_assert_uint_eq(queue_stats(q)->pushed, 3);
	ck_assert_uint_eq(queue_stats(q)->dropped, 1);
	struct item *x = queue_pop(q);
	ck_assert_str_eq(x->data, "a");
	item_free(x);
	queue_free(q);
}
END_TEST

START_TEST(drop_oldest)
{
	struct queue *q = make(2, 1 << 20, WHEN_FULL_DROP_OLDEST);
	ck_assert(queue_push(q, it("a")));
	ck_assert(queue_push(q, it("b")));
	ck_assert(queue_push(q, it("c")));
	ck_assert_uint_eq(queue_stats(q)->dropped, 1);
	struct item *x = queue_pop(q);
	ck_assert_str_eq(x->data, "b");
	item_free(x);
	x = queue_pop(q);
	ck_assert_str_eq(x->data, "c");
	item_free(x);
	queue_free(q);
}
END_TEST

START_TEST(pills_ignore_bounds)
{
	struct queue *q = make(1, 1 << 20, WHEN_FULL_BLOCK);
	ck_assert(queue_push(q, it("a")));
	queue_push_force(q, item_pill());
	queue_push_force(q, item_pill());
	ck_assert_uint_eq(queue_len(q), 1); /* pills are not items */
	struct item *x = queue_pop(q);
	ck_assert(!(x->flags & ITEM_PILL));
	item_free(x);
	x = queue_pop(q);
	ck_assert(x->flags & ITEM_PILL);
	item_free(x);
	queue_free(q); /* frees the remaining pill */
}
END_TEST

static int woken;
static void wake_cb(void *arg)
{
	woken++;
}

START_TEST(space_waiter_wakes_below_low_mark)
{
	struct queue *q = make(4, 1 << 20, WHEN_FULL_BLOCK);
	struct queue_waiter w = {0};
	for (int i = 0; i < 4; i++)
		ck_assert(queue_push(q, it("x")));
	woken = 0;
	queue_wait_space(q, &w, wake_cb, NULL);
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(woken, 0); /* still full */
	item_free(queue_pop(q));    /* 3 of 4: at the low mark (3/4) */
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(woken, 1);
	ck_assert(!w.waiting);
	queue_free(q);
}
END_TEST

START_TEST(big_waiter_waits_until_it_fits)
{
	/* A producer holding a large item must not be woken only to be refused again
	 * (that was a busy loop): it is woken once its item fits. */
	struct item *big = it("0123456789012345678901234567890123456789");
	uint64_t cost = item_cost(big);
	struct queue *q = make(100, 3 * cost, WHEN_FULL_BLOCK);
	struct queue_waiter w = {0};
	for (int i = 0; i < 3; i++)
		ck_assert(queue_push(q, it("0123456789012345678901234567890123456789")));
	ck_assert(!queue_push(q, big));
	woken = 0;
	w.need = cost;
	queue_wait_space(q, &w, wake_cb, NULL);
	item_free(queue_pop(q)); /* 2 left: below 3/4 of the bytes, and the big one fits */
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(woken, 1);
	ck_assert(queue_push(q, big));

	/* Bigger than what is free even below the low mark: not woken until it fits. */
	/* item_cost(huge) == 2 * cost */
	size_t huge_len = 2 * cost - sizeof(struct item) - 1;
	char *bytes = malloc(huge_len);
	memset(bytes, 'h', huge_len);
	struct item *huge = item_new(bytes, huge_len, 99, 0);
	free(bytes);
	ck_assert_uint_eq(item_cost(huge), 2 * cost);
	ck_assert(!queue_push(q, huge));
	woken = 0;
	w.need = item_cost(huge);
	queue_wait_space(q, &w, wake_cb, NULL);
	item_free(queue_pop(q)); /* 2 left */
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(woken, 0);
	item_free(queue_pop(q)); /* 1 left: 1 + 2 = 3 items' worth fits */
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(woken, 1);
	ck_assert(queue_push(q, huge));
	queue_free(q);
}
END_TEST

START_TEST(cancelled_waiter_never_fires)
{
	struct queue *q = make(1, 1 << 20, WHEN_FULL_BLOCK);
	struct queue_waiter w = {0};
	ck_assert(queue_push(q, it("x")));
	woken = 0;
	queue_wait_space(q, &w, wake_cb, NULL);
	queue_cancel_wait(q, &w);
	item_free(queue_pop(q));
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(woken, 0);
	queue_free(q);
}
END_TEST

static int consumed;
static void consumer_cb(void *arg)
{
	struct queue *q = arg;
	struct item *x;
	while ((x = queue_pop(q)) != NULL) {
		consumed++;
		item_free(x);
	}
}

START_TEST(consumer_told_when_items_arrive)
{
	struct queue *q = make(10, 1 << 20, WHEN_FULL_BLOCK);
	consumed = 0;
	queue_set_consumer(q, consumer_cb, q);
	ck_assert(queue_push(q, it("a")));
	ck_assert(queue_push(q, it("b")));
	ck_assert_int_eq(consumed, 0); /* deferred, never inside the push */
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(consumed, 2);
	ck_assert(queue_push(q, it("c")));
	event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(consumed, 3);
	queue_free(q);
}
END_TEST

START_TEST(take_all_keeps_order_and_drops_pills)
{
	struct queue *q = make(10, 1 << 20, WHEN_FULL_BLOCK);
	ck_assert(queue_push(q, it("a")));
	ck_assert(queue_push(q, it("b")));
	queue_push_force(q, item_pill());
	struct item *list = queue_take_all(q);
	ck_assert_str_eq(list->data, "a");
	ck_assert_str_eq(list->next->data, "b");
	ck_assert_ptr_null(list->next->next);
	item_free(list->next);
	item_free(list);
	ck_assert_uint_eq(queue_len(q), 0);
	queue_free(q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fifo_order);
	tcase_add_test(tc, block_at_capacity);
	tcase_add_test(tc, block_at_bytes);
	tcase_add_test(tc, oversized_item_into_empty_queue);
	tcase_add_test(tc, drop_newest);
	tcase_add_test(tc, drop_oldest);
	tcase_add_test(tc, pills_ignore_bounds);
	tcase_add_test(tc, space_waiter_wakes_below_low_mark);
	tcase_add_test(tc, big_waiter_waits_until_it_fits);
	tcase_add_test(tc, cancelled_waiter_never_fires);
	tcase_add_test(tc, consumer_told_when_items_arrive);
	tcase_add_test(tc, take_all_keeps_order_and_drops_pills);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
