/*
 * frame.h: the framed reader's buffer, as the fd sources (file, stdin, exec, dir
 * with split) read into it: records end at a delimiter (newline or NUL), a
 * record longer than max is handed out once as too long (its first bytes) and
 * the rest of it, up to its delimiter, is skipped; at EOF a last record needs no
 * delimiter. No I/O and no loop here (source.c reads; the fuzz target feeds it).
 */
#ifndef SLUICE_FRAME_H
#define SLUICE_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct frame {
	char *buf; /* cap bytes: max plus a read's worth, so a record that fits fits */
	size_t start, end, cap;
	uint64_t max;
	char delim;
	bool skipping; /* inside a record that was too long, until its delimiter */
};

enum frame_res { FRAME_MORE, FRAME_RECORD, FRAME_TOO_LONG };

/*
 * The next record in the buffer: FRAME_RECORD with *rec and *len (without the
 * delimiter), FRAME_TOO_LONG with *rec and *len = the bytes of it held so far (more
 * than max), or FRAME_MORE when a read must come first. *rec stays valid until
 * the next frame_room().
 */
enum frame_res frame_next(struct frame *f, const char **rec, size_t *len);
/* Makes room for a read of at least `want` bytes where it can; the bytes free at buf + end. */
size_t frame_room(struct frame *f, size_t want);
/* At EOF: the last record without its delimiter, if any (then *rec and *len); empties f. */
bool frame_last(struct frame *f, const char **rec, size_t *len);

#endif
