/*
 * sink-stream.c: the byte-stream sink engine (see sink-stream.h).
 *
 * States: opening (connect or spawn in progress, bounded by `timeout` for
 * sockets) -> up -> (lost) -> waiting (backoff) -> opening ... and, once the
 * input has ended and every record is confirmed, drained.
 *
 * Confirmation: a record is done when the other side has taken it, not merely
 * when the kernel has: the kind says how many written bytes are still in the
 * kernel on their way (SIOCOUTQ for a socket: not yet acknowledged by the peer;
 * FIONREAD for a pipe: not yet read by the command). Those records stay in the
 * buffer, so when the connection is lost they are sent again, whole, from the
 * first one not confirmed: nothing is lost on our side of the kernel, and a
 * record reaches the peer twice only if the peer had taken it (its kernel
 * acknowledged it, or the command read it) without acting on it before it went
 * away, or while our last look was out of date. A record is never torn at the
 * peer by a reconnect. While bytes are unconfirmed and nothing else happens,
 * a 20 ms timer looks again, so memory is released and a drain can end.
 *
 * Backpressure: the buffer (written-unconfirmed plus unwritten) over 1 MiB
 * makes the sink busy, until it is back under 256 KiB: a peer that stops
 * reading, or is gone, holds the consumer back, then the stages, then the
 * sources; memory stays bounded.
 *
 * A cancel while the peer is down hands every record held back for the spool
 * (stream_take_back, with each record's origin kept in the buffer); at the end
 * of the loop, a live connection gets kill_after to take what is left.
 */
#include "sink-stream.h"

#include <errno.h>
#include <event2/event.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "scope.h"
#include "recbuf.h"
#include "units.h"
#include "util.h"

#define HIGH_MARK	  (1024 * 1024)
#define LOW_MARK	  (256 * 1024)
#define CONFIRM_POLL_USEC 20000
#define WARN_EVERY_USEC	  30000000

/* FINISHING: drained, the kind is letting the other side finish (a command exiting). */
enum st_state { ST_OPENING, ST_UP, ST_WAITING, ST_FINISHING, ST_DRAINED, ST_CLOSED };

struct stream {
	struct sink *s;
	const struct conf_sink *cs;
	const struct stream_ops *ops;
	void *kind;
	char *peer;
	enum st_state state;
	int fd;
	bool connecting; /* a connect() pending on fd */
	struct recbuf out;
	struct event *write_ev, *read_ev, *timer, *confirm_ev;
	unsigned failures; /* in a row, since records were last taken */
	uint64_t last_warn;
	bool saturated, draining, ever_up;
};

static void st_open(struct stream *st);

static struct stream *of(const struct sink *s)
{
	return *sink_state((struct sink *)s);
}

void *stream_kind(struct stream *st)
{
	return st->kind;
}

struct sink *stream_sink(struct stream *st)
{
	return st->s;
}

const char *stream_peer(struct stream *st)
{
	return st->peer;
}

static void set_timer(struct event *ev, uint64_t usec)
{
	struct timeval tv = {(time_t)(usec / 1000000), (suseconds_t)(usec % 1000000)};
	evtimer_add(ev, &tv);
}

static void drop_fd_events(struct stream *st)
{
	if (st->write_ev != NULL) {
		event_free(st->write_ev);
		st->write_ev = NULL;
	}
	if (st->read_ev != NULL) {
		event_free(st->read_ev);
		st->read_ev = NULL;
	}
	evtimer_del(st->confirm_ev);
}

/* The connection's fd, now no longer the stream's (its events dropped). */
static int take_fd(struct stream *st)
{
	int fd = st->fd;
	drop_fd_events(st);
	st->fd = -1;
	return fd;
}

/* Closes the connection, if there is one. */
static void close_fd(struct stream *st)
{
	if (st->fd >= 0)
		st->ops->closed(st, take_fd(st));
}

/* Records the other side has taken leave the buffer. Returns how many. */
static uint64_t confirm(struct stream *st)
{
	if (st->state != ST_UP)
		return 0;
	uint64_t written = recbuf_written_pos(&st->out);
	uint64_t unconfirmed = written - recbuf_confirmed_pos(&st->out);
	uint64_t n = 0;
	if (unconfirmed > 0) {
		uint64_t u = st->ops->unconsumed(st, st->fd);
		n = recbuf_confirm(&st->out, written - (u < unconfirmed ? u : unconfirmed));
	}
	if (n > 0) {
		sink_count_done(st->s, n);
		st->failures = 0;
	}
	if (recbuf_held(&st->out) <= LOW_MARK)
		st->saturated = false;
	if (recbuf_written_pos(&st->out) > recbuf_confirmed_pos(&st->out) &&
	    !evtimer_pending(st->confirm_ev, NULL))
		set_timer(st->confirm_ev, CONFIRM_POLL_USEC);
	/* Drained: every record taken; the kind finishes the connection. */
	if (st->draining && recbuf_held(&st->out) == 0) {
		int fd = take_fd(st);
		if (st->ops->drain == NULL) {
			st->ops->closed(st, fd);
			st->state = ST_DRAINED;
		} else {
			st->state = ST_FINISHING;
			if (st->ops->drain(st, fd))
				st->state = ST_DRAINED;
		}
	}
	return n;
}

static void lost(struct stream *st, const char *why)
{
	char d[32];
	if (st->state == ST_UP && st->ops->confirm_at_loss)
		confirm(st);
	if (st->state != ST_UP)
		return;
	int fd = take_fd(st);
	st->ops->closed(st, fd);
	uint64_t again = recbuf_records(&st->out);
	recbuf_rewind(&st->out);
	st->failures++;
	uint64_t delay = net_backoff(st->cs->backoff, st->cs->max_backoff, st->failures);
	log_warnx("sink '%s': lost %s (%s); %llu record(s) not yet taken are kept and sent "
		  "again; reconnecting in %s",
		  sink_name(st->s), st->peer, why, (unsigned long long)again,
		  units_format_duration(delay, d, sizeof(d)));
	st->last_warn = now_usec();
	st->state = ST_WAITING;
	set_timer(st->timer, delay);
}

void stream_lost(struct stream *st, const char *why)
{
	lost(st, why);
	sink_wake(st->s);
}

static void flush(struct stream *st)
{
	if (st->state != ST_UP || st->connecting)
		return;
	while (recbuf_unwritten(&st->out) > 0) {
		ssize_t n = recbuf_write(&st->out, st->fd);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(st->write_ev, NULL);
			break;
		}
		lost(st, n == 0 ? "it took nothing" : strerror(errno));
		return;
	}
	confirm(st);
}

static void up(struct stream *st)
{
	st->state = ST_UP;
	st->connecting = false;
	evtimer_del(st->timer);
	if (st->ever_up)
		log_info("sink '%s': reconnected to %s; sending the %zu byte(s) held",
			 sink_name(st->s), st->peer, recbuf_held(&st->out));
	else if (st->failures > 0)
		log_info("sink '%s': connected to %s after %u failed attempt(s)", sink_name(st->s),
			 st->peer, st->failures);
	st->ever_up = true;
	if (st->read_ev != NULL)
		event_add(st->read_ev, NULL);
	flush(st);
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *st = arg;
	if (st->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err != 0) {
			stream_open_failed(st, err, NULL);
			return;
		}
		up(st);
	} else {
		flush(st);
	}
	sink_wake(st->s);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *st = arg;
	char buf[4096];
	for (;;) {
		/* The peer has nothing to say to a sink: what it sends is dropped. */
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/*
		 * A clean close: what it acknowledged is known (a reset may have purged
		 * the count). Our records may still sit unread in its buffers: those
		 * are sent again.
		 */
		if (n == 0)
			confirm(st);
		stream_lost(st, n == 0 ? "the peer closed the connection" : strerror(errno));
		return;
	}
}

static void confirm_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *st = arg;
	if (confirm(st) > 0 || st->state == ST_DRAINED)
		sink_wake(st->s);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *st = arg;
	if (st->state == ST_WAITING) {
		st_open(st);
		return;
	}
	if (st->state == ST_OPENING) {
		if (st->ops->cancel_open != NULL && st->fd < 0)
			st->ops->cancel_open(st);
		stream_open_failed(st, ETIMEDOUT, "no answer within the sink's timeout");
	}
}

void stream_opened(struct stream *st, int fd, bool in_progress)
{
	struct event_base *base = scope_base(sink_scope(st->s));
	st->fd = fd;
	st->write_ev = event_new(base, fd, EV_WRITE, write_cb, st);
	st->read_ev =
	    st->ops->watch_read ? event_new(base, fd, EV_READ | EV_PERSIST, read_cb, st) : NULL;
	if (in_progress) {
		st->connecting = true;
		event_add(st->write_ev, NULL);
		return;
	}
	up(st);
}

void stream_open_failed(struct stream *st, int err, const char *detail)
{
	char d[32];
	uint64_t now = now_usec();
	close_fd(st);
	st->connecting = false;
	st->failures++;
	uint64_t delay = net_backoff(st->cs->backoff, st->cs->max_backoff, st->failures);
	units_format_duration(delay, d, sizeof(d));
	/* The first failure and then one line every 30 s: a peer down for hours is no flood. */
	if (st->failures == 1 || now - st->last_warn >= WARN_EVERY_USEC) {
		log_warnx("sink '%s': cannot %s %s: %s%s%s; %zu byte(s) held; retrying in %s "
			  "(attempt %u)",
			  sink_name(st->s), st->ops->verb, st->peer, strerror(err),
			  detail != NULL ? ": " : "", detail != NULL ? detail : "",
			  recbuf_held(&st->out), d, st->failures);
		st->last_warn = now;
	} else {
		log_debug("sink '%s': cannot %s %s: %s; retrying in %s", sink_name(st->s),
			  st->ops->verb, st->peer, strerror(err), d);
	}
	st->state = ST_WAITING;
	set_timer(st->timer, delay);
}

void stream_set_drained(struct stream *st)
{
	st->state = ST_DRAINED;
	sink_wake(st->s);
}

static void st_open(struct stream *st)
{
	st->state = ST_OPENING;
	if (st->ops->open_timeout)
		set_timer(st->timer, st->cs->timeout);
	st->ops->open(st);
}

struct stream *stream_new(struct sink *s, const struct stream_ops *ops, void *kind,
			  const char *peer)
{
	struct event_base *base = scope_base(sink_scope(s));
	struct stream *st = xcalloc(1, sizeof(*st));
	st->s = s;
	st->cs = sink_conf(s);
	st->ops = ops;
	st->kind = kind;
	st->peer = xstrdup(peer);
	st->fd = -1;
	st->out.keep_meta = true;
	st->timer = evtimer_new(base, timer_cb, st);
	st->confirm_ev = evtimer_new(base, confirm_cb, st);
	*sink_state(s) = st;
	st_open(st);
	return st;
}

/* ---- the sink kind functions ---- */

void stream_append(struct sink *s, const struct item *it)
{
	struct stream *st = of(s);
	struct recbuf_meta m = {
	    .seq = it->seq, .index = it->index, .source = it->source, .track = it->track};
	recbuf_add_meta(&st->out, it->data, it->len, &m);
	if (recbuf_held(&st->out) >= HIGH_MARK)
		st->saturated = true;
}

void stream_flush(struct sink *s)
{
	flush(of(s));
}

bool stream_busy(const struct sink *s)
{
	const struct stream *st = of(s);
	size_t held = recbuf_held(&st->out);
	/* Hysteresis: busy from the high mark until back under the low mark. */
	return held >= HIGH_MARK || (st->saturated && held > LOW_MARK);
}

bool stream_idle(const struct sink *s)
{
	const struct stream *st = of(s);
	return recbuf_held(&st->out) == 0 &&
	       (st->ops->drain == NULL || st->state == ST_DRAINED || !st->ever_up);
}

/* Not up: waiting to reconnect, or opening again after a failure. */
bool stream_up(const struct sink *s)
{
	const struct stream *st = of(s);
	return st->state != ST_WAITING && !(st->state == ST_OPENING && st->failures > 0);
}

bool stream_down(const struct sink *s)
{
	return of(s)->state != ST_UP;
}

void stream_drain(struct sink *s)
{
	struct stream *st = of(s);
	st->draining = true;
	if (st->state == ST_UP) {
		confirm(st);
	} else if (recbuf_held(&st->out) == 0) {
		/* Nothing to send and no connection: nothing to finish either. */
		evtimer_del(st->timer);
		if (st->ops->cancel_open != NULL && st->fd < 0 && st->state == ST_OPENING)
			st->ops->cancel_open(st);
		close_fd(st);
		st->state = ST_DRAINED;
	}
}

uint64_t stream_take_back(struct sink *s, sink_give_cb give, void *arg)
{
	return sink_give_back(s, &of(s)->out, give, arg);
}

uint64_t stream_close(struct sink *s, uint64_t timeout_usec)
{
	struct stream *st = of(s);
	uint64_t end = now_usec() + timeout_usec, lost_n = 0;

	evtimer_del(st->timer);
	if (st->state == ST_OPENING && st->ops->cancel_open != NULL && st->fd < 0)
		st->ops->cancel_open(st);
	if (st->state == ST_UP && !st->connecting) {
		/* After the loop: blocking waits are allowed, up to the deadline. */
		while (recbuf_unwritten(&st->out) > 0) {
			ssize_t n = recbuf_write(&st->out, st->fd);
			if (n > 0 || (n < 0 && errno == EINTR))
				continue;
			uint64_t now = now_usec();
			if (now >= end || !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
				break;
			struct pollfd pfd = {.fd = st->fd, .events = POLLOUT};
			poll(&pfd, 1, (int)((end - now) / 1000) + 1);
		}
		/* Give the peer the rest of the time to take what was written. */
		while (recbuf_written_pos(&st->out) > recbuf_confirmed_pos(&st->out) &&
		       now_usec() < end) {
			confirm(st);
			if (recbuf_written_pos(&st->out) > recbuf_confirmed_pos(&st->out)) {
				struct timespec ts = {0, 5 * 1000 * 1000};
				nanosleep(&ts, NULL);
			}
		}
		confirm(st);
	}
	/* Written but not yet taken: the kernel has them; they count as written. */
	uint64_t in_flight = recbuf_confirm(&st->out, recbuf_written_pos(&st->out));
	sink_count_done(s, in_flight);
	if (in_flight > 0)
		log_warnx("sink '%s': %llu record(s) were handed to the kernel for %s but not yet "
			  "taken by it at exit",
			  sink_name(s), (unsigned long long)in_flight, st->peer);
	lost_n = recbuf_clear(&st->out);
	if (lost_n > 0) {
		sink_count_lost(s, lost_n);
		log_error(
		    "sink '%s': %llu record(s) could not be sent to %s before the deadline and "
		    "are lost",
		    sink_name(s), (unsigned long long)lost_n, st->peer);
	}
	uint64_t now = now_usec();
	if (st->ops->finish != NULL) {
		int fd = take_fd(st);
		st->ops->finish(st, fd, now < end ? end - now : 0);
	}
	close_fd(st);
	st->state = ST_CLOSED;
	return lost_n;
}

void stream_free(struct sink *s)
{
	struct stream *st = of(s);
	if (st == NULL)
		return;
	if (st->ops->cancel_open != NULL && st->state == ST_OPENING && st->fd < 0)
		st->ops->cancel_open(st);
	close_fd(st);
	drop_fd_events(st);
	event_free(st->timer);
	event_free(st->confirm_ev);
	recbuf_free(&st->out);
	if (st->ops->free != NULL)
		st->ops->free(st);
	free(st->peer);
	free(st);
	*sink_state(s) = NULL;
}
