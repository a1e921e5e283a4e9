/*
 * buf - byte slices and bounded growable buffers
 *
 * struct bstr is a borrowed slice; struct buf owns malloc()ed memory that
 * buf_free() releases. Every append is bounded by buf->max: past it the call
 * returns -ENOSPC and the buffer is unchanged, so a sender can never grow
 * one of our buffers past a configured limit.
 */
#include "util/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

static inline int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static inline int
upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 32 : c;
}

uint64_t
bstr_hash(struct bstr s)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < s.len; i++)
		h = (h ^ s.p[i]) * 1099511628211ull;
	return h;
}

bool
bstr_eq(struct bstr a, struct bstr b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool
bstr_caseeq(struct bstr a, struct bstr b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (lower(a.p[i]) != lower(b.p[i]))
			return false;
	return true;
}

bool
bstr_caseeq_cstr(struct bstr a, const char *s)
{
	return bstr_caseeq(a, bstr_cstr(s));
}

bool
bstr_casestarts(struct bstr a, const char *prefix)
{
	size_t n = strlen(prefix);

	return a.len >= n && bstr_caseeq(bstr_make(a.p, n), bstr_cstr(prefix));
}

struct bstr
bstr_trim(struct bstr s)
{
	while (s.len && (s.p[0] == ' ' || s.p[0] == '\t' || s.p[0] == '\r' ||
	    s.p[0] == '\n')) {
		s.p++;
		s.len--;
	}
	while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t' ||
	    s.p[s.len - 1] == '\r' || s.p[s.len - 1] == '\n'))
		s.len--;
	return s;
}

struct bstr
bstr_sub(struct bstr s, size_t off, size_t len)
{
	if (off > s.len)
		off = s.len;
	if (len > s.len - off)
		len = s.len - off;
	return bstr_make(s.p + off, len);
}

long
bstr_find(struct bstr hay, struct bstr needle)
{
	if (needle.len == 0)
		return 0;
	if (needle.len > hay.len)
		return -1;
	const unsigned char *p = memmem(hay.p, hay.len, needle.p, needle.len);
	return p ? (long)(p - hay.p) : -1;
}

/* bstr_casefind - ASCII case-insensitive; a needle with a byte that has
 * no case (the '@' of an address) is found by memchr for that byte */
long
bstr_casefind(struct bstr hay, struct bstr needle)
{
	size_t k = 0;

	if (needle.len == 0)
		return 0;
	if (needle.len > hay.len)
		return -1;
	while (k < needle.len && lower(needle.p[k]) != upper(needle.p[k]))
		k++;
	if (k < needle.len) {
		/* the anchor at needle offset k: match starts are hay
		 * offsets i with hay[i + k] == needle[k] */
		const unsigned char *p = hay.p + k,
				    *end = hay.p + (hay.len - needle.len) + k + 1;

		while (p < end && (p = memchr(p, needle.p[k],
				       (size_t)(end - p))) != NULL) {
			if (bstr_caseeq(
				bstr_make(p - k, needle.len), needle))
				return (long)(p - k - hay.p);
			p++;
		}
		return -1;
	}
	for (size_t i = 0; i + needle.len <= hay.len; i++)
		if (lower(hay.p[i]) == lower(needle.p[0]) &&
		    bstr_caseeq(bstr_make(hay.p + i, needle.len), needle))
			return (long)i;
	return -1;
}

/* buf_init - empty buffer that may grow to max bytes (0: SIZE_MAX / 2) */
void
buf_init(struct buf *b, size_t max)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->max = max ? max : SIZE_MAX / 2;
}

/* buf_reserve - room for extra more bytes plus a NUL; -ENOSPC past max */
int
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, ncap;
	unsigned char *np;

	if (extra > b->max || b->len > b->max - extra)
		return -ENOSPC;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if ((np = realloc(b->p, ncap)) == NULL)
		return -ENOMEM;
	b->p = np;
	b->cap = ncap;
	return 0;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	int rc;

	if ((rc = buf_reserve(b, len)) < 0)
		return rc;
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

int
buf_putc(struct buf *b, int c)
{
	unsigned char ch = (unsigned char)c;

	return buf_append(b, &ch, 1);
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n, rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -EINVAL;
	if ((rc = buf_reserve(b, (size_t)n)) < 0)
		return rc;
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int
buf_cstr(struct buf *b)
{
	int rc;

	if ((rc = buf_reserve(b, 0)) < 0)
		return rc;
	b->p[b->len] = '\0';
	return 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
