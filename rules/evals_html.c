/*
 * rules/evals_html - SpamAssassin's HTML, MIME and body evals computed
 * from the message model: HTMLEval.pm, MIMEEval.pm, BodyEval.pm
 *
 * The HTML evals read SA's per-part results (msg_html_parts: what
 * Mail::SpamAssassin::HTML puts in html_all) and, like SA, fire when one
 * HTML part passes. Each function returns the hit count (0 or 1); a
 * missing or malformed argument makes the rule not fire, as SA's checks
 * on its arguments do. Nothing here allocates except html_text_match's
 * pattern, compiled and freed per call.
 */
#include "rules/rules_int.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/msg.h"

#define arg rule__eval_arg
#define argnum rule__eval_argnum

/* HTMLEval --------------------------------------------------------------- */

static const struct msg_html_part *
html_parts(struct rule_ctx *c, size_t *n)
{
	const struct msg_html_part *v = msg_html_parts(c->msg, n);

	if (v == NULL)
		*n = 0;
	return v;
}

/* The numeric results of SA's HTML.pm by name; false when SA would not
 * have the key (a ratio over zero tags, no obfuscation seen ...). */
static bool
html_value(const struct msg_html_part *h, const char *k, double *v)
{
	if (strcmp(k, "length") == 0)
		*v = (double)h->length;
	else if (strcmp(k, "html_length") == 0)
		*v = (double)h->html_length;
	else if (strcmp(k, "non_space_len") == 0)
		*v = (double)h->non_space_len;
	else if (strcmp(k, "image_area") == 0)
		*v = (double)h->image_area;
	else if (strcmp(k, "max_size") == 0)
		*v = h->max_size;
	else if (strcmp(k, "min_size") == 0)
		*v = h->min_size;
	else if (strcmp(k, "closed_extra_ratio") == 0 && h->tags > 0)
		*v = (double)h->closed_extra / h->tags;
	else if (strcmp(k, "bad_tag_ratio") == 0 && h->tags > 0 &&
	    h->elements > 0)
		*v = (double)(h->tags - h->elements) / h->tags;
	else if (strcmp(k, "non_element_ratio") == 0 && h->tags_seen > 0 &&
	    h->elements_seen > 0)
		*v = (double)(h->tags_seen - h->elements_seen) / h->tags_seen;
	else if (strcmp(k, "obfuscation_ratio") == 0 && h->tags > 0 &&
	    h->obfuscation > 0)
		*v = (double)h->obfuscation / h->tags;
	else
		return false;
	return true;
}

static const char *const html_values[] = { "length", "html_length",
	"non_space_len", "image_area", "max_size", "min_size",
	"closed_extra_ratio", "bad_tag_ratio", "non_element_ratio",
	"obfuscation_ratio", NULL };

static const struct {
	const char *name;
	unsigned flag;
} html_flags[] = {
	{ "font_face_bad", MSG_HTML_FONT_FACE_BAD },
	{ "font_invalid_color", MSG_HTML_FONT_INVALID_COLOR },
	{ "font_low_contrast", MSG_HTML_FONT_LOW_CONTRAST },
	{ "form_action_mailto", MSG_HTML_FORM_ACTION_MAILTO },
	{ "embeds", MSG_HTML_EMBEDS },
	{ "uri_truncated", MSG_HTML_URI_TRUNCATED },
};

/* html_test(name) - SA HTMLEval::html_test: a true result in one part.
 * "html" is set for every HTML part; anchor_mismatch (not an SA result,
 * kept for rules/default) counts <a> texts naming another domain. */
static int
ev_html_test(struct rule_ctx *c, const struct rule *r)
{
	const char *t = arg(r, 0);
	size_t n;
	const struct msg_html_part *v = html_parts(c, &n);
	double x;

	if (t == NULL)
		return 0;
	if (strcmp(t, "anchor_mismatch") == 0) {
		const struct msg_html *h = msg_html(c->msg);

		return h != NULL && h->anchor_mismatch > 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(t, "html") == 0)
			return 1;
		for (size_t k = 0; k < sizeof(html_flags) / sizeof(html_flags[0]);
		     k++)
			if (strcmp(t, html_flags[k].name) == 0 &&
			    (v[i].flags & html_flags[k].flag))
				return 1;
		if (html_value(&v[i], t, &x) && x != 0)
			return 1;
	}
	return 0;
}

/* html_range(name, min, max) - SA: min < value <= max in one part; max
 * "inf" or absent: value > min */
static int
ev_html_range(struct rule_ctx *c, const struct rule *r)
{
	const char *t = arg(r, 0), *mx = arg(r, 2);
	size_t n;
	const struct msg_html_part *v = html_parts(c, &n);
	double min = argnum(r, 1, NAN), max, x;
	bool inf = mx == NULL || strcmp(mx, "inf") == 0;

	if (t == NULL || isnan(min))
		return 0;
	max = inf ? 0 : argnum(r, 2, NAN);
	if (!inf && isnan(max))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!html_value(&v[i], t, &x))
			continue;
		if (x > min && (inf || x <= max))
			return 1;
	}
	return 0;
}

/* SA evaluates "$val $expr" in Perl, expr matching [<>=!\-+ 0-9]+; the
 * stock rules write "OP NUMBER", which is what this reads */
static bool
expr_true(double val, const char *e)
{
	char op[3] = { 0 };
	size_t k = 0;
	char *end;
	double num;

	while (*e == ' ')
		e++;
	while (k < 2 && (*e == '<' || *e == '>' || *e == '=' || *e == '!'))
		op[k++] = *e++;
	if (strspn(e, "<>=!") || k == 0)
		return false;
	num = strtod(e, &end);
	if (end == e)
		return false;
	while (*end == ' ')
		end++;
	if (*end != '\0')
		return false;
	if (!strcmp(op, "<"))
		return val < num;
	if (!strcmp(op, "<="))
		return val <= num;
	if (!strcmp(op, ">"))
		return val > num;
	if (!strcmp(op, ">="))
		return val >= num;
	if (!strcmp(op, "=="))
		return val == num;
	if (!strcmp(op, "!="))
		return val != num;
	return false;
}

/* html_eval(name, expr) - SA: "value expr" holds in one part */
static int
ev_html_eval(struct rule_ctx *c, const struct rule *r)
{
	const char *t = arg(r, 0), *e = arg(r, 1);
	size_t n;
	const struct msg_html_part *v = html_parts(c, &n);
	double x;

	if (t == NULL || e == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (html_value(&v[i], t, &x) && expr_true(x, e))
			return 1;
	return 0;
}

static const struct msg_html_tag *
inside(const struct msg_html_part *h, const char *tag)
{
	size_t tl = strlen(tag);

	for (size_t k = 0; k < h->ninside; k++)
		if (h->inside[k].name.len == tl &&
		    memcmp(h->inside[k].name.p, tag, tl) == 0)
			return &h->inside[k];
	return NULL;
}

/* html_tag_exists(tag) - SA: the tag (start or end) occurs in one part */
static int
ev_html_tag_exists(struct rule_ctx *c, const struct rule *r)
{
	const char *t = arg(r, 0);
	size_t n;
	const struct msg_html_part *v = html_parts(c, &n);

	if (t == NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (inside(&v[i], t) != NULL)
			return 1;
	return 0;
}

/* html_tag_balance(tag, expr) - SA: starts minus ends of the tag (never
 * below 0) satisfy expr in one part where the tag occurs; tag must be
 * [a-zA-Z0-9]+ */
static int
ev_html_tag_balance(struct rule_ctx *c, const struct rule *r)
{
	const char *t = arg(r, 0), *e = arg(r, 1);
	size_t n;
	const struct msg_html_part *v = html_parts(c, &n);
	const struct msg_html_tag *it;

	if (t == NULL || e == NULL || *t == '\0' ||
	    strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789") != strlen(t))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((it = inside(&v[i], t)) != NULL &&
		    expr_true(it->count, e))
			return 1;
	return 0;
}

/* html_text_match(kind, re) - SA: one string of the part's comment,
 * title or anchor array matches the regex (Perl syntax, no flags: PCRE2
 * reads the stock patterns the same way) */
static int
ev_html_text_match(struct rule_ctx *c, const struct rule *r)
{
	const char *t = arg(r, 0), *re = arg(r, 1);
	size_t n;
	const struct msg_html_part *v = html_parts(c, &n);
	pcre2_code *code;
	pcre2_match_data *md;
	int err, hit = 0;
	PCRE2_SIZE off;

	if (t == NULL || re == NULL || n == 0)
		return 0;
	if ((code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0,
	    &err, &off, NULL)) == NULL)
		return 0;
	if ((md = pcre2_match_data_create_from_pattern(code, NULL)) == NULL) {
		pcre2_code_free(code);
		return 0;
	}
	for (size_t i = 0; i < n && !hit; i++) {
		const struct bstr *s = NULL;
		size_t ns = 0;

		if (strcmp(t, "comment") == 0) {
			s = v[i].comments;
			ns = v[i].ncomments;
		} else if (strcmp(t, "title") == 0) {
			s = v[i].titles;
			ns = v[i].ntitles;
		} else if (strcmp(t, "anchor") == 0) {
			s = v[i].anchors;
			ns = v[i].nanchors;
		}
		for (size_t k = 0; k < ns && !hit; k++)
			hit = pcre2_match(code, s[k].p ? s[k].p :
			    (PCRE2_SPTR) "", s[k].len, 0, 0, md,
			    c->rs->mctx) >= 0;
	}
	pcre2_match_data_free(md);
	pcre2_code_free(code);
	return hit;
}

/* html_title_subject_ratio(ratio) - SA: in one part the longest <title>
 * is more than ratio times as long as the Subject */
static int
ev_html_title_subject_ratio(struct rule_ctx *c, const struct rule *r)
{
	const struct msg_header *sh = msg_header_get(c->msg, "Subject", 0);
	double ratio = argnum(r, 0, NAN);
	size_t n;
	const struct msg_html_part *v = html_parts(c, &n);

	if (sh == NULL || sh->decoded.len == 0 || isnan(ratio))
		return 0;
	for (size_t i = 0; i < n; i++) {
		double max = 0;

		for (size_t k = 0; k < v[i].ntitles; k++) {
			double x = (double)v[i].titles[k].len /
			    (double)sh->decoded.len;

			if (x > max)
				max = x;
		}
		if (max > ratio)
			return 1;
	}
	return 0;
}

/* check_iframe_src() - SA: some HTML part has an <iframe src> URI */
static int
ev_check_iframe_src(struct rule_ctx *c, const struct rule *r)
{
	size_t n;
	const struct msg_html_part *v = html_parts(c, &n);

	(void)r;
	for (size_t i = 0; i < n; i++)
		if (v[i].flags & MSG_HTML_URI_IFRAME)
			return 1;
	return 0;
}

/* URIEval / HTTPSMismatch ------------------------------------------------- */

/* quad - /\d+\.\d+\.\d+\.\d+/ at s[i] (a prefix) */
static bool
quad(struct bstr s, size_t i)
{
	for (int k = 0; k < 4; k++) {
		size_t j = i;

		while (i < s.len && s.p[i] >= '0' && s.p[i] <= '9')
			i++;
		if (i == j)
			return false;
		if (k < 3) {
			if (i >= s.len || s.p[i] != '.')
				return false;
			i++;
		}
	}
	return true;
}

/* ip_link - SA's m%^https?:/{0,}(?:[^\@/]+\@)?\d+\.\d+\.\d+\.\d+%i, only
 * "https" when https */
static bool
ip_link(struct bstr s, bool https)
{
	size_t i = 4, j;

	if (s.len < 5 || strncasecmp((const char *)s.p, "http", 4) != 0)
		return false;
	if ((s.p[i] | 0x20) == 's')
		i++;
	else if (https)
		return false;
	if (i >= s.len || s.p[i++] != ':')
		return false;
	while (i < s.len && s.p[i] == '/')
		i++;
	for (j = i; j < s.len && s.p[j] != '@' && s.p[j] != '/'; j++)
		;
	if (j > i && j < s.len && s.p[j] == '@' && quad(s, j + 1))
		return true;
	return quad(s, i);
}

static bool
has_https(struct bstr s, size_t *at)
{
	for (size_t i = 0; i + 6 <= s.len; i++)
		if (strncasecmp((const char *)s.p + i, "https:", 6) == 0) {
			if (at != NULL)
				*at = i;
			return true;
		}
	return false;
}

/* check_https_ip_mismatch() - URIEval: an <a href> to an IP address
 * (http or https) whose anchor text says "https:" but is not itself an
 * https link to an IP address. SA walks uri_detail (anchor texts filed
 * under the canon_uri'd href), the same pairs as anchor_hrefs/anchors. */
static int
ev_https_ip_mismatch(struct rule_ctx *c, const struct rule *r)
{
	size_t n;
	const struct msg_html_part *v = html_parts(c, &n);

	(void)r;
	for (size_t i = 0; i < n; i++) {
		if (v[i].anchor_hrefs == NULL)
			continue;
		for (size_t k = 0; k < v[i].nanchors; k++)
			if (ip_link(v[i].anchor_hrefs[k], false) &&
			    !ip_link(v[i].anchors[k], true) &&
			    has_https(v[i].anchors[k], NULL))
				return 1;
	}
	return 0;
}

/* ipv4 - SA IS_IPV4_ADDRESS (the host has no ':' here, so no IPv6) */
static bool
ipv4(struct bstr s)
{
	size_t i = 0;

	for (int k = 0; k < 4; k++) {
		size_t j = i;
		unsigned v = 0;

		while (i < s.len && i - j < 3 && s.p[i] >= '0' && s.p[i] <= '9')
			v = v * 10 + (unsigned)(s.p[i++] - '0');
		if (i == j || v > 255 || (i - j > 1 && s.p[j] == '0'))
			return false;
		if (k < 3 && (i >= s.len || s.p[i++] != '.'))
			return false;
	}
	return i == s.len;
}

/* fqdn_valid - SA Util::is_fqdn_valid on a lowercase host */
static bool
fqdn_valid(struct bstr h)
{
	size_t nl = 1, cnt, st = 0;

	while (h.len && h.p[h.len - 1] == '.')
		h.len--;
	if (h.len > 253)
		return false;
	for (size_t i = 0; i < h.len; i++)
		nl += h.p[i] == '.';
	if (nl < 2)
		return false;
	cnt = nl;
	for (size_t i = 0; i <= h.len; i++) {
		if (i < h.len && h.p[i] != '.')
			continue;
		struct bstr l = bstr_make(h.p + st, i - st);

		if (l.len < 1 || l.len > 63 || l.p[0] == '-' ||
		    l.p[l.len - 1] == '-')
			return false;
		for (size_t k = 0; k < l.len; k++)
			if (!(islower(l.p[k]) || isdigit(l.p[k]) ||
			    l.p[k] == '-' || (l.p[k] == '_' && cnt > 2)))
				return false;
		cnt--;
		st = i + 1;
	}
	return true;
}

/* href_domain - HTTPSMismatch's reading of a uri_detail key: the host of
 * ^https?://([^/:?#]+), skipped when an IP address, trim_domain'd, then
 * RegistryBoundaries uri_to_domain (port/user stripped, fqdn and TLD
 * checked, "%xx" of a printable char refused) and is_domain_valid;
 * empty when SA's $uri is undef */
static struct bstr
href_domain(struct rule_ctx *c, struct bstr k)
{
	size_t i, j;
	struct bstr h, t;
	const unsigned char *o;

	if (k.len < 8 || strncasecmp((const char *)k.p, "http", 4) != 0)
		return BSTR_NULL;
	i = (k.p[4] | 0x20) == 's' ? 5 : 4;
	if (k.len < i + 3 || memcmp(k.p + i, "://", 3) != 0)
		return BSTR_NULL;
	for (i += 3, j = i; j < k.len && !memchr("/:?#", k.p[j], 4); j++)
		;
	if (j == i || ipv4(bstr_make(k.p + i, j - i)))
		return BSTR_NULL;
	h = rule__rb_trim_domain(c->arena, bstr_make(k.p + i, j - i));
	/* uri_to_domain on the trimmed name (already lowercase) */
	if ((o = memrchr(h.p, '@', h.len)) != NULL)
		h = bstr_make(o + 1, h.len - (size_t)(o + 1 - h.p));
	for (size_t x = 0; x + 2 < h.len; x++)
		if (h.p[x] == '%') {
			unsigned hi = h.p[x + 1], lo = h.p[x + 2] | 0x20;

			if ((hi == '2' && ((lo >= '1' && lo <= '9') ||
			    (lo >= 'a' && lo <= 'f'))) ||
			    (hi >= '3' && hi <= '6' && (isdigit(lo) ||
			    (lo >= 'a' && lo <= 'f'))) ||
			    (hi == '7' && (isdigit(lo) || (lo >= 'a' &&
			    lo <= 'e'))))
				return BSTR_NULL;
		}
	if (ipv4(h))
		t = h;
	else if (!fqdn_valid(h) || !rule__rb_domain_valid(h))
		return BSTR_NULL;
	else
		t = rule__rb_trim_domain(c->arena, h);
	return rule__rb_domain_valid(t) ? h : BSTR_NULL;
}

/* check_https_http_mismatch([min, max]) - HTTPSMismatch: in one HTML
 * part, an anchor text names "https://HOST" whose registrable domain
 * (an IP as is) differs from that of its href, with min <= (distinct
 * hrefs with a valid domain and anchor text) < max */
static int
ev_https_http_mismatch(struct rule_ctx *c, const struct rule *r)
{
	double mn = argnum(r, 0, 0), mx = argnum(r, 1, NAN);
	size_t n;
	const struct msg_html_part *v = html_parts(c, &n);

	if (!(mn > 0))
		mn = 1; /* $minanchors ||= 1 */
	for (size_t i = 0; i < n; i++) {
		const struct msg_html_part *h = &v[i];
		size_t anchors = 0, pos;
		bool hit = false, any = false;

		if (h->anchor_hrefs == NULL)
			continue;
		/* no anchor text with "https": no hit in this part, so its
		 * hrefs need no domain lookups */
		for (size_t a = 0; a < h->nanchors && !any; a++)
			any = has_https(h->anchors[a], &pos);
		if (!any)
			continue;
		for (size_t k = 0; k < h->nanchors; k++) {
			struct bstr uri;
			size_t dup = 0;

			for (; dup < k; dup++) /* uri_detail keys are unique */
				if (bstr_eq(h->anchor_hrefs[dup],
				    h->anchor_hrefs[k]))
					break;
			if (dup < k)
				continue;
			if ((uri = href_domain(c, h->anchor_hrefs[k])).len == 0)
				continue;
			anchors++;
			for (size_t a = k; a < h->nanchors && !hit; a++) {
				struct bstr t = h->anchors[a], hs;
				size_t at, e;

				if (!bstr_eq(h->anchor_hrefs[a],
				    h->anchor_hrefs[k]) ||
				    !has_https(t, &at) || t.len < at + 8 ||
				    memcmp(t.p + at + 6, "//", 2) != 0)
					continue;
				for (at += 8, e = at; e < t.len &&
				    !isspace(t.p[e]) && !memchr("/:?#",
				    t.p[e], 4); e++)
					;
				if (e == at)
					continue;
				hs = bstr_make(t.p + at, e - at);
				if (!ipv4(hs)) {
					hs = rule__rb_trim_domain(c->arena, hs);
					if (!rule__rb_domain_valid(hs))
						continue;
				}
				if (!bstr_eq(hs, uri))
					hit = true;
			}
		}
		if (hit && (double)anchors >= mn &&
		    (isnan(mx) || (double)anchors < mx))
			return 1;
	}
	return 0;
}

/* check_uri_truncated() - URIEval: SA cut some URI at MAX_URI_LENGTH
 * (8192). In practice only HTML.pm canon_uri does (an href/src over 8192
 * after trimming): text URIs come from body lines SA already split at
 * 2048 bytes, so add_uri_detail_list never sees a longer one (checked
 * with perl SA 4.0 on a 9000-byte URI in text: no hit). */
static int
ev_uri_truncated(struct rule_ctx *c, const struct rule *r)
{
	size_t n;
	const struct msg_html_part *v = html_parts(c, &n);

	(void)r;
	for (size_t i = 0; i < n; i++)
		if (v[i].flags & MSG_HTML_URI_TRUNCATED)
			return 1;
	return 0;
}

static const char *const html_tests[] = { "html", "anchor_mismatch",
	"font_face_bad", "font_invalid_color", "font_low_contrast",
	"form_action_mailto", "embeds", "uri_truncated", "length",
	"html_length", "non_space_len", "image_area", "max_size", "min_size",
	"closed_extra_ratio", "bad_tag_ratio", "non_element_ratio",
	"obfuscation_ratio", NULL };
static const char *const html_texts[] = { "comment", "title", "anchor",
	NULL };

const struct rule__evalfn rule__evals_html[] = {
	{ "html_test", ev_html_test, html_tests },
	{ "html_range", ev_html_range, html_values },
	{ "html_eval", ev_html_eval, html_values },
	{ "html_tag_exists", ev_html_tag_exists, NULL },
	{ "html_tag_balance", ev_html_tag_balance, NULL },
	{ "html_text_match", ev_html_text_match, html_texts },
	{ "html_title_subject_ratio", ev_html_title_subject_ratio, NULL },
	{ "check_iframe_src", ev_check_iframe_src, NULL },
	{ "check_https_ip_mismatch", ev_https_ip_mismatch, NULL },
	{ "check_https_http_mismatch", ev_https_http_mismatch, NULL },
	{ "check_uri_truncated", ev_uri_truncated, NULL },
	{ NULL, NULL, NULL },
};
