/* report_spectrum.c — `minima spectrum`'s computation and its --json text
 * (report.h): loss and gradient norm, extreme Ritz pairs, trace, density
 * and the dense spectrum of the Hessian or Gauss-Newton matrix. */
#include <math.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/linop.h"
#include "minima/report.h"
#include "report/report_json_impl.h"

static const double default_levels[] = {1, 10, 100};

const char *minima_precision_name(minima_precision p)
{
    switch (p) {
    case MINIMA_PRECISION_FLOAT64: return "float64";
    case MINIMA_PRECISION_MIXED: return "mixed";
    case MINIMA_PRECISION_FLOAT32: return "float32";
    case MINIMA_PRECISION_AUTO: return "auto";
    }
    return NULL;
}

minima_spectrum_request minima_spectrum_default_request(void)
{
    minima_spectrum_request r;
    memset(&r, 0, sizeof r);
    r.top = 1;
    r.bottom = 0;
    r.tol = 1e-8;
    r.basis = 0;
    r.max_products = minima_eigs_default_params().max_products;
    r.trace_method = "xtrace";
    r.trace_rtol = 1e-2;
    r.trace_max = 1000;
    r.slq_steps = 100;
    r.slq_draws = 1;
    r.levels = default_levels;
    r.n_levels = 3;
    r.precision = MINIMA_PRECISION_AUTO;
    return r;
}

void minima_spectrum_result_free(minima_spectrum_result *r)
{
    if (!r) return;
    if (r->have_eig) minima_eigs_result_free(&r->eig);
    if (r->have_density) minima_density_result_free(&r->density);
    minima_free(r->exact);
    minima_free(r->levels);
    minima_free(r->count_above);
    memset(r, 0, sizeof *r);
}

static minima_status check_request(const minima_spectrum_request *q)
{
    if (q->top < 0 || q->top > 10000)
        return minima_error(MINIMA_EINVAL, "spectrum: top must be in [0, 10000], found %d", q->top);
    if (q->bottom < 0 || q->bottom > 10000)
        return minima_error(MINIMA_EINVAL, "spectrum: bottom must be in [0, 10000], found %d", q->bottom);
    if (!(q->tol > 0 && q->tol < 1))
        return minima_error(MINIMA_EINVAL, "spectrum: tol must be in (0, 1), found %g", q->tol);
    if (q->max_products < 1)
        return minima_error(MINIMA_EINVAL, "spectrum: max_products must be >= 1, found 0");
    const char *m = q->trace_method ? q->trace_method : "xtrace";
    if (strcmp(m, "hutch++") && strcmp(m, "hutchinson") && strcmp(m, "exact") && strcmp(m, "xtrace") &&
        strcmp(m, "xnystrace"))
        return minima_error(MINIMA_EINVAL, "spectrum: trace_method: expected xtrace, hutch++, hutchinson, "
                            "xnystrace or exact, found '%s'", m);
    if (!strcmp(m, "xnystrace") && !q->ggn && q->trace && !q->exact)
        return minima_error(MINIMA_EINVAL, "spectrum: trace_method xnystrace needs a positive "
                            "semidefinite matrix: the Hessian is indefinite in general (use xtrace, "
                            "or ggn for the Gauss-Newton matrix)");
    if (!(q->trace_rtol > 0 && q->trace_rtol < 1))
        return minima_error(MINIMA_EINVAL, "spectrum: trace_rtol must be in (0, 1), found %g", q->trace_rtol);
    if (q->trace_max < 2)
        return minima_error(MINIMA_EINVAL, "spectrum: trace_max must be >= 2, found %zu", q->trace_max);
    if (q->slq_steps < 1 || q->slq_draws < 1)
        return minima_error(MINIMA_EINVAL, "spectrum: slq_steps and slq_draws must be >= 1");
    if (!minima_precision_name(q->precision))
        return minima_error(MINIMA_EINVAL, "spectrum: precision: unknown value %d", (int)q->precision);
    if (q->precision == MINIMA_PRECISION_FLOAT32 && q->tol < 1e-6 && (q->top > 0 || q->bottom > 0))
        return minima_error(MINIMA_EINVAL, "spectrum: float32 products carry ~1e-6 relative error: "
                            "tol %g cannot be reached (use 1e-5 or more, or the mixed precision)", q->tol);
    if (q->n_levels < 0 || (q->n_levels > 0 && !q->levels))
        return minima_error(MINIMA_EINVAL, "spectrum: levels: %d levels without values", q->n_levels);
    for (int i = 0; i < q->n_levels; i++)
        if (!isfinite(q->levels[i]))
            return minima_error(MINIMA_EINVAL, "spectrum: levels: entry %d is not a finite number", i + 1);
    return MINIMA_OK;
}

minima_status minima_spectrum_run(minima_net *net, const minima_spectrum_request *q,
                                  minima_spectrum_result *s)
{
    memset(s, 0, sizeof *s);
    minima_status st = check_request(q);
    if (st != MINIMA_OK) return st;
    double t0 = rj_now();
    const minima_model *model = minima_net_model(net);
    size_t products0 = minima_net_n_products(net);
    s->activation = model->activation;
    s->activation_source = model->activation_source;
    s->order_source = model->order_source;
    minima_linop *full = NULL, *op = NULL, *low_full = NULL, *low = NULL;
    size_t *index = NULL, n_index = 0;
    double *grad = NULL, *dense = NULL;
    size_t P = model->n_params;
    int keep = 0;       /* the result stands despite a failure status */
    int net32 = minima_net_get_params(net).float32;

    grad = minima_alloc(P, sizeof *grad);
    if (!grad) { st = minima_error(MINIMA_ENOMEM, "out of memory"); goto done; }
    if ((st = minima_net_gradient(net, NULL, &s->loss, grad)) != MINIMA_OK) goto done;
    double g2 = 0;
    for (size_t i = 0; i < P; i++) g2 += grad[i] * grad[i];
    s->grad_norm = sqrt(g2);
    st = q->ggn ? minima_linop_ggn(&full, net) : minima_linop_hessian(&full, net);
    if (st != MINIMA_OK) goto done;
    op = full;
    if (q->layers) {
        if ((st = minima_linop_select_layers(model, q->layers, &index, &n_index)) != MINIMA_OK) goto done;
        if ((st = minima_linop_subset(&op, full, index, n_index)) != MINIMA_OK) goto done;
    }
    /* float32 products of the same net, for the mixed and float32 runs (a
     * float32 net's own products are float32 already) */
    net32 = minima_net_get_params(net).float32;
    s->precision = net32 ? MINIMA_PRECISION_FLOAT32 : q->precision;
    if (!net32 && q->precision != MINIMA_PRECISION_FLOAT64) {
        st = q->ggn ? minima_linop_ggn_f32(&low_full, net) : minima_linop_hessian_f32(&low_full, net);
        if (st != MINIMA_OK) goto done;
        low = low_full;
        if (q->layers && (st = minima_linop_subset(&low, low_full, index, n_index)) != MINIMA_OK) goto done;
    }
    /* trace and density: float32 products are accurate enough for both
     * (docs/spectrum.md) whenever the run is not float64 */
    minima_linop *op_td = low ? low : op;
    s->trace_f32 = s->density_f32 = s->precision != MINIMA_PRECISION_FLOAT64;
    s->n = op->n;
    s->model_n_params = P;
    if (q->on_step) q->on_step(s, MINIMA_SPECTRUM_STEP_LOSS, q->user);

    if (q->exact) {
        if (s->n > 20000) {
            st = minima_error(MINIMA_EINVAL, "the exact spectrum needs an n x n matrix; n = %zu is too "
                              "large (use --top/--bottom, or --layers to restrict)", s->n);
            goto done;
        }
        dense = minima_alloc(s->n * s->n, sizeof *dense);
        s->exact = minima_alloc(s->n, sizeof *s->exact);
        if (!dense || !s->exact) {
            st = minima_error(MINIMA_ENOMEM, "out of memory for a %zu x %zu matrix", s->n, s->n);
            goto done;
        }
        if ((st = minima_linop_to_dense(op, dense)) != MINIMA_OK ||
            (st = minima_spectrum_dense(s->n, dense, s->exact, NULL)) != MINIMA_OK)
            goto done;
        s->rank_tol = minima_spectrum_rank_tol(s->exact, s->n);
        s->rank = minima_spectrum_rank(s->exact, s->n, s->rank_tol);
        if (q->n_levels > 0) {
            s->levels = minima_alloc((size_t)q->n_levels, sizeof *s->levels);
            s->count_above = minima_alloc((size_t)q->n_levels, sizeof *s->count_above);
            if (!s->levels || !s->count_above) { st = minima_error(MINIMA_ENOMEM, "out of memory"); goto done; }
            s->n_levels = q->n_levels;
            for (int i = 0; i < q->n_levels; i++) {
                s->levels[i] = q->levels[i];
                minima_spectrum_count_above(s->exact, s->n, &q->levels[i], 1, &s->count_above[i]);
            }
        }
        if (q->on_step) q->on_step(s, MINIMA_SPECTRUM_STEP_EXACT, q->user);
    }
    minima_status eig_st = MINIMA_OK;
    if (q->top > 0 || q->bottom > 0) {
        minima_eigs_params ep = minima_eigs_default_params();
        ep.k_top = q->top;
        ep.k_bottom = q->bottom;
        ep.tol = q->tol;
        ep.seed = q->seed;
        ep.max_basis = q->basis;
        ep.max_products = q->max_products;
        minima_linop *op_eig = op;
        if (low && s->precision == MINIMA_PRECISION_MIXED) ep.op_low = low;
        if (low && s->precision == MINIMA_PRECISION_FLOAT32) op_eig = low;
        eig_st = minima_eigs(op_eig, &ep, &s->eig);
        if (op_eig == low) s->eig.n_products_low = s->eig.n_products;
        s->have_eig = s->eig.n_top + s->eig.n_bottom > 0;
        if (eig_st != MINIMA_OK && !s->have_eig) { st = eig_st; goto done; }
        if (q->on_step) q->on_step(s, MINIMA_SPECTRUM_STEP_EIGS, q->user);
        if (eig_st == MINIMA_EINTERRUPTED || (eig_st != MINIMA_OK && eig_st != MINIMA_ENOCONV)) {
            /* the pairs found so far are the result */
            st = eig_st;
            keep = 1;
            goto done;
        }
    }
    if (q->trace) {
        minima_trace_params tp = minima_trace_default_params();
        tp.rtol = q->trace_rtol;
        tp.max_samples = q->trace_max;
        tp.seed = q->seed + 1;
        const char *method = q->trace_method ? q->trace_method : "xtrace";
        if (s->exact) {
            /* The dense spectrum is at hand: its sum is the trace, exactly. */
            memset(&s->trace, 0, sizeof s->trace);
            s->trace.method = "exact";
            for (size_t i = 0; i < s->n; i++) s->trace.estimate += s->exact[i];
            s->trace.samples = s->n;
            s->trace.converged = 1;
            st = MINIMA_OK;
            s->trace_f32 = 0;
        } else if (!strcmp(method, "exact")) st = minima_trace_exact(op_td, &s->trace);
        else if (!strcmp(method, "hutchinson")) st = minima_trace_hutchinson(op_td, &tp, &s->trace);
        else if (!strcmp(method, "xnystrace")) st = minima_trace_xnystrace(op_td, &tp, &s->trace);
        else if (!strcmp(method, "hutch++")) st = minima_trace_hutchpp(op_td, &tp, &s->trace);
        else st = minima_trace_xtrace(op_td, &tp, &s->trace);
        if (st != MINIMA_OK) goto done;
        s->have_trace = 1;
        if (q->on_step) q->on_step(s, MINIMA_SPECTRUM_STEP_TRACE, q->user);
    }
    if (q->density) {
        minima_density_params dp = minima_density_default_params();
        dp.n_steps = q->slq_steps;
        dp.n_draws = q->slq_draws;
        dp.seed = q->seed + 2;
        if ((st = minima_density_slq(op_td, &dp, &s->density)) != MINIMA_OK) goto done;
        s->have_density = 1;
        if (q->on_step) q->on_step(s, MINIMA_SPECTRUM_STEP_DENSITY, q->user);
    }
    st = eig_st;
    keep = 1;
done:
    s->n_products = minima_net_n_products(net) - products0;
    s->n_products_f32 = net32 ? s->n_products : low_full ? low_full->n_applies : 0;
    s->seconds = rj_now() - t0;
    minima_free(dense);
    minima_free(grad);
    minima_free(index);
    if (op != full) minima_linop_free(op);
    minima_linop_free(full);
    if (low != low_full) minima_linop_free(low);
    minima_linop_free(low_full);
    if (st != MINIMA_OK && !keep) minima_spectrum_result_free(s);
    return st;
}

static void ritz_pairs(rj_buf *b, int have, int k, const double *values, const double *true_res,
                       const double *res)
{
    for (int i = 0; have && i < k; i++) {
        rj_printf(b, "%s{\"eigenvalue\": ", i ? ", " : "");
        rj_number(b, values[i]);
        rj_printf(b, ", \"residual\": ");
        rj_number(b, true_res ? true_res[i] : res[i]);
        rj_printf(b, "}");
    }
}

minima_status minima_spectrum_json(const minima_spectrum_result *s, char **json)
{
    /* n_params: the size of the operator (the selected block with --layers);
     * model_n_params: the whole model's. */
    rj_buf b = {0};
    rj_printf(&b, "{");
    rj_model_source(&b, s->activation, s->activation_source, s->order_source);
    rj_printf(&b, ", \"n_params\": %zu, \"n\": %zu, \"model_n_params\": %zu, \"loss\": ", s->n, s->n,
              s->model_n_params);
    rj_number(&b, s->loss);
    rj_printf(&b, ", \"grad_norm\": ");
    rj_number(&b, s->grad_norm);
    rj_printf(&b, ", \"top\": [");
    ritz_pairs(&b, s->have_eig, s->eig.n_top, s->eig.top, s->eig.top_true_residual, s->eig.top_residual);
    rj_printf(&b, "], \"bottom\": [");
    ritz_pairs(&b, s->have_eig, s->eig.n_bottom, s->eig.bottom, s->eig.bottom_true_residual,
               s->eig.bottom_residual);
    rj_printf(&b, "]");
    if (s->have_eig) rj_printf(&b, ", \"converged\": %s", s->eig.converged ? "true" : "false");
    if (s->have_trace) {
        rj_printf(&b, ", \"trace\": {\"estimate\": ");
        rj_number(&b, s->trace.estimate);
        rj_printf(&b, ", \"stderr\": ");
        rj_number(&b, s->trace.std_error);
        rj_printf(&b, ", \"samples\": %zu, \"method\": ", s->trace.samples);
        rj_string(&b, s->trace.method);
        rj_printf(&b, ", \"precision\": \"%s\"}", s->trace_f32 ? "float32" : "float64");
    }
    if (s->have_density) {
        rj_printf(&b, ", \"density\": {\"grid\": [");
        for (size_t i = 0; i < s->density.n_grid; i++) {
            if (i) rj_printf(&b, ",");
            rj_number(&b, s->density.grid[i]);
        }
        rj_printf(&b, "], \"values\": [");
        for (size_t i = 0; i < s->density.n_grid; i++) {
            if (i) rj_printf(&b, ",");
            rj_number(&b, s->density.values[i]);
        }
        rj_printf(&b, "], \"precision\": \"%s\"}", s->density_f32 ? "float32" : "float64");
    }
    if (s->exact) {
        rj_printf(&b, ", \"exact\": {\"rank\": %zu, \"rank_tol\": ", s->rank);
        rj_number(&b, s->rank_tol);
        rj_printf(&b, ", \"eigenvalues\": [");
        for (size_t i = 0; i < s->n; i++) {
            if (i) rj_printf(&b, ",");
            rj_number(&b, s->exact[s->n - 1 - i]);
        }
        rj_printf(&b, "]}");
    }
    rj_printf(&b, ", \"precision\": \"%s\", \"n_hvp\": %zu, \"n_hvp_float32\": %zu, "
              "\"n_hvp_float64\": %zu, \"seconds\": ", minima_precision_name(s->precision),
              s->n_products, s->n_products_f32, s->n_products - s->n_products_f32);
    rj_number(&b, s->seconds);
    rj_printf(&b, "}\n");
    return rj_finish(&b, json);
}
