/*
 * ctl-top.c: `sluicectl top`, a live view of a running pipeline (see ctl-top.h).
 *
 * Every refresh asks the daemon for `status json` over a new connection (the same
 * request `sluicectl status --json` makes, so the view can never show what status
 * would not), and turns the difference between two samples into rates. On a
 * terminal it draws a full screen on the alternate screen with plain ANSI escapes
 * and reads keys in non-canonical mode; the terminal is restored on every exit
 * path (q, Ctrl-C, SIGTERM, a lost daemon). Elsewhere it prints one plain block of
 * lines per refresh, which a script or a log can read.
 */
#include "ctl-top.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "util.h"

#define BOLD	"\033[1m"
#define REVERSE "\033[7m"
#define YELLOW	"\033[33m"
#define RED	"\033[31m"
#define RESET	"\033[0m"

static struct termios saved_tty;
static bool tty_raw;
static volatile sig_atomic_t stop_signal;

static void restore_terminal(void)
{
	if (!tty_raw)
		return;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	tty_raw = false;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int enter_terminal(void)
{
	struct termios raw;
	if (tcgetattr(STDIN_FILENO, &saved_tty) < 0)
		return -1;
	raw = saved_tty;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) < 0)
		return -1;
	tty_raw = true;
	atexit(restore_terminal);
	fputs("\033[?1049h\033[?25l", stdout);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The same entity (by kind and name) in the previous sample. */
static const struct json *previous(const struct json *prev, const char *list, const char *name)
{
	const struct json *arr = json_get(prev, list);
	for (size_t i = 0; i < json_len(arr); i++)
		if (strcmp(json_str(json_at(arr, i), "name", ""), name) == 0)
			return json_at(arr, i);
	return NULL;
}

/* Per second, between the samples; 0 for the first one. */
static double rate(const struct json *cur, const struct json *old, const char *key, double dt)
{
	if (old == NULL || dt <= 0)
		return 0;
	double d = json_num(cur, key, 0) - json_num(old, key, 0);
	return d > 0 ? d / dt : 0;
}

static const char *human_bytes(double b, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	size_t u = 0;
	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, u == 0 ? "%.0f%s" : "%.1f%s", b, units[u]);
	return buf;
}

/* "[#####.....]" of width w for the fraction f. */
static void bar(FILE *out, double f, int w, bool color)
{
	int fill = (int)lround((f < 0 ? 0 : f > 1 ? 1 : f) * w);
	fputc('[', out);
	if (color && f >= 0.9)
		fputs(RED, out);
	else if (color && f >= 0.5)
		fputs(YELLOW, out);
	for (int i = 0; i < w; i++)
		fputc(i < fill ? '#' : '.', out);
	if (color)
		fputs(RESET, out);
	fputc(']', out);
}

static int term_width(void)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static void draw_screen(FILE *out, const struct json *cur, const struct json *old, double dt)
{
	char b1[32];
	int width = term_width();
	int barw = width >= 120 ? 20 : width >= 100 ? 12 : 8;

	fputs("\033[H\033[2J", out);
	fprintf(out,
		BOLD "sluice top" RESET " - pipeline %s: %s, up %.0fs, %.0f done, %.0f failed, "
		     "%.0f dead-lettered" RESET "   (q quits)\n\n",
		json_str(cur, "pipeline", "?"), json_str(cur, "state", "?"),
		json_num(cur, "uptime_seconds", 0), json_num(cur, "done", 0),
		json_num(cur, "failed", 0), json_num(cur, "dead_lettered", 0));
	const struct json *prevp = json_get(cur, "previous_pipeline");
	if (prevp != NULL && prevp->type == JSON_OBJECT)
		fprintf(out,
			YELLOW
			"previous pipeline (before the last reload): %s, %.0f item(s) left" RESET
			"\n\n",
			json_str(prevp, "state", "draining"), json_num(prevp, "items", 0));

	const struct json *srcs = json_get(cur, "sources");
	fprintf(out, BOLD "%-20s %-9s %-10s %10s %12s %9s" RESET "\n", "SOURCE", "TYPE", "STATE",
		"ITEMS/s", "ITEMS", "REJECTED");
	for (size_t i = 0; i < json_len(srcs); i++) {
		const struct json *s = json_at(srcs, i);
		const char *name = json_str(s, "name", "?"), *state = json_str(s, "state", "?");
		bool paused = strcmp(state, "paused") == 0 || strcmp(state, "held back") == 0;
		fprintf(out, "%s%-20.20s %-9s %-10s %10.1f %12.0f %9.0f%s\n",
			paused ? REVERSE YELLOW : "", name, json_str(s, "type", "?"), state,
			rate(s, previous(old, "sources", name), "items", dt),
			json_num(s, "items", 0), json_num(s, "rejected", 0), paused ? RESET : "");
	}

	const struct json *stages = json_get(cur, "stages");
	fprintf(out, "\n" BOLD "%-20s %9s %9s %9s  %-*s %15s %10s %7s %7s" RESET "\n", "STAGE",
		"WORKERS", "IN/s", "OUT/s", barw + 2, "QUEUE", "ITEMS", "BYTES", "FAILED",
		"RETRIES");
	for (size_t i = 0; i < json_len(stages); i++) {
		const struct json *st = json_at(stages, i);
		const char *name = json_str(st, "name", "?");
		const struct json *o = previous(old, "stages", name);
		double queued = json_num(st, "queued", 0), cap = json_num(st, "queue_capacity", 0);
		double qb = json_num(st, "queue_bytes", 0),
		       maxb = json_num(st, "queue_max_bytes", 0);
		double fill = fmax(cap > 0 ? queued / cap : 0, maxb > 0 ? qb / maxb : 0);
		bool paused = json_num(st, "paused", 0) != 0;
		char workers[32];
		snprintf(workers, sizeof(workers), "%.0f/%.0f%s", json_num(st, "in_flight", 0),
			 json_num(st, "workers", 0), paused ? " P" : "");
		fprintf(out, "%s%-20.20s %9s %9.1f %9.1f  ", paused ? REVERSE YELLOW : "", name,
			workers, rate(st, o, "in", dt), rate(st, o, "ok", dt));
		bar(out, fill, barw, !paused);
		fprintf(out, " %7.0f/%-7.0f %10s %7.0f %7.0f%s\n", queued, cap,
			human_bytes(qb, b1, sizeof(b1)), json_num(st, "failed", 0),
			json_num(st, "retries", 0), paused ? RESET : "");
	}

	const struct json *sinks = json_get(cur, "sinks");
	const struct json *sq = json_get(cur, "sink_queue");
	fprintf(out, "\n" BOLD "%-20s %10s %12s" RESET "   sink queue: %.0f queued, %.0f dropped\n",
		"SINK", "WRITTEN/s", "WRITTEN", json_num(sq, "queued", 0),
		json_num(sq, "dropped", 0));
	for (size_t i = 0; i < json_len(sinks); i++) {
		const struct json *s = json_at(sinks, i);
		const char *name = json_str(s, "name", "?");
		fprintf(out, "%-20.20s %10.1f %12.0f\n", name,
			rate(s, previous(old, "sinks", name), "written", dt),
			json_num(s, "written", 0));
	}
	fflush(out);
}

/* One block of plain lines: for pipes, files and logs. */
static void print_plain(FILE *out, const struct json *cur, const struct json *old, double dt)
{
	fprintf(out, "pipeline %s state=%s uptime=%.1fs done=%.0f failed=%.0f dead_lettered=%.0f\n",
		json_str(cur, "pipeline", "?"), json_str(cur, "state", "?"),
		json_num(cur, "uptime_seconds", 0), json_num(cur, "done", 0),
		json_num(cur, "failed", 0), json_num(cur, "dead_lettered", 0));
	const struct json *srcs = json_get(cur, "sources");
	for (size_t i = 0; i < json_len(srcs); i++) {
		const struct json *s = json_at(srcs, i);
		const char *name = json_str(s, "name", "?");
		fprintf(out, "source %s state=%s items=%.0f items_per_s=%.1f\n", name,
			json_str(s, "state", "?"), json_num(s, "items", 0),
			rate(s, previous(old, "sources", name), "items", dt));
	}
	const struct json *stages = json_get(cur, "stages");
	for (size_t i = 0; i < json_len(stages); i++) {
		const struct json *st = json_at(stages, i);
		const char *name = json_str(st, "name", "?");
		const struct json *o = previous(old, "stages", name);
		fprintf(out,
			"stage %s in_per_s=%.1f out_per_s=%.1f in_flight=%.0f workers=%.0f "
			"queued=%.0f capacity=%.0f queue_bytes=%.0f failed=%.0f retries=%.0f%s\n",
			name, rate(st, o, "in", dt), rate(st, o, "ok", dt),
			json_num(st, "in_flight", 0), json_num(st, "workers", 0),
			json_num(st, "queued", 0), json_num(st, "queue_capacity", 0),
			json_num(st, "queue_bytes", 0), json_num(st, "failed", 0),
			json_num(st, "retries", 0),
			json_num(st, "paused", 0) != 0 ? " paused" : "");
	}
	const struct json *sinks = json_get(cur, "sinks");
	for (size_t i = 0; i < json_len(sinks); i++) {
		const struct json *s = json_at(sinks, i);
		const char *name = json_str(s, "name", "?");
		fprintf(out, "sink %s written=%.0f written_per_s=%.1f\n", name,
			json_num(s, "written", 0),
			rate(s, previous(old, "sinks", name), "written", dt));
	}
	const struct json *prevp = json_get(cur, "previous_pipeline");
	if (prevp != NULL && prevp->type == JSON_OBJECT)
		fprintf(out, "previous_pipeline state=%s items=%.0f\n",
			json_str(prevp, "state", "draining"), json_num(prevp, "items", 0));
	fputc('\n', out);
	fflush(out);
}

/* Waits up to secs for a key; true when it asks to quit. */
static bool wait_key(double secs)
{
	double until = now_s() + secs;
	for (;;) {
		double left = until - now_s();
		if (stop_signal != 0)
			return true;
		if (left <= 0)
			return false;
		struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
		int n = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (n > 0) {
			char c;
			if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q' || c == 3))
				return true;
		} else if (n < 0 && errno != EINTR) {
			return false;
		}
	}
}

int ctl_top(ctl_fetch_fn fetch, void *arg, long iterations, double interval)
{
	bool screen = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	struct json *old = NULL;
	double old_t = 0;
	int rc = 0;
	struct sigaction sa = {.sa_handler = on_signal};

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (screen && enter_terminal() < 0)
		screen = false;
	for (long n = 0; iterations <= 0 || n < iterations; n++) {
		char err[256] = "";
		char *text = fetch(arg, err, sizeof(err));
		double t = now_s();
		struct json *cur = text != NULL ? json_parse(text) : NULL;
		free(text);
		if (cur == NULL) {
			restore_terminal();
			fprintf(stderr, "sluicectl top: %s\n",
				err[0] != '\0' ? err : "the daemon's status is not valid JSON");
			rc = 69;
			break;
		}
		if (screen)
			draw_screen(stdout, cur, old, t - old_t);
		else
			print_plain(stdout, cur, old, t - old_t);
		json_free(old);
		old = cur;
		old_t = t;
		if (iterations > 0 && n + 1 >= iterations)
			break;
		if (screen ? wait_key(interval)
			   : (usleep((useconds_t)(interval * 1e6)), stop_signal))
			break;
	}
	json_free(old);
	restore_terminal();
	return rc;
}
