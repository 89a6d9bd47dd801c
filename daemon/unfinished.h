/*
 * unfinished.h: the items a cancelled pipeline had not finished (cancelled in
 * flight, or still queued), each with the stage it was waiting for, and their
 * one atomic spool file (spool.h), made durable on the bio pool so that even a
 * stop never fsyncs on the loop. Without a spool, or when it cannot be written,
 * they are counted lost, and the log says how to keep them next time.
 */
#ifndef SLUICE_UNFINISHED_H
#define SLUICE_UNFINISHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "item.h"

struct unfinished_entry {
	char *stage;
	struct item *it;
};

typedef const char *(*unfinished_name_fn)(void *arg, uint32_t source);
/* The spool is written (lost: false), or the items were lost (lost: true). */
typedef void (*unfinished_done_fn)(void *arg, bool lost);

struct unfinished {
	struct unfinished_entry *v;
	size_t n, cap;
	uint64_t spooled;  /* what the spool holds, whatever came back meanwhile */
	bool spool_failed; /* a spool was due and could not be written */
	bool spooling;	   /* the spool is being made durable on the bio pool */
	const char *path;
	unfinished_done_fn done;
	void *done_arg;
};

/* Takes ownership of it. */
void unfinished_add(struct unfinished *u, const char *stage, struct item *it);
/*
 * Writes every entry to the spool at path (NULL: none configured); done(arg,
 * lost) follows, from the loop once the spool is durable, or at once (nothing to
 * write, or it could not be). Then unfinished_clear() frees what is left.
 */
void unfinished_spool(struct unfinished *u, const char *path, unfinished_name_fn name,
		      void *name_arg, unfinished_done_fn done, void *arg);
/* Frees the entries and their items (written, or lost). */
void unfinished_clear(struct unfinished *u);
/* Forgets the entries (their items and stage names were handed on). */
void unfinished_forget(struct unfinished *u);
void unfinished_free(struct unfinished *u);

#endif
