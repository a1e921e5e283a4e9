/* util_test - arena, buf, bstr, hits, netaddr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "util/arena.h"
#include "util/buf.h"
#include "util/hits.h"
#include "util/log.h"
#include "util/netaddr.h"

static void
test_arena(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	char *s = arena_strndup(a, "hello world", 5);
	assert_string_equal(s, "hello");
	/* A block larger than a chunk still works and stays aligned. */
	unsigned char *big = arena_alloc(a, 100000);
	assert_non_null(big);
	assert_int_equal((uintptr_t)big % 16, 0);
	memset(big, 1, 100000);
	assert_null(arena_calloc(a, SIZE_MAX / 2, 4));
	assert_null(arena_free(a));
}

static int deferred;
static void
bump(void *p)
{
	deferred += *(int *)p;
}

static void
test_arena_defer(void **state)
{
	(void)state;
	static int v = 3;
	struct arena *a = arena_new(0);
	assert_int_equal(arena_defer(a, bump, &v), 0);
	assert_int_equal(arena_defer(a, bump, &v), 0);
	arena_free(a);
	assert_int_equal(deferred, 6);
}

static void
test_buf_cap(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(buf_append(&b, "12345", 5), 0);
	assert_int_equal(buf_append(&b, "6789", 4), -ENOSPC);
	assert_int_equal(b.len, 5); /* unchanged on failure */
	assert_int_equal(buf_printf(&b, "%d", 123), 0);
	assert_memory_equal(b.p, "12345123", 8);
	assert_int_equal(buf_putc(&b, 'x'), -ENOSPC);
	buf_free(&b);
}

static void
test_bstr(void **state)
{
	(void)state;
	struct bstr s = bstr_trim(BSTR_LIT("  Hello\r\n"));
	assert_int_equal(s.len, 5);
	assert_true(bstr_caseeq_cstr(s, "hELLO"));
	assert_true(bstr_casestarts(s, "he"));
	assert_int_equal(bstr_find(BSTR_LIT("a\0bc"), BSTR_LIT("bc")), 2);
	assert_int_equal(bstr_casefind(BSTR_LIT("xxABc"), BSTR_LIT("abC")), 2);
	assert_int_equal(bstr_find(BSTR_LIT("ab"), BSTR_LIT("abc")), -1);
	struct bstr sub = bstr_sub(BSTR_LIT("abc"), 2, 99);
	assert_int_equal(sub.len, 1);
	/* an anchor byte without case ('@', '.'): found by memchr */
	assert_int_equal(bstr_casefind(BSTR_LIT("mailto:Jo@X.org"),
			     BSTR_LIT("jo@x.ORG")),
	    7);
	assert_int_equal(
	    bstr_casefind(BSTR_LIT("a@b a@c A@C"), BSTR_LIT("a@c")), 4);
	assert_int_equal(bstr_casefind(BSTR_LIT("@x"), BSTR_LIT("@X")), 0);
	assert_int_equal(bstr_casefind(BSTR_LIT("xx@"), BSTR_LIT("X@")), 1);
	assert_int_equal(bstr_casefind(BSTR_LIT("x@ y@"), BSTR_LIT("y@z")), -1);
	assert_int_equal(bstr_casefind(BSTR_LIT("@@@"), BSTR_LIT("@@@@")), -1);
	/* against the plain definition on every needle of a small
	 * alphabet (cased letters and caseless bytes) */
	{
		static const char al[] = "aB@.";
		char h[9], n[4];
		unsigned seed = 1;

		for (int t = 0; t < 4000; t++) {
			size_t hl = (size_t)(t % 9), nl = 1 + (size_t)(t % 3);
			long want = -1;

			for (size_t i = 0; i < hl; i++)
				h[i] = al[(seed = seed * 1103515245u + 12345u) >>
				    16 & 3];
			for (size_t i = 0; i < nl; i++)
				n[i] = al[(seed = seed * 1103515245u + 12345u) >>
				    16 & 3];
			for (size_t i = 0; want < 0 && i + nl <= hl; i++)
				if (strncasecmp(h + i, n, nl) == 0)
					want = (long)i;
			assert_int_equal(
			    bstr_casefind(bstr_make((unsigned char *)h, hl),
				bstr_make((unsigned char *)n, nl)),
			    want);
		}
	}
}

static void
test_hits(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	struct hits *h = hits_new(a);
	assert_int_equal(hits_add(h, "B_RULE", NULL), 0);
	assert_int_equal(hits_add_score(h, "A_RULE", 2.5, "x"), 0);
	assert_int_equal(hits_add(h, "B_RULE", "ignored"), 0);
	assert_int_equal(hits_count(h), 2);
	assert_int_equal(hits_get(h, "B_RULE")->count, 2);
	assert_true(hits_has(h, "A_RULE"));
	assert_false(hits_has(h, "C_RULE"));
	hits_get(h, "B_RULE")->score = -1;
	hits_get(h, "B_RULE")->has_score = true;
	assert_float_equal(hits_total(h), 1.5, 1e-9);
	hits_sort(h);
	assert_string_equal(hits_at(h, 0)->name, "A_RULE");
	arena_free(a);
}

static void
test_netaddr(void **state)
{
	(void)state;
	struct netaddr na;
	char out[64];
	assert_int_equal(netaddr_parse("[192.0.2.1]", 11, &na), 0);
	assert_string_equal(netaddr_str(&na, out, sizeof(out)), "192.0.2.1");
	assert_false(netaddr_private(&na));
	assert_int_equal(netaddr_parse("::ffff:10.1.2.3", 15, &na), 0);
	assert_true(netaddr_private(&na)); /* mapped folded to IPv4 */
	assert_int_equal(netaddr_parse("IPv6:2001:db8::1", 16, &na), 0);
	assert_int_equal(netaddr_parse("300.1.1.1", 9, &na), -EINVAL);

	size_t bad = 0;
	struct netlist *l = netlist_parse("!10.1.0.0/16, 10.0.0.0/8 2001:db8::/32", &bad);
	assert_non_null(l);
	assert_int_equal(netlist_len(l), 3);
	netaddr_parse("10.2.0.1", 8, &na);
	assert_true(netlist_match(l, &na));
	netaddr_parse("10.1.0.1", 8, &na);
	assert_false(netlist_match(l, &na));
	netaddr_parse("2001:db8:1::5", 13, &na);
	assert_true(netlist_match(l, &na));
	netlist_free(l);
	assert_null(netlist_parse("10.0.0.0/8 10.0.0.0/33", &bad));
	assert_int_equal(bad, 11);
}

static void
test_log_escape(void **state)
{
	(void)state;
	char out[16];
	log_escape(out, sizeof(out), "a\r\nb", 4);
	assert_string_equal(out, "a\\x0d\\x0ab");
	log_escape(out, sizeof(out), "0123456789abcdefghij", 20);
	assert_string_equal(out, "0123456789ab...");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_arena_defer),
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_bstr),
		cmocka_unit_test(test_hits),
		cmocka_unit_test(test_netaddr),
		cmocka_unit_test(test_log_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
