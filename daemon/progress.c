/* progress.c: the progress line (see progress.h). */
#include "progress.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pipeline.h"
#include "util.h"

static struct event *tick;
static struct pipeline *prog_p;
static bool shown;
static uint64_t started;

void progress_clear(void)
{
	if (shown) {
		log_stderr_try("\r\033[K", 4);
		shown = false;
	}
}

static void fmt_eta(double sec, char *buf, size_t len)
{
	uint64_t s = (uint64_t)(sec + 0.5);
	if (s >= 3600)
		snprintf(buf, len, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64, s / 3600, s / 60 % 60,
			 s % 60);
	else
		snprintf(buf, len, "%" PRIu64 ":%02" PRIu64, s / 60, s % 60);
}

static void draw(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline_progress pp;
	char line[256], pct[32] = "", eta[32] = "";
	double elapsed = (double)(now_usec() - started) / 1e6;

	pipeline_progress(prog_p, &pp);
	double rate = elapsed > 0 ? (double)pp.done / elapsed : 0;
	if (pp.fraction > 0) {
		/* The items to expect, from how much of the input the items read came from. */
		double total = (double)pp.read / pp.fraction;
		double share = total > 0 ? (double)pp.done / total : 0;
		snprintf(pct, sizeof(pct), " %3.0f%% of ~%.0f |", share > 1 ? 100 : share * 100,
			 total);
		if (rate > 0) {
			double left = total > (double)pp.done ? total - (double)pp.done : 0;
			memcpy(eta, " ETA ", 6);
			fmt_eta(left / rate, eta + 5, sizeof(eta) - 5);
		}
	}
	int n = snprintf(line, sizeof(line),
			 "\r%s:%s %" PRIu64 " done, %" PRIu64 " failed | %.0f/s%s\033[K",
			 pipeline_conf(prog_p)->name, pct, pp.done, pp.failed, rate, eta);
	if (n > 0 && log_stderr_try(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1))
		shown = true;
}

void progress_start(struct pipeline *p)
{
	struct timeval tv = {0, 100000};
	prog_p = p;
	started = now_usec();
	log_set_before_write(progress_clear);
	tick = event_new(pipeline_base(p), -1, EV_PERSIST, draw, NULL);
	event_add(tick, &tv);
}

void progress_follow(struct pipeline *p)
{
	if (prog_p != NULL)
		prog_p = p;
}

void progress_stop(void)
{
	if (tick != NULL) {
		event_free(tick);
		tick = NULL;
	}
	progress_clear();
	log_set_before_write(NULL);
	prog_p = NULL;
}
