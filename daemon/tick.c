/* tick.c: a pipeline's 1 s tick (see tick.h). */
#include "tick.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "pipeline.h"
#include "sdnotify.h"
#include "source.h"
#include "stage.h"
#include "status.h"
#include "util.h"

struct tick {
	struct pipeline *p;
	struct event *ev;
	uint64_t ticks, done_at_last_tick;
	char last_status[256];
};

static bool healthy_cb(void *arg)
{
	struct pipeline *p = arg;
	for (size_t i = 0; i < pipeline_n_stages(p); i++)
		if (stage_wedged(pipeline_stage(p, i)))
			return false;
	return true;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tick *t = arg;
	struct pipeline *p = t->p;
	char line[256];
	t->ticks++;
	for (size_t i = 0; i < pipeline_n_sources(p); i++)
		source_check_pause(pipeline_source(p, i), 5000000);
	if (!sdnotify_enabled())
		return;
	status_line(p, line, sizeof(line));
	/* Counters every 5 s; a change of state (a pause, a drain) at once. */
	if (t->ticks % 5 == 0 || strncmp(line, t->last_status, strcspn(line, ":")) != 0 ||
	    (strstr(line, "held back") == NULL) != (strstr(t->last_status, "held back") == NULL) ||
	    (strstr(line, "cannot write") == NULL) !=
		(strstr(t->last_status, "cannot write") == NULL)) {
		sdnotify("STATUS=%s", line);
		snprintf(t->last_status, sizeof(t->last_status), "%s", line);
	}
	/* A drain that is still moving asks systemd for more time, a little at a time. */
	uint64_t done = pipeline_items_done(p);
	if (pipeline_stop_requested(p) && done != t->done_at_last_tick)
		sdnotify("EXTEND_TIMEOUT_USEC=%llu",
			 (unsigned long long)(5000000 + 2 * pipeline_conf(p)->shutdown.kill_after));
	t->done_at_last_tick = done;
}

struct tick *tick_new(struct pipeline *p)
{
	struct tick *t = xcalloc(1, sizeof(*t));
	t->p = p;
	t->ev = event_new(pipeline_base(p), -1, EV_PERSIST, tick_cb, t);
	return t;
}

void tick_start(struct tick *t)
{
	struct timeval one = {1, 0};
	event_add(t->ev, &one);
	sdnotify_watch(healthy_cb, t->p);
}

void tick_stop(struct tick *t)
{
	event_del(t->ev);
}

void tick_free(struct tick *t)
{
	if (t == NULL)
		return;
	event_free(t->ev);
	free(t);
}
