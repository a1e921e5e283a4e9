/*
 * mail/charset.c - charset conversion to UTF-8
 *
 * ASCII and valid UTF-8 come back as the input slice (no copy). Labels
 * are mapped the way mail clients treat them: us-ascii and iso-8859-1 as
 * windows-1252 (the WHATWG Encoding Standard does the same), gb2312/gbk as
 * GB18030, ks_c_5601-1987 as CP949. Everything else goes through iconv(3);
 * the handles are cached per message and closed when its arena is freed.
 * An unknown label sets MSG_ERR_CHARSET and falls back to UTF-8 when the
 * bytes are valid UTF-8, windows-1252 otherwise. Invalid sequences become
 * U+FFFD. Output lives in the message arena.
 */
#include "mail/mail_int.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>

struct msg__iconv {
	struct msg__iconv *next;
	char name[48];
	iconv_t cd; /* (iconv_t)-1: label unknown to iconv */
};

static const uint16_t cp1252_hi[32] = {
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

/* msg__utf8_put - encode cp at out, return the byte count (1..4) */
size_t
msg__utf8_put(unsigned char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xC0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp >= 0xD800 && cp <= 0xDFFF)
		cp = 0xFFFD;
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xE0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	if (cp > 0x10FFFF)
		return msg__utf8_put(out, 0xFFFD);
	out[0] = (unsigned char)(0xF0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629 4), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *p, size_t len)
{
	unsigned char c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return len >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (len < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (len < 4 || (p[1] & 0xC0) != 0x80 ||
		    (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
			return 0;
		return 4;
	}
	return 0;
}

/* msg__utf8_valid - whole buffer is well-formed UTF-8 */
bool
msg__utf8_valid(const unsigned char *p, size_t len)
{
	size_t i = 0, k;

	while (i < len) {
		/* skip ASCII eight bytes at a time */
		while (i + 8 <= len) {
			uint64_t w;

			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i >= len)
			break;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_seq(p + i, len - i)) == 0)
			return false;
		i += k;
	}
	return true;
}

static bool
all_ascii(const unsigned char *p, size_t len)
{
	size_t i = 0;
	uint64_t acc = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		acc |= w;
	}
	for (; i < len; i++)
		acc |= p[i];
	return (acc & 0x8080808080808080ull) == 0;
}

/* windows-1252 to UTF-8; valid UTF-8 sequences kept when keep_utf8 */
static struct bstr
from_cp1252(struct arena *a, struct bstr in, bool keep_utf8)
{
	unsigned char *o = arena_alloc(a, in.len * 3 + 1);
	size_t n = 0, k;

	if (o == NULL)
		return in;
	for (size_t i = 0; i < in.len;) {
		unsigned char c = in.p[i];

		if (c < 0x80) {
			/* a 7-bit run is copied as it is */
			size_t k7 = msg__ascii_prefix(in.p + i, in.len - i);

			memcpy(o + n, in.p + i, k7);
			n += k7;
			i += k7;
		} else if (keep_utf8 && (k = utf8_seq(in.p + i,
		    in.len - i)) > 1) {
			memcpy(o + n, in.p + i, k);
			n += k;
			i += k;
		} else {
			n += msg__utf8_put(o + n,
			    c < 0xA0 ? cp1252_hi[c - 0x80] : c);
			i++;
		}
	}
	return bstr_make(o, n);
}

enum cs_kind { CS_ASCII, CS_UTF8, CS_1252, CS_ICONV };

static enum cs_kind
classify(const char *n, const char **iconv_name)
{
	static const struct {
		const char *label, *target;
	} alias[] = {
		{ "gb2312", "GB18030" }, { "gbk", "GB18030" },
		{ "x-gbk", "GB18030" }, { "gb_2312-80", "GB18030" },
		{ "euc-cn", "GB18030" }, { "cp936", "GB18030" },
		{ "ks_c_5601-1987", "CP949" }, { "euc-kr", "CP949" },
		{ "ks_c_5601", "CP949" }, { "shift_jis", "CP932" },
		{ "x-sjis", "CP932" }, { "sjis", "CP932" },
		{ "iso-8859-8-i", "ISO-8859-8" }, { "tis-620", "CP874" },
		{ "iso-8859-11", "CP874" }, { "big5", "BIG5-HKSCS" },
		{ "x-mac-roman", "MACINTOSH" }, { "macintosh", "MACINTOSH" },
		{ "unicode-1-1-utf-7", "UTF-7" },
	};

	*iconv_name = n;
	if (n[0] == '\0' || !strcmp(n, "us-ascii") || !strcmp(n, "ascii") ||
	    !strcmp(n, "ansi_x3.4-1968") || !strcmp(n, "unknown-8bit") ||
	    !strcmp(n, "x-unknown") || !strcmp(n, "default") ||
	    !strcmp(n, "us"))
		return CS_ASCII;
	if (!strcmp(n, "utf-8") || !strcmp(n, "utf8"))
		return CS_UTF8;
	if (!strcmp(n, "iso-8859-1") || !strcmp(n, "latin1") ||
	    !strcmp(n, "iso8859-1") || !strcmp(n, "iso_8859-1") ||
	    !strcmp(n, "windows-1252") || !strcmp(n, "cp1252") ||
	    !strcmp(n, "l1") || !strcmp(n, "iso-latin-1") ||
	    !strcmp(n, "x-user-defined"))
		return CS_1252;
	for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
		if (!strcmp(n, alias[i].label)) {
			*iconv_name = alias[i].target;
			break;
		}
	return CS_ICONV;
}

static void
close_cd(void *arg)
{
	struct msg__iconv *c = arg;

	if (c->cd != (iconv_t)-1)
		iconv_close(c->cd);
}

static iconv_t
get_cd(struct arena *a, struct msg__iconv **cache, const char *name)
{
	struct msg__iconv *c;

	for (c = *cache; c != NULL; c = c->next)
		if (!strcmp(c->name, name))
			return c->cd;
	if ((c = arena_alloc(a, sizeof(*c))) == NULL)
		return (iconv_t)-1;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->cd = iconv_open("UTF-8", name);
	if (arena_defer(a, close_cd, c) < 0) {
		if (c->cd != (iconv_t)-1)
			iconv_close(c->cd);
		return (iconv_t)-1;
	}
	c->next = *cache;
	*cache = c;
	return c->cd;
}

/* replace every ill-formed byte with U+FFFD */
static struct bstr
repair_utf8(struct arena *a, struct bstr in)
{
	unsigned char *o = arena_alloc(a, in.len * 3 + 1);
	size_t n = 0, k;

	if (o == NULL)
		return bstr_make("", 0);
	for (size_t i = 0; i < in.len;) {
		if ((k = utf8_seq(in.p + i, in.len - i)) == 0) {
			n += msg__utf8_put(o + n, 0xFFFD);
			i++;
		} else {
			memcpy(o + n, in.p + i, k);
			n += k;
			i += k;
		}
	}
	return bstr_make(o, n);
}

static struct bstr
via_iconv(struct arena *a, iconv_t cd, struct bstr in)
{
	size_t cap = in.len * 4 + 16;
	unsigned char *o = arena_alloc(a, cap);
	char *ip = (char *)(uintptr_t)in.p, *op = (char *)o;
	size_t il = in.len, ol = cap - 4;

	if (o == NULL)
		return in;
	iconv(cd, NULL, NULL, NULL, NULL);
	while (il > 0) {
		if (iconv(cd, &ip, &il, &op, &ol) != (size_t)-1)
			break;
		if (errno == E2BIG || ol < 4)
			break; /* cannot happen with 4x, but stay bounded */
		/* EILSEQ/EINVAL: one replacement character, skip a byte */
		size_t k = msg__utf8_put((unsigned char *)op, 0xFFFD);

		op += k;
		ol -= k;
		ip++;
		il--;
		iconv(cd, NULL, NULL, NULL, NULL);
	}
	iconv(cd, NULL, NULL, &op, &ol);
	struct bstr out = bstr_make(o, (size_t)(op - (char *)o));

	/* Some converters (UCS-4, UTF-16 with lone surrogates) hand back
	 * sequences that are not well-formed UTF-8: repair them. */
	if (!msg__utf8_valid(out.p, out.len))
		out = repair_utf8(a, out);
	return out;
}

/* msg__to_utf8 - convert in (labelled cs) to UTF-8 */
struct bstr
msg__to_utf8(struct arena *a, struct msg__iconv **cache, struct bstr cs,
    struct bstr in, unsigned *flags)
{
	char name[48];
	const char *iname;
	size_t n = 0;
	iconv_t cd;

	/* ASCII is ASCII in every label mail uses, except UTF-7/16/32 */
	cs = bstr_trim(cs);
	while (cs.len && (cs.p[0] == '"' || cs.p[0] == '\'')) {
		cs.p++;
		cs.len--;
	}
	while (cs.len && (cs.p[cs.len - 1] == '"' || cs.p[cs.len - 1] == '\''))
		cs.len--;
	for (size_t i = 0; i < cs.len && n < sizeof(name) - 1; i++)
		name[n++] = (char)msg__lc(cs.p[i]);
	name[n] = '\0';
	/* 7-bit encodings that are not ASCII: ISO-2022 escapes, UTF-7,
	 * HZ; and the wide ones */
	bool wide = strstr(name, "utf-16") || strstr(name, "utf-32") ||
	    strstr(name, "ucs") || strstr(name, "utf-7") ||
	    strstr(name, "unicode") || strstr(name, "2022") ||
	    strstr(name, "hz-gb");

	if (!wide && all_ascii(in.p, in.len))
		return in;
	switch (classify(name, &iname)) {
	case CS_ASCII:
	case CS_UTF8:
		if (msg__utf8_valid(in.p, in.len))
			return in;
		return from_cp1252(a, in, true);
	case CS_1252:
		return from_cp1252(a, in, false);
	case CS_ICONV:
		break;
	}
	cd = get_cd(a, cache, iname);
	if (cd == (iconv_t)-1) {
		*flags |= MSG_ERR_CHARSET;
		if (msg__utf8_valid(in.p, in.len))
			return in;
		return from_cp1252(a, in, true);
	}
	return via_iconv(a, cd, in);
}
