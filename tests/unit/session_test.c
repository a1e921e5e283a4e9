/* session_test - filterd/smtp.c + reinject.c + scan.c + action.c + spool.c
 * in one process: a real SMTP/LMTP server on 127.0.0.1 (its own libevent
 * thread), a scripted downstream sink on 127.0.0.1 (a thread), and a
 * blocking client driving whole sessions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filterd/cfg.h"
#include "filterd/checks.h"
#include "filterd/reinject.h"
#include "filterd/scan.h"
#include "filterd/smtp.h"
#include "mail/msg.h"
#include "util/hits.h"
#include "util/log.h"

/* The test check: the score is whatever X-Test-Score says. */
static void
test_run(struct scan *s, void *state)
{
	const struct msg_header *h = msg_header_get(scan_msg(s),
	    "X-Test-Score", 0);
	char v[32];

	(void)state;
	if (h == NULL || h->value.len >= sizeof(v))
		return;
	memcpy(v, h->value.p, h->value.len);
	v[h->value.len] = '\0';
	hits_add_score(scan_hits(s), "TEST_SCORE", atof(v), NULL);
}

static const struct check check_test = { .name = "test", .run = test_run };
static const struct check *const table[] = { &check_test, NULL };

/* Downstream sink ------------------------------------------------------- */

static int sink_fd;
static unsigned sink_port;
static pthread_mutex_t sink_mu = PTHREAD_MUTEX_INITIALIZER;
/* Commands and DATA of the last transaction (connections are reused:
 * both start over with the first command after a dot). */
static char sink_cmds[32768];
static char sink_data[65536];
static int sink_msgs;
static int sink_conns;          /* connections accepted */
static int sink_dot_code = 250; /* reply to the end of data */
static bool sink_close_after_dot; /* close right after the next dot */
static bool sink_421_next;      /* next command: 421, then close */

static int
readline_fd(int fd, char *buf, size_t sz)
{
	size_t n = 0;

	while (n + 1 < sz) {
		ssize_t r = read(fd, buf + n, 1);

		if (r <= 0)
			return -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return (int)n;
}

static void
say(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		return;
}

static void *
sink_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(sink_fd, NULL, NULL);
		char line[2048];
		bool data = false, fresh = false, quit = false;

		if (fd < 0)
			return NULL;
		pthread_mutex_lock(&sink_mu);
		sink_conns++;
		sink_cmds[0] = sink_data[0] = '\0';
		pthread_mutex_unlock(&sink_mu);
		say(fd, "220 sink ESMTP\r\n");
		while (readline_fd(fd, line, sizeof(line)) > 0) {
			pthread_mutex_lock(&sink_mu);
			if (data) {
				if (strcmp(line, ".\r\n") == 0) {
					char r[64];

					data = false;
					sink_msgs++;
					snprintf(r, sizeof(r), "%d %s\r\n",
					    sink_dot_code, sink_dot_code == 250
					    ? "2.0.0 Ok: queued as S1"
					    : "4.3.0 try later");
					say(fd, r);
					fresh = true;
					if (sink_close_after_dot) {
						sink_close_after_dot = false;
						quit = true;
					}
				} else if (strlen(sink_data) + strlen(line) <
				    sizeof(sink_data)) {
					strcat(sink_data, line);
				}
			} else if (sink_421_next) {
				sink_421_next = false;
				say(fd, "421 4.4.2 sink: timeout exceeded\r\n");
				quit = true;
			} else {
				if (fresh)
					sink_cmds[0] = sink_data[0] = '\0';
				fresh = false;
				if (strlen(sink_cmds) + strlen(line) <
				    sizeof(sink_cmds))
					strcat(sink_cmds, line);
				if (!strncmp(line, "EHLO", 4))
					say(fd, "250-sink\r\n250-PIPELINING\r\n"
						"250-SIZE 10000000\r\n"
						"250-8BITMIME\r\n250-DSN\r\n"
						"250-SMTPUTF8\r\n250-XFORWARD "
						"NAME ADDR PROTO HELO IDENT "
						"SOURCE\r\n250 "
						"ENHANCEDSTATUSCODES\r\n");
				else if (!strncmp(line, "RCPT", 4) &&
				    strstr(line, "reject"))
					say(fd, "550 5.1.1 no such user\r\n");
				else if (!strncmp(line, "RCPT", 4) &&
				    strstr(line, "defer"))
					say(fd, "450 4.2.0 try later\r\n");
				else if (!strncmp(line, "DATA", 4)) {
					data = true;
					say(fd, "354 go\r\n");
				} else if (!strncmp(line, "QUIT", 4)) {
					say(fd, "221 bye\r\n");
					pthread_mutex_unlock(&sink_mu);
					break;
				} else
					say(fd, "250 2.0.0 ok\r\n");
			}
			pthread_mutex_unlock(&sink_mu);
			if (quit)
				break;
		}
		close(fd);
	}
}

/* The server ------------------------------------------------------------ */

static struct cfg *cfg, *lcfg;
static struct checks *checks;
static unsigned smtp_port, lmtp_port;
static struct event_base *base;
static int stop_pipe[2];
static pthread_t srv_thread, sink_thread;
static char dir[64];

static int
listen_any(unsigned *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0)
		return -1;
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void
on_stop(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd, (void)ev, (void)arg;
	event_base_loopbreak(base);
}

static void *
srv_main(void *arg)
{
	(void)arg;
	event_base_dispatch(base);
	return NULL;
}

static void
set(struct cfg *c, const char *k, const char *v)
{
	char err[256];

	if (cfg_set(c, k, v, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

static struct cfg *
mkcfg(const char *proto)
{
	struct cfg *c = cfg_new();
	char v[128];

	set(c, "protocol", proto);
	snprintf(v, sizeof(v), "%s/spool", dir);
	set(c, "spool_dir", v);
	snprintf(v, sizeof(v), "%s/q", dir);
	set(c, "quarantine_dir", v);
	snprintf(v, sizeof(v), "127.0.0.1:%u", sink_port);
	set(c, "reinject", v);
	set(c, "myhostname", "filter.test");
	set(c, "tag_level", "-999");
	set(c, "reinject_timeout", "5s");
	set(c, "smtp_timeout", "5s");
	return c;
}

static struct smtp_server *srv, *lsrv;
static struct event *stop_ev;

static int
setup(void **state)
{
	char err[256], v[128];
	int lfd, llfd;

	(void)state;
	log_init("session_test", LOG_TO_STDERR, 0);
	snprintf(dir, sizeof(dir), "/tmp/session_test.%ld", (long)getpid());
	mkdir(dir, 0700);
	snprintf(v, sizeof(v), "%s/spool", dir);
	mkdir(v, 0700);
	sink_fd = listen_any(&sink_port);
	assert_true(sink_fd >= 0);
	cfg = mkcfg("smtp");
	lcfg = mkcfg("lmtp");
	checks = checks_init_table(cfg, table, err, sizeof(err));
	assert_non_null(checks);
	lfd = listen_any(&smtp_port);
	llfd = listen_any(&lmtp_port);
	evutil_make_socket_nonblocking(lfd);
	evutil_make_socket_nonblocking(llfd);
	base = event_base_new();
	srv = smtp_server_new(base, lfd, cfg, checks);
	lsrv = smtp_server_new(base, llfd, lcfg, checks);
	assert_non_null(srv);
	assert_non_null(lsrv);
	assert_int_equal(pipe(stop_pipe), 0);
	stop_ev = event_new(base, stop_pipe[0], EV_READ, on_stop, NULL);
	event_add(stop_ev, NULL);
	pthread_create(&sink_thread, NULL, sink_main, NULL);
	pthread_create(&srv_thread, NULL, srv_main, NULL);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	assert_int_equal(write(stop_pipe[1], "x", 1), 1);
	pthread_join(srv_thread, NULL);
	/* The sink serves one connection at a time: let the pooled one go
	 * so that it sees the shutdown. */
	reinject_pool_flush(base);
	event_base_loop(base, EVLOOP_NONBLOCK); /* libevent closes them */
	shutdown(sink_fd, SHUT_RDWR);
	close(sink_fd);
	pthread_join(sink_thread, NULL);
	smtp_server_free(srv);
	smtp_server_free(lsrv);
	event_free(stop_ev);
	event_base_free(base);
	checks_free(checks);
	cfg_free(cfg);
	cfg_free(lcfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

/* The client ------------------------------------------------------------ */

static int
connect_to(unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = { 10, 0 };

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* reply - read one (multi-line) reply; returns its last line */
static char last[1024];

static const char *
reply(int fd)
{
	do {
		if (readline_fd(fd, last, sizeof(last)) <= 0)
			return strcpy(last, "EOF");
	} while (last[3] == '-');
	return last;
}

static void
expect(int fd, const char *send, const char *want)
{
	const char *r;

	if (send)
		say(fd, send);
	r = reply(fd);
	if (strncmp(r, want, strlen(want)) != 0)
		fail_msg("sent '%.60s': got '%s', want '%s'", send ? send : "",
		    r, want);
}

static size_t
spool_files(void)
{
	char p[128];
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	snprintf(p, sizeof(p), "%s/spool", dir);
	d = opendir(p);
	while (d && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* snapshot - copy what the sink saw (assertions must not fail while
 * holding its lock) */
static char cmds[sizeof(sink_cmds)], data[sizeof(sink_data)];

static void
snapshot(void)
{
	pthread_mutex_lock(&sink_mu);
	memcpy(cmds, sink_cmds, sizeof(cmds));
	memcpy(data, sink_data, sizeof(data));
	pthread_mutex_unlock(&sink_mu);
}

/* spool_settled - the spool file goes right after the reply is on the
 * wire (by design: reply first), so give the server a moment */
static size_t
spool_settled(void)
{
	size_t n = spool_files();

	for (int i = 0; i < 100 && n > 0; i++) {
		usleep(10000);
		n = spool_files();
	}
	return n;
}

static int
session(unsigned port, const char *hello)
{
	int fd = connect_to(port);

	expect(fd, NULL, "220 filter.test");
	expect(fd, hello, "250 ");
	return fd;
}

static void
test_pass_through(void **state)
{
	(void)state;
	int fd = session(smtp_port, "EHLO client.test\r\n");
	int before = sink_msgs;

	expect(fd, "XFORWARD NAME=mx.example ADDR=192.0.2.1 PROTO=ESMTP "
		   "HELO=mx.example\r\n", "250 2.0.0");
	expect(fd, "XFORWARD IDENT=QID1 SOURCE=REMOTE\r\n", "250 2.0.0");
	/* Pipelined: MAIL, RCPT, RCPT, DATA in one write. */
	say(fd, "MAIL FROM:<a@example.org> BODY=8BITMIME RET=HDRS ENVID=E1\r\n"
		"RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE "
		"ORCPT=rfc822;b+40example.net\r\nRCPT TO:<c@example.net>\r\n"
		"DATA\r\n");
	expect(fd, NULL, "250 2.1.0");
	expect(fd, NULL, "250 2.1.5");
	expect(fd, NULL, "250 2.1.5");
	expect(fd, NULL, "354 ");
	/* Dot-stuffing, a bare-LF line, and a smuggling attempt: a "."
	 * ended by a bare LF is data, not the end. */
	say(fd, "X-Test-Score: 1.5\r\nX-Spam-Flag: YES\r\nSubject: hi\r\n\r\n"
		"..dotted\r\nbare lf\n.\nMAIL FROM:<evil@x>\r\nend\r\n.\r\n");
	expect(fd, NULL, "250 2.0.0 Ok: queued as");
	expect(fd, "QUIT\r\n", "221 ");
	close(fd);
	snapshot();
	assert_int_equal(sink_msgs, before + 1);
	assert_non_null(strstr(cmds, "XFORWARD NAME=mx.example "
	    "ADDR=192.0.2.1 PROTO=ESMTP HELO=mx.example IDENT=QID1 "
	    "SOURCE=REMOTE\r\n"));
	assert_non_null(strstr(cmds, "MAIL FROM:<a@example.org> SIZE="));
	/* DSN parameters pass through as written. */
	assert_non_null(strstr(cmds, " BODY=8BITMIME RET=HDRS ENVID=E1\r\n"));
	assert_non_null(strstr(cmds, "RCPT TO:<b@example.net> NOTIFY=SUCCESS,"
	    "FAILURE ORCPT=rfc822;b+40example.net\r\n"
	    "RCPT TO:<c@example.net>\r\n"));
	/* Headers prepended, ours dropped, dots re-stuffed, the smuggled
	 * "." line kept as (un-stuffed) data. */
	if (strcmp(data, "X-Spam-Score: 1.5\r\nX-Spam-Level: *\r\n"
	    "X-Spam-Status: No, score=1.5 required=5.0 tests=TEST_SCORE\r\n"
	    "\tautolearn=no version=filterd-0.1\r\nX-Test-Score: 1.5\r\n"
	    "Subject: hi\r\n\r\n..dotted\r\nbare lf\r\n\r\n"
	    "MAIL FROM:<evil@x>\r\nend\r\n") != 0)
		fail_msg("downstream got:\n%s", data);
	assert_int_equal(spool_settled(), 0);
}

static void
test_spam_tagged(void **state)
{
	(void)state;
	int fd = session(smtp_port, "HELO client.test\r\n");

	expect(fd, "MAIL FROM:<>\r\n", "250 2.1.0");
	expect(fd, "RCPT TO:<b@example.net>\r\n", "250 2.1.5");
	expect(fd, "DATA\r\n", "354 ");
	expect(fd, "X-Test-Score: 7\r\nSubject: buy\r\n\r\nx\r\n.\r\n",
	    "250 2.0.0");
	close(fd);
	snapshot();
	assert_non_null(strstr(cmds, "MAIL FROM:<>"));
	assert_non_null(strstr(data, "X-Spam-Flag: YES\r\n"));
	assert_non_null(strstr(data, "X-Spam-Status: Yes, score=7.0 "));
	assert_non_null(strstr(data, "\r\nSubject: ***SPAM*** buy\r\n"));
}

static void
send_scored(int fd, const char *score, const char *want)
{
	char m[128];

	expect(fd, "MAIL FROM:<a@b>\r\n", "250 2.1.0");
	expect(fd, "RCPT TO:<b@example.net>\r\n", "250 2.1.5");
	expect(fd, "DATA\r\n", "354 ");
	snprintf(m, sizeof(m), "X-Test-Score: %s\r\n\r\nx\r\n.\r\n", score);
	expect(fd, m, want);
}

static void
test_kill_level(void **state)
{
	(void)state;
	int fd = session(smtp_port, "EHLO c\r\n");
	int before = sink_msgs;
	char p[128];
	DIR *d;
	struct dirent *e;
	int n = 0;

	set(cfg, "final_spam_destiny", "reject");
	send_scored(fd, "20", "554 5.7.0");
	set(cfg, "final_spam_destiny", "discard");
	send_scored(fd, "20", "250 2.7.0");
	set(cfg, "final_spam_destiny", "quarantine");
	send_scored(fd, "20", "250 2.7.0 Ok: quarantined");
	set(cfg, "final_spam_destiny", "pass");
	send_scored(fd, "9.9", "250 2.0.0");
	close(fd);
	assert_int_equal(sink_msgs, before + 1);
	snprintf(p, sizeof(p), "%s/q/new", dir);
	d = opendir(p);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(n, 1);
	assert_int_equal(spool_settled(), 0);
}

static void
test_downstream_failures(void **state)
{
	(void)state;
	int fd = session(smtp_port, "EHLO c\r\n");
	unsigned dead;
	int dfd = listen_any(&dead);
	char v[64];

	/* Tempfail at the end of data: 451 upstream. */
	sink_dot_code = 451;
	send_scored(fd, "0", "451 4.3.0");
	sink_dot_code = 250;
	/* Nobody listening: 451 4.4.1. */
	close(dfd);
	snprintf(v, sizeof(v), "127.0.0.1:%u", dead);
	set(cfg, "reinject", v);
	send_scored(fd, "0", "451 4.4.1");
	snprintf(v, sizeof(v), "127.0.0.1:%u", sink_port);
	set(cfg, "reinject", v);
	/* Refused recipient (SMTP): its 550 passes through. */
	expect(fd, "MAIL FROM:<a@b>\r\n", "250 2.1.0");
	expect(fd, "RCPT TO:<reject@example.net>\r\n", "250 2.1.5");
	expect(fd, "DATA\r\n", "354 ");
	expect(fd, "\r\nx\r\n.\r\n", "550 5.1.1");
	/* And the session still works. */
	send_scored(fd, "0", "250 2.0.0");
	close(fd);
	assert_int_equal(spool_settled(), 0);
}

/* A recipient deferred downstream (SMTP): 451 for the message, and the
 * others did not get it (the retry would deliver them twice); another
 * recipient's 5xx does not turn the deferral into a bounce. LMTP: one
 * reply each, the others delivered. */
/* to_pair - one message for <first> and <defer@>; want: the reply (the
 * first one under LMTP) to the end of data */
static void
to_pair(int fd, const char *first, const char *want)
{
	char rcpt[128];

	expect(fd, "MAIL FROM:<a@b>\r\n", "250 2.1.0");
	snprintf(rcpt, sizeof(rcpt), "RCPT TO:<%s>\r\n", first);
	expect(fd, rcpt, "250 2.1.5");
	expect(fd, "RCPT TO:<defer@example.net>\r\n", "250 2.1.5");
	expect(fd, "DATA\r\n", "354 ");
	expect(fd, "Subject: x\r\n\r\nx\r\n.\r\n", want);
}

static void
test_downstream_deferred(void **state)
{
	(void)state;
	int fd = session(smtp_port, "EHLO c\r\n");
	int before;

	pthread_mutex_lock(&sink_mu);
	before = sink_msgs;
	pthread_mutex_unlock(&sink_mu);
	to_pair(fd, "x@example.net", "451 4.4.0");
	to_pair(fd, "reject@example.net", "451 4.4.0");
	pthread_mutex_lock(&sink_mu);
	assert_int_equal(sink_msgs, before);
	pthread_mutex_unlock(&sink_mu);
	/* The session and the downstream still work. */
	send_scored(fd, "0", "250 2.0.0");
	close(fd);
	fd = connect_to(lmtp_port);
	expect(fd, NULL, "220 filter.test LMTP");
	expect(fd, "LHLO c\r\n", "250 ");
	to_pair(fd, "x@example.net", "250 2.0.0");
	expect(fd, NULL, "450 4.2.0");
	expect(fd, "QUIT\r\n", "221");
	close(fd);
	pthread_mutex_lock(&sink_mu);
	assert_int_equal(sink_msgs, before + 2);
	pthread_mutex_unlock(&sink_mu);
	assert_int_equal(spool_settled(), 0);
}

static void
test_lmtp(void **state)
{
	(void)state;
	int fd = connect_to(lmtp_port);

	/* EHLO at an LMTP server: 421, the MTA defers instead of bouncing. */
	expect(fd, NULL, "220 filter.test LMTP");
	expect(fd, "EHLO c\r\n", "421 4.3.5");
	expect(fd, NULL, "EOF");
	close(fd);
	fd = connect_to(lmtp_port);
	expect(fd, NULL, "220 filter.test LMTP");
	expect(fd, "LHLO c\r\n", "250 ");
	expect(fd, "MAIL FROM:<a@b>\r\n", "250 2.1.0");
	expect(fd, "RCPT TO:<x@example.net>\r\n", "250 2.1.5");
	expect(fd, "RCPT TO:<reject@example.net>\r\n", "250 2.1.5");
	expect(fd, "RCPT TO:<y@example.net>\r\n", "250 2.1.5");
	expect(fd, "DATA\r\n", "354 ");
	/* One reply per recipient, in order (RFC 2033 section 4.2). */
	expect(fd, "Subject: x\r\n\r\nx\r\n.\r\n", "250 2.0.0");
	expect(fd, NULL, "550 5.1.1");
	expect(fd, NULL, "250 2.0.0");
	expect(fd, "QUIT\r\n", "221");
	close(fd);
}

static void
test_limits(void **state)
{
	(void)state;
	int fd = session(smtp_port, "EHLO c\r\n");
	static char big[70000];

	expect(fd, "RCPT TO:<a@b>\r\n", "503 5.5.1");
	expect(fd, "DATA\r\n", "503 5.5.1");
	expect(fd, "VRFY root\r\n", "502 5.5.1");
	expect(fd, "FOO\r\n", "500 5.5.1");
	expect(fd, "MAIL FROM:<a@b> AUTH=<>\r\n", "555 5.5.4");
	expect(fd, "MAIL FROM:<a@b> SIZE=999999999999\r\n", "552 5.3.4");
	/* A command line over line_length_limit. */
	memset(big, 'A', sizeof(big) - 3);
	memcpy(big + sizeof(big) - 3, "\r\n", 3);
	say(fd, "NOOP ");
	say(fd, big);
	expect(fd, NULL, "500 5.5.2");
	expect(fd, "NOOP\r\n", "250 2.0.0");
	/* Too many recipients. */
	set(cfg, "max_recipients", "2");
	expect(fd, "MAIL FROM:<a@b>\r\n", "250 2.1.0");
	expect(fd, "RCPT TO:<1@b>\r\n", "250 2.1.5");
	expect(fd, "RCPT TO:<2@b>\r\n", "250 2.1.5");
	expect(fd, "RCPT TO:<3@b>\r\n", "452 4.5.3");
	expect(fd, "RSET\r\n", "250 2.0.0");
	set(cfg, "max_recipients", "1000");
	/* A message over message_size_limit: read to the end, then 552. */
	set(cfg, "message_size_limit", "2k");
	expect(fd, "MAIL FROM:<a@b>\r\n", "250 2.1.0");
	expect(fd, "RCPT TO:<1@b>\r\n", "250 2.1.5");
	expect(fd, "DATA\r\n", "354 ");
	for (int i = 0; i < 100; i++)
		say(fd, "0123456789012345678901234567890123456789\r\n");
	expect(fd, ".\r\n", "552 5.3.4");
	set(cfg, "message_size_limit", "64M");
	/* A data line over line_length_limit. */
	expect(fd, "MAIL FROM:<a@b>\r\n", "250 2.1.0");
	expect(fd, "RCPT TO:<1@b>\r\n", "250 2.1.5");
	expect(fd, "DATA\r\n", "354 ");
	say(fd, big);
	expect(fd, ".\r\n", "552 5.3.4");
	expect(fd, "QUIT\r\n", "221");
	close(fd);
	assert_int_equal(spool_settled(), 0);
}

static void
test_many_rcpts(void **state)
{
	(void)state;
	int fd = session(smtp_port, "EHLO c\r\n");
	static char batch[300 * 40];
	size_t n = 0, rcpts = 0;
	char *p;

	/* 300 pipelined RCPTs in one write, and all of them downstream
	 * (pipelined again by the reinjection client). */
	n += (size_t)sprintf(batch, "MAIL FROM:<a@b>\r\n");
	for (int i = 0; i < 300; i++)
		n += (size_t)sprintf(batch + n, "RCPT TO:<r%d@example.net>\r\n",
		    i);
	sprintf(batch + n, "DATA\r\n");
	say(fd, batch);
	expect(fd, NULL, "250 2.1.0");
	for (int i = 0; i < 300; i++)
		expect(fd, NULL, "250 2.1.5");
	expect(fd, NULL, "354 ");
	expect(fd, "Subject: many\r\n\r\nx\r\n.\r\n", "250 2.0.0");
	close(fd);
	snapshot();
	for (p = cmds; (p = strstr(p, "RCPT TO:<r")) != NULL; p++)
		rcpts++;
	assert_int_equal(rcpts, 300);
	assert_non_null(strstr(cmds, "RCPT TO:<r299@example.net>\r\n"));
}

static void
test_empty_message(void **state)
{
	(void)state;
	int fd = session(smtp_port, "EHLO c\r\n");

	/* Nothing between DATA and the dot: still scanned, tagged, passed. */
	expect(fd, "MAIL FROM:<a@b>\r\n", "250 2.1.0");
	expect(fd, "RCPT TO:<b@example.net>\r\n", "250 2.1.5");
	expect(fd, "DATA\r\n", "354 ");
	expect(fd, ".\r\n", "250 2.0.0");
	close(fd);
	snapshot();
	if (strncmp(data, "X-Spam-Score: 0.0\r\nX-Spam-Level: \r\n"
	    "X-Spam-Status: No, score=0.0 required=5.0 tests=none", 80) != 0)
		fail_msg("downstream got:\n%s", data);
	assert_int_equal(spool_settled(), 0);
}

static void
test_line_deadline(void **state)
{
	(void)state;
	int fd;
	const char *r = NULL;

	/* One byte every 200 ms never lets the connection idle for 1 s,
	 * but the line as a whole must arrive within smtp_timeout. */
	set(cfg, "smtp_timeout", "1s");
	fd = session(smtp_port, "EHLO c\r\n");
	for (int i = 0; i < 40; i++) { /* 8 s: slack for a loaded box */
		struct timeval tv = { 0, 200000 };
		fd_set rs;

		FD_ZERO(&rs);
		FD_SET(fd, &rs);
		if (select(fd + 1, &rs, NULL, NULL, &tv) > 0) {
			r = reply(fd);
			break;
		}
		if (send(fd, "N", 1, MSG_NOSIGNAL) != 1)
			break;
	}
	set(cfg, "smtp_timeout", "5s");
	assert_non_null(r);
	assert_true(strncmp(r, "421 4.4.2", 9) == 0);
	close(fd);
}

/* Connection pool (filterd/reinject.c) -------------------------------- */

static int
sink_get(const int *v)
{
	int n;

	pthread_mutex_lock(&sink_mu);
	n = *v;
	pthread_mutex_unlock(&sink_mu);
	return n;
}

static void
sink_flag(bool *flag)
{
	pthread_mutex_lock(&sink_mu);
	*flag = true;
	pthread_mutex_unlock(&sink_mu);
}

/* one_message - a whole upstream session with XFORWARD IDENT=ident */
static void
one_message(const char *ident, const char *want)
{
	int fd = session(smtp_port, "EHLO mx\r\n");
	char x[128];

	snprintf(x, sizeof(x), "XFORWARD NAME=mx.example ADDR=192.0.2.7 "
	    "IDENT=%s\r\n", ident);
	expect(fd, x, "250 2.0.0");
	send_scored(fd, "0", want);
	expect(fd, "QUIT\r\n", "221");
	close(fd);
}

static void
test_pool_reuse(void **state)
{
	(void)state;
	int conns = sink_get(&sink_conns), msgs = sink_get(&sink_msgs);
	char x[128];

	/* Ten messages in a row: one downstream connection at most (none
	 * when an earlier test left one in the pool), and XFORWARD again
	 * in every transaction, since Postfix forgets it after each. */
	for (int i = 0; i < 10; i++) {
		snprintf(x, sizeof(x), "POOL%d", i);
		one_message(x, "250 2.0.0");
		snapshot();
		snprintf(x, sizeof(x), "XFORWARD NAME=mx.example "
		    "ADDR=192.0.2.7 IDENT=POOL%d\r\nMAIL FROM:<a@b>", i);
		if (strstr(cmds, x) == NULL)
			fail_msg("message %d, downstream got:\n%s", i, cmds);
		if (i > 0 && strstr(cmds, "EHLO") != NULL)
			fail_msg("message %d: a new connection:\n%s", i,
			    cmds);
	}
	assert_int_equal(sink_get(&sink_msgs), msgs + 10);
	assert_true(sink_get(&sink_conns) - conns <= 1);
	assert_int_equal(spool_settled(), 0);
}

static void
test_pool_stale(void **state)
{
	(void)state;
	int conns, msgs;

	one_message("WARM", "250 2.0.0");
	/* The server closes a pooled connection while it is idle: noticed
	 * (EOF), dropped, the next message opens a new one. */
	sink_flag(&sink_close_after_dot);
	one_message("EOF1", "250 2.0.0");
	usleep(100000);
	conns = sink_get(&sink_conns);
	one_message("EOF2", "250 2.0.0");
	assert_int_equal(sink_get(&sink_conns), conns + 1);
	/* The server gives up on it just as it is taken (421 to the
	 * XFORWARD, then close): one transparent retry, a 250, not a 451. */
	conns = sink_get(&sink_conns);
	msgs = sink_get(&sink_msgs);
	sink_flag(&sink_421_next);
	one_message("RACE1", "250 2.0.0");
	assert_int_equal(sink_get(&sink_conns), conns + 1);
	assert_int_equal(sink_get(&sink_msgs), msgs + 1);
	snapshot();
	/* the retry sent the whole dialogue again, XFORWARD included */
	assert_non_null(strstr(cmds, "EHLO filter.test\r\n"));
	assert_non_null(strstr(cmds, "IDENT=RACE1\r\n"));
	/* Same with no XFORWARD: the 421 answers MAIL FROM. */
	{
		int fd = session(smtp_port, "EHLO c\r\n");

		sink_flag(&sink_421_next);
		send_scored(fd, "0", "250 2.0.0");
		close(fd);
	}
	assert_int_equal(sink_get(&sink_conns), conns + 2);
	assert_int_equal(sink_get(&sink_msgs), msgs + 2);
	assert_int_equal(spool_settled(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_through),
		cmocka_unit_test(test_spam_tagged),
		cmocka_unit_test(test_kill_level),
		cmocka_unit_test(test_downstream_failures),
		cmocka_unit_test(test_downstream_deferred),
		cmocka_unit_test(test_lmtp),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_many_rcpts),
		cmocka_unit_test(test_empty_message),
		cmocka_unit_test(test_line_deadline),
		cmocka_unit_test(test_pool_reuse),
		cmocka_unit_test(test_pool_stale),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
