/*
 * filterd/milter.c - the milter front door (libmilter): Postfix
 * smtpd_milters / Sendmail INPUT_MAIL_FILTER talk to filterd during the
 * SMTP dialogue, so spam can be rejected before the MTA takes it
 *
 * Process and threads: the master forks one milter process per config
 * generation (milter_spawn). libmilter runs one thread per MTA
 * connection and one global smfi_main(); the checks were written for a
 * single-threaded worker loop, so this process has exactly one scan
 * thread with its own event_base (DNS lookups of many messages overlap on
 * it as in a worker) and the libmilter threads hand it one job per
 * message at end-of-message, then wait on a condition variable at most
 * milter_timeout (kept well inside Postfix's milter_content_timeout,
 * 300 s). No check ever runs on two threads.
 *
 * Per connection (smfi_setpriv): the envelope from the callbacks and the
 * macros {client_addr} {client_name} i {auth_authen} {mail_addr}
 * {rcpt_addr}, the header section rebuilt as "Name: value" CRLF lines and
 * the body as sent (CRLF), capped at message_size_limit (larger: accepted
 * unscanned, logged). At end-of-message, per policy (action.h):
 *   pass / pass-spam   X-Spam-* headers added (SMFIF_ADDHDRS), the
 *                      message's own X-Spam-* removed and Subject tagged
 *                      (SMFIF_CHGHDRS), accept
 *   quarantine         the same headers, smfi_quarantine (Postfix: hold
 *                      queue, released with postsuper -H; the envelope
 *                      stays with the MTA, so filterd's quarantine_dir
 *                      and filterctl quarantine are not used), accept
 *   reject             550 5.7.1 with the score, in the SMTP dialogue
 *   discard            SMFIS_DISCARD
 *   internal error     SMFIS_TEMPFAIL (and when this process is down the
 *                      MTA applies milter_default_action: tempfail)
 * Memory: a job owns a copy of the message and envelope; the last of
 * the two threads to let go frees it. One log line per message, counted
 * in the metrics (metrics_message) like the SMTP door's. Policy banks and
 * recipient_policy are not applied here: one verdict per message, with the
 * global levels (README "Policies").
 */
#include "filterd/milter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "filterd/action.h"
#include "filterd/cfg.h"
#include "filterd/metrics.h"
#include "filterd/scan.h"
#include "util/buf.h"
#include "util/log.h"

#define MAX_RCPTS 1000

static const char *const our_hdrs[] = { "X-Spam-Flag", "X-Spam-Score",
	"X-Spam-Level", "X-Spam-Status" };
#define N_OURS (sizeof(our_hdrs) / sizeof(our_hdrs[0]))

/* The process-wide state: set before smfi_main, read-only afterwards. */
static struct {
	const struct cfg *cfg;
	const struct checks *checks;
	struct event_base *sbase;
	pthread_t sthread;
	size_t max_size;
	uint64_t wait_ms;
} G;

struct job {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool done, failed;
	unsigned char *raw;
	size_t len;
	struct envelope env;
	char *strs[8];        /* env strings owned by the job */
	char **rcpts;
	size_t nrcpts;
	struct scan *scan;
	/* results, valid when done && !failed */
	double score;
	char *tests, *autolearn, *authres, *received_spf, *auth_reject;
	char *dkim_sig; /* "dkim-signature" note: originating mail */
	unsigned ms;
};

struct mctx {
	char *client_addr, *client_name, *helo, *qid, *auth, *from;
	char **rcpts;
	size_t nrcpts;
	struct buf msg;
	bool too_big, in_body;
	unsigned nours[N_OURS];  /* occurrences of our headers */
	char *subject;           /* the first Subject's value */
	bool leadspc;            /* SMFIP_HDR_LEADSPC negotiated */
};

/* milter_enabled - see milter.h */
bool
milter_enabled(const struct cfg *c)
{
	const char *s = cfg_str(c, "milter_socket");

	return *s && strcmp(s, "none") != 0;
}

/* milter_check - see milter.h */
int
milter_check(const struct cfg *c, char *err, size_t errsz)
{
	const char *s = cfg_str(c, "milter_socket"), *p;
	char *end;
	long port;

	if (!milter_enabled(c))
		return 0;
	if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0) {
		p = strchr(s, ':') + 1;
		if (*p == '/')
			return 0;
		snprintf(err, errsz, "milter_socket %s: the path must be "
		    "absolute", s);
		return -EINVAL;
	}
	if (strncmp(s, "inet:", 5) == 0)
		p = s + 5;
	else if (strncmp(s, "inet6:", 6) == 0)
		p = s + 6;
	else {
		snprintf(err, errsz, "milter_socket %s: expected unix:/path "
		    "or inet:PORT@HOST", s);
		return -EINVAL;
	}
	port = strtol(p, &end, 10);
	if (end == p || port < 1 || port > 65535 ||
	    (*end != '\0' && (*end != '@' || end[1] == '\0'))) {
		snprintf(err, errsz, "milter_socket %s: expected a port "
		    "1..65535, then @HOST", s);
		return -EINVAL;
	}
	return 0;
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void
set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = dup_or_null(s);
}

/* Jobs ------------------------------------------------------------------ */

static void
job_unref(struct job *j)
{
	bool last;

	pthread_mutex_lock(&j->mu);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->mu);
	if (!last)
		return;
	scan_free(j->scan);
	free(j->raw);
	for (size_t i = 0; i < sizeof(j->strs) / sizeof(j->strs[0]); i++)
		free(j->strs[i]);
	for (size_t i = 0; i < j->nrcpts; i++)
		free(j->rcpts[i]);
	free(j->rcpts);
	free(j->tests);
	free(j->autolearn);
	free(j->authres);
	free(j->received_spf);
	free(j->auth_reject);
	free(j->dkim_sig);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

/* job_finish - scan thread: publish the result, wake the milter thread */
static void
job_finish(struct job *j, bool failed)
{
	pthread_mutex_lock(&j->mu);
	j->done = true;
	j->failed = failed;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	job_unref(j);
}

static void
on_scanned(struct scan *s, void *arg)
{
	struct job *j = arg;

	j->score = scan_score(s);
	j->tests = strdup(scan_tests(s));
	j->autolearn = dup_or_null(scan_note_get(s, "autolearn"));
	j->authres = dup_or_null(scan_note_get(s, "authres"));
	j->received_spf = dup_or_null(scan_note_get(s, "received-spf"));
	j->auth_reject = dup_or_null(scan_note_get(s, "auth-reject"));
	j->dkim_sig = dup_or_null(scan_note_get(s, "dkim-signature"));
	j->ms = scan_elapsed_ms(s);
	/* the scan is done with the job's bytes: free it on this thread */
	j->scan = scan_free(j->scan);
	job_finish(j, j->tests == NULL);
}

static void
start_job(evutil_socket_t fd, short ev, void *arg)
{
	struct job *j = arg;

	(void)fd, (void)ev;
	j->scan = scan_new(G.cfg, G.checks, G.sbase, j->raw, j->len, &j->env);
	if (j->scan == NULL || scan_run(j->scan, on_scanned, j) < 0) {
		j->scan = scan_free(j->scan);
		job_finish(j, true);
	}
}

static void *
scan_thread(void *arg)
{
	(void)arg;
	event_base_loop(G.sbase, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* run_job - hand j to the scan thread and wait; 0 when done, -ETIMEDOUT,
 * -EIO when the scan failed */
static int
run_job(struct job *j)
{
	static const struct timeval now = { 0, 0 };
	struct timespec dl;
	int rc = 0;

	j->refs = 2;
	if (event_base_once(G.sbase, -1, EV_TIMEOUT, start_job, j, &now) < 0) {
		j->refs = 1;
		return -ENOMEM;
	}
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)(G.wait_ms / 1000);
	dl.tv_nsec += (long)(G.wait_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&j->mu);
	while (!j->done && rc == 0)
		if (pthread_cond_timedwait(&j->cv, &j->mu, &dl) == ETIMEDOUT)
			rc = -ETIMEDOUT;
	if (j->done)
		rc = j->failed ? -EIO : 0;
	pthread_mutex_unlock(&j->mu);
	return rc;
}

/* Connection state ------------------------------------------------------- */

static void
reset_msg(struct mctx *m)
{
	set_str(&m->from, NULL);
	set_str(&m->qid, NULL);
	set_str(&m->auth, NULL);
	set_str(&m->subject, NULL);
	for (size_t i = 0; i < m->nrcpts; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	m->rcpts = NULL;
	m->nrcpts = 0;
	buf_free(&m->msg);
	buf_init(&m->msg, G.max_size);
	m->too_big = m->in_body = false;
	memset(m->nours, 0, sizeof(m->nours));
}

static struct mctx *
ctx_get(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

/* macro - a macro the MTA sent ({name} or a one-letter name) */
static const char *
macro(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *)(uintptr_t)name);

	return v && *v ? v : NULL;
}

static struct mctx *
ctx_new(SMFICTX *ctx)
{
	struct mctx *m = ctx_get(ctx);

	if (m == NULL && (m = calloc(1, sizeof(*m))) != NULL) {
		buf_init(&m->msg, G.max_size);
		smfi_setpriv(ctx, m);
	}
	return m;
}

/*
 * m_negotiate - the actions we registered, the protocol steps we have
 * callbacks for, and the header values with their leading space (SMFIP_HDR_LEADSPC; sendmail
 * 8.14, Postfix 2.6) when the MTA offers it. Without it the MTA strips
 * one SP after the colon: "Subject:x" and "Subject: x" arrive alike and
 * a TAB arrives after a space we would add, so the rebuilt header is not
 * the one DKIM (c=simple) and ARC signed. With it, the values we add or
 * change must bring their own space (add_hdr and friends below).
 */
static sfsistat
m_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	const unsigned long want =
	    SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE;
	struct mctx *m = ctx_new(ctx);

	(void)f2;
	(void)f3;
	if (m == NULL)
		return SMFIS_TEMPFAIL;
	*pf0 = f0 & want;
	/* and, as libmilter does by itself, no DATA and unknown-command
	 * events: there are no callbacks for them */
	*pf1 = f1 & (SMFIP_HDR_LEADSPC | SMFIP_NODATA | SMFIP_NOUNKNOWN);
	*pf2 = *pf3 = 0;
	m->leadspc = (f1 & SMFIP_HDR_LEADSPC) != 0;
	return SMFIS_CONTINUE;
}

/* The header changes of end-of-message. With SMFIP_HDR_LEADSPC the value
 * carries the space after the colon; a NULL value deletes (HDR_CHG). */
enum hdr_op { HDR_ADD, HDR_INS, HDR_CHG };

static int
hdr_op(SMFICTX *ctx, const struct mctx *m, enum hdr_op op, const char *name,
    int idx, const char *v)
{
	char *n = (char *)(uintptr_t)name, *s = NULL;
	int rc;

	if (v && asprintf(&s, "%s%s", m->leadspc ? " " : "", v) < 0)
		return -ENOMEM;
	rc = op == HDR_ADD ? smfi_addheader(ctx, n, s)
	    : op == HDR_INS ? smfi_insheader(ctx, idx, n, s)
			    : smfi_chgheader(ctx, n, idx, s);
	free(s);
	return rc == MI_SUCCESS ? 0 : -EIO;
}

static int
add_hdr(SMFICTX *ctx, const struct mctx *m, const char *name, const char *v)
{
	return hdr_op(ctx, m, HDR_ADD, name, 0, v);
}

static int
ins_hdr(SMFICTX *ctx, const struct mctx *m, const char *name, const char *v)
{
	return hdr_op(ctx, m, HDR_INS, name, 0, v);
}

/* chg_hdr - the idx-th name to v, or delete it (v NULL) */
static int
chg_hdr(SMFICTX *ctx, const struct mctx *m, const char *name, int idx,
    const char *v)
{
	return hdr_op(ctx, m, HDR_CHG, name, idx, v);
}

static sfsistat
m_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct mctx *m = ctx_new(ctx);
	char addr[INET6_ADDRSTRLEN] = "";
	const char *v;

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr,
		    addr, sizeof(addr));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
		    addr, sizeof(addr));
	v = macro(ctx, "{client_addr}");
	m->client_addr = dup_or_null(v ? v : *addr ? addr : NULL);
	v = macro(ctx, "{client_name}");
	m->client_name = dup_or_null(v ? v : host);
	return SMFIS_CONTINUE;
}

static sfsistat
m_helo(SMFICTX *ctx, char *helo)
{
	struct mctx *m = ctx_get(ctx);

	if (m)
		set_str(&m->helo, helo);
	return SMFIS_CONTINUE;
}

/* strip_angle - "<a@b>" -> "a@b" */
static char *
strip_angle(const char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
		return strndup(s + 1, n - 2);
	return strdup(s);
}

static sfsistat
m_envfrom(SMFICTX *ctx, char **argv)
{
	struct mctx *m = ctx_get(ctx);
	const char *v;

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	reset_msg(m);
	v = macro(ctx, "{mail_addr}");
	m->from = v ? strdup(v) : argv && argv[0] ? strip_angle(argv[0]) :
	    NULL;
	set_str(&m->auth, macro(ctx, "{auth_authen}"));
	set_str(&m->qid, macro(ctx, "i"));
	return SMFIS_CONTINUE;
}

static sfsistat
m_envrcpt(SMFICTX *ctx, char **argv)
{
	struct mctx *m = ctx_get(ctx);
	const char *v = macro(ctx, "{rcpt_addr}");
	char **r;

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	/* Postfix opens the queue file (and knows "i") at the first
	 * accepted RCPT (smtpd_delay_open_until_valid_rcpt) */
	if (m->qid == NULL)
		set_str(&m->qid, macro(ctx, "i"));
	if (m->nrcpts >= MAX_RCPTS)
		return SMFIS_CONTINUE; /* the MTA enforces its own limit */
	if ((r = realloc(m->rcpts, (m->nrcpts + 1) * sizeof(*r))) == NULL)
		return SMFIS_TEMPFAIL;
	m->rcpts = r;
	r[m->nrcpts] = v ? strdup(v) : argv && argv[0] ?
	    strip_angle(argv[0]) : strdup("");
	if (r[m->nrcpts])
		m->nrcpts++;
	return SMFIS_CONTINUE;
}

/* put_crlf - append s with bare LF turned into CRLF (folded header
 * values arrive with LF only) */
static int
put_crlf(struct buf *b, const char *s)
{
	int rc = 0;
	char prev = '\0';

	for (; *s && rc == 0; prev = *s++) {
		if (*s == '\n' && prev != '\r')
			rc = buf_putc(b, '\r');
		if (rc == 0)
			rc = buf_putc(b, *s);
	}
	return rc;
}

static sfsistat
m_header(SMFICTX *ctx, char *name, char *value)
{
	struct mctx *m = ctx_get(ctx);

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	for (size_t i = 0; i < N_OURS; i++)
		if (strcasecmp(name, our_hdrs[i]) == 0)
			m->nours[i]++;
	/* The value as the MTA sends it: with SMFIP_HDR_LEADSPC exactly
	 * what followed the colon, else with one leading SP taken off. */
	if (m->subject == NULL && strcasecmp(name, "Subject") == 0)
		m->subject =
		    strdup(m->leadspc && *value == ' ' ? value + 1 : value);
	if (m->too_big)
		return SMFIS_CONTINUE;
	if (buf_puts(&m->msg, name) < 0 ||
	    buf_puts(&m->msg, m->leadspc ? ":" : ": ") < 0 ||
	    put_crlf(&m->msg, value) < 0 || buf_puts(&m->msg, "\r\n") < 0)
		m->too_big = true;
	return SMFIS_CONTINUE;
}

static sfsistat
m_eoh(SMFICTX *ctx)
{
	struct mctx *m = ctx_get(ctx);

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	if (!m->too_big && buf_puts(&m->msg, "\r\n") < 0)
		m->too_big = true;
	m->in_body = true;
	return SMFIS_CONTINUE;
}

static sfsistat
m_body(SMFICTX *ctx, unsigned char *p, size_t len)
{
	struct mctx *m = ctx_get(ctx);

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	if (!m->too_big && buf_append(&m->msg, p, len) < 0)
		m->too_big = true;
	return SMFIS_CONTINUE;
}

/* job_from - a job owning copies of m's message and envelope */
static struct job *
job_from(struct mctx *m)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->refs = 1;
	/* the job takes the message bytes; m gets a fresh buffer */
	j->raw = m->msg.p;
	j->len = m->msg.len;
	buf_init(&m->msg, G.max_size);
	j->env.client_addr = j->strs[0] = dup_or_null(m->client_addr);
	j->env.client_name = j->strs[1] = dup_or_null(m->client_name);
	j->env.helo = j->strs[2] = dup_or_null(m->helo);
	j->env.qid = j->strs[3] = dup_or_null(m->qid);
	j->env.auth = j->strs[4] = dup_or_null(m->auth);
	j->env.mail_from = j->strs[5] = dup_or_null(m->from);
	j->env.proto = "SMTP";
	if (m->nrcpts && (j->rcpts = calloc(m->nrcpts, sizeof(char *)))) {
		for (size_t i = 0; i < m->nrcpts; i++)
			if ((j->rcpts[j->nrcpts] = strdup(m->rcpts[i])))
				j->nrcpts++;
	}
	j->env.rcpts = (const char *const *)j->rcpts;
	j->env.nrcpts = j->nrcpts;
	return j;
}

/* insert_sigs - the signature fields of filterd/check_dkimsign.c (an
 * ARC set, DKIM-Signatures: "Name: value\r\n\t...\r\n" each) on top, in
 * their order, folded with LF as libmilter wants */
static int
insert_sigs(SMFICTX *ctx, const struct mctx *m, const char *note)
{
	const char *f[16];
	size_t n = 0;
	int rc = 0;

	/* a field starts a line; a line starting with WSP continues one */
	for (const char *p = note; *p && n < 16;) {
		f[n++] = p;
		while (*p && !(p[0] == '\r' && p[1] == '\n' && p[2] != ' ' &&
		    p[2] != '\t'))
			p++;
		if (*p)
			p += 2;
	}
	while (n-- > 0) {
		const char *colon = strchr(f[n], ':'), *e = f[n];
		char name[64], *v, *w;

		while (*e && !(e[0] == '\r' && e[1] == '\n' && e[2] != ' ' &&
		    e[2] != '\t'))
			e++;
		if (colon == NULL || colon > e ||
		    (size_t)(colon - f[n]) >= sizeof(name))
			continue;
		memcpy(name, f[n], (size_t)(colon - f[n]));
		name[colon - f[n]] = '\0';
		if (colon[1] == ' ')
			colon++;
		if ((v = malloc((size_t)(e - colon))) == NULL)
			return -ENOMEM;
		w = v;
		for (const char *c = colon + 1; c < e; c++)
			if (*c != '\r')
				*w++ = *c;
		*w = '\0';
		if (ins_hdr(ctx, m, name, v) < 0)
			rc = -EIO;
		free(v);
	}
	return rc;
}

/* add_headers - ours (as action_rewrite writes them), theirs removed,
 * the Subject tagged; libmilter wants folded values with LF only */
static int
add_headers(SMFICTX *ctx, struct mctx *m, const struct job *j)
{
	const struct cfg *cfg = G.cfg;
	double tag2 = cfg_double(cfg, "tag2_level");
	const char *stag = cfg_str(cfg, "spam_subject_tag");
	bool spam = j->score >= tag2;
	char v[64];
	struct buf st;
	int stars, rc = 0;

	for (size_t i = 0; i < N_OURS; i++)
		for (unsigned k = m->nours[i]; k > 0; k--)
			if (chg_hdr(ctx, m, our_hdrs[i], (int)k, NULL) < 0)
				rc = -EIO;
	/* the notes of the auth checks, prepended like the SMTP door does */
	if (j->received_spf &&
	    ins_hdr(ctx, m, "Received-SPF", j->received_spf) < 0)
		rc = -EIO;
	if (j->authres &&
	    ins_hdr(ctx, m, "Authentication-Results", j->authres) < 0)
		rc = -EIO;
	if (j->dkim_sig && insert_sigs(ctx, m, j->dkim_sig) < 0)
		rc = -EIO;
	if (j->score >= cfg_double(cfg, "tag_level")) {
		if (spam && add_hdr(ctx, m, "X-Spam-Flag", "YES") < 0)
			rc = -EIO;
		snprintf(v, sizeof(v), "%.1f", j->score);
		if (add_hdr(ctx, m, "X-Spam-Score", v) < 0)
			rc = -EIO;
		stars = j->score < 1 ? 0 : j->score > 50 ? 50 : (int)j->score;
		memset(v, '*', (size_t)stars);
		v[stars] = '\0';
		if (add_hdr(ctx, m, "X-Spam-Level", v) < 0)
			rc = -EIO;
		buf_init(&st, 64 * 1024);
		if (action_status_header(&st, spam, j->score, tag2, j->tests,
		    j->autolearn) == 0 && buf_putc(&st, '\0') == 0) {
			/* CRLF TAB folding -> LF TAB */
			char *w = (char *)st.p;

			for (char *r = (char *)st.p; *r; r++)
				if (*r != '\r')
					*w++ = *r;
			*w = '\0';
			if (add_hdr(ctx, m, "X-Spam-Status", (char *)st.p) <
			    0)
				rc = -EIO;
		}
		buf_free(&st);
	}
	if (spam && *stag && j->dkim_sig == NULL) { /* signed: keep it */
		const char *old = m->subject ? m->subject : "";
		size_t n = strlen(stag) + strlen(old) + 1;
		char *s = malloc(n);

		if (s == NULL)
			return -ENOMEM;
		snprintf(s, n, "%s%s", stag, old);
		if ((m->subject ? chg_hdr(ctx, m, "Subject", 1, s)
				: add_hdr(ctx, m, "Subject", s)) < 0)
			rc = -EIO;
		free(s);
	}
	return rc;
}

/* log_msg - the one summary line per message, and the same message in the
 * shared counters (filterd/metrics.h: every process, any thread) */
static void
log_msg(const struct mctx *m, const struct job *j, enum action act,
    size_t size)
{
	log_info("%s: milter client=%s[%s] from=<%s> rcpts=%zu "
	    "score=%.1f/%.1f tests=%s action=%s size=%zu time=%ums",
	    m->qid ? m->qid : "NOQUEUE",
	    m->client_name ? m->client_name : "unknown",
	    m->client_addr ? m->client_addr : "", m->from ? m->from : "",
	    m->nrcpts, j ? j->score : 0.0, cfg_double(G.cfg, "tag2_level"),
	    j && j->tests ? j->tests : "none", action_name(act), size,
	    j ? j->ms : 0);
	metrics_message((int)act, j ? j->ms : 0, j ? j->tests : NULL, size);
}

static sfsistat
m_eom(SMFICTX *ctx)
{
	struct mctx *m = ctx_get(ctx);
	struct job *j;
	enum action a;
	sfsistat ret = SMFIS_CONTINUE;
	size_t size;
	int rc;

	if (m == NULL)
		return SMFIS_TEMPFAIL;
	if (m->qid == NULL)
		set_str(&m->qid, macro(ctx, "i"));
	size = m->msg.len;
	if (m->too_big) {
		log_warn("%s: milter: message over message_size_limit, "
		    "accepted unscanned", m->qid ? m->qid : "NOQUEUE");
		reset_msg(m);
		return SMFIS_CONTINUE;
	}
	if (!m->in_body && buf_puts(&m->msg, "\r\n") < 0) /* no headers */
		return SMFIS_TEMPFAIL;
	if ((j = job_from(m)) == NULL)
		return SMFIS_TEMPFAIL;
	if ((rc = run_job(j)) < 0) {
		log_error("%s: milter: scan %s; tempfail",
		    m->qid ? m->qid : "NOQUEUE", rc == -ETIMEDOUT ?
		    "timed out (milter_timeout)" : "failed");
		smfi_setreply(ctx, "451", "4.7.1",
		    "Content filter temporarily unavailable");
		log_msg(m, NULL, ACTION_TEMPFAIL, size);
		job_unref(j);
		reset_msg(m);
		return SMFIS_TEMPFAIL;
	}
	a = action_decide(G.cfg, j->score);
	/* a check's own rejection ("auth-reject": "5xx x.x.x text", DMARC
	 * p=reject with dmarc_policy_enforce) wins, as in the SMTP door */
	if (j->auth_reject && j->auth_reject[0] == '5')
		a = ACTION_REJECT;
	switch (a) {
	case ACTION_REJECT: {
		char why[256], code[4] = "550", xc[32] = "5.7.1";
		const char *ar = j->auth_reject;

		snprintf(why, sizeof(why), "Message rejected as spam "
		    "(score %.1f)", j->score);
		if (ar && ar[0] == '5' && strlen(ar) > 4) {
			size_t n;

			memcpy(code, ar, 3);
			ar += 4;
			n = strcspn(ar, " ");
			if (n < sizeof(xc) && ar[n]) {
				memcpy(xc, ar, n);
				xc[n] = '\0';
				snprintf(why, sizeof(why), "%s", ar + n + 1);
			}
		}
		smfi_setreply(ctx, code, xc, why);
		ret = SMFIS_REJECT;
		break;
	}
	case ACTION_DISCARD:
		ret = SMFIS_DISCARD;
		break;
	case ACTION_QUARANTINE: {
		char why[128];

		snprintf(why, sizeof(why), "filterd: spam, score %.1f",
		    j->score);
		if (add_headers(ctx, m, j) < 0 ||
		    smfi_quarantine(ctx, why) != MI_SUCCESS)
			ret = SMFIS_TEMPFAIL, a = ACTION_TEMPFAIL;
		break;
	}
	default:
		if (add_headers(ctx, m, j) < 0)
			ret = SMFIS_TEMPFAIL, a = ACTION_TEMPFAIL;
		break;
	}
	log_msg(m, j, a, size);
	job_unref(j);
	reset_msg(m);
	return ret;
}

static sfsistat
m_abort(SMFICTX *ctx)
{
	struct mctx *m = ctx_get(ctx);

	if (m)
		reset_msg(m);
	return SMFIS_CONTINUE;
}

static sfsistat
m_close(SMFICTX *ctx)
{
	struct mctx *m = ctx_get(ctx);

	if (m == NULL)
		return SMFIS_CONTINUE;
	reset_msg(m);
	buf_free(&m->msg);
	free(m->client_addr);
	free(m->client_name);
	free(m->helo);
	free(m);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = "filterd",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE,
	.xxfi_connect = m_connect,
	.xxfi_helo = m_helo,
	.xxfi_envfrom = m_envfrom,
	.xxfi_envrcpt = m_envrcpt,
	.xxfi_header = m_header,
	.xxfi_eoh = m_eoh,
	.xxfi_body = m_body,
	.xxfi_eom = m_eom,
	.xxfi_abort = m_abort,
	.xxfi_close = m_close,
	.xxfi_negotiate = m_negotiate,
};

/* accept - libmilter's listener (mi_listener in its listener.c) retries
 * an accept() that failed for want of descriptors or memory (EMFILE,
 * ENFILE, ENOBUFS, ENOMEM) at once: its poll() finds the listening socket
 * still readable, so a milter process out of descriptors spun at 100% CPU
 * until some were freed. libmilter offers no hook, so this program
 * defines accept(), which the dynamic linker binds libmilter's call to:
 * in the milter process such an error pauses the listener 1 s (the
 * connections wait in the kernel's backlog, as at the SMTP and spamd
 * doors, filterd/listener.c) with a warning at most every 10 s. Anywhere
 * else it is plain accept() (libevent uses accept4()). */
static volatile bool accept_pauses; /* set once, in the milter process */

int
accept(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
	static time_t next_warn;
	int c = accept4(fd, addr, len, 0);
	int e = errno;

	if (c >= 0 || !accept_pauses ||
	    (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM))
		return c;
	/* only libmilter's listener thread accepts here */
	time_t now = time(NULL);
	if (now >= next_warn) {
		next_warn = now + 10;
		log_warn("milter: accept: %s; pausing for 1s", strerror(e));
	}
	nanosleep(&(struct timespec){ 1, 0 }, NULL);
	errno = e;
	return c;
}

static _Noreturn void
milter_main(void)
{
	const char *sock = cfg_str(G.cfg, "milter_socket");
	uint64_t to = cfg_time_ms(G.cfg, "milter_timeout");
	sigset_t sigs;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	G.max_size = cfg_size(G.cfg, "message_size_limit");
	G.wait_ms = to;
	if (evthread_use_pthreads() < 0 ||
	    (G.sbase = event_base_new()) == NULL)
		log_fatal("milter: cannot create the scan loop");
	/* libmilter's own thread takes SIGTERM/SIGINT/SIGHUP with
	 * sigwait(); a thread of ours with them unblocked would get them
	 * first and die by the default action instead of a clean stop */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (pthread_create(&G.sthread, NULL, scan_thread, NULL) != 0)
		log_fatal("milter: cannot start the scan thread");
	if (smfi_register(desc) != MI_SUCCESS ||
	    smfi_setconn((char *)(uintptr_t)sock) != MI_SUCCESS ||
	    smfi_settimeout((int)(to / 1000)) != MI_SUCCESS) {
		log_error("milter: bad milter_socket %s", sock);
		_exit(1);
	}
	/* unix sockets: remove a stale one left by a crash */
	if (smfi_opensocket(true) != MI_SUCCESS) {
		log_error("milter: cannot listen on %s", sock);
		_exit(1);
	}
	log_info("milter: listening on %s", sock);
	accept_pauses = true;
	rc = smfi_main();
	event_base_loopbreak(G.sbase);
	pthread_join(G.sthread, NULL);
	log_info("milter: stopped");
	_exit(rc == MI_SUCCESS ? 0 : 1);
}

/* milter_spawn - see milter.h */
pid_t
milter_spawn(const struct cfg *cfg, const struct checks *checks,
    struct event_base *master_base)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid > 0)
		return pid;
	/* as a worker does: leave the master's loop without touching its
	 * (shared) epoll fd */
	if (master_base) {
		event_reinit(master_base);
		event_base_free(master_base);
	}
	G.cfg = cfg;
	G.checks = checks;
	milter_main();
}
