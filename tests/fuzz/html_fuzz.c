/*
 * html_fuzz - libFuzzer target:
 *   the HTML tokenizer, renderer and URI extraction
 * make check replays tests/fuzz/html/ and corpus/regress/html/ with
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
	static const char hdr[] =
	    "Content-Type: text/html; charset=utf-8\n\n";
	unsigned char *raw = malloc(sizeof(hdr) + size);
	struct msg *m;
	size_t n;

	if (raw == NULL)
		return 0;
	memcpy(raw, hdr, sizeof(hdr) - 1);
	memcpy(raw + sizeof(hdr) - 1, data, size);
	if (msg_parse(raw, sizeof(hdr) - 1 + size, NULL, &m) == 0) {
		const struct msg_part *p = msg_part_at(m, 0);

		if (p->rendered.len > p->text.len + 16)
			abort();
		if (!msg__utf8_valid(p->rendered.p, p->rendered.len))
			abort();
		const struct msg_uri *u = msg_uris(m, &n);

		for (size_t i = 0; i < n; i++)
			if (u[i].uri.len == 0)
				abort();
		msg_free(m);
	}
	free(raw);
	return 0;
}
