/*
 * hdr_fuzz - libFuzzer target:
 *   the header section (fields, folding, RFC 2047, addresses)
 * make check replays tests/fuzz/hdr/ and corpus/regress/hdr/ with
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


/* Reads go to a global sink so the compiler keeps them. */
volatile unsigned hdr_sink;

/* Walk every view the header parser feeds, so a bad slice shows up. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_opts o = { .max_header_bytes = 4096 };
	struct msg *m;
	size_t n;

	if (msg_parse(data, size, &o, &m) < 0)
		return 0;
	for (size_t i = 0; i < msg_header_count(m); i++) {
		const struct msg_header *h = msg_header_at(m, i);

		if (h->name.len == 0 || h->offset >= size)
			abort();
		if (!msg__utf8_valid(h->decoded.p, h->decoded.len))
			abort();
		for (size_t k = 0; k < h->value.len; k++)
			hdr_sink += h->value.p[k];
	}
	static const char *const names[] = { "from", "to", "cc", "reply-to",
		"sender", "return-path" };
	for (size_t i = 0; i < 6; i++) {
		const struct msg_addr *a = msg_addrs(m, names[i], &n);

		for (size_t k = 0; k < n; k++)
			hdr_sink += a[k].addr.len + a[k].display.len;
	}
	if (msg_header_block(m).len + msg_raw_body(m).len > size)
		abort();
	msg_free(m);
	return 0;
}
