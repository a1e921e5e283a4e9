/*
 * filterd/milter.h - the milter front door (Postfix/Sendmail
 * smtpd_milters/INPUT_MAIL_FILTER), a child process of the master
 */
#ifndef FILTERD_MILTER_H
#define FILTERD_MILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct cfg;
struct checks;
struct event_base;

/* milter_enabled - milter_socket is not "none" */
bool milter_enabled(const struct cfg *);

/* milter_check - milter_socket's syntax (libmilter's: unix:/path,
 * local:/path, inet:PORT[@HOST], inet6:PORT[@HOST]); 0, or -EINVAL with
 * the reason in err (for filterd -t and the start) */
int milter_check(const struct cfg *, char *err, size_t errsz);

/* milter_spawn - fork the milter process for this config generation; the
 * child gives up master_base (the master's loop), runs libmilter on
 * milter_socket and exits 0 on SIGTERM/SIGINT/SIGHUP (libmilter's own
 * signal thread), 1 when it cannot listen. Returns the child's pid or
 * -errno (in the master). */
pid_t milter_spawn(const struct cfg *, const struct checks *,
    struct event_base *master_base);

#endif
