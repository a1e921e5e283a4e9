/* util/hits.h - the named hits one scan collects */
#ifndef UTIL_HITS_H
#define UTIL_HITS_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

/* One named test that fired. Scores come from the rule files (rules/); a
 * check that knows no score leaves has_score false and the rule set fills
 * it in. */
struct hit {
	const char *name;   /* "SPF_FAIL", "BAYES_99", "MISSING_DATE" */
	const char *detail; /* short, printable, may be NULL */
	double score;
	bool has_score;
	unsigned count;     /* times it fired (tflags multiple) */
};

struct hits;

struct hits *hits_new(struct arena *);
/* hits_add - record name (copied); a second add of the same name bumps the
 * count and keeps the first detail. */
int hits_add(struct hits *, const char *name, const char *detail);
int hits_add_score(struct hits *, const char *name, double score,
    const char *detail);
bool hits_has(const struct hits *, const char *name);
struct hit *hits_get(struct hits *, const char *name);
size_t hits_count(const struct hits *);
struct hit *hits_at(struct hits *, size_t i);
/* hits_total - sum of scores of the hits that have one */
double hits_total(const struct hits *);
/* hits_sort - by name (SpamAssassin prints tests= sorted) */
void hits_sort(struct hits *);

#endif
