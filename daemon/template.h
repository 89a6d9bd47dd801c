/*
 * template.h: "{}" (the item), "{seq}" (its sequence number) and "{source}" (its
 * source's name) in argv elements and generator templates. Expansion is plain
 * string substitution: nothing ever passes through a shell. Any other "{...}" is
 * left as written.
 */
#ifndef SLUICE_TEMPLATE_H
#define SLUICE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct template_vars {
	const char *item; /* may be NULL when the template has no {} */
	size_t item_len;
	uint64_t seq;
	const char *source;
};

/* Does s contain a placeholder? */
bool template_has_vars(const char *s);
/* Does s use the item itself ({})? */
bool template_uses_item(const char *s);
/* Returns a malloc'ed expansion; *out_len gets its length (it may hold NUL bytes). */
char *template_expand(const char *tmpl, const struct template_vars *v, size_t *out_len);
/*
 * The same for a URL: "{}" is percent-encoded (RFC 3986 unreserved characters
 * pass), except at the very start of the template, where the item is the URL
 * (or its beginning) and goes in as it is.
 */
char *template_expand_url(const char *tmpl, const struct template_vars *v, size_t *out_len);

#endif
