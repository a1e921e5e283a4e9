/* bayes/classify.h - Robinson/Fisher chi-square combining (SA CombineChi) */
#ifndef BAYES_CLASSIFY_H
#define BAYES_CLASSIFY_H

#include <stddef.h>
#include <stdint.h>

/* x and s are bogofilter's documented robx 0.52, robs 0.0178 (SA: x 0.538,
 * s 0.030, min strength 0.346, 150 tokens). Minimum strength 0.25, at
 * most 150 tokens and ESF 0.35 were chosen on the 2002 sets with the
 * drift proxies of corpus/cv.sh, which hold out whole spam campaigns
 * (CV_SPLIT=source) and give each test message the delivery path of the
 * other class (CV_SWAP=1): bogofilter's min_dev 0.375 kept too few tokens
 * for spam from unseen sources (source split, path swapped, p >= 0.5:
 * FN 131 of 500 with 0.375 and ESF 0.5, 53 now, bogofilter 93; FP 152,
 * 120, 154 of 2750), while ESF below 0.5 keeps the added weak evidence
 * from making unseen ham confident (p >= 0.99 FP 4 -> 1). A low minimum
 * strength without ESF (0.1, the first classifier) had 3 times the ham
 * false positives at p >= 0.99 on the same folds. .notes/accuracy.md has
 * the tables. */
#define BAYES_FW_X 0.520	/* Robinson's x: prior of a new token */
#define BAYES_FW_S 0.0178	/* Robinson's s: strength of x */
#define BAYES_MIN_STRENGTH 0.25 /* |p - 0.5| below this is ignored */
#define BAYES_N_SIGNIFICANT 150 /* tokens used at most (bounds the CPU) */
/* bogofilter's effective size factor (sp_esf = ns_esf; its default 1.0
 * is off): the k tokens of a message are not independent, so Fisher's
 * statistic counts as ESF * -2 ln(prod) with 2 * ESF * k degrees of
 * freedom (rounded to an even count, at least 2). Without it both tails
 * saturate on long messages and many land on exactly 0.5. 0.35 rather
 * than 0.5: with minimum strength 0.25 more tokens count, and 0.5 let
 * unseen ham reach p >= 0.99 (source split: 2 of 2750 vs 1). */
#define BAYES_ESF 0.35

/* bayes_token_prob - Robinson's f(w) for a token seen in s of ns spam and
 * h of nh ham messages; -1 when the token was never seen. */
double bayes_token_prob(uint32_t s, uint32_t h, uint64_t ns, uint64_t nh);
/* bayes_chi2q - P(chi^2 >= x2) with 2*halfv degrees of freedom */
double bayes_chi2q(double x2, unsigned halfv);
/* bayes_combine - combine probs[0..n) (any order) with priors ns, nh into
 * a spam probability 0..1: drops the weak ones, keeps the 150 strongest,
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
