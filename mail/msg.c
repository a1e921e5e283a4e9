/*
 * mail/msg.c - parse a message once; the accessors and the text views
 *
 * msg_parse() runs the stages in order: header fields (header.c), the MIME
 * tree with decoded and rendered text parts (mime.c, html.c), the body and
 * rawbody views with SpamAssassin's semantics (here), URIs from the body
 * text and HTML (uri.c) and the Received chain (received.c). All memory
 * is in one arena per message, released by msg_free(). Errors: -ENOMEM
 * only; malformed input sets MSG_ERR_* flags and parsing carries on.
 * Limits: msg_opts (header bytes, text per view, parts, depth, URIs).
 */
#include "mail/mail_int.h"

#include <errno.h>
#include <string.h>

/* ASCII lowercase (msg__caseeq) */
const unsigned char msg__lc_tab[256] = {
	  0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,  15,
	 16,  17,  18,  19,  20,  21,  22,  23,  24,  25,  26,  27,  28,  29,  30,  31,
	 32,  33,  34,  35,  36,  37,  38,  39,  40,  41,  42,  43,  44,  45,  46,  47,
	 48,  49,  50,  51,  52,  53,  54,  55,  56,  57,  58,  59,  60,  61,  62,  63,
	 64,  97,  98,  99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
	112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122,  91,  92,  93,  94,  95,
	 96,  97,  98,  99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111,
	112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127,
	128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140, 141, 142, 143,
	144, 145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159,
	160, 161, 162, 163, 164, 165, 166, 167, 168, 169, 170, 171, 172, 173, 174, 175,
	176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191,
	192, 193, 194, 195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207,
	208, 209, 210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223,
	224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239,
	240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255,
};

/* msg__vec_push - append a zeroed element, doubling into the arena */
void *
msg__vec_push(struct arena *a, struct msg__vec *v, size_t sz)
{
	if (v->n == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 16;
		void *nv = arena_alloc(a, nc * sz);

		if (nv == NULL)
			return NULL;
		if (v->n)
			memcpy(nv, v->v, v->n * sz);
		v->v = nv;
		v->cap = nc;
	}
	void *e = (unsigned char *)v->v + v->n++ * sz;

	memset(e, 0, sz);
	return e;
}

/* msg__lower_dup - lowercased copy (a slice when already lowercase) */
struct bstr
msg__lower_dup(struct arena *a, struct bstr s)
{
	unsigned char *o;
	size_t i;

	for (i = 0; i < s.len; i++)
		if (s.p[i] >= 'A' && s.p[i] <= 'Z')
			break;
	if (i == s.len)
		return s;
	if ((o = arena_alloc(a, s.len + 1)) == NULL)
		return s;
	for (i = 0; i < s.len; i++)
		o[i] = msg__lc(s.p[i]);
	return bstr_make(o, s.len);
}

/* msg__ifind - offset of needle in hay ignoring ASCII case, or -1: memchr
 * for both cases of the first byte, then compare */
long
msg__ifind(struct bstr hay, struct bstr needle)
{
	if (needle.len == 0)
		return 0;
	if (needle.len > hay.len)
		return -1;
	unsigned char lo = msg__lc(needle.p[0]);
	unsigned char up = (lo >= 'a' && lo <= 'z') ? lo - 32 : lo;
	const unsigned char *end = hay.p + hay.len - needle.len + 1;
	const unsigned char *a = hay.p, *b = up != lo ? hay.p : NULL;

	for (;;) {
		/* next candidate of each case, found lazily */
		if (a)
			a = memchr(a, lo, (size_t)(end - a));
		if (b)
			b = memchr(b, up, (size_t)(end - b));
		const unsigned char *c = a == NULL ? b : b == NULL ? a :
		    a < b ? a : b;

		if (c == NULL)
			return -1;
		/* the second byte inline before the full compare */
		if ((needle.len == 1 || msg__lc(c[1]) == msg__lc(needle.p[1])) &&
		    msg__caseeq(bstr_make(c, needle.len), needle))
			return (long)(c - hay.p);
		if (c == a)
			a = a + 1 < end ? a + 1 : NULL;
		else
			b = b + 1 < end ? b + 1 : NULL;
	}
}

/* msg__find - offset of needle in hay, or -1 */
long
msg__find(struct bstr hay, struct bstr needle)
{
	if (needle.len == 0)
		return 0;
	if (needle.len > hay.len)
		return -1;
	const unsigned char *p = hay.p;
	const unsigned char *end = hay.p + hay.len - needle.len + 1;

	while ((p = memchr(p, needle.p[0], (size_t)(end - p))) != NULL) {
		if (memcmp(p + 1, needle.p + 1, needle.len - 1) == 0)
			return (long)(p - hay.p);
		p++;
	}
	return -1;
}

/* msg__ascii_prefix - bytes before the first one with the high bit set */
size_t
msg__ascii_prefix(const unsigned char *p, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (w & 0x8080808080808080ull)
			break;
	}
	while (i < len && p[i] < 0x80)
		i++;
	return i;
}

/* ---- text views -------------------------------------------------------- */

/* bytes that may start a \s (ASCII whitespace, lead bytes of the
 * Unicode spaces) */
static const unsigned char space_start[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* next_space_start - offset of the first byte at or after j that may
 * start a space (space_start[]), or len. Eight bytes at a time: every
 * such byte is below 0x21 or has the high bit set, and the lowest byte
 * flagged by the borrow test below is exact; flagged bytes are checked
 * against the table. */
static inline size_t
next_space_start(const unsigned char *t, size_t j, size_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	while (j + 8 <= len) {
		uint64_t w, f;

		memcpy(&w, t + j, 8);
		f = (((w - 0x2121212121212121ull) & ~w) | w) &
		    0x8080808080808080ull;
		for (; f != 0; f &= f - 1) {
			size_t b = (size_t)__builtin_ctzll(f) >> 3;

			if (space_start[t[j + b]])
				return j + b;
		}
		j += 8;
	}
#endif
	while (j < len && !space_start[t[j]])
		j++;
	return j;
}

/* Unicode whitespace as Perl's \s sees it, at p: its length or 0 */
static size_t
space_len(const unsigned char *p, size_t len)
{
	unsigned char c = p[0];

	if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v')
		return 1;
	if (c < 0xC2)
		return 0;
	if (c == 0xC2 && len >= 2 && (p[1] == 0xA0 || p[1] == 0x85))
		return 2;
	if (c == 0xE2 && len >= 3) {
		if (p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8A) ||
		    p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF))
			return 3;
		if (p[1] == 0x81 && p[2] == 0x9F)
			return 3;
	}
	if (c == 0xE3 && len >= 3 && p[1] == 0x80 && p[2] == 0x80)
		return 3;
	if (c == 0xE1 && len >= 3 && p[1] == 0x9A && p[2] == 0x80)
		return 3;
	return 0;
}

/* SA's body whitespace rules over t (in place, t is ours):
 *   s/\n+\s*\n+/\0/g; s/\s+/ /g; tr/\0/\n/
 * i.e. a whitespace run with two or more '\n' becomes [" "]"\n"[" "]
 * (a space for whitespace before the first and after the last '\n'),
 * any other run one space. */
static size_t
squash(unsigned char *t, size_t len)
{
	size_t i = 0, o = 0, k;

	while (i < len) {
		/* fast path: bytes that cannot start a space (every Unicode
		 * space starts with C2, E1, E2 or E3) and lone ASCII
		 * whitespace bytes between them (a run of one, which becomes
		 * one space) stay in one run; the run moves as one, and not
		 * at all while nothing has been squashed yet */
		size_t j = i;

		for (;;) {
			j = next_space_start(t, j, len);
			if (j + 1 < len && t[j] <= ' ' && !space_start[t[j + 1]]) {
				/* t[j] is one of \t \n \v \f \r ' ' */
				t[j] = ' ';
				j += 2;
				continue;
			}
			break;
		}
		if (j > i) {
			/* o < i: a forward byte copy is safe, and cheaper
			 * than a call for a short run */
			if (o != i && j - i <= 16)
				for (size_t q = i; q < j; q++)
					t[o + q - i] = t[q];
			else if (o != i)
				memmove(t + o, t + i, j - i);
			o += j - i;
			i = j;
			if (i >= len)
				break;
		}
		if ((k = space_len(t + i, len - i)) == 0) {
			t[o++] = t[i++];
			continue;
		}
		size_t r0 = i, first_nl = SIZE_MAX, last_nl = 0, nls = 0;

		while (i < len && (k = space_len(t + i, len - i)) != 0) {
			if (t[i] == '\n') {
				if (first_nl == SIZE_MAX)
					first_nl = i;
				last_nl = i;
				nls++;
			}
			i += k;
		}
		if (nls >= 2) {
			if (first_nl > r0)
				t[o++] = ' ';
			t[o++] = '\n';
			if (last_nl + 1 < i)
				t[o++] = ' ';
		} else {
			t[o++] = ' ';
		}
	}
	return o;
}

/* SA split_into_array_of_short_lines: split at '\n', then lines longer
 * than 2048 bytes at the last space before the limit. Lines keep no '\n'
 * here; n counts lines. */
static int
split_lines(struct arena *a, struct bstr text, struct bstr **out, size_t *n,
    bool short_lines)
{
	size_t cnt = 1;
	struct bstr *v;

	for (const unsigned char *q = text.p, *e = text.p + text.len;
	    q < e && (q = memchr(q, '\n', (size_t)(e - q))) != NULL; q++)
		cnt++;
	if (short_lines)
		cnt += text.len / (MSG__MAX_BODY_LINE / 2) + 1;
	if ((v = arena_alloc(a, cnt * sizeof(*v))) == NULL)
		return -ENOMEM;
	size_t k = 0, s = 0;

	while (s <= text.len && k < cnt) {
		const unsigned char *nl = memchr(text.p + s, '\n',
		    text.len - s);
		size_t e = nl ? (size_t)(nl - text.p) : text.len;

		/* SA: split (/^/m) gives no empty tail after a last '\n' */
		if (nl == NULL && e == s && k > 0)
			break;
		/* SA measures the line with its '\n' and cuts after the
		 * last space at or before offset 2048 (rindex) */
		while (short_lines && e - s + (nl != NULL) > MSG__MAX_BODY_LINE &&
		    k < cnt) {
			size_t cut = 0;

			for (size_t j = s + MSG__MAX_BODY_LINE + 1; j-- > s;)
				if (j < e && text.p[j] == ' ') {
					cut = j + 1 - s;
					break;
				}
			if (cut == 0)
				cut = MSG__MAX_BODY_LINE;
			v[k++] = bstr_make(text.p + s, cut);
			s += cut;
		}
		if (k < cnt)
			v[k++] = bstr_make(text.p + s, e - s);
		s = e + 1;
	}
	*out = v;
	*n = k;
	return 0;
}

static struct bstr
subject_line(struct msg *m)
{
	const struct msg_header *h = NULL;

	/* SA get_header in scalar context: the last one */
	for (size_t i = 0; i < m->nhdrs; i++)
		if (MSG__IEQ(m->hdrs[i].name, "subject"))
			h = &m->hdrs[i];
	if (h == NULL)
		return BSTR_NULL;
	/* SA unfolds "\n[ \t]+" to one space, then decodes */
	struct bstr v = bstr_trim(h->raw);
	unsigned char *o = arena_alloc(m->a, v.len + 1);
	size_t n = 0;

	if (o == NULL)
		return h->decoded;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] == '\r' && i + 1 < v.len && v.p[i + 1] == '\n')
			continue;
		if (v.p[i] == '\n') {
			o[n++] = ' ';
			while (i + 1 < v.len && (v.p[i + 1] == ' ' ||
			    v.p[i + 1] == '\t'))
				i++;
			continue;
		}
		o[n++] = v.p[i];
	}
	return msg__rfc2047(m->a, &m->iconvs, bstr_make(o, n), &m->flags);
}

/* a hard cut of UTF-8 text at cut, moved back to a character boundary
 * (the views stay valid UTF-8) */
static size_t
utf8_floor(const unsigned char *p, size_t len, size_t cut)
{
	for (int k = 0; k < 3 && cut > 0 && cut < len &&
	    (p[cut] & 0xC0) == 0x80; k++)
		cut--;
	return cut;
}

/* cap a part's text at max like SA body_part_scan_size: at the next
 * newline (or space) within 1 KiB after the cap, else hard */
static struct bstr
cap_text(struct msg *m, struct bstr t, bool allow_space)
{
	/* body (rendered, allow_space): SA body_part_scan_size per part;
	 * rawbody: rawbody_part_scan_size, ours max_body_text */
	size_t max = allow_space ? m->o.max_body_part : m->o.max_body_text;

	if (t.len <= max)
		return t;
	m->flags |= MSG_ERR_TEXT_TRUNC;
	struct bstr win = bstr_sub(t, max, 1025);
	const unsigned char *nl = memchr(win.p, '\n', win.len);

	if (nl == NULL && allow_space)
		nl = memchr(win.p, ' ', win.len);
	if (nl)
		return bstr_make(t.p, (size_t)(nl + 1 - t.p));
	return bstr_make(t.p, utf8_floor(t.p, t.len, max));
}

static int
build_body(struct msg *m)
{
	const struct msg_part *p = m->parts.v;
	struct bstr subj = subject_line(m);
	size_t total = subj.len + 2, n;
	unsigned char *t;

	for (size_t i = 0; i < m->parts.n; i++)
		total += cap_text(m, p[i].rendered, true).len + 1;
	if ((t = arena_alloc(m->a, total)) == NULL)
		return -ENOMEM;
	/* the subject line is not squashed: SA prepends it afterwards */
	if (subj.len)
		memcpy(t, subj.p, subj.len);
	n = subj.len;
	t[n++] = '\n';
	size_t b0 = n;

	for (size_t i = 0; i < m->parts.n; i++) {
		if (p[i].is_multipart || p[i].is_message)
			continue;
		/* SA: "\n" between leaves once there is text */
		if (n > b0)
			t[n++] = '\n';
		if (p[i].rendered.p == NULL)
			continue;
		struct bstr r = cap_text(m, p[i].rendered, true);

		/* the whole view stays within max_body_text */
		if (n - b0 + r.len > m->o.max_body_text) {
			m->flags |= MSG_ERR_TEXT_TRUNC;
			r.len = utf8_floor(r.p, r.len,
			    n - b0 < m->o.max_body_text ?
			    m->o.max_body_text - (n - b0) : 0);
		}
		if (r.len)
			memcpy(t + n, r.p, r.len);
		n += r.len;
	}
	n = b0 + squash(t + b0, n - b0);
	m->body_text = bstr_make(t, n);
	/* the joined view drops the trailing newline of the last line */
	if (split_lines(m->a, m->body_text, &m->body_lines, &m->nbody,
	    true) < 0)
		return -ENOMEM;
	return 0;
}

static int
build_rawbody(struct msg *m)
{
	const struct msg_part *p = m->parts.v;
	size_t total = 1, n = 0;
	unsigned char *t;

	for (size_t i = 0; i < m->parts.n; i++)
		if (p[i].is_text && !bstr_caseeq_cstr(p[i].ctype,
		    "text/calendar"))
			total += cap_text(m, p[i].text, false).len + 1;
	if ((t = arena_alloc(m->a, total)) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < m->parts.n; i++) {
		/* SA: text and message leaves, not text/calendar */
		if (!p[i].is_text || bstr_caseeq_cstr(p[i].ctype,
		    "text/calendar"))
			continue;
		struct bstr r = cap_text(m, p[i].text, false);

		if (n > 0 && t[n - 1] != '\n')
			t[n++] = '\n';
		if (n + r.len > m->o.max_body_text) {
			m->flags |= MSG_ERR_TEXT_TRUNC;
			r.len = utf8_floor(r.p, r.len,
			    n < m->o.max_body_text ?
			    m->o.max_body_text - n : 0);
		}
		if (r.len)
			memcpy(t + n, r.p, r.len);
		n += r.len;
	}
	m->raw_text = bstr_make(t, n);
	return split_lines(m->a, m->raw_text, &m->raw_lines, &m->nraw,
	    false);
}

/* ---- parse / free ------------------------------------------------------ */

/* msg_parse - parse raw[0..len) into *out */
int
msg_parse(const unsigned char *raw, size_t len, const struct msg_opts *o,
    struct msg **out)
{
	struct arena *a;
	struct msg *m;
	size_t body_off;
	int rc;

	*out = NULL;
	if ((a = arena_new(64 * 1024)) == NULL)
		return -ENOMEM;
	if ((m = arena_calloc(a, 1, sizeof(*m))) == NULL) {
		arena_free(a);
		return -ENOMEM;
	}
	m->a = a;
	m->raw = raw;
	m->len = len;
	if (o)
		m->o = *o;
	if (!m->o.max_header_bytes)
		m->o.max_header_bytes = MSG_DEF_MAX_HEADER_BYTES;
	if (!m->o.max_body_text)
		m->o.max_body_text = MSG_DEF_MAX_BODY_TEXT;
	if (!m->o.max_parts)
		m->o.max_parts = MSG_DEF_MAX_PARTS;
	if (!m->o.max_depth)
		m->o.max_depth = MSG_DEF_MAX_DEPTH;
	if (!m->o.max_uris)
		m->o.max_uris = MSG_DEF_MAX_URIS;
	if (!m->o.max_body_part)
		m->o.max_body_part = MSG_DEF_MAX_BODY_PART;
	if (len && memchr(raw, '\0', len))
		m->flags |= MSG_ERR_NUL;
	if ((rc = msg__headers_parse(m, bstr_make(raw, len), 0, &m->hdrs,
	    &m->nhdrs, &body_off, &m->flags)) < 0)
		goto fail;
	{
		size_t he = body_off;

		/* the header block excludes the blank line */
		if (he > 0 && raw[he - 1] == '\n') {
			he--;
			if (he > 0 && raw[he - 1] == '\r')
				he--;
			if (he > 0 && raw[he - 1] == '\n' &&
			    !(m->flags & MSG_ERR_NO_BODY_SEP)) {
				he--;
				if (he > 0 && raw[he - 1] == '\r')
					he--;
			}
		}
		m->hblock = bstr_make(raw, he);
		m->body = bstr_make(raw + body_off, len - body_off);
	}
	if ((rc = msg__mime_parse(m)) < 0 || (rc = build_body(m)) < 0 ||
	    (rc = build_rawbody(m)) < 0)
		goto fail;
	/* URIs: HTML ones were added while rendering; then the body text
	 * (SA parses the rendered body), then List-Unsubscribe */
	msg__uri_text(m, m->body_text);
	for (size_t i = 0; i < m->nhdrs; i++)
		if (MSG__IEQ(m->hdrs[i].name, "list-unsubscribe")) {
			struct bstr v = m->hdrs[i].value;
			size_t k = 0;

			while (k < v.len) {
				const unsigned char *lt = memchr(v.p + k, '<',
				    v.len - k);
				const unsigned char *gt;

				if (lt == NULL || (gt = memchr(lt, '>',
				    v.len - (size_t)(lt - v.p))) == NULL)
					break;
				msg__uri_add(m, bstr_make(lt + 1,
				    (size_t)(gt - lt - 1)), MSG_URI_HEADER);
				k = (size_t)(gt - v.p) + 1;
			}
		}
	if ((rc = msg__uri_finish(m)) < 0 || (rc = msg__received_parse(m)) < 0)
		goto fail;
	*out = m;
	return 0;
fail:
	arena_free(a);
	return rc;
}

/* msg_free - release the message and everything from its arena */
struct msg *
msg_free(struct msg *m)
{
	if (m != NULL)
		arena_free(m->a);
	return NULL;
}

struct arena *
msg_arena(const struct msg *m)
{
	return m->a;
}

unsigned
msg_flags(const struct msg *m)
{
	return m->flags;
}

/* ---- accessors --------------------------------------------------------- */

size_t
msg_header_count(const struct msg *m)
{
	return m->nhdrs;
}

const struct msg_header *
msg_header_at(const struct msg *m, size_t i)
{
	return i < m->nhdrs ? &m->hdrs[i] : NULL;
}

const struct msg_header *
msg_header_get(const struct msg *m, const char *name, size_t nth)
{
	return msg__hdr_find(m->hdrs, m->nhdrs, name, nth);
}

size_t
msg_header_count_named(const struct msg *m, const char *name)
{
	struct bstr want = bstr_cstr(name);
	size_t n = 0;

	for (size_t i = 0; i < m->nhdrs; i++)
		if (m->hdrs[i].name.len == want.len &&
		    msg__caseeq(m->hdrs[i].name, want))
			n++;
	return n;
}

struct bstr
msg_header_block(const struct msg *m)
{
	return m->hblock;
}

struct bstr
msg_raw_body(const struct msg *m)
{
	return m->body;
}

struct bstr
msg_full(const struct msg *m)
{
	return bstr_make(m->raw, m->len);
}

size_t
msg_part_count(const struct msg *m)
{
	return m->parts.n;
}

const struct msg_part *
msg_part_at(const struct msg *m, size_t i)
{
	return i < m->parts.n ? &((const struct msg_part *)m->parts.v)[i] :
	    NULL;
}

const struct bstr *
msg_body_lines(const struct msg *m, size_t *n)
{
	*n = m->nbody;
	return m->body_lines;
}

const struct bstr *
msg_rawbody_lines(const struct msg *m, size_t *n)
{
	*n = m->nraw;
	return m->raw_lines;
}

struct bstr
msg_body_text(const struct msg *m)
{
	return m->body_text;
}

struct bstr
msg_rawbody_text(const struct msg *m)
{
	return m->raw_text;
}

const struct msg_uri *
msg_uris(const struct msg *m, size_t *n)
{
	*n = m->uris.n;
	return m->uris.v;
}

const struct bstr *
msg_uri_hosts(const struct msg *m, size_t *n)
{
	*n = m->nhosts;
	return m->hosts;
}

const struct msg_html *
msg_html(const struct msg *m)
{
	return &m->html;
}

const struct msg_html_part *
msg_html_parts(const struct msg *m, size_t *n)
{
	*n = m->html_parts.n;
	return m->html_parts.v;
}

const struct msg_relay *
msg_relays(const struct msg *m, size_t *n)
{
	*n = m->nrelays;
	return m->relays;
}

const struct msg_relay *
msg_last_external(const struct msg *m)
{
	return m->last_external;
}

const struct msg_relay *
msg_untrusted_relays(const struct msg *m, size_t *n)
{
	*n = m->nuntrusted;
	return m->untrusted;
}
