/*
 * source-generate.c: generated items, `template` expanded with {seq} counting
 * from 1: `count` of them (or endless), one per `interval` (or as fast as the
 * queue takes them, in batches per loop iteration so signals stay served).
 *
 * With a journal, a generator with a count keeps how many it made in
 * STATE_DIR/generate.NAME.next, so a restart goes on from there instead of
 * starting over (what it had made and not finished comes back from the journal).
 * The number is written only once the items it counts are safe in the journal
 * (journal_loop_when_safe): behind them after a crash means a few repeated items,
 * never a skipped one. It is replaced whole (tmp + rename) on the bio pool and
 * fsync'ed as journal.fsync says (statesync.h), so a power cut leaves an old value
 * or the new one, never a torn one.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "journal-loop.h"
#include "log.h"
#include "scope.h"
#include "source.h"
#include "statesync.h"
#include "template.h"
#include "util.h"

#define GENERATE_BATCH 1024

struct generator {
	struct event *ev;
	uint64_t made;
	bool fast;
	struct value_file *pos; /* the kept count, NULL without one */
	struct journal_waiter jw;
	uint64_t jw_upto; /* what jw makes safe */
};

static void pos_write(struct source *s, uint64_t made)
{
	struct generator *g = *source_state(s);
	char line[32];
	snprintf(line, sizeof(line), "%020" PRIu64 "\n", made);
	value_file_set(g->pos, line);
}

static void pos_safe_cb(void *arg)
{
	struct source *s = arg;
	struct generator *g = *source_state(s);
	pos_write(s, g->jw_upto);
	if (g->made > g->jw_upto) {
		g->jw_upto = g->made;
		journal_loop_when_safe(&g->jw, pos_safe_cb, s);
	}
}

/* The count made in an earlier run, from STATE_DIR (0 when there is none). */
static void pos_open(struct source *s, struct generator *g)
{
	const struct conf_source *cs = source_conf(s);
	const struct conf *c = scope_conf(source_scope(s));
	if (cs->count < 0 || !source_journaled(s) || c->state_dir == NULL)
		return;
	char *path = xasprintf("%s/generate.%s.next", c->state_dir, cs->name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		log_warn("source '%s': cannot read its count in '%s'", cs->name, path);
	char line[32] = "";
	ssize_t n = fd >= 0 ? read(fd, line, sizeof(line) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n > 0) {
		line[n] = '\0';
		g->made = strtoull(line, NULL, 10);
		if (g->made > (uint64_t)cs->count)
			g->made = (uint64_t)cs->count;
		if (g->made > 0)
			log_info("source '%s': goes on after the %" PRIu64 " item(s) made before "
				 "('%s')",
				 cs->name, g->made, path);
	}
	g->jw_upto = g->made;
	g->pos = value_file_new(c->journal.fsync, path);
	free(path);
}

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
		if (g->pos != NULL && !g->jw.waiting) {
			g->jw_upto = g->made;
			journal_loop_when_safe(&g->jw, pos_safe_cb, s);
		}
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
	pos_open(s, g);
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
		journal_loop_cancel(&g->jw);
		/* The journal's last write follows (at its close): the count may say all. */
		if (g->pos != NULL) {
			pos_write(s, g->made);
			value_file_free(g->pos); /* written once its job has run */
		}
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
