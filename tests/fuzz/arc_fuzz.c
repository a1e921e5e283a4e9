/* arc_fuzz - plugins/arc.c: the input is a whole message; its ARC header
 * fields are collected, parsed and, when the structure holds, validated
 * (every key lookup answers with one fixed RSA key, so the AMS body and
 * header hashes and the seal hash all run). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "plugins/arc.h"
#include "plugins/authres.h"
#include "util/arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char key[] =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNA"
    "DCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Q"
    "vx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5Qjv"
    "HO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

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

static int
resolve(void *arg, const struct authres_query *q, struct authres_dns *d)
{
	struct authres_rr rr = { .txt = BSTR_LIT(key) };

	(void)arg;
	return authres_dns_put(d, q->name, q->type, AUTHRES_DNS_OK, &rr, 1);
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
		(void)authres_dns_drive(c.dns, step, &c, resolve, NULL, 8);
		const struct arc_out *o = arc_verify_out(c.v);
		if (o->result > ARC_RES_TEMPERROR)
			__builtin_trap();
		if (o->reason)
			(void)strlen(o->reason);
	}
	arena_free(a);
	return 0;
}
