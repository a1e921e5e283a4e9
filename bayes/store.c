/*
 * bayes/store - backend dispatch, portable backup/restore, expiry policy
 *
 * The backup format is line-oriented text, tab separated:
 *   filterd-bayes-backup 1
 *   v <name> <value>             nspam nham last_expire hashkey(32 hex)
 *   t <tok 16 hex> <spam> <ham> <atime>
 *   s <seen 32 hex> <s|h>
 * Tokens and seen ids are written sorted, so two stores with the same
 * content give byte-identical backups whatever the backend.
 * Memory: backup holds all tokens in one malloc'ed array while sorting
 * (16 bytes each; a 1M token store needs 24 MB). Errors: -errno.
 */
#include "bayes/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
bayes_store_open(const char *spec, bool rdwr, struct bayes_store **out)
{
	*out = NULL;
	if (spec == NULL || *spec == '\0')
		return -EINVAL;
	if (strncmp(spec, "redis://", 8) == 0)
		return bayes__redis_open(spec, rdwr, out);
	if (strncmp(spec, "bdb:", 4) == 0)
		spec += 4;
	return bayes__bdb_open(spec, rdwr, out);
}

int
bayes_store_cache_stats(
    struct bayes_store *st, struct bayes_tokcache_stats *out)
{
	if (st->ops->cache_stats == NULL)
		return -ENOTSUP;
	return st->ops->cache_stats(st, out);
}

void
bayes_store_redact(const char *spec, char *out, size_t n)
{
	const char *at, *colon, *auth;

	snprintf(out, n, "%s", spec);
	if (strncmp(spec, "redis://", 8) != 0)
		return;
	auth = spec + 8;
	at = strchr(auth, '@');
	if (at == NULL || memchr(auth, '/', (size_t)(at - auth)) != NULL)
		return;
	colon = memchr(auth, ':', (size_t)(at - auth));
	if (colon == NULL)
		return;
	snprintf(out, n, "%.*s***%s", (int)(colon + 1 - spec), spec, at);
}

int
bayes_store_buffer_cache(struct bayes_store *st, uint64_t *bytes)
{
	if (st->ops->buffer_cache == NULL)
		return -ENOTSUP;
	return st->ops->buffer_cache(st, bytes);
}

struct bayes_store *
bayes_store_close(struct bayes_store *st)
{
	if (st != NULL)
		st->ops->close(st);
	return NULL;
}

const char *
bayes_store_kind(const struct bayes_store *st)
{
	return st->ops->kind;
}

int
bayes_store_vars(struct bayes_store *st, struct bayes_vars *v)
{
	return st->ops->vars(st, v);
}

int
bayes_store_get(struct bayes_store *st, const uint64_t *toks, size_t n,
    struct bayes_tokval *out)
{
	return st->ops->get(st, toks, n, out);
}

int
bayes_store_learn(struct bayes_store *st, const uint8_t seen[16], int cls,
    const uint64_t *toks, size_t n, uint32_t now)
{
	if (cls != BAYES_SPAM && cls != BAYES_HAM && cls != BAYES_FORGET)
		return -EINVAL;
	return st->ops->learn(st, seen, cls, toks, n, now);
}

int
bayes_store_learn_batch(struct bayes_store *st,
    const struct bayes_learn_item *items, size_t n, uint32_t now, int *result)
{
	int rc;

	for (size_t i = 0; i < n; i++)
		if (items[i].cls != BAYES_SPAM && items[i].cls != BAYES_HAM &&
		    items[i].cls != BAYES_FORGET)
			return -EINVAL;
	for (size_t i = 0; i < n; i++)
		result[i] = -1;
	if (st->ops->learn_batch != NULL)
		return st->ops->learn_batch(st, items, n, now, result);
	/* backends without batches: one atomic learn per message */
	for (size_t i = 0; i < n; i++) {
		rc = st->ops->learn(st, items[i].seen, items[i].cls,
		    items[i].toks, items[i].n, now);
		if (rc < 0)
			return rc;
		result[i] = rc;
	}
	return 0;
}

int
bayes_store_touch(
    struct bayes_store *st, const uint64_t *toks, size_t n, uint32_t now)
{
	return n == 0 ? 0 : st->ops->touch(st, toks, n, now);
}

int
bayes_store_expire(struct bayes_store *st, uint32_t cutoff, uint64_t *removed)
{
	return st->ops->expire(st, cutoff, removed);
}

int
bayes_store_foreach_token(struct bayes_store *st, bayes_tok_cb *cb, void *arg)
{
	return st->ops->foreach_token(st, cb, arg);
}

int
bayes_store_foreach_seen(struct bayes_store *st, bayes_seen_cb *cb, void *arg)
{
	return st->ops->foreach_seen(st, cb, arg);
}

int
bayes_store_clear(struct bayes_store *st)
{
	return st->ops->clear(st);
}

int
bayes_store_put_tokens(
    struct bayes_store *st, const struct bayes_tokval *t, size_t n)
{
	return st->ops->put_tokens(st, t, n);
}

int
bayes_store_put_seen(
    struct bayes_store *st, const uint8_t (*seen)[16], const int *cls, size_t n)
{
	return st->ops->put_seen(st, seen, cls, n);
}

int
bayes_store_set_vars(struct bayes_store *st, const struct bayes_vars *v)
{
	return st->ops->set_vars(st, v);
}

bool
bayes__round_due(uint64_t last_expire, uint64_t now, uint64_t period)
{
	return last_expire <= now && now - last_expire >= period;
}

bool
bayes_expire_due(const struct bayes_vars *v, uint64_t max_tokens,
    uint64_t period, uint64_t now)
{
	return v->ntokens > max_tokens &&
	    bayes__round_due(v->last_expire, now, period);
}

int
bayes_store_expire_due(struct bayes_store *st, uint64_t max_tokens,
    uint64_t period, uint32_t now, uint64_t *removed)
{
	struct bayes_vars v;
	int rc;

	*removed = 0;
	if ((rc = bayes_store_vars(st, &v)) < 0)
		return rc;
	if (!bayes_expire_due(&v, max_tokens, period, now))
		return 0;
	if ((rc = bayes_store_claim_expire(st, now, period)) <= 0)
		return rc;
	rc = bayes_store_expire_auto(st, max_tokens, 0, now, removed);
	return rc < 0 ? rc : 1;
}

int
bayes_store_claim_expire(struct bayes_store *st, uint64_t now, uint64_t period)
{
	return st->ops->claim_expire(st, now, period);
}

/* Collectors for sorting. */
struct tokvec {
	struct bayes_tokval *v;
	size_t n, cap;
};

static int
collect_tok(void *arg, const struct bayes_tokval *t)
{
	struct tokvec *tv = arg;

	if (tv->n == tv->cap) {
		size_t nc = tv->cap ? tv->cap * 2 : 4096;
		struct bayes_tokval *nv = realloc(tv->v, nc * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		tv->v = nv;
		tv->cap = nc;
	}
	tv->v[tv->n++] = *t;
	return 0;
}

struct seenrec {
	uint8_t id[16];
	int cls;
};

struct seenvec {
	struct seenrec *v;
	size_t n, cap;
};

static int
collect_seen(void *arg, const uint8_t seen[16], int cls)
{
	struct seenvec *sv = arg;

	if (sv->n == sv->cap) {
		size_t nc = sv->cap ? sv->cap * 2 : 1024;
		struct seenrec *nv = realloc(sv->v, nc * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		sv->v = nv;
		sv->cap = nc;
	}
	memcpy(sv->v[sv->n].id, seen, 16);
	sv->v[sv->n++].cls = cls;
	return 0;
}

static int
cmp_tok(const void *a, const void *b)
{
	uint64_t x = ((const struct bayes_tokval *)a)->tok;
	uint64_t y = ((const struct bayes_tokval *)b)->tok;

	return x < y ? -1 : x > y;
}

static int
cmp_seen(const void *a, const void *b)
{
	return memcmp(((const struct seenrec *)a)->id,
	    ((const struct seenrec *)b)->id, 16);
}

static void
hex(char *out, const uint8_t *p, size_t n)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int
bayes__unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < 2 * n; i++) {
		int c = s[i], v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			return -EINVAL;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return 0;
}

/* unhex - a backup field: 2n hex digits, then the end of the field */
static int
unhex(const char *s, uint8_t *out, size_t n)
{
	if (bayes__unhex(s, out, n) < 0)
		return -EINVAL;
	return s[2 * n] == '\0' || s[2 * n] == '\t' || s[2 * n] == '\n'
	    ? 0
	    : -EINVAL;
}

/* bayes_store_backup - the portable text form of the whole store */
int
bayes_store_backup(struct bayes_store *st, FILE *f)
{
	struct bayes_vars v;
	struct tokvec tv = { 0 };
	struct seenvec sv = { 0 };
	char hx[40];
	int rc;

	if ((rc = bayes_store_vars(st, &v)) < 0)
		return rc;
	if ((rc = bayes_store_foreach_token(st, collect_tok, &tv)) < 0)
		goto out;
	if ((rc = bayes_store_foreach_seen(st, collect_seen, &sv)) < 0)
		goto out;
	qsort(tv.v, tv.n, sizeof(tv.v[0]), cmp_tok);
	qsort(sv.v, sv.n, sizeof(sv.v[0]), cmp_seen);
	hex(hx, v.hashkey, 16);
	fprintf(f, "filterd-bayes-backup 1\n");
	fprintf(f, "v\tnspam\t%" PRIu64 "\nv\tnham\t%" PRIu64 "\n", v.nspam,
	    v.nham);
	fprintf(f, "v\tlast_expire\t%" PRIu64 "\nv\thashkey\t%s\n",
	    v.last_expire, hx);
	for (size_t i = 0; i < tv.n; i++)
		fprintf(f,
		    "t\t%016" PRIx64 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32
		    "\n",
		    tv.v[i].tok, tv.v[i].spam, tv.v[i].ham, tv.v[i].atime);
	for (size_t i = 0; i < sv.n; i++) {
		hex(hx, sv.v[i].id, 16);
		fprintf(f, "s\t%s\t%c\n", hx,
		    sv.v[i].cls == BAYES_SPAM ? 's' : 'h');
	}
	rc = fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
out:
	free(tv.v);
	free(sv.v);
	return rc;
}

#define RESTORE_BATCH 4096

/* bayes_store_restore - replace the content with a backup */
int
bayes_store_restore(struct bayes_store *st, FILE *f, size_t *line)
{
	char buf[256];
	struct bayes_vars v = { 0 };
	struct bayes_tokval *tb = NULL;
	uint8_t(*sb)[16] = NULL;
	int *cb = NULL;
	size_t nt = 0, ns = 0;
	uint64_t ntok = 0;
	int rc;

	*line = 0;
	if (fgets(buf, sizeof(buf), f) == NULL ||
	    strcmp(buf, "filterd-bayes-backup 1\n") != 0) {
		*line = 1;
		return -EINVAL;
	}
	*line = 1;
	tb = malloc(RESTORE_BATCH * sizeof(*tb));
	sb = malloc(RESTORE_BATCH * sizeof(*sb));
	cb = malloc(RESTORE_BATCH * sizeof(*cb));
	if (tb == NULL || sb == NULL || cb == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(v.hashkey, "filterd-bayes-01", 16);
	if ((rc = bayes_store_clear(st)) < 0)
		goto out;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		char name[32];
		unsigned long long a;

		(*line)++;
		rc = -EINVAL;
		if (strchr(buf, '\n') == NULL)
			goto out;
		if (buf[0] == 'v' && buf[1] == '\t') {
			if (strncmp(buf + 2, "hashkey\t", 8) == 0) {
				if (unhex(buf + 10, v.hashkey, 16) < 0)
					goto out;
				continue;
			}
			if (sscanf(buf + 2, "%31[a-z_]\t%llu", name, &a) != 2)
				goto out;
			if (strcmp(name, "nspam") == 0)
				v.nspam = a;
			else if (strcmp(name, "nham") == 0)
				v.nham = a;
			else if (strcmp(name, "last_expire") == 0)
				v.last_expire = a;
			else
				goto out;
		} else if (buf[0] == 't' && buf[1] == '\t') {
			uint8_t k[8];
			unsigned s, h, at;

			if (unhex(buf + 2, k, 8) < 0 ||
			    sscanf(buf + 18, "\t%u\t%u\t%u", &s, &h, &at) != 3)
				goto out;
			tb[nt].tok = 0;
			for (int i = 0; i < 8; i++)
				tb[nt].tok = (tb[nt].tok << 8) | k[i];
			tb[nt].spam = s;
			tb[nt].ham = h;
			tb[nt].atime = at;
			nt++;
			ntok++;
			if (nt == RESTORE_BATCH) {
				if ((rc = bayes_store_put_tokens(st, tb, nt)) <
				    0)
					goto out;
				nt = 0;
			}
		} else if (buf[0] == 's' && buf[1] == '\t') {
			if (unhex(buf + 2, sb[ns], 16) < 0 ||
			    (buf[35] != 's' && buf[35] != 'h'))
				goto out;
			cb[ns] = buf[35] == 's' ? BAYES_SPAM : BAYES_HAM;
			ns++;
			if (ns == RESTORE_BATCH) {
				if ((rc = bayes_store_put_seen(st,
					 (const uint8_t(*)[16])sb, cb, ns)) < 0)
					goto out;
				ns = 0;
			}
		} else {
			goto out;
		}
	}
	if (nt > 0 && (rc = bayes_store_put_tokens(st, tb, nt)) < 0)
		goto out;
	if (ns > 0 &&
	    (rc = bayes_store_put_seen(st, (const uint8_t(*)[16])sb, cb, ns)) <
		0)
		goto out;
	v.ntokens = ntok;
	rc = bayes_store_set_vars(st, &v);
	*line = 0;
out:
	free(tb);
	free(sb);
	free(cb);
	return rc;
}

struct atimes {
	uint32_t *v;
	size_t n, cap;
};

static int
collect_atime(void *arg, const struct bayes_tokval *t)
{
	struct atimes *a = arg;

	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 4096;
		uint32_t *nv = realloc(a->v, nc * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		a->v = nv;
		a->cap = nc;
	}
	a->v[a->n++] = t->atime;
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* bayes_store_expire_auto - SA-like: over max_tokens keep the newest 75%
 * (bayes_expiry_max_db_size, EXPIRE_TO 75%), and drop what is older than
 * max_age seconds */
int
bayes_store_expire_auto(struct bayes_store *st, uint64_t max_tokens,
    uint32_t max_age, uint32_t now, uint64_t *removed)
{
	struct atimes a = { 0 };
	uint32_t cutoff = 0;
	int rc;

	*removed = 0;
	if ((rc = bayes_store_foreach_token(st, collect_atime, &a)) < 0)
		goto out;
	if (max_tokens > 0 && a.n > max_tokens) {
		size_t keep = (size_t)(max_tokens * 3 / 4);

		qsort(a.v, a.n, sizeof(a.v[0]), cmp_u32);
		/* everything strictly older than the oldest kept atime */
		cutoff = a.v[a.n - keep];
	}
	if (max_age > 0 && now > max_age && now - max_age > cutoff)
		cutoff = now - max_age;
	if (cutoff > 0 && (rc = bayes_store_expire(st, cutoff, removed)) < 0)
		goto out;
	/* only last_expire: learners may have moved the totals meanwhile */
	if ((rc = bayes_store_claim_expire(st, now, 0)) > 0)
		rc = 0;
out:
	free(a.v);
	return rc;
}
