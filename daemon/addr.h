/*
 * addr.h: the daemon's own addresses checked as text, without a socket: the
 * metrics endpoint's "HOST:PORT" and the control socket's path. The loader
 * checks them so a typo fails the load with its position; metrics.c and
 * control.c parse them again when they bind. Messages name the key (KEY is
 * "metrics.listen", "control.socket").
 */
#ifndef SLUICE_ADDR_H
#define SLUICE_ADDR_H

#include <stddef.h>

/*
 * Splits "HOST:PORT" ("[V6ADDR]:PORT" for IPv6; PORT 0 picks a free port) into
 * host and port. -1 with a message in err when it is malformed.
 */
int addr_split_listen(const char *key, const char *listen, char *host, size_t hostlen,
		      unsigned *port, char *err, size_t errlen);
/* path fits a sockaddr_un and is not empty; -1 with a message in err if not. */
int addr_check_unix_path(const char *key, const char *path, char *err, size_t errlen);

/* The two in the shape of the loader's value checks, for their keys. */
int addr_check_metrics_listen(const char *listen, char *err, size_t errlen);
int addr_check_control_socket(const char *path, char *err, size_t errlen);

#endif
