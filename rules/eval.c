/*
 * rules/eval - run a compiled rule set on one message
 *
 * SpamAssassin semantics: header rules match the named header's values
 * (unfolded, RFC 2047 decoded unless :raw), each followed by "\n" and
 * concatenated, "" when absent ([if-unset: X] gives X); body rules match
 * each body "line" (SA paragraph) of msg_body_lines, rawbody each raw line,
 * uri each normalised URI, full the whole raw message, mimeheader each MIME
 * part's header. tflags multiple counts every match (maxhits=N caps it).
 * A rule runs only when the prefilter found one of its literals in the
 * text (or it has none). Meta rules run at finish, in dependency order,
 * over own results and the hits other modules added.
 *
 * Memory: the per-message state lives in the message arena; PCRE2 match
 * data is released with it (arena_defer). Errors: -ENOMEM only; a regex
 * hitting its match limit counts as no match.
 */
#include "rules/rules_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mail/msg.h"
#include "util/arena.h"
#include "util/hits.h"
#include "util/netaddr.h"

struct rule_run {
	struct rule_ctx c;
	bool texts_done[RULE_NTYPES];
};

static void
md_release(void *p)
{
	pcre2_match_data_free(p);
}

static double meta_leaf_slow(void *arg, enum rule__mleaf, uint32_t x);

/* rule_run_new - per-message state, from the message arena */
struct rule_run *
rule_run_new(const struct rule_set *rs, struct msg *msg)
{
	struct arena *a = msg_arena(msg);
	struct rule_run *run = arena_calloc(a, 1, sizeof(*run));
	size_t nb = (rs->nlitstrs + 7) / 8;

	if (run == NULL)
		return NULL;
	run->c.rs = rs;
	run->c.msg = msg;
	run->c.arena = a;
	if ((run->c.counts = arena_calloc(a, rs->n + 1, sizeof(uint32_t))) ==
	    NULL ||
	    (run->c.lazy_done = arena_calloc(a, rs->n + 1, 1)) == NULL)
		return NULL;
	run->c.lazy_on = !rs->no_prefilter;
	run->c.mvals = (struct rule__mvals){ run->c.counts,
		run->c.lazy_done, meta_leaf_slow, &run->c };
	for (size_t i = 0; i < RULE_NTYPES; i++)
		if ((run->c.seen_in[i] = arena_calloc(a, nb + 1, 1)) == NULL)
			return NULL;
	if ((run->c.md = pcre2_match_data_create(4, NULL)) == NULL)
		return NULL;
	if (arena_defer(a, md_release, run->c.md) < 0) {
		pcre2_match_data_free(run->c.md);
		return NULL;
	}
	if ((run->c.md_big = pcre2_match_data_create(64, NULL)) == NULL)
		return NULL;
	if (arena_defer(a, md_release, run->c.md_big) < 0) {
		pcre2_match_data_free(run->c.md_big);
		return NULL;
	}
	return run;
}

/* rawbody ---------------------------------------------------------------- */

#define SA_MAX_BODY_LINE 2048 /* SA Constants MAX_BODY_LINE_LENGTH */

/* find_from - the first ch in t[from, lim) (lim capped at t.len), or -1.
 * Bounded: a search past the 4 KiB window cannot give a cut, and an
 * unbounded one made a long line without newlines quadratic (8 MB: 17 s) */
static long
find_from(struct bstr t, size_t from, size_t lim, unsigned char ch)
{
	const unsigned char *q;

	if (lim > t.len)
		lim = t.len;
	if (from >= lim)
		return -1;
	q = memchr(t.p + from, ch, lim - from);
	return q ? (long)(q - t.p) : -1;
}

/* split_paragraphs - SA split_into_array_of_short_paragraphs: pieces cut
 * after a newline, else a '>', else a space found past 2 KiB, at most
 * 4 KiB each */
static int
split_paragraphs(struct rule_ctx *c, struct bstr t, size_t *cap)
{
	size_t ofs = 0;

	for (;;) {
		size_t end;
		long j;
		struct bstr *nv;

		if (t.len - ofs <= 2 * SA_MAX_BODY_LINE ||
		    t.len <= SA_MAX_BODY_LINE)
			end = t.len;
		else {
			/* SA's index() calls, but only inside the window
			 * they may cut in: j - ofs + 1 <= 2 * MAX */
			size_t from = ofs + SA_MAX_BODY_LINE;
			size_t lim = ofs + 2 * SA_MAX_BODY_LINE;

			j = find_from(t, from, lim, '\n');
			if (j < 0)
				j = find_from(t, from, lim, '>');
			if (j < 0)
				j = find_from(t, from, lim, ' ');
			if (j < 0)
				j = (long)(ofs + SA_MAX_BODY_LINE);
			end = (size_t)j + 1;
		}
		if (end <= ofs)
			return 0;
		if (c->nraw == *cap) {
			size_t ncap = *cap ? *cap * 2 : 16;

			if ((nv = arena_alloc(c->arena, ncap * sizeof(*nv))) ==
			    NULL)
				return -ENOMEM;
			if (c->nraw)
				memcpy(nv, c->raw, c->nraw * sizeof(*nv));
			c->raw = nv;
			*cap = ncap;
		}
		c->raw[c->nraw++] = bstr_sub(t, ofs, end - ofs);
		if (end >= t.len)
			return 0;
		ofs = end;
	}
}

/* build_rawbody - SA get_decoded_body_text_array: every text and
 * message leaf (not text/calendar), transfer-decoded, CRLF as LF */
static int
build_rawbody(struct rule_ctx *c)
{
	size_t cap = 0;

	for (size_t i = 0, n = msg_part_count(c->msg); i < n; i++) {
		const struct msg_part *p = msg_part_at(c->msg, i);
		struct bstr d = p->decoded;
		unsigned char *o;
		size_t k = 0;

		if (p->is_multipart || d.len == 0 ||
		    !(bstr_casestarts(p->ctype, "text") ||
			bstr_casestarts(p->ctype, "message")) ||
		    bstr_caseeq_cstr(p->ctype, "text/calendar"))
			continue;
		if ((o = arena_alloc(c->arena, d.len)) == NULL)
			return -ENOMEM;
		for (size_t j = 0; j < d.len; j++)
			if (!(d.p[j] == '\r' && j + 1 < d.len &&
				d.p[j + 1] == '\n'))
				o[k++] = d.p[j];
		if (split_paragraphs(c, bstr_make(o, k), &cap) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* build_body - the body lines joined by '\n': what the prefilter scans
 * and the gate of body rules runs on */
static int
build_body(struct rule_ctx *c)
{
	size_t n, len = 0;
	const struct bstr *l = msg_body_lines(c->msg, &n);
	unsigned char *o;

	for (size_t i = 0; i < n; i++)
		len += l[i].len + 1;
	if ((o = arena_alloc(c->arena, len + 1)) == NULL)
		return -ENOMEM;
	len = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			o[len++] = '\n';
		if (l[i].len)
			memcpy(o + len, l[i].p, l[i].len);
		len += l[i].len;
	}
	c->body = bstr_make(o, len);
	/* per line too: an ASCII line of an 8-bit body takes the ASCII
	 * form of a pattern and its ASCII filter just the same */
	if ((c->line_ascii = arena_alloc(c->arena, n + 1)) == NULL)
		return -ENOMEM;
	c->body_ascii = true;
	for (size_t i = 0; i < n; i++) {
		uint8_t or = 0;

		for (size_t k = 0; k < l[i].len; k++)
			or |= l[i].p[k];
		c->line_ascii[i] = or < 0x80;
		c->body_ascii = c->body_ascii && c->line_ascii[i];
	}
	return 0;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* build_uri_forms - each URI as written with %XX decoded (SA adds that
 * form to its URI list); empty when the URI has no escape */
static int
build_uri_forms(struct rule_ctx *c)
{
	size_t n;
	const struct msg_uri *u = msg_uris(c->msg, &n);

	if (n == 0)
		return 0;
	if ((c->udec = arena_calloc(c->arena, n, sizeof(*c->udec))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct bstr r = u[i].raw;
		unsigned char *o;
		size_t k = 0;

		if (memchr(r.p, '%', r.len) == NULL)
			continue;
		if ((o = arena_alloc(c->arena, r.len)) == NULL)
			return -ENOMEM;
		for (size_t j = 0; j < r.len; j++) {
			int hi, lo;

			if (r.p[j] == '%' && j + 2 < r.len &&
			    (hi = hexval(r.p[j + 1])) >= 0 &&
			    (lo = hexval(r.p[j + 2])) >= 0) {
				o[k++] = (unsigned char)(hi << 4 | lo);
				j += 2;
			} else {
				o[k++] = r.p[j];
			}
		}
		c->udec[i] = bstr_make(o, k);
	}
	return 0;
}

/* Prefilter texts -------------------------------------------------------- */

static void
scan_texts(struct rule_run *run, enum rule_type t)
{
	const struct rule_set *rs = run->c.rs;
	struct msg *m = run->c.msg;
	uint8_t *seen = run->c.seen_in[t];
	struct bstr s;

	if (run->texts_done[t] || rs->ac == NULL || !rs->ac_needed[t])
		return;
	run->texts_done[t] = true;
	switch (t) {
	case RULE_HEADER:
		s = msg_header_block(m);
		rule__ac_scan(rs->ac, s.p, s.len, seen);
		for (size_t i = 0, n = msg_header_count(m); i < n; i++) {
			const struct msg_header *h = msg_header_at(m, i);

			rule__ac_scan(rs->ac, h->value.p, h->value.len, seen);
			if (!bstr_eq(h->decoded, h->value))
				rule__ac_scan(
				    rs->ac, h->decoded.p, h->decoded.len, seen);
		}
		break;
	case RULE_BODY:
		rule__ac_scan(rs->ac, run->c.body.p, run->c.body.len, seen);
		break;
	case RULE_RAWBODY:
		for (size_t i = 0; i < run->c.nraw; i++)
			rule__ac_scan(
			    rs->ac, run->c.raw[i].p, run->c.raw[i].len, seen);
		break;
	case RULE_URI: {
		size_t n;
		const struct msg_uri *u = msg_uris(m, &n);

		for (size_t i = 0; i < n; i++) {
			rule__ac_scan(rs->ac, u[i].uri.p, u[i].uri.len, seen);
			rule__ac_scan(rs->ac, u[i].raw.p, u[i].raw.len, seen);
			if (run->c.udec != NULL)
				rule__ac_scan(rs->ac, run->c.udec[i].p,
				    run->c.udec[i].len, seen);
		}
		break;
	}
	case RULE_FULL:
		s = msg_full(m);
		rule__ac_scan(rs->ac, s.p, s.len, seen);
		break;
	default:
		break;
	}
}

static void
hs_hit(void *arg, uint32_t id)
{
	struct rule_ctx *c = arg;
	uint32_t i;

	if (id >= c->rs->n)
		return;
	if (c->nhsm == c->hsmcap) {
		size_t ncap = c->hsmcap ? c->hsmcap * 2 : 256;
		struct rule_hsm *nv;

		if (ncap > UINT32_MAX ||
		    (nv = arena_alloc(c->arena, ncap * sizeof(*nv))) == NULL) {
			c->hsfail = true; /* the type runs unfiltered */
			return;
		}
		if (c->nhsm)
			memcpy(nv, c->hsm, c->nhsm * sizeof(*nv));
		c->hsm = nv;
		c->hsmcap = ncap;
	}
	i = (uint32_t)c->nhsm++;
	c->hsm[i].text = c->hscur;
	c->hsm[i].next = 0;
	if (c->hshead[id] == 0)
		c->hshead[id] = i + 1;
	else
		c->hsm[c->hstail[id] - 1].next = i + 1;
	c->hstail[id] = i + 1;
}

/* hs_scan_type - the Hyperscan pass over every text rules of type t
 * read; each text scanned on its own, so a pattern reported for text i
 * matched (or, in prefilter mode, may match) inside text i. A failed scan
 * leaves hsdone false: the rules then run without the filter. */
static void
hs_scan_type(struct rule_run *run, enum rule_type t)
{
	struct rule_ctx *c = &run->c;
	const struct rule_set *rs = c->rs;
	const struct rule__hsdb *db = rs->hs[t];
	int rc = 0;

	if (db == NULL || c->hss == NULL || c->hshead == NULL)
		return;
	c->hsfail = false;
	switch (t) {
	case RULE_BODY: {
		size_t n;
		const struct bstr *l = msg_body_lines(c->msg, &n);

		for (size_t i = 0; i < n && rc == 0; i++) {
			c->hscur = (uint32_t)i + 1;
			rc = rule__hsdb_scan(db, c->hss, l[i].p, l[i].len,
			    hs_hit, c);
		}
		break;
	}
	case RULE_RAWBODY:
		for (size_t i = 0; i < c->nraw && rc == 0; i++) {
			c->hscur = (uint32_t)i + 1;
			rc = rule__hsdb_scan(db, c->hss, c->raw[i].p,
			    c->raw[i].len, hs_hit, c);
		}
		break;
	case RULE_URI: {
		size_t n;
		const struct msg_uri *u = msg_uris(c->msg, &n);

		for (size_t i = 0; i < n && rc == 0; i++) {
			c->hscur = (uint32_t)i + 1;
			rc = rule__hsdb_scan(db, c->hss, u[i].uri.p,
			    u[i].uri.len, hs_hit, c);
			if (rc == 0 && !bstr_eq(u[i].raw, u[i].uri))
				rc = rule__hsdb_scan(db, c->hss, u[i].raw.p,
				    u[i].raw.len, hs_hit, c);
			if (rc == 0 && c->udec != NULL && c->udec[i].len > 0)
				rc = rule__hsdb_scan(db, c->hss, c->udec[i].p,
				    c->udec[i].len, hs_hit, c);
		}
		break;
	}
	case RULE_FULL: {
		struct bstr f = msg_full(c->msg);

		c->hscur = 1;
		rc = rule__hsdb_scan(db, c->hss, f.p, f.len, hs_hit, c);
		break;
	}
	default:
		return;
	}
	c->hsdone[t] = rc == 0 && !c->hsfail;
}

/* the ASCII filters' matches over the joined body: (line, rule) pairs */
struct af_pair {
	uint32_t line, id;
};

struct af_acc {
	const size_t *start; /* line i starts at start[i]; nl + 1 entries */
	size_t nl;
	struct af_pair *v;
	size_t n, cap;
	bool fail;
};

/* af_end - a match of filter id ending at end: the line holding it (a
 * match that crosses a '\n' is not a line's match; its end line only
 * adds a line that PCRE2 then rejects) */
static void
af_end(void *arg, uint32_t id, size_t end)
{
	struct af_acc *a = arg;
	size_t lo = 0, hi = a->nl;

	while (hi - lo > 1) { /* the last line starting at or before end */
		size_t mid = lo + (hi - lo) / 2;

		if (a->start[mid] <= end)
			lo = mid;
		else
			hi = mid;
	}
	if (a->n > 0 && a->v[a->n - 1].line == lo && a->v[a->n - 1].id == id)
		return;
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 64;
		struct af_pair *nv = realloc(a->v, nc * sizeof(*nv));

		if (nv == NULL) {
			a->fail = true;
			return;
		}
		a->v = nv;
		a->cap = nc;
	}
	a->v[a->n++] = (struct af_pair){ .line = (uint32_t)lo, .id = id };
}

static int
af_cmp(const void *x, const void *y)
{
	const struct af_pair *a = x, *b = y;

	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

/* af_scan - the ASCII filters (compile.c af_build) over the body,
 * joined, in one scan (a scan per line costs more than the bytes); each
 * (line, rule) found goes once, in line order, into the per-rule lists
 * hs_scan_type fills (the filters' rules are in no other database).
 * The database is not UTF-8 mode, so 8-bit lines are only bytes to it:
 * what it reports for an ASCII line holds whatever the other lines are
 * (run_rule runs the 8-bit lines unfiltered). afdone false on any
 * failure, or a body without an ASCII line: the rules then run the old
 * way. */
static void
af_scan(struct rule_ctx *c)
{
	const struct rule_set *rs = c->rs;
	const struct bstr *l;
	struct af_acc a = { 0 };
	size_t *start;

	c->afdone = false;
	if (rs->af_hs == NULL || c->hss == NULL || c->hshead == NULL ||
	    c->line_ascii == NULL || rs->no_prefilter)
		return;
	l = msg_body_lines(c->msg, &a.nl);
	if (a.nl == 0 || a.nl > UINT32_MAX ||
	    memchr(c->line_ascii, 1, a.nl) == NULL ||
	    (start = arena_alloc(c->arena, (a.nl + 1) * sizeof(*start))) ==
		NULL)
		return;
	start[0] = 0;
	for (size_t i = 0; i < a.nl; i++)
		start[i + 1] = start[i] + l[i].len + 1;
	a.start = start;
	if (rule__hsdb_scan_ends(
		rs->af_hs, c->hss, c->body.p, c->body.len, af_end, &a) < 0 ||
	    a.fail) {
		free(a.v);
		return;
	}
	if (a.n > 1) /* a.v is NULL with no match: qsort's is nonnull */
		qsort(a.v, a.n, sizeof(*a.v), af_cmp);
	c->hsfail = false;
	for (size_t i = 0; i < a.n && !c->hsfail; i++) {
		if (i > 0 && af_cmp(&a.v[i - 1], &a.v[i]) == 0)
			continue;
		c->hscur = a.v[i].line + 1;
		hs_hit(c, a.v[i].id);
	}
	free(a.v);
	c->afdone = !c->hsfail;
}

/* hs_says - Hyperscan decides which texts rule r can match in */
static bool
hs_says(const struct rule_ctx *c, const struct rule *r)
{
	return r->in_hs && c->hsdone[r->type] && !c->rs->no_prefilter;
}

/* hs_texts - rule r's list of texts (index + 1 into hsm, 0: none) */
static uint32_t
hs_texts(const struct rule_ctx *c, const struct rule *r)
{
	return c->hshead[r - c->rs->v];
}

static bool
candidate(const struct rule_set *rs, const struct rule *r, const uint8_t *seen)
{
	if (r->always || rs->no_prefilter)
		return true;
	for (size_t i = 0; i < r->nlits; i++)
		if (seen[r->lits[i] >> 3] & (1u << (r->lits[i] & 7)))
			return true;
	return false;
}

/* Matching --------------------------------------------------------------- */

/* save_captures - SA 4 capture tags: every named group that matched
 * something becomes a value of the tag of that name */
static void
save_captures(struct rule_ctx *c, const pcre2_code *re, const unsigned char *p)
{
	uint32_t count, esize;
	PCRE2_SPTR table;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md_big);
	uint32_t npairs = pcre2_get_ovector_count(c->md_big);

	if (pcre2_pattern_info(re, PCRE2_INFO_NAMECOUNT, &count) != 0 ||
	    pcre2_pattern_info(re, PCRE2_INFO_NAMEENTRYSIZE, &esize) != 0 ||
	    pcre2_pattern_info(re, PCRE2_INFO_NAMETABLE, &table) != 0)
		return;
	for (uint32_t i = 0; i < count; i++) {
		PCRE2_SPTR e = table + (size_t)i * esize;
		uint32_t g = (uint32_t)e[0] << 8 | e[1];
		const char *name = (const char *)e + 2;
		struct bstr v;
		struct rule_tag *nv;
		bool dup = false;

		if (g >= npairs || ov[2 * g] == PCRE2_UNSET ||
		    ov[2 * g + 1] <= ov[2 * g])
			continue;
		v = bstr_make(p + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
		for (size_t k = 0; k < c->ntags; k++)
			dup |= strcmp(c->tags[k].name, name) == 0 &&
			    bstr_eq(c->tags[k].val, v);
		if (dup || c->ntags >= 256)
			continue;
		if (c->ntags == c->tagcap) {
			size_t ncap = c->tagcap ? c->tagcap * 2 : 8;

			if ((nv = arena_alloc(c->arena, ncap * sizeof(*nv))) ==
			    NULL)
				return;
			if (c->ntags)
				memcpy(nv, c->tags, c->ntags * sizeof(*nv));
			c->tags = nv;
			c->tagcap = ncap;
		}
		/* copy: the text may be a scratch buffer */
		if ((c->tags[c->ntags].val.p =
			    arena_memdup(c->arena, v.p, v.len)) == NULL)
			return;
		c->tags[c->ntags].val.len = v.len;
		c->tags[c->ntags].name =
		    arena_strndup(c->arena, name, strlen(name));
		if (c->tags[c->ntags].name != NULL)
			c->ntags++;
	}
}

/* match_one - matches of one pattern in s: up to limit; cap: record
 * named captures (needs the larger match data) */
static unsigned
match_one(struct rule_ctx *c, const pcre2_code *re, struct bstr s,
    unsigned limit, bool cap)
{
	PCRE2_SIZE off = 0;
	unsigned n = 0;
	static const unsigned char empty[1] = { 0 };
	const unsigned char *p = s.p != NULL ? s.p : empty;

	while (n < limit && off <= s.len) {
		int rc = pcre2_match(
		    re, p, s.len, off, 0, cap ? c->md_big : c->md, c->rs->mctx);
		PCRE2_SIZE *ov;

		if (rc < 0)
			break; /* no match, or a limit: no hit */
		n++;
		if (cap)
			save_captures(c, re, p);
		ov = pcre2_get_ovector_pointer(cap ? c->md_big : c->md);
		off = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
	}
	return n;
}

static unsigned
match_count(
    struct rule_ctx *c, const struct rule *r, struct bstr s, unsigned limit)
{
	bool cap = r->captures && c->md_big != NULL;
	unsigned n;

	if (c->use_ascii && r->re_ascii != NULL) {
		n = match_one(c, r->re_ascii, s, limit, cap);
		for (size_t i = 0; i < r->nascii_more && n < limit; i++)
			n += match_one(c, r->ascii_more[i], s, limit - n, cap);
		return n;
	}
	n = match_one(c, r->re, s, limit, cap);

	for (size_t i = 0; i < r->nmore && n < limit; i++)
		n += match_one(c, r->more[i], s, limit - n, cap);
	return n;
}

static unsigned
rule_limit(const struct rule *r)
{
	if (!(r->tflags & TF_MULTIPLE))
		return 1;
	return r->maxhits ? r->maxhits : 1000;
}

/* joined - every value of header name, each with "\n" (SA 4: values are
 * unfolded; :raw ones keep their encoding) */
static int
joined(struct rule_ctx *c, struct buf *b, const char *name, int mod)
{
	size_t n = msg_header_count_named(c->msg, name);

	for (size_t i = 0; i < n; i++) {
		const struct msg_header *h = msg_header_get(c->msg, name, i);
		struct bstr v = mod == HMOD_RAW ? h->raw : h->decoded;

		if (mod == HMOD_RAW) {
			/* SA: s/\r?\n\s+/ /g on the raw value */
			for (size_t k = 0; k < v.len; k++) {
				size_t e = k;

				if (v.p[e] == '\r' && e + 1 < v.len &&
				    v.p[e + 1] == '\n')
					e++;
				if (v.p[e] == '\n' && e + 1 < v.len &&
				    (v.p[e + 1] == ' ' || v.p[e + 1] == '\t')) {
					for (e++; e < v.len &&
					     (v.p[e] == ' ' || v.p[e] == '\t' ||
						 v.p[e] == '\r' ||
						 v.p[e] == '\n');
					     e++)
						;
					if (buf_putc(b, ' ') < 0)
						return -ENOMEM;
					k = e - 1;
					continue;
				}
				if (buf_putc(b, v.p[k]) < 0)
					return -ENOMEM;
			}
			while (b->len > 0 &&
			    (b->p[b->len - 1] == '\n' ||
				b->p[b->len - 1] == '\r'))
				b->len--;
		} else if (buf_append(b, v.p, v.len) < 0) {
			return -ENOMEM;
		}
		if (buf_putc(b, '\n') < 0)
			return -ENOMEM;
	}
	return (int)n;
}

/* addr_list - SA 4 :addr / :name: every address (or display name) of
 * every value, one per line, no final newline */
static int
addr_list(
    struct rule_ctx *c, const struct rule *r, const char *name, struct buf *b)
{
	size_t n;
	const struct msg_addr *a = msg_addrs(c->msg, name, &n);

	if (r->hraw && r->hmod == HMOD_NAME) {
		/* :name:raw - the phrases as written */
		for (size_t i = 0, nh = msg_header_count_named(c->msg, name);
		     i < nh; i++) {
			const struct msg_header *h =
			    msg_header_get(c->msg, name, i);
			struct msg_addr *ra;
			size_t nr;

			if (msg_addr_parse(c->arena, h->raw, &ra, &nr) < 0)
				continue;
			for (size_t k = 0; k < nr; k++)
				if (ra[k].display.len > 0 &&
				    ((b->len > 0 && buf_putc(b, '\n') < 0) ||
					buf_append(b, ra[k].display.p,
					    ra[k].display.len) < 0))
					return -ENOMEM;
		}
		return 0;
	}
	for (size_t i = 0; a != NULL && i < n; i++) {
		struct bstr v = r->hmod == HMOD_ADDR ? a[i].addr : a[i].display;

		if (v.len == 0)
			continue;
		/* SA strips one pair of single quotes around a name */
		if (r->hmod == HMOD_NAME && v.len >= 2 && v.p[0] == '\'' &&
		    v.p[v.len - 1] == '\'')
			v = bstr_sub(v, 1, v.len - 2);
		if ((b->len > 0 && buf_putc(b, '\n') < 0) ||
		    buf_append(b, v.p, v.len) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* relays_text - SA's X-Spam-Relays-* pseudo-header: the parsed relays of
 * the kind, newest first, "[ ip=.. rdns=.. helo=.. by=.. ident=..
 * envfrom=.. intl=0|1 id=.. auth=.. msa=0 ]" joined by spaces */
static int
relays_text(struct rule_ctx *c, enum rule_relays kind, struct buf *b)
{
	size_t n;
	const struct msg_relay *v = msg_relays(c->msg, &n);
	bool first = true;

	for (size_t i = 0; v != NULL && i < n; i++) {
		const struct msg_relay *r = &v[i];
		char ip[64] = "";
		bool want;

		if (!r->parsed)
			continue;
		switch (kind) {
		case RELAYS_TRUSTED:
			want = r->trusted;
			break;
		case RELAYS_UNTRUSTED:
			want = !r->trusted;
			break;
		case RELAYS_INTERNAL:
			want = r->internal;
			break;
		default:
			want = !r->internal;
			break;
		}
		if (!want)
			continue;
		if (r->has_ip)
			netaddr_str(&r->ip, ip, sizeof(ip));
		if (buf_printf(b,
			"%s[ ip=%s rdns=%.*s helo=%.*s by=%.*s "
			"ident=%.*s envfrom=%.*s intl=%d id=%.*s auth=%.*s "
			"msa=0 ]",
			first ? "" : " ", ip, (int)r->rdns.len,
			(const char *)r->rdns.p, (int)r->helo.len,
			(const char *)r->helo.p, (int)r->by.len,
			(const char *)r->by.p, (int)r->ident.len,
			(const char *)r->ident.p, (int)r->envfrom.len,
			(const char *)r->envfrom.p, r->internal ? 1 : 0,
			(int)r->id.len, (const char *)r->id.p,
			r->auth ? (int)r->with.len : 0,
			(const char *)r->with.p) < 0)
			return -ENOMEM;
		first = false;
	}
	return 0;
}

/* pseudo_exists - exists:Name for SA's composed names too */
static bool
pseudo_exists(struct rule_ctx *c, const char *name)
{
	struct msg *m = c->msg;

	if (strcmp(name, "ToCc") == 0)
		return msg_header_count_named(m, "To") +
		    msg_header_count_named(m, "Cc") >
		    0;
	if (strcmp(name, "MESSAGEID") == 0)
		return msg_header_count_named(m, "Message-Id") +
		    msg_header_count_named(m, "Resent-Message-Id") +
		    msg_header_count_named(m, "X-Message-Id") +
		    msg_header_count_named(m, "X-Mailer-Id") >
		    0;
	if (strcmp(name, "EnvelopeFrom") == 0)
		return msg_header_count_named(m, "Return-Path") +
		    msg_header_count_named(m, "X-Envelope-From") >
		    0;
	return msg_header_count_named(m, name) > 0;
}

/* all_part_text - SA's ALL-TRUSTED/-INTERNAL (headers down to and with
 * the last trusted/internal Received line) and ALL-UNTRUSTED/-EXTERNAL
 * (from the Received line after it on). The split is the Received line of
 * the first untrusted (external) relay: Received lines the model keeps no
 * relay for (fetchmail, qmail "invoked by") above it count as trusted, as
 * SA parses them. Headers above the first Received go with the top part. */
static int
all_part_text(struct rule_ctx *c, const struct rule *r, struct buf *b)
{
	size_t nrel, nh = msg_header_count(c->msg);
	const struct msg_relay *rel = msg_relays(c->msg, &nrel);
	bool by_trust =
	    r->relays == RELAYS_TRUSTED || r->relays == RELAYS_UNTRUSTED;
	bool upper =
	    r->relays == RELAYS_TRUSTED || r->relays == RELAYS_INTERNAL;
	const struct msg_relay *split = NULL;
	long cur = -1, split_idx = -1;

	for (size_t i = 0; rel != NULL && i < nrel && split == NULL; i++)
		if (!(by_trust ? rel[i].trusted : rel[i].internal))
			split = &rel[i];
	for (size_t i = 0; i < nh && split != NULL; i++) {
		const struct msg_header *h = msg_header_at(c->msg, i);

		if (!bstr_caseeq_cstr(h->name, "Received"))
			continue;
		cur++;
		if (bstr_eq(h->value, split->raw) ||
		    bstr_eq(h->decoded, split->raw)) {
			split_idx = cur;
			break;
		}
	}
	if (split == NULL) /* all trusted: everything is the top part */
		split_idx = LONG_MAX;
	else if (split_idx < 0) /* not found: SA would trust none */
		split_idx = 0;
	cur = -1;
	for (size_t i = 0; i < nh; i++) {
		const struct msg_header *h = msg_header_at(c->msg, i);
		struct bstr v = r->hmod == HMOD_RAW ? h->raw : h->decoded;

		if (bstr_caseeq_cstr(h->name, "Received"))
			cur++;
		if (upper ? cur >= split_idx : cur < split_idx)
			continue;
		if (buf_append(b, h->name.p, h->name.len) < 0 ||
		    buf_puts(b, r->hmod == HMOD_RAW ? ":" : ": ") < 0 ||
		    buf_append(b, v.p, v.len) < 0 || buf_putc(b, '\n') < 0)
			return -ENOMEM;
	}
	return 0;
}

/* header_text - the text a header rule matches; *unset when absent */
static int
header_text(
    struct rule_ctx *c, const struct rule *r, struct buf *b, bool *unset)
{
	size_t n;
	int k;

	*unset = false;
	switch (r->hkind) {
	case HDR_ALL:
		if (r->all_part)
			return all_part_text(c, r, b);
		if (r->hmod == HMOD_RAW) {
			struct bstr s = msg_header_block(c->msg);

			return buf_append(b, s.p, s.len);
		}
		n = msg_header_count(c->msg);
		for (size_t i = 0; i < n; i++) {
			const struct msg_header *h = msg_header_at(c->msg, i);

			if (buf_append(b, h->name.p, h->name.len) < 0 ||
			    buf_puts(b, ": ") < 0 ||
			    buf_append(b, h->decoded.p, h->decoded.len) < 0 ||
			    buf_putc(b, '\n') < 0)
				return -ENOMEM;
		}
		return 0;
	case HDR_TOCC:
		if (r->hmod == HMOD_ADDR || r->hmod == HMOD_NAME) {
			/* addr_list separates from what b holds */
			if (addr_list(c, r, "To", b) < 0 ||
			    addr_list(c, r, "Cc", b) < 0)
				return -ENOMEM;
		} else if (joined(c, b, "To", r->hmod) < 0 ||
		    joined(c, b, "Cc", r->hmod) < 0) {
			return -ENOMEM;
		}
		*unset = b->len == 0;
		return 0;
	case HDR_MESSAGEID: {
		static const char *const ids[] = { "X-Message-Id",
			"Resent-Message-Id", "X-Original-Message-ID",
			"Message-Id" };

		for (size_t i = 0; i < 4; i++)
			if (joined(c, b, ids[i], r->hmod) < 0)
				return -ENOMEM;
		*unset = b->len == 0;
		return 0;
	}
	case HDR_RELAYS:
		if (relays_text(c, r->relays, b) < 0)
			return -ENOMEM;
		*unset = b->len == 0;
		return 0;
	case HDR_ENVFROM: {
		const struct msg_addr *a = msg_addrs(c->msg, "Return-Path", &n);

		if (a == NULL || n == 0)
			a = msg_addrs(c->msg, "X-Envelope-From", &n);
		if (a == NULL || n == 0) {
			*unset = true;
			return 0;
		}
		return buf_append(b, a[0].addr.p, a[0].addr.len) < 0 ||
			buf_putc(b, '\n') < 0
		    ? -ENOMEM
		    : 0;
	}
	default:
		break;
	}
	if (r->hmod == HMOD_ADDR || r->hmod == HMOD_NAME) {
		if (addr_list(c, r, r->hdr, b) < 0)
			return -ENOMEM;
		*unset = b->len == 0;
		return 0;
	}
	if ((k = joined(c, b, r->hdr, r->hmod)) < 0)
		return k;
	*unset = k == 0;
	return 0;
}

/* mh_lowered - c->mh_lc: every part's header block lowercased after a
 * '\n' (mime_header_match matches names at line starts, case-blind);
 * left NULL when the arena is full: then every part is scanned */
static void
mh_lowered(struct rule_ctx *c, size_t np)
{
	struct bstr *v = arena_calloc(c->arena, np + 1, sizeof(*v));

	if (v == NULL)
		return;
	for (size_t i = 0; i < np; i++) {
		struct bstr blk = msg_part_at(c->msg, i)->headers;
		unsigned char *p = arena_alloc(c->arena, blk.len + 1);

		if (p == NULL)
			return;
		p[0] = '\n';
		for (size_t k = 0; k < blk.len; k++)
			p[k + 1] = (unsigned char)tolower(blk.p[k]);
		v[i] = bstr_make(p, blk.len + 1);
	}
	c->mh_lc = v;
}

/* mimeheader: the named header in one part's raw header block */
static unsigned
mime_header_match(struct rule_ctx *c, const struct rule *r,
    const struct msg_part *pt, struct buf *b)
{
	struct bstr blk = pt->headers;
	size_t nl = strlen(r->hdr), i = 0;

	buf_reset(b);
	while (i < blk.len) {
		size_t ls = i, le;
		const unsigned char *q = memchr(blk.p + i, '\n', blk.len - i);

		i = q != NULL ? (size_t)(q - blk.p) : blk.len;
		le = i++;
		if (le - ls > nl && blk.p[ls + nl] == ':' &&
		    bstr_caseeq(bstr_make(blk.p + ls, nl), bstr_cstr(r->hdr))) {
			size_t vs = ls + nl + 1;

			/* value, with folded continuation lines joined */
			while (
			    vs < le && (blk.p[vs] == ' ' || blk.p[vs] == '\t'))
				vs++;
			if (buf_append(b, blk.p + vs, le - vs) < 0)
				return 0;
			while (i < blk.len &&
			    (blk.p[i] == ' ' || blk.p[i] == '\t')) {
				size_t cs = i;

				q = memchr(blk.p + i, '\n', blk.len - i);
				i = q != NULL ? (size_t)(q - blk.p) : blk.len;
				if (b->len && b->p[b->len - 1] == '\r')
					b->len--;
				if (r->hmod == HMOD_RAW &&
				    buf_putc(b, '\n') < 0)
					return 0;
				if (buf_append(b, blk.p + cs, i - cs) < 0)
					return 0;
				i++;
			}
			if (b->len && b->p[b->len - 1] == '\r')
				b->len--;
			if (buf_putc(b, '\n') < 0)
				return 0;
		}
	}
	if (b->len == 0)
		return 0;
	return match_count(c, r, buf_bstr(b), rule_limit(r));
}

/* gate_open - some pattern of r matches the joined body (or a limit was
 * hit: then the lines decide) */
static bool
gate_open(struct rule_ctx *c, const struct rule *r)
{
	PCRE2_SPTR p = c->body.p ? c->body.p : (PCRE2_SPTR) "";

	if (c->body_ascii && r->re_ascii != NULL) {
		if (r->gate_ascii != NULL)
			return pcre2_match(r->gate_ascii, p, c->body.len, 0,
				   0, c->md,
				   c->rs->mctx) != PCRE2_ERROR_NOMATCH;
		if (!r->gate_whole)
			return true;
		if (pcre2_match(r->re_ascii, p, c->body.len, 0, 0, c->md,
			c->rs->mctx) != PCRE2_ERROR_NOMATCH)
			return true;
		for (size_t i = 0; i < r->nascii_more; i++)
			if (pcre2_match(r->ascii_more[i], p, c->body.len, 0, 0,
				c->md, c->rs->mctx) != PCRE2_ERROR_NOMATCH)
				return true;
		return false;
	}
	if (r->gate_re != NULL)
		return pcre2_match(r->gate_re, p, c->body.len, 0, 0, c->md,
			   c->rs->mctx) != PCRE2_ERROR_NOMATCH;
	if (!r->gate_whole)
		return true;
	if (pcre2_match(r->re, p, c->body.len, 0, 0, c->md, c->rs->mctx) !=
	    PCRE2_ERROR_NOMATCH)
		return true;
	for (size_t i = 0; i < r->nmore; i++)
		if (pcre2_match(r->more[i], p, c->body.len, 0, 0, c->md,
			c->rs->mctx) != PCRE2_ERROR_NOMATCH)
			return true;
	return false;
}

/* rgate_count - spaced matches of repeat-gate element g in s (compile.c
 * "Repeat gates": each search resumes minlen after the last start), up
 * to g->cap; a PCRE2 error (a limit) counts as cap: the lines decide */
static unsigned
rgate_count(struct rule_ctx *c, const struct rule__rgate *g, struct bstr s)
{
	static const unsigned char empty[1] = { 0 };
	const unsigned char *p = s.p != NULL ? s.p : empty;
	PCRE2_SIZE off = 0;
	unsigned n = 0;

	while (n < g->cap && off <= s.len) {
		int rc = pcre2_match(g->re, p, s.len, off, 0, c->md,
		    c->rs->mctx);

		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0)
			return g->cap;
		n++;
		off = pcre2_get_ovector_pointer(c->md)[0] + g->minlen;
	}
	return n;
}

/* rg_slot - the per-line counts of element gi for the texts of kind t
 * (nl lines), all 0xff (not counted) at first; NULL: no memory */
static uint8_t *
rg_slot(struct rule_ctx *c, size_t gi, enum rule_type t, size_t nl)
{
	uint8_t **slot;

	if (c->rg_cnt == NULL &&
	    (c->rg_cnt = arena_calloc(c->arena, c->rs->nrgates * 2,
		 sizeof(*c->rg_cnt))) == NULL)
		return NULL;
	slot = &c->rg_cnt[gi * 2 + (t == RULE_RAWBODY)];
	if (*slot == NULL && (*slot = arena_alloc(c->arena, nl + 1)) != NULL)
		memset(*slot, 0xff, nl + 1);
	return *slot;
}

/* rgate_open - r's repeat gate lets line i (of nl, body or rawbody) of
 * text s through: its element matched rgate_n times there. Counts are
 * kept per element and line, for every rule sharing the element. */
static bool
rgate_open(struct rule_ctx *c, const struct rule *r, size_t i, size_t nl,
    struct bstr s)
{
	const struct rule__rgate *g;
	uint8_t *cnt;

	if (r->rgate == 0 || c->rs->no_prefilter)
		return true;
	g = &c->rs->rgates[r->rgate - 1];
	cnt = rg_slot(c, r->rgate - 1, r->type, nl);
	if (cnt == NULL || i >= nl)
		return rgate_count(c, g, s) >= r->rgate_n;
	if (cnt[i] == 0xff) /* cap <= RGATE_MAX_N < 0xff */
		cnt[i] = (uint8_t)rgate_count(c, g, s);
	return cnt[i] >= r->rgate_n;
}

/* Hyperscan reports each element's match ends in any order: marked in
 * ends (bit id of byte end), counted once the scan is over */
struct rg_ends {
	uint8_t *ends;
	size_t len;
};

static void
rg_end(void *arg, uint32_t id, size_t end)
{
	struct rg_ends *e = arg;

	if (end <= e->len && id < RGATE_HS_MAX)
		e->ends[end] |= (uint8_t)(1u << id);
}

/* rgate_hs_fill - the counts of every element Hyperscan holds, for every
 * text of type t, from one scan each: the same count as rgate_count
 * mirrored (n non-overlapping matches at least minlen long end at least
 * minlen apart; taking the first end, then the first one minlen or more
 * after it, finds n of them whenever they exist) */
static void
rgate_hs_fill(struct rule_ctx *c, enum rule_type t)
{
	const struct rule_set *rs = c->rs;
	const struct bstr *l;
	size_t nl, maxlen = 0;
	size_t ng = rs->nrgates < RGATE_HS_MAX ? rs->nrgates : RGATE_HS_MAX;
	uint8_t *cnt[RGATE_HS_MAX] = { NULL };
	bool any = false;
	struct rg_ends e;

	if (rs->rg_hs == NULL || c->hss == NULL || rs->no_prefilter)
		return;
	if (t == RULE_RAWBODY) {
		l = c->raw;
		nl = c->nraw;
	} else {
		l = msg_body_lines(c->msg, &nl);
	}
	for (size_t g = 0; g < ng; g++)
		if (rs->rgates[g].in_hs && (rs->rgates[g].types & (1u << t)) &&
		    (cnt[g] = rg_slot(c, g, t, nl)) != NULL)
			any = true;
	for (size_t i = 0; i < nl; i++)
		if (l[i].len > maxlen)
			maxlen = l[i].len;
	if (!any || (e.ends = malloc(maxlen + 1)) == NULL)
		return;
	for (size_t i = 0; i < nl; i++) {
		e.len = l[i].len;
		memset(e.ends, 0, e.len + 1);
		if (rule__hsdb_scan_ends(rs->rg_hs, c->hss, l[i].p, l[i].len,
			rg_end, &e) < 0)
			continue; /* left uncounted: PCRE2 counts it */
		for (size_t g = 0; g < ng; g++) {
			const struct rule__rgate *rg = &rs->rgates[g];
			unsigned n = 0, cap = rg->cap;
			size_t next = 0;

			if (cnt[g] == NULL)
				continue;
			for (size_t k = 0; k <= e.len && n < cap; k++)
				if (k >= next && (e.ends[k] & (1u << g))) {
					n++;
					next = k + rg->minlen;
				}
			cnt[g][i] = (uint8_t)n;
		}
	}
	free(e.ends);
}

/* rule__same_target - two header rules read the same text */
bool
rule__same_target(const struct rule *a, const struct rule *b)
{
	return a->hkind == b->hkind && a->hmod == b->hmod &&
	    a->hraw == b->hraw && a->relays == b->relays &&
	    a->all_part == b->all_part &&
	    (a->hdr == b->hdr ||
		(a->hdr != NULL && b->hdr != NULL &&
		    strcasecmp(a->hdr, b->hdr) == 0));
}

static void
hg_hit(void *arg, uint32_t id)
{
	struct rule_ctx *c = arg;

	if (id < c->rs->n)
		c->hg_hit[id] = 1;
}

/* hg_says_no - header rule r's group database (compile.c
 * hdr_groups_build) finds no match of r in t, the text r reads: the
 * group's text is scanned once per message, the first time one of its
 * rules asks; false when it cannot tell (no scratch: outside exec) */
static bool
hg_says_no(struct rule_ctx *c, const struct rule *r, struct bstr t)
{
	const struct rule_set *rs = c->rs;
	uint32_t g = r->hgroup;

	if (g == 0 || g > rs->nhg || c->hss == NULL || rs->no_prefilter)
		return false;
	if (c->hg_state == NULL &&
	    ((c->hg_state = arena_calloc(c->arena, rs->nhg + 1, 1)) == NULL ||
		(c->hg_hit = arena_calloc(c->arena, rs->n + 1, 1)) == NULL)) {
		c->hg_state = NULL;
		return false;
	}
	if (c->hg_state[g] == 0)
		c->hg_state[g] = rule__hsdb_scan(rs->hg[g - 1], c->hss, t.p,
				     t.len, hg_hit, c) == 0
		    ? 1
		    : 2;
	return c->hg_state[g] == 1 && !c->hg_hit[r - rs->v];
}

/* uri_match - SA's URI list holds each URI as written, unescaped and
 * cleaned up: a rule matching any form of URI i counts once */
static unsigned
uri_match(struct rule_ctx *c, const struct rule *r, const struct msg_uri *u,
    size_t i, unsigned limit)
{
	unsigned k = match_count(c, r, u[i].uri, limit);

	if (k == 0 && !bstr_eq(u[i].raw, u[i].uri))
		k = match_count(c, r, u[i].raw, limit);
	if (k == 0 && c->udec != NULL && c->udec[i].len > 0)
		k = match_count(c, r, c->udec[i], limit);
	return k;
}

static unsigned
run_rule(struct rule_ctx *c, const struct rule *r, struct buf *b)
{
	unsigned limit = rule_limit(r), n = 0;
	size_t nl;

	if (r->evname != NULL)
		return r->ev != NULL ? (unsigned)r->ev->fn(c, r) : 0;
	switch (r->type) {
	case RULE_HEADER: {
		bool unset;
		bool cand = candidate(c->rs, r, c->seen_in[RULE_HEADER]);
		unsigned m;

		if (r->hkind == HDR_EXISTS)
			return pseudo_exists(c, r->hdr);
		if (!cand && !r->neg)
			return 0;
		if (!cand) /* the literal is absent: cannot match */
			return 1;
		/* header rules run sorted by target (compile.c), so the
		 * text of the previous rule is often the one needed */
		if (c->hdr_last == NULL || !rule__same_target(c->hdr_last, r)) {
			buf_reset(b);
			c->hdr_last = NULL;
			if (header_text(c, r, b, &c->hdr_unset) < 0)
				return 0;
			c->hdr_last = r;
		}
		unset = c->hdr_unset;
		if (r->empty_known && b->len == 0 &&
		    !(unset && r->if_unset != NULL))
			m = r->empty_hit; /* the header is absent or empty */
		else if (!(unset && r->if_unset != NULL) &&
		    hg_says_no(c, r, buf_bstr(b)))
			m = 0;
		else
			m = match_count(c, r,
			    unset && r->if_unset != NULL
				? bstr_cstr(r->if_unset)
				: buf_bstr(b),
			    r->neg ? 1 : limit);
		return r->neg ? m == 0 : m;
	}
	case RULE_BODY:
	case RULE_RAWBODY: {
		const struct bstr *l = msg_body_lines(c->msg, &nl);
		/* SA tflags nosubject: the body's first line is the Subject
		 * (msg.c build_body: always there, maybe empty) */
		size_t first = r->type == RULE_BODY &&
		    (r->tflags & TF_NOSUBJECT) ? 1 : 0;
		bool asc;

		if (r->type == RULE_RAWBODY) {
			l = c->raw;
			nl = c->nraw;
		}

		if (hs_says(c, r)) {
			/* only the lines where Hyperscan found the pattern
			 * (or, prefilter mode, may have) */
			for (uint32_t j = hs_texts(c, r); j != 0 && n < limit;
			     j = c->hsm[j - 1].next) {
				size_t i = c->hsm[j - 1].text - 1;

				if (i < nl && i >= first)
					n += match_count(c, r, l[i], limit - n);
			}
			return n;
		}
		if (!candidate(c->rs, r, c->seen_in[r->type]))
			return 0;
		/* an ASCII filter found the ASCII lines where r can match:
		 * PCRE2 (the ASCII form) on those only, no joined-body gate;
		 * an 8-bit body's other lines run the whole pattern, in line
		 * order with the filtered ones (tflags multiple counts) */
		if (r->af_in && c->afdone && r->type == RULE_BODY) {
			uint32_t j = hs_texts(c, r);

			if (c->body_ascii) {
				c->use_ascii = true;
				for (; j != 0 && n < limit;
				     j = c->hsm[j - 1].next) {
					size_t i = c->hsm[j - 1].text - 1;

					if (i < nl && i >= first &&
					    rgate_open(c, r, i, nl, l[i]))
						n += match_count(
						    c, r, l[i], limit - n);
				}
				c->use_ascii = false;
				return n;
			}
			for (size_t i = first; i < nl && n < limit; i++) {
				while (j != 0 && c->hsm[j - 1].text - 1 < i)
					j = c->hsm[j - 1].next;
				c->use_ascii = c->line_ascii[i];
				if (c->use_ascii &&
				    (j == 0 || c->hsm[j - 1].text - 1 != i))
					continue; /* the filter: no match */
				if (rgate_open(c, r, i, nl, l[i]))
					n += match_count(c, r, l[i], limit - n);
			}
			c->use_ascii = false;
			return n;
		}
		/* a repeat gate replaces the joined-body one: that one runs
		 * the whole pattern over every line, which is the cost the
		 * per-line counts save (both only skip what cannot match) */
		if (r->gate && r->type == RULE_BODY && !c->rs->no_prefilter &&
		    r->rgate == 0 && !gate_open(c, r))
			return 0;
		/* an ASCII line: the smaller ASCII form of the pattern */
		asc = r->type == RULE_BODY && c->line_ascii != NULL &&
		    !c->rs->no_prefilter;
		for (size_t i = first; i < nl && n < limit; i++) {
			c->use_ascii = asc && c->line_ascii[i];
			if (rgate_open(c, r, i, nl, l[i]))
				n += match_count(c, r, l[i], limit - n);
		}
		c->use_ascii = false;
		return n;
	}
	case RULE_URI: {
		const struct msg_uri *u = msg_uris(c->msg, &nl);

		if (hs_says(c, r)) {
			for (uint32_t j = hs_texts(c, r); j != 0 && n < limit;
			     j = c->hsm[j - 1].next) {
				size_t i = c->hsm[j - 1].text - 1;

				if (i < nl)
					n += uri_match(c, r, u, i, limit - n);
			}
			return n;
		}
		if (!candidate(c->rs, r, c->seen_in[RULE_URI]))
			return 0;
		for (size_t i = 0; i < nl && n < limit; i++)
			n += uri_match(c, r, u, i, limit - n);
		return n;
	}
	case RULE_FULL:
		if (hs_says(c, r) ? hs_texts(c, r) == 0
				  : !candidate(c->rs, r, c->seen_in[RULE_FULL]))
			return 0;
		return match_count(c, r, msg_full(c->msg), limit);
	case RULE_MIMEHEADER: {
		size_t np = msg_part_count(c->msg);

		c->hdr_last = NULL; /* b is reused below */
		if (c->mh_lc == NULL)
			mh_lowered(c, np);
		for (size_t i = 0; i < np; i++) {
			if (c->mh_lc != NULL && r->mh_key != NULL &&
			    memmem(c->mh_lc[i].p, c->mh_lc[i].len, r->mh_key,
				strlen(r->mh_key)) == NULL)
				continue;
			if ((n = mime_header_match(
				 c, r, msg_part_at(c->msg, i), b)) > 0)
				return n;
		}
		return 0;
	}
	default:
		return 0;
	}
}

/* run_template - SA capture_rules_replace: each %{NAME} becomes
 * (?:v1|v2..) of the tag's values, quoted; without values the rule does
 * not run. The pattern is compiled for this message only. */
/* tmpl_value_in - some value of tag name occurs in s */
static bool
tmpl_value_in(const struct rule_ctx *c, const char *name, struct bstr s,
    bool nocase)
{
	for (size_t k = 0; k < c->ntags; k++) {
		struct bstr v = c->tags[k].val;

		if (strcmp(c->tags[k].name, name) != 0 || v.len == 0)
			continue;
		if ((nocase ? bstr_casefind(s, v) : bstr_find(s, v)) >= 0)
			return true;
	}
	return false;
}

/* tmpl_uri_has - some value of tag name occurs in some form of URI i
 * (as written, raw, percent-decoded: the texts uri_match reads) */
static bool
tmpl_uri_has(const struct rule_ctx *c, const char *name,
    const struct msg_uri *u, size_t i, bool nocase)
{
	return tmpl_value_in(c, name, u[i].uri, nocase) ||
	    tmpl_value_in(c, name, u[i].raw, nocase) ||
	    (c->udec != NULL && tmpl_value_in(c, name, c->udec[i], nocase));
}

/* tmpl_possible_1 - tmpl_possible's answer, worked out */
static bool
tmpl_possible_1(struct rule_ctx *c, const struct rule *r, bool nc)
{
	size_t n;

	switch (r->type) {
	case RULE_URI: {
		const struct msg_uri *u = msg_uris(c->msg, &n);

		for (size_t i = 0; i < n; i++)
			if (tmpl_uri_has(c, r->tmpl_name, u, i, nc))
				return true;
		return false;
	}
	case RULE_BODY:
		return tmpl_value_in(c, r->tmpl_name, c->body, nc);
	case RULE_RAWBODY:
		for (size_t i = 0; i < c->nraw; i++)
			if (tmpl_value_in(c, r->tmpl_name, c->raw[i], nc))
				return true;
		return false;
	case RULE_FULL:
		return tmpl_value_in(c, r->tmpl_name, msg_full(c->msg), nc);
	default:
		return true;
	}
}

/* tmpl_possible - false when the rule's required tag value occurs in no
 * text it reads (compile.c tmpl_scan): the per-message compile and scan
 * are then skipped. Header templates are not checked. */
static bool
tmpl_possible(struct rule_ctx *c, const struct rule *r)
{
	bool nc = (r->tmpl_opts & PCRE2_CASELESS) != 0, yes;
	struct rule_tmplq *q;

	if (!r->tmpl_required || c->rs->no_prefilter)
		return true;
	/* the answer depends on the tag's values, the type's texts and the
	 * case: asked again by another rule, it is known (tags may only
	 * grow, so their count tells whether it still holds) */
	for (size_t i = 0; i < c->ntmplq; i++) {
		q = &c->tmplq[i];
		if (q->type == (uint8_t)r->type && q->nocase == nc &&
		    q->ntags == c->ntags && strcmp(q->name, r->tmpl_name) == 0)
			return q->yes;
	}
	yes = tmpl_possible_1(c, r, nc);
	q = &c->tmplq[c->ntmplq < 8 ? c->ntmplq++ : 7];
	*q = (struct rule_tmplq){ r->tmpl_name, c->ntags, (uint8_t)r->type,
		nc, yes };
	return yes;
}

/* tmpl_uris - a URI rule whose match holds a value of tag name (its
 * tmpl_required) on the URIs with that value in some form only: mail
 * lists and unsubscribe links put the recipient's address in a few of
 * many URIs, and the per-message pattern is not JIT-compiled */
static unsigned
tmpl_uris(struct rule_ctx *c, const struct rule *r, const char *name)
{
	bool nc = (r->tmpl_opts & PCRE2_CASELESS) != 0;
	unsigned limit = rule_limit(r), n = 0;
	size_t nu;
	const struct msg_uri *u = msg_uris(c->msg, &nu);

	for (size_t i = 0; i < nu && n < limit; i++)
		if (tmpl_uri_has(c, name, u, i, nc))
			n += uri_match(c, r, u, i, limit - n);
	return n;
}

static unsigned
run_template(struct rule_ctx *c, const struct rule *r, struct buf *b)
{
	struct buf pat;
	const char *p = r->tmpl;
	struct rule tmp;
	pcre2_code *re;
	int ec;
	PCRE2_SIZE eo;
	unsigned n;

	if (!tmpl_possible(c, r))
		return 0;
	buf_init(&pat, 1u << 20);
	while (*p != '\0') {
		const char *e;
		size_t nl;
		bool any = false;

		if (p[0] == '\\' && p[1] != '\0') {
			if (buf_append(&pat, p, 2) < 0)
				goto fail;
			p += 2;
			continue;
		}
		if (p[0] != '%' || p[1] != '{' ||
		    (e = strchr(p, '}')) == NULL) {
			if (buf_putc(&pat, *p++) < 0)
				goto fail;
			continue;
		}
		nl = (size_t)(e - p - 2);
		if (buf_puts(&pat, "(?:") < 0)
			goto fail;
		for (size_t k = 0; k < c->ntags; k++) {
			struct bstr v = c->tags[k].val;

			if (strlen(c->tags[k].name) != nl ||
			    strncmp(c->tags[k].name, p + 2, nl) != 0)
				continue;
			if (any && buf_putc(&pat, '|') < 0)
				goto fail;
			any = true;
			for (size_t j = 0; j < v.len; j++) /* quotemeta */
				if ((isalnum(v.p[j]) || v.p[j] == '_'
					    ? buf_putc(&pat, v.p[j])
					    : buf_printf(&pat, "\\x{%02x}",
						  v.p[j])) < 0)
					goto fail;
		}
		if (!any) { /* SA: dependent tag not defined, rule not run */
			buf_free(&pat);
			return 0;
		}
		if (buf_putc(&pat, ')') < 0)
			goto fail;
		p = e + 1;
	}
	re = pcre2_compile(pat.p, pat.len, r->tmpl_opts, &ec, &eo, NULL);
	buf_free(&pat);
	if (re == NULL)
		return 0;
	tmp = *r;
	tmp.re = re;
	tmp.nmore = 0;
	tmp.tmpl = NULL;
	tmp.gate = false;
	tmp.always = true;
	if (r->type == RULE_URI && r->tmpl_required && !c->rs->no_prefilter)
		n = tmpl_uris(c, &tmp, r->tmpl_name);
	else
		n = run_rule(c, &tmp, b);
	pcre2_code_free(re);
	return n;
fail:
	buf_free(&pat);
	return 0;
}

static double
rule_score(const struct rule_set *rs, const struct rule *r)
{
	double def;

	if (r->has_score)
		return r->score[rs->scoreset];
	if (strncmp(r->name, "__", 2) == 0)
		return 0;
	/* SA Conf/Parser.pm fix_tests: 1.0, T_ rules 0.01, negated for
	 * tflags nice */
	def = strncmp(r->name, "T_", 2) == 0 ? 0.01 : 1.0;
	return (r->tflags & TF_NICE) ? -def : def;
}

static int
add_hit(struct rule_ctx *c, const struct rule *r, uint32_t count)
{
	double sc = rule_score(c->rs, r);
	struct hit *h;

	if (sc == 0 || strncmp(r->name, "__", 2) == 0)
		return 0;
	if (hits_add_score(c->hits, r->name, sc, NULL) < 0)
		return -ENOMEM;
	if ((h = hits_get(c->hits, r->name)) != NULL)
		h->count = count;
	return 0;
}

/* rule_run_exec - every non-meta rule */
/* Profiling (rule_set_profile): time around each rule and each stage,
 * from the monotonic clock (vDSO: ~20 ns a read, where the thread CPU
 * clock is a system call that would be most of a cheap rule's figure).
 * The rule set is otherwise read-only; profiling is for one thread on an
 * otherwise idle process (bench, filterctl), never the daemon's workers. */
static uint64_t
prof_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
prof_add(const struct rule_set *rs, size_t slot, uint64_t *t0)
{
	uint64_t t = prof_now();

	((struct rule_set *)rs)->prof_stage_ns[slot] += t - *t0;
	*t0 = t;
}

/* prof_rule - the time since *t0 goes to rule k and stage t */
static void
prof_rule(const struct rule_set *rs, uint32_t k, size_t t, uint64_t *t0)
{
	uint64_t t1 = prof_now();

	rs->prof_ns[k] += t1 - *t0;
	rs->prof_runs[k]++;
	((struct rule_set *)rs)->prof_stage_ns[t] += t1 - *t0;
	*t0 = t1;
}

void
rule_set_profile(struct rule_set *rs, bool on)
{
	free(rs->prof_ns);
	free(rs->prof_runs);
	rs->prof_ns = NULL;
	rs->prof_runs = NULL;
	memset(rs->prof_stage_ns, 0, sizeof(rs->prof_stage_ns));
	if (on) {
		rs->prof_ns = calloc(rs->n + 1, sizeof(*rs->prof_ns));
		rs->prof_runs = calloc(rs->n + 1, sizeof(*rs->prof_runs));
		if (rs->prof_ns == NULL || rs->prof_runs == NULL)
			rule_set_profile(rs, false);
	}
}

static int
prof_cmp(const void *a, const void *b, void *arg)
{
	const struct rule_set *rs = arg;
	uint64_t x = rs->prof_ns[*(const uint32_t *)a];
	uint64_t y = rs->prof_ns[*(const uint32_t *)b];

	return x < y ? 1 : x > y ? -1 : 0;
}

void
rule_set_profile_print(const struct rule_set *rs, void *file, size_t n)
{
	static const char *const stage[RULE_NTYPES + 1] = { "header", "body",
		"rawbody", "uri", "full", "mimeheader", "meta+scores",
		"texts+prefilter" };
	FILE *f = file;
	uint32_t *ix;
	uint64_t total = 0;

	if (rs->prof_ns == NULL || (ix = malloc(rs->n * sizeof(*ix))) == NULL)
		return;
	for (size_t i = 0; i <= RULE_NTYPES; i++)
		total += rs->prof_stage_ns[i];
	fprintf(f, "profile: %.1f ms in all\n", total / 1e6);
	for (size_t i = 0; i <= RULE_NTYPES; i++)
		fprintf(f, "  %-16s %9.1f ms %5.1f%%\n", stage[i],
		    rs->prof_stage_ns[i] / 1e6,
		    total ? 100.0 * rs->prof_stage_ns[i] / total : 0);
	for (size_t i = 0; i < rs->n; i++)
		ix[i] = (uint32_t)i;
	qsort_r(ix, rs->n, sizeof(*ix), prof_cmp, (void *)rs);
	for (size_t i = 0; i < n && i < rs->n; i++) {
		const struct rule *r = &rs->v[ix[i]];

		if (rs->prof_ns[ix[i]] == 0)
			break;
		fprintf(f, "  %8.2f ms %5.1f%% %7u runs  %-10s %s%s%s\n",
		    rs->prof_ns[ix[i]] / 1e6,
		    total ? 100.0 * rs->prof_ns[ix[i]] / total : 0,
		    rs->prof_runs[ix[i]], stage[r->type], r->name,
		    r->in_hs ? " [hs]" : "",
		    r->nlits ? " [lit]" : "");
	}
	free(ix);
}

/* unreported - rule k cannot match, known from its flag byte (compile.c
 * exec_lists) without a read of its struct rule: its type's Hyperscan
 * scan, or its header group's, did not report it this message */
static bool
unreported(const struct rule_ctx *c, uint32_t k)
{
	const struct rule_set *rs = c->rs;
	uint8_t f = rs->xflag[k];

	if (rs->no_prefilter)
		return false;
	if (f & RULE__XF_HS)
		return c->hsdone[RULE__XF_TYPE(f)] && c->hshead[k] == 0;
	return (f & RULE__XF_HG) && c->hg_state != NULL &&
	    c->hg_state[rs->xgroup[k]] == 1 && !c->hg_hit[k];
}

int
rule_run_exec(struct rule_run *run, struct hits *hits)
{
	struct rule_ctx *c = &run->c;
	const struct rule_set *rs = c->rs;
	struct buf b;
	int rc = 0;
	uint64_t t0 = rs->prof_ns != NULL ? prof_now() : 0;

	c->hits = hits;
	buf_init(&b, 4u << 20);
	/* one scratch space per message in flight; back to the pool at the
	 * end of exec, since the rule set may go before the message */
	if (rs->hspool != NULL && !rs->no_prefilter &&
	    (c->hshead = arena_calloc(c->arena, rs->n + 1,
		 sizeof(*c->hshead))) != NULL &&
	    (c->hstail = arena_calloc(c->arena, rs->n + 1,
		 sizeof(*c->hstail))) != NULL)
		c->hss = rule__hspool_get(rs->hspool);
	for (int t = 0; t < RULE_META; t++) {
		if (rs->norder[t] == 0)
			continue;
		if (t == RULE_RAWBODY && (rc = build_rawbody(c)) < 0)
			goto out;
		if (t == RULE_BODY && (rc = build_body(c)) < 0)
			goto out;
		if (t == RULE_URI && (rc = build_uri_forms(c)) < 0)
			goto out;
		scan_texts(run, (enum rule_type)t);
		hs_scan_type(run, (enum rule_type)t);
		if (t == RULE_BODY)
			af_scan(c);
		if (t == RULE_BODY || t == RULE_RAWBODY)
			rgate_hs_fill(c, (enum rule_type)t);
		if (t0 != 0)
			prof_add(rs, RULE_NTYPES, &t0);
		for (size_t i = 0; i < rs->nxo[t]; i++) {
			uint32_t k = rs->xo[t][i];

			/* the flags answer most rules without a read of
			 * their struct rule: a lazy one waits for a meta */
			if (((rs->xflag[k] & RULE__XF_LAZY) && c->lazy_on) ||
			    unreported(c, k))
				continue;
			c->counts[k] = run_rule(c, &rs->v[k], &b);
			if (t0 != 0)
				prof_rule(rs, k, (size_t)t, &t0);
			if (c->counts[k] > 0 &&
			    (rc = add_hit(c, &rs->v[k], c->counts[k])) < 0)
				goto out;
		}
	}
	/* template rules last, when every capture tag is known */
	for (size_t i = 0; i < rs->nxtmpl; i++) {
		uint32_t k = rs->xtmpl[i];
		const struct rule *r = &rs->v[k];

		c->hdr_last = NULL;
		c->counts[k] = run_template(c, r, &b);
		if (t0 != 0)
			prof_rule(rs, k, (size_t)r->type, &t0);
		if (c->counts[k] > 0 && (rc = add_hit(c, r, c->counts[k])) < 0)
			goto out;
	}
	c->execd = true;
out:
	rule__hspool_put(rs->hspool, c->hss);
	c->hss = NULL;
	buf_free(&b);
	return rc;
}

static double meta_value(struct rule_ctx *c, uint32_t k);

/* lazy_count - a lazy rule's count (compile.c mark_lazy), computed the
 * first time a meta asks; marked done first, so a cycle reads 0 */
static uint32_t
lazy_count(struct rule_ctx *c, uint32_t k)
{
	const struct rule_set *rs = c->rs;
	const struct rule__mplan *pl = rs->mplan;
	const struct rule *r;
	uint64_t t0;

	if (c->lazy_done[k])
		return c->counts[k];
	c->lazy_done[k] = 1;
	/* a meta of the compact program: no struct rule to read */
	if (pl != NULL && pl->at[k] < RULE__MPLAN_SLOW)
		return c->counts[k] =
			   rule__mplan_run(pl, pl->at[k], &c->mvals) != 0;
	if (unreported(c, k)) {
		if (rs->prof_ns != NULL)
			rs->prof_runs[k]++; /* asked for, answered */
		return c->counts[k] = 0;
	}
	r = &rs->v[k];
	t0 = rs->prof_ns != NULL ? prof_now() : 0;
	if (r->type == RULE_META) {
		c->counts[k] = meta_value(c, k) != 0;
	} else {
		struct buf b;

		buf_init(&b, 4u << 20);
		c->counts[k] = run_rule(c, r, &b);
		buf_free(&b);
		if (t0 != 0) {
			rs->prof_ns[k] += prof_now() - t0;
			rs->prof_runs[k]++;
		}
	}
	return c->counts[k];
}

static double
meta_value_id(void *arg, int32_t k, const char *name)
{
	struct rule_ctx *c = arg;
	struct hit *h;

	/* a rule defined here whose eval this engine lacks (SA's
	 * eval:check_for_spf_pass() ...) is another module's: its hit */
	if (k >= 0 && c->rs->v[k].defined && !c->rs->v[k].claimed &&
	    (c->rs->v[k].evname == NULL || c->rs->v[k].ev != NULL)) {
		if (c->rs->v[k].lazy && c->lazy_on && c->execd)
			return lazy_count(c, (uint32_t)k);
		return c->counts[k];
	}
	/* a rule another module evaluates (DNS, auth, Bayes): its hit */
	h = hits_get(c->hits, name);
	return h != NULL ? (h->count ? h->count : 1) : 0;
}

/* meta_leaf_slow - the leaves of rs->mplan that counts[] does not answer:
 * a lazy rule not computed yet, another module's hit (looked up once per
 * finish: only rules/ adds hits while metas run, and never those names) */
static double
meta_leaf_slow(void *arg, enum rule__mleaf kind, uint32_t x)
{
	struct rule_ctx *c = arg;
	const char *name;
	struct hit *h;

	if (kind == RULE__MLEAF_LAZY)
		return c->lazy_on && c->execd ? lazy_count(c, x)
					      : c->counts[x];
	if (c->hitv != NULL && c->hitv[x] >= 0)
		return c->hitv[x];
	name = c->rs->mplan->hit_names[x];
	h = hits_get(c->hits, name);
	if (c->hitv == NULL)
		return h != NULL ? (h->count ? h->count : 1) : 0;
	return c->hitv[x] = h != NULL ? (h->count ? h->count : 1) : 0;
}

/* meta_value - the value of meta k */
static double
meta_value(struct rule_ctx *c, uint32_t k)
{
	const struct rule__mplan *pl = c->rs->mplan;
	uint32_t at = pl != NULL ? pl->at[k] : RULE__MPLAN_SLOW;

	if (at >= RULE__MPLAN_SLOW)
		return rule__meta_run_lazy(c->rs->v[k].meta, meta_value_id, c);
	return rule__mplan_run(pl, at, &c->mvals);
}

/* finish_meta - run meta k, add its hit */
static int
finish_meta(struct rule_ctx *c, uint32_t k)
{
	double v = meta_value(c, k);

	c->counts[k] = v != 0;
	return v != 0 ? add_hit(c, &c->rs->v[k], 1) : 0;
}

/* finish_metas - every meta not left to laziness, dependencies first */
static int
finish_metas(struct rule_ctx *c)
{
	const struct rule_set *rs = c->rs;
	const struct rule__mplan *pl = rs->mplan;
	bool skip_lazy = c->lazy_on && c->execd;

	if (pl == NULL) {
		for (size_t i = 0; i < rs->nmeta; i++) {
			uint32_t k = rs->meta_order[i];
			const struct rule *r = &rs->v[k];

			if (r->broken || r->meta == NULL ||
			    (r->lazy && skip_lazy))
				continue;
			if (finish_meta(c, k) < 0)
				return -ENOMEM;
		}
		return 0;
	}
	if (pl->nhits > 0 && c->hitv == NULL &&
	    (c->hitv = arena_alloc(c->arena, pl->nhits * sizeof(double))) ==
		NULL)
		return -ENOMEM;
	for (size_t j = 0; j < pl->nhits; j++)
		c->hitv[j] = -1;
	for (size_t i = 0; i < pl->nsteps; i++) {
		const struct rule__mstep *st = &pl->steps[i];

		if (st->lazy && skip_lazy)
			continue;
		if (finish_meta(c, st->k) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* rule_run_finish - metas in dependency order, then scores */
int
rule_run_finish(struct rule_run *run, struct hits *hits)
{
	struct rule_ctx *c = &run->c;
	const struct rule_set *rs = c->rs;
	uint64_t t0 = rs->prof_ns != NULL ? prof_now() : 0;
	int rc = 0;

	c->hits = hits;
	rc = finish_metas(c);
	c->hitv = NULL; /* hits may change once finish returns */
	/* hits from other modules get their score from the rule files */
	for (size_t i = 0, n = hits_count(hits); i < n; i++) {
		struct hit *h = hits_at(hits, i);
		long k;

		if ((k = rule__find(rs, h->name, strlen(h->name))) < 0)
			continue;
		/* a score line wins over the module's built-in score */
		if (h->has_score && !rs->v[k].has_score)
			continue;
		h->score = rule_score(rs, &rs->v[k]);
		h->has_score = true;
	}
	if (t0 != 0)
		prof_add(rs, RULE_META, &t0);
	return rc;
}

const char *
rule_run_fired_at(const struct rule_run *run, size_t i, unsigned *count)
{
	const struct rule_set *rs = run->c.rs;

	/* a listing shows every rule: the lazy ones no meta asked for are
	 * computed now (per-message state, so the cast is this run's own) */
	if (i == 0 && run->c.lazy_on && run->c.execd && run->c.hits != NULL)
		for (size_t k = 0; k < rs->n; k++)
			if (rs->v[k].lazy && !run->c.lazy_done[k])
				(void)lazy_count(
				    (struct rule_ctx *)&run->c, (uint32_t)k);

	for (size_t k = 0; k < rs->n; k++) {
		if (run->c.counts[k] == 0 || i-- > 0)
			continue;
		*count = run->c.counts[k];
		return rs->v[k].name;
	}
	return NULL;
}

/* rule_set_check - exec and finish for callers without async work */
int
rule_set_check(const struct rule_set *rs, struct msg *msg, struct hits *hits)
{
	struct rule_run *run = rule_run_new(rs, msg);
	int rc;

	if (run == NULL)
		return -ENOMEM;
	if ((rc = rule_run_exec(run, hits)) < 0)
		return rc;
	return rule_run_finish(run, hits);
}
