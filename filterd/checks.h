/*
 * filterd/checks.h - the table of check modules (see filterd/checks.c)
 */
#ifndef FILTERD_CHECKS_H
#define FILTERD_CHECKS_H

#include <stddef.h>

#include "filterd/scan.h"

/* One line per check module, defined in filterd/check_<name>.c. */
extern const struct check check_basic;
extern const struct check check_rules;
extern const struct check check_dnsbl;
extern const struct check check_auth;
extern const struct check check_auth;
extern const struct check check_bayes;

/* checks_table - NULL-terminated, in the order they run */
extern const struct check *const checks_table[];

/* checks_state - the state init() gave check i in this generation */
void *checks_state(const struct checks *, size_t i);

#endif
