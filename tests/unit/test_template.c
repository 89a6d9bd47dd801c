/*
 * Unit tests for argv/template expansion: {}, {seq}, {source}, literal text.
 *
 * LINK: template.o util.o
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

static char *expand(const char *tmpl, const char *item, uint64_t seq, const char *source)
{
	struct template_vars v = {item, item ? strlen(item) : 0, seq, source};
	return template_expand(tmpl, &v, NULL);
}

#define EXPECT(tmpl, item, seq, src, want)                                                         \
	do {                                                                                       \
		char *got_ = expand(tmpl, item, seq, src);                                         \
		ck_assert_str_eq(got_, want);                                                      \
		free(got_);                                                                        \
	} while (0)

START_TEST(placeholders)
{
	EXPECT("{}", "a.jpg", 7, "jobs", "a.jpg");
	EXPECT("/out/{}.png", "a.jpg", 7, "jobs", "/out/a.jpg.png");
	EXPECT("{seq}-{source}", "x", 42, "jobs", "42-jobs");
	EXPECT("{}{}", "ab", 1, "s", "abab");
	EXPECT("plain", "x", 1, "s", "plain");
	EXPECT("", "x", 1, "s", "");
}
END_TEST

START_TEST(unknown_braces_stay)
{
	EXPECT("{x} {", "i", 1, "s", "{x} {");
	EXPECT("{seq", "i", 1, "s", "{seq");
	EXPECT("}{}{", "i", 1, "s", "}i{");
}
END_TEST

START_TEST(shell_metacharacters_are_literal)
{
	/* Expansion is text; nothing here is interpreted. */
	EXPECT("{}", "$(rm -rf ~); `id` | & ; > x", 1, "s", "$(rm -rf ~); `id` | & ; > x");
	EXPECT("a{}b", "'\"", 1, "s", "a'\"b");
}
END_TEST

START_TEST(item_with_nul_keeps_length)
{
	struct template_vars v = {"a\0b", 3, 1, "s"};
	size_t len;
	char *got = template_expand("[{}]", &v, &len);
	ck_assert_uint_eq(len, 5);
	ck_assert(memcmp(got, "[a\0b]", 5) == 0);
	free(got);
}
END_TEST

START_TEST(url_escaping)
{
	struct template_vars v = {"a b/c?d=é&\n", strlen("a b/c?d=é&\n"), 9, "src"};
	char *got = template_expand_url("http://h/x/{}?s={source}&n={seq}", &v, NULL);
	ck_assert_str_eq(got, "http://h/x/a%20b%2Fc%3Fd%3D%C3%A9%26%0A?s=src&n=9");
	free(got);
	/* unreserved characters pass */
	v = (struct template_vars){"Az09-_.~", 8, 1, "s"};
	got = template_expand_url("/{}", &v, NULL);
	ck_assert_str_eq(got, "/Az09-_.~");
	free(got);
	/* at the very start, the item is the URL: as it is */
	v = (struct template_vars){"http://h/a b", 12, 1, "s"};
	got = template_expand_url("{}?x={}", &v, NULL);
	ck_assert_str_eq(got, "http://h/a b?x=http%3A%2F%2Fh%2Fa%20b");
	free(got);
	/* the plain expansion never escapes */
	got = template_expand("{}?x={}", &v, NULL);
	ck_assert_str_eq(got, "http://h/a b?x=http://h/a b");
	free(got);
}
END_TEST

START_TEST(detection)
{
	ck_assert(template_has_vars("x{}"));
	ck_assert(template_has_vars("{seq}"));
	ck_assert(template_has_vars("{source}"));
	ck_assert(!template_has_vars("{x}"));
	ck_assert(template_uses_item("--in={}"));
	ck_assert(!template_uses_item("{seq}"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("template");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, placeholders);
	tcase_add_test(tc, unknown_braces_stay);
	tcase_add_test(tc, shell_metacharacters_are_literal);
	tcase_add_test(tc, item_with_nul_keeps_length);
	tcase_add_test(tc, detection);
	tcase_add_test(tc, url_escaping);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
