/* linop.c — matrix-free symmetric operators: the generic wrapper, dense
 * matrices, the net's Hessian and Gauss-Newton products, restrictions to
 * parameter subsets and diagonal scalings (see minima/linop.h). */
#include "minima/linop.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "minima/alloc.h"

minima_status minima_linop_create(minima_linop **out, size_t n, minima_linop_apply_fn apply,
                                  void *ctx, void (*destroy)(void *ctx))
{
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_create: out is NULL");
    *out = NULL;
    if (!apply) MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_create: apply is NULL");
    if (n == 0) MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_create: dimension must be >= 1, got 0");
    minima_linop *op = minima_calloc(1, sizeof *op);
    if (!op) MINIMA_FAIL(MINIMA_ENOMEM, "minima_linop_create: out of memory for the operator");
    op->n = n;
    op->apply = apply;
    op->ctx = ctx;
    op->destroy = destroy;
    *out = op;
    return MINIMA_OK;
}

void minima_linop_free(minima_linop *op)
{
    if (!op) return;
    if (op->destroy) op->destroy(op->ctx);
    minima_free(op);
}

minima_status minima_linop_apply(minima_linop *op, const double *x, double *y)
{
    op->n_applies++;
    return op->apply(op->ctx, x, y);
}

/* Builds an operator around a ctx allocated by the caller of this helper,
 * freeing ctx through destroy if the operator itself cannot be allocated. */
static minima_status wrap(minima_linop **out, size_t n, minima_linop_apply_fn apply,
                          void *ctx, void (*destroy)(void *ctx))
{
    minima_status st = minima_linop_create(out, n, apply, ctx, destroy);
    if (st != MINIMA_OK && destroy) destroy(ctx);
    return st;
}

/* ---- dense ----------------------------------------------------------- */

typedef struct {
    size_t n;
    double *a;   /* (n, n) row-major */
} dense_ctx;

static minima_status dense_apply(void *vctx, const double *x, double *y)
{
    dense_ctx *c = vctx;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)c->n, (int)c->n, 1.0, c->a, (int)c->n,
                x, 1, 0.0, y, 1);
    return MINIMA_OK;
}

static void dense_destroy(void *vctx)
{
    dense_ctx *c = vctx;
    if (!c) return;
    minima_free(c->a);
    minima_free(c);
}

minima_status minima_linop_dense(minima_linop **out, size_t n, const double *a)
{
    if (out) *out = NULL;
    if (!out || !a) MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_dense: NULL argument");
    if (n == 0 || n > (size_t)INT32_MAX)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_dense: n must be in [1, 2^31), got %zu", n);
    dense_ctx *c = minima_calloc(1, sizeof *c);
    if (!c) goto nomem;
    c->n = n;
    c->a = minima_alloc(n * n, sizeof *c->a);
    if (!c->a) goto nomem;
    memcpy(c->a, a, n * n * sizeof *a);
    return wrap(out, n, dense_apply, c, dense_destroy);
nomem:
    dense_destroy(c);
    MINIMA_FAIL(MINIMA_ENOMEM, "minima_linop_dense: out of memory for a %zu x %zu matrix", n, n);
}

/* ---- the net's curvature --------------------------------------------- */

static minima_status hessian_apply(void *ctx, const double *x, double *y)
{
    return minima_net_hvp(ctx, x, y);
}

static minima_status ggn_apply(void *ctx, const double *x, double *y)
{
    return minima_net_ggnvp(ctx, x, y);
}

minima_status minima_linop_hessian(minima_linop **out, minima_net *net)
{
    if (out) *out = NULL;
    if (!out || !net) MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_hessian: NULL argument");
    return minima_linop_create(out, minima_net_n_params(net), hessian_apply, net, NULL);
}

minima_status minima_linop_ggn(minima_linop **out, minima_net *net)
{
    if (out) *out = NULL;
    if (!out || !net) MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_ggn: NULL argument");
    return minima_linop_create(out, minima_net_n_params(net), ggn_apply, net, NULL);
}

/* ---- restriction to a subset: P_S^T A P_S ---------------------------- */

typedef struct {
    minima_linop *parent;
    size_t m;          /* |S| */
    size_t *index;     /* (m) strictly increasing */
    double *xfull;     /* (parent->n) zero outside S between products */
    double *yfull;     /* (parent->n) */
} subset_ctx;

static minima_status subset_apply(void *vctx, const double *x, double *y)
{
    subset_ctx *c = vctx;
    for (size_t i = 0; i < c->m; i++) c->xfull[c->index[i]] = x[i];
    minima_status st = minima_linop_apply(c->parent, c->xfull, c->yfull);
    for (size_t i = 0; i < c->m; i++) {
        c->xfull[c->index[i]] = 0.0;
        y[i] = c->yfull[c->index[i]];
    }
    return st;
}

static void subset_destroy(void *vctx)
{
    subset_ctx *c = vctx;
    if (!c) return;
    minima_free(c->index);
    minima_free(c->xfull);
    minima_free(c->yfull);
    minima_free(c);
}

minima_status minima_linop_subset(minima_linop **out, minima_linop *parent,
                                  const size_t *index, size_t n_index)
{
    if (out) *out = NULL;
    if (!out || !parent || !index)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_subset: NULL argument");
    if (n_index == 0)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_subset: the subset is empty");
    for (size_t i = 0; i < n_index; i++) {
        if (index[i] >= parent->n)
            MINIMA_FAIL(MINIMA_ERANGE, "minima_linop_subset: index[%zu] = %zu, expected < %zu",
                        i, index[i], parent->n);
        if (i > 0 && index[i] <= index[i - 1])
            MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_subset: indices must be strictly "
                        "increasing, found index[%zu] = %zu after %zu", i, index[i], index[i - 1]);
    }
    subset_ctx *c = minima_calloc(1, sizeof *c);
    if (!c) goto nomem;
    c->parent = parent;
    c->m = n_index;
    c->index = minima_alloc(n_index, sizeof *c->index);
    c->xfull = minima_calloc(parent->n, sizeof *c->xfull);
    c->yfull = minima_alloc(parent->n, sizeof *c->yfull);
    if (!c->index || !c->xfull || !c->yfull) goto nomem;
    memcpy(c->index, index, n_index * sizeof *index);
    return wrap(out, n_index, subset_apply, c, subset_destroy);
nomem:
    subset_destroy(c);
    MINIMA_FAIL(MINIMA_ENOMEM, "minima_linop_subset: out of memory (%zu of %zu coordinates)",
                n_index, parent->n);
}

/* ---- diagonal scaling: D A D ----------------------------------------- */

typedef struct {
    minima_linop *parent;
    double *d;     /* (n) */
    double *tmp;   /* (n) */
} scaled_ctx;

static minima_status scaled_apply(void *vctx, const double *x, double *y)
{
    scaled_ctx *c = vctx;
    size_t n = c->parent->n;
    for (size_t i = 0; i < n; i++) c->tmp[i] = c->d[i] * x[i];
    minima_status st = minima_linop_apply(c->parent, c->tmp, y);
    for (size_t i = 0; i < n; i++) y[i] *= c->d[i];
    return st;
}

static void scaled_destroy(void *vctx)
{
    scaled_ctx *c = vctx;
    if (!c) return;
    minima_free(c->d);
    minima_free(c->tmp);
    minima_free(c);
}

minima_status minima_linop_scaled(minima_linop **out, minima_linop *parent, const double *d)
{
    if (out) *out = NULL;
    if (!out || !parent || !d) MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_scaled: NULL argument");
    size_t n = parent->n;
    for (size_t i = 0; i < n; i++)
        if (!(d[i] > 0) || !isfinite(d[i]))
            MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_scaled: d[%zu] = %g, expected a finite "
                        "positive scale", i, d[i]);
    scaled_ctx *c = minima_calloc(1, sizeof *c);
    if (!c) goto nomem;
    c->parent = parent;
    c->d = minima_alloc(n, sizeof *c->d);
    c->tmp = minima_alloc(n, sizeof *c->tmp);
    if (!c->d || !c->tmp) goto nomem;
    memcpy(c->d, d, n * sizeof *d);
    return wrap(out, n, scaled_apply, c, scaled_destroy);
nomem:
    scaled_destroy(c);
    MINIMA_FAIL(MINIMA_ENOMEM, "minima_linop_scaled: out of memory for n = %zu", n);
}

/* ---- layer selection ------------------------------------------------- */

/* Marks the parts named by one token in sel[2k] (weight) / sel[2k+1]
 * (bias). */
static minima_status select_token(const minima_model *m, const char *tok, size_t len,
                                  unsigned char *sel)
{
    char buf[256];
    if (len == 0) MINIMA_FAIL(MINIMA_EINVAL, "layer list: empty layer name in the list");
    if (len >= sizeof buf)
        MINIMA_FAIL(MINIMA_EINVAL, "layer list: layer name of %zu characters is too long", len);
    memcpy(buf, tok, len);
    buf[len] = '\0';

    int want_w = 1, want_b = 1;
    int layer = -1;
    for (int k = 0; k < m->n_layers && layer < 0; k++)
        if (strcmp(buf, m->layer_names[k]) == 0) layer = k;
    if (layer < 0) {
        /* NAME.weight / NAME.bias */
        char *dot = strrchr(buf, '.');
        if (dot && (strcmp(dot, ".weight") == 0 || strcmp(dot, ".bias") == 0)) {
            if (strcmp(dot, ".weight") == 0) want_b = 0; else want_w = 0;
            *dot = '\0';
            for (int k = 0; k < m->n_layers && layer < 0; k++)
                if (strcmp(buf, m->layer_names[k]) == 0) layer = k;
            *dot = '.';
        }
    }
    if (layer < 0 && buf[0] == '#' && buf[1]) {
        char *end;
        long k = strtol(buf + 1, &end, 10);
        if (*end == '\0' && k >= 0 && k < m->n_layers) layer = (int)k;
        else MINIMA_FAIL(MINIMA_EINVAL, "layer list: '%s': expected #k with 0 <= k < %d",
                         buf, m->n_layers);
    }
    if (layer < 0) {
        char names[512];
        size_t used = 0;
        names[0] = '\0';
        for (int k = 0; k < m->n_layers && used + 1 < sizeof names; k++) {
            int w = snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "",
                             m->layer_names[k]);
            if (w < 0) break;
            used += (size_t)w;
        }
        MINIMA_FAIL(MINIMA_EINVAL, "layer list: no layer named '%s' (the model's layers are: %s; "
                    "or use #k)", buf, names);
    }
    if (want_b && !want_w && !m->has_bias)
        MINIMA_FAIL(MINIMA_EINVAL, "layer list: '%s': the model has no biases", buf);
    if (!m->has_bias) want_b = 0;
    if ((want_w && sel[2 * layer]) || (want_b && sel[2 * layer + 1]))
        MINIMA_FAIL(MINIMA_EINVAL, "layer list: '%s' selects parameters already selected", buf);
    if (want_w) sel[2 * layer] = 1;
    if (want_b) sel[2 * layer + 1] = 1;
    return MINIMA_OK;
}

minima_status minima_linop_select_layers(const minima_model *model, const char *spec,
                                         size_t **index, size_t *n_index)
{
    if (index) *index = NULL;
    if (n_index) *n_index = 0;
    if (!model || !spec || !index || !n_index)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_select_layers: NULL argument");
    int K = model->n_layers;
    minima_status st = MINIMA_OK;
    size_t *idx = NULL;
    unsigned char *sel = minima_calloc((size_t)(2 * K), 1);
    if (!sel) MINIMA_FAIL(MINIMA_ENOMEM, "minima_linop_select_layers: out of memory");

    const char *p = spec;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        st = select_token(model, p, len, sel);
        if (st != MINIMA_OK) goto fail;
        if (!comma) break;
        p = comma + 1;
    }

    size_t count = 0;
    for (int k = 0; k < K; k++) {
        if (sel[2 * k]) count += minima_model_layer_weights(model, k);
        if (sel[2 * k + 1]) count += (size_t)model->widths[k + 1];
    }
    idx = minima_alloc(count, sizeof *idx);
    if (!idx) {
        st = minima_error(MINIMA_ENOMEM, "minima_linop_select_layers: out of memory for %zu "
                          "indices", count);
        goto fail;
    }
    size_t at = 0;
    for (int k = 0; k < K; k++) {
        if (sel[2 * k]) {
            size_t off = model->weight_offset[k], nw = minima_model_layer_weights(model, k);
            for (size_t i = 0; i < nw; i++) idx[at++] = off + i;
        }
        if (sel[2 * k + 1]) {
            size_t off = model->bias_offset[k], nb = (size_t)model->widths[k + 1];
            for (size_t i = 0; i < nb; i++) idx[at++] = off + i;
        }
    }
    MINIMA_ASSERT(at == count);
    minima_free(sel);
    *index = idx;
    *n_index = count;
    return MINIMA_OK;
fail:
    minima_free(sel);
    minima_free(idx);
    return st;
}
