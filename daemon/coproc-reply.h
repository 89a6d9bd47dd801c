/*
 * coproc-reply.h: where a co-process's answer ends (SPEC `coprocess: framing`).
 *
 * The bytes come from a child, which is not trusted to follow the framing: a
 * length of "-1", one past max_item_bytes, a header that is not a number, or a
 * line that never ends is a verdict here, never an overflow or unbounded
 * buffering in the caller. Pure (bytes in, verdict out), so it is unit-tested
 * and fuzzed on its own; work-coproc.c acts on the verdict.
 */
#ifndef SLUICE_COPROC_REPLY_H
#define SLUICE_COPROC_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "<20 digits>\n": the longest length header a valid answer can have. */
#define COPROC_REPLY_HEAD_MAX 21

enum coproc_reply_verdict {
	COPROC_REPLY_MORE,	/* no whole answer yet: read on */
	COPROC_REPLY_OK,	/* a whole answer: start, len and consumed say where */
	COPROC_REPLY_TOO_LARGE, /* longer than max (or announced as longer) */
	COPROC_REPLY_BAD,	/* the bytes break the length framing */
};

struct coproc_reply {
	size_t start, len; /* the answer's bytes */
	size_t consumed;   /* the answer with its framing */
	const char *why;   /* TOO_LARGE ("... max_item_bytes") and BAD: what is wrong */
};

/*
 * Looks at the n bytes received since the last answer. length: `framing:
 * length`, else lines. MORE is only returned while n <= max +
 * COPROC_REPLY_HEAD_MAX, so a caller never needs to hold more than that.
 */
enum coproc_reply_verdict coproc_reply_parse(const char *buf, size_t n, bool length, uint64_t max,
					     struct coproc_reply *r);

/*
 * `framing: json`: the answer line (without its newline) to the request with id
 * want_id, {"id": N, "result": "..."} or {"id": N, "error": "..."}. RESULT and ERROR
 * give out->data (malloc'ed, out->len bytes: the result item, or the process's own
 * message for a failed item); BAD says why in out->why (not one JSON object, no
 * numeric id, an id that is not want_id: its answers are out of step).
 */
enum coproc_json_verdict { COPROC_JSON_RESULT, COPROC_JSON_ERROR, COPROC_JSON_BAD };
struct coproc_json_reply {
	char *data;
	size_t len;
	char why[128];
};
enum coproc_json_verdict coproc_reply_json(const char *line, size_t len, uint64_t want_id,
					   struct coproc_json_reply *out);

/*
 * The first bytes of buf for an error message: quoted, escaped, cut with "..."
 * and followed by the count ("\"-1\\n\" (3 bytes)").
 */
void coproc_reply_describe(const char *buf, size_t n, char *out, size_t outlen);

#endif
