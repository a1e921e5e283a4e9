/*
 * plugins/dmarc_report.h - DMARC aggregate report reader (RFC 7489 7.2,
 * Appendix C): the XML as mailed by the big providers, bare, gzip'd or in
 * a zip archive
 *
 * dmarc_report_parse() takes the file's bytes, finds out what they are,
 * inflates them (bounded), reads the XML with libxml2 (no network, no
 * entity expansion) and returns the report as plain structs. Strings are
 * NUL-terminated and truncated to their array sizes.
 */
#ifndef PLUGINS_DMARC_REPORT_H
#define PLUGINS_DMARC_REPORT_H

#include <stddef.h>
#include <time.h>

#define DMARC_REPORT_MAX_XML (64u << 20) /* inflated size */
#define DMARC_REPORT_MAX_ROWS 100000
#define DMARC_REPORT_MAX_AUTH 4 /* dkim / spf results kept per row */

struct dmarc_report_auth {
	char domain[256];
	char selector[64]; /* dkim only */
	char result[16];   /* pass, fail, none, temperror, ... */
};

struct dmarc_report_row {
	char source_ip[64];
	unsigned long count;
	/* policy_evaluated: the DMARC view (aligned results) */
	char disposition[16];	/* none, quarantine, reject */
	char dkim[16], spf[16]; /* pass / fail */
	char reason[32];	/* first reason type, "" if none */
	/* identifiers */
	char header_from[256], envelope_from[256];
	/* auth_results: the raw SPF/DKIM results */
	struct dmarc_report_auth dkim_auth[DMARC_REPORT_MAX_AUTH];
	struct dmarc_report_auth spf_auth[DMARC_REPORT_MAX_AUTH];
	unsigned ndkim, nspf;
};

struct dmarc_report {
	char org_name[256], email[256], report_id[256];
	time_t begin, end;
	/* policy_published */
	char domain[256];
	char adkim, aspf; /* 'r' or 's' */
	char p[16], sp[16];
	unsigned pct;
	struct dmarc_report_row *rows;
	size_t nrows;
};

/* What the bytes are. */
enum dmarc_report_fmt {
	DMARC_REPORT_XML,
	DMARC_REPORT_GZIP,
	DMARC_REPORT_ZIP,
};

/* dmarc_report_parse - 0 with *out (free with dmarc_report_free), or
 * -EINVAL (not a report / bad archive / bad XML), -EFBIG (inflates past
 * DMARC_REPORT_MAX_XML or more rows than DMARC_REPORT_MAX_ROWS),
 * -ENOMEM; err gets a one-line reason. A zip archive: its first .xml
 * entry (stored or deflated). */
int dmarc_report_parse(const unsigned char *data, size_t len,
    struct dmarc_report **out, char *err, size_t errsz);
struct dmarc_report *dmarc_report_free(struct dmarc_report *);

/* dmarc_report_inflate - the XML bytes of data (a malloc'd copy, or data
 * itself for plain XML: check *xml != data before freeing); fmt set.
 * Same return codes as dmarc_report_parse. */
int dmarc_report_inflate(const unsigned char *data, size_t len,
    unsigned char **xml, size_t *xlen, enum dmarc_report_fmt *fmt, char *err,
    size_t errsz);

#endif
