/*
 * track.c: completion tracking (see track.h).
 *
 * One open-addressing hash table maps (source, record index) to the record's
 * reference count and outcome; linear probing with backward-shift deletion, so
 * there are no tombstones and a table that has been busy does not slow down.
 * Only records in flight are in it: a few times the pipeline's capacity at most.
 * Outcomes only get worse: abandoned outranks failed, which outranks ok.
 */
#include "track.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define INDEX_BITS 44
#define INDEX_MASK ((UINT64_C(1) << INDEX_BITS) - 1)

struct tracker {
	uint32_t source;
	bool durable;
	track_done_cb cb;
	void *arg;
};

struct entry {
	uint64_t key; /* 0 = empty (record indexes start at 1) */
	void *token;
	char *note;	     /* the joblog line, written once the record is done */
	uint64_t journal_id; /* 0: not journaled */
	uint32_t refs;
	uint8_t status;
	bool note_failed;
};

static struct {
	struct entry *v;
	size_t cap, n; /* cap is a power of two */
	struct tracker **by_source;
	size_t n_sources;
	unsigned n_trackers;
	track_hook_cb hook; /* the joblog: every record is tracked while it is set */
	void *hook_arg;
	track_journal_cb journal; /* the journal: every record is tracked while it is set */
} tab;

static uint64_t key_of(uint32_t source, uint64_t index)
{
	return (uint64_t)source << INDEX_BITS | (index & INDEX_MASK);
}

static size_t slot_of(uint64_t key)
{
	return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 17) & (tab.cap - 1);
}

static struct entry *find(uint64_t key)
{
	if (tab.cap == 0)
		return NULL;
	for (size_t i = slot_of(key);; i = (i + 1) & (tab.cap - 1)) {
		if (tab.v[i].key == key)
			return &tab.v[i];
		if (tab.v[i].key == 0)
			return NULL;
	}
}

static void insert_raw(const struct entry *e)
{
	size_t i = slot_of(e->key);
	while (tab.v[i].key != 0)
		i = (i + 1) & (tab.cap - 1);
	tab.v[i] = *e;
}

static void grow(void)
{
	struct entry *old = tab.v;
	size_t old_cap = tab.cap;
	tab.cap = tab.cap ? tab.cap * 2 : 1024;
	tab.v = xcalloc(tab.cap, sizeof(*tab.v));
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].key != 0)
			insert_raw(&old[i]);
	free(old);
}

/* Backward-shift deletion: later members of the probe run move up into the hole. */
static void remove_at(struct entry *e)
{
	size_t hole = (size_t)(e - tab.v), j = hole;
	tab.v[hole].key = 0;
	tab.n--;
	for (;;) {
		j = (j + 1) & (tab.cap - 1);
		if (tab.v[j].key == 0)
			return;
		size_t home = slot_of(tab.v[j].key);
		/* Stays if its home lies cyclically in (hole, j]. */
		if (hole <= j ? (home > hole && home <= j) : (home > hole || home <= j))
			continue;
		tab.v[hole] = tab.v[j];
		tab.v[j].key = 0;
		hole = j;
	}
}

static struct tracker *tracker_of(uint64_t key)
{
	size_t source = (size_t)(key >> INDEX_BITS);
	return source < tab.n_sources ? tab.by_source[source] : NULL;
}

/* Nothing can use the table any more: records still in it are forgotten. */
static void release_table(void)
{
	if (tab.n_trackers > 0 || tab.hook != NULL || tab.journal != NULL)
		return;
	for (size_t i = 0; i < tab.cap; i++)
		if (tab.v[i].key != 0)
			free(tab.v[i].note);
	free(tab.v);
	free(tab.by_source);
	memset(&tab, 0, sizeof(tab));
}

struct tracker *track_new(uint32_t source, bool durable, track_done_cb cb, void *arg)
{
	struct tracker *t = xcalloc(1, sizeof(*t));
	t->source = source;
	t->durable = durable;
	t->cb = cb;
	t->arg = arg;
	if (source >= tab.n_sources) {
		tab.by_source = xrealloc(tab.by_source, (source + 1) * sizeof(*tab.by_source));
		memset(tab.by_source + tab.n_sources, 0,
		       (source + 1 - tab.n_sources) * sizeof(*tab.by_source));
		tab.n_sources = source + 1;
	}
	tab.by_source[source] = t;
	tab.n_trackers++;
	return t;
}

void track_free(struct tracker *t)
{
	if (t == NULL)
		return;
	/* Forget its records; removal shifts entries back, so rescan the slot. */
	for (size_t i = 0; i < tab.cap;) {
		if (tab.v[i].key != 0 && (tab.v[i].key >> INDEX_BITS) == t->source) {
			free(tab.v[i].note);
			remove_at(&tab.v[i]);
		} else {
			i++;
		}
	}
	tab.by_source[t->source] = NULL;
	free(t);
	tab.n_trackers--;
	release_table();
}

bool track_idle(const struct tracker *t)
{
	if (t == NULL)
		return true;
	for (size_t i = 0; i < tab.cap; i++)
		if (tab.v[i].key != 0 && (tab.v[i].key >> INDEX_BITS) == t->source)
			return false;
	return true;
}

static void track_key(uint32_t source, struct item *it, void *token)
{
	uint64_t key = key_of(source, it->index);
	struct entry e = {.key = key, .token = token, .refs = 1, .status = TRACK_OK};
	it->flags |= ITEM_TRACKED;
	/* At most half full: a record is tracked and found again several times per item. */
	if ((tab.n + 1) * 2 > tab.cap)
		grow();
	/* One probe: the key's own slot (an index is never reused while in flight; be safe
	 * if it is) or the first empty one. */
	size_t i = slot_of(key);
	while (tab.v[i].key != 0 && tab.v[i].key != key)
		i = (i + 1) & (tab.cap - 1);
	if (tab.v[i].key == key)
		free(tab.v[i].note);
	else
		tab.n++;
	tab.v[i] = e;
}

void track_item(struct tracker *t, struct item *it, void *token)
{
	track_key(t->source, it, token);
}

void track_set_hook(track_hook_cb cb, void *arg)
{
	tab.hook = cb;
	tab.hook_arg = arg;
	release_table();
}

bool track_hooked(void)
{
	return tab.hook != NULL || tab.journal != NULL;
}

void track_item_hooked(struct item *it)
{
	if (track_hooked() && !(it->flags & ITEM_TRACKED))
		track_key(it->source, it, NULL);
}

void track_set_journal(track_journal_cb cb)
{
	tab.journal = cb;
	release_table();
}

bool track_journaled(const struct item *it, uint64_t id)
{
	struct entry *e = it->flags & ITEM_TRACKED ? find(key_of(it->source, it->index)) : NULL;
	if (e == NULL)
		return false;
	e->journal_id = id;
	return true;
}

bool track_note(const struct item *it, const char *line, bool failed)
{
	struct entry *e = it->flags & ITEM_TRACKED ? find(key_of(it->source, it->index)) : NULL;
	if (e == NULL)
		return false;
	/* One line per record: a part that failed is what the line says. */
	if (e->note == NULL || failed || !e->note_failed) {
		free(e->note);
		e->note = xstrdup(line);
		e->note_failed = failed;
	}
	return true;
}

uint64_t track_in_flight(void)
{
	return tab.n;
}

void track_retain_key(uint32_t source, uint64_t index)
{
	struct entry *e = find(key_of(source, index));
	if (e != NULL)
		e->refs++;
}

static void worsen(uint32_t source, uint64_t index, enum track_status st)
{
	struct entry *e = find(key_of(source, index));
	if (e != NULL && e->status < st)
		e->status = (uint8_t)st;
}

void track_failed_key(uint32_t source, uint64_t index)
{
	worsen(source, index, TRACK_FAILED);
}

void track_abandon_key(uint32_t source, uint64_t index)
{
	worsen(source, index, TRACK_ABANDONED);
}

void track_release_key(uint32_t source, uint64_t index)
{
	uint64_t key = key_of(source, index);
	struct entry *e = find(key);
	if (e == NULL || --e->refs > 0)
		return;
	void *token = e->token;
	char *note = e->note;
	bool note_failed = e->note_failed;
	uint64_t journal_id = e->journal_id;
	enum track_status st = (enum track_status)e->status;
	remove_at(e);
	/* Abandoned: unfinished, so it stays in the journal for the next start. */
	if (journal_id != 0 && st != TRACK_ABANDONED && tab.journal != NULL)
		tab.journal(journal_id);
	if (note != NULL && tab.hook != NULL)
		tab.hook(tab.hook_arg, note, note_failed, st);
	free(note);
	struct tracker *t = tracker_of(key);
	if (t != NULL)
		t->cb(t->arg, token, index, st);
}

void track_retain(const struct item *it)
{
	track_retain_key(it->source, it->index);
}

void track_release(const struct item *it)
{
	track_release_key(it->source, it->index);
}

void track_failed(const struct item *it)
{
	if (it->flags & ITEM_TRACKED)
		track_failed_key(it->source, it->index);
}

bool track_abandon(const struct item *it)
{
	if (!(it->flags & ITEM_TRACKED))
		return false;
	track_abandon_key(it->source, it->index);
	const struct entry *e = find(key_of(it->source, it->index));
	if (e != NULL && e->journal_id != 0)
		return true; /* the journal keeps it: replayed at the next start */
	struct tracker *t = tracker_of(key_of(it->source, it->index));
	return t != NULL && t->durable;
}
