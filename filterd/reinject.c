/*
 * filterd/reinject.c - asynchronous SMTP client for the reinjection
 *
 * Dialogue (RFC 5321 section 3.3): greeting, EHLO, XFORWARD (attributes
 * the server offers, Postfix XFORWARD_README), MAIL FROM with SIZE and
 * BODY=8BITMIME when offered, one RCPT per recipient, DATA, the message
 * dot-stuffed (section 4.5.2), ".". With PIPELINING (RFC 2920) MAIL, the
 * RCPTs and DATA go in one write. Every step has reinject_timeout; a
 * connection failure, timeout or protocol error gives every recipient
 * 451 4.4.x so the upstream MTA keeps the message. Downstream 4xx/5xx
 * replies are passed through per recipient. The body is added to the
 * output by reference (no copy of a large message).
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

struct reinject {
	struct reinject_req req;
	struct bufferevent *bev;
	reinject_cb *cb;
	void *arg;
	struct reinject_reply *replies;
	struct reinject_reply fail;   /* a failure before the end */
	bool pipelining, has_size, has_8bit, has_dsn, has_utf8;
	char xattrs[64];              /* " NAME ADDR ..." offered */
	/* Replies still expected, in order, as runs of one step (with
	 * pipelining: MAIL, n x RCPT, DATA). */
	struct {
		enum step s;
		size_t n;
	} expect[8];
	size_t nexpect, rcpt_sent, rcpt_acked, xfwd_pending;
	size_t accepted;
	bool data_ok;
	struct buf reply;             /* multi-line reply text */
	struct event *kick;           /* defers cb for early failures */
	bool done, reading;
};

static void finish(struct reinject *);
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

	if (r->has_size)
		n = snprintf(params, sizeof(params), " SIZE=%zu",
		    r->req.head.len + r->req.body.len);
	if (r->req.body_8bit && r->has_8bit && n >= 0)
		n += snprintf(params + n, sizeof(params) - (size_t)n,
		    " BODY=8BITMIME");
	if (r->req.smtputf8 && r->has_utf8 && n >= 0 &&
	    (size_t)n < sizeof(params))
		snprintf(params + n, sizeof(params) - (size_t)n, " SMTPUTF8");
	evbuffer_add_printf(bufferevent_get_output(r->bev),
	    "MAIL FROM:<%s>%s%s\r\n", r->req.mail_from, params,
	    r->has_dsn && r->req.mail_dsn ? r->req.mail_dsn : "");
	expect(r, S_MAIL);
}

static void
send_rcpt(struct reinject *r)
{
	size_t i = r->rcpt_sent++;
	const char *dsn = r->has_dsn && r->req.rcpt_dsn ? r->req.rcpt_dsn[i]
							: NULL;

	send_line(r, "RCPT TO:<%s>%s\r\n", r->req.rcpts[i], dsn ? dsn : "");
	expect(r, S_RCPT);
}

static void
send_transaction(struct reinject *r)
{
	send_mail(r);
	if (!r->pipelining)
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
	if (strstr(r->xattrs, key) == NULL)
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
	if (r->xfwd_pending == 0)
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
		r->pipelining = true;
	else if (bstr_caseeq_cstr(t, "8BITMIME"))
		r->has_8bit = true;
	else if (bstr_casestarts(t, "SIZE"))
		r->has_size = true;
	else if (bstr_caseeq_cstr(t, "DSN"))
		r->has_dsn = true;
	else if (bstr_caseeq_cstr(t, "SMTPUTF8"))
		r->has_utf8 = true;
	else if (bstr_casestarts(t, "XFORWARD ")) {
		size_t n = t.len - 8 < sizeof(r->xattrs) - 2
		    ? t.len - 8 : sizeof(r->xattrs) - 2;

		memcpy(r->xattrs, t.p + 8, n);
		r->xattrs[n] = ' ';
		r->xattrs[n + 1] = '\0';
		for (char *p = r->xattrs; *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 32);
	}
}

static void
on_reply(struct reinject *r, int code, const char *text)
{
	enum step s;

	if (r->nexpect == 0) {
		set_fail(r, 451, "4.4.0 reinject: unexpected reply: %s", text);
		finish(r);
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
			finish(r);
			return;
		}
		if (--r->xfwd_pending == 0)
			send_transaction(r);
		break;
	case S_MAIL:
		if (code / 100 != 2) {
			/* Pass the downstream verdict on the sender through. */
			r->fail.code = code / 100 == 5 ? code : 451;
			snprintf(r->fail.text, sizeof(r->fail.text), "%s",
			    text);
			finish(r);
			return;
		}
		if (!r->pipelining)
			send_rcpt(r);
		break;
	case S_RCPT: {
		struct reinject_reply *rep = &r->replies[r->rcpt_acked++];

		rep->code = code;
		snprintf(rep->text, sizeof(rep->text), "%s", text);
		if (code / 100 == 2)
			r->accepted++;
		if (r->pipelining)
			break;
		if (r->rcpt_sent < r->req.nrcpts)
			send_rcpt(r);
		else if (r->accepted == 0)
			finish(r);
		else {
			send_line(r, "DATA\r\n%s%s", "", "");
			expect(r, S_DATA);
		}
		break;
	}
	case S_DATA:
		if (code == 354 && r->accepted > 0) {
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

	while (!r->done &&
	    (line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		int code;
		bool last;
		struct bstr text;

		if (smtp_parse_reply((unsigned char *)line, n, &code, &last,
		    &text) < 0) {
			set_fail(r, 451, "4.4.0 reinject: bad reply '%.60s'",
			    line);
			free(line);
			finish(r);
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
	if (!r->done && evbuffer_get_length(in) > 4096) {
		set_fail(r, 451, "4.4.0 reinject: %s", "reply line too long");
		finish(r);
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
	finish(r);
}

static void
on_kick(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd, (void)ev;
	finish(arg);
}

static void
reinject_free(struct reinject *r)
{
	if (r->bev)
		bufferevent_free(r->bev);
	if (r->kick)
		event_free(r->kick);
	buf_free(&r->reply);
	free(r->replies);
	free(r);
}

/* finish - fill in recipients without a reply from the failure, report */
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
	res.rcpt = r->replies;
	res.nrcpts = r->req.nrcpts;
	res.accepted = 0;
	for (size_t i = 0; i < r->req.nrcpts; i++)
		if (r->replies[i].code / 100 == 2)
			res.accepted++;
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
	struct sockaddr_storage ss;
	int sslen = sizeof(ss), one = 1;
	evutil_socket_t fd;
	struct timeval tv;

	if (r == NULL)
		return NULL;
	r->req = *req;
	r->cb = cb;
	r->arg = arg;
	buf_init(&r->reply, 4096);
	r->replies = calloc(req->nrcpts ? req->nrcpts : 1,
	    sizeof(*r->replies));
	r->kick = event_new(base, -1, 0, on_kick, r);
	if (r->replies == NULL || r->kick == NULL)
		goto fail;
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(req->addr, (struct sockaddr *)&ss,
	    &sslen) < 0)
		goto fail;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		goto fail;
	/* MAIL, RCPTs and DATA go out in one write, the body after 354:
	 * no Nagle delay waiting for an ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (r->bev == NULL) {
		close(fd);
		goto fail;
	}
	bufferevent_setcb(r->bev, on_read, NULL, on_event, r);
	tv.tv_sec = (time_t)(req->timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(req->timeout_ms % 1000) * 1000;
	bufferevent_set_timeouts(r->bev, &tv, &tv);
	bufferevent_enable(r->bev, EV_READ | EV_WRITE);
	expect(r, S_GREET);
	if (bufferevent_socket_connect(r->bev, (struct sockaddr *)&ss,
	    sslen) < 0) {
		/* Report asynchronously: the caller expects cb later. */
		set_fail(r, 451, "4.4.1 reinject: %s", "connect failed");
		event_active(r->kick, 0, 0);
	}
	return r;
fail:
	reinject_free(r);
	return NULL;
}

void
reinject_cancel(struct reinject *r)
{
	if (r && !r->done)
		reinject_free(r);
}
