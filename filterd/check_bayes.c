/*
 * filterd/check_bayes - the Bayes check: BAYES_* hits and autolearn
 *
 * init() only copies settings: the store (BDB handles, a Redis socket)
 * must not cross fork, so each worker opens it on its first scan, under a
 * mutex because milter threads share the worker's state; a failed open is
 * retried at most every 30 s and meanwhile the check adds nothing; a
 * store error retires the handle (closed when the last scan using it is
 * done) so the next scan reopens, which is what BDB's DB_RUNRECOVERY
 * after another process's crash requires.
 * run() classifies and adds BAYES_00..BAYES_999 with SpamAssassin's
 * default scores (50_scores.cf, net+bayes set); a rule file's "score"
 * line for the same name wins. Fewer than bayes_min_spam_num spam or
 * bayes_min_ham_num ham learned: no hit (SA does the same).
 * finish() autolearns with SA's AutoLearnThreshold semantics: the score
 * without the Bayes hits (the rules check may provide the exact SA
 * learning score and header/body point sums as the scan notes
 * "learn_score", "learn_header_points", "learn_body_points", which then
 * apply with SA's 3-point minimums) below
 * bayes_auto_learn_threshold_nonspam learns ham, at or above
 * bayes_auto_learn_threshold_spam learns spam; the scan gets the note
 * autolearn=ham|spam|no for X-Spam-Status.
 * After a message was autolearned, bayes_auto_expire (SA's opportunistic
 * expiry) runs when the store holds more than bayes_expiry_max_db_size
 * tokens and the last expiry is 12 hours old: on its own thread of the
 * worker, so neither that message nor the worker's other sessions wait
 * for it, claimed in the store first so that one process of one host
 * runs each round (bayes_store_expire_due); a log line tells the result.
 * Errors are never the message's fault: they leave the scan without Bayes,
 * and are logged (at most every 30 s per worker, naming the store and
 * the error) so that a store that cannot be opened or is damaged does not
 * just make the BAYES hits disappear.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bayes/bayes.h"
#include "bayes/tokcache.h"
#include "filterd/cfg.h"
#include "filterd/checks.h"
#include "filterd/ctl_bayes.h"
#include "filterd/metrics.h"
#include "mail/msg.h"
#include "util/hits.h"
#include "util/log.h"

#define BAYES_REOPEN_SECS 30
#define LEARN_MIN_POINTS 3.0 /* SA: header and body points for spam */

struct bayes_state {
	char spec[4096];
	uint64_t min_spam, min_ham;
	bool auto_learn, auto_expire;
	uint64_t expire_max; /* bayes_expiry_max_db_size */
	double thr_ham, thr_spam;
	time_t next_expire_check; /* the totals are read at most this often */
	bool expiring;	  /* the expiry thread runs (under mu) */
	bool have_expirer; /* expirer is to be joined */
	pthread_t expirer;
	pthread_mutex_t mu;
	pid_t pid; /* the process the handle belongs to */
	struct bayes_store *st;
	unsigned refs;		  /* scans using st right now */
	struct bayes_store *dead; /* failed handle, closed at refs == 0 */
	time_t next_try;
	time_t next_warn; /* store errors are logged at most this often */
	/* the token cache counters of st already added to the metrics */
	const struct bayes_store *counted;
	uint64_t counted_hits, counted_misses;
};

/* store_warn - log a store error of this worker, rate-limited (call with
 * s->mu held) */
static void
store_warn(struct bayes_state *s, const char *what, int rc)
{
	time_t now = time(NULL);

	if (now < s->next_warn)
		return;
	char shown[sizeof(s->spec)];

	s->next_warn = now + BAYES_REOPEN_SECS;
	bayes_store_redact(s->spec, shown, sizeof(shown));
	log_warn("bayes: %s %s: %s; scans go on without Bayes%s", what,
	    shown, strerror(-rc),
	    rc == -EIO || rc == -EINVAL ? " (`filterctl bayes stats` checks "
					  "the store)"
					: "");
}

/* ctl_bayes_spec - the store spec from the config (see ctl_bayes.h) */
int
ctl_bayes_spec(const struct cfg *c, char *out, size_t outsz)
{
	const char *st = cfg_str(c, "bayes_store");
	const char *p = cfg_str(c, "bayes_path");
	int n;

	if (strncmp(st, "redis://", 8) == 0)
		n = snprintf(out, outsz, "%s", st);
	else if (strcmp(st, "bdb") != 0)
		return -EINVAL;
	else if (*p != '\0')
		n = snprintf(out, outsz, "%s", p);
	else
		n = snprintf(out, outsz, "%s/bayes", cfg_str(c, "state_dir"));
	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

static int
bayes_init(const struct cfg *c, void **state)
{
	struct bayes_state *s;

	*state = NULL;
	if (!cfg_bool(c, "use_bayes"))
		return 0;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	if (ctl_bayes_spec(c, s->spec, sizeof(s->spec)) < 0) {
		free(s);
		return -EINVAL;
	}
	s->min_spam = (uint64_t)cfg_int(c, "bayes_min_spam_num");
	s->min_ham = (uint64_t)cfg_int(c, "bayes_min_ham_num");
	s->auto_learn = cfg_bool(c, "bayes_auto_learn");
	s->thr_ham = cfg_double(c, "bayes_auto_learn_threshold_nonspam");
	s->thr_spam = cfg_double(c, "bayes_auto_learn_threshold_spam");
	s->auto_expire = cfg_bool(c, "bayes_auto_expire");
	s->expire_max = (uint64_t)cfg_int(c, "bayes_expiry_max_db_size");
	pthread_mutex_init(&s->mu, NULL);
	*state = s;
	return 0;
}

/* store - this process's handle, opened on first use; a reference the
 * caller returns with unstore() */
static struct bayes_store *
store(struct bayes_state *s)
{
	struct bayes_store *st;
	time_t now = time(NULL);

	pthread_mutex_lock(&s->mu);
	if (s->pid != getpid()) {
		/* inherited over fork: not ours to use or close */
		s->st = s->dead = NULL;
		s->refs = 0;
		s->pid = getpid();
		s->next_try = 0;
		s->expiring = s->have_expirer = false; /* the parent's */
	}
	/* read-write for autolearn and atime touches; a store we may only
	 * read (permissions) still classifies */
	if (s->st == NULL && s->dead == NULL && now >= s->next_try &&
	    bayes_store_open(s->spec, true, &s->st) < 0) {
		int rc = bayes_store_open(s->spec, false, &s->st);

		if (rc < 0) {
			s->st = NULL;
			s->next_try = now + BAYES_REOPEN_SECS;
			store_warn(s, "cannot open", rc);
		}
	}
	if ((st = s->st) != NULL)
		s->refs++;
	pthread_mutex_unlock(&s->mu);
	return st;
}

/* unstore - return the reference; rc < 0 from the store (BDB says
 * DB_RUNRECOVERY to every process after another one died and recovery
 * ran, Redis went away) retires the handle: it is closed once no scan
 * uses it, and the next scan opens a fresh one */
static void
unstore(struct bayes_state *s, struct bayes_store *st, int rc)
{
	struct bayes_store *close_it = NULL;

	pthread_mutex_lock(&s->mu);
	if (rc < 0 && rc != -EAGAIN && rc != -EROFS)
		store_warn(s, "error in", rc);
	if (rc < 0 && rc != -ENOMEM && rc != -EAGAIN && rc != -EROFS &&
	    st == s->st) {
		s->dead = s->st;
		s->st = NULL;
	}
	if (--s->refs == 0 && s->dead != NULL) {
		close_it = s->dead;
		s->dead = NULL;
	}
	pthread_mutex_unlock(&s->mu);
	bayes_store_close(close_it);
}

/* count_lookups - add what this scan read, from the worker's token cache
 * and from the database, to the metrics: the handle's counter deltas
 * (threads of a worker share it, hence under mu); a handle without a
 * cache read all ntokens from its database */
static void
count_lookups(struct bayes_state *s, struct bayes_store *st, size_t ntokens)
{
	struct bayes_tokcache_stats cs;
	uint64_t dh, dm;

	if (bayes_store_cache_stats(st, &cs) < 0) {
		metrics_bayes_lookups(0, ntokens);
		return;
	}
	pthread_mutex_lock(&s->mu);
	/* a new handle (maybe at the old one's address) counts from 0 */
	if (s->counted != st || cs.hits < s->counted_hits ||
	    cs.misses < s->counted_misses) {
		s->counted = st;
		s->counted_hits = s->counted_misses = 0;
	}
	dh = cs.hits - s->counted_hits;
	dm = cs.misses - s->counted_misses;
	s->counted_hits = cs.hits;
	s->counted_misses = cs.misses;
	pthread_mutex_unlock(&s->mu);
	metrics_bayes_lookups(dh, dm);
}

static void
bayes_run(struct scan *scan, void *state)
{
	struct bayes_state *s = state;
	struct bayes_store *st;
	struct bayes_result r;
	const struct bayes_rule *rules[2];
	char detail[32];

	int rc;

	if (s == NULL || (st = store(s)) == NULL)
		return;
	/* touching refreshes the atime of the tokens this scan used */
	rc = bayes_classify_msg_touch(st, scan_msg(scan), s->min_spam,
	    s->min_ham, (uint32_t)time(NULL), &r);
	if (rc == 0)
		count_lookups(s, st, r.ntokens);
	unstore(s, st, rc);
	if (rc != 0)
		return;
	snprintf(detail, sizeof(detail), "p=%.4f", r.prob);
	size_t n = bayes_rule_for(r.prob, rules);
	for (size_t i = 0; i < n; i++)
		hits_add_score(
		    scan_hits(scan), rules[i]->name, rules[i]->score, detail);
	scan_note(scan, "bayes", rules[0]->name);
}

static bool
note_num(struct scan *scan, const char *key, double *v)
{
	const char *t = scan_note_get(scan, key);
	char *end;

	if (t == NULL)
		return false;
	*v = strtod(t, &end);
	return end != t;
}

/* learn_verdict - BAYES_SPAM, BAYES_HAM or 0 (SA AutoLearnThreshold) */
static int
learn_verdict(struct bayes_state *s, struct scan *scan)
{
	struct hits *h = scan_hits(scan);
	double score = 0, hp, bp;
	bool exact;

	exact = note_num(scan, "learn_score", &score);
	if (!exact) {
		/* every scored hit except Bayes' own ("tflags learn") */
		for (size_t i = 0; i < hits_count(h); i++) {
			const struct hit *x = hits_at(h, i);

			if (x->has_score && strncmp(x->name, "BAYES_", 6) != 0)
				score += x->score;
		}
	}
	if (score < s->thr_ham)
		return BAYES_HAM;
	if (score < s->thr_spam)
		return 0;
	/* SA: spam needs 3 points from header rules and 3 from body rules,
	 * so one kind of rule alone cannot teach Bayes a wrong lesson */
	if (note_num(scan, "learn_header_points", &hp) &&
	    note_num(scan, "learn_body_points", &bp) &&
	    (hp < LEARN_MIN_POINTS || bp < LEARN_MIN_POINTS))
		return 0;
	return BAYES_SPAM;
}

/* expire_main - the expiry thread: its own store reference, so a store
 * error retires the handle as a scan's would */
static void *
expire_main(void *arg)
{
	struct bayes_state *s = arg;
	struct bayes_store *st = store(s);
	struct timespec t0, t1;
	uint64_t removed = 0;
	int rc;

	if (st != NULL) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = bayes_store_expire_due(st, s->expire_max,
		    BAYES_EXPIRE_PERIOD, (uint32_t)time(NULL), &removed);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (rc > 0)
			log_info("bayes: expired %llu tokens (the store was "
				 "over bayes_expiry_max_db_size %llu) in "
				 "%.1f s",
			    (unsigned long long)removed,
			    (unsigned long long)s->expire_max,
			    (double)(t1.tv_sec - t0.tv_sec) +
				(double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		unstore(s, st, rc < 0 ? rc : 0);
	}
	pthread_mutex_lock(&s->mu);
	s->expiring = false;
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* maybe_expire - start the expiry thread when it is due (a cheap read
 * of the totals; the thread claims the round) and none runs */
static void
maybe_expire(struct bayes_state *s, struct bayes_store *st)
{
	struct bayes_vars v;
	time_t now = time(NULL);
	bool check;

	if (!s->auto_expire)
		return;
	/* once a minute per process is plenty for a 12-hour period, and
	 * spares Redis a round trip per autolearned message */
	pthread_mutex_lock(&s->mu);
	if ((check = now >= s->next_expire_check))
		s->next_expire_check = now + 60;
	pthread_mutex_unlock(&s->mu);
	if (!check || bayes_store_vars(st, &v) < 0 ||
	    !bayes_expire_due(
		&v, s->expire_max, BAYES_EXPIRE_PERIOD, (uint64_t)now))
		return;
	/* under mu: milter threads may get here together; the thread's own
	 * first step (store()) waits for the unlock */
	pthread_mutex_lock(&s->mu);
	if (!s->expiring) {
		if (s->have_expirer)
			pthread_join(s->expirer, NULL); /* it has ended */
		s->have_expirer =
		    pthread_create(&s->expirer, NULL, expire_main, s) == 0;
		s->expiring = s->have_expirer;
	}
	pthread_mutex_unlock(&s->mu);
}

static void
bayes_finish(struct scan *scan, void *state)
{
	struct bayes_state *s = state;
	struct bayes_store *st;
	int cls, rc;

	if (s == NULL || !s->auto_learn)
		return;
	if ((cls = learn_verdict(s, scan)) == 0 || (st = store(s)) == NULL) {
		scan_note(scan, "autolearn", "no");
		return;
	}
	rc = bayes_learn_msg(st, scan_msg(scan), cls, (uint32_t)time(NULL));
	if (rc == BAYES_LEARNED)
		maybe_expire(s, st);
	unstore(s, st, rc);
	if (rc == BAYES_LEARNED)
		scan_note(
		    scan, "autolearn", cls == BAYES_SPAM ? "spam" : "ham");
	else
		scan_note(scan, "autolearn", "no"); /* known, or store error */
}

static void
bayes_free(void *state)
{
	struct bayes_state *s = state;

	if (s == NULL)
		return;
	/* wait for a running expiry (seconds at most): it holds a
	 * reference to the store closed below */
	if (s->have_expirer && s->pid == getpid())
		pthread_join(s->expirer, NULL);
	if (s->pid == getpid()) {
		bayes_store_close(s->st);
		bayes_store_close(s->dead);
	}
	pthread_mutex_destroy(&s->mu);
	free(s);
}

const struct check check_bayes = {
	.name = "bayes",
	.init = bayes_init,
	.run = bayes_run,
	.finish = bayes_finish,
	.free = bayes_free,
};
