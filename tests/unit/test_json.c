/*
 * test_json.c: the JSON reader (json.c) on what the daemon's
 * `status json` holds, on every escape JSON allows, and on malformed input, which
 * must be refused whole (NULL), never half-read.
 *
 * LINK: json.o util.o
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

START_TEST(status_shape)
{
	struct json *j = json_parse(
	    "{\"pipeline\":\"p\",\"uptime_seconds\":1.5,\"done\":7,\"sources\":[{\"name\":\"a\","
	    "\"items\":3,\"held\":true}],\"stages\":[],\"previous_pipeline\":null}\n");
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_str(j, "pipeline", "?"), "p");
	ck_assert(json_num(j, "uptime_seconds", 0) == 1.5);
	ck_assert(json_num(j, "done", 0) == 7);
	ck_assert(json_num(j, "missing", -1) == -1);
	ck_assert_uint_eq(json_len(json_get(j, "sources")), 1);
	const struct json *a = json_at(json_get(j, "sources"), 0);
	ck_assert_str_eq(json_str(a, "name", "?"), "a");
	ck_assert(json_num(a, "held", 0) == 1);
	ck_assert_uint_eq(json_len(json_get(j, "stages")), 0);
	ck_assert_ptr_null(json_at(json_get(j, "stages"), 0));
	ck_assert_int_eq(json_get(j, "previous_pipeline")->type, JSON_NULL);
	/* Not an array / not an object: empty, never a crash. */
	ck_assert_uint_eq(json_len(json_get(j, "pipeline")), 0);
	ck_assert_ptr_null(json_get(a, "name")->keys);
	json_free(j);
}
END_TEST

START_TEST(escapes)
{
	struct json *j = json_parse("[\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\u20ac\", -1.25e2, false]");
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_at(j, 0)->string, "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac");
	ck_assert_uint_eq(json_at(j, 0)->string_len, strlen(json_at(j, 0)->string));
	ck_assert(json_at(j, 1)->number == -125);
	ck_assert_int_eq(json_at(j, 2)->type, JSON_BOOL);
	json_free(j);
}
END_TEST

START_TEST(malformed)
{
	static const char *const bad[] = {
	    "",	     "{",	 "{\"a\"}",   "{\"a\":}", "[1,]",	"[1 2]",
	    "\"abc", "\"\\x\"",	 "\"\\u12\"", "{1:2}",	  "tru",	"nul",
	    "{} {}", "\"a\nb\"", "-",	      "[",	  "{\"a\":1,}", "\"\\u00g0\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(json_parse(bad[i]) == NULL, "accepted: %s", bad[i]);
	/* Nesting is bounded: deep input is refused, not a stack overflow. */
	char deep[4096];
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	ck_assert_ptr_null(json_parse(deep));
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("json");
	tcase_add_test(tc, status_shape);
	tcase_add_test(tc, escapes);
	tcase_add_test(tc, malformed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(json_suite());
	int failed;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
