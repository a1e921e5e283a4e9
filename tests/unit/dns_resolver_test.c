/*
 * dns_resolver_test - plugins/dns.c against a real authoritative server
 * (knotd on 127.0.0.1, tests/e2e/zones/dnsbl.zone) and a silent UDP socket:
 * record types, CNAME, TXT joining, TTLs, negative caching, SERVFAIL,
 * query timeout, per-message deadline, cancellation on arena free,
 * callbacks never synchronous, identical queries sent once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <string.h>
#include <time.h>

#include "plugins/dns.h"
#include "util/arena.h"
#include "dns_testlib.h"

static int srv_pid, srv_port;
static char srv_addr[64];

struct got {
	int calls;
	enum dns_status status;
	uint32_t ttl;
	bool cached, deadline;
	size_t n;
	char first[512];
	char all[1024];
	size_t nstrings;
};

static void
got_cb(const struct dns_result *r, void *arg)
{
	struct got *g = arg;
	char tmp[128];

	g->calls++;
	g->status = r->status;
	g->ttl = r->ttl;
	g->cached = r->cached;
	g->deadline = r->deadline;
	g->n = r->n;
	g->all[0] = g->first[0] = '\0';
	for (size_t i = 0; i < r->n; i++) {
		const struct dns_rr *rr = &r->rr[i];

		switch (rr->type) {
		case DNS_T_A:
		case DNS_T_AAAA:
			netaddr_str(&rr->addr, tmp, sizeof(tmp));
			break;
		case DNS_T_MX:
			snprintf(tmp, sizeof(tmp), "%u %s", rr->pref, rr->name);
			break;
		case DNS_T_PTR:
			snprintf(tmp, sizeof(tmp), "%s", rr->name);
			break;
		case DNS_T_TXT:
			snprintf(
			    tmp, sizeof(tmp), "%s", (const char *)rr->txt.p);
			if (rr->nstrings > g->nstrings)
				g->nstrings = rr->nstrings;
			break;
		}
		if (i == 0)
			snprintf(g->first, sizeof(g->first), "%s", tmp);
		if (i)
			strncat(
			    g->all, " ", sizeof(g->all) - strlen(g->all) - 1);
		strncat(g->all, tmp, sizeof(g->all) - strlen(g->all) - 1);
	}
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* run the loop until *calls reaches want or ms pass */
static void
run_until(struct event_base *b, int *calls, int want, int ms)
{
	double end = now_ms() + ms;

	while ((calls == NULL || *calls < want) && now_ms() < end) {
		struct timeval tv = { 0, 20000 };

		event_base_loopexit(b, &tv);
		event_base_loop(b, EVLOOP_ONCE);
	}
}

struct fx {
	struct event_base *base;
	struct dns_resolver *r;
	struct arena *a;
	struct dns_ctx *c;
};

static void
fx_open(struct fx *f, const char *servers, unsigned timeout_ms, unsigned tries,
    unsigned deadline)
{
	struct dns_opts o = {
		.servers = servers, .timeout_ms = timeout_ms, .tries = tries
	};

	f->base = event_base_new();
	assert_non_null(f->base);
	assert_int_equal(dns_resolver_new(f->base, &o, &f->r), 0);
	f->a = arena_new(0);
	f->c = dns_ctx_new(f->r, f->a, deadline);
	assert_non_null(f->c);
}

static void
fx_close(struct fx *f)
{
	arena_free(f->a);
	dns_resolver_free(f->r);
	event_base_free(f->base);
}

static void
ask(struct fx *f, const char *name, uint16_t type, struct got *g)
{
	memset(g, 0, sizeof(*g));
	assert_int_equal(dns_query(f->c, name, type, got_cb, g), 0);
	assert_int_equal(g->calls, 0); /* never synchronous */
	run_until(f->base, &g->calls, 1, 5000);
	assert_int_equal(g->calls, 1);
}

static void
test_types(void **state)
{
	struct fx f;
	struct got g;

	(void)state;
	fx_open(&f, srv_addr, 1000, 2, 0);
	ask(&f, "host.example.test", DNS_T_A, &g);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.ttl, 300);
	assert_false(g.cached);
	assert_non_null(strstr(g.all, "192.0.2.1"));
	assert_non_null(strstr(g.all, "192.0.2.2"));

	ask(&f, "HOST.example.test.", DNS_T_A, &g); /* same key */
	assert_int_equal(g.status, DNS_OK);
	assert_true(g.cached);
	assert_int_equal(g.n, 2);

	ask(&f, "host.example.test", DNS_T_AAAA, &g);
	assert_string_equal(g.all, "2001:db8::1");
	ask(&f, "host.example.test", DNS_T_MX, &g);
	assert_int_equal(g.n, 2);
	assert_non_null(strstr(g.all, "10 mx1.example.test"));
	assert_non_null(strstr(g.all, "20 mx2.example.test"));
	ask(&f, "host.example.test", DNS_T_TXT, &g);
	assert_string_equal(g.all, "v=spf1 -all");
	ask(&f, "multi.example.test", DNS_T_TXT, &g);
	assert_int_equal(g.n, 2);
	assert_int_equal(g.nstrings, 2);
	assert_non_null(strstr(g.all, "first-second"));
	assert_non_null(strstr(g.all, "another record"));
	ask(&f, "alias.example.test", DNS_T_A, &g);
	assert_int_equal(g.status, DNS_OK);
	assert_int_equal(g.n, 2);

	struct netaddr na;
	struct got g2 = { 0 };
	assert_int_equal(netaddr_parse("192.0.2.1", 9, &na), 0);
	assert_int_equal(dns_query_ptr(f.c, &na, got_cb, &g2), 0);
	run_until(f.base, &g2.calls, 1, 5000);
	assert_string_equal(g2.all, "host.example.test");
	memset(&g2, 0, sizeof(g2));
	assert_int_equal(netaddr_parse("2001:db8::1", 11, &na), 0);
	assert_int_equal(dns_query_ptr(f.c, &na, got_cb, &g2), 0);
	run_until(f.base, &g2.calls, 1, 5000);
	assert_string_equal(g2.all, "host.example.test");
	fx_close(&f);
}

static void
test_negative(void **state)
{
	struct fx f;
	struct got g;
	struct dns_stats st;

	(void)state;
	fx_open(&f, srv_addr, 1000, 2, 0);
	ask(&f, "3.0.0.127.zen.dnsbl.test", DNS_T_A, &g);
	assert_int_equal(g.status, DNS_NXDOMAIN);
	assert_int_equal(g.ttl, 30); /* min(SOA TTL 300, MINIMUM 30) */
	ask(&f, "3.0.0.127.zen.dnsbl.test", DNS_T_A, &g);
	assert_int_equal(g.status, DNS_NXDOMAIN);
	assert_true(g.cached);
	ask(&f, "short.example.test", DNS_T_AAAA, &g);
	assert_int_equal(g.status, DNS_NODATA);
	assert_int_equal(g.ttl, 30);
	ask(&f, "short.example.test", DNS_T_A, &g);
	assert_int_equal(g.ttl, 5);
	ask(&f, "x.servfail.test", DNS_T_A, &g);
	assert_int_equal(g.status, DNS_SERVFAIL);
	ask(&f, "x.servfail.test", DNS_T_A, &g);
	assert_int_equal(g.status, DNS_SERVFAIL);
	assert_false(g.cached); /* failures are not cached */
	dns_resolver_stats(f.r, &st);
	assert_int_equal(st.sent, 5); /* servfail asked twice */
	assert_int_equal(st.cache_hits, 1);
	fx_close(&f);
}

static void
test_timeout(void **state)
{
	char addr[64];
	int port = 0, fd = dnstest_silent(&port);
	struct fx f;
	struct got g;
	double t0;

	(void)state;
	assert_true(fd >= 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	/* query timeout: 150 ms x 1 try */
	fx_open(&f, addr, 150, 1, 0);
	t0 = now_ms();
	ask(&f, "host.example.test", DNS_T_A, &g);
	assert_int_equal(g.status, DNS_TIMEOUT);
	assert_false(g.deadline);
	assert_true(now_ms() - t0 < 3000);
	fx_close(&f);

	/* message deadline (200 ms) well before the query timeout (5 s) */
	fx_open(&f, addr, 5000, 1, 200);
	t0 = now_ms();
	ask(&f, "host.example.test", DNS_T_A, &g);
	assert_int_equal(g.status, DNS_TIMEOUT);
	assert_true(g.deadline);
	assert_true(now_ms() - t0 >= 150 && now_ms() - t0 < 2500);
	assert_true(dns_ctx_deadline_passed(f.c));
	/* after the deadline, uncached names time out at once */
	ask(&f, "other.example.test", DNS_T_A, &g);
	assert_int_equal(g.status, DNS_TIMEOUT);
	fx_close(&f);
	close(fd);
}

static void
test_cancel(void **state)
{
	char addr[64];
	int port = 0, fd = dnstest_silent(&port);
	struct fx f;
	struct got g = { 0 }, g2 = { 0 };

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	fx_open(&f, addr, 100, 1, 0);
	assert_int_equal(dns_query_a(f.c, "a.example.test", got_cb, &g), 0);
	assert_int_equal(dns_query_txt(f.c, "a.example.test", got_cb, &g), 0);
	assert_int_equal(dns_ctx_pending(f.c), 2);
	/* the message goes away: its queries must never call back */
	f.a = arena_free(f.a);
	run_until(f.base, NULL, 0, 400);
	assert_int_equal(g.calls, 0);

	/* bad input: error, no callback */
	f.a = arena_new(0);
	f.c = dns_ctx_new(f.r, f.a, 0);
	assert_int_equal(dns_query_a(f.c, "a..b", got_cb, &g2), -EINVAL);
	assert_int_equal(dns_query_a(f.c, "", got_cb, &g2), -EINVAL);
	assert_int_equal(dns_query_a(f.c, "a b", got_cb, &g2), -EINVAL);
	assert_int_equal(dns_query(f.c, "a.test", 99, got_cb, &g2), -EINVAL);
	run_until(f.base, NULL, 0, 50);
	assert_int_equal(g2.calls, 0);
	fx_close(&f);
	close(fd);
}

static void
test_joined(void **state)
{
	struct fx f;
	struct got g1 = { 0 }, g2 = { 0 };
	struct arena *a2 = arena_new(0);
	struct dns_ctx *c2;
	struct dns_stats st;

	(void)state;
	fx_open(&f, srv_addr, 1000, 2, 0);
	c2 = dns_ctx_new(f.r, a2, 0);
	assert_int_equal(
	    dns_query_a(f.c, "2.0.0.127.zen.dnsbl.test", got_cb, &g1), 0);
	assert_int_equal(
	    dns_query_a(c2, "2.0.0.127.zen.dnsbl.test", got_cb, &g2), 0);
	run_until(f.base, &g2.calls, 1, 5000);
	run_until(f.base, &g1.calls, 1, 5000);
	assert_int_equal(g1.calls, 1);
	assert_int_equal(g2.calls, 1);
	assert_int_equal(g1.n, 2);
	assert_int_equal(g2.n, 2);
	dns_resolver_stats(f.r, &st);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.joined, 1);
	arena_free(a2);
	fx_close(&f);
}

static void
test_reverse(void **state)
{
	struct netaddr na;
	char out[128];

	(void)state;
	netaddr_parse("192.0.2.10", 10, &na);
	assert_int_equal(
	    dns_reverse_name(&na, "zen.example.", out, sizeof(out)), 0);
	assert_string_equal(out, "10.2.0.192.zen.example");
	netaddr_parse("2001:db8::1", 11, &na);
	assert_int_equal(dns_reverse_name(&na, NULL, out, sizeof(out)), 0);
	assert_string_equal(out,
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.8.b.d.0.1.0.0.2");
	assert_int_equal(dns_reverse_name(&na, "x", out, 20), -ENOSPC);
}

static int
setup(void **state)
{
	(void)state;
	if (dnstest_start(&srv_pid, &srv_port) < 0) {
		fprintf(stderr, "cannot start knotd via %s\n", DNS_TEST_SERVE);
		return -1;
	}
	snprintf(srv_addr, sizeof(srv_addr), "127.0.0.1:%d", srv_port);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	dnstest_stop(srv_pid);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reverse),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_negative),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_joined),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
