/* frame.c: splitting a read buffer into records (see frame.h). */
#include "frame.h"

#include <string.h>

enum frame_res frame_next(struct frame *f, const char **rec, size_t *len)
{
	while (f->start < f->end) {
		char *base = f->buf + f->start;
		size_t avail = f->end - f->start;
		char *d = memchr(base, f->delim, avail);
		if (d == NULL) {
			if (f->skipping) {
				f->start = f->end;
			} else if (avail > f->max) {
				f->skipping = true;
				f->start = f->end;
				*rec = base;
				*len = avail;
				return FRAME_TOO_LONG;
			}
			return FRAME_MORE;
		}
		size_t n = (size_t)(d - base);
		f->start += n + 1;
		if (f->skipping) {
			f->skipping = false;
			continue;
		}
		*rec = base;
		*len = n;
		return FRAME_RECORD;
	}
	return FRAME_MORE;
}

size_t frame_room(struct frame *f, size_t want)
{
	if (f->start == f->end) {
		f->start = f->end = 0;
	} else if (f->cap - f->end < want && f->start > 0) {
		memmove(f->buf, f->buf + f->start, f->end - f->start);
		f->end -= f->start;
		f->start = 0;
	}
	return f->cap - f->end;
}

bool frame_last(struct frame *f, const char **rec, size_t *len)
{
	bool have = f->end > f->start && !f->skipping;
	if (have) {
		*rec = f->buf + f->start;
		*len = f->end - f->start;
	}
	f->start = f->end = 0;
	f->skipping = false;
	return have;
}
