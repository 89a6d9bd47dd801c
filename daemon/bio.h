/*
 * bio.h: background I/O (after Redis's bio.c). A small pool of threads runs the
 * calls that can block for long (fdatasync of a sink, closing a large file), so
 * the loop keeps serving signals, timers and the other sinks meanwhile.
 *
 * Ordering: jobs run in submission order when there is one thread; with more,
 * independent jobs may overlap, so a caller keeps at most one job per resource
 * in flight. Completion: the worker appends the job to a done list under a lock
 * and wakes the loop (an eventfd) only on the empty-to-non-empty transition; the
 * loop then calls each job's done() callback. Nothing else crosses threads.
 */
#ifndef SLUICE_BIO_H
#define SLUICE_BIO_H

struct event_base;

struct bio_job {
	struct bio_job *next;
	void (*work)(struct bio_job *j); /* on a pool thread: no loop state here */
	void (*done)(struct bio_job *j); /* back on the loop */
	void *arg;
	int fd;
	int result, err;
};

void bio_init(struct event_base *base);
void bio_submit(struct bio_job *j);
/* Waits for every submitted job to run (their done() callbacks too), then stops the threads. */
void bio_shutdown(void);

/* Ready-made work: fdatasync(j->fd) then close(j->fd); result/err as from fdatasync. */
void bio_work_sync_close(struct bio_job *j);

#endif
