/*
 * hits - the named hits one scan collects
 *
 * A flat array allocated from the message arena; a scan has tens of hits,
 * so lookups are linear. Names and details are copied into the arena.
 * Errors: -ENOMEM when the arena is exhausted.
 */
#include "util/hits.h"

#include "util/arena.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct hits {
	struct arena *arena;
	struct hit *v;
	size_t n, cap;
};

struct hits *
hits_new(struct arena *a)
{
	struct hits *h = arena_calloc(a, 1, sizeof(*h));

	if (h != NULL)
		h->arena = a;
	return h;
}

struct hit *
hits_get(struct hits *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].name, name) == 0)
			return &h->v[i];
	return NULL;
}

bool
hits_has(const struct hits *h, const char *name)
{
	return hits_get((struct hits *)h, name) != NULL;
}

static struct hit *
add(struct hits *h, const char *name, const char *detail)
{
	struct hit *x = hits_get(h, name);

	if (x != NULL) {
		x->count++;
		return x;
	}
	if (h->n == h->cap) {
		size_t ncap = h->cap ? h->cap * 2 : 16;
		struct hit *nv = arena_alloc(h->arena, ncap * sizeof(*nv));

		if (nv == NULL)
			return NULL;
		if (h->n)
			memcpy(nv, h->v, h->n * sizeof(*nv));
		h->v = nv;
		h->cap = ncap;
	}
	x = &h->v[h->n];
	memset(x, 0, sizeof(*x));
	if ((x->name = arena_strndup(h->arena, name, strlen(name))) == NULL)
		return NULL;
	if (detail != NULL &&
	    (x->detail = arena_strndup(h->arena, detail, strlen(detail))) ==
		NULL)
		return NULL;
	x->count = 1;
	h->n++;
	return x;
}

int
hits_add(struct hits *h, const char *name, const char *detail)
{
	return add(h, name, detail) ? 0 : -ENOMEM;
}

int
hits_add_score(struct hits *h, const char *name, double score,
    const char *detail)
{
	struct hit *x = add(h, name, detail);

	if (x == NULL)
		return -ENOMEM;
	x->score = score;
	x->has_score = true;
	return 0;
}

size_t
hits_count(const struct hits *h)
{
	return h->n;
}

struct hit *
hits_at(struct hits *h, size_t i)
{
	return i < h->n ? &h->v[i] : NULL;
}

double
hits_total(const struct hits *h)
{
	double t = 0;

	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].has_score)
			t += h->v[i].score;
	return t;
}

static int
cmp_hit(const void *a, const void *b)
{
	return strcmp(((const struct hit *)a)->name,
	    ((const struct hit *)b)->name);
}

void
hits_sort(struct hits *h)
{
	if (h->n > 1)
		qsort(h->v, h->n, sizeof(*h->v), cmp_hit);
}
