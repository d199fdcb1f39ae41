/* minima/reparam.h — changes of parameters and of input representation
 * that leave the function alone and move its flatness (docs/reparam.md; paper §5,
 * appendices A and D).
 *
 * With theta = g(eta) and L_eta = L o g, at a critical point of L
 *
 *     hess L_eta(eta) = J(eta)^T hess L(g(eta)) J(eta),   J = dg/deta,
 *
 * (the term sum_i dL/dtheta_i hess g_i vanishes there; elsewhere the
 * operators below give only this first term, the Gauss-Newton-like part).
 * Every map here comes with Jacobian products that never form a P-by-P
 * matrix, and with a minima_linop for the pulled-back Hessian, so Lanczos
 * (eigen.h) computes spectra in the new coordinates from the net's
 * Hessian-vector products (minima_linop_hessian).
 *
 * 1. The radial transformation of appendix A (minima_radial_*):
 *        psi(r) = rho r / rhat                          0 <= r <= rhat
 *               = (rho - delta)(r - delta)/(rhat - delta) + delta   rhat < r <= delta
 *               = r                                     r > delta
 *        eta = g^{-1}(theta) = c + psi(r)/r (theta - c),  r = ||theta - c||_2
 *    with 0 < rhat < delta and 0 < rho < delta. psi is continuous and
 *    increasing, so g^{-1} is a bijection of the whole space that moves only
 *    points inside the ball B(c, delta) (and maps that ball onto itself).
 *    Its Jacobian, with u = theta - c, is
 *        dg^{-1}/dtheta = (psi(r)/r) I + (psi'(r)/r^2 - psi(r)/r^3) u u^T
 *    = (rho/rhat) I inside rhat, I outside delta, and in the annulus
 *        psi' I + delta (rhat - rho) / (r (rhat - delta)) (I - u u^T / r^2),
 *    the seed's formula read with the OUTER product u u^T (the seed prints
 *    (theta - c)^T (theta - c), a scalar, which would cancel the last term).
 *    Both Jacobians are symmetric. At the centre, hess L_eta = (rhat/rho)^2
 *    hess L: rho << rhat sharpens a minimum, rho -> delta flattens it.
 *    Several maps with disjoint balls compose into one bijection: a point
 *    is moved by the map whose ball holds it, if any.
 *
 * 2. The radial map of the main text's Fig. 5 (minima_powradial_*):
 *        eta = c + (||theta - c||^2 + b)^a (theta - c),   b >= 0, a > -1/2;
 *    the radius s(r) = (r^2 + b)^a r is increasing, so it is a bijection;
 *    the inverse solves s(r) = ||eta - c|| for r (safeguarded Newton).
 *
 * 3. Weight normalization (minima_wn_*): each output unit i of each layer
 *    has w_i = s_i v_i / ||v_i||_2. Coordinates xi, layer by layer: V_k
 *    (same shape as W_k, row-major), then s_k (d_k), then b_k if present.
 *    Scaling v_i by alpha > 0 changes no w, so the v-block of the Hessian in
 *    xi scales by alpha^{-2}: any minimum is as sharp or as flat as wanted.
 *
 * 4. Input representation (minima_input_*): an affine x = A u + mu
 *    (standardization A = diag(std), or whitening A = Sigma^{1/2} (ZCA) or
 *    Q Lambda^{1/2} (PCA)) fitted on a data set; applied to the data
 *    (u = A^{-1}(x - mu)) and folded into the first layer (W_1' = W_1 A,
 *    b_1' = b_1 + W_1 mu) the predictions are identical, while input
 *    gradients and the parameter Hessian change (§5.2, appendix D). */
#ifndef MINIMA_REPARAM_H
#define MINIMA_REPARAM_H

#include <stddef.h>

#include "minima/data.h"
#include "minima/linop.h"
#include "minima/model.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. radial transformations (appendix A) ------------------------- */

typedef struct {
    const double *center;     /* (n) theta-hat, borrowed */
    double rhat;              /* 0 < rhat < delta */
    double delta;             /* radius of the ball that moves */
    double rho;               /* 0 < rho < delta: the image radius of rhat */
} minima_radial;

/* A bijection made of n_maps radial maps on R^n with pairwise disjoint
 * balls (||c_i - c_j|| >= delta_i + delta_j). Borrows `maps`. */
typedef struct {
    size_t n;
    int n_maps;
    const minima_radial *maps;  /* (n_maps) */
} minima_radial_set;

/* MINIMA_EINVAL naming the map and the value unless every map has finite
 * 0 < rhat < delta, 0 < rho < delta, a centre, and the balls are disjoint. */
minima_status minima_radial_check(const minima_radial_set *set);

/* psi, its derivative (the left derivative at the kinks rhat and delta,
 * i.e. the seed's indicator functions) and its inverse. */
double minima_radial_psi(const minima_radial *map, double r);
double minima_radial_dpsi(const minima_radial *map, double r);
double minima_radial_psi_inv(const minima_radial *map, double s);

/* eta = g^{-1}(theta) and theta = g(eta) (n values; out may not alias in). */
void minima_radial_to_eta(const minima_radial_set *set, const double *theta, double *eta);
void minima_radial_to_theta(const minima_radial_set *set, const double *eta, double *theta);
/* out = (dg^{-1}/dtheta at theta) v  and  out = (dg/deta at eta) v. */
void minima_radial_jac_inv_apply(const minima_radial_set *set, const double *theta,
                                 const double *v, double *out);
void minima_radial_jac_apply(const minima_radial_set *set, const double *eta,
                             const double *v, double *out);

/* The Hessian in eta coordinates at eta: x -> J hess J x with J = dg/deta
 * (symmetric), hess an operator at theta = g(eta) (for a network:
 * minima_linop_hessian of a net anchored at g(eta)). Borrows `hessian`
 * and the set's maps and centres; copies eta. */
minima_status minima_radial_hessian(minima_linop **out, minima_linop *hessian,
                                    const minima_radial_set *set, const double *eta);

/* Radial maps that rank m minima by flatness in a requested order.
 *
 * centers[i] (n values each) are the minima, lambda[i] > 0 the spectral
 * norm of the Hessian at each (theta coordinates). order[0..m) is a
 * permutation: order[0] is the minimum to be made the sharpest, order[m-1]
 * the flattest. In eta coordinates the Hessian at centre i is
 * (rhat_i / rho_i)^2 hess_i, so q_i = rhat_i / rho_i is chosen to give the
 * minimum of rank j the spectral norm  lambda_ref * factor^{(m-1)/2 - j}
 * (lambda_ref the geometric mean of the lambda_i, factor > 1: consecutive
 * ranks differ by that factor). Radii: delta_i = min(max_delta,
 * (1 - margin)/2 * distance to the nearest other centre), so the balls are
 * disjoint; then rhat = delta/2, rho = rhat/q if q >= 1, else rho = delta/2,
 * rhat = q rho. maps (m) receive the result (their centre pointers are
 * centers[i]); predicted (m, may be NULL) the spectral norms in eta. */
typedef struct {
    double factor;            /* > 1; default 10 */
    double max_delta;         /* > 0; default 1 (also the radius when m = 1) */
    double margin;            /* in [0, 1); default 0.1 */
} minima_radial_plan_params;

minima_radial_plan_params minima_radial_plan_default_params(void);
minima_status minima_radial_plan(size_t n, int m, const double *const *centers,
                                 const double *lambda, const int *order,
                                 const minima_radial_plan_params *params,
                                 minima_radial *maps /* (m) */, double *predicted /* (m) */);

/* ---- 2. the radial map of Fig. 5 ------------------------------------ */

typedef struct {
    const double *center;     /* (n) borrowed */
    double a;                 /* > -1/2 */
    double b;                 /* >= 0; with b = 0 and a != 0 the map is not
                                 differentiable (a < 0: not invertible smoothly)
                                 at the centre */
} minima_powradial;

minima_status minima_powradial_check(const minima_powradial *map);
/* eta = c + (r^2 + b)^a (theta - c). */
void minima_powradial_to_eta(const minima_powradial *map, size_t n, const double *theta,
                             double *eta);
/* theta from eta: solves (r^2 + b)^a r = ||eta - c|| for r. MINIMA_ENOCONV
 * if the 1-D solve fails (it does not for finite input). */
minima_status minima_powradial_to_theta(const minima_powradial *map, size_t n, const double *eta,
                                        double *theta);
/* out = (deta/dtheta at theta) v = (r^2+b)^a v + 2a (r^2+b)^{a-1} u (u^T v),
 * and out = (dtheta/deta) v, its inverse, both at the point theta. */
void minima_powradial_jac_apply(const minima_powradial *map, size_t n, const double *theta,
                                const double *v, double *out);
void minima_powradial_jac_inv_apply(const minima_powradial *map, size_t n, const double *theta,
                                    const double *v, double *out);
/* The Hessian in eta coordinates at the point theta: x -> J hess J x with
 * J = dtheta/deta (symmetric) at theta. Borrows hessian and the centre. */
minima_status minima_powradial_hessian(minima_linop **out, minima_linop *hessian,
                                       const minima_powradial *map, const double *theta);

/* ---- 3. weight normalization ----------------------------------------- */

/* Number of coordinates xi: P + d_1 + ... + d_K. */
size_t minima_wn_n_params(const minima_model *model);
/* xi from theta: s_i = ||w_i||, v_i = v_scale * w_i / ||w_i|| (so ||v_i|| =
 * v_scale > 0). A zero row has no direction: MINIMA_EINVAL naming it. */
minima_status minima_wn_from_theta(const minima_model *model, const double *theta,
                                   double v_scale, double *xi);
/* theta from xi (w_i = s_i v_i / ||v_i||). MINIMA_EINVAL for a zero v_i. */
minima_status minima_wn_to_theta(const minima_model *model, const double *xi, double *theta);
/* dtheta = (dtheta/dxi at xi) dxi, and dxi = (dtheta/dxi)^T dtheta. */
void minima_wn_jac_apply(const minima_model *model, const double *xi, const double *dxi,
                         double *dtheta);
void minima_wn_jac_t_apply(const minima_model *model, const double *xi, const double *dtheta,
                           double *dxi);
/* The Hessian in xi at xi: x -> J^T hess J x, n = minima_wn_n_params.
 * Borrows hessian (at theta = minima_wn_to_theta(xi)) and the model; copies xi. */
minima_status minima_wn_hessian(minima_linop **out, minima_linop *hessian,
                                const minima_model *model, const double *xi);
/* Indices (into xi, increasing) of every v coordinate: for restricting
 * the Hessian to its v-block with minima_linop_subset. The caller frees
 * *index with minima_free. */
minima_status minima_wn_v_index(const minima_model *model, size_t **index, size_t *n_index);

/* ---- 4. input representation ----------------------------------------- */

typedef enum {
    MINIMA_INPUT_STANDARDIZE = 0,  /* A = diag(sqrt(var_j + ridge)) */
    MINIMA_INPUT_WHITEN_ZCA,       /* A = Q (Lambda + ridge)^{1/2} Q^T, Sigma = Q Lambda Q^T */
    MINIMA_INPUT_WHITEN_PCA        /* A = Q (Lambda + ridge)^{1/2} */
} minima_input_method;

typedef struct {
    minima_input_method method;    /* default MINIMA_INPUT_STANDARDIZE */
    double ridge;                  /* epsilon >= 0 added to variances / eigenvalues; default
                                      1e-8 (absolute). Every var + ridge (eigenvalue + ridge)
                                      must be > 0: a constant feature needs ridge > 0 */
} minima_input_params;

minima_input_params minima_input_default_params(void);
minima_status minima_input_method_parse(const char *s, minima_input_method *method);
const char *minima_input_method_name(minima_input_method method);

typedef struct {
    int d;
    minima_input_method method;
    double *mu;       /* (d) feature means */
    double *a;        /* (d, d) row-major: x = A u + mu */
    double *a_inv;    /* (d, d) row-major: u = A^{-1} (x - mu) */
} minima_input_transform;

/* Fits the transform on data->x: mean and covariance with 1/N (population),
 * eigen-decomposition by LAPACKE_dsyevd for whitening. */
minima_status minima_input_fit(const minima_dataset *data, const minima_input_params *params,
                               minima_input_transform **out);
void minima_input_transform_free(minima_input_transform *t);
/* u = A^{-1} (x - mu) for n examples (rows; u may not alias x); whitening
 * uses a GEMM per block of 256 rows (a small workspace: MINIMA_ENOMEM). */
minima_status minima_input_apply(const minima_input_transform *t, const double *x /* (n, d) */,
                                 size_t n, double *u /* (n, d) */);
/* The model that computes on u what `model` computes on x: W_1' = W_1 A,
 * b_1' = b_1 + W_1 mu, every other layer copied. A model without biases
 * cannot hold W_1 mu: with add_bias it gets biases on every layer (zero
 * except the first; the function is unchanged), without it MINIMA_EINVAL
 * (unless W_1 mu is exactly 0). The copy keeps names, metadata and loss. */
minima_status minima_input_fold(const minima_input_transform *t, const minima_model *model,
                                int add_bias, minima_model **out);
/* For each of n examples the Frobenius norm of the input Jacobian
 * d f(x) / d x (d_K by d_0) of the network's outputs (its activation's
 * derivative; ReLU' (0) = 0), by backpropagation through the layers. */
minima_status minima_input_gradient_norms(const minima_model *model, const double *x /* (n, d_0) */,
                                          size_t n, double *norms /* (n) */);

#ifdef __cplusplus
}
#endif
#endif
