/* item.c: item allocation and the global live-bytes count behind memory_limit. */
#include "item.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track.h"
#include "util.h"

struct item_stats item_stats;

/*
 * A cache of freed small items, by size class, so that the usual life of an item
 * (read, passed through, written, freed in a batch) reuses memory instead of
 * going through malloc and free each time: they were a quarter of the cost of a
 * passthrough line. Bounded per class; off under AddressSanitizer, which must
 * see every free to catch a use after it.
 */
#define CACHE_CLASS   64   /* bytes per class step */
#define CACHE_CLASSES 8	   /* items of up to 512 bytes */
#define CACHE_MAX     4096 /* cached blocks per class */
#if defined(__SANITIZE_ADDRESS__)
#define CACHE_ON 0
#else
#define CACHE_ON 1
#endif

static struct item *cache[CACHE_CLASSES];
static unsigned cached[CACHE_CLASSES];

/* The class of an item of len bytes, or -1 when it is too large to cache. */
static int size_class(size_t len)
{
	size_t total = sizeof(struct item) + len + 1;
	size_t c = (total + CACHE_CLASS - 1) / CACHE_CLASS;
	return CACHE_ON && c <= CACHE_CLASSES ? (int)c - 1 : -1;
}

static struct item *item_alloc(size_t len)
{
	/*
	 * The header, the bytes and a NUL must not wrap size_t (a length from outside
	 * that slipped past its check would make a small block for a huge copy).
	 * Callers cap lengths at max_item_bytes; this is the last line, not a check.
	 */
	if (len > SIZE_MAX / 2) {
		fprintf(stderr, "sluiced: an item of %zu bytes cannot exist\n", len);
		abort();
	}
	int c = size_class(len);
	if (c < 0)
		return xmalloc(sizeof(struct item) + len + 1);
	struct item *it = cache[c];
	if (it == NULL)
		return xmalloc((size_t)(c + 1) * CACHE_CLASS);
	cache[c] = it->next;
	cached[c]--;
	return it;
}

void item_cache_free(void)
{
	for (int c = 0; c < CACHE_CLASSES; c++) {
		while (cache[c] != NULL) {
			struct item *next = cache[c]->next;
			free(cache[c]);
			cache[c] = next;
		}
		cached[c] = 0;
	}
}

struct item *item_new(const void *data, size_t len, uint64_t seq, uint32_t source)
{
	struct item *it = item_alloc(len);
	it->next = NULL;
	it->seq = seq;
	it->index = 0;
	it->source = source;
	it->attempts = 0;
	it->flags = 0;
	it->track = 0;
	it->len = len;
	if (len > 0)
		memcpy(it->data, data, len);
	it->data[len] = '\0';
	item_stats.live_bytes += item_cost(it);
	item_stats.live_items++;
	return it;
}

struct item *item_derive(const struct item *parent, const void *data, size_t len)
{
	struct item *it = item_new(data, len, parent->seq, parent->source);
	it->attempts = parent->attempts;
	it->index = parent->index;
	it->track = parent->track;
	if (it->track != 0)
		track_retain(it);
	return it;
}

struct item *item_pill(void)
{
	struct item *it = item_new(NULL, 0, 0, 0);
	it->flags = ITEM_PILL;
	return it;
}

void item_free(struct item *it)
{
	if (it == NULL)
		return;
	if (it->track != 0)
		track_release(it);
	item_stats.live_bytes -= item_cost(it);
	item_stats.live_items--;
	int c = size_class(it->len);
	if (c >= 0 && cached[c] < CACHE_MAX) {
		it->next = cache[c];
		cache[c] = it;
		cached[c]++;
	} else {
		free(it);
	}
	if (item_stats.below_cb != NULL && item_stats.live_bytes <= item_stats.low_mark) {
		void (*cb)(void) = item_stats.below_cb;
		item_stats.below_cb = NULL;
		cb();
	}
}
