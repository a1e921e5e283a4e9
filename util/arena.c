/*
 * arena - per-message region allocator
 *
 * Everything allocated for one message comes from one arena and is released
 * together by arena_free(). Cleanups registered with arena_defer() run first,
 * last registered first (PCRE2 match data, fds, pending queries).
 * Memory: chunks from malloc(); an allocation larger than the chunk size gets
 * a chunk of its own. Errors: allocation failure returns NULL (arena_defer
 * returns -ENOMEM); callers treat it like any other resource limit.
 */
#include "util/arena.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16

struct chunk {
	struct chunk *next;
	size_t size, used;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

struct cleanup {
	struct cleanup *next;
	void (*fn)(void *);
	void *arg;
};

struct arena {
	struct chunk *head;
	struct cleanup *cleanups;
	size_t chunk_size;
	size_t total;
};

/* arena_new - an empty arena whose chunks are at least chunk bytes */
struct arena *
arena_new(size_t chunk)
{
	struct arena *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->chunk_size = chunk < 1024 ? 1024 : chunk;
	return a;
}

/* arena_alloc - size bytes, 16-byte aligned, uninitialised */
void *
arena_alloc(struct arena *a, size_t size)
{
	struct chunk *c = a->head;
	size_t want = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	void *p;

	if (want < size)
		return NULL;
	if (c == NULL || c->size - c->used < want) {
		size_t sz = want > a->chunk_size ? want : a->chunk_size;

		if (sz > SIZE_MAX - sizeof(*c))
			return NULL;
		if ((c = malloc(sizeof(*c) + sz)) == NULL)
			return NULL;
		c->size = sz;
		c->used = 0;
		/* A big one-off block goes behind the current chunk so the
		 * current chunk's free space stays usable. */
		if (want > a->chunk_size && a->head != NULL) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
		a->total += sz;
	}
	p = c->data + c->used;
	c->used += want;
	return p;
}

/* arena_calloc - n * size zeroed bytes; NULL on overflow */
void *
arena_calloc(struct arena *a, size_t n, size_t size)
{
	void *p;

	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	if ((p = arena_alloc(a, n * size)) != NULL)
		memset(p, 0, n * size);
	return p;
}

/* arena_memdup - copy len bytes into the arena */
void *
arena_memdup(struct arena *a, const void *src, size_t len)
{
	void *p = arena_alloc(a, len ? len : 1);

	if (p != NULL && len)
		memcpy(p, src, len);
	return p;
}

/* arena_strndup - NUL-terminated copy of at most len bytes */
char *
arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p;

	if (len == SIZE_MAX || (p = arena_alloc(a, len + 1)) == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* arena_defer - run fn(arg) when the arena is freed */
int
arena_defer(struct arena *a, void (*fn)(void *), void *arg)
{
	struct cleanup *c = arena_alloc(a, sizeof(*c));

	if (c == NULL)
		return -ENOMEM;
	c->fn = fn;
	c->arg = arg;
	c->next = a->cleanups;
	a->cleanups = c;
	return 0;
}

/* arena_used - bytes reserved from malloc so far (for limits and stats) */
size_t
arena_used(const struct arena *a)
{
	return a->total;
}

/* arena_free - run cleanups, release every chunk; returns NULL */
struct arena *
arena_free(struct arena *a)
{
	struct chunk *c, *next;
	struct cleanup *cl;

	if (a == NULL)
		return NULL;
	for (cl = a->cleanups; cl != NULL; cl = cl->next)
		cl->fn(cl->arg);
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
	return NULL;
}
