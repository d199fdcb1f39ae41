/* reparam.c — weight normalization coordinates and changes of input
 * representation (standardization, whitening), with the Hessian pulled back
 * to weight-normalized coordinates and input-gradient norms. The radial maps
 * are in radial.c. See minima/reparam.h. */
#include "minima/reparam.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "engine/net_eval_impl.h"
#include "minima/alloc.h"

/* ---- weight normalization ---------------------------------------------- */

size_t minima_wn_n_params(const minima_model *m)
{
    size_t n = m->n_params;
    for (int k = 1; k <= m->n_layers; k++) n += (size_t)m->widths[k];
    return n;
}

/* Offset of layer k's V block in xi (then s: + n_k, then b: + n_k + d_k). */
static size_t wn_offset(const minima_model *m, int k)
{
    size_t off = 0;
    for (int j = 0; j < k; j++)
        off += minima_model_layer_params(m, j) + (size_t)m->widths[j + 1];
    return off;
}

static double norm(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i] * x[i];
    return sqrt(s);
}

static double dot(const double *x, const double *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i] * y[i];
    return s;
}

minima_status minima_wn_from_theta(const minima_model *m, const double *theta, double v_scale,
                                   double *xi)
{
    if (!m || !xi) MINIMA_FAIL(MINIMA_EINVAL, "minima_wn_from_theta: NULL argument");
    MINIMA_TRY(minima_model_require_mlp(m, "weight normalization"));
    if (!(v_scale > 0) || !isfinite(v_scale))
        MINIMA_FAIL(MINIMA_EINVAL, "weight normalization: v scale %g; expected a finite number > 0", v_scale);
    if (!theta) theta = m->theta;
    for (int k = 0; k < m->n_layers; k++) {
        size_t dout = (size_t)m->widths[k + 1], din = (size_t)m->widths[k];
        const double *w = theta + m->weight_offset[k];   /* (dout, din) */
        double *v = xi + wn_offset(m, k);                 /* (dout, din) */
        double *s = v + dout * din;                       /* (dout) */
        for (size_t i = 0; i < dout; i++) {
            double nr = norm(w + i * din, din);
            if (!(nr > 0) || !isfinite(nr))
                MINIMA_FAIL(MINIMA_EINVAL, "weight normalization: row %zu of layer '%s' has norm "
                            "%g; a direction needs a finite non-zero row", i, m->layer_names[k], nr);
            for (size_t j = 0; j < din; j++) v[i * din + j] = v_scale * (w[i * din + j] / nr);
            s[i] = nr;
        }
        if (m->has_bias) memcpy(s + dout, theta + m->bias_offset[k], dout * sizeof *s);
    }
    return MINIMA_OK;
}

minima_status minima_wn_to_theta(const minima_model *m, const double *xi, double *theta)
{
    if (!m || !xi || !theta) MINIMA_FAIL(MINIMA_EINVAL, "minima_wn_to_theta: NULL argument");
    MINIMA_TRY(minima_model_require_mlp(m, "weight normalization"));
    for (int k = 0; k < m->n_layers; k++) {
        size_t dout = (size_t)m->widths[k + 1], din = (size_t)m->widths[k];
        const double *v = xi + wn_offset(m, k), *s = v + dout * din;
        double *w = theta + m->weight_offset[k];
        for (size_t i = 0; i < dout; i++) {
            double nr = norm(v + i * din, din);
            if (!(nr > 0) || !isfinite(nr))
                MINIMA_FAIL(MINIMA_EINVAL, "weight normalization: v row %zu of layer '%s' has "
                            "norm %g; expected finite and non-zero", i, m->layer_names[k], nr);
            for (size_t j = 0; j < din; j++) w[i * din + j] = s[i] * (v[i * din + j] / nr);
        }
        if (m->has_bias) memcpy(theta + m->bias_offset[k], s + dout, dout * sizeof *theta);
    }
    return MINIMA_OK;
}

void minima_wn_jac_apply(const minima_model *m, const double *xi, const double *dxi, double *dtheta)
{
    for (int k = 0; k < m->n_layers; k++) {
        size_t dout = (size_t)m->widths[k + 1], din = (size_t)m->widths[k], off = wn_offset(m, k);
        const double *v = xi + off, *s = v + dout * din;
        const double *dv = dxi + off, *ds = dv + dout * din;
        double *dw = dtheta + m->weight_offset[k];
        for (size_t i = 0; i < dout; i++) {
            const double *vi = v + i * din, *dvi = dv + i * din;
            double nr = norm(vi, din);
            double proj = dot(vi, dvi, din) / nr;        /* vhat . dv */
            double c = s[i] / nr;
            for (size_t j = 0; j < din; j++) {
                double vh = vi[j] / nr;
                dw[i * din + j] = ds[i] * vh + c * (dvi[j] - vh * proj);
            }
        }
        if (m->has_bias) memcpy(dtheta + m->bias_offset[k], ds + dout, dout * sizeof *dtheta);
    }
}

void minima_wn_jac_t_apply(const minima_model *m, const double *xi, const double *dtheta, double *dxi)
{
    for (int k = 0; k < m->n_layers; k++) {
        size_t dout = (size_t)m->widths[k + 1], din = (size_t)m->widths[k], off = wn_offset(m, k);
        const double *v = xi + off, *s = v + dout * din;
        double *dv = dxi + off, *ds = dv + dout * din;
        const double *dw = dtheta + m->weight_offset[k];
        for (size_t i = 0; i < dout; i++) {
            const double *vi = v + i * din, *dwi = dw + i * din;
            double nr = norm(vi, din);
            double proj = dot(vi, dwi, din) / nr;        /* vhat . dw */
            double c = s[i] / nr;
            ds[i] = proj;
            for (size_t j = 0; j < din; j++) dv[i * din + j] = c * (dwi[j] - (vi[j] / nr) * proj);
        }
        if (m->has_bias) memcpy(ds + dout, dtheta + m->bias_offset[k], dout * sizeof *ds);
    }
}

typedef struct {
    const minima_model *model;   /* borrowed */
    double *xi;                  /* (n_xi) */
    double *t1, *t2;             /* (P) */
    minima_linop *parent;        /* borrowed */
} wn_ctx;

static void wn_ctx_free(void *ctx)
{
    wn_ctx *c = ctx;
    if (!c) return;
    minima_free(c->xi);
    minima_free(c->t1);
    minima_free(c->t2);
    minima_free(c);
}

static minima_status wn_apply(void *ctx, const double *x, double *y)
{
    wn_ctx *c = ctx;
    minima_wn_jac_apply(c->model, c->xi, x, c->t1);
    MINIMA_TRY(minima_linop_apply(c->parent, c->t1, c->t2));
    minima_wn_jac_t_apply(c->model, c->xi, c->t2, y);
    return MINIMA_OK;
}

minima_status minima_wn_hessian(minima_linop **out, minima_linop *hessian, const minima_model *m,
                                const double *xi)
{
    if (!out || !hessian || !m || !xi) MINIMA_FAIL(MINIMA_EINVAL, "minima_wn_hessian: NULL argument");
    MINIMA_TRY(minima_model_require_mlp(m, "the weight-normalized Hessian"));
    *out = NULL;
    if (hessian->n != m->n_params)
        MINIMA_FAIL(MINIMA_ESHAPE, "weight-normalized Hessian: operator of dimension %zu for a "
                    "model of %zu parameters", hessian->n, m->n_params);
    size_t n = minima_wn_n_params(m), P = m->n_params;
    for (int k = 0; k < m->n_layers; k++) {
        size_t dout = (size_t)m->widths[k + 1], din = (size_t)m->widths[k];
        const double *v = xi + wn_offset(m, k);
        for (size_t i = 0; i < dout; i++)
            if (!(norm(v + i * din, din) > 0))
                MINIMA_FAIL(MINIMA_EINVAL, "weight normalization: v row %zu of layer '%s' is zero",
                            i, m->layer_names[k]);
    }
    wn_ctx *c = minima_calloc(1, sizeof *c);
    if (!c) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    c->model = m;
    c->parent = hessian;
    c->xi = minima_alloc(n, sizeof *c->xi);
    c->t1 = minima_alloc(P, sizeof *c->t1);
    c->t2 = minima_alloc(P, sizeof *c->t2);
    if (!c->xi || !c->t1 || !c->t2) {
        wn_ctx_free(c);
        MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    }
    memcpy(c->xi, xi, n * sizeof *xi);
    minima_status s = minima_linop_create(out, n, wn_apply, c, wn_ctx_free);
    if (s != MINIMA_OK) wn_ctx_free(c);
    return s;
}

minima_status minima_wn_v_index(const minima_model *m, size_t **index, size_t *n_index)
{
    if (!m || !index || !n_index) MINIMA_FAIL(MINIMA_EINVAL, "minima_wn_v_index: NULL argument");
    MINIMA_TRY(minima_model_require_mlp(m, "weight normalization"));
    size_t nv = 0;
    for (int k = 0; k < m->n_layers; k++) nv += minima_model_layer_weights(m, k);
    size_t *idx = minima_alloc(nv, sizeof *idx);
    if (!idx) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    size_t u = 0;
    for (int k = 0; k < m->n_layers; k++) {
        size_t off = wn_offset(m, k), nw = minima_model_layer_weights(m, k);
        for (size_t i = 0; i < nw; i++) idx[u++] = off + i;
    }
    *index = idx;
    *n_index = nv;
    return MINIMA_OK;
}

/* ---- input representation ---------------------------------------------- */

minima_input_params minima_input_default_params(void)
{
    minima_input_params p;
    p.method = MINIMA_INPUT_STANDARDIZE;
    p.ridge = 1e-8;
    return p;
}

const char *minima_input_method_name(minima_input_method m)
{
    switch (m) {
    case MINIMA_INPUT_STANDARDIZE: return "standardize";
    case MINIMA_INPUT_WHITEN_ZCA: return "zca";
    case MINIMA_INPUT_WHITEN_PCA: return "pca";
    }
    return "unknown";
}

minima_status minima_input_method_parse(const char *s, minima_input_method *m)
{
    if (s && !strcmp(s, "standardize")) { *m = MINIMA_INPUT_STANDARDIZE; return MINIMA_OK; }
    if (s && (!strcmp(s, "zca") || !strcmp(s, "whiten"))) { *m = MINIMA_INPUT_WHITEN_ZCA; return MINIMA_OK; }
    if (s && !strcmp(s, "pca")) { *m = MINIMA_INPUT_WHITEN_PCA; return MINIMA_OK; }
    MINIMA_FAIL(MINIMA_EINVAL, "input method '%s': expected standardize, whiten (= zca), zca or pca",
                s ? s : "(null)");
}

void minima_input_transform_free(minima_input_transform *t)
{
    if (!t) return;
    minima_free(t->mu);
    minima_free(t->a);
    minima_free(t->a_inv);
    minima_free(t);
}

minima_status minima_input_fit(const minima_dataset *data, const minima_input_params *params,
                               minima_input_transform **out)
{
    if (!data || !out || !data->x) MINIMA_FAIL(MINIMA_EINVAL, "minima_input_fit: NULL argument");
    *out = NULL;
    minima_input_params p = params ? *params : minima_input_default_params();
    if (!(p.ridge >= 0) || !isfinite(p.ridge))
        MINIMA_FAIL(MINIMA_EINVAL, "input transform: ridge %g; expected a finite number >= 0", p.ridge);
    if (p.method != MINIMA_INPUT_STANDARDIZE && p.method != MINIMA_INPUT_WHITEN_ZCA &&
        p.method != MINIMA_INPUT_WHITEN_PCA)
        MINIMA_FAIL(MINIMA_EINVAL, "input transform: unknown method %d", (int)p.method);
    if (data->n < 1 || data->d < 1)
        MINIMA_FAIL(MINIMA_EINVAL, "input transform: data '%s' has %zu examples of %d features",
                    data->name ? data->name : "", data->n, data->d);
    size_t N = data->n, d = (size_t)data->d;
    minima_status st = MINIMA_OK;
    double *xc = NULL, *cov = NULL, *lam = NULL, *qs = NULL;
    minima_input_transform *t = minima_calloc(1, sizeof *t);
    if (!t) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    t->d = data->d;
    t->method = p.method;
    t->mu = minima_calloc(d, sizeof *t->mu);
    t->a = minima_calloc(d * d, sizeof *t->a);
    t->a_inv = minima_calloc(d * d, sizeof *t->a_inv);
    if (!t->mu || !t->a || !t->a_inv) goto nomem;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < d; j++) t->mu[j] += data->x[i * d + j];
    for (size_t j = 0; j < d; j++) t->mu[j] /= (double)N;
    if (p.method == MINIMA_INPUT_STANDARDIZE) {
        for (size_t j = 0; j < d; j++) {
            double v = 0;
            for (size_t i = 0; i < N; i++) {
                double c = data->x[i * d + j] - t->mu[j];
                v += c * c;
            }
            v = v / (double)N + p.ridge;
            if (!(v > 0) || !isfinite(v)) {
                st = minima_error(MINIMA_EINVAL, "standardization: feature %zu of '%s' has "
                                  "variance %g + ridge %g; a constant feature needs ridge > 0", j,
                                  data->name ? data->name : "", v - p.ridge, p.ridge);
                goto fail;
            }
            t->a[j * d + j] = sqrt(v);
            t->a_inv[j * d + j] = 1.0 / sqrt(v);
        }
        *out = t;
        return MINIMA_OK;
    }
    xc = minima_alloc(N * d, sizeof *xc);   /* (N, d) centred */
    cov = minima_alloc(d * d, sizeof *cov);  /* (d, d) */
    lam = minima_alloc(d, sizeof *lam);
    qs = minima_alloc(d * d, sizeof *qs);    /* (d, d) scaled eigenvectors */
    if (!xc || !cov || !lam || !qs) goto nomem;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < d; j++) xc[i * d + j] = data->x[i * d + j] - t->mu[j];
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)N, 1.0 / (double)N, xc,
                (int)d, 0.0, cov, (int)d);
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)d, cov, (lapack_int)d, lam);
    if (info != 0) {
        st = minima_error(info < 0 ? MINIMA_EINVAL : MINIMA_ENOCONV, "whitening: LAPACKE_dsyevd "
                          "on the %zu x %zu covariance returned %d", d, d, (int)info);
        goto fail;
    }
    /* cov now holds Q (column j = eigenvector j), lam ascending */
    for (size_t j = 0; j < d; j++) {
        double l = lam[j] + p.ridge;
        if (!(l > 0)) {
            st = minima_error(MINIMA_EINVAL, "whitening: covariance eigenvalue %zu is %g, plus "
                              "ridge %g is not > 0; the data is rank-deficient: raise the ridge",
                              j, lam[j], p.ridge);
            goto fail;
        }
        lam[j] = sqrt(l);
    }
    if (p.method == MINIMA_INPUT_WHITEN_PCA) {
        /* A = Q Lambda^{1/2}, A^{-1} = Lambda^{-1/2} Q^T */
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++) {
                t->a[i * d + j] = cov[i * d + j] * lam[j];
                t->a_inv[j * d + i] = cov[i * d + j] / lam[j];
            }
    } else {
        /* A = Q Lambda^{1/2} Q^T, A^{-1} = Q Lambda^{-1/2} Q^T */
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++) qs[i * d + j] = cov[i * d + j] * lam[j];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d, (int)d, (int)d, 1.0, qs,
                    (int)d, cov, (int)d, 0.0, t->a, (int)d);
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j < d; j++) qs[i * d + j] = cov[i * d + j] / lam[j];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)d, (int)d, (int)d, 1.0, qs,
                    (int)d, cov, (int)d, 0.0, t->a_inv, (int)d);
    }
    minima_free(xc);
    minima_free(cov);
    minima_free(lam);
    minima_free(qs);
    *out = t;
    return MINIMA_OK;
nomem:
    st = minima_error(MINIMA_ENOMEM, "out of memory fitting an input transform of %zu features", d);
fail:
    minima_free(xc);
    minima_free(cov);
    minima_free(lam);
    minima_free(qs);
    minima_input_transform_free(t);
    return st;
}

minima_status minima_input_apply(const minima_input_transform *t, const double *x, size_t n,
                                 double *u)
{
    if (!t || (n && (!x || !u))) MINIMA_FAIL(MINIMA_EINVAL, "minima_input_apply: NULL argument");
    size_t d = (size_t)t->d;
    if (t->method == MINIMA_INPUT_STANDARDIZE) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++)
                u[i * d + j] = (x[i * d + j] - t->mu[j]) * t->a_inv[j * d + j];
        return MINIMA_OK;
    }
    /* centre a block of rows, then U = Xc A^{-T} with one GEMM per block */
    enum { BLOCK = 256 };
    double *xc = minima_alloc(BLOCK * d, sizeof *xc);   /* (BLOCK, d) */
    if (!xc) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    for (size_t s0 = 0; s0 < n; s0 += BLOCK) {
        size_t nb = n - s0 < BLOCK ? n - s0 : BLOCK;
        for (size_t i = 0; i < nb; i++)
            for (size_t j = 0; j < d; j++) xc[i * d + j] = x[(s0 + i) * d + j] - t->mu[j];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)d, (int)d, 1.0, xc,
                    (int)d, t->a_inv, (int)d, 0.0, u + s0 * d, (int)d);
    }
    minima_free(xc);
    return MINIMA_OK;
}

minima_status minima_input_fold(const minima_input_transform *t, const minima_model *m,
                                int add_bias, minima_model **out)
{
    if (!t || !m || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_input_fold: NULL argument");
    MINIMA_TRY(minima_model_require_mlp(m, "folding an input transform into the first layer"));
    *out = NULL;
    if (m->widths[0] != t->d)
        MINIMA_FAIL(MINIMA_ESHAPE, "input fold: the transform has %d features, layer '%s' expects %d",
                    t->d, m->layer_names[0], m->widths[0]);
    size_t d0 = (size_t)m->widths[0], d1 = (size_t)m->widths[1];
    const double *w1 = minima_model_weight(m, 0);   /* (d1, d0) */
    double *shift = minima_alloc(d1, sizeof *shift); /* (d1) W_1 mu */
    if (!shift) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    int nonzero = 0;
    for (size_t i = 0; i < d1; i++) {
        double s = 0;
        for (size_t j = 0; j < d0; j++) s += w1[i * d0 + j] * t->mu[j];
        shift[i] = s;
        nonzero |= s != 0;
    }
    minima_model *r = NULL;
    minima_status st = MINIMA_OK;
    if (!m->has_bias && nonzero && !add_bias) {
        st = minima_error(MINIMA_EINVAL, "input fold: layer '%s' has no bias, so it cannot absorb "
                          "the data mean (W_1 mu != 0) and the function would change; add biases "
                          "(a bias-free model gets zero biases on every layer) or centre nothing",
                          m->layer_names[0]);
        goto done;
    }
    if (m->has_bias || !nonzero) {
        if ((st = minima_model_copy(m, &r)) != MINIMA_OK) goto done;
    } else {
        if ((st = minima_model_create(&r, m->n_layers, m->widths, 1, m->activation)) != MINIMA_OK)
            goto done;
        r->leaky_slope = m->leaky_slope;
        r->loss = m->loss;
        for (int k = 0; k < m->n_layers; k++) {
            char *name = minima_strdup(m->layer_names[k]);
            if (!name) { st = minima_error(MINIMA_ENOMEM, "out of memory"); goto done; }
            minima_free(r->layer_names[k]);
            r->layer_names[k] = name;
            memcpy(minima_model_weight(r, k), minima_model_weight(m, k),
                   minima_model_layer_weights(m, k) * sizeof(double));
        }
        for (int i = 0; i < m->n_meta; i++)
            if ((st = minima_model_set_meta(r, m->meta[i].key, m->meta[i].value)) != MINIMA_OK) goto done;
    }
    /* W_1' = W_1 A */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d1, (int)d0, (int)d0, 1.0, w1,
                (int)d0, t->a, (int)d0, 0.0, minima_model_weight(r, 0), (int)d0);
    if (r->has_bias) {
        double *b1 = minima_model_bias(r, 0);
        for (size_t i = 0; i < d1; i++) b1[i] += shift[i];
    }
done:
    minima_free(shift);
    if (st != MINIMA_OK) { minima_model_free(r); return st; }
    *out = r;
    return MINIMA_OK;
}

/* phi'(Z) from A = phi(Z), as the engine recovers it: ReLU and leaky ReLU
 * have A > 0 exactly where Z > 0 (ReLU'(0) = 0), tanh has phi' = 1 - A^2. */
static double act_deriv_from_output(const minima_model *m, double a)
{
    switch (m->activation) {
    case MINIMA_ACT_RELU: return a > 0 ? 1.0 : 0.0;
    case MINIMA_ACT_LEAKY_RELU: return a > 0 ? 1.0 : m->leaky_slope;
    case MINIMA_ACT_TANH: return 1 - a * a;
    }
    return 0;
}

#define GRAD_BATCH 256   /* examples whose activations the engine computes at once */

minima_status minima_input_gradient_norms(const minima_model *m, const double *x, size_t n,
                                          double *norms)
{
    if (!m || !x || !norms) MINIMA_FAIL(MINIMA_EINVAL, "minima_input_gradient_norms: NULL argument");
    MINIMA_TRY(minima_model_require_mlp(m, "the input-gradient norm"));
    int K = m->n_layers;
    size_t maxw = 1, dK = (size_t)m->widths[K], rows = n < GRAD_BATCH ? n : GRAD_BATCH;
    for (int k = 0; k <= K; k++) if ((size_t)m->widths[k] > maxw) maxw = (size_t)m->widths[k];
    minima_eval_layers ev;
    MINIMA_TRY(minima_eval_layers_init(&ev, m, rows, "the input-gradient norm"));
    double **act = minima_calloc((size_t)K + 1, sizeof *act);   /* act[k] (rows, d_k), k >= 1 */
    double *jm = minima_alloc(2 * dK * maxw, sizeof *jm);       /* two (d_K, d_k) Jacobians */
    minima_status st = MINIMA_OK;
    if (!act || !jm) goto oom;
    for (int k = 1; k <= K; k++)
        if (!(act[k] = minima_alloc(rows * (size_t)m->widths[k], sizeof **act))) goto oom;
    for (size_t s = 0; s < n; s += rows) {
        size_t nb = n - s < rows ? n - s : rows;
        /* forward by the engine: the hidden activations A_k of the batch */
        if ((st = minima_eval_layers_run(&ev, m->theta, x + s * (size_t)m->widths[0], nb, act)))
            goto done;
        for (size_t e = 0; e < nb; e++) {
            /* backward: J = W_K D_{K-1} W_{K-1} ... D_1 W_1, D_k = diag phi'(Z_k) */
            double *cur = jm, *nxt = jm + dK * maxw;
            size_t cols = (size_t)m->widths[K - 1];
            memcpy(cur, minima_model_weight(m, K - 1), dK * cols * sizeof *cur);
            for (int k = K - 2; k >= 0; k--) {
                const double *ak = act[k + 1] + e * (size_t)m->widths[k + 1];
                for (size_t r = 0; r < dK; r++)
                    for (size_t c = 0; c < cols; c++)
                        cur[r * cols + c] *= act_deriv_from_output(m, ak[c]);
                size_t din = (size_t)m->widths[k];
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)dK, (int)din,
                            (int)cols, 1.0, cur, (int)cols, minima_model_weight(m, k), (int)din,
                            0.0, nxt, (int)din);
                double *tmp = cur; cur = nxt; nxt = tmp;
                cols = din;
            }
            norms[s + e] = norm(cur, dK * cols);
        }
    }
    goto done;
oom:
    st = minima_error(MINIMA_ENOMEM, "input-gradient norms: out of memory");
done:
    if (act)
        for (int k = 1; k <= K; k++) minima_free(act[k]);
    minima_free(act);
    minima_free(jm);
    minima_eval_layers_free(&ev);
    return st;
}
