/*
 * mail/received.c - the Received chain: relays and the trust split
 *
 * Each Received field (RFC 5321 4.4) with a "from" clause becomes a relay,
 * newest first. The from clause is read the way Postfix, Sendmail, Exim,
 * qmail, Exchange and Gmail write it:
 *   Postfix/Sendmail  from HELO (RDNS [IP]) / (ident@RDNS [IP])
 *   Exim              from RDNS ([IP] helo=HELO) / from [IP] (helo=HELO)
 *   qmail             from RDNS (HELO helo) (IP)
 *   Exchange          from HOST ([IP]) / from HOST (IP)
 *   Gmail             from HELO (RDNS. [IP])
 * Fields without a from clause ("by ... with local", qmail "invoked by")
 * are not relays, as in SpamAssassin. A from clause without an address is
 * kept with parsed = false and takes no part in the trust chain.
 *
 * Trust (SpamAssassin's Mail::SpamAssassin::Message::Metadata::Received):
 * walking from the newest relay, a relay is trusted while every relay so
 * far was: with trusted_networks, by membership (loopback always); without
 * it, by inference: loopback and private addresses are trusted up to the
 * first public one. internal_networks likewise, defaulting to trusted.
 * The last external relay is the newest relay that is not internal.
 * Strings are slices of the unfolded header values in the message arena.
 */
#include "mail/mail_int.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* byte classes: whitespace, the other word ends, parentheses */
#define C_WS 1
#define C_END 2 /* '(' ';' */
#define C_OPEN 4
#define C_CLOSE 8
static const unsigned char cls[256] = {
	[' '] = C_WS, ['\t'] = C_WS, ['\r'] = C_WS, ['\n'] = C_WS,
	['('] = C_END | C_OPEN, [';'] = C_END, [')'] = C_CLOSE,
};

static bool
ws(unsigned char c)
{
	return cls[c] & C_WS;
}

/* next word (up to whitespace, '(' or ';') at *i */
static struct bstr
word(struct bstr s, size_t *i)
{
	size_t k = *i;

	while (k < s.len && (cls[s.p[k]] & C_WS))
		k++;
	size_t w0 = k;

	while (k < s.len && !(cls[s.p[k]] & (C_WS | C_END)))
		k++;
	*i = k;
	return bstr_make(s.p + w0, k - w0);
}

/* position of keyword kw (" by ", lowercase) outside parentheses from
 * off, or -1 */
static long
find_kw(struct bstr s, size_t off, const char *kw)
{
	size_t kl = strlen(kw);
	int depth = 0;
	unsigned char k0 = (unsigned char)kw[0];

	for (size_t i = off; i < s.len; i++) {
		unsigned char c = cls[s.p[i]];

		if (c == 0)
			continue;
		if (c & C_OPEN)
			depth++;
		else if ((c & C_CLOSE) && depth > 0)
			depth--;
		else if (depth == 0 && (c & C_WS) && i + kl + 1 < s.len &&
		    msg__lc(s.p[i + 1]) == k0 &&
		    msg__caseeq(bstr_make(s.p + i + 1, kl),
		    bstr_make(kw, kl)) && ws(s.p[i + 1 + kl]))
			return (long)(i + 1);
	}
	return -1;
}

static bool
parse_ip(struct bstr s, struct netaddr *ip)
{
	/* "IPv6:..." and ":port" suffixes are handled here */
	if (MSG__ISTARTS(s, "ipv6:"))
		s = bstr_sub(s, 5, s.len);
	if (s.len == 0 || s.len > 60)
		return false;
	if (netaddr_parse((const char *)s.p, s.len, ip) == 0)
		return true;
	/* a.b.c.d:port */
	const unsigned char *c = memchr(s.p, ':', s.len);

	if (c && memchr(c + 1, ':', s.len - (size_t)(c + 1 - s.p)) == NULL)
		return netaddr_parse((const char *)s.p, (size_t)(c - s.p),
		    ip) == 0;
	return false;
}

static struct bstr
strip_dot(struct bstr s)
{
	while (s.len && s.p[s.len - 1] == '.')
		s.len--;
	return s;
}

/* a bare address in a comment: qmail "(1.2.3.4)", Exchange "(::1)" */
static bool
is_ipish(struct bstr s)
{
	int colons = 0;

	if (s.len < 3)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = s.p[i];

		if (c == ':')
			colons++;
		else if (!((c >= '0' && c <= '9') || c == '.' ||
		    ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')))
			return false;
	}
	return colons >= 2 || s.len >= 7;
}

/* Parse the from clause f into r. */
/* w is the first word of comment c */
static bool
first_in_comment(struct bstr c, struct bstr w)
{
	size_t b = 0;

	return word(c, &b).p == w.p;
}

struct from_kind {
	bool exim, microsoft, bracket_rdns;
};

static void
parse_from(struct bstr f, struct msg_relay *r, const struct from_kind *fk)
{
	size_t i = 0;
	struct bstr first = word(f, &i);
	struct bstr helo_kw = BSTR_NULL, rdns_paren = BSTR_NULL;
	bool have_ip = false, outside_ip = false, lone = false;
	bool have_bracket = false, ip_first = false, lone_bracket = false;

	/* walk the comments after the first word; "[ip]" words outside
	 * them are the MDaemon/SMTPD32 form "from HELO [IP] by" */
	while (i < f.len) {
		while (i < f.len && f.p[i] != '(') {
			if (f.p[i] == '[' && (i == 0 || ws(f.p[i - 1]))) {
				size_t k = i;
				struct bstr w = word(f, &k);
				const unsigned char *e = memchr(w.p, ']', w.len);
				struct netaddr ip;

				if (e && parse_ip(bstr_make(w.p + 1,
				    (size_t)(e - w.p - 1)), &ip)) {
					r->ip = ip;
					have_ip = true;
					outside_ip = true;
				}
				i = k;
				continue;
			}
			i++;
		}
		if (i >= f.len)
			break;
		size_t c0 = ++i;
		int depth = 1;

		while (i < f.len && depth > 0) {
			if (f.p[i] == '(')
				depth++;
			else if (f.p[i] == ')')
				depth--;
			i++;
		}
		struct bstr c = bstr_make(f.p + c0, i - c0 - (depth == 0));
		size_t k = 0;
		bool had_ip = have_ip;

		while (k < c.len) {
			struct bstr w = word(c, &k);

			if (w.len == 0) {
				k++;
				continue;
			}
			unsigned char w0 = msg__lc(w.p[0]);

			if (w0 != 'h' && w0 != 'i' && w0 != 'e' && w0 != 'a')
				goto addr; /* none of the keywords */
			if (MSG__ISTARTS(w, "helo=")) {
				helo_kw = bstr_sub(w, 5, w.len);
				continue;
			}
			if (MSG__IEQ(w, "helo")) {
				helo_kw = word(c, &k);
				continue;
			}
			if (MSG__ISTARTS(w, "ident=")) {
				r->ident = bstr_sub(w, 6, w.len);
				continue;
			}
			if (MSG__ISTARTS(w, "envelope-from")) {
				struct bstr e = word(c, &k);

				if (e.len && e.p[0] == '<')
					e = bstr_sub(e, 1, e.len);
				if (e.len && e.p[e.len - 1] == '>')
					e.len--;
				r->envfrom = e;
				continue;
			}
			if (MSG__ISTARTS(w, "authenticated"))
				r->auth = true;
addr:;
			/* "[ip]", "rdns[ip]" (no space), "[ip]:port"; a
			 * bracketed address beats a bare one seen before */
			const unsigned char *lb = memchr(w.p, '[', w.len);

			if (lb && !have_bracket && (lb == w.p ||
			    memchr(w.p, '@', (size_t)(lb - w.p)) == NULL)) {
				const unsigned char *e = memchr(lb, ']',
				    w.len - (size_t)(lb - w.p));
				struct bstr in = bstr_make(lb + 1, e ?
				    (size_t)(e - lb - 1) :
				    w.len - (size_t)(lb + 1 - w.p));

				if (parse_ip(in, &r->ip)) {
					have_ip = have_bracket = true;
					ip_first = first_in_comment(c, w) &&
					    lb == w.p;
					if (lb > w.p) {
						/* "rdns[ip]" */
						rdns_paren = bstr_make(w.p,
						    (size_t)(lb - w.p));
					} else if (!ip_first) {
						/* the word before is the rdns */
						size_t b = 0;

						rdns_paren = word(c, &b);
					}
				}
				continue;
			}
			if (!have_ip && is_ipish(w) && parse_ip(w, &r->ip)) {
				have_ip = true;
				continue;
			}
			/* qmail "(ident@ip)", "(user@dom@ip)" */
			const unsigned char *at = NULL;

			for (size_t q = w.len; q-- > 0;)
				if (w.p[q] == '@') {
					at = w.p + q;
					break;
				}
			if (!have_ip && at) {
				struct bstr ipw = bstr_make(at + 1, w.len -
				    (size_t)(at + 1 - w.p));

				if (ipw.len > 2 && ipw.p[0] == '[' &&
				    ipw.p[ipw.len - 1] == ']')
					ipw = bstr_make(ipw.p + 1, ipw.len - 2);
				if (is_ipish(ipw) && parse_ip(ipw, &r->ip)) {
					have_ip = true;
					r->ident = bstr_make(w.p,
					    (size_t)(at - w.p));
				}
			}
		}
		/* qmail "HOST (ip)", "HOST (ident@[ip])": the comment is
		 * the address alone, HOST is the reverse name (SA) */
		if (!had_ip && have_ip && !outside_ip) {
			size_t q = 0;
			struct bstr w1 = word(c, &q), w2 = word(c, &q);

			lone = w1.len && w2.len == 0;
			lone_bracket = lone && memchr(w1.p, '[', w1.len);
		}
	}
	/* ident@rdns */
	if (rdns_paren.len) {
		const unsigned char *at = memchr(rdns_paren.p, '@',
		    rdns_paren.len);

		if (at) {
			r->ident = bstr_make(rdns_paren.p,
			    (size_t)(at - rdns_paren.p));
			rdns_paren = bstr_sub(rdns_paren,
			    (size_t)(at + 1 - rdns_paren.p), rdns_paren.len);
		}
		if (MSG__IEQ(rdns_paren, "unknown"))
			rdns_paren = BSTR_NULL;
	}
	/* the first word may itself be the address: "from [1.2.3.4]",
	 * "from 1.2.3.4 by" (Hotmail HTTP) */
	bool bare_first = false;

	if (!have_ip && is_ipish(first) && parse_ip(first, &r->ip))
		have_ip = bare_first = true;
	(void)outside_ip;
	bool literal_only = false;

	if (first.len && first.p[0] == '[' && !have_ip) {
		const unsigned char *e = memchr(first.p, ']', first.len);

		if (parse_ip(bstr_make(first.p + 1, e ?
		    (size_t)(e - first.p - 1) : first.len - 1), &r->ip))
			have_ip = literal_only = true;
	}
	if (helo_kw.len) {
		/* Exim / qmail: the first word is the reverse name */
		r->helo = helo_kw;
		if (first.len && first.p[0] != '[' &&
		    !MSG__IEQ(first, "unknown"))
			r->rdns = strip_dot(first);
	} else if (((lone && !lone_bracket && !fk->microsoft) ||
	    ((lone || ip_first) && fk->bracket_rdns) ||
	    (outside_ip && fk->exim)) && first.len && first.p[0] != '[') {
		/* qmail "HOST (ip)"; Exim/CommuniGate/QMQP "HOST ([ip])":
		 * HOST is the name the receiver found (SA) */
		r->helo = first;
		if (!MSG__IEQ(first, "unknown"))
			r->rdns = strip_dot(first);
	} else {
		r->helo = first;
		r->rdns = strip_dot(rdns_paren);
		/* "from HELO(comment)": SA's HELO is the whole \S+ run,
		 * the comment with it ("68.17.46.205([217.125.101.38])") */
		if (first.len && first.p + first.len < f.p + f.len &&
		    first.p[first.len] == '(') {
			size_t e = (size_t)(first.p - f.p) + first.len;

			while (e < f.len && !ws(f.p[e]))
				e++;
			r->helo = bstr_make(first.p,
			    e - (size_t)(first.p - f.p));
		}
	}
	/* "from [ip] by": SA records no HELO, only the address */
	if ((literal_only || bare_first) && !helo_kw.len)
		r->helo = BSTR_NULL;
	r->has_ip = have_ip;
}

static int
parse_one(struct msg *m, const struct msg_header *h, struct msg_relay *r)
{
	struct bstr v = h->value;
	long semi;

	memset(r, 0, sizeof(*r));
	r->raw = v;
	/* drop the date after the last ';' */
	for (semi = (long)v.len - 1; semi >= 0 && v.p[semi] != ';'; semi--)
		;
	if (semi >= 0)
		v.len = (size_t)semi;
	v = bstr_trim(v);
	if (!MSG__ISTARTS(v, "from") || v.len < 6 || !ws(v.p[4]))
		return 0; /* not a relay */
	/* SA ignores local deliveries and "from X by Y;" without detail */
	/* needles start with a rare byte: memchr skips ahead */
	if (MSG__IFIND(v, "with local for ") >= 0)
		return 0;
	/* a mailbox download (fetchmail, getmail) is no relay (SA) */
	if (MSG__FIND(v, "with POP3") >= 0 ||
	    MSG__FIND(v, "with IMAP") >= 0)
		return 0;
	{
		size_t k = 4;
		struct bstr x = word(v, &k), b = word(v, &k);
		struct bstr y = word(v, &k);

		if (MSG__IEQ(b, "by") && y.len && k >= v.len &&
		    !(x.len && x.p[0] == '['))
			return 0;
	}
	long by = find_kw(v, 4, "by");
	struct bstr from = bstr_sub(v, 5, (by < 0 ? (long)v.len : by) - 5);

	/* Which MTAs write "HOST ([ip])" / "HOST [ip]" with HOST being the
	 * reverse name (SA's Received.pm): Exim, qmail-ish "with ... SMTP|
	 * QMQP" (not followed by an id) and CommuniGate "verified"; a bare
	 * "HOST (ip)" is the reverse name except from Exchange. Sendmail,
	 * Domino and the rest give the HELO there. */
	struct from_kind fk = { 0 };
	long wp = find_kw(v, 4, "with");

	fk.exim = MSG__FIND(v, "Exim") >= 0;
	fk.microsoft = MSG__IFIND(v, "Microsoft SMTP") >= 0 ||
	    MSG__IFIND(v, "with mapi id") >= 0;
	fk.bracket_rdns = fk.exim ||
	    (MSG__FIND(v, "(CommuniGate Pro") >= 0 &&
	    MSG__FIND(v, "] verified)") >= 0);
	if (!fk.bracket_rdns && wp >= 0) {
		size_t k = (size_t)wp + 4;
		struct bstr w = word(v, &k);

		if ((w.len >= 4 && (!memcmp(w.p + w.len - 4, "SMTP", 4) ||
		    !memcmp(w.p + w.len - 4, "QMQP", 4))) &&
		    !MSG__ISTARTS(bstr_sub(v, k, v.len), " id "))
			fk.bracket_rdns = true;
	}
	parse_from(from, r, &fk);
	/* SquirrelMail/NaSMail webmail (SA Received.pm): "from IP
	 * (proxying for IP2) (SquirrelMail authenticated user U) by H with
	 * HTTP": the first address, no HELO, authenticated */
	if ((MSG__FIND(v, "(SquirrelMail") >= 0 ||
	    MSG__FIND(v, "(NaSMail") >= 0) &&
	    MSG__FIND(v, "authenticated user ") >= 0 &&
	    MSG__FIND(v, "with HTTP") >= 0) {
		size_t k = 4;
		struct bstr w = word(v, &k);

		if (is_ipish(w) && parse_ip(w, &r->ip)) {
			r->has_ip = true;
			r->helo = r->rdns = BSTR_NULL;
			r->auth = true;
		}
	}
	if (by >= 0) {
		size_t i = (size_t)by + 2;
		struct bstr rest = bstr_sub(v, i, v.len);
		long w, id;

		r->by = word(v, &i); /* as written, trailing dot too (SA) */
		/* " with " after " by ": the scan from the start found it
		 * already unless it stood before "by" (the depth is 0 at
		 * "by" in both scans) */
		w = wp > by ? wp - by - 2 : find_kw(rest, 0, "with");
		if (w >= 0) {
			size_t k = (size_t)w + 4;

			r->with = word(rest, &k);
		}
		if ((id = find_kw(rest, 0, "id")) >= 0) {
			size_t k = (size_t)id + 2;

			r->id = word(rest, &k);
		}
		/* Exim puts (envelope-from <x>) after "by" */
		long ef = MSG__IFIND(rest, "envelope-from ");

		if (ef >= 0 && r->envfrom.len == 0) {
			size_t k = (size_t)ef + 13;
			struct bstr e = word(rest, &k);

			while (e.len && (e.p[e.len - 1] == ')' ||
			    e.p[e.len - 1] == '>'))
				e.len--;
			if (e.len && e.p[0] == '<')
				e = bstr_sub(e, 1, e.len);
			r->envfrom = e;
		}
		if (MSG__IFIND(rest, "authenticated") >= 0 &&
		    (MSG__IFIND(rest, "(authenticated") >= 0 ||
		    MSG__IFIND(rest, "authenticated sender") >= 0))
			r->auth = true;
	}
	/* RFC 3848: ESMTPA, ESMTPSA, LMTPA, LMTPSA */
	if (r->with.len >= 5 && msg__lc(r->with.p[r->with.len - 1]) == 'a' &&
	    MSG__IFIND(r->with, "smtp") >= 0)
		r->auth = true;
	if (r->with.len >= 5 && msg__lc(r->with.p[r->with.len - 1]) == 'a' &&
	    MSG__ISTARTS(r->with, "lmtp"))
		r->auth = true;
	r->parsed = r->has_ip;
	(void)m;
	return 1;
}

/* netaddr_loopback() and netaddr_private() without parsing their CIDR
 * strings on every call: the same ranges, as byte tests */
static bool
v6_all_zero(const uint8_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i])
			return false;
	return true;
}

static bool
is_loopback(const struct netaddr *ip)
{
	if (ip->family == AF_INET)
		return ip->a[0] == 127;
	return ip->family == AF_INET6 && v6_all_zero(ip->a, 15) &&
	    ip->a[15] == 1;
}

static bool
is_private(const struct netaddr *ip)
{
	const uint8_t *a = ip->a;

	if (ip->family == AF_INET)
		return a[0] == 127 || a[0] == 10 || a[0] == 0 ||
		    (a[0] == 172 && (a[1] & 0xF0) == 16) ||
		    (a[0] == 192 && a[1] == 168) ||
		    (a[0] == 169 && a[1] == 254) ||
		    (a[0] == 100 && (a[1] & 0xC0) == 64);
	if (ip->family != AF_INET6)
		return false;
	return (v6_all_zero(a, 15) && a[15] <= 1) || /* ::/128, ::1/128 */
	    (a[0] & 0xFE) == 0xFC ||                  /* fc00::/7 */
	    (a[0] == 0xFE && (a[1] & 0xC0) == 0x80);  /* fe80::/10 */
}

static bool
in_list(const struct netlist *l, const struct netaddr *ip, bool infer)
{
	if (is_loopback(ip))
		return true;
	if (l != NULL)
		return netlist_match(l, ip);
	return infer && is_private(ip);
}

/* msg__received_parse - relays, trust split, last external */
int
msg__received_parse(struct msg *m)
{
	/* SA originating_ip_headers (the stock rules' list): webmail
	 * posting addresses become the oldest hops */
	static const char *const orig[] = { "x-yahoo-post-ip",
		"x-originating-ip", "x-apparently-from", "x-senderip",
		"x-aol-ip" };
	const struct msg_header *orig_h[5] = { NULL };
	size_t nrecv = 0;

	_Static_assert(sizeof(orig) / sizeof(orig[0]) == 5, "orig_h size");
	/* one pass over the fields: the Received count and the last field
	 * of each originating-IP name (SA get_header in scalar context) */
	for (size_t i = 0; i < m->nhdrs; i++) {
		struct bstr nm = m->hdrs[i].name;

		if (MSG__IEQ(nm, "received"))
			nrecv++;
		else if (nm.len >= 8 && (nm.p[0] | 0x20) == 'x' &&
		    nm.p[1] == '-')
			for (size_t k = 0; k < 5; k++)
				if (bstr_caseeq_cstr(nm, orig[k]))
					orig_h[k] = &m->hdrs[i];
	}
	/* client hop + Received fields + originating-IP headers */
	size_t cap = nrecv + 1 + 5, n = 0;
	struct msg_relay *rv = arena_calloc(m->a, cap, sizeof(*rv));

	if (rv == NULL)
		return -ENOMEM;
	if (m->o.client_addr) {
		struct msg_relay *r = &rv[n++];

		r->ip = *m->o.client_addr;
		r->has_ip = r->parsed = true;
		r->rdns = bstr_cstr(m->o.client_name);
		r->helo = bstr_cstr(m->o.client_helo);
		r->raw = BSTR_LIT("(client)");
	}
	for (size_t i = 0; i < m->nhdrs; i++) {
		if (!MSG__IEQ(m->hdrs[i].name, "received"))
			continue;
		if (parse_one(m, &m->hdrs[i], &rv[n]))
			n++;
	}
	for (size_t k = 0; k < 5; k++) {
		const struct msg_header *h = orig_h[k];

		if (h == NULL)
			continue;
		struct bstr v = h->value;

		for (size_t q = 0; q < v.len; q++) {
			size_t e = q;

			while (e < v.len && ((v.p[e] >= '0' && v.p[e] <= '9') ||
			    v.p[e] == '.'))
				e++;
			if (e - q >= 7 && parse_ip(bstr_make(v.p + q, e - q),
			    &rv[n].ip)) {
				struct msg_relay *r = &rv[n];
				struct netaddr ip = r->ip;

				memset(r, 0, sizeof(*r));
				r->ip = ip;
				r->raw = v;
				r->has_ip = r->parsed = true;
				n++;
				break;
			}
			q = e;
		}
	}
	bool trusted = true, internal = true;
	const struct netlist *tn = m->o.trusted_networks;
	const struct netlist *in = m->o.internal_networks;

	m->untrusted = arena_calloc(m->a, n + 1, sizeof(*m->untrusted));
	if (m->untrusted == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct msg_relay *r = &rv[i];

		if (!r->parsed)
			continue;
		if (trusted)
			trusted = in_list(tn, &r->ip, true) ||
			    (r->auth && tn == NULL);
		if (internal)
			internal = in != NULL ? in_list(in, &r->ip, false) ||
			    (tn == NULL && trusted) : trusted;
		r->trusted = trusted;
		r->internal = internal;
		if (!r->internal && m->last_external == NULL)
			m->last_external = r;
		if (!r->trusted)
			m->untrusted[m->nuntrusted++] = *r;
	}
	m->relays = rv;
	m->nrelays = n;
	return 0;
}
