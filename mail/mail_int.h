/*
 * mail/mail_int.h - private to mail/: the message struct and the helpers
 * the mail/ modules share (prefix msg__). Readers outside mail/ use msg.h.
 */
#ifndef MAIL_MAIL_INT_H
#define MAIL_MAIL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mail/msg.h"
#include "util/arena.h"
#include "util/buf.h"

#define MSG__MAX_BODY_LINE 2048 /* SA MAX_BODY_LINE_LENGTH */

/* A growable arena array of elements of size sz. */
struct msg__vec {
	void *v;
	size_t n, cap;
};

struct msg__addrcache {
	struct msg__addrcache *next;
	char name[32];
	struct msg_addr *v;
	size_t n;
};

struct msg__iconv;

struct msg {
	struct arena *a;
	const unsigned char *raw;
	size_t len;
	struct msg_opts o;
	unsigned flags;
	struct bstr hblock, body;

	struct msg_header *hdrs;
	size_t nhdrs;

	struct msg__vec parts;  /* struct msg_part */

	struct bstr *body_lines, *raw_lines;
	size_t nbody, nraw;
	struct bstr body_text, raw_text;

	struct msg__vec uris;   /* struct msg_uri */
	struct msg__vec urih;   /* uint64_t hash per URI, for dedup */
	uint32_t *uri_ht;       /* hash index over urih (uri.c) */
	size_t uri_cap, uri_nidx;
	struct bstr *hosts;
	size_t nhosts;
	struct msg_html html;
	struct msg__vec html_parts; /* struct msg_html_part */

	struct msg_relay *relays, *untrusted;
	size_t nrelays, nuntrusted;
	const struct msg_relay *last_external;

	struct msg__addrcache *addrs;
	struct msg__iconv *iconvs;  /* per-message iconv handle cache */

	/* SA's MIME tree (mime.c msg_sa_parts), built on first use */
	struct msg__vec sa_parts; /* struct msg_sa_part */
	unsigned sa_flags;
	bool sa_done;
};

/* vec.c-ish helper in msg.c: pointer to a new zeroed element or NULL */
void *msg__vec_push(struct arena *, struct msg__vec *, size_t sz);

/* header.c: parse a header block into fields; *end gets the offset of the
 * body (after the blank line) within blk. */
int msg__headers_parse(struct msg *, struct bstr blk, size_t base_off,
    struct msg_header **out, size_t *n, size_t *body_off, unsigned *flags);
const struct msg_header *msg__hdr_find(const struct msg_header *, size_t n,
    const char *name, size_t nth);
/* unfold a raw value into the arena (or a slice of it when unfolded) */
struct bstr msg__unfold(struct arena *, struct bstr raw);

/* rfc2047.c */
struct bstr msg__rfc2047(struct arena *, struct msg__iconv **,
    struct bstr value, unsigned *flags);

/* charset.c: convert bytes in charset cs to UTF-8; returns a slice of in
 * when no conversion is needed. */
struct bstr msg__to_utf8(struct arena *, struct msg__iconv **,
    struct bstr cs, struct bstr in, unsigned *flags);
bool msg__utf8_valid(const unsigned char *, size_t);
/* append the UTF-8 encoding of cp to b (arena-free, bounded by b) */
size_t msg__utf8_put(unsigned char *out, uint32_t cp);

/* decode.c */
size_t msg__b64_decode(const unsigned char *in, size_t len,
    unsigned char *out, unsigned *flags);
size_t msg__qp_decode(const unsigned char *in, size_t len,
    unsigned char *out, unsigned *flags, bool header);

/* mime.c */
int msg__mime_parse(struct msg *);
/* Content-Type style parameter (RFC 2045 5.1, RFC 2231), decoded */
struct bstr msg__param(struct msg *, struct bstr value, const char *name);

/* html.c: render src (UTF-8) into a new arena string, collect facts into
 * msg->html and URIs via msg__uri_add; for part >= 0 also SA's per-part
 * results (msg_html_parts), length being SA's length of the source */
struct bstr msg__html_render(struct msg *, struct bstr src,
    struct bstr part_charset, int part, size_t length);

/* uri.c */
/* returns the index of the URI, or -1 when not kept */
long msg__uri_add(struct msg *, struct bstr raw, unsigned flags);
void msg__uri_text(struct msg *, struct bstr text);
int msg__uri_finish(struct msg *);
bool msg__tld_valid(struct bstr label);
/* the host of an URI-ish string, lowercased, into the arena */
struct bstr msg__uri_host_of(struct msg *, struct bstr s);

/* received.c */
int msg__received_parse(struct msg *);

/* lowercase ASCII */
static inline unsigned char
msg__lc(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

struct bstr msg__lower_dup(struct arena *, struct bstr);

/* ASCII lowercase as a table (msg.c), for the compare loops */
extern const unsigned char msg__lc_tab[256];

/* msg__caseeq - bstr_caseeq inline: equal ignoring ASCII case */
static inline bool
msg__caseeq(struct bstr a, struct bstr b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (msg__lc_tab[a.p[i]] != msg__lc_tab[b.p[i]])
			return false;
	return true;
}

/* Case-insensitive compare / prefix / find with a string literal: the
 * length is known at compile time, no strlen per call. */
#define MSG__IEQ(b, lit) \
	((b).len == sizeof(lit) - 1 && msg__caseeq((b), BSTR_LIT(lit)))
#define MSG__ISTARTS(b, lit) \
	((b).len >= sizeof(lit) - 1 && \
	    msg__caseeq(bstr_make((b).p, sizeof(lit) - 1), BSTR_LIT(lit)))
long msg__ifind(struct bstr hay, struct bstr needle);
#define MSG__IFIND(b, lit) msg__ifind((b), BSTR_LIT(lit))
/* msg__find - case-sensitive bstr_find without memmem's per-call setup:
 * memchr for the first byte, then memcmp (needles here are short) */
long msg__find(struct bstr hay, struct bstr needle);
#define MSG__FIND(b, lit) msg__find((b), BSTR_LIT(lit))
/* msg__ascii_prefix - length of the leading 7-bit run of p[0..len),
 * eight bytes at a time */
size_t msg__ascii_prefix(const unsigned char *p, size_t len);

#endif
