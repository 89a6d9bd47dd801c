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

static const char *const builtin_op_names[] = {"passthrough", "grep", NULL};

static bool check_regex(struct conf_ctx *x, const yaml_node_t *v, void *field)
{
	regex_t re;
	int rc = regcomp(&re, *(char **)field, REG_EXTENDED | REG_NOSUB);

	if (rc == 0) {
		regfree(&re);
		return true;
	}
	char msg[256];
	regerror(rc, &re, msg, sizeof(msg));
	conf_err(x, v, "'pattern' is not a valid extended regular expression: %s", msg);
	return false;
}

static const struct conf_key builtin_keys[] = {
    {"op", CT_ENUM, CF_KIND, .off = CONF_STG(op), .values = builtin_op_names,
     .kinds = CONF_ALL_KINDS, .required = CONF_ALL_KINDS,
     .doc = "passthrough, or grep: keep the items that match."},
    {"pattern", CT_STR, .off = CONF_STG(pattern), .kinds = CONF_KIND(BUILTIN_GREP),
     .required = CONF_KIND(BUILTIN_GREP), .check = check_regex,
     .doc = "grep: a POSIX extended regular expression."},
    {"invert", CT_BOOL, .off = CONF_STG(invert), .def = "false", .kinds = CONF_KIND(BUILTIN_GREP),
     .doc = "grep: keep the items that do not match."},
};
static const struct conf_table builtin_table = {
    .noun = "builtin",
    .keys = builtin_keys,
    .n = ARRAY_LEN(builtin_keys),
    .kinds = builtin_op_names,
    .kind_off = CONF_STG(op),
    .not_apply_fmt = "'%s' does not apply to builtin op '%s' (only to %s)",
    .need_fmt = "builtin %2$s in %1$s needs '%3$s'",
    .need_kind_fmt = "'builtin' of %s needs '%s' (passthrough or grep)",
    .doc = "An operation inside the daemon.",
};

static const struct conf_key builtin_block_row = {
    "builtin", CT_BLOCK, .sub = &builtin_table,
    .doc = "An operation inside the daemon: passthrough or grep."};

const struct worker_kind work_builtin = {
    .conf = {.name = "builtin", CONF_ROWS(&builtin_block_row)},
    .synchronous = true,
    .init = builtin_init,
    .free = builtin_free,
    .start = builtin_start,
    .cancel = builtin_cancel,
};
