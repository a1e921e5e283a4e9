/*
 * rules/hsdb - Hyperscan databases: the regex prefilter of rules/
 *
 * The only module that includes hs.h. A database holds the patterns of
 * many rules (ids chosen by the caller, here rule indexes); one block-mode
 * scan of a text reports each pattern that matches in it at most once
 * (HS_FLAG_SINGLEMATCH). Patterns Hyperscan cannot run exactly
 * (lookarounds, backreferences, atomic groups) are compiled with
 * HS_FLAG_PREFILTER, which reports a superset of the true matches; so a
 * pattern the scan does not report cannot match, and one it does report is
 * confirmed by the rule's PCRE2 pattern (eval.c). Patterns Hyperscan
 * rejects even then are left out (in[i] false): their rules keep the
 * literal prefilter. On a CPU without SSSE3 (hs_valid_platform) no
 * database is built at all.
 *
 * Scratch space: a scan needs an hs_scratch_t that no other thread uses at
 * the same time. The pool hands them out (one per concurrent message),
 * sized for every database of the rule set, and frees them with the pool.
 *
 * Two ways to build: within a CPU budget at load time (the shortest
 * patterns first, costly ones left out), or "full" for the on-disk cache
 * (compile.c, like sa-compile): every pattern, the costly ones in
 * prefilter mode (Hyperscan may then simplify bounded repeats and
 * alternations: a superset again, confirmed by PCRE2), no budget.
 * rule__hsdb_write/read move a database set to and from a stream in
 * Hyperscan's serialised form (hs_serialize_database), which is tied to
 * the Hyperscan version and CPU features; the caller keys its files on
 * both.
 *
 * Memory: databases and pool are owned by the rule set (rule__hsdb_free,
 * rule__hspool_free). Errors: -ENOMEM; -ENOTSUP when Hyperscan is unusable
 * here (the caller then runs every rule the old way).
 */
#include "rules/rules_int.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hs/hs.h>

#define HS_MAX_PAT 8192	 /* bytes */
#define HS_MAX_REPEAT 20 /* largest {n,m} bound */
#define HS_MAX_REPEATS 3 /* most quantifiers in one pattern */
#define HS_CHUNK 16	 /* patterns per database */
#define HS_FULL_CHUNK 64 /* full mode: a piece when one database per
			   * type does not compile (and the ends databases) */
/* full mode: one database per rule type where it compiles. One scan of
 * a text through one database costs less than through twelve of 64
 * patterns (session 4, stock SA rules: +5% CPU on the 2002 mix, compile
 * +1.8 s). Each refused pattern recompiles the whole database, so after
 * HS_MAX_REFUSALS of them (or an error no pattern is blamed for) the rest
 * is compiled in pieces of HS_FULL_CHUNK. */
#define HS_FULL_DB 4096
#define HS_MAX_REFUSALS 2
/* full mode: longer patterns (SA's biggest replace_tag expansions) take
 * seconds each in prefilter mode too and gain little: left out */
#define HS_FULL_MAX_PAT 2048

struct rule__hsdb {
	hs_database_t **db; /* one per chunk of patterns */
	size_t ndb, npat;
};

struct rule__hspool {
	pthread_mutex_t lock;
	hs_scratch_t *proto; /* fits every database, cloned on demand */
	hs_scratch_t **free;
	size_t nfree, cap;
};

/* hs_flags - the PCRE2 compile options of a rule as Hyperscan flags;
 * /x has no flag: the caller prefixes "(?x)". A pattern that can match
 * the empty string is accepted (ALLOWEMPTY): it then reports every
 * text, which only means its rule always runs. */
static unsigned
hs_flags(const char *p, unsigned opts)
{
	unsigned f = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
	/* what Hyperscan only approximates (prefilter mode): lookaround,
	 * backreferences, atomic groups, possessive quantifiers,
	 * conditionals, \G \K \R \X; any other refusal drops the pattern */
	static const char *const approx[] = { "(?=", "(?!", "(?<=", "(?<!",
		"(?>", "(?(", "(?|", "*+", "++", "?+", "}+", "\\g", "\\k",
		"\\G", "\\K", "\\R", "\\X", "(*" };

	if (opts & PCRE2_CASELESS)
		f |= HS_FLAG_CASELESS;
	if (opts & PCRE2_DOTALL)
		f |= HS_FLAG_DOTALL;
	if (opts & PCRE2_MULTILINE)
		f |= HS_FLAG_MULTILINE;
	for (size_t i = 0; i < sizeof(approx) / sizeof(approx[0]); i++)
		if (strstr(p, approx[i]) != NULL)
			return f | HS_FLAG_PREFILTER;
	for (const char *q = p; (q = strchr(q, '\\')) != NULL; q += 2) {
		if (q[1] >= '1' && q[1] <= '9')
			return f | HS_FLAG_PREFILTER; /* backreference */
		if (q[1] == '\0')
			break;
	}
	return f;
}

/* too_costly - Hyperscan's compile time grows with the size of the
 * automaton: long patterns (replace_tag expansions) and wide bounded
 * repeats ([^>]{0,2048}) take from 50 ms to seconds each, which would
 * break the load-time budget of the whole rule set; those rules keep the
 * literal prefilter. Limits measured on the stock SpamAssassin rules. */
static bool
too_costly(const char *p)
{
	size_t len = strlen(p), nrep = 0;

	if (len > HS_MAX_PAT)
		return true;
	for (size_t i = 0; i < len; i++) {
		unsigned long v;
		char *e;

		if (p[i] == '\\') {
			i++;
			continue;
		}
		/* optional parts between letters ([_\W]? in SA's
		 * obfuscation rules) multiply Hyperscan's states */
		if ((p[i] == '?' || p[i] == '*' || p[i] == '+') && i > 0 &&
		    p[i - 1] != '(' && ++nrep > HS_MAX_REPEATS)
			return true;
		if (p[i] != '{' || !isdigit((unsigned char)p[i + 1]))
			continue;
		if (++nrep > HS_MAX_REPEATS)
			return true;
		v = strtoul(p + i + 1, &e, 10);
		if (*e == ',' && isdigit((unsigned char)e[1]))
			v = strtoul(e + 1, &e, 10);
		else if (*e == ',')
			v = HS_MAX_REPEAT + 1; /* {n,} */
		if (*e == '}' && v > HS_MAX_REPEAT)
			return true;
	}
	return false;
}

/* rule__hs_open_repeats - a copy of p with every bounded repeat {m,n} (n > m)
 * made {m,}, or NULL (nothing to open, /Q..E, no memory). Only ever a
 * superset of p's matches, which is all a prefilter owes (eval.c
 * confirms every rule Hyperscan reports with its PCRE2 pattern), and a
 * much smaller automaton: Hyperscan spends a state per optional copy,
 * and SA's obfuscation rules are made of [_\W]{0,3} gaps, [\w\s]{0,35}
 * and {10,64} runs. Stock SA cache: file 20.2 -> 17.7 MB, build 15.5 ->
 * 12.1 s, rules +7-14% CPU on the spam-heavy sample (session 5). */
char *
rule__hs_open_repeats(const char *p)
{
	size_t len = strlen(p);
	char *out, *o;
	bool changed = false, incls = false;

	if (strstr(p, "\\Q") != NULL || (out = malloc(len + 1)) == NULL)
		return NULL;
	o = out;
	for (const char *q = p, *e = p + len; q < e;) {
		const char *d, *c;

		if (*q == '\\' && q + 1 < e) { /* an escape: both bytes */
			*o++ = *q++;
			*o++ = *q++;
			continue;
		}
		if (incls) {
			incls = *q != ']';
			*o++ = *q++;
			continue;
		}
		if (*q == '[') { /* a class: '{' there is a byte */
			incls = true;
			*o++ = *q++;
			if (q < e && *q == '^')
				*o++ = *q++;
			if (q < e && *q == ']')
				*o++ = *q++;
			continue;
		}
		/* {m,n}: digits, ',', digits, '}' */
		for (d = q + 1; *q == '{' && d < e && isdigit((unsigned char)*d);
		     d++)
			;
		if (*q != '{' || d == q + 1 || d >= e || *d != ',' ||
		    !isdigit((unsigned char)d[1])) {
			*o++ = *q++;
			continue;
		}
		for (c = d + 1; c < e && isdigit((unsigned char)*c); c++)
			;
		if (c >= e || *c != '}' ||
		    strtoul(d + 1, NULL, 10) <= strtoul(q + 1, NULL, 10)) {
			*o++ = *q++;
			continue;
		}
		memcpy(o, q, (size_t)(d + 1 - q)); /* "{m," */
		o += d + 1 - q;
		*o++ = '}';
		q = c + 1;
		changed = true;
	}
	*o = '\0';
	if (!changed) {
		free(out);
		return NULL;
	}
	return out;
}

/* rule__cpu_ms - this thread's CPU time: other threads' work is not a
 * compile's */
double
rule__cpu_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* compile_chunk - ex[0..m) into one database; a pattern Hyperscan
 * refuses is taken out (keep[] false) and the rest compiled again.
 * -EAGAIN after more than max_refusals refusals, or an error that names
 * no pattern when max_refusals is finite: the caller compiles smaller
 * pieces (the refusals found stay marked). */
static int
compile_chunk(const char **ex, unsigned *fl, unsigned *id, bool *keep, size_t m,
    hs_database_t **out, size_t max_refusals)
{
	const char **e2 = calloc(m + 1, sizeof(*e2));
	unsigned *f2 = calloc(m + 1, sizeof(*f2));
	unsigned *i2 = calloc(m + 1, sizeof(*i2));
	size_t *map = calloc(m + 1, sizeof(*map));
	size_t refused = 0;
	int rc = -ENOMEM;

	*out = NULL;
	while (e2 != NULL && f2 != NULL && i2 != NULL && map != NULL) {
		hs_compile_error_t *err = NULL;
		size_t k = 0;
		int e;

		for (size_t i = 0; i < m; i++) {
			if (!keep[i])
				continue;
			e2[k] = ex[i];
			f2[k] = fl[i];
			i2[k] = id[i];
			map[k++] = i;
		}
		rc = 0;
		if (k == 0 ||
		    hs_compile_multi(e2, f2, i2, (unsigned)k, HS_MODE_BLOCK,
			NULL, out, &err) == HS_SUCCESS)
			break;
		e = err != NULL ? err->expression : -1;
		hs_free_compile_error(err);
		*out = NULL;
		if (e < 0 || (size_t)e >= k) {
			rc = max_refusals != SIZE_MAX ? -EAGAIN : -ENOTSUP;
			break;
		}
		keep[map[e]] = false;
		if (++refused > max_refusals) {
			rc = -EAGAIN;
			break;
		}
	}
	free(e2);
	free(f2);
	free(i2);
	free(map);
	return rc;
}

/* add_db - db (may be NULL) into d, patterns [from, to) that are in it
 * marked in in[] */
static void
add_db(struct rule__hsdb *d, hs_database_t *db, const bool *keep,
    const size_t *pos, bool *in, size_t from, size_t to)
{
	if (db == NULL)
		return;
	d->db[d->ndb++] = db;
	for (size_t i = from; i < to; i++)
		if (keep[i]) {
			in[pos[i]] = true;
			d->npat++;
		}
}

/* rule__hsdb_new (hsdb_build) - one database over the patterns given:
 * pats[i] with PCRE2 options opts[i] reported as ids[i]; in[i] tells
 * whether pattern i made it in. Compiled in chunks, in the order given, while the CPU time
 * spent stays within *budget_ms (decremented): what comes later stays
 * out. budget_ms NULL: full mode (no budget, costly patterns in prefilter
 * mode). *out is NULL when nothing went in. exact (rule__hsdb_new_exact):
 * full mode without the prefilter. */
static int
hsdb_build(struct rule__hsdb **out, const char *const *pats,
    const unsigned *opts, const uint32_t *ids, size_t n, bool *in,
    double *budget_ms, bool exact)
{
	struct rule__hsdb *d = NULL;
	const char **ex = NULL;
	unsigned *fl = NULL, *id = NULL;
	size_t *pos = NULL;
	bool *keep = NULL;
	char **own = NULL;
	size_t m = 0;
	size_t chunk = budget_ms != NULL ? HS_CHUNK : HS_FULL_DB;
	const unsigned all_ends = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
	int rc = -ENOMEM;

	*out = NULL;
	for (size_t i = 0; i < n; i++)
		in[i] = false;
	if (hs_valid_platform() != HS_SUCCESS)
		return -ENOTSUP;
	if (n == 0 || (budget_ms != NULL && *budget_ms <= 0))
		return 0;
	ex = calloc(n, sizeof(*ex));
	fl = calloc(n, sizeof(*fl));
	id = calloc(n, sizeof(*id));
	pos = calloc(n, sizeof(*pos));
	keep = calloc(n, sizeof(*keep));
	own = calloc(n, sizeof(*own));
	d = calloc(1, sizeof(*d));
	if (ex == NULL || fl == NULL || id == NULL || pos == NULL ||
	    keep == NULL || own == NULL || d == NULL ||
	    (d->db = calloc(n + 1, sizeof(*d->db))) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *p = pats[i];

		if (opts[i] & PCRE2_EXTENDED) {
			size_t l = strlen(p);

			if ((own[i] = malloc(l + 5)) == NULL)
				goto out;
			memcpy(own[i], "(?x)", 4);
			memcpy(own[i] + 4, p, l + 1);
			p = own[i];
		}
		fl[m] = hs_flags(p, opts[i]);
		if (exact) {
			if (fl[m] & HS_FLAG_PREFILTER)
				continue;
			/* every match end (the caller maps ends to lines);
			 * one that can match empty would report them all */
			fl[m] &= ~all_ends;
		} else if (budget_ms == NULL && strlen(p) > HS_FULL_MAX_PAT) {
			continue;
		} else if (too_costly(p)) {
			if (budget_ms != NULL)
				continue;
			fl[m] |= HS_FLAG_PREFILTER;
		}
		if (budget_ms == NULL &&
		    !(opts[i] & PCRE2_EXTENDED)) {
			/* full mode (the cache): bounds opened, once the
			 * flags are chosen on the pattern as written. The
			 * exact databases (compile.c's ASCII filters) too:
			 * every end of every match is reported, so the line
			 * where the pattern matches is still among those
			 * reported, and PCRE2 checks each of them */
			char *op = rule__hs_open_repeats(p);

			if (op != NULL) {
				free(own[i]);
				own[i] = op;
				p = op;
			}
		}
		ex[m] = p;
		id[m] = ids[i];
		pos[m] = i;
		keep[m] = true;
		m++;
	}
	for (size_t c = 0; c < m; c += chunk) {
		size_t k = m - c < chunk ? m - c : chunk;
		double t0 = rule__cpu_ms();
		hs_database_t *db;

		if (budget_ms != NULL && *budget_ms <= 0)
			break;

		rc = compile_chunk(ex + c, fl + c, id + c, keep + c, k, &db,
		    k > HS_FULL_CHUNK ? HS_MAX_REFUSALS : SIZE_MAX);
		for (size_t s = c; rc == -EAGAIN && s < c + k;
		     s += HS_FULL_CHUNK) {
			size_t k2 = c + k - s < HS_FULL_CHUNK ? c + k - s
							      : HS_FULL_CHUNK;

			if ((rc = compile_chunk(ex + s, fl + s, id + s,
				 keep + s, k2, &db, SIZE_MAX)) == 0) {
				add_db(d, db, keep, pos, in, s, s + k2);
				rc = s + k2 < c + k ? -EAGAIN : 0;
				db = NULL;
			}
		}
		if (budget_ms != NULL)
			*budget_ms -= rule__cpu_ms() - t0;
		if (rc < 0)
			goto out;
		add_db(d, db, keep, pos, in, c, c + k);
	}
	if (d->ndb > 0) {
		*out = d;
		d = NULL;
	}
	rc = 0;
out:
	rule__hsdb_free(d);
	for (size_t i = 0; own != NULL && i < n; i++)
		free(own[i]);
	free(own);
	free(ex);
	free(fl);
	free(id);
	free(pos);
	free(keep);
	return rc;
}

int
rule__hsdb_new(struct rule__hsdb **out, const char *const *pats,
    const unsigned *opts, const uint32_t *ids, size_t n, bool *in,
    double *budget_ms)
{
	return hsdb_build(out, pats, opts, ids, n, in, budget_ms, false);
}

/* rule__hsdb_new_exact - like full mode, but every pattern run exactly
 * (one Hyperscan could only approximate, or one that can match empty,
 * stays out: in[i] false), of any length or cost, and every match end
 * reported (no HS_FLAG_SINGLEMATCH: scan with rule__hsdb_scan_ends). For
 * patterns made for Hyperscan (compile.c ASCII filters); no budget, so
 * for the cache build only. */
int
rule__hsdb_new_exact(struct rule__hsdb **out, const char *const *pats,
    const unsigned *opts, const uint32_t *ids, size_t n, bool *in)
{
	return hsdb_build(out, pats, opts, ids, n, in, NULL, true);
}

/* rule__hsdb_new_ends - one database (at most HS_FULL_CHUNK patterns)
 * that reports every end offset of every match of each pattern: no
 * HS_FLAG_SINGLEMATCH, and no prefilter mode (its matches are not the
 * pattern's), so a pattern Hyperscan could only approximate or refuses
 * stays out (in[i] false). No budget: the caller compiles it for the
 * cache only. */
int
rule__hsdb_new_ends(struct rule__hsdb **out, const char *const *pats,
    const unsigned *opts, const uint32_t *ids, size_t n, bool *in)
{
	const char *ex[HS_FULL_CHUNK];
	unsigned fl[HS_FULL_CHUNK], id[HS_FULL_CHUNK];
	bool keep[HS_FULL_CHUNK];
	size_t pos[HS_FULL_CHUNK], m = 0;
	hs_database_t *db = NULL;
	struct rule__hsdb *d;
	int rc;

	*out = NULL;
	for (size_t i = 0; i < n; i++)
		in[i] = false;
	if (hs_valid_platform() != HS_SUCCESS)
		return -ENOTSUP;
	for (size_t i = 0; i < n && m < HS_FULL_CHUNK; i++) {
		unsigned f = hs_flags(pats[i], opts[i]);

		if ((f & HS_FLAG_PREFILTER) || (opts[i] & PCRE2_EXTENDED))
			continue;
		ex[m] = pats[i];
		fl[m] = f & ~(unsigned)HS_FLAG_SINGLEMATCH;
		id[m] = ids[i];
		keep[m] = true;
		pos[m++] = i;
	}
	if ((rc = compile_chunk(ex, fl, id, keep, m, &db, SIZE_MAX)) < 0 ||
	    db == NULL)
		return rc;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->db = calloc(1, sizeof(*d->db))) == NULL) {
		free(d);
		hs_free_database(db);
		return -ENOMEM;
	}
	d->db[d->ndb++] = db;
	for (size_t i = 0; i < m; i++)
		if (keep[i]) {
			in[pos[i]] = true;
			d->npat++;
		}
	*out = d;
	return 0;
}

size_t
rule__hsdb_count(const struct rule__hsdb *d)
{
	return d != NULL ? d->npat : 0;
}

void
rule__hsdb_free(struct rule__hsdb *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->ndb; i++)
		hs_free_database(d->db[i]);
	free(d->db);
	free(d);
}

/* rule__hsdb_write - "ndb npat" then per database its size and the
 * serialised bytes; 0 or -EIO/-ENOMEM */
int
rule__hsdb_write(const struct rule__hsdb *d, FILE *f)
{
	uint32_t hdr[2] = { d != NULL ? (uint32_t)d->ndb : 0,
		d != NULL ? (uint32_t)d->npat : 0 };

	if (fwrite(hdr, sizeof(hdr), 1, f) != 1)
		return -EIO;
	for (size_t i = 0; d != NULL && i < d->ndb; i++) {
		char *bytes = NULL;
		size_t len = 0;
		uint64_t l64;
		int rc = 0;

		if (hs_serialize_database(d->db[i], &bytes, &len) !=
		    HS_SUCCESS)
			return -ENOMEM;
		l64 = len;
		if (fwrite(&l64, sizeof(l64), 1, f) != 1 ||
		    fwrite(bytes, 1, len, f) != len)
			rc = -EIO;
		free(bytes);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* rule__hsdb_read - what rule__hsdb_write wrote; *out NULL for an empty
 * set. -EINVAL: truncated, corrupt, or not for this Hyperscan/CPU. */
int
rule__hsdb_read(struct rule__hsdb **out, FILE *f)
{
	uint32_t hdr[2];
	struct rule__hsdb *d;
	char *bytes = NULL;

	*out = NULL;
	if (fread(hdr, sizeof(hdr), 1, f) != 1 || hdr[0] > 1u << 16)
		return -EINVAL;
	if (hdr[0] == 0)
		return 0;
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->db = calloc(hdr[0], sizeof(*d->db))) == NULL) {
		free(d);
		return -ENOMEM;
	}
	d->npat = hdr[1];
	for (uint32_t i = 0; i < hdr[0]; i++) {
		uint64_t len;

		if (fread(&len, sizeof(len), 1, f) != 1 || len == 0 ||
		    len > (1u << 30) || (bytes = malloc(len)) == NULL ||
		    fread(bytes, 1, len, f) != len ||
		    hs_deserialize_database(bytes, len, &d->db[i]) !=
			HS_SUCCESS) {
			free(bytes);
			rule__hsdb_free(d);
			return -EINVAL;
		}
		d->ndb++;
		free(bytes);
		bytes = NULL;
	}
	*out = d;
	return 0;
}

/* rule__hs_full_takes - full mode tries this pattern */
bool
rule__hs_full_takes(const char *pat, unsigned opts)
{
	return strlen(pat) + ((opts & PCRE2_EXTENDED) ? 4 : 0) <=
	    HS_FULL_MAX_PAT;
}

/* rule__hs_version - Hyperscan's version and build, for cache keys */
const char *
rule__hs_version(void)
{
	return hs_version();
}

struct scan_arg {
	rule__hs_hit_cb *cb;
	void *arg;
};

static int
on_match(unsigned int id, unsigned long long from, unsigned long long to,
    unsigned int flags, void *ctx)
{
	struct scan_arg *sa = ctx;

	(void)from;
	(void)to;
	(void)flags;
	sa->cb(sa->arg, id);
	return 0;
}

/* scan_dbs - p[0..len) (len <= UINT32_MAX) through every database of d */
static int
scan_dbs(const struct rule__hsdb *d, struct rule__hsscratch *s,
    const unsigned char *p, size_t len, match_event_handler h, void *ctx)
{
	static const char empty[1] = "";

	for (size_t i = 0; i < d->ndb; i++)
		if (hs_scan(d->db[i], p != NULL ? (const char *)p : empty,
			(unsigned)len, 0, (hs_scratch_t *)s, h,
			ctx) != HS_SUCCESS)
			return -EIO;
	return 0;
}

/* rule__hsdb_scan - cb(arg, id) once for every pattern found in p */
int
rule__hsdb_scan(const struct rule__hsdb *d, struct rule__hsscratch *s,
    const unsigned char *p, size_t len, rule__hs_hit_cb *cb, void *arg)
{
	struct scan_arg sa = { cb, arg };

	if (d == NULL || s == NULL)
		return 0;
	if (len > UINT32_MAX)
		len = UINT32_MAX; /* 4 GiB: beyond any message cap */
	return scan_dbs(d, s, p, len, on_match, &sa);
}

struct ends_arg {
	rule__hs_end_cb *cb;
	void *arg;
};

static int
on_end(unsigned int id, unsigned long long from, unsigned long long to,
    unsigned int flags, void *ctx)
{
	struct ends_arg *ea = ctx;

	(void)from;
	(void)flags;
	ea->cb(ea->arg, id, (size_t)to);
	return 0;
}

/* rule__hsdb_scan_ends - cb(arg, id, end) for every match end in p of a
 * rule__hsdb_new_ends database (in no particular order) */
int
rule__hsdb_scan_ends(const struct rule__hsdb *d, struct rule__hsscratch *s,
    const unsigned char *p, size_t len, rule__hs_end_cb *cb, void *arg)
{
	struct ends_arg ea = { cb, arg };

	if (d == NULL || s == NULL || len > UINT32_MAX)
		return -EINVAL;
	return scan_dbs(d, s, p, len, on_end, &ea);
}

/* Scratch pool ------------------------------------------------------------ */

/* rule__hspool_new - a pool of scratch spaces fitting every database
 * given (NULL entries skipped) */
int
rule__hspool_new(
    struct rule__hspool **out, struct rule__hsdb *const *dbs, size_t n)
{
	struct rule__hspool *p;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; dbs[i] != NULL && k < dbs[i]->ndb; k++)
			if (hs_alloc_scratch(dbs[i]->db[k], &p->proto) !=
			    HS_SUCCESS) {
				hs_free_scratch(p->proto);
				free(p);
				return -ENOMEM;
			}
	if (p->proto == NULL) { /* no database */
		free(p);
		return 0;
	}
	pthread_mutex_init(&p->lock, NULL);
	*out = p;
	return 0;
}

/* rule__hspool_get - a scratch space for one message; NULL: no memory
 * (the caller then skips the Hyperscan path) */
struct rule__hsscratch *
rule__hspool_get(struct rule__hspool *p)
{
	hs_scratch_t *s = NULL;

	if (p == NULL)
		return NULL;
	pthread_mutex_lock(&p->lock);
	if (p->nfree > 0)
		s = p->free[--p->nfree];
	pthread_mutex_unlock(&p->lock);
	if (s == NULL && hs_clone_scratch(p->proto, &s) != HS_SUCCESS)
		return NULL;
	return (struct rule__hsscratch *)s;
}

/* rule__hspool_put - back into the pool */
void
rule__hspool_put(struct rule__hspool *p, struct rule__hsscratch *s)
{
	hs_scratch_t **nv;

	if (s == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->nfree == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 4;

		if ((nv = realloc(p->free, nc * sizeof(*nv))) == NULL) {
			pthread_mutex_unlock(&p->lock);
			hs_free_scratch((hs_scratch_t *)s);
			return;
		}
		p->free = nv;
		p->cap = nc;
	}
	p->free[p->nfree++] = (hs_scratch_t *)s;
	pthread_mutex_unlock(&p->lock);
}

void
rule__hspool_free(struct rule__hspool *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nfree; i++)
		hs_free_scratch(p->free[i]);
	free(p->free);
	hs_free_scratch(p->proto);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
