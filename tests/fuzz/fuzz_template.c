/*
 * fuzz_template.c: placeholder expansion (template.c) as argv, generator and URL
 * templates use it. The input is "TEMPLATE\0ITEM" (the item may hold any byte).
 *
 * LINK: template.o util.o
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t tlen = nul != NULL ? (size_t)(nul - data) : size;
	char *tmpl = malloc(tlen + 1);
	memcpy(tmpl, data, tlen);
	tmpl[tlen] = '\0';
	const char *item = nul != NULL ? (const char *)nul + 1 : NULL;
	size_t item_len = nul != NULL ? size - tlen - 1 : 0;
	struct template_vars v = {
	    .item = item, .item_len = item_len, .seq = size * 7919u, .source = "src"};

	bool uses = template_uses_item(tmpl);
	if (uses && !template_has_vars(tmpl))
		abort();
	size_t n, un;
	char *out = template_expand(tmpl, &v, &n);
	char *url = template_expand_url(tmpl, &v, &un);
	if (out == NULL || url == NULL || out[n] != '\0' || url[un] != '\0')
		abort();
	/* Without placeholders both are the template itself. */
	if (!template_has_vars(tmpl) && (n != tlen || memcmp(out, tmpl, tlen) != 0 || un != tlen ||
					 memcmp(url, tmpl, tlen) != 0))
		abort();
	/* No item, no {}: the item's bytes cannot appear out of nowhere. */
	if (!uses && item_len > 0 && n > tlen + 64 * tlen)
		abort();
	free(out);
	free(url);
	free(tmpl);
	return 0;
}
