/*
 * source-net.c: the tcp and unix sources. One evconnlistener accepts clients;
 * each connection is a bufferevent whose input is split into records at the
 * framing delimiter (a last record without its delimiter still counts when the
 * client closes cleanly; after a reset it is dropped, with a log line).
 *
 * Backpressure: when source_emit() says pause, reading is disabled on every
 * connection, so the kernel's buffers fill and the clients' TCP windows close;
 * resume() re-enables them and first hands on what is already buffered, starting
 * with the connection after the one served last (round robin, so one fast
 * client cannot starve the others). A connection never holds more than
 * max_item_bytes + 1 of input: that is its read high watermark, and a longer
 * record closes it (counted as rejected, logged, dead-lettered with its head).
 *
 * Throughput: a bufferevent reads 4 KiB at a time (libevent 2.1), so while
 * records flow the read callback goes on reading in large reads into the same
 * input buffer (a few per callback, so that other connections get their turn).
 *
 * Limits: past max_connections a new connection is closed at once, with a
 * logged reason (rate-limited). idle_timeout closes a connection that sends
 * nothing for that long while it could (a paused source does not count, nor a
 * client waiting for its acks).
 *
 * ack: true: every record is tracked (track.h) and the connection writes one
 * line per record, "ok" or "fail", in the order the client sent them, once the
 * record is done end to end. A client that half-closes its side still gets its
 * acks; the connection closes when the last one is written. If a record is
 * abandoned by a cancel, its ack can never be given, so the connection closes
 * there and the client resends from it (at-least-once). A client that does not
 * read its acks is stopped from sending more once 256 KiB of them are queued.
 *
 * A graceful stop closes the listener first; records already complete in the
 * buffers are handed on, connections stop reading, and (with ack) stay open
 * until their records are done. Such a connection then ends with a lingering
 * close: FIN after the last ack, and what the client still sends is read and
 * dropped until it closes too (at most LINGER_SEC without a byte). Closing with
 * unread input would reset the connection, and a reset makes the client's
 * kernel drop acks it has not read yet. After the loop the same is done with
 * poll(), bounded by LINGER_SEC for all connections together.
 *
 * TLS (a tcp source's `tls:` block): connections are OpenSSL bufferevents; the
 * handshake runs on the loop like any read, and a failed one (a plain-text client,
 * a client certificate refused) closes the connection with one log line naming the
 * peer and the reason. TLS connections read through the bufferevent only (not the
 * large raw reads above) and close without the lingering half-close of plain ones.
 *
 * Listen names: a numeric address needs no lookup. A name is looked up with
 * getaddrinfo(3), which may block for seconds: at start that happens before the
 * loop runs; a reload first has every name (of the tcp and http sources) looked up
 * on the bio pool (source_listen_resolve()) and builds its sources from those
 * answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bio.h"
#include "envcheck.h"
#include "journal-loop.h"
#include "log.h"
#include "scope.h"
#include "source.h"
#include "tls.h"
#include "util.h"

extern const struct source_kind source_tcp; /* below: tcp and unix differ in a few places */

#define MAX_SINGLE_READ	   (256 * 1024)
#define READS_PER_CALLBACK 8
#define ACK_HIGH	   (256 * 1024)
#define REFUSE_LOG_USEC	   10000000
#define LINGER_SEC	   5

enum ack_state { ACK_PENDING = 0, ACK_OK, ACK_FAIL, ACK_ABANDONED };

struct ack_ring {
	uint64_t *idx;
	uint8_t *state;
	size_t head, n, cap;
};

struct net_src;

struct net_conn {
	struct net_src *ns;
	TAILQ_ENTRY(net_conn) entry;
	struct bufferevent *bev; /* NULL once closed; the struct stays while acks are owed */
	char peer[96];
	size_t scanned;	      /* input bytes already searched for the delimiter */
	bool eof;	      /* the client finished sending (or the connection broke) */
	bool broken;	      /* ... by an error: a trailing partial record is not a record */
	bool input_done;      /* every record it sent was handed on (or the source stopped) */
	bool ack_blocked;     /* too many acks unread by the client: not reading */
	bool counted;	      /* counts against max_connections */
	bool dead;	      /* to be freed by the reaper once no record of it is in flight */
	bool lingering;	      /* acks all out, FIN sent: input dropped until it closes */
	bool tls;	      /* a TLS connection (whatever a reload did to the source since) */
	bool tls_ready;	      /* TLS: the handshake is done */
	uint64_t outstanding; /* tracked records not done yet */
	struct ack_ring acks;
	/* ack: journaled: records up to jw_upto are acked once jw says they are safe. */
	struct journal_waiter jw;
	uint64_t jw_upto, last_emitted;
};

struct net_src {
	struct source *s;
	const struct conf_source *cs;
	struct evconnlistener *lev;
	TAILQ_HEAD(net_conn_list, net_conn) conns;
	struct event *reap_ev; /* frees dead connections outside any of their callbacks */
	unsigned n_conns;
	bool paused, stopped;
	char delim;
	uint64_t max_item;
	char *unix_path; /* the socket file we created, removed at stop */
	ino_t unix_ino;
	uint64_t refused, refused_unlogged, last_refuse_log;
	bool tls_on;
	struct tls_endpoint tls;
	struct tls_fail_log tls_failures;
};

static void conn_read(struct net_conn *c);
static void conn_maybe_close(struct net_conn *c);

/* ---- acks ---- */

static void ack_push(struct ack_ring *r, uint64_t index, uint8_t state)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		uint64_t *idx = xmalloc(cap * sizeof(*idx));
		uint8_t *st = xmalloc(cap);
		for (size_t i = 0; i < r->n; i++) {
			idx[i] = r->idx[(r->head + i) % r->cap];
			st[i] = r->state[(r->head + i) % r->cap];
		}
		free(r->idx);
		free(r->state);
		r->idx = idx;
		r->state = st;
		r->head = 0;
		r->cap = cap;
	}
	size_t at = (r->head + r->n) % r->cap;
	r->idx[at] = index;
	r->state[at] = state;
	r->n++;
}

/* Indexes increase along the ring: binary search. */
static uint8_t *ack_find(struct ack_ring *r, uint64_t index)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint64_t v = r->idx[(r->head + mid) % r->cap];
		if (v == index)
			return &r->state[(r->head + mid) % r->cap];
		if (v < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void conn_shut(struct net_conn *c, const char *why);

/* Writes the acks that are due, in order. */
static void conn_flush_acks(struct net_conn *c)
{
	struct ack_ring *r = &c->acks;
	while (r->n > 0 && r->state[r->head] != ACK_PENDING) {
		uint8_t st = r->state[r->head];
		if (st == ACK_ABANDONED) {
			/* The rest can only be acked out of order: the client resends from here. */
			conn_shut(c, NULL);
			r->n = 0;
			break;
		}
		if (c->bev != NULL)
			bufferevent_write(c->bev, st == ACK_OK ? "ok\n" : "fail\n",
					  st == ACK_OK ? 3 : 5);
		r->head = (r->head + 1) % r->cap;
		r->n--;
	}
	if (c->bev != NULL && !c->ack_blocked &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > ACK_HIGH) {
		c->ack_blocked = true;
		bufferevent_disable(c->bev, EV_READ);
	}
}

static void net_done_cb(void *arg, const struct track_done *d)
{
	struct net_conn *c = d->token;
	uint8_t *state = ack_find(&c->acks, d->index);
	if (state != NULL)
		*state = d->status == TRACK_OK	     ? ACK_OK
			 : d->status == TRACK_FAILED ? ACK_FAIL
						     : ACK_ABANDONED;
	c->outstanding--;
	conn_flush_acks(c);
	if (c->dead && c->outstanding == 0)
		event_active(c->ns->reap_ev, 0, 0);
	conn_maybe_close(c);
}

/* ack: journaled: every record up to jw_upto is in the journal (and synced). */
static void conn_journaled_cb(void *arg)
{
	struct net_conn *c = arg;
	struct ack_ring *r = &c->acks;
	for (size_t i = 0; i < r->n; i++) {
		size_t at = (r->head + i) % r->cap;
		if (r->idx[at] > c->jw_upto)
			break;
		if (r->state[at] == ACK_PENDING) {
			r->state[at] = ACK_OK;
			c->outstanding--;
		}
	}
	conn_flush_acks(c);
	if (c->last_emitted > c->jw_upto) {
		c->jw_upto = c->last_emitted;
		journal_loop_when_safe(&c->jw, conn_journaled_cb, c);
	}
	if (c->dead && c->outstanding == 0)
		event_active(c->ns->reap_ev, 0, 0);
	conn_maybe_close(c);
}

/* ---- connections ---- */

static void conn_uncount(struct net_conn *c)
{
	if (c->counted) {
		c->counted = false;
		c->ns->n_conns--;
	}
}

static void conn_free(struct net_conn *c)
{
	TAILQ_REMOVE(&c->ns->conns, c, entry);
	conn_uncount(c);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	journal_loop_cancel(&c->jw);
	free(c->acks.idx);
	free(c->acks.state);
	free(c);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_src *ns = arg;
	struct net_conn *c, *next;
	for (c = TAILQ_FIRST(&ns->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->dead && c->outstanding == 0)
			conn_free(c);
	}
}

/* Closes the socket (no more input, no more acks). The struct is freed by the reaper. */
static void conn_shut(struct net_conn *c, const char *why)
{
	if (why != NULL && c->bev != NULL)
		log_warnx("source '%s': closing the connection from %s: %s", c->ns->cs->name,
			  c->peer, why);
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	conn_uncount(c);
	c->input_done = true;
	c->dead = true;
	event_active(c->ns->reap_ev, 0, 0);
}

static void conn_end(struct net_conn *c);

static void conn_closed_write_cb(struct bufferevent *bev, void *arg)
{
	struct net_conn *c = arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_end(c);
}

static void conn_closed_event_cb(struct bufferevent *bev, short what, void *arg)
{
	conn_shut(arg, NULL);
}

static void linger_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	evbuffer_drain(in, evbuffer_get_length(in));
}

/* The output has drained: close, or (acks, the client still sending) linger first. */
static void conn_end(struct net_conn *c)
{
	if (c->bev == NULL || c->eof || c->ns->cs->ack == ACK_NONE) {
		conn_shut(c, NULL);
		return;
	}
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct timeval tv = {LINGER_SEC, 0};
	evbuffer_drain(in, evbuffer_get_length(in));
	if (!c->tls)
		shutdown(bufferevent_getfd(c->bev), SHUT_WR);
	c->lingering = true;
	bufferevent_setcb(c->bev, linger_read_cb, NULL, conn_closed_event_cb, c);
	bufferevent_set_timeouts(c->bev, &tv, NULL);
	bufferevent_enable(c->bev, EV_READ);
}

/* Input all handed on and every ack written: close once the output has drained. */
static void conn_maybe_close(struct net_conn *c)
{
	if (c->dead || c->lingering || !c->input_done || c->outstanding > 0 || c->acks.n > 0)
		return;
	if (c->bev == NULL || evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_end(c);
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setcb(c->bev, NULL, conn_closed_write_cb, conn_closed_event_cb, c);
	bufferevent_enable(c->bev, EV_WRITE);
}

/* One record; false when the source must pause. */
static bool conn_emit(struct net_conn *c, const char *data, size_t len)
{
	struct source *s = c->ns->s;
	if (c->ns->cs->ack == ACK_JOURNALED) {
		uint64_t before = source_items(s);
		bool more = source_emit(s, data, len);
		bool made = source_items(s) != before;
		ack_push(&c->acks, source_last_index(s), made ? ACK_PENDING : ACK_OK);
		if (!made) {
			conn_flush_acks(c);
			return more;
		}
		c->outstanding++;
		c->last_emitted = source_last_index(s);
		if (!c->jw.waiting) {
			c->jw_upto = c->last_emitted;
			journal_loop_when_safe(&c->jw, conn_journaled_cb, c);
		}
		return more;
	}
	if (!conf_ack_done(c->ns->cs->ack))
		return source_emit(s, data, len);
	uint64_t before = source_items(s);
	source_set_token(s, c);
	bool more = source_emit(s, data, len);
	source_set_token(s, NULL);
	bool made = source_items(s) != before;
	ack_push(&c->acks, source_last_index(s), made ? ACK_PENDING : ACK_OK);
	if (made)
		c->outstanding++;
	else
		conn_flush_acks(c);
	return more;
}

static void net_pause_all(struct net_src *ns)
{
	struct net_conn *c;
	ns->paused = true;
	TAILQ_FOREACH(c, &ns->conns, entry)
	if (c->bev != NULL && !c->lingering)
		bufferevent_disable(c->bev, EV_READ);
}

/* Hands on the complete records in c's input; at EOF the rest is the last record. */
static void conn_read(struct net_conn *c)
{
	struct net_src *ns = c->ns;
	if (c->bev == NULL || c->input_done)
		return;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	while (!ns->paused || source_stopping(ns->s)) {
		size_t len = evbuffer_get_length(in);
		if (len == 0)
			break;
		struct evbuffer_ptr from, at;
		evbuffer_ptr_set(in, &from, c->scanned, EVBUFFER_PTR_SET);
		at = evbuffer_search(in, &ns->delim, 1, &from);
		if (at.pos >= 0) {
			size_t rlen = (size_t)at.pos;
			const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)rlen + 1);
			bool more = conn_emit(c, data, rlen);
			evbuffer_drain(in, rlen + 1);
			c->scanned = 0;
			if (!more && !source_stopping(ns->s)) {
				net_pause_all(ns);
				return;
			}
			continue;
		}
		c->scanned = len;
		if (len > ns->max_item) {
			source_reject(ns->s,
				      (const char *)evbuffer_pullup(in, (ev_ssize_t)ns->max_item),
				      len);
			conn_shut(c, "a record is longer than max_item_bytes; the rest of the "
				     "connection is not read");
			return;
		}
		if (!c->eof)
			break;
		if (c->broken) {
			log_warnx("source '%s': the connection from %s broke in the middle of a "
				  "record; its %zu byte(s) were not passed on",
				  ns->cs->name, c->peer, len);
			evbuffer_drain(in, len);
			break;
		}
		/* A clean close: the last record needs no delimiter, as in a file. */
		const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
		bool more = conn_emit(c, data, len);
		evbuffer_drain(in, len);
		c->scanned = 0;
		if (!more && !source_stopping(ns->s)) {
			net_pause_all(ns);
			break;
		}
	}
	if (c->eof && evbuffer_get_length(in) == 0) {
		c->input_done = true;
		conn_maybe_close(c);
	}
}

/*
 * A bufferevent reads at most 4 KiB a time (libevent 2.1's evbuffer_read): while
 * records flow, read on here in large reads into the same input buffer, a few
 * times per callback so that other connections and timers still get their turn.
 */
static void conn_read_more(struct net_conn *c)
{
	struct net_src *ns = c->ns;
	if (c->tls)
		return;
	for (int round = 0; round < READS_PER_CALLBACK; round++) {
		if (c->bev == NULL || ns->paused || c->eof || c->input_done || c->ack_blocked)
			return;
		struct evbuffer *in = bufferevent_get_input(c->bev);
		size_t have = evbuffer_get_length(in);
		if (have > ns->max_item)
			return;
		size_t room = (size_t)ns->max_item + 1 - have;
		if (room > MAX_SINGLE_READ)
			room = MAX_SINGLE_READ;
		struct evbuffer_iovec v;
		if (evbuffer_reserve_space(in, (ev_ssize_t)room, &v, 1) != 1)
			return;
		if (v.iov_len > room)
			v.iov_len = room;
		ssize_t n = read(bufferevent_getfd(c->bev), v.iov_base, v.iov_len);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			evbuffer_commit_space(in, &v, 0);
			return;
		}
		if (n <= 0) {
			evbuffer_commit_space(in, &v, 0);
			/* The same as the bufferevent reporting it: EOF, or a broken connection. */
			if (n < 0)
				log_debug("source '%s': the connection from %s broke: %s",
					  ns->cs->name, c->peer, strerror(errno));
			bufferevent_disable(c->bev, EV_READ);
			c->eof = true;
			c->broken = n < 0;
			conn_read(c);
			return;
		}
		v.iov_len = (size_t)n;
		evbuffer_commit_space(in, &v, 1);
		conn_read(c);
	}
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	conn_read(arg);
	conn_read_more(arg);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct net_conn *c = arg;
	/* The client read its acks: it may send again. */
	if (c->ack_blocked && evbuffer_get_length(bufferevent_get_output(bev)) <= ACK_HIGH / 2) {
		c->ack_blocked = false;
		if (!c->ns->paused && !c->eof)
			bufferevent_enable(bev, EV_READ);
		conn_read(c);
	}
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct net_conn *c = arg;
	struct net_src *ns = c->ns;

	if (what & BEV_EVENT_TIMEOUT) {
		if (c->outstanding > 0 || ns->paused) {
			/* Waiting for its acks or for us: not idle. Read on (re-arms the timer). */
			if (!ns->paused && !c->ack_blocked)
				bufferevent_enable(bev, EV_READ);
			return;
		}
		char msg[96];
		snprintf(msg, sizeof(msg), "idle for %.1fs (idle_timeout)",
			 (double)ns->cs->idle_timeout / 1e6);
		conn_shut(c, msg);
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		c->tls_ready = true;
		log_debug("source '%s': TLS with %s", ns->cs->name, c->peer);
		return;
	}
	if (c->tls && !c->tls_ready && (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))) {
		char why[256];
		tls_log_failure(&ns->tls_failures, ns->cs->name, c->peer,
				tls_error(bev, why, sizeof(why)));
		c->eof = c->broken = true;
		conn_read(c);
		conn_shut(c, NULL);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		int e = EVUTIL_SOCKET_ERROR();
		if (what & BEV_EVENT_WRITING) {
			/* It went away while we wrote its acks: nothing more to tell it. */
			log_info("source '%s': the connection from %s is gone (%s)", ns->cs->name,
				 c->peer, evutil_socket_error_to_string(e));
			c->eof = c->broken = true;
			conn_read(c);
			conn_shut(c, NULL);
			return;
		}
		log_debug("source '%s': the connection from %s broke: %s", ns->cs->name, c->peer,
			  evutil_socket_error_to_string(e));
		c->eof = c->broken = true;
	} else if (what & BEV_EVENT_EOF) {
		c->eof = true;
	}
	conn_read(c);
}

static void describe_peer(struct net_conn *c, evutil_socket_t fd, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN];
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		snprintf(c->peer, sizeof(c->peer), "%s:%u",
			 inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host)),
			 (unsigned)ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		snprintf(c->peer, sizeof(c->peer), "[%s]:%u",
			 inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host)),
			 (unsigned)ntohs(in6->sin6_port));
	} else {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
			snprintf(c->peer, sizeof(c->peer), "a local process (pid %d, uid %u)",
				 (int)cred.pid, (unsigned)cred.uid);
		else
			snprintf(c->peer, sizeof(c->peer), "a local process");
	}
}

/* The source's settings on a connection: at accept, and after a reload moved it. */
static void conn_configure(struct net_conn *c)
{
	struct net_src *ns = c->ns;
	struct timeval tv = {(time_t)(ns->cs->idle_timeout / 1000000),
			     (suseconds_t)(ns->cs->idle_timeout % 1000000)};
	bufferevent_setwatermark(c->bev, EV_READ, 0, (size_t)ns->max_item + 1);
	bufferevent_set_timeouts(c->bev, ns->cs->idle_timeout > 0 ? &tv : NULL, NULL);
}

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct net_src *ns = arg;
	struct net_conn *c = xcalloc(1, sizeof(*c));
	c->ns = ns;
	describe_peer(c, fd, sa);
	if (ns->stopped || ns->n_conns >= ns->cs->max_connections) {
		uint64_t now = now_usec();
		ns->refused++;
		ns->refused_unlogged++;
		if (!ns->stopped &&
		    (ns->last_refuse_log == 0 || now - ns->last_refuse_log >= REFUSE_LOG_USEC)) {
			log_warnx("source '%s': refused %llu connection(s) (the last from %s): "
				  "max_connections (%llu) are open",
				  ns->cs->name, (unsigned long long)ns->refused_unlogged, c->peer,
				  (unsigned long long)ns->cs->max_connections);
			ns->refused_unlogged = 0;
			ns->last_refuse_log = now;
		}
		evutil_closesocket(fd);
		free(c);
		return;
	}
	struct event_base *base = evconnlistener_get_base(lev);
	if (ns->tls_on) {
		c->bev = tls_accept(base, tls_endpoint_ctx(&ns->tls), fd, BEV_OPT_CLOSE_ON_FREE);
		/* A client that closes without close_notify still ends its last record. */
		if (c->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
		c->tls = true;
	} else {
		c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (c->bev == NULL) {
		log_warnx("source '%s': cannot set up the connection from %s", ns->cs->name,
			  c->peer);
		evutil_closesocket(fd);
		free(c);
		return;
	}
	c->counted = true;
	ns->n_conns++;
	TAILQ_INSERT_TAIL(&ns->conns, c, entry);
	log_debug("source '%s': connection from %s", ns->cs->name, c->peer);
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_set_max_single_read(c->bev, MAX_SINGLE_READ);
	conn_configure(c);
	bufferevent_enable(c->bev, ns->paused ? EV_WRITE : EV_READ | EV_WRITE);
}

static void listener_error_cb(struct evconnlistener *lev, void *arg)
{
	struct net_src *ns = arg;
	int e = EVUTIL_SOCKET_ERROR();
	/* Out of file descriptors, typically: libevent retries on the next event. */
	log_warnx("source '%s': accepting a connection failed: %s", ns->cs->name,
		  evutil_socket_error_to_string(e));
}

/* ---- listen names (tcp and http sources) looked up off the loop, for a reload ---- */

struct listen_lookup {
	struct bio_job job;
	struct listen_lookup *next;
	char *listen; /* as configured: the key */
	char host[256], port[8];
	int rc; /* getaddrinfo's */
	struct addrinfo *res;
};

static struct listen_lookup *lookups;
static unsigned lookups_running;
static void (*lookups_done)(void *arg);
static void *lookups_arg;

static const struct addrinfo listen_hints = {
    .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};

static void lookup_work(struct bio_job *j)
{
	struct listen_lookup *l = j->arg;
	l->rc = getaddrinfo(l->host, l->port, &listen_hints, &l->res);
}

static void lookup_done(struct bio_job *j)
{
	if (--lookups_running == 0 && lookups_done != NULL)
		lookups_done(lookups_arg);
}

static bool is_numeric(const char *host, const char *port)
{
	struct addrinfo hints = listen_hints, *res = NULL;
	hints.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return false;
	freeaddrinfo(res);
	return true;
}

int source_listen_resolve(const struct conf *conf, void (*done)(void *arg), void *arg)
{
	source_listen_resolved_clear();
	for (size_t i = 0; i < conf->n_sources; i++) {
		const struct conf_source *cs = &conf->sources[i];
		char host[256], port_s[8];
		unsigned port;
		const char *why;
		if (cs->listen == NULL ||
		    conf_parse_hostport(cs->listen, host, sizeof(host), &port, &why) < 0)
			continue;
		snprintf(port_s, sizeof(port_s), "%u", port);
		if (is_numeric(host, port_s))
			continue;
		struct listen_lookup *l = xcalloc(1, sizeof(*l));
		l->listen = xstrdup(cs->listen);
		snprintf(l->host, sizeof(l->host), "%s", host);
		memcpy(l->port, port_s, sizeof(l->port));
		l->job =
		    (struct bio_job){.work = lookup_work, .done = lookup_done, .arg = l, .fd = -1};
		l->next = lookups;
		lookups = l;
	}
	if (lookups == NULL)
		return 0;
	lookups_done = done;
	lookups_arg = arg;
	for (struct listen_lookup *l = lookups; l != NULL; l = l->next)
		lookups_running++;
	/* Counted first: without a pool, bio_submit runs the job and its done() at once. */
	for (struct listen_lookup *l = lookups; l != NULL; l = l->next)
		bio_submit(&l->job);
	return 1;
}

static const struct listen_lookup *lookup_find(const char *listen)
{
	const struct listen_lookup *l = lookups;
	while (l != NULL && strcmp(l->listen, listen) != 0)
		l = l->next;
	return l;
}

int source_listen_numeric(const char *listen, char *host, size_t len)
{
	const struct listen_lookup *l = lookup_find(listen);
	if (l == NULL || l->rc != 0)
		return l == NULL ? 0 : l->rc;
	return getnameinfo(l->res->ai_addr, l->res->ai_addrlen, host, (socklen_t)len, NULL, 0,
			   NI_NUMERICHOST);
}

void source_listen_resolved_clear(void)
{
	while (lookups != NULL) {
		struct listen_lookup *l = lookups;
		lookups = l->next;
		if (l->res != NULL)
			freeaddrinfo(l->res);
		free(l->listen);
		free(l);
	}
	lookups_done = NULL;
}

/* ---- the kind ---- */

static int listen_tcp(struct net_src *ns, struct event_base *base, char *err, size_t errlen)
{
	const struct conf_source *cs = ns->cs;
	char host[256], port_s[8];
	unsigned port;
	const char *why;
	struct addrinfo *res = NULL;
	const struct listen_lookup *l = lookup_find(cs->listen);

	if (conf_parse_hostport(cs->listen, host, sizeof(host), &port, &why) < 0) {
		snprintf(err, errlen, "source '%s': bad listen address '%s': %s", cs->name,
			 cs->listen, why);
		return -1;
	}
	snprintf(port_s, sizeof(port_s), "%u", port);
	/* A name a reload looked up off the loop; else (a number, or at start, before the
	 * loop runs) here. */
	int rc = l != NULL ? l->rc : getaddrinfo(host, port_s, &listen_hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "source '%s': cannot resolve '%s': %s", cs->name, host,
			 gai_strerror(rc));
		return -1;
	}
	int e = 0;
	for (struct addrinfo *ai = l != NULL ? l->res : res; ai != NULL && ns->lev == NULL;
	     ai = ai->ai_next) {
		ns->lev = evconnlistener_new_bind(base, accept_cb, ns,
						  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
						      LEV_OPT_REUSEABLE | LEV_OPT_DISABLED,
						  -1, ai->ai_addr, (int)ai->ai_addrlen);
		if (ns->lev == NULL)
			e = errno;
	}
	if (res != NULL)
		freeaddrinfo(res);
	if (ns->lev == NULL) {
		snprintf(err, errlen, "source '%s': cannot listen on %s: %s", cs->name, cs->listen,
			 strerror(e));
		return -1;
	}
	return 0;
}

static int listen_unix(struct net_src *ns, struct event_base *base, char *err, size_t errlen)
{
	const struct conf_source *cs = ns->cs;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;

	if (strlen(cs->path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen,
			 "source '%s': socket path '%s' is too long (at most %zu bytes)", cs->name,
			 cs->path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, cs->path, strlen(cs->path) + 1);
	if (lstat(cs->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "source '%s': '%s' exists and is not a socket",
				 cs->name, cs->path);
			return -1;
		}
		/* A socket nobody answers on is a leftover of an earlier run. */
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(fd);
			snprintf(err, errlen, "source '%s': '%s' is in use by another process",
				 cs->name, cs->path);
			return -1;
		}
		if (fd >= 0)
			close(fd);
		unlink(cs->path);
	}
	ns->lev = evconnlistener_new_bind(
	    base, accept_cb, ns, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED,
	    -1, (struct sockaddr *)&sun, (int)sizeof(sun));
	if (ns->lev == NULL) {
		snprintf(err, errlen, "source '%s': cannot listen on '%s': %s", cs->name, cs->path,
			 strerror(errno));
		return -1;
	}
	ns->unix_path = xstrdup(cs->path);
	if (stat(cs->path, &st) == 0)
		ns->unix_ino = st.st_ino;
	return 0;
}

static int net_open(struct source *s, char *err, size_t errlen)
{
	const struct conf_source *cs = source_conf(s);
	struct net_src *ns = xcalloc(1, sizeof(*ns));
	struct event_base *base = scope_base(source_scope(s));

	*source_state(s) = ns;
	ns->s = s;
	ns->cs = cs;
	ns->delim = source_delim(s);
	ns->max_item = source_max_item(s);
	TAILQ_INIT(&ns->conns);
	ns->reap_ev = event_new(base, -1, 0, reap_cb, ns);
	int fd = source_inherited_fd(s);
	if (fd >= 0) {
		/* A reload: the socket already listens; its file stays the old source's until
		 * the handover. */
		ns->lev = evconnlistener_new(
		    base, accept_cb, ns,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED, 0, fd);
		if (ns->lev == NULL) {
			close(fd);
			snprintf(err, errlen, "source '%s': cannot take over the listening socket",
				 cs->name);
			return -1;
		}
	} else if ((cs->kind == &source_tcp.conf ? listen_tcp(ns, base, err, errlen)
						 : listen_unix(ns, base, err, errlen)) < 0) {
		return -1;
	}
	evconnlistener_set_error_cb(ns->lev, listener_error_cb);
	if (cs->kind == &source_tcp.conf && cs->tls.enabled) {
		char who[CONF_NAME_MAX + 16];
		snprintf(who, sizeof(who), "source '%s'", cs->name);
		if (conf_tls_endpoint(&ns->tls, &cs->tls, true, who, err, errlen) < 0)
			return -1;
		ns->tls_on = true;
	}
	if (conf_ack_done(cs->ack))
		source_track(s, net_done_cb, ns, false);
	return 0;
}

static void net_resume(struct source *s);

static void net_start(struct source *s)
{
	struct net_src *ns = *source_state(s);
	evconnlistener_enable(ns->lev);
	/* Connections a reload handed over carry on: whatever they had buffered first. */
	net_resume(s);
	log_info("source '%s' listening on %s", ns->cs->name,
		 ns->cs->kind == &source_tcp.conf ? ns->cs->listen : ns->cs->path);
}

static void net_resume(struct source *s)
{
	struct net_src *ns = *source_state(s);
	struct net_conn *c, *next, *last = TAILQ_LAST(&ns->conns, net_conn_list);
	ns->paused = false;
	/* Each connection once, in list order; served ones move to the tail (round robin). */
	for (c = TAILQ_FIRST(&ns->conns); c != NULL && !ns->paused; c = next) {
		bool end = c == last;
		next = TAILQ_NEXT(c, entry);
		TAILQ_REMOVE(&ns->conns, c, entry);
		TAILQ_INSERT_TAIL(&ns->conns, c, entry);
		if (c->bev != NULL && !c->eof && !c->ack_blocked && !c->lingering)
			bufferevent_enable(c->bev, EV_READ);
		conn_read(c);
		if (end)
			break;
	}
}

static void net_close_listener(struct net_src *ns)
{
	struct stat st;
	if (ns->lev != NULL) {
		evconnlistener_free(ns->lev);
		ns->lev = NULL;
	}
	/* Only our own socket file: another process may have taken the path over. */
	if (ns->unix_path != NULL && stat(ns->unix_path, &st) == 0 && st.st_ino == ns->unix_ino)
		unlink(ns->unix_path);
	free(ns->unix_path);
	ns->unix_path = NULL;
}

static void net_stop(struct source *s)
{
	struct net_src *ns = *source_state(s);
	struct net_conn *c, *next;
	ns->stopped = true;
	net_close_listener(ns);
	/* Complete records already read are handed on; then no connection reads again. */
	for (c = TAILQ_FIRST(&ns->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->bev == NULL || c->input_done)
			continue;
		bufferevent_disable(c->bev, EV_READ);
		conn_read(c);
		if (!c->input_done) {
			size_t left = evbuffer_get_length(bufferevent_get_input(c->bev));
			if (left > 0)
				log_warnx("source '%s': stopped with an incomplete record of %zu "
					  "byte(s) from %s; it was not passed on",
					  ns->cs->name, left, c->peer);
			c->input_done = true;
			conn_maybe_close(c);
		}
	}
	source_end(s);
}

/*
 * After the loop: the last acks out, then a lingering close as conn_end()'s,
 * with poll(), until deadline at the latest.
 */
static void conn_finish(struct net_conn *c, uint64_t deadline)
{
	int fd = bufferevent_getfd(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	bool fin = c->lingering;
	uint64_t now;
	/* The bufferevent keeps the start of its output frozen: nothing else may write it. */
	evbuffer_unfreeze(out, 1);
	while ((now = now_usec()) < deadline) {
		if (evbuffer_get_length(out) == 0 && !fin) {
			shutdown(fd, SHUT_WR);
			fin = true;
		}
		if (fin && c->eof)
			return;
		struct pollfd pfd = {
		    .fd = fd, .events = (short)((fin ? 0 : POLLOUT) | (c->eof ? 0 : POLLIN))};
		if (poll(&pfd, 1, (int)((deadline - now) / 1000) + 1) <= 0)
			return;
		if ((pfd.revents & POLLOUT) && evbuffer_write(out, fd) < 0 && errno != EAGAIN &&
		    errno != EINTR)
			return;
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[16384];
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				c->eof = true;
		}
	}
}

static void net_free(struct source *s)
{
	struct net_src *ns = *source_state(s);
	struct net_conn *c;
	if (ns == NULL)
		return;
	uint64_t deadline = now_usec() + LINGER_SEC * UINT64_C(1000000);
	net_close_listener(ns);
	while ((c = TAILQ_FIRST(&ns->conns)) != NULL) {
		if (c->bev != NULL && ns->cs->ack != ACK_NONE && !c->tls)
			conn_finish(c, deadline);
		conn_free(c);
	}
	if (ns->tls_on)
		tls_endpoint_free(&ns->tls);
	event_free(ns->reap_ev);
	free(ns);
}

static int net_listener(struct source *s)
{
	struct net_src *ns = *source_state(s);
	return ns != NULL && ns->lev != NULL ? evconnlistener_get_fd(ns->lev) : -1;
}

/*
 * A reload replaced the source: the successor takes the socket file and the open
 * connections as they are (their buffered input, their pending acks, which still
 * reach them through the old tracker), so no client is closed or reset. The old
 * source is left with nothing to read and ends when it is stopped.
 */
static void net_handover(struct source *old, struct source *s)
{
	struct net_src *from = *source_state(old), *to = *source_state(s);
	struct net_conn *c;
	unsigned moved = 0;
	to->unix_path = from->unix_path;
	to->unix_ino = from->unix_ino;
	from->unix_path = NULL;
	while ((c = TAILQ_FIRST(&from->conns)) != NULL) {
		moved++;
		TAILQ_REMOVE(&from->conns, c, entry);
		TAILQ_INSERT_TAIL(&to->conns, c, entry);
		if (c->counted) {
			from->n_conns--;
			to->n_conns++;
		}
		c->ns = to;
		c->scanned = 0; /* the framing may have changed: search its input afresh */
		if (c->bev != NULL) {
			bufferevent_disable(c->bev, EV_READ);
			conn_configure(c);
		}
	}
	if (moved > 0) {
		event_active(to->reap_ev, 0, 0);
		log_info("source '%s': %u open connection(s) carried over", to->cs->name, moved);
	}
}

static const char *net_listen_address(const struct conf_source *cs)
{
	return cs->listen;
}

static const char *net_socket_path(const struct conf_source *cs)
{
	return cs->path;
}

/* Listening sources: tcp and unix here, and http (source-http.c) shares listen and ack. */
const struct conf_key source_listen_row = {"listen", CT_ADDR, .off = CONF_SRC(listen),
					   .required = CONF_ALL_KINDS,
					   .doc = "HOST:PORT or [V6]:PORT to listen on."};
static const char *const ack_names[] = {"false", "true", "journaled", "done", NULL};

/* ack: journaled answers from the journal: without one there is nothing to wait for. */
static bool check_ack(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	if (*(enum ack_mode *)field != ACK_JOURNALED || x->c->journal.enabled)
		return true;
	conf_err(x, v, "'ack: journaled' in %s needs a top-level 'journal' (and 'state_dir')",
		 x->label);
	return false;
}

/* As a bool was read before ack took more values: yes/no and any case still do. */
static bool parse_ack(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	static const char *const alias[] = {"no", "yes"};
	if (v->type != YAML_SCALAR_NODE)
		return false;
	const char *s = (const char *)v->data.scalar.value;
	for (int i = 0; ack_names[i] != NULL; i++)
		if (strcasecmp(s, ack_names[i]) == 0 || (i < 2 && strcasecmp(s, alias[i]) == 0)) {
			*(enum ack_mode *)field = (enum ack_mode)i;
			check_ack(x, v, field); /* a parse replaces the row's check */
			return true;
		}
	return false;
}

const struct conf_key source_ack_row = {
    "ack",
    CT_ENUM,
    CF_BOOL_TOO,
    .off = CONF_SRC(ack),
    .def = "false",
    .values = ack_names,
    .parse = parse_ack,
    .doc = "false; journaled: answer once the items are in the journal; true or done: once "
	   "they are done end to end."};
static const struct conf_key unix_path_row = {"path",
					      CT_STR,
					      CF_NONEMPTY,
					      .off = CONF_SRC(path),
					      .required = CONF_ALL_KINDS,
					      .doc = "unix: the socket to listen on."};
static const struct conf_key net_rows[] = {
    {"max_connections", CT_UINT, .off = CONF_SRC(max_connections), .def = "64", .min = 1,
     .max = 100000, .doc = "tcp, unix: more connections are closed at once, with a log line."},
    {"idle_timeout", CT_DURATION, .off = CONF_SRC(idle_timeout), .def = "0s",
     .doc = "Close a silent connection; 0s: never."},
};

static void tcp_check(struct conf_ctx *x, void *entry)
{
	conf_tls_server_check(x, &((struct conf_source *)entry)->tls, x->label);
}

static void tcp_envcheck(struct envcheck *ck, const char *owner, const void *entry)
{
	const struct conf_source *s = entry;
	envcheck_listen(ck, owner, s->listen, &s->listen, s->pos);
}

static void unix_envcheck(struct envcheck *ck, const char *owner, const void *entry)
{
	const struct conf_source *s = entry;
	envcheck_creatable(ck, owner, s->path, &s->path, s->pos, true);
}

const struct source_kind source_tcp = {
    .conf = {.name = "tcp",
	     CONF_ROWS(&source_listen_row, &net_rows[0], &net_rows[1], &source_ack_row,
		       &source_framing_row, &conf_source_tls_row),
	     .check = tcp_check,
	     .envcheck = tcp_envcheck},
    .open = net_open,
    .start = net_start,
    .resume = net_resume,
    .stop = net_stop,
    .free = net_free,
    .listener = net_listener,
    .handover = net_handover,
    .address = net_listen_address,
    .replays = source_replays_if_acked,
};

const struct source_kind source_unix = {
    .conf = {.name = "unix",
	     CONF_ROWS(&unix_path_row, &net_rows[0], &net_rows[1], &source_ack_row,
		       &source_framing_row),
	     .envcheck = unix_envcheck},
    .open = net_open,
    .start = net_start,
    .resume = net_resume,
    .stop = net_stop,
    .free = net_free,
    .listener = net_listener,
    .handover = net_handover,
    .address = net_socket_path,
    .replays = source_replays_if_acked,
};
