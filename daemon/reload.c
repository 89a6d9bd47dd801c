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
#include "stage.h"
#include "util.h"

/* What may change live: per stage, plus the shutdown timings and the log. */
struct live_fields {
	uint64_t workers, timeout, max_failures;
	double rate;
	enum on_failure on_failure;
	bool max_failures_pct;
	uint64_t retry_attempts, retry_backoff, retry_max_backoff;
};

static void get_live(const struct conf_stage *st, struct live_fields *l)
{
	*l = (struct live_fields){st->workers,	      st->timeout,	 st->max_failures,
				  st->rate,	      st->on_failure,	 st->max_failures_pct,
				  st->retry.attempts, st->retry.backoff, st->retry.max_backoff};
}

static void set_live(struct conf_stage *st, const struct live_fields *l)
{
	st->workers = l->workers;
	st->timeout = l->timeout;
	st->max_failures = l->max_failures;
	st->rate = l->rate;
	st->on_failure = l->on_failure;
	st->max_failures_pct = l->max_failures_pct;
	st->retry.attempts = l->retry_attempts;
	st->retry.backoff = l->retry_backoff;
	st->retry.max_backoff = l->retry_max_backoff;
}

static char *print(const struct conf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	conf_print(c, f);
	fclose(f);
	return buf;
}

/* The first line where two printed configs differ, for the message. */
static void first_difference(const char *a, const char *b, char *out, size_t len)
{
	const char *la = a, *lb = b;
	while (*la != '\0' && *lb != '\0') {
		size_t na = strcspn(la, "\n"), nb = strcspn(lb, "\n");
		if (na != nb || strncmp(la, lb, na) != 0) {
			snprintf(out, len, "'%.*s' became '%.*s'", (int)(na > 80 ? 80 : na), la,
				 (int)(nb > 80 ? 80 : nb), lb);
			return;
		}
		la += na + (la[na] == '\n');
		lb += nb + (lb[nb] == '\n');
	}
	snprintf(out, len, "entries were added or removed");
}

int reload_config(struct pipeline *p, char *msg, size_t len)
{
	struct conf *cur = (struct conf *)pipeline_conf(p);
	char *errs = NULL;
	size_t errs_len = 0;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sdnotify("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)ts.tv_sec * 1000000ull +
							 (unsigned long long)ts.tv_nsec / 1000);
	FILE *ef = open_memstream(&errs, &errs_len);
	struct conf *next = conf_load(cur->file, ef, NULL);
	fclose(ef);
	int rc = -1;
	if (next == NULL) {
		/* Every error, as the loader wrote it, then one line saying what happened. */
		for (char *line = strtok(errs, "\n"); line != NULL; line = strtok(NULL, "\n"))
			log_error("reload: %s", line);
		snprintf(msg, len, "'%s' has errors; the running pipeline is unchanged", cur->file);
		goto out;
	}
	next->resume = cur->resume;
	/* Same structure iff both print the same once the live fields agree. */
	size_t n = next->n_stages;
	struct live_fields *wanted = xcalloc(n ? n : 1, sizeof(*wanted));
	for (size_t i = 0; i < n; i++) {
		get_live(&next->stages[i], &wanted[i]);
		if (i < cur->n_stages) {
			struct live_fields l;
			get_live(&cur->stages[i], &l);
			set_live(&next->stages[i], &l);
		}
	}
	struct conf masked_top = *next;
	next->shutdown.grace = cur->shutdown.grace;
	next->shutdown.kill_after = cur->shutdown.kill_after;
	next->log = cur->log;
	char *a = print(cur), *b = print(next);
	if (strcmp(a, b) == 0) {
		for (size_t i = 0; i < n; i++)
			set_live(&cur->stages[i], &wanted[i]);
		cur->shutdown.grace = masked_top.shutdown.grace;
		cur->shutdown.kill_after = masked_top.shutdown.kill_after;
		cur->log.level = masked_top.log.level;
		log_set_level(cur->log.level);
		for (size_t i = 0; i < pipeline_n_stages(p); i++)
			if (stage_workers(pipeline_stage(p, i)) != cur->stages[i].workers)
				stage_scale(pipeline_stage(p, i), (unsigned)cur->stages[i].workers);
		snprintf(msg, len, "reloaded '%s'", cur->file);
		rc = 0;
	} else {
		char diff[200];
		first_difference(a, b, diff, sizeof(diff));
		snprintf(msg, len,
			 "the change needs a restart (%s); the running pipeline is unchanged",
			 diff);
	}
	free(a);
	free(b);
	free(wanted);
	conf_free(next);
out:
	free(errs);
	if (rc == 0)
		log_info("reload: %s", msg);
	else
		log_error("reload: %s", msg);
	sdnotify("READY=1");
	return rc;
}
