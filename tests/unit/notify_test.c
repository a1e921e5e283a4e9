/* notify_test - filterd/notify.c: the DSN texts (RFC 3464 / RFC 6522):
 * the spam bounce and the one for recipients refused downstream, with
 * myhostname in From, Message-ID and Reporting-MTA */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filterd/cfg.h"
#include "filterd/notify.h"
#include "filterd/reinject.h"
#include "filterd/scan.h"

static const char raw[] = "From: a@sender.test\r\n"
			  "Subject: hello\r\n"
			  "Message-Id: <x@sender.test>\r\n"
			  "\r\n"
			  "body line\r\n";

static struct cfg *
mkcfg(void)
{
	struct cfg *c = cfg_new();
	char err[128];

	assert_non_null(c);
	assert_int_equal(
	    cfg_set(c, "myhostname", "mx.e2e.test", err, sizeof(err)), 0);
	return c;
}

/* count - occurrences of needle in the buffer */
static int
count(const struct buf *b, const char *needle)
{
	int n = 0;
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= b->len; i++)
		if (memcmp(b->p + i, needle, k) == 0)
			n++;
	return n;
}

static bool
has(const struct buf *b, const char *needle)
{
	return count(b, needle) > 0;
}

static void
test_rcpt_dsn(void **state)
{
	static const char *rcpts[] = { "ok@e2e.test", "gone@e2e.test",
		"later@e2e.test", "plain@e2e.test" };
	struct reinject_reply rep[4] = {
		{ 250, "2.0.0 Ok: queued as ABC" },
		{ 550, "5.1.1 <gone@e2e.test>: Recipient address rejected" },
		{ 450, "4.2.0 try later" },
		{ 554, "Transaction failed" },
	};
	struct reinject_result res = { .rcpt = rep, .nrcpts = 4, .accepted = 1 };
	struct envelope env = { .mail_from = "a@sender.test",
		.rcpts = rcpts,
		.nrcpts = 4 };
	struct cfg *c = mkcfg();
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(notify_build_rcpt_dsn(&b, c, &env, &res,
	    (struct bstr){ (const unsigned char *)raw, sizeof(raw) - 1 }), 0);
	/* myhostname names the sender (host() used to leave its buffer
	 * unset when myhostname was set: stack bytes here) */
	assert_true(has(&b, "From: filterd <MAILER-DAEMON@mx.e2e.test>\r\n"));
	assert_true(has(&b, "@mx.e2e.test>\r\nAuto-Submitted"));
	assert_true(has(&b, "\r\nTo: <a@sender.test>\r\n"));
	assert_true(has(&b, "Auto-Submitted: auto-generated\r\n"));
	assert_true(has(&b, "report-type=delivery-status"));
	assert_true(has(&b, "Reporting-MTA: dns; mx.e2e.test\r\n"));
	/* only the 5xx recipients, with their enhanced code or the class's */
	assert_int_equal(count(&b, "Final-Recipient:"), 2);
	assert_true(has(&b, "Final-Recipient: rfc822; gone@e2e.test\r\n"
			    "Action: failed\r\nStatus: 5.1.1\r\n"
			    "Diagnostic-Code: smtp; 550 5.1.1 <gone@e2e.test>"));
	assert_true(has(&b, "Final-Recipient: rfc822; plain@e2e.test\r\n"
			    "Action: failed\r\nStatus: 5.0.0\r\n"
			    "Diagnostic-Code: smtp; 554 Transaction failed"));
	assert_false(has(&b, "rfc822; ok@e2e.test"));
	assert_false(has(&b, "rfc822; later@e2e.test"));
	/* the original header section, not the body */
	assert_true(has(&b, "text/rfc822-headers\r\n\r\nFrom: a@sender.test"
			    "\r\nSubject: hello\r\n"));
	assert_false(has(&b, "body line"));
	assert_int_equal(count(&b, "--filterd-dsn-"), 4); /* 3 parts + end */
	buf_free(&b);
	cfg_free(c);
}

static void
test_spam_dsn(void **state)
{
	static const char *rcpts[] = { "r1@e2e.test", "r2@e2e.test" };
	struct envelope env = { .mail_from = "a@sender.test",
		.rcpts = rcpts,
		.nrcpts = 2 };
	struct cfg *c = mkcfg();
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_int_equal(notify_build_dsn(&b, c, &env, 31.5,
	    (struct bstr){ (const unsigned char *)raw, sizeof(raw) - 1 }), 0);
	assert_true(has(&b, "Subject: Undelivered Mail: rejected as spam\r\n"));
	assert_true(has(&b, "scored it\r\nas spam (score 31.5, limit 10.0)"));
	assert_int_equal(count(&b, "Status: 5.7.1\r\nDiagnostic-Code: smtp; "
				   "554 5.7.1 message scored as spam (31.5)"),
	    2);
	assert_true(has(&b, "text/rfc822-headers\r\n\r\nFrom: a@sender.test"));
	buf_free(&b);
	cfg_free(c);
}

static void
test_rcpt_dsn_wanted(void **state)
{
	struct envelope env = { .mail_from = "a@sender.test" };
	struct cfg *c = mkcfg();

	(void)state;
	assert_true(notify_rcpt_dsn_wanted(c, &env, 4.9));
	assert_false(notify_rcpt_dsn_wanted(c, &env, 5.0)); /* tag2_level */
	env.auth = "alice"; /* a sender that logged in is not forged */
	assert_true(notify_rcpt_dsn_wanted(c, &env, 50));
	env.auth = NULL;
	env.proto = "ESMTPSA";
	assert_true(notify_rcpt_dsn_wanted(c, &env, 50));
	env.mail_from = ""; /* never to the null sender */
	assert_false(notify_rcpt_dsn_wanted(c, &env, 0));
	env.mail_from = NULL;
	assert_false(notify_rcpt_dsn_wanted(c, &env, 0));
	cfg_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rcpt_dsn),
		cmocka_unit_test(test_spam_dsn),
		cmocka_unit_test(test_rcpt_dsn_wanted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
