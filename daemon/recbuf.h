/*
 * recbuf.h: a sink's output buffer of whole records, as one linear buffer.
 *
 * Records (an item and its newline) are appended with one memcpy and written
 * from `off` in large writes. Their ends are kept in a ring, so the buffer
 * knows exactly which records the other side has taken: a writer confirms a
 * position (what the kernel took, or what the peer acknowledged) and the
 * records wholly before it are released. Until then their bytes are kept, so a
 * writer whose peer vanished can rewind and send again, whole, every record
 * that was not confirmed (a record is never torn at the peer by a reconnect;
 * it may arrive twice if the peer had taken it without our knowing).
 *
 * Positions are absolute byte counts since the buffer was created.
 */
#ifndef SLUICE_RECBUF_H
#define SLUICE_RECBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

/* What a record came from, kept when the buffer may have to give records back. */
struct recbuf_meta {
	uint64_t seq, index;
	uint32_t source;
	uint32_t track; /* its item's track field (track.h): 0 = not tracked */
};

struct recbuf {
	char *p;
	size_t cap;
	size_t keep;		  /* start of the first record not confirmed */
	size_t off;		  /* next byte to write */
	size_t len;		  /* end of the data */
	uint64_t base;		  /* absolute position of p[0] */
	uint64_t *ends;		  /* absolute end of each record held, oldest first (a ring) */
	struct recbuf_meta *meta; /* parallel to ends, when keep_meta */
	size_t rhead, rn, rcap;
	bool keep_meta;
};

/* The slow paths of recbuf_add: room for n more bytes; a longer ring of ends. */
void recbuf_reserve(struct recbuf *b, size_t n);
void recbuf_ring_grow(struct recbuf *b);

/* Appends data and a newline as one record (inline: the fd writer's hot path). */
static inline void recbuf_add(struct recbuf *b, const char *data, size_t n)
{
	if (b->len + n + 1 > b->cap)
		recbuf_reserve(b, n + 1);
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->p[b->len + n] = '\n';
	b->len += n + 1;
	if (b->rn == b->rcap)
		recbuf_ring_grow(b);
	b->ends[(b->rhead + b->rn) & (b->rcap - 1)] = b->base + b->len;
	b->rn++;
}
/* The same, with what it came from (kept when keep_meta is set). */
void recbuf_add_meta(struct recbuf *b, const char *data, size_t n, const struct recbuf_meta *m);
/* Writes unwritten bytes to fd (one write(2)); as write(2). */
ssize_t recbuf_write(struct recbuf *b, int fd);
/* Records ending at or before absolute position pos are done: returns how many. */
uint64_t recbuf_confirm(struct recbuf *b, uint64_t pos);
/* Confirms everything written so far (a file: the kernel has it). */
uint64_t recbuf_confirm_written(struct recbuf *b);
/* The first n records are done, written or not (a writer that copies them out). */
void recbuf_drop(struct recbuf *b, size_t n);
/* Everything not confirmed is to be written again (the peer is gone). */
void recbuf_rewind(struct recbuf *b);
/* Drops every record held; returns how many. */
uint64_t recbuf_clear(struct recbuf *b);
void recbuf_free(struct recbuf *b);

static inline size_t recbuf_unwritten(const struct recbuf *b)
{
	return b->len - b->off;
}

/* Bytes held: written but not confirmed, and unwritten. */
static inline size_t recbuf_held(const struct recbuf *b)
{
	return b->len - b->keep;
}

static inline uint64_t recbuf_records(const struct recbuf *b)
{
	return b->rn;
}

/* The absolute end (after its newline) of the i-th record held, oldest first. */
static inline uint64_t recbuf_record_end(const struct recbuf *b, size_t i)
{
	return b->ends[(b->rhead + i) & (b->rcap - 1)];
}

/* The i-th record held: its bytes (without the newline) and, with keep_meta, its origin. */
static inline const char *recbuf_record(const struct recbuf *b, size_t i, size_t *len)
{
	uint64_t start = i == 0 ? b->base + b->keep : recbuf_record_end(b, i - 1);
	*len = (size_t)(recbuf_record_end(b, i) - start - 1);
	return b->p + (start - b->base);
}

static inline const struct recbuf_meta *recbuf_record_meta(const struct recbuf *b, size_t i)
{
	return b->meta != NULL ? &b->meta[(b->rhead + i) & (b->rcap - 1)] : NULL;
}

/* The bytes held, from the first record not confirmed. */
static inline const char *recbuf_data(const struct recbuf *b)
{
	return b->p + b->keep;
}

static inline uint64_t recbuf_written_pos(const struct recbuf *b)
{
	return b->base + b->off;
}

static inline uint64_t recbuf_confirmed_pos(const struct recbuf *b)
{
	return b->base + b->keep;
}

#endif
