/*
 * filterd/notify.c - spam_admin reports and bounce DSNs
 *
 * Both go downstream through `reinject` (the MTA delivers them) with the
 * null reverse-path (RFC 5321 section 4.5.5: no notification about a
 * notification) and Auto-Submitted: auto-generated (RFC 3834). The DSN
 * is multipart/report (RFC 6522) with a message/delivery-status part
 * (RFC 3464) and the original header section as text/rfc822-headers; it
 * goes only to senders that authenticated (SASL, XFORWARD PROTO ESMTPA),
 * whose address is therefore not forged: filterd never backscatters.
 * Reports are rate-limited across workers through the shared counters
 * (filterd/metrics.c). Text from the message is reduced to printable
 * ASCII before it goes into a header. Each send owns its copies (malloc)
 * until the reinjection's callback; a worker that exits drops what is
 * still in flight (best effort, logged by nobody).
 */
#include "filterd/notify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "filterd/cfg.h"
#include "filterd/metrics.h"
#include "filterd/reinject.h"
#include "filterd/scan.h"
#include "util/log.h"

#define HDR_MAX (64 * 1024)   /* header section quoted in a DSN */

/* ascii - printable ASCII of p[0..n), at most max bytes, into b */
static int
put_ascii(struct buf *b, const unsigned char *p, size_t n, size_t max)
{
	int rc = 0;

	for (size_t i = 0; i < n && i < max && rc == 0; i++)
		rc = buf_putc(b, p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?');
	return rc;
}

/* header_section - raw up to the blank line */
static struct bstr
header_section(struct bstr raw)
{
	for (size_t i = 0; i + 1 < raw.len; i++)
		if (raw.p[i] == '\n' && (raw.p[i + 1] == '\n' ||
		    (raw.p[i + 1] == '\r' && i + 2 < raw.len &&
		    raw.p[i + 2] == '\n')))
			return bstr_make(raw.p, i + 1);
	return raw;
}

/* subject - the first Subject line's value (not unfolded) */
static struct bstr
subject(struct bstr hs)
{
	for (size_t i = 0; i + 8 < hs.len; i++)
		if ((i == 0 || hs.p[i - 1] == '\n') &&
		    strncasecmp((const char *)hs.p + i, "Subject:", 8) == 0) {
			size_t s = i + 8, e;

			while (s < hs.len && (hs.p[s] == ' ' || hs.p[s] == '\t'))
				s++;
			for (e = s; e < hs.len && hs.p[e] != '\r' &&
			    hs.p[e] != '\n'; e++)
				;
			return bstr_make(hs.p + s, e - s);
		}
	return bstr_make("", 0);
}

/* host - myhostname, else the system's name, into buf (every caller
 * reads buf: returning the config's string instead left buf unset, and
 * with myhostname set the From and Message-ID got stack garbage) */
static const char *
host(const struct cfg *cfg, char *buf, size_t sz)
{
	const char *h = cfg_str(cfg, "myhostname");

	if (*h)
		snprintf(buf, sz, "%s", h);
	else if (gethostname(buf, sz - 1) < 0)
		snprintf(buf, sz, "localhost");
	buf[sz - 1] = '\0';
	return buf;
}

static int
common_headers(struct buf *b, const struct cfg *cfg, const char *to,
    const char *subj_fmt, const char *subj_arg)
{
	char h[256], date[64], idt[32];
	time_t now = time(NULL);
	struct timespec ts;
	static unsigned seq;

	clock_gettime(CLOCK_REALTIME, &ts);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    gmtime(&now));
	snprintf(idt, sizeof(idt), "%lld.%ld.%u", (long long)ts.tv_sec,
	    (long)getpid(), ++seq);
	host(cfg, h, sizeof(h));
	if (buf_printf(b, "From: filterd <MAILER-DAEMON@%s>\r\nTo: <%s>\r\n"
	    "Date: %s\r\nMessage-ID: <filterd.%s@%s>\r\n"
	    "Auto-Submitted: auto-generated\r\nSubject: ", h, to, date, idt,
	    h) < 0 || buf_printf(b, subj_fmt, subj_arg) < 0 ||
	    buf_puts(b, "\r\nMIME-Version: 1.0\r\n") < 0)
		return -ENOSPC;
	return 0;
}

int
notify_build_report(struct buf *b, const struct cfg *cfg,
    const struct envelope *env, double score, const char *tests,
    enum action a, struct bstr raw)
{
	struct bstr hs = header_section(raw);
	char sc[32];
	int rc;

	snprintf(sc, sizeof(sc), "%.1f", score);
	if ((rc = common_headers(b, cfg, cfg_str(cfg, "spam_admin"),
	    "[filterd] spam, score %s", sc)) < 0)
		return rc;
	buf_printf(b, "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
	    "A message reached kill_level (%.1f) and was handled as: %s\r\n"
	    "\r\nQueue id:   ", cfg_double(cfg, "kill_level"), action_name(a));
	put_ascii(b, (const unsigned char *)(env->qid ? env->qid : "-"),
	    strlen(env->qid ? env->qid : "-"), 64);
	buf_puts(b, "\r\nClient:     ");
	put_ascii(b, (const unsigned char *)(env->client_name ?
	    env->client_name : "unknown"), strlen(env->client_name ?
	    env->client_name : "unknown"), 255);
	buf_printf(b, " [%s]\r\nSender:     <", env->client_addr ?
	    env->client_addr : "-");
	put_ascii(b, (const unsigned char *)(env->mail_from ? env->mail_from
	    : ""), env->mail_from ? strlen(env->mail_from) : 0, 320);
	buf_printf(b, ">\r\nRecipients: %zu\r\n", env->nrcpts);
	for (size_t i = 0; i < env->nrcpts && i < 20; i++) {
		buf_puts(b, "  <");
		put_ascii(b, (const unsigned char *)env->rcpts[i],
		    strlen(env->rcpts[i]), 320);
		buf_puts(b, ">\r\n");
	}
	buf_printf(b, "Score:      %.1f\r\nTests:      %s\r\nSubject:    ",
	    score, tests ? tests : "none");
	put_ascii(b, subject(hs).p, subject(hs).len, 200);
	rc = buf_puts(b, "\r\n\r\n(filterctl quarantine list shows held "
	    "messages)\r\n");
	return rc < 0 ? rc : 0;
}

/* dsn_open - a DSN's header, its text part (intro, then its headers
 * follow) and the start of its message/delivery-status part (RFC 3464
 * section 2.2: the per-message fields); the boundary goes to bnd */
static int
dsn_open(struct buf *b, const struct cfg *cfg, const struct envelope *env,
    const char *why, const char *intro, char *bnd, size_t bndsz)
{
	char h[256], date[64];
	time_t now = time(NULL);
	int rc;

	host(cfg, h, sizeof(h));
	snprintf(bnd, bndsz, "filterd-dsn-%lld-%ld", (long long)now,
	    (long)getpid());
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    gmtime(&now));
	if ((rc = common_headers(b, cfg, env->mail_from,
	    "Undelivered Mail: %s", why)) < 0)
		return rc;
	rc = buf_printf(b, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n"
	    "This is a MIME-encapsulated message.\r\n\r\n--%s\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n%s"
	    "\r\n\r\n--%s\r\nContent-Type: message/delivery-status"
	    "\r\n\r\nReporting-MTA: dns; %s\r\nArrival-Date: %s\r\n", bnd,
	    bnd, intro, bnd, h, date);
	return rc < 0 ? rc : 0;
}

/* dsn_rcpt - one recipient's fields (RFC 3464 section 2.3) */
static void
dsn_rcpt(struct buf *b, const char *rcpt, const char *status,
    const char *diag)
{
	buf_puts(b, "\r\nFinal-Recipient: rfc822; ");
	put_ascii(b, (const unsigned char *)rcpt, strlen(rcpt), 320);
	buf_printf(b, "\r\nAction: failed\r\nStatus: %s\r\n"
	    "Diagnostic-Code: smtp; ", status);
	put_ascii(b, (const unsigned char *)diag, strlen(diag), 400);
	buf_puts(b, "\r\n");
}

/* dsn_close - the original header section as text/rfc822-headers (lines
 * as CRLF) and the closing boundary */
static int
dsn_close(struct buf *b, const char *bnd, struct bstr raw)
{
	struct bstr hs = header_section(raw);
	int rc;

	buf_printf(b, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n",
	    bnd);
	for (size_t i = 0; i < hs.len && i < HDR_MAX; i++) {
		if (hs.p[i] == '\n' && (i == 0 || hs.p[i - 1] != '\r'))
			buf_putc(b, '\r');
		buf_putc(b, hs.p[i]);
	}
	rc = buf_printf(b, "\r\n--%s--\r\n", bnd);
	return rc < 0 ? rc : 0;
}

int
notify_build_dsn(struct buf *b, const struct cfg *cfg,
    const struct envelope *env, double score, struct bstr raw)
{
	char h[256], bnd[64], intro[512], diag[128];
	int rc;

	host(cfg, h, sizeof(h));
	snprintf(intro, sizeof(intro), "Your message was not delivered: the "
	    "content filter at %s scored it\r\nas spam (score %.1f, limit "
	    "%.1f). Its headers follow.", h, score,
	    cfg_double(cfg, "kill_level"));
	if ((rc = dsn_open(b, cfg, env, "rejected as spam", intro, bnd,
	    sizeof(bnd))) < 0)
		return rc;
	snprintf(diag, sizeof(diag), "554 5.7.1 message scored as spam (%.1f)",
	    score);
	for (size_t i = 0; i < env->nrcpts; i++)
		dsn_rcpt(b, env->rcpts[i], "5.7.1", diag);
	return dsn_close(b, bnd, raw);
}

/* status_of - the enhanced status code (RFC 3463) at the start of a
 * reply text, else the class's generic one */
static void
status_of(const struct reinject_reply *r, char *out, size_t outsz)
{
	const char *t = r->text;
	size_t n = strspn(t, "0123456789.");

	if (n >= 5 && n < outsz && t[0] == '0' + r->code / 100 && t[1] == '.' &&
	    (t[n] == ' ' || t[n] == '\0')) {
		memcpy(out, t, n);
		out[n] = '\0';
	} else {
		snprintf(out, outsz, "%d.0.0", r->code / 100);
	}
}

bool
notify_rcpt_dsn_wanted(
    const struct cfg *cfg, const struct envelope *env, double score)
{
	if (env->mail_from == NULL || *env->mail_from == '\0')
		return false; /* a bounce is not bounced (RFC 5321 6.1) */
	/* spam's sender is most likely forged: a DSN would be backscatter
	 * (amavis: sa_dsn_cutoff_level), unless the sender logged in */
	return score < cfg_double(cfg, "tag2_level") ||
	    scan_env_authenticated(env);
}

int
notify_build_rcpt_dsn(struct buf *b, const struct cfg *cfg,
    const struct envelope *env, const struct reinject_result *res,
    struct bstr raw)
{
	char h[256], bnd[64], intro[512], st[32], diag[300];
	int rc;

	host(cfg, h, sizeof(h));
	snprintf(intro, sizeof(intro), "Your message could not be delivered "
	    "to the recipients below: the mail\r\nsystem behind the content "
	    "filter at %s refused them. It was delivered\r\nto the other "
	    "recipients. The replies and the message's headers follow.", h);
	if ((rc = dsn_open(b, cfg, env, "refused recipients", intro, bnd,
	    sizeof(bnd))) < 0)
		return rc;
	for (size_t i = 0; i < res->nrcpts && i < env->nrcpts; i++) {
		if (res->rcpt[i].code / 100 != 5)
			continue;
		status_of(&res->rcpt[i], st, sizeof(st));
		snprintf(diag, sizeof(diag), "%d %s", res->rcpt[i].code,
		    res->rcpt[i].text);
		dsn_rcpt(b, env->rcpts[i], st, diag);
	}
	return dsn_close(b, bnd, raw);
}

int
notify_request(struct reinject_req *rq, const struct cfg *cfg,
    const char *helo, const char *const *to, const struct buf *msg)
{
	long sep = bstr_find(buf_bstr(msg), bstr_cstr("\r\n\r\n"));

	if (sep < 0)
		return -1;
	*rq = (struct reinject_req){ 0 };
	rq->addr = cfg_text(cfg, "reinject");
	rq->helo = helo;
	rq->timeout_ms = cfg_time_ms(cfg, "reinject_timeout");
	rq->mail_from = ""; /* RFC 5321 section 4.5.5 */
	rq->rcpts = to;
	rq->nrcpts = 1;
	rq->head = bstr_sub(buf_bstr(msg), 0, (size_t)sep + 2);
	rq->body = bstr_sub(buf_bstr(msg), (size_t)sep + 2,
	    msg->len - (size_t)sep - 2);
	return 0;
}

struct notif {
	struct buf msg;
	char *rcpt;
	const char *rcpts[1];
	char helo[256];
	char what[16];
};

static void
on_sent(void *arg, const struct reinject_result *res)
{
	struct notif *n = arg;

	if (res->accepted == 0)
		log_warn("notify: %s to <%.100s> refused downstream: %d %.200s",
		    n->what, n->rcpt, res->nrcpts ? res->rcpt[0].code : 0,
		    res->nrcpts ? res->rcpt[0].text : "");
	buf_free(&n->msg);
	free(n->rcpt);
	free(n);
}

static void
send_one(struct event_base *base, const struct cfg *cfg, const char *to,
    struct buf *msg, const char *what)
{
	struct notif *n = calloc(1, sizeof(*n));
	struct reinject_req rq;

	if (n == NULL || (n->rcpt = strdup(to)) == NULL) {
		free(n);
		buf_free(msg);
		return;
	}
	n->msg = *msg; /* owned by n from here */
	n->rcpts[0] = n->rcpt;
	snprintf(n->what, sizeof(n->what), "%s", what);
	host(cfg, n->helo, sizeof(n->helo));
	if (notify_request(&rq, cfg, n->helo, n->rcpts, &n->msg) < 0 ||
	    reinject_start(base, &rq, on_sent, n) == NULL) {
		log_warn("notify: cannot send %s to <%.100s>", what, to);
		buf_free(&n->msg);
		free(n->rcpt);
		free(n);
	}
}


void
notify_message(struct event_base *base, const struct cfg *cfg,
    const struct envelope *env, double score, const char *tests,
    enum action a, struct bstr raw)
{
	const char *admin = cfg_str(cfg, "spam_admin");
	struct buf b;

	if (base == NULL || a == ACTION_TEMPFAIL ||
	    score < cfg_double(cfg, "kill_level"))
		return;
	if (*admin && metrics_rate_ok(
	    (unsigned)cfg_int(cfg, "spam_admin_max_per_hour"))) {
		buf_init(&b, 256 * 1024);
		if (notify_build_report(&b, cfg, env, score, tests, a, raw) ==
		    0)
			send_one(base, cfg, admin, &b, "report");
		else
			buf_free(&b);
	}
	if (a == ACTION_DISCARD && strcmp(cfg_str(cfg,
	    "final_spam_destiny"), "bounce") == 0 && env->mail_from &&
	    *env->mail_from && scan_env_authenticated(env)) {
		buf_init(&b, HDR_MAX + 64 * 1024 + env->nrcpts * 512);
		if (notify_build_dsn(&b, cfg, env, score, raw) == 0)
			send_one(base, cfg, env->mail_from, &b, "DSN");
		else
			buf_free(&b);
	}
}
