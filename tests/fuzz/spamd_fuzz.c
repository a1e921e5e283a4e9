/*
 * spamd_fuzz - the spamd request parser and zlib body reader
 * (filterd/spamd_proto.c) on arbitrary bytes, fed as the server feeds
 * them: growing prefixes until the head is complete, then the rest as a
 * (maybe compressed) body. Invariants: a complete head never claims more
 * bytes than it was given, every prefix of a complete head is -EAGAIN or
 * the same error class, inflate never writes past its cap.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filterd/spamd_proto.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spamd_req r, r2;
	const char *why;
	int rc = spamd_parse_head(data, size, &r, &why);
	struct buf out, reply;

	if (rc != 0 && rc != -EAGAIN && rc != -EPROTO && rc != -E2BIG)
		abort();
	if (why == NULL)
		abort();
	if (rc != 0)
		return 0;
	if (r.head_len == 0 || r.head_len > size)
		abort();
	if (r.version > 99 || r.cmd > SPAMD_TELL)
		abort();
	if (strnlen(r.user, sizeof(r.user)) == sizeof(r.user))
		abort();
	/* the head alone parses the same way */
	if (spamd_parse_head(data, r.head_len, &r2, &why) != 0 ||
	    r2.head_len != r.head_len || r2.cmd != r.cmd)
		abort();
	/* one byte short is never complete */
	rc = spamd_parse_head(data, r.head_len - 1, &r2, &why);
	if (rc == 0)
		abort();
	buf_init(&out, 1 << 20);
	if (r.compress) {
		size_t n = size - r.head_len;

		if (r.has_length && r.length < n)
			n = r.length;
		rc = spamd_inflate(data + r.head_len, n, 1 << 20, &out);
		if (out.len > (1 << 20))
			abort();
	}
	buf_free(&out);
	buf_init(&reply, 4096);
	if (spamd_reply_head(&reply, &r, size & 1, (double)size / 7.0, 5.0,
	    size) < 0 || reply.len < 19 ||
	    memcmp(reply.p, "SPAMD/1.", 8) != 0)
		abort();
	buf_free(&reply);
	return 0;
}
