/* bayes_store_test - BDB store: learn/forget/relearn, batches,
 * backup/restore, expiry, snapshot reads during learning, kill -9 during
 * learning, the token cache seeing every other process's write */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bayes/bayes.h"
#include "bayes/tokcache.h"
#include "util/splitmix.h"

static char dir[64];
/* the store the cache tests use: dir, or a redis-server of the test's */
static char spec[128];
static pid_t redis_pid;

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/bayes_store_test.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(spec, sizeof(spec), "%s", dir);
	return 0;
}

/* setup_redis - a redis-server on a free loopback port, no persistence;
 * spec names it (db 5). Without redis-server (make deps installs it)
 * the tests using it are skipped. */
static int
setup_redis(void **state)
{
	struct bayes_store *st = NULL;

	if (setup(state) < 0)
		return -1;
	if (system("command -v redis-server >/dev/null") != 0)
		return 0;
	srand((unsigned)getpid());
	for (int try = 0; try < 5 && st == NULL; try++) {
		char port[8];

		snprintf(port, sizeof(port), "%d", 20000 + rand() % 20000);
		if ((redis_pid = fork()) == 0) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 1);
			dup2(null, 2);
			execlp("redis-server", "redis-server", "--port", port,
			    "--bind", "127.0.0.1", "--save", "", "--appendonly",
			    "no", "--dir", dir, (char *)NULL);
			_exit(127);
		}
		snprintf(spec, sizeof(spec), "redis://127.0.0.1:%s/5", port);
		for (int i = 0; i < 50 && st == NULL; i++) {
			struct timespec ts = { 0, 100 * 1000 * 1000 };

			if (bayes_store_open(spec, true, &st) < 0)
				nanosleep(&ts, NULL);
		}
		if (st == NULL) {
			kill(redis_pid, SIGKILL);
			waitpid(redis_pid, NULL, 0);
			redis_pid = 0;
		}
	}
	bayes_store_close(st);
	return 0;
}


static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
teardown_redis(void **state)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGTERM);
		waitpid(redis_pid, NULL, 0);
		redis_pid = 0;
	}
	return teardown(state);
}

static void
seen_of(uint8_t seen[16], unsigned i)
{
	memset(seen, 0, 16);
	memcpy(seen, &i, sizeof(i));
}

/* message i: tokens 1..50 shared, 1000+i unique */
static size_t
toks_of(uint64_t *t, unsigned i)
{
	for (unsigned k = 0; k < 50; k++)
		t[k] = k + 1;
	t[50] = 1000 + i;
	return 51;
}

static void
get1(struct bayes_store *st, uint64_t tok, struct bayes_tokval *tv)
{
	assert_int_equal(bayes_store_get(st, &tok, 1, tv), 0);
}

static void
test_learn_relearn_forget(void **state)
{
	(void)state;
	struct bayes_store *st;
	struct bayes_vars v;
	struct bayes_tokval tv;
	uint64_t t[64];
	uint8_t seen[16];
	size_t n;

	assert_int_equal(bayes_store_open(dir, false, &st), -ENOENT);
	assert_int_equal(bayes_store_open(dir, true, &st), 0);
	assert_string_equal(bayes_store_kind(st), "bdb");
	assert_int_equal(bayes_store_vars(st, &v), 0);
	assert_memory_equal(v.hashkey, BAYES_HASHKEY_DEFAULT, 16);
	assert_int_equal(v.nspam + v.nham + v.ntokens, 0);

	n = toks_of(t, 1);
	seen_of(seen, 1);
	assert_int_equal(
	    bayes_store_learn(st, seen, BAYES_SPAM, t, n, 100), BAYES_LEARNED);
	assert_int_equal(
	    bayes_store_learn(st, seen, BAYES_SPAM, t, n, 200), BAYES_ALREADY);
	bayes_store_vars(st, &v);
	assert_int_equal(v.nspam, 1);
	assert_int_equal(v.nham, 0);
	assert_int_equal(v.ntokens, 51);
	get1(st, 7, &tv);
	assert_int_equal(tv.spam, 1);
	assert_int_equal(tv.ham, 0);
	assert_int_equal(tv.atime, 100);

	/* a second message shares 50 tokens */
	n = toks_of(t, 2);
	seen_of(seen, 2);
	assert_int_equal(
	    bayes_store_learn(st, seen, BAYES_SPAM, t, n, 300), BAYES_LEARNED);
	get1(st, 7, &tv);
	assert_int_equal(tv.spam, 2);
	assert_int_equal(tv.atime, 300);
	/* relearn as ham moves it */
	assert_int_equal(
	    bayes_store_learn(st, seen, BAYES_HAM, t, n, 300), BAYES_LEARNED);
	get1(st, 7, &tv);
	assert_int_equal(tv.spam, 1);
	assert_int_equal(tv.ham, 1);
	get1(st, 1002, &tv);
	assert_int_equal(tv.spam, 0);
	assert_int_equal(tv.ham, 1);
	bayes_store_vars(st, &v);
	assert_int_equal(v.nspam, 1);
	assert_int_equal(v.nham, 1);
	assert_int_equal(v.ntokens, 52);

	/* touch: known tokens get the new atime, unknown ones stay absent */
	uint64_t tt[2] = { 7, 999999 };
	assert_int_equal(bayes_store_touch(st, tt, 2, 400), 0);
	get1(st, 7, &tv);
	assert_int_equal(tv.atime, 400);
	get1(st, 999999, &tv);
	assert_int_equal(tv.spam + tv.ham + tv.atime, 0);
	bayes_store_vars(st, &v);
	assert_int_equal(v.ntokens, 52);

	/* forget it: gone, its unique token deleted */
	assert_int_equal(bayes_store_learn(st, seen, BAYES_FORGET, t, n, 300),
	    BAYES_LEARNED);
	assert_int_equal(bayes_store_learn(st, seen, BAYES_FORGET, t, n, 300),
	    BAYES_NOTSEEN);
	get1(st, 1002, &tv);
	assert_int_equal(tv.spam + tv.ham, 0);
	get1(st, 7, &tv);
	assert_int_equal(tv.spam, 1);
	assert_int_equal(tv.ham, 0);
	bayes_store_vars(st, &v);
	assert_int_equal(v.nspam, 1);
	assert_int_equal(v.nham, 0);
	assert_int_equal(v.ntokens, 51);
	bayes_store_close(st);

	/* it persists */
	assert_int_equal(bayes_store_open(dir, false, &st), 0);
	bayes_store_vars(st, &v);
	assert_int_equal(v.nspam, 1);
	assert_int_equal(v.ntokens, 51);
	assert_int_equal(
	    bayes_store_learn(st, seen, BAYES_SPAM, t, n, 1), -EROFS);
	bayes_store_close(st);
}

static char *
backup_str(struct bayes_store *st, size_t *len)
{
	char *p = NULL;
	FILE *f = open_memstream(&p, len);

	assert_non_null(f);
	assert_int_equal(bayes_store_backup(st, f), 0);
	fclose(f);
	return p;
}

static void
test_backup_restore_expire(void **state)
{
	(void)state;
	struct bayes_store *st;
	struct bayes_vars v;
	uint64_t t[64];
	uint8_t seen[16];
	char *b1, *b2, sub[80];
	size_t l1, l2, line;

	assert_int_equal(bayes_store_open(dir, true, &st), 0);
	for (unsigned i = 0; i < 20; i++) {
		size_t n = toks_of(t, i);

		seen_of(seen, i);
		assert_int_equal(
		    bayes_store_learn(st, seen, i % 3 ? BAYES_HAM : BAYES_SPAM,
			t, n, 1000 + i),
		    0);
	}
	b1 = backup_str(st, &l1);
	assert_non_null(strstr(b1,
	    "filterd-bayes-backup 1\nv\tnspam\t7\n"
	    "v\tnham\t13\n"));
	assert_non_null(strstr(b1, "t\t0000000000000007\t7\t13\t1019\n"));

	snprintf(sub, sizeof(sub), "%s/copy", dir);
	struct bayes_store *c;
	FILE *f = fmemopen(b1, l1, "r");
	assert_int_equal(bayes_store_open(sub, true, &c), 0);
	assert_int_equal(bayes_store_restore(c, f, &line), 0);
	fclose(f);
	b2 = backup_str(c, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(b1, b2, l1);
	bayes_store_vars(c, &v);
	assert_int_equal(v.ntokens, 70);
	/* the restored copy knows the messages it was taught */
	toks_of(t, 4);
	seen_of(seen, 4);
	assert_int_equal(
	    bayes_store_learn(c, seen, BAYES_HAM, t, 51, 5000), BAYES_ALREADY);
	free(b2);

	/* expiry: tokens last used before 1010 go (1000+0..9 unique) */
	uint64_t removed;
	assert_int_equal(bayes_store_expire(c, 1010, &removed), 0);
	assert_int_equal(removed, 10);
	bayes_store_vars(c, &v);
	assert_int_equal(v.ntokens, 60);
	/* SA-like auto: over 40 tokens keep the newest 30; ties at the
	 * cut stay (the 50 shared tokens and 1019 all have atime 1019) */
	assert_int_equal(bayes_store_expire_auto(c, 40, 0, 9999, &removed), 0);
	assert_int_equal(removed, 9);
	bayes_store_vars(c, &v);
	assert_int_equal(v.ntokens, 51);
	assert_int_equal(v.last_expire, 9999);
	bayes_store_close(c);

	/* malformed backups are refused with the line number */
	f = fmemopen(
	    (void *)"filterd-bayes-backup 1\nv\tnspam\t1\nt\tzz\n", 38, "r");
	assert_int_equal(bayes_store_open(sub, true, &c), 0);
	assert_int_equal(bayes_store_restore(c, f, &line), -EINVAL);
	assert_int_equal(line, 3);
	fclose(f);
	bayes_store_close(c);
	free(b1);
	bayes_store_close(st);
}

/* Batches: message i has the 50 shared tokens and 20 of its own. */
#define BT_UNIQ 20

static size_t
btoks_of(uint64_t *t, unsigned i)
{
	for (unsigned k = 0; k < 50; k++)
		t[k] = k + 1;
	for (unsigned k = 0; k < BT_UNIQ; k++)
		t[50 + k] = 100000 + (uint64_t)i * BT_UNIQ + k;
	return 50 + BT_UNIQ;
}

struct bop {
	unsigned msg;
	int cls;
};

/* run_ops - ops learned one message at a time into a and as one batch
 * into b, at time now: same result codes */
static void
run_ops(struct bayes_store *a, struct bayes_store *b, const struct bop *ops,
    size_t n, uint32_t now)
{
	struct bayes_learn_item *it = calloc(n, sizeof(*it));
	uint64_t(*t)[50 + BT_UNIQ] = calloc(n, sizeof(*t));
	int *res = calloc(n, sizeof(*res));

	assert_non_null(it);
	assert_non_null(t);
	assert_non_null(res);
	for (size_t i = 0; i < n; i++) {
		seen_of(it[i].seen, ops[i].msg);
		it[i].cls = ops[i].cls;
		it[i].n = btoks_of(t[i], ops[i].msg);
		it[i].toks = t[i];
	}
	assert_int_equal(bayes_store_learn_batch(b, it, n, now, res), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(bayes_store_learn(a, it[i].seen, it[i].cls,
				     it[i].toks, it[i].n, now),
		    res[i]);
	free(it);
	free(t);
	free(res);
}

static void
assert_same_store(struct bayes_store *a, struct bayes_store *b)
{
	size_t la, lb;
	char *pa = backup_str(a, &la), *pb = backup_str(b, &lb);

	assert_int_equal(la, lb);
	assert_memory_equal(pa, pb, la);
	free(pa);
	free(pb);
}

/* test_learn_batch - a batch (merged token changes, one transaction)
 * leaves exactly what learning its messages one by one leaves: duplicates
 * in the batch are no-ops, relearns move counts, forgets delete tokens.
 * The sizes take both BDB paths: a batch large against the store (table
 * scan: the fresh store, then relearning all of it) and a small one
 * (keyed lookups); the last step checks the clamping at 0. */
static void
learn_batch_into(const char *pb, const char *between)
{
	struct bayes_store *a, *b;
	struct bayes_vars v;
	struct bayes_tokval tv;
	struct bop ops[256];
	char pa[96];
	size_t n = 0;

	snprintf(pa, sizeof(pa), "%s/a", dir);
	assert_int_equal(bayes_store_open(pa, true, &a), 0);
	assert_int_equal(bayes_store_open(pb, true, &b), 0);

	/* 1: into the empty store, 150 spam and 50 ham, and in the same
	 * batch a duplicate, a relearn there and back, a learn+forget and a
	 * forget of an unknown message */
	for (unsigned i = 0; i < 200; i++)
		ops[n++] = (struct bop){ i, i < 150 ? BAYES_SPAM : BAYES_HAM };
	ops[n++] = (struct bop){ 3, BAYES_SPAM };
	ops[n++] = (struct bop){ 4, BAYES_HAM };
	ops[n++] = (struct bop){ 5, BAYES_FORGET };
	ops[n++] = (struct bop){ 999, BAYES_FORGET };
	ops[n++] = (struct bop){ 4, BAYES_SPAM };
	run_ops(a, b, ops, n, 100);
	assert_same_store(a, b);
	assert_int_equal(bayes_store_vars(b, &v), 0);
	assert_int_equal(v.nspam, 149);
	assert_int_equal(v.nham, 50);
	assert_int_equal(v.ntokens, 50 + 199 * BT_UNIQ);
	get1(b, 1, &tv);
	assert_int_equal(tv.spam, 149);
	assert_int_equal(tv.ham, 50);
	assert_int_equal(tv.atime, 100);
	get1(b, 100000 + 5 * BT_UNIQ, &tv); /* learned and forgotten */
	assert_int_equal(tv.spam + tv.ham + tv.atime, 0);
	get1(b, 100000 + 4 * BT_UNIQ, &tv);
	assert_int_equal(tv.spam, 1);
	assert_int_equal(tv.ham, 0);

	/* 2: a few messages against 4000 tokens: relearn, forget (its own
	 * tokens deleted), a duplicate, a new one */
	if (between != NULL)
		assert_int_equal(system(between), 0);
	n = 0;
	ops[n++] = (struct bop){ 10, BAYES_HAM };
	ops[n++] = (struct bop){ 160, BAYES_FORGET };
	ops[n++] = (struct bop){ 10, BAYES_HAM };
	ops[n++] = (struct bop){ 500, BAYES_SPAM };
	run_ops(a, b, ops, n, 200);
	assert_same_store(a, b);
	assert_int_equal(bayes_store_vars(b, &v), 0);
	assert_int_equal(v.nspam, 149);
	assert_int_equal(v.nham, 50);
	assert_int_equal(v.ntokens, 50 + 199 * BT_UNIQ);
	get1(b, 1, &tv);
	assert_int_equal(tv.spam, 149);
	assert_int_equal(tv.ham, 50);
	assert_int_equal(tv.atime, 200);
	get1(b, 100000 + 160 * BT_UNIQ, &tv);
	assert_int_equal(tv.spam + tv.ham, 0);

	/* 3: everything relearned as ham, message 7 forgotten */
	n = 0;
	for (unsigned i = 0; i < 200; i++)
		ops[n++] = (struct bop){ i, BAYES_HAM };
	ops[n++] = (struct bop){ 7, BAYES_FORGET };
	run_ops(a, b, ops, n, 300);
	assert_same_store(a, b);
	assert_int_equal(bayes_store_vars(b, &v), 0);
	assert_int_equal(v.nspam, 1); /* 500 */
	assert_int_equal(v.nham, 199);
	assert_int_equal(v.ntokens, 50 + 200 * BT_UNIQ);
	get1(b, 1, &tv);
	assert_int_equal(tv.spam, 1);
	assert_int_equal(tv.ham, 199);
	get1(b, 100000 + 7 * BT_UNIQ + 3, &tv);
	assert_int_equal(tv.spam + tv.ham, 0);

	/* 4: after expiry forgets the tokens, forgetting a message leaves
	 * the (absent) counts at 0 before the next +1, not at -1 */
	uint64_t removed;
	assert_int_equal(bayes_store_expire(a, 1000, &removed), 0);
	assert_int_equal(bayes_store_expire(b, 1000, &removed), 0);
	n = 0;
	ops[n++] = (struct bop){ 0, BAYES_FORGET };
	ops[n++] = (struct bop){ 700, BAYES_HAM };
	run_ops(a, b, ops, n, 2000);
	assert_same_store(a, b);
	get1(b, 1, &tv);
	assert_int_equal(tv.spam, 0);
	assert_int_equal(tv.ham, 1);
	bayes_store_close(a);
	bayes_store_close(b);
}

static void
test_learn_batch(void **state)
{
	char pb[96];

	(void)state;
	snprintf(pb, sizeof(pb), "%s/b", dir);
	learn_batch_into(pb, NULL);
}

/* the same into Redis (scripts pipelined 64 at a time: 205 items are
 * four rounds), which must leave what one-by-one learning into BDB
 * leaves; the script cache is flushed between two batches, so the next
 * batch's replies are NOSCRIPT and it loads them again */
static void
test_learn_batch_redis(void **state)
{
	char flush[96];

	(void)state;
	if (redis_pid <= 0)
		skip();
	snprintf(flush, sizeof(flush),
	    "redis-cli -p %d SCRIPT FLUSH >/dev/null",
	    atoi(strrchr(spec, ':') + 1));
	learn_batch_into(spec, flush);
}

/* learn_split - the caller's contract (filterctl learn): a batch the
 * store refuses as too big for one transaction (-ENOMEM) is halved */
static int
learn_split(struct bayes_store *st, const struct bayes_learn_item *it,
    size_t n, uint32_t now, int *res)
{
	int rc = bayes_store_learn_batch(st, it, n, now, res);

	if (rc == -ENOMEM && n > 1) {
		size_t h = n / 2;

		if ((rc = learn_split(st, it, h, now, res)) == 0)
			rc = learn_split(st, it + h, n - h, now, res + h);
	}
	return rc;
}


/* A big store: batches of 150k new random tokens (what 500 messages of a
 * diverse Junk folder bring) into a table that outgrows the cache. With
 * the default mutex count and no bound on a transaction's pages the
 * third batch failed with -EIO and panicked the environment (BDB2034
 * "unable to allocate memory for mutex", then the abort's undo failed).
 * Then expiry of all of it, in chunks. */
static void
big_store(unsigned batches)
{
	enum { MSGS = 500, TOKS = 300 };
	struct bayes_store *st, *rd;
	struct bayes_learn_item *it = calloc(MSGS, sizeof(*it));
	uint64_t *toks = malloc(MSGS * TOKS * sizeof(*toks));
	int *res = calloc(MSGS, sizeof(*res));
	struct bayes_vars v;
	uint64_t x = 42, removed;

	assert_non_null(it);
	assert_non_null(toks);
	assert_non_null(res);
	assert_int_equal(bayes_store_open(spec, true, &st), 0);
	for (unsigned b = 0; b < batches; b++) {
		for (unsigned m = 0; m < MSGS; m++) {
			uint64_t id = (uint64_t)b * MSGS + m;

			memset(it[m].seen, 0, 16);
			memcpy(it[m].seen, &id, sizeof(id));
			it[m].cls = BAYES_SPAM;
			it[m].toks = toks + (size_t)m * TOKS;
			it[m].n = TOKS;
			for (unsigned t = 0; t < TOKS; t++)
				toks[(size_t)m * TOKS + t] = splitmix64(&x);
		}
		assert_int_equal(learn_split(st, it, MSGS, 1000 + b, res), 0);
		for (unsigned m = 0; m < MSGS; m++)
			assert_int_equal(res[m], BAYES_LEARNED);
	}
	/* a read-only handle (as a filterd worker opens it) sees all of it
	 * (one environment handle a process: DB_REGISTER) */
	bayes_store_close(st);
	assert_int_equal(bayes_store_open(spec, false, &rd), 0);
	assert_int_equal(bayes_store_vars(rd, &v), 0);
	assert_int_equal(v.nspam, MSGS * batches);
	assert_int_equal(v.ntokens, (uint64_t)MSGS * TOKS * batches);
	bayes_store_close(rd);
	/* the older half expires, then the rest */
	assert_int_equal(bayes_store_open(spec, true, &st), 0);
	assert_int_equal(bayes_store_expire(st, 1000 + batches / 2, &removed),
	    0);
	assert_int_equal(removed, (uint64_t)MSGS * TOKS * (batches / 2));
	assert_int_equal(bayes_store_expire(st, 2000, &removed), 0);
	assert_int_equal(removed, (uint64_t)MSGS * TOKS * (batches / 2));
	assert_int_equal(bayes_store_vars(st, &v), 0);
	assert_int_equal(v.ntokens, 0);
	assert_int_equal(v.nspam, MSGS * batches);
	bayes_store_close(st);
	free(it);
	free(toks);
	free(res);
}

static void
test_big_store(void **state)
{
	char cfg[128];
	FILE *f;

	(void)state;
	/* a 32 MB cache (the store's DB_CONFIG, read when the environment
	 * is created), so 600k tokens outgrow it as a big table outgrows
	 * the default cache; the transaction bound must follow it */
	snprintf(cfg, sizeof(cfg), "%s/DB_CONFIG", dir);
	assert_non_null(f = fopen(cfg, "w"));
	fputs("set_cachesize 0 33554432 1\n", f);
	fclose(f);
	big_store(4);
}

/* Redis: expiry runs one script a SCAN batch (it took two round trips a
 * token: 460 s for 2.9M); 600k tokens */
static void
test_big_store_redis(void **state)
{
	(void)state;
	if (redis_pid <= 0)
		skip();
	big_store(4);
}

/* learner: message i has the 50 shared tokens; runs until killed or n;
 * writes one byte to ready (if >= 0) after message 20 */
static void
learner(unsigned n, int ready)
{
	struct bayes_store *st;
	uint64_t t[64];
	uint8_t seen[16];

	if (bayes_store_open(dir, true, &st) < 0)
		_exit(2);
	for (unsigned i = 0; i < n; i++) {
		size_t k = toks_of(t, i);

		seen_of(seen, i);
		if (bayes_store_learn(st, seen, BAYES_SPAM, t, k, 1) < 0)
			_exit(3);
		if (i == 20 && ready >= 0 && write(ready, "x", 1) != 1)
			_exit(4);
	}
	bayes_store_close(st);
	_exit(0);
}

/* consistent - all 50 shared tokens have the same count, == nspam */
static void
assert_consistent(struct bayes_store *st, bool exact)
{
	struct bayes_tokval tv[50];
	struct bayes_vars v;
	uint64_t t[64];

	toks_of(t, 0);
	assert_int_equal(bayes_store_get(st, t, 50, tv), 0);
	for (int k = 1; k < 50; k++)
		assert_int_equal(tv[k].spam, tv[0].spam);
	if (exact) {
		assert_int_equal(bayes_store_vars(st, &v), 0);
		assert_int_equal(v.nspam, tv[0].spam);
		assert_int_equal(v.ntokens, v.nspam ? 50 + v.nspam : 0);
	}
}

static void
test_concurrent_read(void **state)
{
	(void)state;
	struct bayes_store *st;
	pid_t pid;
	int status, reads = 0;

	/* create the store first so the reader can open it */
	assert_int_equal(bayes_store_open(dir, true, &st), 0);
	bayes_store_close(st);
	if ((pid = fork()) == 0)
		learner(300, -1);
	assert_int_equal(bayes_store_open(dir, false, &st), 0);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		assert_consistent(st, false); /* snapshots: never half a msg */
		reads++;
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_consistent(st, true);
	assert_true(reads > 0);
	bayes_store_close(st);
}

/* reader threads sharing one handle (milter threads share a worker's
 * store, and its token cache) while another process learns: every read
 * is one snapshot, so the 50 shared tokens always agree */
struct reader_arg {
	struct bayes_store *st;
	_Atomic int *stop;
	int reads, bad;
};

static void *
reader_thread(void *p)
{
	struct reader_arg *a = p;
	struct bayes_tokval tv[51];
	uint64_t t[64];

	toks_of(t, (unsigned)a->reads); /* shared 1..50, then one more */
	while (!*a->stop) {
		/* unique tokens in a stride, so many are read before learned */
		t[50] = 1000 + (unsigned)(a->reads * 37 % 300);
		if (bayes_store_get(a->st, t, 51, tv) != 0) {
			a->bad++;
			continue;
		}
		for (int k = 1; k < 50; k++)
			if (tv[k].spam != tv[0].spam)
				a->bad++;
		/* a message's unique token is never ahead of the shared ones */
		if (tv[50].spam > tv[0].spam)
			a->bad++;
		a->reads++;
	}
	return NULL;
}

static void
test_concurrent_read_threads(void **state)
{
	(void)state;
	struct bayes_store *st;
	struct reader_arg a[3];
	pthread_t th[3];
	_Atomic int stop = 0;
	pid_t pid;
	int status;

	assert_int_equal(bayes_store_open(dir, true, &st), 0);
	bayes_store_close(st);
	if ((pid = fork()) == 0)
		learner(300, -1);
	assert_int_equal(bayes_store_open(dir, false, &st), 0);
	for (int i = 0; i < 3; i++) {
		a[i] = (struct reader_arg){ st, &stop, i * 7, 0 };
		assert_int_equal(
		    pthread_create(&th[i], NULL, reader_thread, &a[i]), 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	stop = 1;
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].bad, 0);
		assert_true(a[i].reads > i * 7);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_consistent(st, true);
	/* no thread left a value read before a later learn in the cache */
	for (unsigned i = 0; i < 300; i++) {
		struct bayes_tokval tv;

		get1(st, 1000 + i, &tv);
		assert_int_equal(tv.spam, 1);
	}
	bayes_store_close(st);
}

static void
test_kill9_during_learn(void **state)
{
	(void)state;
	struct bayes_store *st;
	struct bayes_vars v;
	pid_t pid;
	int status, p[2];
	char c;

	for (int round = 0; round < 3; round++) {
		/* kill 10..50 ms after the learner is surely mid-stream */
		struct timespec ts = { 0, (10 + 20 * round) * 1000 * 1000 };

		assert_int_equal(pipe(p), 0);
		if ((pid = fork()) == 0) {
			close(p[0]);
			learner(1000000, p[1]);
		}
		close(p[1]);
		assert_int_equal(read(p[0], &c, 1), 1);
		close(p[0]);
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		assert_true(WIFSIGNALED(status));
		/* the next open recovers; every message is all or nothing */
		assert_int_equal(bayes_store_open(dir, true, &st), 0);
		assert_consistent(st, true);
		bayes_store_vars(st, &v);
		assert_true(v.nspam >= 21);
		bayes_store_close(st);
	}
}

/* in_child - run fn in another process with its own handle (another
 * filterd worker, filterctl), and wait for it */
static void
in_child(void (*fn)(struct bayes_store *, unsigned), unsigned arg)
{
	pid_t pid;
	int status;

	if ((pid = fork()) == 0) {
		struct bayes_store *st;

		if (bayes_store_open(spec, true, &st) < 0)
			_exit(2);
		fn(st, arg);
		bayes_store_close(st);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* learn_as - message i as cls (another process: exit 3 on failure) */
static void
learn_as(struct bayes_store *st, unsigned i, int cls)
{
	uint64_t t[64];
	uint8_t seen[16];
	size_t n = toks_of(t, i);

	seen_of(seen, i);
	if (bayes_store_learn(st, seen, cls, t, n, 1) != BAYES_LEARNED)
		_exit(3);
}

static void
c_learn(struct bayes_store *st, unsigned i)
{
	learn_as(st, i, BAYES_SPAM);
}

static void
c_forget(struct bayes_store *st, unsigned i)
{
	learn_as(st, i, BAYES_FORGET);
}

/* c_batch - messages i..i+4 as ham in one batch */
static void
c_batch(struct bayes_store *st, unsigned i)
{
	static uint64_t t[5][64];
	struct bayes_learn_item it[5];
	int res[5];

	for (unsigned k = 0; k < 5; k++) {
		seen_of(it[k].seen, i + k);
		it[k].cls = BAYES_HAM;
		it[k].n = toks_of(t[k], i + k);
		it[k].toks = t[k];
	}
	if (bayes_store_learn_batch(st, it, 5, 1, res) != 0)
		_exit(3);
}

/* c_touch - atime of shared token 7 to t (a scan in another worker) */
static void
c_touch(struct bayes_store *st, unsigned t)
{
	uint64_t tok = 7;

	if (bayes_store_touch(st, &tok, 1, t) != 0)
		_exit(3);
}

static void
c_expire(struct bayes_store *st, unsigned cutoff)
{
	uint64_t removed;

	if (bayes_store_expire(st, cutoff, &removed) != 0 || removed == 0)
		_exit(3);
}

static char backup_copy[1 << 16];

static void
c_restore(struct bayes_store *st, unsigned unused)
{
	FILE *f = fmemopen(backup_copy, strlen(backup_copy), "r");
	size_t line;

	(void)unused;
	if (f == NULL || bayes_store_restore(st, f, &line) != 0)
		_exit(3);
	fclose(f);
}

/* c_many - 40 single learns (more than a reader catches up on), then
 * 100 (more than the change log keeps) */
static void
c_many(struct bayes_store *st, unsigned from)
{
	for (unsigned i = from; i < from + (from < 200 ? 40 : 100); i++)
		c_learn(st, i);
}

/* expect - the counts of shared token 7 and of message i's unique
 * token, read twice (the second read is answered by the cache) */
static void
expect(struct bayes_store *st, unsigned i, uint32_t spam7, uint32_t ham7,
    uint32_t spam_u, uint32_t ham_u)
{
	for (int k = 0; k < 2; k++) {
		struct bayes_tokval tv[2];
		uint64_t t[2] = { 7, 1000 + i };

		assert_int_equal(bayes_store_get(st, t, 2, tv), 0);
		assert_int_equal(tv[0].spam, spam7);
		assert_int_equal(tv[0].ham, ham7);
		assert_int_equal(tv[1].spam, spam_u);
		assert_int_equal(tv[1].ham, ham_u);
	}
}

static void
test_cache_sees_other_writers(void **state)
{
	(void)state;
	struct bayes_store *st;
	struct bayes_tokcache_stats cs;
	uint64_t hits;
	struct bayes_tokval tv7;

	assert_int_equal(bayes_store_open(spec, true, &st), 0);
	for (unsigned i = 0; i < 10; i++)
		c_learn(st, i);
	expect(st, 3, 10, 0, 1, 0);
	/* message 12's token is not in the store: cached as unknown */
	expect(st, 12, 10, 0, 0, 0);
	assert_int_equal(bayes_store_cache_stats(st, &cs), 0);
	assert_true(cs.hits >= 4);
	hits = cs.hits;

	in_child(c_learn, 12); /* one message */
	expect(st, 12, 11, 0, 1, 0);
	in_child(c_batch, 20); /* a batch of 5 ham */
	expect(st, 22, 11, 5, 0, 1);
	in_child(c_forget, 3); /* a forget */
	expect(st, 3, 10, 5, 0, 0);
	/* another worker's atime touch reaches this cache too, so it does
	 * not touch the token again */
	for (int k = 0; k < 2; k++) {
		struct bayes_tokval tv;

		get1(st, 7, &tv);
		assert_int_equal(tv.atime, k == 0 ? 1 : 5000);
		if (k == 0)
			in_child(c_touch, 5000);
	}
	get1(st, 7, &tv7);
	assert_int_equal(tv7.atime, 5000);
	assert_int_equal(tv7.spam, 10);
	/* a restore: clear + put_tokens (the backup taken before it) */
	char *b;
	size_t blen;
	b = backup_str(st, &blen);
	assert_true(blen < sizeof(backup_copy));
	memcpy(backup_copy, b, blen);
	backup_copy[blen] = '\0';
	free(b);
	in_child(c_learn, 30);
	expect(st, 30, 11, 5, 1, 0);
	in_child(c_restore, 0);
	expect(st, 30, 10, 5, 0, 0);
	/* expiry: everything was learned at time 1 or touched at 5000 */
	in_child(c_expire, 6000);
	expect(st, 4, 0, 0, 0, 0);
	/* more rows than a reader catches up on, or than the log keeps,
	 * while this handle looked away */
	in_child(c_many, 100);
	expect(st, 120, 40, 0, 1, 0);
	in_child(c_many, 200);
	expect(st, 250, 140, 0, 1, 0);
	/* and a few: caught up row by row */
	in_child(c_learn, 400);
	in_child(c_learn, 401);
	expect(st, 401, 142, 0, 1, 0);
	assert_int_equal(bayes_store_cache_stats(st, &cs), 0);
	assert_true(cs.hits > hits);
	assert_true(cs.updated > 0);
	assert_true(cs.clears >= 3);
	bayes_store_close(st);

	/* FILTERD_BAYES_NOCACHE=1: no cache, the same answers */
	setenv("FILTERD_BAYES_NOCACHE", "1", 1);
	assert_int_equal(bayes_store_open(spec, false, &st), 0);
	assert_int_equal(bayes_store_cache_stats(st, &cs), -ENOTSUP);
	expect(st, 401, 142, 0, 1, 0);
	bayes_store_close(st);
	unsetenv("FILTERD_BAYES_NOCACHE");
}

/* two writers at once (filterctl learn while workers autolearn and
 * touch): they take turns on the change log's last row, deadlocks are
 * retried, and a reader's cache ends exact */
static void
test_two_writers(void **state)
{
	(void)state;
	struct bayes_store *st;
	pid_t pid[2];
	int status;

	assert_int_equal(bayes_store_open(spec, true, &st), 0);
	expect(st, 0, 0, 0, 0, 0); /* cached before the writers start */
	for (int w = 0; w < 2; w++) {
		if ((pid[w] = fork()) == 0) {
			struct bayes_store *ws;

			if (bayes_store_open(spec, true, &ws) < 0)
				_exit(2);
			for (unsigned i = 0; i < 150; i++) {
				uint64_t tok = 7;

				learn_as(ws, 2000 * (unsigned)w + i, BAYES_SPAM);
				/* a touch that meets a learner is skipped */
				(void)bayes_store_touch(ws, &tok, 1, 100 + i);
			}
			bayes_store_close(ws);
			_exit(0);
		}
		assert_true(pid[w] > 0);
	}
	for (int w = 0; w < 2; w++) {
		assert_int_equal(waitpid(pid[w], &status, 0), pid[w]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	expect(st, 149, 300, 0, 1, 0);
	expect(st, 2149, 300, 0, 1, 0);
	assert_consistent(st, true);
	bayes_store_close(st);
}

/* expiry rounds: bayes_store_claim_expire gives each round to one
 * claimer, across processes; bayes_store_expire_due runs only over the
 * size and after the period; an expiry beside a learner leaves the
 * learner's totals alone (it used to write back the totals it had read) */
static void
test_expire_claim(void **state)
{
	(void)state;
	struct bayes_store *st;
	struct bayes_vars v;
	uint64_t removed, t[64];
	uint8_t seen[16];
	int status, won = 0, lost = 0;
	pid_t pid[4];

	assert_int_equal(bayes_store_open(spec, true, &st), 0);
	/* message i at time 100 + i: unique token 1000 + i keeps that atime,
	 * the 50 shared ones end at 119 */
	for (unsigned i = 0; i < 20; i++) {
		size_t n = toks_of(t, i);

		seen_of(seen, i);
		assert_int_equal(bayes_store_learn(st, seen, BAYES_SPAM, t, n,
				     100 + i),
		    BAYES_LEARNED);
	}
	/* a store that never expired is due at once */
	assert_int_equal(bayes_store_claim_expire(st, 1000, 100), 1);
	assert_int_equal(bayes_store_claim_expire(st, 1050, 100), 0);
	assert_int_equal(bayes_store_claim_expire(st, 1100, 100), 1);
	/* a clock that went back claims nothing */
	assert_int_equal(bayes_store_claim_expire(st, 900, 0), 0);
	assert_int_equal(bayes_store_vars(st, &v), 0);
	assert_int_equal(v.last_expire, 1100);
	assert_int_equal(v.nspam, 20);
	assert_int_equal(v.ntokens, 70);

	/* four processes claim the same round: one gets it */
	for (int w = 0; w < 4; w++) {
		if ((pid[w] = fork()) == 0) {
			struct bayes_store *ws;
			int rc;

			if (bayes_store_open(spec, true, &ws) < 0)
				_exit(2);
			rc = bayes_store_claim_expire(ws, 5000, 100);
			bayes_store_close(ws);
			_exit(rc == 1 ? 10 : rc == 0 ? 11 : 2);
		}
		assert_true(pid[w] > 0);
	}
	for (int w = 0; w < 4; w++) {
		assert_int_equal(waitpid(pid[w], &status, 0), pid[w]);
		assert_true(WIFEXITED(status));
		won += WEXITSTATUS(status) == 10;
		lost += WEXITSTATUS(status) == 11;
	}
	assert_int_equal(won, 1);
	assert_int_equal(lost, 3);

	/* not over the size; over it but the round is too recent */
	assert_int_equal(bayes_store_expire_due(st, 70, 100, 9000, &removed), 0);
	assert_int_equal(
	    bayes_store_expire_due(st, 60, 5000, 9000, &removed), 0);
	/* due: keep the newest 45 of 70, i.e. drop what is older than 119 */
	assert_int_equal(bayes_store_expire_due(st, 60, 100, 9000, &removed), 1);
	assert_int_equal(removed, 19);
	assert_int_equal(bayes_store_vars(st, &v), 0);
	assert_int_equal(v.ntokens, 51);
	assert_int_equal(v.last_expire, 9000);
	assert_int_equal(v.nspam, 20);
	assert_int_equal(bayes_store_expire_due(st, 40, 100, 9050, &removed), 0);

	/* expiry rounds while another process learns 200 messages */
	if ((pid[0] = fork()) == 0) {
		struct bayes_store *ws;

		if (bayes_store_open(spec, true, &ws) < 0)
			_exit(2);
		for (unsigned i = 100; i < 300; i++)
			learn_as(ws, i, BAYES_SPAM);
		bayes_store_close(ws);
		_exit(0);
	}
	assert_true(pid[0] > 0);
	for (uint32_t now = 10000; waitpid(pid[0], &status, WNOHANG) == 0;
	     now++)
		assert_int_equal(
		    bayes_store_expire_auto(st, 0, 0, now, &removed), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(bayes_store_vars(st, &v), 0);
	assert_int_equal(v.nspam, 220);
	assert_int_equal(v.ntokens, 51 + 200);
	bayes_store_close(st);
}

static void
test_expire_claim_redis(void **state)
{
	if (redis_pid <= 0)
		skip();
	test_expire_claim(state);
}

/* the same against Redis: every host's caches follow every host's
 * writes through fb:gen and the fb:c:<n> rows */
static void
test_cache_sees_other_writers_redis(void **state)
{
	if (redis_pid <= 0)
		skip();
	test_cache_sees_other_writers(state);
}

static void
test_two_writers_redis(void **state)
{
	if (redis_pid <= 0)
		skip();
	test_two_writers(state);
}

/* the Redis URL: userinfo (RFC 3986 3.2.1) percent-decoded, defaults,
 * bad forms refused; the password never shown */
static void
test_redis_url(void **state)
{
	struct bayes_redis_url u;
	char out[256];

	(void)state;
	assert_int_equal(bayes__redis_url("redis://10.0.0.5", &u), 0);
	assert_string_equal(u.host, "10.0.0.5");
	assert_int_equal(u.port, 6379);
	assert_int_equal(u.db, 0);
	assert_string_equal(u.pass, "");
	assert_int_equal(
	    bayes__redis_url("redis://:s3cr%3At%40x%2Fy@h:6380/4", &u), 0);
	assert_string_equal(u.host, "h");
	assert_int_equal(u.port, 6380);
	assert_int_equal(u.db, 4);
	assert_string_equal(u.user, "");
	assert_string_equal(u.pass, "s3cr:t@x/y");
	assert_int_equal(bayes__redis_url("redis://alice:pw@h/2", &u), 0);
	assert_string_equal(u.user, "alice");
	assert_string_equal(u.pass, "pw");
	assert_int_equal(u.db, 2);
	assert_int_equal(bayes__redis_url("redis://:pw@[::1]:6380/3", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 6380);
	assert_int_equal(u.db, 3);
	assert_int_equal(bayes__redis_url("redis://[fd00::5]", &u), 0);
	assert_string_equal(u.host, "fd00::5");
	assert_int_equal(u.port, 6379);
	/* an empty password, no colon, bad escapes, NUL, no host, a port
	 * or db out of range: refused */
	static const char *const bad[] = { "redis://:@h", "redis://user@h",
		"redis://:a%4@h", "redis://:a%zz@h", "redis://:a%00b@h",
		"redis://:pw@", "redis://h:0", "redis://h:70000",
		"redis://h/1001", "redis://h/x", "http://h", "redis://[::1",
		"redis://[]:6379", "redis://[::1]x", "redis://[a/b]" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(bayes__redis_url(bad[i], &u), -EINVAL);
	/* a '@' after the path is not userinfo */
	assert_int_equal(bayes__redis_url("redis://h/1@x", &u), -EINVAL);

	bayes_store_redact("redis://:s3cr%3At@h:6380/4", out, sizeof(out));
	assert_string_equal(out, "redis://:***@h:6380/4");
	bayes_store_redact("redis://alice:pw@h/2", out, sizeof(out));
	assert_string_equal(out, "redis://alice:***@h/2");
	bayes_store_redact("redis://h:6379/0", out, sizeof(out));
	assert_string_equal(out, "redis://h:6379/0");
	bayes_store_redact("/var/lib/filterd/bayes", out, sizeof(out));
	assert_string_equal(out, "/var/lib/filterd/bayes");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redis_url),
		cmocka_unit_test_setup_teardown(
		    test_learn_relearn_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_backup_restore_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_learn_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_big_store, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_concurrent_read, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_concurrent_read_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_kill9_during_learn, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cache_sees_other_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_two_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_expire_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_cache_sees_other_writers_redis, setup_redis,
		    teardown_redis),
		cmocka_unit_test_setup_teardown(
		    test_two_writers_redis, setup_redis, teardown_redis),
		cmocka_unit_test_setup_teardown(
		    test_big_store_redis, setup_redis, teardown_redis),
		cmocka_unit_test_setup_teardown(
		    test_learn_batch_redis, setup_redis, teardown_redis),
		cmocka_unit_test_setup_teardown(
		    test_expire_claim_redis, setup_redis, teardown_redis),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
