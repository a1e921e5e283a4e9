/*
 * filterd/listener.h - a front door's listening socket (libevent
 * evconnlistener) that survives running out of descriptors
 */
#ifndef FILTERD_LISTENER_H
#define FILTERD_LISTENER_H

#include <event2/listener.h>
#include <stddef.h>

struct listener {
	struct evconnlistener *lev; /* NULL: closed */
	struct event *resume;
	const char *name;           /* "smtp", "spamd": for the log */
	const size_t *nconns;       /* the door's open connections */
	evconnlistener_cb cb;       /* the door's accept callback, arg */
	void *arg;
};

/* listener_open - accept on listen_fd (non-blocking) with cb(arg); when
 * accept fails (EMFILE, ENFILE, ENOMEM) accepting pauses for a second,
 * with one warning, instead of spinning on the readable socket. 0, or
 * -1 with nothing open. */
int listener_open(struct listener *, struct event_base *, int listen_fd,
    evconnlistener_cb cb, void *arg, const char *name,
    const size_t *nconns);
/* listener_close - stop accepting (drain, free); idempotent */
void listener_close(struct listener *);

#endif
