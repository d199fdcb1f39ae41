/* minima/density.h — the spectral density of a symmetric operator by
 * stochastic Lanczos quadrature (Ghorbani, Krishnan & Xiao 2019; docs/spectrum.md),
 * with PyHessian's defaults.
 *
 * For each of n_draws start vectors v (Rademacher, normalised to unit
 * length, as PyHessian; or Gaussian), m Lanczos steps with full
 * reorthogonalization give T = U diag(theta) U^T; the nodes theta_i with
 * weights U_{1i}^2 (summing to 1) are a Gauss quadrature of the spectral
 * measure seen from v, E[v^T f(A) v] = (1/n) sum_j f(lambda_j). If the
 * Krylov space becomes invariant before m steps the quadrature is exact
 * and that draw has fewer nodes. The density is
 *
 *     phi(t) = (1/n_draws) sum_draws sum_i w_i N(t; theta_i, sigma^2),
 *
 * on n_grid points evenly spaced on [lambda_min, lambda_max], where
 * lambda_min = (mean over draws of the smallest node) - margin,
 * lambda_max = (mean of the largest node) + margin, and
 * sigma^2 = sigma2_scale * max(1, lambda_max - lambda_min) — exactly
 * PyHessian's density_generate(), except that PyHessian then divides by
 * the Riemann sum of the values; here phi is left as defined (its integral
 * is 1 up to the tails beyond the grid), unless `normalize` is set. */
#ifndef MINIMA_DENSITY_H
#define MINIMA_DENSITY_H

#include <stddef.h>
#include <stdint.h>

#include "minima/linop.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t n_steps;        /* Lanczos steps m per draw, capped at n; default 100 */
    size_t n_draws;        /* start vectors n_v; default 1 */
    size_t n_grid;         /* grid points (>= 2); default 10000 */
    double sigma2_scale;   /* default 1e-5 */
    double margin;         /* default 0.01 */
    int gaussian_start;    /* 0 (default): Rademacher start vectors; 1: Gaussian */
    int normalize;         /* 1: divide by the Riemann sum as PyHessian; default 0 */
    uint64_t seed;         /* draw d uses stream d of this seed; default 0 */
} minima_density_params;

minima_density_params minima_density_default_params(void);

/* Arrays are allocated by the library; minima_density_result_free
 * releases them. */
typedef struct {
    size_t n_grid;
    double *grid;          /* (n_grid) t values, ascending */
    double *values;        /* (n_grid) phi(t) */
    size_t n_draws;
    size_t *draw_start;    /* (n_draws + 1): draw d's nodes are [draw_start[d], draw_start[d+1]) */
    size_t n_nodes;        /* total nodes over all draws */
    double *nodes;         /* (n_nodes) Ritz values, ascending within a draw */
    double *weights;       /* (n_nodes) U_{1i}^2; they sum to 1 within a draw */
    double lambda_min, lambda_max;  /* the grid's ends */
    double sigma2;         /* the Gaussian's variance */
    size_t n_products;
    double seconds;
} minima_density_result;

void minima_density_result_free(minima_density_result *result);

/* The SLQ density of op (params NULL = defaults). Reports progress (task
 * "density", products) and honours minima_interrupt() with
 * MINIMA_EINTERRUPTED. On any failure the result is left empty; the
 * caller may free it in every case. */
minima_status minima_density_slq(minima_linop *op, const minima_density_params *params,
                                 minima_density_result *result);

/* phi(t) at any t from the nodes and weights of a result (the same formula
 * as its grid values, without `normalize`). */
double minima_density_eval(const minima_density_result *result, double t);

#ifdef __cplusplus
}
#endif
#endif
