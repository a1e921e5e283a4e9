/* spamd_test - the spamc/spamd protocol parser, zlib bodies and reply
 * formatting (filterd/spamd_proto.c), byte for byte against what spamd
 * 4.0 (Perl) writes */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "filterd/spamd_proto.h"
#include "util/buf.h"

static int
parse(const char *s, struct spamd_req *r, const char **why)
{
	return spamd_parse_head((const unsigned char *)s, strlen(s), r, why);
}

static void
test_parse_check(void **state)
{
	struct spamd_req r;
	const char *why;
	const char *req = "CHECK SPAMC/1.5\r\nContent-length: 1234\r\n"
	    "User: alice\r\n\r\nFrom: x";

	(void)state;
	assert_int_equal(parse(req, &r, &why), 0);
	assert_int_equal(r.cmd, SPAMD_CHECK);
	assert_int_equal(r.version, 15);
	assert_true(r.has_length);
	assert_int_equal(r.length, 1234);
	assert_string_equal(r.user, "alice");
	assert_false(r.compress);
	assert_int_equal(r.head_len, strlen(req) - strlen("From: x"));
	assert_true(spamd_cmd_has_body(&r));
	/* LF-only lines work too (spamd reads with getline) */
	assert_int_equal(parse("SYMBOLS SPAMC/1.3\nContent-length: 5\n\n",
	    &r, &why), 0);
	assert_int_equal(r.cmd, SPAMD_SYMBOLS);
	assert_int_equal(r.version, 13);
	assert_int_equal(r.length, 5);
}

static void
test_parse_incomplete(void **state)
{
	struct spamd_req r;
	const char *why;

	(void)state;
	assert_int_equal(parse("", &r, &why), -EAGAIN);
	assert_int_equal(parse("CHECK SPAMC/1.5", &r, &why), -EAGAIN);
	assert_int_equal(parse("CHECK SPAMC/1.5\r\nContent-length: 3\r\n",
	    &r, &why), -EAGAIN);
	/* PING at 1.5 has a (null) header block, at 1.2 none */
	assert_int_equal(parse("PING SPAMC/1.5\r\n", &r, &why), -EAGAIN);
	assert_int_equal(parse("PING SPAMC/1.5\r\n\r\n", &r, &why), 0);
	assert_int_equal(r.cmd, SPAMD_PING);
	assert_false(spamd_cmd_has_body(&r));
	assert_int_equal(parse("PING SPAMC/1.2\r\n", &r, &why), 0);
	assert_int_equal(r.head_len, 16);
	/* SPAMC/1.0: no headers, the message follows the request line */
	assert_int_equal(parse("PROCESS SPAMC/1.0\r\nSubject: x\r\n", &r,
	    &why), 0);
	assert_int_equal(r.head_len, 19);
}

static void
test_parse_errors(void **state)
{
	struct spamd_req r;
	const char *why;
	char big[SPAMD_MAX_LINE + 64];

	(void)state;
	assert_int_equal(parse("FROB SPAMC/1.5\r\n\r\n", &r, &why), -EPROTO);
	assert_int_equal(parse("CHECKS SPAMC/1.5\r\n\r\n", &r, &why),
	    -EPROTO);
	assert_int_equal(parse("CHECK HTTP/1.1\r\n\r\n", &r, &why), -EPROTO);
	assert_int_equal(parse("CHECK SPAMC/x\r\n\r\n", &r, &why), -EPROTO);
	assert_int_equal(parse("CHECK SPAMC/1.5 junk\r\n\r\n", &r, &why),
	    -EPROTO);
	assert_int_equal(parse("CHECK SPAMC/1.5\r\nno colon\r\n\r\n", &r,
	    &why), -EPROTO);
	assert_string_equal(why, "header not in 'Name: value' format");
	assert_int_equal(parse("CHECK SPAMC/1.5\r\nContent-length: 12a\r\n"
	    "\r\n", &r, &why), -EPROTO);
	assert_int_equal(parse("CHECK SPAMC/1.5\r\nContent-length: "
	    "99999999999999999999999\r\n\r\n", &r, &why), -EPROTO);
	assert_int_equal(parse("CHECK SPAMC/1.5\r\nUser: a\001b\r\n\r\n", &r,
	    &why), -EPROTO);
	assert_int_equal(parse("CHECK SPAMC/1.5\r\nCompress: gzip\r\n\r\n",
	    &r, &why), -EPROTO);
	/* spamd: "Compress requires Content-length header" */
	assert_int_equal(parse("CHECK SPAMC/1.5\r\nCompress: zlib\r\n\r\n",
	    &r, &why), -EPROTO);
	assert_string_equal(why, "Compress requires Content-length header");
	/* too many headers, too long a line */
	struct buf b;

	buf_init(&b, 1 << 20);
	buf_puts(&b, "CHECK SPAMC/1.5\r\n");
	for (int i = 0; i < SPAMD_MAX_HEADERS + 1; i++)
		buf_puts(&b, "X-Other: 1\r\n");
	buf_puts(&b, "\r\n");
	assert_int_equal(spamd_parse_head(b.p, b.len, &r, &why), -E2BIG);
	buf_free(&b);
	memset(big, 'a', sizeof(big));
	assert_int_equal(spamd_parse_head((unsigned char *)big, sizeof(big),
	    &r, &why), -E2BIG);
}

static void
test_parse_tell(void **state)
{
	struct spamd_req r;
	const char *why;

	(void)state;
	assert_int_equal(parse("TELL SPAMC/1.5\r\nMessage-class: spam\r\n"
	    "Set: local, remote\r\nContent-length: 10\r\n\r\n", &r, &why), 0);
	assert_int_equal(r.cmd, SPAMD_TELL);
	assert_int_equal(r.cls, SPAMD_CLASS_SPAM);
	assert_int_equal(r.set, SPAMD_TELL_LOCAL | SPAMD_TELL_REMOTE);
	assert_int_equal(r.remove, 0);
	assert_int_equal(parse("TELL SPAMC/1.5\r\nRemove: local\r\n\r\n", &r,
	    &why), 0);
	assert_int_equal(r.remove, SPAMD_TELL_LOCAL);
	assert_int_equal(parse("TELL SPAMC/1.5\r\nMessage-class: eggs\r\n\r\n",
	    &r, &why), -EPROTO);
	assert_int_equal(parse("TELL SPAMC/1.5\r\nSet: nowhere\r\n\r\n", &r,
	    &why), -EPROTO);
}

static void
test_inflate(void **state)
{
	unsigned char src[20000], z[30000];
	uLongf zlen = sizeof(z);
	struct buf out;

	(void)state;
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)("line of text\r\n"[i % 14]);
	assert_int_equal(compress(z, &zlen, src, sizeof(src)), Z_OK);
	buf_init(&out, 1 << 20);
	assert_int_equal(spamd_inflate(z, zlen, 1 << 20, &out), 0);
	assert_int_equal(out.len, sizeof(src));
	assert_memory_equal(out.p, src, sizeof(src));
	buf_reset(&out);
	/* a bomb is cut at max */
	assert_int_equal(spamd_inflate(z, zlen, 1000, &out), -EFBIG);
	buf_reset(&out);
	/* truncated and garbage streams */
	assert_int_equal(spamd_inflate(z, zlen / 2, 1 << 20, &out), -EPROTO);
	buf_reset(&out);
	assert_int_equal(spamd_inflate((const unsigned char *)"0123456789",
	    10, 1 << 20, &out), -EPROTO);
	buf_reset(&out);
	assert_int_equal(spamd_inflate(z, 0, 1 << 20, &out), -EPROTO);
	buf_free(&out);
}

static void
test_score_str(void **state)
{
	char s[64];

	(void)state;
	spamd_score_str(20.04, 5.0, true, s, sizeof(s));
	assert_string_equal(s, "20.0");
	spamd_score_str(-1.25, 5.0, false, s, sizeof(s));
	assert_string_equal(s, "-1.2"); /* printf rounding, as Perl's */
	spamd_score_str(0.0, 5.0, false, s, sizeof(s));
	assert_string_equal(s, "0.0");
	/* ham at 4.96 would print "5.0 / 5.0": spamd shows 4.9 */
	spamd_score_str(4.96, 5.0, false, s, sizeof(s));
	assert_string_equal(s, "4.9");
}

static void
reply_is(const char *req, bool spam, double score, size_t blen,
    const char *want)
{
	struct spamd_req r;
	const char *why;
	struct buf b;

	assert_int_equal(parse(req, &r, &why), 0);
	buf_init(&b, 4096);
	assert_int_equal(spamd_reply_head(&b, &r, spam, score, 5.0, blen), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.p, want, b.len);
	buf_free(&b);
}

static void
test_replies(void **state)
{
	(void)state;
	/* spamd 4.0 check(): exact bytes per command and version */
	reply_is("CHECK SPAMC/1.5\r\n\r\n", true, 20, 0,
	    "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 20.0 / 5.0\r\n\r\n");
	reply_is("CHECK SPAMC/1.5\r\n\r\n", false, 1.04, 0,
	    "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1.0 / 5.0\r\n\r\n");
	reply_is("SYMBOLS SPAMC/1.5\r\n\r\n", true, 6, 13,
	    "SPAMD/1.1 0 EX_OK\r\nContent-length: 13\r\n"
	    "Spam: True ; 6.0 / 5.0\r\n\r\n");
	reply_is("REPORT_IFSPAM SPAMC/1.5\r\n\r\n", false, 0, 0,
	    "SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\n"
	    "Spam: No ; 0.0 / 5.0\r\n\r\n");
	/* Exim sends REPORT SPAMC/1.2: no Content-length, Spam: line */
	reply_is("REPORT SPAMC/1.2\r\nUser: nobody\r\nContent-length: 9\r\n"
	    "\r\n", true, 6, 300,
	    "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 6.0 / 5.0\r\n\r\n");
	reply_is("PROCESS SPAMC/1.5\r\n\r\n", true, 6, 100,
	    "SPAMD/1.1 0 EX_OK\r\nContent-length: 100\r\n"
	    "Spam: True ; 6.0 / 5.0\r\n\r\n");
	reply_is("PROCESS SPAMC/1.2\r\n\r\n", true, 6, 100,
	    "SPAMD/1.1 0 EX_OK\r\nContent-length: 100\r\n\r\n");
	reply_is("PROCESS SPAMC/1.1\r\n\r\n", true, 6, 100,
	    "SPAMD/1.0 0 EX_OK\r\n");
}

static void
test_error_reply(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(spamd_reply_error(&b, SPAMD_EX_PROTOCOL,
	    "(EOF during headers)"), 0);
	assert_int_equal(spamd_reply_error(&b, SPAMD_EX_UNAVAILABLE,
	    "TELL commands have not been enabled."), 0);
	assert_int_equal(spamd_reply_error(&b, SPAMD_EX_TIMEOUT,
	    "(30 second socket timeout reading input from client)"), 0);
	buf_putc(&b, '\0');
	assert_string_equal((char *)b.p,
	    "SPAMD/1.0 76 Bad header line: (EOF during headers)\r\n"
	    "SPAMD/1.0 69 Service Unavailable: TELL commands have not been "
	    "enabled.\r\n"
	    "SPAMD/1.0 79 Timeout: (30 second socket timeout reading input "
	    "from client)\r\n");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_check),
		cmocka_unit_test(test_parse_incomplete),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_tell),
		cmocka_unit_test(test_inflate),
		cmocka_unit_test(test_score_str),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_error_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
