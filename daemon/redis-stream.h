/*
 * redis-stream.h: Redis Streams with consumer groups, on the daemon's loop through
 * hiredis's libevent adapter (issue 12): a reader that takes a group's entries at
 * least once, and a writer that appends entries. Redis holds the work: its pending
 * entries list is the ledger, so a reader acks an entry only when the caller says
 * it is done, and whatever was not acked is delivered again (to this consumer
 * after a restart, to another one once it has been idle for claim_idle).
 *
 * Reader: two connections, one for the reads (XREADGROUP ... BLOCK would hold up
 * anything queued behind it) and one for acks, claims and counts. After connecting
 * it creates the group if missing (XGROUP CREATE ... MKSTREAM, from 0 or $), reads
 * its own pending entries first (id 0), then new ones (>). Every claim_idle / 2 it
 * takes over entries idle for claim_idle (XAUTOCLAIM). An entry delivered more than
 * max_deliveries times (XPENDING's counter), or without the field, is handed over
 * with a problem: the caller dead-letters and acks it. Reads ask for no more than
 * the caller's credit (rstream_credit), so a full queue stops the reads: the
 * stream may hold millions, memory holds the credit. Acks are buffered and sent as
 * one XACK per loop iteration, again after a reconnect until Redis confirmed them.
 *
 * Writer: XADD (MAXLEN ~ when maxlen is set), pipelined up to max_in_flight; an
 * entry is written when Redis replied with its id. After a reconnect, what had no
 * reply is sent again: an entry whose reply was lost is then in the stream twice.
 *
 * Both reconnect with backoff after any failure, and say so through link().
 */
#ifndef SLUICE_REDIS_STREAM_H
#define SLUICE_REDIS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

/*
 * The keys a redis-stream source and sink share: the first member of both kinds'
 * option structs, so one row of each serves both (source-redis.c, sink-redis.c).
 */
struct rstream_link_opts {
	char *address; /* HOST:PORT, [V6]:PORT or an absolute unix socket path */
	char *username, *password;
};
struct conf_ctx;
struct conf_key;
/* In source-redis.c; the sink lists them too. */
extern const struct conf_key rstream_address_row, rstream_username_row, rstream_password_row;
/* The rule they share: 'username' needs 'password'. */
void rstream_link_check(struct conf_ctx *x, const struct rstream_link_opts *l);

struct rstream_conf {
	const char *address; /* "host:port", "[v6]:port" or an absolute unix socket path */
	const char *username, *password; /* AUTH; both NULL = none */
	const char *stream;
	const char *field; /* the entry field holding the item */
	/* reader */
	const char *group, *consumer;
	unsigned batch;		 /* entries per read at most */
	uint64_t block_ms;	 /* XREADGROUP BLOCK */
	uint64_t claim_idle_ms;	 /* 0: never claim */
	unsigned max_deliveries; /* 0: no limit */
	bool start_at_end;	 /* a group created now starts at $ (else 0) */
	/* writer */
	uint64_t maxlen;	/* 0: no trimming */
	unsigned max_in_flight; /* XADDs without a reply at most */
	/* both */
	uint64_t backoff_ms, max_backoff_ms;
};

/* link(): up (and why not). */
typedef void (*rstream_link_cb)(void *arg, bool up, const char *why);

struct rstream;
/*
 * entry(): an entry to process (data is the field's value; problem is NULL), or one
 * to dead-letter and ack (problem says why: "delivered 6 times", "no field 'item'").
 * It takes one credit either way.
 */
typedef void (*rstream_entry_cb)(void *arg, const char *id, const char *data, size_t len,
				 const char *problem);

struct rstream *rstream_reader_new(struct event_base *base, const struct rstream_conf *conf,
				   rstream_entry_cb entry, rstream_link_cb link, void *arg);
/* The caller can take n more entries (its queue freed room). */
void rstream_credit(struct rstream *r, unsigned n);
/* The entry id is done (its records written, or dead-lettered): XACK it. */
void rstream_ack(struct rstream *r, const char *id);
/* Stop reading (a graceful stop); acks still go out. */
void rstream_stop_reading(struct rstream *r);
/* Entries handed out and not yet acked, and acks not yet confirmed. */
size_t rstream_unacked(const struct rstream *r);
void rstream_free(struct rstream *r);

struct rstream_writer;
/* written(): the entry given token is in the stream (Redis replied with its id). */
typedef void (*rstream_written_cb)(void *arg, uint64_t token);

struct rstream_writer *rstream_writer_new(struct event_base *base, const struct rstream_conf *conf,
					  rstream_written_cb written, rstream_link_cb link,
					  void *arg);
/* Queues an XADD of data (copied); sent now, or after the reconnect. */
void rstream_xadd(struct rstream_writer *w, const char *data, size_t len, uint64_t token);
/* True while fewer than max_in_flight XADDs await their reply. */
bool rstream_writer_ready(const struct rstream_writer *w);
size_t rstream_writer_pending(const struct rstream_writer *w);
/*
 * While down (nothing in flight): every XADD queued, oldest first, to give, then
 * forgotten (a cancel spools them). Returns how many.
 */
typedef void (*rstream_give_cb)(void *arg, const char *data, size_t len, uint64_t token);
size_t rstream_writer_take_back(struct rstream_writer *w, rstream_give_cb give, void *arg);
void rstream_writer_free(struct rstream_writer *w);

#endif
