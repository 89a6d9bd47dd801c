/*
 * test_redis_stream.c: the Redis Streams reader and writer (redis-stream.c) against
 * a real redis-server started here on a unix socket. Reads stop at the caller's
 * credit; acks empty the pending list; a restarted consumer gets its own pending
 * entries first; an idle consumer's entries are claimed by another, and one
 * delivered too often or without the field is handed out as a problem; the writer
 * pipelines XADDs and sends again what had no reply when Redis comes back.
 *
 * LINK: redis-stream.o net.o util.o
 */
#include <check.h>
#include <event2/event.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "redis-stream.h"

static char dir[64], sock[128];
static pid_t server = -1;
static struct event_base *base;

static void start_server(void)
{
	server = fork();
	ck_assert_int_ge(server, 0);
	if (server == 0) {
		int null = open("/dev/null", 1);
		dup2(null, 1);
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock,
		       "--save", "", "--appendonly", "no", "--dir", dir, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) { /* up to 10 s */
		redisContext *c = redisConnectUnix(sock);
		bool ok = c != NULL && !c->err;
		redisFree(c);
		if (ok)
			return;
		usleep(10000);
	}
	ck_abort_msg("redis-server did not come up on %s", sock);
}

static void stop_server(void)
{
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
		server = -1;
	}
	unlink(sock);
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	strcpy(dir, "/tmp/sluice-redis-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/redis.sock", dir);
	start_server();
	base = event_base_new();
}

static void teardown(void)
{
	stop_server();
	event_base_free(base);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A synchronous command for setting up and looking: its integer or element count. */
static long long redis(const char *fmt, const char *a, const char *b)
{
	redisContext *c = redisConnectUnix(sock);
	ck_assert(c != NULL && !c->err);
	redisReply *r = redisCommand(c, fmt, a, b);
	ck_assert_ptr_nonnull(r);
	long long v = r->type == REDIS_REPLY_INTEGER ? r->integer
		      : r->type == REDIS_REPLY_ARRAY ? (long long)r->elements
						     : 0;
	/* XPENDING's summary: [count, ...] */
	if (strncmp(fmt, "XPENDING %s %s", 14) == 0 && strlen(fmt) == 14)
		v = r->element[0]->integer;
	freeReplyObject(r);
	redisFree(c);
	return v;
}

static void add_entries(int n, const char *field)
{
	for (int i = 0; i < n; i++) {
		char v[32];
		snprintf(v, sizeof(v), "item-%d", i);
		redis("XADD s * %s %s", field, v);
	}
}

struct seen {
	int n, problems;
	char ids[1200][32];
	char last_problem[200];
	bool up;
	int downs;
};

static void on_entry(void *arg, const char *id, const char *data, size_t len, const char *problem)
{
	struct seen *s = arg;
	ck_assert_int_lt(s->n, 1200);
	snprintf(s->ids[s->n++], 32, "%s", id);
	if (problem != NULL) {
		s->problems++;
		snprintf(s->last_problem, sizeof(s->last_problem), "%s", problem);
	} else {
		ck_assert_uint_ge(len, 6);
		ck_assert(memcmp(data, "item-", 5) == 0);
	}
}

static void on_link(void *arg, bool up, const char *why)
{
	struct seen *s = arg;
	s->up = up;
	s->downs += !up;
}

/* Runs the loop until *flag reaches want, or the limit (seconds); returns whether it did. */
struct wait {
	const int *value;
	int want;
};

static void check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wait *w = arg;
	if (*w->value >= w->want)
		event_base_loopbreak(base);
}

static bool run_until(const int *value, int want, int seconds)
{
	struct wait w = {value, want};
	struct event *tick = event_new(base, -1, EV_PERSIST, check_cb, &w);
	struct timeval every = {0, 10000}, limit = {seconds, 0};
	event_add(tick, &every);
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	event_free(tick);
	return *value >= want;
}

static void run_for(int msec)
{
	struct timeval tv = {msec / 1000, (msec % 1000) * 1000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static struct rstream_conf reader_conf(const char *consumer)
{
	return (struct rstream_conf){.address = sock,
				     .stream = "s",
				     .field = "item",
				     .group = "g",
				     .consumer = consumer,
				     .batch = 16,
				     .block_ms = 100,
				     .backoff_ms = 20,
				     .max_backoff_ms = 200};
}

START_TEST(reads_follow_credit_and_acks_clear)
{
	struct seen s = {0};
	add_entries(100, "item");
	struct rstream_conf rc = reader_conf("c1");
	struct rstream *r = rstream_reader_new(base, &rc, on_entry, on_link, &s);
	rstream_credit(r, 30);
	ck_assert(run_until(&s.n, 30, 10));
	run_for(300);
	ck_assert_int_eq(s.n, 30); /* no more than the credit */
	for (int i = 0; i < 30; i++)
		rstream_ack(r, s.ids[i]);
	rstream_credit(r, 70);
	ck_assert(run_until(&s.n, 100, 10));
	for (int i = 30; i < 100; i++)
		rstream_ack(r, s.ids[i]);
	for (int i = 0; i < 500 && rstream_unacked(r) > 0; i++)
		run_for(10);
	ck_assert_uint_eq(rstream_unacked(r), 0);
	ck_assert_int_eq(redis("XPENDING %s %s", "s", "g"), 0);
	ck_assert_int_eq(s.problems, 0);
	rstream_free(r);
}
END_TEST

START_TEST(own_pending_first_after_restart)
{
	struct seen s = {0}, s2 = {0};
	add_entries(40, "item");
	struct rstream_conf rc = reader_conf("c1");
	struct rstream *r = rstream_reader_new(base, &rc, on_entry, on_link, &s);
	rstream_credit(r, 10);
	ck_assert(run_until(&s.n, 10, 10));
	rstream_free(r); /* killed: 10 pending, never acked */
	ck_assert_int_eq(redis("XPENDING %s %s", "s", "g"), 10);

	r = rstream_reader_new(base, &rc, on_entry, on_link, &s2);
	rstream_credit(r, 100);
	ck_assert(run_until(&s2.n, 40, 10));
	for (int i = 0; i < 10; i++)
		ck_assert_str_eq(s2.ids[i], s.ids[i]);
	run_for(300);
	ck_assert_int_eq(s2.n, 40); /* each once */
	rstream_free(r);
}
END_TEST

START_TEST(claims_and_poison)
{
	struct seen a = {0}, b = {0}, c = {0};
	add_entries(5, "item");
	redis("XADD s * %s %s", "other", "x"); /* no 'item' field */
	struct rstream_conf rc = reader_conf("a");
	struct rstream *r = rstream_reader_new(base, &rc, on_entry, on_link, &a);
	rstream_credit(r, 6);
	ck_assert(run_until(&a.n, 6, 10));
	ck_assert_int_eq(a.problems, 1);
	ck_assert_msg(strstr(a.last_problem, "no field 'item'") != NULL, "%s", a.last_problem);
	rstream_ack(r, a.ids[5]);
	run_for(100);
	rstream_free(r); /* a dies with 5 entries pending */

	rc = reader_conf("b");
	rc.claim_idle_ms = 200;
	rc.max_deliveries = 2;
	r = rstream_reader_new(base, &rc, on_entry, on_link, &b);
	rstream_credit(r, 100);
	ck_assert(run_until(&b.n, 5, 10));
	ck_assert_int_eq(b.problems, 0); /* delivered twice: within max_deliveries */
	rstream_free(r);

	rc.consumer = "c";
	r = rstream_reader_new(base, &rc, on_entry, on_link, &c);
	rstream_credit(r, 100);
	ck_assert(run_until(&c.n, 5, 10));
	ck_assert_int_eq(c.problems, 5);
	ck_assert_msg(strstr(c.last_problem, "delivered 3 times, over max_deliveries (2)") != NULL,
		      "%s", c.last_problem);
	for (int i = 0; i < 5; i++)
		rstream_ack(r, c.ids[i]);
	for (int i = 0; i < 500 && rstream_unacked(r) > 0; i++)
		run_for(10);
	ck_assert_int_eq(redis("XPENDING %s %s", "s", "g"), 0);
	rstream_free(r);
}
END_TEST

struct written {
	int n;
	uint64_t next;
	bool in_order;
	bool up;
	int downs;
};

static void on_written(void *arg, uint64_t token)
{
	struct written *w = arg;
	if (token != w->next)
		w->in_order = false;
	w->next = token + 1;
	w->n++;
}

static void on_wlink(void *arg, bool up, const char *why)
{
	struct written *w = arg;
	w->up = up;
	w->downs += !up;
}

START_TEST(writer_pipelines_and_comes_back)
{
	struct written w = {.in_order = true};
	struct rstream_conf wc = {.address = sock,
				  .stream = "out",
				  .field = "item",
				  .max_in_flight = 16,
				  .backoff_ms = 20,
				  .max_backoff_ms = 200};
	struct rstream_writer *x = rstream_writer_new(base, &wc, on_written, on_wlink, &w);
	for (uint64_t i = 0; i < 1000; i++) {
		char v[32];
		int n = snprintf(v, sizeof(v), "rec-%d", (int)i);
		rstream_xadd(x, v, (size_t)n, i);
	}
	ck_assert(run_until(&w.n, 1000, 20));
	ck_assert(w.in_order);
	ck_assert_int_eq(redis("XLEN %s", "out", NULL), 1000);

	/* Redis goes away with records queued; they are written once it is back. */
	stop_server();
	for (uint64_t i = 1000; i < 1010; i++)
		rstream_xadd(x, "late", 4, i);
	run_for(200);
	ck_assert_int_ge(w.downs, 1);
	ck_assert_uint_eq(rstream_writer_pending(x), 10);
	start_server(); /* empty again: no persistence here */
	ck_assert(run_until(&w.n, 1010, 20));
	ck_assert(w.in_order);
	ck_assert_int_eq(redis("XLEN %s", "out", NULL), 10);
	rstream_writer_free(x);

	/* MAXLEN ~: the stream stays near its bound. */
	wc.maxlen = 100;
	wc.stream = "trimmed";
	w = (struct written){.in_order = true};
	x = rstream_writer_new(base, &wc, on_written, on_wlink, &w);
	for (uint64_t i = 0; i < 1000; i++)
		rstream_xadd(x, "r", 1, i);
	ck_assert(run_until(&w.n, 1000, 20));
	ck_assert_int_lt(redis("XLEN %s", "trimmed", NULL), 300);
	rstream_writer_free(x);
}
END_TEST

START_TEST(reader_survives_a_restart)
{
	struct seen s = {0};
	struct rstream_conf rc = reader_conf("c1");
	struct rstream *r = rstream_reader_new(base, &rc, on_entry, on_link, &s);
	rstream_credit(r, 1000);
	add_entries(5, "item");
	ck_assert(run_until(&s.n, 5, 10));
	stop_server();
	run_for(200);
	ck_assert_int_ge(s.downs, 1);
	start_server();
	add_entries(5, "item"); /* the group is made again on the new, empty server */
	ck_assert(run_until(&s.n, 10, 20));
	ck_assert(s.up);
	rstream_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("redis_stream");
	TCase *tc = tcase_create("redis_stream");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, reads_follow_credit_and_acks_clear);
	tcase_add_test(tc, own_pending_first_after_restart);
	tcase_add_test(tc, claims_and_poison);
	tcase_add_test(tc, writer_pipelines_and_comes_back);
	tcase_add_test(tc, reader_survives_a_restart);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
