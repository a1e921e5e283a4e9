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
	bool hidden;    /* display:none, visibility:hidden */
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

/* the elements handle_tag and the style code name: compared as numbers,
 * not strings */
enum tag_kind { K_NONE, K_A, K_AREA, K_LINK, K_IMG, K_IFRAME, K_FRAME, K_EMBED, K_SCRIPT, K_BGSOUND, K_OBJECT, K_APPLET, K_FORM, K_BASE, K_META, K_FONT, K_TITLE, K_BODY, K_HTML, K_TABLE, K_TD, K_TH, K_TR, K_BIG, K_SMALL };

static const struct tag_info {
	const char *name;
	unsigned flags;
	enum tag_kind kind;
} tag_info[] = {
	{ "a", TF_STYLE | TF_SPECIAL, K_A },
	{ "abbr", 0, K_NONE },
	{ "acronym", 0, K_NONE },
	{ "address", 0, K_NONE },
	{ "applet", TF_SPECIAL, K_APPLET },
	{ "area", TF_SPECIAL, K_AREA },
	{ "article", 0, K_NONE },
	{ "aside", 0, K_NONE },
	{ "audio", 0, K_NONE },
	{ "b", 0, K_NONE },
	{ "base", TF_SPECIAL, K_BASE },
	{ "basefont", 0, K_NONE },
	{ "bdi", 0, K_NONE },
	{ "bdo", 0, K_NONE },
	{ "bgsound", TF_SPECIAL, K_BGSOUND },
	{ "big", TF_STYLE, K_BIG },
	{ "blink", 0, K_NONE },
	{ "blockquote", TF_PARA, K_NONE },
	{ "body", TF_STYLE | TF_SPECIAL, K_BODY },
	{ "br", TF_NL, K_NONE },
	{ "button", 0, K_NONE },
	{ "canvas", 0, K_NONE },
	{ "caption", 0, K_NONE },
	{ "center", 0, K_NONE },
	{ "cite", 0, K_NONE },
	{ "code", 0, K_NONE },
	{ "col", 0, K_NONE },
	{ "colgroup", 0, K_NONE },
	{ "dd", TF_SP, K_NONE },
	{ "del", 0, K_NONE },
	{ "dfn", 0, K_NONE },
	{ "dir", 0, K_NONE },
	{ "div", TF_NL | TF_STYLE, K_NONE },
	{ "dl", 0, K_NONE },
	{ "dt", TF_SP, K_NONE },
	{ "em", 0, K_NONE },
	{ "embed", TF_SP | TF_SPECIAL, K_EMBED },
	{ "fieldset", 0, K_NONE },
	{ "figcaption", 0, K_NONE },
	{ "figure", 0, K_NONE },
	{ "font", TF_STYLE | TF_SPECIAL, K_FONT },
	{ "footer", 0, K_NONE },
	{ "form", TF_SPECIAL, K_FORM },
	{ "frame", TF_SPECIAL, K_FRAME },
	{ "frameset", 0, K_NONE },
	{ "h1", TF_SP, K_NONE },
	{ "h2", TF_SP, K_NONE },
	{ "h3", TF_SP, K_NONE },
	{ "h4", TF_SP, K_NONE },
	{ "h5", TF_SP, K_NONE },
	{ "h6", TF_SP, K_NONE },
	{ "head", 0, K_NONE },
	{ "header", 0, K_NONE },
	{ "hr", TF_PARA, K_NONE },
	{ "html", TF_SPECIAL, K_HTML },
	{ "i", 0, K_NONE },
	{ "iframe", TF_SPECIAL | TF_LITERAL, K_IFRAME },
	{ "ilayer", 0, K_NONE },
	{ "img", TF_SPECIAL, K_IMG },
	{ "input", 0, K_NONE },
	{ "ins", 0, K_NONE },
	{ "isindex", 0, K_NONE },
	{ "kbd", 0, K_NONE },
	{ "label", 0, K_NONE },
	{ "layer", 0, K_NONE },
	{ "legend", 0, K_NONE },
	{ "li", TF_SP, K_NONE },
	{ "link", TF_SPECIAL, K_LINK },
	{ "listing", TF_PARA, K_NONE },
	{ "main", 0, K_NONE },
	{ "map", 0, K_NONE },
	{ "marquee", TF_STYLE, K_NONE },
	{ "menu", 0, K_NONE },
	{ "meta", TF_SPECIAL, K_META },
	{ "multicol", 0, K_NONE },
	{ "nav", 0, K_NONE },
	{ "nobr", 0, K_NONE },
	{ "noembed", 0, K_NONE },
	{ "noframes", 0, K_NONE },
	{ "nolayer", 0, K_NONE },
	{ "noscript", 0, K_NONE },
	{ "o:p", 0, K_NONE },
	{ "object", TF_SPECIAL, K_OBJECT },
	{ "ol", 0, K_NONE },
	{ "optgroup", 0, K_NONE },
	{ "option", 0, K_NONE },
	{ "p", TF_PARA | TF_STYLE, K_NONE },
	{ "param", 0, K_NONE },
	{ "plaintext", TF_PARA, K_NONE },
	{ "pre", TF_PARA, K_NONE },
	{ "q", 0, K_NONE },
	{ "s", 0, K_NONE },
	{ "samp", 0, K_NONE },
	{ "script", TF_SPECIAL | TF_RAW, K_SCRIPT },
	{ "section", 0, K_NONE },
	{ "select", 0, K_NONE },
	{ "small", TF_STYLE, K_SMALL },
	{ "spacer", 0, K_NONE },
	{ "span", TF_STYLE, K_NONE },
	{ "strike", 0, K_NONE },
	{ "strong", 0, K_NONE },
	{ "style", TF_RAW, K_NONE },
	{ "sub", 0, K_NONE },
	{ "sup", 0, K_NONE },
	{ "table", TF_STYLE | TF_SPECIAL, K_TABLE },
	{ "tbody", 0, K_NONE },
	{ "td", TF_SP | TF_STYLE | TF_SPECIAL, K_TD },
	{ "textarea", TF_LITERAL, K_NONE },
	{ "tfoot", 0, K_NONE },
	{ "th", TF_SP | TF_STYLE, K_TH },
	{ "thead", 0, K_NONE },
	{ "title", TF_PARA | TF_SPECIAL | TF_LITERAL, K_TITLE },
	{ "tr", TF_STYLE | TF_SPECIAL, K_TR },
	{ "tt", 0, K_NONE },
	{ "u", 0, K_NONE },
	{ "ul", 0, K_NONE },
	{ "var", 0, K_NONE },
	{ "wbr", 0, K_NONE },
	{ "xmp", TF_PARA | TF_LITERAL, K_NONE },
};

/* tag_first[c - 'a'] .. tag_first[c - 'a' + 1]: the entries starting
 * with letter c (generated with the table) */
static const unsigned short tag_first[27] = {
	0, 9, 21, 28, 35, 37, 45, 45, 55, 62, 62, 63, 69, 75,
	81, 86, 90, 91, 91, 104, 114, 116, 117, 118, 119, 119, 119,
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
	char name[16];
	int id;         /* tag_info index, -1 if unknown */
	enum tag_kind kind;
	unsigned flags; /* TF_* of the element */
	bool end, selfclose;
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

	while (i < len && (tagc[p[i]] & TC_NAME)) {
		if (n < sizeof(t->name) - 1)
			t->name[n++] = (char)msg__lc(p[i]);
		i++;
	}
	t->name[n] = '\0';
	t->nattr = 0;
	t->selfclose = false;
	for (;;) {
		while (i < len && (tagc[p[i]] & TC_SKIP)) {
			if (p[i] == '/')
				t->selfclose = true;
			i++;
		}
		if (i >= len)
			return len;
		if (p[i] == '>')
			return i + 1;
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

#define COLOR_INVALID (-1)

static int
parse_color(struct bstr v)
{
	static const struct {
		const char *n;
		int rgb;
	} names[] = {
		/* HTML 4 colours and the CSS names seen in mail */
		{ "aqua", 0x00FFFF }, { "black", 0 }, { "blue", 0x0000FF },
		{ "fuchsia", 0xFF00FF }, { "gray", 0x808080 },
		{ "grey", 0x808080 }, { "green", 0x008000 },
		{ "lime", 0x00FF00 }, { "maroon", 0x800000 },
		{ "navy", 0x000080 }, { "olive", 0x808000 },
		{ "purple", 0x800080 }, { "red", 0xFF0000 },
		{ "silver", 0xC0C0C0 }, { "teal", 0x008080 },
		{ "white", 0xFFFFFF }, { "yellow", 0xFFFF00 },
		{ "orange", 0xFFA500 }, { "darkblue", 0x00008B },
		{ "darkred", 0x8B0000 }, { "darkgreen", 0x006400 },
		{ "snow", 0xFFFAFA }, { "ivory", 0xFFFFF0 },
		{ "whitesmoke", 0xF5F5F5 }, { "lightgrey", 0xD3D3D3 },
		{ "lightgray", 0xD3D3D3 }, { "darkgray", 0xA9A9A9 },
		{ "darkgrey", 0xA9A9A9 }, { "gold", 0xFFD700 },
	};
	unsigned v6 = 0;
	size_t n = 0;

	v = bstr_trim(v);
	if (v.len && v.p[0] == '#') {
		v.p++;
		v.len--;
	}
	/* names only for what is not a hex triplet; the length first */
	if (v.len && !((v.len == 3 || v.len == 6) && isxdigit(v.p[0])))
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if ((names[i].n[0] | 0x20) == (v.p[0] | 0x20) &&
			    bstr_caseeq_cstr(v, names[i].n))
				return names[i].rgb;
	if (v.len != 3 && v.len != 6)
		return -2; /* unknown name: keep the inherited colour */
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = v.p[i] | 0x20;
		unsigned d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return -2;
		v6 = v6 << 4 | d;
		if (v.len == 3)
			v6 = v6 << 4 | d;
		n++;
	}
	return (int)v6;
}

/* value of property prop in a CSS declaration list */
static struct bstr
css_prop(struct bstr style, const char *prop)
{
	size_t pl = strlen(prop), i = 0;

	while (i < style.len) {
		size_t d0 = i;

		while (i < style.len && style.p[i] != ';')
			i++;
		struct bstr d = bstr_trim(bstr_make(style.p + d0, i - d0));

		i++;
		if (d.len > pl && bstr_casestarts(d, prop)) {
			struct bstr rest = bstr_trim(bstr_sub(d, pl, d.len));

			if (rest.len && rest.p[0] == ':')
				return bstr_trim(bstr_sub(rest, 1, rest.len));
		}
	}
	return BSTR_NULL;
}

static bool
low_contrast(int fg, int bg)
{
	if (fg < 0 || bg < 0)
		return false;
	if (fg == bg)
		return true;
	double r = ((fg >> 16) & 255) - ((bg >> 16) & 255);
	double g = ((fg >> 8) & 255) - ((bg >> 8) & 255);
	double b = (fg & 255) - (bg & 255);

	/* SA: brightness-weighted distance under 12 */
	return (0.2126 * r) * (0.2126 * r) + (0.7152 * g) * (0.7152 * g) +
	    (0.0722 * b) * (0.0722 * b) < 144.0;
}

static void
set_color(int *dst, struct bstr v)
{
	int c = parse_color(v);

	if (c >= 0)
		*dst = c;
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

static void
push_style(struct render *r, const struct tag *t)
{
	struct style s = r->st[r->depth - 1];
	struct bstr v;
	enum tag_kind k = t->kind;

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
		s = r->st[r->depth - 1];
	}
	s.tag = style_key(t);
	if (k == K_BIG)
		s.size++;
	else if (k == K_SMALL)
		s.size--;
	if ((k == K_FONT && (v = attr(t, "color")).p) ||
	    (k == K_BODY && (v = attr(t, "text")).p))
		set_color(&s.color, v);
	/* bgcolor= attributes do not count: SA's text_style drops them
	 * (only CSS background-color does), and we follow SA here */
	if (k == K_FONT && (v = attr(t, "size")).p) {
		v = bstr_trim(v);
		int sign = 0, num = 0;
		size_t i = 0;

		if (v.len && (v.p[0] == '+' || v.p[0] == '-'))
			sign = v.p[i++] == '+' ? 1 : -1;
		size_t d0 = i;

		while (i < v.len && v.p[i] >= '0' && v.p[i] <= '9' && num < 100)
			num = num * 10 + (v.p[i++] - '0');
		if (i > d0)
			s.size = sign ? 3 + sign * num : num;
	}
	if ((v = attr(t, "style")).p) {
		struct bstr d;

		if ((d = css_prop(v, "color")).p)
			set_color(&s.color, d);
		if ((d = css_prop(v, "background-color")).p)
			set_color(&s.bgcolor, d);
		if ((d = css_prop(v, "display")).p)
			s.hidden = MSG__ISTARTS(d, "none");
		if ((d = css_prop(v, "visibility")).p)
			s.hidden = MSG__ISTARTS(d, "hidden");
		if ((d = css_prop(v, "font-size")).p) {
			d = bstr_trim(d);
			long px = 0;
			size_t i = 0;

			while (i < d.len && d.p[i] >= '0' && d.p[i] <= '9')
				px = px * 10 + (d.p[i++] - '0');
			if (i > 0 && px <= 1)
				s.size = 0;
		}
	}
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

/* SA html_font_invisible: low contrast, size <= 1, display:none,
 * visibility:hidden */
static bool
invisible(const struct render *r)
{
	const struct style *s = &r->st[r->depth - 1];

	return s->hidden || s->size <= 1 || low_contrast(s->color, s->bgcolor);
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
		r->last_start = start;
		r->last_ws = false;
		r->last_invis = inv;
		if (inv)
			r->m->html.invisible_bytes += r->n - start;
	}
}

/* ---- URIs -------------------------------------------------------------- */

static long
add_uri(struct render *r, struct bstr v, unsigned flags)
{
	v = bstr_trim(decode_entities(r->m->a, v));
	if (v.len == 0)
		return -1;
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
	if ((tf & TF_STYLE) && !t->selfclose)
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

/* msg__html_render - render src to text; facts into msg->html */
struct bstr
msg__html_render(struct msg *m, struct bstr src, struct bstr part_cs)
{
	struct render r = { .m = m, .a_uri = -1, .part_cs = part_cs };
	const unsigned char *p = src.p;
	size_t len = src.len, i = 0;
	struct tag t;

	r.cap = len + 16;
	r.st[0] = (struct style){ .tag = -1, .color = 0, .bgcolor = 0xFFFFFF,
		.size = 3 };
	r.depth = 1;
	if ((r.o = arena_alloc(m->a, r.cap)) == NULL)
		return BSTR_NULL;
	m->html.parts++;
	m->html.html_bytes += len;
	while (i < len) {
		const unsigned char *lt = memchr(p + i, '<', len - i);
		size_t j = lt ? (size_t)(lt - p) : len;

		if (j > i)
			out_text(&r, p + i, j - i);
		i = j;
		if (i >= len)
			break;
		/* at '<' */
		if (i + 3 < len && p[i + 1] == '!' && p[i + 2] == '-' &&
		    p[i + 3] == '-') {
			struct bstr rest = bstr_sub(src, i + 4, len);
			long e = bstr_find(rest, BSTR_LIT("-->"));

			m->html.comments++;
			i = e < 0 ? len : i + 4 + (size_t)e + 3;
			continue;
		}
		if (i + 1 < len && (p[i + 1] == '!' || p[i + 1] == '?')) {
			const unsigned char *gt = memchr(p + i, '>', len - i);

			i = gt ? (size_t)(gt - p) + 1 : len;
			continue;
		}
		bool end = i + 1 < len && p[i + 1] == '/';
		size_t s = i + 1 + end;

		if (s >= len || !((p[s] | 0x20) >= 'a' && (p[s] | 0x20) <= 'z')) {
			/* not a tag: '<' is text */
			out_text(&r, p + i, 1);
			i++;
			continue;
		}
		i = s + parse_tag(p + s, len - s, &t);
		t.end = end;
		handle_tag(&r, &t);
		if (!end && (t.flags & TF_RAW)) {
			if (t.name[1] == 'c') /* script */
				m->html.scripts++;
			i = skip_raw(p, len, i, t.name);
		} else if (!end && (t.flags & TF_LITERAL)) {
			/* HTML::Parser reads these as literal text: markup
			 * inside is not parsed and shows up in the text */
			size_t e = skip_raw(p, len, i, t.name);

			if (e > i)
				out_text_raw(&r, p + i, e - i);
			i = e;
		}
	}
	end_anchor(&r);
	m->html.text_bytes += r.n;
	return bstr_make(r.o, r.n);
}
