/*
 * sink.h: outputs. A sink is a buffered record writer: on one fd (a file,
 * stdout, or nothing) here, or a kind of its own (a socket, a command, HTTP);
 * `struct sinks` is the consumer of the pipeline's last queue that hands every
 * finished item to every sink (fan-out).
 *
 * Records are appended whole to a buffer and written in large writes, so a
 * record is never torn: a short write is finished before anything else, also at
 * cancel. A sink whose buffer passes its high mark (a slow pipe, a full disk)
 * stops the consumer, which backs up the queue and, in turn, the stages.
 * A write error other than EAGAIN keeps the data and retries every second; a
 * partly written record is cut off the file again.
 *
 * The consumer also tells sources when a record they track (track.h) is done:
 * every sink finishes records in order, so record k of the fan-out is done once
 * every sink has finished k records; until then the consumer holds a reference.
 */
#ifndef SLUICE_SINK_H
#define SLUICE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "item.h"
#include "queue.h"

struct scope;
struct recbuf;
struct recbuf_meta;
struct sink;
struct sinks;

/* Hands back one record a sink held: its bytes (no newline) and origin (may be NULL). */
typedef void (*sink_give_cb)(void *arg, const char *data, size_t len, const struct recbuf_meta *m);

/*
 * A sink kind: one table entry each (DESIGN §2). file, stdout and discard share
 * the fd writer in sink.c; tcp and unix are in sink-net.c, exec in sink-exec.c,
 * http in sink-http.c. Records must be finished in the order they were
 * appended: the consumer relies on it to tell sources when a record is done.
 */
struct sink_kind {
	enum sink_type type;
	/* Sets up (may start connecting); -1 with a message for a start that must fail. */
	int (*open)(struct sink *s, char *err, size_t errlen);
	/* Takes one record: the item's bytes and a newline. Never blocks. */
	void (*append)(struct sink *s, const struct item *it);
	/* Writes what it can without blocking. */
	void (*flush)(struct sink *s);
	/* Holding too much: the consumer stops until a wake. */
	bool (*busy)(const struct sink *s);
	/* Every record appended is finished: a drain may end. */
	bool (*idle)(const struct sink *s);
	/*
	 * Optional: writing now (connected, the last write went through); without it,
	 * always. Readiness, sluice_sink_up and the status say so.
	 */
	bool (*up)(const struct sink *s);
	/* Optional: cannot write at all now (disconnected); a cancel spools instead. */
	bool (*down)(const struct sink *s);
	/* Optional: the input has ended (send partial batches, close a command's stdin). */
	void (*drain)(struct sink *s);
	/*
	 * Optional, at a cancel while the sink is down: every record it still holds,
	 * oldest first, goes to give (when not NULL) and is forgotten, so that it is
	 * spooled rather than lost. Returns how many.
	 */
	uint64_t (*take_back)(struct sink *s, sink_give_cb give, void *arg);
	/* Optional: SIGUSR1. */
	void (*reopen)(struct sink *s);
	/* After the loop: finish what it can within timeout_usec; returns records lost. */
	uint64_t (*close)(struct sink *s, uint64_t timeout_usec);
	void (*free)(struct sink *s);
};

extern const struct sink_kind sink_tcp, sink_unix, sink_exec, sink_http, sink_redis_stream;

/* Opens a file or stdout writer (the dead letter, the joblog); NULL with a message. */
struct sink *sink_open(struct scope *sc, const char *name, enum sink_type type, const char *path,
		       enum fsync_mode fsync, char *err, size_t errlen);
/* Opens a configured sink of any kind; NULL with a message. */
struct sink *sink_open_conf(struct scope *sc, const struct conf_sink *cs, char *err, size_t errlen);
/* Appends data and a newline as one record (file and stdout writers). */
void sink_append(struct sink *s, const char *data, size_t len);
/* Hands an item to the sink as one record. */
void sink_put(struct sink *s, const struct item *it);
/* Writes what it can without blocking. */
void sink_flush(struct sink *s);
bool sink_busy(const struct sink *s);
bool sink_empty(const struct sink *s);
/* Reopens a file sink at its path (SIGUSR1, for logrotate). */
void sink_reopen(struct sink *s);
/* Final flush, waiting up to timeout_usec for a slow reader; returns records never written. */
uint64_t sink_close(struct sink *s, uint64_t timeout_usec);
/* Records written: taken by the kernel (a file) or by the peer, never merely held. */
uint64_t sink_written(const struct sink *s);
/* Records the sink has taken and not yet written (its buffer, a batch in flight). */
uint64_t sink_held(const struct sink *s);
bool sink_up(const struct sink *s);
/* Records that failed for good (an HTTP 4xx). */
uint64_t sink_failed(const struct sink *s);
/* Closes (flushing without waiting) and frees. */
void sink_free(struct sink *s);
const char *sink_name(const struct sink *s);
enum sink_type sink_type(const struct sink *s);

/* For kinds. */
void **sink_state(struct sink *s);
const struct conf_sink *sink_conf(const struct sink *s);
struct scope *sink_scope(struct sink *s);
/* Records finished, in order: n written; lost (never will be); failed (for good). */
void sink_count_done(struct sink *s, uint64_t n);
void sink_count_lost(struct sink *s, uint64_t n);
void sink_count_failed(struct sink *s, uint64_t n);
/* Records handed back for the spool (not written, not lost). */
void sink_count_returned(struct sink *s, uint64_t n);
/* take_back for a kind that holds its records in b: each to give, then forgotten. */
uint64_t sink_give_back(struct sink *s, struct recbuf *b, sink_give_cb give, void *arg);
/* From an event callback: records finished or room freed; the consumer looks again. */
void sink_wake(struct sink *s);

struct sinks *sinks_new(struct scope *sc, const struct conf *c, struct queue *in, char *err,
			size_t errlen);
void sinks_start(struct sinks *ss);
/*
 * A reload: the unchanged sinks serve the new pipeline p, reading its queue in
 * (from now, or, not started yet, once sinks_start()).
 */
void sinks_move(struct sinks *ss, struct scope *sc, struct queue *in);
void sink_move(struct sink *s, struct scope *sc);
/*
 * The input has ended (a cancelled pipeline replaced by a reload): nothing more is
 * taken from the queue; scope_sinks_finished() once every sink has written what
 * it holds.
 */
void sinks_finish(struct sinks *ss);
void sinks_reopen(struct sinks *ss);
/*
 * Cancelling: hands every item still queued for the sinks to them (written at
 * close). If one of them is down, they stay queued, for the spool, and what the
 * down sinks still hold is spooled too (once: a sink that had written some of
 * those records gets them again at the replay).
 */
void sinks_drain_queue(struct sinks *ss);
/* Only the down sinks' part of that (a retiring pipeline): true if one was down. */
bool sinks_take_back(struct sinks *ss);
/* The first sink that cannot write now (sink_up), or NULL. */
const struct sink *sinks_first_down(const struct sinks *ss);
size_t sinks_count(const struct sinks *ss);
struct sink *sinks_get(const struct sinks *ss, size_t i);
/* Closes every sink (final flush); returns records left unwritten. */
uint64_t sinks_close(struct sinks *ss, uint64_t timeout_usec);
void sinks_free(struct sinks *ss);
/* No fdatasync of theirs is still running on the bio pool (true for NULL): they may be freed. */
bool sink_settled(const struct sink *s);
bool sinks_settled(const struct sinks *ss);

#endif
