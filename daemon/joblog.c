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

struct done_set *joblog_read_done(const char *path, char *err, size_t errlen)
{
	struct done_set *d = xcalloc(1, sizeof(*d));
	char *line = NULL;
	size_t linecap = 0;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		if (errno == ENOENT)
			return d;
		snprintf(err, errlen, "cannot read joblog '%s': %s", path, strerror(errno));
		free(d);
		return NULL;
	}
	while (getline(&line, &linecap, f) > 0) {
		char source[128], outcome[32] = "";
		uint64_t seq, index;
		if (sscanf(line,
			   "%" SCNu64 "\t%127[^\t]\t%" SCNu64 "\t%*[^\t]\t%*[^\t]\t%*[^\t]\t%*[^\t]\t%31[^\t\n]",
			   &seq, source, &index, outcome) < 3)
			continue; /* the header, or a line torn by a crash */
		done_set_add(d, source, index, strncmp(outcome, "failed", 6) == 0);
	}
	free(line);
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
