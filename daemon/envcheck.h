/*
 * envcheck.h: `sluiced --check` also checks the host a loaded pipeline will run on
 * (as `vector validate` does): every command of an exec or co-process stage, exec
 * source and exec sink resolves and is executable, input files and directories are
 * readable, outputs (sink and dead-letter files, joblog, spool, unix sockets) can be
 * created, listen addresses can be bound. `--no-environment` skips it.
 */
#ifndef SLUICE_ENVCHECK_H
#define SLUICE_ENVCHECK_H

#include <stddef.h>
#include <stdio.h>

#include "conf.h"

/*
 * Writes every problem found, sorted by position, as "FILE:LINE:COL: message" (at
 * the key's value where the file has it), to out. Returns how many there were.
 */
size_t envcheck_run(const struct conf *c, FILE *out);

#endif
