/*
 * qp_fuzz - libFuzzer target:
 *   quoted-printable decoding, body and header (RFC 2047 Q) modes
 * make check replays tests/fuzz/qp/ and corpus/regress/qp/ with
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

	if (out == NULL)
		return 0;
	if (msg__qp_decode(data, size, out, &f, false) > size ||
	    msg__qp_decode(data, size, out, &f, true) > size)
		abort();
	free(out);
	return 0;
}
