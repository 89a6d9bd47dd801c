/*
 * conf-keys.c: every key of the pipeline file, one row each (conf-schema.h), and
 * the rules that span several keys as small named check functions.
 *
 * The order of the rows is the order --check prints them in. A key that means a
 * different thing for different kinds (a sink's 'timeout') has one row per
 * meaning, each with its kinds.
 */
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "conf-schema.h"
#include "log.h"
#include "util.h"

/* --- names of enum values, in the order of conf.h's enums ------------------------ */

static const char *const when_full_names[] = {"block", "drop_newest", "drop_oldest", NULL};
static const char *const framing_names[] = {"lines", "nul", NULL};
static const char *const source_type_names[] = {"file", "stdin", "exec", "generate",	 "tcp",
						"unix", "http",	 "dir",	 "redis-stream", NULL};
static const char *const split_names[] = {"none", "lines", "nul", NULL};
static const char *const stage_kind_names[] = {"exec", "builtin", "coprocess", "http", NULL};
static const char *const exec_stdin_names[] = {"none", "item", NULL};
static const char *const exec_stdout_names[] = {"result", "lines", "discard", "item", NULL};
static const char *const coproc_framing_names[] = {"lines", "length", "json", NULL};
static const char *const builtin_op_names[] = {"passthrough", "grep", NULL};
static const char *const on_failure_names[] = {"skip", "dead_letter", "cancel", NULL};
static const char *const sink_type_names[] = {"file", "stdout", "discard",	"tcp", "unix",
					      "exec", "http",	"redis-stream", NULL};
static const char *const dead_letter_type_names[] = {"file", "stdout", NULL};
static const char *const http_method_names[] = {"GET",	 "POST", "PUT", "DELETE",
						"PATCH", "HEAD", NULL};
static const char *const file_mode_names[] = {"append", "truncate", NULL};
static const char *const fsync_names[] = {"never", "batch", "always", NULL};
static const char *const log_level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const log_format_names[] = {"text", "json", NULL};
static const char *const start_at_names[] = {"beginning", "end", NULL};

static const char *name_of(const char *const *names, size_t n, int v)
{
	return v >= 0 && (size_t)v < n ? names[v] : "?";
}

const char *conf_source_type_name(enum source_type t)
{
	return name_of(source_type_names, ARRAY_LEN(source_type_names) - 1, (int)t);
}

const char *conf_sink_type_name(enum sink_type t)
{
	return name_of(sink_type_names, ARRAY_LEN(sink_type_names) - 1, (int)t);
}

const char *conf_on_failure_name(enum on_failure f)
{
	return name_of(on_failure_names, ARRAY_LEN(on_failure_names) - 1, (int)f);
}

const char *conf_http_method_name(enum http_method m)
{
	return name_of(http_method_names, ARRAY_LEN(http_method_names) - 1, (int)m);
}

#define ROWS(rows)   (rows), ARRAY_LEN(rows)
#define K(k)	     CONF_KIND(k)
#define ALL	     CONF_ALL_KINDS
#define USEC(s)	     ((uint64_t)(s)*UINT64_C(1000000))
#define SRC(field)   offsetof(struct conf_source, field)
#define STG(field)   offsetof(struct conf_stage, field)
#define SNK(field)   offsetof(struct conf_sink, field)
#define TOP(field)   offsetof(struct conf, field)
#define HTTP(field)  offsetof(struct conf_http, field)
#define QUEUE(field) offsetof(struct conf_queue, field)

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

static bool same_dir(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && strncmp(a, b, la) == 0;
}

static void source_init(struct conf_ctx *x, void *obj)
{
	((struct conf_source *)obj)->pos = conf_node_pos(x->map);
}

static bool check_http_path(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	const char *path = *(char **)field;
	if (x->kind != SOURCE_HTTP || path[0] == '/')
		return true;
	conf_err(x, v, "'path' of an http source is a URL path and must start with '/', got '%s'",
		 path);
	return false;
}

/* A dir source: where finished files go, never back into the spool directory. */
static void check_dir_source(struct conf_ctx *x, struct conf_source *s)
{
	const yaml_node_t *done = conf_key_of(x, "done_dir"),
			  *failed = conf_key_of(x, "failed_dir");

	if (done != NULL && s->delete_done) {
		conf_err(
		    x, done,
		    "'done_dir' does not apply with 'delete: true' (finished files are removed)");
		free(s->done_dir);
		s->done_dir = NULL;
	}
	if (s->path == NULL)
		return;
	if (s->done_dir == NULL && !s->delete_done && done == NULL)
		s->done_dir = xasprintf("%s/done", s->path);
	if (s->failed_dir == NULL && failed == NULL)
		s->failed_dir = xasprintf("%s/failed", s->path);
	/* Finished files moved into the directory itself would be taken again. */
	if (s->done_dir != NULL && same_dir(s->done_dir, s->path))
		conf_err(x, done ? done : x->map,
			 "'done_dir' of %s must not be the spool directory itself", x->label);
	if (s->failed_dir != NULL && same_dir(s->failed_dir, s->path))
		conf_err(x, failed ? failed : x->map,
			 "'failed_dir' of %s must not be the spool directory itself", x->label);
}

static void source_check(struct conf_ctx *x, void *obj)
{
	struct conf_source *s = obj;

	if (x->kind == SOURCE_HTTP && s->path == NULL && conf_key_of(x, "path") == NULL)
		s->path = xstrdup("/");
	if (x->kind == SOURCE_DIR)
		check_dir_source(x, s);
	if (s->redis.username != NULL && s->redis.password == NULL)
		conf_err(x, conf_key_of(x, "username"), "'username' of %s needs 'password'",
			 x->label);
}

/*
 * --- the redis-stream kinds (issue 12) ---
 * Their rows stay together here until the kinds' option structs (the registry) take
 * them over: one macro per kind, spliced into the source and sink tables.
 */
#define RSRC(field) SRC(redis.field)
#define RSNK(field) SNK(redis.field)

/* A Redis address: HOST:PORT, [V6]:PORT, or an absolute path for a unix socket. */
static bool check_redis_address(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	const char *a = *(char **)field, *why;
	char host[256];
	unsigned port;

	if (a[0] == '/' || conf_parse_hostport(a, host, sizeof(host), &port, &why) == 0)
		return true;
	conf_err(x, v,
		 "'address' must be HOST:PORT, [V6]:PORT or an absolute socket path, got '%s'", a);
	return false;
}

static const struct conf_key source_keys[] = {
    {"name", CT_NAME, .off = SRC(name), .kinds = ALL, .required = ALL,
     .doc = "Unique among sources; in logs, metrics and the joblog."},
    {"type", CT_ENUM, CF_KIND, .off = SRC(type), .values = source_type_names, .kinds = ALL,
     .required = ALL, .doc = "What the source reads."},
    {"listen", CT_ADDR, .off = SRC(listen), .kinds = K(SOURCE_TCP) | K(SOURCE_HTTP),
     .required = K(SOURCE_TCP) | K(SOURCE_HTTP), .doc = "HOST:PORT or [V6]:PORT to listen on."},
    {"path", CT_STR, CF_NONEMPTY, .off = SRC(path),
     .kinds = K(SOURCE_FILE) | K(SOURCE_UNIX) | K(SOURCE_HTTP) | K(SOURCE_DIR),
     .required = K(SOURCE_FILE) | K(SOURCE_UNIX) | K(SOURCE_DIR), .check = check_http_path,
     .doc = "file: the file; unix: the socket; dir: the spool directory; http: the URL path "
	    "(default /)."},
    {"follow", CT_BOOL, .off = SRC(follow), .def = "false", .kinds = K(SOURCE_FILE),
     .doc = "Keep reading as the file grows, surviving truncation and rotation."},
    {"count", CT_COUNT, .off = SRC(count), .kinds = K(SOURCE_GENERATE),
     .doc = "How many items to generate (default: endless)."},
    {"interval", CT_DURATION, .off = SRC(interval), .def = "0s", .kinds = K(SOURCE_GENERATE),
     .doc = "Time between items; 0s: as fast as the queue takes them."},
    {"template", CT_STR, .off = SRC(template), .def = "{seq}", .kinds = K(SOURCE_GENERATE),
     .doc = "Each item, with {seq} replaced."},
    {"argv", CT_ARGV, .off = SRC(argv), .aux = SRC(argc), .kinds = K(SOURCE_EXEC),
     .required = K(SOURCE_EXEC), .doc = "The command whose standard output is read."},
    {"max_connections", CT_UINT, .off = SRC(max_connections), .def = "64", .min = 1, .max = 100000,
     .kinds = K(SOURCE_TCP) | K(SOURCE_UNIX),
     .doc = "More connections are closed at once, with a log line."},
    {"idle_timeout", CT_DURATION, .off = SRC(idle_timeout), .def = "0s",
     .kinds = K(SOURCE_TCP) | K(SOURCE_UNIX), .doc = "Close a silent connection; 0s: never."},
    {"split", CT_ENUM, .off = SRC(split), .def = "none", .values = split_names,
     .kinds = K(SOURCE_HTTP) | K(SOURCE_DIR),
     .doc = "none: a body or file is one item; lines or nul: one item per record."},
    {"ack", CT_BOOL, .off = SRC(ack), .def = "false",
     .kinds = K(SOURCE_TCP) | K(SOURCE_UNIX) | K(SOURCE_HTTP),
     .doc = "Answer once the items are done end to end."},
    {"done_dir", CT_STR, CF_NONEMPTY, .off = SRC(done_dir), .kinds = K(SOURCE_DIR),
     .doc = "Where finished files go (default PATH/done)."},
    {"failed_dir", CT_STR, CF_NONEMPTY, .off = SRC(failed_dir), .kinds = K(SOURCE_DIR),
     .doc = "Where files with failed items go (default PATH/failed)."},
    {"delete", CT_BOOL, .off = SRC(delete_done), .def = "false", .kinds = K(SOURCE_DIR),
     .doc = "Remove finished files instead of moving them."},
    {"queue_timeout", CT_DURATION, .off = SRC(queue_timeout), .def = "5s", .kinds = K(SOURCE_HTTP),
     .doc = "How long a request waits for queue space (then 503)."},
    {"max_body", CT_SIZE, .off = SRC(max_body), .def = "16MiB", .kinds = K(SOURCE_HTTP),
     .doc = "A larger request body gets 413."},
    {"max_connections", CT_UINT, .off = SRC(max_connections), .def = "64", .min = 1, .max = 100000,
     .kinds = K(SOURCE_HTTP), .doc = "At the cap no connection is accepted until one closes."},
    {"framing", CT_ENUM, .off = SRC(framing), .def = "lines", .values = framing_names,
     .kinds = K(SOURCE_FILE) | K(SOURCE_STDIN) | K(SOURCE_EXEC) | K(SOURCE_TCP) | K(SOURCE_UNIX),
     .doc = "lines: an item per line; nul: items end at NUL bytes."},
    /* redis-stream (issue 12): together, until its kind file holds them */
    {"address", CT_STR, CF_NONEMPTY, .off = RSRC(address), .kinds = K(SOURCE_REDIS_STREAM),
     .required = K(SOURCE_REDIS_STREAM), .check = check_redis_address,
     .doc = "The Redis server: HOST:PORT or an absolute unix socket path."},
    {"stream", CT_STR, CF_NONEMPTY, .off = RSRC(stream), .kinds = K(SOURCE_REDIS_STREAM),
     .required = K(SOURCE_REDIS_STREAM), .doc = "The stream's key."},
    {"group", CT_STR, CF_NONEMPTY, .off = RSRC(group), .kinds = K(SOURCE_REDIS_STREAM),
     .required = K(SOURCE_REDIS_STREAM),
     .doc = "The consumer group, created when missing; the daemons of a group share its "
	    "entries."},
    {"consumer", CT_STR, CF_NONEMPTY, .off = RSRC(consumer), .kinds = K(SOURCE_REDIS_STREAM),
     .doc = "This daemon's name in the group (default: host name, '-', pipeline name)."},
    {"field", CT_STR, CF_NONEMPTY, .off = RSRC(field), .def = "item",
     .kinds = K(SOURCE_REDIS_STREAM), .doc = "The entry field that holds the item."},
    {"batch", CT_UINT, .off = RSRC(batch), .def = "100", .min = 1, .max = 100000,
     .kinds = K(SOURCE_REDIS_STREAM), .doc = "Entries per read (XREADGROUP COUNT) at most."},
    {"block", CT_DURATION, CF_POSITIVE, .off = RSRC(block), .def = "1s",
     .kinds = K(SOURCE_REDIS_STREAM), .doc = "How long a read waits for new entries."},
    {"claim_idle", CT_DURATION, .off = RSRC(claim_idle), .def = "60s",
     .kinds = K(SOURCE_REDIS_STREAM),
     .doc = "Entries idle this long in the group are taken over (XAUTOCLAIM); 0s: never."},
    {"max_deliveries", CT_UINT, .off = RSRC(max_deliveries), .def = "5", .min = 0, .max = 1000000,
     .kinds = K(SOURCE_REDIS_STREAM),
     .doc = "An entry delivered more often goes to the dead letter; 0: no limit."},
    {"start_at", CT_ENUM, CF_BOOL_ENUM, .off = RSRC(start_at_end), .def = "beginning",
     .values = start_at_names, .kinds = K(SOURCE_REDIS_STREAM),
     .doc = "Where a group created now starts: beginning (every entry) or end (new ones)."},
    {"username", CT_STR, CF_NONEMPTY, .off = RSRC(username), .kinds = K(SOURCE_REDIS_STREAM),
     .doc = "The ACL user to AUTH as (with password)."},
    {"password", CT_STR, CF_SECRET, .off = RSRC(password), .kinds = K(SOURCE_REDIS_STREAM),
     .doc = "AUTH with this password."},
};
const struct conf_table conf_source_table = {
    .noun = "source",
    ROWS(source_keys),
    .size = sizeof(struct conf_source),
    .kinds = source_type_names,
    .kind_off = SRC(type),
    .not_apply_fmt = "'%s' does not apply to a %s source (only to %s)",
    .need_fmt = "%s (type %s) needs '%s'",
    .need_kind_fmt = "%s needs '%s' (one of %s)",
    .init = source_init,
    .check = source_check,
    .doc = "An input; all sources feed the first stage.",
};

/* --- stages ----------------------------------------------------------------------- */

static const struct conf_key exec_keys[] = {
    {"argv", CT_ARGV, .off = STG(argv), .aux = STG(argc), .kinds = ALL, .required = ALL,
     .doc = "The command, with placeholders; never run through a shell."},
    {"stdin", CT_ENUM, .off = STG(stdin_mode), .def = "none", .values = exec_stdin_names,
     .kinds = ALL, .doc = "none, or item: the item and a newline on standard input."},
    {"stdout", CT_ENUM, .off = STG(stdout_mode), .def = "result", .values = exec_stdout_names,
     .kinds = ALL, .doc = "result, lines (an item per line), discard, or item (passed on)."},
    {"env", CT_ENV, .off = STG(env), .aux = STG(n_env), .kinds = ALL,
     .doc = "Added to the daemon's environment."},
    {"cwd", CT_STR, CF_NONEMPTY, .off = STG(cwd), .kinds = ALL, .doc = "The working directory."},
};
static const struct conf_table exec_table = {
    .noun = "exec", ROWS(exec_keys), .doc = "One process per item, in its own process group."};

static const struct conf_key coproc_keys[] = {
    {"argv", CT_ARGV, .off = STG(argv), .aux = STG(argc), .kinds = ALL, .required = ALL,
     .doc = "The command of the long-lived process."},
    {"framing", CT_ENUM, .off = STG(coproc_framing), .def = "lines", .values = coproc_framing_names,
     .kinds = ALL, .doc = "lines, length (binary items) or json (answers carry the item's id)."},
    {"env", CT_ENV, .off = STG(env), .aux = STG(n_env), .kinds = ALL,
     .doc = "Added to the daemon's environment."},
    {"cwd", CT_STR, CF_NONEMPTY, .off = STG(cwd), .kinds = ALL, .doc = "The working directory."},
};
static const struct conf_table coproc_table = {
    .noun = "coprocess",
    ROWS(coproc_keys),
    .doc = "One long-lived process per worker, fed one item at a time."};

static bool check_regex(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	regex_t re;
	int rc = regcomp(&re, *(char **)field, REG_EXTENDED | REG_NOSUB);

	if (rc == 0) {
		regfree(&re);
		return true;
	}
	char msg[256];
	regerror(rc, &re, msg, sizeof(msg));
	conf_err(x, v, "'pattern' is not a valid extended regular expression: %s", msg);
	return false;
}

static const struct conf_key builtin_keys[] = {
    {"op", CT_ENUM, CF_KIND, .off = STG(op), .values = builtin_op_names, .kinds = ALL,
     .required = ALL, .doc = "passthrough, or grep: keep the items that match."},
    {"pattern", CT_STR, .off = STG(pattern), .kinds = K(BUILTIN_GREP), .required = K(BUILTIN_GREP),
     .check = check_regex, .doc = "grep: a POSIX extended regular expression."},
    {"invert", CT_BOOL, .off = STG(invert), .def = "false", .kinds = K(BUILTIN_GREP),
     .doc = "grep: keep the items that do not match."},
};
static const struct conf_table builtin_table = {
    .noun = "builtin",
    ROWS(builtin_keys),
    .kinds = builtin_op_names,
    .kind_off = STG(op),
    .not_apply_fmt = "'%s' does not apply to builtin op '%s' (only to %s)",
    .need_fmt = "builtin %2$s in %1$s needs '%3$s'",
    .need_kind_fmt = "'builtin' of %s needs '%s' (passthrough or grep)",
    .doc = "An operation inside the daemon.",
};

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
	if (tmpl && strncasecmp(url, "http://", 7) == 0) {
		size_t alen = strcspn(url + 7, "/?#");
		if (memchr(url + 7, '{', alen) != NULL)
			return true;
		char *prefix = xstrndup(url, 7 + alen);
		int rc = conf_parse_url(prefix, host, sizeof(host), &port, &path, &why);
		free(prefix);
		if (rc == 0)
			return true;
	} else if (conf_parse_url(url, host, sizeof(host), &port, &path, &why) == 0) {
		return true;
	}
	conf_err(x, v, "'url' must be http://HOST[:PORT]/PATH, got '%s': %s", url, why);
	return false;
}

static bool check_url_template(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	return check_url(x, v, *(char **)field, true);
}

static bool check_url_plain(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	return check_url(x, v, *(char **)field, false);
}

static const struct conf_key http_stage_keys[] = {
    {"method", CT_ENUM, .off = HTTP(method), .def = "GET", .values = http_method_names,
     .kinds = ALL, .doc = "The request method."},
    {"url", CT_STR, CF_NONEMPTY, .off = HTTP(url), .kinds = ALL, .required = ALL,
     .check = check_url_template,
     .doc = "http:// only; a template ({} percent-encoded, or the whole URL)."},
    {"headers", CT_HEADERS, CF_SECRET, .off = HTTP(headers), .aux = HTTP(n_headers), .kinds = ALL,
     .doc = "Extra request headers; values are templates."},
    {"body", CT_STR, .off = HTTP(body), .kinds = ALL, .doc = "The request body, a template."},
    {"timeout", CT_DURATION, CF_POSITIVE, .off = HTTP(timeout), .def = "30s", .kinds = ALL,
     .doc = "Per request."},
};
static const struct conf_table http_stage_table = {
    .noun = "http", ROWS(http_stage_keys), .doc = "One HTTP request per item."};

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

/* A stage has exactly one worker kind; the second one written is the error. */
static void stage_select(struct conf_ctx *x, void *obj)
{
	const yaml_node_t *first = NULL;

	for (size_t k = 0; stage_kind_names[k] != NULL; k++) {
		const yaml_node_t *key = conf_key_of(x, stage_kind_names[k]);
		if (key != NULL &&
		    (first == NULL || key->start_mark.index < first->start_mark.index)) {
			first = key;
			x->kind = (int)k;
		}
	}
	for (size_t k = 0; stage_kind_names[k] != NULL; k++) {
		const yaml_node_t *key = conf_key_of(x, stage_kind_names[k]);
		if (key == NULL || key == first)
			continue;
		conf_err(x, key,
			 "%s has more than one of 'exec', 'builtin', 'coprocess' and 'http'; a "
			 "stage has exactly one",
			 x->label);
		conf_drop(x, stage_kind_names[k]);
	}
	if (first == NULL)
		conf_err(x, x->map, "%s needs one of 'exec', 'builtin', 'coprocess' or 'http'",
			 x->label);
	else
		((struct conf_stage *)obj)->kind = (enum stage_kind)x->kind;
}

static void stage_check(struct conf_ctx *x, void *obj)
{
	const yaml_node_t *burst = conf_key_of(x, "burst");
	struct conf_stage *st = obj;

	if (burst != NULL && conf_key_of(x, "rate") == NULL) {
		conf_err(x, burst, "'burst' in %s needs 'rate'", x->label);
		st->burst = 4;
	}
}

static const struct conf_key stage_keys[] = {
    {"name", CT_NAME, .off = STG(name), .kinds = ALL, .required = ALL,
     .doc = "Unique among stages."},
    {"workers", CT_UINT, CF_LIVE, .off = STG(workers), .def = "1", .min = 1, .max = WORKERS_MAX,
     .kinds = ALL, .doc = "At most this many items in flight in the stage."},
    {"queue", CT_BLOCK, .off = STG(queue), .kinds = ALL, .sub = &queue_table,
     .doc = "The stage's input queue; defaults from the top-level queue."},
    {"exec", CT_BLOCK, .kinds = K(STAGE_EXEC), .sub = &exec_table,
     .doc = "One process per item, never through a shell."},
    {"builtin", CT_BLOCK, .kinds = K(STAGE_BUILTIN), .sub = &builtin_table,
     .doc = "An operation inside the daemon: passthrough or grep."},
    {"coprocess", CT_BLOCK, .kinds = K(STAGE_COPROCESS), .sub = &coproc_table,
     .doc = "One long-lived process per worker."},
    {"http", CT_BLOCK, .off = STG(http), .kinds = K(STAGE_HTTP), .sub = &http_stage_table,
     .doc = "One HTTP request per item; the response body is the result."},
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
const struct conf_table conf_stage_table = {
    .noun = "stage",
    ROWS(stage_keys),
    .size = sizeof(struct conf_stage),
    .kinds = stage_kind_names,
    .kind_off = STG(kind),
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

/* A sink sends a body. */
static bool check_sink_method(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	enum http_method m = *(enum http_method *)field;
	if (m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH)
		return true;
	conf_err(x, v,
		 "'method' of an http sink must be POST, PUT or PATCH (it sends a body), got '%s'",
		 conf_http_method_name(m));
	*(enum http_method *)field = HTTP_POST;
	return false;
}

static void sink_check(struct conf_ctx *x, void *obj)
{
	const struct conf_sink *s = obj;
	const yaml_node_t *k = conf_key_of(x, "max_backoff");
	if (s->max_backoff < s->backoff)
		conf_err(x, k ? k : x->map, "'max_backoff' of %s must not be less than 'backoff'",
			 x->label);
	if (s->redis.username != NULL && s->redis.password == NULL)
		conf_err(x, conf_key_of(x, "username"), "'username' of %s needs 'password'",
			 x->label);
}

static const struct conf_key batch_keys[] = {
    {"max_items", CT_UINT, .off = SNK(batch.max_items), .def = "1", .min = 1, .max = 100000,
     .kinds = ALL, .doc = "Records per request."},
    {"max_bytes", CT_SIZE, .off = SNK(batch.max_bytes), .def = "1MiB", .kinds = ALL,
     .doc = "Bytes per request."},
    {"timeout", CT_DURATION, .off = SNK(batch.timeout), .def = "1s", .kinds = ALL,
     .doc = "A partial batch is sent after this."},
};
static const struct conf_table batch_table = {
    .noun = "batch", ROWS(batch_keys), .doc = "Records sent together in one request."};

#define NET_SINKS (K(SINK_TCP) | K(SINK_UNIX))
static const struct conf_key sink_keys[] = {
    {"name", CT_NAME, .off = SNK(name), .kinds = ALL, .required = ALL,
     .doc = "Unique among sinks."},
    {"type", CT_ENUM, CF_KIND, .off = SNK(type), .values = sink_type_names, .kinds = ALL,
     .required = ALL, .doc = "Where the results go."},
    {"path", CT_STR, CF_NONEMPTY, .off = SNK(path), .kinds = K(SINK_FILE) | K(SINK_UNIX),
     .required = K(SINK_FILE) | K(SINK_UNIX), .doc = "file: the file; unix: the socket."},
    {"fsync", CT_ENUM, .off = SNK(fsync), .def = "never", .values = fsync_names,
     .kinds = K(SINK_FILE), .doc = "never, batch (at most once a second) or always."},
    {"mode", CT_ENUM, CF_BOOL_ENUM, .off = SNK(truncate), .def = "append",
     .values = file_mode_names, .kinds = K(SINK_FILE),
     .doc = "append, or truncate: emptied at the start."},
    {"address", CT_ADDR, .off = SNK(address), .kinds = K(SINK_TCP), .required = K(SINK_TCP),
     .doc = "HOST:PORT or [V6]:PORT to connect to."},
    {"argv", CT_ARGV, .off = SNK(argv), .aux = SNK(argc), .kinds = K(SINK_EXEC),
     .required = K(SINK_EXEC), .doc = "The command whose standard input takes the results."},
    {"method", CT_ENUM, .off = SNK(http.method), .def = "POST", .values = http_method_names,
     .kinds = K(SINK_HTTP), .check = check_sink_method, .doc = "POST, PUT or PATCH."},
    {"url", CT_STR, CF_NONEMPTY, .off = SNK(http.url), .kinds = K(SINK_HTTP),
     .required = K(SINK_HTTP), .check = check_url_plain, .doc = "http:// only."},
    {"headers", CT_HEADERS, CF_SECRET, .off = SNK(http.headers), .aux = SNK(http.n_headers),
     .kinds = K(SINK_HTTP), .doc = "Extra request headers."},
    {"timeout", CT_DURATION, CF_POSITIVE, .off = SNK(timeout), .def = "10s", .kinds = NET_SINKS,
     .doc = "The connect timeout."},
    {"timeout", CT_DURATION, CF_POSITIVE, .off = SNK(http.timeout), .def = "30s",
     .kinds = K(SINK_HTTP), .doc = "Per request."},
    {"batch", CT_BLOCK, .kinds = K(SINK_HTTP), .sub = &batch_table,
     .doc = "Records sent together in one request."},
    {"backoff", CT_DURATION, .off = SNK(backoff), .def = "100ms",
     .kinds = NET_SINKS | K(SINK_EXEC) | K(SINK_HTTP) | K(SINK_REDIS_STREAM),
     .doc = "The first reconnect or retry delay; doubles."},
    {"max_backoff", CT_DURATION, .off = SNK(max_backoff), .def = "10s",
     .kinds = NET_SINKS | K(SINK_EXEC) | K(SINK_HTTP) | K(SINK_REDIS_STREAM),
     .doc = "The cap of the backoff."},
    /* redis-stream (issue 12): together, until its kind file holds them */
    {"address", CT_STR, CF_NONEMPTY, .off = RSNK(address), .kinds = K(SINK_REDIS_STREAM),
     .required = K(SINK_REDIS_STREAM), .check = check_redis_address,
     .doc = "The Redis server: HOST:PORT or an absolute unix socket path."},
    {"stream", CT_STR, CF_NONEMPTY, .off = RSNK(stream), .kinds = K(SINK_REDIS_STREAM),
     .required = K(SINK_REDIS_STREAM), .doc = "The stream's key."},
    {"field", CT_STR, CF_NONEMPTY, .off = RSNK(field), .def = "item", .kinds = K(SINK_REDIS_STREAM),
     .doc = "The entry field a record is written to."},
    {"maxlen", CT_UINT, .off = RSNK(maxlen), .def = "0", .min = 0, .max = UINT64_MAX,
     .kinds = K(SINK_REDIS_STREAM),
     .doc = "Trim the stream to about this many entries (MAXLEN ~); 0: never."},
    {"max_in_flight", CT_UINT, .off = RSNK(max_in_flight), .def = "1000", .min = 1, .max = 1000000,
     .kinds = K(SINK_REDIS_STREAM),
     .doc = "XADDs sent and not yet answered, at most (pipelining)."},
    {"username", CT_STR, CF_NONEMPTY, .off = RSNK(username), .kinds = K(SINK_REDIS_STREAM),
     .doc = "The ACL user to AUTH as (with password)."},
    {"password", CT_STR, CF_SECRET, .off = RSNK(password), .kinds = K(SINK_REDIS_STREAM),
     .doc = "AUTH with this password."},
};
const struct conf_table conf_sink_table = {
    .noun = "sink",
    ROWS(sink_keys),
    .size = sizeof(struct conf_sink),
    .kinds = sink_type_names,
    .kind_off = SNK(type),
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
};
static const struct conf_table metrics_table = {
    .noun = "metrics", ROWS(metrics_keys), .doc = "The HTTP endpoint (none by default)."};

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
    {"path", CT_STR, CF_NONEMPTY, .off = TOP(dead_letter.path), .kinds = K(SINK_FILE),
     .required = K(SINK_FILE), .doc = "file: the JSON lines file."},
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
	if (name_ok && c->name != NULL)
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
