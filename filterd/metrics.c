/*
 * filterd/metrics.c - shared counters (mmap MAP_SHARED, C11 atomics) and
 * the Prometheus text exposition
 *
 * Layout: one struct in a file under state_dir, mapped by the master
 * before fork. Counters are _Atomic uint64_t (lock-free on every target
 * we build for, checked at compile time), so workers add without locks
 * and a crashed worker cannot leave a lock held. Rule names live in an
 * open-addressing table: a slot is claimed with a compare-and-swap on its
 * state (0 free, 1 being written, 2 ready); a reader skips slots not
 * ready. A full table counts into rules_other. No logging here.
 */
#include "filterd/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bayes/store.h"
#include "filterd/action.h"
#include "filterd/cfg.h"
#include "filterd/ctl_bayes.h"

#define METRICS_MAGIC 0x66646d3100000004ULL /* "fdm1", version 4 */

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "lock-free 64-bit atomics");
_Static_assert(METRICS_NACTIONS == ACTION_TEMPFAIL + 1, "enum action");

struct mrule {
	_Atomic uint32_t state;
	char name[56];
	_Atomic uint64_t n;
};

struct mcheck {
	_Atomic uint32_t state;
	char name[24];
	_Atomic uint64_t us, calls;
};

struct mzone {
	_Atomic uint32_t state;
	char name[64];
	_Atomic uint64_t blocked, queries, failed, late;
};

/* one process's messages in flight (pid 0: a free entry) */
struct mflight {
	_Atomic int32_t pid;
	_Atomic int32_t n;
};

struct metrics {
	uint64_t magic;
	uint64_t started;
	_Atomic uint64_t actions[METRICS_NACTIONS];
	_Atomic uint64_t buckets[METRICS_NBUCKETS];
	_Atomic uint64_t scan_ms_sum, messages, bytes;
	_Atomic uint64_t restarts, rules_other;
	struct mrule rules[METRICS_NRULES];
	struct mcheck checks[METRICS_NCHECKS];
	struct mzone zones[METRICS_NZONES];
	_Atomic uint64_t dns_queries, dns_failed, dns_late;
	_Atomic uint64_t rate_hour, rate_count;
	_Atomic uint64_t bayes_tok_cache, bayes_tok_db;
	struct mflight flight[METRICS_NPROCS];
};

const unsigned metrics_bucket_ms[METRICS_NBUCKETS - 1] = { 5, 10, 25, 50,
	100, 250, 500, 1000, 2500, 5000, 10000 };

static struct metrics *M;

int
metrics_init(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	void *p;
	int e;

	if (fd < 0)
		return -errno;
	/* allocated, not a hole (ftruncate): on a full file system a
	 * counter's first write into the shared mapping was a SIGBUS (the
	 * master died at startup); now the full disk is this error */
	if ((e = posix_fallocate(fd, 0, sizeof(struct metrics))) != 0) {
		close(fd);
		unlink(path);
		return -e;
	}
	p = mmap(NULL, sizeof(struct metrics), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	if (M)
		munmap(M, sizeof(*M));
	M = p;
	M->started = (uint64_t)time(NULL);
	M->magic = METRICS_MAGIC;
	return 0;
}

const struct metrics *
metrics_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *p;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size != sizeof(struct
	    metrics)) {
		close(fd);
		errno = EPROTO;
		return NULL;
	}
	p = mmap(NULL, sizeof(struct metrics), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	if (((const struct metrics *)p)->magic != METRICS_MAGIC) {
		munmap(p, sizeof(struct metrics));
		errno = EPROTO;
		return NULL;
	}
	return p;
}

void
metrics_close(const struct metrics *m)
{
	if (m)
		munmap((void *)m, sizeof(*m));
}

static uint32_t
hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static void
rule_hit(const char *name, size_t n)
{
	uint32_t h;

	if (n == 0 || n >= sizeof(M->rules[0].name) ||
	    (n == 4 && memcmp(name, "none", 4) == 0))
		return;
	/* label values are printed unquoted-safe: rule-name characters */
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_.-", name[i]) || name[i] == '\0')
			return;
	h = hash(name, n);
	for (size_t k = 0; k < 32; k++) {
		struct mrule *r = &M->rules[(h + k) % METRICS_NRULES];
		uint32_t st = atomic_load(&r->state);

		if (st == 0) {
			uint32_t want = 0;

			if (atomic_compare_exchange_strong(&r->state, &want,
			    1)) {
				memcpy(r->name, name, n);
				r->name[n] = '\0';
				atomic_fetch_add(&r->n, 1);
				atomic_store(&r->state, 2);
				return;
			}
			st = want;
		}
		/* being written by another process: wait a moment */
		for (int spin = 0; st == 1 && spin < 1000; spin++)
			st = atomic_load(&r->state);
		if (st == 2 && strncmp(r->name, name, n) == 0 &&
		    r->name[n] == '\0') {
			atomic_fetch_add(&r->n, 1);
			return;
		}
	}
	atomic_fetch_add(&M->rules_other, 1);
}

void
metrics_message(int action, unsigned ms, const char *tests, size_t size)
{
	size_t b = 0;

	if (M == NULL)
		return;
	if (action >= 0 && action < METRICS_NACTIONS)
		atomic_fetch_add(&M->actions[action], 1);
	while (b < METRICS_NBUCKETS - 1 && ms > metrics_bucket_ms[b])
		b++;
	atomic_fetch_add(&M->buckets[b], 1);
	atomic_fetch_add(&M->scan_ms_sum, ms);
	atomic_fetch_add(&M->messages, 1);
	atomic_fetch_add(&M->bytes, size);
	while (tests && *tests) {
		size_t n = strcspn(tests, ",");

		rule_hit(tests, n);
		tests += n + (tests[n] == ',');
	}
}

/* slot - claim or find the slot named name in an open-addressing table
 * of n slots of size sz whose first members are the state and the name
 * (namesz bytes); NULL when full or being written for too long */
static void *
slot(void *tab, size_t n, size_t sz, size_t nameoff, size_t namesz,
    const char *name)
{
	size_t len = strlen(name);
	uint32_t h = hash(name, len);

	if (len == 0 || len >= namesz)
		return NULL;
	for (size_t k = 0; k < n; k++) {
		unsigned char *e = (unsigned char *)tab + ((h + k) % n) * sz;
		_Atomic uint32_t *state = (_Atomic uint32_t *)e;
		char *nm = (char *)e + nameoff;
		uint32_t st = atomic_load(state), want = 0;

		if (st == 0 && atomic_compare_exchange_strong(state, &want,
		    1)) {
			memcpy(nm, name, len + 1);
			atomic_store(state, 2);
			return e;
		}
		st = atomic_load(state);
		for (int spin = 0; st == 1 && spin < 1000; spin++)
			st = atomic_load(state);
		if (st == 2 && strcmp(nm, name) == 0)
			return e;
	}
	return NULL;
}

void
metrics_check_time(const char *name, uint64_t us)
{
	struct mcheck *c;

	if (M && (c = slot(M->checks, METRICS_NCHECKS, sizeof(*c),
	    offsetof(struct mcheck, name), sizeof(c->name), name))) {
		atomic_fetch_add(&c->us, us);
		atomic_fetch_add(&c->calls, 1);
	}
}

/* zone_slot - the slot of a DNS list zone; NULL without a mapping, for
 * a NULL zone, one that is not a host name (label values: keep only
 * host-name characters) or a full table */
static struct mzone *
zone_slot(const char *zone)
{
	struct mzone *z;

	if (M == NULL || zone == NULL)
		return NULL;
	for (const char *p = zone; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789.-_", *p))
			return NULL;
	z = slot(M->zones, METRICS_NZONES, sizeof(*z),
	    offsetof(struct mzone, name), sizeof(z->name), zone);
	return z;
}

void
metrics_dns_query(const char *zone)
{
	struct mzone *z;

	if (M == NULL)
		return;
	atomic_fetch_add(&M->dns_queries, 1);
	if ((z = zone_slot(zone)) != NULL)
		atomic_fetch_add(&z->queries, 1);
}

void
metrics_bayes_lookups(uint64_t cache, uint64_t db)
{
	if (M == NULL)
		return;
	atomic_fetch_add(&M->bayes_tok_cache, cache);
	atomic_fetch_add(&M->bayes_tok_db, db);
}

void
metrics_dns_failed(const char *zone, unsigned failed, unsigned late)
{
	struct mzone *z;

	if (M == NULL || (failed == 0 && late == 0))
		return;
	atomic_fetch_add(&M->dns_failed, failed);
	atomic_fetch_add(&M->dns_late, late);
	if ((z = zone_slot(zone)) != NULL) {
		atomic_fetch_add(&z->failed, failed);
		atomic_fetch_add(&z->late, late);
	}
}

void
metrics_dns_blocked(const char *zone)
{
	struct mzone *z;

	if ((z = zone_slot(zone)) != NULL)
		atomic_fetch_add(&z->blocked, 1);
}

bool
metrics_rate_ok(unsigned per_hour)
{
	static struct {
		_Atomic uint64_t rate_hour, rate_count;
	} local; /* no shared mapping (tests, filterctl) */
	_Atomic uint64_t *hp = M ? &M->rate_hour : &local.rate_hour;
	_Atomic uint64_t *cp = M ? &M->rate_count : &local.rate_count;
	uint64_t h = (uint64_t)time(NULL) / 3600, old = atomic_load(hp);

	/* a new hour: whoever swaps the hour resets the count (a racing
	 * process may get one extra token; that is all) */
	if (old != h && atomic_compare_exchange_strong(hp, &old, h))
		atomic_store(cp, 0);
	return atomic_fetch_add(cp, 1) < per_hour;
}

void
metrics_worker_restart(void)
{
	if (M)
		atomic_fetch_add(&M->restarts, 1);
}

void
metrics_in_flight(int delta)
{
	/* this process's entry, claimed once per process and mapping (a
	 * forked worker starts with its parent's) */
	static struct metrics *map;
	static pid_t mine_pid;
	static size_t mine;
	pid_t pid = getpid();

	if (M == NULL)
		return;
	for (size_t i = 0; (map != M || mine_pid != pid) &&
	     i < METRICS_NPROCS; i++) {
		int32_t free_pid = 0;

		if (atomic_compare_exchange_strong(&M->flight[i].pid,
			&free_pid, (int32_t)pid)) {
			atomic_store(&M->flight[i].n, 0);
			map = M;
			mine_pid = pid;
			mine = i;
		}
	}
	if (map == M && mine_pid == pid)
		atomic_fetch_add(&M->flight[mine].n, delta);
}

void
metrics_forget(pid_t pid)
{
	if (M == NULL || pid <= 0)
		return;
	for (size_t i = 0; i < METRICS_NPROCS; i++)
		if (atomic_load(&M->flight[i].pid) == (int32_t)pid) {
			atomic_store(&M->flight[i].n, 0);
			atomic_store(&M->flight[i].pid, 0);
		}
}

static int
by_count(const void *a, const void *b)
{
	const struct metrics_rule *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->name, y->name);
}

int
metrics_snapshot(const struct metrics *m, struct metrics_snap *s)
{
	/* const: the mapping may be read-only; atomic_load needs a
	 * non-const pointer in C17, and only reads. */
	struct metrics *w = (struct metrics *)(m ? m : M);

	memset(s, 0, sizeof(*s));
	if (w == NULL)
		return -ENOENT;
	s->started = w->started;
	for (int i = 0; i < METRICS_NACTIONS; i++)
		s->actions[i] = atomic_load(&w->actions[i]);
	for (int i = 0; i < METRICS_NBUCKETS; i++)
		s->buckets[i] = atomic_load(&w->buckets[i]);
	s->scan_ms_sum = atomic_load(&w->scan_ms_sum);
	s->messages = atomic_load(&w->messages);
	s->bytes = atomic_load(&w->bytes);
	s->restarts = atomic_load(&w->restarts);
	s->rules_other = atomic_load(&w->rules_other);
	if ((s->rules = calloc(METRICS_NRULES, sizeof(*s->rules))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < METRICS_NRULES; i++) {
		struct mrule *r = &w->rules[i];

		if (atomic_load(&r->state) != 2)
			continue;
		memcpy(s->rules[s->nrules].name, r->name, sizeof(r->name));
		s->rules[s->nrules].name[sizeof(r->name) - 1] = '\0';
		s->rules[s->nrules++].n = atomic_load(&r->n);
	}
	qsort(s->rules, s->nrules, sizeof(*s->rules), by_count);
	for (size_t i = 0; i < METRICS_NCHECKS; i++) {
		struct mcheck *c = &w->checks[i];

		if (atomic_load(&c->state) != 2)
			continue;
		memcpy(s->checks[s->nchecks].name, c->name, sizeof(c->name));
		s->checks[s->nchecks].name[sizeof(c->name) - 1] = '\0';
		s->checks[s->nchecks].us = atomic_load(&c->us);
		s->checks[s->nchecks++].calls = atomic_load(&c->calls);
	}
	for (size_t i = 0; i < METRICS_NZONES; i++) {
		struct mzone *z = &w->zones[i];

		if (atomic_load(&z->state) != 2)
			continue;
		memcpy(s->zones[s->nzones].name, z->name, sizeof(z->name));
		s->zones[s->nzones].name[sizeof(z->name) - 1] = '\0';
		s->zones[s->nzones].queries = atomic_load(&z->queries);
		s->zones[s->nzones].failed = atomic_load(&z->failed);
		s->zones[s->nzones].late = atomic_load(&z->late);
		s->zones[s->nzones++].blocked = atomic_load(&z->blocked);
	}
	s->dns_queries = atomic_load(&w->dns_queries);
	s->dns_failed = atomic_load(&w->dns_failed);
	s->dns_late = atomic_load(&w->dns_late);
	s->bayes_tok_cache = atomic_load(&w->bayes_tok_cache);
	s->bayes_tok_db = atomic_load(&w->bayes_tok_db);
	for (size_t i = 0; i < METRICS_NPROCS; i++) {
		int32_t pid = atomic_load(&w->flight[i].pid);
		int32_t n = atomic_load(&w->flight[i].n);

		/* a process that is gone but not reaped yet counts nothing */
		if (pid > 0 && n > 0 && (kill(pid, 0) == 0 || errno == EPERM))
			s->in_flight += (uint64_t)n;
	}
	return 0;
}

void
metrics_snap_free(struct metrics_snap *s)
{
	free(s->rules);
	s->rules = NULL;
	s->nrules = 0;
}

int
metrics_bayes(const struct cfg *cfg, uint64_t *nspam, uint64_t *nham)
{
	char spec[4096];
	struct bayes_store *st = NULL;
	struct bayes_vars v;
	int rc;

	*nspam = *nham = 0;
	if ((rc = ctl_bayes_spec(cfg, spec, sizeof(spec))) < 0)
		return rc;
	if ((rc = bayes_store_open(spec, false, &st)) < 0)
		return rc;
	rc = bayes_store_vars(st, &v);
	bayes_store_close(st);
	if (rc < 0)
		return rc;
	*nspam = v.nspam;
	*nham = v.nham;
	return 0;
}

long
metrics_spool_depth(const struct cfg *cfg)
{
	DIR *d = opendir(cfg_str(cfg, "spool_dir"));
	struct dirent *e;
	long n = 0;

	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int
metrics_render(struct buf *b, const struct metrics_snap *s,
    const struct cfg *cfg, size_t top)
{
	uint64_t cum = 0, ns = 0, nh = 0;
	long spool = metrics_spool_depth(cfg);
	int brc = -ENOENT;
	bool use = cfg_bool(cfg, "use_bayes");

	if (use)
		brc = metrics_bayes(cfg, &ns, &nh);
	buf_printf(b, "# HELP filterd_messages_total Messages by action.\n"
	    "# TYPE filterd_messages_total counter\n");
	for (int i = 0; i < METRICS_NACTIONS; i++)
		buf_printf(b, "filterd_messages_total{action=\"%s\"} %llu\n",
		    action_name((enum action)i),
		    (unsigned long long)s->actions[i]);
	buf_printf(b, "# HELP filterd_message_bytes_total Bytes of messages "
	    "handled.\n# TYPE filterd_message_bytes_total counter\n"
	    "filterd_message_bytes_total %llu\n",
	    (unsigned long long)s->bytes);
	buf_printf(b, "# HELP filterd_scan_seconds Time from end of data to "
	    "the reply, per message.\n# TYPE filterd_scan_seconds histogram\n");
	for (int i = 0; i < METRICS_NBUCKETS; i++) {
		cum += s->buckets[i];
		if (i < METRICS_NBUCKETS - 1)
			buf_printf(b, "filterd_scan_seconds_bucket{le=\"%g\"} "
			    "%llu\n", metrics_bucket_ms[i] / 1000.0,
			    (unsigned long long)cum);
		else
			buf_printf(b, "filterd_scan_seconds_bucket{le=\"+Inf\"}"
			    " %llu\n", (unsigned long long)cum);
	}
	buf_printf(b, "filterd_scan_seconds_sum %.3f\n"
	    "filterd_scan_seconds_count %llu\n", s->scan_ms_sum / 1000.0,
	    (unsigned long long)s->messages);
	buf_printf(b, "# HELP filterd_rule_hits_total Messages a rule hit "
	    "(top %zu; the rest in rule=\"_other\").\n"
	    "# TYPE filterd_rule_hits_total counter\n", top);
	{
		uint64_t other = s->rules_other;

		for (size_t i = 0; i < s->nrules; i++) {
			if (i >= top) {
				other += s->rules[i].n;
				continue;
			}
			buf_printf(b, "filterd_rule_hits_total{rule=\"%s\"} "
			    "%llu\n", s->rules[i].name,
			    (unsigned long long)s->rules[i].n);
		}
		buf_printf(b, "filterd_rule_hits_total{rule=\"_other\"} "
		    "%llu\n", (unsigned long long)other);
	}
	buf_printf(b, "# HELP filterd_check_seconds_total CPU time in each "
	    "check (start, run, finish; parse = the message model).\n"
	    "# TYPE filterd_check_seconds_total counter\n");
	for (size_t i = 0; i < s->nchecks; i++)
		buf_printf(b, "filterd_check_seconds_total{check=\"%s\"} "
		    "%.6f\n", s->checks[i].name, s->checks[i].us / 1e6);
	buf_printf(b, "# HELP filterd_check_calls_total Calls into each "
	    "check.\n# TYPE filterd_check_calls_total counter\n");
	for (size_t i = 0; i < s->nchecks; i++)
		buf_printf(b, "filterd_check_calls_total{check=\"%s\"} %llu\n",
		    s->checks[i].name, (unsigned long long)s->checks[i].calls);
	buf_printf(b, "# HELP filterd_bayes_token_lookups_total Token counts "
	    "Bayes scans read, by where they came from: the worker's token "
	    "cache or the database.\n"
	    "# TYPE filterd_bayes_token_lookups_total counter\n"
	    "filterd_bayes_token_lookups_total{source=\"cache\"} %llu\n"
	    "filterd_bayes_token_lookups_total{source=\"db\"} %llu\n",
	    (unsigned long long)s->bayes_tok_cache,
	    (unsigned long long)s->bayes_tok_db);
	buf_printf(b, "# HELP filterd_dns_queries_total DNS list lookups "
	    "started.\n# TYPE filterd_dns_queries_total counter\n"
	    "filterd_dns_queries_total %llu\n"
	    "# HELP filterd_dns_failures_total DNS list lookups without an "
	    "answer (failed, or late at the deadline).\n"
	    "# TYPE filterd_dns_failures_total counter\n"
	    "filterd_dns_failures_total{why=\"failed\"} %llu\n"
	    "filterd_dns_failures_total{why=\"timeout\"} %llu\n",
	    (unsigned long long)s->dns_queries,
	    (unsigned long long)s->dns_failed,
	    (unsigned long long)s->dns_late);
	buf_printf(b, "# HELP filterd_dns_blocked_total Answers that mean "
	    "the list refuses this resolver (127.255.255.254 ...).\n"
	    "# TYPE filterd_dns_blocked_total counter\n");
	for (size_t i = 0; i < s->nzones; i++)
		buf_printf(b, "filterd_dns_blocked_total{zone=\"%s\"} %llu\n",
		    s->zones[i].name, (unsigned long long)s->zones[i].blocked);
	buf_printf(b, "# HELP filterd_dns_zone_queries_total DNS list lookups "
	    "started, per list zone.\n"
	    "# TYPE filterd_dns_zone_queries_total counter\n");
	for (size_t i = 0; i < s->nzones; i++)
		buf_printf(b, "filterd_dns_zone_queries_total{zone=\"%s\"} "
		    "%llu\n", s->zones[i].name,
		    (unsigned long long)s->zones[i].queries);
	buf_printf(b, "# HELP filterd_dns_zone_failures_total DNS list "
	    "lookups without an answer, per list zone.\n"
	    "# TYPE filterd_dns_zone_failures_total counter\n");
	for (size_t i = 0; i < s->nzones; i++)
		buf_printf(b, "filterd_dns_zone_failures_total{zone=\"%s\","
		    "why=\"failed\"} %llu\n"
		    "filterd_dns_zone_failures_total{zone=\"%s\","
		    "why=\"timeout\"} %llu\n", s->zones[i].name,
		    (unsigned long long)s->zones[i].failed, s->zones[i].name,
		    (unsigned long long)s->zones[i].late);
	buf_printf(b, "# HELP filterd_worker_restarts_total Workers that "
	    "died and were restarted.\n"
	    "# TYPE filterd_worker_restarts_total counter\n"
	    "filterd_worker_restarts_total %llu\n",
	    (unsigned long long)s->restarts);
	buf_printf(b, "# HELP filterd_messages_in_flight Messages the SMTP "
	    "door has taken and not answered yet (scanning, reinjecting).\n"
	    "# TYPE filterd_messages_in_flight gauge\n"
	    "filterd_messages_in_flight %llu\n",
	    (unsigned long long)s->in_flight);
	buf_printf(b, "# HELP filterd_spool_depth Messages in flight in "
	    "spool_dir (those bigger than spool_memory_max).\n"
	    "# TYPE filterd_spool_depth gauge\n"
	    "filterd_spool_depth %ld\n", spool < 0 ? 0 : spool);
	buf_printf(b, "# HELP filterd_bayes_learned Messages learned by "
	    "class.\n# TYPE filterd_bayes_learned gauge\n"
	    "filterd_bayes_learned{class=\"spam\"} %llu\n"
	    "filterd_bayes_learned{class=\"ham\"} %llu\n",
	    (unsigned long long)ns, (unsigned long long)nh);
	buf_printf(b, "# HELP filterd_bayes_active 1 when Bayes gives "
	    "results (enough spam and ham learned).\n"
	    "# TYPE filterd_bayes_active gauge\n"
	    "filterd_bayes_active %d\n", use && brc == 0 &&
	    ns >= (uint64_t)cfg_int(cfg, "bayes_min_spam_num") &&
	    nh >= (uint64_t)cfg_int(cfg, "bayes_min_ham_num"));
	buf_printf(b, "# HELP filterd_start_time_seconds When the daemon "
	    "started.\n# TYPE filterd_start_time_seconds gauge\n"
	    "filterd_start_time_seconds %llu\n",
	    (unsigned long long)s->started);
	return b->len < b->max ? 0 : -ENOSPC;
}
