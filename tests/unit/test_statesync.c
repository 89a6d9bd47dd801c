/*
 * test_statesync.c: state files synced as journal.fsync says (statesync.c), with
 * fdatasync and fsync replaced by counting fakes that take 3 ms (a slow disk):
 * with batch, a file written every millisecond is synced at most once per 10 ms
 * window; with always, after writes; never two syncs of one file in flight at
 * once; the last write is always synced (freeing the object included); never
 * syncs nothing. A value file ends holding the newest value, replaced whole (no
 * temporary file left), the file and its directory fsync'ed unless never.
 *
 * LINK: statesync.o bio.o log.o util.o
 */
#include <check.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "statesync.h"

#define MAX_SYNCS 1024

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int n, inflight, most;
	double started[MAX_SYNCS];
} syncs;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The fakes: statesync.o and bio.o link to these rather than to libc's. */
static int fake_sync(void)
{
	pthread_mutex_lock(&lock);
	if (syncs.n < MAX_SYNCS)
		syncs.started[syncs.n] = now_ms();
	syncs.n++;
	if (++syncs.inflight > syncs.most)
		syncs.most = syncs.inflight;
	pthread_mutex_unlock(&lock);
	usleep(3000);
	pthread_mutex_lock(&lock);
	syncs.inflight--;
	pthread_mutex_unlock(&lock);
	return 0;
}

int fdatasync(int fd)
{
	(void)fd;
	return fake_sync();
}

int fsync(int fd)
{
	(void)fd;
	return fake_sync();
}

static char dir[64];

static void fresh_dir(void)
{
	strcpy(dir, "/tmp/sluice-statesync-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* --- an appended file written every millisecond ----------------------------------- */

static struct {
	struct event_base *base;
	struct event *tick;
	struct file_sync *fs;
	int fd, left;
	double last_write;
} w;

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	ck_assert_int_eq(write(w.fd, "x\n", 2), 2);
	w.last_write = now_ms();
	file_sync_written(w.fs, w.fd, false);
	if (--w.left == 0)
		event_base_loopexit(w.base, NULL);
}

static void run_writes(enum fsync_mode mode, int writes)
{
	char path[128];
	fresh_dir();
	snprintf(path, sizeof(path), "%s/in.checkpoint", dir);
	w.base = event_base_new();
	bio_init(w.base);
	w.fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	ck_assert_int_ge(w.fd, 0);
	w.fs = file_sync_new(w.base, mode, path);
	w.left = writes;
	w.tick = event_new(w.base, -1, EV_PERSIST, tick_cb, NULL);
	struct timeval ms = {0, 1000};
	event_add(w.tick, &ms);
	event_base_dispatch(w.base);
	event_free(w.tick);
	file_sync_free(w.fs); /* the last write is synced all the same */
	bio_shutdown();
	close(w.fd);
	event_base_free(w.base);
}

START_TEST(batch_one_sync_per_window)
{
	run_writes(FSYNC_BATCH, 200);
	ck_assert_int_ge(syncs.n, 2);
	ck_assert_int_le(syncs.n, MAX_SYNCS);
	ck_assert_int_eq(syncs.most, 1);
	/* A window opens only after the sync before it began; the last one, at the
	 * free, does not wait for a window. (9: the clock's and timer's rounding.) */
	for (int i = 1; i < syncs.n - 1; i++)
		ck_assert_msg(syncs.started[i] - syncs.started[i - 1] >= 9.0,
			      "syncs %d and %d began %.3f ms apart", i - 1, i,
			      syncs.started[i] - syncs.started[i - 1]);
	ck_assert(syncs.started[syncs.n - 1] >= w.last_write);
}
END_TEST

START_TEST(always_after_writes_one_at_a_time)
{
	run_writes(FSYNC_ALWAYS, 100);
	ck_assert_int_ge(syncs.n, 2);
	ck_assert_int_le(syncs.n, 101);
	ck_assert_int_eq(syncs.most, 1);
	ck_assert(syncs.started[syncs.n - 1] >= w.last_write);
}
END_TEST

START_TEST(never_syncs_nothing)
{
	run_writes(FSYNC_NEVER, 20);
	ck_assert_int_eq(syncs.n, 0);
}
END_TEST

/* --- a value file ------------------------------------------------------------------ */

static void set_values(enum fsync_mode mode, char *path, size_t len)
{
	fresh_dir();
	snprintf(path, len, "%s/generate.gen.next", dir);
	struct event_base *base = event_base_new();
	bio_init(base);
	struct value_file *v = value_file_new(mode, path);
	char text[32];
	for (int i = 1; i <= 50; i++) {
		snprintf(text, sizeof(text), "%020d\n", i);
		value_file_set(v, text);
	}
	value_file_free(v);
	bio_shutdown();
	event_base_free(base);
}

static void assert_holds_50(const char *path)
{
	char got[64] = "", tmp[160];
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(got, sizeof(got), f));
	fclose(f);
	ck_assert_str_eq(got, "00000000000000000050\n");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_int_ne(access(tmp, F_OK), 0);
}

START_TEST(value_file_newest_whole_and_synced)
{
	char path[128];
	set_values(FSYNC_BATCH, path, sizeof(path));
	assert_holds_50(path);
	/* The first value's job, then the newest (the 48 between are skipped): each
	 * syncs the new file and the directory. */
	ck_assert_int_ge(syncs.n, 2);
	ck_assert_int_le(syncs.n, 4);
	ck_assert_int_eq(syncs.most, 1);
}
END_TEST

START_TEST(value_file_never_no_sync)
{
	char path[128];
	set_values(FSYNC_NEVER, path, sizeof(path));
	assert_holds_50(path);
	ck_assert_int_eq(syncs.n, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("statesync");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, batch_one_sync_per_window);
	tcase_add_test(tc, always_after_writes_one_at_a_time);
	tcase_add_test(tc, never_syncs_nothing);
	tcase_add_test(tc, value_file_newest_whole_and_synced);
	tcase_add_test(tc, value_file_never_no_sync);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
