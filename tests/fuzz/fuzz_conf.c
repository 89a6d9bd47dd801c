/*
 * fuzz_conf.c: the config loader (conf.c with the units and templates it checks)
 * on arbitrary YAML. conf_load() reads a path, so each input is written to a
 * memfd and loaded through /proc/self/fd. A config that loads is printed (the
 * --check output, which reload compares) and that output must load again and
 * print the same: it is the daemon's own YAML. A config that does not load
 * must say why, every error as "FILE:LINE:COL: message" within the file.
 * FUZZ_DICT: yaml.dict
 *
 * LINK: all (the loader, whose tables come from every kind: kinds.c)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "kinds.h"

static int fd = -1;
static char path[64];

/* Each error line names a place in the file (or says the count was cut short). */
static void check_errors(const char *errs, const uint8_t *data, size_t size)
{
	/* Lines as libyaml counts them: LF, CR, CRLF, NEL, LS, PS end one. */
	size_t lines = 1, plen = strlen(path);
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n' ||
			 (data[i] == '\r' && (i + 1 == size || data[i + 1] != '\n')) ||
			 (i + 1 < size && data[i] == 0xC2 && data[i + 1] == 0x85) ||
			 (i + 2 < size && data[i] == 0xE2 && data[i + 1] == 0x80 &&
			  (data[i + 2] == 0xA8 || data[i + 2] == 0xA9));
	if (*errs == '\0')
		abort(); /* refused without a word */
	for (const char *l = errs; *l != '\0'; l = strchr(l, '\n') + 1) {
		unsigned long line, col;
		int used = 0;
		if (strncmp(l, path, plen) != 0 || l[plen] != ':' || strchr(l, '\n') == NULL)
			abort();
		if (strncmp(l + plen, ": too many errors", 17) == 0)
			continue;
		if (sscanf(l + plen, ":%lu:%lu: %n", &line, &col, &used) != 2 || used == 0 ||
		    line < 1 || col < 1 || line > lines || l[plen + used] == '\n') {
			fprintf(stderr, "a bad error line (the file has %zu lines): %.*s\n", lines,
				(int)(strchr(l, '\n') - l), l);
			abort();
		}
	}
}

static struct conf *load(const void *data, size_t size)
{
	char *errs = NULL;
	size_t elen = 0;
	FILE *ef = open_memstream(&errs, &elen);
	if (ef == NULL || ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	struct conf *c = conf_load(path, ef, NULL);
	fclose(ef);
	if (c == NULL)
		check_errors(errs, data, size);
	free(errs);
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fd < 0) {
		fd = memfd_create("fuzz_conf.yaml", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		kinds_register();
	}
	struct conf *c = load(data, size);
	if (c == NULL)
		return 0;
	char *printed = conf_printed(c);
	for (size_t i = 0; i < c->n_sources; i++)
		free(conf_printed_source(&c->sources[i]));
	free(conf_printed_sinks(c));
	conf_free(c);

	struct conf *again = load(printed, strlen(printed));
	if (again == NULL) {
		fprintf(stderr, "the printed config does not load:\n%s", printed);
		abort();
	}
	char *printed2 = conf_printed(again);
	if (strcmp(printed, printed2) != 0) {
		fprintf(stderr, "printing is not stable:\n%s\n----\n%s", printed, printed2);
		abort();
	}
	free(printed2);
	free(printed);
	conf_free(again);
	return 0;
}
