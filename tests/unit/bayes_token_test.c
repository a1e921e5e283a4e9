/* bayes_token_test - the token set of parsed messages (bayes_tokenize) and
 * learn/classify of whole messages through bayes.h */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bayes/bayes.h"
#include "mail/msg.h"

static const char msg1[] =
    "Received: from localhost (localhost [127.0.0.1])\r\n"
    "\tby mail.example.net (Postfix) with ESMTP id LOC1\r\n"
    "\tfor <user@localhost>; Mon, 1 Sep 2025 10:00:01 +0000\r\n"
    "Received: from mx.sender.example (mx.sender.example [192.0.2.77])\r\n"
    "\tby mail.example.net with ESMTP id ABC\r\n"
    "\tfor <user@example.net>; Mon, 1 Sep 2025 10:00:00 +0000\r\n"
    "From: \"Cheap Meds\" <offers@pharma.example.com>\r\n"
    "To: user@example.net\r\n"
    "Subject: =?UTF-8?B?R3LDvMOfZSBmcm9t?= Pharmacy\r\n"
    "Message-ID: <1234@bulk.sender.example>\r\n"
    "X-Mailer: MassMailer 9\r\n"
    "Date: Mon, 1 Sep 2025 10:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "\r\n"
    "<html><body><p>Buy <b>cheap</b> pills at "
    "<a href=\"http://www.shop.pills.example/x\">our shop</a></p>"
    "</body></html>\r\n"
    "--b1\r\n"
    "Content-Type: application/octet-stream; name=\"invoice.exe\"\r\n"
    "Content-Disposition: attachment; filename=\"invoice.exe\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "TVqQAAMAAAAEAAAA\r\n"
    "--b1--\r\n";

static bool
has(const struct bayes_tokset *ts, const char *w)
{
	uint64_t x = bayes_siphash(ts->key, w, strlen(w));

	for (size_t i = 0; i < ts->n; i++)
		if (ts->v[i] == x)
			return true;
	return false;
}

static void
test_message_tokens(void **state)
{
	(void)state;
	struct msg *m = NULL;
	struct bayes_tokset ts;

	assert_int_equal(
	    msg_parse((const unsigned char *)msg1, sizeof(msg1) - 1, NULL, &m),
	    0);
	bayes_tokset_init(&ts, NULL);
	assert_int_equal(bayes_tokenize(m, &ts), 0);
	static const char *const want[] = {
		"cheap",
		"pills",
		"shop", /* rendered HTML body */
		"pharmacy",
		"S:pharmacy", /* Subject: body and S: */
		"S:gr\xc3\xbc\xc3\x9f"
		"e", /* RFC 2047 decoded */
		"Hfrom:U*offers",
		"Hfrom:D*pharma.example.com",
		"Hfrom:D*example.com",
		"Hfrom:cheap",
		"Hfrom:meds",
		"Hto:D*example.net",
		"Hx-mailer:massmailer",
		"MID:bulk.sender.example",
		"MID:sender.example",
		"R:ip:192.0.2.77",
		"R:net:192.0.2",
		"UD:www.shop.pills.example",
		"UD:pills.example",
		"M:ct:text/html",
		"M:ct:application/octet-stream",
		"M:ext:exe",
		"M:enc:base64",
		"M:cs:utf-8",
		"T:html", /* HTML tag names, opening and closing */
		"T:body",
		"T:b",
		"T:a",
		"T:p",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (!has(&ts, want[i]))
			fail_msg("missing token %s", want[i]);
	}
	/* Received words up to the ';' become tokens, its date does not */
	assert_true(has(&ts, "Hreceived:esmtp"));
	assert_true(has(&ts, "Hreceived:with"));
	assert_true(has(&ts, "Hreceived:sk:mail.ex")); /* 16 bytes */
	assert_true(has(&ts, "Hreceived:abc"));
	assert_false(has(&ts, "Hreceived:sep"));
	assert_false(has(&ts, "Hreceived:2025"));
	assert_false(has(&ts, "Hreceived:mon"));
	/* ... but not its "for <rcpt>" clause, nor a local hop (localhost,
	 * 127.0.0.1, fetchmail): they name the collecting mailbox */
	assert_false(has(&ts, "Hreceived:for"));
	assert_false(has(&ts, "Hreceived:user@example.net"));
	assert_false(has(&ts, "Hreceived:user@localhost"));
	assert_false(has(&ts, "Hreceived:localhost"));
	assert_false(has(&ts, "Hreceived:postfix"));
	assert_false(has(&ts, "Hreceived:loc1"));
	/* body words with capitals also count as written, others not */
	assert_true(has(&ts, "C:Buy"));
	assert_true(has(&ts, "C:Pharmacy"));
	assert_false(has(&ts, "C:cheap"));
	assert_false(has(&ts, "C:MassMailer")); /* a header, not the body */
	assert_false(has(&ts, "Hdate:sep"));
	assert_false(has(&ts, "2025"));
	/* tag names only: no attributes, no tags from text/plain */
	assert_false(has(&ts, "T:a.href"));
	assert_false(has(&ts, "T:href"));
	assert_false(has(&ts, "T:font"));
	/* sorted and unique */
	for (size_t i = 1; i < ts.n; i++)
		assert_true(ts.v[i - 1] < ts.v[i]);
	bayes_tokset_free(&ts);
	msg_free(m);
}

static void
test_seen_id(void **state)
{
	(void)state;
	struct msg *a = NULL, *b = NULL, *c = NULL;
	uint8_t ia[16], ib[16], ic[16];
	char *other = strdup(msg1);

	/* same Message-ID, different body: another message */
	other[strlen(other) - 30] ^= 1;
	assert_int_equal(
	    msg_parse((const unsigned char *)msg1, sizeof(msg1) - 1, NULL, &a),
	    0);
	assert_int_equal(
	    msg_parse((const unsigned char *)msg1, sizeof(msg1) - 1, NULL, &b),
	    0);
	assert_int_equal(
	    msg_parse((const unsigned char *)other, strlen(other), NULL, &c),
	    0);
	bayes_seen_id(a, (const uint8_t *)BAYES_HASHKEY_DEFAULT, ia);
	bayes_seen_id(b, (const uint8_t *)BAYES_HASHKEY_DEFAULT, ib);
	bayes_seen_id(c, (const uint8_t *)BAYES_HASHKEY_DEFAULT, ic);
	assert_memory_equal(ia, ib, 16);
	assert_memory_not_equal(ia, ic, 16);
	msg_free(a);
	msg_free(b);
	msg_free(c);
	free(other);
}

static void
test_learn_classify_msgs(void **state)
{
	(void)state;
	char dir[] = "/tmp/bayes_token_test.XXXXXX", cmd[64], buf[512];
	struct bayes_store *st;
	struct bayes_result r;
	struct msg *m;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(bayes_store_open(dir, true, &st), 0);
	/* 30 spam and 30 ham, each its own Message-ID */
	for (int i = 0; i < 60; i++) {
		int spam = i % 2;
		int len = snprintf(buf, sizeof(buf),
		    "From: a%d@%s\nMessage-ID: <%d@x>\nSubject: %s\n\n%s %d\n",
		    i, spam ? "bulk.example" : "team.example", i,
		    spam ? "cheap pills" : "build report",
		    spam ? "viagra casino lottery winner"
			 : "kernel patch review merged",
		    i);
		m = NULL;
		assert_int_equal(
		    msg_parse((unsigned char *)buf, (size_t)len, NULL, &m), 0);
		assert_int_equal(
		    bayes_learn_msg(st, m, spam ? BAYES_SPAM : BAYES_HAM, 100),
		    BAYES_LEARNED);
		assert_int_equal(
		    bayes_learn_msg(st, m, spam ? BAYES_SPAM : BAYES_HAM, 100),
		    BAYES_ALREADY);
		msg_free(m);
	}
	static const char spam[] = "From: z@bulk.example\nSubject: cheap "
				   "pills\n\nviagra lottery winner\n";
	static const char ham[] = "From: q@team.example\nSubject: build "
				  "report\n\nkernel patch review\n";
	m = NULL;
	assert_int_equal(
	    msg_parse((const unsigned char *)spam, sizeof(spam) - 1, NULL, &m),
	    0);
	assert_int_equal(bayes_classify_msg(st, m, 30, 30, &r), 0);
	assert_true(r.prob > 0.99);
	assert_int_equal(r.nspam, 30);
	/* min counts not reached: no result */
	assert_int_equal(bayes_classify_msg(st, m, 31, 30, &r), 1);
	msg_free(m);
	m = NULL;
	assert_int_equal(
	    msg_parse((const unsigned char *)ham, sizeof(ham) - 1, NULL, &m),
	    0);
	assert_int_equal(bayes_classify_msg(st, m, 30, 30, &r), 0);
	assert_true(r.prob < 0.01);
	msg_free(m);
	bayes_store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* check_finish - finish sorts ascending and drops duplicates: compare
 * with qsort + unique of the same values */
static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
check_finish(uint64_t *vals, size_t n)
{
	struct bayes_tokset ts;
	uint64_t *want = malloc((n + 1) * sizeof(*want));
	size_t nw = 0;

	assert_non_null(want);
	bayes_tokset_init(&ts, NULL);
	ts.v = malloc((n + 1) * sizeof(*ts.v));
	assert_non_null(ts.v);
	memcpy(ts.v, vals, n * sizeof(*vals));
	ts.n = ts.cap = n;
	memcpy(want, vals, n * sizeof(*vals));
	qsort(want, n, sizeof(*want), cmp_u64);
	for (size_t i = 0; i < n; i++)
		if (nw == 0 || want[nw - 1] != want[i])
			want[nw++] = want[i];
	assert_int_equal(bayes_tokset_finish(&ts), 0);
	assert_int_equal(ts.n, nw);
	if (nw > 0)
		assert_memory_equal(ts.v, want, nw * sizeof(*want));
	bayes_tokset_free(&ts);
	free(want);
}

/* test_finish_sort - the bucket sort of token sets: random hashes of
 * many sizes with duplicates, and sets crowded into one bucket (crafted
 * words) that take the quicksort fallback */
static void
test_finish_sort(void **state)
{
	(void)state;
	static const size_t sizes[] = { 0, 1, 2, 63, 64, 65, 300, 1000, 4097,
		20000 };
	uint64_t *v = malloc(20000 * sizeof(*v)), x = 88172645463325252ULL;

	assert_non_null(v);
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (size_t i = 0; i < sizes[s]; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift */
			v[i] = i % 5 == 4 ? v[i / 2] : x;
		}
		check_finish(v, sizes[s]);
	}
	/* one bucket, descending: the insertion pass gives up */
	for (size_t i = 0; i < 5000; i++)
		v[i] = 0xabc0000000000000ULL + (5000 - i) * 7;
	check_finish(v, 5000);
	/* all equal */
	for (size_t i = 0; i < 3000; i++)
		v[i] = 42;
	check_finish(v, 3000);
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_tokens),
		cmocka_unit_test(test_seen_id),
		cmocka_unit_test(test_learn_classify_msgs),
		cmocka_unit_test(test_finish_sort),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
