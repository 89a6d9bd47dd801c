/*
 * source-redis.c: the redis-stream source, a consumer in a Redis Streams consumer
 * group (redis-stream.h does the talking). Redis holds the work: its pending
 * entries list is the ledger, so an entry is XACKed only once its item is done end
 * to end (track.h: every sink wrote it, it was filtered, or it failed for good and
 * went to the dead letter). An entry delivered more than max_deliveries times, one
 * without the field, or one over max_item_bytes is dead-lettered (error
 * "rejected", with why) and acked, so a poison entry cannot loop forever.
 *
 * Backpressure: the reader holds at most two batches of credits (it reads the next
 * batch while this one is handed out). A credit comes back once its entry went
 * into the queue without pushing back; while the queue is full no credit comes
 * back, so no XREADGROUP is sent: memory holds the queue and two batches, whatever
 * the stream holds. Credits come back once per loop iteration, so
 * a read asks for a whole batch, not for the one entry just taken.
 *
 * A graceful stop stops reading; the source ends once every entry it took is done
 * and Redis confirmed the acks, so the daemon exits with nothing of its own left
 * pending. A cancel leaves unfinished entries pending in Redis (the source is
 * durable: nothing is spooled): this consumer reads them again at its next start,
 * or another one claims them after claim_idle.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "conf-schema.h"
#include "log.h"
#include "redis-stream.h"
#include "scope.h"
#include "source.h"
#include "util.h"

/* Its keys (conf-schema.h), at the entry's opts. */
struct redis_source_opts {
	struct rstream_link_opts link; /* first: the rows it shares with the sink */
	char *stream, *group;
	char *consumer; /* NULL: the host name, '-', the pipeline's name */
	char *field;
	uint64_t batch, block, claim_idle, max_deliveries;
	bool start_at_end;
};

#define STOP_POLL_USEC	 20000
#define RECONNECT_MIN_MS 100
#define RECONNECT_MAX_MS 10000

/* An entry in the pipeline: the token of its item. */
struct rentry {
	TAILQ_ENTRY(rentry) link;
	char id[];
};

struct redis_src {
	struct source *s;
	const struct conf_source *cs;
	struct rstream_conf rc;
	char *consumer;
	struct rstream *r;
	TAILQ_HEAD(rentry_list, rentry) entries;
	unsigned held;	  /* credits the reader holds */
	unsigned to_give; /* credits to hand back at the next loop iteration */
	struct event *credit_ev, *stop_poll;
	bool paused, stopping, was_up;
};

static struct redis_src *of(struct source *s)
{
	return *source_state(s);
}

static void give_credit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis_src *rs = arg;
	unsigned n = rs->to_give;
	rs->to_give = 0;
	if (n == 0 || rs->stopping || rs->r == NULL)
		return;
	rs->held += n;
	rstream_credit(rs->r, n);
}

static void give_credit(struct redis_src *rs, unsigned n)
{
	rs->to_give += n;
	event_active(rs->credit_ev, 0, 0);
}

/* Tops the reader's credit up to two batches (at the start, after a pause). */
static void refill(struct redis_src *rs)
{
	const struct redis_source_opts *o = rs->cs->opts;
	unsigned batch = 2 * (unsigned)o->batch;
	if (rs->held + rs->to_give < batch)
		give_credit(rs, batch - rs->held - rs->to_give);
}

static void entry_cb(void *arg, const char *id, const char *data, size_t len, const char *problem)
{
	struct redis_src *rs = arg;
	struct source *s = rs->s;
	char why[256];

	if (rs->held > 0)
		rs->held--;
	if (problem == NULL && len > source_max_item(s)) {
		snprintf(why, sizeof(why), "entry %s is %zu bytes, over max_item_bytes (%llu)", id,
			 len, (unsigned long long)source_max_item(s));
		problem = why;
	}
	if (problem != NULL) {
		source_reject_why(s, data != NULL ? data : "", data != NULL ? len : 0, problem);
		rstream_ack(rs->r, id);
		if (!rs->paused)
			give_credit(rs, 1);
		return;
	}
	size_t n = strlen(id) + 1;
	struct rentry *e = xmalloc(sizeof(*e) + n);
	memcpy(e->id, id, n);
	TAILQ_INSERT_TAIL(&rs->entries, e, link);
	source_set_token(s, e);
	uint64_t skipped = source_skipped(s);
	bool more = true;
	if (rs->paused)
		/* Read before the queue filled: within the two batches the bound allows. */
		source_emit_force(s, data, len);
	else
		more = source_emit(s, data, len);
	if (source_skipped(s) != skipped) {
		/* --resume: the joblog has it as done, so no item tracks it: ack it now. */
		TAILQ_REMOVE(&rs->entries, e, link);
		free(e);
		rstream_ack(rs->r, id);
	}
	if (rs->paused)
		return;
	if (more)
		give_credit(rs, 1);
	else
		rs->paused = true;
}

static void link_cb(void *arg, bool up, const char *why)
{
	struct redis_src *rs = arg;
	if (up) {
		log_info("source '%s': reading stream '%s' of %s as '%s' in group '%s'",
			 rs->cs->name, rs->rc.stream, rs->rc.address, rs->rc.consumer,
			 rs->rc.group);
	} else if (why != NULL) {
		log_warnx("source '%s': %s; reconnecting (what is not acked stays pending)",
			  rs->cs->name, why);
	}
	rs->was_up = up;
}

/* The source ends once every entry it took is done and its ack confirmed. */
static void stop_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis_src *rs = arg;
	if (TAILQ_EMPTY(&rs->entries) && rstream_unacked(rs->r) == 0) {
		source_end(rs->s);
		return;
	}
	struct timeval tv = {0, STOP_POLL_USEC};
	evtimer_add(rs->stop_poll, &tv);
}

static void done_cb(void *arg, const struct track_done *d)
{
	struct redis_src *rs = arg;
	struct rentry *e = d->token;
	/* Abandoned at a cancel: it stays pending in Redis, to be read again. */
	if (d->status != TRACK_ABANDONED)
		rstream_ack(rs->r, e->id);
	TAILQ_REMOVE(&rs->entries, e, link);
	free(e);
}

static char *default_consumer(const struct conf *c)
{
	char host[256];
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	return xasprintf("%s-%s", host, c->name);
}

static int redis_open(struct source *s, char *err, size_t errlen)
{
	const struct conf_source *cs = source_conf(s);
	const struct redis_source_opts *o = cs->opts;
	struct redis_src *rs = xcalloc(1, sizeof(*rs));

	*source_state(s) = rs;
	rs->s = s;
	rs->cs = cs;
	TAILQ_INIT(&rs->entries);
	rs->consumer = o->consumer != NULL ? xstrdup(o->consumer)
					   : default_consumer(scope_conf(source_scope(s)));
	rs->rc = (struct rstream_conf){
	    .address = o->link.address,
	    .username = o->link.username,
	    .password = o->link.password,
	    .stream = o->stream,
	    .field = o->field,
	    .group = o->group,
	    .consumer = rs->consumer,
	    .batch = (unsigned)o->batch,
	    .block_ms = o->block / 1000 > 0 ? o->block / 1000 : 1,
	    .claim_idle_ms = o->claim_idle / 1000,
	    .max_deliveries = (unsigned)o->max_deliveries,
	    .start_at_end = o->start_at_end,
	    .backoff_ms = RECONNECT_MIN_MS,
	    .max_backoff_ms = RECONNECT_MAX_MS,
	};
	struct event_base *base = scope_base(source_scope(s));
	rs->credit_ev = event_new(base, -1, 0, give_credit_cb, rs);
	rs->stop_poll = evtimer_new(base, stop_poll_cb, rs);
	(void)err;
	(void)errlen;
	return 0;
}

static void redis_start(struct source *s)
{
	struct redis_src *rs = of(s);
	/* Durable: at a cancel, unfinished entries stay pending in Redis, not in the spool. */
	source_track(s, done_cb, rs, true);
	rs->r = rstream_reader_new(scope_base(source_scope(s)), &rs->rc, entry_cb, link_cb, rs);
	refill(rs);
}

static void redis_resume(struct source *s)
{
	struct redis_src *rs = of(s);
	rs->paused = false;
	refill(rs);
}

static void redis_stop(struct source *s)
{
	struct redis_src *rs = of(s);
	rs->stopping = true;
	if (rs->r == NULL) {
		source_end(s);
		return;
	}
	rstream_stop_reading(rs->r);
	stop_poll_cb(-1, 0, rs);
}

static void redis_free(struct source *s)
{
	struct redis_src *rs = of(s);
	if (rs == NULL)
		return;
	rstream_free(rs->r);
	while (!TAILQ_EMPTY(&rs->entries)) {
		struct rentry *e = TAILQ_FIRST(&rs->entries);
		TAILQ_REMOVE(&rs->entries, e, link);
		free(e);
	}
	event_free(rs->credit_ev);
	event_free(rs->stop_poll);
	free(rs->consumer);
	free(rs);
	*source_state(s) = NULL;
}

/* --- the keys the source and the sink share (declared in redis-stream.h)
 * ---------------------------------------------------- */

/* A Redis address: HOST:PORT, [V6]:PORT, or an absolute path for a unix socket. */
static bool check_address(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	const char *a = *(char **)field, *why;
	char host[256];
	unsigned port;

	if (a[0] == '/' || conf_parse_hostport(a, host, sizeof(host), &port, &why) == 0)
		return true;
	conf_err(x, v,
		 "'address' must be HOST:PORT, [V6]:PORT or an absolute socket path, got '%s'", a);
	return false;
}

#define LINK(field) offsetof(struct rstream_link_opts, field)

const struct conf_key rstream_address_row = {
    "address",
    CT_STR,
    CF_NONEMPTY,
    .off = LINK(address),
    .required = CONF_ALL_KINDS,
    .check = check_address,
    .doc = "The Redis server: HOST:PORT or an absolute unix socket path."};
const struct conf_key rstream_username_row = {"username", CT_STR, CF_NONEMPTY,
					      .off = LINK(username),
					      .doc = "The ACL user to AUTH as (with password)."};
const struct conf_key rstream_password_row = {"password", CT_STR, CF_SECRET, .off = LINK(password),
					      .doc = "AUTH with this password."};

void rstream_link_check(struct conf_ctx *x, const struct rstream_link_opts *l)
{
	if (l->username != NULL && l->password == NULL)
		conf_err(x, conf_key_of(x, "username"), "'username' of %s needs 'password'",
			 x->label);
}

#define OPT(field) offsetof(struct redis_source_opts, field)
static const char *const start_at_names[] = {"beginning", "end", NULL};
static const struct conf_key redis_rows[] = {
    {"stream", CT_STR, CF_NONEMPTY, .off = OPT(stream), .required = CONF_ALL_KINDS,
     .doc = "The stream's key."},
    {"group", CT_STR, CF_NONEMPTY, .off = OPT(group), .required = CONF_ALL_KINDS,
     .doc = "The consumer group, created when missing; the daemons of a group share its "
	    "entries."},
    {"consumer", CT_STR, CF_NONEMPTY, .off = OPT(consumer),
     .doc = "This daemon's name in the group (default: host name, '-', pipeline name)."},
    {"field", CT_STR, CF_NONEMPTY, .off = OPT(field), .def = "item",
     .doc = "The entry field that holds the item."},
    {"batch", CT_UINT, .off = OPT(batch), .def = "100", .min = 1, .max = 100000,
     .doc = "Entries per read (XREADGROUP COUNT) at most."},
    {"block", CT_DURATION, CF_POSITIVE, .off = OPT(block), .def = "1s",
     .doc = "How long a read waits for new entries."},
    {"claim_idle", CT_DURATION, .off = OPT(claim_idle), .def = "60s",
     .doc = "Entries idle this long in the group are taken over (XAUTOCLAIM); 0s: never."},
    {"max_deliveries", CT_UINT, .off = OPT(max_deliveries), .def = "5", .min = 0, .max = 1000000,
     .doc = "An entry delivered more often goes to the dead letter; 0: no limit."},
    {"start_at", CT_ENUM, CF_BOOL_ENUM, .off = OPT(start_at_end), .def = "beginning",
     .values = start_at_names,
     .doc = "Where a group created now starts: beginning (every entry) or end (new ones)."},
};

static void redis_check(struct conf_ctx *x, void *entry)
{
	rstream_link_check(x, ((struct conf_source *)entry)->opts);
}

const struct source_kind source_redis_stream = {
    .conf = {.name = "redis-stream",
	     CONF_ROWS(&rstream_address_row, &redis_rows[0], &redis_rows[1], &redis_rows[2],
		       &redis_rows[3], &redis_rows[4], &redis_rows[5], &redis_rows[6],
		       &redis_rows[7], &redis_rows[8], &rstream_username_row,
		       &rstream_password_row),
	     .opts_size = sizeof(struct redis_source_opts),
	     .check = redis_check},
    /* Redis keeps what was not acked: nothing of it goes to the journal. */
    .replays = source_replays_always,
    .open = redis_open,
    .start = redis_start,
    .resume = redis_resume,
    .stop = redis_stop,
    .free = redis_free,
};
