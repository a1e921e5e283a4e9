/*
 * mime_fuzz - libFuzzer target:
 *   the MIME tree, transfer decoding, charsets and the text views, and
 *   SpamAssassin's own MIME tree (msg_sa_parts)
 * make check replays tests/fuzz/mime/ and corpus/regress/mime/ with
 * replay_main.c; make fuzz runs it under libFuzzer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/mail_int.h"
#include "mail/msg.h"
#include "util/arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_opts o = { .max_parts = 64, .max_depth = 6,
		.max_body_text = 65536 };
	struct msg *m;
	size_t n;

	if (msg_parse(data, size, &o, &m) < 0)
		return 0;
	if (msg_part_count(m) > 64)
		abort();
	for (size_t i = 0; i < msg_part_count(m); i++) {
		const struct msg_part *p = msg_part_at(m, i);

		if (p->depth > 6 || (i > 0 && (p->parent < 0 ||
		    (size_t)p->parent >= i)))
			abort();
		if (p->decoded.len > p->raw_body.len)
			abort();
		if (p->is_text && !msg__utf8_valid(p->text.p, p->text.len))
			abort();
	}
	struct bstr b = msg_body_text(m);

	if (!msg__utf8_valid(b.p, b.len))
		abort();
	const struct bstr *l = msg_body_lines(m, &n);

	for (size_t i = 0; i < n; i++)
		if (l[i].len > 2049) /* SA: cut after a space at 2048 */
			abort();
	msg_rawbody_lines(m, &n);
	/* SA's tree: parents first, lines of leaves only, those of
	 * multipart parts cut at 2048 (+ "\n") */
	const struct msg_sa_part *sp = msg_sa_parts(m, &n);

	for (size_t i = 0; i < n; i++) {
		if ((i == 0) != (sp[i].parent < 0) ||
		    (sp[i].parent >= 0 && (size_t)sp[i].parent >= i) ||
		    (sp[i].parent >= 0 && sp[sp[i].parent].leaf) ||
		    (!sp[i].leaf && sp[i].nlines))
			abort();
		/* SA cuts long lines only in _parse_multipart: a part of a
		 * multipart; a message's own body (the top, or a
		 * message/rfc822 part's decoded text) keeps them */
		if (sp[i].parent < 0 || (sp[sp[i].parent].type.len >= 8 &&
		    strncasecmp((const char *)sp[sp[i].parent].type.p,
			"message/", 8) == 0))
			continue;
		for (size_t k = 0; k < sp[i].nlines; k++)
			if ((size_t)sp[i].lines[k].len + sp[i].lines[k].nl >
			    2048 + (sp[i].lines[k].len == 2048))
				abort();
	}
	(void)msg_sa_flags(m);
	msg_free(m);
	return 0;
}
