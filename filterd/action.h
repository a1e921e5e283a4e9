/*
 * filterd/action.h - verdict to action (amavis semantics), header rewrite,
 * quarantine
 */
#ifndef FILTERD_ACTION_H
#define FILTERD_ACTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct cfg;

enum action {
	ACTION_PASS,       /* below tag2_level (maybe tagged) */
	ACTION_PASS_SPAM,  /* >= tag2_level, passed with the spam headers */
	ACTION_DISCARD,
	ACTION_REJECT,
	ACTION_QUARANTINE,
	ACTION_TEMPFAIL,   /* could not deliver; upstream retries */
};

#define ACTION_VERSION "filterd-0.1"

/* action_decide - what cfg says for score (kill_level + destiny) */
enum action action_decide(const struct cfg *, double score);
const char *action_name(enum action);

/* Header values the checks left as scan notes (NULL = none). */
struct action_notes {
	const char *autolearn;    /* "autolearn" note: X-Spam-Status */
	const char *authres;      /* "authres": Authentication-Results */
	const char *received_spf; /* "received-spf": Received-SPF */
	/* "dkim-signature": whole DKIM-Signature fields (CRLF-terminated),
	 * prepended first; the signed Subject is then never tagged */
	const char *dkim_signature;
};

/* action_rewrite - the headers to send instead of raw's header section:
 * Authentication-Results and Received-SPF from the notes, X-Spam-* at
 * tag_level (Flag at tag2_level), existing X-Spam-Flag/Score/Level/Status
 * and Authentication-Results claiming our authserv-id dropped (RFC 8601
 * section 5), Subject tagged at tag2_level. Appends to out; *body_off gets
 * the offset in raw from which raw is sent unchanged (the blank line
 * ending the header section). 0 or -ENOSPC (out's cap)/-ENOMEM. The
 * output is raw's header section plus our fields, so callers give out
 * ACTION_HEAD_MAX: the message's own size limit is the only bound. */
#define ACTION_HEAD_MAX (SIZE_MAX / 2)
int action_rewrite(const struct cfg *, double score, const char *tests,
    const struct action_notes *, struct bstr raw, struct buf *out,
    size_t *body_off);

/* action_status_header - the X-Spam-Status value (no name, no CRLF at
 * the end; folded with CRLF TAB past 78 columns) */
int action_status_header(struct buf *out, bool spam, double score,
    double required, const char *tests, const char *autolearn);

/* action_quarantine - write head + raw[body_off..] into the maildir dir
 * (tmp/, fsync, rename into new/); file name into name. 0 or -errno. */
int action_quarantine(const char *dir, const struct buf *head,
    struct bstr raw, size_t body_off, char *name, size_t namesz);

#endif
