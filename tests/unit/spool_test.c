/* spool_test - filterd/spool.c: write, commit, map, remove, errors, the
 * memory spool and its spill to a file */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "filterd/spool.h"

/* message bytes bigger than the 64 KiB write buffer */
static unsigned char big[200000];

/* spool_dir_new - a fresh spool directory /tmp/spool_test<tag>.<pid> */
static void
spool_dir_new(char *dir, size_t n, const char *tag)
{
	snprintf(dir, n, "/tmp/spool_test%s.%ld", tag, (long)getpid());
	assert_int_equal(mkdir(dir, 0700), 0);
}

static void
test_roundtrip(void **state)
{
	(void)state;
	char dir[64];
	struct spool_file f;
	struct bstr b;
	struct stat st;

	spool_dir_new(dir, sizeof(dir), "");
	assert_int_equal(spool_open(dir, 0, &f), 0);
	assert_true(strlen(f.id) >= 12);
	spool_write(&f, "Subject: x\r\n\r\n", 14);
	memset(big, 'a', sizeof(big));
	spool_write(&f, big, sizeof(big)); /* larger than the buffer */
	spool_write(&f, "\r\n", 2);
	assert_int_equal(spool_commit(&f), 0);
	assert_int_equal(f.size, 14 + sizeof(big) + 2);
	assert_int_equal(stat(f.path, &st), 0);
	assert_int_equal((size_t)st.st_size, f.size);
	assert_int_equal(spool_map(&f, &b), 0);
	assert_int_equal(b.len, f.size);
	assert_memory_equal(b.p, "Subject: x\r\n\r\naaa", 17);
	assert_int_equal(b.p[b.len - 1], '\n');
	spool_remove(&f);
	assert_int_equal(stat(f.path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_ids_unique(void **state)
{
	(void)state;
	char a[32], b[32];

	spool_id(a, sizeof(a));
	spool_id(b, sizeof(b));
	assert_string_not_equal(a, b);
}

/* spool_clean: the files of one ended process by the pid in their ids
 * (another process's, an older build's 22-digit ids and foreign names
 * stay), or every file */
static void
test_clean(void **state)
{
	(void)state;
	char dir[64], p[128];
	struct spool_file a, b;
	pid_t child;
	int st;

	spool_dir_new(dir, sizeof(dir), "_clean");
	/* two of this process's and one of a child's */
	assert_int_equal(spool_open(dir, 0, &a), 0);
	assert_int_equal(spool_open(dir, 0, &b), 0);
	assert_int_equal(strlen(a.id), 23);
	spool_close(&a);
	spool_close(&b);
	if ((child = fork()) == 0) {
		struct spool_file c;

		_exit(spool_open(dir, 0, &c) == 0 ? 0 : 1);
	}
	assert_true(child > 0);
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_int_equal(st, 0);
	/* an older build's id with this pid's low 20 bits, and a stranger */
	snprintf(p, sizeof(p), "%s/69A2B3C40123%05lX0001", dir,
	    (unsigned long)getpid() & 0xfffff);
	assert_int_equal(close(open(p, O_CREAT | O_WRONLY, 0600)), 0);
	snprintf(p, sizeof(p), "%s/notes.txt", dir);
	assert_int_equal(close(open(p, O_CREAT | O_WRONLY, 0600)), 0);

	assert_int_equal(spool_clean(dir, child), 1);
	assert_int_equal(spool_clean(dir, child), 0);
	assert_int_equal(access(a.path, F_OK), 0);
	assert_int_equal(spool_clean(dir, getpid()), 2);
	assert_int_equal(access(a.path, F_OK), -1);
	assert_int_equal(access(b.path, F_OK), -1);
	assert_int_equal(access(p, F_OK), 0);
	/* pid 0: all (filterd's start) */
	assert_int_equal(spool_clean(dir, 0), 2);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(spool_clean(dir, 0), 0); /* no such dir */
}

/* spool_memory_max: a message up to it never touches the disk; one
 * outgrowing it gets its file with every byte, the held ones first */
static void
test_memory(void **state)
{
	(void)state;
	char dir[64];
	struct spool_file f;
	struct bstr b;
	struct stat st;

	spool_dir_new(dir, sizeof(dir), "_mem");
	/* exactly mem_max bytes: memory only */
	assert_int_equal(spool_open(dir, 1000, &f), 0);
	assert_int_equal(f.fd, -1);
	memset(big, 'm', sizeof(big));
	spool_write(&f, "Subject: m\r\n\r\n", 14);
	spool_write(&f, big, 1000 - 14);
	assert_int_equal(spool_commit(&f), 0);
	assert_int_equal(f.fd, -1);
	assert_int_equal(stat(f.path, &st), -1);
	assert_int_equal(spool_map(&f, &b), 0);
	assert_int_equal(b.len, 1000);
	assert_memory_equal(b.p, "Subject: m\r\n\r\nmmm", 17);
	assert_int_equal(b.p[999], 'm');
	spool_remove(&f);
	assert_int_equal(rmdir(dir), 0); /* nothing was ever created */

	/* one byte more than mem_max: a file, holding everything */
	spool_dir_new(dir, sizeof(dir), "_mem");
	assert_int_equal(spool_open(dir, 1000, &f), 0);
	spool_write(&f, "Subject: m\r\n\r\n", 14);
	spool_write(&f, big, 1000 - 14);
	assert_int_equal(f.fd, -1);
	spool_write(&f, "x", 1);
	assert_true(f.fd >= 0);
	spool_write(&f, big, sizeof(big)); /* past the 64 KiB buffer too */
	assert_int_equal(spool_commit(&f), 0);
	assert_int_equal(stat(f.path, &st), 0);
	assert_int_equal((size_t)st.st_size, 1001 + sizeof(big));
	assert_int_equal(spool_map(&f, &b), 0);
	assert_int_equal(b.len, 1001 + sizeof(big));
	assert_memory_equal(b.p, "Subject: m\r\n\r\nmmm", 17);
	assert_int_equal(b.p[1000], 'x');
	assert_int_equal(b.p[b.len - 1], 'm');
	spool_remove(&f);
	assert_int_equal(stat(f.path, &st), -1);
	assert_int_equal(rmdir(dir), 0);

	/* no spool_dir: small messages still go; the spill's error comes
	 * back from commit (the DATA phase is read to its end first) */
	assert_int_equal(spool_open("/nonexistent/dir", 1000, &f), 0);
	spool_write(&f, big, 10);
	assert_int_equal(spool_commit(&f), 0);
	spool_remove(&f);
	assert_int_equal(spool_open("/nonexistent/dir", 1000, &f), 0);
	spool_write(&f, big, 999);
	spool_write(&f, big, 2);
	spool_write(&f, big, 2);
	assert_int_equal(spool_commit(&f), -ENOENT);
	spool_remove(&f);
}

static void
test_errors(void **state)
{
	(void)state;
	struct spool_file f;

	assert_int_equal(spool_open("/nonexistent/dir", 0, &f), -ENOENT);
	/* /dev/full: every write fails with ENOSPC, reported at commit. */
	memset(&f, 0, sizeof(f));
	f.fd = open("/dev/full", 1);
	assert_true(f.fd >= 0);
	buf_init(&f.wbuf, 65536);
	spool_write(&f, "hello\r\n", 7);
	assert_int_equal(spool_commit(&f), -ENOSPC);
	spool_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_ids_unique),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
