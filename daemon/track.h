/*
 * track.h: end-to-end completion of the records of a source (the hook behind
 * `ack: true`, the http source's replies and the dir source's file moves).
 *
 * A source that needs to know when a record is done registers a tracker and
 * tracks the items it emits (source.c does this in source_emit), with a token of
 * its own (a connection, a request, a file). The record is done when the item
 * and everything derived from it have left the pipeline: written by every sink,
 * filtered, failed for good, or dropped. item.c reports derivations and frees,
 * the sinks hold a reference until their write is done, and the tracker's
 * callback then runs once per record, from the loop, with the outcome:
 *   ok         every part of it was written (or filtered: processed, nothing to write)
 *   failed     some part failed for good (a stage, a sink's 4xx, a drop, a rejection)
 *   abandoned  the pipeline was cancelled with some part unfinished (spooled,
 *              lost, or, for a durable source, left where it came from)
 * A tracked item carries its record's entry (item->track); holders that outlive
 * the item (the sinks) keep its source, index and track fields.
 */
#ifndef SLUICE_TRACK_H
#define SLUICE_TRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "item.h"

enum track_status { TRACK_OK = 0, TRACK_FAILED, TRACK_ABANDONED };

/* A record done (or a run of them: track_set_run), as its tracker's callback hears it. */
struct track_done {
	void *token;	     /* the source's, when it was tracked */
	uint64_t index;	     /* its ordinal in its source (a run's first record's) */
	uint32_t records;    /* 1, or how many records of a run */
	uint64_t start, end; /* its bytes in the input, for a source reading one (else 0) */
	enum track_status status;
};
typedef void (*track_done_cb)(void *arg, const struct track_done *d);

struct tracker;

/*
 * Registers source (its index in the pipeline). durable: the source keeps its
 * own copy of every record until it is done (a spool directory), so a cancel
 * leaves unfinished records there rather than in the daemon's spool.
 */
struct tracker *track_new(uint32_t source, bool durable, track_done_cb cb, void *arg);
/*
 * Records that follow each other (consecutive indexes, adjacent byte ranges, one
 * token) may share an entry, up to run_max of them: done together, one callback for
 * the run, with the worst outcome of its records. For a source that needs only the
 * position up to which its input is done (a file's checkpoint), not each record.
 */
void track_set_run(struct tracker *t, uint32_t run_max);
/* Unregisters: records still in flight are forgotten, their callbacks never run. */
void track_free(struct tracker *t);
/* No record of t is in flight (true for NULL): freeing it forgets nothing. */
bool track_idle(const struct tracker *t);
/*
 * Starts tracking a fresh item (sets it->track) on behalf of token; [start, end) is
 * where its record lies in the source's input (0, 0 if that means nothing).
 */
void track_item(struct tracker *t, struct item *it, void *token, uint64_t start, uint64_t end);
uint64_t track_in_flight(void);

/*
 * The joblog (pipeline.c): while a hook is set, every record is tracked (sources
 * without a tracker of their own included), and the line noted for a record is
 * handed to the hook once the record is done, with its outcome (which may be
 * worse than the line's: a sink failed it); an abandoned record's line is the
 * hook's to drop. So the joblog lists a record only once
 * every sink has finished it. Clearing the hook (NULL) forgets what is left.
 */
typedef void (*track_hook_cb)(void *arg, const char *note, bool note_failed, enum track_status st);
void track_set_hook(track_hook_cb cb, void *arg);
bool track_hooked(void);
/*
 * The journal (journal-loop.c): while cb is set, every record is tracked, and a
 * record given a journal id is reported by it once done (ok or failed; an
 * abandoned one stays unfinished in the journal, and track_abandon() says it is
 * kept there).
 */
typedef void (*track_journal_cb)(uint64_t id);
void track_set_journal(track_journal_cb cb);
/* Gives a tracked record its journal id; false if it is not tracked. */
bool track_journaled(const struct item *it, uint64_t id);
/* Tracks an item no tracker took (its source has none, or a spool replay), if hooked. */
void track_item_hooked(struct item *it);
/* Notes the record's joblog line (a failed part's line wins); false if it is not tracked. */
bool track_note(const struct item *it, const char *line, bool failed);

/* For item.c: a derived item (a stage's result) and a freed one. */
void track_retain(const struct item *it);
void track_release(const struct item *it);
/* The item failed for good (a stage's policy, a drop). */
void track_failed(const struct item *it);
/*
 * The item is unfinished at a cancel. Returns true when its source is durable or
 * the journal has it: the caller then frees it instead of spooling it.
 */
bool track_abandon(const struct item *it);

/* For the sinks, which outlive the item they wrote: the same, by its source, index
 * and track fields. */
void track_retain_key(uint32_t source, uint64_t index, uint32_t track);
void track_release_key(uint32_t source, uint64_t index, uint32_t track);
void track_failed_key(uint32_t source, uint64_t index, uint32_t track);
void track_abandon_key(uint32_t source, uint64_t index, uint32_t track);
/* Releases refs references at once (a holder that took over several items'). */
void track_release_refs(uint32_t source, uint64_t index, uint32_t track, uint32_t refs);

#endif
