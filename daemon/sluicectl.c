/*
 * sluicectl.c: the control client. It sends one request line to a running
 * sluiced over its control socket (control.c), prints the reply and exits
 *   0 on "ok", 1 on "error: ...", 64 on bad usage, 66 when the -c file cannot be
 *   read, 69 when the daemon cannot be reached, 78 when the -c file names no
 *   control socket.
 *
 * Deliberately small and blocking: it links nothing of the daemon but util.o.
 * For -c it finds `socket:` under the top-level `control:` key with a line scan
 * (block or flow style, plain or quoted scalar) rather than the real loader;
 * that is all it needs from the file.
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

#include "util.h"

#define SLUICE_VERSION	"0.1.0"
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
	    "  scale STAGE N       set a stage's worker count (1..100000)\n"
	    "  drain               graceful stop: sources stop, queued items finish\n"
	    "  reload              reload the pipeline file (as SIGHUP)\n"
	    "options:\n"
	    "  -s, --socket PATH   the control socket (default " DEFAULT_SOCKET ")\n"
	    "  -c, --config FILE   use the control.socket of this pipeline file\n"
	    "  -V, --version, -h, --help\n"
	    "exit codes: 0 ok, 1 the daemon answered with an error, 64 usage,\n"
	    "            66 CONFIG unreadable, 69 daemon unreachable, 78 CONFIG has no socket\n");
}

/* ---- -c: the control socket named by a pipeline file ---- */

/* Unquotes a YAML scalar in place (plain, 'single' or "double"); NULL if malformed. */
static char *scalar(char *s)
{
	s += strspn(s, " \t");
	if (*s == '"' || *s == '\'') {
		char q = *s, *o = s, *i = s + 1;
		for (; *i != '\0'; i++) {
			if (*i == q && q == '\'' && i[1] == '\'') {
				*o++ = '\'';
				i++;
			} else if (*i == q) {
				*o = '\0';
				return s;
			} else if (*i == '\\' && q == '"' && i[1] != '\0') {
				i++;
				*o++ = *i == 'n' ? '\n' : *i == 't' ? '\t' : *i;
			} else {
				*o++ = *i;
			}
		}
		return NULL;
	}
	/* Plain: up to a comment, a flow delimiter, or the end; trailing blanks dropped. */
	size_t n = 0;
	while (s[n] != '\0' && s[n] != ',' && s[n] != '}' &&
	       !(s[n] == '#' && n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')))
		n++;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	s[n] = '\0';
	return n > 0 ? s : NULL;
}

/* The value of `socket:` in a flow mapping "{ socket: X, ... }" or after "socket:". */
static char *socket_value(char *s)
{
	char *k = strstr(s, "socket:");
	while (k != NULL && k > s && k[-1] != ' ' && k[-1] != '\t' && k[-1] != '{' && k[-1] != ',')
		k = strstr(k + 1, "socket:");
	return k != NULL ? scalar(k + strlen("socket:")) : NULL;
}

static int socket_from_config(const char *file, char **out)
{
	FILE *f = fopen(file, "r");
	char *line = NULL;
	size_t cap = 0;
	bool in_control = false;

	if (f == NULL) {
		fprintf(stderr, "sluicectl: cannot read %s: %s\n", file, strerror(errno));
		return EX_NOINPUT_;
	}
	*out = NULL;
	while (*out == NULL && getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		char *t = line + strspn(line, " \t");
		if (*t == '\0' || *t == '#')
			continue;
		if (t == line) { /* a top-level key */
			in_control = strncmp(line, "control:", 8) == 0;
			if (in_control && strchr(line, '{') != NULL) {
				char *v = socket_value(line + 8);
				if (v != NULL)
					*out = xstrdup(v);
				in_control = false;
			}
		} else if (in_control && strncmp(t, "socket:", 7) == 0) {
			char *v = scalar(t + 7);
			if (v != NULL)
				*out = xstrdup(v);
		}
	}
	free(line);
	fclose(f);
	if (*out == NULL) {
		fprintf(
		    stderr,
		    "sluicectl: %s has no 'control: {socket: PATH}': that daemon has no control "
		    "socket (or give it with -s)\n",
		    file);
		return EX_CONF;
	}
	return EX_OK;
}

/* ---- talking to the daemon ---- */

static int connect_to(const char *path)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "sluicectl: cannot connect to %s: the path is too long\n", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		fprintf(stderr, "sluicectl: cannot connect to %s: %s%s\n", path, strerror(e),
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

static int request(const char *path, const char *req)
{
	int fd = connect_to(path);
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
		fprintf(stderr, "sluicectl: %s: %s\n", path,
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
	size_t body_len = last != NULL ? (size_t)(last - reply) + 1 : 0;
	int rc;
	if (strcmp(verdict, "ok") == 0) {
		fwrite(reply, 1, body_len, stdout);
		rc = EX_OK;
	} else if (strncmp(verdict, "error: ", 7) == 0) {
		fwrite(reply, 1, body_len, stderr);
		fprintf(stderr, "sluicectl: %s\n", verdict + 7);
		rc = EX_ERR;
	} else {
		fprintf(stderr,
			"sluicectl: %s: the daemon closed the connection without a "
			"complete reply\n",
			path);
		rc = EX_ERR;
	}
	free(reply);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "sluicectl: writing the reply: %s\n", strerror(errno));
		rc = EX_ERR;
	}
	return rc;
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
	int rc = request(sock, req);
	free(req);
	free(from_config);
	return rc;
}
