/* reinject_test - filterd/reinject.c connection pool: reuse, the bound
 * on idle connections, the idle timeout, a stale connection retried
 * once; all or none (a deferred recipient keeps the body back). The downstream is a scripted SMTP server on 127.0.0.1 in the
 * same event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "filterd/reinject.h"

/* Downstream ------------------------------------------------------------ */

struct dconn {
	struct bufferevent *bev;
	bool data;
};

static struct event_base *base;
static struct evconnlistener *lev;
static unsigned port;
static int accepted, open_conns, xforwards, mails, dots, datas, aborted;
static int srv_421; /* this many next commands get 421 + close */
static bool srv_nopipe; /* EHLO without PIPELINING */

static void
dclose(struct dconn *d)
{
	aborted += d->data; /* closed before the final dot */
	bufferevent_free(d->bev);
	free(d);
	open_conns--;
}

static void
d_read(struct bufferevent *bev, void *arg)
{
	struct dconn *d = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	char *l;
	size_t n;

	while ((l = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		if (d->data) {
			if (strcmp(l, ".") == 0) {
				d->data = false;
				dots++;
				evbuffer_add_printf(out, "250 2.0.0 Ok\r\n");
			}
		} else if (srv_421 > 0) {
			/* a server timeout as the client speaks */
			srv_421--;
			free(l);
			if (send(bufferevent_getfd(bev), "421 4.4.2 bye\r\n", 15,
			    MSG_NOSIGNAL) < 0)
				fail_msg("send");
			dclose(d);
			return;
		} else if (strncmp(l, "EHLO", 4) == 0) {
			evbuffer_add_printf(out, "250-t\r\n%s"
			    "250-XFORWARD NAME ADDR IDENT\r\n250 8BITMIME\r\n",
			    srv_nopipe ? "" : "250-PIPELINING\r\n");
		} else if (strncmp(l, "RCPT", 4) == 0 && strstr(l, "defer")) {
			evbuffer_add_printf(out, "450 4.2.0 try later\r\n");
		} else if (strncmp(l, "RCPT", 4) == 0 && strstr(l, "reject")) {
			evbuffer_add_printf(out, "550 5.1.1 no such user\r\n");
		} else if (strncmp(l, "XFORWARD", 8) == 0) {
			xforwards++;
			evbuffer_add_printf(out, "250 2.0.0 Ok\r\n");
		} else if (strncmp(l, "DATA", 4) == 0) {
			d->data = true;
			datas++;
			evbuffer_add_printf(out, "354 go\r\n");
		} else if (strncmp(l, "QUIT", 4) == 0) {
			free(l);
			dclose(d);
			return;
		} else {
			mails += strncmp(l, "MAIL", 4) == 0;
			evbuffer_add_printf(out, "250 2.0.0 Ok\r\n");
		}
		free(l);
	}
}

static void
d_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev, (void)what;
	dclose(arg);
}

static struct dconn *dconns[64]; /* by accept order */

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct dconn *d = calloc(1, sizeof(*d));

	(void)l, (void)sa, (void)len, (void)arg;
	d->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(d->bev, d_read, NULL, d_event, d);
	bufferevent_enable(d->bev, EV_READ | EV_WRITE);
	evbuffer_add_printf(bufferevent_get_output(d->bev), "220 t\r\n");
	if (accepted < 64)
		dconns[accepted] = d;
	accepted++;
	open_conns++;
}

/* Client ---------------------------------------------------------------- */

static char addr[64];
static int done, ok;
static char last[300], last2[300]; /* replies for rcpt 0 and 1 */
static int held;

static void
on_done(void *arg, const struct reinject_result *res)
{
	(void)arg;
	if (res->held) {
		held++;
		return;
	}
	done++;
	ok += res->accepted == res->nrcpts;
	snprintf(last, sizeof(last), "%d %s", res->rcpt[0].code,
	    res->rcpt[0].text);
	last2[0] = '\0';
	if (res->nrcpts > 1)
		snprintf(last2, sizeof(last2), "%d %s", res->rcpt[1].code,
		    res->rcpt[1].text);
}

static const char *const rcpts[] = { "b@example.net" };

static struct reinject *
start(size_t pool, uint64_t idle_ms)
{
	struct reinject_req rq = {
		.addr = addr, .helo = "filter.test", .timeout_ms = 5000,
		.mail_from = "a@example.org", .rcpts = rcpts, .nrcpts = 1,
		.x_name = "mx.example", .x_addr = "192.0.2.1",
		.pool_max = pool, .idle_timeout_ms = idle_ms,
		.head = { (const unsigned char *)"Subject: x\r\n\r\n", 14 },
		.body = { (const unsigned char *)"body\r\n", 6 },
	};
	struct reinject *r = reinject_start(base, &rq, on_done, NULL);

	assert_non_null(r);
	return r;
}

/* run_until - loop until *v == want, at most ~3 s */
static void
run_until(const int *v, int want)
{
	struct timeval tv = { 0, 10000 };

	for (int i = 0; i < 300 && *v != want; i++) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	assert_int_equal(*v, want);
}

static void
run_for_ms(int ms)
{
	struct timeval tv = { 0, ms * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static int
setup(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	(void)state;
	base = event_base_new();
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lev = evconnlistener_new_bind(base, on_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
	    (struct sockaddr *)&sa, sizeof(sa));
	assert_non_null(lev);
	getsockname(evconnlistener_get_fd(lev), (struct sockaddr *)&sa, &len);
	port = ntohs(sa.sin_port);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	reinject_pool_flush(base);
	run_until(&open_conns, 0);
	evconnlistener_free(lev);
	event_base_free(base);
	return 0;
}

static void
reset(void)
{
	reinject_pool_flush(base);
	run_until(&open_conns, 0);
	accepted = xforwards = mails = dots = done = ok = srv_421 = 0;
	datas = aborted = 0;
	srv_nopipe = false;
}

static void
test_reuse(void **state)
{
	(void)state;
	reset();
	/* N sequential messages: one connection, XFORWARD every time. */
	for (int i = 1; i <= 8; i++) {
		start(4, 10000);
		run_until(&done, i);
		assert_int_equal(reinject_pool_idle(base), 1);
	}
	assert_int_equal(ok, 8);
	assert_int_equal(accepted, 1);
	assert_int_equal(dots, 8);
	assert_int_equal(xforwards, 8);
	/* pool 0: one connection per message, closed with QUIT */
	start(0, 10000);
	run_until(&done, 9);
	assert_int_equal(ok, 9);
	assert_int_equal(accepted, 2);
	run_until(&open_conns, 1);
}

static void
test_bound(void **state)
{
	(void)state;
	reset();
	/* Six at once need six connections; four stay, two close. */
	for (int i = 0; i < 6; i++)
		start(4, 10000);
	run_until(&done, 6);
	assert_int_equal(ok, 6);
	assert_int_equal(accepted, 6);
	assert_int_equal(reinject_pool_idle(base), 4);
	run_until(&open_conns, 4);
	/* Six more at once: four reused, two new, four kept again. */
	for (int i = 0; i < 6; i++)
		start(4, 10000);
	run_until(&done, 12);
	assert_int_equal(ok, 12);
	assert_int_equal(accepted, 8);
	assert_int_equal(reinject_pool_idle(base), 4);
	/* Another base does not share them. */
	{
		struct event_base *b2 = event_base_new();

		assert_int_equal(reinject_pool_idle(b2), 0);
		event_base_free(b2);
	}
}

static void
test_idle_close(void **state)
{
	(void)state;
	reset();
	/* Our idle timeout. */
	start(4, 100);
	run_until(&done, 1);
	assert_int_equal(reinject_pool_idle(base), 1);
	run_for_ms(300);
	assert_int_equal(reinject_pool_idle(base), 0);
	assert_int_equal(open_conns, 0);
	/* The server closes an idle one: seen (EOF), dropped. */
	start(4, 10000);
	run_until(&done, 2);
	assert_int_equal(reinject_pool_idle(base), 1);
	dclose(dconns[1]);
	run_for_ms(50);
	assert_int_equal(reinject_pool_idle(base), 0);
	start(4, 10000);
	run_until(&done, 3);
	assert_int_equal(ok, 3);
	assert_int_equal(accepted, 3);
}

static void
test_stale_retry(void **state)
{
	(void)state;
	reset();
	start(4, 10000);
	run_until(&done, 1);
	/* The server times out just as the pooled connection is taken:
	 * 421 to XFORWARD, one retry on a fresh connection, a 250. */
	srv_421 = 1;
	start(4, 10000);
	run_until(&done, 2);
	assert_int_equal(ok, 2);
	assert_int_equal(accepted, 2);
	assert_int_equal(dots, 2);
	/* Only once: when the fresh one fails too, the failure is
	 * reported (451, the upstream keeps the message). */
	srv_421 = 2;
	start(4, 10000);
	run_until(&done, 3);
	assert_int_equal(ok, 2);
	assert_int_equal(accepted, 3);
	assert_true(strncmp(last, "451 ", 4) == 0);
	/* A failure of a fresh connection is not retried. */
	srv_421 = 1;
	start(4, 10000);
	run_until(&done, 4);
	assert_int_equal(accepted, 4);
	assert_true(strncmp(last, "451 ", 4) == 0);
	assert_int_equal(srv_421, 0);
}

static void
test_cancel(void **state)
{
	(void)state;
	reset();
	start(4, 10000);
	run_until(&done, 1);
	/* A cancelled transaction's connection is not pooled. */
	reinject_cancel(start(4, 10000));
	assert_int_equal(reinject_pool_idle(base), 0);
	run_until(&open_conns, 0);
	assert_int_equal(done, 1);
}

/* two - "ok@" and the second recipient, all or none or not */
static struct reinject *
two_req(const char *second, bool all_or_none, bool hold)
{
	/* borrowed until the callback: not on this stack frame */
	static const char *rc[2];
	struct reinject_req rq = {
		.addr = addr, .helo = "filter.test", .timeout_ms = 5000,
		.mail_from = "a@example.org", .rcpts = rc, .nrcpts = 2,
		.pool_max = 4, .idle_timeout_ms = 10000,
		.all_or_none = all_or_none, .hold = hold,
		.head = { (const unsigned char *)"Subject: x\r\n\r\n", 14 },
		.body = { (const unsigned char *)"body\r\n", 6 },
	};
	struct reinject *r;

	rc[0] = "ok@example.net";
	rc[1] = second;
	r = reinject_start(base, &rq, on_done, NULL);
	assert_non_null(r);
	return r;
}

static void
two(const char *second, bool all_or_none)
{
	int want = done + 1;

	two_req(second, all_or_none, false);
	run_until(&done, want);
}

static void
test_hold(void **state)
{
	struct reinject *r;

	(void)state;
	reset();
	held = 0;
	/* Held at the 354 (no timeout while held), then committed. */
	r = two_req("ok2@example.net", true, true);
	run_until(&held, 1);
	run_for_ms(50);
	assert_int_equal(done, 0);
	assert_int_equal(dots, 0);
	assert_int_equal(datas, 1);
	reinject_commit(r);
	run_until(&done, 1);
	assert_int_equal(dots, 1);
	assert_int_equal(ok, 1);
	assert_int_equal(reinject_pool_idle(base), 1);
	/* Held, then cancelled: the transaction is dropped (closed before
	 * its dot), nothing reported. */
	r = two_req("ok2@example.net", true, true);
	run_until(&held, 2);
	reinject_cancel(r);
	run_until(&aborted, 1);
	assert_int_equal(dots, 1);
	assert_int_equal(done, 1);
	/* A deferred recipient: no hold, the end at once (all or none). */
	two_req("defer@example.net", true, true);
	run_until(&done, 2);
	assert_int_equal(held, 2);
	assert_true(strncmp(last, "451 4.4.0", 9) == 0);
	/* The server closes a held one: its end is reported. */
	r = two_req("ok2@example.net", true, true);
	run_until(&held, 3);
	dclose(dconns[accepted - 1]);
	run_until(&done, 3);
	assert_true(strncmp(last, "451 4.4.2", 9) == 0);
	assert_int_equal(dots, 1);
	(void)r; /* ended: freed after its callback, never committed */
}

static void
test_all_or_none(void **state)
{
	(void)state;
	for (int nopipe = 0; nopipe < 2; nopipe++) {
		reset();
		srv_nopipe = nopipe;
		/* A deferred recipient: nobody gets the body, both 4xx
		 * (the upstream retries the whole message), the
		 * connection in mid-transaction is closed, not pooled. */
		two("defer@example.net", true);
		assert_int_equal(dots, 0);
		assert_true(strncmp(last, "451 4.4.0", 9) == 0);
		assert_non_null(strstr(last, "deferred downstream"));
		assert_true(strncmp(last2, "450 4.2.0", 9) == 0);
		assert_int_equal(reinject_pool_idle(base), 0);
		run_until(&open_conns, 0);
		/* With PIPELINING, DATA went out with the RCPTs and the
		 * 354 was answered by the close; without, no DATA. */
		assert_int_equal(datas, nopipe ? 0 : 1);
		assert_int_equal(aborted, nopipe ? 0 : 1);
		/* A recipient refused for good does not hold the others
		 * back (their DSN is the caller's). */
		two("reject@example.net", true);
		assert_int_equal(dots, 1);
		assert_true(strncmp(last, "250 ", 4) == 0);
		assert_true(strncmp(last2, "550 5.1.1", 9) == 0);
		/* Not all or none (LMTP upstream): the others get it. */
		two("defer@example.net", false);
		assert_int_equal(dots, 2);
		assert_true(strncmp(last, "250 ", 4) == 0);
		assert_true(strncmp(last2, "450 4.2.0", 9) == 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_idle_close),
		cmocka_unit_test(test_stale_retry),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_all_or_none),
		cmocka_unit_test(test_hold),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
