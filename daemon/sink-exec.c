/*
 * sink-exec.c: the exec sink, on the stream engine (sink-stream.h). One
 * long-lived command (argv, never a shell; its own process group) reads the
 * records on its stdin; its stdout and stderr are the daemon's.
 *
 * If it exits, or closes its stdin, while records are still coming, it is
 * restarted after a jittered exponential backoff (reset once a new one has
 * taken records), and every record it had not read (what is still in the pipe:
 * FIONREAD) is written again, whole, to the new one. A record it had read but
 * not acted on when it died is not resent: that is the command's side of the
 * bargain. At the end of the input its stdin is closed and the sink is
 * finished when it exits (a non-zero exit then is logged); at a cancel it has
 * kill_after to exit after EOF.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "envcheck.h"
#include "log.h"
#include "scope.h"
#include "sink-stream.h"
#include "util.h"

struct exec_sink {
	struct stream *st;
	struct child *child;
	int spawn_err; /* of the last failed start, 0 if none */
	bool draining; /* its stdin was closed on purpose */
};

static void exec_exit_cb(struct child *c, int status, void *arg)
{
	struct exec_sink *es = arg;
	char desc[96], why[160];
	const char *prog = sink_conf(stream_sink(es->st))->argv[0];
	if (c != es->child)
		return;
	es->child = NULL;
	child_status_str(status, desc, sizeof(desc));
	if (es->draining) {
		if (status != 0)
			log_warnx("sink '%s': command '%s' %s after the end of its input",
				  sink_name(stream_sink(es->st)), prog, desc);
		stream_set_drained(es->st);
		return;
	}
	snprintf(why, sizeof(why), "the command %s", desc);
	stream_lost(es->st, why);
}

static void exec_open(struct stream *st)
{
	struct exec_sink *es = stream_kind(st);
	const struct conf_sink *cs = sink_conf(stream_sink(st));
	struct child_args a = {
	    .argv = cs->argv, .in = CHILD_PIPE, .out = CHILD_INHERIT, .err = CHILD_INHERIT};
	struct child_io io;
	int e = 0;

	es->draining = false;
	es->child = child_spawn(&a, exec_exit_cb, es, &io, &e);
	es->spawn_err = es->child == NULL ? e : 0;
	if (es->child == NULL) {
		stream_open_failed(st, e, NULL);
		return;
	}
	stream_opened(st, io.in, false);
}

static uint64_t exec_unconsumed(struct stream *st, int fd)
{
	int n = 0;
	/* On a pipe FIONREAD works from either end: what the reader has not read. */
	if (ioctl(fd, FIONREAD, &n) < 0 || n < 0)
		return 0;
	return (uint64_t)n;
}

static void exec_closed(struct stream *st, int fd)
{
	struct exec_sink *es = stream_kind(st);
	close(fd);
	/* A command that closed its stdin but runs on must not meet its successor. */
	if (es->child != NULL) {
		child_terminate(es->child,
				scope_conf(sink_scope(stream_sink(st)))->shutdown.kill_after);
		child_forget(es->child);
		es->child = NULL;
	}
}

static bool exec_drain(struct stream *st, int fd)
{
	struct exec_sink *es = stream_kind(st);
	es->draining = true;
	close(fd);
	return es->child == NULL;
}

static void exec_finish(struct stream *st, int fd, uint64_t timeout_usec)
{
	struct exec_sink *es = stream_kind(st);
	struct child *c = es->child;
	es->draining = true;
	if (fd >= 0)
		close(fd);
	if (c == NULL)
		return;
	/* After the loop: its input is over; it has the rest of kill_after to finish. */
	es->child = NULL;
	child_forget(c);
	if (!child_wait(c, timeout_usec))
		log_warnx(
		    "sink '%s': command '%s' did not exit within kill_after of the end of its "
		    "input; it is killed",
		    sink_name(stream_sink(st)), sink_conf(stream_sink(st))->argv[0]);
}

static void exec_free(struct stream *st)
{
	struct exec_sink *es = stream_kind(st);
	if (es->child != NULL)
		child_forget(es->child);
	free(es);
}

static const struct stream_ops exec_ops = {
    .verb = "run",
    .confirm_at_loss = true,
    .open = exec_open,
    .unconsumed = exec_unconsumed,
    .closed = exec_closed,
    .drain = exec_drain,
    .finish = exec_finish,
    .free = exec_free,
};

static int exec_sink_open(struct sink *s, char *err, size_t errlen)
{
	const struct conf_sink *cs = sink_conf(s);
	struct exec_sink *es = xcalloc(1, sizeof(*es));
	char peer[300];
	snprintf(peer, sizeof(peer), "the command '%s'", cs->argv[0]);
	es->st = stream_new(s, &exec_ops, es, peer);
	/* A command that cannot start at all is a mistake in the file: fail the start. */
	if (es->spawn_err != 0) {
		snprintf(err, errlen, "sink '%s': cannot run '%s': %s", cs->name, cs->argv[0],
			 strerror(es->spawn_err));
		return -1;
	}
	return 0;
}

static const struct conf_key exec_argv_row = {
    "argv",
    CT_ARGV,
    .off = CONF_SNK(argv),
    .aux = CONF_SNK(argc),
    .required = CONF_ALL_KINDS,
    .doc = "The command whose standard input takes the results."};

static void exec_envcheck(struct envcheck *ck, const char *owner, const void *entry)
{
	const struct conf_sink *s = entry;
	envcheck_program(ck, owner, s->argv, &s->argv, s->pos, NULL);
}

const struct sink_kind sink_exec = STREAM_SINK_KIND(
    exec_sink_open, .name = "exec",
    CONF_ROWS(&exec_argv_row, &sink_backoff_row, &sink_max_backoff_row), .envcheck = exec_envcheck);
