/*
 * conf-schema.h: the pipeline file's schema, one row per key (the conf layer).
 *
 * A key is written once, as a row of a table: its name, type, where it is stored
 * (an offset into the structs of conf.h), default, limits, enum values, flags and a
 * one-line doc. conf.c walks the tables to load, fill defaults, print (--check),
 * free, compare for reload and apply live keys; conf-json.c turns them into a JSON
 * Schema (sluiced --schema). conf-keys.c holds the tables of the keys of no kind;
 * a kind's rows and rules are in its own file (struct conf_kind below). The rules
 * that span several keys are small named check functions that report through
 * conf_err().
 */
#ifndef SLUICE_CONF_SCHEMA_H
#define SLUICE_CONF_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "conf.h"

enum conf_type {
	CT_STR,	     /* char *; NULL when absent and without default */
	CT_NAME,     /* char *: letters, digits, '_', '.', '-', at most CONF_NAME_MAX */
	CT_ADDR,     /* char *: HOST:PORT or [V6]:PORT */
	CT_UINT,     /* uint64_t in min..max */
	CT_COUNT,    /* int64_t in 0..INT64_MAX; -1 (the default) means none */
	CT_SIZE,     /* uint64_t bytes, > 0: "512", "64KiB" */
	CT_DURATION, /* uint64_t microseconds: "250ms", "5s" */
	CT_RATE,     /* double per second, 0 = none: "100/s" */
	CT_BOOL,     /* bool */
	CT_ENUM,     /* a C enum (int), or a bool with CF_BOOL_ENUM: the index in values */
	CT_ARGV,     /* char **, NULL-terminated, with its size_t count at aux */
	CT_ENV,	     /* struct conf_env *, with its size_t count at aux: names to strings */
	CT_HEADERS,  /* the same, HTTP header names (case-insensitive) to strings */
	CT_FAILURES, /* uint64_t count, with a bool "is a percent" at aux: "10" or "5%" */
	CT_BLOCK,    /* a mapping of sub's rows, stored at off (0: in the same struct) */
	CT_LIST,     /* a list of mappings of sub: an array at off, its size_t count at aux */
	CT_KIND,     /* const struct conf_kind *: the entry's kind, by name from the registry */
};

enum conf_flag {
	CF_LIVE = 1 << 0,      /* a reload applies it to the running pipeline */
	CF_SECRET = 1 << 1,    /* --check prints <redacted> (headers: except harmless ones) */
	CF_NONEMPTY = 1 << 2,  /* a string that must not be empty */
	CF_KIND = 1 << 3,      /* the entry's discriminator: its value is the entry's kind */
	CF_POSITIVE = 1 << 4,  /* a duration that must be greater than 0 */
	CF_BOOL_ENUM = 1 << 5, /* an enum of two values stored as a bool */
	/* Set by conf_set_kinds, never in a row: stored in the entry's opts (struct conf_kind). */
	CF_OPTS = 1 << 6,
	CF_BOOL_TOO = 1 << 7, /* an enum whose first two values (false, true) may be booleans */
	/* A row kinds share that is stored in the entry, also for a kind with opts. */
	CF_ENTRY = 1 << 8,
};

#define CONF_ALL_KINDS (~0u)
#define CONF_KIND(k)   (1u << (k))

struct conf_ctx;
struct envcheck;

struct conf_key {
	const char *name;
	enum conf_type type;
	unsigned flags;
	size_t off; /* into the struct of the table (or of the block) */
	size_t aux; /* the count of CT_ARGV, CT_ENV, CT_HEADERS, CT_LIST; the % of CT_FAILURES */
	const char *def;   /* the default, as it would be written in the file; NULL = none */
	uint64_t min, max; /* CT_UINT */
	const char *const *values;    /* CT_ENUM: the names, NULL-terminated, in enum order */
	unsigned kinds;		      /* the kinds of the table it applies to */
	unsigned required;	      /* the kinds it is required for (0: never) */
	const struct conf_table *sub; /* CT_BLOCK, CT_LIST */
	const char *need;	      /* CT_LIST: "at least one source" (NULL: may be empty) */
	/* After the value was stored: further rules; false after reporting an error. */
	bool (*check)(struct conf_ctx *x, const yaml_node_t *v, void *field);
	/* Instead of the type's parser (log.level, which log.c parses). */
	bool (*parse)(struct conf_ctx *x, const yaml_node_t *v, void *field);
	/* Printed only when this says so (besides the type's rule: a NULL string is not). */
	bool (*shown)(const void *obj);
	const char *doc;
};

struct conf_table {
	const char *noun; /* "source": in messages ("duplicate source name") */
	const struct conf_key *keys;
	size_t n;
	size_t size;		  /* of one entry of a CT_LIST */
	const char *const *kinds; /* the names of the kinds, NULL-terminated; NULL: no kinds */
	size_t kind_off;	  /* where the kind is stored (a C enum, or a CT_KIND pointer) */
	/* Kinds from a registry (conf_set_kinds): kinds[i] is registry[i]->name. */
	const struct conf_kind *const *registry;
	size_t opts_off; /* with registry: where the entry's void *opts is */
	/* "'%s' does not apply to a %s source (only to %s)": key, kind, kinds it applies to */
	const char *not_apply_fmt;
	/* "%s (type %s) needs '%s'": where (label or block), kind, key */
	const char *need_fmt;
	/* "%s needs '%s' (one of %s)": where, the kind key, the kinds */
	const char *need_kind_fmt;
	/* Before the rows: defaults that are not constants (a stage's queue). */
	void (*init)(struct conf_ctx *x, void *obj);
	/* Picks the kind when it is not a CF_KIND key (a stage's exec/builtin/...). */
	void (*select)(struct conf_ctx *x, void *obj);
	/* After the rows: the rules that span several keys. */
	void (*check)(struct conf_ctx *x, void *obj);
	const char *doc;
};

/*
 * A kind of source, sink or stage worker, as the loader sees it: its name, its rows
 * and its rules. It lives in the kind's own file (source-net.c ...), usually as the
 * first member of the kinds layer's descriptor, and reaches the loader through the
 * registry given to conf_set_kinds(); the conf layer never names a kind.
 *
 * The rows are a kind's alone, or shared with other kinds by pointer (a row group
 * that one file exports: the same row in two kinds is one key with both kinds). The
 * rows of a kind without opts_size store into the entry's struct (conf_source ...);
 * with opts_size, into a struct of the kind's own that the loader allocates at the
 * entry's opts (zeroed, then the rows' defaults) and conf_free frees, but for the
 * shared rows flagged CF_ENTRY (a sink's backoff), stored in the entry. .kinds and
 * .required of a kind's row say "this kind": CONF_ALL_KINDS or 0.
 */
struct conf_kind {
	const char *name;		    /* as written in the file: "tcp" */
	const struct conf_key *const *rows; /* its rows, in the order --check prints them */
	size_t n;
	size_t opts_size; /* 0: its rows store into the entry's struct */
	/* After the rows (and the entry's common check): the rules that span its keys. */
	void (*check)(struct conf_ctx *x, void *entry);
	/* --check without --no-environment: what it needs of the host (envcheck.h). */
	void (*envcheck)(struct envcheck *ck, const char *owner, const void *entry);
};

/* For rows: the offset of a field of an entry (or of a kind's opts struct). */
#define CONF_SRC(field) offsetof(struct conf_source, field)
#define CONF_STG(field) offsetof(struct conf_stage, field)
#define CONF_SNK(field) offsetof(struct conf_sink, field)

/* .rows and .n of a conf_kind from a list of row addresses. */
#define CONF_ROWS(...)                                                                             \
	.rows = (const struct conf_key *const[]){__VA_ARGS__},                                     \
	.n = sizeof((const struct conf_key *const[]){__VA_ARGS__}) /                               \
	     sizeof(const struct conf_key *)

/* Every kind, one list per entry table, in the order kinds are listed in messages. */
struct conf_kinds {
	const struct conf_kind *const *sources;
	size_t n_sources;
	const struct conf_kind *const *workers; /* a stage's kind: the block it has */
	size_t n_workers;
	const struct conf_kind *const *sinks;
	size_t n_sinks;
};

/*
 * Hands the registry to the loader, once, before conf_load (sluiced, sluicectl,
 * the fuzz target and the tests): the source, stage and sink tables are made of the
 * common rows and every kind's. Aborts on a registry the tables cannot hold.
 */
void conf_set_kinds(const struct conf_kinds *kinds);
/* The kind named name in list, or NULL. */
const struct conf_kind *conf_kind_named(const struct conf_kind *const *list, size_t n,
					const char *name);

/* The tls: block (conf-keys.c), as a row of the kinds that take it, and its rules. */
extern const struct conf_key conf_source_tls_row, conf_stage_tls_row, conf_sink_tls_row;
/* A server's block needs its certificate. */
void conf_tls_server_check(struct conf_ctx *x, const struct conf_tls *t, const char *where);
/* A client's: an https:// URL turns TLS on; a block on an http:// URL is an error. */
void conf_tls_url_check(struct conf_ctx *x, struct conf_tls *t, const char *url);

struct loader;

/* What a check function sees of the mapping being loaded. */
struct conf_ctx {
	struct loader *ld;
	struct conf *c;
	const struct conf_table *t;
	const yaml_node_t *map;		/* the mapping (or what stands where it should) */
	const char *label;		/* "stage 'x'" in a list entry; NULL at the top level */
	const char *block;		/* "exec": the key of a block; NULL for an entry */
	const yaml_node_t **key, **val; /* per row of t; val NULL after an error */
	int kind;			/* -1: unknown */
};

/* Reports an error at n (FILE:LINE:COL), as every loader error. */
void conf_err(struct conf_ctx *x, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, at a position kept from an earlier table (conf_pos_of). */
void conf_err_at(struct conf_ctx *x, struct conf_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The key and value nodes of a row by name (the row that got it); NULL when absent. */
const yaml_node_t *conf_key_of(const struct conf_ctx *x, const char *name);
const yaml_node_t *conf_val_of(const struct conf_ctx *x, const char *name);
/* Drops a value: its row is then treated as absent. */
void conf_drop(struct conf_ctx *x, const char *name);
struct conf_pos conf_node_pos(const yaml_node_t *n);

/* Names of pipelines, sources, stages, sinks: the rule, and its two checks. */
extern const char conf_name_rule[];
bool conf_valid_name(const char *s);
/* "is 130 bytes long; ..." in why when s is longer than CONF_NAME_MAX. */
bool conf_name_too_long(const char *s, char *why, size_t len);

/* The top of the tree: the whole file; the entry tables, made by conf_set_kinds. */
extern const struct conf_table conf_top_table;
extern struct conf_table conf_source_table, conf_stage_table, conf_sink_table;

/* Shared by kinds (conf-keys.c): the names of conf.h's enums, and the URL checks. */
extern const char *const conf_framing_names[], *const conf_split_names[],
						   *const conf_http_method_names[];
/* A row check: 'url' is http://HOST[:PORT]/PATH (a template: where not a placeholder). */
bool conf_check_url_template(struct conf_ctx *x, const yaml_node_t *v, void *field);
bool conf_check_url_plain(struct conf_ctx *x, const yaml_node_t *v, void *field);

#endif
