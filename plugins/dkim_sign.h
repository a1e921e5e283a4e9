/*
 * plugins/dkim_sign.h - DKIM signing (RFC 6376 5, RFC 8463): rsa-sha256
 * and ed25519-sha256, relaxed/relaxed, per-domain key sets; key pair and
 * DNS record generation for filterctl dkim-keygen
 *
 * A key set maps signing domains to one or more (selector, private key)
 * pairs; a message is signed once per key of the domain that covers its
 * From domain (two keys, rsa + ed25519, give the dual signature of
 * RFC 8463 5). Canonicalisation and hashing are the verifier's own
 * (plugins/dkim_int.h).
 */
#ifndef PLUGINS_DKIM_SIGN_H
#define PLUGINS_DKIM_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/buf.h"

struct dkim_keyset;

/* dkim_keyset_new / _free (free returns NULL) */
struct dkim_keyset *dkim_keyset_new(void);
struct dkim_keyset *dkim_keyset_free(struct dkim_keyset *);
/* dkim_keyset_add - load keyfile (PEM, PKCS#8 or traditional; RSA of at
 * least 1024 bits or Ed25519) for domain/selector. 0, or -ENOENT/-EACCES
 * (file), -EINVAL (not a usable key), -ENOMEM; err says why. */
int dkim_keyset_add(struct dkim_keyset *, const char *domain,
    const char *selector, const char *keyfile, char *err, size_t errsz);
/* dkim_keyset_load - spec is either "domain selector keyfile" entries
 * separated by ',' or ';', or the path of a key table: one entry per
 * line, '#' comments (a relative keyfile is taken relative to the
 * table's directory). 0 or a negative errno with "where: why" in err. */
int dkim_keyset_load(
    struct dkim_keyset *, const char *spec, char *err, size_t errsz);
size_t dkim_keyset_count(const struct dkim_keyset *);

struct dkim_sign_opts {
	time_t now;		    /* t= (0: no t=) */
	unsigned expire_secs;	    /* x= = t + this (0: no x=) */
	const char *const *headers; /* NULL: the default list */
	size_t nheaders;
	/* names signed once more than they occur, so that a copy added
	 * later breaks the signature (NULL: From To Subject Date) */
	const char *const *oversign;
	size_t noversign;
};

/* dkim_keyset_sign - append a "DKIM-Signature: ...\r\n" field for every
 * key whose domain is the From domain or a parent of it (the closest
 * domain wins) to out. msg: the raw message, CRLF or bare LF line ends.
 * 0 (*nsigs set; 0 when no key matches or there is no From address),
 * -ENOMEM, -ENOSPC, -EIO (OpenSSL failed). */
int dkim_keyset_sign(const struct dkim_keyset *, const unsigned char *msg,
    size_t len, const struct dkim_sign_opts *, struct buf *out, size_t *nsigs);

/* dkim_keyset_rsa - the first RSA key loaded for exactly domain (an ARC
 * sealer signs rsa-sha256 only, RFC 8617 4.1), its selector in *sel;
 * NULL when there is none. The key belongs to the set. */
struct evp_pkey_st;
struct evp_pkey_st *dkim_keyset_rsa(
    const struct dkim_keyset *, const char *domain, const char **sel);

/* dkim_from_domain - the domain of the first address in the (first) From
 * field of msg, lower case, into out; 0 or -ENOENT. */
int dkim_from_domain(
    const unsigned char *msg, size_t len, char *out, size_t outsz);

/* Key generation ---------------------------------------------------------*/

enum dkim_keytype { DKIM_KEY_RSA, DKIM_KEY_ED25519 };

/* dkim_keygen - new key pair: the private key as PKCS#8 PEM into pem, the
 * p= value (base64: RSA SubjectPublicKeyInfo, Ed25519 the raw 32 octets,
 * RFC 8463 4.2) into pub. bits: RSA 1024..8192. 0, -EINVAL, -EIO. */
int dkim_keygen(
    enum dkim_keytype, unsigned bits, struct buf *pem, struct buf *pub);

/* dkim_txt_record - "v=DKIM1; k=rsa; [t=y; ]p=..." into out */
int dkim_txt_record(
    enum dkim_keytype, const char *p, bool testing, struct buf *out);
/* dkim_txt_split - value as DNS character-strings of at most max (<= 255)
 * octets: "\"a\" \"b\"" joined by sep; 0 or -ENOSPC */
int dkim_txt_split(
    const char *value, size_t max, const char *sep, struct buf *out);

#endif
