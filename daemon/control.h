/*
 * control.h: the control socket (`control: {socket: PATH}`), the daemon's end of
 * sluicectl. A Unix stream socket, mode 0600, answering only root and the
 * daemon's own uid. One request line per connection; the reply is text whose
 * last line is "ok" or "error: MESSAGE", then the daemon closes.
 */
#ifndef SLUICE_CONTROL_H
#define SLUICE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

struct control;
struct service_scope;

/*
 * Creates the socket at path on the pipeline's loop. NULL with *exit_code set
 * (73 when it cannot be created or another daemon answers on it, 78 when the path
 * is unusable) and the reason logged.
 */
struct control *control_new(const struct service_scope *sc, const char *path, int *exit_code);
/* Closes every connection and removes the socket file (if it is still ours). */
void control_free(struct control *c);

/* One request, as parsed from its line (no pipeline looked at yet). */
enum control_cmd {
	CONTROL_STATUS,
	CONTROL_PAUSE,
	CONTROL_RESUME,
	CONTROL_SCALE,
	CONTROL_DRAIN,
	CONTROL_RELOAD,
	CONTROL_HELP
};
struct control_request {
	enum control_cmd cmd;
	bool json;	   /* status json */
	const char *name;  /* pause, resume, scale: the source or stage named */
	const char *count; /* scale: the worker count as written */
	unsigned workers;  /* scale: the count, 0 unless a whole number from 1 to WORKERS_MAX */
};
/*
 * Parses a request line of n bytes (NUL-terminated; split in place, so rq points
 * into it). 0, or -1 with the whole reply line ("error: ...") in err. Pure: the
 * fuzz target calls it.
 */
int control_parse(char *line, size_t n, struct control_request *rq, char *err, size_t errlen);

#endif
