/* redis-stream.c: Redis Streams reader and writer on hiredis (see redis-stream.h). */
#include "redis-stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "util.h"

/* --- a connection that comes back ------------------------------------------------ */

struct link {
	struct event_base *base;
	const struct rstream_conf *conf;
	const char *name; /* for messages: "read", "control", "write" */
	redisAsyncContext *ac;
	bool up, closing;
	struct event *retry;
	struct evdns_base *resolver; /* taken (net_dns_get) at the first name to resolve */
	struct evdns_getaddrinfo_request *dns;
	unsigned failures;
	uint64_t backoff;
	void (*on_up)(struct link *l);
	void (*on_down)(struct link *l, const char *why);
	void *owner;
};

static void link_connect(struct link *l);

static void link_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	link_connect(arg);
}

/* The link failed (or was lost): tell the owner once, try again after a backoff. */
static void link_failed(struct link *l, const char *why)
{
	bool was_up = l->up;
	l->up = false;
	l->ac = NULL;
	if (l->closing)
		return;
	l->failures++;
	l->backoff = net_backoff(l->backoff, l->conf->max_backoff_ms * 1000, l->failures);
	if (l->backoff < l->conf->backoff_ms * 1000)
		l->backoff = l->conf->backoff_ms * 1000;
	struct timeval tv = {(time_t)(l->backoff / 1000000), (suseconds_t)(l->backoff % 1000000)};
	evtimer_add(l->retry, &tv);
	if (was_up || l->failures == 1)
		l->on_down(l, why);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct link *l = ac->data;
	if (l == NULL || l->ac != ac)
		return;
	char why[200];
	snprintf(why, sizeof(why), "%s connection to %s lost: %s", l->name, l->conf->address,
		 ac->err ? ac->errstr : "closed by the server");
	link_failed(l, why);
}

static void auth_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct link *l = ac->data;
	redisReply *reply = r;
	if (l == NULL || l->ac != ac || reply == NULL || reply->type != REDIS_REPLY_ERROR)
		return;
	char why[300];
	snprintf(why, sizeof(why), "%s connection to %s: AUTH refused: %s", l->name,
		 l->conf->address, reply->str);
	redisAsyncContext *old = l->ac;
	link_failed(l, why);
	redisAsyncDisconnect(old);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct link *l = ac->data;
	if (l == NULL || l->ac != ac)
		return;
	if (status != REDIS_OK) {
		char why[200];
		snprintf(why, sizeof(why), "cannot connect to Redis at %s: %s", l->conf->address,
			 ac->errstr);
		link_failed(l, why); /* hiredis frees ac after this callback */
		return;
	}
	if (l->conf->password != NULL) {
		if (l->conf->username != NULL)
			redisAsyncCommand(l->ac, auth_cb, NULL, "AUTH %s %s", l->conf->username,
					  l->conf->password);
		else
			redisAsyncCommand(l->ac, auth_cb, NULL, "AUTH %s", l->conf->password);
	}
	l->up = true;
	l->failures = 0;
	l->backoff = 0;
	l->on_up(l);
}

static void link_attach(struct link *l, redisAsyncContext *ac)
{
	if (ac == NULL || ac->err) {
		char why[200];
		snprintf(why, sizeof(why), "cannot connect to Redis at %s: %s", l->conf->address,
			 ac ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		link_failed(l, why);
		return;
	}
	/*
	 * hiredis opens its socket without close-on-exec: a stage's command would inherit
	 * it and keep the connection open after the daemon died, and a read still blocked
	 * on it would take entries for a consumer that can no longer see them.
	 */
	fcntl(ac->c.fd, F_SETFD, FD_CLOEXEC);
	ac->data = l;
	l->ac = ac;
	redisLibeventAttach(ac, l->base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

/* "host:port" or "[v6]:port" into host and port; false when it is neither. */
static bool split_address(const char *addr, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(addr, ':');
	const char *h = addr;
	size_t hl;
	if (colon == NULL)
		return false;
	if (*addr == '[') {
		const char *close = strchr(addr, ']');
		if (close == NULL || close + 1 != colon)
			return false;
		h = addr + 1;
		hl = (size_t)(close - h);
	} else {
		hl = (size_t)(colon - addr);
	}
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (hl == 0 || hl >= hostlen || *end != '\0' || p < 1 || p > 65535)
		return false;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return true;
}

static void resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	struct link *l = arg;
	char ip[INET6_ADDRSTRLEN] = "";
	char host[256];
	int port = 0;

	l->dns = NULL;
	if (result == EVUTIL_EAI_CANCEL)
		return;
	split_address(l->conf->address, host, sizeof(host), &port);
	if (result != 0 || res == NULL) {
		char why[300];
		snprintf(why, sizeof(why), "cannot resolve Redis host '%s': %s", host,
			 evutil_gai_strerror(result));
		if (res != NULL)
			evutil_freeaddrinfo(res);
		link_failed(l, why);
		return;
	}
	if (res->ai_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof(ip));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, ip,
			  sizeof(ip));
	evutil_freeaddrinfo(res);
	link_attach(l, redisAsyncConnect(ip, port));
}

static void link_connect(struct link *l)
{
	char host[256];
	int port;
	if (l->closing || l->ac != NULL || l->dns != NULL)
		return;
	if (l->conf->address[0] == '/') {
		link_attach(l, redisAsyncConnectUnix(l->conf->address));
		return;
	}
	if (!split_address(l->conf->address, host, sizeof(host), &port)) {
		link_failed(l, "a Redis address is host:port or an absolute socket path");
		return;
	}
	/* hiredis resolves with getaddrinfo, which blocks: names go through evdns first. */
	unsigned char buf[16];
	if (inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1) {
		link_attach(l, redisAsyncConnect(host, port));
		return;
	}
	struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	if (l->resolver == NULL)
		l->resolver = net_dns_get(l->base);
	l->dns = evdns_getaddrinfo(l->resolver, host, NULL, &hints, resolved, l);
}

static void link_init(struct link *l, struct event_base *base, const struct rstream_conf *conf,
		      const char *name, void *owner)
{
	l->base = base;
	l->conf = conf;
	l->name = name;
	l->owner = owner;
	l->retry = evtimer_new(base, link_retry_cb, l);
}

/* Closes the connection; reply callbacks then run with NULL and see closing. */
static void link_close(struct link *l)
{
	l->closing = true;
	if (l->dns != NULL)
		evdns_getaddrinfo_cancel(l->dns);
	if (l->ac != NULL) {
		redisAsyncContext *ac = l->ac;
		l->ac = NULL;
		redisAsyncFree(ac);
	}
	if (l->retry != NULL)
		event_free(l->retry);
	if (l->resolver != NULL)
		net_dns_put();
}

/* A reply that belongs to the link's current connection and is not an error. */
static bool reply_ok(struct link *l, redisAsyncContext *ac, redisReply *reply, const char *what)
{
	if (l->closing || l->ac != ac || reply == NULL)
		return false;
	if (reply->type == REDIS_REPLY_ERROR) {
		char why[400];
		snprintf(why, sizeof(why), "%s on %s: %s", what, l->conf->stream, reply->str);
		redisAsyncContext *old = l->ac;
		link_failed(l, why);
		redisAsyncDisconnect(old);
		return false;
	}
	return true;
}

/* --- the reader ------------------------------------------------------------------ */

/* An entry handed out and not yet confirmed acked: skipped when delivered again. */
struct held {
	struct held *next;
	bool ack_queued;
	char id[];
};

#define HELD_BUCKETS 1024
#define READS_MAX    2

struct rstream {
	struct rstream_conf conf;
	struct link read, ctl;
	rstream_entry_cb entry;
	rstream_link_cb link;
	void *arg;
	unsigned credit; /* entries the caller can take, beyond those reserved */
	/*
	 * Reads in flight and what each reserved, oldest first (replies come in order).
	 * New entries are read READS_MAX at a time, so Redis prepares the next batch
	 * while this one is handed out; own pending ones one at a time (a cursor).
	 */
	unsigned reserved[READS_MAX];
	unsigned reads;
	bool stopped, new_phase, group_ready;
	char cursor[64]; /* the id after which own pending entries are read */
	char claim_cursor[64];
	struct event *claim_timer, *ack_flush;
	struct held *held[HELD_BUCKETS];
	size_t n_held;
	char **acks; /* ids to XACK with the next flush */
	size_t n_acks, cap_acks;
	bool claiming, claim_due; /* due: the tick came while every credit was in a read */
	unsigned claim_reserved;
};

static unsigned id_hash(const char *id)
{
	unsigned h = 5381;
	while (*id)
		h = h * 33 + (unsigned char)*id++;
	return h % HELD_BUCKETS;
}

static struct held **held_find(struct rstream *r, const char *id)
{
	struct held **p = &r->held[id_hash(id)];
	while (*p != NULL && strcmp((*p)->id, id) != 0)
		p = &(*p)->next;
	return p;
}

static void held_add(struct rstream *r, const char *id)
{
	struct held **p = held_find(r, id);
	if (*p != NULL)
		return;
	size_t n = strlen(id) + 1;
	struct held *h = xcalloc(1, sizeof(*h) + n);
	memcpy(h->id, id, n);
	*p = h;
	r->n_held++;
}

static void held_remove(struct rstream *r, const char *id)
{
	struct held **p = held_find(r, id);
	if (*p == NULL)
		return;
	struct held *h = *p;
	*p = h->next;
	free(h);
	r->n_held--;
}

static void read_more(struct rstream *r);

static void deliver(struct rstream *r, const char *id, const char *data, size_t len,
		    const char *problem)
{
	held_add(r, id);
	r->entry(r->arg, id, data, len, problem);
}

/* The field's value in an entry's [f1, v1, f2, v2, ...]; NULL when absent. */
static const redisReply *field_of(const struct rstream *r, const redisReply *fields)
{
	if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < fields->elements; i += 2) {
		const redisReply *f = fields->element[i], *v = fields->element[i + 1];
		if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
		    f->len == strlen(r->conf.field) && memcmp(f->str, r->conf.field, f->len) == 0)
			return v;
	}
	return NULL;
}

/* An entry waiting for its delivery count (XPENDING) before it is handed out. */
struct counted {
	struct rstream *r;
	char *id, *data;
	size_t len;
	bool has_field;
};

static void hand_out(struct rstream *r, const char *id, const char *data, size_t len,
		     bool has_field, long long deliveries)
{
	char problem[160];
	if (!has_field) {
		snprintf(problem, sizeof(problem), "entry %s has no field '%s'", id, r->conf.field);
		deliver(r, id, NULL, 0, problem);
	} else if (r->conf.max_deliveries > 0 && deliveries > (long long)r->conf.max_deliveries) {
		snprintf(problem, sizeof(problem),
			 "entry %s was delivered %lld times, over max_deliveries (%u)", id,
			 deliveries, r->conf.max_deliveries);
		deliver(r, id, data, len, problem);
	} else {
		deliver(r, id, data, len, NULL);
	}
}

static void pending_count_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	struct counted *c = priv;
	struct rstream *r = c->r;
	redisReply *reply = rep;
	if (reply_ok(&r->ctl, ac, reply, "XPENDING") && !r->stopped &&
	    *held_find(r, c->id) == NULL) {
		/* [[id, consumer, idle, count]]; empty when it was acked meanwhile. */
		if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
		    reply->element[0]->type == REDIS_REPLY_ARRAY &&
		    reply->element[0]->elements == 4)
			hand_out(r, c->id, c->data, c->len, c->has_field,
				 reply->element[0]->element[3]->integer);
		else
			r->credit++; /* acked meanwhile: its credit was not used */
	} else if (!r->ctl.closing) {
		r->credit++;
	}
	free(c->id);
	free(c->data);
	free(c);
}

/*
 * Entries of a read or a claim: [[id, [fields]] ...]. Own pending ones and claimed
 * ones are counted first (XPENDING); new ones (counted) are handed out at once. The
 * last id seen goes to last; returns how many will be handed out.
 */
static unsigned take_entries(struct rstream *r, const redisReply *list, bool counted, char *last,
			     size_t lastlen)
{
	unsigned taken = 0;
	for (size_t i = 0; list != NULL && i < list->elements; i++) {
		const redisReply *e = list->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		const char *id = e->element[0]->str;
		snprintf(last, lastlen, "%s", id);
		if (*held_find(r, id) != NULL)
			continue; /* handed out already: in work or awaiting its ack */
		if (e->element[1]->type == REDIS_REPLY_NIL) {
			rstream_ack(r, id); /* deleted from the stream: nothing to do */
			continue;
		}
		const redisReply *v = field_of(r, e->element[1]);
		taken++;
		if (counted) {
			hand_out(r, id, v ? v->str : NULL, v ? v->len : 0, v != NULL, 1);
			continue;
		}
		struct counted *c = xcalloc(1, sizeof(*c));
		c->r = r;
		c->id = xstrdup(id);
		c->has_field = v != NULL;
		if (v != NULL) {
			c->data = xmalloc(v->len + 1);
			memcpy(c->data, v->str, v->len);
			c->len = v->len;
		}
		redisAsyncCommand(r->ctl.ac, pending_count_cb, c, "XPENDING %s %s %s %s 1",
				  r->conf.stream, r->conf.group, id, id);
	}
	return taken;
}

/* Gives back what a read or claim reserved and did not use. */
static void unreserve(struct rstream *r, unsigned reserved, unsigned taken)
{
	r->credit += reserved > taken ? reserved - taken : 0;
}

static void read_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	struct rstream *r = priv;
	redisReply *reply = rep;
	if (r->read.closing)
		return;
	unsigned reserved = r->reserved[0];
	for (unsigned i = 1; i < r->reads; i++)
		r->reserved[i - 1] = r->reserved[i];
	r->reads--;
	if (!reply_ok(&r->read, ac, reply, "XREADGROUP") || r->stopped || !r->ctl.up) {
		/* Whatever it returned stays pending to us: read again after the reconnect. */
		unreserve(r, reserved, 0);
		return;
	}
	/* NIL: BLOCK ran out; else [[stream, [entries]]]. */
	const redisReply *list = NULL;
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
	    reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2)
		list = reply->element[0]->element[1];
	char last[64] = "";
	unsigned taken = take_entries(r, list, r->new_phase, last, sizeof(last));
	if (!r->new_phase) {
		if (list == NULL || list->elements == 0)
			r->new_phase = true; /* own history read: on to new entries */
		else
			snprintf(r->cursor, sizeof(r->cursor), "%s", last);
	}
	unreserve(r, reserved, taken);
	read_more(r);
}

static bool claim_now(struct rstream *r);
static bool read_one(struct rstream *r);

static void read_more(struct rstream *r)
{
	/*
	 * A claim that is due goes first: blocking reads would otherwise hold every
	 * credit. No new read until the ones in flight are back and it is sent.
	 */
	if (r->claim_due) {
		if (r->reads > 0 || !claim_now(r))
			return;
		r->claim_due = false;
	}
	while (r->reads < (r->new_phase ? READS_MAX : 1) && read_one(r))
		;
}

/* Sends one XREADGROUP if it may; false when not. */
static bool read_one(struct rstream *r)
{
	if (r->stopped || !r->read.up || !r->ctl.up || !r->group_ready || r->credit == 0)
		return false;
	unsigned n = r->credit < r->conf.batch ? r->credit : r->conf.batch;
	r->credit -= n;
	r->reserved[r->reads++] = n;
	char count[16], block[24];
	snprintf(count, sizeof(count), "%u", n);
	snprintf(block, sizeof(block), "%" PRIu64, r->conf.block_ms);
	const char *argv[] = {
	    "XREADGROUP", "GROUP", r->conf.group, r->conf.consumer, "COUNT", count,
	    "BLOCK",	  block,   "STREAMS",	  r->conf.stream,   ">"};
	int argc = 11;
	if (!r->new_phase) {
		/* Own pending entries: no BLOCK, from the cursor. */
		argv[6] = "STREAMS";
		argv[7] = r->conf.stream;
		argv[8] = r->cursor;
		argc = 9;
	}
	redisAsyncCommandArgv(r->read.ac, read_cb, r, argc, argv, NULL);
	return true;
}

static void group_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	struct rstream *r = priv;
	redisReply *reply = rep;
	if (r->read.closing || r->read.ac != ac || reply == NULL)
		return;
	/* BUSYGROUP: it exists, which is what we wanted. */
	if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) == 0)
		reply->type = REDIS_REPLY_STATUS;
	if (reply_ok(&r->read, ac, reply, "XGROUP CREATE")) {
		r->group_ready = true;
		read_more(r);
	}
}

static void flush_acks(struct rstream *r);

static void reader_up(struct link *l)
{
	struct rstream *r = l->owner;
	if (l == &r->ctl) {
		/* Acks that were not confirmed before the connection went. */
		for (size_t b = 0; b < HELD_BUCKETS; b++)
			for (struct held *h = r->held[b]; h != NULL; h = h->next)
				if (h->ack_queued)
					rstream_ack(r, h->id);
		flush_acks(r);
	} else {
		/*
		 * The group first (it may have been deleted, or Redis restarted empty), then
		 * own pending entries again from the start: some may have had no ack.
		 */
		r->group_ready = false;
		redisAsyncCommand(l->ac, group_cb, r, "XGROUP CREATE %s %s %s MKSTREAM",
				  r->conf.stream, r->conf.group, r->conf.start_at_end ? "$" : "0");
		r->new_phase = false;
		snprintf(r->cursor, sizeof(r->cursor), "0");
	}
	if (r->read.up && r->ctl.up)
		r->link(r->arg, true, NULL);
	read_more(r);
}

static void reader_down(struct link *l, const char *why)
{
	struct rstream *r = l->owner;
	if (l == &r->read)
		r->group_ready = false;
	r->link(r->arg, false, why);
}

/* One XACK; the ids in it are forgotten when Redis confirmed it. */
struct ack_batch {
	struct rstream *r;
	char **ids;
	size_t n;
};

static void ack_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	struct ack_batch *b = priv;
	struct rstream *r = b->r;
	if (reply_ok(&r->ctl, ac, rep, "XACK"))
		for (size_t i = 0; i < b->n; i++)
			held_remove(r, b->ids[i]);
	/* Otherwise they stay held with ack_queued: sent again after the reconnect. */
	for (size_t i = 0; i < b->n; i++)
		free(b->ids[i]);
	free(b->ids);
	free(b);
}

static void flush_acks(struct rstream *r)
{
	if (r->n_acks == 0 || !r->ctl.up)
		return;
	struct ack_batch *b = xcalloc(1, sizeof(*b));
	b->r = r;
	b->ids = r->acks;
	b->n = r->n_acks;
	r->acks = NULL;
	r->n_acks = r->cap_acks = 0;
	const char **argv = xcalloc(b->n + 3, sizeof(*argv));
	argv[0] = "XACK";
	argv[1] = r->conf.stream;
	argv[2] = r->conf.group;
	for (size_t i = 0; i < b->n; i++)
		argv[3 + i] = b->ids[i];
	redisAsyncCommandArgv(r->ctl.ac, ack_cb, b, (int)(b->n + 3), argv, NULL);
	free(argv);
}

static void ack_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	flush_acks(arg);
}

static void claim_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	struct rstream *r = priv;
	redisReply *reply = rep;
	if (r->ctl.closing)
		return;
	unsigned reserved = r->claim_reserved, taken = 0;
	r->claiming = false;
	r->claim_reserved = 0;
	/* [next cursor, [entries], [deleted ids] (Redis 7)] */
	if (reply_ok(&r->ctl, ac, reply, "XAUTOCLAIM") && !r->stopped &&
	    reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
	    reply->element[0]->type == REDIS_REPLY_STRING) {
		char last[64];
		taken = take_entries(r, reply->element[1], false, last, sizeof(last));
		snprintf(r->claim_cursor, sizeof(r->claim_cursor), "%s", reply->element[0]->str);
	}
	unreserve(r, reserved, taken);
	read_more(r);
}

/* Sends an XAUTOCLAIM now if it can; false when not (no credit, not connected). */
static bool claim_now(struct rstream *r)
{
	if (r->claiming || r->stopped || !r->ctl.up || r->credit == 0)
		return false;
	char idle[24], count[16];
	unsigned n = r->credit < r->conf.batch ? r->credit : r->conf.batch;
	r->credit -= n;
	r->claim_reserved = n;
	snprintf(idle, sizeof(idle), "%" PRIu64, r->conf.claim_idle_ms);
	snprintf(count, sizeof(count), "%u", n);
	const char *argv[] = {"XAUTOCLAIM", r->conf.stream,  r->conf.group, r->conf.consumer,
			      idle,	    r->claim_cursor, "COUNT",	    count};
	r->claiming = true;
	redisAsyncCommandArgv(r->ctl.ac, claim_cb, r, 8, argv, NULL);
	return true;
}

static void claim_tick(evutil_socket_t fd, short what, void *arg)
{
	struct rstream *r = arg;
	if (!claim_now(r))
		r->claim_due = !r->stopped;
}

struct rstream *rstream_reader_new(struct event_base *base, const struct rstream_conf *conf,
				   rstream_entry_cb entry, rstream_link_cb link, void *arg)
{
	struct rstream *r = xcalloc(1, sizeof(*r));
	r->conf = *conf;
	r->entry = entry;
	r->link = link;
	r->arg = arg;
	snprintf(r->cursor, sizeof(r->cursor), "0");
	snprintf(r->claim_cursor, sizeof(r->claim_cursor), "0-0");
	link_init(&r->read, base, &r->conf, "read", r);
	link_init(&r->ctl, base, &r->conf, "control", r);
	r->read.on_up = r->ctl.on_up = reader_up;
	r->read.on_down = r->ctl.on_down = reader_down;
	r->ack_flush = event_new(base, -1, 0, ack_flush_cb, r);
	if (conf->claim_idle_ms > 0) {
		r->claim_timer = event_new(base, -1, EV_PERSIST, claim_tick, r);
		uint64_t half = conf->claim_idle_ms * 1000 / 2;
		struct timeval tv = {(time_t)(half / 1000000), (suseconds_t)(half % 1000000)};
		evtimer_add(r->claim_timer, &tv);
	}
	link_connect(&r->ctl);
	link_connect(&r->read);
	return r;
}

void rstream_credit(struct rstream *r, unsigned n)
{
	r->credit += n;
	read_more(r);
}

void rstream_ack(struct rstream *r, const char *id)
{
	struct held *h = *held_find(r, id);
	if (h != NULL)
		h->ack_queued = true;
	if (r->n_acks == r->cap_acks) {
		r->cap_acks = r->cap_acks ? 2 * r->cap_acks : 64;
		r->acks = xrealloc(r->acks, r->cap_acks * sizeof(*r->acks));
	}
	r->acks[r->n_acks++] = xstrdup(id);
	/* One XACK for all the acks of this loop iteration. */
	if (r->n_acks == 1)
		event_active(r->ack_flush, 0, 0);
}

void rstream_stop_reading(struct rstream *r)
{
	r->stopped = true;
}

size_t rstream_unacked(const struct rstream *r)
{
	return r->n_held;
}

void rstream_free(struct rstream *r)
{
	if (r == NULL)
		return;
	link_close(&r->read);
	link_close(&r->ctl);
	if (r->claim_timer != NULL)
		event_free(r->claim_timer);
	event_free(r->ack_flush);
	for (size_t b = 0; b < HELD_BUCKETS; b++)
		while (r->held[b] != NULL) {
			struct held *h = r->held[b];
			r->held[b] = h->next;
			free(h);
		}
	for (size_t i = 0; i < r->n_acks; i++)
		free(r->acks[i]);
	free(r->acks);
	free(r);
}

/* --- the writer ------------------------------------------------------------------ */

struct xadd {
	struct xadd *next;
	uint64_t token;
	size_t len;
	char data[];
};

struct rstream_writer {
	struct rstream_conf conf;
	struct link link;
	rstream_written_cb written;
	rstream_link_cb link_cb;
	void *arg;
	struct xadd *head, *tail; /* FIFO: the first n_sent await their reply */
	struct xadd *next_unsent;
	size_t n_sent, n_queued;
};

static void writer_send(struct rstream_writer *w);

static void xadd_cb(redisAsyncContext *ac, void *rep, void *priv)
{
	struct rstream_writer *w = priv;
	redisReply *reply = rep;
	if (!reply_ok(&w->link, ac, reply, "XADD") || w->head == NULL)
		return; /* lost: sent again from the head after the reconnect */
	struct xadd *x = w->head;
	w->head = x->next;
	if (w->head == NULL)
		w->tail = NULL;
	w->n_sent--;
	w->n_queued--;
	uint64_t token = x->token;
	free(x);
	w->written(w->arg, token);
	writer_send(w);
}

static void writer_send(struct rstream_writer *w)
{
	while (w->link.up && w->next_unsent != NULL && w->n_sent < w->conf.max_in_flight) {
		struct xadd *x = w->next_unsent;
		char maxlen[24];
		const char *argv[8];
		size_t lens[8];
		int argc = 0;
		argv[argc++] = "XADD";
		argv[argc++] = w->conf.stream;
		if (w->conf.maxlen > 0) {
			snprintf(maxlen, sizeof(maxlen), "%" PRIu64, w->conf.maxlen);
			argv[argc++] = "MAXLEN";
			argv[argc++] = "~";
			argv[argc++] = maxlen;
		}
		argv[argc++] = "*";
		argv[argc++] = w->conf.field;
		for (int i = 0; i < argc; i++)
			lens[i] = strlen(argv[i]);
		argv[argc] = x->data;
		lens[argc++] = x->len;
		redisAsyncCommandArgv(w->link.ac, xadd_cb, w, argc, argv, lens);
		w->n_sent++;
		w->next_unsent = x->next;
	}
}

static void writer_up(struct link *l)
{
	struct rstream_writer *w = l->owner;
	w->n_sent = 0;
	w->next_unsent = w->head; /* whatever had no reply goes again */
	w->link_cb(w->arg, true, NULL);
	writer_send(w);
}

static void writer_down(struct link *l, const char *why)
{
	struct rstream_writer *w = l->owner;
	w->n_sent = 0;
	w->next_unsent = w->head;
	w->link_cb(w->arg, false, why);
}

struct rstream_writer *rstream_writer_new(struct event_base *base, const struct rstream_conf *conf,
					  rstream_written_cb written, rstream_link_cb link,
					  void *arg)
{
	struct rstream_writer *w = xcalloc(1, sizeof(*w));
	w->conf = *conf;
	if (w->conf.max_in_flight == 0)
		w->conf.max_in_flight = 1;
	w->written = written;
	w->link_cb = link;
	w->arg = arg;
	link_init(&w->link, base, &w->conf, "write", w);
	w->link.on_up = writer_up;
	w->link.on_down = writer_down;
	link_connect(&w->link);
	return w;
}

void rstream_xadd(struct rstream_writer *w, const char *data, size_t len, uint64_t token)
{
	struct xadd *x = xmalloc(sizeof(*x) + len);
	x->next = NULL;
	x->token = token;
	x->len = len;
	memcpy(x->data, data, len);
	if (w->tail != NULL)
		w->tail->next = x;
	else
		w->head = x;
	w->tail = x;
	if (w->next_unsent == NULL)
		w->next_unsent = x;
	w->n_queued++;
	writer_send(w);
}

bool rstream_writer_ready(const struct rstream_writer *w)
{
	return w->n_queued < w->conf.max_in_flight;
}

size_t rstream_writer_pending(const struct rstream_writer *w)
{
	return w->n_queued;
}

size_t rstream_writer_take_back(struct rstream_writer *w, rstream_give_cb give, void *arg)
{
	size_t n = 0;
	while (w->head != NULL) {
		struct xadd *x = w->head;
		w->head = x->next;
		if (give != NULL)
			give(arg, x->data, x->len, x->token);
		free(x);
		n++;
	}
	w->tail = w->next_unsent = NULL;
	w->n_sent = w->n_queued = 0;
	return n;
}

void rstream_writer_free(struct rstream_writer *w)
{
	if (w == NULL)
		return;
	link_close(&w->link);
	while (w->head != NULL) {
		struct xadd *x = w->head;
		w->head = x->next;
		free(x);
	}
	free(w);
}
