/* bayes_tokcache_test - the token cache on its own: hits, misses,
 * updates by change rows, clears, snapshots behind the cache, filling
 * up, colliding slots */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bayes/tokcache.h"

static struct bayes_tokval
tv(uint64_t tok, uint32_t spam, uint32_t ham, uint32_t atime)
{
	struct bayes_tokval t = { tok, spam, ham, atime };

	return t;
}

/* put - insert toks[0..n) with spam = tok, ham = 2 tok, at gen */
static void
put(struct bayes_tokcache *c, uint64_t gen, const uint64_t *toks, size_t n)
{
	struct bayes_tokval *out = calloc(n, sizeof(*out));
	size_t *miss = calloc(n, sizeof(*miss));

	for (size_t i = 0; i < n; i++) {
		out[i] = tv(toks[i], (uint32_t)toks[i], 2 * (uint32_t)toks[i], 7);
		miss[i] = i;
	}
	bayes_tokcache_insert(c, gen, out, miss, n);
	free(out);
	free(miss);
}

/* nmiss - how many of toks[0..n) the cache lacks at gen; checks the
 * values of the others */
static size_t
nmiss(struct bayes_tokcache *c, uint64_t gen, const uint64_t *toks, size_t n)
{
	struct bayes_tokval *out = calloc(n, sizeof(*out));
	size_t *miss = calloc(n, sizeof(*miss));
	size_t m = bayes_tokcache_lookup(c, gen, toks, n, out, miss);
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		assert_true(out[i].tok == toks[i]);
		if (j < m && miss[j] == i) {
			j++;
			continue;
		}
		assert_int_equal(out[i].spam, (uint32_t)toks[i]);
		assert_int_equal(out[i].ham, 2 * (uint32_t)toks[i]);
	}
	free(out);
	free(miss);
	return m;
}

struct rows {
	uint64_t from, to;
	const struct bayes_tokval *upd; /* applied for every row */
	size_t n;
	int rc;
	bool clear;
};

static int
catchup(void *arg, struct bayes_tokcache *c, uint64_t from, uint64_t to)
{
	struct rows *r = arg;

	r->from = from;
	r->to = to;
	if (r->clear)
		bayes_tokcache_clear(c);
	else
		bayes_tokcache_update(c, r->upd, r->n);
	return r->rc;
}

static void
test_hit_miss_evict(void **state)
{
	(void)state;
	struct bayes_tokcache *c = bayes_tokcache_new();
	struct bayes_tokcache_stats st;
	uint64_t toks[4] = { 11, 12, 13, 14 }, t12 = 12;
	/* rows set token 12 to 30/60, and 99 (not cached) to 1/1 */
	struct bayes_tokval upd[2] = { { 12, 30, 60, 9 }, { 99, 1, 1, 9 } };
	struct rows r = { 0, 0, upd, 2, 0, false };
	struct bayes_tokval out[1];
	size_t miss[1];

	assert_non_null(c);
	/* a new cache takes the first number without a catch-up */
	assert_true(bayes_tokcache_sync(c, 5, catchup, &r));
	assert_int_equal(r.to, 0);
	assert_int_equal(nmiss(c, 5, toks, 4), 4);
	put(c, 5, toks, 3);
	assert_int_equal(nmiss(c, 5, toks, 4), 1);
	/* another number than the cache's: all miss, nothing inserted */
	assert_int_equal(nmiss(c, 6, toks, 4), 4);
	put(c, 6, toks + 3, 1);
	assert_int_equal(nmiss(c, 5, toks, 4), 1);
	/* rows 6..8 change token 12: the cache holds the new counts */
	assert_true(bayes_tokcache_sync(c, 8, catchup, &r));
	assert_int_equal(r.from, 6);
	assert_int_equal(r.to, 8);
	assert_int_equal(bayes_tokcache_lookup(c, 8, &t12, 1, out, miss), 0);
	assert_int_equal(out[0].spam, 30);
	assert_int_equal(out[0].ham, 60);
	assert_int_equal(out[0].atime, 9);
	put(c, 8, &t12, 1);
	assert_int_equal(nmiss(c, 8, toks, 4), 1);
	/* a token the rows name but the cache lacks is not added */
	uint64_t t99 = 99;
	assert_int_equal(bayes_tokcache_lookup(c, 8, &t99, 1, out, miss), 1);
	/* a snapshot older than the cache may not use it */
	r.to = 0;
	assert_false(bayes_tokcache_sync(c, 7, catchup, &r));
	assert_int_equal(r.to, 0);
	assert_int_equal(nmiss(c, 7, toks, 4), 4);
	/* the same number: no catch-up */
	assert_true(bayes_tokcache_sync(c, 8, catchup, &r));
	assert_int_equal(r.to, 0);
	/* a failed catch-up (trimmed rows) clears */
	r.rc = -2;
	assert_true(bayes_tokcache_sync(c, 9, catchup, &r));
	assert_int_equal(nmiss(c, 9, toks, 4), 4);
	/* and a "C" row clears */
	put(c, 9, toks, 4);
	r.rc = 0;
	r.clear = true;
	assert_true(bayes_tokcache_sync(c, 10, catchup, &r));
	assert_int_equal(nmiss(c, 10, toks, 4), 4);
	bayes_tokcache_stats(c, &st);
	assert_true(st.hits > 0 && st.misses > 0);
	assert_int_equal(st.updated, 2); /* 12 at rows 6..8 and again at 9 */
	assert_true(st.clears >= 3);
	bayes_tokcache_free(c);
}

/* tokens on one slot chain (equal low bits), evicting the middle one:
 * the ones after it must stay reachable */
static void
test_collisions(void **state)
{
	(void)state;
	struct bayes_tokcache *c = bayes_tokcache_new();
	uint64_t toks[5];
	struct bayes_tokval mid[1], out[5];
	size_t miss[5];
	struct rows r = { 0, 0, mid, 1, 0, false };

	for (int i = 0; i < 5; i++)
		toks[i] = 3 + ((uint64_t)i << TOKCACHE_BITS);
	mid[0] = tv(toks[2], 1, 2, 3);
	assert_true(bayes_tokcache_sync(c, 1, catchup, &r));
	put(c, 1, toks, 5);
	assert_int_equal(nmiss(c, 1, toks, 5), 0);
	/* an update in the middle of the chain */
	assert_true(bayes_tokcache_sync(c, 2, catchup, &r));
	assert_int_equal(bayes_tokcache_lookup(c, 2, toks, 5, out, miss), 0);
	assert_int_equal(out[2].spam, 1);
	assert_int_equal(out[4].spam, (uint32_t)toks[4]);
	/* the one before and after it still found */
	assert_int_equal(nmiss(c, 2, toks + 3, 2), 0);
	assert_int_equal(nmiss(c, 2, toks, 2), 0);
	bayes_tokcache_free(c);
}

/* filling the cache past 3/4 starts it over instead of probing forever */
static void
test_full(void **state)
{
	(void)state;
	struct bayes_tokcache *c = bayes_tokcache_new();
	struct bayes_tokcache_stats st;
	size_t n = ((size_t)1 << TOKCACHE_BITS) + 1000;
	uint64_t *toks = malloc(n * sizeof(*toks));

	for (size_t i = 0; i < n; i++)
		toks[i] = i * 0x9e3779b97f4a7c15ull;
	assert_true(bayes_tokcache_sync(c, 1, catchup, NULL));
	put(c, 1, toks, n);
	bayes_tokcache_stats(c, &st);
	assert_int_equal(st.clears, 2); /* the first sync, then one full */
	/* the last ones inserted are there, the first ones are not */
	assert_int_equal(nmiss(c, 1, toks + n - 1000, 1000), 0);
	assert_int_equal(nmiss(c, 1, toks, 1000), 1000);
	free(toks);
	bayes_tokcache_free(c);
}

/* the Redis backend's text rows: values for cached tokens; anything
 * malformed clears */
static void
test_text_rows(void **state)
{
	(void)state;
	struct bayes_tokcache *c = bayes_tokcache_new();
	struct bayes_tokcache_stats st;
	uint64_t toks[2] = { 0x0123456789abcdefull, 0x42 };
	struct bayes_tokval out[2];
	size_t miss[2];
	static const char good[] = "U0123456789abcdef 7 8 9\n"
				   "0000000000000042 0 0 0\n";
	static const char *const bad[] = {
		"", "C", "X0123456789abcdef 1 1 1\n",
		"U0123456789abcdef 1 1 1",	   /* no newline */
		"U0123456789ABCDEF 1 1 1\n",	   /* upper case hex */
		"U0123456789abcdef 1 1\n",	   /* two numbers */
		"U0123456789abcdef 1 1 4294967296\n", /* > 2^32 - 1 */
		"U0123456789abcdef 1 x 1\n", "U012345 1 1 1\n",
	};

	assert_true(bayes_tokcache_sync(c, 1, catchup, NULL));
	put(c, 1, toks, 2);
	bayes_tokcache_apply_text(c, good, sizeof(good) - 1);
	assert_int_equal(bayes_tokcache_lookup(c, 1, toks, 2, out, miss), 0);
	assert_int_equal(out[0].spam, 7);
	assert_int_equal(out[0].ham, 8);
	assert_int_equal(out[0].atime, 9);
	assert_int_equal(out[1].spam + out[1].ham + out[1].atime, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(c, 1, toks, 2);
		assert_int_equal(nmiss(c, 1, toks, 2), 0);
		bayes_tokcache_apply_text(c, bad[i], strlen(bad[i]));
		assert_int_equal(nmiss(c, 1, toks, 2), 2);
	}
	bayes_tokcache_stats(c, &st);
	assert_int_equal(st.updated, 2);
	bayes_tokcache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_miss_evict),
		cmocka_unit_test(test_collisions),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_text_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
