/* dkimsig_fuzz - plugins/dkim.c DKIM-Signature tag parser, and the whole
 * verifier on a message whose signature header is the input (the key
 * lookup answers with a fixed RSA key, so canonicalization runs too). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "plugins/authres.h"
#include "plugins/dkim.h"
#include "util/arena.h"
#include "tests/fuzz/fuzz_rsakey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct dkim_verify *v;
	struct authres_dns *dns;
};

static int
step(void *arg)
{
	struct ctx *c = arg;

	return dkim_verify_run(c->v, c->dns);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	struct dkim_sigtags t;
	const char *why;
	static const char rest[] = "\r\nFrom: a@example.com\r\nTo: b@example."
				   "net\r\nSubject: x\r\n\r\nbody  \r\n\r\n";
	unsigned char msg[8192];
	struct ctx c;

	if (size > 4096)
		return 0;
	(void)dkim_sigtags_parse(bstr_make(data, size), &t, &why);
	a = arena_new(0);
	memcpy(msg, "DKIM-Signature: ", 16);
	memcpy(msg + 16, data, size);
	memcpy(msg + 16 + size, rest, sizeof(rest) - 1);
	if (dkim_verify_new(a, msg, 16 + size + sizeof(rest) - 1,
		(time_t)1700000000, &c.v) == 0 &&
	    (c.dns = authres_dns_new(a)) != NULL)
		(void)authres_dns_drive(
		    c.dns, step, &c, fuzz_rsakey_resolve, NULL, 4);
	arena_free(a);
	return 0;
}
