/*
 * conf.c: loads the pipeline file (SPEC §3) into the plain structs of conf.h, and
 * prints them back as YAML for --check, by walking the schema of conf-schema.h.
 *
 * The file is read whole and parsed with libyaml's document API. Every mapping has
 * a table of rows (conf-keys.c); read_fields() checks each key against it (unknown
 * keys get a did-you-mean, duplicates point at the first one) and hands back the
 * value nodes by row, so that a mapping is interpreted in dependency order whatever
 * the order in the file: a source's 'type' before its other keys, the top-level
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
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "addr.h"
#include "conf-schema.h"
#include "units.h"
#include "util.h"

#define MAX_ERRORS 100
#define MAX_KEYS   64
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

/* The key and value nodes of a mapping, by row of its table (conf_ctx points here). */
struct fields {
	const yaml_node_t *key[MAX_KEYS];
	const yaml_node_t *val[MAX_KEYS]; /* NULL for absent keys and after an error */
};

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
static const char *suggest(const char *got, const char *const *cands, size_t n)
{
	size_t len = strlen(got), limit = len / 3 > 2 ? len / 3 : 2, best = SIZE_MAX;
	const char *found = NULL;

	for (size_t i = 0; i < n; i++) {
		size_t d = conf_edit_distance(got, cands[i]);
		size_t longer = len > strlen(cands[i]) ? len : strlen(cands[i]);
		if (d < best && d <= limit && d < longer) {
			best = d;
			found = cands[i];
		}
	}
	return found;
}

/* "; did you mean 'x'?" or "", into buf. */
static const char *did_you_mean(const char *got, const char *const *cands, size_t n, char *buf,
				size_t len)
{
	const char *s = suggest(got, cands, n);
	if (s == NULL)
		return "";
	snprintf(buf, len, "; did you mean '%s'?", s);
	return buf;
}

/* --- mappings -------------------------------------------------------------------- */

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

/* "a, b, c": the names of an enum, or of the kinds in mask (1 << index). */
static char *names_list(const char *const *names, unsigned mask)
{
	struct strbuf out = {0};

	for (size_t i = 0; names[i] != NULL; i++) {
		if (!(mask & (1u << i)))
			continue;
		if (out.len > 0)
			strbuf_add(&out, ", ", 2);
		strbuf_add(&out, names[i], strlen(names[i]));
	}
	strbuf_add(&out, "", 1);
	return out.p;
}

static size_t names_count(const char *const *names)
{
	size_t n = 0;
	while (names[n] != NULL)
		n++;
	return n;
}

/* The index of v's value in vals, or -1 after an error. */
static int get_enum(struct loader *ld, const char *key, const yaml_node_t *v,
		    const char *const *vals)
{
	char desc[DESC_LEN], dym[96];
	size_t n = names_count(vals);
	char *list = names_list(vals, ~0u);
	const char *s;

	if (v->type != YAML_SCALAR_NODE || is_empty(v)) {
		err_node(ld, v, "'%s' must be one of %s; got %s", key, list, describe(v, desc));
		free(list);
		return -1;
	}
	s = scalar(v);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, vals[i]) == 0) {
			free(list);
			return (int)i;
		}
	}
	err_node(ld, v, "'%s' must be one of %s; got %s%s", key, list, describe(v, desc),
		 did_you_mean(s, vals, n, dym, sizeof(dym)));
	free(list);
	return -1;
}

bool conf_valid_name(const char *s)
{
	return *s != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789_.-") == strlen(s);
}

const char conf_name_rule[] = "may only contain letters, digits, '_', '.' and '-'";

/* "is 130 bytes long; ..." when s is too long to be stored whole (CONF_NAME_MAX). */
bool conf_name_too_long(const char *s, char *why, size_t len)
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
	else if (!conf_valid_name(*out))
		err_node(ld, v, "%s name '%s' %s", what, *out, conf_name_rule);
	else if (conf_name_too_long(*out, why, sizeof(why)))
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

bool conf_url_is_https(const char *url)
{
	return strncasecmp(url, "https://", 8) == 0;
}

int conf_parse_url(const char *url, char *host, size_t hostlen, unsigned *port, const char **path,
		   const char **why)
{
	char auth[320];
	size_t alen;
	const char *a, *rest;

	bool https = conf_url_is_https(url);
	unsigned def_port = https ? 443 : 80;

	if (!https && strncasecmp(url, "http://", 7) != 0) {
		*why = "expected an http:// or https:// URL";
		return -1;
	}
	a = url + (https ? 8 : 7);
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
		*port = def_port;
	} else {
		if (!valid_host_chars(auth, alen)) {
			*why = "the host may only contain letters, digits, '.', '-' and '_'";
			return -1;
		}
		if (copy_host(auth, alen, host, hostlen, why) < 0)
			return -1;
		*port = def_port;
	}
	*path = *rest == '\0' ? "/" : rest;
	return 0;
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

/* --- maps and odd scalars --------------------------------------------------------- */

static void load_env(struct loader *ld, const yaml_node_t *v, const char *label,
		     struct conf_env **out, size_t *n_out)
{
	char desc[DESC_LEN];
	size_t n;

	if (v->type != YAML_MAPPING_NODE) {
		err_node(ld, v, "'env' must be a mapping of names to strings, got %s",
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
		(*n_out)++;
	}
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

/* "N" (a count) or "N%" (a share of the stage's finished items). */
static bool get_failures(struct loader *ld, const yaml_node_t *v, uint64_t *count, bool *pct)
{
	const char *s = want_scalar(ld, "max_failures", v, "a count like 10 or a percent like 5%");
	char *end;
	unsigned long long n;

	if (s == NULL)
		return false;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (end == s || errno != 0 || *s == '-' || (*end != '\0' && strcmp(end, "%") != 0)) {
		err_node(ld, v,
			 "expected a count like 10 or a percent like 5%% for 'max_failures', "
			 "got '%s'",
			 s);
		return false;
	}
	*pct = *end == '%';
	if (n < 1 || (*pct && n > 100)) {
		err_node(ld, v, "'max_failures' must be %s, got '%s'",
			 *pct ? "between 1% and 100%" : "at least 1", s);
		return false;
	}
	*count = n;
	return true;
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

static void free_argv(char **argv, size_t argc)
{
	if (argv == NULL)
		return;
	for (size_t i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

/* --- the schema's engine: loading a mapping by its table ------------------------- */

#define FIELD(obj, off)	 ((void *)((char *)(obj) + (off)))
#define CFIELD(obj, off) ((const void *)((const char *)(obj) + (off)))

/* Every list entry starts with its position, so duplicates can point at the first one. */
_Static_assert(offsetof(struct conf_source, pos) == 0, "a source starts with its pos");
_Static_assert(offsetof(struct conf_stage, pos) == 0, "a stage starts with its pos");
_Static_assert(offsetof(struct conf_sink, pos) == 0, "a sink starts with its pos");

static bool applies(const struct conf_key *k, int kind)
{
	return kind < 0 || (k->kinds & CONF_KIND(kind));
}

static int kind_of(const struct conf_table *t, const void *obj)
{
	if (t->kinds == NULL)
		return -1;
	if (t->registry == NULL)
		return *(const int *)CFIELD(obj, t->kind_off);
	const struct conf_kind *kind = *(const struct conf_kind *const *)CFIELD(obj, t->kind_off);
	for (int i = 0; kind != NULL && t->kinds[i] != NULL; i++)
		if (t->registry[i] == kind)
			return i;
	return -1;
}

/* Where row k of obj is stored: obj, or the kind's opts; NULL for another kind's opts. */
static void *row_base(const struct conf_table *t, const struct conf_key *k, const void *obj)
{
	if (!(k->flags & CF_OPTS))
		return (void *)obj;
	int kind = kind_of(t, obj);
	if (kind < 0 || !(k->kinds & CONF_KIND(kind)))
		return NULL;
	return *(void *const *)CFIELD(obj, t->opts_off);
}

void conf_err(struct conf_ctx *x, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vlc(x->ld, n->start_mark.line + 1, n->start_mark.column + 1, fmt, ap);
	va_end(ap);
}

void conf_err_at(struct conf_ctx *x, struct conf_pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vlc(x->ld, pos.line, pos.col, fmt, ap);
	va_end(ap);
}

struct conf_pos conf_node_pos(const yaml_node_t *n)
{
	return node_pos(n);
}

const yaml_node_t *conf_key_of(const struct conf_ctx *x, const char *name)
{
	for (size_t i = 0; i < x->t->n; i++)
		if (x->key[i] != NULL && strcmp(x->t->keys[i].name, name) == 0)
			return x->key[i];
	return NULL;
}

const yaml_node_t *conf_val_of(const struct conf_ctx *x, const char *name)
{
	for (size_t i = 0; i < x->t->n; i++)
		if (x->val[i] != NULL && strcmp(x->t->keys[i].name, name) == 0)
			return x->val[i];
	return NULL;
}

void conf_drop(struct conf_ctx *x, const char *name)
{
	for (size_t i = 0; i < x->t->n; i++)
		if (strcmp(x->t->keys[i].name, name) == 0)
			x->val[i] = NULL;
}

/* "in 'queue' of stage 'x'", "in source 'x'", "in 'shutdown'", "at the top level" */
static char *where_of(const struct conf_ctx *x)
{
	if (x->block != NULL && x->label != NULL)
		return xasprintf("in '%s' of %s", x->block, x->label);
	if (x->block != NULL)
		return xasprintf("in '%s'", x->block);
	if (x->label != NULL)
		return xasprintf("in %s", x->label);
	return xstrdup("at the top level");
}

/*
 * Checks each key of the mapping against the table (unknown keys get a
 * did-you-mean, duplicates point at the first one) and files the key and value
 * nodes under the first row of that name; place_by_kind() moves them once the
 * kind is known.
 */
static void read_fields(struct conf_ctx *x)
{
	const struct conf_table *t = x->t;
	const yaml_node_t *map = x->map;
	const char *names[MAX_KEYS];
	char desc[DESC_LEN], dym[96], *where = where_of(x);
	size_t n_names = 0;

	for (size_t i = 0; i < t->n; i++) {
		size_t j = 0;
		while (j < n_names && strcmp(names[j], t->keys[i].name) != 0)
			j++;
		if (j == n_names)
			names[n_names++] = t->keys[i].name;
	}
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *k = node_at(x->ld, p->key);
		const char *name;
		size_t i;

		if (k->type != YAML_SCALAR_NODE) {
			err_node(x->ld, k, "expected a key name %s, got %s", where,
				 describe(k, desc));
			continue;
		}
		name = scalar(k);
		for (i = 0; i < t->n; i++) {
			if (strcmp(t->keys[i].name, name) == 0 &&
			    strlen(name) == k->data.scalar.length)
				break;
		}
		if (i == t->n) {
			err_node(x->ld, k, "unknown key '%s' %s%s", name, where,
				 did_you_mean(name, names, n_names, dym, sizeof(dym)));
			continue;
		}
		if (x->key[i] != NULL) {
			err_node(x->ld, k, "duplicate key '%s' %s (first at %zu:%zu)", name, where,
				 x->key[i]->start_mark.line + 1, x->key[i]->start_mark.column + 1);
			continue;
		}
		x->key[i] = k;
		x->val[i] = node_at(x->ld, p->value);
	}
	free(where);
}

/* A key with one row per kind (a sink's timeout) goes to the row of this kind. */
static void place_by_kind(struct conf_ctx *x)
{
	const struct conf_table *t = x->t;

	for (size_t i = 0; x->kind >= 0 && i < t->n; i++) {
		if (x->key[i] == NULL || applies(&t->keys[i], x->kind))
			continue;
		for (size_t j = i + 1; j < t->n; j++) {
			if (strcmp(t->keys[j].name, t->keys[i].name) == 0 &&
			    applies(&t->keys[j], x->kind)) {
				x->key[j] = x->key[i];
				x->val[j] = x->val[i];
				x->key[i] = x->val[i] = NULL;
				break;
			}
		}
	}
}

/* The kinds any row named like row i applies to. */
static unsigned kinds_of_name(const struct conf_table *t, size_t i)
{
	unsigned mask = 0;
	for (size_t j = 0; j < t->n; j++)
		if (strcmp(t->keys[j].name, t->keys[i].name) == 0)
			mask |= t->keys[j].kinds;
	return mask;
}

static void not_applicable(struct conf_ctx *x)
{
	const struct conf_table *t = x->t;

	for (size_t i = 0; x->kind >= 0 && t->not_apply_fmt != NULL && i < t->n; i++) {
		if (x->val[i] == NULL || applies(&t->keys[i], x->kind))
			continue;
		char *list = names_list(t->kinds, kinds_of_name(t, i));
		conf_err(x, x->key[i], t->not_apply_fmt, t->keys[i].name, t->kinds[x->kind], list);
		free(list);
		x->val[i] = NULL;
	}
}

/* "source 'x' needs 'name'", "'exec' of stage 'x' needs 'argv'", ... */
static void needs(struct conf_ctx *x, const struct conf_key *k, bool per_kind)
{
	const struct conf_table *t = x->t;
	const char *who = x->label != NULL ? x->label : x->block;

	if (k->type == CT_LIST) {
		conf_err(x, x->map, "missing '%s': a pipeline needs %s", k->name, k->need);
	} else if (k->flags & CF_KIND) {
		char *list = names_list(t->kinds, ~0u);
		conf_err(x, x->map, t->need_kind_fmt, who, k->name, list);
		free(list);
	} else if (per_kind) {
		conf_err(x, x->map, t->need_fmt, who, t->kinds[x->kind], k->name);
	} else if (x->block != NULL && x->label != NULL) {
		conf_err(x, x->map, "'%s' of %s needs '%s'", x->block, x->label, k->name);
	} else if (x->block != NULL) {
		conf_err(x, x->map, "'%s' needs '%s'", x->block, k->name);
	} else {
		conf_err(x, x->map, "%s needs '%s'", x->label, k->name);
	}
}

/* A default as written in the file, parsed as the file's value would be. */
static void set_default(const struct conf_key *k, void *f)
{
	const char *err;

	switch (k->type) {
	case CT_COUNT:
		*(int64_t *)f = -1;
		break;
	case CT_UINT:
		*(uint64_t *)f = strtoull(k->def, NULL, 10);
		break;
	case CT_SIZE:
		units_size(k->def, f, &err);
		break;
	case CT_DURATION:
		units_duration(k->def, f, &err);
		break;
	case CT_RATE:
		units_rate(k->def, f, &err);
		break;
	case CT_BOOL:
		*(bool *)f = strcmp(k->def, "true") == 0;
		break;
	case CT_ENUM:
		for (int i = 0; k->values[i] != NULL; i++) {
			if (strcmp(k->values[i], k->def) != 0)
				continue;
			if (k->flags & CF_BOOL_ENUM)
				*(bool *)f = i != 0;
			else
				*(int *)f = i;
		}
		break;
	default: /* strings: once the kind is known (apply_string_defaults) */
		break;
	}
}

/* Every default but the strings', whatever the kind: the runtime never sees an unset value. */
static void apply_defaults(const struct conf_table *t, void *obj)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct conf_key *k = &t->keys[i];
		if (k->flags & CF_OPTS)
			continue; /* once the kind is known (attach_opts) */
		if (k->type == CT_BLOCK)
			apply_defaults(k->sub, FIELD(obj, k->off));
		else if (k->def != NULL || k->type == CT_COUNT)
			set_default(k, FIELD(obj, k->off));
	}
}

static void load_map(struct conf_ctx *x, void *obj);

/* Once the kind is known: the struct of a kind with opts of its own, with its defaults. */
static void attach_opts(struct conf_ctx *x, void *obj)
{
	const struct conf_table *t = x->t;
	void **opts = FIELD(obj, t->opts_off);

	if (t->registry == NULL || x->kind < 0 || t->registry[x->kind]->opts_size == 0)
		return;
	*opts = xcalloc(1, t->registry[x->kind]->opts_size);
	for (size_t i = 0; i < t->n; i++) {
		const struct conf_key *k = &t->keys[i];
		if (!(k->flags & CF_OPTS) || !applies(k, x->kind))
			continue;
		if (k->type == CT_BLOCK)
			apply_defaults(k->sub, FIELD(*opts, k->off));
		else if (k->def != NULL || k->type == CT_COUNT)
			set_default(k, FIELD(*opts, k->off));
	}
}

static void load_block(struct conf_ctx *x, const struct conf_key *k, void *obj,
		       const yaml_node_t *v)
{
	struct fields f = {{NULL}, {NULL}};
	struct conf_ctx b = {.ld = x->ld,
			     .c = x->c,
			     .t = k->sub,
			     .map = v,
			     .label = x->label,
			     .block = k->name,
			     .key = f.key,
			     .val = f.val};
	void *sub = FIELD(obj, k->off);

	if (k->sub->init != NULL)
		k->sub->init(&b, sub);
	if (want_mapping(x->ld, k->name, v))
		load_map(&b, sub);
}

static bool load_list(struct conf_ctx *x, const struct conf_key *k, void *obj, const yaml_node_t *v)
{
	const struct conf_table *t = k->sub;
	size_t *n = FIELD(obj, k->aux);
	char **arr = FIELD(obj, k->off);
	const yaml_node_item_t *items = list_items(x->ld, k->name, v, k->need, n);
	const struct conf_key *name = NULL;

	if (items == NULL)
		return false;
	for (size_t i = 0; i < t->n && name == NULL; i++)
		if (t->keys[i].type == CT_NAME)
			name = &t->keys[i];
	*arr = xcalloc(*n, t->size);
	for (size_t i = 0; i < *n; i++) {
		const yaml_node_t *m = list_entry(x->ld, k->name, items, i);
		struct fields f = {{NULL}, {NULL}};
		void *e = *arr + i * t->size;
		bool dup = false;
		if (m == NULL)
			continue;
		char *label = entry_label(x->ld, m, t->noun, i);
		struct conf_ctx ec = {.ld = x->ld,
				      .c = x->c,
				      .t = t,
				      .map = m,
				      .label = label,
				      .key = f.key,
				      .val = f.val};
		apply_defaults(t, e);
		if (t->init != NULL)
			t->init(&ec, e);
		load_map(&ec, e);
		free(label);
		for (size_t j = 0; j < i && name != NULL; j++) {
			const void *p = *arr + j * t->size;
			check_unique(x->ld, t->noun, *(char *const *)CFIELD(e, name->off),
				     *(const struct conf_pos *)e,
				     *(char *const *)CFIELD(p, name->off),
				     *(const struct conf_pos *)p, &dup);
		}
	}
	return true;
}

/* The value of one key, by its type; then the row's own check. False after an error. */
static bool load_value(struct conf_ctx *x, const struct conf_key *k, void *obj,
		       const yaml_node_t *v)
{
	struct loader *ld = x->ld;
	bool ok = false;

	obj = row_base(x->t, k, obj);
	if (obj == NULL)
		return false;
	void *f = FIELD(obj, k->off);
	uint64_t n;
	int e;

	if (k->parse != NULL && k->parse(x, v, f))
		return true;
	switch (k->type) {
	case CT_STR:
		ok = get_str(ld, k->name, v, k->flags & CF_NONEMPTY, f);
		break;
	case CT_NAME:
		get_name(ld, x->t->noun, v, f);
		break;
	case CT_ADDR:
		ok = get_address(ld, k->name, v, f);
		break;
	case CT_UINT:
		ok = get_uint(ld, k->name, v, k->min, k->max, f);
		break;
	case CT_COUNT:
		if ((ok = get_uint(ld, k->name, v, 0, INT64_MAX, &n)))
			*(int64_t *)f = (int64_t)n;
		break;
	case CT_SIZE:
		ok = get_size(ld, k->name, v, f);
		break;
	case CT_DURATION:
		ok = get_duration(ld, k->name, v, f);
		if (ok && (k->flags & CF_POSITIVE) && *(uint64_t *)f == 0) {
			err_node(ld, v, "'%s' of %s must be greater than 0", k->name, x->label);
			ok = false;
		}
		break;
	case CT_RATE:
		ok = get_rate(ld, k->name, v, f);
		break;
	case CT_BOOL:
		ok = get_bool(ld, k->name, v, f);
		break;
	case CT_ENUM:
		if ((ok = (e = get_enum(ld, k->name, v, k->values)) >= 0)) {
			if (k->flags & CF_BOOL_ENUM)
				*(bool *)f = e != 0;
			else
				*(int *)f = e;
		}
		break;
	case CT_ARGV:
		get_argv(ld, v, f, FIELD(obj, k->aux));
		break;
	case CT_ENV:
		load_env(ld, v, x->label, f, FIELD(obj, k->aux));
		break;
	case CT_HEADERS:
		load_headers(ld, v, x->label, f, FIELD(obj, k->aux));
		break;
	case CT_FAILURES:
		ok = get_failures(ld, v, f, FIELD(obj, k->aux));
		break;
	case CT_BLOCK:
		load_block(x, k, obj, v);
		break;
	case CT_LIST:
		load_list(x, k, obj, v);
		break;
	case CT_KIND:
		if ((ok = (e = get_enum(ld, k->name, v, k->values)) >= 0))
			*(const struct conf_kind **)f = x->t->registry[e];
		break;
	}
	if (ok && k->check != NULL)
		ok = k->check(x, v, f);
	return ok;
}

/*
 * A mapping, in dependency order whatever the order in the file: the kind first,
 * the lists (which read the top-level queue and dead_letter) last, then the rules
 * that span several keys. Errors at one position keep the order they always had:
 * the keys every entry needs, the kind's, the checks, the keys the kind needs.
 */
static void load_map(struct conf_ctx *x, void *obj)
{
	const struct conf_table *t = x->t;

	if (t->n > MAX_KEYS)
		abort(); /* struct fields is too small for this table */
	x->kind = -1;
	read_fields(x);
	for (size_t i = 0; i < t->n; i++)
		if (x->key[i] == NULL && t->keys[i].required == CONF_ALL_KINDS &&
		    t->keys[i].type != CT_LIST)
			needs(x, &t->keys[i], false);
	for (size_t i = 0; i < t->n; i++) {
		const struct conf_key *k = &t->keys[i];
		if (!(k->flags & CF_KIND))
			continue;
		/* A value that failed leaves the kind unknown: no second error for it. */
		if (x->val[i] != NULL) {
			if (load_value(x, k, obj, x->val[i]))
				x->kind = kind_of(t, obj);
		} else if (x->key[i] == NULL && k->def != NULL) {
			x->kind = kind_of(t, obj);
		}
	}
	if (t->select != NULL)
		t->select(x, obj);
	attach_opts(x, obj);
	place_by_kind(x);
	not_applicable(x);
	for (int lists = 0; lists < 2; lists++) {
		for (size_t i = 0; i < t->n; i++) {
			const struct conf_key *k = &t->keys[i];
			if (x->val[i] == NULL || (k->flags & CF_KIND) ||
			    (k->type == CT_LIST) != lists)
				continue;
			load_value(x, k, obj, x->val[i]);
		}
	}
	if (t->check != NULL)
		t->check(x, obj);
	for (size_t i = 0; i < t->n; i++) {
		const struct conf_key *k = &t->keys[i];
		void *base = row_base(t, k, obj);
		if (x->key[i] != NULL || k->required == CONF_ALL_KINDS)
			continue;
		if (x->kind >= 0 && (k->required & CONF_KIND(x->kind)))
			needs(x, k, true);
		else if (k->type == CT_STR && k->def != NULL && x->kind >= 0 &&
			 applies(k, x->kind) && base != NULL &&
			 *(char **)FIELD(base, k->off) == NULL)
			*(char **)FIELD(base, k->off) = xstrdup(k->def);
	}
	for (size_t i = 0; i < t->n; i++)
		if (x->key[i] == NULL && t->keys[i].required == CONF_ALL_KINDS &&
		    t->keys[i].type == CT_LIST)
			needs(x, &t->keys[i], false);
}

/* --- freeing, comparing, live keys ------------------------------------------------ */

static void free_pairs(struct conf_env **pairs, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		free((*pairs)[i].name);
		free((*pairs)[i].value);
	}
	free(*pairs);
	*pairs = NULL;
	*n = 0;
}

/* Pointers are cleared as they are freed: rows of two blocks may share a field (argv). */
static void free_rows(const struct conf_table *t, void *entry)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct conf_key *k = &t->keys[i];
		void *obj = row_base(t, k, entry);
		if (obj == NULL)
			continue;
		void *f = FIELD(obj, k->off);
		switch (k->type) {
		case CT_STR:
		case CT_NAME:
		case CT_ADDR:
			free(*(char **)f);
			*(char **)f = NULL;
			break;
		case CT_ARGV:
			free_argv(*(char ***)f, *(size_t *)FIELD(obj, k->aux));
			*(char ***)f = NULL;
			*(size_t *)FIELD(obj, k->aux) = 0;
			break;
		case CT_ENV:
		case CT_HEADERS:
			free_pairs(f, FIELD(obj, k->aux));
			break;
		case CT_BLOCK:
			free_rows(k->sub, f);
			break;
		case CT_LIST: {
			char *arr = *(char **)f;
			size_t *n = FIELD(obj, k->aux);
			for (size_t j = 0; arr != NULL && j < *n; j++)
				free_rows(k->sub, arr + j * k->sub->size);
			free(arr);
			*(char **)f = NULL;
			*n = 0;
			break;
		}
		default:
			break;
		}
	}
	if (t->registry != NULL) {
		free(*(void **)FIELD(entry, t->opts_off));
		*(void **)FIELD(entry, t->opts_off) = NULL;
	}
}

void conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free_rows(&conf_top_table, c);
	free(c->file);
	free(c->keypos);
	free(c);
}

static bool pairs_same(const struct conf_env *a, const struct conf_env *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!str_same(a[i].name, b[i].name) || !str_same(a[i].value, b[i].value))
			return false;
	return true;
}

static bool value_same(const struct conf_key *k, const void *a, const void *b)
{
	const void *fa = CFIELD(a, k->off), *fb = CFIELD(b, k->off);
	size_t na = k->aux ? *(const size_t *)CFIELD(a, k->aux) : 0;
	size_t nb = k->aux ? *(const size_t *)CFIELD(b, k->aux) : 0;

	switch (k->type) {
	case CT_STR:
	case CT_NAME:
	case CT_ADDR:
		return str_same(*(char *const *)fa, *(char *const *)fb);
	case CT_UINT:
	case CT_SIZE:
	case CT_DURATION:
		return *(const uint64_t *)fa == *(const uint64_t *)fb;
	case CT_COUNT:
		return *(const int64_t *)fa == *(const int64_t *)fb;
	case CT_RATE:
		return *(const double *)fa == *(const double *)fb;
	case CT_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case CT_ENUM:
		if (k->flags & CF_BOOL_ENUM)
			return *(const bool *)fa == *(const bool *)fb;
		return *(const int *)fa == *(const int *)fb;
	case CT_FAILURES:
		return *(const uint64_t *)fa == *(const uint64_t *)fb &&
		       *(const bool *)CFIELD(a, k->aux) == *(const bool *)CFIELD(b, k->aux);
	case CT_ARGV:
		if (na != nb)
			return false;
		for (size_t i = 0; i < na; i++)
			if (strcmp((*(char **const *)fa)[i], (*(char **const *)fb)[i]) != 0)
				return false;
		return true;
	case CT_ENV:
	case CT_HEADERS:
		return na == nb &&
		       pairs_same(*(struct conf_env *const *)fa, *(struct conf_env *const *)fb, na);
	case CT_KIND:
		return *(void *const *)fa == *(void *const *)fb;
	default:
		return true;
	}
}

/* The first key outside the live ones whose value differs, as "sinks[out].path". */
static bool rows_differ(const struct conf_table *t, const void *ea, const void *eb,
			const char *path, char *diff, size_t len)
{
	const void *a, *b;

	if (kind_of(t, ea) != kind_of(t, eb)) {
		snprintf(diff, len, "the kind of '%s' changed", path);
		return true;
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct conf_key *k = &t->keys[i];
		char *sub;
		bool differs = false;

		a = row_base(t, k, ea);
		b = row_base(t, k, eb);
		if ((k->flags & CF_LIVE) || a == NULL || b == NULL)
			continue;
		sub = xasprintf("%s%s%s", path, *path ? "." : "", k->name);
		if (k->type == CT_BLOCK) {
			if (k->shown != NULL && k->shown(ea) != k->shown(eb)) {
				snprintf(diff, len, "'%s' was added or removed", sub);
				differs = true;
			} else {
				differs = rows_differ(k->sub, CFIELD(a, k->off), CFIELD(b, k->off),
						      sub, diff, len);
			}
		} else if (k->type == CT_LIST) {
			size_t n = *(const size_t *)CFIELD(a, k->aux);
			const char *la = *(char *const *)CFIELD(a, k->off);
			const char *lb = *(char *const *)CFIELD(b, k->off);
			if (n != *(const size_t *)CFIELD(b, k->aux)) {
				snprintf(diff, len, "entries of '%s' were added or removed", sub);
				differs = true;
			}
			for (size_t j = 0; !differs && j < n; j++) {
				char *item = xasprintf("%s[%zu]", sub, j);
				differs = rows_differ(k->sub, la + j * k->sub->size,
						      lb + j * k->sub->size, item, diff, len);
				free(item);
			}
		} else if (!value_same(k, a, b)) {
			snprintf(diff, len, "'%s' changed", sub);
			differs = true;
		}
		free(sub);
		if (differs)
			return true;
	}
	return false;
}

bool conf_structure_differs(const struct conf *cur, const struct conf *next, char *diff, size_t len)
{
	return rows_differ(&conf_top_table, cur, next, "", diff, len);
}

static void copy_live(const struct conf_table *t, void *eto, const void *efrom)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct conf_key *k = &t->keys[i];
		void *to = row_base(t, k, eto);
		const void *from = row_base(t, k, efrom);
		if (to == NULL || from == NULL)
			continue;
		void *f = FIELD(to, k->off);
		const void *g = CFIELD(from, k->off);

		if (k->type == CT_BLOCK) {
			copy_live(k->sub, f, g);
		} else if (k->type == CT_LIST) {
			size_t n = *(size_t *)FIELD(to, k->aux);
			for (size_t j = 0; j < n && j < *(const size_t *)CFIELD(from, k->aux); j++)
				copy_live(k->sub, *(char **)f + j * k->sub->size,
					  *(char *const *)g + j * k->sub->size);
		} else if (k->flags & CF_LIVE) {
			switch (k->type) {
			case CT_UINT:
			case CT_SIZE:
			case CT_DURATION:
				*(uint64_t *)f = *(const uint64_t *)g;
				break;
			case CT_RATE:
				*(double *)f = *(const double *)g;
				break;
			case CT_ENUM:
				*(int *)f = *(const int *)g;
				break;
			case CT_FAILURES:
				*(uint64_t *)f = *(const uint64_t *)g;
				*(bool *)FIELD(to, k->aux) = *(const bool *)CFIELD(from, k->aux);
				break;
			default:
				abort(); /* a live key of a type that cannot be copied */
			}
		}
	}
}

void conf_apply_live(struct conf *cur, const struct conf *next)
{
	copy_live(&conf_top_table, cur, next);
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
		struct fields f = {{NULL}, {NULL}};
		struct conf_ctx top = {.ld = ld,
				       .c = ld->c,
				       .t = &conf_top_table,
				       .map = root,
				       .key = f.key,
				       .val = f.val};
		load_map(&top, ld->c);
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

	if (conf_source_table.keys == NULL) {
		fputs("conf_load: no kinds registered (conf_set_kinds)\n", errs);
		abort();
	}
	c = xcalloc(1, sizeof(*c));
	c->file = xstrdup(path);
	apply_defaults(&conf_top_table, c);
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

static void put_argv(FILE *out, const char *indent, const char *key, char *const *argv, size_t argc)
{
	fprintf(out, "%s%s: [", indent, key);
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

static void put_pairs(FILE *out, const char *indent, const char *key, const struct conf_env *pairs,
		      size_t n, bool redact)
{
	fprintf(out, "%s%s:\n", indent, key);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s  ", indent);
		put_scalar(out, pairs[i].name, false);
		fputs(": ", out);
		if (redact && !header_is_harmless(pairs[i].name))
			fputs("<redacted>", out);
		else
			put_str(out, pairs[i].value);
		fputc('\n', out);
	}
}

static bool rows_shown(const struct conf_table *t, const void *obj);

/* Absent values are not printed: a NULL string, an empty list, no count, no rate. */
static bool row_shown(const struct conf_table *t, const struct conf_key *k, const void *entry)
{
	const void *obj = row_base(t, k, entry);
	if (obj == NULL)
		return false;
	const void *f = CFIELD(obj, k->off);

	if (k->shown != NULL && !k->shown(entry))
		return false;
	switch (k->type) {
	case CT_STR:
	case CT_NAME:
	case CT_ADDR:
	case CT_ARGV:
		return *(void *const *)f != NULL;
	case CT_COUNT:
		return *(const int64_t *)f >= 0;
	case CT_RATE:
		return *(const double *)f > 0;
	case CT_FAILURES:
		return *(const uint64_t *)f > 0;
	case CT_ENV:
	case CT_HEADERS:
		return *(const size_t *)CFIELD(obj, k->aux) > 0;
	case CT_BLOCK:
		return rows_shown(k->sub, f);
	default:
		return true;
	}
}

static bool rows_shown(const struct conf_table *t, const void *obj)
{
	int kind = kind_of(t, obj);
	for (size_t i = 0; i < t->n; i++)
		if (applies(&t->keys[i], kind) && row_shown(t, &t->keys[i], obj))
			return true;
	return false;
}

static void print_rows(FILE *out, const struct conf_table *t, const void *obj, int depth,
		       bool entry, bool redact);

static void print_row(FILE *out, const struct conf_key *k, const void *obj, const char *pre,
		      int depth, bool redact)
{
	const void *f = CFIELD(obj, k->off);
	const size_t *n = CFIELD(obj, k->aux);
	char b[64];

	switch (k->type) {
	case CT_STR:
	case CT_NAME:
	case CT_ADDR:
		/* A secret (a password) is not shown by --check. */
		put_key_str(out, pre, k->name,
			    redact && (k->flags & CF_SECRET) ? "<redacted>" : *(char *const *)f);
		break;
	case CT_UINT:
		fprintf(out, "%s%s: %llu\n", pre, k->name,
			(unsigned long long)*(const uint64_t *)f);
		break;
	case CT_COUNT:
		fprintf(out, "%s%s: %lld\n", pre, k->name, (long long)*(const int64_t *)f);
		break;
	case CT_SIZE:
		fprintf(out, "%s%s: %s\n", pre, k->name,
			units_format_size(*(const uint64_t *)f, b, sizeof(b)));
		break;
	case CT_DURATION:
		fprintf(out, "%s%s: %s\n", pre, k->name,
			units_format_duration(*(const uint64_t *)f, b, sizeof(b)));
		break;
	case CT_RATE:
		fprintf(out, "%s%s: %s\n", pre, k->name,
			units_format_rate(*(const double *)f, b, sizeof(b)));
		break;
	case CT_BOOL:
		fprintf(out, "%s%s: %s\n", pre, k->name, *(const bool *)f ? "true" : "false");
		break;
	case CT_ENUM: {
		int v = k->flags & CF_BOOL_ENUM ? *(const bool *)f : *(const int *)f;
		size_t count = names_count(k->values);
		fprintf(out, "%s%s: %s\n", pre, k->name,
			v >= 0 && (size_t)v < count ? k->values[v] : "?");
		break;
	}
	case CT_ARGV:
		put_argv(out, pre, k->name, *(char **const *)f, *n);
		break;
	case CT_ENV:
	case CT_HEADERS:
		put_pairs(out, pre, k->name, *(struct conf_env *const *)f, *n,
			  redact && (k->flags & CF_SECRET));
		break;
	case CT_FAILURES:
		fprintf(out, "%s%s: \"%llu%s\"\n", pre, k->name,
			(unsigned long long)*(const uint64_t *)f, *(const bool *)n ? "%" : "");
		break;
	case CT_BLOCK:
		fprintf(out, "%s%s:\n", pre, k->name);
		print_rows(out, k->sub, f, depth + 1, false, redact);
		break;
	case CT_LIST:
		fprintf(out, *n > 0 ? "%s%s:\n" : "%s%s: []\n", pre, k->name);
		for (size_t i = 0; i < *n; i++)
			print_rows(out, k->sub, *(char *const *)f + i * k->sub->size, depth + 2,
				   true, redact);
		break;
	case CT_KIND: {
		const struct conf_kind *kind = *(const struct conf_kind *const *)f;
		fprintf(out, "%s%s: %s\n", pre, k->name, kind != NULL ? kind->name : "?");
		break;
	}
	}
}

/* The rows of one mapping that apply to its kind; a list entry's first row after "  - ". */
static void print_rows(FILE *out, const struct conf_table *t, const void *obj, int depth,
		       bool entry, bool redact)
{
	int kind = kind_of(t, obj);
	char indent[32];

	snprintf(indent, sizeof(indent), "%*s", depth * 2, "");
	for (size_t i = 0; i < t->n; i++) {
		const struct conf_key *k = &t->keys[i];
		if (!applies(k, kind) || !row_shown(t, k, obj))
			continue;
		print_row(out, k, row_base(t, k, obj), entry ? "  - " : indent, depth, redact);
		entry = false;
	}
}

/* What print writes, as a string. */
#define PRINT_TO_STRING(...)                                                                       \
	do {                                                                                       \
		char *buf_ = NULL;                                                                 \
		size_t len_ = 0;                                                                   \
		FILE *f_ = open_memstream(&buf_, &len_);                                           \
		__VA_ARGS__;                                                                       \
		fclose(f_);                                                                        \
		return buf_;                                                                       \
	} while (0)

char *conf_printed(const struct conf *c)
{
	PRINT_TO_STRING(print_rows(f_, &conf_top_table, c, 0, false, false));
}

char *conf_printed_source(const struct conf_source *s)
{
	PRINT_TO_STRING(print_rows(f_, &conf_source_table, s, 2, true, false));
}

char *conf_printed_sinks(const struct conf *c)
{
	PRINT_TO_STRING(for (size_t i = 0; i < c->n_sinks; i++)
			    print_rows(f_, &conf_sink_table, &c->sinks[i], 2, true, false));
}

void conf_print(const struct conf *c, FILE *out)
{
	print_rows(out, &conf_top_table, c, 0, false, true);
}
