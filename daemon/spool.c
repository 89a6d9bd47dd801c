/* spool.c: atomic spool files (see spool.h). */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* A name (1 to size-1 bytes, no space or control character) then ' '. */
static const char *take_name(const char *s, char *out, size_t size)
{
	size_t n = 0;
	while (n < size - 1 && (unsigned char)s[n] > ' ')
		n++;
	if (n == 0 || s[n] != ' ')
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	return s + n + 1;
}

/* "R <stage> <source> <seq> <index> <attempts> <len>\n", strictly. */
static bool parse_record(const char *line, struct spool_record *r)
{
	uint64_t attempts = 0, len = 0;
	const char *p = strncmp(line, "R ", 2) == 0 ? line + 2 : NULL;
	if (p != NULL)
		p = take_name(p, r->stage, sizeof(r->stage));
	if (p != NULL)
		p = take_name(p, r->source, sizeof(r->source));
	if (p != NULL)
		p = str_take_u64(p, ' ', &r->seq);
	if (p != NULL)
		p = str_take_u64(p, ' ', &r->index);
	if (p != NULL)
		p = str_take_u64(p, ' ', &attempts);
	if (p != NULL)
		p = str_take_u64(p, '\n', &len);
	/* A sequence number near 2^64 would make the next ones wrap. */
	if (p == NULL || *p != '\0' || attempts > UINT32_MAX || r->seq >= UINT64_MAX / 2)
		return false;
	r->attempts = (uint32_t)attempts;
	r->len = (size_t)len;
	return len == r->len;
}

long spool_read(const char *path, uint64_t max_len, spool_record_cb cb, void *arg, char *err,
		size_t errlen)
{
	FILE *f = fopen(path, "re");
	/* A record header is at most 2 names of 127 bytes and 4 numbers. */
	char line[512], why_buf[160];
	long n = 0;
	struct stat sb;

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
	/* What is left of the file bounds every length: damage never allocates more. */
	off_t size = fstat(fileno(f), &sb) == 0 ? sb.st_size : 0;
	/* Parse everything first: a damaged file must not half-replay. */
	struct spool_record *recs = NULL;
	size_t cap = 0;
	const char *why = NULL;
	for (;;) {
		struct spool_record r;
		uint64_t count;
		const char *end;
		if (fgets(line, sizeof(line), f) == NULL) {
			why = "truncated: no end record";
			break;
		}
		if (strncmp(line, "E ", 2) == 0) {
			end = str_take_u64(line + 2, '\n', &count);
			if (end == NULL || *end != '\0')
				why = "bad end record";
			else if (count != (uint64_t)n)
				why = "record count does not match";
			else if (fgetc(f) != EOF)
				why = "data after the end record";
			break;
		}
		memset(&r, 0, sizeof(r));
		if (!parse_record(line, &r)) {
			why = "bad record header";
			break;
		}
		if (r.len > max_len) {
			snprintf(why_buf, sizeof(why_buf),
				 "a record of %zu bytes, over max_item_bytes (%" PRIu64 ")", r.len,
				 max_len);
			why = why_buf;
			break;
		}
		off_t at = ftello(f);
		if (at < 0 || (uint64_t)(size - at) < (uint64_t)r.len + 1) {
			why = "truncated record";
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
	return why == NULL ? n : quarantine(path, why, err, errlen);
}
