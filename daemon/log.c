/*
 * log.c: leveled logging to stderr, as text ("sluiced[PID]: level: message") or
 * JSON, with the journald "<N>" priority prefix when JOURNAL_STREAM says stderr is
 * the journal. One write(2) per line, so lines from a child sharing stderr are
 * never interleaved inside a line.
 *
 * Logging never holds the loop for long: lines go to a private non-blocking
 * description of stderr (or, for a socket, sends with MSG_DONTWAIT; see
 * std_private()), so the description our children and the shell share keeps its
 * flags. A line that stderr does not take waits at most LOG_WAIT_MS in poll(2);
 * past that stderr counts as stalled, and until it takes a line again each line
 * costs one write attempt and is dropped if that fails. Dropped lines are counted
 * (log_dropped(), the metric sluice_log_dropped_total) and, once stderr takes
 * lines again, reported in one line. The summary at exit (log_raw, after the
 * loop) gets a longer chance: LOG_RAW_WAIT_MS, until one of its lines is dropped.
 */
#include "log.h"
#include "progress.h"
#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum log_level cur_level = LOG_INFO;
static enum log_format cur_format = LOG_TEXT;
static int journald;

#define LOG_WAIT_MS	200
#define LOG_RAW_WAIT_MS 1000

static int err_fd = -1; /* where lines go: see std_private() */
static enum std_how err_how;
static bool stalled, raw_stalled; /* stderr took nothing in time: no more waiting */
static bool torn;		  /* a line was cut short: the next one starts a new line */
static uint64_t dropped, dropped_reported;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int syslog_prio[] = {3, 4, 6, 7};

void log_init(enum log_level level, enum log_format format)
{
	cur_level = level;
	cur_format = format;
	journald = getenv("JOURNAL_STREAM") != NULL;
	if (err_fd < 0)
		err_fd = std_private(STDERR_FILENO, &err_how);
}

uint64_t log_dropped(void)
{
	return dropped;
}

void log_set_level(enum log_level level)
{
	cur_level = level;
}

void log_set_format(enum log_format format)
{
	cur_format = format;
}

int log_enabled(enum log_level level)
{
	return level <= cur_level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_WARN;
		return 0;
	}
	return -1;
}

int log_format_parse(const char *s, enum log_format *out)
{
	if (strcmp(s, "text") == 0)
		*out = LOG_TEXT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_JSON;
	else
		return -1;
	return 0;
}

/* Waits (at most until deadline, in usec) for stderr to take more; false if it did not. */
static bool wait_writable(uint64_t deadline)
{
	uint64_t now = now_usec();
	struct pollfd p = {.fd = err_fd, .events = POLLOUT};
	if (now >= deadline)
		return false;
	return poll(&p, 1, (int)((deadline - now + 999) / 1000)) != 0;
}

/*
 * Writes one line whole, waiting at most wait_ms for stderr to take it, or drops it
 * (see the top of the file); true if written, false with *stall set if stderr did
 * not take it in time.
 */
static bool write_line(const char *buf, size_t len, int wait_ms, bool *stall)
{
	uint64_t deadline = now_usec() + (uint64_t)wait_ms * 1000;
	size_t left = len;

	if (err_fd < 0)
		err_fd = std_private(STDERR_FILENO, &err_how);
	if (torn) {
		if (std_write(err_fd, err_how, "\n", 1) != 1) {
			dropped++;
			return false;
		}
		torn = false;
	}
	while (left > 0) {
		ssize_t n = std_write(err_fd, err_how, buf, left);
		if (n > 0) {
			buf += n;
			left -= (size_t)n;
			*stall = false;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && wait_writable(deadline))
			continue;
		if (n < 0 && errno == EAGAIN)
			*stall = true;
		dropped++;
		torn = left < len;
		return false;
	}
	return true;
}

/* Appends s to the buffer as the body of a JSON string. */
static size_t json_escape(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	for (; *s && o + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else if (c >= 0x80) {
			/* A byte that is not valid UTF-8 is escaped: every line must parse. */
			size_t n = utf8_valid_len((const unsigned char *)s, strnlen(s, 4));
			if (n == 0) {
				o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
			} else {
				memcpy(out + o, s, n);
				o += n;
				s += n - 1;
			}
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return o;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap, int with_errno)
{
	char msg[4096], line[8400];
	int saved = errno;
	int n;

	if (level > cur_level)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (with_errno) {
		size_t m = strlen(msg);
		snprintf(msg + m, sizeof(msg) - m, ": %s", strerror(saved));
	}
	if (cur_format == LOG_JSON) {
		char esc[8200];
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		json_escape(esc, sizeof(esc), msg);
		n = snprintf(line, sizeof(line),
			     "{\"time\":%lld.%03ld,\"level\":\"%s\",\"pid\":%d,\"msg\":\"%s\"}\n",
			     (long long)ts.tv_sec, ts.tv_nsec / 1000000, level_names[level],
			     (int)getpid(), esc);
	} else if (journald) {
		n = snprintf(line, sizeof(line), "<%d>%s: %s\n", syslog_prio[level],
			     level_names[level], msg);
	} else {
		n = snprintf(line, sizeof(line), "sluiced[%d]: %s: %s\n", (int)getpid(),
			     level_names[level], msg);
	}
	progress_clear();
	if (n > 0 &&
	    write_line(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1,
		       stalled ? 0 : LOG_WAIT_MS, &stalled) &&
	    dropped > dropped_reported) {
		uint64_t d = dropped - dropped_reported;
		dropped_reported = dropped;
		log_warnx("%" PRIu64 " log line(s) were dropped: stderr did not take them", d);
	}
	errno = saved;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap, 0);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_WARN, fmt, ap, 0);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_WARN, fmt, ap, 1);
	va_end(ap);
}

void fatal(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, fmt, ap, 0);
	va_end(ap);
	exit(code);
}

void log_raw(const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	progress_clear();
	if (n > 0)
		write_line(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1,
			   raw_stalled ? 0 : LOG_RAW_WAIT_MS, &raw_stalled);
}

bool log_stderr_try(const char *buf, size_t len)
{
	if (err_fd < 0)
		err_fd = std_private(STDERR_FILENO, &err_how);
	return std_write(err_fd, err_how, buf, len) == (ssize_t)len;
}
