/*
 * rulefile_fuzz - the SpamAssassin rule-file parser and compiler on
 * arbitrary bytes: directives, conditionals, regexes (PCRE2 translation,
 * replace_tag, literal extraction, splitting), meta expressions.
 */
#include <stddef.h>
#include <stdint.h>

#include "rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rule_err err;
	struct rule_set *rs;

	if (size > 64 * 1024)
		return 0;
	rs = rule_set_load_mem((const char *)data, size, "fuzz.cf", &err);
	if (rs != NULL) {
		for (size_t i = 0; i < rule_set_diag_count(rs); i++)
			(void)rule_set_diag_at(rs, i);
		(void)rule_set_runnable(rs, "A");
	}
	rule_set_free(rs);
	return 0;
}
