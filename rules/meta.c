/*
 * rules/meta - meta rule expressions: parse to postfix, evaluate
 *
 * Grammar (Perl precedence, as SpamAssassin evaluates metas with Perl):
 *   ! and unary -, then * /, then + -, then < > <= >=, then == !=, then
 *   &&, then ||; parentheses; numbers; rule names (value = hit count, 0 if
 *   the rule did not fire). && and || return an operand, as in Perl.
 * Memory: a program is one malloc'ed block, freed by rule__meta_free.
 * Errors: NULL with a static reason. Limits: 4096 tokens per expression,
 * nesting 256.
 */
#include "rules/rules_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define META_MAX_TOKENS 4096
#define META_MAX_DEPTH 256

enum op {
	OP_NUM,
	OP_NAME,
	OP_NOT,
	OP_NEG,
	OP_MUL,
	OP_DIV,
	OP_ADD,
	OP_SUB,
	OP_LT,
	OP_GT,
	OP_LE,
	OP_GE,
	OP_EQ,
	OP_NE,
	OP_AND,
	OP_OR,
	OP_LPAREN
};

struct insn {
	enum op op;
	double num;
	uint32_t name; /* index into names */
};

struct meta_prog {
	struct insn *code;
	size_t ncode;
	const char **names;
	size_t nnames;
	size_t maxstack;
	int32_t *ids; /* rule index per name, set by compile.c; -1 none */
	/* for short-circuit evaluation: start[i] is the first instruction
	 * of the operand that ends at i; swap[i] (AND nodes) evaluates the
	 * right operand first, it being the cheaper; depth of the tree */
	uint32_t *start;
	uint8_t *swap;
	size_t depth;
};

static int
prec(enum op o)
{
	switch (o) {
	case OP_NOT:
	case OP_NEG:
		return 7;
	case OP_MUL:
	case OP_DIV:
		return 6;
	case OP_ADD:
	case OP_SUB:
		return 5;
	case OP_LT:
	case OP_GT:
	case OP_LE:
	case OP_GE:
		return 4;
	case OP_EQ:
	case OP_NE:
		return 3;
	case OP_AND:
		return 2;
	case OP_OR:
		return 1;
	default:
		return 0;
	}
}

void
rule__meta_free(struct meta_prog *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nnames; i++)
		free((char *)p->names[i]);
	free(p->names);
	free(p->ids);
	free(p->code);
	free(p->start);
	free(p->swap);
	free(p);
}

static int
emit(struct meta_prog *p, size_t *cap, struct insn in)
{
	if (p->ncode == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct insn *nv = realloc(p->code, nc * sizeof(*nv));

		if (nv == NULL)
			return -ENOMEM;
		p->code = nv;
		*cap = nc;
	}
	p->code[p->ncode++] = in;
	return 0;
}

static int
add_name(struct meta_prog *p, const char *s, size_t len, uint32_t *idx)
{
	const char **nv;

	for (size_t i = 0; i < p->nnames; i++)
		if (strncmp(p->names[i], s, len) == 0 &&
		    p->names[i][len] == '\0') {
			*idx = (uint32_t)i;
			return 0;
		}
	if ((nv = realloc(p->names, (p->nnames + 1) * sizeof(*nv))) == NULL)
		return -ENOMEM;
	p->names = nv;
	if ((nv[p->nnames] = strndup(s, len)) == NULL)
		return -ENOMEM;
	*idx = (uint32_t)p->nnames++;
	return 0;
}

/* rule__meta_compile - shunting-yard to postfix; checks operand balance */
static bool
is_binary(enum op o)
{
	return o != OP_NUM && o != OP_NAME && o != OP_NOT && o != OP_NEG;
}

/* spans - start[] and depth of a checked postfix program */
static int
spans(struct meta_prog *p)
{
	uint32_t *d;

	if (p->ncode == 0)
		return 0;
	p->start = calloc(p->ncode, sizeof(*p->start));
	d = calloc(p->ncode, sizeof(*d));
	if (p->start == NULL || d == NULL) {
		free(d);
		return -1;
	}
	for (size_t i = 0; i < p->ncode; i++) {
		enum op o = p->code[i].op;

		if (o == OP_NUM || o == OP_NAME) {
			p->start[i] = (uint32_t)i;
			d[i] = 1;
		} else if (!is_binary(o)) {
			p->start[i] = p->start[i - 1];
			d[i] = d[i - 1] + 1;
		} else {
			size_t r = i - 1, l = p->start[r] - 1;

			p->start[i] = p->start[l];
			d[i] = (d[l] > d[r] ? d[l] : d[r]) + 1;
		}
		if (d[i] > p->depth)
			p->depth = d[i];
	}
	free(d);
	return 0;
}

struct meta_prog *
rule__meta_compile(const char *src, const char **why)
{
	struct meta_prog *p = calloc(1, sizeof(*p));
	enum op stack[META_MAX_DEPTH];
	size_t sp = 0, cap = 0, ntok = 0;
	int depth = 0, vals = 0, maxvals = 0;
	bool want_operand = true;
	const char *s = src;

	*why = "out of memory";
	if (p == NULL)
		return NULL;
	while (*s != '\0') {
		enum op o;
		struct insn in = { 0 };

		if (isspace((unsigned char)*s)) {
			s++;
			continue;
		}
		if (++ntok > META_MAX_TOKENS) {
			*why = "expression too long";
			goto fail;
		}
		if (want_operand) {
			if (isdigit((unsigned char)*s) || *s == '.') {
				char *end;

				in.op = OP_NUM;
				in.num = strtod(s, &end);
				if (end == s) {
					*why = "bad number";
					goto fail;
				}
				s = end;
				goto operand;
			}
			if (isalpha((unsigned char)*s) || *s == '_') {
				const char *b = s;

				while (isalnum((unsigned char)*s) || *s == '_')
					s++;
				in.op = OP_NAME;
				if (add_name(p, b, (size_t)(s - b), &in.name) <
				    0)
					goto fail;
				goto operand;
			}
			if (*s == '(') {
				if (sp >= META_MAX_DEPTH || ++depth > 200) {
					*why = "nested too deep";
					goto fail;
				}
				stack[sp++] = OP_LPAREN;
				s++;
				continue;
			}
			if (*s == '!' && s[1] != '=') {
				o = OP_NOT;
				s++;
			} else if (*s == '-') {
				o = OP_NEG;
				s++;
			} else if (*s == '+') { /* unary plus: no-op */
				s++;
				continue;
			} else {
				*why = "operand expected";
				goto fail;
			}
			if (sp >= META_MAX_DEPTH) {
				*why = "nested too deep";
				goto fail;
			}
			stack[sp++] = o; /* prefix: right-assoc, just push */
			continue;
		}
		/* operator or ')' */
		if (*s == ')') {
			while (sp > 0 && stack[sp - 1] != OP_LPAREN) {
				in.op = stack[--sp];
				if (emit(p, &cap, in) < 0)
					goto fail;
			}
			if (sp == 0) {
				*why = "unbalanced ')'";
				goto fail;
			}
			sp--;
			depth--;
			s++;
			continue;
		}
		if (s[0] == '&' && s[1] == '&')
			o = OP_AND, s += 2;
		else if (s[0] == '|' && s[1] == '|')
			o = OP_OR, s += 2;
		else if (s[0] == '>' && s[1] == '=')
			o = OP_GE, s += 2;
		else if (s[0] == '<' && s[1] == '=')
			o = OP_LE, s += 2;
		else if (s[0] == '=' && s[1] == '=')
			o = OP_EQ, s += 2;
		else if (s[0] == '!' && s[1] == '=')
			o = OP_NE, s += 2;
		else if (*s == '>')
			o = OP_GT, s++;
		else if (*s == '<')
			o = OP_LT, s++;
		else if (*s == '+')
			o = OP_ADD, s++;
		else if (*s == '-')
			o = OP_SUB, s++;
		else if (*s == '*')
			o = OP_MUL, s++;
		else if (*s == '/')
			o = OP_DIV, s++;
		else {
			*why = "operator expected";
			goto fail;
		}
		/* left-assoc binary: pop ops of >= precedence */
		while (sp > 0 && stack[sp - 1] != OP_LPAREN &&
		    prec(stack[sp - 1]) >= prec(o)) {
			in.op = stack[--sp];
			if (emit(p, &cap, in) < 0)
				goto fail;
			if (in.op != OP_NOT && in.op != OP_NEG)
				vals--;
		}
		if (sp >= META_MAX_DEPTH) {
			*why = "nested too deep";
			goto fail;
		}
		stack[sp++] = o;
		want_operand = true;
		continue;
	operand:
		if (emit(p, &cap, in) < 0)
			goto fail;
		if (++vals > maxvals)
			maxvals = vals;
		want_operand = false;
	}
	if (want_operand) {
		*why = ntok ? "operand expected at end" : "empty expression";
		goto fail;
	}
	while (sp > 0) {
		struct insn in = { 0 };

		if (stack[sp - 1] == OP_LPAREN) {
			*why = "unbalanced '('";
			goto fail;
		}
		in.op = stack[--sp];
		if (emit(p, &cap, in) < 0)
			goto fail;
	}
	p->maxstack = (size_t)maxvals + 1;
	if (spans(p) < 0) {
		*why = "out of memory";
		goto fail;
	}
	*why = NULL;
	return p;
fail:
	rule__meta_free(p);
	return NULL;
}

/* binop - the value of a binary operator; && and || return an operand
 * as Perl does, division by zero gives 0 */
static double
binop(enum op op, double a, double b)
{
	switch (op) {
	case OP_MUL:
		return a * b;
	case OP_DIV:
		return b == 0 ? 0 : a / b;
	case OP_ADD:
		return a + b;
	case OP_SUB:
		return a - b;
	case OP_LT:
		return a < b;
	case OP_GT:
		return a > b;
	case OP_LE:
		return a <= b;
	case OP_GE:
		return a >= b;
	case OP_EQ:
		return a == b;
	case OP_NE:
		return a != b;
	case OP_AND:
		return a != 0 ? b : a;
	case OP_OR:
		return a != 0 ? a : b;
	default:
		return 0;
	}
}

/* rule__meta_set_ids - the rule index of every name (the program owns
 * ids from now on) */
void
rule__meta_set_ids(struct meta_prog *p, int32_t *ids)
{
	free(p->ids);
	p->ids = ids;
}

/* rule__meta_run_ids - evaluate with names resolved to rule indexes */
double
rule__meta_run_ids(const struct meta_prog *p, rule__meta_id_cb *val, void *arg)
{
	double st[64], *s = st, *heap = NULL, r;
	size_t n = 0;

	if (p->maxstack > 64) {
		if ((heap = malloc(p->maxstack * sizeof(*heap))) == NULL)
			return 0;
		s = heap;
	}
	for (size_t i = 0; i < p->ncode; i++) {
		const struct insn *in = &p->code[i];
		double a, b;

		switch (in->op) {
		case OP_NUM:
			s[n++] = in->num;
			continue;
		case OP_NAME:
			s[n++] = val(arg, p->ids ? p->ids[in->name] : -1,
			    p->names[in->name]);
			continue;
		case OP_NOT:
			s[n - 1] = s[n - 1] == 0;
			continue;
		case OP_NEG:
			s[n - 1] = -s[n - 1];
			continue;
		default:
			break;
		}
		b = s[--n];
		a = s[n - 1];
		s[n - 1] = binop(in->op, a, b);
	}
	r = n > 0 ? s[n - 1] : 0;
	free(heap);
	return r;
}

/* rule__meta_order - with cost(arg, rule index) the price of reading a
 * name (0: known already), mark each && to evaluate its cheaper operand
 * first; returns the price of the whole expression when nothing can be
 * skipped. && and || only: the other operators need both values. */
double
rule__meta_order(struct meta_prog *p, double (*cost)(void *, int32_t),
    void *arg)
{
	double *c;
	double total;

	if (p->ncode == 0 || p->start == NULL)
		return 0;
	if ((c = calloc(p->ncode, sizeof(*c))) == NULL)
		return 0;
	free(p->swap);
	p->swap = calloc(p->ncode, 1);
	for (size_t i = 0; i < p->ncode; i++) {
		const struct insn *in = &p->code[i];

		if (in->op == OP_NUM) {
			c[i] = 0;
		} else if (in->op == OP_NAME) {
			c[i] = cost(arg, p->ids ? p->ids[in->name] : -1);
		} else if (!is_binary(in->op)) {
			c[i] = c[i - 1];
		} else {
			size_t r = i - 1, l = p->start[r] - 1;

			c[i] = c[l] + c[r];
			if (in->op == OP_AND && p->swap != NULL)
				p->swap[i] = c[r] < c[l];
		}
	}
	total = c[p->ncode - 1];
	free(c);
	return total;
}

static double
eval_node(const struct meta_prog *p, size_t i, rule__meta_id_cb *val,
    void *arg)
{
	const struct insn *in = &p->code[i];
	size_t r, l;
	double a, b;

	switch (in->op) {
	case OP_NUM:
		return in->num;
	case OP_NAME:
		return val(arg, p->ids ? p->ids[in->name] : -1,
		    p->names[in->name]);
	case OP_NOT:
		return eval_node(p, i - 1, val, arg) == 0;
	case OP_NEG:
		return -eval_node(p, i - 1, val, arg);
	default:
		break;
	}
	r = i - 1;
	l = p->start[r] - 1;
	switch (in->op) {
	case OP_AND:
		/* Perl: a && b is a when a is false, else b; a false value
		 * is 0 here, so which false operand is seen first does not
		 * change the result */
		if (p->swap != NULL && p->swap[i]) {
			if ((b = eval_node(p, r, val, arg)) == 0)
				return b;
			a = eval_node(p, l, val, arg);
			return a != 0 ? b : a;
		}
		if ((a = eval_node(p, l, val, arg)) == 0)
			return a;
		return eval_node(p, r, val, arg);
	case OP_OR:
		if ((a = eval_node(p, l, val, arg)) != 0)
			return a;
		return eval_node(p, r, val, arg);
	default:
		a = eval_node(p, l, val, arg);
		b = eval_node(p, r, val, arg);
		return binop(in->op, a, b);
	}
}

/* rule__meta_run_lazy - the same value as rule__meta_run_ids, reading
 * only the names the result depends on (&& and || short-circuit), so
 * a name whose value is costly to compute may be computed on demand by
 * val. Deep expressions (recursion) go through the stack machine. */
double
rule__meta_run_lazy(const struct meta_prog *p, rule__meta_id_cb *val,
    void *arg)
{
	if (p->ncode == 0 || p->start == NULL || p->depth > 512)
		return rule__meta_run_ids(p, val, arg);
	return eval_node(p, p->ncode - 1, val, arg);
}

/* The compact form (struct rule__mplan): the tree of each meta emitted in
 * eval_node's order of reads, into one array shared by all metas of a
 * rule set, so finish walks consecutive memory instead of one malloc'ed
 * program, names and rule struct per meta. Leaves are resolved by the
 * caller once; && and || become jumps over their second operand. */
#define MPLAN_STACK 64 /* deeper programs stay on the tree walk */

enum mop {
	/* OP_NUM, OP_NOT, OP_NEG and the binary operators keep their
	 * values; leaves are RULE__MOP_COUNT/LAZY/HIT */
	MOP_JF = 100, /* &&: false -> jump, keeping it; else drop it */
	MOP_JFK,      /* && read right first: false -> jump; else keep */
	MOP_ANDSW,    /* ... then the left value a: a != 0 ? b : a */
	MOP_JT,	      /* ||: true -> jump, keeping it; else drop it */
	MOP_END
};

struct emit_st {
	struct rule__mplan *pl;
	const struct meta_prog *p;
	rule__mleaf_fn *leaf;
	void *arg;
	size_t sp, maxsp; /* value stack depth while emitting */
};

static int
mpush(struct rule__mplan *pl, unsigned op, uint32_t arg)
{
	if (pl->ncode == pl->capcode) {
		size_t nc = pl->capcode ? pl->capcode * 2 : 1024;
		struct rule__mop *nv;

		if (nc >= RULE__MPLAN_SLOW)
			return -E2BIG;
		if ((nv = realloc(pl->code, nc * sizeof(*nv))) == NULL)
			return -ENOMEM;
		pl->code = nv;
		pl->capcode = nc;
	}
	pl->code[pl->ncode++] = (struct rule__mop){ (uint8_t)op, arg };
	return 0;
}

static int
mpush_num(struct rule__mplan *pl, double num)
{
	if (pl->nnums == pl->capnums) {
		size_t nc = pl->capnums ? pl->capnums * 2 : 64;
		double *nv;

		if (nc >= RULE__MPLAN_SLOW)
			return -E2BIG;
		if ((nv = realloc(pl->nums, nc * sizeof(*nv))) == NULL)
			return -ENOMEM;
		pl->nums = nv;
		pl->capnums = nc;
	}
	pl->nums[pl->nnums] = num;
	return mpush(pl, OP_NUM, (uint32_t)pl->nnums++);
}

/* a value pushed (sp up) or popped */
static void
spmove(struct emit_st *e, int d)
{
	e->sp = (size_t)((long)e->sp + d);
	if (e->sp > e->maxsp)
		e->maxsp = e->sp;
}

static int emit_node(struct emit_st *e, size_t i);

/* emit_jump - l, a jump over r (patched after it), r; tail op if any */
static int
emit_jump(struct emit_st *e, size_t first, unsigned jop, size_t second,
    unsigned tail)
{
	size_t j;
	int rc;

	if ((rc = emit_node(e, first)) < 0)
		return rc;
	j = e->pl->ncode;
	if ((rc = mpush(e->pl, jop, 0)) < 0)
		return rc;
	if (jop != MOP_JFK)
		spmove(e, -1); /* the fall-through drops the first value */
	if ((rc = emit_node(e, second)) < 0)
		return rc;
	if (tail != 0) {
		if ((rc = mpush(e->pl, tail, 0)) < 0)
			return rc;
		spmove(e, -1);
	}
	e->pl->code[j].arg = (uint32_t)e->pl->ncode;
	return 0;
}

static int
emit_node(struct emit_st *e, size_t i)
{
	const struct meta_prog *p = e->p;
	const struct insn *in = &p->code[i];
	size_t r, l;
	int rc;

	switch (in->op) {
	case OP_NUM:
		spmove(e, 1);
		return mpush_num(e->pl, in->num);
	case OP_NAME: {
		struct rule__mop o = e->leaf(e->arg,
		    p->ids ? p->ids[in->name] : -1, p->names[in->name]);

		spmove(e, 1);
		return mpush(e->pl, o.op, o.arg);
	}
	case OP_NOT:
	case OP_NEG:
		if ((rc = emit_node(e, i - 1)) < 0)
			return rc;
		return mpush(e->pl, in->op, 0);
	default:
		break;
	}
	r = i - 1;
	l = p->start[r] - 1;
	switch (in->op) {
	case OP_AND:
		if (p->swap != NULL && p->swap[i])
			return emit_jump(e, r, MOP_JFK, l, MOP_ANDSW);
		return emit_jump(e, l, MOP_JF, r, 0);
	case OP_OR:
		return emit_jump(e, l, MOP_JT, r, 0);
	default:
		if ((rc = emit_node(e, l)) < 0 || (rc = emit_node(e, r)) < 0)
			return rc;
		spmove(e, -1);
		return mpush(e->pl, in->op, 0);
	}
}

/* rule__mplan_add - append p's compact code (leaf(arg, rule index, name)
 * resolves each name); *at = its start, or RULE__MPLAN_SLOW when p
 * stays on the tree walk (rule__meta_run_lazy). Negative errno. */
int
rule__mplan_add(struct rule__mplan *pl, const struct meta_prog *p,
    rule__mleaf_fn *leaf, void *arg, uint32_t *at)
{
	struct emit_st e = { pl, p, leaf, arg, 0, 0 };
	size_t n0 = pl->ncode, nn0 = pl->nnums;
	int rc;

	*at = RULE__MPLAN_SLOW;
	/* rule__meta_run_lazy's own limits: those go to the stack machine */
	if (p->ncode == 0 || p->start == NULL || p->depth > 512)
		return 0;
	if ((rc = emit_node(&e, p->ncode - 1)) == 0)
		rc = mpush(pl, MOP_END, 0);
	if (rc == 0 && e.maxsp > MPLAN_STACK)
		rc = -E2BIG;
	if (rc < 0) {
		pl->ncode = n0;
		pl->nnums = nn0;
		return rc == -E2BIG ? 0 : rc;
	}
	*at = (uint32_t)n0;
	return 0;
}

/* rule__mplan_run - the value of the meta whose code starts at at; the
 * same as rule__meta_run_lazy, reading the same leaves in the same order */
double
rule__mplan_run(
    const struct rule__mplan *pl, uint32_t at, const struct rule__mvals *v)
{
	const struct rule__mop *code = pl->code;
	double s[MPLAN_STACK];
	size_t n = 0;

	for (size_t i = at;; i++) {
		const struct rule__mop o = code[i];

		switch (o.op) {
		case RULE__MOP_COUNT:
			s[n++] = v->counts[o.arg];
			continue;
		case RULE__MOP_LAZY:
			s[n++] = v->done[o.arg] ? v->counts[o.arg]
						: v->slow(v->arg,
						      RULE__MLEAF_LAZY, o.arg);
			continue;
		case RULE__MOP_HIT:
			s[n++] = v->slow(v->arg, RULE__MLEAF_HIT, o.arg);
			continue;
		case OP_NUM:
			s[n++] = pl->nums[o.arg];
			continue;
		case OP_NOT:
			s[n - 1] = s[n - 1] == 0;
			continue;
		case OP_NEG:
			s[n - 1] = -s[n - 1];
			continue;
		case MOP_JF:
			if (s[n - 1] == 0)
				i = o.arg - 1;
			else
				n--;
			continue;
		case MOP_JFK:
			if (s[n - 1] == 0)
				i = o.arg - 1;
			continue;
		case MOP_ANDSW:
			n--;
			if (s[n] == 0)
				s[n - 1] = s[n];
			continue;
		case MOP_JT:
			if (s[n - 1] != 0)
				i = o.arg - 1;
			else
				n--;
			continue;
		case MOP_END:
			return s[n - 1];
		default:
			n--;
			s[n - 1] = binop((enum op)o.op, s[n - 1], s[n]);
			continue;
		}
	}
}

void
rule__mplan_free(struct rule__mplan *pl)
{
	if (pl == NULL)
		return;
	free(pl->code);
	free(pl->nums);
	free(pl->at);
	free(pl->steps);
	free(pl->hit_names);
	free(pl);
}

/* rule__meta_run - evaluate; the program was checked at compile time.
 * The same machine as rule__meta_run_ids, with a callback by name. */
struct by_name {
	rule_meta_value_cb *val;
	void *arg;
};

static double
value_by_name(void *arg, int32_t id, const char *name)
{
	const struct by_name *b = arg;

	(void)id;
	return b->val(b->arg, name, strlen(name));
}

double
rule__meta_run(const struct meta_prog *p, rule_meta_value_cb *val, void *arg)
{
	struct by_name b = { val, arg };

	return rule__meta_run_ids(p, value_by_name, &b);
}

size_t
rule__meta_names(const struct meta_prog *p, const char ***names)
{
	*names = p->names;
	return p->nnames;
}

/* rule_meta_eval_str - compile and run once (tests, fuzzing, if-lines) */
int
rule_meta_eval_str(
    const char *expr, rule_meta_value_cb *val, void *arg, double *v)
{
	const char *why;
	struct meta_prog *p = rule__meta_compile(expr, &why);

	if (p == NULL)
		return -EINVAL;
	*v = rule__meta_run(p, val, arg);
	rule__meta_free(p);
	return 0;
}
