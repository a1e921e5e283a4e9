/*
 * filterd/check_auth.c - sender authentication: SPF (MAIL FROM and HELO),
 * DKIM, ARC and DMARC on plugins/dns, hits, Received-SPF and
 * Authentication-Results
 *
 * The evaluators (plugins/spf, dkim, arc, dmarc) never do I/O: they read a
 * struct authres_dns and say which lookups they miss. Here start() runs
 * them, sends every missing lookup through plugins/dns (one
 * scan_pending_add() each), and every answer stores the result and runs
 * them again, until none misses anything; DMARC runs once SPF and DKIM are
 * final. finish() answers what is still out as a timeout (temperror),
 * cancels the queries, adds the hits and leaves two notes for the action
 * code: "authres" (the Authentication-Results value) and "received-spf"
 * (the Received-SPF value); with dmarc_policy_enforce a p=reject failure
 * also leaves "auth-reject" (an SMTP reply text), unless a passing ARC
 * chain whose newest sealer is in arc_trusted_sealers says DMARC passed
 * there (RFC 8617 7.2.1: a local policy override). See .notes/auth.md.
 * Scores: SpamAssassin's defaults (score set 3) for its hit names; rule
 * files that score the same names override them.
 * Limits: AUTH_MAX_QUERIES lookups per message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>

#include "filterd/cfg.h"
#include "filterd/checks.h"
#include "mail/msg.h"
#include "plugins/arc.h"
#include "plugins/authres.h"
#include "plugins/dkim.h"
#include "plugins/dmarc.h"
#include "plugins/dns.h"
#include "plugins/spf.h"
#include "util/arena.h"
#include "util/hits.h"
#include "util/log.h"

#define AUTH_MAX_QUERIES 200
#define MAX_BASES 8

struct auth_state {
	bool spf, dkim, arc, dmarc, enforce;
	char **sealers; /* arc_trusted_sealers, lower case, NULL-ended */
	char authserv_id[256];
	struct dmarc_psl *psl;
	struct dns_opts dopts;
	char *servers;
	unsigned deadline_ms;
};

static _Thread_local struct {
	struct event_base *base;
	struct dns_resolver *r;
} tl_res[MAX_BASES];

struct aq {
	struct auth_scan *as;
	char name[256];
	enum authres_type type;
	bool answered;
	struct aq *next;
};

struct auth_scan {
	struct scan *s;
	const struct auth_state *st;
	struct arena *a;
	struct authres_dns *dns;
	struct dns_ctx *ctx;
	struct aq *inflight;
	unsigned nqueries;
	bool sync; /* finish(): answer everything missing as a timeout */
	bool have_ip, spf_done, helo_done, dkim_done, arc_done, dmarc_done;
	bool done;
	struct spf_req mfrom, helo;
	struct spf_out mfrom_out, helo_out;
	struct dkim_verify *dkim;
	struct arc_verify *arc;
	struct dmarc_in din;
	struct dmarc_ident *dids;
	struct dmarc_out dmarc_out;
	const char *from_domain;
	bool from_multiple;
};

/* One active scan per thread list, for finish(). */
struct pscan {
	struct pscan *next;
	struct auth_scan *as;
};
static _Thread_local struct pscan *tl_active;

/* Unlink p (arena cleanup and finish()): a scan freed without finish()
 * must not leave a dangling entry. */
static void
unlink_ps(void *arg)
{
	for (struct pscan **pp = &tl_active; *pp; pp = &(*pp)->next)
		if (*pp == arg) {
			*pp = ((struct pscan *)arg)->next;
			return;
		}
}

/* SpamAssassin 50_scores.cf, score set 3 (network and Bayes on). */
static const struct {
	const char *name;
	double score;
} scores[] = {
	{ "SPF_PASS", -0.001 },
	{ "SPF_FAIL", 0.001 },
	{ "SPF_SOFTFAIL", 0.665 },
	{ "SPF_NEUTRAL", 0.779 },
	{ "SPF_NONE", 0.001 },
	{ "SPF_HELO_PASS", -0.001 },
	{ "SPF_HELO_FAIL", 0.001 },
	{ "SPF_HELO_SOFTFAIL", 0.732 },
	{ "SPF_HELO_NEUTRAL", 0.112 },
	{ "SPF_HELO_NONE", 0.001 },
	{ "T_SPF_TEMPERROR", 0.01 },
	{ "T_SPF_PERMERROR", 0.01 },
	{ "T_SPF_HELO_TEMPERROR", 0.01 },
	{ "T_SPF_HELO_PERMERROR", 0.01 },
	{ "DKIM_SIGNED", 0.1 },
	{ "DKIM_VALID", -0.1 },
	{ "DKIM_VALID_AU", -0.1 },
	{ "DKIM_VALID_EF", -0.1 },
	{ "DKIM_INVALID", 0.1 },
	{ "ARC_SIGNED", 0.001 },
	{ "ARC_VALID", -0.1 },
	{ "ARC_INVALID", 0.1 },
	{ "DMARC_PASS", -0.001 },
	{ "DMARC_NONE", 0.898 },
	{ "DMARC_QUAR", 1.198 },
	{ "DMARC_REJECT", 1.797 },
	{ "DMARC_MISSING", 0.001 },
};

static void
hit(struct auth_scan *as, const char *name, const char *detail)
{
	for (size_t i = 0; i < sizeof(scores) / sizeof(scores[0]); i++)
		if (strcmp(scores[i].name, name) == 0) {
			hits_add_score(
			    scan_hits(as->s), name, scores[i].score, detail);
			return;
		}
	scan_hit(as->s, name, detail);
}

static void
auth_free(void *arg)
{
	struct auth_state *st = arg;

	if (st == NULL)
		return;
	dmarc_psl_free(st->psl);
	for (char **p = st->sealers; p && *p; p++)
		free(*p);
	free(st->sealers);
	free(st->servers);
	free(st);
}

/* arc_trusted_sealers: domains split by commas or blanks. */
static int
sealers_parse(const char *list, char ***out)
{
	size_t n = 0, cap = 4;
	char **v = calloc(cap + 1, sizeof(*v));
	const char *p = list ? list : "";

	if (v == NULL)
		return -ENOMEM;
	while (*p) {
		size_t len = strcspn(p, ", \t");
		if (len == 0) {
			p++;
			continue;
		}
		char *d = strndup(p, len);
		bool ok = d != NULL && arc_name_ok(bstr_make(d, len));
		for (char *c = d; ok && *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c += 32;
		if (!ok) {
			log_error("arc_trusted_sealers: '%.*s' is not a domain "
				  "name",
			    (int)len, p);
			free(d);
			goto fail;
		}
		if (n == cap) {
			char **w = realloc(v, (2 * cap + 1) * sizeof(*v));
			if (w == NULL) {
				free(d);
				goto fail;
			}
			v = w;
			cap *= 2;
		}
		v[n++] = d;
		v[n] = NULL;
		p += len;
	}
	*out = v;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return -EINVAL;
}

/* Is d one of the trusted sealers or below one? */
static bool
sealer_trusted(const struct auth_state *st, const char *d)
{
	size_t dl = d ? strlen(d) : 0;

	for (char **p = st->sealers; dl && p && *p; p++) {
		size_t pl = strlen(*p);
		if (strcmp(d, *p) == 0 ||
		    (dl > pl && d[dl - pl - 1] == '.' &&
			strcmp(d + dl - pl, *p) == 0))
			return true;
	}
	return false;
}

static int
auth_init(const struct cfg *cfg, void **out)
{
	struct auth_state *st;
	const char *id = cfg_str(cfg, "authserv_id");

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -ENOMEM;
	st->spf = cfg_bool(cfg, "use_spf");
	st->dkim = cfg_bool(cfg, "use_dkim");
	st->arc = cfg_bool(cfg, "use_arc");
	st->dmarc = cfg_bool(cfg, "use_dmarc");
	st->enforce = cfg_bool(cfg, "dmarc_policy_enforce");
	if (!st->spf && !st->dkim && !st->arc && !st->dmarc) {
		free(st);
		return 0;
	}
	if (sealers_parse(cfg_str(cfg, "arc_trusted_sealers"), &st->sealers) <
	    0) {
		auth_free(st);
		return -EINVAL;
	}
	if (authres_servid(id, cfg_str(cfg, "myhostname"), st->authserv_id,
		sizeof(st->authserv_id)) < 0) {
		log_error(
		    "authserv_id: '%s' is not a usable token", st->authserv_id);
		auth_free(st);
		return -EINVAL;
	}
	if (st->dmarc &&
	    (st->psl = dmarc_psl_load(cfg_str(cfg, "psl_file"))) == NULL) {
		log_error("psl_file: cannot load the Public Suffix List");
		auth_free(st);
		return -EINVAL;
	}
	if ((st->servers = strdup(cfg_str(cfg, "dns_servers"))) == NULL) {
		auth_free(st);
		return -ENOMEM;
	}
	st->dopts.servers = st->servers;
	st->dopts.timeout_ms = (unsigned)cfg_time_ms(cfg, "dns_query_timeout");
	st->dopts.tries = (unsigned)cfg_int(cfg, "dns_tries");
	st->dopts.cache_max = (size_t)cfg_int(cfg, "dns_cache_size");
	st->deadline_ms = (unsigned)cfg_time_ms(cfg, "dns_timeout");
	*out = st;
	return 0;
}

static struct dns_resolver *
resolver_for(struct event_base *base, const struct auth_state *st)
{
	size_t i;

	for (i = 0; i < MAX_BASES && tl_res[i].base; i++)
		if (tl_res[i].base == base)
			return tl_res[i].r;
	if (i == MAX_BASES)
		return NULL;
	if (dns_resolver_new(base, &st->dopts, &tl_res[i].r) < 0)
		return NULL;
	tl_res[i].base = base;
	return tl_res[i].r;
}

static void advance(struct auth_scan *);

static void
on_answer(const struct dns_result *r, void *arg)
{
	struct aq *q = arg;
	struct auth_scan *as = q->as;

	q->answered = true;
	authres_dns_put_result(as->dns, q->name, q->type, r);
	/* Run again before saying this lookup is done, so follow-up
	 * lookups are pending first and the scan does not end early. */
	advance(as);
	scan_pending_done(as->s);
}

/* Send the lookups the evaluators asked for. */
static void
send_wanted(struct auth_scan *as)
{
	size_t n;
	const struct authres_query *w = authres_dns_wanted(as->dns, &n);

	for (size_t i = 0; i < n; i++) {
		struct aq *q;
		bool dup = false;
		int rc;

		for (q = as->inflight; q; q = q->next)
			if (q->type == w[i].type &&
			    strcmp(q->name, w[i].name) == 0)
				dup = true;
		if (dup)
			continue;
		if (as->sync || as->ctx == NULL ||
		    as->nqueries >= AUTH_MAX_QUERIES ||
		    (q = arena_calloc(as->a, 1, sizeof(*q))) == NULL) {
			authres_dns_put(as->dns, w[i].name, w[i].type,
			    AUTHRES_DNS_TIMEOUT, NULL, 0);
			continue;
		}
		q->as = as;
		memcpy(q->name, w[i].name, sizeof(q->name));
		q->type = w[i].type;
		scan_pending_add(as->s);
		if ((rc = dns_query(as->ctx, q->name, (uint16_t)q->type,
			 on_answer, q)) < 0) {
			/* -EINVAL: a name plugins/dns does not send (a
			 * space from an SPF macro, a label over 63 octets):
			 * no such name. Anything else is our failure. */
			scan_pending_done(as->s);
			authres_dns_put(as->dns, w[i].name, w[i].type,
			    rc == -EINVAL ? AUTHRES_DNS_NXDOMAIN
					  : AUTHRES_DNS_SERVFAIL,
			    NULL, 0);
			continue;
		}
		as->nqueries++;
		q->next = as->inflight;
		as->inflight = q;
	}
	authres_dns_clear_wanted(as->dns);
}

static int
spf_step(
    struct auth_scan *as, struct spf_req *rq, struct spf_out *o, bool *done)
{
	int rc;

	if (*done)
		return 0;
	rc = spf_check(as->a, rq, as->dns, o);
	if (rc == -EAGAIN)
		return rc;
	if (rc < 0) {
		memset(o, 0, sizeof(*o));
		o->result = SPF_RES_TEMPERROR;
		o->problem = "out of memory";
	}
	*done = true;
	return 0;
}

/* DMARC's view of SPF and DKIM, set once both are final. */
static void
prepare_dmarc(struct auth_scan *as)
{
	const struct envelope *env = scan_envelope(as->s);
	bool null_sender =
	    env == NULL || env->mail_from == NULL || *env->mail_from == '\0';
	size_t n = as->dkim ? dkim_sig_count(as->dkim) : 0;

	/* 7489 4.1: SPF's MAIL FROM identity, or HELO for a null sender. */
	if (null_sender) {
		as->din.spf.domain = as->helo.helo;
		as->din.spf.pass = as->helo_out.result == SPF_RES_PASS;
	} else {
		as->din.spf.domain = as->mfrom_out.domain;
		as->din.spf.pass = as->mfrom_out.result == SPF_RES_PASS;
	}
	if (n && (as->dids = arena_calloc(as->a, n, sizeof(*as->dids)))) {
		for (size_t i = 0; i < n; i++) {
			const struct dkim_sig *sg = dkim_sig_at(as->dkim, i);
			as->dids[i].domain = sg->d;
			as->dids[i].pass = sg->result == DKIM_PASS;
		}
		as->din.dkim = as->dids;
		as->din.ndkim = n;
	}
}

/* verifier_round - a DKIM or ARC run's return: it waits for DNS
 * (-EAGAIN), or it is final */
static void
verifier_round(int rc, bool *done, bool *need)
{
	if (rc == -EAGAIN)
		*need = true;
	else
		*done = true;
}

/* advance - run every evaluator that is not final; send what they miss.
 * In sync mode (finish) loop until all are final. */
static void
advance(struct auth_scan *as)
{
	for (int round = 0; round < 64 && !as->done; round++) {
		bool need = false;
		int rc;

		authres_dns_clear_wanted(as->dns);
		if (spf_step(as, &as->mfrom, &as->mfrom_out, &as->spf_done) < 0)
			need = true;
		if (spf_step(as, &as->helo, &as->helo_out, &as->helo_done) < 0)
			need = true;
		if (!as->dkim_done)
			verifier_round(dkim_verify_run(as->dkim, as->dns),
			    &as->dkim_done, &need);
		if (!as->arc_done)
			verifier_round(arc_verify_run(as->arc, as->dns),
			    &as->arc_done, &need);
		/* DMARC's record lookups depend only on the From domain:
		 * run it every round so they go out with the first batch;
		 * its result counts once SPF and DKIM are final. */
		if (!as->dmarc_done) {
			bool inputs_final = !need;
			prepare_dmarc(as);
			rc = dmarc_check(as->st->psl, as->a, &as->din, as->dns,
			    &as->dmarc_out);
			if (rc == -EAGAIN)
				need = true;
			else if (inputs_final) {
				if (rc < 0)
					as->dmarc_out.result =
					    DMARC_RES_TEMPERROR;
				as->dmarc_done = true;
			}
		}
		if (!need) {
			as->done = true;
			break;
		}
		send_wanted(as);
		if (!as->sync)
			break;
	}
}

static const char *
domain_of(struct arena *a, const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;

	if (at == NULL || at[1] == '\0')
		return NULL;
	return arena_strndup(a, at + 1, strlen(at + 1));
}

static void
auth_start(struct scan *s, void *state)
{
	const struct auth_state *st = state;
	struct arena *a = scan_arena(s);
	struct msg *m = scan_msg(s);
	const struct envelope *env = scan_envelope(s);
	struct auth_scan *as;
	struct dns_resolver *r;
	struct pscan *p;
	struct netaddr ip;
	const char *helo = env ? env->helo : NULL;
	bool have_ip = false;

	/* Without an event loop (filterctl check) there is no DNS: leave
	 * authentication out rather than report temperrors. */
	if (st == NULL || m == NULL || scan_evbase(s) == NULL)
		return;
	if ((as = arena_calloc(a, 1, sizeof(*as))) == NULL ||
	    (as->dns = authres_dns_new(a)) == NULL ||
	    (p = arena_calloc(a, 1, sizeof(*p))) == NULL) {
		log_warn("%s: auth skipped: out of memory", scan_qid(s));
		return;
	}
	as->s = s;
	as->st = st;
	as->a = a;
	/* The client: XFORWARD/milter first, else the last external relay. */
	if (env && env->client_addr &&
	    netaddr_parse(env->client_addr, strlen(env->client_addr), &ip) == 0)
		have_ip = true;
	else {
		const struct msg_relay *le = msg_last_external(m);
		if (le && le->has_ip) {
			ip = le->ip;
			have_ip = true;
			if (helo == NULL && le->helo.len)
				helo = arena_strndup(
				    a, (const char *)le->helo.p, le->helo.len);
		}
	}
	as->have_ip = have_ip;
	time_t now = time(NULL);
	if (st->spf && have_ip) {
		as->mfrom = (struct spf_req){ .ip = ip,
			.sender = env ? env->mail_from : NULL,
			.helo = helo,
			.receiver = st->authserv_id,
			.identity = SPF_ID_MAILFROM,
			.now = now };
		as->helo = as->mfrom;
		as->helo.identity = SPF_ID_HELO;
		/* 2.3: HELO check only for a name (not an address
		 * literal). */
		as->helo_done = helo == NULL || *helo == '\0' || *helo == '[';
	} else
		as->spf_done = as->helo_done = true;
	if (as->helo_done)
		as->helo_out.result = SPF_RES_NONE;
	if (st->dkim) {
		struct bstr full = msg_full(m);
		if (dkim_verify_new(a, full.p, full.len, now, &as->dkim) < 0)
			as->dkim_done = true;
	} else
		as->dkim_done = true;
	if (as->dkim == NULL)
		as->dkim_done = true;
	if (st->arc) {
		struct bstr full = msg_full(m);
		if (arc_verify_new(a, full.p, full.len, &as->arc) < 0)
			as->arc = NULL;
	}
	if (as->arc == NULL)
		as->arc_done = true;

	/* DMARC input: the From domain(s) (6.6.1). */
	size_t nfrom = 0;
	const struct msg_addr *from = msg_addrs(m, "From", &nfrom);
	for (size_t i = 0; i < nfrom; i++) {
		if (from[i].domain.len == 0)
			continue;
		const char *d = arena_strndup(
		    a, (const char *)from[i].domain.p, from[i].domain.len);
		if (as->from_domain == NULL)
			as->from_domain = d;
		else if (d && strcasecmp(d, as->from_domain) != 0)
			as->from_multiple = true;
	}
	if (!st->dmarc)
		as->dmarc_done = true;

	if (scan_evbase(s) != NULL && (r = resolver_for(scan_evbase(s), st)))
		as->ctx = dns_ctx_new(r, a, st->deadline_ms);
	if (as->ctx == NULL)
		as->sync = true; /* no DNS: everything missing times out */
	p->as = as;
	if (arena_defer(a, unlink_ps, p) < 0) {
		log_warn("%s: auth skipped: out of memory", scan_qid(s));
		return;
	}
	p->next = tl_active;
	tl_active = p;
	as->din.from_domain = as->from_domain;
	as->din.from_multiple = as->from_multiple;
	as->din.roll = arc4random_uniform(100); /* 7489 6.6.4 sampling */
	advance(as);
}

static void
spf_hits(struct auth_scan *as, const struct spf_out *o, bool helo)
{
	static const char *const mf[] = { "SPF_NONE", "SPF_NEUTRAL", "SPF_PASS",
		"SPF_FAIL", "SPF_SOFTFAIL", "T_SPF_TEMPERROR",
		"T_SPF_PERMERROR" };
	static const char *const hl[] = { "SPF_HELO_NONE", "SPF_HELO_NEUTRAL",
		"SPF_HELO_PASS", "SPF_HELO_FAIL", "SPF_HELO_SOFTFAIL",
		"T_SPF_HELO_TEMPERROR", "T_SPF_HELO_PERMERROR" };

	hit(as, (helo ? hl : mf)[o->result], o->domain);
}

static void
results(struct auth_scan *as)
{
	const struct auth_state *st = as->st;
	const struct envelope *env = scan_envelope(as->s);
	struct buf ar, rs;
	const char *fold = "\r\n\t";
	bool null_sender =
	    env == NULL || env->mail_from == NULL || *env->mail_from == '\0';
	int rc = 0;

	buf_init(&ar, 16384);
	buf_init(&rs, 4096);
	rc = authres_start(&ar, st->authserv_id);
	/* SPF */
	if (st->spf && as->have_ip) {
		const struct spf_out *o =
		    null_sender ? &as->helo_out : &as->mfrom_out;
		const struct spf_req *rq = null_sender ? &as->helo : &as->mfrom;
		if (!null_sender)
			spf_hits(as, &as->mfrom_out, false);
		if (as->helo.helo && *as->helo.helo && *as->helo.helo != '[')
			spf_hits(as, &as->helo_out, true);
		const char *props[] = { null_sender ? "smtp.helo"
						    : "smtp.mailfrom",
			null_sender ? rq->helo : o->sender };
		if (rc == 0)
			rc = authres_add(&ar, fold, "spf",
			    spf_result_str(o->result), o->problem, props, 1);
		if (rc == 0 && spf_received_header(&rs, rq, o) == 0 &&
		    buf_cstr(&rs) == 0)
			scan_note(as->s, "received-spf", (char *)rs.p);
	}
	/* DKIM */
	if (st->dkim && as->dkim) {
		size_t n = dkim_sig_count(as->dkim);
		bool valid = false, broken = false, au = false, ef = false;
		const char *efd = env ? domain_of(as->a, env->mail_from) : NULL;
		for (size_t i = 0; i < n && rc == 0; i++) {
			const struct dkim_sig *sg = dkim_sig_at(as->dkim, i);
			const char *props[] = { "header.d", sg->d, "header.i",
				sg->i, "header.s", sg->s, "header.a", sg->a,
				"header.b", sg->b8 };
			rc = authres_add(&ar, fold, "dkim",
			    dkim_result_str(sg->result), sg->reason, props, 5);
			/* A DNS failure says nothing about the signature:
			 * only fail/permerror make DKIM_INVALID. */
			if (sg->result == DKIM_FAIL ||
			    sg->result == DKIM_PERMERROR)
				broken = true;
			if (sg->result != DKIM_PASS)
				continue;
			valid = true;
			if (as->from_domain &&
			    strcasecmp(sg->d, as->from_domain) == 0)
				au = true;
			if (efd && strcasecmp(sg->d, efd) == 0)
				ef = true;
		}
		if (n == 0 && rc == 0)
			rc = authres_add(
			    &ar, fold, "dkim", "none", NULL, NULL, 0);
		if (n) {
			hit(as, "DKIM_SIGNED", NULL);
			if (valid)
				hit(as, "DKIM_VALID", NULL);
			else if (broken)
				hit(as, "DKIM_INVALID", NULL);
			if (au)
				hit(as, "DKIM_VALID_AU", NULL);
			if (ef)
				hit(as, "DKIM_VALID_EF", NULL);
		}
	}
	/* ARC (RFC 8617): the chain's status; a temperror judges nothing */
	const struct arc_out *arc = as->arc ? arc_verify_out(as->arc) : NULL;
	if (st->arc && arc) {
		char why[300] = "";
		if (arc->result == ARC_RES_PASS)
			snprintf(why, sizeof(why), "i=%u d=%s", arc->sets,
			    arc->sealer ? arc->sealer : "");
		else if (arc->reason)
			snprintf(why, sizeof(why), "%s", arc->reason);
		if (rc == 0)
			rc = authres_add(&ar, fold, "arc",
			    arc_result_str(arc->result), *why ? why : NULL,
			    NULL, 0);
		if (arc->sets) {
			hit(as, "ARC_SIGNED", NULL);
			if (arc->result == ARC_RES_PASS)
				hit(as, "ARC_VALID", arc->sealer);
			else if (arc->result == ARC_RES_FAIL)
				hit(as, "ARC_INVALID", NULL);
		}
	}
	/* DMARC */
	if (st->dmarc) {
		const struct dmarc_out *d = &as->dmarc_out;
		char why[400] = "";
		/* RFC 8617 7.2.1 / RFC 7489 6.7: a failure the trusted
		 * intermediary that sealed last saw as a DMARC pass (a list
		 * that rewrote the subject or footer) is overridden: no
		 * DMARC_* failure hit, no reject. */
		bool override = d->result == DMARC_RES_FAIL && arc &&
		    arc->result == ARC_RES_PASS && arc->aar_dmarc_pass &&
		    sealer_trusted(st, arc->sealer);
		if (d->have_policy)
			snprintf(why, sizeof(why), "p=%s dis=%s",
			    dmarc_policy_str(d->policy),
			    dmarc_policy_str(
				override ? DMARC_P_NONE : d->disposition));
		if (override)
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
			    "%sarc override: %s sealed a pass", *why ? " " : "",
			    arc->sealer);
		const char *props[] = { "header.from",
			d->from_domain ? d->from_domain : as->from_domain };
		if (rc == 0)
			rc = authres_add(&ar, fold, "dmarc",
			    dmarc_result_str(d->result),
			    *why ? why : d->problem, props, 1);
		switch (d->result) {
		case DMARC_RES_PASS:
			hit(as, "DMARC_PASS", d->policy_domain);
			break;
		case DMARC_RES_FAIL:
			if (override) {
				log_info("%s: auth: DMARC fail for %s "
					 "overridden: ARC sealer %s saw a pass",
				    scan_qid(as->s),
				    d->from_domain ? d->from_domain : "?",
				    arc->sealer);
				break;
			}
			hit(as,
			    d->disposition == DMARC_P_REJECT ? "DMARC_REJECT"
				: d->disposition == DMARC_P_QUARANTINE
				? "DMARC_QUAR"
				: "DMARC_NONE",
			    d->policy_domain);
			if (st->enforce && d->disposition == DMARC_P_REJECT) {
				char msg[300];
				snprintf(msg, sizeof(msg),
				    "550 5.7.1 rejected "
				    "by the DMARC policy of %s",
				    d->from_domain);
				scan_note(as->s, "auth-reject", msg);
			}
			break;
		case DMARC_RES_NONE:
			if (d->problem &&
			    strcmp(d->problem, "no DMARC record") == 0)
				hit(as, "DMARC_MISSING", NULL);
			break;
		default:
			break;
		}
	}
	if (rc == 0)
		rc = authres_finish(&ar);
	if (rc == 0 && buf_cstr(&ar) == 0)
		scan_note(as->s, "authres", (char *)ar.p);
	else
		log_warn("%s: auth: Authentication-Results too long",
		    scan_qid(as->s));
	buf_free(&ar);
	buf_free(&rs);
}

static void
auth_finish(struct scan *s, void *state)
{
	struct pscan **pp, *p;
	struct auth_scan *as;
	unsigned late = 0;

	(void)state;
	for (pp = &tl_active; (p = *pp) != NULL; pp = &p->next)
		if (p->as->s == s)
			break;
	if (p == NULL)
		return;
	*pp = p->next;
	as = p->as;
	if (!as->done) {
		/* Deadline: what has no answer counts as a timeout. */
		for (struct aq *q = as->inflight; q; q = q->next)
			if (!q->answered) {
				late++;
				authres_dns_put(as->dns, q->name, q->type,
				    AUTHRES_DNS_TIMEOUT, NULL, 0);
			}
		as->sync = true;
	}
	if (as->ctx)
		dns_ctx_cancel(as->ctx);
	as->sync = true;
	/* DMARC last: it needs SPF and DKIM final. */
	advance(as);
	if (late)
		log_info("%s: auth: %u lookups unanswered by the deadline: "
			 "temperror",
		    scan_qid(s), late);
	results(as);
}

const struct check check_auth = {
	.name = "auth",
	.init = auth_init,
	.start = auth_start,
	.finish = auth_finish,
	.free = auth_free,
};
