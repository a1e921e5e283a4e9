/*
 * authres - DNS answer set for the SPF/DKIM/DMARC evaluators, and the
 * Authentication-Results header (RFC 8601)
 *
 * Memory: the answer set and every answer live in the caller's arena.
 * Errors: 0 or -ENOMEM / -ENOSPC / -EINVAL; nothing here logs.
 * Limits: AUTHRES_MAX_WANTED lookups outstanding at once.
 */
#include "plugins/authres.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "plugins/dns.h"
#include "util/arena.h"

#define AUTHRES_MAX_WANTED 64

struct entry {
	struct entry *next;
	char name[256];
	enum authres_type type;
	struct authres_answer ans;
};

struct authres_dns {
	struct arena *arena;
	struct entry *head;
	size_t count;
	struct authres_query wanted[AUTHRES_MAX_WANTED];
	size_t nwanted;
};

/* Lower case, drop one trailing dot; false when it does not fit. */
static bool
norm_name(const char *in, char *out)
{
	size_t n = strlen(in);

	if (n && in[n - 1] == '.')
		n--;
	if (n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[n] = '\0';
	return true;
}

/* authres_dns_new - an empty answer set */
struct authres_dns *
authres_dns_new(struct arena *a)
{
	struct authres_dns *d = arena_calloc(a, 1, sizeof(*d));

	if (d)
		d->arena = a;
	return d;
}

static struct entry *
find(const struct authres_dns *d, const char *name, enum authres_type type)
{
	for (struct entry *e = d->head; e; e = e->next)
		if (e->type == type && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* authres_dns_put - store an answer, copying the records */
int
authres_dns_put(struct authres_dns *d, const char *name, enum authres_type type,
    enum authres_status st, const struct authres_rr *rr, size_t n)
{
	char key[257];
	struct entry *e;
	struct authres_rr *copy = NULL;

	if (!norm_name(name, key))
		return -EINVAL;
	if (n) {
		if ((copy = arena_calloc(d->arena, n, sizeof(*copy))) == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			copy[i] = rr[i];
			if (rr[i].txt.len) {
				copy[i].txt.p = arena_memdup(
				    d->arena, rr[i].txt.p, rr[i].txt.len);
				if (copy[i].txt.p == NULL)
					return -ENOMEM;
			}
		}
	}
	if ((e = find(d, key, type)) == NULL) {
		if ((e = arena_calloc(d->arena, 1, sizeof(*e))) == NULL)
			return -ENOMEM;
		memcpy(e->name, key, strlen(key) + 1);
		e->type = type;
		e->next = d->head;
		d->head = e;
		d->count++;
	}
	e->ans.status = st;
	e->ans.n = st == AUTHRES_DNS_OK ? n : 0;
	e->ans.rr = copy;
	if (st == AUTHRES_DNS_OK && n == 0)
		e->ans.status = AUTHRES_DNS_NODATA;
	return 0;
}

static enum authres_status
map_status(enum dns_status s)
{
	switch (s) {
	case DNS_OK:
		return AUTHRES_DNS_OK;
	case DNS_NXDOMAIN:
		return AUTHRES_DNS_NXDOMAIN;
	case DNS_NODATA:
		return AUTHRES_DNS_NODATA;
	case DNS_TIMEOUT:
		return AUTHRES_DNS_TIMEOUT;
	default:
		return AUTHRES_DNS_SERVFAIL;
	}
}

/* authres_dns_put_result - see authres.h */
int
authres_dns_put_result(struct authres_dns *d, const char *name,
    enum authres_type type, const struct dns_result *r)
{
	struct authres_rr rr[64];
	size_t n = 0;

	for (size_t i = 0; i < r->n && n < 64; i++) {
		const struct dns_rr *x = &r->rr[i];

		if (x->type != (uint16_t)type)
			continue;
		memset(&rr[n], 0, sizeof(rr[n]));
		rr[n].addr = x->addr;
		rr[n].pref = x->pref;
		rr[n].txt = type == AUTHRES_TXT ? x->txt : bstr_cstr(x->name);
		n++;
	}
	return authres_dns_put(d, name, type, map_status(r->status), rr, n);
}

/* authres_dns_get - a stored answer or NULL */
const struct authres_answer *
authres_dns_get(
    const struct authres_dns *d, const char *name, enum authres_type type)
{
	char key[257];
	struct entry *e;

	if (!norm_name(name, key))
		return NULL;
	e = find(d, key, type);
	return e ? &e->ans : NULL;
}

/* authres_dns_want - remember a lookup the evaluator is waiting for */
int
authres_dns_want(
    struct authres_dns *d, const char *name, enum authres_type type)
{
	char key[257];

	if (!norm_name(name, key))
		return -EINVAL;
	for (size_t i = 0; i < d->nwanted; i++)
		if (d->wanted[i].type == type &&
		    strcmp(d->wanted[i].name, key) == 0)
			return 0;
	if (d->nwanted == AUTHRES_MAX_WANTED)
		return 0; /* asked again after the next round */
	memcpy(d->wanted[d->nwanted].name, key, strlen(key) + 1);
	d->wanted[d->nwanted++].type = type;
	return 0;
}

const struct authres_query *
authres_dns_wanted(const struct authres_dns *d, size_t *n)
{
	*n = d->nwanted;
	return d->wanted;
}

void
authres_dns_clear_wanted(struct authres_dns *d)
{
	d->nwanted = 0;
}

size_t
authres_dns_count(const struct authres_dns *d)
{
	return d->count;
}

/* authres_dns_drive - synchronous loop: step, resolve what it wants, again */
int
authres_dns_drive(struct authres_dns *d, int (*step)(void *), void *sarg,
    authres_resolve_fn *fn, void *farg, unsigned max_rounds)
{
	int rc;

	for (unsigned round = 0;; round++) {
		size_t n;
		const struct authres_query *q;

		authres_dns_clear_wanted(d);
		rc = step(sarg);
		if (rc != -EAGAIN)
			return rc;
		q = authres_dns_wanted(d, &n);
		if (n == 0 || round >= max_rounds)
			return -ELOOP;
		/* Copy: fn may not touch the wanted list, but be safe. */
		struct authres_query batch[AUTHRES_MAX_WANTED];
		memcpy(batch, q, n * sizeof(*q));
		for (size_t i = 0; i < n; i++)
			if ((rc = fn(farg, &batch[i], d)) < 0)
				return rc;
	}
}

/* Authentication-Results ------------------------------------------------ */

static bool
is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* authres_is_ours - does this A-R header value start with our authserv-id?
 * RFC 8601 2.2: the value begins with [CFWS] authserv-id; comments in
 * front of it are skipped. */
bool
authres_is_ours(struct bstr v, const char *authserv_id)
{
	size_t i = 0, start, idlen = strlen(authserv_id);

	for (;;) {
		while (i < v.len && is_ws(v.p[i]))
			i++;
		if (i < v.len && v.p[i] == '(') {
			int depth = 0;
			for (; i < v.len; i++) {
				if (v.p[i] == '\\') {
					i++;
					continue;
				}
				if (v.p[i] == '(')
					depth++;
				else if (v.p[i] == ')' && --depth == 0) {
					i++;
					break;
				}
			}
			continue;
		}
		break;
	}
	start = i;
	while (i < v.len && !is_ws(v.p[i]) && v.p[i] != ';' && v.p[i] != '(')
		i++;
	if (i - start == 0 || idlen == 0)
		return false;
	return bstr_caseeq(
	    bstr_make(v.p + start, i - start), bstr_cstr(authserv_id));
}

bool
authres_strip(struct bstr name, struct bstr value, const char *authserv_id)
{
	return bstr_caseeq(
		   bstr_trim(name), BSTR_LIT("Authentication-Results")) &&
	    authres_is_ours(value, authserv_id);
}

/* RFC 2045 token: printable ASCII except SP and tspecials. The "@" and
 * "/" that RFC 8601 2.3 allows in a pvalue are accepted as well. */
bool
authres_token_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 32 || c >= 127 || strchr("()<>,;:\\\"[]?=", c))
			return false;
	}
	return true;
}

int
authres_start(struct buf *b, const char *authserv_id)
{
	if (!authres_token_ok(authserv_id))
		return -EINVAL;
	return buf_puts(b, authserv_id);
}

static int
put_value(struct buf *b, const char *v)
{
	int rc;

	if (authres_token_ok(v))
		return buf_puts(b, v);
	if ((rc = buf_putc(b, '"')) < 0)
		return rc;
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		if (c < 32 || c == 127)
			c = '?'; /* never let a sender fold our header */
		if ((c == '"' || c == '\\') && (rc = buf_putc(b, '\\')) < 0)
			return rc;
		if ((rc = buf_putc(b, c)) < 0)
			return rc;
	}
	return buf_putc(b, '"');
}

int
authres_add(struct buf *b, const char *fold, const char *method,
    const char *result, const char *reason, const char *const *props,
    size_t nprops)
{
	int rc;

	if ((rc = buf_printf(b, ";%s%s=%s", fold, method, result)) < 0)
		return rc;
	if (reason && *reason) {
		/* A comment: parentheses and backslashes escaped. */
		if ((rc = buf_puts(b, " (")) < 0)
			return rc;
		for (const char *r = reason; *r; r++) {
			unsigned char c = (unsigned char)*r;
			if (c < 32 || c == 127)
				c = '?';
			if ((c == '(' || c == ')' || c == '\\') &&
			    (rc = buf_putc(b, '\\')) < 0)
				return rc;
			if ((rc = buf_putc(b, c)) < 0)
				return rc;
		}
		if ((rc = buf_putc(b, ')')) < 0)
			return rc;
	}
	for (size_t i = 0; i < nprops; i++) {
		const char *k = props[2 * i], *v = props[2 * i + 1];
		if (v == NULL || *v == '\0')
			continue;
		if ((rc = buf_printf(b, " %s=", k)) < 0 ||
		    (rc = put_value(b, v)) < 0)
			return rc;
	}
	return 0;
}

int
authres_finish(struct buf *b)
{
	if (b->len == 0 || memchr(b->p, ';', b->len) == NULL)
		return buf_puts(b, "; none");
	return 0;
}

int
authres_servid(const char *configured, const char *myhostname, char *out,
    size_t outsz)
{
	const char *id = configured && *configured ? configured : myhostname;

	if (id == NULL || *id == '\0') {
		if (gethostname(out, outsz - 1) < 0)
			snprintf(out, outsz, "localhost");
		out[outsz - 1] = '\0';
	} else
		snprintf(out, outsz, "%s", id);
	return authres_token_ok(out) ? 0 : -EINVAL;
}
