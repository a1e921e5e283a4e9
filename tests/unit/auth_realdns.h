/*
 * tests/unit/auth_realdns.h - real DNS for the auth conformance runners:
 * plugins/dns (c-ares in a libevent loop) asking knotd, started on a free
 * 127.0.0.1 port by ../shared/conformance/dns/serve-zone.sh; header-only.
 *
 *   realdns_start(&d, serve, "-S x.example", zonefile)  0 or -1
 *   real_resolve                                        authres_resolve_fn
 *   realdns_stop(&d)
 */
#ifndef TESTS_AUTH_REALDNS_H
#define TESTS_AUTH_REALDNS_H

#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "plugins/authres.h"
#include "plugins/dns.h"
#include "util/arena.h"

struct realdns {
	struct event_base *base;
	struct dns_resolver *r;
	struct dns_ctx *ctx;
	struct arena *a;
	bool done;
	struct authres_dns *into;
	const struct authres_query *q;
	int rc;
	unsigned refused; /* names plugins/dns would not send */
	char pid[32], servers[64], serve[1024];
};

static inline void
real_cb(const struct dns_result *res, void *arg)
{
	struct realdns *d = arg;

	d->rc = authres_dns_put_result(d->into, d->q->name, d->q->type, res);
	d->done = true;
}

static inline int
real_resolve(void *arg, const struct authres_query *q, struct authres_dns *dns)
{
	struct realdns *d = arg;

	d->done = false;
	d->into = dns;
	d->q = q;
	if (dns_query(d->ctx, q->name, (uint16_t)q->type, real_cb, d) < 0) {
		/* A name plugins/dns does not send (spaces, a label over 63
		 * octets): as check_auth does, no such name. */
		d->refused++;
		return authres_dns_put(
		    dns, q->name, q->type, AUTHRES_DNS_NXDOMAIN, NULL, 0);
	}
	while (!d->done)
		event_base_loop(d->base, EVLOOP_ONCE);
	return d->rc;
}

static inline bool
port_bindable(int type, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, type, 0);
	bool ok;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* A port free for both TCP and UDP, below the usual ephemeral range so
 * the outgoing connections of tests running in parallel do not take it
 * between our check and knotd's bind. */
static inline int
free_port(void)
{
	static unsigned seed;

	if (seed == 0)
		seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	for (int i = 0; i < 200; i++) {
		int port = 20000 + (int)(rand_r(&seed) % 12000);
		if (port_bindable(SOCK_STREAM, port) &&
		    port_bindable(SOCK_DGRAM, port))
			return port;
	}
	return -1;
}

/* realdns_start - knotd serving zonefile (extra: serve-zone.sh options),
 * and a resolver on it without cache */
static inline int
realdns_try(struct realdns *d, const char *serve, const char *extra,
    const char *zonefile)
{
	char cmd[2048];
	int port = free_port();
	FILE *p;

	/* -t 15: the box is shared, knotd may be slow to come up. */
	char errf[] = "/tmp/auth_realdns_errXXXXXX";
	int efd = mkstemp(errf);

	if (efd < 0)
		return -1;
	close(efd);
	snprintf(cmd, sizeof(cmd), "%s -t 15 -p %d %s %s 2>%s", serve, port,
	    extra ? extra : "", zonefile, errf);
	bool got = false;
	int st = -1;
	if ((p = popen(cmd, "r")) != NULL) {
		got = fgets(d->pid, sizeof(d->pid), p) != NULL;
		st = pclose(p);
	}
	if (!got || st != 0) {
		char line[512];
		FILE *e;
		printf("# serve-zone.sh on port %d: %s, status %d\n", port,
		    got ? "pid read" : "no pid", st);
		/* Say why as TAP diagnostics (a knotd that could not bind,
		 * or was not ready in time). */
		if ((e = fopen(errf, "r")) != NULL) {
			while (fgets(line, sizeof(line), e))
				printf("# %s", line);
			fclose(e);
		}
		unlink(errf);
		d->pid[0] = '\0';
		return -1;
	}
	unlink(errf);
	d->pid[strcspn(d->pid, "\n")] = '\0';
	snprintf(d->servers, sizeof(d->servers), "127.0.0.1:%d", port);
	return 0;
}

/* realdns_start - knotd serving zonefile (extra: serve-zone.sh options),
 * and a resolver on it without cache; one retry on another port */
static inline int
realdns_start(struct realdns *d, const char *serve, const char *extra,
    const char *zonefile)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->serve, sizeof(d->serve), "%s", serve);
	int tries = 0;
	while (realdns_try(d, serve, extra, zonefile) < 0)
		if (++tries == 3)
			return -1;
	struct dns_opts o = { .servers = d->servers,
		.timeout_ms = 2000,
		.tries = 2,
		.no_cache = true };
	d->base = event_base_new();
	d->a = arena_new(0);
	int rc = -1;
	if (d->base == NULL ||
	    (rc = dns_resolver_new(d->base, &o, &d->r)) < 0 ||
	    (d->ctx = dns_ctx_new(d->r, d->a, 0)) == NULL) {
		printf("# resolver for %s: %d\n", d->servers, rc);
		return -1;
	}
	return 0;
}

static inline void
realdns_stop(struct realdns *d)
{
	char cmd[1200];

	if (d->ctx)
		dns_ctx_cancel(d->ctx);
	d->a = arena_free(d->a);
	d->ctx = NULL;
	d->r = dns_resolver_free(d->r);
	if (d->base)
		event_base_free(d->base);
	d->base = NULL;
	if (d->pid[0]) {
		snprintf(cmd, sizeof(cmd), "%s stop %s >/dev/null 2>&1",
		    d->serve, d->pid);
		if (system(cmd) != 0)
			printf("# could not stop knotd %s\n", d->pid);
		d->pid[0] = '\0';
	}
}

#endif
