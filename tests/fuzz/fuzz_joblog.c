/*
 * fuzz_joblog.c: reading a joblog back for --resume (joblog.c's
 * joblog_read_done), from an in-memory file (a memfd opened by its /proc path).
 * Checked: it never fails on content (only a file that cannot be opened fails),
 * the set it builds is searchable (a few keys looked up) and freed whole (leaks
 * are errors), and a key on the first line, when that line is whole and
 * well-formed, is found.
 *
 * LINK: joblog.o util.o
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "joblog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz-joblog", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	char err[512] = "";
	struct done_set *d = joblog_read_done(path, err, sizeof(err));
	if (d == NULL)
		abort();
	/*
	 * The first line, when it is "<seq>\t<source>\t<index>\t...\n" with fields
	 * of 1-19 digits and a source of 1-127 bytes, in a line shorter than the
	 * reader's buffer: its key must be in the set.
	 */
	const char *p = (const char *)data, *end = memchr(data, '\n', size < 1000 ? size : 1000);
	size_t ds = end != NULL ? strspn(p, "0123456789") : 0;
	if (end != NULL && memchr(data, '\0', (size_t)(end - p)) == NULL && ds > 0 && ds < 20 &&
	    p[ds] == '\t') {
		const char *src = p + ds + 1;
		size_t sl = strcspn(src, "\t\n");
		const char *ip = src + sl + 1; /* read only after a tab, so before the newline */
		size_t is = src[sl] == '\t' ? strspn(ip, "0123456789") : 0;
		if (sl > 0 && sl < 128 && is > 0 && is < 20 && ip[is] == '\t') {
			char source[128];
			memcpy(source, src, sl);
			source[sl] = '\0';
			if (done_set_lookup(d, source, strtoull(ip, NULL, 10)) == DONE_NONE)
				abort();
		}
	}
	done_set_lookup(d, "in", 1);
	done_set_lookup(d, "", 0);
	if (done_set_size(d) > size)
		abort();
	done_set_free(d);
	return 0;
}
