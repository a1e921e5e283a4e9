/*
 * bayes/token - Bayes tokens: keyed 64-bit hashes of words and facts
 *
 * Words become tokens the way SpamAssassin's Bayes plugin chews text: runs
 * of letters, digits and a few punctuation marks, stripped of leading and
 * trailing quotes, dots and dashes; ASCII lowercased; 3..15 bytes kept, a
 * longer word becomes "sk:" plus its first 7 bytes (TOKENIZE_LONG_TOKENS_
 * AS_SKIPS). Han, kana and hangul have no spaces, so a CJK run becomes its
 * character bigrams (one character alone is a token), as bogofilter and
 * rspamd do. Each token is stored only as SipHash-2-4(key, prefix+word):
 * 64 bits leave a collision chance near n^2/2^65, nothing at our sizes.
 *
 * Memory: the token array is malloc'ed by the set and freed by
 * bayes_tokset_free(). Errors: -ENOMEM sticks in ts->err; further adds are
 * no-ops, so a caller checks once at the end. Limits: BAYES_MAX_TOKENS.
 */
#include "bayes/token.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void
bayes_tokset_init(struct bayes_tokset *ts, const uint8_t key[16])
{
	memset(ts, 0, sizeof(*ts));
	memcpy(ts->key,
	    key != NULL ? key : (const uint8_t *)BAYES_HASHKEY_DEFAULT, 16);
}

void
bayes_tokset_free(struct bayes_tokset *ts)
{
	free(ts->v);
	ts->v = NULL;
	ts->n = ts->cap = 0;
}

void
bayes_tokset_reset(struct bayes_tokset *ts)
{
	ts->n = 0;
	ts->err = 0;
}

/* insertion_sort - sort v[0..n) by insertion; false once more than
 * budget element moves were needed (v is then only partly sorted) */
static bool
insertion_sort(uint64_t *v, size_t n, size_t budget)
{
	size_t moves = 0;

	for (size_t i = 1; i < n; i++) {
		uint64_t x = v[i];
		size_t k = i;

		for (; k > 0 && v[k - 1] > x; k--)
			v[k] = v[k - 1];
		v[k] = x;
		if ((moves += i - k) > budget)
			return false;
	}
	return true;
}

/* bayes_sort_u64 - in-place quicksort (median of three, insertion sort
 * for short runs); qsort()'s callback per comparison was a tenth of the
 * learning time */
void
bayes_sort_u64(uint64_t *v, size_t n)
{
	while (n > 16) {
		uint64_t a = v[0], b = v[n / 2], c = v[n - 1], p, t;
		size_t i = 0, j = n - 1;

		p = a < b ? (b < c ? b : (a < c ? c : a))
			  : (a < c ? a : (b < c ? c : b));
		for (;;) {
			while (v[i] < p)
				i++;
			while (v[j] > p)
				j--;
			if (i >= j)
				break;
			t = v[i];
			v[i++] = v[j];
			v[j--] = t;
		}
		/* recurse into the smaller side, loop on the larger */
		if (j + 1 < n - j - 1) {
			bayes_sort_u64(v, j + 1);
			v += j + 1;
			n -= j + 1;
		} else {
			bayes_sort_u64(v + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	(void)insertion_sort(v, n, SIZE_MAX);
}

/* sort_spread - sort v[0..n) via a counting pass on the top bits: the
 * tokens are SipHash values, uniform over 64 bits, so with as many
 * buckets as tokens each lands within a few places of its final one and
 * an insertion pass finishes, O(n) expected (the quicksort was 7% of
 * learning). Crafted words that crowd the buckets exceed the insertion
 * budget and the quicksort takes over. false: no memory, v untouched. */
static bool
sort_spread(uint64_t *v, size_t n)
{
	unsigned bits = 1;

	while (bits < 20 && ((size_t)1 << bits) < n)
		bits++;
	size_t nb = (size_t)1 << bits;
	uint64_t *tmp = malloc(n * sizeof(*tmp) + nb * sizeof(uint32_t));

	if (tmp == NULL)
		return false;
	uint32_t *cnt = (uint32_t *)(tmp + n);
	memset(cnt, 0, nb * sizeof(*cnt));
	for (size_t i = 0; i < n; i++)
		cnt[v[i] >> (64 - bits)]++;
	for (size_t b = 0, sum = 0; b < nb; b++) {
		uint32_t c = cnt[b];

		cnt[b] = (uint32_t)sum;
		sum += c;
	}
	for (size_t i = 0; i < n; i++)
		tmp[cnt[v[i] >> (64 - bits)]++] = v[i];
	if (!insertion_sort(tmp, n, 8 * n))
		bayes_sort_u64(tmp, n);
	memcpy(v, tmp, n * sizeof(*v));
	free(tmp);
	return true;
}

int
bayes_tokset_finish(struct bayes_tokset *ts)
{
	size_t j = 0;

	if (ts->n > 1) {
		if (ts->n < 64 || !sort_spread(ts->v, ts->n))
			bayes_sort_u64(ts->v, ts->n);
		for (size_t i = 0; i < ts->n; i++)
			if (j == 0 || ts->v[i] != ts->v[j - 1])
				ts->v[j++] = ts->v[i];
		ts->n = j;
	}
	return ts->err;
}

/* SipHash-2-4 (Aumasson, Bernstein 2012), reference algorithm. */
#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                   \
	do {                       \
		v0 += v1;          \
		v1 = ROTL(v1, 13); \
		v1 ^= v0;          \
		v0 = ROTL(v0, 32); \
		v2 += v3;          \
		v3 = ROTL(v3, 16); \
		v3 ^= v2;          \
		v0 += v3;          \
		v3 = ROTL(v3, 21); \
		v3 ^= v0;          \
		v2 += v1;          \
		v1 = ROTL(v1, 17); \
		v1 ^= v2;          \
		v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(&v, p, 8);
#else
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
#endif
	return v;
}

/* bayes_siphash - SipHash-2-4 of p[0..len) under key */
uint64_t
bayes_siphash(const uint8_t key[16], const void *p, size_t len)
{
	const uint8_t *in = p, *end = in + len - (len % 8);
	uint64_t k0 = le64(key), k1 = le64(key + 8), m, b;
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;

	for (; in != end; in += 8) {
		m = le64(in);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	b = (uint64_t)len << 56;
	for (size_t i = 0; i < len % 8; i++)
		b |= (uint64_t)in[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static void
push(struct bayes_tokset *ts, uint64_t h)
{
	if (ts->err != 0 || ts->n >= BAYES_MAX_TOKENS)
		return;
	if (ts->n == ts->cap) {
		size_t ncap = ts->cap ? ts->cap * 2 : 256;
		uint64_t *nv = realloc(ts->v, ncap * sizeof(*nv));

		if (nv == NULL) {
			ts->err = -ENOMEM;
			return;
		}
		ts->v = nv;
		ts->cap = ncap;
	}
	ts->v[ts->n++] = h;
}

/* tok_add - add the token prefix+word, the prefix's length known */
static void
tok_add(struct bayes_tokset *ts, const char *prefix, size_t pl,
    const unsigned char *w, size_t len)
{
	unsigned char tmp[256];

	if (pl > sizeof(tmp))
		pl = sizeof(tmp);
	if (pl + len > sizeof(tmp))
		len = sizeof(tmp) - pl; /* only for header facts; bounded */
	memcpy(tmp, prefix, pl);
	memcpy(tmp + pl, w, len);
	push(ts, bayes_siphash(ts->key, tmp, pl + len));
}

/* bayes_tok_add - add the token prefix+word (bytes as given) */
void
bayes_tok_add(struct bayes_tokset *ts, const char *prefix,
    const unsigned char *w, size_t len)
{
	tok_add(ts, prefix, strlen(prefix), w, len);
}

/* utf8 - decode one code point at p (n bytes left); *adv gets its length.
 * A bad sequence is one byte, returned as 0xDC00+byte (never CJK). */
static uint32_t
utf8(const unsigned char *p, size_t n, size_t *adv)
{
	uint32_t c = p[0];
	size_t need;

	*adv = 1;
	if (c < 0x80)
		return c;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1, c &= 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2, c &= 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3, c &= 0x07;
	else
		return 0xdc00 + p[0];
	if (n < need + 1)
		return 0xdc00 + p[0];
	for (size_t i = 1; i <= need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0xdc00 + p[0];
		c = (c << 6) | (p[i] & 0x3f);
	}
	*adv = need + 1;
	return c;
}

static bool
is_cjk(uint32_t c)
{
	return (c >= 0x3040 && c <= 0x30ff) || /* hiragana, katakana */
	    (c >= 0x3400 && c <= 0x4dbf) ||    /* CJK ext A */
	    (c >= 0x4e00 && c <= 0x9fff) ||    /* CJK unified */
	    (c >= 0xac00 && c <= 0xd7af) ||    /* hangul syllables */
	    (c >= 0xf900 && c <= 0xfaff) ||    /* compatibility */
	    (c >= 0x20000 && c <= 0x2fa1f);
}

/* The ASCII word characters as a 128-bit map (bit c of WORD_LO for
 * c < 64, bit c - 64 of WORD_HI): ! $ ' * , - . 0-9 @ A-Z _ a-z */
#define B(c) ((uint64_t)1 << ((c) & 63))
#define RANGE(a, b) ((B(b) | (B(b) - 1)) & ~(B(a) - 1))
#define WORD_LO                                                        \
	(B('!') | B('$') | B('\'') | B('*') | B(',') | B('-') | B('.') | \
	    RANGE('0', '9'))
#define WORD_HI (B('@') | RANGE('A', 'Z') | B('_') | RANGE('a', 'z'))

static inline bool
ascii_word(unsigned c)
{
	return ((c < 64 ? WORD_LO >> c : WORD_HI >> (c - 64)) & 1) != 0;
}

/* Word characters: SA's tr/-A-Za-z0-9,@*!_'"$.\241-\377//, plus every
 * non-ASCII letter; other non-ASCII punctuation and spaces split. */
bool
bayes_is_word(uint32_t c)
{
	if (c < 0x80)
		return ascii_word(c);
	if (c >= 0x2000 && c <= 0x206f) /* general punctuation */
		return false;
	if (c >= 0x3000 && c <= 0x303f) /* CJK punctuation */
		return false;
	if (c == 0xa0 || c == 0xfeff || (c >= 0xff00 && c <= 0xff0f))
		return false;
	return true;
}

bool
bayes_is_trim(unsigned char c)
{
	return c == '-' || c == '\'' || c == '.' || c == ',' || c == '_';
}

/* add_word - the token(s) of one word; cased: also "C:" + the word as
 * written when it has capitals (body text, see bayes_tok_body) */
static void
add_word(struct bayes_tokset *ts, const char *prefix, size_t pl,
    const unsigned char *w, size_t len, bool cased)
{
	unsigned char low[BAYES_MAX_TOKEN_LEN], alnum[BAYES_MAX_TOKEN_LEN];
	size_t an = 0;
	bool high = false, upper = false;

	while (len > 0 && bayes_is_trim(w[0]))
		w++, len--;
	while (len > 0 && bayes_is_trim(w[len - 1]))
		len--;
	for (size_t i = 0; i < len; i++)
		high |= w[i] >= 0x80;
	/* SA drops short words unless 8-bit: "a", "of", "to" carry nothing */
	if (len < 3 && !(high && len >= 2))
		return;
	if (len > BAYES_MAX_TOKEN_LEN) {
		size_t k = 7;

		/* cut at a UTF-8 boundary so "sk:" tokens stay text */
		while (k > 0 && (w[k] & 0xc0) == 0x80)
			k--;
		for (size_t i = 0; i < k; i++)
			low[i] =
			    (w[i] >= 'A' && w[i] <= 'Z') ? w[i] | 0x20 : w[i];
		char pre[32];

		if (pl > sizeof(pre) - 4)
			pl = sizeof(pre) - 4;
		memcpy(pre, prefix, pl);
		memcpy(pre + pl, "sk:", 3);
		tok_add(ts, pre, pl + 3, low, k);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = w[i];

		upper |= c >= 'A' && c <= 'Z';
		low[i] = (c >= 'A' && c <= 'Z') ? c | 0x20 : c;
		if (c >= 0x80 || (c >= '0' && c <= '9') ||
		    (low[i] >= 'a' && low[i] <= 'z'))
			alnum[an++] = low[i];
	}
	tok_add(ts, prefix, pl, low, len);
	/* DECOMPOSE_BODY_TOKENS: "free!!" and "v.i.a.g.r.a" also count as
	 * the bare word, so obfuscation does not hide it completely */
	if (an != len && an >= 3)
		tok_add(ts, prefix, pl, alnum, an);
	if (cased && upper)
		tok_add(ts, "C:", 2, w, len);
}

/* tok_text - split UTF-8 text into words and add them */
static void
tok_text(struct bayes_tokset *ts, const char *prefix, struct bstr text,
    bool cased)
{
	const unsigned char *p = text.p, *end = text.p + text.len;
	const unsigned char *ws = NULL;	   /* start of current word */
	const unsigned char *cprev = NULL; /* previous CJK char */
	size_t cprevlen = 0, adv, pl = strlen(prefix);
	bool cjk_single = false;

	if (text.len == 0)
		return;
	while (p < end) {
		/* ASCII outside a CJK run: a table lookup, no decoding */
		if (*p < 0x80 && cprev == NULL) {
			if (ascii_word(*p)) {
				if (ws == NULL)
					ws = p;
			} else if (ws != NULL) {
				add_word(ts, prefix, pl, ws, (size_t)(p - ws),
				    cased);
				ws = NULL;
			}
			p++;
			continue;
		}
		uint32_t c = utf8(p, (size_t)(end - p), &adv);

		if (is_cjk(c)) {
			if (ws != NULL) {
				add_word(ts, prefix, pl, ws, (size_t)(p - ws), cased);
				ws = NULL;
			}
			if (cprev != NULL) {
				tok_add(ts, prefix, pl, cprev, cprevlen + adv);
				cjk_single = false;
			} else {
				cjk_single = true;
			}
			cprev = p;
			cprevlen = adv;
			p += adv;
			continue;
		}
		if (cprev != NULL && cjk_single)
			tok_add(ts, prefix, pl, cprev, cprevlen);
		cprev = NULL;
		cjk_single = false;
		if (bayes_is_word(c)) {
			if (ws == NULL)
				ws = p;
		} else if (ws != NULL) {
			add_word(ts, prefix, pl, ws, (size_t)(p - ws), cased);
			ws = NULL;
		}
		p += adv;
	}
	if (ws != NULL)
		add_word(ts, prefix, pl, ws, (size_t)(p - ws), cased);
	if (cprev != NULL && cjk_single)
		tok_add(ts, prefix, pl, cprev, cprevlen);
}

/* bayes_tok_text - split UTF-8 text into words and add them */
void
bayes_tok_text(struct bayes_tokset *ts, const char *prefix, struct bstr text)
{
	tok_text(ts, prefix, text, false);
}

/* bayes_tok_body - body text: the words of bayes_tok_text, and each word
 * with capitals once more as written ("C:FREE", "C:Dear"), as bogofilter
 * keeps case. Capitals are how bulk mail shouts and greets: on the 2002
 * sets (corpus/cv.sh, index split) Bayes p >= 0.5 FP 5 -> 3 of 2750, FN
 * 30 -> 27 of 500 with them; source split FN 54 -> 51, FP 121 -> 120.
 * ~35 more tokens per message (+13 %, before the Received cut) */
void
bayes_tok_body(struct bayes_tokset *ts, struct bstr text)
{
	tok_text(ts, "", text, true);
}

/* bayes_tok_domain - "prefix" + host and each parent domain with at least
 * one dot left (SA _tokenize_mail_addrs: D*a.b.c, D*b.c) */
void
bayes_tok_domain(struct bayes_tokset *ts, const char *prefix, struct bstr host)
{
	unsigned char low[256];
	size_t n = host.len < sizeof(low) ? host.len : sizeof(low);

	for (size_t i = 0; i < n; i++)
		low[i] = (host.p[i] >= 'A' && host.p[i] <= 'Z')
		    ? host.p[i] | 0x20
		    : host.p[i];
	while (n > 0 && low[n - 1] == '.')
		n--;
	if (n == 0)
		return;
	bayes_tok_add(ts, prefix, low, n);
	for (size_t i = 0; i < n; i++) {
		if (low[i] != '.')
			continue;
		const unsigned char *rest = low + i + 1;
		size_t rl = n - i - 1;

		if (memchr(rest, '.', rl) == NULL)
			break;
		bayes_tok_add(ts, prefix, rest, rl);
	}
}
