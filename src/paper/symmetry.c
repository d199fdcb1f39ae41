/* symmetry.c — function-preserving rescalings, the canonical (minimum-norm)
 * representative of an orbit, and the observational-equivalence check.
 * See minima/symmetry.h for the contract and docs/symmetry.md for the mathematics. */
#include "minima/symmetry.h"

#include <math.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/reference.h"
#include "minima/rng.h"

#define EQUIV_BATCH 256   /* examples compared at a time */

size_t minima_sym_n_units(const minima_model *m)
{
    size_t n = 0;
    for (int k = 1; k < m->n_layers; k++) n += (size_t)m->widths[k];
    return n;
}

void minima_sym_identity(const minima_model *m, double *scales)
{
    size_t n = minima_sym_n_units(m);
    for (size_t i = 0; i < n; i++) scales[i] = 1.0;
}

/* Offset in the scales array of the units output by model layer k (k <= K-2). */
static size_t unit_offset(const minima_model *m, int k)
{
    size_t off = 0;
    for (int j = 0; j < k; j++) off += (size_t)m->widths[j + 1];
    return off;
}

minima_status minima_sym_layer_scales(const minima_model *m, const double *alpha, int n_alpha,
                                      int derive_last, double prod_tol, double *scales,
                                      double *alpha_used)
{
    if (!m || !alpha || !scales) MINIMA_FAIL(MINIMA_EINVAL, "minima_sym_layer_scales: NULL argument");
    MINIMA_TRY(minima_model_require_mlp(m, "layer-wise rescaling (Dinh et al. Def. 4)"));
    int K = m->n_layers;
    int want = derive_last ? K - 1 : K;
    if (n_alpha != want && !(derive_last && n_alpha == K))
        MINIMA_FAIL(MINIMA_EINVAL, "layer-wise scaling of a %d-layer network: expected %d factors%s, "
                    "found %d", K, want, derive_last ? " (the last one is derived)" : "", n_alpha);
    int n_given = derive_last ? K - 1 : K;
    double prod = 1.0;
    for (int k = 0; k < n_given; k++) {
        if (!isfinite(alpha[k]) || !(alpha[k] > 0))
            MINIMA_FAIL(MINIMA_EINVAL, "layer-wise factor alpha_%d = %g: expected a finite "
                        "number > 0", k + 1, alpha[k]);
        prod *= alpha[k];
    }
    if (!derive_last && !(fabs(prod - 1.0) <= prod_tol))
        MINIMA_FAIL(MINIMA_EINVAL, "layer-wise factors must multiply to 1 (within %g), found "
                    "product %.17g; pass K-1 factors and derive the last one to fix it",
                    prod_tol, prod);
    double cum = 1.0;
    size_t u = 0;
    for (int k = 0; k < K - 1; k++) {
        cum *= alpha[k];
        for (int h = 0; h < m->widths[k + 1]; h++) scales[u++] = cum;
    }
    if (!isfinite(cum) || !(cum > 0))
        MINIMA_FAIL(MINIMA_ERANGE, "layer-wise factors: the running product %g is out of "
                    "floating-point range", cum);
    if (alpha_used) {
        for (int k = 0; k < K - 1; k++) alpha_used[k] = alpha[k];
        alpha_used[K - 1] = 1.0 / cum;
    }
    return MINIMA_OK;
}

minima_status minima_sym_neuron_scales(const minima_model *m, int layer, int unit, double c,
                                       double *scales)
{
    if (!m || !scales) MINIMA_FAIL(MINIMA_EINVAL, "minima_sym_neuron_scales: NULL argument");
    MINIMA_TRY(minima_model_require_mlp(m, "per-neuron rescaling"));
    if (layer < 0 || layer > m->n_layers - 2)
        MINIMA_FAIL(MINIMA_EINVAL, "per-neuron scaling: layer %d has no hidden units; expected "
                    "0..%d", layer, m->n_layers - 2);
    if (unit < 0 || unit >= m->widths[layer + 1])
        MINIMA_FAIL(MINIMA_EINVAL, "per-neuron scaling: unit %d of layer '%s': expected 0..%d",
                    unit, m->layer_names[layer], m->widths[layer + 1] - 1);
    if (!isfinite(c) || !(c > 0))
        MINIMA_FAIL(MINIMA_EINVAL, "per-neuron factor %g: expected a finite number > 0", c);
    minima_sym_identity(m, scales);
    scales[unit_offset(m, layer) + (size_t)unit] = c;
    return MINIMA_OK;
}

minima_status minima_sym_random_scales(const minima_model *m, uint64_t seed, double spread,
                                       const double *alpha, double *scales)
{
    if (!m || !scales) MINIMA_FAIL(MINIMA_EINVAL, "minima_sym_random_scales: NULL argument");
    MINIMA_TRY(minima_model_require_mlp(m, "a random rescaling of the hidden units"));
    if (!isfinite(spread) || spread < 0)
        MINIMA_FAIL(MINIMA_EINVAL, "orbit spread %g: expected a finite number >= 0", spread);
    size_t n = minima_sym_n_units(m);
    if (alpha) MINIMA_TRY(minima_sym_layer_scales(m, alpha, m->n_layers, 0, 1e-12, scales, NULL));
    else minima_sym_identity(m, scales);
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) scales[i] *= exp(spread * minima_rng_normal(&rng));
    return MINIMA_OK;
}

void minima_sym_diag(const minima_model *m, const double *scales, double *diag)
{
    int K = m->n_layers;
    for (int k = 0; k < K; k++) {
        int dout = m->widths[k + 1], din = m->widths[k];
        const double *s_out = k < K - 1 ? scales + unit_offset(m, k) : NULL;    /* (dout) */
        const double *s_in = k > 0 ? scales + unit_offset(m, k - 1) : NULL;     /* (din) */
        double *dw = diag + m->weight_offset[k];                              /* (dout, din) */
        for (int i = 0; i < dout; i++) {
            double so = s_out ? s_out[i] : 1.0;
            for (int j = 0; j < din; j++)
                dw[(size_t)i * (size_t)din + (size_t)j] = s_in ? so / s_in[j] : so;
        }
        if (m->has_bias) {
            double *db = diag + m->bias_offset[k];                            /* (dout) */
            for (int i = 0; i < dout; i++) db[i] = s_out ? s_out[i] : 1.0;
        }
    }
}

void minima_sym_apply(const minima_model *m, const double *scales, const double *theta, double *out)
{
    if (!theta) theta = m->theta;
    int K = m->n_layers;
    for (int k = 0; k < K; k++) {
        int dout = m->widths[k + 1], din = m->widths[k];
        const double *s_out = k < K - 1 ? scales + unit_offset(m, k) : NULL;
        const double *s_in = k > 0 ? scales + unit_offset(m, k - 1) : NULL;
        size_t wo = m->weight_offset[k];
        for (int i = 0; i < dout; i++) {
            double so = s_out ? s_out[i] : 1.0;
            size_t row = wo + (size_t)i * (size_t)din;
            for (int j = 0; j < din; j++)
                out[row + (size_t)j] = (s_in ? so / s_in[j] : so) * theta[row + (size_t)j];
        }
        if (m->has_bias)
            for (int i = 0; i < dout; i++)
                out[m->bias_offset[k] + (size_t)i] =
                    (s_out ? s_out[i] : 1.0) * theta[m->bias_offset[k] + (size_t)i];
    }
}

void minima_sym_apply_model(minima_model *m, const double *scales)
{
    minima_sym_apply(m, scales, m->theta, m->theta);
}

/* ---- canonical representative ---------------------------------------- */

minima_sym_canonical_params minima_sym_canonical_default_params(void)
{
    minima_sym_canonical_params p;
    p.group = MINIMA_SYM_NEURON;
    p.max_iter = 10000;
    p.step_tol = 1e-13;
    p.tol = 0;
    return p;
}

static double sumsq(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i] * x[i];
    return s;
}

/* f(t) of the layer-wise problem (see symmetry.h); w (K) = ||W_k||^2,
 * beta (K) = ||b_k||^2, t (K-1). */
static double layer_objective(int K, const double *w, const double *beta, const double *t)
{
    double f = beta[K - 1];
    for (int k = 0; k < K; k++) {
        double tk = k < K - 1 ? t[k] : 0.0, tp = k > 0 ? t[k - 1] : 0.0;
        f += w[k] * exp(2 * (tk - tp));
        if (k < K - 1) f += beta[k] * exp(2 * tk);
    }
    return f;
}

/* Minimises f over t (K-1 values; on entry the starting point) by damped
 * Newton. work: 5(K-1) doubles. */
static minima_status layer_newton(int K, const double *w, const double *beta, double *t,
                                  const minima_sym_canonical_params *p, double *work,
                                  int *iterations, int *converged)
{
    int n = K - 1;
    double *g = work, *dg = work + n, *off = work + 2 * n, *d = work + 3 * n, *cp = work + 4 * n;
    *converged = 0;
    *iterations = 0;
    double f = layer_objective(K, w, beta, t);
    for (int it = 0; it < p->max_iter; it++) {
        *iterations = it + 1;
        /* gradient and tridiagonal Hessian */
        for (int k = 0; k < n; k++) {
            double tp = k > 0 ? t[k - 1] : 0.0, tn = k + 1 < n ? t[k + 1] : 0.0;
            double e_in = w[k] * exp(2 * (t[k] - tp));        /* term of W_{k+1} (math) */
            double e_out = w[k + 1] * exp(2 * (tn - t[k]));   /* term of W_{k+2} */
            double q = beta[k] * exp(2 * t[k]);
            g[k] = 2 * e_in - 2 * e_out + 2 * q;
            dg[k] = 4 * e_in + 4 * e_out + 4 * q;
            off[k] = -4 * e_out;                               /* H[k][k+1] */
        }
        /* Thomas algorithm on H d = -g (H symmetric positive definite) */
        for (int k = 0; k < n; k++) {
            double sub = k > 0 ? off[k - 1] : 0.0;
            double piv = dg[k] - (k > 0 ? sub * cp[k - 1] : 0.0);
            double rhs = -g[k] - (k > 0 ? sub * d[k - 1] : 0.0);
            if (!(piv > 0) || !isfinite(piv))
                MINIMA_FAIL(MINIMA_EFAILED, "canonical representative: the Newton system lost "
                            "positive definiteness at step %d (pivot %g); the weights span too "
                            "many orders of magnitude", it, piv);
            cp[k] = off[k] / piv;
            d[k] = rhs / piv;
        }
        for (int k = n - 2; k >= 0; k--) d[k] -= cp[k] * d[k + 1];
        double slope = 0, dmax = 0;
        for (int k = 0; k < n; k++) {
            slope += g[k] * d[k];
            if (fabs(d[k]) > dmax) dmax = fabs(d[k]);
        }
        if (dmax <= p->step_tol || !(slope < 0)) { *converged = 1; break; }
        double s = 1.0, fnew = f;
        int accepted = 0;
        for (int ls = 0; ls < 80; ls++) {
            for (int k = 0; k < n; k++) g[k] = t[k] + s * d[k];   /* g reused as trial point */
            fnew = layer_objective(K, w, beta, g);
            if (fnew <= f + 1e-4 * s * slope) { accepted = 1; break; }
            s *= 0.5;
        }
        if (!accepted) { *converged = 1; break; }      /* no decrease left at rounding level */
        memcpy(t, g, (size_t)n * sizeof *t);
        double rel = (f - fnew) / f;
        f = fnew;
        if (s * dmax <= p->step_tol || (p->tol > 0 && rel <= p->tol)) { *converged = 1; break; }
    }
    return MINIMA_OK;
}

/* Layer-wise minimum-norm scales of w_theta (P), written to scales. */
static minima_status canonical_layer(const minima_model *m, const double *theta,
                                     const minima_sym_canonical_params *p, double *scales,
                                     int *iterations, int *converged)
{
    int K = m->n_layers;
    double *work = minima_alloc((size_t)K * 8, sizeof *work);   /* w, beta, t, Newton (5K) */
    if (!work) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    double *w = work, *beta = work + K, *t = work + 2 * K, *nw = work + 3 * K;
    double mean_log = 0;
    for (int k = 0; k < K; k++) {
        w[k] = sumsq(theta + m->weight_offset[k], minima_model_layer_weights(m, k));
        beta[k] = m->has_bias ? sumsq(theta + m->bias_offset[k], (size_t)m->widths[k + 1]) : 0.0;
        if (!(w[k] > 0) || !isfinite(w[k])) {
            double bad = w[k];
            minima_free(work);
            MINIMA_FAIL(MINIMA_EINVAL, "canonical representative: layer '%s' has squared weight "
                        "norm %g; expected finite and > 0 (an all-zero layer makes the orbit's "
                        "norm infimum unattained)", m->layer_names[k], bad);
        }
        mean_log += 0.5 * log(w[k]) / K;
    }
    /* bias-free closed form: alpha_k = G / ||W_k||, t_k = sum_{j<=k} log alpha_j */
    double cum = 0;
    for (int k = 0; k < K - 1; k++) {
        cum += mean_log - 0.5 * log(w[k]);
        t[k] = cum;
    }
    *iterations = 0;
    *converged = 1;
    minima_status s = MINIMA_OK;
    if (m->has_bias && K > 1) {
        /* start from the better of the bias-free solution and the point itself */
        double *zero = nw;
        for (int k = 0; k < K - 1; k++) zero[k] = 0.0;
        if (layer_objective(K, w, beta, zero) < layer_objective(K, w, beta, t))
            for (int k = 0; k < K - 1; k++) t[k] = 0.0;
        s = layer_newton(K, w, beta, t, p, nw, iterations, converged);
    }
    if (s == MINIMA_OK) {
        size_t u = 0;
        for (int k = 0; k < K - 1; k++) {
            double e = exp(t[k]);
            for (int h = 0; h < m->widths[k + 1]; h++) scales[u++] = e;
        }
    }
    minima_free(work);
    return s;
}

minima_status minima_sym_canonical(const minima_model *m, const double *theta,
                                   const minima_sym_canonical_params *params, double *scales,
                                   minima_sym_canonical_info *info)
{
    if (!m || !scales) MINIMA_FAIL(MINIMA_EINVAL, "minima_sym_canonical: NULL argument");
    MINIMA_TRY(minima_model_require_mlp(m, "the canonical representative of a rescaling orbit"));
    minima_sym_canonical_params p = params ? *params : minima_sym_canonical_default_params();
    if (p.group != MINIMA_SYM_LAYER && p.group != MINIMA_SYM_NEURON)
        MINIMA_FAIL(MINIMA_EINVAL, "canonical representative: unknown group %d", (int)p.group);
    if (p.max_iter < 1 || !(p.step_tol >= 0) || !(p.tol >= 0))
        MINIMA_FAIL(MINIMA_EINVAL, "canonical representative: max_iter %d, step_tol %g, tol %g: "
                    "expected max_iter >= 1 and tolerances >= 0", p.max_iter, p.step_tol, p.tol);
    if (!theta) theta = m->theta;
    size_t P = m->n_params;
    int K = m->n_layers;
    minima_status st = MINIMA_OK;
    int maxw = 1;
    for (int k = 0; k <= K; k++) if (m->widths[k] > maxw) maxw = m->widths[k];
    double *w = minima_alloc(P, sizeof *w);                   /* (P) working point */
    double *colsq = minima_alloc((size_t)maxw, sizeof *colsq); /* (d_k) */
    if (!w || !colsq) { st = minima_error(MINIMA_ENOMEM, "out of memory"); goto done; }
    double norm0 = sqrt(sumsq(theta, P));
    if (!isfinite(norm0)) { st = minima_error(MINIMA_ENONFINITE, "canonical representative: the "
                                              "parameters are not finite"); goto done; }
    minima_sym_canonical_info inf;
    memset(&inf, 0, sizeof inf);
    inf.norm_before = norm0;
    if (K < 2) {
        inf.norm_after = norm0;
        inf.converged = 1;
        if (info) *info = inf;
        goto done;
    }
    int it = 0, conv = 0;
    if ((st = canonical_layer(m, theta, &p, scales, &it, &conv)) != MINIMA_OK) goto done;
    inf.iterations = it;
    inf.converged = conv;
    minima_sym_apply(m, scales, theta, w);
    if (p.group == MINIMA_SYM_NEURON) {
        double f = sumsq(w, P);
        inf.converged = 0;
        for (int sweep = 0; sweep < p.max_iter; sweep++) {
            if (minima_interrupted()) {
                st = minima_error(MINIMA_EINTERRUPTED, "canonical representative: interrupted "
                                  "after %d sweeps", sweep);
                goto done;
            }
            minima_progress("canonical", sweep, p.max_iter);
            double maxlog = 0;
            size_t degenerate = 0;
            for (int k = 0; k < K - 1; k++) {
                int dh = m->widths[k + 1], din = m->widths[k], dnext = m->widths[k + 2];
                double *win = w + m->weight_offset[k];           /* (dh, din) */
                double *bin = m->has_bias ? w + m->bias_offset[k] : NULL;   /* (dh) */
                double *wout = w + m->weight_offset[k + 1];      /* (dnext, dh) */
                double *su = scales + unit_offset(m, k);         /* (dh) */
                for (int h = 0; h < dh; h++) colsq[h] = 0;
                for (int i = 0; i < dnext; i++)
                    for (int h = 0; h < dh; h++) {
                        double v = wout[(size_t)i * (size_t)dh + (size_t)h];
                        colsq[h] += v * v;
                    }
                for (int h = 0; h < dh; h++) {
                    double a = sumsq(win + (size_t)h * (size_t)din, (size_t)din);
                    if (bin) a += bin[h] * bin[h];
                    double b = colsq[h];
                    if (!(a > 0) || !(b > 0)) { degenerate++; colsq[h] = 1.0; continue; }
                    double c = sqrt(sqrt(b / a));
                    colsq[h] = c;
                    double lc = fabs(log(c));
                    if (lc > maxlog) maxlog = lc;
                    for (int j = 0; j < din; j++) win[(size_t)h * (size_t)din + (size_t)j] *= c;
                    if (bin) bin[h] *= c;
                    su[h] *= c;
                }
                for (int i = 0; i < dnext; i++)
                    for (int h = 0; h < dh; h++) wout[(size_t)i * (size_t)dh + (size_t)h] /= colsq[h];
            }
            inf.n_degenerate = degenerate;
            inf.iterations = sweep + 1;
            double fnew = sumsq(w, P);
            double rel = (f - fnew) / f;
            f = fnew;
            if (maxlog <= p.step_tol || (p.tol > 0 && rel <= p.tol)) { inf.converged = 1; break; }
        }
        minima_progress("canonical", p.max_iter, p.max_iter);
    }
    inf.norm_after = sqrt(sumsq(w, P));
    if (info) *info = inf;
done:
    minima_free(w);
    minima_free(colsq);
    return st;
}

/* ---- equivalence ------------------------------------------------------
 *
 * Through the independent reference forward pass (minima/reference.h), not
 * the engine: the check must not share code with what it checks. */

minima_status minima_sym_check_equivalence(const minima_model *a, const minima_model *b,
                                           const minima_dataset *data,
                                           minima_sym_equivalence *res)
{
    if (!a || !b || !data || !res)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_sym_check_equivalence: NULL argument");
    if (a->is_mlp && b->is_mlp) {
        if (a->n_layers != b->n_layers || a->has_bias != b->has_bias ||
            a->activation != b->activation)
            MINIMA_FAIL(MINIMA_ESHAPE, "equivalence check: the models differ in depth (%d vs %d), "
                        "biases (%d vs %d) or activation (%s vs %s)", a->n_layers, b->n_layers,
                        a->has_bias, b->has_bias, minima_activation_name(a->activation),
                        minima_activation_name(b->activation));
        for (int k = 0; k <= a->n_layers; k++)
            if (a->widths[k] != b->widths[k])
                MINIMA_FAIL(MINIMA_ESHAPE, "equivalence check: width d_%d is %d in one model and "
                            "%d in the other", k, a->widths[k], b->widths[k]);
    }
    size_t d0 = minima_model_n_inputs(a), dK = (size_t)minima_model_n_outputs(a);
    if (minima_model_n_inputs(b) != d0 || (size_t)minima_model_n_outputs(b) != dK)
        MINIMA_FAIL(MINIMA_ESHAPE, "equivalence check: the models map %zu inputs to %zu outputs "
                    "and %zu inputs to %d outputs; expected the same shapes", d0, dK,
                    minima_model_n_inputs(b), minima_model_n_outputs(b));
    if ((size_t)data->d != d0)
        MINIMA_FAIL(MINIMA_ESHAPE, "equivalence check: data '%s' has %d features, the model "
                    "expects %zu", data->name ? data->name : "", data->d, d0);
    double *oa = minima_alloc(EQUIV_BATCH * dK, sizeof *oa);   /* (batch, d_K) */
    double *ob = minima_alloc(EQUIV_BATCH * dK, sizeof *ob);   /* (batch, d_K) */
    if (!oa || !ob) {
        minima_free(oa); minima_free(ob);
        MINIMA_FAIL(MINIMA_ENOMEM, "equivalence check: out of memory");
    }
    memset(res, 0, sizeof *res);
    res->n_examples = data->n;
    minima_status st = MINIMA_OK;
    for (size_t s = 0; s < data->n; s += EQUIV_BATCH) {
        size_t nb = data->n - s < EQUIV_BATCH ? data->n - s : EQUIV_BATCH;
        if ((st = minima_reference_forward(a, a->theta, data->x + s * d0, nb, oa)) != MINIMA_OK ||
            (st = minima_reference_forward(b, b->theta, data->x + s * d0, nb, ob)) != MINIMA_OK)
            break;
        for (size_t i = 0; i < nb; i++)
            for (size_t o = 0; o < dK; o++) {
                double va = oa[i * dK + o], diff = fabs(va - ob[i * dK + o]);
                if (!(diff <= res->max_abs_diff)) {   /* NaN propagates */
                    res->max_abs_diff = diff;
                    res->worst_example = s + i;
                }
                if (fabs(va) > res->max_abs_output) res->max_abs_output = fabs(va);
            }
    }
    minima_free(oa); minima_free(ob);
    MINIMA_TRY(st);
    res->rel_diff = res->max_abs_output > 0 ? res->max_abs_diff / res->max_abs_output
                                            : (res->max_abs_diff > 0 ? INFINITY : 0.0);
    return MINIMA_OK;
}
