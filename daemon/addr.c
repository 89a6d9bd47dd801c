/* addr.c: the daemon's own addresses checked as text (see addr.h). */
#include "addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

int addr_split_listen(const char *key, const char *listen, char *host, size_t hostlen,
		      unsigned *port, char *err, size_t errlen)
{
	const char *h = listen, *colon;
	size_t hl;

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (close == NULL || close[1] != ':') {
			snprintf(err, errlen, "%s '%s': expected '[ADDRESS]:PORT'", key, listen);
			return -1;
		}
		h = listen + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (colon == NULL) {
			snprintf(err, errlen, "%s '%s': expected HOST:PORT, e.g. 127.0.0.1:9464",
				 key, listen);
			return -1;
		}
		hl = (size_t)(colon - listen);
		if (memchr(listen, ':', hl) != NULL) {
			snprintf(err, errlen,
				 "%s '%s': write an IPv6 address in brackets, e.g. "
				 "[::1]:9464",
				 key, listen);
			return -1;
		}
	}
	if (hl == 0) {
		snprintf(err, errlen,
			 "%s '%s': name the address to listen on (127.0.0.1:PORT for "
			 "this host only, 0.0.0.0:PORT for every address)",
			 key, listen);
		return -1;
	}
	if (hl >= hostlen) {
		snprintf(err, errlen, "%s '%s': the host name is too long", key, listen);
		return -1;
	}
	const char *ps = colon + 1;
	unsigned long v = 0;
	if (*ps == '\0' || strspn(ps, "0123456789") != strlen(ps) || strlen(ps) > 5 ||
	    (v = strtoul(ps, NULL, 10)) > 65535) {
		snprintf(err, errlen, "%s '%s': the port must be a number from 0 to 65535", key,
			 listen);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (unsigned)v;
	return 0;
}

int addr_check_unix_path(const char *key, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	if (path[0] == '\0') {
		snprintf(err, errlen, "%s is empty", key);
		return -1;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen,
			 "%s '%s' is too long for a Unix socket path (%zu bytes, the "
			 "limit is %zu)",
			 key, path, strlen(path), sizeof(sa.sun_path) - 1);
		return -1;
	}
	return 0;
}

int addr_check_metrics_listen(const char *listen, char *err, size_t errlen)
{
	char host[256];
	unsigned port;
	return addr_split_listen("metrics.listen", listen, host, sizeof(host), &port, err, errlen);
}

int addr_check_control_socket(const char *path, char *err, size_t errlen)
{
	return addr_check_unix_path("control.socket", path, err, errlen);
}
