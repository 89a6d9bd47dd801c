/*
 * Unit tests for the pipeline lifecycle table: every legal transition, and every
 * other refused.
 *
 * LINK: lifecycle.o log.o util.o
 */
#include <check.h>
#include <stdbool.h>

#include "lifecycle.h"

struct edge {
	enum lc_state from;
	enum lc_event ev;
	enum lc_state to;
};

/* The whole table, written out again: a transition added or lost shows here. */
static const struct edge legal[] = {
    {LC_STARTING, LC_START, LC_RUNNING},     {LC_STARTING, LC_CANCEL, LC_CANCELLING},
    {LC_RUNNING, LC_STOP, LC_STOPPING},	     {LC_RUNNING, LC_INPUT_ENDED, LC_DRAINING},
    {LC_RUNNING, LC_CANCEL, LC_CANCELLING},  {LC_STOPPING, LC_INPUT_ENDED, LC_STOPPING},
    {LC_STOPPING, LC_DRAINED, LC_STOPPED},   {LC_STOPPING, LC_CANCEL, LC_CANCELLING},
    {LC_DRAINING, LC_STOP, LC_STOPPING},     {LC_DRAINING, LC_DRAINED, LC_STOPPED},
    {LC_DRAINING, LC_CANCEL, LC_CANCELLING}, {LC_CANCELLING, LC_GIVE_UP, LC_GIVEN_UP},
    {LC_CANCELLING, LC_SPOOL, LC_SPOOLING},  {LC_CANCELLING, LC_HAND_OVER, LC_CLOSING_SINKS},
    {LC_GIVEN_UP, LC_SPOOL, LC_SPOOLING},    {LC_GIVEN_UP, LC_HAND_OVER, LC_CLOSING_SINKS},
    {LC_SPOOLING, LC_SPOOLED, LC_CANCELLED}, {LC_CLOSING_SINKS, LC_SINKS_CLOSED, LC_STOPPED},
};

static const struct edge *find(enum lc_state s, enum lc_event ev)
{
	for (size_t i = 0; i < sizeof(legal) / sizeof(legal[0]); i++)
		if (legal[i].from == s && legal[i].ev == ev)
			return &legal[i];
	return NULL;
}

START_TEST(table_is_exactly_the_legal_transitions)
{
	for (int s = 0; s < LC_N_STATES; s++)
		for (int ev = 0; ev < LC_N_EVENTS; ev++) {
			const struct edge *e = find(s, ev);
			int got = lifecycle_next(s, ev);
			ck_assert_msg(got == (e ? (int)e->to : -1), "%s on %s: got %d",
				      lifecycle_state_name(s), lifecycle_event_name(ev), got);
			ck_assert(lifecycle_allows(s, ev) == (e != NULL));
		}
}
END_TEST

START_TEST(step_moves_or_refuses)
{
	enum lc_state s = LC_STARTING;
	ck_assert(lifecycle_step(&s, LC_START, "t"));
	ck_assert_int_eq(s, LC_RUNNING);
	/* Refused: the state is left as it was. */
	ck_assert(!lifecycle_step(&s, LC_SPOOLED, "t"));
	ck_assert_int_eq(s, LC_RUNNING);
	ck_assert(!lifecycle_step(&s, LC_DRAINED, "t"));
	ck_assert(lifecycle_step(&s, LC_STOP, "t"));
	ck_assert(!lifecycle_step(&s, LC_STOP, "t")); /* a second stop is a cancel, not a stop */
	ck_assert(lifecycle_step(&s, LC_CANCEL, "t"));
	ck_assert(!lifecycle_step(&s, LC_CANCEL, "t"));
	ck_assert(lifecycle_step(&s, LC_SPOOL, "t"));
	ck_assert(lifecycle_step(&s, LC_SPOOLED, "t"));
	ck_assert_int_eq(s, LC_CANCELLED);
	/* Nothing leaves a finished state. */
	for (int ev = 0; ev < LC_N_EVENTS; ev++) {
		ck_assert(!lifecycle_allows(LC_CANCELLED, ev));
		ck_assert(!lifecycle_allows(LC_STOPPED, ev));
	}
	ck_assert_int_eq(lifecycle_next(LC_N_STATES, LC_START), -1);
	ck_assert_int_eq(lifecycle_next(LC_RUNNING, LC_N_EVENTS), -1);
}
END_TEST

START_TEST(every_state_is_reachable_and_can_finish)
{
	bool seen[LC_N_STATES] = {[LC_STARTING] = true};
	for (int round = 0; round < LC_N_STATES; round++)
		for (size_t i = 0; i < sizeof(legal) / sizeof(legal[0]); i++)
			if (seen[legal[i].from])
				seen[legal[i].to] = true;
	for (int s = 0; s < LC_N_STATES; s++)
		ck_assert_msg(seen[s], "%s is unreachable", lifecycle_state_name(s));
	/* From every state a finished one is reachable: no pipeline is stuck by the table. */
	for (int s = 0; s < LC_N_STATES; s++) {
		bool reach[LC_N_STATES] = {0};
		reach[s] = true;
		for (int round = 0; round < LC_N_STATES; round++)
			for (size_t i = 0; i < sizeof(legal) / sizeof(legal[0]); i++)
				if (reach[legal[i].from])
					reach[legal[i].to] = true;
		ck_assert_msg(reach[LC_STOPPED] || reach[LC_CANCELLED], "%s cannot finish",
			      lifecycle_state_name(s));
	}
}
END_TEST

START_TEST(views)
{
	ck_assert_str_eq(lifecycle_public_name(LC_STOPPING), "draining");
	ck_assert_str_eq(lifecycle_public_name(LC_DRAINING), "draining");
	ck_assert_str_eq(lifecycle_public_name(LC_GIVEN_UP), "cancelling");
	ck_assert_str_eq(lifecycle_public_name(LC_CANCELLED), "cancelling");
	ck_assert_str_eq(lifecycle_public_name(LC_STOPPED), "stopped");
	ck_assert(lifecycle_flowing(LC_STOPPING) && !lifecycle_flowing(LC_CANCELLING));
	ck_assert(lifecycle_cancelled(LC_CLOSING_SINKS) && !lifecycle_cancelled(LC_STOPPED));
	ck_assert(lifecycle_stop_requested(LC_STOPPING) && !lifecycle_stop_requested(LC_DRAINING));
	ck_assert(!lifecycle_stop_requested(LC_RUNNING));
	ck_assert(lifecycle_over(LC_CANCELLED) && lifecycle_over(LC_STOPPED));
	ck_assert(!lifecycle_over(LC_SPOOLING));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, table_is_exactly_the_legal_transitions);
	tcase_add_test(tc, step_moves_or_refuses);
	tcase_add_test(tc, every_state_is_reachable_and_can_finish);
	tcase_add_test(tc, views);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
