/*
 * joblog.c: reading a joblog into the set of done items (see joblog.h). Writing
 * is a sink (buffered, whole lines) driven by the pipeline. The set is a sorted
 * array of (source, index) searched by bisection: built once, read per record.
 */
#include "joblog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char joblog_header[] =
    "Seq\tSource\tIndex\tStage\tStart\tDuration\tAttempts\tOutcome\tExitval\tSignal";

struct done_key {
	char *source;
	uint64_t index;
	size_t order; /* read order: of one key's lines, the last one counts */
	bool failed;
};

struct done_set {
	struct done_key *v;
	size_t n, cap;
};

static int key_cmp(const void *a, const void *b)
{
	const struct done_key *x = a, *y = b;
	int c = strcmp(x->source, y->source);
	if (c != 0)
		return c;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return (x->order > y->order) - (x->order < y->order);
}

/* The key alone, for lookups. */
static int key_find_cmp(const void *a, const void *b)
{
	const struct done_key *x = a, *y = b;
	int c = strcmp(x->source, y->source);
	if (c != 0)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * "Seq\tSource\tIndex\t...\tOutcome\t...\n" into source, index and whether Outcome
 * is failed. Anything else (the header,
 * a line torn by a crash, damage) is not a key: a torn "12\tin\t3" might have
 * been index 35, so a line counts only whole.
 */
static bool parse_line(const char *line, char *source, size_t srclen, uint64_t *index, bool *failed)
{
	uint64_t seq;
	const char *p = str_take_u64(line, '\t', &seq);
	if (p == NULL || strchr(p, '\n') == NULL)
		return false;
	size_t n = strcspn(p, "\t\n");
	if (n == 0 || n >= srclen || p[n] != '\t')
		return false;
	memcpy(source, p, n);
	source[n] = '\0';
	p = str_take_u64(p + n + 1, '\t', index);
	if (p == NULL)
		return false;
	/* Outcome is the 8th field: skip Stage, Start, Duration, Attempts. */
	for (int field = 0; field < 4 && p != NULL; field++) {
		p = strchr(p, '\t');
		p = p != NULL ? p + 1 : NULL;
	}
	*failed = p != NULL && strncmp(p, "failed", 6) == 0;
	return true;
}

struct done_set *joblog_read_done(const char *path, char *err, size_t errlen)
{
	struct done_set *d = xcalloc(1, sizeof(*d));
	/* Longer than any line sluice writes (names are at most 127 bytes). */
	char line[1024];
	bool continued = false;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		if (errno == ENOENT)
			return d;
		snprintf(err, errlen, "cannot read joblog '%s': %s", path, strerror(errno));
		free(d);
		return NULL;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char source[128]; /* conf.h CONF_NAME_MAX + 1 */
		uint64_t index;
		bool failed;
		/* The rest of an overlong line is not the start of one. */
		bool start = !continued;
		continued = strchr(line, '\n') == NULL;
		if (start && parse_line(line, source, sizeof(source), &index, &failed))
			done_set_add(d, source, index, failed);
	}
	fclose(f);
	done_set_sort(d);
	return d;
}

void done_set_add(struct done_set *d, const char *source, uint64_t index, bool failed)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 256;
		d->v = xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	d->v[d->n].source = xstrdup(source);
	d->v[d->n].index = index;
	d->v[d->n].order = d->n;
	d->v[d->n].failed = failed;
	d->n++;
}

/* Sorts, and keeps the last line of each key. */
void done_set_sort(struct done_set *d)
{
	size_t out = 0;
	if (d->n > 1)
		qsort(d->v, d->n, sizeof(*d->v), key_cmp);
	for (size_t i = 0; i < d->n; i++) {
		if (i + 1 < d->n && key_find_cmp(&d->v[i], &d->v[i + 1]) == 0) {
			free(d->v[i].source);
			continue;
		}
		d->v[out] = d->v[i];
		d->v[out].order = out;
		out++;
	}
	d->n = out;
}

enum done_state done_set_lookup(const struct done_set *d, const char *source, uint64_t index)
{
	struct done_key k = {(char *)source, index, 0, false};
	const struct done_key *hit;
	if (d == NULL || d->n == 0)
		return DONE_NONE;
	hit = bsearch(&k, d->v, d->n, sizeof(*d->v), key_find_cmp);
	return hit == NULL ? DONE_NONE : hit->failed ? DONE_FAILED : DONE_OK;
}

size_t done_set_failed(const struct done_set *d)
{
	size_t n = 0;
	for (size_t i = 0; d != NULL && i < d->n; i++)
		n += d->v[i].failed;
	return n;
}

size_t done_set_size(const struct done_set *d)
{
	return d != NULL ? d->n : 0;
}

void done_set_free(struct done_set *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].source);
	free(d->v);
	free(d);
}
