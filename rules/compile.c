/*
 * rules/compile - rule regexes to PCRE2 JIT, literal prefilter, meta order
 *
 * After parsing: replace_tag substitution, Perl regex -> PCRE2 (delimiters
 * and flags; Perl-only constructs reported), one JIT-compiled pattern per
 * rule run under a shared match context with match and depth limits (a
 * hostile message cannot make a rule backtrack for long), eval lookup, meta
 * compilation in dependency order, and the prefilter: for each regex the
 * literals of which one must occur in the (lowercased) text, all of them in
 * one Aho-Corasick automaton, so one pass over each text decides which
 * rules can match at all.
 *
 * Memory: owned by the rule set. Errors: a rule that cannot be compiled is
 * marked broken with a diagnostic and never fires; only -ENOMEM fails.
 */
#include "rules/rules_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define MATCH_LIMIT 200000u
#define DEPTH_LIMIT 2000u
#define MAX_LITS_PER_RULE 64
#define MIN_LIT 2
#define MAX_LIT 64
#define HS_BUDGET_MS 300.0 /* Hyperscan compile, CPU time per rule set */

/* Regex translation ------------------------------------------------------ */

int
rule_regex_translate(
    const char *src, char *out, size_t outsz, unsigned *opts, const char **why)
{
	const char *p = src, *body, *end;
	char open, close;
	size_t blen;
	int depth = 1;

	*opts = 0;
	*why = NULL;
	if (*p == 'm' && p[1] != '\0' && !isalnum((unsigned char)p[1]))
		p++;
	open = *p;
	close = rule__close_delim(open);
	if (open == '\0' || isalnum((unsigned char)open) ||
	    isspace((unsigned char)open)) {
		*why = "regex must be /.../ or m{...}";
		return -EINVAL;
	}
	body = ++p;
	for (; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0') {
			p++;
			continue;
		}
		if (open != close && *p == open)
			depth++;
		else if (*p == close && --depth == 0)
			break;
	}
	if (*p == '\0') {
		*why = "unterminated regex";
		return -EINVAL;
	}
	end = p;
	for (p++; *p != '\0'; p++) {
		switch (*p) {
		case 'i':
			*opts |= PCRE2_CASELESS;
			break;
		case 'm':
			*opts |= PCRE2_MULTILINE;
			break;
		case 's':
			*opts |= PCRE2_DOTALL;
			break;
		case 'x':
			*opts |= PCRE2_EXTENDED;
			break;
		case 'o':
		case 'g':
		case 'a':
		case 'u':
		case 'l':
		case 'd':
			break; /* no meaning for a match on bytes */
		default:
			*why = "unsupported regex flag";
			return -EINVAL;
		}
	}
	blen = (size_t)(end - body);
	/* Perl constructs PCRE2 does not have: code blocks and case
	 * modification escapes. */
	for (size_t i = 0; i < blen; i++) {
		if (body[i] == '\\' && i + 1 < blen) {
			char c = body[i + 1];

			if (c == 'l' || c == 'u' || c == 'L' || c == 'U') {
				*why = "Perl case-modification escape";
				return -EINVAL;
			}
			i++;
			continue;
		}
		if (body[i] == '(' && i + 2 < blen && body[i + 1] == '?' &&
		    (body[i + 2] == '{' ||
			(body[i + 2] == '?' && i + 3 < blen &&
			    body[i + 3] == '{'))) {
			*why = "Perl code block (?{...})";
			return -EINVAL;
		}
	}
	if (blen + 1 > outsz) {
		*why = "regex too long";
		return -EINVAL;
	}
	memcpy(out, body, blen);
	out[blen] = '\0';
	return 0;
}

/* Literal extraction ----------------------------------------------------- */

struct litbuf {
	char best[MAX_LIT + 1];
	size_t bestlen;
	char run[MAX_LIT + 1];
	size_t runlen;
};

static void
commit_run(struct litbuf *lb)
{
	if (lb->runlen > lb->bestlen) {
		memcpy(lb->best, lb->run, lb->runlen);
		lb->bestlen = lb->runlen;
		lb->best[lb->bestlen] = '\0';
	}
	lb->runlen = 0;
}

/* skip_class - p at '[', returns just past the closing ']' or NULL */
static const char *
skip_class(const char *p, const char *e)
{
	p++;
	if (p < e && *p == '^')
		p++;
	if (p < e && *p == ']')
		p++;
	for (; p < e; p++) {
		if (*p == '\\') {
			p++;
			continue;
		}
		if (*p == '[' && p + 1 < e && p[1] == ':') {
			const char *c = strstr(p + 2, ":]");

			if (c != NULL && c < e) {
				p = c + 1;
				continue;
			}
		}
		if (*p == ']')
			return p + 1;
	}
	return NULL;
}

/* skip_group - p at '(', returns just past the matching ')' or NULL */
static const char *
skip_group(const char *p, const char *e)
{
	int depth = 0;

	for (; p < e; p++) {
		if (*p == '\\') {
			p++;
			continue;
		}
		if (*p == '[') {
			if ((p = skip_class(p, e)) == NULL)
				return NULL;
			p--;
			continue;
		}
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
	}
	return NULL;
}

/* quant - a quantifier at p: length consumed, *min set; 0 if none */
static size_t
quant(const char *p, const char *e, unsigned *min)
{
	const char *q = p;

	if (p >= e)
		return 0;
	if (*p == '?' || *p == '*') {
		*min = 0;
		q++;
	} else if (*p == '+') {
		*min = 1;
		q++;
	} else if (*p == '{') {
		unsigned m = 0;
		bool dig = false;

		for (q++; q < e && isdigit((unsigned char)*q); q++) {
			m = m * 10 + (unsigned)(*q - '0');
			dig = true;
			if (m > 100000)
				m = 100000;
		}
		if (!dig)
			return 0; /* literal '{' in PCRE2 */
		if (q < e && *q == ',')
			for (q++; q < e && isdigit((unsigned char)*q); q++)
				;
		if (q >= e || *q != '}')
			return 0;
		q++;
		*min = m;
	} else {
		return 0;
	}
	if (q < e && (*q == '?' || *q == '+'))
		q++;
	return (size_t)(q - p);
}

/* one_alt - best required literal of one top-level alternative */
static bool
one_alt(const char *p, const char *e, struct litbuf *lb, const char **gs,
    const char **ge)
{
	lb->bestlen = lb->runlen = 0;
	*gs = *ge = NULL;
	while (p < e) {
		unsigned min;
		size_t ql;
		int lit = -1;

		if (*p == '\\') {
			if (p + 1 >= e)
				return false;
			if (p[1] == 'Q' || p[1] == 'E')
				return false;
			if (!isalnum((unsigned char)p[1]))
				lit = (unsigned char)p[1];
			else if (p[1] == 'x' || p[1] == 'c' || p[1] == 'o' ||
			    p[1] == 'p' || p[1] == 'P' || p[1] == 'N' ||
			    p[1] == 'g' || p[1] == 'k' ||
			    isdigit((unsigned char)p[1]))
				return false; /* arguments we do not parse */
			p += 2;
		} else if (*p == '[') {
			if ((p = skip_class(p, e)) == NULL)
				return false;
		} else if (*p == '(') {
			const char *g = p;

			if ((p = skip_group(p, e)) == NULL)
				return false;
			/* inline flags (?x) change how the rest reads */
			if (g[1] == '?' && memchr(g, 'x', (size_t)(p - g)) &&
			    g[2] != ':' && g[2] != '=' && g[2] != '!' &&
			    g[2] != '<')
				return false;
			/* a group that must match once: its own literals
			 * can stand in when the run outside has none */
			if ((g[1] != '?' || g[2] == ':') &&
			    (quant(p, e, &min) == 0 || min > 0) &&
			    (*gs == NULL || p - g > *ge - *gs)) {
				*gs = g + (g[1] == '?' ? 3 : 1);
				*ge = p - 1;
			}
		} else if (*p == '.' || *p == '^' || *p == '$') {
			p++;
		} else if (*p == ')' || *p == '|') {
			return false; /* unbalanced: give up */
		} else {
			lit = (unsigned char)*p++;
		}
		ql = quant(p, e, &min);
		if (lit < 0) {
			commit_run(lb);
			p += ql;
			continue;
		}
		if (ql > 0) {
			if (min > 0 && lb->runlen < MAX_LIT)
				lb->run[lb->runlen++] = (char)tolower(lit);
			commit_run(lb);
			p += ql;
			continue;
		}
		if (lb->runlen == MAX_LIT)
			commit_run(lb);
		lb->run[lb->runlen++] = (char)tolower(lit);
	}
	commit_run(lb);
	return lb->bestlen >= MIN_LIT;
}

/* alt_end - end of the top-level alternative that starts at p: the next
 * '|' outside groups and classes, or e; NULL on a broken class */
static const char *
alt_end(const char *p, const char *e)
{
	int lvl = 0;

	for (; p < e; p++) {
		if (*p == '\\') {
			if (++p >= e)
				return e;
			continue;
		}
		if (*p == '[') {
			if ((p = skip_class(p, e)) == NULL)
				return NULL;
			p--;
			continue;
		}
		if (*p == '(')
			lvl++;
		else if (*p == ')')
			lvl--;
		else if (*p == '|' && lvl == 0)
			return p;
	}
	return e;
}

/* extract_rec - literals of which one must occur in [p, e) */
static bool
extract_rec(const char *p, const char *e, char lits[][MAX_LIT + 1],
    size_t *nlits, int depth)
{
	const char *a, *q, *gs, *ge;
	struct litbuf lb;

	if (depth > 4)
		return false;
	for (a = p;; a = q + 1) {
		if ((q = alt_end(a, e)) == NULL)
			return false;
		if (one_alt(a, q, &lb, &gs, &ge)) {
			if (*nlits == MAX_LITS_PER_RULE)
				return false;
			memcpy(lits[*nlits], lb.best, lb.bestlen + 1);
			(*nlits)++;
		} else if (gs == NULL ||
		    !extract_rec(gs, ge, lits, nlits, depth + 1)) {
			return false;
		}
		if (q >= e)
			break;
	}
	return *nlits > 0;
}

/* extract - literals of which one must occur; false: always run */
static bool
extract(const char *pat, unsigned opts, char lits[][MAX_LIT + 1], size_t *nlits)
{
	*nlits = 0;
	if (opts & PCRE2_EXTENDED)
		return false;
	return extract_rec(pat, pat + strlen(pat), lits, nlits, 0);
}

/* Factors: a regex prefilter for rules without literals ------------------ */

/* A "factor" of an alternative is a run of consecutive atoms (literal
 * bytes, classes, dots, simple groups copied verbatim) each of which must
 * match exactly once, one after the other: wherever the whole pattern
 * matches, its factor matches inside the same text. The factors of all
 * top-level alternatives, joined by '|', make a pattern Hyperscan compiles
 * quickly (no repeats, no lookaround) and whose absence from a text proves
 * the rule cannot match there: SA's replace_tag rules (<A><B>... expanded
 * to big byte alternations) have no literal but long factors. */

#define FACTOR_MAX_ATOMS 8
#define FACTOR_MAX_RUN 64
#define FACTOR_MIN_ATOMS 3
#define FACTOR_MIN_SCORE 12 /* or fewer atoms worth 3 letters */

/* group_simple - a group Hyperscan can take verbatim inside a factor:
 * (?:...) or (...) without lookaround, backreference, inline flags or
 * other (? constructs inside */
static bool
group_simple(const char *g, const char *ge)
{
	if (g[1] == '?' && g[2] != ':')
		return false;
	for (const char *q = g + 1; q < ge; q++) {
		if (*q == '\\') {
			q++;
			if (q < ge && (isdigit((unsigned char)*q) || *q == 'g' ||
			    *q == 'k' || *q == 'Q' || *q == 'E' || *q == 'G' ||
			    *q == 'K' || *q == 'p' || *q == 'P' || *q == 'N' ||
			    *q == 'R' || *q == 'X' || *q == 'A' || *q == 'z' ||
			    *q == 'Z' || *q == 'c' || *q == 'o'))
				return false;
			continue;
		}
		if (*q == '[') {
			if ((q = skip_class(q, ge)) == NULL)
				return false;
			q--;
			continue;
		}
		if (*q == '(' && q[1] == '?' && q[2] != ':')
			return false;
		if (*q == '(' && q[1] == '*')
			return false;
	}
	return true;
}

/* factor_score - how much a factor atom [a, ae) narrows where the
 * pattern can match: a literal letter or digit most (rare in a text at
 * a given place), another literal byte little ('/', '.', ' ' are in
 * every URI and line), a class, a dot or a group nothing. Hyperscan
 * finds a factor of literals with its literal matcher; classes make
 * automaton states. */
static unsigned
factor_score(const char *a, const char *ae)
{
	unsigned min = UINT_MAX, n = 0;

	if (ae - a == 1)
		return isalnum((unsigned char)*a) ? 4 : *a == '.' ? 0 : 1;
	if (a[0] == '\\' && ae - a == 2 && !isalnum((unsigned char)a[1]))
		return 1; /* an escaped punctuation byte */
	if (a[0] != '(')
		return 0;
	/* a group of literal alternatives, (?:com|net): as much as its
	 * shortest alternative's letters and digits; anything else in it
	 * (a class, a repeat, a nested group) makes it a 0 */
	for (const char *q = a + (a[1] == '?' ? 3 : 1); q < ae - 1; q++) {
		if (*q == '|') {
			min = n < min ? n : min;
			n = 0;
		} else if (isalnum((unsigned char)*q)) {
			n++;
		} else if (*q == '\\' && q + 1 < ae - 1 &&
		    !isalnum((unsigned char)q[1])) {
			q++;
		} else if (strchr("[](){}?*+.^$", *q) != NULL) {
			return 0;
		}
	}
	min = n < min ? n : min;
	return 4 * (min < 4 ? min : 4);
}

/* factor_alt - the best factor of one alternative [p, e): its bytes into
 * *fs..*fe (a slice of the pattern); false if none is long enough.
 * Within each run of must-match atoms, the window of at most
 * FACTOR_MAX_ATOMS atoms with the highest factor_score sum wins (the
 * longer one on a tie). The first run of 4 atoms used to win: for SA's
 * m,://[^./]+\.web\.app/, "://[^./]", which every URI holds, so the
 * rule's PCRE2 pattern ran on every URI. */
static bool
factor_alt(const char *p, const char *e, const char **fs, const char **fe)
{
	const char *as[FACTOR_MAX_RUN], *aes[FACTOR_MAX_RUN];
	unsigned sc[FACTOR_MAX_RUN];
	size_t rn = 0, bestn = 0;
	unsigned best = 0;

	*fs = *fe = NULL;
	for (;;) {
		const char *a = p, *ae;
		unsigned min;
		size_t ql = 0;
		bool atom = true, end = p >= e;

		if (end) {
			atom = false;
		} else if (*p == '\\') {
			char c;

			if (p + 1 >= e)
				return false;
			c = p[1];
			if (c == 'x' && p + 2 < e && p[2] == '{') {
				const char *q = memchr(p, '}', (size_t)(e - p));

				if (q == NULL)
					return false;
				p = q + 1;
			} else if (c == 'x') {
				p += 2;
				while (p < e && p - a < 4 &&
				    isxdigit((unsigned char)*p))
					p++;
			} else if (!isalnum((unsigned char)c) ||
			    strchr("dDwWsStnrfe", c) != NULL) {
				p += 2;
			} else if (strchr("bBAzZGKhHvVRX", c) != NULL) {
				/* anchors, \K, other sets: the run ends */
				atom = false;
				p += 2;
			} else {
				/* arguments we do not parse (\c \o \p \g
				 * \k \N \Q, octal, backreferences) */
				return false;
			}
		} else if (*p == '[') {
			if ((p = skip_class(p, e)) == NULL)
				return false;
		} else if (*p == '(') {
			if ((p = skip_group(p, e)) == NULL)
				return false;
			atom = group_simple(a, p - 1);
		} else if (*p == '^' || *p == '$' || *p == '|' || *p == ')') {
			atom = false;
			p++;
		} else {
			p++; /* literal byte or '.' */
		}
		ae = p;
		if (!end) {
			ql = quant(p, e, &min);
			p += ql;
			if (ql > 0 && min == 0)
				atom = false;
		}
		if (atom) {
			as[rn] = a;
			aes[rn] = ae;
			sc[rn] = ql > 0 ? 0 : factor_score(a, ae);
			rn++;
		}
		/* a repeated atom ends the run after it (one copy is sure,
		 * what follows may come after more of them); so does a run
		 * as long as the window buffer */
		if (!atom || ql > 0 || rn == FACTOR_MAX_RUN) {
			for (size_t i = 0; i < rn; i++) {
				unsigned s = 0;

				for (size_t j = i; j < rn &&
				     j - i < FACTOR_MAX_ATOMS; j++) {
					s += sc[j];
					if ((j - i + 1 >= FACTOR_MIN_ATOMS ||
						s >= FACTOR_MIN_SCORE) &&
					    (s > best ||
						(s == best &&
						    j - i + 1 > bestn))) {
						best = s;
						bestn = j - i + 1;
						*fs = as[i];
						*fe = aes[j];
					}
				}
			}
			rn = 0;
		}
		if (end)
			break;
	}
	return bestn > 0;
}

/* uri_scheme_len - the bytes of a leading "^https?://" (the ways SA's
 * uri rules write it) at p: every URI a uri rule sees starts so, so a
 * factor taken there ("http") lets the rule's pattern run on every URI */
static size_t
uri_scheme_len(const char *p, const char *e)
{
	static const char *const pre[] = { "^https?://", "^https?:\\/\\/",
		"^https?\\://", "https?://", "https?:\\/\\/", "^http://",
		"^http:\\/\\/", "http://", "http:\\/\\/", "^https://",
		"https://" };

	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t n = strlen(pre[i]);

		if ((size_t)(e - p) >= n && strncasecmp(p, pre[i], n) == 0)
			return n;
	}
	return 0;
}

/* rule__factor_pattern - "(?:f1)|(?:f2)..." over the top-level
 * alternatives of pat, or NULL (no factor for some alternative, /x,
 * inline flags). uri: a uri rule's; the factor comes from after a
 * leading scheme when there is one there. */
char *
rule__factor_pattern(const char *pat, unsigned opts, bool uri)
{
	const char *e = pat + strlen(pat), *a, *q;
	struct buf b;

	if (opts & PCRE2_EXTENDED)
		return NULL;
	for (const char *x = pat; (x = strstr(x, "(?")) != NULL; x++)
		if (isalpha((unsigned char)x[2]) || x[2] == '-' ||
		    x[2] == '^')
			return NULL; /* inline flags change the meaning */
	buf_init(&b, 1u << 20);
	for (a = pat;; a = q + 1) {
		const char *fs, *fe;

		size_t sk;

		if ((q = alt_end(a, e)) == NULL)
			goto fail;
		sk = uri ? uri_scheme_len(a, q) : 0;
		if ((sk == 0 || !factor_alt(a + sk, q, &fs, &fe)) &&
		    !factor_alt(a, q, &fs, &fe))
			goto fail;
		if ((b.len > 0 && buf_putc(&b, '|') < 0) ||
		    buf_puts(&b, "(?:") < 0 ||
		    buf_append(&b, fs, (size_t)(fe - fs)) < 0 ||
		    buf_putc(&b, ')') < 0)
			goto fail;
		if (q >= e)
			break;
	}
	if (buf_cstr(&b) < 0)
		goto fail;
	return (char *)b.p;
fail:
	buf_free(&b);
	return NULL;
}

/* Aho-Corasick ----------------------------------------------------------- */

struct rule__ac {
	uint8_t cls[256]; /* byte -> class, case-folded */
	unsigned ncls;
	int32_t *delta; /* [state * ncls + cls] */
	int32_t *lit;	/* literal ending at the state or -1 */
	int32_t *dict;	/* next state on the suffix chain with a literal */
	size_t nstates;
	size_t nlits;
};

struct trie {
	int32_t *next; /* [state * ncls + cls], 0 = none (root never a child) */
	int32_t *lit;
	size_t n, cap;
	unsigned ncls;
};

static int
trie_state(struct trie *t)
{
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 1024;
		int32_t *nn = realloc(t->next, nc * t->ncls * sizeof(*nn));
		int32_t *nl;

		if (nn == NULL)
			return -ENOMEM;
		t->next = nn;
		if ((nl = realloc(t->lit, nc * sizeof(*nl))) == NULL)
			return -ENOMEM;
		t->lit = nl;
		t->cap = nc;
	}
	memset(&t->next[t->n * t->ncls], 0, t->ncls * sizeof(int32_t));
	t->lit[t->n] = -1;
	return (int)t->n++;
}

static struct rule__ac *
ac_build(char **strs, size_t n)
{
	struct rule__ac *ac = calloc(1, sizeof(*ac));
	struct trie t = { 0 };
	int32_t *fail = NULL, *queue = NULL;
	bool used[256] = { false };
	size_t qh = 0, qt = 0;

	if (ac == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		for (const char *s = strs[i]; *s; s++)
			used[(unsigned char)*s] = true;
	ac->ncls = 1;
	for (int b = 0; b < 256; b++)
		if (used[b])
			ac->cls[b] = (uint8_t)ac->ncls++;
	for (int b = 'A'; b <= 'Z'; b++)
		ac->cls[b] = ac->cls[b - 'A' + 'a'];
	t.ncls = ac->ncls;
	if (trie_state(&t) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		int32_t s = 0;

		for (const char *c = strs[i]; *c; c++) {
			unsigned k = ac->cls[(unsigned char)*c];
			int32_t nx = t.next[(size_t)s * t.ncls + k];

			if (nx == 0) {
				int ns = trie_state(&t);

				if (ns < 0)
					goto fail;
				t.next[(size_t)s * t.ncls + k] = ns;
				nx = ns;
			}
			s = nx;
		}
		t.lit[s] = (int32_t)i;
	}
	ac->nstates = t.n;
	ac->nlits = n;
	fail = calloc(t.n, sizeof(*fail));
	queue = malloc(t.n * sizeof(*queue));
	ac->dict = calloc(t.n, sizeof(*ac->dict));
	if (fail == NULL || queue == NULL || ac->dict == NULL)
		goto fail;
	/* BFS: turn the trie into a DFA in place (missing edges follow the
	 * failure link), dict = nearest proper suffix state with a literal */
	for (unsigned k = 0; k < t.ncls; k++) {
		int32_t c = t.next[k];

		if (c != 0) {
			fail[c] = 0;
			queue[qt++] = c;
		}
	}
	while (qh < qt) {
		int32_t s = queue[qh++];

		for (unsigned k = 0; k < t.ncls; k++) {
			int32_t c = t.next[(size_t)s * t.ncls + k];
			int32_t f = t.next[(size_t)fail[s] * t.ncls + k];

			if (c != 0) {
				fail[c] = f;
				queue[qt++] = c;
			} else {
				t.next[(size_t)s * t.ncls + k] = f;
			}
		}
		ac->dict[s] = t.lit[fail[s]] >= 0 ? fail[s] : ac->dict[fail[s]];
	}
	free(fail);
	free(queue);
	ac->delta = t.next;
	ac->lit = t.lit;
	return ac;
fail:
	free(fail);
	free(queue);
	free(t.next);
	free(t.lit);
	free(ac->dict);
	free(ac);
	return NULL;
}

void
rule__ac_scan(const struct rule__ac *ac, const unsigned char *p, size_t len,
    uint8_t *seen)
{
	int32_t s = 0;

	if (ac == NULL)
		return;
	for (size_t i = 0; i < len; i++) {
		s = ac->delta[(size_t)s * ac->ncls + ac->cls[p[i]]];
		for (int32_t t = ac->lit[s] >= 0 ? s : ac->dict[s]; t != 0;
		     t = ac->dict[t])
			seen[ac->lit[t] >> 3] |=
			    (uint8_t)(1u << (ac->lit[t] & 7));
	}
}

size_t
rule__ac_nlits(const struct rule__ac *ac)
{
	return ac ? ac->nlits : 0;
}

static void
ac_free(struct rule__ac *ac)
{
	if (ac == NULL)
		return;
	free(ac->delta);
	free(ac->lit);
	free(ac->dict);
	free(ac);
}

/* Literal string table (dedupe) ------------------------------------------ */

struct strtab {
	char **v;
	size_t n, cap;
	uint32_t *h;
	size_t hsz;
};

static long
strtab_add(struct strtab *t, const char *s)
{
	uint32_t hv = 2166136261u;
	size_t i;

	for (const char *c = s; *c; c++)
		hv = (hv ^ (unsigned char)*c) * 16777619u;
	if ((t->n + 1) * 2 > t->hsz) {
		size_t nsz = t->hsz ? t->hsz * 2 : 4096;
		uint32_t *nh = calloc(nsz, sizeof(*nh));

		if (nh == NULL)
			return -ENOMEM;
		for (size_t k = 0; k < t->n; k++) {
			uint32_t h2 = 2166136261u;

			for (const char *c = t->v[k]; *c; c++)
				h2 = (h2 ^ (unsigned char)*c) * 16777619u;
			for (i = h2 & (nsz - 1); nh[i]; i = (i + 1) & (nsz - 1))
				;
			nh[i] = (uint32_t)k + 1;
		}
		free(t->h);
		t->h = nh;
		t->hsz = nsz;
	}
	for (i = hv & (t->hsz - 1); t->h[i]; i = (i + 1) & (t->hsz - 1))
		if (strcmp(t->v[t->h[i] - 1], s) == 0)
			return (long)t->h[i] - 1;
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 1024;
		char **nv = realloc(t->v, nc * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		t->v = nv;
		t->cap = nc;
	}
	if ((t->v[t->n] = strdup(s)) == NULL)
		return -ENOMEM;
	t->h[i] = (uint32_t)++t->n;
	return (long)t->n - 1;
}

static void
strtab_free(struct strtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i]);
	free(t->v);
	free(t->h);
}

/* replace_tag ------------------------------------------------------------ */

static const char *
tag_value(const struct rule_set *rs, int kind, const char *name, size_t len,
    bool ascii)
{
	for (size_t i = 0; i < rs->ntags; i++)
		if (rs->tags[i].kind == kind &&
		    strlen(rs->tags[i].name) == len &&
		    strncmp(rs->tags[i].name, name, len) == 0)
			return ascii && rs->tags[i].ascii != NULL
			    ? rs->tags[i].ascii
			    : rs->tags[i].val;
	return NULL;
}

/* needs_8bit - the alternative [p, e) cannot match without a byte >=
 * 0x80: its first atom, not optional, is such a byte or a class of only
 * such bytes (SA's tags list UTF-8 look-alikes as [\xc3][\x80..]) */
static bool
needs_8bit(const char *p, const char *e)
{
	const char *q;
	unsigned min;

	if (p + 4 <= e && p[0] == '\\' && p[1] == 'x') {
		q = p + 4;
		if (!(isxdigit((unsigned char)p[2]) &&
			isxdigit((unsigned char)p[3]) &&
			strchr("89abcdefABCDEF", p[2]) != NULL))
			return false;
	} else if (p < e && *p == '[' && p + 1 < e && p[1] != '^') {
		const char *c = p + 1;

		if ((q = skip_class(p, e)) == NULL)
			return false;
		while (c < q - 1) {
			if (*c == '-' && c > p + 1) { /* range */
				c++;
				continue;
			}
			if (c + 4 > q - 1 || c[0] != '\\' || c[1] != 'x' ||
			    !isxdigit((unsigned char)c[3]) ||
			    strchr("89abcdefABCDEF", c[2]) == NULL)
				return false;
			c += 4;
		}
	} else {
		return false;
	}
	return quant(q, e, &min) == 0 || min > 0;
}

/* prune_8bit - tag value "(?:a|b|..)" without the alternatives that
 * need a byte >= 0x80; NULL when nothing changes (or no memory: the
 * caller then uses the value itself) */
static char *
prune_8bit(const char *v)
{
	size_t len = strlen(v);
	const char *e = v + len - 1, *a, *p;
	struct buf b;
	int lvl = 0;
	bool dropped = false, any = false;

	if (len < 5 || strncmp(v, "(?:", 3) != 0 || v[len - 1] != ')' ||
	    skip_group(v, v + len) != v + len)
		return NULL;
	buf_init(&b, 1u << 20);
	if (buf_puts(&b, "(?:") < 0)
		goto fail;
	for (a = p = v + 3;; p++) {
		if (p < e && *p == '\\') {
			p++;
			continue;
		}
		if (p < e && *p == '[') {
			if ((p = skip_class(p, e)) == NULL)
				goto fail;
			p--;
			continue;
		}
		if (p < e && *p == '(')
			lvl++;
		else if (p < e && *p == ')')
			lvl--;
		if (p < e && !(*p == '|' && lvl == 0))
			continue;
		if (needs_8bit(a, p)) {
			dropped = true;
		} else {
			if ((any && buf_putc(&b, '|') < 0) ||
			    buf_append(&b, a, (size_t)(p - a)) < 0)
				goto fail;
			any = true;
		}
		if (p >= e)
			break;
		a = p + 1;
	}
	if (!dropped)
		goto fail;
	if ((!any && buf_puts(&b, "(*FAIL)") < 0) || buf_putc(&b, ')') < 0 ||
	    buf_cstr(&b) < 0)
		goto fail;
	return (char *)b.p;
fail:
	buf_free(&b);
	return NULL;
}

/* cut_marker - remove the first "<kind NAME>" from s; NAME into name */
static bool
cut_marker(char *s, const char *kind, char *name, size_t namesz)
{
	char *p = s;
	size_t kl = strlen(kind);

	while ((p = strchr(p, '<')) != NULL) {
		char *e;

		if (strncmp(p + 1, kind, kl) == 0 && p[1 + kl] == ' ' &&
		    (e = strchr(p + 2 + kl, '>')) != NULL &&
		    (size_t)(e - (p + 2 + kl)) < namesz) {
			memcpy(name, p + 2 + kl, (size_t)(e - (p + 2 + kl)));
			name[e - (p + 2 + kl)] = '\0';
			memmove(p, e + 1, strlen(e + 1) + 1);
			return true;
		}
		p++;
	}
	return false;
}

/* replace_tags - SA ReplaceTags, same steps as its finish_parsing_end:
 * take out <pre X>, <post X>, <inter X>; split at <TAG> elements; put
 * inter between adjacent tags, pre/post around each tag, substitute tag
 * values; again (up to 5 passes) while values bring in new tags. */
static char *
replace_tags(const struct rule_set *rs, const char *src, bool ascii)
{
	char *cur = strdup(src);
	bool again = true;

	for (int pass = 0; cur != NULL && again && pass <= 5; pass++) {
		char pre[64] = "", post[64] = "", inter[64] = "";
		const char *pv = NULL, *qv = NULL, *iv = NULL;
		struct buf b;
		const char *p = cur;
		bool prev_tag = false;

		again = false;
		if (cut_marker(cur, "pre", pre, sizeof(pre)))
			pv = tag_value(rs, 1, pre, strlen(pre), ascii);
		if (cut_marker(cur, "post", post, sizeof(post)))
			qv = tag_value(rs, 3, post, strlen(post), ascii);
		if (cut_marker(cur, "inter", inter, sizeof(inter)))
			iv = tag_value(rs, 2, inter, strlen(inter), ascii);
		buf_init(&b, 1u << 20);
		while (*p != '\0') {
			const char *e = NULL, *val;
			size_t k;

			if (*p == '<') {
				for (k = 1; p[k] && p[k] != '<' && p[k] != '>';
				     k++)
					;
				if (p[k] == '>' && k > 1)
					e = p + k;
			}
			if (e == NULL) {
				if (buf_putc(&b, *p++) < 0)
					goto fail;
				prev_tag = false;
				continue;
			}
			if (prev_tag && iv != NULL && buf_puts(&b, iv) < 0)
				goto fail;
			if (pv != NULL && buf_puts(&b, pv) < 0)
				goto fail;
			val = tag_value(
			    rs, 0, p + 1, (size_t)(e - p - 1), ascii);
			if (val != NULL) {
				if (buf_puts(&b, val) < 0)
					goto fail;
				if (strchr(val, '<') && strchr(val, '>'))
					again = true;
			} else if (buf_append(&b, p, (size_t)(e - p + 1)) < 0) {
				goto fail;
			}
			if (qv != NULL && buf_puts(&b, qv) < 0)
				goto fail;
			prev_tag = true;
			p = e + 1;
		}
		if (buf_cstr(&b) < 0)
			goto fail;
		free(cur);
		cur = (char *)b.p;
		continue;
	fail:
		buf_free(&b);
		free(cur);
		return NULL;
	}
	return cur;
}

struct codes {
	pcre2_code **v;
	size_t n;
};

static int split_rec(struct codes *, const char *pat, size_t len, unsigned opts,
    pcre2_compile_context *cc, int depth);

/* try_compile - compile pat, or split it when PCRE2 finds it too large */
static int
try_compile(struct codes *out, const char *pat, size_t len, unsigned opts,
    pcre2_compile_context *cc, int depth)
{
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re =
	    pcre2_compile((PCRE2_SPTR)pat, len, opts, &ec, &eo, cc);
	pcre2_code **nv;

	if (re == NULL)
		return ec == PCRE2_ERROR_PATTERN_TOO_LARGE
		    ? split_rec(out, pat, len, opts, cc, depth + 1)
		    : -EINVAL;
	if ((nv = realloc(out->v, (out->n + 1) * sizeof(*nv))) == NULL) {
		pcre2_code_free(re);
		return -ENOMEM;
	}
	out->v = nv;
	nv[out->n++] = re;
	return 0;
}

/* build - prefix (?:alts) suffix */
static int
sub_pattern(struct codes *out, const char *pat, size_t len, const char *gs,
    const char *ge, const char *cs, const char *ce, bool wrap, unsigned opts,
    pcre2_compile_context *cc, int depth)
{
	struct buf b;
	int rc;

	buf_init(&b, 1u << 24);
	if (buf_append(&b, pat, (size_t)(gs - pat)) < 0 ||
	    (wrap && buf_puts(&b, "(?:") < 0) ||
	    buf_append(&b, cs, (size_t)(ce - cs)) < 0 ||
	    (wrap && buf_puts(&b, ")") < 0) ||
	    buf_append(&b, ge, (size_t)(pat + len - ge)) < 0) {
		buf_free(&b);
		return -ENOMEM;
	}
	rc = try_compile(out, (const char *)b.p, b.len, opts, cc, depth);
	buf_free(&b);
	return rc;
}

/* top_group - the next top-level group from *p on: its '(' returned, *end
 * set just past its ')' and *p moved there; NULL at the end (*bad false)
 * or where the pattern cannot be parsed (*bad true) */
static const char *
top_group(const char **p, const char *e, const char **end, bool *bad)
{
	*bad = false;
	for (const char *q = *p; q < e; q++) {
		if (*q == '\\') {
			q++;
			continue;
		}
		if (*q == '[') {
			if ((q = skip_class(q, e)) == NULL) {
				*bad = true;
				return NULL;
			}
			q--;
			continue;
		}
		if (*q != '(')
			continue;
		if ((*end = skip_group(q, e)) == NULL) {
			*bad = true;
			return NULL;
		}
		*p = *end;
		return q;
	}
	return NULL;
}

/* has_backref - pat refers to a group by number or name (\\1, \\g, \\k,
 * (?P=, (?1), (?&, (?R): group numbers must then stay as they are */
static bool
has_backref(const char *pat, const char *e)
{
	for (const char *p = pat; p < e; p++) {
		if (*p == '[') {
			if ((p = skip_class(p, e)) == NULL)
				return true;
			p--;
			continue;
		}
		if (*p == '\\' && p + 1 < e) {
			p++;
			if ((*p >= '1' && *p <= '9') || *p == 'g' || *p == 'k')
				return true;
			continue;
		}
		if (*p == '(' && p + 2 < e && p[1] == '?' &&
		    (isdigit((unsigned char)p[2]) || p[2] == '&' || p[2] == 'R' ||
			p[2] == '+' || p[2] == '-' ||
			(p[2] == 'P' && p + 3 < e && (p[3] == '=' || p[3] == '>'))))
			return true;
	}
	return false;
}

/* groups_before - capturing groups opened in [pat, end): plain '(' and
 * named ones, not (?: (?= (?<= (?! (?<! and the like */
static unsigned
groups_before(const char *pat, const char *end)
{
	unsigned n = 0;

	for (const char *p = pat; p < end; p++) {
		if (*p == '\\') {
			p++;
			continue;
		}
		if (*p == '[') {
			if ((p = skip_class(p, end)) == NULL)
				return n;
			p--;
			continue;
		}
		if (*p != '(')
			continue;
		if (p + 1 >= end || p[1] != '?')
			n++;
		else if (p + 2 < end &&
		    ((p[2] == '<' && p + 3 < end && p[3] != '=' && p[3] != '!') ||
			p[2] == '\'' || (p[2] == 'P' && p + 3 < end && p[3] == '<')))
			n++;
	}
	return n;
}

/* repeat_rewrite - the other shape SA's replace_tag rules take: a top-level
 * (?:X){n,m} that PCRE2 compiles into n copies of a huge X (SA's
 * __FILL_THIS_FORM_LONG1/2: (?:<FF_...>...){5}). Written as (X)(?N){n-1,
 * m-1} the group is compiled once and called again; since PCRE2 10.30 a
 * subroutine call backtracks like the group itself (pcre2pattern,
 * "Backtracking into subroutine calls"), so the same texts match. Only
 * without backreferences (the new group shifts the numbers after it) and
 * for n >= 1 with a greedy quantifier. */
static int
repeat_rewrite(struct codes *out, const char *pat, size_t len, unsigned opts,
    pcre2_compile_context *cc, int depth)
{
	const char *e = pat + len, *gs = NULL, *ge = NULL, *qe = NULL;
	unsigned min = 0, lo = 0, hi = 0, n;
	bool open_hi = false, has_hi = false, bad;
	struct buf b;
	char tail[64];
	int rc;

	if (has_backref(pat, e))
		return -E2BIG;
	for (const char *p = pat, *g, *q; (g = top_group(&p, e, &q, &bad));) {
		size_t ql;

		if (g[1] == '?' && g[2] == ':' && q < e && *q == '{' &&
		    (ql = quant(q, e, &min)) > 0 && min >= 1 &&
		    q[ql - 1] == '}' && (gs == NULL || q - g > ge - gs)) {
			gs = g;
			ge = q;
			qe = q + ql;
		}
	}
	if (bad)
		return -E2BIG;
	if (gs == NULL)
		return -E2BIG;
	/* {lo}, {lo,} or {lo,hi} */
	lo = (unsigned)strtoul(ge + 1, NULL, 10);
	for (const char *q = ge + 1; q < qe; q++)
		if (*q == ',') {
			open_hi = q[1] == '}';
			if (!open_hi) {
				hi = (unsigned)strtoul(q + 1, NULL, 10);
				has_hi = true;
			}
		}
	if (lo < 1 || (has_hi && hi < lo))
		return -E2BIG;
	n = groups_before(pat, gs) + 1;
	if (has_hi)
		snprintf(tail, sizeof(tail), ")(?%u){%u,%u}", n, lo - 1, hi - 1);
	else
		snprintf(tail, sizeof(tail), ")(?%u){%u%s}", n, lo - 1,
		    open_hi ? "," : "");
	buf_init(&b, 1u << 24);
	if (buf_append(&b, pat, (size_t)(gs - pat)) < 0 ||
	    buf_puts(&b, "(") < 0 ||
	    buf_append(&b, gs + 3, (size_t)(ge - 1 - (gs + 3))) < 0 ||
	    buf_puts(&b, tail) < 0 ||
	    buf_append(&b, qe, (size_t)(e - qe)) < 0) {
		buf_free(&b);
		return -ENOMEM;
	}
	rc = try_compile(out, (const char *)b.p, b.len, opts, cc, depth);
	buf_free(&b);
	return rc;
}

/* split_rec - PCRE2 (link size 2) refuses patterns that Perl takes, like
 * SA's word lists after replace_tag. The largest top-level (?:a|b|..)
 * group that is not quantified is split in two halves (or unwrapped when
 * it has one alternative), recursively; the rule matches when any of the
 * resulting patterns does (same truth value, no backreferences involved). */
static int
split_rec(struct codes *out, const char *pat, size_t len, unsigned opts,
    pcre2_compile_context *cc, int depth)
{
	const char *e = pat + len, *p, *gs = NULL, *ge = NULL;
	const char **alts = NULL;
	size_t nalt = 0, half;
	unsigned min;
	int rc, lvl = 0;
	bool bad;

	if (depth > 12 || out->n > 256)
		return -E2BIG;
	for (const char *g, *q, *at = pat; (g = top_group(&at, e, &q, &bad));)
		if (g[1] == '?' && g[2] == ':' && quant(q, e, &min) == 0 &&
		    (gs == NULL || q - g > ge - gs)) {
			gs = g;
			ge = q;
		}
	if (bad)
		return -E2BIG;
	if (gs == NULL)
		return repeat_rewrite(out, pat, len, opts, cc, depth);
	if ((alts = malloc(((size_t)(ge - gs) + 2) * sizeof(*alts))) == NULL)
		return -ENOMEM;
	alts[nalt++] = gs + 3;
	for (p = gs + 3; p < ge - 1; p++) {
		if (*p == '\\') {
			p++;
			continue;
		}
		if (*p == '[') {
			if ((p = skip_class(p, ge)) == NULL) {
				free(alts);
				return -E2BIG;
			}
			p--;
			continue;
		}
		if (*p == '(')
			lvl++;
		else if (*p == ')')
			lvl--;
		else if (*p == '|' && lvl == 0)
			alts[nalt++] = p + 1;
	}
	alts[nalt] = ge; /* alts[i+1] - 1 ends alternative i */
	if (nalt == 1) {
		rc = sub_pattern(out, pat, len, gs, ge, gs + 3, ge - 1, false,
		    opts, cc, depth);
	} else {
		half = nalt / 2;
		rc = sub_pattern(out, pat, len, gs, ge, alts[0], alts[half] - 1,
		    true, opts, cc, depth);
		if (rc == 0)
			rc = sub_pattern(out, pat, len, gs, ge, alts[half],
			    alts[nalt] - 1, true, opts, cc, depth);
	}
	free(alts);
	return rc;
}

/* split_compile - the rule's patterns from a too-large one */
static int
split_compile(
    struct rule *r, const char *pat, unsigned opts, pcre2_compile_context *cc)
{
	struct codes out = { NULL, 0 };
	int rc = split_rec(&out, pat, strlen(pat), opts, cc, 0);

	if (rc < 0 || out.n == 0) {
		for (size_t i = 0; i < out.n; i++)
			pcre2_code_free(out.v[i]);
		free(out.v);
		return rc < 0 ? rc : -E2BIG;
	}
	for (size_t i = 0; i < out.n; i++)
		(void)pcre2_jit_compile(out.v[i], PCRE2_JIT_COMPLETE);
	r->re = out.v[0];
	r->nmore = out.n - 1;
	if (r->nmore > 0) {
		memmove(out.v, out.v + 1, r->nmore * sizeof(*out.v));
		r->more = out.v;
	} else {
		free(out.v);
	}
	return 0;
}

/* empty_hit - r->empty_hit: does r's pattern match the empty text (one
 * match, whatever the limit)? Not for capture or template rules, whose
 * matches do more than count. */
static void
empty_hit(struct rule *r)
{
	pcre2_match_data *md;

	if (r->captures || r->tmpl != NULL || r->re == NULL ||
	    (md = pcre2_match_data_create(1, NULL)) == NULL)
		return;
	r->empty_hit = pcre2_match(r->re, (PCRE2_SPTR) "", 0, 0, 0, md,
			   NULL) >= 0;
	for (size_t i = 0; i < r->nmore && !r->empty_hit; i++)
		r->empty_hit = pcre2_match(r->more[i], (PCRE2_SPTR) "", 0, 0,
				   0, md, NULL) >= 0;
	pcre2_match_data_free(md);
	r->empty_known = true;
}

/* Compile ---------------------------------------------------------------- */

/* gate_ok_kept - gate_ok for the part of a pattern a gate keeps:
 * positive lookarounds may stay there (what they see inside one line they
 * see in the joined body too), negative ones may not */
static bool
gate_ok_kept(const char *pat)
{
	static const char *const bad[] = { "(?!", "(?<!", "(?>", "(?-", "(?^",
		"\\A", "\\z", "\\Z", "\\G", "*+", "++", "?+", "}+", "(*",
		"(?|", "\\g", "\\k", "(?(" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strstr(pat, bad[i]) != NULL)
			return false;
	for (const char *q = pat; (q = strchr(q, '\\')) != NULL; q += 2) {
		if (q[1] >= '1' && q[1] <= '9')
			return false; /* backreference */
		if (q[1] == '\0')
			break;
	}
	return true;
}

/* gate_ok - a line's match is also a match in the joined text, for the
 * whole pattern run as its own gate: gate_ok_kept, and no lookaround at
 * all (a lookbehind at a line's start sees the '\n' before it there) */
static bool
gate_ok(const char *pat)
{
	return gate_ok_kept(pat) && strstr(pat, "(?=") == NULL &&
	    strstr(pat, "(?<=") == NULL;
}

/* anchor_class - a character class PCRE2 can search for quickly: not
 * negated, no \s \w \d (or their negations) or POSIX classes inside */
static bool
anchor_class(const char *p, const char *e)
{
	if (p + 1 < e && p[1] == '^')
		return false;
	for (const char *q = p + 1; q < e - 1; q++) {
		if (*q == '[' && q + 1 < e && q[1] == ':')
			return false;
		if (*q != '\\')
			continue;
		if (strchr("sSwWdDhHvVpPXR", q[1]) != NULL)
			return false;
		q++;
	}
	return true;
}

static bool alts_anchored(const char *p, const char *e, int depth);

/* atom_anchored - the element at p (ending at *next, quantifier
 * included) must match a character PCRE2 can search for: a literal, an
 * escaped literal, a narrow class, or a group every alternative of which
 * opens that way; it is not optional */
static bool
atom_anchored(const char *p, const char *e, const char **next, int depth)
{
	const char *n = p + 1;
	bool good = false;
	unsigned min = 1;

	*next = NULL;
	switch (*p) {
	case '(':
		if ((n = skip_group(p, e)) == NULL)
			return false;
		if (p[1] != '?')
			good = alts_anchored(p + 1, n - 1, depth + 1);
		else if (p[2] == ':')
			good = alts_anchored(p + 3, n - 1, depth + 1);
		break;
	case '[':
		if ((n = skip_class(p, e)) == NULL)
			return false;
		good = anchor_class(p, n);
		break;
	case '\\':
		if (p + 1 >= e)
			return false;
		n = p + 2;
		if (p[1] == 'x' && n < e && *n == '{') {
			while (n < e && *n != '}')
				n++;
			n = n < e ? n + 1 : e;
			good = true;
		} else if (p[1] == 'x') {
			for (int k = 0;
			     k < 2 && n < e && isxdigit((unsigned char)*n); k++)
				n++;
			good = true;
		} else {
			good = !isalnum((unsigned char)p[1]);
		}
		break;
	case '.':
	case '^':
	case '$':
	case ')':
	case '|':
		break;
	default:
		good = true;
		break;
	}
	n += quant(n, e, &min);
	*next = n;
	return good && min >= 1;
}

/* alts_anchored - every top-level alternative of [p, e) opens with an
 * anchored element */
static bool
alts_anchored(const char *p, const char *e, int depth)
{
	if (depth > 6)
		return false;
	while (p < e) {
		const char *ae = alt_end(p, e), *n;

		if (ae == NULL || ae == p || !atom_anchored(p, ae, &n, depth))
			return false;
		p = ae < e ? ae + 1 : e;
		if (ae < e && p == e)
			return false; /* trailing '|': empty alternative */
	}
	return true;
}

/* gate_tail - a pattern that opens with an anchored element
 * (atom_anchored) and matches wherever [p, e) matches, ending at the
 * same place: the tail of the sequence from its first anchored element;
 * a required group on the way that is not anchored itself is replaced
 * by the tails of its alternatives. malloc'd, NULL when there is none or
 * a cut would change meaning ((?i) settings, named groups, backrefs). */
static char *
gate_tail(const char *p, const char *e, int depth)
{
	const char *ae;

	if (depth > 8 || (ae = alt_end(p, e)) == NULL)
		return NULL;
	if (ae != e) { /* alternatives: (?:tail1|tail2|...) */
		struct buf b;
		char *out = NULL;

		buf_init(&b, 1u << 20);
		if (buf_puts(&b, "(?:") < 0)
			goto alt_out;
		for (const char *q = p; q <= e;) {
			const char *qe = alt_end(q, e);
			char *t;

			if (qe == NULL || (t = gate_tail(q, qe, depth + 1)) ==
			    NULL)
				goto alt_out;
			if ((q != p && buf_putc(&b, '|') < 0) ||
			    buf_puts(&b, t) < 0) {
				free(t);
				goto alt_out;
			}
			free(t);
			q = qe + 1;
		}
		if (buf_putc(&b, ')') == 0)
			out = strndup((const char *)b.p, b.len);
	alt_out:
		buf_free(&b);
		return out;
	}
	while (p < e) {
		const char *n, *ge;
		unsigned min = 0;

		if (p[0] == '(' && p[1] == '?' && p[2] != ':' && p[2] != '=' &&
		    p[2] != '!' && p[2] != '<' && p[2] != '>')
			return NULL; /* (?i) and friends change what follows */
		if (p[0] == '(' && p[1] == '?' && p[2] == '<' && p[3] != '=' &&
		    p[3] != '!')
			return NULL; /* a named group captures */
		if (p[0] == '\\' && p[1] >= '1' && p[1] <= '9')
			return NULL;
		if (atom_anchored(p, e, &n, 0))
			return strndup(p, (size_t)(e - p));
		if (n == NULL)
			return NULL;
		/* a required group: the tail of its last repetition, then
		 * what follows it */
		if (p[0] == '(' && (p[1] != '?' || p[2] == ':') &&
		    (ge = skip_group(p, e)) != NULL &&
		    (quant(ge, e, &min) == 0 || min >= 1)) {
			const char *in = p + (p[1] == '?' ? 3 : 1);
			char *t = gate_tail(in, ge - 1, depth + 1), *out;
			size_t tl, rl = (size_t)(e - n);

			if (t != NULL) {
				tl = strlen(t);
				if ((out = malloc(tl + rl + 1)) != NULL) {
					memcpy(out, t, tl);
					memcpy(out + tl, n, rl);
					out[tl + rl] = '\0';
				}
				free(t);
				return out;
			}
		}
		p = n;
	}
	return NULL;
}

/* gate_strip - a gate pattern for a body rule (SA semantics: it matches
 * in one line): if the whole pattern A B matches, B matches where A ends,
 * so any tail of the top-level sequence is a necessary condition (and of
 * a required group, the tails of its alternatives). Rules that open with
 * something PCRE2 cannot search for (\b, (?:^|\s), [_\W]{0,3},
 * optional parts, lookarounds: SA's obfuscation and replace_tag rules)
 * make PCRE2 try every position of the body; gate_tail's pattern opens
 * with a character it can search for and is scanned at a fraction of
 * that cost. NULL: no better gate, or one that could miss (negative
 * lookarounds kept, /x). */
static char *
gate_strip(const char *pat, unsigned opts, int depth)
{
	char *t;

	/* a pattern anchored at line starts is its own best gate: PCRE2
	 * tries it only after each '\n' of the joined body */
	if ((opts & PCRE2_EXTENDED) || pat[0] == '^' ||
	    (t = gate_tail(pat, pat + strlen(pat), depth)) == NULL)
		return NULL;
	if (strcmp(t, pat) == 0 || !gate_ok_kept(t)) {
		free(t);
		return NULL; /* nothing to gain, or unsafe */
	}
	return t;
}

/* gate_compile - the gate of a body rule (gate_strip) compiled for the
 * body lines joined by '\n' (PCRE2_MULTILINE: ^ and $ at each line). */
static pcre2_code *
gate_compile(const char *pat, unsigned opts, pcre2_compile_context *cc)
{
	char *g = gate_strip(pat, opts, 0);
	pcre2_code *re;
	int ec;
	PCRE2_SIZE eo;

	if (g == NULL)
		return NULL;
	re = pcre2_compile((PCRE2_SPTR)g, PCRE2_ZERO_TERMINATED,
	    opts | PCRE2_MULTILINE, &ec, &eo, cc);
	free(g);
	if (re != NULL)
		(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

/* Repeat gates ------------------------------------------------------------
 *
 * SA's form rules repeat one big group: (?:<FF_YOUR><FF_ALL><FF_SUFFIX>
 * (?:<FF_BLANK2>|<ANDOR>)){5}. Their optional prefixes give PCRE2 no start
 * bytes, so it runs the whole group at every position of every line. A
 * match of A (?:X){n} B passes through n consecutive matches of X, each
 * on its own stretch of the text; an element E that X requires (at X's
 * top level, not optional) then matched n times, each at least E's
 * minimum length L after the previous start (and ending L after the
 * previous end). E relaxed (elem_relax: its zero-width assertions
 * dropped) sees nothing but the characters it consumes and matches
 * wherever E does, so run alone it matches at each of those places.
 * Counting its matches from the left, each search resumed L after the
 * last start found, finds at least n of them whenever n such starts
 * exist (the i-th start found is never right of the i-th of those:
 * induction); the same holds for ends (Hyperscan, which reports every
 * match end: eval.c rgate_hs_fill). Fewer than n: the rule cannot match
 * that text, and is not run there (eval.c rgate_open). SA runs a body
 * rule on each line (paragraph) on its own (Check.pm run_body_fn), which
 * is the text counted here. */

/* elem_relax - [p, e) as a pattern that sees only what it consumes and
 * matches at least where [p, e) does, with the same lengths: zero-width
 * assertions (^ $ \b \B \A \z \Z \G, lookarounds) become "(?:)", which
 * only adds paths, and an atomic group a plain one, which only adds
 * backtracking. NULL (malloc'd otherwise) for what cannot be relaxed that
 * way: backreferences, recursion, \K, \Q, verbs, possessive quantifiers,
 * option settings and named groups. */
static char *
elem_relax(const char *p, const char *e)
{
	struct buf b;
	char *out = NULL;

	buf_init(&b, 1u << 20);
	for (const char *q; p < e; p = q) {
		q = p + 1;
		if (*p == '[') {
			if ((q = skip_class(p, e)) == NULL)
				goto out;
		} else if (*p == '\\') {
			if (p + 1 >= e ||
			    strchr("KQEcgk123456789", p[1]) != NULL)
				goto out;
			q = p + 2;
			if (strchr("bBAzZG", p[1]) != NULL) {
				if (buf_puts(&b, "(?:)") < 0)
					goto out;
				continue;
			}
		} else if (*p == '^' || *p == '$') {
			if (buf_puts(&b, "(?:)") < 0)
				goto out;
			continue;
		} else if (*p == '(' && q < e && *q == '*') {
			goto out;
		} else if (*p == '(' && q < e && *q == '?') {
			if (p + 2 >= e)
				goto out;
			if (p[2] == '=' || p[2] == '!' ||
			    (p[2] == '<' && p + 3 < e &&
				(p[3] == '=' || p[3] == '!'))) {
				if ((q = skip_group(p, e)) == NULL ||
				    buf_puts(&b, "(?:)") < 0)
					goto out;
				continue;
			}
			if (p[2] != ':' && p[2] != '>')
				goto out;
			if (buf_puts(&b, "(?:") < 0)
				goto out;
			q = p + 3;
			continue;
		} else if ((*p == '*' || *p == '+' || *p == '?' ||
			       *p == '}') &&
		    q < e && *q == '+') {
			goto out; /* possessive (or "}+" after a literal) */
		}
		if (buf_append(&b, p, (size_t)(q - p)) < 0)
			goto out;
	}
	out = strndup((const char *)b.p, b.len);
out:
	buf_free(&b);
	return out;
}

/* no_opts - pat changes no option inline ("(?i)", "(?x:" ...) and has no
 * \Q quoting: what E means alone is what it means in pat */
static bool
no_opts(const char *p, const char *e)
{
	for (; p < e; p++) {
		if (*p == '[') {
			if ((p = skip_class(p, e)) == NULL)
				return false;
			p--;
			continue;
		}
		if (*p == '\\') {
			if (++p >= e || *p == 'Q' || *p == 'c')
				return false;
			continue;
		}
		if (*p == '(' && p + 2 < e && p[1] == '?' &&
		    strchr(":=!<>|'P", p[2]) == NULL)
			return false;
	}
	return true;
}

/* group_inner - p at '(' of a plain or (?: group ending before ge: its
 * contents' start, NULL for any other kind of group */
static const char *
group_inner(const char *p)
{
	if (p[1] != '?')
		return p + 1;
	return p[2] == ':' ? p + 3 : NULL;
}

/* repeat_elem - for a pattern with a top-level group repeated n >= 2
 * times, the longest element that group requires and that passes
 * elem_relax, as "(?:E)" relaxed, *n set; NULL if none */
static char *
repeat_elem(const char *pat, unsigned opts, unsigned *nrep)
{
	const char *e = pat + strlen(pat), *xs = NULL, *xe = NULL;
	const char *es = NULL, *n;
	unsigned best = 0, min;
	size_t elen = 0;
	char *rel, *out;

	if ((opts & PCRE2_EXTENDED) || !no_opts(pat, e) ||
	    alt_end(pat, e) != e)
		return NULL;
	for (const char *p = pat; p < e; p = n) {
		(void)atom_anchored(p, e, &n, 0);
		if (n == NULL)
			return NULL;
		min = 1;
		if (*p == '(' && group_inner(p) != NULL &&
		    quant(skip_group(p, e), e, &min) > 0 && min >= 2 &&
		    min > best) {
			best = min;
			xs = group_inner(p);
			xe = skip_group(p, e) - 1;
		}
	}
	if (best < 2 || alt_end(xs, xe) != xe)
		return NULL;
	for (const char *p = xs; p < xe; p = n) {
		const char *ge, *in;

		(void)atom_anchored(p, xe, &n, 0);
		if (n == NULL)
			return NULL;
		min = 1;
		if (*p != '(' || (in = group_inner(p)) == NULL)
			continue;
		ge = skip_group(p, xe);
		(void)quant(ge, xe, &min);
		if (min >= 1 && (size_t)(ge - 1 - in) > elen &&
		    (rel = elem_relax(in, ge - 1)) != NULL) {
			free(rel);
			es = in;
			elen = (size_t)(ge - 1 - in);
		}
	}
	if (es == NULL || (rel = elem_relax(es, es + elen)) == NULL)
		return NULL;
	if ((out = malloc(strlen(rel) + 5)) != NULL)
		snprintf(out, strlen(rel) + 5, "(?:%s)", rel);
	free(rel);
	*nrep = best;
	return out;
}

/* rgate_add - r's repeat gate: the element compiled once per rule set
 * (same text and options: one entry, its cap the largest n). Not when
 * it compiles with no minimum length (it could match empty), nor for n
 * over RGATE_MAX_N (eval.c keeps counts in a byte). */
static int
rgate_add(struct rule_set *rs, struct rule *r, const char *pat, unsigned opts,
    pcre2_compile_context *cc)
{
	unsigned n, ml = 0;
	char *el = repeat_elem(pat, opts, &n);
	struct rule__rgate *g, *nv;
	pcre2_code *re;
	int ec;
	PCRE2_SIZE eo;

	opts &= ~(unsigned)PCRE2_MULTILINE; /* no ^ $ in el */
	if (el == NULL)
		return 0;
	if (n > RGATE_MAX_N) {
		free(el);
		return 0;
	}
	for (size_t i = 0; i < rs->nrgates; i++) {
		g = &rs->rgates[i];
		if (g->opts == opts && strcmp(g->pat, el) == 0) {
			free(el);
			if (g->cap < n)
				g->cap = n;
			g->types |= 1u << r->type;
			r->rgate = (uint32_t)i + 1;
			r->rgate_n = n;
			return 0;
		}
	}
	re = pcre2_compile(
	    (PCRE2_SPTR)el, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, cc);
	if (re == NULL ||
	    pcre2_pattern_info(re, PCRE2_INFO_MINLENGTH, &ml) != 0 || ml < 1) {
		pcre2_code_free(re);
		free(el);
		return 0;
	}
	if ((nv = realloc(rs->rgates, (rs->nrgates + 1) * sizeof(*nv))) ==
	    NULL) {
		pcre2_code_free(re);
		free(el);
		return -ENOMEM;
	}
	rs->rgates = nv;
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	rs->rgates[rs->nrgates] = (struct rule__rgate){ .pat = el,
		.opts = opts, .re = re, .minlen = ml, .cap = n,
		.types = 1u << r->type };
	r->rgate = (uint32_t)++rs->nrgates;
	r->rgate_n = n;
	return 0;
}

/* hs_type - rules whose texts eval.c scans with Hyperscan */
static bool
hs_type(const struct rule *r)
{
	return r->type == RULE_BODY || r->type == RULE_RAWBODY ||
	    r->type == RULE_URI || r->type == RULE_FULL;
}

/* tmpl_scan - r->tmpl_required and tmpl_name: the first %{NAME} at
 * depth 0 of a pattern without a top-level '|' */
static void
tmpl_scan(struct rule *r)
{
	const char *p = r->tmpl, *e = p + strlen(p);
	int depth = 0;

	r->tmpl_required = false;
	if (alt_end(p, e) != e)
		return;
	for (; p < e; p++) {
		if (*p == '\\') {
			if (++p >= e)
				return;
			continue;
		}
		if (*p == '[') {
			if ((p = skip_class(p, e)) == NULL)
				return;
			p--;
			continue;
		}
		if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		else if (p[0] == '%' && p[1] == '{') {
			const char *q = strchr(p, '}');
			unsigned min = 1;

			if (depth != 0 || q == NULL ||
			    (size_t)(q - p - 2) >= sizeof(r->tmpl_name) ||
			    (quant(q + 1, e, &min) > 0 && min == 0))
				return;
			memcpy(r->tmpl_name, p + 2, (size_t)(q - p - 2));
			r->tmpl_name[q - p - 2] = '\0';
			r->tmpl_required = true;
			return;
		}
	}
}

/* ASCII filters. A body rule outside Hyperscan runs PCRE2 over the
 * whole body (gate_open), then over each line: for SA's obfuscation rules
 * (FUZZY_*: replace_tag letters, lookaheads) that is ~10 us per rule and
 * message. Hyperscan could only approximate their patterns (prefilter
 * mode: lookarounds dropped, repeats relaxed, which reports most lines).
 * Their ASCII form relaxed (elem_relax: the zero-width parts become
 * "(?:)") is a pattern Hyperscan runs exactly, and it matches wherever
 * the ASCII form does: on an ASCII body, the lines it is not found on
 * cannot match, and only the lines it reports run PCRE2 (eval.c
 * run_rule). Compiled for the cache only (build_hs: af_build). */
static void
af_set(struct rule *r, const char *pat8, unsigned opts)
{
	free(r->af_pat);
	r->af_pat = NULL;
	if (r->type != RULE_BODY || (opts & PCRE2_EXTENDED))
		return;
	r->af_pat = elem_relax(pat8, pat8 + strlen(pat8));
}

/* rule__nullable_prefix - how many leading bytes of pat a rule that only asks
 * WHETHER its pattern matches a text may drop: the items there can all
 * match the empty string (an atom quantified ?, * or {0,n}). If A R
 * matches at p, R matches where A ended; if R matches at q, A R matches
 * at q with A empty: the same texts match, and PCRE2 no longer tries
 * A's alternatives at every position (SA's __FILL_THIS_FORM_FRAUD_PHISH1
 * and _LOAN1 start with <FF_YOUR>, three optional groups). Not for
 * what sees where a match starts or what it holds: tflags multiple
 * (counts of non-overlapping matches), captures, backreferences and
 * conditionals (group numbers), \K \G, verbs; nor /x, a top-level '|'
 * (A belongs to the first alternative only) or %{NAME} templates. An
 * atom the scan does not know ends the prefix; so does a wholly
 * nullable pattern (0: nothing dropped). */
size_t
rule__nullable_prefix(const char *pat, unsigned opts, unsigned tflags)
{
	const char *p = pat, *e = pat + strlen(pat);

	if ((opts & PCRE2_EXTENDED) || (tflags & TF_MULTIPLE) ||
	    alt_end(pat, e) != e || strstr(pat, "%{") != NULL)
		return 0;
	for (const char *q = pat; q < e; q++) {
		if (*q == '\\') {
			if (q + 1 >= e || isdigit((unsigned char)q[1]) ||
			    strchr("gkKGQ", q[1]) != NULL)
				return 0;
			q++;
			continue;
		}
		if (*q == '(' && q + 1 < e && (q[1] == '*' ||
			(q[1] == '?' && q + 2 < e &&
			    strchr("<P('|&R+-0123456789", q[2]) != NULL &&
			    !(q[2] == '<' && q + 3 < e &&
				(q[3] == '=' || q[3] == '!')))))
			return 0;
	}
	while (p < e) {
		const char *a = NULL;
		unsigned min;
		size_t ql;

		if (*p == '(' && (p[1] != '?' || p[2] == ':'))
			a = skip_group(p, e);
		else if (*p == '[')
			a = skip_class(p, e);
		else if (*p == '\\' && p + 1 < e &&
		    strchr("sSwWdDhHvV", p[1]) != NULL)
			a = p + 2;
		else if (*p == '\\' && p + 1 < e &&
		    ispunct((unsigned char)p[1]))
			a = p + 2;
		else if (isalnum((unsigned char)*p) || *p == ' ' || *p == '.')
			a = p + 1;
		if (a == NULL || (ql = quant(a, e, &min)) == 0 || min != 0)
			break;
		p = a + ql;
	}
	return p < e ? (size_t)(p - pat) : 0;
}

static int
compile_regex(struct rule_set *rs, struct rule *r, pcre2_compile_context *cc,
    struct strtab *st)
{
	char *pat, *pat8 = NULL, lits[MAX_LITS_PER_RULE][MAX_LIT + 1];
	size_t patsz;
	unsigned opts;
	const char *why;
	int ec;
	PCRE2_SIZE eo;
	size_t nl;

	free(r->af_pat);
	r->af_pat = NULL;
	patsz = strlen(r->re_src) + 1;
	if ((pat = malloc(patsz)) == NULL)
		return -ENOMEM;
	if (rule_regex_translate(r->re_src, pat, patsz, &opts, &why) < 0) {
		rule__diag(rs, RULE_DIAG_ERROR, r->file, r->line,
		    "%s: unsupported regex: %s", r->name, why);
		r->broken = true;
		free(pat);
		return 0;
	}
	/* SA expands tags in the compiled pattern, delimiters already gone */
	if (r->tflags & 0x100u) {
		char *repl = replace_tags(rs, pat, false);

		if (repl != NULL && r->type == RULE_BODY)
			pat8 = replace_tags(rs, pat, true);
		free(pat);
		if ((pat = repl) == NULL) {
			free(pat8);
			return -ENOMEM;
		}
		if (pat8 != NULL && strcmp(pat8, pat) == 0) {
			free(pat8);
			pat8 = NULL;
		}
	}
	/* a leading part that may match nothing decides nothing */
	if (r->type != RULE_MIMEHEADER) {
		size_t np = rule__nullable_prefix(pat, opts, r->tflags);

		if (np > 0)
			memmove(pat, pat + np, strlen(pat + np) + 1);
		if (pat8 != NULL &&
		    (np = rule__nullable_prefix(pat8, opts, r->tflags)) > 0)
			memmove(pat8, pat8 + np, strlen(pat8 + np) + 1);
	}
	/* Body lines hold no newline, so ^ and $ mean the same with
	 * PCRE2_MULTILINE; compiled that way, one match over all lines
	 * joined by '\n' tells whether any line can match (gate_ok: no
	 * construct that could see past a line's end). */
	if (r->type == RULE_BODY && gate_ok(pat)) {
		opts |= PCRE2_MULTILINE;
		r->gate = r->gate_whole = true;
	}
	/* SA 4 capture rules: (?<NAME>..) sets a tag, %{NAME} in another
	 * rule is replaced by the tag's values when the message has them */
	for (const char *q = pat; (q = strstr(q, "(?<")) != NULL; q++)
		if (q[3] != '=' && q[3] != '!')
			r->captures = true;
	if (strstr(pat, "%{") != NULL) {
		free(r->tmpl);
		if ((r->tmpl = strdup(pat)) == NULL) {
			free(pat);
			return -ENOMEM;
		}
		r->tmpl_opts = opts;
		r->gate = false;
		tmpl_scan(r);
	}
	r->re = pcre2_compile(
	    (PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, cc);
	if (r->re == NULL && ec == PCRE2_ERROR_PATTERN_TOO_LARGE) {
		int src2 = split_compile(r, pat, opts, cc);

		if (src2 == -ENOMEM) {
			free(pat);
			return src2;
		}
	}
	if (r->re == NULL) {
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(ec, msg, sizeof(msg));
		rule__diag(rs, RULE_DIAG_ERROR, r->file, r->line,
		    "%s: regex does not compile at offset %zu: %s", r->name,
		    (size_t)eo, (const char *)msg);
		r->broken = true;
		free(pat);
		return 0;
	}
	/* JIT failing (e.g. no executable memory) falls back to the
	 * interpreter under the same limits */
	if (r->nmore == 0)
		(void)pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE);
	if (r->type == RULE_HEADER)
		empty_hit(r);
	if (r->type == RULE_BODY && r->tmpl == NULL)
		r->gate_re = gate_compile(pat, opts, cc);
	if (r->gate_re != NULL)
		r->gate = true;
	r->rgate = 0;
	if ((r->type == RULE_BODY || r->type == RULE_RAWBODY) &&
	    r->tmpl == NULL && !r->captures &&
	    rgate_add(rs, r, pat, opts, cc) < 0) {
		free(pat8);
		free(pat);
		return -ENOMEM;
	}
	/* the ASCII form: used whole or not at all (no split) */
	if (pat8 != NULL && r->tmpl == NULL) {
		r->re_ascii = pcre2_compile(
		    (PCRE2_SPTR)pat8, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, cc);
		if (r->re_ascii != NULL) {
			(void)pcre2_jit_compile(r->re_ascii, PCRE2_JIT_COMPLETE);
			r->gate_ascii = gate_compile(pat8, opts, cc);
			af_set(r, pat8, opts);
		} else if (ec == PCRE2_ERROR_PATTERN_TOO_LARGE) {
			struct rule tmp = { .re = NULL };

			if (split_compile(&tmp, pat8, opts, cc) == -ENOMEM) {
				free(pat8);
				free(pat);
				return -ENOMEM;
			}
			r->re_ascii = tmp.re;
			r->ascii_more = tmp.more;
			r->nascii_more = tmp.nmore;
		}
	}
	free(pat8);
	/* the whole pattern (also one PCRE2 had to split) goes to the
	 * Hyperscan database of its type (build_hs) */
	if ((hs_type(r) || r->type == RULE_HEADER) && r->tmpl == NULL) {
		free(r->hs_pat);
		/* the factor compiles in a fraction of the time of most
		 * whole patterns; without one, the pattern itself. A header
		 * text is short and read by many rules: the whole pattern
		 * (hdr_groups_build) */
		r->hs_pat = hs_type(r) ? rule__factor_pattern(pat, opts,
					     r->type == RULE_URI)
				       : NULL;
		if (r->hs_pat == NULL && (r->hs_pat = strdup(pat)) == NULL) {
			free(pat);
			return -ENOMEM;
		}
		r->hs_opts = opts;
	}
	/* texts built from several headers ("To, Cc", "Name: value") are
	 * not substrings of what the prefilter scans: always run those */
	r->always = true;
	if (r->if_unset != NULL || r->hmod == HMOD_ADDR ||
	    r->hmod == HMOD_NAME || r->hkind == HDR_ENVFROM ||
	    r->hkind == HDR_TOCC || r->hkind == HDR_MESSAGEID ||
	    r->hkind == HDR_RELAYS ||
	    (r->hkind == HDR_ALL && r->hmod != HMOD_RAW) ||
	    r->type == RULE_MIMEHEADER || r->tmpl != NULL ||
	    !extract(pat, opts, lits, &nl)) {
		free(pat);
		return 0;
	}
	free(pat);
	if ((r->lits = malloc(nl * sizeof(*r->lits))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < nl; i++) {
		long id = strtab_add(st, lits[i]);

		if (id < 0)
			return -ENOMEM;
		r->lits[i] = (uint32_t)id;
	}
	r->nlits = nl;
	r->always = false;
	return 0;
}

static bool meta_dep_runnable(struct rule_set *rs, struct rule *r);

/* visit - depth-first over meta dependencies, post-order into meta_order */
static int
visit(struct rule_set *rs, size_t k, int depth)
{
	struct rule *r = &rs->v[k];
	const char **names;
	size_t nn;

	if (r->meta_state == 2)
		return 0;
	if (r->meta_state == 1 || depth > 200) {
		rule__diag(rs, RULE_DIAG_ERROR, r->file, r->line,
		    "%s: meta dependency loop", r->name);
		r->broken = true;
		return 0;
	}
	r->meta_state = 1;
	nn = rule__meta_names(r->meta, &names);
	for (size_t i = 0; i < nn; i++) {
		long d = rule__find(rs, names[i], strlen(names[i]));

		if (d >= 0 && rs->v[d].type == RULE_META && rs->v[d].defined &&
		    rs->v[d].meta != NULL)
			visit(rs, (size_t)d, depth + 1);
	}
	r->meta_state = 2;
	rs->meta_order[rs->nmeta++] = (uint32_t)k;
	return 0;
}

static bool
meta_dep_runnable(struct rule_set *rs, struct rule *r)
{
	const char **names;
	size_t nn = rule__meta_names(r->meta, &names);

	for (size_t i = 0; i < nn; i++) {
		long d = rule__find(rs, names[i], strlen(names[i]));

		if (d < 0 || !rs->v[d].runnable)
			return false;
	}
	return true;
}

static int
cmp_prio(const void *a, const void *b, void *arg)
{
	const struct rule_set *rs = arg;
	const struct rule *x = &rs->v[*(const uint32_t *)a];
	const struct rule *y = &rs->v[*(const uint32_t *)b];

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* cmp_hdr - header rules: by priority, then by the text they read, so
 * the evaluator builds each header text once */
static int
cmp_hdr(const void *a, const void *b, void *arg)
{
	const struct rule_set *rs = arg;
	const struct rule *x = &rs->v[*(const uint32_t *)a];
	const struct rule *y = &rs->v[*(const uint32_t *)b];
	int d;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	if ((d = (int)x->hkind - (int)y->hkind) != 0 ||
	    (d = (int)x->hmod - (int)y->hmod) != 0 ||
	    (d = (int)x->hraw - (int)y->hraw) != 0 ||
	    (d = (int)x->relays - (int)y->relays) != 0 ||
	    (d = (int)x->all_part - (int)y->all_part) != 0)
		return d;
	if ((d = strcasecmp(x->hdr ? x->hdr : "", y->hdr ? y->hdr : "")) != 0)
		return d;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static int
cmp_hslen(const void *a, const void *b, void *arg)
{
	const struct rule_set *rs = arg;
	size_t x = strlen(rs->v[*(const uint32_t *)a].hs_pat);
	size_t y = strlen(rs->v[*(const uint32_t *)b].hs_pat);

	if (x != y)
		return x < y ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* Hyperscan cache ---------------------------------------------------------
 *
 * File DIR/<key>.hsdb: the magic line, the key line, then per rule type
 * (hs_types order) its number, the rule indexes in its database and the
 * database set (hsdb.c rule__hsdb_write). The key covers everything the
 * databases depend on: Hyperscan's version, and every pattern with its
 * type, rule index, rule name and options; a changed rule file gives
 * another key, so a stale file is never read. Written to a temporary
 * name and renamed: a reader sees a whole file or none. A file that does
 * not read back (truncated, other CPU) is ignored: the budget compile
 * runs as without a cache. Format 4: the same layout as 3, databases
 * built with bounded repeats opened (hsdb.c rule__hs_open_repeats); the
 * new magic gives new keys, so caches of 3 are rebuilt once. Format 5:
 * then the header groups (hdr_groups_build): their count, and per group
 * its rule count, rule indexes and database. */
#define HS_CACHE_MAGIC RULE__HS_CACHE_MAGIC

static const enum rule_type hs_types[] = { RULE_BODY, RULE_URI, RULE_RAWBODY,
	RULE_FULL };
#define N_HS_TYPES (sizeof(hs_types) / sizeof(hs_types[0]))

/* hdr_hs_rule - a header rule that may go in a group's database (its
 * pattern was kept: compile_regex, build_hs) */
static bool
hdr_hs_rule(const struct rule *r)
{
	return r->type == RULE_HEADER && r->hs_ok && !r->broken;
}

static int
hs_cache_key(const struct rule_set *rs, char hex[65])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	unsigned mdlen = 0;
	const char *v = rule__hs_version();
	int ok;

	if (ctx == NULL)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(ctx, HS_CACHE_MAGIC, strlen(HS_CACHE_MAGIC)) &&
	    EVP_DigestUpdate(ctx, v, strlen(v) + 1);
	/* the per-type databases' patterns, then the header groups' */
	for (size_t ti = 0; ok && ti <= N_HS_TYPES; ti++) {
		enum rule_type t = ti < N_HS_TYPES ? hs_types[ti] : RULE_HEADER;

		for (size_t i = 0; ok && i < rs->norder[t]; i++) {
			uint32_t k = rs->order[t][i];
			const struct rule *r = &rs->v[k];
			char h[64];

			if (r->hs_pat == NULL || r->broken)
				continue;
			snprintf(h, sizeof(h), "%d %u %u ", (int)t, k,
			    r->hs_opts);
			ok = EVP_DigestUpdate(ctx, h, strlen(h)) &&
			    EVP_DigestUpdate(ctx, r->name, strlen(r->name) + 1) &&
			    EVP_DigestUpdate(
				ctx, r->hs_pat, strlen(r->hs_pat) + 1);
		}
	}
	for (size_t i = 0; ok && i < rs->nrgates; i++) {
		char h[32];

		snprintf(h, sizeof(h), "rg %zu %u ", i, rs->rgates[i].opts);
		ok = EVP_DigestUpdate(ctx, h, strlen(h)) &&
		    EVP_DigestUpdate(ctx, rs->rgates[i].pat,
			strlen(rs->rgates[i].pat) + 1);
	}
	for (size_t k = 0; ok && k < rs->n; k++) {
		const struct rule *r = &rs->v[k];
		char h[32];

		if (r->af_pat == NULL || r->broken)
			continue;
		snprintf(h, sizeof(h), "af %zu ", k);
		ok = EVP_DigestUpdate(ctx, h, strlen(h)) &&
		    EVP_DigestUpdate(ctx, r->af_pat, strlen(r->af_pat) + 1);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -ENOMEM;
	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* hg_free - the header groups' databases */
static void
hg_free(struct rule_set *rs)
{
	for (size_t g = 0; g < rs->nhg; g++)
		rule__hsdb_free(rs->hg[g]);
	free(rs->hg);
	rs->hg = NULL;
	rs->nhg = 0;
}

static void
hs_drop_all(struct rule_set *rs)
{
	for (size_t t = 0; t < RULE_NTYPES; t++) {
		rule__hsdb_free(rs->hs[t]);
		rs->hs[t] = NULL;
	}
	rule__hsdb_free(rs->rg_hs);
	rs->rg_hs = NULL;
	for (size_t i = 0; i < rs->nrgates; i++)
		rs->rgates[i].in_hs = false;
	rule__hsdb_free(rs->af_hs);
	rs->af_hs = NULL;
	hg_free(rs);
	for (size_t k = 0; k < rs->n; k++) {
		rs->v[k].in_hs = rs->v[k].af_in = false;
		rs->v[k].hgroup = 0;
	}
}

/* rule__hs_cache_read - a cache file's contents from f (rules_int.h):
 * 0 with rs->hs[] and in_hs set; <0 and nothing set otherwise. Every
 * rule index is checked against this rule set (a Hyperscan id is a rule
 * index), every size against a cap. */
int
rule__hs_cache_read(struct rule_set *rs, FILE *f, const char *key)
{
	char line[128];
	int rc = -EINVAL;

	hs_drop_all(rs);
	if (fgets(line, sizeof(line), f) == NULL ||
	    strcmp(line, HS_CACHE_MAGIC) != 0 ||
	    fgets(line, sizeof(line), f) == NULL ||
	    strncmp(line, key, 64) != 0 || line[64] != '\n')
		goto out;
	for (size_t ti = 0; ti < N_HS_TYPES; ti++) {
		uint32_t hdr[2];

		if (fread(hdr, sizeof(hdr), 1, f) != 1 ||
		    hdr[0] != (uint32_t)hs_types[ti] || hdr[1] > rs->n)
			goto out;
		for (uint32_t i = 0; i < hdr[1]; i++) {
			uint32_t k;

			if (fread(&k, sizeof(k), 1, f) != 1 || k >= rs->n ||
			    !rs->v[k].hs_ok || rs->v[k].type != hs_types[ti])
				goto out;
			rs->v[k].in_hs = true;
		}
		if (rule__hsdb_read(&rs->hs[hs_types[ti]], f) < 0)
			goto out;
	}
	/* then the repeat-gate elements: count, indexes, database */
	{
		uint32_t nrg;

		if (fread(&nrg, sizeof(nrg), 1, f) != 1 || nrg > rs->nrgates)
			goto out;
		for (uint32_t i = 0; i < nrg; i++) {
			uint32_t k;

			if (fread(&k, sizeof(k), 1, f) != 1 ||
			    k >= rs->nrgates)
				goto out;
			rs->rgates[k].in_hs = true;
		}
		if (rule__hsdb_read(&rs->rg_hs, f) < 0 ||
		    (nrg > 0) != (rs->rg_hs != NULL))
			goto out;
	}
	/* then the ASCII filters: count, rule indexes, database */
	{
		uint32_t naf;

		if (fread(&naf, sizeof(naf), 1, f) != 1 || naf > rs->n)
			goto out;
		for (uint32_t i = 0; i < naf; i++) {
			uint32_t k;

			if (fread(&k, sizeof(k), 1, f) != 1 || k >= rs->n ||
			    rs->v[k].af_pat == NULL || rs->v[k].broken ||
			    rs->v[k].in_hs)
				goto out;
			rs->v[k].af_in = true;
		}
		if (rule__hsdb_read(&rs->af_hs, f) < 0 ||
		    (naf > 0) != (rs->af_hs != NULL))
			goto out;
	}
	/* then the header groups: count; per group its rule indexes (each
	 * reading the text of the first) and its database */
	{
		uint32_t ng;

		if (fread(&ng, sizeof(ng), 1, f) != 1 || ng > rs->n ||
		    (ng > 0 &&
			(rs->hg = calloc(ng, sizeof(*rs->hg))) == NULL))
			goto out;
		rs->nhg = ng;
		for (uint32_t g = 0; g < ng; g++) {
			uint32_t cnt, first = 0;

			if (fread(&cnt, sizeof(cnt), 1, f) != 1 || cnt == 0 ||
			    cnt > rs->n)
				goto out;
			for (uint32_t i = 0; i < cnt; i++) {
				uint32_t k;

				if (fread(&k, sizeof(k), 1, f) != 1 ||
				    k >= rs->n || !hdr_hs_rule(&rs->v[k]) ||
				    rs->v[k].hgroup != 0 ||
				    (i > 0 && !rule__same_target(
						  &rs->v[first], &rs->v[k])))
					goto out;
				if (i == 0)
					first = k;
				rs->v[k].hgroup = g + 1;
			}
			if (rule__hsdb_read(&rs->hg[g], f) < 0 ||
			    rs->hg[g] == NULL)
				goto out;
		}
	}
	rc = 0;
out:
	if (rc < 0)
		hs_drop_all(rs);
	return rc;
}

static int
hs_cache_load(struct rule_set *rs, const char *path, const char *key)
{
	FILE *f = fopen(path, "rb");
	int rc;

	if (f == NULL)
		return -errno;
	rc = rule__hs_cache_read(rs, f, key);
	fclose(f);
	return rc;
}

static int
hs_cache_save(const struct rule_set *rs, const char *path, const char *key)
{
	char tmp[600];
	FILE *f;
	int rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if ((f = fopen(tmp, "wb")) == NULL)
		return -errno;
	if (fprintf(f, "%s%s\n", HS_CACHE_MAGIC, key) < 0)
		rc = -EIO;
	for (size_t ti = 0; rc == 0 && ti < N_HS_TYPES; ti++) {
		enum rule_type t = hs_types[ti];
		uint32_t hdr[2] = { (uint32_t)t, 0 };

		for (size_t i = 0; i < rs->norder[t]; i++)
			hdr[1] += rs->v[rs->order[t][i]].in_hs;
		if (fwrite(hdr, sizeof(hdr), 1, f) != 1)
			rc = -EIO;
		for (size_t i = 0; rc == 0 && i < rs->norder[t]; i++) {
			uint32_t k = rs->order[t][i];

			if (rs->v[k].in_hs && fwrite(&k, sizeof(k), 1, f) != 1)
				rc = -EIO;
		}
		if (rc == 0)
			rc = rule__hsdb_write(rs->hs[t], f);
	}
	if (rc == 0) {
		uint32_t nrg = 0;

		for (size_t i = 0; i < rs->nrgates; i++)
			nrg += rs->rgates[i].in_hs;
		if (fwrite(&nrg, sizeof(nrg), 1, f) != 1)
			rc = -EIO;
		for (uint32_t i = 0; rc == 0 && i < rs->nrgates; i++)
			if (rs->rgates[i].in_hs &&
			    fwrite(&i, sizeof(i), 1, f) != 1)
				rc = -EIO;
		if (rc == 0)
			rc = rule__hsdb_write(rs->rg_hs, f);
	}
	if (rc == 0) {
		uint32_t naf = 0;

		for (size_t k = 0; k < rs->n; k++)
			naf += rs->v[k].af_in;
		if (fwrite(&naf, sizeof(naf), 1, f) != 1)
			rc = -EIO;
		for (uint32_t k = 0; rc == 0 && k < rs->n; k++)
			if (rs->v[k].af_in && fwrite(&k, sizeof(k), 1, f) != 1)
				rc = -EIO;
		if (rc == 0)
			rc = rule__hsdb_write(rs->af_hs, f);
	}
	if (rc == 0) {
		uint32_t ng = (uint32_t)rs->nhg;

		if (fwrite(&ng, sizeof(ng), 1, f) != 1)
			rc = -EIO;
		for (uint32_t g = 0; rc == 0 && g < ng; g++) {
			uint32_t cnt = 0;

			for (size_t k = 0; k < rs->n; k++)
				cnt += rs->v[k].hgroup == g + 1;
			if (fwrite(&cnt, sizeof(cnt), 1, f) != 1)
				rc = -EIO;
			for (uint32_t k = 0; rc == 0 && k < rs->n; k++)
				if (rs->v[k].hgroup == g + 1 &&
				    fwrite(&k, sizeof(k), 1, f) != 1)
					rc = -EIO;
			if (rc == 0)
				rc = rule__hsdb_write(rs->hg[g], f);
		}
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = rc ? rc : -EIO;
	if (fclose(f) != 0 && rc == 0)
		rc = -EIO;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		(void)unlink(tmp);
	return rc;
}

static void mark_lazy(struct rule_set *);
static int exec_alloc(struct rule_set *);
static void build_mplan(struct rule_set *);

/* rgate_keep - repeat gates only for rules Hyperscan does not already
 * narrow to the lines where they (may) match; an element no rule keeps
 * is not counted (types 0) */
static void
rgate_keep(struct rule_set *rs)
{
	for (size_t i = 0; i < rs->nrgates; i++)
		rs->rgates[i].types = 0;
	for (size_t k = 0; k < rs->n; k++) {
		struct rule *r = &rs->v[k];

		if (r->rgate == 0)
			continue;
		if (r->in_hs)
			r->rgate = 0;
		else
			rs->rgates[r->rgate - 1].types |= 1u << r->type;
	}
}

/* hs_list - patterns gathered for one extra Hyperscan database */
struct hs_list {
	const char **pats;
	unsigned *opts;
	uint32_t *ids;
	bool *in;
	size_t n;
};

static void
hs_list_free(struct hs_list *l)
{
	free(l->pats);
	free(l->opts);
	free(l->ids);
	free(l->in);
}

/* hs_list_init - room for cap patterns; -ENOMEM (l freed) */
static int
hs_list_init(struct hs_list *l, size_t cap)
{
	l->n = 0;
	l->pats = calloc(cap + 1, sizeof(*l->pats));
	l->opts = calloc(cap + 1, sizeof(*l->opts));
	l->ids = calloc(cap + 1, sizeof(*l->ids));
	l->in = calloc(cap + 1, sizeof(*l->in));
	if (l->pats == NULL || l->opts == NULL || l->ids == NULL ||
	    l->in == NULL) {
		hs_list_free(l);
		return -ENOMEM;
	}
	return 0;
}

/* rg_hs_build - rs->rg_hs: the repeat-gate elements Hyperscan runs
 * exactly, every match end reported (eval.c rgate_hs_fill counts them
 * there instead of with PCRE2). Seconds-scale patterns are fine here:
 * only the cache build compiles them. */
static int
rg_hs_build(struct rule_set *rs)
{
	struct hs_list l;
	int rc;

	rule__hsdb_free(rs->rg_hs);
	rs->rg_hs = NULL;
	if (hs_list_init(&l, rs->nrgates) < 0)
		return -ENOMEM;
	/* eval.c counts the first RGATE_HS_MAX from the scan: only those */
	for (size_t i = 0; i < rs->nrgates && i < RGATE_HS_MAX; i++) {
		l.pats[l.n] = rs->rgates[i].pat;
		l.opts[l.n] = rs->rgates[i].opts;
		l.ids[l.n++] = (uint32_t)i;
	}
	rc = l.n == 0 ? 0
		      : rule__hsdb_new_ends(&rs->rg_hs, l.pats, l.opts, l.ids,
			    l.n, l.in);
	for (size_t i = 0; rc == 0 && i < l.n; i++)
		rs->rgates[i].in_hs = l.in[i];
	hs_list_free(&l);
	return rc == -ENOTSUP ? 0 : rc;
}

/* Header groups. A header rule reads one text (Subject, ALL,
 * X-Spam-Relays-External ...), and many rules read the same one: SA's
 * stock set has ~100 on X-Spam-Relays-External, ~40 on ALL, ~140 on
 * Subject. PCRE2 ran each of them over it (about 300 runs a message,
 * 14% of the engine's time on the spamc sample, 93% of them no match).
 * One Hyperscan database per text read by at least HDR_HS_MIN rules
 * (whole patterns, full mode: a superset PCRE2 confirms) answers the
 * group in one scan (eval.c hg_says_no). Built for the cache only. */
#define HDR_HS_MIN 4

static int
hdr_groups_build(struct rule_set *rs)
{
	size_t nh = rs->norder[RULE_HEADER];
	uint32_t *rep = calloc(nh + 1, sizeof(*rep));
	uint32_t *grp = calloc(nh + 1, sizeof(*grp));
	size_t *cnt = calloc(nh + 1, sizeof(*cnt));
	struct hs_list l = { 0 };
	size_t ng = 0;
	int rc = -ENOMEM;

	hg_free(rs);
	if (rep == NULL || grp == NULL || cnt == NULL)
		goto out;
	if (hs_list_init(&l, nh) < 0) {
		l = (struct hs_list){ 0 };
		goto out;
	}
	/* group i of the rules in run order: the first rule reading the
	 * same text (sorted by target, so few comparisons) */
	for (size_t i = 0; i < nh; i++) {
		const struct rule *r = &rs->v[rs->order[RULE_HEADER][i]];
		size_t g = ng;

		grp[i] = UINT32_MAX;
		if (!hdr_hs_rule(r))
			continue;
		while (g > 0 &&
		    !rule__same_target(&rs->v[rep[g - 1]], r))
			g--;
		if (g == 0) {
			rep[ng] = rs->order[RULE_HEADER][i];
			g = ++ng;
		}
		grp[i] = (uint32_t)(g - 1);
		cnt[g - 1]++;
	}
	if ((rs->hg = calloc(ng + 1, sizeof(*rs->hg))) == NULL)
		goto out;
	rs->nhg = 0;
	for (size_t g = 0; g < ng; g++) {
		if (cnt[g] < HDR_HS_MIN)
			continue;
		l.n = 0;
		for (size_t i = 0; i < nh; i++)
			if (grp[i] == g) {
				uint32_t k = rs->order[RULE_HEADER][i];

				l.pats[l.n] = rs->v[k].hs_pat;
				l.opts[l.n] = rs->v[k].hs_opts;
				l.ids[l.n++] = k;
			}
		rc = rule__hsdb_new(&rs->hg[rs->nhg], l.pats, l.opts, l.ids,
		    l.n, l.in, NULL);
		if (rc == -ENOTSUP)
			break;
		if (rc < 0)
			goto out;
		if (rs->hg[rs->nhg] == NULL)
			continue;
		rs->nhg++;
		for (size_t i = 0; i < l.n; i++)
			if (l.in[i])
				rs->v[l.ids[i]].hgroup = (uint32_t)rs->nhg;
	}
	rc = 0;
out:
	hs_list_free(&l);
	free(rep);
	free(grp);
	free(cnt);
	return rc;
}

/* af_build - rs->af_hs: the ASCII filters (af_set) of the body rules
 * Hyperscan does not hold, run exactly (rule__hsdb_new_exact) */
static int
af_build(struct rule_set *rs)
{
	struct hs_list l;
	int rc;

	rule__hsdb_free(rs->af_hs);
	rs->af_hs = NULL;
	if (hs_list_init(&l, rs->n) < 0)
		return -ENOMEM;
	for (size_t k = 0; k < rs->n; k++) {
		struct rule *r = &rs->v[k];

		r->af_in = false;
		if (r->af_pat == NULL || r->broken || r->in_hs)
			continue;
		l.pats[l.n] = r->af_pat;
		/* per line: ^ $ are gone, '.' never meets '\n' */
		l.opts[l.n] = r->hs_opts & ~(unsigned)PCRE2_MULTILINE;
		l.ids[l.n++] = (uint32_t)k;
	}
	rc = l.n == 0 ? 0
		      : rule__hsdb_new_exact(&rs->af_hs, l.pats, l.opts, l.ids,
			    l.n, l.in);
	for (size_t i = 0; rc == 0 && i < l.n; i++)
		rs->v[l.ids[i]].af_in = l.in[i];
	hs_list_free(&l);
	return rc == -ENOTSUP ? 0 : rc;
}

/* build_hs - one Hyperscan database per rule type over the patterns
 * compile_regex kept; rules left out keep the literal prefilter. Without
 * Hyperscan (CPU, library refusal) everything stays on that path.
 * Hyperscan compiles SA's patterns slowly (0.5-60 ms each, seconds for
 * the largest): the compile stops after HS_BUDGET_MS of CPU time so that
 * loading the stock ruleset stays well under a second; the rules it did
 * not reach keep the literal prefilter too. */
static int
build_hs(struct rule_set *rs)
{
	struct rule__hsdb *dbs[RULE_NTYPES + 2] = { NULL };
	/* body first: most rules, longest texts */
	double budget = HS_BUDGET_MS, t0 = rule__cpu_ms();
	char key[65] = "";
	int rc = 0;

	memset(&rs->hs_info, 0, sizeof(rs->hs_info));
	for (size_t k = 0; k < rs->n; k++) {
		struct rule *r = &rs->v[k];

		r->hs_ok = r->hs_pat != NULL && !r->broken;
		rs->hs_info.cacheable += r->hs_ok &&
		    rule__hs_full_takes(r->hs_pat, r->hs_opts);
	}
	if (hs_cache_key(rs, key) == 0)
		memcpy(rs->hs_key, key, sizeof(rs->hs_key));
	if (rs->hs_cache_dir != NULL && rs->hs_key[0] != '\0')
		snprintf(rs->hs_info.cache_file, sizeof(rs->hs_info.cache_file),
		    "%s/%s.hsdb", rs->hs_cache_dir, key);
	if (rs->hs_info.cache_file[0] && !rs->hs_build &&
	    hs_cache_load(rs, rs->hs_info.cache_file, key) == 0) {
		rs->hs_info.from_cache = true;
		for (size_t t = 0; t < RULE_NTYPES; t++)
			dbs[t] = rs->hs[t];
		dbs[RULE_NTYPES] = rs->rg_hs;
		dbs[RULE_NTYPES + 1] = rs->af_hs;
		goto built;
	}
	for (size_t ti = 0; ti < N_HS_TYPES; ti++) {
		enum rule_type t = hs_types[ti];
		struct hs_list l;

		rule__hsdb_free(rs->hs[t]);
		rs->hs[t] = NULL;
		if (hs_list_init(&l, rs->norder[t]) < 0) {
			rc = -ENOMEM;
			break;
		}
		for (size_t i = 0; i < rs->norder[t]; i++) {
			struct rule *r = &rs->v[rs->order[t][i]];

			r->in_hs = false;
			if (r->hs_pat == NULL || r->broken)
				continue;
			l.ids[l.n++] = rs->order[t][i];
		}
		/* shortest patterns first: the compile time grows with the
		 * size, so the budget covers the most rules that way */
		qsort_r(l.ids, l.n, sizeof(*l.ids), cmp_hslen, rs);
		for (size_t i = 0; i < l.n; i++) {
			l.pats[i] = rs->v[l.ids[i]].hs_pat;
			l.opts[i] = rs->v[l.ids[i]].hs_opts;
		}
		if (l.n > 0) {
			rc = rule__hsdb_new(&rs->hs[t], l.pats, l.opts, l.ids,
			    l.n, l.in, rs->hs_build ? NULL : &budget);
			for (size_t i = 0; rc == 0 && i < l.n; i++)
				rs->v[l.ids[i]].in_hs = l.in[i];
		}
		hs_list_free(&l);
		if (rc == -ENOTSUP) { /* no Hyperscan here: not an error */
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
		dbs[t] = rs->hs[t];
	}
	if (rc == 0 && rs->hs_build)
		rc = rg_hs_build(rs);
	dbs[RULE_NTYPES] = rs->rg_hs;
	if (rc == 0 && rs->hs_build)
		rc = af_build(rs);
	dbs[RULE_NTYPES + 1] = rs->af_hs;
	if (rc == 0 && rs->hs_build)
		rc = hdr_groups_build(rs);
	rs->hs_info.compile_ms = rule__cpu_ms() - t0;
	if (rc == 0 && rs->hs_build)
		rs->hs_info.save_rc = rs->hs_info.cache_file[0]
		    ? hs_cache_save(rs, rs->hs_info.cache_file, key)
		    : -EINVAL;
built:
	for (size_t k = 0; k < rs->n; k++) {
		free(rs->v[k].hs_pat);
		rs->v[k].hs_pat = NULL;
		free(rs->v[k].af_pat);
		rs->v[k].af_pat = NULL;
	}
	rule__hspool_free(rs->hspool);
	rs->hspool = NULL;
	if (rc == 0) {
		struct rule__hsdb **all =
		    calloc(RULE_NTYPES + 2 + rs->nhg, sizeof(*all));

		if (all == NULL) {
			rc = -ENOMEM;
		} else {
			memcpy(all, dbs, sizeof(dbs));
			for (size_t g = 0; g < rs->nhg; g++)
				all[RULE_NTYPES + 2 + g] = rs->hg[g];
			rc = rule__hspool_new(
			    &rs->hspool, all, RULE_NTYPES + 2 + rs->nhg);
			free(all);
		}
	}
	if (rc < 0 || rs->hspool == NULL)
		hs_drop_all(rs); /* half-built: run without */
	for (size_t k = 0; k < rs->n; k++)
		rs->hs_info.patterns += rs->v[k].in_hs || rs->v[k].hgroup;
	rgate_keep(rs);
	/* the Aho-Corasick pass over a text is only worth it when a rule
	 * outside Hyperscan has literals there */
	for (size_t t = 0; t < RULE_NTYPES; t++) {
		rs->ac_needed[t] = false;
		for (size_t i = 0; i < rs->norder[t]; i++) {
			const struct rule *r = &rs->v[rs->order[t][i]];

			if (!r->in_hs && r->nlits > 0)
				rs->ac_needed[t] = true;
		}
	}
	return rc;
}

int
rule__compile(struct rule_set *rs)
{
	pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
	struct strtab st = { 0 };
	int rc = 0;

	if (cc == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < rs->ntags; i++)
		if (rs->tags[i].ascii == NULL)
			rs->tags[i].ascii = prune_8bit(rs->tags[i].val);
	/* Perl reads an unknown escape like "\y" as the letter */
	pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_BAD_ESCAPE_IS_LITERAL);
	if ((rs->mctx = pcre2_match_context_create(NULL)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	pcre2_set_match_limit(rs->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(rs->mctx, DEPTH_LIMIT);
	/* FreeMail domain lists (evals_hdr.c) */
	if ((rc = rule__hdr_conf_finish(rs)) < 0)
		goto out;
	for (size_t i = 0; i < RULE_NTYPES; i++) {
		free(rs->order[i]);
		rs->order[i] = calloc(rs->n + 1, sizeof(uint32_t));
		rs->norder[i] = 0;
		if (rs->order[i] == NULL) {
			rc = -ENOMEM;
			goto out;
		}
	}
	free(rs->meta_order);
	if ((rs->meta_order = calloc(rs->n + 1, sizeof(uint32_t))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rs->nmeta = 0;
	for (size_t k = 0; k < rs->n; k++) {
		struct rule *r = &rs->v[k];

		if (!r->defined) {
			if (r->has_score && r->file != NULL)
				rule__diag(rs, RULE_DIAG_WARN, r->file, r->line,
				    "score for undefined rule %s", r->name);
			continue;
		}
		if (r->broken)
			continue;
		if (r->type == RULE_META) {
			const char *why;

			if ((r->meta = rule__meta_compile(r->meta_src, &why)) ==
			    NULL) {
				rule__diag(rs, RULE_DIAG_ERROR, r->file,
				    r->line, "%s: bad meta expression: %s",
				    r->name, why);
				r->broken = true;
			}
			continue;
		}
		if (r->evname != NULL) {
			r->ev = rule__eval_lookup(r->evname);
			if (r->ev != NULL && r->ev->arg0 != NULL) {
				bool known = false;

				for (size_t a = 0;
				     r->nargs > 0 && r->ev->arg0[a]; a++)
					known |= strcmp(r->ev->arg0[a],
						     r->args[0]) == 0;
				if (!known) {
					rule__diag(rs, RULE_DIAG_WARN, r->file,
					    r->line,
					    "%s: eval:%s('%s') not "
					    "implemented, rule never fires",
					    r->name, r->evname,
					    r->nargs ? r->args[0] : "");
					r->ev = NULL;
					rs->order[r->type]
						 [rs->norder[r->type]++] =
					    (uint32_t)k;
					continue;
				}
			}
			if (r->ev != NULL)
				r->runnable = true;
			else if (!r->claimed && !rule__eval_external(r->evname))
				rule__diag(rs, RULE_DIAG_WARN, r->file, r->line,
				    "%s: eval:%s not implemented, "
				    "rule never fires",
				    r->name, r->evname);
			rs->order[r->type][rs->norder[r->type]++] = (uint32_t)k;
			continue;
		}
		if (r->hkind == HDR_EXISTS) {
			r->runnable = true;
			r->always = true;
		} else if ((rc = compile_regex(rs, r, cc, &st)) < 0) {
			goto out;
		} else if (!r->broken) {
			r->runnable = true;
		}
		if (!r->broken)
			rs->order[r->type][rs->norder[r->type]++] = (uint32_t)k;
	}
	/* metas: unknown names, dependency order, runnable closure */
	for (size_t k = 0; k < rs->n; k++) {
		struct rule *r = &rs->v[k];
		const char **names;
		size_t nn;
		int32_t *ids;

		if (!r->defined || r->type != RULE_META || r->meta == NULL)
			continue;
		nn = rule__meta_names(r->meta, &names);
		if ((ids = malloc((nn + 1) * sizeof(*ids))) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < nn; i++) {
			long d = rule__find(rs, names[i], strlen(names[i]));

			ids[i] = (int32_t)d;
			if (d < 0 || !rs->v[d].defined)
				rule__diag(rs, RULE_DIAG_WARN, r->file, r->line,
				    "%s: meta uses unknown rule %s", r->name,
				    names[i]);
		}
		rule__meta_set_ids(r->meta, ids);
		visit(rs, k, 0);
	}
	for (size_t i = 0; i < rs->nmeta; i++) {
		struct rule *r = &rs->v[rs->meta_order[i]];

		r->runnable = !r->broken && meta_dep_runnable(rs, r);
	}
	for (size_t i = 0; i < RULE_NTYPES; i++)
		qsort_r(rs->order[i], rs->norder[i], sizeof(uint32_t),
		    i == RULE_HEADER ? cmp_hdr : cmp_prio, rs);
	if (st.n > 0 && (rs->ac = ac_build(st.v, st.n)) == NULL)
		rc = -ENOMEM;
	rs->nlitstrs = st.n;
	if (rc == 0)
		rc = build_hs(rs);
	if (rc == 0)
		rc = exec_alloc(rs);
	mark_lazy(rs); /* after build_hs: costs depend on in_hs */
out:
	strtab_free(&st);
	pcre2_compile_context_free(cc);
	return rc;
}

static double
lazy_cost(void *arg, int32_t k)
{
	const struct rule_set *rs = arg;

	return k >= 0 && rs->v[k].lazy ? rs->v[k].cost : 0;
}

/* pattern_kb - compiled size of a rule's PCRE2 patterns, KiB */
static double
pattern_kb(const struct rule *r)
{
	size_t sz, total = 0;

	if (r->re != NULL && pcre2_pattern_info(r->re, PCRE2_INFO_SIZE, &sz) == 0)
		total += sz;
	for (size_t i = 0; i < r->nmore; i++)
		if (pcre2_pattern_info(r->more[i], PCRE2_INFO_SIZE, &sz) == 0)
			total += sz;
	return (double)total / 1024;
}

/* exec_free - what exec_alloc took */
static void
exec_free(struct rule_set *rs)
{
	free(rs->xflag);
	rs->xflag = NULL;
	free(rs->xgroup);
	rs->xgroup = NULL;
	free(rs->xtmpl);
	rs->xtmpl = NULL;
	rs->nxtmpl = 0;
	for (size_t t = 0; t < RULE_NTYPES; t++) {
		free(rs->xo[t]);
		rs->xo[t] = NULL;
		rs->nxo[t] = 0;
	}
}

/* exec_alloc - room for exec_lists: per type its rules, the template
 * rules, a flag byte per rule; sized once, after the rules are all in */
static int
exec_alloc(struct rule_set *rs)
{
	exec_free(rs);
	if ((rs->xflag = calloc(rs->n + 1, 1)) == NULL ||
	    (rs->xtmpl = calloc(rs->n + 1, sizeof(uint32_t))) == NULL ||
	    (rs->xgroup = calloc(rs->n + 1, sizeof(uint32_t))) == NULL)
		return -ENOMEM;
	for (size_t t = 0; t < RULE_META; t++)
		if ((rs->xo[t] = calloc(rs->norder[t] + 1, sizeof(uint32_t))) ==
		    NULL)
			return -ENOMEM;
	return 0;
}

/* exec_lists - what eval.c's rule_run_exec walks per message: per type
 * the rules it runs (not claimed, broken or templates) and the template
 * rules, with a byte of flags per rule (RULE__XF_*), so that the loop
 * reads these arrays and not a 450-byte struct rule per rule: on the
 * stock set those reads missed the cache 2864 times a message. Filled
 * again whenever lazy or claimed change (mark_lazy). */
static void
exec_lists(struct rule_set *rs)
{
	if (rs->xflag == NULL)
		return; /* not allocated: nothing runs (rule__compile) */
	rs->nxtmpl = 0;
	memset(rs->xflag, 0, rs->n);
	for (size_t t = 0; t < RULE_META; t++) {
		rs->nxo[t] = 0;
		for (size_t i = 0; i < rs->norder[t]; i++) {
			uint32_t k = rs->order[t][i];
			const struct rule *r = &rs->v[k];

			if (r->claimed || r->broken)
				continue;
			if (r->tmpl != NULL) {
				rs->xtmpl[rs->nxtmpl++] = k;
				continue;
			}
			rs->xo[t][rs->nxo[t]++] = k;
			rs->xflag[k] = (uint8_t)((r->lazy ? RULE__XF_LAZY : 0) |
			    (r->in_hs ? RULE__XF_HS : 0) |
			    (r->hgroup != 0 && !r->neg && r->if_unset == NULL
				    ? RULE__XF_HG
				    : 0) |
			    (unsigned)t << RULE__XF_TYPE_SHIFT);
			rs->xgroup[k] = r->hgroup;
		}
	}
}

/* mark_lazy - SA's __ sub-rules only matter through the metas that read
 * them: the unscored ones of the costly types (body, rawbody, uri, full)
 * and __ metas are left to eval.c to compute on demand, and each &&
 * reads its cheaper operand first (so "__FORM && !__VIA_ML" never runs
 * __FORM's body scan on mailing-list mail). Not lazy: rules with a
 * score (they are hits), eval: rules, capture and template rules (their
 * tags feed other rules), header and mimeheader rules (cheap, and run in
 * target order to share texts). Costs: relative, per text scan. */
static void
mark_lazy(struct rule_set *rs)
{
	for (size_t k = 0; k < rs->n; k++) {
		struct rule *r = &rs->v[k];

		r->lazy = false;
		r->cost = 0;
		if (!r->defined || r->broken || r->has_score ||
		    strncmp(r->name, "__", 2) != 0 || r->evname != NULL ||
		    r->tmpl != NULL || r->captures || r->claimed)
			continue;
		switch (r->type) {
		case RULE_BODY:
		case RULE_RAWBODY:
		case RULE_FULL:
			/* Hyperscan mostly answers "no" at once; else a
			 * PCRE2 pass, slower the bigger the pattern */
			r->lazy = true;
			r->cost = r->in_hs ? 1 : 8 + pattern_kb(r);
			break;
		case RULE_URI:
			r->lazy = true;
			r->cost = r->in_hs ? 0.5 : 2 + pattern_kb(r);
			break;
		case RULE_META:
			r->lazy = r->meta != NULL;
			break;
		default:
			break;
		}
	}
	/* dependencies first: a meta's cost is known before its users' */
	for (size_t i = 0; i < rs->nmeta; i++) {
		struct rule *r = &rs->v[rs->meta_order[i]];
		double c;

		if (r->meta == NULL || r->broken)
			continue;
		c = rule__meta_order(r->meta, lazy_cost, rs);
		if (r->lazy)
			r->cost = c < 1e6 ? c + 0.01 : 1e6;
	}
	build_mplan(rs); /* leaves depend on the lazy flags */
	exec_lists(rs);
}

/* the leaves of rs->mplan, decided as eval.c's meta_value_id decides at
 * run time: a rule this engine computes reads its count (lazy ones on
 * demand), any other name another module's hit */
struct leaf_st {
	struct rule_set *rs;
	struct rule__mplan *pl;
	int32_t *hitj; /* per rule: its hit index, -1 none yet */
	int rc;
};

static uint32_t
hit_index(struct leaf_st *st, int32_t k, const char *name)
{
	struct rule__mplan *pl = st->pl;
	const char **nv;

	if (k >= 0 && st->hitj[k] >= 0)
		return (uint32_t)st->hitj[k];
	for (size_t j = 0; k < 0 && j < pl->nhits; j++)
		if (strcmp(pl->hit_names[j], name) == 0)
			return (uint32_t)j;
	if ((nv = realloc(pl->hit_names, (pl->nhits + 1) * sizeof(*nv))) ==
	    NULL) {
		st->rc = -ENOMEM;
		return 0;
	}
	pl->hit_names = nv;
	nv[pl->nhits] = name;
	if (k >= 0)
		st->hitj[k] = (int32_t)pl->nhits;
	return (uint32_t)pl->nhits++;
}

static struct rule__mop
meta_leaf(void *arg, int32_t k, const char *name)
{
	struct leaf_st *st = arg;
	const struct rule *r = k >= 0 ? &st->rs->v[k] : NULL;

	if (r != NULL && r->defined && !r->claimed &&
	    (r->evname == NULL || r->ev != NULL))
		return (struct rule__mop){
			r->lazy ? RULE__MOP_LAZY : RULE__MOP_COUNT, (uint32_t)k
		};
	return (struct rule__mop){ RULE__MOP_HIT, hit_index(st, k, name) };
}

/* build_mplan - rs->mplan for the lazy flags and claims as they are now;
 * without memory none (eval.c then walks each meta's tree) */
static void
build_mplan(struct rule_set *rs)
{
	struct rule__mplan *pl = calloc(1, sizeof(*pl));
	struct leaf_st st = { rs, pl, NULL, 0 };

	rule__mplan_free(rs->mplan);
	rs->mplan = NULL;
	if (pl == NULL ||
	    (pl->at = malloc((rs->n + 1) * sizeof(*pl->at))) == NULL ||
	    (pl->steps = calloc(rs->nmeta + 1, sizeof(*pl->steps))) == NULL ||
	    (st.hitj = malloc((rs->n + 1) * sizeof(*st.hitj))) == NULL)
		goto fail;
	for (size_t k = 0; k < rs->n; k++) {
		pl->at[k] = RULE__MPLAN_NONE;
		st.hitj[k] = -1;
	}
	for (size_t i = 0; i < rs->nmeta; i++) {
		uint32_t k = rs->meta_order[i];
		const struct rule *r = &rs->v[k];

		if (r->broken || r->meta == NULL)
			continue;
		if (rule__mplan_add(pl, r->meta, meta_leaf, &st, &pl->at[k]) <
			0 ||
		    st.rc < 0)
			goto fail;
		pl->steps[pl->nsteps++] =
		    (struct rule__mstep){ k, pl->at[k], r->lazy };
	}
	free(st.hitj);
	rs->mplan = pl;
	return;
fail:
	free(st.hitj);
	rule__mplan_free(pl);
}

/* rule__runnable_update - after rule_set_evals_named claims rules */
void
rule__runnable_update(struct rule_set *rs)
{
	for (size_t i = 0; i < rs->nmeta; i++) {
		struct rule *r = &rs->v[rs->meta_order[i]];

		r->runnable = !r->broken && meta_dep_runnable(rs, r);
	}
	mark_lazy(rs);
}

void
rule__compile_free(struct rule_set *rs)
{
	exec_free(rs);
	for (size_t i = 0; i < rs->n; i++) {
		pcre2_code_free(rs->v[i].re);
		rs->v[i].re = NULL;
		for (size_t k = 0; k < rs->v[i].nmore; k++)
			pcre2_code_free(rs->v[i].more[k]);
		free(rs->v[i].more);
		rs->v[i].more = NULL;
		free(rs->v[i].hs_pat);
		rs->v[i].hs_pat = NULL;
		free(rs->v[i].af_pat);
		rs->v[i].af_pat = NULL;
		pcre2_code_free(rs->v[i].gate_re);
		rs->v[i].gate_re = NULL;
		pcre2_code_free(rs->v[i].re_ascii);
		rs->v[i].re_ascii = NULL;
		pcre2_code_free(rs->v[i].gate_ascii);
		rs->v[i].gate_ascii = NULL;
		for (size_t k = 0; k < rs->v[i].nascii_more; k++)
			pcre2_code_free(rs->v[i].ascii_more[k]);
		free(rs->v[i].ascii_more);
		rs->v[i].ascii_more = NULL;
		rs->v[i].nascii_more = 0;
		rs->v[i].nmore = 0;
	}
	for (size_t i = 0; i < rs->nrgates; i++) {
		pcre2_code_free(rs->rgates[i].re);
		free(rs->rgates[i].pat);
	}
	free(rs->rgates);
	rs->rgates = NULL;
	rs->nrgates = 0;
	rule__hsdb_free(rs->rg_hs);
	rs->rg_hs = NULL;
	rule__hsdb_free(rs->af_hs);
	rs->af_hs = NULL;
	hg_free(rs);
	pcre2_match_context_free(rs->mctx);
	rs->mctx = NULL;
	for (size_t t = 0; t < RULE_NTYPES; t++) {
		rule__hsdb_free(rs->hs[t]);
		rs->hs[t] = NULL;
	}
	rule__hspool_free(rs->hspool);
	rs->hspool = NULL;
	ac_free(rs->ac);
	rs->ac = NULL;
	rule__mplan_free(rs->mplan);
	rs->mplan = NULL;
}
