/* smtp_test - filterd/smtp_parse.c: commands, xtext, data lines, replies */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "filterd/smtp_parse.h"

static const struct {
	const char *line;
	int rc;
	enum smtp_verb verb;
	const char *path;  /* MAIL/RCPT, NULL = don't care */
	long size;         /* -1 = none */
	enum smtp_body body;
} cmds[] = {
	{ "EHLO mx.example.org", 0, SMTP_EHLO, NULL, -1, 0 },
	{ "ehlo   x", 0, SMTP_EHLO, NULL, -1, 0 },
	{ "EHLO", SMTP_ESYNTAX, SMTP_EHLO, NULL, -1, 0 },
	{ "LHLO x", 0, SMTP_LHLO, NULL, -1, 0 },
	{ "HELO x", 0, SMTP_HELO, NULL, -1, 0 },
	{ "MAIL FROM:<a@b.example>", 0, SMTP_MAIL, "a@b.example", -1, 0 },
	{ "mail from: <a@b>", 0, SMTP_MAIL, "a@b", -1, 0 },
	{ "MAIL FROM:<>", 0, SMTP_MAIL, "", -1, 0 },
	{ "MAIL FROM:<a@b> SIZE=12345 BODY=8BITMIME", 0, SMTP_MAIL, "a@b",
	    12345, SMTP_BODY_8BITMIME },
	{ "MAIL FROM:<a@b> body=7bit", 0, SMTP_MAIL, "a@b", -1, SMTP_BODY_7BIT },
	{ "MAIL FROM:<a@b> SIZE=12x", SMTP_ESYNTAX, SMTP_MAIL, NULL, -1, 0 },
	{ "MAIL FROM:<a@b> SIZE=99999999999999999999", SMTP_ESYNTAX, SMTP_MAIL,
	    NULL, -1, 0 },
	{ "MAIL FROM:<a@b> BODY=BINARYMIME", SMTP_EPARAM, SMTP_MAIL, NULL, -1,
	    0 },
	{ "MAIL FROM:<a@b> RET=FULL", 0, SMTP_MAIL, "a@b", -1, 0 },
	{ "MAIL FROM:<a@b> RET=ALL", SMTP_ESYNTAX, SMTP_MAIL, NULL, -1, 0 },
	{ "MAIL FROM:<a@b> ENVID=a=b", SMTP_ESYNTAX, SMTP_MAIL, NULL, -1, 0 },
	{ "MAIL FROM:<a@b> AUTH=<>", SMTP_EPARAM, SMTP_MAIL, NULL, -1, 0 },
	{ "MAIL FROM:<a@b> SMTPUTF8=yes", SMTP_ESYNTAX, SMTP_MAIL, NULL, -1, 0 },
	{ "MAIL FROM:<a@b", SMTP_ESYNTAX, SMTP_MAIL, NULL, -1, 0 },
	{ "MAIL FROM:<a@b>x", SMTP_ESYNTAX, SMTP_MAIL, NULL, -1, 0 },
	{ "MAIL TO:<a@b>", SMTP_ESYNTAX, SMTP_MAIL, NULL, -1, 0 },
	{ "MAIL FROM:a@b", 0, SMTP_MAIL, "a@b", -1, 0 },
	{ "MAIL FROM:<@relay.example,@r2:u@d>", 0, SMTP_MAIL, "u@d", -1, 0 },
	{ "MAIL FROM:<\"a >b\"@d>", 0, SMTP_MAIL, "\"a >b\"@d", -1, 0 },
	{ "RCPT TO:<u@d>", 0, SMTP_RCPT, "u@d", -1, 0 },
	{ "RCPT TO:<>", SMTP_ESYNTAX, SMTP_RCPT, NULL, -1, 0 },
	{ "RCPT TO:<u@d> SIZE=1", SMTP_EPARAM, SMTP_RCPT, NULL, -1, 0 },
	{ "RCPT TO:<u@d> NOTIFY=NEVER", 0, SMTP_RCPT, "u@d", -1, 0 },
	{ "RCPT TO:<u@d> NOTIFY=SUCCESS,", SMTP_ESYNTAX, SMTP_RCPT, NULL, -1, 0 },
	{ "RCPT TO:<u@d> NOTIFY=SOMETIMES", SMTP_ESYNTAX, SMTP_RCPT, NULL, -1,
	    0 },
	{ "RCPT TO:<u@d> ORCPT=u@d", SMTP_ESYNTAX, SMTP_RCPT, NULL, -1, 0 },
	{ "RCPT TO:<u@d> ORCPT=rfc822;u+4", SMTP_ESYNTAX, SMTP_RCPT, NULL, -1,
	    0 },
	{ "DATA", 0, SMTP_DATA, NULL, -1, 0 },
	{ "DATA x", SMTP_ESYNTAX, SMTP_DATA, NULL, -1, 0 },
	{ "QUIT", 0, SMTP_QUIT, NULL, -1, 0 },
	{ "RSET", 0, SMTP_RSET, NULL, -1, 0 },
	{ "NOOP anything", 0, SMTP_NOOP, NULL, -1, 0 },
	{ "VRFY postmaster", 0, SMTP_VRFY, NULL, -1, 0 },
	{ "BDAT 10 LAST", 0, SMTP_BDAT, NULL, -1, 0 },
	{ "FOO bar", SMTP_EUNKNOWN, 0, NULL, -1, 0 },
	{ "", SMTP_EUNKNOWN, 0, NULL, -1, 0 },
	{ "MAIL:x", SMTP_EUNKNOWN, 0, NULL, -1, 0 },
	{ "GET / HTTP/1.0", SMTP_EUNKNOWN, 0, NULL, -1, 0 },
	{ "XFORWARD", SMTP_ESYNTAX, SMTP_XFORWARD, NULL, -1, 0 },
	{ "XFORWARD NAME", SMTP_ESYNTAX, SMTP_XFORWARD, NULL, -1, 0 },
	{ "XFORWARD =x", SMTP_ESYNTAX, SMTP_XFORWARD, NULL, -1, 0 },
};

static void
test_commands(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct smtp_cmd c;
		int rc = smtp_parse_cmd((const unsigned char *)cmds[i].line,
		    strlen(cmds[i].line), &c);

		if (rc != cmds[i].rc)
			fail_msg("'%s': rc %d, want %d", cmds[i].line, rc,
			    cmds[i].rc);
		if (rc == SMTP_EUNKNOWN)
			continue;
		assert_int_equal(c.verb, cmds[i].verb);
		if (rc < 0)
			continue;
		if (cmds[i].path) {
			if (c.path.len != strlen(cmds[i].path) ||
			    memcmp(c.path.p, cmds[i].path, c.path.len))
				fail_msg("'%s': path '%.*s'", cmds[i].line,
				    (int)c.path.len, c.path.p);
		}
		if (cmds[i].size >= 0) {
			assert_true(c.has_size);
			assert_int_equal(c.size, cmds[i].size);
		} else {
			assert_false(c.has_size);
		}
		assert_int_equal(c.body, cmds[i].body);
	}
}

static void
test_dsn_utf8(void **state)
{
	(void)state;
	struct smtp_cmd c;
	const char *m = "MAIL FROM:<a@b> RET=HDRS SIZE=10 ENVID=Q+2B1 SMTPUTF8";
	const char *r = "RCPT TO:<u@d> NOTIFY=SUCCESS,FAILURE "
			"ORCPT=rfc822;u+40d";

	assert_int_equal(smtp_parse_cmd((const unsigned char *)m, strlen(m),
	    &c), 0);
	assert_true(c.smtputf8);
	assert_true(bstr_eq(c.ret, BSTR_LIT("RET=HDRS")));
	assert_true(bstr_eq(c.envid, BSTR_LIT("ENVID=Q+2B1")));
	assert_int_equal(c.size, 10);
	assert_int_equal(smtp_parse_cmd((const unsigned char *)r, strlen(r),
	    &c), 0);
	assert_true(bstr_eq(c.notify, BSTR_LIT("NOTIFY=SUCCESS,FAILURE")));
	assert_true(bstr_eq(c.orcpt, BSTR_LIT("ORCPT=rfc822;u+40d")));
}

static void
test_nul_and_cr(void **state)
{
	(void)state;
	struct smtp_cmd c;

	assert_int_equal(smtp_parse_cmd((const unsigned char *)"NOOP\0x", 6,
	    &c), SMTP_ENUL);
	assert_int_equal(smtp_parse_cmd((const unsigned char *)"NOOP\rx", 6,
	    &c), SMTP_ENUL);
}

static void
test_xforward(void **state)
{
	(void)state;
	const char *l = "XFORWARD NAME=mx.example ADDR=IPv6:2001:db8::1 "
			"HELO=[UNAVAILABLE] IDENT=4Xyz+2Babc";
	struct smtp_cmd c;
	char v[64];

	assert_int_equal(smtp_parse_cmd((const unsigned char *)l, strlen(l),
	    &c), 0);
	assert_int_equal(c.nxattrs, 4);
	assert_true(bstr_caseeq_cstr(c.xattrs[1].name, "ADDR"));
	assert_true(bstr_eq(c.xattrs[1].value, BSTR_LIT("IPv6:2001:db8::1")));
	assert_int_equal(smtp_xtext_decode(c.xattrs[3].value, v, sizeof(v)),
	    0);
	assert_string_equal(v, "4Xyz+abc");
	assert_int_equal(smtp_xtext_decode(BSTR_LIT("a+2"), v, sizeof(v)),
	    -EINVAL);
	assert_int_equal(smtp_xtext_decode(BSTR_LIT("a+0Ab"), v, sizeof(v)),
	    -EINVAL); /* control byte */
	assert_int_equal(smtp_xtext_decode(BSTR_LIT("abcdef"), v, 4),
	    -ENOSPC);
	assert_int_equal(smtp_xtext_encode("a+b=c d", v, sizeof(v)), 0);
	assert_string_equal(v, "a+2Bb+3Dc+20d");
	assert_int_equal(smtp_xtext_encode("abc", v, 3), -ENOSPC);
}

static void
test_data_lines(void **state)
{
	(void)state;
	size_t skip;
	const unsigned char *dot = (const unsigned char *)".";

	/* "." ends the data only with CRLF on it and on the line before. */
	assert_int_equal(smtp_data_line(dot, 1, true, true, &skip), 1);
	assert_int_equal(smtp_data_line(dot, 1, false, true, &skip), 0);
	assert_int_equal(smtp_data_line(dot, 1, true, false, &skip), 0);
	/* Stuffed dots are removed (RFC 5321 section 4.5.2). */
	assert_int_equal(smtp_data_line((const unsigned char *)"..x", 3, true,
	    true, &skip), 0);
	assert_int_equal(skip, 1);
	assert_int_equal(smtp_data_line((const unsigned char *)"x.", 2, true,
	    true, &skip), 0);
	assert_int_equal(skip, 0);
	assert_int_equal(smtp_data_line((const unsigned char *)"", 0, true,
	    true, &skip), 0);
}

static void
test_replies(void **state)
{
	(void)state;
	int code;
	bool last;
	struct bstr t;

	assert_int_equal(smtp_parse_reply((const unsigned char *)"250-PIPELINING",
	    14, &code, &last, &t), 0);
	assert_int_equal(code, 250);
	assert_false(last);
	assert_true(bstr_eq(t, BSTR_LIT("PIPELINING")));
	assert_int_equal(smtp_parse_reply((const unsigned char *)"451 4.3.0 x",
	    11, &code, &last, &t), 0);
	assert_int_equal(code, 451);
	assert_true(last);
	assert_int_equal(smtp_parse_reply((const unsigned char *)"220", 3,
	    &code, &last, &t), 0);
	assert_true(last);
	assert_int_equal(smtp_parse_reply((const unsigned char *)"25", 2,
	    &code, &last, &t), -EINVAL);
	assert_int_equal(smtp_parse_reply((const unsigned char *)"hello", 5,
	    &code, &last, &t), -EINVAL);
	assert_int_equal(smtp_parse_reply((const unsigned char *)"250x", 4,
	    &code, &last, &t), -EINVAL);
	assert_int_equal(smtp_parse_reply((const unsigned char *)"150 x", 5,
	    &code, &last, &t), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_nul_and_cr),
		cmocka_unit_test(test_dsn_utf8),
		cmocka_unit_test(test_xforward),
		cmocka_unit_test(test_data_lines),
		cmocka_unit_test(test_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
