/*
 * filterd/check_rules.h - where the rule check finds its rules, for the
 * daemon (check_rules.c) and filterctl (compile, lint) alike
 */
#ifndef FILTERD_CHECK_RULES_H
#define FILTERD_CHECK_RULES_H

#include <stddef.h>

struct cfg;

/* rules_cfg_paths - rules_dir, then rules_local when it is readable;
 * returns how many (1 or 2) */
size_t rules_cfg_paths(const struct cfg *, const char *paths[2]);
/* rules_cfg_cache_dir - rules_cache_dir, or state_dir/rules-cache when
 * empty; "" when it is "none" (no cache) */
void rules_cfg_cache_dir(const struct cfg *, char *out, size_t outsz);

#endif
