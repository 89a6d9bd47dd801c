/*
 * statesync.h: state files made durable as `journal.fsync` says (issue 11), off the
 * event loop (on the bio pool), so that what a power cut can take back is bounded
 * the same way for the journal, the file checkpoints and the generator's count.
 *
 * An appended file (a checkpoint): fdatasync'ed after every write with `always`, at
 * most once per batch window (the journal's) with `batch`, never with `never`; and
 * never two syncs of one file in flight at once: what is written meanwhile waits
 * for the next sync. A write that renamed a new file over the old one (a
 * compaction) also syncs the directory, so the rename itself survives.
 *
 * A value file (the generator's next number) is replaced whole: PATH.tmp written,
 * fsync'ed, renamed over PATH, the directory fsync'ed (no fsync with `never`), so
 * it is the old value or the new one, never a torn one. One replacement in flight;
 * the newest value set meanwhile is written next (older ones are skipped).
 *
 * Freeing either keeps what was written: the last sync or value still runs, and
 * the object goes once it has.
 */
#ifndef SLUICE_STATESYNC_H
#define SLUICE_STATESYNC_H

#include <stdbool.h>

#include "conf.h"

/* The window `fsync: batch` groups syncs in (the journal's too). */
#define FSYNC_BATCH_WINDOW_USEC 10000

struct event_base;

struct file_sync;
/* path names the file in warnings; its directory is synced after a rename. */
struct file_sync *file_sync_new(struct event_base *base, enum fsync_mode mode, const char *path);
/* fd (the file at path, still the caller's) was written; renamed: it replaced the old file. */
void file_sync_written(struct file_sync *f, int fd, bool renamed);
void file_sync_free(struct file_sync *f);

struct value_file;
struct value_file *value_file_new(enum fsync_mode mode, const char *path);
/* Replaces the file's contents with text (atomically, off the loop). */
void value_file_set(struct value_file *v, const char *text);
void value_file_free(struct value_file *v);

#endif
