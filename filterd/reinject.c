/*
 * filterd/reinject.c - asynchronous SMTP client for the reinjection
 *
 * Dialogue (RFC 5321 section 3.3): greeting, EHLO, XFORWARD (attributes
 * the server offers, Postfix XFORWARD_README), MAIL FROM with SIZE and
 * BODY=8BITMIME when offered, one RCPT per recipient, DATA, the message
 * dot-stuffed (section 4.5.2), ".". With PIPELINING (RFC 2920) XFORWARD,
 * MAIL, the RCPTs and DATA go in one write. Every step has
 * reinject_timeout; a connection failure, timeout or protocol error
 * gives every recipient
 * 451 4.4.x so the upstream MTA keeps the message. Downstream 4xx/5xx
 * replies are passed through per recipient. The body is added to the
 * output by reference (no copy of a large message).
 *
 * All or none (req.all_or_none, for an SMTP upstream): a recipient
 * deferred at RCPT stops the transaction before the body, so that the
 * upstream's retry of the whole message delivers nobody twice. Without
 * PIPELINING, DATA is never sent; with it, DATA went out with the
 * RCPTs and the server's 354 is answered by closing the connection:
 * a transaction without its end-of-data indicator is not delivered
 * (RFC 5321 sections 3.3 and 4.1.1.4: the server acts on the ".").
 * Two-phase (req.hold): the same point, the 354, is where a held
 * transaction waits (no timeout: the caller bounds it) for
 * reinject_commit() or reinject_cancel(), so that several transactions
 * (policy groups) are all sent or none.
 *
 * Connection pool (req.pool_max > 0): after a transaction that ended
 * with the reply to the final dot (other than 421), the connection is
 * kept idle for the next message to the same address from the same
 * event base (one base per worker process), as amavis does, instead of
 * QUIT. RFC 5321 section 4.1.1.4: the end of data clears the
 * transaction, so the next MAIL needs no RSET. Postfix forgets the
 * XFORWARD attributes with each transaction, so they are sent again
 * for every message. At most pool_max idle connections per base; an
 * idle one is closed on any input (a 421, EOF), error or after
 * idle_timeout_ms. A reused connection that fails before MAIL FROM was
 * accepted (the server closed it while we took it) is retried once on
 * a fresh connection, so a stale connection never becomes a 451.
 * Pooled connections are owned by the pool; reinject_pool_flush()
 * closes them (before the base is freed). The pool is a process-wide
 * list without a lock: every reinjection of a process runs in the
 * thread of its event base, as the workers do.
 */
#include "filterd/reinject.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "filterd/smtp_parse.h"

enum step { S_GREET, S_EHLO, S_XFWD, S_MAIL, S_RCPT, S_DATA, S_DOT,
	S_QUIT };

/* What the server's EHLO offered; kept with a pooled connection. */
struct caps {
	bool pipelining, has_size, has_8bit, has_dsn, has_utf8;
	char xattrs[64];              /* " NAME ADDR ..." offered */
};

/* An idle pooled connection. */
struct idle {
	struct idle *next;
	struct event_base *base;
	struct bufferevent *bev;
	struct caps caps;
	char key[320];                /* "addr helo" */
};

static struct idle *pool;             /* this process's idle list */

struct reinject {
	struct reinject_req req;
	struct event_base *base;
	struct bufferevent *bev;
	struct bufferevent *stale;    /* a failed reused one, freed later */
	reinject_cb *cb;
	void *arg;
	struct reinject_reply *replies;
	struct reinject_reply fail;   /* a failure before the end */
	struct caps caps;
	bool reused;                  /* bev came from the pool */
	bool retried;                 /* the one retry was used */
	bool restart;                 /* kick means: reconnect */
	bool mail_ok;                 /* MAIL FROM got a 2xx */
	bool keep;                    /* the dialogue may go to the pool */
	/* Replies still expected, in order, as runs of one step (with
	 * pipelining: MAIL, n x RCPT, DATA). */
	struct {
		enum step s;
		size_t n;
	} expect[8];
	size_t nexpect, rcpt_sent, rcpt_acked, xfwd_pending;
	size_t accepted;
	bool data_ok;
	bool held;                    /* at the 354, waiting for commit */
	struct buf reply;             /* multi-line reply text */
	struct event *kick;           /* defers cb for early failures */
	bool done, reading;
};

static void finish(struct reinject *);
static void fail(struct reinject *);
static void set_step_timeouts(struct reinject *);
static void reinject_free(struct reinject *);

static void
set_fail(struct reinject *r, int code, const char *fmt, const char *why)
{
	r->fail.code = code;
	snprintf(r->fail.text, sizeof(r->fail.text), fmt, why);
}

static void
expect(struct reinject *r, enum step s)
{
	if (r->nexpect && r->expect[r->nexpect - 1].s == s)
		r->expect[r->nexpect - 1].n++;
	else if (r->nexpect < sizeof(r->expect) / sizeof(r->expect[0])) {
		r->expect[r->nexpect].s = s;
		r->expect[r->nexpect++].n = 1;
	}
}

/* expected_next - the step the next reply answers, popped */
static enum step
expected_next(struct reinject *r)
{
	enum step s = r->expect[0].s;

	if (--r->expect[0].n == 0)
		memmove(r->expect, r->expect + 1,
		    --r->nexpect * sizeof(r->expect[0]));
	return s;
}

static void
send_line(struct reinject *r, const char *fmt, const char *a, const char *b)
{
	evbuffer_add_printf(bufferevent_get_output(r->bev), fmt, a, b);
}

static void
send_mail(struct reinject *r)
{
	char params[96] = "";
	int n = 0;

	if (r->caps.has_size)
		n = snprintf(params, sizeof(params), " SIZE=%zu",
		    r->req.head.len + r->req.body.len);
	if (r->req.body_8bit && r->caps.has_8bit && n >= 0)
		n += snprintf(params + n, sizeof(params) - (size_t)n,
		    " BODY=8BITMIME");
	if (r->req.smtputf8 && r->caps.has_utf8 && n >= 0 &&
	    (size_t)n < sizeof(params))
		snprintf(params + n, sizeof(params) - (size_t)n, " SMTPUTF8");
	evbuffer_add_printf(bufferevent_get_output(r->bev),
	    "MAIL FROM:<%s>%s%s\r\n", r->req.mail_from, params,
	    r->caps.has_dsn && r->req.mail_dsn ? r->req.mail_dsn : "");
	expect(r, S_MAIL);
}

static void
send_rcpt(struct reinject *r)
{
	size_t i = r->rcpt_sent++;
	const char *dsn = r->caps.has_dsn && r->req.rcpt_dsn ? r->req.rcpt_dsn[i]
							: NULL;

	send_line(r, "RCPT TO:<%s>%s\r\n", r->req.rcpts[i], dsn ? dsn : "");
	expect(r, S_RCPT);
}

static void
send_transaction(struct reinject *r)
{
	send_mail(r);
	if (!r->caps.pipelining)
		return;
	while (r->rcpt_sent < r->req.nrcpts)
		send_rcpt(r);
	send_line(r, "DATA\r\n%s%s", "", "");
	expect(r, S_DATA);
}

/* xfwd_add - append " NAME=value" if offered; flush the line at 400
 * bytes (Postfix accepts up to 512 per XFORWARD line). */
static void
xfwd_add(struct reinject *r, struct buf *line, const char *name,
    const char *value)
{
	char enc[600], key[16];

	if (value == NULL)
		return;
	snprintf(key, sizeof(key), " %s ", name);
	if (strstr(r->caps.xattrs, key) == NULL)
		return;
	if (smtp_xtext_encode(value, enc, sizeof(enc)) < 0)
		return;
	if (line->len && line->len + strlen(enc) + 20 > 400) {
		evbuffer_add_printf(bufferevent_get_output(r->bev),
		    "XFORWARD%.*s\r\n", (int)line->len, (char *)line->p);
		r->xfwd_pending++;
		buf_reset(line);
	}
	buf_printf(line, " %s=%s", name, enc);
}

static void
send_xforward(struct reinject *r)
{
	struct buf line;

	buf_init(&line, 1024);
	xfwd_add(r, &line, "NAME", r->req.x_name);
	xfwd_add(r, &line, "ADDR", r->req.x_addr);
	xfwd_add(r, &line, "PROTO", r->req.x_proto);
	xfwd_add(r, &line, "HELO", r->req.x_helo);
	xfwd_add(r, &line, "IDENT", r->req.x_ident);
	xfwd_add(r, &line, "SOURCE", r->req.x_source);
	if (line.len) {
		evbuffer_add_printf(bufferevent_get_output(r->bev),
		    "XFORWARD%.*s\r\n", (int)line.len, (char *)line.p);
		r->xfwd_pending++;
	}
	buf_free(&line);
	for (size_t i = 0; i < r->xfwd_pending; i++)
		expect(r, S_XFWD);
	/* XFORWARD may be pipelined (Postfix XFORWARD_README): with
	 * PIPELINING, XFORWARD, MAIL, the RCPTs and DATA go in one write. */
	if (r->xfwd_pending == 0 || r->caps.pipelining)
		send_transaction(r);
}

/* stuff - add s to out with a dot doubled at each line start */
static void
stuff(struct evbuffer *out, struct bstr s, bool *bol)
{
	size_t i = 0;

	while (i < s.len) {
		const unsigned char *nl;
		size_t end;

		if (*bol && s.p[i] == '.')
			evbuffer_add(out, ".", 1);
		nl = memchr(s.p + i, '\n', s.len - i);
		end = nl ? (size_t)(nl - s.p) + 1 : s.len;
		evbuffer_add_reference(out, s.p + i, end - i, NULL, NULL);
		*bol = nl != NULL;
		i = end;
	}
}

static void
send_message(struct reinject *r)
{
	struct evbuffer *out = bufferevent_get_output(r->bev);
	bool bol = true;

	stuff(out, r->req.head, &bol);
	stuff(out, r->req.body, &bol);
	if (!bol)
		evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, ".\r\n", 3);
	expect(r, S_DOT);
}

static void
parse_ehlo_line(struct reinject *r, struct bstr t)
{
	if (bstr_caseeq_cstr(t, "PIPELINING"))
		r->caps.pipelining = true;
	else if (bstr_caseeq_cstr(t, "8BITMIME"))
		r->caps.has_8bit = true;
	else if (bstr_casestarts(t, "SIZE"))
		r->caps.has_size = true;
	else if (bstr_caseeq_cstr(t, "DSN"))
		r->caps.has_dsn = true;
	else if (bstr_caseeq_cstr(t, "SMTPUTF8"))
		r->caps.has_utf8 = true;
	else if (bstr_casestarts(t, "XFORWARD ")) {
		size_t n = t.len - 8 < sizeof(r->caps.xattrs) - 2
		    ? t.len - 8 : sizeof(r->caps.xattrs) - 2;

		memcpy(r->caps.xattrs, t.p + 8, n);
		r->caps.xattrs[n] = ' ';
		r->caps.xattrs[n + 1] = '\0';
		for (char *p = r->caps.xattrs; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 32);
	}
}

/* hold_back - all or none, and a recipient was deferred: the accepted
 * ones fail too (finish() gives them r->fail), the connection is not
 * kept */
static bool
hold_back(struct reinject *r)
{
	bool deferred = false;

	for (size_t i = 0; i < r->rcpt_acked; i++)
		if (r->replies[i].code / 100 == 4)
			deferred = true;
	if (!r->req.all_or_none || !deferred)
		return false;
	set_fail(r, 451, "4.4.0 reinject: %s",
	    "not sent: another recipient was deferred downstream");
	r->keep = false;
	return true;
}

/* result - the replies so far */
static struct reinject_result
result(const struct reinject *r)
{
	struct reinject_result res = { .rcpt = r->replies,
		.nrcpts = r->req.nrcpts };

	for (size_t i = 0; i < r->req.nrcpts; i++)
		if (r->replies[i].code / 100 == 2)
			res.accepted++;
	return res;
}

/* hold - the server waits for the body: report, wait for the caller */
static void
hold(struct reinject *r)
{
	struct reinject_result res = result(r);

	r->held = true;
	bufferevent_set_timeouts(r->bev, NULL, NULL);
	res.held = true;
	r->cb(r->arg, &res);
}

void
reinject_commit(struct reinject *r)
{
	if (r == NULL || !r->held || r->done)
		return;
	r->held = false;
	set_step_timeouts(r);
	send_message(r);
}

static void
on_reply(struct reinject *r, int code, const char *text)
{
	enum step s;

	if (r->nexpect == 0) {
		set_fail(r, 451, "4.4.0 reinject: unexpected reply: %s", text);
		fail(r);
		return;
	}
	s = expected_next(r);
	switch (s) {
	case S_GREET:
		if (code != 220) {
			set_fail(r, code >= 500 ? 451 : code / 100 == 4 ? code
				: 451, "4.4.0 reinject greeting: %s", text);
			finish(r);
			return;
		}
		send_line(r, "EHLO %s\r\n%s", r->req.helo, "");
		expect(r, S_EHLO);
		break;
	case S_EHLO:
		if (code != 250) {
			set_fail(r, 451, "4.4.0 reinject EHLO: %s", text);
			finish(r);
			return;
		}
		send_xforward(r);
		break;
	case S_XFWD:
		if (code / 100 != 2) {
			set_fail(r, 451, "4.4.0 reinject XFORWARD: %s", text);
			fail(r);
			return;
		}
		if (--r->xfwd_pending == 0 && !r->caps.pipelining)
			send_transaction(r);
		break;
	case S_MAIL:
		if (code / 100 != 2) {
			/* Pass the downstream verdict on the sender through. */
			r->fail.code = code / 100 == 5 ? code : 451;
			snprintf(r->fail.text, sizeof(r->fail.text), "%s",
			    text);
			/* 421: the server is closing (a pooled connection
			 * that timed out there): worth the one retry. */
			if (code == 421)
				fail(r);
			else
				finish(r);
			return;
		}
		r->mail_ok = true;
		if (!r->caps.pipelining)
			send_rcpt(r);
		break;
	case S_RCPT: {
		struct reinject_reply *rep = &r->replies[r->rcpt_acked++];

		rep->code = code;
		snprintf(rep->text, sizeof(rep->text), "%s", text);
		if (code / 100 == 2)
			r->accepted++;
		if (r->caps.pipelining)
			break;
		if (r->rcpt_sent < r->req.nrcpts)
			send_rcpt(r);
		else if (r->accepted == 0)
			finish(r);
		else if (hold_back(r))
			finish(r); /* before DATA: nothing to abort */
		else {
			send_line(r, "DATA\r\n%s%s", "", "");
			expect(r, S_DATA);
		}
		break;
	}
	case S_DATA:
		if (code == 354 && r->accepted > 0 && hold_back(r)) {
			/* The server waits for the body: the close (no QUIT,
			 * it would be message text) drops the transaction. */
			finish(r);
		} else if (code == 354 && r->accepted > 0 && r->req.hold) {
			hold(r);
		} else if (code == 354 && r->accepted > 0) {
			send_message(r);
		} else if (code == 354) {
			/* No recipient took it, yet the server wants data:
			 * send an empty message and ignore the result. */
			evbuffer_add(bufferevent_get_output(r->bev), ".\r\n",
			    3);
			finish(r);
		} else {
			for (size_t i = 0; i < r->req.nrcpts; i++)
				if (r->replies[i].code / 100 == 2) {
					r->replies[i].code =
					    code / 100 == 5 ? code : 451;
					snprintf(r->replies[i].text,
					    sizeof(r->replies[i].text), "%s",
					    text);
				}
			r->accepted = 0;
			finish(r);
		}
		break;
	case S_DOT:
		for (size_t i = 0; i < r->req.nrcpts; i++)
			if (r->replies[i].code / 100 == 2) {
				r->replies[i].code = code / 100 == 2 ? code
				    : code / 100 == 5 ? code : 451;
				snprintf(r->replies[i].text,
				    sizeof(r->replies[i].text), "%s", text);
			}
		if (code / 100 != 2)
			r->accepted = 0;
		r->data_ok = code / 100 == 2;
		/* The transaction is over either way: the connection can
		 * serve the next one unless the server is leaving. */
		r->keep = r->req.pool_max > 0 && code != 421;
		if (!r->keep)
			send_line(r, "QUIT\r\n%s%s", "", "");
		finish(r);
		break;
	case S_QUIT:
		break;
	}
}

static void on_read_lines(struct reinject *, struct evbuffer *);

/* on_read - replies; finish() inside only marks the client done (and
 * runs the callback), the memory goes when the loop is left */
static void
on_read(struct bufferevent *bev, void *arg)
{
	struct reinject *r = arg;

	r->reading = true;
	on_read_lines(r, bufferevent_get_input(bev));
	r->reading = false;
	if (r->done)
		reinject_free(r);
}

static void
on_read_lines(struct reinject *r, struct evbuffer *in)
{
	char *line;
	size_t n;

	while (!r->done && !r->restart &&
	    (line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		int code;
		bool last;
		struct bstr text;

		if (smtp_parse_reply((unsigned char *)line, n, &code, &last,
		    &text) < 0) {
			set_fail(r, 451, "4.4.0 reinject: bad reply '%.60s'",
			    line);
			free(line);
			fail(r);
			return;
		}
		if (r->nexpect && r->expect[0].s == S_EHLO && code == 250)
			parse_ehlo_line(r, text);
		if (r->reply.len == 0)
			buf_append(&r->reply, text.p, text.len);
		free(line);
		if (!last)
			continue;
		buf_cstr(&r->reply);
		{
			char t[200];

			snprintf(t, sizeof(t), "%s",
			    r->reply.p ? (char *)r->reply.p : "");
			buf_reset(&r->reply);
			on_reply(r, code, t);
		}
	}
	if (!r->done && !r->restart && evbuffer_get_length(in) > 4096) {
		set_fail(r, 451, "4.4.0 reinject: %s", "reply line too long");
		fail(r);
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct reinject *r = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_TIMEOUT)
		set_fail(r, 451, "4.4.2 reinject: %s", "timeout");
	else if (what & BEV_EVENT_EOF)
		set_fail(r, 451, "4.4.2 reinject: %s",
		    "connection closed by server");
	else
		set_fail(r, 451, "4.4.1 reinject: %s",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	fail(r);
}

/* Pool ------------------------------------------------------------- */

static void
pool_key(char *key, size_t sz, const struct reinject_req *req)
{
	snprintf(key, sz, "%s %s", req->addr, req->helo ? req->helo : "");
}

static void
pool_drop(struct idle *id)
{
	for (struct idle **pp = &pool; *pp; pp = &(*pp)->next)
		if (*pp == id) {
			*pp = id->next;
			break;
		}
	bufferevent_free(id->bev);
	free(id);
}

/* idle_read - an idle connection spoke (a 421 before it closes): it is
 * no longer in a state we know, drop it */
static void
idle_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	pool_drop(arg);
}

/* idle_event - EOF, error or idle_timeout_ms */
static void
idle_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev, (void)what;
	pool_drop(arg);
}

/* pool_take - the most recently used idle connection for req, or NULL */
static struct idle *
pool_take(struct event_base *base, const struct reinject_req *req)
{
	char key[sizeof(pool->key)];

	pool_key(key, sizeof(key), req);
	for (struct idle **pp = &pool; *pp; pp = &(*pp)->next)
		if ((*pp)->base == base && strcmp((*pp)->key, key) == 0) {
			struct idle *id = *pp;

			*pp = id->next;
			return id;
		}
	return NULL;
}

/* pool_put - park r's connection; 0 when the pool took it */
static int
pool_put(struct reinject *r)
{
	struct idle *id;
	struct timeval tv;

	if (!r->keep || r->fail.code || r->nexpect || r->bev == NULL ||
	    evbuffer_get_length(bufferevent_get_input(r->bev)) ||
	    evbuffer_get_length(bufferevent_get_output(r->bev)) ||
	    reinject_pool_idle(r->base) >= r->req.pool_max)
		return -EAGAIN;
	if ((id = calloc(1, sizeof(*id))) == NULL)
		return -ENOMEM;
	id->base = r->base;
	id->bev = r->bev;
	id->caps = r->caps;
	pool_key(id->key, sizeof(id->key), &r->req);
	tv.tv_sec = (time_t)(r->req.idle_timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(r->req.idle_timeout_ms % 1000) * 1000;
	bufferevent_setcb(id->bev, idle_read, NULL, idle_event, id);
	bufferevent_set_timeouts(id->bev, &tv, NULL);
	bufferevent_enable(id->bev, EV_READ);
	id->next = pool;
	pool = id;
	r->bev = NULL;
	return 0;
}

/* reinject_pool_idle - idle connections held for base */
size_t
reinject_pool_idle(struct event_base *base)
{
	size_t n = 0;

	for (struct idle *id = pool; id; id = id->next)
		n += id->base == base;
	return n;
}

/* reinject_pool_flush - close the idle connections of base (NULL: all) */
void
reinject_pool_flush(struct event_base *base)
{
	struct idle **pp = &pool;

	while (*pp) {
		struct idle *id = *pp;

		if (base && id->base != base) {
			pp = &id->next;
			continue;
		}
		*pp = id->next;
		bufferevent_free(id->bev);
		free(id);
	}
}

/* Client ------------------------------------------------------------ */

static void
set_step_timeouts(struct reinject *r)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(r->req.timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(r->req.timeout_ms % 1000) * 1000;
	bufferevent_set_timeouts(r->bev, &tv, &tv);
}

/* open_conn - a fresh connection; 0, or -errno (nothing to report yet:
 * a failed connect is reported through the kick) */
static int
open_conn(struct reinject *r)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss), one = 1;
	evutil_socket_t fd;

	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(r->req.addr, (struct sockaddr *)&ss,
	    &sslen) < 0)
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return -errno;
	/* MAIL, RCPTs and DATA go out in one write, the body after 354:
	 * no Nagle delay waiting for an ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r->bev = bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (r->bev == NULL) {
		close(fd);
		return -ENOMEM;
	}
	bufferevent_setcb(r->bev, on_read, NULL, on_event, r);
	set_step_timeouts(r);
	bufferevent_enable(r->bev, EV_READ | EV_WRITE);
	expect(r, S_GREET);
	if (bufferevent_socket_connect(r->bev, (struct sockaddr *)&ss,
	    sslen) < 0) {
		/* Report asynchronously: the caller expects cb later. */
		set_fail(r, 451, "4.4.1 reinject: %s", "connect failed");
		event_active(r->kick, 0, 0);
	}
	return 0;
}

/* fail - a failure (r->fail set): on a reused connection before MAIL
 * FROM was accepted, start over once on a fresh connection; else the
 * end */
static void
fail(struct reinject *r)
{
	if (!r->reused || r->retried || r->mail_ok || r->done) {
		finish(r);
		return;
	}
	r->retried = true;
	r->reused = false;
	/* We may be inside this bufferevent's callback: silence it now,
	 * free it from the kick. */
	bufferevent_setcb(r->bev, NULL, NULL, NULL, NULL);
	bufferevent_disable(r->bev, EV_READ | EV_WRITE);
	r->stale = r->bev;
	r->bev = NULL;
	memset(&r->fail, 0, sizeof(r->fail));
	memset(&r->caps, 0, sizeof(r->caps));
	memset(r->replies, 0, (r->req.nrcpts ? r->req.nrcpts : 1) *
	    sizeof(*r->replies));
	r->nexpect = r->rcpt_sent = r->rcpt_acked = r->xfwd_pending = 0;
	r->accepted = 0;
	r->data_ok = r->keep = false;
	buf_reset(&r->reply);
	r->restart = true;
	event_active(r->kick, 0, 0);
}

static void
on_kick(evutil_socket_t fd, short ev, void *arg)
{
	struct reinject *r = arg;

	(void)fd, (void)ev;
	if (r->restart) {
		r->restart = false;
		bufferevent_free(r->stale);
		r->stale = NULL;
		if (open_conn(r) < 0) {
			set_fail(r, 451, "4.4.1 reinject: %s",
			    "cannot open a connection");
			finish(r);
		}
		return;
	}
	finish(r);
}

static void
reinject_free(struct reinject *r)
{
	if (r->bev)
		bufferevent_free(r->bev);
	if (r->stale)
		bufferevent_free(r->stale);
	if (r->kick)
		event_free(r->kick);
	buf_free(&r->reply);
	free(r->replies);
	free(r);
}

/* finish - fill in recipients without a reply from the failure, park
 * the connection or let it go, report */
static void
finish(struct reinject *r)
{
	struct reinject_result res;

	if (r->done)
		return;
	r->done = true;
	if (r->fail.code == 0 && !r->data_ok && r->accepted == 0 &&
	    r->rcpt_acked < r->req.nrcpts)
		set_fail(r, 451, "4.4.0 reinject: %s", "incomplete dialogue");
	for (size_t i = 0; i < r->req.nrcpts; i++) {
		if (r->fail.code && (i >= r->rcpt_acked ||
		    r->replies[i].code / 100 == 2)) {
			r->replies[i] = r->fail;
		}
	}
	if (r->fail.code)
		r->accepted = 0;
	/* Before the callback: it may start the next transaction (the
	 * next policy group) on this very connection. */
	(void)pool_put(r);
	r->held = false;
	res = result(r);
	r->cb(r->arg, &res);
	/* QUIT may still be in the output buffer: the close is abrupt but
	 * the message was already acknowledged. */
	if (!r->reading)
		reinject_free(r);
}

struct reinject *
reinject_start(struct event_base *base, const struct reinject_req *req,
    reinject_cb *cb, void *arg)
{
	struct reinject *r = calloc(1, sizeof(*r));
	struct idle *id;

	if (r == NULL)
		return NULL;
	r->req = *req;
	r->base = base;
	r->cb = cb;
	r->arg = arg;
	buf_init(&r->reply, 4096);
	r->replies = calloc(req->nrcpts ? req->nrcpts : 1,
	    sizeof(*r->replies));
	r->kick = event_new(base, -1, 0, on_kick, r);
	if (r->replies == NULL || r->kick == NULL)
		goto fail;
	if (req->pool_max && (id = pool_take(base, req)) != NULL) {
		/* Straight to XFORWARD and MAIL: the greeting and EHLO
		 * were done when the connection was opened. */
		r->bev = id->bev;
		r->caps = id->caps;
		r->reused = true;
		free(id);
		bufferevent_setcb(r->bev, on_read, NULL, on_event, r);
		set_step_timeouts(r);
		bufferevent_enable(r->bev, EV_READ | EV_WRITE);
		send_xforward(r);
		return r;
	}
	if (open_conn(r) < 0)
		goto fail;
	return r;
fail:
	reinject_free(r);
	return NULL;
}

void
reinject_cancel(struct reinject *r)
{
	if (r == NULL || r->done)
		return;
	if (r->reading) {
		/* from its own callback: on_read frees it on the way out */
		r->done = true;
		return;
	}
	reinject_free(r);
}
