/* minima/eigen.h — eigenvalues of symmetric operators: Lanczos for the
 * extreme eigenpairs, PyHessian's power iteration as a baseline, and the
 * exact spectrum of a dense matrix (docs/spectrum.md).
 *
 * Vectors. Every set of eigenvectors is returned row-major (k, n): row i,
 * the n contiguous values starting at vectors + i*n, is the unit
 * eigenvector of eigenvalue i. For a network's Hessian the entries are in
 * PyTorch's parameters() order (model.h, docs/engine.md).
 *
 * Lanczos (minima_eigs, or the step API below). A thick-restart Lanczos
 * method (Wu & Simon 2000) on a Krylov basis of at most `max_basis`
 * vectors, all kept in float64 and fully reorthogonalized (classical
 * Gram-Schmidt applied twice with BLAS 2), so no spurious copies of
 * converged eigenvalues appear. After every step the projected matrix is
 * diagonalised (LAPACK dstev while it is tridiagonal, dsyevd once a
 * restart has made it an arrowhead) and each Ritz pair (theta, x) carries
 * the residual estimate |beta_m s_{m,i}| = ||A x - theta x|| (exact up to
 * rounding). A wanted pair has converged when
 *
 *     residual <= tol * max(|theta|, zero_floor * ||T||),
 *
 * ||T|| the largest |Ritz value| (a lower bound of ||A||, which for a
 * Hessian is |lambda_max| or |lambda_min|). So an eigenvalue within a
 * decade of ||A|| (the default zero_floor = 0.1) converges to the relative
 * tolerance tol, and a smaller one on the absolute scale
 * tol * zero_floor * ||A|| (1e-9 ||A|| by default): its error is then at
 * most that, whatever its size. This floor is what lets an eigenvalue at 0
 * converge at all: the bottom of a Gauss-Newton matrix (or of a Hessian
 * with a large null space) is a cluster of thousands of tiny eigenvalues
 * with no gap, where no Krylov method reaches a relative tolerance and the
 * residual stalls near 1e-10 ||A|| (a floor of 1e-6 ran 10000 products
 * without converging on a 4612-parameter network's Gauss-Newton matrix;
 * 0.1 converges in about 3000). Otherwise the eigenvalue error
 * is at most the residual and about residual^2 / gap, far below tol. When the basis is full, it restarts
 * keeping the wanted Ritz vectors and as many neighbours (half the free
 * room), which preserves converged pairs. If the Krylov space becomes
 * invariant (the new residual is zero to rounding) and the wanted pairs
 * are not all found, the iteration continues from a fresh random vector
 * orthogonal to the basis.
 *
 * What a single-vector Krylov method can and cannot find. In exact
 * arithmetic the Krylov space of one start vector meets each eigenspace in
 * one direction, so an eigenvalue of multiplicity r is found ONCE and the
 * next entries of `top` are the next distinct eigenvalues. In floating
 * point, rounding seeds the other directions of the eigenspace and, given
 * enough further steps, they grow into genuine further copies (for a
 * well-separated extreme eigenvalue within a few dozen steps: with a
 * triple top eigenvalue, k_top = 2 typically returns {5, 4} and k_top = 4
 * returns {5, 5, 5, 4}); copies also appear when the Krylov space becomes
 * invariant (the fresh start vector finds the next one). So a repeated
 * eigenvalue may be reported fewer times than its multiplicity (the values
 * after it then belong further down the spectrum), never more: every
 * reported pair has the stated residual and the eigenvectors are
 * orthonormal, so two equal values are two independent eigenvectors. Use
 * the exact dense spectrum (below) when multiplicities matter.
 *
 * Mixed precision (params.op_low, minima_eigs only). With op_low a cheaper,
 * less accurate version of op (a network's float32 products,
 * minima_linop_hessian_f32: relative error ~1e-6), the iteration runs in
 * two phases. (1) The thick-restart Lanczos above on op_low, to the
 * tolerance tol_low (default max(tol, 1e-5): float32 products cannot go
 * much below 1e-6), at most max_products / 2 products. (2) A float64
 * refinement on op: the wanted Ritz vectors of phase 1 and a few
 * neighbours (up to 10) become the basis U, each gets one float64 product,
 * and then, until every wanted pair meets tol, Rayleigh-Ritz on U (the
 * eigenpairs of U^T A U, from A U) gives Ritz pairs (theta, x = U s) whose
 * residuals A x - theta x = (A U) s - theta x are computed from float64
 * products; the residual of each unconverged wanted pair is
 * orthonormalised against U and added to it (one float64 product each),
 * and when the basis is full (max_basis) it restarts on the Ritz vectors
 * it keeps (no products). This is a block Krylov method started from an
 * almost invariant subspace: the float32 phase has removed all but ~1e-6
 * of the unwanted directions, and each expansion shrinks what is left,
 * fastest for the bulk of the spectrum far from the wanted eigenvalues.
 * The residuals reported are always float64 ones, ||A x - lambda x|| with
 * A x from products of op (exact up to rounding, so verify costs no
 * further products); the same convergence rule applies, with ||T|| the
 * largest |Ritz value| of either phase. n_products counts both phases,
 * n_products_low those of op_low. Phase 2 needs a second array of
 * max_basis vectors of n (A U). If interrupted in phase 1, the result
 * holds phase 1's Ritz pairs with their residual estimates for op_low and
 * no true residuals. docs/spectrum.md has the measurements.
 *
 * "Top" means algebraically largest (for an indefinite Hessian, not the
 * largest in magnitude, which is what power iteration finds); "bottom"
 * the algebraically smallest. */
#ifndef MINIMA_EIGEN_H
#define MINIMA_EIGEN_H

#include <stddef.h>
#include <stdint.h>

#include "minima/linop.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Lanczos ---------------------------------------------------------- */

typedef struct {
    int k_top;            /* largest eigenpairs wanted; default 1 */
    int k_bottom;         /* smallest eigenpairs wanted; default 0 */
    double tol;           /* relative residual tolerance; default 1e-8 (eigenvalues
                             then agree to ~1e-14 relative unless nearly degenerate) */
    double zero_floor;    /* residual scale floor as a fraction of ||T||; default 0.1 */
    size_t max_basis;     /* Krylov basis size before a restart; 0 (default) = auto:
                             min(n, max(2k + 20, 40)), k = k_top + k_bottom (within 3 %
                             of the fewest products for 20-50 pairs, docs/spectrum.md); must be
                             >= k + 2 unless it is n */
    size_t max_products;  /* give up (MINIMA_ENOCONV) after this many products;
                             default 10000 */
    uint64_t seed;        /* start vector: Gaussian from this seed; default 0 */
    int verify;           /* nonzero: recompute ||A x - lambda x|| for every returned
                             pair at the end (k more products; none in mixed precision,
                             whose residuals are computed from float64 products);
                             default 1 */
    minima_linop *op_low; /* NULL (default): every product by op. Otherwise the same
                             operator in low precision (float32 products), borrowed:
                             minima_eigs runs in mixed precision (above) */
    double tol_low;       /* mixed precision: tolerance of the low-precision phase;
                             0 (default) = max(tol, 1e-5) */
} minima_eigs_params;

minima_eigs_params minima_eigs_default_params(void);

/* The result of minima_eigs / minima_lanczos_result. Arrays are allocated
 * by the library and released by minima_eigs_result_free. */
typedef struct {
    size_t n;                   /* operator dimension */
    int n_top, n_bottom;        /* pairs returned (fewer than asked only on failure) */
    double *top;                /* (n_top) eigenvalues, largest first */
    double *top_residual;       /* (n_top) Ritz residual estimates |beta_m s_{m,i}| */
    double *top_true_residual;  /* (n_top) ||A x - lambda x|| if params.verify, else NULL */
    double *top_vectors;        /* (n_top, n) row-major unit eigenvectors */
    double *bottom;             /* (n_bottom) eigenvalues, smallest first */
    double *bottom_residual;    /* (n_bottom) */
    double *bottom_true_residual; /* (n_bottom) or NULL */
    double *bottom_vectors;     /* (n_bottom, n) */
    size_t n_products;          /* products of the operator, verification included
                                   (mixed precision: of both operators) */
    size_t n_products_low;      /* of those, products of params.op_low (0 without) */
    size_t n_steps;             /* Lanczos steps */
    size_t n_restarts;          /* thick restarts */
    double seconds;             /* wall-clock time */
    int converged;              /* every wanted pair met the tolerance */
} minima_eigs_result;

/* Releases the arrays of a result (not the struct) and zeroes it. */
void minima_eigs_result_free(minima_eigs_result *result);

/* One-shot: the k_top largest and k_bottom smallest eigenpairs of op
 * (params NULL = defaults; with params->op_low, in mixed precision). On MINIMA_OK `result` holds converged pairs.
 * On MINIMA_ENOCONV (max_products reached) or MINIMA_EINTERRUPTED
 * (minima_interrupt) it holds the current best Ritz pairs with
 * converged = 0; on other failures it is empty. The caller frees the
 * result with minima_eigs_result_free in every case. Reports progress as
 * task "lanczos" (products of max_products). */
minima_status minima_eigs(minima_linop *op, const minima_eigs_params *params,
                          minima_eigs_result *result);

/* Block Lanczos (src/curvature/block_lanczos.c): the same eigenpairs as
 * minima_eigs, found from `block` >= 1 start vectors at once, each step one
 * block product A [u_1 ... u_block] through minima_linop_apply_block (one
 * pass over the data for a network's curvature: minima_net_hvp_block). A
 * thick-restart block Lanczos (block Krylov-Schur) on a basis of at most
 * max_basis vectors plus two blocks, fully reorthogonalized (classical
 * Gram-Schmidt twice, BLAS 3); residual estimates ||B s_last|| (B the block
 * coupling to the next block) and the same convergence test as minima_eigs.
 * A block of b vectors finds eigenvalues of multiplicity up to b and tight
 * clusters in fewer steps than one vector, usually at the cost of more
 * products in all (docs/spectrum.md has measurements). max_basis 0 = auto:
 * max(2k + 20, 40, k + 3 block), at most n - block; it must satisfy
 * k + 2 block <= max_basis <= n - block (MINIMA_EINVAL otherwise). With
 * params.verify the true residuals ||A x - lambda x|| are computed by one
 * more block product of the k returned vectors. Same result contract as
 * minima_eigs (partial results on MINIMA_ENOCONV / MINIMA_EINTERRUPTED);
 * progress task "block lanczos". */
minima_status minima_eigs_block(minima_linop *op, size_t block, const minima_eigs_params *params,
                                minima_eigs_result *result);

/* Step API (GSL style), for callers that drive the iteration themselves:
 *
 *     minima_lanczos *ws;  minima_lanczos_alloc(&ws, op->n, &params);
 *     minima_lanczos_init(ws, op, seed);
 *     do { st = minima_lanczos_iterate(ws); } while (st == MINIMA_OK &&
 *          minima_lanczos_test(ws) != MINIMA_OK);
 *     minima_lanczos_result(ws, &result);  minima_lanczos_free(ws);
 *
 * minima_eigs is exactly this loop (plus the product budget, progress and
 * interruption), so both give bit-identical results for the same seed. */
typedef struct minima_lanczos minima_lanczos;

/* A workspace for operators of dimension n: the basis (max_basis + 1
 * vectors of n) and everything the steps need; no step allocates. */
minima_status minima_lanczos_alloc(minima_lanczos **out, size_t n,
                                   const minima_eigs_params *params);
void minima_lanczos_free(minima_lanczos *ws);
/* Starts over on op (borrowed; op->n must equal n) from a Gaussian start
 * vector drawn from `seed`. Computes no product. */
minima_status minima_lanczos_init(minima_lanczos *ws, minima_linop *op, uint64_t seed);
/* One Lanczos step: one product, reorthogonalization, the new Ritz pairs
 * and residual estimates; a thick restart first if the basis is full.
 * Once the basis spans the whole space it does nothing. Fails with the
 * product's status, or MINIMA_ENONFINITE if the product has NaN/Inf. */
minima_status minima_lanczos_iterate(minima_lanczos *ws);
/* MINIMA_OK when every wanted pair has converged; MINIMA_ENOCONV while not
 * yet (a normal state: no message is recorded). */
minima_status minima_lanczos_test(const minima_lanczos *ws);
/* The wanted Ritz pairs now (fewer if the basis is still smaller than
 * k_top + k_bottom), their vectors, and with params.verify their true
 * residuals (k products). Fills n_products, n_steps, n_restarts and
 * converged; seconds is left 0. The caller frees result. */
minima_status minima_lanczos_result(minima_lanczos *ws, minima_eigs_result *result);
/* Products computed by this workspace since init (verification included). */
size_t minima_lanczos_n_products(const minima_lanczos *ws);

/* ---- power iteration (baseline) ---------------------------------------- */

/* PyHessian's hessian.eigenvalues(top_n=1): v Gaussian, normalised; then
 * repeatedly Hv = A v, lambda = v.Hv, v = Hv/||Hv||, stopping when
 * |lambda - lambda_old| / (|lambda_old| + 1e-6) < tol, at most max_iter
 * products. As in PyHessian the value returned is lambda_old, the
 * Rayleigh quotient before the last product, and the vector is the last
 * normalised Hv. It converges to the eigenvalue of largest MAGNITUDE, and
 * its stopping rule says nothing about the error: a baseline only. */
typedef struct {
    int max_iter;         /* default 100 */
    double tol;           /* default 1e-3 */
    uint64_t seed;        /* default 0 */
} minima_power_params;

minima_power_params minima_power_default_params(void);

typedef struct {
    double eigenvalue;    /* the estimate (see above) */
    int iterations;       /* products made */
    size_t n_products;
    double seconds;
    int converged;        /* the stopping rule fired before max_iter */
} minima_power_result;

/* vector: (n) receives the unit eigenvector estimate, or NULL. Returns
 * MINIMA_OK also when max_iter is reached (converged = 0, as PyHessian);
 * MINIMA_EINTERRUPTED with the current estimate. */
minima_status minima_power_iteration(minima_linop *op, const minima_power_params *params,
                                     minima_power_result *result, double *vector);

/* ---- exact dense spectrum ------------------------------------------------ */

/* All eigenvalues of the symmetric n-by-n matrix a (row-major; only its
 * upper triangle is read), ascending, via LAPACK dsyevd; with vectors
 * non-NULL also the eigenvectors, row-major (n, n), row i for values[i].
 * a is not modified. Allocates O(n^2) workspace. */
minima_status minima_spectrum_dense(size_t n, const double *a /* (n, n) */,
                                    double *values /* (n) */, double *vectors /* (n, n) or NULL */);

/* The default rank tolerance max_i |values_i| * n * DBL_EPSILON (the
 * numerical-rank convention of NumPy's matrix_rank). */
double minima_spectrum_rank_tol(const double *values, size_t n);
/* Number of eigenvalues with |lambda| > tol; tol < 0 means the default. */
size_t minima_spectrum_rank(const double *values, size_t n, double tol);
/* counts[i] = #{ j : values[j] > levels[i] } (docs/measures/hessian_count.md). */
void minima_spectrum_count_above(const double *values, size_t n, const double *levels,
                                 size_t n_levels, size_t *counts);

/* The dense matrix of an operator: column i is A e_i (n products),
 * symmetrised as (A + A^T)/2, written row-major into a (n, n). Reports
 * progress ("dense") and honours interruption. Then the exact spectrum of
 * any small operator is minima_spectrum_dense(n, a, ...). */
minima_status minima_linop_to_dense(minima_linop *op, double *a /* (n, n) */);

#ifdef __cplusplus
}
#endif
#endif
