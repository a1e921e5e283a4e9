/*
 * filterd/checks.c - the table of check modules, and their generation
 *
 * Adding a check: define `const struct check check_<name>` in
 * filterd/check_<name>.c, declare it in filterd/checks.h and add one line
 * to checks_table[] below. Order matters for run() and finish(): checks
 * that read other checks' hits go after them. The rules' finish() (meta
 * rules, and scores from the rule files for every hit) must see the hits
 * auth and wblist add in their finish(): SpamAssassin's metas read
 * SPF_PASS, DKIM_VALID, DMARC_*, USER_IN_WELCOMELIST ...
 */
#include "filterd/checks.h"
#include "rules/rules.h"

#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

const struct check *const checks_table[] = {
	&check_dkimsign, /* first: originating mail is signed, not scored */
	&check_basic,
	&check_dnsbl,
	&check_auth,   /* SPF/DKIM/DMARC hits in finish() */
	&check_wblist, /* finish() after auth: reads its "authres" note */
	&check_rules,  /* finish(): meta rules and scores over all hits */
	&check_bayes,  /* after every scoring check: autolearn reads scores */
	NULL,
};

struct checks {
	const struct check *const *table;
	size_t n;
	void **state;
};

struct checks *
checks_init(const struct cfg *cfg, char *err, size_t errsz)
{
	return checks_init_table(cfg, checks_table, err, errsz);
}

struct checks *
checks_init_table(const struct cfg *cfg, const struct check *const *table,
    char *err, size_t errsz)
{
	struct checks *c = calloc(1, sizeof(*c));
	size_t n = 0;

	while (table[n])
		n++;
	if (c == NULL || (c->state = calloc(n + 1, sizeof(void *))) == NULL) {
		snprintf(err, errsz, "out of memory");
		free(c);
		return NULL;
	}
	c->table = table;
	for (c->n = 0; c->n < n; c->n++) {
		const struct check *ck = table[c->n];
		int rc;

		if (ck->init && (rc = ck->init(cfg, &c->state[c->n])) < 0) {
			snprintf(err, errsz, "check %s: init failed: %s (the "
			    "line logged before says why)", ck->name,
			    strerror(-rc));
			return checks_free(c);
		}
	}
	return c;
}

struct checks *
checks_free(struct checks *c)
{
	if (c == NULL)
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		if (c->table[i]->free)
			c->table[i]->free(c->state[i]);
	free(c->state);
	free(c);
	return NULL;
}

void *
checks_state(const struct checks *c, size_t i)
{
	return c && i < c->n ? c->state[i] : NULL;
}

const struct check *
checks_at(const struct checks *c, size_t i)
{
	return c && i < c->n ? c->table[i] : NULL;
}

/* checks_describe - describe text from the rules check's rule set */
const char *
checks_describe(const struct checks *c, const char *name)
{
	const struct check *ck;

	for (size_t i = 0; (ck = checks_at(c, i)) != NULL; i++)
		if (strcmp(ck->name, "rules") == 0 && checks_state(c, i))
			return rule_set_describe(checks_state(c, i), name);
	return NULL;
}
