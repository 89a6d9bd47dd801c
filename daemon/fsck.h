/*
 * fsck.h: sluiced --fsck -c FILE [--repair]: checks the state directory of a
 * pipeline (issue 11) while no daemon uses it: every checkpoint file (each line's
 * CRC, a torn last line) and the journal (record CRCs, a torn or damaged tail).
 * One line per problem and a summary on stdout; --repair cuts the damage (what a
 * start would do, reported here instead of in passing).
 */
#ifndef SLUICE_FSCK_H
#define SLUICE_FSCK_H

#include <stdbool.h>
#include <stdio.h>

#include "conf.h"

/* The exit code: 0 clean (or repaired, with repair), 1 damage found or unreadable. */
int fsck_run(const struct conf *c, bool repair, FILE *out);

#endif
