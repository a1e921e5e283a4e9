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

/* SpamAssassin's MIME tree ------------------------------------------------
 *
 * msg_sa_parts follows Mail::SpamAssassin::Message (new, parse_body,
 * _parse_multipart, _parse_normal) line by line: the MIMEEval, BodyEval
 * and ImageInfo evals measure SA's raw lines, which the RFC tree above
 * does not keep. Lines are slices of the message (or of a decoded
 * message/rfc822 part, copied into the arena); nothing is decoded except
 * such sub-messages. Deliberate differences: header values are not RFC
 * 2047 decoded (SA decodes them; Content-Type/-Transfer-Encoding/
 * -Disposition values do not use encoded-words), RFC 2231 name*N
 * continuations are not joined, and the tree stops at SA_MAX_NODES
 * nodes (SA has no total limit). */

#define SA_MAX_LINE 2048    /* Constants MAX_BODY_LINE_LENGTH */
#define SA_MAX_KEY 256      /* MAX_HEADER_KEY_LENGTH */
#define SA_MAX_VALUE 8192   /* MAX_HEADER_VALUE_LENGTH */
#define SA_SUBPARSE 20      /* Message->new: levels of subparsing */
#define SA_MAX_PARTS 1000   /* _parse_multipart: parts per multipart */
#define SA_MAX_NODES 20000u /* ours: nodes in the whole tree */

struct sa_lines {
	struct msg_sa_line *v;
	size_t n, cap;
};

struct sa_bstate {
	struct bstr b;
	int v;
};

struct sa_walk {
	struct msg *m;
	struct msg__vec bst; /* struct sa_bstate: mime_boundary_state */
	unsigned flags;
	bool full;
};

/* the parse_content_type results */
struct sa_ct {
	struct bstr type, boundary, charset, name;
	bool missing, has_boundary, has_charset;
};

/* the Content-* fields of one part (the last of each) */
struct sa_hdrs {
	struct bstr ct, cte, cd;
	bool has_ct;
};

static const struct msg_sa_line sa_blank = { (const unsigned char *)"", 0,
	true };

static bool
sa_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

static bool
sa_word(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == '_';
}

static int
sa_push(struct msg *m, struct sa_lines *l, struct msg_sa_line x)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 32;
		struct msg_sa_line *nv = arena_alloc(m->a, nc * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		if (l->n)
			memcpy(nv, l->v, l->n * sizeof(*nv));
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = x;
	return 0;
}

/* push a body line, cut into MAX_BODY_LINE_LENGTH pieces as SA does (each
 * piece gets a "\n") */
static int
sa_push_cut(struct msg *m, struct sa_lines *l, struct msg_sa_line x)
{
	while ((size_t)x.len + x.nl > SA_MAX_LINE) {
		struct msg_sa_line c = { x.p, SA_MAX_LINE, true };

		if (sa_push(m, l, c) < 0)
			return -ENOMEM;
		x.p += SA_MAX_LINE;
		x.len -= SA_MAX_LINE;
	}
	return sa_push(m, l, x);
}

/* /^\s*$/ */
static bool
sa_blank_line(const struct msg_sa_line *l)
{
	for (size_t i = 0; i < l->len; i++)
		if (!sa_space(l->p[i]))
			return false;
	return true;
}

/* /^[\041-\071\073-\176]+[ \t]*:/ (ws) or /^[\041-\071\073-\176]+:/ */
static bool
sa_hdr_line(const struct msg_sa_line *l, bool ws)
{
	size_t i = 0;

	while (i < l->len && l->p[i] >= 041 && l->p[i] <= 0176 &&
	    l->p[i] != ':')
		i++;
	if (i == 0)
		return false;
	if (ws)
		while (i < l->len && (l->p[i] == ' ' || l->p[i] == '\t'))
			i++;
	return i < l->len && l->p[i] == ':';
}

/* /^--\Q$b\E(--)?\s*$/: 0 no, 1 a boundary, 2 a close boundary; open
 * only: /^--\Q$b\E\s*$/ */
static int
sa_boundary(const struct msg_sa_line *l, struct bstr b, bool open)
{
	size_t i;

	if (l->len < 2 + b.len || l->p[0] != '-' || l->p[1] != '-' ||
	    memcmp(l->p + 2, b.p, b.len) != 0)
		return 0;
	i = 2 + b.len;
	if (!open && i + 2 <= l->len &&
	    l->p[i] == '-' && l->p[i + 1] == '-') {
		size_t k = i + 2;

		while (k < l->len && sa_space(l->p[k]))
			k++;
		if (k == l->len)
			return 2;
	}
	while (i < l->len && sa_space(l->p[i]))
		i++;
	return i == l->len ? 1 : 0;
}

/* \bNAME\s*=\s*: offset of the value after it at or after *from, or -1 */
static long
sa_param_at(struct bstr v, const char *name, size_t from)
{
	size_t nl = strlen(name);

	for (size_t i = from; i + nl <= v.len; i++) {
		size_t k;

		if (i > 0 && sa_word(v.p[i - 1]))
			continue;
		if (!msg__caseeq(bstr_make(v.p + i, nl), bstr_make(name, nl)))
			continue;
		k = i + nl;
		while (k < v.len && sa_space(v.p[k]))
			k++;
		if (k >= v.len || v.p[k] != '=')
			continue;
		k++;
		while (k < v.len && sa_space(v.p[k]))
			k++;
		return (long)k;
	}
	return -1;
}

/* ["']?(.*?)["']?(?:;|$) from k */
static struct bstr
sa_param_value(struct bstr v, size_t k)
{
	size_t s;

	if (k < v.len && (v.p[k] == '"' || v.p[k] == '\''))
		k++;
	for (s = k; k < v.len; k++) {
		if (v.p[k] == ';' || v.p[k] == '\n')
			break;
		if ((v.p[k] == '"' || v.p[k] == '\'') &&
		    (k + 1 == v.len || v.p[k + 1] == ';'))
			break;
	}
	return bstr_make(v.p + s, k - s);
}

/* sa_parse_ct - Mail::SpamAssassin::Util::parse_content_type */
static void
sa_parse_ct(struct msg *m, const struct sa_hdrs *h, struct sa_ct *ct)
{
	struct bstr v = h->ct, t;
	long k;
	size_t i, o;
	unsigned char *buf;

	memset(ct, 0, sizeof(*ct));
	if (!h->has_ct || v.len == 0 || (v.len == 1 && v.p[0] == '0')) {
		ct->missing = true;
		v = BSTR_LIT("text/plain; charset=us-ascii");
	}
	/* boundary: "[^"]+ or [^\s";]+(?=[\s;]|$), quotes removed */
	for (size_t from = 0; (k = sa_param_at(v, "boundary", from)) >= 0;
	     from = (size_t)k) {
		size_t s = (size_t)k, e;

		if (s < v.len && v.p[s] == '"') {
			for (e = s + 1; e < v.len && v.p[e] != '"'; e++)
				;
			if (e == s + 1)
				continue;
			ct->boundary = bstr_make(v.p + s + 1, e - s - 1);
			ct->has_boundary = true;
			break;
		}
		for (e = s; e < v.len && !sa_space(v.p[e]) && v.p[e] != '"' &&
		     v.p[e] != ';'; e++)
			;
		if (e == s || (e < v.len && v.p[e] == '"'))
			continue;
		/* tr/"//d: no quote can be left in an unquoted value */
		ct->boundary = bstr_make(v.p + s, e - s);
		ct->has_boundary = true;
		break;
	}
	if ((k = sa_param_at(v, "charset", 0)) >= 0) {
		ct->charset = msg__lower_dup(m->a,
		    sa_param_value(v, (size_t)k));
		ct->has_charset = true;
	}
	{
		long kn = sa_param_at(v, "name", 0),
		     kf = sa_param_at(v, "filename", 0);

		if (kf >= 0 && (kn < 0 || kf < kn))
			kn = kf;
		if (kn >= 0)
			ct->name = sa_param_value(v, (size_t)kn);
	}
	/* the type: leading space off, cut at ';', something/something */
	for (i = 0; i < v.len && sa_space(v.p[i]); i++)
		;
	t = bstr_make(v.p + i, v.len - i);
	for (i = 0; i < t.len && t.p[i] != ';'; i++)
		;
	t.len = i;
	if (t.len > 0 && t.p[0] != '/') {
		for (i = 0; i < t.len && t.p[i] != '/'; i++)
			;
		if (i < t.len) {
			for (i++; i < t.len && t.p[i] != '/' &&
			     !sa_space(t.p[i]); i++)
				;
		}
		t.len = i;
	}
	if ((buf = arena_alloc(m->a, t.len + 1)) == NULL) {
		ct->type = BSTR_LIT("text/plain");
		return;
	}
	for (i = 0; i < t.len; i++)
		buf[i] = msg__lc(t.p[i]);
	t = bstr_make(buf, t.len);
	if (t.len == 0)
		ct->missing = true;
	if (t.len == 0 || (t.len >= 4 && memcmp(t.p, "text", 4) == 0 &&
	    (t.len == 4 || !sa_word(t.p[4])) &&
	    !MSG__IEQ(t, "text/x-vcard") && !MSG__IEQ(t, "text/calendar") &&
	    !MSG__IEQ(t, "text/html"))) {
		ct->type = BSTR_LIT("text/plain");
		return;
	}
	/* tr/\000-\040\177-\377\042\050\051\054\072-\077\100\133-\135//d */
	for (i = o = 0; i < t.len; i++) {
		unsigned char c = t.p[i];

		if (c <= 040 || c >= 0177 || c == '"' || c == '(' ||
		    c == ')' || c == ',' || (c >= 072 && c <= 077) ||
		    c == '@' || (c >= 0133 && c <= 0135))
			continue;
		buf[o++] = c;
	}
	ct->type = bstr_make(buf, o);
}

/* Node::header's value: "\n[ \t]+" -> " ", \s trimmed; lines[0] starts
 * at the value */
static struct bstr
sa_hdr_value(struct msg *m, const struct msg_sa_line *l, size_t n,
    size_t skip)
{
	size_t len = 0, o = 0;
	unsigned char *b;

	for (size_t i = 0; i < n; i++)
		len += l[i].len + 1;
	if ((b = arena_alloc(m->a, len + 1)) == NULL)
		return BSTR_NULL;
	for (size_t i = 0; i < n; i++) {
		size_t s = i == 0 ? skip : 0;

		if (s > l[i].len)
			s = l[i].len;
		memcpy(b + o, l[i].p + s, l[i].len - s);
		o += l[i].len - s;
		if (l[i].nl)
			b[o++] = '\n';
	}
	/* unfold, then trim */
	size_t w = 0;

	for (size_t i = 0; i < o; i++) {
		if (b[i] == '\n' && i + 1 < o && (b[i + 1] == ' ' ||
		    b[i + 1] == '\t')) {
			while (i + 1 < o && (b[i + 1] == ' ' || b[i + 1] == '\t'))
				i++;
			b[w++] = ' ';
			continue;
		}
		b[w++] = b[i];
	}
	struct bstr v = bstr_make(b, w);

	while (v.len && sa_space(v.p[v.len - 1]))
		v.len--;
	while (v.len && sa_space(v.p[0])) {
		v.p++;
		v.len--;
	}
	return v;
}

/* store header field lines l[0..n) if it is one of the Content-* fields;
 * body: split /:\s*\/ (a part) or /:/ (a message header); returns the key
 * length (for SA's truncated_header) through *klen */
static void
sa_hdr_store(struct msg *m, struct sa_hdrs *h, const struct msg_sa_line *l,
    size_t n, bool part, size_t *klen, size_t *vlen)
{
	size_t c, i, k;
	struct bstr key;

	*klen = *vlen = 0;
	/* the colon is on the first line: sa_hdr_line() checked, or the
	 * field is a continuation-started one (SA: key without a value) */
	for (c = 0; c < l[0].len && l[0].p[c] != ':'; c++)
		;
	if (c == l[0].len)
		return;
	key = bstr_make(l[0].p, c);
	if (!part)
		while (key.len && (key.p[key.len - 1] == ' ' ||
		    key.p[key.len - 1] == '\t'))
			key.len--;
	*klen = key.len;
	for (i = 0; i < n; i++)
		*vlen += l[i].len + l[i].nl;
	*vlen -= c + 1;
	k = c + 1;
	if (part) /* /:\s*\/ may run over line ends: only the first line's
		     space matters for the trimmed value */
		while (k < l[0].len && sa_space(l[0].p[k]))
			k++;
	if (MSG__IEQ(key, "content-type")) {
		h->ct = sa_hdr_value(m, l, n, k);
		h->has_ct = true;
	} else if (MSG__IEQ(key, "content-transfer-encoding")) {
		h->cte = msg__lower_dup(m->a, sa_hdr_value(m, l, n, k));
	} else if (MSG__IEQ(key, "content-disposition")) {
		h->cd = msg__lower_dup(m->a, sa_hdr_value(m, l, n, k));
	}
}

static int sa_message(struct sa_walk *, struct bstr buf, int subparse,
    int parent, unsigned depth, bool top);
static int sa_item(struct sa_walk *, int self, struct bstr bnd, bool has_bnd,
    const struct msg_sa_line *l, size_t n, int subparse);

#define SAP(w, i) (((struct msg_sa_part *)(w)->m->sa_parts.v)[i])

/* a new node; -1 when out of memory or over SA_MAX_NODES */
static int
sa_node(struct sa_walk *w, int parent, unsigned depth, const struct sa_hdrs *h,
    struct sa_ct *ct)
{
	struct msg_sa_part *p;

	if (w->m->sa_parts.n >= SA_MAX_NODES) {
		w->full = true;
		return -1;
	}
	if ((p = msg__vec_push(w->m->a, &w->m->sa_parts, sizeof(*p))) == NULL)
		return -1;
	sa_parse_ct(w->m, h, ct);
	p->parent = parent;
	p->depth = depth;
	p->leaf = true;
	p->type = p->ctype = ct->type;
	p->charset = ct->charset;
	p->has_charset = ct->has_charset;
	p->ct_missing = ct->missing;
	p->cte = h->cte;
	p->cd = h->cd;
	/* _parse_normal: Content-Disposition name=\s*"?([^";]+)"? first
	 * (no \b: "filename=" counts too) */
	{
		struct bstr cd = h->cd;
		long k = -1;

		for (size_t i = 0; i + 5 <= cd.len; i++)
			if (memcmp(cd.p + i, "name=", 5) == 0) {
				k = (long)(i + 5);
				break;
			}
		if (k >= 0) {
			size_t s = (size_t)k, e;

			while (s < cd.len && sa_space(cd.p[s]))
				s++;
			if (s < cd.len && cd.p[s] == '"')
				s++;
			for (e = s; e < cd.len && cd.p[e] != '"' &&
			     cd.p[e] != ';'; e++)
				;
			if (e > s)
				p->name = bstr_make(cd.p + s, e - s);
		}
	}
	if (p->name.len == 0)
		p->name = ct->name;
	return (int)(w->m->sa_parts.n - 1);
}

static struct sa_bstate *
sa_bstate(struct sa_walk *w, struct bstr b)
{
	struct sa_bstate *v = w->bst.v;

	for (size_t i = 0; i < w->bst.n; i++)
		if (bstr_eq(v[i].b, b))
			return &v[i];
	struct sa_bstate *s = msg__vec_push(w->m->a, &w->bst, sizeof(*s));

	if (s != NULL)
		s->b = b;
	return s;
}

/* _parse_multipart */
static int
sa_multipart(struct sa_walk *w, int self, struct bstr bnd,
    const struct msg_sa_line *l, size_t n, int subparse)
{
	struct sa_lines part = { 0 };
	bool in_body = false, nested = false, have_part = false;
	size_t hs = 0, hn = 0, line_count, partcnt = 0, i;
	struct sa_hdrs h = { 0 };
	struct sa_bstate *st;
	int rc;

	subparse--;
	/* the preamble, up to the first opening boundary */
	for (i = 0; i < n; i++)
		if (sa_boundary(&l[i], bnd, true)) {
			if ((st = sa_bstate(w, bnd)) == NULL)
				return -ENOMEM;
			st->v = 1;
			if (i + 1 < n && !sa_hdr_line(&l[i + 1], false))
				w->flags |= MSG_SA_MISSING_MIME_HEADERS;
			break;
		}
	if (i < n) {
		l += i + 1;
		n -= i + 1;
	}
	line_count = n;
	for (i = 0; i < n; i++) {
		int b = sa_boundary(&l[i], bnd, false);
		bool found_end = b != 0, last_end = b == 2;
		size_t dummy1, dummy2;

		if (found_end && nested) {
			found_end = false;
			if (last_end)
				nested = false;
		}
		if (--line_count == 0 || found_end) {
			struct sa_ct ct;
			int child;

			if (!found_end) {
				if (sa_push_cut(w->m, &part, l[i]) < 0)
					return -ENOMEM;
				have_part = true;
			} else if (have_part && part.n > 0) {
				/* the line end before a boundary is the
				 * boundary's (RFC 2046 5.1.1) */
				part.v[part.n - 1].nl = false;
				if (part.v[part.n - 1].len == 0)
					part.n--;
			}
			child = sa_node(w, self, SAP(w, self).depth + 1, &h,
			    &ct);
			if (child < 0)
				return w->full ? 0 : -ENOMEM;
			if (ct.missing) {
				/* bug 5741: a digest's parts default to
				 * message/rfc822 */
				if (MSG__IEQ(SAP(w, self).type,
				    "multipart/digest"))
					SAP(w, child).type =
					    BSTR_LIT("message/rfc822");
			}
			if (!ct.has_boundary) {
				ct.boundary = bnd;
				ct.has_boundary = true;
			}
			if ((rc = sa_item(w, child, ct.boundary,
			    ct.has_boundary, part.v, part.n, subparse)) < 0)
				return rc;
			if (last_end) {
				if ((st = sa_bstate(w, bnd)) == NULL)
					return -ENOMEM;
				st->v--;
				break;
			}
			if (line_count && !sa_hdr_line(&l[n - line_count],
			    false))
				w->flags |= MSG_SA_MISSING_MIME_HEADERS;
			if (++partcnt == SA_MAX_PARTS) {
				w->flags |= MSG_SA_MIMEPART_LIMIT;
				return 0;
			}
			in_body = have_part = false;
			part = (struct sa_lines){ 0 };
			hn = 0;
			memset(&h, 0, sizeof(h));
			continue;
		}
		if (!in_body) {
			if (sa_hdr_line(&l[i], true)) {
				if (hn)
					sa_hdr_store(w->m, &h, l + hs, hn, true,
					    &dummy1, &dummy2);
				hs = i;
				hn = 1;
				continue;
			}
			if (l[i].len && (l[i].p[0] == ' ' || l[i].p[0] == '\t') &&
			    hn) {
				hn++;
				continue;
			}
			if (hn) {
				struct sa_hdrs one = { 0 };

				sa_hdr_store(w->m, &h, l + hs, hn, true, &dummy1,
				    &dummy2);
				sa_hdr_store(w->m, &one, l + hs, hn, true,
				    &dummy1, &dummy2);
				if (one.has_ct) {
					struct sa_ct nc;

					/* bug 7358: the part's own boundary
					 * is ours: one level of nesting */
					sa_parse_ct(w->m, &h, &nc);
					if (nc.has_boundary &&
					    bstr_eq(nc.boundary, bnd))
						nested = true;
				}
				hn = 0;
			}
			in_body = true;
			if (l[i].len == 0 || (l[i].len == 1 && l[i].p[0] == '\r'))
				continue;
			w->flags |= MSG_SA_MISSING_MIME_HB_SEP;
		}
		if (sa_push_cut(w->m, &part, l[i]) < 0)
			return -ENOMEM;
		have_part = true;
	}
	/* an epilogue: after the close boundary, a line with more than
	 * whitespace and dots */
	for (i = n - line_count; line_count > 0 && i < n; i++) {
		for (size_t k = 0; k < l[i].len; k++)
			if (!sa_space(l[i].p[k]) && l[i].p[k] != '.') {
				w->flags |= MSG_SA_MIME_EPILOGUE;
				return 0;
			}
	}
	return 0;
}

/* Node::decode of a message part, for parsing it as a message */
static struct bstr
sa_decode(struct msg *m, const struct msg_sa_part *p,
    const struct msg_sa_line *l, size_t n)
{
	size_t len = 0, o = 0;
	unsigned char *b, *d;
	unsigned fl = 0;

	bool slice = true;

	for (size_t i = 0; i < n; i++) {
		len += l[i].len + l[i].nl;
		/* one run of the message: a slice, so that the parts'
		 * lines point into the message (readers map them to the
		 * RFC tree's parts by address) */
		if ((l[i].nl && l[i].p[l[i].len] != '\n') ||
		    (i + 1 < n && l[i + 1].p != l[i].p + l[i].len + l[i].nl))
			slice = false;
	}
	if (slice && n > 0 && !MSG__IEQ(p->cte, "base64") &&
	    !MSG__IEQ(p->cte, "quoted-printable"))
		return bstr_make(l[0].p, len);
	if ((b = arena_alloc(m->a, len + 1)) == NULL)
		return BSTR_NULL;
	for (size_t i = 0; i < n; i++) {
		memcpy(b + o, l[i].p, l[i].len);
		o += l[i].len;
		if (l[i].nl)
			b[o++] = '\n';
	}
	if (!MSG__IEQ(p->cte, "base64") && !MSG__IEQ(p->cte, "quoted-printable"))
		return bstr_make(b, o);
	if ((d = arena_alloc(m->a, o + 1)) == NULL)
		return BSTR_NULL;
	if (MSG__IEQ(p->cte, "base64"))
		len = msg__b64_decode(b, o, d, &fl);
	else
		len = msg__qp_decode(b, o, d, &fl, false);
	/* CRLF -> LF (SA: for QP always, for base64 text and message/) */
	for (size_t i = o = 0; i < len; i++) {
		if (d[i] == '\r' && i + 1 < len && d[i + 1] == '\n')
			continue;
		d[o++] = d[i];
	}
	return bstr_make(d, o);
}

/* one parse_queue entry: _parse_multipart or _parse_normal, then a
 * message/rfc822 (or message/global) part parsed as a message */
static int
sa_item(struct sa_walk *w, int self, struct bstr bnd, bool has_bnd,
    const struct msg_sa_line *l, size_t n, int subparse)
{
	struct msg_sa_part *p = &SAP(w, self);

	if (MSG__ISTARTS(p->type, "multipart/") && has_bnd && subparse > 0) {
		p->leaf = false;
		return sa_multipart(w, self, bnd, l, n, subparse);
	}
	/* _parse_normal: a multipart without a boundary is text/plain */
	if (!p->ct_missing && MSG__ISTARTS(p->type, "multipart/") && !has_bnd)
		p->type = BSTR_LIT("text/plain");
	p->lines = l;
	p->nlines = n;
	if (MSG__ISTARTS(p->type, "message/") &&
	    !MSG__IEQ(p->type, "message/partial") && subparse > 0 &&
	    (MSG__IEQ(p->type, "message/rfc822") ||
		MSG__IEQ(p->type, "message/global"))) {
		struct bstr d = sa_decode(w->m, p, l, n);

		if (d.len == 0)
			return 0;
		p->leaf = false;
		p->lines = NULL;
		p->nlines = 0;
		return sa_message(w, d, subparse - 1, self, p->depth + 1, false);
	}
	return 0;
}

/* Message->new: header fields, then the body lines */
static int
sa_message(struct sa_walk *w, struct bstr buf, int subparse, int parent,
    unsigned depth, bool top)
{
	struct sa_lines all = { 0 }, body = { 0 };
	struct sa_hdrs h = { 0 };
	struct sa_ct ct;
	size_t i = 0, hs = 0, hn = 0, errs = 0, klen, vlen;
	bool squash, have_hdr = false;
	int self;

	/* split /^/m */
	for (size_t s = 0; s < buf.len;) {
		const unsigned char *e = memchr(buf.p + s, '\n', buf.len - s);
		size_t len = e ? (size_t)(e - (buf.p + s)) : buf.len - s;
		struct msg_sa_line x = { buf.p + s, (uint32_t)len, e != NULL };

		if (len > UINT32_MAX)
			return 0;
		if (sa_push(w->m, &all, x) < 0)
			return -ENOMEM;
		s += len + (e != NULL);
	}
	if (all.n == 0 && sa_push(w->m, &all, sa_blank) < 0)
		return -ENOMEM;
	/* an mbox separator: /^From\s+(?!:)/ */
	if (all.v[0].len > 5 && memcmp(all.v[0].p, "From", 4) == 0 &&
	    sa_space(all.v[0].p[4])) {
		size_t k = 4;

		while (k < all.v[0].len && sa_space(all.v[0].p[k]))
			k++;
		if (k - 4 >= 2 || k == all.v[0].len || all.v[0].p[k] != ':') {
			all.v++;
			all.n--;
		}
	}
	/* bug 4363: CRLF when the first or the last line has one */
	squash = all.n > 0 &&
	    ((all.v[0].nl && all.v[0].len && all.v[0].p[all.v[0].len - 1] ==
		'\r') || (all.v[all.n - 1].nl && all.v[all.n - 1].len &&
		all.v[all.n - 1].p[all.v[all.n - 1].len - 1] == '\r'));
	if (squash)
		for (size_t k = 0; k < all.n; k++)
			if (all.v[k].nl && all.v[k].len &&
			    all.v[k].p[all.v[k].len - 1] == '\r')
				all.v[k].len--;
	/* the header section */
	for (;;) {
		bool eof = i >= all.n;
		const struct msg_sa_line *cur = eof ? &sa_blank : &all.v[i];

		if (cur->len && (cur->p[0] == ' ' || cur->p[0] == '\t')) {
			if (!have_hdr) {
				have_hdr = true;
				hs = i;
				hn = 0;
			}
			hn++;
			i++;
			continue;
		}
		if (have_hdr) {
			sa_hdr_store(w->m, &h, all.v + hs, hn, false, &klen,
			    &vlen);
			if (top && (klen > SA_MAX_KEY || vlen > SA_MAX_VALUE))
				w->flags |= MSG_SA_TRUNCATED_HEADER;
		}
		if (cur->len == 0 && cur->nl) {
			if (eof && top)
				w->flags |= MSG_SA_MISSING_HB_SEP;
			if (!eof)
				i++;
			break;
		}
		if (cur->len >= 2 && cur->p[0] == '-' && cur->p[1] == '-') {
			if (top)
				w->flags |= MSG_SA_MISSING_HB_SEP;
			break;
		}
		if (!sa_hdr_line(cur, true) && ++errs > 3) {
			if (top)
				w->flags |= MSG_SA_MISSING_HB_SEP;
			break;
		}
		have_hdr = true;
		hs = i;
		hn = 1;
		i++;
	}
	body.v = all.v + i;
	body.n = body.cap = all.n - i;
	/* runs of more than 20 blank lines keep 20 */
	{
		size_t start = 0;
		bool in = false;

		for (size_t cnt = body.n; cnt-- > 0;) {
			if (sa_blank_line(&body.v[cnt])) {
				if (!in) {
					start = cnt;
					in = true;
				}
				if (cnt != 0)
					continue;
			}
			if (in) {
				size_t num = start - cnt;

				if (num > 20) {
					size_t at = cnt + 2, cut = num - 20;

					if (at + cut > body.n)
						cut = body.n - at;
					memmove(body.v + at, body.v + at + cut,
					    (body.n - at - cut) *
						sizeof(*body.v));
					body.n -= cut;
				}
				in = false;
			}
		}
	}
	if ((self = sa_node(w, parent, depth, &h, &ct)) < 0)
		return w->full ? 0 : -ENOMEM;
	/* bug 6845: a multipart body that starts with text gets a blank
	 * line first, so that no MIME header is taken for the message's */
	if (MSG__ISTARTS(ct.type, "multipart/") && body.n > 1) {
		bool text = false;

		for (size_t k = 0; k < body.v[0].len; k++)
			if (!sa_space(body.v[0].p[k]))
				text = true;
		if (text && (!ct.has_boundary || body.v[0].len < 2 +
		    ct.boundary.len || memcmp(body.v[0].p, "--", 2) != 0 ||
		    memcmp(body.v[0].p + 2, ct.boundary.p, ct.boundary.len))) {
			struct sa_lines nb = { 0 };

			if (sa_push(w->m, &nb, sa_blank) < 0)
				return -ENOMEM;
			for (size_t k = 0; k < body.n; k++)
				if (sa_push(w->m, &nb, body.v[k]) < 0)
					return -ENOMEM;
			body = nb;
		}
	}
	return sa_item(w, self, ct.boundary, ct.has_boundary, body.v, body.n,
	    subparse);
}

static void
sa_build(struct msg *m)
{
	struct sa_walk w = { .m = m };

	if (m->sa_done)
		return;
	m->sa_done = true;
	if (sa_message(&w, bstr_make(m->raw, m->len), SA_SUBPARSE, -1, 0,
	    true) < 0) {
		m->sa_parts.n = 0;
		return;
	}
	for (size_t i = 0; i < w.bst.n; i++)
		if (((struct sa_bstate *)w.bst.v)[i].v != 0)
			w.flags |= MSG_SA_MISSING_BOUNDARY;
	m->sa_flags = w.flags;
}

/* msg_sa_parts - SA's MIME tree in find_parts order */
const struct msg_sa_part *
msg_sa_parts(struct msg *m, size_t *n)
{
	sa_build(m);
	*n = m->sa_parts.n;
	return m->sa_parts.v;
}

/* msg_sa_flags - SA's parse flags */
unsigned
msg_sa_flags(struct msg *m)
{
	sa_build(m);
	return m->sa_flags;
}
