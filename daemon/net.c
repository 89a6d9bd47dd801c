/* net.c: the shared resolver and the reconnect backoff (see net.h). */
#include "net.h"

#include <event2/dns.h>
#include <stdlib.h>

static struct evdns_base *dns;
static unsigned users;

struct evdns_base *net_dns_get(struct event_base *base)
{
	if (dns == NULL) {
		/* Reads /etc/resolv.conf and /etc/hosts once, at start. */
		dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
					       EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (dns == NULL) {
			/* An unreadable resolv.conf: names from /etc/hosts still work. */
			dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
			evdns_base_load_hosts(dns, NULL);
		}
	}
	users++;
	return dns;
}

void net_dns_put(void)
{
	if (users > 0 && --users == 0 && dns != NULL) {
		evdns_base_free(dns, 1);
		dns = NULL;
	}
}

uint64_t net_backoff(uint64_t backoff, uint64_t max_backoff, unsigned failures)
{
	uint64_t d = backoff;
	for (unsigned i = 1; i < failures && d < max_backoff; i++)
		d *= 2;
	if (d > max_backoff)
		d = max_backoff;
	if (d < 2)
		return d;
	return d / 2 + (uint64_t)random() % (d / 2 + 1);
}
