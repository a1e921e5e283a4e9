/*
 * bayes_bench - Bayes classification cost per message on a trained store
 *
 *   bayes [-l DIR] STORE FILE|DIR...
 * Reads every message into memory, then for each, in order, as one
 * filterd worker would: msg_parse (timed apart), then the Bayes check's
 * own work - tokenize, one snapshot lookup of all tokens, chi-square -
 * timed once (wall clock and thread CPU time; the CPU time is the cost,
 * the wall clock also shows what a loaded machine adds). The first
 * classification of each message is what counts: a repeat would find
 * the message's pages in the CPU cache and its tokens in the store's
 * token cache. The token cache is warm from the messages before, as in
 * a worker; FILTERD_BAYES_NOCACHE=1 measures without it.
 * -l DIR: before every second message, one write that changes counts,
 * as autolearn writes between scans: a message of DIR learned as spam,
 * then forgotten (or, if the store knew it, forgotten, then relearned),
 * so the store ends as it began; each write evicts its tokens from the
 * cache. DIR: the 2002 spam the store was trained on.
 * Prints p50/p99/max in microseconds and messages/s for the
 * classification, and the parse cost for scale. Exit 1 if the CPU-time
 * p99 is 1 ms or more (the budget).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bayes/bayes.h"
#include "bayes/tokcache.h"
#include "mail/msg.h"

struct file {
	unsigned char *p;
	size_t len;
};

struct files {
	struct file *v;
	size_t n, cap;
};

static struct files files, churn;

static void
add_file(struct files *fs, const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	unsigned char *p;

	if (f == NULL || fstat(fileno(f), &st) < 0 || st.st_size == 0) {
		if (f)
			fclose(f);
		return;
	}
	p = malloc((size_t)st.st_size);
	if (p == NULL ||
	    fread(p, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		free(p);
		fclose(f);
		return;
	}
	fclose(f);
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 1024;
		fs->v = realloc(fs->v, fs->cap * sizeof(*fs->v));
		if (fs->v == NULL)
			exit(1);
	}
	/* an mbox From_ line is not part of the message */
	size_t off = 0;
	if (st.st_size > 5 && memcmp(p, "From ", 5) == 0) {
		unsigned char *nl = memchr(p, '\n', (size_t)st.st_size);
		off = nl ? (size_t)(nl - p) + 1 : 0;
	}
	fs->v[fs->n].p = p;
	memmove(p, p + off, (size_t)st.st_size - off);
	fs->v[fs->n++].len = (size_t)st.st_size - off;
}

static void
add_path(struct files *fs, const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char buf[4096];

	if (stat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		add_file(fs, path);
		return;
	}
	if ((d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(buf, sizeof(buf), "%s/%s", path, e->d_name);
		add_file(fs, buf);
	}
	closedir(d);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* cpu_us - this thread's CPU time: on a shared machine the wall clock
 * also counts the time other processes had the core */
static double
cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct bayes_store *st;
	struct bayes_vars v;
	double *t, *tp, *tc, sum = 0, psum = 0;
	size_t n = 0, res = 0, writes = 0, cfile = 0;
	int rc = 0, o, cphase = 0;
	bool cknown = false;
	uint32_t now = (uint32_t)time(NULL);
	const char *churn_dir = NULL;

	while ((o = getopt(argc, argv, "l:")) != -1) {
		if (o != 'l') {
			fprintf(stderr, "usage: bayes [-l DIR] STORE FILE|DIR...\n");
			return 2;
		}
		churn_dir = optarg;
	}
	argc -= optind;
	argv += optind;
	if (argc < 2) {
		fprintf(stderr, "usage: bayes [-l DIR] STORE FILE|DIR...\n");
		return 2;
	}
	if ((rc = bayes_store_open(argv[0], churn_dir != NULL, &st)) < 0) {
		fprintf(
		    stderr, "bayes bench: %s: %s\n", argv[0], strerror(-rc));
		return 1;
	}
	for (int i = 1; i < argc; i++)
		add_path(&files, argv[i]);
	if (churn_dir != NULL && (add_path(&churn, churn_dir), churn.n == 0)) {
		fprintf(stderr, "bayes bench: %s: no messages\n", churn_dir);
		return 1;
	}
	t = calloc(files.n + 1, sizeof(*t));
	tp = calloc(files.n + 1, sizeof(*tp));
	tc = calloc(files.n + 1, sizeof(*tc));
	bayes_store_vars(st, &v);
	for (size_t i = 0; i < files.n; i++) {
		struct msg *m = NULL;
		struct bayes_result r;
		double a, b, c, y;

		/* autolearn between scans (untimed): one write that changes
		 * counts before every second message */
		if (churn.n > 0 && i % 2 == 1) {
			const struct file *f = &churn.v[cfile % churn.n];
			int lr = 0;

			if (msg_parse(f->p, f->len, NULL, &m) < 0)
				m = NULL;
			else if (cphase == 0) {
				/* learn it; if the store knew it (its id as
				 * filterctl learn saw the file), forget it */
				lr = bayes_learn_msg(st, m, BAYES_SPAM, now);
				if ((cknown = lr == BAYES_ALREADY))
					lr = bayes_learn_msg(
					    st, m, BAYES_FORGET, now);
			} else {
				/* and undo that: the store ends as it was */
				lr = bayes_learn_msg(st, m,
				    cknown ? BAYES_SPAM : BAYES_FORGET, now);
			}
			if (lr < 0) {
				fprintf(stderr, "bayes bench: learn error %d\n",
				    lr);
				return 1;
			}
			msg_free(m);
			m = NULL;
			writes++;
			if ((cphase = !cphase) == 0)
				cfile++;
		}
		a = now_us();
		if (msg_parse(files.v[i].p, files.v[i].len, NULL, &m) < 0)
			continue;
		b = now_us();
		y = cpu_us();
		/* the check's work: vars, tokenize, lookup, combine */
		rc = bayes_classify_msg(st, m, 1, 1, &r);
		c = now_us();
		tc[n] = cpu_us() - y;
		msg_free(m);
		if (rc < 0) {
			fprintf(stderr, "bayes bench: store error %d\n", rc);
			return 1;
		}
		res += rc == 0;
		tp[n] = b - a;
		t[n++] = c - b;
		sum += c - b;
		psum += b - a;
	}
	if (n == 0)
		return 1;
	qsort(t, n, sizeof(*t), cmp_d);
	qsort(tp, n, sizeof(*tp), cmp_d);
	qsort(tc, n, sizeof(*tc), cmp_d);
	struct bayes_tokcache_stats cs;
	bool cached = bayes_store_cache_stats(st, &cs) == 0;
	printf("bayes classify: %zu msgs (%zu with a result), store %s "
	       "(%llu spam, %llu ham, %llu tokens), token cache %s",
	    n, res, bayes_store_kind(st), (unsigned long long)v.nspam,
	    (unsigned long long)v.nham, (unsigned long long)v.ntokens,
	    cached ? "on" : "off");
	if (writes > 0)
		printf(", %zu learns/forgets between scans", writes);
	printf("\n");
	printf(
	    "  classify  p50 %.0f us  p99 %.0f us  max %.0f us  %.0f msg/s\n",
	    t[n / 2], t[n * 99 / 100], t[n - 1], n / (sum / 1e6));
	printf("  cpu time  p50 %.0f us  p99 %.0f us  max %.0f us\n", tc[n / 2],
	    tc[n * 99 / 100], tc[n - 1]);
	printf("  (parse    p50 %.0f us  p99 %.0f us  %.0f msg/s)\n", tp[n / 2],
	    tp[n * 99 / 100], n / (psum / 1e6));
	if (cached && cs.hits + cs.misses > 0)
		printf("  (token cache: %.1f%% of %llu lookups answered, %llu "
		       "cached counts updated by change rows, %llu clears)\n",
		    100.0 * (double)cs.hits / (double)(cs.hits + cs.misses),
		    (unsigned long long)(cs.hits + cs.misses),
		    (unsigned long long)cs.updated,
		    (unsigned long long)cs.clears);
	bayes_store_close(st);
	/* the budget is on the cost (CPU time); the wall clock above also
	 * shows what a loaded machine adds */
	return tc[n * 99 / 100] < 1000 ? 0 : 1;
}
