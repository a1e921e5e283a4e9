/*
 * b64_fuzz - libFuzzer target: base64 decoding, tolerant of junk and padding
 * make check replays tests/fuzz/b64/ and corpus/regress/b64/ with
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
	unsigned char *out = malloc(size + 1);
	unsigned f = 0;
	size_t n;

	if (out == NULL)
		return 0;
	n = msg__b64_decode(data, size, out, &f);
	if (n > size * 3 / 4 + 1)
		abort();
	free(out);
	return 0;
}
