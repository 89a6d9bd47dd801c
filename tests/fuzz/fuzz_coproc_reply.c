/*
 * fuzz_coproc_reply.c: the co-process answer framing (coproc-reply.c), driven as
 * work-coproc.c drives it: the bytes a child wrote, parsed answer after answer.
 * Input: a flags byte (bit 0: framing length; bits 1-7: max_item_bytes 0..127),
 * then the bytes. Checked: an answer lies inside what was received and is at
 * most max bytes (copied into a block of exactly its length, so ASan sees any
 * overrun); MORE only while the bytes fit in max + COPROC_REPLY_HEAD_MAX (the
 * caller's buffer); every verdict but OK and MORE has a reason; the description
 * of the bytes fits whatever buffer it is given. The crash-* seeds crashed the
 * strtoull parser this replaced (the daemon segfaulted). Each line is also read as
 * a `framing: json` answer: a verdict and its result or reason, never a crash.
 *
 * LINK: coproc-reply.o json.o util.o
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coproc-reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool length = data[0] & 1;
	uint64_t max = data[0] >> 1;
	const char *buf = (const char *)data + 1;
	size_t n = size - 1, off = 0;
	char desc[256];

	for (;;) {
		struct coproc_reply r;
		enum coproc_reply_verdict v =
		    coproc_reply_parse(buf + off, n - off, length, max, &r);
		if (v == COPROC_REPLY_MORE) {
			if (n - off > max + COPROC_REPLY_HEAD_MAX)
				abort();
			break;
		}
		if (v != COPROC_REPLY_OK) {
			if (r.why == NULL)
				abort();
			break;
		}
		if (r.len > max || r.consumed > n - off)
			abort();
		/* lines: the line and its newline; length: digits, a newline, the bytes */
		if (!length &&
		    (r.start != 0 || r.consumed != r.len + 1 || buf[off + r.len] != '\n'))
			abort();
		if (length && (r.start < 2 || r.start + r.len != r.consumed ||
			       buf[off + r.start - 1] != '\n' ||
			       strspn(buf + off, "0123456789") != r.start - 1))
			abort();
		char *answer = malloc(r.len + 1);
		memcpy(answer, buf + off + r.start, r.len);
		answer[r.len] = '\0';
		free(answer);
		/* framing: json reads each line as an answer to id 1. */
		if (!length) {
			struct coproc_json_reply jr;
			enum coproc_json_verdict jv =
			    coproc_reply_json(buf + off + r.start, r.len, 1, &jr);
			if ((jv == COPROC_JSON_BAD) != (jr.data == NULL) ||
			    (jv == COPROC_JSON_BAD && jr.why[0] == '\0'))
				abort();
			if (jr.data != NULL && jr.data[jr.len] != '\0')
				abort();
			free(jr.data);
		}
		off += r.consumed;
	}
	size_t outlen = n % sizeof(desc) + 1;
	coproc_reply_describe(buf + off, n - off, desc, outlen);
	if (strlen(desc) >= outlen)
		abort();
	return 0;
}
