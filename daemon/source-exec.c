/*
 * source-exec.c: the stdout of a command, framed into records. The command is
 * started before the pipeline runs (a command that cannot start fails the start
 * with exit 66). Backpressure is the pipe itself: while the source is paused it
 * does not read, the pipe fills and the command blocks in write(2). The source
 * ends when the command has exited and its stdout is at EOF; a non-zero exit is
 * logged and makes the job exit 1. A stop terminates the command's process group.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "envcheck.h"
#include "log.h"
#include "scope.h"
#include "source.h"
#include "util.h"

struct exec_source {
	struct child *child;
	bool exited, eof;
};

static void exec_src_maybe_end(struct source *s)
{
	struct exec_source *es = *source_state(s);
	if (es->exited && es->eof)
		source_end(s);
}

static void exec_src_exit_cb(struct child *c, int status, void *arg)
{
	struct source *s = arg;
	struct exec_source *es = *source_state(s);
	char desc[96];
	es->child = NULL;
	es->exited = true;
	if (status != 0 && !source_stopping(s)) {
		log_warnx("source '%s': command '%s' %s", source_name(s), source_conf(s)->argv[0],
			  child_status_str(status, desc, sizeof(desc)));
		source_set_failed(s);
	}
	exec_src_maybe_end(s);
}

static int exec_src_open(struct source *s, char *err, size_t errlen)
{
	const struct conf_source *cs = source_conf(s);
	struct exec_source *es = xcalloc(1, sizeof(*es));
	struct child_args a = {
	    .argv = cs->argv, .in = CHILD_NULL, .out = CHILD_PIPE, .err = CHILD_INHERIT};
	struct child_io io;
	int e = 0;

	*source_state(s) = es;
	es->child = child_spawn(&a, exec_src_exit_cb, s, &io, &e);
	if (es->child == NULL) {
		snprintf(err, errlen, "source '%s': cannot run '%s': %s", cs->name, cs->argv[0],
			 strerror(e));
		return -1;
	}
	source_fd_attach(s, io.out);
	return 0;
}

static void exec_src_eof(struct source *s)
{
	struct exec_source *es = *source_state(s);
	es->eof = true;
	source_fd_flush_close(s);
	exec_src_maybe_end(s);
}

static void exec_src_stop(struct source *s)
{
	struct exec_source *es = *source_state(s);
	if (es->child != NULL) {
		child_terminate(es->child, scope_conf(source_scope(s))->shutdown.kill_after);
		child_forget(es->child);
		es->child = NULL;
	}
	source_fd_flush_close(s);
	source_end(s);
}

static void exec_src_free(struct source *s)
{
	struct exec_source *es = *source_state(s);
	if (es != NULL && es->child != NULL)
		child_forget(es->child);
	free(es);
}

static bool exec_src_finite(const struct conf_source *cs)
{
	return true;
}

static const struct conf_key exec_argv_row = {"argv",
					      CT_ARGV,
					      .off = CONF_SRC(argv),
					      .aux = CONF_SRC(argc),
					      .required = CONF_ALL_KINDS,
					      .doc = "The command whose standard output is read."};

static void exec_envcheck(struct envcheck *ck, const char *owner, const void *entry)
{
	const struct conf_source *s = entry;
	envcheck_program(ck, owner, s->argv, &s->argv, s->pos, NULL);
}

const struct source_kind source_exec = {
    .conf = {.name = "exec",
	     CONF_ROWS(&exec_argv_row, &source_framing_row),
	     .envcheck = exec_envcheck},
    .open = exec_src_open,
    .start = source_fd_start,
    .resume = source_fd_resume,
    .stop = exec_src_stop,
    .eof = exec_src_eof,
    .free = exec_src_free,
    .finite = exec_src_finite,
};
