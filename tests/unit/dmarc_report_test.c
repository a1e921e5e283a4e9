/*
 * tests/unit/dmarc_report_test.c - plugins/dmarc_report.c: the sample
 * reports of tests/data/dmarc (XML, .xml.gz, deflate and stored .zip, the
 * DMARCbis namespace), archives built here (bad CRC, zip bomb guard,
 * truncation), and XML that must be refused (XXE, wrong root).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "plugins/dmarc_report.h"

#define DATA "tests/data/dmarc/"

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p;
	long n;

	if (f == NULL) {
		printf(
		    "# %s: cannot open (run from the repository root)\n", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return p;
}

static struct dmarc_report *
parse_file(const char *path, enum dmarc_report_fmt want)
{
	size_t len = 0, xlen;
	unsigned char *d = slurp(path, &len), *xml;
	struct dmarc_report *rp;
	enum dmarc_report_fmt fmt;
	char err[256] = "";

	assert_non_null(d);
	assert_int_equal(
	    dmarc_report_inflate(d, len, &xml, &xlen, &fmt, err, sizeof(err)),
	    0);
	assert_int_equal(fmt, want);
	if (xml != d)
		free(xml);
	int rc = dmarc_report_parse(d, len, &rp, err, sizeof(err));
	if (rc)
		printf("# %s: %s\n", path, err);
	assert_int_equal(rc, 0);
	free(d);
	return rp;
}

static void
check_google(const struct dmarc_report *rp)
{
	assert_string_equal(rp->org_name, "google.com");
	assert_string_equal(rp->report_id, "4821937716245712960");
	assert_string_equal(rp->domain, "example.org");
	assert_string_equal(rp->p, "none");
	assert_int_equal(rp->pct, 100);
	assert_int_equal(rp->adkim, 'r');
	assert_int_equal(rp->begin, 1795651200);
	assert_int_equal(rp->end, 1795737599);
	assert_int_equal(rp->nrows, 4);
	assert_string_equal(rp->rows[0].source_ip, "192.0.2.10");
	assert_int_equal(rp->rows[0].count, 120);
	assert_string_equal(rp->rows[0].dkim, "pass");
	assert_int_equal(rp->rows[0].ndkim, 1);
	assert_string_equal(rp->rows[0].dkim_auth[0].selector, "20261101");
	assert_string_equal(rp->rows[1].reason, "forwarded");
	assert_string_equal(
	    rp->rows[1].spf_auth[0].domain, "lists.forwarder.example");
	assert_string_equal(rp->rows[2].spf_auth[0].result, "softfail");
	assert_int_equal(rp->rows[2].ndkim, 0);
	assert_string_equal(rp->rows[3].source_ip, "2001:db8::25");
	assert_string_equal(rp->rows[3].dkim_auth[0].domain, "esp.example");
}

static void
test_samples(void **st)
{
	struct dmarc_report *rp;
	(void)st;

	rp = parse_file(DATA "google.xml", DMARC_REPORT_XML);
	check_google(rp);
	dmarc_report_free(rp);
	rp = parse_file(DATA "google.com!example.org!1795651200!1795737599.zip",
	    DMARC_REPORT_ZIP);
	check_google(rp);
	dmarc_report_free(rp);
	rp = parse_file(DATA "enterprise.protection.outlook.com!example.org!"
			     "1795651200!1795737600.xml.gz",
	    DMARC_REPORT_GZIP);
	assert_string_equal(rp->org_name, "Enterprise Outlook");
	assert_int_equal(rp->nrows, 2);
	assert_int_equal(rp->rows[0].count, 30);
	assert_string_equal(rp->rows[0].envelope_from, "example.org");
	assert_string_equal(rp->sp, "none");
	dmarc_report_free(rp);
	/* stored zip: README.txt first, the .xml entry is the one read;
	 * the DMARCbis namespace and a mixed-case domain */
	rp = parse_file(DATA "stored.zip", DMARC_REPORT_ZIP);
	assert_string_equal(rp->org_name, "Yahoo");
	assert_string_equal(rp->domain, "example.org");
	assert_string_equal(rp->p, "quarantine");
	assert_string_equal(rp->sp, "");
	assert_int_equal(rp->pct, 50);
	assert_int_equal(rp->adkim, 's');
	assert_int_equal(rp->nrows, 1);
	assert_string_equal(rp->rows[0].disposition, "quarantine");
	dmarc_report_free(rp);
}

static int
parse_str(const char *s, struct dmarc_report **rp)
{
	char err[256];

	return dmarc_report_parse(
	    (const unsigned char *)s, strlen(s), rp, err, sizeof(err));
}

static void
test_bad_xml(void **st)
{
	struct dmarc_report *rp;
	(void)st;

	assert_int_equal(parse_str("", &rp), -EINVAL);
	assert_int_equal(parse_str("<feedback>", &rp), -EINVAL);
	assert_int_equal(parse_str("<html><body/></html>", &rp), -EINVAL);
	/* no policy domain */
	assert_int_equal(
	    parse_str("<feedback><record/></feedback>", &rp), -EINVAL);
	assert_null(rp);
	/* XXE: an external entity is neither fetched nor substituted */
	assert_int_equal(parse_str("<?xml version=\"1.0\"?>\n"
				   "<!DOCTYPE feedback [<!ENTITY x SYSTEM "
				   "\"file:///etc/passwd\">]>\n"
				   "<feedback><report_metadata><org_name>&x;"
				   "</org_name></report_metadata>"
				   "<policy_published><domain>a.example"
				   "</domain></policy_published></feedback>",
			     &rp),
	    0);
	assert_null(strstr(rp->org_name, "root"));
	dmarc_report_free(rp);
	/* a row without a source IP is skipped; odd counts read as 0 */
	assert_int_equal(parse_str("<feedback><policy_published><domain>a."
				   "example</domain></policy_published>"
				   "<record><row><count>5</count></row>"
				   "</record><record><row><source_ip>192.0.2"
				   ".1</source_ip><count>-3</count></row>"
				   "</record></feedback>",
			     &rp),
	    0);
	assert_int_equal(rp->nrows, 1);
	assert_int_equal(rp->rows[0].count, 0);
	dmarc_report_free(rp);
}

/* A one-entry zip of data (deflated when deflate), CRC as given. */
static size_t
mkzip(unsigned char *out, const char *name, const unsigned char *data,
    size_t len, bool defl, uint32_t crc)
{
	unsigned char comp[1 << 16];
	uLongf clen = sizeof(comp);
	size_t o = 0, nl = strlen(name), loff = 0, cd;
	const unsigned char *payload = data;
	z_stream z;

	if (defl) {
		memset(&z, 0, sizeof(z));
		deflateInit2(
		    &z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
		z.next_in = (unsigned char *)(uintptr_t)data;
		z.avail_in = (uInt)len;
		z.next_out = comp;
		z.avail_out = sizeof(comp);
		deflate(&z, Z_FINISH);
		clen = z.total_out;
		deflateEnd(&z);
		payload = comp;
	} else
		clen = len;
#define P16(v) \
	(out[o++] = (unsigned char)(v), out[o++] = (unsigned char)((v) >> 8))
#define P32(v) (P16((v)&0xffff), P16(((uint32_t)(v)) >> 16))
	P32(0x04034b50u);
	P16(20);
	P16(0);
	P16(defl ? 8 : 0);
	P32(0);
	P32(crc);
	P32(clen);
	P32(len);
	P16(nl);
	P16(0);
	memcpy(out + o, name, nl);
	o += nl;
	memcpy(out + o, payload, clen);
	o += clen;
	cd = o;
	P32(0x02014b50u);
	P16(20);
	P16(20);
	P16(0);
	P16(defl ? 8 : 0);
	P32(0);
	P32(crc);
	P32(clen);
	P32(len);
	P16(nl);
	P16(0);
	P16(0);
	P16(0);
	P16(0);
	P32(0);
	P32(loff);
	memcpy(out + o, name, nl);
	o += nl;
	size_t cdlen = o - cd;
	P32(0x06054b50u);
	P16(0);
	P16(0);
	P16(1);
	P16(1);
	P32(cdlen);
	P32(cd);
	P16(0);
	return o;
#undef P16
#undef P32
}

static void
test_archives(void **st)
{
	static const char x[] = "<feedback><policy_published><domain>z."
				"example</domain></policy_published>"
				"</feedback>";
	unsigned char *zip = malloc(1 << 17);
	struct dmarc_report *rp;
	char err[256];
	size_t n;
	uint32_t crc =
	    (uint32_t)crc32(0, (const unsigned char *)x, sizeof(x) - 1);
	(void)st;

	assert_non_null(zip);
	n = mkzip(
	    zip, "r.xml", (const unsigned char *)x, sizeof(x) - 1, true, crc);
	assert_int_equal(dmarc_report_parse(zip, n, &rp, err, sizeof(err)), 0);
	assert_string_equal(rp->domain, "z.example");
	dmarc_report_free(rp);
	/* bad CRC */
	n = mkzip(zip, "r.xml", (const unsigned char *)x, sizeof(x) - 1, true,
	    crc ^ 1);
	assert_int_equal(
	    dmarc_report_parse(zip, n, &rp, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "CRC"));
	/* truncated archive */
	n = mkzip(
	    zip, "r.xml", (const unsigned char *)x, sizeof(x) - 1, false, crc);
	assert_int_equal(
	    dmarc_report_parse(zip, n - 10, &rp, err, sizeof(err)), -EINVAL);
	/* bomb guard: 65 MiB of zeros deflate to ~65 kB, and stop at
	 * the limit */
	{
		size_t big = DMARC_REPORT_MAX_XML + (1u << 20);
		unsigned char *zeros = calloc(1, big);
		uLongf glen = compressBound(big);
		unsigned char *gz = malloc(glen + 32);
		z_stream z;

		assert_non_null(zeros);
		assert_non_null(gz);
		memset(&z, 0, sizeof(z));
		deflateInit2(
		    &z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
		z.next_in = zeros;
		z.avail_in = (uInt)big;
		z.next_out = gz;
		z.avail_out = (uInt)glen;
		assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
		glen = z.total_out;
		deflateEnd(&z);
		assert_int_equal(
		    dmarc_report_parse(gz, glen, &rp, err, sizeof(err)),
		    -EFBIG);
		/* truncated gzip (half of it inflates to ~32 MiB) */
		assert_int_equal(
		    dmarc_report_parse(gz, glen / 2, &rp, err, sizeof(err)),
		    -EINVAL);
		assert_int_equal(
		    dmarc_report_parse(gz, 20, &rp, err, sizeof(err)), -EINVAL);
		free(zeros);
		free(gz);
	}
	free(zip);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_bad_xml),
		cmocka_unit_test(test_archives),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
