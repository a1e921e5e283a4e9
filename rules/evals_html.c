/*
 * rules/evals_html - SpamAssassin's HTML, MIME and body evals computed
 * from the message model: HTMLEval.pm, MIMEEval.pm, BodyEval.pm
 */
#include "rules/rules_int.h"

const struct rule__evalfn rule__evals_html[] = {
	{ NULL, NULL, NULL },
};
