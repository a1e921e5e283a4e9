/*
 * filterd/sdnotify.h - systemd's readiness protocol (sd_notify(3)) without
 * libsystemd: one datagram to $NOTIFY_SOCKET
 */
#ifndef FILTERD_SDNOTIFY_H
#define FILTERD_SDNOTIFY_H

/* sdnotify - send state ("READY=1", "RELOADING=1", "STOPPING=1",
 * "STATUS=...") when started by systemd with Type=notify; 0 when sent,
 * 1 when there is no NOTIFY_SOCKET, -errno on failure. */
int sdnotify(const char *state);

#endif
