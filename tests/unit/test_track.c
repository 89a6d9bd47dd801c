/*
 * test_track.c: completion tracking (track.c) and the sinks' record buffer
 * (recbuf.c): a record is reported once, when its last reference goes, with
 * the worst outcome any part of it had; a sink's buffer releases exactly the
 * records wholly confirmed and sends the rest again, whole, after a rewind.
 *
 * LINK: track.o recbuf.o item.o util.o
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "recbuf.h"
#include "track.h"

struct seen {
	uint64_t index[4096];
	int status[4096];
	void *token[4096];
	uint64_t start[4096], end[4096];
	uint32_t records[4096];
	size_t n;
};

static void done_cb(void *arg, const struct track_done *d)
{
	struct seen *s = arg;
	s->index[s->n] = d->index;
	s->status[s->n] = (int)d->status;
	s->token[s->n] = d->token;
	s->start[s->n] = d->start;
	s->end[s->n] = d->end;
	s->records[s->n] = d->records;
	s->n++;
}

static struct item *fresh(uint32_t source, uint64_t index)
{
	struct item *it = item_new("x", 1, index, source);
	it->index = index;
	return it;
}

START_TEST(done_once_at_last_reference)
{
	struct seen s = {0};
	int token;
	struct tracker *t = track_new(0, false, done_cb, &s);
	struct item *it = fresh(0, 1);
	track_item(t, it, &token, 100, 142);
	ck_assert_uint_ne(it->track, 0);
	/* a stage turns it into two results, then drops the input */
	struct item *a = item_derive(it, "a", 1), *b = item_derive(it, "b", 1);
	item_free(it);
	ck_assert_uint_eq(s.n, 0);
	/* a sink holds a reference to a's record after the item is freed */
	uint32_t a_track = a->track;
	track_retain_key(0, 1, a_track);
	item_free(a);
	item_free(b);
	ck_assert_uint_eq(s.n, 0);
	track_release_key(0, 1, a_track);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(s.index[0], 1);
	ck_assert_int_eq(s.status[0], TRACK_OK);
	ck_assert_ptr_eq(s.token[0], &token);
	ck_assert_uint_eq(s.start[0], 100); /* the byte range comes back with it */
	ck_assert_uint_eq(s.end[0], 142);
	ck_assert_uint_eq(track_in_flight(), 0);
	track_free(t);
}
END_TEST

START_TEST(worst_outcome_wins)
{
	struct seen s = {0};
	struct tracker *t = track_new(2, true, done_cb, &s);
	struct item *it = fresh(2, 7), *it2 = fresh(2, 8);
	track_item(t, it, NULL, 0, 0);
	track_item(t, it2, NULL, 0, 0);
	struct item *a = item_derive(it, "a", 1);
	track_failed(a);
	ck_assert(track_abandon(it)); /* a durable source keeps it */
	track_failed(it);	      /* failed does not undo abandoned */
	item_free(a);
	item_free(it);
	track_failed(it2);
	item_free(it2);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_int_eq(s.status[0], TRACK_ABANDONED);
	ck_assert_int_eq(s.status[1], TRACK_FAILED);
	track_free(t);
}
END_TEST

START_TEST(many_out_of_order_and_unregister)
{
	static struct seen s;
	memset(&s, 0, sizeof(s));
	struct tracker *t = track_new(1, false, done_cb, &s);
	static struct item *v[3000];
	for (uint64_t i = 0; i < 3000; i++) {
		v[i] = fresh(1, i + 1);
		track_item(t, v[i], NULL, 0, 0);
	}
	ck_assert_uint_eq(track_in_flight(), 3000);
	/* free odd ones first, backwards, then even ones */
	for (int i = 2999; i >= 0; i--)
		if (i % 2)
			item_free(v[i]);
	for (int i = 0; i < 3000; i += 2)
		if (i < 2000)
			item_free(v[i]);
	ck_assert_uint_eq(s.n, 1500 + 1000);
	for (size_t k = 0; k < s.n; k++)
		ck_assert_int_eq(s.status[k], TRACK_OK);
	/* unregistering forgets the rest: their frees report nothing */
	track_free(t);
	for (int i = 2000; i < 3000; i += 2)
		item_free(v[i]);
	ck_assert_uint_eq(s.n, 2500);
	ck_assert_uint_eq(track_in_flight(), 0);
}
END_TEST

/* A sink still holding a record its source forgot (a reload freed the tracker) must
 * not touch the record that now has the same entry. */
START_TEST(stale_holder_finds_nothing)
{
	struct seen s = {0};
	/* another source keeps the table alive across the reload */
	struct tracker *other = track_new(1, false, done_cb, &s);
	struct tracker *t = track_new(0, false, done_cb, &s);
	struct item *old = fresh(0, 1);
	track_item(t, old, NULL, 0, 0);
	uint32_t old_track = old->track;
	track_retain_key(0, 1, old_track); /* a sink holds it */
	track_free(t);
	item_free(old);
	t = track_new(0, false, done_cb, &s);
	struct item *fresh_one = fresh(0, 2);
	track_item(t, fresh_one, NULL, 0, 0);
	ck_assert_uint_eq(fresh_one->track, old_track); /* the entry is reused */
	track_abandon_key(0, 1, old_track);
	track_release_key(0, 1, old_track);
	ck_assert_uint_eq(s.n, 0);
	item_free(fresh_one);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_int_eq(s.status[0], TRACK_OK);
	ck_assert_uint_eq(s.index[0], 2);
	track_free(t);
	track_free(other);
}
END_TEST

START_TEST(untracked_items_are_free)
{
	struct item *it = fresh(0, 1);
	ck_assert(!track_abandon(it));
	track_failed(it);
	item_free(it);
	track_release_key(5, 5, 1); /* unknown: nothing */
	track_release_key(5, 5, 0);
}
END_TEST

/* Runs (a file's checkpoint): consecutive records share an entry and are done together. */
START_TEST(runs_are_done_together)
{
	struct seen s = {0};
	int token, other_token;
	struct tracker *t = track_new(0, true, done_cb, &s);
	track_set_run(t, 4);
	struct item *v[8];
	for (int i = 0; i < 6; i++) { /* records 1-6, 10 bytes each */
		v[i] = fresh(0, (uint64_t)i + 1);
		track_item(t, v[i], &token, (uint64_t)i * 10, (uint64_t)i * 10 + 10);
	}
	ck_assert_uint_eq(v[3]->track, v[0]->track); /* 1-4: one run */
	ck_assert_uint_ne(v[4]->track, v[0]->track); /* 5 starts the next */
	ck_assert_uint_eq(v[5]->track, v[4]->track);
	v[6] = fresh(0, 7); /* not adjacent to 6's bytes: a run of its own */
	track_item(t, v[6], &token, 75, 80);
	ck_assert_uint_ne(v[6]->track, v[5]->track);
	v[7] = fresh(0, 8); /* another token (another file): its own */
	track_item(t, v[7], &other_token, 80, 90);
	ck_assert_uint_ne(v[7]->track, v[6]->track);
	ck_assert_uint_eq(track_in_flight(), 4);
	/* a sink holds two references of run 1-4 (one item's, taken over, and another) */
	struct item *d = item_derive(v[1], "d", 1);
	uint32_t run = v[0]->track;
	track_retain_key(0, 2, run);
	track_failed(v[2]);
	for (int i = 0; i < 4; i++)
		item_free(v[i]);
	item_free(d);
	ck_assert_uint_eq(s.n, 0); /* the sink still holds it */
	track_release_refs(0, 2, run, 1);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(s.index[0], 1);
	ck_assert_uint_eq(s.records[0], 4);
	ck_assert_uint_eq(s.start[0], 0);
	ck_assert_uint_eq(s.end[0], 40);
	ck_assert_int_eq(s.status[0], TRACK_FAILED); /* the worst of its records */
	for (int i = 4; i < 8; i++)
		item_free(v[i]);
	ck_assert_uint_eq(s.n, 4);
	ck_assert_uint_eq(s.records[1], 2);
	ck_assert_uint_eq(s.start[1], 40);
	ck_assert_uint_eq(s.end[1], 60);
	ck_assert_uint_eq(track_in_flight(), 0);
	track_free(t);
}
END_TEST

/* While the joblog wants a line per record, no run forms, and a run has no line. */
static void no_hook(void *arg, const char *note, bool note_failed, enum track_status st)
{
}

START_TEST(no_runs_for_the_joblog)
{
	struct seen s = {0};
	struct tracker *t = track_new(0, true, done_cb, &s);
	track_set_run(t, 4);
	struct item *a = fresh(0, 1), *b = fresh(0, 2), *c = fresh(0, 3), *d = fresh(0, 4);
	track_item(t, a, NULL, 0, 2);
	track_item(t, b, NULL, 2, 4);
	ck_assert_uint_eq(a->track, b->track);
	ck_assert(!track_note(b, "2 ok", false)); /* written at once by the caller */
	track_set_hook(no_hook, NULL);
	track_item(t, c, NULL, 4, 6);
	track_item(t, d, NULL, 6, 8);
	ck_assert_uint_ne(c->track, b->track);
	ck_assert_uint_ne(d->track, c->track);
	ck_assert(track_note(c, "3 ok", false));
	track_set_hook(NULL, NULL);
	item_free(a);
	item_free(b);
	item_free(c);
	item_free(d);
	ck_assert_uint_eq(s.n, 3);
	track_free(t);
}
END_TEST

struct notes {
	char line[8][64];
	int status[8];
	bool failed[8];
	size_t n;
};

static void hook_cb(void *arg, const char *note, bool note_failed, enum track_status st)
{
	struct notes *n = arg;
	snprintf(n->line[n->n], sizeof(n->line[0]), "%s", note);
	n->failed[n->n] = note_failed;
	n->status[n->n++] = (int)st;
}

/* The joblog hook: every record tracked, its line handed over once, at its end. */
START_TEST(hook_gets_the_line_at_the_end)
{
	struct notes n = {0};
	track_set_hook(hook_cb, &n);
	ck_assert(track_hooked());
	/* no tracker of its own: tracked for the hook alone */
	struct item *it = fresh(3, 7), *other = fresh(3, 8), *gone = fresh(3, 9);
	track_item_hooked(it);
	track_item_hooked(other);
	track_item_hooked(gone);
	ck_assert_uint_ne(it->track, 0);
	struct item *a = item_derive(it, "a", 1), *b = item_derive(it, "b", 1);
	item_free(it);
	ck_assert(track_note(a, "7 ok", false));
	ck_assert(track_note(b, "7 failed", true));
	ck_assert(track_note(a, "7 ok again", false)); /* the failed line stays */
	track_retain_key(3, 7, a->track);	       /* a sink holds a's record */
	uint32_t a_track = a->track;
	item_free(a);
	item_free(b);
	ck_assert_uint_eq(n.n, 0);
	track_release_key(3, 7, a_track);
	ck_assert_uint_eq(n.n, 1);
	ck_assert_str_eq(n.line[0], "7 failed");
	ck_assert(n.failed[0]);
	ck_assert_int_eq(n.status[0], TRACK_OK); /* the line says how it failed */
	/* a line noted, then abandoned by a cancel: the hook hears it is abandoned */
	ck_assert(track_note(other, "8 ok", false));
	ck_assert(!track_abandon(other));
	item_free(other);
	ck_assert_uint_eq(n.n, 2);
	ck_assert_int_eq(n.status[1], TRACK_ABANDONED);
	/* no line noted: nothing for the hook */
	item_free(gone);
	ck_assert_uint_eq(n.n, 2);
	/* cleared: what is still tracked is forgotten (and freed) */
	struct item *left = fresh(3, 10);
	track_item_hooked(left);
	track_note(left, "10 ok", false);
	track_set_hook(NULL, NULL);
	ck_assert(!track_hooked());
	item_free(left);
	ck_assert_uint_eq(n.n, 2);
	ck_assert_uint_eq(track_in_flight(), 0);
}
END_TEST

static uint64_t journal_ids[16];
static size_t n_journal_ids;

static void journal_cb(uint64_t id)
{
	journal_ids[n_journal_ids++] = id;
}

/* The journal hears of done and failed records, never of abandoned ones (kept). */
START_TEST(journal_done_marks)
{
	n_journal_ids = 0;
	track_set_journal(journal_cb);
	struct item *ok = fresh(5, 1), *bad = fresh(5, 2), *left = fresh(5, 3),
		    *plain = fresh(5, 4);
	track_item_hooked(ok);
	track_item_hooked(bad);
	track_item_hooked(left);
	track_item_hooked(plain);
	ck_assert(track_journaled(ok, 11));
	ck_assert(track_journaled(bad, 12));
	ck_assert(track_journaled(left, 13));
	track_failed(bad);
	ck_assert(track_abandon(left));	  /* the journal keeps it for the next start */
	ck_assert(!track_abandon(plain)); /* not journaled: the caller spools it */
	item_free(ok);
	item_free(bad);
	item_free(left);
	item_free(plain);
	ck_assert_uint_eq(n_journal_ids, 2);
	ck_assert_uint_eq(journal_ids[0], 11);
	ck_assert_uint_eq(journal_ids[1], 12);
	ck_assert_uint_eq(track_in_flight(), 0);
	track_set_journal(NULL);
	struct item *after = fresh(5, 5);
	track_item_hooked(after); /* no hook, no journal: not tracked */
	ck_assert_uint_eq(after->track, 0);
	item_free(after);
}
END_TEST

START_TEST(recbuf_confirm_and_rewind)
{
	struct recbuf b = {0};
	recbuf_add(&b, "aaaa", 4); /* ends at 5 */
	recbuf_add(&b, "bb", 2);   /* ends at 8 */
	recbuf_add(&b, "", 0);	   /* ends at 9 */
	ck_assert_uint_eq(recbuf_records(&b), 3);
	ck_assert_uint_eq(recbuf_held(&b), 9);
	/* pretend 7 bytes were written: the first record is whole, the second is not */
	b.off = 7;
	ck_assert_uint_eq(recbuf_confirm(&b, 7), 1);
	ck_assert_uint_eq(recbuf_held(&b), 4);
	ck_assert_uint_eq(recbuf_confirmed_pos(&b), 5);
	/* the peer went away: the half-written record goes again from its start */
	recbuf_rewind(&b);
	ck_assert_uint_eq(recbuf_unwritten(&b), 4);
	ck_assert(memcmp(recbuf_data(&b), "bb\n\n", 4) == 0);
	/* nothing past what was written can be confirmed */
	ck_assert_uint_eq(recbuf_confirm(&b, 100), 0);
	recbuf_drop(&b, 2);
	ck_assert_uint_eq(recbuf_records(&b), 0);
	ck_assert_uint_eq(recbuf_held(&b), 0);
	recbuf_add(&b, "c", 1);
	ck_assert_uint_eq(recbuf_record_end(&b, 0), 11);
	ck_assert_uint_eq(recbuf_clear(&b), 1);
	recbuf_free(&b);
}
END_TEST

START_TEST(recbuf_grows_and_compacts)
{
	struct recbuf b = {0};
	char rec[1000];
	memset(rec, 'r', sizeof(rec));
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 300; i++)
			recbuf_add(&b, rec, sizeof(rec));
		b.off = b.len;
		ck_assert_uint_eq(recbuf_confirm_written(&b), 300);
		ck_assert_uint_eq(recbuf_held(&b), 0);
	}
	ck_assert_uint_eq(recbuf_confirmed_pos(&b), 50 * 300 * 1001);
	/* partly confirmed buffers compact on the next add */
	for (int i = 0; i < 200; i++)
		recbuf_add(&b, rec, sizeof(rec));
	b.off = b.len;
	ck_assert_uint_eq(recbuf_confirm(&b, recbuf_confirmed_pos(&b) + 100 * 1001 + 10), 100);
	for (int i = 0; i < 200; i++)
		recbuf_add(&b, rec, sizeof(rec));
	ck_assert_uint_eq(recbuf_records(&b), 300);
	ck_assert_uint_eq(recbuf_held(&b), 300 * 1001);
	recbuf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("track");
	TCase *tc = tcase_create("track");
	tcase_add_test(tc, done_once_at_last_reference);
	tcase_add_test(tc, worst_outcome_wins);
	tcase_add_test(tc, many_out_of_order_and_unregister);
	tcase_add_test(tc, stale_holder_finds_nothing);
	tcase_add_test(tc, runs_are_done_together);
	tcase_add_test(tc, no_runs_for_the_joblog);
	tcase_add_test(tc, untracked_items_are_free);
	tcase_add_test(tc, hook_gets_the_line_at_the_end);
	tcase_add_test(tc, journal_done_marks);
	suite_add_tcase(s, tc);
	tc = tcase_create("recbuf");
	tcase_add_test(tc, recbuf_confirm_and_rewind);
	tcase_add_test(tc, recbuf_grows_and_compacts);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
