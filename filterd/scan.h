/*
 * filterd/scan.h - one message through the checks: the contract between the
 * front doors (smtp, milter, spamd, filterctl) and the check modules
 *
 * Check modules (rules/, bayes/, plugins/) know nothing of this header: each
 * has a small adapter filterd/check_<name>.c that implements struct check
 * and is listed in filterd/checks.c. Front doors call scan_new(), then
 * scan_run() with a completion callback, read the verdict, scan_free().
 *
 * Order (ARCHITECTURE.md "scan"): every check's start() launches async work
 * (DNS) first, then every run() does CPU work and adds hits, then the scan
 * waits until no async work is pending or the deadline passes, then every
 * finish() runs (rules: meta rules and scores, bayes: autolearn) and the
 * verdict is final.
 */
#ifndef FILTERD_SCAN_H
#define FILTERD_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/netaddr.h"

struct arena;
struct cfg;
struct event_base;
struct hits;
struct msg;
struct scan;

/* The envelope as the front door knows it (XFORWARD, milter macros,
 * spamd headers). Strings are NUL-terminated, may be NULL. */
struct envelope {
	const char *qid;          /* upstream queue id (XFORWARD IDENT) */
	const char *client_addr;  /* XFORWARD ADDR */
	const char *client_name;  /* XFORWARD NAME */
	const char *helo;         /* XFORWARD HELO */
	const char *proto;        /* XFORWARD PROTO */
	const char *auth;         /* SASL login, if any */
	const char *mail_from;    /* without <> */
	const char *const *rcpts;
	size_t nrcpts;
};

struct check {
	const char *name;
	/* init - at config (re)load: build read-only state from cfg; negative
	 * errno on a config error (the reload is refused), *state owned by
	 * the check until free(). */
	int (*init)(const struct cfg *, void **state);
	/* start - launch async work; call scan_pending_add() per outstanding
	 * operation and scan_pending_done() when it completes. */
	void (*start)(struct scan *, void *state);
	/* run - CPU work on the parsed message; adds hits. */
	void (*run)(struct scan *, void *state);
	/* finish - after async work ended or the deadline passed. */
	void (*finish)(struct scan *, void *state);
	void (*free)(void *state);
};

/* Accessors for check adapters. */
struct msg *scan_msg(struct scan *);
struct arena *scan_arena(struct scan *);
struct hits *scan_hits(struct scan *);
const struct envelope *scan_envelope(struct scan *);
/* scan_env_authenticated - the sender logged in: a SASL login is known,
 * or XFORWARD PROTO is ESMTPA/ESMTPSA (RFC 3848) */
bool scan_env_authenticated(const struct envelope *);
const struct cfg *scan_cfg(struct scan *);
struct event_base *scan_evbase(struct scan *); /* NULL: no async work */
/* scan_hit - record a named hit; scores come from the rule files */
int scan_hit(struct scan *, const char *name, const char *detail);
void scan_pending_add(struct scan *);
void scan_pending_done(struct scan *);
bool scan_deadline_passed(const struct scan *);
/* Free-form per-check notes for X-Spam-Status / explain ("autolearn=ham",
 * Authentication-Results pieces); key is a static string. */
int scan_note(struct scan *, const char *key, const char *value);
const char *scan_note_get(struct scan *, const char *key);
/* scan_qid - the queue id for log lines: the envelope's, or "-" */
const char *scan_qid(struct scan *);
/* scan_describe - the rule files' describe text for a hit, or NULL */
const char *scan_describe(const struct scan *, const char *name);
/* scan_raw - the message bytes as received (borrowed from the front door) */
const unsigned char *scan_raw(struct scan *, size_t *len);
/* scan_skip_rest - the calling check takes the message over: the checks
 * after it in the table get no start(), run() or finish() (originating
 * mail is signed, not scored: filterd/check_dkimsign.c) */
void scan_skip_rest(struct scan *);

/* The front doors' side ---------------------------------------------------
 * checks_init() runs every check's init() once per config generation (in
 * the master, before fork); a scan borrows that generation read-only. */
struct checks;
struct checks *checks_init(const struct cfg *, char *err, size_t errsz);
struct checks *checks_free(struct checks *);

typedef void scan_done_fn(struct scan *, void *arg);

/* scan_new - a scan of raw[0..len) (kept alive by the caller until
 * scan_free) with env (borrowed, likewise). base may be NULL: then async
 * work cannot start and the scan completes inside scan_run(). */
struct scan *scan_new(const struct cfg *, const struct checks *,
    struct event_base *base, const unsigned char *raw, size_t len,
    const struct envelope *env);
/* scan_run - parse and run the checks; done(scan, arg) is called exactly
 * once when the verdict is final, possibly before scan_run returns. 0 or
 * -ENOMEM (then done is not called). */
int scan_run(struct scan *, scan_done_fn *done, void *arg);
/* scan_score - the verdict: hits_total() once done */
double scan_score(const struct scan *);
/* scan_tests - "A,B,C" (sorted names) or "none", from the scan arena */
const char *scan_tests(struct scan *);
/* scan_elapsed_ms - from scan_run to done */
unsigned scan_elapsed_ms(const struct scan *);
struct scan *scan_free(struct scan *);

#endif
