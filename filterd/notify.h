/*
 * filterd/notify.h - mail filterd sends itself: the spam_admin report for
 * killed messages and the DSN of final_spam_destiny = bounce
 */
#ifndef FILTERD_NOTIFY_H
#define FILTERD_NOTIFY_H

#include "filterd/action.h"
#include "util/buf.h"

struct cfg;
struct envelope;
struct event_base;
struct reinject_req;
struct reinject_result;

/* notify_message - after the action was decided, for score >= kill_level:
 * a short report to spam_admin (at most spam_admin_max_per_hour over all
 * workers), and for destiny bounce a DSN (RFC 3464) to the sender when
 * the sender authenticated (SASL; otherwise bounce = discard: no
 * backscatter). Sent over `reinject` with the null sender, fire and
 * forget: what raw and env hold is copied at once. */
void notify_message(struct event_base *, const struct cfg *,
    const struct envelope *, double score, const char *tests,
    enum action, struct bstr raw);

/* notify_build_dsn / notify_build_report - the message texts (CRLF),
 * for tests; 0 or -ENOSPC/-ENOMEM */
int notify_build_report(struct buf *, const struct cfg *,
    const struct envelope *, double score, const char *tests, enum action,
    struct bstr raw);
int notify_build_dsn(struct buf *, const struct cfg *,
    const struct envelope *, double score, struct bstr raw);
/* notify_build_rcpt_dsn - the DSN for the recipients the reinjection
 * refused for good (5xx in res, in env's recipient order) when others
 * took the message: SMTP has one end-of-data reply, so filterd reports
 * them itself, as an MTA would (the caller sends it to env->mail_from,
 * never to the null sender) */
int notify_build_rcpt_dsn(struct buf *, const struct cfg *,
    const struct envelope *, const struct reinject_result *,
    struct bstr raw);
/* notify_rcpt_dsn_wanted - whether the refused recipients of a message
 * with this envelope and score get a DSN: not for the null sender, not
 * for spam (score >= tag2_level) unless the sender authenticated */
bool notify_rcpt_dsn_wanted(
    const struct cfg *, const struct envelope *, double score);
/* notify_request - the reinjection of a message built above (msg, CRLF,
 * its header ending at the first empty line) from the null sender to
 * to[0]; rq points into msg, helo and to, which must outlive it. -1 when
 * msg has no header/body separator */
int notify_request(struct reinject_req *rq, const struct cfg *,
    const char *helo, const char *const *to, const struct buf *msg);

#endif
