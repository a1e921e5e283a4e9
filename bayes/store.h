/*
 * bayes/store.h - the Bayes token store: one interface, two backends
 *
 *   bdb:/var/lib/filterd/bayes  (or a plain path) Berkeley DB environment,
 *                                transactional, many readers, one writer
 *   redis://host:port/db        Redis via hiredis, shared by many hosts
 *
 * A store holds per-token spam/ham message counts and last-access time,
 * the message totals, the seen-message db (class per learned message, so
 * relearning is a no-op and the other class moves the counts) and the
 * token hash key. Every call returns 0 (or a count/status >= 0) or a
 * negative errno; nothing logs.
 */
#ifndef BAYES_STORE_H
#define BAYES_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BAYES_SPAM 1
#define BAYES_HAM 2
#define BAYES_FORGET 0

/* bayes_store_learn results */
#define BAYES_LEARNED 0
#define BAYES_ALREADY 1 /* seen with this class already: no-op */
#define BAYES_NOTSEEN 2 /* forget of a message never learned */

#define BAYES_SEEN_LEN 16 /* seen id: 128 bits of Message-ID + body hash */

struct bayes_vars {
	uint64_t nspam, nham, ntokens;
	uint64_t last_expire; /* unix time of the last expiry run */
	uint8_t hashkey[16];
};

struct bayes_tokval {
	uint64_t tok;
	uint32_t spam, ham, atime;
};

struct bayes_store;

/* bayes_store_open - spec as above; rdwr false opens for lookups only
 * (-ENOENT if a BDB store does not exist yet). */
int bayes_store_open(const char *spec, bool rdwr, struct bayes_store **);
/* bayes_store_close - NULL */
struct bayes_store *bayes_store_close(struct bayes_store *);
const char *bayes_store_kind(const struct bayes_store *); /* "bdb"/"redis" */

int bayes_store_vars(struct bayes_store *, struct bayes_vars *);
/* bayes_store_get - counts of toks[0..n) into out[0..n) (zeros when
 * unknown), one consistent snapshot */
int bayes_store_get(struct bayes_store *, const uint64_t *toks, size_t n,
    struct bayes_tokval *out);
/* bayes_store_learn - learn the message (seen id, token set) as cls
 * (BAYES_SPAM/HAM) or forget it (BAYES_FORGET), atomically; returns
 * BAYES_LEARNED, BAYES_ALREADY, BAYES_NOTSEEN or -errno. */
int bayes_store_learn(struct bayes_store *, const uint8_t seen[16], int cls,
    const uint64_t *toks, size_t n, uint32_t now);
/* One message of a learning batch. */
struct bayes_learn_item {
	uint8_t seen[16];
	int cls;
	const uint64_t *toks;
	size_t n;
};
/* bayes_store_learn_batch - learn items[0..n) in one transaction (BDB:
 * token deltas merged, each token written once); result[i] gets each
 * item's BAYES_LEARNED/ALREADY/NOTSEEN. 0 or -errno; after an error
 * result[i] >= 0 marks the items that are in the store: on BDB none (the
 * batch is one transaction; -ENOMEM: too big for one, more than 250000
 * distinct tokens or the cache: learn it in parts), on Redis those whose
 * script ran (each message is atomic on its own; the scripts go out
 * pipelined). */
int bayes_store_learn_batch(struct bayes_store *,
    const struct bayes_learn_item *items, size_t n, uint32_t now, int *result);
/* bayes_store_touch - set the atime of those of toks[0..n) that exist to
 * now (SA touches the tokens a scan used, so expiry keeps live ones).
 * Never waits for a lock: -EAGAIN when a learner holds one. */
int bayes_store_touch(
    struct bayes_store *, const uint64_t *toks, size_t n, uint32_t now);
/* bayes_store_expire - drop tokens with atime < cutoff; *removed */
int bayes_store_expire(
    struct bayes_store *, uint32_t cutoff, uint64_t *removed);

/* Iteration and raw writes, for dump, backup and restore. */
typedef int bayes_tok_cb(void *arg, const struct bayes_tokval *);
typedef int bayes_seen_cb(void *arg, const uint8_t seen[16], int cls);
int bayes_store_foreach_token(struct bayes_store *, bayes_tok_cb *, void *);
int bayes_store_foreach_seen(struct bayes_store *, bayes_seen_cb *, void *);
/* bayes_store_clear - empty the store (restore starts with this) */
int bayes_store_clear(struct bayes_store *);
int bayes_store_put_tokens(
    struct bayes_store *, const struct bayes_tokval *, size_t n);
int bayes_store_put_seen(
    struct bayes_store *, const uint8_t (*seen)[16], const int *cls, size_t n);
int bayes_store_set_vars(struct bayes_store *, const struct bayes_vars *);

/* Portable text backup ("filterd-bayes-backup 1"): vars, then tokens and
 * seen ids in ascending hex order, so equal stores give equal files. */
int bayes_store_backup(struct bayes_store *, FILE *);
/* bayes_store_restore - replace the store's content with a backup;
 * -EINVAL (*line gets the line number) on a malformed file */
int bayes_store_restore(struct bayes_store *, FILE *, size_t *line);
/* bayes_store_expire_auto - SA-like expiry: when there are more than
 * max_tokens tokens keep the 75% most recently used; also drop tokens
 * not used for max_age seconds (0: no age limit). */
int bayes_store_expire_auto(struct bayes_store *, uint64_t max_tokens,
    uint32_t max_age, uint32_t now, uint64_t *removed);
/* bayes_store_claim_expire - set last_expire to now if it is at least
 * period seconds old (last_expire + period <= now), atomically with the
 * read: 1 when this caller set it, 0 when it was not old enough (another
 * process claimed this round); -errno. Learners in many processes and
 * hosts use it so that one of them runs a due expiry, and it never
 * rewrites the other totals (a read-modify-write of all the vars would
 * undo a concurrent learn's counts). */
int bayes_store_claim_expire(
    struct bayes_store *, uint64_t now, uint64_t period);
/* SpamAssassin's opportunistic expiry (bayes_auto_expire): due when the
 * store holds more than max_tokens tokens and the last expiry is at least
 * period seconds old (SA: 12 hours). */
#define BAYES_EXPIRE_PERIOD (12 * 3600)
bool bayes_expire_due(const struct bayes_vars *, uint64_t max_tokens,
    uint64_t period, uint64_t now);
/* bayes_store_expire_due - when due, claim the round and run
 * bayes_store_expire_auto(max_tokens, no age limit): 1 if this caller
 * ran it (*removed), 0 if it was not due or another process claimed it,
 * -errno */
int bayes_store_expire_due(struct bayes_store *, uint64_t max_tokens,
    uint64_t period, uint32_t now, uint64_t *removed);

/* bayes_store_cache_stats - this handle's token cache counters
 * (bayes/tokcache.h: hits, misses, evictions, clears); -ENOTSUP when the
 * handle has no cache (Redis, FILTERD_BAYES_NOCACHE=1, an old store
 * opened read-only) */
struct bayes_tokcache_stats;
int bayes_store_cache_stats(
    struct bayes_store *, struct bayes_tokcache_stats *);

/* bayes_store_redact - spec as it may be shown (logs, messages): a
 * redis:// password replaced by "***" */
void bayes_store_redact(const char *spec, char *out, size_t n);

/* bayes_store_buffer_cache - the size of the backend's shared buffer
 * cache in bytes (BDB: the environment's, as created); -ENOTSUP for
 * Redis */
int bayes_store_buffer_cache(struct bayes_store *, uint64_t *bytes);

/* Backend table: each backend embeds struct bayes_store first. */
struct bayes_store_ops {
	const char *kind;
	int (*vars)(struct bayes_store *, struct bayes_vars *);
	int (*get)(struct bayes_store *, const uint64_t *, size_t,
	    struct bayes_tokval *);
	int (*learn)(struct bayes_store *, const uint8_t *, int,
	    const uint64_t *, size_t, uint32_t);
	int (*learn_batch)(struct bayes_store *,
	    const struct bayes_learn_item *, size_t, uint32_t, int *);
	int (*touch)(struct bayes_store *, const uint64_t *, size_t, uint32_t);
	int (*expire)(struct bayes_store *, uint32_t, uint64_t *);
	int (*foreach_token)(struct bayes_store *, bayes_tok_cb *, void *);
	int (*foreach_seen)(struct bayes_store *, bayes_seen_cb *, void *);
	int (*clear)(struct bayes_store *);
	int (*put_tokens)(
	    struct bayes_store *, const struct bayes_tokval *, size_t);
	int (*put_seen)(
	    struct bayes_store *, const uint8_t (*)[16], const int *, size_t);
	int (*set_vars)(struct bayes_store *, const struct bayes_vars *);
	int (*claim_expire)(struct bayes_store *, uint64_t, uint64_t);
	int (*cache_stats)(
	    struct bayes_store *, struct bayes_tokcache_stats *); /* or NULL */
	int (*buffer_cache)(struct bayes_store *, uint64_t *); /* or NULL */
	void (*close)(struct bayes_store *);
};

struct bayes_store {
	const struct bayes_store_ops *ops;
};

int bayes__bdb_open(const char *path, bool rdwr, struct bayes_store **);
/* bayes__unhex - exactly 2n lowercase hex digits at s to out[0..n):
 * 0, or -EINVAL (backups, Redis keys and change rows share it) */
int bayes__unhex(const char *s, uint8_t *out, size_t n);
int bayes__redis_open(const char *url, bool rdwr, struct bayes_store **);
/* bayes__round_due - an expiry round is due: last_expire at least period
 * seconds before now (a clock that went back: not); the backends' claims
 * and bayes_expire_due decide with it (Redis: the same test in Lua) */
bool bayes__round_due(uint64_t last_expire, uint64_t now, uint64_t period);
/* bayes__redis_url - redis://[[user]:password@]host[:port][/db] into its
 * parts (user and password percent-decoded, each < asz bytes); 0 or
 * -EINVAL */
struct bayes_redis_url {
	char host[256], user[256], pass[256];
	int port, db;
};
int bayes__redis_url(const char *url, struct bayes_redis_url *out);

#endif
