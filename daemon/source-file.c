/*
 * source-file.c: the file and stdin sources. A file is opened before the pipeline
 * starts, so a missing input fails the start (exit 66) rather than the job. With
 * `follow: true`, EOF is not the end: the file is polled for growth, truncation
 * (read again from the start) and rotation (the old file is read to its end, then
 * the new one at the path is opened), as `tail -F` does.
 *
 * With state_dir, the file source keeps a checkpoint (checkpoint.h): records are
 * tracked in runs of up to CHECKPOINT_RUN consecutive ones, with their byte range and
 * the generation of the file they were read from (the token); a run is marked done
 * when the tracker says all of it is finished end to end (written, filtered, failed
 * for good or dead-lettered), and what changed is appended once per loop iteration
 * that finished records (one deferred event), so a kill repeats only the runs whose
 * write and mark straddle it. A restart continues at the done position and skips the
 * runs done out of order.
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
/*
 * Consecutive records tracked together for the checkpoint (track_set_run): a run is
 * done when its last record is, so a kill can repeat the other records of a run it
 * caught unfinished (at most 3 more per run); the tracking costs a third as much.
 */
#define CHECKPOINT_RUN 4

struct file_state {
	struct event *poll;
	/* state_dir: the checkpoint */
	struct checkpoint *ck;
	struct event *commit;
	struct file_sync *sync; /* journal.fsync for the checkpoint file */
	/* done records not yet given to the checkpoint: adjacent ones make one range */
	struct {
		uint64_t start, end;
		unsigned gen;
		bool open;
	} run;
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
static void flush_run(struct file_state *fs)
{
	if (fs->run.open)
		checkpoint_done(fs->ck, fs->run.gen, fs->run.start, fs->run.end);
	fs->run.open = false;
}

static void commit(struct source *s, struct file_state *fs, bool sync)
{
	char err[512];
	int fd_before = checkpoint_fd(fs->ck);
	fs->commit_queued = false;
	flush_run(fs);
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

/*
 * The record [start, end) of the file tracked as gen is done: appended at the next
 * commit. Records mostly finish in the order they were read, so a record that
 * continues the run extends it; the checkpoint hears of the run once.
 */
static void mark_done(struct file_state *fs, unsigned gen, uint64_t start, uint64_t end)
{
	if (fs->run.open && fs->run.gen == gen && fs->run.end == start) {
		fs->run.end = end;
	} else {
		flush_run(fs);
		fs->run.open = true;
		fs->run.gen = gen;
		fs->run.start = start;
		fs->run.end = end;
	}
	/* One append for every record this loop iteration finishes. */
	if (!fs->commit_queued) {
		fs->commit_queued = true;
		event_active(fs->commit, 0, 0);
	}
}

/* A cancel abandons a record: it is read again after a restart. */
static void file_done(void *arg, const struct track_done *d)
{
	struct file_state *fs = *source_state(arg);
	if (d->status != TRACK_ABANDONED)
		mark_done(fs, (unsigned)(uintptr_t)d->token, d->start, d->end);
}

/* Asked only before the end of what was done before the restart (source_framed_until). */
static bool file_framed(struct source *s, uint64_t index, uint64_t start, uint64_t end)
{
	struct file_state *fs = *source_state(s);
	return fs != NULL && fs->ck != NULL && checkpoint_skip(fs->ck, start, end);
}

/* A record that never entered the pipeline (rejected, or done in a run --resume
 * continues) is done: always the one just framed. */
static void file_untracked(struct source *s, uint64_t index)
{
	struct file_state *fs = *source_state(s);
	uint64_t start, end;
	source_framed_range(s, &start, &end);
	if (fs != NULL && fs->ck != NULL && index == source_last_index(s))
		mark_done(fs, checkpoint_gen(fs->ck), start, end);
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
	flush_run(
	    fs); /* the done marks of the file read so far, before it is one of the older ones */
	uint64_t pos = checkpoint_track(fs->ck, fd);
	source_framed_until(s, checkpoint_done_until(fs->ck));
	enum checkpoint_match m = checkpoint_match(fs->ck);
	uint64_t past = checkpoint_done_past(fs->ck);
	struct stat st;

	if (m == CHECKPOINT_MATCHED && (pos > 0 || past > 0)) {
		log_info("source '%s': resumed '%s' at byte %llu, %llu byte(s) done past it",
			 cs->name, cs->path, (unsigned long long)pos, (unsigned long long)past);
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
	/* The token of the records read from now on: which file they came from. */
	source_set_token(s, (void *)(uintptr_t)checkpoint_gen(fs->ck));
	if (first) {
		fs->info.resumed_at = pos;
		fs->info.resumed_done_bytes = past;
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
	source_track_runs(s, CHECKPOINT_RUN);
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
	if (scope_conf(source_scope(s))->state_dir == NULL) {
		source_framed_until(s, 0); /* no checkpoint: nothing to skip */
	} else if (checkpoint_start(s, fd, err, errlen) < 0) {
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
