/*
 * statesync.c: state files made durable off the loop (see statesync.h).
 *
 * Each object has at most one bio job in flight, so its syncs or replacements run
 * in order and never overlap; the job reads only what was fixed before it was
 * submitted (the fd, the text, the constant paths). What arrives meanwhile waits
 * in the object (a dup of the fd last written, the newest text) for the job's
 * done(), which starts the next one (always, a value) or arms the window (batch).
 */
#include "statesync.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bio.h"
#include "log.h"
#include "util.h"

static char *dir_of(const char *path)
{
	char *copy = xstrdup(path);
	char *dir = xstrdup(dirname(copy));
	free(copy);
	return dir;
}

/* fsync of a directory, so a rename in it survives a power cut. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* --- an appended file ------------------------------------------------------------ */

struct file_sync {
	struct event *window; /* batch: the end of the window; NULL once freed */
	enum fsync_mode mode;
	char *path, *dir;
	int fd;		/* a dup of what was written since the last sync began; -1: none */
	bool dir_dirty; /* a rename since the last sync began */
	bool inflight;	/* job is on the bio pool */
	bool job_dir;	/* the job syncs the directory too */
	bool freed;	/* the owner is gone: finish the syncs, then free */
	bool warned;	/* the last sync failed (warned once per episode) */
	struct bio_job job;
};

static void file_sync_destroy(struct file_sync *f)
{
	free(f->path);
	free(f->dir);
	free(f);
}

static void file_sync_work(struct bio_job *j)
{
	struct file_sync *f = j->arg;
	j->result = fdatasync(j->fd);
	if (j->result == 0 && f->job_dir)
		j->result = sync_dir(f->dir);
	j->err = j->result < 0 ? errno : 0;
	close(j->fd);
}

static void file_sync_start(struct file_sync *f);

static void file_sync_done(struct bio_job *j)
{
	struct file_sync *f = j->arg;
	f->inflight = false;
	if (j->result < 0 && !f->warned)
		log_warnx("cannot sync '%s': %s (tried again at its next write)", f->path,
			  strerror(j->err));
	f->warned = j->result < 0;
	if (f->freed) {
		if (f->fd >= 0)
			file_sync_start(f);
		else
			file_sync_destroy(f);
		return;
	}
	if (f->fd < 0)
		return;
	if (f->mode == FSYNC_ALWAYS) {
		file_sync_start(f);
	} else if (!event_pending(f->window, EV_TIMEOUT, NULL)) {
		struct timeval tv = {0, FSYNC_BATCH_WINDOW_USEC};
		evtimer_add(f->window, &tv);
	}
}

/* Hands what was written to the bio pool; f may be gone on return (no pool, freed). */
static void file_sync_start(struct file_sync *f)
{
	if (f->inflight || f->fd < 0)
		return;
	f->inflight = true;
	f->job_dir = f->dir_dirty;
	f->dir_dirty = false;
	f->job =
	    (struct bio_job){.work = file_sync_work, .done = file_sync_done, .arg = f, .fd = f->fd};
	f->fd = -1;
	bio_submit(&f->job);
}

static void window_cb(evutil_socket_t fd, short what, void *arg)
{
	file_sync_start(arg);
}

struct file_sync *file_sync_new(struct event_base *base, enum fsync_mode mode, const char *path)
{
	struct file_sync *f = xcalloc(1, sizeof(*f));
	f->mode = mode;
	f->path = xstrdup(path);
	f->dir = dir_of(path);
	f->fd = -1;
	f->window = evtimer_new(base, window_cb, f);
	return f;
}

void file_sync_written(struct file_sync *f, int fd, bool renamed)
{
	if (f->mode == FSYNC_NEVER)
		return;
	/* The newest file: a rename may have replaced the one written before. */
	if (f->fd >= 0)
		close(f->fd);
	f->fd = dup(fd);
	if (f->fd < 0) {
		log_warn("cannot sync '%s'", f->path);
		return;
	}
	f->dir_dirty |= renamed;
	if (f->inflight)
		return; /* its done() starts the next */
	if (f->mode == FSYNC_ALWAYS) {
		file_sync_start(f);
	} else if (!event_pending(f->window, EV_TIMEOUT, NULL)) {
		struct timeval tv = {0, FSYNC_BATCH_WINDOW_USEC};
		evtimer_add(f->window, &tv);
	}
}

void file_sync_free(struct file_sync *f)
{
	if (f == NULL)
		return;
	event_free(f->window);
	f->window = NULL;
	f->freed = true;
	if (f->inflight)
		return; /* its done() finishes */
	if (f->fd >= 0)
		file_sync_start(f);
	else
		file_sync_destroy(f);
}

/* --- a value file ----------------------------------------------------------------- */

struct value_file {
	enum fsync_mode mode;
	char *path, *tmp, *dir;
	char *next;    /* the newest text not yet handed to a job */
	char *writing; /* the job's text */
	bool inflight, freed, warned;
	struct bio_job job;
};

static void value_file_destroy(struct value_file *v)
{
	free(v->path);
	free(v->tmp);
	free(v->dir);
	free(v->next);
	free(v);
}

static void value_file_work(struct bio_job *j)
{
	struct value_file *v = j->arg;
	size_t len = strlen(v->writing);
	bool sync = v->mode != FSYNC_NEVER;
	errno = 0;
	int fd = open(v->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok =
	    fd >= 0 && write(fd, v->writing, len) == (ssize_t)len && (!sync || fsync(fd) == 0);
	int e = errno;
	if (fd >= 0 && close(fd) < 0 && ok) {
		ok = false;
		e = errno;
	}
	if (ok && rename(v->tmp, v->path) < 0) {
		ok = false;
		e = errno;
	}
	/* The rename is the new value: made durable with the directory. */
	if (ok && sync && sync_dir(v->dir) < 0) {
		ok = false;
		e = errno;
	}
	j->result = ok ? 0 : -1;
	j->err = ok ? 0 : (e ? e : ENOSPC);
}

static void value_file_start(struct value_file *v);

static void value_file_done(struct bio_job *j)
{
	struct value_file *v = j->arg;
	v->inflight = false;
	free(v->writing);
	v->writing = NULL;
	if (j->result < 0 && !v->warned)
		log_warnx("cannot write '%s': %s (the old value stays)", v->path, strerror(j->err));
	v->warned = j->result < 0;
	if (v->next != NULL)
		value_file_start(v);
	else if (v->freed)
		value_file_destroy(v);
}

/* v may be gone on return (no pool, freed). */
static void value_file_start(struct value_file *v)
{
	if (v->inflight || v->next == NULL)
		return;
	v->inflight = true;
	v->writing = v->next;
	v->next = NULL;
	v->job = (struct bio_job){.work = value_file_work, .done = value_file_done, .arg = v};
	bio_submit(&v->job);
}

struct value_file *value_file_new(enum fsync_mode mode, const char *path)
{
	struct value_file *v = xcalloc(1, sizeof(*v));
	v->mode = mode;
	v->path = xstrdup(path);
	v->tmp = xasprintf("%s.tmp", path);
	v->dir = dir_of(path);
	return v;
}

void value_file_set(struct value_file *v, const char *text)
{
	free(v->next);
	v->next = xstrdup(text);
	value_file_start(v);
}

void value_file_free(struct value_file *v)
{
	if (v == NULL)
		return;
	v->freed = true;
	if (!v->inflight && v->next == NULL)
		value_file_destroy(v);
	/* else the job in flight (or the one value_file_set started) finishes and frees */
}
