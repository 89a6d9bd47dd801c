/*
 * lifecycle.h: the states of a pipeline and the only transitions between them,
 * in one table (lifecycle.c). pipeline.c moves a pipeline from state to state by
 * events alone; a transition the table does not list is refused.
 *
 *   starting --start--> running --input_ended--> draining --drained--> stopped
 *   running, draining --stop--> stopping (input_ended: stays) --drained--> stopped
 *   starting, running, stopping, draining --cancel--> cancelling
 *   cancelling --give_up--> given_up
 *   cancelling, given_up --spool--> spooling --spooled--> cancelled
 *   cancelling, given_up --hand_over--> closing_sinks --sinks_closed--> stopped
 *
 * stopping: a stop was asked (a signal, the control socket, a reload retiring
 *   the pipeline): sources stop, what was read drains within shutdown.grace.
 * draining: every source ended by itself; the pills go through the stages.
 * given_up: cancelled work did not come back within twice kill_after (the
 *   backstop); it is waited for no longer.
 * spooling: the unfinished items are being made durable (or counted lost).
 * closing_sinks: a retiring pipeline, cancelled, handed its unfinished items to
 *   its successor; its own sinks write what they hold, within kill_after.
 */
#ifndef SLUICE_LIFECYCLE_H
#define SLUICE_LIFECYCLE_H

#include <stdbool.h>

enum lc_state {
	LC_STARTING = 0,
	LC_RUNNING,
	LC_STOPPING,
	LC_DRAINING,
	LC_CANCELLING,
	LC_GIVEN_UP,
	LC_SPOOLING,
	LC_CLOSING_SINKS,
	LC_CANCELLED,
	LC_STOPPED,
	LC_N_STATES
};

enum lc_event {
	LC_START = 0,	 /* sources, stages and sinks started */
	LC_STOP,	 /* stop reading, drain what was read */
	LC_INPUT_ENDED,	 /* the last source (or retiring predecessor) ended: pills go in */
	LC_DRAINED,	 /* the last pill left the last stage: everything read is through */
	LC_CANCEL,	 /* a failure, a second stop, grace or the deadline passing */
	LC_GIVE_UP,	 /* the backstop: cancelled work did not come back */
	LC_SPOOL,	 /* every stage is quiet: the unfinished items go to the spool */
	LC_SPOOLED,	 /* they are durable, or were counted lost */
	LC_HAND_OVER,	 /* retiring: the unfinished items went to the successor */
	LC_SINKS_CLOSED, /* retiring: its own sinks wrote what they held (or time ran out) */
	LC_N_EVENTS
};

/* The state ev leads to from s, or -1 when the table has no such transition. */
int lifecycle_next(enum lc_state s, enum lc_event ev);
bool lifecycle_allows(enum lc_state s, enum lc_event ev);
/*
 * Moves *s on ev and logs it at debug, naming who (the pipeline); false, with an
 * error logged and *s unchanged, when the transition is not in the table.
 */
bool lifecycle_step(enum lc_state *s, enum lc_event ev, const char *who);

/* Items move (sources or stages, into the sinks): running, stopping, draining. */
bool lifecycle_flowing(enum lc_state s);
/* A cancel has begun (it may be over: cancelled). */
bool lifecycle_cancelled(enum lc_state s);
/* A stop would do nothing more: one was asked, a cancel began, or it has stopped. */
bool lifecycle_stop_requested(enum lc_state s);
/* Its finished state: stopped (drained, or retired) or cancelled. */
bool lifecycle_over(enum lc_state s);

/* The state's own name ("given_up"), and the one status shows ("cancelling"). */
const char *lifecycle_state_name(enum lc_state s);
const char *lifecycle_public_name(enum lc_state s);
const char *lifecycle_event_name(enum lc_event ev);

#endif
