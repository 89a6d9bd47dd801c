/*
 * ctl-top.h: `sluicectl top`, a live view of a running pipeline, refreshed every
 * interval: per source, stage and sink the items per second in and out, queue fill
 * as a bar (items and bytes), in flight / workers, failures and retries, paused
 * sources and stages highlighted, the previous pipeline while a reload drains.
 * Full screen on a terminal (q quits); plain lines, one block per refresh, when
 * stdin or stdout is not a terminal.
 */
#ifndef SLUICE_CTL_TOP_H
#define SLUICE_CTL_TOP_H

#include <stddef.h>

/* The daemon's `status json` body (malloc'ed), or NULL with a reason in err. */
typedef char *(*ctl_fetch_fn)(void *arg, char *err, size_t errlen);

/* Runs until q, a signal, or iterations refreshes (0: no limit). Exit code. */
int ctl_top(ctl_fetch_fn fetch, void *arg, long iterations, double interval);

#endif
