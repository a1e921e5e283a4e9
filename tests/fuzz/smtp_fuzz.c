/*
 * smtp_fuzz - the SMTP command, reply, xtext and data-line parsers
 * (filterd/smtp_parse.c) on arbitrary bytes. The input is split at LF as
 * the server splits it; each line goes through every parser, and the
 * results are checked for the invariants the server relies on.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filterd/smtp_parse.h"

static void
check_slice(struct bstr s, const uint8_t *line, size_t len)
{
	if (s.len && (s.p < line || s.p + s.len > line + len))
		abort();
}

static void
one_line(const uint8_t *line, size_t len, bool crlf, bool *prev_crlf)
{
	struct smtp_cmd c;
	char out[300], enc[1000];
	int code;
	bool last;
	struct bstr t;
	size_t skip;

	if (smtp_parse_cmd(line, len, &c) == 0) {
		check_slice(c.arg, line, len);
		check_slice(c.path, line, len);
		check_slice(c.ret, line, len);
		check_slice(c.envid, line, len);
		check_slice(c.notify, line, len);
		check_slice(c.orcpt, line, len);
		if (c.nxattrs > SMTP_MAX_XATTRS)
			abort();
		for (size_t i = 0; i < c.nxattrs; i++) {
			check_slice(c.xattrs[i].name, line, len);
			check_slice(c.xattrs[i].value, line, len);
			/* decode then encode then decode is stable */
			if (smtp_xtext_decode(c.xattrs[i].value, out,
			    sizeof(out)) == 0 &&
			    smtp_xtext_encode(out, enc, sizeof(enc)) == 0) {
				char again[300];

				if (smtp_xtext_decode(bstr_cstr(enc), again,
				    sizeof(again)) != 0 || strcmp(out, again))
					abort();
			}
		}
	}
	if (smtp_parse_reply(line, len, &code, &last, &t) == 0) {
		if (code < 200 || code > 599)
			abort();
		check_slice(t, line, len);
	}
	if (smtp_data_line(line, len, crlf, *prev_crlf, &skip) == 1 &&
	    (len != 1 || !crlf))
		abort(); /* only "." + CRLF may end the data */
	if (skip > len)
		abort();
	*prev_crlf = crlf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t i = 0;
	bool prev = true;

	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t end = nl ? (size_t)(nl - data) : size;
		size_t len = end - i;
		bool crlf = len && data[end - 1] == '\r';
		/* A private copy so ASan sees reads past the line. */
		uint8_t *line = malloc(len ? len : 1);

		if (line == NULL)
			return 0;
		memcpy(line, data + i, len);
		one_line(line, crlf ? len - 1 : len, crlf, &prev);
		free(line);
		i = end + 1;
	}
	return 0;
}
