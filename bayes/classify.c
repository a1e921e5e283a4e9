/*
 * bayes/classify - Robinson/Fisher chi-square combining
 *
 * The math of SpamAssassin's Mail::SpamAssassin::Bayes::CombineChi and
 * _compute_prob_for_all_tokens (itself Gary Robinson, "A statistical
 * approach to the spam problem", Linux Journal 2003; bogofilter uses the
 * same scheme with its own tuned x, s, min_dev):
 *
 *   p(w)  = the ratio of the token's spam
 *           and ham frequencies, pulled towards x with weight s for rare
 *           tokens (f(w) = (s*x + n*p) / (s + n));
 *   S, H  = Fisher's chi-square over the tokens with |p - 0.5| >= 0.25
 *           (bogofilter's min_dev: 0.375), at most the 150 strongest,
 *           starting from the class priors, the statistic and the degrees
 *           of freedom scaled by bogofilter's effective size factor;
 *   I     = (1 + S - H) / 2.
 *
 * No memory, no errors: pure functions. Underflow of the running products
 * is handled with frexp() exactly as SA does.
 */
#include "bayes/classify.h"

#include <math.h>
#include <stdlib.h>

/* bayes_token_prob - Robinson's f(w); -1 for an unseen token */
double
bayes_token_prob(uint32_t s, uint32_t h, uint64_t ns, uint64_t nh)
{
	double p, n;

	if (s + (uint64_t)h == 0 || ns == 0 || nh == 0)
		return -1;
	/* (s/ns) / (s/ns + h/nh), without dividing by zero counts */
	p = ((double)s * (double)nh) /
	    ((double)h * (double)ns + (double)s * (double)nh);
	n = (double)s + (double)h;
	return (BAYES_FW_S * BAYES_FW_X + n * p) / (BAYES_FW_S + n);
}

/* bayes_chi2q - P(chi^2 >= x2) with 2*halfv degrees of freedom */
double
bayes_chi2q(double x2, unsigned halfv)
{
	double m = x2 / 2.0, sum, term;

	sum = term = exp(-m);
	for (unsigned i = 1; i < halfv; i++) {
		term *= m / i;
		sum += term;
	}
	return sum < 1.0 ? sum : 1.0;
}

static int
by_strength(const void *a, const void *b)
{
	double x = fabs(*(const double *)a - 0.5);
	double y = fabs(*(const double *)b - 0.5);

	return x > y ? -1 : x < y;
}

/* bayes_combine - the chi-square combined spam probability, or -1 */
double
bayes_combine(double *probs, size_t n, uint64_t ns, uint64_t nh)
{
	double S, H;
	int Sexp = 0, Hexp = 0, e;
	size_t k = 0;
	unsigned df;

	if (ns + nh == 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (probs[i] >= 0 && fabs(probs[i] - 0.5) >= BAYES_MIN_STRENGTH)
			probs[k++] = probs[i];
	if (k == 0)
		return -1;
	if (k > BAYES_N_SIGNIFICANT) {
		qsort(probs, k, sizeof(probs[0]), by_strength);
		k = BAYES_N_SIGNIFICANT;
	}
	S = (double)ns / (double)(ns + nh);
	H = (double)nh / (double)(ns + nh);
	for (size_t i = 0; i < k; i++) {
		S *= 1.0 - probs[i];
		H *= probs[i];
		if (S < 1e-200) {
			S = frexp(S, &e);
			Sexp += e;
		}
		if (H < 1e-200) {
			H = frexp(H, &e);
			Hexp += e;
		}
	}
	S = log(S) + Sexp * M_LN2;
	H = log(H) + Hexp * M_LN2;
	df = (unsigned)lround((double)k * BAYES_ESF);
	if (df < 1)
		df = 1;
	S = 1.0 - bayes_chi2q(-2.0 * BAYES_ESF * S, df);
	H = 1.0 - bayes_chi2q(-2.0 * BAYES_ESF * H, df);
	return ((S - H) + 1.0) / 2.0;
}

/* Scores: SA's 50_scores.cf shape (monotonic; SA: 0.8 1.5 2.0 3.0 3.5
 * +0.2), refitted on the 2002 sets with out-of-sample Bayes hits. 00, 05
 * and 99 come from corpus/tune2002.sh (see rules/default/90_tuned_scores.cf);
 * 50 to 95 and 999 were refitted after the classifier took bogofilter's
 * parameters (ESF spreads spam over 0.4-0.99 where it used to sit at
 * 1.0): a grid search over those scores on the merged tune2002 hit table,
 * rule scores fixed, cost FN + 50 FP; 5-fold CV of that search: FP 1 -> 2
 * of 2750, FN 77 -> 57 of 500. 99 + 999 = 5.008: p >= 0.999 alone reaches
 * 5 (CV: 328 spam, 1 hard ham that scores >= 5 anyway). A rule file's
 * score line for the same name still wins. */
const struct bayes_rule bayes_rules[] = {
	{ "BAYES_00", 0.00, 0.01, -2.997 },
	{ "BAYES_05", 0.01, 0.05, -0.476 },
	{ "BAYES_20", 0.05, 0.20, -0.001 },
	{ "BAYES_40", 0.20, 0.40, -0.001 },
	{ "BAYES_50", 0.40, 0.60, 1.500 },
	{ "BAYES_60", 0.60, 0.80, 2.500 },
	{ "BAYES_80", 0.80, 0.95, 3.000 },
	{ "BAYES_95", 0.95, 0.99, 3.043 },
	{ "BAYES_99", 0.99, 1.00, 4.188 },
	{ "BAYES_999", 0.999, 1.00, 0.820 },
};
const size_t bayes_nrules = sizeof(bayes_rules) / sizeof(bayes_rules[0]);

/* bayes_rule_for - SA check_bayes: (min == 0 || p > min) &&
 * (max == 1 || p <= max) */
size_t
bayes_rule_for(double p, const struct bayes_rule *out[2])
{
	size_t k = 0;

	for (size_t i = 0; i < bayes_nrules && k < 2; i++) {
		const struct bayes_rule *r = &bayes_rules[i];

		if ((r->min == 0 || p > r->min) && (r->max == 1 || p <= r->max))
			out[k++] = r;
	}
	return k;
}
