/*
 * mail/msg.h - the message model: one parse, read-only views for every check
 *
 * msg_parse() parses a raw RFC 5322 message once. Everything it produces
 * (headers, MIME tree, decoded text, URIs, relays) lives in the message's
 * arena and is released by msg_free(). Slices may point into the raw buffer,
 * which the caller must keep alive until msg_free().
 *
 * This header is the whole contract between mail/ and its readers (rules/,
 * bayes/, plugins/, filterd/); struct layouts other than the ones below stay
 * private to mail/.
 */
#ifndef MAIL_MSG_H
#define MAIL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/netaddr.h"

struct arena;
struct netlist;
struct msg;

/* Limits and trust settings; zero fields take the defaults below. */
struct msg_opts {
	size_t max_header_bytes;  /* header section scanned (256 KiB) */
	size_t max_body_text;     /* each text view capped (512 KiB, as SA) */
	size_t max_parts;         /* MIME parts kept (1000) */
	unsigned max_depth;       /* multipart/rfc822 nesting (16) */
	size_t max_uris;          /* URIs kept (1000) */
	const struct netlist *trusted_networks; /* SA trusted_networks */
	const struct netlist *internal_networks;
	/* The client that handed the message to us (XFORWARD ADDR, milter
	 * {client_addr}, spamd has none): becomes the first relay. */
	const struct netaddr *client_addr;
	const char *client_name, *client_helo;
	/* Added: each part's rendered text in the body view is cut here
	 * (SA body_part_scan_size, 50000); rawbody parts at max_body_text. */
	size_t max_body_part;
};

#define MSG_DEF_MAX_HEADER_BYTES (256u * 1024)
#define MSG_DEF_MAX_BODY_TEXT (512u * 1024)
#define MSG_DEF_MAX_PARTS 1000u
#define MSG_DEF_MAX_DEPTH 16u
#define MSG_DEF_MAX_URIS 1000u
#define MSG_DEF_MAX_BODY_PART 50000u

/* Anomaly flags: set while parsing, parsing carries on. */
#define MSG_ERR_HDR_TRUNC      0x0001u /* header section over the cap */
#define MSG_ERR_NO_BODY_SEP    0x0002u /* no blank line after headers */
#define MSG_ERR_BAD_HDR_LINE   0x0004u /* header line without a colon */
#define MSG_ERR_MIME_BOUNDARY  0x0008u /* multipart without/with bad boundary */
#define MSG_ERR_MIME_NO_END    0x0010u /* missing closing boundary */
#define MSG_ERR_MIME_DEPTH     0x0020u /* nesting deeper than max_depth */
#define MSG_ERR_MIME_PARTS     0x0040u /* more parts than max_parts */
#define MSG_ERR_B64            0x0080u /* broken base64 */
#define MSG_ERR_QP             0x0100u /* broken quoted-printable */
#define MSG_ERR_CHARSET        0x0200u /* unknown charset, fallback used */
#define MSG_ERR_TEXT_TRUNC     0x0400u /* a text view hit max_body_text */
#define MSG_ERR_8BIT_HDR       0x0800u /* raw 8-bit bytes in headers */
#define MSG_ERR_NUL            0x1000u /* NUL bytes in the message */
#define MSG_ERR_BARE_CR_LF     0x2000u /* bare CR or mixed line ends */

/* One header field. name: as written; raw: value as written after the
 * colon, folding kept; value: unfolded (CRLF+WSP -> WSP, leading space
 * stripped, no trailing newline); decoded: value with RFC 2047
 * encoded-words decoded to UTF-8. */
struct msg_header {
	struct bstr name, raw, value, decoded;
	size_t offset; /* of the name in the raw message */
};

/* An RFC 5322 mailbox. */
struct msg_addr {
	struct bstr display; /* UTF-8, RFC 2047 decoded, unquoted */
	struct bstr local, domain, addr; /* addr = local@domain */
	struct bstr group;   /* group name when inside one */
};

enum msg_enc { MSG_ENC_7BIT, MSG_ENC_8BIT, MSG_ENC_BINARY, MSG_ENC_QP,
	MSG_ENC_BASE64, MSG_ENC_OTHER };

/* One MIME part (leaf or container), in document order. */
struct msg_part {
	unsigned index, depth;
	int parent;            /* index of the parent, -1 for the root */
	struct bstr ctype;     /* "text/plain", lowercased; default per RFC 2045 */
	struct bstr charset;   /* lowercased, as labelled; may be empty */
	struct bstr boundary;
	struct bstr filename;  /* RFC 2231/2047 decoded, UTF-8 */
	struct bstr name;      /* Content-Type name= */
	struct bstr disposition; /* "attachment"/"inline"/"" */
	struct bstr content_id;
	enum msg_enc encoding;
	struct bstr headers;   /* the part's raw header block */
	struct bstr raw_body;  /* the encoded body as in the message */
	struct bstr decoded;   /* transfer-decoded bytes (leaves only) */
	struct bstr text;      /* text parts: decoded and converted to UTF-8;
				  for HTML, the HTML source in UTF-8 */
	struct bstr rendered;  /* text parts: text/plain as is, HTML rendered */
	bool is_multipart, is_message, is_text, is_html, is_attachment;
	unsigned flags;        /* MSG_ERR_* seen in this part */
};

/* Where a URI was found. */
#define MSG_URI_TEXT   0x01u /* plain text */
#define MSG_URI_HREF   0x02u /* <a href>, <area href> */
#define MSG_URI_SRC    0x04u /* <img src> and other src= */
#define MSG_URI_FORM   0x08u /* <form action> */
#define MSG_URI_META   0x10u /* meta refresh, base href */
#define MSG_URI_MAILTO 0x20u /* mailto: */
#define MSG_URI_HEADER 0x40u /* from a header (List-Unsubscribe...) */

struct msg_uri {
	struct bstr raw;     /* as found */
	struct bstr uri;     /* normalised: scheme://host/... lowercase host,
				percent-decoded, IDN to punycode */
	struct bstr scheme;  /* "http", "mailto" ... */
	struct bstr host;    /* hostname or IP literal, lowercase, punycode */
	struct bstr anchor_text; /* <a>...</a> text, rendered, if any */
	unsigned flags;      /* MSG_URI_* */
	bool host_is_ip;
};

/* Facts about the HTML parts that rules need (SA HTML eval tests). */
struct msg_html {
	unsigned parts;         /* number of HTML parts */
	size_t html_bytes, text_bytes; /* source vs rendered */
	unsigned tags, bad_tags, comments;
	unsigned images;        /* <img> */
	uint64_t image_area;    /* sum of width*height of images */
	unsigned links, forms, scripts, iframes, objects;
	unsigned font_tags, font_color_tags;
	size_t invisible_bytes; /* text rendered in a colour matching the
				   background, display:none, tiny font */
	unsigned anchor_mismatch; /* <a> text names a domain other than href */
	bool has_title, has_body_tag, has_html_tag;
	bool charset_meta_mismatch;
};

/* SpamAssassin's per-part HTML results (Mail::SpamAssassin::HTML
 * put_results and Message::Node::rendered), one per rendered text/html
 * part in part order: what SA's HTMLEval functions read from html_all. */
struct msg_html_tag {
	struct bstr name;      /* lowercase, as HTML::Parser names it */
	int count;             /* SA inside{}: starts - ends, never < 0 */
};

#define MSG_HTML_FONT_FACE_BAD      0x01u
#define MSG_HTML_FONT_INVALID_COLOR 0x02u
#define MSG_HTML_FONT_LOW_CONTRAST  0x04u
#define MSG_HTML_FORM_ACTION_MAILTO 0x08u
#define MSG_HTML_EMBEDS             0x10u
#define MSG_HTML_URI_IFRAME         0x20u /* an iframe src URI */
#define MSG_HTML_URI_TRUNCATED      0x40u /* a URI over 8 KiB was cut */

struct msg_html_part {
	unsigned part;         /* msg_part index */
	size_t length;         /* source length, characters as SA counts */
	size_t html_length;    /* rendered characters */
	size_t non_space_len;  /* rendered characters that are not space */
	uint64_t image_area;   /* <img width height>, 800x600 for %, 200 */
	int min_size, max_size; /* font sizes seen (start 3) */
	unsigned tags, elements, tags_seen, elements_seen;
	unsigned closed_extra, obfuscation;
	unsigned flags;        /* MSG_HTML_* */
	const struct msg_html_tag *inside; /* every tag name seen */
	size_t ninside;
	const struct bstr *comments, *titles, *anchors; /* SA text arrays */
	size_t ncomments, ntitles, nanchors;
	const struct bstr *anchor_hrefs; /* SA canon_uri of each anchor's
					   href ("" without one), same
					   index as anchors; NULL when
					   out of memory */
	struct bstr charsets;  /* <meta> Content-Type charsets, space-joined */
};

/* SpamAssassin's own MIME tree (Mail::SpamAssassin::Message new and
 * parse_body, Message::Node), built from the message's lines as SA reads
 * them. It differs from the parts above where SA's line parser does: a
 * part's raw lines keep the blank line before a boundary unless it is
 * the only one, runs of more than 20 blank lines shrink to 20, lines over
 * 2048 bytes are cut, a part without a boundary parameter inherits its
 * parent's, default types follow parse_content_type. The MIMEEval,
 * BodyEval and ImageInfo evals measure these lines. */
struct msg_sa_line {
	const unsigned char *p; /* without the "\n" (and without the "\r"
				   of a CRLF line when SA squashes CRLF) */
	uint32_t len;
	bool nl;                /* SA's line ends in "\n": its length is
				   len + 1 */
};

struct msg_sa_part {
	int parent;             /* index, -1 for the message */
	unsigned depth;
	bool leaf;              /* SA is_leaf: no body parts */
	struct bstr type;       /* SA's type (find_parts matches it):
				   "text/plain" for a missing one and
				   unknown text/ types, a digest's parts
				   message/rfc822, a multipart without
				   boundary text/plain */
	struct bstr ctype;      /* parse_content_type of the part's
				   Content-Type field (what MIMEEval's
				   _check_attachments reads) */
	struct bstr charset;    /* lowercased; has_charset: a charset=
				   parameter was given (SA defined) */
	bool has_charset;
	bool ct_missing;        /* no usable Content-Type */
	struct bstr name;       /* Content-Disposition name= or Content-Type
				   name=, as written */
	struct bstr cte, cd;    /* the last such field, lowercased, unfolded
				   and trimmed; "" if none */
	const struct msg_sa_line *lines; /* leaves: SA's raw() */
	size_t nlines;
};

/* SA's parse flags (Message.pm, check_msg_parse_flags) */
#define MSG_SA_MISSING_HB_SEP        0x01u /* missing_head_body_separator */
#define MSG_SA_TRUNCATED_HEADER      0x02u /* truncated_header */
#define MSG_SA_MISSING_MIME_HEADERS  0x04u /* missing_mime_headers */
#define MSG_SA_MISSING_MIME_HB_SEP   0x08u /* missing_mime_head_body_separator */
#define MSG_SA_MIME_EPILOGUE         0x10u /* mime_epilogue_exists */
#define MSG_SA_MIMEPART_LIMIT        0x20u /* mimepart_limit_exceeded */
#define MSG_SA_MISSING_BOUNDARY      0x40u /* a boundary opened and not
						closed (mime_boundary_state) */

/* One Received hop, newest first. */
struct msg_relay {
	struct bstr raw;      /* the header value, unfolded */
	struct netaddr ip;    /* has_ip tells whether it parsed */
	bool has_ip;
	struct bstr rdns;     /* reverse name the receiver saw (may be empty) */
	struct bstr helo;     /* what the sender said in HELO/EHLO */
	struct bstr by;       /* receiving host */
	struct bstr id;       /* receiver's queue id */
	struct bstr with;     /* SMTP, ESMTPS, ESMTPSA, LMTP ... */
	struct bstr envfrom;  /* envelope sender when shown */
	struct bstr ident;
	bool auth;            /* authenticated submission (ESMTPA, "Authenticated
				 sender", (authenticated as ...)) */
	bool trusted, internal;
	bool parsed;          /* false: unrecognised format, left untrusted */
};

/* Parse, free ----------------------------------------------------------- */

/* msg_parse - parse raw[0..len) into *out. Returns 0 (anomalies are flags,
 * not errors) or -ENOMEM. raw must outlive the message. */
int msg_parse(const unsigned char *raw, size_t len, const struct msg_opts *,
    struct msg **out);
/* msg_free - release the message and everything from its arena; NULL */
struct msg *msg_free(struct msg *);
struct arena *msg_arena(const struct msg *);
unsigned msg_flags(const struct msg *); /* MSG_ERR_* over the message */

/* Headers ---------------------------------------------------------------- */

size_t msg_header_count(const struct msg *);
const struct msg_header *msg_header_at(const struct msg *, size_t i);
/* msg_header_get - the nth (0-based) header named name, case-insensitive */
const struct msg_header *msg_header_get(const struct msg *, const char *name,
    size_t nth);
size_t msg_header_count_named(const struct msg *, const char *name);
/* The raw header section (up to, not including, the blank line) and the
 * raw body (after it). */
struct bstr msg_header_block(const struct msg *);
struct bstr msg_raw_body(const struct msg *);
struct bstr msg_full(const struct msg *); /* the whole raw message */

/* msg_addrs - the addresses of every header named name (From, To, Cc,
 * Reply-To, Sender, Return-Path, ...), parsed per RFC 5322 section 3.4 with
 * obsolete syntax; n receives the count. */
const struct msg_addr *msg_addrs(const struct msg *, const char *name,
    size_t *n);
/* msg_addr_parse - the same parser on any value, results in arena a */
int msg_addr_parse(struct arena *, struct bstr value, struct msg_addr **v,
    size_t *n);
/* msg_tld_valid - label is a top-level domain the URI parser accepts
 * (SA's util_rb_tld list), case-insensitive */
bool msg_tld_valid(struct bstr label);
/* msg_rfc2047_decode - decode encoded-words to UTF-8 into the arena */
struct bstr msg_rfc2047_decode(struct arena *, struct bstr value);

/* MIME ------------------------------------------------------------------- */

size_t msg_part_count(const struct msg *);
const struct msg_part *msg_part_at(const struct msg *, size_t i);

/* Text views (SpamAssassin semantics) ------------------------------------ */

/* body: Subject, then the rendered text of every text part, as an array
 * of "lines" (SA paragraphs: runs of text joined, split at blank lines),
 * UTF-8, capped at max_body_text. rawbody: transfer-decoded, charset-
 * converted text parts, not rendered, split at newlines. */
const struct bstr *msg_body_lines(const struct msg *, size_t *n);
const struct bstr *msg_rawbody_lines(const struct msg *, size_t *n);
/* The same views as one buffer, lines joined with '\n'. */
struct bstr msg_body_text(const struct msg *);
struct bstr msg_rawbody_text(const struct msg *);

/* URIs, HTML, relays ----------------------------------------------------- */

const struct msg_uri *msg_uris(const struct msg *, size_t *n);
/* Distinct hosts of all URIs, lowercase. */
const struct bstr *msg_uri_hosts(const struct msg *, size_t *n);
const struct msg_html *msg_html(const struct msg *);
/* msg_html_parts - SA's html_all: the facts of each HTML part */
const struct msg_html_part *msg_html_parts(const struct msg *, size_t *n);

/* msg_sa_parts - SA's MIME tree in find_parts order (depth first, the
 * message first), built on the first call into the message's arena (not
 * thread-safe on one message); *n 0 and NULL when out of memory. */
const struct msg_sa_part *msg_sa_parts(struct msg *, size_t *n);
/* msg_sa_flags - MSG_SA_* (builds the tree if needed) */
unsigned msg_sa_flags(struct msg *);

/* All relays newest first; trusted/internal marked per the opts. */
const struct msg_relay *msg_relays(const struct msg *, size_t *n);
/* The last (oldest-to-us, i.e. nearest to us) external relay: the one
 * DNSBL and SPF look at (SA -lastexternal); NULL if none. */
const struct msg_relay *msg_last_external(const struct msg *);
/* Relays not trusted, newest first. */
const struct msg_relay *msg_untrusted_relays(const struct msg *, size_t *n);

#endif
