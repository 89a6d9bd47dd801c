/* signals.c: signal events to pipeline actions (see signals.h). */
#include "signals.h"

#include <event2/event.h>
#include <signal.h>

#include "log.h"
#include "pipeline.h"
#include "reload.h"
#include "service.h"
#include "summary.h"
#include "util.h"

static const int handled[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
static struct event *events[ARRAY_LEN(handled)];

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	const struct service_scope *sc = arg;
	struct pipeline *p = service_pipeline(sc);
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_info("received %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		pipeline_stop(p);
		break;
	case SIGHUP: {
		char msg[512];
		log_info("received SIGHUP: reloading");
		reload_config(sc, msg, sizeof(msg), NULL, NULL, NULL);
		break;
	}
	case SIGUSR1:
		log_info("received SIGUSR1: reopening output files");
		pipeline_reopen(p);
		break;
	case SIGUSR2:
		summary_log_counts(p);
		break;
	}
}

void signals_init(const struct service_scope *sc)
{
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < ARRAY_LEN(handled); i++) {
		events[i] = evsignal_new(sc->base, handled[i], signal_cb, (void *)sc);
		event_add(events[i], NULL);
	}
}

void signals_free(void)
{
	sigset_t set, old;
	/*
	 * The exit code is decided: a late signal must not turn it into a death. Freeing
	 * an event restores the default action, so the signals are blocked across the
	 * switch to "ignore"; one that arrives meanwhile is then discarded.
	 */
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_LEN(handled); i++)
		sigaddset(&set, handled[i]);
	sigprocmask(SIG_BLOCK, &set, &old);
	for (size_t i = 0; i < ARRAY_LEN(handled); i++) {
		if (events[i] != NULL)
			event_free(events[i]);
		events[i] = NULL;
		signal(handled[i], SIG_IGN);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}
