/*
 * plugins/dkim_int.h - pieces of the DKIM verifier (plugins/dkim.c) that
 * the signer (plugins/dkim_sign.c) and filterctl check-domain share, so
 * both sides canonicalise and hash with the same code (RFC 6376 3.4, 3.7)
 *
 * Internal to plugins/: the double underscore says so.
 */
#ifndef PLUGINS_DKIM_INT_H
#define PLUGINS_DKIM_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "plugins/dkim.h"
#include "util/buf.h"

struct arena;
struct authres_answer;

/* One header field: name as written without trailing WSP, the whole
 * field (name to end, no final CRLF), the value after the colon with its
 * folding kept. */
struct dkim__field {
	struct bstr name, raw, value;
};

/* dkim__to_crlf - m with every bare LF made CRLF (a copy in the arena
 * when there is any; RFC 6376 5.3); 0 or -ENOMEM */
int dkim__to_crlf(
    struct arena *, const unsigned char *m, size_t len, struct bstr *out);
/* dkim__split_headers - the fields of msg's header section (CRLF line
 * ends; at most 1000) and the body after the empty line; 0 or -ENOMEM */
int dkim__split_headers(struct arena *, struct bstr msg, struct dkim__field **f,
    size_t *nf, struct bstr *body);

/* Tag lists (RFC 6376 3.2): "name = value; ...", FWS around names, "="
 * and values dropped, duplicates refused. */
#define DKIM__MAX_TAGS 64
struct dkim__tag {
	struct bstr name, value;
};
/* dkim__tags_split - the tags of s (at most DKIM__MAX_TAGS) or -EINVAL
 * with *why set */
int dkim__tags_split(struct bstr s, struct dkim__tag *tags, const char **why);
/* dkim__word_eq - v equals w, FWS in v ignored, case-insensitive */
bool dkim__word_eq(struct bstr v, const char *w);
/* dkim__list_has - colon-separated v has w (as dkim__word_eq) */
bool dkim__list_has(struct bstr v, const char *w);

/* dkim__canon_parse - c= (header[/body], simple or relaxed; 3.5): 0, or
 * -1 when either part is something else */
int dkim__canon_parse(struct bstr c, bool *hdr_relaxed, bool *body_relaxed);
/* dkim__parse_ull - 1*DIGIT (t=, x=, l=; very long values saturate) */
bool dkim__parse_ull(struct bstr v, unsigned long long *out);

/* One signature to check against a key answer: in f[0..nf) the field
 * f[self] carries tags t (a DKIM-Signature or an ARC-Message-Signature,
 * RFC 8617 4.1.2). i is the AUID for a key's t=s, or NULL. */
struct dkim__job {
	const struct dkim__field *f;
	size_t nf, self;
	struct bstr body;
	const struct dkim_sigtags *t;
	const char *d, *i;
	/* out */
	enum dkim_result result;
	const char *reason; /* static */
	unsigned key_bits;
	bool testing;
};
/* dkim__verify_job - key, body hash, header hash, signature (RFC 6376
 * 6.1.2, 6.1.3): sets result and reason */
void dkim__verify_job(struct dkim__job *, const struct authres_answer *ans);
/* dkim__key_load - the first key record of ans that parses, checked for
 * alg (3.6.1, RFC 8301) and built; NULL with j->result/reason set */
EVP_PKEY *dkim__key_load(
    struct dkim__job *j, enum dkim_alg alg, const struct authres_answer *ans);
/* dkim__self_canon - append the signature field raw without its b= value
 * and without a CRLF, canonicalized (3.7); 0 or -ENOSPC/-ENOMEM */
int dkim__self_canon(
    struct buf *, struct bstr raw, struct bstr bval, bool relaxed);
/* dkim__sig_ok - sig[0..slen) verifies over the hash hh with pk (alg) */
bool dkim__sig_ok(EVP_PKEY *pk, enum dkim_alg alg, const unsigned char *sig,
    size_t slen, const unsigned char *hh, unsigned hhlen);
/* The signer's pieces (plugins/dkim_sign.c), shared with the ARC sealer. */
/* dkim__sign_hash - sig over the header hash hh: rsa-sha256, or ed25519
 * when ed25519; *siglen in: room, out: length. 0 or -EIO. */
int dkim__sign_hash(EVP_PKEY *pk, bool ed25519, const unsigned char *hh,
    unsigned hhlen, unsigned char *sig, size_t *siglen);
/* dkim__b64 - append base64 of p[0..n) to o; 0 or -ENOMEM */
int dkim__b64(struct buf *o, const unsigned char *p, size_t n);
/* dkim__sign_headers - the field names the signer signs by default */
const char *const *dkim__sign_headers(size_t *n);

/* dkim__sha256_md - SHA-256, fetched once */
const EVP_MD *dkim__sha256_md(void);

/* dkim__hdr_canon - one header field (name to end, no final CRLF) in
 * simple or relaxed form (3.4.1, 3.4.2), with CRLF when crlf; 0/-ENOSPC */
int dkim__hdr_canon(struct buf *, struct bstr raw, bool relaxed, bool crlf);
/* dkim__body_hash - SHA-256 of the canonical body (3.4.3, 3.4.4, 3.7);
 * body must have CRLF line ends; 0 or -ENOMEM */
int dkim__body_hash(
    struct bstr body, bool relaxed, unsigned char *md, unsigned *mdlen);
/* dkim__sha256 - SHA-256 of p[0..len); 0 or -ENOMEM */
int dkim__sha256(const void *p, size_t len, unsigned char *md, unsigned *mdlen);
/* dkim__b64_decode - base64 with FWS ignored; octets or -1 */
long dkim__b64_decode(struct bstr in, unsigned char *out, size_t outsz);
/* dkim__rsa_bits - modulus size of a p= RSA key (SPKI or RSAPublicKey
 * DER), or -EINVAL */
int dkim__rsa_bits(const unsigned char *der, size_t len);

#endif
