/* rules_eval_test - rule evaluation on crafted messages: header, body,
 * rawbody, uri, full, mimeheader, eval and meta rules, tflags, scores, the
 * prefilter (same hits with and without it) and the ReDoS bound */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mail/msg.h"
#include "rules/rules.h"
#include "rules/rules_int.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/hits.h"

static const char rules_cf[] =
    "header H_SUBJ    Subject =~ /\\bcheap\\b/i\n"
    "header H_SUBJ_END Subject =~ /watches$/\n"
    "header H_RAW     Subject:raw =~ /=\\?utf-8\\?/i\n"
    "header H_DECODED Subject =~ /caf\\xc3\\xa9/\n"
    "header H_ADDR    From:addr =~ /^bob\\@example\\.com$/\n"
    "header H_NAME    From:name =~ /^Bob Smith$/\n"
    "header H_NEG     X-Mailer !~ /Mutt/\n"
    "header H_UNSET   X-None =~ /^dflt$/ [if-unset: dflt]\n"
    "header H_EXISTS  exists:X-Spam-Bait\n"
    /* a missing header is matched as the empty text (SA: undef) */
    "header H_MISS_EMPTY X-Not-There =~ /^$/\n"
    "header H_MISS_DOT   X-Not-There =~ /./\n"
    "header H_MISS_NEG   X-Not-There !~ /./\n"
    "header H_NOEXIST exists:X-Not-There\n"
    "header H_ALL     ALL =~ /^X-Spam-Bait: yes$/m\n"
    "header H_TOCC    ToCc =~ /^alice\\@a\\.example\\ncarol\\@c\\.example\\n$/\n"
    "header H_TOCC_ADDR ToCc:addr =~ /^alice\\@a\\.example\\ncarol\\@c\\.example$/\n"
    "header H_MID     MESSAGEID =~ /^<abc\\@example\\.com>$/\n"
    "header H_TWO_RCVD Received =~ /by mx1[^\\n]*\\nfrom/\n"
    "body   B_WORD    /replica rolex/i\n"
    "body   B_SUBJ_IN_BODY /^Cheap replica watches$/\n"
    /* tflags nosubject: the Subject line (the body's first) is skipped */
    "body   B_NOSUBJ_SUBJ /^Cheap replica watches$/\n"
    "tflags B_NOSUBJ_SUBJ nosubject\n"
    "body   B_NOSUBJ_BODY /replica rolex/i\n"
    "tflags B_NOSUBJ_BODY nosubject\n"
    "body   B_MULTI   /\\bbuy\\b/i\n"
    "tflags B_MULTI   multiple maxhits=2\n"
    "body   B_NOPE    /this text is not in the message/\n"
    "header __H_CAP   Subject =~ /(?<WORD>rep\\w+)/\n"
    "body   B_TMPL    /%{WORD} rolex/i\n"
    "body   B_TMPL_UNSET /%{NOT_CAPTURED}|rolex/i\n"
    "rawbody R_HTML   /<b>bold<\\/b>/\n"
    "body   B_RENDERED /bold text/\n"
    "uri    U_HOST    /^https?:\\/\\/shop\\.example\\.net\\//\n"
    "full   F_BOUNDARY /boundary=\"XYZ\"/\n"
    "mimeheader M_ATTACH Content-Type =~ /name=\"?invoice\\.exe/i\n"
    "header E_TO_RANGE eval:check_header_count_range('To','1','1')\n"
    "header E_MISSING_TO eval:check_for_missing_to_header()\n"
    "rawbody E_HTML   eval:html_test('html')\n"
    "header E_UNKNOWN eval:no_such_function()\n"
    /* SA's SPF rule: the eval is the auth module's, which adds the hit */
    "header SPF_PASS  eval:check_for_spf_pass()\n"
    "score  SPF_PASS  -0.25\n"
    "meta   META_AUTH SPF_PASS && H_SUBJ\n"
    /* no score line: SA's default 1.0, negated for tflags nice */
    "meta   META_NICE H_SUBJ\n"
    "tflags META_NICE nice\n"
    "meta   META_AND  H_SUBJ && B_WORD\n"
    "meta   META_CNT  (H_SUBJ + B_WORD + B_NOPE + FOREIGN_HIT) >= 3\n"
    "meta   META_NOT  !B_NOPE && !FOREIGN_MISSING\n"
    "meta   META_MULT B_MULTI == 2\n"
    "meta   __META_SUB H_SUBJ\n"
    "meta   META_OF_META __META_SUB && META_AND\n"
    "score  H_SUBJ    1.5\n"
    "score  B_WORD    0 0 2.5 3.5\n"
    "score  META_AND  2.0\n"
    "score  FOREIGN_HIT 4.0\n"
    "score  H_NEG     0\n"
    "score  T_TEST    1\n";

static const char msg_text[] =
    "Received: from relay.example.org by mx1.example.net; "
    "Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    "Received: from client by relay.example.org; "
    "Mon, 1 Jan 2024 00:00:00 +0000\r\n"
    "From: Bob Smith <bob@example.com>\r\n"
    "To: alice@a.example\r\n"
    "Cc: carol@c.example\r\n"
    "Subject: Cheap replica watches\r\n"
    "Message-ID: <abc@example.com>\r\n"
    "X-Spam-Bait: yes\r\n"
    "X-Mailer: Ratware 1.0\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n"
    "\r\n"
    "--XYZ\r\n"
    "Content-Type: text/html; charset=us-ascii\r\n"
    "\r\n"
    "<html><body><p>Get a replica Rolex. Buy buy BUY now.</p>\r\n"
    "<p><b>bold</b> text "
    "<a href=\"http://shop.example.net/x\">here</a></p></body></html>\r\n"
    "--XYZ\r\n"
    "Content-Type: application/octet-stream; name=\"invoice.exe\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "TVqQAAMAAAAEAAAA\r\n"
    "--XYZ--\r\n";

static const char msg2_text[] = "From: x@y.example\r\n"
				"Subject: =?utf-8?q?caf=C3=A9?=\r\n"
				"X-Mailer: Mutt 2.0\r\n"
				"\r\n"
				"plain\r\n";

#include "rules_fixture.h"

static struct hits *
parse(const char *text, struct msg **m)
{
	struct hits *h;

	assert_int_equal(
	    msg_parse((const unsigned char *)text, strlen(text), NULL, m), 0);
	h = hits_new(msg_arena(*m));
	assert_non_null(h);
	return h;
}

static void
test_hits(void **state)
{
	struct fx *fx = *state;
	struct msg *m;
	struct hits *h = parse(msg_text, &m);
	static const char *const want[] = { "H_SUBJ", "H_SUBJ_END", "H_ADDR",
		"H_NAME", "H_UNSET", "H_EXISTS", "H_ALL", "H_TOCC",
		"H_TOCC_ADDR", "H_MID", "H_TWO_RCVD", "B_SUBJ_IN_BODY",
		"B_TMPL", "B_MULTI", "R_HTML", "B_RENDERED", "U_HOST",
		"F_BOUNDARY", "M_ATTACH", "E_TO_RANGE", "E_HTML", "META_AND",
		"META_CNT", "META_NOT", "META_MULT", "META_OF_META",
		"FOREIGN_HIT", "META_AUTH", "SPF_PASS", "META_NICE",
		"H_MISS_EMPTY", "H_MISS_NEG", "B_NOSUBJ_BODY" };
	static const char *const not_want[] = { "H_RAW", "H_DECODED",
		"H_NOEXIST", "B_NOPE", "E_MISSING_TO", "E_UNKNOWN", "H_MISS_DOT",
		"B_NOSUBJ_SUBJ",
		"B_TMPL_UNSET", "__META_SUB", "H_NEG", /* fired, but score 0 */
		"B_WORD" /* set 0 score is 0 */ };
	struct rule_run *run = rule_run_new(fx->rs, m);
	struct hit *x;

	assert_non_null(run);
	assert_int_equal(rule_run_exec(run, h), 0);
	/* another module's hit, before finish: metas see it */
	assert_int_equal(hits_add(h, "FOREIGN_HIT", "dns"), 0);
	assert_int_equal(hits_add(h, "SPF_PASS", "auth"), 0);
	assert_int_equal(rule_run_finish(run, h), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!hits_has(h, want[i]))
			fail_msg("missing hit %s", want[i]);
	for (size_t i = 0; i < sizeof(not_want) / sizeof(not_want[0]); i++)
		if (hits_has(h, not_want[i]))
			fail_msg("unexpected hit %s", not_want[i]);
	/* scores: explicit, set 0 of four, default 1.0, foreign filled in */
	assert_true(hits_get(h, "H_SUBJ")->score == 1.5);
	assert_true(hits_get(h, "H_ADDR")->score == 1.0);
	assert_true(hits_get(h, "FOREIGN_HIT")->score == 4.0);
	/* a rule file's score for a defined rule another module fires */
	assert_true(hits_get(h, "SPF_PASS")->score == -0.25);
	assert_true(hits_get(h, "META_NICE")->score == -1.0);
	assert_true(hits_get(h, "META_CNT")->score == 1.0);
	x = hits_get(h, "B_MULTI");
	assert_int_equal(x->count, 2); /* maxhits=2 of 3 "buy" */
	msg_free(m);
}

static void
test_decoded_and_neg(void **state)
{
	struct fx *fx = *state;
	struct msg *m;
	struct hits *h = parse(msg2_text, &m);

	assert_int_equal(rule_set_check(fx->rs, m, h), 0);
	assert_true(hits_has(h, "H_RAW"));
	assert_true(hits_has(h, "H_DECODED"));
	assert_true(hits_has(h, "E_MISSING_TO"));
	assert_false(hits_has(h, "H_NEG")); /* Mutt: !~ does not fire */
	assert_false(hits_has(h, "H_SUBJ"));
	assert_true(hits_has(h, "META_NOT"));
	msg_free(m);
}

static void
test_scoreset(void **state)
{
	struct fx *fx = *state;
	struct msg *m;
	struct hits *h = parse(msg_text, &m);

	rule_set_scoreset(fx->rs, 3);
	assert_int_equal(rule_set_check(fx->rs, m, h), 0);
	rule_set_scoreset(fx->rs, 0);
	assert_true(hits_get(h, "B_WORD")->score == 3.5);
	msg_free(m);
}

/* The prefilter must not change any result: the default ruleset over
 * varied messages, with and without it. */
static void
test_prefilter_same(void **state)
{
	const char *path = "rules/default";
	struct rule_err e;
	struct rule_set *rs = rule_set_load(&path, 1, &e);
	const char *texts[] = { msg_text, msg2_text,
		"Subject: WORK FROM HOME!!\r\nTo: x@y\r\n\r\n"
		"Earn $5,000 per week working from home. Click here! "
		"100% guaranteed, no risk. To be removed from this list "
		"reply with remove.\r\n",
		"From: \"PayPal Security\" <support@hotmail.com>\r\n"
		"Subject: Account suspended\r\n\r\nYour account has been "
		"suspended. Verify your account within 24 hours at "
		"http://10.1.2.3/login.php\r\n" };

	(void)state;
	assert_non_null(rs);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct msg *m1, *m2;
		struct hits *h1, *h2;

		h1 = parse(texts[i], &m1);
		rule_set_prefilter(rs, true);
		assert_int_equal(rule_set_check(rs, m1, h1), 0);
		h2 = parse(texts[i], &m2);
		rule_set_prefilter(rs, false);
		assert_int_equal(rule_set_check(rs, m2, h2), 0);
		rule_set_prefilter(rs, true);
		hits_sort(h1);
		hits_sort(h2);
		assert_int_equal(hits_count(h1), hits_count(h2));
		for (size_t k = 0; k < hits_count(h1); k++)
			assert_string_equal(
			    hits_at(h1, k)->name, hits_at(h2, k)->name);
		if (i >= 2)
			assert_true(hits_count(h1) >= 3);
		msg_free(m1);
		msg_free(m2);
	}
	rule_set_free(rs);
}

/* The Hyperscan prefilter and the other shortcuts (gate without the
 * (?:^|\s) prefix, ASCII form of replace_tag rules, factors) must not
 * change any result either: rules that exercise prefilter mode
 * (lookaround, backreference), counts (tflags multiple), flags, tags with
 * 8-bit look-alikes, every text type; every fired rule and its count
 * compared with the unfiltered run, on ASCII and 8-bit messages. */
static const char hs_cf[] =
    "replace_tag L (?:[lL1|]|[\\xc5][\\x82])\n"
    "replace_tag O (?:[oO0]|[\\xc3][\\xb2-\\xb6]|[\\xd0][\\xbe])\n"
    "replace_tag A (?:[aA4@]|[\\xc3][\\xa0-\\xa5]|[\\xd0][\\xb0])\n"
    "replace_tag N (?:[nN]|[\\xc3][\\xb1])\n"
    "body  T_LOOK    /\\bfree(?!dom)\\b/i\n"
    "body  T_BEHIND  /(?<!not )guaranteed/i\n"
    "body  T_BACKREF /\\b(\\w{3,}) \\1\\b/\n"
    "body  T_MULTI   /\\bwin\\w*/i\n"
    "tflags T_MULTI  multiple maxhits=5\n"
    "body  T_DOTALL  /start.{0,30}end/s\n"
    "body  T_ANCHOR  /^Dear friend/m\n"
    "body  T_X       /c l i c k \\s here/x\n"
    "body  T_TAG     /(?:^|\\s)<L><O><A><N>\\s/i\n"
    "replace_rules T_TAG\n"
    "body  T_TAG2    /(?:^|\\s)(?:<L><O><A><N>s?|p<A>yp<A><L>)\\b/i\n"
    "replace_rules T_TAG2\n"
    "body  T_TAGM    /<L><O><A><N>/i\n"
    "replace_rules T_TAGM\n"
    "tflags T_TAGM   multiple\n"
    "body  T_EMPTY   /x*/\n"
    "body  T_CLASS   /[0-9]{3}-[0-9]{4}/\n"
    "rawbody T_RAW   /<font[^>]*color/i\n"
    "uri   T_URI     /example\\.(?:com|net)\\/login/\n"
    "uri   T_URI_NO  /nowhere\\.example/\n"
    "full  T_FULL    /^Subject: .*loan/m\n";

static const char *const hs_msgs[] = {
	"Subject: cheap loan\r\nTo: a@b\r\n\r\nDear friend,\r\n"
	"Get a free loan today, win win winner winning! 100% guaranteed.\r\n"
	"start here and end there. click here\r\nthe the end\r\n"
	"Call 555-1234 http://example.com/login?x=1\r\n",
	"Subject: freedom\r\n\r\nnot guaranteed, freedom, l0an, L04N and "
	"paypal at http://example.net/login\r\n",
	"Subject: =?utf-8?q?l=C3=B3an?=\r\nMIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\n\r\n"
	"Your l\xc3\xb3\xc3\xa0n and \xc5\x82oan p\xc3\xa0yp\xc3\xa0l "
	"loans\r\nwin\r\n",
	"Subject: html\r\nMIME-Version: 1.0\r\n"
	"Content-Type: text/html\r\n\r\n<html><body><font size=2 "
	"color=red>Free LOAN</font> start<br>end "
	"<a href=\"http://example.com/login\">x</a></body></html>\r\n",
	"Subject: empty\r\n\r\n",
};

static size_t
fired(struct rule_set *rs, const char *text, char names[][32],
    unsigned *counts, size_t max)
{
	struct msg *m;
	struct hits *h = parse(text, &m);
	struct rule_run *run = rule_run_new(rs, m);
	const char *nm;
	size_t n = 0;

	assert_non_null(run);
	assert_int_equal(rule_run_exec(run, h), 0);
	assert_int_equal(rule_run_finish(run, h), 0);
	while (n < max && (nm = rule_run_fired_at(run, n, &counts[n])) != NULL)
		snprintf(names[n++], 32, "%s", nm);
	msg_free(m);
	return n;
}

/* same_fired - rs fires the same rules, with the same counts, with its
 * shortcuts (prefilter, Hyperscan, gates, lazy rules) and without; the
 * rules and counts go to names/counts, their number is returned */
static size_t
same_fired(struct rule_set *rs, const char *text, char names[][32],
    unsigned *counts, size_t max)
{
	char n2[64][32];
	unsigned c2[64];
	size_t k1, k2;

	rule_set_prefilter(rs, true);
	k1 = fired(rs, text, names, counts, max);
	rule_set_prefilter(rs, false);
	k2 = fired(rs, text, n2, c2, max < 64 ? max : 64);
	rule_set_prefilter(rs, true);
	assert_int_equal(k1, k2);
	for (size_t k = 0; k < k1; k++) {
		assert_string_equal(names[k], n2[k]);
		assert_int_equal(counts[k], c2[k]);
	}
	return k1;
}

static void
test_hyperscan_same(void **state)
{
	struct rule_err e;
	struct rule_set *rs =
	    rule_set_load_mem(hs_cf, sizeof(hs_cf) - 1, "hs.cf", &e);
	char n1[64][32];
	unsigned c1[64];
	size_t in_hs = 0;
	bool tag_hit = false, multi = false, tagm = false, x = false;

	(void)state;
	assert_non_null(rs);
	assert_int_equal(rule_set_errors(rs), 0);
	for (size_t i = 0; i < rs->n; i++)
		in_hs += rs->v[i].in_hs;
	/* Hyperscan needs SSSE3; elsewhere only the PCRE2 shortcuts run */
	if (__builtin_cpu_supports("ssse3"))
		assert_true(in_hs >= 8);
	for (size_t i = 0; i < sizeof(hs_msgs) / sizeof(hs_msgs[0]); i++) {
		size_t k1 = same_fired(rs, hs_msgs[i], n1, c1, 64);

		for (size_t k = 0; k < k1; k++) {
			tag_hit |= i == 2 && strcmp(n1[k], "T_TAG2") == 0;
			multi |= i == 0 && strcmp(n1[k], "T_MULTI") == 0 &&
			    c1[k] == 4;
			tagm |= i == 1 && strcmp(n1[k], "T_TAGM") == 0 &&
			    c1[k] == 2;
			x |= i == 0 && strcmp(n1[k], "T_X") == 0;
		}
		if (i == 0)
			assert_true(k1 >= 9);
	}
	/* the 8-bit look-alikes match through the full pattern */
	assert_true(tag_hit);
	assert_true(multi);
	assert_true(tagm); /* l0an, L04N */
	assert_true(x);
	rule_set_free(rs);
}

/* check_ms - rule_set_check on m, failing the test when its wall time
 * reaches limit ms (what names it in the output) */
static void
check_ms(struct rule_set *rs, struct msg *m, struct hits *h, const char *what,
    double limit)
{
	struct timespec t0, t1;
	double ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(rule_set_check(rs, m, h), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("%s: %.1f ms\n", what, ms);
	if (ms >= limit)
		fail_msg("%s took %.1f ms", what, ms);
}

/* Classic catastrophic patterns on hostile input: each line holds the
 * characters the pattern requires (so PCRE2's required-character check
 * cannot skip the work) and fails only at its end. The PCRE2 match limit
 * keeps every message well under 50 ms. */
static void
test_redos(void **state)
{
	static const char cf[] = "body R1 /^(a|aa)+$/\n"
				 "body R2 /(x+x+)+y/\n"
				 "body R3 /^(\\w+\\s?)*$/\n"
				 "rawbody R4 /(a*)*b/\n"
				 "full R5 /(.*a){12}x/\n"
				 "body R6 /(?:a|a?)+z/\n";
	struct rule_err e;
	struct rule_set *rs = rule_set_load_mem(cf, sizeof(cf) - 1, "r.cf", &e);
	char *text = malloc(64000);
	size_t n;

	(void)state;
	assert_non_null(rs);
	assert_non_null(text);
	n = (size_t)snprintf(text, 100, "Subject: x\r\n\r\n");
	for (int l = 0; l < 6; l++) {
		/* "y", "b", "x", "z" up front, then a long run, then '!' */
		memcpy(text + n, "ybxz ", 5);
		n += 5;
		for (int k = 0; k < 40; k++) {
			memset(text + n, l % 2 ? 'x' : 'a', 60);
			n += 60;
			text[n++] = l % 3 ? ' ' : (l % 2 ? 'x' : 'a');
		}
		memcpy(text + n, "!\r\n\r\n", 5);
		n += 5;
	}
	text[n] = '\0';
	for (int rep = 0; rep < 3; rep++) {
		struct msg *m;
		struct hits *h = parse(text, &m);

		check_ms(rs, m, h, "ReDoS message", 50);
		assert_false(hits_has(h, "R1"));
		msg_free(m);
	}
	free(text);
	rule_set_free(rs);
}

/* rawbody pieces: SA's split_into_array_of_short_paragraphs cuts a text
 * over 4 KiB after the first newline, else '>', else space at or past
 * 2 KiB that keeps the piece within 4 KiB, else at 2 KiB + 1; a rawbody
 * rule sees one piece at a time. Then an 8 MB line without a cut
 * character: the cut search stays inside the window (it used to search to
 * the end of the text for every piece: 17 s for 8 MB). */
static void
test_rawbody_pieces(void **state)
{
	static const char cf[] =
	    "rawbody P_NL_CUT   /^a{3000}\\n$/\n"
	    "rawbody P_NL_JOIN  /a\\nb/\n"
	    "rawbody P_GT_CUT   /^c{2500}>$/\n"
	    "rawbody P_SP_CUT   /^d{3000} $/\n"
	    "rawbody P_HARD_CUT /^x{2049}$/\n"
	    "rawbody P_HARD_END /^x{3853}\\n$/\n"
	    "rawbody P_LONG_END /yz$/\n";
	static const struct {
		char fill;
		size_t n;
		char mid;
		size_t n2;
		const char *hit, *miss;
	} cases[] = {
		{ 'a', 3000, '\n', 3000, "P_NL_CUT", "P_NL_JOIN" },
		{ 'c', 2500, '>', 2500, "P_GT_CUT", NULL },
		{ 'd', 3000, ' ', 2000, "P_SP_CUT", NULL },
		{ 'x', 10000, 0, 0, "P_HARD_CUT", NULL },
		{ 'x', 10000, 0, 0, "P_HARD_END", NULL },
	};
	struct rule_err e;
	struct rule_set *rs = rule_set_load_mem(cf, sizeof(cf) - 1, "r.cf", &e);
	const size_t big = 8u << 20;
	char *text = malloc(big + 100);
	struct msg *m;
	struct hits *h;

	(void)state;
	assert_non_null(rs);
	assert_non_null(text);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = (size_t)snprintf(text, 100, "Subject: x\r\n\r\n");

		memset(text + n, cases[i].fill, cases[i].n);
		n += cases[i].n;
		if (cases[i].mid) {
			text[n++] = cases[i].mid;
			memset(text + n, cases[i].fill == 'a' ? 'b' : cases[i].fill,
			    cases[i].n2);
			n += cases[i].n2;
		}
		memcpy(text + n, "\r\n", 3);
		h = parse(text, &m);
		assert_int_equal(rule_set_check(rs, m, h), 0);
		if (!hits_has(h, cases[i].hit))
			fail_msg("case %zu: missing %s", i, cases[i].hit);
		if (cases[i].miss && hits_has(h, cases[i].miss))
			fail_msg("case %zu: unexpected %s", i, cases[i].miss);
		msg_free(m);
	}
	/* 8 MB of 'x' then "yz": the last piece still ends with "yz" */
	size_t n = (size_t)snprintf(text, 100, "Subject: x\r\n\r\n");
	memset(text + n, 'x', big);
	n += big;
	memcpy(text + n, "yz\r\n", 5);
	h = parse(text, &m);
	/* linear: tens of ms (hundreds under ASan); the quadratic search
	 * took seconds */
	check_ms(rs, m, h, "8 MB line", 3000);
	assert_true(hits_has(h, "P_LONG_END"));
	msg_free(m);
	free(text);
	rule_set_free(rs);
}

/* Gates (a tail of the pattern PCRE2 can search for, compile.c
 * gate_strip) and lazy __ sub-rules (run only when a meta needs them,
 * && reading its cheaper operand first) must not change any result: the
 * same hits, fired rules and counts as the run without shortcuts. */
/* a top-level (?:X){n} too large for PCRE2 (link size 2) compiles as
 * (X)(?1){n-1} and matches the same texts (SA's __FILL_THIS_FORM_LONG1) */
static void
test_repeat_rewrite(void **state)
{
	struct buf cf;
	struct rule_err e;
	struct rule_set *rs;
	static const char *const texts[] = {
		"Subject: x\r\n\r\nsend wq17 then wq2002 and wq9 now\r\n",
		"Subject: x\r\n\r\nsend wq17 then wq2002 now\r\n",
		"Subject: x\r\n\r\nsend wq17 wq17 (wq17 and wq3)\r\n",
	};
	static const bool want[] = { true, false, true };
	static const bool want_all[] = { false, false, true };

	(void)state;
	buf_init(&cf, 1u << 20);
	assert_int_equal(buf_puts(&cf, "body REP /(?:(?:"), 0);
	for (int i = 0; i < 3000; i++)
		assert_int_equal(buf_printf(&cf, "%swq%d", i ? "|" : "", i), 0);
	assert_int_equal(buf_puts(&cf, ")\\b(?:\\s\\(?|\\s\\w+\\s)?){3}/\n"
	    "body REP_ALL /(?:(?:"), 0);
	for (int i = 0; i < 3000; i++)
		assert_int_equal(buf_printf(&cf, "%swq%d", i ? "|" : "", i), 0);
	assert_int_equal(buf_puts(&cf, ")\\b\\W*){2,}/\n"), 0);
	rs = rule_set_load_mem((const char *)cf.p, cf.len, "rep.cf", &e);
	assert_non_null(rs);
	assert_true(rule_set_runnable(rs, "REP"));
	assert_true(rule_set_runnable(rs, "REP_ALL"));
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct msg *m;
		struct hits *h = parse(texts[i], &m);

		assert_int_equal(rule_set_check(rs, m, h), 0);
		if (hits_has(h, "REP") != want[i])
			fail_msg("REP on text %zu: %d", i, hits_has(h, "REP"));
		if (hits_has(h, "REP_ALL") != want_all[i])
			fail_msg("REP_ALL on text %zu", i);
		msg_free(m);
	}
	rule_set_free(rs);
	buf_free(&cf);
}

static const char lazy_cf[] =
    "body  __DRUG  /(?:\\b|\\s)[_\\W]{0,3}p[_\\W]{0,3}h[_\\W]{0,3}[e3][_\\W]{0,3}n(?:\\b|\\s)/i\n"
    "body  __PAYP  /(?:^|\\W)(?=[pP])(?!paypal)[pP][aA4@][yY][pP][aA4@][lL1](?:$|\\W)/\n"
    "body  __FORM  /(?:(?:your\\s)?(?:full\\s)?(?:name|address|phone)[\\s:]{1,3}){3}/i\n"
    "body  __OPT   /(?:dear\\s)?(?:sir|madam)\\b/i\n"
    "body  __MULTI /\\bwin\\w*/i\n"
    "tflags __MULTI multiple\n"
    "body  __NEVER /zzqqxx/\n"
    "uri   __URI   /example\\.com/\n"
    "header __SUBJ_LOAN Subject =~ /loan/i\n"
    "header __ML   exists:List-Id\n"
    "meta  __FORM_NOT_ML  __FORM && !__ML\n"
    "meta  DRUG_SPAM  __DRUG && __SUBJ_LOAN\n"
    "meta  PAYP_OBFU  __PAYP || __NEVER\n"
    "meta  FORM_SPAM  __FORM_NOT_ML && __SUBJ_LOAN\n"
    "meta  OPT_ML     __ML && __OPT\n"
    "meta  MANY_WIN   __MULTI > 2\n"
    "meta  SUM3       (__DRUG + __PAYP + __FORM + __URI) > 2\n"
    "meta  ARITH      (__OPT && __MULTI) + 1 > 2\n"
    "body  NEED_GATE  /(?:^|\\s)[_\\W]{0,2}c[_\\W]{0,2}l[_\\W]{0,2}i[_\\W]{0,2}c[_\\W]{0,2}k\\b/i\n"
    "score DRUG_SPAM 1\nscore PAYP_OBFU 1\nscore FORM_SPAM 1\n"
    "score OPT_ML 1\nscore MANY_WIN 1\nscore SUM3 1\nscore ARITH 1\n"
    "score NEED_GATE 1\n"
    "header __T_CAP   To =~ /(?<TOADDR>[\\w.]+\\@[\\w.]+)/\n"
    "uri   T_TMPL_URI m;^https?://.{5,100}\\#%{TOADDR};i\n"
    "score T_TMPL_URI 1\n"
    "uri   T_TMPL_URIM m;[?&]e=%{TOADDR};i\n"
    "tflags T_TMPL_URIM multiple\n"
    "score T_TMPL_URIM 1\n";

static const char *const lazy_msgs[] = {
	"Subject: loan offer\r\n\r\nBuy p-h-3-n now! Your full name: "
	"address: phone: and p4ypal, win winner winning wins\r\n"
	"http://example.com/ Dear sir, c.l.i.c.k here\r\n",
	"Subject: loan\r\nList-Id: <x.example>\r\n\r\nname: address: "
	"phone: dear madam win wins\r\npaypal and paypal\r\n",
	"Subject: hello\r\n\r\nnothing here at all\r\n",
	"Subject: loans\r\nList-Id: <y>\r\n\r\n _p_h_e_n_ sir win\r\n",
	/* the template's value in a URI (fires), and not (skipped early) */
	"To: Bob.Smith@Example.test\r\nSubject: doc\r\n\r\nsee "
	"http://files.example.net/share#bob.smith@example.test now\r\n",
	"To: bob.smith@example.test\r\nSubject: doc\r\n\r\nsee "
	"http://files.example.net/share#someone@else.test now\r\n",
	/* only the URIs holding the value are matched (eval.c
	 * tmpl_uris): two of four here, counted in order */
	"To: bob.smith@example.test\r\nSubject: doc\r\n\r\n"
	"http://a.example.net/x?e=someone@else.test\r\n"
	"http://b.example.net/x?e=Bob.Smith@example.test\r\n"
	"http://c.example.net/#bob.smith@example.test\r\n"
	"http://d.example.net/y?a=1&e=bob.smith@example.test\r\n",
};

static void
test_gate_lazy_same(void **state)
{
	struct rule_err e;
	struct rule_set *rs =
	    rule_set_load_mem(lazy_cf, sizeof(lazy_cf) - 1, "lazy.cf", &e);
	char n1[64][32];
	unsigned c1[64];
	long k;

	(void)state;
	assert_non_null(rs);
	assert_int_equal(rule_set_errors(rs), 0);
	/* what the shortcuts were meant to catch */
	k = rule__find(rs, "__DRUG", 6);
	assert_true(k >= 0 && rs->v[k].lazy && rs->v[k].gate_re != NULL);
	k = rule__find(rs, "NEED_GATE", 9);
	assert_true(k >= 0 && !rs->v[k].lazy && rs->v[k].gate_re != NULL);
	k = rule__find(rs, "__FORM_NOT_ML", 13);
	assert_true(k >= 0 && rs->v[k].lazy);
	k = rule__find(rs, "__SUBJ_LOAN", 11);
	assert_true(k >= 0 && !rs->v[k].lazy); /* header rules run always */
	for (size_t i = 0; i < sizeof(lazy_msgs) / sizeof(lazy_msgs[0]);
	     i++) {
		struct msg *m1, *m2;
		struct hits *h1, *h2;

		(void)same_fired(rs, lazy_msgs[i], n1, c1, 64);
		h1 = parse(lazy_msgs[i], &m1);
		assert_int_equal(rule_set_check(rs, m1, h1), 0);
		rule_set_prefilter(rs, false);
		h2 = parse(lazy_msgs[i], &m2);
		assert_int_equal(rule_set_check(rs, m2, h2), 0);
		rule_set_prefilter(rs, true);
		hits_sort(h1);
		hits_sort(h2);
		assert_int_equal(hits_count(h1), hits_count(h2));
		for (size_t j = 0; j < hits_count(h1); j++)
			assert_string_equal(
			    hits_at(h1, j)->name, hits_at(h2, j)->name);
		if (i == 0) {
			assert_true(hits_has(h1, "DRUG_SPAM"));
			assert_true(hits_has(h1, "PAYP_OBFU"));
			assert_true(hits_has(h1, "FORM_SPAM"));
			assert_true(hits_has(h1, "MANY_WIN"));
			assert_true(hits_has(h1, "SUM3"));
			assert_true(hits_has(h1, "NEED_GATE"));
			assert_true(hits_has(h1, "ARITH"));
		}
		if (i == 4)
			assert_true(hits_has(h1, "T_TMPL_URI"));
		if (i == 5)
			assert_false(hits_has(h1, "T_TMPL_URI"));
		if (i == 6) {
			assert_true(hits_has(h1, "T_TMPL_URI"));
			assert_int_equal(
			    hits_get(h1, "T_TMPL_URIM")->count, 2);
		}
		if (i == 1) {
			assert_true(hits_has(h1, "OPT_ML"));
			assert_false(hits_has(h1, "PAYP_OBFU"));
			assert_false(hits_has(h1, "FORM_SPAM"));
		}
		msg_free(m1);
		msg_free(m2);
	}
	/* a lazy rule no meta needs is never run: on the message without
	 * "loan" in the subject __FORM (only read behind __SUBJ_LOAN by
	 * FORM_SPAM, and by SUM3 after cheaper names) may run for SUM3, but
	 * __FORM_NOT_ML's && reads !__ML (a header, free) first on mailing
	 * list mail; count the runs with the profiler */
	{
		struct msg *m;
		struct hits *h = parse(
		    "Subject: hi\r\nList-Id: <z>\r\n\r\nnothing\r\n", &m);
		long kf = rule__find(rs, "__NEVER", 7);

		rule_set_profile(rs, true);
		assert_int_equal(rule_set_check(rs, m, h), 0);
		/* PAYP_OBFU: __PAYP || __NEVER reads __NEVER only when
		 * __PAYP is false, which it is here: it ran once */
		assert_int_equal(rs->prof_runs[kf], 1);
		kf = rule__find(rs, "__DRUG", 6);
		/* DRUG_SPAM reads the header __SUBJ_LOAN first (cheaper):
		 * false, so __DRUG runs only for SUM3 */
		assert_int_equal(rs->prof_runs[kf], 1);
		rule_set_profile(rs, false);
		msg_free(m);
	}
	rule_set_free(rs);
}

/* rule__meta_run_lazy gives the stack machine's value for every
 * expression shape, reading fewer names where && and || allow */
struct mvals {
	double v[8];
	unsigned reads;
};

static double
mval(void *arg, int32_t id, const char *name)
{
	struct mvals *mv = arg;

	(void)id;
	mv->reads++;
	return mv->v[(name[0] - 'a') & 7];
}

static double
mcost(void *arg, int32_t id)
{
	(void)arg;
	(void)id;
	return 1;
}

static void
test_meta_lazy_same(void **state)
{
	static const char *const exprs[] = { "a && b", "a || b", "!a && b",
		"a && b && c || d", "(a + b + c) > 1", "a && (b || c) && !d",
		"(a && b) + c", "a * b - c / d", "-a < b && c >= d",
		"(a || b) && (c || d) && e", "a == b || c != d", "!(a && !b)",
		"a && 2", "0 || a", "(a && b) || (c && d) || (e && f)" };
	struct mvals mv;
	unsigned fewer = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
		const char *why;
		struct meta_prog *p = rule__meta_compile(exprs[i], &why);

		assert_non_null(p);
		rule__meta_order(p, mcost, NULL);
		for (unsigned bits = 0; bits < 64; bits++) {
			double eager, lazy;
			unsigned r_eager;

			for (int j = 0; j < 8; j++)
				mv.v[j] = (bits >> (j % 6)) & 1 ? j + 1 : 0;
			mv.reads = 0;
			eager = rule__meta_run_ids(p, mval, &mv);
			r_eager = mv.reads;
			mv.reads = 0;
			lazy = rule__meta_run_lazy(p, mval, &mv);
			assert_true(eager == lazy);
			assert_true(mv.reads <= r_eager);
			fewer += mv.reads < r_eager;
		}
		rule__meta_free(p);
	}
	assert_true(fewer > 100);
}

/* the compact form (rule__mplan_*, what rule_run_finish runs) gives the
 * tree walk's value for every shape and reads the same names in the same
 * order (lazy rules run in the same order); names a..h resolve to each
 * kind of leaf in turn, a computed lazy rule and a count read counts[] */
struct mseq {
	struct mvals mv;
	char order[64];
	size_t n;
};

static double
mseq_val(void *arg, int32_t id, const char *name)
{
	struct mseq *q = arg;

	(void)id;
	if (q->n < sizeof(q->order))
		q->order[q->n++] = name[0];
	return mval(&q->mv, id, name);
}

static struct rule__mop
mseq_leaf(void *arg, int32_t id, const char *name)
{
	static const uint8_t kind[3] = { RULE__MOP_COUNT, RULE__MOP_LAZY,
		RULE__MOP_HIT };
	uint32_t j = (uint32_t)(name[0] - 'a') & 7;

	(void)arg;
	(void)id;
	return (struct rule__mop){ kind[j % 3], j };
}

static double
mseq_slow(void *arg, enum rule__mleaf k, uint32_t x)
{
	struct mseq *q = arg;

	(void)k;
	if (q->n < sizeof(q->order))
		q->order[q->n++] = (char)('a' + x);
	return q->mv.v[x];
}

static void
test_meta_plan_same(void **state)
{
	static const char *const exprs[] = { "a && b", "a || b", "!a && b",
		"a && b && c || d", "(a + b + c) > 1", "a && (b || c) && !d",
		"(a && b) + c", "a * b - c / d", "-a < b && c >= d",
		"(a || b) && (c || d) && e", "a == b || c != d", "!(a && !b)",
		"a && 2", "0 || a", "(a && b) || (c && d) || (e && f)",
		"b && a", "(c || e) && (a + 1.5) * 2 > 3", "!!h && -(g - 1)" };
	struct rule__mplan pl = { 0 };
	uint32_t at[sizeof(exprs) / sizeof(exprs[0])];
	struct meta_prog *p[sizeof(exprs) / sizeof(exprs[0])];
	size_t ne = sizeof(exprs) / sizeof(exprs[0]);

	(void)state;
	/* all programs in one plan, as compile.c builds it */
	for (size_t i = 0; i < ne; i++) {
		const char *why;

		assert_non_null(p[i] = rule__meta_compile(exprs[i], &why));
		/* cheaper right operands: some && read right first */
		rule__meta_order(p[i], mcost, NULL);
		assert_int_equal(
		    rule__mplan_add(&pl, p[i], mseq_leaf, NULL, &at[i]), 0);
		assert_true(at[i] < RULE__MPLAN_SLOW);
	}
	for (size_t i = 0; i < ne; i++) {
		for (unsigned bits = 0; bits < 256; bits++) {
			struct mseq tree = { 0 }, plan = { 0 };
			uint32_t counts[8];
			uint8_t done[8] = { 0 };
			struct rule__mvals v = { counts, done, mseq_slow,
				&plan };
			double a, b;
			size_t m;

			for (int j = 0; j < 8; j++) {
				tree.mv.v[j] = (bits >> j) & 1 ? j + 1 : 0;
				counts[j] = (uint32_t)tree.mv.v[j];
			}
			plan.mv = tree.mv;
			a = rule__meta_run_lazy(p[i], mseq_val, &tree);
			b = rule__mplan_run(&pl, at[i], &v);
			assert_true(a == b);
			/* counts and lazy rules are read from counts[] where
			 * known: compare the order of what reached slow */
			m = 0;
			for (size_t k = 0; k < tree.n; k++) {
				if ((tree.order[k] - 'a') % 3 == 0)
					continue;
				assert_true(m < plan.n);
				assert_int_equal(tree.order[k], plan.order[m]);
				m++;
			}
			assert_int_equal(m, plan.n);
			/* a computed lazy rule: counts[], no call */
			memset(done, 1, sizeof(done));
			plan.n = 0;
			assert_true(rule__mplan_run(&pl, at[i], &v) == a);
			for (size_t k = 0; k < plan.n; k++)
				assert_true((plan.order[k] - 'a') % 3 == 2);
		}
	}
	for (size_t i = 0; i < ne; i++)
		rule__meta_free(p[i]);
	free(pl.code);
	free(pl.nums);
}

/* cf_in_tmp - a new directory from template dir (the cache goes there
 * too) holding name with len bytes of text; its path into cf */
static void
cf_in_tmp(char *dir, const char *name, const void *text, size_t len,
    char *cf, size_t cfsz)
{
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(cf, cfsz, "%s/%s", dir, name);
	assert_non_null(f = fopen(cf, "w"));
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

/* The Hyperscan cache (rule_set_load_opts, filterctl compile): a full
 * compile writes DIR/<key>.hsdb, a later load reads it instead of
 * compiling and finds the same rules as the unfiltered run; a damaged
 * file or one for other rules is never used. */
static void
test_hs_cache(void **state)
{
	char dir[] = "/tmp/rules-hscache.XXXXXX";
	struct rule_load_opts o = { NULL, true };
	struct rule_hs_info hi, hi2;
	struct rule_set *rs, *rs2;
	struct rule_err e;
	const char *path;
	char n1[64][32];
	unsigned c1[64];
	FILE *f;

	(void)state;
	if (!__builtin_cpu_supports("ssse3"))
		skip(); /* no Hyperscan here: nothing to cache */
	assert_non_null(mkdtemp(dir));
	o.hs_cache_dir = dir;
	/* rule_set_load_opts reads files: write hs_cf out */
	{
		char cf[128];

		snprintf(cf, sizeof(cf), "%s/hs.cf", dir);
		assert_non_null(f = fopen(cf, "w"));
		assert_int_equal(fwrite(hs_cf, 1, sizeof(hs_cf) - 1, f),
		    sizeof(hs_cf) - 1);
		fclose(f);
		path = cf;
		rs = rule_set_load_opts(&path, 1, &o, &e);
		assert_non_null(rs);
		rule_set_hs_info(rs, &hi);
		assert_int_equal(hi.save_rc, 0);
		assert_false(hi.from_cache);
		assert_true(hi.patterns >= 8);
		assert_int_equal(access(hi.cache_file, R_OK), 0);
		o.hs_build = false;
		rs2 = rule_set_load_opts(&path, 1, &o, &e);
		assert_non_null(rs2);
		rule_set_hs_info(rs2, &hi2);
		assert_true(hi2.from_cache);
		assert_int_equal(hi2.patterns, hi.patterns);
		assert_string_equal(hi2.cache_file, hi.cache_file);
		for (size_t i = 0; i < sizeof(hs_msgs) / sizeof(hs_msgs[0]);
		     i++)
			(void)same_fired(rs2, hs_msgs[i], n1, c1, 64);
		rule_set_free(rs2);
		/* a truncated file: ignored, the budget compile runs */
		assert_int_equal(truncate(hi.cache_file, 100), 0);
		rs2 = rule_set_load_opts(&path, 1, &o, &e);
		assert_non_null(rs2);
		rule_set_hs_info(rs2, &hi2);
		assert_false(hi2.from_cache);
		assert_true(hi2.patterns >= 8);
		rule_set_free(rs2);
		/* other rules, other key: the old file is not read */
		assert_non_null(f = fopen(cf, "a"));
		fputs("body T_NEW /brand new rule/\n", f);
		fclose(f);
		rs2 = rule_set_load_opts(&path, 1, &o, &e);
		assert_non_null(rs2);
		rule_set_hs_info(rs2, &hi2);
		assert_false(hi2.from_cache);
		assert_string_not_equal(hi2.cache_file, hi.cache_file);
		rule_set_free(rs2);
		unlink(hi.cache_file);
		unlink(cf);
		rmdir(dir);
		rule_set_free(rs);
	}
}

/* Repeat gates (compile.c repeat_elem, eval.c rgate_open/rgate_hs_fill):
 * a rule (?:..E..){n} only runs on lines where its element E matched n
 * times; with Hyperscan (the cache build) the counts come from there. The
 * hits must be those of the rules run on every line. Gates are kept only
 * for rules outside Hyperscan: "@" becomes four optional groups (too
 * costly for the budget compile; at the end, since a leading part that
 * can match nothing is dropped) and "%" 400 alternatives no text holds
 * (over the cache build's 2 KiB), like SA's replace_tag rules. */
static const char rg_cf[] =
    "body  __RG_FORM  /(?:(?:your\\s)?(?:full\\s)?(?:name|address|ph(?:one)?\\b|e-?mail%)[\\s:,]{1,3}){3}@/i\n"
    "body  RG_AB  /(?:x?(?:ab|abab%)-){2}@/\n"
    "body  RG_LB  /(?:(?:(?<=\\s)cat|dog%)s?\\W){2}@/\n"
    "rawbody RG_RAW /(?:(?:foo|bar%)\\s?){4}@/\n"
    "body  RG_BACKREF /(?:(a%)\\1-){2}@/\n"
    "body  RG_NONE  /(?:(?:a++|b%)c){2}@/\n"
    "meta  RG_FORM_M  __RG_FORM\n";

/* rg_rules - rg_cf with "@" and "%" expanded */
static void
rg_rules(struct buf *b)
{
	buf_init(b, 1u << 20);
	for (const char *p = rg_cf; *p; p++) {
		if (*p == '@')
			assert_int_equal(
			    buf_puts(b, "(?:zz)?(?:zz)?(?:zz)?(?:zz)?"), 0);
		else if (*p == '%')
			for (int i = 0; i < 400; i++)
				assert_int_equal(buf_printf(b, "|zq%d", i), 0);
		else
			assert_int_equal(buf_putc(b, *p), 0);
	}
}

static const char *const rg_msgs[] = {
	"Subject: x\r\n\r\nYour name: address, phone:\r\nname name\r\n"
	"abab-ab- cats dog, foofoobar bar aa-aa-\r\n",
	/* the element three times, the rule not: "nickname" has no
	 * separator before the next one */
	"Subject: x\r\n\r\nnicknames phonebook e-mailing\r\nab-x ab-\r\n"
	"catdog dogcat foo foo foo\r\n",
	/* n - 1 elements per line */
	"Subject: x\r\n\r\nname, address\r\nab- ab\r\ncats\r\nbar bar bar\r\n",
	"Subject: x\r\n\r\nfull name, your full address, email\r\n",
};

static void
rg_check(struct rule_set *rs)
{
	char n1[64][32];
	unsigned c1[64];
	bool form = false, ab = false, lb = false, raw = false, br = false;

	for (size_t i = 0; i < sizeof(rg_msgs) / sizeof(rg_msgs[0]); i++) {
		size_t k1 = same_fired(rs, rg_msgs[i], n1, c1, 64);

		for (size_t k = 0; k < k1; k++) {
			bool first = i == 0 || i == 3;

			if (!first && strcmp(n1[k], "RG_BACKREF") != 0)
				fail_msg("%s fired on message %zu", n1[k], i);
			form |= strcmp(n1[k], "RG_FORM_M") == 0;
			ab |= strcmp(n1[k], "RG_AB") == 0;
			lb |= strcmp(n1[k], "RG_LB") == 0;
			raw |= strcmp(n1[k], "RG_RAW") == 0;
			br |= strcmp(n1[k], "RG_BACKREF") == 0;
		}
	}
	assert_true(form && ab && lb && raw && br);
}

static void
test_repeat_gate(void **state)
{
	char dir[] = "/tmp/rules-rgate.XXXXXX", cf[128];
	struct rule_load_opts o = { NULL, true };
	struct rule_hs_info hi;
	struct rule_set *rs;
	struct rule_err e;
	const char *path = cf;
	struct buf b;
	bool gated = false;
	long k;

	(void)state;
	rg_rules(&b);
	rs = rule_set_load_mem((const char *)b.p, b.len, "rg.cf", &e);
	assert_non_null(rs);
	assert_int_equal(rule_set_errors(rs), 0);
	k = rule__find(rs, "__RG_FORM", 9);
	assert_true(k >= 0 && rs->v[k].rgate != 0 && rs->v[k].rgate_n == 3);
	/* \b dropped from the element: "ph" may now end anywhere */
	assert_non_null(
	    strstr(rs->rgates[rs->v[k].rgate - 1].pat, "ph(?:one)?(?:)"));
	k = rule__find(rs, "RG_AB", 5);
	assert_true(k >= 0 && rs->v[k].rgate != 0 && rs->v[k].rgate_n == 2);
	assert_int_equal(rs->rgates[rs->v[k].rgate - 1].minlen, 2);
	k = rule__find(rs, "RG_LB", 5);
	assert_true(k >= 0 && rs->v[k].rgate != 0);
	k = rule__find(rs, "RG_RAW", 6);
	assert_true(k >= 0 && rs->v[k].rgate != 0 && rs->v[k].rgate_n == 4);
	/* a backreference outside the element does not matter */
	k = rule__find(rs, "RG_BACKREF", 10);
	assert_true(k >= 0 && rs->v[k].rgate != 0);
	/* a possessive quantifier cannot be relaxed: no gate */
	k = rule__find(rs, "RG_NONE", 7);
	assert_true(k >= 0 && rs->v[k].rgate == 0);
	rg_check(rs); /* PCRE2 counts */
	rule_set_free(rs);
	/* Hyperscan counts: the elements are in the cache build */
	if (!__builtin_cpu_supports("ssse3")) {
		buf_free(&b);
		return;
	}
	cf_in_tmp(dir, "rg.cf", b.p, b.len, cf, sizeof(cf));
	o.hs_cache_dir = dir;
	buf_free(&b);
	for (int pass = 0; pass < 2; pass++) {
		o.hs_build = pass == 0;
		rs = rule_set_load_opts(&path, 1, &o, &e);
		assert_non_null(rs);
		rule_set_hs_info(rs, &hi);
		assert_true(hi.from_cache == (pass == 1));
		assert_non_null(rs->rg_hs);
		for (size_t i = 0; i < rs->nrgates; i++)
			assert_true(rs->rgates[i].in_hs);
		/* gated unless in Hyperscan: some are (by a factor) */
		for (size_t i = 0, n = 0; i < rs->n; i++) {
			if (strstr(rs->v[i].name, "RG_") == NULL ||
			    strcmp(rs->v[i].name, "RG_NONE") == 0 ||
			    (rs->v[i].type != RULE_BODY &&
				rs->v[i].type != RULE_RAWBODY))
				continue;
			assert_true(rs->v[i].in_hs || rs->v[i].rgate != 0);
			if ((n += rs->v[i].rgate != 0) >= 2)
				gated = true;
		}
		assert_true(gated);
		rg_check(rs);
		rule_set_free(rs);
	}
	unlink(hi.cache_file);
	unlink(cf);
	rmdir(dir);
}

/* ASCII filters (compile.c af_set/af_build, eval.c af_scan): a
 * replace_tag body rule outside Hyperscan (here: "%" makes each tag 300
 * UTF-8 look-alikes, the whole pattern over the cache build's 2 KiB) has
 * its ASCII form relaxed (lookarounds, \b dropped) compiled exactly in
 * the cache; PCRE2 runs only on the ASCII lines Hyperscan reports for
 * it (and on every 8-bit line), and the hits must be those of every line
 * run. */
static const char af_cf[] =
    "replace_tag L (?:[lL1|]%)\n"
    "replace_tag O (?:[oO0]%)\n"
    "replace_tag A (?:[aA4@]%)\n"
    "replace_tag N (?:[nN]%)\n"
    "body  AF_LOAN   /\\b(?!loan)<L><O><A><N>\\b/i\n"
    "replace_rules AF_LOAN\n"
    "body  AF_LOANM  /(?<![a-z])<L><O><A><N>s?(?=\\W|$)/i\n"
    "replace_rules AF_LOANM\n"
    "tflags AF_LOANM multiple\n";

static const char *const af_msgs[] = {
	"Subject: x\r\n\r\nno match here\r\n\r\nget a l0an now\r\n\r\n"
	"the loan is plain\r\n\r\nL04N l|0@n, loans\r\n\r\nnothing\r\n",
	"Subject: x\r\nMIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\n\r\n"
	"l\xc3\xb3\xc3\xa0n and l0an\r\n",
	"Subject: l0an\r\n\r\nloan\r\n",
	/* 8-bit, mixed: the ASCII lines through the filter, the 8-bit one
	 * (a match only the whole pattern has: U+00C3 "z7" is an <L>)
	 * unfiltered, in line order */
	"Subject: x\r\nMIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: 8bit\r\n\r\n"
	"get a l0an now\r\n\r\n\xc3\x83z7oan here\r\n\r\n"
	"nothing here\r\n\r\nthe loan is plain, loans\r\n",
	/* no filter match at all (af_scan sorts nothing) */
	"Subject: x\r\n\r\nnothing to see\r\n",
};

static void
af_rules(struct buf *b)
{
	buf_init(b, 1u << 20);
	for (const char *p = af_cf; *p; p++) {
		if (*p != '%') {
			assert_int_equal(buf_putc(b, *p), 0);
			continue;
		}
		for (int i = 0; i < 300; i++)
			assert_int_equal(buf_printf(b, "|\\xc3\\x83z%d", i), 0);
	}
}

/* af_lines - the body lines Hyperscan reported for rule k in message
 * text, joined by '|' into out; false when the filter did not run */
static bool
af_lines(struct rule_set *rs, long k, const char *text, char *out, size_t cap)
{
	struct msg *m;
	struct hits *h = parse(text, &m);
	struct rule_run *run = rule_run_new(rs, m);
	/* a rule_run starts with its rule_ctx (eval.c) */
	struct rule_ctx *c = (struct rule_ctx *)(void *)run;
	const struct bstr *l;
	size_t nl, len = 0;
	bool done;

	assert_non_null(run);
	assert_int_equal(rule_run_exec(run, h), 0);
	done = c->afdone;
	l = msg_body_lines(m, &nl);
	out[0] = '\0';
	for (uint32_t j = done ? c->hshead[k] : 0; j != 0;
	     j = c->hsm[j - 1].next) {
		size_t i = c->hsm[j - 1].text - 1;

		assert_true(i < nl);
		len += (size_t)snprintf(out + len, cap - len, "%.*s|",
		    (int)l[i].len, (const char *)l[i].p);
		assert_true(len < cap);
	}
	assert_int_equal(rule_run_finish(run, h), 0);
	msg_free(m);
	return done;
}

static void
test_ascii_filter(void **state)
{
	char dir[] = "/tmp/rules-af.XXXXXX", cf[128], got[512];
	struct rule_load_opts o = { NULL, true };
	struct rule_hs_info hi;
	struct rule_set *rs;
	struct rule_err e;
	const char *path = cf;
	char n1[64][32];
	unsigned c1[64];
	struct buf b;
	long k, km;

	(void)state;
	if (!__builtin_cpu_supports("ssse3"))
		skip();
	af_rules(&b);
	cf_in_tmp(dir, "af.cf", b.p, b.len, cf, sizeof(cf));
	o.hs_cache_dir = dir;
	buf_free(&b);
	for (int pass = 0; pass < 2; pass++) {
		bool loan = false, loanm = false, mixed = false;

		o.hs_build = pass == 0;
		rs = rule_set_load_opts(&path, 1, &o, &e);
		assert_non_null(rs);
		assert_int_equal(rule_set_errors(rs), 0);
		rule_set_hs_info(rs, &hi);
		assert_true(hi.from_cache == (pass == 1));
		k = rule__find(rs, "AF_LOAN", 7);
		km = rule__find(rs, "AF_LOANM", 8);
		assert_true(k >= 0 && km >= 0);
		assert_non_null(rs->af_hs);
		assert_false(rs->v[k].in_hs);
		assert_true(rs->v[k].af_in && rs->v[km].af_in);
		/* "loan" passes the filter (its lookahead dropped), PCRE2
		 * then rejects it; lines without the word are not run */
		assert_true(af_lines(rs, k, af_msgs[0], got, sizeof(got)));
		assert_string_equal(
		    got, "get a l0an now|the loan is plain|L04N l|0@n, loans|");
		/* an 8-bit body: its ASCII lines are filtered too (the
		 * 8-bit ones run unfiltered) */
		assert_true(af_lines(rs, k, af_msgs[1], got, sizeof(got)));
		assert_true(af_lines(rs, km, af_msgs[3], got, sizeof(got)));
		assert_string_equal(
		    got, "get a l0an now|the loan is plain, loans |");
		for (size_t i = 0; i < sizeof(af_msgs) / sizeof(af_msgs[0]);
		     i++) {
			size_t k1 = same_fired(rs, af_msgs[i], n1, c1, 64);

			for (size_t j = 0; j < k1; j++) {
				loan |= i == 0 && strcmp(n1[j], "AF_LOAN") == 0;
				loanm |= i == 0 &&
				    strcmp(n1[j], "AF_LOANM") == 0 &&
				    c1[j] == 4;
				/* l0an, U+00C3 z7oan, loan, loans */
				mixed |= i == 3 &&
				    strcmp(n1[j], "AF_LOANM") == 0 &&
				    c1[j] == 4;
				/* nosubject is not set: line 0 is read */
				if (i == 2 && strcmp(n1[j], "AF_LOAN") != 0 &&
				    strcmp(n1[j], "AF_LOANM") != 0)
					fail_msg("%s fired", n1[j]);
			}
		}
		assert_true(loan && loanm && mixed);
		rule_set_free(rs);
	}
	unlink(hi.cache_file);
	unlink(cf);
	rmdir(dir);
}

/* a does-it-match rule drops leading items that can match nothing
 * (compile.c rule__nullable_prefix); the same texts match */
static void
test_nullable_prefix(void **state)
{
	static const struct {
		const char *pat;
		unsigned opts, tflags;
		size_t want;
	} c[] = {
		{ "(?:a)?(?:b)*c", 0, 0, 12 },
		{ "\\s?x", 0, 0, 3 },
		{ "[ab]?(?:x|y){0,3}c", 0, 0, 17 },
		{ "(?:a){0,3}?b", 0, 0, 11 },
		{ "(a)?b", 0, 0, 4 },
		{ "(?:a)+b", 0, 0, 0 },		  /* not nullable */
		{ "(?:a)?b|c", 0, 0, 0 },	  /* top-level '|' */
		{ "(a)?b\\1", 0, 0, 0 },	  /* backreference */
		{ "(?<n>a)?b", 0, 0, 0 },	  /* capture tag */
		{ "(?:a)?(?:b)?", 0, 0, 0 },	  /* wholly nullable */
		{ "(?i)(?:a)?b", 0, 0, 0 },	  /* option setting */
		{ "(?=x)?b", 0, 0, 0 },		  /* assertion */
		{ "(?:a)?b", 0, 0x01u, 0 },	  /* tflags multiple */
		{ "(?:a)?b", PCRE2_EXTENDED, 0, 0 }, /* /x */
		{ "(?:a)?%{T}", 0, 0, 0 },	  /* template */
		{ "(?:a)?b\\K", 0, 0, 0 },	  /* \K */
	};
	static const char cf[] =
	    "body  NP_ONE  /(?:your\\s)?(?:full\\s)?(?:name|phone):\\s*$/i\n"
	    "body  NP_MANY /(?:your\\s)?(?:full\\s)?(?:name|phone):\\s*$/i\n"
	    "tflags NP_MANY multiple\n";
	static const char *const texts[] = {
		"Subject: x\r\n\r\nyour full name:\r\n",
		"Subject: x\r\n\r\nphone:   \r\n",
		"Subject: x\r\n\r\nyour name: Bob\r\n",
		"Subject: x\r\n\r\nnothing\r\n",
	};
	struct rule_err e;
	struct rule_set *rs;

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (rule__nullable_prefix(c[i].pat, c[i].opts, c[i].tflags) !=
		    c[i].want)
			fail_msg("%s: %zu, want %zu", c[i].pat,
			    rule__nullable_prefix(
				c[i].pat, c[i].opts, c[i].tflags),
			    c[i].want);
	rs = rule_set_load_mem(cf, sizeof(cf) - 1, "np.cf", &e);
	assert_non_null(rs);
	assert_int_equal(rule_set_errors(rs), 0);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct msg *m;
		struct hits *h = parse(texts[i], &m);

		assert_int_equal(rule_set_check(rs, m, h), 0);
		/* NP_MANY keeps its prefix (multiple): the reference */
		assert_int_equal(hits_has(h, "NP_ONE"), hits_has(h, "NP_MANY"));
		assert_int_equal(hits_has(h, "NP_ONE"), i < 2);
		msg_free(m);
	}
	rule_set_free(rs);
}

/* Header groups (compile.c hdr_groups_build, eval.c hg_says_no): the
 * rules reading one header text (>= 4) share a Hyperscan database in the
 * cache; one scan tells which of them PCRE2 need not run. Same hits and
 * counts as without it: negated rules, tflags multiple, [if-unset], a
 * lookbehind (prefilter mode), :raw and ALL texts; From has 2 rules,
 * too few for a group. */
static const char hg_cf[] =
    "header HG_S1  Subject =~ /\\bcheap\\b/i\n"
    "header HG_S2  Subject =~ /^Re: /\n"
    "header HG_S3  Subject !~ /[a-z]/\n"
    "header HG_S4  Subject =~ /(?<!not )free/\n"
    "header HG_S5  Subject =~ /o/\n"
    "tflags HG_S5  multiple\n"
    "header HG_S6  Subject =~ /^$/ [if-unset: EMPTY]\n"
    "header HG_S7  Subject =~ /EMPTY/ [if-unset: EMPTY]\n"
    "header HG_R1  Subject:raw =~ /=\\?utf-8\\?/i\n"
    "header HG_R2  Subject:raw =~ /=\\?iso/i\n"
    "header HG_R3  Subject:raw =~ /\\?=$/\n"
    "header HG_R4  Subject:raw =~ /zzz/\n"
    "header HG_A1  ALL =~ /^X-Mailer: /m\n"
    "header HG_A2  ALL =~ /^to: .*bob/im\n"
    "header HG_A3  ALL !~ /^Date: /m\n"
    "header HG_A4  ALL =~ /\\n\\n/\n"
    "header HG_F1  From =~ /example/\n"
    "header HG_F2  From:addr =~ /^a@/\n";

static const char *const hg_msgs[] = {
	"From: a@example.com\r\nTo: Bob <bob@x.org>\r\n"
	"Subject: Re: cheap free stuff, not free, more, too\r\n"
	"X-Mailer: m\r\n\r\nbody\r\n",
	"From: c@d.org\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"Subject: =?utf-8?q?CHEAP_NOT_FREE?=\r\n\r\nbody\r\n",
	"From: c@d.org\r\nSubject: \r\n\r\nempty subject\r\n",
	"From: c@d.org\r\n\r\nno subject\r\n",
};

static void
test_header_groups(void **state)
{
	char dir[] = "/tmp/rules-hg.XXXXXX", cf[128];
	struct rule_load_opts o = { NULL, true };
	struct rule_hs_info hi;
	struct rule_set *rs;
	struct rule_err e;
	const char *path = cf;
	char n1[64][32];
	unsigned c1[64];

	(void)state;
	if (!__builtin_cpu_supports("ssse3"))
		skip();
	cf_in_tmp(dir, "hg.cf", hg_cf, sizeof(hg_cf) - 1, cf, sizeof(cf));
	o.hs_cache_dir = dir;
	for (int pass = 0; pass < 2; pass++) {
		unsigned seen = 0, multi = 0;
		long s1, a1, f1;

		o.hs_build = pass == 0;
		rs = rule_set_load_opts(&path, 1, &o, &e);
		assert_non_null(rs);
		assert_int_equal(rule_set_errors(rs), 0);
		rule_set_hs_info(rs, &hi);
		assert_true(hi.from_cache == (pass == 1));
		/* Subject, Subject:raw and ALL: three groups; From: none */
		assert_int_equal(rs->nhg, 3);
		s1 = rule__find(rs, "HG_S1", 5);
		a1 = rule__find(rs, "HG_A1", 5);
		f1 = rule__find(rs, "HG_F1", 5);
		assert_true(s1 >= 0 && a1 >= 0 && f1 >= 0);
		assert_true(rs->v[s1].hgroup != 0 && rs->v[a1].hgroup != 0);
		assert_true(rs->v[s1].hgroup != rs->v[a1].hgroup);
		assert_int_equal(rs->v[f1].hgroup, 0);
		for (size_t i = 0; i < sizeof(hg_msgs) / sizeof(hg_msgs[0]);
		     i++) {
			size_t k1 = same_fired(rs, hg_msgs[i], n1, c1, 64);

			for (size_t k = 0; k < k1; k++) {
				static const char *const want[] = { "HG_S1",
					"HG_S2", "HG_S3", "HG_S4", "HG_S6",
					"HG_S7", "HG_R1", "HG_R3", "HG_A1",
					"HG_A2", "HG_A3", "HG_F1", "HG_F2" };

				for (size_t w = 0; w < 13; w++)
					if (strcmp(n1[k], want[w]) == 0)
						seen |= 1u << w;
				if (i == 0 && strcmp(n1[k], "HG_S5") == 0)
					multi = c1[k];
			}
		}
		assert_int_equal(seen, (1u << 13) - 1);
		assert_int_equal(multi, 4); /* "not", "more", "too" x2 */
		rule_set_free(rs);
	}
	unlink(hi.cache_file);
	unlink(cf);
	rmdir(dir);
}

/* the factor prefilter (compile.c rule__factor_pattern) takes the most
 * selective run of must-match atoms, letters and digits first, at most 8
 * atoms, not the first run of 4 */
static void
test_factor_pattern(void **state)
{
	static const struct {
		const char *pat, *want; /* want NULL: no factor */
		bool uri;
	} c[] = {
		/* SA's __URI_WEBAPP: was "(?:://[^./])", in every URI */
		{ "://[^./]+\\.web\\.app/", "(?:\\.web\\.app)", true },
		/* the letters beat the punctuation before them */
		{ "^https?://(?:[^./]+\\.)+gov/", "(?:http)", false },
		/* a uri rule: not from its scheme, which every URI has */
		{ "^https?://(?:[^./]+\\.)+gov/", "(?:gov/)", true },
		/* a group of literals counts as its shortest one */
		{ "^https?://(?:quit|bye)\\d*\\.[^/]+\\.[a-z]{2,}",
		    "(?:(?:quit|bye))", true },
		/* nothing after the scheme: the scheme it is */
		{ "^https?://[^/]{20}", "(?:http)", true },
		{ "[a-z]{3}\\s+mortgage\\s+rates", "(?:mortgage)", false },
		{ "a.b.c.d.e", "(?:a.b.c.d.)", false },
		{ "foo|x+bar", "(?:foo)|(?:bar)", false },
		{ "x?y?z?", NULL, false },
		{ "[ab]c?", NULL, false },
		{ "(?i)abc", NULL, false },   /* inline flags */
		{ "ab\\1cd", NULL, false }, /* backreference */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *f = rule__factor_pattern(c[i].pat, 0, c[i].uri);

		if ((f == NULL) != (c[i].want == NULL) ||
		    (f != NULL && strcmp(f, c[i].want) != 0))
			fail_msg("%s: %s, want %s", c[i].pat,
			    f ? f : "(none)", c[i].want ? c[i].want : "(none)");
		free(f);
	}
}

/* the cache build opens bounded repeats (hsdb.c rule__hs_open_repeats):
 * {m,n} -> {m,} outside classes and escapes, nothing else touched */
static void
test_open_repeats(void **state)
{
	static const struct {
		const char *in, *out; /* out NULL: nothing to open */
	} c[] = {
		{ "a{0,3}b", "a{0,}b" },
		{ "[_\\W]{0,3}v[_\\W]{0,3}", "[_\\W]{0,}v[_\\W]{0,}" },
		{ "a{2,5}?c{10,64}", "a{2,}?c{10,}" },
		{ "[{0,3}]x{1,2}", "[{0,3}]x{1,}" },
		{ "[]{0,3}]", NULL },
		{ "\\{0,3}", NULL },
		{ "\\x{41}{1,2}", "\\x{41}{1,}" },
		{ "x{3}y{3,}", NULL },
		{ "x{5,2}", NULL },
		{ "x{,3}", NULL },
		{ "\\Qa{0,3}\\E", NULL },
		{ "a{0,3", NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char *o = rule__hs_open_repeats(c[i].in);

		if ((o == NULL) != (c[i].out == NULL) ||
		    (o != NULL && strcmp(o, c[i].out) != 0))
			fail_msg("%s: %s", c[i].in, o ? o : "(none)");
		free(o);
	}
}

/* full mode builds one database per type; Hyperscan refusing more than
 * two patterns of it makes the build go on in pieces of 64, and every
 * pattern it accepts is still in (hsdb.c compile_chunk, hsdb_build) */
static void
test_hs_refusals(void **state)
{
	enum { N = 150 };
	static char buf[N][32];
	const char *pats[N];
	unsigned opts[N];
	uint32_t ids[N];
	bool in[N];
	struct rule__hsdb *db = NULL;
	size_t want = 0;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		/* a callout: PCRE2 syntax Hyperscan refuses */
		if (i % 37 == 5)
			snprintf(buf[i], sizeof(buf[i]), "w%zu(?C1)", i);
		else
			snprintf(buf[i], sizeof(buf[i]), "word%zux", i);
		want += i % 37 != 5;
		pats[i] = buf[i];
		opts[i] = 0;
		ids[i] = (uint32_t)i;
	}
	int rc = rule__hsdb_new(&db, pats, opts, ids, N, in, NULL);

	if (rc == -ENOTSUP) /* no Hyperscan on this CPU */
		skip();
	assert_int_equal(rc, 0);
	assert_non_null(db);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(in[i], i % 37 != 5);
	assert_int_equal(rule__hsdb_count(db), want);
	rule__hsdb_free(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hits),
		cmocka_unit_test(test_decoded_and_neg),
		cmocka_unit_test(test_scoreset),
		cmocka_unit_test(test_prefilter_same),
		cmocka_unit_test(test_hyperscan_same),
		cmocka_unit_test(test_redos),
		cmocka_unit_test(test_rawbody_pieces),
		cmocka_unit_test(test_repeat_rewrite),
		cmocka_unit_test(test_gate_lazy_same),
		cmocka_unit_test(test_meta_lazy_same),
		cmocka_unit_test(test_meta_plan_same),
		cmocka_unit_test(test_hs_cache),
		cmocka_unit_test(test_repeat_gate),
		cmocka_unit_test(test_ascii_filter),
		cmocka_unit_test(test_hs_refusals),
		cmocka_unit_test(test_nullable_prefix),
		cmocka_unit_test(test_factor_pattern),
		cmocka_unit_test(test_header_groups),
		cmocka_unit_test(test_open_repeats),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
