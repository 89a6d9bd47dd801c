/* coproc-reply.c: where a co-process's answer ends (see coproc-reply.h). */
#include "coproc-reply.h"

#include <stdio.h>
#include <string.h>

static enum coproc_reply_verdict lines_parse(const char *buf, size_t n, uint64_t max,
					     struct coproc_reply *r)
{
	/* The newline may sit at most at offset max: look no further. */
	size_t scan = max < n ? (size_t)max + 1 : n;
	const char *nl = memchr(buf, '\n', scan);
	if (nl == NULL) {
		if (n <= max)
			return COPROC_REPLY_MORE;
		r->why = "answered with a line longer than max_item_bytes";
		return COPROC_REPLY_TOO_LARGE;
	}
	r->start = 0;
	r->len = (size_t)(nl - buf);
	r->consumed = r->len + 1;
	return COPROC_REPLY_OK;
}

enum coproc_reply_verdict coproc_reply_parse(const char *buf, size_t n, bool length, uint64_t max,
					     struct coproc_reply *r)
{
	uint64_t v = 0;
	size_t i;

	r->why = NULL;
	if (!length)
		return lines_parse(buf, n, max, r);
	/* Digits only: strtoull would take "-1", " 5" and "\n-1" (across the newline). */
	for (i = 0; i < n && buf[i] != '\n'; i++) {
		unsigned d = (unsigned char)buf[i] - '0';
		if (d > 9 || i + 1 >= COPROC_REPLY_HEAD_MAX) {
			r->why = "broke the length framing (an answer starts with "
				 "\"<decimal length>\\n\")";
			return COPROC_REPLY_BAD;
		}
		if (v > (UINT64_MAX - d) / 10 || v * 10 + d > max) {
			r->why = "announced an answer longer than max_item_bytes";
			return COPROC_REPLY_TOO_LARGE;
		}
		v = v * 10 + d;
	}
	if (i == n)
		return COPROC_REPLY_MORE;
	if (i == 0) {
		r->why = "broke the length framing (an empty length header)";
		return COPROC_REPLY_BAD;
	}
	r->start = i + 1;
	if (n - r->start < v)
		return COPROC_REPLY_MORE;
	r->len = (size_t)v;
	r->consumed = r->start + r->len;
	return COPROC_REPLY_OK;
}

void coproc_reply_describe(const char *buf, size_t n, char *out, size_t outlen)
{
	char shown[4 * 48 + 1];
	size_t o = 0, i;

	for (i = 0; i < n && i < 48; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '\n')
			o += (size_t)sprintf(shown + o, "\\n");
		else if (c == '"' || c == '\\')
			o += (size_t)sprintf(shown + o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			o += (size_t)sprintf(shown + o, "\\x%02x", c);
		else
			shown[o++] = (char)c;
	}
	shown[o] = '\0';
	snprintf(out, outlen, "\"%s%s\" (%zu byte%s)", shown, i < n ? "..." : "", n,
		 n == 1 ? "" : "s");
}
