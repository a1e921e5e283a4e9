/* authres_test - the DNS answer set and the Authentication-Results
 * builder / forged-header predicate (plugins/authres.c) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "plugins/authres.h"
#include "util/arena.h"

static void
test_dns_store(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	struct authres_dns *d = authres_dns_new(a);
	struct authres_rr rr = { .txt = BSTR_LIT("v=spf1 -all") };
	const struct authres_answer *ans;
	const struct authres_query *w;
	size_t n;

	assert_null(authres_dns_get(d, "example.com", AUTHRES_TXT));
	assert_int_equal(authres_dns_want(d, "Example.COM.", AUTHRES_TXT), 0);
	assert_int_equal(authres_dns_want(d, "example.com", AUTHRES_TXT), 0);
	assert_int_equal(authres_dns_want(d, "example.com", AUTHRES_MX), 0);
	w = authres_dns_wanted(d, &n);
	assert_int_equal(n, 2);
	assert_string_equal(w[0].name, "example.com");
	assert_int_equal(authres_dns_put(d, "EXAMPLE.com.", AUTHRES_TXT,
			     AUTHRES_DNS_OK, &rr, 1),
	    0);
	ans = authres_dns_get(d, "example.com", AUTHRES_TXT);
	assert_non_null(ans);
	assert_int_equal(ans->n, 1);
	assert_memory_equal(ans->rr[0].txt.p, "v=spf1 -all", 11);
	/* OK without records is NODATA; a second put replaces. */
	assert_int_equal(authres_dns_put(d, "example.com", AUTHRES_TXT,
			     AUTHRES_DNS_OK, NULL, 0),
	    0);
	assert_int_equal(authres_dns_get(d, "example.com", AUTHRES_TXT)->status,
	    AUTHRES_DNS_NODATA);
	assert_int_equal(authres_dns_count(d), 1);
	authres_dns_clear_wanted(d);
	authres_dns_wanted(d, &n);
	assert_int_equal(n, 0);
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(authres_dns_want(d, longname, AUTHRES_A), -EINVAL);
	arena_free(a);
}

static void
test_header(void **state)
{
	(void)state;
	struct buf b;
	const char *spf[] = { "smtp.mailfrom", "joe@example.com" };
	const char *dk[] = { "header.d", "example.com", "header.s", "",
		"header.b", "a b\"c" };

	buf_init(&b, 4096);
	assert_int_equal(authres_start(&b, "mx.example.org"), 0);
	assert_int_equal(authres_finish(&b), 0);
	buf_cstr(&b);
	assert_string_equal((char *)b.p, "mx.example.org; none");
	buf_reset(&b);
	assert_int_equal(authres_start(&b, "mx.example.org"), 0);
	assert_int_equal(authres_add(&b, " ", "spf", "pass", NULL, spf, 1), 0);
	assert_int_equal(
	    authres_add(&b, "\r\n\t", "dkim", "fail", "body (hash)\n", dk, 3),
	    0);
	assert_int_equal(authres_finish(&b), 0);
	buf_cstr(&b);
	assert_string_equal((char *)b.p,
	    "mx.example.org; spf=pass "
	    "smtp.mailfrom=joe@example.com;\r\n\tdkim=fail (body \\(hash\\)?) "
	    "header.d=example.com header.b=\"a b\\\"c\"");
	buf_free(&b);
	buf_init(&b, 64);
	assert_int_equal(authres_start(&b, "bad id;"), -EINVAL);
	buf_free(&b);
}

static void
test_strip(void **state)
{
	(void)state;
	assert_true(authres_is_ours(
	    bstr_cstr(" MX.example.org; spf=pass"), "mx.example.org"));
	assert_true(authres_is_ours(bstr_cstr("(comment (nested)) "
					      "mx.example.org 1; none"),
	    "mx.example.org"));
	assert_false(authres_is_ours(
	    bstr_cstr("mx.example.org.evil; none"), "mx.example.org"));
	assert_false(authres_is_ours(
	    bstr_cstr("other.example; none"), "mx.example.org"));
	assert_false(authres_is_ours(bstr_cstr(""), "mx.example.org"));
	assert_true(authres_strip(bstr_cstr("authentication-results "),
	    bstr_cstr("mx.example.org; dkim=pass"), "mx.example.org"));
	assert_false(authres_strip(bstr_cstr("ARC-Authentication-Results"),
	    bstr_cstr("mx.example.org; dkim=pass"), "mx.example.org"));
	assert_true(authres_token_ok("mx.example.org"));
	assert_false(authres_token_ok("a b"));
	assert_false(authres_token_ok(""));
}

/* Our authserv-id: configured, else myhostname, else the host name. */
static void
test_servid(void **state)
{
	(void)state;
	char id[256];

	assert_int_equal(
	    authres_servid("mx.example.net", "h.example", id, sizeof(id)), 0);
	assert_string_equal(id, "mx.example.net");
	assert_int_equal(authres_servid("", "h.example", id, sizeof(id)), 0);
	assert_string_equal(id, "h.example");
	/* gethostname(): whatever this machine is called (usable or not) */
	int rc = authres_servid(NULL, "", id, sizeof(id));
	assert_true(rc == 0 || rc == -EINVAL);
	assert_true(id[0] != '\0');
	/* not a token: refused, and id says what it was */
	assert_int_equal(
	    authres_servid("mx example", NULL, id, sizeof(id)), -EINVAL);
	assert_string_equal(id, "mx example");
	assert_int_equal(authres_servid("a;b", NULL, id, sizeof(id)), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_store),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_strip),
		cmocka_unit_test(test_servid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
