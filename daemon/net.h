/*
 * net.h: what the network sinks and the http stage share: one evdns resolver
 * for the whole daemon (so no name lookup ever blocks the loop), created on
 * first use and freed with its last user, and the jittered exponential backoff
 * every reconnect uses.
 */
#ifndef SLUICE_NET_H
#define SLUICE_NET_H

#include <stdint.h>

struct event_base;
struct evdns_base;

struct evdns_base *net_dns_get(struct event_base *base);
void net_dns_put(void);

/*
 * The next wait after `failures` failures in a row: backoff doubled each time up
 * to max_backoff, then a random point in its upper half (jitter, so that many
 * clients of one peer do not come back in step).
 */
uint64_t net_backoff(uint64_t backoff, uint64_t max_backoff, unsigned failures);

#endif
