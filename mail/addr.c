/*
 * mail/addr.c - RFC 5322 3.4 address lists: mailboxes, groups, comments
 *
 * A tolerant single-pass tokenizer: quoted strings (3.2.4), nested
 * comments (3.2.2), angle addresses with obsolete source routes (4.4),
 * groups "name: a, b;" (3.4), whitespace around '@' and '.' (obs-local-
 * part, obs-domain, 4.4), and the old "addr (Full Name)" form, whose
 * comment becomes the display name. Display names are RFC 2047 decoded.
 * Results live in the arena; an unparseable piece yields no mailbox, never
 * an error (only -ENOMEM).
 */
#include "mail/mail_int.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

struct acc {
	struct arena *a;
	struct msg__vec out;
	struct bstr group;
	/* current mailbox */
	struct buf phrase;   /* display words / addr-spec text */
	struct buf comment;  /* last comment text */
	struct buf angle;    /* inside <> */
	bool have_angle, phrase_has_at;
};

static int
put(struct buf *b, const unsigned char *p, size_t n)
{
	return buf_append(b, p, n) == -ENOMEM ? -ENOMEM : 0;
}

static struct bstr
squeeze_ws(struct arena *a, const struct buf *b, bool drop_all)
{
	unsigned char *p = arena_alloc(a, b->len + 1);
	size_t n = 0;
	bool sp = false, q = false;

	if (p == NULL)
		return BSTR_NULL;
	for (size_t i = 0; i < b->len; i++) {
		unsigned char c = b->p[i];

		if (c == '"' && drop_all && !(i > 0 && b->p[i - 1] == '\\'))
			q = !q;
		if (!q && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
			sp = n > 0;
			continue;
		}
		if (sp && !drop_all)
			p[n++] = ' ';
		sp = false;
		p[n++] = c;
	}
	return bstr_make(p, n);
}

static int
emit(struct acc *s)
{
	struct msg_addr *m;
	struct bstr spec, disp;

	if (s->have_angle) {
		spec = squeeze_ws(s->a, &s->angle, true);
		disp = squeeze_ws(s->a, &s->phrase, false);
		/* obs-route: "@a,@b:user@dom" */
		if (spec.len && spec.p[0] == '@') {
			const unsigned char *c = memchr(spec.p, ':', spec.len);

			if (c != NULL) {
				spec.len -= (size_t)(c + 1 - spec.p);
				spec.p = c + 1;
			}
		}
	} else {
		spec = squeeze_ws(s->a, &s->phrase, true);
		disp = squeeze_ws(s->a, &s->comment, false);
	}
	if (spec.len == 0 && disp.len == 0)
		goto reset;
	if ((m = msg__vec_push(s->a, &s->out, sizeof(*m))) == NULL)
		return -ENOMEM;
	m->addr = spec;
	m->group = s->group;
	const unsigned char *at = NULL;

	for (size_t i = spec.len; i-- > 0;)
		if (spec.p[i] == '@') {
			at = spec.p + i;
			break;
		}
	if (at) {
		m->local = bstr_make(spec.p, (size_t)(at - spec.p));
		m->domain = bstr_make(at + 1, spec.len - m->local.len - 1);
	} else {
		m->local = spec;
		m->domain = bstr_make("", 0);
	}
	/* quoted local part: drop the quotes from local, keep addr */
	if (m->local.len >= 2 && m->local.p[0] == '"' &&
	    m->local.p[m->local.len - 1] == '"')
		m->local = bstr_make(m->local.p + 1, m->local.len - 2);
	m->display = disp.len ? msg_rfc2047_decode(s->a, disp) : disp;
reset:
	buf_reset(&s->phrase);
	buf_reset(&s->comment);
	buf_reset(&s->angle);
	s->have_angle = s->phrase_has_at = false;
	return 0;
}

/* msg_addr_parse - parse an address list value */
int
msg_addr_parse(struct arena *a, struct bstr v, struct msg_addr **out,
    size_t *n)
{
	struct acc s = { .a = a };
	const unsigned char *p = v.p, *e = v.p + v.len;
	bool in_angle = false, in_group = false;
	int rc = 0;

	buf_init(&s.phrase, v.len + 16);
	buf_init(&s.comment, v.len + 16);
	buf_init(&s.angle, v.len + 16);
	s.group = BSTR_NULL;
	while (p < e && rc == 0) {
		unsigned char c = *p;
		struct buf *tgt = in_angle ? &s.angle : &s.phrase;

		if (c == '(') {
			/* comment, nested (RFC 5322 3.2.2) */
			int depth = 0;
			const unsigned char *c0 = p + 1;

			do {
				if (*p == '\\' && p + 1 < e)
					p++;
				else if (*p == '(')
					depth++;
				else if (*p == ')')
					depth--;
				p++;
			} while (p < e && depth > 0);
			size_t cl = (size_t)(p - c0) - (depth == 0 ? 1 : 0);

			if (!in_angle && !s.have_angle) {
				buf_reset(&s.comment);
				rc = put(&s.comment, c0, cl);
			}
			if (rc == 0 && tgt->len)
				rc = put(tgt, (const unsigned char *)" ", 1);
			continue;
		}
		if (c == '"') {
			/* quoted string; quotes kept for addr-spec use */
			const unsigned char *q0 = ++p;

			while (p < e && *p != '"') {
				if (*p == '\\' && p + 1 < e)
					p++;
				p++;
			}
			if (in_angle || s.have_angle) {
				rc = put(tgt, q0 - 1, (size_t)(p - q0) + 1 +
				    (p < e));
			} else {
				/* display phrase or quoted local part: keep
				 * the quotes only if an '@' follows */
				const unsigned char *r = p + (p < e);

				while (r < e && (*r == ' ' || *r == '\t'))
					r++;
				/* the quoted string itself, quotes included;
				 * the whitespace after it is read again below */
				if (r < e && *r == '@')
					rc = put(tgt, q0 - 1, (size_t)(p - q0) +
					    1 + (p < e));
				else
					for (const unsigned char *x = q0;
					    x < p && rc == 0; x++) {
						if (*x == '\\' && x + 1 < p)
							x++;
						rc = put(tgt, x, 1);
					}
			}
			if (p < e)
				p++;
			continue;
		}
		if (c == '<' && !in_angle) {
			in_angle = true;
			s.have_angle = true;
			buf_reset(&s.angle);
			p++;
			continue;
		}
		if (c == '>' && in_angle) {
			in_angle = false;
			p++;
			continue;
		}
		if (!in_angle && c == ':' && !s.have_angle && !in_group) {
			/* group start: phrase is the group name */
			struct bstr g = squeeze_ws(a, &s.phrase, false);

			s.group = g.len ? msg_rfc2047_decode(a, g) : g;
			in_group = true;
			buf_reset(&s.phrase);
			buf_reset(&s.comment);
			p++;
			continue;
		}
		if (!in_angle && (c == ',' || (c == ';' && in_group))) {
			rc = emit(&s);
			if (c == ';') {
				in_group = false;
				s.group = BSTR_NULL;
			}
			p++;
			continue;
		}
		if (!in_angle && s.have_angle) {
			/* junk after "<...>": ignore */
			p++;
			continue;
		}
		rc = put(tgt, p, 1);
		p++;
	}
	if (rc == 0)
		rc = emit(&s);
	buf_free(&s.phrase);
	buf_free(&s.comment);
	buf_free(&s.angle);
	if (rc < 0)
		return rc;
	*out = s.out.v;
	*n = s.out.n;
	return 0;
}

/* msg_addrs - parsed addresses of every header named name, cached */
const struct msg_addr *
msg_addrs(const struct msg *cm, const char *name, size_t *n)
{
	struct msg *m = (struct msg *)(uintptr_t)cm;
	struct msg__addrcache *c;
	struct msg__vec all = { 0 };

	*n = 0;
	for (c = m->addrs; c != NULL; c = c->next)
		if (!strcasecmp(c->name, name)) {
			*n = c->n;
			return c->v;
		}
	for (size_t i = 0; i < m->nhdrs; i++) {
		struct msg_addr *v;
		size_t k;

		if (!bstr_caseeq_cstr(m->hdrs[i].name, name))
			continue;
		if (msg_addr_parse(m->a, m->hdrs[i].value, &v, &k) < 0)
			return NULL;
		for (size_t j = 0; j < k; j++) {
			struct msg_addr *d = msg__vec_push(m->a, &all,
			    sizeof(*d));

			if (d == NULL)
				return NULL;
			*d = v[j];
		}
	}
	if (strlen(name) < sizeof(c->name) &&
	    (c = arena_calloc(m->a, 1, sizeof(*c))) != NULL) {
		memcpy(c->name, name, strlen(name) + 1);
		c->v = all.v;
		c->n = all.n;
		c->next = m->addrs;
		m->addrs = c;
	}
	*n = all.n;
	return all.v;
}

/* msg_tld_valid - the TLD table of the URI parser, for readers of msg.h */
bool
msg_tld_valid(struct bstr label)
{
	return msg__tld_valid(label);
}
