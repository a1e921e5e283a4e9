/*
 * filterd/checks.h - the table of check modules (see filterd/checks.c)
 */
#ifndef FILTERD_CHECKS_H
#define FILTERD_CHECKS_H

#include <stddef.h>

#include "filterd/scan.h"

/* One line per check module, defined in filterd/check_<name>.c. */
extern const struct check check_dkimsign;
extern const struct check check_basic;
extern const struct check check_rules;
extern const struct check check_dnsbl;
extern const struct check check_wblist; /* filterd/check_wblist.c */
extern const struct check check_auth;
extern const struct check check_bayes;

/* checks_table - NULL-terminated, in the order they run */
extern const struct check *const checks_table[];

/* checks_init_table - checks_init() over another table (tests) */
struct checks *checks_init_table(const struct cfg *,
    const struct check *const *table, char *err, size_t errsz);
/* checks_at / checks_state - check i of this generation and the state its
 * init() gave; NULL past the end */
const struct check *checks_at(const struct checks *, size_t i);
void *checks_state(const struct checks *, size_t i);
/* checks_describe - the rule files' describe text for a hit name, or NULL */
const char *checks_describe(const struct checks *, const char *name);

#endif
