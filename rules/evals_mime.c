/*
 * rules/evals_mime - SpamAssassin's MIME, body, image and HTML-image
 * evals over SA's own MIME tree: MIMEEval.pm, BodyEval.pm, ImageInfo.pm,
 * HTMLEval.pm (html_image_only, html_image_ratio)
 *
 * The facts come from msg_sa_parts() (SA's Message.pm parse: raw lines
 * per part, its types and parse flags) and are computed once per message
 * into c->mime, from the message arena, as SA caches them in its
 * PerMsgStatus (_check_attachments, _multipart_alternative_difference,
 * _get_images). Each function returns the hit count (0 or 1); a missing
 * or malformed argument makes the rule not fire. No network, no logging.
 *
 * Not here on purpose: check_for_faraway_charset, check_for_mime(
 * 'mime_faraway_charset') and html_charset_faraway read SA's ok_locales,
 * which filterd does not take (rules/parse.c ignores it): with SA's
 * default "all" they never fire, and lint says so.
 */
#include "rules/rules_int.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mail/msg.h"
#include "util/arena.h"

#define arg rule__eval_arg
#define argnum rule__eval_argnum

/* the image types ImageInfo reads */
enum { IMG_GIF, IMG_PNG, IMG_JPEG, IMG_N };

struct rule__mime {
	/* _check_attachments results */
	unsigned base64_count, qp_parts, body_html_count, body_text_count;
	unsigned attachment, ascii_text_illegal;
	bool base64_encoded_text, bad_iso_charset, multipart_alternative;
	bool qp_long_line, missing_boundary, limit;
	double multipart_ratio, qp_ratio, text_unicode_ratio;
	size_t qp_count, qp_bytes;
	bool fp_charset; /* a charset that makes uppercase checks FP */
	/* _check_base64_length */
	size_t base64_length;
	/* _multipart_alternative_difference */
	bool madiff_done;
	double madiff;
	size_t madiff_html, madiff_text;
	/* _get_images */
	bool img_done;
	unsigned count[IMG_N];
	uint64_t area[IMG_N];
	/* check_for_uppercase */
	bool upper_done;
	double upper;
	/* tvd_vertical_words */
	bool tvd_done;
	int tvd;
};

static bool
space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

static bool
word(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == '_';
}

static size_t
line_len(const struct msg_sa_line *l)
{
	return (size_t)l->len + l->nl;
}

static bool
has(struct bstr s, const char *needle)
{
	return bstr_find(s, bstr_cstr(needle)) >= 0;
}

/* SA CHARSETS_LIKELY_TO_FP_AS_CAPS, anchored: [-_a-z0-9]*(?:koi|jp|jis|
 * euc|gb|big5|isoir|cp1251|windows-1251|georgianps|pt154|tis)[-_a-z0-9]* */
static bool
fp_as_caps(struct bstr cs)
{
	static const char *const v[] = { "koi", "jp", "jis", "euc", "gb",
		"big5", "isoir", "cp1251", "windows-1251", "georgianps",
		"pt154", "tis" };

	if (cs.len == 0)
		return false;
	for (size_t i = 0; i < cs.len; i++)
		if (!word(cs.p[i]) && cs.p[i] != '-')
			return false;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (bstr_casefind(cs, bstr_cstr(v[i])) >= 0)
			return true;
	return false;
}

/* MIMEEval get_charset_from_ct_line: charset="x", charset='x' or
 * charset=\S+ of the message's Content-Type */
static struct bstr
ct_line_charset(struct msg *m)
{
	const struct msg_header *h = msg_header_get(m, "Content-Type", 0);
	struct bstr v;
	long k;
	size_t e;

	if (h == NULL)
		return BSTR_NULL;
	v = h->decoded;
	if ((k = bstr_casefind(v, BSTR_LIT("charset="))) < 0)
		return BSTR_NULL;
	v = bstr_sub(v, (size_t)k + 8, v.len - (size_t)k - 8);
	if (v.len && (v.p[0] == '"' || v.p[0] == '\'')) {
		for (e = 1; e < v.len && v.p[e] != v.p[0]; e++)
			;
		if (e == v.len || e == 1)
			return BSTR_NULL;
		return bstr_sub(v, 1, e - 1);
	}
	for (e = 0; e < v.len && !space(v.p[e]); e++)
		;
	return bstr_sub(v, 0, e);
}

/* /iso-\S+-\S+\b/i and not /iso-(?:8859-\d{1,2}|2022-(?:jp|kr))\b/ */
static bool
bad_iso(struct bstr cs)
{
	bool any = false;

	for (size_t i = 0; i + 4 <= cs.len && !any; i++) {
		size_t e = i + 4, j;

		if (!bstr_caseeq_cstr(bstr_sub(cs, i, 4), "iso-"))
			continue;
		while (e < cs.len && !space(cs.p[e]))
			e++;
		/* a '-' after one or more \S, then \S+ and a \b */
		for (j = i + 5; j + 1 < e && !any; j++) {
			if (cs.p[j] != '-')
				continue;
			for (size_t k = j + 2; k <= e; k++) {
				bool a = word(cs.p[k - 1]),
				     b = k < cs.len && word(cs.p[k]);

				if (a != b) {
					any = true;
					break;
				}
			}
		}
	}
	if (!any)
		return false;
	for (size_t i = 0; i + 4 <= cs.len; i++) {
		struct bstr t = bstr_sub(cs, i, cs.len - i);
		size_t k;

		if (t.len >= 9 && memcmp(t.p, "iso-8859-", 9) == 0) {
			for (k = 9; k < t.len && k < 11 && t.p[k] >= '0' &&
			     t.p[k] <= '9'; k++)
				;
			/* \d{1,2} backtracks: a \b after one or two */
			for (size_t d = k; d > 9; d--)
				if (d == t.len || !word(t.p[d]))
					return false;
		}
		if (t.len >= 11 && (memcmp(t.p, "iso-2022-jp", 11) == 0 ||
		    memcmp(t.p, "iso-2022-kr", 11) == 0) &&
		    (t.len == 11 || !word(t.p[11])))
			return false;
	}
	return true;
}

/* m/=(?:09|3[0-9ABCEF]|[2456][0-9A-F]|7[0-9A-E])/g: QP-encoded characters
 * that did not need encoding */
static size_t
qp_excess(const struct msg_sa_line *l)
{
	size_t n = 0;

	for (size_t i = 0; i + 2 < l->len; i++) {
		unsigned char a = l->p[i + 1], b = l->p[i + 2];
		bool hex = (b >= '0' && b <= '9') || (b >= 'A' && b <= 'F');

		if (l->p[i] != '=')
			continue;
		if ((a == '0' && b == '9') || (a == '3' && hex && b != 'D') ||
		    ((a == '2' || a == '4' || a == '5' || a == '6') && hex) ||
		    (a == '7' && hex && b != 'F')) {
			n++;
			i += 2;
		}
	}
	return n;
}

/* m/((?:=09|=20)+)\s*$/: the length of the leftmost run of "=09"/"=20"
 * that only whitespace follows */
static size_t
qp_trailing(const struct msg_sa_line *l)
{
	size_t e = l->len;

	while (e > 0 && space(l->p[e - 1]))
		e--;
	size_t s = e;

	while (s >= 3 && l->p[s - 3] == '=' &&
	    ((l->p[s - 2] == '0' && l->p[s - 1] == '9') ||
		(l->p[s - 2] == '2' && l->p[s - 1] == '0')))
		s -= 3;
	return e - s;
}

/* _check_attachments and _check_base64_length, once per message */
static struct rule__mime *
mime(struct rule_ctx *c)
{
	struct rule__mime *f = c->mime;
	size_t n, npart = 0;
	const struct msg_sa_part *v;
	size_t normal = 0, unicode = 0;
	/* per leaf: bytes (SIZE_MAX: an attachment, SA undef) and type */
	size_t *bytes;
	const struct bstr **types;
	struct bstr cs;

	if (f != NULL)
		return f;
	if ((f = arena_calloc(c->arena, 1, sizeof(*f))) == NULL)
		return NULL;
	v = msg_sa_parts(c->msg, &n);
	f->multipart_ratio = 1.0;
	bytes = arena_calloc(c->arena, n + 1, sizeof(*bytes));
	types = arena_calloc(c->arena, n + 1, sizeof(*types));
	if (bytes == NULL || types == NULL)
		return NULL;
	cs = ct_line_charset(c->msg);
	f->fp_charset = fp_as_caps(cs);
	for (size_t i = 0; i < n; i++) {
		const struct msg_sa_part *p = &v[i];
		struct bstr ct = p->ctype, cte = p->cte, cd = p->cd;
		bool text = bstr_casestarts(ct, "text");
		bool b64 = has(cte, "base64"), att = has(cd, "attachment");

		if (bstr_caseeq_cstr(ct, "multipart/alternative"))
			f->multipart_alternative = true;
		/* _check_mime_header */
		if (bstr_caseeq_cstr(ct, "text/html"))
			f->body_html_count++;
		else if (text)
			f->body_text_count++;
		if (b64)
			f->base64_count++;
		else if (has(cte, "quoted-printable"))
			f->qp_parts++;
		if (att)
			f->attachment++;
		/* the ASCII charsets as SA lists them, unanchored */
		if (text && b64 &&
		    (p->charset.len == 0 ||
			has(p->charset, "us-ascii") ||
			has(p->charset, "ansi_x3.4-1968") ||
			has(p->charset, "iso-ir-6") ||
			has(p->charset, "ansi_x3.4-1986") ||
			has(p->charset, "iso_646.irv:1991") ||
			has(p->charset, "ascii") || has(p->charset, "iso646-us") ||
			has(p->charset, "us") || has(p->charset, "ibm367") ||
			has(p->charset, "cp367") || has(p->charset, "csascii")) &&
		    !bstr_casestarts(cd, "attachment") &&
		    !bstr_casestarts(cd, "inline"))
			f->base64_encoded_text = true;
		if (bad_iso(p->charset))
			f->bad_iso_charset = true;
		for (size_t k = 0; k < p->charset.len; k++)
			if ((p->charset.p[k] | 0x20) >= 'a' &&
			    (p->charset.p[k] | 0x20) <= 'z') {
				/* SA's mime_html_charsets */
				if (fp_as_caps(p->charset))
					f->fp_charset = true;
				break;
			}
		if (!p->leaf)
			continue;
		/* a leaf's raw lines */
		bool ma_text = !att && (bstr_caseeq_cstr(ct, "text/plain") ||
		    bstr_caseeq_cstr(ct, "text/html"));
		bool qp = bstr_caseeq_cstr(cte, "quoted-printable");
		bool ascii = bstr_caseeq_cstr(ct, "text/plain") &&
		    (!p->has_charset ||
			bstr_caseeq_cstr(p->charset, "us-ascii"));
		bool uni = bstr_caseeq_cstr(ct, "text/plain") &&
		    (cte.len == 0 || bstr_caseeq_cstr(cte, "7bit") ||
			bstr_caseeq_cstr(cte, "8bit"));
		bool b64len = bstr_caseeq_cstr(cte, "base64") &&
		    !bstr_caseeq_cstr(p->type, "application/ics");

		types[npart] = &p->ctype;
		bytes[npart] = att ? SIZE_MAX : 0;
		for (size_t k = 0; k < p->nlines; k++) {
			const struct msg_sa_line *l = &p->lines[k];
			size_t len = line_len(l);

			if (f->multipart_alternative && ma_text)
				bytes[npart] += len;
			if (b64len && len > f->base64_length)
				f->base64_length = len;
			if (qp && !(l->len >= 6 &&
			    memcmp(l->p, "SPAM: ", 6) == 0)) {
				/* RFC 5322's 78 plus the "\n", not RFC
				 * 2045's 76 (SA bug 5491) */
				if (len > 78 + 1)
					f->qp_long_line = true;
				f->qp_bytes += len;
				if (memchr(l->p, '=', l->len) != NULL) {
					size_t x = qp_excess(l);

					if (x) {
						f->qp_count += x;
						x = qp_trailing(l) / 3;
						f->qp_count = f->qp_count > x ?
						    f->qp_count - x : 0;
					}
				}
			}
			if (ascii)
				for (size_t j = 0; j < l->len; j++)
					if (l->p[j] == 0 || l->p[j] == '\r' ||
					    l->p[j] >= 0x80) {
						f->ascii_text_illegal++;
						break;
					}
			if (uni) {
				size_t subs = 0;

				/* s/&#x[0-9A-F]{4};//g */
				for (size_t j = 0; j + 8 <= l->len; j++) {
					size_t q;

					if (memcmp(l->p + j, "&#x", 3) != 0 ||
					    l->p[j + 7] != ';')
						continue;
					for (q = j + 3; q < j + 7; q++)
						if (!((l->p[q] >= '0' &&
							  l->p[q] <= '9') ||
							(l->p[q] >= 'A' &&
							    l->p[q] <= 'F')))
							break;
					if (q == j + 7) {
						subs++;
						j += 7;
					}
				}
				normal += len - subs * 8;
				unicode += subs;
			}
		}
		npart++;
	}
	if (f->qp_bytes)
		f->qp_ratio = (double)f->qp_count / (double)f->qp_bytes;
	if (normal)
		f->text_unicode_ratio = (double)unicode / (double)normal;
	if (f->multipart_alternative) {
		/* bug 4207: the sizes of the last text and HTML parts */
		size_t text = SIZE_MAX, html = SIZE_MAX;

		for (size_t i = npart; i-- > 0;) {
			if (bytes[i] == SIZE_MAX)
				continue;
			if (html == SIZE_MAX &&
			    bstr_caseeq_cstr(*types[i], "text/html"))
				html = bytes[i];
			else if (text == SIZE_MAX &&
			    bstr_caseeq_cstr(*types[i], "text/plain"))
				text = bytes[i];
			if (html != SIZE_MAX && text != SIZE_MAX)
				break;
		}
		if (text != SIZE_MAX && html != SIZE_MAX && html > 0)
			f->multipart_ratio = (double)text / (double)html;
	}
	f->missing_boundary =
	    (msg_sa_flags(c->msg) & MSG_SA_MISSING_BOUNDARY) != 0;
	f->limit = (msg_sa_flags(c->msg) & MSG_SA_MIMEPART_LIMIT) != 0;
	c->mime = f;
	return f;
}

/* MIMEEval --------------------------------------------------------------- */

/* check_for_mime(test) - SA MIMEEval::check_for_mime: the named result of
 * _check_attachments is true. mimepart_limit_exceeded: deliberate
 * difference, SA 4.0 looks for it in the PerMsgStatus while Message.pm
 * sets it on the message, so SA never fires it; we fire as meant. */
static int
ev_check_for_mime(struct rule_ctx *c, const struct rule *r)
{
	const char *t = arg(r, 0);
	struct rule__mime *f = mime(c);

	if (t == NULL || f == NULL)
		return 0;
	if (!strcmp(t, "mime_base64_count"))
		return f->base64_count > 0;
	if (!strcmp(t, "mime_base64_encoded_text"))
		return f->base64_encoded_text;
	if (!strcmp(t, "mime_body_html_count"))
		return f->body_html_count > 0;
	if (!strcmp(t, "mime_body_text_count"))
		return f->body_text_count > 0;
	if (!strcmp(t, "mime_missing_boundary"))
		return f->missing_boundary;
	if (!strcmp(t, "mime_multipart_alternative"))
		return f->multipart_alternative;
	if (!strcmp(t, "mime_multipart_ratio"))
		return f->multipart_ratio != 0;
	/* SA overwrites the part count with the count of needlessly
	 * encoded characters when there were QP lines */
	if (!strcmp(t, "mime_qp_count"))
		return f->qp_bytes ? f->qp_count > 0 : f->qp_parts > 0;
	if (!strcmp(t, "mime_qp_bytes"))
		return f->qp_bytes > 0;
	if (!strcmp(t, "mime_qp_long_line"))
		return f->qp_long_line;
	if (!strcmp(t, "mime_qp_ratio"))
		return f->qp_ratio != 0;
	if (!strcmp(t, "mime_ascii_text_illegal"))
		return f->ascii_text_illegal > 0;
	if (!strcmp(t, "mime_text_unicode_ratio"))
		return f->text_unicode_ratio != 0;
	if (!strcmp(t, "mime_attachment"))
		return f->attachment > 0;
	if (!strcmp(t, "mime_bad_iso_charset"))
		return f->bad_iso_charset;
	if (!strcmp(t, "mimepart_limit_exceeded"))
		return f->limit;
	return 0;
}

/* check_mime_multipart_ratio(min, max) - SA: min <= text/html bytes of
 * the last multipart/alternative pair < max (1.0 without one) */
static int
ev_check_mime_multipart_ratio(struct rule_ctx *c, const struct rule *r)
{
	struct rule__mime *f = mime(c);
	double min = argnum(r, 0, NAN), max = argnum(r, 1, NAN);

	if (f == NULL || isnan(min) || isnan(max))
		return 0;
	return f->multipart_ratio >= min && f->multipart_ratio < max;
}

/* check_for_ascii_text_illegal() - SA: a text/plain us-ascii (or no
 * charset) line holds NUL, CR or 8-bit bytes */
static int
ev_check_for_ascii_text_illegal(struct rule_ctx *c, const struct rule *r)
{
	struct rule__mime *f = mime(c);

	(void)r;
	return f != NULL && f->ascii_text_illegal > 0;
}

/* check_abundant_unicode_ratio(ratio) - SA: "&#xHHHH;" entities per
 * character of 7bit/8bit text/plain reach ratio (ratio as \d{0,3}\.\d{1,3}) */
static int
ev_check_abundant_unicode_ratio(struct rule_ctx *c, const struct rule *r)
{
	const char *a = arg(r, 0);
	struct rule__mime *f;
	size_t i = 0, d = 0;

	if (a == NULL)
		return 0;
	while (a[i] >= '0' && a[i] <= '9' && i < 3)
		i++;
	if (a[i++] != '.')
		return 0;
	while (a[i] >= '0' && a[i] <= '9' && d < 3) {
		i++;
		d++;
	}
	if (d == 0 || a[i] != '\0' || (f = mime(c)) == NULL)
		return 0;
	return f->text_unicode_ratio >= strtod(a, NULL);
}

/* check_qp_ratio(min) - SA: needlessly QP-encoded characters per QP byte
 * reach min */
static int
ev_check_qp_ratio(struct rule_ctx *c, const struct rule *r)
{
	struct rule__mime *f = mime(c);
	double min = argnum(r, 0, NAN);

	if (f == NULL || isnan(min))
		return 0;
	return f->qp_ratio >= min;
}

/* check_msg_parse_flags(flag) - SA: Message.pm set the flag while
 * parsing */
static int
ev_check_msg_parse_flags(struct rule_ctx *c, const struct rule *r)
{
	static const struct {
		const char *name;
		unsigned flag;
	} v[] = {
		{ "missing_head_body_separator", MSG_SA_MISSING_HB_SEP },
		{ "truncated_header", MSG_SA_TRUNCATED_HEADER },
		{ "missing_mime_headers", MSG_SA_MISSING_MIME_HEADERS },
		{ "missing_mime_head_body_separator",
		    MSG_SA_MISSING_MIME_HB_SEP },
		{ "mime_epilogue_exists", MSG_SA_MIME_EPILOGUE },
		{ "mimepart_limit_exceeded", MSG_SA_MIMEPART_LIMIT },
	};
	const char *t = arg(r, 0);

	if (t == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (!strcmp(t, v[i].name))
			return (msg_sa_flags(c->msg) & v[i].flag) != 0;
	return 0;
}

/* check_ma_non_text() - SA: a multipart/alternative has a leaf child
 * that is not text, application/rtf or multipart/related */
static int
ev_check_ma_non_text(struct rule_ctx *c, const struct rule *r)
{
	size_t n;
	const struct msg_sa_part *v = msg_sa_parts(c->msg, &n);

	(void)r;
	for (size_t i = 0; i < n; i++) {
		int up = v[i].parent;

		if (!v[i].leaf || up < 0 ||
		    !bstr_caseeq_cstr(v[up].type, "multipart/alternative"))
			continue;
		if (bstr_caseeq_cstr(v[i].type, "multipart/related") ||
		    bstr_caseeq_cstr(v[i].type, "application/rtf") ||
		    bstr_casestarts(v[i].type, "text/"))
			continue;
		return 1;
	}
	return 0;
}

/* check_base64_length(min[, max]) - SA: the longest raw line (with its
 * "\n") of a base64 leaf, not application/ics, is >= min and <= max */
static int
ev_check_base64_length(struct rule_ctx *c, const struct rule *r)
{
	struct rule__mime *f = mime(c);
	double min = argnum(r, 0, NAN), max = argnum(r, 1, NAN);

	if (f == NULL || isnan(min))
		return 0;
	if (r->nargs > 1 && !isnan(max) && (double)f->base64_length > max)
		return 0;
	return (double)f->base64_length >= min;
}

/* BodyEval --------------------------------------------------------------- */

/* UTF-8 characters of s (SA counts Perl characters) */
static size_t
chars(struct bstr s)
{
	size_t n = 0;

	for (size_t i = 0; i < s.len; i++)
		n += (s.p[i] & 0xC0) != 0x80;
	return n;
}

/* whitespace for split /\s+/ on SA's (character) text: ASCII \s, and the
 * Unicode spaces HTML entities render to; the length of the one at p */
static size_t
wspace(const unsigned char *p, size_t len)
{
	if (space(p[0]))
		return 1;
	if (len >= 2 && p[0] == 0xC2 && (p[1] == 0xA0 || p[1] == 0x85))
		return 2;
	if (len >= 3 && p[0] == 0xE2 && p[1] == 0x80 &&
	    ((p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 ||
		p[2] == 0xAF))
		return 3;
	if (len >= 3 && ((p[0] == 0xE2 && p[1] == 0x81 && p[2] == 0x9F) ||
	    (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80)))
		return 3;
	return 0;
}

struct tok {
	struct bstr w;
	uint32_t html, text;
};

struct toks {
	struct arena *arena;
	struct tok *v;
	size_t cap, n; /* cap a power of two, n < cap / 2 */
};

static struct tok *
tok_slot(struct tok *v, size_t cap, struct bstr w)
{
	size_t i = (size_t)bstr_hash(w) & (cap - 1);

	while (v[i].w.p != NULL && !bstr_eq(v[i].w, w))
		i = (i + 1) & (cap - 1);
	return &v[i];
}

/* tok_get - w's entry, added when new; the table doubles when half full,
 * so a probe always ends at an empty slot. NULL: out of memory. */
static struct tok *
tok_get(struct toks *t, struct bstr w)
{
	struct tok *x = tok_slot(t->v, t->cap, w);

	if (x->w.p != NULL)
		return x;
	if ((t->n + 1) * 2 > t->cap) {
		size_t ncap = t->cap * 2;
		struct tok *nv = arena_calloc(t->arena, ncap, sizeof(*nv));

		if (nv == NULL)
			return NULL;
		for (size_t i = 0; i < t->cap; i++)
			if (t->v[i].w.p != NULL)
				*tok_slot(nv, ncap, t->v[i].w) = t->v[i];
		t->v = nv;
		t->cap = ncap;
		x = tok_slot(t->v, t->cap, w);
	}
	x->w = w;
	t->n++;
	return x;
}

/* split /\s+/, keep tokens with a word character (ASCII \w, or any
 * non-ASCII character: SA's rendered text is Perl characters) */
static void
tok_add(struct toks *t, struct bstr s, bool html, size_t *distinct)
{
	size_t i = 0, k;

	while (i < s.len) {
		size_t start;
		bool w = false;

		while (i < s.len && (k = wspace(s.p + i, s.len - i)) > 0)
			i += k;
		start = i;
		while (i < s.len && wspace(s.p + i, s.len - i) == 0) {
			w |= word(s.p[i]) || s.p[i] >= 0x80;
			i++;
		}
		if (i > start && w) {
			struct tok *x = tok_get(t, bstr_make(s.p + start,
			    i - start));
			uint32_t *cnt;

			if (x == NULL)
				return;
			cnt = html ? &x->html : &x->text;
			if (*cnt == 0)
				(*distinct)++;
			(*cnt)++;
		}
	}
}

/* the RFC tree's part holding an SA leaf's lines (by address) */
static const struct msg_part *
rfc_part(struct rule_ctx *c, const struct msg_sa_part *p)
{
	const unsigned char *at;

	if (p->nlines == 0)
		return NULL;
	at = p->lines[0].p;
	for (size_t i = 0, n = msg_part_count(c->msg); i < n; i++) {
		const struct msg_part *q = msg_part_at(c->msg, i);

		if (q->is_multipart || q->is_message || q->raw_body.p == NULL)
			continue;
		if (at >= q->raw_body.p && at < q->raw_body.p + q->raw_body.len)
			return q;
	}
	return NULL;
}

static bool
html_inside_img(struct rule_ctx *c, unsigned part)
{
	size_t n;
	const struct msg_html_part *h = msg_html_parts(c->msg, &n);

	for (size_t i = 0; h != NULL && i < n; i++) {
		if (h[i].part != part)
			continue;
		for (size_t k = 0; k < h[i].ninside; k++)
			if (bstr_eq(h[i].inside[k].name, BSTR_LIT("img")))
				return true;
	}
	return false;
}

/* SA Node::effective_type: a name ending .htm(l)/.shtm(l) is HTML */
static struct bstr
effective_type(const struct msg_sa_part *p)
{
	struct bstr n = p->name;
	static const char *const ext[] = { ".html", ".htm", ".shtml",
		".shtm" };

	for (size_t i = 0; i < 4; i++) {
		size_t el = strlen(ext[i]);

		if (n.len >= el && bstr_caseeq_cstr(bstr_sub(n, n.len - el,
		    el), ext[i]))
			return BSTR_LIT("text/html");
	}
	return p->type;
}

/* check_stock_info(min) - BodyEval _check_stock_info: in the rendered
 * text of the first text/plain part, cut as split_into_array_of_short_
 * paragraphs (2048), the labels of "label: value" lines
 * (/^\s*([^:\s][^:\n]{2,29})\s*:\s*\S/mg), lowercased and left with
 * a-z only, that end in one of SA's stock-trading words; hit when the
 * distinct words found number >= min, or always for min 0 (SA).
 * Difference: lengths count bytes, not Perl characters. */
static const char stock_label_src[] =
    "^\\s*([^:\\s][^:\\n]{2,29})\\s*:\\s*\\S";
static const char stock_word_src[] =
    "(^trad(?:e|ing)date|company(?:name)?|"
    "s\\w?(?:t\\w?o\\w?c\\w?k|y\\w?m(?:\\w?b\\w?o\\w?l)?)|"
    "t(?:arget|icker)|(?:opening|current)p(?:rice)?|"
    "p(?:rojected|osition)|expectations|weeks?high|marketperformance|"
    "(?:year|week|month|day|price)(?:target|estimates?)|sector|"
    "r(?:ecommendation|ating))$";
static pcre2_code *stock_label, *stock_word;
static pthread_once_t stock_once = PTHREAD_ONCE_INIT;

static void
stock_init(void)
{
	int err;
	PCRE2_SIZE off;

	stock_label = pcre2_compile((PCRE2_SPTR)stock_label_src,
	    PCRE2_ZERO_TERMINATED, PCRE2_MULTILINE, &err, &off, NULL);
	/* Perl's $ matches before a final newline too: PCRE2's default */
	stock_word = pcre2_compile((PCRE2_SPTR)stock_word_src,
	    PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL);
	if (stock_label != NULL)
		(void)pcre2_jit_compile(stock_label, PCRE2_JIT_COMPLETE);
	if (stock_word != NULL)
		(void)pcre2_jit_compile(stock_word, PCRE2_JIT_COMPLETE);
}

/* SA Message::split_into_array_of_short_paragraphs: the end (exclusive)
 * of the chunk starting at ofs */
static size_t
stock_chunk_end(struct bstr t, size_t ofs)
{
	const size_t M = 2048;
	const char *const seps = "\n> ";

	if (t.len - ofs <= 2 * M)
		return t.len;
	for (size_t k = 0; k < 3; k++) {
		const unsigned char *j = memchr(t.p + ofs + M, seps[k],
		    t.len - ofs - M);

		if (j != NULL && (size_t)(j - t.p) - ofs + 1 <= 2 * M)
			return (size_t)(j - t.p) + 1;
	}
	return ofs + M + 1;
}

static int
ev_check_stock_info(struct rule_ctx *c, const struct rule *r)
{
	double min = argnum(r, 0, 0);
	size_t n, found = 0;
	const struct msg_sa_part *v = msg_sa_parts(c->msg, &n);
	const struct msg_part *q = NULL;
	struct bstr t, seen[16];
	pcre2_match_data *md, *wd;

	if (min == 0)
		return 1;
	for (size_t i = 0; v != NULL && i < n && q == NULL; i++)
		if (bstr_eq(v[i].type, BSTR_LIT("text/plain")))
			if ((q = rfc_part(c, &v[i])) == NULL)
				return 0; /* SA: a part without rendered text */
	pthread_once(&stock_once, stock_init);
	if (q == NULL || stock_label == NULL || stock_word == NULL)
		return 0;
	t = q->is_html ? q->rendered : q->text;
	md = pcre2_match_data_create_from_pattern(stock_label, NULL);
	wd = pcre2_match_data_create_from_pattern(stock_word, NULL);
	/* SA counts every word; only found >= min matters, so stop there */
	for (size_t ofs = 0, end; md && wd && ofs < t.len &&
	    (double)found < min; ofs = end) {
		PCRE2_SIZE at = 0, *ov;

		end = stock_chunk_end(t, ofs);
		while (at <= end - ofs && (double)found < min &&
		    pcre2_match(stock_label,
		    t.p + ofs, end - ofs, at, 0, md, NULL) > 1) {
			unsigned char w[32];
			size_t wl = 0;

			ov = pcre2_get_ovector_pointer(md);
			for (size_t k = ov[2]; k < ov[3]; k++) {
				unsigned char ch = (unsigned char)
				    tolower(t.p[ofs + k]);

				if (ch >= 'a' && ch <= 'z' && wl < sizeof(w))
					w[wl++] = ch;
			}
			if (pcre2_match(stock_word, w, wl, 0, 0, wd,
			    NULL) > 1) {
				PCRE2_SIZE *wv = pcre2_get_ovector_pointer(wd);
				struct bstr k = bstr_make(w + wv[2],
				    wv[3] - wv[2]);
				size_t s = 0;

				while (s < found && !bstr_eq(seen[s], k))
					s++;
				if (s == found && found < 16) {
					unsigned char *o = arena_alloc(c->arena,
					    k.len ? k.len : 1);

					if (o != NULL) {
						memcpy(o, k.p, k.len);
						seen[found++] = bstr_make(o,
						    k.len);
					}
				}
			}
			at = ov[1] > ov[0] ? ov[1] : ov[1] + 1;
		}
	}
	pcre2_match_data_free(md);
	pcre2_match_data_free(wd);
	return (double)found >= min;
}

/* SA BodyEval::_multipart_alternative_difference */
static void
madiff(struct rule_ctx *c, struct rule__mime *f)
{
	size_t n, nparts, words = 0;
	const struct msg_sa_part *v = msg_sa_parts(c->msg, &n);

	f->madiff_done = true;
	/* Exchange meeting requests: m/a with text/html and text/calendar */
	if (n == 3 && bstr_caseeq_cstr(v[0].type, "multipart/alternative") &&
	    v[1].parent == 0 && v[2].parent == 0 &&
	    bstr_caseeq_cstr(v[1].type, "text/html") &&
	    bstr_caseeq_cstr(v[2].type, "text/calendar"))
		return;
	nparts = msg_part_count(c->msg);
	for (size_t i = 0; i < nparts; i++)
		words += msg_part_at(c->msg, i)->rendered.len / 2 + 1;
	for (size_t a = 0; a < n; a++) {
		struct toks t;
		size_t orig = 0, text = 0, left;
		bool mark = false;

		if (!bstr_casestarts(v[a].type, "multipart/alternative") ||
		    (v[a].type.len > 21 && word(v[a].type.p[21])))
			continue;
		t.arena = c->arena;
		t.cap = 64;
		while (t.cap < words * 2)
			t.cap *= 2;
		t.n = 0;
		if ((t.v = arena_calloc(c->arena, t.cap, sizeof(*t.v))) ==
		    NULL)
			return;
		/* the text parts below it, depth first */
		for (size_t i = a + 1; i < n; i++) {
			int up = v[i].parent;
			const struct msg_part *q;
			struct bstr et;
			bool html;

			while (up > (int)a)
				up = v[up].parent;
			if (up != (int)a)
				break;
			if (!bstr_casestarts(v[i].type, "text") ||
			    (v[i].type.len > 4 && word(v[i].type.p[4])))
				continue;
			et = effective_type(&v[i]);
			if (!bstr_caseeq_cstr(et, "text/plain") &&
			    !bstr_caseeq_cstr(et, "text/html"))
				continue;
			html = bstr_caseeq_cstr(et, "text/html");
			if ((q = rfc_part(c, &v[i])) == NULL)
				continue;
			tok_add(&t, q->is_html ? q->rendered : q->text, html,
			    html ? &orig : &text);
			/* no HTML word yet but an <img>: SA adds a "\n"
			 * token, which no text part can have */
			if (html && orig == 0 && !mark && q->is_html &&
			    html_inside_img(c, q->index))
				mark = true;
		}
		orig += mark;
		if (orig == 0)
			continue;
		f->madiff_html = orig;
		f->madiff_text = text;
		left = orig;
		for (size_t k = 0; k < t.cap; k++)
			if (t.v[k].w.p != NULL && t.v[k].html > 0 &&
			    t.v[k].text >= t.v[k].html)
				left--;
		double diff = (double)left / (double)orig * 100;

		if (diff > f->madiff)
			f->madiff = diff;
	}
}

/* multipart_alternative_difference(min, max) - SA: the share (%) of
 * HTML words missing from the text part, worst multipart/alternative:
 * (min == 0 or > min) and (max "undef" or <= max) */
static int
ev_multipart_alternative_difference(struct rule_ctx *c, const struct rule *r)
{
	struct rule__mime *f = mime(c);
	double min = argnum(r, 0, NAN), max = argnum(r, 1, NAN);
	const char *mx = arg(r, 1);

	if (f == NULL || isnan(min) || mx == NULL)
		return 0;
	if (!f->madiff_done)
		madiff(c, f);
	if (strcmp(mx, "undef") != 0 && isnan(max))
		return 0;
	return (min == 0 || f->madiff > min) &&
	    (strcmp(mx, "undef") == 0 || f->madiff <= max);
}

/* multipart_alternative_difference_count(ratio, minhtml) - SA: more than
 * minhtml HTML words and text/HTML words > ratio */
static int
ev_multipart_alternative_difference_count(struct rule_ctx *c,
    const struct rule *r)
{
	struct rule__mime *f = mime(c);
	double ratio = argnum(r, 0, NAN), minhtml = argnum(r, 1, NAN);

	if (f == NULL || isnan(ratio) || isnan(minhtml))
		return 0;
	if (!f->madiff_done)
		madiff(c, f);
	if (!((double)f->madiff_html > minhtml))
		return 0;
	return (double)f->madiff_text / (double)f->madiff_html > ratio;
}

/* check_for_uppercase(min, max) - SA MIMEEval: the share (%) of capitals
 * among letters and digits of body lines with an inner space, over 200
 * characters at least; never for CJK/Cyrillic charsets */
static int
ev_check_for_uppercase(struct rule_ctx *c, const struct rule *r)
{
	struct rule__mime *f = mime(c);
	double min = argnum(r, 0, NAN), max = argnum(r, 1, NAN);

	if (f == NULL || isnan(min) || isnan(max))
		return 0;
	if (!f->upper_done) {
		size_t n, len = 0, lower = 0, upper = 0;
		const struct bstr *l = msg_body_lines(c->msg, &n);

		f->upper_done = true;
		for (size_t i = 0; !f->fp_charset && l != NULL && i < n; i++) {
			struct bstr s = l[i];
			size_t k, runs = 0;
			bool inner = false, seen = false, gap = false;

			/* /\S\s+\S/ */
			for (k = 0; k < s.len && !inner; k++) {
				if (!space(s.p[k])) {
					inner = seen && gap;
					seen = true;
					gap = false;
				} else if (seen) {
					gap = true;
				}
			}
			if (!inner)
				continue;
			/* /^(?:[A-Za-z0-9+\/=]{60,76} ){2}/: base64 */
			for (k = 0; runs < 2;) {
				size_t b = k;

				while (k < s.len && (word(s.p[k]) ||
				    s.p[k] == '+' || s.p[k] == '/' ||
				    s.p[k] == '=') && s.p[k] != '_')
					k++;
				if (k - b < 60 || k - b > 76 || k >= s.len ||
				    s.p[k] != ' ')
					break;
				k++;
				runs++;
			}
			if (runs == 2)
				continue;
			/* s/\x1b\$B.*\x1b\(B//gs: Shift-JIS escapes */
			long e1 = bstr_find(s, BSTR_LIT("\x1b$B"));
			struct bstr cut = BSTR_NULL;

			if (e1 >= 0) {
				for (size_t q = s.len; q >= (size_t)e1 + 6; q--)
					if (memcmp(s.p + q - 3, "\x1b(B", 3) ==
					    0) {
						cut = bstr_make(s.p + e1,
						    q - (size_t)e1);
						break;
					}
			}
			len += chars(s) - chars(cut);
			for (k = 0; k < s.len; k++) {
				if (cut.p && s.p + k >= cut.p &&
				    s.p + k < cut.p + cut.len)
					continue;
				if ((s.p[k] >= 'a' && s.p[k] <= 'z') ||
				    (s.p[k] >= '0' && s.p[k] <= '9'))
					lower++;
				else if (s.p[k] >= 'A' && s.p[k] <= 'Z')
					upper++;
			}
		}
		if (len >= 200 && upper + lower > 0)
			f->upper = (double)upper / (double)(upper + lower) * 100;
	}
	return f->upper > min && f->upper <= max;
}

/* tvd_vertical_words(min, max) - SA BodyEval: the largest spaces per
 * non-space (%) of a body line over 5 characters is >= min and < max
 * (max 101 for max >= 100) */
static int
ev_tvd_vertical_words(struct rule_ctx *c, const struct rule *r)
{
	struct rule__mime *f = mime(c);
	double min = argnum(r, 0, NAN), max = argnum(r, 1, NAN);

	if (f == NULL || isnan(min) || isnan(max))
		return 0;
	if (max >= 100)
		max = 101;
	if (!f->tvd_done) {
		size_t n;
		const struct bstr *l = msg_body_lines(c->msg, &n);

		f->tvd_done = true;
		f->tvd = -1;
		for (size_t i = 0; l != NULL && i < n; i++) {
			size_t len = chars(l[i]), sp = 0, ns;
			int pct;

			if (len <= 5)
				continue;
			for (size_t k = 0; k < l[i].len; k++)
				sp += l[i].p[k] == ' ';
			ns = len - sp;
			pct = sp > ns || ns == 0 ? 100 :
			    (int)(100 * sp / ns);
			if (pct > f->tvd)
				f->tvd = pct;
		}
	}
	return f->tvd >= min && f->tvd < max;
}

/* check_blank_line_ratio(min, max[, minlines]) - SA BodyEval: blank
 * lines per 100 lines of the decoded (raw) body; -1 under minlines */
static int
ev_check_blank_line_ratio(struct rule_ctx *c, const struct rule *r)
{
	double min = argnum(r, 0, NAN), max = argnum(r, 1, NAN),
	       minl = argnum(r, 2, 1), ratio;
	size_t n, blank = 0;
	const struct bstr *l = msg_rawbody_lines(c->msg, &n);

	if (isnan(min) || isnan(max))
		return 0;
	if (minl < 1)
		minl = 1;
	for (size_t i = 0; l != NULL && i < n; i++) {
		size_t k = 0;

		while (k < l[i].len && space(l[i].p[k]))
			k++;
		blank += k == l[i].len;
	}
	ratio = (double)n < minl ? -1 : 100.0 * (double)blank / (double)n;
	return (min == 0 && ratio <= max) || (ratio > min && ratio <= max);
}

/* ImageInfo -------------------------------------------------------------- */

static int
b64v(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* SA Util::base64_decode of a part's raw lines, at most max bytes */
static struct bstr
b64_part(struct rule_ctx *c, const struct msg_sa_part *p, size_t max)
{
	size_t tot = 0, o = 0;
	unsigned acc = 0, bits = 0;
	unsigned char *out;

	for (size_t i = 0; i < p->nlines; i++)
		tot += p->lines[i].len;
	if (tot / 4 * 3 + 3 < max)
		max = tot / 4 * 3 + 3;
	if ((out = arena_alloc(c->arena, max + 1)) == NULL)
		return BSTR_NULL;
	for (size_t i = 0; i < p->nlines && o < max; i++)
		for (size_t k = 0; k < p->lines[i].len && o < max; k++) {
			int x = b64v(p->lines[i].p[k]);

			if (p->lines[i].p[k] == '=')
				goto out;
			if (x < 0)
				continue;
			acc = acc << 6 | (unsigned)x;
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				out[o++] = (unsigned char)(acc >> bits);
			}
		}
out:
	return bstr_make(out, o);
}

static unsigned
be16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* the dimensions ImageInfo's get_details read; false when none */
static bool
image_dims(int type, struct bstr d, uint64_t *w, uint64_t *h)
{
	*w = *h = 0;
	if (type == IMG_GIF) {
		/* "GIF87a"/"GIF89a", then width and height, little-endian */
		if (d.len < 10 || memcmp(d.p, "GIF8", 4) != 0 ||
		    (d.p[4] != '7' && d.p[4] != '9') || d.p[5] != 'a')
			return false;
		*w = (uint64_t)d.p[6] | (uint64_t)d.p[7] << 8;
		*h = (uint64_t)d.p[8] | (uint64_t)d.p[9] << 8;
	} else if (type == IMG_PNG) {
		/* SA walks 8-byte steps from offset 8 looking for a 13-byte
		 * IHDR chunk header, stopping at IEND */
		if (d.len < 8 || memcmp(d.p, "\x89PNG\r\n\x1a\n", 8) != 0)
			return false;
		for (size_t pos = 8; pos < d.len; pos += 8) {
			if (pos + 8 > d.len)
				break;
			if (memcmp(d.p + pos + 4, "IEND", 4) == 0)
				break;
			if (memcmp(d.p + pos + 4, "IHDR", 4) != 0 ||
			    be32(d.p + pos) != 13)
				continue;
			if (pos + 16 > d.len)
				break;
			*w = be32(d.p + pos + 8);
			*h = be32(d.p + pos + 12);
			break;
		}
	} else {
		/* JPEG: markers from offset 2 until SOS/EOI; the first SOF
		 * (C0-C3, C5-C7, C9-CB, CD-CF) holds height, width */
		size_t pos = 2;

		if (d.len < 2 || d.p[0] != 0xFF || d.p[1] != 0xD8)
			return false;
		while (pos + 4 <= d.len) {
			unsigned mark = d.p[pos + 1], len = be16(d.p + pos + 2);

			if (d.p[pos] != 0xFF || mark == 0xDA || mark == 0xD9 ||
			    len < 2)
				break;
			pos += 4;
			if ((mark >= 0xC0 && mark <= 0xC3) ||
			    (mark >= 0xC5 && mark <= 0xC7) ||
			    (mark >= 0xC9 && mark <= 0xCB) ||
			    (mark >= 0xCD && mark <= 0xCF)) {
				if (pos + 5 <= d.len && len - 2 >= 5) {
					*h = be16(d.p + pos + 1);
					*w = be16(d.p + pos + 3);
				}
				break;
			}
			pos += len - 2 < d.len - pos ? len - 2 : d.len - pos;
		}
	}
	return *w && *h;
}

/* SA ImageInfo::_get_images: base64 image/gif|png|jp(e)g leaves counted
 * per type, their pixel areas summed when the dimensions parse */
static struct rule__mime *
images(struct rule_ctx *c)
{
	struct rule__mime *f = mime(c);
	size_t n;
	const struct msg_sa_part *v;

	if (f == NULL || f->img_done)
		return f;
	f->img_done = true;
	v = msg_sa_parts(c->msg, &n);
	for (size_t i = 0; i < n; i++) {
		int t;
		uint64_t w, h;

		if (!v[i].leaf || !bstr_caseeq_cstr(v[i].cte, "base64"))
			continue;
		if (bstr_eq(v[i].type, BSTR_LIT("image/gif")))
			t = IMG_GIF;
		else if (bstr_eq(v[i].type, BSTR_LIT("image/png")))
			t = IMG_PNG;
		else if (bstr_eq(v[i].type, BSTR_LIT("image/jpeg")) ||
		    bstr_eq(v[i].type, BSTR_LIT("image/jpg")))
			t = IMG_JPEG;
		else
			continue;
		/* a GIF's header is in the first 13 bytes (SA decode(13)) */
		if (image_dims(t, b64_part(c, &v[i], t == IMG_GIF ? 13 :
		    SIZE_MAX / 2), &w, &h))
			f->area[t] += w * h;
		f->count[t]++;
	}
	return f;
}

/* the image type argument: gif, png, jpeg or all (-1); -2 unknown */
static int
img_type(const char *t)
{
	if (t == NULL)
		return -2;
	if (!strcmp(t, "gif"))
		return IMG_GIF;
	if (!strcmp(t, "png"))
		return IMG_PNG;
	if (!strcmp(t, "jpeg"))
		return IMG_JPEG;
	return strcmp(t, "all") == 0 ? -1 : -2;
}

static void
img_values(const struct rule__mime *f, int t, double *count, double *area)
{
	*count = *area = 0;
	for (int i = 0; i < IMG_N; i++)
		if (t == -1 || t == i) {
			*count += f->count[i];
			*area += (double)f->area[i];
		}
}

/* ImageInfo result_check: min <= value (<= max; < max when nomaxequal) */
static bool
result_check(const struct rule *r, size_t mi, double value, bool nomaxeq)
{
	double min = argnum(r, mi, NAN), max = argnum(r, mi + 1, NAN);
	bool hasmax = arg(r, mi + 1) != NULL;

	if (isnan(min) || value < min)
		return false;
	if (hasmax && !isnan(max) && value > max)
		return false;
	if (nomaxeq && hasmax && value == max)
		return false;
	return true;
}

/* image_count / pixel_coverage (type, min[, max]) - SA ImageInfo: the
 * number of images of the type, or their summed pixel area */
static int
image_check(struct rule_ctx *c, const struct rule *r, bool want_area)
{
	int t = img_type(arg(r, 0));
	struct rule__mime *f;
	double count, area;

	if (t == -2 || arg(r, 1) == NULL || (f = images(c)) == NULL)
		return 0;
	img_values(f, t, &count, &area);
	return result_check(r, 1, want_area ? area : count, false);
}

static int
ev_image_count(struct rule_ctx *c, const struct rule *r)
{
	return image_check(c, r, false);
}

static int
ev_pixel_coverage(struct rule_ctx *c, const struct rule *r)
{
	return image_check(c, r, true);
}

/* image_to_text_ratio(type, min, max) - SA ImageInfo: characters of the
 * rule's text (body, or rawbody for a rawbody rule) per image pixel,
 * min <= ratio < max */
static int
ev_image_to_text_ratio(struct rule_ctx *c, const struct rule *r)
{
	int t = img_type(arg(r, 0));
	struct rule__mime *f;
	double count, area;
	size_t n, len = 0;
	const struct bstr *l;

	if (t == -2 || arg(r, 1) == NULL || arg(r, 2) == NULL ||
	    (f = images(c)) == NULL)
		return 0;
	img_values(f, t, &count, &area);
	if (area <= 0)
		return 0;
	l = r->type == RULE_RAWBODY ? msg_rawbody_lines(c->msg, &n) :
	    msg_body_lines(c->msg, &n);
	for (size_t i = 0; l != NULL && i < n; i++)
		len += chars(l[i]);
	if (len == 0)
		return 0;
	return result_check(r, 1, (double)len / area, true);
}

/* HTMLEval --------------------------------------------------------------- */

static bool
has_img(const struct msg_html_part *h)
{
	for (size_t k = 0; k < h->ninside; k++)
		if (bstr_eq(h->inside[k].name, BSTR_LIT("img")))
			return true;
	return false;
}

/* html_image_only(min, max) - SA HTMLEval: an HTML part with <img> whose
 * length (SA's, of the source) is > min and <= max */
static int
ev_html_image_only(struct rule_ctx *c, const struct rule *r)
{
	double min = argnum(r, 0, NAN), max = argnum(r, 1, NAN);
	size_t n;
	const struct msg_html_part *v = msg_html_parts(c->msg, &n);

	if (isnan(min) || isnan(max))
		return 0;
	for (size_t i = 0; v != NULL && i < n; i++)
		if (has_img(&v[i]) && (double)v[i].length > min &&
		    (double)v[i].length <= max)
			return 1;
	return 0;
}

/* html_image_ratio(min, max) - SA HTMLEval: in an HTML part with image
 * area, min < non-space rendered characters / image area <= max */
static int
ev_html_image_ratio(struct rule_ctx *c, const struct rule *r)
{
	double min = argnum(r, 0, NAN), max = argnum(r, 1, NAN);
	size_t n;
	const struct msg_html_part *v = msg_html_parts(c->msg, &n);

	if (isnan(min) || isnan(max))
		return 0;
	for (size_t i = 0; v != NULL && i < n; i++) {
		double ratio;

		if (v[i].image_area == 0)
			continue;
		ratio = (double)v[i].non_space_len / (double)v[i].image_area;
		if (ratio > min && ratio <= max)
			return 1;
	}
	return 0;
}

static const char *const mime_tests[] = { "mime_base64_count",
	"mime_base64_encoded_text", "mime_body_html_count",
	"mime_body_text_count", "mime_missing_boundary",
	"mime_multipart_alternative", "mime_multipart_ratio", "mime_qp_count",
	"mime_qp_bytes", "mime_qp_long_line", "mime_qp_ratio",
	"mime_ascii_text_illegal", "mime_text_unicode_ratio",
	"mime_attachment", "mime_bad_iso_charset", "mimepart_limit_exceeded",
	NULL };
static const char *const parse_flags[] = { "missing_head_body_separator",
	"truncated_header", "missing_mime_headers",
	"missing_mime_head_body_separator", "mime_epilogue_exists",
	"mimepart_limit_exceeded", NULL };
static const char *const img_types[] = { "gif", "png", "jpeg", "all",
	NULL };

const struct rule__evalfn rule__evals_mime[] = {
	{ "check_for_mime", ev_check_for_mime, mime_tests },
	{ "check_mime_multipart_ratio", ev_check_mime_multipart_ratio, NULL },
	{ "check_for_ascii_text_illegal", ev_check_for_ascii_text_illegal,
	    NULL },
	{ "check_abundant_unicode_ratio", ev_check_abundant_unicode_ratio,
	    NULL },
	{ "check_qp_ratio", ev_check_qp_ratio, NULL },
	{ "check_msg_parse_flags", ev_check_msg_parse_flags, parse_flags },
	{ "check_ma_non_text", ev_check_ma_non_text, NULL },
	{ "check_base64_length", ev_check_base64_length, NULL },
	{ "multipart_alternative_difference",
	    ev_multipart_alternative_difference, NULL },
	{ "multipart_alternative_difference_count",
	    ev_multipart_alternative_difference_count, NULL },
	{ "check_for_uppercase", ev_check_for_uppercase, NULL },
	{ "tvd_vertical_words", ev_tvd_vertical_words, NULL },
	{ "check_blank_line_ratio", ev_check_blank_line_ratio, NULL },
	{ "image_count", ev_image_count, img_types },
	{ "pixel_coverage", ev_pixel_coverage, img_types },
	{ "image_to_text_ratio", ev_image_to_text_ratio, img_types },
	{ "html_image_only", ev_html_image_only, NULL },
	{ "html_image_ratio", ev_html_image_ratio, NULL },
	{ "check_stock_info", ev_check_stock_info, NULL },
	{ NULL, NULL, NULL },
};
