/* dkim_test - DKIM tag parsers, canonicalization, verification; with
 * "--conformance DIR" it runs the vectors under DIR (generated/,
 * rfc8463/, mail-dkim/) and prints TAP lines instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugins/authres.h"
#include "plugins/dkim.h"
#include "util/arena.h"
#include "tests/unit/auth_zone.h"
#include "tests/unit/auth_realdns.h"

/* RFC 8463 Appendix A.3: two signatures (ed25519, rsa-sha256). */
static const char rfc8463_msg[] =
    "DKIM-Signature: v=1; a=ed25519-sha256; c=simple/simple; \r\n"
    " d=football.example.com; i=@football.example.com; \r\n"
    " q=dns/txt; s=brisbane; t=1518460054; h=from : to : \r\n"
    " subject : date : message-id : from : subject : date; \r\n"
    " bh=4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=; \r\n"
    " b=9/dsDChY0YMTtD5Eyw3wx7x22BlSJP7M5ECbJ7GWrR45nXlTCGb8l0YB\r\n"
    " o0wBLR++X5LqmsxXaOYLLJe46l10AQ==\r\n"
    "DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; \r\n"
    " d=football.example.com; i=@football.example.com; \r\n"
    " q=dns/txt; s=test; t=1527915362; h=from : to : subject : \r\n"
    " date : message-id : from : subject : date; \r\n"
    " bh=4bLNXImK9drULnmePzZNEBleUanJCX5PIsDIFoH4KTQ=; \r\n"
    " b=icKcLSEZYXJ95flvWE8FT6hl5iqd8MC/LEKYH0QjsqYy6MO/4pgVNCZH\r\n"
    " l/RAXAuADxE/40Fg7uTlxwwD1hjN2Ple6J//cJfslBdDOq6zTVbne1dqtl\r\n"
    " NOat7iamJ1AfRqyG+ja7a2AZsrpUuJ7VA6O+0zRYPqpwMEkEFIzI9i/Xk=\r\n"
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n"
    "\r\n";

static const char rfc8463_ed[] =
    "v=DKIM1; k=ed25519; "
    "p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rfc8463_rsa[] =
    "v=DKIM1; k=rsa; "
    "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08"
    "a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+"
    "yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/"
    "K4w3QIDAQAB";

struct run {
	struct dkim_verify *v;
	struct authres_dns *dns;
};

static int
step(void *arg)
{
	struct run *r = arg;

	return dkim_verify_run(r->v, r->dns);
}

/* Verify msg against zone z; fills res[] with per-signature results. */
static size_t
verify(struct zone *z, const void *msg, size_t len, time_t now, struct arena *a,
    const struct dkim_sig **res, size_t max)
{
	struct run r;
	size_t n;

	assert_int_equal(dkim_verify_new(a, msg, len, now, &r.v), 0);
	r.dns = authres_dns_new(a);
	assert_int_equal(
	    authres_dns_drive(r.dns, step, &r, zone_resolve, z, 8), 0);
	n = dkim_sig_count(r.v);
	for (size_t i = 0; i < n && i < max; i++)
		res[i] = dkim_sig_at(r.v, i);
	return n;
}

static void
rfc8463_zone(struct zone *z)
{
	memset(z, 0, sizeof(*z));
	zone_add_txt(z, "brisbane._domainkey.football.example.com", rfc8463_ed,
	    strlen(rfc8463_ed));
	zone_add_txt(z, "test._domainkey.football.example.com", rfc8463_rsa,
	    strlen(rfc8463_rsa));
}

static void
test_rfc8463_pass(void **state)
{
	(void)state;
	struct zone z;
	struct arena *a = arena_new(0);
	const struct dkim_sig *s[2];

	rfc8463_zone(&z);
	assert_int_equal(verify(&z, rfc8463_msg, sizeof(rfc8463_msg) - 1,
			     1700000000, a, s, 2),
	    2);
	assert_int_equal(s[0]->result, DKIM_PASS);
	assert_int_equal(s[0]->alg, DKIM_ALG_ED25519_SHA256);
	assert_int_equal(s[1]->result, DKIM_PASS);
	assert_int_equal(s[1]->key_bits, 1024);
	assert_string_equal(s[0]->d, "football.example.com");
	assert_string_equal(s[0]->s, "brisbane");
	assert_string_equal(s[1]->b8, "icKcLSEZ");
	assert_int_equal(z.queries, 2);
	arena_free(a);
	zone_free(&z);
}

/* The same message with bare LF line ends verifies too (RFC 6376 5.3). */
static void
test_rfc8463_lf(void **state)
{
	(void)state;
	struct zone z;
	struct arena *a = arena_new(0);
	const struct dkim_sig *s[2];
	char lf[sizeof(rfc8463_msg)];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(rfc8463_msg) - 1; i++)
		if (rfc8463_msg[i] != '\r')
			lf[n++] = rfc8463_msg[i];
	rfc8463_zone(&z);
	assert_int_equal(verify(&z, lf, n, 1700000000, a, s, 2), 2);
	assert_int_equal(s[0]->result, DKIM_PASS);
	assert_int_equal(s[1]->result, DKIM_PASS);
	arena_free(a);
	zone_free(&z);
}

/* 3.7: whitespace around the b= value is deleted with it, so a relay
 * that refolds b= (a CRLF SP before the value, a space after it) does not
 * break even a c=simple signature. */
static void
test_b_refolded(void **state)
{
	(void)state;
	struct zone z;
	struct arena *a = arena_new(0);
	const struct dkim_sig *s[2];
	char m[sizeof(rfc8463_msg) + 16];
	const char *b = strstr(rfc8463_msg, "b=9/ds"), *e;
	size_t pre = (size_t)(b - rfc8463_msg) + 2, n;

	/* "b=\r\n 9/ds...AQ== \r\n" */
	memcpy(m, rfc8463_msg, pre);
	memcpy(m + pre, "\r\n ", 3);
	e = strstr(b, "AQ==\r\n") + 4;
	n = pre + 3;
	memcpy(m + n, b + 2, (size_t)(e - b - 2));
	n += (size_t)(e - b - 2);
	m[n++] = ' ';
	memcpy(m + n, e, sizeof(rfc8463_msg) - (size_t)(e - rfc8463_msg));
	n += sizeof(rfc8463_msg) - 1 - (size_t)(e - rfc8463_msg);
	rfc8463_zone(&z);
	assert_int_equal(verify(&z, m, n, 1700000000, a, s, 2), 2);
	assert_int_equal(s[0]->result, DKIM_PASS);
	assert_string_equal(s[0]->b8, "9/dsDChY");
	assert_int_equal(s[1]->result, DKIM_PASS);
	arena_free(a);
	zone_free(&z);
}

/* Altered body, altered signed header, missing key, revoked key. */
static void
test_rfc8463_altered(void **state)
{
	(void)state;
	struct zone z;
	struct arena *a = arena_new(0);
	const struct dkim_sig *s[2];
	char m[sizeof(rfc8463_msg)];
	char *p;

	memcpy(m, rfc8463_msg, sizeof(m));
	p = strstr(m, "hungry");
	p[0] = 'H';
	rfc8463_zone(&z);
	assert_int_equal(verify(&z, m, sizeof(m) - 1, 1700000000, a, s, 2), 2);
	assert_int_equal(s[0]->result, DKIM_FAIL);
	assert_string_equal(s[0]->reason, "body hash mismatch");
	assert_int_equal(s[1]->result, DKIM_FAIL);

	memcpy(m, rfc8463_msg, sizeof(m));
	p = strstr(m, "Is dinner");
	p[0] = 'I';
	p[1] = 'S';
	assert_int_equal(verify(&z, m, sizeof(m) - 1, 1700000000, a, s, 2), 2);
	assert_int_equal(s[0]->result, DKIM_FAIL);
	assert_string_equal(s[0]->reason, "signature did not verify");
	assert_int_equal(s[1]->result, DKIM_FAIL);
	zone_free(&z);

	/* No ed25519 key, RSA key revoked, SERVFAIL. */
	memset(&z, 0, sizeof(z));
	zone_add_txt(
	    &z, "test._domainkey.football.example.com", "v=DKIM1; p=", 11);
	assert_int_equal(verify(&z, rfc8463_msg, sizeof(rfc8463_msg) - 1,
			     1700000000, a, s, 2),
	    2);
	assert_int_equal(s[0]->result, DKIM_PERMERROR);
	assert_string_equal(s[0]->reason, "no key");
	assert_int_equal(s[1]->result, DKIM_PERMERROR);
	assert_string_equal(s[1]->reason, "key revoked");
	zone_free(&z);
	memset(&z, 0, sizeof(z));
	zone_servfail_below(&z, "football.example.com");
	assert_int_equal(verify(&z, rfc8463_msg, sizeof(rfc8463_msg) - 1,
			     1700000000, a, s, 2),
	    2);
	assert_int_equal(s[0]->result, DKIM_TEMPERROR);
	assert_int_equal(s[1]->result, DKIM_TEMPERROR);
	zone_free(&z);
	arena_free(a);
}

struct sigcase {
	const char *value;
	int rc;
	const char *why;
};

static void
test_sigtags(void **state)
{
	(void)state;
	static const struct sigcase cases[] = {
		{ "v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AA==; "
		  "b=AA==",
		    0, NULL },
		{ "v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AA==; "
		  "b=AA==;",
		    0, NULL },
		{ " v = 1 ;\r\n a=ed25519-sha256; d=x; s=s; h=From : to; "
		  "bh=A; b=A; foo=bar",
		    0, NULL },
		{ "a=rsa-sha256; d=example.com; s=s; h=from; bh=A; b=A",
		    -EINVAL, "missing v=" },
		{ "v=2; a=rsa-sha256; d=example.com; s=s; h=from; bh=A; b=A",
		    -EINVAL, "unsupported v=" },
		{ "v=1; a=rsa-sha512; d=example.com; s=s; h=from; bh=A; b=A",
		    -EINVAL, "unknown algorithm" },
		{ "v=1; a=rsa-sha256; d=example.com; s=s; h=to; bh=A; b=A",
		    -EINVAL, "From not signed" },
		{ "v=1; a=rsa-sha256; d=a; d=b; s=s; h=from; bh=A; b=A",
		    -EINVAL, "duplicate tag" },
		{ "v=1; a=rsa-sha256; d=a; s=s; h=from; bh=A; b=A; c=x/y",
		    -EINVAL, "unknown canonicalization" },
		{ "v=1; a=rsa-sha256; d=a; s=s; h=from; bh=A; b=A; l=1x",
		    -EINVAL, "bad l=" },
		{ "v=1; a=rsa-sha256; d=a; s=s; h=from; bh=A; b=A; t=5; x=4",
		    -EINVAL, "x= before t=" },
		{ "v=1; a=rsa-sha256; d=a; s=s; h=from; bh=A; b=A; q=http",
		    -EINVAL, "no usable query method" },
		{ "v=1; a=rsa-sha256; d=a; s=s; h=from; bh=A", -EINVAL,
		    "missing required tag" },
		{ "v=1; 9a=x", -EINVAL, "bad tag name" },
		{ "v=1; a", -EINVAL, "tag without =" },
		{ "", -EINVAL, "missing v=" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dkim_sigtags t;
		const char *why;
		int rc =
		    dkim_sigtags_parse(bstr_cstr(cases[i].value), &t, &why);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d", i, rc);
		if (cases[i].why)
			assert_string_equal(why, cases[i].why);
	}
	/* Values: canonicalization defaults and c= variants. */
	struct dkim_sigtags t;
	const char *why;
	assert_int_equal(
	    dkim_sigtags_parse(
		bstr_cstr("v=1; a=rsa-sha256; "
			  "d=a; s=s; h=from; bh=A; b=A; c=relaxed; l=10"),
		&t, &why),
	    0);
	assert_true(t.hdr_relaxed);
	assert_false(t.body_relaxed);
	assert_true(t.has_l);
	assert_int_equal(t.l_val, 10);
}

static void
test_keytags(void **state)
{
	(void)state;
	struct dkim_keytags k;
	const char *why;

	assert_int_equal(dkim_keytags_parse(bstr_cstr("v=DKIM1; k=rsa; "
						      "t=y:s; p=AAAA"),
			     &k, &why),
	    0);
	assert_true(k.testing);
	assert_true(k.strict_i);
	assert_int_equal(dkim_keytags_parse(bstr_cstr("p="), &k, &why), 0);
	assert_int_equal(k.p.len, 0);
	assert_int_equal(
	    dkim_keytags_parse(bstr_cstr("k=rsa; v=DKIM1; p=A"), &k, &why),
	    -EINVAL);
	assert_string_equal(why, "bad key v=");
	assert_int_equal(
	    dkim_keytags_parse(bstr_cstr("v=DKIM1; k=rsa"), &k, &why), -EINVAL);
	assert_string_equal(why, "key without p=");
	assert_int_equal(
	    dkim_keytags_parse(bstr_cstr("v=DKIM1; p=A; p=B"), &k, &why),
	    -EINVAL);
}

/* Body canonicalization through l=, expiry, no signature at all. */
static void
test_misc(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	struct dkim_verify *v;
	struct authres_dns *d = authres_dns_new(a);
	static const char unsigned_msg[] = "From: a@b\r\n\r\nhi\r\n";
	static const char expired[] =
	    "DKIM-Signature: v=1; a=rsa-sha256; "
	    "d=b.example; s=s; h=from; bh=AA==; b=AA==; t=1; x=2\r\n"
	    "From: a@b.example\r\n\r\nhi\r\n";

	assert_int_equal(dkim_verify_new(a, (const unsigned char *)unsigned_msg,
			     sizeof(unsigned_msg) - 1, 100, &v),
	    0);
	assert_int_equal(dkim_verify_run(v, d), 0);
	assert_int_equal(dkim_sig_count(v), 0);
	/* Expired by more than the allowed clock drift (x=2, now=1000). */
	assert_int_equal(dkim_verify_new(a, (const unsigned char *)expired,
			     sizeof(expired) - 1, 1000, &v),
	    0);
	/* No DNS needed for an expired signature. */
	assert_int_equal(dkim_verify_run(v, d), 0);
	assert_int_equal(dkim_sig_at(v, 0)->result, DKIM_PERMERROR);
	assert_string_equal(dkim_sig_at(v, 0)->reason, "signature expired");
	/* Within the drift allowance (now = x + 100): not expired, so the
	 * verifier goes on to the key lookup (a DNS answer is missing). */
	assert_int_equal(dkim_verify_new(a, (const unsigned char *)expired,
			     sizeof(expired) - 1, 102, &v),
	    0);
	dkim_verify_run(v, d);
	assert_string_not_equal(dkim_sig_at(v, 0)->reason ?
		dkim_sig_at(v, 0)->reason : "", "signature expired");
	/* t= an hour in the future cannot be a signing time. */
	static const char future[] =
	    "DKIM-Signature: v=1; a=rsa-sha256; "
	    "d=b.example; s=s; h=from; bh=AA==; b=AA==; t=5000\r\n"
	    "From: a@b.example\r\n\r\nhi\r\n";
	assert_int_equal(dkim_verify_new(a, (const unsigned char *)future,
			     sizeof(future) - 1, 1400, &v),
	    0);
	assert_int_equal(dkim_verify_run(v, d), 0);
	assert_int_equal(dkim_sig_at(v, 0)->result, DKIM_PERMERROR);
	assert_string_equal(dkim_sig_at(v, 0)->reason,
	    "signature timestamp in the future");
	assert_string_equal(dkim_result_str(DKIM_TEMPERROR), "temperror");
	arena_free(a);
}

/* Conformance runner ---------------------------------------------------- */

static int tap_n, tap_fail;
/* With realdns set, keys come from knotd through plugins/dns. */
static struct realdns *realdns;
static bool needed_timeout;

static void
tap(bool ok, const char *fmt, ...)
{
	va_list ap;
	bool skip = !ok && realdns && needed_timeout;

	printf("%sok %d - ", ok || skip ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (skip)
		printf(" # SKIP needs a DNS timeout, which a zone file cannot "
		       "express (tested with the mock resolver)");
	printf("\n");
	if (!ok && !skip)
		tap_fail++;
	needed_timeout = false;
}

/* In real-DNS mode: start knotd for a set, or report why not. */
static bool
dns_for(const char *serve, const char *extra, const char *zonefile)
{
	if (realdns == NULL)
		return true;
	realdns_stop(realdns);
	if (realdns_start(realdns, serve, extra, zonefile) < 0) {
		tap(false, "knotd serving %s", zonefile);
		return false;
	}
	return true;
}

static const char *serve_path;

/* Overall result of a message: pass if any signature passes, else the
 * first signature's result, none without signatures. */
/* With realdns set, keys come from knotd through plugins/dns; the zone
 * table still runs first so a case that needs a timeout is known. */
static const char *overall1(struct zone *, const char *, char *, size_t, bool);

static const char *
overall(struct zone *z, const char *path, char *per, size_t persz)
{
	unsigned before = z->timeouts;

	if (realdns == NULL)
		return overall1(z, path, per, persz, false);
	overall1(z, path, per, persz, false);
	needed_timeout = z->timeouts != before;
	return overall1(z, path, per, persz, true);
}

static const char *
overall1(struct zone *z, const char *path, char *per, size_t persz, bool real)
{
	size_t len;
	unsigned char *m = zone_slurp(path, &len);
	struct arena *a;
	struct run r;
	const char *res = "none";

	if (m == NULL)
		return "unreadable";
	a = arena_new(0);
	per[0] = '\0';
	if (dkim_verify_new(a, m, len, time(NULL), &r.v) < 0)
		res = "error";
	else {
		r.dns = authres_dns_new(a);
		if (authres_dns_drive(r.dns, step, &r,
			real ? real_resolve : zone_resolve,
			real ? (void *)realdns : z, 8) < 0)
			res = "error";
		else {
			size_t n = dkim_sig_count(r.v);
			for (size_t i = 0; i < n; i++) {
				const struct dkim_sig *s = dkim_sig_at(r.v, i);
				if (i == 0 || s->result == DKIM_PASS)
					res = dkim_result_str(s->result);
				snprintf(per + strlen(per), persz - strlen(per),
				    "%s%s", i ? "," : "",
				    dkim_result_str(s->result));
				if (s->reason)
					snprintf(per + strlen(per),
					    persz - strlen(per), "(%s)",
					    s->reason);
			}
			if (n && strcmp(res, "pass") != 0) {
				for (size_t i = 0; i < n; i++)
					if (dkim_sig_at(r.v, i)->result ==
					    DKIM_PASS)
						res = "pass";
			}
		}
	}
	arena_free(a);
	free(m);
	return res;
}

/* Is got one of the |-separated words in want? */
static bool
one_of(const char *got, const char *want)
{
	size_t n = strlen(got);

	for (const char *p = want; p;) {
		if (strncmp(p, got, n) == 0 && (p[n] == '|' || p[n] == '\0'))
			return true;
		p = strchr(p, '|');
		if (p)
			p++;
	}
	return false;
}

/* Strip per-signature reasons: "pass(x),fail(y)" -> "pass,fail". */
static void
strip_reasons(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	int depth = 0;

	for (; *in && o + 1 < outsz; in++) {
		if (*in == '(')
			depth++;
		else if (*in == ')')
			depth--;
		else if (depth == 0)
			out[o++] = *in;
	}
	out[o] = '\0';
}

static void
run_generated(const char *dir)
{
	char path[1024], line[4096], per[512], bare[512];
	FILE *f;
	struct zone z;
	int pass = 0, total = 0;

	memset(&z, 0, sizeof(z));
	snprintf(path, sizeof(path), "%s/generated/keys.zone", dir);
	if (zone_load(&z, path) < 0) {
		tap(false, "generated: cannot load %s", path);
		return;
	}
	zone_servfail_below(&z, "servfail.example");
	zone_mark(&z, "rsa2048._domainkey.timeout.example", ZONE_ALL_TYPES,
	    AUTHRES_DNS_TIMEOUT);
	if (!dns_for(serve_path, "-S servfail.example", path)) {
		zone_free(&z);
		return;
	}
	snprintf(path, sizeof(path), "%s/generated/manifest.tsv", dir);
	if ((f = fopen(path, "r")) == NULL) {
		tap(false, "generated: no manifest");
		zone_free(&z);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *file, *want, *wantper, *save;
		if (line[0] == '#')
			continue;
		line[strcspn(line, "\n")] = '\0';
		file = strtok_r(line, "\t", &save);
		want = strtok_r(NULL, "\t", &save);
		wantper = strtok_r(NULL, "\t", &save);
		if (!file || !want || !wantper)
			continue;
		snprintf(path, sizeof(path), "%s/generated/%s", dir, file);
		const char *got = overall(&z, path, per, sizeof(per));
		strip_reasons(per, bare, sizeof(bare));
		bool ok = one_of(got, want) &&
		    (strcmp(wantper, "-") == 0 || strcmp(bare, wantper) == 0);
		tap(ok, "dkim generated %s: want %s got %s [%s]", file, want,
		    got, per);
		total++;
		pass += ok;
	}
	fclose(f);
	zone_free(&z);
	printf("# generated: %d of %d pass\n", pass, total);
}

static void
run_rfc8463(const char *dir)
{
	char path[1024], per[512];
	struct zone z;
	const char *files[] = { "rfc8463-signed.eml",
		"rfc8463-signed.crlf.eml" };

	memset(&z, 0, sizeof(z));
	snprintf(path, sizeof(path), "%s/rfc8463/keys.zone", dir);
	if (zone_load(&z, path) < 0) {
		tap(false, "rfc8463: cannot load %s", path);
		return;
	}
	if (!dns_for(serve_path, NULL, path)) {
		zone_free(&z);
		return;
	}
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/rfc8463/%s", dir, files[i]);
		const char *got = overall(&z, path, per, sizeof(per));
		tap(strcmp(per, "pass,pass") == 0, "dkim rfc8463 %s: %s [%s]",
		    files[i], got, per);
	}
	zone_free(&z);
}

static void
run_mail_dkim(const char *dir)
{
	char path[1024], line[8192], per[512];
	FILE *f;
	struct zone z;
	int pass = 0, total = 0;

	memset(&z, 0, sizeof(z));
	snprintf(path, sizeof(path), "%s/mail-dkim/FAKE_DNS.dat", dir);
	if ((f = fopen(path, "r")) == NULL) {
		tap(false, "mail-dkim: no FAKE_DNS.dat");
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *name = line, *data;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		data = name + strcspn(name, " \t");
		if (*data == '\0')
			continue;
		*data++ = '\0';
		data += strspn(data, " \t");
		if (strcmp(data, "NXDOMAIN") == 0)
			continue; /* absent from the zone is NXDOMAIN */
		if (strcmp(data, "~~Query timed out~~") == 0)
			zone_mark(
			    &z, name, ZONE_ALL_TYPES, AUTHRES_DNS_TIMEOUT);
		else if (strcmp(data, "~~SERVFAIL~~") == 0)
			zone_mark(
			    &z, name, ZONE_ALL_TYPES, AUTHRES_DNS_SERVFAIL);
		else
			zone_add_txt(&z, name, data, strlen(data));
	}
	fclose(f);
	snprintf(path, sizeof(path), "%s/mail-dkim/fake-dns.zone", dir);
	if (!dns_for(serve_path, "-S blackhole2.messiah.edu", path)) {
		zone_free(&z);
		return;
	}
	snprintf(path, sizeof(path), "%s/mail-dkim/expected.tsv", dir);
	if ((f = fopen(path, "r")) == NULL) {
		tap(false, "mail-dkim: no expected.tsv");
		zone_free(&z);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *cols[6] = { 0 }, *save, *p;
		int nc = 0;
		if (line[0] == '#')
			continue;
		line[strcspn(line, "\n")] = '\0';
		for (p = strtok_r(line, "\t", &save); p && nc < 6;
		     p = strtok_r(NULL, "\t", &save))
			cols[nc++] = p;
		if (nc < 4)
			continue;
		snprintf(
		    path, sizeof(path), "%s/mail-dkim/corpus/%s", dir, cols[0]);
		const char *got = overall(&z, path, per, sizeof(per));
		bool ok = one_of(got, cols[3]);
		tap(ok, "dkim mail-dkim %s: want %s got %s [%s]", cols[0],
		    cols[3], got, per);
		total++;
		pass += ok;
	}
	fclose(f);
	zone_free(&z);
	printf("# mail-dkim: %d of %d pass\n", pass, total);
}

int
main(int argc, char **argv)
{
	if ((argc == 3 && strcmp(argv[1], "--conformance") == 0) ||
	    (argc == 4 && strcmp(argv[1], "--conformance-dns") == 0)) {
		struct realdns d;
		if (argc == 4) {
			memset(&d, 0, sizeof(d));
			realdns = &d;
			serve_path = argv[3];
			printf("# keys from knotd through plugins/dns\n");
		}
		run_rfc8463(argv[2]);
		run_generated(argv[2]);
		run_mail_dkim(argv[2]);
		if (realdns)
			realdns_stop(realdns);
		printf("1..%d\n# %d failed\n", tap_n, tap_fail);
		return tap_fail ? 1 : 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8463_pass),
		cmocka_unit_test(test_rfc8463_lf),
		cmocka_unit_test(test_rfc8463_altered),
		cmocka_unit_test(test_b_refolded),
		cmocka_unit_test(test_sigtags),
		cmocka_unit_test(test_keytags),
		cmocka_unit_test(test_misc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
