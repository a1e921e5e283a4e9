/*
 * filterd/metrics_http.h - Prometheus text endpoint in the master's loop
 */
#ifndef FILTERD_METRICS_HTTP_H
#define FILTERD_METRICS_HTTP_H

struct cfg;
struct event_base;
struct metrics_http;

/* metrics_http_new - serve GET /metrics on the listening socket fd (the
 * server owns it from now on); *cfgp is read at each scrape. NULL on
 * error. */
struct metrics_http *metrics_http_new(struct event_base *, int fd,
    const struct cfg *const *cfgp);
struct metrics_http *metrics_http_free(struct metrics_http *);

#endif
