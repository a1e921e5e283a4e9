/* bayes/classify.h - Robinson/Fisher chi-square combining (SA CombineChi) */
#ifndef BAYES_CLASSIFY_H
#define BAYES_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

/* SpamAssassin Bayes::CombineChi and Plugin::Bayes constants, except s
 * and the minimum strength: chosen by 5-fold cross-validation on the
 * 2002 SpamAssassin corpus sets (corpus/cv.sh). SA's s = 0.030 and 0.346
 * left 173 of 500 spam below p 0.99 (FP 1 of 2750, FN 39 at p 0.5);
 * s = 0.1 and 0.1 leave 76 (FP 1; FN 26 at p 0.5, FP 8). Weak tokens
 * carry most of the evidence in spam that avoids the known strong words. */
#define BAYES_FW_X 0.538	/* Robinson's x: prior of a new token */
#define BAYES_FW_S 0.100	/* Robinson's s: strength of x (SA: 0.030) */
#define BAYES_MIN_STRENGTH 0.1 /* |p - 0.5| below this is ignored (0.346) */
#define BAYES_N_SIGNIFICANT 600 /* tokens used at most (SA: 150; 600 by CV) */

/* bayes_token_prob - Robinson's f(w) for a token seen in s of ns spam and
 * h of nh ham messages; -1 when the token was never seen. */
double bayes_token_prob(uint32_t s, uint32_t h, uint64_t ns, uint64_t nh);
/* bayes_chi2q - P(chi^2 >= x2) with 2*halfv degrees of freedom */
double bayes_chi2q(double x2, unsigned halfv);
/* bayes_combine - combine probs[0..n) (any order) with priors ns, nh into
 * a spam probability 0..1: drops the weak ones, keeps the 600 strongest,
 * Fisher's method on both tails. Returns -1 when no token is usable. The
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
