/*
 * httpd.c: the net benchmark's HTTP server (bench only). One libevent loop,
 * keep-alive, "ok\n" to every request: the same target for wrk (the limit) and
 * sluice's http stage, so that their requests/s compare.
 *   httpd PORT
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>

static void answer(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b = arg;
	evbuffer_add(b, "ok\n", 3);
	evhttp_send_reply(req, 200, "OK", b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: httpd PORT\n");
		return 64;
	}
	struct event_base *base = event_base_new();
	struct evhttp *http = evhttp_new(base);
	struct evbuffer *b = evbuffer_new();
	evhttp_set_gencb(http, answer, b);
	if (evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)atoi(argv[1])) < 0) {
		perror("bind");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	event_base_dispatch(base);
	return 0;
}
