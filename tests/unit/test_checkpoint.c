/*
 * test_checkpoint.c: file source checkpoints (checkpoint.c). A restart continues
 * after the last record done in order and skips the ones done out of order; a
 * rotated or copy-truncated file starts from 0, a file moved whole continues; a torn
 * or damaged line costs that commit only; compaction keeps the file small and the
 * state whole.
 *
 * LINK: checkpoint.o crc32c.o util.o
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"

static char dir[64], state[128], input[128];

static void setup(void)
{
	strcpy(dir, "/tmp/sluice-ckpt-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(state, sizeof(state), "%s/src.ckpt", dir);
	snprintf(input, sizeof(input), "%s/input.log", dir);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static struct checkpoint *open_c(void)
{
	char err[512] = "";
	struct checkpoint *c = checkpoint_open(state, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

static void commit(struct checkpoint *c)
{
	char err[512] = "";
	ck_assert_msg(checkpoint_commit(c, err, sizeof(err)) == 0, "%s", err);
}

/* Tracks the input in a fresh checkpoint object: where a restart would read from. */
static uint64_t restart_pos(struct checkpoint **c)
{
	if (*c != NULL)
		checkpoint_close(*c);
	*c = open_c();
	int fd = open(input, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	uint64_t pos = checkpoint_track(*c, fd);
	close(fd);
	return pos;
}

/* Lines of 10 bytes: "line-0001\n"... */
static void ten_lines(const char *path)
{
	char text[101] = "";
	for (int i = 0; i < 10; i++)
		snprintf(text + 10 * i, 11, "line-%04d\n", i);
	write_file(path, text);
}

START_TEST(in_order_and_out_of_order)
{
	struct checkpoint *c = NULL;
	ten_lines(input);
	ck_assert_uint_eq(restart_pos(&c), 0);
	unsigned g = checkpoint_gen(c);
	checkpoint_done(c, g, 10, 20); /* before 0-10: held beyond the position */
	commit(c);
	ck_assert_uint_eq(restart_pos(&c), 0);
	ck_assert(checkpoint_skip(c, 10, 20));
	ck_assert(!checkpoint_skip(c, 20, 30));
	g = checkpoint_gen(c);
	checkpoint_done(c, g, 0, 10);
	checkpoint_done(c, g, 40, 50);
	checkpoint_done(c, g, 0, 10); /* twice: nothing more */
	ck_assert_uint_eq(checkpoint_position(c), 20);
	commit(c);
	ck_assert_uint_eq(restart_pos(&c), 20);
	ck_assert(checkpoint_skip(c, 40, 50));
	ck_assert(!checkpoint_skip(c, 30, 40));
	checkpoint_close(c);
}
END_TEST

START_TEST(rotation_and_copy_truncate_start_over)
{
	struct checkpoint *c = NULL;
	char moved[160];
	ten_lines(input);
	restart_pos(&c);
	checkpoint_done(c, checkpoint_gen(c), 0, 60);
	commit(c);
	ck_assert_uint_eq(restart_pos(&c), 60);

	/* Moved whole to another inode (a copy): it continues. */
	snprintf(moved, sizeof(moved), "%s.copy", input);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cp %s %s && mv %s %s", input, moved, moved, input);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_uint_eq(restart_pos(&c), 60);

	/* Rotated: a new file with other first bytes at the path. */
	snprintf(cmd, sizeof(cmd), "mv %s %s.1", input, input);
	ck_assert_int_eq(system(cmd), 0);
	write_file(input, "other-000\nother-001\n");
	ck_assert_uint_eq(restart_pos(&c), 0);

	/* Copy-truncate of the first file: shorter than its position. */
	snprintf(cmd, sizeof(cmd), "mv %s.1 %s", input, input);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_uint_eq(restart_pos(&c), 60);
	ck_assert_int_eq(truncate(input, 0), 0);
	write_file(input, "line-0000\nline-0001\n"); /* the same start, but too short */
	ck_assert_uint_eq(restart_pos(&c), 0);
	checkpoint_close(c);
}
END_TEST

START_TEST(torn_and_damaged_lines)
{
	struct checkpoint *c = NULL;
	ten_lines(input);
	restart_pos(&c);
	checkpoint_done(c, checkpoint_gen(c), 0, 30);
	commit(c);
	checkpoint_close(c);
	c = NULL;
	/* A crash mid-append: half a line at the end. */
	int fd = open(state, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "1234abcd 5 6 0", 14), 14);
	close(fd);
	ck_assert_uint_eq(restart_pos(&c), 30);
	checkpoint_done(c, checkpoint_gen(c), 30, 40);
	commit(c); /* appended after the cut, not onto the torn half */
	ck_assert_uint_eq(restart_pos(&c), 40);
	checkpoint_close(c);
	c = NULL;
	/* A flipped byte in the last line: the line before stands. */
	struct stat st;
	ck_assert_int_eq(stat(state, &st), 0);
	fd = open(state, O_RDWR);
	char ch;
	ck_assert_int_eq(pread(fd, &ch, 1, st.st_size - 3), 1);
	ch ^= 1;
	ck_assert_int_eq(pwrite(fd, &ch, 1, st.st_size - 3), 1);
	close(fd);
	ck_assert_uint_eq(restart_pos(&c), 30);
	checkpoint_close(c);
}
END_TEST

START_TEST(compaction_keeps_the_state)
{
	struct checkpoint *c = NULL;
	struct stat st;
	char big[20001];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 1000; i++)
		big[i * 20 + 19] = '\n';
	write_file(input, big);
	restart_pos(&c);
	unsigned g = checkpoint_gen(c);
	for (uint64_t i = 0; i < 1000; i += 2) {
		/* Every other record first: a dozen out of order at any time. */
		checkpoint_done(c, g, (i + 1) * 20, (i + 2) * 20);
		if (i >= 20)
			checkpoint_done(c, g, (i - 20) * 20, (i - 19) * 20);
		commit(c);
	}
	ck_assert_int_eq(stat(state, &st), 0);
	ck_assert_int_lt(st.st_size, 80 * 1024);
	uint64_t pos = checkpoint_position(c);
	ck_assert_uint_eq(restart_pos(&c), pos);
	ck_assert(checkpoint_skip(c, pos + 20, pos + 40));
	checkpoint_close(c);
}
END_TEST

/* How track found the file (the resume and replaced-file log lines), and the fsck check. */
START_TEST(match_kinds_and_check)
{
	struct checkpoint *c = NULL;
	ten_lines(input);
	ck_assert_uint_eq(restart_pos(&c), 0);
	ck_assert_int_eq(checkpoint_match(c), CHECKPOINT_NEW);
	checkpoint_done(c, checkpoint_gen(c), 0, 10);
	checkpoint_done(c, checkpoint_gen(c), 30, 40);
	commit(c);
	ck_assert_uint_eq(restart_pos(&c), 10);
	ck_assert_int_eq(checkpoint_match(c), CHECKPOINT_MATCHED);
	ck_assert_uint_eq(checkpoint_done_past(c), 10);
	char other[128];
	snprintf(other, sizeof(other), "%s/other", dir);
	write_file(other, "something else entirely\n");
	ck_assert_int_eq(rename(other, input), 0);
	ck_assert_uint_eq(restart_pos(&c), 0);
	ck_assert_int_eq(checkpoint_match(c), CHECKPOINT_REPLACED);
	checkpoint_close(c);

	struct checkpoint_report r;
	char err[512] = "";
	ck_assert_int_eq(checkpoint_check(state, false, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.bad_lines + r.torn_bytes, 0);
	FILE *f = fopen(state, "a");
	fputs("00000000 1 2 3 4 5 6\ntorn", f);
	fclose(f);
	ck_assert_int_eq(checkpoint_check(state, false, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.bad_lines, 1);
	ck_assert_uint_eq(r.first_bad, r.lines);
	ck_assert_uint_eq(r.torn_bytes, 4);
	ck_assert_int_eq(checkpoint_check(state, true, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(checkpoint_check(state, false, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r.bad_lines + r.torn_bytes, 0);
	ck_assert_uint_ge(r.lines, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("checkpoint");
	TCase *tc = tcase_create("checkpoint");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, in_order_and_out_of_order);
	tcase_add_test(tc, rotation_and_copy_truncate_start_over);
	tcase_add_test(tc, torn_and_damaged_lines);
	tcase_add_test(tc, compaction_keeps_the_state);
	tcase_add_test(tc, match_kinds_and_check);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
