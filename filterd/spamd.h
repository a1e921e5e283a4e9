/*
 * filterd/spamd.h - the spamd protocol front door of one worker (spamc,
 * Exim's spam= ACL condition)
 */
#ifndef FILTERD_SPAMD_H
#define FILTERD_SPAMD_H

#include <stddef.h>

struct buf;
struct cfg;
struct checks;
struct event_base;
struct scan;
struct spamd_server;

/* spamd_server_new - accept on listen_fd (owned by the caller, listening,
 * non-blocking) in base; NULL on error. */
struct spamd_server *spamd_server_new(struct event_base *, int listen_fd,
    const struct cfg *, const struct checks *);
/* spamd_server_drain - stop accepting; idle(arg) runs once when the last
 * connection is gone (at once when there is none) */
void spamd_server_drain(struct spamd_server *, void (*idle)(void *),
    void *arg);
size_t spamd_server_conns(const struct spamd_server *);
struct spamd_server *spamd_server_free(struct spamd_server *);

/* spamd_report - SpamAssassin's report text for a finished scan (the
 * REPORT body and Exim's $spam_report): summary line, then one
 * " pts rule name  description" row per hit */
int spamd_report(struct buf *out, struct scan *, double required,
    const char *hostname);

#endif
