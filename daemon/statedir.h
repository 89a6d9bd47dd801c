/*
 * statedir.h: the state directory (`state_dir`, issue 11): where what must survive
 * a crash is kept. File sources keep their checkpoints here, one file per source
 * (SOURCE.checkpoint); the journal has its own subdirectory (journal/).
 */
#ifndef SLUICE_STATEDIR_H
#define SLUICE_STATEDIR_H

#include <stddef.h>

/* Creates dir (0700) if missing; -1 with err (the path and errno) when it cannot be written. */
int state_dir_prepare(const char *dir, char *err, size_t errlen);

/* The checkpoint file of a file source (malloc'd). */
char *state_dir_checkpoint(const char *dir, const char *source);

/* The journal's directory (journal.h). */
char *state_dir_journal(const char *dir);

#endif
