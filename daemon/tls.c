/* tls.c: OpenSSL contexts and TLS bufferevents (see tls.h). */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "util.h"

struct tls_ctx {
	SSL_CTX *ssl;
	bool client;
	char *server_name;
};

/* OpenSSL's reason for the last failure, e.g. "no such file" or "key values mismatch". */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	snprintf(buf, len, "%s", r ? r : (errno ? strerror(errno) : "unknown error"));
	ERR_clear_error();
	return buf;
}

static struct tls_ctx *ctx_new(const struct tls_opts *o, bool client, char *err, size_t errlen)
{
	char why[256];
	SSL_CTX *ssl = SSL_CTX_new(client ? TLS_client_method() : TLS_server_method());
	if (ssl == NULL) {
		snprintf(err, errlen, "cannot set up TLS: %s", ssl_reason(why, sizeof(why)));
		return NULL;
	}
	bool v13 = o->min_version != NULL && strcmp(o->min_version, "1.3") == 0;
	SSL_CTX_set_min_proto_version(ssl, v13 ? TLS1_3_VERSION : TLS1_2_VERSION);
	SSL_CTX_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);

	errno = 0;
	if (o->cert != NULL && SSL_CTX_use_certificate_chain_file(ssl, o->cert) != 1) {
		snprintf(err, errlen, "TLS certificate '%s': %s", o->cert,
			 ssl_reason(why, sizeof(why)));
		goto fail;
	}
	if (o->key != NULL && SSL_CTX_use_PrivateKey_file(ssl, o->key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH &&
		    o->cert != NULL) {
			ERR_clear_error();
			snprintf(err, errlen, "TLS key '%s' does not belong to certificate '%s'",
				 o->key, o->cert);
		} else {
			snprintf(err, errlen, "TLS key '%s': %s", o->key,
				 ssl_reason(why, sizeof(why)));
		}
		goto fail;
	}
	if (o->cert != NULL && o->key != NULL && SSL_CTX_check_private_key(ssl) != 1) {
		snprintf(err, errlen, "TLS key '%s' does not belong to certificate '%s'", o->key,
			 o->cert);
		goto fail;
	}
	if (o->ca != NULL ? SSL_CTX_load_verify_locations(ssl, o->ca, NULL) != 1
			  : client && SSL_CTX_set_default_verify_paths(ssl) != 1) {
		snprintf(err, errlen, "TLS CA bundle '%s': %s", o->ca ? o->ca : "(system)",
			 ssl_reason(why, sizeof(why)));
		goto fail;
	}
	if (client)
		SSL_CTX_set_verify(ssl, o->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	else if (o->verify && o->ca != NULL)
		SSL_CTX_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);

	struct tls_ctx *t = xcalloc(1, sizeof(*t));
	t->ssl = ssl;
	t->client = client;
	t->server_name = o->server_name ? xstrdup(o->server_name) : NULL;
	return t;
fail:
	SSL_CTX_free(ssl);
	return NULL;
}

struct tls_ctx *tls_ctx_server(const struct tls_opts *o, char *err, size_t errlen)
{
	if (o->cert == NULL || o->key == NULL) {
		snprintf(err, errlen, "a TLS server needs both 'cert' and 'key'");
		return NULL;
	}
	return ctx_new(o, false, err, errlen);
}

struct tls_ctx *tls_ctx_client(const struct tls_opts *o, char *err, size_t errlen)
{
	return ctx_new(o, true, err, errlen);
}

void tls_ctx_free(struct tls_ctx *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ssl);
	free(t->server_name);
	free(t);
}

struct bufferevent *tls_accept(struct event_base *base, struct tls_ctx *t, evutil_socket_t fd,
			       int opts)
{
	SSL *ssl = SSL_new(t->ssl);
	if (ssl == NULL)
		return NULL;
	struct bufferevent *bev =
	    bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, opts);
	if (bev == NULL)
		SSL_free(ssl);
	return bev;
}

struct bufferevent *tls_connect(struct event_base *base, struct tls_ctx *t, evutil_socket_t fd,
				const char *host, int opts)
{
	SSL *ssl = SSL_new(t->ssl);
	if (ssl == NULL)
		return NULL;
	const char *name = t->server_name ? t->server_name : host;
	if (name != NULL) {
		/* SNI only for names, not addresses (RFC 6066); the check works for both. */
		unsigned char addr[16];
		bool literal =
		    inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
		if (!literal)
			SSL_set_tlsext_host_name(ssl, name);
		if (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) {
			X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
			X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
			if (literal)
				X509_VERIFY_PARAM_set1_ip_asc(vp, name);
			else
				X509_VERIFY_PARAM_set1_host(vp, name, 0);
		}
	}
	struct bufferevent *bev =
	    bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_CONNECTING, opts);
	if (bev == NULL)
		SSL_free(ssl);
	return bev;
}

static unsigned generation;

void tls_renew(void)
{
	generation++;
}

void tls_endpoint_free(struct tls_endpoint *e);

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

int tls_endpoint_init(struct tls_endpoint *e, const struct tls_opts *o, bool server,
		      const char *name, char *err, size_t errlen)
{
	memset(e, 0, sizeof(*e));
	e->server = server;
	e->generation = generation;
	e->name = xstrdup(name);
	e->opts = (struct tls_opts){.cert = dup_or_null(o->cert),
				    .key = dup_or_null(o->key),
				    .ca = dup_or_null(o->ca),
				    .verify = o->verify,
				    .server_name = dup_or_null(o->server_name),
				    .min_version = dup_or_null(o->min_version)};
	e->ctx =
	    server ? tls_ctx_server(&e->opts, err, errlen) : tls_ctx_client(&e->opts, err, errlen);
	if (e->ctx == NULL) {
		tls_endpoint_free(e);
		return -1;
	}
	return 0;
}

struct tls_ctx *tls_endpoint_ctx(struct tls_endpoint *e)
{
	if (e->generation != generation) {
		char err[512];
		struct tls_ctx *t = e->server ? tls_ctx_server(&e->opts, err, sizeof(err))
					      : tls_ctx_client(&e->opts, err, sizeof(err));
		e->generation = generation;
		if (t == NULL) {
			log_error("%s: keeping the TLS settings it had: %s", e->name, err);
		} else {
			tls_ctx_free(e->ctx);
			e->ctx = t;
			log_info("%s: TLS certificates read again", e->name);
		}
	}
	return e->ctx;
}

void tls_endpoint_free(struct tls_endpoint *e)
{
	tls_ctx_free(e->ctx);
	free((char *)e->opts.cert);
	free((char *)e->opts.key);
	free((char *)e->opts.ca);
	free((char *)e->opts.server_name);
	free((char *)e->opts.min_version);
	free(e->name);
	memset(e, 0, sizeof(*e));
}

bool tls_established(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	return ssl != NULL && SSL_is_init_finished(ssl);
}

const char *tls_reason(struct bufferevent *bev, char *buf, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e = bufferevent_get_openssl_error(bev);
	/* libevent records SSL_get_error()'s code (library 0) when OpenSSL had none:
	 * a connection refused or reset, not a TLS failure. */
	while (e != 0 && ERR_GET_LIB(e) == 0)
		e = bufferevent_get_openssl_error(bev);

	if (v != X509_V_OK) {
		const char *what = X509_verify_cert_error_string(v);
		switch (v) {
		case X509_V_ERR_CERT_HAS_EXPIRED:
		case X509_V_ERR_CERT_NOT_YET_VALID:
			snprintf(buf, len, "%s", what);
			break;
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
			snprintf(buf, len, "unknown CA: %s", what);
			break;
		case X509_V_ERR_HOSTNAME_MISMATCH:
		case X509_V_ERR_IP_ADDRESS_MISMATCH:
			snprintf(buf, len, "name mismatch: %s", what);
			break;
		default:
			snprintf(buf, len, "certificate refused: %s", what);
		}
	} else if (e != 0) {
		const char *r = ERR_reason_error_string(e);
		snprintf(buf, len, "TLS: %s", r ? r : "handshake failed");
	} else {
		return NULL;
	}
	return buf;
}

void tls_log_failure(struct tls_fail_log *l, const char *source, const char *peer, const char *why)
{
	uint64_t now = now_usec();
	if (l->last_usec != 0 && now - l->last_usec < TLS_FAIL_LOG_USEC) {
		l->suppressed++;
		return;
	}
	if (l->suppressed > 0)
		log_warnx("source '%s': TLS handshake with %s failed: %s (and %llu more since the "
			  "last line)",
			  source, peer, why, (unsigned long long)l->suppressed);
	else
		log_warnx("source '%s': TLS handshake with %s failed: %s", source, peer, why);
	l->last_usec = now;
	l->suppressed = 0;
}

const char *tls_error(struct bufferevent *bev, char *buf, size_t len)
{
	int e = errno;
	if (tls_reason(bev, buf, len) == NULL)
		snprintf(buf, len, "%s",
			 e ? strerror(e) : "connection closed during the TLS handshake");
	return buf;
}
