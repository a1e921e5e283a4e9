/*
 * plugins/dns.c - asynchronous DNS: c-ares driven by a libevent loop, a TTL
 * cache with negative entries, per-message contexts with a deadline
 *
 * The only file that includes ares.h. One resolver per worker: the c-ares
 * channel's sockets are libevent events (ARES_OPT_SOCK_STATE_CB) and its
 * retransmit timer is one evtimer. Replies are parsed here (RFC 1035
 * section 4.1) rather than with ares_parse_*, because those drop TTLs and
 * the SOA of negative answers that the cache needs (RFC 2308 section 5).
 *
 * Memory: answers are single refcounted allocations (an arena of their
 * own) shared by the cache and the callbacks waiting for them; queries
 * waiting for an answer (struct dns_q) are malloc'd and owned by their
 * context. A context (struct dns_ctx) is malloc'd, registered as a cleanup
 * on the message arena: freeing the arena cancels every query of the
 * context, so no callback ever runs for a freed message. Identical queries
 * in flight are sent once (struct inflight) and the answer fans out.
 *
 * Callbacks run only from a per-context event, never from inside
 * dns_query() or from inside c-ares, so a callback may start queries or
 * free the message (and with it the context) safely.
 *
 * Errors: 0 or -errno; a query that fails to start never runs its
 * callback. No logging here: status codes go to the callers.
 */
#include "plugins/dns.h"

#include <ares.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util/arena.h"

#define DNS_MAX_NAME 255 /* RFC 1035 section 2.3.4 */
#define DNS_MAX_RR 64	 /* answers kept per reply */
#define DNS_MAX_PTRS 64	 /* compression pointers followed per name */
#define DNS_DEF_CACHE 10000
#define DNS_DEF_MAX_TTL 86400
#define DNS_DEF_NEG_TTL 60

/* Reply parsing ---------------------------------------------------------- */

struct dns_answer {
	struct arena *a;
	unsigned refs;
	struct dns_result res;
};

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * read_name - decode a possibly compressed domain name (RFC 1035 section
 * 4.1.4) at *off into out as lowercase dotted text without the final dot;
 * *off moves past the name as it sits at *off. -EBADMSG on loops, bad
 * pointers, overlong names or truncation.
 */
static int
read_name(
    const unsigned char *pkt, size_t len, size_t *off, char *out, size_t outsz)
{
	size_t pos = *off, o = 0;
	int jumps = 0;
	bool jumped = false;

	for (;;) {
		unsigned l;

		if (pos >= len)
			return -EBADMSG;
		l = pkt[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len || ++jumps > DNS_MAX_PTRS)
				return -EBADMSG;
			if (!jumped)
				*off = pos + 2;
			jumped = true;
			pos = (size_t)(l & 0x3f) << 8 | pkt[pos + 1];
			continue;
		}
		if (l & 0xc0)
			return -EBADMSG; /* RFC 6891 extended labels: no */
		pos++;
		if (l == 0)
			break;
		if (pos + l > len)
			return -EBADMSG;
		if (o + l + 2 > outsz || o + l + 1 > DNS_MAX_NAME)
			return -EBADMSG;
		if (o > 0)
			out[o++] = '.';
		for (unsigned i = 0; i < l; i++)
			out[o++] = (char)tolower(pkt[pos + i]);
		pos += l;
	}
	if (!jumped)
		*off = pos;
	out[o] = '\0';
	return 0;
}

static struct dns_answer *
answer_new(enum dns_status st, uint16_t qtype, const char *name)
{
	struct arena *a = arena_new(1024);
	struct dns_answer *ans;

	if (a == NULL)
		return NULL;
	if ((ans = arena_calloc(a, 1, sizeof(*ans))) == NULL) {
		arena_free(a);
		return NULL;
	}
	ans->a = a;
	ans->refs = 1;
	ans->res.status = st;
	ans->res.type = qtype;
	ans->res.name =
	    arena_strndup(a, name ? name : "", name ? strlen(name) : 0);
	if (ans->res.name == NULL) {
		arena_free(a);
		return NULL;
	}
	return ans;
}

static struct dns_answer *
answer_ref(struct dns_answer *ans)
{
	ans->refs++;
	return ans;
}

static void
answer_unref(struct dns_answer *ans)
{
	if (ans != NULL && --ans->refs == 0)
		arena_free(ans->a);
}

/* dns_answer_free - drop the caller's reference */
void
dns_answer_free(struct dns_answer *ans)
{
	answer_unref(ans);
}

const struct dns_result *
dns_answer_result(const struct dns_answer *ans)
{
	return &ans->res;
}

/* parse_txt - the character-strings of one TXT RDATA (RFC 1035 3.3.14) */
static int
parse_txt(
    struct arena *a, const unsigned char *p, size_t len, struct dns_rr *rr)
{
	size_t n = 0, total = 0, i;
	struct bstr *v;
	unsigned char *j;

	for (i = 0; i < len; i += 1 + (size_t)p[i], n++)
		total += p[i];
	if (i != len)
		return -EBADMSG;
	if ((v = arena_calloc(a, n ? n : 1, sizeof(*v))) == NULL ||
	    (j = arena_alloc(a, total + 1)) == NULL)
		return -ENOMEM;
	total = 0;
	n = 0;
	for (i = 0; i < len; i += 1 + (size_t)p[i]) {
		memcpy(j + total, p + i + 1, p[i]);
		v[n++] = bstr_make(j + total, p[i]);
		total += p[i];
	}
	j[total] = '\0';
	rr->txt = bstr_make(j, total);
	rr->strings = v;
	rr->nstrings = n;
	return 0;
}

/* parse_rdata - one RR of the asked type into rr; -EBADMSG if malformed */
static int
parse_rdata(struct arena *a, const unsigned char *pkt, size_t len, size_t off,
    size_t rdlen, uint16_t type, struct dns_rr *rr)
{
	char name[DNS_MAX_NAME + 2];
	size_t o = off;
	int rc;

	switch (type) {
	case DNS_T_A:
		if (rdlen != 4)
			return -EBADMSG;
		rr->addr.family = AF_INET;
		memcpy(rr->addr.a, pkt + off, 4);
		return 0;
	case DNS_T_AAAA:
		if (rdlen != 16)
			return -EBADMSG;
		rr->addr.family = AF_INET6;
		memcpy(rr->addr.a, pkt + off, 16);
		return 0;
	case DNS_T_MX:
		if (rdlen < 3)
			return -EBADMSG;
		rr->pref = get16(pkt + off);
		o += 2;
		/* fall through */
	case DNS_T_PTR:
	case DNS_T_NS:
	case DNS_T_CNAME:
		if ((rc = read_name(pkt, len, &o, name, sizeof(name))) < 0)
			return rc;
		if (o > off + rdlen)
			return -EBADMSG;
		rr->name = arena_strndup(a, name, strlen(name));
		return rr->name ? 0 : -ENOMEM;
	case DNS_T_TXT:
		return parse_txt(a, pkt + off, rdlen, rr);
	default:
		return -EINVAL;
	}
}

/* dns_reply_parse - see dns.h */
int
dns_reply_parse(const unsigned char *pkt, size_t len, uint16_t qtype,
    struct dns_answer **out)
{
	char qname[DNS_MAX_NAME + 2] = "", owner[DNS_MAX_NAME + 2];
	char target[DNS_MAX_NAME + 2];
	unsigned qd, an, ns, rcode;
	struct dns_answer *ans;
	struct dns_rr *rrs;
	struct dns_result *res;
	uint32_t minttl = UINT32_MAX;
	size_t off = 12;
	int rc;

	*out = NULL;
	if (len < 12)
		return -EBADMSG;
	rcode = pkt[3] & 0x0f;
	qd = get16(pkt + 4);
	an = get16(pkt + 6);
	ns = get16(pkt + 8);
	for (unsigned i = 0; i < qd; i++) {
		char *dst = i == 0 ? qname : owner;

		if ((rc = read_name(pkt, len, &off, dst, sizeof(qname))) < 0)
			return rc;
		if (off + 4 > len)
			return -EBADMSG;
		off += 4;
	}
	if ((ans = answer_new(DNS_ERROR, qtype, qname)) == NULL)
		return -ENOMEM;
	res = &ans->res;
	rrs = arena_calloc(
	    ans->a, an < DNS_MAX_RR ? (an ? an : 1) : DNS_MAX_RR, sizeof(*rrs));
	if (rrs == NULL) {
		rc = -ENOMEM;
		goto out_free;
	}
	res->rr = rrs;
	/* Follow the CNAME chain from the question name: only records owned
	 * by the current target count (RFC 1034 section 3.6.2). */
	memcpy(target, qname, sizeof(target));
	for (unsigned i = 0; i < an + ns; i++) {
		uint16_t type, cls;
		uint32_t ttl;
		size_t rdlen;

		if ((rc = read_name(pkt, len, &off, owner, sizeof(owner))) < 0)
			goto out_free;
		if (off + 10 > len) {
			rc = -EBADMSG;
			goto out_free;
		}
		type = get16(pkt + off);
		cls = get16(pkt + off + 2);
		ttl = get32(pkt + off + 4);
		if (ttl > 0x7fffffffu) /* RFC 2181 section 8 */
			ttl = 0;
		rdlen = get16(pkt + off + 8);
		off += 10;
		if (off + rdlen > len) {
			rc = -EBADMSG;
			goto out_free;
		}
		if (cls != 1)
			goto next;
		if (i >= an) {
			/* authority: the SOA of a negative answer */
			size_t o = off;
			char tmp[DNS_MAX_NAME + 2];
			uint32_t min;

			if (type != DNS_T_SOA)
				goto next;
			if (read_name(pkt, len, &o, tmp, sizeof(tmp)) < 0 ||
			    read_name(pkt, len, &o, tmp, sizeof(tmp)) < 0 ||
			    o + 20 > off + rdlen)
				goto next;
			min = get32(pkt + o + 16);
			if (min > 0x7fffffffu)
				min = 0;
			res->ttl = ttl < min ? ttl : min;
			res->status = DNS_NXDOMAIN; /* marks "have SOA" below */
			goto next;
		}
		if (strcmp(owner, target) != 0)
			goto next;
		if (type == DNS_T_CNAME && qtype != DNS_T_CNAME) {
			size_t o = off;

			if (read_name(pkt, len, &o, target, sizeof(target)) <
			    0) {
				rc = -EBADMSG;
				goto out_free;
			}
			minttl = ttl < minttl ? ttl : minttl;
			goto next;
		}
		if (type != qtype || res->n >= DNS_MAX_RR)
			goto next;
		rrs[res->n].type = type;
		rrs[res->n].ttl = ttl;
		if ((rc = parse_rdata(
			 ans->a, pkt, len, off, rdlen, type, &rrs[res->n])) < 0)
			goto out_free;
		minttl = ttl < minttl ? ttl : minttl;
		res->n++;
	next:
		off += rdlen;
	}
	switch (rcode) {
	case 0:
		if (res->n > 0) {
			res->status = DNS_OK;
			res->ttl = minttl;
		} else {
			if (res->status != DNS_NXDOMAIN) /* no SOA seen */
				res->ttl = 0;
			res->status = DNS_NODATA;
		}
		break;
	case 3:
		if (res->status != DNS_NXDOMAIN)
			res->ttl = 0;
		res->status = DNS_NXDOMAIN;
		res->n = 0;
		break;
	case 2:
		res->status = DNS_SERVFAIL;
		res->n = 0;
		res->ttl = 0;
		break;
	case 5:
		res->status = DNS_REFUSED;
		res->n = 0;
		res->ttl = 0;
		break;
	default:
		res->status = DNS_ERROR;
		res->n = 0;
		res->ttl = 0;
		break;
	}
	*out = ans;
	return 0;
out_free:
	answer_unref(ans);
	return rc;
}

const char *
dns_status_str(enum dns_status st)
{
	static const char *const names[] = { "ok", "nxdomain", "nodata",
		"servfail", "refused", "timeout", "error" };

	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st]
							       : "?";
}

const char *
dns_type_str(uint16_t type)
{
	switch (type) {
	case DNS_T_A:
		return "A";
	case DNS_T_AAAA:
		return "AAAA";
	case DNS_T_TXT:
		return "TXT";
	case DNS_T_MX:
		return "MX";
	case DNS_T_PTR:
		return "PTR";
	case DNS_T_NS:
		return "NS";
	case DNS_T_CNAME:
		return "CNAME";
	default:
		return "?";
	}
}

/* dns_reverse_name - see dns.h */
int
dns_reverse_name(
    const struct netaddr *na, const char *suffix, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	struct buf b;
	int rc = 0;

	buf_init(&b, outsz > 0 ? outsz - 1 : 0);
	if (na->family == AF_INET) {
		for (int i = 3; i >= 0 && rc == 0; i--)
			rc = buf_printf(&b, i == 3 ? "%u" : ".%u", na->a[i]);
	} else if (na->family == AF_INET6) {
		/* RFC 3596 section 2.5: nibbles, least significant first */
		for (int i = 15; i >= 0 && rc == 0; i--) {
			char nib[4] = { hex[na->a[i] & 0xf], '.',
				hex[na->a[i] >> 4], '\0' };

			if (i != 15)
				rc = buf_putc(&b, '.');
			if (rc == 0)
				rc = buf_puts(&b, nib);
		}
	} else {
		rc = -EINVAL;
	}
	if (rc == 0 && suffix != NULL && *suffix != '\0')
		rc = buf_printf(&b, ".%s", suffix);
	if (rc == 0 && b.len > 0 && b.p[b.len - 1] == '.')
		b.len--;
	if (rc == 0 && b.len + 1 <= outsz) {
		memcpy(out, b.p, b.len);
		out[b.len] = '\0';
	} else if (rc == 0) {
		rc = -ENOSPC;
	}
	buf_free(&b);
	return rc == -ENOSPC || rc == 0 ? rc : -ENOSPC;
}

/* The resolver ----------------------------------------------------------- */

struct hnode {
	struct hnode *hnext;
	uint32_t h;
	char key[]; /* "type/name" */
};

struct htab {
	struct hnode **v;
	size_t size, n;
};

struct centry {
	struct centry *lnext, *lprev; /* insertion order, oldest first */
	struct dns_answer *ans;
	int64_t expires;
	struct hnode hn; /* last: flexible key */
};

struct dns_q;

struct inflight {
	struct dns_resolver *r;
	struct dns_q *waiters;
	char *name;
	uint16_t type;
	struct hnode hn;
};

struct dns_q {
	struct dns_q *cnext, *cprev; /* all queries of the ctx */
	struct dns_q *wnext, *wprev; /* waiters of one inflight */
	struct dns_q *rnext;	     /* ready queue of the ctx */
	struct inflight *inf;	     /* NULL once an answer is attached */
	struct dns_answer *ans;
	struct dns_ctx *ctx;
	dns_cb *cb;
	void *arg;
	bool cached;
};

struct dns_ctx {
	struct dns_resolver *r;
	struct dns_q *all;
	struct dns_q *ready, *ready_tail;
	struct event *ready_ev, *deadline_ev;
	size_t pending;
	unsigned in_cb;
	bool dead, deadline_passed;
};

struct sockev {
	struct sockev *next;
	ares_socket_t fd;
	struct event *ev;
};

struct dns_resolver {
	struct event_base *base;
	ares_channel ch;
	bool ch_ok, destroying;
	struct event *timer;
	struct sockev *socks;
	struct dns_opts o;
	struct htab cache, inflight;
	struct centry *lru_head, *lru_tail;
	struct dns_stats st;
};

static uint32_t
hash_key(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct hnode *
htab_find(const struct htab *t, const char *key, uint32_t h)
{
	if (t->size == 0)
		return NULL;
	for (struct hnode *n = t->v[h & (t->size - 1)]; n; n = n->hnext)
		if (n->h == h && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

static int
htab_add(struct htab *t, struct hnode *n)
{
	if (t->n + 1 > t->size / 2) {
		size_t nsize = t->size ? t->size * 2 : 64;
		struct hnode **nv = calloc(nsize, sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		for (size_t i = 0; i < t->size; i++) {
			struct hnode *x = t->v[i], *nx;

			for (; x; x = nx) {
				nx = x->hnext;
				x->hnext = nv[x->h & (nsize - 1)];
				nv[x->h & (nsize - 1)] = x;
			}
		}
		free(t->v);
		t->v = nv;
		t->size = nsize;
	}
	n->hnext = t->v[n->h & (t->size - 1)];
	t->v[n->h & (t->size - 1)] = n;
	t->n++;
	return 0;
}

static void
htab_del(struct htab *t, struct hnode *n)
{
	struct hnode **pp = &t->v[n->h & (t->size - 1)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == n) {
			*pp = n->hnext;
			t->n--;
			return;
		}
}

static int64_t
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
cache_drop(struct dns_resolver *r, struct centry *e)
{
	htab_del(&r->cache, &e->hn);
	if (e->lprev)
		e->lprev->lnext = e->lnext;
	else
		r->lru_head = e->lnext;
	if (e->lnext)
		e->lnext->lprev = e->lprev;
	else
		r->lru_tail = e->lprev;
	answer_unref(e->ans);
	free(e);
}

static struct dns_answer *
cache_get(struct dns_resolver *r, const char *key, uint32_t h)
{
	struct hnode *n = htab_find(&r->cache, key, h);
	struct centry *e;

	if (n == NULL)
		return NULL;
	e = (struct centry *)((char *)n - offsetof(struct centry, hn));
	if (e->expires <= now_sec()) {
		cache_drop(r, e);
		return NULL;
	}
	return e->ans;
}

static void
cache_put(
    struct dns_resolver *r, const char *key, uint32_t h, struct dns_answer *ans)
{
	struct hnode *old = htab_find(&r->cache, key, h);
	size_t klen = strlen(key);
	uint32_t ttl = ans->res.ttl;
	struct centry *e;

	if (ans->res.status != DNS_OK && ans->res.status != DNS_NXDOMAIN &&
	    ans->res.status != DNS_NODATA)
		return; /* failures are not cached */
	if (ans->res.status != DNS_OK && ttl == 0)
		ttl = r->o.neg_ttl;
	if (ttl > r->o.max_ttl)
		ttl = r->o.max_ttl;
	if (ttl == 0 || r->o.no_cache)
		return;
	if (old != NULL)
		cache_drop(r,
		    (struct centry *)((char *)old -
			offsetof(struct centry, hn)));
	while (r->cache.n >= r->o.cache_max && r->lru_head)
		cache_drop(r, r->lru_head);
	if ((e = calloc(1, sizeof(*e) + klen + 1)) == NULL)
		return;
	memcpy(e->hn.key, key, klen + 1);
	e->hn.h = h;
	if (htab_add(&r->cache, &e->hn) < 0) {
		free(e);
		return;
	}
	e->ans = answer_ref(ans);
	e->expires = now_sec() + ttl;
	e->lprev = r->lru_tail;
	if (r->lru_tail)
		r->lru_tail->lnext = e;
	else
		r->lru_head = e;
	r->lru_tail = e;
}

/* libevent <-> c-ares glue */

static void
arm_timer(struct dns_resolver *r)
{
	struct timeval tv;

	if (ares_timeout(r->ch, NULL, &tv) != NULL)
		evtimer_add(r->timer, &tv);
	else
		evtimer_del(r->timer);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;

	(void)fd;
	(void)what;
	ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	arm_timer(r);
}

static void
sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolver *r = arg;

	ares_process_fd(r->ch, what & EV_READ ? fd : ARES_SOCKET_BAD,
	    what & EV_WRITE ? fd : ARES_SOCKET_BAD);
	arm_timer(r);
}

static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_resolver *r = data;
	struct sockev **pp, *s;

	for (pp = &r->socks; *pp; pp = &(*pp)->next)
		if ((*pp)->fd == fd)
			break;
	s = *pp;
	if (s != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (!readable && !writable) {
		if (s != NULL) {
			*pp = s->next;
			free(s);
		}
		return;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return; /* the query times out */
		s->fd = fd;
		s->next = r->socks;
		r->socks = s;
	}
	s->ev = event_new(r->base, fd,
	    (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0) |
		EV_PERSIST),
	    sock_cb, r);
	if (s->ev != NULL)
		event_add(s->ev, NULL);
}

/* Contexts */

static void
ctx_destroy(struct dns_ctx *c)
{
	if (c->ready_ev)
		event_free(c->ready_ev);
	if (c->deadline_ev)
		event_free(c->deadline_ev);
	free(c);
}

static void
q_unlink_ctx(struct dns_q *q)
{
	struct dns_ctx *c = q->ctx;

	if (q->cprev)
		q->cprev->cnext = q->cnext;
	else
		c->all = q->cnext;
	if (q->cnext)
		q->cnext->cprev = q->cprev;
	c->pending--;
}

static void
q_unlink_inflight(struct dns_q *q)
{
	if (q->inf == NULL)
		return;
	if (q->wprev)
		q->wprev->wnext = q->wnext;
	else
		q->inf->waiters = q->wnext;
	if (q->wnext)
		q->wnext->wprev = q->wprev;
	q->inf = NULL;
	q->wnext = q->wprev = NULL;
}

static void
q_make_ready(struct dns_q *q, struct dns_answer *ans)
{
	struct dns_ctx *c = q->ctx;

	q_unlink_inflight(q);
	q->ans = answer_ref(ans);
	q->rnext = NULL;
	if (c->ready_tail)
		c->ready_tail->rnext = q;
	else
		c->ready = q;
	c->ready_tail = q;
	event_active(c->ready_ev, EV_TIMEOUT, 0);
}

static void
ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_ctx *c = arg;
	struct dns_q *q;

	(void)fd;
	(void)what;
	c->in_cb++;
	while (!c->dead && (q = c->ready) != NULL) {
		struct dns_result res;

		c->ready = q->rnext;
		if (c->ready == NULL)
			c->ready_tail = NULL;
		q_unlink_ctx(q);
		res = q->ans->res;
		res.cached = q->cached;
		q->cb(&res, q->arg);
		answer_unref(q->ans);
		free(q);
	}
	c->in_cb--;
	if (c->dead && c->in_cb == 0)
		ctx_destroy(c);
}

static struct dns_answer *
deadline_answer(struct dns_q *q)
{
	const char *name = q->inf ? q->inf->name : "";
	struct dns_answer *ans =
	    answer_new(DNS_TIMEOUT, q->inf ? q->inf->type : 0, name);

	if (ans != NULL)
		ans->res.deadline = true;
	return ans;
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_ctx *c = arg;

	(void)fd;
	(void)what;
	c->deadline_passed = true;
	/* Queries still waiting on the network are answered "timeout" now;
	 * their network answers still fill the cache when they come. */
	for (struct dns_q *q = c->all; q; q = q->cnext) {
		struct dns_answer *ans;

		if (q->inf == NULL)
			continue;
		c->r->st.timeouts++;
		if ((ans = deadline_answer(q)) == NULL) {
			q_unlink_inflight(q);
			continue; /* left pending: cancelled with the ctx */
		}
		q_make_ready(q, ans);
		answer_unref(ans);
	}
}

/* dns_ctx_cancel - see dns.h */
void
dns_ctx_cancel(struct dns_ctx *c)
{
	struct dns_q *q, *next;

	for (q = c->all; q; q = next) {
		next = q->cnext;
		q_unlink_inflight(q);
		answer_unref(q->ans);
		free(q);
	}
	c->all = c->ready = c->ready_tail = NULL;
	c->pending = 0;
}

static void
ctx_cleanup(void *arg)
{
	struct dns_ctx *c = arg;

	dns_ctx_cancel(c);
	c->dead = true;
	event_del(c->ready_ev);
	if (c->deadline_ev)
		event_del(c->deadline_ev);
	if (c->in_cb == 0)
		ctx_destroy(c);
}

/* dns_ctx_new - see dns.h */
struct dns_ctx *
dns_ctx_new(struct dns_resolver *r, struct arena *a, unsigned deadline_ms)
{
	struct dns_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->r = r;
	c->ready_ev = event_new(r->base, -1, 0, ready_cb, c);
	if (c->ready_ev == NULL)
		goto out_free;
	if (deadline_ms > 0) {
		struct timeval tv = { deadline_ms / 1000,
			(deadline_ms % 1000) * 1000 };

		c->deadline_ev = evtimer_new(r->base, deadline_cb, c);
		if (c->deadline_ev == NULL ||
		    evtimer_add(c->deadline_ev, &tv) < 0)
			goto out_free;
	}
	if (arena_defer(a, ctx_cleanup, c) < 0)
		goto out_free;
	return c;
out_free:
	ctx_destroy(c);
	return NULL;
}

size_t
dns_ctx_pending(const struct dns_ctx *c)
{
	return c->pending;
}

bool
dns_ctx_deadline_passed(const struct dns_ctx *c)
{
	return c->deadline_passed;
}

static void
ares_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct inflight *inf = arg;
	struct dns_resolver *r = inf->r;
	struct dns_answer *ans = NULL;
	enum dns_status st;

	(void)timeouts;
	switch (status) {
	case ARES_SUCCESS:
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
	case ARES_ESERVFAIL:
	case ARES_EREFUSED:
	case ARES_EFORMERR:
	case ARES_ENOTIMP:
		if (abuf != NULL && alen > 0 &&
		    dns_reply_parse(abuf, (size_t)alen, inf->type, &ans) == 0)
			break;
		st = status == ARES_ESERVFAIL ? DNS_SERVFAIL
		    : status == ARES_EREFUSED ? DNS_REFUSED
					      : DNS_ERROR;
		ans = answer_new(st, inf->type, inf->name);
		break;
	case ARES_ETIMEOUT:
		r->st.timeouts++;
		ans = answer_new(DNS_TIMEOUT, inf->type, inf->name);
		break;
	default:
		ans = answer_new(DNS_ERROR, inf->type, inf->name);
		break;
	}
	r->st.answers++;
	if (ans != NULL && !r->destroying) {
		/* The question name as we asked it, not as echoed. */
		if (strcmp(ans->res.name, inf->name) != 0) {
			const char *nm =
			    arena_strndup(ans->a, inf->name, strlen(inf->name));

			if (nm != NULL)
				ans->res.name = nm;
		}
		cache_put(r, inf->hn.key, inf->hn.h, ans);
	}
	htab_del(&r->inflight, &inf->hn);
	while (inf->waiters != NULL) {
		struct dns_q *q = inf->waiters;

		if (ans != NULL && !r->destroying)
			q_make_ready(q, ans);
		else
			q_unlink_inflight(q); /* cancelled with its ctx */
	}
	answer_unref(ans);
	free(inf->name);
	free(inf);
}

static int
make_key(char *key, size_t keysz, const char *name, uint16_t type, char *lname)
{
	size_t n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];

		/* Names with spaces, controls or empty labels are not ours
		 * to send (RFC 1035 section 2.3.1, RFC 2181 section 11). */
		if (ch <= ' ' || ch >= 0x7f ||
		    (ch == '.' && (i == 0 || name[i - 1] == '.')))
			return -EINVAL;
		lname[i] = (char)tolower(ch);
	}
	lname[n] = '\0';
	snprintf(key, keysz, "%u/%s", type, lname);
	return 0;
}

/* dns_query - see dns.h */
int
dns_query(
    struct dns_ctx *c, const char *name, uint16_t type, dns_cb *cb, void *arg)
{
	struct dns_resolver *r = c->r;
	char key[DNS_MAX_NAME + 16], lname[DNS_MAX_NAME + 2];
	struct dns_answer *ans;
	struct inflight *inf;
	struct hnode *hn;
	struct dns_q *q;
	uint32_t h;
	int rc;

	if (c->dead || cb == NULL)
		return -EINVAL;
	if (type != DNS_T_A && type != DNS_T_AAAA && type != DNS_T_TXT &&
	    type != DNS_T_MX && type != DNS_T_PTR && type != DNS_T_NS)
		return -EINVAL;
	if ((rc = make_key(key, sizeof(key), name, type, lname)) < 0)
		return rc;
	h = hash_key(key);
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -ENOMEM;
	q->ctx = c;
	q->cb = cb;
	q->arg = arg;
	r->st.queries++;

	if ((ans = cache_get(r, key, h)) != NULL) {
		r->st.cache_hits++;
		q->cached = true;
		goto out_ready;
	}
	if (c->deadline_passed) {
		if ((ans = answer_new(DNS_TIMEOUT, type, lname)) == NULL)
			goto out_nomem;
		ans->res.deadline = true;
		r->st.timeouts++;
		goto out_ready_own;
	}
	if ((hn = htab_find(&r->inflight, key, h)) != NULL) {
		inf = (struct inflight *)((char *)hn -
		    offsetof(struct inflight, hn));
		r->st.joined++;
		goto out_wait;
	}
	if ((inf = calloc(1, sizeof(*inf) + strlen(key) + 1)) == NULL ||
	    (inf->name = strdup(lname)) == NULL) {
		free(inf);
		goto out_nomem;
	}
	inf->r = r;
	inf->type = type;
	inf->hn.h = h;
	memcpy(inf->hn.key, key, strlen(key) + 1);
	if (htab_add(&r->inflight, &inf->hn) < 0) {
		free(inf->name);
		free(inf);
		goto out_nomem;
	}
	r->st.sent++;
	/* attach first: c-ares may call back before ares_query returns */
	q->inf = inf;
	inf->waiters = q;
	q->cnext = c->all;
	if (c->all)
		c->all->cprev = q;
	c->all = q;
	c->pending++;
	ares_query(r->ch, lname, 1 /* IN */, type, ares_cb, inf);
	arm_timer(r);
	return 0;

out_wait:
	q->inf = inf;
	q->wnext = inf->waiters;
	if (inf->waiters)
		inf->waiters->wprev = q;
	inf->waiters = q;
	q->cnext = c->all;
	if (c->all)
		c->all->cprev = q;
	c->all = q;
	c->pending++;
	return 0;
out_ready:
	answer_ref(ans);
out_ready_own:
	q->cnext = c->all;
	if (c->all)
		c->all->cprev = q;
	c->all = q;
	c->pending++;
	q_make_ready(q, ans);
	answer_unref(ans);
	return 0;
out_nomem:
	free(q);
	return -ENOMEM;
}

int
dns_query_a(struct dns_ctx *c, const char *name, dns_cb *cb, void *arg)
{
	return dns_query(c, name, DNS_T_A, cb, arg);
}

int
dns_query_aaaa(struct dns_ctx *c, const char *name, dns_cb *cb, void *arg)
{
	return dns_query(c, name, DNS_T_AAAA, cb, arg);
}

int
dns_query_txt(struct dns_ctx *c, const char *name, dns_cb *cb, void *arg)
{
	return dns_query(c, name, DNS_T_TXT, cb, arg);
}

int
dns_query_mx(struct dns_ctx *c, const char *name, dns_cb *cb, void *arg)
{
	return dns_query(c, name, DNS_T_MX, cb, arg);
}

int
dns_query_ptr(
    struct dns_ctx *c, const struct netaddr *na, dns_cb *cb, void *arg)
{
	char name[DNS_MAX_NAME + 2];
	int rc;

	rc = dns_reverse_name(na,
	    na->family == AF_INET ? "in-addr.arpa" : "ip6.arpa", name,
	    sizeof(name));
	if (rc < 0)
		return rc;
	return dns_query(c, name, DNS_T_PTR, cb, arg);
}

/* dns_resolver_new - see dns.h */
int
dns_resolver_new(struct event_base *base, const struct dns_opts *opts,
    struct dns_resolver **out)
{
	struct dns_opts def = { 0 };
	struct ares_options ao;
	struct dns_resolver *r;
	int mask, rc = -EIO;

	*out = NULL;
	if (opts == NULL)
		opts = &def;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	r->base = base;
	r->o = *opts;
	r->o.servers = NULL;
	if (r->o.timeout_ms == 0)
		r->o.timeout_ms = 1000;
	if (r->o.tries == 0)
		r->o.tries = 2;
	if (r->o.cache_max == 0)
		r->o.cache_max = DNS_DEF_CACHE;
	if (r->o.max_ttl == 0)
		r->o.max_ttl = DNS_DEF_MAX_TTL;
	if (r->o.neg_ttl == 0)
		r->o.neg_ttl = DNS_DEF_NEG_TTL;
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		goto out_free;
	if ((r->timer = evtimer_new(base, timer_cb, r)) == NULL) {
		rc = -ENOMEM;
		goto out_free;
	}
	memset(&ao, 0, sizeof(ao));
	/* NOCHECKRESP: SERVFAIL/REFUSED come back as such instead of
	 * "could not contact server"; NOSEARCH: names are used as given. */
	ao.flags =
	    ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	ao.timeout = (int)r->o.timeout_ms;
	ao.tries = (int)r->o.tries;
	ao.ndots = 1;
	ao.ndomains = 0;
	ao.domains = NULL;
	ao.sock_state_cb = sock_state_cb;
	ao.sock_state_cb_data = r;
	mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	    ARES_OPT_NDOTS | ARES_OPT_DOMAINS | ARES_OPT_SOCK_STATE_CB;
	if (ares_init_options(&r->ch, &ao, mask) != ARES_SUCCESS)
		goto out_free;
	r->ch_ok = true;
	if (opts->servers != NULL && opts->servers[0] != '\0' &&
	    ares_set_servers_ports_csv(r->ch, opts->servers) != ARES_SUCCESS) {
		rc = -EINVAL;
		goto out_free;
	}
	*out = r;
	return 0;
out_free:
	dns_resolver_free(r);
	return rc;
}

/* dns_resolver_free - see dns.h */
struct dns_resolver *
dns_resolver_free(struct dns_resolver *r)
{
	if (r == NULL)
		return NULL;
	r->destroying = true;
	if (r->ch_ok)
		ares_destroy(r->ch); /* runs ares_cb for every inflight */
	while (r->socks) {
		struct sockev *s = r->socks;

		r->socks = s->next;
		if (s->ev)
			event_free(s->ev);
		free(s);
	}
	while (r->lru_head)
		cache_drop(r, r->lru_head);
	free(r->cache.v);
	free(r->inflight.v);
	if (r->timer)
		event_free(r->timer);
	if (r->ch_ok)
		ares_library_cleanup();
	free(r);
	return NULL;
}

/* dns_resolver_set_servers - see dns.h */
int
dns_resolver_set_servers(struct dns_resolver *r, const char *servers)
{
	if (servers == NULL || *servers == '\0' ||
	    ares_set_servers_ports_csv(r->ch, servers) != ARES_SUCCESS)
		return -EINVAL;
	return 0;
}

void
dns_resolver_stats(const struct dns_resolver *r, struct dns_stats *st)
{
	*st = r->st;
	st->cache_entries = r->cache.n;
	st->inflight = r->inflight.n;
}
