/*
 * fuzz_conf.c: the config loader (conf.c with the units and templates it checks)
 * on arbitrary YAML. conf_load() reads a path, so each input is written to a
 * memfd and loaded through /proc/self/fd. A config that loads is printed (the
 * --check output, which reload compares) and that output must load again and
 * print the same: it is the daemon's own YAML.
 * FUZZ_DICT: yaml.dict
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"

static int fd = -1;
static char path[64];
static FILE *devnull;

static struct conf *load(const void *data, size_t size)
{
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	return conf_load(path, devnull, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fd < 0) {
		fd = memfd_create("fuzz_conf.yaml", 0);
		devnull = fopen("/dev/null", "w");
		if (fd < 0 || devnull == NULL)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
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
