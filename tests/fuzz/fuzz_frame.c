/*
 * fuzz_frame.c: record framing of the fd sources (frame.c), driven as
 * source.c's fd_read drives it: split, make room, read a chunk, and at EOF take
 * the last record. Input: a flags byte (bit 0: NUL-delimited), max_item_bytes
 * (0..255), a seed for the read sizes, then the stream. What comes out is
 * checked against splitting the whole stream at once: every record in order,
 * one longer than max either whole or handed out once as too long (a prefix of
 * it over max). A read is never offered zero bytes of room (that would read as EOF).
 *
 * LINK: frame.o
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#define CHUNK 16 /* READ_CHUNK, scaled down with max */

static enum frame_res last(struct frame *f, const char **rec, size_t *len)
{
	return frame_last(f, rec, len) ? FRAME_RECORD : FRAME_MORE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	char delim = (data[0] & 1) ? '\0' : '\n';
	uint64_t max = data[1];
	uint32_t rnd = data[2] * 2654435761u + 1;
	const char *in = (const char *)data + 3;
	size_t n = size - 3, pos = 0;
	struct frame f = {.max = max, .delim = delim, .cap = max + CHUNK + 1};
	f.buf = malloc(f.cap);

	/* The expected records, one at a time, from the whole stream. */
	size_t next = 0;
	const char *rec;
	size_t len;
	enum frame_res r;
	bool eof = false;
	for (;;) {
		while ((r = eof ? last(&f, &rec, &len) : frame_next(&f, &rec, &len)) !=
		       FRAME_MORE) {
			if (next >= n)
				abort(); /* a record out of nothing */
			const char *d = memchr(in + next, delim, n - next);
			size_t want = d != NULL ? (size_t)(d - (in + next)) : n - next;
			if (r == FRAME_RECORD && (len != want || memcmp(rec, in + next, len) != 0))
				abort();
			if (r == FRAME_TOO_LONG && (want <= max || len <= max || len > want ||
						    memcmp(rec, in + next, len) != 0))
				abort();
			next += want + 1;
			if (eof)
				break;
		}
		if (eof)
			break;
		size_t room = frame_room(&f, CHUNK / 2);
		if (room == 0 || f.end + room > f.cap)
			abort();
		rnd = rnd * 1103515245u + 12345u;
		size_t c = 1 + (rnd >> 16) % (CHUNK + CHUNK / 2);
		if (c > room)
			c = room;
		if (c > n - pos)
			c = n - pos;
		if (c == 0) {
			eof = true;
			continue;
		}
		memcpy(f.buf + f.end, in + pos, c);
		f.end += c;
		pos += c;
	}
	/* Every record came out (the one after a final delimiter is empty and not one). */
	if (next < n)
		abort();
	free(f.buf);
	return 0;
}
