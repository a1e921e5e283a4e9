/*
 * plugins/dmarc.h - DMARC (RFC 7489): record parser, policy discovery with
 * the organizational domain from the Public Suffix List (libpsl),
 * identifier alignment, p/sp/pct
 *
 * dmarc_check() reads the _dmarc TXT records from a struct authres_dns
 * (plugins/authres.h) and returns -EAGAIN with the lookups recorded as
 * wanted until they are there. SPF and DKIM results come in as
 * (domain, passed) pairs, so this module does not depend on how they were
 * computed.
 */
#ifndef PLUGINS_DMARC_H
#define PLUGINS_DMARC_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

struct arena;
struct authres_dns;

enum dmarc_policy { DMARC_P_NONE, DMARC_P_QUARANTINE, DMARC_P_REJECT };

/* What a TXT record at _dmarc.<domain> is (RFC 7489 6.6.3). */
enum dmarc_verdict {
	DMARC_REC_POLICY,	/* usable */
	DMARC_REC_NONE_VIA_RUA, /* no valid p= (or bad sp=), valid rua=:
				   act as p=none (6.6.3 step 6) */
	DMARC_REC_NO_POLICY,	/* a DMARC record that cannot be used */
	DMARC_REC_NOT_DMARC,	/* does not start with v=DMARC1: discarded */
};

struct dmarc_record {
	enum dmarc_policy p, sp; /* sp defaults to p */
	char adkim, aspf;	 /* 'r' or 's' */
	unsigned pct;		 /* 0..100, default 100 */
	bool has_rua;
};

/* dmarc_record_parse - classify and parse one TXT string (6.3, 6.4) */
enum dmarc_verdict dmarc_record_parse(struct bstr txt, struct dmarc_record *);

enum dmarc_result {
	DMARC_RES_NONE, /* no usable policy: DMARC not applied */
	DMARC_RES_PASS,
	DMARC_RES_FAIL,
	DMARC_RES_TEMPERROR, /* the record set is unknown (DNS error) */
	DMARC_RES_PERMERROR, /* no single From domain (6.6.1) */
};

/* An authenticated identifier: SPF's MAIL FROM (or HELO) domain, or one
 * DKIM signature's d=; pass is true only for an SPF/DKIM pass. */
struct dmarc_ident {
	const char *domain;
	bool pass;
};

struct dmarc_in {
	const char *from_domain; /* RFC5322.From domain; NULL = none */
	bool from_multiple;	 /* From had several different domains */
	struct dmarc_ident spf;
	const struct dmarc_ident *dkim;
	size_t ndkim;
	unsigned roll; /* 0..99: "selected" when roll < pct
				     (6.6.4); the caller draws it */
};

struct dmarc_out {
	enum dmarc_result result;
	const char *from_domain;   /* lower case */
	const char *policy_domain; /* where the record was found, or NULL */
	const char *org_domain;
	bool have_policy;
	struct dmarc_record rec;
	enum dmarc_policy policy;      /* p= or sp= that applies */
	enum dmarc_policy disposition; /* after pct sampling */
	bool spf_aligned, dkim_aligned;
	const char *problem; /* static */
};

struct dmarc_psl;

/* dmarc_psl_load - the Public Suffix List from file (a .dat), or with
 * file NULL the newest of libpsl's built-in list and the system's;
 * NULL on failure. dmarc_psl_free returns NULL. */
struct dmarc_psl *dmarc_psl_load(const char *file);
struct dmarc_psl *dmarc_psl_free(struct dmarc_psl *);
/* dmarc_org_domain - RFC 7489 3.2 organizational domain of d (lower case)
 * into out; returns out, or NULL when d does not fit. */
const char *dmarc_org_domain(
    const struct dmarc_psl *, const char *d, char *out, size_t outsz);

/* dmarc_check - 0 with *out filled, -EAGAIN (lookups wanted), -ENOMEM */
int dmarc_check(const struct dmarc_psl *, struct arena *,
    const struct dmarc_in *, struct authres_dns *, struct dmarc_out *);

const char *dmarc_result_str(enum dmarc_result);
const char *dmarc_policy_str(enum dmarc_policy);

#endif
