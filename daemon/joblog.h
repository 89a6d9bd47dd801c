/*
 * joblog.h: one line per item that left the pipeline (GNU parallel's --joblog),
 * and the set of items it records as finished, for --resume and --resume-failed.
 *
 * Tab-separated, with a header line:
 *   Seq Source Index Stage Start Duration Attempts Outcome Exitval Signal
 * Start is wall-clock seconds since the epoch, Duration seconds; Outcome is "ok"
 * or "failed:KIND"; Exitval and Signal are "-" when they do not apply. An item is
 * keyed by its source's name and its ordinal in that source (Index), which does
 * not depend on how sources interleave, so a restarted job recognises it.
 */
#ifndef SLUICE_JOBLOG_H
#define SLUICE_JOBLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct done_set;

enum done_state { DONE_NONE = 0, DONE_OK, DONE_FAILED };

/*
 * Reads a joblog; NULL with err set if it cannot be read (a missing file is an empty
 * set). An item listed more than once (failed, then re-run by --resume-failed) has the
 * outcome of its last line.
 */
struct done_set *joblog_read_done(const char *path, char *err, size_t errlen);
enum done_state done_set_lookup(const struct done_set *d, const char *source, uint64_t index);
/* Adds a key (an item being replayed from the spool); call done_set_sort after adding. */
void done_set_add(struct done_set *d, const char *source, uint64_t index, bool failed);
void done_set_sort(struct done_set *d);
size_t done_set_size(const struct done_set *d);
/* Of those, how many the joblog records as failed. */
size_t done_set_failed(const struct done_set *d);
void done_set_free(struct done_set *d);

/* The header line, written when the file is new. */
extern const char joblog_header[];

#endif
