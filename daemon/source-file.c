/*
 * source-file.c: the file and stdin sources. A file is opened before the pipeline
 * starts, so a missing input fails the start (exit 66) rather than the job. With
 * `follow: true`, EOF is not the end: the file is polled for growth, truncation
 * (read again from the start) and rotation (the old file is read to its end, then
 * the new one at the path is opened), as `tail -F` does.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envcheck.h"
#include "log.h"
#include "scope.h"
#include "source.h"
#include "util.h"

#define FOLLOW_POLL_USEC 250000

struct file_state {
	struct event *poll;
};

static int file_open(struct source *s, char *err, size_t errlen)
{
	const struct conf_source *cs = source_conf(s);
	int fd = open(cs->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "source '%s': cannot open '%s': %s", cs->name, cs->path,
			 strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "source '%s': cannot read '%s': it is a directory", cs->name,
			 cs->path);
		close(fd);
		return -1;
	}
	source_fd_attach(s, fd);
	return 0;
}

static void file_finish(struct source *s)
{
	struct file_state *fs = *source_state(s);
	if (fs != NULL && fs->poll != NULL)
		evtimer_del(fs->poll);
	source_fd_flush_close(s);
	source_end(s);
}

static void follow_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	source_fd_start(arg);
}

static void file_eof(struct source *s)
{
	const struct conf_source *cs = source_conf(s);
	struct file_state *fs = *source_state(s);
	struct stat cur, at_path;
	int fd = source_fd(s);

	if (!cs->follow || source_stopping(s)) {
		file_finish(s);
		return;
	}
	if (fstat(fd, &cur) == 0 && stat(cs->path, &at_path) == 0 &&
	    (cur.st_ino != at_path.st_ino || cur.st_dev != at_path.st_dev)) {
		int nfd = open(cs->path, O_RDONLY | O_CLOEXEC);
		if (nfd >= 0) {
			log_info("source '%s': '%s' was rotated; reading the new file", cs->name,
				 cs->path);
			source_fd_reset(s, nfd);
			return;
		}
	} else if (fstat(fd, &cur) == 0 && cur.st_size < lseek(fd, 0, SEEK_CUR)) {
		log_info("source '%s': '%s' was truncated; reading it from the start", cs->name,
			 cs->path);
		lseek(fd, 0, SEEK_SET);
		source_fd_start(s);
		return;
	}
	if (fs == NULL) {
		fs = xcalloc(1, sizeof(*fs));
		fs->poll = evtimer_new(scope_base(source_scope(s)), follow_poll_cb, s);
		*source_state(s) = fs;
	}
	struct timeval tv = {0, FOLLOW_POLL_USEC};
	evtimer_add(fs->poll, &tv);
}

static void file_free(struct source *s)
{
	struct file_state *fs = *source_state(s);
	if (fs != NULL) {
		event_free(fs->poll);
		free(fs);
	}
}

static int stdin_open(struct source *s, char *err, size_t errlen)
{
	/* Not fd 0's own description: O_NONBLOCK there would reach the shell or the
	 * pipeline that started us, whose next read of the same terminal or pipe fails. */
	source_fd_attach(s, std_private_input(STDIN_FILENO));
	return 0;
}

static bool file_finite(const struct conf_source *cs)
{
	return !cs->follow;
}

static bool always(const struct conf_source *cs)
{
	return true;
}

static const struct conf_key file_path_row = {"path",
					      CT_STR,
					      CF_NONEMPTY,
					      .off = CONF_SRC(path),
					      .required = CONF_ALL_KINDS,
					      .doc = "file: the file to read."};
static const struct conf_key file_follow_row = {
    "follow", CT_BOOL, .off = CONF_SRC(follow), .def = "false",
    .doc = "Keep reading as the file grows, surviving truncation and rotation."};

static void file_envcheck(struct envcheck *ck, const char *owner, const void *entry)
{
	const struct conf_source *s = entry;
	envcheck_readable(ck, owner, s->path, &s->path, s->pos);
}

const struct source_kind source_file = {
    .conf = {.name = "file",
	     CONF_ROWS(&file_path_row, &file_follow_row, &source_framing_row),
	     .envcheck = file_envcheck},
    .open = file_open,
    .start = source_fd_start,
    .resume = source_fd_resume,
    .stop = file_finish,
    .eof = file_eof,
    .free = file_free,
    .progress = source_fd_progress,
    .finite = file_finite,
};

const struct source_kind source_stdin = {
    .conf = {.name = "stdin", CONF_ROWS(&source_framing_row)},
    .open = stdin_open,
    .start = source_fd_start,
    .resume = source_fd_resume,
    .stop = file_finish,
    .eof = file_finish,
    .free = file_free,
    .finite = always,
};
