/* minima/symmetry.h — function-preserving rescalings of rectified networks
 * (docs/symmetry.md; paper Def. 5, Thm 1, appendices B and E).
 *
 * phi(c z) = c phi(z) for c > 0 when phi is ReLU or leaky ReLU, so a hidden
 * unit's incoming weights and bias may be multiplied by c and its outgoing
 * weights by 1/c without changing the network's outputs for any input.
 *
 * One representation for every map: UNIT SCALES. A scaling is one positive
 * factor s per hidden unit, for the hidden layers in order (the outputs of
 * model layers 0..K-2), concatenated:
 *
 *     scales  (n_units),  n_units = d_1 + ... + d_{K-1}
 *
 * Inputs and outputs have scale 1. The map it stands for is the positive
 * diagonal linear map theta -> A theta with, for model layer k (0-based)
 * with output scales s_out (the hidden unit scales, or 1 for the last
 * layer) and input scales s_in (1 for the first layer):
 *
 *     W_k[i, j] -> s_out[i] / s_in[j] * W_k[i, j]      b_k[i] -> s_out[i] b_k[i]
 *
 * - The layer-wise map T_alpha (W_k -> alpha_k W_k, b_k -> (prod_{j<=k}
 *   alpha_j) b_k, prod_k alpha_k = 1) is the scales s = prod_{j<=k} alpha_j
 *   for every unit of hidden layer k.
 * - Scaling hidden unit h of layer k by c is scales = 1 except that unit = c.
 * - Maps compose by multiplying their scales entry by entry; the inverse map
 *   has the reciprocal scales. These maps form the group whose orbit
 *   {A theta} is the set of parameters computing the same function.
 *
 * For every such A, L(A theta) = L(theta), hence at every theta
 *     grad L(A theta) = A^{-1} grad L(theta),
 *     hess L(A theta) = A^{-1} hess L(theta) A^{-1}
 * (minima_sym_diag gives the P entries of A to check it).
 *
 * The maps are defined for any model; they preserve the function only for
 * MINIMA_ACT_RELU and MINIMA_ACT_LEAKY_RELU (tanh networks exist so tests
 * can show the checks fail when they should). */
#ifndef MINIMA_SYMMETRY_H
#define MINIMA_SYMMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "minima/data.h"
#include "minima/model.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* n_units = d_1 + ... + d_{K-1} (0 for a network without hidden layer). */
size_t minima_sym_n_units(const minima_model *model);

/* Every unit scale = 1 (the identity map). */
void minima_sym_identity(const minima_model *model, double *scales /* (n_units) */);

/* Scales of the layer-wise map T_alpha (appendix B).
 *
 * alpha holds n_alpha factors, each finite and > 0. Without derive_last,
 * n_alpha = K and the product must be 1: |prod alpha - 1| <= prod_tol
 * (a relative tolerance; 1e-12 is a good value), else MINIMA_EINVAL naming
 * the product found. With derive_last, n_alpha = K-1 (or K, the last one
 * ignored) and alpha_K = 1 / prod_{k<K} alpha_k. In both cases the map is
 * applied with the last factor 1 / prod_{k<K} alpha_k, so the function is
 * preserved exactly. alpha_used (K entries, may be NULL) receives the factors
 * applied. Wrong count, non-positive or non-finite factor: MINIMA_EINVAL. */
minima_status minima_sym_layer_scales(const minima_model *model, const double *alpha, int n_alpha,
                                      int derive_last, double prod_tol,
                                      double *scales /* (n_units) */, double *alpha_used /* (K) */);

/* Scales that multiply hidden unit `unit` of model layer `layer` (its
 * outputs; 0 <= layer <= K-2) by c > 0 and leave every other unit alone:
 * row `unit` of W_layer and b_layer[unit] times c, column `unit` of
 * W_{layer+1} times 1/c. */
minima_status minima_sym_neuron_scales(const minima_model *model, int layer, int unit, double c,
                                       double *scales /* (n_units) */);

/* A random point of the orbit: every unit scale is exp(spread * z) with z
 * standard normal from minima's generator seeded with `seed` (log-normal
 * factors, the same for the same seed). spread >= 0 and finite. If alpha
 * is not NULL (K factors with product 1 within 1e-12) the layer-wise map
 * is composed with it. */
minima_status minima_sym_random_scales(const minima_model *model, uint64_t seed, double spread,
                                       const double *alpha /* (K) or NULL */,
                                       double *scales /* (n_units) */);

/* The diagonal of A: P positive values, A theta = diag .* theta. */
void minima_sym_diag(const minima_model *model, const double *scales /* (n_units) */,
                     double *diag /* (P) */);

/* out = A theta (P values; out may equal theta). theta NULL: model->theta. */
void minima_sym_apply(const minima_model *model, const double *scales /* (n_units) */,
                      const double *theta /* (P) */, double *out /* (P) */);

/* Multiply the model's own parameters by A. */
void minima_sym_apply_model(minima_model *model, const double *scales /* (n_units) */);

/* ---- the canonical representative ----------------------------------- */

typedef enum {
    MINIMA_SYM_LAYER = 0,   /* the layer-wise group T_alpha */
    MINIMA_SYM_NEURON       /* the per-neuron group (which contains it) */
} minima_sym_group;

typedef struct {
    minima_sym_group group;   /* default MINIMA_SYM_NEURON */
    int max_iter;             /* Newton steps (layer) or sweeps (neuron); default 10000 */
    double step_tol;          /* converged when max |log factor| of an iteration <= step_tol; default 1e-13 */
    double tol;               /* also converged when ||theta||^2 decreased by less than tol
                                 relative in an iteration; default 0 (off: the norm is flat
                                 to second order near the minimum, so a norm test stops
                                 with scales right only to sqrt(tol)) */
} minima_sym_canonical_params;

minima_sym_canonical_params minima_sym_canonical_default_params(void);

typedef struct {
    double norm_before;       /* ||theta||_2 */
    double norm_after;        /* ||A theta||_2 <= norm_before */
    int iterations;
    int converged;            /* 0 if max_iter was reached (the result is still better) */
    size_t n_degenerate;      /* units with zero fan-in (weights and bias) or zero fan-out:
                                 their orbit direction has no minimum; left at scale 1 */
} minima_sym_canonical_info;

/* The scales taking theta (NULL: model->theta) to the point of minimum
 * Euclidean norm of its orbit under the group (docs/symmetry.md); apply them with
 * minima_sym_apply. The minimum is unique when it exists (the squared norm
 * is a strictly convex function of the log scales), so every point of one
 * orbit gives the same representative, and applying the method to the
 * representative gives scales 1 (to step_tol).
 *
 * Layer-wise group. In t_k = log prod_{j<=k} alpha_j (k = 1..K-1, t_0 = t_K
 * = 0) the squared norm is
 *     f(t) = sum_k ||W_k||^2 e^{2(t_k - t_{k-1})} + sum_k ||b_k||^2 e^{2 t_k}.
 * Without biases the minimum is in closed form: every ||alpha_k W_k||_F
 * equals the geometric mean (prod_k ||W_k||_F)^{1/K}. With biases, damped
 * Newton on f (tridiagonal Hessian, positive definite; Armijo backtracking),
 * started from the better of the bias-free solution and t = 0.
 *
 * Per-neuron group. First the layer-wise solution, then sweeps over the
 * hidden layers: scaling unit h of layer k by c changes the squared norm by
 * c^2 a + b / c^2 with a = ||row h of W_k||^2 + b_k[h]^2 (its bias scales
 * with it) and b = ||column h of W_{k+1}||^2 (biases of later layers do not
 * change: only the unit's own bias does), minimised exactly by
 * c^2 = sqrt(b / a). Units of one layer do not interact, so a whole layer is
 * balanced at once; sweeps repeat until converged (block coordinate descent
 * on a smooth strictly convex function). Needs every layer's weights
 * non-zero (MINIMA_EINVAL otherwise). Interruptible; reports progress. */
minima_status minima_sym_canonical(const minima_model *model, const double *theta /* (P) or NULL */,
                                   const minima_sym_canonical_params *params,
                                   double *scales /* (n_units) */,
                                   minima_sym_canonical_info *info /* or NULL */);

/* ---- observational equivalence --------------------------------------- */

typedef struct {
    double max_abs_diff;      /* max over examples and outputs of |f_a(x) - f_b(x)| */
    double max_abs_output;    /* max |f_a(x)| over the same */
    double rel_diff;          /* max_abs_diff / max_abs_output (0 if both are 0) */
    size_t worst_example;     /* where max_abs_diff is reached */
    size_t n_examples;
} minima_sym_equivalence;

/* Compares the outputs of two models on every example of `data`. Two
 * MLPs must have the same widths, biases and activation (MINIMA_ESHAPE
 * otherwise); any two models the same numbers of inputs and outputs. Uses
 * the independent reference forward pass (minima_reference_forward), not
 * the engine, so it also checks the engine's inputs independently. */
minima_status minima_sym_check_equivalence(const minima_model *a, const minima_model *b,
                                           const minima_dataset *data,
                                           minima_sym_equivalence *result);

#ifdef __cplusplus
}
#endif
#endif
