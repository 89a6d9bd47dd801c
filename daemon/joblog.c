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
		char source[128];
		uint64_t seq, index;
		if (sscanf(line, "%" SCNu64 "\t%127[^\t]\t%" SCNu64, &seq, source, &index) != 3)
			continue; /* the header, or a line torn by a crash */
		done_set_add(d, source, index);
	}
	free(line);
	fclose(f);
	done_set_sort(d);
	return d;
}

void done_set_add(struct done_set *d, const char *source, uint64_t index)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 256;
		d->v = xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	d->v[d->n].source = xstrdup(source);
	d->v[d->n].index = index;
	d->n++;
}

void done_set_sort(struct done_set *d)
{
	qsort(d->v, d->n, sizeof(*d->v), key_cmp);
}

bool done_set_has(const struct done_set *d, const char *source, uint64_t index)
{
	struct done_key k = {(char *)source, index};
	return d != NULL && d->n > 0 && bsearch(&k, d->v, d->n, sizeof(*d->v), key_cmp) != NULL;
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
