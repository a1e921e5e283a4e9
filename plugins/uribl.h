/*
 * plugins/uribl.h - which names a message's URIs are looked up under in
 * URI blocklists: registered domains via the Public Suffix List (libpsl),
 * IP-literal hosts reversed, a skip list of big benign domains, a cap
 * on lookups per message
 */
#ifndef PLUGINS_URIBL_H
#define PLUGINS_URIBL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/netaddr.h"

struct arena;
struct uribl_psl;

#define URIBL_DEF_MAX 20 /* SA uridnsbl_max_domains */

/* uribl_psl_load - the PSL from file (NULL: the distribution's list as
 * libpsl finds it, else libpsl's built-in copy); 0 or -ENOENT/-ENOMEM. */
int uribl_psl_load(const char *file, struct uribl_psl **out);
struct uribl_psl *uribl_psl_free(struct uribl_psl *);

/* uribl_reg_domain - registered domain ("eTLD+1") of a lowercase host
 * into out; -EINVAL if host is itself a public suffix or not a name,
 * -ENOSPC if out is short. */
int uribl_reg_domain(
    const struct uribl_psl *, const char *host, char *out, size_t outsz);

struct uribl_skip; /* set of domains never looked up */
/* uribl_skip_new - built-in list plus extra (space/comma separated) */
struct uribl_skip *uribl_skip_new(const char *extra, bool builtin);
int uribl_skip_add(struct uribl_skip *, const char *domain);
bool uribl_skip_has(const struct uribl_skip *, const char *domain);
struct uribl_skip *uribl_skip_free(struct uribl_skip *);

struct uribl_item {
	const char *name; /* what to prepend to the zone: registered domain
			      or reversed IPv4/IPv6 */
	const char *host; /* registered domain or IP, printable */
	bool is_ip;
	struct netaddr ip; /* is_ip */
};

/* uribl_items - distinct lookup names for hosts[0..n), in order, at most
 * max (0 = URIBL_DEF_MAX), skipping listed and private/loopback IPs;
 * allocated in a. Returns the count or -ENOMEM. *capped is set when
 * names were left out because of max. */
int uribl_items(const struct uribl_psl *, const struct uribl_skip *,
    const struct bstr *hosts, size_t n, size_t max, struct arena *a,
    struct uribl_item **out, bool *capped);

#endif
