/*
 * fuzz_journal.c: opening a journal (journal.c) whose one segment holds arbitrary
 * bytes after the header. The first input byte says whether to mend the CRCs first
 * (walking the records by their length fields), so that the fuzzer reaches the
 * payload parsing past the checksum. Checked: the journal opens, hands back exactly
 * as many items as it counted, each with names within bounds, and the damage it cut
 * is gone: a second open finds no torn or damaged bytes and the same items.
 *
 * LINK: crc32c.o journal.o util.o
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "journal.h"

#define MAGIC "SLUICE-JOURNAL 1\n"

static char dir[64];

static void item_cb(void *arg, uint64_t id, const struct spool_record *r)
{
	uint64_t *n = arg;
	if (strlen(r->stage) > SPOOL_NAME_MAX || strlen(r->source) > SPOOL_NAME_MAX)
		abort();
	char *copy = malloc(r->len + 1);
	memcpy(copy, r->data, r->len);
	free(copy);
	(*n)++;
}

static void clean_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[600];
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (d != NULL)
		closedir(d);
}

/* Sets each record's CRC to match, as far as the length fields lead. */
static void mend(uint8_t *p, size_t size)
{
	size_t at = 0;
	while (size - at >= 20) {
		uint32_t len = (uint32_t)p[at + 4] | (uint32_t)p[at + 5] << 8 |
			       (uint32_t)p[at + 6] << 16 | (uint32_t)p[at + 7] << 24;
		if (len > size - at - 20)
			break;
		uint32_t crc = crc32c(0, p + at + 4, 16 + len);
		for (int i = 0; i < 4; i++)
			p[at + i] = (uint8_t)(crc >> (8 * i));
		at += 20 + len;
	}
}

static struct journal *open_count(struct journal_recovery *rec, uint64_t *items)
{
	char err[512];
	struct journal *j = journal_open(dir, 1 << 20, 1 << 16, rec, err, sizeof(err));
	if (j == NULL) {
		fprintf(stderr, "open failed: %s\n", err);
		abort();
	}
	*items = 0;
	long n = journal_replay(j, item_cb, items, err, sizeof(err));
	if (n < 0 || (uint64_t)n != *items || *items != rec->items)
		abort();
	return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "/dev/shm/fuzz-journal-%d", (int)getpid());
	}
	clean_dir();
	if (size == 0)
		return 0;
	uint8_t *body = malloc(size - 1 + 1);
	memcpy(body, data + 1, size - 1);
	if (data[0] & 1)
		mend(body, size - 1);
	char path[128];
	snprintf(path, sizeof(path), "%s/seg-0000000000000001.log", dir);
	struct journal_recovery rec;
	uint64_t items, again;
	/* journal_open makes the directory; the segment goes in before it reads. */
	struct journal *j = open_count(&rec, &items);
	journal_close(j);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, MAGIC, strlen(MAGIC)) < 0 ||
	    write(fd, body, size - 1) != (ssize_t)(size - 1))
		abort();
	close(fd);
	free(body);

	j = open_count(&rec, &items);
	journal_close(j);
	j = open_count(&rec, &again);
	if (rec.torn_bytes != 0 || rec.damaged_bytes != 0 || again != items)
		abort();
	journal_close(j);
	return 0;
}
