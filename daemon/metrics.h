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
 * Splits "HOST:PORT" ("[V6ADDR]:PORT" for IPv6; PORT 0 picks a free port) into
 * host and port. -1 with a message in err when it is malformed.
 */
int metrics_parse_listen(const char *listen, char *host, size_t hostlen, unsigned *port, char *err,
			 size_t errlen);
/* The same, for the config loader: is listen well formed? */
int metrics_check_listen(const char *listen, char *err, size_t errlen);
/*
 * Binds listen and serves. NULL with *exit_code set and the reason logged: 78 for
 * a malformed address, 73 when it cannot be bound.
 */
struct metrics *metrics_new(const struct service_scope *sc, const char *listen, int *exit_code);
void metrics_free(struct metrics *m);

#endif
