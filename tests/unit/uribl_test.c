/*
 * uribl_test - URI hosts to lookup names: Public Suffix List reduction
 * (system list via libpsl), IP literals reversed, skip list, per-message
 * cap, duplicates
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "plugins/uribl.h"
#include "util/arena.h"

static struct uribl_psl *psl;

static void
test_reg_domain(void **state)
{
	static const struct {
		const char *host, *want; /* NULL: -EINVAL */
	} cases[] = {
		{ "www.example.com", "example.com" },
		{ "a.b.c.example.co.uk", "example.co.uk" },
		{ "example.co.uk", "example.co.uk" },
		{ "co.uk", NULL }, /* a public suffix itself */
		{ "com", NULL },
		{ "foo.blogspot.com",
		    "foo.blogspot.com" }, /* private PSL part */
		{ "x.y.evil-site.test",
		    "evil-site.test" }, /* unknown TLD: * rule */
		{ "bad host.com", NULL },
		{ "", NULL },
	};
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = uribl_reg_domain(psl, cases[i].host, out, sizeof(out));

		if (cases[i].want == NULL) {
			assert_int_equal(rc, -EINVAL);
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(out, cases[i].want);
		}
	}
	assert_int_equal(
	    uribl_reg_domain(psl, "www.example.com", out, 5), -ENOSPC);
}

static void
test_skip(void **state)
{
	struct uribl_skip *s = uribl_skip_new("Corp.Example, other.test", true);

	(void)state;
	assert_true(uribl_skip_has(s, "google.com"));
	assert_true(uribl_skip_has(s, "corp.example"));
	assert_true(uribl_skip_has(s, "other.test"));
	assert_false(uribl_skip_has(s, "evil-site.test"));
	uribl_skip_free(s);
	s = uribl_skip_new(NULL, false);
	assert_false(uribl_skip_has(s, "google.com"));
	uribl_skip_free(s);
}

static void
test_items(void **state)
{
	static const char *hosts[] = {
		"www.evil-site.test",
		"EVIL-SITE.test",
		"mail.google.com",
		"203.0.113.7",
		"10.1.2.3",
		"2001:db8::1",
		"a.grey-site.test",
		"b.example.co.uk",
		"c.example.co.uk",
		"com",
	};
	struct bstr hv[10];
	struct uribl_skip *skip = uribl_skip_new(NULL, true);
	struct arena *a = arena_new(0);
	struct uribl_item *it;
	bool capped;
	int n;

	(void)state;
	for (int i = 0; i < 10; i++)
		hv[i] = bstr_cstr(hosts[i]);
	n = uribl_items(psl, skip, hv, 10, 0, a, &it, &capped);
	assert_int_equal(n, 5);
	assert_false(capped);
	assert_string_equal(it[0].name, "evil-site.test");
	assert_string_equal(it[1].name, "7.113.0.203");
	assert_true(it[1].is_ip);
	assert_string_equal(it[1].host, "203.0.113.7");
	assert_string_equal(it[2].name,
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.0.8.b.d.0.1.0.0.2");
	assert_string_equal(it[3].name, "grey-site.test");
	assert_string_equal(it[4].name, "example.co.uk");

	/* the cap */
	n = uribl_items(psl, skip, hv, 10, 2, a, &it, &capped);
	assert_int_equal(n, 2);
	assert_true(capped);
	uribl_skip_free(skip);
	arena_free(a);
}

static int
setup(void **state)
{
	(void)state;
	return uribl_psl_load(NULL, &psl);
}

static int
teardown(void **state)
{
	(void)state;
	uribl_psl_free(psl);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reg_domain),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_items),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
