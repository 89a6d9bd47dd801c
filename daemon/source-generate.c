/*
 * source-generate.c: generated items, `template` expanded with {seq} counting
 * from 1: `count` of them (or endless), one per `interval` (or as fast as the
 * queue takes them, in batches per loop iteration so signals stay served).
 */
#include <event2/event.h>
#include <stdlib.h>

#include "scope.h"
#include "source.h"
#include "template.h"
#include "util.h"

#define GENERATE_BATCH 1024

struct generator {
	struct event *ev;
	uint64_t made;
	bool fast;
};

static void gen_produce(struct source *s)
{
	const struct conf_source *cs = source_conf(s);
	struct generator *g = *source_state(s);
	int budget = g->fast ? GENERATE_BATCH : 1;

	while (budget-- > 0) {
		if (cs->count >= 0 && g->made >= (uint64_t)cs->count) {
			event_del(g->ev);
			source_end(s);
			return;
		}
		/* Paused by the operator: make nothing until resumed. */
		if (source_held(s) && !source_ready(s)) {
			event_del(g->ev);
			return;
		}
		struct template_vars v = {NULL, 0, g->made + 1, cs->name};
		size_t len;
		char *text = template_expand(cs->template, &v, &len);
		g->made++;
		bool more = source_emit(s, text, len);
		free(text);
		if (!more) {
			event_del(g->ev);
			return;
		}
	}
	if (g->fast)
		event_active(g->ev, 0, 0);
}

static void gen_cb(evutil_socket_t fd, short what, void *arg)
{
	gen_produce(arg);
}

static void gen_resume(struct source *s);

static void gen_start(struct source *s)
{
	const struct conf_source *cs = source_conf(s);
	struct generator *g = xcalloc(1, sizeof(*g));
	*source_state(s) = g;
	g->fast = cs->interval == 0;
	g->ev = event_new(scope_base(source_scope(s)), -1, g->fast ? 0 : EV_PERSIST, gen_cb, s);
	gen_resume(s);
}

static void gen_resume(struct source *s)
{
	const struct conf_source *cs = source_conf(s);
	struct generator *g = *source_state(s);
	if (g->fast) {
		event_active(g->ev, 0, 0);
	} else {
		struct timeval tv = {(time_t)(cs->interval / 1000000),
				     (suseconds_t)(cs->interval % 1000000)};
		event_add(g->ev, &tv);
	}
}

static void gen_stop(struct source *s)
{
	struct generator *g = *source_state(s);
	if (g != NULL)
		event_del(g->ev);
	source_end(s);
}

static void gen_free(struct source *s)
{
	struct generator *g = *source_state(s);
	if (g != NULL) {
		event_free(g->ev);
		free(g);
	}
}

static bool gen_progress(struct source *s, double *done, double *total)
{
	struct generator *g = *source_state(s);
	if (source_conf(s)->count < 0)
		return false;
	*done = g != NULL ? (double)g->made : 0;
	*total = (double)source_conf(s)->count;
	return true;
}

static bool gen_finite(const struct conf_source *cs)
{
	return cs->count >= 0;
}

static const struct conf_key generate_rows[] = {
    {"count", CT_COUNT, .off = CONF_SRC(count),
     .doc = "How many items to generate (default: endless)."},
    {"interval", CT_DURATION, .off = CONF_SRC(interval), .def = "0s",
     .doc = "Time between items; 0s: as fast as the queue takes them."},
    {"template", CT_STR, .off = CONF_SRC(template), .def = "{seq}",
     .doc = "Each item, with {seq} replaced."},
};

const struct source_kind source_generate = {
    .conf = {.name = "generate",
	     CONF_ROWS(&generate_rows[0], &generate_rows[1], &generate_rows[2])},
    .progress = gen_progress,
    .finite = gen_finite,
    .start = gen_start,
    .resume = gen_resume,
    .stop = gen_stop,
    .free = gen_free,
};
