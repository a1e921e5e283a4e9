/* spfrec_fuzz - plugins/spf.c record parser and check_host() on one
 * record: the input is served as the TXT record of the checked domain and
 * every other lookup answers NXDOMAIN, so macros, limits and the parser
 * all run on hostile bytes. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "plugins/authres.h"
#include "plugins/spf.h"
#include "util/arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct arena *a;
	struct authres_dns *dns;
	struct spf_req req;
	struct spf_out out;
	struct bstr rec;
};

static int
step(void *arg)
{
	struct ctx *c = arg;

	return spf_check(c->a, &c->req, c->dns, &c->out);
}

static int
resolve(void *arg, const struct authres_query *q, struct authres_dns *d)
{
	struct ctx *c = arg;
	struct authres_rr rr = { .txt = c->rec };

	if (q->type == AUTHRES_TXT && strcmp(q->name, "fuzz.example") == 0)
		return authres_dns_put(
		    d, q->name, q->type, AUTHRES_DNS_OK, &rr, 1);
	if (q->type == AUTHRES_A) {
		rr.txt = BSTR_NULL;
		netaddr_parse("192.0.2.1", 9, &rr.addr);
		return authres_dns_put(
		    d, q->name, q->type, AUTHRES_DNS_OK, &rr, 1);
	}
	return authres_dns_put(
	    d, q->name, q->type, AUTHRES_DNS_NXDOMAIN, NULL, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctx c = { 0 };
	struct spf_record *r;
	const char *why;

	if (size > 4096)
		return 0;
	c.a = arena_new(0);
	c.rec = bstr_make(data, size);
	(void)spf_record_parse(c.a, c.rec, &r, &why);
	c.dns = authres_dns_new(c.a);
	netaddr_parse("192.0.2.1", 9, &c.req.ip);
	c.req.sender = "user@fuzz.example";
	c.req.helo = "helo.fuzz.example";
	(void)authres_dns_drive(c.dns, step, &c, resolve, &c, 64);
	arena_free(c.a);
	return 0;
}
