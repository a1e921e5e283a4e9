/* cfg_test - filterd/cfg.c: defaults, types, bounds, file:line errors */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filterd/cfg.h"
#include "util/netaddr.h"

static char path[64];

static void
write_conf(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/cfg_test.%ld.conf",
	    (long)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_defaults(void **state)
{
	(void)state;
	struct cfg *c = cfg_new();

	assert_non_null(c);
	assert_string_equal(cfg_text(c, "listen"), "127.0.0.1:10024");
	assert_string_equal(cfg_str(c, "protocol"), "smtp");
	assert_int_equal(cfg_int(c, "workers"), 0); /* auto */
	assert_int_equal(cfg_size(c, "message_size_limit"), 64u << 20);
	assert_int_equal(cfg_time_ms(c, "smtp_timeout"), 300000);
	assert_true(cfg_bool(c, "xforward"));
	assert_true(cfg_double(c, "tag2_level") == 5.0);
	assert_string_equal(cfg_str(c, "spam_subject_tag"), "***SPAM*** ");
	assert_int_equal(netlist_len(cfg_netlist(c, "trusted_networks")), 0);
	cfg_free(c);
}

static void
test_load(void **state)
{
	(void)state;
	struct cfg *c = NULL;
	char err[256] = "";

	write_conf("# comment\n"
		   "listen = 127.0.0.1:2525   # trailing comment\n"
		   "\n"
		   "  workers=3\n"
		   "message_size_limit = 10M\n"
		   "smtp_timeout = 2s\n"
		   "msg_deadline = 2m\n"
		   "xforward = no\n"
		   "tag2_level = 6.5\n"
		   "spam_subject_tag = \"[spam #1] \"\n"
		   "myhostname = \"mx#1.example\"\n"
		   "final_spam_destiny = quarantine\n"
		   "trusted_networks = 10.0.0.0/8, 192.0.2.1\n");
	if (cfg_load(path, &c, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(cfg_text(c, "listen"), "127.0.0.1:2525");
	assert_int_equal(cfg_int(c, "workers"), 3);
	assert_int_equal(cfg_size(c, "message_size_limit"), 10u << 20);
	assert_int_equal(cfg_time_ms(c, "smtp_timeout"), 2000);
	assert_int_equal(cfg_time_ms(c, "msg_deadline"), 120000);
	assert_false(cfg_bool(c, "xforward"));
	assert_true(cfg_double(c, "tag2_level") == 6.5);
	assert_string_equal(cfg_str(c, "spam_subject_tag"), "[spam #1] ");
	assert_string_equal(cfg_str(c, "final_spam_destiny"), "quarantine");
	assert_int_equal(netlist_len(cfg_netlist(c, "trusted_networks")), 2);
	assert_false(cfg_is_default(c, "workers"));
	assert_true(cfg_is_default(c, "protocol"));

	/* -n: only the changed keys */
	char *out = NULL;
	size_t outlen = 0;
	FILE *m = open_memstream(&out, &outlen);
	cfg_print(c, m, true);
	fclose(m);
	assert_non_null(strstr(out, "workers = 3\n"));
	assert_non_null(strstr(out, "spam_subject_tag = \"[spam #1] \"\n"));
	/* and what -n prints reads back the same */
	write_conf(out);
	struct cfg *c2 = NULL;
	assert_int_equal(cfg_load(path, &c2, err, sizeof(err)), 0);
	assert_string_equal(cfg_str(c2, "spam_subject_tag"), "[spam #1] ");
	assert_int_equal(cfg_int(c2, "workers"), 3);
	cfg_free(c2);
	assert_null(strstr(out, "protocol"));
	free(out);
	cfg_free(c);
	unlink(path);
}

static const struct {
	const char *text;
	const char *want; /* substring of the error, after "path:" */
} bad[] = {
	{ "listen = 127.0.0.1:10024\nlisnet = 1\n", ":2: unknown key 'lisnet'" },
	{ "workers = many\n", ":1: workers: 'many' is not an integer" },
	{ "workers = 1000\n", ":1: workers: 1000 is outside 0..256" },
	{ "\n\nmessage_size_limit = 10X\n", ":3: message_size_limit: '10X'" },
	{ "message_size_limit = 10\n", ":1: message_size_limit: '10' is outside" },
	{ "smtp_timeout = soon\n", ":1: smtp_timeout: 'soon' is not a time" },
	{ "xforward = maybe\n", ":1: xforward: 'maybe' is not yes/no" },
	{ "tag_level = 1e999\n", ":1: tag_level: '1e999' is not a number" },
	{ "protocol = http\n", ":1: protocol: 'http' is not one of smtp|lmtp" },
	{ "listen = localhost\n", ":1: listen: 'localhost' is not host:port" },
	{ "listen = 127.0.0.1:99999\n", ":1: listen:" },
	{ "trusted_networks = 10.0.0.0/33\n", ":1: trusted_networks: bad network" },
	{ "just some words\n", ":1: expected 'key = value'" },
};

static void
test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cfg *c = NULL;
		char err[256] = "";

		write_conf(bad[i].text);
		assert_int_equal(cfg_load(path, &c, err, sizeof(err)), -EINVAL);
		assert_null(c);
		if (strncmp(err, path, strlen(path)) != 0 ||
		    strstr(err, bad[i].want) == NULL)
			fail_msg("case %zu: got '%s', want '%s'", i, err,
			    bad[i].want);
	}
	unlink(path);
	struct cfg *c = NULL;
	char err[256];
	assert_int_equal(cfg_load("/nonexistent/x.conf", &c, err, sizeof(err)),
	    -ENOENT);
}

static void
test_set_and_addr(void **state)
{
	(void)state;
	struct cfg *c = cfg_new();
	char err[256], host[64];
	unsigned port;

	assert_int_equal(cfg_set(c, "listen", "[::1]:10024", err, sizeof(err)),
	    0);
	assert_int_equal(cfg_set(c, "nope", "1", err, sizeof(err)), -ENOENT);
	assert_int_equal(cfg_set(c, "workers", "auto", err, sizeof(err)), 0);
	assert_int_equal(cfg_set(c, "max_recipients", "auto", err,
	    sizeof(err)), -EINVAL); /* auto only where the default is */
	assert_int_equal(cfg_addr_split("[::1]:25", host, sizeof(host), &port),
	    0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 25);
	assert_int_equal(cfg_addr_split("::1:25", host, sizeof(host), &port),
	    -EINVAL);
	assert_int_equal(cfg_addr_split("a:0", host, sizeof(host), &port),
	    -EINVAL);
	cfg_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_set_and_addr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
