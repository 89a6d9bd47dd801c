/* reload.c: applying a changed pipeline file in place (see reload.h). */
#include "reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "log.h"
#include "pipeline.h"
#include "sdnotify.h"
#include "source.h"
#include "stage.h"
#include "service.h"
#include "tls.h"
#include "util.h"

/* What the command line set wins over the file, at every reload as at the start. */
static void log_keep_cli(struct conf *next, const struct conf *cur)
{
	if (cur->log.level_cli) {
		next->log.level = cur->log.level;
		next->log.level_cli = true;
	}
	if (cur->log.format_cli) {
		next->log.format = cur->log.format;
		next->log.format_cli = true;
	}
}

static void log_apply(const struct conf *c)
{
	log_set_level(c->log.level);
	log_set_format(c->log.format);
}

/*
 * Applies next's live keys (the live flag of conf-schema.h) to the running pipeline
 * (its conf is cur), then what they drive: worker counts, rates, the log.
 */
static void apply_live(struct pipeline *p, struct conf *cur, const struct conf *next)
{
	bool *new_rate = xcalloc(cur->n_stages ? cur->n_stages : 1, sizeof(*new_rate));
	for (size_t i = 0; i < cur->n_stages; i++)
		new_rate[i] = cur->stages[i].rate != next->stages[i].rate;
	conf_apply_live(cur, next);
	for (size_t i = 0; i < cur->n_stages; i++) {
		if (stage_workers(pipeline_stage(p, i)) != cur->stages[i].workers)
			stage_scale(pipeline_stage(p, i), (unsigned)cur->stages[i].workers);
		if (new_rate[i])
			stage_rate_changed(pipeline_stage(p, i));
	}
	free(new_rate);
	log_apply(cur);
}

/*
 * What a new pipeline cannot take over while the old one runs: the daemon's own
 * endpoints; max_item_bytes, which running sources read with; the journal, opened
 * once; a dir source replaced on the same path, whose files in hand the new one
 * would take again. Returns false with a message.
 */
static bool replaceable(const struct conf *cur, const struct conf *next, char *msg, size_t len)
{
	if (!str_same(cur->control.socket, next->control.socket) ||
	    !str_same(cur->metrics.listen, next->metrics.listen)) {
		snprintf(msg, len, "a new control.socket or metrics.listen needs a restart");
		return false;
	}
	const struct conf_tls *ta = &cur->metrics.tls, *tb = &next->metrics.tls;
	if (ta->enabled != tb->enabled || !str_same(ta->cert, tb->cert) ||
	    !str_same(ta->key, tb->key) || !str_same(ta->ca, tb->ca) || ta->verify != tb->verify ||
	    ta->min_version != tb->min_version) {
		snprintf(msg, len, "a new metrics.tls needs a restart");
		return false;
	}
	if (cur->max_item_bytes != next->max_item_bytes) {
		snprintf(msg, len, "a new max_item_bytes needs a restart");
		return false;
	}
	/* One journal per daemon, opened (and replayed) at start. */
	if (cur->journal.enabled != next->journal.enabled ||
	    (next->journal.enabled && (!str_same(cur->state_dir, next->state_dir) ||
				       cur->journal.max_bytes != next->journal.max_bytes ||
				       cur->journal.fsync != next->journal.fsync))) {
		snprintf(msg, len, "a new journal (or its state_dir) needs a restart");
		return false;
	}
	for (size_t i = 0; i < next->n_sources; i++) {
		const struct conf_source *n = &next->sources[i];
		for (size_t j = 0; source_kind_of(n->kind)->path_held && j < cur->n_sources; j++) {
			const struct conf_source *c = &cur->sources[j];
			if (c->kind != n->kind || strcmp(c->path, n->path) != 0)
				continue;
			char *a = conf_printed_source(c), *b = conf_printed_source(n);
			bool same = strcmp(a, b) == 0;
			free(a);
			free(b);
			if (!same) {
				snprintf(msg, len,
					 "%s source '%s' on '%s' changed: it is replaced only at a "
					 "restart (the files in hand would be taken twice)",
					 conf_kind_name(n->kind), n->name, n->path);
				return false;
			}
		}
	}
	return true;
}

/* A new structure: a new pipeline takes over from the running one. */
static int replace(const struct service_scope *sc, struct conf *next, const char *diff, char *msg,
		   size_t len)
{
	struct pipeline *p = service_pipeline(sc);
	const struct conf *cur = pipeline_conf(p);
	if (!pipeline_ready(p)) {
		snprintf(msg, len,
			 "the pipeline is %s: a new structure is not started now; the running "
			 "pipeline is unchanged",
			 pipeline_state_name(p));
		conf_free(next);
		return -1;
	}
	log_info("reload: the structure changed (%s): starting a new pipeline", diff);
	log_apply(next);
	if (sc->replace(sc->owner, next, msg, len) < 0) {
		log_apply(cur);
		return -1;
	}
	return 0;
}

/* A reload waiting for the names its sources listen on (source_listen_resolve). */
static struct {
	const struct service_scope *sc;
	struct conf *next;
	char diff[200];
	reload_done_cb done;
	void *arg;
} waiting;

static void finish(int rc, const char *msg)
{
	if (rc == 0)
		log_info("reload: %s", msg);
	else
		log_error("reload: %s", msg);
	sdnotify("READY=1");
}

static bool resolving, resolved_at_once; /* without a bio pool the lookups run inline */

static void names_resolved_cb(void *arg)
{
	char msg[512];
	if (resolving) {
		resolved_at_once = true;
		return;
	}
	struct conf *next = waiting.next;
	waiting.next = NULL;
	int rc = replace(waiting.sc, next, waiting.diff, msg, sizeof(msg));
	source_listen_resolved_clear();
	finish(rc, msg);
	if (waiting.done != NULL)
		waiting.done(waiting.arg, rc, msg);
}

static int apply(const struct service_scope *sc, struct conf *next, char *msg, size_t len,
		 reload_done_cb done, void *arg)
{
	struct pipeline *p = service_pipeline(sc);
	struct conf *cur = (struct conf *)pipeline_conf(p);
	char diff[200], why[300];

	log_keep_cli(next, cur);
	if (!conf_structure_differs(cur, next, diff, sizeof(diff))) {
		apply_live(p, cur, next);
		conf_free(next);
		snprintf(msg, len, "reloaded '%s'", cur->file);
		return 0;
	}
	if (!replaceable(cur, next, why, sizeof(why))) {
		snprintf(msg, len, "%s; the running pipeline is unchanged", why);
		conf_free(next);
		return -1;
	}
	if (waiting.next != NULL) {
		snprintf(msg, len,
			 "the previous reload is still looking up listen addresses; the running "
			 "pipeline is unchanged");
		conf_free(next);
		return -1;
	}
	/* Names first, off the loop: getaddrinfo can block for seconds. */
	waiting.sc = sc;
	waiting.next = next;
	snprintf(waiting.diff, sizeof(waiting.diff), "%s", diff);
	waiting.done = done;
	waiting.arg = arg;
	resolving = true;
	resolved_at_once = false;
	int r = source_listen_resolve(next, names_resolved_cb, NULL);
	resolving = false;
	if (r > 0 && !resolved_at_once) {
		log_info("reload: looking up the listen addresses of the new sources first");
		snprintf(msg, len, "looking up listen addresses");
		return RELOAD_PENDING;
	}
	waiting.next = NULL;
	int rc = replace(sc, next, diff, msg, len);
	source_listen_resolved_clear();
	return rc;
}

void reload_forget(void *arg)
{
	if (waiting.next != NULL && waiting.arg == arg)
		waiting.done = NULL;
}

int reload_config(const struct service_scope *sc, char *msg, size_t len, char **errors,
		  reload_done_cb done, void *arg)
{
	const struct conf *cur = pipeline_conf(service_pipeline(sc));
	char *errs = NULL;
	size_t errs_len = 0;
	struct timespec ts;
	int rc = -1;

	if (errors != NULL)
		*errors = NULL;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sdnotify("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)ts.tv_sec * 1000000ull +
							 (unsigned long long)ts.tv_nsec / 1000);
	if (strcmp(cur->file, "-") == 0) {
		snprintf(
		    msg, len,
		    "the configuration was read from standard input (-c -), so there is no "
		    "file to read again; the running pipeline is unchanged (restart to change it)");
		finish(-1, msg);
		return -1;
	}
	FILE *ef = open_memstream(&errs, &errs_len);
	struct conf *next = conf_load(cur->file, ef, NULL);
	fclose(ef);
	if (next == NULL) {
		/* Every error, as the loader wrote it, then one line saying what happened. */
		char *copy = xstrdup(errs != NULL ? errs : "");
		for (char *line = strtok(copy, "\n"); line != NULL; line = strtok(NULL, "\n"))
			log_error("reload: %s", line);
		free(copy);
		snprintf(msg, len, "'%s' has errors; the running pipeline is unchanged", cur->file);
		if (errors != NULL) {
			*errors = errs;
			errs = NULL;
		}
	} else {
		next->resume = false;
		/* Same paths, maybe renewed files: new connections get new contexts. */
		tls_renew();
		rc = apply(sc, next, msg, len, done, arg);
	}
	free(errs);
	if (rc != RELOAD_PENDING)
		finish(rc, msg);
	return rc;
}
