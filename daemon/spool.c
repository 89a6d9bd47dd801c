/* spool.c: atomic spool files (see spool.h). */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bio.h"
#include "util.h"

#define SPOOL_MAGIC "SLUICE-SPOOL 1\n"

struct spool_writer {
	char *path, *tmp;
	FILE *f;
	uint64_t count;
	/* spool_commit_async */
	struct bio_job job;
	spool_commit_cb cb;
	void *cb_arg;
	char err[1024];
};

struct spool_writer *spool_begin(const char *path, char *err, size_t errlen)
{
	struct spool_writer *w = xcalloc(1, sizeof(*w));
	w->path = xstrdup(path);
	w->tmp = xasprintf("%s.tmp", path);
	int fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (w->f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "cannot create spool '%s': %s", w->tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(w->path);
		free(w->tmp);
		free(w);
		return NULL;
	}
	fputs(SPOOL_MAGIC, w->f);
	return w;
}

int spool_add(struct spool_writer *w, const struct spool_record *r)
{
	fprintf(w->f, "R %s %s %" PRIu64 " %" PRIu64 " %" PRIu32 " %zu\n", r->stage, r->source,
		r->seq, r->index, r->attempts, r->len);
	fwrite(r->data, 1, r->len, w->f);
	fputc('\n', w->f);
	w->count++;
	return ferror(w->f) ? -1 : 0;
}

static void fsync_dir(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

static void writer_free(struct spool_writer *w)
{
	free(w->path);
	free(w->tmp);
	free(w);
}

void spool_abort(struct spool_writer *w)
{
	fclose(w->f);
	unlink(w->tmp);
	writer_free(w);
}

/* The blocking part of a commit: flush, fsync, rename, fsync the directory. Closes w->f. */
static int commit_file(struct spool_writer *w, char *err, size_t errlen)
{
	if (fflush(w->f) != 0 || ferror(w->f) || fsync(fileno(w->f)) != 0) {
		snprintf(err, errlen, "cannot write spool '%s': %s", w->tmp, strerror(errno));
	} else if (rename(w->tmp, w->path) != 0) {
		snprintf(err, errlen, "cannot rename '%s' to '%s': %s", w->tmp, w->path,
			 strerror(errno));
	} else {
		fclose(w->f);
		fsync_dir(w->path);
		return 0;
	}
	fclose(w->f);
	unlink(w->tmp);
	return -1;
}

int spool_commit(struct spool_writer *w, char *err, size_t errlen)
{
	fprintf(w->f, "E %" PRIu64 "\n", w->count);
	int rc = commit_file(w, err, errlen);
	writer_free(w);
	return rc;
}

static void commit_work(struct bio_job *j)
{
	struct spool_writer *w = j->arg;
	j->result = commit_file(w, w->err, sizeof(w->err));
}

static void commit_done(struct bio_job *j)
{
	struct spool_writer *w = j->arg;
	w->cb(w->cb_arg, j->result, w->err);
	writer_free(w);
}

void spool_commit_async(struct spool_writer *w, spool_commit_cb cb, void *arg)
{
	fprintf(w->f, "E %" PRIu64 "\n", w->count);
	w->cb = cb;
	w->cb_arg = arg;
	w->job = (struct bio_job){.work = commit_work, .done = commit_done, .arg = w, .fd = -1};
	bio_submit(&w->job);
}

static long quarantine(const char *path, const char *why, char *err, size_t errlen)
{
	char *aside = xasprintf("%s.corrupt-%lld", path, (long long)time(NULL));
	if (rename(path, aside) == 0)
		snprintf(err, errlen,
			 "spool '%s' is damaged (%s); moved it to '%s' and started without it",
			 path, why, aside);
	else
		snprintf(err, errlen, "spool '%s' is damaged (%s) and cannot be moved aside: %s",
			 path, why, strerror(errno));
	free(aside);
	return -1;
}

long spool_read(const char *path, spool_record_cb cb, void *arg, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char line[512];
	long n = 0;
	char *data = NULL;

	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "cannot open spool '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fgets(line, sizeof(line), f) == NULL || strcmp(line, SPOOL_MAGIC) != 0) {
		fclose(f);
		return quarantine(path, "bad header", err, errlen);
	}
	/* Parse everything first: a damaged file must not half-replay. */
	struct spool_record *recs = NULL;
	size_t cap = 0;
	const char *why = NULL;
	for (;;) {
		struct spool_record r;
		uint64_t count;
		if (fgets(line, sizeof(line), f) == NULL) {
			why = "truncated: no end record";
			break;
		}
		if (sscanf(line, "E %" SCNu64, &count) == 1) {
			if (count != (uint64_t)n)
				why = "record count does not match";
			else if (fgetc(f) != EOF)
				why = "data after the end record";
			break;
		}
		memset(&r, 0, sizeof(r));
		if (sscanf(line, "R %127s %127s %" SCNu64 " %" SCNu64 " %" SCNu32 " %zu", r.stage,
			   r.source, &r.seq, &r.index, &r.attempts, &r.len) != 6 ||
		    r.len > (size_t)1 << 40) {
			why = "bad record header";
			break;
		}
		char *buf = xmalloc(r.len + 1);
		if (fread(buf, 1, r.len, f) != r.len || fgetc(f) != '\n') {
			free(buf);
			why = "truncated record";
			break;
		}
		r.data = buf;
		if ((size_t)n == cap) {
			cap = cap ? cap * 2 : 64;
			recs = xrealloc(recs, cap * sizeof(*recs));
		}
		recs[n++] = r;
	}
	fclose(f);
	if (why == NULL)
		for (long i = 0; i < n; i++)
			cb(arg, &recs[i]);
	for (long i = 0; i < n; i++)
		free((char *)recs[i].data);
	free(recs);
	free(data);
	return why == NULL ? n : quarantine(path, why, err, errlen);
}
