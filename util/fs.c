/*
 * util/fs.c - small file-system helpers (util/fs.h)
 */
#include "util/fs.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

int
fs_mkdirs(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t len = strlen(path);
	mode_t above = mode | S_IXUSR | ((mode & S_IRGRP) ? S_IXGRP : 0) |
	    ((mode & S_IROTH) ? S_IXOTH : 0);

	if (len == 0)
		return -EINVAL;
	if (len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, above) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}
