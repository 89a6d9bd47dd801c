/*
 * replay.h: at the first start, the unfinished items of earlier runs come back
 * from the spool (spool.h). The spool, and a replay that had not finished
 * (PATH.replaying), are merged into one new PATH.replaying before the spool
 * itself goes, so a crash at any point loses nothing and replays nothing twice;
 * the caller removes PATH.replaying once every replayed item is done.
 */
#ifndef SLUICE_REPLAY_H
#define SLUICE_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "item.h"

struct done_set;

struct replay_batch {
	struct item *head; /* in spool order, linked by ->next */
	char **stage_of;   /* the stage each was waiting for (a name, or "@sinks") */
	size_t n, cap;
	uint64_t max_seq; /* the highest sequence number seen */
};

/* The id of a source name seen in the spool. */
typedef uint32_t (*replay_intern_fn)(const char *name);

/*
 * Reads spool and replaying_path into b (items marked replayed and tracked for
 * the joblog; with done, their keys are added to it: they are not read again).
 * -1 when the spool cannot be set aside (b is then empty); a damaged file is
 * logged and skipped.
 */
int replay_load(const char *spool, const char *replaying_path, uint64_t max_item_bytes,
		replay_intern_fn intern, struct done_set *done, struct replay_batch *b);

#endif
