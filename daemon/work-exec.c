/*
 * work-exec.c: one process per item (SPEC `exec:`).
 *
 * Each run spawns the argv template, expanded for the item, in its own process
 * group; never through a shell. The item is written to the child's stdin when
 * `stdin: item`; stdout is captured up to max_item_bytes (more kills the child and
 * fails the item: a flood never grows memory); the last bytes of stderr are kept
 * for the error message. A run completes when the child has been reaped and both
 * pipes are at EOF, in whatever order those happen.
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
#include "envcheck.h"
#include "log.h"
#include "scope.h"
#include "stage.h"
#include "template.h"
#include "util.h"

struct exec_stage {
	const struct conf_stage *conf;
	char **envp;	 /* environ plus the stage's env; NULL when none */
	bool *argv_vars; /* which argv elements need expanding */
	bool uses_item;	 /* some element holds {} */
	uint64_t max_out;
	const uint64_t *kill_after; /* shutdown.kill_after, which a reload may change */
};

struct exec_run {
	struct stage_slot *slot;
	struct exec_stage *es;
	struct child *child;
	struct event *in_ev, *out_ev, *err_ev, *linger;
	int in_fd, out_fd, err_fd;
	size_t in_off;
	char *out;
	size_t out_len, out_cap;
	struct child_tail err;
	bool exited, overflow, done;
	bool stream;  /* stdout: lines, unordered: pass lines on as they come */
	bool blocked; /* streaming, and the stage's output queue is full */
	int status;
};

static int exec_init(struct stage *st, void **state, char *err, size_t errlen)
{
	const struct conf_stage *cs = stage_conf(st);
	struct exec_stage *es = xcalloc(1, sizeof(*es));
	es->conf = cs;
	es->max_out = scope_conf(stage_scope(st))->max_item_bytes;
	es->kill_after = &scope_conf(stage_scope(st))->shutdown.kill_after;
	es->argv_vars = xcalloc(cs->argc, sizeof(bool));
	for (size_t i = 0; i < cs->argc; i++) {
		es->argv_vars[i] = template_has_vars(cs->argv[i]);
		es->uses_item |= template_uses_item(cs->argv[i]);
	}
	es->envp = child_env_merge(cs->env, cs->n_env);
	*state = es;
	return 0;
}

static void exec_free(void *state)
{
	struct exec_stage *es = state;
	if (es == NULL)
		return;
	child_env_free(es->envp);
	free(es->argv_vars);
	free(es);
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

static void run_free(struct exec_run *r)
{
	close_stream(&r->in_ev, &r->in_fd);
	close_stream(&r->out_ev, &r->out_fd);
	close_stream(&r->err_ev, &r->err_fd);
	if (r->linger != NULL)
		event_free(r->linger);
	if (r->child != NULL)
		child_forget(r->child);
	free(r->out);
	free(r);
}

static void run_fail(struct exec_run *r, enum failure_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Builds the failure record for this run and reports it. */
static void run_fail(struct exec_run *r, enum failure_kind kind, const char *fmt, ...)
{
	struct failure f = {.kind = kind, .exit_status = -1};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f.message, sizeof(f.message), fmt, ap);
	va_end(ap);
	if (r->exited && WIFEXITED(r->status))
		f.exit_status = WEXITSTATUS(r->status);
	if (r->exited && WIFSIGNALED(r->status))
		f.signal = WTERMSIG(r->status);
	child_tail_copy(&r->err, f.stderr_tail, sizeof(f.stderr_tail));
	struct stage_slot *slot = r->slot;
	*stage_slot_work(slot) = NULL;
	run_free(r);
	stage_slot_done(slot, NULL, &f);
}

static struct item *split_lines(const struct item *parent, const char *buf, size_t len)
{
	struct item *head = NULL, **tailp = &head;
	size_t start = 0;
	while (start < len) {
		const char *nl = memchr(buf + start, '\n', len - start);
		size_t end = nl != NULL ? (size_t)(nl - buf) : len;
		*tailp = item_derive(parent, buf + start, end - start);
		tailp = &(*tailp)->next;
		start = end + 1;
	}
	return head;
}

static void run_maybe_complete(struct exec_run *r)
{
	char desc[96];
	if (!r->exited || r->out_fd >= 0 || r->err_fd >= 0)
		return;
	const struct conf_stage *cs = r->es->conf;
	const char *cmd = cs->argv[0];
	if (r->overflow) {
		run_fail(r, FAIL_OUTPUT_TOO_LARGE,
			 "'%s' wrote more than max_item_bytes (%llu) to stdout", cmd,
			 (unsigned long long)r->es->max_out);
		return;
	}
	if (WIFSIGNALED(r->status)) {
		run_fail(r, FAIL_SIGNAL, "'%s' %s", cmd,
			 child_status_str(r->status, desc, sizeof(desc)));
		return;
	}
	if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 0) {
		run_fail(r, FAIL_EXIT, "'%s' %s", cmd,
			 child_status_str(r->status, desc, sizeof(desc)));
		return;
	}

	struct stage_slot *slot = r->slot;
	struct item *in = stage_slot_item(slot);
	struct item *outputs = NULL;
	switch (cs->stdout_mode) {
	case EXEC_STDOUT_RESULT: {
		size_t n = r->out_len;
		if (n > 0 && r->out[n - 1] == '\n')
			n--;
		outputs = item_derive(in, r->out, n);
		break;
	}
	case EXEC_STDOUT_LINES:
		/* Streamed lines are already on their way; buffered ones go now. */
		outputs = r->stream ? NULL : split_lines(in, r->out, r->out_len);
		break;
	case EXEC_STDOUT_DISCARD:
		break;
	case EXEC_STDOUT_ITEM:
		outputs = stage_slot_take_item(slot);
		break;
	}
	*stage_slot_work(slot) = NULL;
	run_free(r);
	stage_slot_done(slot, outputs, NULL);
}

/*
 * Streaming: passes on every complete line in the buffer (all of it at EOF).
 * Returns false when the stage said to stop: reading waits for output_ready.
 */
static bool stream_lines(struct exec_run *r, bool eof)
{
	size_t start = 0;
	bool more = true;
	while (more && start < r->out_len) {
		char *nl = memchr(r->out + start, '\n', r->out_len - start);
		if (nl == NULL && !eof)
			break;
		size_t end = nl != NULL ? (size_t)(nl - r->out) : r->out_len;
		struct item *it =
		    item_derive(stage_slot_item(r->slot), r->out + start, end - start);
		start = nl != NULL ? end + 1 : end;
		more = stage_slot_emit(r->slot, it);
	}
	memmove(r->out, r->out + start, r->out_len - start);
	r->out_len -= start;
	r->blocked = !more;
	if (r->blocked && r->out_ev != NULL)
		event_del(r->out_ev);
	return more;
}

static void out_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_run *r = arg;
	if (r->stream && r->blocked)
		return;
	for (;;) {
		if (r->out_cap - r->out_len < 4096) {
			size_t cap = r->out_cap ? r->out_cap * 2 : 16384;
			r->out = xrealloc(r->out, cap);
			r->out_cap = cap;
		}
		ssize_t n = read(fd, r->out + r->out_len, r->out_cap - r->out_len);
		if (n > 0) {
			r->out_len += (size_t)n;
			/* Streaming, the limit is per line: what is left after the complete ones.
			 */
			if (r->stream && !stream_lines(r, false))
				return;
			if (r->out_len > r->es->max_out) {
				/* A flood: stop it now rather than buffer it. */
				r->overflow = true;
				r->out_len = 0;
				close_stream(&r->out_ev, &r->out_fd);
				if (!r->exited)
					child_terminate(r->child, *r->es->kill_after);
				break;
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (r->stream && !r->overflow)
			stream_lines(r, true);	      /* a last line without its newline */
		close_stream(&r->out_ev, &r->out_fd); /* EOF or error */
		break;
	}
	run_maybe_complete(r);
}

static void exec_output_ready(struct stage_slot *slot)
{
	struct exec_run *r = *stage_slot_work(slot);
	if (r == NULL || !r->blocked)
		return;
	r->blocked = false;
	if (!stream_lines(r, false))
		return;
	if (r->out_ev != NULL)
		event_add(r->out_ev, NULL);
}

static void err_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_run *r = arg;
	char buf[4096];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			child_tail_add(&r->err, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close_stream(&r->err_ev, &r->err_fd);
		break;
	}
	run_maybe_complete(r);
}

static void in_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_run *r = arg;
	const struct item *it = stage_slot_item(r->slot);
	/* The item, then its newline, as one record. */
	while (r->in_off <= it->len) {
		const char *p = r->in_off < it->len ? it->data + r->in_off : "\n";
		size_t n = r->in_off < it->len ? it->len - r->in_off : 1;
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return;
		if (w < 0)
			break; /* EPIPE: the command does not read its stdin; not our failure */
		r->in_off += (size_t)w;
	}
	close_stream(&r->in_ev, &r->in_fd);
}

static void linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_run *r = arg;
	if (r->blocked) {
		/* Not abandoned: we stopped reading (backpressure). Look again later. */
		struct timeval tv = {2, 0};
		evtimer_add(r->linger, &tv);
		return;
	}
	/* Something outside the process group still holds the pipes open. */
	close_stream(&r->out_ev, &r->out_fd);
	close_stream(&r->err_ev, &r->err_fd);
	run_maybe_complete(r);
}

static void run_exit_cb(struct child *c, int status, void *arg)
{
	struct exec_run *r = arg;
	r->child = NULL;
	r->exited = true;
	r->status = status;
	close_stream(&r->in_ev, &r->in_fd);
	if (r->out_fd >= 0 || r->err_fd >= 0) {
		struct timeval tv = {2, 0};
		r->linger = evtimer_new(scope_base(stage_slot_scope(r->slot)), linger_cb, r);
		evtimer_add(r->linger, &tv);
	}
	run_maybe_complete(r);
}

static void exec_start(struct stage_slot *slot)
{
	struct exec_stage *es = stage_slot_state(slot);
	const struct conf_stage *cs = es->conf;
	struct scope *sc = stage_slot_scope(slot);
	struct item *it = stage_slot_item(slot);
	struct exec_run *r = xcalloc(1, sizeof(*r));
	char *argv_buf[64];
	char **argv =
	    cs->argc < ARRAY_LEN(argv_buf) ? argv_buf : xcalloc(cs->argc + 1, sizeof(char *));
	struct child_io io;
	int err = 0;

	r->slot = slot;
	r->es = es;
	r->stream = cs->stdout_mode == EXEC_STDOUT_LINES && !stage_slot_ordered(slot);
	r->in_fd = r->out_fd = r->err_fd = -1;
	*stage_slot_work(slot) = r;

	if (es->uses_item && memchr(it->data, '\0', it->len) != NULL) {
		if (argv != argv_buf)
			free(argv);
		run_fail(r, FAIL_SPAWN,
			 "item holds a NUL byte, which cannot be passed in argv to '%s'",
			 cs->argv[0]);
		return;
	}
	struct template_vars vars = {it->data, it->len, it->seq, scope_source_name(sc, it->source)};
	for (size_t i = 0; i < cs->argc; i++)
		argv[i] =
		    es->argv_vars[i] ? template_expand(cs->argv[i], &vars, NULL) : cs->argv[i];
	argv[cs->argc] = NULL;

	struct child_args a = {
	    .argv = argv,
	    .envp = es->envp,
	    .cwd = cs->cwd,
	    .in = cs->stdin_mode == EXEC_STDIN_ITEM ? CHILD_PIPE : CHILD_NULL,
	    .out = cs->stdout_mode == EXEC_STDOUT_DISCARD || cs->stdout_mode == EXEC_STDOUT_ITEM
		       ? CHILD_NULL
		       : CHILD_PIPE,
	    .err = CHILD_PIPE,
	};
	r->child = child_spawn(&a, run_exit_cb, r, &io, &err);
	for (size_t i = 0; i < cs->argc; i++)
		if (es->argv_vars[i])
			free(argv[i]);
	if (argv != argv_buf)
		free(argv);
	if (r->child == NULL) {
		if (cs->cwd != NULL && access(cs->cwd, X_OK) != 0)
			run_fail(r, FAIL_SPAWN, "cannot run '%s' in cwd '%s': %s", cs->argv[0],
				 cs->cwd, strerror(errno));
		else
			run_fail(r, FAIL_SPAWN, "cannot run '%s': %s", cs->argv[0], strerror(err));
		return;
	}

	struct event_base *base = scope_base(sc);
	r->in_fd = io.in;
	r->out_fd = io.out;
	r->err_fd = io.err;
	if (r->out_fd >= 0) {
		r->out_ev = event_new(base, r->out_fd, EV_READ | EV_PERSIST, out_read_cb, r);
		event_add(r->out_ev, NULL);
	}
	if (r->err_fd >= 0) {
		r->err_ev = event_new(base, r->err_fd, EV_READ | EV_PERSIST, err_read_cb, r);
		event_add(r->err_ev, NULL);
	}
	if (r->in_fd >= 0) {
		r->in_ev = event_new(base, r->in_fd, EV_WRITE | EV_PERSIST, in_write_cb, r);
		event_add(r->in_ev, NULL);
	}
}

static void exec_cancel(struct stage_slot *slot)
{
	struct exec_run *r = *stage_slot_work(slot);
	if (r != NULL && r->child != NULL)
		child_terminate(r->child, *r->es->kill_after);
}

static const char *const exec_stdin_names[] = {"none", "item", NULL};
static const char *const exec_stdout_names[] = {"result", "lines", "discard", "item", NULL};

static const struct conf_key exec_keys[] = {
    {"argv", CT_ARGV, .off = CONF_STG(argv), .aux = CONF_STG(argc), .kinds = CONF_ALL_KINDS,
     .required = CONF_ALL_KINDS,
     .doc = "The command, with placeholders; never run through a shell."},
    {"stdin", CT_ENUM, .off = CONF_STG(stdin_mode), .def = "none", .values = exec_stdin_names,
     .kinds = CONF_ALL_KINDS, .doc = "none, or item: the item and a newline on standard input."},
    {"stdout", CT_ENUM, .off = CONF_STG(stdout_mode), .def = "result", .values = exec_stdout_names,
     .kinds = CONF_ALL_KINDS,
     .doc = "result, lines (an item per line), discard, or item (passed on)."},
    {"env", CT_ENV, .off = CONF_STG(env), .aux = CONF_STG(n_env), .kinds = CONF_ALL_KINDS,
     .doc = "Added to the daemon's environment."},
    {"cwd", CT_STR, CF_NONEMPTY, .off = CONF_STG(cwd), .kinds = CONF_ALL_KINDS,
     .doc = "The working directory."},
};
static const struct conf_table exec_table = {.noun = "exec",
					     .keys = exec_keys,
					     .n = ARRAY_LEN(exec_keys),
					     .doc =
						 "One process per item, in its own process group."};

static const struct conf_key exec_block_row = {
    "exec", CT_BLOCK, .sub = &exec_table, .doc = "One process per item, never through a shell."};

/* exec and coprocess stages: the command resolves, the working directory is there. */
void work_exec_envcheck(struct envcheck *ck, const char *owner, const void *entry)
{
	const struct conf_stage *st = entry;
	if (st->cwd != NULL)
		envcheck_dir(ck, owner, "cwd", st->cwd, &st->cwd, st->pos, X_OK);
	envcheck_program(ck, owner, st->argv, &st->argv, st->pos, st->cwd);
}

const struct worker_kind work_exec = {
    .conf = {.name = "exec", CONF_ROWS(&exec_block_row), .envcheck = work_exec_envcheck},
    .init = exec_init,
    .free = exec_free,
    .start = exec_start,
    .cancel = exec_cancel,
    .output_ready = exec_output_ready,
};
