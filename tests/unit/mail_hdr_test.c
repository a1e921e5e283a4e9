/* mail_hdr_test - header fields, unfolding, RFC 2047, addresses */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mail/msg.h"
#include "util/arena.h"

static struct msg *
parse(const char *s)
{
	struct msg *m = NULL;

	assert_int_equal(msg_parse((const unsigned char *)s, strlen(s), NULL,
	    &m), 0);
	assert_non_null(m);
	return m;
}

static void
assert_bstr(struct bstr b, const char *want)
{
	if (b.len != strlen(want) || memcmp(b.p, want, b.len) != 0)
		fail_msg("got \"%.*s\" want \"%s\"", (int)b.len, b.p, want);
}

static void
test_fields(void **state)
{
	(void)state;
	static const char raw[] =
	    "From mbox-line Mon Jan  1 00:00:00 2002\n"
	    "Received: from a\n\tby b; Mon, 1 Jan 2002\n"
	    "Subject: hello\r\n"
	    "  folded  world\r\n"
	    "X-Empty:\n"
	    "received: second\n"
	    "Obs-Name  : value with WSP before colon\n"
	    "\n"
	    "body line\n";
	struct msg *m = parse(raw);

	assert_int_equal(msg_header_count(m), 5);
	assert_int_equal(msg_header_count_named(m, "RECEIVED"), 2);
	const struct msg_header *h = msg_header_get(m, "subject", 0);

	assert_non_null(h);
	assert_bstr(h->name, "Subject");
	/* RFC 5322 2.2.3: CRLF removed, WSP kept */
	assert_bstr(h->value, "hello  folded  world");
	assert_bstr(h->raw, " hello\r\n  folded  world");
	assert_bstr(msg_header_get(m, "Received", 1)->value, "second");
	assert_bstr(msg_header_get(m, "x-empty", 0)->value, "");
	assert_bstr(msg_header_get(m, "obs-name", 0)->value,
	    "value with WSP before colon");
	assert_null(msg_header_get(m, "received", 2));
	assert_bstr(msg_raw_body(m), "body line\n");
	assert_int_equal(msg_header_get(m, "received", 0)->offset,
	    strlen("From mbox-line Mon Jan  1 00:00:00 2002\n"));
	assert_int_equal(msg_flags(m) & MSG_ERR_NO_BODY_SEP, 0);
	msg_free(m);
}

static void
test_no_separator(void **state)
{
	(void)state;
	/* A boundary line ends the headers (SA), bad lines are flagged. */
	struct msg *m = parse("Subject: x\n--frontier\nbody\n");

	assert_true(msg_flags(m) & MSG_ERR_NO_BODY_SEP);
	assert_bstr(msg_raw_body(m), "--frontier\nbody\n");
	msg_free(m);
	m = parse("Subject: x\nthis is not a header\nneither\nnor\nthis\n"
	    "body\n");
	assert_true(msg_flags(m) & MSG_ERR_BAD_HDR_LINE);
	assert_true(msg_flags(m) & MSG_ERR_NO_BODY_SEP);
	assert_int_equal(msg_header_count(m), 1);
	assert_bstr(msg_raw_body(m), "this\nbody\n");
	msg_free(m);
	m = parse("Subject: only headers");
	assert_true(msg_flags(m) & MSG_ERR_NO_BODY_SEP);
	assert_bstr(msg_header_get(m, "subject", 0)->value, "only headers");
	msg_free(m);
}

static void
test_header_cap(void **state)
{
	(void)state;
	static char raw[4096];
	struct msg_opts o = { .max_header_bytes = 100 };
	struct msg *m;
	size_t n = 0;

	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(raw + n, sizeof(raw) - n,
		    "X-H%02d: value\n", i);
	n += (size_t)snprintf(raw + n, sizeof(raw) - n, "\nthe body\n");
	assert_int_equal(msg_parse((unsigned char *)raw, n, &o, &m), 0);
	assert_true(msg_flags(m) & MSG_ERR_HDR_TRUNC);
	assert_true(msg_header_count(m) < 20);
	assert_bstr(msg_raw_body(m), "the body\n");
	msg_free(m);
}

struct r2047_case {
	const char *in, *want;
};

static const struct r2047_case r2047_cases[] = {
	{ "plain text", "plain text" },
	{ "=?ISO-8859-1?Q?a?=", "a" },
	{ "=?iso-8859-1?q?caf=E9?=", "caf\xc3\xa9" },
	{ "=?UTF-8?B?w6k=?=", "\xc3\xa9" },
	/* RFC 2047 6.2: whitespace between adjacent encoded-words goes */
	{ "=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab" },
	{ "=?ISO-8859-1?Q?a?=\r\n =?ISO-8859-1?Q?b?=", "ab" },
	/* ... but not between an encoded-word and text */
	{ "=?ISO-8859-1?Q?a?= b", "a b" },
	{ "x =?ISO-8859-1?Q?a?=", "x a" },
	/* RFC 2047 8 examples */
	{ "(=?ISO-8859-1?Q?a_b?=)", "(a b)" },
	{ "(=?ISO-8859-1?Q?a?=  =?ISO-8859-2?Q?_b?=)", "(a b)" },
	/* RFC 2231 5 language suffix */
	{ "=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore" },
	/* broken: not decoded, kept as is */
	{ "=?utf-8?X?abc?=", "=?utf-8?X?abc?=" },
	{ "=?utf-8?Q?no end", "=?utf-8?Q?no end" },
	/* gb2312 read as GB18030; windows-1252 for latin-1 */
	{ "=?gb2312?B?1tDOxA==?=", "\xe4\xb8\xad\xe6\x96\x87" },
	{ "=?iso-8859-1?Q?=80?=", "\xe2\x82\xac" },
	/* raw 8-bit latin-1 in a header */
	{ "caf\xe9", "caf\xc3\xa9" },
	/* unknown charset: bytes kept when valid UTF-8 */
	{ "=?x-nonsense?Q?ok?=", "ok" },
};

static void
test_rfc2047(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);

	for (size_t i = 0; i < sizeof(r2047_cases) / sizeof(r2047_cases[0]);
	    i++) {
		struct bstr d = msg_rfc2047_decode(a,
		    bstr_cstr(r2047_cases[i].in));

		if (d.len != strlen(r2047_cases[i].want) ||
		    memcmp(d.p, r2047_cases[i].want, d.len))
			fail_msg("case %zu: %s -> \"%.*s\"", i,
			    r2047_cases[i].in, (int)d.len, d.p);
	}
	arena_free(a);
}

static void
test_decoded_header(void **state)
{
	(void)state;
	struct msg *m = parse("Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"
	    " =?utf-8?q?_aus_Wien?=\n\nx\n");

	assert_bstr(msg_header_get(m, "subject", 0)->decoded,
	    "Gr\xc3\xbc\xc3\x9f" "e aus Wien");
	msg_free(m);
}

struct addr_case {
	const char *in;
	size_t n;
	/* first and last: display, addr, group */
	const char *d0, *a0, *g0, *dl, *al;
};

static const struct addr_case addr_cases[] = {
	{ "user@example.com", 1, "", "user@example.com", NULL, "",
	    "user@example.com" },
	{ "John Doe <jdoe@example.com>", 1, "John Doe", "jdoe@example.com",
	    NULL, NULL, NULL },
	{ "\"Doe, John\" <jdoe@example.com>, b@x.org", 2, "Doe, John",
	    "jdoe@example.com", NULL, "", "b@x.org" },
	/* RFC 5322 A.1.3 group */
	{ "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	    3, "Ed Jones", "c@a.test", "A Group", "John", "jdoe@one.test" },
	{ "Undisclosed recipients:;", 0, NULL, NULL, NULL, NULL, NULL },
	/* RFC 5322 A.5 comments */
	{ "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	    1, "Pete", "pete@silly.test", NULL, NULL, NULL },
	/* old "addr (Name)" form: the comment is the display name */
	{ "jdoe@example.com (John Doe)", 1, "John Doe", "jdoe@example.com",
	    NULL, NULL, NULL },
	/* obsolete: whitespace around '@' and '.', source route */
	{ "Joe Q. Public <john . q . public @ example . com>", 1,
	    "Joe Q. Public", "john.q.public@example.com", NULL, NULL, NULL },
	{ "<@route1,@route2:user@example.org>", 1, "", "user@example.org",
	    NULL, NULL, NULL },
	/* quoted local part */
	{ "\"john doe\"@example.com", 1, "", "\"john doe\"@example.com",
	    NULL, NULL, NULL },
	/* encoded-word display name */
	{ "=?iso-8859-1?q?Andr=E9?= <andre@example.fr>", 1,
	    "Andr\xc3\xa9", "andre@example.fr", NULL, NULL, NULL },
	/* junk seen in spam */
	{ "<>", 0, NULL, NULL, NULL, NULL, NULL },
	{ ",,, a@b.c ,,", 1, "", "a@b.c", NULL, NULL, NULL },
};

static void
test_addr(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);

	for (size_t i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]);
	    i++) {
		const struct addr_case *c = &addr_cases[i];
		struct msg_addr *v;
		size_t n;

		assert_int_equal(msg_addr_parse(a, bstr_cstr(c->in), &v, &n),
		    0);
		if (n != c->n)
			fail_msg("case %zu (%s): %zu addresses", i, c->in, n);
		if (n == 0)
			continue;
		assert_bstr(v[0].display, c->d0);
		assert_bstr(v[0].addr, c->a0);
		if (c->g0)
			assert_bstr(v[0].group, c->g0);
		else
			assert_int_equal(v[0].group.len, 0);
		if (c->dl) {
			assert_bstr(v[n - 1].display, c->dl);
			assert_bstr(v[n - 1].addr, c->al);
		}
	}
	arena_free(a);
}

static void
test_addr_parts(void **state)
{
	(void)state;
	struct msg *m = parse("From: Joe <joe@Example.COM>\n"
	    "To: a@x.org, Grp: b@y.org;\nTo: c@z.org\n\nhi\n");
	const struct msg_addr *v;
	size_t n;

	v = msg_addrs(m, "from", &n);
	assert_int_equal(n, 1);
	assert_bstr(v[0].local, "joe");
	assert_bstr(v[0].domain, "Example.COM");
	v = msg_addrs(m, "To", &n);
	assert_int_equal(n, 3);
	assert_bstr(v[1].group, "Grp");
	assert_bstr(v[2].addr, "c@z.org");
	/* cached: same answer */
	assert_ptr_equal(msg_addrs(m, "to", &n), v);
	assert_null(msg_addrs(m, "cc", &n));
	assert_int_equal(n, 0);
	msg_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_no_separator),
		cmocka_unit_test(test_header_cap),
		cmocka_unit_test(test_rfc2047),
		cmocka_unit_test(test_decoded_header),
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_addr_parts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
