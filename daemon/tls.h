/*
 * tls.h: TLS for the network endpoints (issue 12) through libevent's OpenSSL
 * bufferevents: a context per endpoint, built from its `tls:` block, and
 * bufferevents that accept or connect through it.
 *
 * A client verifies the server by default, against `ca` or else the system's CA
 * bundle, and checks the name it connects to (server_name, else the host) as
 * browsers do. A server asks for client certificates when it has a `ca` and
 * `verify: true`, and then refuses clients without one. TLS 1.2 is the lowest
 * version unless min_version says 1.3.
 *
 * Contexts are immutable once built: a reload that renews a certificate builds a
 * new context for new connections; connections keep the one they started with
 * (OpenSSL counts references to it).
 */
#ifndef SLUICE_TLS_H
#define SLUICE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

struct bufferevent;
struct event_base;

struct tls_opts {
	const char *cert, *key;	 /* PEM files; a server needs both, a client only for mTLS */
	const char *ca;		 /* PEM bundle of trusted CAs; NULL = the system's */
	bool verify;		 /* check the peer's certificate (client: default true) */
	const char *server_name; /* client: the name to check and send (SNI) */
	const char *min_version; /* "1.2" (default) or "1.3" */
};

struct tls_ctx;

/* NULL with err naming the file and OpenSSL's reason when a file cannot be used. */
struct tls_ctx *tls_ctx_server(const struct tls_opts *o, char *err, size_t errlen);
struct tls_ctx *tls_ctx_client(const struct tls_opts *o, char *err, size_t errlen);
void tls_ctx_free(struct tls_ctx *t);

/*
 * A bufferevent doing TLS over fd (accepted, or -1 to connect later with
 * bufferevent_socket_connect*). host: the name a client checks when server_name is
 * not set. opts: BEV_OPT_* as for bufferevent_socket_new. NULL on failure.
 */
struct bufferevent *tls_accept(struct event_base *base, struct tls_ctx *t, evutil_socket_t fd,
			       int opts);
struct bufferevent *tls_connect(struct event_base *base, struct tls_ctx *t, evutil_socket_t fd,
				const char *host, int opts);

/*
 * An endpoint's TLS: its settings (copied) and its current context. A reload calls
 * tls_renew(); each endpoint then builds a new context from the same files at its
 * next connection (tls_endpoint_ctx), so renewed certificates serve new
 * connections while open ones keep theirs. A file that became unusable keeps the
 * old context, with a logged error. name: for the log ("source 'in'").
 */
struct tls_endpoint {
	struct tls_ctx *ctx;
	unsigned generation;
	bool server;
	struct tls_opts opts;
	char *name;
};

int tls_endpoint_init(struct tls_endpoint *e, const struct tls_opts *o, bool server,
		      const char *name, char *err, size_t errlen);
struct tls_ctx *tls_endpoint_ctx(struct tls_endpoint *e);
void tls_endpoint_free(struct tls_endpoint *e);
/* A reload: every endpoint reads its files again before its next connection. */
void tls_renew(void);

/*
 * Why a TLS bufferevent failed, for the log (after BEV_EVENT_ERROR): the verify
 * result when the peer's certificate was refused ("certificate has expired",
 * "unknown CA: unable to get local issuer certificate", "name mismatch: ..."),
 * else OpenSSL's error, else errno's.
 */
const char *tls_error(struct bufferevent *bev, char *buf, size_t len);
/*
 * A listener's failed handshakes, for the log: the first in full, then at most one line
 * every TLS_FAIL_LOG_USEC saying how many failed meanwhile, so a port scanner or a
 * fleet of misconfigured clients cannot flood the journal.
 */
#define TLS_FAIL_LOG_USEC 10000000
struct tls_fail_log {
	uint64_t last_usec;  /* when the last line was written, 0 = never */
	uint64_t suppressed; /* failures since, not logged */
};
void tls_log_failure(struct tls_fail_log *l, const char *source, const char *peer, const char *why);
/* The handshake of a TLS bufferevent finished (false: still running, or failed). */
bool tls_established(struct bufferevent *bev);
/* The same when TLS itself failed (a certificate, the protocol), else NULL. */
const char *tls_reason(struct bufferevent *bev, char *buf, size_t len);

#endif
