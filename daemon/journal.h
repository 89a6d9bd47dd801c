/*
 * journal.h: the write-ahead journal of items from sources that cannot replay
 * (issue 11: tcp without ack, http, stdin, exec, generate). An item is appended
 * before its source is told it is taken and marked done once every sink wrote its
 * records (or it was dead-lettered); what a crash leaves unfinished is handed back
 * at the next start.
 *
 * On disk, DIR holds segment files seg-<first id, 16 hex digits>.log, each
 * "SLUICE-JOURNAL 1\n" and then records:
 *
 *   crc32c u32 | len u32 | id u64 | type u8 | 0 u8 x3 | len bytes of payload
 *
 * little-endian, the CRC-32C over everything after itself. An item record's payload
 * is its stage and source names (a length byte each), seq, index (u64), attempts
 * (u32) and the item's bytes; a done record has none. Ids grow by one per item.
 *
 * A segment is deleted once it is not the one being written and every item in it
 * and in all older segments is done: done records always lie in the segment of
 * their item or a later one, so deleting oldest first never brings an item back.
 *
 * At open, every segment is read: a record whose length is impossible or whose CRC
 * does not match ends that segment; at the tail of the newest segment that is a
 * torn append (a crash mid-write), elsewhere damage; both are counted and cut off
 * (truncated), never a crash and never a refusal to start. New items then go to a
 * new segment.
 *
 * Writes are buffered: journal_append and journal_done fill a buffer that
 * journal_flush writes with one write(2) (the caller flushes once per batch, e.g.
 * per read from a socket or per loop iteration, and tells a source its item is taken
 * only after the flush). A killed process loses nothing flushed: the page cache
 * keeps it. Against a power cut, the caller syncs off the loop (journal_sync_*
 * below, on the bio pool). Nothing here touches the event loop.
 */
#ifndef SLUICE_JOURNAL_H
#define SLUICE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spool.h"

struct journal;

struct journal_recovery {
	uint64_t segments;	   /* segment files found */
	uint64_t items;		   /* unfinished items handed to the replay callback */
	uint64_t torn_bytes;	   /* cut from the newest segment's tail */
	uint64_t damaged_bytes;	   /* cut from older segments (damage, not a crash) */
	uint64_t damaged_segments; /* segments with such damage */
};

/*
 * Opens (creating it if missing) the journal in dir, reading what is there. New
 * segments start once the last holds segment_bytes; journal_full() at max_bytes.
 * Returns NULL with err set when the directory cannot be used.
 */
struct journal *journal_open(const char *dir, uint64_t max_bytes, uint64_t segment_bytes,
			     struct journal_recovery *rec, char *err, size_t errlen);

/*
 * sluiced --fsck: reads the journal in dir as journal_open does and counts in rec
 * what it finds; without repair nothing is changed (no cut, no deletion), with it
 * damage is cut as at open. -1 with err when a segment cannot be read.
 */
int journal_check(const char *dir, bool repair, struct journal_recovery *rec, char *err,
		  size_t errlen);

/*
 * Calls cb for every unfinished item found at open, oldest first (r->data is valid
 * during the call), each with its id in *id for journal_done. Returns the count, or
 * -1 with err set when a segment cannot be read.
 */
typedef void (*journal_replay_cb)(void *arg, uint64_t id, const struct spool_record *r);
long journal_replay(struct journal *j, journal_replay_cb cb, void *arg, char *err, size_t errlen);

/* True when live segments hold max_bytes or more: the caller pauses its sources. */
bool journal_full(const struct journal *j);

/* Buffers an item record; its id in *id. -1 (errno set) when a new segment cannot be made. */
int journal_append(struct journal *j, const struct spool_record *r, uint64_t *id);
/* Buffers a done record for id; unknown or already done ids are ignored. */
void journal_done(struct journal *j, uint64_t id);
/* Writes what is buffered. -1 with err set on a write error (ENOSPC...): nothing is lost,
 * the buffer is kept and the next flush tries again. */
int journal_flush(struct journal *j, char *err, size_t errlen);
bool journal_pending(const struct journal *j);

/*
 * For a power cut, off the loop: journal_sync_begin hands out dups of every segment
 * written since the last sync (and of the directory when a segment was made or
 * deleted), journal_sync_run fdatasyncs and closes them on a bio thread, and
 * journal_sync_end records how far the sync reached. One sync at a time. False
 * from begin when nothing awaits a sync.
 */
struct journal_sync {
	int *fds;
	size_t n;
	uint64_t mark; /* bytes written when the sync began */
	int err;       /* errno of the first failed fdatasync, else 0 */
};
bool journal_sync_begin(struct journal *j, struct journal_sync *s);
void journal_sync_run(struct journal_sync *s);
void journal_sync_end(struct journal *j, struct journal_sync *s);
/* Bytes written in all (the mark of journal_sync), and how many of them are synced. */
uint64_t journal_written(const struct journal *j);
uint64_t journal_synced_mark(const struct journal *j);

/* Figures for metrics and status. */
uint64_t journal_bytes(const struct journal *j);
uint64_t journal_items(const struct journal *j);

void journal_close(struct journal *j);

#endif
