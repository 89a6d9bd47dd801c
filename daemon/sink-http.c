/*
 * sink-http.c: the http sink. Records are POSTed (or PUT/PATCHed) to `url` over
 * one keep-alive evhttp connection, one request at a time so that they arrive
 * in order: a batch is up to batch.max_items records and batch.max_bytes bytes,
 * joined by newlines (one record: the body is the item, exactly), sent when it
 * is full, when batch.timeout has passed since its first record, or at the end
 * of the input.
 *
 * Answers: 2xx, the records are written. 408, 429, 5xx, no answer within
 * `timeout`, or a connection error: the same batch is sent again after a
 * jittered exponential backoff (backoff .. max_backoff), for as long as it
 * takes; the records wait in the buffer, whose bound (1 MiB, or twice
 * batch.max_bytes) is backpressure on the consumer. Any other status (3xx: no
 * redirect is followed; 4xx): every record of the batch failed for good: each
 * is counted, logged, reported as "HTTP <status>" and written to the dead
 * letter file when there is one.
 *
 * https:// (or a tls: block): the connection is an OpenSSL bufferevent; a failed
 * handshake (unknown CA, name mismatch, expired) is a connection error like any
 * other, retried with the backoff, its reason in the log line. libevent cannot
 * reconnect an OpenSSL bufferevent, so a TLS connection that closed is replaced by
 * a new one (a new handshake) before the next request.
 *
 * evhttp needs the loop: a drain waits for the last answer; a cancel hands what
 * the sink holds back for the spool (take_back), along with what is queued for
 * it; only what is somehow still held after the loop is lost (counted, logged).
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "scope.h"
#include "recbuf.h"
#include "report.h"
#include "sink.h"
#include "tls.h"
#include "track.h"
#include "units.h"
#include "util.h"

#define HIGH_MARK	(1024 * 1024)
#define WARN_EVERY_USEC 30000000

struct rec_meta {
	uint64_t seq, index;
	uint32_t source;
	uint32_t track;
};

struct http_sink {
	struct sink *s;
	const struct conf_sink *cs;
	char host[256];
	unsigned port;
	char *uri, *host_header;
	struct evdns_base *dns;
	struct evhttp_connection *conn;
	struct recbuf buf;
	struct rec_meta *meta; /* parallel to the records in buf, a ring */
	size_t mhead, mn, mcap;
	struct evhttp_request *req; /* the batch in flight */
	size_t batch_n;
	int last_error; /* enum evhttp_request_error of the failed request, or -1 */
	struct event *batch_timer, *retry_timer, *req_timer;
	unsigned failures;
	uint64_t last_warn, high;
	bool draining, timed_out;
	bool tls_on;
	struct tls_endpoint tls;
};

static void maybe_send(struct http_sink *hs);

static struct http_sink *of(const struct sink *s)
{
	return *sink_state((struct sink *)s);
}

static void set_timer(struct event *ev, uint64_t usec)
{
	struct timeval tv = {(time_t)(usec / 1000000), (suseconds_t)(usec % 1000000)};
	evtimer_add(ev, &tv);
}

static void meta_push(struct http_sink *hs, const struct item *it)
{
	if (hs->mn == hs->mcap) {
		size_t cap = hs->mcap ? hs->mcap * 2 : 256;
		struct rec_meta *v = xmalloc(cap * sizeof(*v));
		for (size_t i = 0; i < hs->mn; i++)
			v[i] = hs->meta[(hs->mhead + i) % hs->mcap];
		free(hs->meta);
		hs->meta = v;
		hs->mhead = 0;
		hs->mcap = cap;
	}
	hs->meta[(hs->mhead + hs->mn) % hs->mcap] = (struct rec_meta){
	    .seq = it->seq, .index = it->index, .source = it->source, .track = it->track};
	hs->mn++;
}

/* The first n records leave the buffer. */
static void release(struct http_sink *hs, size_t n)
{
	recbuf_drop(&hs->buf, n);
	hs->mhead = (hs->mhead + n) % hs->mcap;
	hs->mn -= n;
}

/* Every record of the batch failed for good: counted, reported, dead-lettered. */
static void fail_batch(struct http_sink *hs, int status, const char *detail)
{
	struct scope *sc = sink_scope(hs->s);
	char stage[160];
	snprintf(stage, sizeof(stage), "sink:%s", hs->cs->name);
	uint64_t start = recbuf_confirmed_pos(&hs->buf);
	for (size_t i = 0; i < hs->batch_n; i++) {
		struct rec_meta *m = &hs->meta[(hs->mhead + i) % hs->mcap];
		uint64_t end = recbuf_record_end(&hs->buf, i);
		const char *data = recbuf_data(&hs->buf) + (start - recbuf_confirmed_pos(&hs->buf));
		struct item *it = item_new(data, (size_t)(end - start - 1), m->seq, m->source);
		it->index = m->index;
		struct failure f = {.kind = FAIL_HTTP, .exit_status = status};
		snprintf(f.message, sizeof(f.message), "HTTP %d from %s%s%.180s", status,
			 hs->cs->http.url, detail[0] ? ": " : "", detail);
		scope_item_failed(sc, stage, ON_FAILURE_DEAD_LETTER, it, &f);
		item_free(it);
		track_failed_key(m->source, m->index, m->track);
		start = end;
	}
	sink_count_failed(hs->s, hs->batch_n);
	release(hs, hs->batch_n);
}

static void retry_later(struct http_sink *hs, const char *why)
{
	char d[32];
	uint64_t now = now_usec();
	hs->failures++;
	uint64_t delay = net_backoff(hs->cs->backoff, hs->cs->max_backoff, hs->failures);
	units_format_duration(delay, d, sizeof(d));
	if (hs->failures == 1 || now - hs->last_warn >= WARN_EVERY_USEC) {
		log_warnx(
		    "sink '%s': %s: %s; %llu record(s) held; sending again in %s (attempt %u)",
		    hs->cs->name, hs->cs->http.url, why, (unsigned long long)hs->mn, d,
		    hs->failures);
		hs->last_warn = now;
	} else {
		log_debug("sink '%s': %s: %s; sending again in %s", hs->cs->name, hs->cs->http.url,
			  why, d);
	}
	set_timer(hs->retry_timer, delay);
}

static void req_error_cb(enum evhttp_request_error err, void *arg)
{
	struct http_sink *hs = arg;
	hs->last_error = (int)err;
}

static const char *error_text(int err)
{
	switch (err) {
	case EVREQ_HTTP_TIMEOUT:
		return "timed out";
	case EVREQ_HTTP_EOF:
		return "the connection was closed before an answer";
	case EVREQ_HTTP_INVALID_HEADER:
		return "the answer was not valid HTTP";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "connection error";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "the answer was too long";
	default:
		return "cannot connect";
	}
}

static void done_cb(struct evhttp_request *req, void *arg)
{
	struct http_sink *hs = arg;
	int status = req != NULL ? evhttp_request_get_response_code(req) : 0;
	char why[200], detail[200] = "";

	hs->req = NULL;
	evtimer_del(hs->req_timer);
	if (hs->timed_out || (status == 0 && hs->last_error == EVREQ_HTTP_TIMEOUT)) {
		hs->timed_out = false;
		snprintf(why, sizeof(why), "no answer within %.3fs (timeout)",
			 (double)hs->cs->http.timeout / 1e6);
		retry_later(hs, why);
	} else if (status >= 200 && status < 300) {
		if (hs->failures > 0)
			log_info("sink '%s': %s answers again", hs->cs->name, hs->cs->http.url);
		hs->failures = 0;
		sink_count_done(hs->s, hs->batch_n);
		release(hs, hs->batch_n);
	} else if (status == 0 || status == 408 || status == 429 || status >= 500) {
		char tls_why[160];
		if (status == 0 && hs->tls_on && hs->conn != NULL &&
		    tls_reason(evhttp_connection_get_bufferevent(hs->conn), tls_why,
			       sizeof(tls_why)) != NULL)
			snprintf(why, sizeof(why), "TLS handshake failed: %s", tls_why);
		else if (status == 0)
			snprintf(why, sizeof(why), "%s", error_text(hs->last_error));
		else
			snprintf(why, sizeof(why), "HTTP %d", status);
		retry_later(hs, why);
	} else {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		if (n > sizeof(detail) - 1)
			n = sizeof(detail) - 1;
		evbuffer_copyout(in, detail, n);
		detail[n] = '\0';
		detail[strcspn(detail, "\r\n")] = '\0';
		fail_batch(hs, status, detail);
	}
	hs->batch_n = 0;
	hs->last_error = -1;
	maybe_send(hs);
	sink_wake(hs->s);
}

static void req_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_sink *hs = arg;
	if (hs->req == NULL)
		return;
	/* The callback does not run for a cancelled request: finish here. */
	struct evhttp_request *req = hs->req;
	hs->timed_out = true;
	evhttp_cancel_request(req);
	done_cb(NULL, hs);
}

/* One keep-alive connection; with TLS a new one for every TCP connection. */
static int conn_new(struct http_sink *hs)
{
	struct event_base *base = scope_base(sink_scope(hs->s));
	if (hs->conn != NULL)
		evhttp_connection_free(hs->conn);
	hs->conn = NULL;
	if (hs->tls_on) {
		struct bufferevent *bev = tls_connect(base, tls_endpoint_ctx(&hs->tls), -1,
						      hs->host, BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL)
			return -1;
		hs->conn = evhttp_connection_base_bufferevent_new(base, hs->dns, bev, hs->host,
								  (ev_uint16_t)hs->port);
		if (hs->conn == NULL) {
			bufferevent_free(bev);
			return -1;
		}
	} else {
		hs->conn =
		    evhttp_connection_base_new(base, hs->dns, hs->host, (ev_uint16_t)hs->port);
		if (hs->conn == NULL)
			return -1;
	}
	/* Retries are ours (with backoff, for as long as it takes), not libevent's. */
	evhttp_connection_set_retries(hs->conn, 0);
	struct timeval tv = {(time_t)(hs->cs->http.timeout / 1000000),
			     (suseconds_t)(hs->cs->http.timeout % 1000000)};
	evhttp_connection_set_timeout_tv(hs->conn, &tv);
	return 0;
}

static void send_batch(struct http_sink *hs, size_t n)
{
	static const enum evhttp_cmd_type methods[] = {
	    [HTTP_GET] = EVHTTP_REQ_GET,     [HTTP_POST] = EVHTTP_REQ_POST,
	    [HTTP_PUT] = EVHTTP_REQ_PUT,     [HTTP_DELETE] = EVHTTP_REQ_DELETE,
	    [HTTP_PATCH] = EVHTTP_REQ_PATCH, [HTTP_HEAD] = EVHTTP_REQ_HEAD};
	const struct conf_http *h = &hs->cs->http;
	size_t len = (size_t)(recbuf_record_end(&hs->buf, n - 1) - recbuf_confirmed_pos(&hs->buf));
	char clen[24];

	struct evhttp_request *req = evhttp_request_new(done_cb, hs);
	evhttp_request_set_error_cb(req, req_error_cb);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	for (size_t i = 0; i < h->n_headers; i++)
		evhttp_add_header(out, h->headers[i].name, h->headers[i].value);
	if (evhttp_find_header(out, "Host") == NULL)
		evhttp_add_header(out, "Host", hs->host_header);
	if (evhttp_find_header(out, "Content-Type") == NULL)
		evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
	/* The records, newline-joined: the last newline is not part of the body. */
	evbuffer_add(evhttp_request_get_output_buffer(req), recbuf_data(&hs->buf), len - 1);
	snprintf(clen, sizeof(clen), "%zu", len - 1);
	evhttp_remove_header(out, "Content-Length");
	evhttp_add_header(out, "Content-Length", clen);
	hs->batch_n = n;
	hs->last_error = -1;
	hs->req = req;
	if (hs->tls_on && bufferevent_getfd(evhttp_connection_get_bufferevent(hs->conn)) < 0 &&
	    conn_new(hs) < 0) {
		evhttp_request_free(req);
		hs->req = NULL;
		hs->batch_n = 0;
		retry_later(hs, "cannot set up a TLS connection");
		return;
	}
	if (evhttp_make_request(hs->conn, req, methods[h->method], hs->uri) < 0) {
		/* The request is freed by libevent on failure. */
		hs->req = NULL;
		hs->batch_n = 0;
		retry_later(hs, "cannot send the request");
		return;
	}
	set_timer(hs->req_timer, h->timeout);
}

/* Sends the next batch if one is due and nothing is in flight or waiting to retry. */
static void maybe_send(struct http_sink *hs)
{
	const struct conf_sink *cs = hs->cs;
	if (hs->req != NULL || hs->mn == 0 || evtimer_pending(hs->retry_timer, NULL))
		return;
	size_t n = 0;
	uint64_t start = recbuf_confirmed_pos(&hs->buf);
	bool full = false;
	while (n < hs->mn && n < cs->batch.max_items) {
		uint64_t bytes = recbuf_record_end(&hs->buf, n) - start;
		if (n > 0 && bytes > cs->batch.max_bytes) {
			full = true;
			break;
		}
		n++;
		if (bytes >= cs->batch.max_bytes) {
			full = true;
			break;
		}
	}
	if (n == cs->batch.max_items)
		full = true;
	if (full || hs->draining || cs->batch.timeout == 0) {
		evtimer_del(hs->batch_timer);
		send_batch(hs, n);
		return;
	}
	if (!evtimer_pending(hs->batch_timer, NULL))
		set_timer(hs->batch_timer, cs->batch.timeout);
}

static void batch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_sink *hs = arg;
	if (hs->req != NULL || hs->mn == 0 || evtimer_pending(hs->retry_timer, NULL))
		return;
	size_t n = 0;
	uint64_t start = recbuf_confirmed_pos(&hs->buf);
	while (n < hs->mn && n < hs->cs->batch.max_items &&
	       (n == 0 || recbuf_record_end(&hs->buf, n) - start <= hs->cs->batch.max_bytes))
		n++;
	send_batch(hs, n);
}

static void retry_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_sink *hs = arg;
	/* The batch that failed goes again, and whatever fits with it. */
	if (hs->req == NULL && hs->mn > 0)
		batch_timer_cb(fd, what, hs);
}

/* ---- the kind ---- */

static void http_append(struct sink *s, const struct item *it)
{
	struct http_sink *hs = of(s);
	recbuf_add(&hs->buf, it->data, it->len);
	meta_push(hs, it);
}

static void http_flush(struct sink *s)
{
	maybe_send(of(s));
}

static bool http_busy(const struct sink *s)
{
	const struct http_sink *hs = of(s);
	return recbuf_held(&hs->buf) >= hs->high;
}

static bool http_idle(const struct sink *s)
{
	const struct http_sink *hs = of(s);
	return hs->mn == 0 && hs->req == NULL;
}

/* Not up while a failed batch waits to be sent again. */
static bool http_up(const struct sink *s)
{
	return of(s)->failures == 0;
}

/* After the loop nothing can be sent: a cancel spools what is queued instead. */
static bool http_down(const struct sink *s)
{
	return true;
}

static void http_drain(struct sink *s)
{
	struct http_sink *hs = of(s);
	hs->draining = true;
	maybe_send(hs);
}

static uint64_t http_take_back(struct sink *s, sink_give_cb give, void *arg)
{
	struct http_sink *hs = of(s);
	uint64_t n = hs->mn;
	/* A batch in flight may still arrive: it is spooled anyway (at-least-once). */
	if (hs->req != NULL) {
		evhttp_cancel_request(hs->req);
		hs->req = NULL;
		hs->batch_n = 0;
	}
	evtimer_del(hs->batch_timer);
	evtimer_del(hs->retry_timer);
	evtimer_del(hs->req_timer);
	for (size_t i = 0; give != NULL && i < n; i++) {
		const struct rec_meta *rm = &hs->meta[(hs->mhead + i) % hs->mcap];
		struct recbuf_meta m = {
		    .seq = rm->seq, .index = rm->index, .source = rm->source, .track = rm->track};
		size_t len;
		const char *data = recbuf_record(&hs->buf, i, &len);
		give(arg, data, len, &m);
	}
	if (n > 0)
		release(hs, (size_t)n);
	sink_count_returned(s, n);
	return n;
}

static uint64_t http_close(struct sink *s, uint64_t timeout_usec)
{
	struct http_sink *hs = of(s);
	uint64_t n = hs->mn;
	evtimer_del(hs->batch_timer);
	evtimer_del(hs->retry_timer);
	evtimer_del(hs->req_timer);
	if (hs->req != NULL) {
		evhttp_cancel_request(hs->req);
		hs->req = NULL;
	}
	if (n > 0) {
		log_error(
		    "sink '%s': %llu record(s) could not be sent to %s before the end and are "
		    "lost",
		    hs->cs->name, (unsigned long long)n, hs->cs->http.url);
		sink_count_lost(s, n);
		release(hs, (size_t)n);
	}
	return n;
}

static void http_free(struct sink *s)
{
	struct http_sink *hs = of(s);
	if (hs == NULL)
		return;
	if (hs->req != NULL)
		evhttp_cancel_request(hs->req);
	if (hs->conn != NULL)
		evhttp_connection_free(hs->conn);
	if (hs->dns != NULL)
		net_dns_put();
	if (hs->tls_on)
		tls_endpoint_free(&hs->tls);
	event_free(hs->batch_timer);
	event_free(hs->retry_timer);
	event_free(hs->req_timer);
	recbuf_free(&hs->buf);
	free(hs->meta);
	free(hs->uri);
	free(hs->host_header);
	free(hs);
	*sink_state(s) = NULL;
}

static int http_open(struct sink *s, char *err, size_t errlen)
{
	const struct conf_sink *cs = sink_conf(s);
	struct event_base *base = scope_base(sink_scope(s));
	struct http_sink *hs = xcalloc(1, sizeof(*hs));
	const char *path, *why;

	*sink_state(s) = hs;
	hs->s = s;
	hs->cs = cs;
	hs->last_error = -1;
	hs->batch_timer = evtimer_new(base, batch_timer_cb, hs);
	hs->retry_timer = evtimer_new(base, retry_timer_cb, hs);
	hs->req_timer = evtimer_new(base, req_timeout_cb, hs);
	hs->high = cs->batch.max_bytes * 2 > HIGH_MARK ? cs->batch.max_bytes * 2 : HIGH_MARK;
	if (conf_parse_url(cs->http.url, hs->host, sizeof(hs->host), &hs->port, &path, &why) < 0) {
		snprintf(err, errlen, "sink '%s': bad url '%s': %s", cs->name, cs->http.url, why);
		return -1;
	}
	hs->uri = path[0] == '/' ? xstrdup(path) : xasprintf("/%s", path);
	bool v6 = strchr(hs->host, ':') != NULL;
	hs->tls_on = cs->tls.enabled;
	unsigned def_port = hs->tls_on ? 443 : 80;
	hs->host_header = hs->port == def_port
			      ? xasprintf(v6 ? "[%s]" : "%s", hs->host)
			      : xasprintf(v6 ? "[%s]:%u" : "%s:%u", hs->host, hs->port);
	if (hs->tls_on) {
		char who[CONF_NAME_MAX + 16];
		snprintf(who, sizeof(who), "sink '%s'", cs->name);
		if (conf_tls_endpoint(&hs->tls, &cs->tls, false, who, err, errlen) < 0) {
			hs->tls_on = false;
			return -1;
		}
		if (!cs->tls.verify)
			log_warnx("sink '%s': %s: the server's certificate is not verified "
				  "(tls.verify: false)",
				  cs->name, cs->http.url);
	}
	hs->dns = net_dns_get(base);
	if (conn_new(hs) < 0) {
		snprintf(err, errlen, "sink '%s': cannot set up a connection to %s", cs->name,
			 cs->http.url);
		return -1;
	}
	return 0;
}

/* A sink sends a body. */
static bool check_sink_method(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	enum http_method m = *(enum http_method *)field;
	if (m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH)
		return true;
	conf_err(x, v,
		 "'method' of an http sink must be POST, PUT or PATCH (it sends a body), got '%s'",
		 conf_http_method_name(m));
	*(enum http_method *)field = HTTP_POST;
	return false;
}

static const struct conf_key batch_keys[] = {
    {"max_items", CT_UINT, .off = CONF_SNK(batch.max_items), .def = "1", .min = 1, .max = 100000,
     .kinds = CONF_ALL_KINDS, .doc = "Records per request."},
    {"max_bytes", CT_SIZE, .off = CONF_SNK(batch.max_bytes), .def = "1MiB", .kinds = CONF_ALL_KINDS,
     .doc = "Bytes per request."},
    {"timeout", CT_DURATION, .off = CONF_SNK(batch.timeout), .def = "1s", .kinds = CONF_ALL_KINDS,
     .doc = "A partial batch is sent after this."},
};
static const struct conf_table batch_table = {.noun = "batch",
					      .keys = batch_keys,
					      .n = ARRAY_LEN(batch_keys),
					      .doc = "Records sent together in one request."};

static const struct conf_key http_rows[] = {
    {"method", CT_ENUM, .off = CONF_SNK(http.method), .def = "POST",
     .values = conf_http_method_names, .check = check_sink_method, .doc = "POST, PUT or PATCH."},
    {"url", CT_STR, CF_NONEMPTY, .off = CONF_SNK(http.url), .required = CONF_ALL_KINDS,
     .check = conf_check_url_plain, .doc = "http:// or https://."},
    {"headers", CT_HEADERS, CF_SECRET, .off = CONF_SNK(http.headers),
     .aux = CONF_SNK(http.n_headers), .doc = "Extra request headers."},
    {"timeout", CT_DURATION, CF_POSITIVE, .off = CONF_SNK(http.timeout), .def = "30s",
     .doc = "http: per request."},
    {"batch", CT_BLOCK, .sub = &batch_table, .doc = "Records sent together in one request."},
};

static void http_sink_check(struct conf_ctx *x, void *entry)
{
	struct conf_sink *s = entry;
	conf_tls_url_check(x, &s->tls, s->http.url);
}

const struct sink_kind sink_http = {
    .conf = {.name = "http",
	     CONF_ROWS(&http_rows[0], &http_rows[1], &http_rows[2], &http_rows[3], &http_rows[4],
		       &sink_backoff_row, &sink_max_backoff_row, &conf_sink_tls_row),
	     .check = http_sink_check},
    .fails_records = true,
    .open = http_open,
    .append = http_append,
    .flush = http_flush,
    .busy = http_busy,
    .idle = http_idle,
    .up = http_up,
    .down = http_down,
    .drain = http_drain,
    .take_back = http_take_back,
    .close = http_close,
    .free = http_free,
};
