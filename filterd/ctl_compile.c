/*
 * filterd/ctl_compile.c - `filterctl compile`: build the Hyperscan cache
 *
 * What sa-compile is to SpamAssassin: loading the rules, filterd compiles
 * Hyperscan databases (the regex prefilter) only within a small CPU
 * budget, so a start or reload stays well under a second; the costliest
 * patterns then run through PCRE2 alone. `filterctl compile` compiles
 * every pattern Hyperscan can take, once (seconds to a minute), and
 * writes the result to rules_cache_dir (default state_dir/rules-cache)
 * under a name that is a hash of the rules and the Hyperscan version.
 * filterd reads it at its next start or reload (SIGHUP) when the rules
 * are still exactly those; after a rule change it falls back to the
 * budget compile until the next `filterctl compile`. Other *.hsdb files
 * in the directory (older rule versions) are removed.
 *
 *   filterctl compile [-c CONF] [--cache-dir DIR] [-q]
 *
 * Exit 0 when the cache was written, 1 when it was not (message on
 * stderr), 2 on a config or rule-file error.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "filterd/cfg.h"
#include "filterd/check_rules.h"
#include "filterd/ctl.h"
#include "rules/rules.h"

/* prune - remove DIR's *.hsdb files other than keep; their count */
static unsigned
prune(const char *dir, const char *keep)
{
	const char *base = strrchr(keep, '/') ? strrchr(keep, '/') + 1 : keep;
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		char p[1024];

		if (l < 6 || strcmp(e->d_name + l - 5, ".hsdb") != 0 ||
		    strcmp(e->d_name, base) == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		n += unlink(p) == 0;
	}
	closedir(d);
	return n;
}

int
ctl_compile(int argc, char **argv)
{
	const char *conf = NULL, *dir_arg = NULL;
	struct rules_paths rp;
	struct rule_hs_info hi = { 0 };
	struct cfg *cfg;
	char dir[512], why[600];
	bool quiet = false;
	unsigned pruned;
	size_t n;
	int rc;

	if (ctl_help(argc, argv)) {
		printf("usage: filterctl compile [-c CONF] [--cache-dir DIR] "
		    "[-q]\n  build the Hyperscan cache of the configured rules "
		    "(like sa-compile);\n  the daemon loads it at its next "
		    "start or reload\n");
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			conf = argv[++i];
		} else if (strcmp(argv[i], "--cache-dir") == 0 &&
		    i + 1 < argc) {
			dir_arg = argv[++i];
		} else if (strcmp(argv[i], "-q") == 0) {
			quiet = true;
		} else {
			fprintf(stderr,
			    "usage: filterctl compile [-c CONF] "
			    "[--cache-dir DIR] [-q]\n");
			return 2;
		}
	}
	if ((cfg = ctl_load_cfg(conf)) == NULL)
		return 2;
	if (dir_arg != NULL)
		snprintf(dir, sizeof(dir), "%s", dir_arg);
	else
		rules_cfg_cache_dir(cfg, dir, sizeof(dir));
	if (dir[0] == '\0') {
		fprintf(stderr, "filterctl compile: rules_cache_dir = none: "
				"nothing to write\n");
		cfg_free(cfg);
		return 1;
	}
	if (dir_arg != NULL && cfg_set(cfg, "rules_cache_dir", dir, why,
	    sizeof(why)) < 0) {
		fprintf(stderr, "filterctl compile: %s\n", why);
		cfg_free(cfg);
		return 2;
	}
	n = rules_cfg_paths(cfg, &rp);
	if (!quiet)
		fprintf(stderr, "filterctl compile: compiling %s%s%s ...\n",
		    rp.v[0], n > 1 ? " and " : "", n > 1 ? rp.v[n - 1] : "");
	if ((rc = rules_cache_build(cfg, &hi, why, sizeof(why))) < 0) {
		fprintf(stderr, "filterctl compile: %s\n", why);
		cfg_free(cfg);
		return rc == -EBADMSG ? 2 : 1; /* rule files : cache */
	}
	pruned = prune(dir, hi.cache_file);
	if (!quiet)
		printf("%zu rules in Hyperscan, compiled in %.1f s CPU, "
		       "written to %s%s\n",
		    hi.patterns, hi.compile_ms / 1e3, hi.cache_file,
		    pruned ? " (older caches removed)" : "");
	cfg_free(cfg);
	return 0;
}
