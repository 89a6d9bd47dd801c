/*
 * journal-loop.h: the journal (journal.h) on the event loop, for the whole daemon
 * (one journal, shared by a pipeline and its successor at a reload).
 *
 * Sources that cannot replay hand every fresh item to journal_loop_append() before
 * they push it on; its journal id goes on the item's track entry, and track.c
 * reports it here once the record is done, as a done mark. Appends and done marks
 * are buffered and written once per loop iteration (a deferred event), never one
 * write per item. Answers that promise durability (an http 202, an ack:
 * journaled line) wait in journal_loop_when_safe() until what was appended before
 * them is written, and with fsync: batch or always also synced on the bio pool
 * (batch: one fdatasync per 10 ms window; always: one right after each write).
 * A full journal (max_bytes) is backpressure: journal_loop_full() and a waiter.
 */
#ifndef SLUICE_JOURNAL_LOOP_H
#define SLUICE_JOURNAL_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "conf.h"
#include "item.h"
#include "journal.h"

struct event_base;

struct journal_waiter {
	TAILQ_ENTRY(journal_waiter) entry;
	uint64_t mark; /* bytes written that must be safe; UINT64_MAX until the next write */
	void (*cb)(void *arg);
	void *arg;
	bool waiting;
	bool room; /* waits for room, not for durability */
};

/*
 * Opens STATE_DIR/journal (creating both) unless open already, and logs what a
 * crash left: *rec says it. 0, or -1 with err set.
 */
int journal_loop_open(struct event_base *base, const struct conf *c, char *err, size_t errlen);
bool journal_loop_on(void);
/* Replays the unfinished items found at open (once): cb as journal_replay's. */
long journal_loop_replay(journal_replay_cb cb, void *arg);
/* What the open found, for the log and status. */
const struct journal_recovery *journal_loop_recovery(void);
uint64_t journal_loop_replayed(void);

/* Journals a fresh, tracked item of source (its name); the done mark follows from track.c. */
void journal_loop_append(struct item *it, const char *source);
/* A replayed item keeps its id: its done mark goes to that. */
void journal_loop_adopt(struct item *it, uint64_t id);

bool journal_loop_full(void);
/* cb(arg) once the journal has room again. */
void journal_loop_wait_room(struct journal_waiter *w, void (*cb)(void *arg), void *arg);
/* cb(arg) once everything appended so far is written (and synced as journal.fsync says). */
void journal_loop_when_safe(struct journal_waiter *w, void (*cb)(void *arg), void *arg);
void journal_loop_cancel(struct journal_waiter *w);

/* Figures for metrics and status (0 without a journal). */
uint64_t journal_loop_bytes(void);
uint64_t journal_loop_items(void);

/* Writes what is buffered, syncs as journal.fsync says, and closes (at exit). */
void journal_loop_close(void);

#endif
