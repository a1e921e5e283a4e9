/*
 * netaddr - IPv4/IPv6 addresses and CIDR lists
 *
 * Parsing goes through inet_pton(); IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) are folded to IPv4 so one list entry covers both forms.
 * Lists are malloc()ed and freed by netlist_free(); first matching entry wins,
 * so "!10.1.0.0/16 10.0.0.0/8" excludes a subnet as Postfix and
 * SpamAssassin's trusted_networks do.
 */
#include "util/netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct netent {
	struct netaddr addr;
	int bits;
	bool negate;
};

struct netlist {
	struct netent *v;
	size_t n;
};

static void
fold_mapped(struct netaddr *na)
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
		0xff };

	if (na->family == AF_INET6 && memcmp(na->a, pfx, 12) == 0) {
		memmove(na->a, na->a + 12, 4);
		memset(na->a + 4, 0, 12);
		na->family = AF_INET;
	}
}

int
netaddr_parse(const char *s, size_t len, struct netaddr *na)
{
	char tmp[64];

	if (len >= 5 && strncasecmp(s, "IPv6:", 5) == 0) {
		s += 5;
		len -= 5;
	}
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	memset(na, 0, sizeof(*na));
	if (inet_pton(AF_INET, tmp, na->a) == 1) {
		na->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, na->a) == 1) {
		na->family = AF_INET6;
		fold_mapped(na);
		return 0;
	}
	return -EINVAL;
}

const char *
netaddr_str(const struct netaddr *na, char *out, size_t outsz)
{
	if (inet_ntop(na->family, na->a, out, (socklen_t)outsz) == NULL)
		snprintf(out, outsz, "?");
	return out;
}

static bool
prefix_match(const struct netaddr *net, int bits, const struct netaddr *a)
{
	int full = bits / 8, rest = bits % 8;

	if (net->family != a->family)
		return false;
	if (memcmp(net->a, a->a, (size_t)full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((net->a[full] & mask) != (a->a[full] & mask))
			return false;
	}
	return true;
}

static bool
in_cidr(const char *cidr, const struct netaddr *a)
{
	struct netaddr net;
	const char *slash = strchr(cidr, '/');

	if (netaddr_parse(cidr, (size_t)(slash - cidr), &net) < 0)
		return false;
	return prefix_match(&net, atoi(slash + 1), a);
}

bool
netaddr_loopback(const struct netaddr *a)
{
	return in_cidr("127.0.0.0/8", a) || in_cidr("::1/128", a);
}

bool
netaddr_private(const struct netaddr *a)
{
	static const char *const nets[] = { "127.0.0.0/8", "10.0.0.0/8",
		"172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
		"100.64.0.0/10", "0.0.0.0/8", "::1/128", "fc00::/7",
		"fe80::/10", "::/128" };

	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
		if (in_cidr(nets[i], a))
			return true;
	return false;
}

struct netlist *
netlist_parse(const char *spec, size_t *bad)
{
	struct netlist *l = calloc(1, sizeof(*l));
	const char *p = spec;
	size_t cap = 0;

	if (l == NULL)
		return NULL;
	while (*p) {
		const char *start, *slash = NULL;
		struct netent e = { 0 };
		size_t alen;
		char *end;

		while (*p && (isspace((unsigned char)*p) || *p == ','))
			p++;
		if (!*p)
			break;
		start = p;
		if (*p == '!') {
			e.negate = true;
			p++;
		}
		const char *as = p;
		while (*p && !isspace((unsigned char)*p) && *p != ',') {
			if (*p == '/')
				slash = p;
			p++;
		}
		alen = (size_t)((slash ? slash : p) - as);
		if (netaddr_parse(as, alen, &e.addr) < 0)
			goto fail;
		e.bits = e.addr.family == AF_INET ? 32 : 128;
		if (slash) {
			long b = strtol(slash + 1, &end, 10);
			if (end != p || end == slash + 1 || b < 0 || b > e.bits)
				goto fail;
			e.bits = (int)b;
		}
		if (l->n == cap) {
			cap = cap ? cap * 2 : 8;
			struct netent *nv = realloc(l->v, cap * sizeof(*nv));
			if (nv == NULL)
				goto fail;
			l->v = nv;
		}
		l->v[l->n++] = e;
		continue;
fail:
		if (bad)
			*bad = (size_t)(start - spec);
		netlist_free(l);
		return NULL;
	}
	return l;
}

bool
netlist_match(const struct netlist *l, const struct netaddr *a)
{
	if (l == NULL)
		return false;
	for (size_t i = 0; i < l->n; i++)
		if (prefix_match(&l->v[i].addr, l->v[i].bits, a))
			return !l->v[i].negate;
	return false;
}

size_t
netlist_len(const struct netlist *l)
{
	return l ? l->n : 0;
}

struct netlist *
netlist_free(struct netlist *l)
{
	if (l) {
		free(l->v);
		free(l);
	}
	return NULL;
}
