/*
 * spf - Sender Policy Framework (RFC 7208)
 *
 * spf_record_parse() checks the whole record before anything is evaluated
 * (4.6: a syntax error anywhere is a permerror). spf_check() is
 * check_host() (4): it runs from the top every time it is called and reads
 * DNS from a struct authres_dns; an answer that is not there yet is marked
 * wanted and the whole evaluation unwinds with AGAIN (-EAGAIN to the
 * caller). Every mechanism whose lookups are independent (MX hosts, PTR
 * names) asks for all of them in one round.
 * Memory: strings in out come from the caller's arena.
 * Errors: DNS and record problems are SPF results (temperror, permerror)
 * with a static reason; return codes are only -EAGAIN and -ENOMEM.
 * Limits: 10 lookup terms, 2 void lookups, 10 MX, 10 PTR names (4.6.4),
 * 20 nested include/redirect levels, expansions of 253 octets (7.3).
 */
#include "plugins/spf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "plugins/authres.h"
#include "util/arena.h"

#define SPF_MAX_DEPTH 20
#define SPF_AGAIN (-100) /* internal: a lookup is missing */

struct eval {
	struct arena *a;
	struct authres_dns *dns;
	const struct spf_req *req;
	struct netaddr ip;
	const char *sender, *local, *sdomain; /* %{s} %{l} %{o} */
	unsigned lookups, voids;
	const char *problem, *mechanism, *explanation;
	bool nomem;
};

const char *
spf_result_str(enum spf_result r)
{
	static const char *const s[] = { "none", "neutral", "pass", "fail",
		"softfail", "temperror", "permerror" };

	return (unsigned)r < sizeof(s) / sizeof(s[0]) ? s[r] : "permerror";
}

static bool
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alnum(int c)
{
	return is_alpha(c) || is_digit(c);
}

/* 4.5: "v=spf1" followed by a space or the end, case-insensitive. */
bool
spf_is_record(struct bstr t)
{
	return t.len >= 6 && bstr_casestarts(t, "v=spf1") &&
	    (t.len == 6 || t.p[6] == ' ');
}

/* Parsing (4.6.1, 5, 6, 7.1) ------------------------------------------- */

/* Check macro-string syntax (7.1); allow_exp adds c, r, t. */
static bool
macro_ok(struct bstr s, bool allow_exp)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = s.p[i];

		if (c < 0x21 || c > 0x7e)
			return false;
		if (c != '%')
			continue;
		if (++i == s.len)
			return false;
		c = s.p[i];
		if (c == '%' || c == '_' || c == '-')
			continue;
		if (c != '{' || ++i == s.len)
			return false;
		c = s.p[i] | 32;
		if (!strchr("slodiphv", c) && !(allow_exp && strchr("crt", c)))
			return false;
		i++;
		while (i < s.len && is_digit(s.p[i]))
			i++;
		if (i < s.len && (s.p[i] | 32) == 'r')
			i++;
		while (i < s.len && strchr(".-+,/_=", s.p[i]) && s.p[i])
			i++;
		if (i == s.len || s.p[i] != '}')
			return false;
	}
	return true;
}

/* domain-spec = macro-string domain-end; domain-end = "." toplabel ["."]
 * / macro-expand (7.1). toplabel: alphanumeric with at least one letter,
 * or with an inner hyphen (RFC 3696 2). */
static bool
domain_spec_ok(struct bstr s)
{
	size_t e, b;

	if (s.len == 0 || !macro_ok(s, false))
		return false;
	if (s.p[s.len - 1] == '}')
		return true; /* ends in a macro-expand */
	e = s.len;
	if (s.p[e - 1] == '.')
		e--;
	b = e;
	while (b > 0 && s.p[b - 1] != '.')
		b--;
	if (b == 0 || b == e)
		return false; /* needs "." toplabel */
	/* The label must not be part of a macro (e.g. "%{d}x"): accepted
	 * either way by the grammar's macro-literal run. */
	bool alpha = false, dash = false;
	for (size_t i = b; i < e; i++) {
		if (is_alpha(s.p[i]))
			alpha = true;
		else if (s.p[i] == '-')
			dash = true;
		else if (!is_digit(s.p[i]))
			return false;
	}
	if (s.p[b] == '-' || s.p[e - 1] == '-')
		return false;
	return alpha || dash;
}

/* "/" DIGITs without leading zeros, at most max. */
static bool
parse_cidr(struct bstr s, int max, int *out)
{
	int v = 0;

	if (s.len == 0 || s.len > 3 || (s.len > 1 && s.p[0] == '0'))
		return false;
	for (size_t i = 0; i < s.len; i++) {
		if (!is_digit(s.p[i]))
			return false;
		v = v * 10 + (s.p[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Split a trailing dual-cidr-length off arg (a, mx). */
static bool
split_dual_cidr(struct bstr *arg, struct spf_term *t)
{
	struct bstr s = *arg;
	long i;

	/* "//" ip6-cidr-length at the end */
	for (i = (long)s.len - 1; i >= 0 && is_digit(s.p[i]); i--)
		;
	if (i >= 1 && s.p[i] == '/' && s.p[i - 1] == '/') {
		if (!parse_cidr(bstr_make(s.p + i + 1, s.len - (size_t)i - 1),
			128, &t->cidr6))
			return false;
		s.len = (size_t)i - 1;
	} else if (i >= 0 && s.p[i] == '/' && (size_t)i + 1 == s.len)
		return false; /* a bare trailing "/" */
	for (i = (long)s.len - 1; i >= 0 && is_digit(s.p[i]); i--)
		;
	if (i >= 0 && s.p[i] == '/' && (i == 0 || s.p[i - 1] != '/')) {
		if (!parse_cidr(bstr_make(s.p + i + 1, s.len - (size_t)i - 1),
			32, &t->cidr4))
			return false;
		s.len = (size_t)i;
	}
	*arg = s;
	return true;
}

/* Strict dotted quad (RFC 7208 4.6.1 ip4-network: no leading zeros). */
static bool
parse_ip4(struct bstr s, struct netaddr *n)
{
	unsigned part = 0, parts = 0, digits = 0;

	memset(n, 0, sizeof(*n));
	n->family = AF_INET;
	for (size_t i = 0; i <= s.len; i++) {
		if (i == s.len || s.p[i] == '.') {
			if (digits == 0 || parts == 4)
				return false;
			n->a[parts++] = (unsigned char)part;
			part = digits = 0;
			continue;
		}
		if (!is_digit(s.p[i]) || (digits == 1 && part == 0))
			return false;
		part = part * 10 + (unsigned)(s.p[i] - '0');
		if (++digits > 3 || part > 255)
			return false;
	}
	return parts == 4;
}

static bool
parse_ip6(struct bstr s, struct netaddr *n)
{
	char tmp[64];

	if (s.len == 0 || s.len >= sizeof(tmp))
		return false;
	memcpy(tmp, s.p, s.len);
	tmp[s.len] = '\0';
	memset(n, 0, sizeof(*n));
	n->family = AF_INET6;
	return inet_pton(AF_INET6, tmp, n->a) == 1;
}

static int
parse_term(struct bstr w, struct spf_term *t, const char **why)
{
	size_t i = 0;
	struct bstr name, arg = BSTR_NULL;
	bool has_arg = false;

	memset(t, 0, sizeof(*t));
	t->cidr4 = t->cidr6 = -1;
	t->qual = '+';
	/* A modifier: name "=" with a valid name (4.6.1, 6). */
	while (i < w.len &&
	    (is_alnum(w.p[i]) || w.p[i] == '-' || w.p[i] == '_' ||
		w.p[i] == '.'))
		i++;
	if (i < w.len && w.p[i] == '=' && i > 0 && is_alpha(w.p[0])) {
		t->mech = SPF_M_MODIFIER;
		t->name = bstr_make(w.p, i);
		t->arg = bstr_make(w.p + i + 1, w.len - i - 1);
		if (bstr_caseeq_cstr(t->name, "redirect") ||
		    bstr_caseeq_cstr(t->name, "exp")) {
			if (!domain_spec_ok(t->arg)) {
				*why = "bad domain-spec in modifier";
				return -EINVAL;
			}
		} else if (!macro_ok(t->arg, true)) {
			*why = "bad macro in modifier";
			return -EINVAL;
		}
		return 0;
	}
	i = 0;
	if (w.len && strchr("+-~?", w.p[0])) {
		t->qual = (char)w.p[0];
		i = 1;
	}
	size_t ns = i;
	while (i < w.len && is_alnum(w.p[i]))
		i++;
	name = bstr_make(w.p + ns, i - ns);
	if (i < w.len) {
		if (w.p[i] == ':') {
			has_arg = true;
			arg = bstr_make(w.p + i + 1, w.len - i - 1);
		} else if (w.p[i] == '/')
			arg = bstr_make(w.p + i, w.len - i);
		else {
			*why = "unknown mechanism";
			return -EINVAL;
		}
	}
	static const struct {
		const char *n;
		enum spf_mech m;
	} mechs[] = { { "all", SPF_M_ALL }, { "include", SPF_M_INCLUDE },
		{ "a", SPF_M_A }, { "mx", SPF_M_MX }, { "ptr", SPF_M_PTR },
		{ "ip4", SPF_M_IP4 }, { "ip6", SPF_M_IP6 },
		{ "exists", SPF_M_EXISTS } };
	size_t k;
	for (k = 0; k < sizeof(mechs) / sizeof(mechs[0]); k++)
		if (bstr_caseeq_cstr(name, mechs[k].n))
			break;
	if (k == sizeof(mechs) / sizeof(mechs[0])) {
		*why = "unknown mechanism";
		return -EINVAL;
	}
	t->mech = mechs[k].m;
	switch (t->mech) {
	case SPF_M_ALL:
		if (arg.len || has_arg) {
			*why = "all takes no argument";
			return -EINVAL;
		}
		break;
	case SPF_M_INCLUDE:
	case SPF_M_EXISTS:
		if (!has_arg || !domain_spec_ok(arg)) {
			*why = "bad domain-spec";
			return -EINVAL;
		}
		t->arg = arg;
		break;
	case SPF_M_A:
	case SPF_M_MX:
		if (!split_dual_cidr(&arg, t)) {
			*why = "bad cidr length";
			return -EINVAL;
		}
		if (has_arg && !domain_spec_ok(arg)) {
			*why = "bad domain-spec";
			return -EINVAL;
		}
		if (!has_arg && arg.len) {
			*why = "bad cidr length";
			return -EINVAL;
		}
		t->arg = arg;
		break;
	case SPF_M_PTR:
		if (has_arg && !domain_spec_ok(arg)) {
			*why = "bad domain-spec";
			return -EINVAL;
		}
		if (!has_arg && arg.len) {
			*why = "ptr takes no cidr";
			return -EINVAL;
		}
		t->arg = arg;
		break;
	case SPF_M_IP4:
	case SPF_M_IP6: {
		long j;
		bool v4 = t->mech == SPF_M_IP4;
		if (!has_arg) {
			*why = "ip4/ip6 need an address";
			return -EINVAL;
		}
		for (j = (long)arg.len - 1; j >= 0 && arg.p[j] != '/'; j--)
			;
		if (j >= 0) {
			int *c = v4 ? &t->cidr4 : &t->cidr6;
			if (!parse_cidr(bstr_make(arg.p + j + 1,
					    arg.len - (size_t)j - 1),
				v4 ? 32 : 128, c)) {
				*why = "bad cidr length";
				return -EINVAL;
			}
			arg.len = (size_t)j;
		}
		if (!(v4 ? parse_ip4(arg, &t->net) : parse_ip6(arg, &t->net))) {
			*why = "bad ip address";
			return -EINVAL;
		}
		t->arg = arg;
		break;
	}
	default:
		break;
	}
	return 0;
}

/* spf_record_parse - parse every term; permerror on the first bad one */
int
spf_record_parse(
    struct arena *a, struct bstr rec, struct spf_record **out, const char **why)
{
	struct spf_record *r;
	size_t i = 6;

	*why = NULL;
	if (!spf_is_record(rec)) {
		*why = "not an SPF record";
		return -EINVAL;
	}
	if ((r = arena_calloc(a, 1, sizeof(*r))) == NULL ||
	    (r->t = arena_calloc(a, SPF_MAX_TERMS, sizeof(*r->t))) == NULL)
		return -ENOMEM;
	r->redirect = r->exp = -1;
	while (i < rec.len) {
		size_t s;
		int rc;

		if (rec.p[i] == ' ') {
			i++;
			continue;
		}
		s = i;
		while (i < rec.len && rec.p[i] != ' ')
			i++;
		if (r->n == SPF_MAX_TERMS) {
			*why = "too many terms";
			return -EINVAL;
		}
		struct spf_term *t = &r->t[r->n];
		if ((rc = parse_term(bstr_make(rec.p + s, i - s), t, why)) < 0)
			return rc;
		if (t->mech == SPF_M_MODIFIER) {
			int *slot = NULL;
			if (bstr_caseeq_cstr(t->name, "redirect"))
				slot = &r->redirect;
			else if (bstr_caseeq_cstr(t->name, "exp"))
				slot = &r->exp;
			if (slot && *slot >= 0) {
				*why = "duplicate modifier"; /* 6 */
				return -EINVAL;
			}
			if (slot)
				*slot = (int)r->n;
		}
		r->n++;
	}
	*out = r;
	return 0;
}

/* DNS helpers ----------------------------------------------------------- */

static const struct authres_answer *
lookup(struct eval *ev, const char *name, enum authres_type type)
{
	const struct authres_answer *ans = authres_dns_get(ev->dns, name, type);

	if (ans == NULL && authres_dns_want(ev->dns, name, type) < 0)
		ev->nomem = true;
	return ans;
}

static bool
dns_error(const struct authres_answer *ans)
{
	return ans->status == AUTHRES_DNS_SERVFAIL ||
	    ans->status == AUTHRES_DNS_TIMEOUT;
}

/* 4.6.4: count a void lookup; true when over the limit. */
static bool
void_over(struct eval *ev, const struct authres_answer *ans)
{
	if (ans->status == AUTHRES_DNS_NXDOMAIN ||
	    ans->status == AUTHRES_DNS_NODATA ||
	    (ans->status == AUTHRES_DNS_OK && ans->n == 0))
		if (++ev->voids > SPF_MAX_VOID_LOOKUPS) {
			ev->problem = "void lookup limit exceeded";
			return true;
		}
	return false;
}

static bool
addr_in(const struct netaddr *ip, const struct netaddr *net, int cidr)
{
	int bits = ip->family == AF_INET ? 32 : 128;

	if (ip->family != net->family)
		return false;
	if (cidr < 0)
		cidr = bits;
	for (int b = 0; b < cidr; b += 8) {
		int n = cidr - b >= 8 ? 8 : cidr - b;
		unsigned char mask = (unsigned char)(0xff << (8 - n));
		if ((ip->a[b / 8] & mask) != (net->a[b / 8] & mask))
			return false;
	}
	return true;
}

/* A valid FQDN for a query: labels 1..63, at least two, total <= 253. */
static bool
domain_ok(const char *d)
{
	size_t len = strlen(d), lab = 0, labels = 0;

	if (len && d[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || d[i] == '.') {
			if (lab == 0 || lab > 63)
				return false;
			labels++;
			lab = 0;
		} else
			lab++;
	}
	return labels >= 2;
}

static bool
name_eq_or_sub(const char *name, const char *dom)
{
	size_t n = strlen(name), d = strlen(dom);

	if (n && name[n - 1] == '.')
		n--;
	if (d && dom[d - 1] == '.')
		d--;
	if (n == d)
		return strncasecmp(name, dom, n) == 0;
	return n > d && name[n - d - 1] == '.' &&
	    strncasecmp(name + n - d, dom, d) == 0;
}

static void
reverse_name(const struct netaddr *ip, char *out, size_t sz)
{
	size_t o = 0;

	if (ip->family == AF_INET)
		snprintf(out, sz, "%u.%u.%u.%u.in-addr.arpa", ip->a[3],
		    ip->a[2], ip->a[1], ip->a[0]);
	else {
		static const char hex[] = "0123456789abcdef";
		for (int i = 15; i >= 0 && o + 4 < sz; i--) {
			out[o++] = hex[ip->a[i] & 15];
			out[o++] = '.';
			out[o++] = hex[ip->a[i] >> 4];
			out[o++] = '.';
		}
		snprintf(out + o, sz - o, "ip6.arpa");
	}
}

/*
 * The validated names of the client (5.5, 7.3 %{p}): PTR names whose
 * A/AAAA lookup contains the address, at most SPF_MAX_PTR examined. DNS
 * errors make a name (or the whole PTR lookup) not count. Returns the
 * count (names in out) or SPF_AGAIN.
 */
static int
validated_names(struct eval *ev, const char **out, size_t max)
{
	char rev[80];
	const struct authres_answer *ans;
	enum authres_type t =
	    ev->ip.family == AF_INET ? AUTHRES_A : AUTHRES_AAAA;
	size_t n = 0;
	bool again = false;

	reverse_name(&ev->ip, rev, sizeof(rev));
	if ((ans = lookup(ev, rev, AUTHRES_PTR)) == NULL)
		return SPF_AGAIN;
	if (ans->status != AUTHRES_DNS_OK)
		return 0;
	for (size_t i = 0; i < ans->n && i < SPF_MAX_PTR; i++) {
		char name[256];
		const struct authres_answer *aa;
		size_t l = ans->rr[i].txt.len < 255 ? ans->rr[i].txt.len : 255;

		memcpy(name, ans->rr[i].txt.p, l);
		name[l] = '\0';
		if (!domain_ok(name))
			continue;
		if ((aa = lookup(ev, name, t)) == NULL) {
			again = true;
			continue;
		}
		if (aa->status != AUTHRES_DNS_OK)
			continue;
		for (size_t k = 0; k < aa->n; k++)
			if (addr_in(&ev->ip, &aa->rr[k].addr, -1)) {
				if (n < max)
					out[n++] =
					    arena_strndup(ev->a, name, l);
				break;
			}
	}
	return again ? SPF_AGAIN : (int)n;
}

/* Macros (7) ------------------------------------------------------------ */

static int
put_url(struct buf *b, const char *s, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		unsigned char c = (unsigned char)s[i];
		/* 7.3: uppercase macros are URL-escaped (RFC 3986 unreserved
		 * characters stay). */
		if (is_alnum(c) || strchr("-._~", c))
			rc = buf_putc(b, c);
		else
			rc = buf_printf(b, "%%%02X", c);
	}
	return rc;
}

/* The value of one macro letter into v. */
static int
macro_value(struct eval *ev, int letter, const char *domain, struct buf *v)
{
	char tmp[128];

	switch (letter) {
	case 's':
		return buf_puts(v, ev->sender);
	case 'l':
		return buf_puts(v, ev->local);
	case 'o':
		return buf_puts(v, ev->sdomain);
	case 'd':
		return buf_puts(v, domain);
	case 'h':
		return buf_puts(v, ev->req->helo ? ev->req->helo : "");
	case 'v':
		return buf_puts(
		    v, ev->ip.family == AF_INET ? "in-addr" : "ip6");
	case 'i':
		if (ev->ip.family == AF_INET)
			return buf_printf(v, "%u.%u.%u.%u", ev->ip.a[0],
			    ev->ip.a[1], ev->ip.a[2], ev->ip.a[3]);
		for (int i = 0; i < 16; i++) {
			int rc = buf_printf(v, "%s%x.%x", i ? "." : "",
			    ev->ip.a[i] >> 4, ev->ip.a[i] & 15);
			if (rc < 0)
				return rc;
		}
		return 0;
	case 'c':
		inet_ntop(ev->ip.family, ev->ip.a, tmp, sizeof(tmp));
		return buf_puts(v, tmp);
	case 'r':
		return buf_puts(
		    v, ev->req->receiver ? ev->req->receiver : "unknown");
	case 't':
		return buf_printf(v, "%lld", (long long)ev->req->now);
	case 'p': {
		const char *names[SPF_MAX_PTR];
		int n = validated_names(ev, names, SPF_MAX_PTR);
		const char *pick = NULL;
		if (n == SPF_AGAIN)
			return SPF_AGAIN;
		/* 7.3: prefer the domain itself, then a subdomain. */
		for (int i = 0; i < n && !pick; i++)
			if (strcasecmp(names[i], domain) == 0)
				pick = names[i];
		for (int i = 0; i < n && !pick; i++)
			if (name_eq_or_sub(names[i], domain))
				pick = names[i];
		if (!pick && n > 0)
			pick = names[0];
		return buf_puts(v, pick ? pick : "unknown");
	}
	}
	return -EINVAL;
}

/*
 * expand - 7.3/7.4: expand macro-string s for domain into out (NUL
 * terminated). Returns 0, -EINVAL (syntax: permerror), SPF_AGAIN,
 * -ENOMEM/-ENOSPC.
 */
static int
expand(struct eval *ev, struct bstr s, const char *domain, bool exp_ctx,
    struct buf *out)
{
	int rc = 0;

	buf_reset(out);
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = s.p[i];

		if (c != '%') {
			if ((rc = buf_putc(out, c)) < 0)
				return rc;
			continue;
		}
		if (++i == s.len)
			return -EINVAL;
		c = s.p[i];
		if (c == '%' || c == '_' || c == '-') {
			rc = c == '%'  ? buf_putc(out, '%')
			    : c == '_' ? buf_putc(out, ' ')
				       : buf_puts(out, "%20");
			if (rc < 0)
				return rc;
			continue;
		}
		if (c != '{' || ++i == s.len)
			return -EINVAL;
		int letter = s.p[i];
		bool upper = letter >= 'A' && letter <= 'Z';
		letter |= 32;
		if (!strchr("slodiphv", letter) &&
		    !(exp_ctx && strchr("crt", letter)))
			return -EINVAL;
		i++;
		unsigned keep = 0;
		bool has_keep = false, rev = false;
		while (i < s.len && is_digit(s.p[i])) {
			has_keep = true;
			if (keep < 1000)
				keep = keep * 10 + (unsigned)(s.p[i] - '0');
			i++;
		}
		if (has_keep && keep == 0)
			return -EINVAL; /* 7.1: the count must be nonzero */
		if (i < s.len && (s.p[i] | 32) == 'r') {
			rev = true;
			i++;
		}
		char delims[8] = "";
		size_t nd = 0;
		while (i < s.len && s.p[i] && strchr(".-+,/_=", s.p[i])) {
			if (nd < sizeof(delims) - 1 && !strchr(delims, s.p[i]))
				delims[nd++] = (char)s.p[i];
			i++;
		}
		if (i == s.len || s.p[i] != '}')
			return -EINVAL;
		if (nd == 0)
			delims[nd++] = '.';
		delims[nd] = '\0';

		struct buf v;
		buf_init(&v, 4096);
		if ((rc = macro_value(ev, letter, domain, &v)) < 0 ||
		    (rc = buf_cstr(&v)) < 0) {
			buf_free(&v);
			return rc;
		}
		/* Split into parts on the delimiters, reverse, keep the
		 * rightmost parts, join with ".". */
		const char *parts[256];
		size_t plen[256], np = 0, st = 0;
		for (size_t k = 0; k <= v.len && np < 256; k++) {
			if (k == v.len || strchr(delims, v.p[k])) {
				parts[np] = (const char *)v.p + st;
				plen[np++] = k - st;
				st = k + 1;
			}
		}
		if (rev)
			for (size_t a = 0, b = np - 1; a < b; a++, b--) {
				const char *tp = parts[a];
				size_t tl = plen[a];
				parts[a] = parts[b];
				plen[a] = plen[b];
				parts[b] = tp;
				plen[b] = tl;
			}
		size_t first = has_keep && keep < np ? np - keep : 0;
		for (size_t k = first; k < np && rc == 0; k++) {
			if (k > first)
				rc = buf_putc(out, '.');
			if (rc == 0)
				rc = upper ? put_url(out, parts[k], plen[k])
					   : buf_append(out, parts[k], plen[k]);
		}
		buf_free(&v);
		if (rc < 0)
			return rc;
	}
	return buf_cstr(out);
}

/* Expand a domain-spec into a target name: 7.3 says drop labels from the
 * left until it fits in 253 octets. */
static int
expand_domain(struct eval *ev, struct bstr spec, const char *domain, char *out,
    size_t outsz)
{
	struct buf b;
	int rc;
	const char *p;

	buf_init(&b, 8192);
	if ((rc = expand(ev, spec, domain, false, &b)) < 0) {
		buf_free(&b);
		return rc;
	}
	p = (const char *)b.p;
	size_t len = b.len;
	if (len && p[len - 1] == '.')
		len--;
	while (len > 253) {
		const char *dot = memchr(p, '.', len);
		if (dot == NULL)
			break;
		len -= (size_t)(dot + 1 - p);
		p = dot + 1;
	}
	if (len >= outsz)
		len = outsz - 1;
	memcpy(out, p, len);
	out[len] = '\0';
	buf_free(&b);
	return 0;
}

/* check_host() (4) ------------------------------------------------------- */

static int check_host(
    struct eval *, const char *domain, int depth, bool in_include);

static int
permerror(struct eval *ev, const char *why)
{
	if (ev->problem == NULL)
		ev->problem = why;
	return SPF_RES_PERMERROR;
}

static int
temperror(struct eval *ev, const char *why)
{
	if (ev->problem == NULL)
		ev->problem = why;
	return SPF_RES_TEMPERROR;
}

/* Count a lookup term (4.6.4). */
static bool
lookup_over(struct eval *ev)
{
	if (++ev->lookups > SPF_MAX_LOOKUPS) {
		ev->problem = "DNS lookup limit exceeded";
		return true;
	}
	return false;
}

/* Does any A/AAAA of name match? 1 match, 0 no, SPF_AGAIN, or a result
 * code (as a negative -100 - result) for temperror/permerror. */
#define R(x) (-200 - (x))
static int
match_name(
    struct eval *ev, const char *name, int cidr4, int cidr6, bool count_void)
{
	enum authres_type t =
	    ev->ip.family == AF_INET ? AUTHRES_A : AUTHRES_AAAA;
	const struct authres_answer *ans = lookup(ev, name, t);

	if (ans == NULL)
		return SPF_AGAIN;
	if (dns_error(ans))
		return R(temperror(ev, "DNS error"));
	if (count_void && void_over(ev, ans))
		return R(SPF_RES_PERMERROR);
	for (size_t i = 0; i < ans->n; i++)
		if (addr_in(&ev->ip, &ans->rr[i].addr,
			ev->ip.family == AF_INET ? cidr4 : cidr6))
			return 1;
	return 0;
}

/* Evaluate one mechanism: 1 match, 0 no match, SPF_AGAIN, or R(result). */
static int
mechanism(
    struct eval *ev, const struct spf_term *t, const char *domain, int depth)
{
	char target[256];
	int rc;

	if (t->mech == SPF_M_INCLUDE || t->mech == SPF_M_A ||
	    t->mech == SPF_M_MX || t->mech == SPF_M_PTR ||
	    t->mech == SPF_M_EXISTS) {
		if (lookup_over(ev))
			return R(SPF_RES_PERMERROR);
		if (t->arg.len) {
			rc = expand_domain(
			    ev, t->arg, domain, target, sizeof(target));
			if (rc == SPF_AGAIN)
				return rc;
			if (rc == -EINVAL)
				return R(permerror(ev, "bad macro"));
			if (rc < 0) {
				ev->nomem = true;
				return SPF_AGAIN;
			}
		} else
			snprintf(target, sizeof(target), "%s", domain);
	}
	switch (t->mech) {
	case SPF_M_ALL:
		return 1;
	case SPF_M_IP4:
	case SPF_M_IP6:
		return addr_in(&ev->ip, &t->net,
		    t->mech == SPF_M_IP4 ? t->cidr4 : t->cidr6);
	case SPF_M_A:
		if (!domain_ok(target))
			return 0; /* nothing to match at a bad name */
		return match_name(ev, target, t->cidr4, t->cidr6, true);
	case SPF_M_EXISTS: {
		const struct authres_answer *ans;
		if (!domain_ok(target))
			return 0;
		/* 5.7: always an A query, whatever the client's family. */
		if ((ans = lookup(ev, target, AUTHRES_A)) == NULL)
			return SPF_AGAIN;
		if (dns_error(ans))
			return R(temperror(ev, "DNS error"));
		if (void_over(ev, ans))
			return R(SPF_RES_PERMERROR);
		return ans->status == AUTHRES_DNS_OK && ans->n > 0;
	}
	case SPF_M_MX: {
		const struct authres_answer *ans;
		bool again = false;
		if (!domain_ok(target))
			return 0;
		if ((ans = lookup(ev, target, AUTHRES_MX)) == NULL)
			return SPF_AGAIN;
		if (dns_error(ans))
			return R(temperror(ev, "DNS error"));
		if (void_over(ev, ans))
			return R(SPF_RES_PERMERROR);
		if (ans->n > SPF_MAX_MX)
			return R(permerror(ev, "too many MX records"));
		for (size_t i = 0; i < ans->n; i++) {
			char mx[256];
			size_t l = ans->rr[i].txt.len;
			if (l == 0 || l > 255)
				continue;
			memcpy(mx, ans->rr[i].txt.p, l);
			mx[l] = '\0';
			if (!domain_ok(mx))
				continue;
			rc = match_name(ev, mx, t->cidr4, t->cidr6, true);
			if (rc == SPF_AGAIN) {
				again = true;
				continue;
			}
			if (rc != 0 && !again)
				return rc;
		}
		return again ? SPF_AGAIN : 0;
	}
	case SPF_M_PTR: {
		const char *names[SPF_MAX_PTR];
		int n = validated_names(ev, names, SPF_MAX_PTR);
		if (n == SPF_AGAIN)
			return n;
		for (int i = 0; i < n; i++)
			if (name_eq_or_sub(names[i], target))
				return 1;
		return 0;
	}
	case SPF_M_INCLUDE:
		rc = check_host(ev, target, depth + 1, true);
		switch (rc) {
		case SPF_AGAIN:
			return rc;
		case SPF_RES_PASS:
			return 1;
		case SPF_RES_FAIL:
		case SPF_RES_SOFTFAIL:
		case SPF_RES_NEUTRAL:
			return 0;
		case SPF_RES_TEMPERROR:
			return R(SPF_RES_TEMPERROR);
		default: /* 5.2: none and permerror are permerror */
			return R(
			    permerror(ev, "include gave none or permerror"));
		}
	default:
		return 0;
	}
}

/* 6.2: the explanation for a fail; NULL leaves the default. */
static int
explain(struct eval *ev, const struct spf_term *t, const char *domain,
    const char **expl)
{
	char target[256];
	const struct authres_answer *ans;
	int rc;
	struct buf b;

	*expl = NULL;
	rc = expand_domain(ev, t->arg, domain, target, sizeof(target));
	if (rc == SPF_AGAIN)
		return rc;
	if (rc < 0 || !domain_ok(target))
		return 0;
	if ((ans = lookup(ev, target, AUTHRES_TXT)) == NULL)
		return SPF_AGAIN;
	if (ans->status != AUTHRES_DNS_OK || ans->n != 1)
		return 0;
	buf_init(&b, 4096);
	rc = expand(ev, ans->rr[0].txt, domain, true, &b);
	if (rc == SPF_AGAIN) {
		buf_free(&b);
		return rc;
	}
	if (rc == 0) {
		bool ascii = true;
		for (size_t i = 0; i < b.len; i++)
			if (b.p[i] < 0x20 || b.p[i] > 0x7e)
				ascii = false;
		if (ascii)
			*expl = arena_strndup(ev->a, (const char *)b.p, b.len);
	}
	buf_free(&b);
	return 0;
}

static int
default_explanation(struct eval *ev, const char *domain)
{
	const char *d =
	    ev->req->default_exp ? ev->req->default_exp : SPF_DEFAULT_EXP;
	struct buf b;
	int rc;

	buf_init(&b, 4096);
	rc = expand(ev, bstr_cstr(d), domain, true, &b);
	if (rc == SPF_AGAIN) {
		buf_free(&b);
		return rc;
	}
	ev->explanation =
	    rc == 0 ? arena_strndup(ev->a, (const char *)b.p, b.len) : d;
	buf_free(&b);
	return 0;
}

static int
check_host(struct eval *ev, const char *domain, int depth, bool in_include)
{
	const struct authres_answer *ans;
	struct spf_record *rec = NULL;
	const char *why;
	int found = 0, rc;
	size_t which = 0;

	if (depth > SPF_MAX_DEPTH)
		return permerror(ev, "nesting too deep");
	/* 4.3: a malformed or single-label domain gives none. */
	if (!domain_ok(domain))
		return SPF_RES_NONE;
	if ((ans = lookup(ev, domain, AUTHRES_TXT)) == NULL)
		return SPF_AGAIN;
	if (dns_error(ans))
		return temperror(ev, "DNS error looking up the record");
	if (depth > 0 && void_over(ev, ans))
		return SPF_RES_PERMERROR;
	/* 4.5: exactly one record starting with "v=spf1". */
	for (size_t i = 0; i < ans->n; i++)
		if (spf_is_record(ans->rr[i].txt)) {
			found++;
			which = i;
		}
	if (found == 0)
		return SPF_RES_NONE;
	if (found > 1)
		return permerror(ev, "more than one SPF record");
	rc = spf_record_parse(ev->a, ans->rr[which].txt, &rec, &why);
	if (rc == -ENOMEM) {
		ev->nomem = true;
		return SPF_AGAIN;
	}
	if (rc < 0)
		return permerror(ev, why);
	/* 3.1 / 4.5: the record must be ASCII ("\x80" cases). */
	for (size_t i = 0; i < ans->rr[which].txt.len; i++)
		if (ans->rr[which].txt.p[i] > 0x7e)
			return permerror(ev, "non-ASCII record");

	for (size_t i = 0; i < rec->n; i++) {
		const struct spf_term *t = &rec->t[i];
		if (t->mech == SPF_M_MODIFIER)
			continue;
		rc = mechanism(ev, t, domain, depth);
		if (rc == SPF_AGAIN)
			return rc;
		if (rc <= R(0))
			return -(rc + 200);
		if (rc == 0)
			continue;
		if (ev->mechanism == NULL || depth == 0) {
			static const char *const names[] = { "all", "include",
				"a", "mx", "ptr", "ip4", "ip6", "exists", "" };
			ev->mechanism = names[t->mech];
		}
		switch (t->qual) {
		case '-':
			if (!in_include && rec->exp >= 0) {
				const char *e;
				rc = explain(ev, &rec->t[rec->exp], domain, &e);
				if (rc == SPF_AGAIN)
					return rc;
				ev->explanation = e;
			}
			if (!in_include && ev->explanation == NULL &&
			    (rc = default_explanation(ev, domain)) == SPF_AGAIN)
				return rc;
			return SPF_RES_FAIL;
		case '~':
			return SPF_RES_SOFTFAIL;
		case '?':
			return SPF_RES_NEUTRAL;
		default:
			return SPF_RES_PASS;
		}
	}
	if (rec->redirect >= 0) {
		char target[256];
		if (lookup_over(ev))
			return SPF_RES_PERMERROR;
		rc = expand_domain(ev, rec->t[rec->redirect].arg, domain,
		    target, sizeof(target));
		if (rc == SPF_AGAIN)
			return rc;
		if (rc < 0)
			return permerror(ev, "bad macro in redirect");
		/* 6.1: the redirect's own exp applies, not ours. */
		rc = check_host(ev, target, depth + 1, in_include);
		if (rc == SPF_RES_NONE)
			return permerror(
			    ev, "redirect to a domain without SPF");
		return rc;
	}
	if (depth == 0)
		ev->mechanism = "default";
	return SPF_RES_NEUTRAL; /* 4.7 */
}

/* spf_check - check_host() for the identity in req */
int
spf_check(struct arena *a, const struct spf_req *req, struct authres_dns *dns,
    struct spf_out *out)
{
	struct eval ev = { .a = a, .dns = dns, .req = req, .ip = req->ip };
	const char *s = req->sender, *at;
	char *sender, *local, *domain;
	int rc;

	memset(out, 0, sizeof(*out));
	/* An IPv4-mapped IPv6 client is the IPv4 client (RFC 4291 2.5.5). */
	if (ev.ip.family == AF_INET6) {
		static const unsigned char pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0xff, 0xff };
		if (memcmp(ev.ip.a, pfx, 12) == 0) {
			memmove(ev.ip.a, ev.ip.a + 12, 4);
			memset(ev.ip.a + 4, 0, 12);
			ev.ip.family = AF_INET;
		}
	}
	/* 2.4: a null reverse-path is checked as postmaster@helo. */
	const char *helo = req->helo ? req->helo : "";
	if (req->identity == SPF_ID_HELO || s == NULL || *s == '\0') {
		size_t n = strlen(helo) + 12;
		if ((sender = arena_alloc(a, n)) == NULL)
			return -ENOMEM;
		snprintf(sender, n, "postmaster@%s", helo);
	} else if ((at = strrchr(s, '@')) == NULL || at == s) {
		/* 4.3: no local-part: "postmaster". */
		const char *d = at ? at + 1 : s;
		size_t n = strlen(d) + 12;
		if ((sender = arena_alloc(a, n)) == NULL)
			return -ENOMEM;
		snprintf(sender, n, "postmaster@%s", d);
	} else if ((sender = arena_strndup(a, s, strlen(s))) == NULL)
		return -ENOMEM;
	at = strrchr(sender, '@');
	local = arena_strndup(a, sender, (size_t)(at - sender));
	domain = arena_strndup(a, at + 1, strlen(at + 1));
	if (local == NULL || domain == NULL)
		return -ENOMEM;
	ev.sender = sender;
	ev.local = local;
	ev.sdomain = domain;
	out->sender = sender;
	out->domain = domain;

	rc = check_host(&ev, domain, 0, false);
	if (ev.nomem)
		return -ENOMEM;
	if (rc == SPF_AGAIN)
		return -EAGAIN;
	out->result = (enum spf_result)rc;
	out->mechanism = rc == SPF_RES_PASS || rc == SPF_RES_FAIL ||
		rc == SPF_RES_SOFTFAIL || rc == SPF_RES_NEUTRAL
	    ? ev.mechanism
	    : NULL;
	out->explanation = rc == SPF_RES_FAIL ? ev.explanation : NULL;
	out->problem = rc == SPF_RES_PERMERROR || rc == SPF_RES_TEMPERROR
	    ? ev.problem
	    : NULL;
	out->lookups = ev.lookups;
	out->void_lookups = ev.voids;
	return 0;
}

/* Received-SPF (9.1) ----------------------------------------------------- */

/* A key=value pair value: a dot-atom or a quoted-string. */
static int
kv(struct buf *o, const char *key, const char *v)
{
	bool atom = *v != '\0';
	int rc;

	for (const char *p = v; *p; p++)
		if (!is_alnum((unsigned char)*p) &&
		    !strchr("!#$%&'*+-/=?^_`{|}~.", *p))
			atom = false;
	if (atom)
		return buf_printf(o, " %s=%s;", key, v);
	if ((rc = buf_printf(o, " %s=\"", key)) < 0)
		return rc;
	for (const char *p = v; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c > 0x7e)
			c = '?';
		if ((c == '"' || c == '\\') && (rc = buf_putc(o, '\\')) < 0)
			return rc;
		if ((rc = buf_putc(o, c)) < 0)
			return rc;
	}
	return buf_puts(o, "\";");
}

/* spf_received_header - "pass (comment) key=value; ..." */
int
spf_received_header(
    struct buf *o, const struct spf_req *req, const struct spf_out *r)
{
	static const char *const word[] = { "None", "Neutral", "Pass", "Fail",
		"Softfail", "Temperror", "Permerror" };
	const char *id = req->identity == SPF_ID_HELO ? "helo" : "mailfrom";
	const char *rcv = req->receiver ? req->receiver : "unknown";
	const char *from = req->sender && *req->sender ? req->sender : "<>";
	char ip[64];
	int rc;

	/* policyd-spf's shape: "Pass (mailfrom) identity=mailfrom;
	 * client-ip=...; helo=...; envelope-from=...; receiver=...", the
	 * comment "no SPF record" for none and the reason for errors. */
	netaddr_str(&req->ip, ip, sizeof(ip));
	if (r->result == SPF_RES_NONE)
		rc = buf_printf(o, "None (no SPF record)");
	else if (r->problem &&
	    (r->result == SPF_RES_TEMPERROR || r->result == SPF_RES_PERMERROR))
		rc = buf_printf(
		    o, "%s (%s: %s)", word[r->result], id, r->problem);
	else
		rc = buf_printf(o, "%s (%s)", word[r->result % 7], id);
	if (rc < 0)
		return rc;
	if ((rc = kv(o, "identity", id)) < 0 ||
	    (rc = kv(o, "client-ip", ip)) < 0 ||
	    (rc = kv(o, "helo", req->helo ? req->helo : "")) < 0 ||
	    (rc = kv(o, "envelope-from", from)) < 0 ||
	    (rc = kv(o, "receiver", rcv)) < 0 ||
	    (r->mechanism && (rc = kv(o, "mechanism", r->mechanism)) < 0))
		return rc;
	o->len--; /* no ';' after the last pair */
	return 0;
}
