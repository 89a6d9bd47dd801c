/* journal.c: the write-ahead journal (see journal.h). */
#include "journal.h"

#include <dirent.h>
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

#define MAGIC	  "SLUICE-JOURNAL 1\n"
#define MAGIC_LEN (sizeof(MAGIC) - 1)
#define HEAD_LEN  20 /* crc, len, id, type and three zero bytes */
#define REC_ITEM  1
#define REC_DONE  2

struct segment {
	uint64_t number; /* its position since the journal began: entries name it */
	uint64_t first_id;
	uint64_t bytes;
	uint64_t live; /* items in it not yet done */
	bool synced;   /* every byte written to it is synced */
};

/* An item not yet done; off is where its record starts (found at open, else 0). */
struct entry {
	uint64_t id;
	uint64_t seg;
	uint64_t off;
	bool done;
};

struct journal {
	char *dir;
	uint64_t max_bytes, segment_bytes;
	struct segment *segs; /* oldest first; the last is written to */
	size_t n_segs, cap_segs;
	uint64_t seg_number; /* the next segment's number */
	int fd;		     /* the last segment's, -1 before the first append */
	uint64_t next_id;
	struct entry *live; /* ascending ids */
	size_t n_live, n_dead, cap_live;
	unsigned char *buf; /* records not yet written to the last segment */
	size_t buf_len, buf_cap;
	uint64_t written, synced;
	uint64_t replay_segs; /* segments found at open: journal_replay reads them */
	bool dir_unsynced;
	bool readonly; /* journal_check without repair: damage is counted, not cut */
};

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static char *seg_path(const struct journal *j, uint64_t first_id)
{
	return xasprintf("%s/seg-%016" PRIx64 ".log", j->dir, first_id);
}

static struct segment *seg_of(struct journal *j, uint64_t number)
{
	if (j->n_segs == 0 || number < j->segs[0].number)
		return NULL;
	size_t i = (size_t)(number - j->segs[0].number);
	return i < j->n_segs ? &j->segs[i] : NULL;
}

static struct segment *seg_push(struct journal *j, uint64_t first_id)
{
	if (j->n_segs == j->cap_segs) {
		j->cap_segs = j->cap_segs ? 2 * j->cap_segs : 8;
		j->segs = xrealloc(j->segs, j->cap_segs * sizeof(*j->segs));
	}
	struct segment *s = &j->segs[j->n_segs++];
	*s = (struct segment){.number = j->seg_number++, .first_id = first_id, .synced = true};
	return s;
}

static void live_push(struct journal *j, uint64_t id, uint64_t seg, uint64_t off)
{
	if (j->n_live == j->cap_live) {
		j->cap_live = j->cap_live ? 2 * j->cap_live : 64;
		j->live = xrealloc(j->live, j->cap_live * sizeof(*j->live));
	}
	j->live[j->n_live++] = (struct entry){.id = id, .seg = seg, .off = off};
}

static struct entry *live_find(struct journal *j, uint64_t id)
{
	size_t lo = 0, hi = j->n_live;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (j->live[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < j->n_live && j->live[lo].id == id ? &j->live[lo] : NULL;
}

/* Drops done entries once they are half the array: memory follows the live items. */
static void live_compact(struct journal *j)
{
	if (j->n_dead < 64 || j->n_dead * 2 < j->n_live)
		return;
	size_t k = 0;
	for (size_t i = 0; i < j->n_live; i++)
		if (!j->live[i].done)
			j->live[k++] = j->live[i];
	j->n_live = k;
	j->n_dead = 0;
}

/*
 * Deletes the oldest segments while every item in them is done; the last one too
 * only when nothing is written to it (at open, when all segments are old).
 */
static void segs_trim(struct journal *j, bool keep_last)
{
	size_t drop = 0;
	while (drop + (keep_last ? 1 : 0) < j->n_segs && j->segs[drop].live == 0) {
		char *path = seg_path(j, j->segs[drop].first_id);
		unlink(path);
		free(path);
		drop++;
		j->dir_unsynced = true;
	}
	if (drop > 0) {
		memmove(j->segs, j->segs + drop, (j->n_segs - drop) * sizeof(*j->segs));
		j->n_segs -= drop;
	}
}

/* --- reading at open ------------------------------------------------------------- */

struct reader {
	FILE *f;
	uint64_t left; /* bytes of the file after the position: no length is longer */
	unsigned char *payload;
	size_t cap;
};

/*
 * The record at the reader's position: 1 with its header fields and payload, 0 at a
 * clean end of file, -1 at damage (a cut, an impossible length, a CRC mismatch).
 */
static int read_record(struct reader *rd, uint64_t *id, int *type, uint32_t *len)
{
	unsigned char h[HEAD_LEN];
	size_t got = fread(h, 1, HEAD_LEN, rd->f);
	if (got == 0 && feof(rd->f))
		return 0;
	if (got < HEAD_LEN)
		return -1;
	rd->left -= got;
	*len = get_u32(h + 4);
	*id = get_u64(h + 8);
	*type = h[16];
	if ((*type != REC_ITEM && *type != REC_DONE) || h[17] || h[18] || h[19] ||
	    (*type == REC_DONE && *len != 0) || *len > rd->left)
		return -1;
	rd->left -= *len;
	if (*len > rd->cap) {
		rd->cap = *len;
		rd->payload = xrealloc(rd->payload, rd->cap);
	}
	if (fread(rd->payload, 1, *len, rd->f) != *len)
		return -1;
	uint32_t crc = crc32c(crc32c(0, h + 4, HEAD_LEN - 4), rd->payload, *len);
	return crc == get_u32(h) ? 1 : -1;
}

/* Splits an item payload; false when it does not parse exactly. */
static bool parse_item(const unsigned char *p, size_t len, struct spool_record *r)
{
	size_t at = 0;
	char *names[2] = {r->stage, r->source};
	for (int k = 0; k < 2; k++) {
		if (at >= len || p[at] > SPOOL_NAME_MAX || len - at - 1 < p[at])
			return false;
		memcpy(names[k], p + at + 1, p[at]);
		names[k][p[at]] = '\0';
		at += 1 + (size_t)p[at];
	}
	if (len - at < 20)
		return false;
	r->seq = get_u64(p + at);
	r->index = get_u64(p + at + 8);
	r->attempts = get_u32(p + at + 16);
	r->data = (const char *)p + at + 20;
	r->len = len - at - 20;
	return true;
}

/* Reads one segment into the live set; cuts it at the first damage. */
static int scan_segment(struct journal *j, const char *name, bool newest,
			struct journal_recovery *rec, struct reader *rd, char *err, size_t errlen)
{
	uint64_t first_id;
	if (sscanf(name, "seg-%16" SCNx64 ".log", &first_id) != 1)
		return 0;
	char *path = xasprintf("%s/%s", j->dir, name);
	rd->f = fopen(path, j->readonly ? "re" : "r+e");
	if (rd->f == NULL) {
		snprintf(err, errlen, "cannot open journal segment '%s': %s", path,
			 strerror(errno));
		free(path);
		return -1;
	}
	struct segment *s = seg_push(j, first_id);
	rec->segments++;
	if (first_id > j->next_id)
		j->next_id = first_id;

	char magic[MAGIC_LEN];
	uint64_t good = 0;
	int rc = -1;
	struct stat st;
	rd->left = fstat(fileno(rd->f), &st) == 0 ? (uint64_t)st.st_size : 0;
	if (fread(magic, 1, MAGIC_LEN, rd->f) == MAGIC_LEN &&
	    memcmp(magic, MAGIC, MAGIC_LEN) == 0) {
		good = MAGIC_LEN;
		rd->left -= MAGIC_LEN;
		uint64_t id;
		int type;
		uint32_t len;
		while ((rc = read_record(rd, &id, &type, &len)) == 1) {
			struct spool_record r;
			if (type == REC_ITEM) {
				if (id < j->next_id || !parse_item(rd->payload, len, &r)) {
					rc = -1; /* ids only grow; a valid CRC over nonsense is
						    damage */
					break;
				}
				live_push(j, id, s->number, good);
				s->live++;
				j->next_id = id + 1;
			} else {
				struct entry *e = live_find(j, id);
				if (e != NULL && !e->done) {
					e->done = true;
					j->n_dead++;
					seg_of(j, e->seg)->live--;
				}
			}
			good += HEAD_LEN + len;
		}
	}
	fseeko(rd->f, 0, SEEK_END);
	uint64_t size = (uint64_t)ftello(rd->f);
	if (rc != 0 && size > good) {
		if (newest) {
			rec->torn_bytes += size - good;
		} else {
			rec->damaged_bytes += size - good;
			rec->damaged_segments++;
		}
		/* Cut, so that the damage is reported once, not at every start. */
		if (good >= MAGIC_LEN && !j->readonly && ftruncate(fileno(rd->f), (off_t)good) < 0)
			good = size;
	}
	s->bytes = good;
	fclose(rd->f);
	rd->f = NULL;
	if (good < MAGIC_LEN) { /* not even a header: it holds nothing */
		if (!j->readonly)
			unlink(path);
		j->n_segs--; /* the last pushed: numbers stay contiguous */
		j->seg_number--;
		j->dir_unsynced = true;
	}
	free(path);
	return 0;
}

static int name_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_segment(const struct dirent *d)
{
	return strncmp(d->d_name, "seg-", 4) == 0 && strlen(d->d_name) == 4 + 16 + 4 &&
	       strcmp(d->d_name + 20, ".log") == 0;
}

static struct journal *journal_load(const char *dir, uint64_t max_bytes, uint64_t segment_bytes,
				    bool readonly, struct journal_recovery *rec, char *err,
				    size_t errlen)
{
	*rec = (struct journal_recovery){0};
	if (!readonly && mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create journal directory '%s': %s", dir,
			 strerror(errno));
		return NULL;
	}
	struct dirent **names;
	int n = scandir(dir, &names, is_segment, name_order);
	if (n < 0) {
		snprintf(err, errlen, "cannot read journal directory '%s': %s", dir,
			 strerror(errno));
		return NULL;
	}
	struct journal *j = xcalloc(1, sizeof(*j));
	j->dir = xstrdup(dir);
	j->max_bytes = max_bytes;
	j->segment_bytes = segment_bytes;
	j->fd = -1;
	j->next_id = 1;
	j->readonly = readonly;

	struct reader rd = {0};
	int rc = 0;
	for (int i = 0; i < n; i++) {
		if (rc == 0)
			rc = scan_segment(j, names[i]->d_name, i == n - 1, rec, &rd, err, errlen);
		free(names[i]);
	}
	free(names);
	free(rd.payload);
	if (rc < 0) {
		journal_close(j);
		return NULL;
	}
	j->replay_segs = j->seg_number;
	/* A new segment is named by the next id: never the name of one found. */
	if (j->n_segs > 0 && j->segs[j->n_segs - 1].first_id >= j->next_id)
		j->next_id = j->segs[j->n_segs - 1].first_id + 1;
	for (size_t i = 0; i < j->n_live; i++)
		rec->items += !j->live[i].done;
	live_compact(j);
	/* All of them are old now: the next append starts a new segment. */
	if (!readonly)
		segs_trim(j, false);
	return j;
}

struct journal *journal_open(const char *dir, uint64_t max_bytes, uint64_t segment_bytes,
			     struct journal_recovery *rec, char *err, size_t errlen)
{
	return journal_load(dir, max_bytes, segment_bytes, false, rec, err, errlen);
}

int journal_check(const char *dir, bool repair, struct journal_recovery *rec, char *err,
		  size_t errlen)
{
	struct journal *j = journal_load(dir, UINT64_MAX, UINT64_MAX, !repair, rec, err, errlen);
	if (j == NULL)
		return -1;
	journal_close(j);
	return 0;
}

long journal_replay(struct journal *j, journal_replay_cb cb, void *arg, char *err, size_t errlen)
{
	struct reader rd = {0};
	uint64_t open_seg = UINT64_MAX;
	long count = 0;

	for (size_t i = 0; i < j->n_live; i++) {
		struct entry *e = &j->live[i];
		if (e->done || e->seg >= j->replay_segs)
			continue;
		if (e->seg != open_seg) {
			if (rd.f != NULL)
				fclose(rd.f);
			char *path = seg_path(j, seg_of(j, e->seg)->first_id);
			rd.f = fopen(path, "re");
			if (rd.f == NULL) {
				snprintf(err, errlen, "cannot read journal segment '%s': %s", path,
					 strerror(errno));
				free(path);
				free(rd.payload);
				return -1;
			}
			free(path);
			open_seg = e->seg;
		}
		uint64_t id;
		int type;
		uint32_t len;
		struct spool_record r;
		/* Read and checked at open: a failure now is a file changed under us. */
		if (fseeko(rd.f, (off_t)e->off, SEEK_SET) < 0 ||
		    read_record(&rd, &id, &type, &len) != 1 || id != e->id ||
		    !parse_item(rd.payload, len, &r)) {
			snprintf(err, errlen,
				 "journal segment of item %" PRIu64 " changed while read", e->id);
			fclose(rd.f);
			free(rd.payload);
			return -1;
		}
		cb(arg, e->id, &r);
		count++;
	}
	if (rd.f != NULL)
		fclose(rd.f);
	free(rd.payload);
	return count;
}

/* --- writing --------------------------------------------------------------------- */

static unsigned char *buf_grow(struct journal *j, size_t n)
{
	if (j->buf_len + n > j->buf_cap) {
		j->buf_cap = j->buf_len + n > 2 * j->buf_cap ? j->buf_len + n : 2 * j->buf_cap;
		j->buf = xrealloc(j->buf, j->buf_cap);
	}
	unsigned char *p = j->buf + j->buf_len;
	j->buf_len += n;
	return p;
}

static void buf_record(struct journal *j, int type, uint64_t id, const struct spool_record *r)
{
	size_t sl = r ? strnlen(r->stage, SPOOL_NAME_MAX) : 0;
	size_t ol = r ? strnlen(r->source, SPOOL_NAME_MAX) : 0;
	size_t len = r ? 2 + sl + ol + 20 + r->len : 0;
	unsigned char *h = buf_grow(j, HEAD_LEN + len), *p = h + HEAD_LEN;

	put_u32(h + 4, (uint32_t)len);
	put_u64(h + 8, id);
	h[16] = (unsigned char)type;
	h[17] = h[18] = h[19] = 0;
	if (r != NULL) {
		*p++ = (unsigned char)sl;
		memcpy(p, r->stage, sl);
		p += sl;
		*p++ = (unsigned char)ol;
		memcpy(p, r->source, ol);
		p += ol;
		put_u64(p, r->seq);
		put_u64(p + 8, r->index);
		put_u32(p + 16, r->attempts);
		memcpy(p + 20, r->data, r->len);
	}
	put_u32(h, crc32c(0, h + 4, HEAD_LEN - 4 + len));
}

/* Starts a new segment for what is buffered next. */
static int seg_start(struct journal *j)
{
	char *path = seg_path(j, j->next_id);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(path);
		return -1;
	}
	if (write(fd, MAGIC, MAGIC_LEN) != (ssize_t)MAGIC_LEN) {
		int e = errno ? errno : ENOSPC;
		close(fd);
		unlink(path);
		free(path);
		errno = e;
		return -1;
	}
	free(path);
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	struct segment *s = seg_push(j, j->next_id);
	s->bytes = MAGIC_LEN;
	s->synced = false;
	j->written += MAGIC_LEN;
	j->dir_unsynced = true;
	return 0;
}

int journal_append(struct journal *j, const struct spool_record *r, uint64_t *id)
{
	struct segment *last = j->fd >= 0 ? &j->segs[j->n_segs - 1] : NULL;
	if (last == NULL || last->bytes + j->buf_len >= j->segment_bytes) {
		char err[256];
		/* Cannot write (ENOSPC): the item goes on in the buffer of the segment it
		 * has, never unjournaled; the segment is started once writes work again. */
		bool flushed = j->buf_len == 0 || journal_flush(j, err, sizeof(err)) == 0;
		if (flushed ? seg_start(j) < 0 && last == NULL : last == NULL)
			return -1;
		last = &j->segs[j->n_segs - 1];
	}
	*id = j->next_id++;
	buf_record(j, REC_ITEM, *id, r);
	live_push(j, *id, last->number, 0);
	last->live++;
	return 0;
}

void journal_done(struct journal *j, uint64_t id)
{
	struct entry *e = live_find(j, id);
	if (e == NULL || e->done)
		return;
	e->done = true;
	j->n_dead++;
	seg_of(j, e->seg)->live--;
	/* Without a segment (none could be made) the mark is lost: after a crash, the
	 * item comes back once more; a duplicate, never a loss. */
	if (j->fd >= 0 || seg_start(j) == 0)
		buf_record(j, REC_DONE, id, NULL);
	live_compact(j);
}

int journal_flush(struct journal *j, char *err, size_t errlen)
{
	size_t at = 0;
	while (at < j->buf_len) {
		ssize_t w = write(j->fd, j->buf + at, j->buf_len - at);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = w < 0 ? errno : ENOSPC;
			snprintf(err, errlen, "cannot write the journal in '%s': %s", j->dir,
				 strerror(e));
			/* A part written stays on disk as a torn tail: cut it, keep all. */
			if (at > 0 && ftruncate(j->fd, (off_t)j->segs[j->n_segs - 1].bytes) == 0)
				lseek(j->fd, (off_t)j->segs[j->n_segs - 1].bytes, SEEK_SET);
			/* Segments whose items are all done go even so: that is what frees
			 * the room (their done marks, still buffered, then mark nothing). */
			segs_trim(j, true);
			errno = e;
			return -1;
		}
		at += (size_t)w;
	}
	struct segment *last = j->n_segs > 0 ? &j->segs[j->n_segs - 1] : NULL;
	if (last != NULL && j->buf_len > 0) {
		last->bytes += j->buf_len;
		last->synced = false;
		j->written += j->buf_len;
	}
	j->buf_len = 0;
	segs_trim(j, true);
	return 0;
}

bool journal_pending(const struct journal *j)
{
	return j->buf_len > 0;
}

bool journal_full(const struct journal *j)
{
	return journal_bytes(j) >= j->max_bytes;
}

/* --- syncing --------------------------------------------------------------------- */

bool journal_sync_begin(struct journal *j, struct journal_sync *s)
{
	*s = (struct journal_sync){.mark = j->written};
	if (j->written == j->synced && !j->dir_unsynced)
		return false;
	s->fds = xcalloc(j->n_segs + 1, sizeof(*s->fds));
	for (size_t i = 0; i < j->n_segs; i++) {
		if (j->segs[i].synced)
			continue;
		int fd = -1;
		if (i + 1 == j->n_segs && j->fd >= 0) {
			fd = dup(j->fd);
		} else {
			char *path = seg_path(j, j->segs[i].first_id);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			free(path);
		}
		if (fd >= 0)
			s->fds[s->n++] = fd;
		j->segs[i].synced = true;
	}
	if (j->dir_unsynced) {
		int fd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			s->fds[s->n++] = fd;
		j->dir_unsynced = false;
	}
	return true;
}

void journal_sync_run(struct journal_sync *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (fdatasync(s->fds[i]) < 0 && s->err == 0)
			s->err = errno;
		close(s->fds[i]);
	}
}

void journal_sync_end(struct journal *j, struct journal_sync *s)
{
	if (s->err == 0 && s->mark > j->synced)
		j->synced = s->mark;
	free(s->fds);
	s->fds = NULL;
}

uint64_t journal_written(const struct journal *j)
{
	return j->written;
}

uint64_t journal_synced_mark(const struct journal *j)
{
	return j->synced;
}

/* --- figures and close ----------------------------------------------------------- */

uint64_t journal_bytes(const struct journal *j)
{
	uint64_t b = j->buf_len;
	for (size_t i = 0; i < j->n_segs; i++)
		b += j->segs[i].bytes;
	return b;
}

uint64_t journal_items(const struct journal *j)
{
	return j->n_live - j->n_dead;
}

void journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->segs);
	free(j->live);
	free(j->buf);
	free(j->dir);
	free(j);
}
