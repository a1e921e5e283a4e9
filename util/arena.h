/* util/arena.h - per-message region allocator */
#ifndef UTIL_ARENA_H
#define UTIL_ARENA_H

#include <stddef.h>

struct arena;

struct arena *arena_new(size_t chunk);
void *arena_alloc(struct arena *, size_t);
void *arena_calloc(struct arena *, size_t n, size_t size);
void *arena_memdup(struct arena *, const void *, size_t);
char *arena_strndup(struct arena *, const char *, size_t);
int arena_defer(struct arena *, void (*fn)(void *), void *arg);
size_t arena_used(const struct arena *);
struct arena *arena_free(struct arena *);

#endif
