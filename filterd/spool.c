/*
 * filterd/spool.c - messages in flight: in memory up to a size, then on
 * disk
 *
 * A message of at most spool_memory_max bytes (the front door's DATA
 * bytes, un-dot-stuffed, CRLF lines) never leaves memory: its buffer is
 * what the scan reads. A bigger one gets a file under spool_dir, named by
 * the local queue id, when it outgrows that size: what was held goes into
 * the file and the rest follows through a 64 KiB buffer; spool_commit()
 * writes what is left before any reply, and the scan reads the file
 * mapped. With spool_memory_max = 0 every message gets its file at
 * DATA. The file is removed only once the action completed (reinjected,
 * quarantined, discarded or rejected). Write errors (ENOSPC on a full
 * disk) are sticky so the caller reads the whole DATA phase and then
 * answers 452.
 * Memory: a worker holds at most spool_memory_max bytes per message in
 * flight. Small messages skip the create, write, mmap, munmap and unlink
 * (~7% of a worker's CPU on the SMTP door, and a journal commit of the
 * file system's metadata per message); amavisd-new admins get the same
 * by putting its temporary directory on a tmpfs.
 * No fsync: the spool is a buffer, not a queue. The MTA keeps every
 * message until filterd's 250, which comes only after the reinjection's
 * (or the quarantine file's own fsync + rename), and what a crash leaves
 * here is removed unread (main.c), so a synced copy would never be used.
 * Most spool files now live and die in the page cache; the fsync was
 * ~7% of a worker's CPU and a disk flush per message (amavisd-new does
 * not sync its temporary files either).
 */
#include "filterd/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SPOOL_WBUF (64 * 1024)
/* the id's layout (spool_id): the pid's 6 digits start at ID_PID */
#define ID_LEN 23
#define ID_PID 13

static void
pid_hex(char out[7], pid_t pid)
{
	snprintf(out, 7, "%06lX", (unsigned long)pid & 0xffffff);
}

void
spool_id(char *out, size_t outsz)
{
	static unsigned counter;
	struct timespec ts;
	char ph[7];

	clock_gettime(CLOCK_REALTIME, &ts);
	pid_hex(ph, getpid());
	snprintf(out, outsz, "%08llX%05lX%s%04X",
	    (unsigned long long)ts.tv_sec & 0xffffffffull,
	    (unsigned long)(ts.tv_nsec / 1000) & 0xfffff, ph,
	    ++counter & 0xffff);
}

int
spool_clean(const char *dir, pid_t pid)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[4096], ph[7];
	int n = 0;

	if (d == NULL)
		return 0;
	pid_hex(ph, pid);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (pid > 0 && (strlen(e->d_name) != ID_LEN ||
				   memcmp(e->d_name + ID_PID, ph, 6) != 0))
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) <
			(int)sizeof(p) &&
		    unlink(p) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* create - the file, under a fresh id if the one made is taken */
static int
create(struct spool_file *f)
{
	for (int tries = 0; tries < 5; tries++) {
		f->fd = open(f->path,
		    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (f->fd >= 0)
			return 0;
		if (errno != EEXIST)
			return -errno;
		/* ids have one length (ID_LEN): the new one takes the old
		 * one's place at the end of the path */
		spool_id(f->id, sizeof(f->id));
		memcpy(f->path + strlen(f->path) - ID_LEN, f->id, ID_LEN + 1);
	}
	return -EEXIST;
}

int
spool_open(const char *dir, size_t mem_max, struct spool_file *f)
{
	int rc;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->mem_max = mem_max;
	spool_id(f->id, sizeof(f->id));
	if (snprintf(f->path, sizeof(f->path), "%s/%s", dir, f->id) >=
	    (int)sizeof(f->path))
		return -ENAMETOOLONG;
	if (mem_max == 0 && (rc = create(f)) < 0)
		return rc;
	buf_init(&f->wbuf, mem_max > SPOOL_WBUF ? mem_max : SPOOL_WBUF);
	return 0;
}

static int
flush(struct spool_file *f)
{
	size_t off = 0;

	while (off < f->wbuf.len) {
		ssize_t w = write(f->fd, f->wbuf.p + off, f->wbuf.len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)w;
	}
	buf_reset(&f->wbuf);
	return 0;
}

void
spool_write(struct spool_file *f, const void *p, size_t n)
{
	if (f->err)
		return;
	f->size += n;
	if (f->fd < 0) {
		/* in memory while it fits; past mem_max the file takes
		 * what was held and the rest */
		if (f->size <= f->mem_max) {
			if (buf_append(&f->wbuf, p, n) < 0)
				f->err = -ENOMEM;
			return;
		}
		if ((f->err = create(f)) < 0)
			return;
	}
	if (f->wbuf.len + n > SPOOL_WBUF && (f->err = flush(f)) < 0)
		return;
	if (n >= SPOOL_WBUF) {
		const unsigned char *c = p;

		while (n) {
			ssize_t w = write(f->fd, c, n);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				f->err = -errno;
				return;
			}
			c += w;
			n -= (size_t)w;
		}
		return;
	}
	if (buf_append(&f->wbuf, p, n) < 0)
		f->err = -ENOMEM;
}

int
spool_commit(struct spool_file *f)
{
	if (f->err)
		return f->err;
	if (f->fd < 0)
		return 0; /* held in memory */
	return f->err = flush(f);
}

int
spool_map(struct spool_file *f, struct bstr *out)
{
	if (f->size == 0) {
		*out = bstr_make("", 0);
		return 0;
	}
	if (f->fd < 0) {
		*out = bstr_make(f->wbuf.p, f->wbuf.len);
		return 0;
	}
	if (f->map == NULL) {
		void *m = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, f->fd, 0);

		if (m == MAP_FAILED)
			return -errno;
		f->map = m;
	}
	*out = bstr_make(f->map, f->size);
	return 0;
}

void
spool_close(struct spool_file *f)
{
	if (f->map)
		munmap(f->map, f->size);
	f->map = NULL;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	buf_free(&f->wbuf);
}

void
spool_remove(struct spool_file *f)
{
	int had = f->fd >= 0;

	spool_close(f);
	if (had)
		unlink(f->path);
}
