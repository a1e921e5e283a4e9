/*
 * filterd/ctl_learn - filterctl learn: train Bayes from mail folders
 *
 *   filterctl learn [-c FILE] [--store SPEC] [-q] --spam|--ham|--forget
 *       PATH...
 * Parsing and tokenizing run on a worker thread a CPU ($FILTERCTL_THREADS
 * sets how many; 1: none), the store writes on the main thread; the
 * result is the same as with one thread (messages go to the batch in
 * the walk's order).
 * PATH is a maildir, an MH folder, a directory of message files, an mbox
 * or single message file, or "-" for one message on stdin (subfolders are
 * not searched, as with sa-learn; a PATH that cannot be read, or a folder
 * whose messages all sit in subfolders, is said on stderr). Each message is
 * parsed once; batches of up to 10000 messages (1M tokens) are learned
 * in one store transaction (token changes merged, all or nothing); a
 * message that cannot be read or parsed is counted as skipped and the run
 * goes on. A terminal
 * on stderr gets a progress line (count, rate, ETA); otherwise only the
 * summary line is printed:
 *   learned N, already known N, skipped (bad) N, N messages in Xs (R/s)
 * (--forget: "forgot N, not learned N, ...").
 * Exit: 0, 1 on a store error (the store stays consistent: every message
 * is all or nothing), 2 on usage.
 * Memory: one file read (or mapped, over 1 MB) at a time, up to 64
 * messages copied for the workers; each message's model freed after use;
 * the batch's tokens in one 8 MB array. A mapped file that shrinks while
 * read (an mbox expunged in place) is said and its rest skipped, not a
 * SIGBUS (on_sigbus).
 */
#include "filterd/ctl_bayes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bayes/bayes.h"
#include "filterd/cfg.h"
#include "filterd/ctl.h"
#include "mail/msg.h"
#include "util/buf.h"

#define CTL_MAX_MSG (64u << 20) /* larger stdin messages are refused */

/* mbox: a From_ line at the start or after a blank line begins a message;
 * the From_ line itself is not part of it (RFC 4155). */
static bool
is_from_at(const unsigned char *p, size_t off, size_t len)
{
	return len - off >= 5 && memcmp(p + off, "From ", 5) == 0 &&
	    (off == 0 ||
		(off >= 2 && p[off - 1] == '\n' &&
		    (p[off - 2] == '\n' ||
			(off >= 3 && p[off - 2] == '\r' &&
			    p[off - 3] == '\n'))));
}

static size_t
line_end(const unsigned char *p, size_t off, size_t len)
{
	const unsigned char *nl = memchr(p + off, '\n', len - off);

	return nl ? (size_t)(nl - p) + 1 : len;
}

/* unquote - mboxrd: body lines ">From ", ">>From " ... lost one '>' when
 * the mbox was written; a malloc'ed copy with it restored, or NULL when
 * there is nothing to unquote (or no memory: then the bytes stay as
 * they are, which only costs a token) */
static unsigned char *
unquote(const unsigned char *p, size_t *len)
{
	unsigned char *out = NULL;
	size_t o = 0;

	for (size_t i = 0; i < *len;) {
		size_t e = line_end(p, i, *len), k = i;

		while (k < e && p[k] == '>')
			k++;
		bool q = k > i && e - k >= 5 && memcmp(p + k, "From ", 5) == 0;
		if (q && out == NULL) {
			if ((out = malloc(*len)) == NULL)
				return NULL;
			memcpy(out, p, i);
			o = i;
		}
		if (out != NULL) {
			size_t from = q ? i + 1 : i;

			memcpy(out + o, p + from, e - from);
			o += e - from;
		}
		i = e;
	}
	if (out != NULL)
		*len = o;
	return out;
}

/* A mapped file (an mbox over CTL_READ_MAX) that shrinks while it is
 * read (a mail client expunging an mbox rewrites it in place) makes the
 * pages past its new end a SIGBUS. The walker touches the mapping only
 * while "armed" (finding message bounds, copying a message out), never
 * inside fn, and on the main thread; a SIGBUS there, at an address in the
 * mapping, jumps back to each_in_file, which says so and goes on. Any
 * other SIGBUS keeps its default (the process dies with it). */
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;
static const unsigned char *volatile bus_lo, *volatile bus_hi;

static void
on_sigbus(int sig, siginfo_t *si, void *uc)
{
	const unsigned char *a = si->si_addr;

	(void)uc;
	if (bus_armed && a >= bus_lo && a < bus_hi) {
		bus_armed = 0;
		siglongjmp(bus_jmp, 1);
	}
	signal(sig, SIG_DFL); /* returning re-runs the access: default */
}

/* call_fn - fn on one message m[0..len) (or u, an unquoted copy of it,
 * freed here), never armed: from a mapped file (guarded) fn gets a
 * private copy, so a SIGBUS cannot happen inside it */
static int
call_fn(ctl_msg_fn *fn, void *arg, const char *name, const unsigned char *m,
    size_t len, unsigned char *u, bool guarded)
{
	int rc;

	if (u == NULL && guarded) {
		if ((u = malloc(len ? len : 1)) == NULL)
			return -ENOMEM;
		memcpy(u, m, len);
	}
	bus_armed = 0;
	rc = fn(arg, name, u != NULL ? u : m, len);
	free(u);
	bus_armed = guarded;
	return rc;
}

/* A file starting "From " holding more than the first From_ line is an
 * mbox; the SpamAssassin corpus stores single messages that way too, so
 * an mbox with one message is simply one message without its From_. */
static int
each_in_buf(const char *path, const unsigned char *p, size_t len,
    ctl_msg_fn *fn, void *arg, size_t *count, bool guarded)
{
	char name[4096];
	size_t off = 0, n = 0;
	int rc;

	if (len < 5 || memcmp(p, "From ", 5) != 0) {
		if (count != NULL) {
			(*count)++;
			return 0;
		}
		return call_fn(fn, arg, path, p, len, NULL, guarded);
	}
	while (off < len) {
		size_t start = line_end(p, off, len), end = start;

		/* find the next From_ at a line start after a blank line */
		while (end < len && !is_from_at(p, end, len))
			end = line_end(p, end, len);
		n++;
		if (count != NULL) {
			(*count)++;
		} else {
			size_t mlen = end - start;
			const unsigned char *m = p + start;

			/* the blank line before the next From_ (or at the
			 * end of the file) belongs to the mbox, not to the
			 * message */
			if (mlen >= 2 && p[start + mlen - 1] == '\n' &&
			    p[start + mlen - 2] == '\n')
				mlen--;
			snprintf(name, sizeof(name), "%s:%zu", path, n);
			unsigned char *u = unquote(m, &mlen);

			rc = call_fn(fn, arg, n == 1 && end >= len ? path : name,
			    m, mlen, u, guarded);
			if (rc < 0)
				return rc;
		}
		off = end;
	}
	return 0;
}

#define CTL_READ_MAX (1u << 20) /* smaller files are read, larger mapped */

/* each_in_file - a folder of small files is read into one reused buffer:
 * a mmap/munmap pair per message (page faults, TLB shootdown) cost more
 * than the copy. filterctl is single-threaded and fn never re-enters the
 * walker, so one static buffer serves every call. */
static int
each_in_file(
    const char *path, ctl_msg_fn *fn, void *arg, size_t *nbad, size_t *count)
{
	static unsigned char *rbuf;
	static size_t rcap;
	struct stat sb;
	void *map;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) < 0 ||
	    !S_ISREG(sb.st_mode)) {
		if (fd >= 0)
			close(fd);
		if (count != NULL)
			(*count)++;
		else
			(*nbad)++;
		return 0;
	}
	if (sb.st_size == 0) {
		close(fd);
		if (count != NULL)
			(*count)++;
		else
			(*nbad)++;
		return 0;
	}
	if ((size_t)sb.st_size <= CTL_READ_MAX) {
		size_t len = (size_t)sb.st_size, got = 0;
		ssize_t k = 0;

		if (rcap < len) {
			unsigned char *nb = realloc(rbuf, CTL_READ_MAX);

			if (nb == NULL) {
				close(fd);
				return -ENOMEM;
			}
			rbuf = nb;
			rcap = CTL_READ_MAX;
		}
		while (got < len &&
		    ((k = read(fd, rbuf + got, len - got)) > 0 ||
			(k < 0 && errno == EINTR)))
			if (k > 0)
				got += (size_t)k;
		close(fd);
		if (got == 0) {
			if (count == NULL)
				(*nbad)++;
			return 0;
		}
		/* a file that shrank while read: what was there */
		return each_in_buf(path, rbuf, got, fn, arg, count, false);
	}
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED) {
		if (count == NULL)
			(*nbad)++;
		return 0;
	}
	static bool bus_handler;
	if (!bus_handler) {
		struct sigaction sa = { .sa_sigaction = on_sigbus,
			.sa_flags = SA_SIGINFO };

		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, NULL);
		bus_handler = true;
	}
	bus_lo = map;
	bus_hi = (const unsigned char *)map + sb.st_size;
	if (sigsetjmp(bus_jmp, 1) != 0) {
		munmap(map, (size_t)sb.st_size);
		if (count == NULL) {
			fprintf(stderr, "filterctl: %s: the file shrank while "
					"read; the rest of it is skipped\n",
			    path);
			(*nbad)++;
		}
		return 0;
	}
	bus_armed = 1;
	rc = each_in_buf(path, map, (size_t)sb.st_size, fn, arg, count, true);
	bus_armed = 0;
	munmap(map, (size_t)sb.st_size);
	return rc;
}

static int
cmp_names(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	char *ex, *ey;
	unsigned long nx = strtoul(x, &ex, 10), ny = strtoul(y, &ey, 10);

	/* MH folders: 2 before 10 */
	if (*ex == '\0' && *ey == '\0' && ex != x && ey != y)
		return nx < ny ? -1 : nx > ny;
	return strcmp(x, y);
}

static int
each_in_dir(
    const char *path, ctl_msg_fn *fn, void *arg, size_t *nbad, size_t *count)
{
	char sub[4096], file[4096];
	struct stat sb;
	int rc = 0;

	/* maildir: the messages live in cur/ and new/ */
	snprintf(sub, sizeof(sub), "%s/cur", path);
	if (stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		snprintf(file, sizeof(file), "%s/new", path);
		if ((rc = each_in_dir(sub, fn, arg, nbad, count)) < 0)
			return rc;
		if (stat(file, &sb) == 0 && S_ISDIR(sb.st_mode))
			rc = each_in_dir(file, fn, arg, nbad, count);
		return rc;
	}
	DIR *d = opendir(path);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (d == NULL) {
		if (count == NULL)
			(*nbad)++;
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue; /* ., .., .mh_sequences, maildir++ folders */
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			char **nn = realloc(names, cap * sizeof(*nn));

			if (nn == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			names = nn;
		}
		if ((names[n] = strdup(e->d_name)) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n && rc >= 0; i++) {
		snprintf(file, sizeof(file), "%s/%s", path, names[i]);
		if (stat(file, &sb) == 0 && S_ISDIR(sb.st_mode))
			continue; /* MH subfolders, maildir tmp/ */
		rc = each_in_file(file, fn, arg, nbad, count);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

static int
walk(const char *path, ctl_msg_fn *fn, void *arg, size_t *nbad, size_t *count)
{
	struct stat sb;

	if (strcmp(path, "-") == 0) {
		struct buf b;
		char chunk[65536];
		size_t k;
		int rc = 0;

		if (count != NULL) {
			(*count)++;
			return 0;
		}
		buf_init(&b, CTL_MAX_MSG);
		while ((k = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
			if ((rc = buf_append(&b, chunk, k)) < 0)
				break;
		if (rc < 0 || ferror(stdin) || b.len == 0)
			(*nbad)++;
		else
			rc = each_in_buf("-", b.p, b.len, fn, arg, NULL, false);
		buf_free(&b);
		return rc < 0 && rc != -ENOSPC ? rc : 0;
	}
	/* a PATH the admin named that cannot be read is said by name (a
	 * typo used to show only as "skipped (bad) 1") */
	if (stat(path, &sb) < 0 ||
	    access(path, S_ISDIR(sb.st_mode) ? R_OK | X_OK : R_OK) < 0) {
		if (count == NULL) {
			fprintf(stderr, "filterctl: %s: %s\n", path,
			    strerror(errno));
			(*nbad)++;
		}
		return 0;
	}
	if (S_ISDIR(sb.st_mode))
		return each_in_dir(path, fn, arg, nbad, count);
	return each_in_file(path, fn, arg, nbad, count);
}

struct visits {
	ctl_msg_fn *fn;
	void *arg;
	size_t n;
};

static int
visit(void *arg, const char *name, const unsigned char *raw, size_t len)
{
	struct visits *v = arg;

	v->n++;
	return v->fn(v->arg, name, raw, len);
}

/* subfolders - a directory's subdirectories other than maildir's cur,
 * new, tmp (which each_in_dir reads or skips); the first one's name in
 * first */
static size_t
subfolders(const char *path, char *first, size_t firstsz)
{
	DIR *d = opendir(path);
	struct dirent *e;
	struct stat sb;
	char file[4096];
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, "cur") == 0 ||
		    strcmp(e->d_name, "new") == 0 ||
		    strcmp(e->d_name, "tmp") == 0)
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
		if (stat(file, &sb) < 0 || !S_ISDIR(sb.st_mode))
			continue;
		if (n++ == 0)
			snprintf(first, firstsz, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

int
ctl_foreach_msg(const char *path, ctl_msg_fn *fn, void *arg, size_t *nbad)
{
	struct visits v = { fn, arg, 0 };
	size_t bad0 = *nbad, nsub;
	char first[256] = "";
	struct stat sb;
	int rc = walk(path, visit, &v, nbad, NULL);

	/* folders are not searched recursively (as sa-learn and
	 * bogofilter -B): say so when that is why nothing was found */
	if (rc >= 0 && v.n == 0 && *nbad == bad0 && stat(path, &sb) == 0 &&
	    S_ISDIR(sb.st_mode) &&
	    (nsub = subfolders(path, first, sizeof(first))) > 0)
		fprintf(stderr,
		    "filterctl: %s: no messages; its %zu subfolder%s (%s%s) "
		    "%s not searched: name each folder\n",
		    path, nsub, nsub == 1 ? "" : "s", first,
		    nsub > 1 ? ", ..." : "", nsub == 1 ? "is" : "are");
	return rc;
}

size_t
ctl_count_msgs(const char *path)
{
	size_t n = 0, bad = 0;

	walk(path, NULL, NULL, &bad, &n);
	return n;
}

/* A batch is learned in one store transaction (bayes_store_learn_batch
 * merges its token changes, so a token common to many messages is written
 * once): the bigger, the fewer writes. The bound is memory: the batch's
 * tokens live in one array of LEARN_BATCH_TOKENS (+ one message) 64-bit
 * hashes, 8 MB; the store's merge table grows with the distinct tokens.
 * The 2002 sets (3250 messages, 880k tokens) are two batches, one per
 * filterctl run: 2.5 times fewer token writes than batches of 500. */
#define LEARN_BATCH 10000	   /* messages per store transaction */
#define LEARN_BATCH_TOKENS 1000000 /* or tokens */
/* Redis learns message by message (the scripts pipelined), so a big batch
 * buys nothing there; a small one keeps reading and storing in step and
 * the progress bar's rate and ETA true. */
#define LEARN_BATCH_REDIS 512

struct learn {
	struct bayes_store *st;
	int cls;
	uint8_t key[16];
	size_t learned, already, bad, done, total;
	bool tty;
	double t0, last;
	struct bayes_tokset ts; /* one message's tokens, reused */
	/* the pending batch: items[i].toks point into toks */
	struct bayes_learn_item items[LEARN_BATCH];
	int result[LEARN_BATCH];
	uint64_t *toks;
	size_t ntoks;
	size_t nitems;
	size_t fit; /* messages a transaction takes (learn_range) */
	size_t batch; /* messages a batch collects before it is stored */
	struct pipe *pipe; /* worker threads, or NULL: all inline */
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
progress(struct learn *l, bool final)
{
	double t = now_s(), el = t - l->t0, rate;

	if (!l->tty || (!final && t - l->last < 0.1))
		return;
	l->last = t;
	rate = el > 0 ? l->done / el : 0;
	if (l->total > 0 && rate > 0 && l->done <= l->total) {
		unsigned eta = (unsigned)((l->total - l->done) / rate);
		fprintf(stderr, "\r  %zu/%zu %3zu%%  %.0f msg/s  ETA %u:%02u ",
		    l->done, l->total, l->done * 100 / l->total, rate, eta / 60,
		    eta % 60);
	} else {
		fprintf(stderr, "\r  %zu  %.0f msg/s ", l->done, rate);
	}
	if (final)
		fputc('\n', stderr);
}

/* learn_range - items[a..b) in transactions of at most l->fit messages:
 * a batch too big for the store (-ENOMEM: its cache cannot hold the pages
 * the batch would change, which grows with the table) is halved, and the
 * size that fits grows back by an eighth after each success, so a run
 * over a big store settles near what fits instead of halving down from
 * LEARN_BATCH for every batch */
static int
learn_range(struct learn *l, size_t a, size_t b)
{
	int rc = 0;

	while (rc == 0 && a < b) {
		size_t n = b - a < l->fit ? b - a : l->fit;

		rc = bayes_store_learn_batch(l->st, l->items + a, n,
		    (uint32_t)time(NULL), l->result + a);
		if (rc == -ENOMEM && n > 1) {
			l->fit = n / 2;
			rc = 0;
			continue;
		}
		if (rc == 0) {
			a += n;
			if (l->fit < LEARN_BATCH)
				l->fit += l->fit / 8 + 1;
		}
	}
	return rc;
}

/* flush - learn the pending batch */
static int
flush(struct learn *l)
{
	int rc = 0;

	for (size_t i = 0; i < l->nitems; i++)
		l->result[i] = -1;
	if (l->nitems > 0)
		rc = learn_range(l, 0, l->nitems);
	/* the batches before a failure are in the store, and of the failed
	 * one what the store says is (Redis: each message on its own) */
	for (size_t i = 0; i < l->nitems; i++) {
		if (l->result[i] == BAYES_LEARNED)
			l->learned++;
		else if (l->result[i] >= 0)
			l->already++;
	}
	l->nitems = 0;
	l->ntoks = 0;
	progress(l, false);
	return rc; /* a store error stops the run */
}

/* prepare - parse and tokenize one message into ts (seen id too); false
 * for something that is not a message. Pure: runs on worker threads
 * (msg_parse and the tokenizer keep no shared state). */
static bool
prepare(const unsigned char *raw, size_t len, const uint8_t key[16],
    struct bayes_tokset *ts, uint8_t seen[16])
{
	struct msg *m = NULL;
	int rc;

	if (msg_parse(raw, len, NULL, &m) < 0 || msg_header_count(m) == 0) {
		msg_free(m); /* no header at all: not a message */
		return false;
	}
	bayes_tokset_reset(ts);
	bayes_seen_id(m, key, seen);
	rc = bayes_tokenize(m, ts);
	msg_free(m);
	return rc >= 0;
}

/* append - one prepared message into the pending batch */
static int
append(struct learn *l, const uint8_t seen[16], const uint64_t *toks,
    size_t n)
{
	struct bayes_learn_item *it = &l->items[l->nitems];

	/* n <= BAYES_MAX_TOKENS: the array keeps room for one message */
	memcpy(it->seen, seen, 16);
	memcpy(l->toks + l->ntoks, toks, n * sizeof(*l->toks));
	it->cls = l->cls;
	it->toks = l->toks + l->ntoks;
	it->n = n;
	l->ntoks += n;
	if (++l->nitems == l->batch || l->ntoks >= LEARN_BATCH_TOKENS)
		return flush(l);
	return 0;
}

/* The pipeline: parsing and tokenizing are most of a learn's CPU and each
 * message's is independent, so worker threads do them while the walker
 * reads the next files. The walker copies each message into a ring slot;
 * results are appended to the batch in the walk's order, so the store
 * ends exactly as with one thread. */
#define LEARN_RING 64
#define LEARN_MAX_THREADS 8

enum { SLOT_QUEUED, SLOT_DONE };

struct slot {
	unsigned char *raw;
	size_t len, rawcap;
	uint64_t *toks;
	size_t n, cap;
	uint8_t seen[16];
	int state;
	bool bad;
};

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct slot slot[LEARN_RING];
	size_t head, next, tail; /* filled, taken by a worker, appended */
	bool stop;
	const uint8_t *key;
	pthread_t th[LEARN_MAX_THREADS];
	int nth;
};

static void *
worker(void *arg)
{
	struct pipe *p = arg;
	struct bayes_tokset ts;

	bayes_tokset_init(&ts, p->key);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->next == p->head)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->next == p->head)
			break; /* stop, nothing left */
		struct slot *sl = &p->slot[p->next++ % LEARN_RING];

		pthread_mutex_unlock(&p->mu);
		sl->bad = !prepare(sl->raw, sl->len, p->key, &ts, sl->seen);
		if (!sl->bad && sl->cap < ts.n) {
			uint64_t *nt = realloc(sl->toks, ts.n * sizeof(*nt));

			if (nt == NULL)
				sl->bad = true;
			else
				sl->toks = nt, sl->cap = ts.n;
		}
		if (!sl->bad) {
			memcpy(sl->toks, ts.v, ts.n * sizeof(*sl->toks));
			sl->n = ts.n;
		}
		pthread_mutex_lock(&p->mu);
		sl->state = SLOT_DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	bayes_tokset_free(&ts);
	return NULL;
}

/* drain - append the oldest result (waiting for it), 0 or a store error */
static int
drain(struct learn *l)
{
	struct pipe *p = l->pipe;
	struct slot *sl = &p->slot[p->tail % LEARN_RING];

	pthread_mutex_lock(&p->mu);
	while (sl->state != SLOT_DONE)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	p->tail++; /* only the walker moves tail */
	if (sl->bad) {
		l->bad++;
		return 0;
	}
	return append(l, sl->seen, sl->toks, sl->n);
}

/* drain_all - every queued message appended (the end of the walk) */
static int
drain_all(struct learn *l)
{
	int rc = 0;

	while (l->pipe && l->pipe->tail < l->pipe->head && rc >= 0)
		rc = drain(l);
	return rc;
}

/* pipe_start - the workers, one a CPU (at most LEARN_MAX_THREADS;
 * $FILTERCTL_THREADS sets the number, 1 = none); NULL on one CPU or when
 * no thread can start (learning goes on inline) */
static struct pipe *
pipe_start(const uint8_t key[16])
{
	const char *env = getenv("FILTERCTL_THREADS");
	long ncpu = env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
	struct pipe *p;

	if (ncpu < 2 || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->key = key;
	for (long i = 0; i < ncpu && i < LEARN_MAX_THREADS; i++)
		if (pthread_create(&p->th[p->nth], NULL, worker, p) == 0)
			p->nth++;
	if (p->nth == 0) {
		free(p);
		return NULL;
	}
	return p;
}

/* pipe_stop - join the workers and free the ring (after drain_all, or
 * after a store error with messages still queued: they are dropped) */
static void
pipe_stop(struct pipe *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	p->head = p->next; /* nothing new for the workers */
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	for (size_t i = 0; i < LEARN_RING; i++) {
		free(p->slot[i].raw);
		free(p->slot[i].toks);
	}
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static int
learn_one(void *arg, const char *name, const unsigned char *raw, size_t len)
{
	struct learn *l = arg;
	struct pipe *p = l->pipe;
	int rc = 0;

	(void)name;
	l->done++;
	if (p == NULL) {
		uint8_t seen[16];

		if (!prepare(raw, len, l->key, &l->ts, seen)) {
			l->bad++;
			return 0;
		}
		return append(l, seen, l->ts.v, l->ts.n);
	}
	/* a full ring: the oldest result goes to the batch first */
	while (p->head - p->tail == LEARN_RING && rc >= 0)
		rc = drain(l);
	if (rc < 0)
		return rc;
	struct slot *sl = &p->slot[p->head % LEARN_RING];

	if (sl->rawcap < len) {
		unsigned char *nr = realloc(sl->raw, len);

		if (nr == NULL)
			return -ENOMEM;
		sl->raw = nr;
		sl->rawcap = len;
	}
	memcpy(sl->raw, raw, len);
	sl->len = len;
	sl->state = SLOT_QUEUED;
	pthread_mutex_lock(&p->mu);
	p->head++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static void
learn_usage(FILE *f)
{
	fprintf(f,
	    "usage: filterctl learn [-c FILE] [--store SPEC] [-q] "
	    "--spam|--ham|--forget PATH...\n"
	    "  PATH: maildir, MH folder, directory, mbox, file, or - (stdin);\n"
	    "        a folder's subfolders are not searched: name each one\n"
	    "  FILTERCTL_THREADS=N: threads that parse (default: one a CPU; "
	    "1: none)\n");
}

int
ctl_learn(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "spam", no_argument, NULL, 's' },
		{ "ham", no_argument, NULL, 'h' },
		{ "forget", no_argument, NULL, 'f' },
		{ "store", required_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	static struct learn l;
	struct bayes_vars v;
	const char *conf = NULL, *store = NULL;
	char spec[4096];
	struct cfg *c = NULL;
	bool quiet = false;
	int ch, rc = 0;

	if (ctl_help(argc, argv)) {
		learn_usage(stdout);
		return 0;
	}
	memset(&l, 0, sizeof(l));
	l.cls = -1;
	l.fit = LEARN_BATCH;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:q", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			l.cls = BAYES_SPAM;
			break;
		case 'h':
			l.cls = BAYES_HAM;
			break;
		case 'f':
			l.cls = BAYES_FORGET;
			break;
		case 'S':
			store = optarg;
			break;
		case 'c':
			conf = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			learn_usage(stderr);
			return 2;
		}
	}
	if (l.cls < 0 || optind >= argc) {
		learn_usage(stderr);
		return 2;
	}
	/* the config also decides auto-expiry; --store names the store */
	if (store == NULL || conf != NULL) {
		if ((c = ctl_load_cfg(conf)) == NULL)
			return 1;
	}
	if (store == NULL) {
		if (ctl_bayes_spec(c, spec, sizeof(spec)) < 0) {
			fprintf(stderr, "filterctl: bad bayes_store '%s'\n",
			    cfg_str(c, "bayes_store"));
			cfg_free(c);
			return 1;
		}
		store = spec;
	}
	char shown[1024];

	bayes_store_redact(store, shown, sizeof(shown));
	if ((rc = bayes_store_open(store, true, &l.st)) < 0) {
		fprintf(stderr, "filterctl: cannot open bayes store %s: %s\n",
		    shown, strerror(-rc));
		cfg_free(c);
		return 1;
	}
	if ((rc = bayes_store_vars(l.st, &v)) < 0) {
		fprintf(stderr, "filterctl: bayes store %s: %s\n", shown,
		    strerror(-rc));
		bayes_store_close(l.st);
		cfg_free(c);
		return 1;
	}
	memcpy(l.key, v.hashkey, 16);
	l.batch = strcmp(bayes_store_kind(l.st), "redis") == 0
	    ? LEARN_BATCH_REDIS : LEARN_BATCH;
	bayes_tokset_init(&l.ts, l.key);
	l.toks = malloc(
	    (LEARN_BATCH_TOKENS + BAYES_MAX_TOKENS) * sizeof(*l.toks));
	if (l.toks == NULL) {
		fprintf(stderr, "filterctl: out of memory\n");
		bayes_store_close(l.st);
		cfg_free(c);
		return 1;
	}
	l.tty = !quiet && isatty(STDERR_FILENO);
	if (l.tty)
		for (int i = optind; i < argc; i++)
			l.total += ctl_count_msgs(argv[i]);
	l.t0 = now_s();
	l.pipe = pipe_start(l.key);
	for (int i = optind; i < argc && rc >= 0; i++)
		rc = ctl_foreach_msg(argv[i], learn_one, &l, &l.bad);
	if (rc >= 0)
		rc = drain_all(&l);
	pipe_stop(l.pipe);
	l.pipe = NULL;
	if (rc >= 0)
		rc = flush(&l);
	progress(&l, true);
	/* SA bayes_auto_expire: over the size cap, at most every 12 hours;
	 * filterd's workers do the same after autolearning, and the claim
	 * makes one of them run it */
	if (rc >= 0 && c != NULL && cfg_bool(c, "bayes_auto_expire") &&
	    l.learned > 0) {
		uint64_t removed = 0;
		int erc = bayes_store_expire_due(l.st,
		    (uint64_t)cfg_int(c, "bayes_expiry_max_db_size"),
		    BAYES_EXPIRE_PERIOD, (uint32_t)time(NULL), &removed);

		if (erc > 0)
			fprintf(stderr, "filterctl: expired %llu tokens\n",
			    (unsigned long long)removed);
		else if (erc < 0)
			rc = erc;
	}
	double el = now_s() - l.t0;
	size_t total = l.learned + l.already + l.bad;
	printf("%s %zu, %s %zu, skipped (bad) %zu, %zu messages in %.1fs "
	       "(%.0f/s)\n",
	    l.cls == BAYES_FORGET ? "forgot" : "learned", l.learned,
	    l.cls == BAYES_FORGET ? "not learned" : "already known", l.already,
	    l.bad, total, el, el > 0 ? (double)total / el : 0.0);
	if (rc < 0)
		fprintf(stderr, "filterctl: bayes store error: %s\n",
		    strerror(-rc));
	bayes_store_close(l.st);
	bayes_tokset_free(&l.ts);
	free(l.toks);
	cfg_free(c);
	return rc < 0 ? 1 : 0;
}
