/*
 * log.c: leveled logging to stderr, as text ("sluiced[PID]: level: message") or
 * JSON, with the journald "<N>" priority prefix when JOURNAL_STREAM says stderr is
 * the journal. One write(2) per line, so lines from a child sharing stderr are
 * never interleaved inside a line.
 */
#include "log.h"
#include "progress.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static enum log_level cur_level = LOG_INFO;
static enum log_format cur_format = LOG_TEXT;
static int journald;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const int syslog_prio[] = {3, 4, 6, 7};

void log_init(enum log_level level, enum log_format format)
{
	cur_level = level;
	cur_format = format;
	journald = getenv("JOURNAL_STREAM") != NULL;
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

static void write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				continue; /* stderr shared with a non-blocking sink: spin briefly */
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
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
	if (n > 0)
		write_all(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
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
		write_all(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}
