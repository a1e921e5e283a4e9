/* rules_evals_html_test - SpamAssassin's HTMLEval evals (rules/evals_html.c)
 * on small HTML messages: each case names the rules that must fire and
 * the rules that must not, so every eval has a hit and a no-hit case */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/msg.h"
#include "rules/rules.h"
#include "util/arena.h"
#include "util/hits.h"

static const char rules_cf[] =
    "body HTML_MSG eval:html_test('html')\n"
    "body FACE_BAD eval:html_test('font_face_bad')\n"
    "body LOW_CONTRAST eval:html_test('font_low_contrast')\n"
    "body INVALID_COLOR eval:html_test('font_invalid_color')\n"
    "body FORM_MAILTO eval:html_test('form_action_mailto')\n"
    "body EMBEDS eval:html_test('embeds')\n"
    "body TAG_HTML eval:html_tag_exists('html')\n"
    "body TAG_STYLE eval:html_tag_exists('style')\n"
    "body BAL_BODY eval:html_tag_balance('body', '!= 0')\n"
    "body BAL_HEAD_NEG eval:html_tag_balance('head', '< 0')\n"
    "body SIZE_HUGE eval:html_range('max_size', '6', 'inf')\n"
    "body SIZE_LARGE eval:html_range('max_size', '5', '6')\n"
    "body EXTRA_CLOSE eval:html_range('closed_extra_ratio', '0.09', "
    "'inf')\n"
    "body OBFU eval:html_range('obfuscation_ratio', '.1', '1.0')\n"
    "body BADTAG eval:html_range('bad_tag_ratio', '0.40', '1.00')\n"
    "body NONELEM eval:html_range('non_element_ratio', '0.30', '1.00')\n"
    "body LEN_SHORT eval:html_eval('length', '< 384')\n"
    "body SAVED_URL eval:html_text_match('comment', "
    "'<!-- saved from url=\\(\\d{4}\\)')\n"
    "body SHORT_CMNT eval:html_text_match('comment', '<!(?!-).{0,6}>')\n"
    "body LINK_IMG eval:html_text_match('anchor', '<img>')\n"
    "body TITLE_120 eval:html_text_match('title', '.{120}')\n"
    "body TITLE_SUBJ eval:html_title_subject_ratio('3.5')\n"
    "body IFRAME_SRC eval:check_iframe_src()\n"
    "body HTTPS_IP eval:check_https_ip_mismatch()\n"
    "body HTTPS_HTTP eval:check_https_http_mismatch('1','10')\n"
    "body HTTPS_HTTP2 eval:check_https_http_mismatch('2')\n"
    "body URI_TRUNC eval:check_uri_truncated()\n";

#define HDR "Subject: hello there\r\nMIME-Version: 1.0\r\n" \
	    "Content-Type: text/html\r\n\r\n"

static const struct hcase {
	const char *msg;
	const char *yes, *no; /* space-separated rule names */
} cases[] = {
	{ HDR "<html><head></head><body>Hi <b>you</b></body></html>\r\n",
	    "HTML_MSG TAG_HTML LEN_SHORT",
	    "FACE_BAD LOW_CONTRAST INVALID_COLOR FORM_MAILTO EMBEDS "
	    "TAG_STYLE BAL_BODY BAL_HEAD_NEG SIZE_HUGE SIZE_LARGE "
	    "EXTRA_CLOSE OBFU BADTAG NONELEM SAVED_URL SHORT_CMNT LINK_IMG "
	    "TITLE_120 TITLE_SUBJ IFRAME_SRC" },
	/* plain text: no HTML part, nothing fires */
	{ "Subject: x\r\n\r\n<html><font face=\"@@\">x</font></html>\r\n", "",
	    "HTML_MSG TAG_HTML FACE_BAD LEN_SHORT" },
	{ HDR "<body><font face=\"Arial, Helvetica\">ok</font>"
	      "<font face=\"Arial Bold 12pt\">bad</font></body>",
	    "FACE_BAD", "TAG_HTML BAL_BODY" },
	{ HDR "<body>x", "BAL_BODY", "EXTRA_CLOSE" },
	{ HDR "<font face=\"'Montserrat', sans-serif\">ok</font>", "",
	    "FACE_BAD" },
	/* white on white; then a "#"-less hex colour, which SA calls invalid */
	{ HDR "<font color=#ffffff>hidden</font>", "LOW_CONTRAST",
	    "INVALID_COLOR" },
	{ HDR "<font color=\"000000\">x</font>", "INVALID_COLOR",
	    "LOW_CONTRAST" },
	{ HDR "<span style=\"color: #fefefe\">faint</span>", "LOW_CONTRAST",
	    "" },
	{ HDR "<font color=white> </font>", "",
	    "LOW_CONTRAST" }, /* whitespace only */
	{ HDR "<form action=\"MAILTO:x@example.com\"></form><embed src=a>",
	    "FORM_MAILTO EMBEDS", "IFRAME_SRC" },
	{ HDR "<style>p{}</style><iframe src=\"http://x.example/\"></iframe>",
	    "TAG_STYLE IFRAME_SRC", "EMBEDS" },
	{ HDR "<iframe src=\" \"></iframe>", "", "IFRAME_SRC" },
	/* size 7 > 6; size +2 over basefont 4 is 6: large, not huge */
	{ HDR "<font size=7>big</font>", "SIZE_HUGE", "SIZE_LARGE" },
	{ HDR "<basefont size=4><font size=+2>big</font>", "SIZE_LARGE",
	    "SIZE_HUGE" },
	/* big alone changes no max_size (SA returns before the check) */
	{ HDR "<big><big><big><big>x</big></big></big></big>", "",
	    "SIZE_HUGE SIZE_LARGE" },
	{ HDR "x</b></i></u></p>", "EXTRA_CLOSE", "" },
	/* words cut by markup: 2 of 4 tags */
	{ HDR "<p>vi<b>ag</b>ra</p>", "OBFU", "" },
	{ HDR "<p>vi <b>ag</b> ra</p>", "", "OBFU" },
	{ HDR "<zz><yy><xx>a</xx></yy></zz><b>b</b>", "BADTAG NONELEM", "" },
	{ HDR "<!-- saved from url=(0022)http://internet.e-mail -->x",
	    "SAVED_URL", "SHORT_CMNT" },
	{ HDR "<!x>y<!-- long comment here -->", "SHORT_CMNT", "SAVED_URL" },
	{ HDR "<a href=\"http://x.example/\"><img src=a.gif></a>", "LINK_IMG",
	    "" },
	{ HDR "<img src=a.gif><a href=\"http://x.example/\">t</a>", "",
	    "LINK_IMG" },
	{ HDR "<title>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	      "</title>",
	    "TITLE_120 TITLE_SUBJ", "" },
	{ HDR "<title>hi there</title>", "", "TITLE_120 TITLE_SUBJ" },
	{ HDR "<body>x</body></body>", "EXTRA_CLOSE", "BAL_BODY" },
	{ HDR "</head>x", "EXTRA_CLOSE", "BAL_HEAD_NEG" },
	/* URIEval: an IP href under "https:" text, not itself an https IP
	 * (HTTPSMismatch skips IP hrefs) */
	{ HDR "<a href=\"http://192.0.2.1/login\">https://www.bank.example/"
	      "</a>",
	    "HTTPS_IP", "HTTPS_HTTP HTTPS_HTTP2 URI_TRUNC" },
	{ HDR "<a href=\"http://192.0.2.1/\">https://192.0.2.1/</a>"
	      "<a href=\"https://bank.example/\">https://bank.example/</a>",
	    "", "HTTPS_IP HTTPS_HTTP" },
	/* HTTPSMismatch: registrable domains differ (www.bank vs
	 * evil), but not a host of the same domain nor under co.uk */
	{ HDR "<a href=\"http://evil.example.com/x\">https://www.bank.com"
	      "/</a><a href=\"http://b.example.org/\">hi</a>",
	    "HTTPS_HTTP HTTPS_HTTP2", "HTTPS_IP" },
	{ HDR "<a href=\"http://login.bank.co.uk/x\">https://www.bank.co.uk"
	      "/</a>",
	    "", "HTTPS_HTTP" },
	{ HDR "<a href=\"http://login.a.co.uk/x\">https://www.b.co.uk/</a>",
	    "HTTPS_HTTP", "HTTPS_HTTP2" },
	/* "https:" text without "//" names no host */
	{ HDR "<a href=\"http://evil.example.com/\">https:bank.com</a>", "",
	    "HTTPS_HTTP" },
};

#include "rules_fixture.h"

static void
test_cases(void **state)
{
	struct fx *fx = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct msg *m;
		struct hits *h;

		assert_int_equal(msg_parse((const unsigned char *)cases[i].msg,
		    strlen(cases[i].msg), NULL, &m), 0);
		assert_non_null(h = hits_new(msg_arena(m)));
		assert_int_equal(rule_set_check(fx->rs, m, h), 0);
		check_names(h, cases[i].yes, true, i);
		check_names(h, cases[i].no, false, i);
		msg_free(m);
	}
}

/* the per-part facts behind the evals, against values SA 4.0 computes
 * for the same source (perl -MMail::SpamAssassin::HTML) */
static void
test_facts(void **state)
{
	static const char msg[] = HDR
	    "<!DOCTYPE html><html><head><title>T</title></head>"
	    "<body bgcolor=white><img src=a width=50% height=10>"
	    "<img src=b width=x height=20><o:p></o:p>"
	    "<br/>wo<b>rd</b> <zz>x</zz></body></html>";
	struct msg *m;
	size_t n;
	const struct msg_html_part *h;

	(void)state;
	assert_int_equal(msg_parse((const unsigned char *)msg,
	    sizeof(msg) - 1, NULL, &m), 0);
	h = msg_html_parts(m, &n);
	assert_int_equal(n, 1);
	/* 50% of 800 x 10 + 200 (bad width) x 20 */
	assert_int_equal(h->image_area, 400 * 10 + 200 * 20);
	/* doctype + 17 tags; elements: doctype and all but zz (2) */
	assert_int_equal(h->tags, 18);
	assert_int_equal(h->elements, 16);
	assert_int_equal(h->closed_extra, 0);
	assert_int_equal(h->obfuscation, 1);
	assert_int_equal(h->ntitles, 1);
	assert_int_equal(h->titles[0].len, 1);
	msg_free(m);
}

/* check_uri_truncated: an href over 8192 bytes fires, the same URI in
 * plain text does not (perl SA 4.0 gives the same), nor a 8000-byte href */
static void
test_uri_truncated(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *pre, *post;
		size_t len;
		bool want;
	} k[] = {
		{ HDR "<a href=\"http://x.example/", "\">x</a>\r\n", 9000,
		    true },
		{ HDR "<a href=\"http://x.example/", "\">x</a>\r\n", 8000,
		    false },
		{ "Subject: s\r\n\r\nsee http://x.example/", " now\r\n",
		    9000, false },
	};

	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		size_t pl = strlen(k[i].pre), ql = strlen(k[i].post);
		char *buf = malloc(pl + k[i].len + ql);
		struct msg *m;
		struct hits *h;

		assert_non_null(buf);
		memcpy(buf, k[i].pre, pl);
		memset(buf + pl, 'a', k[i].len);
		memcpy(buf + pl + k[i].len, k[i].post, ql);
		assert_int_equal(msg_parse((const unsigned char *)buf,
				     pl + k[i].len + ql, NULL, &m),
		    0);
		h = hits_new(msg_arena(m));
		assert_non_null(h);
		assert_int_equal(rule_set_check(fx->rs, m, h), 0);
		if (hits_has(h, "URI_TRUNC") != k[i].want)
			fail_msg("case %zu: URI_TRUNC %s", i,
			    k[i].want ? "did not fire" : "fired");
		msg_free(m);
		free(buf);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_uri_truncated),
		cmocka_unit_test(test_facts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
