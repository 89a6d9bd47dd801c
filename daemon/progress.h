/*
 * progress.h: the progress line on stderr for jobs (GNU parallel's --bar/--eta):
 * items done and failed, the share of the input consumed (files by bytes,
 * generators by count), the rate and an ETA; redrawn at most 10 times a second,
 * in place, and cleared before any log line and at exit.
 */
#ifndef SLUICE_PROGRESS_H
#define SLUICE_PROGRESS_H

#include <stdbool.h>

struct pipeline;

void progress_start(struct pipeline *p);
void progress_stop(void);
/* A reload: the line follows the new pipeline. */
void progress_follow(struct pipeline *p);
/* Erases the line if one is shown (installed as log's before-write hook). */
void progress_clear(void);

#endif
