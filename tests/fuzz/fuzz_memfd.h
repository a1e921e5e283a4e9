/*
 * tests/fuzz/fuzz_memfd.h - the fuzz input as a file for targets whose
 * parser reads a path (config and map loaders): a memfd holding the bytes
 * and its /proc/self/fd/N name. The caller closes the fd.
 */
#ifndef FUZZ_MEMFD_H
#define FUZZ_MEMFD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* fuzz_memfd - fd holding data[0..size) with its path in path; -1 */
static inline int
fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t pathsz)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, pathsz, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
