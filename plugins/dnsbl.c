/*
 * plugins/dnsbl.c - DNS blocklist rules (relay IPs, sender domains, URI
 * hosts) and their lookups
 *
 * Config: rule lines (SpamAssassin DNSEval/URIDNSBL syntax or the short
 * "dnsbl" form, see dnsbl.h) build lists ("sets": one zone, one query
 * type, one source of names) and rules (a name plus a subtest on the
 * answer). Everything is malloc'd at load and read-only afterwards, except
 * one "already reported" flag per list (atomic).
 *
 * Per message: every (list, name) pair is one dns_query on the message's
 * dns_ctx, all launched at once; state lives in the message arena, so a
 * freed message cancels its lookups (plugins/dns.c). Which relay IPs: the
 * last external one (SA -lastexternal) unless the options or the set name
 * say otherwise; private and loopback addresses are never sent.
 *
 * Answers: an A answer counts only inside 127.0.0.0/8 and outside
 * 127.255.255.252/30 (Spamhaus return codes for "query refused", "typo in
 * the zone" and "public/open resolver": these mean the setup is broken,
 * not that the address is listed); others go to hooks->config_error once
 * per list. Errors: -errno; no logging here (the adapter logs).
 */
#include "plugins/dnsbl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "plugins/uribl.h"
#include "util/arena.h"

#define MAX_ALTS 16

enum src {
	SRC_IP_DEFAULT, /* last external, or untrusted per opts */
	SRC_IP_LAST,
	SRC_IP_NOTFIRST,
	SRC_IP_UNTRUSTED,
	SRC_ENVFROM,
	SRC_FROMDOMAIN,
	SRC_URI_DOMAIN, /* registered domains and IP literals */
	SRC_URI_IP,	/* IP literals only */
};

enum sub_kind {
	SUB_ANY,
	SUB_EXACT,
	SUB_RANGE,
	SUB_NETMASK,
	SUB_BITS8,
	SUB_BITS32,
	SUB_REGEX
};

struct sub_alt {
	enum sub_kind kind;
	uint32_t a, b;
	regex_t re;
};

struct subtest {
	struct sub_alt alt[MAX_ALTS];
	size_t n; /* 0: any answer */
};

struct bl_rule {
	char *name;
	char *setname; /* check_rbl_sub: resolved at finish */
	size_t set;
	struct subtest st;
	double score;
	bool has_score;
};

struct bl_set {
	char *name;
	char *zone;  /* as configured */
	char *qzone; /* as asked (DQS applied) */
	uint16_t qtype;
	enum src src;
	size_t *rules;
	size_t nrules;
	size_t warn_set; /* first set with the same qzone: owns the flag */
	atomic_bool warned;
};

struct score_ent {
	char *name;
	double score;
};

struct dnsbl_set {
	struct bl_rule *rules;
	size_t nrules;
	struct bl_set *sets;
	size_t nsets;
	struct score_ent *scores;
	size_t nscores;
	char *skip_extra;
	unsigned uri_max;
	bool all_untrusted, finished, has_uri;
	struct uribl_psl *psl;
	struct uribl_skip *skip;
};

/* Helpers ---------------------------------------------------------------- */

static void
seterr(char *err, size_t errsz, const char *fmt, const char *arg)
{
	if (err != NULL && errsz > 0)
		snprintf(err, errsz, fmt, arg ? arg : "");
}

static int
parse_ip4(const char *s, uint32_t *out)
{
	struct in_addr ia;

	if (inet_pton(AF_INET, s, &ia) != 1)
		return -EINVAL;
	*out = ntohl(ia.s_addr);
	return 0;
}

static int
compile_alt(const char *s, struct sub_alt *alt)
{
	char buf[128];
	const char *sep;
	char *end;

	memset(alt, 0, sizeof(*alt));
	if (*s == '\0')
		return -EINVAL;
	if (strlen(s) >= sizeof(buf))
		goto regex;
	if (parse_ip4(s, &alt->a) == 0) {
		alt->kind = SUB_EXACT;
		return 0;
	}
	if ((sep = strchr(s, '-')) != NULL || (sep = strchr(s, '/')) != NULL) {
		memcpy(buf, s, (size_t)(sep - s));
		buf[sep - s] = '\0';
		if (parse_ip4(buf, &alt->a) == 0 &&
		    parse_ip4(sep + 1, &alt->b) == 0) {
			alt->kind = *sep == '-' ? SUB_RANGE : SUB_NETMASK;
			if (alt->kind == SUB_RANGE && alt->a > alt->b)
				return -EINVAL;
			return 0;
		}
	}
	if (isdigit((unsigned char)s[0])) {
		unsigned long v;

		errno = 0;
		v = strtoul(s, &end, 0);
		if (*end == '\0' && errno == 0 && v > 0 && v <= 0xffffffffUL) {
			alt->a = (uint32_t)v;
			alt->kind = v < 256 ? SUB_BITS8 : SUB_BITS32;
			return 0;
		}
	}
regex:
	/* glibc's regcomp grows without bound on stacked quantifiers
	 * ("a++++"; possessive in Perl, not POSIX): refuse them, and keep
	 * list subtests short, as they are in practice. */
	if (strlen(s) > 200)
		return -EINVAL;
	for (const char *c = s; c[0] && c[1]; c++)
		if (strchr("*+?}", c[0]) && strchr("*+?{", c[1]))
			return -EINVAL;
	if (regcomp(&alt->re, s, REG_EXTENDED | REG_NOSUB) != 0)
		return -EINVAL;
	alt->kind = SUB_REGEX;
	return 0;
}

/* compile_sub - one subtest, or a comma list of codes (short form) */
static int
compile_sub(const char *s, bool list, struct subtest *st)
{
	char buf[256];

	st->n = 0;
	if (s == NULL || *s == '\0')
		return 0;
	if (!list)
		return compile_alt(s, &st->alt[st->n++]);
	while (*s) {
		size_t len = strcspn(s, ",");

		if (len == 0 || len >= sizeof(buf) || st->n == MAX_ALTS)
			return -EINVAL;
		memcpy(buf, s, len);
		buf[len] = '\0';
		if (compile_alt(buf, &st->alt[st->n]) < 0)
			return -EINVAL;
		st->n++;
		s += len;
		if (*s == ',')
			s++;
	}
	return 0;
}

static void
free_sub(struct subtest *st)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->alt[i].kind == SUB_REGEX)
			regfree(&st->alt[i].re);
	st->n = 0;
}

static bool
alt_match(const struct sub_alt *alt, uint32_t v, const char *text)
{
	switch (alt->kind) {
	case SUB_ANY:
		return true;
	case SUB_EXACT:
		return v == alt->a;
	case SUB_RANGE:
		return v >= alt->a && v <= alt->b;
	case SUB_NETMASK:
		return (v & alt->b) == (alt->a & alt->b);
	case SUB_BITS8:
		return (v & 0xff & alt->a) != 0;
	case SUB_BITS32:
		return (v & alt->a) != 0;
	case SUB_REGEX:
		return regexec(&alt->re, text, 0, NULL, 0) == 0;
	}
	return false;
}

static bool
sub_match(const struct subtest *st, uint32_t v, const char *text)
{
	if (st->n == 0)
		return true;
	for (size_t i = 0; i < st->n; i++)
		if (alt_match(&st->alt[i], v, text))
			return true;
	return false;
}

/* dnsbl_subtest_match - see dnsbl.h */
int
dnsbl_subtest_match(const char *subtest, uint32_t answer)
{
	struct subtest st;
	char text[16];
	bool m;

	if (compile_sub(subtest, false, &st) < 0)
		return -EINVAL;
	snprintf(text, sizeof(text), "%u.%u.%u.%u", answer >> 24,
	    answer >> 16 & 0xff, answer >> 8 & 0xff, answer & 0xff);
	m = sub_match(&st, answer, text);
	free_sub(&st);
	return m;
}

/* dnsbl_answer_valid - see dnsbl.h */
bool
dnsbl_answer_valid(uint32_t v)
{
	if (v >> 24 != 127)
		return false;
	return v < 0x7ffffffcu; /* 127.255.255.252-255: error codes */
}

/* dnsbl_query_name - see dnsbl.h */
int
dnsbl_query_name(const struct netaddr *ip, const char *domain, const char *zone,
    char *out, size_t outsz)
{
	int n;

	if (ip != NULL)
		return dns_reverse_name(ip, zone, out, outsz);
	n = snprintf(out, outsz, "%s.%s", domain, zone);
	if (n < 0 || (size_t)n >= outsz)
		return -ENOSPC;
	if (n > 0 && out[n - 1] == '.')
		out[n - 1] = '\0';
	return 0;
}

/* dnsbl_dqs_zone - see dnsbl.h */
int
dnsbl_dqs_zone(const char *zone, const char *key, char *out, size_t outsz)
{
	static const char sfx[] = ".spamhaus.org";
	size_t zl = strlen(zone), sl = sizeof(sfx) - 1;
	int n;

	if (zl > 0 && zone[zl - 1] == '.')
		zl--;
	if (key != NULL && *key != '\0' && zl > sl &&
	    strncasecmp(zone + zl - sl, sfx, sl) == 0)
		n = snprintf(out, outsz, "%s.%.*s.dq.spamhaus.net", key,
		    (int)(zl - sl), zone);
	else
		n = snprintf(out, outsz, "%.*s", (int)zl, zone);
	return n < 0 || (size_t)n >= outsz ? -ENOSPC : 0;
}

/* Config ----------------------------------------------------------------- */

struct dnsbl_set *
dnsbl_set_new(void)
{
	struct dnsbl_set *s = calloc(1, sizeof(*s));

	return s;
}

struct dnsbl_set *
dnsbl_set_free(struct dnsbl_set *s)
{
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < s->nrules; i++) {
		free(s->rules[i].name);
		free(s->rules[i].setname);
		free_sub(&s->rules[i].st);
	}
	for (size_t i = 0; i < s->nsets; i++) {
		free(s->sets[i].name);
		free(s->sets[i].zone);
		free(s->sets[i].qzone);
		free(s->sets[i].rules);
	}
	for (size_t i = 0; i < s->nscores; i++)
		free(s->scores[i].name);
	free(s->rules);
	free(s->sets);
	free(s->scores);
	free(s->skip_extra);
	uribl_psl_free(s->psl);
	uribl_skip_free(s->skip);
	free(s);
	return NULL;
}

static bool
valid_name(const char *n)
{
	if (*n == '\0' || strlen(n) > 128)
		return false;
	for (; *n; n++)
		if (!isalnum((unsigned char)*n) && *n != '_')
			return false;
	return true;
}

static bool
valid_zone(const char *z)
{
	size_t n = strlen(z);

	if (n == 0 || n > 200 || z[0] == '.' || strstr(z, "..") != NULL)
		return false;
	for (; *z; z++)
		if (!isalnum((unsigned char)*z) && *z != '-' && *z != '.' &&
		    *z != '_')
			return false;
	return true;
}

static ssize_t
find_set(const struct dnsbl_set *s, const char *name, uint16_t qtype)
{
	for (size_t i = 0; i < s->nsets; i++)
		if (strcmp(s->sets[i].name, name) == 0 &&
		    (qtype == 0 || s->sets[i].qtype == qtype))
			return (ssize_t)i;
	return -1;
}

static enum src
src_of_name(const char *set)
{
	size_t n = strlen(set);

#define ENDS(sfx) \
	(n > sizeof(sfx) - 1 && strcmp(set + n - (sizeof(sfx) - 1), sfx) == 0)
	if (ENDS("-lastexternal"))
		return SRC_IP_LAST;
	if (ENDS("-notfirsthop"))
		return SRC_IP_NOTFIRST;
	if (ENDS("-untrusted"))
		return SRC_IP_UNTRUSTED;
#undef ENDS
	return SRC_IP_DEFAULT;
}

/* get_set - find or add the list (name, qtype) for zone */
static ssize_t
get_set(struct dnsbl_set *s, const char *name, const char *zone, uint16_t qtype,
    enum src src, char *err, size_t errsz)
{
	ssize_t i = find_set(s, name, qtype);
	struct bl_set *ns, *b;
	size_t zl = strlen(zone);

	if (zl > 0 && zone[zl - 1] == '.')
		zl--;
	if (i >= 0) {
		if (strlen(s->sets[i].zone) != zl ||
		    strncasecmp(s->sets[i].zone, zone, zl) != 0) {
			seterr(
			    err, errsz, "set '%s' used with two zones", name);
			return -EINVAL;
		}
		return i;
	}
	if (!valid_zone(zone)) {
		seterr(err, errsz, "bad zone '%s'", zone);
		return -EINVAL;
	}
	if ((ns = realloc(s->sets, (s->nsets + 1) * sizeof(*ns))) == NULL)
		return -ENOMEM;
	s->sets = ns;
	b = &s->sets[s->nsets];
	memset(b, 0, sizeof(*b));
	b->name = strdup(name);
	b->zone = strndup(zone, zl);
	if (b->name == NULL || b->zone == NULL) {
		free(b->name);
		free(b->zone);
		return -ENOMEM;
	}
	for (char *c = b->zone; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	b->qtype = qtype;
	b->src = src;
	atomic_init(&b->warned, false);
	if (src == SRC_URI_DOMAIN || src == SRC_URI_IP)
		s->has_uri = true;
	return (ssize_t)s->nsets++;
}

static int
add_rule(struct dnsbl_set *s, const char *name, ssize_t set,
    const char *setname, const char *sub, bool list, double score,
    bool has_score, char *err, size_t errsz)
{
	struct bl_rule *nr, *r;

	if (!valid_name(name)) {
		seterr(err, errsz, "bad rule name '%s'", name);
		return -EINVAL;
	}
	if ((nr = realloc(s->rules, (s->nrules + 1) * sizeof(*nr))) == NULL)
		return -ENOMEM;
	s->rules = nr;
	r = &s->rules[s->nrules];
	memset(r, 0, sizeof(*r));
	if (compile_sub(sub, list, &r->st) < 0) {
		free_sub(&r->st); /* the alternatives compiled before */
		seterr(err, errsz, "bad subtest '%s'", sub);
		return -EINVAL;
	}
	r->name = strdup(name);
	r->setname = setname ? strdup(setname) : NULL;
	if (r->name == NULL || (setname && r->setname == NULL)) {
		free(r->name);
		free(r->setname);
		free_sub(&r->st);
		return -ENOMEM;
	}
	r->set = set < 0 ? 0 : (size_t)set;
	r->score = score;
	r->has_score = has_score;
	s->nrules++;
	return 0;
}

/* split_args - 'a', "b", c inside ( ) into up to 4 NUL-terminated args */
static int
split_args(char *p, char **argv, int max)
{
	int n = 0;

	while (*p) {
		char q, *start;

		p += strspn(p, " \t,");
		if (*p == '\0' || *p == ')')
			break;
		if (n == max)
			return -EINVAL;
		if (*p == '\'' || *p == '"') {
			q = *p++;
			start = p;
			if ((p = strchr(p, q)) == NULL)
				return -EINVAL;
			*p++ = '\0';
		} else {
			start = p;
			p += strcspn(p, " \t,)");
			if (*p != '\0') {
				char c = *p;

				*p++ = '\0';
				if (c == ')')
					p--, *p = ')';
			}
		}
		argv[n++] = start;
	}
	return n;
}

static int
parse_score(const char *s, double *out)
{
	char *end;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	*out = strtod(s, &end);
	return *end == '\0' ? 0 : -EINVAL;
}

static int
set_score(struct dnsbl_set *s, const char *name, double v)
{
	struct score_ent *ns;

	for (size_t i = 0; i < s->nscores; i++)
		if (strcmp(s->scores[i].name, name) == 0) {
			s->scores[i].score = v; /* later lines win */
			return 0;
		}
	if ((ns = realloc(s->scores, (s->nscores + 1) * sizeof(*ns))) == NULL)
		return -ENOMEM;
	s->scores = ns;
	if ((ns[s->nscores].name = strdup(name)) == NULL)
		return -ENOMEM;
	ns[s->nscores++].score = v;
	return 0;
}

static const struct {
	const char *fn;
	uint16_t qtype;
	enum src src;
} eval_fns[] = {
	{ "check_rbl_txt", DNS_T_TXT, SRC_IP_DEFAULT },
	{ "check_rbl_sub", 0, SRC_IP_DEFAULT },
	{ "check_rbl_envfrom", DNS_T_A, SRC_ENVFROM },
	{ "check_rbl_from_domain", DNS_T_A, SRC_FROMDOMAIN },
	{ "check_rbl", DNS_T_A, SRC_IP_DEFAULT },
};

/* dnsbl_set_eval - see dnsbl.h */
int
dnsbl_set_eval(struct dnsbl_set *s, const char *fn, const char *rule,
    const char *const *argv, size_t argc, char *err, size_t errsz)
{
	for (size_t i = 0; i < sizeof(eval_fns) / sizeof(eval_fns[0]); i++) {
		enum src src = eval_fns[i].src;
		ssize_t set;

		if (strcmp(fn, eval_fns[i].fn) != 0)
			continue;
		if (eval_fns[i].qtype == 0) { /* check_rbl_sub('set', 'sub') */
			if (argc != 2) {
				seterr(err, errsz, "%s wants 2 arguments", fn);
				return -EINVAL;
			}
			return add_rule(s, rule, -1, argv[0], argv[1], false, 0,
			    false, err, errsz);
		}
		if (argc < 2 || argc > 3) {
			seterr(err, errsz, "%s wants 2 or 3 arguments", fn);
			return -EINVAL;
		}
		if (src == SRC_IP_DEFAULT)
			src = src_of_name(argv[0]);
		set = get_set(
		    s, argv[0], argv[1], eval_fns[i].qtype, src, err, errsz);
		if (set < 0)
			return (int)set;
		return add_rule(s, rule, set, NULL, argc == 3 ? argv[2] : NULL,
		    false, 0, false, err, errsz);
	}
	return 1; /* some other eval: the rules engine's */
}

static int
line_eval(
    struct dnsbl_set *s, const char *name, char *ev, char *err, size_t errsz)
{
	char *argv[4], *open;
	int argc;

	for (size_t i = 0; i < sizeof(eval_fns) / sizeof(eval_fns[0]); i++) {
		size_t fl = strlen(eval_fns[i].fn);

		if (strncmp(ev, eval_fns[i].fn, fl) != 0 ||
		    (ev[fl] != '(' && ev[fl] != ' '))
			continue;
		if ((open = strchr(ev + fl, '(')) == NULL ||
		    strrchr(open, ')') == NULL ||
		    (argc = split_args(open + 1, argv, 4)) < 0) {
			seterr(
			    err, errsz, "bad arguments to %s", eval_fns[i].fn);
			return -EINVAL;
		}
		return dnsbl_set_eval(s, eval_fns[i].fn, name,
		    (const char *const *)argv, (size_t)argc, err, errsz);
	}
	return 1;
}

/* dnsbl_set_line - see dnsbl.h */
int
dnsbl_set_line(struct dnsbl_set *s, const char *line, char *err, size_t errsz)
{
	char buf[1024], *tok[6], *p, *save = NULL;
	int n = 0, rc;

	if (strlen(line) >= sizeof(buf)) {
		seterr(err, errsz, "line too long%s", NULL);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", line);
	if ((p = strchr(buf, '#')) != NULL) /* SA comments start anywhere */
		*p = '\0';
	p = buf + strspn(buf, " \t");
	if (*p == '\0')
		return 0;
	if (strncmp(p, "header", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
		char *name, *ev;

		p += 6 + strspn(p + 6, " \t");
		name = p;
		p += strcspn(p, " \t");
		if (*p == '\0')
			return 1;
		*p++ = '\0';
		p += strspn(p, " \t");
		if (strncmp(p, "eval:", 5) != 0)
			return 1;
		ev = p + 5;
		return line_eval(s, name, ev, err, errsz);
	}
	if (strncmp(p, "uridnsbl_skip_domain", 20) == 0 &&
	    (p[20] == ' ' || p[20] == '\t')) {
		size_t old = s->skip_extra ? strlen(s->skip_extra) : 0;
		size_t add = strlen(p + 20);
		char *ne = realloc(s->skip_extra, old + add + 2);

		if (ne == NULL)
			return -ENOMEM;
		snprintf(ne + old, add + 2, " %s", p + 20);
		s->skip_extra = ne;
		return 0;
	}
	for (char *t = strtok_r(p, " \t\r\n", &save); t && n < 6;
	     t = strtok_r(NULL, " \t\r\n", &save))
		tok[n++] = t;
	if (n == 0)
		return 0;
	if (strcmp(tok[0], "dnsbl") == 0) {
		double sc;
		ssize_t set;
		char sname[256];

		if (n < 4 || n > 5 || parse_score(tok[n - 1], &sc) < 0) {
			seterr(err, errsz,
			    "usage: dnsbl NAME zone [codes] "
			    "score%s",
			    NULL);
			return -EINVAL;
		}
		snprintf(sname, sizeof(sname), "dnsbl:%s", tok[2]);
		set = get_set(
		    s, sname, tok[2], DNS_T_A, SRC_IP_DEFAULT, err, errsz);
		if (set < 0)
			return (int)set;
		return add_rule(s, tok[1], set, NULL, n == 5 ? tok[3] : NULL,
		    true, sc, true, err, errsz);
	}
	if (strcmp(tok[0], "urirhssub") == 0 ||
	    strcmp(tok[0], "urirhsbl") == 0 ||
	    strcmp(tok[0], "uridnsbl") == 0) {
		bool sub = tok[0][6] == 's', ipsrc = tok[0][3] == 'd';
		char sname[256];
		ssize_t set;

		if (n != (sub ? 5 : 4)) {
			seterr(err, errsz, "usage: %s NAME zone A%s", tok[0]);
			if (sub)
				strncat(
				    err, " subtest", errsz - strlen(err) - 1);
			return -EINVAL;
		}
		if (strcmp(tok[3], "A") != 0 && strcmp(tok[3], "TXT") != 0) {
			seterr(
			    err, errsz, "unsupported query type '%s'", tok[3]);
			return -EINVAL;
		}
		snprintf(sname, sizeof(sname), "%s:%s:%s",
		    ipsrc ? "uriip" : "uri", tok[3], tok[2]);
		set = get_set(s, sname, tok[2],
		    tok[3][0] == 'A' ? DNS_T_A : DNS_T_TXT,
		    ipsrc ? SRC_URI_IP : SRC_URI_DOMAIN, err, errsz);
		if (set < 0)
			return (int)set;
		return add_rule(s, tok[1], set, NULL, sub ? tok[4] : NULL,
		    false, 0, false, err, errsz);
	}
	if (strcmp(tok[0], "score") == 0 && n >= 3) {
		double v;

		/* SA: one score, or four (no net/no bayes ... net+bayes);
		 * DNS rules run with network tests on, bayes on: the last */
		if (parse_score(tok[n - 1], &v) < 0 || (n != 3 && n != 6)) {
			seterr(err, errsz, "bad score for %s", tok[1]);
			return -EINVAL;
		}
		if ((rc = set_score(s, tok[1], v)) < 0)
			return rc;
		return 1; /* the rules engine may want scores too */
	}
	if (strcmp(tok[0], "uridnsbl_max_domains") == 0) {
		char *end;
		unsigned long v;

		if (n != 2 || (v = strtoul(tok[1], &end, 10)) == 0 ||
		    *end != '\0' || v > 1000) {
			seterr(err, errsz, "bad uridnsbl_max_domains%s", NULL);
			return -EINVAL;
		}
		s->uri_max = (unsigned)v;
		return 0;
	}
	return 1;
}

/* companion_line - SA lines that go with list rules (describe, tflags,
 * score, body eval:check_uridnsbl ...): accepted and left to the rules
 * engine when a list file is loaded on its own. */
static bool
companion_line(const char *line)
{
	static const char *const words[] = { "describe", "tflags", "priority",
		"reuse", "lang", "score" };
	size_t n;

	line += strspn(line, " \t");
	n = strcspn(line, " \t");
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (n == strlen(words[i]) && strncmp(line, words[i], n) == 0)
			return true;
	return strncmp(line, "body", 4) == 0 &&
	    strstr(line, "eval:check_uridnsbl(") != NULL;
}

/* dnsbl_set_load - see dnsbl.h */
int
dnsbl_set_load(struct dnsbl_set *s, const char *path, char *err, size_t errsz)
{
	char line[1024], why[256];
	FILE *f = fopen(path, "r");
	unsigned lineno = 0;
	int rc = 0;

	if (f == NULL) {
		rc = -errno;
		if (err && errsz)
			snprintf(err, errsz, "%s: %s", path, strerror(-rc));
		return rc;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		why[0] = '\0';
		if ((rc = dnsbl_set_line(s, line, why, sizeof(why))) < 0) {
			if (err && errsz)
				snprintf(
				    err, errsz, "%s:%u: %s", path, lineno, why);
			break;
		}
		/* A list file holds list rules only: a line nobody takes is
		 * a typo, except SA's companions of list rules. */
		if (rc == 1 && !companion_line(line)) {
			if (err && errsz)
				snprintf(err, errsz,
				    "%s:%u: not a DNSBL rule "
				    "line",
				    path, lineno);
			rc = -EINVAL;
			break;
		}
		rc = 0;
	}
	fclose(f);
	return rc;
}

/* dnsbl_set_finish - see dnsbl.h */
int
dnsbl_set_finish(
    struct dnsbl_set *s, const struct dnsbl_opts *o, char *err, size_t errsz)
{
	struct dnsbl_opts def = { 0 };
	char z[256];
	int rc;

	if (o == NULL)
		o = &def;
	s->all_untrusted = o->all_untrusted;
	if (o->uri_max)
		s->uri_max = o->uri_max;
	for (size_t i = 0; i < s->nrules; i++) {
		struct bl_rule *r = &s->rules[i];
		ssize_t set;

		if (r->setname != NULL) {
			if ((set = find_set(s, r->setname, DNS_T_A)) < 0 &&
			    (set = find_set(s, r->setname, 0)) < 0) {
				seterr(err, errsz,
				    "check_rbl_sub: no list "
				    "named '%s'",
				    r->setname);
				return -EINVAL;
			}
			r->set = (size_t)set;
		}
		for (size_t j = 0; j < s->nscores; j++)
			if (strcmp(s->scores[j].name, r->name) == 0) {
				r->score = s->scores[j].score;
				r->has_score = true;
			}
	}
	for (size_t i = 0; i < s->nsets; i++) {
		struct bl_set *b = &s->sets[i];
		size_t k = 0;

		if (dnsbl_dqs_zone(b->zone, o->dqs_key, z, sizeof(z)) < 0) {
			seterr(err, errsz, "zone too long with DQS key: %s",
			    b->zone);
			return -EINVAL;
		}
		free(b->qzone);
		free(b->rules);
		b->rules = NULL;
		b->nrules = 0;
		if ((b->qzone = strdup(z)) == NULL)
			return -ENOMEM;
		/* one "not a listing" report per zone, whichever set asks */
		b->warn_set = i;
		for (size_t j = 0; j < i; j++)
			if (strcmp(s->sets[j].qzone, b->qzone) == 0) {
				b->warn_set = j;
				break;
			}
		for (size_t j = 0; j < s->nrules; j++)
			k += s->rules[j].set == i;
		if (k && (b->rules = calloc(k, sizeof(*b->rules))) == NULL)
			return -ENOMEM;
		for (size_t j = 0; j < s->nrules; j++)
			if (s->rules[j].set == i)
				b->rules[b->nrules++] = j;
	}
	if (s->has_uri) {
		const char *extra = o->uri_skip;
		char *all = NULL;

		if (s->psl == NULL &&
		    (rc = uribl_psl_load(o->psl_file, &s->psl)) < 0) {
			seterr(err, errsz,
			    "cannot load public suffix list "
			    "%s",
			    o->psl_file);
			return rc;
		}
		if (s->skip_extra != NULL) {
			size_t l = strlen(s->skip_extra) +
			    (extra ? strlen(extra) : 0) + 2;

			if ((all = malloc(l)) == NULL)
				return -ENOMEM;
			snprintf(
			    all, l, "%s %s", s->skip_extra, extra ? extra : "");
			extra = all;
		}
		uribl_skip_free(s->skip);
		s->skip = uribl_skip_new(extra, true);
		free(all);
		if (s->skip == NULL)
			return -ENOMEM;
	}
	s->finished = true;
	return 0;
}

size_t
dnsbl_set_rules(const struct dnsbl_set *s)
{
	return s->nrules;
}

size_t
dnsbl_set_lists(const struct dnsbl_set *s)
{
	return s->nsets;
}

bool
dnsbl_set_score(const struct dnsbl_set *s, const char *name, double *out)
{
	for (size_t i = 0; i < s->nrules; i++)
		if (strcmp(s->rules[i].name, name) == 0 &&
		    s->rules[i].has_score) {
			*out = s->rules[i].score;
			return true;
		}
	return false;
}

/* Lookups ---------------------------------------------------------------- */

#define NS_MAX_HOSTS 2 /* name servers followed per URI domain */
#define NS_MAX_IPS 4   /* addresses used per name server */
#define NS_MAX_SEEN 64 /* distinct name server IPs per message */

struct bl_msg {
	const struct dnsbl_set *s;
	struct dnsbl_hooks h;
	struct dns_ctx *ctx;
	struct arena *a;
	struct netaddr seen[NS_MAX_SEEN]; /* uridnsbl: NS IPs asked */
	size_t nseen;
};

/* One step of a uridnsbl chain: URI domain -> NS -> A -> lists. */
struct ns_look {
	struct bl_msg *m;
	const char *domain;
};

struct bl_look {
	struct bl_msg *m;
	const struct bl_set *set;
	const char *item; /* IP or domain, printable */
};

static void
look_cb(const struct dns_result *r, void *arg)
{
	struct bl_look *l = arg;
	const struct dnsbl_set *s = l->m->s;
	const struct dnsbl_hooks *h = &l->m->h;
	const struct bl_set *b = l->set;

	if (r->status == DNS_OK) {
		for (size_t i = 0; i < r->n; i++) {
			const struct dns_rr *rr = &r->rr[i];
			char text[512], detail[320];
			uint32_t v = 0;

			if (rr->type == DNS_T_A) {
				v = (uint32_t)rr->addr.a[0] << 24 |
				    (uint32_t)rr->addr.a[1] << 16 |
				    (uint32_t)rr->addr.a[2] << 8 |
				    rr->addr.a[3];
				snprintf(text, sizeof(text), "%u.%u.%u.%u",
				    rr->addr.a[0], rr->addr.a[1], rr->addr.a[2],
				    rr->addr.a[3]);
				if (!dnsbl_answer_valid(v)) {
					bool f = false;

					/* the cast drops const from a flag
					 * that is the set's only mutable
					 * state */
					if (atomic_compare_exchange_strong(
						(atomic_bool *)&s
						    ->sets[b->warn_set]
						    .warned,
						&f, true) &&
					    h->config_error)
						h->config_error(
						    h->arg, b->zone, text);
					continue;
				}
			} else if (rr->type == DNS_T_TXT) {
				/* NULs inside TXT end the text early: fine
				 * for matching printable reasons */
				snprintf(text, sizeof(text), "%s",
				    (const char *)rr->txt.p);
			} else {
				continue;
			}
			for (size_t j = 0; j < b->nrules; j++) {
				const struct bl_rule *ru =
				    &s->rules[b->rules[j]];

				if (!sub_match(&ru->st, v, text))
					continue;
				if (rr->type == DNS_T_A)
					snprintf(detail, sizeof(detail),
					    "%s in %s: %.60s", l->item, b->zone,
					    text);
				else
					snprintf(detail, sizeof(detail),
					    "%s in %s", l->item, b->zone);
				h->hit(h->arg, ru->name, detail, ru->score,
				    ru->has_score);
			}
		}
	} else if (r->status != DNS_NXDOMAIN && r->status != DNS_NODATA &&
	    h->failed) {
		h->failed(h->arg, b->zone, r->name, r->status, r->deadline);
	}
	h->done(h->arg, b->zone);
}

static int
launch(struct bl_msg *m, struct dns_ctx *ctx, struct arena *a,
    const struct bl_set *b, const struct netaddr *ip, const char *domain,
    const char *item)
{
	char name[512];
	struct bl_look *l;

	if (b->nrules == 0)
		return 0;
	if (ip != NULL && (netaddr_private(ip) || netaddr_loopback(ip)))
		return 0;
	if (dnsbl_query_name(ip, domain, b->qzone, name, sizeof(name)) < 0)
		return 0; /* a name too long to ask is not listed */
	if ((l = arena_alloc(a, sizeof(*l))) == NULL ||
	    (l->item = arena_strndup(a, item, strlen(item))) == NULL)
		return -ENOMEM;
	l->m = m;
	l->set = b;
	if (dns_query(ctx, name, b->qtype, look_cb, l) < 0)
		return 0; /* bad name from the message: nothing to ask */
	m->h.add(m->h.arg, b->zone);
	return 1;
}

static bool
seen_ip(const struct netaddr *v, size_t n, const struct netaddr *ip)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].family == ip->family &&
		    memcmp(v[i].a, ip->a, ip->family == AF_INET ? 4 : 16) == 0)
			return true;
	return false;
}

/*
 * uridnsbl (SA URIDNSBL): the addresses of a URI domain's name servers are
 * looked up in the list, so a spammer's fresh domains are caught by their
 * listed DNS hosting. Each step counts as one lookup (hooks add/done), and
 * later steps are started before the current one is reported done, so the
 * scan never sees zero pending in between.
 */
static void
ns_a_cb(const struct dns_result *r, void *arg)
{
	struct ns_look *l = arg;
	struct bl_msg *m = l->m;
	char item[320];

	for (size_t i = 0; r->status == DNS_OK && i < r->n && i < NS_MAX_IPS;
	     i++) {
		const struct netaddr *ip = &r->rr[i].addr;
		char txt[64];

		if (r->rr[i].type != DNS_T_A || m->nseen == NS_MAX_SEEN ||
		    seen_ip(m->seen, m->nseen, ip))
			continue;
		m->seen[m->nseen++] = *ip;
		netaddr_str(ip, txt, sizeof(txt));
		snprintf(item, sizeof(item), "%s (NS %s %s)", l->domain,
		    r->name, txt);
		for (size_t j = 0; j < m->s->nsets; j++)
			if (m->s->sets[j].src == SRC_URI_IP &&
			    launch(m, m->ctx, m->a, &m->s->sets[j], ip, NULL,
				item) < 0)
				break;
	}
	m->h.done(m->h.arg, NULL);
}

static void
ns_cb(const struct dns_result *r, void *arg)
{
	struct ns_look *l = arg;
	struct bl_msg *m = l->m;

	for (size_t i = 0; r->status == DNS_OK && i < r->n && i < NS_MAX_HOSTS;
	     i++)
		if (r->rr[i].type == DNS_T_NS &&
		    dns_query(m->ctx, r->rr[i].name, DNS_T_A, ns_a_cb, l) == 0)
			m->h.add(m->h.arg, NULL);
	m->h.done(m->h.arg, NULL);
}

static int
launch_ns(struct bl_msg *m, const char *domain)
{
	struct ns_look *l = arena_alloc(m->a, sizeof(*l));

	if (l == NULL ||
	    (l->domain = arena_strndup(m->a, domain, strlen(domain))) == NULL)
		return -ENOMEM;
	l->m = m;
	if (dns_query(m->ctx, domain, DNS_T_NS, ns_cb, l) < 0)
		return 0;
	m->h.add(m->h.arg, NULL);
	return 1;
}

/* dnsbl_start - see dnsbl.h */
int
dnsbl_start(const struct dnsbl_set *s, struct dns_ctx *ctx, struct arena *a,
    const struct dnsbl_input *in, const struct dnsbl_hooks *hooks)
{
	struct uribl_item *uri = NULL;
	struct netaddr *ips;
	struct bl_msg *m;
	int nuri = 0, total = 0, rc;
	bool capped;

	if (s == NULL || s->nsets == 0)
		return 0;
	if ((m = arena_alloc(a, sizeof(*m))) == NULL)
		return -ENOMEM;
	m->s = s;
	m->h = *hooks;
	m->ctx = ctx;
	m->a = a;
	m->nseen = 0;
	if (s->has_uri && in->nuri_hosts > 0 && s->psl != NULL) {
		nuri = uribl_items(s->psl, s->skip, in->uri_hosts,
		    in->nuri_hosts, s->uri_max, a, &uri, &capped);
		if (nuri < 0)
			return nuri;
	}
	if ((ips = arena_calloc(a, in->nuntrusted + 1, sizeof(*ips))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < s->nsets; i++) {
		const struct bl_set *b = &s->sets[i];
		enum src src = b->src;
		char txt[64];
		size_t nips = 0;

		if (src == SRC_IP_DEFAULT)
			src = s->all_untrusted ? SRC_IP_UNTRUSTED : SRC_IP_LAST;
		switch (src) {
		case SRC_IP_LAST:
		case SRC_IP_NOTFIRST:
		case SRC_IP_UNTRUSTED:
			if (src == SRC_IP_LAST && in->last_external)
				ips[nips++] = *in->last_external;
			for (size_t j = 0;
			     src != SRC_IP_LAST && j < in->nuntrusted; j++) {
				const struct netaddr *ip = &in->untrusted[j];

				if (src == SRC_IP_NOTFIRST &&
				    in->last_external &&
				    seen_ip(in->last_external, 1, ip))
					continue;
				if (!seen_ip(ips, nips, ip))
					ips[nips++] = *ip;
			}
			for (size_t j = 0; j < nips; j++) {
				netaddr_str(&ips[j], txt, sizeof(txt));
				if ((rc = launch(
					 m, ctx, a, b, &ips[j], NULL, txt)) < 0)
					return rc;
				total += rc;
			}
			break;
		case SRC_ENVFROM:
		case SRC_FROMDOMAIN: {
			const char *d = src == SRC_ENVFROM ? in->envfrom_domain
							   : in->from_domain;

			if (d != NULL && *d != '\0') {
				if ((rc = launch(m, ctx, a, b, NULL, d, d)) < 0)
					return rc;
				total += rc;
			}
			break;
		}
		case SRC_URI_DOMAIN:
		case SRC_URI_IP:
			for (int j = 0; j < nuri; j++) {
				if (src == SRC_URI_IP && !uri[j].is_ip)
					continue;
				rc = launch(m, ctx, a, b,
				    uri[j].is_ip ? &uri[j].ip : NULL,
				    uri[j].name, uri[j].host);
				if (rc < 0)
					return rc;
				total += rc;
			}
			break;
		case SRC_IP_DEFAULT:
			break;
		}
	}
	for (size_t i = 0; i < s->nsets; i++) {
		if (s->sets[i].src != SRC_URI_IP || s->sets[i].nrules == 0)
			continue;
		for (int j = 0; j < nuri; j++) {
			if (uri[j].is_ip)
				continue;
			if ((rc = launch_ns(m, uri[j].name)) < 0)
				return rc;
			total += rc;
		}
		break; /* one chain per domain serves every uridnsbl list */
	}
	return total;
}
