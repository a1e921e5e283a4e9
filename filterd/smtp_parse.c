/*
 * filterd/smtp_parse.c - SMTP/LMTP command, reply and data-line parsing
 *
 * Pure: one line in, a struct smtp_cmd of slices into that line out, an
 * SMTP_E* code on bad input. Lenient where Postfix's smtp client and
 * common clients need it (space after "MAIL FROM:", missing <>), strict
 * where it matters (NUL bytes, parameters we did not advertise). RFC 5321
 * section 4.1 for syntax, RFC 1870 SIZE, RFC 6152 8BITMIME, Postfix
 * XFORWARD_README for XFORWARD.
 */
#include "filterd/smtp_parse.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_HELO }, { "EHLO", SMTP_EHLO }, { "LHLO", SMTP_LHLO },
	{ "MAIL", SMTP_MAIL }, { "RCPT", SMTP_RCPT }, { "DATA", SMTP_DATA },
	{ "RSET", SMTP_RSET }, { "NOOP", SMTP_NOOP }, { "QUIT", SMTP_QUIT },
	{ "VRFY", SMTP_VRFY }, { "EXPN", SMTP_EXPN }, { "HELP", SMTP_HELP },
	{ "XFORWARD", SMTP_XFORWARD }, { "STARTTLS", SMTP_STARTTLS },
	{ "AUTH", SMTP_AUTH }, { "BDAT", SMTP_BDAT },
};

const char *
smtp_verb_name(enum smtp_verb v)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].verb == v)
			return verbs[i].name;
	return "UNKNOWN";
}

static bool
is_sp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* parse_path - "<...>" (or a bare address) at s; the address without the
 * brackets and without an RFC 5321 source route; *rest after it. */
static int
parse_path(struct bstr s, struct bstr *path, struct bstr *rest)
{
	size_t i = 0, start, end;
	bool quoted = false;

	if (s.len == 0)
		return SMTP_ESYNTAX;
	if (s.p[0] != '<') {
		/* Bare address: up to the first space (Postfix is lenient
		 * here too, clients in the wild send it). */
		while (i < s.len && !is_sp(s.p[i]))
			i++;
		*path = bstr_sub(s, 0, i);
		*rest = bstr_sub(s, i, s.len - i);
		if (memchr(path->p, '<', path->len) ||
		    memchr(path->p, '>', path->len))
			return SMTP_ESYNTAX;
		return 0;
	}
	start = 1;
	for (i = 1; i < s.len; i++) {
		unsigned char c = s.p[i];

		if (c == '\\' && quoted && i + 1 < s.len) {
			i++;
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		else if (c == '>' && !quoted)
			break;
		else if (c == '<' && !quoted)
			return SMTP_ESYNTAX;
	}
	if (i >= s.len)
		return SMTP_ESYNTAX; /* no closing > */
	end = i;
	/* Source route "@a,@b:user@dom" (RFC 5321 section 4.1.2, obsolete):
	 * keep what follows the colon. */
	if (end > start && s.p[start] == '@') {
		size_t j = start;

		while (j < end && s.p[j] != ':')
			j++;
		if (j == end)
			return SMTP_ESYNTAX;
		start = j + 1;
	}
	*path = bstr_sub(s, start, end - start);
	*rest = bstr_sub(s, end + 1, s.len - end - 1);
	return 0;
}

static bool
kw_eq(struct bstr kw, const char *name)
{
	return bstr_caseeq_cstr(kw, name);
}

/* xtext_ok - RFC 3461 section 4 xtext: printable ASCII but '+' and '=',
 * '+' followed by two upper-case hex digits */
static bool
xtext_ok(struct bstr v)
{
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = v.p[i];

		if (c == '+') {
			if (v.len - i < 3 || !isxdigit(v.p[i + 1]) ||
			    !isxdigit(v.p[i + 2]))
				return false;
			i += 2;
		} else if (c < 0x21 || c > 0x7e || c == '=') {
			return false;
		}
	}
	return true;
}

static bool
notify_ok(struct bstr v)
{
	size_t i = 0;

	if (bstr_caseeq_cstr(v, "NEVER"))
		return true;
	while (i < v.len) {
		size_t j = i;
		struct bstr w;

		while (j < v.len && v.p[j] != ',')
			j++;
		w = bstr_sub(v, i, j - i);
		if (!bstr_caseeq_cstr(w, "SUCCESS") &&
		    !bstr_caseeq_cstr(w, "FAILURE") &&
		    !bstr_caseeq_cstr(w, "DELAY"))
			return false;
		i = j + 1;
		if (j + 1 == v.len)
			return false; /* trailing comma */
	}
	return v.len > 0;
}

/* parse_params - RFC 5321 section 4.1.2 Mail-parameters */
static int
parse_params(struct bstr s, struct smtp_cmd *c)
{
	size_t i = 0;

	while (i < s.len) {
		size_t ks, ke, vs, ve;
		struct bstr kw, val;

		while (i < s.len && is_sp(s.p[i]))
			i++;
		if (i == s.len)
			break;
		ks = i;
		while (i < s.len && !is_sp(s.p[i]) && s.p[i] != '=')
			i++;
		ke = i;
		vs = ve = i;
		if (i < s.len && s.p[i] == '=') {
			vs = ++i;
			while (i < s.len && !is_sp(s.p[i]))
				i++;
			ve = i;
		}
		kw = bstr_sub(s, ks, ke - ks);
		val = bstr_sub(s, vs, ve - vs);
		if (c->verb == SMTP_MAIL && kw_eq(kw, "SIZE")) {
			uint64_t n = 0;

			if (val.len == 0 || val.len > 19)
				return SMTP_ESYNTAX;
			for (size_t j = 0; j < val.len; j++) {
				if (!isdigit(val.p[j]))
					return SMTP_ESYNTAX;
				n = n * 10 + (uint64_t)(val.p[j] - '0');
			}
			c->has_size = true;
			c->size = n;
		} else if (c->verb == SMTP_MAIL && kw_eq(kw, "SMTPUTF8")) {
			if (val.len)
				return SMTP_ESYNTAX;
			c->smtputf8 = true;
		} else if (c->verb == SMTP_MAIL && kw_eq(kw, "RET")) {
			/* RFC 3461 section 4.3 */
			if (!bstr_caseeq_cstr(val, "FULL") &&
			    !bstr_caseeq_cstr(val, "HDRS"))
				return SMTP_ESYNTAX;
			c->ret = bstr_sub(s, ks, ve - ks);
		} else if (c->verb == SMTP_MAIL && kw_eq(kw, "ENVID")) {
			/* section 4.4: xtext, at most 100 characters */
			if (val.len == 0 || val.len > 100 || !xtext_ok(val))
				return SMTP_ESYNTAX;
			c->envid = bstr_sub(s, ks, ve - ks);
		} else if (c->verb == SMTP_RCPT && kw_eq(kw, "NOTIFY")) {
			/* section 4.1: NEVER, or a list of SUCCESS, FAILURE,
			 * DELAY */
			if (!notify_ok(val))
				return SMTP_ESYNTAX;
			c->notify = bstr_sub(s, ks, ve - ks);
		} else if (c->verb == SMTP_RCPT && kw_eq(kw, "ORCPT")) {
			/* section 4.2: addr-type ";" xtext */
			const unsigned char *semi = memchr(val.p, ';', val.len);

			if (semi == NULL || semi == val.p || val.len > 500 ||
			    !xtext_ok(bstr_sub(val, (size_t)(semi - val.p) + 1,
				val.len - (size_t)(semi - val.p) - 1)))
				return SMTP_ESYNTAX;
			c->orcpt = bstr_sub(s, ks, ve - ks);
		} else if (c->verb == SMTP_MAIL && kw_eq(kw, "BODY")) {
			if (bstr_caseeq_cstr(val, "7BIT"))
				c->body = SMTP_BODY_7BIT;
			else if (bstr_caseeq_cstr(val, "8BITMIME"))
				c->body = SMTP_BODY_8BITMIME;
			else
				return SMTP_EPARAM;
		} else {
			return SMTP_EPARAM;
		}
	}
	return 0;
}

static int
parse_xforward(struct bstr s, struct smtp_cmd *c)
{
	size_t i = 0;

	while (i < s.len) {
		size_t ns, ne, vs;

		while (i < s.len && is_sp(s.p[i]))
			i++;
		if (i == s.len)
			break;
		ns = i;
		while (i < s.len && s.p[i] != '=' && !is_sp(s.p[i]))
			i++;
		if (i == s.len || s.p[i] != '=' || i == ns)
			return SMTP_ESYNTAX;
		ne = i++;
		vs = i;
		while (i < s.len && !is_sp(s.p[i]))
			i++;
		if (c->nxattrs == SMTP_MAX_XATTRS)
			return SMTP_ESYNTAX;
		c->xattrs[c->nxattrs].name = bstr_sub(s, ns, ne - ns);
		c->xattrs[c->nxattrs].value = bstr_sub(s, vs, i - vs);
		c->nxattrs++;
	}
	return c->nxattrs ? 0 : SMTP_ESYNTAX;
}

int
smtp_parse_cmd(const unsigned char *line, size_t len, struct smtp_cmd *c)
{
	struct bstr l = bstr_make(line, len), word, rest;
	size_t i = 0;

	memset(c, 0, sizeof(*c));
	for (size_t j = 0; j < len; j++)
		if (line[j] == '\0' || line[j] == '\r' || line[j] == '\n')
			return SMTP_ENUL; /* also no bare CR inside commands */
	while (i < len && isalpha(line[i]))
		i++;
	word = bstr_sub(l, 0, i);
	if (i < len && !is_sp(line[i]))
		return SMTP_EUNKNOWN;
	for (size_t j = 0; j < sizeof(verbs) / sizeof(verbs[0]); j++)
		if (bstr_caseeq_cstr(word, verbs[j].name))
			c->verb = verbs[j].verb;
	if (c->verb == SMTP_UNKNOWN)
		return SMTP_EUNKNOWN;
	c->arg = bstr_trim(bstr_sub(l, i, len - i));

	switch (c->verb) {
	case SMTP_HELO:
	case SMTP_EHLO:
	case SMTP_LHLO:
		return c->arg.len ? 0 : SMTP_ESYNTAX;
	case SMTP_MAIL:
	case SMTP_RCPT: {
		const char *pfx = c->verb == SMTP_MAIL ? "FROM:" : "TO:";
		struct bstr a = c->arg;
		int rc;

		if (!bstr_casestarts(a, pfx))
			return SMTP_ESYNTAX;
		a = bstr_trim(bstr_sub(a, strlen(pfx), a.len - strlen(pfx)));
		if ((rc = parse_path(a, &c->path, &rest)) < 0)
			return rc;
		if (c->verb == SMTP_RCPT && c->path.len == 0)
			return SMTP_ESYNTAX;
		if (rest.len && !is_sp(rest.p[0]))
			return SMTP_ESYNTAX;
		return parse_params(rest, c);
	}
	case SMTP_DATA:
	case SMTP_RSET:
	case SMTP_QUIT:
	case SMTP_STARTTLS:
		return c->arg.len ? SMTP_ESYNTAX : 0;
	case SMTP_XFORWARD:
		return parse_xforward(c->arg, c);
	default:
		return 0;
	}
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
smtp_xtext_decode(struct bstr in, char *out, size_t outsz)
{
	size_t o = 0;

	for (size_t i = 0; i < in.len; i++) {
		unsigned char c = in.p[i];

		if (c == '+') {
			int h, l;

			if (in.len - i < 3)
				return -EINVAL;
			h = hexval(in.p[i + 1]);
			l = hexval(in.p[i + 2]);
			if (h < 0 || l < 0)
				return -EINVAL;
			c = (unsigned char)(h * 16 + l);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return -EINVAL;
		if (o + 1 >= outsz)
			return -ENOSPC;
		out[o++] = (char)c;
	}
	if (outsz == 0)
		return -ENOSPC;
	out[o] = '\0';
	return 0;
}

int
smtp_xtext_encode(const char *in, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p < 0x21 || *p > 0x7e || *p == '+' || *p == '=') {
			if (o + 4 > outsz)
				return -ENOSPC;
			out[o++] = '+';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		} else {
			if (o + 2 > outsz)
				return -ENOSPC;
			out[o++] = (char)*p;
		}
	}
	if (o + 1 > outsz)
		return -ENOSPC;
	out[o] = '\0';
	return 0;
}

int
smtp_data_line(const unsigned char *line, size_t len, bool crlf,
    bool prev_crlf, size_t *skip)
{
	*skip = 0;
	if (len == 1 && line[0] == '.' && crlf && prev_crlf)
		return 1;
	/* RFC 5321 section 4.5.2: the receiver deletes a leading dot. */
	if (len >= 1 && line[0] == '.')
		*skip = 1;
	return 0;
}

int
smtp_parse_reply(const unsigned char *line, size_t len, int *code,
    bool *last, struct bstr *text)
{
	if (len < 3 || !isdigit(line[0]) || !isdigit(line[1]) ||
	    !isdigit(line[2]) || line[0] < '2' || line[0] > '5')
		return -EINVAL;
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + line[2] - '0';
	if (len == 3) {
		*last = true;
		*text = bstr_make(line + 3, 0);
		return 0;
	}
	if (line[3] != ' ' && line[3] != '-')
		return -EINVAL;
	*last = line[3] == ' ';
	*text = bstr_make(line + 4, len - 4);
	return 0;
}
