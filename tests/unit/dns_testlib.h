/*
 * tests/unit/dns_testlib.h - start/stop a loopback knotd for DNS tests
 *
 * Included by the DNS unit tests only (static functions). The server comes
 * from ../shared/conformance/dns/serve-zone.sh (beside the repository) and
 * serves tests/e2e/zones/dnsbl.zone as the root zone and nsdomain.zone as
 * nsdomain.test, with everything under servfail.test answering SERVFAIL.
 * A port is picked per process so that concurrent test runs do not
 * collide. A silent UDP socket (never read, never answers) stands in for
 * a server that drops queries.
 */
#ifndef TESTS_DNS_TESTLIB_H
#define TESTS_DNS_TESTLIB_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DNS_TEST_SERVE "../shared/conformance/dns/serve-zone.sh"
#define DNS_TEST_ZONE                 \
	"tests/e2e/zones/dnsbl.zone " \
	"nsdomain.test=tests/e2e/zones/nsdomain.zone"

/* dnstest_start - start knotd; its pid in *pid, port in *port; 0 or -1 */
static inline int
dnstest_start(int *pid, int *port)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		char cmd[512], line[64];
		FILE *p;

		*port = 20000 + (int)((getpid() * 7 + attempt * 1009) % 30000);
		snprintf(cmd, sizeof(cmd),
		    "%s -p %d -S servfail.test %s "
		    "2>/dev/null",
		    DNS_TEST_SERVE, *port, DNS_TEST_ZONE);
		if ((p = popen(cmd, "r")) == NULL)
			return -1;
		line[0] = '\0';
		if (fgets(line, sizeof(line), p) == NULL)
			line[0] = '\0';
		if (pclose(p) == 0 && (*pid = atoi(line)) > 0)
			return 0;
	}
	return -1;
}

static inline void
dnstest_stop(int pid)
{
	char cmd[256];

	if (pid <= 0)
		return;
	snprintf(cmd, sizeof(cmd), "%s stop %d >/dev/null 2>&1", DNS_TEST_SERVE,
	    pid);
	if (system(cmd) != 0)
		kill(pid, SIGTERM);
}

/* dnstest_silent - a UDP socket on 127.0.0.1 that never answers */
static inline int
dnstest_silent(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

#endif
