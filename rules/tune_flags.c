/*
 * rules/tune_flags.c - the rule attributes filterctl tune and explain need
 * (tflags, rule kind), read from the private rule set layout
 *
 * Kept apart from rules/tune.c (pure arithmetic). Read-only: the rule set
 * is shared. Strings returned point into the rule set or are static.
 */
#include <string.h>

#include "rules/rules_int.h"
#include "rules/tune.h"

unsigned
tune_rule_info(const struct rule_set *rs, const char *name, bool *defined,
    const char **what, const char **target)
{
	static const char *const kinds[RULE_NTYPES] = {
		[RULE_HEADER] = "header", [RULE_BODY] = "body",
		[RULE_RAWBODY] = "rawbody", [RULE_URI] = "uri",
		[RULE_FULL] = "full", [RULE_MIMEHEADER] = "mimeheader",
		[RULE_META] = "meta",
	};
	long k = rule__find(rs, name, strlen(name));
	const struct rule *r;
	unsigned f = 0;

	*defined = false;
	if (what != NULL)
		*what = NULL;
	if (target != NULL)
		*target = NULL;
	if (strncmp(name, "__", 2) == 0)
		f |= TUNE_TF_SUB;
	if (k < 0)
		return f;
	r = &rs->v[k];
	*defined = r->defined;
	if (r->tflags & TF_NICE)
		f |= TUNE_TF_NICE;
	if (r->tflags & TF_USERCONF)
		f |= TUNE_TF_USERCONF;
	if (r->tflags & TF_NET)
		f |= TUNE_TF_NET;
	if (r->tflags & TF_LEARN)
		f |= TUNE_TF_LEARN;
	if (r->type == RULE_META)
		f |= TUNE_TF_META;
	if (what != NULL && r->defined && (unsigned)r->type < RULE_NTYPES)
		*what = r->evname != NULL ? "eval" : kinds[r->type];
	if (target != NULL && r->defined) {
		if (r->evname != NULL)
			*target = r->evname;
		else if (r->type == RULE_HEADER && r->hdr != NULL)
			*target = r->hdr;
		else if (r->type == RULE_META)
			*target = r->meta_src;
		else if (r->re_src != NULL)
			*target = r->re_src;
	}
	return f;
}
