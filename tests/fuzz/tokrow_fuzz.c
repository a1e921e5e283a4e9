/*
 * tokrow_fuzz - the Bayes token cache's text change rows (what the Redis
 * backend reads back from fb:c:<n>, a store other hosts write too) over
 * arbitrary bytes: bayes_tokcache_apply_text must update or clear, never
 * read out of bounds, and leave a cache that still answers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "bayes/tokcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bayes_tokcache *c;
	static const uint64_t toks[3] = { 0x0123456789abcdefull, 0x42, 7 };
	struct bayes_tokval out[3] = {
		{ toks[0], 1, 2, 3 }, { toks[1], 4, 5, 6 }, { toks[2], 7, 8, 9 }
	};
	size_t miss[3] = { 0, 1, 2 };

	/* one cache for the run: 6 MB each time would be the whole cost */
	if (c == NULL && (c = bayes_tokcache_new()) == NULL)
		abort();
	if (!bayes_tokcache_sync(c, 1, NULL, NULL))
		abort();
	bayes_tokcache_insert(c, 1, out, miss, 3);
	bayes_tokcache_apply_text(c, (const char *)data, size);
	if (bayes_tokcache_lookup(c, 1, toks, 3, out, miss) > 3)
		abort();
	return 0;
}
