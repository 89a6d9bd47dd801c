/* json.c: a recursive-descent JSON reader (see json.h). */
#include "json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_DEPTH 64

struct reader {
	const char *p;
	int depth;
};

static void skip_ws(struct reader *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

static void json_clear(struct json *j)
{
	free(j->string);
	for (size_t i = 0; i < j->n; i++) {
		json_clear(&j->items[i]);
		if (j->keys != NULL)
			free(j->keys[i]);
	}
	free(j->items);
	free(j->keys);
}

static void put_utf8(char *out, size_t *n, uint32_t c)
{
	if (c < 0x80) {
		out[(*n)++] = (char)c;
	} else if (c < 0x800) {
		out[(*n)++] = (char)(0xc0 | c >> 6);
		out[(*n)++] = (char)(0x80 | (c & 0x3f));
	} else {
		out[(*n)++] = (char)(0xe0 | c >> 12);
		out[(*n)++] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (c & 0x3f));
	}
}

/* A string at r->p (at the opening quote); NULL on an error. */
static char *read_string(struct reader *r, size_t *len)
{
	const char *s = ++r->p;
	size_t cap = 16, n = 0;
	char *out = xmalloc(cap);

	for (;;) {
		if (n + 4 >= cap)
			out = xrealloc(out, cap *= 2);
		unsigned char c = (unsigned char)*s;
		if (c == '"')
			break;
		if (c < 0x20)
			goto bad; /* also the end of the text */
		if (c != '\\') {
			out[n++] = (char)c;
			s++;
			continue;
		}
		s++;
		switch (*s) {
		case '"':
		case '\\':
		case '/':
			out[n++] = *s;
			break;
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'u': {
			uint32_t v = 0;
			for (int i = 1; i <= 4; i++) {
				char h = s[i];
				v <<= 4;
				if (h >= '0' && h <= '9')
					v |= (uint32_t)(h - '0');
				else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')
					v |= (uint32_t)((h | 0x20) - 'a' + 10);
				else
					goto bad;
			}
			put_utf8(out, &n, v); /* surrogates pass through unpaired: display only */
			s += 4;
			break;
		}
		default:
			goto bad;
		}
		s++;
	}
	out[n] = '\0';
	r->p = s + 1;
	if (len != NULL)
		*len = n;
	return out;
bad:
	free(out);
	return NULL;
}

static bool read_value(struct reader *r, struct json *j);

static bool read_container(struct reader *r, struct json *j, bool object)
{
	char close = object ? '}' : ']';
	size_t cap = 0;

	j->type = object ? JSON_OBJECT : JSON_ARRAY;
	r->p++;
	skip_ws(r);
	if (*r->p == close) {
		r->p++;
		return true;
	}
	for (;;) {
		if (j->n == cap) {
			cap = cap ? cap * 2 : 8;
			j->items = xrealloc(j->items, cap * sizeof(*j->items));
			if (object)
				j->keys = xrealloc(j->keys, cap * sizeof(*j->keys));
		}
		memset(&j->items[j->n], 0, sizeof(j->items[j->n]));
		if (object) {
			skip_ws(r);
			char *key = *r->p == '"' ? read_string(r, NULL) : NULL;
			if (key == NULL)
				return false;
			j->keys[j->n] = key;
			skip_ws(r);
			if (*r->p != ':') {
				j->n++;
				return false;
			}
			r->p++;
		}
		bool ok = read_value(r, &j->items[j->n]);
		j->n++;
		if (!ok)
			return false;
		skip_ws(r);
		if (*r->p == close) {
			r->p++;
			return true;
		}
		if (*r->p != ',')
			return false;
		r->p++;
	}
}

static bool read_value(struct reader *r, struct json *j)
{
	bool ok;

	skip_ws(r);
	if (++r->depth > MAX_DEPTH)
		return false;
	switch (*r->p) {
	case '{':
	case '[':
		ok = read_container(r, j, *r->p == '{');
		break;
	case '"':
		j->type = JSON_STRING;
		ok = (j->string = read_string(r, &j->string_len)) != NULL;
		break;
	case 't':
	case 'f':
	case 'n': {
		static const struct {
			const char *word;
			enum json_type type;
			double v;
		} words[] = {
		    {"true", JSON_BOOL, 1}, {"false", JSON_BOOL, 0}, {"null", JSON_NULL, 0}};
		ok = false;
		for (size_t i = 0; i < 3 && !ok; i++) {
			size_t len = strlen(words[i].word);
			if (strncmp(r->p, words[i].word, len) == 0) {
				j->type = words[i].type;
				j->number = words[i].v;
				r->p += len;
				ok = true;
			}
		}
		break;
	}
	default: {
		char *end;
		if (*r->p != '-' && (*r->p < '0' || *r->p > '9'))
			return false;
		j->type = JSON_NUMBER;
		j->number = strtod(r->p, &end);
		ok = end != r->p;
		r->p = end;
		break;
	}
	}
	r->depth--;
	return ok;
}

struct json *json_parse(const char *text)
{
	struct reader r = {text, 0};
	struct json *j = xcalloc(1, sizeof(*j));

	if (!read_value(&r, j) || (skip_ws(&r), *r.p != '\0')) {
		json_free(j);
		return NULL;
	}
	return j;
}

void json_free(struct json *j)
{
	if (j == NULL)
		return;
	json_clear(j);
	free(j);
}

const struct json *json_get(const struct json *j, const char *key)
{
	if (j == NULL || j->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < j->n; i++)
		if (strcmp(j->keys[i], key) == 0)
			return &j->items[i];
	return NULL;
}

double json_num(const struct json *j, const char *key, double dflt)
{
	const struct json *v = json_get(j, key);
	return v != NULL && (v->type == JSON_NUMBER || v->type == JSON_BOOL) ? v->number : dflt;
}

const char *json_str(const struct json *j, const char *key, const char *dflt)
{
	const struct json *v = json_get(j, key);
	return v != NULL && v->type == JSON_STRING ? v->string : dflt;
}

size_t json_len(const struct json *j)
{
	return j != NULL && j->type == JSON_ARRAY ? j->n : 0;
}

const struct json *json_at(const struct json *j, size_t i)
{
	return i < json_len(j) ? &j->items[i] : NULL;
}
