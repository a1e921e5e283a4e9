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
#include <math.h>
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

/* rule__eval_argnum - argument i as a number (read at parse: argval is
 * there whenever args are), def when absent or not a number */
double
rule__eval_argnum(const struct rule *r, size_t i, double def)
{
	if (i >= r->nargs || r->argval == NULL || isnan(r->argval[i]))
		return def;
	return r->argval[i];
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

/* BodyEval --------------------------------------------------------------- */

/* check_body_length(max) - the raw body is at most max bytes */
static int
ev_body_length(struct rule_ctx *c, const struct rule *r)
{
	if (r->nargs < 1)
		return 0;
	return (double)msg_raw_body(c->msg).len <= argnum(r, 0, 0);
}

static const struct rule__evalfn evals[] = {
	{ "check_header_count_range", ev_header_count_range, NULL },
	{ "check_for_missing_to_header", ev_missing_to, NULL },
	{ "subject_is_all_caps", ev_subject_all_caps, NULL },
	{ "check_unresolved_template", ev_unresolved_template, NULL },
	{ "check_for_mime_html", ev_mime_html, NULL },
	{ "check_for_mime_html_only", ev_mime_html_only, NULL },
	{ "check_body_length", ev_body_length, NULL },
	{ "check_all_trusted", ev_all_trusted, NULL },
	{ "check_no_relays", ev_no_relays, NULL },
	{ NULL, NULL, NULL },
};

const struct rule__evalfn *
rule__eval_lookup(const char *name)
{
	static const struct rule__evalfn *const tables[] = { evals,
		rule__evals_hdr, rule__evals_freemail, rule__evals_html,
		rule__evals_mime };

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
	/* SpamAssassin 4.0's names (25_spf.cf, 25_dkim.cf, 60_welcomelist*):
	 * filterd/check_auth.c and check_wblist.c add hits of the same rule
	 * names */
	"check_for_spf_pass",
	"check_for_spf_neutral",
	"check_for_spf_fail",
	"check_for_spf_softfail",
	"check_for_spf_none",
	"check_for_spf_permerror",
	"check_for_spf_temperror",
	"check_for_spf_helo_pass",
	"check_for_spf_helo_neutral",
	"check_for_spf_helo_fail",
	"check_for_spf_helo_softfail",
	"check_for_spf_helo_none",
	"check_for_spf_helo_permerror",
	"check_for_spf_helo_temperror",
	"check_dkim_valid_envelopefrom",
	"check_from_in_welcomelist",
	"check_from_in_blocklist",
	"check_to_in_welcomelist",
	"check_for_spf_welcomelist_from",
	"check_for_dkim_welcomelist_from",
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
