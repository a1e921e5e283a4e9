/*
 * plugins/authres.h - shared pieces of sender authentication (SPF, DKIM,
 * DMARC): the DNS answer set the evaluators read, and the
 * Authentication-Results header (RFC 8601)
 *
 * Transport independence: the SPF, DKIM and DMARC evaluators never talk to
 * the network. They read answers from a struct authres_dns; a lookup that is
 * not there yet is recorded as "wanted" and the evaluator returns -EAGAIN.
 * The caller resolves the wanted queries (plugins/dns.h in the daemon, zone
 * data in the conformance runners), stores the answers with
 * authres_dns_put() and runs the evaluator again. Evaluation is a pure
 * function of the answers, so re-running from the start is exact (lookup
 * limits are counted afresh each time).
 */
#ifndef PLUGINS_AUTHRES_H
#define PLUGINS_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/netaddr.h"

struct arena;

enum authres_type {
	AUTHRES_A = 1,
	AUTHRES_PTR = 12,
	AUTHRES_MX = 15,
	AUTHRES_TXT = 16,
	AUTHRES_AAAA = 28,
};

enum authres_status {
	AUTHRES_DNS_OK,
	AUTHRES_DNS_NXDOMAIN,
	AUTHRES_DNS_NODATA,
	AUTHRES_DNS_SERVFAIL,
	AUTHRES_DNS_TIMEOUT,
};

/* One resource record. TXT: the character-strings of one record joined
 * with nothing between them (RFC 7208 3.3, RFC 6376 3.6.2.2); PTR and MX:
 * the target name in txt (no trailing dot); A/AAAA: addr. */
struct authres_rr {
	struct bstr txt;
	struct netaddr addr;
	unsigned pref;
};

struct authres_answer {
	enum authres_status status;
	size_t n;
	const struct authres_rr *rr;
};

struct authres_query {
	char name[256]; /* lower case, no trailing dot */
	enum authres_type type;
};

struct authres_dns;

/* authres_dns_new - an empty answer set in arena a (NULL on ENOMEM) */
struct authres_dns *authres_dns_new(struct arena *a);
/* authres_dns_put - store an answer (rr copied into the arena); a second
 * put for the same name and type replaces the first. 0 or -ENOMEM. */
int authres_dns_put(struct authres_dns *, const char *name, enum authres_type,
    enum authres_status, const struct authres_rr *rr, size_t n);
/* authres_dns_put_result - store a plugins/dns answer to (name, type): the
 * records of that type (at most 64), its status mapped (DNS_TIMEOUT ->
 * timeout, refused/servfail/error -> servfail) */
struct dns_result;
int authres_dns_put_result(struct authres_dns *, const char *name,
    enum authres_type, const struct dns_result *);
/* authres_dns_get - the answer, or NULL when not looked up yet */
const struct authres_answer *authres_dns_get(
    const struct authres_dns *, const char *name, enum authres_type);
/* authres_dns_want - record a missing lookup (deduplicated) */
int authres_dns_want(struct authres_dns *, const char *name, enum authres_type);
/* authres_dns_wanted - the lookups recorded since the last clear */
const struct authres_query *authres_dns_wanted(
    const struct authres_dns *, size_t *n);
void authres_dns_clear_wanted(struct authres_dns *);
/* authres_dns_lookups - answers stored so far (a cost measure) */
size_t authres_dns_count(const struct authres_dns *);

/* A synchronous resolver for tests and tools: answer one query into dns
 * (authres_dns_put); return 0, or a negative errno to stop. */
typedef int authres_resolve_fn(
    void *arg, const struct authres_query *, struct authres_dns *);
/* authres_dns_drive - run step() until it stops asking for lookups,
 * answering each wanted query with fn; returns step()'s final result.
 * At most max_rounds rounds (a guard against a looping evaluator). */
int authres_dns_drive(struct authres_dns *, int (*step)(void *), void *sarg,
    authres_resolve_fn *fn, void *farg, unsigned max_rounds);

/* Authentication-Results (RFC 8601) ------------------------------------ */

/* authres_is_ours - true when an Authentication-Results header value names
 * authserv_id (case-insensitive, RFC 8601 5: such headers arriving from
 * outside are forged and must be removed before ours is added). */
bool authres_is_ours(struct bstr value, const char *authserv_id);

/* authres_strip - should this incoming header field be removed before
 * ours is added? True for Authentication-Results (name compared without
 * case) whose value claims authserv_id. */
bool authres_strip(
    struct bstr name, struct bstr value, const char *authserv_id);

/* authres_token_ok - s is usable as an RFC 8601 pvalue without quoting */
bool authres_token_ok(const char *s);
/* authres_servid - our authserv-id: configured, else myhostname, else
 * the host name, into out; 0, or -EINVAL when it is not a usable token */
int authres_servid(const char *configured, const char *myhostname,
    char *out, size_t outsz);

/* Building the header value: authres_start() writes the authserv-id, each
 * authres_add() one "; method=result (reason) ptype.prop=value ..."
 * resinfo, folded with fold ("\r\n\t", "\n\t" or " ", whatever the
 * caller's header writer needs); with no resinfo at all, authres_finish()
 * writes "; none" (RFC 8601 2.2). props holds nprops pairs
 * { "header.d", "example.com", ... }; a NULL or empty value skips the pair,
 * values that are not tokens are quoted here. 0 or -ENOSPC. */
int authres_start(struct buf *, const char *authserv_id);
int authres_add(struct buf *, const char *fold, const char *method,
    const char *result, const char *reason, const char *const *props,
    size_t nprops);
int authres_finish(struct buf *);

#endif
