/*
 * bayes/bayes - learn and classify whole messages against a store
 *
 * Glue between the tokenizer, the store and the combining math. Memory:
 * token sets and count arrays are malloc'ed per call and freed before
 * returning. Errors: -errno from the store or -ENOMEM; no logging.
 */
#include "bayes/bayes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mail/msg.h"

/* bayes_seen_id - 128-bit id from Message-ID and the raw body */
void
bayes_seen_id(const struct msg *m, const uint8_t key[16], uint8_t out[16])
{
	const struct msg_header *mid = msg_header_get(m, "message-id", 0);
	struct bstr id = mid != NULL ? bstr_trim(mid->value) : BSTR_NULL;
	struct bstr body = msg_raw_body(m);
	uint8_t k2[16], tmp[8 + 998];
	uint64_t hb = bayes_siphash(key, body.p, body.len), a, b;
	size_t il = id.len < 998 ? id.len : 998;

	for (int i = 0; i < 8; i++)
		tmp[i] = (uint8_t)(hb >> (8 * i));
	if (il > 0)
		memcpy(tmp + 8, id.p, il);
	for (int i = 0; i < 16; i++)
		k2[i] = key[i] ^ 0x5c;
	a = bayes_siphash(key, tmp, 8 + il);
	b = bayes_siphash(k2, tmp, 8 + il);
	for (int i = 0; i < 8; i++) {
		out[i] = (uint8_t)(a >> (56 - 8 * i));
		out[8 + i] = (uint8_t)(b >> (56 - 8 * i));
	}
}

/* bayes_prepare - token set and seen id of one message */
int
bayes_prepare(const struct msg *m, const uint8_t key[16],
    struct bayes_tokset *ts, uint8_t seen[16])
{
	bayes_tokset_init(ts, key);
	bayes_seen_id(m, key, seen);
	return bayes_tokenize(m, ts);
}

/* bayes_learn_msg - learn, relearn or forget one message */
int
bayes_learn_msg(
    struct bayes_store *st, const struct msg *m, int cls, uint32_t now)
{
	struct bayes_vars v;
	struct bayes_tokset ts;
	uint8_t seen[16];
	int rc;

	if ((rc = bayes_store_vars(st, &v)) < 0)
		return rc;
	bayes_tokset_init(&ts, v.hashkey);
	if ((rc = bayes_tokenize(m, &ts)) < 0)
		goto out;
	bayes_seen_id(m, v.hashkey, seen);
	rc = bayes_store_learn(st, seen, cls, ts.v, ts.n, now);
out:
	bayes_tokset_free(&ts);
	return rc;
}

/* bayes_classify_toks - counts -> per-token f(w) -> chi-square */
int
bayes_classify_toks(struct bayes_store *st, const struct bayes_vars *v,
    const uint64_t *toks, size_t n, uint64_t min_spam, uint64_t min_ham,
    uint32_t touch, struct bayes_result *res)
{
	struct bayes_tokval *tv = NULL;
	double *probs = NULL;
	uint64_t *stale = NULL;
	size_t k = 0, nstale = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	res->ntokens = n;
	res->nspam = v->nspam;
	res->nham = v->nham;
	if (v->nspam < min_spam || v->nham < min_ham || v->nspam == 0 ||
	    v->nham == 0 || n == 0)
		return 1;
	tv = malloc(n * sizeof(*tv));
	probs = malloc(n * sizeof(*probs));
	if (tv == NULL || probs == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = bayes_store_get(st, toks, n, tv)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		double p =
		    bayes_token_prob(tv[i].spam, tv[i].ham, v->nspam, v->nham);

		if (p >= 0)
			probs[k++] = p;
		/* reuse the count array for the tokens to touch */
		if (touch != 0 && p >= 0 &&
		    tv[i].atime + (uint64_t)BAYES_TOUCH_AGE < touch)
			tv[nstale++].tok = toks[i];
	}
	res->nused = k;
	res->prob = bayes_combine(probs, k, v->nspam, v->nham);
	rc = res->prob < 0 ? 1 : 0;
	if (nstale > 0 && (stale = malloc(nstale * sizeof(*stale))) != NULL) {
		for (size_t i = 0; i < nstale; i++)
			stale[i] = tv[i].tok;
		/* best effort: a busy store (a learner) skips the touch */
		(void)bayes_store_touch(st, stale, nstale, touch);
	}
out:
	free(stale);
	free(tv);
	free(probs);
	return rc;
}

/* bayes_classify_msg_touch - tokenize with the store's key and classify */
int
bayes_classify_msg_touch(struct bayes_store *st, const struct msg *m,
    uint64_t min_spam, uint64_t min_ham, uint32_t touch,
    struct bayes_result *res)
{
	struct bayes_vars v;
	struct bayes_tokset ts;
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = bayes_store_vars(st, &v)) < 0)
		return rc;
	if (v.nspam < min_spam || v.nham < min_ham) {
		res->nspam = v.nspam;
		res->nham = v.nham;
		return 1; /* not enough training: skip tokenizing */
	}
	bayes_tokset_init(&ts, v.hashkey);
	if ((rc = bayes_tokenize(m, &ts)) >= 0)
		rc = bayes_classify_toks(
		    st, &v, ts.v, ts.n, min_spam, min_ham, touch, res);
	bayes_tokset_free(&ts);
	return rc;
}

/* bayes_classify_msg - classify without touching the store */
int
bayes_classify_msg(struct bayes_store *st, const struct msg *m,
    uint64_t min_spam, uint64_t min_ham, struct bayes_result *res)
{
	return bayes_classify_msg_touch(st, m, min_spam, min_ham, 0, res);
}
