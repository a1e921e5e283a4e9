/*
 * filterd/action.c - amavis-style actions and SpamAssassin-style headers
 *
 * score >= tag_level: X-Spam-Status/-Score/-Level; >= tag2_level: also
 * X-Spam-Flag: YES and spam_subject_tag on the Subject; >= kill_level:
 * final_spam_destiny. The new header block is built in a caller's buf;
 * the body is never copied (the caller streams raw from body_off).
 * Quarantine writes a maildir file (LF line ends) with fsync + rename
 * (maildir(5)).
 */
#include "filterd/action.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "filterd/cfg.h"
#include "plugins/authres.h"
#include "util/fs.h"

static const char *const names[] = {
	[ACTION_PASS] = "pass",
	[ACTION_PASS_SPAM] = "pass-spam",
	[ACTION_DISCARD] = "discard",
	[ACTION_REJECT] = "reject",
	[ACTION_QUARANTINE] = "quarantine",
	[ACTION_TEMPFAIL] = "tempfail",
};

const char *
action_name(enum action a)
{
	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a]
							       : "?";
}

enum action
action_decide(const struct cfg *cfg, double score)
{
	const char *d;

	if (score < cfg_double(cfg, "tag2_level") &&
	    score < cfg_double(cfg, "kill_level"))
		return ACTION_PASS;
	if (score < cfg_double(cfg, "kill_level"))
		return ACTION_PASS_SPAM;
	d = cfg_str(cfg, "final_spam_destiny");
	/* bounce: not delivered; filterd/notify.c sends the DSN when the
	 * sender authenticated */
	if (strcmp(d, "discard") == 0 || strcmp(d, "bounce") == 0)
		return ACTION_DISCARD;
	if (strcmp(d, "reject") == 0)
		return ACTION_REJECT;
	if (strcmp(d, "quarantine") == 0)
		return ACTION_QUARANTINE;
	return ACTION_PASS_SPAM;
}

int
action_status_header(struct buf *out, bool spam, double score,
    double required, const char *tests, const char *autolearn)
{
	size_t col;
	size_t start = out->len;
	int rc;

	/* SpamAssassin prints one decimal; 8.25 rounds like printf does. */
	if ((rc = buf_printf(out, "%s, score=%.1f required=%.1f tests=",
	    spam ? "Yes" : "No", score, required)) < 0)
		return rc;
	col = strlen("X-Spam-Status: ") + (out->len - start);
	/* Fold between tests (SA folds at commas) to keep lines short. */
	for (const char *p = tests; *p;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p + 1) : strlen(p);

		if (col + n > 78 && col > 8) {
			if ((rc = buf_puts(out, "\r\n\t")) < 0)
				return rc;
			col = 8;
		}
		if ((rc = buf_append(out, p, n)) < 0)
			return rc;
		col += n;
		p += n;
	}
	if (col + 30 > 78) {
		if ((rc = buf_puts(out, "\r\n\t")) < 0)
			return rc;
		col = 8;
	} else if ((rc = buf_putc(out, ' ')) < 0)
		return rc;
	return buf_printf(out, "autolearn=%s version=%s",
	    autolearn ? autolearn : "no", ACTION_VERSION);
}

/* is_ours - a header we write and therefore never pass through */
static bool
is_ours(const unsigned char *p, size_t len)
{
	static const char *const h[] = { "X-Spam-Flag:", "X-Spam-Score:",
		"X-Spam-Level:", "X-Spam-Status:" };

	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		size_t n = strlen(h[i]);

		if (len >= n && strncasecmp((const char *)p, h[i], n) == 0)
			return true;
	}
	return false;
}

int
action_rewrite(const struct cfg *cfg, double score, const char *tests,
    const struct action_notes *notes, struct bstr raw, struct buf *out,
    size_t *body_off)
{
	static const struct action_notes none = { 0 };
	char servid[256] = "";
	double tag = cfg_double(cfg, "tag_level");
	double tag2 = cfg_double(cfg, "tag2_level");
	const char *stag = cfg_str(cfg, "spam_subject_tag");
	bool spam = score >= tag2;
	size_t i = 0;
	int rc;

	if (notes == NULL)
		notes = &none;
	if (notes->dkim_signature) {
		/* originating mail (filterd/check_dkimsign.c): a tag on the
		 * Subject would break the signature */
		stag = "";
		if ((rc = buf_puts(out, notes->dkim_signature)) < 0)
			return rc;
	}
	if (notes->authres) {
		/* Our authserv-id is the note's first token (RFC 8601 2.2). */
		size_t n = strcspn(notes->authres, "; \t\r\n");

		if (n < sizeof(servid)) {
			memcpy(servid, notes->authres, n);
			servid[n] = '\0';
		}
		if ((rc = buf_printf(out, "Authentication-Results: %s\r\n",
		    notes->authres)) < 0)
			return rc;
	}
	if (notes->received_spf && (rc = buf_printf(out,
	    "Received-SPF: %s\r\n", notes->received_spf)) < 0)
		return rc;
	if (score >= tag) {
		int stars = score < 1 ? 0 : score > 50 ? 50 : (int)score;

		if (spam && (rc = buf_puts(out, "X-Spam-Flag: YES\r\n")) < 0)
			return rc;
		if ((rc = buf_printf(out, "X-Spam-Score: %.1f\r\n", score)) < 0)
			return rc;
		if ((rc = buf_puts(out, "X-Spam-Level: ")) < 0)
			return rc;
		for (int s = 0; s < stars; s++)
			if ((rc = buf_putc(out, '*')) < 0)
				return rc;
		if ((rc = buf_puts(out, "\r\nX-Spam-Status: ")) < 0 ||
		    (rc = action_status_header(out, spam, score, tag2, tests,
			 notes->autolearn)) < 0 ||
		    (rc = buf_puts(out, "\r\n")) < 0)
			return rc;
	}
	/* Copy the header section field by field (a field = a line plus its
	 * continuation lines, RFC 5322 section 2.2.3), dropping ours and
	 * tagging the first Subject. Stops at the empty line or at a line
	 * that cannot be a header (no colon): from there raw goes as is. */
	bool tagged = false;
	while (i < raw.len) {
		size_t s = i, e;
		const unsigned char *colon;

		if (raw.p[i] == '\r' || raw.p[i] == '\n')
			break; /* the blank line */
		do {
			const unsigned char *nl =
			    memchr(raw.p + i, '\n', raw.len - i);

			i = nl ? (size_t)(nl - raw.p) + 1 : raw.len;
		} while (i < raw.len && (raw.p[i] == ' ' || raw.p[i] == '\t'));
		e = i;
		colon = memchr(raw.p + s, ':', e - s);
		if (colon == NULL || raw.p[s] == ' ' || raw.p[s] == '\t') {
			i = s; /* not a header line: send the rest as is */
			break;
		}
		if (is_ours(raw.p + s, e - s))
			continue;
		if (*servid && authres_strip(bstr_make(raw.p + s,
		    (size_t)(colon - (raw.p + s))), bstr_make(colon + 1,
		    e - (size_t)(colon + 1 - raw.p)), servid))
			continue;
		if (spam && !tagged && *stag && e - s >= 8 &&
		    strncasecmp((const char *)raw.p + s, "Subject:", 8) == 0) {
			size_t v = s + 8;

			if (v < e && raw.p[v] == ' ')
				v++;
			tagged = true;
			if ((rc = buf_append(out, raw.p + s, v - s)) < 0 ||
			    (rc = buf_puts(out, stag)) < 0 ||
			    (rc = buf_append(out, raw.p + v, e - v)) < 0)
				return rc;
			continue;
		}
		if ((rc = buf_append(out, raw.p + s, e - s)) < 0)
			return rc;
	}
	*body_off = i;
	return 0;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* write_lf - write p with CRLF line ends turned into LF (maildir files
 * use the local convention, maildir(5)) */
static int
write_lf(int fd, const unsigned char *p, size_t n)
{
	size_t i = 0;
	int rc;

	while (i < n) {
		const unsigned char *cr = memchr(p + i, '\r', n - i);
		size_t end = cr ? (size_t)(cr - p) : n;

		if ((rc = write_all(fd, p + i, end - i)) < 0)
			return rc;
		if (cr == NULL)
			break;
		/* A CR before LF is dropped, a lone CR is kept. */
		if (end + 1 >= n || p[end + 1] != '\n')
			if ((rc = write_all(fd, "\r", 1)) < 0)
				return rc;
		i = end + 1;
	}
	return 0;
}

int
action_quarantine(const char *dir, const struct buf *head, struct bstr raw,
    size_t body_off, char *name, size_t namesz)
{
	static unsigned seq;
	char tmp[4096], new[4096], host[64] = "localhost", sub[4096];
	struct timespec ts;
	int fd, rc, dfd;

	const char *subs[] = { "tmp", "new", "cur" };
	for (size_t i = 0; i < 3; i++) {
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, subs[i]) >=
		    (int)sizeof(sub))
			return -ENAMETOOLONG;
		if ((rc = fs_mkdirs(sub, 0750)) < 0)
			return rc;
	}
	gethostname(host, sizeof(host) - 1);
	for (char *p = host; *p; p++)
		if (*p == '/' || *p == ':')
			*p = '_';
	clock_gettime(CLOCK_REALTIME, &ts);
	/* maildir(5) unique name: time.M<usec>P<pid>Q<seq>.host */
	if (snprintf(name, namesz, "%lld.M%ldP%ldQ%u.%s",
	    (long long)ts.tv_sec, ts.tv_nsec / 1000, (long)getpid(), ++seq,
	    host) >= (int)namesz)
		return -ENAMETOOLONG;
	if (snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name) >=
	    (int)sizeof(tmp) ||
	    snprintf(new, sizeof(new), "%s/new/%s", dir, name) >=
	    (int)sizeof(new))
		return -ENAMETOOLONG;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) < 0)
		return -errno;
	if ((rc = write_lf(fd, head->p, head->len)) < 0 ||
	    (body_off < raw.len &&
		(rc = write_lf(fd, raw.p + body_off, raw.len - body_off)) <
		    0) ||
	    (fsync(fd) < 0 && (rc = -errno) < 0)) {
		close(fd);
		unlink(tmp);
		return rc;
	}
	close(fd);
	if (rename(tmp, new) < 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	/* The rename is durable once the directory is synced. */
	snprintf(sub, sizeof(sub), "%s/new", dir);
	if ((dfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
