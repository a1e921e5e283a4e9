/*
 * meta_fuzz - the meta expression parser and evaluator on arbitrary bytes
 * (NUL-terminated copy); every name evaluates to its length mod 3.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double
val(void *arg, const char *name, size_t len)
{
	(void)arg;
	(void)name;
	return (double)(len % 3);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	double v;

	if (size > 16 * 1024 || (s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)rule_meta_eval_str(s, val, NULL, &v);
	free(s);
	return 0;
}
