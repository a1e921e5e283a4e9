/*
 * filterd/policy.h - policy banks (amavis style) and per-recipient policy
 *
 * A bank is the config with some keys overridden, chosen per message by
 * the client: MYNETS (client address in mynetworks), ORIGINATING (in
 * mynetworks or SASL-authenticated: XFORWARD PROTO ESMTPA...), or
 * port:N (the listener the message came in on). Banks come from
 * policy_banks (lines `NAME key = value`); one that overrides more than
 * the action keys gets its own checks generation (use_bayes = no ...).
 * recipient_policy (lines `ADDR key=value...`, ADDR = user@domain,
 * @domain, domain or .parent) overrides tag_level, tag2_level,
 * kill_level, final_spam_destiny, spam_subject_tag, and bypass = yes
 * (no spam action, no X-Spam headers) per recipient; recipients whose
 * settings differ are delivered separately (policy_split_start).
 * Everything is built in the master at (re)load and read-only after.
 */
#ifndef FILTERD_POLICY_H
#define FILTERD_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "filterd/action.h"
#include "filterd/reinject.h"

struct cfg;
struct checks;
struct envelope;
struct event_base;
struct policy;
struct policy_split;

/* The policy in force: set by the master at (re)load before fork; NULL =
 * the plain config for every message. */
extern struct policy *policy_current;

/* policy_load - banks and the recipient map the config names (both may
 * be empty: *out = NULL, 0). base/checks are borrowed and must outlive
 * the policy. 0 or -errno with "file:line: why" in err. */
int policy_load(const struct cfg *base, const struct checks *checks,
    struct policy **out, char *err, size_t errsz);
struct policy *policy_free(struct policy *);

struct policy_bank {
	const char *name;           /* "default", "MYNETS", "port:10026" */
	const struct cfg *cfg;
	const struct checks *checks;
};

/* policy_bank_for - the bank for this client; local_port 0 = unknown.
 * With p NULL: NULL. */
const struct policy_bank *policy_bank_for(const struct policy *,
    const struct envelope *, unsigned local_port);

/* A set of recipients that get the same treatment. idx: positions in
 * the envelope's recipient list. */
struct policy_group {
	const struct cfg *cfg;
	const char *name;           /* the map entry of its first rcpt */
	size_t *idx;
	size_t n;
};

/* policy_groups - group rcpts[0..n) under bank b; *out malloc'd (free
 * with policy_groups_free). 0 or -ENOMEM. */
int policy_groups(const struct policy *, const struct policy_bank *,
    const char *const *rcpts, size_t n, struct policy_group **out,
    size_t *ngroups);
void policy_groups_free(struct policy_group *, size_t ngroups);

/* What a split delivery needs: the downstream request for the whole
 * envelope (rcpts, rcpt_dsn, head/body unused), and the verdict. */
struct policy_split_req {
	struct reinject_req rq;
	const struct envelope *env;
	double score;
	const char *tests;
	const struct action_notes *notes;
	const char *auth_reject;    /* "5xx ..." or NULL */
	struct bstr raw;
	const char *qid;            /* for the log */
};

/* The merged outcome, one reply per recipient in envelope order, and the
 * most severe action of the groups for the summary log line. */
typedef void policy_split_cb(void *arg, const struct reinject_result *,
    enum action);

/* policy_split_start - per group: decide with its cfg, then discard,
 * reject (554 for those recipients), quarantine (envelope of the group)
 * or rewrite + reinject (one downstream transaction per group, one after
 * the other). With req->rq.all_or_none (SMTP upstream) in two phases:
 * every transaction is held at its 354 until all groups are decided,
 * and a recipient deferred anywhere drops them all (no body sent, no
 * quarantine, no notification: the retry does it once). cb runs once,
 * never before this returns. Every pointer in
 * req is borrowed until then. NULL on ENOMEM (cb not called). */
struct policy_split *policy_split_start(struct event_base *,
    const struct policy_group *, size_t ngroups,
    const struct policy_split_req *, policy_split_cb *, void *arg);
/* policy_split_cancel - stop; cb is not called */
void policy_split_cancel(struct policy_split *);

#endif
