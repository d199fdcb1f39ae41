/* directions.c — directions for loss-landscape slices: plain random,
 * filter-normalized (Li et al. 2018), top Hessian eigenvectors, and the
 * straight line between two models. Contract: minima/landscape.h. */
#include <math.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/landscape.h"
#include "minima/linop.h"
#include "minima/rng.h"

double minima_dir_norm(const double *x, size_t n)
{
    /* Scaled sum of squares (as LAPACK's dnrm2): no overflow for huge
     * entries, no underflow for tiny ones. */
    double scale = 0, ssq = 1;
    for (size_t i = 0; i < n; i++) {
        double a = fabs(x[i]);
        if (a == 0) continue;
        if (scale < a) {
            ssq = 1 + ssq * (scale / a) * (scale / a);
            scale = a;
        } else {
            ssq += (a / scale) * (a / scale);
        }
    }
    return scale * sqrt(ssq);
}

static minima_status check_finite(const double *x, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            MINIMA_FAIL(MINIMA_ENONFINITE, "%s: entry %zu is %s, expected a finite number", what, i,
                        isnan(x[i]) ? "NaN" : "Inf");
    return MINIMA_OK;
}

minima_status minima_dir_random(size_t n_params, uint64_t seed, double norm, double *d)
{
    if (!d || n_params == 0) MINIMA_FAIL(MINIMA_EINVAL, "minima_dir_random: NULL direction or P = 0");
    if (!isfinite(norm) || !(norm > 0))
        MINIMA_FAIL(MINIMA_EINVAL, "minima_dir_random: norm = %g, expected a finite number > 0", norm);
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    minima_rng_fill_normal(&rng, d, n_params);
    double nd = minima_dir_norm(d, n_params);
    if (!(nd > 0)) MINIMA_FAIL(MINIMA_EFAILED, "minima_dir_random: the Gaussian draw is zero");
    double f = norm / nd;
    for (size_t i = 0; i < n_params; i++) d[i] *= f;
    return MINIMA_OK;
}

minima_status minima_dir_filter_normalize(const minima_model *m, const double *theta,
                                          minima_filter_bias bias, double *d)
{
    if (!m || !d) MINIMA_FAIL(MINIMA_EINVAL, "minima_dir_filter_normalize: NULL argument");
    if (bias != MINIMA_FILTER_BIAS_ZERO && bias != MINIMA_FILTER_BIAS_COPY &&
        bias != MINIMA_FILTER_BIAS_ROW)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_dir_filter_normalize: bias mode %d, expected zero, "
                    "copy or row", (int)bias);
    if (!theta) theta = m->theta;
    MINIMA_TRY(check_finite(theta, m->n_params, "filter normalization: the model's parameters"));
    MINIMA_TRY(check_finite(d, m->n_params, "filter normalization: the direction"));
    /* Every node with a weight (linear [out, in], conv2d [out, in/groups,
     * kh, kw]) in node order: a filter is one output unit or channel, the
     * `out` rows of its weight, each contiguous, with that unit's bias.
     * For an MLP these are its layers. */
    for (int node = 1; node < m->n_nodes; node++) {
        const minima_node *nd = &m->nodes[node];
        if (nd->n_weight == 0 || nd->out < 1) continue;
        size_t rows = (size_t)nd->out, cols = nd->n_weight / rows;
        const double *tw = theta + nd->weight_offset;                    /* (rows, cols) */
        double *dw = d + nd->weight_offset;                              /* (rows, cols) */
        const double *tb = nd->n_bias ? theta + nd->bias_offset : NULL;  /* (rows) */
        double *db = nd->n_bias ? d + nd->bias_offset : NULL;            /* (rows) */
        int in_row = db && bias == MINIMA_FILTER_BIAS_ROW;
        for (size_t i = 0; i < rows; i++) {
            /* Norms of the row (and its bias, when it belongs to the row),
             * without overflow: norm of (row norm, |bias|). */
            double tn = minima_dir_norm(tw + i * cols, cols);
            double dn = minima_dir_norm(dw + i * cols, cols);
            if (in_row) {
                double tpair[2] = {tn, tb[i]}, dpair[2] = {dn, db[i]};
                tn = minima_dir_norm(tpair, 2);
                dn = minima_dir_norm(dpair, 2);
            }
            double f = dn > 0 ? tn / dn : 0.0;
            for (size_t j = 0; j < cols; j++) dw[i * cols + j] *= f;
            if (in_row) db[i] *= f;
        }
        if (db && bias == MINIMA_FILTER_BIAS_ZERO) memset(db, 0, rows * sizeof *db);
        if (db && bias == MINIMA_FILTER_BIAS_COPY) memcpy(db, tb, rows * sizeof *db);
    }
    return MINIMA_OK;
}

minima_status minima_dir_filter(const minima_model *m, const double *theta, uint64_t seed,
                                minima_filter_bias bias, double *d)
{
    if (!m || !d) MINIMA_FAIL(MINIMA_EINVAL, "minima_dir_filter: NULL argument");
    MINIMA_TRY(minima_dir_random(m->n_params, seed, 1.0, d));
    return minima_dir_filter_normalize(m, theta, bias, d);
}

minima_status minima_dir_eigen(minima_net *net, int k, const minima_eigs_params *params,
                               double *vectors, double *eigenvalues)
{
    if (!net || !vectors) MINIMA_FAIL(MINIMA_EINVAL, "minima_dir_eigen: NULL argument");
    size_t P = minima_net_n_params(net);
    if (k < 1 || (size_t)k > P)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_dir_eigen: k = %d eigenvectors wanted, expected 1..%zu",
                    k, P);
    minima_eigs_params ep = params ? *params : minima_eigs_default_params();
    ep.k_top = k;
    ep.k_bottom = 0;
    minima_linop *op = NULL;
    minima_eigs_result res;
    memset(&res, 0, sizeof res);
    minima_status s = minima_linop_hessian(&op, net);
    if (s != MINIMA_OK) goto fail;
    s = minima_eigs(op, &ep, &res);
    if (s != MINIMA_OK) goto fail;
    if (res.n_top < k) {
        s = minima_error(MINIMA_ENOCONV, "minima_dir_eigen: Lanczos returned %d of the %d "
                         "eigenvectors wanted", res.n_top, k);
        goto fail;
    }
    memcpy(vectors, res.top_vectors, (size_t)k * P * sizeof *vectors);
    if (eigenvalues) memcpy(eigenvalues, res.top, (size_t)k * sizeof *eigenvalues);
fail:
    minima_eigs_result_free(&res);
    minima_linop_free(op);
    return s;
}

minima_status minima_dir_interpolation(const minima_model *a, const minima_model *b, double *d)
{
    if (!a || !b || !d) MINIMA_FAIL(MINIMA_EINVAL, "minima_dir_interpolation: NULL argument");
    if (!a->is_mlp || !b->is_mlp) {
        /* graphs: the same nodes, settings and shapes, i.e. the same
         * architecture string, so that theta means the same in both */
        char fa[1024], fb[1024];
        minima_arch_format(a, fa, sizeof fa);
        minima_arch_format(b, fb, sizeof fb);
        if (strcmp(fa, fb) != 0 || a->n_params != b->n_params)
            MINIMA_FAIL(MINIMA_ESHAPE, "interpolation between models of different "
                        "architectures: '%s' (%zu parameters) and '%s' (%zu parameters); "
                        "expected the same", fa, a->n_params, fb, b->n_params);
    } else if (a->n_layers != b->n_layers)
        MINIMA_FAIL(MINIMA_ESHAPE, "interpolation between models of different depth: %d layers "
                    "and %d layers", a->n_layers, b->n_layers);
    for (int k = 0; a->is_mlp && b->is_mlp && k <= a->n_layers; k++)
        if (a->widths[k] != b->widths[k])
            MINIMA_FAIL(MINIMA_ESHAPE, "interpolation between models of different shapes: width "
                        "d_%d is %d in the first model and %d in the second", k, a->widths[k],
                        b->widths[k]);
    if (a->has_bias != b->has_bias)
        MINIMA_FAIL(MINIMA_ESHAPE, "interpolation between a model %s biases and one %s",
                    a->has_bias ? "with" : "without", b->has_bias ? "with" : "without");
    if (a->activation != b->activation)
        MINIMA_FAIL(MINIMA_ESHAPE, "interpolation between models of different activations: %s "
                    "and %s", minima_activation_name(a->activation),
                    minima_activation_name(b->activation));
    MINIMA_ASSERT(a->n_params == b->n_params);
    MINIMA_TRY(check_finite(a->theta, a->n_params, "interpolation: the first model"));
    MINIMA_TRY(check_finite(b->theta, b->n_params, "interpolation: the second model"));
    for (size_t i = 0; i < a->n_params; i++) d[i] = b->theta[i] - a->theta[i];
    return MINIMA_OK;
}

minima_dir_params minima_dir_default_params(void)
{
    minima_dir_params p;
    memset(&p, 0, sizeof p);
    p.kind = MINIMA_DIR_FILTER;
    p.bias = MINIMA_FILTER_BIAS_ZERO;
    p.dims = 1;
    p.eig_tol = 1e-6;
    p.eig_max_products = 10000;
    return p;
}

const char *minima_dir_kind_name(minima_dir_kind kind)
{
    switch (kind) {
    case MINIMA_DIR_RANDOM: return "random";
    case MINIMA_DIR_FILTER: return "filter";
    case MINIMA_DIR_EIGEN: return "eigen";
    }
    return "unknown";
}

minima_status minima_dir_kind_parse(const char *s, minima_dir_kind *kind)
{
    if (!s || !kind) MINIMA_FAIL(MINIMA_EINVAL, "direction kind: NULL argument");
    if (!strcmp(s, "random")) *kind = MINIMA_DIR_RANDOM;
    else if (!strcmp(s, "filter")) *kind = MINIMA_DIR_FILTER;
    else if (!strcmp(s, "eigen")) *kind = MINIMA_DIR_EIGEN;
    else MINIMA_FAIL(MINIMA_EINVAL, "direction kind '%s': expected random, filter or eigen", s);
    return MINIMA_OK;
}

/* Eigenvectors at theta: the anchor moves there for the solve and back. */
static minima_status eigen_at(minima_net *net, const double *theta, const minima_dir_params *p,
                              double *d, double *eigenvalues)
{
    size_t P = minima_net_n_params(net);
    minima_eigs_params ep = minima_eigs_default_params();
    ep.tol = p->eig_tol;
    if (p->eig_max_products) ep.max_products = p->eig_max_products;
    ep.seed = p->seed;
    const double *anchor = minima_net_point(net);
    if (theta == anchor || !memcmp(theta, anchor, P * sizeof *theta))
        return minima_dir_eigen(net, p->dims, &ep, d, eigenvalues);
    double *saved = minima_alloc(P, sizeof *saved);   /* (P) the anchor to restore */
    if (!saved) MINIMA_FAIL(MINIMA_ENOMEM, "eigen directions: out of memory");
    memcpy(saved, anchor, P * sizeof *saved);
    minima_status s = minima_net_set_point(net, theta);
    if (s == MINIMA_OK) s = minima_dir_eigen(net, p->dims, &ep, d, eigenvalues);
    minima_status s2 = minima_net_set_point(net, saved);
    minima_free(saved);
    return s != MINIMA_OK ? s : s2;
}

minima_status minima_dir_make(minima_net *net, const double *theta, const minima_dir_params *params,
                              double *d, double *eigenvalues)
{
    if (!net || !d) MINIMA_FAIL(MINIMA_EINVAL, "minima_dir_make: NULL argument");
    minima_dir_params p = params ? *params : minima_dir_default_params();
    if (p.dims != 1 && p.dims != 2)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_dir_make: %d directions, expected 1 or 2", p.dims);
    if (!(p.eig_tol > 0 && p.eig_tol < 1))
        MINIMA_FAIL(MINIMA_EINVAL, "minima_dir_make: eig_tol = %g, expected a number in (0, 1)",
                    p.eig_tol);
    const minima_model *m = minima_net_model(net);
    size_t P = m->n_params;
    if (!theta) theta = minima_net_point(net);
    MINIMA_TRY(check_finite(theta, P, "directions: the point theta"));
    switch (p.kind) {
    case MINIMA_DIR_RANDOM: {
        double norm = minima_dir_norm(theta, P);
        if (!(norm > 0)) norm = 1.0;   /* theta = 0: unit directions */
        for (int i = 0; i < p.dims; i++)
            MINIMA_TRY(minima_dir_random(P, p.seed + (uint64_t)i, norm, d + (size_t)i * P));
        return MINIMA_OK;
    }
    case MINIMA_DIR_FILTER:
        for (int i = 0; i < p.dims; i++)
            MINIMA_TRY(minima_dir_filter(m, theta, p.seed + (uint64_t)i, p.bias, d + (size_t)i * P));
        return MINIMA_OK;
    case MINIMA_DIR_EIGEN:
        return eigen_at(net, theta, &p, d, eigenvalues);
    }
    MINIMA_FAIL(MINIMA_EINVAL, "minima_dir_make: direction kind %d, expected random, filter or "
                "eigen", (int)p.kind);
}
