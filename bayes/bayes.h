/*
 * bayes/bayes.h - learn and classify whole messages against a store
 *
 * The layer the check adapter and filterctl use: tokenizes a parsed
 * message with the store's hash key, derives its seen id, and turns the
 * store's counts into a chi-square probability.
 */
#ifndef BAYES_BAYES_H
#define BAYES_BAYES_H

#include <stddef.h>
#include <stdint.h>

#include "bayes/classify.h"
#include "bayes/store.h"
#include "bayes/token.h"

struct msg;

/* bayes_seen_id - 128-bit id of a message: SipHash of the Message-ID (or
 * "" when missing) and of the raw body, so a resent copy with the same
 * Message-ID but another body is a different message */
void bayes_seen_id(const struct msg *, const uint8_t key[16], uint8_t out[16]);

/* bayes_prepare - m's token set (under key) and seen id, for batches;
 * ts is initialised here and freed by the caller. 0 or -ENOMEM */
int bayes_prepare(const struct msg *, const uint8_t key[16],
    struct bayes_tokset *ts, uint8_t seen[16]);

/* bayes_learn_msg - learn m as cls (BAYES_SPAM/HAM/FORGET); returns
 * BAYES_LEARNED, BAYES_ALREADY, BAYES_NOTSEEN or -errno */
int bayes_learn_msg(
    struct bayes_store *, const struct msg *, int cls, uint32_t now);

struct bayes_result {
	double prob;	      /* 0..1, valid when rc == 0 */
	size_t ntokens;	      /* tokens in the message */
	size_t nused;	      /* tokens found in the store */
	uint64_t nspam, nham; /* training totals */
};

/* bayes_classify_toks - classify an already tokenized set. Returns 0
 * (res->prob set), 1 when there is no result (fewer than min_spam spam or
 * min_ham ham learned, or no usable token), or -errno. */
int bayes_classify_toks(struct bayes_store *, const struct bayes_vars *,
    const uint64_t *toks, size_t n, uint64_t min_spam, uint64_t min_ham,
    uint32_t touch, struct bayes_result *res);
/* With touch != 0 (a unix time) the known tokens whose atime is more than
 * BAYES_TOUCH_AGE older get atime = touch, as SA does after a scan; a busy
 * store skips it. bayes_classify_msg never touches (filterctl, benches);
 * bayes_classify_msg_touch is the scan's. */
#define BAYES_TOUCH_AGE 3600
int bayes_classify_msg_touch(struct bayes_store *, const struct msg *,
    uint64_t min_spam, uint64_t min_ham, uint32_t touch,
    struct bayes_result *res);
/* bayes_classify_msg - tokenize m and classify, as above */
int bayes_classify_msg(struct bayes_store *, const struct msg *,
    uint64_t min_spam, uint64_t min_ham, struct bayes_result *res);

#endif
