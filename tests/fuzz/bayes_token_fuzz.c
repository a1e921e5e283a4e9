/*
 * bayes_token_fuzz - the Bayes tokenizer over arbitrary bytes: the first
 * byte picks the prefix (bits 0-1) and bayes_tok_body() instead of
 * bayes_tok_text() (bit 2), the rest is the text and a host for
 * bayes_tok_domain(); the set must come out sorted and unique.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "bayes/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const pre[] = { "", "S:", "Hfrom:", "UD:" };
	struct bayes_tokset ts;

	if (size == 0)
		return 0;
	bayes_tokset_init(&ts, NULL);
	if (data[0] & 4)
		bayes_tok_body(&ts, bstr_make(data + 1, size - 1));
	else
		bayes_tok_text(
		    &ts, pre[data[0] & 3], bstr_make(data + 1, size - 1));
	bayes_tok_domain(&ts, "D*", bstr_make(data + 1, size - 1));
	bayes_tokset_finish(&ts);
	for (size_t i = 1; i < ts.n; i++)
		if (ts.v[i - 1] >= ts.v[i])
			abort();
	bayes_tokset_free(&ts);
	return 0;
}
