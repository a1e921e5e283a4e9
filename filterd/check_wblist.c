/*
 * filterd/check_wblist.c - SpamAssassin-style welcome/block lists
 *
 * Directives, read from the same rule files as the rules (rules_dir: its
 * *.cf sorted, then rules_local), legacy names accepted:
 *   welcomelist_from ADDR...       (whitelist_from)
 *   welcomelist_from_rcvd ADDR RDNS (whitelist_from_rcvd)
 *   welcomelist_auth ADDR...       (whitelist_auth)
 *   blocklist_from ADDR...         (blacklist_from)
 *   welcomelist_to ADDR...         (whitelist_to)
 *   unwelcomelist_from / unblocklist_from ADDR... (and the old names)
 * ADDR is a case-insensitive glob (*@example.com, ?). Hits, with
 * SpamAssassin's default scores (a `score NAME x` line in those files
 * wins): USER_IN_WELCOMELIST -100, USER_IN_SPF_WELCOMELIST /
 * USER_IN_DKIM_WELCOMELIST -100, USER_IN_BLOCKLIST 100,
 * USER_IN_WELCOMELIST_TO -6.
 *
 * A From address is forged at will, so a welcome entry alone never counts
 * (unlike SA's plain welcomelist_from): welcomelist_from needs the
 * address's domain to be authenticated (DKIM pass with d= that domain or
 * a parent, SPF pass for an envelope sender in that domain, or DMARC pass
 * for it) or a welcomelist_from_rcvd entry whose relay matched (the last
 * external relay's rDNS, or the client name the MTA forwarded, ends with
 * RDNS). Authentication comes from the "authres" note check_auth leaves
 * (it runs before this check's finish()). A blocklist entry needs no
 * proof. State: the entries, read-only after init; nothing is logged.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "filterd/cfg.h"
#include "filterd/checks.h"
#include "mail/msg.h"
#include "util/arena.h"
#include "util/hits.h"

enum wkind { W_FROM, W_FROM_RCVD, W_AUTH, W_BLOCK, W_TO };

struct wentry {
	enum wkind kind;
	char *pat;
	char *rdns; /* W_FROM_RCVD */
};

static const struct {
	const char *name;
	double def;
} hitnames[] = {
	{ "USER_IN_WELCOMELIST", -100 },
	{ "USER_IN_SPF_WELCOMELIST", -100 },
	{ "USER_IN_DKIM_WELCOMELIST", -100 },
	{ "USER_IN_BLOCKLIST", 100 },
	{ "USER_IN_WELCOMELIST_TO", -6 },
};
#define NHITS (sizeof(hitnames) / sizeof(hitnames[0]))

struct wstate {
	struct wentry *e;
	size_t n, cap;
	double score[NHITS];
};

static const struct {
	const char *dir;
	int kind; /* -1: unlist from W_FROM/W_FROM_RCVD, -2: from W_BLOCK */
} dirs[] = {
	{ "welcomelist_from", W_FROM },
	{ "whitelist_from", W_FROM },
	{ "welcomelist_from_rcvd", W_FROM_RCVD },
	{ "whitelist_from_rcvd", W_FROM_RCVD },
	{ "welcomelist_auth", W_AUTH },
	{ "whitelist_auth", W_AUTH },
	{ "blocklist_from", W_BLOCK },
	{ "blacklist_from", W_BLOCK },
	{ "welcomelist_to", W_TO },
	{ "whitelist_to", W_TO },
	{ "unwelcomelist_from", -1 },
	{ "unwhitelist_from", -1 },
	{ "unblocklist_from", -2 },
	{ "unblacklist_from", -2 },
};

static int
add(struct wstate *st, enum wkind k, const char *pat, const char *rdns)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 32;
		struct wentry *e = realloc(st->e, cap * sizeof(*e));

		if (e == NULL)
			return -ENOMEM;
		st->e = e;
		st->cap = cap;
	}
	st->e[st->n].kind = k;
	st->e[st->n].pat = strdup(pat);
	st->e[st->n].rdns = rdns ? strdup(rdns) : NULL;
	if (st->e[st->n].pat == NULL || (rdns && st->e[st->n].rdns == NULL))
		return -ENOMEM;
	st->n++;
	return 0;
}

static void
unlist(struct wstate *st, int which, const char *pat)
{
	for (size_t i = 0; i < st->n; i++) {
		struct wentry *e = &st->e[i];
		bool mine = which == -2 ? e->kind == W_BLOCK
			: e->kind == W_FROM || e->kind == W_FROM_RCVD;

		if (mine && strcasecmp(e->pat, pat) == 0)
			e->pat[0] = '\0'; /* matches nothing */
	}
}

static int
load_line(struct wstate *st, char *line)
{
	char *save, *d = strtok_r(line, " \t\r\n", &save), *a;

	if (d == NULL || *d == '#')
		return 0;
	if (strcmp(d, "score") == 0) {
		char *name = strtok_r(NULL, " \t\r\n", &save);
		char *v = strtok_r(NULL, " \t\r\n", &save);

		for (size_t i = 0; name && v && i < NHITS; i++)
			if (strcmp(name, hitnames[i].name) == 0)
				st->score[i] = strtod(v, NULL);
		return 0;
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (strcmp(d, dirs[i].dir) != 0)
			continue;
		if (dirs[i].kind == W_FROM_RCVD) {
			char *pat = strtok_r(NULL, " \t\r\n", &save);
			char *rdns = strtok_r(NULL, " \t\r\n", &save);

			return pat && rdns ? add(st, W_FROM_RCVD, pat, rdns)
					   : 0;
		}
		while ((a = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
			int rc;

			if (dirs[i].kind < 0)
				unlist(st, dirs[i].kind, a);
			else if ((rc = add(st, (enum wkind)dirs[i].kind, a,
			    NULL)) < 0)
				return rc;
		}
		return 0;
	}
	return 0;
}

static int
load_file(struct wstate *st, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int rc = 0;

	if (f == NULL)
		return -errno;
	while (rc == 0 && fgets(line, sizeof(line), f))
		rc = load_line(st, line);
	fclose(f);
	return rc;
}

static int
cf_filter(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return n > 3 && strcmp(e->d_name + n - 3, ".cf") == 0;
}

static int
load_path(struct wstate *st, const char *path, bool must)
{
	struct stat sb;
	struct dirent **names;
	int n, rc = 0;

	if (path == NULL || *path == '\0')
		return 0;
	if (stat(path, &sb) < 0)
		return must ? -errno : 0;
	if (!S_ISDIR(sb.st_mode))
		return load_file(st, path);
	if ((n = scandir(path, &names, cf_filter, alphasort)) < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		char p[4096];

		if (rc == 0 && snprintf(p, sizeof(p), "%s/%s", path,
		    names[i]->d_name) < (int)sizeof(p))
			rc = load_file(st, p);
		free(names[i]);
	}
	free(names);
	return rc;
}

static void
wb_free(void *state)
{
	struct wstate *st = state;

	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n; i++) {
		free(st->e[i].pat);
		free(st->e[i].rdns);
	}
	free(st->e);
	free(st);
}

static int
wb_init(const struct cfg *cfg, void **state)
{
	struct wstate *st = calloc(1, sizeof(*st));
	int rc;

	if (st == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < NHITS; i++)
		st->score[i] = hitnames[i].def;
	if ((rc = load_path(st, cfg_str(cfg, "rules_dir"), false)) < 0 ||
	    (rc = load_path(st, cfg_str(cfg, "rules_local"), false)) < 0) {
		wb_free(st);
		return rc;
	}
	*state = st;
	return 0;
}

/* Matching ------------------------------------------------------------- */

static bool
glob(const char *pat, struct bstr addr)
{
	char a[512];

	if (*pat == '\0' || addr.len == 0 || addr.len >= sizeof(a))
		return false;
	memcpy(a, addr.p, addr.len);
	a[addr.len] = '\0';
	return fnmatch(pat, a, FNM_CASEFOLD) == 0;
}

/* dom_under - d equals dom or is a subdomain of it (label boundary) */
static bool
dom_under(struct bstr d, const char *dom, size_t dl)
{
	if (dl == 0 || d.len < dl)
		return false;
	if (strncasecmp((const char *)d.p + d.len - dl, dom, dl) != 0)
		return false;
	return d.len == dl || d.p[d.len - dl - 1] == '.';
}

/* authres_pass - the authres note has "METHOD=pass" with PROP=value where
 * value is domain or (parent: true) a parent domain of it */
static bool
authres_pass(const char *ar, const char *method, const char *prop,
    struct bstr domain, bool parent)
{
	size_t ml = strlen(method), pl = strlen(prop);

	if (ar == NULL || domain.len == 0)
		return false;
	/* resinfo sections are separated by ';' (RFC 8601 section 2.2) */
	for (const char *p = ar; (p = strchr(p, ';')) != NULL;) {
		const char *end;

		p++;
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if (strncasecmp(p, method, ml) == 0 &&
		    strncasecmp(p + ml, "=pass", 5) == 0) {
			for (const char *q = p; q + pl < end; q++) {
				const char *v;
				size_t vl;

				if (strncasecmp(q, prop, pl) != 0 ||
				    q[pl] != '=' || (q > p && q[-1] != ' ' &&
				    q[-1] != '\t' && q[-1] != '\n'))
					continue;
				v = q + pl + 1;
				vl = strcspn(v, " \t\r\n;");
				if (vl == domain.len && strncasecmp(v,
				    (const char *)domain.p, vl) == 0)
					return true;
				if (parent && vl < domain.len) {
					char dd[256];

					if (vl >= sizeof(dd))
						continue;
					memcpy(dd, v, vl);
					if (dom_under(domain, dd, vl))
						return true;
				}
			}
		}
		p = end;
	}
	return false;
}

static struct bstr
domain_of(struct bstr addr)
{
	for (size_t i = addr.len; i > 0; i--)
		if (addr.p[i - 1] == '@')
			return bstr_sub(addr, i, addr.len - i);
	return bstr_make("", 0);
}

struct cand {
	struct bstr addr;
	bool envelope;
};

static void
wb_finish(struct scan *s, void *state)
{
	const struct wstate *st = state;
	struct msg *m = scan_msg(s);
	const struct envelope *env = scan_envelope(s);
	const char *ar = scan_note_get(s, "authres");
	struct hits *h = scan_hits(s);
	const struct msg_addr *from;
	const struct msg_relay *last;
	struct cand c[16];
	size_t nfrom = 0, nc = 0;
	bool hit[NHITS] = { 0 };

	if (st == NULL || st->n == 0 || m == NULL)
		return;
	from = msg_addrs(m, "From", &nfrom);
	for (size_t i = 0; i < nfrom && nc < 15; i++)
		c[nc++] = (struct cand){ from[i].addr, false };
	if (env && env->mail_from && *env->mail_from)
		c[nc++] = (struct cand){ bstr_cstr(env->mail_from), true };
	last = msg_last_external(m);
	for (size_t i = 0; i < st->n; i++) {
		const struct wentry *e = &st->e[i];

		if (e->kind == W_TO) {
			for (size_t r = 0; env && r < env->nrcpts; r++)
				if (glob(e->pat, bstr_cstr(env->rcpts[r])))
					hit[4] = true;
			continue;
		}
		for (size_t k = 0; k < nc; k++) {
			struct bstr a = c[k].addr, d = domain_of(a);

			if (!glob(e->pat, a))
				continue;
			switch (e->kind) {
			case W_BLOCK:
				hit[3] = true;
				break;
			case W_FROM_RCVD: {
				size_t rl = strlen(e->rdns);

				if ((last && dom_under(last->rdns, e->rdns,
				    rl)) || (env && env->client_name &&
				    dom_under(bstr_cstr(env->client_name),
				    e->rdns, rl)))
					hit[0] = true;
				break;
			}
			case W_FROM:
			case W_AUTH: {
				bool dkim = authres_pass(ar, "dkim",
				    "header.d", d, true);
				bool spf = c[k].envelope && authres_pass(ar,
				    "spf", "smtp.mailfrom", a, false);
				bool dmarc = !c[k].envelope && authres_pass(ar,
				    "dmarc", "header.from", d, false);

				/* SPF's smtp.mailfrom may be the domain */
				spf = spf || (c[k].envelope && authres_pass(
				    ar, "spf", "smtp.mailfrom", d, false));
				if (e->kind == W_FROM && (dkim || spf || dmarc))
					hit[0] = true;
				if (e->kind == W_AUTH && dkim)
					hit[2] = true;
				if (e->kind == W_AUTH && (spf || dmarc))
					hit[1] = true;
				break;
			}
			default:
				break;
			}
		}
	}
	for (size_t i = 0; i < NHITS; i++)
		if (hit[i])
			hits_add_score(h, hitnames[i].name, st->score[i], NULL);
}

const struct check check_wblist = {
	.name = "wblist",
	.init = wb_init,
	.finish = wb_finish,
	.free = wb_free,
};
