/*
 * source-http.c: the http source, an evhttp server. A POST (or PUT) to `path`
 * carries one item (its whole body), or with `split: lines` (nul) one item per
 * record of the body (a last record needs no delimiter).
 *
 * A request is taken whole or not at all, so that the client's answer is
 * always true: 202 once its items are queued, or with `ack: true` 200 once
 * every one of them is done end to end (500 if any failed for good or was
 * abandoned by a cancel: resend it, at-least-once). A request is taken only
 * when the first queue has room (source_ready); its records are then queued
 * together, beyond the queue's bound by at most one body (max_body).
 *
 * Backpressure: while the queue is full, requests wait in arrival order,
 * unanswered. evhttp reads nothing more from a connection whose request is
 * unanswered, and the listener stops accepting, so clients are held back by
 * the kernel. A request that waits longer than queue_timeout gets 503 with
 * Retry-After. Bodies over max_body get 413 from evhttp; a record over
 * max_item_bytes makes the whole request 413 (nothing of it is queued; it is
 * counted as rejected and dead-lettered). Other paths get 404, other methods 405.
 *
 * Connections: at most max_connections are open at once (each may hold a body of
 * up to max_body, so this bounds memory); at the cap the listener stops
 * accepting until one closes, and new clients wait in the kernel's backlog.
 * evhttp has no hook for a new connection, but it asks us for each one's
 * bufferevent (evhttp_set_bevcb): that counts it. Once evhttp has set the
 * connection up (an event run right after the accept), its close callback is
 * set from the bufferevent's callback argument, the evhttp_connection; our
 * reference on the bufferevent keeps it valid until then.
 *
 * TLS (a `tls:` block): each connection's bufferevent is an OpenSSL one, so evhttp
 * speaks https; a failed handshake (a plain-text client, a client certificate
 * missing or refused) is logged when evhttp closes the connection, with the peer
 * and the reason.
 *
 * A graceful stop closes the listener, answers waiting requests 503 (nothing of
 * them was taken) and, with ack, still answers the taken ones when they are done.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/queue.h>

#include "envcheck.h"
#include "log.h"
#include "scope.h"
#include "journal-loop.h"
#include "source.h"
#include "tls.h"
#include "util.h"

struct http_src;

struct http_req {
	TAILQ_ENTRY(http_req) entry;
	struct http_src *hs;
	struct evhttp_request *req;
	struct event *timer; /* queue_timeout, while waiting */
	uint64_t outstanding, made;
	bool waiting, emitted, failed, abandoned;
	struct journal_waiter jw; /* with a journal: the 202 waits until its items are safe */
};

TAILQ_HEAD(http_req_list, http_req);

struct http_src {
	struct source *s;
	const struct conf_source *cs;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct http_req_list waiting; /* not taken yet, oldest first */
	struct http_req_list taken;   /* ack: taken, answered when done */
	bool stopped, accepting;
	uint64_t n_conns;	    /* open, against max_connections */
	struct bufferevent **fresh; /* accepted, their close callback not yet set */
	size_t n_fresh, fresh_cap;
	struct event *adopt; /* sets it, right after the accept */
	uint64_t last_cap_log;
	bool tls_on;
	struct tls_endpoint tls;
	struct tls_fail_log tls_failures;
};

/* Logging the cap at most this often. */
#define CAP_LOG_USEC 10000000

static void reply(struct evhttp_request *req, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void reply(struct evhttp_request *req, int code, const char *reason, const char *fmt, ...)
{
	struct evbuffer *body = evbuffer_new();
	va_list ap;
	va_start(ap, fmt);
	evbuffer_add_vprintf(body, fmt, ap);
	va_end(ap);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
	evhttp_send_reply(req, code, reason, body);
	evbuffer_free(body);
}

static void set_accepting(struct http_src *hs, bool on)
{
	if (on && hs->n_conns >= hs->cs->max_connections)
		on = false;
	if (hs->bound == NULL || hs->accepting == on)
		return;
	struct evconnlistener *lev = evhttp_bound_socket_get_listener(hs->bound);
	if (on)
		evconnlistener_enable(lev);
	else
		evconnlistener_disable(lev);
	hs->accepting = on;
}

/* Not held back by a full queue, nor stopped. */
static bool may_accept(struct http_src *hs)
{
	return TAILQ_EMPTY(&hs->waiting) && !hs->stopped && !source_paused(hs->s) &&
	       !source_held(hs->s);
}

static void conn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct http_src *hs = arg;
	if (hs->tls_on && evcon != NULL &&
	    !tls_established(evhttp_connection_get_bufferevent(evcon))) {
		char why[256], peer[128], *addr = NULL;
		ev_uint16_t port = 0;
		evhttp_connection_get_peer(evcon, &addr, &port);
		snprintf(peer, sizeof(peer), "%s:%u", addr ? addr : "?", (unsigned)port);
		tls_log_failure(
		    &hs->tls_failures, hs->cs->name, peer,
		    tls_error(evhttp_connection_get_bufferevent(evcon), why, sizeof(why)));
	}
	hs->n_conns--;
	if (may_accept(hs))
		set_accepting(hs, true);
}

/* Every new connection's bufferevent: counted, and adopted right after the accept. */
static struct bufferevent *conn_bev_cb(struct event_base *base, void *arg)
{
	struct http_src *hs = arg;
	struct bufferevent *bev =
	    hs->tls_on ? tls_accept(base, tls_endpoint_ctx(&hs->tls), -1, BEV_OPT_CLOSE_ON_FREE)
		       : bufferevent_socket_new(base, -1, 0);
	if (bev == NULL)
		return NULL;
	bufferevent_incref(bev);
	if (hs->n_fresh == hs->fresh_cap) {
		hs->fresh_cap = hs->fresh_cap ? 2 * hs->fresh_cap : 8;
		hs->fresh = xrealloc(hs->fresh, hs->fresh_cap * sizeof(*hs->fresh));
	}
	hs->fresh[hs->n_fresh++] = bev;
	event_active(hs->adopt, EV_TIMEOUT, 0);
	if (++hs->n_conns >= hs->cs->max_connections) {
		set_accepting(hs, false);
		uint64_t now = now_usec();
		if (hs->last_cap_log == 0 || now - hs->last_cap_log >= CAP_LOG_USEC) {
			log_warnx("source '%s': max_connections (%llu) are open; accepting no "
				  "more until one closes",
				  hs->cs->name, (unsigned long long)hs->cs->max_connections);
			hs->last_cap_log = now;
		}
	}
	return bev;
}

static void adopt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_src *hs = arg;
	for (size_t i = 0; i < hs->n_fresh; i++) {
		bufferevent_event_cb eventcb;
		void *evcon;
		bufferevent_getcb(hs->fresh[i], NULL, NULL, &eventcb, &evcon);
		/* No callback: evhttp gave the connection up already, and freed it. */
		if (eventcb != NULL)
			evhttp_connection_set_closecb(evcon, conn_close_cb, hs);
		else
			conn_close_cb(NULL, hs);
		bufferevent_decref(hs->fresh[i]);
	}
	hs->n_fresh = 0;
}

static void req_free(struct http_req *r)
{
	journal_loop_cancel(&r->jw);
	if (r->timer != NULL)
		event_free(r->timer);
	free(r);
}

/* ack: every item of the request is done: 200, or 500 if any was not done well. */
static void req_finish(struct http_req *r)
{
	struct http_src *hs = r->hs;
	if (!r->emitted || r->outstanding > 0)
		return;
	TAILQ_REMOVE(&hs->taken, r, entry);
	if (r->failed || r->abandoned)
		reply(r->req, 500, "Internal Server Error",
		      r->abandoned ? "not done: the pipeline was cancelled; send it again\n"
				   : "failed: %llu item(s), some failed\n",
		      (unsigned long long)r->made);
	else
		reply(r->req, 200, "OK", "done: %llu item(s)\n", (unsigned long long)r->made);
	req_free(r);
}

static void http_done_cb(void *arg, const struct track_done *d)
{
	struct http_req *r = d->token;
	r->outstanding--;
	if (d->status == TRACK_FAILED)
		r->failed = true;
	else if (d->status == TRACK_ABANDONED)
		r->abandoned = true;
	req_finish(r);
}

const char *http_body_items(const char *body, size_t n, enum split_mode split, char delim,
			    http_item_fn fn, void *arg, size_t *len)
{
	if (split == SPLIT_NONE) {
		/* A body's one trailing newline ends it: it is not part of the item. */
		*len = n > 0 && body[n - 1] == '\n' ? n - 1 : n;
		return fn(arg, body, *len) ? NULL : body;
	}
	const char *p = body;
	size_t left = n;
	while (left > 0) {
		const char *d = memchr(p, delim, left);
		size_t rlen = d != NULL ? (size_t)(d - p) : left;
		if (!fn(arg, p, rlen)) {
			*len = rlen;
			return p;
		}
		if (d == NULL)
			break;
		left -= rlen + 1;
		p = d + 1;
	}
	return NULL;
}

static bool within_max(void *arg, const char *p, size_t len)
{
	return len <= *(const uint64_t *)arg;
}

static bool emit_item(void *arg, const char *p, size_t len)
{
	source_emit_force(arg, p, len);
	return true;
}

static void req_journaled_cb(void *arg)
{
	struct http_req *r = arg;
	TAILQ_REMOVE(&r->hs->taken, r, entry);
	reply(r->req, 202, "Accepted", "journaled: %llu item(s)\n", (unsigned long long)r->made);
	req_free(r);
}

/* Queues every record of the request and answers it (now, or with ack when done). */
static void take(struct http_req *r)
{
	struct http_src *hs = r->hs;
	struct source *s = hs->s;
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t n = evbuffer_get_length(in);
	const char *body = n > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	uint64_t before = source_items(s);

	if (conf_ack_done(hs->cs->ack))
		source_set_token(s, r);
	size_t len;
	http_body_items(body, n, hs->cs->split, source_delim(s), emit_item, s, &len);
	source_set_token(s, NULL);
	r->made = source_items(s) - before;
	r->emitted = true;
	if (source_journaled(s)) {
		/* Taken means journaled: the 202 follows the write (and sync) of its items. */
		TAILQ_INSERT_TAIL(&hs->taken, r, entry);
		journal_loop_when_safe(&r->jw, req_journaled_cb, r);
		return;
	}
	if (!conf_ack_done(hs->cs->ack)) {
		reply(r->req, 202, "Accepted", "queued: %llu item(s)\n",
		      (unsigned long long)r->made);
		req_free(r);
		return;
	}
	r->outstanding += r->made;
	TAILQ_INSERT_TAIL(&hs->taken, r, entry);
	req_finish(r);
}

static void wait_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_req *r = arg;
	struct http_src *hs = r->hs;
	uint64_t secs = (hs->cs->queue_timeout + 999999) / 1000000;
	char retry[24];

	TAILQ_REMOVE(&hs->waiting, r, entry);
	snprintf(retry, sizeof(retry), "%llu", (unsigned long long)(secs > 0 ? secs : 1));
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Retry-After", retry);
	reply(r->req, 503, "Service Unavailable",
	      "the pipeline is full (held back for queue_timeout); retry later\n");
	req_free(r);
	if (may_accept(hs))
		set_accepting(hs, true);
}

/* Takes waiting requests in order while there is room. */
static void take_waiting(struct http_src *hs)
{
	struct http_req *r;
	while ((r = TAILQ_FIRST(&hs->waiting)) != NULL && source_ready(hs->s)) {
		TAILQ_REMOVE(&hs->waiting, r, entry);
		evtimer_del(r->timer);
		r->waiting = false;
		take(r);
	}
	set_accepting(hs, TAILQ_EMPTY(&hs->waiting) && !hs->stopped);
}

static void request_cb(struct evhttp_request *req, void *arg)
{
	struct http_src *hs = arg;
	const struct conf_source *cs = hs->cs;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);

	if (path == NULL || strcmp(path, cs->path) != 0) {
		reply(req, 404, "Not Found", "items are taken at %s\n", cs->path);
		return;
	}
	if (method != EVHTTP_REQ_POST && method != EVHTTP_REQ_PUT) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST, PUT");
		reply(req, 405, "Method Not Allowed", "POST the items\n");
		return;
	}
	if (hs->stopped) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
		reply(req, 503, "Service Unavailable", "stopping\n");
		return;
	}
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in), len = 0;
	uint64_t max = source_max_item(hs->s);
	const char *body = n > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	const char *big =
	    http_body_items(body, n, cs->split, source_delim(hs->s), within_max, &max, &len);
	if (big != NULL) {
		source_reject(hs->s, big, len);
		reply(req, 413, "Payload Too Large",
		      "a record of %zu bytes is over max_item_bytes (%llu); nothing was queued\n",
		      len, (unsigned long long)max);
		return;
	}
	struct http_req *r = xcalloc(1, sizeof(*r));
	r->hs = hs;
	r->req = req;
	if (TAILQ_EMPTY(&hs->waiting) && source_ready(hs->s)) {
		take(r);
		return;
	}
	/* Full: it waits, unanswered, and no new connection is accepted meanwhile. */
	struct timeval tv = {(time_t)(cs->queue_timeout / 1000000),
			     (suseconds_t)(cs->queue_timeout % 1000000)};
	r->waiting = true;
	r->timer = evtimer_new(scope_base(source_scope(hs->s)), wait_timeout_cb, r);
	evtimer_add(r->timer, &tv);
	TAILQ_INSERT_TAIL(&hs->waiting, r, entry);
	set_accepting(hs, false);
}

/* ---- the kind ---- */

static int http_src_open(struct source *s, char *err, size_t errlen)
{
	const struct conf_source *cs = source_conf(s);
	struct http_src *hs = xcalloc(1, sizeof(*hs));
	char host[256];
	unsigned port;
	const char *why;

	*source_state(s) = hs;
	hs->s = s;
	hs->cs = cs;
	TAILQ_INIT(&hs->waiting);
	TAILQ_INIT(&hs->taken);
	if (conf_parse_hostport(cs->listen, host, sizeof(host), &port, &why) < 0) {
		snprintf(err, errlen, "source '%s': bad listen address '%s': %s", cs->name,
			 cs->listen, why);
		return -1;
	}
	hs->http = evhttp_new(scope_base(source_scope(s)));
	evhttp_set_max_body_size(hs->http, (ev_ssize_t)cs->max_body);
	evhttp_set_max_headers_size(hs->http, 64 * 1024);
	/* A client that stalls mid-request is let go. */
	evhttp_set_timeout(hs->http, 60);
	evhttp_set_allowed_methods(hs->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						 EVHTTP_REQ_HEAD | EVHTTP_REQ_DELETE |
						 EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(hs->http, request_cb, hs);
	evhttp_set_bevcb(hs->http, conn_bev_cb, hs);
	if (cs->tls.enabled) {
		char who[CONF_NAME_MAX + 16];
		snprintf(who, sizeof(who), "source '%s'", cs->name);
		if (conf_tls_endpoint(&hs->tls, &cs->tls, true, who, err, errlen) < 0)
			return -1;
		hs->tls_on = true;
	}
	hs->adopt = event_new(scope_base(source_scope(s)), -1, 0, adopt_cb, hs);
	/* A reload hands over the old source's listening socket, or has looked the name up
	 * off the loop (evhttp would call getaddrinfo here). */
	int fd = source_inherited_fd(s);
	int rc = fd >= 0 ? 0 : source_listen_numeric(cs->listen, host, sizeof(host));
	if (rc != 0) {
		snprintf(err, errlen, "source '%s': cannot resolve '%s': %s", cs->name, host,
			 gai_strerror(rc));
		return -1;
	}
	hs->bound = fd >= 0 ? evhttp_accept_socket_with_handle(hs->http, fd)
			    : evhttp_bind_socket_with_handle(hs->http, host, (ev_uint16_t)port);
	if (hs->bound == NULL) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "source '%s': cannot listen on %s: %s", cs->name, cs->listen,
			 strerror(e));
		return -1;
	}
	/* Accepting starts with the source. */
	evconnlistener_disable(evhttp_bound_socket_get_listener(hs->bound));
	if (conf_ack_done(cs->ack))
		source_track(s, http_done_cb, hs, false);
	return 0;
}

static void http_src_start(struct source *s)
{
	struct http_src *hs = *source_state(s);
	set_accepting(hs, true);
	log_info("source '%s' listening on %s://%s%s", hs->cs->name, hs->tls_on ? "https" : "http",
		 hs->cs->listen, hs->cs->path);
}

static void http_src_resume(struct source *s)
{
	take_waiting(*source_state(s));
}

static void http_src_stop(struct source *s)
{
	struct http_src *hs = *source_state(s);
	struct http_req *r;
	hs->stopped = true;
	if (hs->bound != NULL) {
		evhttp_del_accept_socket(hs->http, hs->bound);
		hs->bound = NULL;
	}
	/* Nothing of these was taken: the client may send them again elsewhere. */
	while ((r = TAILQ_FIRST(&hs->waiting)) != NULL) {
		TAILQ_REMOVE(&hs->waiting, r, entry);
		evhttp_add_header(evhttp_request_get_output_headers(r->req), "Connection", "close");
		reply(r->req, 503, "Service Unavailable", "stopping\n");
		req_free(r);
	}
	source_end(s);
}

static void http_src_free(struct source *s)
{
	struct http_src *hs = *source_state(s);
	struct http_req *r;
	if (hs == NULL)
		return;
	/* Every request is answered once, before evhttp_free() takes its connection. */
	while ((r = TAILQ_FIRST(&hs->waiting)) != NULL) {
		TAILQ_REMOVE(&hs->waiting, r, entry);
		reply(r->req, 503, "Service Unavailable", "stopping\n");
		req_free(r);
	}
	while ((r = TAILQ_FIRST(&hs->taken)) != NULL) {
		TAILQ_REMOVE(&hs->taken, r, entry);
		reply(r->req, 500, "Internal Server Error", "not done: the daemon stopped\n");
		req_free(r);
	}
	for (size_t i = 0; i < hs->n_fresh; i++)
		bufferevent_decref(hs->fresh[i]);
	free(hs->fresh);
	if (hs->adopt != NULL)
		event_free(hs->adopt);
	/* evhttp_free() frees the listener, then closes each connection (conn_close_cb). */
	hs->bound = NULL;
	hs->stopped = true;
	if (hs->http != NULL)
		evhttp_free(hs->http);
	if (hs->tls_on)
		tls_endpoint_free(&hs->tls);
	free(hs);
}

static int http_src_listener(struct source *s)
{
	struct http_src *hs = *source_state(s);
	return hs != NULL && hs->bound != NULL ? evhttp_bound_socket_get_fd(hs->bound) : -1;
}

static const char *http_src_address(const struct conf_source *cs)
{
	return cs->listen;
}

static bool check_http_path(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	const char *path = *(char **)field;
	if (path[0] == '/')
		return true;
	conf_err(x, v, "'path' of an http source is a URL path and must start with '/', got '%s'",
		 path);
	return false;
}

static const struct conf_key http_rows[] = {
    {"path", CT_STR, CF_NONEMPTY, .off = CONF_SRC(path), .check = check_http_path,
     .doc = "http: the URL path requests are taken at (default /)."},
    {"queue_timeout", CT_DURATION, .off = CONF_SRC(queue_timeout), .def = "5s",
     .doc = "How long a request waits for queue space (then 503)."},
    {"max_body", CT_SIZE, .off = CONF_SRC(max_body), .def = "16MiB",
     .doc = "A larger request body gets 413."},
    {"max_connections", CT_UINT, .off = CONF_SRC(max_connections), .def = "64", .min = 1,
     .max = 100000, .doc = "http: at the cap no connection is accepted until one closes."},
};

/* The URL path defaults to "/" (a path written but broken stays unset: no second error). */
static void http_check(struct conf_ctx *x, void *entry)
{
	struct conf_source *s = entry;
	if (s->path == NULL && conf_key_of(x, "path") == NULL)
		s->path = xstrdup("/");
	conf_tls_server_check(x, &s->tls, x->label);
}

static void http_envcheck(struct envcheck *ck, const char *owner, const void *entry)
{
	const struct conf_source *s = entry;
	envcheck_listen(ck, owner, s->listen, &s->listen, s->pos);
}

const struct source_kind source_http = {
    .conf = {.name = "http",
	     CONF_ROWS(&source_listen_row, &http_rows[0], &source_split_row, &source_ack_row,
		       &http_rows[1], &http_rows[2], &http_rows[3], &conf_source_tls_row),
	     .check = http_check,
	     .envcheck = http_envcheck},
    .open = http_src_open,
    .start = http_src_start,
    .resume = http_src_resume,
    .stop = http_src_stop,
    .free = http_src_free,
    .listener = http_src_listener,
    .address = http_src_address,
    .replays = source_replays_if_acked,
    .splits = true,
};
