/* minima/linop.h — matrix-free symmetric linear operators.
 *
 * A minima_linop is an n-by-n symmetric matrix known only through its
 * product y = A x. Eigensolvers (eigen.h), trace estimators (trace.h) and
 * spectral densities (density.h) take one and never see where it comes
 * from: the Hessian or Gauss-Newton matrix of a network at its anchor, a
 * restriction of another operator to a subset of parameters, a diagonal
 * scaling D A D of another operator (the paper's D_alpha H D_alpha), a
 * dense matrix (tests), or any product the caller writes.
 *
 * Every product goes through minima_linop_apply(), which counts it in
 * `n_applies`: the cost of an algorithm is reported in products.
 *
 * Ownership. Every constructor returns a heap object released with
 * minima_linop_free(), which calls `destroy(ctx)`. A wrapping operator
 * (subset, scaled) borrows its parent: the parent must outlive it and is
 * not freed with it. The net operators borrow the net the same way.
 * Products of a wrapper are counted in the wrapper and, through
 * minima_linop_apply(), in its parent too.
 *
 * Not thread-safe: one operator (and its parent) per thread. */
#ifndef MINIMA_LINOP_H
#define MINIMA_LINOP_H

#include <stddef.h>

#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = A x for n-vectors; x and y never overlap. Returns MINIMA_OK or the
 * failure of the underlying product. Must not allocate on the hot path. */
typedef minima_status (*minima_linop_apply_fn)(void *ctx, const double *x, double *y);

/* Y = A [x_1 ... x_b]: X and Y (b, n) row-major (row j is x_j, resp. A x_j),
 * not overlapping. Optional: an operator that can serve b products in one
 * pass cheaper than b passes (a network's curvature, minima_net_hvp_block)
 * sets it after creation; must equal b calls of apply up to rounding. */
typedef minima_status (*minima_linop_apply_block_fn)(void *ctx, size_t b, const double *X,
                                                     double *Y);

typedef struct minima_linop {
    size_t n;                       /* dimension */
    minima_linop_apply_fn apply;    /* the product; call through minima_linop_apply */
    void *ctx;                      /* the product's state, owned by the operator */
    void (*destroy)(void *ctx);     /* releases ctx (may be NULL) */
    size_t n_applies;               /* products computed so far */
    minima_linop_apply_block_fn apply_block;   /* NULL (default): b single products */
} minima_linop;

/* An operator from a caller's product. ctx is owned by the operator from
 * now on: destroy(ctx) is called by minima_linop_free (destroy may be
 * NULL when the caller keeps ownership). On failure destroy is NOT called. */
minima_status minima_linop_create(minima_linop **out, size_t n, minima_linop_apply_fn apply,
                                  void *ctx, void (*destroy)(void *ctx));
/* Releases ctx (through destroy) and the operator. NULL is fine. */
void minima_linop_free(minima_linop *op);

/* y = A x (n values each, no overlap); counts the product. */
minima_status minima_linop_apply(minima_linop *op, const double *x, double *y);

/* Y = A X for the b rows of X (b >= 1; (b, n) each, no overlap), through
 * apply_block when the operator has one, else b calls of apply; counts b
 * products. The wrappers (subset, scaled) and dense matrices loop. */
minima_status minima_linop_apply_block(minima_linop *op, size_t b, const double *X, double *Y);

/* A dense n-by-n matrix, row-major, copied (the caller keeps `a`). The
 * product is y = A x as given: pass a symmetric matrix. For tests and
 * for small exact computations. */
minima_status minima_linop_dense(minima_linop **out, size_t n, const double *a /* (n, n) */);

/* The restriction P_S^T A P_S of `parent` to the coordinates
 * index[0..n_index) (strictly increasing, each < parent->n): an
 * n_index-by-n_index operator. Each product scatters x into a full-size
 * workspace (allocated here, once), applies the parent and gathers.
 * Borrows the parent; copies `index`. */
minima_status minima_linop_subset(minima_linop **out, minima_linop *parent,
                                  const size_t *index /* (n_index) */, size_t n_index);

/* D A D with D = diag(d), every d_i finite and > 0 (d is copied). With
 * d = the per-parameter factors of a rescaling T_alpha this is the
 * Hessian at T_alpha(theta) up to the change of variables (docs/symmetry.md).
 * Borrows the parent. */
minima_status minima_linop_scaled(minima_linop **out, minima_linop *parent,
                                  const double *d /* (parent->n) */);

#ifdef __cplusplus
}
#endif
#endif
