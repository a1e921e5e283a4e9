/* util/buf.h - byte slices and bounded growable buffers */
#ifndef UTIL_BUF_H
#define UTIL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A read-only slice: message data is bytes, never assume a NUL. */
struct bstr {
	const unsigned char *p;
	size_t len;
};

#define BSTR_NULL ((struct bstr){ NULL, 0 })
#define BSTR_LIT(s) ((struct bstr){ (const unsigned char *)(s), sizeof(s) - 1 })

static inline struct bstr
bstr_make(const void *p, size_t len)
{
	return (struct bstr){ (const unsigned char *)p, len };
}

static inline struct bstr
bstr_cstr(const char *s)
{
	return (struct bstr){ (const unsigned char *)s, s ? strlen(s) : 0 };
}

bool bstr_eq(struct bstr, struct bstr);
/* 64-bit FNV-1a of the bytes, for in-memory hash tables */
uint64_t bstr_hash(struct bstr);
bool bstr_caseeq(struct bstr, struct bstr);
bool bstr_caseeq_cstr(struct bstr, const char *);
bool bstr_casestarts(struct bstr, const char *prefix);
struct bstr bstr_trim(struct bstr);
struct bstr bstr_sub(struct bstr, size_t off, size_t len);
/* Offset of needle in hay, or -1. */
long bstr_find(struct bstr hay, struct bstr needle);
long bstr_casefind(struct bstr hay, struct bstr needle);

/* A growable buffer with a hard cap: appends past max fail with -ENOSPC
 * and leave the buffer as it was. */
struct buf {
	unsigned char *p;
	size_t len, cap, max;
};

void buf_init(struct buf *, size_t max);
int buf_reserve(struct buf *, size_t extra);
int buf_append(struct buf *, const void *, size_t);
int buf_putc(struct buf *, int c);
int buf_puts(struct buf *, const char *);
int buf_printf(struct buf *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *, const char *fmt, va_list);
/* NUL-terminate without counting the NUL in len. */
int buf_cstr(struct buf *);
void buf_reset(struct buf *);
void buf_free(struct buf *);

static inline struct bstr
buf_bstr(const struct buf *b)
{
	return (struct bstr){ b->p, b->len };
}

#endif
