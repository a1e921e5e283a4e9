/*
 * dnsblcfg_fuzz - plugins/dnsbl.c list-rule lines (SA check_rbl evals,
 * urirhssub/uridnsbl, the dnsbl short form, subtests compiled to ranges,
 * masks and regexes): each input line is fed to one set, then the set is
 * finished and every subtest matched once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/dnsbl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dnsbl_set *s = dnsbl_set_new();
	char line[1100], err[256];
	size_t i = 0;

	if (s == NULL)
		return 0;
	while (i < size) {
		size_t n = 0;

		while (i < size && data[i] != '\n' && n < sizeof(line) - 1) {
			line[n++] = data[i] ? (char)data[i] : ' ';
			i++;
		}
		line[n] = '\0';
		i++;
		(void)dnsbl_set_line(s, line, err, sizeof(err));
		if (n > 0 && n < 200)
			(void)dnsbl_subtest_match(line, 0x7f000002);
	}
	(void)dnsbl_set_finish(s, NULL, err, sizeof(err));
	dnsbl_set_free(s);
	return 0;
}
