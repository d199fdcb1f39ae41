/* minima/graph_stage.h — the minimum-norm point of a graph's parameters over
 * the STAGE-WISE maps only (docs/symmetry.md, "On the command line": `minima
 * rescale --canonical --group layer` on a graph).
 *
 * minima/graph_symmetry.h defines the stages of a graph and the stage-wise
 * map T_alpha (minima_gsym_stage_u): every free class of stage s gets the
 * factor alpha_1 ... alpha_s, i.e. the log-factor t_s = log(alpha_1 ...
 * alpha_s). Its canonical point (minima_gsym_canonical) minimises the norm
 * over the whole group, one log-factor per class; this one minimises it over
 * the S stage log-factors t only:
 *
 *     F(t) = || D(u(t)) .* theta ||^2,   u(t)_c = t_{stage(c)},
 *
 * the analogue for graphs of the perceptron's layer-wise canonical point
 * (minima_sym_canonical with MINIMA_SYM_LAYER). Every parameter reads one
 * stage (or the input, factor 1) and writes one stage (or the output,
 * factor 1): log D_p = t_out(p) - t_in(p). Grouping the parameters by that
 * pair (a, b) gives
 *
 *     F(t) = sum_{a,b} W_ab exp(2 (t_a - t_b)),  W_ab = sum of theta_p^2 over the pair,
 *
 * with t = 0 for the input and output: an (S+1) x (S+1) matrix, so each
 * Newton step costs O(S^2), whatever the number of parameters. */
#ifndef MINIMA_GRAPH_STAGE_H
#define MINIMA_GRAPH_STAGE_H

#include "minima/graph_symmetry.h"
#include "minima/model.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The stage-wise canonical point of theta (NULL: model->theta).
 *
 * Method: F as above (theta divided by its largest |entry|: the same
 * minimiser, no overflow), Newton's method with the exact gradient and
 * Hessian, Jacobi-scaled Cholesky (the diagonal step should it fail),
 * Armijo backtracking while some step component exceeds 1e-3, the full
 * step after; converged when ||grad F|| <= 1e-13 F, MINIMA_ENOCONV after
 * 100 steps (the outputs then hold the last, better, iterate).
 *
 * Degenerate stages: draw a directed graph on the stages and FIXED with an
 * edge from t_in(p) to t_out(p) for every non-zero parameter whose two
 * stages differ; a stage not on a directed cycle through FIXED has no
 * minimum along its direction (all its parameters zero, or non-zero on one
 * side only) and is held at t = 0, counted in info->n_degenerate (stages,
 * not classes). The other stages have a unique minimiser.
 *
 * Outputs: alpha (n_stages + 1 factors of the stage-wise map, product 1,
 * or NULL), u (n_classes log-factors of that map, as minima_gsym_stage_u
 * gives them for alpha), theta_out (D(u) .* theta, P values, may equal
 * theta, or NULL), info (norms, steps, the final gradient norm, or NULL).
 *
 * MINIMA_EINVAL for NULL g/model/u or a model g was not made for;
 * MINIMA_ENONFINITE for a non-finite theta; MINIMA_ERANGE if F overflows;
 * MINIMA_ENOMEM. */
minima_status minima_gsym_stage_canonical(const minima_gsym *g, const minima_model *model,
                                          const double *theta /* (P) or NULL */,
                                          double *alpha /* (n_stages + 1) or NULL */,
                                          double *u /* (n_classes) */,
                                          double *theta_out /* (P) or NULL */,
                                          minima_gsym_canonical_info *info /* or NULL */);

#ifdef __cplusplus
}
#endif
#endif
