/* measure_hessian_max.c — the spectral norm of the Hessian, lambda_max(H),
 * by thick-restart Lanczos (docs/measures/hessian_max.md,
 * docs/spectrum.md). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "measures/measure_curv_impl.h"
#include "minima/eigen.h"
#include "minima/linop.h"

typedef struct {
    double tol;
    int max_products;
} hmax_settings;

static const minima_setting table[] = {
    {"tol", MINIMA_SETTING_DOUBLE, offsetof(hmax_settings, tol), 1e-8, 0, INFINITY, MINIMA_SETTING_MIN_OPEN,
     "Lanczos relative residual tolerance"},
    {"max_products", MINIMA_SETTING_INT, offsetof(hmax_settings, max_products), 10000, 3, INFINITY, 0,
     "Hessian-vector products at most"},
};
#define N_SETTINGS (sizeof table / sizeof *table)

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    hmax_settings hs;
    MINIMA_TRY(minima_settings_parse("hessian_max", table, N_SETTINGS, settings, &hs));
    minima_eigs_params ep = minima_eigs_default_params();
    ep.tol = hs.tol;
    ep.max_products = (size_t)hs.max_products;
    ep.k_top = 1;
    ep.seed = seed;
    minima_settings_json(table, N_SETTINGS, &hs, NULL, out->params, sizeof out->params);

    minima_linop *op = NULL;
    minima_eigs_result r = {0};
    MINIMA_TRY(minima_linop_hessian(&op, net));
    minima_status st = minima_eigs(op, &ep, &r);
    if ((st == MINIMA_OK || st == MINIMA_ENOCONV) && r.n_top >= 1) {
        out->value = r.top[0];
        minima_measure_add_extra(out, "residual", r.top_residual[0]);
        if (r.top_true_residual) minima_measure_add_extra(out, "true_residual", r.top_true_residual[0]);
        minima_measure_add_extra(out, "n_products", (double)r.n_products);
        minima_measure_add_extra(out, "converged", r.converged);
        if (!r.converged)
            minima_curv_note(out, "Lanczos did not converge within %d products: the value is the "
                             "best Ritz value, a lower bound of lambda_max", hs.max_products);
    }
    minima_eigs_result_free(&r);
    minima_linop_free(op);
    return st;
}

const minima_measure minima_measure_hessian_max = {
    .name = "hessian_max",
    .title = "Hessian spectral norm lambda_max(H)",
    .source = "Dinh et al. 2017, Thm 4; Keskar et al. 2017 (spectral view)",
    .invariance = MINIMA_INVARIANCE_NONE,
    .settings = table,
    .n_settings = N_SETTINGS,
    .compute = compute,
};
