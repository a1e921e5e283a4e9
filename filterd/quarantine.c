/*
 * filterd/quarantine.c - quarantine store with the envelope, and its parser
 *
 * quar_store() prepends the envelope block (quarantine.h) to the header
 * section the action built and hands both to action_quarantine(), which
 * writes the maildir file with LF line ends, fsync and rename. The parser
 * reads the block back for `filterctl quarantine release`; it allocates
 * with malloc, owned by the caller's struct quar_env until
 * quar_env_free(). Addresses never hold CR or LF (the SMTP parser refuses
 * them); anything else between the angle brackets is kept as it came.
 */
#include "filterd/quarantine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filterd/action.h"
#include "filterd/scan.h"

/* token - a qid or client address made safe for the "; key=value" list */
static int
put_token(struct buf *b, const char *s)
{
	int rc = 0;

	if (s == NULL || *s == '\0')
		return buf_putc(b, '-');
	for (; *s && rc == 0; s++)
		rc = buf_putc(b, (*s >= 'a' && *s <= 'z') ||
			(*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
			strchr(".:_-[]", *s) ? *s : '_');
	return rc;
}

static int
put_addr(struct buf *b, const char *a)
{
	int rc;

	if ((rc = buf_putc(b, '<')) < 0)
		return rc;
	for (; a && *a; a++)
		if (*a != '\r' && *a != '\n' && (rc = buf_putc(b, *a)) < 0)
			return rc;
	return buf_putc(b, '>');
}

int
quar_store(const char *dir, const struct envelope *env, const struct buf *head,
    struct bstr raw, size_t body_off, char *name, size_t namesz)
{
	struct buf b;
	int rc;

	buf_init(&b, head->len + 64 * 1024 + env->nrcpts * 1024);
	if ((rc = buf_printf(&b, "X-Filterd-Envelope: v=1; rcpts=%zu; qid=",
	    env->nrcpts)) < 0 || (rc = put_token(&b, env->qid)) < 0 ||
	    (rc = buf_puts(&b, "; client=")) < 0 ||
	    (rc = put_token(&b, env->client_addr)) < 0 ||
	    (rc = buf_puts(&b, "; from=")) < 0 ||
	    (rc = put_addr(&b, env->mail_from)) < 0 ||
	    (rc = buf_puts(&b, "\r\n")) < 0)
		goto out;
	for (size_t i = 0; i < env->nrcpts; i++)
		if ((rc = buf_puts(&b, "X-Filterd-Envelope-To: ")) < 0 ||
		    (rc = put_addr(&b, env->rcpts[i])) < 0 ||
		    (rc = buf_puts(&b, "\r\n")) < 0)
			goto out;
	if ((rc = buf_append(&b, head->p, head->len)) < 0)
		goto out;
	rc = action_quarantine(dir, &b, raw, body_off, name, namesz);
out:
	buf_free(&b);
	return rc;
}

/* next_line - [*pos, eol) of the line at *pos (without CR LF); false at
 * the end */
static bool
next_line(const unsigned char *p, size_t len, size_t *pos, struct bstr *l)
{
	size_t s = *pos, e = s;

	if (s >= len)
		return false;
	while (e < len && p[e] != '\n')
		e++;
	*pos = e < len ? e + 1 : e;
	if (e > s && p[e - 1] == '\r')
		e--;
	*l = bstr_make(p + s, e - s);
	return true;
}

static char *
dup_range(const unsigned char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* angle - the text between the first '<' at or after from and the last
 * '>' of the line */
static char *
angle(struct bstr l, size_t from)
{
	size_t a = from, z = l.len;

	while (a < l.len && l.p[a] != '<')
		a++;
	while (z > 0 && l.p[z - 1] != '>')
		z--;
	/* z - 1 is the last '>'; it must come after the '<' at a */
	if (a >= l.len || z == 0 || z - 1 <= a)
		return NULL;
	return dup_range(l.p + a + 1, z - 1 - (a + 1));
}

/* param - the value of "key=" in the v=1 line, up to ';' */
static char *
param(struct bstr l, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = 0; i + kl < l.len; i++) {
		if ((i == 0 || l.p[i - 1] == ' ') &&
		    memcmp(l.p + i, key, kl) == 0 && l.p[i + kl] == '=') {
			size_t s = i + kl + 1, e = s;

			while (e < l.len && l.p[e] != ';')
				e++;
			return dup_range(l.p + s, e - s);
		}
	}
	return NULL;
}

int
quar_env_parse(const unsigned char *p, size_t len, struct quar_env *q)
{
	static const char h1[] = "X-Filterd-Envelope: v=1;";
	static const char h2[] = "X-Filterd-Envelope-To:";
	struct bstr l;
	size_t pos = 0, n;
	char *ns, *end;
	long fpos;

	memset(q, 0, sizeof(*q));
	if (!next_line(p, len, &pos, &l) || l.len < sizeof(h1) - 1 ||
	    memcmp(l.p, h1, sizeof(h1) - 1) != 0)
		return -EINVAL;
	if ((ns = param(l, "rcpts")) == NULL)
		return -EINVAL;
	n = strtoul(ns, &end, 10);
	if (*ns == '\0' || *end != '\0' || n == 0 || n > QUAR_MAX_RCPTS) {
		free(ns);
		return -EINVAL;
	}
	free(ns);
	fpos = bstr_find(l, bstr_cstr("; from=<"));
	if (fpos < 0 || (q->from = angle(l, (size_t)fpos)) == NULL)
		goto bad;
	q->qid = param(l, "qid");
	q->client = param(l, "client");
	if ((q->rcpts = calloc(n, sizeof(char *))) == NULL) {
		quar_env_free(q);
		return -ENOMEM;
	}
	for (; q->nrcpts < n; q->nrcpts++) {
		char *r;

		if (!next_line(p, len, &pos, &l) || l.len < sizeof(h2) - 1 ||
		    memcmp(l.p, h2, sizeof(h2) - 1) != 0 ||
		    (r = angle(l, sizeof(h2) - 1)) == NULL)
			goto bad;
		if (*r == '\0') {
			free(r);
			goto bad;
		}
		q->rcpts[q->nrcpts] = r;
	}
	q->msg_off = pos;
	return 0;
bad:
	quar_env_free(q);
	return -EINVAL;
}

void
quar_env_free(struct quar_env *q)
{
	for (size_t i = 0; q->rcpts && i < q->nrcpts; i++)
		free(q->rcpts[i]);
	free(q->rcpts);
	free(q->from);
	free(q->qid);
	free(q->client);
	memset(q, 0, sizeof(*q));
}
