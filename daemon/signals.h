/*
 * signals.h: every signal the daemon handles, routed through one switch to a
 * pipeline action on the loop (never work inside a handler): TERM/INT stop
 * (a second one cancels), HUP reload, USR1 reopen files, USR2 status to the log.
 * SIGPIPE is ignored, so a vanished reader is an EPIPE error, not a death.
 */
#ifndef SLUICE_SIGNALS_H
#define SLUICE_SIGNALS_H

struct service_scope;

/* Signals act on the scope's active pipeline (a reload replaces it). */
void signals_init(const struct service_scope *sc);
void signals_free(void);

#endif
