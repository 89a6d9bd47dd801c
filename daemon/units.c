/*
 * units.c: the config file's durations, sizes and rates (SPEC §3).
 *
 * Parsing is exact integer arithmetic on the decimal text: "1.5s" or "0.5MiB" are
 * accepted only when they land on a whole microsecond or byte, so a value can
 * never round silently to zero (a "0.1us" timeout must not turn into "no
 * timeout"). Overflow is an error, never a wrap. The formatters pick the shortest
 * string that parses back to exactly the same value, so `sluiced --check` output
 * is itself a valid config. Error messages are static strings, for conf.c to quote.
 */
#include "units.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct unit {
	const char *name;
	uint64_t mult;
};

#define USEC_S (UINT64_C(1000000))

static const struct unit duration_units[] = {
    {"us", 1},
    {"\xc2\xb5s", 1}, /* MICRO SIGN, as Go accepts */
    {"\xce\xbcs", 1}, /* GREEK SMALL LETTER MU */
    {"ms", 1000},
    {"s", USEC_S},
    {"m", 60 * USEC_S},
    {"h", 3600 * USEC_S},
    {"d", 86400 * USEC_S},
};

/* Largest first, for formatting; the names are the canonical spellings. */
static const struct unit duration_fmt_units[] = {
    {"d", 86400 * USEC_S}, {"h", 3600 * USEC_S}, {"m", 60 * USEC_S},
    {"s", USEC_S},	   {"ms", 1000},	 {"us", 1},
};

#define KIB (UINT64_C(1024))

static const struct unit size_units[] = {
    {"B", 1},
    {"K", KIB},
    {"KiB", KIB},
    {"KB", 1000},
    {"kB", 1000},
    {"M", KIB *KIB},
    {"MiB", KIB *KIB},
    {"MB", 1000 * 1000},
    {"G", KIB *KIB *KIB},
    {"GiB", KIB *KIB *KIB},
    {"GB", 1000 * 1000 * 1000},
    {"T", KIB *KIB *KIB *KIB},
    {"TiB", KIB *KIB *KIB *KIB},
    {"TB", UINT64_C(1000) * 1000 * 1000 * 1000},
};

static const struct unit size_fmt_units[] = {
    {"TiB", KIB *KIB *KIB *KIB},
    {"GiB", KIB *KIB *KIB},
    {"MiB", KIB *KIB},
    {"KiB", KIB},
};

/*
 * A decimal as integer part plus fraction digits. Trailing zeros of the fraction
 * are dropped; more than 18 significant fraction digits can never scale to a whole
 * number with our units (they have at most 2^40 and 5^12 as factors), so they are
 * reported as too precise rather than carried in wider arithmetic.
 */
struct decimal {
	uint64_t ip;
	uint64_t frac;
	unsigned nfrac;
	bool overflow;
	bool too_precise;
};

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* Returns false when there is no digit at *pp; advances *pp past the number. */
static bool parse_decimal(const char **pp, struct decimal *d)
{
	const char *p = *pp;
	bool any = false;

	memset(d, 0, sizeof(*d));
	for (; is_digit(*p); p++) {
		unsigned dig = (unsigned)(*p - '0');
		any = true;
		if (d->ip > (UINT64_MAX - dig) / 10)
			d->overflow = true;
		else
			d->ip = d->ip * 10 + dig;
	}
	if (*p == '.') {
		const char *start = ++p, *end;
		while (is_digit(*p))
			p++;
		if (p > start)
			any = true;
		end = p;
		while (end > start && end[-1] == '0')
			end--;
		if (end - start > 18) {
			d->too_precise = true;
		} else {
			d->nfrac = (unsigned)(end - start);
			for (const char *q = start; q < end; q++)
				d->frac = d->frac * 10 + (uint64_t)(*q - '0');
		}
	}
	*pp = p;
	return any;
}

enum scale_result { SCALE_OK = 0, SCALE_OVERFLOW, SCALE_INEXACT };

static enum scale_result scale(const struct decimal *d, uint64_t mult, uint64_t *out)
{
	unsigned __int128 v, f;
	uint64_t p10 = 1;

	if (d->overflow)
		return SCALE_OVERFLOW;
	if (d->too_precise)
		return SCALE_INEXACT;
	v = (unsigned __int128)d->ip * mult;
	for (unsigned i = 0; i < d->nfrac; i++)
		p10 *= 10;
	f = (unsigned __int128)d->frac * mult;
	if (f % p10 != 0)
		return SCALE_INEXACT;
	v += f / p10;
	if (v > UINT64_MAX)
		return SCALE_OVERFLOW;
	*out = (uint64_t)v;
	return SCALE_OK;
}

/* The unit is the run of characters up to the next number or the end. */
static const struct unit *find_unit(const char **pp, const struct unit *units, size_t n)
{
	const char *p = *pp, *end = p;

	while (*end != '\0' && !is_digit(*end) && *end != '.')
		end++;
	for (size_t i = 0; i < n; i++) {
		if (strlen(units[i].name) == (size_t)(end - p) &&
		    memcmp(units[i].name, p, (size_t)(end - p)) == 0) {
			*pp = end;
			return &units[i];
		}
	}
	return NULL;
}

int units_duration(const char *s, uint64_t *usec, const char **err)
{
	const char *p = s;
	uint64_t total = 0;

	if (*p == '\0') {
		*err = "empty duration";
		return -1;
	}
	if (*p == '-') {
		*err = "a duration cannot be negative";
		return -1;
	}
	/* Zero is zero in any unit, and "timeout: 0" reads naturally (as in Go). */
	if (strcmp(s, "0") == 0) {
		*usec = 0;
		return 0;
	}
	while (*p != '\0') {
		struct decimal d;
		const struct unit *u;
		uint64_t v;

		if (!parse_decimal(&p, &d)) {
			*err = "expected a number";
			return -1;
		}
		if (*p == '\0') {
			*err = "a duration needs a unit (us, ms, s, m, h, d)";
			return -1;
		}
		if (*p == ' ' || *p == '\t') {
			*err = "no space allowed between a number and its unit";
			return -1;
		}
		u = find_unit(&p, duration_units, ARRAY_LEN(duration_units));
		if (u == NULL) {
			*err = "unknown duration unit (use us, ms, s, m, h, d)";
			return -1;
		}
		switch (scale(&d, u->mult, &v)) {
		case SCALE_OVERFLOW:
			*err = "duration too large";
			return -1;
		case SCALE_INEXACT:
			*err = "duration is not a whole number of microseconds";
			return -1;
		case SCALE_OK:
			break;
		}
		if (v > UINT64_MAX - total) {
			*err = "duration too large";
			return -1;
		}
		total += v;
	}
	*usec = total;
	return 0;
}

int units_size(const char *s, uint64_t *bytes, const char **err)
{
	const char *p = s;
	const struct unit *u;
	struct decimal d;
	uint64_t mult = 1;

	if (*p == '\0') {
		*err = "empty size";
		return -1;
	}
	if (*p == '-') {
		*err = "a size cannot be negative";
		return -1;
	}
	if (!parse_decimal(&p, &d)) {
		*err = "expected a number";
		return -1;
	}
	if (*p == ' ' || *p == '\t') {
		*err = "no space allowed between a number and its unit";
		return -1;
	}
	if (*p != '\0') {
		u = find_unit(&p, size_units, ARRAY_LEN(size_units));
		if (u == NULL || *p != '\0') {
			*err = "unknown size unit (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)";
			return -1;
		}
		mult = u->mult;
	}
	switch (scale(&d, mult, bytes)) {
	case SCALE_OVERFLOW:
		*err = "size too large";
		return -1;
	case SCALE_INEXACT:
		*err = "size is not a whole number of bytes";
		return -1;
	case SCALE_OK:
		break;
	}
	return 0;
}

/* [digits][.digits][e[+-]digits], with at least one mantissa digit: what %g prints. */
static bool scan_float(const char **pp)
{
	const char *p = *pp;
	bool any = false;

	while (is_digit(*p)) {
		p++;
		any = true;
	}
	if (*p == '.') {
		p++;
		while (is_digit(*p)) {
			p++;
			any = true;
		}
	}
	if (!any)
		return false;
	if (*p == 'e' || *p == 'E') {
		const char *q = p + 1;
		if (*q == '+' || *q == '-')
			q++;
		if (is_digit(*q)) {
			while (is_digit(*q))
				q++;
			p = q;
		}
	}
	*pp = p;
	return true;
}

int units_rate(const char *s, double *per_sec, const char **err)
{
	const char *p = s;
	double n, per;

	if (*p == '\0') {
		*err = "empty rate";
		return -1;
	}
	if (*p == '-') {
		*err = "a rate must be greater than 0";
		return -1;
	}
	if (!scan_float(&p)) {
		*err = "expected a number";
		return -1;
	}
	if (*p != '/') {
		*err = "a rate needs a unit, like 100/s, 5/m, 2/h";
		return -1;
	}
	if (strcmp(p, "/s") == 0) {
		per = 1;
	} else if (strcmp(p, "/m") == 0) {
		per = 60;
	} else if (strcmp(p, "/h") == 0) {
		per = 3600;
	} else {
		*err = "unknown rate unit (use /s, /m, /h)";
		return -1;
	}
	n = strtod(s, NULL);
	if (!isfinite(n)) {
		*err = "rate too large";
		return -1;
	}
	if (!(n > 0) || !(n / per > 0)) {
		*err = "a rate must be greater than 0";
		return -1;
	}
	*per_sec = n / per;
	return 0;
}

const char *units_format_duration(uint64_t usec, char *buf, size_t len)
{
	const size_t nu = ARRAY_LEN(duration_fmt_units);
	char best[128] = "", cur[128];

	if (usec == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	/*
	 * Each mask picks which units take their greedy share of what is left; the
	 * smallest unit always takes the rest, so every candidate is exact. 64 tries
	 * find both "90s" (shorter than "1m30s") and "2d1s" (shorter than "172801s").
	 */
	for (unsigned mask = (1u << nu) - 1;; mask--) {
		uint64_t rest = usec;
		size_t n = 0;

		cur[0] = '\0';
		for (size_t i = 0; i < nu; i++) {
			uint64_t m = duration_fmt_units[i].mult;
			if ((mask & (1u << i)) == 0 && i != nu - 1)
				continue;
			if (rest >= m) {
				n += (size_t)snprintf(cur + n, sizeof(cur) - n, "%llu%s",
						      (unsigned long long)(rest / m),
						      duration_fmt_units[i].name);
				rest %= m;
			}
		}
		if (best[0] == '\0' || strlen(cur) < strlen(best))
			memcpy(best, cur, sizeof(best));
		if (mask == 0)
			break;
	}
	snprintf(buf, len, "%s", best);
	return buf;
}

const char *units_format_size(uint64_t bytes, char *buf, size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(size_fmt_units); i++) {
		uint64_t m = size_fmt_units[i].mult;
		if (bytes != 0 && bytes % m == 0) {
			snprintf(buf, len, "%llu%s", (unsigned long long)(bytes / m),
				 size_fmt_units[i].name);
			return buf;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
	return buf;
}

const char *units_format_rate(double per_sec, char *buf, size_t len)
{
	static const struct {
		const char *name;
		double per;
	} rate_units[] = {{"/s", 1}, {"/m", 60}, {"/h", 3600}};
	char best[64] = "", cur[64];

	if (!isfinite(per_sec) || per_sec <= 0) {
		snprintf(buf, len, "%g/s", per_sec);
		return buf;
	}
	/*
	 * The shortest %g that units_rate() turns back into the same double, without
	 * an exponent when one will do ("1000000/s" reads better than "1e+06/s").
	 */
	for (size_t i = 0; i < ARRAY_LEN(rate_units); i++) {
		double v = per_sec * rate_units[i].per;
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(cur, sizeof(cur), "%.*g", prec, v);
			if (strchr(cur, 'e') != NULL ||
			    strtod(cur, NULL) / rate_units[i].per != per_sec)
				continue;
			strcat(cur, rate_units[i].name);
			if (best[0] == '\0' || strlen(cur) < strlen(best))
				memcpy(best, cur, sizeof(best));
			break;
		}
	}
	if (best[0] == '\0')
		snprintf(best, sizeof(best), "%.17g/s", per_sec);
	snprintf(buf, len, "%s", best);
	return buf;
}
