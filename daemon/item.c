/* item.c: item allocation and the global live-bytes count behind memory_limit. */
#include "item.h"

#include <stdlib.h>
#include <string.h>

#include "track.h"
#include "util.h"

struct item_stats item_stats;

struct item *item_new(const void *data, size_t len, uint64_t seq, uint32_t source)
{
	struct item *it = xmalloc(sizeof(*it) + len + 1);
	it->next = NULL;
	it->seq = seq;
	it->index = 0;
	it->source = source;
	it->attempts = 0;
	it->flags = 0;
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
	it->flags = parent->flags & (ITEM_REPLAYED | ITEM_TRACKED);
	if (it->flags & ITEM_REPLAYED)
		item_stats.replayed_live++;
	if (it->flags & ITEM_TRACKED)
		track_retain(it);
	return it;
}

struct item *item_pill(void)
{
	struct item *it = item_new(NULL, 0, 0, 0);
	it->flags = ITEM_PILL;
	return it;
}

void item_mark_replayed(struct item *it)
{
	if (!(it->flags & ITEM_REPLAYED)) {
		it->flags |= ITEM_REPLAYED;
		item_stats.replayed_live++;
	}
}

void item_free(struct item *it)
{
	if (it == NULL)
		return;
	if (it->flags & ITEM_TRACKED)
		track_release(it);
	item_stats.live_bytes -= item_cost(it);
	item_stats.live_items--;
	if ((it->flags & ITEM_REPLAYED) && --item_stats.replayed_live == 0 &&
	    item_stats.replay_done_cb != NULL)
		item_stats.replay_done_cb();
	free(it);
	if (item_stats.below_cb != NULL && item_stats.live_bytes <= item_stats.low_mark) {
		void (*cb)(void) = item_stats.below_cb;
		item_stats.below_cb = NULL;
		cb();
	}
}
