/* arc_test - ARC chain validation (plugins/arc.c); with "--suite FILE"
 * (the ValiMail validation suite as JSON, made by
 * tests/e2e/arc_conformance.sh) it runs every test and prints TAP lines,
 * keys from each scenario's txt-records; "--suite-dns FILE SERVE ZONE"
 * asks knotd serving ZONE through plugins/dns instead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "plugins/arc.h"
#include "util/buf.h"
#include "plugins/authres.h"
#include "util/arena.h"
#include "tests/unit/auth_json.h"
#include "tests/unit/auth_realdns.h"
#include "tests/unit/auth_zone.h"

/* cv_pass_i2_1 of ValiMail arc_test_suite (../shared/conformance/arc),
 * Copyright 2017 ValiMail Inc., MIT licence: tests/fuzz/arc/LICENSE.ValiMail
 * (the fuzz seeds there are tests of the same suite). */
static const char pass_i2[] =
    "MIME-Version: 1.0\r\n"
    "ARC-Seal: a=rsa-sha256;\r\n"
    "    b=IAqZJ5HwfNxxsrn9R4ayQgiu9RibPKEUVevbt7XFTkSh1baJ533D2Z6IZ2NaBreUhDBb2e\r\n"
    "    K9Gtcv+eyUhWkD8VTmE6fq/F8CDIK3ScIiJykF8hNL1wpa/mGwWWwBnkozIJGAbTAAX7AgnH\r\n"
    "    knAehnSW99TeU0lmib0XmOt4TN3sY=; cv=pass; d=example.org; i=2; s=dummy;\r\n"
    "    t=12346\r\n"
    "ARC-Message-Signature: a=rsa-sha256;\r\n"
    "    b=2cDGNznUmp4YSSThCe9nrQIH2Gpd5qPFw3OU8sWFzZgEQ5UZtaVQifVUXUrsSyEzjro3Ul\r\n"
    "    YPPDx+C1K+LbKRlOZ06il4ws2zlPafsrx1piKsKSCUq0KjFs01hYCDBa3tfdyITSfoWu2HHY\r\n"
    "    pCjrhPMPH1jruIdBV/5Gk2Fvy+mW8=;\r\n"
    "    bh=KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYLQ=; c=relaxed/relaxed;\r\n"
    "    d=example.org; h=from:to:date:subject:mime-version:arc-authentication-results;\r\n"
    "    i=2; s=dummy; t=12346\r\n"
    "ARC-Authentication-Results: i=2; lists.example.org;\r\n"
    "    spf=pass smtp.mfrom=jqd@d1.example;\r\n"
    "    dkim=pass (1024-bit key) header.i=@d1.example;\r\n"
    "    dmarc=pass\r\n"
    "Received: by 10.157.11.240 with SMTP id 103csp420860oth;\r\n"
    "    Fri, 6 Jan 2017 14:27:31 -0800 (PST)\r\n"
    "ARC-Seal: a=rsa-sha256;\r\n"
    "    b=dOdFEyhrk/tw5wl3vMIogoxhaVsKJkrkEhnAcq2XqOLSQhPpGzhGBJzR7k1sWGokon3TmQ\r\n"
    "    7TX9zQLO6ikRpwd/pUswiRW5DBupy58fefuclXJAhErsrebfvfiueGyhHXV7C1LyJTztywzn\r\n"
    "    QGG4SCciU/FTlsJ0QANrnLRoadfps=; cv=none; d=example.org; i=1; s=dummy;\r\n"
    "    t=12345\r\n"
    "ARC-Message-Signature: a=rsa-sha256;\r\n"
    "    b=QsRzR/UqwRfVLBc1TnoQomlVw5qi6jp08q8lHpBSl4RehWyHQtY3uOIAGdghDk/mO+/Xpm\r\n"
    "    9JA5UVrPyDV0f+2q/YAHuwvP11iCkBQkocmFvgTSxN8H+DwFFPrVVUudQYZV7UDDycXoM6UE\r\n"
    "    cdfzLLzVNPOAHEDIi/uzoV4sUqZ18=;\r\n"
    "    bh=KWSe46TZKCcDbH4klJPo+tjk5LWJnVRlP5pvjXFZYLQ=; c=relaxed/relaxed;\r\n"
    "    d=example.org; h=from:to:date:subject:mime-version:arc-authentication-results;\r\n"
    "    i=1; s=dummy; t=12345\r\n"
    "ARC-Authentication-Results: i=1; lists.example.org;\r\n"
    "    spf=pass smtp.mfrom=jqd@d1.example;\r\n"
    "    dkim=pass (1024-bit key) header.i=@d1.example;\r\n"
    "    dmarc=pass\r\n"
    "Received: from segv.d1.example (segv.d1.example [72.52.75.15])\r\n"
    "    by lists.example.org (8.14.5/8.14.5) with ESMTP id t0EKaNU9010123\r\n"
    "    for <arc@example.org>; Thu, 14 Jan 2015 15:01:30 -0800 (PST)\r\n"
    "    (envelope-from jqd@d1.example)\r\n"
    "Authentication-Results: lists.example.org;\r\n"
    "    spf=pass smtp.mfrom=jqd@d1.example;\r\n"
    "    dkim=pass (1024-bit key) header.i=@d1.example;\r\n"
    "    dmarc=pass\r\n"
    "Received: by 10.157.14.6 with HTTP; Tue, 3 Jan 2017 12:22:54 -0800 (PST)\r\n"
    "Message-ID: <54B84785.1060301@d1.example.org>\r\n"
    "Date: Thu, 14 Jan 2015 15:00:01 -0800\r\n"
    "From: John Q Doe <jqd@d1.example.org>\r\n"
    "To: arc@dmarc.org\r\n"
    "Subject: Example 1\r\n"
    "\r\n"
    "Hey gang,\r\n"
    "This is a test message.\r\n"
    "--J.\r\n";
static const char dummy_key[] =
    "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHl"
    "OQoBTzWRiGs5V6NpP3id Y6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lx j+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

struct run {
	struct arc_verify *v;
	struct authres_dns *dns;
};

static int
step(void *arg)
{
	struct run *r = arg;

	return arc_verify_run(r->v, r->dns);
}

/* Validate msg[0..len) with keys from fn/farg; the result, in arena a. */
static const struct arc_out *
validate(const void *msg, size_t len, authres_resolve_fn *fn, void *farg,
    struct arena *a)
{
	struct run r;

	if (arc_verify_new(a, msg, len, &r.v) < 0)
		return NULL;
	if ((r.dns = authres_dns_new(a)) == NULL ||
	    authres_dns_drive(r.dns, step, &r, fn, farg, 8) < 0)
		return NULL;
	return arc_verify_out(r.v);
}

static void
dummy_zone(struct zone *z)
{
	memset(z, 0, sizeof(*z));
	zone_add_txt(
	    z, "dummy._domainkey.example.org", dummy_key, strlen(dummy_key));
}

/* A copy of pass_i2 with the first "from" replaced by "with". */
static char *
edited(const char *from, const char *with)
{
	const char *at = strstr(pass_i2, from);
	size_t n = strlen(pass_i2) + strlen(with) + 1;
	char *o = malloc(n);

	assert_non_null(at);
	snprintf(o, n, "%.*s%s%s", (int)(at - pass_i2), pass_i2, with,
	    at + strlen(from));
	return o;
}

static const struct arc_out *
check(const char *msg, struct zone *z, struct arena *a)
{
	const struct arc_out *o =
	    validate(msg, strlen(msg), zone_resolve, z, a);

	assert_non_null(o);
	return o;
}

static void
test_none(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	struct zone z;
	const char *m = "From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n";

	dummy_zone(&z);
	const struct arc_out *o = check(m, &z, a);
	assert_int_equal(o->result, ARC_RES_NONE);
	assert_int_equal(o->sets, 0);
	assert_null(o->sealer);
	assert_int_equal(z.queries, 0); /* no ARC: no lookup */
	o = check("", &z, a);
	assert_int_equal(o->result, ARC_RES_NONE);
	zone_free(&z);
	arena_free(a);
}

static void
test_pass(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	struct zone z;

	dummy_zone(&z);
	const struct arc_out *o = check(pass_i2, &z, a);
	assert_int_equal(o->result, ARC_RES_PASS);
	assert_null(o->reason);
	assert_int_equal(o->sets, 2);
	assert_string_equal(o->sealer, "example.org");
	assert_string_equal(arc_result_str(o->result), "pass");
	assert_true(o->aar_dmarc_pass);

	/* The same message with bare LF line ends (a local mailbox). */
	size_t n = strlen(pass_i2), k = 0;
	char *lf = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		if (pass_i2[i] != '\r')
			lf[k++] = pass_i2[i];
	lf[k] = '\0';
	assert_int_equal(check(lf, &z, a)->result, ARC_RES_PASS);
	free(lf);
	zone_free(&z);
	arena_free(a);
}

/* Edits of pass_i2 that break the chain, and what the reason names. */
static void
test_broken(void **state)
{
	(void)state;
	static const struct {
		const char *from, *to, *why;
	} cases[] = {
		/* Body changed after the last hop: AMS i=2 fails. */
		{ "This is a test", "This is a fest",
		    "ARC-Message-Signature i=2: body hash" },
		/* The first hop's seal changed: no AMS signs a seal, seal
		 * i=2 covers it. */
		{ "i=1; s=dummy;\r\n    t=12345",
		    "i=1; s=dummy;\r\n    t=12344",
		    "ARC-Seal i=2 did not verify" },
		/* Step 2: the newest seal says cv=fail. */
		{ "cv=pass", "cv=fail", "cv=fail" },
		/* Step 3: a gap (i=2 renumbered 3), a duplicate instance. */
		{ "i=2; lists", "i=3; lists",
		    "ARC set i=2 has no ARC-Authentication-Results" },
		{ "i=2; s=dummy;\r\n    t=12346",
		    "i=1; s=dummy;\r\n    t=12346", "two ARC-Seal with i=1" },
		/* 4.2.1: instance numbers stop at 50. */
		{ "i=2; lists", "i=51; lists", "more than 50" },
		/* h= in a seal; an AMS that signs ARC-Seal. */
		{ "cv=pass;", "cv=pass; h=from;", "h= in an ARC-Seal" },
		{ "h=from:to:date:subject:mime-version:arc-authentication-"
		  "results;\r\n    i=2",
		    "h=from:arc-seal;\r\n    i=2", "h= signs ARC-Seal" },
	};
	struct arena *a = arena_new(0);
	struct zone z;

	dummy_zone(&z);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *m = edited(cases[i].from, cases[i].to);
		const struct arc_out *o = check(m, &z, a);
		assert_int_equal(o->result, ARC_RES_FAIL);
		assert_non_null(o->reason);
		if (strstr(o->reason, cases[i].why) == NULL)
			fail_msg("case %zu: reason '%s', want '%s'", i,
			    o->reason, cases[i].why);
		free(m);
	}
	zone_free(&z);
	arena_free(a);
}

/* What the newest AAR says of DMARC: results only, not comments. */
static void
test_aar_dmarc(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	struct zone z;
	static const char *const cases[][2] = {
		{ "    dmarc=fail\r\nReceived: by 10.157.11", "n" },
		{ "    dmarc = pass (p=none)\r\nReceived: by 10.157.11", "y" },
		{ "    x=1 (dmarc=pass)\r\nReceived: by 10.157.11", "n" },
		{ "    x=\"dmarc=pass\" a; dmarc=passed\r\nReceived: by "
		  "10.157.11",
		    "n" },
		{ "    (; dmarc=pass;) dmarc=none\r\nReceived: by 10.157.11",
		    "n" },
		{ "    spf=pass; DMARC=Pass\r\nReceived: by 10.157.11", "y" },
	};

	dummy_zone(&z);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* The edit breaks the seal; only the flag is looked at. */
		char *m = edited(
		    "    dmarc=pass\r\nReceived: by 10.157.11", cases[i][0]);
		const struct arc_out *o =
		    validate(m, strlen(m), zone_resolve, &z, a);
		assert_non_null(o);
		assert_int_equal(o->aar_dmarc_pass, cases[i][1][0] == 'y');
		free(m);
	}
	zone_free(&z);
	arena_free(a);
}

static void
test_keys(void **state)
{
	(void)state;
	struct arena *a = arena_new(0);
	struct zone z;
	const struct arc_out *o;

	/* No key record: the chain fails. */
	memset(&z, 0, sizeof(z));
	o = check(pass_i2, &z, a);
	assert_int_equal(o->result, ARC_RES_FAIL);
	assert_non_null(strstr(o->reason, "no key"));
	zone_free(&z);
	/* A DNS failure judges nothing: temperror. */
	memset(&z, 0, sizeof(z));
	zone_servfail_below(&z, "example.org");
	o = check(pass_i2, &z, a);
	assert_int_equal(o->result, ARC_RES_TEMPERROR);
	assert_string_equal(arc_result_str(o->result), "temperror");
	zone_free(&z);
	/* One lookup for the AMS and both seals (same key name). */
	dummy_zone(&z);
	o = check(pass_i2, &z, a);
	assert_int_equal(o->result, ARC_RES_PASS);
	assert_int_equal(z.queries, 1);
	zone_free(&z);
	arena_free(a);
}

/* Sealing: a fresh RSA key, the message sealed, our validator on it. */
static void
test_seal(void **state)
{
	(void)state;
	EVP_PKEY *key = EVP_RSA_gen(1024);
	unsigned char *der = NULL;
	int dlen = i2d_PUBKEY(key, &der);
	char rec[1024] = "v=DKIM1; k=rsa; p=";
	struct arena *a = arena_new(0);
	struct zone z;
	struct buf out, m2, out2;
	const char *why;
	const struct arc_out *o;
	static const char msg[] =
	    "Authentication-Results: mx.example.net; spf=pass "
	    "smtp.mailfrom=a@example.org;\r\n\tdkim=pass (c; d) "
	    "header.d=example.org; arc=none; dmarc=pass\r\n"
	    "Authentication-Results: other.example; dmarc=fail\r\n"
	    "From: a@example.org\r\nTo: list@lists.example.net\r\n"
	    "Subject: hello\r\n\r\nbody\r\n";
	struct arc_seal_req rq = { .msg = (const unsigned char *)msg,
		.len = sizeof(msg) - 1,
		.srv_id = "mx.example.net",
		.domain = "lists.example.net",
		.selector = "s1",
		.key = key,
		.t = 1700000000 };

	assert_true(dlen > 0);
	EVP_EncodeBlock((unsigned char *)rec + strlen(rec), der, dlen);
	OPENSSL_free(der);
	memset(&z, 0, sizeof(z));
	zone_add_txt(&z, "s1._domainkey.lists.example.net", rec, strlen(rec));
	buf_init(&out, 1 << 20);
	buf_init(&m2, 1 << 20);
	buf_init(&out2, 1 << 20);
	assert_int_equal(arc_seal(&rq, &out, &why), 1);
	assert_int_equal(buf_cstr(&out), 0);
	/* unfolded: our A-R's results (the comment's ";" kept), not the
	 * other one's */
	{
		char *u = strdup((const char *)out.p), *w = u;
		for (const char *r = u; *r; r++) {
			if (r[0] == '\r' && r[1] == '\n' && r[2] == ' ') {
				r += 1; /* "\r\n " -> " " */
				continue;
			}
			*w++ = *r;
		}
		*w = '\0';
		assert_non_null(strstr(u,
		    "ARC-Authentication-Results: i=1; mx.example.net; "
		    "spf=pass smtp.mailfrom=a@example.org; dkim=pass (c; d) "
		    "header.d=example.org; arc=none; dmarc=pass\r\n"));
		free(u);
	}
	assert_non_null(strstr((const char *)out.p, "cv=none;"));
	out.len = strlen((const char *)out.p);
	assert_int_equal(buf_append(&out, msg, sizeof(msg) - 1), 0);
	o = validate(out.p, out.len, zone_resolve, &z, a);
	assert_non_null(o);
	assert_int_equal(o->result, ARC_RES_PASS);
	assert_string_equal(o->sealer, "lists.example.net");
	assert_true(o->aar_dmarc_pass);

	/* Back in and sent on again: our old A-R replaced by one that
	 * says arc=pass (as the inbound scan does), sealed as i=2. */
	const char *rest = strstr(msg, "Authentication-Results: other");
	assert_int_equal(
	    buf_printf(&m2,
		"Authentication-Results: mx.example.net; "
		"arc=pass; dmarc=fail\r\n%.*s%s",
		(int)(out.len - (sizeof(msg) - 1)), (const char *)out.p, rest),
	    0);
	rq.msg = m2.p;
	rq.len = m2.len;
	assert_int_equal(arc_seal(&rq, &out2, &why), 1);
	assert_int_equal(buf_cstr(&out2), 0);
	assert_non_null(strstr((const char *)out2.p, "cv=pass;"));
	out2.len = strlen((const char *)out2.p);
	assert_int_equal(buf_append(&out2, m2.p, m2.len), 0);
	o = validate(out2.p, out2.len, zone_resolve, &z, a);
	assert_non_null(o);
	assert_int_equal(o->result, ARC_RES_PASS);
	assert_int_equal(o->sets, 2);
	assert_false(o->aar_dmarc_pass); /* the second hop saw dmarc=fail */

	/* Nothing to seal: no A-R of ours; arc=pass with no ARC sets. */
	rq.srv_id = "elsewhere.example";
	rq.msg = (const unsigned char *)msg;
	rq.len = sizeof(msg) - 1;
	buf_reset(&out2);
	assert_int_equal(arc_seal(&rq, &out2, &why), 0);
	assert_string_equal(why, "no Authentication-Results of ours");
	assert_int_equal(out2.len, 0);
	rq.srv_id = "other.example";
	static const char lie[] =
	    "Authentication-Results: other.example; "
	    "arc=pass\r\nFrom: a@example.org\r\n\r\nx\r\n";
	rq.msg = (const unsigned char *)lie;
	rq.len = sizeof(lie) - 1;
	assert_int_equal(arc_seal(&rq, &out2, &why), 0);
	assert_string_equal(why, "arc= result without ARC sets");
	/* a chain not judged (DNS failed on the way in) is not sealed */
	buf_reset(&m2);
	assert_int_equal(buf_printf(&m2,
			     "Authentication-Results: other.example; "
			     "arc=temperror\r\n%.*s",
			     (int)out.len, (const char *)out.p),
	    0);
	rq.msg = m2.p;
	rq.len = m2.len;
	assert_int_equal(arc_seal(&rq, &out2, &why), 0);
	assert_string_equal(why, "our arc= result is temperror");
	buf_free(&m2);
	buf_free(&out2);
	buf_free(&out);
	zone_free(&z);
	arena_free(a);
	EVP_PKEY_free(key);
}

/* Conformance runner ---------------------------------------------------- */

static int tap_n, tap_fail;

static void
tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		tap_fail++;
}

/* The suite as JSON: [{"name", "scenario", "message", "cv",
 * "keys": {name: record}}]. An empty cv (three tests whose chain already
 * carries cv=fail) counts as Fail, as the suite's README says. */
static int
run_suite(const char *path, struct realdns *real)
{
	size_t len;
	unsigned char *text = zone_slurp(path, &len);
	struct arena *ja = arena_new(0);
	struct json *suite;
	int counts[4] = { 0 };

	if (text == NULL ||
	    (suite = json_parse(ja, (const char *)text, len)) == NULL ||
	    suite->type != JSON_ARR) {
		tap(false, "arc suite: cannot read %s", path);
		free(text);
		arena_free(ja);
		return 1;
	}
	for (size_t t = 0; t < suite->n; t++) {
		const struct json *c = suite->v[t], *keys = json_get(c, "keys");
		const char *name = json_sget(c, "name"),
			   *msg = json_sget(c, "message"),
			   *want = json_sget(c, "cv");
		struct arena *a = arena_new(0);
		struct zone z;
		const struct arc_out *o;

		if (name == NULL || msg == NULL || want == NULL) {
			tap(false, "arc suite entry %zu malformed", t);
			arena_free(a);
			continue;
		}
		if (*want == '\0')
			want = "fail";
		memset(&z, 0, sizeof(z));
		for (size_t k = 0; keys && k < keys->n; k++)
			if (keys->v[k]->type == JSON_STR)
				zone_add_txt(&z, keys->k[k], keys->v[k]->s,
				    keys->v[k]->slen);
		size_t mlen = json_get(c, "message")->slen;
		o = real ? validate(msg, mlen, real_resolve, real, a)
			 : validate(msg, mlen, zone_resolve, &z, a);
		const char *got = o ? arc_result_str(o->result) : "error";
		bool ok = strcasecmp(got, want) == 0;
		counts[o ? o->result : 3]++;
		tap(ok, "%s/%s: cv %s (want %s)%s%s", json_sget(c, "scenario"),
		    name, got, want, o && o->reason ? ": " : "",
		    o && o->reason ? o->reason : "");
		zone_free(&z);
		arena_free(a);
	}
	printf("# results: %d none, %d pass, %d fail, %d other\n", counts[0],
	    counts[1], counts[2], counts[3]);
	free(text);
	arena_free(ja);
	return 0;
}

/* What arc_seal() wrote for one field, all whitespace removed (the
 * suite's expected values are YAML-folded); "" when it is not there. */
static void
field_of(const struct buf *o, const char *name, char *dst, size_t dstsz)
{
	size_t nl = strlen(name), n = 0;
	const char *p = (const char *)o->p, *end = p + o->len;

	dst[0] = '\0';
	while (p < end) {
		const char *e = p;
		while (e < end &&
		    !(e[0] == '\n' &&
			(e + 1 == end || (e[1] != ' ' && e[1] != '\t'))))
			e++;
		if ((size_t)(e - p) > nl + 1 && strncasecmp(p, name, nl) == 0 &&
		    p[nl] == ':') {
			for (const char *c = p + nl + 1; c < e && n + 1 < dstsz;
			     c++)
				if (!strchr(" \t\r\n", *c))
					dst[n++] = *c;
			dst[n] = '\0';
			return;
		}
		p = e + 1;
	}
}

static void
squeeze(const char *in, char *dst, size_t dstsz)
{
	size_t n = 0;

	for (; in && *in && n + 1 < dstsz; in++)
		if (!strchr(" \t\r\n", *in))
			dst[n++] = *in;
	dst[n] = '\0';
}

/* The signing suite as JSON: [{"name", "scenario", "message", "t",
 * "headers" (the h= list), "srv_id", "domain", "sel", "key" (PEM),
 * "AS", "AMS", "AAR"}]; every field must come out as expected (whitespace
 * aside), and an empty expectation means no seal. Each new set must also
 * pass our own validator, with the scenario's key. */
static int
run_sign_suite(const char *path)
{
	size_t len;
	unsigned char *text = zone_slurp(path, &len);
	struct arena *ja = arena_new(0);
	struct json *suite;

	if (text == NULL ||
	    (suite = json_parse(ja, (const char *)text, len)) == NULL ||
	    suite->type != JSON_ARR) {
		tap(false, "arc sign suite: cannot read %s", path);
		free(text);
		arena_free(ja);
		return 1;
	}
	for (size_t t = 0; t < suite->n; t++) {
		const struct json *c = suite->v[t];
		const char *name = json_sget(c, "name"),
			   *msg = json_sget(c, "message"),
			   *hl = json_sget(c, "headers"),
			   *pem = json_sget(c, "key"),
			   *pub = json_sget(c, "pub");
		const struct json *tj = json_get(c, "t");
		static const char *const which[] = { "ARC-Seal", "AS",
			"ARC-Message-Signature", "AMS",
			"ARC-Authentication-Results", "AAR" };
		char got[8192], want[8192], hbuf[1024], *hv[32];
		size_t nh = 0;
		struct buf out;
		const char *why = NULL;
		bool ok = true;

		if (!name || !msg || !hl || !pem || !pub || !tj) {
			tap(false, "arc sign suite entry %zu malformed", t);
			continue;
		}
		snprintf(hbuf, sizeof(hbuf), "%s", hl);
		for (char *sv, *h = strtok_r(hbuf, ":", &sv); h && nh < 32;
		     h = strtok_r(NULL, ":", &sv))
			hv[nh++] = h;
		BIO *bio = BIO_new_mem_buf(pem, -1);
		EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
		struct arc_seal_req rq = { .msg = (const unsigned char *)msg,
			.len = json_get(c, "message")->slen,
			.srv_id = json_sget(c, "srv_id"),
			.domain = json_sget(c, "domain"),
			.selector = json_sget(c, "sel"),
			.key = key,
			.t = (long long)tj->num,
			.headers = (const char *const *)hv,
			.nheaders = nh };
		buf_init(&out, 1 << 20);
		int rc = key ? arc_seal(&rq, &out, &why) : -EINVAL;
		for (size_t w = 0; w < 6; w += 2) {
			field_of(&out, which[w], got, sizeof(got));
			squeeze(json_sget(c, which[w + 1]), want, sizeof(want));
			if (strcmp(got, want) != 0) {
				ok = false;
				printf("# %s %s\n#  got  %s\n#  want %s\n",
				    name, which[w], got, want);
			}
		}
		/* Our validator on the sealed message. */
		const char *verdict = "not sealed";
		if (rc == 1) {
			struct arena *a = arena_new(0);
			struct zone z;
			size_t ml = out.len + rq.len;
			char *sealed = malloc(ml);
			memcpy(sealed, out.p, out.len);
			memcpy(sealed + out.len, msg, rq.len);
			memset(&z, 0, sizeof(z));
			char kn[300];
			snprintf(kn, sizeof(kn), "%s._domainkey.%s",
			    rq.selector, rq.domain);
			zone_add_txt(&z, kn, pub, strlen(pub));
			const struct arc_out *o =
			    validate(sealed, ml, zone_resolve, &z, a);
			/* a chain sealed as failed stays failed */
			verdict = o ? arc_result_str(o->result) : "error";
			zone_free(&z);
			free(sealed);
			arena_free(a);
		}
		tap(ok && rc >= 0, "%s/%s: %s%s%s; our validator: %s",
		    json_sget(c, "scenario"), name,
		    rc == 1 ? "sealed" : "not sealed", why ? ": " : "",
		    why ? why : "", verdict);
		buf_free(&out);
		EVP_PKEY_free(key);
	}
	free(text);
	arena_free(ja);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--sign-suite") == 0) {
		run_sign_suite(argv[2]);
		printf("1..%d\n# %d failed\n", tap_n, tap_fail);
		return tap_fail ? 1 : 0;
	}
	if (argc == 3 && strcmp(argv[1], "--suite") == 0) {
		run_suite(argv[2], NULL);
		printf("1..%d\n# %d failed\n", tap_n, tap_fail);
		return tap_fail ? 1 : 0;
	}
	if (argc == 5 && strcmp(argv[1], "--suite-dns") == 0) {
		struct realdns d;
		memset(&d, 0, sizeof(d));
		printf("# keys from knotd through plugins/dns\n");
		if (realdns_start(&d, argv[3], NULL, argv[4]) < 0)
			tap(false, "knotd serving %s", argv[4]);
		else {
			run_suite(argv[2], &d);
			realdns_stop(&d);
		}
		printf("1..%d\n# %d failed\n", tap_n, tap_fail);
		return tap_fail ? 1 : 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_pass),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_aar_dmarc),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_seal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
