/*
 * mail/decode.c - base64 and quoted-printable, tolerant of broken input
 *
 * Both decoders write into a caller-supplied buffer at least as large as
 * the input (decoded output is never longer) and return the output length.
 * They never fail: what cannot be decoded is skipped (base64) or kept
 * literally (quoted-printable), and MSG_ERR_B64 / MSG_ERR_QP is set.
 */
#include "mail/mail_int.h"

/* 0..63 for the alphabet, 64 for '=', 65 for whitespace, 66 otherwise */
static const unsigned char b64v[256] = {
#define X66 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66
	66, 66, 66, 66, 66, 66, 66, 66, 66, 65, 65, 66, 66, 65, 66, 66,
	X66,
	65, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 62, 66, 66, 66, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 66, 66, 66, 64, 66, 66,
	66, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 66, 66, 66, 66, 66,
	66, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 66, 66, 66, 66, 66,
	X66, X66, X66, X66, X66, X66, X66, X66
#undef X66
};

/* msg__b64_decode - RFC 2045 6.8: characters outside the alphabet are
 * ignored ("must be ignored"), decoding stops at padding. */
size_t
msg__b64_decode(const unsigned char *in, size_t len, unsigned char *out,
    unsigned *flags)
{
	size_t i = 0, o = 0;
	uint32_t acc = 0;
	int bits = 0;
	bool junk = false;

	/* Fast path: whole quads of alphabet characters. */
	while (i < len) {
		while (i + 4 <= len) {
			unsigned a = b64v[in[i]], b = b64v[in[i + 1]];
			unsigned c = b64v[in[i + 2]], d = b64v[in[i + 3]];

			if ((a | b | c | d) >= 64)
				break;
			out[o] = (unsigned char)(a << 2 | b >> 4);
			out[o + 1] = (unsigned char)(b << 4 | c >> 2);
			out[o + 2] = (unsigned char)(c << 6 | d);
			o += 3;
			i += 4;
		}
		if (i >= len)
			break;
		/* Slow path for one quad with whitespace, padding or junk. */
		unsigned v = b64v[in[i++]];

		if (v < 64) {
			acc = acc << 6 | v;
			if ((bits += 6) >= 8) {
				bits -= 8;
				out[o++] = (unsigned char)(acc >> bits);
			}
		} else if (v == 64) {
			/* Padding ends a group; anything after it starts a
			 * new stream (concatenated base64 seen in spam). */
			bits = 0;
			acc = 0;
		} else if (v == 66) {
			junk = true;
		}
		if (bits == 0) {
			/* realigned on a quad: let the fast path resume */
			continue;
		}
		/* Finish this quad byte by byte until aligned. */
		while (bits != 0 && i < len) {
			v = b64v[in[i++]];
			if (v < 64) {
				acc = acc << 6 | v;
				if ((bits += 6) >= 8) {
					bits -= 8;
					out[o++] = (unsigned char)(acc >> bits);
				}
			} else if (v == 64) {
				bits = 0;
				acc = 0;
			} else if (v == 66) {
				junk = true;
			}
		}
	}
	if (junk || bits >= 6)
		*flags |= MSG_ERR_B64;
	return o;
}

static inline int
hexv(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* msg__qp_decode - RFC 2045 6.7 (header: RFC 2047 4.2, '_' is space).
 * "=XX" in either case decodes; "=" before optional trailing whitespace
 * and a line end is a soft break; any other "=" is kept as it is. */
size_t
msg__qp_decode(const unsigned char *in, size_t len, unsigned char *out,
    unsigned *flags, bool header)
{
	size_t i = 0, o = 0;

	while (i < len) {
		const unsigned char *eq = memchr(in + i, '=', len - i);
		size_t run = eq ? (size_t)(eq - (in + i)) : len - i;

		if (header) {
			for (size_t k = 0; k < run; k++)
				out[o + k] = in[i + k] == '_' ? ' ' : in[i + k];
		} else {
			memcpy(out + o, in + i, run);
		}
		o += run;
		i += run;
		if (i >= len)
			break;
		/* at '=' */
		int h1 = i + 1 < len ? hexv(in[i + 1]) : -1;
		int h2 = i + 2 < len ? hexv(in[i + 2]) : -1;

		if (h1 >= 0 && h2 >= 0) {
			out[o++] = (unsigned char)(h1 << 4 | h2);
			i += 3;
			continue;
		}
		size_t j = i + 1;

		while (j < len && (in[j] == ' ' || in[j] == '\t'))
			j++;
		if (j < len && in[j] == '\r' && j + 1 < len &&
		    in[j + 1] == '\n') {
			i = j + 2;
			continue;
		}
		if (j < len && in[j] == '\n') {
			i = j + 1;
			continue;
		}
		if (j >= len) { /* "=" at the very end: soft break */
			i = j;
			continue;
		}
		*flags |= MSG_ERR_QP;
		out[o++] = '=';
		i++;
	}
	/* RFC 2045 6.7 rule 3: trailing whitespace on a line is not data;
	 * left as is (SA keeps it too). */
	return o;
}
