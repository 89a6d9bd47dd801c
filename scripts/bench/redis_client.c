/*
 * redis_client.c: the limit for the redis benchmark, a minimal hiredis client doing
 * what sluice's redis-stream kinds do, with nothing in between:
 *
 *   redis_client SOCK write STREAM FILE   XADD STREAM * item LINE for every line of
 *                                         FILE, pipelined 1000 at a time
 *   redis_client SOCK read STREAM GROUP N XGROUP CREATE (from 0), then XREADGROUP
 *                                         COUNT 1000 + one XACK of the ids read, until
 *                                         N entries were read and acked
 *   redis_client SOCK wait STREAM GROUP   until the group has read every entry and
 *                                         acked it (XINFO GROUPS: lag 0, pending 0)
 *
 * Exit 0 on success, 1 with a message on an error reply or a broken connection.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PIPELINE 1000

static void die(const char *what, const redisContext *c, const redisReply *r)
{
	fprintf(stderr, "redis_client: %s: %s\n", what,
		r != NULL && r->type == REDIS_REPLY_ERROR ? r->str
		: c->err				  ? c->errstr
							  : "unexpected reply");
	exit(1);
}

static void drain(redisContext *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		redisReply *r;
		if (redisGetReply(c, (void **)&r) != REDIS_OK || r->type == REDIS_REPLY_ERROR)
			die("XADD", c, r);
		freeReplyObject(r);
	}
}

static int do_write(redisContext *c, const char *stream, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, queued = 0;
	ssize_t len;

	if (f == NULL) {
		perror(path);
		return 1;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			len--;
		const char *argv[] = {"XADD", stream, "*", "item", line};
		size_t lens[] = {4, strlen(stream), 1, 4, (size_t)len};
		redisAppendCommandArgv(c, 5, argv, lens);
		if (++queued == PIPELINE) {
			drain(c, queued);
			queued = 0;
		}
	}
	drain(c, queued);
	free(line);
	fclose(f);
	return 0;
}

static int do_read(redisContext *c, const char *stream, const char *group, long n)
{
	redisReply *r = redisCommand(c, "XGROUP CREATE %s %s 0 MKSTREAM", stream, group);
	if (r == NULL || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0))
		die("XGROUP CREATE", c, r);
	freeReplyObject(r);
	const char **ack = malloc((PIPELINE + 3) * sizeof(*ack));
	long done = 0;
	while (done < n) {
		r = redisCommand(c, "XREADGROUP GROUP %s bench COUNT %d BLOCK 1000 STREAMS %s >",
				 group, PIPELINE, stream);
		if (r == NULL || r->type == REDIS_REPLY_ERROR)
			die("XREADGROUP", c, r);
		if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
			freeReplyObject(r);
			continue;
		}
		const redisReply *list = r->element[0]->element[1];
		ack[0] = "XACK";
		ack[1] = stream;
		ack[2] = group;
		for (size_t i = 0; i < list->elements; i++)
			ack[3 + i] = list->element[i]->element[0]->str;
		redisReply *a = redisCommandArgv(c, (int)list->elements + 3, ack, NULL);
		if (a == NULL || a->type == REDIS_REPLY_ERROR)
			die("XACK", c, a);
		freeReplyObject(a);
		done += (long)list->elements;
		freeReplyObject(r);
	}
	free(ack);
	return 0;
}

/* A field of an XINFO GROUPS entry ([k1, v1, k2, v2, ...]) as an integer; -1 if absent. */
static long long info_int(const redisReply *g, const char *key)
{
	for (size_t i = 0; i + 1 < g->elements; i += 2)
		if (g->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(g->element[i]->str, key) == 0 &&
		    g->element[i + 1]->type == REDIS_REPLY_INTEGER)
			return g->element[i + 1]->integer;
	return -1;
}

static int do_wait(redisContext *c, const char *stream, const char *group)
{
	struct timespec pause = {0, 1000000};
	for (;;) {
		redisReply *r = redisCommand(c, "XINFO GROUPS %s", stream);
		if (r == NULL)
			die("XINFO GROUPS", c, r);
		for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
			const redisReply *g = r->element[i];
			if (g->type == REDIS_REPLY_ARRAY && g->elements >= 2 &&
			    strcmp(g->element[1]->str, group) == 0 && info_int(g, "lag") == 0 &&
			    info_int(g, "pending") == 0) {
				freeReplyObject(r);
				return 0;
			}
		}
		freeReplyObject(r);
		nanosleep(&pause, NULL);
	}
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr,
			"usage: redis_client SOCK write STREAM FILE | read STREAM GROUP N | "
			"wait STREAM GROUP\n");
		return 64;
	}
	redisContext *c = redisConnectUnix(argv[1]);
	if (c == NULL || c->err) {
		fprintf(stderr, "redis_client: cannot connect to %s: %s\n", argv[1],
			c ? c->errstr : "out of memory");
		return 1;
	}
	int rc = 64;
	if (strcmp(argv[2], "write") == 0 && argc == 5)
		rc = do_write(c, argv[3], argv[4]);
	else if (strcmp(argv[2], "read") == 0 && argc == 6)
		rc = do_read(c, argv[3], argv[4], atol(argv[5]));
	else if (strcmp(argv[2], "wait") == 0 && argc == 5)
		rc = do_wait(c, argv[3], argv[4]);
	else
		fprintf(stderr, "redis_client: bad arguments\n");
	redisFree(c);
	return rc;
}
