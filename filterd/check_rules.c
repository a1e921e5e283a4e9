/*
 * filterd/check_rules.c - the rule engine (rules/) as a check
 *
 * init() loads rules_dir (every *.cf, sorted) and then rules_local (when
 * it exists; its score lines win) into one read-only rule set per config
 * generation; bad rule lines are logged with file:line and skipped, an
 * unreadable rules_dir refuses the config. run() evaluates header, body,
 * uri, full and eval rules; finish() evaluates meta rules over every
 * check's hits (DNS, Bayes) and fills in scores from the rule files.
 *
 * Per-scan state (the rule run between run and finish) lives in the
 * message arena; its address travels in a scan note, since struct scan
 * has no per-check slot. Without it finish() evaluates everything itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filterd/cfg.h"
#include "filterd/check_rules.h"
#include "filterd/checks.h"
#include "rules/rules.h"
#include "util/fs.h"
#include "util/log.h"

#define NOTE_KEY "rules.run"
#define MAX_LOGGED_DIAGS 50

size_t
rules_cfg_paths(const struct cfg *cfg, struct rules_paths *p)
{
	const char *local = cfg_str(cfg, "rules_local");
	char *save = NULL, *tok;

	p->n = 0;
	snprintf(p->buf, sizeof(p->buf), "%s", cfg_str(cfg, "rules_dir"));
	for (tok = strtok_r(p->buf, ",", &save);
	     tok != NULL && p->n < RULES_MAX_PATHS;
	     tok = strtok_r(NULL, ",", &save)) {
		char *e = tok + strlen(tok);

		while (*tok == ' ' || *tok == '\t')
			tok++;
		while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*tok != '\0')
			p->v[p->n++] = tok;
	}
	if (local[0] != '\0' && access(local, R_OK) == 0)
		p->v[p->n++] = local;
	return p->n;
}

void
rules_cfg_cache_dir(const struct cfg *cfg, char *out, size_t outsz)
{
	const char *d = cfg_str(cfg, "rules_cache_dir");

	if (strcmp(d, "none") == 0)
		snprintf(out, outsz, "%s", "");
	else if (d[0] != '\0')
		snprintf(out, outsz, "%s", d);
	else
		snprintf(out, outsz, "%s/rules-cache",
		    cfg_str(cfg, "state_dir"));
}

/* what the last load in this process did (rules_cache_wanted) */
static struct {
	bool wanted;
	char file[512];
} last_load;

bool
rules_cache_wanted(char *file, size_t filesz)
{
	snprintf(file, filesz, "%s", last_load.file);
	return last_load.wanted;
}

int
rules_cache_build(const struct cfg *cfg, struct rule_hs_info *info,
    char *why, size_t whysz)
{
	struct rules_paths rp;
	char dir[512];
	struct rule_load_opts o = { dir, true };
	struct rule_hs_info hi;
	struct rule_err err;
	struct rule_set *rs;
	size_t n = rules_cfg_paths(cfg, &rp);
	int rc;

	rules_cfg_cache_dir(cfg, dir, sizeof(dir));
	if (dir[0] == '\0') {
		snprintf(why, whysz, "rules_cache_dir = none");
		return -EINVAL;
	}
	if ((rc = fs_mkdirs(dir, 0755)) < 0) {
		snprintf(why, whysz, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	if ((rs = rule_set_load_opts(rp.v, n, &o, &err)) == NULL) {
		snprintf(why, whysz, "%s:%u: %s", err.file, err.line, err.msg);
		return -EBADMSG;
	}
	rule_set_hs_info(rs, &hi);
	rule_set_free(rs);
	if (info != NULL)
		*info = hi;
	if (hi.save_rc < 0) {
		snprintf(why, whysz, "%s: %s",
		    hi.cache_file[0] ? hi.cache_file : dir,
		    strerror(-hi.save_rc));
		return hi.save_rc;
	}
	return 0;
}

static int
rules_init(const struct cfg *cfg, void **state)
{
	struct rules_paths rp;
	size_t n, logged = 0;
	struct rule_err err;
	struct rule_set *rs;
	char dir[512];
	struct rule_load_opts o = { dir, false };
	struct rule_hs_info hi;

	n = rules_cfg_paths(cfg, &rp);
	rules_cfg_cache_dir(cfg, dir, sizeof(dir));
	if ((rs = rule_set_load_opts(rp.v, n, &o, &err)) == NULL) {
		if (err.line)
			log_error("rules: %s:%u: %s", err.file, err.line,
			    err.msg);
		else
			log_error("rules: %s: %s", err.file, err.msg);
		return -EINVAL;
	}
	rule_set_hs_info(rs, &hi);
	last_load.wanted = !hi.from_cache && hi.patterns < hi.cacheable &&
	    dir[0] != '\0' && hi.cache_file[0] != '\0';
	snprintf(last_load.file, sizeof(last_load.file), "%s", hi.cache_file);
	if (hi.from_cache)
		log_info("rules: Hyperscan databases for %zu rules from %s",
		    hi.patterns, hi.cache_file);
	else if (hi.patterns < hi.cacheable && dir[0] != '\0')
		log_info("rules: no Hyperscan cache for these rules in %s "
			 "(%zu of %zu rules compiled within the load "
			 "budget); `filterctl compile` builds it for faster "
			 "scans (the daemon builds it in the background too)",
		    dir, hi.patterns, hi.cacheable);
	rule_set_scoreset(rs, (unsigned)cfg_int(cfg, "rules_scoreset"));
	for (size_t i = 0; i < rule_set_diag_count(rs); i++) {
		const struct rule_diag *d = rule_set_diag_at(rs, i);

		if (d->level != RULE_DIAG_ERROR)
			continue;
		if (logged++ < MAX_LOGGED_DIAGS)
			log_warn("rules: %s:%u: %s (rule skipped)", d->file,
			    d->line, d->msg);
	}
	if (logged > MAX_LOGGED_DIAGS)
		log_warn("rules: %zu more errors, see filterctl lint",
		    logged - MAX_LOGGED_DIAGS);
	log_info("rules: %zu rules loaded from %s%s%s", rule_set_rule_count(rs),
	    rp.v[0], n > 1 ? " and " : "", n > 1 ? rp.v[n - 1] : "");
	*state = rs;
	return 0;
}

static void
rules_run(struct scan *s, void *state)
{
	struct rule_run *run;
	char note[32];

	if (state == NULL)
		return;
	if ((run = rule_run_new(state, scan_msg(s))) == NULL)
		return;
	if (rule_run_exec(run, scan_hits(s)) < 0)
		return;
	snprintf(note, sizeof(note), "%" PRIxPTR, (uintptr_t)run);
	scan_note(s, NOTE_KEY, note);
}

static void
rules_finish(struct scan *s, void *state)
{
	const char *note = scan_note_get(s, NOTE_KEY);
	uintptr_t p;

	if (state == NULL)
		return;
	if (note != NULL && sscanf(note, "%" SCNxPTR, &p) == 1 && p != 0) {
		rule_run_finish((struct rule_run *)p, scan_hits(s));
		return;
	}
	rule_set_check(state, scan_msg(s), scan_hits(s));
}

static void
rules_free(void *state)
{
	rule_set_free(state);
}

const struct check check_rules = {
	.name = "rules",
	.init = rules_init,
	.run = rules_run,
	.finish = rules_finish,
	.free = rules_free,
};
