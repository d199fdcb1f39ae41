/* measure_hessian_count.c — the number of Hessian eigenvalues above a
 * level M, #{i : lambda_i > M} (docs/measures/hessian_count.md; Dinh et al.
 * Thm 5 makes it as large as r - min_k n_k by rescaling).
 *
 * Small nets (P <= exact_max): the exact spectrum (dense Hessian, dsyevd).
 * Larger nets: the k largest eigenvalues by Lanczos; when all k are above
 * M the count is a lower bound (reported as such). A single-vector Krylov
 * method may also report a repeated eigenvalue fewer times than its
 * multiplicity (eigen.h), which again can only under-count. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "measures/measure_curv_impl.h"
#include "minima/alloc.h"
#include "minima/eigen.h"
#include "minima/linop.h"

typedef struct {
    double threshold;
    int exact_max, k;
    double tol;
    int max_products;
} hcount_settings;

static const minima_setting table[] = {
    {"threshold", MINIMA_SETTING_DOUBLE, offsetof(hcount_settings, threshold), 1, -INFINITY, INFINITY, 0,
     "the level M"},
    {"exact_max", MINIMA_SETTING_INT, offsetof(hcount_settings, exact_max), 3000, 0, INFINITY, 0,
     "exact spectrum when P <= exact_max, else Lanczos"},
    {"k", MINIMA_SETTING_INT, offsetof(hcount_settings, k), 20, 1, INFINITY, 0,
     "Lanczos eigenvalues computed (the count is at most k)"},
    {"tol", MINIMA_SETTING_DOUBLE, offsetof(hcount_settings, tol), 1e-6, 0, INFINITY, MINIMA_SETTING_MIN_OPEN,
     "Lanczos relative residual tolerance"},
    {"max_products", MINIMA_SETTING_INT, offsetof(hcount_settings, max_products), 10000, 3, INFINITY, 0,
     "Lanczos budget of Hessian-vector products (Ritz values past it)"},
};
#define N_SETTINGS (sizeof table / sizeof *table)

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    hcount_settings hs;
    MINIMA_TRY(minima_settings_parse("hessian_count", table, N_SETTINGS, settings, &hs));
    double threshold = hs.threshold, tol = hs.tol;
    int exact_max = hs.exact_max, k = hs.k;
    size_t P = minima_net_n_params(net);
    int exact = P <= (size_t)exact_max;
    if (!exact && (size_t)k > P) k = (int)P;
    hs.k = k;   /* as used: at most P */
    minima_settings_json(table, N_SETTINGS, &hs, exact ? "\"method\": \"exact\"" : "\"method\": \"lanczos\"",
                         out->params, sizeof out->params);
    minima_status st = MINIMA_OK;
    if (exact) {
        double *lam = minima_alloc(P, sizeof *lam);   /* (P) ascending */
        if (!lam) MINIMA_FAIL(MINIMA_ENOMEM, "measure hessian_count: out of memory");
        st = minima_curv_hessian_spectrum(net, lam);
        if (st == MINIMA_OK) {
            size_t count;
            minima_spectrum_count_above(lam, P, &threshold, 1, &count);
            out->value = (double)count;
            minima_measure_add_extra(out, "lower_bound", 0);
            minima_measure_add_extra(out, "exact", 1);
            minima_measure_add_extra(out, "lambda_max", lam[P - 1]);
            minima_measure_add_extra(out, "lambda_min", lam[0]);
            minima_measure_add_extra(out, "rank", (double)minima_spectrum_rank(lam, P, -1));
        }
        minima_free(lam);
        return st;
    }
    minima_eigs_params ep = minima_eigs_default_params();
    ep.k_top = k;
    ep.tol = tol;
    ep.max_products = (size_t)hs.max_products;
    ep.seed = seed;
    minima_linop *op = NULL;
    minima_eigs_result r = {0};
    MINIMA_TRY(minima_linop_hessian(&op, net));
    st = minima_eigs(op, &ep, &r);
    if ((st == MINIMA_OK || st == MINIMA_ENOCONV) && r.n_top >= 1) {
        size_t count;
        minima_spectrum_count_above(r.top, (size_t)r.n_top, &threshold, 1, &count);
        int bound = count == (size_t)k;
        out->value = (double)count;
        minima_measure_add_extra(out, "lower_bound", bound);
        minima_measure_add_extra(out, "exact", 0);
        minima_measure_add_extra(out, "lambda_max", r.top[0]);
        minima_measure_add_extra(out, "lambda_k", r.top[r.n_top - 1]);
        minima_measure_add_extra(out, "n_products", (double)r.n_products);
        minima_measure_add_extra(out, "converged", r.converged);
        if (bound)
            minima_curv_note(out, "all %d Lanczos eigenvalues exceed the threshold: the count is a "
                             "lower bound (raise k)", k);
        if (!r.converged)
            minima_curv_note(out, "Lanczos did not converge in %d products: Ritz values used", hs.max_products);
    }
    minima_eigs_result_free(&r);
    minima_linop_free(op);
    return st;
}

const minima_measure minima_measure_hessian_count = {
    .name = "hessian_count",
    .title = "number of Hessian eigenvalues above a threshold",
    .source = "Dinh et al. 2017, Thm 5; Keskar et al. 2017",
    .invariance = MINIMA_INVARIANCE_NONE,
    .settings = table,
    .n_settings = N_SETTINGS,
    .compute = compute,
};
