/*
 * filterd/ctl_explain.c - `filterctl explain FILE [--json]`: why a message
 * got its verdict
 *
 * Scans FILE with every check, as filterctl check does, and prints:
 * every hit with its score, description, the rule's kind and target and
 * the text it matched (rerun on the parsed message by rules/tune_flags.c,
 * truncated), the hit's detail (DNS answers of DNSBL hits, SPF/DKIM
 * results); the Bayes probability with the 15 strongest tokens (read
 * from the store before the scan; body, Subject and URI-domain tokens are
 * named, the others shown as their hash); the Authentication-Results and
 * Received-SPF the scan produced; the final score, the levels and the
 * action with its reason. --json prints one JSON object instead.
 * --ip, --helo and --from give the envelope SPF needs (as XFORWARD ADDR,
 * HELO and MAIL FROM would); without them the checks see only the
 * message, as with filterctl check.
 * Exit 0, 1 when the file cannot be read or scanned, 2 on usage.
 */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bayes/bayes.h"
#include "filterd/action.h"
#include "filterd/cfg.h"
#include "filterd/checks.h"
#include "filterd/ctl.h"
#include "filterd/ctl_bayes.h"
#include "filterd/scan.h"
#include "mail/msg.h"
#include "rules/rules.h"
#include "rules/tune.h"
#include "util/hits.h"

#define NCLUES 15
#define MATCH_MAX 72

struct clue {
	uint64_t tok;
	double p;
	uint32_t spam, ham;
	char word[40];
};

struct bayes_expl {
	int rc;		 /* 0 result, 1 no result, <0 error, 2 not used */
	const char *why; /* when rc != 0 */
	double prob;
	uint64_t nspam, nham;
	size_t ntokens, nused, nclues;
	struct clue clues[NCLUES];
};

/* A token hash -> the word it came from, for the clue list. */
struct label {
	uint64_t tok;
	char word[40];
};

struct labels {
	struct label *v;
	size_t n, cap;
};

static void
label_push(struct labels *l, uint64_t tok, const char *prefix, struct bstr w)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 1024;
		struct label *nv = realloc(l->v, nc * sizeof(*nv));

		if (nv == NULL)
			return;
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n].tok = tok;
	snprintf(l->v[l->n].word, sizeof(l->v[l->n].word), "%s%.*s", prefix,
	    (int)(w.len > 30 ? 30 : w.len), (const char *)w.p);
	l->n++;
}

/* label_add - the tokens w gives (a word: its pieces all named w; a
 * domain: the host and each parent, as bayes_tok_domain adds them, each
 * named by itself) */
static void
label_add(struct labels *l, const uint8_t key[16], const char *prefix,
    struct bstr w, bool domain)
{
	struct bayes_tokset one;

	if (w.len == 0 || l->n >= 50000)
		return;
	if (domain) {
		for (size_t i = 0; i < w.len; i++) {
			struct bstr rest = bstr_sub(w, i, w.len - i);

			if (i > 0 && w.p[i - 1] != '.')
				continue;
			if (i > 0 && memchr(rest.p, '.', rest.len) == NULL)
				break;
			bayes_tokset_init(&one, key);
			bayes_tok_domain(&one, prefix, rest);
			if (one.n > 0)
				label_push(l, one.v[0], prefix, rest);
			bayes_tokset_free(&one);
		}
		return;
	}
	bayes_tokset_init(&one, key);
	bayes_tok_text(&one, prefix, w);
	for (size_t i = 0; i < one.n; i++)
		label_push(l, one.v[i], prefix, w);
	/* a body word with capitals also gives "C:" + the word as written
	 * (bayes_tok_body): the tokens that only the body form adds */
	if (prefix[0] == '\0') {
		struct bayes_tokset body;

		bayes_tokset_init(&body, key);
		bayes_tok_body(&body, w);
		for (size_t i = 0; i < body.n; i++) {
			bool plain = false;

			for (size_t k = 0; k < one.n && !plain; k++)
				plain = one.v[k] == body.v[i];
			if (!plain)
				label_push(l, body.v[i], "C:", w);
		}
		bayes_tokset_free(&body);
	}
	bayes_tokset_free(&one);
}

/* words of text, one label each */
static void
label_words(struct labels *l, const uint8_t key[16], const char *prefix,
    struct bstr text)
{
	size_t i = 0;

	while (i < text.len) {
		size_t s;

		while (i < text.len &&
		    (text.p[i] == ' ' || text.p[i] == '\n' ||
			text.p[i] == '\t' || text.p[i] == '\r'))
			i++;
		s = i;
		while (i < text.len && text.p[i] != ' ' && text.p[i] != '\n' &&
		    text.p[i] != '\t' && text.p[i] != '\r')
			i++;
		label_add(l, key, prefix, bstr_sub(text, s, i - s), false);
	}
}

static int
cmp_clue(const void *a, const void *b)
{
	const struct clue *x = a, *y = b;
	double dx = fabs(x->p - 0.5), dy = fabs(y->p - 0.5);

	if (dx != dy)
		return dx < dy ? 1 : -1;
	return x->tok < y->tok ? -1 : x->tok > y->tok;
}

/* bayes_explain - the store's view of the message, before the scan opens
 * its own handle */
static void
bayes_explain(const struct cfg *cfg, const unsigned char *raw, size_t len,
    struct bayes_expl *e)
{
	char spec[4096];
	struct bayes_store *st = NULL;
	struct bayes_vars v;
	struct bayes_tokset ts = { 0 };
	struct bayes_tokval *tv = NULL;
	struct bayes_result r;
	struct clue *all = NULL;
	struct labels lab = { 0 };
	struct msg *m = NULL;
	size_t n = 0;
	int rc;

	memset(e, 0, sizeof(*e));
	e->rc = 2;
	if (!cfg_bool(cfg, "use_bayes")) {
		e->why = "use_bayes = no";
		return;
	}
	e->rc = -EIO;
	if (ctl_bayes_spec(cfg, spec, sizeof(spec)) < 0) {
		e->why = "bad bayes store spec";
		return;
	}
	if ((rc = bayes_store_open(spec, false, &st)) < 0) {
		e->rc = rc;
		e->why = rc == -ENOENT ? "no Bayes store yet"
				       : "Bayes store cannot be opened";
		return;
	}
	if (bayes_store_vars(st, &v) < 0 || msg_parse(raw, len, NULL, &m) < 0) {
		e->why = "Bayes store or message unreadable";
		goto out;
	}
	bayes_tokset_init(&ts, v.hashkey);
	if (bayes_tokenize(m, &ts) < 0) {
		e->why = "tokenizer failed";
		goto out;
	}
	e->nspam = v.nspam;
	e->nham = v.nham;
	rc = bayes_classify_msg(st, m,
	    (uint64_t)cfg_int(cfg, "bayes_min_spam_num"),
	    (uint64_t)cfg_int(cfg, "bayes_min_ham_num"), &r);
	e->rc = rc;
	e->ntokens = ts.n;
	if (rc < 0) {
		e->why = "Bayes store read failed";
		goto out;
	}
	if (rc == 1)
		e->why = "not enough learned (bayes_min_spam_num/"
			 "bayes_min_ham_num) or no known token";
	e->prob = r.prob;
	e->nused = r.nused;
	/* the clues: every known token's own probability */
	tv = calloc(ts.n + 1, sizeof(*tv));
	all = calloc(ts.n + 1, sizeof(*all));
	if (tv == NULL || all == NULL ||
	    bayes_store_get(st, ts.v, ts.n, tv) < 0)
		goto out;
	for (size_t i = 0; i < ts.n; i++) {
		double p =
		    bayes_token_prob(tv[i].spam, tv[i].ham, v.nspam, v.nham);

		if (p < 0)
			continue;
		all[n].tok = ts.v[i];
		all[n].p = p;
		all[n].spam = tv[i].spam;
		all[n].ham = tv[i].ham;
		n++;
	}
	qsort(all, n, sizeof(*all), cmp_clue);
	e->nclues = n < NCLUES ? n : NCLUES;
	memcpy(e->clues, all, e->nclues * sizeof(*all));
	/* names for the clues that came from words we can redo */
	label_words(&lab, v.hashkey, "", msg_body_text(m));
	for (size_t i = 0; i < msg_header_count(m); i++) {
		const struct msg_header *h = msg_header_at(m, i);

		if (h->name.len == 7 &&
		    strncasecmp((const char *)h->name.p, "Subject", 7) == 0)
			label_words(&lab, v.hashkey, "S:", h->decoded);
	}
	size_t nu;
	const struct msg_uri *u = msg_uris(m, &nu);

	for (size_t i = 0; i < nu; i++)
		label_add(&lab, v.hashkey, "UD:", u[i].host, true);
	for (size_t c = 0; c < e->nclues; c++) {
		snprintf(e->clues[c].word, sizeof(e->clues[c].word),
		    "#%016" PRIx64, e->clues[c].tok);
		for (size_t i = 0; i < lab.n; i++)
			if (lab.v[i].tok == e->clues[c].tok) {
				memcpy(e->clues[c].word, lab.v[i].word,
				    sizeof(e->clues[c].word));
				break;
			}
	}
out:
	free(lab.v);
	free(tv);
	free(all);
	bayes_tokset_free(&ts);
	msg_free(m);
	bayes_store_close(st);
}

/* JSON string (RFC 8259 section 7): quotes, backslash and controls
 * escaped; bytes >= 0x80 pass (the message model gives UTF-8) */
static void
jstr(FILE *f, const char *s)
{
	if (s == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void
on_done(struct scan *s, void *arg)
{
	(void)s;
	*(int *)arg = 1;
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

/* why - the action's reason in words */
static void
why(const struct cfg *cfg, double score, char *out, size_t outsz)
{
	double t2 = cfg_double(cfg, "tag2_level"),
	       k = cfg_double(cfg, "kill_level");
	const char *dest = cfg_str(cfg, "final_spam_destiny");

	if (score >= k)
		snprintf(out, outsz,
		    "score %.1f >= kill_level %.1f: "
		    "final_spam_destiny = %s",
		    score, k, dest);
	else if (score >= t2)
		snprintf(out, outsz,
		    "score %.1f >= tag2_level %.1f: spam, "
		    "tagged (X-Spam-Flag: YES, subject tag) and passed; "
		    "below kill_level %.1f",
		    score, t2, k);
	else
		snprintf(out, outsz,
		    "score %.1f < tag2_level %.1f: ham, "
		    "passed",
		    score, t2);
}

struct hitx {
	const struct hit *h;
	const char *desc, *what, *target, *where;
	char match[MATCH_MAX];
};

static void
print_text(const char *path, const struct cfg *cfg, double score,
    const char *act, const char *reason, struct hitx *hx, size_t n,
    const struct bayes_expl *be, struct scan *s)
{
	const char *authres = scan_note_get(s, "authres");
	const char *rspf = scan_note_get(s, "received-spf");
	const char *al = scan_note_get(s, "autolearn");

	printf("%s: score=%.1f/%.1f action=%s\n  why: %s\n", path, score,
	    cfg_double(cfg, "tag2_level"), act, reason);
	printf("\nhits (%zu):\n", n);
	for (size_t i = 0; i < n; i++) {
		const struct hit *h = hx[i].h;

		printf("  %6.2f %-26s %s\n", h->has_score ? h->score : 0.0,
		    h->name, hx[i].desc ? hx[i].desc : "");
		if (hx[i].what != NULL)
			printf("         rule: %s%s%s\n", hx[i].what,
			    hx[i].target ? " " : "",
			    hx[i].target ? hx[i].target : "");
		if (hx[i].match[0] != '\0')
			printf("         matched in %s: \"%s\"\n", hx[i].where,
			    hx[i].match);
		if (h->detail != NULL)
			printf("         detail: %s\n", h->detail);
		if (h->count > 1)
			printf("         fired %u times\n", h->count);
	}
	printf("\nbayes: ");
	if (be->rc == 0)
		printf("p=%.4f (%zu of %zu tokens known; %" PRIu64 " spam, "
		       "%" PRIu64 " ham learned)\n",
		    be->prob, be->nused, be->ntokens, be->nspam, be->nham);
	else
		printf("no result: %s\n", be->why ? be->why : "?");
	if (be->nclues > 0) {
		printf("  strongest tokens (p, spam/ham messages):\n");
		for (size_t i = 0; i < be->nclues; i++)
			printf("    %.3f %6u/%-6u %s\n", be->clues[i].p,
			    be->clues[i].spam, be->clues[i].ham,
			    be->clues[i].word);
	}
	printf("\nauthentication:\n");
	printf("  Authentication-Results: %s\n",
	    authres
		? authres
		: "(none: no envelope or the SPF/DKIM/DMARC checks are off)");
	if (rspf != NULL)
		printf("  Received-SPF: %s\n", rspf);
	if (al != NULL)
		printf("\nautolearn=%s\n", al);
}

static void
print_json(const char *path, const struct cfg *cfg, double score,
    const char *act, const char *reason, struct hitx *hx, size_t n,
    const struct bayes_expl *be, struct scan *s)
{
	printf("{\"file\":");
	jstr(stdout, path);
	printf(",\"score\":%.3f,\"tag2_level\":%.3f,\"kill_level\":%.3f,"
	       "\"action\":",
	    score, cfg_double(cfg, "tag2_level"),
	    cfg_double(cfg, "kill_level"));
	jstr(stdout, act);
	printf(",\"why\":");
	jstr(stdout, reason);
	printf(",\"hits\":[");
	for (size_t i = 0; i < n; i++) {
		const struct hit *h = hx[i].h;

		printf("%s{\"name\":", i ? "," : "");
		jstr(stdout, h->name);
		printf(",\"score\":%.3f,\"count\":%u,\"description\":",
		    h->has_score ? h->score : 0.0, h->count);
		jstr(stdout, hx[i].desc);
		printf(",\"kind\":");
		jstr(stdout, hx[i].what);
		printf(",\"target\":");
		jstr(stdout, hx[i].target);
		printf(",\"matched_in\":");
		jstr(stdout, hx[i].match[0] ? hx[i].where : NULL);
		printf(",\"matched\":");
		jstr(stdout, hx[i].match[0] ? hx[i].match : NULL);
		printf(",\"detail\":");
		jstr(stdout, h->detail);
		printf("}");
	}
	printf("],\"bayes\":{");
	if (be->rc == 0)
		printf("\"prob\":%.6f,", be->prob);
	else {
		printf("\"prob\":null,\"why\":");
		jstr(stdout, be->why);
		printf(",");
	}
	printf("\"tokens\":%zu,\"known\":%zu,\"nspam\":%" PRIu64
	       ",\"nham\":%" PRIu64 ",\"clues\":[",
	    be->ntokens, be->nused, be->nspam, be->nham);
	for (size_t i = 0; i < be->nclues; i++) {
		printf("%s{\"token\":", i ? "," : "");
		jstr(stdout, be->clues[i].word);
		printf(",\"p\":%.4f,\"spam\":%u,\"ham\":%u}", be->clues[i].p,
		    be->clues[i].spam, be->clues[i].ham);
	}
	printf("]},\"authentication_results\":");
	jstr(stdout, scan_note_get(s, "authres"));
	printf(",\"received_spf\":");
	jstr(stdout, scan_note_get(s, "received-spf"));
	printf(",\"autolearn\":");
	jstr(stdout, scan_note_get(s, "autolearn"));
	printf("}\n");
}

int
ctl_explain(int argc, char **argv)
{
	const char *path = NULL, *conf = NULL;
	struct envelope env = { 0 };
	bool json = false, have_env = false;
	struct cfg *cfg;
	struct checks *ck = NULL;
	struct event_base *base = NULL;
	struct scan *s = NULL;
	struct bayes_expl be;
	struct hitx *hx = NULL;
	unsigned char *raw = NULL;
	char err[512], reason[256];
	size_t len, n;
	int done = 0, rc = 1;

	if (ctl_help(argc, argv)) {
		printf("usage: filterctl explain [-c FILE] FILE [--json] "
		    "[--ip ADDR] [--helo NAME] [--from ADDR]\n"
		    "  every hit with what it matched, the Bayes clues, the "
		    "action and why;\n  --ip/--helo/--from give the SMTP "
		    "envelope the checks would have seen\n");
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "--ip") == 0 && i + 1 < argc)
			env.client_addr = argv[++i], have_env = true;
		else if (strcmp(argv[i], "--helo") == 0 && i + 1 < argc)
			env.helo = argv[++i], have_env = true;
		else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			env.mail_from = argv[++i], have_env = true;
		else if (path == NULL)
			path = argv[i];
		else
			path = NULL, i = argc;
	}
	if (path == NULL) {
		fprintf(stderr,
		    "usage: filterctl explain [-c FILE] FILE [--json] "
		    "[--ip ADDR] [--helo NAME] [--from ADDR]\n");
		return 2;
	}
	if ((cfg = ctl_load_cfg(conf)) == NULL)
		return 1;
	if ((raw = ctl_read_file(path, &len)) == NULL) {
		fprintf(stderr, "filterctl explain: %s: %s\n", path,
		    strerror(errno ? errno : ENOMEM));
		goto out;
	}
	/* explaining must not teach Bayes anything */
	if (cfg_set(cfg, "bayes_auto_learn", "no", err, sizeof(err)) < 0) {
		fprintf(stderr, "filterctl explain: %s\n", err);
		goto out;
	}
	bayes_explain(cfg, raw, len, &be);
	if ((ck = checks_init(cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "filterctl explain: %s\n", err);
		goto out;
	}
	base = event_base_new();
	s = scan_new(cfg, ck, base, raw, len, have_env ? &env : NULL);
	if (s == NULL || scan_run(s, on_done, &done) < 0) {
		fprintf(stderr, "filterctl explain: %s: scan failed\n", path);
		goto out;
	}
	while (!done)
		event_base_loop(base, EVLOOP_ONCE);

	const struct rule_set *rs = find_rules(ck);
	struct hits *h = scan_hits(s);
	double score = scan_score(s);

	hits_sort(h);
	n = hits_count(h);
	if ((hx = calloc(n + 1, sizeof(*hx))) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		bool def;

		hx[i].h = hits_at(h, i);
		if (rs == NULL)
			continue;
		hx[i].desc = rule_set_describe(rs, hx[i].h->name);
		tune_rule_info(
		    rs, hx[i].h->name, &def, &hx[i].what, &hx[i].target);
		if (tune_rule_match(rs, hx[i].h->name, scan_msg(s), hx[i].match,
			sizeof(hx[i].match), &hx[i].where) <= 0)
			hx[i].match[0] = '\0';
	}
	why(cfg, score, reason, sizeof(reason));
	if (json)
		print_json(path, cfg, score,
		    action_name(action_decide(cfg, score)), reason, hx, n, &be,
		    s);
	else
		print_text(path, cfg, score,
		    action_name(action_decide(cfg, score)), reason, hx, n, &be,
		    s);
	rc = 0;
out:
	free(hx);
	scan_free(s);
	if (base != NULL)
		event_base_free(base);
	checks_free(ck);
	free(raw);
	cfg_free(cfg);
	return rc;
}
