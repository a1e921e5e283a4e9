/*
 * rules/evals_hdr - SpamAssassin's header evals computed from the message
 * model: HeaderEval.pm, RelayEval.pm and the FreeMail plugin (the parts
 * that need no network)
 */
#include "rules/rules_int.h"

const struct rule__evalfn rule__evals_hdr[] = {
	{ NULL, NULL, NULL },
};
