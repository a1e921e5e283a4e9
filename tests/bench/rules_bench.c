/*
 * rules_bench - the rule engine on a corpus, one core
 *
 *   build/bench/rules [-r RULES]... [-n N] [-P] [-l] [-R] [-T] FILE|DIR...
 *
 * Loads the rule files/dirs given with -r (default rules/default) and
 * reports load+compile time, then scans every message (at most N) and
 * reports messages/s and p50/p99/max per message for the rules alone
 * (parse time reported apart). -P turns the literal prefilter off. -l
 * prints "file<TAB>HIT,HIT,..." per message (scored hits, sorted) instead
 * of timing; -R prints the names of the rules this engine can run (the
 * parity test restricts the comparison to them); -D lists, with -l, every
 * rule that fired, __sub-rules and 0-scored ones too; -S adds the total
 * score as a column after the file name. -T profiles: time per stage and
 * the 60 costliest rules (PROFN=n for n) after the timing lines; per-rule
 * figures add ~40 ns a rule, so compare them with each other, not with
 * the unprofiled total. -P also turns off lazy __ sub-rules (every rule
 * then runs on every text). -C DIR reads Hyperscan databases from the
 * cache in DIR when it holds them for these rules; -B (with -C) compiles
 * every pattern first and writes the cache (as filterctl compile does),
 * then exits when no messages were given.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "mail/msg.h"
#include "rules/rules.h"
#include "util/hits.h"

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* CPU time of this thread: what the work cost, whatever else the
 * machine runs (shared CI hosts) */
static double
cpu_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int
cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (n < 0 || (p = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	if (fread(p, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(p);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* collect - files and sorted directory entries */
static void
collect(const char *path, char ***v, size_t *n, size_t *cap)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	size_t first = *n;

	if (stat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 1024;
			*v = realloc(*v, *cap * sizeof(**v));
			if (*v == NULL)
				exit(2);
		}
		(*v)[(*n)++] = strdup(path);
		return;
	}
	if ((d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char sub[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		collect(sub, v, n, cap);
	}
	closedir(d);
	qsort(*v + first, *n - first, sizeof(**v), cmp_str);
}

int
main(int argc, char **argv)
{
	const char *rpaths[16];
	size_t nr = 0, nfiles = 0, cap = 0, limit = (size_t)-1, done = 0;
	char **files = NULL;
	bool list = false, runnable = false, prefilter = true, all = false;
	bool score = false, profile = false;
	struct rule_load_opts lo = { NULL, false };
	struct rule_hs_info hi;
	double t0, load_ms, *rule_ms, parse_total = 0, rule_total = 0;
	double cpu_parse = 0, cpu_rules = 0;
	struct rule_err err;
	struct rule_set *rs;
	struct rusage ru;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-r") == 0 && i + 1 < argc && nr < 16)
			rpaths[nr++] = argv[++i];
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			limit = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-l") == 0)
			list = true;
		else if (strcmp(argv[i], "-R") == 0)
			runnable = true;
		else if (strcmp(argv[i], "-S") == 0)
			score = list = true;
		else if (strcmp(argv[i], "-D") == 0)
			all = list = true;
		else if (strcmp(argv[i], "-P") == 0)
			prefilter = false;
		else if (strcmp(argv[i], "-T") == 0)
			profile = true;
		else if (strcmp(argv[i], "-C") == 0 && i + 1 < argc)
			lo.hs_cache_dir = argv[++i];
		else if (strcmp(argv[i], "-B") == 0)
			lo.hs_build = true;
		else
			collect(argv[i], &files, &nfiles, &cap);
	}
	if (nr == 0)
		rpaths[nr++] = "rules/default";
	t0 = now_ms();
	if ((rs = rule_set_load_opts(rpaths, nr, &lo, &err)) == NULL) {
		fprintf(stderr, "rules_bench: %s: %s\n", err.file, err.msg);
		return 2;
	}
	load_ms = now_ms() - t0;
	rule_set_hs_info(rs, &hi);
	if (lo.hs_build) {
		printf("hyperscan: %zu rules compiled in %.1f s CPU%s%s%s\n",
		    hi.patterns, hi.compile_ms / 1e3,
		    hi.save_rc == 0 ? ", cache written: " : ", cache NOT written: ",
		    hi.save_rc == 0 ? hi.cache_file : strerror(-hi.save_rc), "");
		if (nfiles == 0)
			return hi.save_rc == 0 ? 0 : 1;
	}
	rule_set_prefilter(rs, prefilter);
	rule_set_profile(rs, profile);
	if (runnable) {
		const char *name;
		bool ok;

		for (size_t i = 0; (name = rule_set_rule_at(rs, i, &ok)); i++)
			if (ok)
				printf("%s\n", name);
		rule_set_free(rs);
		return 0;
	}
	if ((rule_ms = calloc(nfiles + 1, sizeof(double))) == NULL)
		return 2;
	for (size_t i = 0; i < nfiles && done < limit; i++) {
		size_t len;
		unsigned char *raw = slurp(files[i], &len);
		struct msg *m;
		struct hits *h;
		struct rule_run *run;
		double a, b, c, ca, cb, cc;

		if (raw == NULL)
			continue;
		a = now_ms();
		ca = cpu_ms();
		if (msg_parse(raw, len, NULL, &m) < 0) {
			free(raw);
			continue;
		}
		b = now_ms();
		cb = cpu_ms();
		h = hits_new(msg_arena(m));
		run = h != NULL ? rule_run_new(rs, m) : NULL;
		if (run == NULL || rule_run_exec(run, h) < 0 ||
		    rule_run_finish(run, h) < 0) {
			fprintf(stderr, "rules_bench: %s: out of memory\n",
			    files[i]);
			return 2;
		}
		c = now_ms();
		cc = cpu_ms();
		cpu_parse += cb - ca;
		cpu_rules += cc - cb;
		parse_total += b - a;
		rule_total += c - b;
		rule_ms[done++] = c - b;
		if (list) {
			hits_sort(h);
			const char *name;
			unsigned cnt;

			printf("%s\t", files[i]);
			if (score)
				printf("%.2f\t", hits_total(h));
			for (size_t k = 0; !all && k < hits_count(h); k++)
				printf(
				    "%s%s", k ? "," : "", hits_at(h, k)->name);
			for (size_t k = 0;
			     all && (name = rule_run_fired_at(run, k, &cnt));
			     k++)
				printf("%s%s", k ? "," : "", name);
			printf("\n");
		}
		msg_free(m);
		free(raw);
	}
	if (!list)
		printf("rules: %zu loaded in %.0f ms (%s)%s; hyperscan %zu "
		       "rules%s\n",
		    rule_set_rule_count(rs), load_ms, rpaths[0],
		    prefilter ? "" : " prefilter off", hi.patterns,
		    hi.from_cache ? " from the cache" : ", budget compile");
	if (!list && done > 0) {
		qsort(rule_ms, done, sizeof(double), cmp_dbl);
		getrusage(RUSAGE_SELF, &ru);
		printf("messages: %zu, rules %.1f msg/s (parse+rules %.1f "
		       "msg/s)\n",
		    done, done / (rule_total / 1e3),
		    done / ((rule_total + parse_total) / 1e3));
		printf("per message (rules): p50 %.2f ms, p99 %.2f ms, max "
		       "%.2f ms; parse avg %.2f ms; maxrss %ld MB\n",
		    rule_ms[done / 2], rule_ms[done * 99 / 100],
		    rule_ms[done - 1], parse_total / done, ru.ru_maxrss / 1024);
		printf("cpu: rules %.1f msg/s, parse+rules %.1f msg/s\n",
		    done / (cpu_rules / 1e3),
		    done / ((cpu_rules + cpu_parse) / 1e3));
	}
	if (profile)
		rule_set_profile_print(rs, stdout, getenv("PROFN") ? strtoul(getenv("PROFN"), NULL, 10) : 60);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	free(files);
	free(rule_ms);
	rule_set_free(rs);
	return 0;
}
