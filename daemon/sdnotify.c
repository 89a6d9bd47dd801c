/* sdnotify.c: systemd's notify protocol and watchdog (see sdnotify.h). */
#include "sdnotify.h"

#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;
static uint64_t watchdog_usec;
static struct event *watchdog_ev;
static bool (*health_cb)(void *);
static void *health_arg;

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	if (health_cb == NULL || health_cb(health_arg))
		sdnotify("WATCHDOG=1");
	else
		log_warnx("watchdog: the pipeline looks wedged; not pinging systemd");
}

static struct event_base *notify_base;

void sdnotify_init(struct event_base *base)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *wd = getenv("WATCHDOG_USEC");
	const char *wpid = getenv("WATCHDOG_PID");

	notify_base = base;
	if (path != NULL && (path[0] == '/' || path[0] == '@') &&
	    strlen(path) < sizeof(notify_addr.sun_path)) {
		memset(&notify_addr, 0, sizeof(notify_addr));
		notify_addr.sun_family = AF_UNIX;
		memcpy(notify_addr.sun_path, path, strlen(path));
		if (path[0] == '@')
			notify_addr.sun_path[0] = '\0';
		notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
		notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (notify_fd < 0)
			log_warn("NOTIFY_SOCKET is set but a socket cannot be made");
	}
	/* Children must not talk to systemd in our name. */
	unsetenv("NOTIFY_SOCKET");
	if (wd != NULL && (wpid == NULL || atol(wpid) == (long)getpid()))
		watchdog_usec = strtoull(wd, NULL, 10);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

void sdnotify_watch(bool (*healthy)(void *), void *arg)
{
	health_cb = healthy;
	health_arg = arg;
	if (watchdog_usec > 0 && notify_fd >= 0 && watchdog_ev == NULL) {
		struct timeval tv = {(time_t)(watchdog_usec / 2 / 1000000),
				     (suseconds_t)(watchdog_usec / 2 % 1000000)};
		watchdog_ev = event_new(notify_base, -1, EV_PERSIST, watchdog_cb, NULL);
		event_add(watchdog_ev, &tv);
	}
}

void sdnotify_free(void)
{
	if (watchdog_ev != NULL)
		event_free(watchdog_ev);
	watchdog_ev = NULL;
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}

bool sdnotify_enabled(void)
{
	return notify_fd >= 0;
}

void sdnotify(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	if (notify_fd < 0)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	if (sendto(notify_fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1,
		   MSG_NOSIGNAL, (struct sockaddr *)&notify_addr, notify_len) < 0 &&
	    errno != EAGAIN)
		log_debug("sd_notify: %s", strerror(errno));
}
