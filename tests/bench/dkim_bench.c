/*
 * dkim_bench - CPU cost of DKIM verification per signature
 *
 *   dkim [-n N] [-s KB]   verify a KB-sized message (default 10) N times
 *                         (default 2000) per case and print microseconds
 *                         per signature, and how much of it is the
 *                         public-key operation alone
 *
 * The messages are signed here (RSA 2048 and ed25519 keys made at start)
 * over text that is already in canonical form, so simple and relaxed give
 * the same bytes and the signer stays a few lines. Key records come from a
 * pre-filled struct authres_dns: no DNS, only plugins/dkim.c is timed
 * (tag parsing, header selection, canonicalization, both hashes, key
 * decoding and the signature check).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "plugins/authres.h"
#include "plugins/dkim.h"
#include "util/arena.h"
#include "util/buf.h"

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID,
	    &ts); /* CPU, not wall: the box is shared */
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
b64(const unsigned char *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

struct signed_msg {
	struct buf msg;
	char keyrec[2048];
	EVP_PKEY *pk;
	unsigned char hh[32], sig[512];
	size_t siglen;
};

/* Sign headers+body (canonical already) with pk; alg is the a= value. */
static int
sign(struct signed_msg *m, EVP_PKEY *pk, const char *alg, size_t kb)
{
	static const char hdrs[] =
	    "from:Alice <alice@bench.example>\r\n"
	    "to:bob@bench.example\r\nsubject:benchmark message\r\n"
	    "date:Thu, 26 Nov 2026 10:00:00 +0000\r\n"
	    "message-id:<bench@bench.example>\r\n";
	struct buf body, hin;
	unsigned char bh[32], der[1024];
	char bh64[64], sig64[1024], der64[1500];
	int rc = -1;

	buf_init(&body, 64u << 20);
	while (body.len < kb * 1024)
		buf_printf(&body,
		    "line %zu of the benchmark body, plain ascii "
		    "text as mail has it\r\n",
		    body.len);
	EVP_Digest(body.p, body.len, bh, NULL, EVP_sha256(), NULL);
	b64(bh, 32, bh64);

	char sighdr[512];
	snprintf(sighdr, sizeof(sighdr),
	    "dkim-signature:v=1; a=%s; "
	    "c=relaxed/relaxed; d=bench.example; s=sel; t=1700000000; "
	    "h=from:to:subject:date:message-id; bh=%s; b=",
	    alg, bh64);
	buf_init(&hin, 1 << 20);
	buf_puts(&hin, hdrs);
	buf_puts(&hin, sighdr);
	EVP_Digest(hin.p, hin.len, m->hh, NULL, EVP_sha256(), NULL);

	m->siglen = sizeof(m->sig);
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519) {
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		size_t dl = 32;
		if (EVP_DigestSignInit(c, NULL, NULL, NULL, pk) != 1 ||
		    EVP_DigestSign(c, m->sig, &m->siglen, m->hh, 32) != 1)
			goto out;
		EVP_MD_CTX_free(c);
		EVP_PKEY_get_raw_public_key(pk, der, &dl);
		b64(der, dl, der64);
		snprintf(m->keyrec, sizeof(m->keyrec),
		    "v=DKIM1; k=ed25519; "
		    "p=%s",
		    der64);
	} else {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
		unsigned char *dp = der;
		if (EVP_PKEY_sign_init(c) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) != 1 ||
		    EVP_PKEY_sign(c, m->sig, &m->siglen, m->hh, 32) != 1)
			goto out;
		EVP_PKEY_CTX_free(c);
		int dl = i2d_PUBKEY(pk, &dp);
		b64(der, (size_t)dl, der64);
		snprintf(m->keyrec, sizeof(m->keyrec), "v=DKIM1; k=rsa; p=%s",
		    der64);
	}
	b64(m->sig, m->siglen, sig64);
	buf_init(&m->msg, 64u << 20);
	buf_printf(&m->msg, "%s%s\r\n%s\r\n", sighdr, sig64, hdrs);
	buf_append(&m->msg, body.p, body.len);
	m->pk = pk;
	rc = 0;
out:
	buf_free(&body);
	buf_free(&hin);
	return rc;
}

static int
run(const char *name, struct signed_msg *m, int n)
{
	struct arena *a;
	struct authres_dns *dns;
	struct authres_rr rr = { .txt = bstr_cstr(m->keyrec) };
	double t0, t1, tk;
	int pass = 0;

	t0 = now_us();
	for (int i = 0; i < n; i++) {
		struct dkim_verify *v;
		a = arena_new(0);
		dns = authres_dns_new(a);
		authres_dns_put(dns, "sel._domainkey.bench.example",
		    AUTHRES_TXT, AUTHRES_DNS_OK, &rr, 1);
		if (dkim_verify_new(a, m->msg.p, m->msg.len, 1700000100, &v) ==
			0 &&
		    dkim_verify_run(v, dns) == 0 &&
		    dkim_sig_at(v, 0)->result == DKIM_PASS)
			pass++;
		arena_free(a);
	}
	t1 = now_us();
	/* The public-key check alone, same key and signature. */
	for (int i = 0; i < n; i++) {
		if (EVP_PKEY_get_base_id(m->pk) == EVP_PKEY_ED25519) {
			EVP_MD_CTX *c = EVP_MD_CTX_new();
			EVP_DigestVerifyInit(c, NULL, NULL, NULL, m->pk);
			EVP_DigestVerify(c, m->sig, m->siglen, m->hh, 32);
			EVP_MD_CTX_free(c);
		} else {
			EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(m->pk, NULL);
			EVP_PKEY_verify_init(c);
			EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING);
			EVP_PKEY_CTX_set_signature_md(c, EVP_sha256());
			EVP_PKEY_verify(c, m->sig, m->siglen, m->hh, 32);
			EVP_PKEY_CTX_free(c);
		}
	}
	tk = now_us() - t1;
	/* Reference: one SHA-256 over the whole message, which any
	 * verifier pays once for the body. */
	double t2 = now_us();
	unsigned char h[32];
	for (int i = 0; i < n; i++)
		EVP_Digest(m->msg.p, m->msg.len, h, NULL, EVP_sha256(), NULL);
	double th = (now_us() - t2) / n;
	double per = (t1 - t0) / n, pk = tk / n;
	printf("dkim %-24s %6.1f us CPU/signature: public-key op %5.1f, "
	       "rest %5.1f (SHA-256 of the %zu-byte message alone %4.1f) "
	       "%d/%d pass\n",
	    name, per, pk, per - pk, m->msg.len, th, pass, n);
	return pass == n ? 0 : 1;
}

int
main(int argc, char **argv)
{
	int n = 2000, c, rc = 0;
	size_t kb = 10;
	EVP_PKEY *rsa = NULL, *ed = NULL;
	struct signed_msg m;

	while ((c = getopt(argc, argv, "n:s:")) != -1) {
		if (c == 'n')
			n = atoi(optarg);
		else if (c == 's')
			kb = (size_t)atoi(optarg);
		else {
			fprintf(stderr, "usage: dkim [-n N] [-s KB]\n");
			return 2;
		}
	}
	if (n < 1)
		n = 1;
	rsa = EVP_RSA_gen(2048);
	{
		EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
		EVP_PKEY_keygen_init(kc);
		EVP_PKEY_keygen(kc, &ed);
		EVP_PKEY_CTX_free(kc);
	}
	if (rsa == NULL || ed == NULL) {
		fprintf(stderr, "dkim: key generation failed\n");
		return 1;
	}
	char name[64];
	snprintf(name, sizeof(name), "rsa-sha256 2048 %zuKB", kb);
	if (sign(&m, rsa, "rsa-sha256", kb) == 0) {
		rc |= run(name, &m, n);
		buf_free(&m.msg);
	} else
		rc = 1;
	snprintf(name, sizeof(name), "ed25519-sha256 %zuKB", kb);
	if (sign(&m, ed, "ed25519-sha256", kb) == 0) {
		rc |= run(name, &m, n);
		buf_free(&m.msg);
	} else
		rc = 1;
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
	return rc;
}
