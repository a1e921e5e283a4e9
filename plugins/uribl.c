/*
 * plugins/uribl.c - URI hosts to URI-blocklist lookup names
 *
 * A URI host is reduced to its registered domain with the Public Suffix
 * List (libpsl: psl_registrable_domain), so www.a.example.co.uk is asked
 * as example.co.uk, as SURBL and URIBL expect. IP-literal hosts become
 * reversed addresses (SA does the same for urirhssub). Domains on the skip
 * list (big benign sites; SA uridnsbl_skip_domain) are never asked, and at
 * most max names per message go out (SA uridnsbl_max_domains), in the
 * order the message model lists its hosts.
 *
 * Memory: the PSL context and skip list are read-only after config load;
 * items come from the caller's arena. Errors: -errno, no logging.
 */
#include "plugins/uribl.h"

#include <ctype.h>
#include <errno.h>
#include <libpsl.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/dns.h"
#include "util/arena.h"

struct uribl_psl {
	psl_ctx_t *psl;
	bool owned; /* psl_builtin() must not be freed */
};

/* uribl_psl_load - see uribl.h */
int
uribl_psl_load(const char *file, struct uribl_psl **out)
{
	struct uribl_psl *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return -ENOMEM;
	if (file != NULL && *file != '\0') {
		if ((p->psl = psl_load_file(file)) == NULL) {
			free(p);
			return -ENOENT;
		}
		p->owned = true;
	} else if ((p->psl = psl_latest(NULL)) != NULL) {
		p->owned = true;
	} else if ((p->psl = (psl_ctx_t *)psl_builtin()) == NULL) {
		free(p);
		return -ENOENT;
	}
	*out = p;
	return 0;
}

struct uribl_psl *
uribl_psl_free(struct uribl_psl *p)
{
	if (p == NULL)
		return NULL;
	if (p->owned)
		psl_free(p->psl);
	free(p);
	return NULL;
}

/* uribl_reg_domain - see uribl.h */
int
uribl_reg_domain(
    const struct uribl_psl *p, const char *host, char *out, size_t outsz)
{
	const char *rd;
	size_t n = strlen(host);

	if (n > 0 && host[n - 1] == '.')
		return -EINVAL; /* callers strip it; keep PSL input clean */
	if (n == 0 || n > 253 || strchr(host, '.') == NULL)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)host[i]) || host[i] == '-' ||
			host[i] == '.' || host[i] == '_'))
			return -EINVAL;
	if ((rd = psl_registrable_domain(p->psl, host)) == NULL)
		return -EINVAL;
	if (strlen(rd) + 1 > outsz)
		return -ENOSPC;
	memcpy(out, rd, strlen(rd) + 1);
	return 0;
}

/* The skip list: a sorted array of lowercase names, bsearch'd. */
struct uribl_skip {
	char **v;
	size_t n, cap;
};

/* Big benign domains, after SpamAssassin's 25_uribl.cf skip list. */
static const char *const skip_builtin[] = {
	"adobe.com",
	"akamai.net",
	"amazon.com",
	"aol.com",
	"apache.org",
	"apple.com",
	"bing.com",
	"cloudflare.com",
	"debian.org",
	"doubleclick.net",
	"ebay.com",
	"example.com",
	"example.net",
	"example.org",
	"facebook.com",
	"github.com",
	"gmail.com",
	"google.com",
	"googleapis.com",
	"googlemail.com",
	"gstatic.com",
	"hotmail.com",
	"icloud.com",
	"instagram.com",
	"linkedin.com",
	"live.com",
	"microsoft.com",
	"mozilla.org",
	"msn.com",
	"office.com",
	"outlook.com",
	"paypal.com",
	"twitter.com",
	"w3.org",
	"wikipedia.org",
	"x.com",
	"yahoo.com",
	"youtube.com",
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
uribl_skip_add(struct uribl_skip *s, const char *domain)
{
	size_t n = strlen(domain);
	char *d;

	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return -EINVAL;
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		char **nv = realloc(s->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		s->v = nv;
		s->cap = ncap;
	}
	if ((d = strndup(domain, n)) == NULL)
		return -ENOMEM;
	for (char *c = d; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	/* insert in order, so lookups never write (threads share it) */
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(s->v[mid], d);

		if (c == 0) {
			free(d);
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(s->v + lo + 1, s->v + lo, (s->n - lo) * sizeof(*s->v));
	s->v[lo] = d;
	s->n++;
	return 0;
}

/* uribl_skip_new - see uribl.h */
struct uribl_skip *
uribl_skip_new(const char *extra, bool builtin)
{
	struct uribl_skip *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	for (size_t i = 0;
	     builtin && i < sizeof(skip_builtin) / sizeof(skip_builtin[0]); i++)
		if (uribl_skip_add(s, skip_builtin[i]) < 0)
			return uribl_skip_free(s);
	while (extra != NULL && *extra != '\0') {
		size_t len = strcspn(extra, " \t,");
		char tmp[256];

		if (len > 0 && len < sizeof(tmp)) {
			memcpy(tmp, extra, len);
			tmp[len] = '\0';
			if (uribl_skip_add(s, tmp) < 0)
				return uribl_skip_free(s);
		}
		extra += len;
		extra += strspn(extra, " \t,");
	}
	return s;
}

bool
uribl_skip_has(const struct uribl_skip *s, const char *domain)
{
	if (s == NULL || s->n == 0)
		return false;
	return bsearch(&domain, s->v, s->n, sizeof(*s->v), cmp_str) != NULL;
}

struct uribl_skip *
uribl_skip_free(struct uribl_skip *s)
{
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	free(s);
	return NULL;
}

/* uribl_items - see uribl.h */
int
uribl_items(const struct uribl_psl *psl, const struct uribl_skip *skip,
    const struct bstr *hosts, size_t n, size_t max, struct arena *a,
    struct uribl_item **out, bool *capped)
{
	struct uribl_item *v;
	size_t k = 0;

	*out = NULL;
	*capped = false;
	if (max == 0)
		max = URIBL_DEF_MAX;
	if ((v = arena_calloc(a, max, sizeof(*v))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char host[256], name[256];
		struct netaddr ip;
		bool is_ip, dup = false;
		size_t hl = hosts[i].len;

		if (hl == 0 || hl >= sizeof(host))
			continue;
		memcpy(host, hosts[i].p, hl);
		host[hl] = '\0';
		if (host[hl - 1] == '.')
			host[--hl] = '\0';
		for (size_t j = 0; j < hl; j++)
			host[j] = (char)tolower((unsigned char)host[j]);
		is_ip = netaddr_parse(host, hl, &ip) == 0;
		if (is_ip) {
			if (netaddr_private(&ip) || netaddr_loopback(&ip))
				continue;
			netaddr_str(&ip, host, sizeof(host));
			if (dns_reverse_name(&ip, NULL, name, sizeof(name)) < 0)
				continue;
		} else {
			if (uribl_reg_domain(psl, host, name, sizeof(name)) < 0)
				continue;
			if (uribl_skip_has(skip, name))
				continue;
		}
		for (size_t j = 0; j < k && !dup; j++)
			dup = strcmp(v[j].name, name) == 0;
		if (dup)
			continue;
		if (k == max) {
			*capped = true;
			break;
		}
		v[k].name = arena_strndup(a, name, strlen(name));
		v[k].host =
		    is_ip ? arena_strndup(a, host, strlen(host)) : v[k].name;
		if (v[k].name == NULL || v[k].host == NULL)
			return -ENOMEM;
		v[k].is_ip = is_ip;
		if (is_ip)
			v[k].ip = ip;
		k++;
	}
	*out = v;
	return (int)k;
}
