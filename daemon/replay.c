/* replay.c: the spool read back at the first start (see replay.h). */
#include "replay.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "joblog.h"
#include "log.h"
#include "spool.h"
#include "track.h"
#include "util.h"

struct replay_ctx {
	struct replay_batch *b;
	struct item **tailp;
	struct spool_writer *merged;
	replay_intern_fn intern;
	struct done_set *done;
};

static void record_cb(void *arg, const struct spool_record *r)
{
	struct replay_ctx *ctx = arg;
	struct replay_batch *b = ctx->b;
	struct item *it = item_new(r->data, r->len, r->seq, ctx->intern(r->source));
	it->attempts = r->attempts;
	it->index = r->index;
	track_item_hooked(it);
	/* --resume: a record coming back from the spool is not read from its source again. */
	if (ctx->done != NULL)
		done_set_add(ctx->done, r->source, r->index, false);
	if (r->seq > b->max_seq)
		b->max_seq = r->seq;
	*ctx->tailp = it;
	ctx->tailp = &it->next;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->stage_of = xrealloc(b->stage_of, b->cap * sizeof(char *));
	}
	b->stage_of[b->n++] = xstrdup(r->stage);
	if (ctx->merged != NULL)
		spool_add(ctx->merged, r);
}

static void batch_free(struct replay_batch *b)
{
	struct item *it = b->head;
	while (it != NULL) {
		struct item *next = it->next;
		item_free(it);
		it = next;
	}
	for (size_t i = 0; i < b->n; i++)
		free(b->stage_of[i]);
	free(b->stage_of);
	*b = (struct replay_batch){0};
}

int replay_load(const char *spool, const char *replaying_path, uint64_t max_item_bytes,
		replay_intern_fn intern, struct done_set *done, struct replay_batch *b)
{
	char err[1024];
	struct replay_ctx ctx = {.b = b, .tailp = &b->head, .intern = intern, .done = done};
	bool spool_exists = access(spool, F_OK) == 0;
	char *merge_path = xasprintf("%s.merge", spool);
	long n_old, n_new = 0;

	*b = (struct replay_batch){0};
	if (spool_exists) {
		ctx.merged = spool_begin(merge_path, err, sizeof(err));
		if (ctx.merged == NULL) {
			log_error("%s", err);
			free(merge_path);
			return -1;
		}
	}
	n_old = spool_read(replaying_path, max_item_bytes, record_cb, &ctx, err, sizeof(err));
	if (n_old < 0)
		log_error("%s", err);
	if (spool_exists &&
	    (n_new = spool_read(spool, max_item_bytes, record_cb, &ctx, err, sizeof(err))) < 0)
		log_error("%s", err);
	if (ctx.merged != NULL) {
		/* One file holds everything being replayed before the spool itself goes. */
		if (spool_commit(ctx.merged, err, sizeof(err)) < 0 ||
		    rename(merge_path, replaying_path) < 0) {
			log_error("cannot set the spool aside for replay: %s", err);
			free(merge_path);
			batch_free(b);
			return -1;
		}
		if (n_new >= 0)
			unlink(spool);
	}
	free(merge_path);
	return 0;
}
