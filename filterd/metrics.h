/*
 * filterd/metrics.h - counters shared by the master and its workers, and
 * their Prometheus text rendering
 *
 * The master maps state_dir/metrics.shm (MAP_SHARED) before the first
 * fork; workers inherit the mapping and add with atomic operations, so no
 * counter is lost when a worker dies. filterctl status maps the same file
 * read-only. Without metrics_init() every update is a no-op.
 */
#ifndef FILTERD_METRICS_H
#define FILTERD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

struct cfg;
struct metrics;

#define METRICS_NACTIONS 6   /* enum action */
#define METRICS_NBUCKETS 12  /* scan time histogram, last = +Inf */
#define METRICS_NRULES 1024  /* rule names counted; more go to "other" */
#define METRICS_NCHECKS 32   /* check names timed */
#define METRICS_NZONES 64    /* DNS list zones counted */
#define METRICS_NPROCS 1024  /* processes counting messages in flight */

/* metrics_init - map path (created, sized) for this process and its
 * future children; 0 or -errno. Counters survive a restart of the
 * daemon only as long as the file does (the master truncates it). */
int metrics_init(const char *path);
/* metrics_open - read-only view of a daemon's counters (filterctl);
 * NULL with errno set */
const struct metrics *metrics_open(const char *path);
void metrics_close(const struct metrics *);

/* Updates (any process, lock-free). */
void metrics_message(int action, unsigned ms, const char *tests,
    size_t size);
void metrics_worker_restart(void);
/* metrics_in_flight - this process holds one message more (+1) or fewer
 * (-1) from its DATA command to its answer (the SMTP door; one thread
 * per process). Each process has its own count, so a dead one's
 * leaves nothing behind: metrics_forget(pid) when it is reaped, and
 * readers skip processes that are gone. */
void metrics_in_flight(int delta);
void metrics_forget(pid_t pid);
/* metrics_check_time - us spent in one call of check name (static) */
void metrics_check_time(const char *name, uint64_t us);
/* metrics_bayes_lookups - token counts a Bayes scan read from the
 * worker's token cache and from the database */
void metrics_bayes_lookups(uint64_t cache, uint64_t db);
/* DNS list lookups (filterd/check_dnsbl.c): one query sent; lookups
 * that failed or were late at the deadline; a zone that answered with a
 * "never a listing" code such as 127.255.255.254 (blocked resolver).
 * Each adds to the totals, and to the zone's own counters when zone is
 * not NULL and a host name (else only the totals: name server steps of
 * uridnsbl, a label value that could not be printed, a full table). */
void metrics_dns_query(const char *zone);
void metrics_dns_failed(const char *zone, unsigned failed, unsigned late);
void metrics_dns_blocked(const char *zone);
/* metrics_rate_ok - take one of per_hour tokens of the current clock hour,
 * shared by every process (spam_admin reports); false when none left */
bool metrics_rate_ok(unsigned per_hour);

/* A snapshot for printing. */
struct metrics_rule {
	char name[56];
	uint64_t n;
};
struct metrics_check {
	char name[24];
	uint64_t us, calls;
};
struct metrics_zone {
	char name[64];
	uint64_t blocked, queries, failed, late;
};
struct metrics_snap {
	uint64_t started;                       /* unix time */
	uint64_t actions[METRICS_NACTIONS];
	uint64_t buckets[METRICS_NBUCKETS];     /* not cumulative */
	uint64_t scan_ms_sum, messages, bytes;
	uint64_t restarts, rules_other;
	struct metrics_rule *rules;             /* sorted by n, desc */
	size_t nrules;
	struct metrics_check checks[METRICS_NCHECKS];
	size_t nchecks;
	struct metrics_zone zones[METRICS_NZONES];
	size_t nzones;
	uint64_t dns_queries, dns_failed, dns_late;
	uint64_t bayes_tok_cache, bayes_tok_db; /* token counts read */
	uint64_t in_flight;                     /* live processes' sum */
};
extern const unsigned metrics_bucket_ms[METRICS_NBUCKETS - 1];

/* metrics_snapshot - NULL m = this process's mapping; rules are
 * malloc'd (metrics_snap_free). 0 or -ENOENT (no mapping) / -ENOMEM. */
int metrics_snapshot(const struct metrics *, struct metrics_snap *);
void metrics_snap_free(struct metrics_snap *);

/* metrics_render - the Prometheus text format (version 0.0.4) of the
 * snapshot plus what is read at scrape time from cfg: spool depth, Bayes
 * counts and whether Bayes is active. top = rules listed. */
int metrics_render(struct buf *, const struct metrics_snap *,
    const struct cfg *, size_t top);

/* metrics_bayes - spam/ham learned from the configured store; 0 or
 * -errno (no store yet: -ENOENT) */
int metrics_bayes(const struct cfg *, uint64_t *nspam, uint64_t *nham);
/* metrics_spool_depth - files in spool_dir (-errno when unreadable) */
long metrics_spool_depth(const struct cfg *);

#endif
