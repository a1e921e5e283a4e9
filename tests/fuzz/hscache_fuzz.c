/*
 * hscache_fuzz - the Hyperscan cache reader (rules/compile.c
 * rule__hs_cache_read, hsdb.c rule__hsdb_read) on arbitrary bytes after a
 * valid header: rule counts and indexes, database sizes, serialised
 * databases, header groups. The file is local state filterd wrote itself, but a disk
 * error or a foreign file must be refused, never trusted.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "rules/rules_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char rules_cf[] =
    "body  T_B1  /cheap (?:rolex|watch)es/i\n"
    "body  T_B2  /\\bfree\\s+money\\b/i\n"
    "body  __T_B3 /(?:^|\\s)[_\\W]{0,3}v[_\\W]{0,3}i[_\\W]{0,3}a[_\\W]{0,3}g/i\n"
    "uri   T_U1  /example\\.(?:com|net)\\/login/\n"
    "rawbody T_R1 /<font[^>]*color/i\n"
    "full  T_F1  /^Subject: .*loan/m\n"
    "meta  T_M1  T_B1 && __T_B3\n"
    "header T_H1 Subject =~ /\\bcheap\\b/i\n"
    "header T_H2 Subject =~ /^Re: /\n"
    "header T_H3 Subject !~ /[a-z]/\n"
    "header T_H4 Subject =~ /(?<!not )free/\n";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rule_set *rs;
	struct rule_err err;
	char head[128];
	unsigned char *buf;
	size_t hl;
	FILE *f;

	if (rs == NULL &&
	    (rs = rule_set_load_mem(rules_cf, sizeof(rules_cf) - 1, "f.cf",
		 &err)) == NULL)
		return 0;
	if (size > 4u << 20 || rs->hs_key[0] == '\0')
		return 0;
	/* the header a reader checks first: only the rest is fuzzed */
	hl = (size_t)snprintf(
	    head, sizeof(head), "%s%s\n", RULE__HS_CACHE_MAGIC, rs->hs_key);
	if ((buf = malloc(hl + size + 1)) == NULL)
		return 0;
	memcpy(buf, head, hl);
	if (size > 0)
		memcpy(buf + hl, data, size);
	if ((f = fmemopen(buf, hl + size, "rb")) != NULL) {
		(void)rule__hs_cache_read(rs, f, rs->hs_key);
		fclose(f);
	}
	free(buf);
	return 0;
}
