/*
 * filterd/filterctl.c - the filterctl tool: one table of subcommands
 *
 * `filterctl [-c FILE] CMD ARGS...`: -c (or FILTERD_CONF) is passed to the
 * subcommands through ctl_load_cfg(). Each row of ctl_cmds[] names a
 * function from filterd/ctl_<name>.c (see filterd/ctl.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filterd/cfg.h"
#include "filterd/ctl.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} ctl_cmds[] = {
	{ "check", ctl_check,
	    "check [-v] FILE...  scan messages with every check; print "
	    "score, hits, headers" },
	{ "lint", ctl_lint,
	    "lint [-v] [FILE|DIR...]  check rule files (default: the "
	    "configured ones)" },
	{ "compile", ctl_compile,
	    "compile [--cache-dir DIR]  build the Hyperscan cache of the "
	    "configured rules (like sa-compile)" },
	{ "learn", ctl_learn,
	    "learn --spam|--ham|--forget PATH...  train Bayes (maildir, "
	    "mbox, MH, dir, -)" },
	{ "bayes", ctl_bayes,
	    "bayes stats|dump|expire|backup|restore|classify" },
	{ "tune", ctl_tune,
	    "tune --spam PATH... --ham PATH... [--out FILE] [--dry-run]  "
	    "fit rule scores" },
	{ "explain", ctl_explain,
	    "explain FILE [--json]  every hit, what it matched, Bayes clues, "
	    "the action and why" },
	{ "dkim-keygen", ctl_dkim_keygen,
	    "dkim-keygen --domain D [--selector S] [--type rsa|ed25519] "
	    "[--testing]  new key + DNS record" },
	{ "dkim-sign", ctl_dkim_sign,
	    "dkim-sign [--key 'D S FILE'] FILE  sign as the daemon signs "
	    "originating mail" },
	{ "arc-seal", ctl_arc_seal,
	    "arc-seal [--key 'D S FILE'] [--sealer D] FILE  add the ARC set "
	    "the daemon adds (arc_seal)" },
	{ "check-domain", ctl_check_domain,
	    "check-domain D [--selector S] [--ip A]  MX, SPF, DKIM, DMARC, "
	    "PTR findings with fixes" },
	{ "dmarc-report", ctl_dmarc_report,
	    "dmarc-report [--json] FILE...  summarise DMARC aggregate "
	    "reports (xml, gz, zip)" },
	{ "quarantine", ctl_quarantine,
	    "quarantine list|show ID|release ID [--to A]|delete ID|"
	    "expire --older-than 30d|digest  held mail: look, release, "
	    "remove, tell recipients" },
	{ "status", ctl_status,
	    "status [--raw]  what the running daemon did: counters, "
	    "Bayes state, warnings" },
};

static const char *conf_path;

struct cfg *
ctl_load_cfg(const char *path)
{
	struct cfg *c = NULL;
	char err[1024];

	if (path == NULL)
		path = conf_path;
	if (path == NULL)
		path = getenv("FILTERD_CONF");
	if (path == NULL)
		path = access("etc/filterd.conf", R_OK) == 0
		    ? "etc/filterd.conf" : "/etc/filterd/filterd.conf";
	if (cfg_load(path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "filterctl: %s\n", err);
		return NULL;
	}
	return c;
}

unsigned char *
ctl_read_file(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	unsigned char *p = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		size_t r;

		if (n == cap) {
			unsigned char *q;

			cap = cap ? cap * 2 : 65536;
			if ((q = realloc(p, cap)) == NULL) {
				free(p);
				p = NULL;
				break;
			}
			p = q;
		}
		r = fread(p + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (f != stdin)
		fclose(f);
	*len = n;
	return p;
}

static void
help(FILE *f)
{
	fprintf(f, "usage: filterctl [-c FILE] COMMAND [ARGS...]\n\n"
	    "Commands:\n");
	for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		fprintf(f, "  %-13s %s\n", ctl_cmds[i].name, ctl_cmds[i].help);
	fprintf(f, "\n  -c FILE   configuration (default: $FILTERD_CONF, "
	    "etc/filterd.conf if present, /etc/filterd/filterd.conf)\n");
}

bool
ctl_help(int argc, char **argv)
{
	return argc > 1 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
}

int
main(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			conf_path = argv[i + 1];
			i += 2;
		} else if (!strcmp(argv[i], "-h") ||
		    !strcmp(argv[i], "--help")) {
			help(stdout);
			return 0;
		} else {
			help(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		help(stderr);
		return 2;
	}
	for (size_t k = 0; k < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); k++)
		if (strcmp(argv[i], ctl_cmds[k].name) == 0)
			return ctl_cmds[k].fn(argc - i, argv + i);
	fprintf(stderr, "filterctl: unknown command '%s'\n\n", argv[i]);
	help(stderr);
	return 2;
}
