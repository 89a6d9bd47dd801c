/*
 * sluicectl.c: the control client. It sends one request line to a running
 * sluiced over its control socket (control.c), prints the reply and exits
 *   0 on "ok", 1 on "error: ...", 64 on bad usage, 66 when the -c file cannot be
 *   read, 69 when the daemon cannot be reached, 78 when the -c file names no
 *   control socket.
 *
 * Deliberately small and blocking: of the daemon it links the loader (conf.o and
 * the base layer under it) and nothing that runs a loop. For -c it loads the
 * pipeline file as sluiced does and takes its control.socket.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "ctl-top.h"
#include "kinds.h"
#include "util.h"
#include "version.h"

#define DEFAULT_SOCKET	"/run/sluice/control.sock"
#define REPLY_TIMEOUT_S 60

enum { EX_OK = 0, EX_ERR = 1, EX_USAGE_ = 64, EX_NOINPUT_ = 66, EX_UNAVAIL = 69, EX_CONF = 78 };

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: sluicectl [-s SOCKET | -c CONFIG] COMMAND\n"
	    "commands:\n"
	    "  status [--json]     the pipeline's counters: a table, or JSON\n"
	    "  pause NAME          stop a source reading, or a stage starting items\n"
	    "  resume NAME         undo pause\n"
	    "  scale STAGE N       set a stage's worker count (1..%u)\n"
	    "  drain               graceful stop: sources stop, queued items finish\n"
	    "  reload              reload the pipeline file (as SIGHUP)\n"
	    "  top [-n N] [-d SECS] a live view, refreshed every SECS (default 1); q quits;\n"
	    "                      plain lines when not on a terminal; -n: N refreshes\n"
	    "options:\n"
	    "  -s, --socket PATH   the control socket (default " DEFAULT_SOCKET ")\n"
	    "  -c, --config FILE   use the control.socket of this pipeline file\n"
	    "  -V, --version, -h, --help\n"
	    "exit codes: 0 ok, 1 the daemon answered with an error, 64 usage,\n"
	    "            66 CONFIG unreadable, 69 daemon unreachable, 78 CONFIG has no socket\n",
	    WORKERS_MAX);
}

/* ---- -c: the control socket named by a pipeline file ---- */

/*
 * The file's control.socket as sluiced reads it: through the daemon's own loader,
 * so flow or block style, ${VAR} and anchors mean what they mean to the daemon. A
 * file the loader refuses is refused here too, with its errors.
 */
static int socket_from_config(const char *file, char **out)
{
	char *errs = NULL;
	size_t errs_len = 0;
	bool noinput = false;
	FILE *ef = open_memstream(&errs, &errs_len);
	kinds_register();
	struct conf *conf = conf_load(file, ef != NULL ? ef : stderr, &noinput);
	int rc = EX_OK;

	if (ef != NULL)
		fclose(ef);
	*out = NULL;
	if (conf == NULL && noinput) {
		/* The loader's "FILE: strerror". */
		fprintf(stderr, "sluicectl: cannot read %s", errs != NULL ? errs : "\n");
		rc = EX_NOINPUT_;
	} else if (conf == NULL) {
		fputs(errs != NULL ? errs : "", stderr);
		fprintf(stderr,
			"sluicectl: %s is not a pipeline file sluiced would load (errors above): "
			"give the socket with -s\n",
			file);
		rc = EX_CONF;
	} else if (conf->control.socket == NULL) {
		fprintf(
		    stderr,
		    "sluicectl: %s has no 'control: {socket: PATH}': that daemon has no control "
		    "socket (or give it with -s)\n",
		    file);
		rc = EX_CONF;
	} else {
		*out = xstrdup(conf->control.socket);
	}
	conf_free(conf);
	free(errs);
	return rc;
}

/* ---- talking to the daemon ---- */

static int connect_to(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "cannot connect to %s: the path is too long", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot connect to %s: %s%s", path, strerror(e),
			 e == ENOENT || e == ECONNREFUSED
			     ? " (is sluiced running, with control.socket set?)"
			 : e == EACCES
			     ? " (the socket is mode 0600: run as the daemon's user or root)"
			     : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct timeval tv = {REPLY_TIMEOUT_S, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads to EOF; returns the reply (NUL-terminated) or NULL on a read error. */
static char *read_reply(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (cap - n < 2048)
			buf = xrealloc(buf, cap *= 2);
		ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && n > 0 && errno == ECONNRESET)
			break; /* the daemon closed after writing: keep what came */
		if (r < 0) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * Sends req and reads the reply to its end: EX_OK with the body before the verdict
 * line in *body (malloc'ed), EX_ERR with the daemon's error in err and its body in
 * *body, EX_UNAVAIL with the reason in err.
 */
static int exchange(const char *path, const char *req, char **body, char *err, size_t errlen)
{
	*body = NULL;
	int fd = connect_to(path, err, errlen);
	if (fd < 0)
		return EX_UNAVAIL;
	size_t len = 0;
	char *reply = NULL;
	/* A daemon that refuses us answers and closes at once: our send may fail with
	 * EPIPE, but its answer is still there to read. */
	int sent = send_all(fd, req, strlen(req));
	int send_errno = errno;
	if ((reply = read_reply(fd, &len)) == NULL || (sent < 0 && len == 0)) {
		int e = sent < 0 ? send_errno : errno;
		free(reply);
		snprintf(err, errlen, "%s: %s", path,
			 e == EAGAIN ? "no reply within 60s" : strerror(e));
		close(fd);
		return EX_UNAVAIL;
	}
	close(fd);

	/* The last line is the verdict; everything before it is the body. */
	while (len > 0 && reply[len - 1] == '\n')
		reply[--len] = '\0';
	char *last = strrchr(reply, '\n');
	char *verdict = last != NULL ? last + 1 : reply;
	int rc;
	if (strcmp(verdict, "ok") == 0) {
		rc = EX_OK;
	} else if (strncmp(verdict, "error: ", 7) == 0) {
		snprintf(err, errlen, "%s", verdict + 7);
		rc = EX_ERR;
	} else {
		snprintf(err, errlen,
			 "%s: the daemon closed the connection without a complete reply", path);
		free(reply);
		return EX_ERR;
	}
	if (last != NULL)
		last[1] = '\0';
	else
		reply[0] = '\0';
	*body = reply;
	return rc;
}

static int request(const char *path, const char *req)
{
	char err[512] = "", *body = NULL;
	int rc = exchange(path, req, &body, err, sizeof(err));

	if (body != NULL)
		fputs(body, rc == EX_OK ? stdout : stderr);
	free(body);
	if (rc != EX_OK) {
		fprintf(stderr, "sluicectl: %s\n", err);
		return rc;
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "sluicectl: writing the reply: %s\n", strerror(errno));
		return EX_ERR;
	}
	return EX_OK;
}

static char *fetch_status(void *arg, char *err, size_t errlen)
{
	char *body = NULL;
	if (exchange(arg, "status json\n", &body, err, errlen) != EX_OK) {
		free(body);
		return NULL;
	}
	return body;
}

/* A word that can travel in the one-line protocol. */
static bool word_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

/* top [-n N] [-d SECS] */
static int parse_top_args(int nargs, char **args, long *iterations, double *interval)
{
	for (int i = 0; i < nargs; i++) {
		char *end;
		if (i + 1 >= nargs)
			return -1;
		if (strcmp(args[i], "-n") == 0) {
			*iterations = strtol(args[++i], &end, 10);
			if (*end != '\0' || *iterations < 1)
				return -1;
		} else if (strcmp(args[i], "-d") == 0) {
			*interval = strtod(args[++i], &end);
			if (*end != '\0' || !(*interval >= 0.1 && *interval <= 3600))
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *sock = NULL, *config = NULL;
	int c;

	/* '+': options end at the command, so `status --json` reaches us whole. */
	while ((c = getopt_long(argc, argv, "+s:c:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'V':
			printf("sluicectl " SLUICE_VERSION "\n");
			return EX_OK;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE_;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "sluicectl: no command\n");
		usage(stderr);
		return EX_USAGE_;
	}
	const char *cmd = argv[optind];
	int nargs = argc - optind - 1;
	char **args = argv + optind + 1;
	char *req = NULL;
	long top_iterations = 0;
	double top_interval = 1;

	if (strcmp(cmd, "status") == 0 && nargs == 0) {
		req = xstrdup("status\n");
	} else if (strcmp(cmd, "status") == 0 && nargs == 1 &&
		   (strcmp(args[0], "--json") == 0 || strcmp(args[0], "-j") == 0 ||
		    strcmp(args[0], "json") == 0)) {
		req = xstrdup("status json\n");
	} else if ((strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0) && nargs == 1 &&
		   word_ok(args[0])) {
		req = xasprintf("%s %s\n", cmd, args[0]);
	} else if (strcmp(cmd, "scale") == 0 && nargs == 2 && word_ok(args[0]) &&
		   strspn(args[1], "0123456789") == strlen(args[1]) && args[1][0] != '\0') {
		req = xasprintf("scale %s %s\n", args[0], args[1]);
	} else if ((strcmp(cmd, "drain") == 0 || strcmp(cmd, "reload") == 0) && nargs == 0) {
		req = xasprintf("%s\n", cmd);
	} else if (strcmp(cmd, "top") == 0 &&
		   parse_top_args(nargs, args, &top_iterations, &top_interval) == 0) {
		req = xstrdup("top");
	} else {
		fprintf(stderr, "sluicectl: bad command: %s%s\n", cmd, nargs > 0 ? " ..." : "");
		usage(stderr);
		return EX_USAGE_;
	}

	char *from_config = NULL;
	if (sock == NULL && config != NULL) {
		int rc = socket_from_config(config, &from_config);
		if (rc != EX_OK) {
			free(req);
			return rc;
		}
		sock = from_config;
	}
	if (sock == NULL)
		sock = DEFAULT_SOCKET;
	int rc = strcmp(req, "top") == 0
		     ? ctl_top(fetch_status, (void *)sock, top_iterations, top_interval)
		     : request(sock, req);
	free(req);
	free(from_config);
	return rc;
}
