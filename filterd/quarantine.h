/*
 * filterd/quarantine.h - quarantined messages with their envelope
 *
 * A quarantined file is the rewritten message preceded by the envelope as
 * header fields filterd wrote itself, always first in the file:
 *
 *	X-Filterd-Envelope: v=1; from=<a@b>; rcpts=N; qid=Q; client=ADDR
 *	X-Filterd-Envelope-To: <r1@d>        (exactly N of them)
 *
 * Only that leading block is read back (a sender cannot add recipients by
 * writing such fields into the message: theirs come after ours and are
 * ordinary headers).
 */
#ifndef FILTERD_QUARANTINE_H
#define FILTERD_QUARANTINE_H

#include <stddef.h>

#include "util/buf.h"

struct envelope;

#define QUAR_MAX_RCPTS 10000

/* quar_store - write the envelope block, head and raw[body_off..] to the
 * maildir dir (action_quarantine: tmp/, fsync, rename into new/). 0 or
 * -errno; the file name goes to name. */
int quar_store(const char *dir, const struct envelope *, const struct buf *head,
    struct bstr raw, size_t body_off, char *name, size_t namesz);

/* The envelope read back from a quarantined file. */
struct quar_env {
	char *from;       /* "" = null sender */
	char **rcpts;
	size_t nrcpts;
	char *qid, *client;
	size_t msg_off;   /* where the message after the block starts */
};

/* quar_env_parse - the leading block of file[0..len); 0, -EINVAL (no or
 * broken block) or -ENOMEM. Free with quar_env_free. */
int quar_env_parse(const unsigned char *file, size_t len, struct quar_env *);
void quar_env_free(struct quar_env *);

#endif
