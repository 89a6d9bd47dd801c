/* supervisor.c: the daemon's scope (see supervisor.h). */
#include "supervisor.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf.h"
#include "control.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"
#include "progress.h"
#include "service.h"
#include "signals.h"
#include "summary.h"
#include "util.h"

struct supervisor {
	struct event_base *base;
	struct service_scope scope; /* what signals, control, metrics and reload see */
	struct pipeline *active;
	struct pipeline **retired; /* replaced by a reload, still draining */
	size_t n_retired;
	struct conf **confs; /* every file a live pipeline points into */
	size_t n_confs;
	struct event *reap_ev; /* frees the retired pipelines that have finished */
	struct control *control;
	struct metrics *metrics;
};

static void keep_conf(struct supervisor *sv, struct conf *conf)
{
	sv->confs = xrealloc(sv->confs, (sv->n_confs + 1) * sizeof(*sv->confs));
	sv->confs[sv->n_confs++] = conf;
}

static bool conf_in_use(const struct supervisor *sv, const struct conf *conf)
{
	if (pipeline_uses_conf(sv->active, conf))
		return true;
	for (size_t i = 0; i < sv->n_retired; i++)
		if (pipeline_uses_conf(sv->retired[i], conf))
			return true;
	return false;
}

/*
 * Off the stack of the pipeline's own callbacks: a retired pipeline that has
 * finished is freed, and with it every file nothing alive points into any more.
 * One still settling (an fdatasync in flight, acks due) is looked at again shortly.
 */
static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor *sv = arg;
	bool waiting = false;
	size_t kept = 0;
	for (size_t i = 0; i < sv->n_retired; i++) {
		struct pipeline *p = sv->retired[i];
		if (pipeline_settled(p)) {
			pipeline_free(p);
			continue;
		}
		sv->retired[kept++] = p;
		waiting |= pipeline_finished(p);
	}
	sv->n_retired = kept;
	kept = 0;
	for (size_t i = 0; i < sv->n_confs; i++) {
		if (conf_in_use(sv, sv->confs[i]))
			sv->confs[kept++] = sv->confs[i];
		else
			conf_free(sv->confs[i]);
	}
	sv->n_confs = kept;
	if (waiting) {
		struct timeval later = {0, 100000};
		evtimer_add(sv->reap_ev, &later);
	}
}

static struct pipeline *active_pipeline(void *owner)
{
	const struct supervisor *sv = owner;
	return sv->active;
}

static int replace(void *owner, struct conf *conf, char *msg, size_t len);

struct supervisor *supervisor_new(struct event_base *base, struct conf *conf, int progress,
				  int *exit_code)
{
	struct supervisor *sv = xcalloc(1, sizeof(*sv));
	sv->base = base;
	sv->scope = (struct service_scope){
	    .base = base, .owner = sv, .active = active_pipeline, .replace = replace};
	sv->reap_ev = evtimer_new(base, reap_cb, sv);
	keep_conf(sv, conf);
	sv->active = pipeline_new(base, conf, NULL, exit_code);
	if (sv->active == NULL)
		goto fail;
	if (conf->control.socket != NULL &&
	    (sv->control = control_new(&sv->scope, conf->control.socket, exit_code)) == NULL)
		goto fail;
	if (conf->metrics.listen != NULL &&
	    (sv->metrics = metrics_new(&sv->scope, conf->metrics.listen, &conf->metrics.tls,
				       exit_code)) == NULL)
		goto fail;
	signals_init(&sv->scope);
	if (progress == 1 ||
	    (progress == -1 && isatty(STDERR_FILENO) && pipeline_is_job(sv->active)))
		progress_start(sv->active);
	return sv;
fail:
	supervisor_free(sv);
	return NULL;
}

static void pipeline_done(struct pipeline *p, void *arg)
{
	struct supervisor *sv = arg;
	struct timeval now = {0, 0};
	if (p == sv->active)
		event_base_loopexit(sv->base, NULL);
	else
		evtimer_add(sv->reap_ev, &now);
}

int supervisor_run(struct supervisor *sv)
{
	int code = pipeline_start(sv->active, pipeline_done, sv);
	if (code == 0)
		event_base_dispatch(sv->base);
	progress_stop();
	if (code == 0)
		code = pipeline_finish(sv->active);
	summary_print(sv->active, code);
	return code;
}

void supervisor_free(struct supervisor *sv)
{
	if (sv == NULL)
		return;
	signals_free();
	if (sv->reap_ev != NULL)
		event_free(sv->reap_ev);
	metrics_free(sv->metrics);
	control_free(sv->control);
	for (size_t i = 0; i < sv->n_retired; i++)
		pipeline_free(sv->retired[i]);
	free(sv->retired);
	pipeline_free(sv->active);
	for (size_t i = 0; i < sv->n_confs; i++)
		conf_free(sv->confs[i]);
	free(sv->confs);
	free(sv);
}

/* service_scope.replace: a reload with a new structure (reload.c). */
static int replace(void *owner, struct conf *conf, char *msg, size_t len)
{
	struct supervisor *sv = owner;
	int code = 0;
	struct pipeline *next = pipeline_new(sv->base, conf, sv->active, &code);
	if (next == NULL) {
		snprintf(msg, len,
			 "the new pipeline could not be built (see the log); the running pipeline "
			 "is unchanged");
		conf_free(conf);
		return -1;
	}
	keep_conf(sv, conf);
	sv->retired = xrealloc(sv->retired, (sv->n_retired + 1) * sizeof(*sv->retired));
	sv->retired[sv->n_retired++] = sv->active;
	sv->active = next;
	progress_follow(next);
	pipeline_start(next, pipeline_done, sv);
	snprintf(msg, len,
		 "reloaded '%s': the structure changed; the previous pipeline drains while the "
		 "new one runs",
		 conf->file);
	return 0;
}
