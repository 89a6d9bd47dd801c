/*
 * child.c: spawning, reaping and killing process groups (see child.h).
 *
 * Live children sit in a small hash table keyed by pid, so a reap finds its
 * child in O(1) with thousands in flight. The kill escalation timer belongs to the
 * child and dies with it.
 */
#include "child.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "util.h"

extern char **environ;

#define CHILD_BUCKETS 1024

struct child {
	struct child *hnext;
	pid_t pid;
	child_exit_cb cb;
	void *arg;
	struct event *kill_timer;
};

static struct event_base *child_base;
static struct event *sigchld_ev;
static struct child *table[CHILD_BUCKETS];
static unsigned live;

static unsigned bucket(pid_t pid)
{
	return (unsigned)pid % CHILD_BUCKETS;
}

static void table_add(struct child *c)
{
	unsigned b = bucket(c->pid);
	c->hnext = table[b];
	table[b] = c;
	live++;
}

static struct child *table_take(pid_t pid)
{
	struct child **pp;
	for (pp = &table[bucket(pid)]; *pp != NULL; pp = &(*pp)->hnext) {
		if ((*pp)->pid == pid) {
			struct child *c = *pp;
			*pp = c->hnext;
			live--;
			return c;
		}
	}
	return NULL;
}

static void child_reaped(struct child *c, int status)
{
	/* Anything the command left running in its group goes with it. */
	kill(-c->pid, SIGKILL);
	if (c->kill_timer != NULL)
		event_free(c->kill_timer);
	if (c->cb != NULL)
		c->cb(c, status, c->arg);
	free(c);
}

static void reap(void)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0) {
			if (pid < 0 && errno == EINTR)
				continue;
			return;
		}
		struct child *c = table_take(pid);
		if (c != NULL)
			child_reaped(c, status);
	}
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	reap();
}

void child_init(struct event_base *base)
{
	child_base = base;
	sigchld_ev = evsignal_new(base, SIGCHLD, sigchld_cb, NULL);
	event_add(sigchld_ev, NULL);
}

void child_shutdown(void)
{
	if (sigchld_ev != NULL)
		event_free(sigchld_ev);
	sigchld_ev = NULL;
	for (unsigned b = 0; b < CHILD_BUCKETS; b++) {
		while (table[b] != NULL) {
			struct child *c = table[b];
			table[b] = c->hnext;
			if (c->kill_timer != NULL)
				event_free(c->kill_timer);
			free(c);
		}
	}
	live = 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* What the child side of child_spawn() needs, prepared before vfork(). */
struct spawn_plan {
	const struct child_args *a;
	char *const *envp;
	enum child_stream modes[3];
	int fds[3]; /* CHILD_PIPE: the child's end */
	pid_t parent;
	volatile int err; /* written by the child when it cannot exec */
};

/* execvp()'s search (without its /bin/sh retry on ENOEXEC, as posix_spawnp). */
static void exec_search(const char *file, char *const argv[], char *const envp[])
{
	if (strchr(file, '/') != NULL) {
		execve(file, argv, envp);
		return;
	}
	const char *dirs = getenv("PATH");
	if (dirs == NULL)
		dirs = "/bin:/usr/bin";
	size_t flen = strlen(file);
	bool denied = false;
	for (const char *d = dirs;; d++) {
		size_t dlen = strcspn(d, ":");
		char path[4096];
		errno = ENAMETOOLONG;
		if (dlen == 0) { /* an empty entry is the current directory */
			execve(file, argv, envp);
		} else if (dlen + flen + 2 <= sizeof(path)) {
			memcpy(path, d, dlen);
			path[dlen] = '/';
			memcpy(path + dlen + 1, file, flen + 1);
			execve(path, argv, envp);
		}
		if (errno == EACCES)
			denied = true;
		else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE &&
			 errno != ENODEV && errno != ETIMEDOUT && errno != ELOOP &&
			 errno != ENAMETOOLONG)
			return;
		d += dlen;
		if (*d == '\0')
			break;
	}
	errno = denied ? EACCES : ENOENT;
}

/*
 * The child, between vfork() and exec. It runs on the daemon's memory and stack
 * while the daemon waits, so it makes system calls only, writes nothing but
 * sp->err, and never returns.
 */
static void __attribute__((noreturn)) spawn_child(struct spawn_plan *sp)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;

	/* A signal from now on must not run a daemon handler here: every default back. */
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	if (setpgid(0, 0) < 0)
		goto fail;
	/*
	 * The command dies with the daemon, even by SIGKILL (then nothing else could
	 * kill it). The kernel ties this to the thread that forked: the loop's, which
	 * lives as long as the daemon. The daemon may already be gone: then exit now.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		goto fail;
	if (getppid() != sp->parent)
		_exit(127);
	for (int target = 0; target < 3; target++) {
		int fd = sp->fds[target];
		if (sp->modes[target] == CHILD_NULL) {
			fd = open("/dev/null", target == 0 ? O_RDONLY : O_WRONLY);
			if (fd < 0)
				goto fail;
		}
		if (sp->modes[target] == CHILD_INHERIT)
			continue;
		/* dup2 clears close-on-exec on the target; a pipe end already there keeps it. */
		if (fd == target ? fcntl(fd, F_SETFD, 0) < 0 : dup2(fd, target) < 0)
			goto fail;
		if (sp->modes[target] == CHILD_NULL && fd != target)
			close(fd);
	}
	if (sp->a->cwd != NULL && chdir(sp->a->cwd) < 0)
		goto fail;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	exec_search(sp->a->argv[0], sp->a->argv, sp->envp);
fail:
	sp->err = errno != 0 ? errno : ENOEXEC;
	_exit(127);
}

struct child *child_spawn(const struct child_args *a, child_exit_cb cb, void *arg,
			  struct child_io *io, int *err)
{
	struct spawn_plan sp = {.a = a,
				.envp = a->envp != NULL ? a->envp : environ,
				.modes = {a->in, a->out, a->err},
				.fds = {-1, -1, -1},
				.parent = getpid()};
	int parent_ends[3] = {-1, -1, -1};
	sigset_t all, old;
	pid_t pid = -1;
	int rc = 0;

	for (int i = 0; i < 3 && rc == 0; i++) {
		int fds[2];
		if (sp.modes[i] != CHILD_PIPE)
			continue;
		if (pipe2(fds, O_CLOEXEC) < 0) {
			rc = errno;
			break;
		}
		sp.fds[i] = fds[i == 0 ? 0 : 1];
		parent_ends[i] = fds[i == 0 ? 1 : 0];
		set_nonblock(parent_ends[i]);
	}
	if (rc == 0) {
		/*
		 * vfork, not posix_spawn: the child must set PR_SET_PDEATHSIG, and
		 * posix_spawn has no step for it. It costs what posix_spawn costs (which
		 * is a vfork too). Signals stay blocked until the child has reset them.
		 */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pid = vfork();
		if (pid == 0)
			spawn_child(&sp);
		rc = pid < 0 ? errno : 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	for (int i = 0; i < 3; i++)
		if (sp.fds[i] >= 0)
			close(sp.fds[i]);
	if (rc == 0 && sp.err != 0) {
		/* It exited without exec: reap it here, it was never a command. */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		rc = sp.err;
	}
	if (rc != 0) {
		for (int i = 0; i < 3; i++)
			if (parent_ends[i] >= 0)
				close(parent_ends[i]);
		*err = rc;
		return NULL;
	}
	struct child *c = xcalloc(1, sizeof(*c));
	c->pid = pid;
	c->cb = cb;
	c->arg = arg;
	table_add(c);
	if (io != NULL) {
		io->in = parent_ends[0];
		io->out = parent_ends[1];
		io->err = parent_ends[2];
	}
	return c;
}

pid_t child_pid(const struct child *c)
{
	return c->pid;
}

static void kill_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	log_debug("child %d still running after SIGTERM: sending SIGKILL to its group", c->pid);
	kill(-c->pid, SIGKILL);
}

void child_terminate(struct child *c, uint64_t kill_after_usec)
{
	kill(-c->pid, SIGTERM);
	/* A stopped process would never act on SIGTERM. */
	kill(-c->pid, SIGCONT);
	if (c->kill_timer == NULL) {
		struct timeval tv = {(time_t)(kill_after_usec / 1000000),
				     (suseconds_t)(kill_after_usec % 1000000)};
		c->kill_timer = evtimer_new(child_base, kill_timer_cb, c);
		evtimer_add(c->kill_timer, &tv);
	}
}

void child_forget(struct child *c)
{
	c->cb = NULL;
	c->arg = NULL;
}

void child_kill_all(int sig)
{
	for (unsigned b = 0; b < CHILD_BUCKETS; b++)
		for (struct child *c = table[b]; c != NULL; c = c->hnext)
			kill(-c->pid, sig);
}

void child_reap_blocking(uint64_t timeout_usec)
{
	uint64_t end = now_usec() + timeout_usec;
	while (live > 0 && now_usec() < end) {
		reap();
		if (live > 0) {
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
}

bool child_wait(struct child *c, uint64_t timeout_usec)
{
	uint64_t end = now_usec() + timeout_usec;
	pid_t pid = c->pid;
	for (;;) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) {
			struct child *t = table_take(pid);
			if (t != NULL)
				child_reaped(t, status);
			return true;
		}
		if (r < 0 && errno != EINTR)
			return false;
		if (now_usec() >= end)
			return false;
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

char **child_env_merge(const struct conf_env *env, size_t n_env)
{
	size_t n = 0, k = 0;
	if (n_env == 0)
		return NULL;
	while (environ[n] != NULL)
		n++;
	char **envp = xcalloc(n + n_env + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		bool replaced = false;
		for (size_t j = 0; j < n_env && !replaced; j++) {
			size_t l = strlen(env[j].name);
			replaced = strncmp(environ[i], env[j].name, l) == 0 && environ[i][l] == '=';
		}
		if (!replaced)
			envp[k++] = xstrdup(environ[i]);
	}
	for (size_t j = 0; j < n_env; j++)
		envp[k++] = xasprintf("%s=%s", env[j].name, env[j].value);
	envp[k] = NULL;
	return envp;
}

void child_env_free(char **envp)
{
	if (envp == NULL)
		return;
	for (char **e = envp; *e != NULL; e++)
		free(*e);
	free(envp);
}

void child_tail_add(struct child_tail *t, const char *data, size_t n)
{
	size_t keep = n >= CHILD_TAIL - 1 ? CHILD_TAIL - 1 : n;
	data += n - keep;
	if (t->len + keep > CHILD_TAIL - 1) {
		size_t drop = t->len + keep - (CHILD_TAIL - 1);
		memmove(t->buf, t->buf + drop, t->len - drop);
		t->len -= drop;
	}
	memcpy(t->buf + t->len, data, keep);
	t->len += keep;
}

void child_tail_copy(const struct child_tail *t, char *dst, size_t size)
{
	size_t n = t->len < size - 1 ? t->len : size - 1;
	memcpy(dst, t->buf + t->len - n, n);
	dst[n] = '\0';
}

const char *child_status_str(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "unknown status 0x%x", status);
	return buf;
}
