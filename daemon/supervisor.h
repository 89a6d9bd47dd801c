/*
 * supervisor.h: the daemon's scope, above pipelines. It owns what a reload must
 * not interrupt: the signal events, the control socket, the metrics endpoint, the
 * progress line, and every configuration loaded (a source carried over by a
 * reload keeps pointing into the file it was built from). It runs one active
 * pipeline; a reload that changes the structure makes a successor the active one
 * while the old one drains behind it (pipeline.c). The daemon exits when the
 * active pipeline has stopped, with its exit code. The services reach it through
 * the struct service_scope it hands them (service.h).
 */
#ifndef SLUICE_SUPERVISOR_H
#define SLUICE_SUPERVISOR_H

#include <stddef.h>

struct conf;
struct event_base;
struct supervisor;

/*
 * Builds the pipeline and the services; takes conf. progress: 1 on, 0 off, -1 on
 * when stderr is a terminal and every source is finite. NULL with *exit_code set.
 */
struct supervisor *supervisor_new(struct event_base *base, struct conf *conf, int progress,
				  int *exit_code);
/* Runs the loop to the end, prints the summary; returns the exit code. */
int supervisor_run(struct supervisor *sv);
void supervisor_free(struct supervisor *sv);

#endif
