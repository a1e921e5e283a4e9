/*
 * filterd/ctl_lint.c - `filterctl lint [-v] [FILE|DIR...]`: check rule
 * files
 *
 * Loads the given files and directories (default: rules_dir and
 * rules_local from the config) as the daemon would and prints every
 * finding as "file:line: level: message": syntax errors, regexes PCRE2
 * cannot take, unknown rules in meta and score lines, duplicate names,
 * eval: functions nothing implements. -v adds the informational lines
 * (settings the engine ignores, rules redefined by a later file). Exit 0
 * without errors, 1 with errors, 2 when a file cannot be read.
 */
#include <stdio.h>
#include <string.h>

#include "filterd/cfg.h"
#include "filterd/check_rules.h"
#include "filterd/ctl.h"
#include "rules/rules.h"

static const char *const level_name[] = { "info", "warning", "error" };

int
ctl_lint(int argc, char **argv)
{
	const char *paths[256];
	size_t n = 0, shown[3] = { 0, 0, 0 };
	bool verbose = false;
	struct rule_err err;
	struct rule_set *rs;
	struct cfg *cfg = NULL;
	struct rules_paths rp; /* paths[] may point into it */

	if (ctl_help(argc, argv)) {
		printf("usage: filterctl lint [-v] [FILE|DIR...]\n"
		    "  load rule files (default: the configured rules_dir, "
		    "rules_local) and\n  report errors and warnings "
		    "(-v: every warning); exit 1 on errors\n");
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0)
			verbose = true;
		else if (n < sizeof(paths) / sizeof(paths[0]))
			paths[n++] = argv[i];
	}
	if (n == 0) {
		if ((cfg = ctl_load_cfg(NULL)) == NULL)
			return 2;
		n = rules_cfg_paths(cfg, &rp);
		for (size_t i = 0; i < n; i++)
			paths[i] = rp.v[i];
	}
	if ((rs = rule_set_load(paths, n, &err)) == NULL) {
		fprintf(stderr, "filterctl lint: %s: %s\n", err.file, err.msg);
		cfg_free(cfg);
		return 2;
	}
	for (size_t i = 0; i < rule_set_diag_count(rs); i++) {
		const struct rule_diag *d = rule_set_diag_at(rs, i);

		shown[d->level]++;
		if (d->level == RULE_DIAG_INFO && !verbose)
			continue;
		printf("%s:%u: %s: %s\n", d->file, d->line,
		    level_name[d->level], d->msg);
	}
	printf("%zu rules, %zu errors, %zu warnings, %zu notes%s\n",
	    rule_set_rule_count(rs), shown[2], shown[1], shown[0],
	    verbose || shown[0] == 0 ? "" : " (-v shows notes)");
	n = rule_set_errors(rs);
	rule_set_free(rs);
	cfg_free(cfg);
	return n > 0 ? 1 : 0;
}
