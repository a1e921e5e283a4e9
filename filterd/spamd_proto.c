/*
 * filterd/spamd_proto.c - the spamc/spamd protocol: request parser, zlib
 * body, response formatting (implements spamd_proto.h)
 *
 * The request is "<CMD> SPAMC/<major>.<minor>" then, for the message
 * commands at version > 1.0 and for PING/SKIP at >= 1.5, "Name: value"
 * header lines up to an empty line (spamd 4.0 parse_headers: at most 255,
 * unknown names ignored, a line without ':' is a protocol error). Nothing
 * here allocates except spamd_inflate (into the caller's buf, capped) and
 * nothing logs: errors come back as -EPROTO/-E2BIG with a static reason.
 */
#include "filterd/spamd_proto.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const char *const cmd_names[] = {
	[SPAMD_CHECK] = "CHECK",
	[SPAMD_SYMBOLS] = "SYMBOLS",
	[SPAMD_REPORT] = "REPORT",
	[SPAMD_REPORT_IFSPAM] = "REPORT_IFSPAM",
	[SPAMD_PROCESS] = "PROCESS",
	[SPAMD_HEADERS] = "HEADERS",
	[SPAMD_PING] = "PING",
	[SPAMD_SKIP] = "SKIP",
	[SPAMD_TELL] = "TELL",
};

/* spamd_cmd_name - the command as written on the wire */
const char *
spamd_cmd_name(enum spamd_cmd c)
{
	return (size_t)c < sizeof(cmd_names) / sizeof(cmd_names[0]) ?
	    cmd_names[c] : "?";
}

/* spamd_cmd_has_body - every command but PING and SKIP carries a message */
bool
spamd_cmd_has_body(const struct spamd_req *r)
{
	return r->cmd != SPAMD_PING && r->cmd != SPAMD_SKIP;
}

/* has_headers - spamd 4.0: check()/dotell() read headers when the version
 * is above 1.0, doskip_or_ping() from 1.5 on */
static bool
has_headers(const struct spamd_req *r)
{
	if (r->cmd == SPAMD_PING || r->cmd == SPAMD_SKIP)
		return r->version >= 15;
	return r->version > 10;
}

/* next_line - the line at p[off..len) without its LF/CRLF; -EAGAIN when
 * no LF yet, -E2BIG past SPAMD_MAX_LINE */
static int
next_line(const unsigned char *p, size_t len, size_t off,
    struct bstr *line, size_t *next)
{
	const unsigned char *nl;
	size_t avail = len - off, n;

	nl = memchr(p + off, '\n', avail);
	if (nl == NULL)
		return avail > SPAMD_MAX_LINE ? -E2BIG : -EAGAIN;
	n = (size_t)(nl - (p + off));
	if (n > SPAMD_MAX_LINE)
		return -E2BIG;
	*next = off + n + 1;
	if (n && p[off + n - 1] == '\r')
		n--;
	*line = bstr_make(p + off, n);
	return 0;
}

static int
parse_cmdline(struct bstr l, struct spamd_req *r, const char **why)
{
	size_t i, sp;
	unsigned maj = 0, min = 0;
	bool found = false;

	for (sp = 0; sp < l.len && l.p[sp] != ' '; sp++)
		;
	for (i = 0; i < sizeof(cmd_names) / sizeof(cmd_names[0]); i++) {
		if (strlen(cmd_names[i]) == sp &&
		    memcmp(l.p, cmd_names[i], sp) == 0) {
			r->cmd = (enum spamd_cmd)i;
			found = true;
			break;
		}
	}
	if (!found || sp + 7 > l.len || memcmp(l.p + sp, " SPAMC/", 7)) {
		*why = "unknown command or missing SPAMC/version";
		return -EPROTO;
	}
	i = sp + 7;
	if (i >= l.len || l.p[i] < '0' || l.p[i] > '9')
		goto bad_version;
	for (; i < l.len && l.p[i] >= '0' && l.p[i] <= '9' && maj < 100; i++)
		maj = maj * 10 + (unsigned)(l.p[i] - '0');
	if (i < l.len && l.p[i] == '.') {
		i++;
		if (i < l.len && l.p[i] >= '0' && l.p[i] <= '9')
			min = (unsigned)(l.p[i++] - '0');
		while (i < l.len && l.p[i] >= '0' && l.p[i] <= '9')
			i++;
	}
	if (i != l.len || maj > 9)
		goto bad_version;
	r->version = maj * 10 + min;
	return 0;
bad_version:
	*why = "bad protocol version";
	return -EPROTO;
}

static bool
name_is(struct bstr n, const char *want)
{
	/* spamd compares header names case-sensitively */
	return n.len == strlen(want) && memcmp(n.p, want, n.len) == 0;
}

/* tell_targets - "local", "remote", "local, remote" */
static int
tell_targets(struct bstr v, unsigned *out)
{
	size_t i = 0;

	while (i < v.len) {
		size_t s = i;

		while (i < v.len && v.p[i] != ',')
			i++;
		struct bstr w = bstr_trim(bstr_make(v.p + s, i - s));

		if (bstr_eq(w, BSTR_LIT("local")))
			*out |= SPAMD_TELL_LOCAL;
		else if (bstr_eq(w, BSTR_LIT("remote")))
			*out |= SPAMD_TELL_REMOTE;
		else
			return -EPROTO;
		i++;
	}
	return 0;
}

static int
parse_header(struct bstr l, struct spamd_req *r, const char **why)
{
	size_t c;
	struct bstr name, v;

	for (c = 0; c < l.len && l.p[c] != ':'; c++)
		;
	if (c == l.len) {
		*why = "header not in 'Name: value' format";
		return -EPROTO;
	}
	name = bstr_make(l.p, c);
	v = bstr_make(l.p + c + 1, l.len - c - 1);
	while (v.len && (v.p[0] == ' ' || v.p[0] == '\t'))
		v = bstr_sub(v, 1, v.len - 1);
	if (name_is(name, "Content-length")) {
		size_t n = 0;

		if (v.len == 0 || v.len > 19) {
			*why = "Content-Length contains non-numeric bytes";
			return -EPROTO;
		}
		for (size_t i = 0; i < v.len; i++) {
			if (v.p[i] < '0' || v.p[i] > '9') {
				*why = "Content-Length contains non-numeric "
				    "bytes";
				return -EPROTO;
			}
			n = n * 10 + (size_t)(v.p[i] - '0');
		}
		r->has_length = true;
		r->length = n;
	} else if (name_is(name, "User")) {
		size_t n = v.len < sizeof(r->user) - 1 ? v.len :
		    sizeof(r->user) - 1;

		for (size_t i = 0; i < v.len; i++) {
			if (v.p[i] < 0x20 || v.p[i] == 0x7f) {
				*why = "User header contains control chars";
				return -EPROTO;
			}
		}
		memcpy(r->user, v.p, n);
		r->user[n] = '\0';
	} else if (name_is(name, "Message-class")) {
		if (bstr_eq(v, BSTR_LIT("spam")))
			r->cls = SPAMD_CLASS_SPAM;
		else if (bstr_eq(v, BSTR_LIT("ham")))
			r->cls = SPAMD_CLASS_HAM;
		else {
			*why = "Message-class must be spam or ham";
			return -EPROTO;
		}
	} else if (name_is(name, "Set")) {
		if (tell_targets(v, &r->set) < 0) {
			*why = "Set must be local and/or remote";
			return -EPROTO;
		}
	} else if (name_is(name, "Remove")) {
		if (tell_targets(v, &r->remove) < 0) {
			*why = "Remove must be local and/or remote";
			return -EPROTO;
		}
	} else if (name_is(name, "Compress")) {
		if (!bstr_eq(v, BSTR_LIT("zlib"))) {
			*why = "compression type not supported";
			return -EPROTO;
		}
		r->compress = true;
	}
	return 0;
}

/* spamd_parse_head - request line and headers (see spamd_proto.h) */
int
spamd_parse_head(const unsigned char *p, size_t len, struct spamd_req *r,
    const char **why)
{
	struct bstr l;
	size_t off = 0, next;
	int rc;

	memset(r, 0, sizeof(*r));
	*why = "";
	if ((rc = next_line(p, len, 0, &l, &next)) < 0) {
		if (rc == -E2BIG)
			*why = "request line too long";
		return rc;
	}
	if ((rc = parse_cmdline(l, r, why)) < 0)
		return rc;
	off = next;
	if (!has_headers(r)) {
		r->head_len = off;
		return 0;
	}
	for (unsigned n = 0;; n++) {
		if (n > SPAMD_MAX_HEADERS) {
			*why = "too many headers";
			return -E2BIG;
		}
		if ((rc = next_line(p, len, off, &l, &next)) < 0) {
			if (rc == -E2BIG)
				*why = "header line too long";
			return rc;
		}
		off = next;
		if (l.len == 0)
			break;
		if ((rc = parse_header(l, r, why)) < 0)
			return rc;
	}
	if (r->compress && !r->has_length) {
		*why = "Compress requires Content-length header";
		return -EPROTO;
	}
	r->head_len = off;
	return 0;
}

/* spamd_inflate - zlib stream to out, output capped at max */
int
spamd_inflate(const unsigned char *p, size_t len, size_t max,
    struct buf *out)
{
	z_stream z;
	unsigned char chunk[16384];
	int zr, rc = 0;

	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return -ENOMEM;
	z.next_in = (unsigned char *)(uintptr_t)p;
	do {
		/* avail_in is 32-bit: feed large inputs in slices */
		if (z.avail_in == 0) {
			size_t used = (size_t)(z.next_in - p);
			size_t left = len - used;

			z.avail_in = left > (1u << 30) ? (1u << 30) :
			    (unsigned)left;
		}
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = inflate(&z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END) {
			rc = zr == Z_MEM_ERROR ? -ENOMEM : -EPROTO;
			break;
		}
		size_t got = sizeof(chunk) - z.avail_out;

		if (out->len + got > max) {
			rc = -EFBIG;
			break;
		}
		if (got && buf_append(out, chunk, got) < 0) {
			rc = -ENOMEM;
			break;
		}
		if (zr == Z_OK && got == 0 && z.avail_in == 0 &&
		    (size_t)(z.next_in - p) == len) {
			rc = -EPROTO; /* input ended inside the stream */
			break;
		}
	} while (zr != Z_STREAM_END);
	inflateEnd(&z);
	return rc;
}

/* spamd_score_str - spamd's get_tag_value_for_score */
void
spamd_score_str(double score, double required, bool spam, char *out,
    size_t outsz)
{
	char s[64], t[64];

	snprintf(s, sizeof(s), "%2.1f", score);
	snprintf(t, sizeof(t), "%2.1f", required);
	if (spam || strtod(s, NULL) < strtod(t, NULL)) {
		snprintf(out, outsz, "%s", s);
		return;
	}
	/* Perl prints $rscore - 0.1 with its default number format */
	snprintf(out, outsz, "%.15g", strtod(t, NULL) - 0.1);
}

/* spamd_reply_head - status line and headers (spamd 4.0 check()) */
int
spamd_reply_head(struct buf *out, const struct spamd_req *r, bool spam,
    double score, double required, size_t body_len)
{
	char sc[64];
	const char *yes, *no;
	int rc;

	if (r->cmd == SPAMD_REPORT_IFSPAM)
		yes = "Yes", no = "No";
	else
		yes = "True", no = "False";
	spamd_score_str(score, required, spam, sc, sizeof(sc));
	if (r->cmd == SPAMD_PROCESS || r->cmd == SPAMD_HEADERS) {
		if (r->version >= 13)
			return buf_printf(out, "SPAMD/1.1 0 EX_OK\r\n"
			    "Content-length: %zu\r\nSpam: %s ; %s / %.1f\r\n"
			    "\r\n", body_len, spam ? yes : no, sc, required);
		if (r->version >= 12)
			return buf_printf(out, "SPAMD/1.1 0 EX_OK\r\n"
			    "Content-length: %zu\r\n\r\n", body_len);
		return buf_puts(out, "SPAMD/1.0 0 EX_OK\r\n");
	}
	if ((rc = buf_puts(out, "SPAMD/1.1 0 EX_OK\r\n")) < 0)
		return rc;
	if (r->cmd == SPAMD_CHECK || r->version < 13)
		return buf_printf(out, "Spam: %s ; %s / %.1f\r\n\r\n",
		    spam ? yes : no, sc, required);
	return buf_printf(out, "Content-length: %zu\r\nSpam: %s ; %s / %.1f"
	    "\r\n\r\n", body_len, spam ? yes : no, sc, required);
}

/* spamd_reply_error - one status line, as spamd's *_error() subs */
int
spamd_reply_error(struct buf *out, int code, const char *text)
{
	const char *name;

	switch (code) {
	case SPAMD_EX_PROTOCOL: name = "Bad header line"; break;
	case SPAMD_EX_UNAVAILABLE: name = "Service Unavailable"; break;
	case SPAMD_EX_TIMEOUT: name = "Timeout"; break;
	case SPAMD_EX_NOPERM: name = "Permission denied"; break;
	case SPAMD_EX_TEMPFAIL: name = "Temporary failure"; break;
	default: name = "Error"; break;
	}
	return buf_printf(out, "SPAMD/1.0 %d %s: %s\r\n", code, name, text);
}
