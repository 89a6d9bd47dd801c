/*
 * child.h: child processes, each the leader of its own process group.
 *
 * child_spawn() starts a command with vfork and exec (posix_spawnp's speed), with
 * its standard streams set to a pipe, /dev/null or the daemon's own, and
 * PR_SET_PDEATHSIG: a command dies with the daemon, even a SIGKILLed one (what it
 * started itself does not; see the README). Spawn only from the loop's thread. SIGCHLD is one
 * libevent signal event; it reaps with waitpid(-1, WNOHANG) in a loop, so EOF on
 * the pipes and the exit may arrive in either order and no child is ever left a
 * zombie. Once the leader is reaped, whatever is left in its group is killed:
 * nothing a command started outlives its item.
 *
 * The exit callback runs exactly once, from the loop, after which child.c frees
 * the child; an owner that no longer cares calls child_forget(), and the child is
 * still reaped. child_kill_all() is the last word at daemon exit.
 */
#ifndef SLUICE_CHILD_H
#define SLUICE_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct child;

enum child_stream { CHILD_NULL = 0, CHILD_PIPE, CHILD_INHERIT };

struct child_args {
	char *const *argv;
	char *const *envp; /* NULL: the daemon's environment */
	const char *cwd;   /* NULL: the daemon's cwd */
	enum child_stream in, out, err;
};

/* Parent ends of the pipes asked for (non-blocking, close-on-exec), else -1. */
struct child_io {
	int in, out, err;
};

/* status is as from waitpid. */
typedef void (*child_exit_cb)(struct child *c, int status, void *arg);

void child_init(struct event_base *base);
void child_shutdown(void);

/* Returns NULL with *err set to an errno value when the command cannot be started. */
struct child *child_spawn(const struct child_args *a, child_exit_cb cb, void *arg,
			  struct child_io *io, int *err);
pid_t child_pid(const struct child *c);
/* SIGTERM to the whole group now, SIGKILL after kill_after_usec if still there. */
void child_terminate(struct child *c, uint64_t kill_after_usec);
/* The owner goes away: no callback; the child is still reaped and its group killed. */
void child_forget(struct child *c);

/* Sends sig to every live child's group (at exit). */
void child_kill_all(int sig);
/*
 * After the loop: blocks up to timeout_usec for c alone to exit (a sink's command
 * finishing its input). True if it did; its exit callback has then run.
 */
bool child_wait(struct child *c, uint64_t timeout_usec);
/* Blocks up to timeout_usec reaping children, for the very end of main. */
void child_reap_blocking(uint64_t timeout_usec);

/*
 * The daemon's environment with env's variables added or replaced; NULL when env
 * is empty (spawn then passes the environment as it is). Free with child_env_free.
 */
struct conf_env;
char **child_env_merge(const struct conf_env *env, size_t n);
void child_env_free(char **envp);

/* The last bytes a command wrote to stderr: the end is where it says why it failed. */
#define CHILD_TAIL 480
struct child_tail {
	char buf[CHILD_TAIL];
	size_t len; /* < CHILD_TAIL, so buf can always be terminated */
};
void child_tail_add(struct child_tail *t, const char *data, size_t n);
/* Copies the tail into dst (NUL-terminated, truncated to fit). */
void child_tail_copy(const struct child_tail *t, char *dst, size_t size);

/* Describes a waitpid status: "exit status 3", "killed by signal 9 (Killed)". */
const char *child_status_str(int status, char *buf, size_t len);

#endif
