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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
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
#include "sink-stream.h"
#include "util.h"

extern const struct sink_kind sink_unix; /* below: tcp and unix differ in the address */

struct net_sink {
	struct sockaddr_storage addr; /* numeric tcp address, or the unix path */
	socklen_t addrlen;
	char host[256];
	char port[8];
	bool numeric, is_unix;
	struct evdns_base *dns;
	struct evdns_getaddrinfo_request *lookup;
};

static void connect_to(struct stream *st, const struct sockaddr *sa, socklen_t len)
{
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
}

static uint64_t net_unconsumed(struct stream *st, int fd)
{
	int n = 0;
	if (ioctl(fd, SIOCOUTQ, &n) < 0 || n < 0)
		return 0;
	return (uint64_t)n;
}

static void net_closed(struct stream *st, int fd)
{
	close(fd);
}

static void net_free_kind(struct stream *st)
{
	struct net_sink *ns = stream_kind(st);
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

const struct sink_kind sink_tcp = STREAM_SINK_KIND(
    net_sink_open, .name = "tcp",
    CONF_ROWS(&net_rows[0], &net_rows[2], &sink_backoff_row, &sink_max_backoff_row));

const struct sink_kind sink_unix = STREAM_SINK_KIND(
    net_sink_open, .name = "unix",
    CONF_ROWS(&net_rows[1], &net_rows[2], &sink_backoff_row, &sink_max_backoff_row));
