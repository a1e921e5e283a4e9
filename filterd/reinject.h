/*
 * filterd/reinject.h - asynchronous SMTP client that hands a message back
 * to the MTA (reinject = 127.0.0.1:10025)
 */
#ifndef FILTERD_REINJECT_H
#define FILTERD_REINJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct event_base;
struct reinject;

/* What to send. Every pointer is borrowed until the callback ran. */
struct reinject_req {
	const char *addr;       /* "127.0.0.1:10025", "[::1]:10025" */
	const char *helo;       /* our EHLO name */
	uint64_t timeout_ms;    /* per step */
	const char *mail_from;  /* without <> ("" = null sender) */
	const char *const *rcpts;
	size_t nrcpts;
	bool body_8bit;         /* upstream said BODY=8BITMIME */
	bool smtputf8;          /* upstream said SMTPUTF8 */
	/* DSN parameters as the upstream wrote them (" RET=HDRS ENVID=x",
	 * per recipient " NOTIFY=.. ORCPT=.."), sent when the server offers
	 * DSN; NULL = none. */
	const char *mail_dsn;
	const char *const *rcpt_dsn;
	/* XFORWARD attributes (decoded; NULL = not sent), sent only if the
	 * server offers them (Postfix XFORWARD_README). */
	const char *x_name, *x_addr, *x_proto, *x_helo, *x_ident, *x_source;
	/* Connection pool (reinject.c): idle connections kept per event
	 * base for the next message, 0 = one connection per message. */
	size_t pool_max;
	uint64_t idle_timeout_ms;
	/* All or none (an SMTP upstream, which gets one reply for every
	 * recipient): when a recipient is deferred (4xx) the body is not
	 * sent, so the upstream's retry cannot deliver the others twice. */
	bool all_or_none;
	/* Two-phase (with all_or_none; policy groups, one transaction
	 * each): stop where the body would go (after the server's 354)
	 * and report with result.held; reinject_commit() sends it,
	 * reinject_cancel() drops the transaction. */
	bool hold;
	struct bstr head;       /* rewritten header section */
	struct bstr body;       /* the rest of the raw message, CRLF lines */
};

struct reinject_reply {
	int code;               /* 250, 451, 550 ... */
	char text[256];         /* "2.0.0 Ok: queued as X" */
};

/* The outcome: one reply per recipient (the RCPT reply when it failed,
 * else the reply to the end of data), in request order. */
struct reinject_result {
	const struct reinject_reply *rcpt; /* nrcpts entries */
	size_t nrcpts;
	size_t accepted;        /* recipients with a 2xx */
	bool held;              /* req.hold: waiting for reinject_commit */
};

typedef void reinject_cb(void *arg, const struct reinject_result *);

/* reinject_start - begin; cb runs exactly once, never before this
 * returns (with req.hold: first with result.held when the server waits
 * for the body, then once more at the end if committed; a held one that
 * fails, the server closing, reports its end without a commit). NULL on
 * ENOMEM or a bad address (cb not called). */
struct reinject *reinject_start(struct event_base *,
    const struct reinject_req *, reinject_cb *cb, void *arg);
/* reinject_cancel - abort; cb is not called. A held transaction is
 * dropped: the connection closes without the final dot. */
void reinject_cancel(struct reinject *);
/* reinject_commit - a held transaction: send the body; cb runs at the
 * end. Not from inside that reinjection's own callback, nor after its
 * final one (it is freed then). */
void reinject_commit(struct reinject *);
/* reinject_pool_idle - idle pooled connections held for a base */
size_t reinject_pool_idle(struct event_base *);
/* reinject_pool_flush - close the idle connections of a base (NULL: of
 * every base); call before event_base_free() */
void reinject_pool_flush(struct event_base *);

#endif
