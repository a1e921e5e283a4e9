/* wblist_test - filterd/check_wblist.c: welcomelist_from only with
 * authentication or a matching relay (a forged From gets nothing),
 * welcomelist_auth by DKIM/SPF, blocklist_from, welcomelist_to, legacy
 * names, unwelcomelist_from, score overrides */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filterd/cfg.h"
#include "filterd/checks.h"
#include "filterd/scan.h"
#include "util/hits.h"

static const char *fake_authres;

/* stands in for check_auth: leaves the "authres" note in finish() */
static void
fake_finish(struct scan *s, void *state)
{
	(void)state;
	if (fake_authres)
		scan_note(s, "authres", fake_authres);
}

static const struct check check_fake_auth = { .name = "fakeauth",
	.finish = fake_finish };

static const struct check *const table[] = { &check_fake_auth,
	&check_wblist, NULL };

static char cfpath[64];

static void
write_cf(const char *text)
{
	FILE *f;

	strcpy(cfpath, "/tmp/wblist_test.XXXXXX");
	int fd = mkstemp(cfpath);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
}

static const char cf[] =
    "welcomelist_from *@friend.test *@*.friend.test boss@corp.test\n"
    "whitelist_from_rcvd *@partner.test mx.partner.test\n"
    "welcomelist_auth *@bank.test\n"
    "blacklist_from *@spammer.test\n"
    "welcomelist_to postmaster@*\n"
    "welcomelist_from *@gone.test\n"
    "unwelcomelist_from *@gone.test\n";

static void
done(struct scan *s, void *arg)
{
	(void)s, (void)arg;
}

/* run - one message From: from, MAIL FROM mf, optional Received from
 * relay rdns, auth note ar; returns the score, names into got */
static double
run(const char *from, const char *mf, const char *rcvd_rdns,
    const char *rcpt, const char *ar, char *got, size_t gotsz)
{
	struct cfg *cfg = cfg_new();
	struct checks *ck;
	struct scan *s;
	char err[256], raw[2048];
	double score;
	const char *rcpts[1] = { rcpt ? rcpt : "user@example.test" };
	struct envelope env = { .qid = "T1", .mail_from = mf,
		.rcpts = rcpts, .nrcpts = 1 };

	assert_int_equal(cfg_set(cfg, "rules_dir", cfpath, err, sizeof(err)),
	    0);
	assert_int_equal(cfg_set(cfg, "rules_local", "", err, sizeof(err)),
	    0);
	assert_int_equal(cfg_set(cfg, "trusted_networks", "127.0.0.0/8", err,
	    sizeof(err)), 0);
	snprintf(raw, sizeof(raw),
	    "%s%s%s"
	    "From: %s\r\nTo: x@example.test\r\nSubject: hi\r\n\r\nbody\r\n",
	    rcvd_rdns ? "Received: from helo.test (" : "",
	    rcvd_rdns ? rcvd_rdns : "",
	    rcvd_rdns ? " [192.0.2.7])\r\n\tby mx.example.test (Postfix) "
			"with ESMTP id 1234\r\n\tfor <x@example.test>; Fri, 27 "
			"Nov 2026 12:00:00 +0000\r\n" : "",
	    from);
	fake_authres = ar;
	ck = checks_init_table(cfg, table, err, sizeof(err));
	assert_non_null(ck);
	s = scan_new(cfg, ck, NULL, (const unsigned char *)raw, strlen(raw),
	    &env);
	assert_non_null(s);
	assert_int_equal(scan_run(s, done, NULL), 0);
	score = scan_score(s);
	snprintf(got, gotsz, "%s", scan_tests(s));
	scan_free(s);
	checks_free(ck);
	cfg_free(cfg);
	return score;
}


static void
test_forged_from_not_welcomed(void **st)
{
	char got[256];

	(void)st;
	write_cf(cf);
	/* From matches welcomelist_from, nothing authenticates it */
	run("Friend <a@friend.test>", "a@friend.test", NULL, NULL,
	    "mx.example.test; spf=fail smtp.mailfrom=a@friend.test; "
	    "dkim=none", got, sizeof(got));
	assert_null(strstr(got, "USER_IN_WELCOMELIST"));
	/* DKIM pass, but for another domain */
	run("Friend <a@friend.test>", "x@evil.test", NULL, NULL,
	    "mx.example.test; dkim=pass header.d=evil.test", got,
	    sizeof(got));
	assert_null(strstr(got, "USER_IN_WELCOMELIST"));
	/* SPF pass for the envelope sender's (other) domain */
	run("Boss <boss@corp.test>", "x@evil.test", NULL, NULL,
	    "mx.example.test; spf=pass smtp.mailfrom=x@evil.test", got,
	    sizeof(got));
	assert_null(strstr(got, "USER_IN_WELCOMELIST"));
	/* rcvd entry, wrong relay */
	run("<p@partner.test>", "p@partner.test", "mx.forger.test", NULL,
	    NULL, got, sizeof(got));
	assert_null(strstr(got, "USER_IN_WELCOMELIST"));
	/* unwelcomelist_from took it out */
	run("<a@gone.test>", "a@gone.test", NULL, NULL,
	    "mx.example.test; dkim=pass header.d=gone.test", got,
	    sizeof(got));
	assert_null(strstr(got, "USER_IN_WELCOMELIST"));
	unlink(cfpath);
}

static void
test_authenticated_welcomed(void **st)
{
	char got[256];
	double sc;

	(void)st;
	write_cf(cf);
	sc = run("Friend <a@friend.test>", "a@friend.test", NULL, NULL,
	    "mx.example.test; dkim=pass header.d=friend.test "
	    "header.s=sel", got, sizeof(got));
	assert_non_null(strstr(got, "USER_IN_WELCOMELIST"));
	assert_true(sc <= -99.0);
	/* DKIM by a parent domain */
	run("<a@mail.friend.test>", "", NULL, NULL,
	    "mx.example.test; dkim=pass header.d=friend.test", got,
	    sizeof(got));
	assert_non_null(strstr(got, "USER_IN_WELCOMELIST"));
	/* SPF pass for the envelope sender */
	run("Boss <boss@corp.test>", "boss@corp.test", NULL, NULL,
	    "mx.example.test; spf=pass smtp.mailfrom=boss@corp.test", got,
	    sizeof(got));
	assert_non_null(strstr(got, "USER_IN_WELCOMELIST"));
	/* DMARC pass for the From domain */
	run("<boss@corp.test>", "bounce@esp.test", NULL, NULL,
	    "mx.example.test; dmarc=pass header.from=corp.test", got,
	    sizeof(got));
	assert_non_null(strstr(got, "USER_IN_WELCOMELIST"));
	/* rcvd: the relay's rDNS is under mx.partner.test */
	run("<p@partner.test>", "p@partner.test", "out1.mx.partner.test",
	    NULL, NULL, got, sizeof(got));
	assert_non_null(strstr(got, "USER_IN_WELCOMELIST"));
	/* welcomelist_auth: DKIM and SPF names */
	run("<n@bank.test>", "n@bank.test", NULL, NULL,
	    "mx.example.test; dkim=pass header.d=bank.test", got,
	    sizeof(got));
	assert_non_null(strstr(got, "USER_IN_DKIM_WELCOMELIST"));
	run("<n@bank.test>", "n@bank.test", NULL, NULL,
	    "mx.example.test; spf=pass smtp.mailfrom=n@bank.test", got,
	    sizeof(got));
	assert_non_null(strstr(got, "USER_IN_SPF_WELCOMELIST"));
	unlink(cfpath);
}

static void
test_block_and_to(void **st)
{
	char got[256];
	double sc;

	(void)st;
	write_cf(cf);
	sc = run("<x@spammer.test>", "x@spammer.test", NULL, NULL, NULL, got,
	    sizeof(got));
	assert_non_null(strstr(got, "USER_IN_BLOCKLIST"));
	assert_true(sc >= 99.0);
	sc = run("<x@other.test>", "x@other.test", NULL,
	    "postmaster@example.test", NULL, got, sizeof(got));
	assert_non_null(strstr(got, "USER_IN_WELCOMELIST_TO"));
	unlink(cfpath);
	/* a score line overrides the default */
	write_cf("blocklist_from *@spammer.test\n"
		 "score USER_IN_BLOCKLIST 42\n");
	sc = run("<x@spammer.test>", "x@spammer.test", NULL, NULL, NULL, got,
	    sizeof(got));
	assert_true(sc >= 41.9 && sc < 50);
	unlink(cfpath);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forged_from_not_welcomed),
		cmocka_unit_test(test_authenticated_welcomed),
		cmocka_unit_test(test_block_and_to),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
