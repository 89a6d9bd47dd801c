/*
 * source-file.c: the file and stdin sources. A file is opened before the pipeline
 * starts, so a missing input fails the start (exit 66) rather than the job. With
 * `follow: true`, EOF is not the end: the file is polled for growth, truncation
 * (read again from the start) and rotation (the old file is read to its end, then
 * the new one at the path is opened), as `tail -F` does.
 *
 * With state_dir, the file source keeps a checkpoint (checkpoint.h): each record's
 * byte range is noted when it is framed, marked done when the tracker says it is
 * finished end to end (written, filtered, failed for good or dead-lettered), and
 * what changed is appended once per loop iteration that finished records (one
 * deferred event), so a kill repeats only records whose write and mark straddle it.
 * A restart continues at the done position and skips records done out of order.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "envcheck.h"
#include "log.h"
#include "scope.h"
#include "source.h"
#include "statedir.h"
#include "statesync.h"
#include "util.h"

#define FOLLOW_POLL_USEC 250000

/* A record framed and not yet done: its byte range in the file tracked as gen. */
struct inflight {
	uint64_t index, start, end;
	unsigned gen;
	bool finished;
};

struct file_state {
	struct event *poll;
	/* state_dir: the checkpoint, and the records in flight in index order */
	struct checkpoint *ck;
	struct event *commit;
	struct file_sync *sync; /* journal.fsync for the checkpoint file */
	struct inflight *fl;
	size_t head, n, cap;
	bool commit_queued, commit_failed;
	struct source_checkpoint info;
};

static struct file_state *file_state(struct source *s)
{
	struct file_state *fs = *source_state(s);
	if (fs == NULL) {
		fs = xcalloc(1, sizeof(*fs));
		*source_state(s) = fs;
	}
	return fs;
}

/* --- the checkpoint ------------------------------------------------------------- */

/*
 * Appends what finished since the last commit; with sync, the file is then synced as
 * journal.fsync says (statesync.h: at most once per batch window, off the loop).
 */
static void commit(struct source *s, struct file_state *fs, bool sync)
{
	char err[512];
	int fd_before = checkpoint_fd(fs->ck);
	fs->commit_queued = false;
	if (checkpoint_commit(fs->ck, err, sizeof(err)) < 0) {
		if (!fs->commit_failed)
			log_warnx("source '%s': %s (kept in memory, written at the next commit)",
				  source_conf(s)->name, err);
		fs->commit_failed = true;
		return;
	}
	fs->commit_failed = false;
	fs->info.committed_at = now_usec();
	fs->info.position = checkpoint_position(fs->ck);
	if (sync) /* a new fd: the state was rewritten and renamed over the old file */
		file_sync_written(fs->sync, checkpoint_fd(fs->ck),
				  checkpoint_fd(fs->ck) != fd_before);
}

static void commit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct source *s = arg;
	commit(s, *source_state(s), true);
}

static struct inflight *inflight_find(struct file_state *fs, uint64_t index)
{
	/* Indexes are consecutive but for skipped records: look where it would be first. */
	if (fs->head < fs->n && index >= fs->fl[fs->head].index) {
		uint64_t at = fs->head + (index - fs->fl[fs->head].index);
		if (at < fs->n && fs->fl[at].index == index)
			return &fs->fl[at];
	}
	size_t lo = fs->head, hi = fs->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (fs->fl[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < fs->n && fs->fl[lo].index == index ? &fs->fl[lo] : NULL;
}

static void finish(struct source *s, uint64_t index, bool done)
{
	struct file_state *fs = *source_state(s);
	struct inflight *f = fs != NULL && fs->ck != NULL ? inflight_find(fs, index) : NULL;
	if (f == NULL || f->finished)
		return;
	f->finished = true;
	if (done) {
		checkpoint_done(fs->ck, f->gen, f->start, f->end);
		/* One append for every record this loop iteration finishes. */
		if (!fs->commit_queued) {
			fs->commit_queued = true;
			event_active(fs->commit, 0, 0);
		}
	}
	while (fs->head < fs->n && fs->fl[fs->head].finished)
		fs->head++;
	if (fs->head == fs->n)
		fs->head = fs->n = 0;
	else if (fs->head > fs->cap / 2) {
		memmove(fs->fl, fs->fl + fs->head, (fs->n - fs->head) * sizeof(*fs->fl));
		fs->n -= fs->head;
		fs->head = 0;
	}
}

/* A cancel abandons a record: it is read again after a restart. */
static void file_done(void *arg, void *token, uint64_t index, enum track_status st)
{
	finish(arg, index, st != TRACK_ABANDONED);
}

static bool file_framed(struct source *s, uint64_t index, uint64_t start, uint64_t end)
{
	struct file_state *fs = *source_state(s);
	if (fs == NULL || fs->ck == NULL)
		return false;
	if (checkpoint_skip(fs->ck, start, end))
		return true;
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? 2 * fs->cap : 256;
		fs->fl = xrealloc(fs->fl, fs->cap * sizeof(*fs->fl));
	}
	fs->fl[fs->n++] = (struct inflight){
	    .index = index, .start = start, .end = end, .gen = checkpoint_gen(fs->ck)};
	return false;
}

static void file_untracked(struct source *s, uint64_t index)
{
	finish(s, index, true);
}

static bool file_checkpoint(const struct source *s, struct source_checkpoint *ck)
{
	const struct file_state *fs = *source_state((struct source *)s);
	if (fs == NULL || fs->ck == NULL)
		return false;
	*ck = fs->info;
	return true;
}

/* Where to read fd from: the checkpoint's position, or start_at for a file never seen. */
static uint64_t track_file(struct source *s, struct file_state *fs, int fd, bool first)
{
	const struct conf_source *cs = source_conf(s);
	uint64_t pos = checkpoint_track(fs->ck, fd);
	enum checkpoint_match m = checkpoint_match(fs->ck);
	size_t past = checkpoint_done_past(fs->ck);
	struct stat st;

	if (m == CHECKPOINT_MATCHED && (pos > 0 || past > 0)) {
		log_info("source '%s': resumed '%s' at byte %llu, %zu record(s) done past it",
			 cs->name, cs->path, (unsigned long long)pos, past);
	} else if (m == CHECKPOINT_REPLACED && first) {
		log_info("source '%s': '%s' is not the file the checkpoint knows (replaced); "
			 "reading it from the start",
			 cs->name, cs->path);
	} else if (m == CHECKPOINT_NEW && first && cs->start_at == START_AT_END &&
		   fstat(fd, &st) == 0 && st.st_size > 0) {
		/* Everything before the end counts as done: the checkpoint starts there. */
		pos = (uint64_t)st.st_size;
		checkpoint_done(fs->ck, checkpoint_gen(fs->ck), 0, pos);
	}
	if (first) {
		fs->info.resumed_at = pos;
		fs->info.resumed_done = past;
	}
	fs->info.position = pos;
	return pos;
}

static int checkpoint_start(struct source *s, int fd, char *err, size_t errlen)
{
	const struct conf_source *cs = source_conf(s);
	struct file_state *fs = file_state(s);
	char *path = state_dir_checkpoint(scope_conf(source_scope(s))->state_dir, cs->name);
	char why[512];
	fs->ck = checkpoint_open(path, why, sizeof(why));
	if (fs->ck == NULL) {
		free(path);
		snprintf(err, errlen, "source '%s': %s", cs->name, why);
		return -1;
	}
	fs->commit = event_new(scope_base(source_scope(s)), -1, 0, commit_cb, s);
	/* A power cut repeats what the page cache lost: bounded as the journal's fsync says. */
	const struct conf *c = scope_conf(source_scope(s));
	fs->sync = file_sync_new(scope_base(source_scope(s)),
				 c->journal.enabled ? c->journal.fsync : FSYNC_NEVER, path);
	free(path);
	uint64_t pos = track_file(s, fs, fd, true);
	if (pos > 0 && lseek(fd, (off_t)pos, SEEK_SET) < 0) {
		snprintf(err, errlen, "source '%s': cannot seek '%s' to byte %llu: %s", cs->name,
			 cs->path, (unsigned long long)pos, strerror(errno));
		return -1;
	}
	commit(s, fs, false);
	/* Durable: a cancel leaves unfinished records in the file, read again next time. */
	source_track(s, file_done, s, true);
	return 0;
}

/* --- reading ------------------------------------------------------------------ */

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
	if (scope_conf(source_scope(s))->state_dir != NULL &&
	    checkpoint_start(s, fd, err, errlen) < 0) {
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
			uint64_t pos =
			    fs != NULL && fs->ck != NULL ? track_file(s, fs, nfd, false) : 0;
			if (pos > 0)
				lseek(nfd, (off_t)pos, SEEK_SET);
			source_fd_reset(s, nfd);
			return;
		}
	} else if (fstat(fd, &cur) == 0 && cur.st_size < lseek(fd, 0, SEEK_CUR)) {
		log_info("source '%s': '%s' was truncated; reading it from the start", cs->name,
			 cs->path);
		/* Copy-truncate: other contents at the same inode, a new identity. */
		if (fs != NULL && fs->ck != NULL)
			track_file(s, fs, fd, false);
		source_fd_seek(s, 0);
		source_fd_start(s);
		return;
	}
	fs = file_state(s);
	if (fs->poll == NULL)
		fs->poll = evtimer_new(scope_base(source_scope(s)), follow_poll_cb, s);
	struct timeval tv = {0, FOLLOW_POLL_USEC};
	evtimer_add(fs->poll, &tv);
}

static void file_free(struct source *s)
{
	struct file_state *fs = *source_state(s);
	if (fs == NULL)
		return;
	if (fs->poll != NULL)
		event_free(fs->poll);
	if (fs->ck != NULL) {
		/* A graceful stop drained every record: this commit makes a restart repeat none. */
		commit(s, fs, true);
		file_sync_free(fs->sync); /* the last sync still runs */
		checkpoint_close(fs->ck);
		event_free(fs->commit);
	}
	free(fs->fl);
	free(fs);
	*source_state(s) = NULL;
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
static const char *const start_at_names[] = {"beginning", "end", NULL};
static const struct conf_key file_start_at_row = {
    "start_at",
    CT_ENUM,
    .off = CONF_SRC(start_at),
    .def = "beginning",
    .values = start_at_names,
    .doc = "Where to read a file that state_dir has no checkpoint for: beginning or end."};

static void file_envcheck(struct envcheck *ck, const char *owner, const void *entry)
{
	const struct conf_source *s = entry;
	envcheck_readable(ck, owner, s->path, &s->path, s->pos);
}

const struct source_kind source_file = {
    .conf = {.name = "file",
	     CONF_ROWS(&file_path_row, &file_follow_row, &file_start_at_row, &source_framing_row),
	     .envcheck = file_envcheck},
    .open = file_open,
    .start = source_fd_start,
    .resume = source_fd_resume,
    .stop = file_finish,
    .eof = file_eof,
    .free = file_free,
    .progress = source_fd_progress,
    .framed = file_framed,
    .untracked = file_untracked,
    .checkpoint = file_checkpoint,
    .finite = file_finite,
    .replays = source_replays_always,
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
