/*
 * envcheck.h: `sluiced --check` also checks the host a loaded pipeline will run on
 * (as `vector validate` does): every command of an exec or co-process stage, exec
 * source and exec sink resolves and is executable, input files and directories are
 * readable, outputs (sink and dead-letter files, joblog, spool, unix sockets) can be
 * created, listen addresses can be bound. `--no-environment` skips it.
 */
#ifndef SLUICE_ENVCHECK_H
#define SLUICE_ENVCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "conf.h"

/*
 * Writes every problem found, sorted by position, as "FILE:LINE:COL: message" (at
 * the key's value where the file has it), to out. Returns how many there were.
 */
size_t envcheck_run(const struct conf *c, FILE *out);

/*
 * For kinds (their conf_kind's envcheck): each records a problem of owner ("source
 * 'x'") at the position of field (the address of the conf member), else fallback.
 * A program with a placeholder in argv[0] is left to run time; cwd may be NULL.
 */
struct envcheck;
void envcheck_program(struct envcheck *ck, const char *owner, char *const *argv, const void *field,
		      struct conf_pos fallback, const char *cwd);
void envcheck_dir(struct envcheck *ck, const char *owner, const char *what, const char *path,
		  const void *field, struct conf_pos fallback, int mode);
void envcheck_readable(struct envcheck *ck, const char *owner, const char *path, const void *field,
		       struct conf_pos fallback);
/* An output file, or a unix socket (socket: true), the daemon will create or open. */
void envcheck_creatable(struct envcheck *ck, const char *owner, const char *path, const void *field,
			struct conf_pos fallback, bool socket);
void envcheck_listen(struct envcheck *ck, const char *owner, const char *addr, const void *field,
		     struct conf_pos fallback);

#endif
