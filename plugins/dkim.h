/*
 * plugins/dkim.h - DKIM signature verification (RFC 6376, RFC 8301,
 * RFC 8463)
 *
 * dkim_verify_new() finds and parses every DKIM-Signature of a raw message;
 * dkim_verify_run() reads the key records from a struct authres_dns
 * (plugins/authres.h) and returns -EAGAIN, with the key lookups recorded as
 * wanted, until every key is there; then it verifies and returns 0. The
 * results are per signature. Everything lives in the caller's arena.
 */
#ifndef PLUGINS_DKIM_H
#define PLUGINS_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/buf.h"

struct arena;
struct authres_dns;

#define DKIM_MAX_SIGS 8		   /* signatures verified per message */
#define DKIM_MAX_SIGNED_HEADERS 64 /* h= entries */

/* RFC 8601 2.7.1 result words, in the order the summary prefers them. */
enum dkim_result {
	DKIM_NONE,
	DKIM_PASS,
	DKIM_FAIL,
	DKIM_POLICY,
	DKIM_NEUTRAL,
	DKIM_TEMPERROR,
	DKIM_PERMERROR,
};

enum dkim_alg {
	DKIM_ALG_UNKNOWN,
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_RSA_SHA1,
	DKIM_ALG_ED25519_SHA256
};

/* The tags of one DKIM-Signature (RFC 6376 3.5). Slices point into the
 * parsed value; missing tags are empty. */
struct dkim_sigtags {
	struct bstr v, a, b, bh, c, d, h, i, l, q, s, t, x, z;
	bool has_l, has_t, has_x;
	unsigned long long l_val, t_val, x_val;
	enum dkim_alg alg;
	bool hdr_relaxed, body_relaxed;
};

/* The tags of one key record (RFC 6376 3.6.1). */
struct dkim_keytags {
	struct bstr v, h, k, n, p, s, t;
	bool has_p, testing, strict_i; /* t=y, t=s */
};

/* dkim_sigtags_parse - parse and check a DKIM-Signature value: 0, or
 * -EINVAL with *why set to a short static reason (permerror). */
int dkim_sigtags_parse(
    struct bstr value, struct dkim_sigtags *, const char **why);
/* dkim_keytags_parse - parse a key record: 0 or -EINVAL (+ *why). An
 * empty p= (revoked) parses; the caller decides. */
int dkim_keytags_parse(
    struct bstr rec, struct dkim_keytags *, const char **why);

/* One verified signature. Strings are NUL-terminated, in the arena. */
struct dkim_sig {
	enum dkim_result result;
	const char *reason;    /* static: "body hash mismatch", ... or NULL */
	const char *d, *s, *i; /* d lower case; i = "@d" by default */
	const char *a;	       /* the a= value as written */
	const char *b8;	       /* the first 8 characters of b= (header.b) */
	unsigned key_bits;
	bool testing; /* key t=y */
	enum dkim_alg alg;
};

struct dkim_verify;

/* dkim_verify_new - parse the signatures of msg[0..len) (CRLF or bare LF
 * line ends), verification time now; 0 or -ENOMEM. msg must outlive it. */
int dkim_verify_new(struct arena *, const unsigned char *msg, size_t len,
    time_t now, struct dkim_verify **out);
/* dkim_verify_run - 0 when done, -EAGAIN when key records are missing
 * from dns (recorded as wanted), -ENOMEM. Safe to call again. */
int dkim_verify_run(struct dkim_verify *, struct authres_dns *dns);
size_t dkim_sig_count(const struct dkim_verify *);
const struct dkim_sig *dkim_sig_at(const struct dkim_verify *, size_t i);
/* dkim_result_str - "pass", "fail", ... */
const char *dkim_result_str(enum dkim_result);
/* dkim_sig_count_total - DKIM-Signature headers seen (may exceed
 * DKIM_MAX_SIGS; the rest are not verified) */
size_t dkim_sig_seen(const struct dkim_verify *);

#endif
