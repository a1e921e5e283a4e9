/*
 * filterd/smtp.h - the SMTP/LMTP front door of one worker
 */
#ifndef FILTERD_SMTP_H
#define FILTERD_SMTP_H

#include <stddef.h>

struct cfg;
struct checks;
struct event_base;
struct smtp_server;

/* smtp_server_new - accept on listen_fd (owned by the caller, already
 * listening, non-blocking) in base; NULL on error. */
struct smtp_server *smtp_server_new(struct event_base *, int listen_fd,
    const struct cfg *, const struct checks *);
/* smtp_server_drain - stop accepting; idle connections get 421 and are
 * closed, busy ones after their transaction; idle(arg) runs once when
 * no connection is left. */
void smtp_server_drain(struct smtp_server *, void (*idle)(void *),
    void *arg);
size_t smtp_server_conns(const struct smtp_server *);
struct smtp_server *smtp_server_free(struct smtp_server *);

#endif
