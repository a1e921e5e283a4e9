/*
 * filterd/smtp.c - SMTP (RFC 5321) and LMTP (RFC 2033) server, one worker
 *
 * Each connection is a bufferevent with a small state machine: commands
 * (parsed by smtp_parse.c), DATA (lines un-dot-stuffed into the spool,
 * RFC 5321 section 4.5.2), then BUSY while the scan and the reinjection
 * run, during which reading is paused (pipelined input waits in the
 * buffer). The reply to the end of data is sent only after the spool file
 * was written, scanned, and the action completed: 250 only after the
 * downstream 250 (LMTP: one reply per recipient, RFC 2033 section 4.2).
 * The spool file is removed after that reply. Limits: line_length_limit
 * (500 5.5.2 / 552 5.3.4), message_size_limit (552 5.3.4), max_recipients
 * (452 4.5.3), smtp_timeout (421 4.4.2), 20 errors per session (421).
 * One log line per message; nothing else in here logs per message.
 */
#include "filterd/smtp.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "filterd/action.h"
#include "filterd/cfg.h"
#include "filterd/metrics.h"
#include "filterd/notify.h"
#include "filterd/policy.h"
#include "filterd/quarantine.h"
#include "filterd/reinject.h"
#include "filterd/scan.h"
#include "filterd/listener.h"
#include "filterd/smtp_parse.h"
#include "filterd/spool.h"
#include "util/log.h"

#define MAX_ERRORS 20
#define MAX_XVALUE 256

enum xattr { X_NAME, X_ADDR, X_PROTO, X_HELO, X_IDENT, X_SOURCE, X_N };
static const char *const xnames[X_N] = { "NAME", "ADDR", "PROTO", "HELO",
	"IDENT", "SOURCE" };

enum cstate { ST_CMD, ST_DATA, ST_BUSY };

struct conn;

struct smtp_server {
	struct event_base *base;
	struct listener door;
	const struct cfg *cfg;
	const struct checks *checks;
	struct conn *conns;
	size_t nconns;
	bool draining;
	void (*idle)(void *);
	void *idle_arg;
	char hostname[256];
	bool lmtp;
};

struct conn {
	struct smtp_server *srv;
	struct conn *next, *prev;
	struct bufferevent *bev;
	enum cstate st;
	char peer[64];
	bool greeted, in_mail, discard_line, closing, dead, in_process;
	struct buf line;
	size_t line_limit, size_limit;
	unsigned long nlines;     /* lines read, for the line deadline */
	struct event *deadline;
	unsigned errors;
	char *helo;
	char *x[X_N];
	char *mail_from;
	bool body8, smtputf8;
	char *mail_dsn;           /* " RET=.. ENVID=.." or NULL */
	char **rcpts;
	char **rcpt_dsn;          /* per recipient " NOTIFY=.. ORCPT=.." */
	size_t nrcpts, rcap;
	/* DATA */
	struct spool_file spool;
	bool spooling, prev_crlf, too_long, too_big;
	size_t data_size;
	/* BUSY */
	struct timespec t0;
	struct envelope env;
	struct scan *scan;
	struct reinject *rj;
	struct buf head;
	struct buf dsn; /* for recipients refused downstream, in flight */
	const char *dsn_to[1]; /* its recipient: reinject keeps the array */
	struct bstr raw;
	double score;
	const char *tests;
	enum action action;
	/* policy (filterd/policy.c): the bank the scan ran with, and a
	 * split delivery when recipients' policies differ */
	const struct policy_bank *bank;
	struct policy_group *groups;
	size_t ngroups;
	struct policy_split *split;
	struct policy_split_req sreq;
	struct action_notes snotes;
};

static void conn_process(struct conn *);
static void conn_process_lines(struct conn *, struct evbuffer *, size_t);
static void conn_free(struct conn *);
static void on_deadline(evutil_socket_t, short, void *);

static void
reply(struct conn *c, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

/* reply_all - the end-of-data reply: once for SMTP, once per recipient
 * for LMTP */
static void
reply_all(struct conn *c, const char *text)
{
	size_t n = c->srv->lmtp ? c->nrcpts : 1;

	for (size_t i = 0; i < n; i++)
		reply(c, "%s", text);
}

static void
xforward_reset(struct conn *c)
{
	for (int i = 0; i < X_N; i++) {
		free(c->x[i]);
		c->x[i] = NULL;
	}
}

/* spool_done - the message is answered or given up: its spool copy
 * goes, and it is no longer in flight */
static void
spool_done(struct conn *c)
{
	if (!c->spooling)
		return;
	spool_remove(&c->spool);
	c->spooling = false;
	metrics_in_flight(-1);
}

static void
txn_reset(struct conn *c)
{
	free(c->mail_from);
	c->mail_from = NULL;
	free(c->mail_dsn);
	c->mail_dsn = NULL;
	for (size_t i = 0; i < c->nrcpts; i++) {
		free(c->rcpts[i]);
		free(c->rcpt_dsn[i]);
	}
	c->nrcpts = 0;
	c->in_mail = false;
	c->body8 = c->smtputf8 = false;
	spool_done(c);
	c->too_long = c->too_big = false;
	c->data_size = 0;
	buf_free(&c->head);
	buf_free(&c->dsn);
}

static void
conn_close_after_flush(struct conn *c)
{
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_free(c);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->closing)
		conn_free(c);
}

static char *
dup_bstr(struct bstr s)
{
	char *p = malloc(s.len + 1);

	if (p) {
		memcpy(p, s.p, s.len);
		p[s.len] = '\0';
	}
	return p;
}

/* join_params - " A B" from the non-empty slices, NULL when none (the
 * DSN parameters travel downstream as written) */
static char *
join_params(struct bstr a, struct bstr b)
{
	char *p;

	if (a.len == 0 && b.len == 0)
		return NULL;
	if ((p = malloc(a.len + b.len + 3)) == NULL)
		return NULL;
	snprintf(p, a.len + b.len + 3, "%s%.*s%s%.*s", a.len ? " " : "",
	    (int)a.len, (const char *)a.p, b.len ? " " : "", (int)b.len,
	    (const char *)b.p);
	return p;
}

static void
cmd_ehlo(struct conn *c, const struct smtp_cmd *cmd)
{
	struct smtp_server *s = c->srv;
	bool want_lhlo = s->lmtp;

	if ((cmd->verb == SMTP_LHLO) != want_lhlo) {
		/* An SMTP client at an LMTP filterd (or the reverse) is a
		 * configuration mistake: defer the mail (421), never let a
		 * 5xx greeting bounce it. */
		reply(c, "421 4.3.5 %s Error: this is an %s server (%s), "
		    "check protocol in filterd.conf", s->hostname,
		    want_lhlo ? "LMTP" : "SMTP", want_lhlo ? "LHLO" : "EHLO");
		conn_close_after_flush(c);
		return;
	}
	txn_reset(c);
	xforward_reset(c);
	free(c->helo);
	c->helo = dup_bstr(cmd->arg);
	c->greeted = true;
	if (cmd->verb == SMTP_HELO) {
		reply(c, "250 %s", s->hostname);
		return;
	}
	reply(c, "250-%s", s->hostname);
	reply(c, "250-PIPELINING");
	reply(c, "250-SIZE %zu", cfg_size(s->cfg, "message_size_limit"));
	if (cfg_bool(s->cfg, "xforward"))
		reply(c, "250-XFORWARD NAME ADDR PROTO HELO IDENT SOURCE");
	reply(c, "250-ENHANCEDSTATUSCODES");
	reply(c, "250-8BITMIME");
	reply(c, "250-DSN");
	reply(c, "250 SMTPUTF8");
}

static void
cmd_xforward(struct conn *c, const struct smtp_cmd *cmd)
{
	char *vals[X_N] = { 0 };

	if (!cfg_bool(c->srv->cfg, "xforward")) {
		reply(c, "502 5.5.1 Error: command not implemented");
		return;
	}
	if (c->in_mail) {
		reply(c, "503 5.5.1 Error: MAIL transaction in progress");
		return;
	}
	for (size_t i = 0; i < cmd->nxattrs; i++) {
		char v[MAX_XVALUE];
		int k;

		for (k = 0; k < X_N; k++)
			if (bstr_caseeq_cstr(cmd->xattrs[i].name, xnames[k]))
				break;
		if (k == X_N ||
		    smtp_xtext_decode(cmd->xattrs[i].value, v, sizeof(v)) <
			0) {
			reply(c, "501 5.5.4 Bad XFORWARD attribute");
			for (int j = 0; j < X_N; j++)
				free(vals[j]);
			c->errors++;
			return;
		}
		free(vals[k]);
		vals[k] = strdup(v);
	}
	/* Attributes not named keep their earlier value (Postfix sends
	 * several XFORWARD lines per transaction). */
	for (int k = 0; k < X_N; k++) {
		if (vals[k]) {
			free(c->x[k]);
			c->x[k] = vals[k];
		}
	}
	reply(c, "250 2.0.0 Ok");
}

static void
cmd_mail(struct conn *c, const struct smtp_cmd *cmd)
{
	if (!c->greeted) {
		reply(c, "503 5.5.1 Error: send %s first",
		    c->srv->lmtp ? "LHLO" : "HELO/EHLO");
		return;
	}
	if (c->in_mail) {
		reply(c, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (cmd->has_size &&
	    cmd->size > cfg_size(c->srv->cfg, "message_size_limit")) {
		reply(c, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	if (c->srv->draining) {
		reply(c, "421 4.3.2 Service shutting down");
		conn_close_after_flush(c);
		return;
	}
	c->mail_from = dup_bstr(cmd->path);
	c->body8 = cmd->body == SMTP_BODY_8BITMIME;
	c->smtputf8 = cmd->smtputf8;
	c->mail_dsn = join_params(cmd->ret, cmd->envid);
	c->in_mail = true;
	reply(c, "250 2.1.0 Ok");
}

static void
cmd_rcpt(struct conn *c, const struct smtp_cmd *cmd)
{
	if (!c->in_mail) {
		reply(c, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (c->nrcpts >= (size_t)cfg_int(c->srv->cfg, "max_recipients")) {
		reply(c, "452 4.5.3 Error: too many recipients");
		return;
	}
	if (c->nrcpts == c->rcap) {
		size_t n = c->rcap ? c->rcap * 2 : 8;
		char **p = realloc(c->rcpts, n * sizeof(*p));
		char **q;

		if (p == NULL) {
			reply(c, "452 4.3.0 Error: out of memory");
			return;
		}
		c->rcpts = p;
		if ((q = realloc(c->rcpt_dsn, n * sizeof(*q))) == NULL) {
			reply(c, "452 4.3.0 Error: out of memory");
			return;
		}
		c->rcpt_dsn = q;
		c->rcap = n;
	}
	if ((c->rcpts[c->nrcpts] = dup_bstr(cmd->path)) == NULL) {
		reply(c, "452 4.3.0 Error: out of memory");
		return;
	}
	c->rcpt_dsn[c->nrcpts] = join_params(cmd->notify, cmd->orcpt);
	c->nrcpts++;
	reply(c, "250 2.1.5 Ok");
}

static void
cmd_data(struct conn *c)
{
	int rc;

	if (!c->in_mail) {
		reply(c, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (c->nrcpts == 0) {
		reply(c, "554 5.5.1 Error: no valid recipients");
		return;
	}
	if ((rc = spool_open(cfg_str(c->srv->cfg, "spool_dir"),
		 cfg_size(c->srv->cfg, "spool_memory_max"), &c->spool)) < 0) {
		log_error("spool_open %s: %s", cfg_str(c->srv->cfg,
		    "spool_dir"), strerror(-rc));
		reply(c, rc == -ENOSPC || rc == -EDQUOT
			? "452 4.3.1 Error: insufficient system storage"
			: "451 4.3.0 Error: cannot create spool file");
		return;
	}
	c->spooling = true;
	metrics_in_flight(1);
	c->prev_crlf = true;
	c->too_long = c->too_big = false;
	c->data_size = 0;
	c->st = ST_DATA;
	reply(c, "354 End data with <CR><LF>.<CR><LF>");
}

static void
dispatch(struct conn *c, const unsigned char *line, size_t len)
{
	struct smtp_cmd cmd;
	int rc = smtp_parse_cmd(line, len, &cmd);

	if (rc < 0) {
		c->errors++;
		switch (rc) {
		case SMTP_EUNKNOWN:
			reply(c, "500 5.5.1 Error: command not recognized");
			break;
		case SMTP_EPARAM:
			reply(c, "555 5.5.4 Unsupported option");
			break;
		case SMTP_ENUL:
			reply(c, "500 5.5.2 Error: bad characters in command");
			break;
		default:
			reply(c, "501 5.5.4 Syntax error in parameters");
			break;
		}
		goto check_errors;
	}
	if (c->srv->draining && !c->in_mail && cmd.verb != SMTP_QUIT) {
		reply(c, "421 4.3.2 Service shutting down");
		conn_close_after_flush(c);
		return;
	}
	switch (cmd.verb) {
	case SMTP_HELO:
	case SMTP_EHLO:
	case SMTP_LHLO:
		cmd_ehlo(c, &cmd);
		break;
	case SMTP_XFORWARD:
		cmd_xforward(c, &cmd);
		break;
	case SMTP_MAIL:
		cmd_mail(c, &cmd);
		break;
	case SMTP_RCPT:
		cmd_rcpt(c, &cmd);
		break;
	case SMTP_DATA:
		cmd_data(c);
		break;
	case SMTP_RSET:
		txn_reset(c);
		xforward_reset(c);
		reply(c, "250 2.0.0 Ok");
		break;
	case SMTP_NOOP:
		reply(c, "250 2.0.0 Ok");
		break;
	case SMTP_QUIT:
		reply(c, "221 2.0.0 Bye");
		conn_close_after_flush(c);
		return;
	case SMTP_VRFY:
	case SMTP_EXPN:
		reply(c, "502 5.5.1 Error: command disabled");
		break;
	case SMTP_HELP:
		reply(c, "214 2.0.0 See RFC 5321");
		break;
	default:
		reply(c, "502 5.5.1 Error: command not implemented");
		c->errors++;
		break;
	}
check_errors:
	if (c->errors >= MAX_ERRORS) {
		reply(c, "421 4.7.0 Error: too many errors");
		conn_close_after_flush(c);
	}
}

/* log_line - the one line per message (STYLE.md section 7) */
static void
log_line(struct conn *c, unsigned ms)
{
	char from[200], name[100], addr[64];
	const char *qid = c->x[X_IDENT] ? c->x[X_IDENT] : c->spool.id;
	char qbuf[64];

	log_escape(qbuf, sizeof(qbuf), qid, strlen(qid));
	log_escape(from, sizeof(from), c->mail_from ? c->mail_from : "",
	    c->mail_from ? strlen(c->mail_from) : 0);
	log_escape(name, sizeof(name), c->env.client_name ?
	    c->env.client_name : "unknown", strlen(c->env.client_name ?
	    c->env.client_name : "unknown"));
	log_escape(addr, sizeof(addr), c->env.client_addr ?
	    c->env.client_addr : c->peer, strlen(c->env.client_addr ?
	    c->env.client_addr : c->peer));
	log_info("%s: client=%s[%s] from=<%s> rcpts=%zu score=%.1f/%.1f "
	    "tests=%s action=%s size=%zu time=%ums",
	    qbuf, name, addr, from, c->nrcpts, c->score,
	    cfg_double(c->srv->cfg, "tag2_level"), c->tests ? c->tests : "none",
	    action_name(c->action), c->spool.size, ms);
	metrics_message((int)c->action, ms, c->tests, c->spool.size);
}

static unsigned
elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (unsigned)((t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* flush_now - write queued replies to the socket now, not at the next
 * loop pass: the end-of-data reply must be on the wire before the spool
 * file goes and before the log says the message was passed, so a kill -9
 * in between cannot leave a passed message unconfirmed upstream. */
static void
flush_now(struct conn *c)
{
	struct evbuffer *out;

	if (c->dead || c->bev == NULL)
		return;
	/* A socket bufferevent freezes the front of its output buffer (only
	 * it drains it); thaw it for this one direct write. What does not
	 * fit goes out with the bufferevent's own write as usual. */
	out = bufferevent_get_output(c->bev);
	evbuffer_unfreeze(out, 1);
	evbuffer_write(out, bufferevent_getfd(c->bev));
	evbuffer_freeze(out, 1);
}

/* busy_done - the end-of-data reply went out: log, clean up, go on */
static void
busy_done(struct conn *c)
{
	flush_now(c);
	log_line(c, elapsed_ms(&c->t0));
	c->scan = scan_free(c->scan);
	c->rj = NULL;
	if (c->dead) {
		conn_free(c);
		return;
	}
	txn_reset(c);
	xforward_reset(c);
	c->st = ST_CMD;
	if (c->srv->draining) {
		reply(c, "421 4.3.2 Service shutting down");
		conn_close_after_flush(c);
		return;
	}
	bufferevent_enable(c->bev, EV_READ);
	conn_process(c);
}

/* conn_cfg - the configuration of the connection's policy bank */
static const struct cfg *
conn_cfg(const struct conn *c)
{
	return c->bank ? c->bank->cfg : c->srv->cfg;
}

/* reinject_done - the end-of-data reply went out: the spool file goes */
static void
reinject_done(struct conn *c)
{
	flush_now(c);
	spool_done(c);
	busy_done(c);
}

static void
on_dsn_sent(void *arg, const struct reinject_result *res)
{
	struct conn *c = arg;
	const char *id = c->env.qid;

	c->rj = NULL;
	buf_free(&c->dsn);
	if (res->accepted == 1) {
		log_info("%s: DSN for the recipients refused downstream sent "
			 "to <%.100s>", id, c->env.mail_from);
		if (!c->dead)
			reply(c, "250 2.0.0 Ok: queued as %s (some recipients "
			    "refused downstream: DSN sent)", c->spool.id);
	} else {
		/* No word to the sender: retry rather than lose the
		 * refusal (the accepted recipients may get it twice). */
		log_warn("%s: DSN to <%.100s> refused downstream: %d %.200s",
		    id, c->env.mail_from, res->nrcpts ? res->rcpt[0].code : 0,
		    res->nrcpts ? res->rcpt[0].text : "");
		c->action = ACTION_TEMPFAIL;
		if (!c->dead)
			reply(c, "451 4.4.0 Error: some recipients refused "
			    "downstream and their DSN could not be sent");
	}
	reinject_done(c);
}

/* send_rcpt_dsn - SMTP has one reply for all recipients: for those the
 * reinjection refused for good while others took the message, filterd
 * sends the DSN itself (as the MTA would have) before it says 250.
 * 0 when sent off (on_dsn_sent replies), -1 when it cannot be. */
static int
send_rcpt_dsn(struct conn *c, const struct reinject_result *res)
{
	const struct cfg *cfg = conn_cfg(c);
	struct reinject_req rq;

	buf_init(&c->dsn, SIZE_MAX / 2);
	c->dsn_to[0] = c->env.mail_from;
	if (notify_build_rcpt_dsn(&c->dsn, cfg, &c->env, res, c->raw) < 0 ||
	    notify_request(&rq, cfg, c->srv->hostname, c->dsn_to, &c->dsn) <
		0) {
		buf_free(&c->dsn);
		return -1;
	}
	if ((c->rj = reinject_start(c->srv->base, &rq, on_dsn_sent, c)) ==
	    NULL) {
		buf_free(&c->dsn);
		return -1;
	}
	return 0;
}

static void
on_reinjected(void *arg, const struct reinject_result *res)
{
	struct conn *c = arg;
	bool temp = false, same = true;

	c->rj = NULL;
	if (res->accepted < res->nrcpts)
		for (size_t i = 0; i < res->nrcpts; i++)
			if (res->rcpt[i].code / 100 != 2)
				log_warn("%s: reinject <%.100s>: %d %.200s",
				    c->env.qid, c->rcpts[i], res->rcpt[i].code,
				    res->rcpt[i].text);
	for (size_t i = 0; i < res->nrcpts; i++) {
		if (res->rcpt[i].code / 100 == 4)
			temp = true;
		if (res->rcpt[i].code != res->rcpt[0].code ||
		    strcmp(res->rcpt[i].text, res->rcpt[0].text))
			same = false;
	}
	/* The log says tempfail when the upstream did not get a 250 for
	 * the message (SMTP) or for any recipient (LMTP). */
	if ((res->accepted == 0 && c->action != ACTION_REJECT) ||
	    (temp && !c->srv->lmtp))
		c->action = ACTION_TEMPFAIL;
	if (!c->dead) {
		if (c->srv->lmtp) {
			/* one reply each */
			for (size_t i = 0; i < res->nrcpts; i++)
				reply(c, "%d %s", res->rcpt[i].code,
				    res->rcpt[i].text);
		} else if (res->nrcpts > 0 && res->accepted == 0 &&
		    (same || !temp)) {
			/* Nobody took it, all for good or all alike (a
			 * failure at the end of data, a dead relay): the
			 * first reply passed through. */
			reply(c, "%d %s", res->rcpt[0].code,
			    res->rcpt[0].text);
		} else if (temp) {
			/* SMTP has one reply for all recipients. A
			 * temporary refusal must not be lost (nor turned
			 * into a bounce by another recipient's 5xx), so it
			 * wins and the message is retried. The reinjection
			 * was all or none: nobody got the body. */
			reply(c, "451 4.4.0 Error: some recipients "
			    "deferred downstream");
		} else if (res->accepted == res->nrcpts) {
			reply(c, "250 2.0.0 Ok: queued as %s", c->spool.id);
		} else {
			/* Some refused for good: they get a DSN from us. */
			if (!notify_rcpt_dsn_wanted(conn_cfg(c), &c->env,
				c->score)) {
				log_info("%s: no DSN for the recipients "
					 "refused downstream (null sender, "
					 "or spam from a sender that did not "
					 "log in)",
				    c->env.qid);
				reply(c, "250 2.0.0 Ok: queued as %s (some "
				    "recipients refused downstream)",
				    c->spool.id);
			} else if (send_rcpt_dsn(c, res) == 0) {
				return; /* on_dsn_sent replies */
			} else {
				c->action = ACTION_TEMPFAIL;
				reply(c, "451 4.4.0 Error: some recipients "
				    "refused downstream and their DSN could "
				    "not be sent");
			}
		}
	}
	reinject_done(c);
}

static void on_scanned_split(struct conn *, struct scan *);

/* on_split_done - every policy group was handled: one reply as if it
 * was one reinjection (filterd/policy.c merged the per-recipient
 * replies) */
static void
on_split_done(void *arg, const struct reinject_result *res,
    enum action worst)
{
	struct conn *c = arg;

	c->split = NULL;
	policy_groups_free(c->groups, c->ngroups);
	c->groups = NULL;
	c->action = worst;
	on_reinjected(c, res);
}

static void
on_scanned(struct scan *s, void *arg)
{
	struct conn *c = arg;
	const struct cfg *cfg = conn_cfg(c);
	size_t body_off = 0;
	struct reinject_req rq = { 0 };
	char qname[300];
	struct action_notes notes = { 0 };
	const char *auth_reject;
	int rc;

	c->score = scan_score(s);
	c->tests = scan_tests(s);
	if (c->bank && !c->dead && policy_groups(policy_current, c->bank,
	    (const char *const *)c->rcpts, c->nrcpts, &c->groups,
	    &c->ngroups) == 0) {
		if (c->ngroups > 1) {
			on_scanned_split(c, s);
			return;
		}
		if (c->ngroups == 1)
			cfg = c->groups[0].cfg;
		policy_groups_free(c->groups, c->ngroups);
		c->groups = NULL;
	}
	c->action = action_decide(cfg, c->score);
	/* A check may demand a rejection with its own reply (DMARC
	 * p=reject with dmarc_policy_enforce): "5xx x.x.x text". */
	if ((auth_reject = scan_note_get(s, "auth-reject")) != NULL &&
	    auth_reject[0] == '5')
		c->action = ACTION_REJECT;
	else
		auth_reject = NULL;
	if (c->dead) {
		/* The client left during the scan: nothing was passed. */
		c->action = ACTION_TEMPFAIL;
		goto drop;
	}
	/* spam_admin report, bounce DSN (filterd/notify.c) */
	notify_message(c->srv->base, cfg, &c->env, c->score, c->tests,
	    c->action, c->raw);
	switch (c->action) {
	case ACTION_REJECT:
		reply_all(c, auth_reject ? auth_reject
			: "554 5.7.0 Rejected: message looks like spam");
		goto drop;
	case ACTION_DISCARD:
		reply_all(c, "250 2.7.0 Ok: discarded as spam");
		goto drop;
	default:
		break;
	}
	/* no cap of its own: raw (message_size_limit) bounds it, plus
	 * our few fields (a fixed 1 MiB tempfailed big header sections) */
	buf_init(&c->head, ACTION_HEAD_MAX);
	notes.autolearn = scan_note_get(s, "autolearn");
	notes.authres = scan_note_get(s, "authres");
	notes.received_spf = scan_note_get(s, "received-spf");
	notes.dkim_signature = scan_note_get(s, "dkim-signature");
	rc = action_rewrite(cfg, c->score, c->tests, &notes, c->raw,
	    &c->head, &body_off);
	if (rc < 0) {
		log_error("%s: header rewrite failed: %s", c->spool.id,
		    strerror(-rc));
		c->action = ACTION_TEMPFAIL;
		reply_all(c, "451 4.3.0 Error: internal error");
		goto drop;
	}
	if (c->action == ACTION_QUARANTINE) {
		/* the envelope goes with it for filterctl quarantine
		 * release (filterd/quarantine.h) */
		rc = quar_store(cfg_str(cfg, "quarantine_dir"), &c->env,
		    &c->head, c->raw, body_off, qname, sizeof(qname));
		if (rc < 0) {
			log_error("%s: quarantine failed: %s", c->spool.id,
			    strerror(-rc));
			c->action = ACTION_TEMPFAIL;
			reply_all(c, "451 4.3.0 Error: cannot quarantine");
		} else {
			reply_all(c, "250 2.7.0 Ok: quarantined");
		}
		goto drop;
	}
	rq.addr = cfg_text(cfg, "reinject");
	rq.helo = c->srv->hostname;
	rq.timeout_ms = cfg_time_ms(cfg, "reinject_timeout");
	rq.pool_max = (size_t)cfg_int(cfg, "reinject_pool");
	rq.idle_timeout_ms = cfg_time_ms(cfg,
	    "reinject_idle_timeout");
	rq.all_or_none = !c->srv->lmtp;
	rq.mail_from = c->mail_from;
	rq.rcpts = (const char *const *)c->rcpts;
	rq.nrcpts = c->nrcpts;
	rq.body_8bit = c->body8;
	rq.smtputf8 = c->smtputf8;
	rq.mail_dsn = c->mail_dsn;
	rq.rcpt_dsn = (const char *const *)c->rcpt_dsn;
	rq.x_name = c->x[X_NAME];
	rq.x_addr = c->x[X_ADDR];
	rq.x_proto = c->x[X_PROTO];
	rq.x_helo = c->x[X_HELO];
	rq.x_ident = c->x[X_IDENT];
	rq.x_source = c->x[X_SOURCE];
	rq.head = buf_bstr(&c->head);
	rq.body = bstr_sub(c->raw, body_off, c->raw.len - body_off);
	c->rj = reinject_start(c->srv->base, &rq, on_reinjected, c);
	if (c->rj == NULL) {
		log_error("%s: cannot start reinjection to %s", c->spool.id,
		    rq.addr);
		c->action = ACTION_TEMPFAIL;
		reply_all(c, "451 4.3.0 Error: cannot reinject");
		goto drop;
	}
	return;
drop:
	flush_now(c);
	spool_done(c);
	busy_done(c);
}

/* on_scanned_split - recipients with different policies: one delivery
 * per group (filterd/policy.c), the reply when all are done */
static void
on_scanned_split(struct conn *c, struct scan *s)
{
	const struct cfg *cfg = c->bank->cfg;
	struct policy_split_req *q = &c->sreq;
	const char *ar = scan_note_get(s, "auth-reject");

	c->action = ACTION_PASS;
	c->snotes = (struct action_notes){
		.autolearn = scan_note_get(s, "autolearn"),
		.authres = scan_note_get(s, "authres"),
		.received_spf = scan_note_get(s, "received-spf"),
		.dkim_signature = scan_note_get(s, "dkim-signature"),
	};
	*q = (struct policy_split_req){ 0 };
	q->rq.addr = cfg_text(cfg, "reinject");
	q->rq.helo = c->srv->hostname;
	q->rq.timeout_ms = cfg_time_ms(cfg, "reinject_timeout");
	q->rq.pool_max = (size_t)cfg_int(cfg, "reinject_pool");
	q->rq.idle_timeout_ms = cfg_time_ms(cfg,
	    "reinject_idle_timeout");
	q->rq.all_or_none = !c->srv->lmtp;
	q->rq.mail_from = c->mail_from;
	q->rq.rcpts = (const char *const *)c->rcpts;
	q->rq.nrcpts = c->nrcpts;
	q->rq.body_8bit = c->body8;
	q->rq.smtputf8 = c->smtputf8;
	q->rq.mail_dsn = c->mail_dsn;
	q->rq.rcpt_dsn = (const char *const *)c->rcpt_dsn;
	q->rq.x_name = c->x[X_NAME];
	q->rq.x_addr = c->x[X_ADDR];
	q->rq.x_proto = c->x[X_PROTO];
	q->rq.x_helo = c->x[X_HELO];
	q->rq.x_ident = c->x[X_IDENT];
	q->rq.x_source = c->x[X_SOURCE];
	q->env = &c->env;
	q->score = c->score;
	q->tests = c->tests;
	q->notes = &c->snotes;
	q->auth_reject = ar && ar[0] == '5' ? ar : NULL;
	q->raw = c->raw;
	q->qid = c->env.qid;
	c->split = policy_split_start(c->srv->base, c->groups, c->ngroups, q,
	    on_split_done, c);
	if (c->split == NULL) {
		policy_groups_free(c->groups, c->ngroups);
		c->groups = NULL;
		c->action = ACTION_TEMPFAIL;
		reply_all(c, "451 4.3.0 Error: internal error");
		flush_now(c);
		spool_done(c);
		busy_done(c);
	}
}

/* envelope_fill - XFORWARD values into the scan's envelope; Postfix's
 * [UNAVAILABLE] / [TEMPUNAVAIL] markers mean "not known" */
static const char *
xval(const char *v)
{
	if (v == NULL || strcmp(v, "[UNAVAILABLE]") == 0 ||
	    strcmp(v, "[TEMPUNAVAIL]") == 0)
		return NULL;
	return v;
}

static void
data_end(struct conn *c)
{
	int rc;

	c->st = ST_BUSY;
	bufferevent_disable(c->bev, EV_READ);
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	c->score = 0;
	c->tests = NULL;
	c->action = ACTION_TEMPFAIL;
	if (c->too_big || c->too_long) {
		reply_all(c, c->too_big
			? "552 5.3.4 Error: message file too big"
			: "552 5.3.4 Error: message line too long");
		c->action = ACTION_REJECT;
		goto fail;
	}
	if ((rc = spool_commit(&c->spool)) < 0 ||
	    (rc = spool_map(&c->spool, &c->raw)) < 0) {
		log_error("%s: spool %s: %s", c->spool.id, c->spool.path,
		    strerror(-rc));
		reply_all(c, rc == -ENOSPC || rc == -EDQUOT
			? "452 4.3.1 Error: insufficient system storage"
			: "451 4.3.0 Error: spool write failed");
		goto fail;
	}
	c->env = (struct envelope){ 0 };
	c->env.qid = c->x[X_IDENT] ? c->x[X_IDENT] : c->spool.id;
	c->env.client_addr = xval(c->x[X_ADDR]);
	c->env.client_name = xval(c->x[X_NAME]);
	c->env.helo = xval(c->x[X_HELO]);
	c->env.proto = xval(c->x[X_PROTO]);
	c->env.mail_from = c->mail_from;
	c->env.rcpts = (const char *const *)c->rcpts;
	c->env.nrcpts = c->nrcpts;
	{
		/* the policy bank for this client / listener */
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		unsigned port = 0;

		if (getsockname(bufferevent_getfd(c->bev),
		    (struct sockaddr *)&ss, &sl) == 0)
			port = ss.ss_family == AF_INET6
			    ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
			    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
		c->bank = policy_bank_for(policy_current, &c->env, port);
	}
	c->scan = scan_new(conn_cfg(c),
	    c->bank ? c->bank->checks : c->srv->checks, c->srv->base,
	    c->raw.p, c->raw.len, &c->env);
	if (c->scan == NULL || scan_run(c->scan, on_scanned, c) < 0) {
		log_error("%s: scan failed to start", c->spool.id);
		reply_all(c, "451 4.3.0 Error: internal error");
		goto fail;
	}
	return;
fail:
	spool_done(c);
	busy_done(c);
}

/* data_line - one line of DATA, without its LF (crlf: it had a CR) */
static void
data_line(struct conn *c, const unsigned char *p, size_t len, bool crlf)
{
	size_t skip;
	size_t limit = c->size_limit;

	if (smtp_data_line(p, len, crlf, c->prev_crlf, &skip) == 1) {
		data_end(c);
		return;
	}
	c->prev_crlf = crlf;
	if (len > c->line_limit)
		c->too_long = true;
	c->data_size += len - skip + 2;
	if (c->data_size > limit)
		c->too_big = true;
	if (c->too_big || c->too_long)
		return; /* read to the end, store nothing more */
	/* Lines are stored with CRLF whatever the client sent. */
	spool_write(&c->spool, p + skip, len - skip);
	spool_write(&c->spool, "\r\n", 2);
}

static void
conn_process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t limit = cfg_size(c->srv->cfg, "line_length_limit");

	unsigned long before = c->nlines;

	if (c->in_process)
		return; /* the outer call goes on reading */
	/* Looked up once per read event, not per line. */
	c->line_limit = limit;
	c->size_limit = cfg_size(c->srv->cfg, "message_size_limit");
	c->in_process = true;
	conn_process_lines(c, in, limit);
	c->in_process = false;
	/* smtp_timeout bounds a whole line, not the gap between two bytes:
	 * a client dribbling a byte at a time is cut off like an idle one
	 * (the per-record deadline of Postfix's smtpd). */
	if (c->closing || c->st == ST_BUSY || evbuffer_get_length(in) == 0) {
		evtimer_del(c->deadline);
	} else if (c->nlines != before ||
	    !evtimer_pending(c->deadline, NULL)) {
		uint64_t ms = cfg_time_ms(c->srv->cfg, "smtp_timeout");
		struct timeval tv = { (time_t)(ms / 1000),
			(suseconds_t)(ms % 1000) * 1000 };

		evtimer_add(c->deadline, &tv);
	}
}

static void
on_deadline(evutil_socket_t fd, short ev, void *arg)
{
	struct conn *c = arg;

	(void)fd, (void)ev;
	if (c->closing || c->st == ST_BUSY)
		return;
	reply(c, "421 4.4.2 %s Error: timeout exceeded", c->srv->hostname);
	conn_close_after_flush(c);
}

static void
conn_process_lines(struct conn *c, struct evbuffer *in, size_t limit)
{
	while (!c->closing && c->st != ST_BUSY) {
		struct evbuffer_ptr eol;
		size_t eol_len, len;
		unsigned char *line;
		bool crlf;

		eol = evbuffer_search_eol(in, NULL, &eol_len,
		    EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			size_t have = evbuffer_get_length(in);

			if (have <= limit)
				return; /* wait for more */
			/* Over the limit without a newline: drop what we
			 * have (keeping a trailing CR for the CRLF test),
			 * remember it and answer at the end of the line. */
			if (c->st == ST_CMD) {
				c->discard_line = true;
			} else {
				c->too_long = true;
				c->data_size += have - 1;
				if (c->data_size > c->size_limit)
					c->too_big = true;
				c->prev_crlf = false;
			}
			evbuffer_drain(in, have - 1);
			return;
		}
		len = (size_t)eol.pos;
		/* Take the line out of the buffer before acting on it: the
		 * end of data may complete the whole transaction (and read
		 * on) before this returns. */
		buf_reset(&c->line);
		if (buf_reserve(&c->line, len + 1) < 0) {
			reply(c, "421 4.3.0 Error: out of memory");
			conn_close_after_flush(c);
			return;
		}
		evbuffer_remove(in, c->line.p, len + 1);
		c->nlines++;
		line = c->line.p;
		crlf = len > 0 && line[len - 1] == '\r';
		if (crlf)
			len--;
		if (c->st == ST_CMD) {
			if (c->discard_line) {
				c->discard_line = false;
				reply(c, "500 5.5.2 Error: line too long");
				c->errors++;
			} else {
				dispatch(c, line, len);
			}
		} else {
			data_line(c, line, len, crlf);
		}
	}
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process(arg);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if ((what & BEV_EVENT_TIMEOUT) && !c->closing &&
	    c->st != ST_BUSY) {
		reply(c, "421 4.4.2 %s Error: timeout exceeded",
		    c->srv->hostname);
		conn_close_after_flush(c);
		return;
	}
	conn_free(c);
}

static void
conn_free(struct conn *c)
{
	struct smtp_server *s = c->srv;

	if (c->st == ST_BUSY && (c->rj || c->split)) {
		/* The client left before the reply: stop the reinjection
		 * (it retries the message anyway), keep nothing. */
		if (c->rj)
			reinject_cancel(c->rj);
		c->rj = NULL;
		policy_split_cancel(c->split);
		c->split = NULL;
		policy_groups_free(c->groups, c->ngroups);
		c->groups = NULL;
		c->action = ACTION_TEMPFAIL;
		log_line(c, elapsed_ms(&c->t0));
	} else if (c->st == ST_BUSY && !c->dead) {
		/* The scan still runs and calls us back; the socket goes
		 * now, the rest when it is done. */
		c->dead = true;
		bufferevent_free(c->bev);
		c->bev = NULL;
		return;
	}
	if (c->rj)
		reinject_cancel(c->rj);
	c->scan = scan_free(c->scan);
	txn_reset(c);
	xforward_reset(c);
	free(c->rcpts);
	free(c->rcpt_dsn);
	free(c->helo);
	buf_free(&c->line);
	if (c->deadline)
		event_free(c->deadline);
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	s->nconns--;
	if (s->draining && s->nconns == 0 && s->idle)
		s->idle(s->idle_arg);
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct smtp_server *s = arg;
	struct conn *c;
	struct timeval tv;
	uint64_t ms = cfg_time_ms(s->cfg, "smtp_timeout");
	int one = 1;

	(void)lev, (void)salen;
	if (s->draining || (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->srv = s;
	c->spool.fd = -1;
	buf_init(&c->line, SIZE_MAX);
	/* Replies are written once per read event; no Nagle delay. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(s->base, on_deadline, c);
	if (c->bev == NULL || c->deadline == NULL) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			close(fd);
		if (c->deadline)
			event_free(c->deadline);
		buf_free(&c->line);
		free(c);
		return;
	}
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		const void *a = sa->sa_family == AF_INET
		    ? (const void *)&((struct sockaddr_in *)sa)->sin_addr
		    : (const void *)&((struct sockaddr_in6 *)sa)->sin6_addr;

		evutil_inet_ntop(sa->sa_family, a, c->peer, sizeof(c->peer));
	} else {
		snprintf(c->peer, sizeof(c->peer), "local");
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	if (s->nconns > (size_t)cfg_int(s->cfg, "max_connections")) {
		reply(c, "421 4.3.2 %s Error: too many connections",
		    s->hostname);
		conn_close_after_flush(c);
		bufferevent_enable(c->bev, EV_WRITE);
		return;
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	reply(c, "220 %s %s filterd", s->hostname,
	    s->lmtp ? "LMTP" : "ESMTP");
}

struct smtp_server *
smtp_server_new(struct event_base *base, int listen_fd,
    const struct cfg *cfg, const struct checks *checks)
{
	struct smtp_server *s = calloc(1, sizeof(*s));
	const char *hn = cfg_str(cfg, "myhostname");

	if (s == NULL)
		return NULL;
	s->base = base;
	s->cfg = cfg;
	s->checks = checks;
	s->lmtp = strcmp(cfg_str(cfg, "protocol"), "lmtp") == 0;
	if (*hn)
		snprintf(s->hostname, sizeof(s->hostname), "%s", hn);
	else if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0)
		snprintf(s->hostname, sizeof(s->hostname), "localhost");
	if (listener_open(&s->door, base, listen_fd, on_accept, s,
		s->lmtp ? "lmtp" : "smtp", &s->nconns) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

void
smtp_server_drain(struct smtp_server *s, void (*idle)(void *), void *arg)
{
	struct conn *c, *next;

	s->draining = true;
	s->idle = idle;
	s->idle_arg = arg;
	listener_close(&s->door);
	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c->st == ST_CMD && !c->in_mail && !c->closing &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0) {
			reply(c, "421 4.3.2 %s Service shutting down",
			    s->hostname);
			conn_close_after_flush(c);
		}
	}
	if (s->nconns == 0 && idle)
		idle(arg);
}

size_t
smtp_server_conns(const struct smtp_server *s)
{
	return s->nconns;
}

struct smtp_server *
smtp_server_free(struct smtp_server *s)
{
	if (s == NULL)
		return NULL;
	s->idle = NULL;
	while (s->conns) {
		s->conns->st = ST_CMD; /* force */
		s->conns->dead = false;
		conn_free(s->conns);
	}
	listener_close(&s->door);
	/* Idle downstream connections live on the base: close them while
	 * it is still there (every server of the worker is going). */
	reinject_pool_flush(s->base);
	free(s);
	return NULL;
}
