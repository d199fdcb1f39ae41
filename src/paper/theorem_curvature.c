/* theorem_curvature.c — curvature made arbitrarily large by rescaling:
 * the spectral norm and trace (main Thm 4) and many eigenvalues at once
 * (main Thm 5 = supplement Thm 2, appendix E). Both compute the Hessian at
 * the transformed point T_alpha theta of the real network, not only the
 * predicted D H D. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/eigen.h"
#include "minima/graph_symmetry.h"
#include "minima/linop.h"
#include "minima/trace.h"
#include "paper/theorem_impl.h"

#define LOSS_RTOL 1e-9     /* L(T_alpha theta) = L(theta) within this, relative ... */
#define LOSS_ATOL 1e-14    /* ... plus this absolute */
#define MAX_M 16

static int m_values(const minima_theorem_params *p, double cap, double *m)
{
    int n = 0;
    for (double e = floor(log10(p->m_min) + 1e-9); n < MAX_M; e += 1) {
        double v = pow(10.0, e);
        if (v > p->m_max * (1 + 1e-12) || v > cap * (1 + 1e-12)) break;
        if (v >= p->m_min * (1 - 1e-12)) m[n++] = v;
    }
    return n;
}

static int loss_equal(double a, double b)
{
    return fabs(a - b) <= LOSS_RTOL * fmax(fabs(a), fabs(b)) + LOSS_ATOL;
}

/* ---- main Thm 4 ------------------------------------------------------------ */

/* The trace of the Hessian of net at its anchor: exact for P <= max_dense,
 * else Hutch++ minus 3 standard errors (*lo); *method is static. */
static minima_status hessian_trace(minima_net *net, size_t P, size_t max_dense, double *estimate,
                                   double *lo, const char **method)
{
    minima_linop *op = NULL;
    minima_trace_result tr;
    MINIMA_TRY(minima_linop_hessian(&op, net));
    minima_status s = P <= max_dense ? minima_trace_exact(op, &tr) : minima_trace_hutchpp(op, NULL, &tr);
    minima_linop_free(op);
    if (s != MINIMA_OK) return s;
    *estimate = tr.estimate;
    *lo = tr.estimate - 3 * tr.std_error;
    *method = tr.method;
    return MINIMA_OK;
}

/* Thm 4 on a graph. The map is a point of the graph's rescaling group
 * (minima/graph_symmetry.h), built for the weight i* with the largest
 * Hessian diagonal entry gamma among the weights the group can rescale
 * (log D_i not identically 0; all of them for P <= max_dense, else the
 * first 256): u = log(beta) on the class of i*'s output channel (or
 * -log(beta) on its input channel's class when the output's is fixed or
 * the same), beta = sqrt(gamma / M) / 2, so D_i* = beta and the entry
 * becomes gamma / beta^2 = 4M (Thm 3). The perceptron's construction puts
 * alpha on a whole layer and 1/alpha on another; this one moves one class,
 * which the statement allows as well: any point of the group preserves L,
 * and lambda_max and the trace (at a minimum, PSD) are at least one
 * diagonal entry. */
static minima_status thm4_graph(minima_theorem_env *env, const minima_theorem_params *p,
                                minima_theorem_result *r, const minima_model *model,
                                const minima_dataset *data, const minima_theorem_net_info *info)
{
    int ok = 1;
    minima_gsym *g = NULL;
    MINIMA_TRY(minima_gsym_create(model, &g));
    if (g->n_classes == 0) {
        minima_gsym_free(g);
        minima_thm_not_applicable(r, "the graph's rescaling group is trivial (no free class): no "
                                  "map to make the curvature large");
        return MINIMA_OK;
    }
    if (!minima_thm_require_critical(env, p, r, info->grad_norm, &ok)) {
        minima_gsym_free(g);
        return MINIMA_OK;
    }
    size_t P = model->n_params, nc = (size_t)g->n_classes;
    minima_net *net = NULL;
    double *buf = NULL, ms[MAX_M];
    minima_status s;
    if ((s = minima_net_create(&net, model, data, NULL))) goto fail;
    buf = minima_alloc(5 * P + nc, sizeof *buf);
    if (!buf) { s = minima_error(MINIMA_ENOMEM, "thm4: out of memory"); goto fail; }
    double *e = buf, *he = e + P, *at = he + P, *probe = at + P, *diag = probe + P, *u = diag + P;
    double lmax0, lmin0;
    if ((s = minima_thm_extremes(net, 1e-8, p->seed, p->max_products, &lmax0, &lmin0))) goto fail;
    r->lambda_min = lmin0;
    minima_thm_hypothesis(r, "lambda_min = %.3g, lambda_max = %.6g at theta. ", lmin0, lmax0);
    /* the weights the group rescales: log D_i(u) != 0 at a random u */
    if ((s = minima_gsym_random_u(g, p->seed + 404, 1.0, NULL, u))) goto fail;
    if ((s = minima_gsym_diag(g, model, u, probe))) goto fail;
    double gamma = 0;
    size_t istar = 0, seen = 0;
    int nstar = -1;
    memset(e, 0, P * sizeof *e);
    for (int n = 1; n < model->n_nodes; n++) {
        const minima_node *nd = &model->nodes[n];
        for (size_t i = nd->weight_offset; i < nd->weight_offset + nd->n_weight; i++) {
            if (!(fabs(log(probe[i])) > 1e-9)) continue;
            if (P > p->max_dense && seen >= 256) break;
            seen++;
            e[i] = 1;
            if ((s = minima_net_hvp(net, e, he))) goto fail;
            e[i] = 0;
            if (he[i] > gamma) { gamma = he[i]; istar = i; nstar = n; }
        }
    }
    char label[96] = "none";
    if (nstar > 0) minima_model_node_label(model, nstar, label, sizeof label);
    minima_thm_hypothesis(r, "Hessian != 0: largest diagonal entry gamma = %.6g over %zu weights the "
                          "group rescales (parameter %zu, %s). ", gamma, seen, istar, label);
    minima_thm_number(r, "gamma", gamma);
    minima_thm_number(r, "lambda_max_at_theta", lmax0);
    minima_thm_number(r, "n_classes", g->n_classes);
    if (!(gamma > 0)) {
        minima_thm_detail(r, "HYPOTHESIS BROKEN: no positive diagonal entry of the Hessian over the "
                          "weights the group rescales. ");
        r->passed = 0;
        goto fail;
    }
    /* the class to move: i*'s output channel's, else its input channel's
     * (found as the class whose unit log-factor moves D_i*) */
    int cstar = -1;
    double sign = 1;
    const minima_node *nd = &model->nodes[nstar];
    int o = (int)((istar - nd->weight_offset) / (nd->n_weight / (size_t)nd->out));
    int cout = minima_gsym_class(g, nstar, o);
    for (int pass = 0; pass < 2 && cstar < 0; pass++)
        for (int c = 0; c < g->n_classes && cstar < 0; c++) {
            if (pass == 0 && c != cout) continue;
            memset(u, 0, nc * sizeof *u);
            u[c] = 1;
            if ((s = minima_gsym_diag(g, model, u, diag))) goto fail;
            double l = log(diag[istar]);
            if (fabs(l) > 0.5) { cstar = c; sign = l > 0 ? 1 : -1; }
        }
    if (cstar < 0) {
        s = minima_error(MINIMA_EINVAL, "thm4: internal error: no class moves parameter %zu", istar);
        goto fail;
    }
    int nm = m_values(p, INFINITY, ms);
    minima_thm_detail(r, "graph: class %d of the rescaling group times beta^%+.0f, beta = sqrt(gamma / "
                      "M) / 2 (so parameter %zu's entry gamma / beta^2 = 4M): ", cstar, sign, istar);
    int all = ok;
    double worst_ratio = INFINITY, worst_loss = 0;
    for (int j = 0; j < nm; j++) {
        double M = ms[j], beta = 0.5 * sqrt(gamma / M);
        memset(u, 0, nc * sizeof *u);
        u[cstar] = sign * log(beta);
        if ((s = minima_gsym_apply(g, model, u, model->theta, at))) goto fail;
        if ((s = minima_net_set_point(net, at))) goto fail;
        double loss_t, lmax, tr, tr_lo;
        const char *method;
        if ((s = minima_net_loss(net, at, &loss_t, NULL))) goto fail;
        if ((s = minima_thm_extremes(net, 1e-8, p->seed, p->max_products, &lmax, NULL))) goto fail;
        if ((s = hessian_trace(net, P, p->max_dense, &tr, &tr_lo, &method))) goto fail;
        int same = loss_equal(loss_t, info->loss);
        int pass = same && lmax >= M && tr_lo >= M;
        all = all && pass;
        worst_ratio = fmin(worst_ratio, fmin(lmax, tr_lo) / M);
        worst_loss = fmax(worst_loss, fabs(loss_t - info->loss));
        char key[40];
        snprintf(key, sizeof key, "lambda_max_M%.0e", M);
        minima_thm_number(r, key, lmax);
        snprintf(key, sizeof key, "trace_M%.0e", M);
        minima_thm_number(r, key, tr);
        minima_thm_detail(r, "%sM = %.0e: lambda_max = %.4g, trace = %.4g (%s)%s", j ? "; " : "", M,
                          lmax, tr, method, pass ? "" : same ? " BELOW M" :
                          " LOSS CHANGED: the map did not preserve the function");
    }
    r->passed = all;
    r->tolerance = 0;
    minima_thm_number(r, "min_ratio_to_M", worst_ratio);
    minima_thm_number(r, "max_loss_change", worst_loss);
    minima_thm_detail(r, ". Every value >= M: %s (min ratio %.3g); |L(A theta) - L(theta)| <= %.2g.",
                      all ? "yes" : "NO", worst_ratio, worst_loss);
fail:
    minima_free(buf);
    minima_net_free(net);
    minima_gsym_free(g);
    return s;
}

minima_status minima_thm_check_thm4(minima_theorem_env *env, const minima_theorem_params *p,
                                    minima_theorem_result *r)
{
    const minima_model *model;
    const minima_dataset *data;
    minima_theorem_net_info info;
    MINIMA_TRY(minima_theorem_env_net(env, MINIMA_THEOREM_NET_DEEP, &model, &data, &info));
    minima_thm_describe_net(r, model, data, &info);
    if (!model->is_mlp) return thm4_graph(env, p, r, model, data, &info);
    int K = model->n_layers, ok = 1;
    if (K < 2) {
        minima_thm_not_applicable(r, "no hidden layer: T_alpha is the identity");
        return MINIMA_OK;
    }
    if (K > 64) MINIMA_FAIL(MINIMA_EUNSUPPORTED, "thm4: %d layers, at most 64 supported", K);
    if (!minima_thm_require_critical(env, p, r, info.grad_norm, &ok)) return MINIMA_OK;

    size_t P = model->n_params;
    minima_net *net = NULL;
    minima_linop *op = NULL;
    double *buf = NULL, alpha[64], ms[MAX_M];
    minima_status s;
    if ((s = minima_net_create(&net, model, data, NULL))) return s;
    buf = minima_alloc(3 * P, sizeof *buf);
    if (!buf) { s = minima_error(MINIMA_ENOMEM, "thm4: out of memory"); goto fail; }
    double *e = buf, *he = e + P, *at = he + P;
    double lmax0, lmin0;
    if ((s = minima_thm_extremes(net, 1e-8, p->seed, p->max_products, &lmax0, &lmin0))) goto fail;
    r->lambda_min = lmin0;
    minima_thm_hypothesis(r, "lambda_min = %.3g, lambda_max = %.6g at theta. ", lmin0, lmax0);

    /* gamma: the largest diagonal entry of H over the weights (all of them
     * for P <= max_dense, else the first layer's first 256). */
    double gamma = 0;
    int kstar = -1;
    size_t istar = 0;
    memset(e, 0, P * sizeof *e);
    for (int k = 0; k < K; k++) {
        size_t w0 = model->weight_offset[k], nw = minima_model_layer_weights(model, k);
        if (P > p->max_dense && k > 0) break;
        if (P > p->max_dense && nw > 256) nw = 256;
        for (size_t i = 0; i < nw; i++) {
            e[w0 + i] = 1;
            if ((s = minima_net_hvp(net, e, he))) goto fail;
            e[w0 + i] = 0;
            if (he[w0 + i] > gamma) { gamma = he[w0 + i]; kstar = k; istar = w0 + i; }
        }
    }
    minima_thm_hypothesis(r, "Hessian != 0: largest diagonal entry gamma = %.6g (parameter %zu, "
                          "layer %d). ", gamma, istar, kstar + 1);
    minima_thm_number(r, "gamma", gamma);
    minima_thm_number(r, "lambda_max_at_theta", lmax0);
    if (!(gamma > 0)) {
        minima_thm_detail(r, "HYPOTHESIS BROKEN: no positive diagonal entry of the Hessian. ");
        r->passed = 0;
        goto fail;
    }
    int nm = m_values(p, INFINITY, ms);
    int kcomp = kstar == K - 1 ? 0 : K - 1;
    minima_thm_detail(r, "alpha_%d = sqrt(gamma / M) / 2 (so gamma / alpha^2 = 4M), alpha_%d = 1 / "
                      "alpha_%d: ", kstar + 1, kcomp + 1, kstar + 1);
    int all = ok;
    double worst_ratio = INFINITY, worst_loss = 0;
    for (int j = 0; j < nm; j++) {
        double M = ms[j];
        for (int k = 0; k < K; k++) alpha[k] = 1;
        alpha[kstar] = 0.5 * sqrt(gamma / M);
        alpha[kcomp] = 1 / alpha[kstar];
        minima_thm_layer_map(model, alpha, model->theta, at, NULL);
        if ((s = minima_net_set_point(net, at))) goto fail;
        double loss_t;
        if ((s = minima_net_loss(net, at, &loss_t, NULL))) goto fail;
        double lmax;
        if ((s = minima_thm_extremes(net, 1e-8, p->seed, p->max_products, &lmax, NULL))) goto fail;
        minima_trace_result tr;
        if ((s = minima_linop_hessian(&op, net))) goto fail;
        if (P <= p->max_dense) s = minima_trace_exact(op, &tr);
        else s = minima_trace_hutchpp(op, NULL, &tr);
        minima_linop_free(op);
        op = NULL;
        if (s) goto fail;
        double trace_lo = tr.estimate - 3 * tr.std_error;
        int same = loss_equal(loss_t, info.loss);
        int pass = same && lmax >= M && trace_lo >= M;
        all = all && pass;
        worst_ratio = fmin(worst_ratio, fmin(lmax, trace_lo) / M);
        worst_loss = fmax(worst_loss, fabs(loss_t - info.loss));
        char key[40];
        snprintf(key, sizeof key, "lambda_max_M%.0e", M);
        minima_thm_number(r, key, lmax);
        snprintf(key, sizeof key, "trace_M%.0e", M);
        minima_thm_number(r, key, tr.estimate);
        minima_thm_detail(r, "%sM = %.0e: lambda_max = %.4g, trace = %.4g (%s)%s", j ? "; " : "", M,
                          lmax, tr.estimate, tr.method, pass ? "" : same ? " BELOW M" :
                          " LOSS CHANGED: T_alpha did not preserve the function");
    }
    r->passed = all;
    r->tolerance = 0;
    minima_thm_number(r, "min_ratio_to_M", worst_ratio);
    minima_thm_number(r, "max_loss_change", worst_loss);
    minima_thm_detail(r, ". Every value >= M: %s (min ratio %.3g); |L(T_alpha theta) - L(theta)| <= "
                      "%.2g.", all ? "yes" : "NO", worst_ratio, worst_loss);
fail:
    minima_linop_free(op);
    minima_free(buf);
    minima_net_free(net);
    return s;
}

/* ---- main Thm 5 = supplement Thm 2 ------------------------------------------ */

/* Number of eigenvalues of D H D (dense, D = d) above M; work (P, P). */
static minima_status count_dhd(size_t P, const double *h, const double *d, double M, double *work,
                               double *vals, size_t *count)
{
    for (size_t i = 0; i < P; i++)
        for (size_t j = 0; j < P; j++) work[i * P + j] = d[i] * h[i * P + j] * d[j];
    MINIMA_TRY(minima_spectrum_dense(P, work, vals, NULL));
    minima_spectrum_count_above(vals, P, &M, 1, count);
    return MINIMA_OK;
}

minima_status minima_thm_check_thm5(minima_theorem_env *env, const minima_theorem_params *p,
                                    minima_theorem_result *r)
{
    const minima_model *model;
    const minima_dataset *data;
    minima_theorem_net_info info;
    MINIMA_TRY(minima_theorem_env_net(env, MINIMA_THEOREM_NET_EXACT, &model, &data, &info));
    minima_thm_describe_net(r, model, data, &info);
    if (!minima_thm_require_mlp(r, model, "Thm 5's construction (alpha_k = 1/beta on every layer "
                                "but the narrowest, bound r - min_k n_k over layer sizes)"))
        return MINIMA_OK;
    int K = model->n_layers, ok = 1;
    size_t P = model->n_params;
    if (K < 2) {
        minima_thm_not_applicable(r, "no hidden layer: T_alpha is the identity");
        return MINIMA_OK;
    }
    if (K > 64) MINIMA_FAIL(MINIMA_EUNSUPPORTED, "thm5: %d layers, at most 64 supported", K);
    if (P > p->max_dense) {
        minima_thm_not_applicable(r, "the exact spectrum needs a small net: P = %zu > max_dense = %zu",
                                  P, p->max_dense);
        return MINIMA_OK;
    }
    if (!minima_thm_require_critical(env, p, r, info.grad_norm, &ok)) return MINIMA_OK;

    minima_net *net = NULL;
    double *buf = NULL, alpha[64], ms[MAX_M];
    minima_status s;
    if ((s = minima_net_create(&net, model, data, NULL))) return s;
    buf = minima_alloc(3 * P * P + 4 * P, sizeof *buf);
    if (!buf) { s = minima_error(MINIMA_ENOMEM, "thm5: out of memory (P = %zu)", P); goto fail; }
    double *h = buf, *work = h + P * P, *ht = work + P * P, *vals = ht + P * P;
    double *diag = vals + P, *d = diag + P, *at = d + P;
    if ((s = minima_net_hessian(net, h))) goto fail;
    if ((s = minima_spectrum_dense(P, h, vals, NULL))) goto fail;
    double lmin = vals[0], lmax = vals[P - 1], tau = p->rank_tol * lmax;
    r->lambda_min = lmin;
    size_t rank = minima_spectrum_rank(vals, P, tau);
    double lr = NAN, lnext = NAN;   /* lambda_r and the largest eigenvalue below tau */
    for (size_t i = 0; i < P; i++) {
        if (vals[i] > tau) { if (isnan(lr)) lr = vals[i]; }
        else lnext = vals[i];
    }
    r->tolerance = tau;
    int psd = lmin >= -tau;
    minima_thm_hypothesis(r, "minimum: lambda_min = %.3g (>= -%.3g required), lambda_max = %.6g; "
                          "rank r = %zu with tolerance %.3g = %.0e lambda_max (lambda_r = %.4g, next "
                          "|lambda| = %.3g). ", lmin, tau, lmax, rank, tau, p->rank_tol, lr, fabs(lnext));
    if (!psd) {
        if (minima_theorem_env_is_user(env)) {
            minima_thm_not_applicable(r, "needs a minimum: lambda_min = %.3g < -%.3g", lmin, tau);
            goto fail;
        }
        minima_thm_detail(r, "HYPOTHESIS BROKEN: the Hessian is not positive semi-definite. ");
        ok = 0;
    }
    /* k* = argmin n_k (weights) */
    int kstar = 0;
    for (int k = 1; k < K; k++)
        if (minima_model_layer_weights(model, k) < minima_model_layer_weights(model, kstar)) kstar = k;
    size_t nk = minima_model_layer_weights(model, kstar);
    int nm = m_values(p, INFINITY, ms);
    int all = ok && rank > 0;
    long bound_paper = (long)rank - (long)nk, bound = bound_paper;
    minima_thm_number(r, "rank", (double)rank);
    minima_thm_number(r, "rank_tol", tau);
    minima_thm_number(r, "lambda_r", lr);
    minima_thm_number(r, "k_star", kstar + 1);
    minima_thm_number(r, "n_k_star", (double)nk);
    minima_thm_number(r, "bound_paper", (double)bound_paper);
    for (int j = 0; j < nm && rank > 0; j++) {
        double M = ms[j], beta = 2 * sqrt(M / lr);
        for (int k = 0; k < K; k++) alpha[k] = 1 / beta;
        alpha[kstar] = pow(beta, K - 1);
        minima_thm_layer_map(model, alpha, model->theta, at, diag);
        size_t m_small = 0;   /* entries of D below beta: n_{k*}, plus biases if any */
        for (size_t i = 0; i < P; i++) {
            d[i] = 1 / diag[i];
            if (d[i] < beta * (1 - 1e-12)) m_small++;
        }
        bound = (long)rank - (long)m_small;
        /* rounding of H (~P eps ||H||) is amplified by at most max_i D_ii^2 = beta^2:
         * compare that floor with M */
        double floor_m = beta * beta * (double)P * 2.2e-16 * lmax;
        if (j == nm - 1) minima_thm_number(r, "rounding_floor_max_M", floor_m);
        size_t c_pred, c_act;
        if ((s = count_dhd(P, h, d, M, work, vals, &c_pred))) goto fail;
        /* the Hessian of the network at T_alpha theta itself */
        if ((s = minima_net_set_point(net, at))) goto fail;
        if ((s = minima_net_hessian(net, ht))) goto fail;
        if ((s = minima_spectrum_dense(P, ht, vals, NULL))) goto fail;
        minima_spectrum_count_above(vals, P, &M, 1, &c_act);
        int pass = (long)c_pred >= bound && (long)c_act >= bound;
        all = all && pass;
        char key[40];
        snprintf(key, sizeof key, "count_M%.0e", M);
        minima_thm_number(r, key, (double)c_act);
        snprintf(key, sizeof key, "count_dhd_M%.0e", M);
        minima_thm_number(r, key, (double)c_pred);
        minima_thm_detail(r, "%sM = %.0e (beta = %.3g): %zu eigenvalues > M at T_alpha theta (%zu of "
                          "D H D) vs bound %ld%s", j ? "; " : "", M, beta, c_act, c_pred, bound,
                          pass ? "" : " BELOW");
    }
    minima_thm_number(r, "bound", (double)bound);
    r->passed = all;
    minima_thm_detail(r, ". k* = %d (n_k* = %zu), alpha_k = 1/beta (k != k*), alpha_k* = beta^%d, "
                      "beta = 2 sqrt(M / lambda_r); paper's bound r - n_k* = %ld%s; rounding floor "
                      "beta^2 P eps lambda_max at the largest M: %.2g. Every count >= bound: %s.",
                      kstar + 1, nk, K - 1, bound_paper, model->has_bias ? " (with biases, entries of "
                      "D below beta also include biases: bound r - #{D_ii < beta})" : "",
                      minima_theorem_number_get(r, "rounding_floor_max_M"), all ? "yes" : "NO");
fail:
    minima_free(buf);
    minima_net_free(net);
    return s;
}
