/* bayes/token.h - Bayes tokens: keyed 64-bit hashes of words and facts */
#ifndef BAYES_TOKEN_H
#define BAYES_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct msg;

/* The SipHash-2-4 key every new store records (vars "hashkey"): the ASCII
 * bytes "filterd-bayes-01". A store keeps its key, so a backup restored
 * elsewhere still hashes tokens the same way. */
#define BAYES_HASHKEY_DEFAULT "filterd-bayes-01"
#define BAYES_MAX_TOKEN_LEN 15 /* longer words become "sk:" tokens (SA) */
#define BAYES_MAX_TOKENS 20000 /* per message; more are dropped */

/* A message's token set: malloc'ed, sorted and unique after
 * bayes_tokset_finish(). */
struct bayes_tokset {
	uint8_t key[16];
	uint64_t *v;
	size_t n, cap;
	int err; /* first error (-ENOMEM); adds after it are no-ops */
};

void bayes_tokset_init(struct bayes_tokset *, const uint8_t key[16]);
void bayes_tokset_free(struct bayes_tokset *);
/* bayes_tokset_reset - empty the set for the next message, keeping its
 * key and array (a learning loop allocates once) */
void bayes_tokset_reset(struct bayes_tokset *);
/* bayes_tokset_finish - sort and drop duplicates (a token counts once per
 * message, as in SA and bogofilter); returns 0 or the first error. */
int bayes_tokset_finish(struct bayes_tokset *);

/* bayes_sort_u64 - sort v[0..n) ascending */
void bayes_sort_u64(uint64_t *v, size_t n);

/* bayes_siphash - SipHash-2-4 of p[0..len) under key */
uint64_t bayes_siphash(const uint8_t key[16], const void *p, size_t len);

/* bayes_tok_add - add the token prefix+word (bytes as given) */
void bayes_tok_add(struct bayes_tokset *, const char *prefix,
    const unsigned char *w, size_t len);
/* bayes_tok_text - split UTF-8 text into words and add them with prefix
 * ("" for body text): lowercased ASCII, words of 3..15 bytes, longer ones
 * as "sk:" + first 7 bytes, CJK runs as character bigrams. */
void bayes_tok_text(
    struct bayes_tokset *, const char *prefix, struct bstr text);
/* bayes_tok_body - body text: bayes_tok_text(ts, "", text) plus "C:" and
 * each word of 3..15 bytes with ASCII capitals, case kept. */
void bayes_tok_body(struct bayes_tokset *, struct bstr text);
/* bayes_is_word - code point c belongs to a word as bayes_tok_text
 * splits text; bayes_is_trim - an ASCII byte it trims off a word's ends */
bool bayes_is_word(uint32_t c);
bool bayes_is_trim(unsigned char c);
/* bayes_tok_domain - "prefix" + host and each parent domain */
void bayes_tok_domain(
    struct bayes_tokset *, const char *prefix, struct bstr host);

/* bayes_tokenize - all tokens of a parsed message (body words, selected
 * headers, URI hosts, MIME facts) into ts; returns bayes_tokset_finish(). */
int bayes_tokenize(const struct msg *, struct bayes_tokset *);

#endif
