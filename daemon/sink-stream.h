/*
 * sink-stream.h: the engine behind the byte-stream sinks (tcp, unix: sink-net.c;
 * exec: sink-exec.c). A kind supplies how to open a connection and how much of
 * what was written the other side has not taken yet; the engine does the rest:
 * a bounded record buffer (recbuf.h) whose high mark is backpressure on the
 * consumer, non-blocking writes, reconnecting with jittered exponential backoff
 * (every wait a timer, cancelled with the sink), and resending whole every
 * record that was not confirmed when a connection was lost.
 */
#ifndef SLUICE_SINK_STREAM_H
#define SLUICE_SINK_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "sink.h"

struct stream;

struct stream_ops {
	const char *verb; /* "connect to", "run": for messages */
	/* Arm a connect timeout (the sink's `timeout`) while opening. */
	bool open_timeout;
	/* Watch the fd for EOF (a socket peer closing); a pipe's write end cannot be read. */
	bool watch_read;
	/*
	 * unconsumed() still tells the truth once the other side is gone (a pipe keeps
	 * its unread bytes while we hold the write end; a reset socket may not).
	 */
	bool confirm_at_loss;
	/* Starts a connection: stream_opened() or stream_open_failed(), now or later. */
	void (*open)(struct stream *st);
	/* Optional: abandon an open in progress that has no fd yet (a DNS lookup). */
	void (*cancel_open)(struct stream *st);
	/* Bytes written to fd that the other side has not taken yet (may overstate). */
	uint64_t (*unconsumed)(struct stream *st, int fd);
	/* The connection is over: close fd, let go of what goes with it. */
	void (*closed)(struct stream *st, int fd);
	/*
	 * Optional: the input ended and every record was taken; fd is handed over.
	 * True when the sink is finished now; else stream_set_drained() comes later.
	 */
	bool (*drain)(struct stream *st, int fd);
	/*
	 * Optional, after the loop: end the connection (fd is handed over, -1 if
	 * none) and wait up to timeout_usec for the other side to finish.
	 */
	void (*finish)(struct stream *st, int fd, uint64_t timeout_usec);
	void (*free)(struct stream *st);
};

/* Sets the sink up as a stream of this kind and starts opening. */
struct stream *stream_new(struct sink *s, const struct stream_ops *ops, void *kind,
			  const char *peer);
void *stream_kind(struct stream *st);
struct sink *stream_sink(struct stream *st);
const char *stream_peer(struct stream *st);

/* From the kind's open(): connected (or, in_progress, a connect() pending), or not. */
void stream_opened(struct stream *st, int fd, bool in_progress);
void stream_open_failed(struct stream *st, int err, const char *detail);
/* The other side went away (a command exited): reconnect, resend what was not taken. */
void stream_lost(struct stream *st, const char *why);
/* After drain() returned false: the other side has finished. */
void stream_set_drained(struct stream *st);

/* The sink_kind functions, for the kinds' tables. */
void stream_append(struct sink *s, const struct item *it);
void stream_flush(struct sink *s);
bool stream_busy(const struct sink *s);
bool stream_idle(const struct sink *s);
bool stream_up(const struct sink *s);
bool stream_down(const struct sink *s);
void stream_drain(struct sink *s);
uint64_t stream_take_back(struct sink *s, sink_give_cb give, void *arg);
uint64_t stream_close(struct sink *s, uint64_t timeout_usec);
void stream_free(struct sink *s);

/* A sink kind built on the stream engine: only its conf and open() differ. */
#define STREAM_SINK_KIND(OPEN, ...)                                                                \
	{                                                                                          \
		.conf = {__VA_ARGS__}, .open = (OPEN), .append = stream_append,                    \
		.flush = stream_flush, .busy = stream_busy, .idle = stream_idle, .up = stream_up,  \
		.down = stream_down, .drain = stream_drain, .take_back = stream_take_back,         \
		.close = stream_close, .free = stream_free,                                        \
	}

#endif
