/* rules_parse_test - rule-file parser, regex translation, meta expressions */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules/rules.h"

static char dir[64];

static void
put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/rules_test.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static struct rule_set *
load1(const char *name)
{
	char path[256];
	const char *p = path;
	struct rule_err e;
	struct rule_set *rs;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rs = rule_set_load(&p, 1, &e);
	assert_non_null(rs);
	return rs;
}

/* has_diag - a diagnostic at line containing text */
static bool
has_diag(const struct rule_set *rs, unsigned line, const char *text)
{
	for (size_t i = 0; i < rule_set_diag_count(rs); i++) {
		const struct rule_diag *d = rule_set_diag_at(rs, i);

		if ((line == 0 || d->line == line) && strstr(d->msg, text))
			return true;
	}
	return false;
}

static void
test_basic_rules(void **state)
{
	struct rule_set *rs;
	double s;

	(void)state;
	put("a.cf",
	    "# comment\n"
	    "header   FOO_SUBJ  Subject =~ /\\bfoo\\b/i\n"
	    "describe FOO_SUBJ  Subject says foo\n"
	    "score    FOO_SUBJ  2.5\n"
	    "body     BAR       m{bar\\#baz} # trailing comment\n"
	    "score    BAR       0 1.0 2.0 3.0\n"
	    "rawbody  RB        /x/\n"
	    "uri      UR        /example\\.com/\n"
	    "full     FU        /^From:/m\n"
	    "meta     META1     FOO_SUBJ && !BAR\n"
	    "header   EX        exists:X-Foo\n"
	    "header   NEG       From !~ /\\@/ [if-unset: unset@x]\n"
	    "header   ADR       From:addr =~ /\\@example\\.com$/\n"
	    "body     EV        eval:check_header_count_range('To', '2', '5')\n"
	    "tflags   BAR       multiple maxhits=3\n");
	rs = load1("a.cf");
	assert_int_equal(rule_set_errors(rs), 0);
	assert_int_equal(rule_set_rule_count(rs), 10);
	assert_true(rule_set_score(rs, "FOO_SUBJ", &s));
	assert_true(s == 2.5);
	assert_string_equal(
	    rule_set_describe(rs, "FOO_SUBJ"), "Subject says foo");
	assert_true(rule_set_score(rs, "BAR", &s));
	assert_true(s == 0);
	rule_set_scoreset(rs, 3);
	assert_true(rule_set_score(rs, "BAR", &s));
	assert_true(s == 3.0);
	assert_false(rule_set_score(rs, "RB", &s));
	assert_true(rule_set_runnable(rs, "META1"));
	assert_true(rule_set_runnable(rs, "EV"));
	assert_true(rule_set_runnable(rs, "EX"));
	assert_null(rule_set_free(rs));
}

static void
test_errors_have_lines(void **state)
{
	struct rule_set *rs;

	(void)state;
	put("bad.cf",
	    "body OK /fine/\n"
	    "body BROKEN /unclosed(/\n"
	    "header NOOP Subject ~ /x/\n"
	    "score OK one\n"
	    "meta M1 OK && (\n"
	    "meta M2 OK || NOT_DEFINED\n"
	    "frobnicate yes\n"
	    "report hello\n"
	    "body EV2 eval:no_such_eval()\n"
	    "body DUP /a/\n"
	    "body DUP /b/\n"
	    "score GHOST 1\n"
	    "body PERL /\\Ufoo/\n"
	    "body CB /(?{ 1 })/\n"
	    "body 9-bad /x/\n"
	    "meta LOOP1 LOOP2\n"
	    "meta LOOP2 LOOP1\n");
	rs = load1("bad.cf");
	assert_true(has_diag(rs, 2, "BROKEN: regex does not compile"));
	assert_true(has_diag(rs, 3, "expected 'Header =~ /regex/'"));
	assert_true(has_diag(rs, 4, "bad score line"));
	assert_true(has_diag(rs, 5, "M1: bad meta expression"));
	assert_true(has_diag(rs, 6, "meta uses unknown rule NOT_DEFINED"));
	assert_true(has_diag(rs, 7, "unknown directive 'frobnicate'"));
	assert_true(has_diag(rs, 8, "report: SpamAssassin setting ignored"));
	assert_true(has_diag(rs, 9, "eval:no_such_eval not implemented"));
	assert_true(has_diag(rs, 11, "DUP: duplicate rule"));
	assert_true(has_diag(rs, 12, "score for undefined rule GHOST"));
	assert_true(has_diag(rs, 13, "case-modification"));
	assert_true(has_diag(rs, 14, "code block"));
	assert_true(has_diag(rs, 15, "bad rule name"));
	assert_true(has_diag(rs, 0, "meta dependency loop"));
	assert_false(rule_set_runnable(rs, "BROKEN"));
	assert_false(rule_set_runnable(rs, "EV2"));
	assert_false(rule_set_runnable(rs, "M2")); /* depends on unknown */
	assert_true(rule_set_runnable(rs, "OK"));
	/* the file name is part of every diagnostic */
	assert_non_null(strstr(rule_set_diag_at(rs, 0)->file, "bad.cf"));
	assert_true(rule_set_errors(rs) >= 6);
	rule_set_free(rs);
}

static void
test_conditionals_include(void **state)
{
	struct rule_set *rs;
	double s;

	(void)state;
	put("inc.cf", "body FROM_INC /inc/\n");
	put("c.cf",
	    "ifplugin Mail::SpamAssassin::Plugin::HeaderEval\n"
	    "body YES1 /a/\n"
	    "endif\n"
	    "ifplugin Mail::SpamAssassin::Plugin::NoSuchPlugin\n"
	    "body NO1 /a/\n"
	    "  if (version >= 3.004000)\n"
	    "  body NO2 /a/\n"
	    "  endif\n"
	    "endif\n"
	    "if (version >= 3.004000)\n"
	    "body YES2 /a/\n"
	    "else\n"
	    "body NO3 /a/\n"
	    "endif\n"
	    "if !plugin(Mail::SpamAssassin::Plugin::ReplaceTags)\n"
	    "body NO4 /a/\n"
	    "endif\n"
	    "if can(Mail::SpamAssassin::Conf::feature_bug6558_free)\n"
	    "body YES3 /a/\n"
	    "endif\n"
	    "if version > 9.0\n"
	    "body NO5 /a/\n"
	    "else\n"
	    "body YES4 /a/\n"
	    "endif\n"
	    "include inc.cf\n"
	    "require_version 4.000001\n");
	rs = load1("c.cf");
	assert_int_equal(rule_set_errors(rs), 0);
	assert_true(rule_set_runnable(rs, "YES1"));
	assert_true(rule_set_runnable(rs, "YES2"));
	assert_true(rule_set_runnable(rs, "YES3"));
	assert_true(rule_set_runnable(rs, "YES4"));
	assert_true(rule_set_runnable(rs, "FROM_INC"));
	for (int i = 1; i <= 5; i++) {
		char n[16];

		snprintf(n, sizeof(n), "NO%d", i);
		assert_false(rule_set_runnable(rs, n));
	}
	assert_false(rule_set_score(rs, "YES1", &s));
	rule_set_free(rs);
}

static void
test_dir_order_local_wins(void **state)
{
	char sub[128];
	const char *paths[2];
	struct rule_err e;
	struct rule_set *rs;
	double s;

	(void)state;
	snprintf(sub, sizeof(sub), "%s/d", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	put("d/20_a.cf", "body R1 /x/\nscore R1 1.0\n");
	put("d/50_scores.cf", "score R1 2.0\n");
	put("d/notacf.txt", "score R1 9.0\n");
	put("local.cf", "score R1 -1.5\n");
	paths[0] = sub;
	rs = rule_set_load(paths, 1, &e);
	assert_non_null(rs);
	assert_true(rule_set_score(rs, "R1", &s));
	assert_true(s == 2.0);
	rule_set_free(rs);
	{
		char local[128];

		snprintf(local, sizeof(local), "%s/local.cf", dir);
		paths[1] = local;
		rs = rule_set_load(paths, 2, &e);
	}
	assert_non_null(rs);
	assert_true(rule_set_score(rs, "R1", &s));
	assert_true(s == -1.5);
	rule_set_free(rs);
	/* a missing file fails the load with its name */
	paths[0] = "/nonexistent/rules.cf";
	assert_null(rule_set_load(paths, 1, &e));
	assert_string_equal(e.file, "/nonexistent/rules.cf");
}

/* replace_tag, as SA's ReplaceTags plugin expands it */
static void
test_replace_tags(void **state)
{
	struct rule_set *rs;

	(void)state;
	put("r.cf",
	    "replace_tag   V  (?:v|\\\\/)\n"
	    "replace_tag   I  [i1!]\n"
	    "replace_tag   A  [a4@]\n"
	    "replace_tag   VIA <V><I>\n"
	    "replace_inter W1 \\W?\n"
	    "replace_post  P2 {1,2}\n"
	    "body  VIAGRA /<inter W1><post P2><V><I><A>gra/i\n"
	    "body  NESTED /<VIA>x/\n"
	    "replace_rules VIAGRA NESTED\n");
	rs = load1("r.cf");
	assert_int_equal(rule_set_errors(rs), 0);
	assert_true(rule_set_runnable(rs, "VIAGRA"));
	assert_true(rule_set_runnable(rs, "NESTED"));
	rule_set_free(rs);
}

static void
test_regex_translate(void **state)
{
	static const struct {
		const char *in, *out;
		unsigned opts;
		int rc;
	} cases[] = {
		{ "/abc/", "abc", 0, 0 },
		{ "/a\\/b/i", "a\\/b", PCRE2_CASELESS, 0 },
		{ "m{a{2}b}s", "a{2}b", PCRE2_DOTALL, 0 },
		{ "m!x!mx", "x", PCRE2_MULTILINE | PCRE2_EXTENDED, 0 },
		{ "m#a#", "a", 0, 0 },
		{ "/(?i)x(?=y)(?<!z)\\bq/", "(?i)x(?=y)(?<!z)\\bq", 0, 0 },
		{ "/abc", NULL, 0, -EINVAL },
		{ "abc/", NULL, 0, -EINVAL },
		{ "/a/q", NULL, 0, -EINVAL },
		{ "/\\Lfoo/", NULL, 0, -EINVAL },
		{ "/(??{ x })/", NULL, 0, -EINVAL },
		{ "/a/o", "a", 0, 0 },
	};
	char out[64];
	unsigned opts;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = rule_regex_translate(
		    cases[i].in, out, sizeof(out), &opts, &why);

		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_string_equal(out, cases[i].out);
			assert_int_equal(opts, cases[i].opts);
		} else {
			assert_non_null(why);
		}
	}
}

static double
vals(void *arg, const char *name, size_t len)
{
	(void)arg;
	if (len == 1 && name[0] == 'A')
		return 1;
	if (len == 1 && name[0] == 'B')
		return 0;
	if (len == 1 && name[0] == 'C')
		return 3;
	if (len == 4 && memcmp(name, "__X1", 4) == 0)
		return 1;
	return 0;
}

static void
test_meta(void **state)
{
	static const struct {
		const char *expr;
		double want;
		int rc;
	} cases[] = {
		{ "A && B", 0, 0 },
		{ "A || B", 1, 0 },
		{ "A && !B", 1, 0 },
		{ "!A", 0, 0 },
		{ "(A + B + C) > 3", 1, 0 },
		{ "A + B + C >= 5", 0, 0 },
		{ "C * 2 - 1", 5, 0 },
		{ "C / 2", 1.5, 0 },
		{ "C / B", 0, 0 }, /* no division by zero */
		{ "C == 3 && A != B", 1, 0 },
		{ "1 + 2 * 3", 7, 0 },
		{ "(1 + 2) * 3", 9, 0 },
		{ "-1 + A", 0, 0 },
		{ "A || B && B", 1, 0 }, /* && binds tighter */
		{ "B && A || A", 1, 0 },
		{ "C < 2 || C <= 3", 1, 0 },
		{ "__X1 && UNKNOWN_RULE", 0, 0 },
		{ "C && 2", 2, 0 }, /* Perl returns the operand */
		{ "((((A))))", 1, 0 },
		{ "A &&", 0, -EINVAL },
		{ "(A", 0, -EINVAL },
		{ "A)", 0, -EINVAL },
		{ "", 0, -EINVAL },
		{ "A B", 0, -EINVAL },
		{ "A & B", 0, -EINVAL },
		{ "3 >", 0, -EINVAL },
	};
	double v;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = rule_meta_eval_str(cases[i].expr, vals, NULL, &v);

		if (rc != cases[i].rc)
			fail_msg("%s: rc %d", cases[i].expr, rc);
		if (rc == 0 && v != cases[i].want)
			fail_msg("%s: got %g want %g", cases[i].expr, v,
			    cases[i].want);
	}
}

static void
count_cb(void *arg, const char *rule, const char *const *args, size_t n)
{
	int *k = arg;

	if (strcmp(rule, "RBL1") == 0) {
		assert_int_equal(n, 2);
		assert_string_equal(args[0], "zen");
		assert_string_equal(args[1], "zen.example.org.");
	}
	(*k)++;
}

static void
test_evals_named(void **state)
{
	struct rule_set *rs;
	int k = 0;

	(void)state;
	put("e.cf",
	    "header RBL1 eval:check_rbl('zen', \"zen.example.org.\")\n"
	    "header RBL2 eval:check_rbl_sub('zen', '127.0.0.2')\n"
	    "header RBL3 eval:check_rbl('x', 'y.example.')\n"
	    "meta   BOTH RBL1 && RBL3\n"
	    "header SPF_SOFTFAIL eval:check_for_spf_softfail()\n"
	    "header DKIM_VALID_EF eval:check_dkim_valid_envelopefrom()\n"
	    "header USER_IN_DEF_WELCOMELIST eval:check_from_in_default_"
	    "welcomelist()\n");
	rs = load1("e.cf");
	assert_false(rule_set_runnable(rs, "BOTH"));
	assert_int_equal(
	    rule_set_evals_named(rs, "check_rbl", count_cb, &k), 2);
	assert_int_equal(k, 2);
	assert_true(rule_set_runnable(rs, "RBL1"));
	assert_true(rule_set_runnable(rs, "BOTH"));
	assert_false(rule_set_runnable(rs, "RBL2"));
	/* external evals are not reported as unknown */
	assert_false(has_diag(rs, 0, "check_rbl not implemented"));
	/* nor SA's names of the auth and welcomelist modules' hits; one
	 * those modules do not make still is */
	assert_false(has_diag(rs, 0, "check_for_spf_softfail not implemented"));
	assert_false(has_diag(rs, 0, "check_dkim_valid_envelopefrom not"));
	assert_true(has_diag(
	    rs, 0, "check_from_in_default_welcomelist not implemented"));
	rule_set_free(rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_rules),
		cmocka_unit_test(test_errors_have_lines),
		cmocka_unit_test(test_conditionals_include),
		cmocka_unit_test(test_dir_order_local_wins),
		cmocka_unit_test(test_replace_tags),
		cmocka_unit_test(test_regex_translate),
		cmocka_unit_test(test_meta),
		cmocka_unit_test(test_evals_named),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
