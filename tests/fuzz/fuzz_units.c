/*
 * fuzz_units.c: the config's value parsers: durations, sizes and rates (units.c),
 * HOST:PORT and http:// URLs (conf.c). The first byte picks the parser, the rest
 * is the string. A unit that parses is formatted (the --check output) and the
 * formatted text must parse to the same value; an address gives a host that
 * fits the callers' buffer and a port from 1 to 65535.
 *
 * LINK: all (the loader, whose tables come from every kind: kinds.c)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "units.h"

/* A value that parses formats to text that parses to the same value. */
static void round_trip(const char *s, int (*parse)(const char *, uint64_t *, const char **),
		       const char *(*format)(uint64_t, char *, size_t))
{
	const char *err = NULL;
	char buf[64];
	uint64_t v, w;
	if (parse(s, &v, &err) != 0) {
		if (err == NULL)
			abort();
		return;
	}
	format(v, buf, sizeof(buf));
	if (parse(buf, &w, &err) != 0 || w != v) {
		fprintf(stderr, "'%s' = %llu formats as '%s'\n", s, (unsigned long long)v, buf);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	const char *err = NULL;
	char buf[64];
	char host[256];
	unsigned port = 0;
	const char *path = NULL;
	switch (data[0] % 5) {
	case 0:
		round_trip(s, units_duration, units_format_duration);
		break;
	case 1:
		round_trip(s, units_size, units_format_size);
		break;
	case 3:
	case 4:
		memset(host, 'x', sizeof(host));
		if ((data[0] % 5 == 3
			 ? conf_parse_hostport(s, host, sizeof(host), &port, &err)
			 : conf_parse_url(s, host, sizeof(host), &port, &path, &err)) == 0) {
			if (memchr(host, '\0', sizeof(host)) == NULL || port < 1 || port > 65535 ||
			    (data[0] % 5 == 4 && path == NULL))
				abort();
		} else if (err == NULL) {
			abort();
		}
		break;
	default: {
		double v, w;
		if (units_rate(s, &v, &err) == 0) {
			units_format_rate(v, buf, sizeof(buf));
			if (units_rate(buf, &w, &err) != 0) {
				fprintf(stderr, "rate '%s' = %g formats as '%s'\n", s, v, buf);
				abort();
			}
		} else if (err == NULL) {
			abort();
		}
		break;
	}
	}
	free(s);
	return 0;
}
