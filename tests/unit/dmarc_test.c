/* dmarc_test - DMARC record parser, policy discovery, alignment, p/sp/pct;
 * with "--conformance DIR" it runs DIR/cases.json and DIR/records.tsv
 * (zone DIR/dmarc.zone) and prints TAP lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugins/authres.h"
#include "plugins/dmarc.h"
#include "util/arena.h"
#include "tests/unit/auth_json.h"
#include "tests/unit/auth_zone.h"
#include "tests/unit/auth_realdns.h"

static struct dmarc_psl *psl;

/* A small fixed list, so results do not depend on the system's copy. */
static int
setup(void **state)
{
	(void)state;
	char path[] = "/tmp/dmarc_test_pslXXXXXX";
	int fd = mkstemp(path);
	static const char list[] = "// test list\ncom\nnet\norg\nedu\nuk\n"
				   "co.uk\nexample\n*.wild.example\n";

	if (fd < 0 || write(fd, list, sizeof(list) - 1) < 0)
		return -1;
	close(fd);
	psl = dmarc_psl_load(path);
	unlink(path);
	return psl ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	psl = dmarc_psl_free(psl);
	return 0;
}

struct run {
	struct arena *a;
	struct authres_dns *dns;
	const struct dmarc_in *in;
	struct dmarc_out out;
};

static int
step(void *arg)
{
	struct run *r = arg;

	return dmarc_check(psl, r->a, r->in, r->dns, &r->out);
}

/* With realdns set, records come from knotd through plugins/dns. */
static struct realdns *realdns;

static int
check(struct zone *z, struct arena *a, const struct dmarc_in *in,
    struct dmarc_out *out)
{
	struct run r = { .a = a, .in = in };
	int rc;

	r.dns = authres_dns_new(a);
	rc = authres_dns_drive(r.dns, step, &r,
	    realdns ? real_resolve : zone_resolve,
	    realdns ? (void *)realdns : z, 8);
	*out = r.out;
	return rc;
}

static void
test_org_domain(void **state)
{
	(void)state;
	char o[256];

	assert_string_equal(
	    dmarc_org_domain(psl, "a.b.Example.COM", o, sizeof(o)),
	    "example.com");
	assert_string_equal(
	    dmarc_org_domain(psl, "mail.example.co.uk", o, sizeof(o)),
	    "example.co.uk");
	assert_string_equal(
	    dmarc_org_domain(psl, "co.uk", o, sizeof(o)), "co.uk");
	assert_string_equal(
	    dmarc_org_domain(psl, "x.y.wild.example", o, sizeof(o)),
	    "x.y.wild.example");
}

struct reccase {
	const char *rec;
	enum dmarc_verdict v;
	enum dmarc_policy p, sp;
	char adkim, aspf;
	unsigned pct;
};

static void
test_records(void **state)
{
	(void)state;
	static const struct reccase cases[] = {
		{ "v=DMARC1; p=none", DMARC_REC_POLICY, DMARC_P_NONE,
		    DMARC_P_NONE, 'r', 'r', 100 },
		{ "v=DMARC1;p=reject;sp=quarantine;adkim=s;aspf=s;pct=5",
		    DMARC_REC_POLICY, DMARC_P_REJECT, DMARC_P_QUARANTINE, 's',
		    's', 5 },
		{ "v=DMARC1 ; p = Reject ; pct=101", DMARC_REC_POLICY,
		    DMARC_P_REJECT, DMARC_P_REJECT, 'r', 'r', 100 },
		{ "v=DMARC1; p=bogus; rua=mailto:a@b.example",
		    DMARC_REC_NONE_VIA_RUA, DMARC_P_NONE, DMARC_P_NONE, 'r',
		    'r', 100 },
		{ "v=DMARC1; p=bogus", DMARC_REC_NO_POLICY, 0, 0, 'r', 'r',
		    100 },
		{ "v=DMARC1; rua=bogus", DMARC_REC_NO_POLICY, 0, 0, 'r', 'r',
		    100 },
		{ "p=reject; v=DMARC1", DMARC_REC_NOT_DMARC, 0, 0, 'r', 'r',
		    100 },
		{ "v=DMARC2; p=reject", DMARC_REC_NOT_DMARC, 0, 0, 'r', 'r',
		    100 },
		{ "v=dmarc1; p=reject", DMARC_REC_NOT_DMARC, 0, 0, 'r', 'r',
		    100 },
		{ "", DMARC_REC_NOT_DMARC, 0, 0, 'r', 'r', 100 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dmarc_record r;
		enum dmarc_verdict v =
		    dmarc_record_parse(bstr_cstr(cases[i].rec), &r);
		if (v != cases[i].v)
			fail_msg("%s: verdict %d", cases[i].rec, v);
		if (v > DMARC_REC_NONE_VIA_RUA)
			continue;
		assert_int_equal(r.p, cases[i].p);
		assert_int_equal(r.sp, cases[i].sp);
		assert_int_equal(r.adkim, cases[i].adkim);
		assert_int_equal(r.aspf, cases[i].aspf);
		assert_int_equal(r.pct, cases[i].pct);
	}
}

/* Every alignment mode against exact, subdomain and foreign identities,
 * with p/sp and pct. */
struct evcase {
	const char *from, *spf_dom;
	bool spf_pass;
	const char *dkim_dom;
	bool dkim_pass;
	unsigned roll;
	enum dmarc_result res;
	enum dmarc_policy policy, disp;
	bool spf_al, dkim_al;
};

static void
test_eval(void **state)
{
	(void)state;
	static const struct evcase cases[] = {
		/* relaxed.example: p=reject, sp=quarantine, relaxed */
		{ "relaxed.example.com", "relaxed.example.com", true, NULL,
		    false, 0, DMARC_RES_PASS, DMARC_P_REJECT, DMARC_P_NONE,
		    true, false },
		{ "relaxed.example.com", "b.relaxed.example.com", true, NULL,
		    false, 0, DMARC_RES_PASS, DMARC_P_REJECT, DMARC_P_NONE,
		    true, false },
		{ "relaxed.example.com", "other.example.net", true,
		    "x.relaxed.example.com", true, 0, DMARC_RES_PASS,
		    DMARC_P_REJECT, DMARC_P_NONE, false, true },
		{ "relaxed.example.com", "relaxed.example.com", false,
		    "relaxed.example.com", false, 0, DMARC_RES_FAIL,
		    DMARC_P_REJECT, DMARC_P_REJECT, false, false },
		/* a subdomain without a record: org record, sp= */
		{ "sub.relaxed.example.com", "sub.relaxed.example.com", false,
		    NULL, false, 0, DMARC_RES_FAIL, DMARC_P_QUARANTINE,
		    DMARC_P_QUARANTINE, false, false },
		/* strict.example.com: adkim=s aspf=s p=quarantine pct=50 */
		{ "strict.example.com", "a.strict.example.com", true,
		    "a.strict.example.com", true, 10, DMARC_RES_FAIL,
		    DMARC_P_QUARANTINE, DMARC_P_QUARANTINE, false, false },
		{ "strict.example.com", "a.strict.example.com", true,
		    "a.strict.example.com", true, 50, DMARC_RES_FAIL,
		    DMARC_P_QUARANTINE, DMARC_P_NONE, false, false },
		{ "strict.example.com", "STRICT.example.com", true, NULL, false,
		    0, DMARC_RES_PASS, DMARC_P_QUARANTINE, DMARC_P_NONE, true,
		    false },
		{ "strict.example.com", NULL, false, "strict.example.com", true,
		    0, DMARC_RES_PASS, DMARC_P_QUARANTINE, DMARC_P_NONE, false,
		    true },
		/* mixed: adkim=s, aspf=r, p=reject pct=0 */
		{ "mixed.example.com", "bounce.mixed.example.com", true,
		    "d.mixed.example.com", true, 0, DMARC_RES_PASS,
		    DMARC_P_REJECT, DMARC_P_NONE, true, false },
		{ "mixed.example.com", "bounce.mixed.example.com", false,
		    "d.mixed.example.com", true, 0, DMARC_RES_FAIL,
		    DMARC_P_REJECT, DMARC_P_QUARANTINE, false, false },
		/* no record anywhere */
		{ "norecord.example.org", "norecord.example.org", true, NULL,
		    false, 0, DMARC_RES_NONE, DMARC_P_NONE, DMARC_P_NONE, false,
		    false },
	};
	struct zone z = { 0 };
	struct arena *a = arena_new(0);
#define TXT(n, s) zone_add_txt(&z, n, s, strlen(s))
	TXT("_dmarc.relaxed.example.com", "v=DMARC1; p=reject; sp=quarantine");
	TXT("_dmarc.strict.example.com",
	    "v=DMARC1; p=quarantine; adkim=s; "
	    "aspf=s; pct=50");
	TXT("_dmarc.mixed.example.com", "v=DMARC1; p=reject; adkim=s; pct=0");
	TXT("_dmarc.example.com", "v=DMARC1; p=quarantine; sp=quarantine");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct evcase *c = &cases[i];
		struct dmarc_ident dk = { c->dkim_dom, c->dkim_pass };
		struct dmarc_in in = { .from_domain = c->from,
			.spf = { c->spf_dom, c->spf_pass },
			.dkim = &dk,
			.ndkim = c->dkim_dom ? 1 : 0,
			.roll = c->roll };
		struct dmarc_out o;
		assert_int_equal(check(&z, a, &in, &o), 0);
		if (o.result != c->res ||
		    (o.have_policy &&
			(o.policy != c->policy || o.disposition != c->disp ||
			    o.spf_aligned != c->spf_al ||
			    o.dkim_aligned != c->dkim_al)))
			fail_msg("case %zu (%s): %s policy %s disp %s spf %d "
				 "dkim %d",
			    i, c->from, dmarc_result_str(o.result),
			    dmarc_policy_str(o.policy),
			    dmarc_policy_str(o.disposition), o.spf_aligned,
			    o.dkim_aligned);
	}
	/* 6.6.1: no From domain, several From domains. */
	struct dmarc_in in = { 0 };
	struct dmarc_out o;
	assert_int_equal(check(&z, a, &in, &o), 0);
	assert_int_equal(o.result, DMARC_RES_PERMERROR);
	in.from_domain = "relaxed.example.com";
	in.from_multiple = true;
	assert_int_equal(check(&z, a, &in, &o), 0);
	assert_int_equal(o.result, DMARC_RES_PERMERROR);
	assert_string_equal(o.problem, "multiple From domains");
	arena_free(a);
	zone_free(&z);
}

/* Conformance runner ---------------------------------------------------- */

static int tap_n, tap_fail;

static const char *
verdict_str(enum dmarc_verdict v)
{
	static const char *const s[] = { "policy", "p=none-via-rua",
		"no-policy", "not-dmarc" };
	return s[v];
}

static int
run_conformance(const char *dir, const char *serve)
{
	char path[1024], line[2048];
	struct zone z = { 0 };
	FILE *f;
	size_t len;
	int pass = 0;

	if (setup(NULL) < 0) {
		printf("not ok 1 - cannot load a PSL\n");
		return 1;
	}
	/* records.tsv */
	snprintf(path, sizeof(path), "%s/records.tsv", dir);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(line, sizeof(line), f)) {
			char *col[8] = { 0 }, *p = line;
			int n = 0;
			if (line[0] == '#')
				continue;
			line[strcspn(line, "\n")] = '\0';
			while (n < 8) {
				col[n++] = p;
				if ((p = strchr(p, '\t')) == NULL)
					break;
				*p++ = '\0';
			}
			if (n < 7)
				continue;
			struct dmarc_record r;
			enum dmarc_verdict v =
			    dmarc_record_parse(bstr_cstr(col[0]), &r);
			bool ok = strcmp(verdict_str(v), col[1]) == 0;
			if (ok && v <= DMARC_REC_NONE_VIA_RUA) {
				char pct[8];
				snprintf(pct, sizeof(pct), "%u", r.pct);
				ok = strcmp(dmarc_policy_str(r.p), col[2]) ==
					0 &&
				    strcmp(dmarc_policy_str(r.sp), col[3]) ==
					0 &&
				    col[4][0] == r.adkim &&
				    col[5][0] == r.aspf &&
				    strcmp(pct, col[6]) == 0;
			}
			printf("%sok %d - dmarc record \"%s\": %s\n",
			    ok ? "" : "not ", ++tap_n, col[0], verdict_str(v));
			tap_fail += !ok;
			pass += ok;
		}
		fclose(f);
	} else
		printf("not ok %d - no %s\n", ++tap_n, path), tap_fail++;

	snprintf(path, sizeof(path), "%s/dmarc.zone", dir);
	zone_load(&z, path);
	zone_servfail_below(&z, "temp.example.org");
	struct realdns d;
	if (serve) {
		printf("# records from knotd through plugins/dns\n");
		if (realdns_start(&d, serve, "-S temp.example.org", path) < 0) {
			printf("not ok %d - knotd serving %s\n", ++tap_n, path);
			tap_fail++;
			realdns_stop(&d);
		} else
			realdns = &d;
	}
	snprintf(path, sizeof(path), "%s/cases.json", dir);
	unsigned char *text = zone_slurp(path, &len);
	struct arena *ja = arena_new(0);
	struct json *root = text ? json_parse(ja, (char *)text, len) : NULL;
	struct json *cases = json_get(root, "cases");
	if (cases == NULL)
		printf("not ok %d - no %s\n", ++tap_n, path), tap_fail++;
	for (size_t i = 0; cases && i < cases->n; i++) {
		struct json *c = cases->v[i], *e = json_get(c, "expected");
		struct json *spf = json_get(c, "spf"),
			    *dk = json_get(c, "dkim");
		struct dmarc_ident ids[16];
		struct arena *a = arena_new(0);
		size_t nd = 0;
		for (size_t k = 0; dk && k < dk->n && nd < 16; k++, nd++) {
			ids[nd].domain = json_sget(dk->v[k], "domain");
			ids[nd].pass =
			    strcmp(json_sget(dk->v[k], "result"), "pass") == 0;
		}
		struct dmarc_in in = { .from_domain =
					   json_sget(c, "header_from_domain"),
			.spf = { json_sget(spf, "domain"),
			    strcmp(json_sget(spf, "result"), "pass") == 0 },
			.dkim = ids,
			.ndkim = nd,
			.roll = 99 };
		struct dmarc_out o;
		int rc = check(&z, a, &in, &o);
		const char *pd = json_sget(e, "policy_domain");
		const char *pol = json_sget(e, "policy");
		struct json *sa = json_get(e, "spf_aligned");
		struct json *da = json_get(e, "dkim_aligned");
		bool ok = rc == 0 &&
		    strcmp(dmarc_result_str(o.result),
			json_sget(e, "result")) == 0 &&
		    strcmp(dmarc_policy_str(
			       o.have_policy ? o.disposition : DMARC_P_NONE),
			json_sget(e, "disposition")) == 0;
		if (ok && pd)
			ok =
			    o.policy_domain && strcmp(pd, o.policy_domain) == 0;
		else if (ok)
			ok = o.policy_domain == NULL;
		if (ok && pol)
			ok = strcmp(pol, dmarc_policy_str(o.policy)) == 0;
		if (ok && sa && sa->type == JSON_BOOL)
			ok = sa->b == o.spf_aligned && da->b == o.dkim_aligned;
		printf("%sok %d - dmarc case %s: %s policy_domain=%s "
		       "disposition=%s\n",
		    ok ? "" : "not ", ++tap_n, json_sget(c, "id"),
		    dmarc_result_str(o.result),
		    o.policy_domain ? o.policy_domain : "-",
		    dmarc_policy_str(o.disposition));
		tap_fail += !ok;
		pass += ok;
		arena_free(a);
	}
	if (realdns)
		realdns_stop(realdns);
	realdns = NULL;
	printf("# dmarc: %d of %d pass\n1..%d\n", pass, tap_n, tap_n);
	free(text);
	arena_free(ja);
	zone_free(&z);
	teardown(NULL);
	return tap_fail ? 1 : 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--conformance") == 0)
		return run_conformance(argv[2], NULL);
	if (argc == 4 && strcmp(argv[1], "--conformance-dns") == 0)
		return run_conformance(argv[2], argv[3]);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_org_domain),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_eval),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
