/* rules_evals_hdr_test - the header evals of rules/evals_hdr.c (SA
 * HeaderEval, RelayEval, FreeMail) on small messages: for each eval a
 * message where it fires and one where it does not, plus the FreeMail
 * settings (freemail_domains wildcards, freemail_welcomelist) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "mail/msg.h"
#include "rules/rules.h"
#include "util/arena.h"
#include "util/hits.h"

static const char rules_cf[] =
    "header OUTLOOK eval:check_outlook_message_id()\n"
    "header FUT_03_06 eval:check_for_shifted_date('3', '6')\n"
    "header FUT_06_12 eval:check_for_shifted_date('6', '12')\n"
    "header PAST_96_XX eval:check_for_shifted_date('undef', '-96')\n"
    "header HELO_IP eval:helo_ip_mismatch()\n"
    "header YAHOO eval:check_for_forged_yahoo_received_headers()\n"
    "header HOTMAIL2 eval:check_for_no_hotmail_received_headers()\n"
    "header HOTMAIL eval:check_for_forged_hotmail_received_headers()\n"
    "header SIMILAR eval:similar_recipients('0.65','undef')\n"
    "header SORTED eval:sorted_recipients()\n"
    "header FM_FROM eval:check_freemail_from()\n"
    "header FM_RT_DIGIT eval:check_freemail_header('Reply-To', '\\d@')\n"
    "header FM_REPLYTO eval:check_freemail_replyto('replyto')\n"
    "header FM_BODY eval:check_freemail_body()\n"
    "header SUBJ_ILLEGAL eval:check_illegal_chars('Subject','0.00','2')\n"
    "header TO_IN_SUBJ eval:check_for_to_in_subject('user')\n"
    "header DIFF_DOMAINS eval:check_equal_from_domains()\n"
    "header ENV_EQ_FROM eval:check_for_matching_env_and_hdr_from()\n"
    "header GATED eval:gated_through_received_hdr_remover()\n"
    "header FAKE_AOL eval:check_for_fake_aol_relay_in_rcvd()\n"
    "header DOTCOM_HELO eval:check_for_no_rdns_dotcom_helo()\n"
    "header RATWARE_ID eval:check_ratware_name_id()\n"
    "header RATWARE_EFROM eval:check_ratware_envelope_from()\n"
    "header RP_RCVD eval:check_mailfrom_matches_rcvd()\n"
    "freemail_domains freemail.example fmfree.com *.wild.example "
    "bad_dom!ain\n"
    "freemail_welcomelist listed@freemail.example\n";

/* the Received line every message but GATED's has: a public relay */
#define RCVD                                                               \
	"Received: from mail.sender.example (mail.sender.example "        \
	"[192.0.2.10]) by mx.rcpt.example (8.12.1/8.12.1) with ESMTP id " \
	"g1; Mon, 1 Jan 2024 00:00:00 +0000\n"

static const struct eval_case {
	const char *rule;
	const char *msg;
	int want;
} cases[] = {
	/* Outlook token 01da3c45 is this Date's time */
	{ "OUTLOOK",
	    RCVD "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
		 "Message-ID: <000000000000$00000000$00000000@pc>\n\nx\n",
	    1 },
	{ "OUTLOOK",
	    RCVD "Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
		 "Message-ID: <000001da3c45$00000000$00000000@pc>\n\nx\n",
	    0 },
	/* Date 8 hours after the Received date (folded like SA unfolds) */
	{ "FUT_06_12",
	    "Received: from a.example (a.example [192.0.2.1]) by b.example;\n"
	    "    Mon, 1 Jan 2024 00:00:00\n    +0000\n"
	    "Date: Mon, 1 Jan 2024 08:00:00 +0000\n\nx\n",
	    1 },
	{ "FUT_03_06",
	    RCVD "Date: Mon, 1 Jan 2024 08:00:00 +0000\n\nx\n", 0 },
	{ "FUT_06_12", RCVD "Date: Mon, 1 Jan 2024 01:00:00 +0000\n\nx\n",
	    0 },
	/* a zone name, and the asctime form */
	{ "FUT_06_12",
	    RCVD "Date: Sun, 31 Dec 2023 23:00:00 PST\n\nx\n", 1 },
	{ "PAST_96_XX", RCVD "Date: Mon Dec 18 10:00:00 2023\n\nx\n", 1 },
	{ "PAST_96_XX", RCVD "Date: Sun, 31 Dec 2023 10:00:00 +0000\n\nx\n",
	    0 },
	{ "HELO_IP",
	    "Received: from 198.51.100.7 (host.example [192.0.2.10]) by "
	    "mx.example (8.12.1/8.12.1) with ESMTP id g1; Mon, 1 Jan 2024 "
	    "00:00:00 +0000\n\nx\n",
	    1 },
	{ "HELO_IP",
	    "Received: from 192.0.2.77 (host.example [192.0.2.10]) by "
	    "mx.example (8.12.1/8.12.1) with ESMTP id g1; Mon, 1 Jan 2024 "
	    "00:00:00 +0000\n\nx\n",
	    0 },
	{ "YAHOO", RCVD "From: someone@yahoo.com\n\nx\n", 1 },
	{ "YAHOO",
	    RCVD "Received: from [192.0.2.9] by web12.mail.yahoo.com via "
		 "HTTP; Mon, 1 Jan 2024 00:00:00 +0000\n"
		 "From: someone@yahoo.com\n\nx\n",
	    0 },
	{ "YAHOO", RCVD "From: someone@notyahoo.com\n\nx\n", 0 },
	{ "HOTMAIL2", RCVD "From: someone@hotmail.com\n\nx\n", 1 },
	{ "HOTMAIL2",
	    "Received: from hotmail.com (f12.law1.hotmail.com "
	    "[192.0.2.5]) by mx.example with ESMTP; Mon, 1 Jan 2024 "
	    "00:00:00 +0000\n"
	    "X-Originating-IP: [198.51.100.3]\n"
	    "From: someone@hotmail.com\n\nx\n",
	    0 },
	{ "HOTMAIL",
	    "Received: from mx3.hotmail.com (evil.example [192.0.2.5]) by "
	    "mx.example with ESMTP; Mon, 1 Jan 2024 00:00:00 +0000\n"
	    "From: someone@corp.example\n\nx\n",
	    1 },
	{ "HOTMAIL", RCVD "From: someone@corp.example\n\nx\n", 0 },
	{ "SIMILAR",
	    RCVD "To: aa1@bb1.example, aa2@bb2.example, aa3@bb3.example,\n"
		 " aa4@bb4.example, aa5@bb5.example\n\nx\n",
	    1 },
	{ "SIMILAR",
	    RCVD "To: alice@one.example, bob@two.example, "
		 "carol@three.example, dave@four.example\n\nx\n",
	    0 },
	{ "SORTED",
	    RCVD "To: a@x.example, b@x.example, c@x.example, d@x.example,\n"
		 " e@x.example, f@x.example, g@x.example\n\nx\n",
	    1 },
	{ "SORTED",
	    RCVD "To: g@x.example, b@x.example, c@x.example, d@x.example,\n"
		 " e@x.example, f@x.example, a@x.example\n\nx\n",
	    0 },
	{ "FM_FROM", RCVD "From: Joe <Joe@FreeMail.example>\n\nx\n", 1 },
	{ "FM_FROM", RCVD "From: joe@sub.wild.example\n\nx\n", 1 },
	{ "FM_FROM", RCVD "From: joe@a.b.wild.example\n\nx\n", 0 },
	{ "FM_FROM", RCVD "From: listed@freemail.example\n\nx\n", 0 },
	{ "FM_FROM", RCVD "From: info@freemail.example\n\nx\n", 0 },
	{ "FM_FROM", RCVD "From: joe@corp.example\n\nx\n", 0 },
	{ "FM_RT_DIGIT",
	    RCVD "From: joe@corp.example\nReply-To: joe7@freemail.example\n"
		 "\nx\n",
	    1 },
	{ "FM_RT_DIGIT",
	    RCVD "From: joe@corp.example\nReply-To: joe@freemail.example\n"
		 "\nx\n",
	    0 },
	{ "FM_REPLYTO",
	    RCVD "From: joe@freemail.example\nReply-To: ann@freemail.example"
		 "\n\nx\n",
	    1 },
	{ "FM_REPLYTO",
	    RCVD "From: joe@freemail.example\nReply-To: joe@freemail.example"
		 "\n\nx\n",
	    0 },
	/* Reply-To freemail, a different freemail address in the body */
	{ "FM_REPLYTO",
	    RCVD "From: joe@corp.example\nReply-To: joe@freemail.example\n\n"
		 "write to ann@fmfree.com today\n",
	    1 },
	{ "FM_BODY", RCVD "\nwrite to ann@fmfree.com today\n", 1 },
	/* "<address>" and "address wrote:" forms are stripped; the TLD
	 * must be a real one */
	{ "FM_BODY",
	    RCVD "\n<ann@fmfree.com> and ann@freemail.example\n"
		 "bob@fmfree.com wrote:\n",
	    0 },
	{ "SUBJ_ILLEGAL", RCVD "Subject: caf\xe9 na\xefve\n\nx\n", 1 },
	{ "SUBJ_ILLEGAL", RCVD "Subject: caf\xc3\xa9 na\xc3\xafve\n\nx\n",
	    0 },
	{ "SUBJ_ILLEGAL", RCVD "Subject: price \xa3 5\n\nx\n", 0 },
	{ "TO_IN_SUBJ",
	    RCVD "To: bob@x.example\nSubject: bob, read this\n\nx\n", 1 },
	{ "TO_IN_SUBJ",
	    RCVD "To: bob@x.example\nSubject: read this, bobby\n\nx\n", 0 },
	{ "DIFF_DOMAINS",
	    "Return-Path: <bounce@mail.a.example>\n" RCVD
	    "From: joe@b.example\n\nx\n",
	    1 },
	{ "DIFF_DOMAINS",
	    "Return-Path: <bounce@mail.a.example>\n" RCVD
	    "From: joe@a.example\n\nx\n",
	    0 },
	{ "ENV_EQ_FROM",
	    "Return-Path: <Joe@a.example>\n" RCVD "From: joe@a.example\n\nx\n",
	    1 },
	{ "ENV_EQ_FROM",
	    "Return-Path: <ann@a.example>\n" RCVD "From: joe@a.example\n\nx\n",
	    0 },
	{ "GATED", "From: joe@a.example\n\nx\n", 1 },
	{ "GATED", RCVD "From: joe@a.example\n\nx\n", 0 },
	{ "FAKE_AOL",
	    "Received: from unknown (HELO mta05.example.net) (192.0.2.8) by "
	    "rly-xw01.mx.aol.com with QMQP; Sat, 15 Jun 2002 23:37:16 "
	    "-0000\n\nx\n",
	    1 },
	{ "FAKE_AOL",
	    "Received: from rly-xj02.mx.aol.com (rly-xj02.mail.aol.com "
	    "[192.0.2.39]) by omr-r05.mx.aol.com (v83.35) with ESMTP id "
	    "RELAYIN7-0501132011; Wed, 01 May 2002 13:20:11 -0400\n\nx\n",
	    0 },
	{ "DOTCOM_HELO",
	    "Received: from mx1.mail.yahoo.com ([192.0.2.44]) by "
	    "mx.example (8.9.3/8.9.3) with ESMTP id L1; Mon, 1 Jan 2024 "
	    "00:00:00 +0000\n\nx\n",
	    1 },
	{ "DOTCOM_HELO",
	    "Received: from mx1.mail.yahoo.com (mx1.mail.yahoo.com "
	    "[192.0.2.44]) by mx.example (8.9.3/8.9.3) with ESMTP id L1; "
	    "Mon, 1 Jan 2024 00:00:00 +0000\n\nx\n",
	    0 },
	{ "RATWARE_ID",
	    RCVD "Message-ID: <ABCDEFGHIJKLMNOPQRSTUVWXYZAB.joe@a.example>\n"
		 "From: \"Joe\" <joe@a.example>\n\nx\n",
	    1 },
	{ "RATWARE_ID",
	    RCVD "Message-ID: <ABCDEFGHIJKLMNOPQRSTUVWXYZAB.joe@a.example>\n"
		 "From: \"Joe\" <ann@a.example>\n\nx\n",
	    0 },
	/* the envelope sender embeds the To domain (registrable: co.uk is
	 * a public suffix) and user */
	{ "RATWARE_EFROM",
	    "Return-Path: <rcpt.co.uk-joe@bulk.example>\n" RCVD
		 "To: joe@mx.rcpt.co.uk\n\nx\n",
	    1 },
	{ "RATWARE_EFROM",
	    "Return-Path: <SRS0=rcpt.co.uk-joe@bulk.example>\n" RCVD
		 "To: joe@mx.rcpt.co.uk\n\nx\n",
	    0 },
	{ "RATWARE_EFROM",
	    "Return-Path: <co.uk-joe@bulk.example>\n" RCVD
		 "To: joe@mx.rcpt.co.uk\n\nx\n",
	    0 },
	/* the envelope sender's domain is the relay's */
	{ "RP_RCVD", "Return-Path: <bob@sender.example>\n" RCVD "\nx\n", 1 },
	{ "RP_RCVD", "Return-Path: <bob@other.example>\n" RCVD "\nx\n", 0 },
	{ "RP_RCVD",
	    "Return-Path: <bob@a.co.uk>\n"
	    "Received: from mail.b.co.uk (mail.b.co.uk [192.0.2.10]) by "
	    "mx.rcpt.example; Mon, 1 Jan 2024 00:00:00 +0000\n\nx\n",
	    0 },
	{ "RP_RCVD",
	    "Return-Path: <bob@x.b.co.uk>\n"
	    "Received: from mail.b.co.uk (mail.b.co.uk [192.0.2.10]) by "
	    "mx.rcpt.example; Mon, 1 Jan 2024 00:00:00 +0000\n\nx\n",
	    1 },
};

#include "rules_fixture.h"

static void
test_cases(void **state)
{
	struct fx *fx = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct eval_case *k = &cases[i];
		struct msg *m;
		struct hits *h;

		assert_int_equal(msg_parse((const unsigned char *)k->msg,
				     strlen(k->msg), NULL, &m),
		    0);
		h = hits_new(msg_arena(m));
		assert_non_null(h);
		assert_int_equal(rule_set_check(fx->rs, m, h), 0);
		if (hits_has(h, k->rule) != (k->want != 0))
			fail_msg("case %zu: %s %s", i, k->rule,
			    k->want ? "did not fire" : "fired");
		msg_free(m);
	}
}

/* every eval of the table is known: lint reports none of them, and the
 * bad freemail_domains entry is a warning */
static void
test_lint(void **state)
{
	struct fx *fx = *state;
	size_t n = rule_set_diag_count(fx->rs);
	bool bad_dom = false;

	for (size_t i = 0; i < n; i++) {
		const struct rule_diag *d = rule_set_diag_at(fx->rs, i);

		if (strstr(d->msg, "not implemented") != NULL ||
		    strstr(d->msg, "unknown") != NULL)
			fail_msg("%s", d->msg);
		if (strstr(d->msg, "invalid freemail_domains") != NULL)
			bad_dom = true;
	}
	assert_true(bad_dom);
}

/* welcomelist_auth entries take an address out of FreeMail only when
 * freemail_import_(def_)welcomelist_auth says so (off by default) */
static void
test_freemail_import(void **state)
{
	static const char base[] =
	    "header FM_FROM eval:check_freemail_from()\n"
	    "freemail_domains fmfree.com\n"
	    "welcomelist_auth bob@fmfree.com\n"
	    "def_welcomelist_auth *@fmfree.com\n";
	static const char *const extra[] = { "",
		"freemail_import_welcomelist_auth 1\n",
		"freemail_import_def_welcomelist_auth 1\n" };
	/* [setting][message]: bob (welcomelist_auth), ann (def_ only) */
	static const bool want[3][2] = { { true, true }, { false, true },
		{ false, false } };
	static const char *const msgs[] = {
		"From: bob@fmfree.com\nSubject: x\n\nx\n",
		"From: ann@fmfree.com\nSubject: x\n\nx\n" };

	(void)state;
	for (size_t s = 0; s < 3; s++) {
		char cf[512];
		struct rule_err e;
		struct rule_set *rs;

		snprintf(cf, sizeof(cf), "%s%s", base, extra[s]);
		rs = rule_set_load_mem(cf, strlen(cf), "fm.cf", &e);
		assert_non_null(rs);
		for (size_t i = 0; i < 2; i++) {
			struct msg *m;
			struct hits *h;

			assert_int_equal(
			    msg_parse((const unsigned char *)msgs[i],
				strlen(msgs[i]), NULL, &m),
			    0);
			h = hits_new(msg_arena(m));
			assert_int_equal(rule_set_check(rs, m, h), 0);
			if (hits_has(h, "FM_FROM") != want[s][i])
				fail_msg("setting %zu message %zu", s, i);
			msg_free(m);
		}
		rule_set_free(rs);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_lint),
		cmocka_unit_test(test_freemail_import),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
