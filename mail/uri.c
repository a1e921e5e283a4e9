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
    struct bstr *rest, const char **implied)
{
	size_t i = 0;

	*implied = NULL;
	*scheme = BSTR_NULL;
	while (i < s.len && (alnum(s.p[i]) || s.p[i] == '+' || s.p[i] == '-' ||
	    s.p[i] == '.'))
		i++;
	if (i > 0 && i < s.len && s.p[i] == ':' && !(s.p[0] >= '0' &&
	    s.p[0] <= '9')) {
		*scheme = bstr_make(s.p, i);
		s = bstr_sub(s, i + 1, s.len);
		if (bstr_caseeq_cstr(*scheme, "mailto")) {
			const unsigned char *at = memchr(s.p, '@', s.len);
			size_t e;

			if (at == NULL)
				return false;
			s = bstr_sub(s, (size_t)(at + 1 - s.p), s.len);
			for (e = 0; e < s.len && s.p[e] != '?' &&
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
	} else if (bstr_casestarts(s, "www")) {
		*implied = "http";
	} else if (bstr_casestarts(s, "ftp.")) {
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

		if (c)
			auth.len = (size_t)(c - auth.p);
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

	if (!split_uri(bstr_trim(s), &sc, &h, &rest, &imp))
		return BSTR_NULL;
	return norm_host(m->a, h, &ip);
}

static uint64_t
hash(struct bstr s)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < s.len; i++)
		h = (h ^ s.p[i]) * 1099511628211ull;
	return h;
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
	if (!split_uri(s, &scheme, &host, &rest, &implied)) {
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
		bool mailto = bstr_caseeq_cstr(scheme, "mailto");
		size_t cap = scheme.len + 3 + host.len + rest.len + 1;

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
	uint64_t hv = hash(norm);

	for (size_t i = 0; i < m->uris.n; i++) {
		u = &((struct msg_uri *)m->uris.v)[i];
		if (((uint64_t *)m->urih.v)[i] == hv && bstr_eq(u->uri, norm)) {
			u->flags |= flags;
			return (long)i;
		}
	}
	if (m->uris.n >= m->o.max_uris)
		return -1;
	uint64_t *hp = msg__vec_push(m->a, &m->urih, sizeof(*hp));

	if (hp == NULL || (u = msg__vec_push(m->a, &m->uris,
	    sizeof(*u))) == NULL)
		return -1;
	*hp = hv;
	u->raw = s;
	u->uri = norm;
	u->scheme = scheme;
	u->host = host;
	u->flags = flags;
	u->host_is_ip = ip;
	return (long)(m->uris.n - 1);
}

static bool
uri_char(unsigned char c)
{
	return c > 0x20 && c != '<' && c != '>' && c != '"' && c != 0x7f &&
	    c != '`' && c != '{' && c != '}' && c != '|' && c != '^';
}

static bool
dom_char(unsigned char c)
{
	return alnum(c) || c == '-' || c == '.' || c >= 0x80;
}

static bool
local_char(unsigned char c)
{
	return alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' ||
	    c == '-' || c == '=' || c == '\'';
}

/* trim trailing punctuation that ends a sentence, not the URI */
static size_t
trim_tail(const unsigned char *p, size_t n)
{
	while (n > 0 && (p[n - 1] == '.' || p[n - 1] == ',' ||
	    p[n - 1] == ';' || p[n - 1] == ':' || p[n - 1] == '!' ||
	    p[n - 1] == '?' || p[n - 1] == ')' || p[n - 1] == '\'' ||
	    p[n - 1] == ']'))
		n--;
	return n;
}

/* msg__uri_text - find URIs and addresses in rendered text */
void
msg__uri_text(struct msg *m, struct bstr t)
{
	static const char *const pre[] = { "http://", "https://", "ftp://",
		"mailto:", "www.", "ftp." };
	const unsigned char *p = t.p;
	size_t len = t.len;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i] | 0x20;

		if (c == 'h' || c == 'f' || c == 'm' || c == 'w') {
			if (i > 0 && (alnum(p[i - 1]) || p[i - 1] == '.' ||
			    p[i - 1] == '@' || p[i - 1] == '/'))
				continue;
			for (size_t k = 0; k < 6; k++) {
				if (!bstr_casestarts(bstr_make(p + i, len - i),
				    pre[k]))
					continue;
				size_t e = i + strlen(pre[k]);

				if (k >= 4 && (e >= len || !alnum(p[e])))
					break;
				while (e < len && uri_char(p[e]))
					e++;
				e = i + trim_tail(p + i, e - i);
				if (e > i + strlen(pre[k]))
					msg__uri_add(m, bstr_make(p + i, e - i),
					    MSG_URI_TEXT);
				i = e;
				break;
			}
		} else if (p[i] == '@' && i > 0 && i + 3 < len) {
			size_t b = i, e = i + 1;
			bool dot = false;

			while (b > 0 && local_char(p[b - 1]))
				b--;
			while (e < len && dom_char(p[e])) {
				if (p[e] == '.')
					dot = true;
				e++;
			}
			e = i + 1 + trim_tail(p + i + 1, e - i - 1);
			while (e > i + 1 && (p[e - 1] == '-' || p[e - 1] == '.'))
				e--;
			if (b == i || !dot || e <= i + 3 || p[e - 1] == '.')
				continue;
			/* skip addresses that are the userinfo of a URI */
			if (b >= 3 && p[b - 1] == '/' && p[b - 2] == '/')
				continue;
			size_t l = 7 + (e - b);
			unsigned char *o = arena_alloc(m->a, l);

			if (o == NULL)
				return;
			memcpy(o, "mailto:", 7);
			memcpy(o + 7, p + b, e - b);
			msg__uri_add(m, bstr_make(o, l), MSG_URI_TEXT);
			i = e;
		}
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

		if (u[i].host.len == 0)
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
