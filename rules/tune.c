/*
 * rules/tune.c - fit rule scores to labelled hits (see rules/tune.h)
 *
 * The objective over the used messages, with y = +1 for spam, -1 for ham,
 * c = ham_weight for ham, 1 for spam, W = sum of c:
 *
 *   F(w) = 1/W sum c log(1 + exp(-y (s(w) - threshold) / temp))
 *        + lambda/2 sum over tunable rules (w - score)^2
 *
 * s(w) = offset + the sum of w over the message's hits (a rule counts once
 * however often it fired: the scan's total does the same). F is convex
 * and smooth; the boxes [lo, hi] are kept by projection, so tflags nice
 * (hi = 0), fixed rules (lo = hi) and score ranges hold exactly at every
 * step. Memory: a few arrays of nmsgs and nrules doubles, malloc'd per
 * call and freed before returning. Errors: -EINVAL, -ENOMEM.
 */
#include "rules/tune.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/splitmix.h"

void
tune_opts_default(struct tune_opts *o)
{
	o->threshold = 5.0;
	o->lambda = 1e-3;
	o->temp = 1.0;
	o->ham_weight = 1.0;
	o->max_iter = 3000;
	o->tol = 1e-5;
}

double
tune_msg_score(const struct tune_data *d, const double *w, size_t i)
{
	double s = d->offset != NULL ? d->offset[i] : 0.0;

	for (uint32_t k = d->off[i]; k < d->off[i + 1]; k++)
		s += w[d->idx[k]];
	return s;
}

void
tune_count(const struct tune_data *d, const uint8_t *use, uint8_t want,
    const double *w, double threshold, struct tune_count *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < d->nmsgs; i++) {
		bool spam;

		if (use != NULL && use[i] != want)
			continue;
		spam = tune_msg_score(d, w, i) >= threshold;
		if (d->spam[i]) {
			c->spam++;
			c->fn += !spam;
		} else {
			c->ham++;
			c->fp += spam;
		}
	}
}

/* The solver's scratch and the used rows. */
struct fit {
	const struct tune_data *d;
	const struct tune_opts *o;
	uint32_t *rows; /* used message indices */
	size_t nrows;
	double wsum; /* W */
};

static double
clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* log(1 + exp(-z)) without overflow */
static double
softplus_neg(double z)
{
	return z > 0 ? log1p(exp(-z)) : -z + log1p(exp(z));
}

/* objective at w; g (may be NULL) gets the gradient */
static double
objective(struct fit *f, const double *w, double *g)
{
	const struct tune_data *d = f->d;
	const struct tune_opts *o = f->o;
	double F = 0;

	if (g != NULL)
		memset(g, 0, d->nrules * sizeof(*g));
	for (size_t r = 0; r < f->nrows; r++) {
		size_t i = f->rows[r];
		double y = d->spam[i] ? 1.0 : -1.0;
		double c = d->spam[i] ? 1.0 : o->ham_weight;
		double z =
		    y * (tune_msg_score(d, w, i) - o->threshold) / o->temp;

		F += c * softplus_neg(z);
		if (g != NULL) {
			/* d/dz log(1 + e^-z) = -1 / (1 + e^z) */
			double gz = -c * y / (o->temp * (1.0 + exp(z)));

			for (uint32_t k = d->off[i]; k < d->off[i + 1]; k++)
				g[d->idx[k]] += gz;
		}
	}
	F /= f->wsum;
	for (size_t j = 0; j < d->nrules; j++) {
		const struct tune_rule *ru = &d->rules[j];
		double dev = w[j] - ru->score;

		if (g != NULL)
			g[j] /= f->wsum;
		if (ru->lo >= ru->hi) {
			if (g != NULL)
				g[j] = 0; /* fixed: never moves */
			continue;
		}
		F += 0.5 * o->lambda * dev * dev;
		if (g != NULL)
			g[j] += o->lambda * dev;
	}
	return F;
}

static void
project(const struct tune_data *d, double *w)
{
	for (size_t j = 0; j < d->nrules; j++)
		w[j] = clampd(w[j], d->rules[j].lo, d->rules[j].hi);
}

static int
check_data(const struct tune_data *d, const struct tune_opts *o)
{
	if (d->nmsgs > 0 && (d->off == NULL || d->spam == NULL))
		return -EINVAL;
	if (o->temp <= 0 || o->lambda < 0 || o->ham_weight <= 0)
		return -EINVAL;
	for (size_t j = 0; j < d->nrules; j++)
		if (!(d->rules[j].lo <= d->rules[j].hi))
			return -EINVAL;
	for (size_t i = 0; i < d->nmsgs; i++)
		if (d->off[i] > d->off[i + 1])
			return -EINVAL;
	if (d->nmsgs > 0)
		for (uint32_t k = 0; k < d->off[d->nmsgs]; k++)
			if (d->idx[k] >= d->nrules)
				return -EINVAL;
	return 0;
}

int
tune_fit(const struct tune_data *d, const uint8_t *use,
    const struct tune_opts *o, double *w)
{
	struct fit f = { .d = d, .o = o };
	size_t n = d->nrules, maxrow = 1, *colcnt = NULL;
	double *x = NULL, *xp = NULL, *y = NULL, *g = NULL, *xn = NULL;
	double t = 1, eta, L, Fx, maxcol = 1;
	int rc, it = 0;

	if ((rc = check_data(d, o)) < 0)
		return rc;
	f.rows = malloc((d->nmsgs + 1) * sizeof(*f.rows));
	x = calloc(n + 1, sizeof(*x));
	xp = calloc(n + 1, sizeof(*xp));
	y = calloc(n + 1, sizeof(*y));
	g = calloc(n + 1, sizeof(*g));
	xn = calloc(n + 1, sizeof(*xn));
	colcnt = calloc(n + 1, sizeof(*colcnt));
	if (f.rows == NULL || !x || !xp || !y || !g || !xn || !colcnt) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < d->nmsgs; i++) {
		if (use != NULL && !use[i])
			continue;
		f.rows[f.nrows++] = (uint32_t)i;
		f.wsum += d->spam[i] ? 1.0 : o->ham_weight;
		if (d->off[i + 1] - d->off[i] > maxrow)
			maxrow = d->off[i + 1] - d->off[i];
		for (uint32_t k = d->off[i]; k < d->off[i + 1]; k++)
			colcnt[d->idx[k]]++;
	}
	project(d, w);
	if (f.nrows == 0 || n == 0) {
		rc = 0;
		goto out;
	}
	for (size_t j = 0; j < n; j++)
		if (colcnt[j] > maxcol)
			maxcol = (double)colcnt[j];
	/* Lipschitz bound of the gradient: |X'X| <= max row * max column
	 * count, sigma' <= 1/4, c <= max(1, ham_weight) */
	L = o->lambda +
	    0.25 / (o->temp * o->temp) *
		(o->ham_weight > 1 ? o->ham_weight : 1.0) * (double)maxrow *
		maxcol / f.wsum;
	eta = 4.0 / L;
	memcpy(x, w, n * sizeof(*x));
	memcpy(xp, w, n * sizeof(*xp));
	Fx = objective(&f, x, NULL);
	for (it = 0; it < (int)o->max_iter; it++) {
		double tn = (1 + sqrt(1 + 4 * t * t)) / 2, beta = (t - 1) / tn;
		double Fy, Fn, step = 0, dot = 0, lin, moved = 0;

		for (size_t j = 0; j < n; j++)
			y[j] = x[j] + beta * (x[j] - xp[j]);
		Fy = objective(&f, y, g);
		for (;;) {
			lin = 0;
			step = 0;
			for (size_t j = 0; j < n; j++) {
				double dj;

				xn[j] = clampd(y[j] - eta * g[j],
				    d->rules[j].lo, d->rules[j].hi);
				dj = xn[j] - y[j];
				lin += g[j] * dj;
				step += dj * dj;
			}
			Fn = objective(&f, xn, NULL);
			if (Fn <= Fy + lin + step / (2 * eta) + 1e-15 ||
			    eta < 1e-12)
				break;
			eta *= 0.5;
		}
		/* adaptive restart (O'Donoghue-Candes): momentum that points
		 * uphill is dropped */
		for (size_t j = 0; j < n; j++)
			dot += g[j] * (xn[j] - x[j]);
		for (size_t j = 0; j < n; j++) {
			double m = fabs(xn[j] - x[j]);

			if (m > moved)
				moved = m;
		}
		memcpy(xp, x, n * sizeof(*x));
		memcpy(x, xn, n * sizeof(*x));
		if (dot > 0 || Fn > Fx)
			t = 1;
		else
			t = tn;
		Fx = Fn;
		if (moved < o->tol)
			break;
	}
	memcpy(w, x, n * sizeof(*w));
	rc = it;
out:
	free(f.rows);
	free(x);
	free(xp);
	free(y);
	free(g);
	free(xn);
	free(colcnt);
	return rc;
}

void
tune_round(const struct tune_data *d, double *w)
{
	for (size_t j = 0; j < d->nrules; j++) {
		const struct tune_rule *r = &d->rules[j];

		if (r->lo >= r->hi)
			continue;
		w[j] = clampd(round(w[j] * 1000) / 1000, r->lo, r->hi);
	}
}

int
tune_fit_target(const struct tune_data *d, const uint8_t *use,
    const struct tune_opts *o, double fp_target, double *w, double *ham_weight)
{
	struct tune_opts oo = *o;
	double *wr = malloc((d->nrules + 1) * sizeof(*wr));
	int rc = 0;

	if (wr == NULL)
		return -ENOMEM;
	for (oo.ham_weight = o->ham_weight;; oo.ham_weight *= 1.5) {
		struct tune_count c;

		if ((rc = tune_fit(d, use, &oo, w)) < 0)
			break;
		rc = 0;
		memcpy(wr, w, d->nrules * sizeof(*wr));
		tune_round(d, wr);
		tune_count(d, use, 1, wr, o->threshold, &c);
		if (c.ham == 0 || (double)c.fp <= fp_target * (double)c.ham ||
		    oo.ham_weight * 1.5 > 1000)
			break;
	}
	*ham_weight = oo.ham_weight;
	free(wr);
	return rc;
}


int
tune_folds(const struct tune_data *d, unsigned k, uint64_t seed, uint8_t *fold)
{
	uint32_t *v;
	uint64_t st = seed;

	if (k < 2 || k > 255)
		return -EINVAL;
	if ((v = malloc((d->nmsgs + 1) * sizeof(*v))) == NULL)
		return -ENOMEM;
	for (int cls = 0; cls < 2; cls++) {
		size_t n = 0;

		for (size_t i = 0; i < d->nmsgs; i++)
			if (d->spam[i] == (cls == 1))
				v[n++] = (uint32_t)i;
		for (size_t i = n; i > 1; i--) {
			size_t j = (size_t)(splitmix64(&st) % i);
			uint32_t tmp = v[i - 1];

			v[i - 1] = v[j];
			v[j] = tmp;
		}
		for (size_t i = 0; i < n; i++)
			fold[v[i]] = (uint8_t)(i % k);
	}
	free(v);
	return 0;
}
