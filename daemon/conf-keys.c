/*
 * conf-keys.c: the keys of the pipeline file that belong to no kind, one row each
 * (conf-schema.h), the rules that span several keys as small named check
 * functions, and conf_set_kinds(), which makes the source, stage and sink tables of
 * these rows and the rows every kind brings from its own file (kinds.c lists them).
 *
 * The order of the rows is the order --check prints them in. A key that means a
 * different thing for different kinds (a sink's 'timeout') has one row per
 * meaning, each in its kind's file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "conf-schema.h"
#include "log.h"
#include "tls.h"
#include "util.h"

/* --- names of enum values, in the order of conf.h's enums ------------------------ */

static const char *const when_full_names[] = {"block", "drop_newest", "drop_oldest", NULL};
const char *const conf_framing_names[] = {"lines", "nul", NULL};
const char *const conf_split_names[] = {"none", "lines", "nul", NULL};
static const char *const on_failure_names[] = {"skip", "dead_letter", "cancel", NULL};
static const char *const dead_letter_type_names[] = {"file", "stdout", NULL};
const char *const conf_http_method_names[] = {"GET",   "POST", "PUT", "DELETE",
					      "PATCH", "HEAD", NULL};
static const char *const fsync_names[] = {"never", "batch", "always", NULL};
static const char *const log_level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const log_format_names[] = {"text", "json", NULL};
static const char *const tls_version_names[] = {"1.2", "1.3", NULL};

static const char *name_of(const char *const *names, size_t n, int v)
{
	return v >= 0 && (size_t)v < n ? names[v] : "?";
}

const char *conf_kind_name(const struct conf_kind *kind)
{
	return kind != NULL ? kind->name : "?";
}

const char *conf_on_failure_name(enum on_failure f)
{
	return name_of(on_failure_names, ARRAY_LEN(on_failure_names) - 1, (int)f);
}

const char *conf_http_method_name(enum http_method m)
{
	return name_of(conf_http_method_names, ARRAY_LEN(conf_http_method_names) - 1, (int)m);
}

#define ROWS(rows)   (rows), ARRAY_LEN(rows)
#define K(k)	     CONF_KIND(k)
#define ALL	     CONF_ALL_KINDS
#define SRC(field)   offsetof(struct conf_source, field)
#define STG(field)   offsetof(struct conf_stage, field)
#define SNK(field)   offsetof(struct conf_sink, field)
#define TOP(field)   offsetof(struct conf, field)
#define QUEUE(field) offsetof(struct conf_queue, field)
#define TLS(field)   offsetof(struct conf_tls, field)

/* --- tls (one block, taken by the network endpoints' rows marked "tls") ------------ */

void conf_tls_opts(const struct conf_tls *t, struct tls_opts *o)
{
	*o = (struct tls_opts){.cert = t->cert,
			       .key = t->key,
			       .ca = t->ca,
			       .verify = t->verify,
			       .server_name = t->server_name,
			       .min_version = tls_version_names[t->min_version]};
}

int conf_tls_endpoint(struct tls_endpoint *e, const struct conf_tls *t, bool server,
		      const char *who, char *err, size_t errlen)
{
	struct tls_opts o;
	char why[512];
	conf_tls_opts(t, &o);
	if (tls_endpoint_init(e, &o, server, who, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "%s: %s", who, why);
	return -1;
}

static void tls_init(struct conf_ctx *x, void *obj)
{
	((struct conf_tls *)obj)->enabled = true;
}

/* The files are read now, so a typo or a wrong key fails the load, not the first peer. */
static void tls_check(struct conf_ctx *x, void *obj)
{
	struct conf_tls *t = obj;
	const char *files[] = {"cert", "key", "ca"};
	char *const *vals[] = {&t->cert, &t->key, &t->ca};
	const char *where = x->label ? x->label : "metrics";
	bool readable = true;

	if ((t->cert == NULL) != (t->key == NULL)) {
		const char *has = t->cert ? "cert" : "key", *lacks = t->cert ? "key" : "cert";
		conf_err(x, conf_key_of(x, has), "'tls' of %s has '%s' but no '%s'", where, has,
			 lacks);
		return;
	}
	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		FILE *f = *vals[i] ? fopen(*vals[i], "r") : NULL;
		if (*vals[i] == NULL)
			continue;
		if (f == NULL) {
			conf_err(x, conf_val_of(x, files[i]), "TLS %s '%s' of %s: %s", files[i],
				 *vals[i], where, strerror(errno));
			readable = false;
			continue;
		}
		fclose(f);
	}
	if (!readable || (t->cert == NULL && t->ca == NULL))
		return;
	struct tls_opts o;
	char err[512];
	conf_tls_opts(t, &o);
	struct tls_ctx *ctx = tls_ctx_client(&o, err, sizeof(err));
	if (ctx == NULL)
		conf_err(x, x->map, "%s (in 'tls' of %s)", err, where);
	tls_ctx_free(ctx);
}

static const struct conf_key tls_keys[] = {
    {"cert", CT_STR, CF_NONEMPTY, .off = TLS(cert), .kinds = ALL,
     .doc = "PEM certificate (chain): a server's own, a client's for client authentication."},
    {"key", CT_STR, CF_NONEMPTY, .off = TLS(key), .kinds = ALL, .doc = "PEM private key of cert."},
    {"ca", CT_STR, CF_NONEMPTY, .off = TLS(ca), .kinds = ALL,
     .doc = "PEM CA bundle: a client trusts it instead of the system's; a server with "
	    "verify asks clients for certificates signed by it."},
    {"verify", CT_BOOL, .off = TLS(verify), .def = "true", .kinds = ALL,
     .doc = "Check the peer's certificate (a client: the server's and its name)."},
    {"server_name", CT_STR, CF_NONEMPTY, .off = TLS(server_name), .kinds = ALL,
     .doc = "A client: the name checked and sent (SNI); default the host connected to."},
    {"min_version", CT_ENUM, .off = TLS(min_version), .def = "1.2", .values = tls_version_names,
     .kinds = ALL, .doc = "The lowest TLS version: 1.2 or 1.3."},
};
static const struct conf_table tls_table = {.noun = "tls",
					    ROWS(tls_keys),
					    .init = tls_init,
					    .check = tls_check,
					    .doc = "TLS on a network endpoint."};

static bool source_tls_shown(const void *obj)
{
	return ((const struct conf_source *)obj)->tls.enabled;
}

static bool stage_tls_shown(const void *obj)
{
	return ((const struct conf_stage *)obj)->tls.enabled;
}

static bool sink_tls_shown(const void *obj)
{
	return ((const struct conf_sink *)obj)->tls.enabled;
}

static bool metrics_tls_shown(const void *obj)
{
	return ((const struct conf *)obj)->metrics.tls.enabled;
}

/* The tls block of the kinds that take one (their files list these rows). */
const struct conf_key conf_source_tls_row = {
    "tls",
    CT_BLOCK,
    .off = SRC(tls),
    .sub = &tls_table,
    .shown = source_tls_shown,
    .doc = "Serve TLS (cert and key); with ca and verify, client certificates are required."};
const struct conf_key conf_stage_tls_row = {
    "tls",
    CT_BLOCK,
    .off = STG(tls),
    .sub = &tls_table,
    .shown = stage_tls_shown,
    .doc = "TLS settings of https:// requests (an https:// URL alone turns TLS on)."};
const struct conf_key conf_sink_tls_row = {
    "tls",
    CT_BLOCK,
    .off = SNK(tls),
    .sub = &tls_table,
    .shown = sink_tls_shown,
    .doc = "Connect with TLS (an https:// URL alone turns it on for an http sink)."};

void conf_tls_server_check(struct conf_ctx *x, const struct conf_tls *t, const char *where)
{
	if (t->enabled && t->cert == NULL)
		conf_err(x, conf_key_of(x, "tls") ? conf_key_of(x, "tls") : x->map,
			 "'tls' of %s needs 'cert' and 'key' (it serves TLS)", where);
}

void conf_tls_url_check(struct conf_ctx *x, struct conf_tls *t, const char *url)
{
	if (url == NULL)
		return;
	if (conf_url_is_https(url))
		t->enabled = true;
	else if (t->enabled && strncasecmp(url, "http://", 7) == 0)
		conf_err(x, conf_key_of(x, "tls"), "'tls' of %s needs an https:// URL, got '%s'",
			 x->label, url);
}

/* --- queue ------------------------------------------------------------------------ */

static const struct conf_key queue_keys[] = {
    {"capacity", CT_UINT, .off = QUEUE(capacity), .def = "1024", .min = 1, .max = 10000000,
     .kinds = ALL, .doc = "Items the queue holds."},
    {"max_bytes", CT_SIZE, .off = QUEUE(max_bytes), .def = "64MiB", .kinds = ALL,
     .doc = "Bytes of the items waiting."},
    {"when_full", CT_ENUM, .off = QUEUE(when_full), .def = "block", .values = when_full_names,
     .kinds = ALL,
     .doc = "block (backpressure), drop_newest or drop_oldest; drops are counted and logged."},
};
static const struct conf_table queue_table = {.noun = "queue", ROWS(queue_keys)};

/* --- sources ---------------------------------------------------------------------- */

static void source_init(struct conf_ctx *x, void *obj)
{
	((struct conf_source *)obj)->pos = conf_node_pos(x->map);
}

/* A kind's own rules, after the entry's common ones. */
static void kind_check(struct conf_ctx *x, void *obj)
{
	if (x->kind >= 0 && x->t->registry[x->kind]->check != NULL)
		x->t->registry[x->kind]->check(x, obj);
}

/* The rows of every source; a kind's own rows follow them (the kind files). */
static const struct conf_key source_keys[] = {
    {"name", CT_NAME, .off = SRC(name), .kinds = ALL, .required = ALL,
     .doc = "Unique among sources; in logs, metrics and the joblog."},
    {"type", CT_KIND, CF_KIND, .off = SRC(kind), .kinds = ALL, .required = ALL,
     .doc = "What the source reads."},
};
struct conf_table conf_source_table = {
    .noun = "source",
    .size = sizeof(struct conf_source),
    .kind_off = SRC(kind),
    .opts_off = SRC(opts),
    .not_apply_fmt = "'%s' does not apply to a %s source (only to %s)",
    .need_fmt = "%s (type %s) needs '%s'",
    .need_kind_fmt = "%s needs '%s' (one of %s)",
    .init = source_init,
    .check = kind_check,
    .doc = "An input; all sources feed the first stage.",
};

/* --- stages ----------------------------------------------------------------------- */

/*
 * The URL of an http stage is a template: what can be checked is what is not a
 * placeholder. A URL that starts with a placeholder ("{}") takes its scheme and
 * host from the item, so only the expansion can be checked (at run time).
 */
static bool check_url(struct conf_ctx *x, const yaml_node_t *v, const char *url, bool tmpl)
{
	char host[256];
	unsigned port;
	const char *path, *why;

	if (tmpl && url[0] == '{')
		return true;
	size_t skip = conf_url_is_https(url) ? 8 : 7;
	if (tmpl && (skip == 8 || strncasecmp(url, "http://", 7) == 0)) {
		size_t alen = strcspn(url + skip, "/?#");
		if (memchr(url + skip, '{', alen) != NULL)
			return true;
		char *prefix = xstrndup(url, skip + alen);
		int rc = conf_parse_url(prefix, host, sizeof(host), &port, &path, &why);
		free(prefix);
		if (rc == 0)
			return true;
	} else if (conf_parse_url(url, host, sizeof(host), &port, &path, &why) == 0) {
		return true;
	}
	conf_err(x, v, "'url' must be http[s]://HOST[:PORT]/PATH, got '%s': %s", url, why);
	return false;
}

bool conf_check_url_template(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	return check_url(x, v, *(char **)field, true);
}

bool conf_check_url_plain(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	return check_url(x, v, *(char **)field, false);
}

static void retry_check(struct conf_ctx *x, void *obj)
{
	const struct conf_stage *st = obj;
	if (st->retry.max_backoff < st->retry.backoff)
		conf_err(x, x->map, "'max_backoff' in %s must not be less than 'backoff'",
			 x->label);
}

static const struct conf_key retry_keys[] = {
    {"attempts", CT_UINT, CF_LIVE, .off = STG(retry.attempts), .def = "1", .min = 1, .max = 1000,
     .kinds = ALL, .doc = "Attempts in all; 1: no retry."},
    {"backoff", CT_DURATION, CF_LIVE, .off = STG(retry.backoff), .def = "100ms", .kinds = ALL,
     .doc = "Before the first retry; doubles, with jitter."},
    {"max_backoff", CT_DURATION, CF_LIVE, .off = STG(retry.max_backoff), .def = "10s", .kinds = ALL,
     .doc = "The cap of the backoff."},
};
static const struct conf_table retry_table = {
    .noun = "retry", ROWS(retry_keys), .check = retry_check, .doc = "Retries of a failed item."};

static bool check_dead_letter(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	if (*(enum on_failure *)field != ON_FAILURE_DEAD_LETTER || x->c->dead_letter.enabled)
		return true;
	conf_err(x, v, "'on_failure: dead_letter' in %s needs a top-level 'dead_letter' block",
		 x->label);
	return false;
}

static bool rate_set(const void *obj)
{
	return ((const struct conf_stage *)obj)->rate > 0;
}

/* A stage inherits the top-level queue, key by key. */
static void stage_init(struct conf_ctx *x, void *obj)
{
	struct conf_stage *st = obj;
	st->pos = conf_node_pos(x->map);
	st->queue = x->c->queue;
}

/* "'exec', 'builtin' and 'http'": the worker kinds' names, quoted. */
static char *quoted_kinds(const char *const *names, const char *last_sep)
{
	char *out = xstrdup("");
	for (size_t k = 0; names[k] != NULL; k++) {
		const char *sep = k == 0 ? "" : names[k + 1] == NULL ? last_sep : ", ";
		char *next = xasprintf("%s%s'%s'", out, sep, names[k]);
		free(out);
		out = next;
	}
	return out;
}

/* A stage has exactly one worker kind, its block; the second one written is the error. */
static void stage_select(struct conf_ctx *x, void *obj)
{
	const char *const *names = x->t->kinds;
	const yaml_node_t *first = NULL;

	for (size_t k = 0; names[k] != NULL; k++) {
		const yaml_node_t *key = conf_key_of(x, names[k]);
		if (key != NULL &&
		    (first == NULL || key->start_mark.index < first->start_mark.index)) {
			first = key;
			x->kind = (int)k;
		}
	}
	for (size_t k = 0; names[k] != NULL; k++) {
		const yaml_node_t *key = conf_key_of(x, names[k]);
		if (key == NULL || key == first)
			continue;
		char *all = quoted_kinds(names, " and ");
		conf_err(x, key, "%s has more than one of %s; a stage has exactly one", x->label,
			 all);
		free(all);
		conf_drop(x, names[k]);
	}
	if (first == NULL) {
		char *all = quoted_kinds(names, " or ");
		conf_err(x, x->map, "%s needs one of %s", x->label, all);
		free(all);
	} else {
		((struct conf_stage *)obj)->kind = x->t->registry[x->kind];
	}
}

static void stage_check(struct conf_ctx *x, void *obj)
{
	const yaml_node_t *burst = conf_key_of(x, "burst");
	struct conf_stage *st = obj;

	if (burst != NULL && conf_key_of(x, "rate") == NULL) {
		conf_err(x, burst, "'burst' in %s needs 'rate'", x->label);
		st->burst = 4;
	}
	kind_check(x, obj);
}

static const struct conf_key stage_keys[] = {
    {"name", CT_NAME, .off = STG(name), .kinds = ALL, .required = ALL,
     .doc = "Unique among stages."},
    {"workers", CT_UINT, CF_LIVE, .off = STG(workers), .def = "1", .min = 1, .max = WORKERS_MAX,
     .kinds = ALL, .doc = "At most this many items in flight in the stage."},
    {"queue", CT_BLOCK, .off = STG(queue), .kinds = ALL, .sub = &queue_table,
     .doc = "The stage's input queue; defaults from the top-level queue."},
    /* STAGE_KINDS_AT: here the worker kinds' blocks (exec:, builtin: ...) */
    {"timeout", CT_DURATION, CF_LIVE, .off = STG(timeout), .def = "0s", .kinds = ALL,
     .doc = "Per item; 0s: none."},
    {"on_failure", CT_ENUM, CF_LIVE, .off = STG(on_failure), .def = "skip",
     .values = on_failure_names, .kinds = ALL, .check = check_dead_letter,
     .doc = "skip, dead_letter or cancel, once the attempts are spent."},
    {"retry", CT_BLOCK, .kinds = ALL, .sub = &retry_table, .doc = "Retries of a failed item."},
    {"max_failures", CT_FAILURES, CF_LIVE, .off = STG(max_failures), .aux = STG(max_failures_pct),
     .kinds = ALL, .doc = "A failure budget: a count like 10 or a percent like 5%."},
    {"ordered", CT_BOOL, .off = STG(ordered), .def = "false", .kinds = ALL,
     .doc = "Results leave the stage in input order."},
    {"rate", CT_RATE, CF_LIVE, .off = STG(rate), .kinds = ALL,
     .doc = "Item starts per time, like 50/s (default: unlimited)."},
    {"burst", CT_UINT, CF_LIVE, .off = STG(burst), .def = "4", .min = 1, .max = 1000000,
     .kinds = ALL, .shown = rate_set, .doc = "With rate: starts that idle time may bank."},
    {"shield", CT_BOOL, .off = STG(shield), .def = "false", .kinds = ALL,
     .doc = "On cancel, items already running here finish."},
};
#define STAGE_KINDS_AT 3
struct conf_table conf_stage_table = {
    .noun = "stage",
    .size = sizeof(struct conf_stage),
    .kind_off = STG(kind),
    .opts_off = STG(opts),
    .init = stage_init,
    .select = stage_select,
    .check = stage_check,
    .doc = "A step; each stage's results feed the next.",
};

/* --- sinks ------------------------------------------------------------------------ */

static void sink_init(struct conf_ctx *x, void *obj)
{
	((struct conf_sink *)obj)->pos = conf_node_pos(x->map);
}

static void sink_check(struct conf_ctx *x, void *obj)
{
	struct conf_sink *s = obj;
	const yaml_node_t *k = conf_key_of(x, "max_backoff");
	if (s->max_backoff < s->backoff)
		conf_err(x, k ? k : x->map, "'max_backoff' of %s must not be less than 'backoff'",
			 x->label);
	kind_check(x, obj);
}

static const struct conf_key sink_keys[] = {
    {"name", CT_NAME, .off = SNK(name), .kinds = ALL, .required = ALL,
     .doc = "Unique among sinks."},
    {"type", CT_KIND, CF_KIND, .off = SNK(kind), .kinds = ALL, .required = ALL,
     .doc = "Where the results go."},
};
struct conf_table conf_sink_table = {
    .noun = "sink",
    .size = sizeof(struct conf_sink),
    .kind_off = SNK(kind),
    .opts_off = SNK(opts),
    .not_apply_fmt = "'%s' does not apply to a %s sink (only to %s)",
    .need_fmt = "%s (type %s) needs '%s'",
    .need_kind_fmt = "%s needs '%s' (one of %s)",
    .init = sink_init,
    .check = sink_check,
    .doc = "An output; every result goes to every sink.",
};

/* --- top level -------------------------------------------------------------------- */

static const struct conf_key shutdown_keys[] = {
    {"grace", CT_DURATION, CF_LIVE, .off = TOP(shutdown.grace), .def = "30s", .kinds = ALL,
     .doc = "After SIGTERM or SIGINT, drain this long, then cancel."},
    {"kill_after", CT_DURATION, CF_LIVE, .off = TOP(shutdown.kill_after), .def = "5s", .kinds = ALL,
     .doc = "Children get SIGTERM, then SIGKILL after this."},
    {"spool", CT_STR, CF_NONEMPTY, .off = TOP(shutdown.spool), .kinds = ALL,
     .doc = "Where unfinished items go on cancel (default $STATE_DIRECTORY/NAME.spool)."},
};
static const struct conf_table shutdown_table = {
    .noun = "shutdown", ROWS(shutdown_keys), .doc = "How the pipeline stops."};

/* Present, even if empty: the journal is on. */
static void journal_init(struct conf_ctx *x, void *obj)
{
	(void)x;
	((struct conf *)obj)->journal.enabled = true;
}

static bool journal_enabled(const void *obj)
{
	return ((const struct conf *)obj)->journal.enabled;
}

static const struct conf_key journal_keys[] = {
    {"max_bytes", CT_SIZE, .off = TOP(journal.max_bytes), .def = "1GiB", .kinds = ALL,
     .doc = "At this size the sources pause until items are done (backpressure, never a drop)."},
    {"fsync", CT_ENUM, .off = TOP(journal.fsync), .def = "never", .values = fsync_names,
     .kinds = ALL,
     .doc = "never (a kill loses nothing), batch (one fdatasync per 10ms window) or always "
	    "(after every write); batch and always hold answers until synced."},
};
static const struct conf_table journal_table = {
    .noun = "journal",
    ROWS(journal_keys),
    .init = journal_init,
    .doc = "A write-ahead journal in state_dir/journal/ of the items of sources that cannot "
	   "replay."};

static bool check_metrics_listen(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	char err[512];
	if (addr_check_metrics_listen(*(char **)field, err, sizeof(err)) == 0)
		return true;
	conf_err(x, v, "%s", err);
	return false;
}

static bool check_control_socket(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	char err[512];
	if (addr_check_control_socket(*(char **)field, err, sizeof(err)) == 0)
		return true;
	conf_err(x, v, "%s", err);
	return false;
}

static const struct conf_key metrics_keys[] = {
    {"listen", CT_STR, CF_NONEMPTY, .off = TOP(metrics.listen), .kinds = ALL, .required = ALL,
     .check = check_metrics_listen,
     .doc = "HOST:PORT to serve /metrics, /health/live, /health/ready and /status on."},
    {"tls", CT_BLOCK, .off = TOP(metrics.tls), .kinds = ALL, .sub = &tls_table,
     .shown = metrics_tls_shown, .doc = "Serve https (cert and key)."},
};

static void metrics_check(struct conf_ctx *x, void *obj)
{
	conf_tls_server_check(x, &((struct conf *)obj)->metrics.tls, "metrics");
}

static const struct conf_table metrics_table = {.noun = "metrics",
						ROWS(metrics_keys),
						.check = metrics_check,
						.doc = "The HTTP endpoint (none by default)."};

static const struct conf_key control_keys[] = {
    {"socket", CT_STR, CF_NONEMPTY, .off = TOP(control.socket), .kinds = ALL, .required = ALL,
     .check = check_control_socket, .doc = "The path of the control socket for sluicectl."},
};
static const struct conf_table control_table = {
    .noun = "control", ROWS(control_keys), .doc = "The control socket (none by default)."};

/* Present, even if broken: stages that use it should not hear it is missing. */
static void dead_letter_init(struct conf_ctx *x, void *obj)
{
	struct conf *c = obj;
	c->dead_letter.enabled = true;
	c->dead_letter.pos = conf_node_pos(x->map);
}

static bool dead_letter_enabled(const void *obj)
{
	return ((const struct conf *)obj)->dead_letter.enabled;
}

static const struct conf_key dead_letter_keys[] = {
    {"type", CT_ENUM, CF_KIND, .off = TOP(dead_letter.type), .def = "file",
     .values = dead_letter_type_names, .kinds = ALL, .doc = "file or stdout."},
    {"path", CT_STR, CF_NONEMPTY, .off = TOP(dead_letter.path), .kinds = K(DEAD_LETTER_FILE),
     .required = K(DEAD_LETTER_FILE), .doc = "file: the JSON lines file."},
};
static const struct conf_table dead_letter_table = {
    .noun = "dead_letter",
    ROWS(dead_letter_keys),
    .kinds = dead_letter_type_names,
    .kind_off = TOP(dead_letter.type),
    .not_apply_fmt = "'%s' does not apply to a %s dead_letter (only to %s)",
    .need_fmt = "%s (type %s) needs '%s'",
    .init = dead_letter_init,
    .doc = "Failed items, one JSON object per line.",
};

/* log.c's parsers are the authority (they also take "WARNING"); the table words the error. */
static bool parse_log_level(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	if (v->type != YAML_SCALAR_NODE ||
	    log_level_parse((const char *)v->data.scalar.value, field) < 0)
		return false;
	x->c->log.level_set = true;
	return true;
}

static bool parse_log_format(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	if (v->type != YAML_SCALAR_NODE ||
	    log_format_parse((const char *)v->data.scalar.value, field) < 0)
		return false;
	x->c->log.format_set = true;
	return true;
}

static const struct conf_key log_keys[] = {
    {"level", CT_ENUM, CF_LIVE, .off = TOP(log.level), .def = "info", .values = log_level_names,
     .kinds = ALL, .parse = parse_log_level, .doc = "error, warn, info or debug."},
    {"format", CT_ENUM, CF_LIVE, .off = TOP(log.format), .def = "text", .values = log_format_names,
     .kinds = ALL, .parse = parse_log_format, .doc = "text or json."},
};
static const struct conf_table log_table = {
    .noun = "log", ROWS(log_keys), .doc = "The daemon's log; the command line overrides it."};

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

/* The journal lives in state_dir and keeps what a spool would: the spool is redundant. */
static void check_journal(struct conf_ctx *x, struct conf *c)
{
	if (c->state_dir == NULL)
		conf_err(x, conf_key_of(x, "journal"),
			 "'journal' needs a top-level 'state_dir': the journal lives in "
			 "STATE_DIR/journal/");
	struct conf_pos spool = conf_pos_of(c, &c->shutdown.spool, (struct conf_pos){0, 0});
	if (c->shutdown.spool != NULL && spool.line > 0)
		conf_err_at(x, spool,
			    "'shutdown.spool' is redundant with a 'journal': unfinished items are "
			    "already journaled and replayed at the next start; remove it");
}

/* The pipeline's name, from the file name when not given; then the default spool. */
static void top_check(struct conf_ctx *x, void *obj)
{
	struct conf *c = obj;
	char why[96];
	bool name_ok = true;

	if (conf_key_of(x, "name") != NULL) {
		name_ok =
		    c->name != NULL && conf_valid_name(c->name) && strlen(c->name) <= CONF_NAME_MAX;
	} else {
		c->name = default_name(c->file);
		if (!conf_valid_name(c->name)) {
			conf_err(x, x->map,
				 "the pipeline name '%s', taken from the file name, %s; set 'name'",
				 c->name, conf_name_rule);
			name_ok = false;
		} else if (conf_name_too_long(c->name, why, sizeof(why))) {
			conf_err(x, x->map,
				 "the pipeline name '%.32s...', taken from the file name, %s; set "
				 "'name'",
				 c->name, why);
			name_ok = false;
		}
	}
	if (c->journal.enabled)
		check_journal(x, c);
	else if (name_ok && c->name != NULL)
		default_spool(c);
}

static const struct conf_key top_keys[] = {
    {"name", CT_NAME, .off = TOP(name), .kinds = ALL,
     .doc = "The pipeline's name, in logs, metrics and status (default: the file's base "
	    "name)."},
    {"queue", CT_BLOCK, .off = TOP(queue), .kinds = ALL, .sub = &queue_table,
     .doc = "The default for every stage's queue."},
    {"memory_limit", CT_SIZE, .off = TOP(memory_limit), .def = "512MiB", .kinds = ALL,
     .doc = "One budget for every live item byte; reaching it pauses the sources."},
    {"max_item_bytes", CT_SIZE, .off = TOP(max_item_bytes), .def = "1MiB", .kinds = ALL,
     .doc = "A longer record is rejected at its source; a command's output is capped at it."},
    {"shutdown", CT_BLOCK, .kinds = ALL, .sub = &shutdown_table, .doc = "How the pipeline stops."},
    {"deadline", CT_DURATION, .off = TOP(deadline), .def = "0s", .kinds = ALL,
     .doc = "The whole job must finish within this time, else it is cancelled; 0s: none."},
    {"joblog", CT_STR, CF_NONEMPTY, .off = TOP(joblog), .kinds = ALL,
     .doc = "A file with one line per finished item (sluiced --resume reads it)."},
    {"state_dir", CT_STR, CF_NONEMPTY, .off = TOP(state_dir), .kinds = ALL,
     .doc = "Where sluice keeps what must survive a crash (file checkpoints, the journal); "
	    "created if missing."},
    {"journal", CT_BLOCK, .kinds = ALL, .sub = &journal_table, .shown = journal_enabled,
     .doc = "Journal the items of sources that cannot replay (tcp, unix, http, stdin, exec, "
	    "generate), so a kill loses none."},
    {"metrics", CT_BLOCK, .kinds = ALL, .sub = &metrics_table,
     .doc = "The HTTP endpoint for metrics, health and status."},
    {"control", CT_BLOCK, .kinds = ALL, .sub = &control_table,
     .doc = "The control socket for sluicectl."},
    {"sources", CT_LIST, .off = TOP(sources), .aux = TOP(n_sources), .kinds = ALL, .required = ALL,
     .sub = &conf_source_table, .need = "at least one source", .doc = "The inputs, at least one."},
    {"stages", CT_LIST, .off = TOP(stages), .aux = TOP(n_stages), .kinds = ALL,
     .sub = &conf_stage_table, .doc = "The steps, possibly none."},
    {"sinks", CT_LIST, .off = TOP(sinks), .aux = TOP(n_sinks), .kinds = ALL, .required = ALL,
     .sub = &conf_sink_table, .need = "at least one sink", .doc = "The outputs, at least one."},
    {"dead_letter", CT_BLOCK, .kinds = ALL, .sub = &dead_letter_table, .shown = dead_letter_enabled,
     .doc = "Where failed items are written."},
    {"log", CT_BLOCK, .kinds = ALL, .sub = &log_table, .doc = "The daemon's log."},
};
const struct conf_table conf_top_table = {
    .noun = "pipeline",
    ROWS(top_keys),
    .size = sizeof(struct conf),
    .check = top_check,
    .doc = "A sluice pipeline (sluice.yaml(5)).",
};

/* --- the kinds' rows, from the registry -------------------------------------------- */

#define KINDS_MAX 32 /* the bits of conf_key.kinds */
#define ROWS_MAX  64 /* the loader's fields of a mapping (conf.c MAX_KEYS) */

struct composed {
	struct conf_key rows[ROWS_MAX];
	const struct conf_key *from[ROWS_MAX]; /* the kind's row each came from */
	const char *names[KINDS_MAX + 1];
	size_t n;
};

static struct composed sources_made, stages_made, sinks_made;

static void compose_abort(const char *what, const char *name)
{
	fprintf(stderr, "conf_set_kinds: %s '%s'\n", what, name);
	abort();
}

/*
 * One kind's rows into the merged list: a row another kind has already (the same
 * row, shared by pointer) gains this kind; a new one goes before the next of this
 * kind's rows that is there already, so every kind's rows keep its order.
 */
static void merge_kind(struct composed *m, size_t first, const struct conf_kind *kind, unsigned bit)
{
	for (size_t r = 0; r < kind->n; r++) {
		const struct conf_key *row = kind->rows[r];
		unsigned in_opts = kind->opts_size > 0 && !(row->flags & CF_ENTRY) ? CF_OPTS : 0u;
		size_t at = m->n, i;

		for (i = first; i < m->n && m->from[i] != row; i++)
			;
		if (i < m->n) {
			if ((m->rows[i].flags & CF_OPTS) != in_opts)
				compose_abort("a row shared by kinds with and without opts",
					      row->name);
			m->rows[i].kinds |= bit;
			if (row->required)
				m->rows[i].required |= bit;
			continue;
		}
		/* The first of its later rows that is merged already (rows are unique). */
		for (size_t later = r + 1; later < kind->n && at == m->n; later++)
			for (i = first; i < m->n; i++)
				if (m->from[i] == kind->rows[later])
					at = i;
		if (m->n == ROWS_MAX)
			compose_abort("too many rows, at", row->name);
		memmove(&m->rows[at + 1], &m->rows[at], (m->n - at) * sizeof(m->rows[0]));
		memmove(&m->from[at + 1], &m->from[at], (m->n - at) * sizeof(m->from[0]));
		m->rows[at] = *row;
		m->rows[at].kinds = bit;
		m->rows[at].required = row->required ? bit : 0;
		m->rows[at].flags |= in_opts;
		m->from[at] = row;
		m->n++;
	}
}

/* The common rows, with every kind's rows at `at` among them. */
static void compose(struct conf_table *t, struct composed *m, const struct conf_key *common,
		    size_t n_common, size_t at, const struct conf_kind *const *kinds, size_t n)
{
	if (n > KINDS_MAX)
		compose_abort("too many kinds of", t->noun);
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < at; i++)
		m->rows[m->n++] = common[i];
	for (size_t k = 0; k < n; k++) {
		if (conf_kind_named(kinds, k, kinds[k]->name) != NULL)
			compose_abort("two kinds named", kinds[k]->name);
		m->names[k] = kinds[k]->name;
		merge_kind(m, at, kinds[k], CONF_KIND(k));
	}
	if (m->n + n_common - at > ROWS_MAX)
		compose_abort("too many rows in", t->noun);
	for (size_t i = at; i < n_common; i++)
		m->rows[m->n++] = common[i];
	for (size_t i = 0; i < m->n; i++)
		if (m->rows[i].type == CT_KIND)
			m->rows[i].values = m->names;
	t->keys = m->rows;
	t->n = m->n;
	t->kinds = m->names;
	t->registry = kinds;
}

void conf_set_kinds(const struct conf_kinds *kinds)
{
	compose(&conf_source_table, &sources_made, source_keys, ARRAY_LEN(source_keys),
		ARRAY_LEN(source_keys), kinds->sources, kinds->n_sources);
	compose(&conf_stage_table, &stages_made, stage_keys, ARRAY_LEN(stage_keys), STAGE_KINDS_AT,
		kinds->workers, kinds->n_workers);
	compose(&conf_sink_table, &sinks_made, sink_keys, ARRAY_LEN(sink_keys),
		ARRAY_LEN(sink_keys), kinds->sinks, kinds->n_sinks);
}

const struct conf_kind *conf_kind_named(const struct conf_kind *const *list, size_t n,
					const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i]->name, name) == 0)
			return list[i];
	return NULL;
}
