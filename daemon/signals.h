/*
 * signals.h: every signal the daemon handles, routed through one switch to a
 * pipeline action on the loop (never work inside a handler): TERM/INT stop
 * (a second one cancels), HUP reload, USR1 reopen files, USR2 status to the log.
 * SIGPIPE is ignored, so a vanished reader is an EPIPE error, not a death.
 */
#ifndef SLUICE_SIGNALS_H
#define SLUICE_SIGNALS_H

struct event_base;
struct pipeline;

void signals_init(struct event_base *base, struct pipeline *p);
void signals_free(void);

#endif
