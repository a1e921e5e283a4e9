/* quarantine_test - filterd/quarantine.c: the envelope block written by
 * quar_store() reads back exactly; only the leading block counts (a
 * sender's own X-Filterd-Envelope-To fields add nobody); broken blocks are
 * refused */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filterd/quarantine.h"
#include "filterd/scan.h"

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = malloc(65536);

	assert_non_null(f);
	*len = fread(p, 1, 65536, f);
	fclose(f);
	return p;
}

static void
test_roundtrip(void **st)
{
	char dir[] = "/tmp/quar_test.XXXXXX", name[300], path[600];
	const char *rcpts[] = { "r1@example.test", "\"a b\"@example.test" };
	struct envelope env = { .qid = "Q1;x", .client_addr = "192.0.2.7",
		.mail_from = "s@example.org", .rcpts = rcpts, .nrcpts = 2 };
	/* the sender wrote its own envelope fields: they must not count */
	static const char raw[] = "X-Filterd-Envelope-To: <evil@x.test>\r\n"
				  "Subject: t\r\n\r\nbody\r\n";
	struct buf head;
	struct quar_env q;
	unsigned char *p;
	size_t len;

	(void)st;
	assert_non_null(mkdtemp(dir));
	buf_init(&head, 65536);
	buf_puts(&head, "X-Spam-Flag: YES\r\nX-Filterd-Envelope-To: "
	    "<evil@x.test>\r\nSubject: t\r\n");
	assert_int_equal(quar_store(dir, &env, &head, bstr_make(raw,
	    sizeof(raw) - 1), 50, name, sizeof(name)), 0);
	snprintf(path, sizeof(path), "%s/new/%s", dir, name);
	p = slurp(path, &len);
	assert_int_equal(quar_env_parse(p, len, &q), 0);
	assert_string_equal(q.from, "s@example.org");
	assert_int_equal(q.nrcpts, 2);
	assert_string_equal(q.rcpts[0], "r1@example.test");
	assert_string_equal(q.rcpts[1], "\"a b\"@example.test");
	assert_string_equal(q.qid, "Q1_x"); /* made safe for the list */
	assert_string_equal(q.client, "192.0.2.7");
	assert_memory_equal(p + q.msg_off, "X-Spam-Flag: YES\n", 17);
	/* the body follows the rewritten head, LF line ends */
	assert_memory_equal(p + len - 8, "t\n\nbody\n", 8);
	quar_env_free(&q);
	free(p);
	unlink(path);
	snprintf(path, sizeof(path), "%s/new", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/tmp", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/cur", dir);
	rmdir(path);
	rmdir(dir);
	buf_free(&head);
}

static void
test_refused(void **st)
{
	static const char *const bad[] = {
		"Subject: no block\r\n\r\n",
		"X-Filterd-Envelope: v=2; rcpts=1; from=<a@b>\r\n"
		"X-Filterd-Envelope-To: <r@x>\r\n",
		"X-Filterd-Envelope: v=1; rcpts=0; from=<a@b>\r\n",
		"X-Filterd-Envelope: v=1; rcpts=2; from=<a@b>\r\n"
		"X-Filterd-Envelope-To: <r@x>\r\nSubject: x\r\n",
		"X-Filterd-Envelope: v=1; rcpts=1; from=<a@b>\r\n"
		"X-Filterd-Envelope-To: <>\r\n",
		"X-Filterd-Envelope: v=1; rcpts=1\r\n"
		"X-Filterd-Envelope-To: <r@x>\r\n",
		"X-Filterd-Envelope: v=1; rcpts=1x; from=<a@b>\r\n"
		"X-Filterd-Envelope-To: <r@x>\r\n",
	};
	struct quar_env q;

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(quar_env_parse((const unsigned char *)bad[i],
		    strlen(bad[i]), &q), -22);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
