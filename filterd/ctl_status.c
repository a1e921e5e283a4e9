/*
 * filterd/ctl_status.c - filterctl status: what the running daemon did,
 * for a person
 *
 * Reads the counters the daemon shares in state_dir/metrics.shm
 * (filterd/metrics.c; no network, works with metrics_listen = none), the
 * pid file, the spool and the Bayes store, and prints the figures the
 * Prometheus endpoint exports plus warnings an admin should act on.
 * --raw prints the Prometheus text instead. Exit status 0, or 1 when no
 * counters could be read (daemon never started with this state_dir).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filterd/action.h"
#include "filterd/cfg.h"
#include "filterd/ctl.h"
#include "filterd/metrics.h"

/* quantile - upper bound (ms) of the bucket holding quantile q */
static const char *
quantile(const struct metrics_snap *s, double q, char *out, size_t outsz)
{
	uint64_t want = (uint64_t)(q * (double)s->messages + 0.999999), cum = 0;

	for (int i = 0; i < METRICS_NBUCKETS; i++) {
		cum += s->buckets[i];
		if (cum >= want && want > 0) {
			if (i == METRICS_NBUCKETS - 1)
				snprintf(out, outsz, "> %u ms",
				    metrics_bucket_ms[i - 1]);
			else
				snprintf(out, outsz, "<= %u ms",
				    metrics_bucket_ms[i]);
			return out;
		}
	}
	return "-";
}

static long
daemon_pid(const struct cfg *cfg)
{
	char p[4096];
	FILE *f;
	long pid = 0;

	snprintf(p, sizeof(p), "%s/filterd.pid", cfg_str(cfg, "state_dir"));
	if ((f = fopen(p, "r")) == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return -pid; /* stale */
	return pid;
}

int
ctl_status(int argc, char **argv)
{
	struct cfg *cfg;
	const struct metrics *m;
	struct metrics_snap s;
	char path[4096], q1[32], q2[32];
	bool raw = argc == 2 && !strcmp(argv[1], "--raw");
	long pid, spool;
	uint64_t ns = 0, nh = 0;
	int brc, warnings = 0;
	time_t now = time(NULL);

	if (argc > 2 || (argc == 2 && !raw)) {
		fprintf(ctl_help(argc, argv) ? stdout : stderr,
		    "usage: filterctl status [--raw]\n");
		return ctl_help(argc, argv) ? 0 : 2;
	}
	if ((cfg = ctl_load_cfg(NULL)) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/metrics.shm",
	    cfg_str(cfg, "state_dir"));
	if ((m = metrics_open(path)) == NULL) {
		fprintf(stderr, "filterctl: %s: %s (has filterd run with this "
		    "state_dir?)\n", path, strerror(errno));
		cfg_free(cfg);
		return 1;
	}
	if (metrics_snapshot(m, &s) < 0) {
		metrics_close(m);
		cfg_free(cfg);
		return 1;
	}
	metrics_close(m);
	if (raw) {
		struct buf b;

		buf_init(&b, 4 * 1024 * 1024);
		metrics_render(&b, &s, cfg, 50);
		fwrite(b.p, 1, b.len, stdout);
		buf_free(&b);
		goto out;
	}
	pid = daemon_pid(cfg);
	spool = metrics_spool_depth(cfg);
	brc = cfg_bool(cfg, "use_bayes") ? metrics_bayes(cfg, &ns, &nh)
					 : -ENOTSUP;
	if (pid > 0)
		printf("filterd: running, pid %ld, up %llus\n", pid,
		    (unsigned long long)(now - (time_t)s.started));
	else
		printf("filterd: not running (counters from the run started "
		    "%llus ago)\n", (unsigned long long)(now -
		    (time_t)s.started));
	printf("messages: %llu (%.1f MB)\n", (unsigned long long)s.messages,
	    s.bytes / 1e6);
	for (int i = 0; i < METRICS_NACTIONS; i++)
		printf("  %-12s %llu\n", action_name((enum action)i),
		    (unsigned long long)s.actions[i]);
	if (s.messages)
		printf("scan time: mean %.0f ms, p50 %s, p95 %s\n",
		    (double)s.scan_ms_sum / (double)s.messages,
		    quantile(&s, 0.5, q1, sizeof(q1)),
		    quantile(&s, 0.95, q2, sizeof(q2)));
	for (size_t i = 0; i < s.nchecks; i++)
		printf("%s  %-10s %8.1f ms/call (%llu calls)\n",
		    i ? "          " : "check time:", s.checks[i].name,
		    s.checks[i].calls ? (double)s.checks[i].us / 1000.0 /
		    (double)s.checks[i].calls : 0.0,
		    (unsigned long long)s.checks[i].calls);
	if (s.bayes_tok_cache + s.bayes_tok_db > 0)
		printf("bayes token lookups: %llu, %.0f%% from the workers' "
		       "caches\n",
		    (unsigned long long)(s.bayes_tok_cache + s.bayes_tok_db),
		    100.0 * (double)s.bayes_tok_cache /
			(double)(s.bayes_tok_cache + s.bayes_tok_db));
	printf("dns list lookups: %llu, failed %llu, timed out %llu\n",
	    (unsigned long long)s.dns_queries,
	    (unsigned long long)s.dns_failed,
	    (unsigned long long)s.dns_late);
	for (size_t i = 0; i < s.nzones; i++)
		printf("  %-28s %llu, failed %llu, timed out %llu, blocked "
		    "%llu\n", s.zones[i].name,
		    (unsigned long long)s.zones[i].queries,
		    (unsigned long long)s.zones[i].failed,
		    (unsigned long long)s.zones[i].late,
		    (unsigned long long)s.zones[i].blocked);
	printf("worker restarts: %llu\n", (unsigned long long)s.restarts);
	printf("in flight: %llu messages (%ld spooled to disk)\n",
	    (unsigned long long)s.in_flight, spool < 0 ? 0 : spool);
	if (brc == 0)
		printf("bayes: %llu spam, %llu ham learned\n",
		    (unsigned long long)ns, (unsigned long long)nh);
	if (s.nrules) {
		printf("top rules:\n");
		for (size_t i = 0; i < s.nrules && i < 10; i++)
			printf("  %-28s %llu (%.0f%%)\n", s.rules[i].name,
			    (unsigned long long)s.rules[i].n, s.messages ?
			    100.0 * (double)s.rules[i].n /
			    (double)s.messages : 0.0);
	}
	/* warnings */
	if (pid < 0 && ++warnings)
		printf("warning: stale pid file (pid %ld is gone)\n", -pid);
	if (!cfg_bool(cfg, "use_bayes")) {
		printf("warning: Bayes off (use_bayes = no)\n");
		warnings++;
	} else if (brc < 0) {
		printf("warning: Bayes inactive: no store yet (%s); learn "
		    "with filterctl learn\n", strerror(-brc));
		warnings++;
	} else {
		long long ms = cfg_int(cfg, "bayes_min_spam_num"),
			  mh = cfg_int(cfg, "bayes_min_ham_num");

		if ((long long)ns < ms && ++warnings)
			printf("warning: Bayes inactive: %llu/%lld spam "
			    "learned\n", (unsigned long long)ns, ms);
		if ((long long)nh < mh && ++warnings)
			printf("warning: Bayes inactive: %llu/%lld ham "
			    "learned\n", (unsigned long long)nh, mh);
	}
	if (s.actions[ACTION_TEMPFAIL] * 10 > s.messages && s.messages &&
	    ++warnings)
		printf("warning: %llu of %llu messages tempfailed (is the "
		    "reinject port %s up?)\n",
		    (unsigned long long)s.actions[ACTION_TEMPFAIL],
		    (unsigned long long)s.messages, cfg_text(cfg, "reinject"));
	if (s.restarts && ++warnings)
		printf("warning: %llu worker restarts (see the log)\n",
		    (unsigned long long)s.restarts);
	for (size_t i = 0; i < s.nzones; i++)
		if (s.zones[i].blocked && ++warnings)
			printf("warning: %s answers 127.255.255.254 or another "
			    "\"blocked\" code (%llu times): your resolver is "
			    "blocked; use a local caching resolver\n",
			    s.zones[i].name,
			    (unsigned long long)s.zones[i].blocked);
	if (s.dns_queries >= 20 && (s.dns_failed + s.dns_late) * 4 >
	    s.dns_queries && ++warnings)
		printf("warning: %llu of %llu DNS list lookups got no answer "
		    "(check dns_servers, dns_timeout)\n",
		    (unsigned long long)(s.dns_failed + s.dns_late),
		    (unsigned long long)s.dns_queries);
	if (warnings == 0)
		printf("no warnings\n");
out:
	metrics_snap_free(&s);
	cfg_free(cfg);
	return 0;
}
