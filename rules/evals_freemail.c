/*
 * rules/evals_freemail - SpamAssassin's FreeMail plugin (FreeMail.pm):
 * check_freemail_header, _from, _body, _replyto, and its settings
 * (freemail_domains, freemail_welcomelist/_whitelist, freemail_import_*,
 * freemail_max_body_emails ...) read from the rule files like SA reads
 * them from its .cf files
 *
 * The Perl plugin is the specification; each function names the sub it
 * follows and any deliberate difference. Addresses are matched with
 * FreeMail.pm's own regexes (evals_hdr.c's table, RX_FM_*). Memory: the
 * domain lists belong to the rule set (rule__hdr_conf_free); per-message
 * values (the body's freemail addresses) come from the message arena.
 */
#include "rules/rules_int.h"
#include "rules/evals_hdr_int.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mail/msg.h"
#include "util/arena.h"
#include "util/buf.h"

#define arg rule__eval_arg
#define argnum rule__eval_argnum
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define FM_SET_MAX_EMAILS 0x01u
#define FM_SET_MAX_FREEMAILS 0x02u
#define FM_SET_SKIP_OVER_MAX 0x04u
#define FM_SET_SKIP_BULK 0x08u
#define FM_MAX_BODY_EMAILS 40 /* _parse_body: "sanity" */
#define FM_MAX_URI_EMAILS 20

static int
strv_push(char ***v, size_t *n, size_t *cap, const char *s, size_t len)
{
	char *d;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		char **nv = realloc(*v, nc * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	if ((d = malloc(len + 1)) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		d[i] = (char)tolower((unsigned char)s[i]);
	d[len] = '\0';
	(*v)[(*n)++] = d;
	return 0;
}

/*
 * rule__hdr_conf - FreeMail.pm parse_config and set_config:
 * freemail_domains (a-z 0-9 . - with ? and * wildcards, lowercased),
 * freemail_welcomelist/_whitelist (an address or a domain), the numeric
 * freemail_* settings and freemail_import_(def_)welcomelist_auth. The
 * (def_)welcomelist_auth entries are noted for the import but stay
 * "ignored" for lint (false). A bad entry is a warning, the rest of the
 * line is taken.
 */
bool
rule__hdr_conf(struct rule_set *rs, const char *dir, const char *rest,
    const char *file, unsigned line)
{
	static const struct {
		const char *name;
		unsigned bit;
		size_t off;
	} nums[] = {
		{ "freemail_max_body_emails", FM_SET_MAX_EMAILS,
		    offsetof(struct rule__freemail, max_body_emails) },
		{ "freemail_max_body_freemails", FM_SET_MAX_FREEMAILS,
		    offsetof(struct rule__freemail, max_body_freemails) },
		{ "freemail_skip_when_over_max", FM_SET_SKIP_OVER_MAX,
		    offsetof(struct rule__freemail, skip_when_over_max) },
		{ "freemail_skip_bulk_envfrom", FM_SET_SKIP_BULK,
		    offsetof(struct rule__freemail, skip_bulk_envfrom) },
		{ "freemail_import_welcomelist_auth", 0,
		    offsetof(struct rule__freemail, import_auth) },
		{ "freemail_import_whitelist_auth", 0,
		    offsetof(struct rule__freemail, import_auth) },
		{ "freemail_import_def_welcomelist_auth", 0,
		    offsetof(struct rule__freemail, import_def_auth) },
		{ "freemail_import_def_whitelist_auth", 0,
		    offsetof(struct rule__freemail, import_def_auth) },
		{ "freemail_add_describe_email", 0, SIZE_MAX },
	};
	struct rule__freemail *fm = &rs->fm;
	bool is_dom = strcmp(dir, "freemail_domains") == 0;
	bool is_wl = strcmp(dir, "freemail_welcomelist") == 0 ||
	    strcmp(dir, "freemail_whitelist") == 0;
	bool is_auth = strcmp(dir, "welcomelist_auth") == 0 ||
	    strcmp(dir, "whitelist_auth") == 0;
	bool is_def_auth = strcmp(dir, "def_welcomelist_auth") == 0 ||
	    strcmp(dir, "def_whitelist_auth") == 0;

	for (size_t i = 0; i < NELEM(nums); i++) {
		char *end;
		double v;

		if (strcmp(dir, nums[i].name) != 0)
			continue;
		v = strtod(rest, &end);
		if (end == rest) {
			rule__diag(rs, RULE_DIAG_WARN, file, line,
			    "%s: not a number: %.40s", dir, rest);
			return true;
		}
		if (nums[i].off != SIZE_MAX) {
			*(double *)((char *)fm + nums[i].off) = v;
			fm->set |= nums[i].bit;
		}
		return true;
	}
	if (!is_dom && !is_wl && !is_auth && !is_def_auth)
		return false;
	for (const char *p = rest; *p != '\0';) {
		const char *w;
		size_t len;
		int rc = 0;

		while (isspace((unsigned char)*p))
			p++;
		w = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		if ((len = (size_t)(p - w)) == 0)
			break;
		if (is_dom) {
			bool ok = true, wild = false;

			for (size_t i = 0; i < len; i++) {
				unsigned char ch = (unsigned char)w[i];

				if (ch == '*' || ch == '?')
					wild = true;
				else if (!isalnum(ch) && ch != '.' && ch != '-')
					ok = false;
			}
			if (!ok)
				rule__diag(rs, RULE_DIAG_WARN, file, line,
				    "freemail: invalid freemail_domains: %.*s",
				    (int)len, w);
			else if (wild)
				rc = strv_push(&fm->wild, &fm->nwild,
				    &fm->capwild, w, len);
			else
				rc = strv_push(&fm->dom, &fm->ndom,
				    &fm->capdom, w, len);
		} else if (is_wl) {
			/* SA: /\w[.@]\w/ */
			bool ok = false;

			for (size_t i = 1; i + 1 < len && !ok; i++)
				ok = (w[i] == '.' || w[i] == '@') &&
				    rule__eh_is_word((unsigned char)w[i - 1]) &&
				    rule__eh_is_word((unsigned char)w[i + 1]);
			if (!ok)
				rule__diag(rs, RULE_DIAG_WARN, file, line,
				    "freemail: invalid freemail_welcomelist: "
				    "%.*s",
				    (int)len, w);
			else
				rc = strv_push(&fm->welcome, &fm->nwelcome,
				    &fm->capwelcome, w, len);
		} else {
			size_t cap = fm->capauth;

			/* welcomelist_auth ADDR...: globs; only the
			 * addresses, no "rcvd" forms in these lines */
			if ((rc = strv_push(&fm->auth, &fm->nauth,
				 &fm->capauth, w, len)) == 0 &&
			    cap != fm->capauth) {
				bool *nd = realloc(fm->auth_def,
				    fm->capauth * sizeof(*nd));

				if (nd == NULL)
					rc = -ENOMEM;
				else
					fm->auth_def = nd;
			}
			if (rc == 0)
				fm->auth_def[fm->nauth - 1] = is_def_auth;
		}
		if (rc < 0) {
			rule__diag(rs, RULE_DIAG_ERROR, file, line,
			    "%s: out of memory", dir);
			break;
		}
	}
	return is_dom || is_wl;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* rule__hdr_conf_finish - FreeMail finish_parsing_end: domains sorted
 * for lookup, the wildcards as one regex (. literal, ? one character,
 * * a run without dots) */
int
rule__hdr_conf_finish(struct rule_set *rs)
{
	struct rule__freemail *fm = &rs->fm;
	struct buf b;
	int err;
	PCRE2_SIZE off;

	if (fm->ndom > 1)
		qsort(fm->dom, fm->ndom, sizeof(*fm->dom), cmp_str);
	pcre2_code_free(fm->wild_re);
	fm->wild_re = NULL;
	if (fm->nwild == 0)
		return 0;
	buf_init(&b, 1u << 20);
	if (buf_puts(&b, "\\@(?:") < 0)
		goto nomem;
	for (size_t i = 0; i < fm->nwild; i++) {
		if (i > 0 && buf_putc(&b, '|') < 0)
			goto nomem;
		for (const char *p = fm->wild[i]; *p; p++)
			if ((*p == '.' ? buf_puts(&b, "\\.")
				: *p == '?' ? buf_putc(&b, '.')
				: *p == '*' ? buf_puts(&b, "[^.]*")
					    : buf_putc(&b, *p)) < 0)
				goto nomem;
	}
	if (buf_puts(&b, ")$") < 0)
		goto nomem;
	fm->wild_re = pcre2_compile(b.p, b.len, 0, &err, &off, NULL);
	buf_free(&b);
	return fm->wild_re != NULL ? 0 : -EINVAL;
nomem:
	buf_free(&b);
	return -ENOMEM;
}

static void
strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
rule__hdr_conf_free(struct rule_set *rs)
{
	struct rule__freemail *fm = &rs->fm;

	strv_free(fm->dom, fm->ndom);
	strv_free(fm->wild, fm->nwild);
	strv_free(fm->welcome, fm->nwelcome);
	strv_free(fm->auth, fm->nauth);
	free(fm->auth_def);
	pcre2_code_free(fm->wild_re);
	memset(fm, 0, sizeof(*fm));
}

static double
fm_num(const struct rule__freemail *fm, unsigned bit, double v, double def)
{
	return fm->set & bit ? v : def;
}

/* glob_match - an address against a welcomelist_auth glob (SA: * any
 * run, ? one character, case-insensitive, whole string) */
static bool
glob_match(const char *g, struct bstr s)
{
	for (size_t i = 0;; g++, i++) {
		if (*g == '*') {
			while (*g == '*')
				g++;
			for (size_t k = i; k <= s.len; k++)
				if (glob_match(g, bstr_sub(s, k, s.len)))
					return true;
			return false;
		}
		if (i == s.len)
			return *g == '\0';
		if (*g == '\0' ||
		    (*g != '?' &&
			tolower((unsigned char)*g) != tolower(s.p[i])))
			return false;
	}
}

/* fm_domain_listed - the lowercased domain is a freemail_domains entry */
static bool
fm_domain_listed(const struct rule__freemail *fm, struct bstr d)
{
	size_t lo = 0, hi = fm->ndom;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *e = fm->dom[mid];
		size_t el = strlen(e), n = el < d.len ? el : d.len;
		int k = memcmp(e, d.p, n);

		if (k == 0)
			k = el < d.len ? -1 : el > d.len;
		if (k == 0)
			return true;
		if (k < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool
fm_welcome(const struct rule__freemail *fm, struct bstr s)
{
	for (size_t i = 0; i < fm->nwelcome; i++)
		if (bstr_eq(s, bstr_cstr(fm->welcome[i])))
			return true;
	return false;
}

/* is_freemail - FreeMail _is_freemail on a lowercased address: not
 * welcomelisted (address, domain, the built-in local parts, imported
 * welcomelist_auth entries) and a listed or wildcard domain. Difference:
 * SA's import loop matches with /$regexp/o, i.e. its first entry only;
 * here every entry counts. */
static bool
is_freemail(struct rule_ctx *c, struct bstr e)
{
	const struct rule__freemail *fm = &c->rs->fm;
	struct rule__hdr_state *st = rule__eh_state(c);
	struct bstr dom = e;

	if (e.len == 0 || st == NULL)
		return false;
	for (size_t i = e.len; i > 0; i--)
		if (e.p[i - 1] == '@') {
			dom = bstr_sub(e, i, e.len);
			break;
		}
	if (fm_welcome(fm, e) || fm_welcome(fm, dom) ||
	    rule__eh_match(c, RX_FM_WELCOME, e))
		return false;
	/* welcomelist_auth entries count only when imported (SA's
	 * freemail_import_*welcomelist_auth, off by default): the stock
	 * list is long, walked per address otherwise */
	for (size_t i = 0;
	     (fm->import_def_auth != 0 || fm->import_auth != 0) && i < fm->nauth;
	     i++)
		if ((fm->auth_def[i] ? fm->import_def_auth : fm->import_auth) !=
			0 &&
		    glob_match(fm->auth[i], e))
			return false;
	if (fm_domain_listed(fm, dom))
		return true;
	return fm->wild_re != NULL &&
	    pcre2_match(fm->wild_re, e.p, e.len, 0, 0, st->md, c->rs->mctx) >=
	    0;
}


/* email_find - the leftmost FreeMail email_regex match in s from off
 * whose TLD is valid (RX_FM_EMAIL or RX_FM_STRIP_EMAIL); the whole match
 * in [*a, *b), the address in *email */
static bool
email_find(struct rule_ctx *c, enum rx_id id, struct bstr s, size_t off,
    size_t *a, size_t *b, struct bstr *email)
{
	PCRE2_SIZE *ov;

	while (off <= s.len && rule__eh_rx_match(c, id, s, off, &ov)) {
		if (msg_tld_valid(rule__eh_rx_group(ov, s, 2))) {
			*a = ov[0];
			*b = ov[1];
			*email = rule__eh_rx_group(ov, s, 1);
			return true;
		}
		off = ov[0] + 1; /* the next start, as the regex would */
	}
	return false;
}

/* strip - s with every match of pattern id (email ones with a valid TLD)
 * made one space (s{...}{ }gi) */
static struct bstr
strip(struct rule_ctx *c, enum rx_id id, struct bstr s)
{
	unsigned char *o = NULL;
	size_t n = 0, off = 0, a, b;
	PCRE2_SIZE *ov;
	struct bstr e;

	for (;;) {
		if (id == RX_FM_STRIP_EMAIL) {
			if (!email_find(c, id, s, off, &a, &b, &e))
				break;
		} else {
			if (!rule__eh_rx_match(c, id, s, off, &ov))
				break;
			a = ov[0];
			b = ov[1];
		}
		if (o == NULL && (o = arena_alloc(c->arena, s.len + 1)) == NULL)
			return s;
		memcpy(o + n, s.p + off, a - off);
		n += a - off;
		o[n++] = ' ';
		if (b == a) { /* an empty match: step over one byte */
			if (b < s.len)
				o[n++] = s.p[b];
			b++;
		}
		off = b;
		if (off > s.len)
			break;
	}
	if (o == NULL)
		return s;
	if (off < s.len) {
		memcpy(o + n, s.p + off, s.len - off);
		n += s.len - off;
	}
	return bstr_make(o, n);
}

static bool
fm_add(struct rule_ctx *c, struct bstr *v, size_t *n, struct bstr e)
{
	e = rule__eh_lc(c, e);
	for (size_t i = 0; i < *n; i++)
		if (bstr_eq(v[i], e))
			return false;
	v[(*n)++] = e;
	return true;
}

/* fm_body - FreeMail _parse_body: addresses of <a href="mailto:"> links
 * (not seen in the text) and of the body text with URLs holding an '@'
 * and <address> / "address wrote:" forms removed; too many addresses or
 * freemail addresses (freemail_max_body_emails/_freemails) and the body
 * is skipped (false). The freemail ones are kept in the state. */
static bool
fm_body(struct rule_ctx *c)
{
	struct rule__hdr_state *st = rule__eh_state(c);
	const struct rule__freemail *fm = &c->rs->fm;
	struct bstr all[FM_MAX_BODY_EMAILS], e;
	size_t nall = 0, nu, nl, a, b, count_fm = 0;
	const struct msg_uri *u;
	const struct bstr *l;
	double max_all, max_fm;
	bool skip_over;

	if (st == NULL)
		return false;
	if (st->fm_body_done)
		return !st->fm_skip_body;
	st->fm_body_done = true;
	u = msg_uris(c->msg, &nu);
	for (size_t i = 0; u != NULL && i < nu && nall < FM_MAX_URI_EMAILS;
	     i++) {
		if (!(u[i].flags & MSG_URI_HREF) || (u[i].flags & MSG_URI_TEXT) ||
		    !bstr_casestarts(u[i].raw, "mailto:"))
			continue;
		if (email_find(c, RX_FM_EMAIL, u[i].raw, 7, &a, &b, &e) &&
		    a == 7)
			fm_add(c, all, &nall, e);
	}
	l = msg_body_lines(c->msg, &nl);
	for (size_t i = 0; l != NULL && i < nl && nall < FM_MAX_BODY_EMAILS;
	     i++) {
		struct bstr t = strip(c, RX_FM_STRIP_EMAIL,
		    strip(c, RX_FM_STRIP_URL, l[i]));
		size_t off = 0;

		while (nall < FM_MAX_BODY_EMAILS &&
		    email_find(c, RX_FM_EMAIL, t, off, &a, &b, &e)) {
			fm_add(c, all, &nall, e);
			off = b > a ? b : a + 1;
		}
	}
	max_all = fm_num(fm, FM_SET_MAX_EMAILS, fm->max_body_emails, 5);
	max_fm = fm_num(fm, FM_SET_MAX_FREEMAILS, fm->max_body_freemails, 3);
	skip_over =
	    fm_num(fm, FM_SET_SKIP_OVER_MAX, fm->skip_when_over_max, 1) != 0;
	if ((st->fm_body = arena_alloc(c->arena,
		 (nall + 1) * sizeof(*st->fm_body))) == NULL)
		return false;
	for (size_t i = 0; i < nall; i++) {
		if ((double)(i + 1) == max_all && skip_over) {
			st->fm_skip_body = true;
			return false;
		}
		if (!is_freemail(c, all[i]))
			continue;
		if ((double)++count_fm == max_fm && skip_over) {
			st->fm_skip_body = true;
			return false;
		}
		st->fm_body[st->nfm_body++] = all[i];
	}
	return true;
}

/* fm_regex - the optional regex argument (SA compile_regexp: as is) */
static pcre2_code *
fm_regex(const struct rule *r, size_t i, bool *bad)
{
	const char *re = arg(r, i);
	int err;
	PCRE2_SIZE off;
	pcre2_code *code;

	*bad = false;
	if (re == NULL)
		return NULL;
	code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &err,
	    &off, NULL);
	*bad = code == NULL;
	return code;
}

static bool
re_ok(struct rule_ctx *c, pcre2_code *re, struct bstr s)
{
	return re == NULL ||
	    pcre2_match(re, s.p, s.len, 0, 0, c->hdr->md, c->rs->mctx) >= 0;
}

/* hdr_addrs - list rule__eh_get("name:addr") lowercased; name may carry :addr
 * already, EnvelopeFrom is the envelope sender */
static size_t
hdr_addrs(struct rule_ctx *c, const char *name, struct bstr *v, size_t max)
{
	char h[128];
	size_t len = strlen(name), n, k = 0;
	const struct msg_addr *a;

	if (len >= sizeof(h))
		return 0;
	memcpy(h, name, len + 1);
	while (len > 5 && strcmp(h + len - 5, ":addr") == 0)
		h[len -= 5] = '\0';
	if (strcmp(h, "EnvelopeFrom") == 0) {
		struct bstr e = rule__eh_envfrom(c);

		if (e.len > 0 && max > 0)
			v[k++] = rule__eh_lc(c, e);
		return k;
	}
	a = msg_addrs(c->msg, h, &n);
	for (size_t i = 0; a != NULL && i < n && k < max; i++)
		if (a[i].addr.len > 0)
			v[k++] = rule__eh_lc(c, a[i].addr);
	return k;
}

#define FM_MAX_ADDRS 64

/* check_freemail_header(header [, regex]) - FreeMail: an address of the
 * header is freemail (and matches the regex) */
static int
ev_freemail_header(struct rule_ctx *c, const struct rule *r)
{
	struct bstr v[FM_MAX_ADDRS];
	size_t n;
	bool bad;
	pcre2_code *re;
	int hit = 0;

	if (arg(r, 0) == NULL || c->rs->fm.ndom + c->rs->fm.nwild == 0 ||
	    rule__eh_state(c) == NULL)
		return 0;
	if ((n = hdr_addrs(c, arg(r, 0), v, FM_MAX_ADDRS)) == 0)
		return 0;
	re = fm_regex(r, 1, &bad);
	for (size_t i = 0; !bad && i < n && !hit; i++)
		hit = is_freemail(c, v[i]) && re_ok(c, re, v[i]);
	pcre2_code_free(re);
	return hit;
}

/* check_freemail_from([regex]) - FreeMail on PerMsgStatus all_from_addrs:
 * the first Resent-From's addresses, else those of From, Envelope-Sender,
 * Resent-Sender, X-Envelope-From and the envelope sender (runs of dots
 * squeezed) */
static int
ev_freemail_from(struct rule_ctx *c, const struct rule *r)
{
	static const char *const hdrs[] = { "From", "Envelope-Sender",
		"Resent-Sender", "X-Envelope-From", "EnvelopeFrom" };
	struct bstr v[FM_MAX_ADDRS];
	size_t n = 0;
	bool bad;
	pcre2_code *re;
	int hit = 0;

	if (c->rs->fm.ndom + c->rs->fm.nwild == 0 || rule__eh_state(c) == NULL)
		return 0;
	{
		const struct msg_header *h =
		    msg_header_get(c->msg, "Resent-From", 0);
		struct msg_addr *a;
		size_t na;

		if (h != NULL && msg_addr_parse(c->arena, h->raw, &a, &na) == 0)
			for (size_t i = 0; i < na && n < FM_MAX_ADDRS; i++)
				if (a[i].addr.len > 0)
					v[n++] = rule__eh_lc(c, a[i].addr);
	}
	for (size_t k = 0; n == 0 && k < NELEM(hdrs); k++) {
		size_t m = hdr_addrs(c, hdrs[k], v + n, FM_MAX_ADDRS - n);

		for (size_t i = n; i < n + m; i++) {
			/* tr/././s */
			unsigned char *o = arena_alloc(c->arena, v[i].len);
			size_t len = 0;

			if (o == NULL)
				continue;
			for (size_t j = 0; j < v[i].len; j++)
				if (!(v[i].p[j] == '.' && len > 0 &&
					o[len - 1] == '.'))
					o[len++] = v[i].p[j];
			v[i] = bstr_make(o, len);
		}
		n += m;
		if (k == 0 && n == FM_MAX_ADDRS)
			break;
	}
	re = fm_regex(r, 0, &bad);
	for (size_t i = 0; !bad && i < n && !hit; i++)
		hit = is_freemail(c, v[i]) && re_ok(c, re, v[i]);
	pcre2_code_free(re);
	return hit;
}

/* check_freemail_body([regex]) - FreeMail: a freemail address in the
 * body */
static int
ev_freemail_body(struct rule_ctx *c, const struct rule *r)
{
	bool bad;
	pcre2_code *re;
	int hit = 0;

	if (c->rs->fm.ndom + c->rs->fm.nwild == 0 || !fm_body(c))
		return 0;
	re = fm_regex(r, 0, &bad);
	for (size_t i = 0; !bad && i < c->hdr->nfm_body && !hit; i++)
		hit = re_ok(c, re, c->hdr->fm_body[i]);
	pcre2_code_free(re);
	return hit;
}

/* check_freemail_replyto(['replyto'|'reply']) - FreeMail: From and
 * Reply-To are different freemail addresses, or a freemail Reply-To
 * ('reply': or From, when there is no Reply-To) differs from a freemail
 * address in the body; not for bulk-looking envelope senders */
static int
ev_freemail_replyto(struct rule_ctx *c, const struct rule *r)
{
	const struct rule__freemail *fm = &c->rs->fm;
	const char *what = arg(r, 0);
	struct bstr from[FM_MAX_ADDRS], rt[FM_MAX_ADDRS], *reply;
	size_t nf, nr, nreply;
	bool from_fm = false, rt_fm = false, not_in = true, replyto;

	if (what == NULL)
		what = "replyto";
	if (strcmp(what, "replyto") != 0 && strcmp(what, "reply") != 0)
		return 0;
	replyto = what[5] != '\0';
	if (fm->ndom + fm->nwild == 0 || rule__eh_state(c) == NULL)
		return 0;
	if (fm_num(fm, FM_SET_SKIP_BULK, fm->skip_bulk_envfrom, 1) != 0 &&
	    rule__eh_match(c, RX_FM_SKIP_ENVFROM, rule__eh_envfrom(c)))
		return 0;
	nf = hdr_addrs(c, "From", from, FM_MAX_ADDRS);
	nr = hdr_addrs(c, "Reply-To", rt, FM_MAX_ADDRS);
	for (size_t i = 0; i < nf; i++)
		from_fm |= is_freemail(c, from[i]);
	for (size_t i = 0; i < nr; i++)
		rt_fm |= is_freemail(c, rt[i]);
	for (size_t i = 0; i < nf; i++)
		for (size_t k = 0; k < nr; k++)
			if (bstr_eq(from[i], rt[k]))
				not_in = false;
	if (from_fm && rt_fm && not_in)
		return 1;
	/* 'reply': a Reply-To that is not freemail, or a From that is not
	 * (even with a freemail Reply-To: SA's elsif) ends it */
	if (replyto ? !rt_fm : (nr > 0 && !rt_fm) || !from_fm)
		return 0;
	if (!fm_body(c))
		return 0;
	reply = replyto || rt_fm ? rt : from;
	nreply = replyto || rt_fm ? nr : nf;
	for (size_t i = 0; i < c->hdr->nfm_body; i++)
		for (size_t k = 0; k < nreply; k++)
			if (!bstr_eq(c->hdr->fm_body[i], reply[k]))
				return 1;
	return 0;
}

static const char *const fm_replyto_args[] = { "replyto", "reply", NULL };

const struct rule__evalfn rule__evals_freemail[] = {
	{ "check_freemail_header", ev_freemail_header, NULL },
	{ "check_freemail_from", ev_freemail_from, NULL },
	{ "check_freemail_body", ev_freemail_body, NULL },
	{ "check_freemail_replyto", ev_freemail_replyto, fm_replyto_args },
	{ NULL, NULL, NULL },
};
