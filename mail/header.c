/*
 * mail/header.c - RFC 5322 header fields: split, unfold, look up
 *
 * msg__headers_parse() walks a header block line by line (LF or CRLF; bare
 * CR is data) and records each field as slices of the raw message; only
 * folded values are copied (unfolded) into the message arena. Behaviour on
 * bad input follows SpamAssassin's Mail::SpamAssassin::Message: a leading
 * mbox "From " line is skipped, a line starting "--" ends the header
 * section (a MIME boundary with no blank line before it), and a few lines
 * that are not "name:" fields are skipped before the rest is taken as body.
 * Errors: -ENOMEM only; anomalies become MSG_ERR_* flags.
 */
#include "mail/mail_int.h"

#include <errno.h>
#include <string.h>

#define BAD_LINES_TOLERATED 3

/* RFC 5322 2.2: field name = printable US-ASCII except colon; obsolete
 * syntax (RFC 5322 4.5.2) allows WSP before the colon. Returns the name
 * length (without WSP) or 0. */
static size_t
field_name(const unsigned char *p, size_t len, size_t *colon)
{
	/* printable US-ASCII but ':' */
	static const unsigned char name_ch[256] = {
		[32] =
		0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
	};
	size_t i = 0, n;

	while (i < len && name_ch[p[i]])
		i++;
	if (i == 0)
		return 0;
	n = i;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i >= len || p[i] != ':')
		return 0;
	*colon = i;
	return n;
}

/* msg__unfold - RFC 5322 2.2.3: remove CRLF before WSP; strip leading and
 * trailing whitespace. A value with no line break is returned as a slice. */
struct bstr
msg__unfold(struct arena *a, struct bstr raw)
{
	struct bstr v = bstr_trim(raw);
	unsigned char *o;
	size_t n = 0;

	if (v.len == 0 || memchr(v.p, '\n', v.len) == NULL)
		return v;
	if ((o = arena_alloc(a, v.len)) == NULL)
		return v;
	/* copy the runs between line breaks; a CR right before LF goes
	 * with it, other CRs are data */
	const unsigned char *p = v.p, *end = v.p + v.len, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		size_t k = (size_t)(nl - p);

		if (k && nl[-1] == '\r')
			k--;
		memcpy(o + n, p, k);
		n += k;
		p = nl + 1;
	}
	memcpy(o + n, p, (size_t)(end - p));
	n += (size_t)(end - p);
	return bstr_make(o, n);
}

/* add_field - the field from start to end; nl and colon are what
 * field_name() found on its first line (nl 0: not a field). The name
 * ends at the first byte that is not printable, so the first line
 * decides for the whole field. */
static int
add_field(struct msg *m, struct msg__vec *vec, const unsigned char *start,
    const unsigned char *end, size_t nl, size_t colon, size_t base_off,
    const unsigned char *blk0)
{
	struct msg_header *h;
	struct bstr raw;

	/* Drop the final line ending of the field. */
	if (end > start && end[-1] == '\n')
		end--;
	if (end > start && end[-1] == '\r')
		end--;
	if (nl == 0)
		return 0; /* not a field: SA skips it */
	if ((h = msg__vec_push(m->a, vec, sizeof(*h))) == NULL)
		return -ENOMEM;
	h->name = bstr_make(start, nl);
	raw = bstr_make(start + colon + 1, (size_t)(end - start) - colon - 1);
	h->raw = raw;
	h->value = msg__unfold(m->a, raw);
	h->decoded = msg__rfc2047(m->a, &m->iconvs, h->value, &m->flags);
	h->offset = base_off + (size_t)(start - blk0);
	return 0;
}

/* msg__headers_parse - split blk into fields. blk may run past the header
 * section; *body_off receives where the body starts within blk. */
int
msg__headers_parse(struct msg *m, struct bstr blk, size_t base_off,
    struct msg_header **out, size_t *n, size_t *body_off, unsigned *flags)
{
	const unsigned char *p = blk.p, *end = blk.p + blk.len;
	const unsigned char *fstart = NULL;
	size_t fname = 0, fcolon = 0; /* field_name() of fstart's line */
	struct msg__vec vec = { 0 };
	size_t cap = m->o.max_header_bytes;
	int bad = 0, rc;
	bool first = true;

	*body_off = blk.len;
	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		const unsigned char *next = nl ? nl + 1 : end;
		size_t llen = (size_t)(next - p);
		size_t colon = 0;

		if ((size_t)(p - blk.p) >= cap) {
			/* Over the cap: keep what we have, find the body. */
			*flags |= MSG_ERR_HDR_TRUNC;
			if (fstart && (rc = add_field(m, &vec, fstart, p,
			    fname, fcolon, base_off, blk.p)) < 0)
				return rc;
			fstart = NULL;
			for (; p < end; p = next) {
				nl = memchr(p, '\n', (size_t)(end - p));
				next = nl ? nl + 1 : end;
				if (next - p == 1 || (next - p == 2 &&
				    p[0] == '\r')) {
					*body_off = (size_t)(next - blk.p);
					break;
				}
			}
			if (p >= end)
				*flags |= MSG_ERR_NO_BODY_SEP;
			goto done;
		}
		if (first && llen >= 5 && memcmp(p, "From ", 5) == 0) {
			first = false;
			p = next;
			continue;
		}
		first = false;
		if (p[0] == ' ' || p[0] == '\t') {
			/* Continuation; one before any field is dropped. */
			p = next;
			continue;
		}
		if (fstart && (rc = add_field(m, &vec, fstart, p, fname,
		    fcolon, base_off, blk.p)) < 0)
			return rc;
		fstart = NULL;
		if (p[0] == '\n' || (p[0] == '\r' && llen >= 2 &&
		    p[1] == '\n')) {
			if (nl == NULL)
				*flags |= MSG_ERR_NO_BODY_SEP;
			*body_off = (size_t)(next - blk.p);
			goto done;
		}
		if (llen >= 2 && p[0] == '-' && p[1] == '-') {
			*flags |= MSG_ERR_NO_BODY_SEP;
			*body_off = (size_t)(p - blk.p);
			goto done;
		}
		if ((fname = field_name(p, llen, &colon)) == 0) {
			*flags |= MSG_ERR_BAD_HDR_LINE;
			if (++bad > BAD_LINES_TOLERATED) {
				*flags |= MSG_ERR_NO_BODY_SEP;
				*body_off = (size_t)(p - blk.p);
				goto done;
			}
		}
		fstart = p;
		fcolon = colon;
		p = next;
	}
	if (fstart && (rc = add_field(m, &vec, fstart, end, fname,
	    fcolon, base_off, blk.p)) < 0)
		return rc;
	*flags |= MSG_ERR_NO_BODY_SEP;
	*body_off = blk.len;
done:
	*out = vec.v;
	*n = vec.n;
	return 0;
}

/* msg__hdr_find - the nth field named name (case-insensitive) */
const struct msg_header *
msg__hdr_find(const struct msg_header *h, size_t n, const char *name,
    size_t nth)
{
	struct bstr want = bstr_cstr(name);

	for (size_t i = 0; i < n; i++)
		if (h[i].name.len == want.len && msg__caseeq(h[i].name, want) &&
		    nth-- == 0)
			return &h[i];
	return NULL;
}
