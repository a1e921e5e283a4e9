/*
 * bayes/tokcache - the per-process token count cache (see tokcache.h)
 *
 * Open addressing with linear probing over 2^TOKCACHE_BITS slots; the
 * tokens are SipHash values, so their low bits are the slot. A slot
 * belongs to the current contents when its epoch is the cache's: a full
 * clear is epoch + 1. Within an epoch a slot, once taken, stays taken
 * (nothing is deleted: a change row updates values in place), so a probe
 * may stop at the first slot of another epoch. Hand-written: no library
 * offers a fixed-size, clear-in-O(1) u64 map, and this is 150 lines.
 */
#include "bayes/tokcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	uint64_t tok;
	uint32_t spam, ham, atime;
	uint32_t epoch;
};

struct bayes_tokcache {
	pthread_mutex_t mu;
	struct slot *v;
	size_t mask, used;
	uint32_t epoch;
	bool have_gen; /* false until the first sync */
	uint64_t gen;
	struct bayes_tokcache_stats st;
};

#define EPOCH_MAX 0xffffffffu

struct bayes_tokcache *
bayes_tokcache_new(void)
{
	struct bayes_tokcache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if ((c->v = calloc((size_t)1 << TOKCACHE_BITS, sizeof(*c->v))) ==
	    NULL) {
		free(c);
		return NULL;
	}
	c->mask = ((size_t)1 << TOKCACHE_BITS) - 1;
	c->epoch = 1;
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void
bayes_tokcache_free(struct bayes_tokcache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c->v);
	free(c);
}

/* clear - forget every value; after 2^32 clears the slots are zeroed
 * for real so an old epoch can never come back */
void
bayes_tokcache_clear(struct bayes_tokcache *c)
{
	if (c->epoch == EPOCH_MAX) {
		for (size_t i = 0; i <= c->mask; i++)
			c->v[i].epoch = 0;
		c->epoch = 0;
	}
	c->epoch++;
	c->used = 0;
	c->st.clears++;
}

/* find - tok's slot of this epoch, or the free slot where it would go */
static struct slot *
find(struct bayes_tokcache *c, uint64_t tok)
{
	size_t i = (size_t)tok & c->mask;

	while (c->v[i].epoch == c->epoch && c->v[i].tok != tok)
		i = (i + 1) & c->mask;
	return &c->v[i];
}

void
bayes_tokcache_update(
    struct bayes_tokcache *c, const struct bayes_tokval *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct slot *s = find(c, v[i].tok);

		if (s->epoch == c->epoch) {
			s->spam = v[i].spam;
			s->ham = v[i].ham;
			s->atime = v[i].atime;
			c->st.updated++;
		}
	}
}

bool
bayes_tokcache_sync(struct bayes_tokcache *c, uint64_t gen,
    bayes_tokcache_catchup_fn *fn, void *arg)
{
	bool ok = true;

	pthread_mutex_lock(&c->mu);
	if (!c->have_gen) {
		bayes_tokcache_clear(c);
		c->have_gen = true;
		c->gen = gen;
	} else if (gen > c->gen) {
		if (fn(arg, c, c->gen + 1, gen) < 0)
			bayes_tokcache_clear(c);
		c->gen = gen;
	} else if (gen < c->gen) {
		ok = false;
	}
	pthread_mutex_unlock(&c->mu);
	return ok;
}

size_t
bayes_tokcache_lookup(struct bayes_tokcache *c, uint64_t gen,
    const uint64_t *toks, size_t n, struct bayes_tokval *out, size_t *miss)
{
	size_t nmiss = 0;

	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < n; i++) {
		struct slot *s;

		out[i].tok = toks[i];
		if (c->gen != gen || (s = find(c, toks[i]))->epoch != c->epoch) {
			miss[nmiss++] = i;
			continue;
		}
		out[i].spam = s->spam;
		out[i].ham = s->ham;
		out[i].atime = s->atime;
	}
	c->st.hits += n - nmiss;
	c->st.misses += nmiss;
	pthread_mutex_unlock(&c->mu);
	return nmiss;
}

void
bayes_tokcache_insert(struct bayes_tokcache *c, uint64_t gen,
    const struct bayes_tokval *out, const size_t *miss, size_t nmiss)
{
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < nmiss && c->gen == gen; i++) {
		const struct bayes_tokval *t = &out[miss[i]];
		struct slot *s;

		/* 3/4 full: start over rather than probe long chains */
		if (c->used >= (c->mask + 1) / 4 * 3)
			bayes_tokcache_clear(c);
		s = find(c, t->tok);
		if (s->epoch != c->epoch) {
			s->epoch = c->epoch;
			s->tok = t->tok;
			c->used++;
		}
		s->spam = t->spam;
		s->ham = t->ham;
		s->atime = t->atime;
	}
	pthread_mutex_unlock(&c->mu);
}

void
bayes_tokcache_apply_text(struct bayes_tokcache *c, const char *p, size_t len)
{
	struct bayes_tokval tv[256];
	const char *e = p + len;
	size_t m = 0;

	if (len == 0 || p[0] != 'U') {
		bayes_tokcache_clear(c);
		return;
	}
	p++;
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		char line[96], *q;
		uint8_t b[8];
		unsigned long long v[3];

		if (nl == NULL || nl - p < 17 || (size_t)(nl - p) >= sizeof(line) ||
		    bayes__unhex(p, b, 8) < 0) {
			bayes_tokcache_clear(c);
			return;
		}
		memcpy(line, p + 16, (size_t)(nl - p) - 16);
		line[nl - p - 16] = '\0';
		q = line;
		for (int k = 0; k < 3; k++) {
			char *end;

			v[k] = strtoull(q, &end, 10);
			if (end == q || v[k] > UINT32_MAX) {
				bayes_tokcache_clear(c);
				return;
			}
			q = end;
		}
		tv[m].tok = 0;
		for (int j = 0; j < 8; j++)
			tv[m].tok = (tv[m].tok << 8) | b[j];
		tv[m].spam = (uint32_t)v[0];
		tv[m].ham = (uint32_t)v[1];
		tv[m].atime = (uint32_t)v[2];
		if (++m == 256) {
			bayes_tokcache_update(c, tv, m);
			m = 0;
		}
		p = nl + 1;
	}
	bayes_tokcache_update(c, tv, m);
}

void
bayes_tokcache_stats(struct bayes_tokcache *c, struct bayes_tokcache_stats *st)
{
	pthread_mutex_lock(&c->mu);
	*st = c->st;
	pthread_mutex_unlock(&c->mu);
}
