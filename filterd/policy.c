/*
 * filterd/policy.c - policy banks, the recipient policy map, and the
 * split of one message into one delivery per policy group
 *
 * Built in the master (policy_load) from the files policy_banks and
 * recipient_policy name; a bank or map entry is a list of key = value
 * overrides applied to a copy of the config with cfg_set(), so every
 * value is checked exactly like filterd.conf (an error stops the load
 * with file:line). Map entries with the same overrides share one class,
 * and each bank holds one config per class, so a message never builds a
 * config. The split (amavis: one delivery per policy group) runs the
 * groups one after the other in the worker's loop; each group gets its
 * own header rewrite (levels, subject tag) and its own action. Memory:
 * malloc, owned by the policy / the split. Logging: one line per group
 * of a split message (queue id first); nothing else.
 */
#include "filterd/policy.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filterd/cfg.h"
#include "filterd/notify.h"
#include "filterd/quarantine.h"
#include "filterd/scan.h"
#include "util/log.h"
#include "util/netaddr.h"

#define POLICY_MAX_CLASSES 256
#define POLICY_MAX_BANKS 64

struct policy *policy_current;

struct ovr {
	char *key, *val;
};

struct oset {
	struct ovr *o;
	size_t n;
	char *canon; /* "k=v\n..." for de-duplication */
};

struct rentry {
	char *pat;   /* lowercase */
	size_t cls;
};

enum bkind { B_DEFAULT, B_MYNETS, B_ORIGINATING, B_PORT };

struct bank {
	struct policy_bank pub;
	enum bkind kind;
	unsigned port;
	char name[32];
	struct oset set;
	struct cfg *cfg;         /* NULL for the default bank */
	struct checks *checks;   /* own generation, or NULL */
	struct cfg **cls_cfg;    /* one per class */
};

struct policy {
	const struct cfg *base;
	struct bank *banks;      /* [0] = default */
	size_t nbanks;
	struct oset *cls;
	size_t ncls;
	struct rentry *map;      /* sorted by pat */
	size_t nmap;
};

/* Keys a map entry may set; a bank may set any key. */
static const char *const action_keys[] = { "tag_level", "tag2_level",
	"kill_level", "final_spam_destiny", "spam_subject_tag", "bypass" };

static bool
is_action_key(const char *k)
{
	for (size_t i = 0; i < sizeof(action_keys) / sizeof(*action_keys); i++)
		if (strcmp(k, action_keys[i]) == 0)
			return true;
	return false;
}

static void
oset_free(struct oset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->o[i].key);
		free(s->o[i].val);
	}
	free(s->o);
	free(s->canon);
	memset(s, 0, sizeof(*s));
}

static int
oset_add(struct oset *s, const char *k, const char *v)
{
	struct ovr *o = realloc(s->o, (s->n + 1) * sizeof(*o));

	if (o == NULL)
		return -ENOMEM;
	s->o = o;
	o[s->n].key = strdup(k);
	o[s->n].val = strdup(v);
	if (o[s->n].key == NULL || o[s->n].val == NULL) {
		free(o[s->n].key);
		free(o[s->n].val);
		return -ENOMEM;
	}
	s->n++;
	return 0;
}

static int
oset_canon(struct oset *s)
{
	size_t len = 1;
	char *p;

	for (size_t i = 0; i < s->n; i++)
		len += strlen(s->o[i].key) + strlen(s->o[i].val) + 2;
	if ((s->canon = p = malloc(len)) == NULL)
		return -ENOMEM;
	*p = '\0';
	for (size_t i = 0; i < s->n; i++)
		p += sprintf(p, "%s=%s\n", s->o[i].key, s->o[i].val);
	return 0;
}

/* cfg_copy - base with set applied (bypass = yes: nothing is tagged or
 * acted on: every level at its maximum, destiny pass) */
static struct cfg *
cfg_copy(const struct cfg *base, const struct oset *set, char *why,
    size_t whysz)
{
	struct cfg *c = cfg_new();

	if (c == NULL) {
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < cfg_nkeys; i++) {
		const char *k = cfg_keys[i].name;

		if (!cfg_is_default(base, k) &&
		    cfg_set(c, k, cfg_text(base, k), why, whysz) < 0)
			return cfg_free(c);
	}
	for (size_t i = 0; set && i < set->n; i++) {
		const struct ovr *o = &set->o[i];

		if (strcmp(o->key, "bypass") == 0) {
			static const char *const by[][2] = {
				{ "tag_level", "1000" }, { "tag2_level", "1000" },
				{ "kill_level", "1000" },
				{ "final_spam_destiny", "pass" } };

			if (strcasecmp(o->val, "yes") != 0 &&
			    strcasecmp(o->val, "no") != 0) {
				snprintf(why, whysz, "bypass: yes or no");
				return cfg_free(c);
			}
			for (size_t j = 0; j < 4 &&
			    strcasecmp(o->val, "yes") == 0; j++)
				if (cfg_set(c, by[j][0], by[j][1], why,
				    whysz) < 0)
					return cfg_free(c);
			continue;
		}
		if (cfg_set(c, o->key, o->val, why, whysz) < 0)
			return cfg_free(c);
	}
	return c;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Banks file: NAME key = value ------------------------------------------ */

static struct bank *
bank_get(struct policy *p, const char *name, char *why, size_t whysz)
{
	struct bank b = { 0 };
	char *end;

	for (size_t i = 1; i < p->nbanks; i++)
		if (strcmp(p->banks[i].name, name) == 0)
			return &p->banks[i];
	if (strcmp(name, "MYNETS") == 0) {
		b.kind = B_MYNETS;
	} else if (strcmp(name, "ORIGINATING") == 0) {
		b.kind = B_ORIGINATING;
	} else if (strncmp(name, "port:", 5) == 0) {
		unsigned long v = strtoul(name + 5, &end, 10);

		if (name[5] == '\0' || *end || v == 0 || v > 65535) {
			snprintf(why, whysz, "bad port in bank '%s'", name);
			return NULL;
		}
		b.kind = B_PORT;
		b.port = (unsigned)v;
	} else {
		snprintf(why, whysz, "unknown bank '%s' (MYNETS, ORIGINATING, "
		    "port:N)", name);
		return NULL;
	}
	if (p->nbanks >= POLICY_MAX_BANKS) {
		snprintf(why, whysz, "too many banks");
		return NULL;
	}
	snprintf(b.name, sizeof(b.name), "%s", name);
	p->banks[p->nbanks] = b;
	return &p->banks[p->nbanks++];
}

static int
load_banks(struct policy *p, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	char line[4096], why[512];
	unsigned ln = 0;

	if (f == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *name, *k, *eq;
		struct bank *b;

		ln++;
		if (*s == '\0' || *s == '#')
			continue;
		name = s;
		s += strcspn(s, " \t");
		if (*s)
			*s++ = '\0';
		if ((eq = strchr(s, '=')) == NULL) {
			snprintf(err, errsz, "%s:%u: expected NAME key = value",
			    path, ln);
			goto bad;
		}
		*eq = '\0';
		k = trim(s);
		if ((b = bank_get(p, name, why, sizeof(why))) == NULL) {
			snprintf(err, errsz, "%s:%u: %s", path, ln, why);
			goto bad;
		}
		s = trim(eq + 1);
		if (strlen(s) >= 2 && s[0] == '"' && s[strlen(s) - 1] == '"') {
			s[strlen(s) - 1] = '\0'; /* as filterd.conf */
			s++;
		}
		if (oset_add(&b->set, k, s) < 0) {
			snprintf(err, errsz, "out of memory");
			goto bad;
		}
		/* check the value now, for the line number */
		if ((b->cfg = cfg_free(b->cfg), b->cfg = cfg_copy(p->base,
		    &b->set, why, sizeof(why))) == NULL) {
			snprintf(err, errsz, "%s:%u: %s", path, ln, why);
			goto bad;
		}
	}
	fclose(f);
	return 0;
bad:
	fclose(f);
	return -EINVAL;
}

/* Recipient map: ADDR key=value ... ------------------------------------- */

/* next_kv - "key=value" or key="quoted value"; NULL at the end */
static char *
next_kv(char **sp, char **val)
{
	char *s = *sp, *k, *v;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || *s == '#')
		return NULL;
	k = s;
	while (*s && *s != '=' && !isspace((unsigned char)*s))
		s++;
	if (*s != '=')
		return NULL;
	*s++ = '\0';
	if (*s == '"') {
		v = ++s;
		while (*s && *s != '"')
			s++;
		if (*s != '"')
			return NULL;
		*s++ = '\0';
		*val = v;
	} else {
		v = s;
		while (*s && !isspace((unsigned char)*s))
			s++;
		if (*s)
			*s++ = '\0';
		*val = v;
	}
	*sp = s;
	return k;
}

static int
by_pat(const void *a, const void *b)
{
	return strcmp(((const struct rentry *)a)->pat,
	    ((const struct rentry *)b)->pat);
}

static int
load_map(struct policy *p, const char *path, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	char line[4096], why[512];
	unsigned ln = 0;
	size_t cap = 0;

	if (f == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *pat, *k, *v;
		struct oset set = { 0 };
		struct cfg *test;
		size_t c;

		ln++;
		if (*s == '\0' || *s == '#')
			continue;
		pat = s;
		s += strcspn(s, " \t");
		if (*s)
			*s++ = '\0';
		while ((k = next_kv(&s, &v)) != NULL) {
			if (!is_action_key(k)) {
				snprintf(err, errsz, "%s:%u: '%s' cannot be set "
				    "per recipient", path, ln, k);
				goto bad_set;
			}
			if (oset_add(&set, k, v) < 0)
				goto nomem;
		}
		s = trim(s);
		if (set.n == 0 || (*s && *s != '#')) {
			snprintf(err, errsz, "%s:%u: expected ADDR key=value...",
			    path, ln);
			goto bad_set;
		}
		if ((test = cfg_copy(p->base, &set, why, sizeof(why))) ==
		    NULL) {
			snprintf(err, errsz, "%s:%u: %s", path, ln, why);
			goto bad_set;
		}
		cfg_free(test);
		if (oset_canon(&set) < 0)
			goto nomem;
		for (c = 0; c < p->ncls; c++)
			if (strcmp(p->cls[c].canon, set.canon) == 0)
				break;
		if (c == p->ncls) {
			if (p->ncls == POLICY_MAX_CLASSES) {
				snprintf(err, errsz, "%s:%u: more than %d "
				    "different settings", path, ln,
				    POLICY_MAX_CLASSES);
				goto bad_set;
			}
			p->cls[p->ncls++] = set;
		} else {
			oset_free(&set);
		}
		if (p->nmap == cap) {
			struct rentry *m;

			cap = cap ? cap * 2 : 64;
			if ((m = realloc(p->map, cap * sizeof(*m))) == NULL)
				goto nomem;
			p->map = m;
		}
		for (char *x = pat; *x; x++)
			*x = (char)tolower((unsigned char)*x);
		if ((p->map[p->nmap].pat = strdup(pat)) == NULL)
			goto nomem;
		p->map[p->nmap++].cls = c;
		continue;
nomem:
		snprintf(err, errsz, "out of memory");
bad_set:
		oset_free(&set);
		fclose(f);
		return -EINVAL;
	}
	fclose(f);
	if (p->nmap) /* an empty map: no array at all */
		qsort(p->map, p->nmap, sizeof(*p->map), by_pat);
	return 0;
}

struct policy *
policy_free(struct policy *p)
{
	if (p == NULL)
		return NULL;
	for (size_t i = 0; i < p->nbanks; i++) {
		struct bank *b = &p->banks[i];

		for (size_t c = 0; b->cls_cfg && c < p->ncls; c++)
			cfg_free(b->cls_cfg[c]);
		free(b->cls_cfg);
		checks_free(b->checks);
		cfg_free(b->cfg);
		oset_free(&b->set);
	}
	free(p->banks);
	for (size_t c = 0; c < p->ncls; c++)
		oset_free(&p->cls[c]);
	free(p->cls);
	for (size_t i = 0; i < p->nmap; i++)
		free(p->map[i].pat);
	free(p->map);
	free(p);
	return NULL;
}

int
policy_load(const struct cfg *base, const struct checks *checks,
    struct policy **out, char *err, size_t errsz)
{
	const char *bf = cfg_str(base, "policy_banks");
	const char *rf = cfg_str(base, "recipient_policy");
	struct policy *p;
	char why[512];

	*out = NULL;
	if (*bf == '\0' && *rf == '\0')
		return 0;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->banks = calloc(POLICY_MAX_BANKS, sizeof(*p->banks))) ==
	    NULL || (p->cls = calloc(POLICY_MAX_CLASSES,
	    sizeof(*p->cls))) == NULL) {
		policy_free(p);
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	p->base = base;
	snprintf(p->banks[0].name, sizeof(p->banks[0].name), "default");
	p->nbanks = 1;
	if ((*bf && load_banks(p, bf, err, errsz) < 0) ||
	    (*rf && load_map(p, rf, err, errsz) < 0)) {
		policy_free(p);
		return -EINVAL;
	}
	for (size_t i = 0; i < p->nbanks; i++) {
		struct bank *b = &p->banks[i];
		const struct cfg *bc = b->cfg ? b->cfg : base;
		bool own = false;

		for (size_t k = 0; k < b->set.n; k++)
			own = own || !is_action_key(b->set.o[k].key);
		if (own && (b->checks = checks_init(bc, why,
		    sizeof(why))) == NULL) {
			snprintf(err, errsz, "bank %s: %s", b->name, why);
			policy_free(p);
			return -EINVAL;
		}
		b->pub.name = b->name;
		b->pub.cfg = bc;
		b->pub.checks = b->checks ? b->checks : checks;
		if (p->ncls && (b->cls_cfg = calloc(p->ncls,
		    sizeof(struct cfg *))) == NULL) {
			policy_free(p);
			return -ENOMEM;
		}
		for (size_t c = 0; c < p->ncls; c++)
			if ((b->cls_cfg[c] = cfg_copy(bc, &p->cls[c], why,
			    sizeof(why))) == NULL) {
				snprintf(err, errsz, "bank %s: %s", b->name,
				    why);
				policy_free(p);
				return -EINVAL;
			}
	}
	*out = p;
	return 0;
}

/* Selection -------------------------------------------------------------- */

static bool
in_mynets(const struct cfg *cfg, const struct envelope *env)
{
	struct netaddr a;

	if (env->client_addr == NULL || netaddr_parse(env->client_addr,
	    strlen(env->client_addr), &a) < 0)
		return false;
	return netlist_match(cfg_netlist(cfg, "mynetworks"), &a);
}

const struct policy_bank *
policy_bank_for(const struct policy *p, const struct envelope *env,
    unsigned local_port)
{
	const struct bank *pick = NULL;
	bool mynets, orig;

	if (p == NULL)
		return NULL;
	mynets = in_mynets(p->base, env);
	orig = mynets || scan_env_authenticated(env);
	/* The most specific wins: listener, then ORIGINATING, MYNETS. */
	for (size_t i = 1; i < p->nbanks; i++) {
		const struct bank *b = &p->banks[i];

		if (b->kind == B_PORT && b->port == local_port)
			return &b->pub;
		if (b->kind == B_ORIGINATING && orig)
			pick = b;
		if (b->kind == B_MYNETS && mynets &&
		    (pick == NULL || pick->kind != B_ORIGINATING))
			pick = b;
	}
	return pick ? &pick->pub : &p->banks[0].pub;
}

/* lookup - map class of rcpt: user@domain, @domain, domain, .domain,
 * .parent ...; -1 = none */
static long
lookup(const struct policy *p, const char *rcpt)
{
	char a[512], key[520];
	const char *at, *d;
	struct rentry k = { .pat = key }, *e;
	size_t n = strlen(rcpt);

	if (p->nmap == 0 || n == 0 || n >= sizeof(a))
		return -1;
	for (size_t i = 0; i <= n; i++)
		a[i] = (char)tolower((unsigned char)rcpt[i]);
	at = strrchr(a, '@');
	d = at ? at + 1 : a;
	snprintf(key, sizeof(key), "%s", a);
	if ((e = bsearch(&k, p->map, p->nmap, sizeof(*e), by_pat)))
		return (long)e->cls;
	snprintf(key, sizeof(key), "@%s", d);
	if ((e = bsearch(&k, p->map, p->nmap, sizeof(*e), by_pat)))
		return (long)e->cls;
	snprintf(key, sizeof(key), "%s", d);
	if ((e = bsearch(&k, p->map, p->nmap, sizeof(*e), by_pat)))
		return (long)e->cls;
	for (const char *s = d; s; s = strchr(s + 1, '.')) {
		snprintf(key, sizeof(key), "%s%s", *s == '.' ? "" : ".", s);
		if ((e = bsearch(&k, p->map, p->nmap, sizeof(*e), by_pat)))
			return (long)e->cls;
	}
	return -1;
}

void
policy_groups_free(struct policy_group *g, size_t n)
{
	for (size_t i = 0; g && i < n; i++)
		free(g[i].idx);
	free(g);
}

int
policy_groups(const struct policy *p, const struct policy_bank *pb,
    const char *const *rcpts, size_t n, struct policy_group **out,
    size_t *ngroups)
{
	const struct bank *b = (const struct bank *)pb; /* pub is first */
	struct policy_group *g = calloc(n ? n : 1, sizeof(*g));
	size_t ng = 0;

	*out = NULL;
	*ngroups = 0;
	if (g == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		long c = lookup(p, rcpts[i]);
		const struct cfg *cfg = c < 0 ? b->pub.cfg : b->cls_cfg[c];
		size_t k;

		for (k = 0; k < ng; k++)
			if (g[k].cfg == cfg)
				break;
		if (k == ng) {
			g[k].cfg = cfg;
			g[k].name = c < 0 ? b->pub.name : "map";
			if ((g[k].idx = calloc(n, sizeof(size_t))) == NULL) {
				policy_groups_free(g, ng);
				return -ENOMEM;
			}
			ng++;
		}
		g[k].idx[g[k].n++] = i;
	}
	*out = g;
	*ngroups = ng;
	return 0;
}

/* The split --------------------------------------------------------------
 *
 * Two phases when the upstream has one reply for all recipients (SMTP,
 * req.rq.all_or_none): first every group is decided and its
 * reinjection taken up to the server's 354 and held there (reinject.c
 * req.hold); a recipient deferred anywhere (4xx) drops every held
 * transaction, so the upstream's retry of the whole message delivers
 * nobody twice. Only then are the side effects done (quarantine,
 * notifications) and the held transactions committed, one by one; a
 * commit deferred downstream stops the ones after it (only the groups
 * already committed can then arrive twice: RFC 1047's window, one group
 * wide). With LMTP (one reply each) the first phase delivers at once. */

struct group_run {
	struct policy_split *sp;
	enum action a;
	struct buf head;               /* this group's header section */
	size_t body_off;
	const char **sub;              /* this group's rcpts */
	const char **subdsn;
	struct reinject *rj;           /* running or held */
	bool held;
};

struct policy_split {
	struct event_base *base;
	const struct policy_group *g;
	size_t ng, cur;
	const struct policy_split_req *req;
	policy_split_cb *cb;
	void *arg;
	struct reinject_reply *rep;    /* one per envelope rcpt */
	struct group_run *gr;          /* one per group */
	struct group_run *waiting;     /* whose callback moves us on */
	struct event *next;
	enum action worst;
	bool committing;               /* second phase */
	bool stop;                     /* a recipient was deferred */
};

static int
severity(enum action a)
{
	switch (a) {
	case ACTION_PASS:
		return 0;
	case ACTION_PASS_SPAM:
		return 1;
	case ACTION_DISCARD:
		return 2;
	case ACTION_QUARANTINE:
		return 3;
	case ACTION_REJECT:
		return 4;
	case ACTION_TEMPFAIL:
		return 5;
	}
	return 5;
}

/* put - envelope recipient k's reply; a deferral stops an all-or-none
 * split */
static void
put(struct policy_split *sp, size_t k, const struct reinject_reply *r)
{
	sp->rep[k] = *r;
	if (r->code / 100 == 4 && sp->req->rq.all_or_none)
		sp->stop = true;
}

static void
set_group(struct policy_split *sp, const struct policy_group *g, int code,
    const char *text)
{
	struct reinject_reply r = { .code = code };

	snprintf(r.text, sizeof(r.text), "%s", text);
	for (size_t i = 0; i < g->n; i++)
		put(sp, g->idx[i], &r);
}

static void
schedule(struct policy_split *sp)
{
	struct timeval tv = { 0, 0 };

	evtimer_add(sp->next, &tv);
}

/* on_group_cb - a group's reinjection held at its 354, or ended */
static void
on_group_cb(void *arg, const struct reinject_result *res)
{
	struct group_run *gr = arg;
	struct policy_split *sp = gr->sp;
	const struct policy_group *g = &sp->g[gr - sp->gr];

	for (size_t i = 0; i < g->n && i < res->nrcpts; i++)
		put(sp, g->idx[i], &res->rcpt[i]);
	gr->held = res->held;
	if (!res->held)
		gr->rj = NULL; /* reinject.c frees it */
	if (sp->waiting == gr) {
		sp->waiting = NULL;
		if (!sp->committing)
			sp->cur++;
		schedule(sp);
	}
}

/* group_prepare - decide one group, reinject it (held when two-phase);
 * true when it went async */
static bool
group_prepare(struct policy_split *sp)
{
	const struct policy_split_req *q = sp->req;
	const struct policy_group *g = &sp->g[sp->cur];
	struct group_run *gr = &sp->gr[sp->cur];
	enum action a = action_decide(g->cfg, q->score);
	struct reinject_req rq;
	int rc;

	if (q->auth_reject)
		a = ACTION_REJECT;
	gr->a = a;
	for (size_t i = 0; i < g->n; i++) {
		gr->sub[i] = q->rq.rcpts[g->idx[i]];
		gr->subdsn[i] = q->rq.rcpt_dsn ? q->rq.rcpt_dsn[g->idx[i]]
					       : NULL;
	}
	log_info("%s: policy group %zu/%zu (%s): rcpts=%zu action=%s",
	    q->qid, sp->cur + 1, sp->ng, g->name, g->n, action_name(a));
	if (severity(a) > severity(sp->worst) || sp->cur == 0)
		sp->worst = a;
	if (a == ACTION_REJECT) {
		const char *t = q->auth_reject ? q->auth_reject
			: "554 5.7.0 Rejected: message looks like spam";

		set_group(sp, g, atoi(t), t + strcspn(t, " ") +
		    (t[strcspn(t, " ")] == ' '));
		return false;
	}
	if (a == ACTION_DISCARD) {
		set_group(sp, g, 250, "2.7.0 Ok: discarded as spam");
		return false;
	}
	rc = action_rewrite(g->cfg, q->score, q->tests, q->notes, q->raw,
	    &gr->head, &gr->body_off);
	if (rc < 0) {
		set_group(sp, g, 451, "4.3.0 Error: internal error");
		sp->worst = ACTION_TEMPFAIL;
		return false;
	}
	if (a == ACTION_QUARANTINE) {
		/* stored in the second phase */
		set_group(sp, g, 250, "2.7.0 Ok: quarantined");
		return false;
	}
	rq = q->rq;
	rq.rcpts = gr->sub;
	rq.nrcpts = g->n;
	rq.rcpt_dsn = q->rq.rcpt_dsn ? gr->subdsn : NULL;
	rq.head = buf_bstr(&gr->head);
	rq.body = bstr_sub(q->raw, gr->body_off, q->raw.len - gr->body_off);
	rq.hold = q->rq.all_or_none;
	if ((gr->rj = reinject_start(sp->base, &rq, on_group_cb, gr)) ==
	    NULL) {
		set_group(sp, g, 451, "4.3.0 Error: cannot reinject");
		sp->worst = ACTION_TEMPFAIL;
		return false;
	}
	sp->waiting = gr;
	return true;
}

/* drop_held - a recipient was deferred: no held group is sent */
static void
drop_held(struct policy_split *sp)
{
	for (size_t k = 0; k < sp->ng; k++) {
		struct group_run *gr = &sp->gr[k];
		const struct policy_group *g = &sp->g[k];

		if (gr->rj == NULL)
			continue;
		reinject_cancel(gr->rj);
		gr->rj = NULL;
		gr->held = false;
		for (size_t i = 0; i < g->n; i++) {
			struct reinject_reply *r = &sp->rep[g->idx[i]];

			if (r->code / 100 != 2)
				continue;
			r->code = 451;
			snprintf(r->text, sizeof(r->text), "4.4.0 not sent: "
			    "another recipient was deferred downstream");
		}
	}
	sp->worst = ACTION_TEMPFAIL;
}

/* side_effects - second phase, before any commit: quarantine (a failure
 * stops everything when all or none), then the notifications (spam_admin
 * report, bounce DSN) per group; 0, or -1 when stopped */
static int
side_effects(struct policy_split *sp)
{
	const struct policy_split_req *q = sp->req;

	for (size_t k = 0; k < sp->ng; k++) {
		struct group_run *gr = &sp->gr[k];
		const struct policy_group *g = &sp->g[k];
		struct envelope env = *q->env;
		char name[300];

		if (gr->a != ACTION_QUARANTINE)
			continue;
		env.rcpts = gr->sub;
		env.nrcpts = g->n;
		if (quar_store(cfg_str(g->cfg, "quarantine_dir"), &env,
		    &gr->head, q->raw, gr->body_off, name, sizeof(name)) < 0) {
			set_group(sp, g, 451, "4.3.0 Error: cannot quarantine");
			sp->worst = ACTION_TEMPFAIL;
			if (sp->stop)
				return -1;
		}
	}
	for (size_t k = 0; k < sp->ng; k++) {
		struct envelope env = *q->env;

		env.rcpts = sp->gr[k].sub;
		env.nrcpts = sp->g[k].n;
		notify_message(sp->base, sp->g[k].cfg, &env, q->score,
		    q->tests, sp->gr[k].a, q->raw);
	}
	return 0;
}

static void
on_next(evutil_socket_t fd, short ev, void *arg)
{
	struct policy_split *sp = arg;
	struct reinject_result res = { 0 };

	(void)fd, (void)ev;
	if (!sp->committing) {
		while (sp->cur < sp->ng && !sp->stop) {
			if (group_prepare(sp))
				return; /* on_group_cb goes on */
			sp->cur++;
		}
		sp->committing = true;
		sp->cur = 0;
		if (sp->stop || side_effects(sp) < 0) {
			drop_held(sp);
			sp->cur = sp->ng;
		}
	}
	while (sp->cur < sp->ng) {
		struct group_run *gr = &sp->gr[sp->cur++];

		/* a commit deferred downstream (its final dot got a 4xx, or
		 * the held connection was gone): the upstream will retry
		 * every recipient, so the groups not yet sent are not sent
		 * now (before, they were, and got the retry's copy too) */
		if (sp->stop && sp->req->rq.all_or_none) {
			drop_held(sp);
			break;
		}
		if (gr->held && gr->rj) {
			gr->held = false;
			sp->waiting = gr;
			reinject_commit(gr->rj);
			return; /* on_group_cb goes on */
		}
	}
	for (size_t i = 0; i < sp->req->rq.nrcpts; i++)
		if (sp->rep[i].code / 100 == 2)
			res.accepted++;
	res.rcpt = sp->rep;
	res.nrcpts = sp->req->rq.nrcpts;
	sp->cb(sp->arg, &res, sp->worst);
	policy_split_cancel(sp); /* frees; cb already ran */
}

struct policy_split *
policy_split_start(struct event_base *base, const struct policy_group *g,
    size_t ng, const struct policy_split_req *req, policy_split_cb *cb,
    void *arg)
{
	struct policy_split *sp = calloc(1, sizeof(*sp));
	size_t n = req->rq.nrcpts ? req->rq.nrcpts : 1;

	if (sp == NULL)
		return NULL;
	sp->base = base;
	sp->g = g;
	sp->ng = ng;
	sp->req = req;
	sp->cb = cb;
	sp->arg = arg;
	sp->rep = calloc(n, sizeof(*sp->rep));
	sp->gr = calloc(ng ? ng : 1, sizeof(*sp->gr));
	sp->next = evtimer_new(base, on_next, sp);
	if (sp->rep == NULL || sp->gr == NULL || sp->next == NULL) {
		policy_split_cancel(sp);
		return NULL;
	}
	for (size_t k = 0; k < ng; k++) {
		struct group_run *gr = &sp->gr[k];

		gr->sp = sp;
		/* no cap of its own: raw (message_size_limit) bounds it,
		 * plus our few fields (a fixed 1 MiB tempfailed big header
		 * sections) */
		buf_init(&gr->head, ACTION_HEAD_MAX);
		gr->sub = calloc(g[k].n ? g[k].n : 1, sizeof(char *));
		gr->subdsn = calloc(g[k].n ? g[k].n : 1, sizeof(char *));
		if (gr->sub == NULL || gr->subdsn == NULL) {
			policy_split_cancel(sp);
			return NULL;
		}
	}
	for (size_t i = 0; i < req->rq.nrcpts; i++) {
		sp->rep[i].code = 451;
		snprintf(sp->rep[i].text, sizeof(sp->rep[i].text),
		    "4.3.0 Error: not delivered");
	}
	schedule(sp);
	return sp;
}

void
policy_split_cancel(struct policy_split *sp)
{
	if (sp == NULL)
		return;
	for (size_t k = 0; sp->gr && k < sp->ng; k++) {
		reinject_cancel(sp->gr[k].rj);
		buf_free(&sp->gr[k].head);
		free(sp->gr[k].sub);
		free(sp->gr[k].subdsn);
	}
	if (sp->next)
		event_free(sp->next);
	free(sp->rep);
	free(sp->gr);
	free(sp);
}
