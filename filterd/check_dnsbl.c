/*
 * filterd/check_dnsbl.c - the DNSBL/URIBL check: plugins/dnsbl lookups on
 * plugins/dns, started before the CPU checks, waited for until dns_timeout
 *
 * init() (master, before fork) loads dnsbl_config, then the list rules
 * of the SA rule files (rules_dir, rules_local: check_rbl evals, urirhssub
 * ...; check_rules leaves those evals to us) into a read-only dnsbl_set
 * and checks dns_servers. The resolver is opened lazily, one per
 * event base per thread (workers: one; milter threads: one each), the
 * first time start() sees that base. Per message: one dns_ctx on the scan
 * arena with the dns_timeout deadline; every lookup is a scan_pending_add()
 * and ends in scan_pending_done(). finish() cancels what is still out
 * (scan.h: after finish() nothing may touch the scan) and logs one line if
 * lookups failed or missed the deadline. A list answering with a Spamhaus
 * error code or outside 127/8 is logged once as a configuration error.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <event2/event.h>

#include "filterd/cfg.h"
#include "filterd/checks.h"
#include "filterd/metrics.h"
#include "mail/msg.h"
#include "plugins/dns.h"
#include "plugins/dnsbl.h"
#include "util/arena.h"
#include "util/hits.h"
#include "util/log.h"

#define MAX_BASES 8

struct dnsbl_state {
	struct dnsbl_set *set;
	struct dns_opts dopts;
	char *servers;
	unsigned deadline_ms;
};

/* One resolver per event base, per thread: nothing shared across threads. */
static _Thread_local struct {
	struct event_base *base;
	struct dns_resolver *r;
	char servers[256]; /* as configured when last used */
} tl_res[MAX_BASES];

/* Scans of this thread with lookups out, for finish(). */
/* Per list zone of one message: lookups out, failed, late. Zones beyond
 * PS_NZONES (and the uridnsbl name server steps, zone NULL) share the
 * last slot, counted in the totals only. */
#define PS_NZONES 16

struct pzone {
	const char *zone; /* the set's string: stable while we scan */
	unsigned pending, failed, late;
};

struct pscan {
	struct pscan *next, *prev;
	struct scan *s;
	struct dns_ctx *ctx;
	unsigned failed, late;
	struct pzone zones[PS_NZONES];
	size_t nzones;
	bool linked;
};
static _Thread_local struct pscan *tl_active;

static void
dnsbl_free(void *arg)
{
	struct dnsbl_state *st = arg;

	if (st == NULL)
		return;
	dnsbl_set_free(st->set);
	free(st->servers);
	free(st);
}

/* rules_file - the list rules (check_rbl evals, urirhssub ...) of one SA
 * rule file; other lines belong to check_rules. A bad list rule is logged
 * with file:line and skipped, as check_rules does with its own. */
static void
rules_file(struct dnsbl_set *set, const char *path)
{
	char line[1024], why[256];
	FILE *f = fopen(path, "r");
	unsigned lineno = 0;

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		/* cheap filter: most rule lines are not ours */
		if (strstr(line, "rbl") == NULL &&
		    strstr(line, "uri") == NULL &&
		    strncmp(line, "score", 5) != 0)
			continue;
		why[0] = '\0';
		if (dnsbl_set_line(set, line, why, sizeof(why)) < 0)
			log_warn(
			    "%s:%u: %s (list rule skipped)", path, lineno, why);
	}
	fclose(f);
}

static int
cf_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 3 && strcmp(d->d_name + n - 3, ".cf") == 0;
}

/* rules_files - list rules from rules_dir (its *.cf sorted, as
 * check_rules reads them) and rules_local, after dnsbl_config */
static void
rules_files(struct dnsbl_set *set, const struct cfg *cfg)
{
	const char *dir = cfg_str(cfg, "rules_dir");
	const char *local = cfg_str(cfg, "rules_local");
	struct dirent **ents;
	struct stat sb;
	char path[4096];
	int n;

	if (dir != NULL && *dir != '\0' && stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			rules_file(set, dir);
		} else if ((n = scandir(dir, &ents, cf_filter, alphasort)) >=
		    0) {
			for (int i = 0; i < n; i++) {
				snprintf(path, sizeof(path), "%s/%s", dir,
				    ents[i]->d_name);
				rules_file(set, path);
				free(ents[i]);
			}
			free(ents);
		}
	}
	if (local != NULL && *local != '\0')
		rules_file(set, local);
}

static int
dnsbl_init(const struct cfg *cfg, void **out)
{
	struct dnsbl_opts o = { 0 };
	struct dnsbl_state *st;
	struct event_base *b;
	struct dns_resolver *r;
	const char *path = cfg_str(cfg, "dnsbl_config");
	char err[512];
	int rc;

	*out = NULL;
	if (!cfg_bool(cfg, "use_dnsbl"))
		return 0;
	if (path == NULL)
		path = "";
	/* The default dnsbl_config may be absent (no lists installed); a
	 * path someone wrote into the config must exist. */
	if ((st = calloc(1, sizeof(*st))) == NULL ||
	    (st->set = dnsbl_set_new()) == NULL) {
		dnsbl_free(st);
		return -ENOMEM;
	}
	if (*path != '\0' &&
	    !(cfg_is_default(cfg, "dnsbl_config") && access(path, R_OK) != 0) &&
	    (rc = dnsbl_set_load(st->set, path, err, sizeof(err))) < 0) {
		log_error("dnsbl_config: %s", err);
		goto out_free;
	}
	/* SA rule files may carry list rules too (20_dnsbl_tests.cf style);
	 * the rules engine leaves check_rbl evals to us. */
	rules_files(st->set, cfg);
	if (dnsbl_set_rules(st->set) == 0) {
		dnsbl_free(st);
		return 0;
	}
	o.dqs_key = cfg_str(cfg, "dnsbl_dqs_key");
	o.all_untrusted =
	    strcmp(cfg_str(cfg, "dnsbl_relays"), "untrusted") == 0;
	o.uri_max = (unsigned)cfg_int(cfg, "uribl_max_domains");
	o.uri_skip = cfg_str(cfg, "uribl_skip_domains");
	o.psl_file = cfg_str(cfg, "psl_file");
	if ((rc = dnsbl_set_finish(st->set, &o, err, sizeof(err))) < 0) {
		log_error("%s: %s", path, err);
		goto out_free;
	}
	if ((st->servers = strdup(cfg_str(cfg, "dns_servers"))) == NULL) {
		rc = -ENOMEM;
		goto out_free;
	}
	st->dopts.servers = st->servers;
	st->dopts.timeout_ms = (unsigned)cfg_time_ms(cfg, "dns_query_timeout");
	st->dopts.tries = (unsigned)cfg_int(cfg, "dns_tries");
	st->dopts.cache_max = (size_t)cfg_int(cfg, "dns_cache_size");
	st->deadline_ms = (unsigned)cfg_time_ms(cfg, "dns_timeout");
	/* Open a resolver once now so a bad dns_servers stops the load. */
	if ((b = event_base_new()) == NULL) {
		rc = -ENOMEM;
		goto out_free;
	}
	rc = dns_resolver_new(b, &st->dopts, &r);
	dns_resolver_free(r);
	event_base_free(b);
	if (rc < 0) {
		log_error("dns_servers: cannot use '%s'", st->servers);
		goto out_free;
	}
	*out = st;
	return 0;
out_free:
	dnsbl_free(st);
	return rc;
}

static struct dns_resolver *
resolver_for(struct event_base *base, const struct dnsbl_state *st)
{
	size_t i;

	for (i = 0; i < MAX_BASES && tl_res[i].base; i++) {
		if (tl_res[i].base != base)
			continue;
		/* A reload may change dns_servers; the cache stays. */
		if (strcmp(tl_res[i].servers, st->servers) != 0 &&
		    st->servers[0] != '\0' &&
		    dns_resolver_set_servers(tl_res[i].r, st->servers) == 0)
			snprintf(tl_res[i].servers, sizeof(tl_res[i].servers),
			    "%s", st->servers);
		return tl_res[i].r;
	}
	if (i == MAX_BASES)
		return NULL;
	if (dns_resolver_new(base, &st->dopts, &tl_res[i].r) < 0)
		return NULL;
	tl_res[i].base = base;
	snprintf(
	    tl_res[i].servers, sizeof(tl_res[i].servers), "%s", st->servers);
	return tl_res[i].r;
}

static void
unlink_ps(struct pscan *p)
{
	if (!p->linked)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		tl_active = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->linked = false;
}

static void
ps_cleanup(void *arg)
{
	unlink_ps(arg);
}

static void
h_hit(void *arg, const char *rule, const char *detail, double score,
    bool has_score)
{
	struct pscan *p = arg;

	if (has_score)
		hits_add_score(scan_hits(p->s), rule, score, detail);
	else
		scan_hit(p->s, rule, detail);
}

/* pzone - the counters of zone in p (the shared last slot for NULL or
 * when full) */
static struct pzone *
pzone(struct pscan *p, const char *zone)
{
	struct pzone *other = &p->zones[PS_NZONES - 1];

	if (zone == NULL)
		return other;
	for (size_t i = 0; i < p->nzones; i++)
		if (p->zones[i].zone == zone ||
		    strcmp(p->zones[i].zone, zone) == 0)
			return &p->zones[i];
	if (p->nzones == PS_NZONES - 1)
		return other;
	p->zones[p->nzones].zone = zone;
	return &p->zones[p->nzones++];
}

static void
h_add(void *arg, const char *zone)
{
	struct pscan *p = arg;

	metrics_dns_query(zone);
	pzone(p, zone)->pending++;
	scan_pending_add(p->s);
}

static void
h_done(void *arg, const char *zone)
{
	struct pscan *p = arg;
	struct pzone *z = pzone(p, zone);

	if (z->pending > 0)
		z->pending--;
	scan_pending_done(p->s);
}

static void
h_config_error(void *arg, const char *zone, const char *answer)
{
	struct pscan *p = arg;

	metrics_dns_blocked(zone);
	log_error("%s: dnsbl: list %s answered %s, which is never a listing "
		  "(query refused, public resolver or typo in the zone); check "
		  "dns_servers and the list config",
	    scan_qid(p->s), zone, answer);
}

static void
h_failed(void *arg, const char *zone, const char *qname, enum dns_status st,
    bool deadline)
{
	struct pscan *p = arg;
	struct pzone *z = pzone(p, zone);

	(void)qname;
	(void)st;
	if (deadline) {
		p->late++;
		z->late++;
	} else {
		p->failed++;
		z->failed++;
	}
}

static void
str_domain(struct arena *a, const char *addr, size_t len, const char **out)
{
	const char *at = memrchr(addr, '@', len);

	*out = NULL;
	if (at != NULL && (size_t)(at - addr) + 1 < len)
		*out = arena_strndup(a, at + 1, len - (size_t)(at - addr) - 1);
}

static void
dnsbl_start_scan(struct scan *s, void *state)
{
	const struct dnsbl_state *st = state;
	struct dnsbl_hooks h = { h_hit, h_add, h_done, h_config_error, h_failed,
		NULL };
	struct dnsbl_input in = { 0 };
	struct arena *a = scan_arena(s);
	struct msg *m = scan_msg(s);
	const struct msg_relay *le, *un;
	const struct envelope *env = scan_envelope(s);
	const struct msg_addr *from;
	struct dns_resolver *r;
	struct netaddr *ips;
	struct pscan *p;
	size_t nun = 0, nfrom = 0;
	int rc;

	if (st == NULL || scan_evbase(s) == NULL)
		return;
	if ((r = resolver_for(scan_evbase(s), st)) == NULL) {
		log_warn("%s: dnsbl skipped: no resolver", scan_qid(s));
		return;
	}
	if ((le = msg_last_external(m)) != NULL && le->has_ip)
		in.last_external = &le->ip;
	un = msg_untrusted_relays(m, &nun);
	if (nun > 0 && (ips = arena_calloc(a, nun, sizeof(*ips))) != NULL) {
		for (size_t i = 0; i < nun; i++)
			if (un[i].has_ip)
				ips[in.nuntrusted++] = un[i].ip;
		in.untrusted = ips;
	}
	if (env->mail_from != NULL)
		str_domain(a, env->mail_from, strlen(env->mail_from),
		    &in.envfrom_domain);
	if ((from = msg_addrs(m, "From", &nfrom)) != NULL && nfrom > 0 &&
	    from[0].domain.len > 0)
		in.from_domain = arena_strndup(
		    a, (const char *)from[0].domain.p, from[0].domain.len);
	/* Hosts of every URI, in message order: msg_uri_hosts() keeps only
	 * hosts under known TLDs, while a list may well carry others; the
	 * PSL reduction and uribl_max_domains bound what goes out. */
	{
		size_t nu = 0;
		const struct msg_uri *u = msg_uris(m, &nu);
		struct bstr *hv;

		if (nu > 0 && (hv = arena_calloc(a, nu, sizeof(*hv))) != NULL) {
			for (size_t i = 0; i < nu; i++)
				if (u[i].host.len > 0)
					hv[in.nuri_hosts++] = u[i].host;
			in.uri_hosts = hv;
		}
	}

	if ((p = arena_calloc(a, 1, sizeof(*p))) == NULL ||
	    (p->ctx = dns_ctx_new(r, a, st->deadline_ms)) == NULL ||
	    arena_defer(a, ps_cleanup, p) < 0) {
		log_warn("%s: dnsbl skipped: out of memory", scan_qid(s));
		return;
	}
	p->s = s;
	p->next = tl_active;
	if (tl_active)
		tl_active->prev = p;
	tl_active = p;
	p->linked = true;
	h.arg = p;
	if ((rc = dnsbl_start(st->set, p->ctx, a, &in, &h)) < 0)
		log_warn("%s: dnsbl: %s", scan_qid(s), strerror(-rc));
}

static void
dnsbl_finish(struct scan *s, void *state)
{
	const struct dnsbl_state *st = state;
	struct pscan *p;

	for (p = tl_active; p; p = p->next)
		if (p->s == s)
			break;
	if (p == NULL)
		return;
	/* Still out after the scan deadline: no answer, and no callback. */
	p->late += (unsigned)dns_ctx_pending(p->ctx);
	dns_ctx_cancel(p->ctx);
	for (size_t i = 0; i < PS_NZONES; i++) {
		struct pzone *z = &p->zones[i];

		/* the last slot has no zone of its own: totals only */
		metrics_dns_failed(i < p->nzones ? z->zone : NULL, z->failed,
		    z->late + z->pending);
	}
	if (p->failed || p->late)
		log_info("%s: dnsbl: lookups failed=%u late=%u (dns_timeout="
			 "%ums): counted as not listed",
		    scan_qid(s), p->failed, p->late, st->deadline_ms);
	unlink_ps(p);
}

const struct check check_dnsbl = {
	.name = "dnsbl",
	.init = dnsbl_init,
	.start = dnsbl_start_scan,
	.finish = dnsbl_finish,
	.free = dnsbl_free,
};
