/*
 * control.h: the control socket (`control: {socket: PATH}`), the daemon's end of
 * sluicectl. A Unix stream socket, mode 0600, answering only root and the
 * daemon's own uid. One request line per connection; the reply is text whose
 * last line is "ok" or "error: MESSAGE", then the daemon closes.
 */
#ifndef SLUICE_CONTROL_H
#define SLUICE_CONTROL_H

#include <stddef.h>

struct control;
struct supervisor;

/* Checks what can be checked without touching the file system (the path fits a
 * sockaddr_un). -1 with a message in err when it cannot work. */
int control_check(const char *path, char *err, size_t errlen);
/*
 * Creates the socket at path on the pipeline's loop. NULL with *exit_code set
 * (73 when it cannot be created or another daemon answers on it, 78 when the path
 * is unusable) and the reason logged.
 */
struct control *control_new(struct supervisor *sv, const char *path, int *exit_code);
/* Closes every connection and removes the socket file (if it is still ours). */
void control_free(struct control *c);

#endif
