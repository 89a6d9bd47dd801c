/*
 * test_units.c: every accepted form of durations, sizes and rates, every
 * rejection, and the formatters' promise that what they print parses back to the
 * same value (the --check output must itself be a valid config).
 *
 * LINK: units.o
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

#define S  UINT64_C(1000000)
#define KI UINT64_C(1024)

static uint64_t dur(const char *s)
{
	uint64_t v = 12345;
	const char *err = NULL;
	ck_assert_msg(units_duration(s, &v, &err) == 0, "'%s' rejected: %s", s, err);
	return v;
}

static const char *dur_err(const char *s)
{
	uint64_t v = 12345;
	const char *err = NULL;
	ck_assert_msg(units_duration(s, &v, &err) == -1, "'%s' accepted as %llu", s,
		      (unsigned long long)v);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(v == 12345, "'%s' wrote its output on failure", s);
	return err;
}

static uint64_t size(const char *s)
{
	uint64_t v = 12345;
	const char *err = NULL;
	ck_assert_msg(units_size(s, &v, &err) == 0, "'%s' rejected: %s", s, err);
	return v;
}

static const char *size_err(const char *s)
{
	uint64_t v = 12345;
	const char *err = NULL;
	ck_assert_msg(units_size(s, &v, &err) == -1, "'%s' accepted as %llu", s,
		      (unsigned long long)v);
	ck_assert_ptr_nonnull(err);
	return err;
}

static double rate(const char *s)
{
	double v = -1;
	const char *err = NULL;
	ck_assert_msg(units_rate(s, &v, &err) == 0, "'%s' rejected: %s", s, err);
	return v;
}

static const char *rate_err(const char *s)
{
	double v = -1;
	const char *err = NULL;
	ck_assert_msg(units_rate(s, &v, &err) == -1, "'%s' accepted as %g", s, v);
	ck_assert_ptr_nonnull(err);
	return err;
}

START_TEST(duration_single_units)
{
	ck_assert_uint_eq(dur("250ms"), 250000);
	ck_assert_uint_eq(dur("5s"), 5 * S);
	ck_assert_uint_eq(dur("2m"), 120 * S);
	ck_assert_uint_eq(dur("1h"), 3600 * S);
	ck_assert_uint_eq(dur("1d"), 86400 * S);
	ck_assert_uint_eq(dur("10us"), 10);
	ck_assert_uint_eq(dur("10\xc2\xb5s"), 10);
	ck_assert_uint_eq(dur("10\xce\xbcs"), 10);
	ck_assert_uint_eq(dur("0s"), 0);
	ck_assert_uint_eq(dur("0ms"), 0);
	ck_assert_uint_eq(dur("007s"), 7 * S);
}
END_TEST

START_TEST(duration_zero_needs_no_unit)
{
	ck_assert_uint_eq(dur("0"), 0);
}
END_TEST

START_TEST(duration_combinations)
{
	ck_assert_uint_eq(dur("1m30s"), 90 * S);
	ck_assert_uint_eq(dur("1h30m"), 5400 * S);
	ck_assert_uint_eq(dur("1d2h3m4s5ms6us"), 86400 * S + 7200 * S + 180 * S + 4 * S + 5006);
	ck_assert_uint_eq(dur("30s1m"), 90 * S);
	ck_assert_uint_eq(dur("1s1s"), 2 * S);
	ck_assert_uint_eq(dur("1.5m30s"), 120 * S);
}
END_TEST

START_TEST(duration_decimals)
{
	ck_assert_uint_eq(dur("1.5s"), 1500000);
	ck_assert_uint_eq(dur(".5s"), 500000);
	ck_assert_uint_eq(dur("1.s"), S);
	ck_assert_uint_eq(dur("0.001ms"), 1);
	ck_assert_uint_eq(dur("0.25h"), 900 * S);
	ck_assert_uint_eq(dur("1.000000000000000000000000s"), S);
	ck_assert_uint_eq(dur("0.000001s"), 1);
	ck_assert_uint_eq(dur("2.5d"), 216000 * S);
}
END_TEST

START_TEST(duration_limits)
{
	ck_assert_uint_eq(dur("18446744073709551615us"), UINT64_MAX);
	ck_assert_str_eq(dur_err("18446744073709551616us"), "duration too large");
	ck_assert_str_eq(dur_err("99999999999999999999999s"), "duration too large");
	ck_assert_str_eq(dur_err("213503983d"), "duration too large");
	ck_assert_str_eq(dur_err("18446744073709551615us1us"), "duration too large");
	ck_assert_uint_eq(dur("213503982d"), UINT64_C(213503982) * 86400 * S);
}
END_TEST

START_TEST(duration_rejections)
{
	ck_assert_str_eq(dur_err(""), "empty duration");
	ck_assert_str_eq(dur_err("5"), "a duration needs a unit (us, ms, s, m, h, d)");
	ck_assert_str_eq(dur_err("1.5"), "a duration needs a unit (us, ms, s, m, h, d)");
	ck_assert_str_eq(dur_err("1m30"), "a duration needs a unit (us, ms, s, m, h, d)");
	ck_assert_str_eq(dur_err("00"), "a duration needs a unit (us, ms, s, m, h, d)");
	ck_assert_str_eq(dur_err("fast"), "expected a number");
	ck_assert_str_eq(dur_err("s"), "expected a number");
	ck_assert_str_eq(dur_err(".s"), "expected a number");
	ck_assert_str_eq(dur_err("+5s"), "expected a number");
	ck_assert_str_eq(dur_err("5x"), "unknown duration unit (use us, ms, s, m, h, d)");
	ck_assert_str_eq(dur_err("5S"), "unknown duration unit (use us, ms, s, m, h, d)");
	ck_assert_str_eq(dur_err("5min"), "unknown duration unit (use us, ms, s, m, h, d)");
	ck_assert_str_eq(dur_err("5sec"), "unknown duration unit (use us, ms, s, m, h, d)");
	ck_assert_str_eq(dur_err("1e3s"), "unknown duration unit (use us, ms, s, m, h, d)");
	ck_assert_str_eq(dur_err("5s "), "unknown duration unit (use us, ms, s, m, h, d)");
	ck_assert_str_eq(dur_err("5 s"), "no space allowed between a number and its unit");
	ck_assert_str_eq(dur_err("-5s"), "a duration cannot be negative");
	ck_assert_str_eq(dur_err("1.5us"), "duration is not a whole number of microseconds");
	ck_assert_str_eq(dur_err("0.1us"), "duration is not a whole number of microseconds");
	ck_assert_str_eq(dur_err("0.0000001s"), "duration is not a whole number of microseconds");
	ck_assert_str_eq(dur_err("0.0000000000000000000001d"),
			 "duration is not a whole number of microseconds");
	dur_err("1..5s");
	dur_err("1.2.3s");
	dur_err("1m 30s");
}
END_TEST

START_TEST(duration_format)
{
	char b[64];
	ck_assert_str_eq(units_format_duration(0, b, sizeof(b)), "0s");
	ck_assert_str_eq(units_format_duration(1, b, sizeof(b)), "1us");
	ck_assert_str_eq(units_format_duration(250000, b, sizeof(b)), "250ms");
	ck_assert_str_eq(units_format_duration(1500000, b, sizeof(b)), "1500ms");
	ck_assert_str_eq(units_format_duration(5 * S, b, sizeof(b)), "5s");
	ck_assert_str_eq(units_format_duration(30 * S, b, sizeof(b)), "30s");
	ck_assert_str_eq(units_format_duration(60 * S, b, sizeof(b)), "1m");
	ck_assert_str_eq(units_format_duration(90 * S, b, sizeof(b)), "90s");
	ck_assert_str_eq(units_format_duration(3600 * S, b, sizeof(b)), "1h");
	ck_assert_str_eq(units_format_duration(5400 * S, b, sizeof(b)), "90m");
	ck_assert_str_eq(units_format_duration(86400 * S, b, sizeof(b)), "1d");
	ck_assert_str_eq(units_format_duration(2 * 86400 * S + S, b, sizeof(b)), "2d1s");
	ck_assert_str_eq(units_format_duration(3600 * S + S, b, sizeof(b)), "1h1s");
	ck_assert_str_eq(units_format_duration(S + 1, b, sizeof(b)), "1s1us");
}
END_TEST

START_TEST(duration_format_truncates_safely)
{
	char b[4];
	ck_assert_str_eq(units_format_duration(1500000, b, sizeof(b)), "150");
}
END_TEST

START_TEST(duration_format_round_trips)
{
	static const uint64_t fixed[] = {
	    0,	       1,	  999,		 1000,	     1001,	     S - 1,
	    S,	       S + 1,	  59 * S,	 61 * S,     3599 * S,	     3601 * S,
	    86399 * S, 86401 * S, 7 * 86400 * S, UINT64_MAX, UINT64_MAX - 1, UINT64_MAX / 2,
	};
	uint64_t x = 88172645463325252ull;
	char b[64];

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		ck_assert_uint_eq(dur(units_format_duration(fixed[i], b, sizeof(b))), fixed[i]);
	for (int i = 0; i < 2000; i++) {
		/* xorshift: deterministic, covers all magnitudes via the shift */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t v = x >> (x % 64);
		if (i % 3 == 0)
			v = (v % 100000) * S; /* whole seconds, where unit choice matters */
		ck_assert_uint_eq(dur(units_format_duration(v, b, sizeof(b))), v);
	}
}
END_TEST

START_TEST(size_forms)
{
	ck_assert_uint_eq(size("0"), 0);
	ck_assert_uint_eq(size("512"), 512);
	ck_assert_uint_eq(size("10B"), 10);
	ck_assert_uint_eq(size("64KiB"), 64 * KI);
	ck_assert_uint_eq(size("16MiB"), 16 * KI * KI);
	ck_assert_uint_eq(size("1GiB"), KI * KI * KI);
	ck_assert_uint_eq(size("2TiB"), 2 * KI * KI * KI * KI);
	ck_assert_uint_eq(size("1K"), KI);
	ck_assert_uint_eq(size("1M"), KI * KI);
	ck_assert_uint_eq(size("1G"), KI * KI * KI);
	ck_assert_uint_eq(size("1T"), KI * KI * KI * KI);
	ck_assert_uint_eq(size("1KB"), 1000);
	ck_assert_uint_eq(size("1kB"), 1000);
	ck_assert_uint_eq(size("1MB"), 1000000);
	ck_assert_uint_eq(size("1GB"), 1000000000);
	ck_assert_uint_eq(size("1TB"), UINT64_C(1000000000000));
	ck_assert_uint_eq(size("1.5KiB"), 1536);
	ck_assert_uint_eq(size("0.5MiB"), 512 * KI);
	ck_assert_uint_eq(size("1.0"), 1);
	ck_assert_uint_eq(size("18446744073709551615"), UINT64_MAX);
	ck_assert_uint_eq(size("16777215TiB"), UINT64_C(16777215) << 40);
}
END_TEST

START_TEST(size_rejections)
{
	const char *unit = "unknown size unit (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)";
	ck_assert_str_eq(size_err(""), "empty size");
	ck_assert_str_eq(size_err("-1"), "a size cannot be negative");
	ck_assert_str_eq(size_err("-1MiB"), "a size cannot be negative");
	ck_assert_str_eq(size_err("big"), "expected a number");
	ck_assert_str_eq(size_err("MiB"), "expected a number");
	ck_assert_str_eq(size_err("+1"), "expected a number");
	ck_assert_str_eq(size_err("1.5"), "size is not a whole number of bytes");
	ck_assert_str_eq(size_err("0.3KiB"), "size is not a whole number of bytes");
	ck_assert_str_eq(size_err("1 MiB"), "no space allowed between a number and its unit");
	ck_assert_str_eq(size_err("1mib"), unit);
	ck_assert_str_eq(size_err("1XB"), unit);
	ck_assert_str_eq(size_err("1PiB"), unit);
	ck_assert_str_eq(size_err("1MiB2"), unit);
	ck_assert_str_eq(size_err("1MiB "), unit);
	ck_assert_str_eq(size_err("0x10"), unit);
	ck_assert_str_eq(size_err("18446744073709551616"), "size too large");
	ck_assert_str_eq(size_err("16777216TiB"), "size too large");
	ck_assert_str_eq(size_err("99999999999999999999999KiB"), "size too large");
}
END_TEST

START_TEST(size_format)
{
	char b[64];
	ck_assert_str_eq(units_format_size(0, b, sizeof(b)), "0");
	ck_assert_str_eq(units_format_size(1, b, sizeof(b)), "1");
	ck_assert_str_eq(units_format_size(1000, b, sizeof(b)), "1000");
	ck_assert_str_eq(units_format_size(1024, b, sizeof(b)), "1KiB");
	ck_assert_str_eq(units_format_size(1536, b, sizeof(b)), "1536");
	ck_assert_str_eq(units_format_size(64 * KI * KI, b, sizeof(b)), "64MiB");
	ck_assert_str_eq(units_format_size(512 * KI * KI, b, sizeof(b)), "512MiB");
	ck_assert_str_eq(units_format_size(KI * KI * KI, b, sizeof(b)), "1GiB");
	ck_assert_str_eq(units_format_size(3 * KI * KI * KI * KI, b, sizeof(b)), "3TiB");
	ck_assert_str_eq(units_format_size(1025 * KI, b, sizeof(b)), "1025KiB");
	ck_assert_str_eq(units_format_size(UINT64_MAX, b, sizeof(b)), "18446744073709551615");
}
END_TEST

START_TEST(size_format_round_trips)
{
	uint64_t x = 2463534242ull;
	char b[64];

	for (int i = 0; i < 2000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t v = x >> (x % 64);
		if (i % 2 == 0)
			v <<= (i % 41);
		ck_assert_uint_eq(size(units_format_size(v, b, sizeof(b))), v);
	}
}
END_TEST

START_TEST(rate_forms)
{
	ck_assert(rate("100/s") == 100.0);
	ck_assert(rate("5/m") == 5.0 / 60);
	ck_assert(rate("2/h") == 2.0 / 3600);
	ck_assert(rate("0.5/s") == 0.5);
	ck_assert(rate(".5/s") == 0.5);
	ck_assert(rate("1e3/s") == 1000.0);
	ck_assert(rate("1.5E+2/m") == 150.0 / 60);
}
END_TEST

START_TEST(rate_rejections)
{
	ck_assert_str_eq(rate_err(""), "empty rate");
	ck_assert_str_eq(rate_err("0/s"), "a rate must be greater than 0");
	ck_assert_str_eq(rate_err("0.0/m"), "a rate must be greater than 0");
	ck_assert_str_eq(rate_err("1e-400/s"), "a rate must be greater than 0");
	ck_assert_str_eq(rate_err("-1/s"), "a rate must be greater than 0");
	ck_assert_str_eq(rate_err("100"), "a rate needs a unit, like 100/s, 5/m, 2/h");
	ck_assert_str_eq(rate_err("100s"), "a rate needs a unit, like 100/s, 5/m, 2/h");
	ck_assert_str_eq(rate_err("100 /s"), "a rate needs a unit, like 100/s, 5/m, 2/h");
	ck_assert_str_eq(rate_err("100/x"), "unknown rate unit (use /s, /m, /h)");
	ck_assert_str_eq(rate_err("100/ s"), "unknown rate unit (use /s, /m, /h)");
	ck_assert_str_eq(rate_err("100/sec"), "unknown rate unit (use /s, /m, /h)");
	ck_assert_str_eq(rate_err("100/d"), "unknown rate unit (use /s, /m, /h)");
	ck_assert_str_eq(rate_err("/s"), "expected a number");
	ck_assert_str_eq(rate_err("fast/s"), "expected a number");
	ck_assert_str_eq(rate_err("inf/s"), "expected a number");
	ck_assert_str_eq(rate_err("nan/s"), "expected a number");
	ck_assert_str_eq(rate_err("0x10/s"), "a rate needs a unit, like 100/s, 5/m, 2/h");
	ck_assert_str_eq(rate_err("1e999/s"), "rate too large");
}
END_TEST

START_TEST(rate_format)
{
	char b[64];
	ck_assert_str_eq(units_format_rate(100, b, sizeof(b)), "100/s");
	ck_assert_str_eq(units_format_rate(5.0 / 60, b, sizeof(b)), "5/m");
	ck_assert_str_eq(units_format_rate(2.0 / 3600, b, sizeof(b)), "2/h");
	ck_assert_str_eq(units_format_rate(1000000, b, sizeof(b)), "1000000/s");
	ck_assert_str_eq(units_format_rate(2.5, b, sizeof(b)), "2.5/s");
}
END_TEST

START_TEST(rate_format_round_trips)
{
	static const double v[] = {100,	 5.0 / 60, 2.0 / 3600, 0.5,    1.0 / 3,	   1e6, 123.456,
				   1e-5, M_PI,	   1e300,      1e-300, 7.0 / 3600, 0.1, 1e22};
	char b[64];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		units_format_rate(v[i], b, sizeof(b));
		ck_assert_msg(rate(b) == v[i], "%.17g printed as %s", v[i], b);
	}
}
END_TEST

static Suite *units_suite(void)
{
	Suite *s = suite_create("units");
	TCase *tc = tcase_create("duration");
	tcase_add_test(tc, duration_single_units);
	tcase_add_test(tc, duration_zero_needs_no_unit);
	tcase_add_test(tc, duration_combinations);
	tcase_add_test(tc, duration_decimals);
	tcase_add_test(tc, duration_limits);
	tcase_add_test(tc, duration_rejections);
	tcase_add_test(tc, duration_format);
	tcase_add_test(tc, duration_format_truncates_safely);
	tcase_add_test(tc, duration_format_round_trips);
	suite_add_tcase(s, tc);

	tc = tcase_create("size");
	tcase_add_test(tc, size_forms);
	tcase_add_test(tc, size_rejections);
	tcase_add_test(tc, size_format);
	tcase_add_test(tc, size_format_round_trips);
	suite_add_tcase(s, tc);

	tc = tcase_create("rate");
	tcase_add_test(tc, rate_forms);
	tcase_add_test(tc, rate_rejections);
	tcase_add_test(tc, rate_format);
	tcase_add_test(tc, rate_format_round_trips);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(units_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
