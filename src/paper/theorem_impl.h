/* theorem_impl.h — internals shared by the theorem checks (src/theorem*.c). */
#ifndef MINIMA_THEOREM_IMPL_H
#define MINIMA_THEOREM_IMPL_H

#include <stddef.h>

#include "minima/net.h"
#include "minima/theorem.h"

/* The checks, one per statement of docs/theorem.md. */
minima_status minima_thm_check_thm1(minima_theorem_env *env, const minima_theorem_params *p,
                                    minima_theorem_result *out);
minima_status minima_thm_check_thm2(minima_theorem_env *env, const minima_theorem_params *p,
                                    minima_theorem_result *out);
minima_status minima_thm_check_thm3(minima_theorem_env *env, const minima_theorem_params *p,
                                    minima_theorem_result *out);
minima_status minima_thm_check_thm4(minima_theorem_env *env, const minima_theorem_params *p,
                                    minima_theorem_result *out);
minima_status minima_thm_check_thm5(minima_theorem_env *env, const minima_theorem_params *p,
                                    minima_theorem_result *out);
minima_status minima_thm_check_sec43(minima_theorem_env *env, const minima_theorem_params *p,
                                     minima_theorem_result *out);
minima_status minima_thm_check_sec51(minima_theorem_env *env, const minima_theorem_params *p,
                                     minima_theorem_result *out);
minima_status minima_thm_check_sec52(minima_theorem_env *env, const minima_theorem_params *p,
                                     minima_theorem_result *out);
minima_status minima_thm_check_appc(minima_theorem_env *env, const minima_theorem_params *p,
                                    minima_theorem_result *out);
minima_status minima_thm_check_appd(minima_theorem_env *env, const minima_theorem_params *p,
                                    minima_theorem_result *out);

/* Built-in networks (theorem_builtin.c): the model and data of `which`,
 * trained and polished as documented in theorem.h; *gd_epochs and
 * *newton_steps say what it took. */
minima_status minima_thm_build(minima_theorem_net which, const minima_theorem_params *p,
                               minima_model **model, minima_dataset **data, int *gd_epochs,
                               int *newton_steps);

/* ---- result helpers -------------------------------------------------- */

void minima_thm_number(minima_theorem_result *r, const char *name, double value);
void minima_thm_detail(minima_theorem_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void minima_thm_hypothesis(minima_theorem_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* applicable = 0 with the reason. */
void minima_thm_not_applicable(minima_theorem_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Graphs. The checks written for the layers of a multilayer perceptron
 * (n_layers, widths, weight_offset, bias_offset, minima/symmetry.h) call
 * this first: on a graph (model->is_mlp = 0) it makes the check not
 * applicable with "<what> is written for multilayer perceptrons; this model
 * is a graph (N nodes)" and returns 0; on a perceptron it returns 1. */
int minima_thm_require_mlp(minima_theorem_result *r, const minima_model *model, const char *what);

/* ---- numerical helpers ----------------------------------------------- */

/* ReLU or leaky ReLU: non-negative homogeneous. */
int minima_thm_homogeneous(const minima_model *model);
/* The layer map with RAW factors alpha (K), no product constraint:
 * W_k -> alpha_k W_k, b_k -> (prod_{j<=k} alpha_j) b_k. diag (P) receives
 * the factor of each parameter; theta_out = diag .* theta_in when both
 * are given (either may be NULL; out may equal in). */
void minima_thm_layer_map(const minima_model *model, const double *alpha, const double *theta_in,
                          double *theta_out, double *diag);
/* Largest and smallest Hessian eigenvalues at the net's anchor (Lanczos,
 * relative residual tol, at most max_products products: MINIMA_ENOCONV
 * past them). Either output may be NULL. */
minima_status minima_thm_extremes(minima_net *net, double tol, uint64_t seed, size_t max_products,
                                  double *lmax, double *lmin);
/* Appends "network: NAME d0-..-dK, P params, N examples, L = .., ||grad L|| = ..
 * (GD epochs, Newton steps)" to the hypotheses and sets r->loss, r->grad_norm;
 * for a graph its node count, arch string and activation node kinds. */
void minima_thm_describe_net(minima_theorem_result *r, const minima_model *model,
                             const minima_dataset *data, const minima_theorem_net_info *info);
/* Euclidean norm. */
double minima_thm_norm(const double *x, size_t n);
/* ||a - b|| / max(||b||, tiny). */
double minima_thm_rel_err(const double *a, const double *b, size_t n);
/* The critical-point hypothesis: whether ||g|| <= grad_tol; for a user
 * network a violation makes the check not applicable (returns 0 with the
 * reason set), for a built-in one it is recorded and the check fails
 * (returns 1, *ok = 0). */
int minima_thm_require_critical(minima_theorem_env *env, const minima_theorem_params *p,
                                minima_theorem_result *r, double grad_norm, int *ok);

#endif
