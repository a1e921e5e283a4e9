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

static size_t
put_literal(struct arena *a, struct msg__iconv **ic, unsigned char *o,
    struct bstr lit, unsigned *flags)
{
	struct bstr u = lit;

	if (has_8bit(lit)) {
		*flags |= MSG_ERR_8BIT_HDR;
		u = msg__to_utf8(a, ic, BSTR_NULL, lit, flags);
	}
	memcpy(o, u.p, u.len);
	return u.len;
}

/* msg__rfc2047 - decode encoded-words in value to UTF-8 */
struct bstr
msg__rfc2047(struct arena *a, struct msg__iconv **ic, struct bstr v,
    unsigned *flags)
{
	unsigned char *o, *tmp;
	size_t n = 0, lit = 0, i = 0;
	bool prev_ew = false;

	if (v.len < 8 || !has_ew_start(v)) {
		if (has_8bit(v)) {
			*flags |= MSG_ERR_8BIT_HDR;
			return msg__to_utf8(a, ic, BSTR_NULL, v, flags);
		}
		return v;
	}
	/* Decoded bytes are never longer than the input; UTF-8 of any
	 * charset needs at most 4x (plus windows-1252 3x). */
	if ((o = arena_alloc(a, v.len * 4 + 16)) == NULL ||
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
		if (!(prev_ew && only_ws))
			n += put_literal(a, ic, o + n, gap, flags);
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
		memcpy(o + n, u.p, u.len);
		n += u.len;
		i = lit = j + k;
		prev_ew = true;
	}
	n += put_literal(a, ic, o + n, bstr_make(v.p + lit, v.len - lit),
	    flags);
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
