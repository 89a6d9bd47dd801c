/*
 * work-builtin.c: built-in operations that run on the loop, synchronously: each
 * item completes inside start(). They cost no allocation: the input item itself
 * is passed on, or dropped as filtered (counted ok: it was processed).
 *
 *   passthrough  every item goes on unchanged
 *   grep         items matching `pattern` (POSIX extended regex) go on; with
 *                `invert: true`, those that do not match
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>

#include "stage.h"
#include "util.h"

struct builtin {
	enum builtin_op op;
	bool invert;
	regex_t re;
};

static int builtin_init(struct stage *st, void **state, char *err, size_t errlen)
{
	const struct conf_stage *cs = stage_conf(st);
	struct builtin *b = xcalloc(1, sizeof(*b));
	b->op = cs->op;
	b->invert = cs->invert;
	if (b->op == BUILTIN_GREP) {
		int rc = regcomp(&b->re, cs->pattern, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			char msg[256];
			regerror(rc, &b->re, msg, sizeof(msg));
			snprintf(err, errlen, "stage '%s': bad pattern: %s", cs->name, msg);
			free(b);
			return -1;
		}
	}
	*state = b;
	return 0;
}

static void builtin_free(void *state)
{
	struct builtin *b = state;
	if (b == NULL)
		return;
	if (b->op == BUILTIN_GREP)
		regfree(&b->re);
	free(b);
}

static void builtin_start(struct stage_slot *slot)
{
	struct builtin *b = stage_slot_state(slot);
	struct item *it = stage_slot_item(slot);
	bool keep = true;

	if (b->op == BUILTIN_GREP) {
		/* REG_STARTEND: an item may hold NUL bytes; match over all of it. */
		regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)it->len};
		keep = (regexec(&b->re, it->data, 1, &m, REG_STARTEND) == 0) != b->invert;
	}
	stage_slot_done(slot, keep ? stage_slot_take_item(slot) : NULL, NULL);
}

static void builtin_cancel(struct stage_slot *slot)
{
	/* Never running outside start(). */
}

const struct worker_kind work_builtin = {
    .name = "builtin",
    .synchronous = true,
    .init = builtin_init,
    .free = builtin_free,
    .start = builtin_start,
    .cancel = builtin_cancel,
};
