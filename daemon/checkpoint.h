/*
 * checkpoint.h: how far a file source's records are done end to end (issue 11), so
 * that a restart continues after the last done record instead of reading the whole
 * file again.
 *
 * A file is known by its identity: device, inode and a fingerprint (CRC-32C and
 * length of its first bytes, at most CHECKPOINT_FP_MAX, taken only from bytes
 * already done). A file at the source's path matches a checkpoint when those bytes
 * are still the same and it is not shorter than the done position: rotation (a new
 * inode, new first bytes) and copy-truncate (shorter, or rewritten) start from 0,
 * a file moved or copied whole continues.
 *
 * Per file: the done position (every byte before it belongs to done records) and the
 * records done out of order beyond it (ranges), so a restart skips those too.
 *
 * On disk, one file per source: lines appended, each the whole state of one file:
 *
 *   <crc32c of the rest, 8 hex> <dev> <ino> <fp_len> <fp_crc 8 hex> <pos> <n> [<start>+<len>]...\n
 *
 * The last line whose CRC matches wins for its identity, so a torn append (a crash
 * mid-write) costs at most that commit. Now and then the file is rewritten whole
 * (to PATH.tmp, renamed over PATH) with one line per file. No fsync here: a killed
 * process loses nothing the kernel has; checkpoint_fd() is for a caller that syncs.
 */
#ifndef SLUICE_CHECKPOINT_H
#define SLUICE_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHECKPOINT_FP_MAX 256
#define CHECKPOINT_FILES  4 /* identities kept: the file and a few rotated away */

struct checkpoint;

/* Reads the state at path (missing = empty). NULL with err when it cannot be created. */
struct checkpoint *checkpoint_open(const char *path, char *err, size_t errlen);
void checkpoint_close(struct checkpoint *c);

/*
 * Starts tracking the file open at fd (the source opened it): returns the position
 * to read from, 0 for a file not seen before. Records done out of order beyond it
 * are then reported by checkpoint_skip. The file tracked before stays known until
 * CHECKPOINT_FILES others follow (a rotated file drained to its end).
 */
uint64_t checkpoint_track(struct checkpoint *c, int fd);

/* How the last checkpoint_track found the file. */
enum checkpoint_match {
	CHECKPOINT_NEW,	     /* no state at all: a first start */
	CHECKPOINT_MATCHED,  /* a known file: reading continues at its position */
	CHECKPOINT_REPLACED, /* state, but not of this file: read from its start */
};
enum checkpoint_match checkpoint_match(const struct checkpoint *c);
/* Bytes of the tracked file done past its position (out of order): records skipped. */
uint64_t checkpoint_done_past(const struct checkpoint *c);

/* Where the last range done past the position ends (the position if none): a record
 * starting there or later was not done before the restart. */
uint64_t checkpoint_done_until(const struct checkpoint *c);

/* True when the record at start (of the tracked file) was done before the restart. */
bool checkpoint_skip(struct checkpoint *c, uint64_t start, uint64_t end);

/*
 * The record [start, end) of the file tracked as number gen (checkpoint_gen() when it
 * was read) is done. Ranges before the done position are ignored.
 */
void checkpoint_done(struct checkpoint *c, unsigned gen, uint64_t start, uint64_t end);
unsigned checkpoint_gen(const struct checkpoint *c);

/* Appends what changed since the last commit (one write). -1 with err on failure. */
int checkpoint_commit(struct checkpoint *c, char *err, size_t errlen);

/* The done position of the tracked file, for status and metrics. */
uint64_t checkpoint_position(const struct checkpoint *c);
int checkpoint_fd(const struct checkpoint *c);

/*
 * sluiced --fsck: the lines of the checkpoint file at path, those whose CRC (or
 * syntax) is wrong, and the bytes of a torn last line (no newline). With repair,
 * the file is rewritten (atomically) with its good lines only. -1 with err when it
 * cannot be read or rewritten.
 */
struct checkpoint_report {
	uint64_t lines, bad_lines, torn_bytes;
	uint64_t first_bad; /* line number of the first bad line, 0 if none */
};
int checkpoint_check(const char *path, bool repair, struct checkpoint_report *r, char *err,
		     size_t errlen);

#endif
