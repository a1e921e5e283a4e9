/*
 * rules/evals_hdr - SpamAssassin's header evals computed from the message
 * model: HeaderEval.pm and RelayEval.pm (the parts that need no network);
 * the FreeMail plugin is evals_freemail.c, which shares this file's regex
 * table, get() and state (evals_hdr_int.h)
 *
 * The Perl sources are the specification; each function names the sub it
 * follows and any deliberate difference. SA's $pms->get() views are built
 * here the way PerMsgStatus::_get builds them (scalar context: decoded
 * values each followed by "\n", concatenated; :raw values unfolded; :addr
 * the first address), so the Perl regexes apply unchanged. Those regexes
 * are compiled once per process (pthread_once) with PCRE2, whose syntax
 * and ASCII semantics match Perl's for them.
 *
 * Memory: strings and the per-message state (struct rule__hdr_state: the
 * Date/Received difference, recipient similarity, the Hotmail verdict,
 * body freemail addresses) come from the message arena; nothing is freed
 * here. Each function returns the hit count (0 or 1); bad arguments make
 * the rule not fire. Never the current time: dates are compared with
 * each other only (HeaderEval _check_date_diff does the same).
 */
#include "rules/rules_int.h"
#include "rules/evals_hdr_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <libpsl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "mail/msg.h"
#include "util/arena.h"
#include "util/buf.h"

#define arg rule__eval_arg
#define argnum rule__eval_argnum
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Regexes ---------------------------------------------------------------- */

/* SA Constants IPV4_ADDRESS and IP_ADDRESS (used without /x here) */
#define OCT "(?:1\\d\\d|2[0-4]\\d|25[0-5]|[1-9]\\d|\\d)"
#define IPV4 "\\b" OCT "\\." OCT "\\." OCT "\\." OCT "\\b"
#define H4 "[a-f0-9]{1,4}"
#define IP_ADDRESS                                                          \
	"(?i:(?:\\b(?<!:)" OCT "\\." OCT "\\." OCT "\\." OCT "\\b"           \
	"|(?:IPv6:|(?<![a-f0-9:]))(?:(?:(?:" H4 ":){6}|::(?:" H4 ":){0,5}"  \
	"|(?:" H4 ":){1,5}:|" H4 "::(?:" H4 ":){1,4}|(?:" H4 ":){2}:(?:" H4 \
	":){1,3}|(?:" H4 ":){3}:(?:" H4 ":){1,2}|(?:" H4 ":){4}:" H4 ":)"   \
	OCT "\\." OCT "\\." OCT "\\." OCT "|(?:" H4 ":){7}" H4               \
	"|:(?::" H4 "){1,7}|(?:" H4 ":){1,7}:|" H4 ":(?::" H4 "){1,6}"      \
	"|(?:" H4 ":){2}(?::" H4 "){1,5}|(?:" H4 ":){3}(?::" H4 "){1,4}"    \
	"|(?:" H4 ":){4}(?::" H4 "){1,3}|(?:" H4 ":){5}(?::" H4 "){1,2}"    \
	"|(?:" H4 ":){6}:" H4 "|::)(?![a-f0-9:])))"

#define FM_LOCAL "[a-z0-9!#\\$%&'*+\\/=?^_`{|}~-]"
#define FM_EMAIL                                                            \
	"(?=.{0,64}\\@)(?<!" FM_LOCAL ")(" FM_LOCAL "+(?:\\." FM_LOCAL "+)*"   \
	"\\@(?:[a-z0-9](?:[a-z0-9-]{0,59}[a-z0-9])?\\.){1,4}"                \
	"(?<![a-zA-Z0-9-])([a-z0-9-]+)(?!(?:[a-zA-Z0-9-]|\\.[a-zA-Z0-9])))"


static const struct rx_src {
	const char *pat;
	uint32_t opts;
} rx_src[RX_N] = {
	[RX_RCVD_DATE] = { "(\\s.?\\d+ \\S\\S\\S \\d+ \\d+:\\d+:\\d+ \\S+)",
	    0 },
	[RX_OUTLOOK_ID] = { "^<[0-9a-f]{4}([0-9a-f]{8})\\$[0-9a-f]{8}\\$"
			    "[0-9a-f]{8}\\@",
	    0 },
	[RX_FETCH_LOCAL] = { "\\bfrom (?:localhost\\s|(?:\\S+ ){1,2}\\S*"
			     "\\b127\\.0\\.0\\.1\\b)",
	    0 },
	[RX_FETCH_QMAIL] = { "qmail \\d+ invoked by uid \\d+", 0 },
	[RX_FETCHMAIL] = { "\\bby localhost with \\w+ \\(fetchmail-[\\d.]+",
	    0 },
	[RX_IP_ADDRESS] = { IP_ADDRESS, 0 },
	[RX_IS_IPV4] = { "^" IPV4 "$", 0 },
	[RX_EZMLM_LIST] = { "^contact \\S+\\@\\S+\\; run by ezmlm$",
	    PCRE2_MULTILINE },
	[RX_EZMLM_DLTO] = { "^mailing list \\S+\\@\\S+", PCRE2_MULTILINE },
	[RX_EZMLM_RCVD] = { "qmail \\d+ invoked (?:from network|by .{3,20})"
			    "\\); \\d+ ... \\d+",
	    0 },
	[RX_MSN_GROUPS_RCVD] = { "from groups\\.msn\\.com \\(\\S+\\.msn\\.com ",
	    0 },
	[RX_MSN_TO] = { "<(\\S+)\\@groups\\.msn\\.com>", PCRE2_CASELESS },
	[RX_MSN_PICKUP] = { "from mail pickup service by ((?:p\\d\\d\\.)groups"
			    "\\.msn\\.com)\\b",
	    0 },
	[RX_HM_PICKUP] = { "from mail pickup service by hotmail\\.com with "
			   "Microsoft SMTPSVC;",
	    0 },
	[RX_HM_1] = { "from (?:\\S*\\.)?hotmail.com \\(\\S+\\.hotmail"
		      "(?:\\.msn)?\\.com[ \\)]",
	    0 },
	[RX_HM_2] = { "from \\S*\\.outbound\\.protection\\.outlook\\.com "
		      "\\(\\S+\\.outbound\\.protection\\.outlook\\.com[ \\)]",
	    0 },
	[RX_HM_3] = { "from \\S*\\.(?:eur|nam)prd\\d+\\.prod\\.outlook\\.com "
		      "\\(" IP_ADDRESS "\\)",
	    0 },
	[RX_HM_4] = { "from \\S*\\.hotmail.com \\(\\[" IP_ADDRESS "\\][ \\):]",
	    0 },
	[RX_HM_5] = { "from \\S+ by \\S+\\.hotmail(?:\\.msn)?\\.com with HTTP\\;",
	    0 },
	[RX_HM_6] = { "from \\[66\\.218.\\S+\\] by \\S+\\.yahoo\\.com", 0 },
	[RX_HM_FORGED] = { "(?:from |HELO |helo=)\\S*hotmail\\.com\\b", 0 },
	[RX_HM_ORIGINATOR] = { "hotmail\\.com|msonline\\-outlook", 0 },
	[RX_YH_WEB] = { "by web\\S+\\.mail\\S*\\.yahoo\\.com via HTTP", 0 },
	[RX_YH_SONIC] = { "by sonic\\S+\\.consmr\\.mail\\S*\\.yahoo\\.com with "
			  "HTTP",
	    0 },
	[RX_YH_SMTP] = { "by smtp\\S+\\.yahoo\\.com with SMTP", 0 },
	[RX_YH_NNFMP] = { "from \\[" IP_ADDRESS "\\] by \\S+\\.(?:groups|scd|dcn)"
			  "\\.yahoo\\.com with NNFMP",
	    0 },
	[RX_YH_BULK] = { "\\bmailer\\d+\\.bulk\\.scd\\.yahoo\\.com\\b", 0 },
	[RX_YH_REPLY] = { "\\@reply\\.yahoo\\.com$", PCRE2_CASELESS },
	[RX_YH_STORY] = { "by \\w+\\.\\w+\\.yahoo\\.com \\(\\d+\\.\\d+\\.\\d+/"
			  "\\d+\\.\\d+\\.\\d+\\)(?: with ESMTP)? id \\w+",
	    0 },
	[RX_JUNO_RCVD] = { "from.*\\b(?:juno|untd)\\.com.*[\\[\\(]" IP_ADDRESS
			   "[\\]\\)].*by",
	    0 },
	[RX_JUNO_COOKIE] = { " cookie\\.(?:juno|untd)\\.com ", 0 },
	[RX_JUNO_MAILCOM] = { "from.*\\bmail\\.com.*\\[" IP_ADDRESS "\\].*by",
	    0 },
	[RX_JUNO_XM_MAILCOM] = { "\\bmail\\.com", 0 },
	[RX_JUNO_WEBMAIL] = { "from (webmail\\S+\\.untd\\.com) \\(\\1 \\["
			      IP_ADDRESS "\\]\\) by",
	    0 },
	[RX_JUNO_XM_WEBMAIL] = { "^Webmail Version \\d", 0 },
	[RX_GM_XRCVD_1] = { "by 10\\.\\S+ with SMTP id \\S+", 0 },
	[RX_GM_XRCVD_2] = { "by 2002\\:a\\d\\d\\:\\w+\\:\\S+ with SMTP id \\S+",
	    0 },
	[RX_GM_RCVD] = { "by smtp\\.googlemail\\.com with ESMTPSA id \\S+", 0 },
	[RX_EUDORA_BY] = { "by \\S*whowhere.com\\;", 0 },
	[RX_AOL_RLY] = { " rly-[a-z][a-z]\\d\\d\\.", PCRE2_CASELESS },
	[RX_AOL_VIA] = { "\\/AOL-\\d+\\.\\d+\\.\\d+\\)", 0 },
	[RX_AOL_ID] = { "ESMTP id (?:RELAY|MAILRELAY|MAILIN)", 0 },
	[RX_RATWARE_MID] = { "<[A-Z]{28}\\.([^>]+?)>", 0 },
	[RX_DOTCOM_HELO] = { "(?:\\.|^)(lycos\\.com|lycos\\.co\\.uk|hotmail\\.com"
			     "|localhost\\.com|excite\\.com|caramail\\.com"
			     "|cs\\.com|aol\\.com|msn\\.com|yahoo\\.com"
			     "|drizzle\\.com)$",
	    PCRE2_CASELESS },
	[RX_FQDN] = { "^\\w+(?:[\\w.-]+\\.)+\\w+$", 0 },
	/* FreeMail.pm $email_welcomelist, $skip_replyto_envfrom */
	[RX_FM_WELCOME] = { "^(?:abuse|support|sales|info|helpdesk|contact"
			    "|kontakt|(?:post|host|domain)master|undisclosed.*"
			    "|request-[a-f0-9]{16}|bounced?-|[a-f0-9]{8}"
			    "(?:\\.[a-f0-9]{8}|-[a-f0-9]{4}-[a-f0-9]{4}-"
			    "[a-f0-9]{4}-[a-f0-9]{12})|.+=.+=.+)\\@",
	    PCRE2_CASELESS },
	[RX_FM_SKIP_ENVFROM] = { "(?:^(?:post|host|domain)master"
				 "|^double-bounce|^(?:sentto|owner|return"
				 "|(?:gr)?bounced?)-.+|-(?:request|bounces?"
				 "|admin|owner)|\\b(?:do[._-t]?)?no[._-t]?"
				 "repl(?:y|ies)|.+=.+)\\@",
	    PCRE2_CASELESS },
	/* FreeMail _init_email_regex, the TLD any label (group 2): the
	 * caller checks it against the TLD list, as valid_tlds_re does */
	[RX_FM_EMAIL] = { FM_EMAIL, PCRE2_CASELESS },
	[RX_FM_STRIP_URL] = { "<?https?://\\S{0,255}(?:\\@|%40)\\S{0,255}",
	    PCRE2_CASELESS },
	[RX_FM_STRIP_EMAIL] = { "<?(?<!mailto:)" FM_EMAIL
				"(?:>|\\s{1,10}(?!(?:fa(?:x|csi)|tel|phone"
				"|e?-?mail))[a-z]{2,11}:)",
	    PCRE2_CASELESS },
};

static pcre2_code *rx[RX_N];
static pthread_once_t rx_once = PTHREAD_ONCE_INIT;

static void
rx_init(void)
{
	for (size_t i = 0; i < RX_N; i++) {
		int err;
		PCRE2_SIZE off;

		/* $ in Perl also matches before a final newline: PCRE2's
		 * default; a failed compile leaves the test never true */
		rx[i] = pcre2_compile((PCRE2_SPTR)rx_src[i].pat,
		    PCRE2_ZERO_TERMINATED, rx_src[i].opts, &err, &off, NULL);
		if (rx[i] != NULL)
			(void)pcre2_jit_compile(rx[i], PCRE2_JIT_COMPLETE);
	}
}

static void
md_free(void *p)
{
	pcre2_match_data_free(p);
}

struct rule__hdr_state *
rule__eh_state(struct rule_ctx *c)
{
	struct rule__hdr_state *st = c->hdr;

	if (st != NULL)
		return st;
	if ((st = arena_calloc(c->arena, 1, sizeof(*st))) == NULL)
		return NULL;
	if ((st->md = pcre2_match_data_create(16, NULL)) == NULL)
		return NULL;
	if (arena_defer(c->arena, md_free, st->md) < 0) {
		pcre2_match_data_free(st->md);
		return NULL;
	}
	pthread_once(&rx_once, rx_init);
	st->hotmail = -1;
	c->hdr = st;
	return st;
}

/* rx_match - pattern id in s from off; true with the offsets of the match
 * (and its groups) in *ov */
bool
rule__eh_rx_match(struct rule_ctx *c, enum rx_id id, struct bstr s, size_t off,
    PCRE2_SIZE **ov)
{
	struct rule__hdr_state *st = rule__eh_state(c);

	if (st == NULL || rx[id] == NULL || off > s.len)
		return false;
	if (pcre2_match(rx[id], s.p != NULL ? s.p : (PCRE2_SPTR) "", s.len,
		off, 0, st->md, c->rs->mctx) < 0)
		return false;
	if (ov != NULL)
		*ov = pcre2_get_ovector_pointer(st->md);
	return true;
}

/* rx_group - group g of the last rx_match on s */
struct bstr
rule__eh_rx_group(const PCRE2_SIZE *ov, struct bstr s, int g)
{
	if (ov[2 * g] == PCRE2_UNSET)
		return bstr_make(s.p, 0);
	return bstr_make(s.p + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
}

/* SA's rule__eh_get() ------------------------------------------------------------- */

/* sa_value - a header value the way SA's Node::header() stores it: a
 * fold (\n[ \t]+) becomes ONE space (RFC 5322 unfolding, the model's
 * value, keeps the whitespace run), trimmed, RFC 2047 decoded */
static struct bstr
sa_value(struct rule_ctx *c, const struct msg_header *h)
{
	struct bstr raw = bstr_trim(h->raw), v;
	unsigned char *o;
	size_t n = 0;

	if (memchr(raw.p, '\n', raw.len) == NULL ||
	    (o = arena_alloc(c->arena, raw.len)) == NULL)
		return h->decoded;
	for (size_t i = 0; i < raw.len; i++) {
		if (raw.p[i] == '\r' && i + 1 < raw.len && raw.p[i + 1] == '\n')
			continue;
		if (raw.p[i] == '\n' && i + 1 < raw.len &&
		    (raw.p[i + 1] == ' ' || raw.p[i + 1] == '\t')) {
			while (i + 1 < raw.len &&
			    (raw.p[i + 1] == ' ' || raw.p[i + 1] == '\t'))
				i++;
			o[n++] = ' ';
			continue;
		}
		o[n++] = raw.p[i];
	}
	v = bstr_trim(bstr_make(o, n));
	if (bstr_find(v, bstr_cstr("=?")) < 0)
		return v;
	return msg_rfc2047_decode(c->arena, v);
}

/* get - scalar $pms->get(name): each decoded value with "\n", joined */
struct bstr
rule__eh_get(struct rule_ctx *c, const char *name)
{
	size_t n = msg_header_count_named(c->msg, name), len = 0;
	struct bstr *v;
	unsigned char *o;

	if (n == 0 || (v = arena_alloc(c->arena, n * sizeof(*v))) == NULL)
		return bstr_make("", 0);
	for (size_t i = 0; i < n; i++) {
		v[i] = sa_value(c, msg_header_get(c->msg, name, i));
		len += v[i].len + 1;
	}
	if ((o = arena_alloc(c->arena, len)) == NULL)
		return bstr_make("", 0);
	len = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(o + len, v[i].p, v[i].len);
		len += v[i].len;
		o[len++] = '\n';
	}
	return bstr_make(o, len);
}

/* get_raw - scalar $pms->get("name:raw"): the values as written after the
 * colon, folds (s/\r?\n\s+/ /g) made one space, each ending in "\n" */
static struct bstr
get_raw(struct rule_ctx *c, const char *name)
{
	size_t n = msg_header_count_named(c->msg, name), len = 0;
	unsigned char *o;

	for (size_t i = 0; i < n; i++)
		len += msg_header_get(c->msg, name, i)->raw.len + 1;
	if (len == 0 || (o = arena_alloc(c->arena, len)) == NULL)
		return bstr_make("", 0);
	len = 0;
	for (size_t i = 0; i < n; i++) {
		struct bstr v = msg_header_get(c->msg, name, i)->raw;
		size_t e = v.len, start = len;

		while (e > 0 && (v.p[e - 1] == '\n' || v.p[e - 1] == '\r'))
			e--;
		for (size_t k = 0; k < e; k++) {
			size_t j = k;

			if (v.p[j] == '\r' && j + 1 < e && v.p[j + 1] == '\n')
				j++;
			if (v.p[j] == '\n') {
				for (j++; j < e && isspace(v.p[j]); j++)
					;
				o[len++] = ' ';
				k = j - 1;
				continue;
			}
			o[len++] = v.p[k];
		}
		(void)start;
		o[len++] = '\n';
	}
	return bstr_make(o, len);
}

/* lines - split s at "\n" into at most max non-empty slices */
static size_t
lines(struct bstr s, struct bstr *v, size_t max)
{
	size_t n = 0, a = 0;

	for (size_t i = 0; i <= s.len && n < max; i++)
		if (i == s.len || s.p[i] == '\n') {
			if (i > a)
				v[n++] = bstr_make(s.p + a, i - a);
			a = i + 1;
		}
	return n;
}

/* Dates ------------------------------------------------------------------ */

static const struct {
	const char *name;
	int off; /* minutes east of UTC */
} tzs[] = {
	{ "UT", 0 }, { "UTC", 0 }, { "NDT", -150 }, { "AST", -240 },
	{ "ADT", -180 }, { "NST", -210 }, { "EST", -300 }, { "EDT", -240 },
	{ "CST", -360 }, { "CDT", -300 }, { "MST", -420 }, { "MDT", -360 },
	{ "PST", -480 }, { "PDT", -420 }, { "HST", -600 }, { "AKST", -540 },
	{ "AKDT", -480 }, { "HADT", -540 }, { "HAST", -600 }, { "GMT", 0 },
	{ "BST", 60 }, { "IST", 60 }, { "WET", 0 }, { "WEST", 60 },
	{ "CET", 60 }, { "CEST", 120 }, { "EET", 120 }, { "EEST", 180 },
	{ "MSK", 180 }, { "MSD", 240 }, { "MET", 60 }, { "MEZ", 60 },
	{ "MEST", 120 }, { "MESZ", 120 }, { "BRST", -120 }, { "BRT", -180 },
	{ "AEST", 600 }, { "AEDT", 660 }, { "ACST", 570 }, { "ACDT", 630 },
	{ "AWST", 480 }, { "NZST", 720 }, { "NZDT", 780 }, { "JST", 540 },
	{ "KST", 540 }, { "HKT", 480 }, { "SGT", 480 }, { "PHT", 480 },
	{ "IDT", 180 },
};

#define DATE_MAX_TOKS 256

static bool
all_digits(struct bstr t, size_t min, size_t max)
{
	if (t.len < min || t.len > max)
		return false;
	for (size_t i = 0; i < t.len; i++)
		if (!isdigit(t.p[i]))
			return false;
	return true;
}

static int
month_of(struct bstr t)
{
	static const char *const m[] = { "jan", "feb", "mar", "apr", "may",
		"jun", "jul", "aug", "sep", "oct", "nov", "dec" };

	if (t.len != 3)
		return 0;
	for (int i = 0; i < 12; i++)
		if (bstr_caseeq_cstr(t, m[i]))
			return i + 1;
	return 0;
}

static long
num(struct bstr t)
{
	long v = 0;

	for (size_t i = 0; i < t.len; i++) {
		if (v > 100000000)
			return LONG_MAX; /* only compared with small bounds */
		v = v * 10 + (t.p[i] - '0');
	}
	return v;
}

/* days_from_civil - days since 1970-01-01 (H. Hinnant's algorithm) */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (long long)doe - 719468;
}

bool
rule__eh_is_word(unsigned char ch)
{
	return isalnum(ch) || ch == '_';
}

/* tz_word - SA's s/\b([A-Z]{2,4}(?:-DST)?)\b/ / on one token (the
 * tokens are separated by non-word characters): -1 no such word in it, 0
 * the first one is no zone SA knows, 1 it is (offset in *tz, minutes) */
static int
tz_word(struct bstr s, int *tz)
{
	for (size_t p = 0; p < s.len; p++) {
		size_t n = 0, e;

		if (!isupper(s.p[p]) || (p > 0 && rule__eh_is_word(s.p[p - 1])))
			continue;
		while (p + n < s.len && isupper(s.p[p + n]))
			n++;
		e = p + n;
		if (n < 2 || n > 4 || (e < s.len && rule__eh_is_word(s.p[e]))) {
			p = e;
			continue;
		}
		if (e + 4 <= s.len && memcmp(s.p + e, "-DST", 4) == 0 &&
		    (e + 4 == s.len || !rule__eh_is_word(s.p[e + 4])))
			return 0; /* "XXX-DST": not in SA's table */
		for (size_t i = 0; i < NELEM(tzs); i++)
			if (strlen(tzs[i].name) == n &&
			    memcmp(tzs[i].name, s.p + p, n) == 0) {
				*tz = tzs[i].off;
				return 1;
			}
		return 0;
	}
	return -1;
}

/*
 * parse_date - Mail::SpamAssassin::Util::parse_rfc822_date, step by step:
 * commas and whitespace runs become single spaces, then the first
 * "D Mon YYYY", "Mon D hh:mm:ss YYYY" (asctime: its time is consumed with
 * it) or "D Mon YY(Y)" triple, the first "h:mm[:ss]", the first "+hhmm"
 * token, else the first capitalised 2-4 letter word as a zone name
 * (unknown: -0000). Out-of-range fields are fudged as SA does; day 0 is
 * an error (Time::Local croaks). false when there is no date.
 */
static bool
parse_date(struct bstr s, long long *out)
{
	struct bstr tok[DATE_MAX_TOKS];
	bool used[DATE_MAX_TOKS] = { false };
	size_t nt = 0, i;
	long dd = 0, mon = 0, yyyy = 0, hh = 0, mm = 0, ss = 0;
	bool found = false, have_tz = false;
	int tz = 0, ylen = 0;
	long long t;

	/* tokens: maximal runs of neither whitespace nor comma */
	for (i = 0; i < s.len && nt < DATE_MAX_TOKS;) {
		size_t a;

		while (i < s.len && (isspace(s.p[i]) || s.p[i] == ','))
			i++;
		a = i;
		while (i < s.len && !isspace(s.p[i]) && s.p[i] != ',')
			i++;
		if (i > a)
			tok[nt++] = bstr_make(s.p + a, i - a);
	}
	for (i = 0; i + 2 < nt && !found; i++)
		if (all_digits(tok[i], 1, SIZE_MAX) &&
		    (mon = month_of(tok[i + 1])) &&
		    all_digits(tok[i + 2], 4, 4)) {
			dd = num(tok[i]);
			yyyy = num(tok[i + 2]);
			ylen = 4;
			used[i] = used[i + 1] = used[i + 2] = found = true;
		}
	for (i = 0; i + 3 < nt && !found; i++) {
		struct bstr x = tok[i + 2];
		size_t k = 0, groups = 0;

		if (!(mon = month_of(tok[i])) || !all_digits(tok[i + 1], 1,
		    SIZE_MAX) || !all_digits(tok[i + 3], 4, 4))
			continue;
		/* \d+:\d+:\d+ */
		for (;;) {
			size_t d0 = k;

			while (k < x.len && isdigit(x.p[k]))
				k++;
			if (k == d0)
				break;
			groups++;
			if (k == x.len || x.p[k] != ':' || groups == 3)
				break;
			k++;
		}
		if (groups != 3 || k != x.len)
			continue;
		dd = num(tok[i + 1]);
		yyyy = num(tok[i + 3]);
		ylen = 4;
		used[i] = used[i + 1] = used[i + 2] = used[i + 3] = true;
		found = true;
	}
	for (i = 0; i + 2 < nt && !found; i++)
		if (all_digits(tok[i], 1, SIZE_MAX) &&
		    (mon = month_of(tok[i + 1])) &&
		    all_digits(tok[i + 2], 2, 3)) {
			dd = num(tok[i]);
			yyyy = num(tok[i + 2]);
			ylen = (int)tok[i + 2].len;
			used[i] = used[i + 1] = used[i + 2] = found = true;
		}
	if (!found)
		return false;
	if (ylen == 2 && yyyy < 50)
		yyyy += 2000;
	else if (ylen != 4)
		yyyy += 1900;
	/* hh:mm[:ss] */
	for (i = 0; i < nt; i++) {
		struct bstr x = tok[i];
		size_t h;

		if (used[i])
			continue;
		for (h = 0; h < x.len && h < 3 && isdigit(x.p[h]); h++)
			;
		if (h < 1 || h > 2 || h >= x.len || x.p[h] != ':' ||
		    !(x.len == h + 3 || x.len == h + 6) ||
		    !all_digits(bstr_make(x.p + h + 1, 2), 2, 2) ||
		    (x.len == h + 6 &&
			(x.p[h + 3] != ':' ||
			    !all_digits(bstr_make(x.p + h + 4, 2), 2, 2))))
			continue;
		hh = num(bstr_make(x.p, h));
		mm = num(bstr_make(x.p + h + 1, 2));
		ss = x.len == h + 6 ? num(bstr_make(x.p + h + 4, 2)) : 0;
		used[i] = true;
		break;
	}
	/* [-+]hhmm */
	for (i = 0; i < nt && !have_tz; i++)
		if (!used[i] && tok[i].len == 5 &&
		    (tok[i].p[0] == '+' || tok[i].p[0] == '-') &&
		    all_digits(bstr_make(tok[i].p + 1, 4), 4, 4)) {
			int v = (int)num(bstr_make(tok[i].p + 1, 4));

			tz = (v / 100) * 60 + v % 100;
			if (tok[i].p[0] == '-')
				tz = -tz;
			have_tz = used[i] = true;
		}
	/* else the first zone-like word of what is left decides */
	for (i = 0; i < nt && !have_tz; i++) {
		int k;

		if (used[i] || (k = tz_word(tok[i], &tz)) < 0)
			continue;
		if (k == 0)
			tz = 0;
		break;
	}
	if (ss > 59)
		ss = 59;
	if (mm > 59)
		mm = 59;
	if (hh > 23)
		hh = 23;
	{
		long max_dd = 31;

		if (mon == 4 || mon == 6 || mon == 9 || mon == 11)
			max_dd = 30;
		else if (mon == 2)
			max_dd = (yyyy % 4 == 0 &&
				     (yyyy % 100 != 0 || yyyy % 400 == 0))
			    ? 29
			    : 28;
		if (dd > max_dd) {
			dd = 1;
			if (++mon > 12) {
				mon = 1;
				yyyy++;
			}
		}
	}
	if (yyyy > 2037)
		yyyy = 2037;
	else if (yyyy < 1970)
		yyyy = 1970;
	if (dd < 1)
		return false; /* timegm croaks */
	t = days_from_civil(yyyy, (unsigned)mon, (unsigned)dd) * 86400 +
	    hh * 3600 + mm * 60 + ss;
	if (tz < 0) {
		t += (long long)-tz * 60;
	} else if (t < (long long)tz * 60) {
		t = 0; /* SA: careful with 1970 and '+' zones */
	} else {
		t -= (long long)tz * 60;
	}
	*out = t;
	return true;
}

/* HeaderEval: dates ------------------------------------------------------ */

/* date_header_time - _get_date_header_time: the first Resent-Date, else
 * Date value that parses */
static bool
date_header_time(struct rule_ctx *c, long long *t)
{
	static const char *const names[] = { "Resent-Date", "Date" };

	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0, n = msg_header_count_named(c->msg, names[k]);
		     i < n; i++)
			if (parse_date(sa_value(c,
					msg_header_get(c->msg, names[k], i)),
				t))
				return true;
	return false;
}

#define MAX_RCVD 64

/* date_diff - _check_date_diff: Date minus each Received date (fetchmail
 * and local hand-offs at the top set aside as _get_received_header_times
 * does), the last one dropped when it is exactly 0, and of the rest the
 * one smallest in absolute value (the first on ties: Perl's stable sort) */
static double
date_diff(struct rule_ctx *c)
{
	struct rule__hdr_state *st = rule__eh_state(c);
	struct bstr rl[MAX_RCVD], all;
	long long dt, diffs[MAX_RCVD], best;
	size_t nr, first = 0, nd = 0;
	PCRE2_SIZE *ov;

	if (st == NULL)
		return 0;
	if (st->date_done)
		return st->date_diff;
	st->date_done = true;
	st->date_diff = 0;
	if (!date_header_time(c, &dt))
		return 0;
	all = rule__eh_get(c, "Received");
	if ((nr = lines(all, rl, MAX_RCVD)) == 0)
		return 0;
	/* @local: a localhost or qmail-invoked top line, kept aside only
	 * when a fetchmail line follows it; a fetchmail line is set aside */
	if (rule__eh_rx_match(c, RX_FETCH_LOCAL, rl[0], 0, NULL) ||
	    rule__eh_rx_match(c, RX_FETCH_QMAIL, rl[0], 0, NULL)) {
		if (nr > 1 && rule__eh_rx_match(c, RX_FETCHMAIL, rl[1], 0, NULL))
			first = 2;
	} else if (rule__eh_rx_match(c, RX_FETCHMAIL, rl[0], 0, NULL)) {
		first = 1;
	}
	for (size_t i = first; i < nr; i++) {
		long long t;

		if (rule__eh_rx_match(c, RX_RCVD_DATE, rl[i], 0, &ov) &&
		    parse_date(rule__eh_rx_group(ov, rl[i], 1), &t))
			diffs[nd++] = dt - t;
	}
	if (nd == 0)
		return 0;
	if (nd > 1 && diffs[nd - 1] == 0)
		nd--;
	best = diffs[0];
	for (size_t i = 1; i < nd; i++)
		if (llabs(diffs[i]) < llabs(best))
			best = diffs[i];
	st->date_diff = (double)best;
	return st->date_diff;
}

/* check_for_shifted_date(min, max) - HeaderEval: min*3600 <= Date minus
 * Received < max*3600, 'undef' for an open end */
static int
ev_shifted_date(struct rule_ctx *c, const struct rule *r)
{
	const char *lo = arg(r, 0), *hi = arg(r, 1);
	double d;

	if (lo == NULL || hi == NULL)
		return 0;
	d = date_diff(c);
	return (strcmp(lo, "undef") == 0 || d >= 3600 * argnum(r, 0, 0)) &&
	    (strcmp(hi, "undef") == 0 || d < 3600 * argnum(r, 1, 0));
}

/* check_outlook_message_id - HeaderEval: an Outlook Express Message-ID
 * ("<xxxx" + 8 hex digits of time + "$...$...@") whose time token is off
 * by 250 or more from the Date header's time and also from "the Received
 * date" - which SA computes by parsing the whole Received text (its match
 * against the last line is not assigned to $_), so the first date in the
 * Received headers, as here */
static int
ev_outlook_message_id(struct rule_ctx *c, const struct rule *r)
{
	static const char *const ids[] = { "X-Message-Id",
		"Resent-Message-Id", "X-Original-Message-ID", "Message-Id" };
	const double x = 0.0023283064365387, y = 27111902.8329849;
	struct bstr id = BSTR_NULL;
	PCRE2_SIZE *ov;
	long long t, token, expected;
	char hex[9];

	(void)r;
	/* rule__eh_get('MESSAGEID'): the first non-empty value of these */
	for (size_t k = 0; k < NELEM(ids) && id.len == 0; k++)
		for (size_t i = 0, n = msg_header_count_named(c->msg, ids[k]);
		     i < n && id.len == 0; i++)
			id = msg_header_get(c->msg, ids[k], i)->decoded;
	if (!rule__eh_rx_match(c, RX_OUTLOOK_ID, id, 0, &ov))
		return 0;
	memcpy(hex, id.p + ov[2], 8);
	hex[8] = '\0';
	token = strtoll(hex, NULL, 16);
	if (!parse_date(rule__eh_get(c, "Date"), &t))
		t = 0;
	expected = (long long)((double)t * x + y);
	if (llabs(token - expected) < 250)
		return 0;
	if (!parse_date(rule__eh_get(c, "Received"), &t))
		t = 0;
	expected = (long long)((double)t * x + y);
	return llabs(token - expected) >= 250;
}

/* squash - s/\s+/ /gs */
static struct bstr
squash(struct rule_ctx *c, struct bstr s)
{
	unsigned char *o;
	size_t n = 0;

	if (s.len == 0 || (o = arena_alloc(c->arena, s.len)) == NULL)
		return bstr_make("", 0);
	for (size_t i = 0; i < s.len; i++) {
		if (isspace(s.p[i])) {
			while (i + 1 < s.len && isspace(s.p[i + 1]))
				i++;
			o[n++] = ' ';
		} else {
			o[n++] = s.p[i];
		}
	}
	return bstr_make(o, n);
}

/* addr - scalar rule__eh_get("name:addr"): the first address of the header's
 * values ("" when none) */
static struct bstr
addr(struct rule_ctx *c, const char *name)
{
	size_t n;
	const struct msg_addr *a = msg_addrs(c->msg, name, &n);

	for (size_t i = 0; a != NULL && i < n; i++)
		if (a[i].addr.len > 0)
			return a[i].addr;
	return bstr_make("", 0);
}

/* ends_domain - SA's /\bDOMAIN$/i on an address */
static bool
ends_domain(struct bstr s, const char *dom)
{
	size_t n = strlen(dom);

	if (s.len < n || !bstr_caseeq_cstr(bstr_sub(s, s.len - n, n), dom))
		return false;
	return s.len == n || !rule__eh_is_word(s.p[s.len - n - 1]);
}

static bool
has(struct rule_ctx *c, const char *name)
{
	return msg_header_count_named(c->msg, name) > 0;
}

bool
rule__eh_match(struct rule_ctx *c, enum rx_id id, struct bstr s)
{
	return rule__eh_rx_match(c, id, s, 0, NULL);
}

/* first_addr - rule__eh_get("name:first:addr"): the first address of the first
 * such header; false when there is none */
static bool
first_addr(struct rule_ctx *c, const char *name, struct bstr *out)
{
	const struct msg_header *h = msg_header_get(c->msg, name, 0);
	struct msg_addr *a;
	size_t n;

	if (h == NULL || msg_addr_parse(c->arena, h->raw, &a, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (a[i].addr.len > 0) {
			*out = a[i].addr;
			return true;
		}
	return false;
}

/* rcvd_before - some Received header comes before a header named name
 * (SA: rule__eh_get("ALL") =~ /^Received:.*?^NAME:/smi) */
static bool
rcvd_before(struct rule_ctx *c, const char *name)
{
	bool seen = false;

	for (size_t i = 0, n = msg_header_count(c->msg); i < n; i++) {
		const struct msg_header *h = msg_header_at(c->msg, i);

		if (bstr_caseeq_cstr(h->name, "Received"))
			seen = true;
		else if (seen && bstr_caseeq_cstr(h->name, name))
			return true;
	}
	return false;
}

/* envfrom - PerMsgStatus::get_envelope_from without envelope_sender_header:
 * the envelope-from of the newest untrusted relay (else the oldest
 * trusted one), else X-Envelope-From, Envelope-Sender or Return-Path
 * when no Received header precedes it; "" when unknown. Difference: the
 * model keeps no "<>" envelope-from apart from an absent one. */
struct bstr
rule__eh_envfrom(struct rule_ctx *c)
{
	struct rule__hdr_state *st = rule__eh_state(c);
	const struct msg_relay *v, *hop = NULL;
	struct bstr e, xs;
	size_t n;

	if (st == NULL)
		return bstr_make("", 0);
	if (st->envfrom_done)
		return st->envfrom;
	st->envfrom_done = true;
	st->envfrom = bstr_make("", 0);
	v = msg_relays(c->msg, &n);
	for (size_t i = 0; v != NULL && i < n && hop == NULL; i++)
		if (v[i].parsed && !v[i].trusted)
			hop = &v[i];
	for (size_t i = n; v != NULL && i > 0 && hop == NULL; i--)
		if (v[i - 1].parsed && v[i - 1].trusted)
			hop = &v[i - 1];
	if (hop != NULL && hop->envfrom.len > 0) {
		const unsigned char *at =
		    memchr(hop->envfrom.p, '@', hop->envfrom.len);

		if (at != NULL && at > hop->envfrom.p)
			return st->envfrom = hop->envfrom;
	}
	/* X-Sender and a fetchmail Received line: nothing to trust */
	if (first_addr(c, "X-Sender", &xs) && memchr(xs.p, '@', xs.len) &&
	    bstr_find(rule__eh_get(c, "Received"), bstr_cstr("(fetchmail")) >= 0)
		return st->envfrom;
	if (first_addr(c, "X-Envelope-From", &e))
		return st->envfrom =
			   rcvd_before(c, "X-Envelope-From") ? st->envfrom : e;
	if (first_addr(c, "Envelope-Sender", &e) &&
	    !rcvd_before(c, "Envelope-Sender"))
		return st->envfrom = e;
	if (first_addr(c, "Return-Path", &e) && !rcvd_before(c, "Return-Path"))
		return st->envfrom = e;
	return st->envfrom;
}

/* utf8_valid - SA Util::is_valid_utf_8 (RFC 3629, no surrogates) */
static bool
utf8_valid(struct bstr s)
{
	for (size_t i = 0; i < s.len;) {
		unsigned char b = s.p[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;

		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf)
			n = 1;
		else if (b >= 0xe0 && b <= 0xef)
			n = 2;
		else if (b >= 0xf0 && b <= 0xf4)
			n = 3;
		else
			return false;
		if (b == 0xe0)
			lo = 0xa0;
		else if (b == 0xed)
			hi = 0x9f;
		else if (b == 0xf0)
			lo = 0x90;
		else if (b == 0xf4)
			hi = 0x8f;
		if (i + n >= s.len)
			return false;
		if (s.p[i + 1] < lo || s.p[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if (s.p[i + k] < 0x80 || s.p[i + k] > 0xbf)
				return false;
		i += n + 1;
	}
	return true;
}

/* check_illegal_chars(header, ratio, count) - HeaderEval: 8-bit and
 * control bytes in the raw header (ALL: the whole raw header section),
 * none if it is valid UTF-8 without controls; Subject may hold one cent,
 * pound or (R) sign */
static int
ev_illegal_chars(struct rule_ctx *c, const struct rule *r)
{
	const char *h = arg(r, 0);
	char name[128];
	struct bstr s;
	size_t illegal = 0, exempt = 0, ctl = 0, high = 0, len;
	bool nonspace = false;

	if (h == NULL || r->nargs < 3 || (len = strlen(h)) >= sizeof(name))
		return 0;
	memcpy(name, h, len + 1);
	if (len > 4 && strcmp(name + len - 4, ":raw") == 0)
		name[len - 4] = '\0';
	if (strcmp(name, "ALL") == 0)
		s = msg_header_block(c->msg);
	else
		s = get_raw(c, name);
	for (size_t i = 0; i < s.len; i++) {
		unsigned char b = s.p[i];

		if (!isspace(b))
			nonspace = true;
		if (b >= 0x80)
			high++;
		if (b <= 0x08 || b == 0x0b || b == 0x0c ||
		    (b >= 0x0e && b <= 0x1f))
			ctl++;
		if (b <= 0x08 || b == 0x0b || b == 0x0c ||
		    (b >= 0x0e && b <= 0x1f) || b >= 0x7f)
			illegal++;
		if (b == 0xa2 || b == 0xa3 || b == 0xae)
			exempt++;
	}
	if (!nonspace)
		return 0;
	if (high > 0 && ctl == 0 && utf8_valid(s))
		return 0;
	if (illegal > 0 && strcasecmp(name, "subject") == 0 && exempt == 1)
		illegal--;
	return (double)illegal / (double)s.len >= argnum(r, 1, 0) &&
	    (double)illegal >= argnum(r, 2, 0);
}

/* HeaderEval: forged webmail Received ------------------------------------ */

/* gated_through_received_hdr_remover - HeaderEval: ezmlm lists and MSN
 * groups remove Received headers; so does a message with none at all */
static bool
gated(struct rule_ctx *c)
{
	if (has(c, "Mailing-List") &&
	    rule__eh_match(c, RX_EZMLM_LIST, rule__eh_get(c, "Mailing-List")) &&
	    rule__eh_match(c, RX_EZMLM_DLTO, rule__eh_get(c, "Delivered-To")) &&
	    rule__eh_match(c, RX_EZMLM_RCVD, rule__eh_get(c, "Received")))
		return true;
	if (!has(c, "Received"))
		return true;
	return rule__eh_match(c, RX_MSN_GROUPS_RCVD, rule__eh_get(c, "Received"));
}

static int
ev_gated(struct rule_ctx *c, const struct rule *r)
{
	(void)r;
	return gated(c);
}

/* rx_dyn - a pattern SA builds from message text (it interpolates the
 * text unquoted, so it is a regex; one that does not compile is no
 * match), on s */
static bool
rx_dyn(struct rule_ctx *c, const char *pat, size_t plen, struct bstr s,
    uint32_t opts)
{
	struct rule__hdr_state *st = rule__eh_state(c);
	pcre2_code *re;
	int err, rc;
	PCRE2_SIZE off;

	if (st == NULL)
		return false;
	re = pcre2_compile((PCRE2_SPTR)pat, plen, opts, &err, &off, NULL);
	if (re == NULL)
		return false;
	rc = pcre2_match(re, s.p != NULL ? s.p : (PCRE2_SPTR) "", s.len, 0, 0,
	    st->md, c->rs->mctx);
	pcre2_code_free(re);
	return rc >= 0;
}

/* check_for_msn_groups_headers - HeaderEval: a To at groups.msn.com, an
 * MSN pickup Received line, a matching Message-Id (and bounce sender) */
static bool
msn_groups(struct rule_ctx *c)
{
	struct bstr to = rule__eh_get(c, "To"), rcvd, list, server;
	PCRE2_SIZE *ov;
	char pat[512];
	int n;

	if (!rule__eh_rx_match(c, RX_MSN_TO, to, 0, &ov))
		return false;
	list = rule__eh_rx_group(ov, to, 1);
	rcvd = rule__eh_get(c, "Received");
	if (!rule__eh_rx_match(c, RX_MSN_PICKUP, rcvd, 0, &ov))
		return false;
	server = rule__eh_rx_group(ov, rcvd, 1);
	if (list.len > 200 || server.len > 200)
		return false;
	if (bstr_eq(list, bstr_cstr("notifications"))) {
		n = snprintf(pat, sizeof(pat), "^<\\S+\\@%.*s>", (int)server.len,
		    (const char *)server.p);
		return n > 0 && (size_t)n < sizeof(pat) &&
		    rx_dyn(c, pat, (size_t)n, rule__eh_get(c, "Message-Id"), 0);
	}
	n = snprintf(pat, sizeof(pat), "^<%.*s-\\S+\\@groups\\.msn\\.com>",
	    (int)list.len, (const char *)list.p);
	if (n <= 0 || (size_t)n >= sizeof(pat) ||
	    !rx_dyn(c, pat, (size_t)n, rule__eh_get(c, "Message-Id"), 0))
		return false;
	n = snprintf(pat, sizeof(pat), "%.*s-bounce\\@groups\\.msn\\.com",
	    (int)list.len, (const char *)list.p);
	return n > 0 && (size_t)n < sizeof(pat) &&
	    rx_dyn(c, pat, (size_t)n, rule__eh_envfrom(c), 0);
}

/* _check_for_forged_hotmail_received_headers - HeaderEval: 1 = Received
 * claims hotmail.com (FORGED_HOTMAIL_RCVD), 2 = From is hotmail.com but
 * no Hotmail Received line (FORGED_HOTMAIL_RCVD2), 0 = neither */
static int
hotmail(struct rule_ctx *c)
{
	struct rule__hdr_state *st = rule__eh_state(c);
	struct bstr rcvd;
	bool ip, orig;

	if (st == NULL)
		return 0;
	if (st->hotmail >= 0)
		return st->hotmail;
	st->hotmail = 0;
	rcvd = squash(c, rule__eh_get(c, "Received"));
	if (rule__eh_match(c, RX_HM_PICKUP, rcvd) || msn_groups(c))
		return 0;
	ip = has(c, "X-Originating-Ip") &&
	    rule__eh_match(c, RX_IP_ADDRESS, rule__eh_get(c, "X-Originating-Ip"));
	orig = has(c, "X-OriginatorOrg") &&
	    rule__eh_match(c, RX_HM_ORIGINATOR, rule__eh_get(c, "X-OriginatorOrg"));
	if (gated(c))
		return 0;
	if ((ip && (rule__eh_match(c, RX_HM_1, rcvd) || rule__eh_match(c, RX_HM_4, rcvd) ||
		       rule__eh_match(c, RX_HM_5, rcvd) || rule__eh_match(c, RX_HM_6, rcvd))) ||
	    (orig && (rule__eh_match(c, RX_HM_2, rcvd) || rule__eh_match(c, RX_HM_3, rcvd))))
		return 0;
	if (rule__eh_match(c, RX_HM_FORGED, rcvd))
		st->hotmail = 1;
	else if (ends_domain(addr(c, "From"), "hotmail.com"))
		st->hotmail = 2;
	return st->hotmail;
}

/* check_for_forged_hotmail_received_headers */
static int
ev_forged_hotmail(struct rule_ctx *c, const struct rule *r)
{
	(void)r;
	return hotmail(c) == 1;
}

/* check_for_no_hotmail_received_headers */
static int
ev_no_hotmail(struct rule_ctx *c, const struct rule *r)
{
	(void)r;
	return hotmail(c) == 2;
}

/* check_for_msn_groups_headers */
static int
ev_msn_groups(struct rule_ctx *c, const struct rule *r)
{
	(void)r;
	return msn_groups(c);
}

/* rdns_yahoo - SA's / rdns=\S+\.yahoo\.com / on a relay string */
static bool
rdns_yahoo(const struct msg_relay *r)
{
	static const char suf[] = ".yahoo.com";
	size_t n = sizeof(suf) - 1;

	return r->rdns.len > n &&
	    memcmp(r->rdns.p + r->rdns.len - n, suf, n) == 0;
}

/* check_for_forged_yahoo_received_headers - HeaderEval */
static int
ev_forged_yahoo(struct rule_ctx *c, const struct rule *r)
{
	struct bstr from = addr(c, "From"), rcvd;
	const struct msg_relay *v;
	size_t n;
	bool first_untrusted = true;

	(void)r;
	if (!ends_domain(from, "yahoo.com"))
		return 0;
	rcvd = rule__eh_get(c, "Received");
	if (rule__eh_get(c, "Resent-From").len > 0 && rule__eh_get(c, "Resent-To").len > 0 &&
	    rule__eh_get(c, "X-Received").len > 0)
		rcvd = rule__eh_get(c, "X-Received");
	rcvd = squash(c, rcvd);
	if (gated(c))
		return 0;
	/* bug 3740: a Yahoo! rDNS in a trusted relay or the first
	 * untrusted one */
	v = msg_relays(c->msg, &n);
	for (size_t i = 0; v != NULL && i < n; i++) {
		if (!v[i].parsed)
			continue;
		if (v[i].trusted ? rdns_yahoo(&v[i])
				 : first_untrusted && rdns_yahoo(&v[i]))
			return 0;
		if (!v[i].trusted)
			first_untrusted = false;
	}
	if (rule__eh_match(c, RX_YH_WEB, rcvd) || rule__eh_match(c, RX_YH_SONIC, rcvd) ||
	    rule__eh_match(c, RX_YH_SMTP, rcvd) || rule__eh_match(c, RX_YH_NNFMP, rcvd))
		return 0;
	if (rule__eh_match(c, RX_YH_BULK, rcvd) && rule__eh_match(c, RX_YH_REPLY, from))
		return 0;
	return !rule__eh_match(c, RX_YH_STORY, rcvd);
}

/* check_for_forged_juno_received_headers - HeaderEval, as written: with
 * no X-Originating-IP every path ends in a hit (its last test reads the
 * empty header) */
static int
ev_forged_juno(struct rule_ctx *c, const struct rule *r)
{
	struct bstr xorig, xmailer, rcvd;

	(void)r;
	if (!ends_domain(addr(c, "From"), "juno.com") || gated(c))
		return 0;
	xorig = rule__eh_get(c, "X-Originating-IP");
	xmailer = rule__eh_get(c, "X-Mailer");
	rcvd = rule__eh_get(c, "Received");
	if (xorig.len > 0) {
		if (!rule__eh_match(c, RX_JUNO_RCVD, rcvd) &&
		    !rule__eh_match(c, RX_JUNO_COOKIE, rcvd))
			return 1;
		return bstr_find(xmailer, bstr_cstr("Juno ")) < 0;
	}
	return 1;
}

/* check_for_forged_gmail_received_headers - HeaderEval */
static int
ev_forged_gmail(struct rule_ctx *c, const struct rule *r)
{
	struct bstr xr;

	(void)r;
	if (!ends_domain(addr(c, "From"), "gmail.com"))
		return 0;
	xr = rule__eh_get(c, "X-Received");
	if (rule__eh_match(c, RX_GM_XRCVD_1, xr) || rule__eh_match(c, RX_GM_XRCVD_2, xr) ||
	    rule__eh_match(c, RX_GM_RCVD, rule__eh_get(c, "Received")))
		return 0;
	/* GOOGLE_MESSAGE_STATE/SMTP_SOURCE_LENGTH_MIN, "\n" counted */
	return !(rule__eh_get(c, "X-Gm-Message-State").len >= 60 &&
	    rule__eh_get(c, "X-Google-Smtp-Source").len >= 60);
}

/* check_for_forged_eudoramail_received_headers - HeaderEval */
static int
ev_forged_eudoramail(struct rule_ctx *c, const struct rule *r)
{
	bool ip;

	(void)r;
	if (!ends_domain(addr(c, "From"), "eudoramail.com"))
		return 0;
	ip = has(c, "X-Sender-Ip") &&
	    rule__eh_match(c, RX_IP_ADDRESS, rule__eh_get(c, "X-Sender-Ip"));
	if (gated(c))
		return 0;
	return !(ip && rule__eh_match(c, RX_EUDORA_BY, squash(c, rule__eh_get(c, "Received"))));
}

/* check_for_fake_aol_relay_in_rcvd - HeaderEval: an AOL relay name
 * ("rly-xx00.") without AOL's own marks */
static int
ev_fake_aol(struct rule_ctx *c, const struct rule *r)
{
	struct bstr rcvd = squash(c, rule__eh_get(c, "Received"));

	(void)r;
	return rule__eh_match(c, RX_AOL_RLY, rcvd) && !rule__eh_match(c, RX_AOL_VIA, rcvd) &&
	    !rule__eh_match(c, RX_AOL_ID, rcvd);
}

/* HeaderEval: addresses -------------------------------------------------- */

/* second_level - HeaderEval check_equal_from_domains: the text after the
 * last '@' cut to its last two labels (s/^.+\.([^\.]+\.[^\.]+)$/$1/) */
static struct bstr
second_level(struct bstr a)
{
	size_t at = SIZE_MAX, dots = 0;
	struct bstr d;

	for (size_t i = 0; i < a.len; i++)
		if (a.p[i] == '@')
			at = i;
	if (at == SIZE_MAX)
		return bstr_make("", 0);
	d = bstr_sub(a, at + 1, a.len);
	for (size_t i = d.len; i > 0; i--)
		if (d.p[i - 1] == '.' && ++dots == 2) {
			/* ".+" before: at least one byte; both labels
			 * non-empty */
			struct bstr t = bstr_sub(d, i, d.len);
			const unsigned char *m = memchr(t.p, '.', t.len);

			if (i - 1 >= 1 && m != NULL && m > t.p &&
			    (size_t)(m - t.p) + 1 < t.len)
				return t;
			break;
		}
	return d;
}

/* check_equal_from_domains - HeaderEval (bug 6487): From and the envelope
 * sender differ in their last two domain labels */
static int
ev_equal_from_domains(struct rule_ctx *c, const struct rule *r)
{
	struct bstr f = second_level(addr(c, "From")), e;

	(void)r;
	if (f.len == 0)
		return 0;
	e = second_level(rule__eh_envfrom(c));
	return e.len > 0 && !bstr_caseeq(f, e);
}

/* check_for_matching_env_and_hdr_from - HeaderEval: envelope sender and
 * From address equal but for case (both empty counts) */
static int
ev_env_hdr_from(struct rule_ctx *c, const struct rule *r)
{
	(void)r;
	return bstr_caseeq(rule__eh_envfrom(c), addr(c, "From"));
}

/* quotemeta - Perl's \Q: every byte but [A-Za-z0-9_] escaped (PCRE2
 * reads a backslash before a non-alphanumeric byte as that byte); false
 * when it does not fit */
static bool
quotemeta(struct buf *b, struct bstr s)
{
	for (size_t i = 0; i < s.len; i++)
		if ((!rule__eh_is_word(s.p[i]) && buf_putc(b, '\\') < 0) ||
		    buf_putc(b, s.p[i]) < 0)
			return false;
	return true;
}

/* check_for_to_in_subject(test) - HeaderEval: the To address ('address')
 * or its local part ('user', in the forms SA lists) in the Subject */
static int
ev_to_in_subject(struct rule_ctx *c, const struct rule *r)
{
	const char *t = arg(r, 0);
	struct bstr to = addr(c, "To"), user;
	struct buf b;
	bool ok, hit;

	if (t == NULL || to.len == 0)
		return 0;
	user = to;
	if (strcmp(t, "user") == 0) {
		const unsigned char *at = memchr(to.p, '@', to.len);

		if (at != NULL)
			user = bstr_make(to.p, (size_t)(at - to.p));
	}
	/* every form needs the text itself: skip the compile without it */
	if (bstr_casefind(rule__eh_get(c, "Subject"), user) < 0)
		return 0;
	buf_init(&b, 8192);
	if (strcmp(t, "address") == 0) {
		ok = buf_puts(&b, "\\b") == 0 && quotemeta(&b, to) &&
		    buf_puts(&b, "\\b") == 0;
	} else if (strcmp(t, "user") == 0) {
		ok = buf_puts(&b, "^(?:(?:re|fw):\\s*(?:\\w+\\s+)?") == 0 &&
		    quotemeta(&b, user) && buf_puts(&b, "$|(?-i:") == 0 &&
		    quotemeta(&b, user) &&
		    buf_puts(&b, ")\\s*[,:;!?-](?:$|\\s)|") == 0 &&
		    quotemeta(&b, user) && buf_puts(&b, "$|,\\s*") == 0 &&
		    quotemeta(&b, user) && buf_puts(&b, "[,:;!?-]$)") == 0;
	} else {
		return 0;
	}
	hit = ok && rx_dyn(c, (const char *)b.p, b.len, rule__eh_get(c, "Subject"),
			PCRE2_CASELESS);
	buf_free(&b);
	return hit;
}

/* check_ratware_name_id - HeaderEval: a Message-ID of 28 capitals, a dot
 * and X, and a From of "Name" <X> */
static int
ev_ratware_name_id(struct rule_ctx *c, const struct rule *r)
{
	static const char *const ids[] = { "X-Message-Id",
		"Resent-Message-Id", "X-Original-Message-ID", "Message-Id" };
	struct bstr mid = BSTR_NULL, x;
	struct buf b;
	PCRE2_SIZE *ov;
	size_t len = 0;
	unsigned char *o;
	bool hit;

	(void)r;
	/* rule__eh_get('MESSAGEID'): all the non-empty values, joined */
	for (size_t k = 0; k < NELEM(ids); k++)
		len += rule__eh_get(c, ids[k]).len;
	if (len == 0 || (o = arena_alloc(c->arena, len)) == NULL)
		return 0;
	for (size_t k = 0; k < NELEM(ids); k++) {
		struct bstr v = rule__eh_get(c, ids[k]);

		memcpy(o + mid.len, v.p, v.len);
		mid = bstr_make(o, mid.len + v.len);
	}
	if (!rule__eh_rx_match(c, RX_RATWARE_MID, mid, 0, &ov))
		return 0;
	x = rule__eh_rx_group(ov, mid, 1);
	buf_init(&b, 8192);
	hit = buf_puts(&b, "\"[^\"]+\"\\s*<") == 0 && quotemeta(&b, x) &&
	    buf_putc(&b, '>') == 0 &&
	    rx_dyn(c, (const char *)b.p, b.len, rule__eh_get(c, "From"), 0);
	buf_free(&b);
	return hit;
}

/* HeaderEval: recipients ------------------------------------------------- */

#define TOCC_SORTED_COUNT 7
#define TOCC_SIMILAR_COUNT 5
#define TOCC_SIMILAR_LENGTH 2
#define TOCC_MAX 256

static int
cmp_bstr(const void *a, const void *b)
{
	const struct bstr *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int k = memcmp(x->p, y->p, n);

	if (k != 0)
		return k;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* _check_recipients - HeaderEval: the ToCc addresses (Bcc too when there
 * are fewer than 5), neighbours equal but for case dropped, at most 256:
 * sorted = 7 or more in sort order; similar = share of pairs with the
 * same first two bytes of the address, plus pairs of different domains
 * with the same first two bytes of the domain */
static void
recipients(struct rule_ctx *c)
{
	struct rule__hdr_state *st = rule__eh_state(c);
	static const char *const hdrs[] = { "To", "Cc", "Bcc" };
	struct bstr *in, *v, *srt;
	size_t nin = 0, nv = 0, tot = 0;

	if (st == NULL || st->recips_done)
		return;
	st->recips_done = true;
	for (size_t h = 0; h < 3; h++) {
		size_t n;

		(void)msg_addrs(c->msg, hdrs[h], &n);
		tot += n;
	}
	if (tot == 0 || (in = arena_alloc(c->arena, tot * sizeof(*in))) ==
		NULL ||
	    (v = arena_alloc(c->arena, tot * sizeof(*v))) == NULL)
		return;
	for (size_t h = 0; h < 3; h++) {
		size_t n;
		const struct msg_addr *a;

		/* Bcc only when To and Cc gave fewer than 5 */
		if (h == 2 && nin >= TOCC_SIMILAR_COUNT)
			break;
		a = msg_addrs(c->msg, hdrs[h], &n);
		for (size_t i = 0; a != NULL && i < n; i++)
			if (a[i].addr.len > 0)
				in[nin++] = a[i].addr;
	}
	for (size_t i = 0; i < nin && nv < TOCC_MAX; i++) {
		/* while (my $current = shift @inputs): "0" ends it */
		if (in[i].len == 1 && in[i].p[0] == '0')
			break;
		if (nv == 0 || !bstr_caseeq(in[i], v[nv - 1]))
			v[nv++] = in[i];
	}
	if (nv >= TOCC_SORTED_COUNT &&
	    (srt = arena_memdup(c->arena, v, nv * sizeof(*v))) != NULL) {
		qsort(srt, nv, sizeof(*srt), cmp_bstr);
		st->sorted = true;
		for (size_t i = 0; i < nv && st->sorted; i++)
			st->sorted = bstr_eq(srt[i], v[i]);
	}
	if (nv >= TOCC_SIMILAR_COUNT) {
		/* @fqhn = map { m/\@(.*)/ } @address: addresses without an
		 * '@' add no element, so later ones shift down (as SA) */
		struct bstr *fq = arena_alloc(c->arena, nv * sizeof(*fq));
		size_t nfq = 0, hits = 0, comb = 0;

		if (fq == NULL)
			return;
		for (size_t i = 0; i < nv; i++) {
			const unsigned char *at = memchr(v[i].p, '@', v[i].len);

			if (at != NULL)
				fq[nfq++] = bstr_make(at + 1,
				    v[i].len - (size_t)(at + 1 - v[i].p));
		}
		for (size_t i = 0; i < nv; i++)
			for (size_t j = i + 1; j < nv; j++) {
				struct bstr ui = bstr_sub(v[i], 0,
						TOCC_SIMILAR_LENGTH),
					    uj = bstr_sub(v[j], 0,
						TOCC_SIMILAR_LENGTH);

				hits += bstr_eq(ui, uj);
				if (j < nfq &&
				    bstr_eq(bstr_sub(fq[i], 0,
						TOCC_SIMILAR_LENGTH),
					bstr_sub(fq[j], 0,
					    TOCC_SIMILAR_LENGTH)) &&
				    !bstr_eq(fq[i], fq[j]))
					hits++;
				comb++;
			}
		st->similar = (double)hits / (double)comb;
	}
}

/* sorted_recipients - HeaderEval */
static int
ev_sorted_recipients(struct rule_ctx *c, const struct rule *r)
{
	(void)r;
	recipients(c);
	return c->hdr != NULL && c->hdr->sorted;
}

/* similar_recipients(min, max) - HeaderEval, 'undef' for an open end */
static int
ev_similar_recipients(struct rule_ctx *c, const struct rule *r)
{
	const char *lo = arg(r, 0), *hi = arg(r, 1);
	double s;

	if (lo == NULL || hi == NULL)
		return 0;
	recipients(c);
	if (c->hdr == NULL)
		return 0;
	s = c->hdr->similar;
	return (strcmp(lo, "undef") == 0 || s >= argnum(r, 0, 0)) &&
	    (strcmp(hi, "undef") == 0 || s < argnum(r, 1, 0));
}

/* lc - a lowercased copy in the arena */
struct bstr
rule__eh_lc(struct rule_ctx *c, struct bstr s)
{
	unsigned char *o;

	if (s.len == 0 || (o = arena_alloc(c->arena, s.len)) == NULL)
		return bstr_make("", 0);
	for (size_t i = 0; i < s.len; i++)
		o[i] = (unsigned char)tolower(s.p[i]);
	return bstr_make(o, s.len);
}

/* RelayEval -------------------------------------------------------------- */

/* ipv4_str - the relay's address as SA's string when IPv4 */
static bool
ipv4_str(const struct msg_relay *r, char *out, size_t outsz)
{
	if (!r->has_ip || r->ip.family != AF_INET)
		return false;
	netaddr_str(&r->ip, out, outsz);
	return true;
}

/* sa_private4 - SA's IP_PRIVATE for a dotted IPv4 string */
static bool
sa_private4(const char *s)
{
	unsigned a, b;

	if (sscanf(s, "%u.%u", &a, &b) != 2)
		return false;
	return a == 10 || a == 127 || (a == 169 && b == 254) ||
	    (a == 172 && b >= 16 && b <= 31) || (a == 192 && b == 168) ||
	    (a == 100 && b >= 64 && b <= 127);
}

/* helo_ip_mismatch - RelayEval: an untrusted relay's HELO is a public
 * IPv4 address outside the /24 of its public IPv4 address */
static int
ev_helo_ip_mismatch(struct rule_ctx *c, const struct rule *r)
{
	size_t n;
	const struct msg_relay *v = msg_relays(c->msg, &n);

	(void)r;
	for (size_t i = 0; v != NULL && i < n; i++) {
		char helo[64], ip[64];
		const char *dot;

		if (!v[i].parsed || v[i].trusted || v[i].helo.len == 0 ||
		    v[i].helo.len >= sizeof(helo))
			continue;
		memcpy(helo, v[i].helo.p, v[i].helo.len);
		helo[v[i].helo.len] = '\0';
		if (!rule__eh_match(c, RX_IS_IPV4, v[i].helo) || sa_private4(helo))
			continue;
		if (!ipv4_str(&v[i], ip, sizeof(ip)) || sa_private4(ip) ||
		    strcmp(helo, ip) == 0)
			continue;
		/* same /24: "a.b.c." prefix */
		dot = strrchr(helo, '.');
		if (strncmp(ip, helo, (size_t)(dot - helo) + 1) != 0)
			return 1;
	}
	return 0;
}


/* sa_private - SA's IP_PRIVATE for a relay address (IPv4 ranges; IPv6
 * link-local, loopback and mapped private IPv4) */
static bool
sa_private(const struct msg_relay *r)
{
	char ip[64];

	if (!r->has_ip)
		return false;
	if (r->ip.family == AF_INET) {
		netaddr_str(&r->ip, ip, sizeof(ip));
		return sa_private4(ip);
	}
	if (r->ip.a[0] == 0xfe && (r->ip.a[1] & 0xc0) == 0x80)
		return true;
	for (size_t i = 0; i < 10; i++)
		if (r->ip.a[i] != 0)
			return false;
	if (r->ip.a[10] == 0xff && r->ip.a[11] == 0xff) {
		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", r->ip.a[12],
		    r->ip.a[13], r->ip.a[14], r->ip.a[15]);
		return sa_private4(ip);
	}
	for (size_t i = 10; i < 15; i++)
		if (r->ip.a[i] != 0)
			return false;
	return r->ip.a[15] == 1;
}

/* RegistryBoundaries ------------------------------------------------------
 * SA's split_domain/trim_domain cut a host at util_rb_tld/_2tld/_3tld
 * (20_aux_tlds.cf, a hand-kept subset of the Public Suffix List with its
 * own private entries such as blogspot.com and dyndns.org). Here the
 * Public Suffix List itself decides (libpsl: the distribution's list,
 * else the built-in one), the TLD check is the URI parser's ICANN table.
 * Difference: hosts are lowercased bytes, not idn_to_ascii'd. */
static psl_ctx_t *rb_psl;
static pthread_once_t rb_once = PTHREAD_ONCE_INIT;

static void
rb_init(void)
{
	if ((rb_psl = psl_latest(NULL)) == NULL)
		rb_psl = (psl_ctx_t *)psl_builtin();
}

/* rule__rb_trim_domain - see rules_int.h */
struct bstr
rule__rb_trim_domain(struct arena *a, struct bstr host)
{
	unsigned char *o;
	const char *rd;
	size_t n = 0;

	if ((o = arena_alloc(a, host.len + 1)) == NULL)
		return bstr_make("", 0);
	/* SA: lc, tr/././s, s/^\.+//, s/\.+$// */
	for (size_t i = 0; i < host.len; i++) {
		unsigned char ch = (unsigned char)tolower(host.p[i]);

		if (ch == '.' && (n == 0 || o[n - 1] == '.'))
			continue;
		o[n++] = ch;
	}
	while (n > 0 && o[n - 1] == '.')
		n--;
	o[n] = '\0';
	if (n == 0 || memchr(o, '\0', n) != NULL)
		return bstr_make(o, n);
	pthread_once(&rb_once, rb_init);
	if (rb_psl == NULL ||
	    (rd = psl_registrable_domain(rb_psl, (const char *)o)) == NULL)
		return bstr_make(o, n); /* a public suffix itself: as SA */
	return bstr_make(rd, n - (size_t)((const unsigned char *)rd - o));
}

/* rule__rb_domain_valid - see rules_int.h */
bool
rule__rb_domain_valid(struct bstr d)
{
	const unsigned char *dot;

	for (size_t i = 0; i < d.len; i++)
		if (isspace(d.p[i]))
			return false;
	if ((dot = memrchr(d.p, '.', d.len)) == NULL)
		return false;
	return msg_tld_valid(bstr_sub(d, (size_t)(dot - d.p) + 1,
	    d.len - (size_t)(dot - d.p) - 1));
}

/* check_ratware_envelope_from - HeaderEval: the envelope sender embeds
 * the To address as "DOMAIN?USER@" (/\b\Q$dom\E.\Q$user\E@/i), dom the
 * registrable domain of the To domain, which must have a valid TLD; not
 * for SRS senders */
static int
ev_ratware_envelope_from(struct rule_ctx *c, const struct rule *r)
{
	struct bstr to = addr(c, "To"), from = rule__eh_envfrom(c), user, dom;
	const unsigned char *at;

	(void)r;
	if (from.len == 0 || to.len == 0)
		return 0;
	if (from.len >= 5 && (from.p[0] | 0x20) == 's' &&
	    (from.p[1] | 0x20) == 'r' && (from.p[2] | 0x20) == 's' &&
	    isdigit(from.p[3]) && memchr("=+-", from.p[4], 3) != NULL)
		return 0;
	if ((at = memchr(to.p, '@', to.len)) == NULL || at == to.p ||
	    at == to.p + to.len - 1)
		return 0;
	user = bstr_make(to.p, (size_t)(at - to.p));
	dom = bstr_make(at + 1, to.len - user.len - 1);
	for (size_t i = 0; i < dom.len; i++) /* (.+) stops at a newline */
		if (dom.p[i] == '\n')
			return 0;
	dom = rule__rb_trim_domain(c->arena, dom);
	if (!rule__rb_domain_valid(dom))
		return 0;
	for (size_t i = 0; i + dom.len + 1 + user.len + 1 <= from.len; i++) {
		size_t j = i + dom.len;

		if ((i > 0 && rule__eh_is_word(from.p[i - 1])) == rule__eh_is_word(dom.p[0]))
			continue; /* \b */
		if (bstr_caseeq(bstr_sub(from, i, dom.len), dom) &&
		    from.p[j] != '\n' &&
		    bstr_caseeq(bstr_sub(from, j + 1, user.len), user) &&
		    from.p[j + 1 + user.len] == '@')
			return 1;
	}
	return 0;
}

/* check_mailfrom_matches_rcvd - WLBLEval _check_addr_matches_rcvd: the
 * envelope sender's registrable domain equals that of the reverse name
 * of the first untrusted relay (else of any trusted one) */
static int
ev_mailfrom_matches_rcvd(struct rule_ctx *c, const struct rule *r)
{
	struct bstr e = rule__eh_envfrom(c), d;
	const unsigned char *at;
	const struct msg_relay *v;
	size_t n, first = SIZE_MAX;
	bool untrusted = false;

	(void)r;
	if (e.len == 0 || (at = memrchr(e.p, '@', e.len)) == NULL)
		return 0;
	d = bstr_make(at + 1, e.len - (size_t)(at - e.p) - 1);
	if (d.len < 3 || memchr(d.p + 1, '.', d.len - 2) == NULL)
		return 0; /* [^@]+ \. [^@]+ */
	d = rule__rb_trim_domain(c->arena, d);
	v = msg_relays(c->msg, &n);
	for (size_t i = 0; v != NULL && i < n; i++)
		if (v[i].parsed && !v[i].trusted) {
			untrusted = true;
			first = i;
			break;
		}
	for (size_t i = 0; v != NULL && i < n; i++) {
		if (!v[i].parsed || (untrusted ? i != first : !v[i].trusted))
			continue;
		if (v[i].rdns.len == 0)
			continue;
		if (bstr_eq(rule__rb_trim_domain(c->arena, v[i].rdns), d))
			return 1;
	}
	return 0;
}

/* check_for_no_rdns_dotcom_helo - RelayEval _check_received_helos: the
 * verdict of the LAST untrusted public relay (SA resets it per relay): a
 * big-dotcom HELO without reverse DNS. Difference: SA counts only MTAs
 * its parser knows to look the name up (mta_looked_up_dns); the model has
 * no such mark, so an empty reverse name counts unless the hop is from
 * Microsoft SMTPSVC or Lotus Domino, the common ones that do not. */
static int
ev_no_rdns_dotcom_helo(struct rule_ctx *c, const struct rule *r)
{
	size_t n;
	const struct msg_relay *v = msg_relays(c->msg, &n);
	int hit = 0;

	(void)r;
	for (size_t i = 0; v != NULL && i < n; i++) {
		if (!v[i].parsed || v[i].trusted || sa_private(&v[i]))
			continue;
		/* MS SMTPSVC and Domino do not look names up (SA) */
		hit = rule__eh_match(c, RX_DOTCOM_HELO, v[i].helo) &&
		    v[i].rdns.len == 0 &&
		    bstr_find(v[i].raw, bstr_cstr("SMTPSVC")) < 0 &&
		    bstr_find(v[i].raw, bstr_cstr("Lotus Domino")) < 0;
	}
	return hit;
}

/* hostname_to_domain - RelayEval: the last two labels when the last has
 * 3+ characters or is ie/fr/de (Perl: /(?:\S{3,}|ie|fr|de)/ unanchored),
 * else three; an IP address (no letter) as is; lowercase input */
static struct bstr
hostname_to_domain(struct bstr h)
{
	size_t nparts = 1, dots[3] = { 0 }, nd = 0;
	struct bstr last;
	bool letter = false, ok = false;

	for (size_t i = 0; i < h.len; i++)
		letter |= isalpha(h.p[i]) != 0;
	if (!letter)
		return h;
	/* split(/\./): trailing empty fields are dropped */
	while (h.len > 0 && h.p[h.len - 1] == '.')
		h.len--;
	for (size_t i = h.len; i > 0; i--)
		if (h.p[i - 1] == '.') {
			nparts++;
			if (nd < 3)
				dots[nd++] = i - 1;
		}
	last = nd > 0 ? bstr_sub(h, dots[0] + 1, h.len) : h;
	for (size_t i = 0, run = 0; i < last.len && !ok; i++) {
		run = isspace(last.p[i]) ? 0 : run + 1;
		ok = run >= 3;
	}
	ok |= bstr_find(last, bstr_cstr("ie")) >= 0 ||
	    bstr_find(last, bstr_cstr("fr")) >= 0 ||
	    bstr_find(last, bstr_cstr("de")) >= 0;
	if (nparts > 1 && ok)
		return nd >= 2 ? bstr_sub(h, dots[1] + 1, h.len) : h;
	if (nparts > 2)
		return nd >= 3 ? bstr_sub(h, dots[2] + 1, h.len) : h;
	return h;
}

/* forged_received - RelayEval _check_for_forged_received: per untrusted
 * relay, the domain it was received by vs the reverse name the next-newer
 * relay gave (mismatch_from); IPv4 HELOs of another /16 than the address
 * (mismatch_ip_helo) */
static void
forged_received(struct rule_ctx *c, int *mfrom, int *mhelo)
{
	size_t n, k = 0;
	const struct msg_relay *v = msg_relays(c->msg, &n);
	struct bstr *from, by, prev;

	*mfrom = *mhelo = 0;
	if (v == NULL || n == 0 ||
	    (from = arena_calloc(c->arena, n, sizeof(*from))) == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct msg_relay *rl = &v[i];
		char ip[64] = "";
		struct bstr hlo;

		if (!rl->parsed || rl->trusted)
			continue;
		by = hostname_to_domain(rule__eh_lc(c, rl->by));
		from[k] = hostname_to_domain(rule__eh_lc(c, rl->rdns));
		hlo = hostname_to_domain(rule__eh_lc(c, rl->helo));
		if (rl->has_ip)
			netaddr_str(&rl->ip, ip, sizeof(ip));
		if (!rule__eh_match(c, RX_FQDN, by)) {
			k++;
			continue;
		}
		if ((bstr_eq(from[k], bstr_cstr("localhost")) ||
			bstr_eq(from[k], bstr_cstr("localhost.localdomain"))) &&
		    strcmp(ip, "127.0.0.1") == 0)
			from[k] = BSTR_NULL;
		if (rl->ip.family == AF_INET && hlo.len > 0 &&
		    rule__eh_match(c, RX_IS_IPV4, hlo) && !bstr_eq(hlo, bstr_cstr(ip))) {
			unsigned a1, a2, b1, b2;
			char hb[64];

			snprintf(hb, sizeof(hb), "%.*s", (int)hlo.len,
			    (const char *)hlo.p);
			if (sscanf(hb, "%u.%u", &a1, &a2) == 2 &&
			    sscanf(ip, "%u.%u", &b1, &b2) == 2 &&
			    (a1 != b1 || a2 != b2) && !sa_private4(hb))
				(*mhelo)++;
		}
		prev = k > 0 ? from[k - 1] : BSTR_NULL;
		if (k > 0 && prev.p != NULL && rule__eh_match(c, RX_FQDN, prev) &&
		    !bstr_eq(by, prev) &&
		    !(bstr_eq(by, bstr_cstr("msn.com")) &&
			bstr_eq(prev, bstr_cstr("hotmail.com"))))
			(*mfrom)++;
		k++;
	}
}

/* check_for_forged_received_trail - RelayEval: 2+ from/by mismatches */
static int
ev_forged_received_trail(struct rule_ctx *c, const struct rule *r)
{
	int mfrom, mhelo;

	(void)r;
	forged_received(c, &mfrom, &mhelo);
	return mfrom > 1;
}

/* check_for_forged_received_ip_helo - RelayEval */
static int
ev_forged_received_ip_helo(struct rule_ctx *c, const struct rule *r)
{
	int mfrom, mhelo;

	(void)r;
	forged_received(c, &mfrom, &mhelo);
	return mhelo > 0;
}

static const char *const to_subject_args[] = { "address", "user", NULL };

const struct rule__evalfn rule__evals_hdr[] = {
	{ "check_for_shifted_date", ev_shifted_date, NULL },
	{ "check_outlook_message_id", ev_outlook_message_id, NULL },
	{ "gated_through_received_hdr_remover", ev_gated, NULL },
	{ "check_for_forged_hotmail_received_headers", ev_forged_hotmail,
	    NULL },
	{ "check_for_no_hotmail_received_headers", ev_no_hotmail, NULL },
	{ "check_for_msn_groups_headers", ev_msn_groups, NULL },
	{ "check_for_forged_yahoo_received_headers", ev_forged_yahoo, NULL },
	{ "check_for_forged_juno_received_headers", ev_forged_juno, NULL },
	{ "check_for_forged_gmail_received_headers", ev_forged_gmail, NULL },
	{ "check_for_forged_eudoramail_received_headers",
	    ev_forged_eudoramail, NULL },
	{ "check_for_fake_aol_relay_in_rcvd", ev_fake_aol, NULL },
	{ "helo_ip_mismatch", ev_helo_ip_mismatch, NULL },
	{ "check_illegal_chars", ev_illegal_chars, NULL },
	{ "sorted_recipients", ev_sorted_recipients, NULL },
	{ "check_equal_from_domains", ev_equal_from_domains, NULL },
	{ "check_for_matching_env_and_hdr_from", ev_env_hdr_from, NULL },
	{ "check_for_to_in_subject", ev_to_in_subject, to_subject_args },
	{ "check_ratware_name_id", ev_ratware_name_id, NULL },
	{ "check_for_no_rdns_dotcom_helo", ev_no_rdns_dotcom_helo, NULL },
	{ "check_ratware_envelope_from", ev_ratware_envelope_from, NULL },
	{ "check_mailfrom_matches_rcvd", ev_mailfrom_matches_rcvd, NULL },
	{ "check_for_forged_received_trail", ev_forged_received_trail, NULL },
	{ "check_for_forged_received_ip_helo", ev_forged_received_ip_helo,
	    NULL },
	{ "similar_recipients", ev_similar_recipients, NULL },
	{ NULL, NULL, NULL },
};
