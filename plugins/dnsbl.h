/*
 * plugins/dnsbl.h - DNS blocklists: SpamAssassin-compatible list rules for
 * relay IPs, sender domains and URI hosts, looked up through plugins/dns
 *
 * A struct dnsbl_set is built once per config (re)load from rule lines
 * and is read-only afterwards (shared by workers and threads). Per message,
 * dnsbl_start() launches every lookup at once on a dns_ctx and reports
 * hits through hooks as answers arrive.
 *
 * Rule lines understood (SpamAssassin 3.4/4.0 syntax, Mail::SpamAssassin::
 * Plugin::DNSEval and URIDNSBL):
 *   header NAME eval:check_rbl('set', 'zone'[, 'subtest'])
 *   header NAME eval:check_rbl_txt('set', 'zone'[, 'regex'])
 *   header NAME eval:check_rbl_sub('set', 'subtest')
 *   header NAME eval:check_rbl_envfrom('set', 'zone'[, 'subtest'])
 *   header NAME eval:check_rbl_from_domain('set', 'zone'[, 'subtest'])
 *   uridnsbl NAME zone A          (IPs of the URI domains' name servers,
 *                                  and IP-literal URI hosts)
 *   urirhsbl NAME zone A          (URI registered domains; any answer)
 *   urirhssub NAME zone A subtest
 *   dnsbl NAME zone [codes|mask] score   (filterd's short form: relay IPs)
 *   score NAME s [s s s]          (for the names above; the last of four)
 *   uridnsbl_skip_domain d...     uridnsbl_max_domains N
 * Other lines (describe, tflags, body eval:check_uridnsbl ...) are not
 * ours: dnsbl_set_line returns 1 and the rules engine owns them.
 *
 * Subtests: "127.0.0.2" exact; "127.0.0.2-127.0.0.4" range;
 * "127.0.1.0/255.255.255.0" masked; a decimal or 0x number is a bitmask
 * (below 256: on the last octet, as SURBL/URIBL multi); anything else a
 * POSIX extended regex on the dotted answer (TXT: on the text).
 *
 * Set names ending in -lastexternal look up only the last external relay,
 * -notfirsthop all untrusted relays but that one; other sets follow
 * dnsbl_opts.all_untrusted. Answers outside 127.0.0.0/8 and
 * 127.255.255.252-255 (Spamhaus: query refused, typo, public resolver)
 * never hit: they are reported through hooks->config_error, once per list.
 */
#ifndef PLUGINS_DNSBL_H
#define PLUGINS_DNSBL_H

#include <stdbool.h>
#include <stddef.h>

#include "plugins/dns.h"
#include "util/buf.h"
#include "util/netaddr.h"

struct arena;
struct dns_ctx;
struct dnsbl_set;
struct uribl_psl;
struct uribl_skip;

struct dnsbl_opts {
	const char *dqs_key;  /* Spamhaus DQS: X.spamhaus.org becomes
				  KEY.X.dq.spamhaus.net */
	bool all_untrusted;   /* sets without suffix: every untrusted
				  relay, not only the last external */
	unsigned uri_max;     /* URI names per message (0: default) */
	const char *uri_skip; /* extra skip domains */
	const char *psl_file; /* NULL: the system list */
};

struct dnsbl_set *dnsbl_set_new(void);
struct dnsbl_set *dnsbl_set_free(struct dnsbl_set *);
/* dnsbl_set_line - one line; 0 taken, 1 not a DNSBL line, -EINVAL with a
 * reason in err. */
int dnsbl_set_line(
    struct dnsbl_set *, const char *line, char *err, size_t errsz);
/* dnsbl_set_eval - the same for a rule the rules engine parsed
 * (rule_set_evals_named): fn "check_rbl", "check_rbl_sub", "check_rbl_txt",
 * "check_rbl_envfrom", "check_rbl_from_domain", unquoted args; 0, 1 (not
 * a DNSBL eval) or -EINVAL. */
int dnsbl_set_eval(struct dnsbl_set *, const char *fn, const char *rule,
    const char *const *args, size_t nargs, char *err, size_t errsz);
/* dnsbl_set_load - every line of a file; -EINVAL with "file:line: why",
 * also for a line that is neither a list rule nor one of its companions
 * (describe, tflags, priority, reuse, lang, score, body check_uridnsbl) */
int dnsbl_set_load(
    struct dnsbl_set *, const char *path, char *err, size_t errsz);
/* dnsbl_set_finish - resolve references (check_rbl_sub of an unknown
 * set), apply opts, load the PSL; after this the set is read-only. */
int dnsbl_set_finish(
    struct dnsbl_set *, const struct dnsbl_opts *, char *err, size_t errsz);
size_t dnsbl_set_rules(const struct dnsbl_set *);
size_t dnsbl_set_lists(const struct dnsbl_set *);
/* dnsbl_set_score - the score of rule name; false if it has none */
bool dnsbl_set_score(const struct dnsbl_set *, const char *name, double *);

/* What one message offers to look up. Addresses that are private or
 * loopback are skipped. */
struct dnsbl_input {
	const struct netaddr *last_external; /* may be NULL */
	const struct netaddr *untrusted;     /* newest first */
	size_t nuntrusted;
	const char *envfrom_domain; /* may be NULL */
	const char *from_domain;    /* may be NULL */
	const struct bstr *uri_hosts;
	size_t nuri_hosts;
};

struct dnsbl_hooks {
	/* hit - rule fired; detail is short and printable */
	void (*hit)(void *arg, const char *rule, const char *detail,
	    double score, bool has_score);
	/* add, done - one lookup started / ended (any outcome); zone is
	 * the list's zone without the trailing dot (not DQS-rewritten: no
	 * key in it), NULL for the name server steps of uridnsbl */
	void (*add)(void *arg, const char *zone);
	void (*done)(void *arg, const char *zone);
	/* config_error - a list answered something that can never be a
	 * listing (refused/public-resolver code, non-127/8 address); once
	 * per list per process; zone as for add (never with the DQS key, so
	 * the key stays out of logs and metrics labels) */
	void (*config_error)(void *arg, const char *zone, const char *answer);
	/* failed - a lookup ended in SERVFAIL/REFUSED/timeout/error; zone
	 * as for add */
	void (*failed)(void *arg, const char *zone, const char *qname,
	    enum dns_status, bool deadline);
	void *arg;
};

/* dnsbl_start - launch every lookup of set for in on ctx; state lives in
 * a (the message arena). Returns the number of lookups started (0 is
 * fine), or -ENOMEM. */
int dnsbl_start(const struct dnsbl_set *, struct dns_ctx *, struct arena *a,
    const struct dnsbl_input *in, const struct dnsbl_hooks *hooks);

/* Building blocks, exposed for tests ---------------------------------- */

/* dnsbl_subtest_match - does answer (an A record, host order) satisfy the
 * subtest string as compiled by a check_rbl_sub line? -EINVAL bad spec */
int dnsbl_subtest_match(const char *subtest, uint32_t answer);
/* dnsbl_answer_valid - false for 127.255.255.252-255 and non-127/8 */
bool dnsbl_answer_valid(uint32_t answer);
/* dnsbl_query_name - "<reversed ip or domain>.<zone>" */
int dnsbl_query_name(const struct netaddr *ip, const char *domain,
    const char *zone, char *out, size_t outsz);
/* dnsbl_dqs_zone - zone rewritten for a DQS key (or copied) */
int dnsbl_dqs_zone(const char *zone, const char *key, char *out, size_t outsz);

#endif
