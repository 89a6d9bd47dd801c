/* status.c: renderings of the live state (see status.h). */
#include "status.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "journal-loop.h"
#include "log.h"
#include "pipeline.h"
#include "queue.h"
#include "sink.h"
#include "source.h"
#include "stage.h"
#include "util.h"

static const char *source_state_name(struct source *s)
{
	if (source_ended(s))
		return "ended";
	if (source_held(s))
		return "paused";
	if (source_paused(s))
		return "held back";
	return "reading";
}

/* Seconds since the checkpoint's last commit (0 before the first). */
static double checkpoint_age(const struct source_checkpoint *ck)
{
	return ck->committed_at > 0 ? (double)(now_usec() - ck->committed_at) / 1e6 : 0;
}

void status_json(struct pipeline *p, struct evbuffer *out)
{
	const struct conf *c = pipeline_conf(p);
	struct pipeline_progress pp;
	pipeline_progress(p, &pp);
	evbuffer_add_printf(out,
			    "{\"pipeline\":\"%s\",\"state\":\"%s\",\"uptime_seconds\":%.3f,"
			    "\"done\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"dead_lettered\":%" PRIu64
			    ",\"sources\":[",
			    c->name, pipeline_state_name(p), pipeline_uptime(p), pp.done, pp.failed,
			    pipeline_dead_lettered(p));
	for (size_t i = 0; i < pipeline_n_sources(p); i++) {
		struct source *s = pipeline_source(p, i);
		evbuffer_add_printf(
		    out,
		    "%s{\"name\":\"%s\",\"type\":\"%s\",\"state\":\"%s\",\"items\":%" PRIu64
		    ",\"rejected\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"paused_seconds\":%.3f",
		    i ? "," : "", source_name(s), source_kind_name(s), source_state_name(s),
		    source_items(s), source_rejected(s), source_skipped(s),
		    (double)source_paused_usec(s) / 1e6);
		struct source_checkpoint ck;
		if (source_checkpoint(s, &ck))
			evbuffer_add_printf(out,
					    ",\"checkpoint\":{\"position\":%" PRIu64
					    ",\"age_seconds\":%.3f,\"resumed_at\":%" PRIu64
					    ",\"resumed_done_bytes\":%" PRIu64 "}",
					    ck.position, checkpoint_age(&ck), ck.resumed_at,
					    ck.resumed_done_bytes);
		evbuffer_add(out, "}", 1);
	}
	evbuffer_add(out, "],\"stages\":[", 12);
	for (size_t i = 0; i < pipeline_n_stages(p); i++) {
		struct stage *st = pipeline_stage(p, i);
		struct queue *q = pipeline_queue(p, i);
		struct stage_counts sc;
		stage_counts(st, &sc);
		evbuffer_add_printf(
		    out,
		    "%s{\"name\":\"%s\",\"workers\":%u,\"paused\":%s,\"in\":%" PRIu64
		    ",\"ok\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"dropped\":%" PRIu64
		    ",\"in_flight\":%" PRIu64 ",\"queued\":%" PRIu64 ",\"queue_bytes\":%" PRIu64
		    ",\"queue_capacity\":%" PRIu64 ",\"queue_max_bytes\":%" PRIu64
		    ",\"retries\":%" PRIu64 ",\"restarts\":%" PRIu64 "}",
		    i ? "," : "", stage_name(st), stage_workers(st),
		    stage_paused(st) ? "true" : "false", sc.in, sc.ok, sc.failed, sc.dropped,
		    sc.in_flight, sc.queued, queue_bytes(q), stage_conf(st)->queue.capacity,
		    stage_conf(st)->queue.max_bytes, stage_retries(st), stage_restarts(st));
	}
	struct queue *sq = pipeline_queue(p, pipeline_n_stages(p));
	evbuffer_add_printf(out,
			    "],\"sink_queue\":{\"in\":%" PRIu64 ",\"dropped\":%" PRIu64
			    ",\"queued\":%" PRIu64 "},\"sinks\":[",
			    queue_stats(sq)->pushed, queue_stats(sq)->dropped, queue_len(sq));
	struct sinks *ss = pipeline_sinks(p);
	for (size_t i = 0; i < sinks_count(ss); i++) {
		struct sink *s = sinks_get(ss, i);
		evbuffer_add_printf(out, "%s{\"name\":\"%s\",\"up\":%s,\"written\":%" PRIu64 "}",
				    i ? "," : "", sink_name(s), sink_up(s) ? "true" : "false",
				    sink_written(s));
	}
	evbuffer_add(out, "]", 1);
	if (journal_loop_on()) {
		const struct journal_recovery *r = journal_loop_recovery();
		evbuffer_add_printf(out,
				    ",\"journal\":{\"items\":%" PRIu64 ",\"bytes\":%" PRIu64
				    ",\"replayed\":%" PRIu64 ",\"torn_bytes\":%" PRIu64
				    ",\"damaged_bytes\":%" PRIu64 "}",
				    journal_loop_items(), journal_loop_bytes(),
				    journal_loop_replayed(), r->torn_bytes, r->damaged_bytes);
	}
	evbuffer_add_printf(out, ",\"previous_pipeline\":");
	if (pipeline_previous_draining(p))
		evbuffer_add_printf(out, "{\"state\":\"draining\",\"items\":%" PRIu64 "}}\n",
				    pipeline_previous_items(p));
	else
		evbuffer_add_printf(out, "null}\n");
}

void status_text(struct pipeline *p, struct evbuffer *out)
{
	struct pipeline_progress pp;
	pipeline_progress(p, &pp);
	evbuffer_add_printf(
	    out, "pipeline %s: %s, up %.1fs, %" PRIu64 " done, %" PRIu64 " failed\n\n",
	    pipeline_conf(p)->name, pipeline_state_name(p), pipeline_uptime(p), pp.done, pp.failed);
	if (pipeline_previous_draining(p))
		evbuffer_add_printf(out,
				    "the pipeline before the last reload is draining: %" PRIu64
				    " item(s) left\n\n",
				    pipeline_previous_items(p));
	if (journal_loop_on()) {
		const struct journal_recovery *r = journal_loop_recovery();
		evbuffer_add_printf(out,
				    "journal: %" PRIu64 " unfinished item(s), %" PRIu64
				    " byte(s); at start replayed %" PRIu64
				    " item(s), dropped %" PRIu64
				    " byte(s) of torn tail and %" PRIu64 " damaged byte(s)\n\n",
				    journal_loop_items(), journal_loop_bytes(),
				    journal_loop_replayed(), r->torn_bytes, r->damaged_bytes);
	}
	evbuffer_add_printf(out, "%-20s %-9s %-10s %12s %9s %10s\n", "SOURCE", "TYPE", "STATE",
			    "ITEMS", "REJECTED", "PAUSED_S");
	for (size_t i = 0; i < pipeline_n_sources(p); i++) {
		struct source *s = pipeline_source(p, i);
		evbuffer_add_printf(out, "%-20s %-9s %-10s %12" PRIu64 " %9" PRIu64 " %10.1f\n",
				    source_name(s), source_kind_name(s), source_state_name(s),
				    source_items(s), source_rejected(s),
				    (double)source_paused_usec(s) / 1e6);
	}
	for (size_t i = 0; i < pipeline_n_sources(p); i++) {
		struct source *s = pipeline_source(p, i);
		struct source_checkpoint ck;
		if (source_checkpoint(s, &ck))
			evbuffer_add_printf(out,
					    "checkpoint %s: done up to byte %" PRIu64
					    ", committed %.1fs ago; resumed at byte %" PRIu64
					    ", %" PRIu64 " byte(s) done past it\n",
					    source_name(s), ck.position, checkpoint_age(&ck),
					    ck.resumed_at, ck.resumed_done_bytes);
	}
	evbuffer_add_printf(out, "\n%-20s %7s %10s %10s %8s %8s %9s %8s %8s\n", "STAGE", "WORKERS",
			    "IN", "OK", "FAILED", "DROPPED", "IN_FLIGHT", "QUEUED", "RETRIES");
	for (size_t i = 0; i < pipeline_n_stages(p); i++) {
		struct stage *st = pipeline_stage(p, i);
		struct stage_counts sc;
		stage_counts(st, &sc);
		evbuffer_add_printf(out,
				    "%-20s %6u%s %10" PRIu64 " %10" PRIu64 " %8" PRIu64 " %8" PRIu64
				    " %9" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n",
				    stage_name(st), stage_workers(st), stage_paused(st) ? "P" : " ",
				    sc.in, sc.ok, sc.failed, sc.dropped, sc.in_flight, sc.queued,
				    stage_retries(st));
	}
	evbuffer_add_printf(out, "\n%-20s %-5s %12s\n", "SINK", "UP", "WRITTEN");
	struct sinks *ss = pipeline_sinks(p);
	for (size_t i = 0; i < sinks_count(ss); i++)
		evbuffer_add_printf(out, "%-20s %-5s %12" PRIu64 "\n", sink_name(sinks_get(ss, i)),
				    sink_up(sinks_get(ss, i)) ? "yes" : "no",
				    sink_written(sinks_get(ss, i)));
}

static void help(struct evbuffer *out, const char *name, const char *type, const char *text)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

static void prometheus_series(struct pipeline *p, struct evbuffer *out)
{
	size_t n = pipeline_n_stages(p);
	const char *pl = pipeline_conf(p)->name;

	help(out, "sluice_up", "gauge", "1 while the pipeline is running and not stopping.");
	evbuffer_add_printf(out, "sluice_up{pipeline=\"%s\"} %d\n", pl, pipeline_ready(p) ? 1 : 0);

	help(out, "sluice_items_total", "counter", "Items that finished a stage, by outcome.");
	for (size_t i = 0; i < n; i++) {
		struct stage_counts sc;
		const char *name = stage_name(pipeline_stage(p, i));
		stage_counts(pipeline_stage(p, i), &sc);
		evbuffer_add_printf(
		    out,
		    "sluice_items_total{stage=\"%s\",outcome=\"ok\"} %" PRIu64 "\n"
		    "sluice_items_total{stage=\"%s\",outcome=\"failed\"} %" PRIu64 "\n"
		    "sluice_items_total{stage=\"%s\",outcome=\"dropped\"} %" PRIu64 "\n",
		    name, sc.ok, name, sc.failed, name, sc.dropped);
	}
	static const struct {
		const char *name, *text;
	} qm[] = {
	    {"sluice_queue_items", "Items waiting in a queue (named after the stage it feeds)."},
	    {"sluice_queue_bytes", "Bytes of the items waiting in a queue."},
	    {"sluice_queue_capacity_items", "A queue's capacity in items."},
	};
	for (size_t m = 0; m < 3; m++) {
		help(out, qm[m].name, "gauge", qm[m].text);
		for (size_t i = 0; i <= n; i++) {
			struct queue *q = pipeline_queue(p, i);
			uint64_t v = m == 0 ? queue_len(q)
				     : m == 1
					 ? queue_bytes(q)
					 : (i < n ? stage_conf(pipeline_stage(p, i))->queue.capacity
						  : pipeline_conf(p)->queue.capacity);
			evbuffer_add_printf(out, "%s{queue=\"%s\"} %" PRIu64 "\n", qm[m].name,
					    queue_name(q), v);
		}
	}
	help(out, "sluice_inflight", "gauge", "Items being worked on in a stage.");
	for (size_t i = 0; i < n; i++) {
		struct stage_counts sc;
		stage_counts(pipeline_stage(p, i), &sc);
		evbuffer_add_printf(out, "sluice_inflight{stage=\"%s\"} %" PRIu64 "\n",
				    stage_name(pipeline_stage(p, i)), sc.in_flight);
	}
	help(out, "sluice_workers", "gauge", "A stage's worker count (its concurrency limit).");
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(out, "sluice_workers{stage=\"%s\"} %u\n",
				    stage_name(pipeline_stage(p, i)),
				    stage_workers(pipeline_stage(p, i)));
	help(out, "sluice_item_duration_seconds", "histogram",
	     "Time from an item's start in a stage to its completion, per attempt.");
	for (size_t i = 0; i < n; i++) {
		const struct stage_timing *t = stage_timing(pipeline_stage(p, i));
		const char *name = stage_name(pipeline_stage(p, i));
		uint64_t cum = 0;
		for (size_t b = 0; b < STAGE_HIST_BUCKETS; b++) {
			cum += t->buckets[b];
			evbuffer_add_printf(
			    out,
			    "sluice_item_duration_seconds_bucket{stage=\"%s\",le=\"%g\"} "
			    "%" PRIu64 "\n",
			    name, stage_hist_bounds[b], cum);
		}
		evbuffer_add_printf(
		    out,
		    "sluice_item_duration_seconds_bucket{stage=\"%s\",le=\"+Inf\"} %" PRIu64
		    "\nsluice_item_duration_seconds_sum{stage=\"%s\"} %.6f\n"
		    "sluice_item_duration_seconds_count{stage=\"%s\"} %" PRIu64 "\n",
		    name, t->count, name, t->sum, name, t->count);
	}
	help(out, "sluice_retries_total", "counter", "Attempts retried after a failure.");
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(out, "sluice_retries_total{stage=\"%s\"} %" PRIu64 "\n",
				    stage_name(pipeline_stage(p, i)),
				    stage_retries(pipeline_stage(p, i)));
	help(out, "sluice_restarts_total", "counter", "Co-processes restarted after they died.");
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(out, "sluice_restarts_total{stage=\"%s\"} %" PRIu64 "\n",
				    stage_name(pipeline_stage(p, i)),
				    stage_restarts(pipeline_stage(p, i)));
	help(out, "sluice_source_items_total", "counter", "Items a source produced.");
	for (size_t i = 0; i < pipeline_n_sources(p); i++)
		evbuffer_add_printf(out, "sluice_source_items_total{source=\"%s\"} %" PRIu64 "\n",
				    source_name(pipeline_source(p, i)),
				    source_items(pipeline_source(p, i)));
	help(out, "sluice_source_paused_seconds_total", "counter",
	     "Time a source spent held back by backpressure.");
	for (size_t i = 0; i < pipeline_n_sources(p); i++)
		evbuffer_add_printf(out, "sluice_source_paused_seconds_total{source=\"%s\"} %.3f\n",
				    source_name(pipeline_source(p, i)),
				    (double)source_paused_usec(pipeline_source(p, i)) / 1e6);
	help(out, "sluice_source_paused", "gauge",
	     "1 while a source is held back by backpressure.");
	for (size_t i = 0; i < pipeline_n_sources(p); i++)
		evbuffer_add_printf(out, "sluice_source_paused{source=\"%s\"} %d\n",
				    source_name(pipeline_source(p, i)),
				    source_paused(pipeline_source(p, i)) ? 1 : 0);
	help(out, "sluice_checkpoint_age_seconds", "gauge",
	     "Seconds since a file source last committed its checkpoint (state_dir).");
	for (size_t i = 0; i < pipeline_n_sources(p); i++) {
		struct source_checkpoint ck;
		if (source_checkpoint(pipeline_source(p, i), &ck))
			evbuffer_add_printf(
			    out, "sluice_checkpoint_age_seconds{source=\"%s\"} %.3f\n",
			    source_name(pipeline_source(p, i)), checkpoint_age(&ck));
	}
	help(out, "sluice_checkpoint_position_bytes", "gauge",
	     "Where a file source's checkpoint stands: every byte before it is done.");
	for (size_t i = 0; i < pipeline_n_sources(p); i++) {
		struct source_checkpoint ck;
		if (source_checkpoint(pipeline_source(p, i), &ck))
			evbuffer_add_printf(
			    out, "sluice_checkpoint_position_bytes{source=\"%s\"} %" PRIu64 "\n",
			    source_name(pipeline_source(p, i)), ck.position);
	}
	help(out, "sluice_source_rejected_total", "counter",
	     "Records a source rejected (longer than max_item_bytes, not valid for its framing).");
	for (size_t i = 0; i < pipeline_n_sources(p); i++)
		evbuffer_add_printf(
		    out, "sluice_source_rejected_total{source=\"%s\"} %" PRIu64 "\n",
		    source_name(pipeline_source(p, i)), source_rejected(pipeline_source(p, i)));
	help(out, "sluice_source_skipped_total", "counter",
	     "Records skipped because the joblog lists them as finished (--resume).");
	for (size_t i = 0; i < pipeline_n_sources(p); i++)
		evbuffer_add_printf(out, "sluice_source_skipped_total{source=\"%s\"} %" PRIu64 "\n",
				    source_name(pipeline_source(p, i)),
				    source_skipped(pipeline_source(p, i)));
	help(out, "sluice_dead_lettered_total", "counter", "Items written to the dead letter.");
	evbuffer_add_printf(out, "sluice_dead_lettered_total %" PRIu64 "\n",
			    pipeline_dead_lettered(p));
	help(out, "sluice_sink_records_total", "counter", "Records a sink wrote.");
	struct sinks *ss = pipeline_sinks(p);
	for (size_t i = 0; i < sinks_count(ss); i++)
		evbuffer_add_printf(out, "sluice_sink_records_total{sink=\"%s\"} %" PRIu64 "\n",
				    sink_name(sinks_get(ss, i)), sink_written(sinks_get(ss, i)));
	help(out, "sluice_sink_failed_total", "counter",
	     "Records a sink failed for good (an http sink's 4xx answer).");
	for (size_t i = 0; i < sinks_count(ss); i++)
		evbuffer_add_printf(out, "sluice_sink_failed_total{sink=\"%s\"} %" PRIu64 "\n",
				    sink_name(sinks_get(ss, i)), sink_failed(sinks_get(ss, i)));
	help(out, "sluice_sink_pending_records", "gauge",
	     "Records a sink has taken and not yet written (buffered, or a request in flight).");
	for (size_t i = 0; i < sinks_count(ss); i++)
		evbuffer_add_printf(out, "sluice_sink_pending_records{sink=\"%s\"} %" PRIu64 "\n",
				    sink_name(sinks_get(ss, i)), sink_held(sinks_get(ss, i)));
	help(out, "sluice_log_dropped_total", "counter",
	     "Log lines dropped because stderr did not take them in time.");
	evbuffer_add_printf(out, "sluice_log_dropped_total %" PRIu64 "\n", log_dropped());
	help(out, "sluice_sink_up", "gauge",
	     "1 while a sink can write (connected, its last write went through), else 0.");
	for (size_t i = 0; i < sinks_count(ss); i++)
		evbuffer_add_printf(out, "sluice_sink_up{sink=\"%s\"} %d\n",
				    sink_name(sinks_get(ss, i)), sink_up(sinks_get(ss, i)) ? 1 : 0);
	if (!journal_loop_on())
		return;
	help(out, "sluice_journal_bytes", "gauge", "Bytes of the journal's live segments.");
	evbuffer_add_printf(out, "sluice_journal_bytes %" PRIu64 "\n", journal_loop_bytes());
	help(out, "sluice_journal_items", "gauge", "Items in the journal not done yet.");
	evbuffer_add_printf(out, "sluice_journal_items %" PRIu64 "\n", journal_loop_items());
}

/*
 * Every series carries the pipeline's name, so that several daemons (sluice@a,
 * sluice@b) scraped into one Prometheus stay apart. Added here, in one place, to
 * every sample line the series above wrote, rather than in each format string.
 */
void status_prometheus(struct pipeline *p, struct evbuffer *out)
{
	struct evbuffer *raw = evbuffer_new();
	const char *pl = pipeline_conf(p)->name;
	char *line;
	size_t len;

	prometheus_series(p, raw);
	while ((line = evbuffer_readln(raw, &len, EVBUFFER_EOL_LF)) != NULL) {
		char *brace = strchr(line, '{'), *space = strchr(line, ' ');
		if (line[0] == '#' || (brace != NULL && strstr(brace, "pipeline=\"") != NULL))
			evbuffer_add_printf(out, "%s\n", line);
		else if (brace != NULL && (space == NULL || brace < space))
			evbuffer_add_printf(out, "%.*spipeline=\"%s\",%s\n",
					    (int)(brace + 1 - line), line, pl, brace + 1);
		else if (space != NULL)
			evbuffer_add_printf(out, "%.*s{pipeline=\"%s\"}%s\n", (int)(space - line),
					    line, pl, space);
		free(line);
	}
	evbuffer_free(raw);
}

void status_line(struct pipeline *p, char *buf, size_t len)
{
	struct pipeline_progress pp;
	pipeline_progress(p, &pp);
	int n = snprintf(buf, len, "%s: %" PRIu64 " done, %" PRIu64 " failed",
			 pipeline_state_name(p), pp.done, pp.failed);
	for (size_t i = 0; i < pipeline_n_sources(p) && n > 0 && (size_t)n < len; i++) {
		struct source *s = pipeline_source(p, i);
		if (source_paused(s))
			n += snprintf(buf + n, len - (size_t)n, "; source '%s' held back %.0fs",
				      source_name(s), (double)source_paused_usec(s) / 1e6);
		else if (source_held(s))
			n += snprintf(buf + n, len - (size_t)n, "; source '%s' paused",
				      source_name(s));
	}
	const struct sink *down = sinks_first_down(pipeline_sinks(p));
	if (down != NULL && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, "; sink '%s' cannot write", sink_name(down));
}
