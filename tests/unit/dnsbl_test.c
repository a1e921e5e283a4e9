/*
 * dnsbl_test - plugins/dnsbl.c: subtest matching, refused/out-of-range
 * codes, query names (IPv4 octets, IPv6 nibbles), DQS zones, rule-line
 * parsing and errors, then whole lookups against knotd on 127.0.0.1
 * serving tests/e2e/zones/dnsbl.zone: which relay is asked, which sub-rules
 * fire, DNSWL, envelope/From domains, URIBL bitmasks, SERVFAIL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <string.h>
#include <time.h>

#include "plugins/dnsbl.h"
#include "util/arena.h"
#include "dns_testlib.h"

static void
test_subtest(void **state)
{
	static const struct {
		const char *sub;
		uint32_t ans;
		int want;
	} cases[] = {
		{ "127.0.0.2", 0x7f000002, 1 }, { "127.0.0.2", 0x7f000003, 0 },
		{ "127.0.0.10-127.0.0.11", 0x7f00000b, 1 },
		{ "127.0.0.10-127.0.0.11", 0x7f00000c, 0 },
		{ "127.0.1.0/255.255.255.0", 0x7f000102, 1 },
		{ "127.0.1.0/255.255.255.0", 0x7f000202, 0 },
		{ "8", 0x7f000048, 1 }, /* SURBL PH in 72 */
		{ "2", 0x7f000048, 0 }, { "0x40", 0x7f000048, 1 },
		{ "127.0.0.[45678]", 0x7f000004, 1 },
		{ "127.0.0.[45678]", 0x7f000002, 0 },
		{ "^127\\.0\\.0\\.(2|3)$", 0x7f000003, 1 },
		{ "^127\\.0\\.0\\.(2|3)$", 0x7f000021, 0 },
		{ "127.0.0.5-127.0.0.4", 0, -EINVAL }, { "([", 0, -EINVAL },
		{ "e'+++++++++++++++++++++++++'", 0,
		    -EINVAL }, /* regcomp blowup */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = dnsbl_subtest_match(cases[i].sub, cases[i].ans);

		if (got != cases[i].want)
			fail_msg("subtest %s on %08x: got %d want %d",
			    cases[i].sub, cases[i].ans, got, cases[i].want);
	}
}

static void
test_valid(void **state)
{
	(void)state;
	assert_true(dnsbl_answer_valid(0x7f000002));
	assert_true(dnsbl_answer_valid(0x7fffff00));
	assert_true(dnsbl_answer_valid(0x7ffffffb));
	assert_false(dnsbl_answer_valid(0x7ffffffc)); /* 127.255.255.252 */
	assert_false(dnsbl_answer_valid(0x7ffffffe)); /* public resolver */
	assert_false(dnsbl_answer_valid(0x7fffffff));
	assert_false(dnsbl_answer_valid(0x0a000001)); /* 10.0.0.1 */
	assert_false(dnsbl_answer_valid(0xc0000201));
}

static void
test_names(void **state)
{
	struct netaddr na;
	char out[256];

	(void)state;
	netaddr_parse("192.0.2.99", 10, &na);
	assert_int_equal(
	    dnsbl_query_name(&na, NULL, "zen.spamhaus.org.", out, sizeof(out)),
	    0);
	assert_string_equal(out, "99.2.0.192.zen.spamhaus.org");
	netaddr_parse("2001:db8:1::ab", 14, &na);
	assert_int_equal(
	    dnsbl_query_name(&na, NULL, "zen.example", out, sizeof(out)), 0);
	assert_string_equal(out,
	    "b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "1.0.0.0.8.b.d.0.1.0.0.2.zen.example");
	assert_int_equal(dnsbl_query_name(NULL, "spam.test", "dbl.example.",
			     out, sizeof(out)),
	    0);
	assert_string_equal(out, "spam.test.dbl.example");
	assert_int_equal(
	    dnsbl_query_name(NULL, "spam.test", "dbl.example", out, 10),
	    -ENOSPC);

	assert_int_equal(
	    dnsbl_dqs_zone("zen.spamhaus.org.", "abc123", out, sizeof(out)), 0);
	assert_string_equal(out, "abc123.zen.dq.spamhaus.net");
	assert_int_equal(
	    dnsbl_dqs_zone("dbl.spamhaus.org", "k", out, sizeof(out)), 0);
	assert_string_equal(out, "k.dbl.dq.spamhaus.net");
	assert_int_equal(
	    dnsbl_dqs_zone("multi.surbl.org.", "k", out, sizeof(out)), 0);
	assert_string_equal(out, "multi.surbl.org");
	assert_int_equal(
	    dnsbl_dqs_zone("zen.spamhaus.org", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "zen.spamhaus.org");
}

static void
test_lines(void **state)
{
	static const struct {
		const char *line;
		int want;
	} cases[] = {
		{ "header RCVD_IN_X eval:check_rbl('x-lastexternal', 'x.test.')",
		    0 },
		{ "header RCVD_IN_X2 eval:check_rbl_sub('x-lastexternal', '127.0.0.2')",
		    0 },
		{ "header  T  eval:check_rbl_txt(\"t\", \"x.test\", \"foo\")  # c",
		    0 },
		{ "dnsbl D1 zen.test 127.0.0.2,127.0.0.3 1.5", 0 },
		{ "dnsbl D2 zen.test -0.5", 0 },
		{ "urirhssub U1 multi.test. A 2", 0 },
		{ "urirhsbl U2 multi2.test. A", 0 },
		{ "uridnsbl U3 sbl.test. A", 0 },
		{ "uridnsbl_skip_domain a.test b.test c.test d.test e.test f.test",
		    0 },
		{ "uridnsbl_max_domains 5", 0 },
		{ "# comment", 0 },
		{ "", 0 },
		{ "describe RCVD_IN_X listed", 1 },
		{ "header FOO eval:check_something('a')", 1 },
		{ "header FOO From =~ /x/", 1 },
		{ "score D1 2.0", 1 },
		{ "header BAD eval:check_rbl('x-lastexternal', 'other.test.')",
		    -EINVAL },
		{ "header BAD eval:check_rbl('a')", -EINVAL },
		{ "header BAD eval:check_rbl_sub('x', '([')", -EINVAL },
		{ "dnsbl BAD zen.test", -EINVAL },
		{ "dnsbl BAD zen.test 127.0.0.2 notanumber", -EINVAL },
		{ "dnsbl BAD-NAME zen.test 1", -EINVAL },
		{ "dnsbl B bad..zone 1", -EINVAL },
		{ "urirhssub U1 multi.test. A", -EINVAL },
		{ "urirhsbl U1 multi.test. MX", -EINVAL },
		{ "uridnsbl_max_domains 0", -EINVAL },
		{ "score D1 1 2", -EINVAL },
	};
	struct dnsbl_set *s = dnsbl_set_new();
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		err[0] = '\0';
		rc = dnsbl_set_line(s, cases[i].line, err, sizeof(err));
		if (rc != cases[i].want)
			fail_msg("'%s': rc %d want %d (%s)", cases[i].line, rc,
			    cases[i].want, err);
		if (rc < 0)
			assert_true(err[0] != '\0');
	}
	assert_int_equal(dnsbl_set_finish(s, NULL, err, sizeof(err)), 0);
	double sc;
	assert_true(dnsbl_set_score(s, "D1", &sc));
	assert_float_equal(sc, 2.0, 1e-9); /* score line wins */
	assert_true(dnsbl_set_score(s, "D2", &sc));
	assert_float_equal(sc, -0.5, 1e-9);
	dnsbl_set_free(s);

	/* a sub-rule of a list nobody defined */
	s = dnsbl_set_new();
	assert_int_equal(dnsbl_set_line(s,
			     "header S eval:check_rbl_sub("
			     "'nosuch', '127.0.0.2')",
			     err, sizeof(err)),
	    0);
	assert_int_equal(dnsbl_set_finish(s, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nosuch"));
	dnsbl_set_free(s);
}

/* the shipped list config loads, and DQS rewrites the Spamhaus zones */
static void
test_default_config(void **state)
{
	struct dnsbl_set *s = dnsbl_set_new();
	struct dnsbl_opts o = { .dqs_key = "testkey" };
	char err[512] = "";
	double sc;

	(void)state;
	if (dnsbl_set_load(s, "etc/dnsbl.cf", err, sizeof(err)) < 0 ||
	    dnsbl_set_finish(s, &o, err, sizeof(err)) < 0)
		fail_msg("etc/dnsbl.cf: %s", err);
	assert_true(dnsbl_set_rules(s) >= 20);
	assert_true(dnsbl_set_lists(s) >= 8);
	assert_true(dnsbl_set_score(s, "RCVD_IN_DNSWL_HI", &sc));
	assert_true(sc < 0);
	assert_true(dnsbl_set_score(s, "URIBL_BLACK", &sc));
	assert_true(sc > 0);
	dnsbl_set_free(s);
}

/* a list file is strict: typos stop the load with file:line */
static void
test_load_errors(void **state)
{
	static const struct {
		const char *text;
		int want;
		const char *msg;
	} cases[] = {
		{ "describe X listed\ntflags X net\n"
		  "body X eval:check_uridnsbl('X')\ndnsbl X z.test 1\n",
		    0, "" },
		{ "dnsbl X z.test 1\ndnsbll Y z.test 1\n", -EINVAL,
		    ":2: not a DNSBL rule line" },
		{ "\n\nheader X eval:check_rbl('a')\n", -EINVAL,
		    ":3: check_rbl wants 2 or 3 arguments" },
	};
	char path[] = "/tmp/dnsbl_test.XXXXXX", err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = mkstemp(path);
		struct dnsbl_set *s = dnsbl_set_new();

		assert_true(fd >= 0);
		assert_int_equal(
		    write(fd, cases[i].text, strlen(cases[i].text)),
		    (ssize_t)strlen(cases[i].text));
		close(fd);
		err[0] = '\0';
		assert_int_equal(
		    dnsbl_set_load(s, path, err, sizeof(err)), cases[i].want);
		assert_non_null(strstr(err, cases[i].msg));
		unlink(path);
		snprintf(path, sizeof(path), "/tmp/dnsbl_test.XXXXXX");
		dnsbl_set_free(s);
	}
}

/* Whole lookups against knotd ------------------------------------------ */

static int srv_pid, srv_port;

static const char *const cfg_lines[] = {
	"header RCVD_IN_ZEN eval:check_rbl('zen-lastexternal', 'zen.dnsbl.test.')",
	"header RCVD_IN_ZEN_SBL eval:check_rbl_sub('zen-lastexternal', '127.0.0.2')",
	"header RCVD_IN_ZEN_XBL eval:check_rbl_sub('zen-lastexternal', '127.0.0.[45678]')",
	"header RCVD_IN_ZEN_PBL eval:check_rbl_sub('zen-lastexternal', '127.0.0.10-127.0.0.11')",
	"header RCVD_IN_ZEN_TXT eval:check_rbl_txt('zentxt-lastexternal', 'zen.dnsbl.test.', 'example\\.test/sbl')",
	"header RCVD_IN_ZEN2 eval:check_rbl('zen2-lastexternal', 'zen.dnsbl.test.', '127.0.0.2')",
	"header RCVD_IN_SPAMCOP eval:check_rbl('spamcop-untrusted', 'bl.spamcop.test.')",
	"dnsbl RCVD_IN_DNSWL_T list.dnswl.test 127.0.15.0/255.255.255.0 -5",
	"header DBL_ENVFROM eval:check_rbl_envfrom('dbl', 'dbl.dnsbl.test.', '127.0.1.2')",
	"header DBL_FROM eval:check_rbl_from_domain('dblf', 'dbl.dnsbl.test.')",
	"urirhssub URIBL_BLACK multi.uribl.test. A 2",
	"urirhssub URIBL_GREY multi.uribl.test. A 4",
	"urirhssub SURBL_PH multi.surbl.test. A 8",
	"urirhssub SURBL_ABUSE multi.surbl.test. A 64",
	"uridnsbl URIBL_SBL zen.dnsbl.test. A",
	"uridnsbl URIBL_NS_T nsbl.dnsbl.test. A",
	"header SF_TEST eval:check_rbl('sf', 'x.servfail.test.')",
	"score RCVD_IN_ZEN_SBL 0 0 2.5 3.0",
};

struct run {
	char hits[2048];
	double score_sbl;
	int pending, started, cfgerr, failed;
	enum dns_status fail_status;
	char fail_zone[64];
	char cfgerr_answer[64];
};

static void
h_hit(void *arg, const char *rule, const char *detail, double score,
    bool has_score)
{
	struct run *r = arg;

	(void)detail;
	if (strcmp(rule, "RCVD_IN_ZEN_SBL") == 0 && has_score)
		r->score_sbl = score;
	if (strcmp(rule, "RCVD_IN_DNSWL_T") == 0)
		assert_float_equal(score, -5, 1e-9);
	strncat(r->hits, " ", sizeof(r->hits) - strlen(r->hits) - 1);
	strncat(r->hits, rule, sizeof(r->hits) - strlen(r->hits) - 1);
}

static void
h_add(void *arg, const char *zone)
{
	(void)zone;
	((struct run *)arg)->pending++;
	((struct run *)arg)->started++;
}

static void
h_done(void *arg, const char *zone)
{
	(void)zone;
	((struct run *)arg)->pending--;
}

static void
h_cfgerr(void *arg, const char *zone, const char *answer)
{
	struct run *r = arg;

	(void)zone;
	r->cfgerr++;
	snprintf(r->cfgerr_answer, sizeof(r->cfgerr_answer), "%s", answer);
}

static void
h_failed(void *arg, const char *zone, const char *qname, enum dns_status st,
    bool deadline)
{
	struct run *r = arg;

	snprintf(r->fail_zone, sizeof(r->fail_zone), "%s", zone ? zone : "");
	(void)qname;
	(void)deadline;
	r->failed++;
	r->fail_status = st;
}

static struct event_base *base;
static struct dns_resolver *res;
static struct dnsbl_set *set;

static bool
has_hit(const struct run *r, const char *rule)
{
	char pat[128];
	size_t l;
	const char *p = r->hits;

	snprintf(pat, sizeof(pat), " %s", rule);
	l = strlen(pat);
	while ((p = strstr(p, pat)) != NULL) {
		if (p[l] == ' ' || p[l] == '\0')
			return true;
		p += l;
	}
	return false;
}

static void
lookup(const struct dnsbl_input *in, struct run *r)
{
	struct arena *a = arena_new(0);
	struct dns_ctx *c = dns_ctx_new(res, a, 3000);
	struct dnsbl_hooks h = { h_hit, h_add, h_done, h_cfgerr, h_failed, r };
	int n;

	memset(r, 0, sizeof(*r));
	n = dnsbl_start(set, c, a, in, &h);
	assert_true(n >= 0);
	assert_int_equal(n, r->started);
	for (int i = 0; i < 500 && r->pending > 0; i++) {
		struct timeval tv = { 0, 10000 };

		event_base_loopexit(base, &tv);
		event_base_loop(base, EVLOOP_ONCE);
	}
	assert_int_equal(r->pending, 0);
	arena_free(a);
}

static struct netaddr
ip(const char *s)
{
	struct netaddr na;

	assert_int_equal(netaddr_parse(s, strlen(s), &na), 0);
	return na;
}

static void
test_relays(void **state)
{
	struct netaddr le = ip("198.0.2.10"), un[2];
	struct dnsbl_input in = { .last_external = &le };
	struct run r;

	(void)state;
	lookup(&in, &r);
	assert_true(has_hit(&r, "RCVD_IN_ZEN"));
	assert_true(has_hit(&r, "RCVD_IN_ZEN_SBL"));
	assert_true(has_hit(&r, "RCVD_IN_ZEN_TXT"));
	assert_false(has_hit(&r, "RCVD_IN_ZEN_XBL"));
	assert_false(has_hit(&r, "RCVD_IN_ZEN_PBL"));
	assert_false(has_hit(&r, "RCVD_IN_SPAMCOP"));
	assert_float_equal(r.score_sbl, 3.0, 1e-9);
	assert_int_equal(r.cfgerr, 0);
	assert_int_equal(r.failed, 1); /* the SERVFAIL list */
	assert_int_equal(r.fail_status, DNS_SERVFAIL);
	assert_string_equal(r.fail_zone, "x.servfail.test"); /* the list */

	/* an older untrusted relay is listed only in SpamCop; the zen
	 * lists look at the last external relay alone */
	un[0] = le;
	un[1] = ip("198.0.2.14");
	in.untrusted = un;
	in.nuntrusted = 2;
	lookup(&in, &r);
	assert_true(has_hit(&r, "RCVD_IN_SPAMCOP"));
	assert_true(has_hit(&r, "RCVD_IN_ZEN_SBL"));
	assert_false(has_hit(&r, "RCVD_IN_ZEN_XBL"));

	le = ip("198.0.2.11");
	in.nuntrusted = 0;
	lookup(&in, &r);
	assert_string_equal(r.hits, " RCVD_IN_ZEN RCVD_IN_ZEN_PBL");

	le = ip("198.0.2.20");
	lookup(&in, &r);
	assert_string_equal(r.hits, " RCVD_IN_DNSWL_T");

	le = ip("2001:db8::1");
	lookup(&in, &r);
	assert_string_equal(r.hits, " RCVD_IN_ZEN");

	/* private relays are never sent */
	le = ip("10.1.2.3");
	lookup(&in, &r);
	assert_int_equal(r.started, 0);
}

static void
test_refused_codes(void **state)
{
	struct netaddr le = ip("198.0.2.12");
	struct dnsbl_input in = { .last_external = &le };
	struct run r;

	(void)state;
	lookup(&in, &r);
	assert_string_equal(r.hits, "");
	assert_int_equal(r.cfgerr, 1);
	assert_string_equal(r.cfgerr_answer, "127.255.255.254");
	lookup(&in, &r);
	assert_int_equal(r.cfgerr, 0); /* logged once per list (zone) */
	le = ip("198.0.2.13");	       /* answers 10.0.0.1 */
	lookup(&in, &r);
	assert_string_equal(r.hits, "");
}

static void
test_domains(void **state)
{
	static const char *hosts[] = { "www.evil-site.test", "x.grey-site.test",
		"both.test", "203.0.113.7", "google.com", "phish.test",
		"www.nsdomain.test" };
	struct bstr hv[7];
	struct dnsbl_input in = { .envfrom_domain = "spammer.test",
		.from_domain = "spammer.test" };
	struct run r;

	(void)state;
	lookup(&in, &r);
	assert_true(has_hit(&r, "DBL_ENVFROM"));
	assert_true(has_hit(&r, "DBL_FROM"));

	in.envfrom_domain = in.from_domain = NULL;
	for (int i = 0; i < 7; i++)
		hv[i] = bstr_cstr(hosts[i]);
	in.uri_hosts = hv;
	in.nuri_hosts = 7;
	lookup(&in, &r);
	assert_true(has_hit(&r, "URIBL_BLACK"));
	assert_true(has_hit(&r, "URIBL_GREY"));
	assert_true(has_hit(&r, "SURBL_PH"));
	assert_true(has_hit(&r, "SURBL_ABUSE"));
	assert_true(has_hit(&r, "URIBL_SBL")); /* the IP literal */
	/* nsdomain.test's name server ns1 (203.0.113.9) is listed */
	assert_true(has_hit(&r, "URIBL_NS_T"));
	/* 6 names (google.com skipped) x 2 URI lists, the IP literal x 2
	 * uridnsbl lists, 5 NS lookups; then for nsdomain.test 2 NS hosts
	 * -> 2 A lookups -> 2 IPs x 2 uridnsbl lists */
	assert_int_equal(r.started, 12 + 2 + 5 + 2 + 4);
}

static int
setup(void **state)
{
	char addr[64], err[256];
	struct dns_opts o = { .servers = addr, .timeout_ms = 1000 };

	(void)state;
	if (dnstest_start(&srv_pid, &srv_port) < 0)
		return -1;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", srv_port);
	base = event_base_new();
	if (dns_resolver_new(base, &o, &res) < 0)
		return -1;
	set = dnsbl_set_new();
	for (size_t i = 0; i < sizeof(cfg_lines) / sizeof(cfg_lines[0]); i++)
		if (dnsbl_set_line(set, cfg_lines[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s\n", cfg_lines[i], err);
			return -1;
		}
	return dnsbl_set_finish(set, NULL, err, sizeof(err));
}

static int
teardown(void **state)
{
	(void)state;
	dnsbl_set_free(set);
	dns_resolver_free(res);
	event_base_free(base);
	dnstest_stop(srv_pid);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subtest),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_default_config),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_relays),
		cmocka_unit_test(test_refused_codes),
		cmocka_unit_test(test_domains),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
