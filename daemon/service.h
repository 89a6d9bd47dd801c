/*
 * service.h: what the daemon's services (signals, reload, control, metrics) need
 * of the scope above them: its loop, its active pipeline, and the way a reload
 * replaces that. supervisor.c fills one and hands it to each service it creates,
 * so no service includes supervisor.h (which includes theirs): the calls up go
 * through these callbacks.
 */
#ifndef SLUICE_SERVICE_H
#define SLUICE_SERVICE_H

#include <stddef.h>

struct conf;
struct event_base;
struct pipeline;

struct service_scope {
	struct event_base *base;
	void *owner; /* the supervisor: the callbacks' first argument */
	/* The active pipeline: the one signals, control and metrics act on. */
	struct pipeline *(*active)(void *owner);
	/*
	 * Makes conf (a reloaded file with a new structure) the active pipeline, taking
	 * over from the current one, which must be running (pipeline_ready); takes conf.
	 * 0, or -1 with a message; the current one then runs on.
	 */
	int (*replace)(void *owner, struct conf *conf, char *msg, size_t len);
};

static inline struct pipeline *service_pipeline(const struct service_scope *sc)
{
	return sc->active(sc->owner);
}

#endif
