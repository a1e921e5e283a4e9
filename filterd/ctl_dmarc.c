/*
 * filterd/ctl_dmarc.c - filterctl dmarc-report: summarise DMARC aggregate
 * reports (plugins/dmarc_report.h) per source IP
 *
 * Every file is read (XML, .gz, .zip); the rows of all reports are merged
 * by (policy domain, source IP): messages, DMARC pass/fail (a pass needs an
 * aligned SPF or DKIM pass, RFC 7489 4.2, as the reporter evaluated it in
 * policy_evaluated), the raw SPF/DKIM results with their domains, and the
 * dispositions applied. Sources with messages that failed DMARC are the
 * ones a move to p=reject would bounce: they are listed with a hint.
 * Exit status: 0 read everything, 1 a file could not be read, 2 usage.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filterd/ctl.h"
#include "plugins/dmarc_report.h"

#define MAX_DOMS 4 /* raw auth domains remembered per source */

struct tally {
	char name[32];
	unsigned long n;
};

struct src {
	char domain[256], ip[64];
	unsigned long msgs, pass, fail, spf_al, dkim_al;
	struct tally disp[4], spf[8], dkim[8];
	char spf_dom[MAX_DOMS][256], dkim_dom[MAX_DOMS][256];
	bool spf_dom_pass[MAX_DOMS], dkim_dom_pass[MAX_DOMS];
	unsigned nspf_dom, ndkim_dom;
	char from[256];
};

static void
tally(struct tally *t, size_t nt, const char *name, unsigned long n)
{
	if (name[0] == '\0')
		name = "none";
	for (size_t i = 0; i < nt; i++) {
		if (t[i].name[0] == '\0')
			snprintf(t[i].name, sizeof(t[i].name), "%s", name);
		if (strcmp(t[i].name, name) == 0) {
			t[i].n += n;
			return;
		}
	}
	t[nt - 1].n += n; /* overflow bucket: the last one */
}

static void
remember(char (*doms)[256], bool *pass, unsigned *n, const char *d, bool ok)
{
	if (d[0] == '\0')
		return;
	for (unsigned i = 0; i < *n; i++)
		if (strcmp(doms[i], d) == 0) {
			pass[i] = pass[i] || ok;
			return;
		}
	if (*n < MAX_DOMS) {
		snprintf(doms[*n], 256, "%s", d);
		pass[(*n)++] = ok;
	}
}

/* aligned - relaxed: same organizational domain, approximated here as
 * one being the other or a subdomain of it (exact PSL logic lives in the
 * verifier; the hint only needs "is it ours") */
static bool
related(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la == lb)
		return strcmp(a, b) == 0;
	if (la > lb)
		return a[la - lb - 1] == '.' && strcmp(a + la - lb, b) == 0;
	return b[lb - la - 1] == '.' && strcmp(b + lb - la, a) == 0;
}

static void
json_str(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			putc(c, f);
	}
	putc('"', f);
}

static void
json_tally(FILE *f, const char *key, const struct tally *t, size_t nt)
{
	bool first = true;

	fprintf(f, "\"%s\":{", key);
	for (size_t i = 0; i < nt && t[i].name[0]; i++) {
		fprintf(f, "%s", first ? "" : ",");
		json_str(f, t[i].name);
		fprintf(f, ":%lu", t[i].n);
		first = false;
	}
	putc('}', f);
}

static void
text_tally(FILE *f, const struct tally *t, size_t nt)
{
	for (size_t i = 0; i < nt && t[i].name[0]; i++)
		fprintf(f, "%s%s %lu", i ? ", " : "", t[i].name, t[i].n);
}

static void
day(time_t t, char *out, size_t n)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M", &tm);
}

/* hint - one line: why this source fails DMARC and what to do */
static const char *
hint(const struct src *s, char *out, size_t n)
{
	bool spf_raw = false, dkim_raw = false;
	const char *third = NULL;

	for (unsigned i = 0; i < s->nspf_dom; i++)
		if (s->spf_dom_pass[i]) {
			spf_raw = true;
			if (!related(s->spf_dom[i], s->domain))
				third = s->spf_dom[i];
		}
	for (unsigned i = 0; i < s->ndkim_dom; i++)
		if (s->dkim_dom_pass[i]) {
			dkim_raw = true;
			if (!related(s->dkim_dom[i], s->domain))
				third = s->dkim_dom[i];
		}
	if (s->pass && s->fail)
		snprintf(out, n,
		    "passes sometimes: probably forwarded or a "
		    "mailing list; DKIM-sign everything so forwards survive");
	else if (third)
		snprintf(out, n,
		    "authenticated as %s, not aligned with %s: "
		    "have that service sign with d=%s (or use a custom "
		    "return-path under %s)",
		    third, s->domain, s->domain, s->domain);
	else if (spf_raw || dkim_raw)
		snprintf(out, n,
		    "passes SPF/DKIM but not in alignment mode: "
		    "check adkim/aspf or the signing domain");
	else
		snprintf(out, n,
		    "no SPF or DKIM pass at all: a sender you do "
		    "not know (spoofing), or one to add to SPF and sign for");
	return out;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: filterctl dmarc-report [--json] [--fail-only] FILE...\n\n"
	    "Summarise DMARC aggregate reports (RFC 7489 7.2) per source IP:\n"
	    "messages, DMARC result (an aligned SPF or DKIM pass), raw SPF and\n"
	    "DKIM results with their domains, dispositions applied. Sources\n"
	    "whose mail fails DMARC are listed last: under p=reject their mail\n"
	    "would bounce. Read them before moving from p=none to quarantine\n"
	    "or reject.\n\n"
	    "FILE: the report as mailed (.xml, .xml.gz, .zip), or - for stdin.\n"
	    "  --json        one JSON object: reports, sources, totals\n"
	    "  --fail-only   list only the sources that fail DMARC\n");
}

int
ctl_dmarc_report(int argc, char **argv)
{
	bool json = false, fail_only = false;
	struct src *srcs = NULL;
	size_t nsrcs = 0, capsrcs = 0, nfiles = 0;
	struct dmarc_report **reps = NULL;
	const char **names = NULL;
	size_t nreps = 0;
	unsigned long total = 0, failing = 0;
	int st = 0;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--fail-only"))
			fail_only = true;
		else if (argv[i][0] == '-' && argv[i][1]) {
			usage(stderr);
			return 2;
		} else
			nfiles++;
	if (nfiles == 0) {
		usage(stderr);
		return 2;
	}
	reps = calloc(nfiles, sizeof(*reps));
	names = calloc(nfiles, sizeof(*names));
	if (reps == NULL || names == NULL) {
		st = 1;
		goto out;
	}
	for (int i = 1; i < argc; i++) {
		size_t len;
		unsigned char *d;
		char err[256];
		struct dmarc_report *rp;
		int rc;

		if (argv[i][0] == '-' && argv[i][1])
			continue;
		if ((d = ctl_read_file(argv[i], &len)) == NULL) {
			fprintf(stderr, "filterctl dmarc-report: %s: %s\n",
			    argv[i], strerror(errno));
			st = 1;
			continue;
		}
		rc = dmarc_report_parse(d, len, &rp, err, sizeof(err));
		free(d);
		if (rc < 0) {
			fprintf(stderr, "filterctl dmarc-report: %s: %s\n",
			    argv[i], err[0] ? err : strerror(-rc));
			st = 1;
			continue;
		}
		names[nreps] = argv[i];
		reps[nreps++] = rp;
		for (size_t r = 0; r < rp->nrows; r++) {
			const struct dmarc_report_row *w = &rp->rows[r];
			struct src *s = NULL;
			bool pass =
			    !strcmp(w->dkim, "pass") || !strcmp(w->spf, "pass");

			for (size_t k = 0; k < nsrcs; k++)
				if (!strcmp(srcs[k].ip, w->source_ip) &&
				    !strcmp(srcs[k].domain, rp->domain)) {
					s = &srcs[k];
					break;
				}
			if (s == NULL) {
				if (nsrcs == capsrcs) {
					size_t nc = capsrcs ? 2 * capsrcs : 16;
					struct src *ns =
					    realloc(srcs, nc * sizeof(*ns));
					if (ns == NULL) {
						st = 1;
						goto out;
					}
					srcs = ns;
					capsrcs = nc;
				}
				s = &srcs[nsrcs++];
				memset(s, 0, sizeof(*s));
				snprintf(
				    s->ip, sizeof(s->ip), "%s", w->source_ip);
				snprintf(s->domain, sizeof(s->domain), "%s",
				    rp->domain);
				snprintf(s->from, sizeof(s->from), "%s",
				    w->header_from);
			}
			s->msgs += w->count;
			total += w->count;
			if (pass)
				s->pass += w->count;
			else {
				s->fail += w->count;
				failing += w->count;
			}
			if (!strcmp(w->spf, "pass"))
				s->spf_al += w->count;
			if (!strcmp(w->dkim, "pass"))
				s->dkim_al += w->count;
			tally(s->disp, 4, w->disposition, w->count);
			for (unsigned k = 0; k < w->nspf; k++) {
				tally(
				    s->spf, 8, w->spf_auth[k].result, w->count);
				remember(s->spf_dom, s->spf_dom_pass,
				    &s->nspf_dom, w->spf_auth[k].domain,
				    !strcmp(w->spf_auth[k].result, "pass"));
			}
			if (w->nspf == 0)
				tally(s->spf, 8, "none", w->count);
			for (unsigned k = 0; k < w->ndkim; k++) {
				tally(s->dkim, 8, w->dkim_auth[k].result,
				    w->count);
				remember(s->dkim_dom, s->dkim_dom_pass,
				    &s->ndkim_dom, w->dkim_auth[k].domain,
				    !strcmp(w->dkim_auth[k].result, "pass"));
			}
			if (w->ndkim == 0)
				tally(s->dkim, 8, "none", w->count);
		}
	}
	/* Most messages first: the senders that matter. */
	for (size_t a = 1; a < nsrcs; a++)
		for (size_t b = a; b > 0 && srcs[b].msgs > srcs[b - 1].msgs;
		     b--) {
			struct src t = srcs[b];
			srcs[b] = srcs[b - 1];
			srcs[b - 1] = t;
		}
	if (json) {
		printf("{\"reports\":[");
		for (size_t r = 0; r < nreps; r++) {
			const struct dmarc_report *rp = reps[r];
			printf("%s{\"file\":", r ? "," : "");
			json_str(stdout, names[r]);
			printf(",\"org_name\":");
			json_str(stdout, rp->org_name);
			printf(",\"report_id\":");
			json_str(stdout, rp->report_id);
			printf(",\"domain\":");
			json_str(stdout, rp->domain);
			printf(",\"p\":");
			json_str(stdout, rp->p);
			printf(",\"sp\":");
			json_str(stdout, rp->sp);
			printf(",\"pct\":%u,\"adkim\":\"%c\",\"aspf\":\"%c\","
			       "\"begin\":%lld,\"end\":%lld,\"records\":%zu}",
			    rp->pct, rp->adkim, rp->aspf, (long long)rp->begin,
			    (long long)rp->end, rp->nrows);
		}
		printf("],\"sources\":[");
		bool first = true;
		for (size_t k = 0; k < nsrcs; k++) {
			const struct src *s = &srcs[k];
			char h[2048];
			if (fail_only && s->fail == 0)
				continue;
			printf("%s{\"source_ip\":", first ? "" : ",");
			first = false;
			json_str(stdout, s->ip);
			printf(",\"domain\":");
			json_str(stdout, s->domain);
			printf(",\"header_from\":");
			json_str(stdout, s->from);
			printf(",\"messages\":%lu,\"dmarc_pass\":%lu,"
			       "\"dmarc_fail\":%lu,\"spf_aligned_pass\":%lu,"
			       "\"dkim_aligned_pass\":%lu,",
			    s->msgs, s->pass, s->fail, s->spf_al, s->dkim_al);
			json_tally(stdout, "spf", s->spf, 8);
			putchar(',');
			json_tally(stdout, "dkim", s->dkim, 8);
			putchar(',');
			json_tally(stdout, "disposition", s->disp, 4);
			printf(",\"spf_domains\":[");
			for (unsigned i = 0; i < s->nspf_dom; i++) {
				printf("%s", i ? "," : "");
				json_str(stdout, s->spf_dom[i]);
			}
			printf("],\"dkim_domains\":[");
			for (unsigned i = 0; i < s->ndkim_dom; i++) {
				printf("%s", i ? "," : "");
				json_str(stdout, s->dkim_dom[i]);
			}
			printf("],\"fails_under_reject\":%s",
			    s->fail ? "true" : "false");
			if (s->fail) {
				printf(",\"hint\":");
				json_str(stdout, hint(s, h, sizeof(h)));
			}
			putchar('}');
		}
		printf(
		    "],\"messages\":%lu,\"dmarc_fail\":%lu}\n", total, failing);
		goto out;
	}
	for (size_t r = 0; r < nreps; r++) {
		const struct dmarc_report *rp = reps[r];
		char b[32], e[32];
		unsigned long m = 0;
		for (size_t k = 0; k < rp->nrows; k++)
			m += rp->rows[k].count;
		day(rp->begin, b, sizeof(b));
		day(rp->end, e, sizeof(e));
		printf("report %s from %s (id %s): %s p=%s%s%s pct=%u "
		       "adkim=%c aspf=%c, %s .. %s UTC, %zu records, %lu "
		       "messages\n",
		    names[r], rp->org_name, rp->report_id, rp->domain,
		    rp->p[0] ? rp->p : "?", rp->sp[0] ? " sp=" : "", rp->sp,
		    rp->pct, rp->adkim, rp->aspf, b, e, rp->nrows, m);
	}
	printf("\n%-39s %8s %8s %8s %8s  %s\n", "source IP", "messages",
	    "dmarc ok", "spf al.", "dkim al.", "details");
	for (size_t k = 0; k < nsrcs; k++) {
		const struct src *s = &srcs[k];
		if (fail_only && s->fail == 0)
			continue;
		printf("%-39s %8lu %8lu %8lu %8lu  %s%s\n", s->ip, s->msgs,
		    s->pass, s->spf_al, s->dkim_al, s->domain,
		    s->fail ? "  FAILS DMARC" : "");
		printf("%-39s spf: ", "");
		text_tally(stdout, s->spf, 8);
		for (unsigned i = 0; i < s->nspf_dom; i++)
			printf("%s%s", i ? " " : " (", s->spf_dom[i]);
		printf("%s; dkim: ", s->nspf_dom ? ")" : "");
		text_tally(stdout, s->dkim, 8);
		for (unsigned i = 0; i < s->ndkim_dom; i++)
			printf("%s%s", i ? " " : " (", s->dkim_dom[i]);
		printf("%s; disposition: ", s->ndkim_dom ? ")" : "");
		text_tally(stdout, s->disp, 4);
		putchar('\n');
	}
	unsigned nfail = 0;
	for (size_t k = 0; k < nsrcs; k++)
		nfail += srcs[k].fail != 0;
	printf("\n%lu messages from %zu sources; %lu (%.1f%%) failed DMARC\n",
	    total, nsrcs, failing, total ? 100.0 * failing / total : 0.0);
	if (nfail) {
		printf("would fail under p=reject (%u sources):\n", nfail);
		for (size_t k = 0; k < nsrcs; k++) {
			char h[2048];
			if (srcs[k].fail == 0)
				continue;
			printf("  %s: %lu of %lu messages: %s\n", srcs[k].ip,
			    srcs[k].fail, srcs[k].msgs,
			    hint(&srcs[k], h, sizeof(h)));
		}
	} else if (nsrcs)
		printf("every source passes DMARC: p=reject would not "
		       "bounce any of this mail\n");
out:
	for (size_t r = 0; r < nreps; r++)
		dmarc_report_free(reps[r]);
	free(reps);
	free(names);
	free(srcs);
	return st;
}
