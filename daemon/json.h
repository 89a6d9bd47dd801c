/*
 * json.h: a small JSON reader (objects, arrays, strings with the escapes JSON
 * allows, numbers, true/false/null), for what sluice reads as JSON: `sluicectl`'s
 * `status json`, and the answers of a co-process with `framing: json`. Input is not
 * trusted: nesting is bounded, anything malformed is refused whole.
 */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include <stddef.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type type;
	double number; /* JSON_NUMBER; JSON_BOOL: 0 or 1 */
	char *string;  /* JSON_STRING, NUL-terminated, string_len bytes (\u0000 included) */
	size_t string_len;
	struct json *items; /* JSON_ARRAY, JSON_OBJECT: n values */
	char **keys;	    /* JSON_OBJECT: n keys */
	size_t n;
};

/* Parses text (the whole of it); NULL if it is not one JSON value. */
struct json *json_parse(const char *text);
void json_free(struct json *j);

/* The member key of an object (NULL if absent or j is not an object). */
const struct json *json_get(const struct json *j, const char *key);
/* Its number (dflt when absent or not a number), its string (dflt likewise). */
double json_num(const struct json *j, const char *key, double dflt);
const char *json_str(const struct json *j, const char *key, const char *dflt);
/* An array's length and item (0 and NULL if j is not an array). */
size_t json_len(const struct json *j);
const struct json *json_at(const struct json *j, size_t i);

#endif
