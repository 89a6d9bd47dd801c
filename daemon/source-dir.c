/*
 * source-dir.c: the dir source, a spool directory. Each regular file placed in
 * it (best written elsewhere and renamed in, as maildir does; a file written in
 * place is taken when its writer closes it) is one item (less one trailing
 * newline, as a line is), or, with `split: lines` (or nul), one item per record.
 * Dotfiles and subdirectories are ignored.
 *
 * Files are noticed by inotify (IN_MOVED_TO, IN_CLOSE_WRITE; a queue overflow
 * rescans), on the loop, and by a scan at start for what is already there
 * (oldest name first). They are read one at a time, through the common framed
 * reader for split files, so a file is paused mid-way by backpressure like any
 * other input.
 *
 * A file moves only once every item made from it is done end to end (track.h):
 * to done_dir, or failed_dir if any item failed for good or a record was too
 * long, or it is removed with `delete: true`. So nothing done is taken twice,
 * and nothing is lost: a file still being read or processed at a stop, or at a
 * crash, is still in the directory and is taken again, whole, at the next start.
 * The source is durable: a cancel does not spool its unfinished items (the file
 * is their copy); with `split: lines`, the records of such a file that were
 * already done are done again at the next start (at-least-once per record,
 * exactly-once per file for whole-file items). Before a file is moved its inode
 * is checked, so a new file renamed over the name meanwhile is not moved unread.
 */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envcheck.h"
#include "log.h"
#include "scope.h"
#include "source.h"
#include "util.h"

#define INOTIFY_MASK                                                                               \
	(IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

struct dir_src;

struct dir_file {
	TAILQ_ENTRY(dir_file) entry;
	struct dir_src *ds;
	char *name; /* owned by the name set */
	dev_t dev;
	ino_t ino;
	uint64_t made, done;
	bool emitted_all, failed, abandoned;
};

/* Names pending or in hand, so that a repeated event does not take a file twice. */
struct name_set {
	char **v; /* NULL = empty, TOMB = deleted */
	size_t cap, n, used;
};

struct dir_src {
	struct source *s;
	const struct conf_source *cs;
	int dfd, ifd;
	struct event *iev, *next_ev;
	struct name_set names;
	char **fifo; /* pending names (pointers into the set), a ring */
	size_t fhead, fn, fcap;
	struct dir_file *cur;			   /* being read */
	TAILQ_HEAD(dir_file_list, dir_file) files; /* taken, not finished */
	uint64_t items0, rejected0;
	bool stopped, gone_logged;
};

static char tomb;
#define TOMB (&tomb)

/* ---- the name set ---- */

static size_t name_hash(const char *s)
{
	size_t h = 14695981039346656037u;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static char **set_find(struct name_set *ns, const char *name)
{
	if (ns->cap == 0)
		return NULL;
	for (size_t i = name_hash(name) & (ns->cap - 1);; i = (i + 1) & (ns->cap - 1)) {
		if (ns->v[i] == NULL)
			return NULL;
		if (ns->v[i] != TOMB && strcmp(ns->v[i], name) == 0)
			return &ns->v[i];
	}
}

static void set_grow(struct name_set *ns)
{
	char **old = ns->v;
	size_t old_cap = ns->cap;
	ns->cap = ns->n * 4 > 64 ? ns->n * 4 : 64;
	while (ns->cap & (ns->cap - 1))
		ns->cap++;
	ns->v = xcalloc(ns->cap, sizeof(*ns->v));
	ns->used = ns->n;
	for (size_t i = 0; i < old_cap; i++) {
		if (old[i] == NULL || old[i] == TOMB)
			continue;
		size_t j = name_hash(old[i]) & (ns->cap - 1);
		while (ns->v[j] != NULL)
			j = (j + 1) & (ns->cap - 1);
		ns->v[j] = old[i];
	}
	free(old);
}

/* Returns the set's copy of name, or NULL if it was there already. */
static char *set_add(struct name_set *ns, const char *name)
{
	if (set_find(ns, name) != NULL)
		return NULL;
	if ((ns->used + 1) * 2 > ns->cap)
		set_grow(ns);
	size_t i = name_hash(name) & (ns->cap - 1);
	while (ns->v[i] != NULL && ns->v[i] != TOMB)
		i = (i + 1) & (ns->cap - 1);
	if (ns->v[i] == NULL)
		ns->used++;
	ns->v[i] = xstrdup(name);
	ns->n++;
	return ns->v[i];
}

static void set_remove(struct name_set *ns, const char *name)
{
	char **p = set_find(ns, name);
	if (p == NULL)
		return;
	free(*p);
	*p = TOMB;
	ns->n--;
}

static void set_free(struct name_set *ns)
{
	for (size_t i = 0; i < ns->cap; i++)
		if (ns->v[i] != NULL && ns->v[i] != TOMB)
			free(ns->v[i]);
	free(ns->v);
}

/* ---- pending names ---- */

static void fifo_push(struct dir_src *ds, char *name)
{
	if (ds->fn == ds->fcap) {
		size_t cap = ds->fcap ? ds->fcap * 2 : 64;
		char **v = xmalloc(cap * sizeof(*v));
		for (size_t i = 0; i < ds->fn; i++)
			v[i] = ds->fifo[(ds->fhead + i) % ds->fcap];
		free(ds->fifo);
		ds->fifo = v;
		ds->fhead = 0;
		ds->fcap = cap;
	}
	ds->fifo[(ds->fhead + ds->fn) % ds->fcap] = name;
	ds->fn++;
}

static char *fifo_pop(struct dir_src *ds)
{
	if (ds->fn == 0)
		return NULL;
	char *name = ds->fifo[ds->fhead];
	ds->fhead = (ds->fhead + 1) % ds->fcap;
	ds->fn--;
	return name;
}

static void offer(struct dir_src *ds, const char *name)
{
	if (name[0] == '.' || name[0] == '\0')
		return;
	char *copy = set_add(&ds->names, name);
	if (copy != NULL)
		fifo_push(ds, copy);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Everything already in the directory, in name order (maildir names sort by time). */
static void scan(struct dir_src *ds)
{
	int fd = openat(ds->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;

	if (d == NULL) {
		log_warn("source '%s': cannot list '%s'", ds->cs->name, ds->cs->path);
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || e->d_type == DT_DIR)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_names);
	for (size_t i = 0; i < n; i++) {
		offer(ds, v[i]);
		free(v[i]);
	}
	free(v);
}

/* ---- finishing files ---- */

static void file_free(struct dir_file *f)
{
	TAILQ_REMOVE(&f->ds->files, f, entry);
	free(f);
}

static void move_file(struct dir_src *ds, struct dir_file *f)
{
	const struct conf_source *cs = ds->cs;
	struct stat st;
	const char *dir = f->failed ? cs->failed_dir : cs->done_dir;

	if (fstatat(ds->dfd, f->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		log_warnx("source '%s': '%s' is no longer in '%s'; nothing to move", cs->name,
			  f->name, cs->path);
		set_remove(&ds->names, f->name);
		return;
	}
	if (st.st_dev != f->dev || st.st_ino != f->ino) {
		/* Replaced while we worked on the old one: the new file is still to do. */
		log_info("source '%s': '%s' was replaced while it was processed; taking the new "
			 "file",
			 cs->name, f->name);
		fifo_push(ds, f->name);
		event_active(ds->next_ev, 0, 0);
		return;
	}
	if (dir == NULL) {
		if (unlinkat(ds->dfd, f->name, 0) < 0)
			log_warn(
			    "source '%s': cannot remove '%s/%s'; it will be taken again at the "
			    "next start",
			    cs->name, cs->path, f->name);
		else
			log_debug("source '%s': done with '%s'; removed", cs->name, f->name);
		set_remove(&ds->names, f->name);
		return;
	}
	char *to = xasprintf("%s/%s", dir, f->name);
	if (renameat(ds->dfd, f->name, AT_FDCWD, to) < 0)
		log_warn("source '%s': cannot move '%s/%s' to '%s'; it will be taken again at the "
			 "next start",
			 cs->name, cs->path, f->name, to);
	else if (f->failed)
		log_warnx("source '%s': '%s' had failed items; moved to '%s'", cs->name, f->name,
			  dir);
	else
		log_debug("source '%s': done with '%s'; moved to '%s'", cs->name, f->name, dir);
	free(to);
	set_remove(&ds->names, f->name);
}

static void maybe_finish(struct dir_file *f)
{
	if (!f->emitted_all || f->done < f->made)
		return;
	if (f->abandoned)
		/* Cancelled with some of it unfinished: it stays, for the next start. */
		log_info("source '%s': '%s' was not finished; it stays in '%s' for the next start",
			 f->ds->cs->name, f->name, f->ds->cs->path);
	else
		move_file(f->ds, f);
	file_free(f);
}

static void dir_done_cb(void *arg, const struct track_done *d)
{
	struct dir_file *f = d->token;
	f->done++;
	if (d->status == TRACK_FAILED)
		f->failed = true;
	else if (d->status == TRACK_ABANDONED)
		f->abandoned = true;
	maybe_finish(f);
}

/* ---- reading ---- */

static void file_emitted(struct dir_src *ds)
{
	struct dir_file *f = ds->cur;
	struct source *s = ds->s;
	f->made = source_items(s) - ds->items0;
	if (source_rejected(s) != ds->rejected0)
		f->failed = true;
	f->emitted_all = true;
	ds->cur = NULL;
	source_set_token(s, NULL);
	maybe_finish(f);
	event_active(ds->next_ev, 0, 0);
}

/* One item for the whole file; false when the source must pause. */
static bool read_whole(struct dir_src *ds, int fd, const struct stat *st)
{
	uint64_t max = source_max_item(ds->s);
	size_t cap = (size_t)max + 1, n = 0;
	if ((uint64_t)st->st_size < max)
		cap = (size_t)st->st_size + 1;
	char *buf = xmalloc(cap);
	for (;;) {
		if (n == cap) {
			if (cap > max)
				break;
			cap = cap * 2 > max + 1 ? (size_t)max + 1 : cap * 2;
			buf = xrealloc(buf, cap);
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r > 0) {
			n += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			log_warn("source '%s': reading '%s' failed", ds->cs->name, ds->cur->name);
		break;
	}
	close(fd);
	/* The file's one trailing newline ends it: it is not part of the item. */
	if ((uint64_t)st->st_size <= n && n > 0 && buf[n - 1] == '\n')
		n--;
	bool more = true;
	if (n > max)
		source_reject(ds->s, buf, (uint64_t)st->st_size > n ? (size_t)st->st_size : n);
	else
		more = source_emit(ds->s, buf, n);
	free(buf);
	file_emitted(ds);
	return more;
}

static void take_next(struct dir_src *ds)
{
	struct source *s = ds->s;
	char *name;

	/* source_ready: a full queue or an operator's pause waits here, and resume() follows. */
	while (ds->cur == NULL && !ds->stopped && ds->fn > 0 && source_ready(s) &&
	       (name = fifo_pop(ds)) != NULL) {
		struct stat st;
		int fd = openat(ds->dfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			if (fd < 0 && errno != ENOENT)
				log_warn("source '%s': cannot open '%s/%s'", ds->cs->name,
					 ds->cs->path, name);
			if (fd >= 0)
				close(fd);
			set_remove(&ds->names, name);
			continue;
		}
		struct dir_file *f = xcalloc(1, sizeof(*f));
		f->ds = ds;
		f->name = name;
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		TAILQ_INSERT_TAIL(&ds->files, f, entry);
		ds->cur = f;
		ds->items0 = source_items(s);
		ds->rejected0 = source_rejected(s);
		source_set_token(s, f);
		log_debug("source '%s': taking '%s'", ds->cs->name, name);
		if (ds->cs->split == SPLIT_NONE) {
			if (!read_whole(ds, fd, &st))
				return;
			continue;
		}
		/* The framed reader takes it from here; eof() comes at its end. */
		source_fd_reset(s, fd);
		return;
	}
}

static void next_cb(evutil_socket_t fd, short what, void *arg)
{
	take_next(arg);
}

static void dir_eof(struct source *s)
{
	struct dir_src *ds = *source_state(s);
	source_fd_flush_close(s);
	if (ds->cur != NULL)
		file_emitted(ds);
}

static void inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dir_src *ds = arg;
	char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool rescan = false;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			p += sizeof(*e) + e->len;
			if (e->mask & IN_Q_OVERFLOW)
				rescan = true;
			if ((e->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) &&
			    !ds->gone_logged) {
				ds->gone_logged = true;
				log_error(
				    "source '%s': the directory '%s' was removed or moved; no "
				    "new files are taken from it",
				    ds->cs->name, ds->cs->path);
			}
			if (e->len > 0 && !(e->mask & IN_ISDIR) &&
			    (e->mask & (IN_MOVED_TO | IN_CLOSE_WRITE)))
				offer(ds, e->name);
		}
	}
	if (rescan)
		scan(ds);
	take_next(ds);
}

/* ---- the kind ---- */

static int make_dir(const char *name, const char *path, const char *what, char *err, size_t errlen)
{
	struct stat st;
	if (path == NULL)
		return 0;
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "source '%s': cannot create %s '%s': %s", name, what, path,
			 strerror(errno));
		return -1;
	}
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "source '%s': %s '%s' is not a directory", name, what, path);
		return -1;
	}
	return 0;
}

static int dir_open(struct source *s, char *err, size_t errlen)
{
	const struct conf_source *cs = source_conf(s);
	struct dir_src *ds = xcalloc(1, sizeof(*ds));
	struct event_base *base = scope_base(source_scope(s));

	*source_state(s) = ds;
	ds->s = s;
	ds->cs = cs;
	ds->ifd = -1;
	TAILQ_INIT(&ds->files);
	ds->dfd = open(cs->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ds->dfd < 0) {
		snprintf(err, errlen, "source '%s': cannot open the directory '%s': %s", cs->name,
			 cs->path, strerror(errno));
		return -1;
	}
	if (make_dir(cs->name, cs->done_dir, "done_dir", err, errlen) < 0 ||
	    make_dir(cs->name, cs->failed_dir, "failed_dir", err, errlen) < 0)
		return -1;
	/* Watch first, then scan: a file arriving in between is seen twice, never missed. */
	ds->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ds->ifd < 0 || inotify_add_watch(ds->ifd, cs->path, INOTIFY_MASK) < 0) {
		snprintf(err, errlen, "source '%s': cannot watch '%s' (inotify): %s", cs->name,
			 cs->path, strerror(errno));
		return -1;
	}
	ds->iev = event_new(base, ds->ifd, EV_READ | EV_PERSIST, inotify_cb, ds);
	ds->next_ev = event_new(base, -1, 0, next_cb, ds);
	scan(ds);
	source_track(s, dir_done_cb, ds, true);
	return 0;
}

static void dir_start(struct source *s)
{
	struct dir_src *ds = *source_state(s);
	event_add(ds->iev, NULL);
	log_info("source '%s' watching '%s' (%zu file(s) there already)", ds->cs->name,
		 ds->cs->path, ds->fn);
	take_next(ds);
}

static void dir_resume(struct source *s)
{
	struct dir_src *ds = *source_state(s);
	if (ds->cur != NULL)
		source_fd_resume(s);
	else
		event_active(ds->next_ev, 0, 0);
}

static void dir_stop(struct source *s)
{
	struct dir_src *ds = *source_state(s);
	ds->stopped = true;
	/* Nothing new is taken: the watch goes (a reload that drops the source keeps no
	 * inotify instance; those are few per user). */
	if (ds->iev != NULL) {
		event_free(ds->iev);
		ds->iev = NULL;
	}
	if (ds->ifd >= 0) {
		close(ds->ifd);
		ds->ifd = -1;
	}
	if (ds->cur != NULL) {
		/* Not read to its end: it stays in the directory for the next start. */
		log_info("source '%s': stopped in the middle of '%s'; it stays for the next start",
			 ds->cs->name, ds->cur->name);
		source_fd_flush_close(s);
		ds->cur = NULL;
		source_set_token(s, NULL);
	}
	source_end(s);
}

static void dir_free(struct source *s)
{
	struct dir_src *ds = *source_state(s);
	struct dir_file *f;
	if (ds == NULL)
		return;
	while ((f = TAILQ_FIRST(&ds->files)) != NULL)
		file_free(f);
	if (ds->iev != NULL)
		event_free(ds->iev);
	if (ds->next_ev != NULL)
		event_free(ds->next_ev);
	if (ds->ifd >= 0)
		close(ds->ifd);
	if (ds->dfd >= 0)
		close(ds->dfd);
	set_free(&ds->names);
	free(ds->fifo);
	free(ds);
}

static bool same_dir(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && strncmp(a, b, la) == 0;
}

/* A dir source: where finished files go, never back into the spool directory. */
static void dir_check(struct conf_ctx *x, void *entry)
{
	struct conf_source *s = entry;
	const yaml_node_t *done = conf_key_of(x, "done_dir"),
			  *failed = conf_key_of(x, "failed_dir");

	if (done != NULL && s->delete_done) {
		conf_err(
		    x, done,
		    "'done_dir' does not apply with 'delete: true' (finished files are removed)");
		free(s->done_dir);
		s->done_dir = NULL;
	}
	if (s->path == NULL)
		return;
	if (s->done_dir == NULL && !s->delete_done && done == NULL)
		s->done_dir = xasprintf("%s/done", s->path);
	if (s->failed_dir == NULL && failed == NULL)
		s->failed_dir = xasprintf("%s/failed", s->path);
	/* Finished files moved into the directory itself would be taken again. */
	if (s->done_dir != NULL && same_dir(s->done_dir, s->path))
		conf_err(x, done ? done : x->map,
			 "'done_dir' of %s must not be the spool directory itself", x->label);
	if (s->failed_dir != NULL && same_dir(s->failed_dir, s->path))
		conf_err(x, failed ? failed : x->map,
			 "'failed_dir' of %s must not be the spool directory itself", x->label);
}

static const struct conf_key dir_rows[] = {
    {"path", CT_STR, CF_NONEMPTY, .off = CONF_SRC(path), .required = CONF_ALL_KINDS,
     .doc = "dir: the spool directory to take files from."},
    {"done_dir", CT_STR, CF_NONEMPTY, .off = CONF_SRC(done_dir),
     .doc = "Where finished files go (default PATH/done)."},
    {"failed_dir", CT_STR, CF_NONEMPTY, .off = CONF_SRC(failed_dir),
     .doc = "Where files with failed items go (default PATH/failed)."},
    {"delete", CT_BOOL, .off = CONF_SRC(delete_done), .def = "false",
     .doc = "Remove finished files instead of moving them."},
};

static void dir_envcheck(struct envcheck *ck, const char *owner, const void *entry)
{
	const struct conf_source *s = entry;
	envcheck_dir(ck, owner, "directory", s->path, &s->path, s->pos, R_OK | W_OK | X_OK);
}

const struct source_kind source_dir = {
    .conf = {.name = "dir",
	     CONF_ROWS(&dir_rows[0], &source_split_row, &dir_rows[1], &dir_rows[2], &dir_rows[3]),
	     .check = dir_check,
	     .envcheck = dir_envcheck},
    .open = dir_open,
    .start = dir_start,
    .resume = dir_resume,
    .stop = dir_stop,
    .eof = dir_eof,
    .free = dir_free,
    .replays = source_replays_always,
    .splits = true,
    .path_held = true,
};
