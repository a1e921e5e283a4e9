/*
 * filterd/listener.c - see listener.h
 *
 * libevent's listener is level-triggered: when accept() fails for want
 * of descriptors the socket stays readable, and without an error
 * callback libevent warns and retries at once, a busy loop that also
 * writes a warning line each time (the spamd door wrote 97 MB in eight
 * seconds at a 48-descriptor limit). Pausing leaves the connections in
 * the kernel's backlog until descriptors are free again.
 */
#include "filterd/listener.h"

#include <event2/event.h>
#include <event2/util.h>
#include <string.h>

#include "util/log.h"

/* on_accept - to the door's callback (libevent passes the error
 * callback the accept callback's argument: it is the listener here) */
static void
on_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;

	l->cb(lev, fd, sa, salen, l->arg);
}

static void
on_error(struct evconnlistener *lev, void *arg)
{
	struct listener *l = arg;
	int e = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 1, 0 };

	log_warn("%s: accept: %s; pausing for 1s (%zu connections)", l->name,
	    evutil_socket_error_to_string(e), l->nconns ? *l->nconns : 0);
	evconnlistener_disable(lev);
	evtimer_add(l->resume, &tv);
}

static void
on_resume(evutil_socket_t fd, short ev, void *arg)
{
	struct listener *l = arg;

	(void)fd, (void)ev;
	if (l->lev)
		evconnlistener_enable(l->lev);
}

int
listener_open(struct listener *l, struct event_base *base, int listen_fd,
    evconnlistener_cb cb, void *arg, const char *name, const size_t *nconns)
{
	l->name = name;
	l->nconns = nconns;
	l->cb = cb;
	l->arg = arg;
	l->lev = evconnlistener_new(base, on_accept, l, 0, -1, listen_fd);
	l->resume = evtimer_new(base, on_resume, l);
	if (l->lev == NULL || l->resume == NULL) {
		listener_close(l);
		return -1;
	}
	evconnlistener_set_error_cb(l->lev, on_error);
	return 0;
}

void
listener_close(struct listener *l)
{
	if (l->resume) {
		event_free(l->resume);
		l->resume = NULL;
	}
	if (l->lev) {
		evconnlistener_free(l->lev);
		l->lev = NULL;
	}
}
