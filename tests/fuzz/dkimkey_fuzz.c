/* dkimkey_fuzz - plugins/dkim.c key record parser, and key loading: the
 * input is served as the key record for a fixed, validly signed message
 * (RFC 8463 A.3, ed25519 and rsa), so p= decoding and OpenSSL's key
 * parsing see hostile bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "plugins/authres.h"
#include "plugins/dkim.h"
#include "util/arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char msg[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=simple/simple;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=brisbane; t=1518460054; h=from : to :\r\n"
    " subject : date : message-id : from : subject : date;\r\n"
    " bh=4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=;\r\n"
    " b=9/dsDChY0YMTtD5Eyw3wx7x22BlSJP7M5ECbJ7GWrR45nXlTCGb8l0YB\r\n"
    " o0wBLR++X5LqmsxXaOYLLJe46l10AQ==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple;\r\n"
    " d=football.example.com; i=@football.example.com;\r\n"
    " q=dns/txt; s=test; t=1527915362; h=from : to : subject :\r\n"
    " date : message-id : from : subject : date;\r\n"
    " bh=4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=;\r\n"
    " b=icKcLSEZYXJ95flvWE8FT6hl5iqd8MC/LEKYH0QjsqYy6MO/4pgVNCZH\r\n"
    " l/RAXAuADxE/40Fg7uTlxwwD1hjN2Ple6J//cJfslBdDOq6zTVbne1dqtl\r\n"
    " NOat7iamJ1AfRqyG+ja7a2AZsrpUuJ7VA6O+0zRYPqpwMEkEFIzI9i/Xk=\r\n"
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\nHi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n";

struct ctx {
	struct dkim_verify *v;
	struct authres_dns *dns;
	struct bstr rec;
};

static int
step(void *arg)
{
	struct ctx *c = arg;

	return dkim_verify_run(c->v, c->dns);
}

static int
resolve(void *arg, const struct authres_query *q, struct authres_dns *d)
{
	struct ctx *c = arg;
	struct authres_rr rr = { .txt = c->rec };

	return authres_dns_put(d, q->name, q->type, AUTHRES_DNS_OK, &rr, 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	struct dkim_keytags k;
	const char *why;
	struct ctx c;

	if (size > 4096)
		return 0;
	(void)dkim_keytags_parse(bstr_make(data, size), &k, &why);
	a = arena_new(0);
	c.rec = bstr_make(data, size);
	if (dkim_verify_new(a, (const unsigned char *)msg, sizeof(msg) - 1,
		(time_t)1700000000, &c.v) == 0 &&
	    (c.dns = authres_dns_new(a)) != NULL)
		(void)authres_dns_drive(c.dns, step, &c, resolve, &c, 4);
	arena_free(a);
	return 0;
}
