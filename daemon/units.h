/*
 * units.h: the config file's units. Durations "250ms", "5s", "2m", "1h" (also
 * "us", "d", and combinations like "1m30s"), sizes "512", "64KiB", "16MiB",
 * "1GiB" (also KB/MB/GB as powers of ten, and B), rates "100/s", "5/m", "2/h".
 * Each parser returns 0 on success, -1 with *err set to a static message on
 * failure. Formatters write into buf and return it (for --check output).
 */
#ifndef SLUICE_UNITS_H
#define SLUICE_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Durations are microseconds. */
int units_duration(const char *s, uint64_t *usec, const char **err);
/* Sizes are bytes. */
int units_size(const char *s, uint64_t *bytes, const char **err);
/* Rates are events per second. */
int units_rate(const char *s, double *per_sec, const char **err);

const char *units_format_duration(uint64_t usec, char *buf, size_t len);
const char *units_format_size(uint64_t bytes, char *buf, size_t len);
const char *units_format_rate(double per_sec, char *buf, size_t len);

#endif
