/*
 * control.c: the control socket (see control.h), served on the pipeline's loop.
 *
 * What it owns: one evconnlistener on a Unix stream socket and the live
 * connections, each a bufferevent. A connection carries one request line and one
 * reply:
 *
 *     status | status json | pause NAME | resume NAME | scale STAGE N | drain | reload
 *
 * The reply is text whose last line is "ok" or "error: MESSAGE"; once it has been
 * written out the daemon closes the connection. Whatever a client does, the
 * daemon's cost stays bounded:
 *   - the input buffer is capped by the read high watermark (MAX_LINE + 1 bytes),
 *     so a line without a newline past MAX_LINE is an error, not memory growth;
 *   - a client that sends no full line within IDLE_SEC of connecting is
 *     answered with an error, and one that has not read its whole reply
 *     IDLE_SEC later is dropped (one absolute timer per connection, so a
 *     client trickling a byte at a time gains nothing);
 *   - at most MAX_CONNS connections at once: the next ones are told "error:
 *     busy" straight away and closed, without a bufferevent;
 *   - accept() failing for lack of descriptors pauses the listener for a second
 *     instead of spinning on it.
 * Access: the socket is created with mode 0600 (umask around bind), and the
 * peer's uid (SO_PEERCRED) must be root or the daemon's own.
 *
 * Neighbours: commands go to pipeline_pause/scale/stop, reload_config and the
 * status renderers. `drain` runs once its reply has been written (or the client
 * is gone), so a drain that ends the loop at once cannot swallow its own "ok".
 */
#include "control.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "pipeline.h"
#include "reload.h"
#include "service.h"
#include "stage.h"
#include "status.h"
#include "util.h"

#define MAX_LINE  4096
#define MAX_CONNS 64
#define IDLE_SEC  10
#define MAX_ARGS  4

static const char usage_text[] =
    "commands: status [json] | pause NAME | resume NAME | scale STAGE N | drain | reload";

struct conn {
	struct control *ctl;
	struct bufferevent *bev;
	struct event *deadline;
	TAILQ_ENTRY(conn) entry;
	uid_t uid;
	bool replied;
	bool drain_after;    /* "drain": stop the pipeline once the reply is out */
	bool reload_waiting; /* its reload looks names up first (reload.h) */
};

struct control {
	const struct service_scope *sc;
	struct evconnlistener *lev;
	struct event *resume_ev; /* re-enables accepting after EMFILE and the like */
	char *path;
	dev_t dev;
	ino_t ino;
	TAILQ_HEAD(conn_list, conn) conns;
	size_t n_conns;
	uint64_t busy, busy_logged_at, accept_err_logged_at;
};

/* ---- connections ---- */

static void conn_close(struct conn *cn)
{
	struct control *c = cn->ctl;
	bool drain = cn->drain_after;

	if (cn->reload_waiting)
		reload_forget(cn);
	TAILQ_REMOVE(&c->conns, cn, entry);
	c->n_conns--;
	bufferevent_free(cn->bev);
	event_free(cn->deadline);
	free(cn);
	if (drain)
		pipeline_stop(service_pipeline(c->sc));
}

static void write_done_cb(struct bufferevent *bev, void *arg)
{
	conn_close(arg);
}

static void event_cb(struct bufferevent *bev, short what, void *arg);

/* Sends body (may be NULL) and the final line, then closes once it is written. */
static void reply(struct conn *cn, struct evbuffer *body, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply(struct conn *cn, struct evbuffer *body, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(cn->bev);
	struct evbuffer *in = bufferevent_get_input(cn->bev);
	struct timeval tv = {IDLE_SEC, 0};
	va_list ap;

	cn->replied = true;
	bufferevent_disable(cn->bev, EV_READ);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (body != NULL)
		evbuffer_add_buffer(out, body);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\n", 1);
	bufferevent_setcb(cn->bev, NULL, write_done_cb, event_cb, cn);
	bufferevent_enable(cn->bev, EV_WRITE);
	evtimer_add(cn->deadline, &tv); /* now the time to read the reply */
}

/* A request word safe to echo: printable ASCII, at most 40 bytes. */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t i = 0;
	for (; s[i] != '\0' && i + 4 < len && i < 40; i++)
		buf[i] = s[i] >= 0x21 && s[i] < 0x7f ? s[i] : '?';
	if (s[i] != '\0' && i + 4 < len)
		memcpy(buf + i, "...", 4);
	else
		buf[i] = '\0';
	return buf;
}

static struct stage *find_stage(struct pipeline *p, const char *name)
{
	for (size_t i = 0; i < pipeline_n_stages(p); i++)
		if (strcmp(stage_name(pipeline_stage(p, i)), name) == 0)
			return pipeline_stage(p, i);
	return NULL;
}

static void reloaded_cb(void *arg, int rc, const char *msg)
{
	struct conn *cn = arg;
	cn->reload_waiting = false;
	if (rc == 0)
		reply(cn, NULL, "%s\nok", msg);
	else
		reply(cn, NULL, "error: %s", msg);
}

static void do_reload(struct conn *cn)
{
	char msg[512], *errs;

	log_info("control: reload requested (uid %u)", (unsigned)cn->uid);
	int rc = reload_config(cn->ctl->sc, msg, sizeof(msg), &errs, reloaded_cb, cn);
	if (rc == RELOAD_PENDING) {
		/* The answer comes with the lookups' end, however long they take. */
		cn->reload_waiting = true;
		bufferevent_disable(cn->bev, EV_READ);
		evtimer_del(cn->deadline);
		return;
	}
	if (rc == 0) {
		reply(cn, NULL, "%s\nok", msg);
		return;
	}
	/* The loader's file:line:col errors, for the person at sluicectl. */
	struct evbuffer *body = evbuffer_new();
	if (errs != NULL)
		evbuffer_add(body, errs, strlen(errs));
	free(errs);
	reply(cn, body, "error: %s", msg);
	evbuffer_free(body);
}

int control_parse(char *line, size_t n, struct control_request *rq, char *err, size_t errlen)
{
	char *argv[MAX_ARGS + 1], pbuf[48];
	int argc = 0;

	memset(rq, 0, sizeof(*rq));
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)line[i];
		if ((ch < 0x20 && ch != '\t') || ch >= 0x7f) {
			snprintf(err, errlen,
				 "error: the request is not a line of text (byte 0x%02x at "
				 "offset %zu); %s",
				 ch, i, usage_text);
			return -1;
		}
	}
	for (char *save = NULL, *tok = strtok_r(line, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (argc == MAX_ARGS) {
			snprintf(err, errlen, "error: too many words in the request; %s",
				 usage_text);
			return -1;
		}
		argv[argc++] = tok;
	}
	argv[argc] = NULL;
	if (argc == 0) {
		snprintf(err, errlen, "error: empty request; %s", usage_text);
		return -1;
	}
	const char *cmd = argv[0];

	if (strcmp(cmd, "status") == 0 && argc <= 2) {
		rq->cmd = CONTROL_STATUS;
		rq->json =
		    argc == 2 && (strcmp(argv[1], "json") == 0 || strcmp(argv[1], "--json") == 0);
		if (argc == 2 && !rq->json) {
			snprintf(err, errlen, "error: status takes no argument but 'json'");
			return -1;
		}
	} else if ((strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0) && argc == 2) {
		rq->cmd = cmd[0] == 'p' ? CONTROL_PAUSE : CONTROL_RESUME;
		rq->name = argv[1];
	} else if (strcmp(cmd, "scale") == 0 && argc == 3) {
		char *end;
		errno = 0;
		unsigned long w = strtoul(argv[2], &end, 10);
		rq->cmd = CONTROL_SCALE;
		rq->name = argv[1];
		rq->count = argv[2];
		if (argv[2][0] >= '0' && argv[2][0] <= '9' && *end == '\0' && errno == 0 &&
		    w >= 1 && w <= WORKERS_MAX)
			rq->workers = (unsigned)w;
	} else if (strcmp(cmd, "drain") == 0 && argc == 1) {
		rq->cmd = CONTROL_DRAIN;
	} else if (strcmp(cmd, "reload") == 0 && argc == 1) {
		rq->cmd = CONTROL_RELOAD;
	} else if (strcmp(cmd, "help") == 0 && argc == 1) {
		rq->cmd = CONTROL_HELP;
	} else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "pause") == 0 ||
		   strcmp(cmd, "resume") == 0 || strcmp(cmd, "scale") == 0 ||
		   strcmp(cmd, "drain") == 0 || strcmp(cmd, "reload") == 0) {
		snprintf(err, errlen, "error: wrong number of arguments for '%s'; %s", cmd,
			 usage_text);
		return -1;
	} else {
		snprintf(err, errlen, "error: unknown command '%s'; %s",
			 printable(cmd, pbuf, sizeof(pbuf)), usage_text);
		return -1;
	}
	return 0;
}

static void handle(struct conn *cn, char *line, size_t n)
{
	struct pipeline *p = service_pipeline(cn->ctl->sc);
	struct control_request rq;
	char err[512], pbuf[48];

	if (control_parse(line, n, &rq, err, sizeof(err)) < 0) {
		reply(cn, NULL, "%s", err);
		return;
	}
	switch (rq.cmd) {
	case CONTROL_STATUS: {
		struct evbuffer *body = evbuffer_new();
		if (rq.json)
			status_json(p, body);
		else
			status_text(p, body);
		reply(cn, body, "ok");
		evbuffer_free(body);
		break;
	}
	case CONTROL_PAUSE:
	case CONTROL_RESUME: {
		bool pause = rq.cmd == CONTROL_PAUSE;
		log_info("control: %s '%s' (uid %u)", pause ? "pause" : "resume",
			 printable(rq.name, pbuf, sizeof(pbuf)), (unsigned)cn->uid);
		if (pipeline_pause(p, rq.name, pause, err, sizeof(err)) < 0)
			reply(cn, NULL, "error: %s", err);
		else
			reply(cn, NULL, "%s %s\nok", rq.name, pause ? "paused" : "resumed");
		break;
	}
	case CONTROL_SCALE: {
		struct stage *st = find_stage(p, rq.name);
		if (st == NULL) {
			reply(cn, NULL, "error: no stage named '%s'",
			      printable(rq.name, pbuf, sizeof(pbuf)));
		} else if (rq.workers == 0) {
			reply(cn, NULL,
			      "error: the worker count must be a whole number from 1 to "
			      "%u, not '%s'",
			      WORKERS_MAX, printable(rq.count, pbuf, sizeof(pbuf)));
		} else {
			unsigned was = stage_workers(st);
			log_info("control: scale '%s' from %u to %u worker(s) (uid %u)", rq.name,
				 was, rq.workers, (unsigned)cn->uid);
			if (pipeline_scale(p, rq.name, rq.workers, err, sizeof(err)) < 0)
				reply(cn, NULL, "error: %s", err);
			else
				reply(cn, NULL, "%s: %u worker(s) (was %u)\nok", rq.name,
				      rq.workers, was);
		}
		break;
	}
	case CONTROL_DRAIN:
		if (pipeline_stop_requested(p)) {
			/* A second stop would cancel; drain is meant to be safe to repeat. */
			reply(cn, NULL, "already %s\nok", pipeline_state_name(p));
		} else {
			log_info("control: drain (uid %u)", (unsigned)cn->uid);
			cn->drain_after = true;
			reply(cn, NULL,
			      "draining: sources stop, queued items finish (grace %.0fs)\nok",
			      (double)pipeline_conf(p)->shutdown.grace / 1e6);
		}
		break;
	case CONTROL_RELOAD:
		do_reload(cn);
		break;
	case CONTROL_HELP:
		reply(cn, NULL, "%s\nok", usage_text);
		break;
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *cn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;

	if (cn->replied)
		return;
	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > MAX_LINE)
			reply(cn, NULL, "error: request line too long (the limit is %d bytes)",
			      MAX_LINE);
		return;
	}
	handle(cn, line, n);
	free(line);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *cn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (!cn->replied && (what & BEV_EVENT_EOF) && evbuffer_get_length(in) > 0) {
		/* The client shut its side after a last line without a newline: take it. */
		size_t n = evbuffer_get_length(in);
		char *line = xmalloc(n + 1);
		evbuffer_remove(in, line, n);
		line[n] = '\0';
		handle(cn, line, n);
		free(line);
		return;
	}
	/* EOF with nothing asked, or an error: just go. */
	conn_close(cn);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *cn = arg;
	if (!cn->replied)
		reply(cn, NULL, "error: no request line within %ds", IDLE_SEC);
	else
		conn_close(cn); /* it does not read its reply */
}

static void send_and_close(evutil_socket_t fd, const char *msg)
{
	/* A fresh socket's send buffer is empty: this never blocks nor truncates. */
	if (send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("control: %s", strerror(errno));
	evutil_closesocket(fd);
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct control *c = arg;
	struct ucred cr;
	socklen_t crlen = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0) {
		log_warn("control: cannot read the peer's credentials");
		evutil_closesocket(fd);
		return;
	}
	if (cr.uid != 0 && cr.uid != geteuid()) {
		log_warnx(
		    "control: refused a connection from uid %u (pid %d): only root and uid %u "
		    "may control this daemon",
		    (unsigned)cr.uid, (int)cr.pid, (unsigned)geteuid());
		send_and_close(fd, "error: permission denied\n");
		return;
	}
	if (c->n_conns >= MAX_CONNS) {
		uint64_t now = now_usec();
		c->busy++;
		if (c->busy_logged_at == 0 || now - c->busy_logged_at >= 10000000) {
			log_warnx("control: %d connections open; refused %" PRIu64
				  " more with 'busy' (clients that send no request are dropped "
				  "after %ds)",
				  MAX_CONNS, c->busy, IDLE_SEC);
			c->busy = 0;
			c->busy_logged_at = now;
		}
		send_and_close(fd, "error: busy: too many control connections; try again\n");
		return;
	}
	struct conn *cn = xcalloc(1, sizeof(*cn));
	struct timeval tv = {IDLE_SEC, 0};
	cn->ctl = c;
	cn->uid = cr.uid;
	cn->bev = bufferevent_socket_new(evconnlistener_get_base(lev), fd, BEV_OPT_CLOSE_ON_FREE);
	if (cn->bev == NULL) {
		log_warnx("control: cannot set up a connection");
		evutil_closesocket(fd);
		free(cn);
		return;
	}
	TAILQ_INSERT_TAIL(&c->conns, cn, entry);
	c->n_conns++;
	cn->deadline = evtimer_new(evconnlistener_get_base(lev), deadline_cb, cn);
	evtimer_add(cn->deadline, &tv);
	bufferevent_setcb(cn->bev, read_cb, NULL, event_cb, cn);
	bufferevent_setwatermark(cn->bev, EV_READ, 0, MAX_LINE + 1);
	bufferevent_enable(cn->bev, EV_READ);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control *c = arg;
	evconnlistener_enable(c->lev);
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct control *c = arg;
	struct timeval one = {1, 0};
	uint64_t now = now_usec();

	/* Out of descriptors, most likely: accept() would fail again at once. */
	if (c->accept_err_logged_at == 0 || now - c->accept_err_logged_at >= 10000000) {
		log_warn("control: accept on '%s'; not accepting for a second", c->path);
		c->accept_err_logged_at = now;
	}
	evconnlistener_disable(lev);
	evtimer_add(c->resume_ev, &one);
}

/* ---- the socket file ---- */

/* 0 when path is free (absent, or a stale socket now removed); -1 and *code. */
static int clear_stale(const char *path, const struct sockaddr_un *sa, int *code)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		log_error("control socket '%s': %s", path, strerror(errno));
		*code = 73;
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_error("control socket '%s' exists and is not a socket; not replacing it", path);
		*code = 73;
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		log_error("control socket: socket: %s", strerror(errno));
		*code = 73;
		return -1;
	}
	int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int err = errno;
	close(fd);
	if (rc == 0 || err == EAGAIN) {
		log_error("another daemon is answering on the control socket '%s'; refusing to "
			  "start a second one on it",
			  path);
		*code = 73;
		return -1;
	}
	if (err != ECONNREFUSED) {
		log_error("cannot tell whether the control socket '%s' is in use: %s", path,
			  strerror(err));
		*code = 73;
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		log_error("cannot remove the stale control socket '%s': %s", path, strerror(errno));
		*code = 73;
		return -1;
	}
	log_info("removed a stale control socket '%s' (no daemon answered on it)", path);
	return 0;
}

struct control *control_new(const struct service_scope *sc, const char *path, int *exit_code)
{
	struct sockaddr_un sa;
	char err[256];

	if (addr_check_unix_path("control.socket", path, err, sizeof(err)) < 0) {
		log_error("%s", err);
		*exit_code = 78;
		return NULL;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (clear_stale(path, &sa, exit_code) < 0)
		return NULL;

	struct control *c = xcalloc(1, sizeof(*c));
	c->sc = sc;
	c->path = xstrdup(path);
	TAILQ_INIT(&c->conns);
	/* Born 0600: no window in which another user could connect. */
	mode_t old = umask(0177);
	c->lev = evconnlistener_new_bind(sc->base, accept_cb, c,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1,
					 (struct sockaddr *)&sa, (int)sizeof(sa));
	int saved = errno;
	umask(old);
	struct stat st;
	if (c->lev == NULL) {
		log_error("cannot create the control socket '%s': %s", path, strerror(saved));
		*exit_code = 73;
		free(c->path);
		free(c);
		return NULL;
	}
	if (stat(path, &st) == 0) {
		c->dev = st.st_dev;
		c->ino = st.st_ino;
	}
	evconnlistener_set_error_cb(c->lev, accept_error_cb);
	c->resume_ev = evtimer_new(sc->base, resume_cb, c);
	log_info("control socket listening on '%s'", path);
	return c;
}

void control_free(struct control *c)
{
	struct stat st;

	if (c == NULL)
		return;
	while (!TAILQ_EMPTY(&c->conns)) {
		struct conn *cn = TAILQ_FIRST(&c->conns);
		cn->drain_after = false; /* the loop is over: nothing to stop any more */
		conn_close(cn);
	}
	evconnlistener_free(c->lev);
	event_free(c->resume_ev);
	/* Only our own socket: a newer daemon may have replaced a file we lost. */
	if (lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
		unlink(c->path);
	free(c->path);
	free(c);
}
