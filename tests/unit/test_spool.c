/*
 * test_spool.c: spool files (spool.c) read back: names of the longest allowed
 * length (CONF_NAME_MAX) and binary data survive a round trip whole; damage of
 * any kind (lengths of -1, over max_len, past the end of the file, fields that
 * are not plain digits, a wrong count) is set aside whole: no record is handed
 * out, the file is moved to PATH.corrupt-TIME, and nothing is allocated beyond
 * the file's size.
 *
 * LINK: spool.o bio.o log.o util.o
 */
#include <check.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "spool.h"

struct got {
	struct spool_record r[8];
	char data[8][64];
	size_t n;
};

static void collect(void *arg, const struct spool_record *r)
{
	struct got *g = arg;
	ck_assert_uint_lt(g->n, 8);
	g->r[g->n] = *r;
	ck_assert_uint_le(r->len, sizeof(g->data[0]));
	memcpy(g->data[g->n], r->data, r->len);
	g->r[g->n].data = g->data[g->n];
	g->n++;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void remove_aside(const char *path)
{
	glob_t gl;
	char pat[256];
	snprintf(pat, sizeof(pat), "%s.corrupt-*", path);
	if (glob(pat, 0, NULL, &gl) == 0) {
		for (size_t i = 0; i < gl.gl_pathc; i++)
			unlink(gl.gl_pathv[i]);
		globfree(&gl);
	}
}

START_TEST(round_trip_long_names)
{
	char err[512] = "";
	struct got g = {0};
	struct spool_record r = {.seq = 7, .index = 3, .attempts = 2};
	static const char data[] = "bin\0ary\nE 0\nR x y 1 1 1 1\n";
	memset(r.stage, 's', CONF_NAME_MAX);
	memset(r.source, 'o', CONF_NAME_MAX);
	r.data = data;
	r.len = sizeof(data);
	struct spool_writer *w = spool_begin("t.spool", err, sizeof(err));
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(spool_add(w, &r), 0);
	r.len = 0;
	ck_assert_int_eq(spool_add(w, &r), 0);
	ck_assert_int_eq(spool_commit(w, err, sizeof(err)), 0);
	ck_assert_int_eq(spool_read("t.spool", 100, collect, &g, err, sizeof(err)), 2);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_uint_eq(strlen(g.r[0].stage), CONF_NAME_MAX);
	ck_assert_str_eq(g.r[0].stage, r.stage);
	ck_assert_str_eq(g.r[0].source, r.source);
	ck_assert_uint_eq(g.r[0].seq, 7);
	ck_assert_uint_eq(g.r[0].index, 3);
	ck_assert_uint_eq(g.r[0].attempts, 2);
	ck_assert_uint_eq(g.r[0].len, sizeof(data));
	ck_assert_mem_eq(g.r[0].data, data, sizeof(data));
	ck_assert_uint_eq(g.r[1].len, 0);
	unlink("t.spool");
}
END_TEST

/* Each of these is damage: -1 back, nothing handed out, the file set aside. */
static const char *const damaged[] = {
    "SLUICE-SPOOL 1\nR a b 1 1 0 1099511627776\nxx\nE 1\n",	   /* 1 TiB */
    "SLUICE-SPOOL 1\nR a b 1 1 0 101\nxx\nE 1\n",		   /* over max_len */
    "SLUICE-SPOOL 1\nR a b 1 1 0 50\nxx\nE 1\n",		   /* past the end */
    "SLUICE-SPOOL 1\nR a b 1 1 0 -1\nxx\nE 1\n",		   /* -1 */
    "SLUICE-SPOOL 1\nR a b 1 1 0 18446744073709551615\nxx\nE 1\n", /* 2^64 - 1 */
    "SLUICE-SPOOL 1\nR a b 1 1 0 99999999999999999999999\nxx\nE 1\n",
    "SLUICE-SPOOL 1\nR a b 1 1 0  2\nxx\nE 1\n", /* " 2" */
    "SLUICE-SPOOL 1\nR a b 1 1 0 +2\nxx\nE 1\n",
    "SLUICE-SPOOL 1\nR a b 1 1 0 2 \nxx\nE 1\n",
    "SLUICE-SPOOL 1\nR a b 1 1 4294967296 2\nxx\nE 1\n",	   /* attempts > 2^32 - 1 */
    "SLUICE-SPOOL 1\nR a b 18446744073709551615 1 0 2\nxx\nE 1\n", /* seq would wrap */
    "SLUICE-SPOOL 1\nR a  b 1 1 0 2\nxx\nE 1\n",
    "SLUICE-SPOOL 1\nR a b 1 1 0\nxx\nE 1\n",
    "SLUICE-SPOOL 1\nR a b 1 1 0 2\nxxE 1\n", /* no newline after the data */
    "SLUICE-SPOOL 1\nR a b 1 1 0 2\nxx\nE -1\n",
    "SLUICE-SPOOL 1\nR a b 1 1 0 2\nxx\nE 2\n",
    "SLUICE-SPOOL 1\nR a b 1 1 0 2\nxx\nE 1\nmore",
    "SLUICE-SPOOL 1\nR a b 1 1 0 2\nxx\n",
    "SLUICE-SPOOL 1\n",
    "SLUICE-SPOOL 2\nE 0\n",
    "",
};

START_TEST(damage_is_set_aside)
{
	const char *text = damaged[_i];
	char err[512] = "";
	struct got g = {0};
	put("d.spool", text);
	ck_assert_int_eq(spool_read("d.spool", 100, collect, &g, err, sizeof(err)), -1);
	ck_assert_uint_eq(g.n, 0);
	ck_assert_ptr_nonnull(strstr(err, "is damaged"));
	ck_assert_int_ne(access("d.spool", F_OK), 0);
	remove_aside("d.spool");
}
END_TEST

START_TEST(over_max_len_says_so)
{
	char err[512] = "";
	struct got g = {0};
	put("m.spool", damaged[1]);
	ck_assert_int_eq(spool_read("m.spool", 100, collect, &g, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "a record of 101 bytes, over max_item_bytes (100)"));
	remove_aside("m.spool");
}
END_TEST

START_TEST(good_by_hand)
{
	char err[512] = "";
	struct got g = {0};
	put("g.spool", "SLUICE-SPOOL 1\nR a b 1 2 3 2\nxx\nR @sinks b 9 9 0 0\n\nE 2\n");
	ck_assert_int_eq(spool_read("g.spool", 2, collect, &g, err, sizeof(err)), 2);
	ck_assert_str_eq(g.r[1].stage, "@sinks");
	ck_assert_int_eq(spool_read("missing.spool", 2, collect, &g, err, sizeof(err)), 0);
	unlink("g.spool");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("spool");
	tcase_add_test(tc, round_trip_long_names);
	tcase_add_loop_test(tc, damage_is_set_aside, 0, sizeof(damaged) / sizeof(damaged[0]));
	tcase_add_test(tc, over_max_len_says_so);
	tcase_add_test(tc, good_by_hand);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
