/*
 * test_tls.c: TLS contexts and bufferevents (tls.c) over loopback, with a CA and
 * certificates made here by OpenSSL's API: a verified echo works; an unknown CA,
 * a name mismatch and an expired certificate each fail with their reason; client
 * certificates are required when the server has a CA and verify; unusable files
 * are named in the error.
 *
 * LINK: tls.o log.o util.o
 */
#include <arpa/inet.h>
#include <check.h>
#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls.h"

static char dir[64];

struct pki {
	EVP_PKEY *key;
	X509 *cert;
};

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ck_assert_ptr_nonnull(e);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

/* A certificate for cn (a CA when issuer is NULL), valid from/until offsets in seconds. */
static struct pki make(const char *cn, const struct pki *issuer, const char *san, long from,
		       long until)
{
	static long serial = 1;
	struct pki p = {EVP_EC_gen("P-256"), X509_new()};
	ck_assert_ptr_nonnull(p.key);
	X509_set_version(p.cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(p.cert), serial++);
	X509_gmtime_adj(X509_getm_notBefore(p.cert), from);
	X509_gmtime_adj(X509_getm_notAfter(p.cert), until);
	X509_set_pubkey(p.cert, p.key);
	X509_NAME *name = X509_get_subject_name(p.cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509 *icert = issuer ? issuer->cert : p.cert;
	X509_set_issuer_name(p.cert, X509_get_subject_name(icert));
	if (issuer == NULL) {
		add_ext(p.cert, icert, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(p.cert, icert, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(p.cert, icert, NID_basic_constraints, "CA:FALSE");
	}
	if (san != NULL)
		add_ext(p.cert, icert, NID_subject_alt_name, san);
	ck_assert_int_gt(X509_sign(p.cert, issuer ? issuer->key : p.key, EVP_sha256()), 0);
	return p;
}

static const char *save(const struct pki *p, const char *base, bool key)
{
	static char paths[16][128];
	static int n;
	char *path = paths[n++ % 16];
	snprintf(path, 128, "%s/%s.%s", dir, base, key ? "key" : "crt");
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	if (key)
		PEM_write_PrivateKey(f, p->key, NULL, NULL, 0, NULL, NULL);
	else
		PEM_write_X509(f, p->cert);
	fclose(f);
	return path;
}

/* --- one connection: the client writes "ping\n", the server echoes it ---------- */

struct run {
	struct event_base *base;
	struct tls_ctx *server, *client;
	struct bufferevent *sbev, *cbev;
	char client_err[256], server_err[256];
	bool echoed;
};

static void server_read(struct bufferevent *bev, void *arg)
{
	bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

static void server_event(struct bufferevent *bev, short what, void *arg)
{
	struct run *r = arg;
	if (what & BEV_EVENT_ERROR)
		tls_error(bev, r->server_err, sizeof(r->server_err));
}

static void accepted(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
		     void *arg)
{
	struct run *r = arg;
	r->sbev = tls_accept(r->base, r->server, fd, BEV_OPT_CLOSE_ON_FREE);
	ck_assert_ptr_nonnull(r->sbev);
	bufferevent_setcb(r->sbev, server_read, NULL, server_event, r);
	bufferevent_enable(r->sbev, EV_READ | EV_WRITE);
}

static void client_read(struct bufferevent *bev, void *arg)
{
	struct run *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (evbuffer_get_length(in) >= 5) {
		r->echoed = memcmp(evbuffer_pullup(in, 5), "ping\n", 5) == 0;
		event_base_loopbreak(r->base);
	}
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	struct run *r = arg;
	if (what & BEV_EVENT_CONNECTED) {
		bufferevent_write(bev, "ping\n", 5);
	} else if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		tls_error(bev, r->client_err, sizeof(r->client_err));
		event_base_loopbreak(r->base);
	}
}

/* Connects a client with copts to a server with sopts; host is what the client dials. */
static struct run *connect_once(const struct tls_opts *sopts, const struct tls_opts *copts,
				const char *host)
{
	static struct run r;
	char err[512] = "";
	memset(&r, 0, sizeof(r));
	r.base = event_base_new();
	r.server = tls_ctx_server(sopts, err, sizeof(err));
	ck_assert_msg(r.server != NULL, "%s", err);
	r.client = tls_ctx_client(copts, err, sizeof(err));
	ck_assert_msg(r.client != NULL, "%s", err);

	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct evconnlistener *l = evconnlistener_new_bind(
	    r.base, accepted, &r, LEV_OPT_CLOSE_ON_FREE, 8, (struct sockaddr *)&sin, sizeof(sin));
	ck_assert_ptr_nonnull(l);
	socklen_t slen = sizeof(sin);
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &slen);

	r.cbev = tls_connect(r.base, r.client, -1, host, BEV_OPT_CLOSE_ON_FREE);
	ck_assert_ptr_nonnull(r.cbev);
	bufferevent_setcb(r.cbev, client_read, NULL, client_event, &r);
	bufferevent_enable(r.cbev, EV_READ | EV_WRITE);
	ck_assert_int_eq(bufferevent_socket_connect(r.cbev, (struct sockaddr *)&sin, sizeof(sin)),
			 0);
	struct timeval limit = {20, 0};
	event_base_loopexit(r.base, &limit);
	event_base_dispatch(r.base);
	/* Let the server see the client's alert, if any, before it is freed. */
	bufferevent_free(r.cbev);
	struct timeval drain = {0, 200000};
	event_base_loopexit(r.base, &drain);
	event_base_dispatch(r.base);
	if (r.sbev != NULL)
		bufferevent_free(r.sbev);
	evconnlistener_free(l);
	tls_ctx_free(r.server);
	tls_ctx_free(r.client);
	event_base_free(r.base);
	return &r;
}

static struct pki ca, other_ca, srv, expired, ip_srv, client_cert;
static const char *ca_pem, *other_ca_pem, *srv_crt, *srv_key, *exp_crt, *exp_key, *ip_crt, *ip_key,
    *cl_crt, *cl_key;

static void setup(void)
{
	strcpy(dir, "/tmp/sluice-tls-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ca = make("sluice test CA", NULL, NULL, -60, 86400);
	other_ca = make("another CA", NULL, NULL, -60, 86400);
	srv = make("localhost", &ca, "DNS:localhost", -60, 86400);
	expired = make("localhost", &ca, "DNS:localhost", -7200, -3600);
	ip_srv = make("127.0.0.1", &ca, "IP:127.0.0.1", -60, 86400);
	client_cert = make("a client", &ca, NULL, -60, 86400);
	ca_pem = save(&ca, "ca", false);
	other_ca_pem = save(&other_ca, "other-ca", false);
	srv_crt = save(&srv, "srv", false);
	srv_key = save(&srv, "srv", true);
	exp_crt = save(&expired, "exp", false);
	exp_key = save(&expired, "exp", true);
	ip_crt = save(&ip_srv, "ip", false);
	ip_key = save(&ip_srv, "ip", true);
	cl_crt = save(&client_cert, "client", false);
	cl_key = save(&client_cert, "client", true);
}

static void teardown(void)
{
	struct pki *all[] = {&ca, &other_ca, &srv, &expired, &ip_srv, &client_cert};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		EVP_PKEY_free(all[i]->key);
		X509_free(all[i]->cert);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(verified_echo)
{
	struct tls_opts s = {.cert = srv_crt, .key = srv_key};
	struct tls_opts c = {.ca = ca_pem, .verify = true};
	struct run *r = connect_once(&s, &c, "localhost");
	ck_assert_msg(r->echoed, "client: %s; server: %s", r->client_err, r->server_err);
	/* By address, against an IP SAN; and server_name overriding the dialled host. */
	struct tls_opts sip = {.cert = ip_crt, .key = ip_key};
	r = connect_once(&sip, &c, "127.0.0.1");
	ck_assert_msg(r->echoed, "client: %s", r->client_err);
	struct tls_opts cname = {.ca = ca_pem, .verify = true, .server_name = "localhost"};
	r = connect_once(&s, &cname, "127.0.0.1");
	ck_assert_msg(r->echoed, "client: %s", r->client_err);
}
END_TEST

START_TEST(refusals_say_why)
{
	struct tls_opts s = {.cert = srv_crt, .key = srv_key};
	struct tls_opts unknown = {.ca = other_ca_pem, .verify = true};
	struct run *r = connect_once(&s, &unknown, "localhost");
	ck_assert(!r->echoed);
	ck_assert_msg(strstr(r->client_err, "unknown CA") != NULL, "%s", r->client_err);
	ck_assert_msg(strstr(r->server_err, "unknown ca") != NULL, "server: %s", r->server_err);

	struct tls_opts c = {.ca = ca_pem, .verify = true};
	r = connect_once(&s, &c, "example.org");
	ck_assert(!r->echoed);
	ck_assert_msg(strstr(r->client_err, "name mismatch") != NULL, "%s", r->client_err);

	struct tls_opts sexp = {.cert = exp_crt, .key = exp_key};
	r = connect_once(&sexp, &c, "localhost");
	ck_assert(!r->echoed);
	ck_assert_msg(strstr(r->client_err, "expired") != NULL, "%s", r->client_err);

	/* verify: false takes what it gets. */
	struct tls_opts blind = {.verify = false};
	r = connect_once(&sexp, &blind, "example.org");
	ck_assert_msg(r->echoed, "%s", r->client_err);
}
END_TEST

START_TEST(client_certificates)
{
	struct tls_opts s = {.cert = srv_crt, .key = srv_key, .ca = ca_pem, .verify = true};
	struct tls_opts anon = {.ca = ca_pem, .verify = true};
	struct run *r = connect_once(&s, &anon, "localhost");
	ck_assert(!r->echoed);
	ck_assert_msg(r->server_err[0] != '\0', "the server should say why");
	struct tls_opts with = {.ca = ca_pem, .verify = true, .cert = cl_crt, .key = cl_key};
	r = connect_once(&s, &with, "localhost");
	ck_assert_msg(r->echoed, "client: %s; server: %s", r->client_err, r->server_err);
}
END_TEST

START_TEST(unusable_files_named)
{
	char err[512] = "";
	struct tls_opts missing = {.cert = "/nonexistent/cert.pem", .key = srv_key};
	ck_assert_ptr_null(tls_ctx_server(&missing, err, sizeof(err)));
	ck_assert_msg(strstr(err, "/nonexistent/cert.pem") != NULL, "%s", err);
	struct tls_opts mismatch = {.cert = srv_crt, .key = cl_key};
	ck_assert_ptr_null(tls_ctx_server(&mismatch, err, sizeof(err)));
	ck_assert_msg(strstr(err, "does not belong") != NULL || strstr(err, "mismatch") != NULL,
		      "%s", err);
	struct tls_opts nokey = {.cert = srv_crt};
	ck_assert_ptr_null(tls_ctx_server(&nokey, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "needs both"));
	struct tls_opts badca = {.ca = srv_key, .verify = true};
	ck_assert_ptr_null(tls_ctx_client(&badca, err, sizeof(err)));
	ck_assert_msg(strstr(err, srv_key) != NULL, "%s", err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, verified_echo);
	tcase_add_test(tc, refusals_say_why);
	tcase_add_test(tc, client_certificates);
	tcase_add_test(tc, unusable_files_named);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
