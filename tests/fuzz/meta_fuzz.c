/*
 * meta_fuzz - the meta expression parser and evaluator on arbitrary bytes
 * (NUL-terminated copy); every name evaluates to its length mod 3. Each
 * expression that compiles is evaluated twice: by the stack machine and
 * by the short-circuit tree walk with && operands reordered by a cost;
 * the two values must be the same (abort otherwise). A third run goes
 * through the compact form (rule__mplan_*), names resolved by their
 * length to each kind of leaf (a count, a lazy rule computed or not,
 * another module's hit).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "rules/rules_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double
val(void *arg, const char *name, size_t len)
{
	(void)arg;
	(void)name;
	return (double)(len % 3);
}

static double
val_id(void *arg, int32_t id, const char *name)
{
	(void)arg;
	(void)id;
	return (double)(strlen(name) % 3);
}

static double
cost(void *arg, int32_t id)
{
	(void)arg;
	return (double)((uint32_t)id % 5);
}

#define MAXID (16 * 1024 + 1)
static uint32_t counts[MAXID];
static uint8_t done[MAXID];

static struct rule__mop
leaf(void *arg, int32_t id, const char *name)
{
	static const uint8_t kind[3] = { RULE__MOP_COUNT, RULE__MOP_LAZY,
		RULE__MOP_HIT };

	(void)arg;
	(void)name;
	return (struct rule__mop){ kind[(uint32_t)id % 3], (uint32_t)id };
}

static double
slow(void *arg, enum rule__mleaf k, uint32_t x)
{
	(void)arg;
	(void)k;
	return (double)(x % 3);
}

/* plan_run - p through the compact form; a when it stays on the tree */
static double
plan_run(const struct meta_prog *p, double a)
{
	struct rule__mplan pl = { 0 };
	struct rule__mvals v = { counts, done, slow, NULL };
	uint32_t at;
	double r = a;

	if (counts[2] == 0)
		for (uint32_t i = 0; i < MAXID; i++) {
			counts[i] = i % 3;
			done[i] = (i / 3) & 1;
		}
	if (rule__mplan_add(&pl, p, leaf, NULL, &at) == 0 &&
	    at != RULE__MPLAN_SLOW)
		r = rule__mplan_run(&pl, at, &v);
	free(pl.code);
	free(pl.nums);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct meta_prog *p;
	const char *why;
	char *s;
	double v;

	if (size > 16 * 1024 || (s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)rule_meta_eval_str(s, val, NULL, &v);
	if ((p = rule__meta_compile(s, &why)) != NULL) {
		const char **names;
		size_t n = rule__meta_names(p, &names);
		int32_t *ids = malloc((n + 1) * sizeof(*ids));
		double a, b;

		if (ids != NULL) {
			for (size_t i = 0; i < n; i++)
				ids[i] = (int32_t)strlen(names[i]);
			rule__meta_set_ids(p, ids);
		}
		(void)rule__meta_order(p, cost, NULL);
		a = rule__meta_run_ids(p, val_id, NULL);
		b = rule__meta_run_lazy(p, val_id, NULL);
		if (!(a == b || (a != a && b != b)))
			abort();
		if (ids != NULL) {
			double c = plan_run(p, b);

			if (!(b == c || (b != b && c != c)))
				abort();
		}
		rule__meta_free(p);
	}
	free(s);
	return 0;
}
