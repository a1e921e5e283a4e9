/*
 * rules/parse - SpamAssassin rule-file parser
 *
 * Reads *.cf files line by line into the rule set (rules_int.h): rule
 * definitions (header, body, rawbody, uri, full, mimeheader, meta), their
 * attributes (score, describe, tflags, priority), conditionals (ifplugin,
 * if/else/endif), include and replace_tag. A later definition or score
 * line wins, so local.cf loaded last overrides the defaults.
 *
 * Memory: everything is malloc'ed and owned by the rule set until
 * rule_set_free(). Errors: a file that cannot be read fails the load; a
 * bad line becomes a diagnostic with file:line and is skipped. Settings of
 * SpamAssassin that filterd does not use are recorded as "ignored" for
 * lint, never an error. Limits: lines of 64 KiB, include depth 16.
 */
#include "rules/rules_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_LINE (64u * 1024)
#define MAX_INCLUDE_DEPTH 16
#define MAX_COND_DEPTH 64
#define SA_VERSION 4.000001

/* Plugins whose rules filterd runs (in rules/ or another module), the
 * SpamAssassin default set: ifplugin on them is true. */
static const char *const loaded_plugins[] = {
	"Check",
	"HeaderEval",
	"BodyEval",
	"HTMLEval",
	"MIMEEval",
	"RelayEval",
	"URIEval",
	"WLBLEval",
	"MIMEHeader",
	"ReplaceTags",
	"DNSEval",
	"URIDNSBL",
	"SPF",
	"DKIM",
	"DMARC",
	"Bayes",
	"Rule2XSBody",
	"AutoLearnThreshold",
	"WelcomeListSubject",
	"WhiteListSubject",
	"HTTPSMismatch",
	"URIDetail",
	"VBounce",
	"ImageInfo",
	"FreeMail",
};

static const char *const known_features[] = {
	"feature_bug6558_free",
	"feature_welcomelist_blocklist",
	"compat_welcomelist_blocklist",
	"perl_min_version_5010000",
	"feature_capture_rules",
	"feature_dns_block_rule",
	"feature_registryboundaries",
	"has_check_body_length",
	"has_arc",
	"has_check_abundant_unicode_ratio",
	"has_check_for_ascii_text_illegal",
	"has_check_qp_ratio",
	"feature_originating_ip_headers",
	"feature_dns_local_ports_permit_avoid",
	"feature_yesno_takes_args",
	"feature_subjprefix",
	"feature_bayes_stopwords",
	"feature_get_host",
	"feature_blocklist_welcomelist",
	"feature_dns_query_restriction",
};

/* SpamAssassin settings that are understood as "not for filterd": the
 * daemon's own config covers them, or a plugin module reads them. */
static const char *const ignored_directives[] = {
	"report",
	"unsafe_report",
	"add_header",
	"remove_header",
	"clear_headers",
	"clear_report_template",
	"report_contact",
	"report_safe",
	"required_score",
	"required_hits",
	"rewrite_header",
	"loadplugin",
	"tryplugin",
	"bayes_ignore_header",
	"bayes_auto_learn",
	"bayes_path",
	"bayes_store_module",
	"use_bayes",
	"bayes_auto_expire",
	"bayes_token_sources",
	"bayes_stopword",
	"bayes_stopword_languages",
	"reuse",
	"test",
	"lang",
	"util_rb_tld",
	"util_rb_2tld",
	"util_rb_3tld",
	"def_whitelist_auth",
	"def_welcomelist_auth",
	"whitelist_auth",
	"welcomelist_auth",
	"def_whitelist_from_dkim",
	"def_welcomelist_from_dkim",
	"def_whitelist_from_spf",
	"def_welcomelist_from_spf",
	"whitelist_from",
	"welcomelist_from",
	"blacklist_from",
	"blocklist_from",
	"whitelist_from_rcvd",
	"welcomelist_from_rcvd",
	"unwhitelist_from",
	"unwelcomelist_from",
	"enlist_uri_host",
	"delist_uri_host",
	"enlist_addrlist",
	"url_shortener",
	"uridnsbl_skip_domain",
	"urirhssub",
	"uridnssub",
	"urirhsbl",
	"uridnsbl",
	"askdns",
	"dns_local_ports_avoid",
	"dns_block_rule",
	"dns_available",
	"dns_server",
	"adsp_override",
	"redirector_pattern",
	"originating_ip_headers",
	"trusted_networks",
	"internal_networks",
	"msa_networks",
	"clear_trusted_networks",
	"clear_internal_networks",
	"envelope_sender_header",
	"skip_rbl_checks",
	"use_auto_whitelist",
	"use_auto_welcomelist",
	"auto_whitelist_factor",
	"auto_welcomelist_factor",
	"use_txrep",
	"use_pyzor",
	"use_razor2",
	"use_dcc",
	"ok_locales",
	"ok_languages",
	"normalize_charset",
	"body_part_scan_size",
	"rawbody_part_scan_size",
	"shortcircuit",
	"whitelist_subject",
	"welcomelist_subject",
	"blacklist_subject",
	"blocklist_subject",
	"whitelist_to",
	"welcomelist_to",
	"more_spam_to",
	"all_spam_to",
	"blacklist_to",
	"blocklist_to",
	"report_charset",
	"fold_headers",
	"lock_method",
	"hashcash_accept",
	"hashbl_ignore",
	"dns_query_restriction",
	"check_rbl_sub",
	"enable_compat",
	"replace_inter",
	"util_rb_tld",
	"rbl_timeout",
	"pyzor_options",
	"razor_config",
	"dcc_path",
	"textcat_acceptable_languages",
	"inactive_languages",
	"uri_block_cc",
	"uri_block_cont",
	"geodb_module",
	"asn_lookup",
	"dkim_minimum_key_bits",
	"bayes_sql_dsn",
	"allow_user_rules",
	"body_part_scan_size",
};

struct pctx {
	struct rule_set *rs;
	const char *file; /* interned */
	unsigned line;
	int depth;
	struct rule_err *err;
	bool no_include;
};

static int load_path(struct pctx *, const char *path);

/* Interning and diagnostics ---------------------------------------------- */

char *
rule__intern(struct rule_set *rs, const char *s)
{
	char *d;

	if (rs->nstrs == rs->strcap) {
		size_t nc = rs->strcap ? rs->strcap * 2 : 64;
		char **nv = realloc(rs->strs, nc * sizeof(*nv));

		if (nv == NULL)
			return NULL;
		rs->strs = nv;
		rs->strcap = nc;
	}
	if ((d = strdup(s)) == NULL)
		return NULL;
	rs->strs[rs->nstrs++] = d;
	return d;
}

void
rule__diag(struct rule_set *rs, enum rule_diag_level lvl, const char *file,
    unsigned line, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	struct rule_diag *d;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (rs->ndiag == rs->diagcap) {
		size_t nc = rs->diagcap ? rs->diagcap * 2 : 64;
		struct rule_diag *nv = realloc(rs->diag, nc * sizeof(*nv));

		if (nv == NULL)
			return;
		rs->diag = nv;
		rs->diagcap = nc;
	}
	d = &rs->diag[rs->ndiag];
	d->level = lvl;
	d->file = file;
	d->line = line;
	if ((d->msg = rule__intern(rs, tmp)) == NULL)
		return;
	rs->ndiag++;
	if (lvl == RULE_DIAG_ERROR)
		rs->nerrors++;
}

/* Name table ------------------------------------------------------------- */

static uint32_t
hash_name(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

long
rule__find(const struct rule_set *rs, const char *name, size_t len)
{
	if (rs->tabsz == 0)
		return -1;
	for (size_t i = hash_name(name, len) & (rs->tabsz - 1);;
	     i = (i + 1) & (rs->tabsz - 1)) {
		uint32_t x = rs->tab[i];

		if (x == 0)
			return -1;
		if (strncmp(rs->v[x - 1].name, name, len) == 0 &&
		    rs->v[x - 1].name[len] == '\0')
			return (long)x - 1;
	}
}

static int
tab_grow(struct rule_set *rs)
{
	size_t nsz = rs->tabsz ? rs->tabsz * 2 : 1024;
	uint32_t *nt = calloc(nsz, sizeof(*nt));

	if (nt == NULL)
		return -ENOMEM;
	for (size_t k = 0; k < rs->n; k++) {
		size_t i =
		    hash_name(rs->v[k].name, strlen(rs->v[k].name)) & (nsz - 1);

		while (nt[i] != 0)
			i = (i + 1) & (nsz - 1);
		nt[i] = (uint32_t)k + 1;
	}
	free(rs->tab);
	rs->tab = nt;
	rs->tabsz = nsz;
	return 0;
}

struct rule *
rule__get(struct rule_set *rs, const char *name, bool create)
{
	long k = rule__find(rs, name, strlen(name));
	struct rule *r;

	if (k >= 0)
		return &rs->v[k];
	if (!create)
		return NULL;
	if (rs->n == rs->cap) {
		size_t nc = rs->cap ? rs->cap * 2 : 1024;
		struct rule *nv = realloc(rs->v, nc * sizeof(*nv));

		if (nv == NULL)
			return NULL;
		rs->v = nv;
		rs->cap = nc;
	}
	if ((rs->n + 1) * 2 > rs->tabsz && tab_grow(rs) < 0)
		return NULL;
	r = &rs->v[rs->n];
	memset(r, 0, sizeof(*r));
	if ((r->name = strdup(name)) == NULL)
		return NULL;
	rs->n++;
	/* insert */
	size_t i = hash_name(name, strlen(name)) & (rs->tabsz - 1);
	while (rs->tab[i] != 0)
		i = (i + 1) & (rs->tabsz - 1);
	rs->tab[i] = (uint32_t)rs->n;
	return r;
}

/* Helpers ---------------------------------------------------------------- */

static bool
in_list(const char *const *v, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(v[i]) == len && strncmp(v[i], s, len) == 0)
			return true;
	return false;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static bool
plugin_loaded(const char *s, size_t len)
{
	const char *pre = "Mail::SpamAssassin::Plugin::";
	size_t pl = strlen(pre);

	if (len > pl && strncmp(s, pre, pl) == 0) {
		s += pl;
		len -= pl;
	}
	return in_list(loaded_plugins, NELEM(loaded_plugins), s, len);
}

static bool
feature_known(const char *s, size_t len)
{
	const char *c = s;

	/* last component after :: */
	for (size_t i = 0; i + 1 < len; i++)
		if (s[i] == ':' && s[i + 1] == ':')
			c = s + i + 2;
	return in_list(
	    known_features, NELEM(known_features), c, len - (size_t)(c - s));
}

static char *
skip_ws(char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* next_word - cut the next whitespace-delimited word; NULL at the end */
static char *
next_word(char **pp)
{
	char *p = skip_ws(*pp), *w;

	if (*p == '\0')
		return NULL;
	w = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	if (*p != '\0')
		*p++ = '\0';
	*pp = p;
	return w;
}

static bool
valid_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

/* if-expressions: "can(...)", "plugin(...)" become 0/1, "version" and
 * "perl_version" numbers; then the meta evaluator decides. */
static double
if_value(void *arg, const char *name, size_t len)
{
	(void)arg;
	if (len == 7 && strncmp(name, "version", 7) == 0)
		return SA_VERSION;
	if (len == 12 && strncmp(name, "perl_version", 12) == 0)
		return 5.036;
	return 0;
}

static int
eval_if(const char *expr, bool *val)
{
	char out[1024];
	size_t o = 0;
	const char *p = expr;
	double v;

	while (*p != '\0' && o + 2 < sizeof(out)) {
		bool is_can = strncmp(p, "can(", 4) == 0;
		bool is_plug = strncmp(p, "plugin(", 7) == 0;

		if (is_can || is_plug) {
			const char *a = p + (is_can ? 4 : 7),
				   *e = strchr(a, ')');
			bool t;

			if (e == NULL)
				return -EINVAL;
			t = is_can ? feature_known(a, (size_t)(e - a))
				   : plugin_loaded(a, (size_t)(e - a));
			out[o++] = t ? '1' : '0';
			p = e + 1;
			continue;
		}
		out[o++] = *p++;
	}
	out[o] = '\0';
	if (rule_meta_eval_str(out, if_value, NULL, &v) < 0)
		return -EINVAL;
	*val = v != 0;
	return 0;
}

/* Rule lines ------------------------------------------------------------- */

static void
reset_def(struct rule *r)
{
	free(r->re_src);
	free(r->hdr);
	free(r->mh_key);
	free(r->if_unset);
	free(r->evname);
	for (size_t i = 0; i < r->nargs; i++)
		free(r->args[i]);
	free(r->args);
	free(r->argval);
	r->argval = NULL;
	free(r->meta_src);
	r->re_src = r->hdr = r->if_unset = r->evname = r->meta_src = NULL;
	r->mh_key = NULL;
	r->args = NULL;
	r->nargs = 0;
	r->neg = false;
	r->hraw = false;
	r->hkind = HDR_NAMED;
	r->hmod = HMOD_NONE;
}

/* parse_eval - "eval:name(args)" -> name and unquoted args */
static int
parse_eval(struct rule *r, const char *s)
{
	const char *p = s + 5, *o = strchr(p, '('), *c = strrchr(p, ')');
	size_t cap = 0;

	if (o == NULL || c == NULL || c < o)
		return -EINVAL;
	while (p < o && (*p == ' ' || *p == '\t'))
		p++;
	if ((r->evname = strndup(p, (size_t)(o - p))) == NULL)
		return -ENOMEM;
	for (char *e = r->evname + strlen(r->evname);
	     e > r->evname && (e[-1] == ' ' || e[-1] == '\t'); e--)
		e[-1] = '\0';
	if (!valid_name(r->evname))
		return -EINVAL;
	p = o + 1;
	while (p < c) {
		char q = 0;
		const char *a, *e;
		char **nv;

		while (p < c && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p >= c)
			break;
		if (*p == '\'' || *p == '"')
			q = *p++;
		a = p;
		if (q) {
			while (p < c && *p != q)
				p++;
			e = p;
			if (p < c)
				p++;
		} else {
			while (p < c && *p != ',')
				p++;
			e = p;
			while (e > a && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
		}
		if (r->nargs == cap) {
			cap = cap ? cap * 2 : 4;
			if ((nv = realloc(r->args, cap * sizeof(*nv))) == NULL)
				return -ENOMEM;
			r->args = nv;
		}
		if ((r->args[r->nargs] = strndup(a, (size_t)(e - a))) == NULL)
			return -ENOMEM;
		r->nargs++;
	}
	if (r->nargs > 0 &&
	    (r->argval = calloc(r->nargs, sizeof(*r->argval))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < r->nargs; i++) {
		char *end;

		r->argval[i] = strtod(r->args[i], &end);
		if (end == r->args[i])
			r->argval[i] = NAN;
	}
	return 0;
}

/* rule__close_delim - the delimiter that closes a Perl m// or s// opened
 * with open: brackets pair, anything else closes itself */
char
rule__close_delim(char open)
{
	switch (open) {
	case '{':
		return '}';
	case '(':
		return ')';
	case '[':
		return ']';
	case '<':
		return '>';
	default:
		return open;
	}
}

/* find_regex_end - the end (after flags) of a Perl match operator at p */
static const char *
regex_end(const char *p)
{
	char open, close;
	int depth = 1;

	if (*p == 'm' && p[1] != '\0' && !isalnum((unsigned char)p[1]) &&
	    p[1] != ' ')
		p++;
	open = *p;
	close = rule__close_delim(open);
	if (open == '\0' || isalnum((unsigned char)open) || open == ' ')
		return NULL;
	for (p++; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (open != close && *p == open)
			depth++;
		else if (*p == close && --depth == 0)
			break;
	}
	if (*p == '\0')
		return NULL;
	for (p++; isalpha((unsigned char)*p); p++)
		;
	return p;
}

static int
set_regex(struct pctx *c, struct rule *r, char *s)
{
	const char *e = regex_end(s);
	char *t;

	if (e == NULL) {
		rule__diag(c->rs, RULE_DIAG_ERROR, c->file, c->line,
		    "%s: bad regex delimiters", r->name);
		return -EINVAL;
	}
	t = skip_ws((char *)e);
	if ((r->re_src = strndup(s, (size_t)(e - s))) == NULL)
		return -ENOMEM;
	if (*t != '\0') {
		if (strncmp(t, "[if-unset:", 10) == 0) {
			char *v = skip_ws(t + 10), *end = strrchr(v, ']');

			if (end == NULL) {
				rule__diag(c->rs, RULE_DIAG_ERROR, c->file,
				    c->line, "%s: bad [if-unset:]", r->name);
				return -EINVAL;
			}
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			if ((r->if_unset = strndup(v, (size_t)(end - v))) ==
			    NULL)
				return -ENOMEM;
		} else {
			rule__diag(c->rs, RULE_DIAG_ERROR, c->file, c->line,
			    "%s: junk after regex: %.40s", r->name, t);
			return -EINVAL;
		}
	}
	return 0;
}

static int
parse_header_target(struct pctx *c, struct rule *r, char *rest)
{
	char *hdr = next_word(&rest), *op, *colon;

	if (hdr == NULL)
		goto bad;
	if (strncmp(hdr, "exists:", 7) == 0) {
		r->hkind = HDR_EXISTS;
		return (r->hdr = strdup(hdr + 7)) == NULL ? -ENOMEM : 0;
	}
	if ((op = next_word(&rest)) == NULL)
		goto bad;
	if (strcmp(op, "=~") == 0)
		r->neg = false;
	else if (strcmp(op, "!~") == 0)
		r->neg = true;
	else
		goto bad;
	if ((colon = strchr(hdr, ':')) != NULL) {
		*colon++ = '\0';
		while (colon != NULL) {
			char *nx = strchr(colon, ':');

			if (nx != NULL)
				*nx++ = '\0';
			if (strcmp(colon, "raw") == 0 && r->hmod == HMOD_NONE)
				r->hmod = HMOD_RAW;
			else if (strcmp(colon, "raw") == 0)
				r->hraw = true;
			else if (strcmp(colon, "addr") == 0)
				r->hraw = r->hmod == HMOD_RAW,
				r->hmod = HMOD_ADDR;
			else if (strcmp(colon, "name") == 0)
				r->hraw = r->hmod == HMOD_RAW,
				r->hmod = HMOD_NAME;
			else {
				rule__diag(c->rs, RULE_DIAG_ERROR, c->file,
				    c->line,
				    "%s: unsupported header "
				    "modifier :%s",
				    r->name, colon);
				return -EINVAL;
			}
			colon = nx;
		}
	}
	if (strcmp(hdr, "ALL") == 0)
		r->hkind = HDR_ALL;
	else if (strncmp(hdr, "ALL-", 4) == 0 &&
	    (strcmp(hdr + 4, "TRUSTED") == 0 ||
		strcmp(hdr + 4, "UNTRUSTED") == 0 ||
		strcmp(hdr + 4, "INTERNAL") == 0 ||
		strcmp(hdr + 4, "EXTERNAL") == 0)) {
		r->hkind = HDR_ALL;
		r->all_part = true;
		r->relays = hdr[4] == 'T' ? RELAYS_TRUSTED
		    : hdr[4] == 'U'	  ? RELAYS_UNTRUSTED
		    : hdr[4] == 'I'	  ? RELAYS_INTERNAL
					  : RELAYS_EXTERNAL;
	} else if (strcmp(hdr, "ToCc") == 0)
		r->hkind = HDR_TOCC;
	else if (strcmp(hdr, "MESSAGEID") == 0)
		r->hkind = HDR_MESSAGEID;
	else if (strcmp(hdr, "EnvelopeFrom") == 0)
		r->hkind = HDR_ENVFROM;
	else if (strncasecmp(hdr, "X-Spam-Relays-", 14) == 0) {
		static const char *const kinds[] = { "Trusted", "Untrusted",
			"Internal", "External" };

		r->hkind = HDR_NAMED;
		for (int k = 0; k < 4; k++)
			if (strcasecmp(hdr + 14, kinds[k]) == 0) {
				r->hkind = HDR_RELAYS;
				r->relays = (enum rule_relays)k;
			}
	} else
		r->hkind = HDR_NAMED;
	if ((r->hdr = strdup(hdr)) == NULL)
		return -ENOMEM;
	/* mimeheader: what a part's lowercased header block holds when it
	 * has the field (eval.c) */
	if (r->type == RULE_MIMEHEADER) {
		size_t n = strlen(hdr);

		if ((r->mh_key = malloc(n + 3)) == NULL)
			return -ENOMEM;
		r->mh_key[0] = '\n';
		for (size_t i = 0; i < n; i++)
			r->mh_key[i + 1] = (char)tolower((unsigned char)hdr[i]);
		r->mh_key[n + 1] = ':';
		r->mh_key[n + 2] = '\0';
	}
	return set_regex(c, r, skip_ws(rest));
bad:
	rule__diag(c->rs, RULE_DIAG_ERROR, c->file, c->line,
	    "%s: expected 'Header =~ /regex/'", r->name);
	return -EINVAL;
}

static int
define_rule(struct pctx *c, enum rule_type type, char *rest)
{
	char *name = next_word(&rest);
	struct rule *r;
	int rc;

	if (name == NULL || !valid_name(name)) {
		rule__diag(c->rs, RULE_DIAG_ERROR, c->file, c->line,
		    "bad rule name '%s'", name ? name : "");
		return 0;
	}
	rest = skip_ws(rest);
	if (*rest == '\0') {
		rule__diag(c->rs, RULE_DIAG_ERROR, c->file, c->line,
		    "%s: missing definition", name);
		return 0;
	}
	if ((r = rule__get(c->rs, name, true)) == NULL)
		return -ENOMEM;
	if (r->defined && r->file != c->file)
		rule__diag(c->rs, RULE_DIAG_INFO, c->file, c->line,
		    "%s: redefines the rule from %s:%u", name, r->file,
		    r->line);
	else if (r->defined)
		rule__diag(c->rs, RULE_DIAG_WARN, c->file, c->line,
		    "%s: duplicate rule (first at line %u)", name, r->line);
	reset_def(r);
	r->type = type;
	r->file = c->file;
	r->line = c->line;
	r->defined = true;
	r->broken = false;
	if (type == RULE_META) {
		rc = (r->meta_src = strdup(rest)) == NULL ? -ENOMEM : 0;
	} else if (strncmp(rest, "eval:", 5) == 0) {
		rc = parse_eval(r, rest);
		if (rc == -EINVAL)
			rule__diag(c->rs, RULE_DIAG_ERROR, c->file, c->line,
			    "%s: bad eval call", name);
	} else if (type == RULE_HEADER || type == RULE_MIMEHEADER) {
		rc = parse_header_target(c, r, rest);
	} else {
		rc = set_regex(c, r, rest);
	}
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0)
		r->broken = true;
	return 0;
}

static int
do_score(struct pctx *c, char *rest)
{
	char *name = next_word(&rest), *w;
	double v[4];
	int n = 0;
	struct rule *r;

	if (name == NULL || !valid_name(name))
		goto bad;
	while (n < 4 && (w = next_word(&rest)) != NULL) {
		char *end;

		if (*w == '(') /* "(1.0)": SA's tuning output */
			w++;
		v[n] = strtod(w, &end);
		if (end == w || (*end != '\0' && *end != ')'))
			goto bad;
		n++;
	}
	if (n != 1 && n != 4)
		goto bad;
	if ((r = rule__get(c->rs, name, true)) == NULL)
		return -ENOMEM;
	for (int i = 0; i < 4; i++)
		r->score[i] = n == 1 ? v[0] : v[i];
	r->has_score = true;
	if (!r->defined && r->file == NULL) {
		r->file = c->file; /* for "score without rule" in lint */
		r->line = c->line;
	}
	return 0;
bad:
	rule__diag(c->rs, RULE_DIAG_ERROR, c->file, c->line,
	    "bad score line: expected 'score NAME n' or 4 numbers");
	return 0;
}

static int
do_attr(struct pctx *c, const char *dir, char *rest)
{
	char *name = next_word(&rest), *w;
	struct rule *r;

	if (name == NULL || !valid_name(name)) {
		rule__diag(c->rs, RULE_DIAG_ERROR, c->file, c->line,
		    "%s: bad rule name", dir);
		return 0;
	}
	if ((r = rule__get(c->rs, name, true)) == NULL)
		return -ENOMEM;
	rest = skip_ws(rest);
	if (strcmp(dir, "describe") == 0) {
		free(r->describe);
		if ((r->describe = strdup(rest)) == NULL)
			return -ENOMEM;
	} else if (strcmp(dir, "priority") == 0) {
		r->priority = atoi(rest);
	} else { /* tflags */
		r->tflags &= 0x100u; /* replace_rules is not a tflag */
		r->maxhits = 0;
		while ((w = next_word(&rest)) != NULL) {
			if (strcmp(w, "multiple") == 0)
				r->tflags |= TF_MULTIPLE;
			else if (strcmp(w, "nice") == 0)
				r->tflags |= TF_NICE;
			else if (strcmp(w, "net") == 0)
				r->tflags |= TF_NET;
			else if (strcmp(w, "learn") == 0)
				r->tflags |= TF_LEARN;
			else if (strcmp(w, "userconf") == 0)
				r->tflags |= TF_USERCONF;
			else if (strcmp(w, "noautolearn") == 0)
				r->tflags |= TF_NOAUTOLEARN;
			else if (strcmp(w, "nosubject") == 0)
				r->tflags |= TF_NOSUBJECT;
			else if (strncmp(w, "maxhits=", 8) == 0)
				r->maxhits = (unsigned)atoi(w + 8);
			else if (strcmp(w, "publish") != 0 &&
			    strcmp(w, "nopublish") != 0 &&
			    strcmp(w, "a") != 0 &&
			    strcmp(w, "autolearn_force") &&
			    strcmp(w, "domains_only") != 0 &&
			    strcmp(w, "ips_only") != 0 &&
			    strcmp(w, "notrim") != 0 &&
			    strncmp(w, "range=", 6) != 0 &&
			    strcmp(w, "dns") != 0)
				rule__diag(c->rs, RULE_DIAG_INFO, c->file,
				    c->line, "%s: tflags %s ignored", name, w);
		}
	}
	return 0;
}

static int
do_replace(struct pctx *c, const char *dir, char *rest)
{
	struct rule_set *rs = c->rs;
	char *w;

	if (strcmp(dir, "replace_rules") == 0) {
		while ((w = next_word(&rest)) != NULL) {
			struct rule *r = rule__get(rs, w, true);

			if (r == NULL)
				return -ENOMEM;
			r->tflags |= 0x100u; /* replace tags in this rule */
		}
		return 0;
	}
	if (strcmp(dir, "replace_start") == 0 ||
	    strcmp(dir, "replace_end") == 0) {
		char *d = dir[8] == 's' ? rs->repl_start : rs->repl_end;

		if ((w = next_word(&rest)) == NULL || strlen(w) >= 8)
			goto bad;
		strcpy(d, w); /* length checked above */
		return 0;
	}
	/* replace_tag, replace_pre, replace_inter, replace_post */
	{
		int kind = strcmp(dir, "replace_tag") == 0 ? 0
		    : strcmp(dir, "replace_pre") == 0	   ? 1
		    : strcmp(dir, "replace_inter") == 0	   ? 2
							   : 3;
		char *name = next_word(&rest), *val;
		struct rtag *nv;

		if (name == NULL)
			goto bad;
		val = skip_ws(rest);
		for (size_t i = 0; i < rs->ntags; i++)
			if (rs->tags[i].kind == kind &&
			    strcmp(rs->tags[i].name, name) == 0) {
				free(rs->tags[i].val);
				free(rs->tags[i].ascii);
				rs->tags[i].ascii = NULL;
				rs->tags[i].val = strdup(val);
				return rs->tags[i].val ? 0 : -ENOMEM;
			}
		nv = realloc(rs->tags, (rs->ntags + 1) * sizeof(*nv));
		if (nv == NULL)
			return -ENOMEM;
		rs->tags = nv;
		nv[rs->ntags].kind = kind;
		nv[rs->ntags].ascii = NULL;
		nv[rs->ntags].name = strdup(name);
		nv[rs->ntags].val = strdup(val);
		if (nv[rs->ntags].name == NULL || nv[rs->ntags].val == NULL)
			return -ENOMEM;
		rs->ntags++;
		return 0;
	}
bad:
	rule__diag(rs, RULE_DIAG_ERROR, c->file, c->line, "bad %s line", dir);
	return 0;
}

/* strip_comment - SA: '#' starts a comment unless escaped as '\#' */
static void
strip_comment(char *s)
{
	char *o = s;

	for (char *p = s; *p; p++) {
		if (*p == '\\' && p[1] == '#') {
			*o++ = '#';
			p++;
			continue;
		}
		if (*p == '#')
			break;
		*o++ = *p;
	}
	while (o > s && isspace((unsigned char)o[-1]))
		o--;
	*o = '\0';
}

static int
parse_lines(struct pctx *c, char *text)
{
	bool active[MAX_COND_DEPTH];
	bool parent[MAX_COND_DEPTH];
	int sp = 0;
	char *line, *next;
	char seen_ignored[64][24];
	size_t nseen = 0;
	int rc = 0;

	active[0] = true;
	for (line = text; line != NULL; line = next) {
		char *dir, *rest;
		bool on = active[sp];

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		c->line++;
		strip_comment(line);
		rest = skip_ws(line);
		if ((dir = next_word(&rest)) == NULL)
			continue;
		rest = skip_ws(rest);
		if (strcmp(dir, "ifplugin") == 0 || strcmp(dir, "if") == 0) {
			bool v = false;

			if (sp + 1 >= MAX_COND_DEPTH) {
				rule__diag(c->rs, RULE_DIAG_ERROR, c->file,
				    c->line, "conditionals nested too deep");
				continue;
			}
			if (dir[2] == 'p') {
				v = plugin_loaded(rest, strlen(rest));
			} else if (eval_if(rest, &v) < 0) {
				rule__diag(c->rs, RULE_DIAG_ERROR, c->file,
				    c->line, "bad if expression: %.60s", rest);
				v = false;
			}
			sp++;
			parent[sp] = on;
			active[sp] = on && v;
			continue;
		}
		if (strcmp(dir, "else") == 0) {
			if (sp == 0)
				rule__diag(c->rs, RULE_DIAG_ERROR, c->file,
				    c->line, "else without if");
			else
				active[sp] = parent[sp] && !active[sp];
			continue;
		}
		if (strcmp(dir, "endif") == 0) {
			if (sp == 0)
				rule__diag(c->rs, RULE_DIAG_ERROR, c->file,
				    c->line, "endif without if");
			else
				sp--;
			continue;
		}
		if (!on)
			continue;
		if (strcmp(dir, "header") == 0)
			rc = define_rule(c, RULE_HEADER, rest);
		else if (strcmp(dir, "body") == 0)
			rc = define_rule(c, RULE_BODY, rest);
		else if (strcmp(dir, "rawbody") == 0)
			rc = define_rule(c, RULE_RAWBODY, rest);
		else if (strcmp(dir, "uri") == 0)
			rc = define_rule(c, RULE_URI, rest);
		else if (strcmp(dir, "full") == 0)
			rc = define_rule(c, RULE_FULL, rest);
		else if (strcmp(dir, "mimeheader") == 0)
			rc = define_rule(c, RULE_MIMEHEADER, rest);
		else if (strcmp(dir, "meta") == 0)
			rc = define_rule(c, RULE_META, rest);
		else if (strcmp(dir, "score") == 0)
			rc = do_score(c, rest);
		else if (strcmp(dir, "describe") == 0 ||
		    strcmp(dir, "tflags") == 0 || strcmp(dir, "priority") == 0)
			rc = do_attr(c, dir, rest);
		else if (strncmp(dir, "replace_", 8) == 0)
			rc = do_replace(c, dir, rest);
		else if (strcmp(dir, "include") == 0) {
			char path[4096];
			const char *slash = strrchr(c->file, '/');

			if (rest[0] == '/' || slash == NULL)
				snprintf(path, sizeof(path), "%s", rest);
			else
				snprintf(path, sizeof(path), "%.*s/%s",
				    (int)(slash - c->file), c->file, rest);
			struct pctx sub = { c->rs, NULL, 0, c->depth + 1,
				c->err, false };
			if (c->no_include) {
				rule__diag(c->rs, RULE_DIAG_ERROR, c->file,
				    c->line, "include not allowed here");
				continue;
			}
			if (c->depth + 1 > MAX_INCLUDE_DEPTH) {
				rule__diag(c->rs, RULE_DIAG_ERROR, c->file,
				    c->line, "include nested too deep");
				continue;
			}
			if ((rc = load_path(&sub, path)) < 0 && rc != -ENOMEM) {
				rule__diag(c->rs, RULE_DIAG_ERROR, c->file,
				    c->line, "include %s: %s", rest,
				    strerror(-rc));
				rc = 0;
			}
		} else if (strcmp(dir, "require_version") == 0) {
			double v = strtod(rest, NULL);

			if (v > SA_VERSION + 1e-9)
				rule__diag(c->rs, RULE_DIAG_WARN, c->file,
				    c->line,
				    "require_version %s: newer than "
				    "the SpamAssassin 4.0.1 syntax supported",
				    rest);
		} else if (rule__hdr_conf(c->rs, dir, rest, c->file, c->line)) {
			/* evals_hdr.c: FreeMail settings */
		} else if (in_list(ignored_directives,
			       NELEM(ignored_directives), dir, strlen(dir)) ||
		    strncmp(dir, "bayes_", 6) == 0 ||
		    strncmp(dir, "def_", 4) == 0) {
			bool dup = false;

			for (size_t i = 0; i < nseen; i++)
				if (strcmp(seen_ignored[i], dir) == 0)
					dup = true;
			if (!dup && nseen < 64 && strlen(dir) < 24) {
				strcpy(seen_ignored[nseen++], dir);
				rule__diag(c->rs, RULE_DIAG_INFO, c->file,
				    c->line,
				    "%s: SpamAssassin setting "
				    "ignored by the rule engine",
				    dir);
			}
		} else {
			rule__diag(c->rs, RULE_DIAG_WARN, c->file, c->line,
			    "unknown directive '%.40s'", dir);
		}
		if (rc < 0)
			return rc;
	}
	if (sp != 0)
		rule__diag(c->rs, RULE_DIAG_ERROR, c->file, c->line,
		    "missing endif (%d open)", sp);
	return 0;
}

static int
load_file(struct pctx *c, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *text;
	long len;
	int rc;

	if (f == NULL)
		return -errno;
	if (fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) < 0) {
		rc = -errno;
		fclose(f);
		return rc;
	}
	if (len > 64L * 1024 * 1024) {
		fclose(f);
		return -EFBIG;
	}
	if ((text = malloc((size_t)len + 1)) == NULL) {
		fclose(f);
		return -ENOMEM;
	}
	if (fread(text, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		free(text);
		return -EIO;
	}
	fclose(f);
	text[len] = '\0';
	if ((c->file = rule__intern(c->rs, path)) == NULL) {
		free(text);
		return -ENOMEM;
	}
	c->line = 0;
	rc = parse_lines(c, text);
	free(text);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
load_path(struct pctx *c, const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return load_file(c, path);
	if ((d = opendir(path)) == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		char **nv;

		if (l < 4 || strcmp(e->d_name + l - 3, ".cf") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			if ((nv = realloc(names, cap * sizeof(*nv))) == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			names = nv;
		}
		if ((names[n] = malloc(strlen(path) + l + 2)) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		sprintf(names[n], "%s/%s", path, e->d_name); /* sized above */
		n++;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = load_file(c, names[i]);
out:
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* rule_set_load - parse every path, then compile */
struct rule_set *
rule_set_load(const char *const *paths, size_t n, struct rule_err *err)
{
	return rule_set_load_opts(paths, n, NULL, err);
}

struct rule_set *
rule_set_load_opts(const char *const *paths, size_t n,
    const struct rule_load_opts *o, struct rule_err *err)
{
	struct rule_set *rs = calloc(1, sizeof(*rs));
	int rc = 0;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (rs == NULL)
		goto nomem;
	if (o != NULL && o->hs_cache_dir != NULL && o->hs_cache_dir[0] &&
	    (rs->hs_cache_dir = strdup(o->hs_cache_dir)) == NULL) {
		free(rs);
		goto nomem;
	}
	rs->hs_build = o != NULL && o->hs_build;
	strcpy(rs->repl_start, "<");
	strcpy(rs->repl_end, ">");
	for (size_t i = 0; i < n; i++) {
		struct pctx c = { rs, NULL, 0, 0, err, false };

		if ((rc = load_path(&c, paths[i])) < 0) {
			if (err != NULL) {
				snprintf(err->file, sizeof(err->file), "%s",
				    paths[i]);
				snprintf(err->msg, sizeof(err->msg), "%s",
				    strerror(-rc));
			}
			rule_set_free(rs);
			return NULL;
		}
	}
	if ((rc = rule__compile(rs)) < 0) {
		rule_set_free(rs);
		goto nomem;
	}
	return rs;
nomem:
	if (err != NULL)
		snprintf(err->msg, sizeof(err->msg), "%s", strerror(ENOMEM));
	return NULL;
}

struct rule_set *
rule_set_load_mem(
    const char *text, size_t len, const char *name, struct rule_err *err)
{
	struct rule_set *rs = calloc(1, sizeof(*rs));
	struct pctx c = { rs, NULL, 0, 0, err, true };
	char *copy = NULL;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (rs == NULL || (copy = strndup(text, len)) == NULL)
		goto nomem;
	strcpy(rs->repl_start, "<");
	strcpy(rs->repl_end, ">");
	if ((c.file = rule__intern(rs, name)) == NULL ||
	    parse_lines(&c, copy) < 0 || rule__compile(rs) < 0)
		goto nomem;
	free(copy);
	return rs;
nomem:
	free(copy);
	rule_set_free(rs);
	if (err != NULL)
		snprintf(err->msg, sizeof(err->msg), "%s", strerror(ENOMEM));
	return NULL;
}

struct rule_set *
rule_set_free(struct rule_set *rs)
{
	if (rs == NULL)
		return NULL;
	rule__compile_free(rs);
	rule__hdr_conf_free(rs);
	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = &rs->v[i];

		reset_def(r);
		free(r->name);
		free(r->describe);
		free(r->lits);
		free(r->tmpl);
		rule__meta_free(r->meta);
	}
	free(rs->v);
	free(rs->tab);
	for (size_t i = 0; i < RULE_NTYPES; i++)
		free(rs->order[i]);
	free(rs->meta_order);
	for (size_t i = 0; i < rs->nstrs; i++)
		free(rs->strs[i]);
	free(rs->strs);
	free(rs->diag);
	for (size_t i = 0; i < rs->ntags; i++) {
		free(rs->tags[i].name);
		free(rs->tags[i].val);
		free(rs->tags[i].ascii);
	}
	free(rs->tags);
	free(rs->prof_ns);
	free(rs->prof_runs);
	free(rs->hs_cache_dir);
	free(rs);
	return NULL;
}

void
rule_set_hs_info(const struct rule_set *rs, struct rule_hs_info *info)
{
	*info = rs->hs_info;
}

void
rule_set_scoreset(struct rule_set *rs, unsigned set)
{
	rs->scoreset = set & 3u;
}

void
rule_set_prefilter(struct rule_set *rs, bool on)
{
	rs->no_prefilter = !on;
}

size_t
rule_set_diag_count(const struct rule_set *rs)
{
	return rs->ndiag;
}

const struct rule_diag *
rule_set_diag_at(const struct rule_set *rs, size_t i)
{
	return i < rs->ndiag ? &rs->diag[i] : NULL;
}

size_t
rule_set_errors(const struct rule_set *rs)
{
	return rs->nerrors;
}

size_t
rule_set_rule_count(const struct rule_set *rs)
{
	size_t k = 0;

	for (size_t i = 0; i < rs->n; i++)
		k += rs->v[i].defined;
	return k;
}

const char *
rule_set_rule_at(const struct rule_set *rs, size_t i, bool *runnable)
{
	for (size_t k = 0; k < rs->n; k++) {
		if (!rs->v[k].defined)
			continue;
		if (i-- == 0) {
			*runnable = rs->v[k].runnable;
			return rs->v[k].name;
		}
	}
	return NULL;
}

bool
rule_set_score(const struct rule_set *rs, const char *name, double *v)
{
	long k = rule__find(rs, name, strlen(name));

	if (k < 0 || !rs->v[k].has_score)
		return false;
	*v = rs->v[k].score[rs->scoreset];
	return true;
}

const char *
rule_set_describe(const struct rule_set *rs, const char *name)
{
	long k = rule__find(rs, name, strlen(name));

	return k < 0 ? NULL : rs->v[k].describe;
}

bool
rule_set_runnable(const struct rule_set *rs, const char *name)
{
	long k = rule__find(rs, name, strlen(name));

	return k >= 0 && rs->v[k].runnable;
}

size_t
rule_set_evals_named(
    struct rule_set *rs, const char *fn, rule_eval_user_cb *cb, void *arg)
{
	size_t k = 0;

	for (size_t i = 0; i < rs->n; i++) {
		struct rule *r = &rs->v[i];

		if (!r->defined || r->evname == NULL ||
		    strcmp(r->evname, fn) != 0)
			continue;
		r->claimed = true;
		r->runnable = true;
		if (cb != NULL)
			cb(arg, r->name, (const char *const *)r->args,
			    r->nargs);
		k++;
	}
	rule__runnable_update(rs);
	return k;
}
