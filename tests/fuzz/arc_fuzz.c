/* arc_fuzz - plugins/arc.c: the input is a whole message; its ARC header
 * fields are collected, parsed and, when the structure holds, validated
 * (every key lookup answers with one fixed RSA key, so the AMS body and
 * header hashes and the seal hash all run); then it is sealed as
 * "fuzz.example", whose Authentication-Results become the AAR. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "plugins/arc.h"
#include "plugins/authres.h"
#include "util/arena.h"
#include "util/buf.h"
#include "tests/fuzz/fuzz_rsakey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct arc_verify *v;
	struct authres_dns *dns;
};

static int
step(void *arg)
{
	struct ctx *c = arg;

	return arc_verify_run(c->v, c->dns);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	struct ctx c;

	if (size > 65536)
		return 0;
	a = arena_new(0);
	if (arc_verify_new(a, data, size, &c.v) == 0 &&
	    (c.dns = authres_dns_new(a)) != NULL) {
		(void)authres_dns_drive(
		    c.dns, step, &c, fuzz_rsakey_resolve, NULL, 8);
		const struct arc_out *o = arc_verify_out(c.v);
		if (o->result > ARC_RES_TEMPERROR)
			__builtin_trap();
		if (o->reason)
			(void)strlen(o->reason);
	}
	arena_free(a);
	{
		static EVP_PKEY *key;
		struct buf out;
		const char *why;

		if (key == NULL)
			key = EVP_RSA_gen(1024);
		struct arc_seal_req rq = { .msg = data,
			.len = size,
			.srv_id = "fuzz.example",
			.domain = "sealer.example",
			.selector = "s",
			.key = key,
			.t = 1 };
		buf_init(&out, 1 << 20);
		int rc = arc_seal(&rq, &out, &why);
		if (rc == 0 && why == NULL)
			__builtin_trap();
		buf_free(&out);
	}
	return 0;
}
