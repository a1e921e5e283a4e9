/*
 * dkim - DKIM signature verification (RFC 6376, RFC 8301, RFC 8463)
 *
 * dkim_verify_new() splits the header section itself (DKIM works on the
 * exact bytes, folding included), so it needs only the raw message; bare LF
 * line ends are turned into CRLF first (a copy in the arena), as RFC 6376
 * 5.3 asks of verifiers that see local line conventions.
 * Keys come from a struct authres_dns (plugins/authres.h): a missing key
 * makes dkim_verify_run() return -EAGAIN with the lookups recorded.
 * Memory: the caller's arena; OpenSSL objects are freed before returning.
 * Errors: a broken signature or key is a per-signature permerror with a
 * static reason, never a return code; nothing here logs.
 * Limits: DKIM_MAX_SIGS signatures, DKIM_MAX_SIGNED_HEADERS h= entries,
 * keys from 1024 (RFC 8301 3.2) to 8192 bits.
 */
#include "plugins/dkim.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "plugins/authres.h"
#include "plugins/dkim_int.h"
#include "util/arena.h"

#define DKIM_MIN_RSA_BITS 1024
#define DKIM_MAX_RSA_BITS 8192
#define DKIM_MAX_HEADERS 1000
#define DKIM_CLOCK_SKEW 300ULL /* seconds of drift allowed for x= and t= */

struct sigstate {
	struct dkim_sig pub;
	struct dkim_sigtags t;
	size_t field; /* index of its DKIM-Signature header */
	bool parsed, done;
	char keyname[300];
};

struct dkim_verify {
	struct arena *arena;
	struct bstr msg, body;
	struct dkim__field *f;
	size_t nf;
	time_t now;
	struct sigstate sigs[DKIM_MAX_SIGS];
	size_t nsigs, seen;
};

static bool
wsp(int c)
{
	return c == ' ' || c == '\t';
}

static bool
fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

const char *
dkim_result_str(enum dkim_result r)
{
	static const char *const s[] = { "none", "pass", "fail", "policy",
		"neutral", "temperror", "permerror" };

	return (unsigned)r < sizeof(s) / sizeof(s[0]) ? s[r] : "permerror";
}

/* Tag lists (RFC 6376 3.2) ---------------------------------------------- */

#define MAX_TAGS DKIM__MAX_TAGS

/*
 * Split "name = value; ..." into tags. Whitespace around names, "=" and
 * values is FWS and dropped; a value keeps its inner FWS (b=, p= and h=
 * strip it later). Duplicate names are a permerror (3.2: "Tags MUST NOT
 * be duplicated"). Returns the number of tags or -EINVAL.
 */
static int
tags_split(struct bstr s, struct dkim__tag *tags, const char **why)
{
	size_t i = 0, n = 0;

	while (i < s.len) {
		size_t ns, ne, vs, ve;

		while (i < s.len && fws(s.p[i]))
			i++;
		if (i == s.len)
			break;
		ns = i;
		while (i < s.len &&
		    (s.p[i] == '_' || (s.p[i] >= '0' && s.p[i] <= '9') ||
			((s.p[i] | 32) >= 'a' && (s.p[i] | 32) <= 'z')))
			i++;
		ne = i;
		if (ne == ns ||
		    !((s.p[ns] | 32) >= 'a' && (s.p[ns] | 32) <= 'z')) {
			*why = "bad tag name";
			return -EINVAL;
		}
		while (i < s.len && fws(s.p[i]))
			i++;
		if (i == s.len || s.p[i] != '=') {
			*why = "tag without =";
			return -EINVAL;
		}
		i++;
		while (i < s.len && fws(s.p[i]))
			i++;
		vs = i;
		while (i < s.len && s.p[i] != ';')
			i++;
		ve = i;
		while (ve > vs && fws(s.p[ve - 1]))
			ve--;
		if (i < s.len)
			i++; /* the ';' */
		if (n == MAX_TAGS) {
			*why = "too many tags";
			return -EINVAL;
		}
		tags[n].name = bstr_make(s.p + ns, ne - ns);
		tags[n].value = bstr_make(s.p + vs, ve - vs);
		for (size_t k = 0; k < n; k++)
			if (bstr_eq(tags[k].name, tags[n].name)) {
				*why = "duplicate tag";
				return -EINVAL;
			}
		n++;
	}
	return (int)n;
}

static bool
parse_ull(struct bstr v, unsigned long long *out)
{
	unsigned long long x = 0;

	/* 3.5: at most 12 digits for t=/x=, 76 for l=; cap far below
	 * overflow and treat longer as "very large". */
	if (v.len == 0)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
		if (x < 1000000000000000000ULL)
			x = x * 10 + (unsigned)(v.p[i] - '0');
	}
	*out = x;
	return true;
}

/* Compare a value that may contain FWS with a word, ignoring the FWS. */
static bool
word_eq(struct bstr v, const char *w)
{
	size_t j = 0;

	for (size_t i = 0; i < v.len; i++) {
		if (fws(v.p[i]))
			continue;
		if (w[j] == '\0' || (v.p[i] | 32) != (w[j] | 32))
			return false;
		j++;
	}
	return w[j] == '\0';
}

/* Does colon-separated list v contain word w (case-insensitive)? */
static bool
list_has(struct bstr v, const char *w)
{
	size_t i = 0;

	while (i <= v.len) {
		size_t s = i;
		while (i < v.len && v.p[i] != ':')
			i++;
		if (word_eq(bstr_make(v.p + s, i - s), w))
			return true;
		i++;
	}
	return false;
}

/* dkim__canon_parse - a c= value: header[/body], each simple or relaxed
 * (3.5; the body defaults to simple) */
int
dkim__canon_parse(struct bstr c, bool *hdr_relaxed, bool *body_relaxed)
{
	struct bstr h = c, b = BSTR_NULL;

	*hdr_relaxed = *body_relaxed = false;
	for (size_t i = 0; i < c.len; i++)
		if (c.p[i] == '/') {
			h = bstr_make(c.p, i);
			b = bstr_make(c.p + i + 1, c.len - i - 1);
			break;
		}
	if (word_eq(h, "relaxed"))
		*hdr_relaxed = true;
	else if (!word_eq(h, "simple"))
		return -1;
	if (b.p == NULL || word_eq(b, "simple"))
		return 0;
	if (word_eq(b, "relaxed")) {
		*body_relaxed = true;
		return 0;
	}
	return -1;
}

/* dkim_sigtags_parse - RFC 6376 3.5; the checks that make it a permerror */
int
dkim_sigtags_parse(struct bstr value, struct dkim_sigtags *t, const char **why)
{
	struct dkim__tag tags[MAX_TAGS];
	int n;

	memset(t, 0, sizeof(*t));
	*why = NULL;
	if ((n = tags_split(value, tags, why)) < 0)
		return n;
	for (int k = 0; k < n; k++) {
		struct bstr nm = tags[k].name, v = tags[k].value;
		struct bstr *slot = NULL;

		if (nm.len == 1) {
			switch (nm.p[0]) {
			case 'v':
				slot = &t->v;
				break;
			case 'a':
				slot = &t->a;
				break;
			case 'b':
				slot = &t->b;
				break;
			case 'c':
				slot = &t->c;
				break;
			case 'd':
				slot = &t->d;
				break;
			case 'h':
				slot = &t->h;
				break;
			case 'i':
				slot = &t->i;
				break;
			case 'l':
				slot = &t->l;
				t->has_l = true;
				break;
			case 'q':
				slot = &t->q;
				break;
			case 's':
				slot = &t->s;
				break;
			case 't':
				slot = &t->t;
				t->has_t = true;
				break;
			case 'x':
				slot = &t->x;
				t->has_x = true;
				break;
			case 'z':
				slot = &t->z;
				break;
			}
		} else if (nm.len == 2 && nm.p[0] == 'b' && nm.p[1] == 'h')
			slot = &t->bh;
		if (slot)
			*slot = v; /* unknown tags are ignored (3.2) */
	}
	/* 3.5: v=, a=, b=, bh=, d=, h=, s= are required. */
	if (t->v.len == 0 || !word_eq(t->v, "1")) {
		*why = t->v.len ? "unsupported v=" : "missing v=";
		return -EINVAL;
	}
	if (t->a.len == 0 || t->b.len == 0 || t->bh.len == 0 || t->d.len == 0 ||
	    t->h.len == 0 || t->s.len == 0) {
		*why = "missing required tag";
		return -EINVAL;
	}
	if (word_eq(t->a, "rsa-sha256"))
		t->alg = DKIM_ALG_RSA_SHA256;
	else if (word_eq(t->a, "ed25519-sha256"))
		t->alg = DKIM_ALG_ED25519_SHA256;
	else if (word_eq(t->a, "rsa-sha1"))
		t->alg = DKIM_ALG_RSA_SHA1;
	else {
		*why = "unknown algorithm";
		return -EINVAL;
	}
	if (t->c.len &&
	    dkim__canon_parse(t->c, &t->hdr_relaxed, &t->body_relaxed) < 0) {
		*why = "unknown canonicalization";
		return -EINVAL;
	}
	if (t->has_l && !parse_ull(t->l, &t->l_val)) {
		*why = "bad l=";
		return -EINVAL;
	}
	if (t->has_t && !parse_ull(t->t, &t->t_val)) {
		*why = "bad t=";
		return -EINVAL;
	}
	if (t->has_x && !parse_ull(t->x, &t->x_val)) {
		*why = "bad x=";
		return -EINVAL;
	}
	if (t->has_x && t->has_t && t->x_val < t->t_val) {
		*why = "x= before t="; /* 3.5: MUST be greater */
		return -EINVAL;
	}
	/* 3.5 q=: the only method is dns/txt; one we know must be listed. */
	if (t->q.len && !list_has(t->q, "dns/txt")) {
		*why = "no usable query method";
		return -EINVAL;
	}
	/* 5.4 / 6.1.1: From MUST be signed. */
	if (!list_has(t->h, "from")) {
		*why = "From not signed";
		return -EINVAL;
	}
	return 0;
}

/* dkim_keytags_parse - RFC 6376 3.6.1 */
int
dkim_keytags_parse(struct bstr rec, struct dkim_keytags *k, const char **why)
{
	struct dkim__tag tags[MAX_TAGS];
	int n;

	memset(k, 0, sizeof(*k));
	*why = NULL;
	if ((n = tags_split(rec, tags, why)) < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct bstr nm = tags[i].name, v = tags[i].value;

		if (nm.len != 1)
			continue;
		switch (nm.p[0]) {
		case 'v':
			/* 3.6.1: if present, MUST be first and "DKIM1". */
			if (i != 0 || !bstr_eq(v, BSTR_LIT("DKIM1"))) {
				*why = "bad key v=";
				return -EINVAL;
			}
			k->v = v;
			break;
		case 'h':
			k->h = v;
			break;
		case 'k':
			k->k = v;
			break;
		case 'n':
			k->n = v;
			break;
		case 'p':
			k->p = v;
			k->has_p = true;
			break;
		case 's':
			k->s = v;
			break;
		case 't':
			k->t = v;
			k->testing = list_has(v, "y");
			k->strict_i = list_has(v, "s");
			break;
		}
	}
	if (!k->has_p) {
		*why = "key without p=";
		return -EINVAL;
	}
	return 0;
}

/* Base64 (RFC 2045 alphabet), FWS ignored; -1 on anything else. */
static long
b64_decode(struct bstr in, unsigned char *out, size_t outsz)
{
	unsigned v = 0, bits = 0, pad = 0;
	size_t o = 0;

	for (size_t i = 0; i < in.len; i++) {
		int c = in.p[i], d;

		if (fws(c))
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad)
			return -1; /* data after padding */
		if (c >= 'A' && c <= 'Z')
			d = c - 'A';
		else if (c >= 'a' && c <= 'z')
			d = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			d = c - '0' + 52;
		else if (c == '+')
			d = 62;
		else if (c == '/')
			d = 63;
		else
			return -1;
		v = (v << 6) | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == outsz)
				return -1;
			out[o++] = (unsigned char)(v >> bits);
			v &= (1u << bits) - 1;
		}
	}
	if (pad > 2 || (bits == 6))
		return -1;
	return (long)o;
}

/* Header section ---------------------------------------------------------- */

/* dkim__split_headers - the header section of msg as fields; *body is
 * what follows the empty line (empty when there is none). */
int
dkim__split_headers(struct arena *a, struct bstr msg, struct dkim__field **fp,
    size_t *nfp, struct bstr *body)
{
	const unsigned char *p = msg.p;
	size_t len = msg.len, i = 0, cap = 32, nf = 0;
	struct dkim__field *f = arena_alloc(a, cap * sizeof(*f));
	int rc = 0;

	if (f == NULL)
		return -ENOMEM;
	*body = bstr_make(p + len, 0);
	while (i < len) {
		size_t s = i, colon = 0;
		bool have_colon = false;

		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') {
			*body = bstr_make(p + i + 2, len - i - 2);
			goto done;
		}
		/* One field: up to a CRLF not followed by WSP. */
		for (;;) {
			while (i < len && p[i] != '\n') {
				if (p[i] == ':' && !have_colon) {
					have_colon = true;
					colon = i;
				}
				i++;
			}
			if (i >= len)
				break;
			i++; /* past LF */
			if (i < len && wsp(p[i]))
				continue;
			break;
		}
		size_t e = i;
		if (e > s && p[e - 1] == '\n')
			e--;
		if (e > s && p[e - 1] == '\r')
			e--;
		if (!have_colon || colon >= e)
			continue; /* not a field (also leading WSP lines) */
		if (wsp(p[s]))
			continue;
		if (nf == DKIM_MAX_HEADERS)
			continue;
		if (nf == cap) {
			struct dkim__field *g =
			    arena_alloc(a, 2 * cap * sizeof(*g));
			if (g == NULL) {
				rc = -ENOMEM;
				goto done;
			}
			memcpy(g, f, cap * sizeof(*g));
			f = g;
			cap *= 2;
		}
		size_t ne = colon;
		while (ne > s && wsp(p[ne - 1]))
			ne--;
		f[nf].name = bstr_make(p + s, ne - s);
		f[nf].raw = bstr_make(p + s, e - s);
		f[nf].value = bstr_make(p + colon + 1, e - colon - 1);
		nf++;
	}
done:
	*fp = f;
	*nfp = nf;
	return rc;
}

static int
split_headers(struct dkim_verify *v)
{
	return dkim__split_headers(v->arena, v->msg, &v->f, &v->nf, &v->body);
}

/* dkim__to_crlf - every bare LF a CRLF (a copy in a) when m has any */
int
dkim__to_crlf(
    struct arena *a, const unsigned char *m, size_t len, struct bstr *out)
{
	size_t bare = 0;

	/* memchr: a message off the SMTP door has CRLF lines throughout,
	 * and this runs for DKIM and ARC on every message */
	for (const unsigned char *p = m, *end = m + len;
	     (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		if (p == m || p[-1] != '\r')
			bare++;
	if (bare == 0) {
		*out = bstr_make(m, len);
		return 0;
	}
	unsigned char *c = arena_alloc(a, len + bare + 1);
	if (c == NULL)
		return -ENOMEM;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (m[i] == '\n' && (i == 0 || m[i - 1] != '\r'))
			c[o++] = '\r';
		c[o++] = m[i];
	}
	*out = bstr_make(c, o);
	return 0;
}

static const char *
cstr(struct arena *a, struct bstr s)
{
	char *o = arena_alloc(a, s.len + 1);
	size_t n = 0;

	if (o == NULL)
		return "";
	for (size_t i = 0; i < s.len; i++)
		if (!fws(s.p[i]))
			o[n++] = (char)s.p[i];
	o[n] = '\0';
	return o;
}

static void
lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 32;
}

/* dkim_verify_new - find and parse the signatures */
int
dkim_verify_new(struct arena *a, const unsigned char *msg, size_t len,
    time_t now, struct dkim_verify **out)
{
	struct dkim_verify *v = arena_calloc(a, 1, sizeof(*v));
	int rc;

	if (v == NULL)
		return -ENOMEM;
	v->arena = a;
	v->now = now;
	if ((rc = dkim__to_crlf(a, msg, len, &v->msg)) < 0 ||
	    (rc = split_headers(v)) < 0)
		return rc;
	for (size_t i = 0; i < v->nf; i++) {
		struct sigstate *s;
		const char *why;

		if (!bstr_caseeq(v->f[i].name, BSTR_LIT("DKIM-Signature")))
			continue;
		v->seen++;
		if (v->nsigs == DKIM_MAX_SIGS)
			continue;
		s = &v->sigs[v->nsigs++];
		s->field = i;
		if (dkim_sigtags_parse(v->f[i].value, &s->t, &why) < 0) {
			s->pub.result = DKIM_PERMERROR;
			s->pub.reason = why;
			s->done = true;
		}
		s->parsed = true;
		s->pub.alg = s->t.alg;
		char *d = (char *)cstr(a, s->t.d);
		lower(d);
		s->pub.d = d;
		s->pub.s = cstr(a, s->t.s);
		s->pub.a = cstr(a, s->t.a);
		if (s->t.i.len)
			s->pub.i = cstr(a, s->t.i);
		else {
			char *iv = arena_alloc(a, strlen(d) + 2);
			if (iv) {
				iv[0] = '@';
				memcpy(iv + 1, d, strlen(d) + 1);
			}
			s->pub.i = iv ? iv : "";
		}
		{
			struct bstr b = s->t.b;
			char b8[9];
			size_t n = 0;
			for (size_t k = 0; k < b.len && n < 8; k++)
				if (!fws(b.p[k]))
					b8[n++] = (char)b.p[k];
			b8[n] = '\0';
			s->pub.b8 = arena_strndup(a, b8, n);
		}
		if (s->done)
			continue;
		/* Checks that need no key. */
		const char *dom = s->pub.d, *iat = strrchr(s->pub.i, '@');
		if (s->t.i.len) {
			/* 3.5 i=: domain same as or a subdomain of d=. */
			size_t il, dl = strlen(dom);
			const char *id = iat ? iat + 1 : "";
			il = strlen(id);
			if (iat == NULL ||
			    !(strcasecmp(id, dom) == 0 ||
				(il > dl && id[il - dl - 1] == '.' &&
				    strcasecmp(id + il - dl, dom) == 0))) {
				s->pub.result = DKIM_PERMERROR;
				s->pub.reason = "i= not within d=";
				s->done = true;
				continue;
			}
		}
		/* RFC 6376 3.5: x= expiry and t= "MAY ... allow for clock
		 * drift": both are judged with DKIM_CLOCK_SKEW of slack, as
		 * opendkim's ClockDrift does; a t= further in the future than
		 * that cannot be a real signing time. */
		if (s->t.has_x &&
		    (unsigned long long)now > s->t.x_val + DKIM_CLOCK_SKEW) {
			s->pub.result = DKIM_PERMERROR;
			s->pub.reason = "signature expired";
			s->done = true;
			continue;
		}
		if (s->t.has_t &&
		    s->t.t_val > (unsigned long long)now + DKIM_CLOCK_SKEW) {
			s->pub.result = DKIM_PERMERROR;
			s->pub.reason = "signature timestamp in the future";
			s->done = true;
			continue;
		}
		if (s->t.alg == DKIM_ALG_RSA_SHA1) {
			/* RFC 8301 3.1: MUST NOT be considered valid. */
			s->pub.result = DKIM_PERMERROR;
			s->pub.reason = "rsa-sha1 not accepted (RFC 8301)";
			s->done = true;
			continue;
		}
		if (snprintf(s->keyname, sizeof(s->keyname), "%s._domainkey.%s",
			s->pub.s, dom) >= (int)sizeof(s->keyname) ||
		    strlen(dom) > 253) {
			s->pub.result = DKIM_PERMERROR;
			s->pub.reason = "key name too long";
			s->done = true;
		}
	}
	*out = v;
	return 0;
}

/* Canonicalization (RFC 6376 3.4) -------------------------------------- */

static int
hdr_canon(struct buf *o, struct bstr raw, bool relaxed, bool crlf)
{
	int rc;

	if (!relaxed) {
		if ((rc = buf_append(o, raw.p, raw.len)) < 0)
			return rc;
	} else {
		size_t i = 0;
		bool sp = false, started = false;

		/* Name: lower case, WSP before the colon dropped. */
		while (i < raw.len && raw.p[i] != ':') {
			unsigned char c = raw.p[i++];
			if (wsp(c))
				continue;
			if ((rc = buf_putc(
				 o, c >= 'A' && c <= 'Z' ? c + 32 : c)) < 0)
				return rc;
		}
		if ((rc = buf_putc(o, ':')) < 0)
			return rc;
		i++;
		/* Value: unfold, WSP runs to one SP, none at either end. */
		for (; i < raw.len; i++) {
			unsigned char c = raw.p[i];
			if (c == '\r' || c == '\n')
				continue;
			if (wsp(c)) {
				sp = true;
				continue;
			}
			if (sp && started && (rc = buf_putc(o, ' ')) < 0)
				return rc;
			sp = false;
			started = true;
			if ((rc = buf_putc(o, c)) < 0)
				return rc;
		}
	}
	return crlf ? buf_append(o, "\r\n", 2) : 0;
}

/* SHA-256, fetched once: an implicit fetch per digest costs more than
 * hashing a short header block (OpenSSL 3 provider lookup). */
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *
sha256(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md ? sha256_md : EVP_sha256();
}

/* Canonical body bytes go through a small staging buffer so the digest
 * sees large updates, never one call per octet. */
struct bfeed {
	EVP_MD_CTX *ctx;
	unsigned long long fed, want;
	size_t n;
	unsigned char b[8192];
};

static void
bf_flush(struct bfeed *f)
{
	if (f->n)
		EVP_DigestUpdate(f->ctx, f->b, f->n);
	f->n = 0;
}

static void
bf_put(struct bfeed *f, const unsigned char *p, size_t n)
{
	if (f->fed + n > f->want)
		n = (size_t)(f->want - f->fed);
	f->fed += n;
	while (n) {
		size_t k = sizeof(f->b) - f->n;
		if (k > n)
			k = n;
		memcpy(f->b + f->n, p, k);
		f->n += k;
		p += k;
		n -= k;
		if (f->n == sizeof(f->b))
			bf_flush(f);
	}
}

/* Feed the canonical body into the digest, at most limit octets. */
static int
body_hash(struct bstr body, bool relaxed, bool has_l, unsigned long long l,
    unsigned char *md, unsigned *mdlen, bool *short_body)
{
	struct bfeed *f = malloc(sizeof(*f));
	size_t i = 0, pending_crlf = 0;
	bool content = false;
	int rc = 0;
	static const unsigned char crlf[2] = { '\r', '\n' };

	if (f == NULL)
		return -ENOMEM;
	f->fed = f->n = 0;
	f->want = has_l ? l : ULLONG_MAX;
	if ((f->ctx = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestInit_ex(f->ctx, sha256(), NULL)) {
		EVP_MD_CTX_free(f->ctx);
		free(f);
		return -ENOMEM;
	}
	/* Line by line; empty lines are held back so trailing ones vanish
	 * (3.4.3, 3.4.4). */
	while (i < body.len) {
		const unsigned char *nl =
		    memchr(body.p + i, '\n', body.len - i);
		size_t s = i, e;

		/* The line ends at a CRLF; a lone LF or CR is line data
		 * (the message was made CRLF before this). */
		for (;;) {
			if (nl == NULL) {
				e = i = body.len;
				break;
			}
			size_t at = (size_t)(nl - body.p);
			if (at > s && body.p[at - 1] == '\r') {
				e = at - 1;
				i = at + 1;
				break;
			}
			nl = memchr(nl + 1, '\n', body.len - at - 1);
		}
		size_t te = e;
		if (relaxed)
			while (te > s && wsp(body.p[te - 1]))
				te--;
		if (te == s) {
			pending_crlf++;
			continue;
		}
		for (; pending_crlf; pending_crlf--)
			bf_put(f, crlf, 2);
		bool plain = !relaxed;
		if (relaxed) {
			/* Most lines have no tab and no double space: then
			 * relaxed changes nothing inside the line. */
			plain = true;
			for (size_t k = s; k < te && plain; k++)
				if (body.p[k] == '\t' ||
				    (body.p[k] == ' ' && k + 1 < te &&
					body.p[k + 1] == ' '))
					plain = false;
		}
		if (plain)
			bf_put(f, body.p + s, te - s);
		else {
			/* Runs of WSP become one SP; copy the spans
			 * between them in one piece. */
			size_t k = s;
			while (k < te) {
				size_t run = k;
				while (run < te && !wsp(body.p[run]))
					run++;
				bf_put(f, body.p + k, run - k);
				if (run == te)
					break;
				bf_put(f, (const unsigned char *)" ", 1);
				k = run;
				while (k < te && wsp(body.p[k]))
					k++;
			}
		}
		content = true;
		pending_crlf = 1;
	}
	/* 3.4.3: simple makes an empty body one CRLF; 3.4.4: relaxed
	 * leaves it empty. Otherwise the body ends in exactly one CRLF. */
	if (content || !relaxed)
		bf_put(f, crlf, 2);
	bf_flush(f);
	*short_body = has_l && f->fed < l;
	if (!EVP_DigestFinal_ex(f->ctx, md, mdlen))
		rc = -ENOMEM;
	EVP_MD_CTX_free(f->ctx);
	free(f);
	return rc;
}

/* Verification ---------------------------------------------------------- */

static void
sig_fail(struct sigstate *s, enum dkim_result r, const char *why)
{
	s->pub.result = r;
	s->pub.reason = why;
	s->done = true;
}

static void
job_fail(struct dkim__job *j, enum dkim_result r, const char *why)
{
	j->result = r;
	j->reason = why;
}

/*
 * RSA public key from DER: SubjectPublicKeyInfo with rsaEncryption
 * (RFC 6376 3.6.1, RFC 3447 A.1.1), or a bare RSAPublicKey as some
 * publish it. Parsed here and built with EVP_PKEY_fromdata(): OpenSSL 3's
 * generic decoders (d2i_PUBKEY) cost far more than the RSA operation.
 */
static bool
der_item(const unsigned char **p, const unsigned char *end, int tag,
    const unsigned char **val, size_t *len)
{
	const unsigned char *q = *p;
	size_t n;

	if (end - q < 2 || *q++ != tag)
		return false;
	n = *q++;
	if (n & 0x80) {
		unsigned k = n & 0x7f;
		if (k == 0 || k > 3 || (size_t)(end - q) < k)
			return false;
		for (n = 0; k--;)
			n = (n << 8) | *q++;
	}
	if ((size_t)(end - q) < n)
		return false;
	*val = q;
	*len = n;
	*p = q + n;
	return true;
}

static EVP_PKEY *
rsa_from_der(const unsigned char *der, size_t len)
{
	static const unsigned char rsa_oid[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7,
		0x0d, 0x01, 0x01, 0x01 };
	const unsigned char *p = der, *end = der + len, *v, *n, *e;
	size_t vl, nl, el;
	EVP_PKEY *pk = NULL;

	if (!der_item(&p, end, 0x30, &v, &vl))
		return NULL;
	p = v;
	end = v + vl;
	if (p < end && *p == 0x30) {
		/* SPKI: AlgorithmIdentifier, then BIT STRING. */
		const unsigned char *alg, *oid, *bits;
		size_t al, ol, bl;
		if (!der_item(&p, end, 0x30, &alg, &al))
			return NULL;
		if (!der_item(&alg, alg + al, 0x06, &oid, &ol) ||
		    ol != sizeof(rsa_oid) || memcmp(oid, rsa_oid, ol) != 0)
			return NULL;
		if (!der_item(&p, end, 0x03, &bits, &bl) || bl < 1 ||
		    bits[0] != 0)
			return NULL;
		p = bits + 1;
		end = bits + bl;
		if (!der_item(&p, end, 0x30, &v, &vl))
			return NULL;
		p = v;
		end = v + vl;
	}
	if (!der_item(&p, end, 0x02, &n, &nl) ||
	    !der_item(&p, end, 0x02, &e, &el) || nl == 0 || el == 0)
		return NULL;
	BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL),
	       *be = BN_bin2bn(e, (int)el, NULL);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	if (bn && be && bld &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) != NULL &&
	    EVP_PKEY_fromdata_init(ctx) == 1)
		(void)EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return pk;
}

/* Build the key from p= for the signature's algorithm. */
static EVP_PKEY *
load_key(struct dkim__job *j, enum dkim_alg alg, unsigned char *der, long dlen)
{
	EVP_PKEY *pk = NULL;

	if (alg == DKIM_ALG_ED25519_SHA256) {
		/* RFC 8463 4: the raw 32-octet key, not SPKI. */
		if (dlen != 32) {
			job_fail(j, DKIM_PERMERROR, "bad ed25519 key");
			return NULL;
		}
		pk = EVP_PKEY_new_raw_public_key(
		    EVP_PKEY_ED25519, NULL, der, 32);
		if (pk == NULL)
			job_fail(j, DKIM_PERMERROR, "bad ed25519 key");
		return pk;
	}
	pk = rsa_from_der(der, (size_t)dlen);
	if (pk == NULL) {
		job_fail(j, DKIM_PERMERROR, "bad rsa key");
		return NULL;
	}
	int bits = EVP_PKEY_get_bits(pk);
	j->key_bits = (unsigned)bits;
	if (bits < DKIM_MIN_RSA_BITS || bits > DKIM_MAX_RSA_BITS) {
		EVP_PKEY_free(pk);
		/* RFC 8301 3.2: under 1024 bits MUST NOT be valid. */
		job_fail(j, DKIM_PERMERROR, "rsa key size not accepted");
		return NULL;
	}
	return pk;
}

/* Check the key record against the signature (RFC 6376 3.6.1, 6.1.2). */
static int
check_key(struct dkim__job *j, enum dkim_alg alg, const struct dkim_keytags *k)
{
	bool ed = alg == DKIM_ALG_ED25519_SHA256;

	if (k->k.len == 0) {
		if (ed) {
			job_fail(j, DKIM_PERMERROR, "key type mismatch");
			return -1;
		}
	} else if (word_eq(k->k, "rsa")) {
		if (ed) {
			job_fail(j, DKIM_PERMERROR, "key type mismatch");
			return -1;
		}
	} else if (word_eq(k->k, "ed25519")) {
		if (!ed) {
			job_fail(j, DKIM_PERMERROR, "key type mismatch");
			return -1;
		}
	} else {
		job_fail(j, DKIM_PERMERROR, "unknown key type");
		return -1;
	}
	if (k->h.len && !list_has(k->h, "sha256")) {
		job_fail(j, DKIM_PERMERROR, "hash not allowed by key");
		return -1;
	}
	if (k->s.len && !list_has(k->s, "email") && !list_has(k->s, "*")) {
		job_fail(j, DKIM_PERMERROR, "key not for email");
		return -1;
	}
	if (k->strict_i && j->i) {
		const char *at = strrchr(j->i, '@');
		if (at == NULL || strcasecmp(at + 1, j->d) != 0) {
			job_fail(
			    j, DKIM_PERMERROR, "key t=s forbids subdomain i=");
			return -1;
		}
	}
	j->testing = k->testing;
	return 0;
}

/* dkim__key_load - the key record in ans checked for alg and built */
EVP_PKEY *
dkim__key_load(
    struct dkim__job *j, enum dkim_alg alg, const struct authres_answer *ans)
{
	struct dkim_keytags k;
	const char *why;
	unsigned char key[2048];
	long klen;

	if (ans->status == AUTHRES_DNS_SERVFAIL ||
	    ans->status == AUTHRES_DNS_TIMEOUT) {
		job_fail(j, DKIM_TEMPERROR, "key lookup failed");
		return NULL;
	}
	if (ans->status != AUTHRES_DNS_OK) {
		job_fail(j, DKIM_PERMERROR, "no key");
		return NULL;
	}
	/* 3.6.2.2: several TXT records are ambiguous; use the first that
	 * parses (what most verifiers do). */
	size_t r;
	for (r = 0; r < ans->n; r++)
		if (dkim_keytags_parse(ans->rr[r].txt, &k, &why) == 0)
			break;
	if (r == ans->n) {
		job_fail(
		    j, DKIM_PERMERROR, ans->n == 1 ? why : "no usable key");
		return NULL;
	}
	if (check_key(j, alg, &k) < 0)
		return NULL;
	if (bstr_trim(k.p).len == 0) {
		job_fail(j, DKIM_PERMERROR, "key revoked");
		return NULL;
	}
	if ((klen = b64_decode(k.p, key, sizeof(key))) <= 0) {
		job_fail(j, DKIM_PERMERROR, "key not base64");
		return NULL;
	}
	return load_key(j, alg, key, klen);
}

/* dkim__self_canon - the signature field raw itself, no CRLF, with its b=
 * value bval "including all surrounding whitespace" deleted (RFC 6376
 * 3.7): everything from the "=" to the ";" or the end of the field goes
 * (libopendkim and dkimpy do the same). */
int
dkim__self_canon(struct buf *o, struct bstr raw, struct bstr bval, bool relaxed)
{
	size_t off = (size_t)(bval.p - raw.p);
	size_t end = off + bval.len;
	struct buf tmp;
	int rc;

	while (off > 0 && raw.p[off - 1] != '=')
		off--;
	while (end < raw.len && raw.p[end] != ';')
		end++;
	buf_init(&tmp, raw.len + 1);
	if ((rc = buf_append(&tmp, raw.p, off)) < 0 ||
	    (rc = buf_append(&tmp, raw.p + end, raw.len - end)) < 0)
		goto out;
	rc = hdr_canon(o, buf_bstr(&tmp), relaxed, false);
out:
	buf_free(&tmp);
	return rc;
}

/* The hash of the signed headers plus the signature header (b= empty). */
static int
header_hash(struct dkim__job *j, unsigned char *md, unsigned *mdlen)
{
	const struct dkim_sigtags *t = j->t;
	struct buf o;
	bool used[DKIM_MAX_HEADERS] = { false };
	struct bstr h = t->h;
	size_t i = 0, nh = 0;
	int rc = 0;

	buf_init(&o, 8u << 20);
	/* An empty h= signs no header (an ARC-Message-Signature may have
	 * one; DKIM's parser refuses it: From must be signed). */
	while (h.len && i <= h.len) {
		size_t st = i;
		while (i < h.len && h.p[i] != ':')
			i++;
		struct bstr name = bstr_trim(bstr_make(h.p + st, i - st));
		i++;
		if (++nh > DKIM_MAX_SIGNED_HEADERS) {
			buf_free(&o);
			job_fail(j, DKIM_PERMERROR, "too many signed headers");
			return -1;
		}
		/* 5.4.2: the bottom-most unused instance; none left signs
		 * nothing (over-signing). */
		for (size_t k = j->nf; k-- > 0;) {
			if (used[k] || !bstr_caseeq(j->f[k].name, name))
				continue;
			used[k] = true;
			if ((rc = hdr_canon(
				 &o, j->f[k].raw, t->hdr_relaxed, true)) < 0)
				goto out;
			break;
		}
	}
	if ((rc = dkim__self_canon(
		 &o, j->f[j->self].raw, t->b, t->hdr_relaxed)) < 0)
		goto out;
	if (!EVP_Digest(o.p, o.len, md, mdlen, sha256(), NULL))
		rc = -ENOMEM;
out:
	buf_free(&o);
	return rc;
}

/* dkim__sig_ok - does sig verify over the header hash hh with pk? */
bool
dkim__sig_ok(EVP_PKEY *pk, enum dkim_alg alg, const unsigned char *sig,
    size_t slen, const unsigned char *hh, unsigned hhlen)
{
	EVP_PKEY_CTX *pc = NULL;
	int ok = 0;

	if (alg == DKIM_ALG_ED25519_SHA256) {
		/* RFC 8463 3: Ed25519 over the SHA-256 of the headers. */
		EVP_MD_CTX *mc = EVP_MD_CTX_new();
		ok = mc &&
		    EVP_DigestVerifyInit(mc, NULL, NULL, NULL, pk) == 1 &&
		    EVP_DigestVerify(mc, sig, slen, hh, hhlen) == 1;
		EVP_MD_CTX_free(mc);
	} else {
		pc = EVP_PKEY_CTX_new(pk, NULL);
		ok = pc && EVP_PKEY_verify_init(pc) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(pc, sha256()) == 1 &&
		    EVP_PKEY_verify(pc, sig, slen, hh, hhlen) == 1;
		EVP_PKEY_CTX_free(pc);
	}
	return ok;
}

/* dkim__verify_job - RFC 6376 6.1.2 and 6.1.3 for one signature field */
void
dkim__verify_job(struct dkim__job *j, const struct authres_answer *ans)
{
	const struct dkim_sigtags *t = j->t;
	unsigned char sig[1024], bh[64], bhwant[64], hh[64];
	unsigned bhlen, hhlen;
	long slen, bwlen;
	bool short_body = false;
	EVP_PKEY *pk;

	j->result = DKIM_NONE;
	j->reason = NULL;
	if ((pk = dkim__key_load(j, t->alg, ans)) == NULL)
		return;
	if ((slen = b64_decode(t->b, sig, sizeof(sig))) <= 0) {
		job_fail(j, DKIM_PERMERROR, "b= not base64");
		goto out;
	}
	if ((bwlen = b64_decode(t->bh, bhwant, sizeof(bhwant))) <= 0) {
		job_fail(j, DKIM_PERMERROR, "bh= not base64");
		goto out;
	}
	if (body_hash(j->body, t->body_relaxed, t->has_l, t->l_val, bh, &bhlen,
		&short_body) < 0) {
		job_fail(j, DKIM_TEMPERROR, "out of memory");
		goto out;
	}
	if (short_body) {
		job_fail(j, DKIM_FAIL, "body shorter than l=");
		goto out;
	}
	if ((long)bhlen != bwlen || memcmp(bh, bhwant, bhlen) != 0) {
		job_fail(j, DKIM_FAIL, "body hash mismatch");
		goto out;
	}
	if (header_hash(j, hh, &hhlen) != 0) {
		if (j->result == DKIM_NONE)
			job_fail(j, DKIM_TEMPERROR, "out of memory");
		goto out;
	}
	if (dkim__sig_ok(pk, t->alg, sig, (size_t)slen, hh, hhlen))
		job_fail(j, DKIM_PASS, NULL);
	else
		job_fail(j, DKIM_FAIL, "signature did not verify");
out:
	EVP_PKEY_free(pk);
}

static void
verify_one(
    struct dkim_verify *v, struct sigstate *s, const struct authres_answer *ans)
{
	struct dkim__job j = {
		.f = v->f,
		.nf = v->nf,
		.self = s->field,
		.body = v->body,
		.t = &s->t,
		.d = s->pub.d,
		.i = s->pub.i,
	};

	dkim__verify_job(&j, ans);
	s->pub.key_bits = j.key_bits;
	s->pub.testing = j.testing;
	sig_fail(s, j.result, j.reason);
}

/* dkim_verify_run - verify every signature whose key is available */
int
dkim_verify_run(struct dkim_verify *v, struct authres_dns *dns)
{
	bool missing = false;
	int rc;

	for (size_t i = 0; i < v->nsigs; i++) {
		struct sigstate *s = &v->sigs[i];
		const struct authres_answer *ans;

		if (s->done)
			continue;
		ans = authres_dns_get(dns, s->keyname, AUTHRES_TXT);
		if (ans == NULL) {
			if ((rc = authres_dns_want(
				 dns, s->keyname, AUTHRES_TXT)) < 0)
				return rc;
			missing = true;
			continue;
		}
		verify_one(v, s, ans);
	}
	return missing ? -EAGAIN : 0;
}

size_t
dkim_sig_count(const struct dkim_verify *v)
{
	return v->nsigs;
}

size_t
dkim_sig_seen(const struct dkim_verify *v)
{
	return v->seen;
}

const struct dkim_sig *
dkim_sig_at(const struct dkim_verify *v, size_t i)
{
	return i < v->nsigs ? &v->sigs[i].pub : NULL;
}

/* Shared with the signer (plugins/dkim_int.h) --------------------------- */

int
dkim__hdr_canon(struct buf *o, struct bstr raw, bool relaxed, bool crlf)
{
	return hdr_canon(o, raw, relaxed, crlf);
}

int
dkim__body_hash(
    struct bstr body, bool relaxed, unsigned char *md, unsigned *mdlen)
{
	bool short_body;

	return body_hash(body, relaxed, false, 0, md, mdlen, &short_body);
}

int
dkim__sha256(const void *p, size_t len, unsigned char *md, unsigned *mdlen)
{
	return EVP_Digest(p, len, md, mdlen, sha256(), NULL) ? 0 : -ENOMEM;
}

long
dkim__b64_decode(struct bstr in, unsigned char *out, size_t outsz)
{
	return b64_decode(in, out, outsz);
}

int
dkim__rsa_bits(const unsigned char *der, size_t len)
{
	EVP_PKEY *pk = rsa_from_der(der, len);
	int bits;

	if (pk == NULL)
		return -EINVAL;
	bits = EVP_PKEY_get_bits(pk);
	EVP_PKEY_free(pk);
	return bits;
}

int
dkim__tags_split(struct bstr s, struct dkim__tag *tags, const char **why)
{
	return tags_split(s, tags, why);
}

bool
dkim__word_eq(struct bstr v, const char *w)
{
	return word_eq(v, w);
}

bool
dkim__list_has(struct bstr v, const char *w)
{
	return list_has(v, w);
}

const EVP_MD *
dkim__sha256_md(void)
{
	return sha256();
}

bool
dkim__parse_ull(struct bstr v, unsigned long long *out)
{
	return parse_ull(v, out);
}
