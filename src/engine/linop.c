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

minima_status minima_linop_apply_block(minima_linop *op, size_t b, const double *X, double *Y)
{
    if (!op || !X || !Y) MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_apply_block: NULL argument");
    if (b == 0) MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_apply_block: the block has no vectors");
    op->n_applies += b;
    if (op->apply_block) return op->apply_block(op->ctx, b, X, Y);
    for (size_t j = 0; j < b; j++) MINIMA_TRY(op->apply(op->ctx, X + j * op->n, Y + j * op->n));
    return MINIMA_OK;
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
