/* checkpoint.c: file source positions that survive a restart (see checkpoint.h). */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "util.h"

#define COMPACT_BYTES (64 * 1024)

struct range {
	uint64_t start, end;
};

struct entry {
	uint64_t dev, ino;
	uint32_t fp_len, fp_crc;
	uint64_t pos;
	struct range *done; /* beyond pos, sorted, neither touching pos nor each other */
	size_t n_done, cap_done;
	unsigned gen;
	int fd; /* a dup of the tracked file's, for the fingerprint; -1 for older ones */
	bool dirty;
};

struct checkpoint {
	char *path;
	int fd;
	uint64_t size;
	struct entry files[CHECKPOINT_FILES];
	size_t n_files;
	unsigned gen;
	struct entry *cur;
	enum checkpoint_match match;
};

static void entry_clear(struct entry *e)
{
	free(e->done);
	if (e->fd >= 0)
		close(e->fd);
	*e = (struct entry){.fd = -1};
}

/*
 * Records are adjacent in the file, so ranges that touch merge: the state stays a
 * few ranges (one per record not done yet) however long one record is held up.
 */
static void range_insert(struct entry *e, uint64_t start, uint64_t end)
{
	size_t i = e->n_done;
	while (i > 0 && e->done[i - 1].start > start)
		i--;
	if (i > 0 && e->done[i - 1].end >= end)
		return; /* done twice */
	struct range *prev = i > 0 && e->done[i - 1].end >= start ? &e->done[i - 1] : NULL;
	struct range *next = i < e->n_done && e->done[i].start <= end ? &e->done[i] : NULL;
	if (prev != NULL && next != NULL) {
		prev->end = next->end > end ? next->end : end;
		memmove(next, next + 1, (e->n_done - i - 1) * sizeof(*next));
		e->n_done--;
		return;
	}
	if (prev != NULL || next != NULL) {
		struct range *r = prev != NULL ? prev : next;
		r->start = start < r->start ? start : r->start;
		r->end = end > r->end ? end : r->end;
		return;
	}
	if (e->n_done == e->cap_done) {
		e->cap_done = e->cap_done ? 2 * e->cap_done : 8;
		e->done = xrealloc(e->done, e->cap_done * sizeof(*e->done));
	}
	memmove(e->done + i + 1, e->done + i, (e->n_done - i) * sizeof(*e->done));
	e->done[i] = (struct range){start, end};
	e->n_done++;
}

/* Moves pos over the done ranges that now touch it. */
static void absorb(struct entry *e)
{
	size_t k = 0;
	while (k < e->n_done && e->done[k].start <= e->pos) {
		if (e->done[k].end > e->pos)
			e->pos = e->done[k].end;
		k++;
	}
	if (k > 0) {
		memmove(e->done, e->done + k, (e->n_done - k) * sizeof(*e->done));
		e->n_done -= k;
	}
}

/* --- the file on disk ------------------------------------------------------------- */

static void line_format(const struct entry *e, struct strbuf *out)
{
	char *body = xasprintf("%" PRIu64 " %" PRIu64 " %" PRIu32 " %08" PRIx32 " %" PRIu64 " %zu",
			       e->dev, e->ino, e->fp_len, e->fp_crc, e->pos, e->n_done);
	struct strbuf b = {0};
	strbuf_add(&b, body, strlen(body));
	free(body);
	for (size_t i = 0; i < e->n_done; i++) {
		char r[48];
		int n = snprintf(r, sizeof(r), " %" PRIu64 "+%" PRIu64, e->done[i].start,
				 e->done[i].end - e->done[i].start);
		strbuf_add(&b, r, (size_t)n);
	}
	char crc[16];
	int n = snprintf(crc, sizeof(crc), "%08" PRIx32 " ", crc32c(0, b.p, b.len));
	strbuf_add(out, crc, (size_t)n);
	strbuf_add(out, b.p, b.len);
	strbuf_add(out, "\n", 1);
	free(b.p);
}

/* One line read back into e; false when it is torn or damaged. */
static bool line_parse(const char *line, size_t len, struct entry *e)
{
	uint32_t crc;
	int at = 0;
	if (len < 10 || sscanf(line, "%8" SCNx32 " %n", &crc, &at) != 1 || at != 9 ||
	    crc32c(0, line + 9, len - 9) != crc)
		return false;
	char *copy = xstrndup(line + 9, len - 9);
	const char *p = copy;
	size_t n;
	int used = 0;
	bool ok = sscanf(p, "%" SCNu64 " %" SCNu64 " %" SCNu32 " %8" SCNx32 " %" SCNu64 " %zu%n",
			 &e->dev, &e->ino, &e->fp_len, &e->fp_crc, &e->pos, &n, &used) == 6 &&
		  e->fp_len <= CHECKPOINT_FP_MAX && n <= len;
	for (p += used; ok && n-- > 0; p += used) {
		uint64_t start, rlen;
		ok = sscanf(p, " %" SCNu64 "+%" SCNu64 "%n", &start, &rlen, &used) == 2 &&
		     start > e->pos && rlen > 0 && start + rlen > start;
		if (ok)
			range_insert(e, start, start + rlen);
	}
	ok = ok && *p == '\0';
	free(copy);
	return ok;
}

static struct entry *slot_for(struct checkpoint *c, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; i < c->n_files; i++)
		if (c->files[i].dev == dev && c->files[i].ino == ino)
			return &c->files[i];
	if (c->n_files == CHECKPOINT_FILES) { /* the oldest (first) goes */
		entry_clear(&c->files[0]);
		memmove(c->files, c->files + 1, (CHECKPOINT_FILES - 1) * sizeof(c->files[0]));
		c->n_files--;
	}
	struct entry *e = &c->files[c->n_files++];
	*e = (struct entry){.dev = dev, .ino = ino, .fd = -1};
	return e;
}

/* Reads every line; cuts a torn last one, which the next append would otherwise extend. */
static void read_state(struct checkpoint *c)
{
	FILE *f = fdopen(dup(c->fd), "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	uint64_t whole = 0;
	while (f != NULL && (len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] != '\n')
			break;
		whole += (uint64_t)len;
		struct entry e = {.fd = -1};
		if (!line_parse(line, (size_t)len - 1, &e)) {
			free(e.done);
			continue;
		}
		struct entry *slot = slot_for(c, e.dev, e.ino);
		free(slot->done);
		*slot = e;
		/* The latest line of each file comes last: keep the order of updates. */
		struct entry keep = *slot;
		size_t i = (size_t)(slot - c->files);
		memmove(c->files + i, c->files + i + 1, (c->n_files - i - 1) * sizeof(keep));
		c->files[c->n_files - 1] = keep;
	}
	free(line);
	if (f != NULL)
		fclose(f);
	if (whole < c->size && ftruncate(c->fd, (off_t)whole) == 0)
		c->size = whole;
}

struct checkpoint *checkpoint_open(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open checkpoint file '%s': %s", path,
			 strerror(errno));
		return NULL;
	}
	struct checkpoint *c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	c->fd = fd;
	struct stat st;
	c->size = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	read_state(c);
	return c;
}

void checkpoint_close(struct checkpoint *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_files; i++)
		entry_clear(&c->files[i]);
	close(c->fd);
	free(c->path);
	free(c);
}

/* --- tracking a file ------------------------------------------------------------- */

static bool fingerprint(int fd, uint32_t len, uint32_t *crc)
{
	unsigned char buf[CHECKPOINT_FP_MAX];
	ssize_t got = len > 0 ? pread(fd, buf, len, 0) : 0;
	if (got != (ssize_t)len)
		return false;
	*crc = crc32c(0, buf, len);
	return true;
}

static bool same_start(const struct entry *e, int fd, uint64_t size)
{
	uint32_t crc;
	return e->pos <= size && e->fp_len <= size && fingerprint(fd, e->fp_len, &crc) &&
	       crc == e->fp_crc;
}

uint64_t checkpoint_track(struct checkpoint *c, int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		st = (struct stat){0};
	uint64_t size = (uint64_t)st.st_size;
	struct entry *match = NULL;

	/* The same inode first; another one only by its done bytes (moved or copied). */
	for (size_t i = c->n_files; i-- > 0 && match == NULL;) {
		struct entry *e = &c->files[i];
		if (e->dev == (uint64_t)st.st_dev && e->ino == (uint64_t)st.st_ino &&
		    same_start(e, fd, size))
			match = e;
	}
	for (size_t i = c->n_files; i-- > 0 && match == NULL;) {
		struct entry *e = &c->files[i];
		if (e->fp_len > 0 &&
		    e->fp_len == (e->pos < CHECKPOINT_FP_MAX ? e->pos : CHECKPOINT_FP_MAX) &&
		    same_start(e, fd, size))
			match = e;
	}
	c->match = match != NULL    ? CHECKPOINT_MATCHED
		   : c->n_files > 0 ? CHECKPOINT_REPLACED
				    : CHECKPOINT_NEW;
	if (match != NULL) {
		match->dev = (uint64_t)st.st_dev;
		match->ino = (uint64_t)st.st_ino;
	} else {
		match = slot_for(c, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
		free(match->done);
		if (match->fd >= 0)
			close(match->fd);
		*match = (struct entry){
		    .dev = (uint64_t)st.st_dev, .ino = (uint64_t)st.st_ino, .fd = -1};
	}
	for (size_t i = 0; i < c->n_files; i++)
		if (c->files[i].fd >= 0 && &c->files[i] != match) {
			close(c->files[i].fd);
			c->files[i].fd = -1;
		}
	if (match->fd < 0)
		match->fd = dup(fd);
	match->gen = ++c->gen;
	match->dirty = true;
	c->cur = match;
	return match->pos;
}

enum checkpoint_match checkpoint_match(const struct checkpoint *c)
{
	return c->match;
}

uint64_t checkpoint_done_past(const struct checkpoint *c)
{
	uint64_t bytes = 0;
	for (size_t i = 0; c->cur != NULL && i < c->cur->n_done; i++)
		bytes += c->cur->done[i].end - c->cur->done[i].start;
	return bytes;
}

uint64_t checkpoint_done_until(const struct checkpoint *c)
{
	const struct entry *e = c->cur;
	if (e == NULL)
		return 0;
	return e->n_done > 0 ? e->done[e->n_done - 1].end : e->pos;
}

unsigned checkpoint_gen(const struct checkpoint *c)
{
	return c->gen;
}

bool checkpoint_skip(struct checkpoint *c, uint64_t start, uint64_t end)
{
	struct entry *e = c->cur;
	if (e == NULL)
		return false;
	for (size_t i = 0; i < e->n_done && e->done[i].start <= start; i++)
		if (end <= e->done[i].end)
			return true;
	return false;
}

void checkpoint_done(struct checkpoint *c, unsigned gen, uint64_t start, uint64_t end)
{
	struct entry *e = c->cur != NULL && c->cur->gen == gen ? c->cur : NULL;
	for (size_t i = 0; e == NULL && i < c->n_files; i++)
		if (c->files[i].gen == gen)
			e = &c->files[i];
	if (e == NULL || end <= e->pos)
		return;
	if (start <= e->pos)
		e->pos = end;
	else
		range_insert(e, start, end);
	absorb(e);
	e->dirty = true;
}

/* --- committing ------------------------------------------------------------------ */

static int rewrite(struct checkpoint *c, char *err, size_t errlen)
{
	struct strbuf all = {0};
	for (size_t i = 0; i < c->n_files; i++)
		line_format(&c->files[i], &all);
	char *tmp = xasprintf("%s.tmp", c->path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	int rc = -1;
	if (fd >= 0 && write(fd, all.p, all.len) == (ssize_t)all.len && rename(tmp, c->path) == 0) {
		close(c->fd);
		c->fd = fd;
		c->size = all.len;
		rc = 0;
	} else {
		snprintf(err, errlen, "cannot rewrite checkpoint file '%s': %s", c->path,
			 strerror(errno ? errno : ENOSPC));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	}
	free(tmp);
	free(all.p);
	return rc;
}

int checkpoint_commit(struct checkpoint *c, char *err, size_t errlen)
{
	struct strbuf out = {0};
	for (size_t i = 0; i < c->n_files; i++) {
		struct entry *e = &c->files[i];
		if (!e->dirty)
			continue;
		uint32_t want = e->pos < CHECKPOINT_FP_MAX ? (uint32_t)e->pos : CHECKPOINT_FP_MAX;
		if (e->fd >= 0 && e->fp_len < want && fingerprint(e->fd, want, &e->fp_crc))
			e->fp_len = want;
		line_format(e, &out);
	}
	if (out.len == 0)
		return 0;
	int rc = 0;
	if (c->size + out.len > COMPACT_BYTES) {
		rc = rewrite(c, err, errlen);
	} else if (write(c->fd, out.p, out.len) == (ssize_t)out.len) {
		c->size += out.len;
	} else {
		/* Cut what part is on disk; the state is kept and written at the next commit. */
		int e = errno ? errno : ENOSPC;
		if (ftruncate(c->fd, (off_t)c->size) < 0) {
			/* The next line then fails its CRC: one commit lost, not the state. */
		}
		errno = e;
		snprintf(err, errlen, "cannot write checkpoint file '%s': %s", c->path,
			 strerror(errno ? errno : ENOSPC));
		rc = -1;
	}
	if (rc == 0)
		for (size_t i = 0; i < c->n_files; i++)
			c->files[i].dirty = false;
	free(out.p);
	return rc;
}

uint64_t checkpoint_position(const struct checkpoint *c)
{
	return c->cur != NULL ? c->cur->pos : 0;
}

int checkpoint_fd(const struct checkpoint *c)
{
	return c->fd;
}

/* --- checking (sluiced --fsck) ------------------------------------------------------ */

int checkpoint_check(const char *path, bool repair, struct checkpoint_report *r, char *err,
		     size_t errlen)
{
	*r = (struct checkpoint_report){0};
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		snprintf(err, errlen, "cannot open checkpoint file '%s': %s", path,
			 strerror(errno));
		return -1;
	}
	struct strbuf good = {0};
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] != '\n') {
			r->torn_bytes = (uint64_t)len;
			break;
		}
		r->lines++;
		struct entry e = {.fd = -1};
		if (line_parse(line, (size_t)len - 1, &e)) {
			strbuf_add(&good, line, (size_t)len);
		} else {
			r->bad_lines++;
			if (r->first_bad == 0)
				r->first_bad = r->lines;
		}
		free(e.done);
	}
	free(line);
	fclose(f);
	int rc = 0;
	if (repair && (r->bad_lines > 0 || r->torn_bytes > 0)) {
		char *tmp = xasprintf("%s.tmp", path);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, good.p, good.len) != (ssize_t)good.len || fsync(fd) < 0 ||
		    rename(tmp, path) < 0) {
			snprintf(err, errlen, "cannot rewrite checkpoint file '%s': %s", path,
				 strerror(errno ? errno : ENOSPC));
			unlink(tmp);
			rc = -1;
		}
		if (fd >= 0)
			close(fd);
		free(tmp);
	}
	free(good.p);
	return rc;
}
