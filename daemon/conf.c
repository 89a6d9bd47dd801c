/*
 * conf.c: loads the pipeline file (SPEC §3) into the plain structs of conf.h,
 * and prints them back as YAML for --check.
 *
 * The file is read whole and parsed with libyaml's document API, then walked by a
 * small schema. Every mapping has a key table; read_fields() checks each key
 * against it (unknown keys get a did-you-mean, keys of later versions get "not
 * supported yet", duplicates point at the first one) and hands back the value
 * nodes by key, so that a mapping is interpreted in dependency order whatever the
 * order in the file: a source's 'type' before its other keys, the top-level
 * 'queue' (inherited) and 'dead_letter' (referenced) before the stages.
 *
 * Errors are collected with their positions, not printed at once: loading goes on
 * to find them all (up to MAX_ERRORS), and they are printed sorted by position, so
 * the user sees every problem in file order in one run. An entry that failed keeps
 * its defaults, and its dependants do not report a second error for the same
 * mistake (a stage that names a broken dead_letter block does not also hear that
 * there is none). Nothing here outlives conf_load() except the struct conf, which
 * owns all its strings, so conf_free() is the only cleanup, on success or error.
 */
#include "conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "addr.h"
#include "units.h"
#include "util.h"

#define MAX_ERRORS 100
#define MAX_KEYS   32
#define DESC_LEN   64

struct conf_err {
	size_t line, col, seq;
	char *msg;
};

struct loader {
	const char *file;
	yaml_document_t *doc;
	struct conf *c;
	struct conf_err *errs;
	size_t n_errs;
	bool too_many;
	size_t end_line, end_col; /* where the file ends (end_of) */
};

/* A key of a mapping, or a value of an enum. */
struct keydef {
	const char *name;
	bool later; /* in SPEC, not implemented by this version */
};

struct fields {
	const yaml_node_t *key[MAX_KEYS];
	const yaml_node_t *val[MAX_KEYS]; /* NULL for absent and for 'later' keys */
};

/* --- names of enum values ------------------------------------------------------- */

static const struct keydef when_full_names[] = {
    {.name = "block"}, {.name = "drop_newest"}, {.name = "drop_oldest"}};
static const struct keydef framing_names[] = {{.name = "lines"}, {.name = "nul"}};
static const struct keydef source_type_names[] = {
    {.name = "file"}, {.name = "stdin"}, {.name = "exec"}, {.name = "generate"},
    {.name = "tcp"},  {.name = "unix"},	 {.name = "http"}, {.name = "dir"},
};
static const struct keydef exec_stdin_names[] = {{.name = "none"}, {.name = "item"}};
static const struct keydef exec_stdout_names[] = {
    {.name = "result"}, {.name = "lines"}, {.name = "discard"}, {.name = "item"}};
static const struct keydef builtin_op_names[] = {{.name = "passthrough"}, {.name = "grep"}};
static const struct keydef on_failure_names[] = {
    {.name = "skip"}, {.name = "dead_letter"}, {.name = "cancel"}};
static const struct keydef sink_type_names[] = {
    {.name = "file"}, {.name = "stdout"}, {.name = "discard"}, {.name = "tcp"},
    {.name = "unix"}, {.name = "exec"},	  {.name = "http"},
};
static const struct keydef dead_letter_type_names[] = {{.name = "file"}, {.name = "stdout"}};
static const struct keydef split_names[] = {{.name = "none"}, {.name = "lines"}, {.name = "nul"}};
static const struct keydef http_method_names[] = {{.name = "GET"},   {.name = "POST"},
						  {.name = "PUT"},   {.name = "DELETE"},
						  {.name = "PATCH"}, {.name = "HEAD"}};
static const struct keydef file_mode_names[] = {{.name = "append"}, {.name = "truncate"}};
static const struct keydef fsync_names[] = {
    {.name = "never"}, {.name = "batch"}, {.name = "always"}};
static const struct keydef log_level_names[] = {
    {.name = "error"}, {.name = "warn"}, {.name = "info"}, {.name = "debug"}};
static const struct keydef log_format_names[] = {{.name = "text"}, {.name = "json"}};

const char *conf_source_type_name(enum source_type t)
{
	return (size_t)t < ARRAY_LEN(source_type_names) ? source_type_names[t].name : "?";
}

const char *conf_sink_type_name(enum sink_type t)
{
	return (size_t)t < ARRAY_LEN(sink_type_names) ? sink_type_names[t].name : "?";
}

const char *conf_on_failure_name(enum on_failure f)
{
	return (size_t)f < ARRAY_LEN(on_failure_names) ? on_failure_names[f].name : "?";
}

const char *conf_http_method_name(enum http_method m)
{
	return (size_t)m < ARRAY_LEN(http_method_names) ? http_method_names[m].name : "?";
}

static const char *enum_name(const struct keydef *names, size_t n, int v)
{
	return v >= 0 && (size_t)v < n ? names[v].name : "?";
}

/* --- errors ----------------------------------------------------------------------- */

/* Messages quote the user's text; keep each error on one line whatever it holds. */
static char *escape_controls(const char *s)
{
	char *out = xmalloc(strlen(s) * 4 + 1), *p = out;

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '\n') {
			*p++ = '\\';
			*p++ = 'n';
		} else if (ch == '\t') {
			*p++ = '\\';
			*p++ = 't';
		} else if (ch < 0x20 || ch == 0x7f) {
			p += sprintf(p, "\\x%02X", ch);
		} else {
			*p++ = (char)ch;
		}
	}
	*p = '\0';
	return out;
}

static void err_vlc(struct loader *ld, size_t line, size_t col, const char *fmt, va_list ap)
{
	va_list aq;
	char *raw;
	int n;

	if (ld->n_errs >= MAX_ERRORS) {
		ld->too_many = true;
		return;
	}
	if (ld->end_line > 0 && line > ld->end_line) {
		line = ld->end_line;
		col = ld->end_col;
	}
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	raw = xmalloc((size_t)n + 1);
	vsnprintf(raw, (size_t)n + 1, fmt, ap);
	ld->errs = xrealloc(ld->errs, (ld->n_errs + 1) * sizeof(*ld->errs));
	ld->errs[ld->n_errs] = (struct conf_err){line, col, ld->n_errs, escape_controls(raw)};
	ld->n_errs++;
	free(raw);
}

__attribute__((format(printf, 4, 5))) static void err_lc(struct loader *ld, size_t line, size_t col,
							 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vlc(ld, line, col, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void err_node(struct loader *ld, const yaml_node_t *n,
							   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vlc(ld, n->start_mark.line + 1, n->start_mark.column + 1, fmt, ap);
	va_end(ap);
}

static int err_cmp(const void *a, const void *b)
{
	const struct conf_err *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* --- nodes ------------------------------------------------------------------------ */

static struct conf_pos node_pos(const yaml_node_t *n)
{
	return (struct conf_pos){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

static const yaml_node_t *node_at(struct loader *ld, int index)
{
	return yaml_document_get_node(ld->doc, index);
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* "key:" with nothing after it. */
static bool is_empty(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0 &&
	       n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* What was found, for "expected X, got Y". */
static const char *describe(const yaml_node_t *n, char *buf)
{
	size_t len, cut;

	switch (n->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SCALAR_NODE:
		if (is_empty(n))
			return "nothing";
		len = strlen(scalar(n));
		cut = len;
		if (cut > 40) {
			cut = 40;
			/* don't cut a UTF-8 sequence in half */
			while (cut > 0 && ((unsigned char)scalar(n)[cut] & 0xc0) == 0x80)
				cut--;
		}
		snprintf(buf, DESC_LEN, "'%.*s%s'", (int)cut, scalar(n), cut < len ? "..." : "");
		return buf;
	default:
		return "nothing";
	}
}

/* The value of the first pair whose key is name, before the mapping is checked. */
static const yaml_node_t *map_peek(struct loader *ld, const yaml_node_t *map, const char *name)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *k = node_at(ld, p->key);
		if (k->type == YAML_SCALAR_NODE && strcmp(scalar(k), name) == 0)
			return node_at(ld, p->value);
	}
	return NULL;
}

static void free_argv(char **argv, size_t argc);

/* --- did you mean ---------------------------------------------------------------- */

size_t conf_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d;
	size_t *row = xmalloc((lb + 1) * sizeof(*row));

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0]; /* row[i-1][j-1] */
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	d = row[lb];
	free(row);
	return d;
}

/*
 * The nearest candidate within max(2, len/3) edits, or NULL. A candidate that
 * shares nothing with what was typed ("x" -> "op") is no help, so a distance equal
 * to the longer length never counts.
 */
static const char *suggest(const char *got, const struct keydef *cands, size_t n)
{
	size_t len = strlen(got), limit = len / 3 > 2 ? len / 3 : 2, best = SIZE_MAX;
	const char *found = NULL;

	for (size_t i = 0; i < n; i++) {
		size_t d = conf_edit_distance(got, cands[i].name);
		size_t longer = len > strlen(cands[i].name) ? len : strlen(cands[i].name);
		if (d < best && d <= limit && d < longer) {
			best = d;
			found = cands[i].name;
		}
	}
	return found;
}

/* "; did you mean 'x'?" or "", into buf. */
static const char *did_you_mean(const char *got, const struct keydef *cands, size_t n, char *buf,
				size_t len)
{
	const char *s = suggest(got, cands, n);
	if (s == NULL)
		return "";
	snprintf(buf, len, "; did you mean '%s'?", s);
	return buf;
}

/* --- mappings -------------------------------------------------------------------- */

static void read_fields(struct loader *ld, const yaml_node_t *map, const char *where,
			const struct keydef *keys, size_t n, struct fields *f)
{
	char desc[DESC_LEN], dym[96];

	memset(f, 0, sizeof(*f));
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *k = node_at(ld, p->key);
		const char *name;
		size_t i;

		if (k->type != YAML_SCALAR_NODE) {
			err_node(ld, k, "expected a key name %s, got %s", where, describe(k, desc));
			continue;
		}
		name = scalar(k);
		for (i = 0; i < n; i++) {
			if (strcmp(keys[i].name, name) == 0 &&
			    strlen(name) == k->data.scalar.length)
				break;
		}
		if (i == n) {
			err_node(ld, k, "unknown key '%s' %s%s", name, where,
				 did_you_mean(name, keys, n, dym, sizeof(dym)));
			continue;
		}
		if (f->key[i] != NULL) {
			err_node(ld, k, "duplicate key '%s' %s (first at %zu:%zu)", name, where,
				 f->key[i]->start_mark.line + 1, f->key[i]->start_mark.column + 1);
			continue;
		}
		f->key[i] = k;
		if (keys[i].later) {
			err_node(ld, k, "'%s' is not supported by this version of sluiced yet",
				 name);
			continue;
		}
		f->val[i] = node_at(ld, p->value);
	}
}

static bool want_mapping(struct loader *ld, const char *key, const yaml_node_t *v)
{
	char desc[DESC_LEN];

	if (v->type == YAML_MAPPING_NODE)
		return true;
	err_node(ld, v, "expected a mapping for '%s', got %s", key, describe(v, desc));
	return false;
}

/* --- scalars --------------------------------------------------------------------- */

/* The scalar's text, or NULL after "expected <what> for 'key', got ...". */
static const char *want_scalar(struct loader *ld, const char *key, const yaml_node_t *v,
			       const char *what)
{
	char desc[DESC_LEN];

	if (v->type != YAML_SCALAR_NODE || is_empty(v)) {
		err_node(ld, v, "expected %s for '%s', got %s", what, key, describe(v, desc));
		return NULL;
	}
	return scalar(v);
}

static void note_pos(struct loader *ld, const void *field, const yaml_node_t *v)
{
	struct conf *c = ld->c;
	c->keypos = xrealloc(c->keypos, (c->n_keypos + 1) * sizeof(*c->keypos));
	c->keypos[c->n_keypos++] = (struct conf_keypos){field, node_pos(v)};
}

struct conf_pos conf_pos_of(const struct conf *c, const void *field, struct conf_pos fallback)
{
	/* The last one: a key given twice is an error, but a getter may run twice. */
	for (size_t i = c->n_keypos; i-- > 0;)
		if (c->keypos[i].field == field)
			return c->keypos[i].pos;
	return fallback;
}

static bool get_str(struct loader *ld, const char *key, const yaml_node_t *v, bool nonempty,
		    char **out)
{
	const char *s = want_scalar(ld, key, v, "a string");

	if (s == NULL)
		return false;
	if (strlen(s) != v->data.scalar.length) {
		err_node(ld, v, "'%s' must not contain a NUL character", key);
		return false;
	}
	if (nonempty && *s == '\0') {
		err_node(ld, v, "'%s' must not be empty", key);
		return false;
	}
	free(*out);
	*out = xstrdup(s);
	note_pos(ld, out, v);
	return true;
}

static bool get_bool(struct loader *ld, const char *key, const yaml_node_t *v, bool *out)
{
	char desc[DESC_LEN];
	const char *s = want_scalar(ld, key, v, "true or false");

	if (s == NULL)
		return false;
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0) {
		*out = true;
	} else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0) {
		*out = false;
	} else {
		err_node(ld, v, "expected true or false for '%s', got %s", key, describe(v, desc));
		return false;
	}
	return true;
}

static bool get_uint(struct loader *ld, const char *key, const yaml_node_t *v, uint64_t min,
		     uint64_t max, uint64_t *out)
{
	char desc[DESC_LEN];
	const char *s = want_scalar(ld, key, v, "a non-negative integer");
	uint64_t n = 0;
	bool overflow = false;

	if (s == NULL)
		return false;
	if (*s == '\0' || strspn(s, "0123456789") != strlen(s)) {
		err_node(ld, v, "expected a non-negative integer for '%s', got %s", key,
			 describe(v, desc));
		return false;
	}
	for (; *s != '\0'; s++) {
		unsigned dig = (unsigned)(*s - '0');
		if (n > (UINT64_MAX - dig) / 10)
			overflow = true;
		else
			n = n * 10 + dig;
	}
	if (overflow || n < min || n > max) {
		err_node(ld, v, "'%s' must be between %llu and %llu, got %s", key,
			 (unsigned long long)min, (unsigned long long)max, scalar(v));
		return false;
	}
	*out = n;
	return true;
}

/* Numeric-looking input gets units.c's reason ("needs a unit"); words do not need it. */
static const char *unit_detail(const char *s, const char *uerr, char *buf, size_t len)
{
	if (!(*s >= '0' && *s <= '9') && *s != '.' && *s != '-')
		return "";
	snprintf(buf, len, "; %s", uerr);
	return buf;
}

static bool get_duration(struct loader *ld, const char *key, const yaml_node_t *v, uint64_t *out)
{
	static const char what[] = "a duration like 250ms, 5s, 2m, 1h";
	char desc[DESC_LEN], detail[96];
	const char *s = want_scalar(ld, key, v, what), *uerr;

	if (s == NULL)
		return false;
	if (units_duration(s, out, &uerr) < 0) {
		err_node(ld, v, "expected %s for '%s', got %s%s", what, key, describe(v, desc),
			 unit_detail(s, uerr, detail, sizeof(detail)));
		return false;
	}
	return true;
}

/* Every size in the file is a limit, where zero would make no sense. */
static bool get_size(struct loader *ld, const char *key, const yaml_node_t *v, uint64_t *out)
{
	static const char what[] = "a size like 512, 64KiB, 16MiB, 1GiB";
	char desc[DESC_LEN], detail[96];
	const char *s = want_scalar(ld, key, v, what), *uerr;
	uint64_t n;

	if (s == NULL)
		return false;
	if (units_size(s, &n, &uerr) < 0) {
		err_node(ld, v, "expected %s for '%s', got %s%s", what, key, describe(v, desc),
			 unit_detail(s, uerr, detail, sizeof(detail)));
		return false;
	}
	if (n == 0) {
		err_node(ld, v, "'%s' must be greater than 0", key);
		return false;
	}
	*out = n;
	return true;
}

/*
 * The index of v's value in vals, -1 after an error, or -2 when the value names a
 * kind of a later version (what = "source type" for the message).
 */
static int get_enum(struct loader *ld, const char *key, const yaml_node_t *v,
		    const struct keydef *vals, size_t n, const char *what)
{
	char list[256] = "", desc[DESC_LEN], dym[96];
	const char *s;

	for (size_t i = 0; i < n; i++) {
		if (vals[i].later)
			continue;
		if (list[0] != '\0')
			strcat(list, ", ");
		strcat(list, vals[i].name);
	}
	if (v->type != YAML_SCALAR_NODE || is_empty(v)) {
		err_node(ld, v, "'%s' must be one of %s; got %s", key, list, describe(v, desc));
		return -1;
	}
	s = scalar(v);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, vals[i].name) != 0)
			continue;
		if (vals[i].later) {
			err_node(ld, v, "%s '%s' is not supported by this version of sluiced yet",
				 what, s);
			return -2;
		}
		return (int)i;
	}
	err_node(ld, v, "'%s' must be one of %s; got %s%s", key, list, describe(v, desc),
		 did_you_mean(s, vals, n, dym, sizeof(dym)));
	return -1;
}

static bool valid_name(const char *s)
{
	return *s != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789_.-") == strlen(s);
}

static const char name_rule[] = "may only contain letters, digits, '_', '.' and '-'";

/* "is 130 bytes long; ..." when s is too long to be stored whole (CONF_NAME_MAX). */
static bool name_too_long(const char *s, char *why, size_t len)
{
	size_t n = strlen(s);
	snprintf(why, len, "is %zu bytes long; a name is at most %d bytes", n, CONF_NAME_MAX);
	return n > CONF_NAME_MAX;
}

/* Names end up in metrics labels and file names, hence the narrow alphabet. */
static void get_name(struct loader *ld, const char *what, const yaml_node_t *v, char **out)
{
	char why[96];
	if (!get_str(ld, "name", v, false, out))
		return;
	if (**out == '\0')
		err_node(ld, v, "%s name must not be empty", what);
	else if (!valid_name(*out))
		err_node(ld, v, "%s name '%s' %s", what, *out, name_rule);
	else if (name_too_long(*out, why, sizeof(why)))
		err_node(ld, v, "%s name '%.32s...' %s", what, *out, why);
}

static void get_argv(struct loader *ld, const yaml_node_t *v, char ***argv, size_t *argc)
{
	static const char msg[] = "'argv' must be a non-empty list of strings";
	size_t n;

	if (v->type != YAML_SEQUENCE_NODE ||
	    v->data.sequence.items.top == v->data.sequence.items.start) {
		err_node(ld, v, "%s", msg);
		return;
	}
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	free_argv(*argv, *argc);
	*argv = xcalloc(n + 1, sizeof(**argv));
	*argc = n;
	/* The program: what a check of the environment points at. */
	note_pos(ld, argv, node_at(ld, v->data.sequence.items.start[0]));
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *a = node_at(ld, v->data.sequence.items.start[i]);
		if (a->type != YAML_SCALAR_NODE || is_empty(a)) {
			err_node(ld, a, "%s", msg);
			(*argv)[i] = xstrdup("");
			continue;
		}
		(*argv)[i] = xstrdup(scalar(a));
		if (strlen(scalar(a)) != a->data.scalar.length)
			err_node(ld, a, "'argv' must not contain a NUL character");
		else if (i == 0 && *scalar(a) == '\0')
			err_node(ld, a,
				 "the program to run (the first element of 'argv') "
				 "must not be empty");
	}
}

/* "stage 'resize'", or "stage #2" when it has no usable name. */
static char *entry_label(struct loader *ld, const yaml_node_t *map, const char *kind, size_t idx)
{
	const yaml_node_t *n = map_peek(ld, map, "name");

	if (n != NULL && n->type == YAML_SCALAR_NODE && !is_empty(n) && *scalar(n) != '\0')
		return xasprintf("%s '%s'", kind, scalar(n));
	return xasprintf("%s #%zu", kind, idx + 1);
}

/* "only to file, stdin, exec", from a mask of 1 << kind. */
static const char *kinds_list(unsigned mask, const struct keydef *names, size_t n, char *buf,
			      size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if ((mask & (1u << i)) && !names[i].later) {
			if (buf[0] != '\0')
				strncat(buf, ", ", len - strlen(buf) - 1);
			strncat(buf, names[i].name, len - strlen(buf) - 1);
		}
	}
	return buf;
}

/* --- addresses ------------------------------------------------------------------- */

static bool valid_host_chars(const char *h, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char ch = h[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
			return false;
	}
	return len > 0;
}

static bool valid_v6(const char *h, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, h, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

static int copy_host(const char *h, size_t len, char *host, size_t hostlen, const char **why)
{
	if (len >= hostlen) {
		*why = "the host name is too long";
		return -1;
	}
	memcpy(host, h, len);
	host[len] = '\0';
	return 0;
}

int conf_parse_hostport(const char *s, char *host, size_t hostlen, unsigned *port, const char **why)
{
	const char *colon, *h = s, *p;
	size_t hl;
	unsigned long n = 0;

	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL) {
			*why = "an IPv6 address needs its closing ']'";
			return -1;
		}
		h = s + 1;
		hl = (size_t)(close - h);
		if (!valid_v6(h, hl)) {
			*why = "what is between '[' and ']' is not an IPv6 address";
			return -1;
		}
		if (close[1] != ':') {
			*why = "expected ':PORT' after the ']'";
			return -1;
		}
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			*why = "expected HOST:PORT";
			return -1;
		}
		hl = (size_t)(colon - s);
		if (memchr(s, ':', hl) != NULL) {
			*why = "an IPv6 address goes in brackets, as in [::1]:PORT";
			return -1;
		}
		if (hl == 0) {
			*why = "the host is missing (0.0.0.0 listens on every address)";
			return -1;
		}
		if (!valid_host_chars(h, hl)) {
			*why = "the host may only contain letters, digits, '.', '-' and '_'";
			return -1;
		}
	}
	p = colon + 1;
	if (*p == '\0' || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5 ||
	    (n = strtoul(p, NULL, 10)) < 1 || n > 65535) {
		*why = "the port must be a number from 1 to 65535";
		return -1;
	}
	if (copy_host(h, hl, host, hostlen, why) < 0)
		return -1;
	*port = (unsigned)n;
	return 0;
}

int conf_parse_url(const char *url, char *host, size_t hostlen, unsigned *port, const char **path,
		   const char **why)
{
	char auth[320];
	size_t alen;
	const char *a, *rest;

	if (strncasecmp(url, "https://", 8) == 0) {
		*why = "https is not supported by this version of sluiced (no TLS); use http:// "
		       "(a local TLS proxy can add it)";
		return -1;
	}
	if (strncasecmp(url, "http://", 7) != 0) {
		*why = "expected an http:// URL";
		return -1;
	}
	a = url + 7;
	alen = strcspn(a, "/?#");
	rest = a + alen;
	if (alen == 0) {
		*why = "the host is missing";
		return -1;
	}
	if (memchr(a, '@', alen) != NULL) {
		*why = "user information (user@host) is not supported";
		return -1;
	}
	if (alen >= sizeof(auth)) {
		*why = "the host name is too long";
		return -1;
	}
	memcpy(auth, a, alen);
	auth[alen] = '\0';
	const char *close = auth[0] == '[' ? strchr(auth, ']') : NULL;
	if ((close != NULL && close[1] == ':') || (auth[0] != '[' && strchr(auth, ':') != NULL)) {
		if (conf_parse_hostport(auth, host, hostlen, port, why) < 0)
			return -1;
	} else if (auth[0] == '[') {
		if (close == NULL || close[1] != '\0' ||
		    !valid_v6(auth + 1, (size_t)(close - auth - 1))) {
			*why = "what is between '[' and ']' is not an IPv6 address";
			return -1;
		}
		if (copy_host(auth + 1, (size_t)(close - auth - 1), host, hostlen, why) < 0)
			return -1;
		*port = 80;
	} else {
		if (!valid_host_chars(auth, alen)) {
			*why = "the host may only contain letters, digits, '.', '-' and '_'";
			return -1;
		}
		if (copy_host(auth, alen, host, hostlen, why) < 0)
			return -1;
		*port = 80;
	}
	*path = *rest == '\0' ? "/" : rest;
	return 0;
}

/* --- queue ----------------------------------------------------------------------- */

enum { Q_CAPACITY, Q_MAX_BYTES, Q_WHEN_FULL, Q_N };
static const struct keydef queue_keys[Q_N] = {
    [Q_CAPACITY] = {.name = "capacity"},
    [Q_MAX_BYTES] = {.name = "max_bytes"},
    [Q_WHEN_FULL] = {.name = "when_full"},
};

/* Only the keys present override q, which is how a stage inherits the top-level queue. */
static void load_queue(struct loader *ld, const yaml_node_t *v, const char *where,
		       struct conf_queue *q)
{
	struct fields f;
	int e;

	if (!want_mapping(ld, "queue", v))
		return;
	read_fields(ld, v, where, queue_keys, Q_N, &f);
	if (f.val[Q_CAPACITY])
		get_uint(ld, "capacity", f.val[Q_CAPACITY], 1, 10000000, &q->capacity);
	if (f.val[Q_MAX_BYTES])
		get_size(ld, "max_bytes", f.val[Q_MAX_BYTES], &q->max_bytes);
	if (f.val[Q_WHEN_FULL] &&
	    (e = get_enum(ld, "when_full", f.val[Q_WHEN_FULL], when_full_names,
			  ARRAY_LEN(when_full_names), "when_full")) >= 0)
		q->when_full = (enum when_full)e;
}

/* --- sources --------------------------------------------------------------------- */

enum {
	SRC_NAME,
	SRC_TYPE,
	SRC_PATH,
	SRC_FOLLOW,
	SRC_FRAMING,
	SRC_COUNT,
	SRC_INTERVAL,
	SRC_TEMPLATE,
	SRC_ARGV,
	SRC_LISTEN,
	SRC_MAX_CONNECTIONS,
	SRC_IDLE_TIMEOUT,
	SRC_ACK,
	SRC_SPLIT,
	SRC_QUEUE_TIMEOUT,
	SRC_MAX_BODY,
	SRC_DONE_DIR,
	SRC_FAILED_DIR,
	SRC_DELETE,
	SRC_N
};
static const struct keydef source_keys[SRC_N] = {
    [SRC_NAME] = {.name = "name"},
    [SRC_TYPE] = {.name = "type"},
    [SRC_PATH] = {.name = "path"},
    [SRC_FOLLOW] = {.name = "follow"},
    [SRC_FRAMING] = {.name = "framing"},
    [SRC_COUNT] = {.name = "count"},
    [SRC_INTERVAL] = {.name = "interval"},
    [SRC_TEMPLATE] = {.name = "template"},
    [SRC_ARGV] = {.name = "argv"},
    [SRC_LISTEN] = {.name = "listen"},
    [SRC_MAX_CONNECTIONS] = {.name = "max_connections"},
    [SRC_IDLE_TIMEOUT] = {.name = "idle_timeout"},
    [SRC_ACK] = {.name = "ack"},
    [SRC_SPLIT] = {.name = "split"},
    [SRC_QUEUE_TIMEOUT] = {.name = "queue_timeout"},
    [SRC_MAX_BODY] = {.name = "max_body"},
    [SRC_DONE_DIR] = {.name = "done_dir"},
    [SRC_FAILED_DIR] = {.name = "failed_dir"},
    [SRC_DELETE] = {.name = "delete"},
};

_Static_assert(SRC_N <= MAX_KEYS, "struct fields is too small for the source keys");

#define K(t) (1u << (t))
/* Which source types each key applies to. */
static const unsigned source_key_types[SRC_N] = {
    [SRC_NAME] = ~0u,
    [SRC_TYPE] = ~0u,
    [SRC_PATH] = K(SOURCE_FILE) | K(SOURCE_UNIX) | K(SOURCE_HTTP) | K(SOURCE_DIR),
    [SRC_FOLLOW] = K(SOURCE_FILE),
    [SRC_FRAMING] =
	K(SOURCE_FILE) | K(SOURCE_STDIN) | K(SOURCE_EXEC) | K(SOURCE_TCP) | K(SOURCE_UNIX),
    [SRC_COUNT] = K(SOURCE_GENERATE),
    [SRC_INTERVAL] = K(SOURCE_GENERATE),
    [SRC_TEMPLATE] = K(SOURCE_GENERATE),
    [SRC_ARGV] = K(SOURCE_EXEC),
    [SRC_LISTEN] = K(SOURCE_TCP) | K(SOURCE_HTTP),
    [SRC_MAX_CONNECTIONS] = K(SOURCE_TCP) | K(SOURCE_UNIX) | K(SOURCE_HTTP),
    [SRC_IDLE_TIMEOUT] = K(SOURCE_TCP) | K(SOURCE_UNIX),
    [SRC_ACK] = K(SOURCE_TCP) | K(SOURCE_UNIX) | K(SOURCE_HTTP),
    [SRC_SPLIT] = K(SOURCE_HTTP) | K(SOURCE_DIR),
    [SRC_QUEUE_TIMEOUT] = K(SOURCE_HTTP),
    [SRC_MAX_BODY] = K(SOURCE_HTTP),
    [SRC_DONE_DIR] = K(SOURCE_DIR),
    [SRC_FAILED_DIR] = K(SOURCE_DIR),
    [SRC_DELETE] = K(SOURCE_DIR),
};

/* "file, stdin, exec, generate": the kinds this version implements. */
static const char *supported_list(const struct keydef *names, size_t n, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (names[i].later)
			continue;
		if (buf[0] != '\0')
			strncat(buf, ", ", len - strlen(buf) - 1);
		strncat(buf, names[i].name, len - strlen(buf) - 1);
	}
	return buf;
}

/* A listen or connect address: HOST:PORT, checked now so a typo fails the load. */
static bool get_address(struct loader *ld, const char *key, const yaml_node_t *v, char **out)
{
	char host[256];
	unsigned port;
	const char *why;

	if (!get_str(ld, key, v, true, out))
		return false;
	if (conf_parse_hostport(*out, host, sizeof(host), &port, &why) < 0) {
		err_node(ld, v, "'%s' must be HOST:PORT (or [IPV6]:PORT), got '%s': %s", key, *out,
			 why);
		return false;
	}
	return true;
}

static bool same_dir(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && strncmp(a, b, la) == 0;
}

static void load_source(struct loader *ld, const yaml_node_t *map, size_t idx,
			struct conf_source *s)
{
	const yaml_node_t *tv = map_peek(ld, map, "type");
	char *label = entry_label(ld, map, "source", idx);
	char *where = xasprintf("in %s", label);
	char kinds[160];
	struct fields f;
	int type = -1, e;

	s->pos = node_pos(map);
	s->count = -1;
	s->max_connections = 64;
	s->queue_timeout = 5 * UINT64_C(1000000);
	s->max_body = UINT64_C(16) << 20;
	/* The keys of a later version's source kind are unknown here: one error is enough. */
	if (tv != NULL && tv->type == YAML_SCALAR_NODE) {
		for (size_t i = 0; i < ARRAY_LEN(source_type_names); i++) {
			if (source_type_names[i].later &&
			    strcmp(scalar(tv), source_type_names[i].name) == 0) {
				get_enum(ld, "type", tv, source_type_names,
					 ARRAY_LEN(source_type_names), "source type");
				if (map_peek(ld, map, "name"))
					get_name(ld, "source", map_peek(ld, map, "name"), &s->name);
				goto out;
			}
		}
	}

	read_fields(ld, map, where, source_keys, SRC_N, &f);
	if (f.val[SRC_NAME])
		get_name(ld, "source", f.val[SRC_NAME], &s->name);
	else if (!f.key[SRC_NAME])
		err_node(ld, map, "%s needs 'name'", label);
	if (f.val[SRC_TYPE]) {
		type = get_enum(ld, "type", f.val[SRC_TYPE], source_type_names,
				ARRAY_LEN(source_type_names), "source type");
	} else if (!f.key[SRC_TYPE]) {
		err_node(ld, map, "%s needs 'type' (one of %s)", label,
			 supported_list(source_type_names, ARRAY_LEN(source_type_names), kinds,
					sizeof(kinds)));
	}
	if (type >= 0)
		s->type = (enum source_type)type;

	for (size_t k = SRC_PATH; k < SRC_N; k++) {
		if (f.val[k] == NULL || type < 0 || (source_key_types[k] & K(type)))
			continue;
		err_node(ld, f.key[k], "'%s' does not apply to a %s source (only to %s)",
			 source_keys[k].name, source_type_names[type].name,
			 kinds_list(source_key_types[k], source_type_names,
				    ARRAY_LEN(source_type_names), kinds, sizeof(kinds)));
		f.val[k] = NULL;
	}

	if (f.val[SRC_PATH] && get_str(ld, "path", f.val[SRC_PATH], true, &s->path) &&
	    type == SOURCE_HTTP && s->path[0] != '/')
		err_node(ld, f.val[SRC_PATH],
			 "'path' of an http source is a URL path and must start "
			 "with '/', got '%s'",
			 s->path);
	if (f.val[SRC_FOLLOW])
		get_bool(ld, "follow", f.val[SRC_FOLLOW], &s->follow);
	if (f.val[SRC_FRAMING] && (e = get_enum(ld, "framing", f.val[SRC_FRAMING], framing_names,
						ARRAY_LEN(framing_names), "framing")) >= 0)
		s->framing = (enum framing)e;
	if (f.val[SRC_COUNT]) {
		uint64_t n;
		if (get_uint(ld, "count", f.val[SRC_COUNT], 0, INT64_MAX, &n))
			s->count = (int64_t)n;
	}
	if (f.val[SRC_INTERVAL])
		get_duration(ld, "interval", f.val[SRC_INTERVAL], &s->interval);
	if (f.val[SRC_TEMPLATE])
		get_str(ld, "template", f.val[SRC_TEMPLATE], false, &s->template);
	if (f.val[SRC_ARGV])
		get_argv(ld, f.val[SRC_ARGV], &s->argv, &s->argc);
	if (f.val[SRC_LISTEN])
		get_address(ld, "listen", f.val[SRC_LISTEN], &s->listen);
	if (f.val[SRC_MAX_CONNECTIONS])
		get_uint(ld, "max_connections", f.val[SRC_MAX_CONNECTIONS], 1, 100000,
			 &s->max_connections);
	if (f.val[SRC_IDLE_TIMEOUT])
		get_duration(ld, "idle_timeout", f.val[SRC_IDLE_TIMEOUT], &s->idle_timeout);
	if (f.val[SRC_ACK])
		get_bool(ld, "ack", f.val[SRC_ACK], &s->ack);
	if (f.val[SRC_SPLIT] && (e = get_enum(ld, "split", f.val[SRC_SPLIT], split_names,
					      ARRAY_LEN(split_names), "split")) >= 0)
		s->split = (enum split_mode)e;
	if (f.val[SRC_QUEUE_TIMEOUT])
		get_duration(ld, "queue_timeout", f.val[SRC_QUEUE_TIMEOUT], &s->queue_timeout);
	if (f.val[SRC_MAX_BODY])
		get_size(ld, "max_body", f.val[SRC_MAX_BODY], &s->max_body);
	if (f.val[SRC_DELETE])
		get_bool(ld, "delete", f.val[SRC_DELETE], &s->delete_done);
	if (f.val[SRC_DONE_DIR] && s->delete_done) {
		err_node(
		    ld, f.key[SRC_DONE_DIR],
		    "'done_dir' does not apply with 'delete: true' (finished files are removed)");
		f.val[SRC_DONE_DIR] = NULL;
	}
	if (f.val[SRC_DONE_DIR])
		get_str(ld, "done_dir", f.val[SRC_DONE_DIR], true, &s->done_dir);
	if (f.val[SRC_FAILED_DIR])
		get_str(ld, "failed_dir", f.val[SRC_FAILED_DIR], true, &s->failed_dir);

	if ((type == SOURCE_FILE || type == SOURCE_UNIX || type == SOURCE_DIR) && !f.key[SRC_PATH])
		err_node(ld, map, "%s (type %s) needs 'path'", label, source_type_names[type].name);
	if ((type == SOURCE_TCP || type == SOURCE_HTTP) && !f.key[SRC_LISTEN])
		err_node(ld, map, "%s (type %s) needs 'listen'", label,
			 source_type_names[type].name);
	if (type == SOURCE_EXEC && !f.key[SRC_ARGV])
		err_node(ld, map, "%s (type exec) needs 'argv'", label);
	if (type == SOURCE_GENERATE && s->template == NULL)
		s->template = xstrdup("{seq}");
	if (type == SOURCE_HTTP && s->path == NULL && !f.key[SRC_PATH])
		s->path = xstrdup("/");
	if (type == SOURCE_DIR && s->path != NULL) {
		if (s->done_dir == NULL && !s->delete_done && !f.key[SRC_DONE_DIR])
			s->done_dir = xasprintf("%s/done", s->path);
		if (s->failed_dir == NULL && !f.key[SRC_FAILED_DIR])
			s->failed_dir = xasprintf("%s/failed", s->path);
		/* Finished files moved into the directory itself would be taken again. */
		if (s->done_dir != NULL && same_dir(s->done_dir, s->path))
			err_node(ld, f.key[SRC_DONE_DIR] ? f.key[SRC_DONE_DIR] : map,
				 "'done_dir' of %s must not be the spool directory itself", label);
		if (s->failed_dir != NULL && same_dir(s->failed_dir, s->path))
			err_node(ld, f.key[SRC_FAILED_DIR] ? f.key[SRC_FAILED_DIR] : map,
				 "'failed_dir' of %s must not be the spool directory itself",
				 label);
	}
out:
	free(where);
	free(label);
}

/* --- stages ---------------------------------------------------------------------- */

enum { EX_ARGV, EX_STDIN, EX_STDOUT, EX_ENV, EX_CWD, EX_N };
static const struct keydef exec_keys[EX_N] = {
    [EX_ARGV] = {.name = "argv"}, [EX_STDIN] = {.name = "stdin"}, [EX_STDOUT] = {.name = "stdout"},
    [EX_ENV] = {.name = "env"},	  [EX_CWD] = {.name = "cwd"},
};

static void load_env(struct loader *ld, const yaml_node_t *v, const char *label,
		     struct conf_stage *st)
{
	char desc[DESC_LEN];
	size_t n;

	if (v->type != YAML_MAPPING_NODE) {
		err_node(ld, v, "'env' must be a mapping of names to strings, got %s",
			 describe(v, desc));
		return;
	}
	n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	st->env = xcalloc(n, sizeof(*st->env));
	for (size_t i = 0; i < n; i++) {
		const yaml_node_pair_t *p = &v->data.mapping.pairs.start[i];
		const yaml_node_t *k = node_at(ld, p->key), *val = node_at(ld, p->value);
		struct conf_env *e = &st->env[st->n_env];
		const char *name;
		bool dup = false;

		if (k->type != YAML_SCALAR_NODE || is_empty(k)) {
			err_node(ld, k,
				 "'env' must be a mapping of names to strings, got %s as a name",
				 describe(k, desc));
			continue;
		}
		name = scalar(k);
		if (*name == '\0' || strchr(name, '=') != NULL ||
		    strlen(name) != k->data.scalar.length) {
			err_node(ld, k,
				 "environment variable name '%s' must be non-empty, without '='",
				 name);
			continue;
		}
		for (size_t j = 0; j < i && !dup; j++) {
			const yaml_node_t *pk = node_at(ld, v->data.mapping.pairs.start[j].key);
			if (pk->type == YAML_SCALAR_NODE && strcmp(scalar(pk), name) == 0) {
				err_node(ld, k,
					 "duplicate key '%s' in 'env' of %s (first at %zu:%zu)",
					 name, label, pk->start_mark.line + 1,
					 pk->start_mark.column + 1);
				dup = true;
			}
		}
		if (dup)
			continue;
		if (!get_str(ld, name, val, false, &e->value))
			continue;
		e->name = xstrdup(name);
		st->n_env++;
	}
}

static void load_exec(struct loader *ld, const yaml_node_t *v, const char *label,
		      struct conf_stage *st)
{
	char *where;
	struct fields f;
	int e;

	if (!want_mapping(ld, "exec", v))
		return;
	where = xasprintf("in 'exec' of %s", label);
	read_fields(ld, v, where, exec_keys, EX_N, &f);
	if (f.val[EX_ARGV])
		get_argv(ld, f.val[EX_ARGV], &st->argv, &st->argc);
	else if (!f.key[EX_ARGV])
		err_node(ld, v, "'exec' of %s needs 'argv'", label);
	if (f.val[EX_STDIN] && (e = get_enum(ld, "stdin", f.val[EX_STDIN], exec_stdin_names,
					     ARRAY_LEN(exec_stdin_names), "stdin")) >= 0)
		st->stdin_mode = (enum exec_stdin)e;
	if (f.val[EX_STDOUT] && (e = get_enum(ld, "stdout", f.val[EX_STDOUT], exec_stdout_names,
					      ARRAY_LEN(exec_stdout_names), "stdout")) >= 0)
		st->stdout_mode = (enum exec_stdout)e;
	if (f.val[EX_ENV])
		load_env(ld, f.val[EX_ENV], label, st);
	if (f.val[EX_CWD])
		get_str(ld, "cwd", f.val[EX_CWD], true, &st->cwd);
	free(where);
}

enum { BI_OP, BI_PATTERN, BI_INVERT, BI_N };
static const struct keydef builtin_keys[BI_N] = {
    [BI_OP] = {.name = "op"},
    [BI_PATTERN] = {.name = "pattern"},
    [BI_INVERT] = {.name = "invert"},
};
static const unsigned builtin_key_ops[BI_N] = {
    [BI_OP] = ~0u,
    [BI_PATTERN] = K(BUILTIN_GREP),
    [BI_INVERT] = K(BUILTIN_GREP),
};

static void load_builtin(struct loader *ld, const yaml_node_t *v, const char *label,
			 struct conf_stage *st)
{
	char *where, kinds[64];
	struct fields f;
	int op = -1;

	if (!want_mapping(ld, "builtin", v))
		return;
	where = xasprintf("in 'builtin' of %s", label);
	read_fields(ld, v, where, builtin_keys, BI_N, &f);
	if (f.val[BI_OP]) {
		op = get_enum(ld, "op", f.val[BI_OP], builtin_op_names, ARRAY_LEN(builtin_op_names),
			      "op");
		if (op >= 0)
			st->op = (enum builtin_op)op;
	} else if (!f.key[BI_OP]) {
		err_node(ld, v, "'builtin' of %s needs 'op' (passthrough or grep)", label);
	}
	for (size_t k = BI_PATTERN; k < BI_N; k++) {
		if (f.val[k] == NULL || op < 0 || (builtin_key_ops[k] & K(op)))
			continue;
		err_node(ld, f.key[k], "'%s' does not apply to builtin op '%s' (only to %s)",
			 builtin_keys[k].name, builtin_op_names[op].name,
			 kinds_list(builtin_key_ops[k], builtin_op_names,
				    ARRAY_LEN(builtin_op_names), kinds, sizeof(kinds)));
		f.val[k] = NULL;
	}
	if (f.val[BI_PATTERN] && get_str(ld, "pattern", f.val[BI_PATTERN], false, &st->pattern)) {
		regex_t re;
		int rc = regcomp(&re, st->pattern, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			char msg[256];
			regerror(rc, &re, msg, sizeof(msg));
			err_node(ld, f.val[BI_PATTERN],
				 "'pattern' is not a valid extended regular expression: %s", msg);
		} else {
			regfree(&re);
		}
	}
	if (f.val[BI_INVERT])
		get_bool(ld, "invert", f.val[BI_INVERT], &st->invert);
	if (op == BUILTIN_GREP && !f.key[BI_PATTERN])
		err_node(ld, v, "builtin grep in %s needs 'pattern'", label);
	free(where);
}

enum { CP_ARGV, CP_ENV, CP_CWD, CP_FRAMING, CP_N };
static const struct keydef coproc_keys[CP_N] = {
    [CP_ARGV] = {.name = "argv"},
    [CP_ENV] = {.name = "env"},
    [CP_CWD] = {.name = "cwd"},
    [CP_FRAMING] = {.name = "framing"},
};
static const struct keydef coproc_framing_names[] = {
    {.name = "lines"}, {.name = "length"}, {.name = "json"}};

static void load_coprocess(struct loader *ld, const yaml_node_t *v, const char *label,
			   struct conf_stage *st)
{
	char *where;
	struct fields f;
	int e;

	if (!want_mapping(ld, "coprocess", v))
		return;
	where = xasprintf("in 'coprocess' of %s", label);
	read_fields(ld, v, where, coproc_keys, CP_N, &f);
	if (f.val[CP_ARGV])
		get_argv(ld, f.val[CP_ARGV], &st->argv, &st->argc);
	else if (!f.key[CP_ARGV])
		err_node(ld, v, "'coprocess' of %s needs 'argv'", label);
	if (f.val[CP_ENV])
		load_env(ld, f.val[CP_ENV], label, st);
	if (f.val[CP_CWD])
		get_str(ld, "cwd", f.val[CP_CWD], true, &st->cwd);
	if (f.val[CP_FRAMING] &&
	    (e = get_enum(ld, "framing", f.val[CP_FRAMING], coproc_framing_names,
			  ARRAY_LEN(coproc_framing_names), "framing")) >= 0)
		st->coproc_framing = (enum coproc_framing)e;
	free(where);
}

/* Header names are HTTP tokens; values must not break the header block. */
static void load_headers(struct loader *ld, const yaml_node_t *v, const char *label,
			 struct conf_env **out, size_t *n_out)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	char desc[DESC_LEN];
	size_t n;

	if (v->type != YAML_MAPPING_NODE) {
		err_node(ld, v, "'headers' must be a mapping of header names to strings, got %s",
			 describe(v, desc));
		return;
	}
	n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	*out = xcalloc(n ? n : 1, sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		const yaml_node_pair_t *p = &v->data.mapping.pairs.start[i];
		const yaml_node_t *k = node_at(ld, p->key), *val = node_at(ld, p->value);
		struct conf_env *e = &(*out)[*n_out];
		const char *name;
		bool dup = false;

		if (k->type != YAML_SCALAR_NODE || is_empty(k) ||
		    strspn(scalar(k), tchar) != strlen(scalar(k)) ||
		    strlen(scalar(k)) != k->data.scalar.length) {
			err_node(ld, k,
				 "header name %s in 'headers' of %s is not a valid HTTP "
				 "header name",
				 describe(k, desc), label);
			continue;
		}
		name = scalar(k);
		for (size_t j = 0; j < i && !dup; j++) {
			const yaml_node_t *pk = node_at(ld, v->data.mapping.pairs.start[j].key);
			if (pk->type == YAML_SCALAR_NODE && strcasecmp(scalar(pk), name) == 0) {
				err_node(
				    ld, k,
				    "duplicate header '%s' in 'headers' of %s (first at %zu:%zu)",
				    name, label, pk->start_mark.line + 1,
				    pk->start_mark.column + 1);
				dup = true;
			}
		}
		if (dup || !get_str(ld, name, val, false, &e->value))
			continue;
		if (strpbrk(e->value, "\r\n") != NULL) {
			err_node(ld, val, "header '%s' in %s must not contain a line break", name,
				 label);
			free(e->value);
			e->value = NULL;
			continue;
		}
		e->name = xstrdup(name);
		(*n_out)++;
	}
}

enum { HT_METHOD, HT_URL, HT_HEADERS, HT_BODY, HT_TIMEOUT, HT_N };
static const struct keydef http_keys[HT_N] = {
    [HT_METHOD] = {.name = "method"},	[HT_URL] = {.name = "url"},
    [HT_HEADERS] = {.name = "headers"}, [HT_BODY] = {.name = "body"},
    [HT_TIMEOUT] = {.name = "timeout"},
};

/*
 * The URL of an http stage is a template: what can be checked is what is not a
 * placeholder. A URL that starts with a placeholder ("{}") takes its scheme and
 * host from the item, so only the expansion can be checked (at run time).
 */
static void check_url(struct loader *ld, const yaml_node_t *v, const char *url, bool tmpl)
{
	char host[256];
	unsigned port;
	const char *path, *why;

	if (tmpl && url[0] == '{')
		return;
	if (tmpl && strncasecmp(url, "http://", 7) == 0) {
		size_t alen = strcspn(url + 7, "/?#");
		if (memchr(url + 7, '{', alen) != NULL)
			return;
		char *prefix = xstrndup(url, 7 + alen);
		int rc = conf_parse_url(prefix, host, sizeof(host), &port, &path, &why);
		free(prefix);
		if (rc == 0)
			return;
	} else if (conf_parse_url(url, host, sizeof(host), &port, &path, &why) == 0) {
		return;
	}
	err_node(ld, v, "'url' must be http://HOST[:PORT]/PATH, got '%s': %s", url, why);
}

/* The stage's `http:` block (stage = true), or the http keys of a sink. */
static void load_http_fields(struct loader *ld, const char *label, const yaml_node_t *const *vals,
			     bool stage, struct conf_http *h)
{
	int e;

	if (vals[HT_METHOD] && (e = get_enum(ld, "method", vals[HT_METHOD], http_method_names,
					     ARRAY_LEN(http_method_names), "method")) >= 0) {
		if (!stage && e != HTTP_POST && e != HTTP_PUT && e != HTTP_PATCH)
			err_node(ld, vals[HT_METHOD],
				 "'method' of an http sink must be POST, PUT or PATCH (it sends a "
				 "body), got '%s'",
				 http_method_names[e].name);
		else
			h->method = (enum http_method)e;
	}
	if (vals[HT_URL] && get_str(ld, "url", vals[HT_URL], true, &h->url))
		check_url(ld, vals[HT_URL], h->url, stage);
	if (vals[HT_HEADERS])
		load_headers(ld, vals[HT_HEADERS], label, &h->headers, &h->n_headers);
	if (vals[HT_BODY])
		get_str(ld, "body", vals[HT_BODY], false, &h->body);
	if (vals[HT_TIMEOUT] && get_duration(ld, "timeout", vals[HT_TIMEOUT], &h->timeout) &&
	    h->timeout == 0)
		err_node(ld, vals[HT_TIMEOUT], "'timeout' of %s must be greater than 0", label);
}

static void load_http_stage(struct loader *ld, const yaml_node_t *v, const char *label,
			    struct conf_stage *st)
{
	char *where;
	struct fields f;

	st->http.method = HTTP_GET;
	st->http.timeout = 30 * UINT64_C(1000000);
	if (!want_mapping(ld, "http", v))
		return;
	where = xasprintf("in 'http' of %s", label);
	read_fields(ld, v, where, http_keys, HT_N, &f);
	load_http_fields(ld, label, f.val, true, &st->http);
	if (!f.key[HT_URL])
		err_node(ld, v, "'http' of %s needs 'url'", label);
	free(where);
}

enum { RT_ATTEMPTS, RT_BACKOFF, RT_MAX_BACKOFF, RT_N };
static const struct keydef retry_keys[RT_N] = {
    [RT_ATTEMPTS] = {.name = "attempts"},
    [RT_BACKOFF] = {.name = "backoff"},
    [RT_MAX_BACKOFF] = {.name = "max_backoff"},
};

static void load_retry(struct loader *ld, const yaml_node_t *v, const char *label,
		       struct conf_stage *st)
{
	char *where;
	struct fields f;

	if (!want_mapping(ld, "retry", v))
		return;
	where = xasprintf("in 'retry' of %s", label);
	read_fields(ld, v, where, retry_keys, RT_N, &f);
	if (f.val[RT_ATTEMPTS])
		get_uint(ld, "attempts", f.val[RT_ATTEMPTS], 1, 1000, &st->retry.attempts);
	if (f.val[RT_BACKOFF])
		get_duration(ld, "backoff", f.val[RT_BACKOFF], &st->retry.backoff);
	if (f.val[RT_MAX_BACKOFF])
		get_duration(ld, "max_backoff", f.val[RT_MAX_BACKOFF], &st->retry.max_backoff);
	if (st->retry.max_backoff < st->retry.backoff)
		err_node(ld, v, "'max_backoff' in %s must not be less than 'backoff'", label);
	free(where);
}

/* "N" (a count) or "N%" (a share of the stage's finished items). */
static void load_max_failures(struct loader *ld, const yaml_node_t *v, struct conf_stage *st)
{
	const char *s = want_scalar(ld, "max_failures", v, "a count like 10 or a percent like 5%");
	char *end;
	unsigned long long n;

	if (s == NULL)
		return;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (end == s || errno != 0 || *s == '-' || (*end != '\0' && strcmp(end, "%") != 0)) {
		err_node(ld, v,
			 "expected a count like 10 or a percent like 5%% for 'max_failures', "
			 "got '%s'",
			 s);
		return;
	}
	st->max_failures_pct = *end == '%';
	if (n < 1 || (st->max_failures_pct && n > 100)) {
		err_node(ld, v, "'max_failures' must be %s, got '%s'",
			 st->max_failures_pct ? "between 1% and 100%" : "at least 1", s);
		return;
	}
	st->max_failures = n;
}

static bool get_rate(struct loader *ld, const char *key, const yaml_node_t *v, double *out)
{
	const char *s = want_scalar(ld, key, v, "a rate like 100/s or 5/m");
	const char *uerr = NULL;

	if (s == NULL)
		return false;
	if (units_rate(s, out, &uerr) < 0) {
		err_node(ld, v, "expected a rate like 100/s, 5/m or 2/h for '%s', got '%s' (%s)",
			 key, s, uerr);
		return false;
	}
	return true;
}

enum {
	ST_NAME,
	ST_WORKERS,
	ST_QUEUE,
	ST_EXEC,
	ST_BUILTIN,
	ST_TIMEOUT,
	ST_ON_FAILURE,
	ST_RETRY,
	ST_ORDERED,
	ST_RATE,
	ST_BURST,
	ST_SHIELD,
	ST_COPROCESS,
	ST_HTTP,
	ST_MAX_FAILURES,
	ST_N
};
static const struct keydef stage_keys[ST_N] = {
    [ST_NAME] = {.name = "name"},
    [ST_WORKERS] = {.name = "workers"},
    [ST_QUEUE] = {.name = "queue"},
    [ST_EXEC] = {.name = "exec"},
    [ST_BUILTIN] = {.name = "builtin"},
    [ST_TIMEOUT] = {.name = "timeout"},
    [ST_ON_FAILURE] = {.name = "on_failure"},
    [ST_RETRY] = {.name = "retry"},
    [ST_ORDERED] = {.name = "ordered"},
    [ST_RATE] = {.name = "rate"},
    [ST_BURST] = {.name = "burst"},
    [ST_SHIELD] = {.name = "shield"},
    [ST_COPROCESS] = {.name = "coprocess"},
    [ST_HTTP] = {.name = "http"},
    [ST_MAX_FAILURES] = {.name = "max_failures"},
};

_Static_assert(ST_N <= MAX_KEYS, "struct fields is too small for the stage keys");

static void load_stage(struct loader *ld, const yaml_node_t *map, size_t idx, struct conf_stage *st)
{
	char *label = entry_label(ld, map, "stage", idx);
	char *where = xasprintf("in %s", label);
	struct fields f;
	int e;

	st->pos = node_pos(map);
	st->workers = 1;
	st->queue = ld->c->queue;
	read_fields(ld, map, where, stage_keys, ST_N, &f);
	if (f.val[ST_NAME])
		get_name(ld, "stage", f.val[ST_NAME], &st->name);
	else if (!f.key[ST_NAME])
		err_node(ld, map, "%s needs 'name'", label);
	if (f.val[ST_WORKERS])
		get_uint(ld, "workers", f.val[ST_WORKERS], 1, 100000, &st->workers);
	if (f.val[ST_QUEUE]) {
		char *qwhere = xasprintf("in 'queue' of %s", label);
		load_queue(ld, f.val[ST_QUEUE], qwhere, &st->queue);
		free(qwhere);
	}

	st->retry.attempts = 1;
	st->retry.backoff = 100000;
	st->retry.max_backoff = 10000000;
	/* A stage has exactly one worker kind; the second one written is the error. */
	static const int kind_keys[] = {ST_EXEC, ST_BUILTIN, ST_COPROCESS, ST_HTTP};
	bool http_ok = !stage_keys[ST_HTTP].later;
	size_t n_kinds = http_ok ? ARRAY_LEN(kind_keys) : ARRAY_LEN(kind_keys) - 1;
	const yaml_node_t *first = NULL;
	for (size_t k = 0; k < n_kinds; k++) {
		const yaml_node_t *key = f.key[kind_keys[k]];
		if (key != NULL &&
		    (first == NULL || key->start_mark.index < first->start_mark.index))
			first = key;
	}
	for (size_t k = 0; k < n_kinds; k++) {
		const yaml_node_t *key = f.key[kind_keys[k]];
		if (key != NULL && key != first)
			err_node(ld, key, "%s has more than one of %s; a stage has exactly one",
				 label,
				 http_ok ? "'exec', 'builtin', 'coprocess' and 'http'"
					 : "'exec', 'builtin' and 'coprocess'");
	}
	if (first == NULL && !f.key[ST_HTTP])
		err_node(ld, map, "%s needs one of %s", label,
			 http_ok ? "'exec', 'builtin', 'coprocess' or 'http'"
				 : "'exec', 'builtin' or 'coprocess'");
	if (f.val[ST_EXEC] && first == f.key[ST_EXEC]) {
		st->kind = STAGE_EXEC;
		load_exec(ld, f.val[ST_EXEC], label, st);
	}
	if (f.val[ST_BUILTIN] && first == f.key[ST_BUILTIN]) {
		st->kind = STAGE_BUILTIN;
		load_builtin(ld, f.val[ST_BUILTIN], label, st);
	}
	if (f.val[ST_COPROCESS] && first == f.key[ST_COPROCESS]) {
		st->kind = STAGE_COPROCESS;
		load_coprocess(ld, f.val[ST_COPROCESS], label, st);
	}
	if (f.val[ST_HTTP] && first == f.key[ST_HTTP]) {
		st->kind = STAGE_HTTP;
		load_http_stage(ld, f.val[ST_HTTP], label, st);
	}
	if (f.val[ST_RETRY])
		load_retry(ld, f.val[ST_RETRY], label, st);
	if (f.val[ST_MAX_FAILURES])
		load_max_failures(ld, f.val[ST_MAX_FAILURES], st);
	if (f.val[ST_ORDERED])
		get_bool(ld, "ordered", f.val[ST_ORDERED], &st->ordered);
	if (f.val[ST_SHIELD])
		get_bool(ld, "shield", f.val[ST_SHIELD], &st->shield);
	if (f.val[ST_RATE])
		get_rate(ld, "rate", f.val[ST_RATE], &st->rate);
	st->burst = 4;
	if (f.val[ST_BURST] && !f.key[ST_RATE])
		err_node(ld, f.key[ST_BURST], "'burst' in %s needs 'rate'", label);
	else if (f.val[ST_BURST])
		get_uint(ld, "burst", f.val[ST_BURST], 1, 1000000, &st->burst);

	if (f.val[ST_TIMEOUT])
		get_duration(ld, "timeout", f.val[ST_TIMEOUT], &st->timeout);
	if (f.val[ST_ON_FAILURE] &&
	    (e = get_enum(ld, "on_failure", f.val[ST_ON_FAILURE], on_failure_names,
			  ARRAY_LEN(on_failure_names), "on_failure")) >= 0) {
		st->on_failure = (enum on_failure)e;
		if (st->on_failure == ON_FAILURE_DEAD_LETTER && !ld->c->dead_letter.enabled)
			err_node(ld, f.val[ST_ON_FAILURE],
				 "'on_failure: dead_letter' in %s needs a top-level 'dead_letter' "
				 "block",
				 label);
	}
	free(where);
	free(label);
}

/* --- sinks ----------------------------------------------------------------------- */

enum {
	SI_NAME,
	SI_TYPE,
	SI_PATH,
	SI_FSYNC,
	SI_MODE,
	SI_ADDRESS,
	SI_ARGV,
	SI_METHOD,
	SI_URL,
	SI_HEADERS,
	SI_BATCH,
	SI_TIMEOUT,
	SI_BACKOFF,
	SI_MAX_BACKOFF,
	SI_N
};
static const struct keydef sink_keys[SI_N] = {
    [SI_NAME] = {.name = "name"},	[SI_TYPE] = {.name = "type"},
    [SI_PATH] = {.name = "path"},	[SI_FSYNC] = {.name = "fsync"},
    [SI_MODE] = {.name = "mode"},	[SI_ADDRESS] = {.name = "address"},
    [SI_ARGV] = {.name = "argv"},	[SI_METHOD] = {.name = "method"},
    [SI_URL] = {.name = "url"},		[SI_HEADERS] = {.name = "headers"},
    [SI_BATCH] = {.name = "batch"},	[SI_TIMEOUT] = {.name = "timeout"},
    [SI_BACKOFF] = {.name = "backoff"}, [SI_MAX_BACKOFF] = {.name = "max_backoff"},
};

static const unsigned sink_key_types[SI_N] = {
    [SI_NAME] = ~0u,
    [SI_TYPE] = ~0u,
    [SI_PATH] = K(SINK_FILE) | K(SINK_UNIX),
    [SI_FSYNC] = K(SINK_FILE),
    [SI_MODE] = K(SINK_FILE),
    [SI_ADDRESS] = K(SINK_TCP),
    [SI_ARGV] = K(SINK_EXEC),
    [SI_METHOD] = K(SINK_HTTP),
    [SI_URL] = K(SINK_HTTP),
    [SI_HEADERS] = K(SINK_HTTP),
    [SI_BATCH] = K(SINK_HTTP),
    [SI_TIMEOUT] = K(SINK_TCP) | K(SINK_UNIX) | K(SINK_HTTP),
    [SI_BACKOFF] = K(SINK_TCP) | K(SINK_UNIX) | K(SINK_EXEC) | K(SINK_HTTP),
    [SI_MAX_BACKOFF] = K(SINK_TCP) | K(SINK_UNIX) | K(SINK_EXEC) | K(SINK_HTTP),
};

enum { BA_MAX_ITEMS, BA_MAX_BYTES, BA_TIMEOUT, BA_N };
static const struct keydef batch_keys[BA_N] = {
    [BA_MAX_ITEMS] = {.name = "max_items"},
    [BA_MAX_BYTES] = {.name = "max_bytes"},
    [BA_TIMEOUT] = {.name = "timeout"},
};

static void load_batch(struct loader *ld, const yaml_node_t *v, const char *label,
		       struct conf_sink *s)
{
	char *where;
	struct fields f;

	if (!want_mapping(ld, "batch", v))
		return;
	where = xasprintf("in 'batch' of %s", label);
	read_fields(ld, v, where, batch_keys, BA_N, &f);
	if (f.val[BA_MAX_ITEMS])
		get_uint(ld, "max_items", f.val[BA_MAX_ITEMS], 1, 100000, &s->batch.max_items);
	if (f.val[BA_MAX_BYTES])
		get_size(ld, "max_bytes", f.val[BA_MAX_BYTES], &s->batch.max_bytes);
	if (f.val[BA_TIMEOUT])
		get_duration(ld, "timeout", f.val[BA_TIMEOUT], &s->batch.timeout);
	free(where);
}

static void load_sink(struct loader *ld, const yaml_node_t *map, size_t idx, struct conf_sink *s)
{
	const yaml_node_t *tv = map_peek(ld, map, "type");
	char *label = entry_label(ld, map, "sink", idx);
	char *where = xasprintf("in %s", label);
	char kinds[128];
	struct fields f;
	int type = -1, e;

	s->pos = node_pos(map);
	s->timeout = 10 * UINT64_C(1000000);
	s->backoff = 100000;
	s->max_backoff = 10 * UINT64_C(1000000);
	s->http.method = HTTP_POST;
	s->http.timeout = 30 * UINT64_C(1000000);
	s->batch.max_items = 1;
	s->batch.max_bytes = UINT64_C(1) << 20;
	s->batch.timeout = UINT64_C(1000000);
	if (tv != NULL && tv->type == YAML_SCALAR_NODE) {
		for (size_t i = 0; i < ARRAY_LEN(sink_type_names); i++) {
			if (sink_type_names[i].later &&
			    strcmp(scalar(tv), sink_type_names[i].name) == 0) {
				get_enum(ld, "type", tv, sink_type_names,
					 ARRAY_LEN(sink_type_names), "sink type");
				if (map_peek(ld, map, "name"))
					get_name(ld, "sink", map_peek(ld, map, "name"), &s->name);
				goto out;
			}
		}
	}

	read_fields(ld, map, where, sink_keys, SI_N, &f);
	if (f.val[SI_NAME])
		get_name(ld, "sink", f.val[SI_NAME], &s->name);
	else if (!f.key[SI_NAME])
		err_node(ld, map, "%s needs 'name'", label);
	if (f.val[SI_TYPE]) {
		type = get_enum(ld, "type", f.val[SI_TYPE], sink_type_names,
				ARRAY_LEN(sink_type_names), "sink type");
	} else if (!f.key[SI_TYPE]) {
		err_node(ld, map, "%s needs 'type' (one of %s)", label,
			 supported_list(sink_type_names, ARRAY_LEN(sink_type_names), kinds,
					sizeof(kinds)));
	}
	if (type >= 0)
		s->type = (enum sink_type)type;
	for (size_t k = SI_PATH; k < SI_N; k++) {
		if (f.val[k] == NULL || type < 0 || (sink_key_types[k] & K(type)))
			continue;
		err_node(ld, f.key[k], "'%s' does not apply to a %s sink (only to %s)",
			 sink_keys[k].name, sink_type_names[type].name,
			 kinds_list(sink_key_types[k], sink_type_names, ARRAY_LEN(sink_type_names),
				    kinds, sizeof(kinds)));
		f.val[k] = NULL;
	}
	if (f.val[SI_PATH])
		get_str(ld, "path", f.val[SI_PATH], true, &s->path);
	if (f.val[SI_FSYNC] && (e = get_enum(ld, "fsync", f.val[SI_FSYNC], fsync_names,
					     ARRAY_LEN(fsync_names), "fsync")) >= 0)
		s->fsync = (enum fsync_mode)e;
	if (f.val[SI_MODE] && (e = get_enum(ld, "mode", f.val[SI_MODE], file_mode_names,
					    ARRAY_LEN(file_mode_names), "file mode")) >= 0)
		s->truncate = e == 1;
	if (f.val[SI_ADDRESS])
		get_address(ld, "address", f.val[SI_ADDRESS], &s->address);
	if (f.val[SI_ARGV])
		get_argv(ld, f.val[SI_ARGV], &s->argv, &s->argc);
	if (type == SINK_HTTP) {
		const yaml_node_t *vals[HT_N] = {NULL};
		vals[HT_METHOD] = f.val[SI_METHOD];
		vals[HT_URL] = f.val[SI_URL];
		vals[HT_HEADERS] = f.val[SI_HEADERS];
		vals[HT_TIMEOUT] = f.val[SI_TIMEOUT];
		load_http_fields(ld, label, vals, false, &s->http);
		f.val[SI_TIMEOUT] = NULL;
	}
	if (f.val[SI_BATCH])
		load_batch(ld, f.val[SI_BATCH], label, s);
	if (f.val[SI_TIMEOUT] && get_duration(ld, "timeout", f.val[SI_TIMEOUT], &s->timeout) &&
	    s->timeout == 0)
		err_node(ld, f.val[SI_TIMEOUT], "'timeout' of %s must be greater than 0", label);
	if (f.val[SI_BACKOFF])
		get_duration(ld, "backoff", f.val[SI_BACKOFF], &s->backoff);
	if (f.val[SI_MAX_BACKOFF])
		get_duration(ld, "max_backoff", f.val[SI_MAX_BACKOFF], &s->max_backoff);
	if (s->max_backoff < s->backoff)
		err_node(ld, f.key[SI_MAX_BACKOFF] ? f.key[SI_MAX_BACKOFF] : map,
			 "'max_backoff' of %s must not be less than 'backoff'", label);

	if ((type == SINK_FILE || type == SINK_UNIX) && !f.key[SI_PATH])
		err_node(ld, map, "%s (type %s) needs 'path'", label, sink_type_names[type].name);
	if (type == SINK_TCP && !f.key[SI_ADDRESS])
		err_node(ld, map, "%s (type tcp) needs 'address'", label);
	if (type == SINK_EXEC && !f.key[SI_ARGV])
		err_node(ld, map, "%s (type exec) needs 'argv'", label);
	if (type == SINK_HTTP && !f.key[SI_URL])
		err_node(ld, map, "%s (type http) needs 'url'", label);
out:
	free(where);
	free(label);
}

/* --- lists ----------------------------------------------------------------------- */

/*
 * The entries of a top-level list, or NULL (with *n = 0) after an error. An empty
 * "stages:" means no stages; sources and sinks need at least one entry.
 */
static const yaml_node_item_t *list_items(struct loader *ld, const char *key, const yaml_node_t *v,
					  const char *need, size_t *n)
{
	char desc[DESC_LEN];

	*n = 0;
	if (need == NULL && is_empty(v))
		return NULL;
	if (v->type != YAML_SEQUENCE_NODE) {
		err_node(ld, v, "expected a list for '%s', got %s", key, describe(v, desc));
		return NULL;
	}
	*n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (*n == 0 && need != NULL)
		err_node(ld, v, "'%s' needs %s", key, need);
	return v->data.sequence.items.start;
}

/* The entry's mapping, or NULL after an error. */
static const yaml_node_t *list_entry(struct loader *ld, const char *key,
				     const yaml_node_item_t *items, size_t i)
{
	const yaml_node_t *e = node_at(ld, items[i]);
	char desc[DESC_LEN];

	if (e->type != YAML_MAPPING_NODE) {
		err_node(ld, e, "each entry of '%s' must be a mapping, got %s", key,
			 describe(e, desc));
		return NULL;
	}
	return e;
}

static void check_unique(struct loader *ld, const char *kind, const char *name, struct conf_pos pos,
			 const char *prev_name, struct conf_pos prev_pos, bool *reported)
{
	if (*reported || name == NULL || prev_name == NULL || strcmp(name, prev_name) != 0)
		return;
	err_lc(ld, (size_t)pos.line, (size_t)pos.col,
	       "duplicate %s name '%s' (first defined at %d:%d)", kind, name, prev_pos.line,
	       prev_pos.col);
	*reported = true;
}

static void load_sources(struct loader *ld, const yaml_node_t *v)
{
	struct conf *c = ld->c;
	const yaml_node_item_t *items =
	    list_items(ld, "sources", v, "at least one source", &c->n_sources);

	if (items == NULL)
		return;
	c->sources = xcalloc(c->n_sources, sizeof(*c->sources));
	for (size_t i = 0; i < c->n_sources; i++) {
		const yaml_node_t *m = list_entry(ld, "sources", items, i);
		bool dup = false;
		if (m == NULL)
			continue;
		load_source(ld, m, i, &c->sources[i]);
		for (size_t j = 0; j < i; j++)
			check_unique(ld, "source", c->sources[i].name, c->sources[i].pos,
				     c->sources[j].name, c->sources[j].pos, &dup);
	}
}

static void load_stages(struct loader *ld, const yaml_node_t *v)
{
	struct conf *c = ld->c;
	const yaml_node_item_t *items = list_items(ld, "stages", v, NULL, &c->n_stages);

	if (items == NULL)
		return;
	c->stages = xcalloc(c->n_stages, sizeof(*c->stages));
	for (size_t i = 0; i < c->n_stages; i++) {
		const yaml_node_t *m = list_entry(ld, "stages", items, i);
		bool dup = false;
		if (m == NULL)
			continue;
		load_stage(ld, m, i, &c->stages[i]);
		for (size_t j = 0; j < i; j++)
			check_unique(ld, "stage", c->stages[i].name, c->stages[i].pos,
				     c->stages[j].name, c->stages[j].pos, &dup);
	}
}

static void load_sinks(struct loader *ld, const yaml_node_t *v)
{
	struct conf *c = ld->c;
	const yaml_node_item_t *items =
	    list_items(ld, "sinks", v, "at least one sink", &c->n_sinks);

	if (items == NULL)
		return;
	c->sinks = xcalloc(c->n_sinks, sizeof(*c->sinks));
	for (size_t i = 0; i < c->n_sinks; i++) {
		const yaml_node_t *m = list_entry(ld, "sinks", items, i);
		bool dup = false;
		if (m == NULL)
			continue;
		load_sink(ld, m, i, &c->sinks[i]);
		for (size_t j = 0; j < i; j++)
			check_unique(ld, "sink", c->sinks[i].name, c->sinks[i].pos,
				     c->sinks[j].name, c->sinks[j].pos, &dup);
	}
}

/* --- top level ------------------------------------------------------------------- */

enum { SH_GRACE, SH_KILL_AFTER, SH_SPOOL, SH_N };
static const struct keydef shutdown_keys[SH_N] = {
    [SH_GRACE] = {.name = "grace"},
    [SH_KILL_AFTER] = {.name = "kill_after"},
    [SH_SPOOL] = {.name = "spool"},
};

static void load_shutdown(struct loader *ld, const yaml_node_t *v)
{
	struct fields f;

	if (!want_mapping(ld, "shutdown", v))
		return;
	read_fields(ld, v, "in 'shutdown'", shutdown_keys, SH_N, &f);
	if (f.val[SH_GRACE])
		get_duration(ld, "grace", f.val[SH_GRACE], &ld->c->shutdown.grace);
	if (f.val[SH_KILL_AFTER])
		get_duration(ld, "kill_after", f.val[SH_KILL_AFTER], &ld->c->shutdown.kill_after);
	if (f.val[SH_SPOOL])
		get_str(ld, "spool", f.val[SH_SPOOL], true, &ld->c->shutdown.spool);
}

enum { DL_TYPE, DL_PATH, DL_N };
static const struct keydef dead_letter_keys[DL_N] = {
    [DL_TYPE] = {.name = "type"},
    [DL_PATH] = {.name = "path"},
};

static void load_dead_letter(struct loader *ld, const yaml_node_t *v)
{
	struct conf_dead_letter *dl = &ld->c->dead_letter;
	struct fields f;
	int type = SINK_FILE;

	/* Present, even if broken: stages that use it should not hear it is missing. */
	dl->enabled = true;
	dl->pos = node_pos(v);
	dl->type = SINK_FILE;
	if (!want_mapping(ld, "dead_letter", v))
		return;
	read_fields(ld, v, "in 'dead_letter'", dead_letter_keys, DL_N, &f);
	if (f.val[DL_TYPE]) {
		type = get_enum(ld, "type", f.val[DL_TYPE], dead_letter_type_names,
				ARRAY_LEN(dead_letter_type_names), "dead_letter type");
		if (type >= 0)
			dl->type = (enum sink_type)type;
	}
	if (f.val[DL_PATH] && type >= 0 && type != SINK_FILE) {
		err_node(ld, f.key[DL_PATH],
			 "'path' does not apply to a %s dead_letter (only to file)",
			 dead_letter_type_names[type].name);
	} else if (f.val[DL_PATH]) {
		get_str(ld, "path", f.val[DL_PATH], true, &dl->path);
	}
	if (type == SINK_FILE && !f.key[DL_PATH])
		err_node(ld, v, "dead_letter (type file) needs 'path'");
}

enum { LG_LEVEL, LG_FORMAT, LG_N };
static const struct keydef log_keys[LG_N] = {
    [LG_LEVEL] = {.name = "level"},
    [LG_FORMAT] = {.name = "format"},
};

static void load_log(struct loader *ld, const yaml_node_t *v)
{
	struct conf *c = ld->c;
	struct fields f;
	int e;

	if (!want_mapping(ld, "log", v))
		return;
	read_fields(ld, v, "in 'log'", log_keys, LG_N, &f);
	/* log.c's parsers are the authority (they also take "WARNING"); the table words the error.
	 */
	if (f.val[LG_LEVEL]) {
		const yaml_node_t *lv = f.val[LG_LEVEL];
		if (lv->type == YAML_SCALAR_NODE && log_level_parse(scalar(lv), &c->log.level) == 0)
			c->log.level_set = true;
		else if ((e = get_enum(ld, "level", lv, log_level_names, ARRAY_LEN(log_level_names),
				       "level")) >= 0) {
			c->log.level = (enum log_level)e;
			c->log.level_set = true;
		}
	}
	if (f.val[LG_FORMAT]) {
		const yaml_node_t *fv = f.val[LG_FORMAT];
		if (fv->type == YAML_SCALAR_NODE &&
		    log_format_parse(scalar(fv), &c->log.format) == 0)
			c->log.format_set = true;
		else if ((e = get_enum(ld, "format", fv, log_format_names,
				       ARRAY_LEN(log_format_names), "format")) >= 0) {
			c->log.format = (enum log_format)e;
			c->log.format_set = true;
		}
	}
}

/*
 * A block with one required string key: metrics: {listen}, control: {socket}.
 * check, when not NULL, validates the value (the owner of the value knows how).
 */
static void load_one_key(struct loader *ld, const yaml_node_t *v, const char *block,
			 const char *key, char **out, int (*check)(const char *, char *, size_t))
{
	char err[512];
	const struct keydef keys[1] = {{.name = key}};
	char *where = xasprintf("in '%s'", block);
	struct fields f;

	if (want_mapping(ld, block, v)) {
		read_fields(ld, v, where, keys, 1, &f);
		if (f.val[0] && get_str(ld, key, f.val[0], true, out) && check != NULL &&
		    check(*out, err, sizeof(err)) < 0)
			err_node(ld, f.val[0], "%s", err);
		else if (!f.val[0] && !f.key[0])
			err_node(ld, v, "'%s' needs '%s'", block, key);
	}
	free(where);
}

enum {
	T_NAME,
	T_QUEUE,
	T_MEMORY_LIMIT,
	T_MAX_ITEM_BYTES,
	T_SHUTDOWN,
	T_DEADLINE,
	T_SOURCES,
	T_STAGES,
	T_SINKS,
	T_DEAD_LETTER,
	T_LOG,
	T_JOBLOG,
	T_METRICS,
	T_CONTROL,
	T_N
};
static const struct keydef top_keys[T_N] = {
    [T_NAME] = {.name = "name"},
    [T_QUEUE] = {.name = "queue"},
    [T_MEMORY_LIMIT] = {.name = "memory_limit"},
    [T_MAX_ITEM_BYTES] = {.name = "max_item_bytes"},
    [T_SHUTDOWN] = {.name = "shutdown"},
    [T_DEADLINE] = {.name = "deadline"},
    [T_SOURCES] = {.name = "sources"},
    [T_STAGES] = {.name = "stages"},
    [T_SINKS] = {.name = "sinks"},
    [T_DEAD_LETTER] = {.name = "dead_letter"},
    [T_LOG] = {.name = "log"},
    [T_JOBLOG] = {.name = "joblog"},
    [T_METRICS] = {.name = "metrics"},
    [T_CONTROL] = {.name = "control"},
};

_Static_assert(T_N <= MAX_KEYS, "struct fields is too small for the top-level keys");

/* "/etc/sluice/thumbnails.yaml" -> "thumbnails" */
static char *default_name(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t len;

	if (strcmp(path, "-") == 0)
		return xstrdup("stdin");
	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".yaml") == 0)
		len -= 5;
	else if (len > 4 && strcmp(base + len - 4, ".yml") == 0)
		len -= 4;
	return xstrndup(base, len);
}

/* Under systemd's StateDirectory=, the spool lives there unless the file says otherwise. */
static void default_spool(struct conf *c)
{
	const char *dir = getenv("STATE_DIRECTORY");
	size_t len;

	if (dir == NULL || c->shutdown.spool != NULL)
		return;
	len = strcspn(dir, ":");
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len == 0)
		return;
	c->shutdown.spool = xasprintf("%.*s/%s.spool", (int)len, dir, c->name);
}

static void load_top(struct loader *ld, const yaml_node_t *root)
{
	struct conf *c = ld->c;
	struct fields f;
	bool name_ok = true;

	read_fields(ld, root, "at the top level", top_keys, T_N, &f);

	if (f.val[T_NAME]) {
		get_name(ld, "pipeline", f.val[T_NAME], &c->name);
		name_ok =
		    c->name != NULL && valid_name(c->name) && strlen(c->name) <= CONF_NAME_MAX;
	} else if (!f.key[T_NAME]) {
		char why[96];
		c->name = default_name(ld->file);
		if (!valid_name(c->name)) {
			err_node(ld, root,
				 "the pipeline name '%s', taken from the file name, %s; set 'name'",
				 c->name, name_rule);
			name_ok = false;
		} else if (name_too_long(c->name, why, sizeof(why))) {
			err_node(ld, root,
				 "the pipeline name '%.32s...', taken from the file name, %s; set "
				 "'name'",
				 c->name, why);
			name_ok = false;
		}
	}
	if (f.val[T_QUEUE])
		load_queue(ld, f.val[T_QUEUE], "in 'queue'", &c->queue);
	if (f.val[T_MEMORY_LIMIT])
		get_size(ld, "memory_limit", f.val[T_MEMORY_LIMIT], &c->memory_limit);
	if (f.val[T_MAX_ITEM_BYTES])
		get_size(ld, "max_item_bytes", f.val[T_MAX_ITEM_BYTES], &c->max_item_bytes);
	if (f.val[T_SHUTDOWN])
		load_shutdown(ld, f.val[T_SHUTDOWN]);
	if (name_ok && c->name != NULL)
		default_spool(c);
	if (f.val[T_DEADLINE])
		get_duration(ld, "deadline", f.val[T_DEADLINE], &c->deadline);
	if (f.val[T_DEAD_LETTER])
		load_dead_letter(ld, f.val[T_DEAD_LETTER]);
	if (f.val[T_JOBLOG])
		get_str(ld, "joblog", f.val[T_JOBLOG], true, &c->joblog);
	if (f.val[T_METRICS])
		load_one_key(ld, f.val[T_METRICS], "metrics", "listen", &c->metrics.listen,
			     addr_check_metrics_listen);
	if (f.val[T_CONTROL])
		load_one_key(ld, f.val[T_CONTROL], "control", "socket", &c->control.socket,
			     addr_check_control_socket);
	if (f.val[T_LOG])
		load_log(ld, f.val[T_LOG]);

	/* The stages read the top-level queue and dead_letter, so they come after them. */
	if (f.val[T_SOURCES])
		load_sources(ld, f.val[T_SOURCES]);
	else if (!f.key[T_SOURCES])
		err_node(ld, root, "missing 'sources': a pipeline needs at least one source");
	if (f.val[T_STAGES])
		load_stages(ld, f.val[T_STAGES]);
	if (f.val[T_SINKS])
		load_sinks(ld, f.val[T_SINKS]);
	else if (!f.key[T_SINKS])
		err_node(ld, root, "missing 'sinks': a pipeline needs at least one sink");
}

/* --- loading --------------------------------------------------------------------- */

/* The whole file ("-": standard input), or NULL with errno set. */
static char *read_file(const char *path, size_t *len)
{
	bool from_stdin = strcmp(path, "-") == 0;
	FILE *fp = from_stdin ? stdin : fopen(path, "r");
	size_t cap = 8192, n = 0;
	char *buf;

	if (fp == NULL)
		return NULL;
	buf = xmalloc(cap);
	for (;;) {
		size_t r = fread(buf + n, 1, cap - n, fp);
		n += r;
		if (r == 0)
			break;
		if (n == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
	}
	int saved = ferror(fp) ? (errno ? errno : EIO) : 0;
	if (!from_stdin)
		fclose(fp);
	if (saved != 0) {
		free(buf);
		errno = saved;
		return NULL;
	}
	*len = n;
	return buf;
}

/*
 * Where the file ends, as libyaml counts lines and columns (characters; LF, CR,
 * CRLF, NEL, LS and PS end a line). libyaml ends a stream that lacks its last
 * line break with one of its own, so a mark at the end of such a file lies on a
 * line after it: errors are placed no further than the end.
 */
static size_t line_break(const unsigned char *u, size_t left)
{
	if (u[0] == '\n')
		return 1;
	if (u[0] == '\r')
		return left > 1 && u[1] == '\n' ? 2 : 1;
	if (left > 1 && u[0] == 0xC2 && u[1] == 0x85)
		return 2;
	if (left > 2 && u[0] == 0xE2 && u[1] == 0x80 && (u[2] == 0xA8 || u[2] == 0xA9))
		return 3;
	return 0;
}

static void end_of(const char *buf, size_t len, size_t *line, size_t *col)
{
	const unsigned char *u = (const unsigned char *)buf;
	size_t l = 1, c = 1, i = len >= 3 && memcmp(u, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;

	for (; i < len; i++) {
		size_t brk = line_break(u + i, len - i);
		if (brk > 0) {
			i += brk - 1;
			l++;
			c = 1;
		} else if ((u[i] & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static void parse_error(struct loader *ld, const yaml_parser_t *p, const char *buf, size_t len)
{
	const char *problem = p->problem ? p->problem : "cannot parse the file";

	if (p->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset, not a mark. */
		size_t line = 1, col = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		if (p->problem_value != -1)
			err_lc(ld, line, col, "%s (byte 0x%02X)", problem, p->problem_value);
		else
			err_lc(ld, line, col, "%s", problem);
	} else if (p->context != NULL) {
		err_lc(ld, p->problem_mark.line + 1, p->problem_mark.column + 1, "%s (%s)", problem,
		       p->context);
	} else {
		err_lc(ld, p->problem_mark.line + 1, p->problem_mark.column + 1, "%s", problem);
	}
}

/* --- environment: ${VAR}, ${VAR:-default}, $$ ------------------------------------- */

/*
 * Where byte off of a scalar's value is in the file. Exact for a value on one line
 * whose text is its value (plain, or quoted without escapes); otherwise the start of
 * the value, which still names the right key.
 */
static struct conf_pos value_pos(const yaml_node_t *n, size_t off)
{
	struct conf_pos pos = node_pos(n);
	size_t quote = n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
			       n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE
			   ? 1
			   : 0;
	if (n->start_mark.line == n->end_mark.line &&
	    n->end_mark.column - n->start_mark.column == n->data.scalar.length + 2 * quote &&
	    n->data.scalar.style != YAML_LITERAL_SCALAR_STYLE &&
	    n->data.scalar.style != YAML_FOLDED_SCALAR_STYLE)
		pos.col += (int)(quote + off);
	return pos;
}

static bool env_name_char(char c, bool first)
{
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (!first && c >= '0' && c <= '9');
}

static bool utf8_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s), n;

	for (; left > 0; p += n, left -= n)
		if ((n = utf8_valid_len(p, left)) == 0)
			return false;
	return true;
}

/*
 * The value of n with ${VAR}, ${VAR:-default} and $$ replaced; NULL when there is
 * nothing to replace or on an error (reported at its column). A '$' before any other
 * character stays as it is, so shell text such as "$1" or "$(date)" passes through.
 */
static char *expand_env_value(struct loader *ld, const yaml_node_t *n)
{
	const char *v = scalar(n);
	struct strbuf out = {0};
	bool changed = false, bad = false;
	size_t i = 0, len = n->data.scalar.length;

	while (i < len) {
		const char *dollar = memchr(v + i, '$', len - i);
		size_t at = dollar ? (size_t)(dollar - v) : len;
		strbuf_add(&out, v + i, at - i);
		i = at;
		if (i >= len)
			break;
		if (v[i + 1] == '$') {
			strbuf_add(&out, "$", 1);
			i += 2;
			changed = true;
			continue;
		}
		if (v[i + 1] != '{') {
			strbuf_add(&out, "$", 1);
			i++;
			continue;
		}
		size_t name = i + 2, end = name;
		while (end < len && env_name_char(v[end], end == name))
			end++;
		struct conf_pos pos = value_pos(n, i);
		if (end == name) {
			err_lc(ld, pos.line, pos.col,
			       "'${' must be followed by a variable name (letters, digits, '_'); "
			       "write '$${' for a literal '${'");
			bad = true;
			break;
		}
		const char *def = NULL;
		size_t close = end;
		if (end + 1 < len && v[end] == ':' && v[end + 1] == '-') {
			def = v + end + 2;
			close = end + 2;
			while (close < len && v[close] != '}')
				close++;
		}
		if (close >= len || v[close] != '}') {
			err_lc(ld, pos.line, pos.col, "'${%.*s' is not closed: expected '}'%s",
			       (int)(end - name), v + name, def == NULL ? " or ':-default}'" : "");
			bad = true;
			break;
		}
		char *var = xstrndup(v + name, end - name);
		const char *val = getenv(var);
		if (val != NULL && !utf8_text(val)) {
			err_lc(ld, pos.line, pos.col,
			       "environment variable '%s' holds bytes that are not UTF-8; a "
			       "config value must be UTF-8 text",
			       var);
			bad = true;
		} else if (val != NULL && (*val != '\0' || def == NULL)) {
			strbuf_add(&out, val, strlen(val));
		} else if (def != NULL) {
			strbuf_add(&out, def, (size_t)(v + close - def));
		} else {
			err_lc(
			    ld, pos.line, pos.col,
			    "environment variable '%s' is not set (write '${%s:-default}' to give "
			    "a default, or '$${%s}' for the literal text)",
			    var, var, var);
			bad = true;
		}
		free(var);
		i = close + 1;
		changed = true;
	}
	if (bad || !changed) {
		free(out.p);
		return NULL;
	}
	if (out.p == NULL)
		out.p = xstrdup("");
	return out.p;
}

/*
 * Substitutes the environment into every value (never a key) before the document is
 * interpreted, so every later check and error sees the value the daemon will use.
 */
static void expand_env(struct loader *ld, yaml_document_t *doc)
{
	size_t n = (size_t)(doc->nodes.top - doc->nodes.start);
	bool *is_key = xcalloc(n + 1, sizeof(*is_key));

	for (yaml_node_t *m = doc->nodes.start; m < doc->nodes.top; m++) {
		if (m->type != YAML_MAPPING_NODE)
			continue;
		for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
		     p < m->data.mapping.pairs.top; p++)
			if (p->key >= 1 && (size_t)p->key <= n)
				is_key[p->key] = true;
	}
	for (size_t idx = 1; idx <= n; idx++) {
		yaml_node_t *s = &doc->nodes.start[idx - 1];
		if (s->type != YAML_SCALAR_NODE || is_key[idx] ||
		    memchr(s->data.scalar.value, '$', s->data.scalar.length) == NULL)
			continue;
		char *v = expand_env_value(ld, s);
		if (v == NULL)
			continue;
		/* libyaml frees node values with yaml_free, which is free. */
		free(s->data.scalar.value);
		s->data.scalar.value = (yaml_char_t *)v;
		s->data.scalar.length = strlen(v);
	}
	free(is_key);
}

static void parse(struct loader *ld, const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	const yaml_node_t *root, *root2;
	char desc[DESC_LEN];

	if (!yaml_parser_initialize(&parser)) {
		err_lc(ld, 1, 1, "cannot initialise the YAML parser");
		return;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	end_of(buf, len, &ld->end_line, &ld->end_col);
	if (!yaml_parser_load(&parser, &doc)) {
		parse_error(ld, &parser, buf, len);
		yaml_parser_delete(&parser);
		return;
	}
	ld->doc = &doc;
	expand_env(ld, &doc);
	root = yaml_document_get_root_node(&doc);
	if (root == NULL) {
		err_lc(ld, 1, 1,
		       "the file is empty; expected a mapping with 'sources' and 'sinks'");
	} else if (root->type != YAML_MAPPING_NODE) {
		err_node(ld, root, "expected a mapping at the top level, got %s",
			 describe(root, desc));
	} else {
		load_top(ld, root);
	}
	if (root != NULL) {
		/* A second document would be silently ignored; say so instead. */
		if (!yaml_parser_load(&parser, &extra)) {
			parse_error(ld, &parser, buf, len);
		} else {
			root2 = yaml_document_get_root_node(&extra);
			if (root2 != NULL)
				err_lc(ld, extra.start_mark.line + 1, extra.start_mark.column + 1,
				       "expected one YAML document, found a second one here");
			yaml_document_delete(&extra);
		}
	}
	ld->doc = NULL;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
}

struct conf *conf_load(const char *path, FILE *errs, bool *noinput)
{
	struct loader ld = {.file = path};
	/* Errors name what the user would look for. */
	const char *shown = strcmp(path, "-") == 0 ? "<stdin>" : path;
	struct conf *c;
	size_t len = 0;
	char *buf;

	if (noinput != NULL)
		*noinput = false;
	buf = read_file(path, &len);
	if (buf == NULL) {
		fprintf(errs, "%s: %s\n", shown, strerror(errno));
		if (noinput != NULL)
			*noinput = true;
		return NULL;
	}

	c = xcalloc(1, sizeof(*c));
	c->file = xstrdup(path);
	c->queue = (struct conf_queue){1024, UINT64_C(64) << 20, WHEN_FULL_BLOCK};
	c->memory_limit = UINT64_C(512) << 20;
	c->max_item_bytes = UINT64_C(1) << 20;
	c->shutdown.grace = 30 * UINT64_C(1000000);
	c->shutdown.kill_after = 5 * UINT64_C(1000000);
	c->log.level = LOG_INFO;
	c->log.format = LOG_TEXT;
	ld.c = c;

	parse(&ld, buf, len);
	free(buf);

	if (ld.n_errs > 1)
		qsort(ld.errs, ld.n_errs, sizeof(*ld.errs), err_cmp);
	for (size_t i = 0; i < ld.n_errs; i++) {
		fprintf(errs, "%s:%zu:%zu: %s\n", shown, ld.errs[i].line, ld.errs[i].col,
			ld.errs[i].msg);
		free(ld.errs[i].msg);
	}
	free(ld.errs);
	if (ld.too_many)
		fprintf(errs, "%s: too many errors; stopped after %d\n", shown, MAX_ERRORS);
	if (ld.n_errs > 0) {
		conf_free(c);
		return NULL;
	}
	return c;
}

static void free_argv(char **argv, size_t argc)
{
	if (argv == NULL)
		return;
	for (size_t i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

static void free_http(struct conf_http *h)
{
	free(h->url);
	free(h->body);
	for (size_t i = 0; i < h->n_headers; i++) {
		free(h->headers[i].name);
		free(h->headers[i].value);
	}
	free(h->headers);
}

void conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_sources; i++) {
		struct conf_source *s = &c->sources[i];
		free(s->name);
		free(s->path);
		free(s->template);
		free_argv(s->argv, s->argc);
		free(s->listen);
		free(s->done_dir);
		free(s->failed_dir);
	}
	free(c->sources);
	for (size_t i = 0; i < c->n_stages; i++) {
		struct conf_stage *st = &c->stages[i];
		free(st->name);
		free_argv(st->argv, st->argc);
		for (size_t j = 0; j < st->n_env; j++) {
			free(st->env[j].name);
			free(st->env[j].value);
		}
		free(st->env);
		free(st->cwd);
		free(st->pattern);
		free_http(&st->http);
	}
	free(c->stages);
	for (size_t i = 0; i < c->n_sinks; i++) {
		free(c->sinks[i].name);
		free(c->sinks[i].path);
		free(c->sinks[i].address);
		free_argv(c->sinks[i].argv, c->sinks[i].argc);
		free_http(&c->sinks[i].http);
	}
	free(c->sinks);
	free(c->dead_letter.path);
	free(c->shutdown.spool);
	free(c->joblog);
	free(c->metrics.listen);
	free(c->control.socket);
	free(c->name);
	free(c->file);
	free(c->keypos);
	free(c);
}

/* --- printing -------------------------------------------------------------------- */

/*
 * A YAML double-quoted scalar. Besides '"' and '\', YAML wants escapes for C0 and
 * C1 controls, DEL, the BOM and the non-ASCII line breaks (which a reader would
 * fold); everything else, UTF-8 included, may appear as is. A value (not a key) is
 * read back through the environment substitution, so a '$' that would start "$$" or
 * "${" there is written as "$$".
 */
static void put_scalar(FILE *out, const char *s, bool is_value)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	while (*p != '\0') {
		unsigned char ch = *p;
		uint32_t cp;
		size_t n;

		if (ch < 0x80) {
			if (ch == '$' && is_value && (p[1] == '$' || p[1] == '{'))
				fputs("$$", out);
			else if (ch == '"' || ch == '\\')
				fprintf(out, "\\%c", ch);
			else if (ch == '\n')
				fputs("\\n", out);
			else if (ch == '\t')
				fputs("\\t", out);
			else if (ch == '\r')
				fputs("\\r", out);
			else if (ch < 0x20 || ch == 0x7f)
				fprintf(out, "\\x%02X", ch);
			else
				fputc(ch, out);
			p++;
			continue;
		}
		if ((ch & 0xe0) == 0xc0)
			n = 2, cp = ch & 0x1f;
		else if ((ch & 0xf0) == 0xe0)
			n = 3, cp = ch & 0x0f;
		else if ((ch & 0xf8) == 0xf0)
			n = 4, cp = ch & 0x07;
		else
			n = 0, cp = 0;
		for (size_t i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80) {
				n = 0;
				break;
			}
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if (n == 0) {
			/* Not UTF-8 (never from the loader): keep the byte's value visible. */
			fprintf(out, "\\x%02X", ch);
			p++;
			continue;
		}
		if (cp == 0x85)
			fputs("\\N", out);
		else if (cp == 0x2028)
			fputs("\\L", out);
		else if (cp == 0x2029)
			fputs("\\P", out);
		else if (cp < 0xa0)
			fprintf(out, "\\x%02X", (unsigned)cp);
		else if (cp == 0xfeff || cp == 0xfffe || cp == 0xffff)
			fprintf(out, "\\u%04X", (unsigned)cp);
		else
			fwrite(p, 1, n, out);
		p += n;
	}
	fputc('"', out);
}

static void put_str(FILE *out, const char *s)
{
	put_scalar(out, s, true);
}

static void put_key_str(FILE *out, const char *indent, const char *key, const char *s)
{
	fprintf(out, "%s%s: ", indent, key);
	put_str(out, s);
	fputc('\n', out);
}

static void put_argv(FILE *out, const char *indent, char *const *argv, size_t argc)
{
	fprintf(out, "%sargv: [", indent);
	for (size_t i = 0; i < argc; i++) {
		if (i > 0)
			fputs(", ", out);
		put_str(out, argv[i]);
	}
	fputs("]\n", out);
}

/*
 * Header values may carry credentials (Authorization, API keys, cookies) and --check
 * runs as ExecStartPre, into the journal: print only the values of headers known to
 * hold none. The internal printouts that reload compares keep every value.
 */
static bool header_is_harmless(const char *name)
{
	static const char *const harmless[] = {"Accept", "Accept-Encoding", "Content-Encoding",
					       "Content-Type", "User-Agent"};
	for (size_t i = 0; i < ARRAY_LEN(harmless); i++)
		if (strcasecmp(name, harmless[i]) == 0)
			return true;
	return false;
}

static void put_headers(FILE *out, const char *indent, const struct conf_http *h, bool redact)
{
	if (h->n_headers == 0)
		return;
	fprintf(out, "%sheaders:\n", indent);
	for (size_t i = 0; i < h->n_headers; i++) {
		fprintf(out, "%s  ", indent);
		put_scalar(out, h->headers[i].name, false);
		fputs(": ", out);
		if (redact && !header_is_harmless(h->headers[i].name))
			fputs("<redacted>", out);
		else
			put_str(out, h->headers[i].value);
		fputc('\n', out);
	}
}

static void put_queue(FILE *out, const char *indent, const struct conf_queue *q)
{
	char b[64];

	fprintf(out, "%scapacity: %llu\n", indent, (unsigned long long)q->capacity);
	fprintf(out, "%smax_bytes: %s\n", indent, units_format_size(q->max_bytes, b, sizeof(b)));
	fprintf(out, "%swhen_full: %s\n", indent,
		enum_name(when_full_names, ARRAY_LEN(when_full_names), (int)q->when_full));
}

static void print_source(FILE *out, const struct conf_source *s)
{
	char b[64];

	put_key_str(out, "  - ", "name", s->name);
	fprintf(out, "    type: %s\n", conf_source_type_name(s->type));
	switch (s->type) {
	case SOURCE_FILE:
		put_key_str(out, "    ", "path", s->path);
		fprintf(out, "    follow: %s\n", s->follow ? "true" : "false");
		break;
	case SOURCE_EXEC:
		put_argv(out, "    ", s->argv, s->argc);
		break;
	case SOURCE_GENERATE:
		if (s->count >= 0)
			fprintf(out, "    count: %lld\n", (long long)s->count);
		fprintf(out, "    interval: %s\n",
			units_format_duration(s->interval, b, sizeof(b)));
		put_key_str(out, "    ", "template", s->template);
		break;
	case SOURCE_STDIN:
		break;
	case SOURCE_TCP:
	case SOURCE_UNIX:
		if (s->type == SOURCE_TCP)
			put_key_str(out, "    ", "listen", s->listen);
		else
			put_key_str(out, "    ", "path", s->path);
		fprintf(out, "    max_connections: %llu\n", (unsigned long long)s->max_connections);
		fprintf(out, "    idle_timeout: %s\n",
			units_format_duration(s->idle_timeout, b, sizeof(b)));
		fprintf(out, "    ack: %s\n", s->ack ? "true" : "false");
		break;
	case SOURCE_HTTP:
		put_key_str(out, "    ", "listen", s->listen);
		put_key_str(out, "    ", "path", s->path);
		fprintf(out, "    split: %s\n",
			enum_name(split_names, ARRAY_LEN(split_names), (int)s->split));
		fprintf(out, "    ack: %s\n", s->ack ? "true" : "false");
		fprintf(out, "    queue_timeout: %s\n",
			units_format_duration(s->queue_timeout, b, sizeof(b)));
		fprintf(out, "    max_body: %s\n", units_format_size(s->max_body, b, sizeof(b)));
		fprintf(out, "    max_connections: %llu\n", (unsigned long long)s->max_connections);
		break;
	case SOURCE_DIR:
		put_key_str(out, "    ", "path", s->path);
		fprintf(out, "    split: %s\n",
			enum_name(split_names, ARRAY_LEN(split_names), (int)s->split));
		if (s->done_dir != NULL)
			put_key_str(out, "    ", "done_dir", s->done_dir);
		put_key_str(out, "    ", "failed_dir", s->failed_dir);
		fprintf(out, "    delete: %s\n", s->delete_done ? "true" : "false");
		break;
	}
	if (s->type != SOURCE_GENERATE && s->type != SOURCE_HTTP && s->type != SOURCE_DIR)
		fprintf(out, "    framing: %s\n",
			enum_name(framing_names, ARRAY_LEN(framing_names), (int)s->framing));
}

static void print_env_cwd(FILE *out, const struct conf_stage *st)
{
	if (st->n_env > 0) {
		fputs("      env:\n", out);
		for (size_t i = 0; i < st->n_env; i++) {
			fputs("        ", out);
			put_scalar(out, st->env[i].name, false);
			fputs(": ", out);
			put_str(out, st->env[i].value);
			fputc('\n', out);
		}
	}
	if (st->cwd != NULL)
		put_key_str(out, "      ", "cwd", st->cwd);
}

static void print_stage(FILE *out, const struct conf_stage *st, bool redact)
{
	char b[64];

	put_key_str(out, "  - ", "name", st->name);
	fprintf(out, "    workers: %llu\n", (unsigned long long)st->workers);
	fputs("    queue:\n", out);
	put_queue(out, "      ", &st->queue);
	if (st->kind == STAGE_EXEC) {
		fputs("    exec:\n", out);
		put_argv(out, "      ", st->argv, st->argc);
		fprintf(
		    out, "      stdin: %s\n",
		    enum_name(exec_stdin_names, ARRAY_LEN(exec_stdin_names), (int)st->stdin_mode));
		fprintf(out, "      stdout: %s\n",
			enum_name(exec_stdout_names, ARRAY_LEN(exec_stdout_names),
				  (int)st->stdout_mode));
		print_env_cwd(out, st);
	} else if (st->kind == STAGE_COPROCESS) {
		fputs("    coprocess:\n", out);
		put_argv(out, "      ", st->argv, st->argc);
		fprintf(out, "      framing: %s\n",
			enum_name(coproc_framing_names, ARRAY_LEN(coproc_framing_names),
				  (int)st->coproc_framing));
		print_env_cwd(out, st);
	} else if (st->kind == STAGE_HTTP) {
		fputs("    http:\n", out);
		fprintf(out, "      method: %s\n", conf_http_method_name(st->http.method));
		put_key_str(out, "      ", "url", st->http.url);
		put_headers(out, "      ", &st->http, redact);
		if (st->http.body != NULL)
			put_key_str(out, "      ", "body", st->http.body);
		fprintf(out, "      timeout: %s\n",
			units_format_duration(st->http.timeout, b, sizeof(b)));
	} else {
		fputs("    builtin:\n", out);
		fprintf(out, "      op: %s\n",
			enum_name(builtin_op_names, ARRAY_LEN(builtin_op_names), (int)st->op));
		if (st->op == BUILTIN_GREP) {
			put_key_str(out, "      ", "pattern", st->pattern);
			fprintf(out, "      invert: %s\n", st->invert ? "true" : "false");
		}
	}
	fprintf(out, "    timeout: %s\n", units_format_duration(st->timeout, b, sizeof(b)));
	fprintf(out, "    on_failure: %s\n", conf_on_failure_name(st->on_failure));
	fprintf(out, "    retry:\n      attempts: %llu\n", (unsigned long long)st->retry.attempts);
	fprintf(out, "      backoff: %s\n", units_format_duration(st->retry.backoff, b, sizeof(b)));
	fprintf(out, "      max_backoff: %s\n",
		units_format_duration(st->retry.max_backoff, b, sizeof(b)));
	if (st->max_failures > 0)
		fprintf(out, "    max_failures: \"%llu%s\"\n", (unsigned long long)st->max_failures,
			st->max_failures_pct ? "%" : "");
	fprintf(out, "    ordered: %s\n", st->ordered ? "true" : "false");
	if (st->rate > 0)
		fprintf(out, "    rate: %s\n    burst: %llu\n",
			units_format_rate(st->rate, b, sizeof(b)), (unsigned long long)st->burst);
	fprintf(out, "    shield: %s\n", st->shield ? "true" : "false");
}

static void print_sink(FILE *out, const struct conf_sink *s, bool redact)
{
	char b[64];

	put_key_str(out, "  - ", "name", s->name);
	fprintf(out, "    type: %s\n", conf_sink_type_name(s->type));
	switch (s->type) {
	case SINK_FILE:
		put_key_str(out, "    ", "path", s->path);
		fprintf(out, "    fsync: %s\n",
			enum_name(fsync_names, ARRAY_LEN(fsync_names), (int)s->fsync));
		fprintf(out, "    mode: %s\n", s->truncate ? "truncate" : "append");
		return;
	case SINK_STDOUT:
	case SINK_DISCARD:
		return;
	case SINK_TCP:
		put_key_str(out, "    ", "address", s->address);
		fprintf(out, "    timeout: %s\n", units_format_duration(s->timeout, b, sizeof(b)));
		break;
	case SINK_UNIX:
		put_key_str(out, "    ", "path", s->path);
		fprintf(out, "    timeout: %s\n", units_format_duration(s->timeout, b, sizeof(b)));
		break;
	case SINK_EXEC:
		put_argv(out, "    ", s->argv, s->argc);
		break;
	case SINK_HTTP:
		fprintf(out, "    method: %s\n", conf_http_method_name(s->http.method));
		put_key_str(out, "    ", "url", s->http.url);
		put_headers(out, "    ", &s->http, redact);
		fprintf(out, "    timeout: %s\n",
			units_format_duration(s->http.timeout, b, sizeof(b)));
		fprintf(out, "    batch:\n      max_items: %llu\n",
			(unsigned long long)s->batch.max_items);
		fprintf(out, "      max_bytes: %s\n",
			units_format_size(s->batch.max_bytes, b, sizeof(b)));
		fprintf(out, "      timeout: %s\n",
			units_format_duration(s->batch.timeout, b, sizeof(b)));
		break;
	}
	fprintf(out, "    backoff: %s\n", units_format_duration(s->backoff, b, sizeof(b)));
	fprintf(out, "    max_backoff: %s\n", units_format_duration(s->max_backoff, b, sizeof(b)));
}

/* What print writes, as a string: the three below. */
#define PRINT_TO_STRING(print, ...)                                                                \
	do {                                                                                       \
		char *buf_ = NULL;                                                                 \
		size_t len_ = 0;                                                                   \
		FILE *f_ = open_memstream(&buf_, &len_);                                           \
		print(f_, __VA_ARGS__);                                                            \
		fclose(f_);                                                                        \
		return buf_;                                                                       \
	} while (0)

static void print_conf(FILE *out, const struct conf *c, bool redact);

static void print_whole(FILE *out, const struct conf *c)
{
	print_conf(out, c, false);
}

static void print_sinks(FILE *out, const struct conf *c)
{
	for (size_t i = 0; i < c->n_sinks; i++)
		print_sink(out, &c->sinks[i], false);
}

char *conf_printed(const struct conf *c)
{
	PRINT_TO_STRING(print_whole, c);
}

char *conf_printed_source(const struct conf_source *s)
{
	PRINT_TO_STRING(print_source, s);
}

char *conf_printed_sinks(const struct conf *c)
{
	PRINT_TO_STRING(print_sinks, c);
}

void conf_print(const struct conf *c, FILE *out)
{
	print_conf(out, c, true);
}

static void print_conf(FILE *out, const struct conf *c, bool redact)
{
	char b[64];

	put_key_str(out, "", "name", c->name);
	fputs("queue:\n", out);
	put_queue(out, "  ", &c->queue);
	fprintf(out, "memory_limit: %s\n", units_format_size(c->memory_limit, b, sizeof(b)));
	fprintf(out, "max_item_bytes: %s\n", units_format_size(c->max_item_bytes, b, sizeof(b)));
	fputs("shutdown:\n", out);
	fprintf(out, "  grace: %s\n", units_format_duration(c->shutdown.grace, b, sizeof(b)));
	fprintf(out, "  kill_after: %s\n",
		units_format_duration(c->shutdown.kill_after, b, sizeof(b)));
	if (c->shutdown.spool != NULL)
		put_key_str(out, "  ", "spool", c->shutdown.spool);
	fprintf(out, "deadline: %s\n", units_format_duration(c->deadline, b, sizeof(b)));
	if (c->joblog != NULL)
		put_key_str(out, "", "joblog", c->joblog);
	if (c->metrics.listen != NULL) {
		fputs("metrics:\n", out);
		put_key_str(out, "  ", "listen", c->metrics.listen);
	}
	if (c->control.socket != NULL) {
		fputs("control:\n", out);
		put_key_str(out, "  ", "socket", c->control.socket);
	}

	fputs("sources:\n", out);
	for (size_t i = 0; i < c->n_sources; i++)
		print_source(out, &c->sources[i]);
	fputs(c->n_stages > 0 ? "stages:\n" : "stages: []\n", out);
	for (size_t i = 0; i < c->n_stages; i++)
		print_stage(out, &c->stages[i], redact);
	fputs("sinks:\n", out);
	for (size_t i = 0; i < c->n_sinks; i++)
		print_sink(out, &c->sinks[i], redact);

	if (c->dead_letter.enabled) {
		fputs("dead_letter:\n", out);
		fprintf(out, "  type: %s\n",
			enum_name(dead_letter_type_names, ARRAY_LEN(dead_letter_type_names),
				  (int)c->dead_letter.type));
		if (c->dead_letter.type == SINK_FILE)
			put_key_str(out, "  ", "path", c->dead_letter.path);
	}
	fputs("log:\n", out);
	fprintf(out, "  level: %s\n",
		enum_name(log_level_names, ARRAY_LEN(log_level_names), (int)c->log.level));
	fprintf(out, "  format: %s\n",
		enum_name(log_format_names, ARRAY_LEN(log_format_names), (int)c->log.format));
}
