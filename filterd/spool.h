/*
 * filterd/spool.h - messages in flight: in memory up to a size, then on
 * disk
 */
#ifndef FILTERD_SPOOL_H
#define FILTERD_SPOOL_H

#include <stddef.h>
#include <sys/types.h>

#include "util/buf.h"

struct spool_file {
	int fd;             /* -1 while the message is in memory only */
	char id[32];        /* also the local queue id */
	char path[4096];    /* the file's, once there is one */
	size_t size;        /* bytes written */
	size_t mem_max;     /* kept in memory up to this size; 0 = disk */
	int err;            /* first write error (-errno), sticky */
	unsigned char *map; /* after spool_map */
	struct buf wbuf;
};

/* spool_id - a new unique id: hex time (8 digits), microseconds (5),
 * the process id (6: any Linux pid, pid_max <= 2^22) and a counter (4) */
void spool_id(char *out, size_t outsz);
/* spool_clean - remove the files in dir that a process which has ended
 * left behind: with pid > 0 those whose id carries that pid, with pid 0
 * every file. Returns how many went. Such a message was never
 * acknowledged upstream (the MTA retries it) or was, after it was
 * delivered (the file outlived the reply by a moment). */
int spool_clean(const char *dir, pid_t pid);
/* spool_open - a new message: with mem_max > 0 held in memory until it
 * grows past mem_max bytes, then (and with mem_max 0 at once) in the file
 * dir/<id> (O_EXCL); 0 or -errno (a file that cannot be created) */
int spool_open(const char *dir, size_t mem_max, struct spool_file *);
/* spool_write - buffered; errors are sticky and come back from
 * spool_commit (so the DATA phase can read to the end first) */
void spool_write(struct spool_file *, const void *, size_t);
/* spool_commit - write out the buffer (no fsync: see spool.c); 0 or
 * -errno (the first write error) */
int spool_commit(struct spool_file *);
/* spool_map - the committed bytes, read-only (the memory copy or the
 * file mapped); valid until spool_close/remove; 0 or -errno */
int spool_map(struct spool_file *, struct bstr *out);
/* spool_remove - unmap, close, unlink if there is a file (after the
 * action completed) */
void spool_remove(struct spool_file *);
/* spool_close - unmap and close, keep the file (crash recovery) */
void spool_close(struct spool_file *);

#endif
