/*
 * mail/uri.c - URIs from text and HTML, normalised, and their hosts
 *
 * msg__uri_add() normalises one reference (RFC 3986 3: scheme lowercased,
 * "www."/"ftp." without a scheme get http/ftp as SA does, userinfo and
 * port dropped from the host, host lowercased and percent-decoded, IDN
 * labels to punycode via libidn2 (RFC 5891), trailing dot removed) and
 * keeps it once (flags of duplicates are merged). msg__uri_text() finds
 * http(s)/ftp/mailto URIs, bare www./ftp. names and e-mail addresses in
 * rendered text. Everything lives in the message arena; past max_uris
 * further URIs are dropped.
 */
#include "mail/mail_int.h"

#include <errno.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

static bool
alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static int
hexv(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool
ipv4_literal(struct bstr h)
{
	int dots = 0, digits = 0;

	if (h.len == 0 || h.len > 15)
		return false;
	for (size_t i = 0; i < h.len; i++) {
		if (h.p[i] == '.') {
			if (digits == 0)
				return false;
			dots++;
			digits = 0;
		} else if (h.p[i] >= '0' && h.p[i] <= '9') {
			if (++digits > 3)
				return false;
		} else {
			return false;
		}
	}
	return dots == 3 && digits > 0;
}

/* Lowercase, percent-decode and punycode a host into the arena. */
static struct bstr
norm_host(struct arena *a, struct bstr h, bool *is_ip)
{
	unsigned char *o = arena_alloc(a, h.len + 1);
	size_t n = 0;
	bool ascii = true;

	*is_ip = false;
	if (o == NULL)
		return BSTR_NULL;
	for (size_t i = 0; i < h.len; i++) {
		unsigned char c = h.p[i];
		int h1, h2;

		if (c == '%' && i + 2 < h.len && (h1 = hexv(h.p[i + 1])) >= 0 &&
		    (h2 = hexv(h.p[i + 2])) >= 0) {
			c = (unsigned char)(h1 << 4 | h2);
			i += 2;
		}
		if (c & 0x80)
			ascii = false;
		o[n++] = msg__lc(c);
	}
	while (n && o[n - 1] == '.')
		n--;
	o[n] = '\0';
	if (n >= 2 && o[0] == '[' && o[n - 1] == ']') {
		*is_ip = true;
		return bstr_make(o, n);
	}
	if (!ascii) {
		char *out = NULL;

		if (idn2_to_ascii_8z((const char *)o, &out,
		    IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) == IDN2_OK ||
		    idn2_to_ascii_8z((const char *)o, &out,
		    IDN2_TRANSITIONAL) == IDN2_OK) {
			size_t l = strlen(out);
			unsigned char *d = arena_alloc(a, l + 1);

			if (d != NULL) {
				for (size_t i = 0; i < l; i++)
					d[i] = msg__lc((unsigned char)out[i]);
				free(out);
				return bstr_make(d, l);
			}
			free(out);
		}
	}
	*is_ip = ipv4_literal(bstr_make(o, n));
	return bstr_make(o, n);
}

/* Split s into scheme, host and rest. Returns false if it has no host. */
static bool
split_uri(struct bstr s, struct bstr *scheme, struct bstr *host,
    struct bstr *rest, const char **implied, struct bstr *port)
{
	size_t i = 0;

	*port = BSTR_NULL;
	*implied = NULL;
	*scheme = BSTR_NULL;
	while (i < s.len && (alnum(s.p[i]) || s.p[i] == '+' || s.p[i] == '-' ||
	    s.p[i] == '.'))
		i++;
	if (i > 0 && i < s.len && s.p[i] == ':' && !(s.p[0] >= '0' &&
	    s.p[0] <= '9')) {
		*scheme = bstr_make(s.p, i);
		s = bstr_sub(s, i + 1, s.len);
		if (MSG__IEQ(*scheme, "mailto")) {
			const unsigned char *at = memchr(s.p, '@', s.len);
			size_t e;

			if (at == NULL)
				return false;
			s = bstr_sub(s, (size_t)(at + 1 - s.p), s.len);
			for (e = 0; e < s.len && s.p[e] != '?' && s.p[e] != ' ' &&
			    s.p[e] != '<' && s.p[e] != '%' && s.p[e] != '&' &&
			    s.p[e] != '>' && s.p[e] != ',' && s.p[e] != ';';
			    e++)
				;
			*host = bstr_make(s.p, e);
			*rest = bstr_sub(s, e, s.len);
			return host->len > 0;
		}
		/* "http:/\host", "http:\\host" seen in spam */
		size_t sl = 0;

		while (sl < s.len && (s.p[sl] == '/' || s.p[sl] == '\\'))
			sl++;
		if (sl == 0)
			return false;
		s = bstr_sub(s, sl, s.len);
	} else if (s.len > 2 && s.p[0] == '/' && s.p[1] == '/') {
		*implied = "http";
		s = bstr_sub(s, 2, s.len);
	} else if (MSG__ISTARTS(s, "www")) {
		*implied = "http";
	} else if (MSG__ISTARTS(s, "ftp.")) {
		*implied = "ftp";
	} else {
		return false;
	}
	size_t e = 0;

	while (e < s.len && s.p[e] != '/' && s.p[e] != '?' && s.p[e] != '#' &&
	    s.p[e] != '\\')
		e++;
	struct bstr auth = bstr_make(s.p, e);

	*rest = bstr_sub(s, e, s.len);
	/* userinfo@ */
	for (size_t k = auth.len; k-- > 0;)
		if (auth.p[k] == '@') {
			auth = bstr_sub(auth, k + 1, auth.len);
			break;
		}
	/* :port (not inside an IPv6 literal) */
	if (auth.len && auth.p[0] != '[') {
		const unsigned char *c = memchr(auth.p, ':', auth.len);

		if (c) {
			*port = bstr_make(c + 1, auth.len -
			    (size_t)(c + 1 - auth.p));
			auth.len = (size_t)(c - auth.p);
		}
	}
	*host = auth;
	return auth.len > 0;
}

/* msg__uri_host_of - the normalised host of s, empty if none */
struct bstr
msg__uri_host_of(struct msg *m, struct bstr s)
{
	struct bstr sc, h, rest;
	const char *imp;
	bool ip;

	struct bstr port;

	if (!split_uri(bstr_trim(s), &sc, &h, &rest, &imp, &port))
		return BSTR_NULL;
	return norm_host(m->a, h, &ip);
}

/* Open-addressing index of URI hashes -> position + 1, so duplicates are
 * found in O(1); grown (rebuilt) at half load. */
static void
uri_index(struct msg *m, size_t pos, uint64_t hv)
{
	if ((m->uri_nidx + 1) * 2 > m->uri_cap) {
		size_t nc = m->uri_cap ? m->uri_cap * 2 : 64;
		uint32_t *nt = arena_calloc(m->a, nc, sizeof(*nt));

		if (nt == NULL)
			return; /* lookups fall back to "not found" */
		m->uri_ht = nt;
		m->uri_cap = nc;
		m->uri_nidx = 0;
		for (size_t i = 0; i < pos; i++)
			uri_index(m, i, ((uint64_t *)m->urih.v)[i]);
	}
	size_t k = (size_t)hv & (m->uri_cap - 1);

	while (m->uri_ht[k] != 0)
		k = (k + 1) & (m->uri_cap - 1);
	m->uri_ht[k] = (uint32_t)pos + 1;
	m->uri_nidx++;
}

static long
uri_lookup(const struct msg *m, struct bstr norm, uint64_t hv)
{
	if (m->uri_cap == 0)
		return -1;
	for (size_t k = (size_t)hv & (m->uri_cap - 1); m->uri_ht[k] != 0;
	    k = (k + 1) & (m->uri_cap - 1)) {
		size_t i = m->uri_ht[k] - 1;
		const struct msg_uri *u = &((const struct msg_uri *)m->uris.v)[i];

		if (((const uint64_t *)m->urih.v)[i] == hv &&
		    bstr_eq(u->uri, norm))
			return (long)i;
	}
	return -1;
}

/* msg__uri_add - normalise and keep one URI; index or -1 */
long
msg__uri_add(struct msg *m, struct bstr raw, unsigned flags)
{
	struct bstr s = bstr_trim(raw), scheme, host, rest;
	const char *implied;
	struct msg_uri *u;
	bool ip = false;
	unsigned char *o;
	size_t n = 0;

	if (s.len == 0)
		return -1;
	/* drop embedded line breaks and tabs (wrapped hrefs) */
	if (memchr(s.p, '\n', s.len) || memchr(s.p, '\r', s.len) ||
	    memchr(s.p, '\t', s.len)) {
		unsigned char *c = arena_alloc(m->a, s.len);

		if (c == NULL)
			return -1;
		for (size_t i = 0; i < s.len; i++)
			if (s.p[i] != '\n' && s.p[i] != '\r' && s.p[i] != '\t')
				c[n++] = s.p[i];
		s = bstr_make(c, n);
		n = 0;
	}
	struct bstr port;

	if (!split_uri(s, &scheme, &host, &rest, &implied, &port)) {
		/* relative or hostless ("#", "javascript:..."): kept raw */
		scheme = scheme.p ? msg__lower_dup(m->a, scheme) : BSTR_NULL;
		host = BSTR_NULL;
		rest = s;
		o = NULL;
	} else {
		host = norm_host(m->a, host, &ip);
		scheme = implied ? bstr_cstr(implied) :
		    msg__lower_dup(m->a, scheme);
	}
	if (host.len) {
		bool mailto = MSG__IEQ(scheme, "mailto");
		size_t cap = scheme.len + 3 + s.len + host.len + rest.len + 2;

		if (mailto)
			flags |= MSG_URI_MAILTO;
		if ((o = arena_alloc(m->a, cap)) == NULL)
			return -1;
		memcpy(o, scheme.p, scheme.len);
		n = scheme.len;
		if (mailto) {
			/* mailto:local@host */
			const unsigned char *c = memchr(s.p, ':', s.len);
			const unsigned char *at = memchr(s.p, '@', s.len);
			struct bstr lp = bstr_make(c + 1,
			    at > c ? (size_t)(at - c - 1) : 0);
			o[n++] = ':';
			memcpy(o + n, lp.p, lp.len);
			n += lp.len;
			o[n++] = '@';
		} else {
			memcpy(o + n, "://", 3);
			n += 3;
		}
		memcpy(o + n, host.p, host.len);
		n += host.len;
		/* a non-default port stays (SA keeps it; ":80" on http and
		 * ":443" on https go, as SA's canonical variant) */
		if (!mailto && port.len &&
		    !(MSG__IEQ(scheme, "http") && MSG__IEQ(port, "80")) &&
		    !(MSG__IEQ(scheme, "https") && MSG__IEQ(port, "443"))) {
			o[n++] = ':';
			memcpy(o + n, port.p, port.len);
			n += port.len;
		}
		for (size_t i = 0; i < rest.len; i++) {
			int h1, h2;
			unsigned char c = rest.p[i];

			/* decode %XX for printable characters that carry
			 * no syntax (RFC 3986 2.4, 6.2.2.2) */
			if (c == '%' && i + 2 < rest.len &&
			    (h1 = hexv(rest.p[i + 1])) >= 0 &&
			    (h2 = hexv(rest.p[i + 2])) >= 0) {
				unsigned char d = (unsigned char)(h1 << 4 | h2);

				if (d > 0x20 && d < 0x7f && d != '%' &&
				    d != '/' && d != '?' && d != '#' &&
				    d != '&' && d != '=') {
					o[n++] = d;
					i += 2;
					continue;
				}
			}
			o[n++] = c;
		}
	}
	struct bstr norm = o ? bstr_make(o, n) : s;

	/* A redirector ("http://rd.example/-/http://target/"): the embedded
	 * URI is added too, as SA's uri_list_canonicalize does. Each level
	 * is shorter, so this ends. */
	if (host.len && (MSG__IEQ(scheme, "http") ||
	    MSG__IEQ(scheme, "https")) && rest.len > 8) {
		long at = MSG__IFIND(rest, "http");

		while (at >= 0) {
			struct bstr e = bstr_sub(rest, (size_t)at, rest.len);
			size_t k = 4;

			if (k < e.len && (e.p[k] | 0x20) == 's')
				k++;
			if (k < e.len && e.p[k] == ':') {
				size_t j = k + 1;

				while (j < e.len && e.p[j] != '&' && e.p[j] != '#')
					j++;
				struct bstr t = bstr_make(e.p, j);

				if (memchr(t.p, '.', t.len))
					msg__uri_add(m, t, flags);
				break;
			}
			struct bstr r2 = bstr_sub(e, 4, e.len);
			long nx = MSG__IFIND(r2, "http");

			at = nx < 0 ? -1 : at + 4 + nx;
		}
	}
	uint64_t hv = bstr_hash(norm);
	long dup = uri_lookup(m, norm, hv);

	if (dup >= 0) {
		((struct msg_uri *)m->uris.v)[dup].flags |= flags;
		return dup;
	}
	if (m->uris.n >= m->o.max_uris)
		return -1;
	uint64_t *hp = msg__vec_push(m->a, &m->urih, sizeof(*hp));

	if (hp == NULL || (u = msg__vec_push(m->a, &m->uris,
	    sizeof(*u))) == NULL)
		return -1;
	*hp = hv;
	uri_index(m, m->uris.n - 1, hv);
	u->raw = s;
	u->uri = norm;
	u->scheme = scheme;
	u->host = host;
	u->flags = flags;
	u->host_is_ip = ip;
	return (long)(m->uris.n - 1);
}

/* ---- URIs in text: SpamAssassin's "tbird" rules ------------------------
 * PerMsgStatus::_tbirdurire: a known scheme or www./ftp. prefix, an
 * e-mail address, or a schemeless host name ending in a valid TLD, each
 * delimited the way Thunderbird linkifies. */

/* byte classes for the text scanner, generated from the predicates
 * they replace: 1 word (\w), 2 Thunderbird start delimiter, 4 end
 * delimiter, 8 schemeless start delimiter, 16 e-mail end delimiter,
 * 32 host-name character, 64 whitespace, 128 '.', '@' or ':' */
#define UC_WORD 1
#define UC_START 2
#define UC_END 4
#define UC_SCSTART 8
#define UC_EMAIL 16
#define UC_DNS 32
#define UC_SPACE 64  /* \s: space, \t, \n, \r, \f, \v */
#define UC_MARK 128  /* '.', '@', ':' */
static const unsigned char uclass[256] = {
	  0,   0,   0,   0,   0,   0,   0,   0,   0,  94,  94,  94,
	 94,  94,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
	  0,   0,   0,  30,   0,   0,   0,   0,  94,   8,  30,   8,
	  8,   0,   8,  26,  26,   8,   8,   8,  26,  32, 160,   8,
	 33,  33,  33,  33,  33,  33,  33,  33,  33,  33, 136,   8,
	 30,   8,  30,   8, 136,  33,  33,  33,  33,  33,  33,  33,
	 33,  33,  33,  33,  33,  33,  33,  33,  33,  33,  33,  33,
	 33,  33,  33,  33,  33,  33,  33,  30,   8,  28,   8,  33,
	 30,  33,  33,  33,  33,  33,  33,  33,  33,  33,  33,  33,
	 33,  33,  33,  33,  33,  33,  33,  33,  33,  33,  33,  33,
	 33,  33,  33,  30,  30,  28,   8,   0,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  30,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,  16,
	 16,  16,  16,  16,
};

static inline bool
end_delim(unsigned char c)
{
	return uclass[c] & UC_END;
}

static inline bool
start_delim(unsigned char c)
{
	return uclass[c] & UC_START;
}

static inline bool
sc_start_delim(unsigned char c)
{
	return uclass[c] & UC_SCSTART;
}

static inline bool
email_delim(unsigned char c)
{
	return uclass[c] & UC_EMAIL;
}

static inline bool
word(unsigned char c)
{
	return uclass[c] & UC_WORD;
}

static int
tld_cmp(const void *k, const void *e)
{
	const struct bstr *key = k;
	const char *t = *(const char *const *)e;
	size_t i;

	for (i = 0; i < key->len && t[i]; i++) {
		int d = (int)msg__lc(key->p[i]) - (unsigned char)t[i];

		if (d)
			return d;
	}
	if (i < key->len)
		return 1;
	return t[i] ? -1 : 0;
}

#include "mail/tlds.h"

/* msg__tld_valid - label is a top-level domain (case-insensitive) */
bool
msg__tld_valid(struct bstr label)
{
	return label.len > 0 && bsearch(&label, msg__tlds,
	    sizeof(msg__tlds) / sizeof(msg__tlds[0]), sizeof(msg__tlds[0]),
	    tld_cmp) != NULL;
}

/* a host whose last label is a valid TLD, or an address literal */
static bool
host_valid(struct bstr h, bool is_ip)
{
	size_t i = h.len;

	if (is_ip)
		return true;
	/* SA is_fqdn_valid: LDH labels, none empty */
	if (h.len == 0 || h.p[0] == '.' || h.len > 253)
		return false;
	for (size_t k = 0; k < h.len; k++)
		if (!(alnum(h.p[k]) || h.p[k] == '-' || h.p[k] == '_' ||
		    (h.p[k] == '.' && h.p[k - 1] != '.')))
			return false;
	while (i > 0 && h.p[i - 1] != '.')
		i--;
	if (i == 0)
		return false; /* SA: a bare label is no FQDN */
	return msg__tld_valid(bstr_sub(h, i, h.len - i));
}

static size_t
match_known(const unsigned char *p, size_t len, size_t i)
{
	static const char *const pre[] = { "http://", "https://", "ftp://",
		"ftp." };
	size_t j = 0;

	for (size_t k = 0; k < 4 && !j; k++)
		if (bstr_casestarts(bstr_make(p + i, len - i), pre[k]))
			j = i + strlen(pre[k]);
	if (!j && len - i >= 4 && (p[i] | 0x20) == 'w' &&
	    (p[i + 1] | 0x20) == 'w' && (p[i + 2] | 0x20) == 'w') {
		size_t k = i + 3;

		while (k < len && k < i + 5 && p[k] >= '0' && p[k] <= '9')
			k++;
		if (k < len && p[k] == '.')
			j = k + 1;
	}
	if (!j)
		return 0;
	size_t e = j;

	while (e < len && e - j < 2048 && !end_delim(p[e]))
		e++;
	return e > j ? e : 0;
}

static size_t
match_mail(const unsigned char *p, size_t len, size_t i, size_t *run_s,
    size_t *run_e)
{
	if (MSG__ISTARTS(bstr_make(p + i, len - i), "mailto:")) {
		size_t e = i + 7;

		while (e < len && e - i - 7 < 2048 && !email_delim(p[e]))
			e++;
		return e > i + 7 ? e : 0;
	}
	/* the local part: a run without delimiters or '@' (cached) */
	if (!(i >= *run_s && i < *run_e)) {
		size_t e = i;

		while (e < len && !email_delim(p[e]) && p[e] != '@')
			e++;
		*run_s = i;
		*run_e = e;
	}
	size_t a = *run_e;

	if (a == i || a >= len || p[a] != '@' || a - i > 251)
		return 0;
	size_t d = a + 1;

	while (d < len && d - a - 1 < 251 && !email_delim(p[d]))
		d++;
	return d > a + 1 ? d : 0;
}

static inline bool
dns_char(unsigned char c)
{
	return uclass[c] & UC_DNS;
}

/* Scan the host-name run at i: true if it holds a '.'; *skip gets its
 * end when no alternative can start inside it (no '.', no '-'). */
static bool
has_dot(const unsigned char *p, size_t len, size_t i, size_t *skip)
{
	bool dash = false;

	for (; i < len && dns_char(p[i]); i++) {
		if (p[i] == '.')
			return true;
		dash |= p[i] == '-';
	}
	if (!dash)
		*skip = i;
	return false;
}

static size_t
match_schemeless(const unsigned char *p, size_t len, size_t i)
{
	size_t r = i;

	if (!alnum(p[i]))
		return 0;
	while (r < len && r - i < 252 && dns_char(p[r]))
		r++;
	/* longest host first, as the regex backtracks */
	for (size_t e = r; e > i + 2; e--) {
		if (e < r && p[e] != '.')
			continue; /* the TLD ends a label */
		size_t t = e;

		while (t > i && p[t - 1] != '.')
			t--;
		if (t <= i + 1 || !msg__tld_valid(bstr_make(p + t, e - t)))
			continue;
		/* \.?(?::\d{1,5})?(?:/[^delim]{1,2048})? then a delimiter */
		for (int dot = 1; dot >= 0; dot--) {
			size_t j = e;

			if (dot) {
				if (j >= len || p[j] != '.')
					continue;
				j++;
			}
			if (j < len && p[j] == ':') {
				size_t k = j + 1;

				while (k < len && k - j <= 5 && p[k] >= '0' &&
				    p[k] <= '9')
					k++;
				if (k > j + 1)
					j = k;
			}
			if (j + 1 < len && p[j] == '/' && !end_delim(p[j + 1])) {
				size_t k = j + 1;

				while (k < len && k - j <= 2048 &&
				    !end_delim(p[k]))
					k++;
				j = k;
			}
			if (j >= len || end_delim(p[j]))
				return j;
		}
	}
	return 0;
}

static void
text_uri(struct msg *m, const unsigned char *p, size_t n, int type)
{
	static const char trail[] = "-~!@#^&*()_+=:;'?,.";
	struct bstr u;
	const unsigned char *close = memchr(p, ')', n);

	/* ")" ends the URI unless a "(" comes before it (Thunderbird) */
	if (close && memchr(p, '(', (size_t)(close - p)) == NULL)
		n = (size_t)(close - p);
	while (n > 0 && strchr(trail, p[n - 1]) && p[n - 1])
		n--;
	if (n == 0)
		return;
	u = bstr_make(p, n);
	if (type == 1 && memchr(p, '@', n) == NULL)
		return;
	if (MSG__ISTARTS(u, "cid:") || MSG__ISTARTS(u, "mid:"))
		return;
	if (MSG__ISTARTS(u, "http://") || MSG__ISTARTS(u, "https://") ||
	    MSG__ISTARTS(u, "ftp://") || MSG__ISTARTS(u, "mailto:")) {
		if (MSG__ISTARTS(u, "mailto:")) {
			const unsigned char *at = memchr(p, '@', n);
			size_t h0, h1;

			if (at == NULL)
				return;
			h0 = h1 = (size_t)(at + 1 - p);
			while (h1 < n && p[h1] != '?' && p[h1] != '&' &&
			    p[h1] != '>')
				h1++;
			if (!host_valid(bstr_make(p + h0, h1 - h0), false))
				return;
		}
		msg__uri_add(m, u, MSG_URI_TEXT);
		return;
	}
	const unsigned char *at = memchr(p, '@', n);
	const unsigned char *sl = memchr(p, '/', n);

	if (MSG__ISTARTS(u, "ftp.") || MSG__ISTARTS(u, "www") ||
	    (sl && at && sl < at) || at == NULL) {
		if (at == NULL && memchr(p, '.', n) == NULL)
			return;
		if (!MSG__ISTARTS(u, "www") && !MSG__ISTARTS(u, "ftp.")) {
			/* schemeless: SA assumes http:// */
			unsigned char *h = arena_alloc(m->a, n + 7);

			if (h == NULL)
				return;
			memcpy(h, "http://", 7);
			memcpy(h + 7, p, n);
			u = bstr_make(h, n + 7);
		}
		msg__uri_add(m, u, MSG_URI_TEXT);
		return;
	}
	/* an e-mail address: needs a dot after '@' and a valid domain */
	const unsigned char *d = memchr(at, '.', n - (size_t)(at - p));

	if (d == NULL || d == at + 1)
		return;
	if (bstr_find(u, BSTR_LIT("&nbsp;")) >= 0)
		return;
	size_t h1 = (size_t)(at + 1 - p);

	while (h1 < n && p[h1] != '?' && p[h1] != '&' && p[h1] != '>')
		h1++;
	if (!host_valid(bstr_make(at + 1, h1 - (size_t)(at + 1 - p)), false))
		return;
	unsigned char *o = arena_alloc(m->a, n + 7);

	if (o == NULL)
		return;
	memcpy(o, "mailto:", 7);
	memcpy(o + 7, p, n);
	msg__uri_add(m, bstr_make(o, n + 7), MSG_URI_TEXT);
}

/* Scan the token [i, len) (no whitespace inside) the way the regex
 * would: at each boundary try scheme, e-mail, schemeless, in that order. */
static void
scan_token(struct msg *m, const unsigned char *p, size_t i, size_t len)
{
	size_t run_s = 0, run_e = 0, e, skip = 0;
	const unsigned char *next_at = memchr(p + i, '@', len - i);

	while (i < len) {
		bool b = i == 0 || word(p[i]) != word(p[i - 1]) ||
		    start_delim(p[i - 1]);

		if (!b) {
			/* inside a word: no boundary until it ends */
			i++;
			while (i < len && (uclass[p[i]] & UC_WORD) &&
			    (uclass[p[i - 1]] & UC_WORD))
				i++;
			continue;
		}
		/* cheap filters first: each alternative needs a particular
		 * first byte, an '@' close by, or a '.' in the word */
		unsigned char c = p[i] | 0x20;

		if (next_at && next_at < p + i)
			next_at = memchr(p + i, '@', len - i);
		e = 0;
		if (c == 'h' || c == 'f' || c == 'w')
			e = match_known(p, len, i);
		if (e) {
			text_uri(m, p + i, e - i, 0);
		} else if ((c == 'm' || (next_at && next_at - (p + i) <= 251)) &&
		    (e = match_mail(p, len, i, &run_s, &run_e)) != 0) {
			text_uri(m, p + i, e - i, 1);
		} else if ((i == 0 || sc_start_delim(p[i - 1])) &&
		    has_dot(p, len, i, &skip) &&
		    (e = match_schemeless(p, len, i)) != 0) {
			text_uri(m, p + i, e - i, 2);
		} else {
			i = skip > i ? skip : i + 1;
			continue;
		}
		i = e;
	}
}

/* msg__uri_text - find URIs and addresses in rendered text. Every
 * alternative ends at whitespace and needs a '.', '@' or ':' (scheme,
 * www./ftp., host, address), so only whitespace-separated tokens that
 * hold one of those are scanned. */
void
msg__uri_text(struct msg *m, struct bstr t)
{
	const unsigned char *p = t.p, *end = t.p + t.len;
	const unsigned char *nd, *na, *nc; /* next '.', '@', ':' */
	size_t len = t.len, i = 0;

	if (len == 0)
		return;
	nd = memchr(p, '.', len);
	na = memchr(p, '@', len);
	nc = memchr(p, ':', len);
	while (i < len) {
		/* the next mark at or after i (memchr is fast; most of the
		 * text is skipped without looking at it byte by byte) */
		if (nd && nd < p + i)
			nd = memchr(p + i, '.', len - i);
		if (na && na < p + i)
			na = memchr(p + i, '@', len - i);
		if (nc && nc < p + i)
			nc = memchr(p + i, ':', len - i);
		const unsigned char *q = nd;

		if (na && (q == NULL || na < q))
			q = na;
		if (nc && (q == NULL || nc < q))
			q = nc;
		if (q == NULL)
			break;
		/* widen to the whitespace-delimited token around it; i is
		 * at a token boundary, so the token starts at or after i */
		size_t t0 = (size_t)(q - p), t1 = t0;

		while (t0 > i && !(uclass[p[t0 - 1]] & UC_SPACE))
			t0--;
		while (p + t1 < end && !(uclass[p[t1]] & UC_SPACE))
			t1++;
		scan_token(m, p, t0, t1);
		i = t1;
	}
}

/* msg__uri_finish - the distinct host list */
int
msg__uri_finish(struct msg *m)
{
	struct msg_uri *u = m->uris.v;
	struct msg__vec hv = { 0 };

	for (size_t i = 0; i < m->uris.n; i++) {
		bool dup = false;

		/* SA: hosts of body URIs with a valid TLD (or an address) */
		if (u[i].host.len == 0 || !(u[i].flags & (MSG_URI_TEXT |
		    MSG_URI_HREF | MSG_URI_SRC | MSG_URI_FORM | MSG_URI_META)) ||
		    !host_valid(u[i].host, u[i].host_is_ip))
			continue;
		for (size_t k = 0; k < hv.n && !dup; k++)
			dup = bstr_eq(((struct bstr *)hv.v)[k], u[i].host);
		if (dup)
			continue;
		struct bstr *h = msg__vec_push(m->a, &hv, sizeof(*h));

		if (h == NULL)
			return -ENOMEM;
		*h = u[i].host;
	}
	m->hosts = hv.v;
	m->nhosts = hv.n;
	return 0;
}
