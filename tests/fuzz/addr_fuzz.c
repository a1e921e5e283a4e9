/*
 * addr_fuzz - libFuzzer target:
 *   RFC 5322 address lists (groups, comments, obsolete syntax)
 * make check replays tests/fuzz/addr/ and corpus/regress/addr/ with
 * replay_main.c; make fuzz runs it under libFuzzer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mail_int.h"
#include "mail/msg.h"
#include "util/arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(0);
	struct msg_addr *v;
	size_t n;

	if (a == NULL)
		return 0;
	if (msg_addr_parse(a, bstr_make(data, size), &v, &n) == 0)
		for (size_t i = 0; i < n; i++)
			if (v[i].addr.len > size || v[i].local.len > size)
				abort();
	arena_free(a);
	return 0;
}
