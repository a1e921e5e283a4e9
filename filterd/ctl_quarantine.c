/*
 * filterd/ctl_quarantine.c - filterctl quarantine list|show|release|
 * delete|expire
 *
 * Works on quarantine_dir (a maildir: new/ holds what the daemon
 * quarantined, cur/ what was released, flag P as in maildir(5) "passed").
 * An ID is the maildir file name without its ":2,..." info. release
 * reinjects to `reinject` with the envelope kept in the file
 * (filterd/quarantine.h) - or to the --to addresses instead - adding an
 * X-Filterd-Released field that names who released it; only a 2xx for
 * every recipient counts as released. Exit status: 0 done, 1 failure, 2
 * usage.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "filterd/cfg.h"
#include "filterd/ctl.h"
#include "filterd/quarantine.h"
#include "filterd/reinject.h"

#define MAX_TO 100

static const char *qdir;

/* find - the path of ID in new/ or cur/ (cur/ names carry ":2,FLAGS") */
static int
find(const char *id, char *path, size_t pathsz, bool *released)
{
	static const char *const subs[] = { "new", "cur" };
	size_t idl = strlen(id);

	if (idl == 0 || id[0] == '.' || strchr(id, '/') || strchr(id, ':')) {
		fprintf(stderr, "filterctl: bad quarantine id '%s'\n", id);
		return -EINVAL;
	}
	for (int i = 0; i < 2; i++) {
		char d[4096];
		DIR *dp;
		struct dirent *e;

		snprintf(d, sizeof(d), "%s/%s", qdir, subs[i]);
		if ((dp = opendir(d)) == NULL)
			continue;
		while ((e = readdir(dp)) != NULL) {
			if (strncmp(e->d_name, id, idl) != 0 ||
			    (e->d_name[idl] != '\0' && e->d_name[idl] != ':'))
				continue;
			snprintf(path, pathsz, "%s/%s", d, e->d_name);
			*released = i == 1;
			closedir(dp);
			return 0;
		}
		closedir(dp);
	}
	fprintf(stderr, "filterctl: no quarantined message '%s' in %s\n", id,
	    qdir);
	return -ENOENT;
}

/* header - value of the first field `name` in the header section after
 * the envelope block, unfolded, into out */
static void
header(const unsigned char *p, size_t len, size_t off, const char *name,
    char *out, size_t outsz)
{
	size_t nl = strlen(name), o = 0;

	out[0] = '\0';
	while (off < len) {
		size_t e = off;

		while (e < len && p[e] != '\n')
			e++;
		if (e == off || (e == off + 1 && p[off] == '\r'))
			return; /* end of the header section */
		if (e - off > nl && strncasecmp((const char *)p + off, name,
		    nl) == 0 && p[off + nl] == ':') {
			size_t s = off + nl + 1;

			for (;;) {
				for (; s < e && o + 1 < outsz; s++)
					if (p[s] != '\r' && (p[s] != ' ' || o))
						out[o++] = p[s] >= 0x20 &&
						    p[s] < 0x7f ? p[s] : '?';
				if (e + 1 >= len || (p[e + 1] != ' ' &&
				    p[e + 1] != '\t'))
					break;
				s = e + 1;
				for (e = s; e < len && p[e] != '\n'; e++)
					;
			}
			out[o] = '\0';
			return;
		}
		off = e + 1;
	}
}

static int
list_dir(const char *sub, bool released)
{
	char d[4096], path[8192];
	DIR *dp;
	struct dirent *e;
	int n = 0;

	snprintf(d, sizeof(d), "%s/%s", qdir, sub);
	if ((dp = opendir(d)) == NULL)
		return 0;
	while ((e = readdir(dp)) != NULL) {
		size_t len;
		unsigned char *p;
		struct quar_env q;
		struct stat st;
		char subj[80], score[16], when[32], id[256];

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", d, e->d_name);
		if (stat(path, &st) < 0 || (p = ctl_read_file(path,
		    &len)) == NULL)
			continue;
		snprintf(id, sizeof(id), "%.*s", (int)strcspn(e->d_name, ":"),
		    e->d_name);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
		    gmtime(&st.st_mtime));
		if (quar_env_parse(p, len, &q) < 0) {
			printf("%s  %s  (no envelope)\n", id, when);
		} else {
			header(p, len, q.msg_off, "X-Spam-Score", score,
			    sizeof(score));
			header(p, len, q.msg_off, "Subject", subj,
			    sizeof(subj));
			printf("%s  %s  %s  score=%s  from=<%s>  rcpts=%zu  "
			    "subject=%s\n", id, when,
			    released ? "released" : "held",
			    *score ? score : "-", q.from, q.nrcpts, subj);
			quar_env_free(&q);
		}
		free(p);
		n++;
	}
	closedir(dp);
	return n;
}

static void
on_done(void *arg, const struct reinject_result *res)
{
	struct reinject_result *out = arg;
	struct reinject_reply *r = calloc(res->nrcpts, sizeof(*r));

	if (r)
		memcpy(r, res->rcpt, res->nrcpts * sizeof(*r));
	*out = *res;
	out->rcpt = r;
}

/* crlf - the file's LF lines as CRLF lines */
static int
crlf(const unsigned char *p, size_t len, struct buf *out)
{
	int rc = 0;

	for (size_t i = 0; i < len && rc == 0; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			rc = buf_putc(out, '\r');
		if (rc == 0)
			rc = buf_putc(out, p[i]);
	}
	if (rc == 0 && len && p[len - 1] != '\n')
		rc = buf_puts(out, "\r\n");
	return rc;
}

static const char *
who(void)
{
	const char *u = getenv("SUDO_USER");
	struct passwd *pw;

	if (u && *u)
		return u;
	pw = getpwuid(getuid());
	return pw ? pw->pw_name : "unknown";
}

static int
release(const struct cfg *cfg, const char *id, char **to, size_t nto)
{
	char path[8192], host[256] = "localhost", date[64], newp[8400];
	unsigned char *p;
	size_t len;
	struct quar_env q;
	struct buf msg, head;
	struct reinject_req rq = { 0 };
	struct reinject_result res = { 0 };
	struct event_base *base;
	struct reinject *rj;
	bool released;
	long sep;
	time_t now = time(NULL);
	int rc = 1;

	if (find(id, path, sizeof(path), &released) < 0)
		return 1;
	if ((p = ctl_read_file(path, &len)) == NULL) {
		fprintf(stderr, "filterctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (quar_env_parse(p, len, &q) < 0) {
		fprintf(stderr, "filterctl: %s: no envelope block (quarantined "
		    "by an older filterd?); use --to\n", id);
		if (nto == 0) {
			free(p);
			return 1;
		}
		q = (struct quar_env){ .from = strdup("") };
	}
	/* head holds the whole header section (it once had 64 KiB, and a
	 * longer header went out without any of its fields) */
	buf_init(&msg, len * 2 + 1024);
	buf_init(&head, len * 2 + 4096);
	if (crlf(p + q.msg_off, len - q.msg_off, &msg) < 0)
		goto nomem;
	sep = bstr_find(buf_bstr(&msg), bstr_cstr("\r\n\r\n"));
	gethostname(host, sizeof(host) - 1);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
	    gmtime(&now));
	if (buf_printf(&head, "X-Filterd-Released: by %s via filterctl on "
	    "%s; %s\r\n", who(), host, date) < 0)
		goto nomem;
	rq.addr = cfg_text(cfg, "reinject");
	rq.helo = host;
	rq.timeout_ms = cfg_time_ms(cfg, "reinject_timeout");
	rq.mail_from = q.from;
	rq.rcpts = nto ? (const char *const *)to : (const char *const *)q.rcpts;
	rq.nrcpts = nto ? nto : q.nrcpts;
	rq.body_8bit = true; /* only said when the server offers 8BITMIME */
	if (sep < 0) { /* header only */
		if (buf_append(&head, msg.p, msg.len) < 0)
			goto nomem;
		rq.body = bstr_make("", 0);
	} else {
		if (buf_append(&head, msg.p, (size_t)sep + 2) < 0)
			goto nomem;
		rq.body = bstr_sub(buf_bstr(&msg), (size_t)sep + 2,
		    msg.len - (size_t)sep - 2);
	}
	rq.head = buf_bstr(&head);
	if ((base = event_base_new()) == NULL)
		goto out;
	if ((rj = reinject_start(base, &rq, on_done, &res)) == NULL) {
		fprintf(stderr, "filterctl: cannot reinject to %s\n", rq.addr);
		event_base_free(base);
		goto out;
	}
	event_base_dispatch(base);
	event_base_free(base);
	for (size_t i = 0; res.rcpt && i < res.nrcpts; i++)
		printf("%s <%s>: %d %s\n", id, rq.rcpts[i], res.rcpt[i].code,
		    res.rcpt[i].text);
	if (res.rcpt == NULL || res.accepted != res.nrcpts) {
		fprintf(stderr, "filterctl: %s: release failed for %zu of %zu "
		    "recipients; kept in quarantine\n", id,
		    res.nrcpts - res.accepted, rq.nrcpts);
		goto out;
	}
	/* Keep it, marked passed (maildir flag P), in cur/. */
	snprintf(newp, sizeof(newp), "%s/cur/%s:2,P", qdir, id);
	if (!released && rename(path, newp) < 0)
		fprintf(stderr, "filterctl: %s: released, but cannot move to "
		    "cur/: %s\n", id, strerror(errno));
	printf("%s: released to %zu recipient%s\n", id, rq.nrcpts,
	    rq.nrcpts == 1 ? "" : "s");
	rc = 0;
	goto out;
nomem:
	fprintf(stderr, "filterctl: %s: out of memory; kept in quarantine\n",
	    id);
out:
	free((void *)res.rcpt);
	buf_free(&msg);
	buf_free(&head);
	quar_env_free(&q);
	free(p);
	return rc;
}

/* Digest (notify_recipient) -------------------------------------------- */

struct held {
	char *rcpt;       /* lowercase, for grouping */
	char id[256], when[32], from[200], subj[120], score[16];
};

static int
by_rcpt(const void *a, const void *b)
{
	const struct held *x = a, *y = b;
	int c = strcmp(x->rcpt, y->rcpt);

	return c ? c : strcmp(x->when, y->when);
}

/* send_sync - one message (head+body CRLF) to rcpt with the null sender;
 * 0 when the downstream took it */
static int
send_sync(const struct cfg *cfg, const char *rcpt, struct buf *msg)
{
	struct reinject_req rq = { 0 };
	struct reinject_result res = { 0 };
	struct event_base *base;
	const char *rcpts[1] = { rcpt };
	char host[256] = "localhost";
	long sep = bstr_find(buf_bstr(msg), bstr_cstr("\r\n\r\n"));
	int rc = -EIO;

	if (sep < 0 || (base = event_base_new()) == NULL)
		return -EINVAL;
	gethostname(host, sizeof(host) - 1);
	rq.addr = cfg_text(cfg, "reinject");
	rq.helo = host;
	rq.timeout_ms = cfg_time_ms(cfg, "reinject_timeout");
	rq.mail_from = "";
	rq.rcpts = rcpts;
	rq.nrcpts = 1;
	rq.head = bstr_sub(buf_bstr(msg), 0, (size_t)sep + 2);
	rq.body = bstr_sub(buf_bstr(msg), (size_t)sep + 2,
	    msg->len - (size_t)sep - 2);
	if (reinject_start(base, &rq, on_done, &res) != NULL) {
		event_base_dispatch(base);
		if (res.rcpt && res.accepted == 1)
			rc = 0;
		else if (res.rcpt)
			fprintf(stderr, "filterctl: digest to <%s>: %d %s\n",
			    rcpt, res.rcpt[0].code, res.rcpt[0].text);
	}
	free((void *)res.rcpt);
	event_base_free(base);
	return rc;
}

/* digest - one mail per recipient listing what is held for them
 * (quarantined within the last secs), from the envelope in each file */
static int
digest(const struct cfg *cfg, long long secs, bool dry)
{
	char d[4096], path[8192], host[256] = "localhost";
	struct held *h = NULL;
	size_t n = 0, cap = 0, sent = 0, failed = 0;
	time_t now = time(NULL);
	DIR *dp;
	struct dirent *e;

	if (!cfg_bool(cfg, "notify_recipient") && !dry) {
		printf("notify_recipient = no: no digest sent\n");
		return 0;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(d, sizeof(d), "%s/new", qdir);
	if ((dp = opendir(d)) == NULL) {
		printf("nothing held\n");
		return 0;
	}
	while ((e = readdir(dp)) != NULL) {
		unsigned char *p;
		size_t len;
		struct quar_env q;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", d, e->d_name);
		if (stat(path, &st) < 0 || now - st.st_mtime > secs ||
		    (p = ctl_read_file(path, &len)) == NULL)
			continue;
		if (quar_env_parse(p, len, &q) < 0) {
			free(p);
			continue;
		}
		for (size_t r = 0; r < q.nrcpts; r++) {
			struct held *x;

			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				if ((x = realloc(h, cap * sizeof(*h))) == NULL)
					break;
				h = x;
			}
			x = &h[n];
			memset(x, 0, sizeof(*x));
			if ((x->rcpt = strdup(q.rcpts[r])) == NULL)
				break;
			for (char *c = x->rcpt; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			snprintf(x->id, sizeof(x->id), "%s", e->d_name);
			strftime(x->when, sizeof(x->when), "%Y-%m-%d %H:%M",
			    gmtime(&st.st_mtime));
			snprintf(x->from, sizeof(x->from), "%s", q.from);
			header(p, len, q.msg_off, "Subject", x->subj,
			    sizeof(x->subj));
			header(p, len, q.msg_off, "X-Spam-Score", x->score,
			    sizeof(x->score));
			n++;
		}
		quar_env_free(&q);
		free(p);
	}
	closedir(dp);
	qsort(h, n, sizeof(*h), by_rcpt);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		struct buf b;
		char date[64];

		while (j < n && strcmp(h[j].rcpt, h[i].rcpt) == 0)
			j++;
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000",
		    gmtime(&now));
		buf_init(&b, 1024 * 1024);
		buf_printf(&b, "From: filterd <MAILER-DAEMON@%s>\r\n"
		    "To: <%s>\r\nDate: %s\r\nSubject: [filterd] %zu "
		    "message%s held for you\r\nAuto-Submitted: "
		    "auto-generated\r\nMIME-Version: 1.0\r\nContent-Type: "
		    "text/plain; charset=us-ascii\r\n\r\nThese messages "
		    "to you were held as spam. To get one, ask your mail\r\n"
		    "admin to release it by its id (filterctl quarantine "
		    "release ID).\r\n\r\n", host, h[i].rcpt, date, j - i,
		    j - i == 1 ? "" : "s");
		for (size_t k = i; k < j; k++) {
			buf_printf(&b, "%s  score %s  from <", h[k].when,
			    *h[k].score ? h[k].score : "-");
			for (const char *c = h[k].from; *c; c++)
				buf_putc(&b, *c >= 0x20 && *c < 0x7f ? *c : '?');
			buf_printf(&b, ">\r\n  subject: %s\r\n  id: %.*s"
			    "\r\n\r\n", h[k].subj,
			    (int)strcspn(h[k].id, ":"), h[k].id);
		}
		if (dry) {
			fwrite(b.p, 1, b.len, stdout);
			printf("----\n");
		} else if (send_sync(cfg, h[i].rcpt, &b) == 0) {
			sent++;
		} else {
			failed++;
		}
		buf_free(&b);
		i = j;
	}
	for (size_t i = 0; i < n; i++)
		free(h[i].rcpt);
	free(h);
	if (!dry)
		printf("digest: %zu sent, %zu failed\n", sent, failed);
	return failed ? 1 : 0;
}

/* age - "30d", "12h", "90m", "3600s", bare = days */
static long long
age_seconds(const char *s)
{
	char *e;
	long long n = strtoll(s, &e, 10);

	if (e == s || n < 0)
		return -1;
	switch (*e) {
	case '\0':
	case 'd':
		return n * 86400;
	case 'h':
		return n * 3600;
	case 'm':
		return n * 60;
	case 's':
		return n;
	}
	return -1;
}

static int
expire(long long secs, bool dry)
{
	static const char *const subs[] = { "new", "cur" };
	time_t now = time(NULL);
	unsigned n = 0, kept = 0;

	for (int i = 0; i < 2; i++) {
		char d[4096], path[8192];
		DIR *dp;
		struct dirent *e;
		struct stat st;

		snprintf(d, sizeof(d), "%s/%s", qdir, subs[i]);
		if ((dp = opendir(d)) == NULL)
			continue;
		while ((e = readdir(dp)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", d, e->d_name);
			if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			if (now - st.st_mtime < secs) {
				kept++;
				continue;
			}
			if (dry || unlink(path) == 0)
				n++;
		}
		closedir(dp);
	}
	printf("expired %u message%s%s, %u kept\n", n, n == 1 ? "" : "s",
	    dry ? " (dry run)" : "", kept);
	return 0;
}

static int
usage(FILE *f)
{
	fprintf(f, "usage: filterctl quarantine list\n"
	    "       filterctl quarantine show ID\n"
	    "       filterctl quarantine release ID [--to ADDR]...\n"
	    "       filterctl quarantine delete ID...\n"
	    "       filterctl quarantine expire --older-than AGE [--dry-run]"
	    "   (AGE: 30d, 12h, 90m)\n"
	    "       filterctl quarantine digest [--since AGE] [--dry-run]"
	    "   (notify_recipient: one mail per\n"
	    "           recipient listing what was held for them; default "
	    "24h)\n");
	return f == stdout ? 0 : 2;
}

int
ctl_quarantine(int argc, char **argv)
{
	struct cfg *cfg;
	const char *sub = argc > 1 ? argv[1] : NULL;
	char path[8192];
	bool released;
	int rc = 0;

	if (sub == NULL)
		return usage(stderr);
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help"))
		return usage(stdout);
	if ((cfg = ctl_load_cfg(NULL)) == NULL)
		return 1;
	qdir = cfg_str(cfg, "quarantine_dir");
	if (!strcmp(sub, "list") && argc == 2) {
		int n = list_dir("new", false) + list_dir("cur", true);

		fprintf(stderr, "%d message%s in %s\n", n, n == 1 ? "" : "s",
		    qdir);
	} else if (!strcmp(sub, "show") && argc == 3) {
		unsigned char *p;
		size_t len;

		if (find(argv[2], path, sizeof(path), &released) < 0 ||
		    (p = ctl_read_file(path, &len)) == NULL) {
			rc = 1;
		} else {
			fwrite(p, 1, len, stdout);
			free(p);
		}
	} else if (!strcmp(sub, "release") && argc >= 3) {
		char *to[MAX_TO];
		size_t nto = 0;

		for (int i = 3; i < argc; i++) {
			if (strcmp(argv[i], "--to") != 0 || i + 1 >= argc ||
			    nto == MAX_TO) {
				cfg_free(cfg);
				return usage(stderr);
			}
			to[nto++] = argv[++i];
		}
		rc = release(cfg, argv[2], to, nto);
	} else if (!strcmp(sub, "delete") && argc >= 3) {
		for (int i = 2; i < argc; i++) {
			if (find(argv[i], path, sizeof(path), &released) < 0 ||
			    unlink(path) < 0) {
				rc = 1;
				continue;
			}
			printf("%s: deleted\n", argv[i]);
		}
	} else if (!strcmp(sub, "expire") && (argc == 4 || argc == 5) &&
	    !strcmp(argv[2], "--older-than")) {
		long long secs = age_seconds(argv[3]);
		bool dry = argc == 5 && !strcmp(argv[4], "--dry-run");

		if (secs < 0 || (argc == 5 && !dry)) {
			cfg_free(cfg);
			return usage(stderr);
		}
		rc = expire(secs, dry);
	} else if (!strcmp(sub, "digest")) {
		long long secs = 86400;
		bool dry = false;

		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--dry-run")) {
				dry = true;
			} else if (!strcmp(argv[i], "--since") && i + 1 < argc &&
			    (secs = age_seconds(argv[i + 1])) >= 0) {
				i++;
			} else {
				cfg_free(cfg);
				return usage(stderr);
			}
		}
		rc = digest(cfg, secs, dry);
	} else {
		cfg_free(cfg);
		return usage(stderr);
	}
	cfg_free(cfg);
	return rc;
}
