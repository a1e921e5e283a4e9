/*
 * tests/fuzz/fuzz_rsakey.h - one fixed RSA key record (RFC 8463 A.2's
 * test key) and a resolver that answers every lookup with it, for the
 * targets that verify signatures on fuzzed messages (dkimsig, arc): a
 * key is always there, so canonicalization and hashing run.
 */
#ifndef FUZZ_RSAKEY_H
#define FUZZ_RSAKEY_H

#include "plugins/authres.h"

static const char fuzz_rsakey[] =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNA"
    "DCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Q"
    "vx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5Qjv"
    "HO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

/* fuzz_rsakey_resolve - an authres_resolve_fn: fuzz_rsakey for any name */
static inline int
fuzz_rsakey_resolve(
    void *arg, const struct authres_query *q, struct authres_dns *d)
{
	struct authres_rr rr = { .txt = BSTR_LIT(fuzz_rsakey) };

	(void)arg;
	return authres_dns_put(d, q->name, q->type, AUTHRES_DNS_OK, &rr, 1);
}

#endif
