/*
 * received_fuzz - libFuzzer target:
 *   Received header parsing and the trust split
 * make check replays tests/fuzz/received/ and corpus/regress/received/ with
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
	static const char pre[] = "Received: ";
	unsigned char *raw = malloc(sizeof(pre) + size + 8);
	struct msg *m;
	size_t n, nu;

	if (raw == NULL)
		return 0;
	memcpy(raw, pre, sizeof(pre) - 1);
	memcpy(raw + sizeof(pre) - 1, data, size);
	memcpy(raw + sizeof(pre) - 1 + size, "\n\nx\n", 4);
	if (msg_parse(raw, sizeof(pre) - 1 + size + 4, NULL, &m) == 0) {
		const struct msg_relay *r = msg_relays(m, &n);
		bool untrusted = false;

		msg_untrusted_relays(m, &nu);
		if (nu > n)
			abort();
		/* once untrusted, never trusted again */
		for (size_t i = 0; i < n; i++) {
			if (!r[i].parsed)
				continue;
			if (untrusted && r[i].trusted)
				abort();
			untrusted |= !r[i].trusted;
		}
		msg_free(m);
	}
	free(raw);
	return 0;
}
