/*
 * summary.h: a pipeline's counts for people. At exit, the summary on stderr (per
 * source, stage and sink, what was replayed, skipped, spooled or lost, what a job
 * cut short left unread, then the error report); the same counts as "status:" log
 * lines on SIGUSR1 and when a pipeline replaced by a reload finishes.
 */
#ifndef SLUICE_SUMMARY_H
#define SLUICE_SUMMARY_H

struct pipeline;

void summary_print(struct pipeline *p, int exit_code);
void summary_log_counts(struct pipeline *p);

#endif
