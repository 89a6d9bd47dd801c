/*
 * conf-json.c: sluiced --schema, a JSON Schema (draft 2020-12) of the pipeline
 * file made from the tables of conf-keys.c, for editors (the YAML language server
 * of VS Code, Neovim, Helix) to complete and check sluice.yaml.
 *
 * The schema is a little looser than the loader where YAML and sluice disagree on
 * types: every scalar may be a "${VAR}" string (substituted at load), numbers may
 * be written as digit strings, and strings may be written as numbers or booleans
 * (the loader takes a scalar's text). Rules that span keys stay with the loader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf-schema.h"
#include "util.h"

/* A value taken from the environment: checked only once substituted. */
#define ENV_REF	 "{\"$ref\":\"#/$defs/from_environment\"}"
#define SCALAR_T "[\"string\",\"number\",\"boolean\"]"

static void put_json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

/* The type's schema (without description or default). */
static void put_type(FILE *out, const struct conf_key *k)
{
	switch (k->type) {
	case CT_STR:
	case CT_ADDR:
		fputs("{\"type\":" SCALAR_T "}", out);
		break;
	case CT_NAME:
		fprintf(out,
			"{\"anyOf\":[{\"type\":\"string\",\"pattern\":\"^[A-Za-z0-9_.-]+$\","
			"\"maxLength\":%d}," ENV_REF "]}",
			CONF_NAME_MAX);
		break;
	case CT_UINT:
		fprintf(out,
			"{\"anyOf\":[{\"type\":\"integer\",\"minimum\":%llu,\"maximum\":%llu},"
			"{\"$ref\":\"#/$defs/digits\"}," ENV_REF "]}",
			(unsigned long long)k->min, (unsigned long long)k->max);
		break;
	case CT_COUNT:
		fputs("{\"anyOf\":[{\"type\":\"integer\",\"minimum\":0},{\"$ref\":\"#/$defs/"
		      "digits\"}," ENV_REF "]}",
		      out);
		break;
	case CT_SIZE:
		fputs("{\"$ref\":\"#/$defs/size\"}", out);
		break;
	case CT_DURATION:
		fputs("{\"$ref\":\"#/$defs/duration\"}", out);
		break;
	case CT_RATE:
		fputs("{\"$ref\":\"#/$defs/rate\"}", out);
		break;
	case CT_BOOL:
		fputs("{\"$ref\":\"#/$defs/boolean\"}", out);
		break;
	case CT_ENUM:
	case CT_KIND:
		fputs("{\"anyOf\":[{\"enum\":[", out);
		for (size_t i = 0; k->values[i] != NULL; i++) {
			if (i > 0)
				fputc(',', out);
			put_json_str(out, k->values[i]);
		}
		fputs("]},", out);
		if (k->flags & CF_BOOL_TOO)
			fputs("{\"$ref\":\"#/$defs/boolean\"},", out);
		fputs(ENV_REF "]}", out);
		break;
	case CT_ARGV:
		fputs("{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":" SCALAR_T "}}", out);
		break;
	case CT_ENV:
	case CT_HEADERS:
		fputs("{\"type\":\"object\",\"additionalProperties\":{\"type\":" SCALAR_T "}}",
		      out);
		break;
	case CT_FAILURES:
		fputs("{\"anyOf\":[{\"type\":\"integer\",\"minimum\":1},{\"type\":\"string\","
		      "\"pattern\":\"^[0-9]+%?$\"}," ENV_REF "]}",
		      out);
		break;
	case CT_BLOCK:
		fprintf(out, "{\"$ref\":\"#/$defs/%s\"}", k->sub->noun);
		break;
	case CT_LIST:
		fprintf(out, "{\"type\":%s,\"items\":{\"$ref\":\"#/$defs/%s\"}%s}",
			k->need != NULL ? "\"array\"" : "[\"array\",\"null\"]", k->sub->noun,
			k->need != NULL ? ",\"minItems\":1" : "");
		break;
	}
}

/* A default as JSON: numbers and booleans as such, the rest as the strings they are. */
static void put_default(FILE *out, const struct conf_key *k)
{
	if (k->type == CT_UINT)
		fputs(k->def, out);
	else if (k->type == CT_BOOL || (k->flags & CF_BOOL_TOO))
		fputs(strcmp(k->def, "true") == 0 ? "true" : "false", out);
	else
		put_json_str(out, k->def);
}

/*
 * The row that describes a key name: the first; a default only when every row
 * agrees; the description, every distinct doc of the rows (one per kind's meaning).
 */
static void put_property(FILE *out, const struct conf_table *t, size_t i)
{
	const struct conf_key *k = &t->keys[i];
	const char *def = k->def;
	char *doc = xstrdup(k->doc != NULL ? k->doc : "");

	for (size_t j = i + 1; j < t->n; j++) {
		const struct conf_key *o = &t->keys[j];
		if (strcmp(o->name, k->name) != 0)
			continue;
		if (!str_same(o->def, def))
			def = NULL;
		if (o->doc != NULL && strstr(doc, o->doc) == NULL) {
			char *more = xasprintf("%s %s", doc, o->doc);
			free(doc);
			doc = more;
		}
	}
	put_json_str(out, k->name);
	fputs(":{\"allOf\":[", out);
	put_type(out, k);
	fputs("],\"description\":", out);
	put_json_str(out, doc);
	free(doc);
	if (def != NULL) {
		fputs(",\"default\":", out);
		put_default(out, k);
	}
	fputc('}', out);
}

static bool first_of_name(const struct conf_table *t, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(t->keys[j].name, t->keys[i].name) == 0)
			return false;
	return true;
}

static bool name_applies(const struct conf_table *t, const char *name, unsigned kind_bit)
{
	for (size_t j = 0; j < t->n; j++)
		if (strcmp(t->keys[j].name, name) == 0 && (t->keys[j].kinds & kind_bit))
			return true;
	return false;
}

/* Per kind: the keys it requires, the keys that do not apply to it. */
static void put_kinds(FILE *out, const struct conf_table *t, const struct conf_key *kind_key)
{
	fputs(",\"allOf\":[", out);
	for (size_t kind = 0; t->kinds[kind] != NULL; kind++) {
		unsigned bit = CONF_KIND(kind);
		bool first = true, is_default = str_same(kind_key->def, t->kinds[kind]);

		if (kind > 0)
			fputc(',', out);
		fputs("{\"if\":{\"properties\":{", out);
		put_json_str(out, kind_key->name);
		fputs(":{\"const\":", out);
		put_json_str(out, t->kinds[kind]);
		fputs("}}", out);
		if (!is_default) {
			fputs(",\"required\":[", out);
			put_json_str(out, kind_key->name);
			fputc(']', out);
		}
		fputs("},\"then\":{\"required\":[", out);
		for (size_t i = 0; i < t->n; i++) {
			if (!(t->keys[i].required & bit) || t->keys[i].required == CONF_ALL_KINDS)
				continue;
			if (!first)
				fputc(',', out);
			put_json_str(out, t->keys[i].name);
			first = false;
		}
		fputs("],\"properties\":{", out);
		first = true;
		for (size_t i = 0; i < t->n; i++) {
			if (!first_of_name(t, i) || name_applies(t, t->keys[i].name, bit))
				continue;
			if (!first)
				fputc(',', out);
			put_json_str(out, t->keys[i].name);
			fputs(":false", out);
			first = false;
		}
		fputs("}}}", out);
	}
	fputc(']', out);
}

/* A stage: exactly one of the keys that pick its kind (exec, builtin, ...). */
static void put_one_of(FILE *out, const struct conf_table *t)
{
	bool first = true;

	fputs(",\"oneOf\":[", out);
	for (size_t i = 0; i < t->n; i++) {
		if (t->keys[i].kinds == CONF_ALL_KINDS)
			continue;
		if (!first)
			fputc(',', out);
		fputs("{\"required\":[", out);
		put_json_str(out, t->keys[i].name);
		fputs("]}", out);
		first = false;
	}
	fputc(']', out);
}

static void put_table(FILE *out, const struct conf_table *t)
{
	const struct conf_key *kind_key = NULL;
	bool first = true;

	fputs("{\"type\":\"object\",\"additionalProperties\":false,\"description\":", out);
	put_json_str(out, t->doc != NULL ? t->doc : t->noun);
	fputs(",\"properties\":{", out);
	for (size_t i = 0; i < t->n; i++) {
		if (!first_of_name(t, i))
			continue;
		if (i > 0)
			fputc(',', out);
		put_property(out, t, i);
		if (t->keys[i].flags & CF_KIND)
			kind_key = &t->keys[i];
	}
	fputs("},\"required\":[", out);
	for (size_t i = 0; i < t->n; i++) {
		if (t->keys[i].required != CONF_ALL_KINDS)
			continue;
		if (!first)
			fputc(',', out);
		put_json_str(out, t->keys[i].name);
		first = false;
	}
	fputc(']', out);
	if (kind_key != NULL)
		put_kinds(out, t, kind_key);
	else if (t->select != NULL)
		put_one_of(out, t);
	fputc('}', out);
}

/* Every table below t, once each, as "$defs" members. */
static void put_defs(FILE *out, const struct conf_table *t, const char **done, size_t *n_done)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct conf_table *sub = t->keys[i].sub;
		bool seen = false;
		if (sub == NULL)
			continue;
		for (size_t j = 0; j < *n_done && !seen; j++)
			seen = strcmp(done[j], sub->noun) == 0;
		if (seen)
			continue;
		done[(*n_done)++] = sub->noun;
		fputc(',', out);
		put_json_str(out, sub->noun);
		fputc(':', out);
		put_table(out, sub);
		put_defs(out, sub, done, n_done);
	}
}

static const char common_defs[] =
    "\"from_environment\":{\"type\":\"string\",\"pattern\":\"\\\\$\\\\{\","
    "\"description\":\"A value from the environment (${VAR} or ${VAR:-default}), "
    "checked once substituted.\"},"
    "\"digits\":{\"type\":\"string\",\"pattern\":\"^[0-9]+$\"},"
    "\"boolean\":{\"anyOf\":[{\"type\":\"boolean\"},{\"type\":\"string\",\"pattern\":"
    "\"^([tT][rR][uU][eE]|[fF][aA][lL][sS][eE]|[yY][eE][sS]|[nN][oO])$\"}," ENV_REF "]},"
    "\"duration\":{\"description\":\"Like 250ms, 5s, 2m, 1h, 1m30s (units us, ms, s, m, h, "
    "d); 0 is zero.\",\"anyOf\":[{\"const\":0},{\"type\":\"string\",\"pattern\":"
    "\"^(0|(([0-9]+\\\\.?[0-9]*|\\\\.[0-9]+)(us|\\u00b5s|\\u03bcs|ms|s|m|h|d))+)$\"},"
    "" ENV_REF "]},"
    "\"size\":{\"description\":\"Bytes, like 512, 64KiB, 16MiB, 1GiB (also B, KB, MB, GB, "
    "TB, TiB).\",\"anyOf\":[{\"type\":\"integer\",\"minimum\":1},{\"type\":\"string\","
    "\"pattern\":\"^([0-9]+\\\\.?[0-9]*|\\\\.[0-9]+)(B|K|KiB|KB|kB|M|MiB|MB|G|GiB|GB|T|TiB|"
    "TB)?$\"}," ENV_REF "]},"
    "\"rate\":{\"description\":\"Events per time, like 100/s, 5/m, 2/h.\",\"anyOf\":[{"
    "\"type\":\"string\",\"pattern\":\"^([0-9]+\\\\.?[0-9]*|\\\\.[0-9]+)/(s|m|h)$\"},"
    "" ENV_REF "]}";

/* Indents compact JSON (what the functions above write), outside strings. */
static void pretty(FILE *out, const char *s)
{
	int depth = 0;
	bool in_str = false;

	for (; *s != '\0'; s++) {
		char ch = *s;
		if (in_str) {
			fputc(ch, out);
			if (ch == '\\' && s[1] != '\0')
				fputc(*++s, out);
			else if (ch == '"')
				in_str = false;
			continue;
		}
		switch (ch) {
		case '"':
			in_str = true;
			fputc(ch, out);
			break;
		case '{':
		case '[':
			if (s[1] == (ch == '{' ? '}' : ']')) {
				fputc(ch, out);
				fputc(*++s, out);
				break;
			}
			depth++;
			fprintf(out, "%c\n%*s", ch, depth * 2, "");
			break;
		case '}':
		case ']':
			depth--;
			fprintf(out, "\n%*s%c", depth * 2, "", ch);
			break;
		case ',':
			fprintf(out, ",\n%*s", depth * 2, "");
			break;
		case ':':
			fputs(": ", out);
			break;
		default:
			fputc(ch, out);
		}
	}
	fputc('\n', out);
}

void conf_print_schema(FILE *out)
{
	const char *done[64];
	size_t n_done = 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fputs("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","
	      "\"title\":\"sluice pipeline (sluice.yaml)\",",
	      f);
	fputs("\"$defs\":{", f);
	fputs(common_defs, f);
	put_defs(f, &conf_top_table, done, &n_done);
	fputs("}", f);
	/* The top level: the same as any table, merged into the root object. */
	char *top = NULL;
	size_t top_len = 0;
	FILE *tf = open_memstream(&top, &top_len);
	put_table(tf, &conf_top_table);
	fclose(tf);
	fprintf(f, ",%s", top + 1);
	free(top);
	fclose(f);
	pretty(out, buf);
	free(buf);
}
