/*
 * plugins/spf.h - Sender Policy Framework, RFC 7208: record parser, macro
 * expansion (section 7) and check_host() with the DNS lookup limits
 *
 * spf_check() reads DNS answers from a struct authres_dns
 * (plugins/authres.h) and returns -EAGAIN with the missing lookups recorded
 * as wanted; the caller resolves them and calls it again (evaluation is
 * restarted from the top and is a pure function of the answers).
 */
#ifndef PLUGINS_SPF_H
#define PLUGINS_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/buf.h"
#include "util/netaddr.h"

struct arena;
struct authres_dns;

#define SPF_MAX_LOOKUPS 10 /* RFC 7208 4.6.4 */
#define SPF_MAX_VOID_LOOKUPS 2
#define SPF_MAX_MX 10
#define SPF_MAX_PTR 10
#define SPF_MAX_TERMS 128

enum spf_result {
	SPF_RES_NONE,
	SPF_RES_NEUTRAL,
	SPF_RES_PASS,
	SPF_RES_FAIL,
	SPF_RES_SOFTFAIL,
	SPF_RES_TEMPERROR,
	SPF_RES_PERMERROR,
};

enum spf_mech {
	SPF_M_ALL,
	SPF_M_INCLUDE,
	SPF_M_A,
	SPF_M_MX,
	SPF_M_PTR,
	SPF_M_IP4,
	SPF_M_IP6,
	SPF_M_EXISTS,
	SPF_M_MODIFIER
};

/* One term of a parsed record (RFC 7208 4.6.1). */
struct spf_term {
	enum spf_mech mech;
	char qual;	    /* '+', '-', '~', '?' */
	struct bstr name;   /* modifier name */
	struct bstr arg;    /* domain-spec / macro-string; empty if none */
	struct netaddr net; /* ip4:/ip6: */
	int cidr4, cidr6;   /* -1 = none given */
};

struct spf_record {
	struct spf_term *t;
	size_t n;
	int redirect, exp; /* term index, -1 if absent */
};

/* spf_record_parse - parse a record already selected by its "v=spf1"
 * prefix; 0 or -EINVAL (permerror, *why a static reason). */
int spf_record_parse(
    struct arena *, struct bstr rec, struct spf_record **, const char **why);
/* spf_is_record - does this TXT string select as an SPF record (4.5)? */
bool spf_is_record(struct bstr txt);

enum spf_identity { SPF_ID_MAILFROM, SPF_ID_HELO };

struct spf_req {
	struct netaddr ip;    /* client address (v4-mapped v6 is v4) */
	const char *sender;   /* MAIL FROM without <>; NULL/"" = null */
	const char *helo;     /* HELO/EHLO name */
	const char *receiver; /* %{r}; NULL = "unknown" */
	enum spf_identity identity;
	const char *default_exp; /* explanation when the domain has none;
				     NULL = SPF_DEFAULT_EXP */
	time_t now;		 /* %{t} */
};

#define SPF_DEFAULT_EXP "See http://www.open-spf.org/Why?s=%{S}&i=%{C}&r=%{R}"

struct spf_out {
	enum spf_result result;
	const char *domain;	 /* the domain checked (arena string) */
	const char *sender;	 /* <sender> as used (postmaster@ filled in) */
	const char *mechanism;	 /* the matching term or NULL ("default") */
	const char *explanation; /* fail only, expanded; else NULL */
	const char *problem;	 /* permerror/temperror reason, static */
	unsigned lookups, void_lookups;
};

/* spf_check - check_host() for the identity in req: 0 with *out filled,
 * -EAGAIN (lookups wanted in dns), -ENOMEM. */
int spf_check(struct arena *, const struct spf_req *, struct authres_dns *,
    struct spf_out *);

const char *spf_result_str(enum spf_result);

/* spf_received_header - the value of a Received-SPF header (RFC 7208 9.1,
 * as policyd-spf writes it), appended to out; 0 or -ENOSPC. */
int spf_received_header(
    struct buf *out, const struct spf_req *, const struct spf_out *);

#endif
