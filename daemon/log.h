/*
 * log.h: the daemon's only way to speak. Lines go to stderr, as text or one JSON
 * object per line; under journald (JOURNAL_STREAM set) text lines carry the
 * "<N>" priority prefix. log_warn() appends strerror(errno); log_warnx() does not
 * (as in OpenBSD's log.c). fatal() logs and exits with the given code.
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_TEXT = 0, LOG_JSON };

void log_init(enum log_level level, enum log_format format);
void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
int log_level_parse(const char *s, enum log_level *out);
int log_format_parse(const char *s, enum log_format *out);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like log_warnx, with ": strerror(errno)" appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/*
 * A line about one item: in JSON its stage, source and seq are fields of their own
 * (text lines name them in the message).
 */
void log_item(enum log_level level, const char *stage, const char *source, uint64_t seq,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
bool log_is_json(void);
/*
 * The summary (its lines, as pipeline.c writes them for people): as is in text, one
 * JSON object in JSON. The loader's errors: as is, or one JSON object per error with
 * file, line and col. Every line of --log-format json output is JSON.
 */
void log_summary(const char *text);
void log_conf_errors(const char *text);
/* Writes a raw line (no prefix) to stderr: for the summary and --check output. */
void log_raw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * A line drawn in place on stderr (the progress line, a layer above) installs the
 * hook that erases it; log calls it before every line it writes. NULL removes it.
 */
void log_set_before_write(void (*hook)(void));
/* One write attempt that never waits (the progress line); true if all of it went. */
bool log_stderr_try(const char *buf, size_t len);
/* Lines dropped because stderr did not take them in time (sluice_log_dropped_total). */
uint64_t log_dropped(void);

#endif
