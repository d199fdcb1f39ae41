/* minima/theorem.h — the theorems of Dinh et al. 2017, checked numerically
 * on real networks (docs/theorem.md).
 *
 * Each check computes both sides of one statement of the paper on a real
 * network and returns the numbers, the tolerance it used, the hypotheses
 * it verified (how close the point is to a critical point, the smallest
 * Hessian eigenvalue, the rank tolerance, ...) and a verdict:
 *
 *   thm1     main Thm 1, Def. 4-5, appendix B: T_alpha (and per-neuron
 *            rescaling) preserves the outputs, alpha over many decades,
 *            with biases.
 *   thm2     main Thm 2: the eps-region of a 1-hidden-layer net has
 *            infinite volume (a certified box B_inf(r, theta) and its
 *            images T_alpha^j(B); the log-volume lower bound grows with j).
 *   thm3     main Thm 3 / appendix E: grad L(A theta) = A^{-1} grad L(theta)
 *            and hess L(A theta) = A^{-1} hess L(theta) A^{-1}.
 *   thm4     main Thm 4: lambda_max and trace of the Hessian at T_alpha theta
 *            exceed any M.
 *   thm5     main Thm 5 = supplement Thm 2: at least r - min_k n_k
 *            eigenvalues of D_alpha H D_alpha exceed M (exact spectrum).
 *   sec4.3   §4.3: eps-sharpness at T_alpha theta, alpha = eps/||theta_1||,
 *            reaches (L(constant) - L(theta)) / (1 + L(theta)).
 *   sec5.1   §5.1: radial reparametrizations flip the flatness ranking of
 *            two minima; hess L_eta = J^T hess L J at a critical point,
 *            checked against finite differences.
 *   sec5.2   §5.2: standardized / whitened inputs folded into the first
 *            layer: same predictions, other input gradients and Hessian.
 *   appC     supplement Thm 1 / appendix C: ||grad L(alpha theta_1,
 *            theta_2/alpha)||^2 = alpha^-2 ||g_1||^2 + alpha^2 ||g_2||^2 -> inf.
 *   appD     appendix D: MSE / earth mover's rankings of two models change
 *            with a bijective change of representation of the targets;
 *            Gaussian log-likelihood rankings (with log|det|) do not.
 *
 * Networks. A minima_theorem_env supplies the networks the checks run on:
 * either built-in ones (minima_theorem_env_builtin: teacher data with
 * target noise, students trained by full-batch gradient descent and
 * polished by Newton steps to a true critical point — docs/theorem.md),
 * or the user's model and data (minima_theorem_env_user), on which a
 * check that does not apply says why (applicable = 0, `reason`).
 *
 * Graphs. The user's model may be any graph (minima/model.h: CNNs,
 * residual nets). thm1, thm3 and appC then use the rescaling group of the
 * graph (minima/graph_symmetry.h): its stage-wise T_alpha in place of the
 * layer-wise one and its random points in place of per-neuron maps; thm4
 * moves one class of the group (the one that rescales the weight with the
 * largest Hessian diagonal entry); sec5.1 draws its second minimum from
 * the group; appD needs only the outputs.
 * thm2, thm5, sec4.3 and sec5.2 build their maps from layers: on a
 * graph they are not applicable ("... is written for multilayer
 * perceptrons; this model is a graph (N nodes)"). A graph whose group has
 * no free class makes the group's checks not applicable. The tanh gate
 * below (run_unmet_hypotheses) is for perceptrons: a graph's group fixes
 * the channels of its tanh nodes, so its maps preserve the function.
 *
 * Verdicts. A check fails when its statement is violated beyond the
 * tolerance — and, on purpose, when a hypothesis of the theorem is broken
 * (a tanh network is not homogeneous; a product of alphas other than 1; a
 * non-critical point for a statement about critical points when
 * grad_tol is raised to force the check): the tests prove each check can
 * fail. The library never prints; results carry a human `details` string
 * and named numbers for JSON. */
#ifndef MINIMA_THEOREM_H
#define MINIMA_THEOREM_H

#include <stddef.h>
#include <stdint.h>

#include "minima/data.h"
#include "minima/model.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t seed;            /* data, teachers, probes; default 1 */
    double alpha_decades;     /* thm1, thm3, appC: alpha = 10^t, |t| <= alpha_decades;
                                 default 6 */
    int alpha_points;         /* values of t, evenly spaced; default 13 */
    double alpha_product;     /* prod_k alpha_k used by thm1 and thm3: 1 is the theorem's
                                 hypothesis; any other value breaks it on purpose
                                 (tests; on a graph the parameters of the nodes writing
                                 the output get the extra factor); default 1 */
    double m_min, m_max;      /* thm4, thm5: M = m_min .. m_max, one value a decade;
                                 default 1e2, 1e8 */
    double equiv_tol;         /* thm1, sec5.2: max |f - f'| / max |f|; default 1e-11 */
    double identity_tol;      /* thm3, appC: relative error of the identities; default 1e-10 */
    double grad_tol;          /* ||grad L|| below which theta counts as a critical point
                                 (thm4, thm5, sec4.3, sec5.1); default 1e-8 */
    double rank_tol;          /* thm5: eigenvalues > rank_tol * lambda_max count in the rank;
                                 default 1e-9 */
    double fd_step;           /* sec5.1: central-difference step (unit directions); default 1e-5 */
    double fd_tol;            /* sec5.1: relative error of J^T H J v vs finite differences;
                                 default 1e-5 */
    double change_tol;        /* sec5.2, appD: a quantity "changes" when it moves by more
                                 than this, relative; default 1e-3 */
    double volume_eps;        /* thm2: eps of C(L, theta, eps), in loss units; default 1e-2 */
    int volume_j;             /* thm2: boxes T_alpha^j(B), j = 0..volume_j; default 20 */
    double sharpness_eps;     /* sec4.3: radius of the ball; default 1e-2 */
    int n_directions;         /* thm3, sec5.1: random directions; default 4 */
    size_t max_dense;         /* thm5 (and exact traces): largest P for a dense Hessian;
                                 default 2000 */
    double newton_tol;        /* built-in networks: polish until ||grad L|| <= this;
                                 default 1e-11 */
    size_t max_products;      /* thm4, thm5, sec5.1, sec5.2: Lanczos gives up (the check
                                 fails with "no convergence") after this many
                                 Hessian-vector products; default 10000 */
    int run_unmet_hypotheses; /* a user's perceptron whose activation is not homogeneous
                                 (tanh): 0 (default) reports the rescaling checks as not
                                 applicable; 1 runs them anyway, to see them fail. (A
                                 graph's checks use its rescaling group, which fixes
                                 tanh channels: no gate.) */
} minima_theorem_params;

minima_theorem_params minima_theorem_default_params(void);
/* MINIMA_EINVAL naming the field if a value is out of its domain. */
minima_status minima_theorem_check_params(const minima_theorem_params *p);

#define MINIMA_THEOREM_MAX_NUMBERS 48

typedef struct {
    char name[40];
    double value;
} minima_theorem_number;

typedef struct {
    const char *name;         /* "thm1", ... (static) */
    const char *title;        /* one line (static) */
    int applicable;           /* 0: the check does not apply here; see reason */
    char reason[256];         /* why it does not apply ("" when it does) */
    int passed;               /* applicable and every verified inequality held */
    double tolerance;         /* the main tolerance of the verdict */
    /* hypotheses, NaN when not computed */
    double loss;              /* L(theta) */
    double grad_norm;         /* ||grad L(theta)|| */
    double lambda_min;        /* smallest Hessian eigenvalue at theta */
    char hypotheses[512];     /* the hypotheses verified, in words and numbers */
    char details[1536];       /* the result for humans */
    int n_numbers;
    minima_theorem_number numbers[MINIMA_THEOREM_MAX_NUMBERS];  /* for JSON */
    double seconds;           /* wall-clock time of the check */
} minima_theorem_result;

/* ---- the networks the checks run on -------------------------------------- */

typedef struct minima_theorem_env minima_theorem_env;

/* Which network a check uses. */
typedef enum {
    MINIMA_THEOREM_NET_DEEP = 0,  /* built-in: 4-8-6-3 with biases, MSE, target noise:
                                     a critical point with L > 0 */
    MINIMA_THEOREM_NET_SHALLOW,   /* built-in: 3-5-3 without biases (n_1 = n_2),
                                     target noise, trained */
    MINIMA_THEOREM_NET_EXACT,     /* built-in: 3-6-4-2 without biases at its teacher,
                                     noiseless targets: an exact minimum, L = 0 */
    MINIMA_THEOREM_N_NETS
} minima_theorem_net;

/* Built-in networks, built (trained and polished) on first use with the
 * params' seed and newton_tol. p NULL: defaults (copied). */
minima_status minima_theorem_env_builtin(minima_theorem_env **out, const minima_theorem_params *p);
/* The user's model and data for every check (borrowed: keep them alive
 * and unchanged while the env exists). A perceptron or any graph (see
 * "Graphs" above). */
minima_status minima_theorem_env_user(minima_theorem_env **out, const minima_model *model,
                                      const minima_dataset *data);
void minima_theorem_env_free(minima_theorem_env *env);
int minima_theorem_env_is_user(const minima_theorem_env *env);

/* How a network was obtained (built-in) or found (user). */
typedef struct {
    double loss;              /* L(theta) */
    double grad_norm;         /* ||grad L(theta)|| */
    int gd_epochs;            /* full-batch gradient-descent epochs (built-in; else 0) */
    int newton_steps;         /* Newton polishing steps (built-in; else 0) */
} minima_theorem_net_info;

/* The model and data of a network (built on first use; owned by env). */
minima_status minima_theorem_env_net(minima_theorem_env *env, minima_theorem_net which,
                                     const minima_model **model, const minima_dataset **data,
                                     minima_theorem_net_info *info /* or NULL */);

/* ---- the checks ---------------------------------------------------------- */

typedef struct {
    const char *name;         /* "thm1" ... */
    const char *title;        /* one line */
    const char *paper;        /* "main Thm 1, appendix B" */
    minima_status (*run)(minima_theorem_env *env, const minima_theorem_params *p,
                         minima_theorem_result *out);
} minima_theorem_check;

/* The checks in the order of docs/theorem.md; *count gets their number. */
const minima_theorem_check *minima_theorems(size_t *count);
/* The check of that name, or NULL. */
const minima_theorem_check *minima_theorem_find(const char *name);

/* Runs one check: clears *out, sets name/title, runs it, fills seconds.
 * A status other than MINIMA_OK means the computation itself failed
 * (memory, interruption, no convergence); a false theorem is MINIMA_OK with
 * passed = 0. p NULL: defaults. */
minima_status minima_theorem_run(const minima_theorem_check *check, minima_theorem_env *env,
                                 const minima_theorem_params *p, minima_theorem_result *out);

/* Looks up a named number of a result (NaN if absent). */
double minima_theorem_number_get(const minima_theorem_result *r, const char *name);

#ifdef __cplusplus
}
#endif
#endif
