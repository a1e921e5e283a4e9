/* util/netaddr.h - IPv4/IPv6 addresses and CIDR lists */
#ifndef UTIL_NETADDR_H
#define UTIL_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct netaddr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t a[16];
};

struct netlist;

/* netaddr_parse - "1.2.3.4", "::1", "[::1]", "IPv6:::1"; 0 or -EINVAL */
int netaddr_parse(const char *s, size_t len, struct netaddr *);
/* netaddr_str - printable form into out (at least 46 bytes) */
const char *netaddr_str(const struct netaddr *, char *out, size_t outsz);
/* netaddr_private - loopback, RFC 1918, link-local, ULA, CGNAT */
bool netaddr_private(const struct netaddr *);
bool netaddr_loopback(const struct netaddr *);

/* netlist_parse - whitespace/comma separated "addr[/len]" entries, a
 * leading '!' excludes; NULL on a bad entry (*bad gets its offset). */
struct netlist *netlist_parse(const char *spec, size_t *bad);
bool netlist_match(const struct netlist *, const struct netaddr *);
size_t netlist_len(const struct netlist *);
struct netlist *netlist_free(struct netlist *);

#endif
