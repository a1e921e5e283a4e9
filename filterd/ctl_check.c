/*
 * filterd/ctl_check.c - `filterctl check FILE...`: the daemon's scan and
 * header rewrite on files, synchronously (an event loop runs until the
 * scan is done, so async checks work as in the daemon)
 *
 * Prints per file: score, the verdict (action), every hit with its score,
 * its rule description (describe lines) and detail, and with -v the
 * headers the daemon would add. Exit 0 when every file was scanned, 1
 * otherwise.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filterd/action.h"
#include "filterd/cfg.h"
#include "filterd/checks.h"
#include "filterd/ctl.h"
#include "filterd/scan.h"
#include "rules/rules.h"
#include "util/buf.h"
#include "util/hits.h"

static void
on_done(struct scan *s, void *arg)
{
	(void)s;
	*(int *)arg = 1;
}

static int
check_one(const struct cfg *cfg, const struct checks *ck,
    struct event_base *base, const char *path, bool verbose)
{
	size_t len;
	unsigned char *raw = ctl_read_file(path, &len);
	struct scan *s;
	int done = 0;
	struct hits *h;
	double score;

	if (raw == NULL) {
		fprintf(stderr, "filterctl check: %s: %s\n", path,
		    strerror(errno ? errno : ENOMEM));
		return -1;
	}
	s = scan_new(cfg, ck, base, raw, len, NULL);
	if (s == NULL || scan_run(s, on_done, &done) < 0) {
		fprintf(stderr, "filterctl check: %s: scan failed\n", path);
		scan_free(s);
		free(raw);
		return -1;
	}
	while (!done)
		event_base_loop(base, EVLOOP_ONCE);
	score = scan_score(s);
	printf("%s: score=%.1f/%.1f action=%s tests=%s\n", path, score,
	    cfg_double(cfg, "tag2_level"),
	    action_name(action_decide(cfg, score)), scan_tests(s));
	h = scan_hits(s);
	for (size_t i = 0; i < hits_count(h); i++) {
		struct hit *x = hits_at(h, i);
		const char *desc = scan_describe(s, x->name);

		printf("  %6.2f %-28s %s%s%s\n", x->has_score ? x->score : 0.0,
		    x->name, desc ? desc : "", desc && x->detail ? ": " : "",
		    x->detail ? x->detail : "");
	}
	if (verbose) {
		struct buf head;
		size_t off;

		/* no cap of its own: raw (message_size_limit) bounds it, plus
		 * our few fields (a fixed 1 MiB tempfailed big header sections) */
		buf_init(&head, ACTION_HEAD_MAX);
		struct action_notes notes = {
			.autolearn = scan_note_get(s, "autolearn"),
			.authres = scan_note_get(s, "authres"),
			.received_spf = scan_note_get(s, "received-spf"),
		};

		if (action_rewrite(cfg, score, scan_tests(s), &notes,
		    bstr_make(raw, len), &head, &off) == 0)
			fwrite(head.p, 1, head.len, stdout);
		buf_free(&head);
	}
	scan_free(s);
	free(raw);
	return 0;
}

int
ctl_check(int argc, char **argv)
{
	struct cfg *cfg;
	struct checks *ck;
	struct event_base *base;
	char err[512];
	bool verbose = false;
	int i = 1, rc = 0;

	if (ctl_help(argc, argv)) {
		printf("usage: filterctl check [-v] FILE...\n"
		    "  scan each message file (or - for stdin) with every check "
		    "of the\n  configuration; print score, action and hits "
		    "(-v: also the headers\n  filterd would add)\n");
		return 0;
	}
	if (i < argc && strcmp(argv[i], "-v") == 0) {
		verbose = true;
		i++;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: filterctl check [-v] FILE...\n");
		return 2;
	}
	if ((cfg = ctl_load_cfg(NULL)) == NULL)
		return 1;
	if ((ck = checks_init(cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "filterctl check: %s\n", err);
		cfg_free(cfg);
		return 1;
	}
	base = event_base_new();
	for (; i < argc; i++)
		if (check_one(cfg, ck, base, argv[i], verbose) < 0)
			rc = 1;
	event_base_free(base);
	checks_free(ck);
	cfg_free(cfg);
	return rc;
}
