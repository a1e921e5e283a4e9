/*
 * filterd/ctl_bayes - filterctl bayes: look after the Bayes store
 *
 *   filterctl bayes [-c FILE] [--store SPEC] stats
 *   ... dump                      token hash, spam, ham, atime, f(w)
 *   ... expire [--max-tokens N] [--max-age SECONDS]
 *   ... backup [FILE|-]           portable text (bayes/store.c format)
 *   ... restore FILE|-            replaces the store's content
 *   ... classify PATH...          "prob<TAB>name" per message ("none" when
 *                                 Bayes has no result), for make eval
 * stats walks every token (oldest/newest atime) in one snapshot, so it is
 * also the consistency check after a crash: totals are read in the same
 * snapshot as the tokens. Exit: 0, 1 on errors, 2 on usage.
 */
#include "filterd/ctl_bayes.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bayes/bayes.h"
#include "filterd/cfg.h"
#include "filterd/ctl.h"
#include "mail/msg.h"

struct tstats {
	uint64_t n, spam_only, ham_only, hapax;
	uint32_t oldest, newest;
};

static int
stat_tok(void *arg, const struct bayes_tokval *t)
{
	struct tstats *s = arg;

	s->n++;
	s->spam_only += t->ham == 0;
	s->ham_only += t->spam == 0;
	s->hapax += t->spam + t->ham == 1;
	if (s->oldest == 0 || t->atime < s->oldest)
		s->oldest = t->atime;
	if (t->atime > s->newest)
		s->newest = t->atime;
	return 0;
}

static int
cmd_stats(struct bayes_store *st, const char *spec)
{
	struct bayes_vars v;
	struct tstats s = { 0 };
	int rc;

	if ((rc = bayes_store_vars(st, &v)) < 0 ||
	    (rc = bayes_store_foreach_token(st, stat_tok, &s)) < 0)
		return rc;
	char shown[1024];

	bayes_store_redact(spec, shown, sizeof(shown));
	printf("store\t%s (%s)\n", shown, bayes_store_kind(st));
	uint64_t cb;
	if (bayes_store_buffer_cache(st, &cb) == 0)
		printf("buffer_cache\t%" PRIu64 " MB\n", cb >> 20);
	printf("nspam\t%" PRIu64 "\nnham\t%" PRIu64 "\n", v.nspam, v.nham);
	printf("ntokens\t%" PRIu64 "\n", v.ntokens);
	printf("tokens_counted\t%" PRIu64 "\n", s.n);
	printf("spam_only\t%" PRIu64 "\nham_only\t%" PRIu64
	       "\nhapaxes\t%" PRIu64 "\n",
	    s.spam_only, s.ham_only, s.hapax);
	printf("oldest_atime\t%" PRIu32 "\nnewest_atime\t%" PRIu32 "\n",
	    s.oldest, s.newest);
	printf("last_expire\t%" PRIu64 "\n", v.last_expire);
	/* the totals kept by learning must match the tokens present */
	printf("consistent\t%s\n", s.n == v.ntokens ? "yes" : "NO");
	return s.n == v.ntokens ? 0 : -EUCLEAN;
}

struct dump {
	uint64_t ns, nh;
};

static int
dump_tok(void *arg, const struct bayes_tokval *t)
{
	struct dump *d = arg;
	double p = bayes_token_prob(t->spam, t->ham, d->ns, d->nh);

	printf("%016" PRIx64 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%.3f\n",
	    t->tok, t->spam, t->ham, t->atime, p);
	return ferror(stdout) ? -EIO : 0;
}

struct classify {
	struct bayes_store *st;
	uint64_t min_spam, min_ham;
	int err;
};

static int
classify_one(void *arg, const char *name, const unsigned char *raw, size_t len)
{
	struct classify *c = arg;
	struct bayes_result r;
	struct msg *m = NULL;
	int rc;

	if (msg_parse(raw, len, NULL, &m) < 0) {
		printf("bad\t%s\n", name);
		return 0;
	}
	rc = bayes_classify_msg(c->st, m, c->min_spam, c->min_ham, &r);
	msg_free(m);
	if (rc < 0)
		return rc;
	if (rc == 1)
		printf("none\t%s\n", name);
	else
		printf("%.6f\t%s\n", r.prob, name);
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: filterctl bayes [-c FILE] [--store SPEC] "
	    "stats|dump|backup [FILE]|restore FILE|\n"
	    "       expire [--max-tokens N] [--max-age SECONDS]|"
	    "classify PATH...\n");
}


int
ctl_bayes(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 'S' },
		{ "max-tokens", required_argument, NULL, 'T' },
		{ "max-age", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = NULL, *store = NULL, *sub;
	char spec[4096];
	struct cfg *c = NULL;
	struct bayes_store *st = NULL;
	long long max_tokens = -1, max_age = 0;
	bool rdwr, said = false, badusage = false;
	int ch, rc = 0;

	if (ctl_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	optind = 1;
	/* "+": options stop at the subcommand, which has its own */
	while ((ch = getopt_long(argc, argv, "+c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			store = optarg;
			break;
		case 'c':
			conf = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	sub = argv[optind];
	argc -= optind;
	argv += optind;
	if (strcmp(sub, "expire") == 0) {
		optind = 1;
		while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
			if (ch == 'T')
				max_tokens = strtoll(optarg, NULL, 10);
			else if (ch == 'A')
				max_age = strtoll(optarg, NULL, 10);
			else {
				usage(stderr);
				return 2;
			}
		}
	}
	if ((c = ctl_load_cfg(conf)) == NULL)
		return 1;
	if (store == NULL) {
		if (ctl_bayes_spec(c, spec, sizeof(spec)) < 0) {
			fprintf(stderr, "filterctl: bad bayes_store '%s'\n",
			    cfg_str(c, "bayes_store"));
			cfg_free(c);
			return 1;
		}
		store = spec;
	}
	rdwr = strcmp(sub, "expire") == 0 || strcmp(sub, "restore") == 0;
	if ((rc = bayes_store_open(store, rdwr, &st)) < 0) {
		char shown[1024];

		bayes_store_redact(store, shown, sizeof(shown));
		fprintf(stderr, "filterctl: cannot open bayes store %s: %s\n",
		    shown, strerror(-rc));
		cfg_free(c);
		return 1;
	}
	if (strcmp(sub, "stats") == 0) {
		rc = cmd_stats(st, store);
	} else if (strcmp(sub, "dump") == 0) {
		struct bayes_vars v;

		if ((rc = bayes_store_vars(st, &v)) == 0) {
			struct dump d = { v.nspam, v.nham };
			rc = bayes_store_foreach_token(st, dump_tok, &d);
		}
	} else if (strcmp(sub, "backup") == 0) {
		FILE *f = stdout;

		if (argc > 1 && strcmp(argv[1], "-") != 0 &&
		    (f = fopen(argv[1], "w")) == NULL) {
			rc = -errno;
		} else {
			rc = bayes_store_backup(st, f);
			if (f != stdout && fclose(f) != 0 && rc == 0)
				rc = -EIO;
		}
	} else if (strcmp(sub, "restore") == 0) {
		FILE *f = stdin;
		size_t line = 0;

		if (argc < 2) {
			usage(stderr);
			said = badusage = true;
			rc = -EINVAL;
		} else if (strcmp(argv[1], "-") != 0 &&
		    (f = fopen(argv[1], "r")) == NULL) {
			rc = -errno;
		} else {
			rc = bayes_store_restore(st, f, &line);
			if (rc == -EINVAL) {
				fprintf(stderr,
				    "filterctl: %s:%zu: not a "
				    "bayes backup line\n",
				    argv[1], line);
				said = true;
			}
			if (f != stdin)
				fclose(f);
		}
	} else if (strcmp(sub, "expire") == 0) {
		uint64_t removed = 0;

		if (max_tokens < 0)
			max_tokens = cfg_int(c, "bayes_expiry_max_db_size");
		rc = bayes_store_expire_auto(st, (uint64_t)max_tokens,
		    (uint32_t)max_age, (uint32_t)time(NULL), &removed);
		if (rc == 0)
			printf("expired %" PRIu64 " tokens\n", removed);
	} else if (strcmp(sub, "classify") == 0) {
		struct classify cl = { st,
			(uint64_t)cfg_int(c, "bayes_min_spam_num"),
			(uint64_t)cfg_int(c, "bayes_min_ham_num"), 0 };
		size_t bad = 0;

		for (int i = 1; i < argc && rc >= 0; i++)
			rc = ctl_foreach_msg(argv[i], classify_one, &cl, &bad);
	} else {
		usage(stderr);
		said = badusage = true;
		rc = -EINVAL;
	}
	/* every failure is said once (a store error such as a damaged page
	 * comes back as -EINVAL or -EIO and used to pass in silence) */
	if (rc < 0 && !said)
		fprintf(stderr, "filterctl: bayes %s: %s%s\n", sub,
		    rc == -EUCLEAN ? "token count does not match the totals"
				   : strerror(-rc),
		    rc == -EUCLEAN || rc == -EIO || rc == -EINVAL
			? " (a damaged store: `filterctl bayes backup` what "
			  "can still be read, or relearn into a new one)"
			: "");
	bayes_store_close(st);
	cfg_free(c);
	return badusage ? 2 : rc < 0 ? 1 : 0;
}
