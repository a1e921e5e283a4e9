/*
 * tests/unit/auth_zone.h - an in-memory DNS zone for the SPF/DKIM/DMARC
 * tests and conformance runners (header-only, included by their tests)
 *
 * Records are added by hand or loaded from a one-record-per-line RFC 1035
 * zone file (TXT with several strings, A, AAAA, MX, PTR); names can be
 * marked SERVFAIL or TIMEOUT (per type or for all types), and names below a
 * SERVFAIL origin fail like serve-zone.sh -S. zone_resolve() answers one
 * query into a struct authres_dns the way an authoritative server would:
 * records, NODATA when the name has other types, NXDOMAIN otherwise.
 */
#ifndef TESTS_AUTH_ZONE_H
#define TESTS_AUTH_ZONE_H

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plugins/authres.h"

#define ZONE_ALL_TYPES 0
#define ZONE_CNAME 5

struct zone_rec {
	char name[256];
	int type;   /* AUTHRES_*, or ZONE_ALL_TYPES for a status mark */
	int status; /* AUTHRES_DNS_OK for records */
	struct authres_rr rr;
	unsigned char data[2048];
};

struct zone {
	struct zone_rec *r;
	size_t n, cap;
	char servfail[8][256];
	size_t nservfail;
	unsigned queries;
	unsigned timeouts; /* answers given as AUTHRES_DNS_TIMEOUT */
};

static inline void
zone_lc(char *dst, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < 256 && i < n && src[i]; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	if (i && dst[i - 1] == '.')
		i--;
	dst[i] = '\0';
}

static inline struct zone_rec *
zone_new_rec(struct zone *z, const char *name, size_t nlen, int type)
{
	if (z->n == z->cap) {
		z->cap = z->cap ? 2 * z->cap : 64;
		z->r = realloc(z->r, z->cap * sizeof(*z->r));
		if (z->r == NULL)
			abort();
	}
	struct zone_rec *r = &z->r[z->n++];
	memset(r, 0, sizeof(*r));
	zone_lc(r->name, name, nlen);
	r->type = type;
	return r;
}

static inline void
zone_add_txt(struct zone *z, const char *name, const void *txt, size_t len)
{
	struct zone_rec *r = zone_new_rec(z, name, strlen(name), AUTHRES_TXT);

	if (len > sizeof(r->data))
		len = sizeof(r->data);
	memcpy(r->data, txt, len);
	r->rr.txt = bstr_make(r->data, len);
}

/* zone_add - "A 1.2.3.4", "MX 10 mx.example", "PTR x.example" */
static inline int
zone_add(struct zone *z, const char *name, const char *type, const char *rdata)
{
	struct zone_rec *r;

	if (strcasecmp(type, "A") == 0 || strcasecmp(type, "AAAA") == 0) {
		r = zone_new_rec(z, name, strlen(name),
		    toupper(type[1]) == 'A' ? AUTHRES_AAAA : AUTHRES_A);
		return netaddr_parse(rdata, strlen(rdata), &r->rr.addr);
	}
	if (strcasecmp(type, "MX") == 0) {
		char host[256];
		unsigned pref;
		if (sscanf(rdata, "%u %255s", &pref, host) != 2)
			return -EINVAL;
		r = zone_new_rec(z, name, strlen(name), AUTHRES_MX);
		r->rr.pref = pref;
		zone_lc((char *)r->data, host, strlen(host));
		r->rr.txt = bstr_cstr((char *)r->data);
		return 0;
	}
	if (strcasecmp(type, "PTR") == 0 || strcasecmp(type, "CNAME") == 0) {
		r = zone_new_rec(z, name, strlen(name),
		    toupper(type[0]) == 'P' ? AUTHRES_PTR : ZONE_CNAME);
		zone_lc((char *)r->data, rdata, strlen(rdata));
		r->rr.txt = bstr_cstr((char *)r->data);
		return 0;
	}
	return -EINVAL;
}

/* zone_mark - name answers status for type (ZONE_ALL_TYPES: every type
 * that has no record of its own) */
static inline void
zone_mark(struct zone *z, const char *name, int type, int status)
{
	struct zone_rec *r = zone_new_rec(
	    z, name, strlen(name), type == ZONE_ALL_TYPES ? -1 : type);

	r->status = status;
	if (type != ZONE_ALL_TYPES)
		r->type = -2 - type; /* per-type mark */
}

static inline void
zone_servfail_below(struct zone *z, const char *origin)
{
	if (z->nservfail < 8)
		zone_lc(z->servfail[z->nservfail++], origin, strlen(origin));
}

/* Parse one quoted-string list into buf; returns length. */
static inline size_t
zone_txt_strings(const char *p, unsigned char *out, size_t max)
{
	size_t o = 0;

	while (*p) {
		if (*p != '"') {
			p++;
			continue;
		}
		p++;
		while (*p && *p != '"') {
			int c = (unsigned char)*p++;
			if (c == '\\' && *p) {
				if (isdigit((unsigned char)p[0]) &&
				    isdigit((unsigned char)p[1]) &&
				    isdigit((unsigned char)p[2])) {
					c = (p[0] - '0') * 100 +
					    (p[1] - '0') * 10 + (p[2] - '0');
					p += 3;
				} else
					c = (unsigned char)*p++;
			}
			if (o < max)
				out[o++] = (unsigned char)c;
		}
		if (*p == '"')
			p++;
	}
	return o;
}

/* zone_load - a zone file with origin "." and one record per line */
static inline int
zone_load(struct zone *z, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[8192];

	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char name[256], tok[64], rest[8192];
		const char *p = line;
		int off = 0;

		if (line[0] == ';' || line[0] == '$' ||
		    isspace((unsigned char)line[0]))
			continue;
		if (sscanf(p, "%255s%n", name, &off) != 1)
			continue;
		p += off;
		/* Skip a TTL and a class. */
		for (;;) {
			if (sscanf(p, "%63s%n", tok, &off) != 1)
				break;
			if (isdigit((unsigned char)tok[0]) ||
			    strcasecmp(tok, "IN") == 0) {
				p += off;
				continue;
			}
			break;
		}
		p += off;
		while (isspace((unsigned char)*p))
			p++;
		snprintf(rest, sizeof(rest), "%s", p);
		rest[strcspn(rest, "\n")] = '\0';
		if (strcasecmp(tok, "TXT") == 0) {
			unsigned char buf[4096];
			size_t n = zone_txt_strings(rest, buf, sizeof(buf));
			zone_add_txt(z, name, buf, n);
		} else if (strcasecmp(tok, "SOA") && strcasecmp(tok, "NS"))
			zone_add(z, name, tok, rest);
	}
	fclose(f);
	return 0;
}

static inline bool
zone_below(const char *name, const char *origin)
{
	size_t n = strlen(name), o = strlen(origin);

	return strcmp(name, origin) == 0 ||
	    (n > o && name[n - o - 1] == '.' &&
		strcmp(name + n - o, origin) == 0);
}

/* zone_resolve - authres_resolve_fn over the zone; CNAMEs are followed
 * like a recursive resolver does (a loop answers NODATA) */
static inline int
zone_resolve(void *arg, const struct authres_query *q, struct authres_dns *d)
{
	struct zone *z = arg;
	struct authres_rr rr[64];
	size_t n = 0;
	bool name_exists = false;
	int mark_all = -1, mark_type = -1, hops = 0;
	char cur[256];

	z->queries++;
	snprintf(cur, sizeof(cur), "%s", q->name);
again:
	for (size_t i = 0; i < z->nservfail; i++)
		if (zone_below(cur, z->servfail[i]))
			return authres_dns_put(
			    d, q->name, q->type, AUTHRES_DNS_SERVFAIL, NULL, 0);
	for (size_t i = 0; i < z->n; i++) {
		struct zone_rec *r = &z->r[i];
		if (strcmp(r->name, cur) != 0)
			continue;
		if (r->type == ZONE_CNAME && q->type != ZONE_CNAME) {
			if (++hops > 8)
				return authres_dns_put(d, q->name, q->type,
				    AUTHRES_DNS_NODATA, NULL, 0);
			snprintf(cur, sizeof(cur), "%.255s", (char *)r->data);
			goto again;
		}
		if (r->type == -1) {
			mark_all = r->status;
			continue;
		}
		if (r->type <= -2) {
			if (-2 - r->type == (int)q->type)
				mark_type = r->status;
			continue;
		}
		name_exists = true;
		if (r->type == (int)q->type && n < 64)
			rr[n++] = r->rr;
	}
	if (mark_type >= 0) {
		z->timeouts += mark_type == AUTHRES_DNS_TIMEOUT;
		return authres_dns_put(d, q->name, q->type, mark_type, NULL, 0);
	}
	if (n)
		return authres_dns_put(
		    d, q->name, q->type, AUTHRES_DNS_OK, rr, n);
	if (mark_all >= 0) {
		z->timeouts += mark_all == AUTHRES_DNS_TIMEOUT;
		return authres_dns_put(d, q->name, q->type, mark_all, NULL, 0);
	}
	return authres_dns_put(d, q->name, q->type,
	    name_exists ? AUTHRES_DNS_NODATA : AUTHRES_DNS_NXDOMAIN, NULL, 0);
}

static inline void
zone_free(struct zone *z)
{
	free(z->r);
	memset(z, 0, sizeof(*z));
}

/* Read a whole file (for message fixtures); NULL on error. */
static inline unsigned char *
zone_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)n + 1)) &&
	    fread(b, 1, (size_t)n, f) == (size_t)n)
		*len = (size_t)n;
	else {
		free(b);
		b = NULL;
	}
	fclose(f);
	return b;
}

#endif
