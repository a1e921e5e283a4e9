/*
 * bayes/store_redis - the Redis backend (hiredis), for many hosts
 *
 *   bayes_store = redis://127.0.0.1:6379/0
 * Layout, all keys under "fb:" so a shared Redis db can hold other data:
 *   fb:t:<token 16 hex>   hash s, h, a (spam count, ham count, atime)
 *   fb:seen               hash <seen 32 hex> -> 1 (spam) / 2 (ham)
 *   fb:v                  hash nspam nham ntokens last_expire hashkey
 * Learning runs one Lua script per message (EVALSHA): the seen check, the
 * moves and the totals happen atomically in Redis, so any number of
 * filterd hosts and learners can share one model. Lookups are one
 * pipelined round trip of HMGETs. A connection is not thread-safe, so
 * every call holds the store's mutex (milter threads share a handle).
 * Errors: connection or protocol trouble -EIO, timeouts -ETIMEDOUT.
 */
#include "bayes/store.h"

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
	char sha[48];
	bool rdwr;
};

static const char learn_lua[] =
    "local old = tonumber(redis.call('HGET','fb:seen',ARGV[1]) or '0')\n"
    "local cls = tonumber(ARGV[2])\n"
    "if old == cls then return 1 end\n"
    "if cls == 0 and old == 0 then return 2 end\n"
    "local now = tonumber(ARGV[3])\n"
    "local dt = 0\n"
    "local function apply(c, d)\n"
    "  local f = (c == 1) and 's' or 'h'\n"
    "  local o = (c == 1) and 'h' or 's'\n"
    "  for i = 4, #ARGV do\n"
    "    local k = 'fb:t:' .. ARGV[i]\n"
    "    if d > 0 then\n"
    "      if redis.call('HINCRBY', k, f, 1) == 1 and\n"
    "         tonumber(redis.call('HGET', k, o) or '0') == 0 then\n"
    "        dt = dt + 1 end\n"
    "      local a = tonumber(redis.call('HGET', k, 'a') or '0')\n"
    "      if now > a then redis.call('HSET', k, 'a', now) end\n"
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
    "return 0\n";

static const char touch_lua[] =
    "for i = 2, #ARGV do\n"
    "  local k = 'fb:t:' .. ARGV[i]\n"
    "  local a = redis.call('HGET', k, 'a')\n"
    "  if a and tonumber(a) < tonumber(ARGV[1]) then\n"
    "    redis.call('HSET', k, 'a', ARGV[1]) end\n"
    "end\n"
    "return 0\n";

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
	if (slen != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < 2 * n; i++) {
		int c = s[i], v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			return -EINVAL;
		out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
	}
	return 0;
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

static int
r_get(struct bayes_store *st, const uint64_t *toks, size_t n,
    struct bayes_tokval *out)
{
	struct redis_store *s = (struct redis_store *)st;
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = get_locked(s, toks, n, out);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int
load_script(struct redis_store *s)
{
	redisReply *r;
	int rc;

	r = cmd(s, &rc, "SCRIPT LOAD %s", learn_lua);
	if (r == NULL)
		return rc;
	if (r->type != REDIS_REPLY_STRING || r->len >= sizeof(s->sha)) {
		freeReplyObject(r);
		return -EIO;
	}
	memcpy(s->sha, r->str, r->len + 1);
	freeReplyObject(r);
	return 0;
}

static int
r_learn(struct bayes_store *st, const uint8_t *seen, int cls,
    const uint64_t *toks, size_t n, uint32_t now)
{
	struct redis_store *s = (struct redis_store *)st;
	size_t argc = n + 6;
	const char **argv = malloc(argc * sizeof(*argv));
	size_t *lens = malloc(argc * sizeof(*lens));
	char *hx = malloc(n * 17 + 1);
	char seenhx[33], clsb[4], nowb[16];
	redisReply *r = NULL;
	int rc = -ENOMEM;

	if (argv == NULL || lens == NULL || hx == NULL)
		goto out;
	if (!s->rdwr) {
		rc = -EROFS;
		goto out;
	}
	hexn(seenhx, seen, 16);
	snprintf(clsb, sizeof(clsb), "%d", cls);
	snprintf(nowb, sizeof(nowb), "%" PRIu32, now);
	argv[0] = "EVALSHA";
	argv[1] = s->sha;
	argv[2] = "0";
	argv[3] = seenhx;
	argv[4] = clsb;
	argv[5] = nowb;
	for (size_t i = 0; i < n; i++) {
		tokhex(hx + 17 * i, toks[i]);
		argv[6 + i] = hx + 17 * i;
	}
	for (size_t i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	pthread_mutex_lock(&s->mu);
	r = cmdv(s, &rc, (int)argc, argv, lens);
	if (r == NULL && rc == -ENOEXEC && load_script(s) == 0)
		r = cmdv(s, &rc, (int)argc, argv, lens); /* after a restart */
	pthread_mutex_unlock(&s->mu);
	if (r == NULL)
		goto out;
	rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -EIO;
	freeReplyObject(r);
out:
	free(argv);
	free(lens);
	free(hx);
	return rc;
}

static int
r_touch(struct bayes_store *st, const uint64_t *toks, size_t n, uint32_t now)
{
	struct redis_store *s = (struct redis_store *)st;
	size_t argc = n + 4;
	const char **argv = malloc(argc * sizeof(*argv));
	size_t *lens = malloc(argc * sizeof(*lens));
	char *hx = malloc(n * 17 + 1), nowb[16];
	redisReply *r;
	int rc = -ENOMEM;

	if (argv == NULL || lens == NULL || hx == NULL)
		goto out;
	if (!s->rdwr) {
		rc = -EROFS;
		goto out;
	}
	snprintf(nowb, sizeof(nowb), "%" PRIu32, now);
	argv[0] = "EVAL";
	argv[1] = touch_lua;
	argv[2] = "0";
	argv[3] = nowb;
	for (size_t i = 0; i < n; i++) {
		tokhex(hx + 17 * i, toks[i]);
		argv[4 + i] = hx + 17 * i;
	}
	for (size_t i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	pthread_mutex_lock(&s->mu);
	r = cmdv(s, &rc, (int)argc, argv, lens);
	pthread_mutex_unlock(&s->mu);
	if (r != NULL)
		freeReplyObject(r);
out:
	free(argv);
	free(lens);
	free(hx);
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
		if ((rc = get_locked(s, toks, n, tv)) < 0)
			goto next;
		for (size_t i = 0; i < n && rc >= 0; i++) {
			if (cb != NULL) {
				rc = cb(arg, &tv[i]);
			} else if (tv[i].atime < cutoff) {
				char key[24];
				redisReply *d;

				memcpy(key, "fb:t:", 5);
				tokhex(key + 5, tv[i].tok);
				if ((d = cmd(s, &rc, "DEL %s", key)) == NULL)
					break;
				if (d->integer == 1) {
					(*removed)++;
					freeReplyObject(d);
					d = cmd(
					    s, &rc, "HINCRBY fb:v ntokens -1");
				}
				if (d != NULL)
					freeReplyObject(d);
			}
		}
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
	rc = drain(s, n);
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

static void
r_close(struct bayes_store *st)
{
	struct redis_store *s = (struct redis_store *)st;

	if (s->c != NULL)
		redisFree(s->c);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static const struct bayes_store_ops redis_ops = {
	.kind = "redis",
	.vars = r_vars,
	.get = r_get,
	.learn = r_learn,
	.touch = r_touch,
	.expire = r_expire,
	.foreach_token = r_foreach_token,
	.foreach_seen = r_foreach_seen,
	.clear = r_clear,
	.put_tokens = r_put_tokens,
	.put_seen = r_put_seen,
	.set_vars = r_set_vars,
	.close = r_close,
};

/* parse_url - redis://host[:port][/db] */
static int
parse_url(const char *url, char *host, size_t hsz, int *port, int *db)
{
	const char *p = url + 8, *e;
	size_t hl;

	*port = 6379;
	*db = 0;
	e = p + strcspn(p, ":/");
	hl = (size_t)(e - p);
	if (hl == 0 || hl >= hsz)
		return -EINVAL;
	memcpy(host, p, hl);
	host[hl] = '\0';
	if (*e == ':') {
		char *end;
		long v = strtol(e + 1, &end, 10);

		if (v <= 0 || v > 65535)
			return -EINVAL;
		*port = (int)v;
		e = end;
	}
	if (*e == '/' && e[1] != '\0') {
		char *end;
		long v = strtol(e + 1, &end, 10);

		if (v < 0 || v > 1000 || *end != '\0')
			return -EINVAL;
		*db = (int)v;
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
	char host[256];
	int port, db, rc;
	redisReply *r;

	if ((rc = parse_url(url, host, sizeof(host), &port, &db)) < 0)
		return rc;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->base.ops = &redis_ops;
	s->rdwr = rdwr;
	pthread_mutex_init(&s->mu, NULL);
	s->c = redisConnectWithTimeout(host, port, tv);
	if (s->c == NULL || s->c->err) {
		rc = -ECONNREFUSED;
		goto fail;
	}
	tv.tv_sec = 10;
	redisSetTimeout(s->c, tv);
	if ((r = cmd(s, &rc, "SELECT %d", db)) == NULL)
		goto fail;
	freeReplyObject(r);
	if ((rc = load_script(s)) < 0)
		goto fail;
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
