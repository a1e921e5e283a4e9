/* policy_test - filterd/policy.c: recipient map lookup order (user@dom,
 * @dom, dom, .parent), grouping by settings, bypass, bank selection
 * (port, ORIGINATING by PROTO=ESMTPA, MYNETS by address), file errors
 * with file:line */
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
#include "filterd/policy.h"
#include "filterd/scan.h"

static char mapf[64], bankf[64];

static void
write_file(char *path, const char *text)
{
	FILE *f;
	int fd;

	strcpy(path, "/tmp/policy_test.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
}

static const struct check *const none[] = { NULL };

static struct policy *
load(struct cfg **cfgp, struct checks **ck, const char *map,
    const char *banks, char *err, size_t errsz, int *rc)
{
	struct cfg *cfg = cfg_new();
	struct policy *p = NULL;
	char why[256];

	if (map) {
		write_file(mapf, map);
		assert_int_equal(cfg_set(cfg, "recipient_policy", mapf, why,
		    sizeof(why)), 0);
	}
	if (banks) {
		write_file(bankf, banks);
		assert_int_equal(cfg_set(cfg, "policy_banks", bankf, why,
		    sizeof(why)), 0);
	}
	assert_int_equal(cfg_set(cfg, "mynetworks", "10.0.0.0/8", why,
	    sizeof(why)), 0);
	*ck = checks_init_table(cfg, none, why, sizeof(why));
	*rc = policy_load(cfg, *ck, &p, err, errsz);
	*cfgp = cfg;
	return p;
}

static void
unload(struct policy *p, struct cfg *cfg, struct checks *ck)
{
	policy_free(p);
	checks_free(ck);
	cfg_free(cfg);
	unlink(mapf);
	unlink(bankf);
	mapf[0] = bankf[0] = '\0';
}

static void
test_lookup_order(void **st)
{
	struct cfg *cfg;
	struct checks *ck;
	char err[256];
	int rc;
	struct policy *p = load(&cfg, &ck,
	    "boss@corp.test  tag2_level=1\n"
	    "@corp.test      tag2_level=2\n"
	    "corp.test       tag2_level=3   # never: @corp.test first\n"
	    "sub.corp.test   tag2_level=4\n"
	    ".corp.test      tag2_level=5\n"
	    "lover@x.test    bypass=yes\n"
	    "Tag@X.test      spam_subject_tag=\"[T] \" tag2_level=2\n",
	    NULL, err, sizeof(err), &rc);
	const char *rcpts[] = { "BOSS@corp.test", "a@corp.test",
		"b@sub.corp.test", "c@deep.sub.corp.test", "d@x.corp.test",
		"e@other.test", "lover@x.test", "tag@x.test", "f@corp.test" };
	struct envelope env = { .client_addr = "192.0.2.1" };
	const struct policy_bank *b;
	struct policy_group *g;
	size_t ng;
	/* c@deep.sub: "sub.corp.test" is that domain only, ".corp.test" its
	 * subdomains too */
	double want[] = { 1, 2, 4, 5, 5, 5.0, 1000, 2, 2 };

	(void)st;
	assert_int_equal(rc, 0);
	assert_non_null(p);
	b = policy_bank_for(p, &env, 0);
	assert_string_equal(b->name, "default");
	assert_int_equal(policy_groups(p, b, rcpts, 9, &g, &ng), 0);
	/* boss | @corp (a, f) | sub (b) | .corp (c, d) | default (e) |
	 * bypass | [T] */
	assert_int_equal(ng, 7);
	for (size_t k = 0; k < ng; k++)
		for (size_t i = 0; i < g[k].n; i++)
			assert_true(cfg_double(g[k].cfg, "tag2_level") ==
			    want[g[k].idx[i]]);
	/* same settings share one group: a@ and f@ */
	for (size_t k = 0; k < ng; k++)
		if (g[k].idx[0] == 1)
			assert_int_equal(g[k].n, 2);
	/* bypass: destiny pass, kill at the maximum; tag keeps its space */
	for (size_t k = 0; k < ng; k++) {
		if (g[k].idx[0] == 6) {
			assert_string_equal(cfg_str(g[k].cfg,
			    "final_spam_destiny"), "pass");
			assert_true(cfg_double(g[k].cfg, "kill_level") == 1000);
		}
		if (g[k].idx[0] == 7)
			assert_string_equal(cfg_str(g[k].cfg,
			    "spam_subject_tag"), "[T] ");
	}
	policy_groups_free(g, ng);
	unload(p, cfg, ck);
}

static void
test_banks(void **st)
{
	struct cfg *cfg;
	struct checks *ck;
	char err[256];
	int rc;
	struct policy *p = load(&cfg, &ck, NULL,
	    "MYNETS tag2_level = 7\n"
	    "ORIGINATING tag2_level = 8\n"
	    "port:10026 tag2_level = 9\n"
	    "port:10026 use_bayes = no\n",
	    err, sizeof(err), &rc);
	struct envelope out = { .client_addr = "192.0.2.1" };
	struct envelope lan = { .client_addr = "10.1.2.3" };
	struct envelope auth = { .client_addr = "192.0.2.1",
		.proto = "ESMTPSA" };
	const struct policy_bank *b;

	(void)st;
	assert_int_equal(rc, 0);
	b = policy_bank_for(p, &out, 10024);
	assert_string_equal(b->name, "default");
	assert_ptr_equal(b->cfg, cfg);
	b = policy_bank_for(p, &auth, 10024);
	assert_string_equal(b->name, "ORIGINATING");
	/* in mynetworks: ORIGINATING too, and it wins over MYNETS */
	b = policy_bank_for(p, &lan, 10024);
	assert_string_equal(b->name, "ORIGINATING");
	b = policy_bank_for(p, &out, 10026);
	assert_string_equal(b->name, "port:10026");
	assert_true(cfg_double(b->cfg, "tag2_level") == 9);
	/* a bank that turns a check off has its own checks generation */
	assert_ptr_not_equal(b->checks, ck);
	unload(p, cfg, ck);
	/* no policy files: no policy */
	p = load(&cfg, &ck, NULL, NULL, err, sizeof(err), &rc);
	assert_int_equal(rc, 0);
	assert_null(p);
	assert_null(policy_bank_for(p, &out, 1));
	unload(p, cfg, ck);
}

static void
test_errors(void **st)
{
	static const struct {
		const char *map, *banks, *want;
	} cases[] = {
		{ "a@b.test tag2_level=x\n", NULL, ":1: tag2_level" },
		{ "# c\n\na@b.test use_dnsbl=no\n", NULL,
		    ":3: 'use_dnsbl' cannot be set per recipient" },
		{ "a@b.test\n", NULL, ":1: expected ADDR key=value" },
		{ "a@b.test bypass=maybe\n", NULL, ":1: bypass: yes or no" },
		{ NULL, "OTHER tag2_level = 1\n", ":1: unknown bank 'OTHER'" },
		{ NULL, "port:0 tag2_level = 1\n", ":1: bad port" },
		{ NULL, "MYNETS nokey = 1\n", ":1: unknown key 'nokey'" },
		{ NULL, "MYNETS tag2_level\n", ":1: expected NAME key" },
	};

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cfg *cfg;
		struct checks *ck;
		char err[512] = "";
		int rc;
		struct policy *p = load(&cfg, &ck, cases[i].map,
		    cases[i].banks, err, sizeof(err), &rc);

		assert_int_equal(rc, -22);
		assert_null(p);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, err,
			    cases[i].want);
		unload(p, cfg, ck);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_order),
		cmocka_unit_test(test_banks),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
