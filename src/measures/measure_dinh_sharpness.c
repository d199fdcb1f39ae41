/* measure_dinh_sharpness.c — epsilon-sharpness of Dinh et al. 2017,
 * Definition 2 (docs/measures/dinh_sharpness.md):
 *
 *     max_{||theta' - theta||_2 <= eps} (L(theta') - L(theta)) / (1 + L(theta))
 *
 * maximised by projected, normalised gradient ascent in the ball, from
 * eps g/||g|| (g the gradient at the anchor) and from `starts` random
 * points on the sphere; the best loss seen over every start is kept. A
 * trial step that does not raise the loss is refused and halves the step
 * (so every start climbs monotonically). Every evaluated point is in the
 * ball, so the value is a certified lower bound of the maximum.
 *
 * Extra numbers: "lambda_max" (Lanczos, eigen.h) and "second_order" =
 * lambda_max eps^2 / (2 (1 + L)), the value of the quadratic model at a
 * critical point; "grad_norm" and "first_order" = eps ||g|| / (1 + L), the
 * value of the linear model (which dominates away from a critical point). */
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/eigen.h"
#include "minima/format.h"
#include "minima/linop.h"
#include "minima/rng.h"
#include "minima/sharpness.h"

#define NAME "dinh_sharpness"

typedef struct {
    double eps;        /* radius of the l2 ball */
    int steps;         /* ascent steps per start (one gradient each) */
    double lr;         /* first step length, as a fraction of eps */
    int starts;        /* random starts besides the gradient start */
    int second_order;  /* compute lambda_max and the quadratic value */
    double tol;        /* Lanczos relative residual tolerance */
    int max_products;  /* Lanczos budget of Hessian-vector products */
} dinh_settings;

static const minima_setting table[] = {
    {"eps", MINIMA_SETTING_DOUBLE, offsetof(dinh_settings, eps), 1e-3, 0, INFINITY, MINIMA_SETTING_MIN_OPEN,
     "radius of the l2 ball"},
    {"steps", MINIMA_SETTING_INT, offsetof(dinh_settings, steps), 20, 0, INFINITY, 0,
     "ascent steps per start (one gradient each)"},
    {"lr", MINIMA_SETTING_DOUBLE, offsetof(dinh_settings, lr), 0.5, 0, INFINITY, MINIMA_SETTING_MIN_OPEN,
     "first step length, as a fraction of eps"},
    {"starts", MINIMA_SETTING_INT, offsetof(dinh_settings, starts), 2, 0, INFINITY, 0,
     "random starts besides the gradient start"},
    {"second_order", MINIMA_SETTING_BOOL, offsetof(dinh_settings, second_order), 1, 0, 1, 0,
     "1: compute lambda_max and the quadratic value"},
    {"tol", MINIMA_SETTING_DOUBLE, offsetof(dinh_settings, tol), 1e-6, 0, 1,
     MINIMA_SETTING_MIN_OPEN | MINIMA_SETTING_MAX_OPEN, "Lanczos relative residual tolerance"},
    {"max_products", MINIMA_SETTING_INT, offsetof(dinh_settings, max_products), 10000, 3, INFINITY, 0,
     "Lanczos budget of Hessian-vector products (the best Ritz value past it)"},
};
#define N_SETTINGS (sizeof table / sizeof *table)

static minima_status parse(const char *s, dinh_settings *p)
{
    return minima_settings_parse(NAME, table, N_SETTINGS, s, p);
}

/* delta <- delta scaled into the ball of radius eps. */
static void project(double *delta, size_t n, double eps)
{
    double r = cblas_dnrm2((int)n, delta, 1);
    if (r > eps) cblas_dscal((int)n, eps / r, delta, 1);
}

/* x = theta + delta */
static void add(const double *theta, const double *delta, double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = theta[i] + delta[i];
}

/* Largest Hessian eigenvalue at the anchor, by Lanczos. */
static minima_status lambda_max(minima_net *net, double tol, int max_products, uint64_t seed, double *lmax)
{
    minima_linop *op = NULL;
    minima_eigs_result res;
    memset(&res, 0, sizeof res);
    minima_status st = minima_linop_hessian(&op, net);
    if (st != MINIMA_OK) goto done;
    minima_eigs_params ep = minima_eigs_default_params();
    ep.k_top = 1;
    ep.tol = tol;
    ep.max_products = (size_t)max_products;
    ep.seed = seed;
    ep.verify = 0;
    st = minima_eigs(op, &ep, &res);
    if ((st == MINIMA_OK || st == MINIMA_ENOCONV) && res.n_top > 0) *lmax = res.top[0];
done:
    minima_eigs_result_free(&res);
    minima_linop_free(op);
    return st;
}

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    dinh_settings p;
    MINIMA_TRY(parse(settings, &p));
    size_t n = minima_net_n_params(net);
    const double *theta = minima_net_point(net);   /* (P) the anchor */
    minima_status st = MINIMA_OK;
    double *g0 = minima_alloc(n, sizeof *g0);      /* (P) gradient at the anchor */
    double *delta = minima_alloc(n, sizeof *delta);/* (P) current point - anchor */
    double *cand = minima_alloc(n, sizeof *cand);  /* (P) trial point - anchor */
    double *g = minima_alloc(n, sizeof *g);        /* (P) gradient at the current point */
    double *gc = minima_alloc(n, sizeof *gc);      /* (P) gradient at the trial point */
    double *x = minima_alloc(n, sizeof *x);        /* (P) theta + delta */
    if (!g0 || !delta || !cand || !g || !gc || !x) {
        st = minima_error(MINIMA_ENOMEM, "measure " NAME ": out of memory for P = %zu", n);
        goto fail;
    }
    double L0;
    if ((st = minima_net_gradient(net, NULL, &L0, g0)) != MINIMA_OK) goto fail;
    double gnorm = cblas_dnrm2((int)n, g0, 1);
    double best = L0;
    int total = (p.starts + 1) * (p.steps + 1), done = 0;
    for (int s = 0; s <= p.starts; s++) {
        if (s == 0) {
            if (!(gnorm > 0)) continue;                 /* critical point: no gradient start */
            for (size_t i = 0; i < n; i++) delta[i] = p.eps * g0[i] / gnorm;
        } else {
            minima_rng rng;
            minima_rng_seed2(&rng, seed, (uint64_t)s);
            minima_rng_fill_normal(&rng, delta, n);
            double r = cblas_dnrm2((int)n, delta, 1);
            cblas_dscal((int)n, p.eps / r, delta, 1);
        }
        double cur;
        add(theta, delta, x, n);
        if ((st = minima_net_gradient(net, x, &cur, g)) != MINIMA_OK) goto fail;
        if (cur > best) best = cur;
        minima_progress(NAME, ++done, total);
        double lr = p.lr;
        for (int it = 0; it < p.steps; it++) {
            double gn = cblas_dnrm2((int)n, g, 1);
            if (!(gn > 0)) break;
            for (size_t i = 0; i < n; i++) cand[i] = delta[i] + lr * p.eps * g[i] / gn;
            project(cand, n, p.eps);
            double lc;
            add(theta, cand, x, n);
            if ((st = minima_net_gradient(net, x, &lc, gc)) != MINIMA_OK) goto fail;
            minima_progress(NAME, ++done, total);
            if (lc > best) best = lc;
            if (lc > cur) {
                double *t = delta; delta = cand; cand = t;
                t = g; g = gc; gc = t;
                cur = lc;
            } else {
                lr *= 0.5;
            }
        }
    }
    out->value = (best - L0) / (1 + L0);
    minima_measure_add_extra(out, "loss", L0);
    minima_measure_add_extra(out, "grad_norm", gnorm);
    minima_measure_add_extra(out, "first_order", p.eps * gnorm / (1 + L0));
    if (p.second_order) {
        double lmax = NAN;
        st = lambda_max(net, p.tol, p.max_products, seed, &lmax);
        if (st == MINIMA_ENOCONV) {
            char tl[MINIMA_DOUBLE_CHARS];
            minima_format_double(tl, sizeof tl, p.tol);
            snprintf(out->note, sizeof out->note, "Lanczos did not reach tol = %s in %d products: lambda_max "
                     "is the best Ritz value", tl, p.max_products);
            st = MINIMA_OK;
        }
        if (st != MINIMA_OK) goto fail;
        minima_measure_add_extra(out, "lambda_max", lmax);
        minima_measure_add_extra(out, "second_order", lmax * p.eps * p.eps / (2 * (1 + L0)));
    }
    minima_settings_json(table, N_SETTINGS, &p, NULL, out->params, sizeof out->params);
fail:
    minima_free(g0);
    minima_free(delta);
    minima_free(cand);
    minima_free(g);
    minima_free(gc);
    minima_free(x);
    return st;
}

const minima_measure minima_measure_dinh_sharpness = {
    .name = NAME,
    .title = "Dinh et al. eps-sharpness (l2 ball, projected gradient ascent)",
    .source = "Dinh et al. 2017, Definition 2",
    .invariance = MINIMA_INVARIANCE_NONE,
    .settings = table,
    .n_settings = N_SETTINGS,
    .compute = compute,
};
