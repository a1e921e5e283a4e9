/* action_test - filterd/action.c: levels, header format, quarantine */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filterd/action.h"
#include "filterd/cfg.h"

static struct cfg *
mkcfg(const char *destiny)
{
	struct cfg *c = cfg_new();
	char err[128];

	assert_int_equal(cfg_set(c, "tag_level", "2.0", err, sizeof(err)), 0);
	assert_int_equal(cfg_set(c, "final_spam_destiny", destiny, err,
	    sizeof(err)), 0);
	return c;
}

static void
test_decide(void **state)
{
	(void)state;
	struct cfg *c = mkcfg("reject");

	assert_int_equal(action_decide(c, -3), ACTION_PASS);
	assert_int_equal(action_decide(c, 4.9), ACTION_PASS);
	assert_int_equal(action_decide(c, 5.0), ACTION_PASS_SPAM);
	assert_int_equal(action_decide(c, 9.99), ACTION_PASS_SPAM);
	assert_int_equal(action_decide(c, 10.0), ACTION_REJECT);
	cfg_free(c);
	c = mkcfg("discard");
	assert_int_equal(action_decide(c, 11), ACTION_DISCARD);
	cfg_free(c);
	c = mkcfg("quarantine");
	assert_int_equal(action_decide(c, 11), ACTION_QUARANTINE);
	cfg_free(c);
	c = mkcfg("pass");
	assert_int_equal(action_decide(c, 100), ACTION_PASS_SPAM);
	assert_string_equal(action_name(ACTION_PASS_SPAM), "pass-spam");
	cfg_free(c);
}

static const char msg[] =
    "Received: from a by b\r\n"
    "X-Spam-Flag: YES\r\n"
    "Subject: hello\r\n"
    "\tworld\r\n"
    "x-spam-status: forged\r\n"
    " continued\r\n"
    "Authentication-Results: mx.test; spf=pass\r\n"
    "Authentication-Results: other.example; dkim=pass\r\n"
    "From: a@b\r\n"
    "\r\n"
    "Subject: not a header\r\n";

static const struct action_notes *notes;

static char *
rewrite(struct cfg *c, double score, const char *tests, size_t *off)
{
	struct buf b;
	char *s;

	buf_init(&b, 1 << 20);
	assert_int_equal(action_rewrite(c, score, tests, notes,
	    bstr_make(msg, sizeof(msg) - 1), &b, off), 0);
	assert_int_equal(buf_cstr(&b), 0);
	s = strdup((char *)b.p);
	buf_free(&b);
	return s;
}

static void
test_headers_below_tag(void **state)
{
	(void)state;
	struct cfg *c = mkcfg("pass");
	size_t off;
	char *h = rewrite(c, 1.0, "none", &off);

	/* Below tag_level: nothing added, the forged ones still go. */
	assert_string_equal(h, "Received: from a by b\r\n"
			       "Subject: hello\r\n\tworld\r\n"
			       "Authentication-Results: mx.test; spf=pass\r\n"
			       "Authentication-Results: other.example; "
			       "dkim=pass\r\n"
			       "From: a@b\r\n");
	assert_string_equal(msg + off, "\r\nSubject: not a header\r\n");
	free(h);

	/* With our own A-R: the forged one claiming mx.test goes. */
	struct action_notes n = { .authres = "mx.test;\r\n\tspf=fail "
	    "smtp.mailfrom=a@b", .received_spf = "fail (x) client-ip=1.2.3.4" };
	notes = &n;
	h = rewrite(c, 1.0, "none", &off);
	notes = NULL;
	assert_string_equal(h, "Authentication-Results: mx.test;\r\n"
			       "\tspf=fail smtp.mailfrom=a@b\r\n"
			       "Received-SPF: fail (x) client-ip=1.2.3.4\r\n"
			       "Received: from a by b\r\n"
			       "Subject: hello\r\n\tworld\r\n"
			       "Authentication-Results: other.example; "
			       "dkim=pass\r\n"
			       "From: a@b\r\n");
	free(h);
	cfg_free(c);
}

static void
test_headers_tagged(void **state)
{
	(void)state;
	struct cfg *c = mkcfg("pass");
	size_t off;
	char *h = rewrite(c, 3.14, "MISSING_DATE,MISSING_MID", &off);

	assert_string_equal(h,
	    "X-Spam-Score: 3.1\r\n"
	    "X-Spam-Level: ***\r\n"
	    "X-Spam-Status: No, score=3.1 required=5.0 "
	    "tests=MISSING_DATE,MISSING_MID\r\n"
	    "\tautolearn=no version=" ACTION_VERSION "\r\n"
	    "Received: from a by b\r\n"
	    "Subject: hello\r\n\tworld\r\n"
	    "Authentication-Results: mx.test; spf=pass\r\n"
	    "Authentication-Results: other.example; dkim=pass\r\n"
	    "From: a@b\r\n");
	free(h);
	cfg_free(c);
}

static void
test_headers_spam(void **state)
{
	(void)state;
	struct cfg *c = mkcfg("pass");
	size_t off;
	char *h = rewrite(c, 8.25, "A,B", &off);

	assert_string_equal(h,
	    "X-Spam-Flag: YES\r\n"
	    "X-Spam-Score: 8.2\r\n"
	    "X-Spam-Level: ********\r\n"
	    "X-Spam-Status: Yes, score=8.2 required=5.0 tests=A,B\r\n"
	    "\tautolearn=no version=" ACTION_VERSION "\r\n"
	    "Received: from a by b\r\n"
	    "Subject: ***SPAM*** hello\r\n\tworld\r\n"
	    "Authentication-Results: mx.test; spf=pass\r\n"
	    "Authentication-Results: other.example; dkim=pass\r\n"
	    "From: a@b\r\n");
	free(h);
	cfg_free(c);
}

static void
test_status_fold(void **state)
{
	(void)state;
	struct buf b;
	const char *tests = "AAAAAAAAAAAAAAAAAAAA,BBBBBBBBBBBBBBBBBBBBBBB,"
			    "CCCCCCCCCCCCCCCCCCCCCCCCCC,DDDDDDDDDDDDDDDDDDDD";
	char *p, *line;
	size_t col = strlen("X-Spam-Status: ");

	buf_init(&b, 4096);
	assert_int_equal(action_status_header(&b, true, 12.0, 5.0, tests,
	    "spam"), 0);
	buf_cstr(&b);
	assert_non_null(strstr((char *)b.p, "autolearn=spam"));
	assert_non_null(strstr((char *)b.p, "CCCCCCCCCCCCCCCCCCCCCCCCCC,"));
	/* Every physical line stays within 78 columns, and unfolding
	 * gives back all the tests. */
	p = (char *)b.p;
	while ((line = strsep(&p, "\n")) != NULL) {
		size_t n = strcspn(line, "\r");
		assert_true(col + n <= 80);
		col = 0;
	}
	buf_free(&b);
}

static void
test_quarantine(void **state)
{
	(void)state;
	char dir[64], name[256], path[512], got[256];
	struct buf head;
	FILE *f;
	size_t n;

	snprintf(dir, sizeof(dir), "/tmp/action_test.%ld/q", (long)getpid());
	buf_init(&head, 1024);
	buf_puts(&head, "X-Spam-Flag: YES\r\nSubject: x\r\n");
	assert_int_equal(action_quarantine(dir, &head,
	    BSTR_LIT("Subject: old\r\n\r\nbody\r\n"), 14, name, sizeof(name)),
	    0);
	snprintf(path, sizeof(path), "%s/new/%s", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	got[n] = '\0';
	fclose(f);
	assert_string_equal(got, "X-Spam-Flag: YES\nSubject: x\n"
				 "\nbody\n");
	/* Nothing left in tmp/ */
	snprintf(path, sizeof(path), "%s/tmp", dir);
	DIR *d = opendir(path);
	struct dirent *e;
	int left = 0;
	while ((e = readdir(d)) != NULL)
		left += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(left, 0);
	buf_free(&head);
	snprintf(path, sizeof(path), "rm -rf /tmp/action_test.%ld",
	    (long)getpid());
	assert_int_equal(system(path), 0);
	/* An unwritable place fails cleanly. */
	assert_true(action_quarantine("/proc/nope", &head, BSTR_LIT("x"), 0,
	    name, sizeof(name)) < 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_headers_below_tag),
		cmocka_unit_test(test_headers_tagged),
		cmocka_unit_test(test_headers_spam),
		cmocka_unit_test(test_status_fold),
		cmocka_unit_test(test_quarantine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
