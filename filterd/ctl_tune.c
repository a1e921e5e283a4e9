/*
 * filterd/ctl_tune.c - `filterctl tune`: fit rule scores to sorted mail
 *
 *   filterctl tune [-c FILE] --spam PATH... --ham PATH... [--fp-target P%]
 *       [--out FILE] [--folds K] [--seed N] [--dry-run] [--no-net]
 *       [--range LO:HI] [--fixed PATTERN]... [--tune-bayes]
 *       [--tune-module-hits] [--lambda X] [--save-hits FILE] [-q]
 *   filterctl tune --hits FILE [options]    refit without scanning
 *
 * Scans every message once with the daemon's checks (the same sources as
 * filterctl learn: maildir, MH, directory, mbox, file, -), keeps the
 * names of the scored hits per message in memory, then fits the scores
 * with rules/tune.c: L2-regularised logistic regression towards the
 * current scores, decision at tag2_level, the ham weight raised until the
 * training FP rate is within --fp-target. Constraints: tflags nice keeps
 * a score <= 0 and every other rule keeps its sign (as SpamAssassin's
 * masses do: a spam sign never turns into a ham sign a spammer could
 * add); tflags userconf, informational rules (|score| <= 0.01) and
 * --fixed patterns (fnmatch) keep their score; everything stays inside
 * --range (default -10:10).
 *
 * --save-hits writes that table (hit names, their scores at scan time,
 * one line per message) and --hits FILE refits from it without scanning:
 * trying other --fp-target, --range or --lambda values takes well under
 * a second for thousands of messages.
 *
 * Reports k-fold cross-validated FP/FN before and after, the training
 * FP/FN, the rules that moved most, rules that never hit, and rules hit
 * by the false positives. Writes only the changed scores as `score` lines
 * to --out (default local-scores.cf; written to FILE.tmp and renamed),
 * with a header saying from which data, when and with which seed; it is
 * meant to be loaded after the defaults (rules_local, or an `include`
 * from local.cf) and refuses to write inside rules_dir. --dry-run prints
 * the diff instead. Bayes autolearn is off during the scan.
 * Exit: 0, 1 on errors (unreadable config, no messages, write failure),
 * 2 on usage. Deterministic for the same input, config and seed.
 */
#include <errno.h>
#include <event2/event.h>
#include <fnmatch.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "filterd/cfg.h"
#include "filterd/checks.h"
#include "filterd/ctl.h"
#include "filterd/ctl_bayes.h"
#include "filterd/scan.h"
#include "rules/rules.h"
#include "rules/tune.h"
#include "util/hits.h"

#define MAX_PATHS 256
#define MAX_FIXED 64

/* The hits table: one column per scored hit name, compressed rows. */
struct table {
	char **names;  /* column names */
	double *score; /* current score per column */
	size_t ncols, capcols;
	uint32_t *tab; /* name -> column + 1, open addressing */
	size_t tabsz;
	uint32_t *off, *idx;
	bool *spam;
	char **msgname;
	size_t nmsgs, capmsgs, nidx, capidx;
};

struct tune {
	const struct cfg *cfg;
	const struct checks *ck;
	struct event_base *base;
	struct table t;
	bool cls_spam, tty;
	size_t done, total, bad;
	double t0, last;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t
hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int
tab_grow(struct table *t)
{
	size_t nsz = t->tabsz ? t->tabsz * 2 : 1024;
	uint32_t *nt = calloc(nsz, sizeof(*nt));

	if (nt == NULL)
		return -ENOMEM;
	for (size_t c = 0; c < t->ncols; c++) {
		size_t i = hash_str(t->names[c]) & (nsz - 1);

		while (nt[i] != 0)
			i = (i + 1) & (nsz - 1);
		nt[i] = (uint32_t)c + 1;
	}
	free(t->tab);
	t->tab = nt;
	t->tabsz = nsz;
	return 0;
}

/* column - the column of name, added with score when new; -errno */
static long
column(struct table *t, const char *name, double score)
{
	size_t i;

	if (2 * (t->ncols + 1) > t->tabsz && tab_grow(t) < 0)
		return -ENOMEM;
	for (i = hash_str(name) & (t->tabsz - 1); t->tab[i] != 0;
	     i = (i + 1) & (t->tabsz - 1))
		if (strcmp(t->names[t->tab[i] - 1], name) == 0)
			return (long)t->tab[i] - 1;
	if (t->ncols == t->capcols) {
		size_t nc = t->capcols ? t->capcols * 2 : 256;
		char **nn = realloc(t->names, nc * sizeof(*nn));
		double *ns;

		if (nn == NULL)
			return -ENOMEM;
		t->names = nn;
		if ((ns = realloc(t->score, nc * sizeof(*ns))) == NULL)
			return -ENOMEM;
		t->score = ns;
		t->capcols = nc;
	}
	if ((t->names[t->ncols] = strdup(name)) == NULL)
		return -ENOMEM;
	t->score[t->ncols] = score;
	t->tab[i] = (uint32_t)t->ncols + 1;
	return (long)t->ncols++;
}

static int
push_idx(struct table *t, uint32_t c)
{
	if (t->nidx == t->capidx) {
		size_t nc = t->capidx ? t->capidx * 2 : 4096;
		uint32_t *ni = realloc(t->idx, nc * sizeof(*ni));

		if (ni == NULL)
			return -ENOMEM;
		t->idx = ni;
		t->capidx = nc;
	}
	t->idx[t->nidx++] = c;
	return 0;
}

static int
push_msg(struct table *t, const char *name, bool spam)
{
	if (t->nmsgs + 1 >= t->capmsgs) {
		size_t nc = t->capmsgs ? t->capmsgs * 2 : 1024;
		uint32_t *no = realloc(t->off, (nc + 1) * sizeof(*no));
		bool *ns;
		char **nn;

		if (no == NULL)
			return -ENOMEM;
		t->off = no;
		if ((ns = realloc(t->spam, nc * sizeof(*ns))) == NULL)
			return -ENOMEM;
		t->spam = ns;
		if ((nn = realloc(t->msgname, nc * sizeof(*nn))) == NULL)
			return -ENOMEM;
		t->msgname = nn;
		t->capmsgs = nc;
	}
	if (t->nmsgs == 0)
		t->off[0] = 0;
	if ((t->msgname[t->nmsgs] = strdup(name)) == NULL)
		return -ENOMEM;
	t->spam[t->nmsgs] = spam;
	t->off[++t->nmsgs] = (uint32_t)t->nidx;
	return 0;
}

static void
table_free(struct table *t)
{
	for (size_t c = 0; c < t->ncols; c++)
		free(t->names[c]);
	for (size_t i = 0; i < t->nmsgs; i++)
		free(t->msgname[i]);
	free(t->names);
	free(t->score);
	free(t->tab);
	free(t->off);
	free(t->idx);
	free(t->spam);
	free(t->msgname);
}

static void
progress(struct tune *u, bool final)
{
	double t = now_s(), el = t - u->t0, rate;

	if (!u->tty || (!final && t - u->last < 0.1))
		return;
	u->last = t;
	rate = el > 0 ? u->done / el : 0;
	if (u->total > 0 && rate > 0 && u->done <= u->total) {
		unsigned eta = (unsigned)((u->total - u->done) / rate);
		size_t bar = u->done * 30 / u->total;

		fprintf(stderr,
		    "\r  scanning [%.*s%*s] %zu/%zu %.0f msg/s "
		    "ETA %u:%02u ",
		    (int)bar, "##############################", (int)(30 - bar),
		    "", u->done, u->total, rate, eta / 60, eta % 60);
	} else {
		fprintf(stderr, "\r  scanning %zu %.0f msg/s ", u->done, rate);
	}
	if (final)
		fputc('\n', stderr);
}

static void
on_done(struct scan *s, void *arg)
{
	(void)s;
	*(int *)arg = 1;
}

/* scan_one - one message through the checks; its scored hits become a
 * row of the table */
static int
scan_one(void *arg, const char *name, const unsigned char *raw, size_t len)
{
	struct tune *u = arg;
	struct scan *s;
	struct hits *h;
	int done = 0, rc = 0;

	u->done++;
	s = scan_new(u->cfg, u->ck, u->base, raw, len, NULL);
	if (s == NULL || scan_run(s, on_done, &done) < 0) {
		scan_free(s);
		u->bad++;
		return 0;
	}
	while (!done)
		event_base_loop(u->base, EVLOOP_ONCE);
	h = scan_hits(s);
	for (size_t i = 0; i < hits_count(h) && rc == 0; i++) {
		struct hit *x = hits_at(h, i);
		long c;

		if (!x->has_score)
			continue;
		if ((c = column(&u->t, x->name, x->score)) < 0)
			rc = (int)c;
		else
			rc = push_idx(&u->t, (uint32_t)c);
	}
	if (rc == 0)
		rc = push_msg(&u->t, name, u->cls_spam);
	scan_free(s);
	progress(u, false);
	return rc;
}

static const struct rule_set *
find_rules(const struct checks *ck)
{
	const struct check *c;

	for (size_t i = 0; (c = checks_at(ck, i)) != NULL; i++)
		if (strcmp(c->name, "rules") == 0)
			return checks_state(ck, i);
	return NULL;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: filterctl tune [-c FILE] --spam PATH... --ham PATH...\n"
	    "    [--fp-target P%%] [--out FILE] [--folds K] [--seed N] "
	    "[--dry-run]\n"
	    "    [--no-net] [--range LO:HI] [--fixed PATTERN]... "
	    "[--tune-bayes]\n    [--tune-module-hits] [--lambda X] "
	    "[--save-hits FILE] [-q]\n"
	    "       filterctl tune --hits FILE [options]\n");
}


struct opts {
	const char *conf, *out, *hits_in, *hits_out;
	const char *spam[MAX_PATHS], *ham[MAX_PATHS];
	size_t nspam, nham;
	const char *fixed[MAX_FIXED];
	size_t nfixed;
	double fp_target, lo, hi, lambda;
	unsigned folds;
	unsigned long long seed;
	bool dry, nonet, quiet, tune_bayes, tune_module;
};

static int
parse_args(int argc, char **argv, struct opts *o)
{
	int mode = 0; /* 1: paths are spam, 2: ham */

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (strcmp(a, "--spam") == 0) {
			mode = 1;
		} else if (strcmp(a, "--ham") == 0) {
			mode = 2;
		} else if (strcmp(a, "--dry-run") == 0) {
			o->dry = true;
		} else if (strcmp(a, "--no-net") == 0) {
			o->nonet = true;
		} else if (strcmp(a, "--tune-bayes") == 0) {
			o->tune_bayes = true;
		} else if (strcmp(a, "--tune-module-hits") == 0) {
			o->tune_module = true;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			o->quiet = true;
		} else if (strncmp(a, "-", 1) == 0 && strcmp(a, "-") != 0) {
			if (v == NULL)
				return -1;
			i++;
			if (strcmp(a, "-c") == 0) {
				o->conf = v;
			} else if (strcmp(a, "--out") == 0) {
				o->out = v;
			} else if (strcmp(a, "--hits") == 0) {
				o->hits_in = v;
			} else if (strcmp(a, "--save-hits") == 0) {
				o->hits_out = v;
			} else if (strcmp(a, "--fp-target") == 0) {
				o->fp_target = strtod(v, &end);
				if (*end == '%')
					o->fp_target /= 100, end++;
				if (*end != '\0' || !(o->fp_target >= 0) ||
				    o->fp_target > 1)
					return -1;
			} else if (strcmp(a, "--folds") == 0) {
				unsigned long k = strtoul(v, &end, 10);

				if (*end != '\0' || k > 50)
					return -1;
				o->folds = (unsigned)k;
			} else if (strcmp(a, "--seed") == 0) {
				o->seed = strtoull(v, &end, 10);
				if (*end != '\0')
					return -1;
			} else if (strcmp(a, "--lambda") == 0) {
				o->lambda = strtod(v, &end);
				if (*end != '\0' || !(o->lambda >= 0))
					return -1;
			} else if (strcmp(a, "--range") == 0) {
				o->lo = strtod(v, &end);
				if (*end != ':')
					return -1;
				o->hi = strtod(end + 1, &end);
				if (*end != '\0' || !(o->lo <= 0) ||
				    !(o->hi >= 0))
					return -1;
			} else if (strcmp(a, "--fixed") == 0) {
				if (o->nfixed == MAX_FIXED)
					return -1;
				o->fixed[o->nfixed++] = v;
			} else {
				return -1;
			}
			mode = 0;
		} else if (mode == 1 && o->nspam < MAX_PATHS) {
			o->spam[o->nspam++] = a;
		} else if (mode == 2 && o->nham < MAX_PATHS) {
			o->ham[o->nham++] = a;
		} else {
			return -1;
		}
	}
	if (o->hits_in != NULL)
		return o->nspam == 0 && o->nham == 0 ? 0 : -1;
	return o->nspam > 0 && o->nham > 0 ? 0 : -1;
}

/* The hits table as text, so a refit needs no rescan:
 *   filterd-tune-hits 1
 *   col SCORE NAME            one per column, in column order
 *   msg S|H IDX,IDX...|- NAME one per message (NAME: rest of the line) */
static int
hits_save(const struct table *t, const char *path)
{
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (f == NULL)
		return -errno;
	fprintf(f, "filterd-tune-hits 1\n");
	for (size_t c = 0; c < t->ncols; c++)
		fprintf(f, "col %.17g %s\n", t->score[c], t->names[c]);
	for (size_t i = 0; i < t->nmsgs; i++) {
		fprintf(f, "msg %c ", t->spam[i] ? 'S' : 'H');
		if (t->off[i] == t->off[i + 1])
			fputc('-', f);
		for (uint32_t k = t->off[i]; k < t->off[i + 1]; k++)
			fprintf(f, "%s%u", k > t->off[i] ? "," : "", t->idx[k]);
		fprintf(f, " %s\n", t->msgname[i]);
	}
	if (fflush(f) != 0 || ferror(f))
		rc = -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* hits_load - the table hits_save wrote; 0, -EINVAL (with *line) or
 * -errno */
static int
hits_load(struct table *t, const char *path, size_t *line)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	*line = 0;
	if (f == NULL)
		return -errno;
	while (rc == 0 && (len = getline(&buf, &cap, f)) > 0) {
		char *p = buf, *end;

		(*line)++;
		if (buf[len - 1] == '\n')
			buf[--len] = '\0';
		if (*line == 1) {
			if (strcmp(buf, "filterd-tune-hits 1") != 0)
				rc = -EINVAL;
		} else if (strncmp(p, "col ", 4) == 0) {
			double sc = strtod(p + 4, &end);

			if (end == p + 4 || *end != ' ' || end[1] == '\0' ||
			    column(t, end + 1, sc) != (long)t->ncols - 1)
				rc = -EINVAL;
		} else if (strncmp(p, "msg ", 4) == 0 &&
		    (p[4] == 'S' || p[4] == 'H') && p[5] == ' ') {
			bool spam = p[4] == 'S';

			p += 6;
			if (*p == '-') {
				p++;
			} else {
				for (;;) {
					unsigned long c = strtoul(p, &end, 10);

					if (end == p || c >= t->ncols) {
						rc = -EINVAL;
						break;
					}
					if ((rc = push_idx(t, (uint32_t)c)) < 0)
						break;
					p = end;
					if (*p != ',')
						break;
					p++;
				}
			}
			if (rc == 0 && (*p != ' ' || p[1] == '\0'))
				rc = -EINVAL;
			if (rc == 0)
				rc = push_msg(t, p + 1, spam);
		} else {
			rc = -EINVAL;
		}
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	if (rc == 0 && *line == 0)
		rc = -EINVAL;
	free(buf);
	fclose(f);
	return rc;
}

static bool
is_fixed(const struct opts *o, const char *name)
{
	for (size_t i = 0; i < o->nfixed; i++)
		if (fnmatch(o->fixed[i], name, 0) == 0)
			return true;
	return !o->tune_bayes && strncmp(name, "BAYES_", 6) == 0;
}

/* The columns' boxes; see the file comment. */
static void
make_boxes(const struct opts *o, const struct rule_set *rs,
    const struct table *t, struct tune_rule *r)
{
	for (size_t c = 0; c < t->ncols; c++) {
		unsigned f = 0;
		bool def = false;
		double s = t->score[c];

		if (rs != NULL)
			f = tune_rule_info(rs, t->names[c], &def, NULL, NULL);
		r[c].name = t->names[c];
		r[c].score = s;
		r[c].lo = o->lo;
		r[c].hi = o->hi;
		if ((f & TUNE_TF_NICE) || s < 0)
			r[c].hi = 0;
		else
			r[c].lo = 0;
		/* 0 and SA's informational 0.001/0.01 scores stay */
		if (fabs(s) <= 0.01 || (f & TUNE_TF_USERCONF) ||
		    (!def && !o->tune_module &&
			strncmp(t->names[c], "BAYES_", 6) != 0) ||
		    is_fixed(o, t->names[c]))
			r[c].lo = r[c].hi = s;
	}
}

static void
print_count(
    const char *what, const struct tune_count *b, const struct tune_count *a)
{
	printf("  %-24s FP %5zu/%zu (%5.2f%%) -> %5zu (%5.2f%%)   "
	       "FN %5zu/%zu (%5.2f%%) -> %5zu (%5.2f%%)\n",
	    what, b->fp, b->ham, b->ham ? 100.0 * b->fp / b->ham : 0, a->fp,
	    a->ham ? 100.0 * a->fp / a->ham : 0, b->fn, b->spam,
	    b->spam ? 100.0 * b->fn / b->spam : 0, a->fn,
	    a->spam ? 100.0 * a->fn / a->spam : 0);
}

/* cross_validate - k folds: fit on k-1, count on the held-out one */
static int
cross_validate(const struct tune_data *d, const struct tune_opts *to,
    const struct opts *o, const double *w0, struct tune_count *before,
    struct tune_count *after)
{
	uint8_t *fold = malloc(d->nmsgs + 1), *use = malloc(d->nmsgs + 1);
	double *w = malloc((d->nrules + 1) * sizeof(*w)), hw;
	int rc;

	memset(before, 0, sizeof(*before));
	memset(after, 0, sizeof(*after));
	if (fold == NULL || use == NULL || w == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = tune_folds(d, o->folds, o->seed, fold)) < 0)
		goto out;
	for (unsigned k = 0; k < o->folds; k++) {
		struct tune_count cb, ca;

		for (size_t i = 0; i < d->nmsgs; i++)
			use[i] = fold[i] != k;
		memcpy(w, w0, d->nrules * sizeof(*w));
		if ((rc = tune_fit_target(d, use, to, o->fp_target, w, &hw)) <
		    0)
			goto out;
		tune_round(d, w);
		tune_count(d, use, 0, w0, to->threshold, &cb);
		tune_count(d, use, 0, w, to->threshold, &ca);
		before->ham += cb.ham, before->spam += cb.spam;
		before->fp += cb.fp, before->fn += cb.fn;
		after->ham += ca.ham, after->spam += ca.spam;
		after->fp += ca.fp, after->fn += ca.fn;
	}
out:
	free(fold);
	free(use);
	free(w);
	return rc;
}

static const double *sort_key;

static int
cmp_moved(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	if (sort_key[x] != sort_key[y])
		return sort_key[x] < sort_key[y] ? 1 : -1;
	return x < y ? -1 : x > y;
}

static const struct table *sort_table;

static int
cmp_name(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return strcmp(sort_table->names[x], sort_table->names[y]);
}

static void
report(const struct tune_data *d, const struct table *t,
    const struct rule_set *rs, const double *w0, const double *w, double thr)
{
	size_t n = d->nrules, *ord = calloc(n + 1, sizeof(*ord));
	double *key = calloc(n + 1, sizeof(*key));
	size_t *ham = calloc(n + 1, sizeof(*ham)),
	       *spam = calloc(n + 1, sizeof(*spam)),
	       *fph = calloc(n + 1, sizeof(*fph)), shown = 0;

	if (!ord || !key || !ham || !spam || !fph)
		goto out;
	for (size_t i = 0; i < d->nmsgs; i++) {
		bool fp = !d->spam[i] && tune_msg_score(d, w0, i) >= thr;

		for (uint32_t k = d->off[i]; k < d->off[i + 1]; k++) {
			if (d->spam[i])
				spam[d->idx[k]]++;
			else
				ham[d->idx[k]]++;
			fph[d->idx[k]] += fp;
		}
	}
	for (size_t j = 0; j < n; j++) {
		ord[j] = j;
		key[j] = fabs(w[j] - w0[j]);
	}
	sort_key = key;
	qsort(ord, n, sizeof(*ord), cmp_moved);
	printf("\nrules whose scores changed most (hits: spam/ham):\n");
	for (size_t k = 0; k < n && k < 20 && key[ord[k]] >= 0.001; k++) {
		size_t j = ord[k];

		printf("  %-30s %7.3f -> %7.3f  (%+.3f)  %zu/%zu%s\n",
		    t->names[j], w0[j], w[j], w[j] - w0[j], spam[j], ham[j],
		    d->rules[j].lo >= d->rules[j].hi ? " fixed" : "");
	}
	/* FP-heavy: positive rules that fired in the false positives of the
	 * current scores, most FPs first */
	for (size_t j = 0; j < n; j++) {
		ord[j] = j;
		key[j] = w0[j] > 0 ? (double)fph[j] : 0;
	}
	qsort(ord, n, sizeof(*ord), cmp_moved);
	printf("\nrules in the false positives of the current scores "
	       "(FP hits, spam/ham hits):\n");
	for (size_t k = 0; k < n && k < 15 && key[ord[k]] > 0; k++, shown++)
		printf("  %-30s %5zu  %zu/%zu  score %.3f -> %.3f\n",
		    t->names[ord[k]], fph[ord[k]], spam[ord[k]], ham[ord[k]],
		    w0[ord[k]], w[ord[k]]);
	if (shown == 0)
		printf("  (none)\n");
	/* never hit: defined, scored rules of the set that no message hit */
	if (rs != NULL) {
		const char *name;
		bool run;
		size_t never = 0;

		printf("\nrules that never hit (candidates for removal):\n");
		for (size_t i = 0; (name = rule_set_rule_at(rs, i, &run));
		     i++) {
			double sc;

			if (strncmp(name, "__", 2) == 0 ||
			    !rule_set_score(rs, name, &sc) || sc == 0)
				continue;
			bool hit = false;

			for (size_t j = 0; j < t->ncols && !hit; j++)
				hit = strcmp(t->names[j], name) == 0;
			if (hit)
				continue;
			if (never < 40)
				printf("  %-30s %7.3f%s\n", name, sc,
				    run ? "" : "  (not runnable here)");
			never++;
		}
		if (never > 40)
			printf("  ... %zu more\n", never - 40);
		else if (never == 0)
			printf("  (none)\n");
	}
out:
	free(ord);
	free(key);
	free(ham);
	free(spam);
	free(fph);
}

static void
data_line(FILE *f, const char *what, const char *const *paths, size_t n,
    const struct table *t, bool spam)
{
	size_t cnt = 0;

	for (size_t i = 0; i < t->nmsgs; i++)
		cnt += t->spam[i] == spam;
	fprintf(f, "# %s (%zu messages):", what, cnt);
	for (size_t i = 0; i < n; i++)
		fprintf(f, " %s", paths[i]);
	fputc('\n', f);
}

/* write_scores - the changed scores (names sorted) to path, or the diff
 * to stdout with dry */
static int
write_scores(const struct opts *o, const struct table *t, const double *w0,
    const double *w, const struct tune_count *cvb, const struct tune_count *cva,
    double hw)
{
	char tmp[PATH_MAX], when[64];
	size_t *ord = calloc(t->ncols + 1, sizeof(*ord)), changed = 0;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f = stdout;
	int rc = 0;

	if (ord == NULL)
		return -ENOMEM;
	for (size_t j = 0; j < t->ncols; j++)
		ord[j] = j;
	sort_table = t;
	qsort(ord, t->ncols, sizeof(*ord), cmp_name);
	if (o->dry) {
		printf("\n--- current scores\n+++ %s (not written: "
		       "--dry-run)\n",
		    o->out);
		for (size_t k = 0; k < t->ncols; k++) {
			size_t j = ord[k];

			if (fabs(w[j] - w0[j]) < 0.0005)
				continue;
			printf("-score %s %.3f\n+score %s %.3f\n", t->names[j],
			    w0[j], t->names[j], w[j]);
			changed++;
		}
		printf("(%zu scores would change)\n", changed);
		free(ord);
		return 0;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", o->out) >=
		sizeof(tmp) ||
	    (f = fopen(tmp, "w")) == NULL) {
		free(ord);
		return -errno ? -errno : -ENAMETOOLONG;
	}
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(f, "# %s - rule scores fitted by filterctl tune\n", o->out);
	fprintf(f,
	    "#\n# Written %s; do not edit by hand, rerun "
	    "filterctl tune.\n",
	    when);
	if (o->hits_in != NULL) {
		const char *const hp[1] = { o->hits_in };

		data_line(f, "spam", hp, 1, t, true);
		data_line(f, "ham", hp, 1, t, false);
	} else {
		data_line(f, "spam", o->spam, o->nspam, t, true);
		data_line(f, "ham", o->ham, o->nham, t, false);
	}
	fprintf(f,
	    "# seed %llu, %u folds, fp-target %.4g%%, lambda %g, "
	    "range %g:%g, ham weight %g%s\n",
	    o->seed, o->folds, o->fp_target * 100, o->lambda, o->lo, o->hi, hw,
	    o->tune_bayes ? ", BAYES_* tuned" : "");
	for (size_t i = 0; i < o->nfixed; i++)
		fprintf(f, "# fixed: %s\n", o->fixed[i]);
	if (o->folds >= 2)
		fprintf(f,
		    "# cross-validated: FP %zu -> %zu of %zu ham, "
		    "FN %zu -> %zu of %zu spam\n",
		    cvb->fp, cva->fp, cvb->ham, cvb->fn, cva->fn, cvb->spam);
	fprintf(f,
	    "#\n# Load it after the shipped rules: set\n"
	    "#   rules_local = /path/to/this/file\n"
	    "# in filterd.conf, or add `include /path/to/this/file` at the "
	    "end of\n# the local.cf that rules_local names. Only changed "
	    "scores are listed.\n\n");
	for (size_t k = 0; k < t->ncols; k++) {
		size_t j = ord[k];

		if (fabs(w[j] - w0[j]) < 0.0005)
			continue;
		fprintf(f, "score %-30s %.3f\t# was %.3f\n", t->names[j], w[j],
		    w0[j]);
		changed++;
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, o->out) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	else
		printf("\nwrote %zu scores to %s\n", changed, o->out);
	free(ord);
	return rc;
}

/* inside_rules_dir - out would land in the shipped rules directory */
static bool
inside_rules_dir(const struct cfg *cfg, const char *out)
{
	char rd[PATH_MAX], od[PATH_MAX], dir[PATH_MAX];
	const char *slash = strrchr(out, '/');

	struct stat sb;

	if (realpath(cfg_str(cfg, "rules_dir"), rd) == NULL)
		return false;
	/* rules_dir may name one file: its directory is the shipped one */
	if (stat(rd, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
		char *sl = strrchr(rd, '/');

		if (sl != NULL && sl != rd)
			*sl = '\0';
	}
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - out + 1), out);
	if (realpath(dir, od) == NULL)
		return false;
	return strcmp(rd, od) == 0 ||
	    (strncmp(od, rd, strlen(rd)) == 0 && od[strlen(rd)] == '/');
}

/* scan_all - every message of --spam and --ham into u->t */
static int
scan_all(struct tune *u, const struct opts *o)
{
	int r = 0;

	u->base = event_base_new();
	if (u->base == NULL)
		return -ENOMEM;
	u->tty = !o->quiet && isatty(2);
	if (u->tty)
		for (int c = 0; c < 2; c++)
			for (size_t i = 0; i < (c ? o->nham : o->nspam); i++)
				u->total +=
				    ctl_count_msgs(c ? o->ham[i] : o->spam[i]);
	for (int c = 0; c < 2 && r >= 0; c++) {
		u->cls_spam = c == 0;
		for (size_t i = 0; i < (c ? o->nham : o->nspam) && r >= 0; i++)
			r = ctl_foreach_msg(
			    c ? o->ham[i] : o->spam[i], scan_one, u, &u->bad);
	}
	progress(u, true);
	event_base_free(u->base);
	u->base = NULL;
	return r < 0 ? r : 0;
}

int
ctl_tune(int argc, char **argv)
{
	struct opts o = { .out = "local-scores.cf",
		.fp_target = 0.001,
		.lo = -10,
		.hi = 10,
		.lambda = 1e-3,
		.folds = 5,
		.seed = 1 };
	static struct tune u;
	struct cfg *cfg;
	struct checks *ck = NULL;
	struct tune_rule *rules = NULL;
	struct tune_opts to;
	struct tune_data d;
	struct tune_count b, a, cvb = { 0 }, cva = { 0 };
	double *w0 = NULL, *w = NULL, hw = 1;
	char err[512];
	int rc = 1, r;

	if (ctl_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	memset(&u, 0, sizeof(u));
	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	if ((cfg = ctl_load_cfg(o.conf)) == NULL)
		return 1;
	if (!o.dry && inside_rules_dir(cfg, o.out)) {
		fprintf(stderr,
		    "filterctl tune: %s is inside rules_dir; the "
		    "shipped rules are never edited\n",
		    o.out);
		goto out;
	}
	/* the scan must not learn from what it scores */
	r = cfg_set(cfg, "bayes_auto_learn", "no", err, sizeof(err));
	if (r == 0 && o.nonet) {
		static const char *const net[] = { "use_dnsbl", "use_spf",
			"use_dkim", "use_dmarc" };

		for (size_t i = 0; i < 4 && r == 0; i++)
			r = cfg_set(cfg, net[i], "no", err, sizeof(err));
	}
	if (r < 0) {
		fprintf(stderr, "filterctl tune: %s\n", err);
		goto out;
	}
	if ((ck = checks_init(cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "filterctl tune: %s\n", err);
		goto out;
	}
	u.cfg = cfg;
	u.ck = ck;
	u.t0 = now_s();
	if (o.hits_in != NULL) {
		size_t line;

		if ((r = hits_load(&u.t, o.hits_in, &line)) < 0) {
			fprintf(stderr, "filterctl tune: %s:%zu: %s\n",
			    o.hits_in, line,
			    r == -EINVAL ? "not a hits file" : strerror(-r));
			goto out;
		}
	} else if ((r = scan_all(&u, &o)) < 0) {
		fprintf(stderr, "filterctl tune: %s\n", strerror(-r));
		goto out;
	}
	if (o.hits_out != NULL && (r = hits_save(&u.t, o.hits_out)) < 0) {
		fprintf(stderr, "filterctl tune: %s: %s\n", o.hits_out,
		    strerror(-r));
		goto out;
	}
	if (u.t.nmsgs == 0) {
		fprintf(stderr, "filterctl tune: no messages\n");
		goto out;
	}
	printf("%s %zu messages (%zu unreadable) in %.1fs: %zu scored "
	       "rules hit\n",
	    o.hits_in ? "loaded" : "scanned", u.t.nmsgs, u.bad, now_s() - u.t0,
	    u.t.ncols);

	rules = calloc(u.t.ncols + 1, sizeof(*rules));
	w0 = calloc(u.t.ncols + 1, sizeof(*w0));
	w = calloc(u.t.ncols + 1, sizeof(*w));
	if (!rules || !w0 || !w)
		goto out;
	make_boxes(&o, find_rules(ck), &u.t, rules);
	for (size_t j = 0; j < u.t.ncols; j++)
		w0[j] = w[j] = u.t.score[j];
	d = (struct tune_data){ .nrules = u.t.ncols,
		.nmsgs = u.t.nmsgs,
		.rules = rules,
		.off = u.t.off,
		.idx = u.t.idx,
		.spam = u.t.spam };
	tune_opts_default(&to);
	to.threshold = cfg_double(cfg, "tag2_level");
	to.lambda = o.lambda;

	double t1 = now_s();

	if (o.folds >= 2 &&
	    (r = cross_validate(&d, &to, &o, w0, &cvb, &cva)) < 0) {
		fprintf(stderr, "filterctl tune: fit: %s\n", strerror(-r));
		goto out;
	}
	if ((r = tune_fit_target(&d, NULL, &to, o.fp_target, w, &hw)) < 0) {
		fprintf(stderr, "filterctl tune: fit: %s\n", strerror(-r));
		goto out;
	}
	tune_round(&d, w);
	tune_count(&d, NULL, 0, w0, to.threshold, &b);
	tune_count(&d, NULL, 0, w, to.threshold, &a);
	printf("fitted in %.1fs (threshold %.1f, fp-target %.3g%%, ham "
	       "weight %g, seed %llu)\n",
	    now_s() - t1, to.threshold, o.fp_target * 100, hw, o.seed);
	printf("\n  %-24s %-40s %s\n", "", "false positives (ham)",
	    "false negatives (spam)");
	if (o.folds >= 2) {
		char what[64];

		snprintf(
		    what, sizeof(what), "%u-fold cross-validated", o.folds);
		print_count(what, &cvb, &cva);
	}
	print_count("training (all data)", &b, &a);
	report(&d, &u.t, find_rules(ck), w0, w, to.threshold);
	if ((r = write_scores(&o, &u.t, w0, w, &cvb, &cva, hw)) < 0) {
		fprintf(
		    stderr, "filterctl tune: %s: %s\n", o.out, strerror(-r));
		goto out;
	}
	rc = 0;
out:
	if (u.base != NULL)
		event_base_free(u.base);
	table_free(&u.t);
	free(rules);
	free(w0);
	free(w);
	checks_free(ck);
	cfg_free(cfg);
	return rc;
}
