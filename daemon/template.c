/* template.c: placeholder expansion (see template.h). */
#include "template.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

bool template_has_vars(const char *s)
{
	return strstr(s, "{}") != NULL || strstr(s, "{seq}") != NULL ||
	       strstr(s, "{source}") != NULL;
}

bool template_uses_item(const char *s)
{
	return strstr(s, "{}") != NULL;
}

/* RFC 3986 unreserved characters pass; every other byte is %XX. */
static void put_url_escaped(struct strbuf *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			strbuf_add(o, s + i, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			strbuf_add(o, e, 3);
		}
	}
}

static char *expand(const char *tmpl, const struct template_vars *v, size_t *out_len, bool url);

char *template_expand(const char *tmpl, const struct template_vars *v, size_t *out_len)
{
	return expand(tmpl, v, out_len, false);
}

char *template_expand_url(const char *tmpl, const struct template_vars *v, size_t *out_len)
{
	return expand(tmpl, v, out_len, true);
}

static char *expand(const char *tmpl, const struct template_vars *v, size_t *out_len, bool url)
{
	struct strbuf o = {0};
	const char *s = tmpl;
	char num[32];

	strbuf_add(&o, "", 0);
	while (*s != '\0') {
		const char *brace = strchr(s, '{');
		if (brace == NULL) {
			strbuf_add(&o, s, strlen(s));
			break;
		}
		strbuf_add(&o, s, (size_t)(brace - s));
		if (strncmp(brace, "{}", 2) == 0) {
			/* In a URL the item is escaped, unless it is where the URL begins. */
			if (v->item != NULL && url && brace != tmpl)
				put_url_escaped(&o, v->item, v->item_len);
			else if (v->item != NULL)
				strbuf_add(&o, v->item, v->item_len);
			s = brace + 2;
		} else if (strncmp(brace, "{seq}", 5) == 0) {
			int n = snprintf(num, sizeof(num), "%" PRIu64, v->seq);
			strbuf_add(&o, num, (size_t)n);
			s = brace + 5;
		} else if (strncmp(brace, "{source}", 8) == 0) {
			if (v->source != NULL)
				strbuf_add(&o, v->source, strlen(v->source));
			s = brace + 8;
		} else {
			strbuf_add(&o, brace, 1);
			s = brace + 1;
		}
	}
	if (out_len != NULL)
		*out_len = o.len;
	return o.p;
}
