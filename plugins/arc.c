/*
 * arc - Authenticated Received Chain validation (RFC 8617 5.2) and
 * sealing (5.1)
 *
 * An ARC set is three header fields with one instance number i:
 * ARC-Authentication-Results (AAR), ARC-Message-Signature (AMS, a DKIM
 * signature with i= instead of v=) and ARC-Seal (AS, a signature over the
 * ARC sets 1..i). The AMS and AS are checked with the DKIM verifier's own
 * pieces (plugins/dkim_int.h): tag lists, canonicalization, key records,
 * RSA/Ed25519. Written here rather than taken from a library: OpenARC is
 * not packaged for Debian 12 and its libopenarc would bring a second DKIM
 * stack (no OpenARC package in Debian 12 either); the validator and the
 * sealer are the RFC's algorithms over code we already test.
 *
 * Memory: the caller's arena. Errors: a broken chain is a result with a
 * reason, never a return code; nothing here logs.
 * Limits: ARC_MAX_SETS sets (RFC 8617 4.2.1), DKIM's 1000 header fields.
 */
#include "plugins/arc.h"

#include <errno.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "plugins/authres.h"
#include "plugins/dkim.h"
#include "plugins/dkim_int.h"
#include "util/arena.h"

enum part { P_AAR, P_AMS, P_AS, P_N };

static const char *const part_name[P_N] = { "ARC-Authentication-Results",
	"ARC-Message-Signature", "ARC-Seal" };

/* One ARC-Seal's tags (RFC 8617 4.1.3). */
struct seal {
	struct bstr a, b, cv, d, s, i, t, h;
	enum dkim_alg alg;
	char keyname[300];
	const char *dl; /* d lower case */
};

struct arc_verify {
	struct arena *arena;
	struct bstr msg, body;
	struct dkim__field *f;
	size_t nf;
	unsigned n;			    /* highest instance */
	size_t at[ARC_MAX_SETS + 1][P_N];   /* field index + 1; 0: none */
	struct seal seal[ARC_MAX_SETS + 1]; /* parsed ARC-Seals */
	struct dkim_sigtags ams;	    /* AMS i=n */
	char ams_key[300];
	const char *ams_d;
	bool done;
	struct arc_out out;
};

const char arc_seal_not_ours[] = "no Authentication-Results of ours";

const char *
arc_result_str(enum arc_result r)
{
	static const char *const s[] = { "none", "pass", "fail", "temperror" };

	return (unsigned)r < sizeof(s) / sizeof(s[0]) ? s[r] : "fail";
}

static bool
fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
digit(int c)
{
	return c >= '0' && c <= '9';
}

/* The end: a failed chain with a reason made in the arena. */
static void chain_fail(struct arc_verify *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
chain_fail(struct arc_verify *v, const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	v->out.result = ARC_RES_FAIL;
	v->out.reason = arena_strndup(v->arena, buf, strlen(buf));
	if (v->out.reason == NULL)
		v->out.reason = "chain broken";
	v->done = true;
}

/* An instance number: 1*DIGIT, 1 to ARC_MAX_SETS (4.2.1); more than that
 * returns ARC_MAX_SETS + 1 (the chain fails as too long); 0 if invalid. */
static unsigned
instance(struct bstr v)
{
	unsigned long x = 0;

	if (v.len == 0)
		return 0;
	for (size_t i = 0; i < v.len; i++) {
		if (!digit(v.p[i]))
			return 0;
		if (x <= ARC_MAX_SETS)
			x = x * 10 + (unsigned)(v.p[i] - '0');
	}
	if (x == 0)
		return 0;
	return x > ARC_MAX_SETS ? ARC_MAX_SETS + 1 : (unsigned)x;
}

/* 4.1.1: an AAR value starts with "i=" instance ";" (CFWS aside). */
static unsigned
aar_instance(struct bstr v)
{
	size_t i = 0, s;

	while (i < v.len && fws(v.p[i]))
		i++;
	if (i == v.len || v.p[i] != 'i')
		return 0;
	i++;
	while (i < v.len && fws(v.p[i]))
		i++;
	if (i == v.len || v.p[i] != '=')
		return 0;
	i++;
	while (i < v.len && fws(v.p[i]))
		i++;
	s = i;
	while (i < v.len && digit(v.p[i]))
		i++;
	struct bstr num = bstr_make(v.p + s, i - s);
	while (i < v.len && fws(v.p[i]))
		i++;
	if (i == v.len || v.p[i] != ';')
		return 0;
	return instance(num);
}

/* Split the results of one A-R value after its authserv-id into parts[]
 * (";"-separated, outside comments and quoted strings, trimmed). Returns
 * the authserv-id slice through *id. */
static size_t
ar_results(struct bstr v, struct bstr *id, struct bstr *parts, size_t max)
{
	size_t i = 0, n = 0, s;
	int depth = 0;
	bool quoted = false;

	while (i < v.len && fws(v.p[i]))
		i++;
	s = i;
	while (i < v.len && v.p[i] != ';' && !fws(v.p[i]))
		i++;
	*id = bstr_make(v.p + s, i - s);
	while (i < v.len && v.p[i] != ';') /* an optional version */
		i++;
	if (i < v.len)
		i++;
	s = i;
	for (; i <= v.len; i++) {
		unsigned char c = i < v.len ? v.p[i] : ';';
		if (i < v.len && quoted) {
			if (c == '\\')
				i++;
			else if (c == '"')
				quoted = false;
			continue;
		}
		if (i < v.len && depth) {
			if (c == '\\')
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (c == '"')
			quoted = true;
		else if (c == '(')
			depth = 1;
		else if (c == ';') {
			struct bstr p = bstr_trim(
			    bstr_make(v.p + s, (i < v.len ? i : v.len) - s));
			if (p.len && n < max)
				parts[n++] = p;
			s = i + 1;
		}
	}
	return n;
}

/* The method of a resinfo ("arc=pass (...)" -> "arc"), its result. */
static void
resinfo(struct bstr r, struct bstr *method, struct bstr *result)
{
	size_t i = 0, s;

	/* leading CFWS: comments and whitespace */
	while (i < r.len && (fws(r.p[i]) || r.p[i] == '(')) {
		if (r.p[i] == '(') {
			int depth = 0;
			do {
				if (r.p[i] == '\\')
					i++;
				else if (r.p[i] == '(')
					depth++;
				else if (r.p[i] == ')')
					depth--;
				i++;
			} while (i < r.len && depth > 0);
		} else
			i++;
	}
	s = i;
	while (i < r.len && r.p[i] != '=' && !fws(r.p[i]))
		i++;
	*method = bstr_make(r.p + s, i - s);
	while (i < r.len && (fws(r.p[i]) || r.p[i] == '='))
		i++;
	s = i;
	while (i < r.len && !fws(r.p[i]) && r.p[i] != '(' && r.p[i] != ';')
		i++;
	*result = bstr_make(r.p + s, i - s);
}

/* Does an AAR value (4.1.1: "i=N;" then the Authentication-Results
 * payload, RFC 8601 2.2) carry a result "method=pass"? */
static bool
aar_has_pass(struct bstr v, const char *method)
{
	struct bstr id, parts[64], m, r;
	size_t i = 0, n;

	while (i < v.len && v.p[i] != ';') /* "i=N" */
		i++;
	if (i == v.len)
		return false;
	n = ar_results(bstr_make(v.p + i + 1, v.len - i - 1), &id, parts, 64);
	for (size_t k = 0; k < n; k++) {
		resinfo(parts[k], &m, &r);
		if (bstr_caseeq_cstr(m, method) && bstr_caseeq_cstr(r, "pass"))
			return true;
	}
	return false;
}

/* The i= of an AMS or AS value, 0 when missing or invalid. */
static unsigned
tag_instance(struct bstr v)
{
	struct dkim__tag tags[DKIM__MAX_TAGS];
	const char *why;
	int n = dkim__tags_split(v, tags, &why);

	for (int k = 0; k < n; k++)
		if (bstr_eq(tags[k].name, BSTR_LIT("i")))
			return instance(tags[k].value);
	return 0;
}

/* arc_name_ok - a domain name or selector as DKIM's d= and s= (RFC 6376
 * 3.5, 3.1): dot-separated labels of letters, digits, '-' and '_', 1 to
 * 63 octets, at most 253 in all. Checked before any lookup of it. */
bool
arc_name_ok(struct bstr v)
{
	size_t lab = 0;

	if (v.len == 0 || v.len > 253)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = v.p[i];
		if (c == '.') {
			if (lab == 0)
				return false;
			lab = 0;
			continue;
		}
		if (!(digit(c) || ((c | 32) >= 'a' && (c | 32) <= 'z') ||
			c == '-' || c == '_'))
			return false;
		if (++lab > 63)
			return false;
	}
	return lab > 0;
}

/* names_why - d= and s= of a seal or an AMS: NULL, or why not */
static const char *
names_why(struct bstr d, struct bstr s)
{
	if (!arc_name_ok(d))
		return "bad d=";
	if (!arc_name_ok(s))
		return "bad s=";
	return NULL;
}

static const char *
lower_cstr(struct arena *a, struct bstr s)
{
	char *o = arena_strndup(a, (const char *)s.p, s.len);

	if (o == NULL)
		return "";
	for (char *p = o; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 32;
	return o;
}

static enum dkim_alg
alg_of(struct bstr a)
{
	/* RFC 8617 4.1.2/4.1.3: the DKIM algorithms; rsa-sha1 is not
	 * valid (RFC 8301 3.1), so it is not known here. */
	if (dkim__word_eq(a, "rsa-sha256"))
		return DKIM_ALG_RSA_SHA256;
	if (dkim__word_eq(a, "ed25519-sha256"))
		return DKIM_ALG_ED25519_SHA256;
	return DKIM_ALG_UNKNOWN;
}

/* Where each known tag's value goes (a struct bstr member); unknown tags
 * are ignored (RFC 6376 3.2). A tag that is there has a non-NULL .p,
 * even with an empty value. */
struct tagmap {
	const char *name;
	size_t off;
};

static const char *
tags_into(struct bstr value, const struct tagmap *m, size_t nm, void *base)
{
	struct dkim__tag tags[DKIM__MAX_TAGS];
	const char *why;
	int n = dkim__tags_split(value, tags, &why);

	if (n < 0)
		return why;
	for (int k = 0; k < n; k++)
		for (size_t j = 0; j < nm; j++)
			if (bstr_eq(tags[k].name, bstr_cstr(m[j].name))) {
				*(struct bstr *)((char *)base + m[j].off) =
				    tags[k].value;
				break;
			}
	return NULL;
}

#define SEAL_TAG(t)                          \
	{                                    \
#t, offsetof(struct seal, t) \
	}
#define AMS_TAG(t)                                   \
	{                                            \
#t, offsetof(struct dkim_sigtags, t) \
	}

/* ARC-Seal tags (4.1.3): i, a, b, cv, d, s required; t optional; h= is
 * not allowed (the seal covers the ARC sets, not chosen fields). */
static const char *
seal_parse(struct bstr value, struct seal *s)
{
	static const struct tagmap m[] = { SEAL_TAG(a), SEAL_TAG(b),
		SEAL_TAG(cv), SEAL_TAG(d), SEAL_TAG(s), SEAL_TAG(i),
		SEAL_TAG(t), SEAL_TAG(h) };
	unsigned long long tv;
	const char *why;

	memset(s, 0, sizeof(*s));
	if ((why = tags_into(value, m, sizeof(m) / sizeof(m[0]), s)) != NULL)
		return why;
	if (s->h.p)
		return "h= in an ARC-Seal";
	if (!s->i.p || s->a.len == 0 || s->b.len == 0 || s->cv.len == 0 ||
	    s->d.len == 0 || s->s.len == 0)
		return "missing required tag";
	if ((s->alg = alg_of(s->a)) == DKIM_ALG_UNKNOWN)
		return "unknown algorithm";
	if (!bstr_eq(s->cv, BSTR_LIT("none")) &&
	    !bstr_eq(s->cv, BSTR_LIT("pass")) &&
	    !bstr_eq(s->cv, BSTR_LIT("fail")))
		return "bad cv=";
	if (s->t.p && !dkim__parse_ull(s->t, &tv))
		return "bad t=";
	return names_why(s->d, s->s);
}

/* ARC-Message-Signature tags (4.1.2): a DKIM-Signature without v=, i= the
 * instance. h= may be empty but must not name ARC-Seal (4.1.2: the seals
 * are not the AMS's to sign). */
static const char *
ams_parse(struct bstr value, struct dkim_sigtags *t)
{
	static const struct tagmap m[] = { AMS_TAG(a), AMS_TAG(b), AMS_TAG(bh),
		AMS_TAG(c), AMS_TAG(d), AMS_TAG(h), AMS_TAG(i), AMS_TAG(l),
		AMS_TAG(s), AMS_TAG(t), AMS_TAG(x) };
	const char *why;

	memset(t, 0, sizeof(*t));
	if ((why = tags_into(value, m, sizeof(m) / sizeof(m[0]), t)) != NULL)
		return why;
	t->has_l = t->l.p != NULL;
	t->has_t = t->t.p != NULL;
	t->has_x = t->x.p != NULL;
	if (t->a.len == 0 || t->b.len == 0 || t->bh.len == 0 || t->d.len == 0 ||
	    !t->h.p || t->s.len == 0)
		return "missing required tag";
	if ((t->alg = alg_of(t->a)) == DKIM_ALG_UNKNOWN)
		return "unknown algorithm";
	if (!t->c.p) {
		/* No c=: relaxed/relaxed, not DKIM's simple/simple. ARC
		 * sealers sign relaxed (RFC 8617 4.1.3 makes it the only
		 * form for seals); the reference validator (dkimpy) and the
		 * ValiMail suite (ams_fields_c_na: pass) read a missing c=
		 * in an AMS the same way. */
		t->hdr_relaxed = t->body_relaxed = true;
	} else if (dkim__canon_parse(t->c, &t->hdr_relaxed, &t->body_relaxed) <
	    0)
		return "unknown canonicalization";
	if (t->has_l && !dkim__parse_ull(t->l, &t->l_val))
		return "bad l=";
	if (t->has_t && !dkim__parse_ull(t->t, &t->t_val))
		return "bad t=";
	if (t->has_x && !dkim__parse_ull(t->x, &t->x_val))
		return "bad x=";
	if (dkim__list_has(t->h, "arc-seal"))
		return "h= signs ARC-Seal";
	return names_why(t->d, t->s);
}

static bool
keyname(char *out, size_t outsz, struct bstr s, struct bstr d)
{
	int n = snprintf(out, outsz, "%.*s._domainkey.%.*s", (int)s.len,
	    (const char *)s.p, (int)d.len, (const char *)d.p);

	if (n < 0 || (size_t)n >= outsz || n > 253)
		return false;
	for (char *p = out; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 32;
	return true;
}

/* 5.2 steps 1 to 3, and the tags the later steps need. */
static void
collect(struct arc_verify *v)
{
	bool any = false;

	for (size_t k = 0; k < v->nf; k++) {
		enum part p;
		unsigned i;

		for (p = 0; p < P_N; p++)
			if (bstr_caseeq_cstr(v->f[k].name, part_name[p]))
				break;
		if (p == P_N)
			continue;
		any = true;
		i = p == P_AAR ? aar_instance(v->f[k].value)
			       : tag_instance(v->f[k].value);
		if (i == 0) {
			chain_fail(v, "%s without a valid i=", part_name[p]);
			return;
		}
		if (i > ARC_MAX_SETS) {
			chain_fail(v, "more than %d ARC sets", ARC_MAX_SETS);
			return;
		}
		if (v->at[i][p]) {
			chain_fail(v, "two %s with i=%u", part_name[p], i);
			return;
		}
		v->at[i][p] = k + 1;
		if (i > v->n)
			v->n = i;
	}
	v->out.sets = v->n;
	if (!any) {
		v->out.result = ARC_RES_NONE; /* step 1 */
		v->done = true;
		return;
	}
	/* Step 2: the newest seal already says the chain failed. */
	if (v->at[v->n][P_AS]) {
		struct seal *s = &v->seal[v->n];
		const char *why =
		    seal_parse(v->f[v->at[v->n][P_AS] - 1].value, s);
		if (why == NULL && bstr_eq(s->cv, BSTR_LIT("fail"))) {
			chain_fail(v, "ARC-Seal i=%u says cv=fail", v->n);
			return;
		}
	}
	/* Step 3: sets 1..N complete, no gaps; cv=none on 1, pass after. */
	for (unsigned i = 1; i <= v->n; i++) {
		for (enum part p = 0; p < P_N; p++)
			if (v->at[i][p] == 0) {
				chain_fail(v, "ARC set i=%u has no %s", i,
				    part_name[p]);
				return;
			}
		struct seal *s = &v->seal[i];
		const char *why = seal_parse(v->f[v->at[i][P_AS] - 1].value, s);
		if (why) {
			chain_fail(v, "ARC-Seal i=%u: %s", i, why);
			return;
		}
		if (!bstr_eq(
			s->cv, i == 1 ? BSTR_LIT("none") : BSTR_LIT("pass"))) {
			chain_fail(v, "ARC-Seal i=%u has cv=%.*s", i,
			    (int)s->cv.len, (const char *)s->cv.p);
			return;
		}
		s->dl = lower_cstr(v->arena, s->d);
		if (!keyname(s->keyname, sizeof(s->keyname), s->s, s->d)) {
			chain_fail(v, "ARC-Seal i=%u: key name too long", i);
			return;
		}
	}
	const char *why =
	    ams_parse(v->f[v->at[v->n][P_AMS] - 1].value, &v->ams);
	if (why) {
		chain_fail(v, "ARC-Message-Signature i=%u: %s", v->n, why);
		return;
	}
	v->ams_d = lower_cstr(v->arena, v->ams.d);
	if (!keyname(v->ams_key, sizeof(v->ams_key), v->ams.s, v->ams.d)) {
		chain_fail(
		    v, "ARC-Message-Signature i=%u: key name too long", v->n);
		return;
	}
	v->out.sealer = v->seal[v->n].dl;
	v->out.aar_dmarc_pass =
	    aar_has_pass(v->f[v->at[v->n][P_AAR] - 1].value, "dmarc");
}

int
arc_verify_new(struct arena *a, const unsigned char *msg, size_t len,
    struct arc_verify **out)
{
	struct arc_verify *v = arena_calloc(a, 1, sizeof(*v));
	int rc;

	if (v == NULL)
		return -ENOMEM;
	v->arena = a;
	if ((rc = dkim__to_crlf(a, msg, len, &v->msg)) < 0 ||
	    (rc = dkim__split_headers(a, v->msg, &v->f, &v->nf, &v->body)) < 0)
		return rc;
	collect(v);
	*out = v;
	return 0;
}

/* Feed one field's relaxed form (4.1.3: seals use relaxed only) to a
 * digest. */
static int
feed(EVP_MD_CTX *c, struct bstr raw, const struct bstr *strip_b)
{
	struct buf o;
	int rc;

	buf_init(&o, 1u << 20);
	rc = strip_b ? dkim__self_canon(&o, raw, *strip_b, true)
		     : dkim__hdr_canon(&o, raw, true, true);
	if (rc == 0 && !EVP_DigestUpdate(c, o.p, o.len))
		rc = -ENOMEM;
	buf_free(&o);
	return rc;
}

/*
 * 4.1.3 / 5.1.1: seal i signs the ARC sets 1..i in instance order, each
 * as AAR, AMS, AS, the seal itself last without its b= value and without
 * CRLF. Sets 1..i-1 are the same bytes for every later seal, so one
 * running digest carries them and each seal's hash is a copy of it plus
 * its own set: every field is canonicalized and hashed once, not once per
 * later seal (50 sets of 3 KB: 22 ms of CPU before, see .notes/auth.md).
 * hh[i] for i = 1..N; 0 or -ENOMEM.
 */
static int
seal_hashes(struct arc_verify *v, unsigned char (*hh)[EVP_MAX_MD_SIZE])
{
	EVP_MD_CTX *run = EVP_MD_CTX_new(), *one = EVP_MD_CTX_new();
	int rc = -ENOMEM;

	if (run == NULL || one == NULL ||
	    !EVP_DigestInit_ex(run, dkim__sha256_md(), NULL))
		goto out;
	for (unsigned i = 1; i <= v->n; i++) {
		struct bstr aar = v->f[v->at[i][P_AAR] - 1].raw,
			    ams = v->f[v->at[i][P_AMS] - 1].raw,
			    as = v->f[v->at[i][P_AS] - 1].raw;
		unsigned len;

		if ((rc = feed(run, aar, NULL)) < 0 ||
		    (rc = feed(run, ams, NULL)) < 0)
			goto out;
		rc = -ENOMEM;
		if (!EVP_MD_CTX_copy_ex(one, run))
			goto out;
		if ((rc = feed(one, as, &v->seal[i].b)) < 0)
			goto out;
		rc = -ENOMEM;
		if (!EVP_DigestFinal_ex(one, hh[i], &len))
			goto out;
		if ((rc = feed(run, as, NULL)) < 0)
			goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(run);
	EVP_MD_CTX_free(one);
	return rc;
}

/* Step 8 for seal i: 0 pass, else the chain's end is set. */
static int
seal_check(struct arc_verify *v, unsigned i, const struct authres_answer *ans,
    const unsigned char *hh)
{
	struct seal *s = &v->seal[i];
	struct dkim__job j = { .d = s->dl };
	unsigned char sig[1024];
	long slen;
	EVP_PKEY *pk = dkim__key_load(&j, s->alg, ans);
	int ok = -1;

	if (pk == NULL) {
		if (j.result == DKIM_TEMPERROR) {
			v->out.result = ARC_RES_TEMPERROR;
			v->out.reason = "key lookup failed";
			v->done = true;
		} else
			chain_fail(v, "ARC-Seal i=%u: %s", i, j.reason);
		return -1;
	}
	if ((slen = dkim__b64_decode(s->b, sig, sizeof(sig))) <= 0)
		chain_fail(v, "ARC-Seal i=%u: b= not base64", i);
	else if (!dkim__sig_ok(pk, s->alg, sig, (size_t)slen, hh, 32))
		chain_fail(v, "ARC-Seal i=%u did not verify", i);
	else
		ok = 0;
	EVP_PKEY_free(pk);
	return ok;
}

int
arc_verify_run(struct arc_verify *v, struct authres_dns *dns)
{
	const struct authres_answer *ams_ans, *ans[ARC_MAX_SETS + 1];
	bool missing = false;
	int rc;

	if (v->done)
		return 0;
	/* Every key first, so the lookups go out together. */
	if ((ams_ans = authres_dns_get(dns, v->ams_key, AUTHRES_TXT)) == NULL) {
		if ((rc = authres_dns_want(dns, v->ams_key, AUTHRES_TXT)) < 0)
			return rc;
		missing = true;
	}
	for (unsigned i = 1; i <= v->n; i++) {
		const char *kn = v->seal[i].keyname;
		if ((ans[i] = authres_dns_get(dns, kn, AUTHRES_TXT)) == NULL) {
			if ((rc = authres_dns_want(dns, kn, AUTHRES_TXT)) < 0)
				return rc;
			missing = true;
		}
	}
	if (missing)
		return -EAGAIN;
	/* Step 4: the newest AMS, as a DKIM signature over the message. */
	struct dkim__job j = {
		.f = v->f,
		.nf = v->nf,
		.self = v->at[v->n][P_AMS] - 1,
		.body = v->body,
		.t = &v->ams,
		.d = v->ams_d,
	};
	dkim__verify_job(&j, ams_ans);
	if (j.result == DKIM_TEMPERROR) {
		v->out.result = ARC_RES_TEMPERROR;
		v->out.reason = j.reason;
		v->done = true;
		return 0;
	}
	if (j.result != DKIM_PASS) {
		chain_fail(v, "ARC-Message-Signature i=%u: %s", v->n,
		    j.reason ? j.reason : "did not verify");
		return 0;
	}
	/* Steps 5-7 (oldest-pass) are optional and left out: they cost a
	 * key lookup per older set and change no verdict. Step 8: every
	 * seal, newest first. */
	unsigned char(*hh)[EVP_MAX_MD_SIZE] =
	    arena_alloc(v->arena, (v->n + 1) * sizeof(*hh));
	if (hh == NULL || seal_hashes(v, hh) < 0) {
		v->out.result = ARC_RES_TEMPERROR;
		v->out.reason = "out of memory";
		v->done = true;
		return 0;
	}
	for (unsigned i = v->n; i >= 1; i--)
		if (seal_check(v, i, ans[i], hh[i]) < 0)
			return 0;
	v->out.result = ARC_RES_PASS; /* step 9 */
	v->done = true;
	return 0;
}

const struct arc_out *
arc_verify_out(const struct arc_verify *v)
{
	return &v->out;
}

/* Sealing (RFC 8617 5.1) --------------------------------------------------
 *
 * The AAR is the consolidation of our own Authentication-Results fields
 * (the ValiMail suite's rule: every A-R whose authserv-id is ours, in
 * message order, each result on its own line); the cv= is their arc=
 * result, which filterd wrote when the message came in. The AMS is a DKIM
 * signature over the message with i= instead of v=, the AS covers every
 * set (the new one included). Tags come in the suite's standardized order
 * and spacing, so its expected b= values are reproducible; folding is
 * only after "; ", which relaxed canonicalization reads as that one
 * space. */

/* Append a field to out with every "; " folded onto a new line. The
 * continuation starts with a space, not a TAB: dkimpy (1.1) finds the AMS
 * of instance N by the text " i=N;" in it. */
static int
put_folded(struct buf *out, const char *name, struct bstr v)
{
	int rc = buf_printf(out, "%s: ", name);

	for (size_t i = 0; i < v.len && rc == 0; i++) {
		if (v.p[i] == ' ' && i > 0 && v.p[i - 1] == ';')
			rc = buf_puts(out, "\r\n ");
		else
			rc = buf_putc(out, v.p[i]);
	}
	return rc ? rc : buf_puts(out, "\r\n");
}

/* Append "name: value" in relaxed form to canon (CRLF when crlf). */
static int
canon_field(
    struct buf *canon, const char *name, const struct buf *value, bool crlf)
{
	struct buf f;
	int rc;

	buf_init(&f, value->len + strlen(name) + 3);
	if ((rc = buf_printf(&f, "%s: ", name)) == 0 &&
	    (rc = buf_append(&f, value->p, value->len)) == 0)
		rc = dkim__hdr_canon(canon, buf_bstr(&f), true, crlf);
	buf_free(&f);
	return rc;
}

/* The rsa-sha256 signature over hh, base64, appended to b64out. */
static int
rsa_sign(
    EVP_PKEY *pk, const unsigned char *hh, unsigned hhlen, struct buf *b64out)
{
	unsigned char sig[1024];
	size_t siglen = sizeof(sig);
	int rc = dkim__sign_hash(pk, false, hh, hhlen, sig, &siglen);

	return rc < 0 ? rc : dkim__b64(b64out, sig, siglen);
}

/* The value with its b= filled in: "...; b=" + sig + rest. */
static int
fill_b(struct buf *dst, const struct buf *tmpl, size_t at, const struct buf *b)
{
	int rc = buf_append(dst, tmpl->p, at);

	if (rc == 0)
		rc = buf_append(dst, b->p, b->len);
	if (rc == 0)
		rc = buf_append(dst, tmpl->p + at, tmpl->len - at);
	return rc;
}

int
arc_seal(const struct arc_seal_req *rq, struct buf *out, const char **why)
{
	struct arena *a = arena_new(0);
	struct arc_verify *v;
	struct buf aar, ams, amsv, as, asv, canon, b;
	struct bstr parts[64];
	size_t nparts = 0, arcn = 0, at;
	const char *cv = "none";
	unsigned char bh[64], hh[64];
	unsigned bhlen, hhlen, n;
	bool used[1000] = { false };
	int rc = 0;

	*why = NULL;
	buf_init(&aar, 64 * 1024);
	buf_init(&ams, 64 * 1024);
	buf_init(&amsv, 64 * 1024);
	buf_init(&as, 16 * 1024);
	buf_init(&asv, 16 * 1024);
	buf_init(&canon, 4u << 20);
	buf_init(&b, 4096);
	if (a == NULL || arc_verify_new(a, rq->msg, rq->len, &v) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	/* Our A-R fields, in message order: the AAR and the cv. */
	for (size_t k = 0; k < v->nf; k++) {
		struct bstr id, p[64];
		size_t np;

		if (!bstr_caseeq_cstr(v->f[k].name, "Authentication-Results"))
			continue;
		np = ar_results(v->f[k].value, &id, p, 64);
		if (!bstr_caseeq_cstr(id, rq->srv_id))
			continue;
		for (size_t i = 0; i < np && nparts < 64; i++) {
			struct bstr m, r;
			resinfo(p[i], &m, &r);
			if (bstr_caseeq_cstr(m, "arc")) {
				arcn++;
				cv = bstr_caseeq_cstr(r, "pass")  ? "pass"
				    : bstr_caseeq_cstr(r, "none") ? "none"
				    : bstr_caseeq_cstr(r, "temperror")
				    ? "temperror"
				    : "fail";
			}
			parts[nparts++] = p[i];
		}
	}
	if (nparts == 0) {
		*why = arc_seal_not_ours;
		goto out;
	}
	if (arcn > 1)
		cv = "fail";
	/* A key lookup failed when the message came in: the chain was not
	 * judged, and a seal would fix "fail" on it for good. */
	if (strcmp(cv, "temperror") == 0) {
		*why = "our arc= result is temperror";
		goto out;
	}
	/* The chain so far: its newest instance, and whether it failed. */
	n = v->n;
	if (n && v->at[n][P_AS] && bstr_eq(v->seal[n].cv, BSTR_LIT("fail"))) {
		*why = "the newest ARC-Seal already says cv=fail";
		goto out;
	}
	if (n >= ARC_MAX_SETS) {
		*why = "the chain has 50 ARC sets";
		goto out;
	}
	if ((n == 0) != (strcmp(cv, "none") == 0)) {
		*why = n ? "our Authentication-Results has no arc= result"
			 : "arc= result without ARC sets";
		goto out;
	}
	/* A chain we could not take apart cannot be covered. */
	if (n && v->out.result == ARC_RES_FAIL && v->done &&
	    strcmp(cv, "fail") != 0) {
		*why = "the chain is broken";
		goto out;
	}
	n++;
	/* AAR: "i=N; srv-id; r1;\r\n\tr2 ..." */
	if ((rc = buf_printf(&aar, "i=%u; %s", n, rq->srv_id)) < 0)
		goto out;
	for (size_t i = 0; i < nparts && rc == 0; i++)
		rc = buf_printf(&aar, "; %.*s", (int)parts[i].len,
		    (const char *)parts[i].p);
	if (rc < 0)
		goto out;
	/* AMS: body hash, then the signed fields and itself. */
	if ((rc = dkim__body_hash(v->body, true, bh, &bhlen)) < 0)
		goto out;
	if ((rc = buf_puts(&amsv, "a=rsa-sha256; b=; bh=")) < 0 ||
	    (rc = dkim__b64(&amsv, bh, bhlen)) < 0)
		goto out;
	if ((rc = buf_printf(
		 &amsv, "; c=relaxed/relaxed; d=%s; h=", rq->domain)) < 0)
		goto out;
	{
		/* default: the DKIM signer's list, the fields present */
		size_t nh = rq->nheaders;
		const char *const *h =
		    rq->headers ? rq->headers : dkim__sign_headers(&nh);
		bool first = true;

		for (size_t i = 0; i < nh && rc == 0; i++) {
			size_t cnt = 1;
			if (rq->headers == NULL) { /* the ones present */
				cnt = 0;
				for (size_t k = 0; k < v->nf; k++)
					cnt += bstr_caseeq_cstr(
					    v->f[k].name, h[i]);
			}
			for (size_t c = 0; c < cnt && rc == 0; c++) {
				rc = buf_printf(
				    &amsv, "%s%s", first ? "" : ":", h[i]);
				first = false;
				/* 5.4.2 (RFC 6376): bottom-most unused */
				for (size_t k = v->nf; k-- > 0 && rc == 0;) {
					if (k >= 1000 || used[k] ||
					    !bstr_caseeq_cstr(
						v->f[k].name, h[i]))
						continue;
					used[k] = true;
					rc = dkim__hdr_canon(
					    &canon, v->f[k].raw, true, true);
					break;
				}
			}
		}
	}
	if (rc < 0 ||
	    (rc = buf_printf(
		 &amsv, "; i=%u; s=%s; t=%lld", n, rq->selector, rq->t)) < 0)
		goto out;
	at = strlen("a=rsa-sha256; b=");
	if ((rc = canon_field(&canon, "ARC-Message-Signature", &amsv, false)) <
		0 ||
	    (rc = dkim__sha256(canon.p, canon.len, hh, &hhlen)) < 0 ||
	    (rc = rsa_sign(rq->key, hh, hhlen, &b)) < 0)
		goto out;
	if ((rc = fill_b(&ams, &amsv, at, &b)) < 0)
		goto out;
	/* AS: the sets 1..N-1 as they are, then ours, relaxed. */
	buf_reset(&canon);
	buf_reset(&b);
	if ((rc = buf_printf(&asv,
		 "a=rsa-sha256; b=; cv=%s; d=%s; i=%u; s=%s; t=%lld", cv,
		 rq->domain, n, rq->selector, rq->t)) < 0)
		goto out;
	/* 5.1.2: sealing a failed chain, the seal covers only its own set
	 * (the ones before it may be anything) */
	for (unsigned k = 1; k < n && rc == 0 && strcmp(cv, "fail") != 0; k++)
		for (enum part p = 0; p < P_N && rc == 0; p++)
			if (v->at[k][p])
				rc = dkim__hdr_canon(&canon,
				    v->f[v->at[k][p] - 1].raw, true, true);
	if (rc == 0)
		rc = canon_field(
		    &canon, "ARC-Authentication-Results", &aar, true);
	if (rc == 0)
		rc = canon_field(&canon, "ARC-Message-Signature", &ams, true);
	if (rc == 0) /* the seal itself last: b= empty, no CRLF */
		rc = canon_field(&canon, "ARC-Seal", &asv, false);
	if (rc < 0 || (rc = dkim__sha256(canon.p, canon.len, hh, &hhlen)) < 0 ||
	    (rc = rsa_sign(rq->key, hh, hhlen, &b)) < 0)
		goto out;
	if ((rc = fill_b(&as, &asv, at, &b)) < 0)
		goto out;
	if ((rc = put_folded(out, "ARC-Seal", buf_bstr(&as))) < 0 ||
	    (rc = put_folded(out, "ARC-Message-Signature", buf_bstr(&ams))) <
		0 ||
	    (rc = put_folded(
		 out, "ARC-Authentication-Results", buf_bstr(&aar))) < 0)
		goto out;
	rc = 1;
out:
	buf_free(&aar);
	buf_free(&ams);
	buf_free(&amsv);
	buf_free(&as);
	buf_free(&asv);
	buf_free(&canon);
	buf_free(&b);
	arena_free(a);
	return rc;
}
