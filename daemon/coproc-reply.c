/* coproc-reply.c: where a co-process's answer ends (see coproc-reply.h). */
#include "coproc-reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

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

enum coproc_json_verdict coproc_reply_json(const char *line, size_t len, uint64_t want_id,
					   struct coproc_json_reply *out)
{
	char *text = xstrndup(line, len);
	struct json *j = strlen(text) == len ? json_parse(text) : NULL;
	const struct json *id = json_get(j, "id"), *res = json_get(j, "result"),
			  *err = json_get(j, "error");
	enum coproc_json_verdict v = COPROC_JSON_BAD;

	out->data = NULL;
	out->len = 0;
	out->why[0] = '\0';
	free(text);
	if (j == NULL || j->type != JSON_OBJECT)
		snprintf(out->why, sizeof(out->why),
			 "broke the json framing (an answer is one JSON object per line)");
	else if (id == NULL || id->type != JSON_NUMBER || id->number < 0 || id->number > 1e18)
		snprintf(out->why, sizeof(out->why),
			 "answered without a numeric \"id\" (json framing)");
	else if ((uint64_t)id->number != want_id)
		snprintf(
		    out->why, sizeof(out->why),
		    "answered id %.0f to the request with id %llu: its answers are out of step",
		    id->number, (unsigned long long)want_id);
	else if (res != NULL && res->type == JSON_STRING)
		v = COPROC_JSON_RESULT;
	else if (err != NULL && err->type == JSON_STRING)
		v = COPROC_JSON_ERROR;
	else
		snprintf(out->why, sizeof(out->why),
			 "answered with neither a string \"result\" nor a string \"error\"");
	if (v != COPROC_JSON_BAD) {
		const struct json *s = v == COPROC_JSON_RESULT ? res : err;
		out->data = xmalloc(s->string_len + 1);
		memcpy(out->data, s->string, s->string_len + 1);
		out->len = s->string_len;
	}
	json_free(j);
	return v;
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
