/*
 * metrics.h: the HTTP endpoint (`metrics: {listen: "HOST:PORT"}`): /metrics in
 * the Prometheus text format, /health/live, /health/ready and /status (JSON),
 * served by evhttp on the pipeline's loop. GET and HEAD only.
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stddef.h>

struct metrics;
struct service_scope;

/*
 * Binds listen and serves. NULL with *exit_code set and the reason logged: 78 for
 * a malformed address, 73 when it cannot be bound.
 */
struct conf_tls;
/* tls: serve https when tls->enabled (NULL: plain http). */
struct metrics *metrics_new(const struct service_scope *sc, const char *listen,
			    const struct conf_tls *tls, int *exit_code);
void metrics_free(struct metrics *m);

#endif
