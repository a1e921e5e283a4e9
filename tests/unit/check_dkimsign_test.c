/*
 * tests/unit/check_dkimsign_test.c - filterd/check_dkimsign.c through the
 * scan engine (a table of check_dkimsign + check_basic, no event base):
 * originating by mynetworks, by a SASL login and by PROTO=ESMTPSA; the
 * note holds the signatures, the later checks are skipped (no
 * MISSING_DATE), originating_scan = yes runs them again; inbound mail is
 * neither signed nor skipped; action_rewrite puts the signatures first and
 * leaves the signed Subject untagged; a key that does not load fails init.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filterd/action.h"
#include "filterd/cfg.h"
#include "filterd/checks.h"
#include "filterd/scan.h"
#include "plugins/dkim_sign.h"
#include "util/hits.h"

static const struct check *const table[] = { &check_dkimsign, &check_basic,
	NULL };
static char keyfile[] = "/tmp/check_dkimsign_testXXXXXX";

/* no Date: check_basic would add MISSING_DATE */
static const char msg[] = "From: Alice <alice@example.org>\r\n"
			  "To: bob@example.net\r\n"
			  "Subject: hello\r\n"
			  "Message-ID: <1@example.org>\r\n\r\nHi.\r\n";

static int
setup(void **st)
{
	struct buf pem, pub;
	int fd = mkstemp(keyfile);

	(void)st;
	if (fd < 0)
		return -1;
	buf_init(&pem, 1 << 20);
	buf_init(&pub, 1 << 20);
	if (dkim_keygen(DKIM_KEY_ED25519, 0, &pem, &pub) < 0 ||
	    write(fd, pem.p, pem.len) != (ssize_t)pem.len)
		return -1;
	close(fd);
	buf_free(&pem);
	buf_free(&pub);
	return 0;
}

static int
teardown(void **st)
{
	(void)st;
	unlink(keyfile);
	return 0;
}

static struct cfg *
mkcfg(bool sign, bool scan_too)
{
	struct cfg *c = cfg_new();
	char err[256], spec[300];

	assert_non_null(c);
	snprintf(spec, sizeof(spec), "example.org sel %s", keyfile);
	assert_int_equal(
	    cfg_set(c, "dkim_sign", sign ? "yes" : "no", err, sizeof(err)), 0);
	assert_int_equal(cfg_set(c, "dkim_key", spec, err, sizeof(err)), 0);
	assert_int_equal(
	    cfg_set(c, "mynetworks", "10.0.0.0/8", err, sizeof(err)), 0);
	assert_int_equal(cfg_set(c, "originating_scan", scan_too ? "yes" : "no",
			     err, sizeof(err)),
	    0);
	return c;
}

struct outcome {
	bool signed_, missing_date, hit;
	char head[8192];
};

static void
done(struct scan *s, void *arg)
{
	(void)s;
	(void)arg;
}

static void
run(struct cfg *c, const struct envelope *env, struct outcome *o)
{
	char err[256];
	struct checks *ck = checks_init_table(c, table, err, sizeof(err));
	struct scan *s;
	const char *sig;

	memset(o, 0, sizeof(*o));
	assert_non_null(ck);
	s = scan_new(
	    c, ck, NULL, (const unsigned char *)msg, sizeof(msg) - 1, env);
	assert_non_null(s);
	assert_int_equal(scan_run(s, done, NULL), 0);
	sig = scan_note_get(s, "dkim-signature");
	o->signed_ = sig != NULL;
	o->missing_date = hits_get(scan_hits(s), "MISSING_DATE") != NULL;
	o->hit = hits_get(scan_hits(s), "FD_DKIM_SIGNED_OUT") != NULL;
	if (sig) {
		/* score 20: would tag the Subject, but it is signed */
		struct action_notes n = { .dkim_signature = sig };
		struct buf out;
		size_t off;
		buf_init(&out, 1 << 20);
		assert_int_equal(
		    action_rewrite(c, 20.0, "X", &n,
			bstr_make(msg, sizeof(msg) - 1), &out, &off),
		    0);
		snprintf(o->head, sizeof(o->head), "%.*s", (int)out.len,
		    (const char *)out.p);
		buf_free(&out);
	}
	scan_free(s);
	checks_free(ck);
}

static void
test_mynetworks(void **st)
{
	struct cfg *c = mkcfg(true, false);
	struct envelope env = { .client_addr = "10.1.2.3" };
	struct outcome o;
	(void)st;

	run(c, &env, &o);
	assert_true(o.signed_);
	assert_true(o.hit);
	assert_false(o.missing_date); /* check_basic skipped */
	assert_memory_equal(
	    o.head, "DKIM-Signature: v=1; a=ed25519-sha256;", 37);
	assert_non_null(strstr(o.head, "\r\nSubject: hello\r\n"));
	assert_null(strstr(o.head, "***SPAM***"));
	cfg_free(c);
}

static void
test_auth(void **st)
{
	struct cfg *c = mkcfg(true, false);
	struct envelope sasl = { .client_addr = "192.0.2.1", .auth = "alice" };
	struct envelope proto = { .client_addr = "192.0.2.1",
		.proto = "ESMTPSA" };
	struct envelope in = { .client_addr = "192.0.2.1", .proto = "ESMTPS" };
	struct envelope none = { 0 };
	struct outcome o;
	(void)st;

	run(c, &sasl, &o);
	assert_true(o.signed_);
	run(c, &proto, &o);
	assert_true(o.signed_);
	run(c, &in, &o);
	assert_false(o.signed_);
	assert_true(o.missing_date); /* scored as usual */
	run(c, &none, &o);
	assert_false(o.signed_);
	assert_true(o.missing_date);
	cfg_free(c);
}

static void
test_options(void **st)
{
	struct envelope env = { .client_addr = "10.1.2.3" };
	struct outcome o;
	struct cfg *c = mkcfg(true, true);
	char err[256];
	(void)st;

	/* originating_scan = yes: signed and scored */
	run(c, &env, &o);
	assert_true(o.signed_);
	assert_true(o.missing_date);
	cfg_free(c);
	/* dkim_sign = no: nothing happens */
	c = mkcfg(false, false);
	run(c, &env, &o);
	assert_false(o.signed_);
	assert_true(o.missing_date);
	cfg_free(c);
	/* a key that does not load refuses the generation */
	c = mkcfg(true, false);
	assert_int_equal(cfg_set(c, "dkim_key", "example.org s /nonexistent",
			     err, sizeof(err)),
	    0);
	assert_null(checks_init_table(c, table, err, sizeof(err)));
	assert_non_null(strstr(err, "dkimsign"));
	cfg_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mynetworks),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_options),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
