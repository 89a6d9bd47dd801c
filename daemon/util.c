/* util.c: fatal-on-OOM allocation wrappers and clocks. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(size_t n)
{
	fprintf(stderr, "sluiced: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		oom(n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		oom(nmemb * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		oom(n);
	return q;
}

bool str_same(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

const char *str_take_u64(const char *s, char end, uint64_t *v)
{
	char *e;
	if (*s < '0' || *s > '9')
		return NULL;
	errno = 0;
	*v = strtoull(s, &e, 10);
	return errno == 0 && *e == end ? e + 1 : NULL;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom(strlen(fmt));
	va_end(ap);
	return s;
}

size_t utf8_valid_len(const unsigned char *p, size_t left)
{
	unsigned c = p[0];
	size_t n;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, min = 0x10000;
	else
		return 0;
	if (left < n)
		return 0;
	unsigned cp = c & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

uint64_t now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

double wall_time(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A new description of the object fd (with stat st) is open on: its O_NONBLOCK is ours
 * alone. O_NONBLOCK also keeps the open from waiting for the other end of a FIFO.
 * -1 when it cannot be reopened (a socket, an fd of another mount namespace).
 */
static int reopen_private(int fd, int access, const struct stat *st)
{
	struct stat mine;
	char path[32];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int priv = open(path, access | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (priv >= 0 && fstat(priv, &mine) == 0 && mine.st_dev == st->st_dev &&
	    mine.st_ino == st->st_ino)
		return priv;
	if (priv >= 0)
		close(priv);
	return -1;
}

int std_private(int fd, enum std_how *how)
{
	struct stat st;

	*how = STD_PLAIN;
	if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode))
		return fd;
	if (S_ISSOCK(st.st_mode)) {
		*how = STD_SEND;
		return fd;
	}
	int priv = reopen_private(fd, O_WRONLY, &st);
	if (priv >= 0)
		return priv;
	*how = STD_POLL;
	return fd;
}

int std_private_input(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode))
		return fd;
	int priv = reopen_private(fd, O_RDONLY, &st);
	return priv >= 0 ? priv : fd;
}

ssize_t std_write(int fd, enum std_how how, const void *buf, size_t len)
{
	if (how == STD_SEND)
		return send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (how == STD_POLL) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		if (poll(&p, 1, 0) == 0) {
			errno = EAGAIN;
			return -1;
		}
		/* Ready for writing means room for PIPE_BUF bytes: no more, so it cannot block. */
		if (len > PIPE_BUF)
			len = PIPE_BUF;
	}
	return write(fd, buf, len);
}

void strbuf_add(struct strbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 64;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}
