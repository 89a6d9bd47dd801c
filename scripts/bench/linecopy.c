/* linecopy: the practical limit for copying newline-framed lines, file to file.
 *
 *   linecopy IN OUT      (either may be "-" for stdin/stdout)
 *
 * 64 KiB read()s, memchr() to find each newline, every complete line appended to a
 * 64 KiB output buffer that is write()n when full. A line that straddles two reads is
 * carried over; a final line without a newline is copied as it is. This is what any
 * line-framed pipeline has to do at the least, so sluice's passthrough is compared to it.
 *
 * Build: gcc -O2 -Wall -Wextra -Werror -o linecopy linecopy.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static unsigned char outbuf[CHUNK];
static size_t outlen;
static int outfd;

static void die(const char *what)
{
	fprintf(stderr, "linecopy: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void flush_out(void)
{
	size_t off = 0;
	while (off < outlen) {
		ssize_t n = write(outfd, outbuf + off, outlen - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		off += (size_t)n;
	}
	outlen = 0;
}

/* Append one framed line (or a piece of one) to the output buffer. */
static void put(const unsigned char *p, size_t n)
{
	while (n > 0) {
		if (outlen == sizeof outbuf)
			flush_out();
		size_t room = sizeof outbuf - outlen;
		size_t k = n < room ? n : room;
		memcpy(outbuf + outlen, p, k);
		outlen += k;
		p += k;
		n -= k;
	}
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: linecopy IN OUT\n");
		return 64;
	}
	int infd = strcmp(argv[1], "-") == 0 ? 0 : open(argv[1], O_RDONLY | O_CLOEXEC);
	if (infd < 0)
		die(argv[1]);
	outfd = strcmp(argv[2], "-") == 0
		    ? 1
		    : open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (outfd < 0)
		die(argv[2]);

	/* carry holds the start of a line whose newline is not read yet */
	unsigned char *carry = NULL;
	size_t carry_len = 0, carry_cap = 0;
	static unsigned char inbuf[CHUNK];
	unsigned long long lines = 0;

	for (;;) {
		ssize_t n = read(infd, inbuf, sizeof inbuf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("read");
		}
		if (n == 0)
			break;
		const unsigned char *p = inbuf, *end = inbuf + n;
		for (;;) {
			const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
			if (nl == NULL) {
				size_t rest = (size_t)(end - p);
				if (carry_len + rest > carry_cap) {
					carry_cap = (carry_len + rest) * 2;
					carry = realloc(carry, carry_cap);
					if (carry == NULL)
						die("realloc");
				}
				memcpy(carry + carry_len, p, rest);
				carry_len += rest;
				break;
			}
			if (carry_len > 0) {
				put(carry, carry_len);
				carry_len = 0;
			}
			put(p, (size_t)(nl - p) + 1);
			lines++;
			p = nl + 1;
		}
	}
	if (carry_len > 0) {
		put(carry, carry_len);
		lines++;
	}
	flush_out();
	if (outfd != 1 && close(outfd) < 0)
		die("close");
	free(carry);
	if (getenv("LINECOPY_VERBOSE"))
		fprintf(stderr, "linecopy: %llu lines\n", lines);
	return 0;
}
