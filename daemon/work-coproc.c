/*
 * work-coproc.c: co-process workers (SPEC `coprocess:`): one long-lived process
 * per slot, fed one item at a time (the process-pool executor, for work that is
 * expensive to start).
 *
 * Framing, both ways: `lines` sends the item and a newline and reads one line
 * back; `length` sends "<decimal length>\n<bytes>" and reads the same, for binary
 * items; `json` sends {"id":SEQ,"item":"..."} and reads one JSON object per line
 * that must echo the id, so an answer can never be taken for another item's. A process is started
 * at its slot's first item. If it dies, its in-flight item fails (and goes through retry and the
 * failure policy) and the next item starts a new one after a backoff (100ms doubling to 5s, reset
 * by a success), counted in sluice_restarts_total. A timeout kills it (process group) the same way.
 * When the stage drains, stdin is closed and the process has kill_after to exit before it is
 * terminated.
 *
 * The process is not trusted to keep to the framing: coproc-reply.c says where
 * an answer ends, stdout is never buffered past the longest valid answer, and a
 * broken answer or output nobody asked for replaces the process (coproc_discard).
 */
#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "coproc-reply.h"
#include "json.h"
#include "log.h"
#include "report.h"
#include "scope.h"
#include "stage.h"
#include "util.h"

#define RESTART_MIN_USEC 100000
#define RESTART_MAX_USEC 5000000

struct coproc_stage {
	const struct conf_stage *conf;
	struct stage *st;
	struct coproc *all; /* every coproc of the stage, for freeing */
	uint64_t max_out;
	const uint64_t *kill_after; /* shutdown.kill_after, which a reload may change */
};

struct coproc {
	struct coproc *next_all;
	struct coproc_stage *cs;
	struct stage_slot *slot;
	struct child *child;
	int in_fd, out_fd, err_fd;
	struct event *in_ev, *out_ev, *err_ev, *restart_timer, *finish_timer;
	char *req; /* the framed request being written */
	size_t req_len, req_off;
	char *resp; /* bytes read from stdout */
	size_t resp_len, resp_cap;
	struct child_tail err;
	uint64_t restart_delay;
	bool busy, finishing, spawned_once;
};

static int coproc_init(struct stage *st, void **state, char *err, size_t errlen)
{
	struct coproc_stage *cs = xcalloc(1, sizeof(*cs));
	cs->conf = stage_conf(st);
	cs->st = st;
	cs->max_out = scope_conf(stage_scope(st))->max_item_bytes;
	cs->kill_after = &scope_conf(stage_scope(st))->shutdown.kill_after;
	*state = cs;
	return 0;
}

static void close_stream(struct event **ev, int *fd)
{
	if (*ev != NULL) {
		event_free(*ev);
		*ev = NULL;
	}
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static void coproc_close_io(struct coproc *cp)
{
	close_stream(&cp->in_ev, &cp->in_fd);
	close_stream(&cp->out_ev, &cp->out_fd);
	close_stream(&cp->err_ev, &cp->err_fd);
	cp->resp_len = 0;
	free(cp->req);
	cp->req = NULL;
}

static void coproc_free_state(void *state)
{
	struct coproc_stage *cs = state;
	if (cs == NULL)
		return;
	while (cs->all != NULL) {
		struct coproc *cp = cs->all;
		cs->all = cp->next_all;
		coproc_close_io(cp);
		if (cp->child != NULL)
			child_forget(cp->child);
		if (cp->restart_timer != NULL)
			event_free(cp->restart_timer);
		if (cp->finish_timer != NULL)
			event_free(cp->finish_timer);
		free(cp->resp);
		free(cp);
	}
	free(cs);
}

static void fail_item(struct coproc *cp, enum failure_kind kind, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The in-flight item failed: report it with the process's status and stderr tail. */
static void fail_item(struct coproc *cp, enum failure_kind kind, int status, const char *fmt, ...)
{
	struct failure f = {.kind = kind, .exit_status = -1};
	va_list ap;
	if (!cp->busy)
		return;
	va_start(ap, fmt);
	vsnprintf(f.message, sizeof(f.message), fmt, ap);
	va_end(ap);
	if (status >= 0 && WIFEXITED(status))
		f.exit_status = WEXITSTATUS(status);
	if (status >= 0 && WIFSIGNALED(status))
		f.signal = WTERMSIG(status);
	child_tail_copy(&cp->err, f.stderr_tail, sizeof(f.stderr_tail));
	cp->busy = false;
	free(cp->req);
	cp->req = NULL;
	stage_slot_done(cp->slot, NULL, &f);
}

static void coproc_exit_cb(struct child *c, int status, void *arg)
{
	struct coproc *cp = arg;
	char desc[96];
	cp->child = NULL;
	coproc_close_io(cp);
	if (cp->finishing) {
		if (cp->finish_timer != NULL)
			evtimer_del(cp->finish_timer);
		cp->finishing = false;
		stage_slot_finished(cp->slot);
		return;
	}
	log_warnx("stage '%s': co-process '%s' %s; it is restarted for the next item",
		  cp->cs->conf->name, cp->cs->conf->argv[0],
		  child_status_str(status, desc, sizeof(desc)));
	stage_count_restart(cp->cs->st);
	/* A process that never answers an item (a timeout killed it) most often printed
	 * nothing for it: with `lines`, a filter that drops a line shifts every answer. */
	bool silent = cp->busy && cp->resp_len == 0;
	fail_item(cp, WIFSIGNALED(status) ? FAIL_SIGNAL : FAIL_EXIT, status, "co-process '%s' %s%s",
		  cp->cs->conf->argv[0], desc,
		  silent && cp->cs->conf->coproc_framing == COPROC_LINES
		      ? "; it had printed no line for this item (framing: lines needs exactly one "
			"line per item; framing: json cannot get out of step)"
		      : "");
}

/*
 * It broke the framing (or wrote when not asked): nothing it writes can be
 * trusted any more, so it is replaced. It is detached first, so that an item
 * started next on this slot goes to a new process, never to this one.
 */
static void coproc_discard(struct coproc *cp, const char *why)
{
	log_warnx("stage '%s': co-process '%s' (pid %d) %s; it is restarted for the next item",
		  cp->cs->conf->name, cp->cs->conf->argv[0], (int)child_pid(cp->child), why);
	child_terminate(cp->child, *cp->cs->kill_after);
	child_forget(cp->child);
	cp->child = NULL;
	coproc_close_io(cp);
	stage_count_restart(cp->cs->st);
}

/* The longest answer line: a result of max_item_bytes, each byte JSON-escaped. */
static uint64_t line_max(const struct coproc_stage *cs)
{
	if (cs->conf->coproc_framing != COPROC_JSON)
		return cs->max_out;
	return cs->max_out > (UINT64_MAX - 64) / 6 ? UINT64_MAX - COPROC_REPLY_HEAD_MAX
						   : cs->max_out * 6 + 64;
}

/* The answer to the in-flight item is bad: the process goes, the item fails. */
static void reply_broken(struct coproc *cp, const struct coproc_reply *r, bool too_large)
{
	char seen[256], why[512];
	coproc_reply_describe(cp->resp, cp->resp_len, seen, sizeof(seen));
	if (too_large)
		snprintf(why, sizeof(why), "%s (%llu); it wrote %s", r->why,
			 (unsigned long long)cp->cs->max_out, seen);
	else
		snprintf(why, sizeof(why), "%s; it wrote %s", r->why, seen);
	coproc_discard(cp, why);
	fail_item(cp, too_large ? FAIL_OUTPUT_TOO_LARGE : FAIL_IO, -1, "co-process '%s' %s",
		  cp->cs->conf->argv[0], why);
}

/*
 * framing: json: the answer line as the result (0 and *out), or the item failed
 * (-1): by the process's own {"error": ...} (it goes on), or by an answer that breaks
 * the framing or is out of step (it is replaced).
 */
static int json_answer(struct coproc *cp, struct item *in, const struct coproc_reply *r,
		       struct item **out)
{
	struct coproc_json_reply jr;
	char seen[256], why[512];
	enum coproc_json_verdict v = coproc_reply_json(cp->resp + r->start, r->len, in->seq, &jr);

	if (v == COPROC_JSON_RESULT && jr.len <= cp->cs->max_out) {
		*out = item_derive(in, jr.data, jr.len);
		free(jr.data);
		return 0;
	}
	if (v == COPROC_JSON_ERROR) {
		/* Only this item failed: the answer was in step, the process stays (unless it
		 * wrote more after it, as for any answer). */
		if (r->consumed < cp->resp_len) {
			coproc_reply_describe(cp->resp + r->consumed, cp->resp_len - r->consumed,
					      seen, sizeof(seen));
			snprintf(why, sizeof(why), "wrote %s after its answer to item %llu", seen,
				 (unsigned long long)in->seq);
			coproc_discard(cp, why);
		}
		cp->resp_len = 0;
		fail_item(cp, FAIL_ANSWERED, -1, "co-process '%s' answered an error: %.*s",
			  cp->cs->conf->argv[0], (int)(jr.len > 200 ? 200 : jr.len), jr.data);
		free(jr.data);
		return -1;
	}
	coproc_reply_describe(cp->resp, cp->resp_len, seen, sizeof(seen));
	if (v == COPROC_JSON_RESULT)
		snprintf(why, sizeof(why), "answered a result longer than max_item_bytes (%llu)",
			 (unsigned long long)cp->cs->max_out);
	else
		snprintf(why, sizeof(why), "%s; it wrote %s", jr.why, seen);
	free(jr.data);
	coproc_discard(cp, why);
	fail_item(cp, v == COPROC_JSON_RESULT ? FAIL_OUTPUT_TOO_LARGE : FAIL_IO, -1,
		  "co-process '%s' %s", cp->cs->conf->argv[0], why);
	return -1;
}

static void out_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct coproc *cp = arg;
	bool length = cp->cs->conf->coproc_framing == COPROC_LENGTH;
	/* No valid answer is longer: reading stops there, whatever the process writes. */
	size_t limit = (size_t)line_max(cp->cs) + COPROC_REPLY_HEAD_MAX;
	for (;;) {
		if (cp->resp_cap - cp->resp_len < 4096 && cp->resp_cap < limit) {
			cp->resp_cap = cp->resp_cap ? cp->resp_cap * 2 : 16384;
			if (cp->resp_cap > limit)
				cp->resp_cap = limit;
			cp->resp = xrealloc(cp->resp, cp->resp_cap);
		}
		if (cp->resp_len == cp->resp_cap)
			break;
		ssize_t n = read(fd, cp->resp + cp->resp_len, cp->resp_cap - cp->resp_len);
		if (n > 0) {
			cp->resp_len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		close_stream(&cp->out_ev, &cp->out_fd); /* EOF: the exit callback follows */
		return;
	}
	char seen[256], why[512];
	if (!cp->busy) {
		if (cp->resp_len == 0)
			return;
		if (cp->finishing) {
			/* Its stdin is closed and it is on its way out: nobody reads this. */
			cp->resp_len = 0;
			return;
		}
		coproc_reply_describe(cp->resp, cp->resp_len, seen, sizeof(seen));
		snprintf(why, sizeof(why), "wrote %s while no item was in flight", seen);
		coproc_discard(cp, why);
		return;
	}
	struct coproc_reply r;
	switch (coproc_reply_parse(cp->resp, cp->resp_len, length, line_max(cp->cs), &r)) {
	case COPROC_REPLY_MORE:
		return;
	case COPROC_REPLY_TOO_LARGE:
		reply_broken(cp, &r, true);
		return;
	case COPROC_REPLY_BAD:
		reply_broken(cp, &r, false);
		return;
	case COPROC_REPLY_OK:
		break;
	}
	struct item *in = stage_slot_item(cp->slot);
	struct item *out;
	if (cp->cs->conf->coproc_framing == COPROC_JSON) {
		if (json_answer(cp, in, &r, &out) < 0)
			return;
	} else {
		out = item_derive(in, cp->resp + r.start, r.len);
	}
	if (r.consumed < cp->resp_len) {
		/* A second answer to one request: the next item's would be misread. */
		coproc_reply_describe(cp->resp + r.consumed, cp->resp_len - r.consumed, seen,
				      sizeof(seen));
		snprintf(why, sizeof(why), "wrote %s after its answer to item %llu", seen,
			 (unsigned long long)in->seq);
		coproc_discard(cp, why);
	}
	cp->resp_len = 0;
	cp->busy = false;
	cp->restart_delay = 0;
	free(cp->req);
	cp->req = NULL;
	stage_slot_done(cp->slot, out, NULL);
}

static void err_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct coproc *cp = arg;
	char buf[4096];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			child_tail_add(&cp->err, buf, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close_stream(&cp->err_ev, &cp->err_fd);
		return;
	}
}

static void in_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct coproc *cp = arg;
	while (cp->req != NULL && cp->req_off < cp->req_len) {
		ssize_t n = write(fd, cp->req + cp->req_off, cp->req_len - cp->req_off);
		if (n > 0) {
			cp->req_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			event_add(cp->in_ev, NULL);
			return;
		}
		/* EPIPE: it is dying; the exit callback reports the item. */
		return;
	}
	free(cp->req);
	cp->req = NULL;
}

static int coproc_spawn(struct coproc *cp)
{
	const struct conf_stage *conf = cp->cs->conf;
	struct event_base *base = scope_base(stage_slot_scope(cp->slot));
	struct child_args a = {.argv = conf->argv,
			       .cwd = conf->cwd,
			       .in = CHILD_PIPE,
			       .out = CHILD_PIPE,
			       .err = CHILD_PIPE};
	struct child_io io;
	int err = 0;
	char **envp = child_env_merge(conf->env, conf->n_env);

	a.envp = envp;
	cp->child = child_spawn(&a, coproc_exit_cb, cp, &io, &err);
	child_env_free(envp);
	if (cp->child == NULL)
		return err;
	if (cp->spawned_once)
		log_info("stage '%s': co-process restarted (pid %d)", conf->name,
			 (int)child_pid(cp->child));
	cp->spawned_once = true;
	cp->in_fd = io.in;
	cp->out_fd = io.out;
	cp->err_fd = io.err;
	cp->err.len = 0;
	cp->in_ev = event_new(base, cp->in_fd, EV_WRITE, in_write_cb, cp);
	cp->out_ev = event_new(base, cp->out_fd, EV_READ | EV_PERSIST, out_read_cb, cp);
	cp->err_ev = event_new(base, cp->err_fd, EV_READ | EV_PERSIST, err_read_cb, cp);
	event_add(cp->out_ev, NULL);
	event_add(cp->err_ev, NULL);
	return 0;
}

static void send_request(struct coproc *cp)
{
	const struct item *it = stage_slot_item(cp->slot);
	char head[32];
	int hl = 0;

	if (cp->child == NULL) {
		int err = coproc_spawn(cp);
		if (err != 0) {
			cp->restart_delay =
			    cp->restart_delay ? cp->restart_delay * 2 : RESTART_MIN_USEC;
			if (cp->restart_delay > RESTART_MAX_USEC)
				cp->restart_delay = RESTART_MAX_USEC;
			fail_item(cp, FAIL_SPAWN, -1, "cannot run co-process '%s': %s",
				  cp->cs->conf->argv[0], strerror(err));
			return;
		}
	}
	if (cp->cs->conf->coproc_framing == COPROC_JSON) {
		char *esc = json_escape_bytes(it->data, it->len);
		cp->req =
		    xasprintf("{\"id\":%llu,\"item\":\"%s\"}\n", (unsigned long long)it->seq, esc);
		cp->req_len = strlen(cp->req);
		free(esc);
		cp->req_off = 0;
		in_write_cb(cp->in_fd, EV_WRITE, cp);
		return;
	}
	if (cp->cs->conf->coproc_framing == COPROC_LENGTH)
		hl = snprintf(head, sizeof(head), "%zu\n", it->len);
	cp->req_len = (size_t)hl + it->len + (cp->cs->conf->coproc_framing == COPROC_LINES);
	cp->req = xmalloc(cp->req_len);
	memcpy(cp->req, head, (size_t)hl);
	memcpy(cp->req + hl, it->data, it->len);
	if (cp->cs->conf->coproc_framing == COPROC_LINES)
		cp->req[cp->req_len - 1] = '\n';
	cp->req_off = 0;
	in_write_cb(cp->in_fd, EV_WRITE, cp);
}

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
	struct coproc *cp = arg;
	if (cp->busy)
		send_request(cp);
}

static void coproc_start(struct stage_slot *slot)
{
	struct coproc_stage *cs = stage_slot_state(slot);
	struct coproc *cp = *stage_slot_work(slot);

	if (cp == NULL) {
		cp = xcalloc(1, sizeof(*cp));
		cp->cs = cs;
		cp->slot = slot;
		cp->in_fd = cp->out_fd = cp->err_fd = -1;
		cp->next_all = cs->all;
		cs->all = cp;
		cp->restart_timer = evtimer_new(scope_base(stage_slot_scope(slot)), restart_cb, cp);
		*stage_slot_work(slot) = cp;
	}
	const struct item *it = stage_slot_item(slot);
	if (cs->conf->coproc_framing == COPROC_LINES && memchr(it->data, '\n', it->len) != NULL) {
		cp->busy = true;
		fail_item(cp, FAIL_IO, -1,
			  "item holds a newline, which `framing: lines` cannot send; use `framing: "
			  "length`");
		return;
	}
	cp->busy = true;
	if (cp->child == NULL && cp->restart_delay > 0) {
		/* It died recently: wait before starting another (a cancellation point). */
		struct timeval tv = {(time_t)(cp->restart_delay / 1000000),
				     (suseconds_t)(cp->restart_delay % 1000000)};
		evtimer_add(cp->restart_timer, &tv);
		return;
	}
	if (cp->child == NULL && cp->spawned_once)
		cp->restart_delay = RESTART_MIN_USEC;
	send_request(cp);
}

static void coproc_cancel(struct stage_slot *slot)
{
	struct coproc *cp = *stage_slot_work(slot);
	if (cp == NULL)
		return;
	if (evtimer_pending(cp->restart_timer, NULL)) {
		evtimer_del(cp->restart_timer);
		fail_item(cp, FAIL_SPAWN, -1, "cancelled while waiting to restart the co-process");
		return;
	}
	if (cp->child != NULL)
		child_terminate(cp->child, *cp->cs->kill_after);
}

static void finish_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct coproc *cp = arg;
	log_warnx("stage '%s': co-process did not exit within kill_after of its stdin closing; "
		  "terminating it",
		  cp->cs->conf->name);
	if (cp->child != NULL)
		child_terminate(cp->child, *cp->cs->kill_after);
}

static bool coproc_finish(struct stage_slot *slot)
{
	struct coproc *cp = *stage_slot_work(slot);
	if (cp == NULL || cp->child == NULL)
		return false;
	cp->finishing = true;
	/* EOF on stdin is the co-process's signal to finish. */
	close_stream(&cp->in_ev, &cp->in_fd);
	if (cp->finish_timer == NULL)
		cp->finish_timer =
		    evtimer_new(scope_base(stage_slot_scope(slot)), finish_timer_cb, cp);
	struct timeval tv = {(time_t)(*cp->cs->kill_after / 1000000),
			     (suseconds_t)(*cp->cs->kill_after % 1000000)};
	evtimer_add(cp->finish_timer, &tv);
	return true;
}

static const char *const coproc_framing_names[] = {"lines", "length", "json", NULL};

static const struct conf_key coproc_keys[] = {
    {"argv", CT_ARGV, .off = CONF_STG(argv), .aux = CONF_STG(argc), .kinds = CONF_ALL_KINDS,
     .required = CONF_ALL_KINDS, .doc = "The command of the long-lived process."},
    {"framing", CT_ENUM, .off = CONF_STG(coproc_framing), .def = "lines",
     .values = coproc_framing_names, .kinds = CONF_ALL_KINDS,
     .doc = "lines, length (binary items) or json (answers carry the item's id)."},
    {"env", CT_ENV, .off = CONF_STG(env), .aux = CONF_STG(n_env), .kinds = CONF_ALL_KINDS,
     .doc = "Added to the daemon's environment."},
    {"cwd", CT_STR, CF_NONEMPTY, .off = CONF_STG(cwd), .kinds = CONF_ALL_KINDS,
     .doc = "The working directory."},
};
static const struct conf_table coproc_table = {
    .noun = "coprocess",
    .keys = coproc_keys,
    .n = ARRAY_LEN(coproc_keys),
    .doc = "One long-lived process per worker, fed one item at a time."};

static const struct conf_key coproc_block_row = {"coprocess", CT_BLOCK, .sub = &coproc_table,
						 .doc = "One long-lived process per worker."};

const struct worker_kind work_coproc = {
    .conf = {.name = "coprocess", CONF_ROWS(&coproc_block_row), .envcheck = work_exec_envcheck},
    .init = coproc_init,
    .free = coproc_free_state,
    .start = coproc_start,
    .cancel = coproc_cancel,
    .finish = coproc_finish,
};
