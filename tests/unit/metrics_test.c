/* metrics_test - filterd/metrics.c: counters shared across fork (MAP_SHARED
 * + atomics), rule and check tables, the Prometheus text, read-only open */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filterd/action.h"
#include "filterd/cfg.h"
#include "filterd/metrics.h"

static char path[64];

static int
setup(void **st)
{
	int fd;

	(void)st;
	strcpy(path, "/tmp/metrics_test.XXXXXX");
	fd = mkstemp(path);
	close(fd);
	return metrics_init(path);
}

static int
teardown(void **st)
{
	(void)st;
	unlink(path);
	return 0;
}

static uint64_t
rule_n(const struct metrics_snap *s, const char *name)
{
	for (size_t i = 0; i < s->nrules; i++)
		if (strcmp(s->rules[i].name, name) == 0)
			return s->rules[i].n;
	return 0;
}

static const struct metrics_zone *
zone_of(const struct metrics_snap *s, const char *name)
{
	for (size_t i = 0; i < s->nzones; i++)
		if (strcmp(s->zones[i].name, name) == 0)
			return &s->zones[i];
	return NULL;
}

static void
test_fork_shared(void **st)
{
	struct metrics_snap s;
	pid_t kids[4];

	(void)st;
	/* four processes x 500 messages, as workers would */
	for (int k = 0; k < 4; k++) {
		if ((kids[k] = fork()) == 0) {
			for (int i = 0; i < 500; i++)
				metrics_message(ACTION_PASS_SPAM, 7, "A_RULE,"
				    "B_RULE", 100);
			metrics_check_time("rules", 1500);
			/* DNS per zone: one shared zone, one own zone
			 * each, and name server steps (no zone) */
			for (int i = 0; i < 250; i++) {
				char own[32];

				snprintf(own, sizeof(own), "k%d.dnsbl.test",
				    k);
				metrics_dns_query("zen.dnsbl.test");
				metrics_dns_query(own);
				metrics_dns_query(NULL);
				metrics_dns_failed("zen.dnsbl.test", 1, 0);
				if (i % 5 == 0)
					metrics_dns_failed(own, 0, 3);
			}
			_exit(0);
		}
		assert_true(kids[k] > 0);
	}
	for (int k = 0; k < 4; k++)
		waitpid(kids[k], NULL, 0);
	metrics_message(ACTION_QUARANTINE, 20000, "A_RULE", 50);
	metrics_worker_restart();
	metrics_dns_query("zen.spamhaus.org");
	metrics_dns_failed(NULL, 1, 2);
	metrics_dns_blocked("zen.spamhaus.org");
	metrics_dns_blocked("bad\"zone"); /* refused: not a host name */
	metrics_dns_query("bad\"zone");    /* totals only */
	assert_int_equal(metrics_snapshot(NULL, &s), 0);
	assert_int_equal(s.messages, 2001);
	assert_int_equal(s.actions[ACTION_PASS_SPAM], 2000);
	assert_int_equal(s.actions[ACTION_QUARANTINE], 1);
	assert_int_equal(s.bytes, 2000 * 100 + 50);
	assert_int_equal(s.buckets[1], 2000);                 /* <= 10 ms */
	assert_int_equal(s.buckets[METRICS_NBUCKETS - 1], 1); /* > 10 s */
	assert_int_equal(rule_n(&s, "A_RULE"), 2001);
	assert_int_equal(rule_n(&s, "B_RULE"), 2000);
	assert_string_equal(s.rules[0].name, "A_RULE"); /* sorted */
	assert_int_equal(s.restarts, 1);
	assert_int_equal(s.nchecks, 1);
	assert_int_equal(s.checks[0].calls, 4);
	assert_int_equal(s.checks[0].us, 6000);
	/* totals: 4 x 250 x 3 + 2; failed 4 x 250 + 1; late 4 x 50 x 3 + 2 */
	assert_int_equal(s.dns_queries, 3002);
	assert_int_equal(s.dns_failed, 1001);
	assert_int_equal(s.dns_late, 602);
	assert_int_equal(s.nzones, 6);
	{
		const struct metrics_zone *z = zone_of(&s, "zen.dnsbl.test");

		assert_non_null(z);
		assert_int_equal(z->queries, 1000);
		assert_int_equal(z->failed, 1000);
		assert_int_equal(z->late, 0);
		assert_int_equal(z->blocked, 0);
		for (int k = 0; k < 4; k++) {
			char own[32];

			snprintf(own, sizeof(own), "k%d.dnsbl.test", k);
			assert_non_null(z = zone_of(&s, own));
			assert_int_equal(z->queries, 250);
			assert_int_equal(z->failed, 0);
			assert_int_equal(z->late, 150);
		}
		assert_non_null(z = zone_of(&s, "zen.spamhaus.org"));
		assert_int_equal(z->queries, 1);
		assert_int_equal(z->blocked, 1);
		assert_int_equal(z->failed + z->late, 0);
		assert_null(zone_of(&s, "bad\"zone"));
	}
	metrics_snap_free(&s);
}

/* messages in flight: each process's own count; a dead process's does not
 * count once it is reaped, and metrics_forget frees its entry */
static void
test_in_flight(void **st)
{
	struct metrics_snap s;
	pid_t child;
	int status;

	(void)st;
	assert_int_equal(metrics_init(path), 0);
	metrics_in_flight(1);
	metrics_in_flight(1);
	metrics_in_flight(-1);
	if ((child = fork()) == 0) {
		metrics_in_flight(1); /* a worker with 3 that dies with them */
		metrics_in_flight(1);
		metrics_in_flight(1);
		assert_int_equal(metrics_snapshot(NULL, &s), 0);
		_exit(s.in_flight == 4 ? 0 : 1);
	}
	assert_true(child > 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(metrics_snapshot(NULL, &s), 0);
	assert_int_equal(s.in_flight, 1); /* reaped: not counted */
	metrics_snap_free(&s);
	metrics_forget(child);
	metrics_in_flight(-1);
	assert_int_equal(metrics_snapshot(NULL, &s), 0);
	assert_int_equal(s.in_flight, 0);
	metrics_snap_free(&s);
}

static void
test_render_and_open(void **st)
{
	struct metrics_snap s;
	const struct metrics *ro;
	struct cfg *cfg = cfg_new();
	char err[128];
	struct buf b;
	char *text;

	(void)st;
	assert_int_equal(metrics_init(path), 0); /* a restart: from zero */
	metrics_message(ACTION_PASS, 3, "none", 10);
	metrics_dns_query("zen.dnsbl.test");
	metrics_dns_query("zen.dnsbl.test");
	metrics_dns_failed("zen.dnsbl.test", 1, 1);
	metrics_bayes_lookups(250, 50);
	metrics_bayes_lookups(30, 20);
	assert_int_equal(cfg_set(cfg, "use_bayes", "no", err, sizeof(err)),
	    0);
	assert_int_equal(cfg_set(cfg, "spool_dir", "/nonexistent", err,
	    sizeof(err)), 0);
	ro = metrics_open(path);
	assert_non_null(ro);
	assert_int_equal(metrics_snapshot(ro, &s), 0);
	metrics_close(ro);
	buf_init(&b, 1 << 20);
	assert_int_equal(metrics_render(&b, &s, cfg, 1), 0);
	buf_putc(&b, 0);
	text = (char *)b.p;
	assert_non_null(strstr(text, "filterd_messages_total{action=\"pass\"}"
	    " 1\n"));
	assert_non_null(strstr(text, "filterd_scan_seconds_bucket{le=\"0.005\"}"
	    " 1\n"));
	assert_non_null(strstr(text, "filterd_scan_seconds_count 1\n"));
	assert_null(strstr(text, "rule=\"none\""));
	assert_non_null(strstr(text, "filterd_dns_queries_total 2\n"));
	assert_non_null(strstr(text, "filterd_messages_in_flight 0\n"));
	assert_non_null(strstr(text, "filterd_bayes_token_lookups_total{source="
	    "\"cache\"} 280\n"));
	assert_non_null(strstr(text, "filterd_bayes_token_lookups_total{source="
	    "\"db\"} 70\n"));
	assert_non_null(strstr(text, "filterd_dns_zone_queries_total{zone="
	    "\"zen.dnsbl.test\"} 2\n"));
	assert_non_null(strstr(text, "filterd_dns_zone_failures_total{zone="
	    "\"zen.dnsbl.test\",why=\"failed\"} 1\n"));
	assert_non_null(strstr(text, "filterd_dns_zone_failures_total{zone="
	    "\"zen.dnsbl.test\",why=\"timeout\"} 1\n"));
	assert_non_null(strstr(text, "filterd_dns_blocked_total{zone="
	    "\"zen.dnsbl.test\"} 0\n"));
	/* every sample line is NAME{labels} VALUE or NAME VALUE */
	for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n")) {
		double v;
		char name[200];

		if (l[0] == '#')
			continue;
		assert_int_equal(sscanf(l, "%199s %lf", name, &v), 2);
	}
	buf_free(&b);
	metrics_snap_free(&s);
	cfg_free(cfg);
	assert_null(metrics_open("/nonexistent/metrics.shm"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fork_shared),
		cmocka_unit_test(test_in_flight),
		cmocka_unit_test(test_render_and_open),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
