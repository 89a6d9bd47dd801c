/*
 * argv-dump: prints how it was called, one line per fact, so a test can compare
 * exactly what an exec stage passed: "argc=N", then "argv[i]=<...>" for i >= 1
 * (bytes outside printable ASCII as \xHH), then "cwd=<...>". With -e NAME as the
 * first argument it prints "env NAME=<...>" (or "env NAME unset") instead of argv.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\')
			putchar(*p);
		else
			printf("\\x%02x", *p);
	}
}

int main(int argc, char **argv)
{
	char cwd[4096];

	if (argc >= 3 && strcmp(argv[1], "-e") == 0) {
		const char *v = getenv(argv[2]);
		if (v) {
			printf("env %s=<", argv[2]);
			put(v);
			printf(">\n");
		} else {
			printf("env %s unset\n", argv[2]);
		}
		return 0;
	}
	printf("argc=%d\n", argc);
	for (int i = 1; i < argc; i++) {
		printf("argv[%d]=<", i);
		put(argv[i]);
		printf(">\n");
	}
	if (getcwd(cwd, sizeof cwd))
		printf("cwd=<%s>\n", cwd);
	return 0;
}
