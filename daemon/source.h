/*
 * source.h: producers. Every kind shares one interface (open, start, resume,
 * stop, free: one table entry per kind) and one way to hand records over,
 * source_emit(), which applies max_item_bytes, the queue's bound and the global
 * memory_limit. When either pushes back, the source pauses: it stops reading, so
 * the kernel holds the rest (a full pipe blocks the producing command), and a
 * one-shot waiter resumes it.
 *
 * Sources that read a file descriptor (file, stdin, exec) share the framed reader
 * here: large reads, records split with memchr on '\n' or NUL.
 */
#ifndef SLUICE_SOURCE_H
#define SLUICE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf-schema.h"
#include "conf.h"
#include "queue.h"
#include "track.h"

struct scope;
struct source;

/* A file source's checkpoint in state_dir (issue 11), for status and metrics. */
struct source_checkpoint {
	uint64_t position;	     /* every byte before it belongs to done records */
	uint64_t committed_at;	     /* now_usec() of the last commit, 0 before the first */
	uint64_t resumed_at;	     /* where this run started reading (a restart's position) */
	uint64_t resumed_done_bytes; /* bytes done past it before the restart: records skipped */
};

struct source_kind {
	/* Its name, key rows and checks (conf-schema.h): the entry's kind points here. */
	struct conf_kind conf;
	/* Opens inputs; -1 with a message (exit 66). May be NULL. */
	int (*open)(struct source *s, char *err, size_t errlen);
	void (*start)(struct source *s);
	/* Called when a pause ends, to produce again. */
	void (*resume)(struct source *s);
	/* Graceful stop: stop producing; the source then ends. */
	void (*stop)(struct source *s);
	/* The fd reader hit EOF (fd sources only): end, follow, or wait for the child. */
	void (*eof)(struct source *s);
	void (*free)(struct source *s);
	/* Optional: how far through its input it is, as done/total; false if unknown. */
	bool (*progress)(struct source *s, double *done, double *total);
	/*
	 * Optional (fd sources): the record [start, end) of the input (end past its
	 * delimiter, start where the previous record ended) is about to be offered as
	 * index; true skips it (it was done before a restart).
	 */
	bool (*framed)(struct source *s, uint64_t index, uint64_t start, uint64_t end);
	/* Optional: the record index was finished without entering the pipeline (rejected,
	 * or done per the joblog): nothing tracks it. */
	void (*untracked)(struct source *s, uint64_t index);
	/* Optional: where a checkpointed source stands (status, metrics); false when it has none.
	 */
	bool (*checkpoint)(const struct source *s, struct source_checkpoint *ck);
	/* Optional (listening kinds): the listening socket, or -1. */
	int (*listener)(struct source *s);
	/* Optional: a reload committed; old's socket is now s's (its file, its connections). */
	void (*handover)(struct source *old, struct source *s);

	/* What the kind is, from its conf alone (the pipeline and reload ask, by the kind): */
	/* Optional: the input ends by itself (a job); without it, never. */
	bool (*finite)(const struct conf_source *cs);
	/* Optional (listening kinds): where it listens, "HOST:PORT" or a socket path. */
	const char *(*address)(const struct conf_source *cs);
	/*
	 * Optional: after a crash its input can be read again (a file, a spool directory,
	 * a client that resends what had no answer); without it, never: with a journal,
	 * its items are journaled.
	 */
	bool (*replays)(const struct conf_source *cs);
	/* Records end at split's delimiter, not framing's (http, dir). */
	bool splits;
	/* Replaced on the same path only at a restart: the files in hand would be taken twice. */
	bool path_held;
};

/* The kind of a conf entry (the registry is daemon/kinds.c: one line per kind). */
const struct source_kind *source_kind_of(const struct conf_kind *kind);
/* For the replays hook: its input is still there; a client resends what had no ack. */
bool source_replays_always(const struct conf_source *cs);
bool source_replays_if_acked(const struct conf_source *cs);
/* The facts above, for a conf entry. */
bool source_conf_finite(const struct conf_source *cs);
const char *source_conf_address(const struct conf_source *cs);

/* Rows several kinds share, each from the file that owns what it means. */
extern const struct conf_key source_framing_row, source_split_row; /* source.c */
extern const struct conf_key source_listen_row, source_ack_row;	   /* source-net.c */

/*
 * A reload looks up the listen names of conf's tcp and http sources on the bio pool
 * before it builds them (getaddrinfo may block for seconds): 0 when none needs a
 * lookup, 1 when done(arg) runs on the loop once all are answered. The answers serve
 * the sources' open until source_listen_resolved_clear(). source_listen_numeric()
 * puts the first address found for a listen string in host, as a number: 0, also
 * when the name was not looked up (host is then left as it is), else the EAI_ error.
 */
int source_listen_resolve(const struct conf *conf, void (*done)(void *arg), void *arg);
int source_listen_numeric(const char *listen, char *host, size_t len);
void source_listen_resolved_clear(void);

struct source *source_new(struct scope *sc, const struct conf_source *cs, uint32_t index,
			  struct queue *out);
int source_open(struct source *s, char *err, size_t errlen);
void source_start(struct source *s);
bool source_started(const struct source *s);

/*
 * Reload. A source whose block did not change moves to the new pipeline as it is
 * (position, connections, listener, counts); out is the new pipeline's first queue.
 * A changed listening source on the same address listens on the old one's socket
 * (a duplicate of it, taken before open; source_inherited_fd() for the kind), so no
 * connection is refused meanwhile; source_handover() once the reload is committed.
 */
void source_move(struct source *s, struct scope *sc, const struct conf_source *cs,
		 struct queue *out);
void source_inherit_listener(struct source *s, struct source *old);
void source_handover(struct source *old, struct source *s);
/* For kinds, in open: the inherited socket (now theirs), or -1 to bind afresh. */
int source_inherited_fd(struct source *s);
/* Graceful stop (SIGTERM, cancel): what was read is handed on, then the source ends. */
void source_stop(struct source *s);
void source_free(struct source *s);
/* None of its records is still in flight elsewhere (a successor's sinks): freeing it loses no ack.
 */
bool source_settled(const struct source *s);
/* The stop came before the source's input ended, and input was left (a job cut short). */
bool source_cut_short(const struct source *s);
/*
 * What a source cut short never read: records, or UINT64_MAX when it cannot tell
 * (a pipe, a command, a file rest over UNREAD_COUNT_MAX bytes); *bytes is a
 * file's rest in bytes, else 0. It reads that rest: call it after the loop.
 */
#define UNREAD_COUNT_MAX (64u << 20)
uint64_t source_unread(struct source *s, uint64_t *bytes);

const char *source_name(const struct source *s);
uint64_t source_items(const struct source *s);
uint64_t source_rejected(const struct source *s);
/* Records --resume skipped because the joblog has them as done. */
uint64_t source_skipped(const struct source *s);
bool source_failed(const struct source *s);
bool source_ended(const struct source *s);
uint64_t source_paused_usec(const struct source *s);
/* Held back by backpressure right now (not by the operator). */
bool source_paused(const struct source *s);
/* The operator's pause (sluicectl pause): stop reading until released. */
void source_hold(struct source *s, bool hold);
bool source_held(const struct source *s);
/* Logs a warning once a pause has lasted warn_after_usec. */
void source_check_pause(struct source *s, uint64_t warn_after_usec);
/* Its kind's name, as in the file: "tcp". */
const char *source_kind_name(const struct source *s);
/* A file source with state_dir: its checkpoint; false for every other source. */
bool source_checkpoint(const struct source *s, struct source_checkpoint *ck);
/* Fraction of its input consumed, 0..1; false when the source cannot know (a pipe). */
bool source_progress(struct source *s, double *fraction);

/* For kinds. */
struct scope *source_scope(struct source *s);
const struct conf_source *source_conf(struct source *s);
void **source_state(struct source *s);
bool source_stopping(const struct source *s);
/* Its items go to the journal before they are pushed on (journal-loop.h). */
bool source_journaled(const struct source *s);
/* Offers one record; false means "pause": the record is kept and resume() comes later. */
bool source_emit(struct source *s, const char *data, size_t len);
/*
 * Tracks every item emitted from now on (track.h): cb(arg, token, index, status)
 * runs when a record is done end to end. token is what source_set_token() set
 * when the record was emitted (a connection, a request, a file).
 */
void source_track(struct source *s, track_done_cb cb, void *arg, bool durable);
/* Records read one after another may be done together, up to run_max (track_set_run). */
void source_track_runs(struct source *s, uint32_t run_max);
void source_set_token(struct source *s, void *token);
/* The index given to the last record offered (emitted, rejected or skipped). */
uint64_t source_last_index(const struct source *s);
/*
 * For sources that take input in units they cannot split (an HTTP request):
 * source_ready() says whether there is room now; if not, the source pauses and
 * resume() comes once there is. source_emit_force() then queues one record
 * whatever the bounds (still applying max_item_bytes and when_full: drop_*).
 */
bool source_ready(struct source *s);
void source_emit_force(struct source *s, const char *data, size_t len);
/* A record too long to be an item (at least total bytes): counted, logged, dead-lettered. */
void source_reject(struct source *s, const char *data, size_t total);
/* An input the source refuses (why: "delivered 6 times"): counted, logged, dead-lettered. */
void source_reject_why(struct source *s, const char *data, size_t len, const char *why);
/* The record delimiter ('\n' or '\0') and max_item_bytes. */
char source_delim(const struct source *s);
uint64_t source_max_item(const struct source *s);
/* The source has produced everything it will. */
void source_end(struct source *s);
/* Marks the source as failed (its input broke): the job exits 1. */
void source_set_failed(struct source *s);

/*
 * framed() is asked only about records that start before off (a file source: none
 * past the last range a checkpoint had done before the restart can be skipped).
 */
void source_framed_until(struct source *s, uint64_t off);
/* The byte range of the last record the framed reader found. */
void source_framed_range(const struct source *s, uint64_t *start, uint64_t *end);

/* The framed fd reader. */
void source_fd_attach(struct source *s, int fd);
void source_fd_start(struct source *s);
void source_fd_resume(struct source *s);
/* Hands on every complete record still buffered, ignoring bounds, and closes. */
void source_fd_flush_close(struct source *s);
/* After EOF: read again (follow mode) from the same or a new fd. */
void source_fd_reset(struct source *s, int fd);
int source_fd(const struct source *s);
/* Reads the fd from off on (a checkpoint's position, a truncated file's start). */
void source_fd_seek(struct source *s, uint64_t off);
bool source_fd_progress(struct source *s, double *done, double *total);

/*
 * The http source's items of a request body (source-http.c): the whole body less
 * one trailing newline, or with split its records (a last one needs no
 * delimiter). Each goes to fn in order until fn returns false: that item is
 * returned (its length in *len), else NULL. Pure: the fuzz target calls it.
 */
typedef bool (*http_item_fn)(void *arg, const char *p, size_t len);
const char *http_body_items(const char *body, size_t n, enum split_mode split, char delim,
			    http_item_fn fn, void *arg, size_t *len);

#endif
