/*
 * report.h: failures and the pipeline's error report (asyncio's ExceptionGroup).
 *
 * Every failed item is described by a struct failure. The report keeps every
 * failure counted, grouped by stage and kind (and exit status or signal), with the
 * first few items of each group and their stderr tails, and prints it at exit.
 */
#ifndef SLUICE_REPORT_H
#define SLUICE_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "item.h"

enum failure_kind {
	FAIL_EXIT = 0,	       /* the command exited non-zero */
	FAIL_SIGNAL,	       /* the command was killed by a signal */
	FAIL_TIMEOUT,	       /* the per-item timeout passed */
	FAIL_SPAWN,	       /* the command could not be started */
	FAIL_OUTPUT_TOO_LARGE, /* its output passed max_item_bytes */
	FAIL_ITEM_TOO_LARGE,   /* an input record passed max_item_bytes */
	FAIL_IO,	       /* reading or writing failed */
	FAIL_HTTP,	       /* an HTTP peer answered with a failing status (in exit_status) */
	FAIL_ANSWERED,	       /* a co-process answered {"error": ...} (framing: json) */
	FAIL_REJECTED,	       /* a source refused an input (a poison Redis entry), with why */
	FAIL_KINDS
};

struct failure {
	enum failure_kind kind;
	int exit_status; /* FAIL_EXIT: the exit status; FAIL_HTTP: the HTTP status; else -1 */
	int signal;	 /* FAIL_SIGNAL / FAIL_TIMEOUT when known, else 0 */
	char message[256];
	char stderr_tail[512];
};

const char *failure_kind_name(enum failure_kind k);

struct report;
struct report *report_new(void);
void report_free(struct report *r);
void report_add(struct report *r, const char *stage, const char *source, const struct item *it,
		const struct failure *f);
uint64_t report_total(const struct report *r);
/* Writes the grouped report for people (text) or one JSON object (json). */
void report_print(const struct report *r, FILE *out, int json);

/* Escapes len bytes as the inside of a JSON string into a malloc'ed string. */
char *json_escape_bytes(const char *s, size_t len);

#endif
