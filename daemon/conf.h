/*
 * conf.h: the pipeline definition as plain structs, loaded from YAML with libyaml.
 *
 * conf_load() is strict (SPEC §3): unknown keys (with a did-you-mean), wrong types,
 * bad durations/sizes/rates, missing required keys, duplicate names and
 * out-of-range numbers are errors. Every error is reported as
 * "FILE:LINE:COL: message" (1-based line and column) and loading goes on to report
 * them all. Defaults are filled in, so the runtime never looks at a "set" flag.
 * The strings and arrays are owned by the struct conf and freed by conf_free().
 * Every key is one row of a table (conf-schema.h, conf-keys.c): the loader, the
 * printer, conf_free, the reload comparison and --schema all walk those rows.
 */
#ifndef SLUICE_CONF_H
#define SLUICE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

enum when_full { WHEN_FULL_BLOCK = 0, WHEN_FULL_DROP_NEWEST, WHEN_FULL_DROP_OLDEST };
enum framing { FRAMING_LINES = 0, FRAMING_NUL };
enum start_at { START_AT_BEGINNING = 0, START_AT_END };
enum split_mode { SPLIT_NONE = 0, SPLIT_LINES, SPLIT_NUL };
enum coproc_framing { COPROC_LINES = 0, COPROC_LENGTH, COPROC_JSON };
enum exec_stdin { EXEC_STDIN_NONE = 0, EXEC_STDIN_ITEM };
enum exec_stdout {
	EXEC_STDOUT_RESULT = 0,
	EXEC_STDOUT_LINES,
	EXEC_STDOUT_DISCARD,
	EXEC_STDOUT_ITEM
};
enum builtin_op { BUILTIN_PASSTHROUGH = 0, BUILTIN_GREP };
enum on_failure { ON_FAILURE_SKIP = 0, ON_FAILURE_DEAD_LETTER, ON_FAILURE_CANCEL };
enum dead_letter_type { DEAD_LETTER_FILE = 0, DEAD_LETTER_STDOUT };
enum http_method { HTTP_GET = 0, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_PATCH, HTTP_HEAD };
enum fsync_mode { FSYNC_NEVER = 0, FSYNC_BATCH, FSYNC_ALWAYS };
/* A tcp, unix or http source's answer: none, once journaled, or once done (true = done). */
enum ack_mode { ACK_NONE = 0, ACK_TRUE, ACK_JOURNALED, ACK_DONE };
static inline bool conf_ack_done(enum ack_mode a)
{
	return a == ACK_TRUE || a == ACK_DONE;
}
enum tls_version { TLS_V1_2 = 0, TLS_V1_3 };

/*
 * The longest name of a pipeline, source, stage or sink, in bytes: names are
 * stored whole in spool records and joblog lines (spool.h SPOOL_NAME_MAX).
 */
#define CONF_NAME_MAX 127

/*
 * A kind of source, stage worker or sink (conf-schema.h): the entry points at its
 * kind, which the kinds layer owns; a kind with its own rows' struct has it at opts.
 */
struct conf_kind;
const char *conf_kind_name(const struct conf_kind *kind);

/* Where a thing was defined, for runtime messages that point back at the file. */
struct conf_pos {
	int line;
	int col;
};

/* Where the value of a string or argv field was written, by the field's address. */
struct conf_keypos {
	const void *field;
	struct conf_pos pos;
};

struct conf_queue {
	uint64_t capacity;	  /* items; default 1024 */
	uint64_t max_bytes;	  /* default 64MiB */
	enum when_full when_full; /* default block */
};

struct conf_env {
	char *name;
	char *value;
};

/*
 * A `tls:` block (tcp and http sources, tcp and http sinks, the http stage, the
 * metrics endpoint). A server needs cert and key; with ca and verify it requires
 * client certificates. A client verifies the server against ca, else the system's
 * bundle, unless verify is false. An https:// URL turns it on without the block.
 */
struct conf_tls {
	bool enabled;	   /* the block is present (or the URL is https://) */
	char *cert, *key;  /* PEM files */
	char *ca;	   /* PEM bundle; NULL = the system's (clients), none (servers) */
	bool verify;	   /* default true */
	char *server_name; /* clients: the name checked and sent (SNI); default the host */
	enum tls_version min_version; /* default 1.2 */
};

/* An HTTP request: the http stage's `http:` block, and the http sink. */
struct conf_http {
	enum http_method method; /* stage: default GET; sink: default POST */
	char *url; /* required; http:// or https://. Stage: a template ({} URL-escaped) */
	struct conf_env *headers; /* extra request headers (stage: templates) */
	size_t n_headers;
	char *body;	  /* stage: a template, NULL = no body */
	uint64_t timeout; /* usec per request, default 30s */
};

struct conf_source {
	struct conf_pos pos;
	char *name;		      /* required, unique among sources */
	const struct conf_kind *kind; /* required (type) */
	void *opts;		      /* the kind's own struct, when it has one */
	char *path;		      /* file: required */
	bool follow;		      /* file: default false */
	enum framing framing;	      /* file, stdin, exec: default lines */
	int64_t count;		      /* generate: -1 = endless (default) */
	uint64_t interval;	      /* generate: usec, 0 = as fast as the queue takes them */
	char *template;		      /* generate: default "{seq}" */
	char **argv;		      /* exec: required, NULL-terminated, at least one element */
	size_t argc;
	/*
	 * path above is also: unix: the socket (required); dir: the spool directory
	 * (required); http: the URL path requests are taken at (default "/").
	 */
	char *listen;		  /* tcp, http: required, "HOST:PORT" or "[V6]:PORT" */
	uint64_t max_connections; /* tcp, unix, http: default 64 */
	uint64_t idle_timeout;	  /* tcp, unix: usec, 0 = none (default) */
	enum ack_mode ack;	  /* tcp, unix, http: default none */
	enum split_mode split;	  /* http, dir: one item per body/file (default) or per line */
	uint64_t queue_timeout;	  /* http: how long a request waits for queue space; default 5s */
	uint64_t max_body;	  /* http: default 16MiB */
	char *done_dir;		  /* dir: default PATH/done; NULL with delete */
	char *failed_dir;	  /* dir: default PATH/failed */
	bool delete_done;	  /* dir: `delete`: remove finished files instead of moving them */
	enum start_at start_at;	  /* file without a checkpoint: default beginning */
	struct conf_tls tls;	  /* tcp, http */
};

/* A stage's worker count: the loader, `sluicectl scale` and pipeline_scale keep to it. */
#define WORKERS_MAX 100000u

struct conf_stage {
	struct conf_pos pos;
	char *name;		 /* required, unique among stages */
	uint64_t workers;	 /* 1..WORKERS_MAX, default 1 */
	struct conf_queue queue; /* this stage's input queue; defaults from the top-level queue */
	const struct conf_kind *kind; /* the one worker block it has (exec:, builtin: ...) */
	void *opts;		      /* the kind's own struct, when it has one */
	/* exec and coprocess */
	char **argv; /* required for exec and coprocess, NULL-terminated */
	size_t argc;
	enum exec_stdin stdin_mode;   /* default none */
	enum exec_stdout stdout_mode; /* default result */
	struct conf_env *env;	      /* added to the daemon's environment */
	size_t n_env;
	char *cwd; /* NULL = daemon's cwd */
	/* coprocess */
	enum coproc_framing coproc_framing; /* default lines */
	/* http */
	struct conf_http http;
	/* builtin */
	enum builtin_op op;
	char *pattern; /* grep: required, POSIX extended regex, checked at load */
	bool invert;   /* grep: default false */
	/* policy */
	uint64_t timeout;	    /* usec per item, 0 = none (default) */
	enum on_failure on_failure; /* default skip */
	struct {
		uint64_t attempts;    /* total attempts, 1..1000, default 1 (no retry) */
		uint64_t backoff;     /* usec before the first retry, default 100ms */
		uint64_t max_backoff; /* usec cap of the exponential backoff, default 10s */
	} retry;
	uint64_t burst;	       /* rate: starts idle time may bank, 1..1000000, default 4 */
	uint64_t max_failures; /* 0 = unlimited; a count, or a percent when max_failures_pct */
	bool max_failures_pct;
	bool ordered;	     /* results leave in input order; default false */
	double rate;	     /* item starts per second, 0 = unlimited */
	bool shield;	     /* on cancel, running items finish; default false */
	struct conf_tls tls; /* http */
};

struct conf_sink {
	struct conf_pos pos;
	char *name;		      /* required, unique among sinks */
	const struct conf_kind *kind; /* required (type) */
	void *opts;		      /* the kind's own struct, when it has one */
	char *path;		      /* file, unix: required */
	enum fsync_mode fsync;	      /* file: default never */
	bool truncate;		      /* file: mode truncate, emptied at start (not at a reload
					 nor with --resume); default append */
	char *address;		      /* tcp: required, "HOST:PORT" or "[V6]:PORT" */
	char **argv;		      /* exec: required, NULL-terminated */
	size_t argc;
	struct conf_http http; /* http: url required; method default POST */
	struct {
		uint64_t max_items; /* http: records per request, default 1 */
		uint64_t max_bytes; /* http: default 1MiB */
		uint64_t timeout;   /* http: send a partial batch after this, default 1s */
	} batch;
	uint64_t timeout;     /* tcp, unix: connect timeout, default 10s (http: in http) */
	uint64_t backoff;     /* tcp, unix, exec, http: first reconnect/retry delay, 100ms */
	uint64_t max_backoff; /* cap of the exponential backoff, default 10s */
	struct conf_tls tls;  /* tcp, http */
};

struct conf_dead_letter {
	bool enabled; /* the dead_letter: block is present */
	struct conf_pos pos;
	enum dead_letter_type type; /* file | stdout (default file) */
	char *path;		    /* file: required */
};

struct conf {
	char *file;		 /* the path it was loaded from */
	char *name;		 /* default: file's base name without .yaml/.yml */
	struct conf_queue queue; /* top-level default */
	uint64_t memory_limit;	 /* default 512MiB */
	uint64_t max_item_bytes; /* default 1MiB */
	struct {
		uint64_t grace;	     /* default 30s */
		uint64_t kill_after; /* default 5s */
		char *spool;	     /* default: $STATE_DIRECTORY/NAME.spool if set, else NULL */
	} shutdown;
	uint64_t deadline; /* usec, 0 = none */
	char *joblog;	   /* NULL = none */
	char *state_dir;   /* what must survive a crash; NULL = nothing does */
	struct {
		bool enabled;	       /* the journal: block is present (needs state_dir) */
		uint64_t max_bytes;    /* default 1GiB: then the sources pause */
		enum fsync_mode fsync; /* default never */
	} journal;
	struct {
		char *listen; /* "HOST:PORT"; NULL = no metrics endpoint */
		struct conf_tls tls;
	} metrics;
	struct {
		char *socket; /* path of the control socket; NULL = none */
	} control;
	struct conf_source *sources; /* at least one */
	size_t n_sources;
	struct conf_stage *stages; /* may be empty: sources straight to sinks */
	size_t n_stages;
	struct conf_sink *sinks; /* at least one */
	size_t n_sinks;
	struct conf_dead_letter dead_letter;
	bool resume;	    /* set from the command line (--resume), not the file */
	bool resume_failed; /* --resume-failed: also re-run what the joblog lists as failed */
	struct conf_keypos *keypos; /* every string and argv value; see conf_pos_of() */
	size_t n_keypos;
	struct {
		enum log_level level;	    /* default info */
		enum log_format format;	    /* default text */
		bool level_set, format_set; /* so the command line can override */
		bool level_cli, format_cli; /* on the command line: it wins, at reloads too */
	} log;
};

/*
 * Loads and validates path. On success returns a conf; on failure returns NULL
 * after writing every error, one per line as "FILE:LINE:COL: message", to errs.
 * A file that cannot be opened is reported as "FILE: strerror" and *noinput set
 * (exit 66 rather than 78), when noinput is not NULL.
 */
struct conf *conf_load(const char *path, FILE *errs, bool *noinput);
void conf_free(struct conf *c);
/*
 * Where the value of field (the address of a string or argv member of c, such as
 * &c->sinks[i].path) was written in the file; fallback when it was not (a default).
 */
struct conf_pos conf_pos_of(const struct conf *c, const void *field, struct conf_pos fallback);

/*
 * Prints the resolved pipeline, defaults filled in, as YAML that conf_load accepts,
 * except that the values of http headers that may hold credentials print as
 * <redacted> (this is what --check shows).
 */
void conf_print(const struct conf *c, FILE *out);
/*
 * The same, with every value (reload compares these), as a malloc'ed string; and one
 * source's block, the sinks section.
 */
char *conf_printed(const struct conf *c);
char *conf_printed_source(const struct conf_source *s);
char *conf_printed_sinks(const struct conf *c);

/*
 * Whether next differs from cur in a key that a reload cannot apply to the running
 * pipeline (a key without the live flag of conf-schema.h); the first such key, as
 * "'sinks[0].path' changed", in diff.
 */
bool conf_structure_differs(const struct conf *cur, const struct conf *next, char *diff,
			    size_t len);
/* Copies the live keys of next into cur, which has the same structure. */
void conf_apply_live(struct conf *cur, const struct conf *next);

/*
 * A JSON Schema (draft 2020-12) of the whole file, from the same tables, for
 * editors (sluiced --schema).
 */
void conf_print_schema(FILE *out);

/* Names of enum values, as written in the file. */
const char *conf_on_failure_name(enum on_failure f);

const char *conf_http_method_name(enum http_method m);

/*
 * "HOST:PORT" or "[V6]:PORT" with a numeric port 1..65535. Returns 0 and fills
 * host (brackets removed) and port; -1 with *why set to a static reason.
 */
int conf_parse_hostport(const char *s, char *host, size_t hostlen, unsigned *port,
			const char **why);
/*
 * "http://HOST[:PORT][/PATH]" or "https://...": 0 and the parts (path "/" when
 * absent, port 80 or 443 when absent); -1 and *why. conf_url_is_https() tells which.
 */
int conf_parse_url(const char *url, char *host, size_t hostlen, unsigned *port, const char **path,
		   const char **why);

bool conf_url_is_https(const char *url);
/* A tls block as tls.h takes it (strings borrowed from t). */
struct tls_opts;
void conf_tls_opts(const struct conf_tls *t, struct tls_opts *o);
/*
 * An endpoint from a tls block: 0, or -1 with "WHO: why" in err. who ("source 'x'")
 * names it in its log lines too.
 */
struct tls_endpoint;
int conf_tls_endpoint(struct tls_endpoint *e, const struct conf_tls *t, bool server,
		      const char *who, char *err, size_t errlen);

/* Levenshtein distance, used for did-you-mean; exposed for tests. */
size_t conf_edit_distance(const char *a, const char *b);

#endif
