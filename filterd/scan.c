/*
 * filterd/scan.c - one message through the checks (implements scan.h)
 *
 * A scan owns an arena (hits, notes, strings for the verdict) and the
 * parsed message; the raw bytes and the envelope are borrowed from the
 * front door. Order: parse, every start(), every run(), wait until no
 * async work is pending or msg_deadline passes (a libevent timer), every
 * finish(), then the done callback. Completion after async work is
 * deferred through an event so that a check calling scan_pending_done()
 * never has the scan freed under its feet. After finish() checks must not
 * touch the scan: finish() is where a check cancels its outstanding work.
 */
#include "filterd/scan.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "filterd/cfg.h"
#include "filterd/checks.h"
#include "filterd/metrics.h"
#include "mail/msg.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/hits.h"

struct note {
	const char *key, *value;
	struct note *next;
};

struct scan {
	const struct cfg *cfg;
	const struct checks *checks;
	struct event_base *base;
	const unsigned char *raw;
	size_t len;
	const struct envelope *env;
	struct arena *arena;
	struct hits *hits;
	struct msg *msg;
	struct note *notes;
	struct netaddr client;
	unsigned pending;
	size_t cur, skip_from; /* check running; checks from skip_from on
				  are left out (scan_skip_rest) */
	bool deadline_passed, finished, running;
	struct event *timer, *finisher;
	scan_done_fn *done;
	void *done_arg;
	struct timespec t0;
	unsigned elapsed_ms;
};

struct msg *
scan_msg(struct scan *s)
{
	return s->msg;
}

struct arena *
scan_arena(struct scan *s)
{
	return s->arena;
}

struct hits *
scan_hits(struct scan *s)
{
	return s->hits;
}

bool
scan_env_authenticated(const struct envelope *env)
{
	size_t n;

	if (env->auth && env->auth[0])
		return true;
	return env->proto && (n = strlen(env->proto)) > 1 &&
	    (env->proto[n - 1] == 'A' || env->proto[n - 1] == 'a') &&
	    strncasecmp(env->proto, "ESMTP", 5) == 0;
}

const struct envelope *
scan_envelope(struct scan *s)
{
	return s->env;
}

const struct cfg *
scan_cfg(struct scan *s)
{
	return s->cfg;
}

struct event_base *
scan_evbase(struct scan *s)
{
	return s->base;
}

int
scan_hit(struct scan *s, const char *name, const char *detail)
{
	return hits_add(s->hits, name, detail);
}

bool
scan_deadline_passed(const struct scan *s)
{
	return s->deadline_passed;
}

int
scan_note(struct scan *s, const char *key, const char *value)
{
	struct note *n;

	for (n = s->notes; n; n = n->next) {
		if (strcmp(n->key, key) == 0)
			break;
	}
	if (n == NULL) {
		if ((n = arena_alloc(s->arena, sizeof(*n))) == NULL)
			return -ENOMEM;
		n->key = key;
		n->next = s->notes;
		s->notes = n;
	}
	if ((n->value = arena_strndup(s->arena, value, strlen(value))) == NULL)
		return -ENOMEM;
	return 0;
}

const unsigned char *
scan_raw(struct scan *s, size_t *len)
{
	*len = s->len;
	return s->raw;
}

void
scan_skip_rest(struct scan *s)
{
	if (s->cur + 1 < s->skip_from)
		s->skip_from = s->cur + 1;
}

const char *
scan_note_get(struct scan *s, const char *key)
{
	for (struct note *n = s->notes; n; n = n->next)
		if (strcmp(n->key, key) == 0)
			return n->value;
	return NULL;
}

const char *
scan_qid(struct scan *s)
{
	const struct envelope *e = scan_envelope(s);

	return e && e->qid ? e->qid : "-";
}

const char *
scan_describe(const struct scan *s, const char *name)
{
	return checks_describe(s->checks, name);
}

struct scan *
scan_new(const struct cfg *cfg, const struct checks *checks,
    struct event_base *base, const unsigned char *raw, size_t len,
    const struct envelope *env)
{
	static const struct envelope none = { 0 };
	struct scan *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cfg = cfg;
	s->checks = checks;
	s->base = base;
	s->raw = raw;
	s->len = len;
	s->env = env ? env : &none;
	s->skip_from = (size_t)-1;
	if ((s->arena = arena_new(0)) == NULL ||
	    (s->hits = hits_new(s->arena)) == NULL)
		return scan_free(s);
	return s;
}

/* us_since - microseconds from *t to now, *t set to now (per-check CPU
 * time for filterd/metrics.c) */
static uint64_t
us_since(struct timespec *t)
{
	struct timespec n;
	uint64_t us;

	clock_gettime(CLOCK_MONOTONIC, &n);
	us = (uint64_t)((n.tv_sec - t->tv_sec) * 1000000 +
	    (n.tv_nsec - t->tv_nsec) / 1000);
	*t = n;
	return us;
}

static void
complete(struct scan *s)
{
	const struct check *ck;
	struct timespec t1;

	if (s->finished)
		return;
	s->finished = true;
	if (s->timer)
		event_del(s->timer);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (size_t i = 0; i < s->skip_from &&
	    (ck = checks_at(s->checks, i)) != NULL; i++)
		if (ck->finish) {
			ck->finish(s, checks_state(s->checks, i));
			metrics_check_time(ck->name, us_since(&t1));
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s->elapsed_ms = (unsigned)((t1.tv_sec - s->t0.tv_sec) * 1000 +
	    (t1.tv_nsec - s->t0.tv_nsec) / 1000000);
	s->done(s, s->done_arg);
}

static void
on_deadline(evutil_socket_t fd, short ev, void *arg)
{
	struct scan *s = arg;

	(void)fd, (void)ev;
	s->deadline_passed = true;
	complete(s);
}

static void
on_finish(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd, (void)ev;
	complete(arg);
}

void
scan_pending_add(struct scan *s)
{
	s->pending++;
}

void
scan_pending_done(struct scan *s)
{
	if (s->pending)
		s->pending--;
	/* Deferred: the caller is inside its own callback. */
	if (s->pending == 0 && !s->running && !s->finished && s->finisher)
		event_active(s->finisher, 0, 0);
}

int
scan_run(struct scan *s, scan_done_fn *done, void *arg)
{
	struct msg_opts o = { 0 };
	const struct check *ck;
	struct timespec t;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &s->t0);
	s->done = done;
	s->done_arg = arg;
	o.max_header_bytes = cfg_size(s->cfg, "msg_max_header_bytes");
	o.max_body_text = cfg_size(s->cfg, "msg_max_body_text");
	o.max_parts = (size_t)cfg_int(s->cfg, "msg_max_parts");
	o.max_depth = (unsigned)cfg_int(s->cfg, "msg_max_depth");
	o.max_uris = (size_t)cfg_int(s->cfg, "msg_max_uris");
	o.trusted_networks = cfg_netlist(s->cfg, "trusted_networks");
	o.internal_networks = cfg_netlist(s->cfg, "internal_networks");
	if (s->env->client_addr && netaddr_parse(s->env->client_addr,
	    strlen(s->env->client_addr), &s->client) == 0) {
		o.client_addr = &s->client;
		o.client_name = s->env->client_name;
		o.client_helo = s->env->helo;
	}
	if ((rc = msg_parse(s->raw, s->len, &o, &s->msg)) < 0)
		return rc;
	t = s->t0;
	metrics_check_time("parse", us_since(&t));
	if (s->base) {
		s->timer = evtimer_new(s->base, on_deadline, s);
		s->finisher = event_new(s->base, -1, 0, on_finish, s);
		if (s->timer == NULL || s->finisher == NULL)
			return -ENOMEM;
	}
	s->running = true;
	for (size_t i = 0; i < s->skip_from &&
	    (ck = checks_at(s->checks, i)) != NULL; i++)
		if (ck->start && s->base) {
			s->cur = i;
			ck->start(s, checks_state(s->checks, i));
			metrics_check_time(ck->name, us_since(&t));
		}
	for (size_t i = 0; i < s->skip_from &&
	    (ck = checks_at(s->checks, i)) != NULL; i++)
		if (ck->run) {
			s->cur = i;
			ck->run(s, checks_state(s->checks, i));
			metrics_check_time(ck->name, us_since(&t));
		}
	s->running = false;
	if (s->pending == 0 || s->base == NULL) {
		complete(s);
	} else {
		uint64_t ms = cfg_time_ms(s->cfg, "msg_deadline");
		struct timeval tv = { (time_t)(ms / 1000),
			(suseconds_t)(ms % 1000) * 1000 };

		evtimer_add(s->timer, &tv);
	}
	return 0;
}

double
scan_score(const struct scan *s)
{
	return hits_total(s->hits);
}

const char *
scan_tests(struct scan *s)
{
	struct buf b;
	const char *out;
	size_t n = hits_count(s->hits);

	if (n == 0)
		return "none";
	hits_sort(s->hits);
	buf_init(&b, 64 * 1024);
	for (size_t i = 0; i < n; i++) {
		if (i && buf_putc(&b, ',') < 0)
			break;
		if (buf_puts(&b, hits_at(s->hits, i)->name) < 0)
			break;
	}
	out = arena_strndup(s->arena, (const char *)b.p, b.len);
	buf_free(&b);
	return out ? out : "none";
}

unsigned
scan_elapsed_ms(const struct scan *s)
{
	return s->elapsed_ms;
}

struct scan *
scan_free(struct scan *s)
{
	if (s == NULL)
		return NULL;
	if (s->timer)
		event_free(s->timer);
	if (s->finisher)
		event_free(s->finisher);
	msg_free(s->msg);
	arena_free(s->arena);
	free(s);
	return NULL;
}
