/*
 * rules/rules.h - SpamAssassin-compatible rule files: load, compile, run
 *
 * A rule set is loaded once (rule_set_load) from *.cf files and directories,
 * compiled (PCRE2 JIT per regex, one literal prefilter over all of them) and
 * is read-only afterwards, so any number of threads may run it at once.
 *
 * Per message: rule_run_new() in the message arena, rule_run_exec() runs
 * header/body/rawbody/uri/full/eval rules and adds the scored ones to the
 * hits; other modules add their hits (DNS, Bayes); rule_run_finish()
 * evaluates meta rules over everything and fills in scores. rule_set_check()
 * does all three for callers without async work.
 */
#ifndef RULES_RULES_H
#define RULES_RULES_H

#include <stdbool.h>
#include <stddef.h>

struct hits;
struct msg;
struct rule_set;
struct rule_run;

/* The first error of a load (file:line and text). */
struct rule_err {
	char file[256];
	unsigned line;
	char msg[256];
};

/* One lint finding. */
enum rule_diag_level { RULE_DIAG_INFO, RULE_DIAG_WARN, RULE_DIAG_ERROR };
struct rule_diag {
	enum rule_diag_level level;
	const char *file;
	unsigned line;
	const char *msg;
};

/* rule_set_load - parse paths (files, or directories: their *.cf sorted),
 * later definitions and score lines win; then compile. Returns NULL with
 * *err filled when a file cannot be read; bad rule lines are skipped and
 * kept as diagnostics (rule_set_diag_*). */
struct rule_set *rule_set_load(
    const char *const *paths, size_t n, struct rule_err *err);
/* rule_set_load_mem - the same from one buffer named name (include is
 * refused there: tests and fuzzing). */
/* Load options. Hyperscan databases (the regex prefilter) are compiled
 * within a CPU budget at load time, so loading stays well under a second
 * but the costliest patterns stay out. With hs_cache_dir set, a database
 * set compiled once for exactly these rules (key: SHA-256 of Hyperscan's
 * version and every pattern, its flags and its rule) is read from
 * DIR/<key>.hsdb instead; hs_build compiles every pattern Hyperscan can
 * take (no budget: tens of seconds for SA's stock rules, as sa-compile
 * takes) and writes that file (filterctl compile). */
struct rule_load_opts {
	const char *hs_cache_dir;
	bool hs_build;
};
struct rule_set *rule_set_load_opts(const char *const *paths, size_t n,
    const struct rule_load_opts *, struct rule_err *err);

/* What the Hyperscan step of the load did. */
struct rule_hs_info {
	size_t patterns;   /* rules whose texts Hyperscan filters */
	size_t cacheable;  /* rules a full compile would try */
	bool from_cache;   /* read from cache_file */
	double compile_ms; /* CPU time compiling (0 from the cache) */
	int save_rc;	   /* hs_build: 0 written, else -errno */
	char cache_file[512];
};
void rule_set_hs_info(const struct rule_set *, struct rule_hs_info *);

struct rule_set *rule_set_load_mem(
    const char *text, size_t len, const char *name, struct rule_err *err);
struct rule_set *rule_set_free(struct rule_set *);

/* Score set 0..3 (SA: bit 0 = network tests, bit 1 = Bayes); default 0. */
void rule_set_scoreset(struct rule_set *, unsigned set);

/* rule_set_prefilter - turn the literal prefilter off (tests, bench):
 * every rule then runs its regex on every text. */
void rule_set_prefilter(struct rule_set *, bool on);

/* rule_set_profile - count CPU time per rule from now on (one thread
 * only: bench and filterctl, never the daemon); rule_set_profile_print
 * writes the top n rules and the time per stage to f. */
void rule_set_profile(struct rule_set *, bool on);
void rule_set_profile_print(const struct rule_set *, void *file, size_t n);

size_t rule_set_diag_count(const struct rule_set *);
const struct rule_diag *rule_set_diag_at(const struct rule_set *, size_t i);
/* Number of errors among the diagnostics. */
size_t rule_set_errors(const struct rule_set *);
/* Counts for reports: rules defined, rules that can run. */
size_t rule_set_rule_count(const struct rule_set *);

/* rule_set_rule_at - the i-th defined rule's name, *runnable set;
 * NULL past the end (for listing). */
const char *rule_set_rule_at(const struct rule_set *, size_t i, bool *runnable);

/* rule_set_score - the score of a rule in the active set; false if it has
 * none (SA then uses 1.0, 0.01 for T_ rules, 0 for __ rules). */
bool rule_set_score(const struct rule_set *, const char *name, double *);
const char *rule_set_describe(const struct rule_set *, const char *name);
/* rule_set_runnable - the rule is defined and this engine evaluates it
 * (regex, built-in eval, or a meta whose inputs are all runnable); rules
 * claimed by another module through rule_set_evals_named count too. */
bool rule_set_runnable(const struct rule_set *, const char *name);

/* rule_set_evals_named - for every rule using eval:fn(...), call cb with the
 * rule name and arguments (unquoted). The module then adds the hit itself
 * under that rule name; the rule counts as provided (not unknown) from
 * now on. Returns the number of rules. Call at init, before sharing. */
typedef void rule_eval_user_cb(
    void *arg, const char *rule, const char *const *args, size_t nargs);
size_t rule_set_evals_named(
    struct rule_set *, const char *fn, rule_eval_user_cb *cb, void *arg);

/* Per message ------------------------------------------------------------ */

struct rule_run *rule_run_new(const struct rule_set *, struct msg *);
/* rule_run_exec - all non-meta rules; adds scored hits. 0 or -ENOMEM. */
int rule_run_exec(struct rule_run *, struct hits *);
/* rule_run_finish - meta rules over own and foreign hits, scores for
 * hits without one. 0 or -ENOMEM. */
int rule_run_finish(struct rule_run *, struct hits *);
/* rule_run_fired_at - the i-th rule of this run that fired, including
 * __sub-rules and 0-scored ones (debugging, filterctl explain); NULL past
 * the end. */
const char *rule_run_fired_at(
    const struct rule_run *, size_t i, unsigned *count);
/* rule_set_check - exec + finish in one go. */
int rule_set_check(const struct rule_set *, struct msg *, struct hits *);

/* For tests and lint: translate a Perl rule regex "/re/flags" (or m{..})
 * into a PCRE2 pattern and options. 0 or -EINVAL with *why set. */
int rule_regex_translate(const char *src, char *out, size_t outsz,
    unsigned *pcre_opts, const char **why);

/* Meta expressions on their own (tests, fuzzing): value_of gives a name's
 * value; returns 0 and *v, or -EINVAL on a syntax error. */
typedef double rule_meta_value_cb(void *arg, const char *name, size_t len);
int rule_meta_eval_str(
    const char *expr, rule_meta_value_cb *, void *arg, double *v);

#endif
