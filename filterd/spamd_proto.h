/*
 * filterd/spamd_proto.h - the spamc/spamd protocol (SPAMC/1.5 as spamd 4.0
 * speaks it): request parser, zlib body, response formatting
 *
 * Pure functions over bytes: no sockets, no logging (the front door,
 * filterd/spamd.c, owns both). See spamd(1p) and SpamAssassin's
 * spamd/PROTOCOL; where the doc and spamd 4.0 disagree, spamd 4.0 wins.
 */
#ifndef FILTERD_SPAMD_PROTO_H
#define FILTERD_SPAMD_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* spamd's sysexits-style codes, as sent in "SPAMD/1.1 <code> <name>" */
#define SPAMD_EX_OK 0
#define SPAMD_EX_USAGE 64
#define SPAMD_EX_DATAERR 65
#define SPAMD_EX_NOUSER 67
#define SPAMD_EX_UNAVAILABLE 69
#define SPAMD_EX_SOFTWARE 70
#define SPAMD_EX_TEMPFAIL 75
#define SPAMD_EX_PROTOCOL 76
#define SPAMD_EX_NOPERM 77
#define SPAMD_EX_TIMEOUT 79

#define SPAMD_MAX_HEADERS 255  /* spamd: "too many headers" beyond */
#define SPAMD_MAX_LINE 8192    /* request and header lines */

enum spamd_cmd {
	SPAMD_CHECK,
	SPAMD_SYMBOLS,
	SPAMD_REPORT,
	SPAMD_REPORT_IFSPAM,
	SPAMD_PROCESS,
	SPAMD_HEADERS,
	SPAMD_PING,
	SPAMD_SKIP,
	SPAMD_TELL,
};

enum spamd_class { SPAMD_CLASS_NONE, SPAMD_CLASS_SPAM, SPAMD_CLASS_HAM };

/* TELL Set:/Remove: targets */
#define SPAMD_TELL_LOCAL 1u
#define SPAMD_TELL_REMOTE 2u

struct spamd_req {
	enum spamd_cmd cmd;
	unsigned version;       /* SPAMC/1.5 -> 15 (major*10 + minor) */
	bool has_length;
	size_t length;          /* Content-length (of the compressed bytes) */
	bool compress;          /* Compress: zlib */
	char user[256];         /* User: (printable, truncated) */
	enum spamd_class cls;   /* Message-class: */
	unsigned set, remove;   /* SPAMD_TELL_* from Set:/Remove: */
	size_t head_len;        /* bytes of request line + headers + CRLF */
};

/* spamd_cmd_name - "CHECK", ... */
const char *spamd_cmd_name(enum spamd_cmd);
/* spamd_cmd_has_body - a message follows the headers */
bool spamd_cmd_has_body(const struct spamd_req *);

/* spamd_parse_head - parse the request line and, when the command and
 * version carry headers, the header block, from the start of p[0..len).
 * 0: complete, r->head_len bytes used; -EAGAIN: need more bytes;
 * -EPROTO: malformed (why gets a static reason, as spamd prints it);
 * -E2BIG: a line or the header count is over the limit. Lines end in
 * LF or CRLF (spamd reads with getline). */
int spamd_parse_head(const unsigned char *p, size_t len,
    struct spamd_req *r, const char **why);

/* spamd_inflate - zlib (RFC 1950) data to out, at most max bytes of
 * output; 0, -EPROTO (not a complete zlib stream), -EFBIG (over max),
 * -ENOMEM */
int spamd_inflate(const unsigned char *p, size_t len, size_t max,
    struct buf *out);

/* spamd_score_str - spamd's score text: "%2.1f", except that a ham whose
 * score rounds up to the threshold shows threshold - 0.1 (spamd's
 * get_tag_value_for_score) */
void spamd_score_str(double score, double required, bool spam, char *out,
    size_t outsz);

/* spamd_reply_head - the status line, then (when the command has one) the
 * Content-length and Spam: headers and the blank line, for a body of
 * body_len bytes, exactly as spamd 4.0 writes them for r->version. */
int spamd_reply_head(struct buf *out, const struct spamd_req *r,
    bool spam, double score, double required, size_t body_len);

/* spamd_reply_error - "SPAMD/1.0 <code> <text>\r\n" */
int spamd_reply_error(struct buf *out, int code, const char *text);

#endif
