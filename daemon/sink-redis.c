/*
 * sink-redis.c: the redis-stream sink. Every record is one entry, XADD STREAM
 * [MAXLEN ~ maxlen] * FIELD RECORD, pipelined: up to max_in_flight XADDs await
 * their reply at once (redis-stream.h). A record is written only once Redis
 * answered with the entry's id; replies come in order, so records finish in
 * order, as the consumer needs. Twice max_in_flight records held is
 * backpressure on the consumer.
 *
 * After a lost connection the writer reconnects with backoff (backoff ..
 * max_backoff) and sends again every XADD that had no reply: an entry whose reply
 * was lost is then in the stream twice (at-least-once). A cancel while Redis is
 * down hands what the sink holds back for the spool (take_back).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "recbuf.h"
#include "redis-stream.h"
#include "scope.h"
#include "sink.h"
#include "util.h"

struct redis_sink_opts {
	struct rstream_link_opts link; /* first: the rows it shares with the source */
	char *stream, *field;
	uint64_t maxlen, max_in_flight;
};

struct redis_sink {
	struct sink *s;
	const struct conf_sink *cs;
	struct rstream_conf rc;
	struct rstream_writer *w;
	struct recbuf_meta *meta; /* what each queued record came from, a ring */
	size_t mhead, mn, mcap;
	bool up;
};

static struct redis_sink *of(const struct sink *s)
{
	return *sink_state((struct sink *)s);
}

static void meta_push(struct redis_sink *rk, const struct item *it)
{
	if (rk->mn == rk->mcap) {
		size_t cap = rk->mcap ? rk->mcap * 2 : 256;
		struct recbuf_meta *v = xmalloc(cap * sizeof(*v));
		for (size_t i = 0; i < rk->mn; i++)
			v[i] = rk->meta[(rk->mhead + i) % rk->mcap];
		free(rk->meta);
		rk->meta = v;
		rk->mhead = 0;
		rk->mcap = cap;
	}
	rk->meta[(rk->mhead + rk->mn) % rk->mcap] = (struct recbuf_meta){
	    .seq = it->seq, .index = it->index, .source = it->source, .track = it->track};
	rk->mn++;
}

static void meta_pop(struct redis_sink *rk)
{
	rk->mhead = (rk->mhead + 1) % rk->mcap;
	rk->mn--;
}

static void written_cb(void *arg, uint64_t token)
{
	struct redis_sink *rk = arg;
	(void)token;
	meta_pop(rk);
	sink_count_done(rk->s, 1);
	sink_wake(rk->s);
}

static void link_cb(void *arg, bool up, const char *why)
{
	struct redis_sink *rk = arg;
	rk->up = up;
	if (up)
		log_info("sink '%s': writing to stream '%s' of %s", rk->cs->name, rk->rc.stream,
			 rk->rc.address);
	else if (why != NULL)
		log_warnx("sink '%s': %s; reconnecting (%zu record(s) wait, sent again after)",
			  rk->cs->name, why, rk->mn);
}

static void redis_append(struct sink *s, const struct item *it)
{
	struct redis_sink *rk = of(s);
	meta_push(rk, it);
	rstream_xadd(rk->w, it->data, it->len, 0);
}

static void redis_flush(struct sink *s)
{
	(void)s; /* the writer sends as records come and replies free room */
}

static bool redis_busy(const struct sink *s)
{
	const struct redis_sink *rk = of(s);
	const struct redis_sink_opts *o = rk->cs->opts;
	return rk->mn >= 2 * o->max_in_flight;
}

static bool redis_idle(const struct sink *s)
{
	return of(s)->mn == 0;
}

static bool redis_up(const struct sink *s)
{
	return of(s)->up;
}

static bool redis_down(const struct sink *s)
{
	return !of(s)->up;
}

struct give_ctx {
	struct redis_sink *rk;
	sink_give_cb give;
	void *arg;
};

static void give_one(void *arg, const char *data, size_t len, uint64_t token)
{
	struct give_ctx *g = arg;
	(void)token;
	if (g->give != NULL)
		g->give(g->arg, data, len, &g->rk->meta[g->rk->mhead]);
	meta_pop(g->rk);
}

static uint64_t redis_take_back(struct sink *s, sink_give_cb give, void *arg)
{
	struct redis_sink *rk = of(s);
	struct give_ctx g = {rk, give, arg};
	uint64_t n = rstream_writer_take_back(rk->w, give_one, &g);
	sink_count_returned(s, n);
	return n;
}

static uint64_t redis_close(struct sink *s, uint64_t timeout_usec)
{
	struct redis_sink *rk = of(s);
	uint64_t n = rk->mn;
	(void)timeout_usec;
	if (n > 0) {
		log_error("sink '%s': %llu record(s) had no reply from %s before the end and are "
			  "lost",
			  rk->cs->name, (unsigned long long)n, rk->rc.address);
		rstream_writer_take_back(rk->w, NULL, NULL);
		rk->mn = 0;
		sink_count_lost(s, n);
	}
	return n;
}

/* Its keys (conf-schema.h), at the entry's opts. */
static void redis_free(struct sink *s)
{
	struct redis_sink *rk = of(s);
	if (rk == NULL)
		return;
	rstream_writer_free(rk->w);
	free(rk->meta);
	free(rk);
	*sink_state(s) = NULL;
}

static int redis_open(struct sink *s, char *err, size_t errlen)
{
	const struct conf_sink *cs = sink_conf(s);
	const struct redis_sink_opts *o = cs->opts;
	struct redis_sink *rk = xcalloc(1, sizeof(*rk));

	(void)err;
	(void)errlen;
	*sink_state(s) = rk;
	rk->s = s;
	rk->cs = cs;
	rk->rc = (struct rstream_conf){
	    .address = o->link.address,
	    .username = o->link.username,
	    .password = o->link.password,
	    .stream = o->stream,
	    .field = o->field,
	    .maxlen = o->maxlen,
	    .max_in_flight = (unsigned)o->max_in_flight,
	    .backoff_ms = cs->backoff / 1000,
	    .max_backoff_ms = cs->max_backoff / 1000,
	};
	rk->w = rstream_writer_new(scope_base(sink_scope(s)), &rk->rc, written_cb, link_cb, rk);
	return 0;
}

#define OPT(field) offsetof(struct redis_sink_opts, field)
static const struct conf_key redis_rows[] = {
    {"stream", CT_STR, CF_NONEMPTY, .off = OPT(stream), .required = CONF_ALL_KINDS,
     .doc = "The stream's key."},
    {"field", CT_STR, CF_NONEMPTY, .off = OPT(field), .def = "item",
     .doc = "The entry field a record is written to."},
    {"maxlen", CT_UINT, .off = OPT(maxlen), .def = "0", .min = 0, .max = UINT64_MAX,
     .doc = "Trim the stream to about this many entries (MAXLEN ~); 0: never."},
    {"max_in_flight", CT_UINT, .off = OPT(max_in_flight), .def = "1000", .min = 1, .max = 1000000,
     .doc = "XADDs sent and not yet answered, at most (pipelining)."},
};

static void redis_check(struct conf_ctx *x, void *entry)
{
	rstream_link_check(x, ((struct conf_sink *)entry)->opts);
}

const struct sink_kind sink_redis_stream = {
    .conf = {.name = "redis-stream",
	     CONF_ROWS(&rstream_address_row, &redis_rows[0], &redis_rows[1], &redis_rows[2],
		       &redis_rows[3], &rstream_username_row, &rstream_password_row,
		       &sink_backoff_row, &sink_max_backoff_row),
	     .opts_size = sizeof(struct redis_sink_opts),
	     .check = redis_check},
    .open = redis_open,
    .append = redis_append,
    .flush = redis_flush,
    .busy = redis_busy,
    .idle = redis_idle,
    .up = redis_up,
    .down = redis_down,
    .take_back = redis_take_back,
    .close = redis_close,
    .free = redis_free,
};
