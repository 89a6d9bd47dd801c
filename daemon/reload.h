/*
 * reload.h: SIGHUP and `sluicectl reload`. The file is loaded again with the real
 * loader; an invalid file is rejected with its file:line:col errors and the
 * running pipeline is untouched. A valid one is applied in place when only
 * parameters that can change live differ (workers, rate, timeout, retry,
 * on_failure, max_failures, shutdown timings, deadline-free log settings): no
 * item is touched, so none is lost or repeated. A change of structure (sources,
 * stages, sinks, commands, queues) is refused with a message naming it: this
 * version applies those only at a restart.
 */
#ifndef SLUICE_RELOAD_H
#define SLUICE_RELOAD_H

#include <stddef.h>

struct pipeline;

/* Returns 0 when applied; -1 with a message in msg (also logged) when refused. */
int reload_config(struct pipeline *p, char *msg, size_t len);

#endif
