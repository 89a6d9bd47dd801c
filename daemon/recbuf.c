/* recbuf.c: a sink's output buffer of whole records (see recbuf.h). */
#include "recbuf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define MIN_CAP (128 * 1024)

void recbuf_ring_grow(struct recbuf *b)
{
	size_t cap = b->rcap ? b->rcap * 2 : 1024;
	uint64_t *v = xmalloc(cap * sizeof(*v));
	struct recbuf_meta *mv = b->keep_meta ? xmalloc(cap * sizeof(*mv)) : NULL;
	for (size_t i = 0; i < b->rn; i++) {
		v[i] = b->ends[(b->rhead + i) & (b->rcap - 1)];
		if (mv != NULL)
			mv[i] = b->meta[(b->rhead + i) & (b->rcap - 1)];
	}
	free(b->ends);
	free(b->meta);
	b->ends = v;
	b->meta = mv;
	b->rhead = 0;
	b->rcap = cap;
}

void recbuf_reserve(struct recbuf *b, size_t n)
{
	if (b->len + n <= b->cap)
		return;
	if (b->keep > 0) {
		/* Confirmed bytes at the front go first: no growth while the peer keeps up. */
		memmove(b->p, b->p + b->keep, b->len - b->keep);
		b->base += b->keep;
		b->off -= b->keep;
		b->len -= b->keep;
		b->keep = 0;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : MIN_CAP;
		while (cap < b->len + n)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
}

void recbuf_add_meta(struct recbuf *b, const char *data, size_t n, const struct recbuf_meta *m)
{
	recbuf_add(b, data, n);
	if (b->meta != NULL && m != NULL)
		b->meta[(b->rhead + b->rn - 1) & (b->rcap - 1)] = *m;
}

ssize_t recbuf_write(struct recbuf *b, int fd)
{
	ssize_t n = write(fd, b->p + b->off, b->len - b->off);
	if (n > 0)
		b->off += (size_t)n;
	return n;
}

uint64_t recbuf_confirm(struct recbuf *b, uint64_t pos)
{
	uint64_t n = 0, end = 0;
	if (pos > b->base + b->off)
		pos = b->base + b->off;
	if (pos == b->base + b->len && b->len > 0) {
		/* All written and confirmed (a file, usually): no need to walk the ends. */
		n = b->rn;
		b->rn = 0;
		b->rhead = 0;
		b->base += b->len;
		b->keep = b->off = b->len = 0;
		return n;
	}
	while (b->rn > 0 && (end = b->ends[b->rhead]) <= pos) {
		b->rhead = (b->rhead + 1) & (b->rcap - 1);
		b->rn--;
		n++;
		b->keep = (size_t)(end - b->base);
	}
	if (b->keep == b->len) {
		/* Everything confirmed: start again at the front, no memmove. */
		b->base += b->len;
		b->keep = b->off = b->len = 0;
	}
	return n;
}

uint64_t recbuf_confirm_written(struct recbuf *b)
{
	return recbuf_confirm(b, b->base + b->off);
}

void recbuf_drop(struct recbuf *b, size_t n)
{
	if (n == 0 || n > b->rn)
		return;
	uint64_t pos = b->ends[(b->rhead + n - 1) & (b->rcap - 1)];
	if (b->base + b->off < pos)
		b->off = (size_t)(pos - b->base);
	recbuf_confirm(b, pos);
}

void recbuf_rewind(struct recbuf *b)
{
	b->off = b->keep;
}

uint64_t recbuf_clear(struct recbuf *b)
{
	uint64_t n = b->rn;
	b->base += b->len;
	b->keep = b->off = b->len = 0;
	b->rn = 0;
	b->rhead = 0;
	return n;
}

void recbuf_free(struct recbuf *b)
{
	free(b->p);
	free(b->ends);
	free(b->meta);
	memset(b, 0, sizeof(*b));
}
