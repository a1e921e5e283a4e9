/*
 * filterd/spamd.c - the spamd protocol front door (spamc, Exim's spam=
 * ACL condition, anything speaking SPAMC/1.x), one worker
 *
 * One request per connection, as with spamd 4.0: the request line and
 * headers (parsed by spamd_proto.c), the body (Content-length bytes, or
 * up to EOF without one; zlib-inflated with "Compress: zlib"), the scan
 * on this worker's event base, the reply, close. Clients outside
 * spamd_allowed_ips are closed without a word (spamd does the same). A
 * body over message_size_limit (declared, received or inflated) gets
 * "SPAMD/1.0 69 Service Unavailable" at once and the connection is shut
 * for writing; spamd_timeout bounds every read, so nothing waits forever.
 * The verdict is the one filterctl check prints: score = scan_score(),
 * spam = score >= tag2_level, symbols = scan_tests(); PROCESS/HEADERS
 * return the daemon's header rewrite (action_rewrite). spamd never
 * rejects, quarantines or discards: final_spam_destiny is the caller's.
 * Each scan is counted in the metrics as pass or pass-spam; policy banks
 * and recipient_policy do not apply (global levels, README "Policies").
 * TELL learns through the Bayes store (spamd_allow_tell). Memory: the
 * connection owns the body buffer and the scan; a client that goes away
 * mid-scan leaves the connection to be freed when the scan is done.
 * One log line per request.
 */
#include "filterd/spamd.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bayes/bayes.h"
#include "bayes/store.h"
#include "filterd/action.h"
#include "filterd/cfg.h"
#include "filterd/ctl_bayes.h"
#include "filterd/metrics.h"
#include "filterd/scan.h"
#include "filterd/spamd_proto.h"
#include "mail/msg.h"
#include "util/buf.h"
#include "util/hits.h"
#include "util/log.h"
#include "util/netaddr.h"

#define HEAD_MAX (256 * 1024) /* request line + headers, generously */

enum sstate { SS_HEAD, SS_BODY, SS_SCAN, SS_CLOSING, SS_DRAIN };

struct sconn;

struct spamd_server {
	struct event_base *base;
	struct evconnlistener *lev;
	const struct cfg *cfg;
	const struct checks *checks;
	struct sconn *conns;
	size_t nconns;
	bool draining;
	void (*idle)(void *);
	void *idle_arg;
	char hostname[256];
};

struct sconn {
	struct spamd_server *srv;
	struct sconn *next, *prev;
	struct bufferevent *bev;
	enum sstate st;
	bool gone;            /* the client went away during the scan */
	bool linger;          /* after the reply: read the upload to EOF */
	char peer[64];
	struct spamd_req req;
	struct timespec t0;
	unsigned char *raw;   /* the message (inflated) */
	size_t len;
	struct envelope env;
	struct scan *scan;
};

static void sconn_free(struct sconn *);
static void on_write(struct bufferevent *, void *);

static unsigned
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (unsigned)((t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* close_after_flush - no more reading; close once the output is out */
static void
close_after_flush(struct sconn *c)
{
	c->st = SS_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_enable(c->bev, EV_WRITE);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		on_write(c->bev, c);
}

static void
send_buf(struct sconn *c, const struct buf *b)
{
	evbuffer_add(bufferevent_get_output(c->bev), b->p, b->len);
}

/* fail - a spamd error line, logged once, then close */
static void
fail(struct sconn *c, int code, const char *text)
{
	struct buf b;

	buf_init(&b, 4096);
	if (spamd_reply_error(&b, code, text) == 0)
		send_buf(c, &b);
	buf_free(&b);
	log_warn("spamd: client=[%s] %s: error %d: %s", c->peer,
	    c->st == SS_HEAD ? "request" : spamd_cmd_name(c->req.cmd), code,
	    text);
	/* A client still uploading would get a reset instead of the reply
	 * if we closed now: answer, shut our side, read its rest to EOF
	 * (bounded by spamd_timeout). */
	c->linger = c->st == SS_BODY;
	close_after_flush(c);
}

/* spamd_report - SpamAssassin's report template (10_default_prefs.cf,
 * "report"), without the content preview */
int
spamd_report(struct buf *out, struct scan *s, double required,
    const char *hostname)
{
	struct hits *h = scan_hits(s);
	int rc;

	hits_sort(h);
	rc = buf_printf(out,
	    "Spam detection software, running on the system \"%s\",\n"
	    "has identified this incoming email as possible spam.  The "
	    "original\nmessage has been attached to this so you can view "
	    "it or label\nsimilar future email.  If you have any questions, "
	    "see\nthe administrator of that system for details.\n\n"
	    "Content analysis details:   (%.1f points, %.1f required)\n\n"
	    " pts rule name              description\n"
	    "---- ---------------------- ------------------------------------"
	    "--------------\n", hostname, scan_score(s), required);
	for (size_t i = 0; rc == 0 && i < hits_count(h); i++) {
		struct hit *x = hits_at(h, i);
		const char *desc = scan_describe(s, x->name);

		rc = buf_printf(out, "%4.1f %-22s %s%s%s\n",
		    x->has_score ? x->score : 0.0, x->name, desc ? desc : "",
		    desc && x->detail ? ": " : "", x->detail ? x->detail : "");
	}
	return rc;
}

/* tell - TELL: learn/forget through the Bayes store; *did gets the
 * SPAMD_TELL_* targets actually changed */
static int
tell(struct sconn *c, unsigned *did_set, unsigned *did_remove)
{
	char spec[4096];
	struct bayes_store *st = NULL;
	struct msg *m = NULL;
	int rc;

	*did_set = *did_remove = 0;
	if ((c->req.set & SPAMD_TELL_LOCAL) && c->req.cls == SPAMD_CLASS_NONE)
		return -EINVAL;
	if (!((c->req.set | c->req.remove) & SPAMD_TELL_LOCAL))
		return 0; /* "remote" (Razor/Pyzor reporting): not ours */
	if ((rc = ctl_bayes_spec(c->srv->cfg, spec, sizeof(spec))) < 0)
		return rc;
	if ((rc = msg_parse(c->raw, c->len, NULL, &m)) < 0)
		return rc;
	if ((rc = bayes_store_open(spec, true, &st)) < 0)
		goto out;
	if (c->req.set & SPAMD_TELL_LOCAL) {
		rc = bayes_learn_msg(st, m, c->req.cls == SPAMD_CLASS_SPAM ?
		    BAYES_SPAM : BAYES_HAM, (uint32_t)time(NULL));
		if (rc < 0)
			goto out;
		if (rc == BAYES_LEARNED)
			*did_set |= SPAMD_TELL_LOCAL;
	}
	if (c->req.remove & SPAMD_TELL_LOCAL) {
		rc = bayes_learn_msg(st, m, BAYES_FORGET,
		    (uint32_t)time(NULL));
		if (rc < 0)
			goto out;
		if (rc == BAYES_LEARNED)
			*did_remove |= SPAMD_TELL_LOCAL;
	}
	rc = 0;
out:
	bayes_store_close(st);
	msg_free(m);
	return rc;
}

static void
do_tell(struct sconn *c)
{
	struct buf b;
	unsigned set, rem;
	int rc;

	if (!cfg_bool(c->srv->cfg, "spamd_allow_tell")) {
		fail(c, SPAMD_EX_UNAVAILABLE,
		    "TELL commands have not been enabled.");
		return;
	}
	if ((rc = tell(c, &set, &rem)) < 0) {
		fail(c, rc == -EINVAL ? SPAMD_EX_PROTOCOL :
		    SPAMD_EX_UNAVAILABLE, rc == -EINVAL ?
		    "(Set requires a Message-class header)" :
		    "(Bayes store unavailable)");
		return;
	}
	buf_init(&b, 4096);
	buf_puts(&b, "SPAMD/1.1 0 EX_OK\r\n");
	if (set)
		buf_puts(&b, "DidSet: local\r\n");
	if (rem)
		buf_puts(&b, "DidRemove: local\r\n");
	/* spamd 4.0 writes the header block, then "\r\n\r\n" */
	buf_puts(&b, "\r\n\r\n");
	send_buf(c, &b);
	buf_free(&b);
	log_info("spamd: client=[%s] TELL user=%s class=%s set=%s "
	    "remove=%s size=%zu time=%ums", c->peer,
	    c->req.user[0] ? c->req.user : "-",
	    c->req.cls == SPAMD_CLASS_SPAM ? "spam" :
	    c->req.cls == SPAMD_CLASS_HAM ? "ham" : "-",
	    set ? "local" : "-", rem ? "local" : "-", c->len,
	    ms_since(&c->t0));
	close_after_flush(c);
}

/* reply_scan - the answer for a finished scan */
static int
reply_scan(struct sconn *c, struct buf *out)
{
	const struct cfg *cfg = c->srv->cfg;
	double score = scan_score(c->scan), req = cfg_double(cfg,
	    "tag2_level");
	bool spam = score >= req;
	struct buf body;
	struct action_notes notes = { 0 };
	size_t off;
	int rc = 0;

	buf_init(&body, (size_t)-1 / 2);
	switch (c->req.cmd) {
	case SPAMD_CHECK:
		break;
	case SPAMD_SYMBOLS: {
		const char *t = scan_tests(c->scan);

		if (strcmp(t, "none") != 0)
			rc = buf_puts(&body, t);
		if (rc == 0 && c->req.version < 13)
			rc = buf_puts(&body, "\r\n");
		break;
	}
	case SPAMD_REPORT:
	case SPAMD_REPORT_IFSPAM:
		if (c->req.cmd == SPAMD_REPORT || spam)
			rc = spamd_report(&body, c->scan, req,
			    c->srv->hostname);
		break;
	case SPAMD_PROCESS:
	case SPAMD_HEADERS:
		notes.autolearn = scan_note_get(c->scan, "autolearn");
		notes.authres = scan_note_get(c->scan, "authres");
		notes.received_spf = scan_note_get(c->scan, "received-spf");
		rc = action_rewrite(cfg, score, scan_tests(c->scan), &notes,
		    bstr_make(c->raw, c->len), &body, &off);
		if (rc < 0)
			break;
		if (c->req.cmd == SPAMD_PROCESS) {
			rc = buf_append(&body, c->raw + off, c->len - off);
		} else if (off < c->len) {
			/* just the headers and the blank line after them */
			size_t n = c->raw[off] == '\r' ? 2 : 1;

			rc = buf_append(&body, c->raw + off,
			    n <= c->len - off ? n : c->len - off);
		}
		break;
	default:
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = spamd_reply_head(out, &c->req, spam, score, req,
		    body.len);
	if (rc == 0 && c->req.cmd != SPAMD_CHECK)
		rc = buf_append(out, body.p, body.len);
	buf_free(&body);
	return rc;
}

static void
on_scanned(struct scan *s, void *arg)
{
	struct sconn *c = arg;
	struct buf out;
	double score = scan_score(s), req;
	bool spam;
	unsigned ms;

	if (c->gone) {
		sconn_free(c);
		return;
	}
	buf_init(&out, (size_t)-1 / 2);
	if (reply_scan(c, &out) < 0) {
		buf_free(&out);
		fail(c, SPAMD_EX_SOFTWARE, "(out of memory building reply)");
		return;
	}
	send_buf(c, &out);
	buf_free(&out);
	req = cfg_double(c->srv->cfg, "tag2_level");
	spam = score >= req;
	ms = ms_since(&c->t0);
	log_info("spamd: client=[%s] %s user=%s score=%.1f/%.1f tests=%s "
	    "spam=%s size=%zu time=%ums", c->peer, spamd_cmd_name(c->req.cmd),
	    c->req.user[0] ? c->req.user : "-", score, req, scan_tests(s),
	    spam ? "yes" : "no", c->len, ms);
	/* spamd only answers: the verdict is counted as what the caller
	 * is told (pass / pass-spam); its own destiny is not ours to see */
	metrics_message(spam ? ACTION_PASS_SPAM : ACTION_PASS, ms,
	    scan_tests(s), c->len);
	close_after_flush(c);
}

/* have_body - the whole body is in (or at EOF when eof); run the command */
static void
have_body(struct sconn *c, bool eof)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t avail = evbuffer_get_length(in), want, limit;
	char why[160];

	limit = cfg_size(c->srv->cfg, "message_size_limit");
	want = c->req.has_length ? c->req.length : avail;
	if (avail < want) {
		if (!eof)
			return;
		snprintf(why, sizeof(why), "(Content-Length mismatch: "
		    "Expected %zu bytes, got %zu bytes)", want, avail);
		fail(c, SPAMD_EX_PROTOCOL, why);
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
	if (c->req.compress) {
		struct buf z;
		unsigned char *p = evbuffer_pullup(in, (ssize_t)want);
		int rc;

		buf_init(&z, limit);
		rc = p || want == 0 ? spamd_inflate(p, want, limit, &z) :
		    -ENOMEM;
		evbuffer_drain(in, want);
		if (rc < 0) {
			buf_free(&z);
			fail(c, SPAMD_EX_UNAVAILABLE, rc == -EFBIG ?
			    "(message larger than message_size_limit)" :
			    "zlib: failed to find end of zlib stream");
			return;
		}
		c->raw = z.p; /* the buf's storage is ours now */
		c->len = z.len;
	} else {
		if ((c->raw = malloc(want ? want : 1)) == NULL) {
			fail(c, SPAMD_EX_SOFTWARE, "(out of memory)");
			return;
		}
		evbuffer_remove(in, c->raw, want);
		c->len = want;
	}
	evbuffer_drain(in, evbuffer_get_length(in));
	if (c->req.cmd == SPAMD_TELL) {
		do_tell(c);
		return;
	}
	c->st = SS_SCAN;
	c->env.client_addr = NULL; /* spamd has no envelope: Received only */
	c->scan = scan_new(c->srv->cfg, c->srv->checks, c->srv->base, c->raw,
	    c->len, &c->env);
	if (c->scan == NULL || scan_run(c->scan, on_scanned, c) < 0) {
		c->scan = scan_free(c->scan);
		c->st = SS_BODY;
		fail(c, SPAMD_EX_SOFTWARE, "(scan failed)");
	}
}

static void
on_head(struct sconn *c, bool eof)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t avail = evbuffer_get_length(in), n = avail < HEAD_MAX ?
	    avail : HEAD_MAX;
	unsigned char *p = evbuffer_pullup(in, (ssize_t)n);
	const char *why;
	int rc;

	if (n == 0) {
		if (eof)
			sconn_free(c); /* connected and left: fine */
		return;
	}
	rc = spamd_parse_head(p, n, &c->req, &why);
	if (rc == -EAGAIN && !eof && n < HEAD_MAX)
		return;
	if (rc == -EAGAIN)
		rc = -EPROTO, why = eof ? "(EOF during headers)" :
		    "(headers too long)";
	if (rc < 0) {
		fail(c, SPAMD_EX_PROTOCOL, why);
		return;
	}
	evbuffer_drain(in, c->req.head_len);
	switch (c->req.cmd) {
	case SPAMD_PING:
		evbuffer_add_printf(bufferevent_get_output(c->bev),
		    "SPAMD/1.5 0 PONG\r\n");
		close_after_flush(c);
		return;
	case SPAMD_SKIP:
		log_info("spamd: client=[%s] SKIP (spamc found the message "
		    "too big)", c->peer);
		close_after_flush(c);
		return;
	default:
		break;
	}
	c->st = SS_BODY;
	if (c->req.has_length &&
	    c->req.length > cfg_size(c->srv->cfg, "message_size_limit")) {
		fail(c, SPAMD_EX_UNAVAILABLE,
		    "(message larger than message_size_limit)");
		return;
	}
	have_body(c, eof);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct sconn *c = arg;

	(void)bev;
	if (c->st == SS_HEAD) {
		on_head(c, false);
	} else if (c->st == SS_BODY) {
		if (!c->req.has_length && evbuffer_get_length(
		    bufferevent_get_input(c->bev)) >
		    cfg_size(c->srv->cfg, "message_size_limit")) {
			fail(c, SPAMD_EX_UNAVAILABLE,
			    "(message larger than message_size_limit)");
			return;
		}
		have_body(c, false);
	} else if (c->st == SS_DRAIN) {
		/* after an early error: swallow the rest of the upload */
		evbuffer_drain(bufferevent_get_input(bev),
		    evbuffer_get_length(bufferevent_get_input(bev)));
	}
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	struct sconn *c = arg;

	(void)bev;
	if (c->st != SS_CLOSING)
		return;
	if (c->linger) {
		c->st = SS_DRAIN;
		shutdown(bufferevent_getfd(c->bev), SHUT_WR);
		bufferevent_disable(c->bev, EV_WRITE);
		bufferevent_enable(c->bev, EV_READ);
		return;
	}
	sconn_free(c);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct sconn *c = arg;
	char why[128];

	(void)bev;
	if (what & BEV_EVENT_EOF) {
		/* spamc shuts down its sending side after the body */
		if (c->st == SS_HEAD) {
			on_head(c, true);
			return;
		}
		if (c->st == SS_BODY) {
			have_body(c, true);
			return;
		}
	}
	if ((what & BEV_EVENT_TIMEOUT) && (c->st == SS_HEAD ||
	    c->st == SS_BODY)) {
		snprintf(why, sizeof(why), "(%llu second socket timeout "
		    "reading input from client)", (unsigned long long)
		    cfg_time_ms(c->srv->cfg, "spamd_timeout") / 1000);
		fail(c, SPAMD_EX_TIMEOUT, why);
		return;
	}
	if (c->st == SS_SCAN) {
		c->gone = true; /* freed when the scan is done */
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	sconn_free(c);
}

static void
sconn_free(struct sconn *c)
{
	struct spamd_server *s = c->srv;

	if (c->st == SS_SCAN && c->scan && !c->gone) {
		/* cannot free a scan mid-flight: wait for on_scanned */
		c->gone = true;
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	c->scan = scan_free(c->scan);
	if (c->bev)
		bufferevent_free(c->bev);
	free(c->raw);
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

static bool
peer_allowed(const struct spamd_server *s, struct sockaddr *sa, char *peer,
    size_t peersz)
{
	struct netaddr na;
	const void *a;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
		snprintf(peer, peersz, "local");
		return true; /* a unix socket is guarded by its permissions */
	}
	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(
	    &((struct sockaddr_in6 *)sa)->sin6_addr)) {
		/* [::]:783 sees IPv4 clients as ::ffff:a.b.c.d: match them
		 * against the IPv4 entries */
		a = ((struct sockaddr_in6 *)sa)->sin6_addr.s6_addr + 12;
		evutil_inet_ntop(AF_INET, a, peer, peersz);
	} else {
		a = sa->sa_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)sa)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)sa)->sin6_addr;
		evutil_inet_ntop(sa->sa_family, a, peer, peersz);
	}
	if (netaddr_parse(peer, strlen(peer), &na) < 0)
		return false;
	return netlist_match(cfg_netlist(s->cfg, "spamd_allowed_ips"), &na);
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct spamd_server *s = arg;
	struct sconn *c;
	struct timeval tv;
	uint64_t ms = cfg_time_ms(s->cfg, "spamd_timeout");
	int one = 1;
	char peer[64];

	(void)lev, (void)salen;
	if (!peer_allowed(s, sa, peer, sizeof(peer))) {
		log_warn("spamd: unauthorized connection from [%s] "
		    "(spamd_allowed_ips)", peer);
		close(fd);
		return;
	}
	if (s->draining || s->nconns >= (size_t)cfg_int(s->cfg,
	    "max_connections") || (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->srv = s;
	memcpy(c->peer, peer, sizeof(c->peer));
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
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
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

struct spamd_server *
spamd_server_new(struct event_base *base, int listen_fd,
    const struct cfg *cfg, const struct checks *checks)
{
	struct spamd_server *s = calloc(1, sizeof(*s));
	const char *hn = cfg_str(cfg, "myhostname");

	if (s == NULL)
		return NULL;
	s->base = base;
	s->cfg = cfg;
	s->checks = checks;
	if (*hn)
		snprintf(s->hostname, sizeof(s->hostname), "%s", hn);
	else if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0)
		snprintf(s->hostname, sizeof(s->hostname), "localhost");
	s->lev = evconnlistener_new(base, on_accept, s, 0, -1, listen_fd);
	if (s->lev == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void
spamd_server_drain(struct spamd_server *s, void (*idle)(void *), void *arg)
{
	s->draining = true;
	s->idle = idle;
	s->idle_arg = arg;
	if (s->lev) {
		evconnlistener_free(s->lev);
		s->lev = NULL;
	}
	if (s->nconns == 0 && idle)
		idle(arg);
}

size_t
spamd_server_conns(const struct spamd_server *s)
{
	return s->nconns;
}

struct spamd_server *
spamd_server_free(struct spamd_server *s)
{
	if (s == NULL)
		return NULL;
	s->idle = NULL;
	while (s->conns) {
		struct sconn *c = s->conns;

		/* the loop has stopped: no callback can come any more */
		if (c->scan)
			c->st = SS_CLOSING;
		sconn_free(c);
	}
	if (s->lev)
		evconnlistener_free(s->lev);
	free(s);
	return NULL;
}
