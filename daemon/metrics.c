/*
 * metrics.c: the HTTP endpoint (see metrics.h), evhttp on the pipeline's loop.
 *
 *   GET /metrics        Prometheus text format 0.0.4 (status_prometheus, and the
 *                       daemon's own sluice_log_dropped_total)
 *   GET /health/live    200 while the loop runs (whoever answers is alive)
 *   GET /health/ready   200 while the pipeline runs, is not stopping and every sink
 *                       can write (sink_up), else 503 with the reason
 *   GET /status         the JSON of `sluicectl status --json` (status_json)
 *   anything else       404; a method other than GET or HEAD: 405
 *
 * What it owns: one evhttp and its listening socket. The socket is made here
 * rather than by evhttp_bind_socket so that a failure carries bind's errno and a
 * port of 0 can be reported as the port the kernel picked. Every reply is built
 * from the live counters at the time of the request; nothing is cached.
 * With metrics.tls, every connection is an OpenSSL bufferevent (https); renewed
 * certificates serve new connections after a reload (tls.h).
 * Limits on hostile clients come from evhttp: headers (8 KiB), body (4 KiB) and
 * an idle timeout (10 s) per connection.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "pipeline.h"
#include "sink.h"
#include "status.h"
#include "service.h"
#include "tls.h"
#include "util.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics {
	const struct service_scope *sc;
	struct evhttp *http;
	bool tls_on;
	struct tls_endpoint tls;
};

static struct bufferevent *tls_bev_cb(struct event_base *base, void *arg)
{
	struct metrics *m = arg;
	return tls_accept(base, tls_endpoint_ctx(&m->tls), -1, BEV_OPT_CLOSE_ON_FREE);
}

/* ---- requests ---- */

static void send_text(struct evhttp_request *req, int code, const char *reason, const char *ctype,
		      struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, reason, body);
}

static void request_cb(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	struct evbuffer *body = evbuffer_new();

	if (path == NULL || path[0] == '\0')
		path = "/";
	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		evbuffer_add_printf(body, "method not allowed: use GET\n");
		send_text(req, 405, "Method Not Allowed", "text/plain; charset=utf-8", body);
	} else if (strcmp(path, "/metrics") == 0) {
		status_prometheus(service_pipeline(m->sc), body);
		send_text(req, HTTP_OK, "OK", PROM_CONTENT_TYPE, body);
	} else if (strcmp(path, "/health/live") == 0) {
		evbuffer_add_printf(body, "ok\n");
		send_text(req, HTTP_OK, "OK", "text/plain; charset=utf-8", body);
	} else if (strcmp(path, "/health/ready") == 0) {
		struct pipeline *p = service_pipeline(m->sc);
		const struct sink *down = sinks_first_down(pipeline_sinks(p));
		if (pipeline_ready(p) && down == NULL) {
			evbuffer_add_printf(body, "ready\n");
			send_text(req, HTTP_OK, "OK", "text/plain; charset=utf-8", body);
		} else {
			if (!pipeline_ready(p))
				evbuffer_add_printf(body, "not ready: %s\n",
						    pipeline_state_name(p));
			else
				evbuffer_add_printf(body, "not ready: sink '%s' cannot write\n",
						    sink_name(down));
			send_text(req, 503, "Service Unavailable", "text/plain; charset=utf-8",
				  body);
		}
	} else if (strcmp(path, "/status") == 0) {
		status_json(service_pipeline(m->sc), body);
		send_text(req, HTTP_OK, "OK", "application/json", body);
	} else {
		evbuffer_add_printf(
		    body, "not found; try /metrics, /health/live, /health/ready, /status\n");
		send_text(req, HTTP_NOTFOUND, "Not Found", "text/plain; charset=utf-8", body);
	}
	evbuffer_free(body);
}

/* ---- setting up ---- */

static int listen_socket(const char *host, unsigned port, char *bound, size_t boundlen, int *code)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char ps[8];
	int fd = -1, rc;

	snprintf(ps, sizeof(ps), "%u", port);
	if ((rc = getaddrinfo(host, ps, &hints, &res)) != 0) {
		log_error("metrics.listen: cannot resolve '%s': %s", host, gai_strerror(rc));
		*code = rc == EAI_SYSTEM || rc == EAI_AGAIN ? 73 : 78;
		return -1;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    res->ai_protocol);
	if (fd < 0) {
		log_error("metrics: cannot make a socket: %s", strerror(errno));
		goto fail;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		log_error("metrics: cannot listen on %s port %u: %s", host, port, strerror(errno));
		goto fail;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[INET6_ADDRSTRLEN] = "?";
	unsigned real_port = port;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
			real_port = ntohs(sin->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
			real_port = ntohs(sin6->sin6_port);
		}
	}
	snprintf(bound, boundlen, ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr, real_port);
	freeaddrinfo(res);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	*code = 73;
	return -1;
}

struct metrics *metrics_new(const struct service_scope *sc, const char *listen,
			    const struct conf_tls *tls, int *exit_code)
{
	char host[256], err[512], bound[INET6_ADDRSTRLEN + 16];
	unsigned port;

	if (addr_split_listen("metrics.listen", listen, host, sizeof(host), &port, err,
			      sizeof(err)) < 0) {
		log_error("%s", err);
		*exit_code = 78;
		return NULL;
	}
	int fd = listen_socket(host, port, bound, sizeof(bound), exit_code);
	if (fd < 0)
		return NULL;

	struct metrics *m = xcalloc(1, sizeof(*m));
	m->sc = sc;
	if (tls != NULL && tls->enabled) {
		if (conf_tls_endpoint(&m->tls, tls, true, "metrics", err, sizeof(err)) < 0) {
			log_error("%s", err);
			close(fd);
			free(m);
			*exit_code = 78;
			return NULL;
		}
		m->tls_on = true;
	}
	m->http = evhttp_new(sc->base);
	if (m->http == NULL || evhttp_accept_socket_with_handle(m->http, fd) == NULL) {
		log_error("metrics: cannot start the HTTP server on %s", bound);
		if (m->http != NULL)
			evhttp_free(m->http);
		close(fd);
		if (m->tls_on)
			tls_endpoint_free(&m->tls);
		free(m);
		*exit_code = 73;
		return NULL;
	}
	/* Every method reaches request_cb, so the answer to the others is 405, not 501. */
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_timeout(m->http, 10);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 4096);
	evhttp_set_gencb(m->http, request_cb, m);
	if (m->tls_on)
		evhttp_set_bevcb(m->http, tls_bev_cb, m);
	log_info("metrics: listening on %s://%s/ (/metrics, /health/live, /health/ready, "
		 "/status)",
		 m->tls_on ? "https" : "http", bound);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	evhttp_free(m->http); /* closes the listening socket and every connection */
	if (m->tls_on)
		tls_endpoint_free(&m->tls);
	free(m);
}
