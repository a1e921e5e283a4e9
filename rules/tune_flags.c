/*
 * rules/tune_flags.c - the rule attributes filterctl tune and explain need
 * (tflags, rule kind) and, for explain, where a rule's regex matches a
 * message; read from the private rule set layout
 *
 * Kept apart from rules/tune.c (pure arithmetic). Read-only: the rule set
 * is shared. Strings returned point into the rule set or are static.
 * tune_rule_match reruns the rule's compiled regex over the message view
 * its type names (a named header's decoded value, the body text, rawbody,
 * each URI, the full message): an explanation, not the engine's exact
 * text for every header modifier. Returns 1 found, 0 none, -ENOMEM.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "mail/msg.h"
#include "rules/rules_int.h"
#include "rules/tune.h"

unsigned
tune_rule_info(const struct rule_set *rs, const char *name, bool *defined,
    const char **what, const char **target)
{
	static const char *const kinds[RULE_NTYPES] = {
		[RULE_HEADER] = "header",
		[RULE_BODY] = "body",
		[RULE_RAWBODY] = "rawbody",
		[RULE_URI] = "uri",
		[RULE_FULL] = "full",
		[RULE_MIMEHEADER] = "mimeheader",
		[RULE_META] = "meta",
	};
	long k = rule__find(rs, name, strlen(name));
	const struct rule *r;
	unsigned f = 0;

	*defined = false;
	if (what != NULL)
		*what = NULL;
	if (target != NULL)
		*target = NULL;
	if (strncmp(name, "__", 2) == 0)
		f |= TUNE_TF_SUB;
	if (k < 0)
		return f;
	r = &rs->v[k];
	*defined = r->defined;
	if (r->tflags & TF_NICE)
		f |= TUNE_TF_NICE;
	if (r->tflags & TF_USERCONF)
		f |= TUNE_TF_USERCONF;
	if (r->tflags & TF_NET)
		f |= TUNE_TF_NET;
	if (r->tflags & TF_LEARN)
		f |= TUNE_TF_LEARN;
	if (r->type == RULE_META)
		f |= TUNE_TF_META;
	if (what != NULL && r->defined && (unsigned)r->type < RULE_NTYPES)
		*what = r->evname != NULL ? "eval" : kinds[r->type];
	if (target != NULL && r->defined) {
		if (r->evname != NULL)
			*target = r->evname;
		else if (r->type == RULE_HEADER && r->hdr != NULL)
			*target = r->hdr;
		else if (r->type == RULE_META)
			*target = r->meta_src;
		else if (r->re_src != NULL)
			*target = r->re_src;
	}
	return f;
}

/* show - the match [s, e) of text, printable, with a little context,
 * truncated into out */
static void
show(const unsigned char *p, size_t len, size_t s, size_t e, char *out,
    size_t outsz)
{
	size_t o = 0, max = outsz - 1;

	if (e - s > max)
		e = s + max;
	for (size_t i = s; i < e && o < max; i++) {
		unsigned char ch = p[i];

		out[o++] = ch == '\n' || ch == '\r' || ch == '\t' ? ' '
		    : (ch < 0x20 || ch == 0x7f)			  ? '?'
								  : (char)ch;
	}
	if (e < len && e - s == max && o >= 3)
		memcpy(out + o - 3, "...", 3);
	out[o] = '\0';
}

/* find - first match of r's regex(es) in text; 1 and out, 0, -errno */
static int
find(const struct rule_set *rs, const struct rule *r, struct bstr text,
    char *out, size_t outsz)
{
	pcre2_match_data *md;
	int rc = 0;

	if (r->re == NULL || text.p == NULL)
		return 0;
	if ((md = pcre2_match_data_create_from_pattern(r->re, NULL)) == NULL)
		return -ENOMEM;
	for (size_t k = 0; k <= r->nmore && rc == 0; k++) {
		pcre2_code *re = k == 0 ? r->re : r->more[k - 1];
		int m;

		if (re == NULL)
			continue;
		m = pcre2_match(re, text.p, text.len, 0, 0, md, rs->mctx);
		if (m > 0) {
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

			show(text.p, text.len, ov[0], ov[1], out, outsz);
			rc = 1;
		}
	}
	pcre2_match_data_free(md);
	return rc;
}

int
tune_rule_match(const struct rule_set *rs, const char *name, struct msg *m,
    char *out, size_t outsz, const char **where)
{
	long k = rule__find(rs, name, strlen(name));
	const struct rule *r;
	int rc = 0;

	*where = NULL;
	if (outsz < 8)
		return -EINVAL;
	out[0] = '\0';
	if (k < 0 || !rs->v[k].defined)
		return 0;
	r = &rs->v[k];
	if (r->neg || r->re == NULL)
		return 0; /* evals, metas, absence: nothing to show */
	switch (r->type) {
	case RULE_HEADER:
		if (r->hkind == HDR_ALL) {
			*where = "headers";
			return find(rs, r, msg_header_block(m), out, outsz);
		}
		if (r->hkind != HDR_NAMED || r->hdr == NULL)
			return 0;
		*where = r->hdr;
		for (size_t i = 0; i < msg_header_count(m) && rc == 0; i++) {
			const struct msg_header *h = msg_header_at(m, i);
			struct bstr v = r->hraw	   ? h->raw
			    : h->decoded.p != NULL ? h->decoded
						   : h->value;

			if (h->name.len == strlen(r->hdr) &&
			    strncasecmp((const char *)h->name.p, r->hdr,
				h->name.len) == 0)
				rc = find(rs, r, v, out, outsz);
		}
		return rc;
	case RULE_BODY:
		*where = "body";
		return find(rs, r, msg_body_text(m), out, outsz);
	case RULE_RAWBODY:
		*where = "rawbody";
		return find(rs, r, msg_rawbody_text(m), out, outsz);
	case RULE_FULL:
		*where = "full";
		return find(rs, r, msg_full(m), out, outsz);
	case RULE_URI: {
		size_t n;
		const struct msg_uri *u = msg_uris(m, &n);

		*where = "uri";
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = find(rs, r, u[i].uri, out, outsz);
		return rc;
	}
	default:
		return 0;
	}
}
