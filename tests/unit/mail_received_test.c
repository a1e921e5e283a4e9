/* mail_received_test - Received formats and the trusted/internal split */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mail/msg.h"
#include "util/netaddr.h"

struct rcv_case {
	const char *hdr;
	const char *ip, *rdns, *helo, *by, *id, *with, *envfrom;
	bool auth;
};

static const struct rcv_case rcv_cases[] = {
	/* Postfix */
	{ "from mail.example.com (mail.example.com [192.0.2.1])\n\tby "
	  "mx.example.org (Postfix) with ESMTP id 4A1B2C3D\n\tfor "
	  "<u@example.org>; Mon, 1 Jan 2024 00:00:00 +0000",
	  "192.0.2.1", "mail.example.com", "mail.example.com",
	  "mx.example.org", "4A1B2C3D", "ESMTP", "", false },
	{ "from helo.example (unknown [198.51.100.7]) by mx.example.org "
	  "(Postfix) with ESMTPSA id AB12; Tue, 2 Jan 2024",
	  "198.51.100.7", "", "helo.example", "mx.example.org", "AB12",
	  "ESMTPSA", "", true },
	/* Sendmail with ident and may-be-forged */
	{ "from Helo (user@host.example.net [203.0.113.5] (may be forged))"
	  " by relay.example.org (8.12.11/8.12.11) with ESMTP id "
	  "i1ABCD0123 for <x@y>; Mon, 1 Jan 2024",
	  "203.0.113.5", "host.example.net", "Helo", "relay.example.org",
	  "i1ABCD0123", "ESMTP", "", false },
	/* Exim */
	{ "from mail.sender.example ([192.0.2.44] helo=smtp.sender.example)"
	  "\n\tby mx.example.org with esmtps (TLS1.2) (Exim 4.96)"
	  "\n\t(envelope-from <bounce@sender.example>)\n\tid 1qXyZ-000ABC-Aa"
	  "\n\tfor u@example.org; Mon, 01 Jan 2024",
	  "192.0.2.44", "mail.sender.example", "smtp.sender.example",
	  "mx.example.org", "1qXyZ-000ABC-Aa", "esmtps",
	  "bounce@sender.example", false },
	{ "from [192.0.2.45] (helo=bare)\n\tby mx.example.org with esmtpa "
	  "(Exim 4.96) id 1qAAA; Mon, 01 Jan 2024",
	  "192.0.2.45", "", "bare", "mx.example.org", "1qAAA", "esmtpa", "",
	  true },
	/* qmail */
	{ "from unknown (HELO mailer.example) (198.51.100.9)\n  by "
	  "mx.example.org with SMTP; 1 Jan 2024 00:00:00 -0000",
	  "198.51.100.9", "", "mailer.example", "mx.example.org", "", "SMTP",
	  "", false },
	/* Exchange */
	{ "from EXCH01.corp.example ([10.1.2.3]) by EXCH02.corp.example "
	  "with Microsoft SMTPSVC(6.0.3790.1830); Mon, 1 Jan 2024",
	  "10.1.2.3", "", "EXCH01.corp.example", "EXCH02.corp.example", "",
	  "Microsoft", "", false },
	{ "from EX1.corp.example (2001:db8::1) by EX2.corp.example "
	  "(2001:db8::2) with Microsoft SMTP Server (version=TLS1_2) id "
	  "15.1.2.3; Mon, 1 Jan 2024",
	  "2001:db8::1", "", "EX1.corp.example", "EX2.corp.example",
	  "15.1.2.3", "Microsoft", "", false },
	/* Gmail */
	{ "from mail-wr1-f41.google.com (mail-wr1-f41.google.com. "
	  "[209.85.221.41])\n        by mx.google.com with ESMTPS id "
	  "a1si123.2024.01.01\n        for <u@gmail.com>\n        "
	  "(version=TLS1_3 cipher=TLS_AES_128_GCM_SHA256 bits=128/128);"
	  "\n        Mon, 01 Jan 2024",
	  "209.85.221.41", "mail-wr1-f41.google.com",
	  "mail-wr1-f41.google.com", "mx.google.com", "a1si123.2024.01.01",
	  "ESMTPS", "", false },
	/* IPv6 literal */
	{ "from h6.example (h6.example [IPv6:2001:db8::25]) by mx.example "
	  "(Postfix) with ESMTP id Q6; Mon, 1 Jan 2024",
	  "2001:db8::25", "h6.example", "h6.example", "mx.example", "Q6",
	  "ESMTP", "", false },
	/* "Authenticated sender" comment (Postfix) */
	{ "from [192.168.1.20] (unknown [198.51.100.77]) (Authenticated "
	  "sender: bob) by smtp.example (Postfix) with ESMTPSA id Z9; x",
	  "198.51.100.77", "", "[192.168.1.20]", "smtp.example", "Z9",
	  "ESMTPSA", "", true },
	/* MDaemon / SMTPD32: "[ip]" outside the comment wins */
	{ "from [10.0.0.3] [200.173.221.24] by interlize.com.br "
	  "[200.244.92.2] with SMTP (MDaemon.PRO.v5.0.5.R) for <r@x>; x",
	  "200.173.221.24", "", "[10.0.0.3]", "interlize.com.br", "", "SMTP",
	  "", false },
	/* qmail with ident@ip, Sendmail IDENT:user@[ip] */
	{ "from localhost (HELO h.example) (jason@127.0.0.1) by localhost "
	  "with SMTP; 27 Aug 2002",
	  "127.0.0.1", "localhost", "h.example", "localhost", "", "SMTP", "",
	  false },
	{ "from chips.example (IDENT:root@[64.31.161.243]) by mx.example "
	  "(8.11.6) with ESMTP id g7V; x",
	  "64.31.161.243", "", "chips.example", "mx.example", "g7V", "ESMTP",
	  "", false },
	/* qmail without HELO: HOST is the reverse name (SA) */
	{ "from mx.sender.example (198.51.100.20) by q.example with SMTP; x",
	  "198.51.100.20", "mx.sender.example", "mx.sender.example",
	  "q.example", "", "SMTP", "", false },
	/* Hotmail web posting */
	{ "from 194.130.102.81 by lw11fd.law11.hotmail.msn.com with HTTP; "
	  "Mon, 07 Oct 2002",
	  "194.130.102.81", "", "", "lw11fd.law11.hotmail.msn.com", "", "HTTP",
	  "", false },
};

static void
assert_bstr(struct bstr b, const char *want, size_t i, const char *what)
{
	if (b.len != strlen(want) || (b.len && memcmp(b.p, want, b.len)))
		fail_msg("case %zu %s: got \"%.*s\" want \"%s\"", i, what,
		    (int)b.len, b.p, want);
}

static void
test_formats(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rcv_cases) / sizeof(rcv_cases[0]); i++) {
		const struct rcv_case *c = &rcv_cases[i];
		char raw[2048], ip[64];
		struct msg *m;
		size_t n;
		int len = snprintf(raw, sizeof(raw), "Received: %s\n\nx\n",
		    c->hdr);

		assert_int_equal(msg_parse((unsigned char *)raw, (size_t)len,
		    NULL, &m), 0);
		const struct msg_relay *r = msg_relays(m, &n);

		assert_int_equal(n, 1);
		if (!r->parsed || !r->has_ip)
			fail_msg("case %zu: not parsed", i);
		netaddr_str(&r->ip, ip, sizeof(ip));
		assert_string_equal(ip, c->ip);
		assert_bstr(r->rdns, c->rdns, i, "rdns");
		assert_bstr(r->helo, c->helo, i, "helo");
		assert_bstr(r->by, c->by, i, "by");
		assert_bstr(r->id, c->id, i, "id");
		assert_bstr(r->with, c->with, i, "with");
		assert_bstr(r->envfrom, c->envfrom, i, "envfrom");
		if (r->auth != c->auth)
			fail_msg("case %zu: auth %d", i, r->auth);
		msg_free(m);
	}
}

static void
test_not_relays(void **state)
{
	(void)state;
	static const char raw[] =
	    "Received: (qmail 1234 invoked by uid 500); 1 Jan 2024\n"
	    "Received: by 10.0.0.1 with SMTP id abc; Mon, 1 Jan 2024\n"
	    "Received: from localhost by host.example with local; x\n"
	    "Received: from mail.example [193.120.211.219] by localhost with "
	    "POP3 (fetchmail-5.9.0) for u@localhost; x\n"
	    "Received: from a.example by b.example ; x\n"
	    "\nx\n";
	struct msg *m;
	size_t n;

	assert_int_equal(msg_parse((const unsigned char *)raw,
	    sizeof(raw) - 1, NULL, &m), 0);
	const struct msg_relay *r = msg_relays(m, &n);

	/* only the "from" clause counts; without an address: unparsed */
	assert_int_equal(n, 1);
	assert_false(r[0].parsed);
	assert_null(msg_last_external(m));
	msg_untrusted_relays(m, &n);
	assert_int_equal(n, 0);
	msg_free(m);
}

/* newest first: our MX got it from a private relay, which got it from a
 * public host, which got it from another public host */
static const char chain[] =
    "Received: from gw.internal (gw.internal [10.0.0.2]) by mx.internal "
    "(Postfix) with ESMTP id A1; x\n"
    "Received: from out.sender.example (out.sender.example [192.0.2.10]) "
    "by gw.internal (Postfix) with ESMTP id A2; x\n"
    "Received: from pc.sender.example (pc.sender.example [198.51.100.3]) "
    "by out.sender.example (Postfix) with ESMTP id A3; x\n"
    "\nbody\n";

static void
chain_flags(const struct msg *m, const char *want)
{
	size_t n;
	const struct msg_relay *r = msg_relays(m, &n);

	assert_int_equal(n, strlen(want));
	for (size_t i = 0; i < n; i++) {
		char f = r[i].internal ? 'i' : r[i].trusted ? 't' : 'e';

		if (f != want[i])
			fail_msg("relay %zu: %c, want %s", i, f, want);
	}
}

static void
test_trust_inferred(void **state)
{
	(void)state;
	struct msg *m;
	char ip[64];
	size_t n;

	/* no trusted_networks: private hops trusted up to the first public */
	assert_int_equal(msg_parse((const unsigned char *)chain,
	    sizeof(chain) - 1, NULL, &m), 0);
	chain_flags(m, "iee");
	assert_string_equal(netaddr_str(&msg_last_external(m)->ip, ip,
	    sizeof(ip)), "192.0.2.10");
	const struct msg_relay *u = msg_untrusted_relays(m, &n);

	assert_int_equal(n, 2);
	assert_string_equal(netaddr_str(&u[1].ip, ip, sizeof(ip)),
	    "198.51.100.3");
	msg_free(m);

	/* the client address from the front door becomes the first hop */
	struct netaddr lo;
	struct msg_opts o = { .client_addr = &lo, .client_name = "localhost" };

	assert_int_equal(netaddr_parse("127.0.0.1", 9, &lo), 0);
	assert_int_equal(msg_parse((const unsigned char *)chain,
	    sizeof(chain) - 1, &o, &m), 0);
	chain_flags(m, "iiee");
	msg_free(m);

	/* a public client: nothing is trusted */
	assert_int_equal(netaddr_parse("203.0.113.1", 11, &lo), 0);
	assert_int_equal(msg_parse((const unsigned char *)chain,
	    sizeof(chain) - 1, &o, &m), 0);
	chain_flags(m, "eeee");
	msg_free(m);
}

static void
test_originating_ip(void **state)
{
	(void)state;
	static const char raw[] =
	    "Received: from mail pickup service by hotmail.com with "
	    "Microsoft SMTPSVC; x\n"
	    "X-Originating-IP: [207.202.171.254]\n\nx\n";
	struct msg *m;
	char ip[64];
	size_t n;

	assert_int_equal(msg_parse((const unsigned char *)raw,
	    sizeof(raw) - 1, NULL, &m), 0);
	const struct msg_relay *r = msg_untrusted_relays(m, &n);

	/* SA originating_ip_headers: a synthetic oldest hop */
	assert_int_equal(n, 1);
	assert_string_equal(netaddr_str(&r[0].ip, ip, sizeof(ip)),
	    "207.202.171.254");
	msg_free(m);
}

static void
test_trust_configured(void **state)
{
	(void)state;
	struct netlist *tn = netlist_parse("10.0.0.0/8 192.0.2.10", NULL);
	struct netlist *in = netlist_parse("10.0.0.0/8", NULL);
	struct msg_opts o = { .trusted_networks = tn };
	struct msg *m;
	char ip[64];

	assert_non_null(tn);
	assert_non_null(in);
	/* trusted_networks alone: internal follows trusted */
	assert_int_equal(msg_parse((const unsigned char *)chain,
	    sizeof(chain) - 1, &o, &m), 0);
	chain_flags(m, "iie");
	assert_string_equal(netaddr_str(&msg_last_external(m)->ip, ip,
	    sizeof(ip)), "198.51.100.3");
	msg_free(m);

	/* internal_networks narrower: 192.0.2.10 trusted but external,
	 * so it is the last external relay (SA -lastexternal) */
	o.internal_networks = in;
	assert_int_equal(msg_parse((const unsigned char *)chain,
	    sizeof(chain) - 1, &o, &m), 0);
	chain_flags(m, "ite");
	assert_string_equal(netaddr_str(&msg_last_external(m)->ip, ip,
	    sizeof(ip)), "192.0.2.10");
	msg_free(m);

	/* the chain breaks at the first untrusted hop */
	struct netlist *tn2 = netlist_parse("10.0.0.0/8 198.51.100.3", NULL);
	struct msg_opts o2 = { .trusted_networks = tn2 };

	assert_int_equal(msg_parse((const unsigned char *)chain,
	    sizeof(chain) - 1, &o2, &m), 0);
	chain_flags(m, "iee");
	msg_free(m);
	netlist_free(tn);
	netlist_free(tn2);
	netlist_free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_not_relays),
		cmocka_unit_test(test_trust_inferred),
		cmocka_unit_test(test_originating_ip),
		cmocka_unit_test(test_trust_configured),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
