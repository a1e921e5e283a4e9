/*
 * filterd/ctl_domain.c - filterctl check-domain: look up and explain a
 * domain's mail DNS (MX, SPF, DKIM keys, DMARC, PTR/FCrDNS of an IP)
 *
 * The lookups go through plugins/dns (c-ares) driven synchronously from a
 * private event base, into a struct authres_dns, so SPF is evaluated by the
 * daemon's own plugins/spf (the lookup count is check_host()'s, RFC 7208
 * 4.6.4) and DKIM keys are parsed by plugins/dkim. Every finding has a
 * severity (ok, info, warn, error) and a one-line fix. Exit status: 0 no
 * error found, 1 at least one error finding, 2 usage or no DNS.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "filterd/ctl.h"
#include "plugins/authres.h"
#include "plugins/dkim.h"
#include "plugins/dkim_int.h"
#include "plugins/dmarc.h"
#include "plugins/dns.h"
#include "plugins/spf.h"
#include "util/arena.h"
#include "util/netaddr.h"

#define MAX_SELECTORS 16
#define MAX_FINDINGS 128

enum sev { SEV_OK, SEV_INFO, SEV_WARN, SEV_ERROR };
static const char *const sev_name[] = { "ok", "info", "warn", "error" };

struct finding {
	enum sev sev;
	const char *area;
	char text[400], fix[400];
};

struct dctx {
	struct event_base *base;
	struct dns_resolver *r;
	struct dns_ctx *ctx;
	struct arena *a;
	struct authres_dns *dns;
	const struct authres_query *q;
	bool done;
	int rc;
	struct finding f[MAX_FINDINGS];
	size_t nf;
};

static void add(struct dctx *d, enum sev s, const char *area, const char *fix,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
add(struct dctx *d, enum sev s, const char *area, const char *fix,
    const char *fmt, ...)
{
	struct finding *f;
	va_list ap;

	if (d->nf == MAX_FINDINGS)
		return;
	f = &d->f[d->nf++];
	f->sev = s;
	f->area = area;
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
	snprintf(f->fix, sizeof(f->fix), "%s", fix ? fix : "");
}

/* DNS: plugins/dns answers into the authres_dns store ------------------ */

static void
on_answer(const struct dns_result *res, void *arg)
{
	struct dctx *d = arg;

	d->rc = authres_dns_put_result(d->dns, d->q->name, d->q->type, res);
	d->done = true;
}

static int
resolve(void *arg, const struct authres_query *q, struct authres_dns *dns)
{
	struct dctx *d = arg;

	(void)dns;
	d->done = false;
	d->q = q;
	if (dns_query(d->ctx, q->name, (uint16_t)q->type, on_answer, d) < 0)
		return authres_dns_put(
		    d->dns, q->name, q->type, AUTHRES_DNS_NXDOMAIN, NULL, 0);
	while (!d->done)
		event_base_loop(d->base, EVLOOP_ONCE);
	return d->rc;
}

/* lookup - the answer for name/type, asked once */
static const struct authres_answer *
lookup(struct dctx *d, const char *name, enum authres_type t)
{
	const struct authres_answer *a = authres_dns_get(d->dns, name, t);
	struct authres_query q;

	if (a)
		return a;
	snprintf(q.name, sizeof(q.name), "%s", name);
	for (char *c = q.name; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c += 32;
	q.type = t;
	if (resolve(d, &q, d->dns) < 0)
		return NULL;
	return authres_dns_get(d->dns, q.name, t);
}

static const char *
status_str(const struct authres_answer *a)
{
	if (a == NULL)
		return "lookup failed";
	switch (a->status) {
	case AUTHRES_DNS_OK:
		return "ok";
	case AUTHRES_DNS_NXDOMAIN:
		return "NXDOMAIN";
	case AUTHRES_DNS_NODATA:
		return "no record";
	case AUTHRES_DNS_SERVFAIL:
		return "SERVFAIL";
	default:
		return "timeout";
	}
}

static bool
dns_failed(const struct authres_answer *a)
{
	return a == NULL || a->status == AUTHRES_DNS_SERVFAIL ||
	    a->status == AUTHRES_DNS_TIMEOUT;
}

/* MX (RFC 5321 5.1, RFC 7505) ------------------------------------------ */

static void
check_mx(struct dctx *d, const char *dom)
{
	const struct authres_answer *a = lookup(d, dom, AUTHRES_MX);
	char fix[1024];

	snprintf(fix, sizeof(fix),
	    "publish e.g. \"%s. MX 10 mail.%s.\" "
	    "with an A record for mail.%s",
	    dom, dom, dom);
	if (dns_failed(a)) {
		add(d, SEV_ERROR, "MX", "check the zone's name servers",
		    "MX lookup for %s failed (%s)", dom, status_str(a));
		return;
	}
	if (a->status == AUTHRES_DNS_NXDOMAIN) {
		add(d, SEV_ERROR, "MX",
		    "register/delegate the domain or fix "
		    "the name",
		    "%s does not exist (NXDOMAIN)", dom);
		return;
	}
	if (a->status != AUTHRES_DNS_OK || a->n == 0) {
		const struct authres_answer *ad = lookup(d, dom, AUTHRES_A);
		add(d,
		    ad && ad->status == AUTHRES_DNS_OK ? SEV_WARN : SEV_ERROR,
		    "MX", fix,
		    "no MX record: mail for %s goes to its A "
		    "record%s (RFC 5321 5.1)",
		    dom,
		    ad && ad->status == AUTHRES_DNS_OK
			? ""
			: ", and it has "
			  "none: bounces for your mail cannot come back");
		return;
	}
	if (a->n == 1 && a->rr[0].txt.len == 0) {
		add(d, SEV_INFO, "MX",
		    "remove the null MX if the domain "
		    "should receive mail",
		    "null MX (RFC 7505): %s "
		    "receives no mail",
		    dom);
		return;
	}
	for (size_t i = 0; i < a->n && i < 8; i++) {
		char host[256];
		const struct authres_answer *h4, *h6;

		snprintf(host, sizeof(host), "%.*s", (int)a->rr[i].txt.len,
		    (const char *)a->rr[i].txt.p);
		h4 = lookup(d, host, AUTHRES_A);
		h6 = lookup(d, host, AUTHRES_AAAA);
		if ((h4 && h4->status == AUTHRES_DNS_OK) ||
		    (h6 && h6->status == AUTHRES_DNS_OK)) {
			char ip[64] = "";
			const struct authres_answer *h =
			    h4 && h4->status == AUTHRES_DNS_OK ? h4 : h6;
			netaddr_str(&h->rr[0].addr, ip, sizeof(ip));
			add(d, SEV_OK, "MX", NULL, "MX %u %s -> %s",
			    a->rr[i].pref, host, ip);
		} else {
			char f2[1024];
			snprintf(f2, sizeof(f2),
			    "add an A/AAAA record for %s "
			    "(an MX must name a host, not a CNAME or an IP)",
			    host);
			add(d, SEV_ERROR, "MX", f2,
			    "MX %u %s has no address "
			    "(%s)",
			    a->rr[i].pref, host, status_str(h4));
		}
	}
}

/* SPF (RFC 7208) ---------------------------------------------------------- */

struct spfrun {
	struct arena *a;
	struct spf_req req;
	struct authres_dns *dns;
	struct spf_out out;
};

static int
spf_step(void *arg)
{
	struct spfrun *r = arg;

	return spf_check(r->a, &r->req, r->dns, &r->out);
}

static int
spf_eval(struct dctx *d, const char *dom, const struct netaddr *ip,
    struct spf_out *out)
{
	struct spfrun r = { .a = d->a, .dns = d->dns };
	char sender[300];
	int rc;

	snprintf(sender, sizeof(sender), "postmaster@%s", dom);
	r.req.ip = *ip;
	r.req.sender = sender;
	r.req.helo = dom;
	r.req.identity = SPF_ID_MAILFROM;
	r.req.now = time(NULL);
	rc = authres_dns_drive(d->dns, spf_step, &r, resolve, d, 200);
	*out = r.out;
	return rc;
}

static void
check_spf(struct dctx *d, const char *dom, const char *ipstr)
{
	const struct authres_answer *a = lookup(d, dom, AUTHRES_TXT);
	struct spf_record *rec = NULL;
	struct bstr txt = BSTR_NULL;
	const char *why = NULL;
	size_t n = 0;
	char fix[1024];

	snprintf(fix, sizeof(fix),
	    "publish one TXT record at %s: "
	    "\"v=spf1 mx -all\" (plus ip4:/include: for every other "
	    "sender)",
	    dom);
	if (dns_failed(a)) {
		add(d, SEV_ERROR, "SPF", "check the zone's name servers",
		    "TXT lookup for %s failed (%s)", dom, status_str(a));
		return;
	}
	for (size_t i = 0; a->status == AUTHRES_DNS_OK && i < a->n; i++)
		if (spf_is_record(a->rr[i].txt)) {
			txt = a->rr[i].txt;
			n++;
		}
	if (n == 0) {
		add(d, SEV_ERROR, "SPF", fix,
		    "no SPF record at %s: receivers "
		    "cannot tell your servers from forgers",
		    dom);
		return;
	}
	if (n > 1) {
		add(d, SEV_ERROR, "SPF", "merge them into one v=spf1 record",
		    "%zu SPF records at %s: that is a permerror (RFC 7208 "
		    "4.5), SPF fails everywhere",
		    n, dom);
		return;
	}
	add(d, SEV_OK, "SPF", NULL, "record: %.*s", (int)txt.len,
	    (const char *)txt.p);
	if (spf_record_parse(d->a, txt, &rec, &why) < 0) {
		add(d, SEV_ERROR, "SPF",
		    "fix the syntax (RFC 7208 12); test "
		    "with filterctl check-domain again",
		    "syntax error: %s", why ? why : "bad record");
		return;
	}
	char all = 0;
	bool ptr = false;
	for (size_t i = 0; i < rec->n; i++) {
		if (rec->t[i].mech == SPF_M_ALL)
			all = rec->t[i].qual;
		if (rec->t[i].mech == SPF_M_PTR)
			ptr = true;
	}
	if (ptr)
		add(d, SEV_WARN, "SPF",
		    "replace ptr with ip4:/ip6:/a "
		    "mechanisms",
		    "uses the ptr mechanism: slow, unreliable, "
		    "\"SHOULD NOT be used\" (RFC 7208 5.5)");
	switch (all) {
	case '-':
		add(d, SEV_OK, "SPF", NULL,
		    "ends in -all: other senders "
		    "fail");
		break;
	case '~':
		add(d, SEV_WARN, "SPF",
		    "once DMARC reports show every real "
		    "sender passing, change ~all to -all",
		    "ends in ~all "
		    "(softfail): forged mail is only marked, not refused");
		break;
	case '?':
		add(d, SEV_WARN, "SPF",
		    "end the record in -all (or ~all "
		    "while testing)",
		    "ends in ?all (neutral): says nothing "
		    "about other senders");
		break;
	case '+':
		add(d, SEV_ERROR, "SPF", "replace +all with -all",
		    "+all "
		    "lets anyone send as %s",
		    dom);
		break;
	default:
		if (rec->redirect < 0)
			add(d, SEV_WARN, "SPF", "end the record in -all",
			    "no all mechanism and no redirect: unlisted "
			    "senders get neutral");
		break;
	}
	/* The lookup count: check_host() for an address that no sender
	 * has (the limited broadcast address) evaluates every mechanism;
	 * IPv4, so a: and mx: hosts with only A records are not void. */
	struct netaddr probe;
	struct spf_out out;
	netaddr_parse("255.255.255.255", 15, &probe);
	if (spf_eval(d, dom, &probe, &out) == 0) {
		if (out.result == SPF_RES_PERMERROR)
			add(d, SEV_ERROR, "SPF",
			    "flatten includes into ip4:/"
			    "ip6: ranges or drop unused ones",
			    "evaluation "
			    "gives permerror: %s (%u DNS lookups, %u void)",
			    out.problem ? out.problem : "?", out.lookups,
			    out.void_lookups);
		else if (out.result == SPF_RES_TEMPERROR)
			add(d, SEV_WARN, "SPF",
			    "check the included domains' "
			    "name servers",
			    "evaluation gives temperror: %s",
			    out.problem ? out.problem : "DNS failure");
		else if (out.lookups > 8)
			add(d, SEV_WARN, "SPF",
			    "flatten or remove includes "
			    "before adding another service",
			    "%u of %d DNS "
			    "lookups used (RFC 7208 4.6.4): close to the "
			    "limit",
			    out.lookups, SPF_MAX_LOOKUPS);
		else
			add(d, SEV_OK, "SPF", NULL,
			    "%u of %d DNS lookups "
			    "(RFC 7208 4.6.4), %u void",
			    out.lookups, SPF_MAX_LOOKUPS, out.void_lookups);
	}
	if (ipstr) {
		struct netaddr ip;
		char f2[1024];
		netaddr_parse(ipstr, strlen(ipstr), &ip);
		if (spf_eval(d, dom, &ip, &out) < 0)
			return;
		snprintf(f2, sizeof(f2),
		    "add %s:%s to the SPF record of %s "
		    "(or the include: of the service that sends from it)",
		    ip.family == AF_INET ? "ip4" : "ip6", ipstr, dom);
		if (out.result == SPF_RES_PASS)
			add(d, SEV_OK, "SPF", NULL, "%s passes (%s)", ipstr,
			    out.mechanism ? out.mechanism : "default");
		else
			add(d,
			    out.result == SPF_RES_FAIL ||
				    out.result == SPF_RES_PERMERROR
				? SEV_ERROR
				: SEV_WARN,
			    "SPF", f2, "%s is not permitted: %s%s%s", ipstr,
			    spf_result_str(out.result),
			    out.mechanism ? " by " : "",
			    out.mechanism ? out.mechanism : "");
	}
}

/* DKIM keys (RFC 6376 3.6.1, RFC 8301, RFC 8463) ------------------------- */

static void
check_dkim(struct dctx *d, const char *dom, const char *const *sel, size_t nsel)
{
	if (nsel == 0) {
		add(d, SEV_INFO, "DKIM",
		    "pass the selectors you sign with: "
		    "--selector S (repeatable)",
		    "no --selector given: DKIM "
		    "keys cannot be discovered from DNS");
		return;
	}
	for (size_t i = 0; i < nsel; i++) {
		char name[300], f[1024];
		const struct authres_answer *a;
		struct dkim_keytags k;
		const char *why = NULL;
		size_t r;

		snprintf(name, sizeof(name), "%s._domainkey.%s", sel[i], dom);
		snprintf(f, sizeof(f),
		    "publish the record printed by "
		    "filterctl dkim-keygen --domain %s --selector %s",
		    dom, sel[i]);
		a = lookup(d, name, AUTHRES_TXT);
		if (dns_failed(a)) {
			add(d, SEV_ERROR, "DKIM",
			    "check the zone's name "
			    "servers",
			    "key lookup %s failed (%s)", name, status_str(a));
			continue;
		}
		if (a->status != AUTHRES_DNS_OK || a->n == 0) {
			add(d, SEV_ERROR, "DKIM", f,
			    "no key at %s (%s): "
			    "signatures with s=%s fail",
			    name, status_str(a), sel[i]);
			continue;
		}
		for (r = 0; r < a->n; r++)
			if (dkim_keytags_parse(a->rr[r].txt, &k, &why) == 0)
				break;
		if (r == a->n) {
			add(d, SEV_ERROR, "DKIM", f,
			    "%s: key record does not "
			    "parse: %s",
			    name, why ? why : "?");
			continue;
		}
		if (a->n > 1)
			add(d, SEV_WARN, "DKIM",
			    "keep one TXT record per "
			    "selector",
			    "%s has %zu TXT records: verifiers may "
			    "pick any (RFC 6376 3.6.2.2)",
			    name, a->n);
		struct bstr p = bstr_trim(k.p);
		if (p.len == 0) {
			add(d, SEV_WARN, "DKIM",
			    "stop signing with this "
			    "selector (and remove the record after a while)",
			    "%s: key revoked (empty p=)", name);
			continue;
		}
		bool ed = bstr_caseeq_cstr(bstr_trim(k.k), "ed25519");
		unsigned char der[2048];
		long dl = dkim__b64_decode(p, der, sizeof(der));
		if (dl <= 0) {
			add(d, SEV_ERROR, "DKIM", f, "%s: p= is not base64",
			    name);
			continue;
		}
		if (ed) {
			if (dl != 32)
				add(d, SEV_ERROR, "DKIM", f,
				    "%s: ed25519 key "
				    "of %ld octets, not 32 (RFC 8463 4.2)",
				    name, dl);
			else
				add(d, SEV_OK, "DKIM", NULL,
				    "%s: ed25519 key "
				    "(RFC 8463; publish an rsa key too for "
				    "older verifiers)",
				    name);
		} else {
			int bits = dkim__rsa_bits(der, (size_t)dl);
			if (bits < 0)
				add(d, SEV_ERROR, "DKIM", f,
				    "%s: p= is not "
				    "an RSA public key",
				    name);
			else if (bits < 1024)
				add(d, SEV_ERROR, "DKIM", f,
				    "%s: RSA key of "
				    "%d bits: verifiers must reject it (RFC "
				    "8301 3.2); make a 2048-bit key",
				    name, bits);
			else if (bits < 2048)
				add(d, SEV_WARN, "DKIM",
				    "rotate to a 2048-bit "
				    "key under a new selector (filterctl "
				    "dkim-keygen)",
				    "%s: RSA key of %d bits: "
				    "weak, 2048 recommended",
				    name, bits);
			else
				add(d, SEV_OK, "DKIM", NULL,
				    "%s: RSA key of "
				    "%d bits",
				    name, bits);
		}
		if (k.testing)
			add(d, SEV_WARN, "DKIM",
			    "remove t=y from the record "
			    "once signatures verify",
			    "%s: t=y still on: "
			    "verifiers treat failures as unsigned",
			    name);
		if (k.h.len && bstr_casefind(k.h, BSTR_LIT("sha256")) < 0)
			add(d, SEV_ERROR, "DKIM", f,
			    "%s: h= does not allow "
			    "sha256",
			    name);
	}
}

/* DMARC (RFC 7489) -------------------------------------------------------- */

/* tag - the value of tag t in a DMARC record, trimmed, into out */
static bool
tag(struct bstr rec, const char *t, char *out, size_t outsz)
{
	size_t i = 0, tl = strlen(t);

	while (i < rec.len) {
		size_t s = i, e;
		while (i < rec.len && rec.p[i] != ';')
			i++;
		e = i++;
		struct bstr kv = bstr_trim(bstr_make(rec.p + s, e - s));
		const unsigned char *eq = memchr(kv.p, '=', kv.len);
		if (eq == NULL)
			continue;
		struct bstr k = bstr_trim(bstr_make(kv.p, (size_t)(eq - kv.p)));
		struct bstr v = bstr_trim(
		    bstr_make(eq + 1, kv.len - (size_t)(eq - kv.p) - 1));
		if (k.len == tl && strncasecmp((const char *)k.p, t, tl) == 0) {
			snprintf(
			    out, outsz, "%.*s", (int)v.len, (const char *)v.p);
			return true;
		}
	}
	return false;
}

/* check_report_uris - RFC 7489 7.1: a mailto: outside the domain needs
 * <dom>._report._dmarc.<dest> with v=DMARC1 */
static void
check_report_uris(struct dctx *d, const struct dmarc_psl *psl, const char *dom,
    const char *which, const char *list)
{
	char copy[512], *save = NULL, od[256], dd[256];

	snprintf(copy, sizeof(copy), "%s", list);
	dmarc_org_domain(psl, dom, od, sizeof(od));
	for (char *u = strtok_r(copy, ",", &save); u;
	     u = strtok_r(NULL, ",", &save)) {
		while (*u == ' ')
			u++;
		if (strncasecmp(u, "mailto:", 7) != 0) {
			add(d, SEV_WARN, "DMARC", "use mailto: URIs",
			    "%s=%s: not a mailto: URI; reporters only send "
			    "mail",
			    which, u);
			continue;
		}
		char *at = strrchr(u, '@'), dest[256], name[600];
		if (at == NULL) {
			add(d, SEV_ERROR, "DMARC", "write mailto:user@domain",
			    "%s=%s: no address", which, u);
			continue;
		}
		snprintf(dest, sizeof(dest), "%s", at + 1);
		dest[strcspn(dest, "! ;")] = '\0'; /* "!10m" size limit */
		for (char *c = dest; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c += 32;
		if (dmarc_org_domain(psl, dest, dd, sizeof(dd)) &&
		    strcmp(dd, od) == 0)
			continue;
		snprintf(name, sizeof(name), "%s._report._dmarc.%s", dom, dest);
		const struct authres_answer *a = lookup(d, name, AUTHRES_TXT);
		bool okv = false;
		for (size_t i = 0; a && a->status == AUTHRES_DNS_OK && i < a->n;
		     i++)
			if (bstr_casestarts(a->rr[i].txt, "v=DMARC1"))
				okv = true;
		if (okv)
			add(d, SEV_OK, "DMARC", NULL,
			    "%s to %s: authorized by "
			    "%s",
			    which, dest, name);
		else {
			char f[1400];
			snprintf(f, sizeof(f),
			    "%s must publish \"%s. TXT "
			    "\\\"v=DMARC1\\\"\"",
			    dest, name);
			add(d, SEV_WARN, "DMARC", f,
			    "%s to %s (another "
			    "domain): no authorization record, reporters will "
			    "not send (RFC 7489 7.1)",
			    which, dest);
		}
	}
}

static void
check_dmarc(struct dctx *d, const struct dmarc_psl *psl, const char *dom)
{
	char name[300], od[256], fix[1024], v[512];
	const struct authres_answer *a;
	struct bstr rec = BSTR_NULL;
	struct dmarc_record r;
	size_t n = 0;
	const char *where = dom;

	snprintf(fix, sizeof(fix),
	    "publish \"_dmarc.%s. TXT \\\"v=DMARC1; "
	    "p=none; rua=mailto:dmarc-reports@%s\\\"\", read the reports, "
	    "then tighten p=",
	    dom, dom);
	snprintf(name, sizeof(name), "_dmarc.%s", dom);
	a = lookup(d, name, AUTHRES_TXT);
	if (dns_failed(a)) {
		add(d, SEV_ERROR, "DMARC", "check the zone's name servers",
		    "lookup of %s failed (%s)", name, status_str(a));
		return;
	}
	for (size_t i = 0; a->status == AUTHRES_DNS_OK && i < a->n; i++)
		if (dmarc_record_parse(a->rr[i].txt, &r) !=
		    DMARC_REC_NOT_DMARC) {
			rec = a->rr[i].txt;
			n++;
		}
	if (n == 0 && dmarc_org_domain(psl, dom, od, sizeof(od)) &&
	    strcmp(od, dom) != 0) {
		/* RFC 7489 6.6.3: fall back to the organizational domain */
		snprintf(name, sizeof(name), "_dmarc.%s", od);
		a = lookup(d, name, AUTHRES_TXT);
		for (size_t i = 0; a && a->status == AUTHRES_DNS_OK && i < a->n;
		     i++)
			if (dmarc_record_parse(a->rr[i].txt, &r) !=
			    DMARC_REC_NOT_DMARC) {
				rec = a->rr[i].txt;
				n++;
				where = od;
			}
	}
	if (n == 0) {
		add(d, SEV_ERROR, "DMARC", fix,
		    "no DMARC record at _dmarc.%s: "
		    "no policy, no reports, and big receivers (Gmail, Yahoo) "
		    "require one from bulk senders",
		    dom);
		return;
	}
	if (n > 1) {
		add(d, SEV_ERROR, "DMARC", "keep exactly one v=DMARC1 record",
		    "%zu DMARC records at _dmarc.%s: DMARC is not applied "
		    "(RFC 7489 6.6.3)",
		    n, where);
		return;
	}
	add(d, SEV_OK, "DMARC", NULL, "record at _dmarc.%s%s: %.*s", where,
	    where != dom ? " (organizational domain)" : "", (int)rec.len,
	    (const char *)rec.p);
	enum dmarc_verdict vd = dmarc_record_parse(rec, &r);
	if (vd == DMARC_REC_NO_POLICY) {
		add(d, SEV_ERROR, "DMARC", fix,
		    "record unusable: no valid p= "
		    "tag (RFC 7489 6.3)");
		return;
	}
	if (vd == DMARC_REC_NONE_VIA_RUA)
		add(d, SEV_WARN, "DMARC",
		    "write p=none|quarantine|reject "
		    "right after v=DMARC1",
		    "p= missing or invalid: treated "
		    "as p=none because rua= is valid (RFC 7489 6.6.3)");
	if (r.p == DMARC_P_NONE)
		add(d, SEV_WARN, "DMARC",
		    "read the aggregate reports "
		    "(filterctl dmarc-report), fix the failing sources, "
		    "then p=quarantine and p=reject",
		    "p=none: monitoring only, forged mail is delivered");
	else
		add(d, SEV_OK, "DMARC", NULL, "p=%s", dmarc_policy_str(r.p));
	if (r.sp < r.p)
		add(d, SEV_INFO, "DMARC",
		    "set sp= like p= unless "
		    "subdomains send unauthenticated mail",
		    "sp=%s is "
		    "weaker than p=%s: subdomains are easier to forge",
		    dmarc_policy_str(r.sp), dmarc_policy_str(r.p));
	if (r.pct < 100)
		add(d, SEV_WARN, "DMARC",
		    "raise pct to 100 once the reports "
		    "look clean",
		    "pct=%u: only %u%% of failing mail gets "
		    "the policy",
		    r.pct, r.pct);
	if (r.adkim == 's' || r.aspf == 's')
		add(d, SEV_INFO, "DMARC",
		    "use relaxed (the default) unless "
		    "you need strict",
		    "strict alignment (adkim=%c aspf=%c): "
		    "mail signed or sent from subdomains fails",
		    r.adkim, r.aspf);
	else
		add(d, SEV_OK, "DMARC", NULL,
		    "relaxed alignment for DKIM "
		    "and SPF");
	if (tag(rec, "rua", v, sizeof(v)))
		check_report_uris(d, psl, where, "rua", v);
	else
		add(d, SEV_WARN, "DMARC",
		    "add rua=mailto:dmarc-reports@<your "
		    "domain>",
		    "no rua=: you get no aggregate reports, so "
		    "you cannot tell when p=reject is safe");
	if (tag(rec, "ruf", v, sizeof(v))) {
		add(d, SEV_INFO, "DMARC", NULL,
		    "ruf= set: few providers send "
		    "failure reports, and they may carry personal data");
		check_report_uris(d, psl, where, "ruf", v);
	}
}

/* PTR / forward-confirmed reverse DNS ------------------------------------ */

static void
check_ptr(struct dctx *d, const char *dom, const char *ipstr)
{
	struct netaddr ip;
	char rev[200], f[1024];
	const struct authres_answer *a;

	if (netaddr_parse(ipstr, strlen(ipstr), &ip) < 0 ||
	    dns_reverse_name(&ip,
		ip.family == AF_INET ? "in-addr.arpa" : "ip6.arpa", rev,
		sizeof(rev)) < 0)
		return;
	snprintf(f, sizeof(f),
	    "ask whoever runs %s (your ISP/hoster) to set "
	    "its PTR to a name like mail.%s that resolves back to it",
	    ipstr, dom);
	a = lookup(d, rev, AUTHRES_PTR);
	if (dns_failed(a)) {
		add(d, SEV_WARN, "PTR", f, "PTR lookup for %s failed (%s)",
		    ipstr, status_str(a));
		return;
	}
	if (a->status != AUTHRES_DNS_OK || a->n == 0) {
		add(d, SEV_ERROR, "PTR", f,
		    "%s has no PTR record: many "
		    "receivers refuse or penalise such senders",
		    ipstr);
		return;
	}
	for (size_t i = 0; i < a->n && i < 4; i++) {
		char host[256];
		snprintf(host, sizeof(host), "%.*s", (int)a->rr[i].txt.len,
		    (const char *)a->rr[i].txt.p);
		const struct authres_answer *fw = lookup(
		    d, host, ip.family == AF_INET ? AUTHRES_A : AUTHRES_AAAA);
		bool match = false;
		for (size_t k = 0;
		     fw && fw->status == AUTHRES_DNS_OK && k < fw->n; k++)
			if (fw->rr[k].addr.family == ip.family &&
			    memcmp(fw->rr[k].addr.a, ip.a,
				ip.family == AF_INET ? 4 : 16) == 0)
				match = true;
		if (match) {
			add(d, SEV_OK, "PTR", NULL,
			    "%s -> %s -> %s: "
			    "forward-confirmed",
			    ipstr, host, ipstr);
			size_t hl = strlen(host), dl = strlen(dom);
			if (!(hl == dl ? strcmp(host, dom) == 0
				       : hl > dl && host[hl - dl - 1] == '.' &&
					strcmp(host + hl - dl, dom) == 0))
				add(d, SEV_INFO, "PTR",
				    "fine if the server "
				    "sends for several domains; its HELO "
				    "should be this name",
				    "PTR name %s is "
				    "not under %s",
				    host, dom);
		} else {
			char f2[1024], got[64] = "";
			snprintf(f2, sizeof(f2),
			    "add \"%s. A %s\" or change "
			    "the PTR",
			    host, ipstr);
			if (fw && fw->status == AUTHRES_DNS_OK && fw->n)
				netaddr_str(&fw->rr[0].addr, got, sizeof(got));
			add(d, SEV_ERROR, "PTR", f2,
			    "%s -> %s, but %s does "
			    "not resolve back to %s (%s%s)",
			    ipstr, host, host, ipstr, got[0] ? "it has " : "",
			    got[0] ? got : status_str(fw));
		}
	}
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: filterctl check-domain DOMAIN [--selector S]... [--ip ADDR]\n"
	    "           [--dns-server HOST:PORT] [--json]\n\n"
	    "Look up and explain the mail DNS of DOMAIN, each finding with a\n"
	    "severity (ok, info, warn, error) and a one-line fix:\n"
	    "  MX     the records and whether their hosts resolve; null MX\n"
	    "  SPF    one record, syntax, -all vs ~all, ptr, DNS lookup count\n"
	    "         (limit 10), and with --ip whether that address passes\n"
	    "  DKIM   the key of each --selector: size, t=y, revoked\n"
	    "  DMARC  policy, sp, pct, alignment, rua/ruf and their\n"
	    "         authorization records for other domains\n"
	    "  PTR    with --ip: reverse name and forward confirmation\n\n"
	    "  --selector S       DKIM selector to check (repeatable)\n"
	    "  --ip ADDR          an address your mail leaves from\n"
	    "  --dns-server H:P   ask this server (default: resolv.conf)\n"
	    "  --json             findings as JSON\n\n"
	    "Exit status: 0 no error finding, 1 errors found, 2 usage/DNS.\n");
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

int
ctl_check_domain(int argc, char **argv)
{
	const char *dom = NULL, *ip = NULL, *server = NULL;
	const char *sel[MAX_SELECTORS];
	size_t nsel = 0;
	bool json = false;
	struct dctx *d;
	struct dmarc_psl *psl;
	char domain[256];
	int st = 2;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool v = i + 1 < argc;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--json"))
			json = true;
		else if (v && !strcmp(a, "--selector")) {
			if (nsel == MAX_SELECTORS) {
				fprintf(stderr,
				    "filterctl check-domain: at "
				    "most %d selectors\n",
				    MAX_SELECTORS);
				return 2;
			}
			sel[nsel++] = argv[++i];
		} else if (v && !strcmp(a, "--ip"))
			ip = argv[++i];
		else if (v && !strcmp(a, "--dns-server"))
			server = argv[++i];
		else if (a[0] != '-' && dom == NULL)
			dom = a;
		else {
			fprintf(stderr,
			    "filterctl check-domain: bad argument "
			    "'%s'\n\n",
			    a);
			usage(stderr);
			return 2;
		}
	}
	if (dom == NULL) {
		usage(stderr);
		return 2;
	}
	snprintf(domain, sizeof(domain), "%s", dom);
	for (char *c = domain; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c += 32;
	if (domain[0] && domain[strlen(domain) - 1] == '.')
		domain[strlen(domain) - 1] = '\0';
	if (ip) {
		struct netaddr na;
		if (netaddr_parse(ip, strlen(ip), &na) < 0) {
			fprintf(stderr,
			    "filterctl check-domain: bad address "
			    "'%s'\n",
			    ip);
			return 2;
		}
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return 2;
	struct dns_opts o = {
		.servers = server, .timeout_ms = 2000, .tries = 2
	};
	psl = dmarc_psl_load(NULL);
	if ((d->base = event_base_new()) == NULL ||
	    (d->a = arena_new(0)) == NULL ||
	    (d->dns = authres_dns_new(d->a)) == NULL ||
	    dns_resolver_new(d->base, &o, &d->r) < 0 ||
	    (d->ctx = dns_ctx_new(d->r, d->a, 0)) == NULL || psl == NULL) {
		fprintf(stderr,
		    "filterctl check-domain: cannot set up DNS%s"
		    "%s\n",
		    server ? " for " : "", server ? server : "");
		goto out;
	}
	check_mx(d, domain);
	check_spf(d, domain, ip);
	check_dkim(d, domain, sel, nsel);
	check_dmarc(d, psl, domain);
	if (ip)
		check_ptr(d, domain, ip);
	else
		add(d, SEV_INFO, "PTR",
		    "pass --ip with your outgoing "
		    "address",
		    "no --ip: PTR/FCrDNS and the SPF result for "
		    "your server not checked");
	size_t count[4] = { 0 };
	for (size_t i = 0; i < d->nf; i++)
		count[d->f[i].sev]++;
	if (json) {
		printf("{\"domain\":");
		json_str(domain);
		printf(",\"findings\":[");
		for (size_t i = 0; i < d->nf; i++) {
			printf("%s{\"area\":\"%s\",\"severity\":\"%s\","
			       "\"text\":",
			    i ? "," : "", d->f[i].area, sev_name[d->f[i].sev]);
			json_str(d->f[i].text);
			if (d->f[i].fix[0]) {
				printf(",\"fix\":");
				json_str(d->f[i].fix);
			}
			putchar('}');
		}
		printf("],\"errors\":%zu,\"warnings\":%zu}\n", count[SEV_ERROR],
		    count[SEV_WARN]);
	} else {
		printf("check-domain %s\n", domain);
		for (size_t i = 0; i < d->nf; i++) {
			static const char *const tag5[] = { "ok", "info",
				"WARN", "ERROR" };
			printf("  %-5s  %-5s  %s\n", tag5[d->f[i].sev],
			    d->f[i].area, d->f[i].text);
			if (d->f[i].fix[0] && d->f[i].sev != SEV_OK)
				printf("  %-5s  %-5s  fix: %s\n", "", "",
				    d->f[i].fix);
		}
		printf("%zu errors, %zu warnings, %zu notes, %zu ok\n",
		    count[SEV_ERROR], count[SEV_WARN], count[SEV_INFO],
		    count[SEV_OK]);
	}
	st = count[SEV_ERROR] ? 1 : 0;
out:
	if (d->ctx)
		dns_ctx_cancel(d->ctx);
	arena_free(d->a);
	dns_resolver_free(d->r);
	if (d->base)
		event_base_free(d->base);
	dmarc_psl_free(psl);
	free(d);
	return st;
}
