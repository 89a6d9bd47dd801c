/*
 * fuzz_http.c: the http source's request bodies (http_body_items in
 * source-http.c), as request_cb checks them against max_item_bytes and take()
 * queues them. Input: split mode (0 none, 1 lines, 2 nul), max_item_bytes
 * (0..255), then the body. The items must be the body itself: joined with the
 * delimiter they give it back (less one final delimiter); the check must stop at
 * the first item over max, the one take() would have queued.
 *
 * LINK: all (the loader, whose tables come from every kind: kinds.c)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "source.h"

struct got {
	char *buf;
	size_t len, items;
	const char *first_big;
	size_t first_big_len;
	uint64_t max;
	char delim;
};

static bool collect(void *arg, const char *p, size_t len)
{
	struct got *g = arg;
	if (g->items > 0)
		g->buf[g->len++] = g->delim;
	memcpy(g->buf + g->len, p, len);
	g->len += len;
	if (g->first_big == NULL && len > g->max) {
		g->first_big = p;
		g->first_big_len = len;
	}
	g->items++;
	return true;
}

static bool within(void *arg, const char *p, size_t len)
{
	return len <= *(const uint64_t *)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	static const enum split_mode modes[] = {SPLIT_NONE, SPLIT_LINES, SPLIT_NUL};
	enum split_mode split = modes[data[0] % 3];
	char delim = split == SPLIT_NUL ? '\0' : '\n';
	uint64_t max = data[1];
	size_t n = size - 2;
	/* A copy of exactly n bytes: ASan sees any read past the body. */
	char *body = malloc(n > 0 ? n : 1);
	memcpy(body, data + 2, n);
	struct got g = {.buf = malloc(n + 1), .max = max, .delim = delim};
	size_t len = 0;

	if (http_body_items(body, n, split, delim, collect, &g, &len) != NULL)
		abort();
	size_t want = n;
	if (n > 0 && body[n - 1] == (split == SPLIT_NONE ? '\n' : delim))
		want = n - 1;
	if (g.len != want || memcmp(g.buf, body, want) != 0)
		abort();
	if (split == SPLIT_NONE && g.items != 1)
		abort();

	const char *big = http_body_items(body, n, split, delim, within, &max, &len);
	if (big != g.first_big || (big != NULL && len != g.first_big_len))
		abort();
	free(g.buf);
	free(body);
	return 0;
}
