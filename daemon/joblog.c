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

/*
 * "Seq\tSource\tIndex\t...\n" into source and index. Anything else (the header,
 * a line torn by a crash, damage) is not a key: a torn "12\tin\t3" might have
 * been index 35, so a line counts only whole.
 */
static bool parse_line(const char *line, char *source, size_t srclen, uint64_t *index)
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
	return str_take_u64(p + n + 1, '\t', index) != NULL;
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
		/* The rest of an overlong line is not the start of one. */
		bool start = !continued;
		continued = strchr(line, '\n') == NULL;
		if (start && parse_line(line, source, sizeof(source), &index))
			done_set_add(d, source, index);
	}
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
	if (d->n > 1) /* qsort(NULL, 0, ...) is undefined */
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
