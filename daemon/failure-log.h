/*
 * failure-log.h: a failed item's warning line, rate-limited: a burst in full, then
 * at most one line a second carrying a count of the failures it left out.
 */
#ifndef SLUICE_FAILURE_LOG_H
#define SLUICE_FAILURE_LOG_H

#include <stdint.h>

#include "item.h"
#include "report.h"

struct failure_log {
	uint64_t logged, unlogged, last_at; /* last_at: monotonic usec */
};

/* stage: a stage name, "source:NAME" or "sink:NAME"; source: the item's source name. */
void failure_log_item(struct failure_log *fl, const char *stage, const char *source,
		      const struct item *it, const struct failure *f);

#endif
