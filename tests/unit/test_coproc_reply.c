/*
 * test_coproc_reply.c: where a co-process's answer ends (coproc-reply.c), with
 * the inputs an untrusted child can send: lengths of -1, past max_item_bytes,
 * past 2^64, not a number, "\n-1" (which strtoull reads across the newline),
 * and lines that never end. And the item allocation underneath: a length that
 * would wrap the header arithmetic aborts, never allocates a small block.
 *
 * LINK: coproc-reply.o item.o json.o track.o util.o
 */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coproc-reply.h"
#include "item.h"

static enum coproc_reply_verdict parse(const char *s, bool length, uint64_t max,
				       struct coproc_reply *r)
{
	return coproc_reply_parse(s, strlen(s), length, max, r);
}

START_TEST(length_valid)
{
	struct coproc_reply r;
	ck_assert_int_eq(parse("5\nhello", true, 100, &r), COPROC_REPLY_OK);
	ck_assert_uint_eq(r.start, 2);
	ck_assert_uint_eq(r.len, 5);
	ck_assert_uint_eq(r.consumed, 7);
	ck_assert_int_eq(parse("0\n", true, 100, &r), COPROC_REPLY_OK);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_uint_eq(r.consumed, 2);
	ck_assert_int_eq(parse("007\nabcdefg", true, 100, &r), COPROC_REPLY_OK);
	ck_assert_uint_eq(r.len, 7);
	ck_assert_uint_eq(r.consumed, 11);
	/* exactly max is fine */
	ck_assert_int_eq(parse("3\nabc", true, 3, &r), COPROC_REPLY_OK);
	/* a following answer is not consumed */
	ck_assert_int_eq(parse("1\na1\nb", true, 100, &r), COPROC_REPLY_OK);
	ck_assert_uint_eq(r.consumed, 3);
}
END_TEST

START_TEST(length_incomplete)
{
	struct coproc_reply r;
	ck_assert_int_eq(parse("", true, 100, &r), COPROC_REPLY_MORE);
	ck_assert_int_eq(parse("1", true, 100, &r), COPROC_REPLY_MORE);
	ck_assert_int_eq(parse("10\nabc", true, 100, &r), COPROC_REPLY_MORE);
	ck_assert_int_eq(parse("00000000000000000001", true, 100, &r), COPROC_REPLY_MORE);
}
END_TEST

START_TEST(length_hostile)
{
	struct coproc_reply r;
	ck_assert_int_eq(parse("-1\n", true, 100, &r), COPROC_REPLY_BAD);
	ck_assert_ptr_nonnull(r.why);
	ck_assert_int_eq(parse("-1", true, 100, &r), COPROC_REPLY_BAD);
	ck_assert_int_eq(parse("\n-1", true, 100, &r), COPROC_REPLY_BAD);
	ck_assert_int_eq(parse("\n", true, 100, &r), COPROC_REPLY_BAD);
	ck_assert_int_eq(parse(" 5\nhello", true, 100, &r), COPROC_REPLY_BAD);
	ck_assert_int_eq(parse("+5\nhello", true, 100, &r), COPROC_REPLY_BAD);
	ck_assert_int_eq(parse("5 \nhello", true, 100, &r), COPROC_REPLY_BAD);
	ck_assert_int_eq(parse("5\r\nhello", true, 100, &r), COPROC_REPLY_BAD);
	ck_assert_int_eq(parse("0x10\n", true, 100, &r), COPROC_REPLY_BAD);
	ck_assert_int_eq(parse("hello world\n", true, 100, &r), COPROC_REPLY_BAD);
	/* 21 digits: no valid header is that long, whatever the value */
	ck_assert_int_eq(parse("000000000000000000001\nx", true, 100, &r), COPROC_REPLY_BAD);
	ck_assert_int_eq(parse("101\n", true, 100, &r), COPROC_REPLY_TOO_LARGE);
	ck_assert_ptr_nonnull(r.why);
	/* decided before the newline or the bytes arrive */
	ck_assert_int_eq(parse("101", true, 100, &r), COPROC_REPLY_TOO_LARGE);
	ck_assert_int_eq(parse("18446744073709551615\n", true, 100, &r), COPROC_REPLY_TOO_LARGE);
	ck_assert_int_eq(parse("18446744073709551616\n", true, UINT64_MAX, &r),
			 COPROC_REPLY_TOO_LARGE);
	ck_assert_int_eq(parse("99999999999999999999\n", true, UINT64_MAX, &r),
			 COPROC_REPLY_TOO_LARGE);
}
END_TEST

START_TEST(lines)
{
	struct coproc_reply r;
	ck_assert_int_eq(parse("abc\n", false, 100, &r), COPROC_REPLY_OK);
	ck_assert_uint_eq(r.start, 0);
	ck_assert_uint_eq(r.len, 3);
	ck_assert_uint_eq(r.consumed, 4);
	ck_assert_int_eq(parse("\n", false, 100, &r), COPROC_REPLY_OK);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_int_eq(parse("abc", false, 100, &r), COPROC_REPLY_MORE);
	ck_assert_int_eq(parse("abc\n", false, 3, &r), COPROC_REPLY_OK);
	ck_assert_int_eq(parse("abcd\n", false, 3, &r), COPROC_REPLY_TOO_LARGE);
	ck_assert_int_eq(parse("abcd", false, 3, &r), COPROC_REPLY_TOO_LARGE);
	ck_assert_int_eq(parse("abc", false, 3, &r), COPROC_REPLY_MORE);
	ck_assert_int_eq(parse("ab\ncd\n", false, 3, &r), COPROC_REPLY_OK);
	ck_assert_uint_eq(r.consumed, 3);
}
END_TEST

/* The contract the caller's buffer relies on: MORE never past max + HEAD_MAX. */
START_TEST(more_is_bounded)
{
	static char buf[200];
	struct coproc_reply r;
	const uint64_t max = 50;
	memset(buf, '7', sizeof(buf));
	for (size_t n = 0; n <= sizeof(buf); n++) {
		for (int length = 0; length < 2; length++) {
			if (coproc_reply_parse(buf, n, length, max, &r) == COPROC_REPLY_MORE)
				ck_assert_uint_le(n, max + COPROC_REPLY_HEAD_MAX);
		}
	}
	memcpy(buf, "50\n", 3);
	memset(buf + 3, 'x', sizeof(buf) - 3);
	for (size_t n = 0; n <= sizeof(buf); n++)
		if (coproc_reply_parse(buf, n, true, max, &r) == COPROC_REPLY_MORE)
			ck_assert_uint_le(n, max + COPROC_REPLY_HEAD_MAX);
}
END_TEST

/* framing: json: the id must echo the request's; result or error, as strings. */
START_TEST(json_answers)
{
	struct coproc_json_reply r;
	const char ok[] = "{\"id\":7,\"result\":\"a\\u0000b\\n\"}";
	ck_assert_int_eq(coproc_reply_json(ok, strlen(ok), 7, &r), COPROC_JSON_RESULT);
	ck_assert_uint_eq(r.len, 4);
	ck_assert_mem_eq(r.data, "a\0b\n", 4);
	free(r.data);
	const char err[] = "{\"result\":null,\"error\":\"no such tag\",\"id\":7}";
	ck_assert_int_eq(coproc_reply_json(err, strlen(err), 7, &r), COPROC_JSON_ERROR);
	ck_assert_str_eq(r.data, "no such tag");
	free(r.data);
	static const char *const bad[] = {
	    "{\"id\":8,\"result\":\"x\"}", /* out of step */
	    "{\"result\":\"x\"}",	   /* no id */
	    "{\"id\":\"7\",\"result\":\"x\"}",
	    "{\"id\":7,\"result\":5}",
	    "{\"id\":7}",
	    "[7,\"x\"]",
	    "x",
	    "",
	    "{\"id\":-1,\"result\":\"x\"}",
	    "{\"id\":7,\"result\":\"x\"} trailing",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(coproc_reply_json(bad[i], strlen(bad[i]), 7, &r) == COPROC_JSON_BAD,
			      "accepted: %s", bad[i]);
		ck_assert_ptr_null(r.data);
		ck_assert(r.why[0] != '\0');
	}
	ck_assert_ptr_nonnull(
	    strstr((coproc_reply_json(bad[0], strlen(bad[0]), 7, &r), r.why), "out of step"));
	/* A NUL inside the line is not JSON text. */
	ck_assert_int_eq(coproc_reply_json("{\"id\":7,\0\"result\":\"x\"}", 20, 7, &r),
			 COPROC_JSON_BAD);
}
END_TEST

START_TEST(describe)
{
	char out[256];
	coproc_reply_describe("-1\n", 3, out, sizeof(out));
	ck_assert_str_eq(out, "\"-1\\n\" (3 bytes)");
	coproc_reply_describe("a\"\\\x01\xff", 5, out, sizeof(out));
	ck_assert_str_eq(out, "\"a\\\"\\\\\\x01\\xff\" (5 bytes)");
	char big[100];
	memset(big, 'z', sizeof(big));
	coproc_reply_describe(big, sizeof(big), out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "...\" (100 bytes)"));
	coproc_reply_describe(big, 1, out, sizeof(out));
	ck_assert_str_eq(out, "\"z\" (1 byte)");
	/* a small buffer is cut, never overrun */
	coproc_reply_describe(big, sizeof(big), out, 8);
	ck_assert_uint_eq(strlen(out), 7);
}
END_TEST

START_TEST(item_len_cannot_wrap)
{
	/* sizeof(struct item) + len + 1 would wrap to a few bytes: must abort instead */
	static const char x[1];
	item_new(x, SIZE_MAX - sizeof(struct item), 1, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("coproc_reply");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, length_valid);
	tcase_add_test(tc, json_answers);
	tcase_add_test(tc, length_incomplete);
	tcase_add_test(tc, length_hostile);
	tcase_add_test(tc, lines);
	tcase_add_test(tc, more_is_bounded);
	tcase_add_test(tc, describe);
	suite_add_tcase(s, tc);
	tc = tcase_create("item");
	tcase_add_test_raise_signal(tc, item_len_cannot_wrap, SIGABRT);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
