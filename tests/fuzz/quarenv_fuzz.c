/*
 * quarenv_fuzz - libFuzzer target:
 *   the envelope block at the top of a quarantined file
 *   (filterd/quarantine.c quar_env_parse), read back by filterctl
 *   quarantine release / list / digest
 * make check replays tests/fuzz/quarenv/ with replay_main.c.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filterd/quarantine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct quar_env q;

	if (quar_env_parse(data, size, &q) == 0) {
		/* a parse names at least one recipient and points inside */
		if (q.nrcpts == 0 || q.rcpts == NULL || q.from == NULL ||
		    q.msg_off > size)
			abort();
		for (size_t i = 0; i < q.nrcpts; i++)
			if (q.rcpts[i] == NULL || strlen(q.rcpts[i]) > size)
				abort();
		quar_env_free(&q);
	}
	return 0;
}
