/*
 * dns_reply_test - plugins/dns.c reply parser on captured knotd replies
 * (tests/fuzz/dnsreply/: first byte = query type selector, then the
 * packet) and on every truncation of them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "plugins/dns.h"

static size_t
load(const char *name, unsigned char *buf, size_t sz)
{
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "tests/fuzz/dnsreply/%s", name);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, sz, f);
	fclose(f);
	assert_true(n > 13);
	return n - 1; /* drop the selector byte */
}

static const struct dns_result *
parse(const char *name, uint16_t type, struct dns_answer **ans)
{
	unsigned char buf[4096];
	size_t n = load(name, buf, sizeof(buf));

	assert_int_equal(dns_reply_parse(buf + 1, n, type, ans), 0);
	return dns_answer_result(*ans);
}

static void
test_fixtures(void **state)
{
	struct dns_answer *ans;
	const struct dns_result *r;
	char tmp[64];

	(void)state;
	r = parse("00-host-1", DNS_T_A, &ans);
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->ttl, 300);
	assert_string_equal(r->name, "host.example.test");
	dns_answer_free(ans);

	r = parse("02-multi-16", DNS_T_TXT, &ans);
	assert_int_equal(r->n, 2);
	for (size_t i = 0; i < r->n; i++)
		if (r->rr[i].nstrings == 2) {
			assert_string_equal(
			    (const char *)r->rr[i].txt.p, "first-second");
			assert_int_equal(r->rr[i].strings[1].len, 6);
		}
	dns_answer_free(ans);

	r = parse("03-host-15", DNS_T_MX, &ans);
	assert_int_equal(r->n, 2);
	assert_true(r->rr[0].pref == 10 || r->rr[0].pref == 20);
	dns_answer_free(ans);

	r = parse("05-alias-1", DNS_T_A, &ans);
	assert_int_equal(r->status, DNS_OK);
	assert_int_equal(r->n, 2); /* through the CNAME */
	netaddr_str(&r->rr[0].addr, tmp, sizeof(tmp));
	assert_non_null(strstr(tmp, "192.0.2."));
	dns_answer_free(ans);

	r = parse("06-3-1", DNS_T_A, &ans);
	assert_int_equal(r->status, DNS_NXDOMAIN);
	assert_int_equal(r->ttl, 30); /* SOA MINIMUM (RFC 2308 section 5) */
	dns_answer_free(ans);

	r = parse("07-short-28", DNS_T_AAAA, &ans);
	assert_int_equal(r->status, DNS_NODATA);
	assert_int_equal(r->ttl, 30);
	dns_answer_free(ans);

	r = parse("08-x-1", DNS_T_A, &ans);
	assert_int_equal(r->status, DNS_SERVFAIL);
	dns_answer_free(ans);

	/* answers of another type than asked are ignored */
	r = parse("00-host-1", DNS_T_TXT, &ans);
	assert_int_equal(r->status, DNS_NODATA);
	dns_answer_free(ans);
}

static void
test_malformed(void **state)
{
	static const char *const files[] = { "00-host-1", "02-multi-16",
		"03-host-15", "04-1-12", "05-alias-1", "06-3-1" };
	unsigned char buf[4096];
	struct dns_answer *ans;

	(void)state;
	size_t n = load("loop", buf, sizeof(buf));
	assert_int_equal(dns_reply_parse(buf + 1, n, DNS_T_A, &ans), -EBADMSG);
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		n = load(files[f], buf, sizeof(buf));
		/* every proper prefix that cuts a record is refused */
		for (size_t len = 0; len < n; len++) {
			int rc = dns_reply_parse(buf + 1, len, DNS_T_A, &ans);

			if (rc == 0)
				dns_answer_free(ans);
			else
				assert_int_equal(rc, -EBADMSG);
		}
	}
	assert_int_equal(dns_reply_parse(buf, 5, DNS_T_A, &ans), -EBADMSG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
