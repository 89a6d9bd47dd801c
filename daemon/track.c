/*
 * track.c: completion tracking (see track.h).
 *
 * The records in flight live in one table of entries with stable numbers (a slab
 * with a free list): an item carries its entry's number (item->track), so the hot
 * path (a derivation, a sink's hold and release) is an array access, no hashing.
 * An entry also keeps its record's key (source, index), checked at every access, so
 * a holder that outlived a forgotten record (track_free) finds nothing rather than
 * the record that reuses the entry. Only records in flight have entries: a few
 * times the pipeline's capacity at most. Outcomes only get worse: abandoned
 * outranks failed, which outranks ok.
 *
 * A tracker may let records read one after another share an entry (a run, at most
 * run_max records, from one token and adjacent in the input): they are then done
 * together, one callback for the run's whole byte range. That is what a file source's
 * checkpoint needs, at a fraction of the cost per record; the price is that a run is
 * done only when its last record is, so a kill repeats at most a run. Runs form only
 * while no joblog or journal wants records one by one.
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
	uint32_t run_max; /* records an entry may hold (track_set_run), 0/1 = one */
	uint32_t run;	  /* the entry of the last run, 0 = none */
};

struct entry {
	uint64_t key; /* its first record's (source, index); 0 = free (indexes start at 1) */
	void *token;
	char *note;	     /* the joblog line, written once the record is done */
	uint64_t journal_id; /* 0: not journaled */
	uint64_t start, end; /* the record's bytes in its input (track_item) */
	uint32_t records;    /* 1, or how many records of a run share it */
	uint32_t refs;
	uint32_t next_free; /* a free entry: the next free one's number, 0 = none */
	uint8_t status;
	bool note_failed;
};

/* Entries are numbered from 1 (0 = not tracked): entry n is tab.v[n - 1]. */
static struct {
	struct entry *v;
	uint32_t cap, top, n; /* top: entries ever used; n: in use */
	uint32_t free;	      /* the first free entry below top, 0 = none */
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

/* The entry of record (source, index) numbered slot, or NULL if it is not in flight. */
static struct entry *entry_of(uint32_t source, uint64_t index, uint32_t slot)
{
	if (slot == 0 || slot > tab.top)
		return NULL;
	struct entry *e = &tab.v[slot - 1];
	uint64_t key = key_of(source, index);
	return e->key != 0 && key - e->key < e->records ? e : NULL;
}

static struct entry *entry_of_item(const struct item *it)
{
	return entry_of(it->source, it->index, it->track);
}

static uint32_t entry_new(void)
{
	uint32_t slot = tab.free;
	if (slot != 0) {
		tab.free = tab.v[slot - 1].next_free;
	} else {
		if (tab.top == tab.cap) {
			tab.cap = tab.cap ? tab.cap * 2 : 1024;
			tab.v = xrealloc(tab.v, (size_t)tab.cap * sizeof(*tab.v));
		}
		slot = ++tab.top;
	}
	tab.n++;
	return slot;
}

static void entry_free(struct entry *e)
{
	if (e->note != NULL)
		free(e->note);
	/* The key marks it free; track_key writes every field again. */
	e->key = 0;
	e->note = NULL;
	e->next_free = tab.free;
	tab.free = (uint32_t)(e - tab.v) + 1;
	tab.n--;
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
	for (uint32_t i = 0; i < tab.top; i++)
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
	/* Forget its records: their holders find nothing (entry_of checks the key). */
	for (uint32_t i = 0; i < tab.top; i++)
		if (tab.v[i].key != 0 && (tab.v[i].key >> INDEX_BITS) == t->source)
			entry_free(&tab.v[i]);
	tab.by_source[t->source] = NULL;
	free(t);
	tab.n_trackers--;
	release_table();
}

bool track_idle(const struct tracker *t)
{
	if (t == NULL)
		return true;
	for (uint32_t i = 0; i < tab.top; i++)
		if (tab.v[i].key != 0 && (tab.v[i].key >> INDEX_BITS) == t->source)
			return false;
	return true;
}

static inline void track_key(uint32_t source, struct item *it, void *token, uint64_t start,
			     uint64_t end)
{
	uint32_t slot = entry_new();
	tab.v[slot - 1] = (struct entry){.key = key_of(source, it->index),
					 .token = token,
					 .start = start,
					 .end = end,
					 .records = 1,
					 .refs = 1,
					 .status = TRACK_OK};
	it->track = slot;
}

void track_set_run(struct tracker *t, uint32_t run_max)
{
	t->run_max = run_max;
}

/* Out of line, so that joining a run stays a leaf function (no frame to build). */
static __attribute__((noinline)) void track_item_new(struct tracker *t, struct item *it,
						     void *token, uint64_t start, uint64_t end)
{
	track_key(t->source, it, token, start, end);
	if (t->run_max > 1 && tab.hook == NULL && tab.journal == NULL)
		t->run = it->track;
}

void track_item(struct tracker *t, struct item *it, void *token, uint64_t start, uint64_t end)
{
	/* The next record of the last run joins it (its entry may be free or another's
	 * by now: the key says). No run forms while the joblog or the journal is on. */
	if (t->run != 0) {
		struct entry *e = &tab.v[t->run - 1];
		if (e->key != 0 && e->key + e->records == key_of(t->source, it->index) &&
		    e->records < t->run_max && e->token == token && e->end == start &&
		    tab.hook == NULL && tab.journal == NULL) {
			e->records++;
			e->refs++;
			e->end = end;
			it->track = t->run;
			return;
		}
	}
	track_item_new(t, it, token, start, end);
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
	if (track_hooked() && it->track == 0)
		track_key(it->source, it, NULL, 0, 0);
}

void track_set_journal(track_journal_cb cb)
{
	tab.journal = cb;
	release_table();
}

bool track_journaled(const struct item *it, uint64_t id)
{
	struct entry *e = entry_of_item(it);
	if (e == NULL || e->records > 1)
		return false;
	e->journal_id = id;
	return true;
}

bool track_note(const struct item *it, const char *line, bool failed)
{
	/* A run (formed before a reload added the joblog) has no line per record. */
	struct entry *e = entry_of_item(it);
	if (e == NULL || e->records > 1)
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

void track_retain_key(uint32_t source, uint64_t index, uint32_t slot)
{
	struct entry *e = entry_of(source, index, slot);
	if (e != NULL)
		e->refs++;
}

static void worsen(uint32_t source, uint64_t index, uint32_t slot, enum track_status st)
{
	struct entry *e = entry_of(source, index, slot);
	if (e != NULL && e->status < st)
		e->status = (uint8_t)st;
}

void track_failed_key(uint32_t source, uint64_t index, uint32_t slot)
{
	worsen(source, index, slot, TRACK_FAILED);
}

void track_abandon_key(uint32_t source, uint64_t index, uint32_t slot)
{
	worsen(source, index, slot, TRACK_ABANDONED);
}

/* The record's last reference is gone: its outcome goes to the journal, the joblog and
 * its tracker. Apart from track_release_key, so that its common path stays a decrement. */
static __attribute__((noinline)) void record_done(struct entry *e)
{
	struct track_done d = {.token = e->token,
			       .index = e->key & INDEX_MASK,
			       .records = e->records,
			       .start = e->start,
			       .end = e->end,
			       .status = (enum track_status)e->status};
	struct tracker *t = tracker_of(e->key);
	char *note = e->note;
	bool note_failed = e->note_failed;
	uint64_t journal_id = e->journal_id;
	e->note = NULL;
	entry_free(e);
	/* Abandoned: unfinished, so it stays in the journal for the next start. */
	if (journal_id != 0 && d.status != TRACK_ABANDONED && tab.journal != NULL)
		tab.journal(journal_id);
	if (note != NULL) {
		if (tab.hook != NULL)
			tab.hook(tab.hook_arg, note, note_failed, d.status);
		free(note);
	}
	if (t != NULL)
		t->cb(t->arg, &d);
}

void track_release_refs(uint32_t source, uint64_t index, uint32_t slot, uint32_t refs)
{
	struct entry *e = entry_of(source, index, slot);
	if (e != NULL && (e->refs -= refs) == 0)
		record_done(e);
}

void track_release_key(uint32_t source, uint64_t index, uint32_t slot)
{
	track_release_refs(source, index, slot, 1);
}

void track_retain(const struct item *it)
{
	track_retain_key(it->source, it->index, it->track);
}

void track_release(const struct item *it)
{
	track_release_key(it->source, it->index, it->track);
}

void track_failed(const struct item *it)
{
	track_failed_key(it->source, it->index, it->track);
}

bool track_abandon(const struct item *it)
{
	struct entry *e = entry_of_item(it);
	if (e == NULL)
		return false;
	if (e->status < TRACK_ABANDONED)
		e->status = TRACK_ABANDONED;
	if (e->journal_id != 0)
		return true; /* the journal keeps it: replayed at the next start */
	struct tracker *t = tracker_of(e->key);
	return t != NULL && t->durable;
}
