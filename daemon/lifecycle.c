/* lifecycle.c: a pipeline's states and their transitions (see lifecycle.h). */
#include "lifecycle.h"

#include "log.h"

#define NONE  (-1)
#define TO(s) ((s) + 1) /* 0 in the table: no transition */

/* next[state][event]: the one place a pipeline's state may change. */
static const unsigned char next[LC_N_STATES][LC_N_EVENTS] = {
    [LC_STARTING] = {[LC_START] = TO(LC_RUNNING), [LC_CANCEL] = TO(LC_CANCELLING)},
    [LC_RUNNING] = {[LC_STOP] = TO(LC_STOPPING),
		    [LC_INPUT_ENDED] = TO(LC_DRAINING),
		    [LC_CANCEL] = TO(LC_CANCELLING)},
    [LC_STOPPING] = {[LC_INPUT_ENDED] = TO(LC_STOPPING),
		     [LC_DRAINED] = TO(LC_STOPPED),
		     [LC_CANCEL] = TO(LC_CANCELLING)},
    [LC_DRAINING] = {[LC_STOP] = TO(LC_STOPPING),
		     [LC_DRAINED] = TO(LC_STOPPED),
		     [LC_CANCEL] = TO(LC_CANCELLING)},
    [LC_CANCELLING] = {[LC_GIVE_UP] = TO(LC_GIVEN_UP),
		       [LC_SPOOL] = TO(LC_SPOOLING),
		       [LC_HAND_OVER] = TO(LC_CLOSING_SINKS)},
    [LC_GIVEN_UP] = {[LC_SPOOL] = TO(LC_SPOOLING), [LC_HAND_OVER] = TO(LC_CLOSING_SINKS)},
    [LC_SPOOLING] = {[LC_SPOOLED] = TO(LC_CANCELLED)},
    [LC_CLOSING_SINKS] = {[LC_SINKS_CLOSED] = TO(LC_STOPPED)},
    [LC_CANCELLED] = {0},
    [LC_STOPPED] = {0},
};

static const char *const state_names[LC_N_STATES] = {
    [LC_STARTING] = "starting",	    [LC_RUNNING] = "running",
    [LC_STOPPING] = "stopping",	    [LC_DRAINING] = "draining",
    [LC_CANCELLING] = "cancelling", [LC_GIVEN_UP] = "given_up",
    [LC_SPOOLING] = "spooling",	    [LC_CLOSING_SINKS] = "closing_sinks",
    [LC_CANCELLED] = "cancelled",   [LC_STOPPED] = "stopped",
};

/* What status, metrics and sd_notify have always shown. */
static const char *const public_names[LC_N_STATES] = {
    [LC_STARTING] = "starting",	  [LC_RUNNING] = "running",	     [LC_STOPPING] = "draining",
    [LC_DRAINING] = "draining",	  [LC_CANCELLING] = "cancelling",    [LC_GIVEN_UP] = "cancelling",
    [LC_SPOOLING] = "cancelling", [LC_CLOSING_SINKS] = "cancelling", [LC_CANCELLED] = "cancelling",
    [LC_STOPPED] = "stopped",
};

static const char *const event_names[LC_N_EVENTS] = {
    [LC_START] = "start",
    [LC_STOP] = "stop",
    [LC_INPUT_ENDED] = "input_ended",
    [LC_DRAINED] = "drained",
    [LC_CANCEL] = "cancel",
    [LC_GIVE_UP] = "give_up",
    [LC_SPOOL] = "spool",
    [LC_SPOOLED] = "spooled",
    [LC_HAND_OVER] = "hand_over",
    [LC_SINKS_CLOSED] = "sinks_closed",
};

int lifecycle_next(enum lc_state s, enum lc_event ev)
{
	if ((unsigned)s >= LC_N_STATES || (unsigned)ev >= LC_N_EVENTS)
		return NONE;
	return (int)next[s][ev] - 1;
}

bool lifecycle_allows(enum lc_state s, enum lc_event ev)
{
	return lifecycle_next(s, ev) != NONE;
}

bool lifecycle_step(enum lc_state *s, enum lc_event ev, const char *who)
{
	int to = lifecycle_next(*s, ev);
	if (to == NONE) {
		log_error("pipeline '%s': no transition from %s on %s (ignored)", who,
			  lifecycle_state_name(*s), lifecycle_event_name(ev));
		return false;
	}
	log_debug("pipeline '%s': %s -> %s (%s)", who, state_names[*s], state_names[to],
		  event_names[ev]);
	*s = (enum lc_state)to;
	return true;
}

bool lifecycle_flowing(enum lc_state s)
{
	return s == LC_RUNNING || s == LC_STOPPING || s == LC_DRAINING;
}

bool lifecycle_cancelled(enum lc_state s)
{
	return s == LC_CANCELLING || s == LC_GIVEN_UP || s == LC_SPOOLING ||
	       s == LC_CLOSING_SINKS || s == LC_CANCELLED;
}

bool lifecycle_stop_requested(enum lc_state s)
{
	return s == LC_STOPPING || s == LC_STOPPED || lifecycle_cancelled(s);
}

bool lifecycle_over(enum lc_state s)
{
	return s == LC_STOPPED || s == LC_CANCELLED;
}

const char *lifecycle_state_name(enum lc_state s)
{
	return (unsigned)s < LC_N_STATES ? state_names[s] : "?";
}

const char *lifecycle_public_name(enum lc_state s)
{
	return (unsigned)s < LC_N_STATES ? public_names[s] : "?";
}

const char *lifecycle_event_name(enum lc_event ev)
{
	return (unsigned)ev < LC_N_EVENTS ? event_names[ev] : "?";
}
