/*
 * fuzz_control.c: the control socket's request parser (control_parse in
 * control.c), given one request line as read_cb or event_cb hands it over. The
 * reply must be one line of printable text (a client cannot inject lines), and
 * the words a request names must be words of it.
 *
 * LINK: all (the loader, whose tables come from every kind: kinds.c)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

static void check_line(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			abort();
}

static void check_word(const char *w, const char *line, size_t size)
{
	if (w == NULL || w < line || w >= line + size || *w == '\0' || strpbrk(w, " \t") != NULL)
		abort();
	check_line(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1), err[512];
	struct control_request rq;
	memcpy(line, data, size);
	line[size] = '\0';
	err[0] = '\0';
	if (control_parse(line, size, &rq, err, sizeof(err)) < 0) {
		if (strncmp(err, "error: ", 7) != 0 || strlen(err) + 1 >= sizeof(err))
			abort();
		check_line(err);
	} else {
		switch (rq.cmd) {
		case CONTROL_PAUSE:
		case CONTROL_RESUME:
			check_word(rq.name, line, size);
			break;
		case CONTROL_SCALE:
			check_word(rq.name, line, size);
			check_word(rq.count, line, size);
			if (rq.workers > 100000 ||
			    (rq.workers != 0 && strtoul(rq.count, NULL, 10) != rq.workers))
				abort();
			break;
		default:
			if (rq.name != NULL)
				abort();
		}
	}
	free(line);
	return 0;
}
