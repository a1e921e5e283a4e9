/*
 * bayes/store_redis - the Redis backend (hiredis), for many hosts
 *
 *   bayes_store = redis://127.0.0.1:6379/0
 *   bayes_store = redis://:PASSWORD@10.0.0.5:6379/0   (requirepass)
 *   bayes_store = redis://USER:PASSWORD@10.0.0.5/0    (Redis 6 ACL)
 * (userinfo percent-decoded; every message prints it with the password
 * as ***, bayes_store_redact)
 * Layout, all keys under "fb:" so a shared Redis db can hold other data:
 *   fb:t:<token 16 hex>   hash s, h, a (spam count, ham count, atime)
 *   fb:seen               hash <seen 32 hex> -> 1 (spam) / 2 (ham)
 *   fb:v                  hash nspam nham ntokens last_expire hashkey
 *   fb:gen                hash id (when the log began: TIME), n (last row)
 *   fb:c:<n>              change row n: "U" and lines "<token 16 hex> s h
 *                         a" with the new values of the tokens a write
 *                         changed (0 0 0: deleted), or "C" (all changed);
 *                         the last CHG_KEEP rows are kept
 * Learning runs one Lua script per message (EVALSHA): the seen check, the
 * moves, the totals and the change row happen atomically in Redis, so any
 * number of filterd hosts and learners can share one model. Lookups are
 * one pipelined round trip of HMGETs for the tokens the handle's token
 * cache (bayes/tokcache.h) lacks, after one HMGET of fb:gen and the rows
 * since the cache's: every host's caches follow every host's writes. A
 * new fb:gen id (the store was cleared, or Redis lost its data) starts
 * the cache over. Values read after the number was taken may be newer
 * than it; the rows, absolute and applied in order, make them right.
 * A connection is not thread-safe, so every call holds the store's mutex
 * (milter threads share a handle).
 * Errors: connection or protocol trouble -EIO, timeouts -ETIMEDOUT.
 */
#include "bayes/store.h"
#include "bayes/tokcache.h"

#include <ctype.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct redis_store {
	struct bayes_store base;
	redisContext *c;
	pthread_mutex_t mu;
	char sha[5][48]; /* SCRIPT LOAD of scripts[] */
	bool rdwr;
	struct bayes_tokcache *cache; /* NULL: uncached */
	char gid[48];		      /* fb:gen id the cache follows */
};

#define STR_(x) #x
#define STR(x) STR_(x)

/* logrow(row): append change row, start the log (id) if new, trim it.
 * row(i0): the "U" row of the tokens ARGV[i0..] as stored now */
#define LOG_LUA                                                             \
	"local function logrow(row)\n"                                      \
	"  local n = redis.call('HINCRBY', 'fb:gen', 'n', 1)\n"             \
	"  if n == 1 then local t = redis.call('TIME')\n"                   \
	"    redis.call('HSET', 'fb:gen', 'id', t[1] .. '.' .. t[2]) end\n" \
	"  redis.call('SET', 'fb:c:' .. n, row)\n"                          \
	"  redis.call('DEL', 'fb:c:' .. (n - " STR(CHG_KEEP) "))\n"         \
	"end\n"                                                             \
	"local function row(i0)\n"                                          \
	"  if #ARGV - i0 + 1 > " STR(CHG_MAX_TOKENS) " then return 'C' end\n" \
	"  local p = {'U'}\n"                                               \
	"  for i = i0, #ARGV do\n"                                          \
	"    local v = redis.call('HMGET', 'fb:t:' .. ARGV[i], 's', 'h', 'a')\n" \
	"    p[#p + 1] = ARGV[i] .. ' ' .. (v[1] or '0') .. ' ' ..\n"       \
	"      (v[2] or '0') .. ' ' .. (v[3] or '0') .. '\\n'\n"          \
	"  end\n"                                                           \
	"  return table.concat(p)\n"                                        \
	"end\n"

/* learn_lua: ARGV seen, class (1 spam, 2 ham, 0 forget), now, tokens.
 * A first learn (the common case) reads each token once (HMGET), writes
 * it once (HSET of its count and atime) and builds the change row on the
 * way; a move or a forget applies, then reads the row back (row()). */
static const char learn_lua[] = LOG_LUA
    "local old = tonumber(redis.call('HGET','fb:seen',ARGV[1]) or '0')\n"
    "local cls = tonumber(ARGV[2])\n"
    "if cls == 0 and old == 0 then return 2 end\n"
    "if old == cls then return 1 end\n"
    "local now = tonumber(ARGV[3])\n"
    "local dt = 0\n"
    "local p = nil\n"
    "if old == 0 and #ARGV - 3 <= " STR(CHG_MAX_TOKENS) " then p = {'U'} end\n"
    "local function apply(c, d)\n"
    "  local f = (c == 1) and 's' or 'h'\n"
    "  local o = (c == 1) and 'h' or 's'\n"
    "  for i = 4, #ARGV do\n"
    "    local k = 'fb:t:' .. ARGV[i]\n"
    "    if d > 0 then\n"
    "      local v = redis.call('HMGET', k, f, o, 'a')\n"
    "      local n = tonumber(v[1] or '0') + 1\n"
    "      local oc = v[2] or '0'\n"
    "      local a = v[3] or '0'\n"
    "      if n == 1 and tonumber(oc) == 0 then dt = dt + 1 end\n"
    "      if now > tonumber(a) then a = ARGV[3] end\n"
    "      n = tostring(n)\n"
    "      redis.call('HSET', k, f, n, 'a', a)\n"
    "      if p then\n"
    "        if c == 1 then p[#p + 1] = ARGV[i] .. ' ' .. n .. ' ' .. oc\n"
    "        else p[#p + 1] = ARGV[i] .. ' ' .. oc .. ' ' .. n end\n"
    "        p[#p + 1] = ' ' .. a .. '\\n'\n"
    "      end\n"
    "    else\n"
    "      local v = tonumber(redis.call('HGET', k, f) or '0')\n"
    "      if v > 0 then v = redis.call('HINCRBY', k, f, -1) end\n"
    "      if v <= 0 and tonumber(redis.call('HGET', k, o) or '0') == 0\n"
    "      then if redis.call('DEL', k) == 1 then dt = dt - 1 end end\n"
    "    end\n"
    "  end\n"
    "  redis.call('HINCRBY', 'fb:v', (c == 1) and 'nspam' or 'nham', d)\n"
    "end\n"
    "if old ~= 0 then apply(old, -1) end\n"
    "if cls ~= 0 then apply(cls, 1); redis.call('HSET','fb:seen',ARGV[1],cls)\n"
    "else redis.call('HDEL', 'fb:seen', ARGV[1]) end\n"
    "redis.call('HINCRBY', 'fb:v', 'ntokens', dt)\n"
    "if p then logrow(table.concat(p)) else logrow(row(4)) end\n"
    "return 0\n";

static const char touch_lua[] = LOG_LUA
    "local p = {'U'}\n"
    "for i = 2, #ARGV do\n"
    "  local k = 'fb:t:' .. ARGV[i]\n"
    "  local v = redis.call('HMGET', k, 's', 'h', 'a')\n"
    "  if v[3] and tonumber(v[3]) < tonumber(ARGV[1]) then\n"
    "    redis.call('HSET', k, 'a', ARGV[1])\n"
    "    p[#p + 1] = ARGV[i] .. ' ' .. (v[1] or '0') .. ' ' ..\n"
    "      (v[2] or '0') .. ' ' .. ARGV[1] .. '\\n' end\n"
    "end\n"
    "if #p > 1 then\n"
    "  logrow(#p > " STR(CHG_MAX_TOKENS) " + 1 and 'C' or table.concat(p))\n"
    "end\n"
    "return 0\n";

/* expire_lua: ARGV[1] the cutoff, ARGV[2..] tokens (one SCAN batch):
 * delete those still unused since the cutoff, count them and log them as
 * deleted, atomically (a learner may have used one since the SCAN) */
static const char expire_lua[] = LOG_LUA
    "local cut = tonumber(ARGV[1])\n"
    "local p = {'U'}\n"
    "for i = 2, #ARGV do\n"
    "  local k = 'fb:t:' .. ARGV[i]\n"
    "  local a = tonumber(redis.call('HGET', k, 'a') or '0')\n"
    "  if a < cut and redis.call('DEL', k) == 1 then\n"
    "    p[#p + 1] = ARGV[i] .. ' 0 0 0\\n' end\n"
    "end\n"
    "local n = #p - 1\n"
    "if n > 0 then\n"
    "  redis.call('HINCRBY', 'fb:v', 'ntokens', -n)\n"
    "  logrow(n > " STR(CHG_MAX_TOKENS) " and 'C' or table.concat(p))\n"
    "end\n"
    "return n\n";

/* claim_lua: ARGV[1] now, ARGV[2] period: last_expire := now when it is
 * at least period old (bayes_store_claim_expire), in one step */
static const char claim_lua[] =
    "local last = tonumber(redis.call('HGET', 'fb:v', 'last_expire') or '0')\n"
    "local now = tonumber(ARGV[1])\n"
    "if last > now or now - last < tonumber(ARGV[2]) then return 0 end\n"
    "redis.call('HSET', 'fb:v', 'last_expire', ARGV[1])\n"
    "return 1\n";

/* log_lua: a change row written by the C side (expiry, clear, restore) */
static const char log_lua[] = LOG_LUA "logrow(ARGV[1])\nreturn 0\n";

static int
ctx_err(struct redis_store *s)
{
	if (s->c->err == REDIS_ERR_IO &&
	    (errno == EAGAIN || errno == ETIMEDOUT))
		return -ETIMEDOUT;
	return -EIO;
}

/* cmd - one command; returns the reply or NULL (*rc set) */
static redisReply *
cmdv(struct redis_store *s, int *rc, int argc, const char **argv,
    const size_t *lens)
{
	redisReply *r = redisCommandArgv(s->c, argc, argv, lens);

	if (r == NULL) {
		*rc = ctx_err(s);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		*rc = strncmp(r->str, "NOSCRIPT", 8) == 0 ? -ENOEXEC : -EIO;
		freeReplyObject(r);
		return NULL;
	}
	*rc = 0;
	return r;
}

static redisReply *
cmd(struct redis_store *s, int *rc, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(s->c, fmt, ap);
	va_end(ap);
	if (r == NULL) {
		*rc = ctx_err(s);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		*rc = -EIO;
		freeReplyObject(r);
		return NULL;
	}
	*rc = 0;
	return r;
}

/* The scripts, loaded once (SCRIPT LOAD) and run by their SHA1. */
enum { SCRIPT_LEARN, SCRIPT_TOUCH, SCRIPT_LOG, SCRIPT_EXPIRE, SCRIPT_CLAIM,
	NSCRIPTS };
static const char *const scripts[NSCRIPTS] = { learn_lua, touch_lua, log_lua,
	expire_lua, claim_lua };
_Static_assert(sizeof(((struct redis_store *)0)->sha) /
	    sizeof(((struct redis_store *)0)->sha[0]) == NSCRIPTS,
    "one sha a script");

static int
load_scripts(struct redis_store *s)
{
	for (int k = 0; k < NSCRIPTS; k++) {
		redisReply *r;
		int rc;

		if ((r = cmd(s, &rc, "SCRIPT LOAD %s", scripts[k])) == NULL)
			return rc;
		if (r->type != REDIS_REPLY_STRING || r->len >= sizeof(s->sha[k])) {
			freeReplyObject(r);
			return -EIO;
		}
		memcpy(s->sha[k], r->str, r->len + 1);
		freeReplyObject(r);
	}
	return 0;
}

/* evalsha - run script k with argv[3..argc) (EVALSHA sha 0 ARGV...;
 * argv[0..2] and lens[0..2] are set here), the lock held; after a Redis
 * restart (NOSCRIPT) the scripts are loaded again and it runs once more */
static redisReply *
evalsha(struct redis_store *s, int k, int *rc, int argc, const char **argv,
    size_t *lens)
{
	redisReply *r;

	argv[0] = "EVALSHA";
	argv[1] = s->sha[k];
	argv[2] = "0";
	lens[0] = 7;
	lens[1] = strlen(s->sha[k]);
	lens[2] = 1;
	r = cmdv(s, rc, argc, argv, lens);
	if (r == NULL && *rc == -ENOEXEC && load_scripts(s) == 0) {
		lens[1] = strlen(s->sha[k]);
		r = cmdv(s, rc, argc, argv, lens);
	}
	return r;
}

static void
tokhex(char out[17], uint64_t t)
{
	snprintf(out, 17, "%016" PRIx64, t);
}

static void
hexn(char *out, const uint8_t *p, size_t n)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
unhexn(const char *s, size_t slen, uint8_t *out, size_t n)
{
	return slen != 2 * n ? -EINVAL : bayes__unhex(s, out, n);
}

static uint64_t
rnum(const redisReply *e)
{
	if (e == NULL)
		return 0;
	if (e->type == REDIS_REPLY_INTEGER)
		return e->integer < 0 ? 0 : (uint64_t)e->integer;
	if (e->type == REDIS_REPLY_STRING) {
		long long v = strtoll(e->str, NULL, 10);

		return v < 0 ? 0 : (uint64_t)v;
	}
	return 0;
}

static int
r_vars_locked(struct redis_store *s, struct bayes_vars *v)
{
	redisReply *r;
	int rc;

	memset(v, 0, sizeof(*v));
	r = cmd(s, &rc, "HMGET fb:v nspam nham ntokens last_expire hashkey");
	if (r == NULL)
		return rc;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 5) {
		freeReplyObject(r);
		return -EIO;
	}
	v->nspam = rnum(r->element[0]);
	v->nham = rnum(r->element[1]);
	v->ntokens = rnum(r->element[2]);
	v->last_expire = rnum(r->element[3]);
	if (r->element[4]->type != REDIS_REPLY_STRING ||
	    unhexn(r->element[4]->str, r->element[4]->len, v->hashkey, 16) < 0)
		memcpy(v->hashkey, "filterd-bayes-01", 16);
	freeReplyObject(r);
	return 0;
}

static int
r_vars(struct bayes_store *st, struct bayes_vars *v)
{
	struct redis_store *s = (struct redis_store *)st;
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = r_vars_locked(s, v);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* pipelined HMGET of every token; fills out[] */
static int
get_locked(struct redis_store *s, const uint64_t *toks, size_t n,
    struct bayes_tokval *out)
{
	char key[24];
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		memcpy(key, "fb:t:", 5);
		tokhex(key + 5, toks[i]);
		if (redisAppendCommand(s->c, "HMGET %s s h a", key) != REDIS_OK)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		redisReply *r;

		if (redisGetReply(s->c, (void **)&r) != REDIS_OK)
			return ctx_err(s); /* the context is dead now */
		out[i].tok = toks[i];
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
			out[i].spam = (uint32_t)rnum(r->element[0]);
			out[i].ham = (uint32_t)rnum(r->element[1]);
			out[i].atime = (uint32_t)rnum(r->element[2]);
		} else {
			rc = -EIO;
		}
		freeReplyObject(r);
	}
	return rc;
}

/* catchup - the rows from..to, one pipelined round trip; a missing one
 * (trimmed) clears */
static int
catchup(void *arg, struct bayes_tokcache *c, uint64_t from, uint64_t to)
{
	struct redis_store *s = arg;
	int rc = 0;

	if (to - from >= CHG_CATCHUP_MAX)
		return -ERANGE;
	for (uint64_t g = from; g <= to; g++)
		if (redisAppendCommand(s->c, "GET fb:c:%" PRIu64, g) !=
		    REDIS_OK)
			return -ENOMEM; /* nothing sent: the context is fine */
	for (uint64_t g = from; g <= to; g++) {
		redisReply *r;

		if (redisGetReply(s->c, (void **)&r) != REDIS_OK)
			return ctx_err(s);
		if (r->type == REDIS_REPLY_STRING && rc == 0)
			bayes_tokcache_apply_text(c, r->str, r->len);
		else
			rc = -ENOENT;
		freeReplyObject(r);
	}
	return rc;
}

/* cache_sync - fb:gen as it is now; a new log id starts the cache over.
 * true when the cache may serve at *gen */
static bool
cache_sync(struct redis_store *s, uint64_t *gen)
{
	redisReply *r;
	const char *id = "";
	int rc;

	if ((r = cmd(s, &rc, "HMGET fb:gen id n")) == NULL)
		return false;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		freeReplyObject(r);
		return false;
	}
	if (r->element[0]->type == REDIS_REPLY_STRING)
		id = r->element[0]->str;
	*gen = rnum(r->element[1]);
	if (strncmp(id, s->gid, sizeof(s->gid)) != 0) {
		struct bayes_tokcache *c = bayes_tokcache_new();

		bayes_tokcache_free(s->cache);
		s->cache = c;
		snprintf(s->gid, sizeof(s->gid), "%s", id);
	}
	freeReplyObject(r);
	return s->cache != NULL &&
	    bayes_tokcache_sync(s->cache, *gen, catchup, s);
}

static int
r_get(struct bayes_store *st, const uint64_t *toks, size_t n,
    struct bayes_tokval *out)
{
	struct redis_store *s = (struct redis_store *)st;
	uint64_t gen = 0, *mt = NULL;
	size_t *miss = NULL, nmiss = 0;
	struct bayes_tokval *mv = NULL;
	int rc;

	pthread_mutex_lock(&s->mu);
	if (s->cache == NULL || !cache_sync(s, &gen) ||
	    (miss = malloc(n * sizeof(*miss) + 1)) == NULL ||
	    (mt = calloc(n + 1, sizeof(*mt))) == NULL ||
	    (mv = malloc(n * sizeof(*mv) + 1)) == NULL) {
		rc = s->c->err ? ctx_err(s) : get_locked(s, toks, n, out);
		goto out;
	}
	nmiss = bayes_tokcache_lookup(s->cache, gen, toks, n, out, miss);
	for (size_t j = 0; j < nmiss; j++)
		mt[j] = toks[miss[j]];
	if ((rc = get_locked(s, mt, nmiss, mv)) == 0) {
		for (size_t j = 0; j < nmiss; j++)
			out[miss[j]] = mv[j];
		bayes_tokcache_insert(s->cache, gen, out, miss, nmiss);
	}
out:
	pthread_mutex_unlock(&s->mu);
	free(miss);
	free(mt);
	free(mv);
	return rc;
}

/* log_row - a change row from the C side (with the lock held) */
static int
log_row(struct redis_store *s, const char *row, size_t len)
{
	const char *argv[4] = { NULL, NULL, NULL, row };
	size_t lens[4] = { 0, 0, 0, len };
	redisReply *r;
	int rc;

	if ((r = evalsha(s, SCRIPT_LOG, &rc, 4, argv, lens)) != NULL)
		freeReplyObject(r);
	return rc;
}

/* row_of - the "U" row of t[0..n) (malloc'ed, *len), or "C" when there
 * are too many or no memory (static: do not free) */
static char *
row_of(const struct bayes_tokval *t, size_t n, size_t *len)
{
	char *p;

	if (n > CHG_MAX_TOKENS || (p = malloc(2 + n * 50)) == NULL) {
		*len = 1;
		return (char *)"C";
	}
	*len = 1;
	p[0] = 'U';
	for (size_t i = 0; i < n; i++)
		*len += (size_t)snprintf(p + *len, 50, "%016" PRIx64 " %u %u %u\n",
		    t[i].tok, t[i].spam, t[i].ham, t[i].atime);
	return p;
}

static int
log_vals(struct redis_store *s, const struct bayes_tokval *t, size_t n)
{
	size_t len;
	char *row = row_of(t, n, &len);
	int rc = log_row(s, row, len);

	if (row[0] == 'U')
		free(row);
	return rc;
}

/* eval_toks - script k with ARGV: first[0..nfirst), then toks[0..n) in
 * hex (the lock held); the reply, or NULL with *rc */
static redisReply *
eval_toks(struct redis_store *s, int k, int *rc, const char *const *first,
    size_t nfirst, const uint64_t *toks, size_t n)
{
	size_t argc = 3 + nfirst + n;
	const char **argv = malloc(argc * sizeof(*argv));
	size_t *lens = malloc(argc * sizeof(*lens));
	char *hx = malloc(n * 17 + 1);
	redisReply *r = NULL;

	*rc = -ENOMEM;
	if (argv != NULL && lens != NULL && hx != NULL) {
		for (size_t i = 0; i < nfirst; i++)
			argv[3 + i] = first[i];
		for (size_t i = 0; i < n; i++) {
			tokhex(hx + 17 * i, toks[i]);
			argv[3 + nfirst + i] = hx + 17 * i;
		}
		for (size_t i = 3; i < argc; i++)
			lens[i] = strlen(argv[i]);
		r = evalsha(s, k, rc, (int)argc, argv, lens);
	}
	free(argv);
	free(lens);
	free(hx);
	return r;
}

/* learn_one - the learn script for one message (the lock held) */
static int
learn_one(struct redis_store *s, const uint8_t *seen, int cls,
    const uint64_t *toks, size_t n, const char *nowb)
{
	char seenhx[33], clsb[4];
	const char *first[3] = { seenhx, clsb, nowb };
	redisReply *r;
	int rc;

	hexn(seenhx, seen, 16);
	snprintf(clsb, sizeof(clsb), "%d", cls);
	if ((r = eval_toks(s, SCRIPT_LEARN, &rc, first, 3, toks, n)) == NULL)
		return rc;
	rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -EIO;
	freeReplyObject(r);
	return rc;
}

static int
r_learn(struct bayes_store *st, const uint8_t *seen, int cls,
    const uint64_t *toks, size_t n, uint32_t now)
{
	struct redis_store *s = (struct redis_store *)st;
	char nowb[16];
	int rc;

	if (!s->rdwr)
		return -EROFS;
	snprintf(nowb, sizeof(nowb), "%" PRIu32, now);
	pthread_mutex_lock(&s->mu);
	rc = learn_one(s, seen, cls, toks, n, nowb);
	pthread_mutex_unlock(&s->mu);
	return rc;
}


/* Learning batches: the scripts of up to LEARN_PIPE messages (or
 * LEARN_PIPE_ARGS tokens) go out before their replies are read, so Redis
 * runs them back to back instead of waiting a round trip each. Each
 * message stays one script, atomic on its own. */
#define LEARN_PIPE 64
#define LEARN_PIPE_ARGS 200000

/* append_learn - queue the learn script of one item (the lock held) */
static int
append_learn(struct redis_store *s, const struct bayes_learn_item *it,
    const char *nowb)
{
	size_t argc = 6 + it->n;
	const char **argv = malloc(argc * sizeof(*argv));
	size_t *lens = malloc(argc * sizeof(*lens));
	char *hx = malloc(it->n * 17 + 1);
	char seenhx[33], clsb[4];
	int rc = -ENOMEM;

	if (argv != NULL && lens != NULL && hx != NULL) {
		hexn(seenhx, it->seen, 16);
		snprintf(clsb, sizeof(clsb), "%d", it->cls);
		argv[0] = "EVALSHA";
		argv[1] = s->sha[SCRIPT_LEARN];
		argv[2] = "0";
		argv[3] = seenhx;
		argv[4] = clsb;
		argv[5] = nowb;
		for (size_t i = 0; i < it->n; i++) {
			tokhex(hx + 17 * i, it->toks[i]);
			argv[6 + i] = hx + 17 * i;
		}
		for (size_t i = 0; i < argc; i++)
			lens[i] = strlen(argv[i]);
		/* hiredis copies the command into its buffer here */
		rc = redisAppendCommandArgv(s->c, (int)argc, argv, lens) ==
			REDIS_OK ? 0 : ctx_err(s);
	}
	free(argv);
	free(lens);
	free(hx);
	return rc;
}

/* r_learn_batch - items pipelined LEARN_PIPE at a time; result[i] >= 0
 * for the items known learned. On an error the rest of the batch is not
 * sent; after a lost connection the scripts whose replies were not read
 * may have run (a rerun counts them as already known). A NOSCRIPT reply
 * (Redis restarted or its script cache was flushed) loads the scripts
 * and runs that item again. */
static int
r_learn_batch(struct bayes_store *st, const struct bayes_learn_item *items,
    size_t n, uint32_t now, int *result)
{
	struct redis_store *s = (struct redis_store *)st;
	char nowb[16];
	int rc = 0;

	if (!s->rdwr)
		return -EROFS;
	/* result[] comes pre-filled with -1 (bayes_store_learn_batch) */
	snprintf(nowb, sizeof(nowb), "%" PRIu32, now);
	pthread_mutex_lock(&s->mu);
	for (size_t a = 0; rc == 0 && a < n;) {
		size_t b = a, args = 0, got;
		bool noscript = false;

		while (b < n && b - a < LEARN_PIPE &&
		    (b == a || args + items[b].n <= LEARN_PIPE_ARGS)) {
			if ((rc = append_learn(s, &items[b], nowb)) < 0)
				break;
			args += items[b++].n;
		}
		/* every queued script is read, even after an error reply, so
		 * the connection stays in step */
		for (got = a; got < b; got++) {
			redisReply *r;

			if (redisGetReply(s->c, (void **)&r) != REDIS_OK) {
				rc = ctx_err(s);
				break;
			}
			if (r->type == REDIS_REPLY_INTEGER)
				result[got] = (int)r->integer;
			else if (r->type == REDIS_REPLY_ERROR &&
			    strncmp(r->str, "NOSCRIPT", 8) == 0)
				noscript = true;
			else if (rc == 0)
				rc = -EIO;
			freeReplyObject(r);
		}
		if (rc == 0 && noscript && (rc = load_scripts(s)) == 0) {
			for (size_t i = a; rc == 0 && i < b; i++) {
				if (result[i] >= 0)
					continue;
				rc = learn_one(s, items[i].seen, items[i].cls,
				    items[i].toks, items[i].n, nowb);
				if (rc >= 0) {
					result[i] = rc;
					rc = 0;
				}
			}
		}
		a = b;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int
r_touch(struct bayes_store *st, const uint64_t *toks, size_t n, uint32_t now)
{
	struct redis_store *s = (struct redis_store *)st;
	char nowb[16];
	redisReply *r;
	int rc;

	if (!s->rdwr)
		return -EROFS;
	snprintf(nowb, sizeof(nowb), "%" PRIu32, now);
	pthread_mutex_lock(&s->mu);
	r = eval_toks(s, SCRIPT_TOUCH, &rc, (const char *[]){ nowb }, 1, toks,
	    n);
	pthread_mutex_unlock(&s->mu);
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

/* expire_batch - one SCAN batch through expire_lua: one round trip for
 * up to ~1000 tokens (a DEL and an HINCRBY each took 460 s for 2.9M) */
static int
expire_batch(struct redis_store *s, const uint64_t *toks, size_t n,
    uint32_t cutoff, uint64_t *removed)
{
	char cut[16];
	redisReply *r;
	int rc;

	if (n == 0)
		return 0;
	snprintf(cut, sizeof(cut), "%" PRIu32, cutoff);
	if ((r = eval_toks(s, SCRIPT_EXPIRE, &rc, (const char *[]){ cut }, 1,
		 toks, n)) == NULL)
		return rc;
	if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0)
		*removed += (uint64_t)r->integer;
	else
		rc = -EIO;
	freeReplyObject(r);
	return rc;
}

/* scan_tokens - SCAN fb:t:* in batches, HMGET each batch pipelined */
static int
scan_tokens(struct redis_store *s, bayes_tok_cb *cb, void *arg, uint32_t cutoff,
    uint64_t *removed)
{
	char cursor[32] = "0";
	int rc = 0;

	do {
		redisReply *r =
		    cmd(s, &rc, "SCAN %s MATCH fb:t:* COUNT 1000", cursor);
		if (r == NULL)
			return rc;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING) {
			freeReplyObject(r);
			return -EIO;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		redisReply *keys = r->element[1];
		uint64_t *toks = malloc((keys->elements + 1) * sizeof(*toks));
		struct bayes_tokval *tv =
		    malloc((keys->elements + 1) * sizeof(*tv));
		size_t n = 0;

		if (toks == NULL || tv == NULL) {
			rc = -ENOMEM;
			goto next;
		}
		for (size_t i = 0; i < keys->elements; i++) {
			uint8_t b[8];

			if (keys->element[i]->type != REDIS_REPLY_STRING ||
			    keys->element[i]->len != 21 ||
			    unhexn(keys->element[i]->str + 5,
				keys->element[i]->len - 5, b, 8) < 0)
				continue; /* not one of our fb:t:<16 hex> */
			toks[n] = 0;
			for (int j = 0; j < 8; j++)
				toks[n] = (toks[n] << 8) | b[j];
			n++;
		}
		if (cb == NULL) {
			rc = expire_batch(s, toks, n, cutoff, removed);
			goto next;
		}
		if ((rc = get_locked(s, toks, n, tv)) < 0)
			goto next;
		for (size_t i = 0; i < n && rc >= 0; i++)
			rc = cb(arg, &tv[i]);
	next:
		free(toks);
		free(tv);
		freeReplyObject(r);
		if (rc < 0)
			return rc;
	} while (strcmp(cursor, "0") != 0);
	return 0;
}

static int
r_foreach_token(struct bayes_store *st, bayes_tok_cb *cb, void *arg)
{
	struct redis_store *s = (struct redis_store *)st;
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = scan_tokens(s, cb, arg, 0, NULL);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int
r_expire(struct bayes_store *st, uint32_t cutoff, uint64_t *removed)
{
	struct redis_store *s = (struct redis_store *)st;
	int rc;

	*removed = 0;
	if (!s->rdwr)
		return -EROFS;
	pthread_mutex_lock(&s->mu);
	rc = scan_tokens(s, NULL, NULL, cutoff, removed);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int
r_foreach_seen(struct bayes_store *st, bayes_seen_cb *cb, void *arg)
{
	struct redis_store *s = (struct redis_store *)st;
	char cursor[32] = "0";
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	do {
		redisReply *r =
		    cmd(s, &rc, "HSCAN fb:seen %s COUNT 1000", cursor);
		if (r == NULL)
			break;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING) {
			freeReplyObject(r);
			rc = -EIO;
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		redisReply *kv = r->element[1];
		for (size_t i = 0; i + 1 < kv->elements && rc >= 0; i += 2) {
			uint8_t id[16];

			if (unhexn(kv->element[i]->str, kv->element[i]->len, id,
				16) < 0)
				continue;
			rc = cb(arg, id, (int)rnum(kv->element[i + 1]));
		}
		freeReplyObject(r);
	} while (rc >= 0 && strcmp(cursor, "0") != 0);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int
r_clear(struct bayes_store *st)
{
	struct redis_store *s = (struct redis_store *)st;
	char cursor[32] = "0";
	int rc = 0;

	if (!s->rdwr)
		return -EROFS;
	pthread_mutex_lock(&s->mu);
	do {
		redisReply *r =
		    cmd(s, &rc, "SCAN %s MATCH fb:* COUNT 1000", cursor);
		if (r == NULL)
			break;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING) {
			freeReplyObject(r);
			rc = -EIO;
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		redisReply *keys = r->element[1];
		for (size_t i = 0; i < keys->elements; i++)
			redisAppendCommand(s->c, "DEL %b",
			    keys->element[i]->str, keys->element[i]->len);
		for (size_t i = 0; i < keys->elements; i++) {
			redisReply *d;

			if (redisGetReply(s->c, (void **)&d) != REDIS_OK) {
				rc = ctx_err(s);
				break;
			}
			freeReplyObject(d);
		}
		freeReplyObject(r);
	} while (rc >= 0 && strcmp(cursor, "0") != 0);
	/* the log went with fb:*: a new one (a new id) starts every cache
	 * over */
	if (rc >= 0)
		rc = log_row(s, "C", 1);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* drain - read n pipelined replies, -EIO if any was an error */
static int
drain(struct redis_store *s, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		redisReply *r;

		if (redisGetReply(s->c, (void **)&r) != REDIS_OK)
			return ctx_err(s);
		if (r->type == REDIS_REPLY_ERROR)
			rc = -EIO;
		freeReplyObject(r);
	}
	return rc;
}

static int
r_put_tokens(struct bayes_store *st, const struct bayes_tokval *t, size_t n)
{
	struct redis_store *s = (struct redis_store *)st;
	int rc;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		char key[24];

		memcpy(key, "fb:t:", 5);
		tokhex(key + 5, t[i].tok);
		redisAppendCommand(s->c, "HSET %s s %u h %u a %u", key,
		    t[i].spam, t[i].ham, t[i].atime);
	}
	if ((rc = drain(s, n)) == 0)
		rc = log_vals(s, t, n);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int
r_put_seen(
    struct bayes_store *st, const uint8_t (*seen)[16], const int *cls, size_t n)
{
	struct redis_store *s = (struct redis_store *)st;
	int rc;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		char hx[33];

		hexn(hx, seen[i], 16);
		redisAppendCommand(s->c, "HSET fb:seen %s %d", hx, cls[i]);
	}
	rc = drain(s, n);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int
r_set_vars(struct bayes_store *st, const struct bayes_vars *v)
{
	struct redis_store *s = (struct redis_store *)st;
	char hx[33];
	redisReply *r;
	int rc;

	hexn(hx, v->hashkey, 16);
	pthread_mutex_lock(&s->mu);
	r = cmd(s, &rc,
	    "HSET fb:v nspam %" PRIu64 " nham %" PRIu64 " ntokens %" PRIu64
	    " last_expire %" PRIu64 " hashkey %s",
	    v->nspam, v->nham, v->ntokens, v->last_expire, hx);
	pthread_mutex_unlock(&s->mu);
	if (r != NULL)
		freeReplyObject(r);
	return rc;
}

static int
r_claim_expire(struct bayes_store *st, uint64_t now, uint64_t period)
{
	struct redis_store *s = (struct redis_store *)st;
	char a1[24], a2[24];
	const char *argv[5] = { NULL, NULL, NULL, a1, a2 };
	size_t lens[5];
	redisReply *r;
	int rc;

	if (!s->rdwr)
		return -EROFS;
	lens[3] = (size_t)snprintf(a1, sizeof(a1), "%" PRIu64, now);
	lens[4] = (size_t)snprintf(a2, sizeof(a2), "%" PRIu64, period);
	pthread_mutex_lock(&s->mu);
	r = evalsha(s, SCRIPT_CLAIM, &rc, 5, argv, lens);
	pthread_mutex_unlock(&s->mu);
	if (r == NULL)
		return rc;
	rc = r->type == REDIS_REPLY_INTEGER ? (r->integer == 1) : -EIO;
	freeReplyObject(r);
	return rc;
}

static void
r_close(struct bayes_store *st)
{
	struct redis_store *s = (struct redis_store *)st;

	if (s->c != NULL)
		redisFree(s->c);
	bayes_tokcache_free(s->cache);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static int
r_cache_stats(struct bayes_store *st, struct bayes_tokcache_stats *out)
{
	struct redis_store *s = (struct redis_store *)st;
	int rc = -ENOTSUP;

	pthread_mutex_lock(&s->mu);
	if (s->cache != NULL) {
		bayes_tokcache_stats(s->cache, out);
		rc = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static const struct bayes_store_ops redis_ops = {
	.kind = "redis",
	.vars = r_vars,
	.get = r_get,
	.learn = r_learn,
	.learn_batch = r_learn_batch,
	.touch = r_touch,
	.expire = r_expire,
	.foreach_token = r_foreach_token,
	.foreach_seen = r_foreach_seen,
	.clear = r_clear,
	.put_tokens = r_put_tokens,
	.put_seen = r_put_seen,
	.set_vars = r_set_vars,
	.claim_expire = r_claim_expire,
	.cache_stats = r_cache_stats,
	.close = r_close,
};

/* pct_decode - the %XX escapes of src[0..len) into out (NUL-ended);
 * -EINVAL on a bad escape or no room */
static int
pct_decode(const char *src, size_t len, char *out, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned v;
		char c = src[i];

		if (c == '%') {
			if (i + 2 >= len || sscanf(src + i + 1, "%2x", &v) != 1 ||
			    !isxdigit((unsigned char)src[i + 1]) ||
			    !isxdigit((unsigned char)src[i + 2]) || v == 0)
				return -EINVAL;
			c = (char)v;
			i += 2;
		}
		if (o + 1 >= n)
			return -EINVAL;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* bayes__redis_url - redis://[[user]:password@]host[:port][/db]; user
 * and password percent-decoded (RFC 3986 3.2.1 userinfo); host a name, an
 * IPv4 address or a bracketed IPv6 one ([::1]) */
int
bayes__redis_url(const char *url, struct bayes_redis_url *u)
{
	if (strncmp(url, "redis://", 8) != 0)
		return -EINVAL;
	const char *p = url + 8, *e, *at;
	char *user = u->user, *pass = u->pass;
	size_t hl, asz = sizeof(u->pass);

	u->port = 6379;
	u->db = 0;
	user[0] = pass[0] = '\0';
	at = strchr(p, '@');
	if (at != NULL && memchr(p, '/', (size_t)(at - p)) == NULL) {
		const char *colon = memchr(p, ':', (size_t)(at - p));

		if (colon == NULL ||
		    pct_decode(p, (size_t)(colon - p), user, asz) < 0 ||
		    pct_decode(colon + 1, (size_t)(at - colon - 1), pass,
			asz) < 0 ||
		    pass[0] == '\0')
			return -EINVAL;
		p = at + 1;
	}
	if (*p == '[') {
		/* an IPv6 literal, bracketed (RFC 3986 3.2.2) */
		const char *rb = strchr(p, ']');

		if (rb == NULL || memchr(p, '/', (size_t)(rb - p)) != NULL)
			return -EINVAL;
		p++;
		hl = (size_t)(rb - p);
		e = rb + 1;
		if (*e != '\0' && *e != ':' && *e != '/')
			return -EINVAL;
	} else {
		e = p + strcspn(p, ":/");
		hl = (size_t)(e - p);
	}
	if (hl == 0 || hl >= sizeof(u->host))
		return -EINVAL;
	memcpy(u->host, p, hl);
	u->host[hl] = '\0';
	if (*e == ':') {
		char *end;
		long v = strtol(e + 1, &end, 10);

		if (v <= 0 || v > 65535)
			return -EINVAL;
		u->port = (int)v;
		e = end;
	}
	if (*e == '/' && e[1] != '\0') {
		char *end;
		long v = strtol(e + 1, &end, 10);

		if (v < 0 || v > 1000 || *end != '\0')
			return -EINVAL;
		u->db = (int)v;
	} else if (*e != '\0' && strcmp(e, "/") != 0) {
		return -EINVAL;
	}
	return 0;
}

int
bayes__redis_open(const char *url, bool rdwr, struct bayes_store **out)
{
	struct redis_store *s;
	struct timeval tv = { 2, 0 };
	struct bayes_redis_url u;
	int rc;
	redisReply *r;

	if ((rc = bayes__redis_url(url, &u)) < 0)
		return rc;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->base.ops = &redis_ops;
	s->rdwr = rdwr;
	pthread_mutex_init(&s->mu, NULL);
	s->c = redisConnectWithTimeout(u.host, u.port, tv);
	if (s->c == NULL || s->c->err) {
		rc = -ECONNREFUSED;
		goto fail;
	}
	tv.tv_sec = 10;
	redisSetTimeout(s->c, tv);
	/* requirepass, or a Redis 6 ACL user: AUTH [user] password */
	bool authed = u.pass[0] != '\0';
	if (authed) {
		r = u.user[0] != '\0' ? cmd(s, &rc, "AUTH %s %s", u.user, u.pass)
				       : cmd(s, &rc, "AUTH %s", u.pass);
		explicit_bzero(u.pass, sizeof(u.pass));
		if (r == NULL) {
			rc = rc == -EIO ? -EACCES : rc;
			goto fail;
		}
		freeReplyObject(r);
	}
	if ((r = cmd(s, &rc, "SELECT %d", u.db)) == NULL) {
		/* NOAUTH: the server wants a password the URL lacks */
		if (rc == -EIO && !authed)
			rc = -EACCES;
		goto fail;
	}
	freeReplyObject(r);
	if ((rc = load_scripts(s)) < 0)
		goto fail;
	/* FILTERD_BAYES_NOCACHE=1: every lookup goes to Redis */
	const char *nc = getenv("FILTERD_BAYES_NOCACHE");
	if ((nc == NULL || strcmp(nc, "1") != 0) &&
	    (s->cache = bayes_tokcache_new()) != NULL)
		s->gid[0] = '\x01'; /* matches no id: the first lookup syncs */
	if (rdwr) {
		char hx[33];

		hexn(hx, (const uint8_t *)"filterd-bayes-01", 16);
		if ((r = cmd(s, &rc, "HSETNX fb:v hashkey %s", hx)) == NULL)
			goto fail;
		freeReplyObject(r);
	}
	*out = &s->base;
	return 0;
fail:
	r_close(&s->base);
	return rc;
}
