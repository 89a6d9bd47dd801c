/*
 * util.h: allocation wrappers that treat out-of-memory as fatal (DESIGN §4.5),
 * so callers never scatter NULL checks, and a few small helpers.
 */
#ifndef SLUICE_UTIL_H
#define SLUICE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Equal strings, or both NULL. */
bool str_same(const char *a, const char *b);
/*
 * Plain decimal digits that fit in 64 bits, then the character end: the number
 * in *v and what follows end, else NULL. For files read back (spool, joblog):
 * sscanf and strtoull alone take "-1" (as 2^64 - 1), " 5" and "+5".
 */
const char *str_take_u64(const char *s, char end, uint64_t *v);
char *xstrndup(const char *s, size_t n);

/* A growing string: p is NUL-terminated after every add (NULL before the first). */
struct strbuf {
	char *p;
	size_t len, cap;
};
void strbuf_add(struct strbuf *b, const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Monotonic clock in microseconds and nanoseconds. */
uint64_t now_usec(void);
/* Wall clock in seconds, for log and dead-letter timestamps. */
double wall_time(void);

/*
 * Length of the valid UTF-8 sequence at p (1..4), or 0 if the bytes there are not
 * one (a stray continuation byte, an overlong form, a surrogate, a cut sequence).
 */
size_t utf8_valid_len(const unsigned char *p, size_t left);

/*
 * Writing to stdout or stderr without blocking and without changing the flags of
 * their open file description, which the other stream, our children and the
 * process that started us may share (one pipe or journal socket for both; O_NONBLOCK
 * there would make their writes fail with EAGAIN). std_private() returns the fd to
 * write to and how:
 *   STD_PLAIN  write(2): a regular file (blocking is bounded by the disk), or a
 *              private non-blocking description of the same pipe, FIFO or tty
 *              (reopened through /proc/self/fd; the caller closes it);
 *   STD_SEND   a socket (the journal's stream): send(2) with MSG_DONTWAIT;
 *   STD_POLL   anything else: written only when poll(2) says it takes PIPE_BUF
 *              bytes, at most that much at a time.
 */
enum std_how { STD_PLAIN, STD_SEND, STD_POLL };
int std_private(int fd, enum std_how *how);
/*
 * The same for reading stdin: a private non-blocking description of its pipe, FIFO
 * or tty (the caller closes it), else fd itself (a regular file; a socket, which
 * then gets O_NONBLOCK on the shared description, as nothing else reads it).
 */
int std_private_input(int fd);
/* One write that never blocks (but for a regular file): like write(2), EAGAIN included. */
ssize_t std_write(int fd, enum std_how how, const void *buf, size_t len);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
