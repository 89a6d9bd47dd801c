/*
 * fuzz_units.c: the duration, size and rate parsers (units.c). The first byte
 * picks the parser, the rest is the string. A value that parses is formatted
 * (the --check output) and the formatted text must parse to the same value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	const char *err = NULL;
	char buf[64];
	switch (data[0] % 3) {
	case 0: {
		uint64_t v, w;
		if (units_duration(s, &v, &err) == 0) {
			units_format_duration(v, buf, sizeof(buf));
			if (units_duration(buf, &w, &err) != 0 || w != v) {
				fprintf(stderr, "duration '%s' = %llu formats as '%s'\n", s,
					(unsigned long long)v, buf);
				abort();
			}
		} else if (err == NULL) {
			abort();
		}
		break;
	}
	case 1: {
		uint64_t v, w;
		if (units_size(s, &v, &err) == 0) {
			units_format_size(v, buf, sizeof(buf));
			if (units_size(buf, &w, &err) != 0 || w != v) {
				fprintf(stderr, "size '%s' = %llu formats as '%s'\n", s,
					(unsigned long long)v, buf);
				abort();
			}
		} else if (err == NULL) {
			abort();
		}
		break;
	}
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
