/*
 * filterd/smtp_parse.h - SMTP/LMTP command, reply and data-line parsing
 *
 * Pure functions over one line of bytes (the terminating CRLF or LF already
 * removed): no I/O, no allocation, no logging, so they are unit-tested by
 * table and fuzzed (tests/fuzz/smtp_fuzz.c). Slices point into the line.
 */
#ifndef FILTERD_SMTP_PARSE_H
#define FILTERD_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum smtp_verb {
	SMTP_UNKNOWN = 0,
	SMTP_HELO, SMTP_EHLO, SMTP_LHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA,
	SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_VRFY, SMTP_EXPN, SMTP_HELP,
	SMTP_XFORWARD, SMTP_STARTTLS, SMTP_AUTH, SMTP_BDAT,
};

enum smtp_body { SMTP_BODY_NONE = 0, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME };

#define SMTP_MAX_XATTRS 8

struct smtp_xattr {
	struct bstr name, value; /* value still xtext-encoded */
};

struct smtp_cmd {
	enum smtp_verb verb;
	struct bstr arg;         /* everything after the verb, trimmed */
	/* MAIL / RCPT */
	struct bstr path;        /* the address without <> or source route */
	bool has_size;
	uint64_t size;           /* MAIL SIZE= (RFC 1870) */
	enum smtp_body body;     /* MAIL BODY= (RFC 6152) */
	bool smtputf8;           /* MAIL SMTPUTF8 (RFC 6531) */
	/* DSN (RFC 3461) parameters as written ("RET=HDRS"), empty if
	 * absent: MAIL RET, ENVID; RCPT NOTIFY, ORCPT. */
	struct bstr ret, envid, notify, orcpt;
	/* XFORWARD */
	struct smtp_xattr xattrs[SMTP_MAX_XATTRS];
	size_t nxattrs;
};

/* Errors from smtp_parse_cmd, mapped by the server to replies. */
#define SMTP_EUNKNOWN  (-1) /* 500 5.5.1 unrecognized command */
#define SMTP_ESYNTAX   (-2) /* 501 5.5.4 / 5.1.7 syntax error in arguments */
#define SMTP_EPARAM    (-3) /* 555 5.5.4 unsupported MAIL/RCPT parameter */
#define SMTP_ENUL      (-4) /* 500 5.5.2 NUL or 8-bit junk in a command */

/* smtp_parse_cmd - parse one command line; 0 or an SMTP_E* code. */
int smtp_parse_cmd(const unsigned char *line, size_t len, struct smtp_cmd *);
const char *smtp_verb_name(enum smtp_verb);

/* smtp_xtext_decode - RFC 3461 section 4 xtext ("+HH") into out,
 * NUL-terminated; 0, or -EINVAL on bad encoding / a NUL or control byte,
 * -ENOSPC if out is too small. */
int smtp_xtext_decode(struct bstr in, char *out, size_t outsz);
/* smtp_xtext_encode - the reverse, for XFORWARD downstream; -ENOSPC */
int smtp_xtext_encode(const char *in, char *out, size_t outsz);

/* smtp_data_line - classify one DATA line (RFC 5321 section 4.5.2).
 * crlf: the line ended in CRLF; prev_crlf: the line before did too (true
 * for the first line). Returns 1 for the end-of-data "." line, else 0 and
 * *skip = bytes to drop from the front (1 for a stuffed dot). A "." ended
 * by a bare LF, or after one, is data, not the end: this keeps
 * "<LF>.<LF>" smuggling from splitting one message into two. */
int smtp_data_line(const unsigned char *line, size_t len, bool crlf,
    bool prev_crlf, size_t *skip);

/* smtp_parse_reply - one reply line "250-text" / "250 text"; 0 or
 * -EINVAL. *last is false for a continuation line. */
int smtp_parse_reply(const unsigned char *line, size_t len, int *code,
    bool *last, struct bstr *text);

#endif
