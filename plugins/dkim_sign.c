/*
 * dkim_sign - DKIM signing (RFC 6376 5, RFC 8463) and key generation
 *
 * A key set holds (domain, selector, private key) entries loaded from PEM
 * files; dkim_keyset_sign() signs a raw message with every key of the
 * domain covering its From domain: relaxed/relaxed, rsa-sha256 or
 * ed25519-sha256, the default header list below with From, To, Subject
 * and Date over-signed (listed once more than present: RFC 6376 8.15, a
 * copy added in transit then breaks the signature). Canonicalisation and
 * hashing are the verifier's (plugins/dkim_int.h), so what we sign is
 * what we verify.
 * Memory: the key set owns its keys (freed by dkim_keyset_free());
 * signing allocates temporary buffers only and appends to the caller's
 * buf. Errors: negative errno, with a reason in err where there is one;
 * nothing here logs. Limits: DKIM_SIGN_MAX_KEYS keys, keys of 1024 to
 * 8192 bits (RFC 8301 3.2), 64 h= entries (the verifier's limit).
 */
#include "plugins/dkim_sign.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "plugins/dkim.h"
#include "plugins/dkim_int.h"

#define DKIM_SIGN_MAX_KEYS 256
#define DKIM_SIGN_MAX_FIELDS 1000

struct skey {
	char *domain, *selector;
	EVP_PKEY *pk;
	bool ed25519;
};

struct dkim_keyset {
	struct skey *k;
	size_t n, cap;
};

/* RFC 6376 5.4.1 "SHOULD be included", minus the trace fields; the
 * list rspamd and OpenDKIM sign by default, give or take. */
static const char *const default_headers[] = { "from", "sender", "reply-to",
	"subject", "date", "message-id", "to", "cc", "mime-version",
	"content-type", "content-transfer-encoding", "content-id",
	"content-description", "resent-date", "resent-from", "resent-sender",
	"resent-to", "resent-cc", "resent-message-id", "in-reply-to",
	"references", "list-id", "list-help", "list-unsubscribe",
	"list-unsubscribe-post", "list-subscribe", "list-post", "list-owner",
	"list-archive" };
static const char *const default_oversign[] = { "from", "to", "subject",
	"date" };

struct dkim_keyset *
dkim_keyset_new(void)
{
	return calloc(1, sizeof(struct dkim_keyset));
}

struct dkim_keyset *
dkim_keyset_free(struct dkim_keyset *ks)
{
	if (ks == NULL)
		return NULL;
	for (size_t i = 0; i < ks->n; i++) {
		free(ks->k[i].domain);
		free(ks->k[i].selector);
		EVP_PKEY_free(ks->k[i].pk);
	}
	free(ks->k);
	free(ks);
	return NULL;
}

size_t
dkim_keyset_count(const struct dkim_keyset *ks)
{
	return ks ? ks->n : 0;
}

static void
lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 32;
}

/* A selector or domain: LDH labels and dots (RFC 6376 3.1, 3.5 d=). */
static bool
name_ok(const char *s, bool dots)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
			(dots && *s == '.')))
			return false;
	return true;
}

int
dkim_keyset_add(struct dkim_keyset *ks, const char *domain,
    const char *selector, const char *keyfile, char *err, size_t errsz)
{
	FILE *f;
	EVP_PKEY *pk;
	struct skey *k;
	int id;

	if (!name_ok(domain, true) || !name_ok(selector, true)) {
		snprintf(err, errsz, "bad domain or selector '%s' '%s'", domain,
		    selector);
		return -EINVAL;
	}
	if (ks->n == DKIM_SIGN_MAX_KEYS) {
		snprintf(err, errsz, "more than %d keys", DKIM_SIGN_MAX_KEYS);
		return -E2BIG;
	}
	if ((f = fopen(keyfile, "r")) == NULL) {
		int e = errno;
		snprintf(err, errsz, "%s: %s", keyfile, strerror(e));
		return -e;
	}
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pk == NULL) {
		snprintf(err, errsz, "%s: not a PEM private key", keyfile);
		return -EINVAL;
	}
	id = EVP_PKEY_get_base_id(pk);
	if (id == EVP_PKEY_RSA) {
		int bits = EVP_PKEY_get_bits(pk);
		if (bits < 1024 || bits > 8192) {
			snprintf(err, errsz,
			    "%s: RSA key of %d bits (1024 to "
			    "8192 verify, RFC 8301 3.2)",
			    keyfile, bits);
			EVP_PKEY_free(pk);
			return -EINVAL;
		}
	} else if (id != EVP_PKEY_ED25519) {
		snprintf(err, errsz, "%s: neither RSA nor Ed25519", keyfile);
		EVP_PKEY_free(pk);
		return -EINVAL;
	}
	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? 2 * ks->cap : 4;
		struct skey *nk = realloc(ks->k, cap * sizeof(*nk));
		if (nk == NULL) {
			EVP_PKEY_free(pk);
			snprintf(err, errsz, "out of memory");
			return -ENOMEM;
		}
		ks->k = nk;
		ks->cap = cap;
	}
	k = &ks->k[ks->n];
	k->domain = strdup(domain);
	k->selector = strdup(selector);
	k->pk = pk;
	k->ed25519 = id == EVP_PKEY_ED25519;
	if (k->domain == NULL || k->selector == NULL) {
		free(k->domain);
		free(k->selector);
		EVP_PKEY_free(pk);
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	lower(k->domain);
	/* Signatures are added in the order the keys were given. */
	ks->n++;
	return 0;
}

/* One "domain selector keyfile" entry; dir prefixes a relative path. */
static int
add_entry(struct dkim_keyset *ks, char *line, const char *dir,
    const char *where, char *err, size_t errsz)
{
	char *w[4], *save = NULL, path[4096], why[512];
	size_t n = 0;
	int rc;

	for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 4;
	     t = strtok_r(NULL, " \t\r\n", &save))
		w[n++] = t;
	if (n == 0)
		return 0;
	if (n != 3) {
		snprintf(err, errsz, "%s: expected 'domain selector keyfile'",
		    where);
		return -EINVAL;
	}
	if (w[2][0] != '/' && dir && *dir)
		snprintf(path, sizeof(path), "%s/%s", dir, w[2]);
	else
		snprintf(path, sizeof(path), "%s", w[2]);
	if ((rc = dkim_keyset_add(ks, w[0], w[1], path, why, sizeof(why))) < 0)
		snprintf(err, errsz, "%s: %s", where, why);
	return rc;
}

int
dkim_keyset_load(
    struct dkim_keyset *ks, const char *spec, char *err, size_t errsz)
{
	char *copy, *save = NULL, where[4200];
	int rc = 0;

	while (*spec == ' ' || *spec == '\t')
		spec++;
	if (*spec == '\0')
		return 0;
	/* One word: a key table file. */
	if (strpbrk(spec, " \t,;") == NULL) {
		FILE *f = fopen(spec, "r");
		char *line = NULL, dir[4096];
		size_t cap = 0;
		unsigned ln = 0;
		const char *slash = strrchr(spec, '/');

		if (f == NULL) {
			int e = errno;
			snprintf(err, errsz, "%s: %s", spec, strerror(e));
			return -e;
		}
		snprintf(dir, sizeof(dir), "%.*s",
		    slash ? (int)(slash - spec) : 0, spec);
		while (rc == 0 && getline(&line, &cap, f) >= 0) {
			char *hash = strchr(line, '#');
			ln++;
			if (hash)
				*hash = '\0';
			snprintf(where, sizeof(where), "%s:%u", spec, ln);
			rc = add_entry(ks, line, dir, where, err, errsz);
		}
		free(line);
		fclose(f);
		return rc;
	}
	if ((copy = strdup(spec)) == NULL)
		return -ENOMEM;
	unsigned i = 0;
	for (char *e = strtok_r(copy, ",;", &save); e && rc == 0;
	     e = strtok_r(NULL, ",;", &save)) {
		snprintf(where, sizeof(where), "dkim_key entry %u", ++i);
		rc = add_entry(ks, e, NULL, where, err, errsz);
	}
	free(copy);
	return rc;
}

/* The message ----------------------------------------------------------- */

struct fld {
	struct bstr name, raw; /* raw: name to end, no final CRLF */
};

struct smsg {
	struct buf crlf; /* a copy when the input had bare LFs */
	struct bstr m, body;
	struct fld *f;
	size_t nf;
};

static bool
wsp(int c)
{
	return c == ' ' || c == '\t';
}

static void
smsg_free(struct smsg *s)
{
	buf_free(&s->crlf);
	free(s->f);
}

/* smsg_parse - CRLF line ends (RFC 6376 5.3), the header fields split as
 * the verifier splits them */
static int
smsg_parse(struct smsg *s, const unsigned char *m, size_t len)
{
	size_t bare = 0, i = 0, cap = 0;
	const unsigned char *p;
	int rc;

	memset(s, 0, sizeof(*s));
	buf_init(&s->crlf, (size_t)-1);
	for (size_t k = 0; k < len; k++)
		if (m[k] == '\n' && (k == 0 || m[k - 1] != '\r'))
			bare++;
	if (bare) {
		if ((rc = buf_reserve(&s->crlf, len + bare)) < 0)
			return rc;
		for (size_t k = 0; k < len; k++) {
			if (m[k] == '\n' && (k == 0 || m[k - 1] != '\r'))
				s->crlf.p[s->crlf.len++] = '\r';
			s->crlf.p[s->crlf.len++] = m[k];
		}
		s->m = buf_bstr(&s->crlf);
	} else
		s->m = bstr_make(m, len);
	p = s->m.p;
	len = s->m.len;
	s->body = bstr_make(p + len, 0);
	while (i < len) {
		size_t st = i, colon = 0, e;
		bool have_colon = false;

		if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n') {
			s->body = bstr_make(p + i + 2, len - i - 2);
			return 0;
		}
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
			i++;
			if (i < len && wsp(p[i]))
				continue;
			break;
		}
		e = i;
		if (e > st && p[e - 1] == '\n')
			e--;
		if (e > st && p[e - 1] == '\r')
			e--;
		if (!have_colon || colon >= e || wsp(p[st]) ||
		    s->nf == DKIM_SIGN_MAX_FIELDS)
			continue;
		if (s->nf == cap) {
			size_t nc = cap ? 2 * cap : 32;
			struct fld *nf = realloc(s->f, nc * sizeof(*nf));
			if (nf == NULL)
				return -ENOMEM;
			s->f = nf;
			cap = nc;
		}
		size_t ne = colon;
		while (ne > st && wsp(p[ne - 1]))
			ne--;
		s->f[s->nf].name = bstr_make(p + st, ne - st);
		s->f[s->nf].raw = bstr_make(p + st, e - st);
		s->nf++;
	}
	return 0;
}

/* The domain of the first address in a From value: inside <> when there
 * is an angle-addr, else the first word with an '@'. Comments and quoted
 * display names with '@' are skipped well enough for picking a key. */
static int
addr_domain(struct bstr v, char *out, size_t outsz)
{
	const unsigned char *p = v.p, *end = v.p + v.len, *lt = NULL;
	const unsigned char *at = NULL, *s, *e;
	bool q = false;
	int depth = 0;

	for (const unsigned char *c = p; c < end; c++) {
		if (*c == '"' && depth == 0)
			q = !q;
		else if (q)
			continue;
		else if (*c == '(')
			depth++;
		else if (*c == ')' && depth)
			depth--;
		else if (*c == '<' && depth == 0 && lt == NULL)
			lt = c;
		else if (*c == ',' && depth == 0)
			break;
	}
	if (lt) {
		const unsigned char *gt = memchr(lt, '>', (size_t)(end - lt));
		s = lt + 1;
		e = gt ? gt : end;
	} else {
		s = p;
		e = end;
		const unsigned char *c = memchr(p, ',', v.len);
		if (c)
			e = c;
	}
	for (const unsigned char *c = s; c < e; c++)
		if (*c == '@')
			at = c;
	if (at == NULL)
		return -ENOENT;
	s = at + 1;
	size_t n = 0;
	for (const unsigned char *c = s; c < e; c++) {
		if (wsp(*c) || *c == '\r' || *c == '\n' || *c == '>' ||
		    *c == '(' || *c == ';')
			break;
		if (n + 1 >= outsz)
			return -ENOENT;
		out[n++] = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	}
	while (n && out[n - 1] == '.')
		n--;
	out[n] = '\0';
	return n ? 0 : -ENOENT;
}

static int
from_domain(const struct smsg *s, char *out, size_t outsz)
{
	for (size_t i = 0; i < s->nf; i++)
		if (bstr_caseeq(s->f[i].name, BSTR_LIT("From"))) {
			struct bstr raw = s->f[i].raw;
			const unsigned char *c = memchr(raw.p, ':', raw.len);
			size_t off = (size_t)(c - raw.p) + 1;
			return addr_domain(
			    bstr_make(raw.p + off, raw.len - off), out, outsz);
		}
	return -ENOENT;
}

int
dkim_from_domain(const unsigned char *msg, size_t len, char *out, size_t outsz)
{
	struct smsg s;
	int rc;

	if ((rc = smsg_parse(&s, msg, len)) == 0)
		rc = from_domain(&s, out, outsz);
	smsg_free(&s);
	return rc;
}

/* Signing --------------------------------------------------------------- */

static int
b64(struct buf *o, const unsigned char *p, size_t n)
{
	int rc;

	if ((rc = buf_reserve(o, 4 * ((n + 2) / 3) + 1)) < 0)
		return rc;
	o->len += (size_t)EVP_EncodeBlock(o->p + o->len, p, (int)n);
	return 0;
}

static size_t
count_fields(const struct smsg *s, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nf; i++)
		if (bstr_caseeq_cstr(s->f[i].name, name))
			n++;
	return n;
}

/* The h= list: every instance of each listed name, plus one more for
 * the over-signed ones. */
static int
build_hlist(const struct smsg *s, const struct dkim_sign_opts *o,
    const char **h, size_t *nh)
{
	const char *const *hd = o->headers ? o->headers : default_headers;
	size_t nhd =
	    o->headers ? o->nheaders : sizeof(default_headers) / sizeof(*hd);
	const char *const *ov = o->oversign ? o->oversign : default_oversign;
	size_t nov =
	    o->oversign ? o->noversign : sizeof(default_oversign) / sizeof(*ov);

	*nh = 0;
	for (size_t i = 0; i < nhd; i++) {
		size_t n = count_fields(s, hd[i]);
		for (size_t k = 0; k < nov; k++)
			if (strcasecmp(ov[k], hd[i]) == 0) {
				n++;
				break;
			}
		for (; n; n--) {
			if (*nh == DKIM_MAX_SIGNED_HEADERS)
				return -E2BIG;
			h[(*nh)++] = hd[i];
		}
	}
	return 0;
}

/* dkim__sign_hash - sig over the header hash hh: RSASSA-PKCS1-v1_5 with
 * SHA-256 (RFC 6376 3.3.1), or PureEdDSA over it (RFC 8463 3); *siglen
 * in: room, out: length. 0 or -EIO. */
int
dkim__sign_hash(EVP_PKEY *pk, bool ed25519, const unsigned char *hh,
    unsigned hhlen, unsigned char *sig, size_t *siglen)
{
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *mc = NULL;
	int ok;

	if (ed25519)
		ok = (mc = EVP_MD_CTX_new()) != NULL &&
		    EVP_DigestSignInit(mc, NULL, NULL, NULL, pk) == 1 &&
		    EVP_DigestSign(mc, sig, siglen, hh, hhlen) == 1;
	else
		ok = EVP_PKEY_get_size(pk) <= (int)*siglen &&
		    (pc = EVP_PKEY_CTX_new(pk, NULL)) != NULL &&
		    EVP_PKEY_sign_init(pc) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
		    EVP_PKEY_sign(pc, sig, siglen, hh, hhlen) == 1;
	EVP_MD_CTX_free(mc);
	EVP_PKEY_CTX_free(pc);
	return ok ? 0 : -EIO;
}

static int
sign_one(const struct skey *k, const struct smsg *s,
    const struct dkim_sign_opts *o, const unsigned char *bh, unsigned bhlen,
    const char **h, size_t nh, struct buf *out)
{
	struct buf hdr, canon;
	bool used[DKIM_SIGN_MAX_FIELDS] = { false };
	unsigned char hh[64], sig[1024];
	unsigned hhlen;
	size_t siglen = sizeof(sig), col;
	int rc;

	buf_init(&hdr, 64 * 1024);
	buf_init(&canon, 8u << 20);
	if ((rc = buf_printf(&hdr,
		 "DKIM-Signature: v=1; a=%s; "
		 "c=relaxed/relaxed; d=%s; s=%s;\r\n\t",
		 k->ed25519 ? "ed25519-sha256" : "rsa-sha256", k->domain,
		 k->selector)) < 0)
		goto out;
	if (o->now &&
	    (rc = buf_printf(&hdr, "t=%lld; ", (long long)o->now)) < 0)
		goto out;
	if (o->now && o->expire_secs &&
	    (rc = buf_printf(
		 &hdr, "x=%lld; ", (long long)o->now + o->expire_secs)) < 0)
		goto out;
	if ((rc = buf_puts(&hdr, "h=")) < 0)
		goto out;
	col = 8 + 24;
	for (size_t i = 0; i < nh; i++) {
		size_t n = strlen(h[i]) + 1;
		if (col + n > 76) {
			if ((rc = buf_puts(&hdr, "\r\n\t")) < 0)
				goto out;
			col = 8;
		}
		if ((rc = buf_printf(&hdr, "%s%s", i ? ":" : "", h[i])) < 0)
			goto out;
		col += n;
	}
	if ((rc = buf_puts(&hdr, ";\r\n\tbh=")) < 0 ||
	    (rc = b64(&hdr, bh, bhlen)) < 0 ||
	    (rc = buf_puts(&hdr, ";\r\n\tb=")) < 0)
		goto out;
	/* 5.4.2: the bottom-most unused instance of each name, as the
	 * verifier will pick it; an over-signed name finds none. */
	for (size_t i = 0; i < nh; i++)
		for (size_t f = s->nf; f-- > 0;) {
			if (used[f] || !bstr_caseeq_cstr(s->f[f].name, h[i]))
				continue;
			used[f] = true;
			if ((rc = dkim__hdr_canon(
				 &canon, s->f[f].raw, true, true)) < 0)
				goto out;
			break;
		}
	/* 3.7: the signature field itself, b= empty, no CRLF. */
	if ((rc = dkim__hdr_canon(&canon, buf_bstr(&hdr), true, false)) < 0 ||
	    (rc = dkim__sha256(canon.p, canon.len, hh, &hhlen)) < 0)
		goto out;
	if ((rc = dkim__sign_hash(k->pk, k->ed25519, hh, hhlen, sig, &siglen)) <
	    0)
		goto out;
	{
		struct buf b;
		buf_init(&b, 4096);
		if ((rc = b64(&b, sig, siglen)) < 0) {
			buf_free(&b);
			goto out;
		}
		/* Fold b= at 72 columns; FWS inside b= is ignored (3.5). */
		for (size_t i = 0; i < b.len && rc == 0; i += 70) {
			size_t n = b.len - i < 70 ? b.len - i : 70;
			if (i)
				rc = buf_puts(&hdr, "\r\n\t ");
			if (rc == 0)
				rc = buf_append(&hdr, b.p + i, n);
		}
		buf_free(&b);
		if (rc < 0)
			goto out;
	}
	if ((rc = buf_puts(&hdr, "\r\n")) < 0)
		goto out;
	rc = buf_append(out, hdr.p, hdr.len);
out:
	buf_free(&hdr);
	buf_free(&canon);
	return rc;
}

EVP_PKEY *
dkim_keyset_rsa(
    const struct dkim_keyset *ks, const char *domain, const char **sel)
{
	for (size_t i = 0; ks && i < ks->n; i++)
		if (!ks->k[i].ed25519 &&
		    strcasecmp(ks->k[i].domain, domain) == 0) {
			*sel = ks->k[i].selector;
			return ks->k[i].pk;
		}
	return NULL;
}

/* Is d the domain dom or one of its parents? Returns the match length. */
static size_t
covers(const char *d, const char *dom)
{
	size_t dl = strlen(d), nl = strlen(dom);

	if (dl == nl && strcmp(d, dom) == 0)
		return dl;
	if (nl > dl && dom[nl - dl - 1] == '.' && strcmp(dom + nl - dl, d) == 0)
		return dl;
	return 0;
}

int
dkim_keyset_sign(const struct dkim_keyset *ks, const unsigned char *msg,
    size_t len, const struct dkim_sign_opts *o, struct buf *out, size_t *nsigs)
{
	static const struct dkim_sign_opts none = { 0 };
	struct smsg s;
	char dom[256];
	const char *h[DKIM_MAX_SIGNED_HEADERS];
	const char *best = NULL;
	size_t nh, bestlen = 0, start = out->len;
	unsigned char bh[64];
	unsigned bhlen;
	int rc;

	*nsigs = 0;
	if (o == NULL)
		o = &none;
	if (ks == NULL || ks->n == 0)
		return 0;
	if ((rc = smsg_parse(&s, msg, len)) < 0)
		goto out;
	if (from_domain(&s, dom, sizeof(dom)) < 0) {
		rc = 0; /* nothing to sign for */
		goto out;
	}
	for (size_t i = 0; i < ks->n; i++) {
		size_t c = covers(ks->k[i].domain, dom);
		if (c > bestlen) {
			bestlen = c;
			best = ks->k[i].domain;
		}
	}
	if (best == NULL) {
		rc = 0;
		goto out;
	}
	if ((rc = build_hlist(&s, o, h, &nh)) < 0 ||
	    (rc = dkim__body_hash(s.body, true, bh, &bhlen)) < 0)
		goto out;
	for (size_t i = 0; i < ks->n; i++) {
		if (strcmp(ks->k[i].domain, best) != 0)
			continue;
		if ((rc = sign_one(&ks->k[i], &s, o, bh, bhlen, h, nh, out)) <
		    0) {
			out->len = start;
			*nsigs = 0;
			goto out;
		}
		(*nsigs)++;
	}
out:
	smsg_free(&s);
	return rc;
}

/* Key generation -------------------------------------------------------- */

int
dkim_keygen(
    enum dkim_keytype t, unsigned bits, struct buf *pem, struct buf *pub)
{
	EVP_PKEY *pk;
	BIO *bio = NULL;
	unsigned char *der = NULL, raw[32];
	char *data;
	long n;
	int rc = -EIO, dl;
	size_t rl = sizeof(raw);

	if (t == DKIM_KEY_RSA && (bits < 1024 || bits > 8192))
		return -EINVAL;
	pk = t == DKIM_KEY_RSA
	    ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits)
	    : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pk == NULL)
		return -EIO;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || (rc = buf_append(pem, data, (size_t)n)) < 0)
		goto out;
	rc = -EIO;
	if (t == DKIM_KEY_RSA) {
		/* SubjectPublicKeyInfo, as opendkim-genkey publishes it */
		if ((dl = i2d_PUBKEY(pk, &der)) <= 0)
			goto out;
		rc = b64(pub, der, (size_t)dl);
	} else {
		if (EVP_PKEY_get_raw_public_key(pk, raw, &rl) != 1)
			goto out;
		rc = b64(pub, raw, rl);
	}
	if (rc == 0)
		rc = buf_cstr(pub);
out:
	OPENSSL_free(der);
	BIO_free(bio);
	EVP_PKEY_free(pk);
	return rc;
}

int
dkim_txt_record(
    enum dkim_keytype t, const char *p, bool testing, struct buf *out)
{
	return buf_printf(out, "v=DKIM1; k=%s; %sp=%s",
	    t == DKIM_KEY_RSA ? "rsa" : "ed25519", testing ? "t=y; " : "", p);
}

int
dkim_txt_split(const char *v, size_t max, const char *sep, struct buf *out)
{
	size_t n = strlen(v);
	int rc;

	if (max == 0 || max > 255)
		max = 255;
	/* RFC 1035 3.3: a character-string is at most 255 octets; the TXT
	 * record's strings are joined with nothing between them (RFC 6376
	 * 3.6.2.2). Our values never hold '"' or '\\'. */
	for (size_t i = 0; i < n || i == 0; i += max) {
		size_t k = n - i < max ? n - i : max;
		if ((i && (rc = buf_puts(out, sep)) < 0) ||
		    (rc = buf_printf(out, "\"%.*s\"", (int)k, v + i)) < 0)
			return rc;
		if (n == 0)
			break;
	}
	return 0;
}

int
dkim__b64(struct buf *o, const unsigned char *p, size_t n)
{
	return b64(o, p, n);
}

const char *const *
dkim__sign_headers(size_t *n)
{
	*n = sizeof(default_headers) / sizeof(default_headers[0]);
	return default_headers;
}
