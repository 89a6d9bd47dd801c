/*
 * envcheck.c: `--check` looks at the host as well as the file (see envcheck.h).
 *
 * Each check asks the kernel what the daemon itself will ask it at start or at the
 * first item: can this program be spawned (posix_spawnp's PATH search, from the
 * stage's cwd), can this file be opened for reading, can this output be created,
 * can this address be bound. It runs before any event loop exists, once, so plain
 * blocking calls are fine here. It opens nothing for writing and creates nothing:
 * a bind is released at once, an output is judged by access(2) on it or its parent.
 */
#include "envcheck.h"

#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

struct problem {
	struct conf_pos pos;
	size_t seq; /* problems at one position keep their order */
	char *msg;
};

struct checker {
	const struct conf *c;
	struct problem *v;
	size_t n;
};

__attribute__((format(printf, 3, 4))) static void problem(struct checker *ck, struct conf_pos pos,
							  const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		fatal(1, "out of memory");
	va_end(ap);
	ck->v = xrealloc(ck->v, (ck->n + 1) * sizeof(*ck->v));
	ck->v[ck->n] = (struct problem){pos, ck->n, msg};
	ck->n++;
}

static int problem_cmp(const void *a, const void *b)
{
	const struct problem *x = a, *y = b;
	if (x->pos.line != y->pos.line)
		return x->pos.line < y->pos.line ? -1 : 1;
	if (x->pos.col != y->pos.col)
		return x->pos.col < y->pos.col ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The path as the child will see it: relative to cwd when one is set. */
static char *in_dir(const char *cwd, const char *path)
{
	if (cwd == NULL || path[0] == '/')
		return xstrdup(path);
	return xasprintf("%s/%s", cwd, path);
}

static bool executable(const char *path, int *err)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		*err = errno;
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		*err = S_ISDIR(st.st_mode) ? EISDIR : EACCES;
		return false;
	}
	if (eaccess(path, X_OK) < 0) {
		*err = errno;
		return false;
	}
	return true;
}

/* posix_spawnp: a name with a '/' is a path; otherwise each PATH entry in turn. */
static void check_program(struct checker *ck, const char *owner, char *const *argv,
			  const void *field, struct conf_pos fallback, const char *cwd)
{
	struct conf_pos pos = conf_pos_of(ck->c, field, fallback);
	const char *prog = argv[0];
	int err = 0;

	/* A placeholder is filled in per item: nothing to look at yet. */
	if (prog == NULL || strchr(prog, '{') != NULL)
		return;
	if (strchr(prog, '/') != NULL) {
		char *path = in_dir(cwd, prog);
		if (!executable(path, &err))
			problem(ck, pos, "%s: cannot run '%s': %s", owner, path, strerror(err));
		free(path);
		return;
	}
	const char *env_path = getenv("PATH");
	const char *search = env_path != NULL ? env_path : "/bin:/usr/bin";
	char *copy = xstrdup(search), *save = NULL;
	bool found = false;
	for (char *dir = strtok_r(copy, ":", &save); dir != NULL && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		char *path = xasprintf("%s/%s", dir, prog);
		char *full = in_dir(dir[0] == '/' ? NULL : cwd, path);
		found = executable(full, &err);
		free(full);
		free(path);
	}
	free(copy);
	if (!found)
		problem(ck, pos, "%s: command '%s' is not found on PATH (%s)", owner, prog, search);
}

static void check_dir(struct checker *ck, const char *owner, const char *what, const char *path,
		      const void *field, struct conf_pos fallback, int mode)
{
	struct conf_pos pos = conf_pos_of(ck->c, field, fallback);
	struct stat st;

	if (stat(path, &st) < 0)
		problem(ck, pos, "%s: %s '%s': %s", owner, what, path, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		problem(ck, pos, "%s: %s '%s' is not a directory", owner, what, path);
	else if (eaccess(path, mode) < 0)
		problem(ck, pos, "%s: %s '%s': %s", owner, what, path, strerror(errno));
}

static void check_readable(struct checker *ck, const char *owner, const char *path,
			   const void *field, struct conf_pos fallback)
{
	struct conf_pos pos = conf_pos_of(ck->c, field, fallback);
	struct stat st;

	if (stat(path, &st) < 0 || eaccess(path, R_OK) < 0)
		problem(ck, pos, "%s: cannot read '%s': %s", owner, path, strerror(errno));
	else if (S_ISDIR(st.st_mode))
		problem(ck, pos, "%s: '%s' is a directory", owner, path);
}

/*
 * An output file (or a unix socket, socket: true) that the daemon creates or opens
 * for writing: an existing one must be writable, a new one needs a writable parent.
 */
static void check_creatable(struct checker *ck, const char *owner, const char *path,
			    const void *field, struct conf_pos fallback, bool socket)
{
	struct conf_pos pos = conf_pos_of(ck->c, field, fallback);
	struct stat st;

	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			problem(ck, pos, "%s: '%s' is a directory", owner, path);
		else if (!socket && eaccess(path, W_OK) < 0)
			problem(ck, pos, "%s: cannot write '%s': %s", owner, path, strerror(errno));
		if (!socket || S_ISDIR(st.st_mode))
			return;
	}
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL   ? xstrdup(".")
		    : slash == path ? xstrdup("/")
				    : xstrndup(path, (size_t)(slash - path));
	if (stat(dir, &st) < 0)
		problem(ck, pos, "%s: cannot create '%s': directory '%s': %s", owner, path, dir,
			strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		problem(ck, pos, "%s: cannot create '%s': '%s' is not a directory", owner, path,
			dir);
	else if (eaccess(dir, W_OK | X_OK) < 0)
		problem(ck, pos, "%s: cannot create '%s' in '%s': %s", owner, path, dir,
			strerror(errno));
	free(dir);
}

/* Binds the address as the daemon will (SO_REUSEADDR), then lets it go. */
static void check_listen(struct checker *ck, const char *owner, const char *addr, const void *field,
			 struct conf_pos fallback)
{
	struct conf_pos pos = conf_pos_of(ck->c, field, fallback);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char host[256], port[16];
	unsigned p;
	const char *why;

	if (conf_parse_hostport(addr, host, sizeof(host), &p, &why) < 0)
		return; /* the loader has said so */
	snprintf(port, sizeof(port), "%u", p);
	int rc = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		problem(ck, pos, "%s: cannot resolve '%s': %s", owner, addr, gai_strerror(rc));
		return;
	}
	int err = 0;
	bool bound = false;
	for (struct addrinfo *ai = res; ai != NULL && !bound; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		int one = 1;
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			bound = true;
		else
			err = errno;
		close(fd);
	}
	freeaddrinfo(res);
	if (!bound)
		problem(ck, pos, "%s: cannot listen on '%s': %s", owner, addr, strerror(err));
}

static void check_sources(struct checker *ck)
{
	for (size_t i = 0; i < ck->c->n_sources; i++) {
		const struct conf_source *s = &ck->c->sources[i];
		char *owner = xasprintf("source '%s'", s->name);
		switch (s->type) {
		case SOURCE_FILE:
			check_readable(ck, owner, s->path, &s->path, s->pos);
			break;
		case SOURCE_EXEC:
			check_program(ck, owner, s->argv, &s->argv, s->pos, NULL);
			break;
		case SOURCE_TCP:
		case SOURCE_HTTP:
			check_listen(ck, owner, s->listen, &s->listen, s->pos);
			break;
		case SOURCE_UNIX:
			check_creatable(ck, owner, s->path, &s->path, s->pos, true);
			break;
		case SOURCE_DIR:
			check_dir(ck, owner, "directory", s->path, &s->path, s->pos,
				  R_OK | W_OK | X_OK);
			break;
		case SOURCE_STDIN:
		case SOURCE_GENERATE:
		case SOURCE_REDIS_STREAM:
			break;
		}
		free(owner);
	}
}

static void check_stages(struct checker *ck)
{
	for (size_t i = 0; i < ck->c->n_stages; i++) {
		const struct conf_stage *st = &ck->c->stages[i];
		if (st->kind != STAGE_EXEC && st->kind != STAGE_COPROCESS)
			continue;
		char *owner = xasprintf("stage '%s'", st->name);
		if (st->cwd != NULL)
			check_dir(ck, owner, "cwd", st->cwd, &st->cwd, st->pos, X_OK);
		check_program(ck, owner, st->argv, &st->argv, st->pos, st->cwd);
		free(owner);
	}
}

static void check_outputs(struct checker *ck)
{
	const struct conf *c = ck->c;
	struct conf_pos top = {1, 1};

	for (size_t i = 0; i < c->n_sinks; i++) {
		const struct conf_sink *s = &c->sinks[i];
		char *owner = xasprintf("sink '%s'", s->name);
		if (s->type == SINK_FILE)
			check_creatable(ck, owner, s->path, &s->path, s->pos, false);
		else if (s->type == SINK_EXEC)
			check_program(ck, owner, s->argv, &s->argv, s->pos, NULL);
		free(owner);
	}
	if (c->dead_letter.enabled && c->dead_letter.type == SINK_FILE)
		check_creatable(ck, "dead_letter", c->dead_letter.path, &c->dead_letter.path,
				c->dead_letter.pos, false);
	if (c->joblog != NULL)
		check_creatable(ck, "joblog", c->joblog, &c->joblog, top, false);
	if (c->shutdown.spool != NULL)
		check_creatable(ck, "shutdown.spool", c->shutdown.spool, &c->shutdown.spool, top,
				false);
	if (c->control.socket != NULL)
		check_creatable(ck, "control.socket", c->control.socket, &c->control.socket, top,
				true);
	if (c->metrics.listen != NULL)
		check_listen(ck, "metrics.listen", c->metrics.listen, &c->metrics.listen, top);
}

size_t envcheck_run(const struct conf *c, FILE *out)
{
	struct checker ck = {.c = c};
	const char *shown = strcmp(c->file, "-") == 0 ? "<stdin>" : c->file;

	check_sources(&ck);
	check_stages(&ck);
	check_outputs(&ck);
	if (ck.n > 1)
		qsort(ck.v, ck.n, sizeof(*ck.v), problem_cmp);
	for (size_t i = 0; i < ck.n; i++) {
		fprintf(out, "%s:%d:%d: %s\n", shown, ck.v[i].pos.line, ck.v[i].pos.col,
			ck.v[i].msg);
		free(ck.v[i].msg);
	}
	free(ck.v);
	return ck.n;
}
