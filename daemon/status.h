/*
 * status.h: the pipeline's live state rendered for people and programs: the
 * `sluicectl status` table, the JSON of `status --json` and `/status`, the
 * Prometheus text of `/metrics`, and the one-line summary for systemd's STATUS=.
 * All read-only; all from the same counters as the exit summary.
 */
#ifndef SLUICE_STATUS_H
#define SLUICE_STATUS_H

#include <stddef.h>

struct evbuffer;
struct pipeline;

void status_json(struct pipeline *p, struct evbuffer *out);
void status_text(struct pipeline *p, struct evbuffer *out);
void status_prometheus(struct pipeline *p, struct evbuffer *out);
/* "running: 1234 done, 2 failed; source 'x' held back 12s" */
void status_line(struct pipeline *p, char *buf, size_t len);

#endif
