/*
 * tick.h: a pipeline's 1 s tick. It makes long pauses of the sources visible
 * (source_check_pause), keeps systemd informed (STATUS= at once on a change of
 * state, counters every 5 s; EXTEND_TIMEOUT_USEC while a stop is still moving),
 * and gates the watchdog pings on no stage being wedged.
 */
#ifndef SLUICE_TICK_H
#define SLUICE_TICK_H

struct pipeline;
struct tick;

struct tick *tick_new(struct pipeline *p);
/* Ticks from now on; the watchdog now asks p. */
void tick_start(struct tick *t);
void tick_stop(struct tick *t);
void tick_free(struct tick *t);

#endif
