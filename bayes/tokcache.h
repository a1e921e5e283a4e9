/*
 * bayes/tokcache.h - a process's cache of token counts, kept exact by
 * the store's change log
 *
 * A scan looks up every token of the message (~300, up to 20000); most
 * of them (84 % on the 2003 sets) were looked up by an earlier scan of
 * the same worker, and a Berkeley DB lookup costs ~0.6-1 us. The cache
 * answers those from memory. It is never stale: every transaction that
 * changes counts or atimes appends a numbered row to the store's change
 * log (the new values of the tokens it changed, or "everything"), and a
 * lookup first brings the cache to the log's last number inside the same
 * snapshot, updating the cached tokens the rows name (so autolearn
 * between scans costs no lookups, and a token one worker touched is not
 * touched again by the others). Values read from a snapshot are only
 * inserted while the cache is at that snapshot's number.
 *
 * Thread-safe (milter threads share a worker's store): one mutex, held
 * for the probing and the updates, never across a store lookup.
 * Memory: 2^TOKCACHE_BITS entries of 24 bytes (6 MB, calloc'ed with the
 * store handle: pages are mapped as slots are used); a cache 3/4 full
 * starts over (an epoch bump, O(1)).
 */
#ifndef BAYES_TOKCACHE_H
#define BAYES_TOKCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bayes/store.h"

#define TOKCACHE_BITS 18

/* The change log, both backends: rows kept; how far behind a reader
 * still catches up (reading and applying a row of ~300 tokens costs
 * ~10 us; further behind, an idle worker starts its cache over
 * instead); tokens a row may name (a transaction changing more, such as
 * a filterctl learn batch, logs "C": clear), so a log stays under
 * CHG_KEEP x ~80 KB. */
#define CHG_KEEP 64
#define CHG_CATCHUP_MAX 32
#define CHG_MAX_TOKENS 4096

struct bayes_tokcache;

/* bayes_tokcache_new - NULL on ENOMEM (the store then runs uncached) */
struct bayes_tokcache *bayes_tokcache_new(void);
void bayes_tokcache_free(struct bayes_tokcache *);

/* Change rows between the cache's number and the snapshot's are read by
 * the store through this callback, called with the cache locked; it
 * calls bayes_tokcache_update / bayes_tokcache_clear for each row, in
 * order, and returns 0, or -errno (the cache is then cleared). */
typedef int bayes_tokcache_catchup_fn(
    void *arg, struct bayes_tokcache *, uint64_t from, uint64_t to);

/* bayes_tokcache_sync - bring the cache to log number gen (the last row
 * the caller's snapshot sees). Returns true when the cache is at gen and
 * may serve this snapshot; false when another thread already moved it
 * past gen (an older snapshot: look everything up). A cache with no
 * number yet (new) just takes gen. */
bool bayes_tokcache_sync(struct bayes_tokcache *, uint64_t gen,
    bayes_tokcache_catchup_fn *fn, void *arg);
/* With the lock held (from the catch-up callback only): new counts
 * (zeros: deleted) for those of v[0..n) in the cache; clear all */
void bayes_tokcache_update(
    struct bayes_tokcache *, const struct bayes_tokval *v, size_t n);
void bayes_tokcache_clear(struct bayes_tokcache *);
/* bayes_tokcache_apply_text - a change row in the text form the Redis
 * backend stores: "U" and lines "<token 16 lowercase hex> spam ham
 * atime\n" (decimal, each < 2^32) applied as bayes_tokcache_update;
 * "C" or anything malformed clears (the row came over the network from
 * a store other hosts write too) */
void bayes_tokcache_apply_text(
    struct bayes_tokcache *, const char *p, size_t len);

/* bayes_tokcache_lookup - fill out[i] for cached toks[i]; the indexes of
 * the others go to miss[] (room for n); returns their number. All miss
 * if the cache is not at gen. */
size_t bayes_tokcache_lookup(struct bayes_tokcache *, uint64_t gen,
    const uint64_t *toks, size_t n, struct bayes_tokval *out, size_t *miss);
/* bayes_tokcache_insert - cache out[miss[0..nmiss)] (read in the
 * snapshot of gen; ignored if the cache moved on since) */
void bayes_tokcache_insert(struct bayes_tokcache *, uint64_t gen,
    const struct bayes_tokval *out, const size_t *miss, size_t nmiss);
/* counters for tests and benches: lookups answered, missed, cached
 * tokens updated by change rows, full clears */
struct bayes_tokcache_stats {
	uint64_t hits, misses, updated, clears;
};
void bayes_tokcache_stats(
    struct bayes_tokcache *, struct bayes_tokcache_stats *);

#endif
