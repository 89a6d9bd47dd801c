/*
 * sink-net.c: the tcp and unix sinks, on the stream engine (sink-stream.h).
 *
 * tcp: `address` is HOST:PORT; a numeric host is used as is, a name is looked
 * up again at every connect through the shared evdns resolver (net.h), so a
 * peer that moved is found and no lookup blocks the loop. Connects are
 * non-blocking and bounded by `timeout`. What the peer has not acknowledged
 * yet is the socket's send queue (SIOCOUTQ).
 * unix: `path` is a stream socket; for those SIOCOUTQ counts kernel memory, a
 * little more than the bytes, so confirmation errs on the side of resending.
 *
 * tcp with a `tls:` block: the engine writes plain bytes into one end of a
 * socketpair; a relay on the loop moves them from the other end into an OpenSSL
 * bufferevent connected to the peer (at most RELAY_HIGH bytes queued there, then
 * the pair is not read: backpressure as for a slow peer). The connection counts as
 * open once the handshake is done; a failed one is a connect error with its reason,
 * retried with the backoff. What is not confirmed is what sits in the pair, in the
 * relay and in the TLS socket's send queue (ciphertext: an overstatement, so
 * confirmation errs on the side of resending, as for unix sockets).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "envcheck.h"
#include "net.h"
#include "scope.h"
#include "log.h"
#include "sink-stream.h"
#include "tls.h"
#include "util.h"

extern const struct sink_kind sink_unix; /* below: tcp and unix differ in the address */

#define RELAY_HIGH (256 * 1024)

struct net_sink {
	struct sockaddr_storage addr; /* numeric tcp address, or the unix path */
	socklen_t addrlen;
	char host[256];
	char port[8];
	bool numeric, is_unix;
	struct evdns_base *dns;
	struct evdns_getaddrinfo_request *lookup;
	/* tls */
	bool tls_on, relaying;
	struct tls_endpoint tls;
	struct bufferevent *ssl;  /* to the peer: handshaking, then relaying */
	struct bufferevent *pair; /* our end of the socketpair the engine writes into */
};

/* ---- the TLS relay ---- */

static void relay_free(struct net_sink *ns)
{
	if (ns->ssl != NULL)
		bufferevent_free(ns->ssl);
	if (ns->pair != NULL)
		bufferevent_free(ns->pair);
	ns->ssl = ns->pair = NULL;
	ns->relaying = false;
}

static void relay_pair_read_cb(struct bufferevent *bev, void *arg)
{
	struct net_sink *ns = arg;
	struct evbuffer *out = bufferevent_get_output(ns->ssl);
	evbuffer_add_buffer(out, bufferevent_get_input(bev));
	if (evbuffer_get_length(out) >= RELAY_HIGH)
		bufferevent_disable(bev, EV_READ);
}

static void relay_ssl_write_cb(struct bufferevent *bev, void *arg)
{
	struct net_sink *ns = stream_kind(arg);
	bufferevent_enable(ns->pair, EV_READ);
}

/* The peer has nothing to say to a sink: what it sends is dropped. */
static void relay_ssl_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void relay_ssl_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct stream *st = arg;
	struct net_sink *ns = stream_kind(st);
	char why[256];
	int e = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		int sv[2];
		struct event_base *base = bufferevent_get_base(bev);
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
			e = errno;
			relay_free(ns);
			stream_open_failed(st, e, "socketpair for the TLS relay");
			return;
		}
		ns->pair = bufferevent_socket_new(base, sv[1], BEV_OPT_CLOSE_ON_FREE);
		if (ns->pair == NULL) {
			close(sv[0]);
			close(sv[1]);
			relay_free(ns);
			stream_open_failed(st, ENOMEM, "the TLS relay");
			return;
		}
		bufferevent_setcb(ns->pair, relay_pair_read_cb, NULL, NULL, ns);
		bufferevent_setcb(ns->ssl, relay_ssl_read_cb, relay_ssl_write_cb,
				  relay_ssl_event_cb, st);
		bufferevent_setwatermark(ns->ssl, EV_WRITE, RELAY_HIGH / 4, 0);
		bufferevent_enable(ns->pair, EV_READ);
		bufferevent_enable(ns->ssl, EV_READ | EV_WRITE);
		ns->relaying = true;
		stream_opened(st, sv[0], false);
		return;
	}
	if (!(what & (BEV_EVENT_ERROR | BEV_EVENT_EOF | BEV_EVENT_TIMEOUT)))
		return;
	const char *reason = tls_reason(bev, why, sizeof(why));
	if (!ns->relaying) {
		relay_free(ns);
		if (reason != NULL) {
			char detail[300];
			snprintf(detail, sizeof(detail), "TLS handshake failed: %s", reason);
			stream_open_failed(st, EPROTO, detail);
		} else {
			stream_open_failed(st, (what & BEV_EVENT_EOF) || e == 0 ? ECONNRESET : e,
					   NULL);
		}
		return;
	}
	/* The engine calls closed(), which frees the relay. */
	stream_lost(st, reason != NULL		 ? reason
			: (what & BEV_EVENT_EOF) ? "the peer closed the connection"
						 : evutil_socket_error_to_string(e));
}

/* A non-blocking connect; the handshake starts as soon as the socket is writable. */
static void tls_connect_to(struct stream *st, const struct sockaddr *sa, socklen_t len)
{
	struct net_sink *ns = stream_kind(st);
	struct event_base *base = scope_base(sink_scope(stream_sink(st)));
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		stream_open_failed(st, errno, NULL);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, sa, len) < 0 && errno != EINPROGRESS && errno != EAGAIN) {
		int e = errno;
		close(fd);
		stream_open_failed(st, e, NULL);
		return;
	}
	ns->ssl =
	    tls_connect(base, tls_endpoint_ctx(&ns->tls), fd, ns->host, BEV_OPT_CLOSE_ON_FREE);
	if (ns->ssl == NULL) {
		close(fd);
		stream_open_failed(st, ENOMEM, "cannot set up TLS");
		return;
	}
	/* The handshake's errors come through the event callback, connect()'s too. */
	bufferevent_setcb(ns->ssl, NULL, NULL, relay_ssl_event_cb, st);
	bufferevent_enable(ns->ssl, EV_READ | EV_WRITE);
}

static void connect_to(struct stream *st, const struct sockaddr *sa, socklen_t len)
{
	if (((struct net_sink *)stream_kind(st))->tls_on) {
		tls_connect_to(st, sa, len);
		return;
	}
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		stream_open_failed(st, errno, NULL);
		return;
	}
	if (sa->sa_family != AF_UNIX) {
		/* Records go out in large writes already; small ones should not wait. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (connect(fd, sa, len) == 0) {
		stream_opened(st, fd, false);
		return;
	}
	if (errno == EINPROGRESS || errno == EAGAIN) {
		stream_opened(st, fd, true);
		return;
	}
	int e = errno;
	close(fd);
	stream_open_failed(st, e, NULL);
}

static void lookup_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct stream *st = arg;
	struct net_sink *ns = stream_kind(st);
	if (result == EVUTIL_EAI_CANCEL)
		return;
	ns->lookup = NULL;
	if (result != 0 || res == NULL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		stream_open_failed(st, EHOSTUNREACH, evutil_gai_strerror(result));
		return;
	}
	connect_to(st, res->ai_addr, (socklen_t)res->ai_addrlen);
	evutil_freeaddrinfo(res);
}

static void net_open_conn(struct stream *st)
{
	struct net_sink *ns = stream_kind(st);
	if (ns->numeric || ns->is_unix) {
		connect_to(st, (const struct sockaddr *)&ns->addr, ns->addrlen);
		return;
	}
	struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC,
					.ai_socktype = SOCK_STREAM,
					.ai_protocol = IPPROTO_TCP,
					.ai_flags = EVUTIL_AI_ADDRCONFIG};
	struct evdns_getaddrinfo_request *req =
	    evdns_getaddrinfo(ns->dns, ns->host, ns->port, &hints, lookup_cb, st);
	/* NULL: it finished (the callback has run) or failed at once. */
	ns->lookup = req;
}

static void net_cancel_open(struct stream *st)
{
	struct net_sink *ns = stream_kind(st);
	if (ns->lookup != NULL) {
		evdns_getaddrinfo_cancel(ns->lookup);
		ns->lookup = NULL;
	}
	if (ns->ssl != NULL && !ns->relaying)
		relay_free(ns);
}

static uint64_t outq(int fd)
{
	int n = 0;
	if (fd < 0 || ioctl(fd, SIOCOUTQ, &n) < 0 || n < 0)
		return 0;
	return (uint64_t)n;
}

static uint64_t net_unconsumed(struct stream *st, int fd)
{
	struct net_sink *ns = stream_kind(st);
	uint64_t n = outq(fd);
	if (ns->relaying)
		n += evbuffer_get_length(bufferevent_get_input(ns->pair)) +
		     evbuffer_get_length(bufferevent_get_output(ns->ssl)) +
		     outq(bufferevent_getfd(ns->ssl));
	return n;
}

static void net_closed(struct stream *st, int fd)
{
	struct net_sink *ns = stream_kind(st);
	close(fd);
	relay_free(ns);
}

static void net_free_kind(struct stream *st)
{
	struct net_sink *ns = stream_kind(st);
	relay_free(ns);
	if (ns->tls_on)
		tls_endpoint_free(&ns->tls);
	if (ns->dns != NULL)
		net_dns_put();
	free(ns);
}

static const struct stream_ops tcp_ops = {
    .verb = "connect to",
    .open_timeout = true,
    .watch_read = true,
    .open = net_open_conn,
    .cancel_open = net_cancel_open,
    .unconsumed = net_unconsumed,
    .closed = net_closed,
    .free = net_free_kind,
};

static int net_sink_open(struct sink *s, char *err, size_t errlen)
{
	const struct conf_sink *cs = sink_conf(s);
	struct net_sink *ns = xcalloc(1, sizeof(*ns));
	char peer[300];

	if (cs->kind == &sink_unix.conf) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ns->addr;
		if (strlen(cs->path) >= sizeof(sun->sun_path)) {
			snprintf(err, errlen, "sink '%s': socket path '%s' is too long", cs->name,
				 cs->path);
			free(ns);
			return -1;
		}
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, cs->path, strlen(cs->path) + 1);
		ns->addrlen = sizeof(*sun);
		ns->is_unix = true;
		snprintf(peer, sizeof(peer), "'%s'", cs->path);
	} else {
		unsigned port;
		const char *why;
		if (conf_parse_hostport(cs->address, ns->host, sizeof(ns->host), &port, &why) < 0) {
			snprintf(err, errlen, "sink '%s': bad address '%s': %s", cs->name,
				 cs->address, why);
			free(ns);
			return -1;
		}
		snprintf(ns->port, sizeof(ns->port), "%u", port);
		int len = (int)sizeof(ns->addr);
		char buf[300];
		snprintf(buf, sizeof(buf), strchr(ns->host, ':') ? "[%s]:%u" : "%s:%u", ns->host,
			 port);
		ns->numeric =
		    evutil_parse_sockaddr_port(buf, (struct sockaddr *)&ns->addr, &len) == 0;
		ns->addrlen = (socklen_t)len;
		if (!ns->numeric)
			ns->dns = net_dns_get(scope_base(sink_scope(s)));
		snprintf(peer, sizeof(peer), "%s", cs->address);
		if (cs->tls.enabled) {
			char who[CONF_NAME_MAX + 16];
			snprintf(who, sizeof(who), "sink '%s'", cs->name);
			if (conf_tls_endpoint(&ns->tls, &cs->tls, false, who, err, errlen) < 0) {
				if (ns->dns != NULL)
					net_dns_put();
				free(ns);
				return -1;
			}
			ns->tls_on = true;
			if (!cs->tls.verify)
				log_warnx("sink '%s': %s: the server's certificate is not verified "
					  "(tls.verify: false)",
					  cs->name, cs->address);
		}
	}
	stream_new(s, &tcp_ops, ns, peer);
	return 0;
}

static const struct conf_key net_rows[] = {
    {"address", CT_ADDR, .off = CONF_SNK(address), .required = CONF_ALL_KINDS,
     .doc = "HOST:PORT or [V6]:PORT to connect to."},
    {"path", CT_STR, CF_NONEMPTY, .off = CONF_SNK(path), .required = CONF_ALL_KINDS,
     .doc = "unix: the socket to connect to."},
    {"timeout", CT_DURATION, CF_POSITIVE, .off = CONF_SNK(timeout), .def = "10s",
     .doc = "tcp, unix: the connect timeout."},
};

const struct sink_kind sink_tcp =
    STREAM_SINK_KIND(net_sink_open, .name = "tcp",
		     CONF_ROWS(&net_rows[0], &net_rows[2], &sink_backoff_row, &sink_max_backoff_row,
			       &conf_sink_tls_row));

const struct sink_kind sink_unix = STREAM_SINK_KIND(
    net_sink_open, .name = "unix",
    CONF_ROWS(&net_rows[1], &net_rows[2], &sink_backoff_row, &sink_max_backoff_row));
