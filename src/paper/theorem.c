/* theorem.c — the registry of theorem checks, their parameters, the
 * environment of networks they run on, and the helpers they share. The
 * checks themselves live in src/theorem_<group>.c. */
#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "minima/alloc.h"
#include "minima/eigen.h"
#include "minima/linop.h"
#include "paper/theorem_impl.h"

minima_theorem_params minima_theorem_default_params(void)
{
    minima_theorem_params p;
    memset(&p, 0, sizeof p);
    p.seed = 1;
    p.max_products = 10000;
    p.alpha_decades = 6;
    p.alpha_points = 13;
    p.alpha_product = 1;
    p.m_min = 1e2;
    p.m_max = 1e8;
    p.equiv_tol = 1e-11;
    p.identity_tol = 1e-10;
    p.grad_tol = 1e-8;
    p.rank_tol = 1e-9;
    p.fd_step = 1e-5;
    p.fd_tol = 1e-5;
    p.change_tol = 1e-3;
    p.volume_eps = 1e-2;
    p.volume_j = 20;
    p.sharpness_eps = 1e-2;
    p.n_directions = 4;
    p.max_dense = 2000;
    p.newton_tol = 1e-11;
    return p;
}

#define POSITIVE(field) do { if (!(p->field > 0) || !isfinite((double)p->field)) \
    MINIMA_FAIL(MINIMA_EINVAL, "theorem params: " #field " = %g, expected a finite value > 0", \
                (double)p->field); } while (0)

minima_status minima_theorem_check_params(const minima_theorem_params *p)
{
    if (!p) MINIMA_FAIL(MINIMA_EINVAL, "theorem params: NULL");
    POSITIVE(alpha_decades);
    POSITIVE(alpha_product);
    POSITIVE(m_min);
    POSITIVE(m_max);
    POSITIVE(equiv_tol);
    POSITIVE(identity_tol);
    POSITIVE(grad_tol);
    POSITIVE(rank_tol);
    POSITIVE(fd_step);
    POSITIVE(fd_tol);
    POSITIVE(change_tol);
    POSITIVE(volume_eps);
    POSITIVE(sharpness_eps);
    POSITIVE(newton_tol);
    if (p->max_products < 3)
        MINIMA_FAIL(MINIMA_EINVAL, "theorem params: max_products = %zu, expected at least 3", p->max_products);
    if (p->alpha_points < 2 || p->alpha_points > 1000)
        MINIMA_FAIL(MINIMA_EINVAL, "theorem params: alpha_points = %d, expected 2..1000",
                    p->alpha_points);
    if (p->m_max < p->m_min)
        MINIMA_FAIL(MINIMA_EINVAL, "theorem params: m_max = %g < m_min = %g", p->m_max, p->m_min);
    if (p->volume_j < 1 || p->volume_j > 1000000)
        MINIMA_FAIL(MINIMA_EINVAL, "theorem params: volume_j = %d, expected 1..1e6", p->volume_j);
    if (p->n_directions < 1 || p->n_directions > 1000)
        MINIMA_FAIL(MINIMA_EINVAL, "theorem params: n_directions = %d, expected 1..1000",
                    p->n_directions);
    return MINIMA_OK;
}

/* ---- registry -------------------------------------------------------- */

static const minima_theorem_check checks[] = {
    {"thm1", "T_alpha preserves the function (homogeneity, with biases)",
     "main Thm 1, Def. 4-5, appendix B", minima_thm_check_thm1},
    {"thm2", "the eps-region of a 1-hidden-layer net has infinite volume",
     "main Thm 2 (§4.1)", minima_thm_check_thm2},
    {"thm3", "gradient and Hessian at A theta are A^-1 g and A^-1 H A^-1",
     "main Thm 3 (§4.2), appendix E", minima_thm_check_thm3},
    {"thm4", "lambda_max and trace of the Hessian at T_alpha theta exceed any M",
     "main Thm 4 (§4.2)", minima_thm_check_thm4},
    {"thm5", "at least r - min_k n_k eigenvalues of D H D exceed M",
     "main Thm 5 = supplement Thm 2 (appendix E)", minima_thm_check_thm5},
    {"sec4.3", "eps-sharpness at T_alpha theta reaches the constant function's loss",
     "main §4.3", minima_thm_check_sec43},
    {"sec5.1", "radial reparametrizations flip flatness rankings; hess L_eta = J^T H J",
     "main §5.1, appendix A", minima_thm_check_sec51},
    {"sec5.2", "folded input standardization/whitening: same predictions, other curvature",
     "main §5.2", minima_thm_check_sec52},
    {"appC", "the loss of a rectified net is not Lipschitz: grad norm -> inf along the orbit",
     "supplement Thm 1, appendix C", minima_thm_check_appc},
    {"appD", "MSE/EMD rankings depend on the representation, log-likelihood rankings do not",
     "appendix D", minima_thm_check_appd},
};

const minima_theorem_check *minima_theorems(size_t *count)
{
    if (count) *count = sizeof checks / sizeof checks[0];
    return checks;
}

const minima_theorem_check *minima_theorem_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (strcmp(checks[i].name, name) == 0) return &checks[i];
    return NULL;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const minima_model *user_model(const minima_theorem_env *env);

/* The checks whose statement rests on phi(a z) = a phi(z) for a > 0: the
 * rescaling T_alpha (or a per-neuron rescaling) preserves the function.
 * On a user's network whose activation lacks it they do not apply. */
static int needs_homogeneity(const char *name)
{
    static const char *const names[] = {"thm1", "thm2", "thm3", "thm4", "thm5",
                                        "sec4.3", "sec5.1", "appC"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i])) return 1;
    return 0;
}

minima_status minima_theorem_run(const minima_theorem_check *check, minima_theorem_env *env,
                                 const minima_theorem_params *p, minima_theorem_result *out)
{
    if (!check || !env || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_theorem_run: NULL argument");
    minima_theorem_params def = minima_theorem_default_params();
    if (!p) p = &def;
    MINIMA_TRY(minima_theorem_check_params(p));
    memset(out, 0, sizeof *out);
    out->name = check->name;
    out->title = check->title;
    out->applicable = 1;
    out->loss = out->grad_norm = out->lambda_min = NAN;
    const minima_model *um = user_model(env);
    /* A graph's rescaling group (graph_symmetry.h) already fixes the
     * channels of its non-homogeneous (tanh) nodes, so its maps preserve
     * the function whatever the activations: the checks that run on
     * graphs use that group, and the others say they are written for
     * multilayer perceptrons. The gate is for perceptrons only, whose
     * layer maps rescale every hidden unit. */
    if (um && um->is_mlp && needs_homogeneity(check->name) && !minima_thm_homogeneous(um) &&
        !p->run_unmet_hypotheses) {
        minima_thm_not_applicable(out, "the network's activation %s (source: %s) is not non-negative "
                                  "homogeneous (phi(a z) != a phi(z) for a > 0), so rescaling the "
                                  "layers changes the function; the statement is about rectified "
                                  "(relu, leaky_relu) networks", minima_activation_name(um->activation),
                                  minima_provenance_name(um->activation_source));
        return MINIMA_OK;
    }
    double t0 = now_seconds();
    minima_status s = check->run(env, p, out);
    out->seconds = now_seconds() - t0;
    if (!out->applicable) out->passed = 0;
    return s;
}

double minima_theorem_number_get(const minima_theorem_result *r, const char *name)
{
    for (int i = 0; r && i < r->n_numbers; i++)
        if (strcmp(r->numbers[i].name, name) == 0) return r->numbers[i].value;
    return NAN;
}

/* ---- environment ------------------------------------------------------ */

struct minima_theorem_env {
    int user;
    minima_theorem_params params;
    const minima_model *user_model;
    const minima_dataset *user_data;
    double user_loss, user_grad_norm;  /* NaN until computed */
    minima_model *model[MINIMA_THEOREM_N_NETS];
    minima_dataset *data[MINIMA_THEOREM_N_NETS];
    minima_theorem_net_info info[MINIMA_THEOREM_N_NETS];
};

minima_status minima_theorem_env_builtin(minima_theorem_env **out, const minima_theorem_params *p)
{
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "minima_theorem_env_builtin: NULL out");
    *out = NULL;
    minima_theorem_params def = minima_theorem_default_params();
    if (!p) p = &def;
    MINIMA_TRY(minima_theorem_check_params(p));
    minima_theorem_env *env = minima_calloc(1, sizeof *env);
    if (!env) MINIMA_FAIL(MINIMA_ENOMEM, "theorem env: out of memory");
    env->params = *p;
    *out = env;
    return MINIMA_OK;
}

minima_status minima_theorem_env_user(minima_theorem_env **out, const minima_model *model,
                                      const minima_dataset *data)
{
    if (!out || !model || !data) MINIMA_FAIL(MINIMA_EINVAL, "minima_theorem_env_user: NULL argument");
    *out = NULL;
    minima_theorem_env *env = minima_calloc(1, sizeof *env);
    if (!env) MINIMA_FAIL(MINIMA_ENOMEM, "theorem env: out of memory");
    env->user = 1;
    env->params = minima_theorem_default_params();
    env->user_model = model;
    env->user_data = data;
    env->user_loss = env->user_grad_norm = NAN;
    *out = env;
    return MINIMA_OK;
}

void minima_theorem_env_free(minima_theorem_env *env)
{
    if (!env) return;
    for (int i = 0; i < MINIMA_THEOREM_N_NETS; i++) {
        minima_model_free(env->model[i]);
        minima_dataset_free(env->data[i]);
    }
    minima_free(env);
}

int minima_theorem_env_is_user(const minima_theorem_env *env) { return env && env->user; }

static const minima_model *user_model(const minima_theorem_env *env)
{
    return env && env->user ? env->user_model : NULL;
}

/* Loss and gradient norm of a model on its data at its own parameters. */
static minima_status loss_and_grad_norm(const minima_model *model, const minima_dataset *data,
                                        double *loss, double *gnorm)
{
    minima_net *net = NULL;
    double *g = NULL;
    minima_status s = minima_net_create(&net, model, data, NULL);
    if (s != MINIMA_OK) goto fail;
    g = minima_alloc(model->n_params, sizeof *g);
    if (!g) { s = minima_error(MINIMA_ENOMEM, "theorem: out of memory"); goto fail; }
    if ((s = minima_net_gradient(net, NULL, loss, g)) != MINIMA_OK) goto fail;
    *gnorm = minima_thm_norm(g, model->n_params);
fail:
    minima_free(g);
    minima_net_free(net);
    return s;
}

minima_status minima_theorem_env_net(minima_theorem_env *env, minima_theorem_net which,
                                     const minima_model **model, const minima_dataset **data,
                                     minima_theorem_net_info *info)
{
    if (!env || !model || !data || which < 0 || which >= MINIMA_THEOREM_N_NETS)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_theorem_env_net: bad argument");
    if (env->user) {
        if (isnan(env->user_grad_norm))
            MINIMA_TRY(loss_and_grad_norm(env->user_model, env->user_data, &env->user_loss,
                                          &env->user_grad_norm));
        *model = env->user_model;
        *data = env->user_data;
        if (info) {
            memset(info, 0, sizeof *info);
            info->loss = env->user_loss;
            info->grad_norm = env->user_grad_norm;
        }
        return MINIMA_OK;
    }
    if (!env->model[which]) {
        minima_model *m = NULL;
        minima_dataset *d = NULL;
        int epochs = 0, steps = 0;
        MINIMA_TRY(minima_thm_build(which, &env->params, &m, &d, &epochs, &steps));
        double loss = NAN, gn = NAN;
        minima_status s = loss_and_grad_norm(m, d, &loss, &gn);
        if (s != MINIMA_OK) {
            minima_model_free(m);
            minima_dataset_free(d);
            return s;
        }
        env->model[which] = m;
        env->data[which] = d;
        env->info[which].loss = loss;
        env->info[which].grad_norm = gn;
        env->info[which].gd_epochs = epochs;
        env->info[which].newton_steps = steps;
    }
    *model = env->model[which];
    *data = env->data[which];
    if (info) *info = env->info[which];
    return MINIMA_OK;
}

/* ---- result helpers ---------------------------------------------------- */

void minima_thm_number(minima_theorem_result *r, const char *name, double value)
{
    if (r->n_numbers >= MINIMA_THEOREM_MAX_NUMBERS) return;
    minima_theorem_number *n = &r->numbers[r->n_numbers++];
    snprintf(n->name, sizeof n->name, "%s", name);
    n->value = value;
}

static void append(char *buf, size_t size, const char *fmt, va_list ap)
{
    size_t len = strlen(buf);
    if (len + 1 >= size) return;
    vsnprintf(buf + len, size - len, fmt, ap);
}

void minima_thm_detail(minima_theorem_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    append(r->details, sizeof r->details, fmt, ap);
    va_end(ap);
}

void minima_thm_hypothesis(minima_theorem_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    append(r->hypotheses, sizeof r->hypotheses, fmt, ap);
    va_end(ap);
}

void minima_thm_not_applicable(minima_theorem_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r->reason[0] = '\0';
    append(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
    r->applicable = 0;
    r->passed = 0;
}

int minima_thm_require_mlp(minima_theorem_result *r, const minima_model *model, const char *what)
{
    if (model->is_mlp) return 1;
    minima_thm_not_applicable(r, "%s is written for multilayer perceptrons; this model is a graph "
                              "(%d nodes)", what, model->n_nodes);
    return 0;
}

/* ---- numerical helpers ------------------------------------------------- */

int minima_thm_homogeneous(const minima_model *model)
{
    return model->activation == MINIMA_ACT_RELU || model->activation == MINIMA_ACT_LEAKY_RELU;
}

void minima_thm_layer_map(const minima_model *model, const double *alpha, const double *theta_in,
                          double *theta_out, double *diag)
{
    double prod = 1;
    for (int k = 0; k < model->n_layers; k++) {
        prod *= alpha[k];
        size_t w0 = model->weight_offset[k], nw = minima_model_layer_weights(model, k);
        for (size_t i = 0; i < nw; i++) {
            if (diag) diag[w0 + i] = alpha[k];
            if (theta_in && theta_out) theta_out[w0 + i] = alpha[k] * theta_in[w0 + i];
        }
        if (model->has_bias) {
            size_t b0 = model->bias_offset[k], nb = (size_t)model->widths[k + 1];
            for (size_t i = 0; i < nb; i++) {
                if (diag) diag[b0 + i] = prod;
                if (theta_in && theta_out) theta_out[b0 + i] = prod * theta_in[b0 + i];
            }
        }
    }
}

minima_status minima_thm_extremes(minima_net *net, double tol, uint64_t seed, size_t max_products,
                                  double *lmax, double *lmin)
{
    minima_linop *op = NULL;
    minima_eigs_result res;
    memset(&res, 0, sizeof res);
    minima_status s = minima_linop_hessian(&op, net);
    if (s != MINIMA_OK) return s;
    minima_eigs_params ep = minima_eigs_default_params();
    ep.k_top = lmax ? 1 : 0;
    ep.k_bottom = lmin ? 1 : 0;
    ep.tol = tol;
    ep.seed = seed;
    ep.max_products = max_products;
    ep.verify = 0;
    s = minima_eigs(op, &ep, &res);
    if (s == MINIMA_OK) {
        if (lmax) *lmax = res.top[0];
        if (lmin) *lmin = res.bottom[0];
    }
    minima_eigs_result_free(&res);
    minima_linop_free(op);
    return s;
}

/* The activation node kinds of a graph, e.g. "relu, tanh" ("none"). */
static void graph_activations(const minima_model *model, char *buf, size_t size)
{
    static const minima_node_kind kinds[] = {MINIMA_NODE_RELU, MINIMA_NODE_LEAKY_RELU,
                                             MINIMA_NODE_TANH};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        int present = 0;
        for (int i = 1; i < model->n_nodes; i++) present |= model->nodes[i].kind == kinds[k];
        if (!present || used + 1 >= size) continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "",
                         minima_node_kind_name(kinds[k]));
        if (n > 0) used += (size_t)n;
    }
    if (!used) snprintf(buf, size, "none");
}

void minima_thm_describe_net(minima_theorem_result *r, const minima_model *model,
                             const minima_dataset *data, const minima_theorem_net_info *info)
{
    char arch[160];
    minima_model_arch_string(model, arch, sizeof arch);
    if (strlen(arch) > 120) strcpy(arch + 117, "...");   /* the hypotheses have 512 characters */
    r->loss = info->loss;
    r->grad_norm = info->grad_norm;
    if (model->is_mlp) {
        minima_thm_hypothesis(r, "network %s %s (%s, %s), P = %zu, N = %zu, L = %.6g, ||grad L|| = %.3g",
                              data->name ? data->name : "", arch, model->has_bias ? "biases" : "no bias",
                              minima_activation_name(model->activation), model->n_params, data->n,
                              info->loss, info->grad_norm);
    } else {
        char acts[64];
        graph_activations(model, acts, sizeof acts);
        minima_thm_hypothesis(r, "network %s, a graph of %d nodes %s (activations: %s), P = %zu, "
                              "N = %zu, L = %.6g, ||grad L|| = %.3g", data->name ? data->name : "",
                              model->n_nodes, arch, acts, model->n_params, data->n, info->loss,
                              info->grad_norm);
    }
    if (info->gd_epochs || info->newton_steps)
        minima_thm_hypothesis(r, " (%d GD epochs, %d Newton steps)", info->gd_epochs,
                              info->newton_steps);
    minima_thm_hypothesis(r, ". ");
}

double minima_thm_norm(const double *x, size_t n)
{
    return cblas_dnrm2((int)n, x, 1);
}

double minima_thm_rel_err(const double *a, const double *b, size_t n)
{
    double d = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        nb += b[i] * b[i];
    }
    return sqrt(d) / fmax(sqrt(nb), 1e-300);
}

int minima_thm_require_critical(minima_theorem_env *env, const minima_theorem_params *p,
                                minima_theorem_result *r, double grad_norm, int *ok)
{
    minima_thm_hypothesis(r, "critical point: ||grad L|| = %.3g (<= %.3g required). ",
                          grad_norm, p->grad_tol);
    if (grad_norm <= p->grad_tol) return 1;
    if (minima_theorem_env_is_user(env)) {
        minima_thm_not_applicable(r, "needs a critical point (a minimum): ||grad L|| = %.3g > "
                                  "grad_tol = %.3g", grad_norm, p->grad_tol);
        return 0;
    }
    minima_thm_detail(r, "HYPOTHESIS BROKEN: not a critical point (||grad L|| = %.3g). ", grad_norm);
    *ok = 0;
    return 1;
}
