/*
 * bayes/store_bdb - the Berkeley DB 5.3 backend (default)
 *
 * One transactional environment per store directory with three DBs:
 *   tokens.db  hash; key: token, 8 bytes big-endian (bucket: low bytes);
 *              value: spam, ham, atime as 3 x uint32 little-endian
 *   seen.db    btree; key: 16-byte seen id; value: 1 byte, SPAM/HAM
 *   vars.db    btree; key: name; value: uint64 little-endian, hashkey 16
 *   changes.db btree; key: change number, 8 bytes big-endian; value: "U"
 *              and the new counts of the tokens a transaction changed
 *              (20 bytes each: the 8-byte key and the 12-byte value of
 *              tokens.db, zeros for a deleted token), or "C" when it
 *              changed too many or all of them; the last CHG_KEEP rows
 *              are kept
 * Learning one message (or one batch: learn_batch merges the token
 * changes of all its messages in memory and writes each token once; a
 * batch large against the store reads the token table in one bulk scan
 * instead of a lookup per token) is one transaction (seen checks,
 * tokens, totals), so kill -9 at any point leaves all of it or none:
 * DB_REGISTER|DB_RECOVER runs recovery when the next process opens the
 * environment after a crash. Commits use DB_TXN_WRITE_NOSYNC: the log
 * reaches the OS at commit (survives the process) and the disk at
 * checkpoint. Readers use DB_MULTIVERSION snapshots, so classification
 * never waits for a learning transaction. Deadlocks between writers are
 * retried; a scan's atime touch never waits (DB_TXN_NOWAIT). A panicked
 * environment is recovered at the next open. Errors: Berkeley DB codes
 * become -EIO, -ENOENT, -EAGAIN, -ENOMEM; BDB's own messages are muted.
 * The change log keeps each process's token cache (bayes/tokcache.h)
 * exact: every transaction that changes token counts or atimes (a
 * scan's touch too) appends its row in the same transaction, and a
 * lookup catches its cache up to the last row inside its own snapshot,
 * taking the new values of the tokens it holds. A store created before
 * the log existed gets changes.db at its next read-write open; opened
 * read-only without it, lookups go uncached. Every writer must log: a
 * filterd or filterctl older than the log writing to a store while a
 * newer one reads it leaves the newer one's cache stale until it
 * restarts.
 * Memory: the DB handles are malloc'ed; the cache (BDB_CACHE_MB) is a
 * region file every process maps, grown as pages are used; close frees
 * the handles and unmaps it.
 * Big stores: MVCC copies every page a write transaction changes, and
 * the copies of one transaction must fit the buffer cache: a
 * transaction that runs out of cache (or of mutexes, one a buffer) fails
 * mid-write, and its abort can then fail too and panic the environment
 * (BDB3017/BDB2034, then DB_RUNRECOVERY for every process). So every
 * write transaction is bounded by the pages it may touch (BDB_TXN_PAGES,
 * estimated from the table's size: a token goes to a random bucket), not
 * by its token count: a learning batch over the bound is refused before
 * it writes (-ENOMEM; the caller splits it), restores are split, expiry
 * deletes in chunks of neighbouring records.
 */
#include "bayes/store.h"
#include "bayes/tokcache.h"
#include "util/buf.h"
#include "util/fs.h"

#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define BDB_RETRIES 20
/* The buffer cache, shared by every process of the store. It is a
 * mapped region file that grows as pages are used (a store of the
 * default 150k tokens uses ~20 MB of it); a big table needs the room:
 * MVCC keeps a learning transaction's pages twice, and at 32 MB a store
 * past ~500k tokens learned at ~100 messages a second (20,000 messages,
 * 731k tokens: 203 s; bogofilter 10 s), at 256 MB in 3.7 s. A full disk
 * cannot SIGBUS a process through the bigger region: write_filled()
 * allocates what a region grows by. A DB_CONFIG in the store directory
 * (set_cachesize) overrides it when the environment is created. */
#define BDB_CACHE_MB 256
/* Pages one write transaction may change: a quarter of the cache (the
 * environment's, read after open) in 4 KB pages; each changed page is in
 * the cache twice (the committed version and the transaction's copy) and
 * readers need the rest. */
#define BDB_TXN_PAGES(s) ((s)->cache_bytes / 4096 / 4)
/* The mutex ceiling: one per buffer, and MVCC versions are buffers too;
 * the default (sized for the cache's pages) ran out first. Berkeley DB
 * makes the cache a quarter bigger than asked: 3 a page of that. The
 * region grows on demand up to this (~100 bytes each). */
#define BDB_MUTEX_MAX ((BDB_CACHE_MB << 20) / 4096 * 5 / 4 * 3)
/* Expiry deletes this many records per transaction, neighbours in the
 * table's own order: they share pages (~80-120 a bucket page). */
#define EXPIRE_CHUNK 50000

/* change log limits: CHG_* in bayes/tokcache.h */
#define CHG_REC 20 /* a row's record: token key and value */

struct bdb_store {
	struct bayes_store base;
	DB_ENV *env;
	DB *tok, *seen, *vars, *chg; /* chg: NULL on an old read-only store */
	struct bayes_tokcache *cache; /* NULL: uncached */
	bool rdwr;
	unsigned since_ckp;
	uint64_t cache_bytes; /* the environment's buffer cache */
};

/* txn_pages - pages of tokens.db a transaction writing n distinct tokens
 * may change: a token's bucket is uniform, so n of them hit P(1 - e^-n/P)
 * of the table's P pages (mpool's last page, in-cache pages included),
 * plus the pages bucket splits add for new tokens (one per 120, the fill
 * factor) */
static uint64_t
txn_pages(struct bdb_store *s, uint64_t n)
{
	DB_MPOOLFILE *mpf = s->tok->get_mpf(s->tok);
	db_pgno_t last = 0;
	double pg;

	if (mpf == NULL || mpf->get_last_pgno(mpf, &last) != 0)
		last = 0;
	pg = (double)last + 1.0;
	return (uint64_t)(pg * -expm1(-(double)n / pg) + (double)n / 120.0) +
	    1;
}

static int
errc(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case ENOENT:
		return -ENOENT;
	case ENOMEM:
		return -ENOMEM;
	case EACCES:
		return -EACCES;
	case DB_LOCK_DEADLOCK:
	case DB_LOCK_NOTGRANTED:
		return -EAGAIN;
	default:
		return rc > 0 ? -rc : -EIO;
	}
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
tokkey(uint8_t k[8], uint64_t t)
{
	for (int i = 7; i >= 0; i--, t >>= 8)
		k[i] = (uint8_t)t;
}

static uint64_t
keytok(const uint8_t k[8])
{
	uint64_t t = 0;

	for (int i = 0; i < 8; i++)
		t = (t << 8) | k[i];
	return t;
}

/* chg_last - the number of the change log's last row (0: none) as txn
 * sees it; rmw write-locks it, so concurrent writers take turns */
static int
chg_last(struct bdb_store *s, DB_TXN *txn, uint64_t *gen, bool rmw)
{
	DBC *c;
	uint8_t kb[8];
	DBT k = { 0 }, v = { 0 };
	int rc;

	*gen = 0;
	if ((rc = s->chg->cursor(s->chg, txn, &c, rmw ? 0 : DB_TXN_SNAPSHOT)) !=
	    0)
		return errc(rc);
	k.data = kb;
	k.ulen = sizeof(kb);
	k.flags = DB_DBT_USERMEM;
	/* only the key: a row's tokens are not read here */
	v.flags = DB_DBT_PARTIAL;
	rc = c->get(c, &k, &v, DB_LAST | (rmw ? DB_RMW : 0));
	if (rc == 0 && k.size == 8)
		*gen = keytok(kb);
	c->close(c);
	return rc == 0 || rc == DB_NOTFOUND ? 0 : errc(rc);
}

/* log_change - append the change row of txn: the new counts v[0..n)
 * (v NULL: everything changed), and drop the row CHG_KEEP before it */
static int
log_change(
    struct bdb_store *s, DB_TXN *txn, const struct bayes_tokval *v, size_t n)
{
	uint8_t kb[8], *vb = NULL;
	DBT k = { 0 }, d = { 0 };
	uint64_t gen;
	int rc;

	if (s->chg == NULL)
		return 0;
	if ((rc = chg_last(s, txn, &gen, true)) < 0)
		return rc;
	if (v != NULL && n <= CHG_MAX_TOKENS &&
	    (vb = malloc(1 + n * CHG_REC)) != NULL) {
		vb[0] = 'U';
		for (size_t i = 0; i < n; i++) {
			uint8_t *r = vb + 1 + i * CHG_REC;

			tokkey(r, v[i].tok);
			put32(r + 8, v[i].spam);
			put32(r + 12, v[i].ham);
			put32(r + 16, v[i].atime);
		}
		d.data = vb;
		d.size = (u_int32_t)(1 + n * CHG_REC);
	} else {
		d.data = "C";
		d.size = 1;
	}
	k.data = kb;
	k.size = 8;
	tokkey(kb, gen + 1);
	rc = s->chg->put(s->chg, txn, &k, &d, 0);
	free(vb);
	if (rc != 0)
		return errc(rc);
	if (gen + 1 > CHG_KEEP) {
		tokkey(kb, gen + 1 - CHG_KEEP);
		rc = s->chg->del(s->chg, txn, &k, 0);
		if (rc != 0 && rc != DB_NOTFOUND)
			return errc(rc);
	}
	return 0;
}

struct catchup {
	struct bdb_store *s;
	DB_TXN *txn;
};

/* catchup - apply the rows from..to, read in the reader's snapshot, to
 * the cache; a missing row (trimmed), "C" or anything unknown clears */
static int
catchup(void *arg, struct bayes_tokcache *c, uint64_t from, uint64_t to)
{
	struct catchup *cu = arg;
	uint8_t kb[8];
	struct bayes_tokval tv[256];
	DBT k = { 0 }, v = { 0 };
	int rc;

	if (to - from >= CHG_CATCHUP_MAX)
		return -ERANGE;
	k.data = kb;
	k.size = 8;
	v.flags = DB_DBT_MALLOC;
	for (uint64_t g = from; g <= to; g++) {
		const uint8_t *p;
		size_t n;

		tokkey(kb, g);
		if ((rc = cu->s->chg->get(cu->s->chg, cu->txn, &k, &v, 0)) != 0)
			return rc == DB_NOTFOUND ? -ENOENT : errc(rc);
		p = v.data;
		if (v.size < 1 || p[0] != 'U' || (v.size - 1) % CHG_REC != 0) {
			bayes_tokcache_clear(c);
			n = 0;
		} else {
			n = (v.size - 1) / CHG_REC;
		}
		for (size_t i = 0; i < n; i += 256) {
			size_t m = n - i < 256 ? n - i : 256;

			for (size_t j = 0; j < m; j++) {
				const uint8_t *r = p + 1 + (i + j) * CHG_REC;

				tv[j].tok = keytok(r);
				tv[j].spam = get32(r + 8);
				tv[j].ham = get32(r + 12);
				tv[j].atime = get32(r + 16);
			}
			bayes_tokcache_update(c, tv, m);
		}
		free(v.data);
		v.data = NULL;
	}
	return 0;
}

static int
var_get(struct bdb_store *s, DB_TXN *txn, const char *name, void *out,
    size_t len, u_int32_t flags)
{
	DBT k = { 0 }, d = { 0 };
	int rc;

	k.data = (void *)name;
	k.size = (u_int32_t)strlen(name);
	d.data = out;
	d.ulen = (u_int32_t)len;
	d.flags = DB_DBT_USERMEM;
	rc = s->vars->get(s->vars, txn, &k, &d, flags);
	if (rc == DB_NOTFOUND) {
		memset(out, 0, len);
		return 0;
	}
	return errc(rc);
}

static int
var_put(struct bdb_store *s, DB_TXN *txn, const char *name, const void *v,
    size_t len)
{
	DBT k = { 0 }, d = { 0 };

	k.data = (void *)name;
	k.size = (u_int32_t)strlen(name);
	d.data = (void *)v;
	d.size = (u_int32_t)len;
	return errc(s->vars->put(s->vars, txn, &k, &d, 0));
}

static int
var_get64(struct bdb_store *s, DB_TXN *txn, const char *name, uint64_t *v,
    u_int32_t flags)
{
	uint8_t b[8];
	int rc = var_get(s, txn, name, b, 8, flags);

	*v = (uint64_t)get32(b) | (uint64_t)get32(b + 4) << 32;
	return rc;
}

static int
var_put64(struct bdb_store *s, DB_TXN *txn, const char *name, uint64_t v)
{
	uint8_t b[8];

	put32(b, (uint32_t)v);
	put32(b + 4, (uint32_t)(v >> 32));
	return var_put(s, txn, name, b, 8);
}

static int
bdb_vars(struct bayes_store *st, struct bayes_vars *v)
{
	struct bdb_store *s = (struct bdb_store *)st;
	DB_TXN *txn;
	int rc;

	if ((rc = errc(
		 s->env->txn_begin(s->env, NULL, &txn, DB_TXN_SNAPSHOT))) < 0)
		return rc;
	if ((rc = var_get64(s, txn, "nspam", &v->nspam, 0)) < 0 ||
	    (rc = var_get64(s, txn, "nham", &v->nham, 0)) < 0 ||
	    (rc = var_get64(s, txn, "ntokens", &v->ntokens, 0)) < 0 ||
	    (rc = var_get64(s, txn, "last_expire", &v->last_expire, 0)) < 0 ||
	    (rc = var_get(s, txn, "hashkey", v->hashkey, 16, 0)) < 0) {
		txn->abort(txn);
		return rc;
	}
	return errc(txn->commit(txn, 0));
}

static int
bdb_get(struct bayes_store *st, const uint64_t *toks, size_t n,
    struct bayes_tokval *out)
{
	struct bdb_store *s = (struct bdb_store *)st;
	DB_TXN *txn;
	DBC *c;
	uint8_t kb[8], vb[12];
	DBT k = { 0 }, d = { 0 };
	uint64_t gen = 0;
	size_t *miss = NULL, nmiss = n;
	int rc = 0;

	if ((rc = errc(
		 s->env->txn_begin(s->env, NULL, &txn, DB_TXN_SNAPSHOT))) < 0)
		return rc;
	/* the cache answers what it can for this snapshot's change number */
	if (s->cache != NULL) {
		struct catchup cu = { s, txn };

		/* the log unreadable: this lookup goes to the tokens alone */
		if (chg_last(s, txn, &gen, false) == 0 &&
		    bayes_tokcache_sync(s->cache, gen, catchup, &cu) &&
		    (miss = malloc(n * sizeof(*miss) + 1)) != NULL)
			nmiss = bayes_tokcache_lookup(
			    s->cache, gen, toks, n, out, miss);
	}
	if (nmiss == 0) {
		free(miss);
		return errc(txn->commit(txn, 0));
	}
	/* one cursor for all lookups: DB->get would build one per call */
	if ((rc = s->tok->cursor(s->tok, txn, &c, DB_TXN_SNAPSHOT)) != 0) {
		free(miss);
		txn->abort(txn);
		return errc(rc);
	}
	k.data = kb;
	k.size = 8;
	k.ulen = 8;
	k.flags = DB_DBT_USERMEM;
	d.data = vb;
	d.ulen = sizeof(vb);
	d.flags = DB_DBT_USERMEM;
	for (size_t j = 0; j < nmiss; j++) {
		size_t i = miss != NULL ? miss[j] : j;

		out[i].tok = toks[i];
		tokkey(kb, toks[i]);
		rc = c->get(c, &k, &d, DB_SET);
		if (rc == 0 && d.size == 12) {
			out[i].spam = get32(vb);
			out[i].ham = get32(vb + 4);
			out[i].atime = get32(vb + 8);
		} else if (rc == 0 || rc == DB_NOTFOUND) {
			out[i].spam = out[i].ham = out[i].atime = 0;
		} else {
			break;
		}
		rc = 0;
	}
	c->close(c);
	if (rc != 0) {
		free(miss);
		txn->abort(txn);
		return errc(rc);
	}
	if (miss != NULL)
		bayes_tokcache_insert(s->cache, gen, out, miss, nmiss);
	free(miss);
	return errc(txn->commit(txn, 0));
}

/* apply - add d (+1/-1) to the cls count of every token; *dtok gets the
 * change in the number of distinct tokens */
static int
apply(struct bdb_store *s, DB_TXN *txn, int cls, int d, const uint64_t *toks,
    size_t n, uint32_t now, int64_t *dtok, struct bayes_tokval *fin)
{
	uint8_t kb[8], vb[12];
	DBT k = { 0 }, v = { 0 };
	int rc;

	k.data = kb;
	k.size = 8;
	v.data = vb;
	v.ulen = sizeof(vb);
	v.flags = DB_DBT_USERMEM;
	for (size_t i = 0; i < n; i++) {
		uint32_t sp = 0, hm = 0, at = 0;

		tokkey(kb, toks[i]);
		rc = s->tok->get(s->tok, txn, &k, &v, DB_RMW);
		if (rc == 0 && v.size == 12) {
			sp = get32(vb);
			hm = get32(vb + 4);
			at = get32(vb + 8);
		} else if (rc != DB_NOTFOUND && rc != 0) {
			return errc(rc);
		}
		bool existed = sp + hm > 0;
		uint32_t *c = cls == BAYES_SPAM ? &sp : &hm;

		if (d > 0) {
			(*c)++;
			if (now > at)
				at = now;
		} else if (*c > 0) {
			(*c)--;
		}
		if (fin != NULL) {
			fin[i].tok = toks[i];
			fin[i].spam = sp;
			fin[i].ham = hm;
			fin[i].atime = sp + hm == 0 ? 0 : at;
		}
		if (sp + hm == 0) {
			if (existed) {
				rc = s->tok->del(s->tok, txn, &k, 0);
				if (rc != 0 && rc != DB_NOTFOUND)
					return errc(rc);
				(*dtok)--;
			}
			continue;
		}
		if (!existed)
			(*dtok)++;
		put32(vb, sp);
		put32(vb + 4, hm);
		put32(vb + 8, at);
		v.size = 12;
		if ((rc = s->tok->put(s->tok, txn, &k, &v, 0)) != 0)
			return errc(rc);
	}
	return 0;
}

static int
learn_once(struct bdb_store *s, const uint8_t *seen, int cls,
    const uint64_t *toks, size_t n, uint32_t now)
{
	DB_TXN *txn;
	DBT k = { 0 }, v = { 0 };
	uint8_t old = 0, nb = (uint8_t)cls;
	uint64_t ns, nh, nt;
	int64_t dtok = 0;
	/* the new counts, for the change row (NULL: it says "all") */
	struct bayes_tokval *fin = malloc(n ? n * sizeof(*fin) : 1);
	int rc;

	if ((rc = errc(s->env->txn_begin(s->env, NULL, &txn, 0))) < 0) {
		free(fin);
		return rc;
	}
	k.data = (void *)seen;
	k.size = BAYES_SEEN_LEN;
	v.data = &old;
	v.ulen = 1;
	v.flags = DB_DBT_USERMEM;
	rc = s->seen->get(s->seen, txn, &k, &v, DB_RMW);
	if (rc == DB_NOTFOUND)
		old = 0;
	else if (rc != 0)
		goto fail;
	if (old == cls || (cls == BAYES_FORGET && old == 0)) {
		txn->abort(txn);
		free(fin);
		return cls == BAYES_FORGET ? BAYES_NOTSEEN : BAYES_ALREADY;
	}
	if ((rc = var_get64(s, txn, "nspam", &ns, DB_RMW)) < 0 ||
	    (rc = var_get64(s, txn, "nham", &nh, DB_RMW)) < 0 ||
	    (rc = var_get64(s, txn, "ntokens", &nt, DB_RMW)) < 0)
		goto fail_neg;
	if (old != 0) {
		if ((rc = apply(s, txn, old, -1, toks, n, now, &dtok, fin)) < 0)
			goto fail_neg;
		if (old == BAYES_SPAM && ns > 0)
			ns--;
		else if (old == BAYES_HAM && nh > 0)
			nh--;
	}
	if (cls != BAYES_FORGET) {
		if ((rc = apply(s, txn, cls, 1, toks, n, now, &dtok, fin)) < 0)
			goto fail_neg;
		if (cls == BAYES_SPAM)
			ns++;
		else
			nh++;
		v.data = &nb;
		v.size = 1;
		v.flags = 0;
		if ((rc = s->seen->put(s->seen, txn, &k, &v, 0)) != 0)
			goto fail;
	} else if ((rc = s->seen->del(s->seen, txn, &k, 0)) != 0) {
		goto fail;
	}
	nt = (int64_t)nt + dtok < 0 ? 0 : (uint64_t)((int64_t)nt + dtok);
	if ((rc = var_put64(s, txn, "nspam", ns)) < 0 ||
	    (rc = var_put64(s, txn, "nham", nh)) < 0 ||
	    (rc = var_put64(s, txn, "ntokens", nt)) < 0 ||
	    (rc = log_change(s, txn, fin, n)) < 0)
		goto fail_neg;
	free(fin);
	return errc(txn->commit(txn, 0));
fail:
	rc = errc(rc);
fail_neg:
	txn->abort(txn);
	free(fin);
	return rc;
}

static void
maybe_checkpoint(struct bdb_store *s)
{
	/* flush the log to disk now and then, so recovery stays short */
	if (++s->since_ckp >= 500) {
		s->env->txn_checkpoint(s->env, 1024, 0, 0);
		s->since_ckp = 0;
	}
}

static int
bdb_learn(struct bayes_store *st, const uint8_t *seen, int cls,
    const uint64_t *toks, size_t n, uint32_t now)
{
	struct bdb_store *s = (struct bdb_store *)st;
	int rc = -EAGAIN;

	if (!s->rdwr)
		return -EROFS;
	for (int i = 0; i < BDB_RETRIES && rc == -EAGAIN; i++)
		rc = learn_once(s, seen, cls, toks, n, now);
	if (rc >= 0)
		maybe_checkpoint(s);
	return rc;
}

/* One token's merged change in a batch, and its stored counts once read.
 * Learning one message at a time clamps each count at 0 (forgetting a
 * message whose tokens were expired), so the order of +1/-1 matters:
 * from a stored count x, steps with prefix sums S_1..S_n end at
 * S_n + max(x, -min S_k) (a walk reflected at 0). ds/dh are S_n, ms/mh
 * the minimum prefix sums (<= 0); grew: some step added (atime = now). */
struct delta {
	uint64_t tok;
	int32_t ds, dh, ms, mh;
	uint32_t sp, hm, at;
	bool grew, found;
};

/* dtab - the batch's deltas, one per distinct token: a dense array in
 * first-seen order plus an open-addressing index into it (slot 0 =
 * empty, else array position + 1). A batch of N token occurrences has
 * far fewer distinct tokens (the 2002 ham: 742k -> 110k), so merging
 * here costs one probe per occurrence and memory per distinct token. */
struct dtab {
	struct delta *v;
	uint32_t *idx;
	size_t n, cap, mask;
};

#define DTAB_MIN_SLOTS 4096

static void
dtab_free(struct dtab *t)
{
	free(t->v);
	free(t->idx);
	memset(t, 0, sizeof(*t));
}

static void
dtab_reset(struct dtab *t)
{
	if (t->idx != NULL)
		memset(t->idx, 0, (t->mask + 1) * sizeof(*t->idx));
	t->n = 0;
}

/* the tokens are SipHash values: their bits are uniform already */
static size_t
dtab_slot(const struct dtab *t, uint64_t tok)
{
	return (size_t)(tok ^ (tok >> 32)) & t->mask;
}

static struct delta *
dtab_find(const struct dtab *t, uint64_t tok)
{
	for (size_t i = dtab_slot(t, tok);; i = (i + 1) & t->mask) {
		uint32_t x = t->idx[i];

		if (x == 0)
			return NULL;
		if (t->v[x - 1].tok == tok)
			return &t->v[x - 1];
	}
}

/* dtab_grow - room for one more entry: the index at most half full */
static int
dtab_grow(struct dtab *t)
{
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : DTAB_MIN_SLOTS / 2;
		struct delta *nv = realloc(t->v, nc * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		t->v = nv;
		t->cap = nc;
	}
	if (t->idx == NULL || (t->n + 1) * 2 > t->mask + 1) {
		size_t slots = t->idx == NULL ? DTAB_MIN_SLOTS : (t->mask + 1) * 2;
		uint32_t *ni;

		if (slots > UINT32_MAX || (ni = calloc(slots, sizeof(*ni))) == NULL)
			return -ENOMEM;
		free(t->idx);
		t->idx = ni;
		t->mask = slots - 1;
		for (size_t k = 0; k < t->n; k++) {
			size_t i = dtab_slot(t, t->v[k].tok);

			while (t->idx[i] != 0)
				i = (i + 1) & t->mask;
			t->idx[i] = (uint32_t)k + 1;
		}
	}
	return 0;
}

/* step - one message's change to tok: first the old class's -1, then
 * the new class's +1, as bayes_store_learn applies them */
static void
step(struct delta *e, int old, int cls)
{
	if (old == BAYES_SPAM && --e->ds < e->ms)
		e->ms = e->ds;
	else if (old == BAYES_HAM && --e->dh < e->mh)
		e->mh = e->dh;
	if (cls == BAYES_SPAM)
		e->ds++, e->grew = true;
	else if (cls == BAYES_HAM)
		e->dh++, e->grew = true;
}

/* dtab_add - one message's change to tok (see step) */
static int
dtab_add(struct dtab *t, uint64_t tok, int old, int cls)
{
	size_t i;
	int rc;

	if (t->idx != NULL) {
		for (i = dtab_slot(t, tok); t->idx[i] != 0;
		     i = (i + 1) & t->mask) {
			struct delta *e = &t->v[t->idx[i] - 1];

			if (e->tok == tok) {
				step(e, old, cls);
				return 0;
			}
		}
	}
	if ((rc = dtab_grow(t)) < 0)
		return rc;
	for (i = dtab_slot(t, tok); t->idx[i] != 0; i = (i + 1) & t->mask)
		;
	t->v[t->n] = (struct delta){ .tok = tok };
	step(&t->v[t->n], old, cls);
	t->idx[i] = (uint32_t)++t->n;
	return 0;
}

/* new_counts - the stored counts after the batch's steps, as learning
 * its messages one by one leaves them (see struct delta); the atime moves
 * to now when a count grew. Returns 0: unchanged, 1: write vb, -1: the
 * token is left with no count (delete it if stored). */
static int
new_counts(const struct delta *e, uint32_t now, uint8_t vb[12])
{
	int64_t xs = e->sp, xh = e->hm;
	int64_t sp = e->ds + (xs > -(int64_t)e->ms ? xs : -(int64_t)e->ms);
	int64_t hm = e->dh + (xh > -(int64_t)e->mh ? xh : -(int64_t)e->mh);
	uint32_t at = e->at;

	if (e->grew && now > at)
		at = now;
	if (sp + hm == 0)
		return -1;
	if (e->found && (uint32_t)sp == e->sp && (uint32_t)hm == e->hm &&
	    at == e->at)
		return 0;
	put32(vb, (uint32_t)sp);
	put32(vb + 4, (uint32_t)hm);
	put32(vb + 8, at);
	return 1;
}

/* apply_lookup - the batch's deltas, one cursor lookup and write per
 * token (batches small against the store) */
static int
apply_lookup(struct bdb_store *s, DB_TXN *txn, struct dtab *t, uint32_t now,
    int64_t *dtok)
{
	uint8_t kb[8], vb[12];
	DBT k = { 0 }, v = { 0 };
	DBC *c;
	int rc;

	if ((rc = s->tok->cursor(s->tok, txn, &c, 0)) != 0)
		return errc(rc);
	k.data = kb;
	k.size = 8;
	k.ulen = 8;
	k.flags = DB_DBT_USERMEM;
	v.data = vb;
	v.ulen = sizeof(vb);
	v.flags = DB_DBT_USERMEM;
	for (size_t i = 0; i < t->n; i++) {
		struct delta *e = &t->v[i];
		int w;

		tokkey(kb, e->tok);
		rc = c->get(c, &k, &v, DB_SET | DB_RMW);
		if (rc != 0 && rc != DB_NOTFOUND)
			goto out;
		e->found = rc == 0 && v.size == 12;
		e->sp = e->found ? get32(vb) : 0;
		e->hm = e->found ? get32(vb + 4) : 0;
		e->at = e->found ? get32(vb + 8) : 0;
		if ((w = new_counts(e, now, vb)) == 0)
			continue;
		if (w < 0) {
			if (e->found) {
				if ((rc = c->del(c, 0)) != 0)
					goto out;
				(*dtok)--;
			}
			continue;
		}
		v.size = 12;
		if (e->found) {
			rc = c->put(c, &k, &v, DB_CURRENT);
		} else {
			rc = s->tok->put(s->tok, txn, &k, &v, 0);
			(*dtok)++;
		}
		if (rc != 0)
			goto out;
	}
	rc = 0;
out:
	c->close(c);
	return errc(rc);
}

#define SCAN_BUF (1u << 20) /* bulk read buffer of the table scan */

/* apply_scan - the batch's deltas when they touch a good part of the
 * store (a first training run touches all of it): one sequential bulk
 * read of the whole table (DB_MULTIPLE_KEY, write-locked as it goes)
 * finds the stored counts, then each token is written with a single
 * keyed put or delete. A lookup per token costs two hash searches for a
 * new token (the miss, then the put) and one for a known one; this costs
 * one, plus the scan. */
static int
apply_scan(struct bdb_store *s, DB_TXN *txn, struct dtab *t, uint32_t now,
    int64_t *dtok)
{
	uint8_t kb[8], vb[12];
	DBT k = { 0 }, v = { 0 };
	DBC *c;
	void *buf, *p, *kp, *vp;
	u_int32_t kl, vl;
	int rc;

	for (size_t i = 0; i < t->n; i++)
		t->v[i].found = false, t->v[i].sp = t->v[i].hm = t->v[i].at = 0;
	if ((buf = malloc(SCAN_BUF)) == NULL)
		return -ENOMEM;
	if ((rc = s->tok->cursor(s->tok, txn, &c, 0)) != 0) {
		free(buf);
		return errc(rc);
	}
	v.data = buf;
	v.ulen = SCAN_BUF;
	v.flags = DB_DBT_USERMEM;
	while ((rc = c->get(c, &k, &v, DB_NEXT | DB_MULTIPLE_KEY | DB_RMW)) ==
	    0) {
		DB_MULTIPLE_INIT(p, &v);
		for (;;) {
			DB_MULTIPLE_KEY_NEXT(p, &v, kp, kl, vp, vl);
			if (p == NULL)
				break;
			struct delta *e = kl == 8 && vl == 12
			    ? dtab_find(t, keytok(kp))
			    : NULL;
			if (e == NULL)
				continue;
			e->found = true;
			e->sp = get32(vp);
			e->hm = get32((uint8_t *)vp + 4);
			e->at = get32((uint8_t *)vp + 8);
		}
	}
	c->close(c);
	free(buf);
	if (rc != DB_NOTFOUND)
		return errc(rc);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = kb;
	k.size = 8;
	v.data = vb;
	v.size = 12;
	for (size_t i = 0; i < t->n; i++) {
		const struct delta *e = &t->v[i];
		int w;

		tokkey(kb, e->tok);
		if ((w = new_counts(e, now, vb)) == 0)
			continue;
		if (w < 0) {
			if (e->found) {
				if ((rc = s->tok->del(s->tok, txn, &k, 0)) != 0)
					return errc(rc);
				(*dtok)--;
			}
			continue;
		}
		if ((rc = s->tok->put(s->tok, txn, &k, &v, 0)) != 0)
			return errc(rc);
		if (!e->found)
			(*dtok)++;
	}
	return 0;
}

/* A batch with at least 1/SCAN_FRACTION as many distinct tokens as the
 * store holds reads the whole table instead of looking tokens up: a bulk
 * read costs about a tenth of a keyed search per record. */
#define SCAN_FRACTION 8
/* Distinct tokens one batch may write, besides BDB_TXN_PAGES: the
 * transaction's log and its change row grow with it (with the 32 MB
 * cache of old, a batch of 700k new tokens failed, 450k passed). */
#define BDB_BATCH_MAX_TOKENS 250000

/* log_batch - the change row of a batch: the new counts of the tokens
 * whose counts it changed */
static int
log_batch(struct bdb_store *s, DB_TXN *txn, const struct dtab *t, uint32_t now)
{
	struct bayes_tokval *fin = NULL;
	size_t n = 0;
	int rc;

	if (t->n <= CHG_MAX_TOKENS &&
	    (fin = malloc(t->n * sizeof(*fin) + 1)) != NULL) {
		for (size_t i = 0; i < t->n; i++) {
			const struct delta *e = &t->v[i];
			uint8_t vb[12];
			int w = new_counts(e, now, vb);

			if (w == 0)
				continue; /* unchanged */
			fin[n].tok = e->tok;
			fin[n].spam = w < 0 ? 0 : get32(vb);
			fin[n].ham = w < 0 ? 0 : get32(vb + 4);
			fin[n].atime = w < 0 ? 0 : get32(vb + 8);
			n++;
		}
	}
	rc = log_change(s, txn, fin, n);
	free(fin);
	return rc;
}

static int
batch_once(struct bdb_store *s, const struct bayes_learn_item *items, size_t n,
    uint32_t now, int *result, struct dtab *t)
{
	DB_TXN *txn;
	DBT k = { 0 }, v = { 0 };
	uint64_t ns, nh, nt;
	int64_t dtok = 0;
	int rc;

	dtab_reset(t);
	if ((rc = errc(s->env->txn_begin(s->env, NULL, &txn, 0))) < 0)
		return rc;
	if ((rc = var_get64(s, txn, "nspam", &ns, DB_RMW)) < 0 ||
	    (rc = var_get64(s, txn, "nham", &nh, DB_RMW)) < 0 ||
	    (rc = var_get64(s, txn, "ntokens", &nt, DB_RMW)) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct bayes_learn_item *it = &items[i];
		uint8_t old = 0, nb = (uint8_t)it->cls;

		k.data = (void *)it->seen;
		k.size = BAYES_SEEN_LEN;
		v.data = &old;
		v.ulen = 1;
		v.flags = DB_DBT_USERMEM;
		/* earlier items of this batch are visible: same txn */
		rc = s->seen->get(s->seen, txn, &k, &v, DB_RMW);
		if (rc == DB_NOTFOUND)
			old = 0;
		else if (rc != 0) {
			rc = errc(rc);
			goto fail;
		}
		if (old == it->cls || (it->cls == BAYES_FORGET && old == 0)) {
			result[i] = it->cls == BAYES_FORGET ? BAYES_NOTSEEN
							    : BAYES_ALREADY;
			continue;
		}
		/* merge: each token read and written once per batch */
		for (size_t j = 0; j < it->n; j++)
			if ((rc = dtab_add(t, it->toks[j], old, it->cls)) < 0)
				goto fail;
		if (old == BAYES_SPAM && ns > 0)
			ns--;
		else if (old == BAYES_HAM && nh > 0)
			nh--;
		if (it->cls != BAYES_FORGET) {
			if (it->cls == BAYES_SPAM)
				ns++;
			else
				nh++;
			v.data = &nb;
			v.size = 1;
			v.flags = 0;
			rc = s->seen->put(s->seen, txn, &k, &v, 0);
		} else {
			rc = s->seen->del(s->seen, txn, &k, 0);
		}
		if (rc != 0) {
			rc = errc(rc);
			goto fail;
		}
		result[i] = BAYES_LEARNED;
	}
	/* refuse before writing a token: the caller splits the batch (an
	 * out-of-cache error mid-write can leave the environment panicked;
	 * a single message goes ahead, its few hundred tokens fit) */
	if ((t->n > BDB_BATCH_MAX_TOKENS ||
		txn_pages(s, t->n) > BDB_TXN_PAGES(s)) &&
	    n > 1) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((uint64_t)t->n * SCAN_FRACTION >= nt)
		rc = apply_scan(s, txn, t, now, &dtok);
	else
		rc = apply_lookup(s, txn, t, now, &dtok);
	if (rc < 0)
		goto fail;
	nt = (int64_t)nt + dtok < 0 ? 0 : (uint64_t)((int64_t)nt + dtok);
	if ((rc = var_put64(s, txn, "nspam", ns)) < 0 ||
	    (rc = var_put64(s, txn, "nham", nh)) < 0 ||
	    (rc = var_put64(s, txn, "ntokens", nt)) < 0 ||
	    (t->n > 0 && (rc = log_batch(s, txn, t, now)) < 0))
		goto fail;
	return errc(txn->commit(txn, 0));
fail:
	txn->abort(txn);
	return rc;
}

static int
bdb_learn_batch(struct bayes_store *st, const struct bayes_learn_item *items,
    size_t n, uint32_t now, int *result)
{
	struct bdb_store *s = (struct bdb_store *)st;
	struct dtab t = { 0 };
	int rc = -EAGAIN;

	if (!s->rdwr)
		return -EROFS;
	for (int i = 0; i < BDB_RETRIES && rc == -EAGAIN; i++)
		rc = batch_once(s, items, n, now, result, &t);
	dtab_free(&t);
	if (rc >= 0)
		maybe_checkpoint(s);
	else /* aborted: nothing of the batch is in the store */
		for (size_t i = 0; i < n; i++)
			result[i] = -1;
	return rc;
}

static int
bdb_touch(struct bayes_store *st, const uint64_t *toks, size_t n, uint32_t now)
{
	struct bdb_store *s = (struct bdb_store *)st;
	uint8_t kb[8], vb[12];
	DBT k = { 0 }, v = { 0 };
	DB_TXN *txn;
	/* the touched tokens' counts, for the change row: every worker's
	 * cache learns the new atime, so only one of them touches a token
	 * an hour (NULL: the row says "all") */
	struct bayes_tokval *fin = malloc(n ? n * sizeof(*fin) : 1);
	size_t m = 0;
	int rc = 0;

	if (!s->rdwr) {
		free(fin);
		return -EROFS;
	}
	/* a scan must not wait behind a learning transaction: NOWAIT */
	if ((rc = errc(s->env->txn_begin(s->env, NULL, &txn, DB_TXN_NOWAIT))) <
	    0) {
		free(fin);
		return rc;
	}
	k.data = kb;
	k.size = 8;
	v.data = vb;
	v.ulen = sizeof(vb);
	v.flags = DB_DBT_USERMEM;
	for (size_t i = 0; i < n && rc == 0; i++) {
		tokkey(kb, toks[i]);
		rc = s->tok->get(s->tok, txn, &k, &v, DB_RMW);
		if (rc == DB_NOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc != 0 || v.size != 12 || get32(vb + 8) >= now)
			continue;
		put32(vb + 8, now);
		rc = s->tok->put(s->tok, txn, &k, &v, 0);
		if (fin != NULL)
			fin[m++] = (struct bayes_tokval){ toks[i], get32(vb),
				get32(vb + 4), now };
	}
	if (rc == 0 && (fin == NULL || m > 0))
		rc = log_change(s, txn, fin, m);
	free(fin);
	if (rc != 0) {
		txn->abort(txn);
		return rc < 0 ? rc : errc(rc);
	}
	return errc(txn->commit(txn, 0));
}

/* walk - run fn over every record of db in a snapshot (or, with del,
 * in a write transaction deleting records fn returns 1 for) */
static int
walk(struct bdb_store *s, DB *db, bool write,
    int (*fn)(void *, const DBT *, const DBT *), void *arg, uint64_t *ndel)
{
	DB_TXN *txn;
	DBC *c;
	DBT k = { 0 }, v = { 0 };
	int rc, r = 0;

	if ((rc = errc(s->env->txn_begin(
		 s->env, NULL, &txn, write ? 0 : DB_TXN_SNAPSHOT))) < 0)
		return rc;
	if ((rc = db->cursor(db, txn, &c, write ? 0 : DB_TXN_SNAPSHOT)) != 0) {
		txn->abort(txn);
		return errc(rc);
	}
	while ((rc = c->get(c, &k, &v, DB_NEXT | (write ? DB_RMW : 0))) == 0) {
		if ((r = fn(arg, &k, &v)) < 0)
			break;
		if (r == 1 && write) {
			if ((rc = c->del(c, 0)) != 0)
				break;
			(*ndel)++;
		}
	}
	c->close(c);
	if (r < 0) {
		txn->abort(txn);
		return r;
	}
	if (rc != DB_NOTFOUND) {
		txn->abort(txn);
		return errc(rc);
	}
	/* deleted tokens: every cache starts over */
	if (write && db == s->tok && *ndel > 0 &&
	    (r = log_change(s, txn, NULL, 0)) < 0) {
		txn->abort(txn);
		return r;
	}
	return errc(txn->commit(txn, 0));
}

struct tokwalk {
	bayes_tok_cb *cb;
	void *arg;
	uint32_t cutoff;
};

static int
tok_rec(void *arg, const DBT *k, const DBT *v)
{
	struct tokwalk *w = arg;
	struct bayes_tokval t;

	if (k->size != 8 || v->size != 12)
		return 0;
	t.tok = keytok(k->data);
	t.spam = get32(v->data);
	t.ham = get32((const uint8_t *)v->data + 4);
	t.atime = get32((const uint8_t *)v->data + 8);
	if (w->cb == NULL)
		return t.atime < w->cutoff ? 1 : 0;
	return w->cb(w->arg, &t);
}

static int
bdb_foreach_token(struct bayes_store *st, bayes_tok_cb *cb, void *arg)
{
	struct tokwalk w = { cb, arg, 0 };

	return walk((struct bdb_store *)st, ((struct bdb_store *)st)->tok,
	    false, tok_rec, &w, NULL);
}

/* expired keys in the table's order (bucket by bucket), 8 bytes each */
struct oldkeys {
	struct buf keys;
	uint32_t cutoff;
};

static int
old_rec(void *arg, const DBT *k, const DBT *v)
{
	struct oldkeys *o = arg;
	uint64_t t;

	if (k->size != 8 || v->size != 12 ||
	    get32((const uint8_t *)v->data + 8) >= o->cutoff)
		return 0;
	t = keytok(k->data);
	return buf_append(&o->keys, &t, sizeof(t));
}

/* expire_chunk - delete keys[0..n) still older than cutoff, with the
 * token count and a "C" change row, in one transaction */
static int
expire_chunk(struct bdb_store *s, const uint64_t *keys, size_t n,
    uint32_t cutoff, uint64_t *removed)
{
	DB_TXN *txn;
	uint8_t kb[8], vb[12];
	DBT k = { .data = kb, .size = 8 };
	DBT v = { .data = vb, .ulen = sizeof(vb), .flags = DB_DBT_USERMEM };
	uint64_t nt, del = 0;
	int rc;

	if ((rc = errc(s->env->txn_begin(s->env, NULL, &txn, 0))) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		tokkey(kb, keys[i]);
		/* used since the snapshot that listed it: keep it */
		rc = s->tok->get(s->tok, txn, &k, &v, DB_RMW);
		if (rc == DB_NOTFOUND)
			continue;
		if (rc == 0 && (v.size != 12 || get32(vb + 8) >= cutoff))
			continue;
		if (rc != 0 || (rc = s->tok->del(s->tok, txn, &k, 0)) != 0) {
			txn->abort(txn);
			return errc(rc);
		}
		del++;
	}
	if ((rc = var_get64(s, txn, "ntokens", &nt, DB_RMW)) < 0 ||
	    (rc = var_put64(s, txn, "ntokens", nt > del ? nt - del : 0)) <
		0 ||
	    (del > 0 && (rc = log_change(s, txn, NULL, 0)) < 0)) {
		txn->abort(txn);
		return rc;
	}
	if ((rc = errc(txn->commit(txn, 0))) == 0)
		*removed += del;
	return rc;
}

/* bdb_expire - list the expired keys in a snapshot, then delete them in
 * chunks of neighbours (header comment: one transaction for a whole big
 * table would not fit the cache). A crash between chunks leaves some
 * expired, each chunk whole. */
static int
bdb_expire(struct bayes_store *st, uint32_t cutoff, uint64_t *removed)
{
	struct bdb_store *s = (struct bdb_store *)st;
	struct oldkeys o = { .cutoff = cutoff };
	const uint64_t *keys;
	size_t n;
	int rc;

	*removed = 0;
	if (!s->rdwr)
		return -EROFS;
	buf_init(&o.keys, SIZE_MAX / 2);
	rc = walk(s, s->tok, false, old_rec, &o, NULL);
	keys = (const uint64_t *)(const void *)o.keys.p;
	n = o.keys.len / sizeof(*keys);
	for (size_t i = 0; rc == 0 && i < n; i += EXPIRE_CHUNK) {
		size_t m = n - i < EXPIRE_CHUNK ? n - i : EXPIRE_CHUNK;

		rc = -EAGAIN;
		for (int r = 0; r < BDB_RETRIES && rc == -EAGAIN; r++)
			rc = expire_chunk(s, keys + i, m, cutoff, removed);
		maybe_checkpoint(s);
	}
	buf_free(&o.keys);
	return rc;
}

struct seenwalk {
	bayes_seen_cb *cb;
	void *arg;
};

static int
seen_rec(void *arg, const DBT *k, const DBT *v)
{
	struct seenwalk *w = arg;

	if (k->size != 16 || v->size != 1)
		return 0;
	return w->cb(w->arg, k->data, *(const uint8_t *)v->data);
}

static int
bdb_foreach_seen(struct bayes_store *st, bayes_seen_cb *cb, void *arg)
{
	struct seenwalk w = { cb, arg };

	return walk((struct bdb_store *)st, ((struct bdb_store *)st)->seen,
	    false, seen_rec, &w, NULL);
}

static int
bdb_clear(struct bayes_store *st)
{
	struct bdb_store *s = (struct bdb_store *)st;
	DB_TXN *txn;
	u_int32_t cnt;
	int rc;

	if (!s->rdwr)
		return -EROFS;
	if ((rc = errc(s->env->txn_begin(s->env, NULL, &txn, 0))) < 0)
		return rc;
	if ((rc = s->tok->truncate(s->tok, txn, &cnt, 0)) != 0 ||
	    (rc = s->seen->truncate(s->seen, txn, &cnt, 0)) != 0 ||
	    (rc = s->vars->truncate(s->vars, txn, &cnt, 0)) != 0) {
		txn->abort(txn);
		return errc(rc);
	}
	/* the log is never truncated: its numbers must only grow, or a
	 * reader could take a new row for one it has seen */
	if ((rc = log_change(s, txn, NULL, 0)) < 0) {
		txn->abort(txn);
		return rc;
	}
	return errc(txn->commit(txn, 0));
}

static int
put_chunk(struct bdb_store *s, const struct bayes_tokval *t, size_t n)
{
	DB_TXN *txn;
	uint8_t kb[8], vb[12];
	DBT k = { 0 }, v = { 0 };
	int rc;

	if ((rc = errc(s->env->txn_begin(s->env, NULL, &txn, 0))) < 0)
		return rc;
	k.data = kb;
	k.size = 8;
	v.data = vb;
	v.size = 12;
	for (size_t i = 0; i < n; i++) {
		tokkey(kb, t[i].tok);
		put32(vb, t[i].spam);
		put32(vb + 4, t[i].ham);
		put32(vb + 8, t[i].atime);
		if ((rc = s->tok->put(s->tok, txn, &k, &v, 0)) != 0) {
			txn->abort(txn);
			return errc(rc);
		}
	}
	if ((rc = log_change(s, txn, t, n)) < 0) {
		txn->abort(txn);
		return rc;
	}
	return errc(txn->commit(txn, 0));
}

/* bdb_put_tokens - in transactions within BDB_TXN_PAGES() (a big table
 * spreads a restore's batch over as many pages as it has tokens) */
static int
bdb_put_tokens(struct bayes_store *st, const struct bayes_tokval *t, size_t n)
{
	struct bdb_store *s = (struct bdb_store *)st;
	size_t m = n;
	int rc = 0;

	while (m > 1 && txn_pages(s, m) > BDB_TXN_PAGES(s))
		m /= 2;
	for (size_t i = 0; rc == 0 && i < n; i += m) {
		rc = -EAGAIN;
		for (int r = 0; r < BDB_RETRIES && rc == -EAGAIN; r++)
			rc = put_chunk(s, t + i, n - i < m ? n - i : m);
	}
	return rc;
}

static int
bdb_put_seen(
    struct bayes_store *st, const uint8_t (*seen)[16], const int *cls, size_t n)
{
	struct bdb_store *s = (struct bdb_store *)st;
	DB_TXN *txn;
	DBT k = { 0 }, v = { 0 };
	uint8_t b;
	int rc;

	if ((rc = errc(s->env->txn_begin(s->env, NULL, &txn, 0))) < 0)
		return rc;
	k.size = 16;
	v.data = &b;
	v.size = 1;
	for (size_t i = 0; i < n; i++) {
		k.data = (void *)seen[i];
		b = (uint8_t)cls[i];
		if ((rc = s->seen->put(s->seen, txn, &k, &v, 0)) != 0) {
			txn->abort(txn);
			return errc(rc);
		}
	}
	return errc(txn->commit(txn, 0));
}

static int
bdb_set_vars(struct bayes_store *st, const struct bayes_vars *vv)
{
	struct bdb_store *s = (struct bdb_store *)st;
	DB_TXN *txn;
	int rc;

	if ((rc = errc(s->env->txn_begin(s->env, NULL, &txn, 0))) < 0)
		return rc;
	if ((rc = var_put64(s, txn, "nspam", vv->nspam)) < 0 ||
	    (rc = var_put64(s, txn, "nham", vv->nham)) < 0 ||
	    (rc = var_put64(s, txn, "ntokens", vv->ntokens)) < 0 ||
	    (rc = var_put64(s, txn, "last_expire", vv->last_expire)) < 0 ||
	    (rc = var_put(s, txn, "hashkey", vv->hashkey, 16)) < 0) {
		txn->abort(txn);
		return rc;
	}
	return errc(txn->commit(txn, 0));
}

/* claim_once - one try of bdb_claim_expire: the read takes the write
 * lock (DB_RMW), so of two claimers one waits and then sees the other's
 * value */
static int
claim_once(struct bdb_store *s, uint64_t now, uint64_t period)
{
	DB_TXN *txn;
	uint64_t last;
	int rc;

	if ((rc = errc(s->env->txn_begin(s->env, NULL, &txn, 0))) < 0)
		return rc;
	if ((rc = var_get64(s, txn, "last_expire", &last, DB_RMW)) < 0 ||
	    !bayes__round_due(last, now, period) ||
	    (rc = var_put64(s, txn, "last_expire", now)) < 0) {
		txn->abort(txn);
		return rc; /* 0: not due, another claimer had it */
	}
	rc = errc(txn->commit(txn, 0));
	return rc < 0 ? rc : 1;
}

static int
bdb_claim_expire(struct bayes_store *st, uint64_t now, uint64_t period)
{
	struct bdb_store *s = (struct bdb_store *)st;
	int rc = -EAGAIN;

	if (!s->rdwr)
		return -EROFS;
	for (int i = 0; i < BDB_RETRIES && rc == -EAGAIN; i++)
		rc = claim_once(s, now, period);
	return rc;
}

static int
bdb_cache_stats(struct bayes_store *st, struct bayes_tokcache_stats *out)
{
	struct bdb_store *s = (struct bdb_store *)st;

	if (s->cache == NULL)
		return -ENOTSUP;
	bayes_tokcache_stats(s->cache, out);
	return 0;
}

static void
bdb_close(struct bayes_store *st)
{
	struct bdb_store *s = (struct bdb_store *)st;

	if (s->rdwr && s->env != NULL)
		s->env->txn_checkpoint(s->env, 0, 0, 0);
	if (s->tok != NULL)
		s->tok->close(s->tok, 0);
	if (s->seen != NULL)
		s->seen->close(s->seen, 0);
	if (s->vars != NULL)
		s->vars->close(s->vars, 0);
	if (s->chg != NULL)
		s->chg->close(s->chg, 0);
	bayes_tokcache_free(s->cache);
	if (s->env != NULL)
		s->env->close(s->env, 0);
	free(s);
}

static int
bdb_buffer_cache(struct bayes_store *st, uint64_t *bytes)
{
	*bytes = ((struct bdb_store *)st)->cache_bytes;
	return 0;
}

static const struct bayes_store_ops bdb_ops = {
	.kind = "bdb",
	.vars = bdb_vars,
	.get = bdb_get,
	.learn = bdb_learn,
	.learn_batch = bdb_learn_batch,
	.touch = bdb_touch,
	.expire = bdb_expire,
	.foreach_token = bdb_foreach_token,
	.foreach_seen = bdb_foreach_seen,
	.clear = bdb_clear,
	.put_tokens = bdb_put_tokens,
	.put_seen = bdb_put_seen,
	.set_vars = bdb_set_vars,
	.claim_expire = bdb_claim_expire,
	.cache_stats = bdb_cache_stats,
	.buffer_cache = bdb_buffer_cache,
	.close = bdb_close,
};

/* tok_hash - the keys are SipHash values already: their low bytes are
 * as good a bucket hash as any, and free */
static u_int32_t
tok_hash(DB *db, const void *k, u_int32_t len)
{
	const uint8_t *p = k;

	(void)db;
	if (len < 8)
		return len ? p[0] : 0;
	return (u_int32_t)p[4] << 24 | (u_int32_t)p[5] << 16 |
	    (u_int32_t)p[6] << 8 | p[7];
}

static int
open_db(
    struct bdb_store *s, DB **db, const char *file, bool create, DBTYPE type)
{
	int rc;

	if ((rc = db_create(db, s->env, 0)) != 0)
		return errc(rc);
	if (type == DB_HASH) {
		(*db)->set_h_hash(*db, tok_hash);
		/* h_nelem presizes a new table only together with a fill
		 * factor; without one a fresh store grows by splitting pages
		 * (each split logs whole pages) and ends with ~160 items a
		 * bucket and overflow pages. An item takes ~26 bytes of a
		 * 4 KB page (2 index slots, 9 + 13 bytes key/data): 120 a
		 * bucket leaves room for the spread. Both are ignored when
		 * the table exists. */
		(*db)->set_h_ffactor(*db, 120);
		(*db)->set_h_nelem(*db, 150000);
	}
	rc = (*db)->open(*db, NULL, file, NULL, type,
	    DB_AUTO_COMMIT | DB_MULTIVERSION | DB_THREAD |
		(create ? DB_CREATE : 0),
	    0600);
	if (rc != 0) {
		(*db)->close(*db, 0);
		*db = NULL;
		return errc(rc);
	}
	return 0;
}

/* mkdirs - mkdir -p: state_dir/bayes on a fresh install */
/* quiet - Berkeley DB prints its messages to stderr by default; the
 * store reports through return codes only (STYLE: no logging here) */
static void
quiet(const DB_ENV *env, const char *pfx, const char *msg)
{
	(void)env;
	(void)pfx;
	(void)msg;
}

/* fill_hole - before a write at off into fd: when off is past the end of
 * the file, allocate [end, off) first. Berkeley DB grows a region file
 * (the cache, lock and mutex regions: shared memory mapped from files in
 * the store's directory) by writing its new last page, and uses the pages
 * between through the mapping; left a hole, a page the file system cannot
 * back on a full disk is a SIGBUS when touched. Filled here, the full
 * disk fails this write with ENOSPC, which Berkeley DB returns as an
 * error of the operation that needed the memory. */
static int
fill_hole(int fd, off_t off)
{
	struct stat sb;
	int e;

	if (off <= 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    off <= sb.st_size)
		return 0;
	if ((e = posix_fallocate(fd, sb.st_size, off - sb.st_size)) == 0)
		return 0;
	errno = e;
	return -1;
}

static ssize_t
write_filled(int fd, const void *buf, size_t n)
{
	off_t off = lseek(fd, 0, SEEK_CUR);

	if (off > 0 && fill_hole(fd, off) < 0)
		return -1;
	return write(fd, buf, n);
}

static ssize_t
pwrite_filled(int fd, const void *buf, size_t n, off_t off)
{
	if (fill_hole(fd, off) < 0)
		return -1;
	return pwrite(fd, buf, n, off);
}

static void
install_io(void)
{
	db_env_set_func_write(write_filled);
	db_env_set_func_pwrite(pwrite_filled);
}

/* env_setup - cache, lock table and log settings of every handle */
static void
env_setup(DB_ENV *env)
{
	env->set_errcall(env, quiet);
	env->set_cachesize(env, 0, (u_int32_t)BDB_CACHE_MB << 20, 1);
	env->mutex_set_max(env, BDB_MUTEX_MAX);
	/* start with what a 32 MB cache needs (2 MB of region instead of
	 * 15 MB for the maximum); the region grows when the cache does */
	env->mutex_set_init(env, BDB_MUTEX_MAX / 8);
	/* a learning batch locks and copies every page it writes; the lock
	 * table starts small and grows to the maximum (preallocating 200000
	 * locks and objects made creating a store cost 60 MB of region and
	 * 70 ms) */
	env->set_lk_max_locks(env, 200000);
	env->set_lk_max_objects(env, 200000);
	env->set_memory_init(env, DB_MEM_LOCK, 4096);
	env->set_memory_init(env, DB_MEM_LOCKOBJECT, 4096);
	env->set_lk_tablesize(env, 16384);
	env->set_lk_max_lockers(env, 2000);
	env->set_lk_detect(env, DB_LOCK_DEFAULT);
	env->set_flags(env, DB_TXN_WRITE_NOSYNC, 1);
	env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1);
}

int
bayes__bdb_open(const char *path, bool rdwr, struct bayes_store **out)
{
	struct bdb_store *s;
	struct stat sb;
	int rc;

	if (stat(path, &sb) < 0) {
		if (!rdwr)
			return -ENOENT;
		if ((rc = fs_mkdirs(path, 0700)) < 0)
			return rc;
	}
	static pthread_once_t io_once = PTHREAD_ONCE_INIT;

	pthread_once(&io_once, install_io);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->base.ops = &bdb_ops;
	s->rdwr = rdwr;
	if ((rc = db_env_create(&s->env, 0)) != 0) {
		free(s);
		return errc(rc);
	}
	env_setup(s->env);
	rc = s->env->open(s->env, path,
	    DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG |
		DB_INIT_MPOOL | DB_RECOVER | DB_REGISTER | DB_THREAD,
	    0600);
	if (rc == DB_RUNRECOVERY) {
		/* a panicked environment (no dead process for DB_REGISTER to
		 * notice): every user must reopen anyway, so recover now */
		s->env->close(s->env, 0);
		s->env = NULL;
		if ((rc = db_env_create(&s->env, 0)) == 0) {
			env_setup(s->env);
			rc = s->env->open(s->env, path,
			    DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK |
				DB_INIT_LOG | DB_INIT_MPOOL | DB_RECOVER |
				DB_THREAD,
			    0600);
		}
	}
	if (rc != 0) {
		struct statvfs vfs;

		/* on a full disk recovery's log writes come up short and
		 * Berkeley DB reports a stale errno (EEXIST) */
		rc = statvfs(path, &vfs) == 0 && vfs.f_bavail == 0 ? -ENOSPC
								  : errc(rc);
		goto fail;
	}
	/* the transaction bound follows the environment's cache, which an
	 * older build or a DB_CONFIG may have made another size */
	{
		u_int32_t gb = 0, b = 0;
		int nc = 0;

		s->env->get_cachesize(s->env, &gb, &b, &nc);
		s->cache_bytes = ((uint64_t)gb << 30) + b;
		if (s->cache_bytes < (8u << 20))
			s->cache_bytes = 8u << 20;
	}
	/* tokens: point lookups only (iteration order does not matter,
	 * backups sort), so a hash beats a btree's memcmp descent */
	if ((rc = open_db(s, &s->tok, "tokens.db", rdwr, DB_HASH)) < 0 ||
	    (rc = open_db(s, &s->seen, "seen.db", rdwr, DB_BTREE)) < 0 ||
	    (rc = open_db(s, &s->vars, "vars.db", rdwr, DB_BTREE)) < 0)
		goto fail;
	/* the change log: missing in a store made before it, which a
	 * read-only handle then reads uncached */
	if ((rc = open_db(s, &s->chg, "changes.db", rdwr, DB_BTREE)) < 0 &&
	    (rdwr || rc != -ENOENT))
		goto fail;
	/* FILTERD_BAYES_NOCACHE=1: every lookup goes to the DB (benches
	 * compare the two) */
	const char *nc = getenv("FILTERD_BAYES_NOCACHE");
	if (s->chg != NULL && (nc == NULL || strcmp(nc, "1") != 0))
		s->cache = bayes_tokcache_new();
	if (rdwr) {
		uint8_t key[16];

		/* a new store records the hash key it will always use */
		if ((rc = var_get(s, NULL, "hashkey", key, 16, 0)) < 0)
			goto fail;
		static const uint8_t zero[16];
		if (memcmp(key, zero, 16) == 0 &&
		    (rc = var_put(s, NULL, "hashkey", "filterd-bayes-01", 16)) <
			0)
			goto fail;
	}
	*out = &s->base;
	return 0;
fail:
	bdb_close(&s->base);
	return rc;
}
