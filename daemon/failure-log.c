/* failure-log.c: a failed item's warning line, rate-limited (see failure-log.h). */
#include "failure-log.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define FAILURE_LOG_BURST 10

void failure_log_item(struct failure_log *fl, const char *stage, const char *source,
		      const struct item *it, const struct failure *f)
{
	uint64_t now = now_usec();
	if (fl->logged >= FAILURE_LOG_BURST && now - fl->last_at < 1000000) {
		fl->unlogged++;
		return;
	}
	char more[64] = "";
	if (fl->unlogged > 0)
		snprintf(more, sizeof(more), " (%" PRIu64 " more failures not logged)",
			 fl->unlogged);
	fl->unlogged = 0;
	fl->logged++;
	fl->last_at = now;
	char *tail = json_escape_bytes(f->stderr_tail, strlen(f->stderr_tail));
	bool at_source = strncmp(stage, "source:", 7) == 0,
	     at_sink = strncmp(stage, "sink:", 5) == 0;
	const char *where = at_source ? stage + 7 : at_sink ? stage + 5 : stage;
	log_item(LOG_WARN, where, source, it->seq,
		 "%s '%s': item %" PRIu64 " failed (%s): %s%s%s%s",
		 at_source ? "source"
		 : at_sink ? "sink"
			   : "stage",
		 where, it->seq, failure_kind_name(f->kind), f->message,
		 tail[0] ? "; stderr: " : "", tail, more);
	free(tail);
}
