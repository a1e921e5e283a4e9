/*
 * rules/rules_int.h - private to rules/: the rule set layout shared by
 * parse.c, compile.c, meta.c, eval.c and evals.c
 */
#ifndef RULES_RULES_INT_H
#define RULES_RULES_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rules/rules.h"

#include "util/buf.h"

struct msg;
struct hits;

enum rule_type {
	RULE_HEADER,
	RULE_BODY,
	RULE_RAWBODY,
	RULE_URI,
	RULE_FULL,
	RULE_MIMEHEADER,
	RULE_META,
	RULE_NTYPES
};

/* header targets */
enum rule_hdr_kind {
	HDR_NAMED,
	HDR_ALL,
	HDR_TOCC,
	HDR_MESSAGEID,
	HDR_ENVFROM,
	HDR_EXISTS,
	HDR_RELAYS
};
/* SA's X-Spam-Relays-* pseudo-headers */
enum rule_relays {
	RELAYS_TRUSTED,
	RELAYS_UNTRUSTED,
	RELAYS_INTERNAL,
	RELAYS_EXTERNAL
};
enum rule_hdr_mod { HMOD_NONE, HMOD_RAW, HMOD_ADDR, HMOD_NAME };

#define TF_MULTIPLE 0x01u
#define TF_NICE 0x02u
#define TF_NET 0x04u
#define TF_LEARN 0x08u
#define TF_USERCONF 0x10u
#define TF_NOAUTOLEARN 0x20u
#define TF_NOSUBJECT 0x40u /* body rule: not on the Subject line (SA) */

struct rule__evalfn;
struct meta_prog;

#define RGATE_MAX_N 200u /* largest repeat a gate counts (a byte) */
/* elements Hyperscan counts (a bit each in a byte per text offset,
 * eval.c rgate_hs_fill); later ones are counted by PCRE2 */
#define RGATE_HS_MAX 8

struct rule {
	char *name;
	enum rule_type type;
	const char *file; /* interned in the rule set */
	unsigned line;
	/* regex rules */
	char *re_src; /* as written, "/.../flags" */
	pcre2_code *re;
	pcre2_code **more; /* a too-large alternation, split */
	size_t nmore;
	bool neg; /* !~ */
	/* header rules */
	enum rule_hdr_kind hkind;
	enum rule_hdr_mod hmod;
	bool hraw;		 /* :addr:raw, :name:raw */
	char *hdr;		 /* header name */
	char *mh_key;		 /* mimeheader: "\n" lowercased name ":" */
	char *if_unset;		 /* [if-unset: X] */
	enum rule_relays relays; /* also ALL-TRUSTED ... for HDR_ALL */
	bool all_part; /* ALL-TRUSTED/-INTERNAL/-UNTRUSTED/-EXTERNAL */
	/* eval rules */
	char *evname;
	char **args;
	size_t nargs;
	double *argval; /* args[i] read as a number (NAN: it is not one),
			   once at parse: evals ask per message */
	const struct rule__evalfn *ev;
	bool claimed; /* another module provides it */
	/* meta */
	char *meta_src;
	struct meta_prog *meta;
	int meta_state; /* topo sort: 0 new, 1 visiting, 2 done */
	/* attributes */
	double score[4];
	bool has_score;
	char *describe;
	unsigned tflags, maxhits;
	int priority;
	bool defined; /* has a rule line (not only score/describe) */
	bool broken;  /* failed to compile: never fires */
	bool runnable;
	/* prefilter: literal alternatives, one of which must occur */
	uint32_t *lits;
	size_t nlits;
	bool always;   /* no usable literal: always run */
	bool gate;     /* body rule: one run over all lines first */
	bool gate_whole; /* re (re_ascii) itself may run as the gate */
	pcre2_code *gate_re; /* the gate's pattern when not re (a weaker
				one PCRE2 finds start bytes for) */
	/* replace_tag rules: the pattern for texts of ASCII bytes only,
	 * tag alternatives that need a byte >= 0x80 left out (the same
	 * matches there, a fraction of the size) */
	pcre2_code *re_ascii, *gate_ascii;
	pcre2_code **ascii_more; /* re_ascii split, like more */
	size_t nascii_more;
	bool captures; /* has (?<NAME>...): sets SA capture tags */
	/* header rules: whether the pattern matches the empty text, known
	 * at compile time (a missing header then needs no match call) */
	bool empty_known, empty_hit;
	/* lazy: an unscored __ sub-rule (body, rawbody, uri, full, meta)
	 * that runs only when a meta needs its value (eval.c); cost: the
	 * price of that, for the order of && operands */
	bool lazy;
	double cost;
	char *tmpl;    /* pattern with %{NAME} templates (SA 4 capture
			  rules), compiled per message; NULL if none */
	unsigned tmpl_opts;
	/* the first %{NAME} of tmpl stands outside every group and there is
	 * no top-level '|': a match contains one of NAME's values (eval.c
	 * checks the texts for one before compiling) */
	bool tmpl_required;
	char tmpl_name[64];
	/* Hyperscan prefilter (hsdb.c): the pattern is in the database of
	 * its type; hs_pat holds it between compile_regex and the build */
	bool in_hs;
	bool hs_ok; /* had an hs_pat: may be in a cached database */
	/* repeat gate (compile.c repeat_elem): index + 1 into rs->rgates,
	 * 0 none; a text the rule matches holds rgate_n matches of that
	 * element, each starting at least its minimum length after the
	 * previous one (eval.c rgate_open) */
	uint32_t rgate;
	unsigned rgate_n;
	char *hs_pat;
	unsigned hs_opts;
	/* ASCII filter (compile.c af_build): re_ascii relaxed, run exactly
	 * by Hyperscan in rs->af_hs (id = rule index; af_in) on ASCII
	 * bodies; af_pat held between compile_regex and the build */
	char *af_pat;
	bool af_in;
	/* header rules: index + 1 into rs->hg, the database of the rules
	 * reading the same text (compile.c hdr_groups_build); 0 none */
	uint32_t hgroup;
};

/* evals_hdr.c: the FreeMail plugin's settings (freemail_* lines) and the
 * welcomelist_auth entries freemail_import_*welcomelist_auth reads */
struct rule__freemail {
	char **dom, **wild, **welcome, **auth;
	size_t ndom, nwild, nwelcome, nauth;
	size_t capdom, capwild, capwelcome, capauth;
	bool *auth_def;	     /* per auth entry: a def_welcomelist_auth one */
	pcre2_code *wild_re; /* \@(?:wildcards)$, built by finish */
	double max_body_emails, max_body_freemails;
	double skip_when_over_max, skip_bulk_envfrom;
	double import_auth, import_def_auth;
	unsigned set; /* which of the numbers a line set (else defaults) */
};

struct rule__ac; /* Aho-Corasick automaton, compile.c */
struct rule__hsdb;    /* Hyperscan database, hsdb.c */
struct rule__hspool;  /* Hyperscan scratch spaces, hsdb.c */
struct rule__hsscratch;

struct rule_set {
	struct rule *v;
	size_t n, cap;
	/* name -> index+1, open addressing */
	uint32_t *tab;
	size_t tabsz;
	/* per type, in run order */
	uint32_t *order[RULE_NTYPES];
	size_t norder[RULE_NTYPES];
	uint32_t *meta_order; /* metas, dependencies first */
	size_t nmeta;
	/* lint diagnostics */
	struct rule_diag *diag;
	size_t ndiag, diagcap, nerrors;
	char **strs; /* interned file names and diag messages */
	size_t nstrs, strcap;
	/* replace_tag */
	struct rtag {
		char *name;
		char *val;
		char *ascii; /* val without what needs a byte >= 0x80 */
		int kind;
	} * tags;
	size_t ntags;
	char repl_start[8], repl_end[8];
	unsigned scoreset;
	bool no_prefilter;
	/* prefilter */
	struct rule__ac *ac;
	size_t nlitstrs;
	pcre2_match_context *mctx;
	uint32_t max_lines; /* scratch sizes */
	/* Hyperscan: per rule type, the patterns of its regex rules */
	struct rule__hsdb *hs[RULE_NTYPES];
	struct rule__hspool *hspool;
	/* Hyperscan cache (rule_set_load_opts) and what the load did */
	char *hs_cache_dir;
	bool hs_build;
	char hs_key[65]; /* the cache key of these patterns ("" unknown) */
	struct rule_hs_info hs_info;
	bool ac_needed[RULE_NTYPES]; /* a rule outside hs[] has literals */
	/* rule_set_profile: CPU ns per rule (index), NULL when off; one
	 * thread only (bench, filterctl), so no locking */
	uint64_t *prof_ns;
	uint32_t *prof_runs;
	uint64_t prof_stage_ns[RULE_NTYPES + 1]; /* + texts/prefilter */
	struct rule__freemail fm;
	/* repeat-gate elements, shared by the rules with the same one */
	struct rule__rgate {
		char *pat;
		unsigned opts;
		pcre2_code *re;
		unsigned minlen; /* PCRE2_INFO_MINLENGTH, >= 1 */
		unsigned cap;	 /* largest rgate_n of its rules */
		unsigned types;	 /* 1 << type of its rules */
		bool in_hs;	 /* in rg_hs, id = its index */
	} * rgates;
	size_t nrgates;
	/* the elements Hyperscan takes, every match end reported; built
	 * for the cache (compile.c build_hs), so only loaded from it */
	struct rule__hsdb *rg_hs;
	/* the rules' ASCII filters (af_in), also only from the cache */
	struct rule__hsdb *af_hs;
	/* header groups (struct rule hgroup), also only from the cache */
	struct rule__hsdb **hg;
	size_t nhg;
	struct rule__mplan *mplan; /* NULL: metas run by their trees */
	/* what exec walks (compile.c exec_lists): per type the rules it
	 * runs, the template rules, a RULE__XF_* byte per rule; allocated
	 * by rule__compile, which fails without them */
	uint32_t *xo[RULE_NTYPES];
	size_t nxo[RULE_NTYPES];
	uint32_t *xtmpl;
	size_t nxtmpl;
	uint8_t *xflag;
	uint32_t *xgroup; /* per rule: its hgroup when RULE__XF_HG */
};

#define RULE__XF_LAZY 0x01 /* lazy: runs when a meta asks */
#define RULE__XF_HS 0x02   /* in its type's Hyperscan database */
/* a header rule of a group (hgroup) that counts 0 when the group's scan
 * did not report it: not negated, no [if-unset] */
#define RULE__XF_HG 0x04
/* the rule's type, in the high bits */
#define RULE__XF_TYPE_SHIFT 4
#define RULE__XF_TYPE(f) ((f) >> RULE__XF_TYPE_SHIFT)

/* parse.c: the closing delimiter of a Perl regex opened with open */
char rule__close_delim(char open);

/* rule__nullable_prefix - leading bytes of a pattern that can match
 * nothing and that a does-it-match rule may drop (compile.c) */
size_t rule__nullable_prefix(const char *pat, unsigned opts, unsigned tflags);
/* rule__factor_pattern - the Hyperscan prefilter of a pattern without a
 * literal: the best run of must-match atoms of each top-level
 * alternative, "(?:f1)|(?:f2)..."; uri: after a leading "^https?://";
 * malloc'ed, or NULL (compile.c) */
char *rule__factor_pattern(const char *pat, unsigned opts, bool uri);
/* the first line of a Hyperscan cache file (compile.c, its format) */
#define RULE__HS_CACHE_MAGIC "filterd-hs-cache 5\n"
/* rule__same_target - two header rules read the same text (eval.c) */
bool rule__same_target(const struct rule *, const struct rule *);
/* rule__find - index or -1 */
long rule__find(const struct rule_set *, const char *name, size_t len);
struct rule *rule__get(struct rule_set *, const char *name, bool create);
void rule__diag(struct rule_set *, enum rule_diag_level, const char *file,
    unsigned line, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
char *rule__intern(struct rule_set *, const char *);

/* compile.c */
int rule__compile(struct rule_set *);
void rule__compile_free(struct rule_set *);
void rule__runnable_update(struct rule_set *);
/* the literal ids present in a lowercased text: sets bit i in seen */
void rule__ac_scan(
    const struct rule__ac *, const unsigned char *p, size_t len, uint8_t *seen);
size_t rule__ac_nlits(const struct rule__ac *);

/* hsdb.c */
/* rule__hs_open_repeats - p with bounded repeats {m,n} made {m,} (a
 * superset for the cache build's databases), or NULL if none (hsdb.c) */
char *rule__hs_open_repeats(const char *p);
int rule__hsdb_new(struct rule__hsdb **, const char *const *pats,
    const unsigned *opts, const uint32_t *ids, size_t n, bool *in,
    double *budget_ms);
int rule__hsdb_new_exact(struct rule__hsdb **, const char *const *pats,
    const unsigned *opts, const uint32_t *ids, size_t n, bool *in);
int rule__hsdb_new_ends(struct rule__hsdb **, const char *const *pats,
    const unsigned *opts, const uint32_t *ids, size_t n, bool *in);
typedef void rule__hs_end_cb(void *arg, uint32_t id, size_t end);
int rule__hsdb_scan_ends(const struct rule__hsdb *, struct rule__hsscratch *,
    const unsigned char *p, size_t len, rule__hs_end_cb *, void *arg);
size_t rule__hsdb_count(const struct rule__hsdb *);
int rule__hsdb_write(const struct rule__hsdb *, FILE *);
int rule__hsdb_read(struct rule__hsdb **, FILE *);
const char *rule__hs_version(void);
double rule__cpu_ms(void);
/* compile.c: read a Hyperscan cache file's contents (fuzzing, tests) */
int rule__hs_cache_read(struct rule_set *, FILE *, const char *key);
bool rule__hs_full_takes(const char *pat, unsigned opts);
void rule__hsdb_free(struct rule__hsdb *);
typedef void rule__hs_hit_cb(void *arg, uint32_t id);
int rule__hsdb_scan(const struct rule__hsdb *, struct rule__hsscratch *,
    const unsigned char *p, size_t len, rule__hs_hit_cb *, void *arg);
int rule__hspool_new(
    struct rule__hspool **, struct rule__hsdb *const *dbs, size_t n);
struct rule__hsscratch *rule__hspool_get(struct rule__hspool *);
void rule__hspool_put(struct rule__hspool *, struct rule__hsscratch *);
void rule__hspool_free(struct rule__hspool *);

/* meta.c */
struct meta_prog *rule__meta_compile(const char *src, const char **why);
void rule__meta_free(struct meta_prog *);
double rule__meta_run(
    const struct meta_prog *, rule_meta_value_cb *, void *arg);
/* names the program refers to */
size_t rule__meta_names(const struct meta_prog *, const char ***names);
/* names resolved to rule indexes (-1: not a rule) once at compile */
typedef double rule__meta_id_cb(void *arg, int32_t id, const char *name);
void rule__meta_set_ids(struct meta_prog *, int32_t *ids);
double rule__meta_run_ids(
    const struct meta_prog *, rule__meta_id_cb *, void *arg);
double rule__meta_run_lazy(
    const struct meta_prog *, rule__meta_id_cb *, void *arg);
double rule__meta_order(
    struct meta_prog *, double (*cost)(void *, int32_t), void *arg);

/* meta.c: every meta of a rule set as one compact program (compile.c
 * builds it with the lazy flags, again when a module claims rules): each
 * name resolved once to a rule's count, a lazy rule or another module's
 * hit (index into hit_names), so evaluating does no name lookups and reads
 * no struct rule; && and || are jumps. Same values and the same order of
 * reads as rule__meta_run_lazy (lazy rules run in the same order). */
struct rule__mop {
	uint8_t op;
	uint32_t arg;
};
enum rule__mleaf { RULE__MLEAF_LAZY, RULE__MLEAF_HIT };
/* what a leaf reads: counts[k] (and done[k], lazy rules computed); the
 * rest through slow(arg, RULE__MLEAF_*, k or hit index) */
struct rule__mvals {
	const uint32_t *counts;
	const uint8_t *done;
	double (*slow)(void *arg, enum rule__mleaf, uint32_t);
	void *arg;
};
#define RULE__MPLAN_NONE UINT32_MAX	    /* at[k]: not a runnable meta */
#define RULE__MPLAN_SLOW (UINT32_MAX - 1) /* at[k]: too deep, use the tree */
struct rule__mplan {
	struct rule__mop *code;
	size_t ncode, capcode;
	double *nums;
	size_t nnums, capnums;
	uint32_t *at; /* per rule index: start of its meta's code */
	/* the metas finish runs, dependencies first (meta_order without
	 * broken ones); lazy: skipped when laziness is on */
	struct rule__mstep {
		uint32_t k, at;
		bool lazy;
	} * steps;
	size_t nsteps;
	const char **hit_names; /* point into the metas' names */
	size_t nhits;
};
/* leaf(arg, rule index or -1, name) -> the leaf instruction: op
 * RULE__MOP_COUNT/LAZY with the rule index or RULE__MOP_HIT with a hit
 * index */
enum { RULE__MOP_COUNT = 200, RULE__MOP_LAZY, RULE__MOP_HIT };
typedef struct rule__mop rule__mleaf_fn(void *arg, int32_t id, const char *);
int rule__mplan_add(struct rule__mplan *, const struct meta_prog *,
    rule__mleaf_fn *, void *arg, uint32_t *at);
double rule__mplan_run(
    const struct rule__mplan *, uint32_t at, const struct rule__mvals *);
void rule__mplan_free(struct rule__mplan *);

/* evals.c: built-in eval functions */
struct rule_ctx;
typedef int rule__eval_fn(struct rule_ctx *, const struct rule *);
struct rule__evalfn {
	const char *name;
	rule__eval_fn *fn;
	/* the first arguments this implementation knows, NULL-terminated;
	 * NULL = any (other arguments: the rule is not runnable) */
	const char *const *arg0;
};
const struct rule__evalfn *rule__eval_lookup(const char *name);
/* argument i of an eval rule (NULL when absent), or as a number (def
 * when absent or not a number) */
const char *rule__eval_arg(const struct rule *r, size_t i);
double rule__eval_argnum(const struct rule *r, size_t i, double def);
/* more tables, each ended by { NULL }: evals_hdr.c (SA's HeaderEval,
 * RelayEval), evals_freemail.c (FreeMail), evals_html.c (HTMLEval),
 * evals_mime.c (MIMEEval, BodyEval, ImageInfo) */
extern const struct rule__evalfn rule__evals_hdr[];
/* SA RegistryBoundaries (evals_hdr.c): trim_domain - the registrable
 * domain of host (lowercased, dots squeezed; the host itself when it is a
 * public suffix), from the Public Suffix List; is_domain_valid - d has a
 * dot and a known TLD */
struct arena;
struct bstr rule__rb_trim_domain(struct arena *, struct bstr host);
bool rule__rb_domain_valid(struct bstr d);
/* evals_hdr.c: a config line for the header evals (FreeMail settings);
 * true when it was one (welcomelist_auth lines are noted, not taken) */
bool rule__hdr_conf(struct rule_set *, const char *dir, const char *rest,
    const char *file, unsigned line);
/* after parsing: sort and compile what the lines gave (compile.c) */
int rule__hdr_conf_finish(struct rule_set *);
void rule__hdr_conf_free(struct rule_set *);
extern const struct rule__evalfn rule__evals_html[];
extern const struct rule__evalfn rule__evals_freemail[];
/* evals_mime.c: MIMEEval, BodyEval, ImageInfo, URI evals over SA's MIME
 * tree (msg_sa_parts) */
extern const struct rule__evalfn rule__evals_mime[];
struct rule__mime;
bool rule__eval_external(const char *name);

/* eval.c: context the eval functions see */
struct rule_ctx {
	const struct rule_set *rs;
	struct msg *msg;
	struct hits *hits;
	struct arena *arena;
	uint32_t *counts; /* per rule */
	uint8_t *seen;	  /* prefilter literal bits */
	uint8_t *seen_in[RULE_NTYPES];
	pcre2_match_data *md;
	bool execd;
	/* rawbody as SA builds it: per text part, transfer-decoded, in
	 * paragraphs of at most ~4 KiB */
	struct bstr *raw;
	size_t nraw;
	/* the header text in the scratch buffer belongs to this rule */
	const struct rule *hdr_last;
	bool hdr_unset;
	/* tmpl_possible's answers this message: rules of one type reading
	 * the same tag (SA's GB_TO_ADDR rules) ask the same question */
	struct rule_tmplq {
		const char *name;
		size_t ntags;
		uint8_t type;
		bool nocase, yes;
	} tmplq[8];
	size_t ntmplq;
	struct bstr body;  /* body lines joined with '\n' */
	bool body_ascii;   /* body has no byte >= 0x80 */
	uint8_t *line_ascii; /* per body line: it has no byte >= 0x80 */
	bool use_ascii;	   /* match_count: the text is ASCII */
	struct bstr *udec; /* per URI: raw form percent-decoded (or empty) */
	/* capture tags set by rules with named groups */
	struct rule_tag {
		const char *name;
		struct bstr val;
	} * tags;
	size_t ntags, tagcap;
	pcre2_match_data *md_big;
	/* Hyperscan: the texts (lines, URIs) where rule k's pattern was
	 * found, a list from hshead[k] (index + 1 into hsm, 0 = none) in
	 * text order; valid when hsdone[type] */
	struct rule__hsscratch *hss;
	uint32_t *hshead, *hstail;
	struct rule_hsm {
		uint32_t text, next;
	} * hsm;
	size_t nhsm, hsmcap;
	uint32_t hscur;
	struct rule__mime *mime; /* evals_mime.c: per-message results */
	uint8_t *lazy_done; /* per rule: lazy rule computed */
	struct rule__mvals mvals; /* rs->mplan's view of this run */
	/* in rule_run_finish: other modules' hits by rs->mplan hit index,
	 * -1 not looked up yet (they cannot change while metas run) */
	double *hitv;
	bool lazy_on;
	bool hsfail;
	bool hsdone[RULE_NTYPES];
	bool afdone; /* rs->af_hs scanned every body line (ASCII body) */
	/* header groups (eval.c hg_says_no): per group 0 not scanned, 1
	 * scanned, 2 failed; per rule whether its group's scan reported it */
	uint8_t *hg_state, *hg_hit;
	/* evals_hdr.c: per-message values several evals share (dates,
	 * recipients, freemail addresses), built on first use */
	struct rule__hdr_state *hdr;
	/* mimeheader rules: each part's header block lowercased, after a
	 * '\n', built on first use (a rule's "\nname:" absent there skips
	 * the part's line scan) */
	struct bstr *mh_lc;
	/* per repeat-gate element and text kind (body, rawbody): per line,
	 * the element's spaced matches counted up to its cap, 0xff not yet
	 * counted; built on first use */
	uint8_t **rg_cnt;
};

#endif
