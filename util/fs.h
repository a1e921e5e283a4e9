/*
 * util/fs.h - small file-system helpers
 */
#ifndef UTIL_FS_H
#define UTIL_FS_H

#include <sys/types.h>

/* fs_mkdirs - mkdir -p: every missing directory of path, the last with
 * mode, those above it with mode plus search permission (u+x, and g+x /
 * o+x where mode grants read) so the last stays reachable. 0, or -errno
 * (-ENAMETOOLONG past 4095 bytes, -EINVAL for ""). */
int fs_mkdirs(const char *path, mode_t mode);

#endif
