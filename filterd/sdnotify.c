/*
 * filterd/sdnotify.c - sd_notify(3) for Type=notify units
 *
 * The protocol is one AF_UNIX datagram of "KEY=VALUE\n" lines to the
 * socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract
 * namespace). The master sends READY=1 once it listens (and after a
 * reload), RELOADING=1 before one and STOPPING=1 on SIGTERM; MAINPID is
 * the sender's pid. No state, nothing logged.
 */
#include "filterd/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
sdnotify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char msg[512];
	size_t pl;
	socklen_t sl;
	int fd, n, rc = 0;

	if (path == NULL || *path == '\0')
		return 1;
	pl = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || pl >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, pl);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + pl);
	n = snprintf(msg, sizeof(msg), "%s\nMAINPID=%ld\n", state,
	    (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -E2BIG;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (sendto(fd, msg, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    sl) < 0)
		rc = -errno;
	close(fd);
	return rc;
}
