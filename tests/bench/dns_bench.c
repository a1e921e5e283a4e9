/*
 * dns_bench - CPU cost of DNS list lookups per message, and throughput of
 * cached messages while many messages wait on a slow server
 *
 *   build/bench/dns SERVER [N]     (tests/bench/dns.sh sets it all up)
 *
 * SERVER (host:port) serves tests/e2e/zones/dnsbl.zone (knotd); the slow
 * server is a UDP socket of this process that is never read. Ten relay
 * lists are configured (9 distinct zones: two rules share zen).
 *
 * 1. uncached: N messages, each from a distinct relay IP, 50 at a time:
 *    10 real queries per message; process CPU time per message.
 * 2. cached: the same N messages again (answers from the cache).
 * 3. the resolver is pointed at the silent server, 200 messages with new
 *    relay IPs start and stay pending (1800 queries in flight, deadline
 *    60 s), and the cached messages of 2 run again: throughput relative
 *    to 2.
 * Prints "key=value" lines and exits 1 if the CPU cost per message of 1 is
 * above 0.2 ms or the throughput of 3 is below 90% of 2.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugins/dns.h"
#include "plugins/dnsbl.h"
#include "util/arena.h"

struct bmsg {
	struct arena *a;
	int pending;
	bool slow;
};

static struct event_base *base;
static struct dns_resolver *res;
static struct dnsbl_set *set;
static int inflight, done_msgs, hits;

static double
now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
h_hit(void *arg, const char *rule, const char *detail, double score, bool has)
{
	(void)arg, (void)rule, (void)detail, (void)score, (void)has;
	hits++;
}

static void
h_add(void *arg, const char *zone)
{
	(void)zone;
	((struct bmsg *)arg)->pending++;
}

static void
h_done(void *arg, const char *zone)
{
	struct bmsg *m = arg;

	(void)zone;
	if (--m->pending == 0 && !m->slow) {
		/* a message done: free it (from its own callback: the dns
		 * layer must cope) */
		arena_free(m->a);
		inflight--;
		done_msgs++;
	}
}

static struct bmsg *
start_msg(unsigned ipn, bool slow, unsigned deadline_ms)
{
	struct arena *a = arena_new(0);
	struct bmsg *m = arena_calloc(a, 1, sizeof(*m));
	struct dns_ctx *c = dns_ctx_new(res, a, deadline_ms);
	struct dnsbl_hooks h = { h_hit, h_add, h_done, NULL, NULL, m };
	struct netaddr ip = { .family = AF_INET };
	struct dnsbl_input in = { .last_external = &ip };

	m->a = a;
	m->slow = slow;
	ip.a[0] = slow ? 198 : (uint8_t)(11 + ipn / 65536 % 200);
	ip.a[1] = (uint8_t)(ipn / 256);
	ip.a[2] = (uint8_t)ipn;
	ip.a[3] = slow ? 66 : 1;
	inflight++;
	if (dnsbl_start(set, c, a, &in, &h) <= 0) {
		arena_free(a);
		inflight--;
		return NULL;
	}
	return m;
}

/* run n messages, conc at a time; returns wall seconds */
static double
run(unsigned n, unsigned conc, unsigned base_ip)
{
	unsigned started = 0;
	double t0 = now(CLOCK_MONOTONIC);

	done_msgs = 0;
	while ((unsigned)done_msgs < n) {
		while (started < n && (unsigned)inflight < conc + 200 &&
		    (unsigned)(started - (unsigned)done_msgs) < conc) {
			start_msg(base_ip + started, false, 10000);
			started++;
		}
		event_base_loop(base, EVLOOP_ONCE);
	}
	return now(CLOCK_MONOTONIC) - t0;
}

int
main(int argc, char **argv)
{
	static const char *const lists[] = {
		"dnsbl B1 zen.dnsbl.test 127.0.0.2 1",
		"dnsbl B2 zen.dnsbl.test 127.0.0.4 1",
		"dnsbl B3 bl.spamcop.test 1",
		"dnsbl B4 list.dnswl.test -1",
		"dnsbl B5 l5.dnsbl.test 1",
		"dnsbl B6 l6.dnsbl.test 1",
		"dnsbl B7 l7.dnsbl.test 1",
		"dnsbl B8 l8.dnsbl.test 1",
		"dnsbl B9 l9.dnsbl.test 1",
		"dnsbl B10 l10.dnsbl.test 1",
	};
	unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 2000;
	struct dns_opts o = {
		.timeout_ms = 2000, .tries = 3, .cache_max = 200000
	};
	struct bmsg *slow[200];
	double cpu0, wall1, cpu1, wall2, wall3, r2, r3, us;
	char err[256];
	int fail = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SERVER [N]\n", argv[0]);
		return 2;
	}
	o.servers = argv[1];
	base = event_base_new();
	if (dns_resolver_new(base, &o, &res) < 0)
		return 2;
	set = dnsbl_set_new();
	for (size_t i = 0; i < 10; i++)
		if (dnsbl_set_line(set, lists[i], err, sizeof(err)) < 0)
			return 2;
	dnsbl_set_finish(set, NULL, err, sizeof(err));

	cpu0 = now(CLOCK_PROCESS_CPUTIME_ID);
	wall1 = run(n, 50, 0);
	cpu1 = now(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	us = cpu1 / n * 1e6;
	printf("lists=10 messages=%u uncached_wall=%.2fs "
	       "cpu_per_msg_us=%.1f queries_per_msg=10\n",
	    n, wall1, us);

	struct dns_stats st;
	dns_resolver_stats(res, &st);
	printf("after uncached: queries=%llu sent=%llu cache_hits=%llu "
	       "joined=%llu\n",
	    (unsigned long long)st.queries, (unsigned long long)st.sent,
	    (unsigned long long)st.cache_hits, (unsigned long long)st.joined);
	cpu0 = now(CLOCK_PROCESS_CPUTIME_ID);
	wall2 = run(n, 50, 0);
	r2 = n / wall2;
	dns_resolver_stats(res, &st);
	printf("cached_rate=%.0f/s cpu_per_msg_us=%.1f cache_hits=%llu\n", r2,
	    (now(CLOCK_PROCESS_CPUTIME_ID) - cpu0) / n * 1e6,
	    (unsigned long long)st.cache_hits);

	{
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t sl = sizeof(sa);
		char srv[64];
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd < 0 ||
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
			return 2;
		snprintf(srv, sizeof(srv), "127.0.0.1:%u", ntohs(sa.sin_port));
		if (dns_resolver_set_servers(res, srv) < 0)
			return 2;
	}
	for (unsigned i = 0; i < 200; i++)
		slow[i] = start_msg(i, true, 60000);
	run(10, 10, 0); /* let the 2000 slow queries go out */
	wall3 = run(n, 50, 0);
	r3 = n / wall3;
	dns_resolver_stats(res, &st);
	printf("cached_rate_with_200_slow_pending=%.0f/s ratio=%.2f "
	       "inflight=%zu\n",
	    r3, r3 / r2, st.inflight);
	if (us > 200) {
		printf("FAIL: CPU per message %.1f us > 200 us\n", us);
		fail = 1;
	}
	if (r3 < 0.9 * r2) {
		printf("FAIL: cached throughput dropped to %.0f%%\n",
		    100 * r3 / r2);
		fail = 1;
	}
	if (st.inflight < 200) {
		printf("FAIL: slow messages not pending (%zu)\n", st.inflight);
		fail = 1;
	}
	for (unsigned i = 0; i < 200; i++)
		if (slow[i])
			arena_free(slow[i]->a);
	dnsbl_set_free(set);
	dns_resolver_free(res);
	event_base_free(base);
	return fail;
}
