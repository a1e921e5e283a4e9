/*
 * rfc2047_fuzz - libFuzzer target:
 *   RFC 2047 encoded-word decoding and charset conversion
 * make check replays tests/fuzz/rfc2047/ and corpus/regress/rfc2047/ with
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
	struct bstr d;

	if (a == NULL)
		return 0;
	d = msg_rfc2047_decode(a, bstr_make(data, size));
	if (!msg__utf8_valid(d.p, d.len))
		abort();
	arena_free(a);
	return 0;
}
