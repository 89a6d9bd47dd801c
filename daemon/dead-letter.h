/*
 * dead-letter.h: the line a failed item leaves in the dead letter (SPEC
 * dead_letter): one JSON object with when, where and why it failed, and the item.
 *
 *   {"time":"2026-01-02T03:04:05.678Z","stage":"S","source":"SRC","seq":N,
 *    "attempts":N,"error":"KIND","exit_status":N|null,"signal":N|null,
 *    "message":"...","stderr":"...","item":"..."}
 */
#ifndef SLUICE_DEAD_LETTER_H
#define SLUICE_DEAD_LETTER_H

#include "item.h"
#include "report.h"

/* The line, without its newline; the caller frees it. */
char *dead_letter_json(const char *stage, const char *source, const struct item *it,
		       const struct failure *f);

#endif
