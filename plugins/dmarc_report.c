/*
 * dmarc_report - DMARC aggregate report reader (RFC 7489 7.2, Appendix C)
 *
 * Input: the bytes of a report file: XML, gzip (RFC 1952) or zip (PKWARE
 * APPNOTE 4.3: the central directory is read, the first *.xml entry is
 * taken, stored or deflated, CRC-32 checked). Inflation stops at
 * DMARC_REPORT_MAX_XML (a bomb guard). The XML goes to libxml2 without
 * network access or entity substitution; elements are matched by local
 * name, so the DMARCbis namespace reads the same.
 * Memory: the report and its rows are malloc'd; dmarc_report_free().
 * Errors: negative errno with a reason in err; nothing here logs (libxml2's
 * own error printing is switched off per parse).
 */
#include "plugins/dmarc_report.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <zlib.h>

static void
seterr(char *err, size_t errsz, const char *fmt, const char *arg)
{
	if (err && errsz)
		snprintf(err, errsz, fmt, arg ? arg : "");
}

/* Decompression --------------------------------------------------------- */

/* inflate_all - zlib stream (wbits as for inflateInit2) into a malloc'd
 * buffer of at most DMARC_REPORT_MAX_XML octets */
static int
inflate_all(const unsigned char *in, size_t inlen, int wbits,
    unsigned char **out, size_t *outlen)
{
	z_stream z;
	size_t cap = inlen * 4 + 4096, n = 0;
	unsigned char *b;
	int zr, rc = 0;

	if (cap > DMARC_REPORT_MAX_XML)
		cap = DMARC_REPORT_MAX_XML;
	if ((b = malloc(cap + 1)) == NULL)
		return -ENOMEM;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, wbits) != Z_OK) {
		free(b);
		return -ENOMEM;
	}
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = inlen > UINT32_MAX ? UINT32_MAX : (uInt)inlen;
	for (;;) {
		if (n == cap) {
			unsigned char *nb;
			if (cap >= DMARC_REPORT_MAX_XML) {
				rc = -EFBIG;
				break;
			}
			cap = cap * 2 > DMARC_REPORT_MAX_XML
			    ? DMARC_REPORT_MAX_XML
			    : cap * 2;
			if ((nb = realloc(b, cap + 1)) == NULL) {
				rc = -ENOMEM;
				break;
			}
			b = nb;
		}
		z.next_out = b + n;
		z.avail_out = (uInt)(cap - n);
		zr = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_BUF_ERROR && z.avail_in == 0) {
			rc = -EINVAL; /* truncated */
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			rc = zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
			break;
		}
	}
	inflateEnd(&z);
	if (rc < 0) {
		free(b);
		return rc;
	}
	b[n] = '\0';
	*out = b;
	*outlen = n;
	return 0;
}

static uint32_t
le16(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t
le32(const unsigned char *p)
{
	return le16(p) | le16(p + 2) << 16;
}

/* unzip_xml - the first entry whose name ends in .xml (any entry when
 * none does) */
static int
unzip_xml(const unsigned char *d, size_t len, unsigned char **out,
    size_t *outlen, char *err, size_t errsz)
{
	size_t eocd = 0, cd, cdlen, nent, p;
	bool found = false;

	/* End of central directory: 22 octets plus a comment of at most
	 * 65535, searched from the end. */
	if (len < 22) {
		seterr(err, errsz, "zip: too short%s", NULL);
		return -EINVAL;
	}
	for (size_t i = len - 22 + 1; i-- > 0 && len - i <= 22 + 65535;)
		if (le32(d + i) == 0x06054b50) {
			eocd = i;
			found = true;
			break;
		}
	if (!found) {
		seterr(err, errsz, "zip: no end of central directory%s", NULL);
		return -EINVAL;
	}
	nent = le16(d + eocd + 10);
	cdlen = le32(d + eocd + 12);
	cd = le32(d + eocd + 16);
	if (cd > eocd || cdlen > eocd - cd) {
		seterr(
		    err, errsz, "zip: central directory out of range%s", NULL);
		return -EINVAL;
	}
	for (int pass = 0; pass < 2; pass++) {
		p = cd;
		for (size_t e = 0; e < nent; e++) {
			uint32_t method, csize, usize, crc, nlen, xlen, clen,
			    loff, lnlen, lxlen;
			const char *name;
			size_t data;

			if (cd + cdlen - p < 46 || le32(d + p) != 0x02014b50)
				break;
			method = le16(d + p + 10);
			crc = le32(d + p + 16);
			csize = le32(d + p + 20);
			usize = le32(d + p + 24);
			nlen = le16(d + p + 28);
			xlen = le16(d + p + 30);
			clen = le16(d + p + 32);
			loff = le32(d + p + 42);
			name = (const char *)d + p + 46;
			if (cd + cdlen - p - 46 < (size_t)nlen + xlen + clen)
				break;
			p += 46 + (size_t)nlen + xlen + clen;
			/* pass 0: .xml entries; pass 1: anything */
			if (pass == 0 &&
			    !(nlen >= 4 &&
				strncasecmp(name + nlen - 4, ".xml", 4) == 0))
				continue;
			if (nlen && name[nlen - 1] == '/')
				continue; /* a directory */
			if (loff > len || len - loff < 30 ||
			    le32(d + loff) != 0x04034b50) {
				seterr(err, errsz, "zip: bad local header%s",
				    NULL);
				return -EINVAL;
			}
			lnlen = le16(d + loff + 26);
			lxlen = le16(d + loff + 28);
			data = loff + 30 + (size_t)lnlen + lxlen;
			if (data > len || len - data < csize) {
				seterr(err, errsz,
				    "zip: entry data out of "
				    "range%s",
				    NULL);
				return -EINVAL;
			}
			if (usize > DMARC_REPORT_MAX_XML) {
				seterr(
				    err, errsz, "zip: entry too large%s", NULL);
				return -EFBIG;
			}
			if (method == 0) {
				if (csize != usize ||
				    (*out = malloc((size_t)csize + 1)) == NULL)
					return csize != usize ? -EINVAL
							      : -ENOMEM;
				memcpy(*out, d + data, csize);
				(*out)[csize] = '\0';
				*outlen = csize;
			} else if (method == 8) {
				int rc = inflate_all(
				    d + data, csize, -MAX_WBITS, out, outlen);
				if (rc < 0) {
					seterr(err, errsz,
					    "zip: bad deflate "
					    "data%s",
					    NULL);
					return rc;
				}
			} else {
				seterr(err, errsz,
				    "zip: compression method "
				    "not stored/deflate%s",
				    NULL);
				return -EINVAL;
			}
			if (crc32(0L, *out, (uInt)*outlen) != crc ||
			    *outlen != usize) {
				free(*out);
				*out = NULL;
				seterr(err, errsz,
				    "zip: CRC or size "
				    "mismatch%s",
				    NULL);
				return -EINVAL;
			}
			return 0;
		}
	}
	seterr(err, errsz, "zip: no entry%s", NULL);
	return -EINVAL;
}

int
dmarc_report_inflate(const unsigned char *d, size_t len, unsigned char **xml,
    size_t *xlen, enum dmarc_report_fmt *fmt, char *err, size_t errsz)
{
	int rc;

	if (len >= 2 && d[0] == 0x1f && d[1] == 0x8b) {
		*fmt = DMARC_REPORT_GZIP;
		/* 16 + MAX_WBITS: gzip wrapper (RFC 1952) */
		if ((rc = inflate_all(d, len, 16 + MAX_WBITS, xml, xlen)) < 0)
			seterr(err, errsz,
			    rc == -EFBIG
				? "gzip: inflates past the size limit%s"
				: "gzip: bad or truncated data%s",
			    NULL);
		return rc;
	}
	if (len >= 4 && le32(d) == 0x04034b50) {
		*fmt = DMARC_REPORT_ZIP;
		return unzip_xml(d, len, xml, xlen, err, errsz);
	}
	*fmt = DMARC_REPORT_XML;
	*xml = (unsigned char *)(uintptr_t)d;
	*xlen = len;
	return 0;
}

/* XML ------------------------------------------------------------------- */

static bool
is(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE &&
	    strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *
child(const xmlNode *n, const char *name)
{
	for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

/* text - the element's text, trimmed, into out (truncated) */
static void
text(const xmlNode *n, char *out, size_t outsz)
{
	size_t o = 0;

	out[0] = '\0';
	if (n == NULL)
		return;
	for (const xmlNode *c = n->children; c; c = c->next) {
		const char *s;
		if (c->type != XML_TEXT_NODE &&
		    c->type != XML_CDATA_SECTION_NODE)
			continue;
		for (s = (const char *)c->content; s && *s; s++) {
			unsigned char ch = (unsigned char)*s;
			if (o == 0 &&
			    (ch == ' ' || ch == '\t' || ch == '\r' ||
				ch == '\n'))
				continue;
			if (ch < 0x20)
				ch = ' '; /* no control characters out */
			if (o + 1 < outsz)
				out[o++] = (char)ch;
		}
	}
	while (o && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
}

static void
path_text(
    const xmlNode *n, const char *a, const char *b, char *out, size_t outsz)
{
	const xmlNode *c = child(n, a);

	text(b ? child(c, b) : c, out, outsz);
}

static unsigned long long
num(const xmlNode *n)
{
	char t[32], *e;
	unsigned long long v;

	text(n, t, sizeof(t));
	if (t[0] < '0' || t[0] > '9')
		return 0; /* strtoull would take "-3" */
	v = strtoull(t, &e, 10);
	return e == t || *e ? 0 : v;
}

static void
lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 32;
}

static int
read_record(const xmlNode *rec, struct dmarc_report_row *r)
{
	const xmlNode *row = child(rec, "row"), *pe, *ids, *ar;

	memset(r, 0, sizeof(*r));
	path_text(row, "source_ip", NULL, r->source_ip, sizeof(r->source_ip));
	r->count = (unsigned long)num(child(row, "count"));
	pe = child(row, "policy_evaluated");
	path_text(
	    pe, "disposition", NULL, r->disposition, sizeof(r->disposition));
	path_text(pe, "dkim", NULL, r->dkim, sizeof(r->dkim));
	path_text(pe, "spf", NULL, r->spf, sizeof(r->spf));
	path_text(pe, "reason", "type", r->reason, sizeof(r->reason));
	lower(r->disposition);
	lower(r->dkim);
	lower(r->spf);
	ids = child(rec, "identifiers");
	path_text(
	    ids, "header_from", NULL, r->header_from, sizeof(r->header_from));
	path_text(ids, "envelope_from", NULL, r->envelope_from,
	    sizeof(r->envelope_from));
	lower(r->header_from);
	ar = child(rec, "auth_results");
	for (const xmlNode *c = ar ? ar->children : NULL; c; c = c->next) {
		struct dmarc_report_auth *a;
		if (is(c, "dkim") && r->ndkim < DMARC_REPORT_MAX_AUTH)
			a = &r->dkim_auth[r->ndkim++];
		else if (is(c, "spf") && r->nspf < DMARC_REPORT_MAX_AUTH)
			a = &r->spf_auth[r->nspf++];
		else
			continue;
		path_text(c, "domain", NULL, a->domain, sizeof(a->domain));
		path_text(
		    c, "selector", NULL, a->selector, sizeof(a->selector));
		path_text(c, "result", NULL, a->result, sizeof(a->result));
		lower(a->domain);
		lower(a->result);
	}
	return r->source_ip[0] ? 0 : -EINVAL;
}

static int
read_feedback(
    const xmlNode *fb, struct dmarc_report *rp, char *err, size_t errsz)
{
	const xmlNode *md = child(fb, "report_metadata");
	const xmlNode *pp = child(fb, "policy_published");
	char t[16];
	size_t cap = 0;

	path_text(md, "org_name", NULL, rp->org_name, sizeof(rp->org_name));
	path_text(md, "email", NULL, rp->email, sizeof(rp->email));
	path_text(md, "report_id", NULL, rp->report_id, sizeof(rp->report_id));
	rp->begin = (time_t)num(child(child(md, "date_range"), "begin"));
	rp->end = (time_t)num(child(child(md, "date_range"), "end"));
	path_text(pp, "domain", NULL, rp->domain, sizeof(rp->domain));
	lower(rp->domain);
	path_text(pp, "p", NULL, rp->p, sizeof(rp->p));
	path_text(pp, "sp", NULL, rp->sp, sizeof(rp->sp));
	lower(rp->p);
	lower(rp->sp);
	path_text(pp, "adkim", NULL, t, sizeof(t));
	rp->adkim = (t[0] == 's' || t[0] == 'S') ? 's' : 'r';
	path_text(pp, "aspf", NULL, t, sizeof(t));
	rp->aspf = (t[0] == 's' || t[0] == 'S') ? 's' : 'r';
	rp->pct = child(pp, "pct") ? (unsigned)num(child(pp, "pct")) : 100;
	if (rp->pct > 100)
		rp->pct = 100;
	for (const xmlNode *c = fb->children; c; c = c->next) {
		if (!is(c, "record"))
			continue;
		if (rp->nrows == DMARC_REPORT_MAX_ROWS) {
			seterr(err, errsz, "more than %s records", "100000");
			return -EFBIG;
		}
		if (rp->nrows == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct dmarc_report_row *nr =
			    realloc(rp->rows, nc * sizeof(*nr));
			if (nr == NULL)
				return -ENOMEM;
			rp->rows = nr;
			cap = nc;
		}
		if (read_record(c, &rp->rows[rp->nrows]) == 0)
			rp->nrows++;
	}
	if (rp->domain[0] == '\0') {
		seterr(err, errsz, "no policy_published/domain%s", NULL);
		return -EINVAL;
	}
	return 0;
}

int
dmarc_report_parse(const unsigned char *data, size_t len,
    struct dmarc_report **out, char *err, size_t errsz)
{
	unsigned char *xml;
	size_t xlen;
	enum dmarc_report_fmt fmt;
	struct dmarc_report *rp;
	xmlDoc *doc;
	const xmlNode *root;
	int rc;

	*out = NULL;
	if ((rc = dmarc_report_inflate(
		 data, len, &xml, &xlen, &fmt, err, errsz)) < 0)
		return rc;
	if (xlen > INT32_MAX) {
		rc = -EFBIG;
		goto out_xml;
	}
	/* No network, no entity substitution (XXE), no DTD loading, no
	 * libxml2 messages on stderr. */
	doc = xmlReadMemory((const char *)xml, (int)xlen, "report.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
		XML_PARSE_NOBLANKS | XML_PARSE_NOCDATA);
	if (doc == NULL) {
		seterr(err, errsz, "not well-formed XML%s", NULL);
		rc = -EINVAL;
		goto out_xml;
	}
	root = xmlDocGetRootElement(doc);
	if (root == NULL || !is(root, "feedback")) {
		seterr(err, errsz, "root element is not <feedback>%s", NULL);
		rc = -EINVAL;
		goto out_doc;
	}
	if ((rp = calloc(1, sizeof(*rp))) == NULL) {
		rc = -ENOMEM;
		goto out_doc;
	}
	if ((rc = read_feedback(root, rp, err, errsz)) < 0)
		dmarc_report_free(rp);
	else
		*out = rp;
out_doc:
	xmlFreeDoc(doc);
out_xml:
	if (xml != data)
		free(xml);
	return rc;
}

struct dmarc_report *
dmarc_report_free(struct dmarc_report *rp)
{
	if (rp) {
		free(rp->rows);
		free(rp);
	}
	return NULL;
}
