/*
 * sink.h: outputs. A sink is a buffered record writer on one fd (a file, stdout,
 * or nothing); `struct sinks` is the consumer of the pipeline's last queue that
 * hands every finished item to every sink (fan-out).
 *
 * Records are appended whole to an evbuffer and written in large writes, so a
 * record is never torn: a short write is finished before anything else, also at
 * cancel. A sink whose buffer passes its high mark (a slow pipe, a full disk)
 * stops the consumer, which backs up the queue and, in turn, the stages.
 * A write error other than EAGAIN keeps the data and retries every second.
 */
#ifndef SLUICE_SINK_H
#define SLUICE_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "queue.h"

struct pipeline;
struct sink;
struct sinks;

/* Opens one writer; NULL with a message on failure. wake(arg) runs when it drains. */
struct sink *sink_open(struct pipeline *p, const char *name, enum sink_type type, const char *path,
		       enum fsync_mode fsync, char *err, size_t errlen);
/* Appends data and a newline as one record. */
void sink_append(struct sink *s, const char *data, size_t len);
/* Writes what it can without blocking. */
void sink_flush(struct sink *s);
bool sink_busy(const struct sink *s);
bool sink_empty(const struct sink *s);
/* Reopens a file sink at its path (SIGUSR1, for logrotate). */
void sink_reopen(struct sink *s);
/* Final flush, waiting up to timeout_usec for a slow reader; returns records never written. */
uint64_t sink_close(struct sink *s, uint64_t timeout_usec);
uint64_t sink_written(const struct sink *s);
/* Closes (flushing without waiting) and frees. */
void sink_free(struct sink *s);
const char *sink_name(const struct sink *s);

struct sinks *sinks_new(struct pipeline *p, const struct conf *c, struct queue *in, char *err,
			size_t errlen);
void sinks_start(struct sinks *ss);
void sinks_reopen(struct sinks *ss);
/* Cancelling: hands every item still queued for the sinks to them (written at close). */
void sinks_drain_queue(struct sinks *ss);
size_t sinks_count(const struct sinks *ss);
struct sink *sinks_get(const struct sinks *ss, size_t i);
/* Closes every sink (final flush); returns records left unwritten. */
uint64_t sinks_close(struct sinks *ss, uint64_t timeout_usec);
void sinks_free(struct sinks *ss);

#endif
