/*
 * mail/rfc2047.c - RFC 2047 encoded-words in header values, to UTF-8
 *
 * "=?charset[*lang]?B|Q?text?=" is decoded wherever it appears (real mail
 * puts encoded-words inside words and quoted strings, so we are more
 * lenient than RFC 2047 5). Linear whitespace between two adjacent
 * encoded-words is dropped (RFC 2047 6.2). Text outside encoded-words is
 * kept; 8-bit bytes there are taken as UTF-8 when valid, windows-1252
 * otherwise (MSG_ERR_8BIT_HDR). A value without "=?" and without 8-bit
 * bytes is returned as it is. Output lives in the arena.
 */
#include "mail/mail_int.h"

#include <string.h>

/* Parse one encoded-word at p (which starts "=?"); on success fill the
 * parts and return its length, else 0. */
static size_t
encoded_word(const unsigned char *p, size_t len, struct bstr *cs,
    unsigned char *enc, struct bstr *text)
{
	size_t i = 2, c0 = 2, t0;

	while (i < len && p[i] != '?' && p[i] > ' ' && p[i] < 127)
		i++;
	if (i >= len || p[i] != '?' || i == c0)
		return 0;
	*cs = bstr_make(p + c0, i - c0);
	if (i + 2 >= len || p[i + 2] != '?')
		return 0;
	*enc = msg__lc(p[i + 1]);
	if (*enc != 'b' && *enc != 'q')
		return 0;
	t0 = i + 3;
	for (i = t0; i + 1 < len; i++) {
		if (p[i] == '?' && p[i + 1] == '=') {
			*text = bstr_make(p + t0, i - t0);
			return i + 2;
		}
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
		    p[i] == '\n')
			return 0;
	}
	return 0;
}

static bool
has_8bit(struct bstr s)
{
	return msg__ascii_prefix(s.p, s.len) < s.len;
}

/* whether v holds "=?" anywhere: memchr for the rarer '=' */
static bool
has_ew_start(struct bstr v)
{
	const unsigned char *p = v.p, *end = v.p + v.len;

	while (p + 1 < end &&
	    (p = memchr(p, '=', (size_t)(end - 1 - p))) != NULL) {
		if (p[1] == '?')
			return true;
		p++;
	}
	return false;
}

static struct bstr
literal_utf8(struct arena *a, struct msg__iconv **ic, struct bstr lit,
    unsigned *flags)
{
	if (has_8bit(lit)) {
		*flags |= MSG_ERR_8BIT_HDR;
		return msg__to_utf8(a, ic, BSTR_NULL, lit, flags);
	}
	return lit;
}

/* append u to the output, growing it in the arena: a converter's output
 * has no useful bound (UCS-4 garbage repaired to U+FFFD can be 12 times
 * its input), so the size is never guessed from the input */
static bool
put(struct arena *a, unsigned char **o, size_t *cap, size_t *n,
    struct bstr u)
{
	if (u.len > *cap - *n) {
		size_t ncap = *cap * 2 > *n + u.len ? *cap * 2 : *n + u.len + 64;
		unsigned char *no = arena_alloc(a, ncap);

		if (no == NULL)
			return false;
		memcpy(no, *o, *n);
		*o = no;
		*cap = ncap;
	}
	memcpy(*o + *n, u.p, u.len);
	*n += u.len;
	return true;
}

/* msg__rfc2047 - decode encoded-words in value to UTF-8 */
struct bstr
msg__rfc2047(struct arena *a, struct msg__iconv **ic, struct bstr v,
    unsigned *flags)
{
	unsigned char *o, *tmp;
	size_t n = 0, lit = 0, i = 0, cap;
	bool prev_ew = false;

	if (v.len < 8 || !has_ew_start(v)) {
		if (has_8bit(v)) {
			*flags |= MSG_ERR_8BIT_HDR;
			return msg__to_utf8(a, ic, BSTR_NULL, v, flags);
		}
		return v;
	}
	/* Decoded bytes are never longer than the input (tmp); the UTF-8
	 * output grows as needed (put). */
	cap = v.len * 2 + 16;
	if ((o = arena_alloc(a, cap)) == NULL ||
	    (tmp = arena_alloc(a, v.len + 1)) == NULL)
		return v;
	while (i < v.len) {
		const unsigned char *q = memchr(v.p + i, '=', v.len - i);
		struct bstr cs, text, dec, u;
		unsigned char enc;
		size_t k, j;

		if (q == NULL)
			break;
		j = (size_t)(q - v.p);
		if (j + 1 >= v.len || v.p[j + 1] != '?' ||
		    (k = encoded_word(v.p + j, v.len - j, &cs, &enc,
		    &text)) == 0) {
			i = j + 1;
			continue;
		}
		/* literal text between the previous point and this word */
		struct bstr gap = bstr_make(v.p + lit, j - lit);
		bool only_ws = true;

		for (size_t g = 0; g < gap.len; g++)
			if (gap.p[g] != ' ' && gap.p[g] != '\t' &&
			    gap.p[g] != '\r' && gap.p[g] != '\n')
				only_ws = false;
		if (!(prev_ew && only_ws) &&
		    !put(a, &o, &cap, &n, literal_utf8(a, ic, gap, flags)))
			return v;
		/* RFC 2231 5: charset*language */
		for (size_t c = 0; c < cs.len; c++)
			if (cs.p[c] == '*') {
				cs.len = c;
				break;
			}
		if (enc == 'b')
			dec.len = msg__b64_decode(text.p, text.len, tmp,
			    flags);
		else
			dec.len = msg__qp_decode(text.p, text.len, tmp,
			    flags, true);
		dec.p = tmp;
		u = msg__to_utf8(a, ic, cs, dec, flags);
		if (!put(a, &o, &cap, &n, u))
			return v;
		i = lit = j + k;
		prev_ew = true;
	}
	if (!put(a, &o, &cap, &n, literal_utf8(a, ic,
		bstr_make(v.p + lit, v.len - lit), flags)))
		return v;
	return bstr_make(o, n);
}

/* msg_rfc2047_decode - decode encoded-words to UTF-8 into the arena */
struct bstr
msg_rfc2047_decode(struct arena *a, struct bstr value)
{
	struct msg__iconv *ic = NULL;
	unsigned flags = 0;

	return msg__rfc2047(a, &ic, value, &flags);
}
