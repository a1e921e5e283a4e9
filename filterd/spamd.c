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
 * connection owns the input buffer (request head and body; the message
 * is a slice of it unless inflated), the reply buffer and the scan; a
 * client that goes away mid-scan leaves the connection to be freed when
 * the scan is done. One log line per request.
 *
 * I/O is plain non-blocking recv/send on one persistent event, not a
 * bufferevent: a bufferevent reads 4 KB per call (an ioctl, a readv and
 * a loop turn each) and waits for EPOLLOUT before writing, ~17-25
 * syscalls a message. Here the first recv is tried at accept, the body
 * lands in one buffer sized from Content-length as it arrives, and the
 * reply is sent at once; the event is only armed when a call would block
 * (~10 syscalls a message). The config values read per request are
 * copied at spamd_server_new (a worker's config never changes).
 */
#include "filterd/spamd.h"
#include "filterd/listener.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
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
#define READ_CHUNK (64 * 1024) /* recv size while the length is unknown */

enum sstate { SS_HEAD, SS_BODY, SS_SCAN, SS_CLOSING, SS_DRAIN };

struct sconn;

struct spamd_server {
	struct event_base *base;
	struct listener door;
	const struct cfg *cfg;
	const struct checks *checks;
	struct sconn *conns;
	size_t nconns;
	bool draining;
	void (*idle)(void *);
	void *idle_arg;
	char hostname[256];
	/* from cfg, read once (spamd_server_new) */
	double tag2;
	size_t size_limit, max_conns;
	struct timeval tmo;
	const struct netlist *allowed;
};

struct sconn {
	struct spamd_server *srv;
	struct sconn *next, *prev;
	int fd;
	struct event *ev;     /* fd, EV_PERSIST, spamd_timeout */
	short watching;       /* EV_READ, EV_WRITE or 0: ev not added */
	enum sstate st;
	bool gone;            /* the client went away during the scan */
	bool linger;          /* after the reply: read the upload to EOF */
	bool eof;             /* the client shut its sending side */
	char peer[64];
	struct spamd_req req;
	struct timespec t0;
	struct buf in;        /* request head, then the body */
	struct buf out;       /* the reply; out_off bytes sent */
	size_t out_off;
	unsigned char *raw;   /* the message: in the input or inflated */
	unsigned char *zraw;  /* the inflated message (owned), or NULL */
	size_t len;
	struct envelope env;
	struct scan *scan;
};

static void sconn_free(struct sconn *);
static void flush_out(struct sconn *);
static void on_io(evutil_socket_t, short, void *);

static unsigned
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (unsigned)((t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* watch - arm the connection's event for what (EV_READ, EV_WRITE; 0:
 * none); the spamd_timeout restarts with every readiness */
static int
watch(struct sconn *c, short what)
{
	if (c->watching == what)
		return 0;
	if (c->watching)
		event_del(c->ev);
	c->watching = 0;
	if (what == 0)
		return 0;
	if (event_assign(c->ev, c->srv->base, c->fd, what | EV_PERSIST,
	    on_io, c) < 0 ||
	    event_add(c->ev, &c->srv->tmo) < 0)
		return -ENOMEM;
	c->watching = what;
	return 0;
}

/* close_after_flush - no more reading; close once the output is out */
static void
close_after_flush(struct sconn *c)
{
	c->st = SS_CLOSING;
	flush_out(c);
}

/* flush_out - send what is left of the reply; when it is all out, end
 * (or, lingering, read the client's upload to EOF). May free c. */
static void
flush_out(struct sconn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off,
		    c->out.len - c->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (watch(c, EV_WRITE) < 0)
				sconn_free(c);
			return;
		}
		if (n <= 0) {
			sconn_free(c); /* the client is gone */
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->linger && !c->eof) {
		c->st = SS_DRAIN;
		shutdown(c->fd, SHUT_WR);
		if (watch(c, EV_READ) < 0)
			sconn_free(c);
		return;
	}
	sconn_free(c);
}

static void
send_buf(struct sconn *c, const struct buf *b)
{
	if (buf_append(&c->out, b->p, b->len) < 0)
		log_warn("spamd: client=[%s] reply of %zu bytes dropped: out "
		    "of memory", c->peer, b->len);
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
	double score = scan_score(c->scan), req = c->srv->tag2;
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
	double score = scan_score(s), req = c->srv->tag2;
	bool spam = score >= req;
	const char *tests;
	unsigned ms;

	if (c->gone) {
		sconn_free(c);
		return;
	}
	if (reply_scan(c, &c->out) < 0) {
		buf_reset(&c->out);
		fail(c, SPAMD_EX_SOFTWARE, "(out of memory building reply)");
		return;
	}
	ms = ms_since(&c->t0);
	tests = scan_tests(s);
	log_info("spamd: client=[%s] %s user=%s score=%.1f/%.1f tests=%s "
	    "spam=%s size=%zu time=%ums", c->peer, spamd_cmd_name(c->req.cmd),
	    c->req.user[0] ? c->req.user : "-", score, req, tests,
	    spam ? "yes" : "no", c->len, ms);
	/* spamd only answers: the verdict is counted as what the caller
	 * is told (pass / pass-spam); its own destiny is not ours to see */
	metrics_message(spam ? ACTION_PASS_SPAM : ACTION_PASS, ms, tests,
	    c->len);
	close_after_flush(c);
}

/* read_more - wait for more of the request; may free c */
static void
read_more(struct sconn *c)
{
	if (watch(c, EV_READ) < 0)
		sconn_free(c);
}

/* have_body - the whole body is in (or the client is at EOF); run the
 * command */
static void
have_body(struct sconn *c)
{
	size_t avail = c->in.len - c->req.head_len, want, limit;
	unsigned char *body = c->in.p + c->req.head_len;
	char why[160];

	limit = c->srv->size_limit;
	want = c->req.has_length ? c->req.length : avail;
	/* without Content-length the body ends at EOF (spamd's parse_body
	 * reads to it); spamd_timeout and the size cap bound the wait */
	if (!c->eof && (!c->req.has_length || avail < want)) {
		read_more(c);
		return;
	}
	if (avail < want) {
		snprintf(why, sizeof(why), "(Content-Length mismatch: "
		    "Expected %zu bytes, got %zu bytes)", want, avail);
		fail(c, SPAMD_EX_PROTOCOL, why);
		return;
	}
	watch(c, 0);
	if (c->req.compress) {
		struct buf z;
		int rc;

		buf_init(&z, limit);
		rc = spamd_inflate(body, want, limit, &z);
		if (rc < 0) {
			buf_free(&z);
			fail(c, SPAMD_EX_UNAVAILABLE, rc == -EFBIG ?
			    "(message larger than message_size_limit)" :
			    "zlib: failed to find end of zlib stream");
			return;
		}
		c->raw = c->zraw = z.p; /* the buf's storage is ours now */
		c->len = z.len;
		if (c->raw == NULL && (c->raw = c->zraw = malloc(1)) == NULL) {
			fail(c, SPAMD_EX_SOFTWARE, "(out of memory)");
			return;
		}
	} else {
		/* bytes past Content-length are ignored, as before */
		c->raw = body;
		c->len = want;
	}
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
on_head(struct sconn *c)
{
	size_t n = c->in.len < HEAD_MAX ? c->in.len : HEAD_MAX;
	const char *why;
	int rc;

	if (n == 0) {
		if (c->eof)
			sconn_free(c); /* connected and left: fine */
		else
			read_more(c);
		return;
	}
	rc = spamd_parse_head(c->in.p, n, &c->req, &why);
	if (rc == -EAGAIN && !c->eof && n < HEAD_MAX) {
		read_more(c);
		return;
	}
	if (rc == -EAGAIN)
		rc = -EPROTO, why = c->eof ? "(EOF during headers)" :
		    "(headers too long)";
	if (rc < 0) {
		fail(c, SPAMD_EX_PROTOCOL, why);
		return;
	}
	switch (c->req.cmd) {
	case SPAMD_PING:
		buf_puts(&c->out, "SPAMD/1.5 0 PONG\r\n");
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
	if (c->req.has_length && c->req.length > c->srv->size_limit) {
		fail(c, SPAMD_EX_UNAVAILABLE,
		    "(message larger than message_size_limit)");
		return;
	}
	have_body(c);
}

/* fill - recv what the socket holds into the input (SS_HEAD, SS_BODY),
 * at most HEAD_MAX + message_size_limit bytes in all: 1 when something
 * new came in, at EOF or with the input full (the caller's size checks
 * then fail the request), 0 when the socket is empty, -1 when the client
 * is gone or memory ran out (the caller frees) */
static int
fill(struct sconn *c)
{
	bool got = false;

	for (;;) {
		size_t room, want = READ_CHUNK;
		ssize_t n;

		if (c->st == SS_BODY && c->req.has_length) {
			/* the rest of the declared body (at most the limit,
			 * checked in on_head), in steps as it arrives */
			size_t have = c->in.len - c->req.head_len;

			want = have < c->req.length ? c->req.length - have : 0;
			if (want > READ_CHUNK && want > c->in.len)
				want = c->in.len; /* double, not the claim */
		}
		if (want > c->in.max - c->in.len)
			want = c->in.max - c->in.len;
		if (want == 0)
			return 1; /* all in, or at the cap: the caller decides */
		if (c->in.cap < c->in.len + want + 1 &&
		    buf_reserve(&c->in, want) < 0)
			return -1;
		room = c->in.cap - c->in.len - 1;
		if (room > c->in.max - c->in.len)
			room = c->in.max - c->in.len; /* never past the cap */
		n = recv(c->fd, c->in.p + c->in.len, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return got ? 1 : 0;
		if (n < 0)
			return -1;
		if (n == 0) {
			c->eof = true;
			return 1;
		}
		c->in.len += (size_t)n;
		c->in.p[c->in.len] = '\0';
		got = true;
		if ((size_t)n < room)
			return 1; /* most likely empty now: spare a recv */
		if (c->st == SS_HEAD)
			return 1; /* parse first: the length sizes the rest */
	}
}

/* on_readable - read and act; may free c */
static void
on_readable(struct sconn *c)
{
	int rc = fill(c);

	if (rc < 0) {
		sconn_free(c);
		return;
	}
	if (rc == 0) {
		read_more(c);
		return;
	}
	if (c->st == SS_HEAD) {
		on_head(c);
	} else if (c->st == SS_BODY) {
		if (!c->req.has_length &&
		    c->in.len - c->req.head_len > c->srv->size_limit) {
			fail(c, SPAMD_EX_UNAVAILABLE,
			    "(message larger than message_size_limit)");
			return;
		}
		have_body(c);
	} else {
		return;
	}
	/* c may be gone: nothing below touches it */
}

static void
on_timeout(struct sconn *c)
{
	char why[128];

	if (c->st == SS_HEAD || c->st == SS_BODY) {
		snprintf(why, sizeof(why), "(%llu second socket timeout "
		    "reading input from client)", (unsigned long long)
		    (c->srv->tmo.tv_sec));
		fail(c, SPAMD_EX_TIMEOUT, why);
		return;
	}
	sconn_free(c); /* writing or draining: give up */
}

static void
on_io(evutil_socket_t fd, short what, void *arg)
{
	struct sconn *c = arg;
	char sink[4096];
	ssize_t n;

	(void)fd;
	if (what & EV_TIMEOUT) {
		on_timeout(c);
		return;
	}
	switch (c->st) {
	case SS_HEAD:
	case SS_BODY:
		if (what & EV_READ) {
			/* still unread (a partial head) does not wait */
			on_readable(c);
			return;
		}
		break;
	case SS_CLOSING:
		if (what & EV_WRITE) {
			flush_out(c);
			return;
		}
		break;
	case SS_DRAIN:
		/* after an early error: swallow the rest of the upload */
		while ((n = recv(c->fd, sink, sizeof(sink), 0)) > 0)
			;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR))
			sconn_free(c);
		return;
	case SS_SCAN:
		break;
	}
}

static void
sconn_free(struct sconn *c)
{
	struct spamd_server *s = c->srv;

	if (c->st == SS_SCAN && c->scan && !c->gone) {
		/* cannot free a scan mid-flight: wait for on_scanned */
		c->gone = true;
		watch(c, 0);
		return;
	}
	c->scan = scan_free(c->scan);
	if (c->ev) {
		watch(c, 0);
		event_free(c->ev);
	}
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c->zraw);
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
	return netlist_match(s->allowed, &na);
}

static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct spamd_server *s = arg;
	struct sconn *c;
	int one = 1;
	char peer[64];

	(void)lev, (void)salen;
	if (!peer_allowed(s, sa, peer, sizeof(peer))) {
		log_warn("spamd: unauthorized connection from [%s] "
		    "(spamd_allowed_ips)", peer);
		close(fd);
		return;
	}
	if (s->draining || s->nconns >= s->max_conns ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->srv = s;
	c->fd = fd;
	memcpy(c->peer, peer, sizeof(c->peer));
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	buf_init(&c->in, s->size_limit > SIZE_MAX / 2 - HEAD_MAX ?
	    SIZE_MAX / 2 : HEAD_MAX + s->size_limit);
	buf_init(&c->out, (size_t)-1 / 2);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* assigned (fd, callback) for good here; watch() re-assigns the
	 * events it waits for */
	c->ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_io, c);
	if (c->ev == NULL) {
		close(fd);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	/* spamc writes the request right after connecting: it is often
	 * here already, which spares arming the event and a loop turn */
	on_readable(c);
}

struct spamd_server *
spamd_server_new(struct event_base *base, int listen_fd,
    const struct cfg *cfg, const struct checks *checks)
{
	struct spamd_server *s = calloc(1, sizeof(*s));
	const char *hn = cfg_str(cfg, "myhostname");
	uint64_t ms;

	if (s == NULL)
		return NULL;
	s->base = base;
	s->cfg = cfg;
	s->checks = checks;
	s->tag2 = cfg_double(cfg, "tag2_level");
	s->size_limit = cfg_size(cfg, "message_size_limit");
	s->max_conns = (size_t)cfg_int(cfg, "max_connections");
	s->allowed = cfg_netlist(cfg, "spamd_allowed_ips");
	ms = cfg_time_ms(cfg, "spamd_timeout");
	s->tmo.tv_sec = (time_t)(ms / 1000);
	s->tmo.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if (*hn)
		snprintf(s->hostname, sizeof(s->hostname), "%s", hn);
	else if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0)
		snprintf(s->hostname, sizeof(s->hostname), "localhost");
	if (listener_open(&s->door, base, listen_fd, on_accept, s, "spamd",
		&s->nconns) < 0) {
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
	listener_close(&s->door);
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
	listener_close(&s->door);
	free(s);
	return NULL;
}
