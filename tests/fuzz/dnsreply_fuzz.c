/*
 * dnsreply_fuzz - plugins/dns.c reply parser (RFC 1035 section 4.1 wire
 * format: compression pointers, CNAME chains, TXT strings, SOA minimum)
 *
 * The first input byte picks the query type, the rest is the packet.
 * Every parsed answer is walked so that a bad pointer in it shows up.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "plugins/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_TXT,
		DNS_T_MX, DNS_T_PTR, DNS_T_NS };
	struct dns_answer *ans;
	const struct dns_result *r;
	volatile size_t sink = 0;

	if (size < 1)
		return 0;
	if (dns_reply_parse(data + 1, size - 1, types[data[0] % 6], &ans) < 0)
		return 0;
	r = dns_answer_result(ans);
	sink += strlen(r->name);
	for (size_t i = 0; i < r->n; i++) {
		const struct dns_rr *rr = &r->rr[i];

		if (rr->name)
			sink += strlen(rr->name);
		for (size_t j = 0; j < rr->nstrings; j++)
			sink += rr->strings[j].len;
		if (rr->txt.p)
			sink += strlen((const char *)rr->txt.p) + rr->txt.len;
	}
	(void)sink;
	dns_answer_free(ans);
	return 0;
}
