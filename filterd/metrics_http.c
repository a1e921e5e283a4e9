/*
 * filterd/metrics_http.c - the Prometheus scrape endpoint (metrics_listen)
 *
 * Runs in the master's event loop (libevent evhttp on a socket the master
 * bound): GET /metrics renders the shared counters (filterd/metrics.c),
 * anything else is 404. The config is read through a pointer to the
 * master's current one, so a reload is seen by the next scrape.
 */
#include "filterd/metrics_http.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

#include "filterd/cfg.h"
#include "filterd/metrics.h"

#define TOP_RULES 50

struct metrics_http {
	struct evhttp *http;
	const struct cfg *const *cfgp;
};

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct metrics_http *h = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *out;
	struct metrics_snap s;
	struct buf b;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET ||
	    (strcmp(uri, "/metrics") != 0 && strcmp(uri, "/") != 0)) {
		evhttp_send_error(req, HTTP_NOTFOUND, "try /metrics");
		return;
	}
	if (metrics_snapshot(NULL, &s) < 0) {
		evhttp_send_error(req, HTTP_INTERNAL, "no counters");
		return;
	}
	buf_init(&b, 4 * 1024 * 1024);
	metrics_render(&b, &s, *h->cfgp, TOP_RULES);
	metrics_snap_free(&s);
	out = evbuffer_new();
	evbuffer_add(out, b.p, b.len);
	buf_free(&b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
}

struct metrics_http *
metrics_http_new(struct event_base *base, int fd,
    const struct cfg *const *cfgp)
{
	struct metrics_http *h = calloc(1, sizeof(*h));

	if (h == NULL || (h->http = evhttp_new(base)) == NULL) {
		free(h);
		return NULL;
	}
	h->cfgp = cfgp;
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET);
	evhttp_set_timeout(h->http, 10);
	evhttp_set_gencb(h->http, on_request, h);
	if (evhttp_accept_socket(h->http, fd) < 0) {
		evhttp_free(h->http);
		free(h);
		return NULL;
	}
	return h;
}

struct metrics_http *
metrics_http_free(struct metrics_http *h)
{
	if (h) {
		evhttp_free(h->http);
		free(h);
	}
	return NULL;
}
