/* bayes/classify.h - Robinson/Fisher chi-square combining (SA CombineChi) */
#ifndef BAYES_CLASSIFY_H
#define BAYES_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

/* bogofilter's documented defaults (robx 0.52, robs 0.0178, min_dev
 * 0.375; SA: x 0.538, s 0.030, min strength 0.346, 150 tokens), chosen by
 * 5-fold cross-validation on the 2002 SpamAssassin corpus sets
 * (corpus/cv.sh) together with the Received words of bayes/token_msg.c:
 * p >= 0.5 FP 2 of 2750, FN 26 of 500 (bogofilter on the same folds: FP 4,
 * FN 27; the earlier s 0.1, min strength 0.1: FP 8, FN 26). A low minimum
 * strength lets hundreds of weak tokens decide close calls, which cost
 * ham false positives on mail from sources not seen in training. */
#define BAYES_FW_X 0.520	/* Robinson's x: prior of a new token */
#define BAYES_FW_S 0.0178	/* Robinson's s: strength of x */
#define BAYES_MIN_STRENGTH 0.25 /* |p - 0.5| below this is ignored */
#define BAYES_N_SIGNIFICANT 150 /* tokens used at most (bounds the CPU) */
/* bogofilter's effective size factor (sp_esf = ns_esf; its default 1.0
 * is off): the k tokens of a message are not independent, so Fisher's
 * statistic counts as ESF * -2 ln(prod) with 2 * ESF * k degrees of
 * freedom (rounded to an even count, at least 2). Without it both tails
 * saturate on long messages and many land on exactly 0.5. CV on 2002:
 * p >= 0.5 FP 5 -> 3 of 2750, FN 14 -> 21 of 500; a 30 % split by Date
 * (train on the older 70 %): FP 13 -> 9, FN 2 -> 9 (bogofilter 10 and 10). */
#define BAYES_ESF 0.35

/* bayes_token_prob - Robinson's f(w) for a token seen in s of ns spam and
 * h of nh ham messages; -1 when the token was never seen. */
double bayes_token_prob(uint32_t s, uint32_t h, uint64_t ns, uint64_t nh);
/* bayes_chi2q - P(chi^2 >= x2) with 2*halfv degrees of freedom */
double bayes_chi2q(double x2, unsigned halfv);
/* bayes_combine - combine probs[0..n) (any order) with priors ns, nh into
 * a spam probability 0..1: drops the weak ones, keeps the 600 strongest,
 * Fisher's method on both tails, scaled by BAYES_ESF. Returns -1 when no token is usable. The
 * array is reordered. */
double bayes_combine(double *probs, size_t n, uint64_t ns, uint64_t nh);

/* The SA BAYES_* rule for a probability: the ranges of 23_bayes.cf
 * (min < p <= max, 0 and 1 inclusive). BAYES_999 also fires with 99. */
struct bayes_rule {
	const char *name;
	double min, max, score; /* score: SA shape, refitted (classify.c) */
};
extern const struct bayes_rule bayes_rules[];
extern const size_t bayes_nrules;
/* bayes_rule_for - the rules p falls into (up to 2), returns count */
size_t bayes_rule_for(double p, const struct bayes_rule *out[2]);

#endif
