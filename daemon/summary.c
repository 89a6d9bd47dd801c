/* summary.c: a pipeline's counts for people (see summary.h). */
#include "summary.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "pipeline.h"
#include "queue.h"
#include "report.h"
#include "sink.h"
#include "source.h"
#include "stage.h"

/* What a job cut short left unread, and how to finish it. */
static void print_unread(struct pipeline *p, FILE *out)
{
	for (size_t i = 0; i < pipeline_n_sources(p); i++) {
		struct source *s = pipeline_source(p, i);
		uint64_t bytes, n;
		if (!source_cut_short(s))
			continue;
		if ((n = source_unread(s, &bytes)) != UINT64_MAX)
			fprintf(out, "not read: source %s: %" PRIu64 " records\n", source_name(s),
				n);
		else if (bytes > 0)
			fprintf(out,
				"not read: source %s: %" PRIu64 " bytes (too many to count the "
				"records)\n",
				source_name(s), bytes);
		else
			fprintf(out,
				"not read: source %s: the rest of its input (a pipe or a command "
				"cannot say how much)\n",
				source_name(s));
	}
	if (pipeline_conf(p)->joblog != NULL)
		fprintf(out,
			"incomplete: stopped before its input ended; run it again with --resume "
			"to do the rest\n");
	else
		fprintf(out,
			"incomplete: stopped before its input ended; a new run starts over (with "
			"a joblog, --resume would do only the rest)\n");
}

static void print_counts(struct pipeline *p, void (*out)(const char *fmt, ...))
{
	size_t n_stages = pipeline_n_stages(p);
	for (size_t i = 0; i < pipeline_n_sources(p); i++) {
		struct source *s = pipeline_source(p, i);
		out("source %s: items=%" PRIu64 " rejected=%" PRIu64 " skipped=%" PRIu64 "\n",
		    source_name(s), source_items(s), source_rejected(s), source_skipped(s));
	}
	for (size_t i = 0; i < n_stages; i++) {
		struct stage_counts c;
		stage_counts(pipeline_stage(p, i), &c);
		out("stage %s: in=%" PRIu64 " ok=%" PRIu64 " failed=%" PRIu64 " dropped=%" PRIu64
		    " in_flight=%" PRIu64 " queued=%" PRIu64 "\n",
		    stage_name(pipeline_stage(p, i)), c.in, c.ok, c.failed, c.dropped, c.in_flight,
		    c.queued);
	}
	struct queue *q = pipeline_queue(p, n_stages);
	const struct queue_stats *qs = queue_stats(q);
	out("sinks: in=%" PRIu64 " dropped=%" PRIu64 " queued=%" PRIu64 "\n", qs->pushed,
	    qs->dropped, queue_len(q));
	struct sinks *sinks = pipeline_sinks(p);
	for (size_t i = 0; sinks != NULL && i < sinks_count(sinks); i++) {
		struct sink *s = sinks_get(sinks, i);
		/* Only an http sink can fail a record (a 4xx); other lines keep their shape. */
		if (sink_fails_records(s))
			out("sink %s: written=%" PRIu64 " failed=%" PRIu64 "\n", sink_name(s),
			    sink_written(s), sink_failed(s));
		else
			out("sink %s: written=%" PRIu64 "\n", sink_name(s), sink_written(s));
	}
	struct pipeline_totals t;
	pipeline_totals(p, &t);
	if (t.has_dead_letter)
		out("dead_letter: written=%" PRIu64 "\n", t.dead_lettered);
}

static FILE *summary_out; /* while summary_print() builds the summary */

static void raw_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void raw_out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(summary_out, fmt, ap);
	va_end(ap);
}

static void info_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info_out(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	buf[strcspn(buf, "\n")] = '\0';
	log_info("status: %s", buf);
}

void summary_log_counts(struct pipeline *p)
{
	print_counts(p, info_out);
}

void summary_print(struct pipeline *p, int exit_code)
{
	static const char *const meaning[] = {[0] = "all items succeeded",
					      [1] = "some items failed or were dropped",
					      [2] = "cancelled"};
	struct pipeline_totals t;
	pipeline_totals(p, &t);
	const char *what = "error";
	if (exit_code <= 2)
		what = meaning[exit_code];
	else if (exit_code == 75)
		what = t.cancelled ? "stopped before the drain finished"
				   : "stopped before its input ended";
	char *text = NULL;
	size_t len = 0;
	FILE *out = summary_out = open_memstream(&text, &len);
	fprintf(out, "summary: pipeline '%s' exit=%d (%s) elapsed=%.3fs\n", pipeline_conf(p)->name,
		exit_code, what, t.elapsed);
	print_counts(p, raw_out);
	if (t.replayed > 0)
		fprintf(out, "replayed: items=%" PRIu64 "\n", t.replayed);
	if (t.skipped_failed > 0)
		fprintf(out,
			"resume: skipped=%" PRIu64 " item(s) that failed in an earlier run "
			"(the joblog says so); --resume-failed runs them again\n",
			t.skipped_failed);
	if (t.kept > 0)
		fprintf(out, "unfinished: spooled=%" PRIu64 " lost=%" PRIu64 " kept=%" PRIu64 "\n",
			t.spooled, t.lost, t.kept);
	else
		fprintf(out, "unfinished: spooled=%" PRIu64 " lost=%" PRIu64 "\n", t.spooled,
			t.lost);
	if (exit_code == 75 && t.cut_short)
		print_unread(p, out);
	report_print(t.report, out, log_is_json());
	fclose(out);
	summary_out = NULL;
	log_summary(text);
	free(text);
}
