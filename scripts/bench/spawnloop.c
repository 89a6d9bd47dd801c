/* spawnloop: the limit for "one process per item" on this machine.
 *
 *   spawnloop N W CMD [ARG...]
 *
 * Runs CMD N times with posix_spawnp(), keeping W children in flight, reaping each with
 * waitpid() and starting the next one as soon as one ends. No shell, no pipes, no event
 * loop: nothing a real exec stage can do with less. Exits 1 if any child failed, and
 * prints "spawnloop: N ok, F failed" on stderr.
 *
 * Build: gcc -O2 -Wall -Wextra -Werror -o spawnloop spawnloop.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static long parse_count(const char *s, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || (v == 0 && strcmp(what, "W") == 0)) {
		fprintf(stderr, "spawnloop: bad %s '%s'\n", what, s);
		exit(64);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: spawnloop N W CMD [ARG...]\n");
		return 64;
	}
	long total = parse_count(argv[1], "N");
	long width = parse_count(argv[2], "W");
	char **cmd = argv + 3;

	long started = 0, running = 0, ok = 0, failed = 0;
	while (started < total || running > 0) {
		while (running < width && started < total) {
			pid_t pid;
			int rc = posix_spawnp(&pid, cmd[0], NULL, NULL, cmd, environ);
			if (rc != 0) {
				fprintf(stderr, "spawnloop: %s: %s\n", cmd[0], strerror(rc));
				return 1;
			}
			started++;
			running++;
		}
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			perror("spawnloop: waitpid");
			return 1;
		}
		running--;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
		else
			failed++;
	}
	fprintf(stderr, "spawnloop: %ld ok, %ld failed\n", ok, failed);
	return failed == 0 ? 0 : 1;
}
