/* scan_test - filterd/scan.c: check order, hits and score, notes, async
 * work with scan_pending_add/done, the msg_deadline timer */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <string.h>

#include "filterd/cfg.h"
#include "filterd/checks.h"
#include "filterd/scan.h"
#include "mail/msg.h"
#include "util/hits.h"

static char order[64];
static int finished_with_deadline = -1;

static void
add(const char *what)
{
	strncat(order, what, sizeof(order) - strlen(order) - 1);
}

/* async: start() launches one "lookup" answered by a timer after
 * state ms (or never, for state 0). */
static void
answer(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd, (void)ev;
	add("A");
	scan_hit(arg, "ASYNC_ANSWER", "late");
	scan_pending_done(arg);
}

static void
a_start(struct scan *s, void *state)
{
	long ms = (long)(intptr_t)state;

	add("s");
	if (scan_evbase(s) == NULL || ms == 0) {
		if (ms == 0 && scan_evbase(s))
			scan_pending_add(s); /* never answered */
		return;
	}
	struct timeval tv = { 0, ms * 1000 };
	scan_pending_add(s);
	event_base_once(scan_evbase(s), -1, EV_TIMEOUT, answer, s, &tv);
}

static void
a_run(struct scan *s, void *state)
{
	(void)state;
	add("r");
	hits_add_score(scan_hits(s), "CPU_HIT", 2.5, NULL);
	if (msg_header_get(scan_msg(s), "Subject", 0))
		hits_add_score(scan_hits(s), "HAS_SUBJECT", 0.5, NULL);
}

static void
a_finish(struct scan *s, void *state)
{
	(void)state;
	add("f");
	finished_with_deadline = scan_deadline_passed(s);
	scan_note(s, "autolearn", "ham");
}

static int
a_init(const struct cfg *cfg, void **state)
{
	(void)cfg;
	*state = (void *)(intptr_t)50;
	return 0;
}

static int
never_init(const struct cfg *cfg, void **state)
{
	(void)cfg;
	*state = (void *)(intptr_t)0;
	return 0;
}

static const struct check c_async = { .name = "async", .init = a_init,
	.start = a_start, .run = a_run, .finish = a_finish };
static const struct check c_never = { .name = "never", .init = never_init,
	.start = a_start, .finish = a_finish };
static const struct check *const t_async[] = { &c_async, NULL };
static const struct check *const t_never[] = { &c_never, NULL };

static const char raw[] = "Subject: hi\r\n\r\nbody\r\n";
static int done_calls;

static void
on_done(struct scan *s, void *arg)
{
	(void)s, (void)arg;
	add("D");
	done_calls++;
}

static struct scan *
run(const struct check *const *table, struct event_base *base,
    struct cfg *cfg, struct checks **ck)
{
	char err[128];
	struct scan *s;

	order[0] = '\0';
	done_calls = 0;
	*ck = checks_init_table(cfg, table, err, sizeof(err));
	assert_non_null(*ck);
	s = scan_new(cfg, *ck, base, (const unsigned char *)raw,
	    sizeof(raw) - 1, NULL);
	assert_non_null(s);
	assert_int_equal(scan_run(s, on_done, NULL), 0);
	return s;
}

static void
test_sync(void **state)
{
	(void)state;
	struct cfg *cfg = cfg_new();
	struct checks *ck;
	/* No event base: start() is skipped, the scan completes inside. */
	struct scan *s = run(t_async, NULL, cfg, &ck);

	assert_string_equal(order, "rfD");
	assert_int_equal(done_calls, 1);
	assert_true(scan_score(s) == 3.0);
	assert_string_equal(scan_tests(s), "CPU_HIT,HAS_SUBJECT");
	assert_string_equal(scan_note_get(s, "autolearn"), "ham");
	assert_null(scan_note_get(s, "nope"));
	scan_free(s);
	checks_free(ck);
	cfg_free(cfg);
}

static void
test_async(void **state)
{
	(void)state;
	struct cfg *cfg = cfg_new();
	struct event_base *base = event_base_new();
	struct checks *ck;
	struct scan *s = run(t_async, base, cfg, &ck);

	/* Not done until the answer came. */
	assert_string_equal(order, "sr");
	assert_int_equal(done_calls, 0);
	event_base_dispatch(base);
	assert_string_equal(order, "srAfD");
	assert_int_equal(done_calls, 1);
	assert_int_equal(finished_with_deadline, 0);
	assert_string_equal(scan_tests(s), "ASYNC_ANSWER,CPU_HIT,HAS_SUBJECT");
	assert_true(scan_score(s) == 3.0); /* the unscored hit adds nothing */
	scan_free(s);
	checks_free(ck);
	event_base_free(base);
	cfg_free(cfg);
}

static void
test_deadline(void **state)
{
	(void)state;
	struct cfg *cfg = cfg_new();
	struct event_base *base = event_base_new();
	struct checks *ck;
	char err[64];
	struct scan *s;

	assert_int_equal(cfg_set(cfg, "msg_deadline", "1s", err,
	    sizeof(err)), 0);
	s = run(t_never, base, cfg, &ck);
	event_base_dispatch(base);
	assert_string_equal(order, "sfD");
	assert_int_equal(finished_with_deadline, 1);
	assert_true(scan_elapsed_ms(s) >= 900);
	assert_string_equal(scan_tests(s), "none");
	scan_free(s);
	checks_free(ck);
	event_base_free(base);
	cfg_free(cfg);
}

/* check_basic on messages built to fire (or not) each of its tests */
static const struct {
	const char *raw;
	const char *tests;
} basic_cases[] = {
	{ "Date: Fri, 27 Nov 2026 12:00:00 +0000\r\nMessage-ID: <a@b>\r\n"
	  "From: a@b\r\nSubject: hi\r\nTo: c@d\r\n\r\nbody\r\n", "none" },
	{ "From: a@b\r\nSubject: hi\r\n\r\nbody\r\n",
	  "MISSING_DATE,MISSING_MID" },
	{ "Date: x\r\nMessage-ID: <a@b>\r\nSubject: s\r\n\r\n \r\n\r\n",
	  "EMPTY_MESSAGE,MISSING_FROM" },
	{ "Date: x\r\nMessage-ID: <a@b>\r\nFrom: a@b\r\nFrom: c@d\r\n"
	  "\r\nx\r\n", "DUP_FROM,MISSING_SUBJECT" },
};

static void
test_basic(void **state)
{
	(void)state;
	static const struct check *const t[] = { &check_basic, NULL };
	struct cfg *cfg = cfg_new();
	char err[64];
	struct checks *ck = checks_init_table(cfg, t, err, sizeof(err));

	for (size_t i = 0; i < sizeof(basic_cases) / sizeof(basic_cases[0]);
	    i++) {
		struct scan *s = scan_new(cfg, ck, NULL,
		    (const unsigned char *)basic_cases[i].raw,
		    strlen(basic_cases[i].raw), NULL);

		assert_int_equal(scan_run(s, on_done, NULL), 0);
		if (strcmp(scan_tests(s), basic_cases[i].tests) != 0)
			fail_msg("case %zu: tests=%s, want %s", i,
			    scan_tests(s), basic_cases[i].tests);
		scan_free(s);
	}
	checks_free(ck);
	cfg_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_basic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
