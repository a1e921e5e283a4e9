/* tune_test - rules/tune.c: the score fit behind filterctl tune */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mail/msg.h"
#include "rules/rules.h"
#include "rules/tune.h"
#include "util/splitmix.h"

/* A synthetic corpus: every rule fires with probability pfire; a message
 * is spam iff the sum of the true weights plus logistic noise (scale 1,
 * the model's own) reaches 5: the maximum-likelihood fit then converges
 * to the true weights. */
struct synth {
	struct tune_data d;
	struct tune_rule *rules;
	uint32_t *off, *idx;
	bool *spam;
};


static double
unif(uint64_t *s)
{
	return ((double)(splitmix64(s) >> 11) + 0.5) / 9007199254740992.0;
}

static void
synth_make(struct synth *y, size_t nmsgs, size_t nrules, const double *truew,
    double pfire, double noise, uint64_t seed)
{
	uint64_t st = seed;
	size_t k = 0;

	y->rules = calloc(nrules, sizeof(*y->rules));
	y->off = calloc(nmsgs + 1, sizeof(*y->off));
	y->idx = calloc(nmsgs * nrules, sizeof(*y->idx));
	y->spam = calloc(nmsgs, sizeof(*y->spam));
	assert_non_null(y->rules);
	assert_non_null(y->off);
	assert_non_null(y->idx);
	assert_non_null(y->spam);
	for (size_t j = 0; j < nrules; j++) {
		y->rules[j].name = "R";
		y->rules[j].score = 0;
		y->rules[j].lo = -10;
		y->rules[j].hi = 10;
	}
	for (size_t i = 0; i < nmsgs; i++) {
		double s = 0, u;

		y->off[i] = (uint32_t)k;
		for (size_t j = 0; j < nrules; j++)
			if (unif(&st) < pfire) {
				y->idx[k++] = (uint32_t)j;
				s += truew[j];
			}
		u = unif(&st);
		s += noise * log(u / (1 - u)); /* logistic noise */
		y->spam[i] = s >= 5.0;
	}
	y->off[nmsgs] = (uint32_t)k;
	y->d = (struct tune_data){ .nrules = nrules,
		.nmsgs = nmsgs,
		.rules = y->rules,
		.off = y->off,
		.idx = y->idx,
		.spam = y->spam };
}

static void
synth_free(struct synth *y)
{
	free(y->rules);
	free(y->off);
	free(y->idx);
	free(y->spam);
}

static const double truew[] = { 3.0, 2.0, -2.0, 1.5, 0.5, 4.0, -1.0 };
#define NR (sizeof(truew) / sizeof(truew[0]))

/* the right weights come back from 20000 noisy messages */
static void
test_recover(void **state)
{
	(void)state;
	struct synth y;
	struct tune_opts o;
	double w[NR] = { 0 };
	int it;

	synth_make(&y, 20000, NR, truew, 0.4, 1.0, 42);
	tune_opts_default(&o);
	o.lambda = 1e-7;
	it = tune_fit(&y.d, NULL, &o, w);
	assert_true(it > 0);
	for (size_t j = 0; j < NR; j++)
		if (fabs(w[j] - truew[j]) > 0.25)
			fail_msg("rule %zu: fitted %.3f, true %.3f", j, w[j],
			    truew[j]);
	/* and the fit beats the all-zero start by far */
	struct tune_count c0, c1;
	double zero[NR] = { 0 };

	tune_count(&y.d, NULL, 0, zero, 5.0, &c0);
	tune_count(&y.d, NULL, 0, w, 5.0, &c1);
	assert_true(c1.fp + c1.fn < (c0.fp + c0.fn) / 2);
	synth_free(&y);
}

/* nice rules stay <= 0, fixed rules do not move, ranges hold, and a strong
 * L2 keeps a rule at its prior */
static void
test_constraints(void **state)
{
	(void)state;
	struct synth y;
	struct tune_opts o;
	double w[NR];

	synth_make(&y, 5000, NR, truew, 0.4, 0.5, 7);
	y.rules[0].hi = 0; /* nice, although it is a strong spam sign */
	y.rules[1].lo = y.rules[1].hi = y.rules[1].score = 0.7; /* fixed */
	y.rules[5].lo = -1;
	y.rules[5].hi = 1.5; /* range */
	y.rules[6].score = 2.5;
	for (size_t j = 0; j < NR; j++)
		w[j] = y.rules[j].score;
	tune_opts_default(&o);
	o.lambda = 1e-6;
	assert_true(tune_fit(&y.d, NULL, &o, w) >= 0);
	assert_true(w[0] <= 0.0);
	assert_true(w[1] == 0.7);
	assert_true(w[5] <= 1.5 && w[5] >= -1);
	assert_true(fabs(w[5] - 1.5) < 1e-9); /* wants 4: pinned at the top */
	/* the other weights compensate: the spam rules go up */
	assert_true(w[3] > 1.0);
	/* strong L2 towards the prior: rule 6 (true -1) stays near 2.5 */
	for (size_t j = 0; j < NR; j++)
		w[j] = y.rules[j].score;
	o.lambda = 100;
	assert_true(tune_fit(&y.d, NULL, &o, w) >= 0);
	assert_true(fabs(w[6] - 2.5) < 0.05);
	/* a start outside the box is projected in */
	w[0] = 3;
	assert_true(tune_fit(&y.d, NULL, &o, w) >= 0);
	assert_true(w[0] <= 0.0);
	/* rounding keeps the box */
	w[5] = 1.49999999;
	tune_round(&y.d, w);
	assert_true(w[5] <= 1.5);
	assert_true(w[1] == 0.7);
	synth_free(&y);
}

/* the same data and seed give bit-identical folds and scores; folds are
 * stratified */
static void
test_deterministic(void **state)
{
	(void)state;
	struct synth y;
	struct tune_opts o;
	double a[NR] = { 0 }, b[NR] = { 0 };
	uint8_t *f1, *f2;
	size_t per[5][2] = { { 0 } }, nspam = 0;

	synth_make(&y, 3000, NR, truew, 0.4, 1.0, 3);
	f1 = calloc(3000, 1);
	f2 = calloc(3000, 1);
	assert_int_equal(tune_folds(&y.d, 5, 99, f1), 0);
	assert_int_equal(tune_folds(&y.d, 5, 99, f2), 0);
	assert_memory_equal(f1, f2, 3000);
	assert_int_equal(tune_folds(&y.d, 5, 100, f2), 0);
	assert_memory_not_equal(f1, f2, 3000);
	for (size_t i = 0; i < 3000; i++) {
		per[f1[i]][y.spam[i]]++;
		nspam += y.spam[i];
	}
	for (int k = 0; k < 5; k++) {
		assert_true(
		    per[k][1] >= nspam / 5 && per[k][1] <= nspam / 5 + 1);
		assert_true(per[k][0] >= (3000 - nspam) / 5 &&
		    per[k][0] <= (3000 - nspam) / 5 + 1);
	}
	/* fit on folds 1..4 twice */
	for (size_t i = 0; i < 3000; i++)
		f2[i] = f1[i] != 0;
	tune_opts_default(&o);
	assert_true(tune_fit(&y.d, f2, &o, a) >= 0);
	assert_true(tune_fit(&y.d, f2, &o, b) >= 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(tune_folds(&y.d, 1, 99, f1), -EINVAL);
	free(f1);
	free(f2);
	synth_free(&y);
}

/* the FP target moves the operating point: fewer false positives, more
 * false negatives */
static void
test_fp_target(void **state)
{
	(void)state;
	struct synth y;
	struct tune_opts o;
	struct tune_count c0, c1;
	double w0[NR] = { 0 }, w1[NR] = { 0 }, hw0, hw1;

	synth_make(&y, 4000, NR, truew, 0.4, 1.0, 11);
	tune_opts_default(&o);
	assert_int_equal(tune_fit_target(&y.d, NULL, &o, 1.0, w0, &hw0), 0);
	assert_true(hw0 == 1.0); /* any FP rate <= 100%: first weight */
	assert_int_equal(tune_fit_target(&y.d, NULL, &o, 0.002, w1, &hw1), 0);
	assert_true(hw1 > 1.0);
	tune_round(&y.d, w1);
	tune_count(&y.d, NULL, 0, w0, 5.0, &c0);
	tune_count(&y.d, NULL, 0, w1, 5.0, &c1);
	assert_true(c1.fp <= (size_t)(0.002 * (double)c1.ham));
	assert_true(c1.fp < c0.fp);
	assert_true(c1.fn > c0.fn);
	synth_free(&y);
}

static void
test_bad_input(void **state)
{
	(void)state;
	struct tune_rule r = { "R", 0, 1, -1 }; /* lo > hi */
	uint32_t off[2] = { 0, 1 }, idx[1] = { 0 };
	bool spam[1] = { true };
	struct tune_data d = { 1, 1, &r, off, idx, spam, NULL };
	struct tune_opts o;
	double w[1] = { 0 };

	tune_opts_default(&o);
	assert_int_equal(tune_fit(&d, NULL, &o, w), -EINVAL);
	r.lo = -1;
	r.hi = 1;
	idx[0] = 5; /* column out of range */
	assert_int_equal(tune_fit(&d, NULL, &o, w), -EINVAL);
	idx[0] = 0;
	o.temp = 0;
	assert_int_equal(tune_fit(&d, NULL, &o, w), -EINVAL);
	o.temp = 1;
	assert_true(tune_fit(&d, NULL, &o, w) >= 0);
	assert_true(w[0] > 0); /* the one spam pushes its rule up */
}

/* rule attributes from a loaded rule set */
static void
test_rule_info(void **state)
{
	(void)state;
	static const char cf[] = "header A_NICE From =~ /x/\n"
				 "tflags A_NICE nice\n"
				 "body B_USER /buy/\n"
				 "tflags B_USER userconf\n"
				 "meta C_META A_NICE && B_USER\n"
				 "score A_NICE -1\n";
	struct rule_err err;
	struct rule_set *rs =
	    rule_set_load_mem(cf, sizeof(cf) - 1, "t.cf", &err);
	const char *what, *target;
	bool def;

	assert_non_null(rs);
	assert_int_equal(
	    tune_rule_info(rs, "A_NICE", &def, &what, &target), TUNE_TF_NICE);
	assert_true(def);
	assert_string_equal(what, "header");
	assert_string_equal(target, "From");
	assert_int_equal(
	    tune_rule_info(rs, "B_USER", &def, &what, NULL), TUNE_TF_USERCONF);
	assert_string_equal(what, "body");
	assert_int_equal(
	    tune_rule_info(rs, "C_META", &def, &what, NULL), TUNE_TF_META);
	assert_int_equal(tune_rule_info(rs, "BAYES_99", &def, NULL, NULL), 0);
	assert_false(def);
	rule_set_free(rs);
}

/* explain's matched text: header (decoded), body, uri, truncation;
 * nothing for negated rules, evals and metas */
static void
test_rule_match(void **state)
{
	(void)state;
	static const char cf[] = "header S_SUBJ Subject =~ /caf\\S+ deal/\n"
				 "body   S_BODY /\\bcheap\\w*/i\n"
				 "uri    S_URI  /evil\\.example/\n"
				 "body   S_LONG /x{100}/\n"
				 "header S_NEG  Subject !~ /nothing/\n"
				 "meta   S_META S_BODY && S_URI\n";
	static const char raw[] =
	    "From: a@example.com\r\n"
	    "Subject: =?UTF-8?Q?caf=C3=A9_deal?=\r\n"
	    "\r\n"
	    "The CHEAPEST pills at http://www.evil.example/buy now.\r\n"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "\r\n";
	struct rule_err err;
	struct rule_set *rs =
	    rule_set_load_mem(cf, sizeof(cf) - 1, "m.cf", &err);
	struct msg *m = NULL;
	const char *where;
	char out[32];

	assert_non_null(rs);
	assert_int_equal(rule_set_errors(rs), 0);
	assert_int_equal(
	    msg_parse((const unsigned char *)raw, sizeof(raw) - 1, NULL, &m),
	    0);
	assert_int_equal(
	    tune_rule_match(rs, "S_SUBJ", m, out, sizeof(out), &where), 1);
	assert_string_equal(where, "Subject");
	assert_string_equal(out, "caf\xc3\xa9 deal");
	assert_int_equal(
	    tune_rule_match(rs, "S_BODY", m, out, sizeof(out), &where), 1);
	assert_string_equal(where, "body");
	assert_string_equal(out, "CHEAPEST");
	assert_int_equal(
	    tune_rule_match(rs, "S_URI", m, out, sizeof(out), &where), 1);
	assert_string_equal(where, "uri");
	assert_string_equal(out, "evil.example");
	/* a long match is cut to the buffer and marked */
	assert_int_equal(
	    tune_rule_match(rs, "S_LONG", m, out, sizeof(out), &where), 1);
	assert_int_equal(strlen(out), sizeof(out) - 1);
	assert_string_equal(out + strlen(out) - 3, "...");
	assert_int_equal(
	    tune_rule_match(rs, "S_NEG", m, out, sizeof(out), &where), 0);
	assert_int_equal(
	    tune_rule_match(rs, "S_META", m, out, sizeof(out), &where), 0);
	assert_int_equal(
	    tune_rule_match(rs, "NO_SUCH", m, out, sizeof(out), &where), 0);
	assert_int_equal(
	    tune_rule_match(rs, "S_BODY", m, out, 4, &where), -EINVAL);
	msg_free(m);
	rule_set_free(rs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recover),
		cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_fp_target),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_rule_info),
		cmocka_unit_test(test_rule_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
