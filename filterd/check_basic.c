/*
 * filterd/check_basic.c - structural checks computed from the message model
 *
 * No state, no async work: run() looks at the parsed headers and body and
 * adds SpamAssassin-named hits with SpamAssassin's default scores (50_scores
 * .cf, set 0); a rule set that scores the same names later overrides them.
 */
#include <stdbool.h>
#include <stddef.h>

#include "filterd/checks.h"
#include "mail/msg.h"
#include "util/hits.h"

/* name, score, the header whose absence fires it */
static const struct {
	const char *name;
	double score;
	const char *header;
} missing[] = {
	{ "MISSING_DATE", 1.36, "Date" },
	{ "MISSING_MID", 0.14, "Message-ID" },
	{ "MISSING_FROM", 1.0, "From" },
	{ "MISSING_SUBJECT", 1.8, "Subject" },
};

static bool
body_empty(struct msg *m)
{
	struct bstr b = msg_raw_body(m);

	for (size_t i = 0; i < b.len; i++)
		if (b.p[i] != ' ' && b.p[i] != '\t' && b.p[i] != '\r' &&
		    b.p[i] != '\n')
			return false;
	return true;
}

static void
basic_run(struct scan *s, void *state)
{
	struct msg *m = scan_msg(s);
	struct hits *h = scan_hits(s);

	(void)state;
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
		if (msg_header_get(m, missing[i].header, 0) == NULL)
			hits_add_score(h, missing[i].name, missing[i].score,
			    NULL);
	if (msg_header_count(m) == 0)
		hits_add_score(h, "MISSING_HEADERS", 1.0, NULL);
	if (body_empty(m))
		hits_add_score(h, "EMPTY_MESSAGE", 2.3, NULL);
	if (msg_header_count_named(m, "From") > 1)
		hits_add_score(h, "DUP_FROM", 1.0, NULL);
	if (msg_flags(m) & MSG_ERR_NO_BODY_SEP)
		hits_add_score(h, "MISSING_HB_SEP", 2.5, NULL);
}

const struct check check_basic = {
	.name = "basic",
	.run = basic_run,
};
