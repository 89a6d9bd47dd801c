/*
 * work-http.c: the http worker kind (SPEC `http:`). Each slot makes one request
 * per item with the libevent HTTP client: `url` is a template whose {} is
 * percent-encoded (unless the URL starts with {}: the item is then the URL),
 * `body` and header values are plain templates. The response body is the
 * result item (one trailing newline removed, as for exec stdout: result),
 * capped at max_item_bytes (a longer one fails with output_too_large).
 *
 * Failures, under the stage's retry and on_failure like any other kind: a
 * status other than 2xx is kind "http" with the status as exit_status ("HTTP
 * 503 from URL: ..."); no answer within the http block's `timeout` is
 * "timeout"; a connection error or a URL the item made invalid is "io".
 *
 * Connections: a small pool per host:port of keep-alive evhttp_connections,
 * each carrying one request at a time, so `workers` requests run at once and
 * connections are reused across items. Idle connections beyond 2 x workers + 16
 * (many hosts) are closed, least recently used first. Names are resolved by the
 * shared evdns resolver: nothing blocks the loop. A server may close a kept-alive
 * connection just as a request goes out on it (an HTTP/1.0 server after each
 * answer, an idle timeout): a request that fails on a reused connection before
 * any byte of the answer arrived is sent once more on a new connection, as curl
 * does; that is not an attempt of the stage's.
 *
 * https:// URLs: connections are OpenSSL bufferevents, with the stage's `tls:`
 * block (default: verified against the system's CAs). libevent cannot reconnect
 * an OpenSSL bufferevent, so a pooled TLS connection that was closed gets a new
 * one before its next request. A failed handshake is an "io" failure naming the
 * reason (unknown CA, name mismatch, expired).
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "scope.h"
#include "stage.h"
#include "template.h"
#include "tls.h"
#include "util.h"

struct conn {
	struct conn *next; /* in its host's list */
	struct host *host;
	struct evhttp_connection *evcon;
	bool busy;
	bool answered; /* a byte arrived since the current request went out */
	bool unused;   /* made for the request about to go out: never connected yet */
	uint64_t last_used;
};

struct host {
	struct host *next;
	char *name;
	unsigned port;
	bool tls;
	struct conn *conns;
};

struct http_stage {
	const struct conf_stage *cs;
	struct stage *st;
	struct event_base *base;
	struct evdns_base *dns;
	struct host *hosts;
	unsigned n_conns;
	uint64_t max_body;
	struct http_work *works; /* every slot's, freed with the stage */
	bool tls_on;		 /* tls is set up (at the first https:// URL) */
	struct tls_endpoint tls;
};

struct http_work {
	struct http_work *next;
	struct http_stage *hs;
	struct stage_slot *slot;
	struct evhttp_request *req;
	struct conn *conn;
	struct event *timer;
	int last_error;
	bool cancel_pending;
	bool reused, resent; /* sent on a connection already open; sent again */
	char *url;
};

static const enum evhttp_cmd_type methods[] = {
    [HTTP_GET] = EVHTTP_REQ_GET,     [HTTP_POST] = EVHTTP_REQ_POST,
    [HTTP_PUT] = EVHTTP_REQ_PUT,     [HTTP_DELETE] = EVHTTP_REQ_DELETE,
    [HTTP_PATCH] = EVHTTP_REQ_PATCH, [HTTP_HEAD] = EVHTTP_REQ_HEAD};

/* ---- the connection pool ---- */

static void conn_free(struct conn *c)
{
	evhttp_connection_free(c->evcon);
	free(c);
}

/* Closes the least recently used idle connection, if any. */
static void evict_one(struct http_stage *hs)
{
	struct conn **victim = NULL;
	for (struct host *h = hs->hosts; h != NULL; h = h->next)
		for (struct conn **pp = &h->conns; *pp != NULL; pp = &(*pp)->next)
			if (!(*pp)->busy &&
			    (victim == NULL || (*pp)->last_used < (*victim)->last_used))
				victim = pp;
	if (victim == NULL)
		return;
	struct conn *c = *victim;
	*victim = c->next;
	conn_free(c);
	hs->n_conns--;
}

static void conn_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;
	if (info->n_added > 0)
		c->answered = true;
}

/* A connection to h: plain, or TLS over an OpenSSL bufferevent. */
static struct evhttp_connection *evcon_new(struct http_stage *hs, struct conn *c)
{
	const struct host *h = c->host;
	struct evhttp_connection *evcon;
	if (h->tls) {
		struct bufferevent *bev = tls_connect(hs->base, tls_endpoint_ctx(&hs->tls), -1,
						      h->name, BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL)
			return NULL;
		evcon = evhttp_connection_base_bufferevent_new(hs->base, hs->dns, bev, h->name,
							       (ev_uint16_t)h->port);
		if (evcon == NULL) {
			bufferevent_free(bev);
			return NULL;
		}
	} else {
		evcon =
		    evhttp_connection_base_new(hs->base, hs->dns, h->name, (ev_uint16_t)h->port);
		if (evcon == NULL)
			return NULL;
	}
	/* Retries belong to the stage's policy, not to libevent. */
	evhttp_connection_set_retries(evcon, 0);
	evhttp_connection_set_max_body_size(evcon, (ev_ssize_t)hs->max_body);
	struct timeval tv = {(time_t)(hs->cs->http.timeout / 1000000),
			     (suseconds_t)(hs->cs->http.timeout % 1000000)};
	evhttp_connection_set_timeout_tv(evcon, &tv);
	evbuffer_add_cb(bufferevent_get_input(evhttp_connection_get_bufferevent(evcon)),
			conn_input_cb, c);
	return evcon;
}

static struct conn *conn_get(struct http_stage *hs, const char *name, unsigned port, bool tls)
{
	struct host *h;
	for (h = hs->hosts; h != NULL; h = h->next)
		if (h->port == port && h->tls == tls && strcmp(h->name, name) == 0)
			break;
	if (h == NULL) {
		h = xcalloc(1, sizeof(*h));
		h->name = xstrdup(name);
		h->port = port;
		h->tls = tls;
		h->next = hs->hosts;
		hs->hosts = h;
	}
	for (struct conn *c = h->conns; c != NULL; c = c->next) {
		if (!c->busy) {
			c->busy = true;
			return c;
		}
	}
	if (hs->n_conns >= 2 * hs->cs->workers + 16)
		evict_one(hs);
	struct conn *c = xcalloc(1, sizeof(*c));
	c->host = h;
	c->evcon = evcon_new(hs, c);
	if (c->evcon == NULL) {
		free(c);
		return NULL;
	}
	c->busy = true;
	c->unused = true;
	c->next = h->conns;
	h->conns = c;
	hs->n_conns++;
	return c;
}

static void conn_put(struct http_work *w)
{
	if (w->conn != NULL) {
		w->conn->busy = false;
		w->conn->last_used = now_usec();
		w->conn = NULL;
	}
}

/* ---- the kind ---- */

/* The stage's tls block (its defaults when it has none: an https:// URL from an item). */
static int tls_setup(struct http_stage *hs, char *err, size_t errlen)
{
	char who[CONF_NAME_MAX + 16];
	snprintf(who, sizeof(who), "stage '%s'", hs->cs->name);
	if (conf_tls_endpoint(&hs->tls, &hs->cs->tls, false, who, err, errlen) < 0)
		return -1;
	hs->tls_on = true;
	return 0;
}

static int http_init(struct stage *st, void **state, char *err, size_t errlen)
{
	struct http_stage *hs = xcalloc(1, sizeof(*hs));
	hs->cs = stage_conf(st);
	hs->st = st;
	hs->base = scope_base(stage_scope(st));
	hs->dns = net_dns_get(hs->base);
	hs->max_body = scope_conf(stage_scope(st))->max_item_bytes;
	*state = hs;
	if (hs->cs->tls.enabled && tls_setup(hs, err, errlen) < 0)
		return -1;
	if (hs->tls_on && !hs->cs->tls.verify)
		log_warnx("stage '%s': https servers' certificates are not verified "
			  "(tls.verify: false)",
			  hs->cs->name);
	return 0;
}

static void http_free_state(void *state)
{
	struct http_stage *hs = state;
	if (hs == NULL)
		return;
	while (hs->hosts != NULL) {
		struct host *h = hs->hosts;
		hs->hosts = h->next;
		while (h->conns != NULL) {
			struct conn *c = h->conns;
			h->conns = c->next;
			conn_free(c);
		}
		free(h->name);
		free(h);
	}
	while (hs->works != NULL) {
		struct http_work *w = hs->works;
		hs->works = w->next;
		event_free(w->timer);
		free(w->url);
		free(w);
	}
	net_dns_put();
	if (hs->tls_on)
		tls_endpoint_free(&hs->tls);
	free(hs);
}

static void finish(struct http_work *w, struct item *out, const struct failure *f)
{
	evtimer_del(w->timer);
	w->req = NULL;
	conn_put(w);
	free(w->url);
	w->url = NULL;
	stage_slot_done(w->slot, out, f);
}

static void fail(struct http_work *w, enum failure_kind kind, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct http_work *w, enum failure_kind kind, int status, const char *fmt, ...)
{
	struct failure f = {.kind = kind, .exit_status = status};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f.message, sizeof(f.message), fmt, ap);
	va_end(ap);
	finish(w, NULL, &f);
}

static const char *error_text(int err)
{
	switch (err) {
	case EVREQ_HTTP_EOF:
		return "the connection was closed before an answer";
	case EVREQ_HTTP_INVALID_HEADER:
		return "the answer was not valid HTTP";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "connection error";
	case EVREQ_HTTP_REQUEST_CANCEL:
		return "cancelled";
	default:
		return "cannot connect";
	}
}

static void error_cb(enum evhttp_request_error err, void *arg)
{
	struct http_work *w = arg;
	w->last_error = (int)err;
}

static void send_request(struct http_work *w);

static void done_cb(struct evhttp_request *req, void *arg)
{
	struct http_work *w = arg;
	const struct http_stage *hs = w->hs;
	int status = req != NULL ? evhttp_request_get_response_code(req) : 0;
	char why[200];

	if (req == NULL && w->reused && !w->resent && !w->conn->answered &&
	    (w->last_error == EVREQ_HTTP_EOF || w->last_error == EVREQ_HTTP_BUFFER_ERROR)) {
		/* libevent has closed the connection: the request goes out on a new one. */
		w->resent = true;
		send_request(w);
		return;
	}
	if (req == NULL || status == 0) {
		if (w->last_error == EVREQ_HTTP_TIMEOUT)
			fail(w, FAIL_TIMEOUT, -1, "no answer from %.200s within %.3fs", w->url,
			     (double)hs->cs->http.timeout / 1e6);
		else if (w->last_error == EVREQ_HTTP_DATA_TOO_LONG)
			fail(w, FAIL_OUTPUT_TOO_LARGE, -1,
			     "the answer from %.200s is over max_item_bytes (%llu)", w->url,
			     (unsigned long long)hs->max_body);
		else if (w->conn->host->tls &&
			 tls_reason(evhttp_connection_get_bufferevent(w->conn->evcon), why,
				    sizeof(why)) != NULL)
			fail(w, FAIL_IO, -1, "%.200s: TLS handshake failed: %s", w->url, why);
		else
			fail(w, FAIL_IO, -1, "%.200s: %s", w->url, error_text(w->last_error));
		return;
	}
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	if (status < 200 || status > 299) {
		char detail[120] = "";
		size_t m = n < sizeof(detail) - 1 ? n : sizeof(detail) - 1;
		evbuffer_copyout(in, detail, m);
		detail[m] = '\0';
		detail[strcspn(detail, "\r\n")] = '\0';
		fail(w, FAIL_HTTP, status, "HTTP %d from %.200s%s%s", status, w->url,
		     detail[0] ? ": " : "", detail);
		return;
	}
	if (n > hs->max_body) {
		fail(w, FAIL_OUTPUT_TOO_LARGE, -1, "the answer from %.200s is over max_item_bytes",
		     w->url);
		return;
	}
	const char *body = n > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	if (n > 0 && body[n - 1] == '\n')
		n--;
	struct item *out = item_derive(stage_slot_item(w->slot), body, n);
	finish(w, out, NULL);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_work *w = arg;
	if (w->cancel_pending) {
		w->cancel_pending = false;
		fail(w, FAIL_IO, -1, "cancelled");
		return;
	}
	if (w->req == NULL)
		return;
	/* A cancelled request's callback never runs: finish here. */
	evhttp_cancel_request(w->req);
	w->req = NULL;
	fail(w, FAIL_TIMEOUT, -1, "no answer from %.200s within %.3fs", w->url,
	     (double)w->hs->cs->http.timeout / 1e6);
}

/* A header value or URL made from an item must not smuggle in a line of its own. */
static bool has_controls(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

static struct template_vars item_vars(struct stage_slot *slot)
{
	struct item *it = stage_slot_item(slot);
	return (struct template_vars){it->data, it->len, it->seq,
				      scope_source_name(stage_slot_scope(slot), it->source)};
}

static void http_start(struct stage_slot *slot)
{
	struct http_stage *hs = stage_slot_state(slot);
	const struct conf_http *h = &hs->cs->http;
	struct http_work *w = *stage_slot_work(slot);
	struct template_vars v = item_vars(slot);
	char host[256];
	unsigned port;
	const char *path, *why;
	size_t len;

	if (w == NULL) {
		w = xcalloc(1, sizeof(*w));
		w->hs = hs;
		w->slot = slot;
		w->timer = evtimer_new(hs->base, timeout_cb, w);
		w->next = hs->works;
		hs->works = w;
		*stage_slot_work(slot) = w;
	}
	w->resent = false;
	w->url = template_expand_url(h->url, &v, &len);
	if (strlen(w->url) != len || has_controls(w->url, len) || strchr(w->url, ' ') != NULL) {
		fail(w, FAIL_IO, -1,
		     "the URL made from the item is not valid (it holds spaces or "
		     "control characters)");
		return;
	}
	if (conf_parse_url(w->url, host, sizeof(host), &port, &path, &why) < 0) {
		fail(w, FAIL_IO, -1, "the URL '%.200s' made from the item is not valid: %s", w->url,
		     why);
		return;
	}
	bool tls = conf_url_is_https(w->url);
	char terr[600];
	if (tls && !hs->tls_on && tls_setup(hs, terr, sizeof(terr)) < 0) {
		fail(w, FAIL_IO, -1, "%.200s: %s", w->url, terr);
		return;
	}
	w->conn = conn_get(hs, host, port, tls);
	if (w->conn == NULL) {
		fail(w, FAIL_IO, -1, "cannot set up a connection for %.200s", w->url);
		return;
	}
	send_request(w);
}

/* The item's request on w->conn, from w->url (already checked). */
static void send_request(struct http_work *w)
{
	const struct conf_http *h = &w->hs->cs->http;
	struct template_vars v = item_vars(w->slot);
	char host[256];
	unsigned port;
	const char *path, *why;
	size_t len;

	conf_parse_url(w->url, host, sizeof(host), &port, &path, &why);
	w->last_error = -1;
	w->reused = bufferevent_getfd(evhttp_connection_get_bufferevent(w->conn->evcon)) >= 0;
	if (w->conn->host->tls && !w->reused && !w->conn->unused) {
		struct evhttp_connection *fresh = evcon_new(w->hs, w->conn);
		if (fresh == NULL) {
			fail(w, FAIL_IO, -1, "cannot set up a TLS connection for %.200s", w->url);
			return;
		}
		evhttp_connection_free(w->conn->evcon);
		w->conn->evcon = fresh;
	}
	w->conn->unused = false;
	w->conn->answered = false;
	struct evhttp_request *req = evhttp_request_new(done_cb, w);
	evhttp_request_set_error_cb(req, error_cb);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	for (size_t i = 0; i < h->n_headers; i++) {
		char *value = template_expand(h->headers[i].value, &v, &len);
		bool bad = strlen(value) != len || has_controls(value, len);
		if (!bad)
			evhttp_add_header(out, h->headers[i].name, value);
		free(value);
		if (bad) {
			evhttp_request_free(req);
			fail(w, FAIL_IO, -1,
			     "header '%s' made from the item would hold a control "
			     "character",
			     h->headers[i].name);
			return;
		}
	}
	if (evhttp_find_header(out, "Host") == NULL) {
		char hh[300];
		bool v6 = strchr(host, ':') != NULL;
		if (port == (w->conn->host->tls ? 443u : 80u))
			snprintf(hh, sizeof(hh), v6 ? "[%s]" : "%s", host);
		else
			snprintf(hh, sizeof(hh), v6 ? "[%s]:%u" : "%s:%u", host, port);
		evhttp_add_header(out, "Host", hh);
	}
	if (h->body != NULL) {
		char *body = template_expand(h->body, &v, &len), clen[24];
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
		free(body);
		snprintf(clen, sizeof(clen), "%zu", len);
		evhttp_remove_header(out, "Content-Length");
		evhttp_add_header(out, "Content-Length", clen);
	}
	char *uri = path[0] == '/' ? xstrdup(path) : xasprintf("/%s", path);
	w->req = req;
	int rc = evhttp_make_request(w->conn->evcon, req, methods[h->method], uri);
	free(uri);
	if (rc < 0) {
		/* libevent freed the request. */
		w->req = NULL;
		fail(w, FAIL_IO, -1, "cannot send the request to %.200s", w->url);
		return;
	}
	struct timeval tv = {(time_t)(h->timeout / 1000000), (suseconds_t)(h->timeout % 1000000)};
	evtimer_add(w->timer, &tv);
}

static void http_cancel(struct stage_slot *slot)
{
	struct http_work *w = *stage_slot_work(slot);
	if (w == NULL || w->req == NULL)
		return;
	evhttp_cancel_request(w->req);
	w->req = NULL;
	/* Completion comes from the loop, never inside the stage's own call. */
	w->cancel_pending = true;
	evtimer_del(w->timer);
	event_active(w->timer, EV_TIMEOUT, 0);
}

static const struct conf_key http_stage_keys[] = {
    {"method", CT_ENUM, .off = offsetof(struct conf_http, method), .def = "GET",
     .values = conf_http_method_names, .kinds = CONF_ALL_KINDS, .doc = "The request method."},
    {"url", CT_STR, CF_NONEMPTY, .off = offsetof(struct conf_http, url), .kinds = CONF_ALL_KINDS,
     .required = CONF_ALL_KINDS, .check = conf_check_url_template,
     .doc = "http:// or https://; a template ({} percent-encoded, or the whole URL)."},
    {"headers", CT_HEADERS, CF_SECRET, .off = offsetof(struct conf_http, headers),
     .aux = offsetof(struct conf_http, n_headers), .kinds = CONF_ALL_KINDS,
     .doc = "Extra request headers; values are templates."},
    {"body", CT_STR, .off = offsetof(struct conf_http, body), .kinds = CONF_ALL_KINDS,
     .doc = "The request body, a template."},
    {"timeout", CT_DURATION, CF_POSITIVE, .off = offsetof(struct conf_http, timeout), .def = "30s",
     .kinds = CONF_ALL_KINDS, .doc = "Per request."},
};
static const struct conf_table http_stage_table = {.noun = "http",
						   .keys = http_stage_keys,
						   .n = ARRAY_LEN(http_stage_keys),
						   .doc = "One HTTP request per item."};
static const struct conf_key http_block_row = {
    "http", CT_BLOCK, .off = CONF_STG(http), .sub = &http_stage_table,
    .doc = "One HTTP request per item; the response body is the result."};

/* A URL that is a template decides at run time; a literal one says whether it is TLS. */
static void http_stage_check(struct conf_ctx *x, void *entry)
{
	struct conf_stage *st = entry;
	if (st->http.url != NULL && st->http.url[0] != '{')
		conf_tls_url_check(x, &st->tls, st->http.url);
}

const struct worker_kind work_http = {
    .conf = {.name = "http",
	     CONF_ROWS(&http_block_row, &conf_stage_tls_row),
	     .check = http_stage_check},
    .init = http_init,
    .free = http_free_state,
    .start = http_start,
    .cancel = http_cancel,
};
