/*
 * tests/unit/dkim_sign_test.c - plugins/dkim_sign.c: keys made here, messages
 * signed and then verified by plugins/dkim.c with the key records put in
 * its DNS answer set; alterations after signing must fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugins/authres.h"
#include "plugins/dkim.h"
#include "plugins/dkim_sign.h"
#include "util/arena.h"

static char dir[] = "/tmp/dkim_sign_testXXXXXX";
static char rsa_pub[1024], ed_pub[128], rsa_path[256], ed_path[256];

static void
write_key(enum dkim_keytype t, unsigned bits, const char *path, char *pub,
    size_t pubsz)
{
	struct buf pem, p;
	FILE *f;

	buf_init(&pem, 1 << 20);
	buf_init(&p, 1 << 20);
	assert_int_equal(dkim_keygen(t, bits, &pem, &p), 0);
	assert_true(p.len < pubsz);
	memcpy(pub, p.p, p.len + 1);
	assert_non_null(f = fopen(path, "w"));
	fwrite(pem.p, 1, pem.len, f);
	fclose(f);
	buf_free(&pem);
	buf_free(&p);
}

static int
setup(void **st)
{
	(void)st;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(rsa_path, sizeof(rsa_path), "%s/rsa.key", dir);
	snprintf(ed_path, sizeof(ed_path), "%s/ed.key", dir);
	write_key(DKIM_KEY_RSA, 1024, rsa_path, rsa_pub, sizeof(rsa_pub));
	write_key(DKIM_KEY_ED25519, 0, ed_path, ed_pub, sizeof(ed_pub));
	return 0;
}

static int
teardown(void **st)
{
	(void)st;
	unlink(rsa_path);
	unlink(ed_path);
	rmdir(dir);
	return 0;
}

static const char msg[] =
    "Received: from x by y; Thu, 26 Nov 2026 10:00:00 +0000\r\n"
    "From: Alice <alice@Mail.Example.ORG>\r\n"
    "To: bob@example.net,\r\n\tcarol@example.net\r\n"
    "Subject:   hello   there\r\n"
    "Date: Thu, 26 Nov 2026 10:00:01 +0000\r\n"
    "Message-ID: <1@example.org>\r\n"
    "\r\n"
    "Hi Bob,  \r\n\tindented\r\n\r\n\r\n";

struct res {
	enum dkim_result r[4];
	const char *s[4];
	size_t n;
};

/* verify signed (sig fields + m) with the records for sel "rsa", "ed" */
static void
verify(const unsigned char *m, size_t len, const char *rsarec,
    const char *edrec, struct res *out)
{
	struct arena *a = arena_new(0);
	struct authres_dns *d = authres_dns_new(a);
	struct dkim_verify *v;
	struct authres_rr rr[1];

	memset(out, 0, sizeof(*out));
	memset(rr, 0, sizeof(rr));
	rr[0].txt = bstr_cstr(rsarec);
	authres_dns_put(d, "rsa._domainkey.example.org", AUTHRES_TXT,
	    AUTHRES_DNS_OK, rr, 1);
	rr[0].txt = bstr_cstr(edrec);
	authres_dns_put(
	    d, "ed._domainkey.example.org", AUTHRES_TXT, AUTHRES_DNS_OK, rr, 1);
	assert_int_equal(dkim_verify_new(a, m, len, time(NULL), &v), 0);
	assert_int_equal(dkim_verify_run(v, d), 0);
	out->n = dkim_sig_count(v);
	for (size_t i = 0; i < out->n && i < 4; i++) {
		out->r[i] = dkim_sig_at(v, i)->result;
		out->s[i] = dkim_sig_at(v, i)->reason;
		if (out->r[i] != DKIM_PASS)
			printf("# sig %zu: %s (%s)\n", i,
			    dkim_result_str(out->r[i]),
			    out->s[i] ? out->s[i] : "");
	}
	arena_free(a);
}

static struct buf
sign(const char *m, size_t len, size_t want_sigs)
{
	struct dkim_keyset *ks = dkim_keyset_new();
	char err[512];
	struct dkim_sign_opts o = { .now = time(NULL), .expire_secs = 3600 };
	struct buf out;
	size_t n;

	assert_non_null(ks);
	char spec[700];
	snprintf(spec, sizeof(spec), "example.org rsa %s, example.org ed %s",
	    rsa_path, ed_path);
	assert_int_equal(dkim_keyset_load(ks, spec, err, sizeof(err)), 0);
	assert_int_equal(dkim_keyset_count(ks), 2);
	buf_init(&out, 1 << 24);
	assert_int_equal(
	    dkim_keyset_sign(ks, (const unsigned char *)m, len, &o, &out, &n),
	    0);
	assert_int_equal(n, want_sigs);
	assert_int_equal(buf_append(&out, m, len), 0);
	dkim_keyset_free(ks);
	return out;
}

static void
records(char *r, size_t rs, char *e, size_t es)
{
	struct buf b;

	buf_init(&b, 4096);
	dkim_txt_record(DKIM_KEY_RSA, rsa_pub, false, &b);
	snprintf(r, rs, "%.*s", (int)b.len, b.p);
	buf_reset(&b);
	dkim_txt_record(DKIM_KEY_ED25519, ed_pub, false, &b);
	snprintf(e, es, "%.*s", (int)b.len, b.p);
	buf_free(&b);
}

static void
test_dual_sign_verifies(void **st)
{
	char rr[1200], er[200];
	struct res res;
	(void)st;

	records(rr, sizeof(rr), er, sizeof(er));
	struct buf s = sign(msg, sizeof(msg) - 1, 2);
	assert_non_null(memmem(s.p, s.len, "a=rsa-sha256", 12));
	assert_non_null(memmem(s.p, s.len, "a=ed25519-sha256", 16));
	assert_non_null(memmem(s.p, s.len, "c=relaxed/relaxed", 17));
	/* over-signed: one more from/to/subject/date than present */
	assert_non_null(memmem(s.p, s.len, "from:from", 9));
	verify(s.p, s.len, rr, er, &res);
	assert_int_equal(res.n, 2);
	assert_int_equal(res.r[0], DKIM_PASS);
	assert_int_equal(res.r[1], DKIM_PASS);
	buf_free(&s);
}

static void
test_lf_message(void **st)
{
	char rr[1200], er[200], lf[sizeof(msg)];
	size_t n = 0;
	struct res res;
	(void)st;

	for (size_t i = 0; i < sizeof(msg) - 1; i++)
		if (msg[i] != '\r')
			lf[n++] = msg[i];
	records(rr, sizeof(rr), er, sizeof(er));
	struct buf s = sign(lf, n, 2);
	verify(s.p, s.len, rr, er, &res);
	assert_int_equal(res.r[0], DKIM_PASS);
	assert_int_equal(res.r[1], DKIM_PASS);
	buf_free(&s);
}

/* alter - replace the first occurrence of from by to (same length) */
static void
alter(struct buf *b, const char *from, const char *to)
{
	unsigned char *p = memmem(b->p, b->len, from, strlen(from));

	assert_non_null(p);
	memcpy(p, to, strlen(to));
}

static void
test_alterations_fail(void **st)
{
	char rr[1200], er[200];
	struct res res;
	(void)st;

	records(rr, sizeof(rr), er, sizeof(er));
	/* body */
	struct buf s = sign(msg, sizeof(msg) - 1, 2);
	alter(&s, "Hi Bob", "Hi Bo!");
	verify(s.p, s.len, rr, er, &res);
	assert_int_equal(res.r[0], DKIM_FAIL);
	assert_int_equal(res.r[1], DKIM_FAIL);
	buf_free(&s);
	/* signed header */
	s = sign(msg, sizeof(msg) - 1, 2);
	alter(&s, "hello", "HELLO");
	verify(s.p, s.len, rr, er, &res);
	assert_int_equal(res.r[0], DKIM_FAIL);
	buf_free(&s);
	/* relaxed: whitespace changes in a header still verify */
	s = sign(msg, sizeof(msg) - 1, 2);
	alter(&s, "Subject:   hello", "Subject: \t hello");
	verify(s.p, s.len, rr, er, &res);
	assert_int_equal(res.r[0], DKIM_PASS);
	buf_free(&s);
	/* over-signing: a second Subject added on top breaks it */
	s = sign(msg, sizeof(msg) - 1, 2);
	struct buf t;
	buf_init(&t, 1 << 24);
	buf_puts(&t, "Subject: injected\r\n");
	buf_append(&t, s.p, s.len);
	verify(t.p, t.len, rr, er, &res);
	assert_int_equal(res.r[0], DKIM_FAIL);
	assert_int_equal(res.r[1], DKIM_FAIL);
	buf_free(&t);
	/* an unsigned header added: still passes */
	buf_reset(&t);
	buf_puts(&t, "X-Added: later\r\n");
	buf_append(&t, s.p, s.len);
	verify(t.p, t.len, rr, er, &res);
	assert_int_equal(res.r[0], DKIM_PASS);
	assert_int_equal(res.r[1], DKIM_PASS);
	buf_free(&t);
	buf_free(&s);
}

static void
test_key_choice(void **st)
{
	struct dkim_keyset *ks = dkim_keyset_new();
	char err[512], spec[600], dom[64];
	struct buf out;
	size_t n;
	static const char other[] = "From: x@example.com\r\n\r\nhi\r\n";
	static const char none[] = "To: x@example.org\r\n\r\nhi\r\n";
	(void)st;

	snprintf(spec, sizeof(spec), "example.org rsa %s", rsa_path);
	assert_int_equal(dkim_keyset_load(ks, spec, err, sizeof(err)), 0);
	buf_init(&out, 1 << 20);
	assert_int_equal(dkim_keyset_sign(ks, (const unsigned char *)other,
			     sizeof(other) - 1, NULL, &out, &n),
	    0);
	assert_int_equal(n, 0);
	assert_int_equal(dkim_keyset_sign(ks, (const unsigned char *)none,
			     sizeof(none) - 1, NULL, &out, &n),
	    0);
	assert_int_equal(n, 0);
	assert_int_equal(out.len, 0);
	/* subdomain From: signed by the parent's key (d=example.org) */
	assert_int_equal(dkim_keyset_sign(ks, (const unsigned char *)msg,
			     sizeof(msg) - 1, NULL, &out, &n),
	    0);
	assert_int_equal(n, 1);
	assert_non_null(memmem(out.p, out.len, "d=example.org;", 14));
	buf_free(&out);
	/* errors */
	assert_int_equal(
	    dkim_keyset_load(ks, "example.org sel", err, sizeof(err)), -EINVAL);
	assert_true(dkim_keyset_load(ks, "example.org s /nonexistent/k", err,
			sizeof(err)) < 0);
	assert_true(
	    dkim_keyset_load(ks, "/nonexistent/table", err, sizeof(err)) < 0);
	assert_int_equal(dkim_from_domain((const unsigned char *)msg,
			     sizeof(msg) - 1, dom, sizeof(dom)),
	    0);
	assert_string_equal(dom, "mail.example.org");
	dkim_keyset_free(ks);
}

static void
test_key_table(void **st)
{
	struct dkim_keyset *ks = dkim_keyset_new();
	char err[512], tab[300];
	FILE *f;
	(void)st;

	snprintf(tab, sizeof(tab), "%s/keytable", dir);
	assert_non_null(f = fopen(tab, "w"));
	fprintf(f,
	    "# domain selector key\nexample.org rsa rsa.key\n\n"
	    "example.org ed %s # absolute\n",
	    ed_path);
	fclose(f);
	assert_int_equal(dkim_keyset_load(ks, tab, err, sizeof(err)), 0);
	assert_int_equal(dkim_keyset_count(ks), 2);
	dkim_keyset_free(ks);
	unlink(tab);
}

static void
test_txt_split(void **st)
{
	char v[600];
	struct buf b;
	(void)st;

	memset(v, 'a', 599);
	v[599] = '\0';
	buf_init(&b, 4096);
	assert_int_equal(dkim_txt_split(v, 255, " ", &b), 0);
	buf_cstr(&b);
	/* 255 + 255 + 89, each quoted */
	assert_int_equal(b.len, 599 + 6 + 2);
	assert_int_equal(b.p[256], '"');
	assert_int_equal(b.p[257], ' ');
	assert_int_equal(b.p[258], '"');
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dual_sign_verifies),
		cmocka_unit_test(test_lf_message),
		cmocka_unit_test(test_alterations_fail),
		cmocka_unit_test(test_key_choice),
		cmocka_unit_test(test_key_table),
		cmocka_unit_test(test_txt_split),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
