/*
 * dmarc - DMARC evaluation (RFC 7489)
 *
 * Policy discovery (6.6.3) looks up _dmarc.<From domain>, and when no
 * DMARC record is there, _dmarc.<organizational domain>; identifiers align
 * when equal (strict) or when their organizational domains are equal
 * (relaxed, 3.1). The organizational domain comes from the Public Suffix
 * List through libpsl, the only user of libpsl here.
 * Memory: out strings from the caller's arena; the PSL handle belongs to
 * whoever loaded it (read-only, shared by workers).
 * Errors: DNS problems are a temperror result, never a return code;
 * nothing here logs.
 */
#include "plugins/dmarc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpsl.h>

#include "plugins/authres.h"
#include "util/arena.h"

struct dmarc_psl {
	psl_ctx_t *psl;
	bool owned;
};

const char *
dmarc_result_str(enum dmarc_result r)
{
	static const char *const s[] = { "none", "pass", "fail", "temperror",
		"permerror" };

	return (unsigned)r < sizeof(s) / sizeof(s[0]) ? s[r] : "permerror";
}

const char *
dmarc_policy_str(enum dmarc_policy p)
{
	return p == DMARC_P_REJECT    ? "reject"
	    : p == DMARC_P_QUARANTINE ? "quarantine"
				      : "none";
}

static bool
wsp(int c)
{
	return c == ' ' || c == '\t';
}

static bool
parse_policy(struct bstr v, enum dmarc_policy *p)
{
	if (bstr_caseeq_cstr(v, "none"))
		*p = DMARC_P_NONE;
	else if (bstr_caseeq_cstr(v, "quarantine"))
		*p = DMARC_P_QUARANTINE;
	else if (bstr_caseeq_cstr(v, "reject"))
		*p = DMARC_P_REJECT;
	else
		return false;
	return true;
}

/* 6.2 / 6.4 dmarc-uri: a URI with a scheme, an optional "!" size. At
 * least one valid URI makes rua= valid. */
static bool
rua_valid(struct bstr v)
{
	size_t i = 0;

	while (i <= v.len) {
		size_t s = i;
		while (i < v.len && v.p[i] != ',')
			i++;
		struct bstr u = bstr_trim(bstr_make(v.p + s, i - s));
		size_t k = 0;
		while (
		    k < u.len && ((u.p[k] | 32) >= 'a' && (u.p[k] | 32) <= 'z'))
			k++;
		while (k < u.len &&
		    (((u.p[k] | 32) >= 'a' && (u.p[k] | 32) <= 'z') ||
			(u.p[k] >= '0' && u.p[k] <= '9') || u.p[k] == '+' ||
			u.p[k] == '-' || u.p[k] == '.'))
			k++;
		if (k > 0 && k + 1 < u.len && u.p[k] == ':')
			return true;
		i++;
	}
	return false;
}

/* dmarc_record_parse - classify a TXT string and fill in the tags */
enum dmarc_verdict
dmarc_record_parse(struct bstr t, struct dmarc_record *r)
{
	size_t i = 0, ntag = 0;
	bool p_ok = false, sp_ok = true, has_sp = false;

	memset(r, 0, sizeof(*r));
	r->adkim = r->aspf = 'r';
	r->pct = 100;
	while (i < t.len) {
		size_t s = i, eq = 0;
		bool has_eq = false;

		while (i < t.len && t.p[i] != ';') {
			if (t.p[i] == '=' && !has_eq) {
				has_eq = true;
				eq = i;
			}
			i++;
		}
		struct bstr tag = bstr_make(t.p + s, i - s);
		i++; /* ';' */
		if (bstr_trim(tag).len == 0 && ntag > 0)
			continue; /* "; ;" or a trailing ';' */
		struct bstr name = has_eq ? bstr_make(t.p + s, eq - s) : tag;
		struct bstr val = has_eq
		    ? bstr_make(t.p + eq + 1, tag.len - (eq - s) - 1)
		    : BSTR_NULL;
		/* 6.4: *WSP around names, "=" and values; no FWS. */
		while (name.len && wsp(name.p[0]))
			name.p++, name.len--;
		while (name.len && wsp(name.p[name.len - 1]))
			name.len--;
		while (val.len && wsp(val.p[0]))
			val.p++, val.len--;
		while (val.len && wsp(val.p[val.len - 1]))
			val.len--;
		if (ntag++ == 0) {
			/* v=DMARC1 first, exactly (6.3: v= is required and
			 * first; the value is case-sensitive). */
			if (!has_eq || !bstr_eq(name, BSTR_LIT("v")) ||
			    !bstr_eq(val, BSTR_LIT("DMARC1")))
				return DMARC_REC_NOT_DMARC;
			continue;
		}
		if (!has_eq)
			continue;
		if (bstr_caseeq_cstr(name, "p"))
			p_ok = parse_policy(val, &r->p);
		else if (bstr_caseeq_cstr(name, "sp")) {
			has_sp = true;
			sp_ok = parse_policy(val, &r->sp);
		} else if (bstr_caseeq_cstr(name, "adkim") ||
		    bstr_caseeq_cstr(name, "aspf")) {
			char *slot =
			    (name.p[1] | 32) == 'd' ? &r->adkim : &r->aspf;
			/* An invalid value keeps the default (6.3). */
			if (val.len == 1 &&
			    ((val.p[0] | 32) == 'r' || (val.p[0] | 32) == 's'))
				*slot = (char)(val.p[0] | 32);
		} else if (bstr_caseeq_cstr(name, "pct")) {
			unsigned v = 0;
			bool ok = val.len > 0 && val.len <= 3;
			for (size_t k = 0; ok && k < val.len; k++) {
				if (val.p[k] < '0' || val.p[k] > '9')
					ok = false;
				else
					v = v * 10 + (unsigned)(val.p[k] - '0');
			}
			if (ok && v <= 100)
				r->pct = v;
		} else if (bstr_caseeq_cstr(name, "rua"))
			r->has_rua = rua_valid(val);
		/* other tags (ruf, fo, rf, ri, unknown) do not change the
		 * policy (6.3: unknown tags MUST be ignored) */
	}
	if (ntag == 0)
		return DMARC_REC_NOT_DMARC;
	if (p_ok && sp_ok) {
		if (!has_sp)
			r->sp = r->p;
		return DMARC_REC_POLICY;
	}
	if (r->has_rua) {
		/* 6.6.3 step 6: as if p=none. */
		r->p = r->sp = DMARC_P_NONE;
		return DMARC_REC_NONE_VIA_RUA;
	}
	return DMARC_REC_NO_POLICY;
}

/* dmarc_psl_load - a PSL handle */
struct dmarc_psl *
dmarc_psl_load(const char *file)
{
	struct dmarc_psl *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	if (file && *file) {
		d->psl = psl_load_file(file);
		d->owned = true;
	} else {
		d->psl = psl_latest(NULL);
		d->owned = true;
		if (d->psl == NULL) {
			d->psl = (psl_ctx_t *)psl_builtin();
			d->owned = false;
		}
	}
	if (d->psl == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

struct dmarc_psl *
dmarc_psl_free(struct dmarc_psl *d)
{
	if (d) {
		if (d->owned)
			psl_free(d->psl);
		free(d);
	}
	return NULL;
}

/* dmarc_org_domain - public suffix + one label (3.2), lower case */
const char *
dmarc_org_domain(
    const struct dmarc_psl *d, const char *dom, char *out, size_t outsz)
{
	char low[256];
	size_t n = strlen(dom);
	const char *reg;

	if (n && dom[n - 1] == '.')
		n--;
	if (n >= sizeof(low) || n >= outsz)
		return NULL;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)(dom[i] >= 'A' && dom[i] <= 'Z' ? dom[i] + 32
							       : dom[i]);
	low[n] = '\0';
	reg = psl_registrable_domain(d->psl, low);
	/* A public suffix itself (or a single label) is its own
	 * organizational domain. */
	snprintf(out, outsz, "%s", reg ? reg : low);
	return out;
}

static bool
aligned(const struct dmarc_psl *psl, const char *a, const char *from,
    const char *from_org, char mode)
{
	char org[256];
	size_t n = strlen(a);

	if (n && a[n - 1] == '.')
		n--;
	if (mode == 's')
		return strlen(from) == n && strncasecmp(a, from, n) == 0;
	if (dmarc_org_domain(psl, a, org, sizeof(org)) == NULL)
		return false;
	return strcasecmp(org, from_org) == 0;
}

/* Look at _dmarc.<dom>: 1 found (rec, verdict), 0 no DMARC record, -1 DNS
 * error, -2 several records, -EAGAIN. */
static int
discover(struct authres_dns *dns, const char *dom, struct dmarc_record *rec,
    enum dmarc_verdict *verdict)
{
	char name[300];
	const struct authres_answer *ans;
	int found = 0;

	snprintf(name, sizeof(name), "_dmarc.%s", dom);
	if ((ans = authres_dns_get(dns, name, AUTHRES_TXT)) == NULL) {
		if (authres_dns_want(dns, name, AUTHRES_TXT) < 0)
			return -ENOMEM;
		return -EAGAIN;
	}
	if (ans->status == AUTHRES_DNS_SERVFAIL ||
	    ans->status == AUTHRES_DNS_TIMEOUT)
		return -1;
	for (size_t i = 0; i < ans->n; i++) {
		struct dmarc_record r;
		enum dmarc_verdict v = dmarc_record_parse(ans->rr[i].txt, &r);
		if (v == DMARC_REC_NOT_DMARC)
			continue; /* 6.6.3 step 3: discarded */
		if (found++ == 0) {
			*rec = r;
			*verdict = v;
		}
	}
	return found > 1 ? -2 : found;
}

static enum dmarc_policy
weaker(enum dmarc_policy p)
{
	return p == DMARC_P_REJECT ? DMARC_P_QUARANTINE : DMARC_P_NONE;
}

/* dmarc_check - discover the policy and evaluate alignment */
int
dmarc_check(const struct dmarc_psl *psl, struct arena *a,
    const struct dmarc_in *in, struct authres_dns *dns, struct dmarc_out *out)
{
	char from[256], org[256];
	enum dmarc_verdict verdict = DMARC_REC_NOT_DMARC;
	const char *pdom;
	int rc;

	memset(out, 0, sizeof(*out));
	/* 6.6.1: exactly one From domain is needed to apply DMARC. */
	if (in->from_multiple || in->from_domain == NULL ||
	    *in->from_domain == '\0') {
		out->result = DMARC_RES_PERMERROR;
		out->problem = in->from_multiple ? "multiple From domains"
						 : "no From domain";
		return 0;
	}
	if (dmarc_org_domain(psl, in->from_domain, from, sizeof(from)) ==
	    NULL) {
		out->result = DMARC_RES_PERMERROR;
		out->problem = "bad From domain";
		return 0;
	}
	/* from = the domain itself, lower case */
	snprintf(from, sizeof(from), "%s", in->from_domain);
	for (char *p = from; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 32;
	if (from[0] && from[strlen(from) - 1] == '.')
		from[strlen(from) - 1] = '\0';
	dmarc_org_domain(psl, from, org, sizeof(org));
	out->from_domain = arena_strndup(a, from, strlen(from));
	out->org_domain = arena_strndup(a, org, strlen(org));

	pdom = from;
	rc = discover(dns, from, &out->rec, &verdict);
	if (rc == 0 && strcmp(from, org) != 0) {
		pdom = org;
		rc = discover(dns, org, &out->rec, &verdict);
	}
	if (rc == -EAGAIN || rc == -ENOMEM)
		return rc;
	if (rc == -1) {
		out->result = DMARC_RES_TEMPERROR;
		out->problem = "DNS error looking up the policy";
		return 0;
	}
	if (rc == -2 || rc == 0 || verdict == DMARC_REC_NO_POLICY) {
		out->result = DMARC_RES_NONE;
		out->problem = rc == -2 ? "several DMARC records"
		    : rc == 0		? "no DMARC record"
					: "record has no usable policy";
		return 0;
	}
	out->have_policy = true;
	out->policy_domain = arena_strndup(a, pdom, strlen(pdom));
	/* 6.3 sp=: for subdomains when the record came from the
	 * organizational domain. */
	out->policy = pdom == org ? out->rec.sp : out->rec.p;
	out->spf_aligned = in->spf.pass && in->spf.domain && *in->spf.domain &&
	    aligned(psl, in->spf.domain, from, org, out->rec.aspf);
	for (size_t i = 0; i < in->ndkim && !out->dkim_aligned; i++)
		out->dkim_aligned = in->dkim[i].pass && in->dkim[i].domain &&
		    aligned(psl, in->dkim[i].domain, from, org, out->rec.adkim);
	if (out->spf_aligned || out->dkim_aligned) {
		out->result = DMARC_RES_PASS;
		out->disposition = DMARC_P_NONE;
		return 0;
	}
	out->result = DMARC_RES_FAIL;
	out->disposition = out->policy;
	/* 6.6.4: a message not selected by pct= gets the next weaker
	 * policy. */
	if (in->roll >= out->rec.pct)
		out->disposition = weaker(out->policy);
	return 0;
}
