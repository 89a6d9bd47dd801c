/*
 * test_journal.c: the write-ahead journal (journal.c) and its CRC-32C. Items come
 * back whole after a reopen unless they were marked done; a tail cut at every
 * byte offset and every byte flipped in turn leave a journal that opens, counts
 * the damage, and hands back only intact items; done segments are deleted oldest
 * first and never one that an older unfinished item pins; a write that fails (the
 * file size limit stands in for a full disk) keeps everything buffered.
 *
 * LINK: journal.o crc32c.o util.o
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "journal.h"

static char dir[64];

static void fresh_dir(void)
{
	strcpy(dir, "/tmp/sluice-journal-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rm_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

static int count_segments(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, "seg-", 4) == 0;
	closedir(d);
	return n;
}

/* The only segment file's path (the tests that damage one keep a single segment). */
static void only_segment(char *path, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, "seg-", 4) == 0) {
			snprintf(path, len, "%s/%s", dir, e->d_name);
			n++;
		}
	closedir(d);
	ck_assert_int_eq(n, 1);
}

static struct journal *open_j(uint64_t max_bytes, uint64_t seg_bytes, struct journal_recovery *rec)
{
	char err[512] = "";
	struct journal *j = journal_open(dir, max_bytes, seg_bytes, rec, err, sizeof(err));
	ck_assert_msg(j != NULL, "%s", err);
	return j;
}

static uint64_t append(struct journal *j, const char *stage, const char *data, uint64_t seq)
{
	struct spool_record r = {.seq = seq, .index = seq * 10, .attempts = 2};
	uint64_t id;
	snprintf(r.stage, sizeof(r.stage), "%s", stage);
	snprintf(r.source, sizeof(r.source), "src");
	r.data = data;
	r.len = strlen(data);
	ck_assert_int_eq(journal_append(j, &r, &id), 0);
	return id;
}

static void flush(struct journal *j)
{
	char err[512] = "";
	ck_assert_msg(journal_flush(j, err, sizeof(err)) == 0, "%s", err);
}

struct got {
	char data[64][64];
	uint64_t seq[64], ids[64];
	size_t n;
};

static void collect(void *arg, uint64_t id, const struct spool_record *r)
{
	struct got *g = arg;
	ck_assert_uint_lt(g->n, 64);
	ck_assert_uint_lt(r->len, sizeof(g->data[0]));
	ck_assert_str_eq(r->source, "src");
	ck_assert_uint_eq(r->index, r->seq * 10);
	ck_assert_uint_eq(r->attempts, 2);
	memcpy(g->data[g->n], r->data, r->len);
	g->data[g->n][r->len] = '\0';
	g->seq[g->n] = r->seq;
	g->ids[g->n++] = id;
}

static void replay(struct journal *j, struct got *g)
{
	char err[512] = "";
	memset(g, 0, sizeof(*g));
	ck_assert_msg(journal_replay(j, collect, g, err, sizeof(err)) >= 0, "%s", err);
}

START_TEST(crc32c_check_value)
{
	ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xe3069283u);
	char buf[1000];
	for (int i = 0; i < 1000; i++)
		buf[i] = (char)(i * 7);
	ck_assert_uint_eq(crc32c(0, buf, 1000), crc32c(crc32c(0, buf, 333), buf + 333, 667));
	ck_assert_uint_eq(crc32c(0, buf + 1, 999), crc32c(crc32c(0, buf + 1, 4), buf + 5, 995));
}
END_TEST

START_TEST(unfinished_items_come_back)
{
	struct journal_recovery rec;
	struct got g;
	fresh_dir();
	struct journal *j = open_j(1 << 20, 1 << 16, &rec);
	ck_assert_uint_eq(rec.items, 0);
	uint64_t a = append(j, "st1", "alpha", 1);
	append(j, "st1", "", 2);
	append(j, "st2", "gamma", 3);
	journal_done(j, a);
	journal_done(j, a); /* twice: ignored */
	flush(j);
	ck_assert_uint_eq(journal_items(j), 2);
	journal_close(j);

	j = open_j(1 << 20, 1 << 16, &rec);
	ck_assert_uint_eq(rec.items, 2);
	ck_assert_uint_eq(rec.torn_bytes + rec.damaged_bytes, 0);
	replay(j, &g);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_str_eq(g.data[0], "");
	ck_assert_uint_eq(g.seq[0], 2);
	ck_assert_str_eq(g.data[1], "gamma");
	/* Done after the restart: a third open finds nothing, and the files are gone. */
	journal_done(j, g.ids[0]);
	journal_done(j, g.ids[1]);
	uint64_t d = append(j, "st1", "delta", 4);
	flush(j);
	journal_close(j);
	j = open_j(1 << 20, 1 << 16, &rec);
	replay(j, &g);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_str_eq(g.data[0], "delta");
	ck_assert_uint_gt(g.ids[0], d - 1);
	journal_close(j);
	rm_dir();
}
END_TEST

/* Writes 5 items (the second done) into one segment and returns its size. */
static off_t five_items(void)
{
	struct journal_recovery rec;
	struct stat st;
	char path[512];
	struct journal *j = open_j(1 << 20, 1 << 16, &rec);
	const char *words[] = {"one", "two", "three", "four", "five"};
	for (int i = 0; i < 5; i++) {
		uint64_t id = append(j, "st", words[i], (uint64_t)i + 1);
		if (i == 1)
			journal_done(j, id);
	}
	flush(j);
	journal_close(j);
	only_segment(path, sizeof(path));
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

/* The only segment's path and its size bytes (the caller frees them). */
static char *segment_bytes(char *path, size_t len, off_t size)
{
	only_segment(path, len);
	char *whole = malloc((size_t)size);
	int fd = open(path, O_RDONLY);
	ck_assert_int_eq(read(fd, whole, (size_t)size), size);
	close(fd);
	return whole;
}

START_TEST(torn_tail_at_every_offset)
{
	char path[512];
	fresh_dir();
	off_t size = five_items();
	char *whole = segment_bytes(path, sizeof(path), size);
	int fd;

	size_t last_n = 0;
	for (off_t cut = 0; cut < size; cut++) {
		struct journal_recovery rec;
		struct got g;
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ck_assert_int_eq(write(fd, whole, (size_t)cut), cut);
		close(fd);
		struct journal *j = open_j(1 << 20, 1 << 16, &rec);
		replay(j, &g);
		/*
		 * The file holds item 1, item 2, done 2, items 3 to 5: a cut keeps a prefix,
		 * so items come back in order, and 2 (its done mark cut off) only before 3.
		 */
		for (size_t i = 0; i < g.n; i++) {
			ck_assert_uint_eq(g.seq[i], i + 1 + (i > 0 && g.seq[1] != 2));
			ck_assert(g.seq[i] != 2 || g.n == 2);
		}
		if (g.seq[1] != 2) {
			ck_assert_uint_ge(g.n, last_n);
			last_n = g.n;
		}
		ck_assert_uint_eq(rec.damaged_bytes, 0);
		journal_close(j);
		/* The damage was cut: the next open reports none. */
		j = open_j(1 << 20, 1 << 16, &rec);
		ck_assert_uint_eq(rec.torn_bytes, 0);
		journal_close(j);
		if (count_segments() == 0)
			continue; /* nothing was left to keep */
		only_segment(path, sizeof(path));
	}
	ck_assert_uint_eq(last_n, 3);
	free(whole);
	rm_dir();
}
END_TEST

START_TEST(every_byte_flipped)
{
	char path[512];
	fresh_dir();
	off_t size = five_items();
	char *whole = segment_bytes(path, sizeof(path), size);
	int fd;
	const char *words[] = {"one", "two", "three", "four", "five"};

	for (off_t at = 0; at < size; at++) {
		struct journal_recovery rec;
		struct got g;
		whole[at] ^= 0x5a;
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ck_assert_int_eq(write(fd, whole, (size_t)size), size);
		close(fd);
		whole[at] ^= 0x5a;
		struct journal *j = open_j(1 << 20, 1 << 16, &rec);
		replay(j, &g);
		ck_assert_uint_le(g.n, 4);
		for (size_t i = 0; i < g.n; i++)
			ck_assert_str_eq(g.data[i], words[g.seq[i] - 1]);
		/* Whatever was lost is counted. */
		if (g.n < 4 && g.n > 0)
			ck_assert_uint_gt(rec.torn_bytes, 0);
		journal_close(j);
		if (count_segments() == 1)
			only_segment(path, sizeof(path));
		else
			snprintf(path, sizeof(path), "%s/seg-0000000000000001.log", dir);
	}
	free(whole);
	rm_dir();
}
END_TEST

START_TEST(done_segments_deleted_oldest_first)
{
	struct journal_recovery rec;
	struct got g;
	fresh_dir();
	/* Segments of ~100 bytes: about one item each. */
	struct journal *j = open_j(1 << 20, 100, &rec);
	uint64_t ids[20];
	for (int i = 0; i < 20; i++) {
		ids[i] = append(j, "st", "0123456789012345678901234567890123456789", (uint64_t)i);
		flush(j);
	}
	int all = count_segments();
	ck_assert_int_ge(all, 10);
	/* Everything but the first item done: the first pins every segment. */
	for (int i = 1; i < 20; i++)
		journal_done(j, ids[i]);
	flush(j);
	ck_assert_int_ge(count_segments(), all);
	journal_done(j, ids[0]);
	flush(j);
	ck_assert_int_eq(count_segments(), 1);
	ck_assert_uint_eq(journal_items(j), 0);
	journal_close(j);
	j = open_j(1 << 20, 100, &rec);
	replay(j, &g);
	ck_assert_uint_eq(g.n, 0);
	journal_close(j);
	rm_dir();
}
END_TEST

START_TEST(full_until_done)
{
	struct journal_recovery rec;
	fresh_dir();
	struct journal *j = open_j(400, 100, &rec);
	uint64_t ids[8];
	int n = 0;
	while (!journal_full(j)) {
		ck_assert_int_lt(n, 8);
		ids[n] = append(j, "st", "0123456789012345678901234567890123456789", (uint64_t)n);
		n++;
		flush(j);
	}
	for (int i = 0; i < n; i++)
		journal_done(j, ids[i]);
	flush(j);
	append(j, "st", "x", 99); /* moves on to a new segment: the old ones go */
	flush(j);
	ck_assert(!journal_full(j));
	journal_close(j);
	rm_dir();
}
END_TEST

START_TEST(sync_marks)
{
	struct journal_recovery rec;
	struct journal_sync s;
	fresh_dir();
	struct journal *j = open_j(1 << 20, 1 << 16, &rec);
	ck_assert(!journal_sync_begin(j, &s) || (journal_sync_run(&s), journal_sync_end(j, &s), 1));
	append(j, "st", "a", 1);
	flush(j);
	ck_assert(journal_written(j) > journal_synced_mark(j));
	ck_assert(journal_sync_begin(j, &s));
	ck_assert_uint_ge(s.n, 2); /* the segment and the directory that gained it */
	journal_sync_run(&s);
	ck_assert_int_eq(s.err, 0);
	journal_sync_end(j, &s);
	ck_assert_uint_eq(journal_synced_mark(j), journal_written(j));
	ck_assert(!journal_sync_begin(j, &s));
	journal_close(j);
	rm_dir();
}
END_TEST

/* RLIMIT_FSIZE makes write(2) fail with EFBIG: a disk that is full for this file. */
START_TEST(failed_write_keeps_everything)
{
	struct journal_recovery rec;
	struct got g;
	struct rlimit old, lim;
	char err[512] = "";
	fresh_dir();
	signal(SIGXFSZ, SIG_IGN);
	struct journal *j = open_j(1 << 20, 1 << 20, &rec);
	append(j, "st", "first", 1);
	flush(j);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)journal_bytes(j) + 30; /* half of the next record fits */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	append(j, "st", "second item, longer than what fits", 2);
	ck_assert_int_eq(journal_flush(j, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot write the journal"));
	ck_assert(journal_pending(j));
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	flush(j);
	journal_close(j);
	j = open_j(1 << 20, 1 << 20, &rec);
	ck_assert_uint_eq(rec.torn_bytes, 0); /* the part written was cut at the failure */
	replay(j, &g);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_str_eq(g.data[1], "second item, longer than what fits");
	journal_close(j);
	rm_dir();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("journal");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, crc32c_check_value);
	tcase_add_test(tc, unfinished_items_come_back);
	tcase_add_test(tc, torn_tail_at_every_offset);
	tcase_add_test(tc, every_byte_flipped);
	tcase_add_test(tc, done_segments_deleted_oldest_first);
	tcase_add_test(tc, full_until_done);
	tcase_add_test(tc, sync_marks);
	tcase_add_test(tc, failed_write_keeps_everything);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
