/* mail_mime_test - MIME tree, transfer decoding, charsets, text views */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mail/mail_int.h"
#include "mail/msg.h"

static struct msg *
parse_o(const char *s, const struct msg_opts *o)
{
	struct msg *m = NULL;

	assert_int_equal(msg_parse((const unsigned char *)s, strlen(s), o,
	    &m), 0);
	return m;
}

static struct msg *
parse(const char *s)
{
	return parse_o(s, NULL);
}

static void
assert_bstr(struct bstr b, const char *want)
{
	if (b.len != strlen(want) || memcmp(b.p, want, b.len) != 0)
		fail_msg("got \"%.*s\" want \"%s\"", (int)b.len, b.p, want);
}

struct dec_case {
	const char *in, *want;
	bool err;
};

static const struct dec_case b64_cases[] = {
	{ "aGVsbG8=", "hello", false },
	{ "aGVs\r\nbG8=\r\n", "hello", false },
	{ "aGVsbG8", "hello", false },        /* unpadded */
	{ "aGVsbG8gd", "hello ", true },      /* a lone sextet */
	{ "aGV*sbG8=", "hello", true },       /* junk ignored, flagged */
	{ "aGk=aGk=", "hihi", false },        /* concatenated streams */
	{ "", "", false },
	{ "====", "", false },
};

static const struct dec_case qp_cases[] = {
	{ "a=3Db", "a=b", false },
	{ "soft=\r\nbreak", "softbreak", false },
	{ "soft= \t\nbreak", "softbreak", false },
	{ "caf=e9", "caf\xe9", false },       /* lowercase hex tolerated */
	{ "50% =ZZ", "50% =ZZ", true },       /* broken: kept literally */
	{ "end=", "end", false },
};

static void
test_decoders(void **state)
{
	(void)state;
	unsigned char out[64];

	for (size_t i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]); i++) {
		unsigned f = 0;
		size_t n = msg__b64_decode((const unsigned char *)b64_cases[i].in,
		    strlen(b64_cases[i].in), out, &f);

		if (n != strlen(b64_cases[i].want) ||
		    memcmp(out, b64_cases[i].want, n) ||
		    !!(f & MSG_ERR_B64) != b64_cases[i].err)
			fail_msg("b64 case %zu: %.*s flags %#x", i, (int)n,
			    out, f);
	}
	for (size_t i = 0; i < sizeof(qp_cases) / sizeof(qp_cases[0]); i++) {
		unsigned f = 0;
		size_t n = msg__qp_decode((const unsigned char *)qp_cases[i].in,
		    strlen(qp_cases[i].in), out, &f, false);

		if (n != strlen(qp_cases[i].want) ||
		    memcmp(out, qp_cases[i].want, n) ||
		    !!(f & MSG_ERR_QP) != qp_cases[i].err)
			fail_msg("qp case %zu: %.*s flags %#x", i, (int)n,
			    out, f);
	}
}

struct cs_case {
	const char *cs, *in, *want;
};

static const struct cs_case cs_cases[] = {
	{ "us-ascii", "plain", "plain" },
	{ "iso-8859-1", "\x93q\x94 caf\xe9", "\xe2\x80\x9cq\xe2\x80\x9d caf\xc3\xa9" },
	{ "us-ascii", "\xc3\xa9", "\xc3\xa9" },     /* mislabelled UTF-8 */
	{ "us-ascii", "\xe9t\xe9", "\xc3\xa9t\xc3\xa9" }, /* 8-bit as 1252 */
	{ "utf-8", "ok \xff", "ok \xc3\xbf" },
	{ "GB2312", "\xd6\xd0", "\xe4\xb8\xad" },
	{ "koi8-r", "\xf0\xd2\xc9", "\xd0\x9f\xd1\x80\xd0\xb8" },
	{ "\"windows-1251\"", "\xcf", "\xd0\x9f" },
	{ "x-unknown-thing", "\xc3\xa9", "\xc3\xa9" },
	{ "shift_jis", "\x82\xa0", "\xe3\x81\x82" },
};

static void
test_charsets(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	struct msg__iconv *ic = NULL;

	for (size_t i = 0; i < sizeof(cs_cases) / sizeof(cs_cases[0]); i++) {
		unsigned f = 0;
		struct bstr o = msg__to_utf8(a, &ic, bstr_cstr(cs_cases[i].cs),
		    bstr_cstr(cs_cases[i].in), &f);

		if (o.len != strlen(cs_cases[i].want) ||
		    memcmp(o.p, cs_cases[i].want, o.len))
			fail_msg("charset case %zu (%s): \"%.*s\"", i,
			    cs_cases[i].cs, (int)o.len, o.p);
	}
	unsigned f = 0;

	msg__to_utf8(a, &ic, BSTR_LIT("x-unknown-thing"), BSTR_LIT("\xe9"),
	    &f);
	assert_true(f & MSG_ERR_CHARSET);
	arena_free(a);
}

static const char alt_msg[] =
    "Subject: Test =?utf-8?q?=C3=BC?=\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\n"
    "\n"
    "preamble is ignored\n"
    "--b1\n"
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Hello caf=E9 soft=\n"
    "break.\n"
    "\n"
    "Second   paragraph\n"
    "continues here.\n"
    "--b1\n"
    "Content-Type: text/html; charset=utf-8\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "PHA+SGk8L3A+\n"
    "--b1--\n"
    "epilogue\n";

static void
test_alternative(void **state)
{
	(void)state;
	struct msg *m = parse(alt_msg);
	const struct msg_part *p;

	assert_int_equal(msg_part_count(m), 3);
	p = msg_part_at(m, 0);
	assert_true(p->is_multipart);
	assert_bstr(p->ctype, "multipart/alternative");
	assert_bstr(p->boundary, "b1");
	assert_int_equal(p->parent, -1);
	p = msg_part_at(m, 1);
	assert_int_equal(p->parent, 0);
	assert_int_equal(p->depth, 1);
	assert_int_equal(p->encoding, MSG_ENC_QP);
	assert_bstr(p->charset, "iso-8859-1");
	assert_bstr(p->text, "Hello caf\xc3\xa9 softbreak.\n\nSecond   "
	    "paragraph\ncontinues here.");
	assert_true(p->is_text);
	assert_false(p->is_html);
	p = msg_part_at(m, 2);
	assert_true(p->is_html);
	assert_bstr(p->decoded, "<p>Hi</p>");
	assert_bstr(p->rendered, "\n\nHi\n\n");
	assert_null(msg_part_at(m, 3));

	/* SA body: subject line, then paragraphs as lines */
	size_t n;
	const struct bstr *l = msg_body_lines(m, &n);

	assert_int_equal(n, 4);
	assert_bstr(l[0], "Test \xc3\xbc");
	assert_bstr(l[1], "Hello caf\xc3\xa9 softbreak.");
	assert_bstr(l[2], "Second paragraph continues here.");
	assert_bstr(l[3], "Hi");
	assert_bstr(msg_body_text(m), "Test \xc3\xbc\nHello caf\xc3\xa9 "
	    "softbreak.\nSecond paragraph continues here.\nHi\n");
	/* rawbody: decoded, not rendered, split at newlines */
	l = msg_rawbody_lines(m, &n);
	assert_bstr(l[0], "Hello caf\xc3\xa9 softbreak.");
	assert_bstr(l[n - 1], "<p>Hi</p>");
	assert_int_equal(msg_flags(m) & (MSG_ERR_MIME_BOUNDARY |
	    MSG_ERR_MIME_NO_END), 0);
	msg_free(m);
}

static void
test_broken_boundaries(void **state)
{
	(void)state;
	struct msg *m;

	/* no boundary parameter: one text/plain part */
	m = parse("Content-Type: multipart/mixed\n\nhello there\n");
	assert_true(msg_flags(m) & MSG_ERR_MIME_BOUNDARY);
	assert_int_equal(msg_part_count(m), 1);
	assert_bstr(msg_part_at(m, 0)->ctype, "text/plain");
	assert_bstr(msg_part_at(m, 0)->text, "hello there\n");
	msg_free(m);

	/* boundary never occurs: the body is read as one part */
	m = parse("Content-Type: multipart/mixed; boundary=zz\n\nSubject: q\n"
	    "\nspam text\n");
	assert_true(msg_flags(m) & MSG_ERR_MIME_BOUNDARY);
	assert_int_equal(msg_part_count(m), 2);
	assert_bstr(msg_part_at(m, 1)->text, "spam text\n");
	msg_free(m);

	/* missing close delimiter: the last part runs to the end */
	m = parse("Content-Type: multipart/mixed; boundary=zz\n\n--zz\n\none\n"
	    "--zz\nContent-Type: text/plain\n\ntwo\n");
	assert_true(msg_flags(m) & MSG_ERR_MIME_NO_END);
	assert_int_equal(msg_part_count(m), 3);
	assert_bstr(msg_part_at(m, 1)->text, "one");
	assert_bstr(msg_part_at(m, 2)->text, "two\n");
	msg_free(m);

	/* delimiter with transport padding and CRLF; a look-alike line that
	 * is not a delimiter stays in the part */
	m = parse("Content-Type: multipart/mixed; boundary=\"a b\"\r\n\r\n"
	    "--a b  \r\n\r\nx\r\n--a bc\r\ny\r\n--a b--\r\n");
	assert_int_equal(msg_part_count(m), 2);
	/* decoded keeps CRLF; the text views use LF like SA */
	assert_bstr(msg_part_at(m, 1)->decoded, "x\r\n--a bc\r\ny");
	assert_bstr(msg_part_at(m, 1)->text, "x\n--a bc\ny");
	msg_free(m);

	/* duplicate boundary in a nested multipart */
	m = parse("Content-Type: multipart/mixed; boundary=d\n\n--d\n"
	    "Content-Type: multipart/alternative; boundary=d\n\n--d\n\nin\n"
	    "--d--\n");
	assert_true(msg_part_count(m) >= 2);
	msg_free(m);
}

static void
test_depth_and_parts(void **state)
{
	(void)state;
	static char raw[8192];
	size_t n = 0;
	struct msg_opts o = { .max_depth = 3 };
	struct msg *m;

	/* five nested message/rfc822 */
	for (int i = 0; i < 5; i++)
		n += (size_t)snprintf(raw + n, sizeof(raw) - n,
		    "Subject: level %d\nContent-Type: message/rfc822\n\n", i);
	n += (size_t)snprintf(raw + n, sizeof(raw) - n,
	    "Subject: inner\n\ndeep text\n");
	m = parse_o(raw, &o);
	assert_true(msg_flags(m) & MSG_ERR_MIME_DEPTH);
	assert_int_equal(msg_part_count(m), 4);
	assert_true(msg_part_at(m, 1)->is_message);
	assert_int_equal(msg_part_at(m, 3)->depth, 3);
	assert_null(msg_part_at(m, 3)->text.p);
	msg_free(m);

	/* within the limit the inner text is reached */
	o.max_depth = 16;
	m = parse_o(raw, &o);
	assert_int_equal(msg_flags(m) & MSG_ERR_MIME_DEPTH, 0);
	assert_bstr(msg_part_at(m, msg_part_count(m) - 1)->text,
	    "deep text\n");
	msg_free(m);

	/* part cap */
	n = (size_t)snprintf(raw, sizeof(raw),
	    "Content-Type: multipart/mixed; boundary=p\n\n");
	for (int i = 0; i < 50; i++)
		n += (size_t)snprintf(raw + n, sizeof(raw) - n,
		    "--p\n\npart %d\n", i);
	struct msg_opts o2 = { .max_parts = 10 };

	m = parse_o(raw, &o2);
	assert_true(msg_flags(m) & MSG_ERR_MIME_PARTS);
	assert_int_equal(msg_part_count(m), 10);
	msg_free(m);
}

static void
test_params(void **state)
{
	(void)state;
	struct msg *m = parse(
	    "Content-Type: multipart/mixed; boundary=x\n\n--x\n"
	    /* RFC 2231 3 and 4: continuations with charset */
	    "Content-Type: application/octet-stream;\n"
	    " name*0*=utf-8''na%C3%AF;\n name*1=\"ve file\";\n"
	    " name*2*=%2Etxt\n"
	    "Content-Disposition: attachment; filename=\"a \\\"q\\\".pdf\"\n"
	    "Content-Transfer-Encoding: base64\n\nAAEC\n"
	    "--x\n"
	    "Content-Type: text/plain; charset=\"UTF-8\"; format=flowed\n"
	    "Content-Disposition: inline;\n"
	    " filename*=iso-8859-1'en'%E9t%E9.txt\n\nbody\n"
	    "--x\n"
	    "Content-Type: image/gif; name==?utf-8?B?w6kuZ2lm?=\n\nGIF\n"
	    "--x--\n");

	assert_int_equal(msg_part_count(m), 4);
	const struct msg_part *p = msg_part_at(m, 1);

	assert_bstr(p->name, "na\xc3\xafve file.txt");
	assert_bstr(p->filename, "a \"q\".pdf");
	assert_bstr(p->disposition, "attachment");
	assert_true(p->is_attachment);
	assert_int_equal(p->decoded.len, 3);
	assert_false(p->is_text);
	p = msg_part_at(m, 2);
	assert_bstr(p->charset, "utf-8");
	assert_bstr(p->filename, "\xc3\xa9t\xc3\xa9.txt");
	assert_bstr(p->disposition, "inline");
	p = msg_part_at(m, 3);
	assert_bstr(p->filename, "\xc3\xa9.gif");
	msg_free(m);
}

static void
test_views_cap(void **state)
{
	(void)state;
	static char raw[70000];
	size_t n = (size_t)snprintf(raw, sizeof(raw), "Subject: cap\n\n");
	struct msg_opts o = { .max_body_text = 10000 };
	struct msg *m;

	while (n < sizeof(raw) - 100)
		n += (size_t)snprintf(raw + n, sizeof(raw) - n,
		    "word word word word\n\n");
	m = parse_o(raw, &o);
	assert_true(msg_flags(m) & MSG_ERR_TEXT_TRUNC);
	assert_true(msg_body_text(m).len < 10000 + 1100);
	assert_true(msg_rawbody_text(m).len < 10000 + 1100);
	msg_free(m);

	/* long lines split at a space before 2048 bytes (SA) */
	n = (size_t)snprintf(raw, sizeof(raw), "Subject: long\n\n");
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(raw + n, sizeof(raw) - n, "abcd ");
	m = parse(raw);
	size_t k;
	const struct bstr *l = msg_body_lines(m, &k);

	assert_int_equal(k, 4);
	assert_true(l[1].len <= 2048 && l[1].p[l[1].len - 1] == ' ');
	msg_free(m);

	/* a hard cut (no newline or space after the cap) never splits a
	 * UTF-8 sequence: the views stay valid UTF-8 (fuzz) */
	n = (size_t)snprintf(raw, sizeof(raw),
	    "Content-Type: text/plain; charset=utf-8\n\nx");
	while (n < 60000)
		n += (size_t)snprintf(raw + n, sizeof(raw) - n, "\xc3\xa9");
	struct msg_opts o2 = { .max_body_text = 40000 };

	m = parse_o(raw, &o2);
	assert_true(msg_flags(m) & MSG_ERR_TEXT_TRUNC);
	struct bstr b = msg_body_text(m), rb = msg_rawbody_text(m);

	assert_true(b.len > 30000 && b.len <= 40000 + 1);
	assert_true(msg__utf8_valid(b.p, b.len));
	assert_true(rb.len > 30000 && rb.len <= 40000);
	assert_true(msg__utf8_valid(rb.p, rb.len));
	msg_free(m);
	/* the per-part cut (max_body_part, 50000 by default) likewise */
	m = parse(raw);
	b = msg_body_text(m);
	assert_true(b.len > 40000 && b.len <= 50000 + 1);
	assert_true(msg__utf8_valid(b.p, b.len));
	msg_free(m);
}

static void
test_no_subject_and_parts_joined(void **state)
{
	(void)state;
	struct msg *m = parse("From: a@b.c\n\nline one\nline two\n \n\t\n"
	    "para\xc2\xa0two\n");
	size_t n;
	const struct bstr *l = msg_body_lines(m, &n);

	/* no Subject: an empty first line, as SA's "\n" */
	assert_int_equal(n, 3);
	assert_bstr(l[0], "");
	assert_bstr(l[1], "line one line two");
	assert_bstr(l[2], "para two ");
	msg_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decoders),
		cmocka_unit_test(test_charsets),
		cmocka_unit_test(test_alternative),
		cmocka_unit_test(test_broken_boundaries),
		cmocka_unit_test(test_depth_and_parts),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_views_cap),
		cmocka_unit_test(test_no_subject_and_parts_joined),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
