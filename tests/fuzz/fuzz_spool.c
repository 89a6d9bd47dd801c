/*
 * fuzz_spool.c: reading a spool back (spool.c's spool_read), from an in-memory
 * file (a memfd, opened by its /proc path as a spool path would be). max_len is
 * 64 so that "over max_item_bytes" is reachable. Checked: a damaged file hands
 * out no record (it must not half-replay) and says why; a good one hands out its
 * records, each within max_len and read whole (copied, so ASan sees an overrun),
 * and as many as it returns. The damaged file cannot be moved aside here (procfs
 * refuses the rename), which spool_read reports like any failed rename.
 *
 * LINK: bio.o log.o spool.o util.o
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "spool.h"

#define MAX_LEN 64

static void record_cb(void *arg, const struct spool_record *r)
{
	long *n = arg;
	if (r->len > MAX_LEN || r->stage[0] == '\0' || r->source[0] == '\0')
		abort();
	char *copy = malloc(r->len + 1);
	memcpy(copy, r->data, r->len);
	free(copy);
	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz-spool", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	char err[1024] = "";
	long seen = 0;
	long n = spool_read(path, MAX_LEN, record_cb, &seen, err, sizeof(err));
	if (n < 0 && (seen != 0 || strstr(err, "is damaged") == NULL))
		abort();
	if (n >= 0 && n != seen)
		abort();
	return 0;
}
