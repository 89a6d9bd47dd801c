/*
 * sdnotify.h: the systemd notify protocol, spoken directly on the datagram socket
 * named by NOTIFY_SOCKET (a path, or "@name" in the abstract namespace), so
 * there is no dependency on libsystemd or a running systemd: without the
 * variable every call is a no-op.
 *
 * The watchdog: with WATCHDOG_USEC set (for this pid, if WATCHDOG_PID says),
 * "WATCHDOG=1" goes out every half period, but only while healthy() says so: a
 * wedged pipeline stops the pings and systemd restarts it.
 */
#ifndef SLUICE_SDNOTIFY_H
#define SLUICE_SDNOTIFY_H

#include <stdbool.h>

struct event_base;

/* Reads the environment (and removes it, so children cannot speak for us). */
void sdnotify_init(struct event_base *base);
/* Starts the watchdog pings, gated by healthy(arg). */
void sdnotify_watch(bool (*healthy)(void *), void *arg);
void sdnotify_free(void);
bool sdnotify_enabled(void);
/* Sends one message ("READY=1", "STATUS=...", several lines joined by \n). */
void sdnotify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
