/*
 * mail/html.c - tolerant HTML tokenizer and text renderer
 *
 * One pass over the (UTF-8) source: text is entity-decoded and rendered
 * with SpamAssassin's rules (Mail::SpamAssassin::HTML: whitespace runs
 * become one space; br/div insert "\n", li/td/th/dd/dt/embed/h1-6 a space,
 * p/hr/blockquote/pre/title "\n\n", on start and end tags; script and
 * style content is not text). URIs from href/src/action/background, base
 * href and meta refresh go to the message URI list; facts for the SA HTML
 * eval tests go to msg->html. Broken markup never fails: an unclosed tag
 * runs to the end, an unclosed comment too. Output lives in the arena and
 * is never longer than the input plus a constant.
 */
#include "mail/mail_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STYLE_STACK 64

struct style {
	int tag;        /* style_key() of the element, -1 at the root */
	int color;      /* 0xRRGGBB */
	int bgcolor;
	int size;       /* HTML font size, 3 by default */
	bool disp_none; /* style display: none */
	bool vis_hidden; /* style visibility: hidden */
	bool tiny;      /* CSS font-size <= 1px (not SA: invisible only) */
};

/* strings SA collects per part (comments, titles, anchor texts); the
 * last one may still grow */
#define SV_MAX 1000       /* strings kept per kind */
#define SV_MAX_LEN 4096   /* bytes kept per string */
struct strvec {
	struct msg__vec vec; /* struct bstr */
	size_t lastcap;      /* room of the last string's buffer */
	bool full;           /* SV_MAX reached: appends are dropped */
};

/* SA's inside{}: tag name -> count, open addressing */
#define INSIDE_MAX 4096
struct inside_ent {
	const unsigned char *name; /* the tag name as in the source */
	uint32_t len, hash;
	int count;
};

struct render {
	struct msg *m;
	unsigned char *o;
	size_t n, cap;
	bool last_ws;      /* last chunk was tag-inserted whitespace */
	bool last_invis;   /* last chunk was invisible text */
	size_t last_start; /* where the last chunk began in o */
	struct style st[STYLE_STACK];
	int depth;
	/* anchor being collected */
	long a_uri;
	size_t a_start;    /* offset in o where the anchor text began */
	struct bstr base;
	struct bstr part_cs;
	bool in_title;
	/* SA per-part results (msg_html_parts); NULL: not recorded */
	struct msg_html_part *hp;
	int basefont;      /* SA basefont size */
	bool chunks;       /* SA's text array is not empty */
	struct inside_ent *it;
	size_t itcap, itn;
	int in_a, in_title_n; /* inside{a}, inside{title} */
	struct strvec comments, titles, anchors, charsets;
	struct msg__vec hrefs; /* struct bstr, one per anchors string */
};

/* ---- entities ---------------------------------------------------------- */

static const uint16_t cp1252_80[32] = {
	0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
	0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
};

/* HTML 4 character entities (Latin-1, symbols, specials), sorted by
 * name in strcmp order for bsearch */
static const struct entity_def {
	const char *name;
	unsigned char len;
	uint32_t cp;
} entities[] = {
	{ "AElig", 5, 0xC6 },
	{ "Aacute", 6, 0xC1 },
	{ "Acirc", 5, 0xC2 },
	{ "Agrave", 6, 0xC0 },
	{ "Alpha", 5, 0x391 },
	{ "Aring", 5, 0xC5 },
	{ "Atilde", 6, 0xC3 },
	{ "Auml", 4, 0xC4 },
	{ "Beta", 4, 0x392 },
	{ "Ccedil", 6, 0xC7 },
	{ "Chi", 3, 0x3A7 },
	{ "Dagger", 6, 0x2021 },
	{ "Delta", 5, 0x394 },
	{ "ETH", 3, 0xD0 },
	{ "Eacute", 6, 0xC9 },
	{ "Ecirc", 5, 0xCA },
	{ "Egrave", 6, 0xC8 },
	{ "Epsilon", 7, 0x395 },
	{ "Eta", 3, 0x397 },
	{ "Euml", 4, 0xCB },
	{ "Gamma", 5, 0x393 },
	{ "Iacute", 6, 0xCD },
	{ "Icirc", 5, 0xCE },
	{ "Igrave", 6, 0xCC },
	{ "Iota", 4, 0x399 },
	{ "Iuml", 4, 0xCF },
	{ "Kappa", 5, 0x39A },
	{ "Lambda", 6, 0x39B },
	{ "Mu", 2, 0x39C },
	{ "Ntilde", 6, 0xD1 },
	{ "Nu", 2, 0x39D },
	{ "OElig", 5, 0x152 },
	{ "Oacute", 6, 0xD3 },
	{ "Ocirc", 5, 0xD4 },
	{ "Ograve", 6, 0xD2 },
	{ "Omega", 5, 0x3A9 },
	{ "Omicron", 7, 0x39F },
	{ "Oslash", 6, 0xD8 },
	{ "Otilde", 6, 0xD5 },
	{ "Ouml", 4, 0xD6 },
	{ "Phi", 3, 0x3A6 },
	{ "Pi", 2, 0x3A0 },
	{ "Prime", 5, 0x2033 },
	{ "Psi", 3, 0x3A8 },
	{ "Rho", 3, 0x3A1 },
	{ "Scaron", 6, 0x160 },
	{ "Sigma", 5, 0x3A3 },
	{ "THORN", 5, 0xDE },
	{ "Tau", 3, 0x3A4 },
	{ "Theta", 5, 0x398 },
	{ "Uacute", 6, 0xDA },
	{ "Ucirc", 5, 0xDB },
	{ "Ugrave", 6, 0xD9 },
	{ "Upsilon", 7, 0x3A5 },
	{ "Uuml", 4, 0xDC },
	{ "Xi", 2, 0x39E },
	{ "Yacute", 6, 0xDD },
	{ "Yuml", 4, 0x178 },
	{ "Zeta", 4, 0x396 },
	{ "aacute", 6, 0xE1 },
	{ "acirc", 5, 0xE2 },
	{ "acute", 5, 0xB4 },
	{ "aelig", 5, 0xE6 },
	{ "agrave", 6, 0xE0 },
	{ "alefsym", 7, 0x2135 },
	{ "alpha", 5, 0x3B1 },
	{ "amp", 3, 0x26 },
	{ "and", 3, 0x2227 },
	{ "ang", 3, 0x2220 },
	{ "apos", 4, 0x27 },
	{ "aring", 5, 0xE5 },
	{ "asymp", 5, 0x2248 },
	{ "atilde", 6, 0xE3 },
	{ "auml", 4, 0xE4 },
	{ "bdquo", 5, 0x201E },
	{ "beta", 4, 0x3B2 },
	{ "brvbar", 6, 0xA6 },
	{ "bull", 4, 0x2022 },
	{ "cap", 3, 0x2229 },
	{ "ccedil", 6, 0xE7 },
	{ "cedil", 5, 0xB8 },
	{ "cent", 4, 0xA2 },
	{ "chi", 3, 0x3C7 },
	{ "circ", 4, 0x2C6 },
	{ "clubs", 5, 0x2663 },
	{ "cong", 4, 0x2245 },
	{ "copy", 4, 0xA9 },
	{ "crarr", 5, 0x21B5 },
	{ "cup", 3, 0x222A },
	{ "curren", 6, 0xA4 },
	{ "dArr", 4, 0x21D3 },
	{ "dagger", 6, 0x2020 },
	{ "darr", 4, 0x2193 },
	{ "deg", 3, 0xB0 },
	{ "delta", 5, 0x3B4 },
	{ "diams", 5, 0x2666 },
	{ "divide", 6, 0xF7 },
	{ "eacute", 6, 0xE9 },
	{ "ecirc", 5, 0xEA },
	{ "egrave", 6, 0xE8 },
	{ "empty", 5, 0x2205 },
	{ "emsp", 4, 0x2003 },
	{ "ensp", 4, 0x2002 },
	{ "epsilon", 7, 0x3B5 },
	{ "equiv", 5, 0x2261 },
	{ "eta", 3, 0x3B7 },
	{ "eth", 3, 0xF0 },
	{ "euml", 4, 0xEB },
	{ "euro", 4, 0x20AC },
	{ "exist", 5, 0x2203 },
	{ "fnof", 4, 0x192 },
	{ "forall", 6, 0x2200 },
	{ "frac12", 6, 0xBD },
	{ "frac14", 6, 0xBC },
	{ "frac34", 6, 0xBE },
	{ "frasl", 5, 0x2044 },
	{ "gamma", 5, 0x3B3 },
	{ "ge", 2, 0x2265 },
	{ "gt", 2, 0x3E },
	{ "hArr", 4, 0x21D4 },
	{ "harr", 4, 0x2194 },
	{ "hearts", 6, 0x2665 },
	{ "hellip", 6, 0x2026 },
	{ "iacute", 6, 0xED },
	{ "icirc", 5, 0xEE },
	{ "iexcl", 5, 0xA1 },
	{ "igrave", 6, 0xEC },
	{ "image", 5, 0x2111 },
	{ "infin", 5, 0x221E },
	{ "int", 3, 0x222B },
	{ "iota", 4, 0x3B9 },
	{ "iquest", 6, 0xBF },
	{ "isin", 4, 0x2208 },
	{ "iuml", 4, 0xEF },
	{ "kappa", 5, 0x3BA },
	{ "lArr", 4, 0x21D0 },
	{ "lambda", 6, 0x3BB },
	{ "lang", 4, 0x2329 },
	{ "laquo", 5, 0xAB },
	{ "larr", 4, 0x2190 },
	{ "lceil", 5, 0x2308 },
	{ "ldquo", 5, 0x201C },
	{ "le", 2, 0x2264 },
	{ "lfloor", 6, 0x230A },
	{ "lowast", 6, 0x2217 },
	{ "loz", 3, 0x25CA },
	{ "lrm", 3, 0x200E },
	{ "lsaquo", 6, 0x2039 },
	{ "lsquo", 5, 0x2018 },
	{ "lt", 2, 0x3C },
	{ "macr", 4, 0xAF },
	{ "mdash", 5, 0x2014 },
	{ "micro", 5, 0xB5 },
	{ "middot", 6, 0xB7 },
	{ "minus", 5, 0x2212 },
	{ "mu", 2, 0x3BC },
	{ "nabla", 5, 0x2207 },
	{ "nbsp", 4, 0xA0 },
	{ "ndash", 5, 0x2013 },
	{ "ne", 2, 0x2260 },
	{ "ni", 2, 0x220B },
	{ "not", 3, 0xAC },
	{ "notin", 5, 0x2209 },
	{ "nsub", 4, 0x2284 },
	{ "ntilde", 6, 0xF1 },
	{ "nu", 2, 0x3BD },
	{ "oacute", 6, 0xF3 },
	{ "ocirc", 5, 0xF4 },
	{ "oelig", 5, 0x153 },
	{ "ograve", 6, 0xF2 },
	{ "oline", 5, 0x203E },
	{ "omega", 5, 0x3C9 },
	{ "omicron", 7, 0x3BF },
	{ "oplus", 5, 0x2295 },
	{ "or", 2, 0x2228 },
	{ "ordf", 4, 0xAA },
	{ "ordm", 4, 0xBA },
	{ "oslash", 6, 0xF8 },
	{ "otilde", 6, 0xF5 },
	{ "otimes", 6, 0x2297 },
	{ "ouml", 4, 0xF6 },
	{ "para", 4, 0xB6 },
	{ "part", 4, 0x2202 },
	{ "permil", 6, 0x2030 },
	{ "perp", 4, 0x22A5 },
	{ "phi", 3, 0x3C6 },
	{ "pi", 2, 0x3C0 },
	{ "piv", 3, 0x3D6 },
	{ "plusmn", 6, 0xB1 },
	{ "pound", 5, 0xA3 },
	{ "prime", 5, 0x2032 },
	{ "prod", 4, 0x220F },
	{ "prop", 4, 0x221D },
	{ "psi", 3, 0x3C8 },
	{ "quot", 4, 0x22 },
	{ "rArr", 4, 0x21D2 },
	{ "radic", 5, 0x221A },
	{ "rang", 4, 0x232A },
	{ "raquo", 5, 0xBB },
	{ "rarr", 4, 0x2192 },
	{ "rceil", 5, 0x2309 },
	{ "rdquo", 5, 0x201D },
	{ "real", 4, 0x211C },
	{ "reg", 3, 0xAE },
	{ "rfloor", 6, 0x230B },
	{ "rho", 3, 0x3C1 },
	{ "rlm", 3, 0x200F },
	{ "rsaquo", 6, 0x203A },
	{ "rsquo", 5, 0x2019 },
	{ "sbquo", 5, 0x201A },
	{ "scaron", 6, 0x161 },
	{ "sdot", 4, 0x22C5 },
	{ "sect", 4, 0xA7 },
	{ "shy", 3, 0xAD },
	{ "sigma", 5, 0x3C3 },
	{ "sigmaf", 6, 0x3C2 },
	{ "sim", 3, 0x223C },
	{ "spades", 6, 0x2660 },
	{ "sub", 3, 0x2282 },
	{ "sube", 4, 0x2286 },
	{ "sum", 3, 0x2211 },
	{ "sup", 3, 0x2283 },
	{ "sup1", 4, 0xB9 },
	{ "sup2", 4, 0xB2 },
	{ "sup3", 4, 0xB3 },
	{ "supe", 4, 0x2287 },
	{ "szlig", 5, 0xDF },
	{ "tau", 3, 0x3C4 },
	{ "there4", 6, 0x2234 },
	{ "theta", 5, 0x3B8 },
	{ "thetasym", 8, 0x3D1 },
	{ "thinsp", 6, 0x2009 },
	{ "thorn", 5, 0xFE },
	{ "tilde", 5, 0x2DC },
	{ "times", 5, 0xD7 },
	{ "trade", 5, 0x2122 },
	{ "uArr", 4, 0x21D1 },
	{ "uacute", 6, 0xFA },
	{ "uarr", 4, 0x2191 },
	{ "ucirc", 5, 0xFB },
	{ "ugrave", 6, 0xF9 },
	{ "uml", 3, 0xA8 },
	{ "upsih", 5, 0x3D2 },
	{ "upsilon", 7, 0x3C5 },
	{ "uuml", 4, 0xFC },
	{ "weierp", 6, 0x2118 },
	{ "xi", 2, 0x3BE },
	{ "yacute", 6, 0xFD },
	{ "yen", 3, 0xA5 },
	{ "yuml", 4, 0xFF },
	{ "zeta", 4, 0x3B6 },
	{ "zwj", 3, 0x200D },
	{ "zwnj", 4, 0x200C },
};





static int
isalnum_(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
entity_cmp(const void *k, const void *e)
{
	const struct bstr *key = k;
	const struct entity_def *d = e;
	size_t n = key->len < d->len ? key->len : d->len;
	int c = memcmp(key->p, d->name, n);

	if (c)
		return c;
	return (int)key->len - (int)d->len;
}

/* Decode one entity at p[0] == '&'. Returns bytes consumed (0 if not an
 * entity) and the code point. */
static size_t
entity(const unsigned char *p, size_t len, uint32_t *cp)
{
	size_t i = 1;

	if (len < 3)
		return 0;
	if (p[1] == '#') {
		uint32_t v = 0;
		bool hex = i + 1 < len && (p[2] == 'x' || p[2] == 'X');
		size_t d0;

		i = hex ? 3 : 2;
		d0 = i;
		for (; i < len && i < d0 + 8; i++) {
			unsigned char c = p[i];
			int d;

			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				d = (c | 0x20) - 'a' + 10;
			else
				break;
			v = v * (hex ? 16 : 10) + (uint32_t)d;
		}
		if (i == d0)
			return 0;
		if (i < len && p[i] == ';')
			i++;
		/* &#128;-&#159; as windows-1252, as browsers do (SA ends up
		 * with the same bytes when it reads the text as 8-bit) */
		if (v >= 0x80 && v < 0xA0)
			v = cp1252_80[v - 0x80];
		if (v == 0 || v > 0x10FFFF)
			v = 0xFFFD;
		*cp = v;
		return i;
	}
	while (i < len && i < 10 && isalnum_(p[i]))
		i++;
	size_t nl = i - 1;

	if (nl < 2)
		return 0;
	struct bstr key = bstr_make(p + 1, nl);
	const struct entity_def *ed = bsearch(&key, entities,
	    sizeof(entities) / sizeof(entities[0]), sizeof(entities[0]),
	    entity_cmp);

	if (ed != NULL) {
		*cp = ed->cp;
		return i + (i < len && p[i] == ';');
	}
	return 0;
}

/* Entity-decode s into the arena (slice when nothing to decode). */
static struct bstr
decode_entities(struct arena *a, struct bstr s)
{
	unsigned char *o;
	size_t n = 0;
	uint32_t cp;

	if (memchr(s.p, '&', s.len) == NULL)
		return s;
	if ((o = arena_alloc(a, s.len + 4)) == NULL)
		return s;
	for (size_t i = 0; i < s.len;) {
		size_t k;

		if (s.p[i] == '&' && (k = entity(s.p + i, s.len - i, &cp))) {
			/* a code point never takes more bytes than its
			 * entity (shortest, "&lt", is 3 for 1 byte) */
			n += msg__utf8_put(o + n, cp);
			i += k;
		} else {
			o[n++] = s.p[i++];
		}
	}
	return bstr_make(o, n);
}

/* ---- tags -------------------------------------------------------------- */

/* Known elements, sorted (strcmp order) for bsearch, with what SA's
 * HTML.pm does for them: whitespace on start and end tags
 * (html_whitespace) and whether they carry text style (text_style). */
#define TF_NL 1u     /* "\n" */
#define TF_SP 2u     /* " " */
#define TF_PARA 4u   /* "\n\n" */
#define TF_STYLE 8u
#define TF_KNOWN 16u /* set by tag_flags for every listed element */
#define TF_SPECIAL 32u /* handle_tag has more to do (URIs, facts) */
#define TF_RAW 64u     /* content is not text: script, style */
#define TF_LITERAL 128u /* content is literal text (HTML::Parser) */
#define TF_ELEM 256u   /* in SA's %elements (HTML 4.01, XHTML 1.0) */
#define TF_TRICK 512u  /* in SA's %tricks: rendered, not counted */

/* the elements handle_tag and the style code name: compared as numbers,
 * not strings */
enum tag_kind { K_NONE, K_A, K_AREA, K_LINK, K_IMG, K_IFRAME, K_FRAME, K_EMBED, K_SCRIPT, K_BGSOUND, K_OBJECT, K_APPLET, K_FORM, K_BASE, K_META, K_FONT, K_TITLE, K_BODY, K_HTML, K_TABLE, K_TD, K_TH, K_TR, K_BIG, K_SMALL, K_BASEFONT, K_SPAN, K_P, K_DIV };

static const struct tag_info {
	const char *name;
	unsigned flags;
	enum tag_kind kind;
} tag_info[] = {
	{ "a", TF_STYLE | TF_SPECIAL | TF_ELEM, K_A },
	{ "abbr", TF_ELEM, K_NONE },
	{ "acronym", TF_ELEM, K_NONE },
	{ "address", TF_ELEM, K_NONE },
	{ "applet", TF_SPECIAL | TF_ELEM, K_APPLET },
	{ "area", TF_SPECIAL | TF_ELEM, K_AREA },
	{ "article", 0, K_NONE },
	{ "aside", 0, K_NONE },
	{ "audio", 0, K_NONE },
	{ "b", TF_ELEM, K_NONE },
	{ "base", TF_SPECIAL | TF_ELEM, K_BASE },
	{ "basefont", TF_STYLE | TF_ELEM, K_BASEFONT },
	{ "bdi", 0, K_NONE },
	{ "bdo", TF_ELEM, K_NONE },
	{ "bgsound", TF_SPECIAL | TF_TRICK, K_BGSOUND },
	{ "big", TF_STYLE | TF_ELEM, K_BIG },
	{ "blink", 0, K_NONE },
	{ "blockquote", TF_PARA | TF_ELEM, K_NONE },
	{ "body", TF_STYLE | TF_SPECIAL | TF_ELEM, K_BODY },
	{ "br", TF_NL | TF_ELEM, K_NONE },
	{ "button", TF_ELEM, K_NONE },
	{ "canvas", 0, K_NONE },
	{ "caption", TF_ELEM, K_NONE },
	{ "center", TF_ELEM, K_NONE },
	{ "cite", TF_ELEM, K_NONE },
	{ "code", TF_ELEM, K_NONE },
	{ "col", TF_ELEM, K_NONE },
	{ "colgroup", TF_ELEM, K_NONE },
	{ "dd", TF_SP | TF_ELEM, K_NONE },
	{ "del", TF_ELEM, K_NONE },
	{ "dfn", TF_ELEM, K_NONE },
	{ "dir", TF_ELEM, K_NONE },
	{ "div", TF_NL | TF_STYLE | TF_ELEM, K_DIV },
	{ "dl", TF_ELEM, K_NONE },
	{ "dt", TF_SP | TF_ELEM, K_NONE },
	{ "em", TF_ELEM, K_NONE },
	{ "embed", TF_SP | TF_SPECIAL | TF_TRICK, K_EMBED },
	{ "fieldset", TF_ELEM, K_NONE },
	{ "figcaption", 0, K_NONE },
	{ "figure", 0, K_NONE },
	{ "font", TF_STYLE | TF_SPECIAL | TF_ELEM, K_FONT },
	{ "footer", 0, K_NONE },
	{ "form", TF_SPECIAL | TF_ELEM, K_FORM },
	{ "frame", TF_SPECIAL | TF_ELEM, K_FRAME },
	{ "frameset", TF_ELEM, K_NONE },
	{ "h1", TF_SP | TF_ELEM, K_NONE },
	{ "h2", TF_SP | TF_ELEM, K_NONE },
	{ "h3", TF_SP | TF_ELEM, K_NONE },
	{ "h4", TF_SP | TF_ELEM, K_NONE },
	{ "h5", TF_SP | TF_ELEM, K_NONE },
	{ "h6", TF_SP | TF_ELEM, K_NONE },
	{ "head", TF_ELEM, K_NONE },
	{ "header", 0, K_NONE },
	{ "hr", TF_PARA | TF_ELEM, K_NONE },
	{ "html", TF_SPECIAL | TF_ELEM, K_HTML },
	{ "i", TF_ELEM, K_NONE },
	{ "iframe", TF_SPECIAL | TF_LITERAL | TF_ELEM, K_IFRAME },
	{ "ilayer", 0, K_NONE },
	{ "img", TF_SPECIAL | TF_ELEM, K_IMG },
	{ "input", TF_ELEM, K_NONE },
	{ "ins", TF_ELEM, K_NONE },
	{ "isindex", TF_ELEM, K_NONE },
	{ "kbd", TF_ELEM, K_NONE },
	{ "label", TF_ELEM, K_NONE },
	{ "layer", 0, K_NONE },
	{ "legend", TF_ELEM, K_NONE },
	{ "li", TF_SP | TF_ELEM, K_NONE },
	{ "link", TF_SPECIAL | TF_ELEM, K_LINK },
	{ "listing", TF_PARA | TF_TRICK, K_NONE },
	{ "main", 0, K_NONE },
	{ "map", TF_ELEM, K_NONE },
	{ "marquee", 0, K_NONE },
	{ "menu", TF_ELEM, K_NONE },
	{ "meta", TF_SPECIAL | TF_ELEM, K_META },
	{ "multicol", 0, K_NONE },
	{ "nav", 0, K_NONE },
	{ "nobr", TF_ELEM, K_NONE },
	{ "noembed", 0, K_NONE },
	{ "noframes", TF_ELEM, K_NONE },
	{ "nolayer", 0, K_NONE },
	{ "noscript", TF_ELEM, K_NONE },
	{ "o:p", 0, K_NONE },
	{ "object", TF_SPECIAL | TF_ELEM, K_OBJECT },
	{ "ol", TF_ELEM, K_NONE },
	{ "optgroup", TF_ELEM, K_NONE },
	{ "option", TF_ELEM, K_NONE },
	{ "p", TF_PARA | TF_STYLE | TF_ELEM, K_P },
	{ "param", TF_ELEM, K_NONE },
	{ "plaintext", TF_PARA | TF_TRICK, K_NONE },
	{ "pre", TF_PARA | TF_ELEM, K_NONE },
	{ "q", TF_ELEM, K_NONE },
	{ "s", TF_ELEM, K_NONE },
	{ "samp", TF_ELEM, K_NONE },
	{ "script", TF_SPECIAL | TF_RAW | TF_ELEM, K_SCRIPT },
	{ "section", 0, K_NONE },
	{ "select", TF_ELEM, K_NONE },
	{ "small", TF_STYLE | TF_ELEM, K_SMALL },
	{ "spacer", 0, K_NONE },
	{ "span", TF_STYLE | TF_ELEM, K_SPAN },
	{ "strike", TF_ELEM, K_NONE },
	{ "strong", TF_ELEM, K_NONE },
	{ "style", TF_RAW | TF_ELEM, K_NONE },
	{ "sub", TF_ELEM, K_NONE },
	{ "sup", TF_ELEM, K_NONE },
	{ "table", TF_STYLE | TF_SPECIAL | TF_ELEM, K_TABLE },
	{ "tbody", TF_ELEM, K_NONE },
	{ "td", TF_SP | TF_STYLE | TF_SPECIAL | TF_ELEM, K_TD },
	{ "textarea", TF_LITERAL | TF_ELEM, K_NONE },
	{ "tfoot", TF_ELEM, K_NONE },
	{ "th", TF_SP | TF_STYLE | TF_ELEM, K_TH },
	{ "thead", TF_ELEM, K_NONE },
	{ "title", TF_PARA | TF_SPECIAL | TF_LITERAL | TF_ELEM, K_TITLE },
	{ "tr", TF_STYLE | TF_SPECIAL | TF_ELEM, K_TR },
	{ "tt", TF_ELEM, K_NONE },
	{ "u", TF_ELEM, K_NONE },
	{ "ul", TF_ELEM, K_NONE },
	{ "var", TF_ELEM, K_NONE },
	{ "wbr", 0, K_NONE },
	{ "x-sigsep", TF_ELEM, K_NONE },
	{ "x-tab", TF_ELEM, K_NONE },
	{ "xmp", TF_PARA | TF_LITERAL | TF_TRICK, K_NONE },
};

/* tag_first[c - 'a'] .. tag_first[c - 'a' + 1]: the entries starting
 * with letter c (generated with the table) */
static const unsigned short tag_first[27] = {
	0, 9, 21, 28, 35, 37, 45, 45, 55, 62, 62, 63, 69, 75, 81, 86, 90, 91,
	91, 104, 114, 116, 117, 118, 121, 121, 121,
};

/* tag_lookup - the tag_info index of an element name (lowercase, NUL
 * terminated), -1 if unknown */
static int
tag_lookup(const char *t)
{
	if (t[0] < 'a' || t[0] > 'z')
		return -1;
	for (unsigned i = tag_first[t[0] - 'a']; i < tag_first[t[0] - 'a' + 1];
	    i++) {
		const char *nm = tag_info[i].name;

		/* the second byte first ('\0' for one-letter names) */
		if (nm[1] == t[1] && (t[1] == '\0' || !strcmp(t + 2, nm + 2)))
			return (int)i;
	}
	return -1;
}

#define MAX_ATTRS 24

struct tag {
	char name[16];  /* lowercase, "" when longer than 15 bytes */
	struct bstr raw; /* the name as in the source (HTML::Parser's) */
	int id;         /* tag_info index, -1 if unknown */
	enum tag_kind kind;
	unsigned flags; /* TF_* of the element */
	bool end, selfclose;
	bool closed; /* ended by '>' (not by the end of the document) */
	size_t nattr;
	struct bstr an[MAX_ATTRS], av[MAX_ATTRS];
};

static struct bstr
attr_n(const struct tag *t, const char *name, size_t nl)
{
	struct bstr want = bstr_make(name, nl);

	for (size_t i = 0; i < t->nattr; i++)
		if (t->an[i].len == nl && msg__caseeq(t->an[i], want))
			return t->av[i];
	return BSTR_NULL;
}

/* attribute by literal name: its length is known at compile time */
#define attr(t, lit) attr_n((t), lit, sizeof(lit) - 1)

/* byte classes of the tag tokenizer (parse_tag) */
#define TC_NAME 1   /* element name: [A-Za-z0-9:_-] */
#define TC_SKIP 2   /* between attributes: whitespace, '/', '\f' */
#define TC_ANEND 4  /* ends an attribute name: = > / whitespace */
#define TC_WS 8     /* around '=': space, tab, CR, LF */
#define TC_VEND 16  /* ends an unquoted value: > whitespace */
static const unsigned char tagc[256] = {
	 0,  0,  0,  0,  0,  0,  0,  0,  0, 30, 30,  0,  2, 30,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	30,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  1,  0,  6,
	 1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  0,  0,  4, 20,  0,
	 0,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,
	 1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  0,  0,  0,  0,  1,
	 0,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,
	 1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  0,  0,  0,  0,  0,
};

/* Parse a tag starting after '<' (and '/' for end tags). Returns the
 * offset just past '>' (or len). */
static size_t
parse_tag(const unsigned char *p, size_t len, struct tag *t)
{
	size_t i = 0, n = 0;
	/* HTML::Parser: the name runs to whitespace or '>' */
	while (i < len && !(tagc[p[i]] & TC_VEND) && p[i] != '\f') {
		if (n < sizeof(t->name) - 1)
			t->name[n++] = (char)msg__lc(p[i]);
		else
			n = sizeof(t->name); /* too long for any element */
		i++;
	}
	/* SA rewrites <(\w+)\s*\/> to <$1> before parsing (bug 4695) */
	if (i >= 2 && p[i - 1] == '/' && i < len && p[i] == '>') {
		bool w = true;

		for (size_t k = 0; k + 1 < i; k++)
			w &= (tagc[p[k]] & TC_NAME) && p[k] != '-' &&
			    p[k] != ':';
		if (w) {
			i--;
			n = n > i ? i : n;
		}
	}
	t->raw = bstr_make(p, i);
	if (n >= sizeof(t->name))
		n = 0;
	t->name[n] = '\0';
	t->nattr = 0;
	t->selfclose = false;
	t->closed = false;
	for (;;) {
		while (i < len && (tagc[p[i]] & TC_SKIP)) {
			if (p[i] == '/')
				t->selfclose = true;
			i++;
		}
		if (i >= len)
			return len;
		if (p[i] == '>') {
			t->closed = true;
			return i + 1;
		}
		t->selfclose = false;
		size_t a0 = i;

		while (i < len && !(tagc[p[i]] & TC_ANEND))
			i++;
		if (i == a0) { /* stray '=' or similar */
			i++;
			continue;
		}
		struct bstr an = bstr_make(p + a0, i - a0), av = BSTR_NULL;

		while (i < len && (tagc[p[i]] & TC_WS))
			i++;
		if (i < len && p[i] == '=') {
			i++;
			while (i < len && (tagc[p[i]] & TC_WS))
				i++;
			if (i < len && (p[i] == '"' || p[i] == '\'')) {
				unsigned char q = p[i++];
				const unsigned char *e = memchr(p + i, q,
				    len - i);
				size_t v0 = i;

				i = e ? (size_t)(e - p) : len;
				av = bstr_make(p + v0, i - v0);
				if (i < len)
					i++;
			} else {
				size_t v0 = i;

				while (i < len && !(tagc[p[i]] & TC_VEND))
					i++;
				av = bstr_make(p + v0, i - v0);
			}
		}
		if (t->nattr < MAX_ATTRS) {
			t->an[t->nattr] = an;
			t->av[t->nattr++] = av;
		}
	}
}

/* ---- colours and visibility (SA HTML.pm text_style) ------------------ */

/* A colour is 0xRRGGBB or one of these: SA keeps colours as strings and
 * compares their last six characters, so "invalid" and a bare "#" are
 * values of their own. */
#define COLOR_INVALID (-1)     /* SA name_to_rgb "invalid" */
#define COLOR_HASH (-3)        /* SA "#": a '#' without hex digits */
#define COLOR_TRANSPARENT (-4) /* CSS "transparent", resolved at once */

/* SA HTML.pm %html_color: HTML 4 and CSS3 colour names, sorted */
static const struct color_name {
	const char *n;
	int rgb;
} color_names[] = {
	{ "aliceblue", 0xF0F8FF }, { "antiquewhite", 0xFAEBD7 },
	{ "aqua", 0x00FFFF }, { "aquamarine", 0x7FFFD4 },
	{ "azure", 0xF0FFFF }, { "beige", 0xF5F5DC }, { "bisque", 0xFFE4C4 },
	{ "black", 0x000000 }, { "blanchedalmond", 0xFFEBCD },
	{ "blue", 0x0000FF }, { "blueviolet", 0x8A2BE2 },
	{ "brown", 0xA52A2A }, { "burlywood", 0xDEB887 },
	{ "cadetblue", 0x5F9EA0 }, { "chartreuse", 0x7FFF00 },
	{ "chocolate", 0xD2691E }, { "coral", 0xFF7F50 },
	{ "cornflowerblue", 0x6495ED }, { "cornsilk", 0xFFF8DC },
	{ "crimson", 0xDC143C }, { "cyan", 0x00FFFF },
	{ "darkblue", 0x00008B }, { "darkcyan", 0x008B8B },
	{ "darkgoldenrod", 0xB8860B }, { "darkgray", 0xA9A9A9 },
	{ "darkgreen", 0x006400 }, { "darkgrey", 0xA9A9A9 },
	{ "darkkhaki", 0xBDB76B }, { "darkmagenta", 0x8B008B },
	{ "darkolivegreen", 0x556B2F }, { "darkorange", 0xFF8C00 },
	{ "darkorchid", 0x9932CC }, { "darkred", 0x8B0000 },
	{ "darksalmon", 0xE9967A }, { "darkseagreen", 0x8FBC8F },
	{ "darkslateblue", 0x483D8B }, { "darkslategray", 0x2F4F4F },
	{ "darkslategrey", 0x2F4F4F }, { "darkturquoise", 0x00CED1 },
	{ "darkviolet", 0x9400D3 }, { "deeppink", 0xFF1493 },
	{ "deepskyblue", 0x00BFFF }, { "dimgray", 0x696969 },
	{ "dimgrey", 0x696969 }, { "dodgerblue", 0x1E90FF },
	{ "firebrick", 0xB22222 }, { "floralwhite", 0xFFFAF0 },
	{ "forestgreen", 0x228B22 }, { "fuchsia", 0xFF00FF },
	{ "gainsboro", 0xDCDCDC }, { "ghostwhite", 0xF8F8FF },
	{ "gold", 0xFFD700 }, { "goldenrod", 0xDAA520 },
	{ "gray", 0x808080 }, { "green", 0x008000 },
	{ "greenyellow", 0xADFF2F }, { "grey", 0x808080 },
	{ "honeydew", 0xF0FFF0 }, { "hotpink", 0xFF69B4 },
	{ "indianred", 0xCD5C5C }, { "indigo", 0x4B0082 },
	{ "ivory", 0xFFFFF0 }, { "khaki", 0xF0E68C },
	{ "lavender", 0xE6E6FA }, { "lavenderblush", 0xFFF0F5 },
	{ "lawngreen", 0x7CFC00 }, { "lemonchiffon", 0xFFFACD },
	{ "lightblue", 0xADD8E6 }, { "lightcoral", 0xF08080 },
	{ "lightcyan", 0xE0FFFF }, { "lightgoldenrodyellow", 0xFAFAD2 },
	{ "lightgray", 0xD3D3D3 }, { "lightgreen", 0x90EE90 },
	{ "lightgrey", 0xD3D3D3 }, { "lightpink", 0xFFB6C1 },
	{ "lightsalmon", 0xFFA07A }, { "lightseagreen", 0x20B2AA },
	{ "lightskyblue", 0x87CEFA }, { "lightslategray", 0x778899 },
	{ "lightslategrey", 0x778899 }, { "lightsteelblue", 0xB0C4DE },
	{ "lightyellow", 0xFFFFE0 }, { "lime", 0x00FF00 },
	{ "limegreen", 0x32CD32 }, { "linen", 0xFAF0E6 },
	{ "magenta", 0xFF00FF }, { "maroon", 0x800000 },
	{ "mediumaquamarine", 0x66CDAA }, { "mediumblue", 0x0000CD },
	{ "mediumorchid", 0xBA55D3 }, { "mediumpurple", 0x9370DB },
	{ "mediumseagreen", 0x3CB371 }, { "mediumslateblue", 0x7B68EE },
	{ "mediumspringgreen", 0x00FA9A }, { "mediumturquoise", 0x48D1CC },
	{ "mediumvioletred", 0xC71585 }, { "midnightblue", 0x191970 },
	{ "mintcream", 0xF5FFFA }, { "mistyrose", 0xFFE4E1 },
	{ "moccasin", 0xFFE4B5 }, { "navajowhite", 0xFFDEAD },
	{ "navy", 0x000080 }, { "oldlace", 0xFDF5E6 }, { "olive", 0x808000 },
	{ "olivedrab", 0x6B8E23 }, { "orange", 0xFFA500 },
	{ "orangered", 0xFF4500 }, { "orchid", 0xDA70D6 },
	{ "palegoldenrod", 0xEEE8AA }, { "palegreen", 0x98FB98 },
	{ "paleturquoise", 0xAFEEEE }, { "palevioletred", 0xDB7093 },
	{ "papayawhip", 0xFFEFD5 }, { "peachpuff", 0xFFDAB9 },
	{ "peru", 0xCD853F }, { "pink", 0xFFC0CB }, { "plum", 0xDDA0DD },
	{ "powderblue", 0xB0E0E6 }, { "purple", 0x800080 },
	{ "red", 0xFF0000 }, { "rosybrown", 0xBC8F8F },
	{ "royalblue", 0x4169E1 }, { "saddlebrown", 0x8B4513 },
	{ "salmon", 0xFA8072 }, { "sandybrown", 0xF4A460 },
	{ "seagreen", 0x2E8B57 }, { "seashell", 0xFFF5EE },
	{ "sienna", 0xA0522D }, { "silver", 0xC0C0C0 },
	{ "skyblue", 0x87CEEB }, { "slateblue", 0x6A5ACD },
	{ "slategray", 0x708090 }, { "slategrey", 0x708090 },
	{ "snow", 0xFFFAFA }, { "springgreen", 0x00FF7F },
	{ "steelblue", 0x4682B4 }, { "tan", 0xD2B48C }, { "teal", 0x008080 },
	{ "thistle", 0xD8BFD8 }, { "tomato", 0xFF6347 },
	{ "turquoise", 0x40E0D0 }, { "violet", 0xEE82EE },
	{ "wheat", 0xF5DEB3 }, { "white", 0xFFFFFF },
	{ "whitesmoke", 0xF5F5F5 }, { "yellow", 0xFFFF00 },
	{ "yellowgreen", 0x9ACD32 },
};

static int
color_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct color_name *)e)->n);
}

/* append the hex digits of v as SA dec2hex does ("%lx", a leading 0
 * under 16) */
static size_t
dec2hex(char *o, size_t n, size_t cap, unsigned long v)
{
	char t[24];
	int k = snprintf(t, sizeof(t), "%s%lx", v < 16 ? "0" : "", v);

	for (int i = 0; i < k && n < cap; i++)
		o[n++] = t[i];
	return n;
}

/* rgb(N%, N%, N%) or rgb(N, N, N) at p (after "rgb("): the numbers */
static bool
rgb_args(const char *p, bool pct, unsigned long v[3])
{
	for (int k = 0; k < 3; k++) {
		char *e;

		if (*p < '0' || *p > '9')
			return false;
		v[k] = strtoul(p, &e, 10);
		p = e;
		if (pct && *p++ != '%')
			return false;
		if (k < 2) {
			if (*p++ != ',')
				return false;
			while (*p == ' ' || *p == '\t' || *p == '\n' ||
			    *p == '\r' || *p == '\f' || *p == '\v')
				p++;
		}
	}
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ||
	    *p == '\f' || *p == '\v')
		p++;
	return *p == ')';
}

/* SA name_to_rgb: a colour name, "#hex" (cut to 6 or 3 digits, padded,
 * 3 doubled), rgb() in numbers or percent; anything else, including hex
 * digits without '#', is "invalid" */
static int
name_to_rgb(struct bstr v)
{
	char c[128], h[160];
	size_t n = 0, hn = 0;

	v = bstr_trim(v);
	if (v.len >= sizeof(c))
		v.len = sizeof(c) - 1;
	for (size_t i = 0; i < v.len; i++)
		c[n++] = (char)msg__lc(v.p[i]);
	c[n] = '\0';
	if (n && isalpha((unsigned char)c[0])) {
		const struct color_name *cn = bsearch(c, color_names,
		    sizeof(color_names) / sizeof(color_names[0]),
		    sizeof(color_names[0]), color_cmp);

		if (cn != NULL)
			return cn->rgb;
	}
	bool hexonly = strspn(c, "#0123456789abcdef") == n;
	const char *rgb = strstr(c, "rgb(");

	if (!hexonly) {
		/* rgb\([\d%, ]*\) somewhere */
		bool ok = false;

		for (const char *q = rgb; q != NULL && !ok;
		     q = strstr(q + 1, "rgb(")) {
			size_t k = strspn(q + 4, "0123456789%, ");

			ok = q[4 + k] == ')';
		}
		if (!ok)
			return COLOR_INVALID;
	}
	if (rgb != NULL) {
		unsigned long x[3];

		if (rgb_args(rgb + 4, true, x)) {
			h[hn++] = '#';
			for (int k = 0; k < 3; k++)
				hn = dec2hex(h, hn, sizeof(h) - 1,
				    (unsigned long)((double)x[k] / 100 * 255));
		} else if (rgb_args(rgb + 4, false, x)) {
			h[hn++] = '#';
			for (int k = 0; k < 3; k++)
				hn = dec2hex(h, hn, sizeof(h) - 1, x[k]);
		}
	}
	if (hn == 0) {
		memcpy(h, c, n);
		hn = n;
	}
	if (hn == 0 || h[0] != '#')
		return COLOR_INVALID;
	/* keep the hex digits, 6 at most, 3 when 4 or 5 */
	size_t d = 0;

	for (size_t i = 0; i < hn; i++)
		if (isxdigit((unsigned char)h[i]) && !isupper((unsigned char)h[i]))
			h[d++] = h[i];
	if (d > 6)
		d = 6;
	if (d > 3 && d < 6)
		d = 3;
	while (d % 3)
		h[d++] = '0';
	if (d == 0)
		return COLOR_HASH;
	if (d == 3) {
		h[5] = h[4] = h[2];
		h[3] = h[2] = h[1];
		h[1] = h[0];
		d = 6;
	}
	unsigned rgbv = 0;

	for (size_t i = 0; i < 6; i++)
		rgbv = rgbv << 4 |
		    (unsigned)(h[i] <= '9' ? h[i] - '0' : h[i] - 'a' + 10);
	return (int)rgbv;
}

static bool
css_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v';
}

/* SA's CSS colour value: "!important" dropped; anything with "rgb" is
 * read as its digits and commas; inherit: no change (COLOR_NONE) */
#define COLOR_NONE (-2)
static int
css_color(struct bstr v)
{
	char c[128];
	size_t n = 0;

	for (size_t i = 0; i < v.len && n < sizeof(c) - 1; i++)
		c[n++] = (char)msg__lc(v.p[i]);
	c[n] = '\0';
	/* s/\s*!\s*important$// */
	if (n >= 9 && !memcmp(c + n - 9, "important", 9)) {
		size_t k = n - 9;

		while (k > 0 && css_ws((unsigned char)c[k - 1]))
			k--;
		if (k > 0 && c[k - 1] == '!') {
			k--;
			while (k > 0 && css_ws((unsigned char)c[k - 1]))
				k--;
			c[n = k] = '\0';
		}
	}
	if (strstr(c, "rgb") != NULL) {
		unsigned long x[3] = { 0, 0, 0 };
		int k = 0;
		bool dig = false;

		/* tr/0-9,//cd; split /,/ */
		for (size_t i = 0; i < n && k < 3; i++) {
			if (c[i] == ',') {
				k++;
				dig = false;
			} else if (c[i] >= '0' && c[i] <= '9') {
				if (x[k] < 1000)
					x[k] = x[k] * 10 + (unsigned)(c[i] - '0');
				dig = true;
			}
		}
		(void)dig;
		for (k = 0; k < 3; k++)
			if (x[k] > 255)
				x[k] = 255;
		return (int)(x[0] << 16 | x[1] << 8 | x[2]);
	}
	if (strcmp(c, "inherit") == 0)
		return COLOR_NONE;
	if (strcmp(c, "transparent") == 0)
		return COLOR_TRANSPARENT;
	return name_to_rgb(bstr_make(c, n));
}

/* SA parse_css_background, the bottom (last) layer: its first value
 * that is a colour */
static int
css_background(struct bstr v)
{
	size_t i, layer = 0;
	int depth = 0;
	unsigned char q = 0;

	for (i = 0; i < v.len; i++) {
		unsigned char c = v.p[i];

		if (q) {
			if (c == q)
				q = 0;
		} else if (c == '"' || c == '\'') {
			q = c;
		} else if (c == '(') {
			depth++;
		} else if (c == ')' && depth) {
			depth--;
		} else if (c == ',' && !depth) {
			layer = i + 1;
		}
	}
	for (i = layer; i < v.len;) {
		size_t t0;

		while (i < v.len && v.p[i] == ' ')
			i++;
		t0 = i;
		depth = 0;
		q = 0;
		for (; i < v.len; i++) {
			unsigned char c = v.p[i];

			if (q) {
				if (c == q)
					q = 0;
			} else if (c == '"' || c == '\'') {
				q = c;
			} else if (c == '(') {
				depth++;
			} else if (c == ')' && depth) {
				/* a group ends the token (SA state 1) */
				if (--depth == 0) {
					i++;
					break;
				}
			} else if (c == ' ' && !depth) {
				break;
			}
		}
		if (i > t0) {
			int col = name_to_rgb(bstr_make(v.p + t0, i - t0));

			if (col != COLOR_INVALID)
				return col;
		}
	}
	return COLOR_NONE;
}

/* SA html_font_invisible's two colour tests */
static bool
same_color(int a, int b)
{
	return a == b; /* SA: the last six characters are equal */
}

static bool
low_contrast(int fg, int bg)
{
	if (fg < 0 || bg < 0)
		return false;
	double r = ((fg >> 16) & 255) - ((bg >> 16) & 255);
	double g = ((fg >> 8) & 255) - ((bg >> 8) & 255);
	double b = (fg & 255) - (bg & 255);

	/* SA: brightness-weighted distance under 12 */
	return (0.2126 * r) * (0.2126 * r) + (0.7152 * g) * (0.7152 * g) +
	    (0.0722 * b) * (0.0722 * b) < 144.0;
}

/* what the style stack records of an element: th counts as td (SA);
 * the elements without a kind by their table index */
static int
style_key(const struct tag *t)
{
	if (t->kind == K_TH)
		return K_TD;
	if (t->kind != K_NONE)
		return (int)t->kind;
	return 1000 + t->id;
}

/* SA text_style "size" attribute: relative to the basefont or absolute */
static bool
font_size(const struct render *r, struct bstr v, int *size)
{
	size_t i = 0;
	int sign = 0, num = 0;

	while (i < v.len && css_ws(v.p[i]))
		i++;
	if (i < v.len && (v.p[i] == '+' || v.p[i] == '-'))
		sign = v.p[i++] == '+' ? 1 : -1;
	size_t d0 = i;

	while (i < v.len && v.p[i] >= '0' && v.p[i] <= '9') {
		if (num < 100000)
			num = num * 10 + (v.p[i] - '0');
		i++;
	}
	if (i == d0)
		return false;
	*size = sign ? r->basefont + sign * num : num;
	return true;
}

/* SA text_style for a style="" attribute: (background-)color, background,
 * display, visibility */
static void
apply_css(struct render *r, struct style *s, struct bstr v)
{
	size_t i = 0;

	while (i <= v.len) {
		size_t d0 = i;

		while (i < v.len && v.p[i] != ';')
			i++;
		struct bstr d = bstr_make(v.p + d0, i - d0);

		i++;
		/* ^\s*(background-)?color:\s*(.+?)\s*$ */
		size_t k = 0;

		while (k < d.len && css_ws(d.p[k]))
			k++;
		struct bstr rest = bstr_sub(d, k, d.len);
		bool bg = MSG__ISTARTS(rest, "background-color:");

		if (bg || MSG__ISTARTS(rest, "color:")) {
			struct bstr val = bstr_trim(bstr_sub(rest,
			    bg ? 17 : 6, rest.len));
			int c;

			if (val.len == 0)
				continue;
			c = css_color(val);
			if (c != COLOR_NONE)
				*(bg ? &s->bgcolor : &s->color) = c;
			continue;
		}
		/* ^\s*background:\s*(.+?)\s*$ (case-sensitive in SA) */
		if (rest.len > 11 && !memcmp(rest.p, "background:", 11)) {
			struct bstr val = bstr_trim(bstr_sub(rest, 11,
			    rest.len));
			char lc[256];
			size_t n = 0;
			int c;

			for (size_t j = 0; j < val.len && n < sizeof(lc); j++)
				lc[n++] = (char)msg__lc(val.p[j]);
			if (n && (c = css_background(bstr_make(lc, n))) !=
			    COLOR_NONE)
				s->bgcolor = c;
			continue;
		}
		/* ^\s*([a-z_-]+)\s*:\s*(\S.*?)\s*$ -> style_$1 (the name as
		 * written: only lowercase display/visibility are read) */
		size_t n0 = k;

		while (k < d.len && (((d.p[k] | 0x20) >= 'a' &&
		    (d.p[k] | 0x20) <= 'z') || d.p[k] == '_' || d.p[k] == '-'))
			k++;
		struct bstr name = bstr_make(d.p + n0, k - n0);

		while (k < d.len && css_ws(d.p[k]))
			k++;
		if (name.len == 0 || k >= d.len || d.p[k] != ':')
			continue;
		struct bstr val = bstr_trim(bstr_sub(d, k + 1, d.len));

		if (val.len == 0)
			continue;
		if (MSG__IEQ(name, "font-size")) {
			/* not SA: text this small is invisible too, for the
			 * invisible text views only (no SA result changes) */
			size_t j = 0;
			long px = 0;

			while (j < val.len && val.p[j] >= '0' &&
			    val.p[j] <= '9' && px < 100)
				px = px * 10 + (val.p[j++] - '0');
			s->tiny = j > 0 && px <= 1;
			continue;
		}
		if (name.len == 7 && !memcmp(name.p, "display", 7))
			s->disp_none = MSG__IEQ(val, "none");
		else if (name.len == 10 && !memcmp(name.p, "visibility", 10))
			s->vis_hidden = MSG__IEQ(val, "hidden");
	}
	/* transparent: the parent's background; text: this background */
	if (s->bgcolor == COLOR_TRANSPARENT)
		s->bgcolor = r->st[r->depth - 1].bgcolor;
	if (s->color == COLOR_TRANSPARENT)
		s->color = s->bgcolor;
}

/* SA text_style on a start tag */
static void
push_style(struct render *r, const struct tag *t)
{
	struct style s;
	struct bstr v;
	enum tag_kind k = t->kind;
	bool any = false, sized = false;

	/* basefont with a size changes the base size only */
	if (k == K_BASEFONT && (v = attr(t, "size")).p) {
		size_t i = 0;
		int num = 0;

		while (i < v.len && css_ws(v.p[i]))
			i++;
		if (i < v.len && v.p[i] >= '0' && v.p[i] <= '9') {
			while (i < v.len && v.p[i] >= '0' && v.p[i] <= '9' &&
			    num < 100000)
				num = num * 10 + (v.p[i++] - '0');
			r->basefont = num;
			return;
		}
	}
	/* td and tr close an open font/td (and tr) first (SA
	 * close_table_tag), as their end tags are optional */
	if (k == K_TD || k == K_TH || k == K_TR) {
		bool open = false;
		int want = k == K_TR ? K_TR : K_TD;

		for (int i = 1; i < r->depth; i++)
			open |= r->st[i].tag == want;
		while (open && r->depth > 1) {
			int top = r->st[r->depth - 1].tag;

			if (top == K_FONT || top == K_TD ||
			    (k == K_TR && top == K_TR))
				r->depth--;
			else
				break;
		}
	}
	s = r->st[r->depth - 1];
	s.tag = style_key(t);
	if (k == K_BIG || k == K_SMALL) {
		/* no attributes, no min/max_size (SA returns early) */
		s.size += k == K_BIG ? 1 : -1;
		goto push;
	}
	/* the attributes SA's %ok_attributes allows, in source order (SA:
	 * hash order) */
	for (size_t i = 0; i < t->nattr; i++) {
		struct bstr an = t->an[i], av = t->av[i];
		bool fontish = k == K_FONT || k == K_BASEFONT;
		bool tableish = k == K_TABLE || k == K_TD || k == K_TH ||
		    k == K_TR;

		if (av.p == NULL)
			av = BSTR_LIT(""); /* SA: a bare attribute is "" */
		if ((fontish && MSG__IEQ(an, "color")) ||
		    (k == K_BODY && MSG__IEQ(an, "text"))) {
			s.color = name_to_rgb(av);
		} else if (fontish && MSG__IEQ(an, "size")) {
			(void)font_size(r, av, &s.size);
			sized = true;
		} else if ((tableish || k == K_SPAN || k == K_P ||
			       k == K_DIV || k == K_A) &&
		    MSG__IEQ(an, "style")) {
			apply_css(r, &s, av);
		} else if (!((fontish && MSG__IEQ(an, "face")) ||
			       ((tableish || k == K_BODY) &&
				   MSG__IEQ(an, "bgcolor")) ||
			       (k == K_BODY && (MSG__IEQ(an, "link") ||
				   MSG__IEQ(an, "alink") ||
				   MSG__IEQ(an, "vlink") ||
				   MSG__IEQ(an, "background"))))) {
			continue; /* not an ok attribute */
		}
		any = true;
	}
	/* SA compares the size after each ok attribute */
	if (any && r->hp != NULL) {
		int sz[2] = { r->st[r->depth - 1].size, s.size };

		for (int j = sized ? 0 : 1; j < 2; j++) {
			if (sz[j] > r->hp->max_size)
				r->hp->max_size = sz[j];
			else if (sz[j] < r->hp->min_size)
				r->hp->min_size = sz[j];
		}
	}
push:
	if (r->depth < STYLE_STACK)
		r->st[r->depth++] = s;
}

static void
pop_style(struct render *r, const struct tag *t)
{
	int id = style_key(t);

	if (t->kind == K_BODY)
		return; /* browsers render text after </body> */
	for (int i = r->depth - 1; i >= 1; i--)
		if (r->st[i].tag == id) {
			r->depth = i;
			return;
		}
}

/* SA html_font_invisible: same or low-contrast colours (and the
 * font_low_contrast result), an invalid colour (font_invalid_color),
 * size <= 1, display:none, visibility:hidden */
static bool
invisible(struct render *r)
{
	const struct style *s = &r->st[r->depth - 1];
	unsigned f = 0;
	bool inv = false;

	if (same_color(s->color, s->bgcolor) ||
	    low_contrast(s->color, s->bgcolor)) {
		f = MSG_HTML_FONT_LOW_CONTRAST;
		inv = true;
	} else if (s->color == COLOR_INVALID || s->bgcolor == COLOR_INVALID) {
		f = MSG_HTML_FONT_INVALID_COLOR;
		inv = true;
	} else {
		inv = s->size <= 1 || s->disp_none || s->vis_hidden ||
		    s->tiny;
	}
	if (r->hp != NULL)
		r->hp->flags |= f;
	return inv;
}

/* ---- output ------------------------------------------------------------ */

static void
out_ws(struct render *r, const char *ws)
{
	size_t k = strlen(ws);

	/* trim the trailing space of the previous text chunk unless it was
	 * whitespace or invisible (SA display_text) */
	if (!r->last_ws && !r->last_invis && r->n > r->last_start &&
	    r->o[r->n - 1] == ' ')
		r->n--;
	r->last_start = r->n;
	if (r->n + k <= r->cap) {
		memcpy(r->o + r->n, ws, k);
		r->n += k;
	}
	r->last_ws = true;
	r->last_invis = false;
	r->chunks = true;
}

/* bytes out_text must look at: ASCII whitespace, '&', 0xC2 (NBSP) */
static const unsigned char text_special[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static void out_text_mode(struct render *, const unsigned char *, size_t,
    bool);

static void
out_text(struct render *r, const unsigned char *p, size_t len)
{
	out_text_mode(r, p, len, true);
}

static void
out_text_raw(struct render *r, const unsigned char *p, size_t len)
{
	out_text_mode(r, p, len, false);
}

static void
out_text_mode(struct render *r, const unsigned char *p, size_t len,
    bool decode)
{
	size_t start = r->n;
	bool sp = false, any = false, inv;
	uint32_t cp;

	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		size_t k;

		/* a run of ordinary bytes: one bounded copy */
		if (!text_special[c]) {
			size_t j = i + 1;

			/* one ' ' between ordinary bytes renders as itself:
			 * it stays in the run */
			for (;;) {
				while (j < len && !text_special[p[j]])
					j++;
				if (j + 1 < len && p[j] == ' ' &&
				    !text_special[p[j + 1]]) {
					j += 2;
					continue;
				}
				break;
			}
			if (sp) {
				if (r->n < r->cap)
					r->o[r->n++] = ' ';
				sp = false;
			}
			k = j - i;
			if (k > r->cap - r->n)
				k = r->cap - r->n;
			memcpy(r->o + r->n, p + i, k);
			r->n += k;
			any = true;
			i = j;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\f' || c == '\v') {
			sp = true;
			i++;
			continue;
		}
		if (c == 0xC2 && i + 1 < len && p[i + 1] == 0xA0) {
			sp = true;
			i += 2;
			continue;
		}
		if (decode && c == '&' && (k = entity(p + i, len - i, &cp)) != 0) {
			i += k;
			if (cp == 0xA0) {
				sp = true;
				continue;
			}
			if (sp) {
				if (r->n < r->cap)
					r->o[r->n++] = ' ';
				sp = false;
			}
			if (r->n + 4 <= r->cap)
				r->n += msg__utf8_put(r->o + r->n, cp);
			any = true;
			continue;
		}
		if (sp) {
			if (r->n < r->cap)
				r->o[r->n++] = ' ';
			sp = false;
		}
		if (r->n < r->cap)
			r->o[r->n++] = c;
		any = true;
		i++;
	}
	if (sp && r->n < r->cap)
		r->o[r->n++] = ' ';
	/* whitespace-only text is never invisible (SA html_text) */
	inv = any && invisible(r);
	/* trim the leading space after a whitespace chunk, unless this text
	 * is invisible */
	if (r->last_ws && !inv && r->n > start && r->o[start] == ' ') {
		memmove(r->o + start, r->o + start + 1, r->n - start - 1);
		r->n--;
	}
	if (r->n > start || len > 0) {
		/* SA pushes a chunk even when it renders empty */
		r->chunks = true;
		r->last_start = start;
		r->last_ws = false;
		r->last_invis = inv;
		if (inv)
			r->m->html.invisible_bytes += r->n - start;
	}
}

/* ---- SA's per-part results --------------------------------------------- */

static size_t
zmin(size_t a, size_t b)
{
	return a < b ? a : b;
}

static size_t
zmax(size_t a, size_t b)
{
	return a > b ? a : b;
}

/* sv_push - start a new (empty) string: SA push(@{...}, '') */
static void
sv_push(struct render *r, struct strvec *v, struct bstr init)
{
	struct bstr *e;

	if (v->vec.n >= SV_MAX) {
		v->full = true;
		return;
	}
	if ((e = msg__vec_push(r->m->a, &v->vec, sizeof(*e))) == NULL) {
		v->full = true;
		return;
	}
	*e = init;
	v->lastcap = 0; /* init is not ours to grow */
}

/* sv_append - SA $v->[-1] .= s, each string kept to SV_MAX_LEN bytes */
static void
sv_append(struct render *r, struct strvec *v, struct bstr s)
{
	struct bstr *e;
	size_t k;

	if (v->full || v->vec.n == 0 || s.len == 0)
		return;
	e = &((struct bstr *)v->vec.v)[v->vec.n - 1];
	k = zmin(s.len, SV_MAX_LEN - zmin(e->len, SV_MAX_LEN));
	if (k == 0)
		return;
	if (e->len + k > v->lastcap) {
		size_t nc = zmax(zmax(v->lastcap * 2, e->len + k), 32);
		unsigned char *o;

		nc = zmin(nc, SV_MAX_LEN);
		if ((o = arena_alloc(r->m->a, nc)) == NULL)
			return;
		if (e->len)
			memcpy(o, e->p, e->len);
		e->p = o;
		v->lastcap = nc;
	}
	memcpy((unsigned char *)e->p + e->len, s.p, k);
	e->len += k;
}

static uint32_t
name_hash(struct bstr n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n.len; i++)
		h = (h ^ msg__lc(n.p[i])) * 16777619u;
	return h;
}

/* inside_get - SA's inside{name}: the entry, created with count 0 (and
 * *isnew set) when new; NULL once INSIDE_MAX names are known */
static struct inside_ent *
inside_get(struct render *r, struct bstr name, bool *isnew)
{
	uint32_t h = name_hash(name);
	size_t i;

	*isnew = false;
	if (r->itn * 2 >= r->itcap) {
		size_t nc = r->itcap ? r->itcap * 2 : 64;
		struct inside_ent *nt;

		if (r->itn >= INSIDE_MAX ||
		    (nt = arena_alloc(r->m->a, nc * sizeof(*nt))) == NULL)
			goto find;
		memset(nt, 0, nc * sizeof(*nt));
		for (size_t k = 0; k < r->itcap; k++) {
			if (r->it[k].name == NULL)
				continue;
			for (i = r->it[k].hash & (nc - 1); nt[i].name;
			     i = (i + 1) & (nc - 1))
				;
			nt[i] = r->it[k];
		}
		r->it = nt;
		r->itcap = nc;
	}
find:
	if (r->itcap == 0)
		return NULL;
	for (i = h & (r->itcap - 1); r->it[i].name; i = (i + 1) & (r->itcap - 1))
		if (r->it[i].hash == h &&
		    msg__caseeq(bstr_make(r->it[i].name, r->it[i].len), name))
			return &r->it[i];
	if (r->itn * 2 >= r->itcap) /* full: the name is not recorded */
		return NULL;
	r->it[i] = (struct inside_ent){ .name = name.p,
		.len = (uint32_t)name.len, .hash = h };
	r->itn++;
	*isnew = true;
	return &r->it[i];
}

/* SA html_tag: tags, elements, *_seen, inside{}, closed_extra; returns
 * false for namespace tags (o:p, st1:x), which SA counts and ignores */
static bool
sa_count(struct render *r, const struct tag *t)
{
	struct msg_html_part *hp = r->hp;
	struct bstr nm = t->raw;
	struct inside_ent *e;
	bool isnew, elem, ns = false;

	/* ^(?:o|st\d):[\w-]+/?$ */
	size_t k = 0;

	if (nm.len > 2 && (nm.p[0] | 0x20) == 'o' && nm.p[1] == ':')
		k = 2;
	else if (nm.len > 4 && (nm.p[0] | 0x20) == 's' &&
	    (nm.p[1] | 0x20) == 't' && nm.p[2] >= '0' && nm.p[2] <= '9' &&
	    nm.p[3] == ':')
		k = 4;
	if (k) {
		size_t e0 = nm.len - (nm.p[nm.len - 1] == '/');

		ns = e0 > k;
		for (size_t j = k; j < e0; j++)
			ns &= (tagc[nm.p[j]] & TC_NAME) && nm.p[j] != ':';
	}
	elem = ns || (t->flags & TF_ELEM);
	e = inside_get(r, nm, &isnew);
	if (elem) {
		hp->elements++;
		hp->elements_seen += isnew;
	}
	hp->tags++;
	hp->tags_seen += isnew;
	if (e != NULL) {
		e->count += t->end ? -1 : 1;
		if (e->count < 0) {
			e->count = 0;
			hp->closed_extra++;
		}
		if (t->kind == K_A)
			r->in_a = e->count;
		else if (t->kind == K_TITLE)
			r->in_title_n = e->count;
	}
	return !ns;
}

/* SA html_tests font_face_bad: the face is not a list of plain names,
 * ^\s*["'.]?[a-z ][a-z -]*[a-z]\d?["']?(?:,\s*["']?[a-z][a-z -]*[a-z]\d?["']?)*;?$ */
static bool
face_item_ok(struct bstr s, bool first)
{
	/* from the end: ["']? \d? [a-z] */
	size_t e = s.len;

	if (e && (s.p[e - 1] == '"' || s.p[e - 1] == '\''))
		e--;
	if (e && s.p[e - 1] >= '0' && s.p[e - 1] <= '9')
		e--;
	if (e == 0 || !isalpha(s.p[e - 1]))
		return false;
	e--;
	/* s[0..e) is \s* Q? [a-z ][a-z -]* (first) or \s* ["']? [a-z][a-z -]* */
	for (size_t w = 0; w <= e; w++) {
		if (w > 0 && !css_ws(s.p[w - 1]))
			break;
		for (int q = 0; q < 2; q++) {
			size_t c = w + (size_t)q;

			if (q && (c > e || !(s.p[w] == '"' || s.p[w] == '\'' ||
			    (first && s.p[w] == '.'))))
				continue;
			if (c >= e) {
				/* the core is the final letter alone: needs
				 * one more char before it */
				continue;
			}
			if (!(isalpha(s.p[c]) || (first && s.p[c] == ' ')))
				continue;
			bool ok = true;

			for (size_t j = c + 1; j < e && ok; j++)
				ok = isalpha(s.p[j]) || s.p[j] == ' ' ||
				    s.p[j] == '-';
			if (ok)
				return true;
		}
	}
	return false;
}

static bool
face_bad(struct bstr v)
{
	size_t i = 0, n = v.len;

	if (n && v.p[n - 1] == '\n') /* $ before a final newline */
		n--;
	if (n && v.p[n - 1] == ';')
		n--;
	for (bool first = true; i <= n; first = false) {
		size_t e = i;

		while (e < n && v.p[e] != ',')
			e++;
		if (!face_item_ok(bstr_make(v.p + i, e - i), first))
			return true;
		i = e + 1;
		if (e >= n)
			break;
	}
	return false;
}

/* SA's first character classes for obfuscation_ratio: a character that
 * is neither space nor ASCII punctuation */
static bool
wordish(unsigned c)
{
	if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	    c == '\v')
		return false;
	return !((c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) ||
	    (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e));
}

/* SA html_text: one text event (the text between two pieces of markup) */
static void
text_event(struct render *r, const unsigned char *p, size_t len, bool decode)
{
	if (r->hp != NULL && len > 0) {
		unsigned first = p[0];
		uint32_t cp;

		if (decode && p[0] == '&' && entity(p, len, &cp))
			first = cp == 0xA0 ? ' ' : cp < 0x80 ? cp : 0x80;
		if (r->in_a > 0 || r->in_title_n > 0) {
			struct bstr d = bstr_make(p, len);

			if (decode)
				d = decode_entities(r->m->a, d);
			if (r->in_a > 0)
				sv_append(r, &r->anchors, d);
			if (r->in_title_n > 0)
				sv_append(r, &r->titles, d);
		}
		/* a word that markup splits in two ("wo<b></b>rd") */
		if (r->chunks && wordish(first) && r->n > r->last_start &&
		    wordish(r->o[r->n - 1]))
			r->hp->obfuscation++;
	}
	if (decode)
		out_text(r, p, len);
	else
		out_text_raw(r, p, len);
}

/* ---- URIs -------------------------------------------------------------- */

static long
add_uri(struct render *r, struct bstr v, unsigned flags)
{
	v = bstr_trim(decode_entities(r->m->a, v));
	if (v.len == 0)
		return -1;
	if (v.len > 8192 && r->hp != NULL) /* SA MAX_URI_LENGTH */
		r->hp->flags |= MSG_HTML_URI_TRUNCATED;
	/* resolve a relative reference against <base href> */
	if (r->base.len && !memchr(v.p, ':', v.len < 12 ? v.len : 12)) {
		unsigned char *o = arena_alloc(r->m->a, r->base.len + v.len);

		if (o != NULL) {
			memcpy(o, r->base.p, r->base.len);
			size_t n = r->base.len;

			if (n && o[n - 1] == '/' && v.p[0] == '/')
				n--;
			memcpy(o + n, v.p, v.len);
			v = bstr_make(o, n + v.len);
		}
	}
	return msg__uri_add(r->m, v, flags);
}

/* registrable-ish part: the last two labels, three under a two-letter
 * country code with a short second level (co.uk, com.au) */
static struct bstr
reg_domain(struct bstr h)
{
	size_t dots[3] = { 0 }, nd = 0;

	for (size_t i = h.len; i-- > 0;)
		if (h.p[i] == '.') {
			dots[nd++] = i;
			if (nd == 3)
				break;
		}
	if (nd < 2)
		return h;
	size_t tld = h.len - dots[0] - 1, sld = dots[0] - dots[1] - 1;

	if (tld == 2 && sld <= 3 && nd == 3)
		return bstr_sub(h, dots[2] + 1, h.len);
	if (tld == 2 && sld <= 3)
		return nd >= 2 ? bstr_sub(h, dots[1] + 1, h.len) : h;
	return bstr_sub(h, dots[1] + 1, h.len);
}

static void
end_anchor(struct render *r)
{
	struct msg_uri *u;

	if (r->a_uri < 0)
		return;
	u = &((struct msg_uri *)r->m->uris.v)[r->a_uri];
	if (r->n > r->a_start) {
		struct bstr t = bstr_trim(bstr_make(r->o + r->a_start,
		    r->n - r->a_start));

		u->anchor_text = t.len ? bstr_make(arena_memdup(r->m->a,
		    t.p, t.len), t.len) : BSTR_NULL;
		/* text that itself looks like a link to another domain */
		if (t.len && u->host.len && (MSG__ISTARTS(t, "http") ||
		    MSG__ISTARTS(t, "www."))) {
			struct bstr th = msg__uri_host_of(r->m, t);

			if (th.len && !msg__caseeq(reg_domain(th),
			    reg_domain(u->host)))
				r->m->html.anchor_mismatch++;
		}
	}
	r->a_uri = -1;
}

/* ---- tag handling ------------------------------------------------------ */

/* SA html_tests image size: ^(\d+)(%)?$, percent of 800x600, else 200 */
static uint64_t
sa_dim(struct bstr v, unsigned pct)
{
	size_t i = 0;
	uint64_t n = 0;

	if (v.len && v.p[v.len - 1] == '\n')
		v.len--;
	while (i < v.len && v.p[i] >= '0' && v.p[i] <= '9') {
		if (n < 1000000000)
			n = n * 10 + (uint64_t)(v.p[i] - '0');
		i++;
	}
	if (i == 0 || (i < v.len && !(v.p[i] == '%' && i + 1 == v.len)))
		return 200;
	if (i < v.len)
		n *= pct;
	return n ? n : 200;
}

/* SA HTML.pm canon_uri: the <a href> an anchor text is filed under in
 * uri_detail (no <base> resolution: SA keys anchor_text by anchor_last),
 * entities decoded as HTML::Parser does for attribute values, leading
 * and trailing [\s\xA0] trimmed, cut at MAX_URI_LENGTH (8192); "" for an
 * <a> without href */
static struct bstr
sa_canon_uri(struct render *r, struct bstr v)
{
	if (v.p == NULL)
		return BSTR_LIT("");
	v = decode_entities(r->m->a, v);
	for (;;) {
		if (v.len && (v.p[0] == ' ' || (v.p[0] >= '\t' &&
		    v.p[0] <= '\r') || v.p[0] == 0xA0))
			v = bstr_sub(v, 1, v.len);
		else if (v.len >= 2 && v.p[0] == 0xC2 && v.p[1] == 0xA0)
			v = bstr_sub(v, 2, v.len);
		else
			break;
	}
	for (;;) {
		unsigned char c = v.len ? v.p[v.len - 1] : 'x';

		if (c == ' ' || (c >= '\t' && c <= '\r'))
			v.len--;
		else if (c == 0xA0)
			v.len -= v.len >= 2 && v.p[v.len - 2] == 0xC2 ? 2 : 1;
		else
			break;
	}
	if (v.len > 8192) {
		if (r->hp != NULL)
			r->hp->flags |= MSG_HTML_URI_TRUNCATED;
		v.len = 8192;
	}
	return v;
}

/* SA html_tests (and the html_uri facts the evals read) on a start tag
 * of an element SA knows */
static void
sa_tests(struct render *r, const struct tag *t)
{
	struct msg_html_part *hp = r->hp;
	struct bstr v;

	switch (t->kind) {
	case K_FONT:
		if ((v = attr(t, "face")).p &&
		    face_bad(decode_entities(r->m->a, v)))
			hp->flags |= MSG_HTML_FONT_FACE_BAD;
		break;
	case K_IMG: {
		struct bstr w = attr(t, "width"), h = attr(t, "height");

		if (r->in_a > 0)
			sv_append(r, &r->anchors, BSTR_LIT("<img>\n"));
		if (w.p && h.p)
			hp->image_area += sa_dim(bstr_trim(w), 8) *
			    sa_dim(bstr_trim(h), 6);
		break;
	}
	case K_FORM:
		if ((v = attr(t, "action")).p &&
		    MSG__IFIND(decode_entities(r->m->a, v), "mailto:") >= 0)
			hp->flags |= MSG_HTML_FORM_ACTION_MAILTO;
		break;
	case K_OBJECT:
	case K_EMBED:
		hp->flags |= MSG_HTML_EMBEDS;
		break;
	case K_A: {
		size_t n0 = r->anchors.vec.n;
		struct bstr *e;

		sv_push(r, &r->anchors, BSTR_LIT(""));
		if (r->anchors.vec.n > n0 && (e = msg__vec_push(r->m->a,
		    &r->hrefs, sizeof(*e))) != NULL)
			*e = sa_canon_uri(r, attr(t, "href"));
		break;
	}
	case K_TITLE:
		sv_push(r, &r->titles, BSTR_LIT(""));
		break;
	case K_IFRAME:
		/* SA push_uri type iframe: a src that is not blank */
		if ((v = attr(t, "src")).p && bstr_trim(v).len)
			hp->flags |= MSG_HTML_URI_IFRAME;
		break;
	case K_META: {
		struct bstr he = attr(t, "http-equiv"), c = attr(t, "content");
		long k;

		/* \bcharset\s*=\s*["']?([^"']+) */
		if (he.p == NULL || c.p == NULL ||
		    MSG__IFIND(he, "content-type") < 0 ||
		    (k = MSG__IFIND(c, "charset")) < 0)
			break;
		if (k > 0 && (tagc[c.p[k - 1]] & TC_NAME) && c.p[k - 1] != '-' &&
		    c.p[k - 1] != ':')
			break;
		size_t i = (size_t)k + 7;

		while (i < c.len && css_ws(c.p[i]))
			i++;
		if (i >= c.len || c.p[i] != '=')
			break;
		i++;
		while (i < c.len && css_ws(c.p[i]))
			i++;
		if (i < c.len && (c.p[i] == '"' || c.p[i] == '\''))
			i++;
		size_t v0 = i;

		while (i < c.len && c.p[i] != '"' && c.p[i] != '\'')
			i++;
		if (i == v0)
			break;
		if (r->charsets.vec.n == 0)
			sv_push(r, &r->charsets, BSTR_LIT(""));
		else
			sv_append(r, &r->charsets, BSTR_LIT(" "));
		sv_append(r, &r->charsets, bstr_make(c.p + v0, i - v0));
		break;
	}
	default:
		break;
	}
}

static void
handle_tag(struct render *r, struct tag *t)
{
	struct msg_html *h = &r->m->html;
	enum tag_kind kd;
	struct bstr v;

	t->id = tag_lookup(t->name);
	t->kind = kd = t->id < 0 ? K_NONE : tag_info[t->id].kind;
	unsigned tf = t->flags = t->id < 0 ? 0 :
	    tag_info[t->id].flags | TF_KNOWN;

	h->tags++;
	if (!(tf & TF_KNOWN))
		h->bad_tags++;
	if (r->hp != NULL) {
		if (!sa_count(r, t))
			return; /* SA counts namespace tags, nothing more */
		if (!t->end && (tf & (TF_ELEM | TF_TRICK)))
			sa_tests(r, t);
	}
	/* whitespace (SA html_whitespace), start and end alike */
	if (tf & TF_NL)
		out_ws(r, "\n");
	else if (tf & TF_SP)
		out_ws(r, " ");
	else if (tf & TF_PARA)
		out_ws(r, "\n\n");
	if (!(tf & TF_SPECIAL))
		goto style; /* nothing below applies to it */

	if (t->end) {
		if (kd == K_A)
			end_anchor(r);
		if (tf & TF_STYLE) /* only those are on the stack */
			pop_style(r, t);
		return;
	}
	if (kd == K_A) {
		end_anchor(r);
		if ((v = attr(t, "href")).p) {
			h->links++;
			r->a_uri = add_uri(r, v, MSG_URI_HREF);
			r->a_start = r->n;
		}
	} else if (kd == K_AREA || kd == K_LINK) {
		if ((v = attr(t, "href")).p)
			add_uri(r, v, MSG_URI_HREF);
	} else if (kd == K_IMG) {
		h->images++;
		struct bstr w = attr(t, "width"), ht = attr(t, "height");

		if (w.p && ht.p)
			h->image_area += (uint64_t)strtoul(arena_strndup(
			    r->m->a, (const char *)w.p, w.len), NULL, 10) *
			    strtoul(arena_strndup(r->m->a,
			    (const char *)ht.p, ht.len), NULL, 10);
		if ((v = attr(t, "src")).p)
			add_uri(r, v, MSG_URI_SRC);
	} else if (kd == K_IFRAME || kd == K_FRAME ||
	    kd == K_EMBED || kd == K_SCRIPT ||
	    kd == K_BGSOUND) {
		if (kd == K_IFRAME)
			h->iframes++;
		if (kd == K_EMBED)
			h->objects++;
		if ((v = attr(t, "src")).p)
			add_uri(r, v, MSG_URI_SRC);
	} else if (kd == K_OBJECT || kd == K_APPLET) {
		h->objects++;
	} else if (kd == K_FORM) {
		h->forms++;
		if ((v = attr(t, "action")).p)
			add_uri(r, v, MSG_URI_FORM);
	} else if (kd == K_BASE) {
		if ((v = attr(t, "href")).p) {
			add_uri(r, v, MSG_URI_META);
			r->base = bstr_trim(decode_entities(r->m->a, v));
		}
	} else if (kd == K_META) {
		struct bstr he = attr(t, "http-equiv"), c = attr(t, "content");

		if (he.p && MSG__IEQ(bstr_trim(he), "refresh") &&
		    c.p) {
			long u = MSG__IFIND(c, "url=");

			if (u >= 0)
				add_uri(r, bstr_sub(c, (size_t)u + 4, c.len),
				    MSG_URI_META);
		}
		if (c.p && r->part_cs.len) {
			long cs = MSG__IFIND(c, "charset=");

			if (cs >= 0) {
				struct bstr x = bstr_sub(c, (size_t)cs + 8,
				    c.len);
				size_t k = 0;

				while (k < x.len && x.p[k] != ';' &&
				    x.p[k] != '"' && x.p[k] != ' ')
					k++;
				if (!msg__caseeq(bstr_make(x.p, k),
				    r->part_cs))
					h->charset_meta_mismatch = true;
			}
		}
	} else if (kd == K_FONT) {
		h->font_tags++;
		if (attr(t, "color").p)
			h->font_color_tags++;
	} else if (kd == K_TITLE) {
		h->has_title = true;
	} else if (kd == K_BODY) {
		h->has_body_tag = true;
		if ((v = attr(t, "background")).p)
			add_uri(r, v, MSG_URI_SRC);
	} else if (kd == K_HTML) {
		h->has_html_tag = true;
	}
style:
	if (t->end) {
		if (tf & TF_STYLE) /* only those are on the stack */
			pop_style(r, t);
		return;
	}
	if ((kd == K_TABLE || kd == K_TD || kd == K_TR) &&
	    (v = attr(t, "background")).p)
		add_uri(r, v, MSG_URI_SRC);
	if (tf & TF_STYLE) /* SA has no empty-element syntax: <p/> opens */
		push_style(r, t);
}

/* Skip raw text to "</name" (script, style); returns the offset of '<'. */
static size_t
skip_raw(const unsigned char *p, size_t len, size_t i, const char *name)
{
	size_t nl = strlen(name);

	while (i < len) {
		const unsigned char *lt = memchr(p + i, '<', len - i);

		if (lt == NULL)
			return len;
		i = (size_t)(lt - p);
		if (i + 2 + nl <= len && p[i + 1] == '/' &&
		    msg__caseeq(bstr_make(p + i + 2, nl), bstr_cstr(name)))
			return i;
		i++;
	}
	return len;
}

/* HTML::Parser: does the '<' at p[i] open markup (else it is text)? */
static bool
markup_at(const unsigned char *p, size_t len, size_t i)
{
	unsigned char c;

	if (i + 1 >= len)
		return false;
	c = p[i + 1];
	if (isalpha(c) || c == '_' || c == ':')
		return true;
	return (c == '/' || c == '!' || c == '?') && i + 2 < len;
}

/* a comment event (SA html_comment) for p[i..e) */
static void
comment_event(struct render *r, const unsigned char *p, size_t i, size_t e)
{
	r->m->html.comments++;
	if (r->hp != NULL)
		sv_push(r, &r->comments, bstr_make(p + i, e - i));
}

/* markup that is not a tag at p[i] ("<!", "<?", "</" + junk): comments,
 * declarations, processing instructions, CDATA; returns the offset after
 * it. HTML::Parser: "<!-- ... --\s*>", "<!-->", bogus "<!x>" and "</ x>"
 * are comments, unterminated markup is a comment to the end. */
static size_t
other_markup(struct render *r, struct bstr src, size_t i)
{
	const unsigned char *p = src.p, *gt;
	size_t len = src.len, e;

	if (p[i + 1] == '!' && i + 3 < len && p[i + 2] == '-' &&
	    p[i + 3] == '-') {
		if (i + 4 < len && p[i + 4] == '>') {
			e = i + 5;
		} else {
			e = len;
			for (size_t k = i + 4; k + 2 < len + 1;) {
				long d = msg__find(bstr_sub(src, k, len),
				    BSTR_LIT("--"));
				size_t q;

				if (d < 0)
					break;
				q = k + (size_t)d + 2;
				while (q < len && css_ws(p[q]))
					q++;
				if (q < len && p[q] == '>') {
					e = q + 1;
					break;
				}
				k += (size_t)d + 1;
			}
		}
		comment_event(r, p, i, e);
		return e;
	}
	if (p[i + 1] == '!' && len - i >= 9 &&
	    !memcmp(p + i + 2, "[CDATA[", 7)) {
		long d = msg__find(bstr_sub(src, i + 9, len), BSTR_LIT("]]>"));

		e = d < 0 ? len : i + 9 + (size_t)d;
		if (e > i + 9)
			text_event(r, p + i + 9, e - i - 9, false);
		return d < 0 ? len : e + 3;
	}
	gt = memchr(p + i, '>', len - i);
	e = gt ? (size_t)(gt - p) + 1 : len;
	if (gt != NULL && p[i + 1] == '?')
		return e; /* processing instruction */
	if (gt != NULL && p[i + 1] == '!') {
		struct bstr d = bstr_sub(src, i + 2, e);

		if (MSG__ISTARTS(d, "doctype")) {
			/* SA html_declaration: a counted element */
			if (r->hp != NULL) {
				bool isnew;
				struct inside_ent *ie = inside_get(r,
				    BSTR_LIT("!doctype"), &isnew);

				r->hp->elements++;
				r->hp->tags++;
				if (ie != NULL)
					ie->count = 0;
			}
			return e;
		}
		if (MSG__ISTARTS(d, "entity") || MSG__ISTARTS(d, "element") ||
		    MSG__ISTARTS(d, "attlist") || MSG__ISTARTS(d, "notation"))
			return e;
	}
	comment_event(r, p, i, e);
	return e;
}

/* the end of an element SA closes at the end of the document (script
 * and style: SA bug 7437; title: HTML::Parser at eof) */
static void
eof_end(struct render *r, struct tag *t)
{
	t->end = true;
	t->nattr = 0;
	handle_tag(r, t);
}

/* SA's per-part results from the render state */
static void
sa_finish(struct render *r, size_t length)
{
	struct msg_html_part *hp = r->hp;
	struct msg_html_tag *v;
	size_t n = 0, chars = 0, sp = 0;

	hp->length = length;
	for (size_t i = 0; i < r->n; i++) {
		unsigned char c = r->o[i];

		chars += (c & 0xC0) != 0x80;
		sp += c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\v' || c == '\f';
	}
	hp->html_length = chars;
	hp->non_space_len = chars - sp;
	if (r->itn && (v = arena_alloc(r->m->a, r->itn * sizeof(*v)))) {
		for (size_t i = 0; i < r->itcap; i++)
			if (r->it[i].name != NULL) {
				struct bstr nm = bstr_make(r->it[i].name,
				    r->it[i].len);

				v[n].name = msg__lower_dup(r->m->a, nm);
				v[n++].count = r->it[i].count;
			}
		hp->inside = v;
		hp->ninside = n;
	}
	hp->comments = r->comments.vec.v;
	hp->ncomments = r->comments.vec.n;
	hp->titles = r->titles.vec.v;
	hp->ntitles = r->titles.vec.n;
	hp->anchors = r->anchors.vec.v;
	hp->nanchors = r->anchors.vec.n;
	if (r->hrefs.n == r->anchors.vec.n)
		hp->anchor_hrefs = r->hrefs.v;
	if (r->charsets.vec.n)
		hp->charsets = ((struct bstr *)r->charsets.vec.v)[0];
}

/* msg__html_render - render src to text; facts into msg->html and, for
 * a part (part >= 0), SA's per-part results into msg->html_parts */
struct bstr
msg__html_render(struct msg *m, struct bstr src, struct bstr part_cs,
    int part, size_t length)
{
	struct render r = { .m = m, .a_uri = -1, .part_cs = part_cs,
		.basefont = 3 };
	const unsigned char *p = src.p;
	size_t len = src.len, i = 0;
	struct tag t;

	r.cap = len + 16;
	r.st[0] = (struct style){ .tag = -1, .color = 0, .bgcolor = 0xFFFFFF,
		.size = 3 };
	r.depth = 1;
	if ((r.o = arena_alloc(m->a, r.cap)) == NULL)
		return BSTR_NULL;
	if (part >= 0 && len > 0 &&
	    (r.hp = msg__vec_push(m->a, &m->html_parts, sizeof(*r.hp)))) {
		r.hp->part = (unsigned)part;
		r.hp->min_size = r.hp->max_size = 3;
	}
	m->html.parts++;
	m->html.html_bytes += len;
	while (i < len) {
		size_t j = i;

		/* one text event runs to the next markup */
		for (;;) {
			const unsigned char *lt = memchr(p + j, '<', len - j);

			j = lt ? (size_t)(lt - p) : len;
			if (j >= len || markup_at(p, len, j))
				break;
			j++;
		}
		if (j > i)
			text_event(&r, p + i, j - i, true);
		i = j;
		if (i >= len)
			break;
		/* at markup */
		unsigned char c = p[i + 1];
		bool end = c == '/';

		if (c == '!' || c == '?' || (end && !(isalnum(p[i + 2]) ||
		    p[i + 2] == '_' || p[i + 2] == ':'))) {
			i = other_markup(&r, src, i);
			continue;
		}
		size_t s = i + 1 + end, ni = s + parse_tag(p + s, len - s, &t);

		if (!t.closed) {
			/* HTML::Parser: an unterminated tag is a comment */
			comment_event(&r, p, i, len);
			break;
		}
		i = ni;
		t.end = end;
		handle_tag(&r, &t);
		if (!end && (t.flags & TF_RAW)) {
			if (t.name[1] == 'c') /* script */
				m->html.scripts++;
			i = skip_raw(p, len, i, t.name);
			if (i >= len)
				eof_end(&r, &t);
		} else if (!end && (t.flags & TF_LITERAL)) {
			/* HTML::Parser reads these as literal text: markup
			 * inside is not parsed and shows up in the text;
			 * entities are decoded in title and textarea */
			size_t e = skip_raw(p, len, i, t.name);

			if (e > i)
				text_event(&r, p + i, e - i,
				    t.kind == K_TITLE || t.name[0] == 't');
			i = e;
			if (i >= len && t.kind == K_TITLE)
				eof_end(&r, &t);
		}
	}
	end_anchor(&r);
	m->html.text_bytes += r.n;
	if (r.hp != NULL)
		sa_finish(&r, length);
	return bstr_make(r.o, r.n);
}
