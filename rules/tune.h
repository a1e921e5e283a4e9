/*
 * rules/tune.h - fit rule scores to labelled hits (filterctl tune)
 *
 * Pure arithmetic: a hit matrix and labels in, scores out; no I/O. The
 * model is SpamAssassin's: a message's score is the sum of the scores of
 * the rules it hit (plus a fixed offset for hits that are not tuned), and
 * it is spam iff that sum reaches the threshold (tag2_level). The scores
 * are fitted by L2-regularised logistic regression on (sum - threshold),
 * pulled towards the current scores, inside per-rule boxes [lo, hi]
 * (tflags nice: hi = 0; immutable rules: lo = hi = score). The solver is
 * projected accelerated gradient descent (FISTA with backtracking and
 * restarts): deterministic, no random numbers inside.
 */
#ifndef RULES_TUNE_H
#define RULES_TUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One tunable column. lo == hi fixes the score. */
struct tune_rule {
	const char *name;
	double score; /* current score: the prior and the start point */
	double lo, hi;
};

/* The hits table, compressed rows: message i hit the rules
 * idx[off[i] .. off[i + 1]); spam[i] is its label; offset[i] (may be
 * NULL) is the part of its score not tuned here. */
struct tune_data {
	size_t nrules, nmsgs;
	const struct tune_rule *rules;
	const uint32_t *off;
	const uint32_t *idx;
	const bool *spam;
	const double *offset;
};

struct tune_opts {
	double threshold;  /* tag2_level: score >= threshold is spam */
	double lambda;	   /* L2 weight towards the current scores */
	double temp;	   /* logistic scale, in points */
	double ham_weight; /* a ham's loss relative to a spam's */
	unsigned max_iter;
	double tol; /* stop when no score moves more than this */
};

/* tune_opts_default - threshold 5, lambda 1e-3, temp 1, ham_weight 1 */
void tune_opts_default(struct tune_opts *);

/* tune_fit - fit scores into w[nrules] (w holds the start on entry: the
 * current scores, or a previous fit for a warm start) over the messages
 * with use[i] != 0 (use NULL: all). Returns the iterations run, or
 * -EINVAL (bad sizes or boxes), -ENOMEM. */
int tune_fit(const struct tune_data *, const uint8_t *use,
    const struct tune_opts *, double *w);

/* tune_fit_target - the operating point: refit with growing ham weights
 * (1, 1.5, 2.25 ... up to 1000) until the fitted scores' false-positive
 * rate over the used messages is at most fp_target (0.001 = 0.1%);
 * *ham_weight gets the weight used. 0 or -errno; the last fit is kept
 * when no weight reaches the target. */
int tune_fit_target(const struct tune_data *, const uint8_t *use,
    const struct tune_opts *, double fp_target, double *w, double *ham_weight);

/* tune_round - round every tunable score to 3 decimals (SA's files),
 * staying inside its box */
void tune_round(const struct tune_data *, double *w);

/* tune_msg_score - message i's score under w */
double tune_msg_score(const struct tune_data *, const double *w, size_t i);

/* tune_count - errors of w at threshold over the used messages (use[i]
 * == want; use NULL: all) */
struct tune_count {
	size_t ham, spam, fp, fn;
};
void tune_count(const struct tune_data *, const uint8_t *use, uint8_t want,
    const double *w, double threshold, struct tune_count *);

/* tune_folds - fold[i] in 0..k-1 for every message, stratified (spam and
 * ham dealt round-robin after a seeded shuffle); deterministic for seed.
 * 0 or -EINVAL / -ENOMEM. */
int tune_folds(
    const struct tune_data *, unsigned k, uint64_t seed, uint8_t *fold);

/* Rule attributes tune needs from a loaded rule set (rules/tune_flags.c;
 * to be replaced by a public rules.h accessor). */
struct rule_set;
#define TUNE_TF_NICE 0x01u     /* tflags nice: score <= 0 */
#define TUNE_TF_USERCONF 0x02u /* tflags userconf: never tuned */
#define TUNE_TF_NET 0x04u      /* tflags net */
#define TUNE_TF_LEARN 0x08u    /* tflags learn (Bayes) */
#define TUNE_TF_META 0x10u     /* a meta rule */
#define TUNE_TF_SUB 0x20u      /* __sub-rule: no score of its own */
/* tune_rule_info - flags of name; *defined false when the set has no
 * rule line for it (a module's hit such as BAYES_99 or a DNSBL rule not
 * in the files). what (may be NULL) gets the kind ("header", "body",
 * "uri", "meta", "eval" ...), target (may be NULL) the header name, eval
 * function, meta expression or regex; static or rule-set-owned strings,
 * NULL when unknown. */
unsigned tune_rule_info(const struct rule_set *, const char *name,
    bool *defined, const char **what, const char **target);

/* tune_rule_match - for explain: the text name's regex matches in m,
 * printable and truncated into out[outsz]; *where gets the header name,
 * "body", "rawbody", "uri", "full" or "headers". 1 found, 0 nothing to
 * show (evals, metas, negated rules, no match), -errno. */
struct msg;
int tune_rule_match(const struct rule_set *, const char *name, struct msg *,
    char *out, size_t outsz, const char **where);

#endif
