/*
 * item.h: one unit of work. An item is a single allocation: the header followed by
 * its bytes and a NUL (so it can be used as a C string when it holds none).
 * Items are linked intrusively into queues, so moving one costs no allocation.
 *
 * Every live item is charged to the global memory budget (item_cost bytes); the
 * budget is what sources check before reading more (SPEC memory_limit).
 */
#ifndef SLUICE_ITEM_H
#define SLUICE_ITEM_H

#include <stddef.h>
#include <stdint.h>

#define ITEM_PILL 0x1 /* poison pill: tells one worker to finish */

struct item {
	struct item *next; /* queue linkage */
	uint64_t seq;	   /* sequence number, unique in this run (spooled items keep theirs) */
	uint64_t index;	   /* its ordinal in its source (1, 2, ...): the key --resume uses */
	uint32_t source;   /* index into the pipeline's source-name table */
	uint32_t attempts; /* how many times a stage has started it */
	uint32_t flags;
	uint32_t track; /* its record's entry in track.c, 0 = nobody waits for it to be done */
	size_t len;
	char data[];
};

struct item_stats {
	uint64_t live_bytes; /* sum of item_cost over live items */
	uint64_t live_items;
	/* Called once (then cleared) when live_bytes falls to low_mark: memory_limit waiters. */
	void (*below_cb)(void);
	uint64_t low_mark;
};

extern struct item_stats item_stats;

struct item *item_new(const void *data, size_t len, uint64_t seq, uint32_t source);
/* A result derived from parent: same seq, source, attempts and tracking. */
struct item *item_derive(const struct item *parent, const void *data, size_t len);
struct item *item_pill(void);
void item_free(struct item *it);
/* Frees the blocks kept for reuse (at exit). */
void item_cache_free(void);

static inline size_t item_cost(const struct item *it)
{
	return sizeof(*it) + it->len + 1;
}

#endif
