/*
 * plugins/arc.h - Authenticated Received Chain (RFC 8617): validation
 * and sealing
 *
 * arc_verify_new() collects and parses the ARC sets of a raw message;
 * arc_verify_run() reads the key records from a struct authres_dns
 * (plugins/authres.h) and returns -EAGAIN, with the lookups recorded as
 * wanted, until every key is there; then it validates the chain (RFC 8617
 * 5.2) and returns 0. Everything lives in the caller's arena.
 * arc_seal() adds the next set (5.1) for a host that sends mail on; it
 * needs no DNS: the chain status comes from our own A-R on the message.
 */
#ifndef PLUGINS_ARC_H
#define PLUGINS_ARC_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

struct arena;
struct authres_dns;

#define ARC_MAX_SETS 50 /* RFC 8617 4.2.1: more is a failed chain */

/* The chain validation status (RFC 8617 4.4) as the "arc" method of
 * Authentication-Results reports it; temperror when a key lookup failed
 * for the moment, so the chain could not be judged. */
enum arc_result {
	ARC_RES_NONE,
	ARC_RES_PASS,
	ARC_RES_FAIL,
	ARC_RES_TEMPERROR,
};

struct arc_out {
	enum arc_result result;
	const char *reason; /* why it failed, NUL-terminated, or NULL */
	unsigned sets;	    /* N, the highest instance seen (0: no ARC) */
	const char *sealer; /* d= of ARC-Seal i=N, lower case, or NULL */
	/* The newest ARC-Authentication-Results (i=N) reports dmarc=pass:
	 * what the last sealer saw before it changed the message. Only
	 * worth anything when the chain passes and that sealer is
	 * trusted. */
	bool aar_dmarc_pass;
};

struct arc_verify;

/* arc_verify_new - find the ARC header fields of msg[0..len) (CRLF or
 * bare LF line ends) and check their structure; 0 or -ENOMEM. msg must
 * outlive it. */
int arc_verify_new(struct arena *, const unsigned char *msg, size_t len,
    struct arc_verify **out);
/* arc_verify_run - 0 when the result is final, -EAGAIN when key records
 * are missing from dns (recorded as wanted), -ENOMEM. Safe to call
 * again. */
int arc_verify_run(struct arc_verify *, struct authres_dns *dns);
/* arc_verify_out - the result so far (final once run returned 0) */
const struct arc_out *arc_verify_out(const struct arc_verify *);
/* arc_result_str - "none", "pass", "fail", "temperror" */
const char *arc_result_str(enum arc_result);

/* Sealing (RFC 8617 5.1): what a forwarder or list adds when it sends on
 * a message it received and checked. */
struct evp_pkey_st;
struct arc_seal_req {
	const unsigned char *msg; /* as it will be sent (CRLF or LF) */
	size_t len;
	const char *srv_id; /* our authserv-id: its A-R fields become the
			     * AAR, their arc= result the cv= */
	const char *domain, *selector;
	struct evp_pkey_st *key;    /* RSA (rsa-sha256) */
	long long t;		    /* t= */
	const char *const *headers; /* AMS h= (NULL: the DKIM signer's
				     * list, the fields present) */
	size_t nheaders;
};
/* arc_seal - append the next ARC set to out as three header fields,
 * ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results (CRLF), in
 * the standardized form of the ValiMail signing suite: 1 when sealed; 0
 * with *why when there is nothing to seal (no A-R of ours, the newest
 * seal already says cv=fail, 50 sets, an arc= result that does not fit
 * the chain); -ENOMEM or -EIO (OpenSSL). */
int arc_seal(const struct arc_seal_req *, struct buf *out, const char **why);
/* The *why of arc_seal() for mail without an A-R of ours: the everyday
 * case of fresh local mail, not worth a log line. */
extern const char arc_seal_not_ours[];

/* arc_name_ok - v is usable as a d= or s= (and so as a sealer domain):
 * LDH/underscore labels of 1..63 octets, at most 253 in all */
bool arc_name_ok(struct bstr v);

#endif
