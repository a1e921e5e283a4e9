/*
 * util/splitmix.h - splitmix64 (Steele, Lea, Flood 2014): a small seeded
 * generator that gives the same sequence on every platform, for tuning
 * runs and tests that must repeat
 */
#ifndef UTIL_SPLITMIX_H
#define UTIL_SPLITMIX_H

#include <stdint.h>

/* splitmix64 - the next value of the sequence in *s */
static inline uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
