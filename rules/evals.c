/*
 * rules/evals - the built-in eval: functions computable from the message
 *
 * SpamAssassin's HeaderEval/BodyEval/HTMLEval/MIMEEval functions that the
 * stock ruleset uses most and that need nothing but the message model.
 * Network and store-backed evals (check_rbl*, check_uridnsbl, check_spf_*,
 * check_dkim_*, check_bayes ...) belong to their modules, which claim their
 * rules with rule_set_evals_named(); they are listed in external_evals so
 * lint does not call them unknown. Every other eval never fires and lint
 * reports it.
 *
 * Each function returns the hit count (0 or 1). Arguments arrive unquoted
 * as strings; a missing or bad argument makes the rule not fire.
 */
#include "rules/rules_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mail/msg.h"

#define arg rule__eval_arg
#define argnum rule__eval_argnum

const char *
rule__eval_arg(const struct rule *r, size_t i)
{
	return i < r->nargs ? r->args[i] : NULL;
}

double
rule__eval_argnum(const struct rule *r, size_t i, double def)
{
	const char *a = rule__eval_arg(r, i);
	char *end;
	double v;

	if (a == NULL)
		return def;
	v = strtod(a, &end);
	return end == a ? def : v;
}

static bool
has_header(struct rule_ctx *c, const char *name)
{
	return msg_header_count_named(c->msg, name) > 0;
}

/* HeaderEval ------------------------------------------------------------- */

/* check_header_count_range(hdr, min, max) - min <= count <= max */
static int
ev_header_count_range(struct rule_ctx *c, const struct rule *r)
{
	const char *h = arg(r, 0);
	size_t n;

	if (h == NULL || r->nargs < 3)
		return 0;
	n = msg_header_count_named(c->msg, h);
	return (double)n >= argnum(r, 1, 0) && (double)n <= argnum(r, 2, 0);
}

/* check_for_missing_to_header - neither To nor Apparently-To */
static int
ev_missing_to(struct rule_ctx *c, const struct rule *r)
{
	(void)r;
	return !has_header(c, "To") && !has_header(c, "Apparently-To");
}

/* check_msg_parse_flags(flag) - SA's parse anomalies */
static int
ev_parse_flags(struct rule_ctx *c, const struct rule *r)
{
	const char *f = arg(r, 0);
	unsigned fl = msg_flags(c->msg);

	if (f == NULL)
		return 0;
	if (strcmp(f, "missing_head_body_separator") == 0)
		return (fl & MSG_ERR_NO_BODY_SEP) != 0;
	if (strcmp(f, "truncated_header") == 0)
		return (fl & MSG_ERR_HDR_TRUNC) != 0;
	if (strcmp(f, "missing_mime_head_body_separator") == 0)
		return 0; /* not tracked per part by the model */
	return 0;
}

/* subject_is_all_caps - SA HeaderEval, same steps */
static int
ev_subject_all_caps(struct rule_ctx *c, const struct rule *r)
{
	const struct msg_header *h = msg_header_get(c->msg, "Subject", 0);
	struct bstr s;
	size_t letters = 0, i;
	bool space = false;

	(void)r;
	if (h == NULL)
		return 0;
	s = bstr_trim(h->decoded);
	/* strip (Re|Fwd|Fw|Aw|Antwort|Sv):\s* prefixes */
	for (;;) {
		static const char *const pre[] = {
			"re:", "fwd:", "fw:", "aw:", "antwort:", "sv:"
		};
		bool cut = false;

		for (i = 0; i < 6; i++)
			if (bstr_casestarts(s, pre[i])) {
				s = bstr_trim(
				    bstr_sub(s, strlen(pre[i]), s.len));
				cut = true;
				break;
			}
		if (!cut)
			break;
	}
	for (i = 0; i < s.len; i++)
		if (isspace(s.p[i]))
			space = true;
	if (!space || s.len < 10)
		return 0;
	for (i = 0; i < s.len; i++) {
		if (islower(s.p[i]))
			return 0;
		letters += isupper(s.p[i]) != 0;
	}
	return letters > 0;
}

/* check_unresolved_template - a header still holds %VAR markers */
static int
ev_unresolved_template(struct rule_ctx *c, const struct rule *r)
{
	(void)r;
	for (size_t i = 0, n = msg_header_count(c->msg); i < n; i++) {
		const struct msg_header *h = msg_header_at(c->msg, i);
		struct bstr v = h->value;

		/* SA skips headers that legitimately carry % codes */
		if (bstr_casestarts(h->name, "Received") ||
		    bstr_casestarts(h->name, "X-Spam"))
			continue;
		for (size_t k = 0; k + 2 < v.len; k++)
			if (v.p[k] == '%' && isupper(v.p[k + 1]) &&
			    (isupper(v.p[k + 2]) || v.p[k + 2] == '_' ||
				v.p[k + 2] == '-'))
				return 1;
	}
	return 0;
}

/* RelayEval -------------------------------------------------------------- */

/* check_all_trusted - SA: some trusted relay, none untrusted or
 * unparseable */
static int
ev_all_trusted(struct rule_ctx *c, const struct rule *r)
{
	size_t n, trusted = 0;
	const struct msg_relay *v = msg_relays(c->msg, &n);

	(void)r;
	for (size_t i = 0; v != NULL && i < n; i++) {
		if (!v[i].parsed || !v[i].trusted)
			return 0;
		trusted++;
	}
	return trusted > 0;
}

/* check_no_relays - SA: no Received header gave a relay */
static int
ev_no_relays(struct rule_ctx *c, const struct rule *r)
{
	size_t n = 0;

	(void)r;
	(void)msg_relays(c->msg, &n);
	return n == 0;
}

/* HTMLEval --------------------------------------------------------------- */

static const struct msg_html *
html(struct rule_ctx *c)
{
	const struct msg_html *h = msg_html(c->msg);

	return h != NULL && h->parts > 0 ? h : NULL;
}

/* html_image_only(min, max) - images and min < HTML length <= max (SA
 * counts the HTML source, not the rendered text) */
static int
ev_html_image_only(struct rule_ctx *c, const struct rule *r)
{
	const struct msg_html *h = html(c);

	if (h == NULL || h->images == 0)
		return 0;
	return (double)h->html_bytes > argnum(r, 0, 0) &&
	    (double)h->html_bytes <= argnum(r, 1, 0);
}

/* html_image_ratio(min, max) - non-space rendered HTML text per image
 * pixel (SA: non_space_len / image_area) */
static int
ev_html_image_ratio(struct rule_ctx *c, const struct rule *r)
{
	const struct msg_html *h = html(c);
	size_t nonspace = 0;
	double ratio;

	if (h == NULL || h->image_area == 0)
		return 0;
	for (size_t i = 0, n = msg_part_count(c->msg); i < n; i++) {
		const struct msg_part *p = msg_part_at(c->msg, i);

		if (!p->is_html)
			continue;
		for (size_t k = 0; k < p->rendered.len; k++)
			nonspace += !isspace(p->rendered.p[k]);
	}
	ratio = (double)nonspace / (double)h->image_area;
	return ratio > argnum(r, 0, 0) && ratio <= argnum(r, 1, 0);
}

/* MIMEEval --------------------------------------------------------------- */

/* check_for_mime_html - some text/html part */
static int
ev_mime_html(struct rule_ctx *c, const struct rule *r)
{
	(void)r;
	for (size_t i = 0, n = msg_part_count(c->msg); i < n; i++)
		if (msg_part_at(c->msg, i)->is_html)
			return 1;
	return 0;
}

/* check_for_mime_html_only - text/html parts and no text/plain one */
static int
ev_mime_html_only(struct rule_ctx *c, const struct rule *r)
{
	bool h = false;

	(void)r;
	for (size_t i = 0, n = msg_part_count(c->msg); i < n; i++) {
		const struct msg_part *p = msg_part_at(c->msg, i);

		if (p->is_html)
			h = true;
		else if (p->is_text && !p->is_attachment &&
		    bstr_caseeq_cstr(p->ctype, "text/plain"))
			return 0;
	}
	return h;
}

static bool
ascii_charset(struct bstr cs)
{
	static const char *const v[] = { "us-ascii", "ansi_x3.4-1968",
		"iso-ir-6", "ansi_x3.4-1986", "iso_646.irv:1991", "ascii",
		"iso646-us", "us", "ibm367", "cp367", "csascii" };

	/* SA matches these as substrings of the label */
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (bstr_casefind(cs, bstr_cstr(v[i])) >= 0)
			return true;
	return false;
}

/* check_for_mime(test) - a few of SA's per-part facts */
static int
ev_for_mime(struct rule_ctx *c, const struct rule *r)
{
	const char *t = arg(r, 0);

	if (t == NULL)
		return 0;
	for (size_t i = 0, n = msg_part_count(c->msg); i < n; i++) {
		const struct msg_part *p = msg_part_at(c->msg, i);

		if (strcmp(t, "mime_faraway_charset") == 0)
			continue;
		/* SA: a base64 text part in (or without) an ASCII charset,
		 * not marked attachment/inline: nothing to hide but words */
		if (strcmp(t, "mime_base64_encoded_text") == 0 &&
		    bstr_casestarts(p->ctype, "text") &&
		    p->encoding == MSG_ENC_BASE64 &&
		    (p->charset.len == 0 || ascii_charset(p->charset)) &&
		    p->disposition.len == 0)
			return 1;
		if (strcmp(t, "mime_missing_boundary") == 0 &&
		    (p->flags & MSG_ERR_MIME_BOUNDARY))
			return 1;
		if (strcmp(t, "mime_qp_long_line") == 0 &&
		    p->encoding == MSG_ENC_QP) {
			struct bstr b = p->raw_body;
			size_t len = 0;

			for (size_t k = 0; k < b.len; k++) {
				/* SA: lines over 78+1 bytes with the \n
				 * (RFC 5322's limit, not RFC 2045's 76) */
				if (b.p[k] == '\n') {
					if (len > 78)
						return 1;
					len = 0;
				} else if (b.p[k] != '\r') {
					len++;
				}
			}
		}
	}
	return 0;
}

/* BodyEval --------------------------------------------------------------- */

/* check_body_length(max) - the raw body is at most max bytes */
static int
ev_body_length(struct rule_ctx *c, const struct rule *r)
{
	if (r->nargs < 1)
		return 0;
	return (double)msg_raw_body(c->msg).len <= argnum(r, 0, 0);
}

static const char *const mime_tests[] = { "mime_base64_encoded_text",
	"mime_missing_boundary", "mime_qp_long_line", NULL };
static const char *const parse_flags[] = { "missing_head_body_separator",
	"truncated_header", NULL };

static const struct rule__evalfn evals[] = {
	{ "check_header_count_range", ev_header_count_range, NULL },
	{ "check_for_missing_to_header", ev_missing_to, NULL },
	{ "check_msg_parse_flags", ev_parse_flags, parse_flags },
	{ "subject_is_all_caps", ev_subject_all_caps, NULL },
	{ "check_unresolved_template", ev_unresolved_template, NULL },
	{ "html_image_only", ev_html_image_only, NULL },
	{ "html_image_ratio", ev_html_image_ratio, NULL },
	{ "check_for_mime_html", ev_mime_html, NULL },
	{ "check_for_mime_html_only", ev_mime_html_only, NULL },
	{ "check_for_mime", ev_for_mime, mime_tests },
	{ "check_body_length", ev_body_length, NULL },
	{ "check_all_trusted", ev_all_trusted, NULL },
	{ "check_no_relays", ev_no_relays, NULL },
	{ NULL, NULL, NULL },
};

const struct rule__evalfn *
rule__eval_lookup(const char *name)
{
	static const struct rule__evalfn *const tables[] = { evals,
		rule__evals_hdr, rule__evals_html };

	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
		for (const struct rule__evalfn *e = tables[t]; e->name; e++)
			if (strcmp(e->name, name) == 0)
				return e;
	return NULL;
}

/* Evals other modules provide (plugins/, bayes/): not "unknown". */
static const char *const external_evals[] = {
	"check_rbl",
	"check_rbl_sub",
	"check_rbl_txt",
	"check_rbl_envfrom",
	"check_rbl_from_host",
	"check_rbl_from_domain",
	"check_rbl_headers",
	"check_rbl_rcvd",
	"check_rbl_accreditor",
	"check_rbl_ns_from",
	"check_uridnsbl",
	"check_uri_host_listed",
	"check_dns_sender",
	"check_spf_pass",
	"check_spf_fail",
	"check_spf_softfail",
	"check_spf_neutral",
	"check_spf_none",
	"check_spf_permerror",
	"check_spf_temperror",
	"check_spf_helo_pass",
	"check_spf_helo_fail",
	"check_spf_helo_softfail",
	"check_spf_helo_neutral",
	"check_spf_helo_none",
	"check_spf_helo_permerror",
	"check_spf_helo_temperror",
	"check_for_spf_pass",
	"check_dkim_valid",
	"check_dkim_signed",
	"check_dkim_valid_author_sig",
	"check_dkim_dependable",
	"check_dkim_testing",
	"check_arc_signed",
	"check_arc_valid",
	"check_dmarc_pass",
	"check_dmarc_reject",
	"check_dmarc_quarantine",
	"check_dmarc_none",
	"check_dmarc_missing",
	"check_bayes",
};

bool
rule__eval_external(const char *name)
{
	for (size_t i = 0;
	     i < sizeof(external_evals) / sizeof(external_evals[0]); i++)
		if (strcmp(external_evals[i], name) == 0)
			return true;
	return false;
}
