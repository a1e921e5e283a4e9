/*
 * bayes/token_msg - the token set of one parsed message
 *
 * What gets chewed, after SpamAssassin's Bayes plugin (tokenize()):
 *   body      the SA "body" view (Subject + rendered text parts), words
 *   headers   every header not in the skip list below, words of the
 *             RFC 2047 decoded value, prefixed "H<name>:"; address headers
 *             as U*local, D*domain (and parents) and display-name words;
 *             Subject words also as "S:"; Message-ID by its domain
 *   relays    Received hops: client IP and its /24, rDNS and HELO domains;
 *             and the words of each Received field before its "for
 *             <rcpt>" clause and its date ("Hreceived:", as bogofilter's
 *             "rcvd:"), except local hops (localhost, 127.0.0.1,
 *             fetchmail): the relays and software of the sending side,
 *             not the mailbox the mail was collected in (tok_received)
 *   case      body words with capitals once more as written ("C:")
 *   URIs      every URI host and its parent domains, "UD:"
 *   MIME      content types, charsets, encodings, attachment extensions,
 *             message anomaly flags, HTML facts ("M:" prefixes)
 *   markup    the name of every HTML tag in the source ("T:font"): spam's
 *             layout outlives its wording (bogofilter and dspam also
 *             chew tags; attribute names and values cost more hard-ham
 *             false positives than they gained in cross-validation)
 * Dates, queue ids and the delivery headers of the local mailbox are left
 * out: they say when and where mail was stored, not what it is.
 *
 * Memory: only the caller's token set grows. Errors: -ENOMEM via the set.
 */
#include "bayes/token.h"

#include <stdio.h>
#include <sys/socket.h>
#include <string.h>

#include "mail/msg.h"

/* Headers never tokenized (SA ignored_hdrs plus time/location noise);
 * prefixes, with their lengths: this runs for every header. */
static const struct bstr skip_hdrs[] = {
	BSTR_LIT("received"),
	BSTR_LIT("date"),
	BSTR_LIT("delivered-to"),
	BSTR_LIT("delivery-date"),
	BSTR_LIT("envelope-to"),
	BSTR_LIT("x-envelope-to"),
	BSTR_LIT("x-envelope-from"),
	BSTR_LIT("status"),
	BSTR_LIT("x-status"),
	BSTR_LIT("x-keywords"),
	BSTR_LIT("lines"),
	BSTR_LIT("content-length"),
	BSTR_LIT("x-uid"),
	BSTR_LIT("x-uidl"),
	BSTR_LIT("x-original-to"),
	BSTR_LIT("x-filterd-status"),
	BSTR_LIT("x-bogosity"),
	BSTR_LIT("x-razor"),
	BSTR_LIT("x-pyzor"),
	BSTR_LIT("x-dcc"),
	BSTR_LIT("x-virus"),
	BSTR_LIT("x-mime-autoconverted"),
	BSTR_LIT("x-mailscanner"),
	BSTR_LIT("x-spam"),
	BSTR_LIT("x-antivirus"),
	BSTR_LIT("x-filtered"),
	BSTR_LIT("x-evolution"),
	BSTR_LIT("content-transfer-encoding"),
	BSTR_LIT("references"),
	BSTR_LIT("in-reply-to"),
	BSTR_LIT("message-id"),
	BSTR_LIT("resent-date"),
	BSTR_LIT("resent-message-id"),
	BSTR_LIT("x-loop"),
	BSTR_LIT("x-egroups-return"),
	BSTR_LIT("return-path"),
};

/* (BSTR_LIT bytes are NUL-terminated literals: .p is a C string too) */
static const struct bstr addr_hdrs[] = {
	BSTR_LIT("from"),
	BSTR_LIT("to"),
	BSTR_LIT("cc"),
	BSTR_LIT("reply-to"),
	BSTR_LIT("sender"),
	BSTR_LIT("return-path"),
	BSTR_LIT("errors-to"),
	BSTR_LIT("x-sender"),
};

static bool
is_skipped(struct bstr name)
{
	for (size_t i = 0; i < sizeof(skip_hdrs) / sizeof(skip_hdrs[0]); i++)
		if (name.len >= skip_hdrs[i].len &&
		    bstr_caseeq(bstr_make(name.p, skip_hdrs[i].len), skip_hdrs[i]))
			return true;
	return false;
}

static bool
is_addr_hdr(struct bstr name)
{
	for (size_t i = 0; i < sizeof(addr_hdrs) / sizeof(addr_hdrs[0]); i++)
		if (bstr_caseeq(name, addr_hdrs[i]))
			return true;
	return false;
}

static void
hdr_prefix(char *out, size_t outsz, const char *pre, struct bstr name)
{
	size_t k = strlen(pre), i;

	memcpy(out, pre, k);
	for (i = 0; i < name.len && k + 2 < outsz; i++) {
		unsigned char c = name.p[i];

		out[k++] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : (char)c;
	}
	out[k++] = ':';
	out[k] = '\0';
}

static void
tok_addrs(struct bayes_tokset *ts, const struct msg *m, const char *name,
    const char *pre)
{
	const struct msg_addr *a;
	size_t n = 0;
	char p[96];

	if ((a = msg_addrs(m, name, &n)) == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%sU*", pre);
		if (a[i].local.len > 0)
			bayes_tok_add(ts, p, a[i].local.p, a[i].local.len);
		snprintf(p, sizeof(p), "%sD*", pre);
		bayes_tok_domain(ts, p, a[i].domain);
		bayes_tok_text(ts, pre, a[i].display);
	}
}

static void
tok_ip(struct bayes_tokset *ts, const struct netaddr *ip)
{
	char s[64];
	const char *dot;

	netaddr_str(ip, s, sizeof(s));
	bayes_tok_add(ts, "R:ip:", (const unsigned char *)s, strlen(s));
	if (ip->family == AF_INET && (dot = strrchr(s, '.')))
		bayes_tok_add(
		    ts, "R:net:", (const unsigned char *)s, (size_t)(dot - s));
}

static void
tok_count(struct bayes_tokset *ts, const char *what, unsigned long v)
{
	char s[48];
	unsigned long b = 0;

	/* log2 buckets: the count's size is the signal, not its value */
	while (v > 0 && b < 20)
		v >>= 1, b++;
	int n = snprintf(s, sizeof(s), "%s=%lu", what, b);

	bayes_tok_add(ts, "M:", (const unsigned char *)s, (size_t)n);
}

static void
tok_fact(struct bayes_tokset *ts, const char *pre, struct bstr v)
{
	if (v.len > 0)
		bayes_tok_add(ts, pre, v.p, v.len > 64 ? 64 : v.len);
}

static void
tok_parts(struct bayes_tokset *ts, const struct msg *m)
{
	static const char *const enc[] = { "7bit", "8bit", "binary", "qp",
		"base64", "other" };
	size_t np = msg_part_count(m);

	tok_count(ts, "parts", np);
	for (size_t i = 0; i < np; i++) {
		const struct msg_part *p = msg_part_at(m, i);

		tok_fact(ts, "M:ct:", p->ctype);
		tok_fact(ts, "M:cs:", p->charset);
		bayes_tok_add(ts,
		    "M:enc:", (const unsigned char *)enc[p->encoding],
		    strlen(enc[p->encoding]));
		if (p->disposition.len > 0)
			tok_fact(ts, "M:disp:", p->disposition);
		struct bstr fn = p->filename.len ? p->filename : p->name;
		const unsigned char *dot = NULL;

		for (size_t k = 0; k < fn.len; k++)
			if (fn.p[k] == '.')
				dot = fn.p + k;
		if (dot != NULL)
			tok_fact(ts, "M:ext:",
			    bstr_make(
				dot + 1, (size_t)(fn.p + fn.len - dot - 1)));
		else if (p->is_attachment)
			bayes_tok_add(
			    ts, "M:ext:", (const unsigned char *)"-", 1);
	}
}

static void
tok_html(struct bayes_tokset *ts, const struct msg *m)
{
	const struct msg_html *h = msg_html(m);

	if (h == NULL || h->parts == 0)
		return;
	tok_count(ts, "html.images", h->images);
	tok_count(ts, "html.links", h->links);
	tok_count(ts, "html.fonts", h->font_tags);
	tok_count(ts, "html.invisible", h->invisible_bytes);
	tok_count(ts, "html.bad", h->bad_tags);
	if (h->forms)
		tok_count(ts, "html.forms", h->forms);
	if (h->scripts)
		tok_count(ts, "html.scripts", h->scripts);
	if (h->anchor_mismatch)
		tok_count(ts, "html.mismatch", h->anchor_mismatch);
	if (h->text_bytes < h->html_bytes / 8)
		bayes_tok_add(
		    ts, "M:", (const unsigned char *)"html.lowtext", 12);
}

/* tok_tags - the names of the tags (opening and closing alike) in HTML
 * source, "T:" prefixed; names longer than 16 letters are cut */
static void
tok_tags(struct bayes_tokset *ts, struct bstr src)
{
	const unsigned char *p = src.p, *end = src.p + src.len;
	unsigned char t[16];

	if (src.len == 0)
		return;
	while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
		size_t k = 0;

		p++;
		if (p < end && *p == '/')
			p++;
		while (p < end && k < sizeof(t) &&
		    ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'))
			t[k++] = (unsigned char)(*p++ | 0x20);
		if (k > 0)
			bayes_tok_add(ts, "T:", t, k);
	}
}

/* rcv_wordc - a byte of a word as bayes_tok_text splits text (its ASCII
 * word characters and every 8-bit byte) */
static bool
rcv_wordc(unsigned char c)
{
	return c >= 0x80 || bayes_is_word(c);
}

/* rcv_is - the word w[0..n), trimmed as bayes_tok_text trims, equals lit
 * (lowercase) or, with prefix, starts with it */
static bool
rcv_is(const unsigned char *w, size_t n, const char *lit, bool prefix)
{
	size_t ll = strlen(lit);

	while (n > 0 && bayes_is_trim(w[0]))
		w++, n--;
	while (n > 0 && bayes_is_trim(w[n - 1]))
		n--;
	if (n < ll || (!prefix && n != ll))
		return false;
	for (size_t i = 0; i < ll; i++)
		if ((w[i] >= 'A' && w[i] <= 'Z' ? w[i] | 0x20 : w[i]) !=
		    (unsigned char)lit[i])
			return false;
	return true;
}

/* rcv_scan - of the words in v: the offset of the first "for" (v.len if
 * none), and whether one is localhost, 127.0.0.1 or fetchmail* */
static size_t
rcv_scan(struct bstr v, bool *local)
{
	size_t i = 0, cut = v.len;

	*local = false;
	while (i < v.len) {
		size_t j = i;

		while (j < v.len && rcv_wordc(v.p[j]))
			j++;
		if (j > i) {
			if (cut == v.len && rcv_is(v.p + i, j - i, "for", false))
				cut = i;
			*local |= rcv_is(v.p + i, j - i, "localhost", false) ||
			    rcv_is(v.p + i, j - i, "127.0.0.1", false) ||
			    rcv_is(v.p + i, j - i, "fetchmail", true);
		}
		i = j + 1;
	}
	return cut;
}

/* tok_received - the words of a Received field that describe the
 * sending side, as "Hreceived:": up to the "for <rcpt>" clause and the
 * date (which follows the last ';', RFC 5321 4.4); fields naming
 * localhost, 127.0.0.1 or fetchmail (a host handing mail to itself: the
 * local delivery) are left out. The recipient and the local hops say
 * which mailbox or trap the mail was collected in, not what it is: on
 * the 2002 sets spam came to one mailbox and most ham to another. With
 * each test message's delivery path swapped for one of the other class
 * (corpus/cv.sh CV_SPLIT=source CV_SWAP=1), Bayes p >= 0.5 FN went 43 ->
 * 131 of 500 when they were tokens, 75 -> 75 without them (the same
 * combining parameters), bogofilter 56 -> 93. */
static void
tok_received(struct bayes_tokset *ts, struct bstr v)
{
	size_t k = v.len, cut;
	bool local;

	while (k > 0 && v.p[k - 1] != ';')
		k--;
	if (k == 0)
		return;
	v = bstr_sub(v, 0, k - 1);
	cut = rcv_scan(v, &local);
	if (!local)
		bayes_tok_text(ts, "Hreceived:", bstr_sub(v, 0, cut));
}

/* bayes_tokenize - all tokens of a parsed message */
int
bayes_tokenize(const struct msg *m, struct bayes_tokset *ts)
{
	size_t n = 0;
	char pre[64];

	/* body: Subject + rendered text, the SA "body" view */
	bayes_tok_body(ts, msg_body_text(m));

	for (size_t i = 0; i < msg_header_count(m); i++) {
		const struct msg_header *h = msg_header_at(m, i);

		if (bstr_caseeq(h->name, BSTR_LIT("received"))) {
			tok_received(ts, h->decoded);
			continue;
		}
		if (is_skipped(h->name) || is_addr_hdr(h->name))
			continue;
		hdr_prefix(pre, sizeof(pre), "H", h->name);
		if (bstr_caseeq(h->name, BSTR_LIT("subject")))
			bayes_tok_text(ts, "S:", h->decoded);
		else
			bayes_tok_text(ts, pre, h->decoded);
	}
	for (size_t i = 0; i < sizeof(addr_hdrs) / sizeof(addr_hdrs[0]); i++) {
		hdr_prefix(pre, sizeof(pre), "H", addr_hdrs[i]);
		tok_addrs(ts, m, (const char *)addr_hdrs[i].p, pre);
	}

	/* Message-ID: the generating host says more than the unique part */
	const struct msg_header *mid = msg_header_get(m, "message-id", 0);
	if (mid != NULL) {
		long at = bstr_find(mid->value, BSTR_LIT("@"));

		if (at >= 0) {
			struct bstr d = bstr_sub(
			    mid->value, (size_t)at + 1, mid->value.len);
			size_t k = 0;

			while (k < d.len && d.p[k] != '>' && d.p[k] != ' ')
				k++;
			bayes_tok_domain(ts, "MID:", bstr_sub(d, 0, k));
		} else {
			bayes_tok_add(
			    ts, "MID:", (const unsigned char *)"!@", 2);
		}
	} else {
		bayes_tok_add(ts, "MID:", (const unsigned char *)"none", 4);
	}

	/* relays: the path, minus dates and queue ids */
	const struct msg_relay *r = msg_relays(m, &n);
	for (size_t i = 0; r != NULL && i < n; i++) {
		if (r[i].has_ip && !netaddr_loopback(&r[i].ip))
			tok_ip(ts, &r[i].ip);
		bayes_tok_domain(ts, "R:rdns:", r[i].rdns);
		bayes_tok_domain(ts, "R:helo:", r[i].helo);
		tok_fact(ts, "R:with:", r[i].with);
	}
	tok_count(ts, "relays", n);

	/* URI hosts: every URI's, not only msg_uri_hosts() (which keeps
	 * hosts under a public suffix); duplicates fold in the set */
	const struct msg_uri *u = msg_uris(m, &n);
	for (size_t i = 0; u != NULL && i < n; i++)
		bayes_tok_domain(ts, "UD:", u[i].host);
	tok_count(ts, "uris", n);

	for (size_t i = 0; i < msg_part_count(m); i++) {
		const struct msg_part *p = msg_part_at(m, i);

		if (p->is_html)
			tok_tags(ts, p->text);
	}
	tok_parts(ts, m);
	tok_html(ts, m);
	unsigned fl = msg_flags(m);
	for (unsigned b = 0; b < 16; b++) {
		if (fl & (1u << b)) {
			char s[16];
			int k = snprintf(s, sizeof(s), "flag%u", b);

			bayes_tok_add(
			    ts, "M:", (const unsigned char *)s, (size_t)k);
		}
	}
	return bayes_tokset_finish(ts);
}
