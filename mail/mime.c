/*
 * mail/mime.c - the MIME tree (RFC 2045, RFC 2046, RFC 2231)
 *
 * Walks the message once, depth first, and appends every entity to
 * msg->parts in document order. Bodies are slices of the raw message;
 * transfer-decoded and charset-converted text is written to the message
 * arena. Real spam breaks MIME on purpose, so: a multipart without a
 * boundary parameter or whose boundary never occurs is read as one
 * text/plain part (MSG_ERR_MIME_BOUNDARY); a missing close delimiter ends
 * the last part at the end of its container (MSG_ERR_MIME_NO_END);
 * entities nested deeper than max_depth are kept as opaque leaves
 * (MSG_ERR_MIME_DEPTH); parts beyond max_parts are not recorded
 * (MSG_ERR_MIME_PARTS). Errors: -ENOMEM only.
 */
#include "mail/mail_int.h"

#include <errno.h>
#include <string.h>

/* Split "type/subtype; params" into the lowercased type. */
static struct bstr
ctype_of(struct msg *m, struct bstr v)
{
	size_t i = 0;

	v = bstr_trim(v);
	while (i < v.len && v.p[i] != ';' && v.p[i] != '(' && v.p[i] != ' ' &&
	    v.p[i] != '\t')
		i++;
	struct bstr t = bstr_make(v.p, i);

	if (t.len < 3 || memchr(t.p, '/', t.len) == NULL)
		return BSTR_NULL;
	return msg__lower_dup(m->a, t);
}

static int
hexv(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

#define MAX_SECTIONS 64

/* msg__param - the value of parameter name in a Content-Type style
 * value: RFC 2045 5.1 token or quoted-string, RFC 2231 3 continuations
 * (name*0, name*1 ...) and 4 charset'lang'%XX encoding. The value is RFC
 * 2047 decoded too (clients send that for filenames). Empty if absent. */
struct bstr
msg__param(struct msg *m, struct bstr v, const char *name)
{
	size_t nl = strlen(name), i = 0;
	struct bstr plain = BSTR_NULL, sect[MAX_SECTIONS] = { { 0 } };
	bool sect_enc[MAX_SECTIONS] = { 0 }, ext = false, any_sect = false;
	struct bstr charset = BSTR_NULL;

	while (i < v.len) {
		/* to the next ';' outside quotes */
		while (i < v.len && v.p[i] != ';') {
			if (v.p[i] == '"') {
				for (i++; i < v.len && v.p[i] != '"'; i++)
					if (v.p[i] == '\\')
						i++;
			}
			i++;
		}
		if (i >= v.len)
			break;
		i++;
		while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' ||
		    v.p[i] == '\r' || v.p[i] == '\n' || v.p[i] == ';'))
			i++;
		size_t a0 = i;

		while (i < v.len && v.p[i] != '=' && v.p[i] != ';')
			i++;
		if (i >= v.len || v.p[i] != '=')
			continue;
		struct bstr attr = bstr_trim(bstr_make(v.p + a0, i - a0));

		i++;
		while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
			i++;
		struct bstr val;

		if (i < v.len && v.p[i] == '"') {
			size_t v0 = ++i;

			while (i < v.len && v.p[i] != '"') {
				if (v.p[i] == '\\')
					i++;
				i++;
			}
			val = bstr_make(v.p + v0, (i < v.len ? i : v.len) - v0);
			if (i < v.len)
				i++;
		} else {
			size_t v0 = i;

			while (i < v.len && v.p[i] != ';' && v.p[i] != ' ' &&
			    v.p[i] != '\t')
				i++;
			val = bstr_make(v.p + v0, i - v0);
		}
		if (attr.len < nl || !msg__caseeq(bstr_make(attr.p, nl),
		    bstr_make(name, nl)))
			continue;
		if (attr.len == nl) {
			if (plain.p == NULL)
				plain = val;
			continue;
		}
		if (attr.p[nl] != '*')
			continue;
		if (attr.len == nl + 1) { /* name*= */
			ext = true;
			sect[0] = val;
			sect_enc[0] = true;
			any_sect = true;
			continue;
		}
		/* name*N or name*N* */
		size_t k = nl + 1, idx = 0;

		while (k < attr.len && attr.p[k] >= '0' && attr.p[k] <= '9' &&
		    idx < MAX_SECTIONS)
			idx = idx * 10 + (size_t)(attr.p[k++] - '0');
		if (idx >= MAX_SECTIONS || k == nl + 1)
			continue;
		sect[idx] = val;
		sect_enc[idx] = k < attr.len && attr.p[k] == '*';
		any_sect = true;
		(void)ext;
	}
	if (!any_sect) {
		if (plain.p == NULL)
			return bstr_make("", 0);
		/* unescape quoted-pair */
		if (memchr(plain.p, '\\', plain.len)) {
			unsigned char *o = arena_alloc(m->a, plain.len);
			size_t n = 0;

			if (o == NULL)
				return plain;
			for (size_t j = 0; j < plain.len; j++) {
				if (plain.p[j] == '\\' && j + 1 < plain.len)
					j++;
				o[n++] = plain.p[j];
			}
			plain = bstr_make(o, n);
		}
		return msg__rfc2047(m->a, &m->iconvs, plain, &m->flags);
	}
	/* RFC 2231: join sections, the first encoded one carries the
	 * charset'language' prefix. */
	size_t total = 0;

	for (size_t s = 0; s < MAX_SECTIONS && sect[s].p; s++)
		total += sect[s].len;
	unsigned char *o = arena_alloc(m->a, total + 1);
	size_t n = 0;

	if (o == NULL)
		return BSTR_NULL;
	for (size_t s = 0; s < MAX_SECTIONS && sect[s].p; s++) {
		struct bstr sv = sect[s];

		if (s == 0 && sect_enc[0]) {
			const unsigned char *q1 = memchr(sv.p, '\'', sv.len);
			const unsigned char *q2 = q1 ? memchr(q1 + 1, '\'',
			    sv.len - (size_t)(q1 + 1 - sv.p)) : NULL;

			if (q2) {
				charset = bstr_make(sv.p,
				    (size_t)(q1 - sv.p));
				sv = bstr_make(q2 + 1,
				    sv.len - (size_t)(q2 + 1 - sv.p));
			}
		}
		for (size_t j = 0; j < sv.len; j++) {
			int h1, h2;

			if (sect_enc[s] && sv.p[j] == '%' && j + 2 < sv.len &&
			    (h1 = hexv(sv.p[j + 1])) >= 0 &&
			    (h2 = hexv(sv.p[j + 2])) >= 0) {
				o[n++] = (unsigned char)(h1 << 4 | h2);
				j += 2;
			} else {
				o[n++] = sv.p[j];
			}
		}
	}
	return msg__to_utf8(m->a, &m->iconvs, charset, bstr_make(o, n),
	    &m->flags);
}

static enum msg_enc
encoding_of(struct bstr v)
{
	v = bstr_trim(v);
	if (MSG__IEQ(v, "base64"))
		return MSG_ENC_BASE64;
	if (MSG__IEQ(v, "quoted-printable"))
		return MSG_ENC_QP;
	if (v.len == 0 || MSG__IEQ(v, "7bit"))
		return MSG_ENC_7BIT;
	if (MSG__IEQ(v, "8bit"))
		return MSG_ENC_8BIT;
	if (MSG__IEQ(v, "binary"))
		return MSG_ENC_BINARY;
	/* SA decodes by prefix too ("base64 " typos are common) */
	if (MSG__ISTARTS(v, "base64"))
		return MSG_ENC_BASE64;
	if (MSG__ISTARTS(v, "quoted-printable"))
		return MSG_ENC_QP;
	return MSG_ENC_OTHER;
}

/* Find the next delimiter line "--boundary" at or after off in body;
 * sets *line (start of the delimiter line), *next (start of the line
 * after it), *close for "--boundary--". Returns false if none. */
static bool
find_delim(struct bstr body, size_t off, struct bstr bnd, size_t *line,
    size_t *next, bool *close)
{
	while (off + 2 + bnd.len <= body.len) {
		const unsigned char *h = memmem(body.p + off, body.len - off,
		    bnd.p, bnd.len);

		if (h == NULL)
			return false;
		size_t at = (size_t)(h - body.p);

		off = at + 1;
		if (at < 2 || h[-1] != '-' || h[-2] != '-')
			continue;
		size_t ls = at - 2;

		if (ls != 0 && body.p[ls - 1] != '\n')
			continue;
		size_t e = at + bnd.len;
		bool cl = false;

		if (e + 1 < body.len && body.p[e] == '-' && body.p[e + 1] == '-') {
			cl = true;
			e += 2;
		}
		/* only whitespace may follow on the line (RFC 2046 5.1.1
		 * transport padding) */
		while (e < body.len && (body.p[e] == ' ' || body.p[e] == '\t' ||
		    body.p[e] == '\r'))
			e++;
		if (e < body.len && body.p[e] != '\n')
			continue;
		*line = ls;
		*next = e < body.len ? e + 1 : e;
		*close = cl;
		return true;
	}
	return false;
}

static int parse_entity(struct msg *, struct bstr ent, size_t off,
    unsigned depth, int parent, bool digest, bool is_root);

/* The body of a part ends before the line break that precedes the next
 * delimiter (RFC 2046 5.1.1: that CRLF belongs to the delimiter). */
static size_t
strip_eol(struct bstr body, size_t ls, size_t start)
{
	if (ls > start && body.p[ls - 1] == '\n')
		ls--;
	if (ls > start && body.p[ls - 1] == '\r')
		ls--;
	return ls;
}

#define PART(m, i) (((struct msg_part *)(m)->parts.v)[i])

static int
parse_multipart(struct msg *m, struct bstr bnd, int self,
    struct bstr body, size_t boff, unsigned depth, bool digest)
{
	size_t line, next, pos;
	bool close;
	int rc;

	if (!find_delim(body, 0, bnd, &line, &next, &close)) {
		PART(m, self).flags |= MSG_ERR_MIME_BOUNDARY;
		m->flags |= MSG_ERR_MIME_BOUNDARY;
		/* no delimiter: read the body as one plain part */
		return parse_entity(m, body, boff, depth + 1, self, false,
		    false);
	}
	pos = next;
	while (!close) {
		size_t l2, n2;
		bool c2;

		if (!find_delim(body, pos, bnd, &l2, &n2, &c2)) {
			PART(m, self).flags |= MSG_ERR_MIME_NO_END;
			m->flags |= MSG_ERR_MIME_NO_END;
			return parse_entity(m, bstr_sub(body, pos,
			    body.len - pos), boff + pos, depth + 1, self,
			    digest, false);
		}
		size_t end = strip_eol(body, l2, pos);

		if ((rc = parse_entity(m, bstr_sub(body, pos, end - pos),
		    boff + pos, depth + 1, self, digest, false)) < 0)
			return rc;
		pos = n2;
		close = c2;
	}
	return 0;
}

static void
decode_leaf(struct msg *m, struct msg_part *p)
{
	unsigned char *o;
	size_t n;

	switch (p->encoding) {
	case MSG_ENC_BASE64:
	case MSG_ENC_QP:
		if ((o = arena_alloc(m->a, p->raw_body.len + 1)) == NULL) {
			p->decoded = p->raw_body;
			return;
		}
		if (p->encoding == MSG_ENC_BASE64)
			n = msg__b64_decode(p->raw_body.p, p->raw_body.len, o,
			    &p->flags);
		else
			n = msg__qp_decode(p->raw_body.p, p->raw_body.len, o,
			    &p->flags, false);
		m->flags |= p->flags;
		p->decoded = bstr_make(o, n);
		break;
	default:
		p->decoded = p->raw_body;
	}
}

/* Text views use LF line ends, as SA squashes CRLF in text parts */
static struct bstr
crlf_to_lf(struct msg *m, struct bstr t)
{
	const unsigned char *cr = t.len ? memchr(t.p, '\r', t.len) : NULL;
	unsigned char *o;
	size_t n;

	if (cr == NULL)
		return t;
	if ((o = arena_alloc(m->a, t.len)) == NULL)
		return t;
	n = (size_t)(cr - t.p);
	memcpy(o, t.p, n);
	for (size_t i = n; i < t.len; i++) {
		if (t.p[i] == '\r' && i + 1 < t.len && t.p[i + 1] == '\n')
			continue;
		o[n++] = t.p[i];
	}
	return bstr_make(o, n);
}

/* SA Node::rendered: the length of the HTML source as it goes to the
 * parser, in characters when a us-ascii/utf-8 part decodes as UTF-8,
 * else in bytes (normalize_charset off) */
static size_t
sa_length(const struct msg_part *p)
{
	struct bstr d = p->decoded;
	size_t n = 0;

	if (!(p->charset.len == 0 || MSG__IEQ(p->charset, "us-ascii") ||
		MSG__IEQ(p->charset, "utf-8")) ||
	    msg__ascii_prefix(d.p, d.len) == d.len ||
	    !msg__utf8_valid(d.p, d.len))
		return d.len;
	for (size_t i = 0; i < d.len; i++)
		n += (d.p[i] & 0xC0) != 0x80;
	return n;
}

static int
parse_entity(struct msg *m, struct bstr ent, size_t off, unsigned depth,
    int parent, bool digest, bool is_root)
{
	struct msg_header *h;
	size_t nh, body_off;
	unsigned hflags = 0;
	struct msg_part *p;
	int self, rc;

	if (m->parts.n >= m->o.max_parts) {
		m->flags |= MSG_ERR_MIME_PARTS;
		return 0;
	}
	if (is_root) {
		h = m->hdrs;
		nh = m->nhdrs;
		body_off = (size_t)(m->body.p - m->raw);
	} else if ((rc = msg__headers_parse(m, ent, off, &h, &nh, &body_off,
	    &hflags)) < 0) {
		return rc;
	}
	if ((p = msg__vec_push(m->a, &m->parts, sizeof(*p))) == NULL)
		return -ENOMEM;
	self = (int)(m->parts.n - 1);
	p->index = (unsigned)self;
	p->depth = depth;
	p->parent = parent;
	p->flags = hflags & (MSG_ERR_8BIT_HDR | MSG_ERR_BAD_HDR_LINE);
	if (is_root) {
		p->headers = m->hblock;
		p->raw_body = m->body;
	} else {
		size_t hl = body_off;

		while (hl > 0 && (ent.p[hl - 1] == '\n' ||
		    ent.p[hl - 1] == '\r'))
			hl--;
		p->headers = bstr_make(ent.p, hl);
		p->raw_body = bstr_sub(ent, body_off, ent.len - body_off);
	}

	const struct msg_header *ct = msg__hdr_find(h, nh, "content-type", 0);
	const struct msg_header *cte = msg__hdr_find(h, nh,
	    "content-transfer-encoding", 0);
	const struct msg_header *cd = msg__hdr_find(h, nh,
	    "content-disposition", 0);
	const struct msg_header *cid = msg__hdr_find(h, nh, "content-id", 0);

	p->ctype = ct ? ctype_of(m, ct->value) : BSTR_NULL;
	if (p->ctype.len == 0)
		/* RFC 2045 5.2 default; RFC 2046 5.1.5 digest default */
		p->ctype = digest ? BSTR_LIT("message/rfc822") :
		    BSTR_LIT("text/plain");
	if (ct) {
		p->charset = msg__lower_dup(m->a,
		    bstr_trim(msg__param(m, ct->value, "charset")));
		p->boundary = msg__param(m, ct->value, "boundary");
		p->name = msg__param(m, ct->value, "name");
	}
	p->encoding = cte ? encoding_of(cte->value) : MSG_ENC_7BIT;
	if (cd) {
		size_t k = 0;

		while (k < cd->value.len && cd->value.p[k] != ';' &&
		    cd->value.p[k] != ' ')
			k++;
		p->disposition = msg__lower_dup(m->a,
		    bstr_make(cd->value.p, k));
		p->filename = msg__param(m, cd->value, "filename");
	}
	if (p->filename.len == 0 && p->name.len)
		p->filename = p->name;
	if (cid)
		p->content_id = cid->value;
	p->is_attachment = MSG__IEQ(p->disposition, "attachment") ||
	    p->filename.len > 0;

	bool multi = MSG__ISTARTS(p->ctype, "multipart/");
	bool message = MSG__IEQ(p->ctype, "message/rfc822");

	if ((multi || message) && depth >= m->o.max_depth) {
		p->flags |= MSG_ERR_MIME_DEPTH;
		m->flags |= MSG_ERR_MIME_DEPTH;
		return 0; /* opaque leaf: not decoded, not scanned */
	}
	if (multi && p->boundary.len) {
		p->is_multipart = true;
		return parse_multipart(m, p->boundary, self, p->raw_body,
		    off + body_off, depth,
		    MSG__IEQ(p->ctype, "multipart/digest"));
	}
	if (multi) {
		/* no boundary: SA reads it as text/plain */
		p->flags |= MSG_ERR_MIME_BOUNDARY;
		m->flags |= MSG_ERR_MIME_BOUNDARY;
		p->ctype = BSTR_LIT("text/plain");
	}
	if (message && p->encoding != MSG_ENC_BASE64 &&
	    p->encoding != MSG_ENC_QP) {
		p->is_message = true;
		return parse_entity(m, p->raw_body, off + body_off, depth + 1,
		    self, false, false);
	}
	/* Leaf. */
	decode_leaf(m, p);
	p->is_text = MSG__ISTARTS(p->ctype, "text/");
	if (p->is_text) {
		p->text = crlf_to_lf(m, msg__to_utf8(m->a, &m->iconvs,
		    p->charset, p->decoded, &p->flags));
		m->flags |= p->flags;
		p->is_html = MSG__IEQ(p->ctype, "text/html");
		if (p->is_html)
			p->rendered = msg__html_render(m, p->text,
			    p->charset, self, sa_length(p));
		else if (MSG__IEQ(p->ctype, "text/plain"))
			p->rendered = p->text;
	}
	return 0;
}

/* msg__mime_parse - build msg->parts from the parsed top-level headers */
int
msg__mime_parse(struct msg *m)
{
	return parse_entity(m, bstr_make(m->raw, m->len), 0, 0, -1, false,
	    true);
}
