/*
 * reload.h: SIGHUP and `sluicectl reload`. The file is loaded again with the real
 * loader; an invalid file is rejected with its file:line:col errors and the
 * running pipeline is untouched. A valid one is applied:
 *   - when only parameters that can change live differ (workers, rate, timeout,
 *     retry, on_failure, max_failures, shutdown timings, log level), in place: no
 *     item is touched;
 *   - when the structure changed (sources, stages, sinks, commands, queues), by a
 *     new pipeline that takes over from the running one while that one drains
 *     (service_scope.replace; what carries over is described in pipeline.c);
 *   - a new control socket or metrics address is refused: those belong to the
 *     daemon and change at a restart.
 */
#ifndef SLUICE_RELOAD_H
#define SLUICE_RELOAD_H

#include <stddef.h>

struct service_scope;

#define RELOAD_PENDING 1

/* The outcome of a reload that was RELOAD_PENDING: rc 0 or -1, and its message. */
typedef void (*reload_done_cb)(void *arg, int rc, const char *msg);

/*
 * Returns 0 when applied; -1 with a message in msg (also logged) when refused.
 * errors, when not NULL, receives the loader's messages (malloc'd) or NULL.
 * RELOAD_PENDING: new tcp or http sources listen on names, which are looked up off
 * the loop first; done(arg, ...) is then called (when not NULL) once the reload is
 * decided.
 */
int reload_config(const struct service_scope *sc, char *msg, size_t len, char **errors,
		  reload_done_cb done, void *arg);
/* arg (a control connection) is going away: its pending reload goes on without it. */
void reload_forget(void *arg);

#endif
