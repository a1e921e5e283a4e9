/*
 * parse_bench - parse mail files with mail/msg.h, time it, or dump views
 *
 *   parse [-n N] FILE|DIR...   parse every file N times (default 3), print
 *                              MB/s and msgs/s for the full parse (all
 *                              views) on one core
 *   parse -c FILE|DIR...       parse once, print counts (corpus check;
 *                              exit 1 if any parse failed)
 *   parse -d FILE...           dump body lines, URIs and relays in a plain
 *                              format for tests/e2e/sa_compare
 * Files are read whole into memory first, so I/O is not timed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mail/msg.h"

struct file {
	char *path;
	unsigned char *p;
	size_t len;
};

static struct file *files;
static size_t nfiles, capfiles;

static void
add_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;

	if (f == NULL || fstat(fileno(f), &st) < 0) {
		perror(path);
		exit(2);
	}
	if (nfiles == capfiles) {
		capfiles = capfiles ? capfiles * 2 : 256;
		files = realloc(files, capfiles * sizeof(*files));
		if (files == NULL)
			exit(2);
	}
	struct file *x = &files[nfiles++];

	x->path = strdup(path);
	x->len = (size_t)st.st_size;
	x->p = malloc(x->len + 1);
	if (x->p == NULL || fread(x->p, 1, x->len, f) != x->len) {
		perror(path);
		exit(2);
	}
	fclose(f);
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
add_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		perror(path);
		exit(2);
	}
	if (!S_ISDIR(st.st_mode)) {
		add_file(path);
		return;
	}
	DIR *d = opendir(path);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (d == NULL) {
		perror(path);
		exit(2);
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			names = realloc(names, cap * sizeof(*names));
			if (names == NULL)
				exit(2);
		}
		size_t l = strlen(path) + strlen(e->d_name) + 2;

		names[n] = malloc(l);
		snprintf(names[n++], l, "%s/%s", path, e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp);
	for (size_t i = 0; i < n; i++) {
		add_path(names[i]);
		free(names[i]);
	}
	free(names);
}

static void
put(struct bstr s)
{
	/* one record per line: escape backslash and newline */
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] == '\\')
			fputs("\\\\", stdout);
		else if (s.p[i] == '\n')
			fputs("\\n", stdout);
		else
			putchar(s.p[i]);
	}
	putchar('\n');
}

static void
dump(const struct file *f, const struct msg *m)
{
	size_t n;
	char ip[64];

	printf("=== %s\n", f->path);
	const struct bstr *bl = msg_body_lines(m, &n);

	for (size_t i = 0; i < n; i++) {
		fputs("B ", stdout);
		put(bl[i]);
	}
	const struct msg_uri *u = msg_uris(m, &n);

	for (size_t i = 0; i < n; i++) {
		fputs("U ", stdout);
		put(u[i].uri);
	}
	const struct bstr *h = msg_uri_hosts(m, &n);

	for (size_t i = 0; i < n; i++) {
		fputs("H ", stdout);
		put(h[i]);
	}
	const struct msg_relay *r = msg_relays(m, &n);

	for (size_t i = 0; i < n; i++) {
		if (!r[i].parsed)
			continue;
		printf("R %s %s %.*s %.*s %.*s\n",
		    netaddr_str(&r[i].ip, ip, sizeof(ip)),
		    r[i].internal ? "int" : r[i].trusted ? "tru" : "ext",
		    (int)r[i].rdns.len, r[i].rdns.p,
		    (int)r[i].helo.len, r[i].helo.p,
		    (int)r[i].by.len, r[i].by.p);
	}
	printf("F %#x\n", msg_flags(m));
}

int
main(int argc, char **argv)
{
	int iters = 3, c;
	bool check = false, dumpmode = false;

	while ((c = getopt(argc, argv, "n:cd")) != -1) {
		switch (c) {
		case 'n':
			iters = atoi(optarg);
			break;
		case 'c':
			check = true;
			iters = 1;
			break;
		case 'd':
			dumpmode = true;
			iters = 1;
			break;
		default:
			fprintf(stderr, "usage: parse [-n N|-c|-d] path...\n");
			return 2;
		}
	}
	for (int i = optind; i < argc; i++)
		add_path(argv[i]);
	if (nfiles == 0) {
		fprintf(stderr, "parse: no files\n");
		return 2;
	}
	size_t bytes = 0, parts = 0, uris = 0, relays = 0, lines = 0;
	unsigned long fails = 0;
	struct timespec t0, t1, c0, c1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	for (int it = 0; it < iters; it++) {
		for (size_t i = 0; i < nfiles; i++) {
			struct msg *m;
			size_t n;

			if (msg_parse(files[i].p, files[i].len, NULL, &m) < 0) {
				fprintf(stderr, "%s: parse failed\n",
				    files[i].path);
				fails++;
				continue;
			}
			bytes += files[i].len;
			if (dumpmode)
				dump(&files[i], m);
			if (check || it == 0) {
				parts += msg_part_count(m);
				msg_uris(m, &n);
				uris += n;
				msg_relays(m, &n);
				relays += n;
				msg_body_lines(m, &n);
				lines += n;
			}
			msg_free(m);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	double s = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	double cs = (double)(c1.tv_sec - c0.tv_sec) +
	    (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;

	/* CPU time is the one-core figure on a shared machine; wall time
	 * is printed too */
	if (!dumpmode)
		printf("parse: %zu files x %d, %.1f MB: %.1f MB/s %.0f msgs/s "
		    "(cpu), %.1f MB/s (wall); parts %zu, body lines %zu, "
		    "uris %zu, relays %zu, failed %lu\n", nfiles, iters,
		    (double)bytes / 1e6, (double)bytes / 1e6 / cs,
		    (double)nfiles * iters / cs, (double)bytes / 1e6 / s,
		    parts, lines, uris, relays, fails);
	for (size_t i = 0; i < nfiles; i++) {
		free(files[i].p);
		free(files[i].path);
	}
	free(files);
	return fails ? 1 : 0;
}
