/* unfinished.c: a cancel's unfinished items and their spool (see unfinished.h). */
#include "unfinished.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "log.h"
#include "spool.h"
#include "util.h"

_Static_assert(SPOOL_NAME_MAX >= CONF_NAME_MAX, "a spool record must hold any name whole");

void unfinished_add(struct unfinished *u, const char *stage, struct item *it)
{
	if (u->n == u->cap) {
		u->cap = u->cap ? u->cap * 2 : 64;
		u->v = xrealloc(u->v, u->cap * sizeof(*u->v));
	}
	u->v[u->n].stage = xstrdup(stage);
	u->v[u->n].it = it;
	u->n++;
}

static void lost(struct unfinished *u)
{
	log_error("%zu unfinished item(s) were lost%s", u->n,
		  u->path == NULL
		      ? ": set shutdown.spool (or run under systemd with StateDirectory=) to "
			"keep them for the next start"
		      : "");
	u->done(u->done_arg, true);
}

static void committed_cb(void *arg, int rc, const char *err)
{
	struct unfinished *u = arg;
	u->spooling = false;
	if (rc == 0) {
		log_info("spooled %" PRIu64
			 " unfinished item(s) to '%s'; they run first at the next start",
			 u->spooled, u->path);
		u->done(u->done_arg, false);
		return;
	}
	u->spooled = 0;
	u->spool_failed = true;
	log_error("%s", err);
	lost(u);
}

void unfinished_spool(struct unfinished *u, const char *path, unfinished_name_fn name,
		      void *name_arg, unfinished_done_fn done, void *arg)
{
	char err[1024];
	u->path = path;
	u->done = done;
	u->done_arg = arg;
	if (u->n == 0) {
		done(arg, false);
		return;
	}
	if (path != NULL) {
		struct spool_writer *w = spool_begin(path, err, sizeof(err));
		for (size_t i = 0; w != NULL && i < u->n; i++) {
			struct item *it = u->v[i].it;
			struct spool_record r = {.seq = it->seq,
						 .index = it->index,
						 .attempts = it->attempts,
						 .data = it->data,
						 .len = it->len};
			snprintf(r.stage, sizeof(r.stage), "%s", u->v[i].stage);
			snprintf(r.source, sizeof(r.source), "%s", name(name_arg, it->source));
			spool_add(w, &r);
		}
		if (w != NULL) {
			u->spooled = u->n;
			u->spooling = true;
			spool_commit_async(w, committed_cb, u);
			return;
		}
		u->spool_failed = true;
		log_error("%s", err);
	}
	lost(u);
}

void unfinished_clear(struct unfinished *u)
{
	for (size_t i = 0; i < u->n; i++) {
		free(u->v[i].stage);
		item_free(u->v[i].it);
	}
	u->n = 0;
}

void unfinished_forget(struct unfinished *u)
{
	u->n = 0;
}

void unfinished_free(struct unfinished *u)
{
	unfinished_clear(u);
	free(u->v);
	u->v = NULL;
	u->cap = 0;
}
