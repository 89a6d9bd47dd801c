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
/* Erases what is drawn in place on stderr (the progress line) before a line goes out. */
static void (*before_write)(void);

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

void log_set_before_write(void (*hook)(void))
{
	before_write = hook;
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

/* An item a line is about: JSON lines carry it as fields of their own. */
struct item_ref {
	const char *stage, *source;
	uint64_t seq;
};

static void log_vmsg(enum log_level level, const struct item_ref *ref, const char *fmt, va_list ap,
		     int with_errno)
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
		char esc[8200], fields[400] = "";
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		if (ref != NULL) {
			char st[128], src[128];
			json_escape(st, sizeof(st), ref->stage);
			json_escape(src, sizeof(src), ref->source);
			snprintf(fields, sizeof(fields),
				 "\"stage\":\"%s\",\"source\":\"%s\",\"seq\":%" PRIu64 ",", st, src,
				 ref->seq);
		}
		json_escape(esc, sizeof(esc), msg);
		n = snprintf(line, sizeof(line),
			     "{\"time\":%lld.%03ld,\"level\":\"%s\",\"pid\":%d,%s\"msg\":\"%s\"}\n",
			     (long long)ts.tv_sec, ts.tv_nsec / 1000000, level_names[level],
			     (int)getpid(), fields, esc);
	} else if (journald) {
		n = snprintf(line, sizeof(line), "<%d>%s: %s\n", syslog_prio[level],
			     level_names[level], msg);
	} else {
		n = snprintf(line, sizeof(line), "sluiced[%d]: %s: %s\n", (int)getpid(),
			     level_names[level], msg);
	}
	if (before_write != NULL)
		before_write();
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
	log_vmsg(level, NULL, fmt, ap, 0);
	va_end(ap);
}

void log_item(enum log_level level, const char *stage, const char *source, uint64_t seq,
	      const char *fmt, ...)
{
	struct item_ref ref = {stage, source, seq};
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, &ref, fmt, ap, 0);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_WARN, NULL, fmt, ap, 0);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_WARN, NULL, fmt, ap, 1);
	va_end(ap);
}

void fatal(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, NULL, fmt, ap, 0);
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
	if (before_write != NULL)
		before_write();
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

bool log_is_json(void)
{
	return cur_format == LOG_JSON;
}

/* A block printed whole: as is, or (JSON) one line built from it. */
static void put_block(const char *text)
{
	size_t len = strlen(text);
	if (before_write != NULL)
		before_write();
	if (len > 0)
		write_line(text, len, raw_stalled ? 0 : LOG_RAW_WAIT_MS, &raw_stalled);
}

static void put_json_string(FILE *out, const char *s, size_t n)
{
	char *copy = xstrndup(s, n);
	size_t cap = n * 6 + 8;
	char *esc = xmalloc(cap);
	json_escape(esc, cap, copy);
	fprintf(out, "\"%s\"", esc);
	free(esc);
	free(copy);
}

/* "v" as a JSON number when it is one, else as a string. */
static void put_json_value(FILE *out, const char *v, size_t n)
{
	char *end, *copy = xstrndup(v, n);
	strtod(copy, &end);
	if (n > 0 && *end == '\0' && strspn(copy, "0123456789.-") == n)
		fputs(copy, out);
	else
		put_json_string(out, v, n);
	free(copy);
}

/* " k=v k=v..." as JSON members (after a '{' and maybe others: first says which). */
static void put_pairs(FILE *out, const char *s, bool first)
{
	while (*s != '\0') {
		s += strspn(s, " ");
		size_t tok = strcspn(s, " "), eq = strcspn(s, "=");
		if (tok == 0)
			break;
		if (eq < tok) {
			fputs(first ? "" : ",", out);
			put_json_string(out, s, eq);
			fputc(':', out);
			put_json_value(out, s + eq + 1, tok - eq - 1);
			first = false;
		}
		s += tok;
	}
}

/* True when every word after "head:" is k=v, the shape of a counts line. */
static bool all_pairs(const char *s)
{
	bool any = false;
	while (*(s += strspn(s, " ")) != '\0') {
		size_t tok = strcspn(s, " ");
		if (strcspn(s, "=") >= tok)
			return false;
		any = true;
		s += tok;
	}
	return any;
}

/*
 * The summary's lines, text built by pipeline.c for people, as one JSON object:
 * "summary: pipeline 'P' exit=N (MEANING) elapsed=Xs" gives its head; "KIND NAME:
 * k=v ..." lines (source, stage, sink) go to arrays of objects; "KIND: k=v ..." lines
 * to objects ("sinks:", the sinks' queue, as sink_queue); the error report, already
 * JSON, is embedded; every other line is a note. Built from the text so that the two
 * formats can never say different things.
 */
static void summary_json(FILE *out, const char *text)
{
	static const char *const lists[] = {"source", "stage", "sink"};
	char *sections[3];
	size_t lens[3];
	FILE *sec[3];
	char *notes = NULL, *objects = NULL, *report = NULL;
	size_t notes_len = 0, objects_len = 0;
	FILE *nf = open_memstream(&notes, &notes_len), *of = open_memstream(&objects, &objects_len);
	struct timespec ts;

	for (int i = 0; i < 3; i++) {
		sections[i] = NULL;
		sec[i] = open_memstream(&sections[i], &lens[i]);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(out, "{\"time\":%lld.%03ld,\"level\":\"info\",\"pid\":%d,\"summary\":{",
		(long long)ts.tv_sec, ts.tv_nsec / 1000000, (int)getpid());
	for (const char *line = text; *line != '\0';) {
		size_t n = strcspn(line, "\n");
		char *l = xstrndup(line, n);
		char name[256], meaning[256];
		int exit_code;
		double elapsed;
		char *colon = strstr(l, ": ");
		line += n + (line[n] == '\n');
		if (sscanf(l, "summary: pipeline '%255[^']' exit=%d (%255[^)]) elapsed=%lfs", name,
			   &exit_code, meaning, &elapsed) == 4) {
			fputs("\"pipeline\":", out);
			put_json_string(out, name, strlen(name));
			fprintf(out, ",\"exit\":%d,\"meaning\":", exit_code);
			put_json_string(out, meaning, strlen(meaning));
			fprintf(out, ",\"elapsed_seconds\":%.3f", elapsed);
		} else if (strncmp(l, "{\"report\":", 10) == 0 && report == NULL) {
			size_t rl = strlen(l);
			report = xstrndup(l + 10, rl > 11 ? rl - 11 : 0);
		} else if (colon != NULL && all_pairs(colon + 1)) {
			char *space = memchr(l, ' ', (size_t)(colon - l));
			int list = -1;
			for (int i = 0; i < 3 && space != NULL; i++)
				if ((size_t)(space - l) == strlen(lists[i]) &&
				    strncmp(l, lists[i], (size_t)(space - l)) == 0)
					list = i;
			if (list >= 0) {
				fprintf(sec[list], "%s{\"name\":", ftell(sec[list]) > 0 ? "," : "");
				put_json_string(sec[list], space + 1, (size_t)(colon - space - 1));
				put_pairs(sec[list], colon + 1, false);
				fputc('}', sec[list]);
			} else {
				bool sinkq =
				    strncmp(l, "sinks", (size_t)(colon - l)) == 0 && colon - l == 5;
				fputc(',', of);
				if (sinkq)
					fputs("\"sink_queue\"", of);
				else
					put_json_string(of, l, (size_t)(colon - l));
				fputs(":{", of);
				put_pairs(of, colon + 1, true);
				fputc('}', of);
			}
		} else if (n > 0) {
			fputs(ftell(nf) > 0 ? "," : "", nf);
			put_json_string(nf, l, n);
		}
		free(l);
	}
	for (int i = 0; i < 3; i++) {
		fclose(sec[i]);
		fprintf(out, ",\"%ss\":[%s]", lists[i], sections[i]);
		free(sections[i]);
	}
	fclose(of);
	fclose(nf);
	fprintf(out, "%s,\"notes\":[%s]", objects, notes);
	if (report != NULL)
		fprintf(out, ",\"report\":%s", report);
	fputs("}}\n", out);
	free(objects);
	free(notes);
	free(report);
}

/* A block as it is in text, or as what convert makes of it in JSON. */
static void put_block_as(const char *text, void (*convert)(FILE *out, const char *text))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (cur_format != LOG_JSON) {
		put_block(text);
		return;
	}
	f = open_memstream(&buf, &len);
	convert(f, text);
	fclose(f);
	put_block(buf);
	free(buf);
}

void log_summary(const char *text)
{
	put_block_as(text, summary_json);
}

/*
 * The loader's "FILE:LINE:COL: message" lines (and its other lines, such as a file
 * that cannot be opened) as one JSON object each, with file, line and col as fields.
 */
static void conf_errors_json(FILE *f, const char *text)
{
	for (const char *line = text; *line != '\0';) {
		size_t n = strcspn(line, "\n");
		char *l = xstrndup(line, n);
		struct timespec ts;
		const char *pos = NULL;
		unsigned long ln = 0, col = 0;
		int used = 0;
		line += n + (line[n] == '\n');
		/* The first ":LINE:COL: " after the file name. */
		for (const char *c = strchr(l, ':'); c != NULL && pos == NULL;
		     c = strchr(c + 1, ':'))
			if (sscanf(c, ":%lu:%lu: %n", &ln, &col, &used) == 2 && used > 0)
				pos = c;
		clock_gettime(CLOCK_REALTIME, &ts);
		fprintf(f, "{\"time\":%lld.%03ld,\"level\":\"error\",\"pid\":%d,",
			(long long)ts.tv_sec, ts.tv_nsec / 1000000, (int)getpid());
		if (pos != NULL) {
			fputs("\"file\":", f);
			put_json_string(f, l, (size_t)(pos - l));
			fprintf(f, ",\"line\":%lu,\"col\":%lu,\"msg\":", ln, col);
			put_json_string(f, pos + used, strlen(pos + used));
		} else {
			fputs("\"msg\":", f);
			put_json_string(f, l, n);
		}
		fputs("}\n", f);
		free(l);
	}
}

void log_conf_errors(const char *text)
{
	put_block_as(text, conf_errors_json);
}
