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

#include "util/buf.h"

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
