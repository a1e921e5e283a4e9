/* rules_evals_mime_test - SpamAssassin's MIMEEval, BodyEval, ImageInfo and
 * HTML image evals (rules/evals_mime.c) on small messages: each case names
 * the rules that must fire and those that must not, so every eval has a
 * hit and a no-hit case; then SA's MIME tree (msg_sa_parts) itself, with
 * the values SA 4.0's Mail::SpamAssassin::Message gives for the same
 * messages */
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
    "rawbody MIME_B64 eval:check_for_mime('mime_base64_count')\n"
    "rawbody MIME_QP eval:check_for_mime('mime_qp_count')\n"
    "rawbody QP_LONG eval:check_for_mime('mime_qp_long_line')\n"
    "rawbody B64_TEXT eval:check_for_mime('mime_base64_encoded_text')\n"
    "body ATTACH eval:check_for_mime('mime_attachment')\n"
    "body BAD_ISO eval:check_for_mime('mime_bad_iso_charset')\n"
    "body HTML_MOSTLY eval:check_mime_multipart_ratio('0.00','0.01')\n"
    "body MA_NON_TEXT eval:check_ma_non_text()\n"
    "body B64_79 eval:check_base64_length('79')\n"
    "body B64_78_79 eval:check_base64_length('78','79')\n"
    "body EPI eval:check_msg_parse_flags('mime_epilogue_exists')\n"
    "body NO_MIME_HDRS eval:check_msg_parse_flags('missing_mime_headers')\n"
    "body MIME_HB_SEP "
    "eval:check_msg_parse_flags('missing_mime_head_body_separator')\n"
    "header HB_SEP eval:check_msg_parse_flags('missing_head_body_separator')\n"
    "header HEAD_LONG eval:check_msg_parse_flags('truncated_header')\n"
    "body FAKE_ASCII eval:check_for_ascii_text_illegal()\n"
    "body UNICODE eval:check_abundant_unicode_ratio(0.02)\n"
    "body QP_RATIO eval:check_qp_ratio('0.1')\n"
    "body MADIFF eval:multipart_alternative_difference('99', '100')\n"
    "body MADIFF_COUNT eval:multipart_alternative_difference_count('3', "
    "'1')\n"
    "body UPPER eval:check_for_uppercase('75', '100')\n"
    "body TVD eval:tvd_vertical_words('0','10')\n"
    "body BLANK eval:check_blank_line_ratio('80','90','4')\n"
    "body GIF1 eval:image_count('gif','1','1')\n"
    "body GIF_AREA eval:pixel_coverage('gif','180000','475000')\n"
    "body PNG1 eval:image_count('png','1','1')\n"
    "body JPEG1 eval:image_count('jpeg',1,1)\n"
    "body ALL_AREA eval:pixel_coverage('all',62500,300000)\n"
    "body IMG_TEXT eval:image_to_text_ratio('all', '0.000', '0.008')\n"
    "body IMG_ONLY eval:html_image_only('0000','0400')\n"
    "body IMG_RATIO eval:html_image_ratio('0.000','0.002')\n"
    "body STOCK eval:check_stock_info('2')\n";

#define ALL_RULES \
	"MIME_B64 MIME_QP QP_LONG B64_TEXT ATTACH BAD_ISO HTML_MOSTLY " \
	"MA_NON_TEXT B64_79 B64_78_79 EPI NO_MIME_HDRS MIME_HB_SEP HB_SEP " \
	"HEAD_LONG FAKE_ASCII UNICODE QP_RATIO MADIFF MADIFF_COUNT UPPER " \
	"BLANK GIF1 GIF_AREA PNG1 JPEG1 ALL_AREA IMG_TEXT IMG_ONLY IMG_RATIO"

#define MP(type) \
	"Subject: hello there\nMIME-Version: 1.0\n" \
	"Content-Type: multipart/" type "; boundary=\"BB\"\n\n" \
	"preamble\n"
#define PART(h) "--BB\n" h "\n\n"
#define END "--BB--\n"

/* 600x400 GIF, 300x300 PNG, 10x10 JPEG headers */
#define GIF "R0lGODlhWAKQAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
#define PNG "iVBORw0KGgoAAAANSUhEUgAAASwAAAEsCAIAAAAAAAAAAAAAAElFTkQAAAAA\n"
#define JPG "/9j/4AAGSkZJRv/AAAsIAAoACgMAAAAAAAD/2Q==\n"

#define B64_80 \
	"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB" \
	"QUFBQUFBQUFBQUFB\n"
#define B64_76 \
	"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB" \
	"QUFBQUFBQUFB\n"
#define B64_77 \
	"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB" \
	"QUFBQUFBQUFBQ\n"
#define WORDS \
	"the quick brown fox jumps over the lazy dog and then it runs " \
	"far away into the woods where nobody can see it any more at all\n"
#define CAPS \
	"THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG AND THEN IT RUNS " \
	"FAR AWAY INTO THE WOODS WHERE NOBODY CAN SEE IT ANY MORE AT ALL " \
	"AND THEN IT COMES BACK AGAIN TO SEE WHETHER THE DOG IS STILL " \
	"ASLEEP UNDER THE OLD TREE BY THE RIVER\n"

static const struct mcase {
	const char *msg;
	const char *yes, *no; /* space-separated rule names */
} cases[] = {
	/* 0: a plain message: nothing */
	{ "Subject: hello there\n\n" WORDS, "", ALL_RULES },
	/* 1: a base64 attachment, text after the close boundary */
	{ MP("mixed") PART("Content-Type: text/plain") WORDS
	    PART("Content-Type: application/octet-stream\n"
		 "Content-Transfer-Encoding: base64\n"
		 "Content-Disposition: attachment; filename=a.bin")
	    B64_76 END "epilogue text\n",
	    "MIME_B64 ATTACH EPI",
	    "B64_TEXT B64_79 B64_78_79 MIME_QP NO_MIME_HDRS MIME_HB_SEP "
	    "HB_SEP MA_NON_TEXT" },
	/* 2: base64 text in us-ascii; an 80-character line */
	{ "Subject: x\nContent-Type: text/plain; charset=us-ascii\n"
	  "Content-Transfer-Encoding: base64\n\n" B64_80,
	    "MIME_B64 B64_TEXT B64_79", "B64_78_79 ATTACH EPI" },
	/* 3: 77 characters + "\n" is 78 */
	{ "Subject: x\nContent-Type: text/plain; charset=iso-8859-1\n"
	  "Content-Transfer-Encoding: base64\n\n" B64_77,
	    "B64_78_79", "B64_79 B64_TEXT" },
	/* 4: needless QP (=41 is "A") and a line over 79 */
	{ "Subject: x\nContent-Type: text/plain\n"
	  "Content-Transfer-Encoding: quoted-printable\n\n"
	  "=41=42=43 d\n"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaa\n",
	    "MIME_QP QP_LONG", "QP_RATIO MIME_B64" },
	/* 5: QP lines with only needed encodings: SA's mime_qp_count is
	 * then the needless count, 0 */
	{ "Subject: x\nContent-Type: text/plain\n"
	  "Content-Transfer-Encoding: quoted-printable\n\na=3Db\n",
	    "", "MIME_QP QP_LONG QP_RATIO" },
	/* 6: mostly needless QP */
	{ "Subject: x\nContent-Type: text/plain\n"
	  "Content-Transfer-Encoding: quoted-printable\n\n=41=42=43=44\n",
	    "MIME_QP QP_RATIO", "QP_LONG" },
	/* 7: an unknown ISO charset */
	{ "Subject: x\nContent-Type: text/plain; charset=iso-2022-cn\n\nhi\n",
	    "BAD_ISO", "FAKE_ASCII" },
	{ "Subject: x\nContent-Type: text/plain; charset=iso-8859-15\n\nhi\n",
	    "", "BAD_ISO" },
	/* 9: text/plain is one word (2 of 290 bytes), HTML many others */
	{ MP("alternative") PART("Content-Type: text/plain") "hi\n"
	    PART("Content-Type: text/html")
	    "<html><body><p>" WORDS WORDS "</p></body></html>\n" END,
	    "HTML_MOSTLY MADIFF", "MADIFF_COUNT MA_NON_TEXT EPI" },
	/* 10: the same words in both: no difference */
	{ MP("alternative") PART("Content-Type: text/plain") WORDS
	    PART("Content-Type: text/html")
	    "<html><body><p>" WORDS "</p></body></html>\n" END,
	    "", "HTML_MOSTLY MADIFF MADIFF_COUNT" },
	/* 11: many text words, two HTML words found in the text */
	{ MP("alternative") PART("Content-Type: text/plain") WORDS
	    PART("Content-Type: text/html") "<p>the fox</p>\n" END,
	    "MADIFF_COUNT", "MADIFF HTML_MOSTLY" },
	/* 12: an image inside multipart/alternative */
	{ MP("alternative") PART("Content-Type: text/plain") "hi\n"
	    PART("Content-Type: image/gif\nContent-Transfer-Encoding: base64")
	    GIF END,
	    "MA_NON_TEXT GIF1 GIF_AREA ALL_AREA IMG_TEXT MIME_B64",
	    "PNG1 JPEG1 B64_TEXT" },
	/* 13: a boundary not followed by MIME headers */
	{ MP("mixed") "--BB\nhello\n" END, "NO_MIME_HDRS MIME_HB_SEP",
	    "EPI HB_SEP" },
	/* 14: no blank line after the header */
	{ "Subject: x\nFrom: a@example.com\n", "HB_SEP", "HEAD_LONG" },
	/* 16: 8-bit and CR in us-ascii text */
	{ "Subject: x\nContent-Type: text/plain\n\ncaf\xe9\n", "FAKE_ASCII",
	    "UNICODE" },
	{ "Subject: x\nContent-Type: text/plain; charset=iso-8859-1\n\n"
	  "caf\xe9\n",
	    "", "FAKE_ASCII" },
	/* 17: Unicode escapes in 7bit text */
	{ "Subject: x\nContent-Type: text/plain\n\n"
	  "&#x0041;&#x0042;&#x0043; abc\n",
	    "UNICODE", "FAKE_ASCII" },
	{ "Subject: x\n\n" CAPS, "UPPER", "TVD" },
	/* 19: capitals, but a charset SA says gives false positives */
	{ "Subject: x\nContent-Type: text/plain; charset=koi8-r\n\n" CAPS, "",
	    "UPPER" },
	/* 20: a long line without spaces */
	{ "Subject: x\n\nabcdefghijklmnopqrstuvwxyz\n", "TVD", "UPPER" },
	/* 21: 17 of 20 lines blank (85%) */
	{ "Subject: x\n\na\n\n\nb\n\n\n\n\n\nc\n\n\n\n\n\n\n\n\n\n\n", "BLANK",
	    "TVD" },
	{ "Subject: x\n\na\nb\nc\n\nd\n", "", "BLANK" },
	/* 23: a PNG and a JPEG */
	{ MP("mixed") PART("Content-Type: text/plain") "hi\n"
	    PART("Content-Type: image/png\nContent-Transfer-Encoding: base64")
	    PNG PART("Content-Type: image/jpeg\n"
		     "Content-Transfer-Encoding: base64") JPG END,
	    "PNG1 JPEG1 ALL_AREA IMG_TEXT", "GIF1 GIF_AREA" },
	/* 24: a JPEG alone is 100 pixels: not enough area */
	{ MP("mixed") PART("Content-Type: image/jpeg\n"
			   "Content-Transfer-Encoding: base64") JPG END,
	    "JPEG1", "ALL_AREA IMG_TEXT" },
	/* 25: an image in short HTML, little text */
	{ "Subject: x\nContent-Type: text/html\n\n"
	  "<html><body><img src=\"a.gif\" width=300 height=300>hi</body>"
	  "</html>\n",
	    "IMG_ONLY IMG_RATIO", "GIF1" },
	{ "Subject: x\nContent-Type: text/html\n\n"
	  "<html><body>" WORDS "</body></html>\n",
	    "", "IMG_ONLY IMG_RATIO" },
	/* BodyEval check_stock_info: two stock labels in the text/plain
	 * part (what perl SA 4.0 says of each) */
	{ "Subject: s\n\nCompany Name: Acme Corp\nTicker:  ACME\n"
	  "Current Price: $0.10\n",
	    "STOCK", "" },
	{ "Subject: s\n\nCompany Name: Acme Corp\nhello: there\n", "",
	    "STOCK" },
	/* the HTML part is not read; in the text part "Sector" (its value
	 * on the next line) and "My Symbol" count, "Target Price" not */
	{ "Subject: s\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
	  "Content-Type: text/html\n\n<p>Company: x</p><p>Symbol: y</p>\n"
	  "--b\nContent-Type: text/plain\n\nSector:\n: no\n"
	  "Target Price: 3\n--b--\n",
	    "", "STOCK" },
	{ "Subject: s\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
	  "Content-Type: text/html\n\n<p>Company: x</p><p>Symbol: y</p>\n"
	  "--b\nContent-Type: text/plain\n\nSector:\n: no\n"
	  "Target Price: 3\nMy Symbol : z\n--b--\n",
	    "STOCK", "" },
};

#include "rules_fixture.h"

static void
run_case(struct fx *fx, const char *msg, size_t len, const char *yes,
    const char *no, size_t ci)
{
	struct msg *m;
	struct hits *h;

	assert_int_equal(msg_parse((const unsigned char *)msg, len, NULL, &m),
	    0);
	assert_non_null(h = hits_new(msg_arena(m)));
	assert_int_equal(rule_set_check(fx->rs, m, h), 0);
	check_names(h, yes, true, ci);
	check_names(h, no, false, ci);
	msg_free(m);
}

static void
test_cases(void **state)
{
	struct fx *fx = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(fx, cases[i].msg, strlen(cases[i].msg), cases[i].yes,
		    cases[i].no, i);
}

/* a header value over SA's 8192 bytes */
static void
test_long_header(void **state)
{
	struct fx *fx = *state;
	char msg[9000 + 64];
	int n = snprintf(msg, sizeof(msg), "Subject: x\nX-Long: ");

	memset(msg + n, 'a', 9000);
	memcpy(msg + n + 9000, "\n\nbody\n", 7);
	run_case(fx, msg, (size_t)n + 9000 + 7, "HEAD_LONG", "HB_SEP", 100);
}

/* SA's tree of a CRLF message (what perl Mail::SpamAssassin::Message
 * gives for it: types, raw line counts and lengths, flags) */
static void
test_tree(void **state)
{
	static const char msg[] =
	    "From a@example.com Mon Jan 1 00:00:00 2002\r\n"
	    "Subject: x\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
	    "--BB\r\nContent-Type: multipart/alternative\r\n\r\n"
	    "--BB\r\n" /* the parent's boundary is inherited: SA ends here */
	    "Content-Type: text/html; name=\"x.htm\"\r\n\r\n<b>hi</b>\r\n\r\n"
	    "--BB--\r\n\r\n. \r\n";
	struct msg *m;
	size_t n;
	const struct msg_sa_part *p;

	(void)state;
	assert_int_equal(msg_parse((const unsigned char *)msg,
	    sizeof(msg) - 1, NULL, &m), 0);
	p = msg_sa_parts(m, &n);
	assert_int_equal(n, 3);
	assert_true(bstr_caseeq_cstr(p[0].type, "multipart/mixed"));
	assert_false(p[0].leaf);
	/* the inner multipart (no boundary line of its own in its empty
	 * body) is an empty container; the HTML part is its sibling */
	assert_true(bstr_caseeq_cstr(p[1].type, "multipart/alternative"));
	assert_int_equal(p[1].parent, 0);
	assert_false(p[1].leaf);
	assert_int_equal(p[1].nlines, 0);
	assert_int_equal(p[2].parent, 0);
	assert_true(bstr_caseeq_cstr(p[2].type, "text/html"));
	assert_true(bstr_eq(p[2].name, BSTR_LIT("x.htm")));
	/* "<b>hi</b>\n" and the blank line, chomped: 10 + 0 -> one line */
	assert_int_equal(p[2].nlines, 1);
	assert_int_equal(p[2].lines[0].len, 9);
	assert_true(p[2].lines[0].nl);
	/* ". " after the close boundary is no epilogue */
	assert_int_equal(msg_sa_flags(m), 0);
	msg_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_long_header),
		cmocka_unit_test(test_tree),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
