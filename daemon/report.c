/*
 * report.c: the error report (see report.h). Groups are few (stages x kinds x
 * statuses), so they live in a small array searched linearly; each keeps its
 * count and its first REPORT_EXAMPLES items.
 */
#include "report.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define REPORT_EXAMPLES	   3
#define EXAMPLE_ITEM_BYTES 200

static const char *const kind_names[FAIL_KINDS] = {
    "exit",	      "signal", "timeout", "spawn", "output_too_large",
    "item_too_large", "io",	"http",	   "error", "rejected",
};

const char *failure_kind_name(enum failure_kind k)
{
	return k < FAIL_KINDS ? kind_names[k] : "unknown";
}

struct example {
	uint64_t seq;
	char *source;
	char *item;
	char *message;
	char *stderr_tail;
};

struct group {
	char *stage;
	enum failure_kind kind;
	int exit_status;
	int signal;
	uint64_t count;
	struct example ex[REPORT_EXAMPLES];
	size_t n_ex;
};

struct report {
	struct group *g;
	size_t n, cap;
	uint64_t total;
};

struct report *report_new(void)
{
	return xcalloc(1, sizeof(struct report));
}

void report_free(struct report *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++) {
		for (size_t j = 0; j < r->g[i].n_ex; j++) {
			free(r->g[i].ex[j].source);
			free(r->g[i].ex[j].item);
			free(r->g[i].ex[j].message);
			free(r->g[i].ex[j].stderr_tail);
		}
		free(r->g[i].stage);
	}
	free(r->g);
	free(r);
}

/* Only these kinds are told apart by status; a timeout is a timeout however it ended. */
static bool keyed_by_status(enum failure_kind k)
{
	return k == FAIL_EXIT || k == FAIL_SIGNAL || k == FAIL_HTTP;
}

void report_add(struct report *r, const char *stage, const char *source, const struct item *it,
		const struct failure *f)
{
	struct group *g = NULL;
	r->total++;
	for (size_t i = 0; i < r->n && g == NULL; i++)
		if (strcmp(r->g[i].stage, stage) == 0 && r->g[i].kind == f->kind &&
		    (!keyed_by_status(f->kind) ||
		     (r->g[i].exit_status == f->exit_status && r->g[i].signal == f->signal)))
			g = &r->g[i];
	if (g == NULL) {
		if (r->n == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 8;
			r->g = xrealloc(r->g, r->cap * sizeof(*r->g));
		}
		g = &r->g[r->n++];
		memset(g, 0, sizeof(*g));
		g->stage = xstrdup(stage);
		g->kind = f->kind;
		g->exit_status = keyed_by_status(f->kind) ? f->exit_status : -1;
		g->signal = keyed_by_status(f->kind) ? f->signal : 0;
	}
	g->count++;
	if (g->n_ex < REPORT_EXAMPLES) {
		struct example *e = &g->ex[g->n_ex++];
		size_t n = it->len < EXAMPLE_ITEM_BYTES ? it->len : EXAMPLE_ITEM_BYTES;
		e->seq = it->seq;
		e->source = xstrdup(source != NULL ? source : "");
		e->item = json_escape_bytes(it->data, n);
		e->message = xstrdup(f->message);
		e->stderr_tail = json_escape_bytes(f->stderr_tail, strlen(f->stderr_tail));
	}
}

uint64_t report_total(const struct report *r)
{
	return r->total;
}

char *json_escape_bytes(const char *s, size_t len)
{
	char *out = xmalloc(len * 6 + 1), *o = out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"':
			*o++ = '\\', *o++ = '"';
			break;
		case '\\':
			*o++ = '\\', *o++ = '\\';
			break;
		case '\n':
			*o++ = '\\', *o++ = 'n';
			break;
		case '\t':
			*o++ = '\\', *o++ = 't';
			break;
		case '\r':
			*o++ = '\\', *o++ = 'r';
			break;
		default:
			if (c < 0x20 || c == 0x7f) {
				o += sprintf(o, "\\u%04x", c);
			} else if (c < 0x80) {
				*o++ = (char)c;
			} else {
				/* JSON is UTF-8: a byte that is not part of a valid sequence is
				 * written as the code point of the same number, so every line
				 * parses and the byte can still be told. */
				size_t n = utf8_valid_len((const unsigned char *)s + i, len - i);
				if (n == 0) {
					o += sprintf(o, "\\u%04x", c);
				} else {
					memcpy(o, s + i, n);
					o += n;
					i += n - 1;
				}
			}
		}
	}
	*o = '\0';
	return out;
}

static void group_title(const struct group *g, char *buf, size_t len)
{
	if (g->kind == FAIL_EXIT)
		snprintf(buf, len, "exit status %d", g->exit_status);
	else if (g->kind == FAIL_SIGNAL)
		snprintf(buf, len, "killed by signal %d", g->signal);
	else if (g->kind == FAIL_HTTP)
		snprintf(buf, len, "HTTP %d", g->exit_status);
	else
		snprintf(buf, len, "%s", failure_kind_name(g->kind));
}

void report_print(const struct report *r, FILE *out, int json)
{
	char title[64];
	if (r->total == 0)
		return;
	if (json) {
		fprintf(out, "{\"report\":{\"failed\":%" PRIu64 ",\"groups\":[", r->total);
		for (size_t i = 0; i < r->n; i++) {
			const struct group *g = &r->g[i];
			fprintf(
			    out,
			    "%s{\"stage\":\"%s\",\"kind\":\"%s\",\"exit_status\":%d,\"signal\":%d,"
			    "\"count\":%" PRIu64 ",\"examples\":[",
			    i ? "," : "", g->stage, failure_kind_name(g->kind), g->exit_status,
			    g->signal, g->count);
			for (size_t j = 0; j < g->n_ex; j++) {
				char *msg =
				    json_escape_bytes(g->ex[j].message, strlen(g->ex[j].message));
				fprintf(out,
					"%s{\"seq\":%" PRIu64 ",\"source\":\"%s\",\"item\":\"%s\","
					"\"error\":\"%s\",\"stderr\":\"%s\"}",
					j ? "," : "", g->ex[j].seq, g->ex[j].source, g->ex[j].item,
					msg, g->ex[j].stderr_tail);
				free(msg);
			}
			fprintf(out, "]}");
		}
		fprintf(out, "]}}\n");
		return;
	}
	fprintf(out, "error report: %" PRIu64 " item(s) failed\n", r->total);
	for (size_t i = 0; i < r->n; i++) {
		const struct group *g = &r->g[i];
		group_title(g, title, sizeof(title));
		fprintf(out, "  %s: %s: %" PRIu64 " item(s)\n", g->stage, title, g->count);
		for (size_t j = 0; j < g->n_ex; j++) {
			fprintf(out, "    item %" PRIu64 " \"%s\": %s\n", g->ex[j].seq,
				g->ex[j].item, g->ex[j].message);
			if (g->ex[j].stderr_tail[0] != '\0')
				fprintf(out, "      stderr: %s\n", g->ex[j].stderr_tail);
		}
		if (g->count > g->n_ex)
			fprintf(out, "    ... and %" PRIu64 " more\n", g->count - g->n_ex);
	}
}
