/*
 * plugins/dns.h - asynchronous DNS for the checks: c-ares in the worker's
 * libevent loop, an in-process TTL cache (negative answers too), per-message
 * contexts with a deadline
 *
 * One struct dns_resolver per worker (per event_base). Each message that
 * wants DNS gets a struct dns_ctx tied to its arena: when the arena is freed
 * every query of the context is cancelled and no callback runs after that.
 * Callbacks always run from the event loop, never inside dns_query() (also
 * for cached answers). A result and everything it points to is valid only
 * during the callback: copy what you keep.
 */
#ifndef PLUGINS_DNS_H
#define PLUGINS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/netaddr.h"

struct arena;
struct event_base;
struct dns_resolver;
struct dns_ctx;

/* RR types, RFC 1035 section 3.2.2, RFC 3596 */
#define DNS_T_A 1
#define DNS_T_NS 2
#define DNS_T_CNAME 5
#define DNS_T_SOA 6
#define DNS_T_PTR 12
#define DNS_T_MX 15
#define DNS_T_TXT 16
#define DNS_T_AAAA 28

enum dns_status {
	DNS_OK,	      /* answers present */
	DNS_NXDOMAIN, /* RCODE 3 */
	DNS_NODATA,   /* NOERROR, no record of the type */
	DNS_SERVFAIL, /* RCODE 2 */
	DNS_REFUSED,  /* RCODE 5 */
	DNS_TIMEOUT,  /* no answer in time (query timeout or ctx deadline) */
	DNS_ERROR,    /* anything else: bad reply, no server, FORMERR ... */
};

/* One answer record of the queried type (after CNAMEs). */
struct dns_rr {
	uint16_t type;
	uint32_t ttl;
	struct netaddr addr;	    /* A, AAAA */
	uint16_t pref;		    /* MX preference */
	const char *name;	    /* MX exchange, PTR target: lowercase, no
				 trailing dot, NUL-terminated */
	struct bstr txt;	    /* TXT: the character-strings joined with no
				 separator (SPF, DKIM, DMARC), NUL after it */
	const struct bstr *strings; /* TXT: each character-string */
	size_t nstrings;
};

struct dns_result {
	enum dns_status status;
	uint16_t type;
	const char *name; /* the name asked */
	uint32_t ttl;	  /* positive: min RR TTL; negative: RFC 2308
				 section 5 min(SOA TTL, SOA MINIMUM) */
	size_t n;
	const struct dns_rr *rr;
	bool cached;
	bool deadline; /* DNS_TIMEOUT because the ctx deadline passed */
};

typedef void dns_cb(const struct dns_result *, void *arg);

struct dns_opts {
	const char *servers; /* "127.0.0.1:5353,[::1]:53"; NULL/"": the
				  system resolv.conf */
	unsigned timeout_ms; /* per try (default 1000) */
	unsigned tries;	     /* default 2 */
	size_t cache_max;    /* entries (default 10000, 0 = default) */
	bool no_cache;	     /* bench/tests: every query goes out */
	uint32_t max_ttl;    /* cap on cached TTLs (default 86400) */
	uint32_t neg_ttl;    /* negative TTL without SOA (default 60) */
};

/* dns_resolver_new - a channel whose sockets and timers live in base;
 * 0 or -EINVAL (bad servers) / -ENOMEM / -EIO (c-ares init). */
int dns_resolver_new(struct event_base *base, const struct dns_opts *,
    struct dns_resolver **out);
/* dns_resolver_free - cancel everything, release; returns NULL */
struct dns_resolver *dns_resolver_free(struct dns_resolver *);

/* dns_resolver_set_servers - replace the server list (queries in flight
 * keep going to the old servers); 0 or -EINVAL */
int dns_resolver_set_servers(struct dns_resolver *, const char *servers);

struct dns_stats {
	uint64_t queries, cache_hits, sent, joined, answers, timeouts;
	size_t cache_entries, inflight;
};
void dns_resolver_stats(const struct dns_resolver *, struct dns_stats *);

/* dns_ctx_new - a per-message context; deadline_ms 0 = none. Freed with
 * the arena (pending queries cancelled silently); NULL on -ENOMEM. */
struct dns_ctx *dns_ctx_new(
    struct dns_resolver *, struct arena *, unsigned deadline_ms);
/* dns_ctx_cancel - drop every pending query of ctx without callbacks */
void dns_ctx_cancel(struct dns_ctx *);
size_t dns_ctx_pending(const struct dns_ctx *);
bool dns_ctx_deadline_passed(const struct dns_ctx *);

/* dns_query - ask name (no trailing dot needed) for type; cb runs exactly
 * once from the event loop, unless the query is cancelled. 0, or -EINVAL
 * (bad name/type), -ENOMEM; a failed call never runs cb. */
int dns_query(
    struct dns_ctx *, const char *name, uint16_t type, dns_cb *, void *arg);
int dns_query_a(struct dns_ctx *, const char *name, dns_cb *, void *arg);
int dns_query_aaaa(struct dns_ctx *, const char *name, dns_cb *, void *arg);
int dns_query_txt(struct dns_ctx *, const char *name, dns_cb *, void *arg);
int dns_query_mx(struct dns_ctx *, const char *name, dns_cb *, void *arg);
/* dns_query_ptr - reverse lookup of an address (in-addr.arpa / ip6.arpa) */
int dns_query_ptr(
    struct dns_ctx *, const struct netaddr *, dns_cb *, void *arg);

/* dns_reverse_name - "4.3.2.1" for 1.2.3.4, 32 nibbles for IPv6, with
 * suffix appended after a dot if not NULL; 0 or -ENOSPC. */
int dns_reverse_name(
    const struct netaddr *, const char *suffix, char *out, size_t outsz);

/* Reply parsing (exposed for tests and the fuzzer) ---------------------- */

struct dns_answer; /* a parsed reply: one malloc'd block */

/* dns_reply_parse - parse a wire-format reply (RFC 1035 section 4) for a
 * query of qtype; 0 with *out set, -EBADMSG for a malformed packet,
 * -ENOMEM. The status comes from the RCODE and the answer count. */
int dns_reply_parse(const unsigned char *pkt, size_t len, uint16_t qtype,
    struct dns_answer **out);
const struct dns_result *dns_answer_result(const struct dns_answer *);
void dns_answer_free(struct dns_answer *);

const char *dns_status_str(enum dns_status);
const char *dns_type_str(uint16_t type);

#endif
