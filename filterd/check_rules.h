/*
 * filterd/check_rules.h - where the rule check finds its rules, for the
 * daemon (check_rules.c) and filterctl (compile, lint) alike
 */
#ifndef FILTERD_CHECK_RULES_H
#define FILTERD_CHECK_RULES_H

#include <stdbool.h>
#include <stddef.h>

struct cfg;

/* rules_cfg_paths - the paths of rules_dir (a comma-separated list,
 * loaded in that order: e.g. the stock SpamAssassin rules, then filterd's
 * own), then rules_local when it is readable; p->n of them in p->v */
#define RULES_MAX_PATHS 8
struct rules_paths {
	const char *v[RULES_MAX_PATHS + 1];
	size_t n;
	char buf[4096];
};
size_t rules_cfg_paths(const struct cfg *, struct rules_paths *p);
/* rules_cfg_cache_dir - rules_cache_dir, or state_dir/rules-cache when
 * empty; "" when it is "none" (no cache) */
void rules_cfg_cache_dir(const struct cfg *, char *out, size_t outsz);

struct rule_hs_info;

/* rules_cache_wanted - the last rule load in this process found no
 * Hyperscan cache although one would cover more rules; *file names the
 * cache file that load looked for */
bool rules_cache_wanted(char *file, size_t filesz);
/* rules_cache_build - compile every Hyperscan pattern of the configured
 * rules and write the cache (creating the directory): what `filterctl
 * compile` and the daemon's background builder do. 0, or -errno with
 * why filled (-EBADMSG: a rule file cannot be read; others: the cache
 * could not be written); *info (optional) says what was built. */
int rules_cache_build(const struct cfg *, struct rule_hs_info *info,
    char *why, size_t whysz);

#endif
