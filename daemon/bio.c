/* bio.c: the background I/O pool (see bio.h). */
#include "bio.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

#define BIO_THREADS 2

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t have_work = PTHREAD_COND_INITIALIZER;
static struct bio_job *todo_head, **todo_tail = &todo_head;
static struct bio_job *done_head, **done_tail = &done_head;
static pthread_t threads[BIO_THREADS];
static int n_threads;
static int wake_fd = -1;
static struct event *wake_ev;
static unsigned pending; /* submitted, done() not yet called; loop thread only */
static int stopping;

static void *bio_thread(void *arg)
{
	for (;;) {
		pthread_mutex_lock(&lock);
		while (todo_head == NULL && !stopping)
			pthread_cond_wait(&have_work, &lock);
		struct bio_job *j = todo_head;
		if (j == NULL) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		todo_head = j->next;
		if (todo_head == NULL)
			todo_tail = &todo_head;
		pthread_mutex_unlock(&lock);

		j->work(j);

		pthread_mutex_lock(&lock);
		int was_empty = done_head == NULL;
		j->next = NULL;
		*done_tail = j;
		done_tail = &j->next;
		pthread_mutex_unlock(&lock);
		if (was_empty) {
			uint64_t one = 1;
			ssize_t n = write(wake_fd, &one, sizeof(one));
			(void)n; /* an eventfd write only fails on overflow, which a pending wake
				    covers */
		}
	}
}

static void run_done(void)
{
	pthread_mutex_lock(&lock);
	struct bio_job *j = done_head;
	done_head = NULL;
	done_tail = &done_head;
	pthread_mutex_unlock(&lock);
	while (j != NULL) {
		struct bio_job *next = j->next;
		pending--;
		j->done(j);
		j = next;
	}
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("bio: reading the wakeup eventfd");
	run_done();
}

void bio_init(struct event_base *base)
{
	if (wake_fd >= 0)
		return;
	wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (wake_fd < 0)
		fatal(1, "bio: eventfd failed");
	wake_ev = event_new(base, wake_fd, EV_READ | EV_PERSIST, wake_cb, NULL);
	event_add(wake_ev, NULL);
	stopping = 0;
	for (n_threads = 0; n_threads < BIO_THREADS; n_threads++)
		if (pthread_create(&threads[n_threads], NULL, bio_thread, NULL) != 0)
			fatal(1, "bio: cannot start a thread");
}

void bio_submit(struct bio_job *j)
{
	if (n_threads == 0) {
		/* No pool (not started, or shut down at exit): do it here. */
		j->work(j);
		j->done(j);
		return;
	}
	pending++;
	j->next = NULL;
	pthread_mutex_lock(&lock);
	*todo_tail = j;
	todo_tail = &j->next;
	pthread_cond_signal(&have_work);
	pthread_mutex_unlock(&lock);
}

void bio_shutdown(void)
{
	if (wake_fd < 0)
		return;
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_broadcast(&have_work);
	pthread_mutex_unlock(&lock);
	/* Threads drain the todo list before they see `stopping` with nothing left. */
	for (int i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
	n_threads = 0;
	run_done();
	event_free(wake_ev);
	wake_ev = NULL;
	close(wake_fd);
	wake_fd = -1;
	(void)pending;
}

void bio_work_sync_close(struct bio_job *j)
{
	j->result = fdatasync(j->fd);
	j->err = j->result < 0 ? errno : 0;
	close(j->fd);
}
