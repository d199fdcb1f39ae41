/* theorem_rescale.c — the exact consequences of rescaling symmetry:
 * observational equivalence (main Thm 1, appendix B), the transformation
 * of gradient and Hessian (main Thm 3, appendix E), and the unbounded
 * gradient along the orbit (supplement Thm 1, appendix C). */
#include <math.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/graph_symmetry.h"
#include "minima/rng.h"
#include "minima/symmetry.h"
#include "paper/theorem_impl.h"

/* The layer factors for exponent t: alpha_1 = 10^t, the middle layers
 * alternate 10^{-t}, 10^{t}, and the last makes the product `product`. */
static void alphas_for(int K, double t, double product, double *alpha)
{
    double a = pow(10.0, t), prod = 1;
    for (int k = 0; k < K - 1; k++) {
        alpha[k] = (k % 2 == 0) ? a : 1 / a;
        prod *= alpha[k];
    }
    alpha[K - 1] = product / prod;
}

static double t_of(const minima_theorem_params *p, int i)
{
    return -p->alpha_decades + 2 * p->alpha_decades * i / (p->alpha_points - 1);
}

/* A non-critical point near theta: theta + 0.1 rms(theta) z. */
static void perturbed(const double *theta, size_t P, uint64_t seed, double *out)
{
    double rms = minima_thm_norm(theta, P) / sqrt((double)P);
    minima_rng rng;
    minima_rng_seed2(&rng, seed, 77);
    for (size_t i = 0; i < P; i++) out[i] = theta[i] + 0.1 * rms * minima_rng_normal(&rng);
}

static void report_activation(minima_theorem_result *r, const minima_model *m)
{
    minima_thm_hypothesis(r, "activation %s (%s). ", minima_activation_name(m->activation),
                          minima_thm_homogeneous(m) ? "non-negative homogeneous"
                                                    : "NOT homogeneous: the theorem does not hold");
}

/* ---- the maps A of Thm 1 and Thm 3 ---------------------------------------
 *
 * Perceptron: the layer-wise T_alpha (minima_thm_layer_map) and random
 * per-neuron maps (minima/symmetry.h). Graph: the same two families in the
 * graph's rescaling group (minima/graph_symmetry.h): the stage-wise T_alpha
 * (minima_gsym_stage_u; for a perceptron it is the layer-wise map) and
 * random points (minima_gsym_random_u; for a perceptron the same unit
 * scales as minima_sym_random_scales with the same seed). In both, the
 * layer/stage-wise map has alpha_1 = 10^t, the middle factors alternate
 * 10^{-t}, 10^{t}, and the last makes the product p->alpha_product: on a
 * perceptron the last layer's factor; on a graph the map with product 1
 * times alpha_product on every parameter of the nodes that write the
 * output (exactly what the raw layer map does to the last layer of a
 * perceptron: W_K and b_K both get the extra factor). */
typedef struct {
    const minima_model *model;
    const minima_theorem_params *p;
    int n_alpha;              /* K (perceptron) or n_stages + 1 (graph) */
    double *alpha;            /* (n_alpha) */
    double *scales;           /* perceptron: (n_units) */
    minima_gsym *g;           /* graph: its group; NULL for a perceptron */
    double *u;                /* graph: (n_classes) */
    unsigned char *head;      /* graph: (P) 1 for parameters of the nodes writing the output */
} rescale_maps;

static void maps_free(rescale_maps *mp)
{
    minima_free(mp->alpha);
    minima_free(mp->scales);
    minima_free(mp->u);
    minima_free(mp->head);
    minima_gsym_free(mp->g);
    memset(mp, 0, sizeof *mp);
}

static int is_parametric(minima_node_kind k)
{
    return k == MINIMA_NODE_LINEAR || k == MINIMA_NODE_CONV2D;
}

/* *n_free: the free dimensions (hidden units or free classes); 0 means the
 * group is trivial and the caller says the check does not apply. */
static minima_status maps_init(rescale_maps *mp, const minima_model *model,
                               const minima_theorem_params *p, int *n_free)
{
    memset(mp, 0, sizeof *mp);
    mp->model = model;
    mp->p = p;
    size_t P = model->n_params;
    if (model->is_mlp) {
        size_t nu = minima_sym_n_units(model);
        mp->n_alpha = model->n_layers;
        *n_free = (int)nu;
        mp->alpha = minima_alloc((size_t)mp->n_alpha, sizeof *mp->alpha);
        mp->scales = minima_alloc(nu ? nu : 1, sizeof *mp->scales);
        if (!mp->alpha || !mp->scales) goto oom;
        return MINIMA_OK;
    }
    minima_status s = minima_gsym_create(model, &mp->g);
    if (s != MINIMA_OK) { maps_free(mp); return s; }
    *n_free = mp->g->n_classes;
    mp->n_alpha = mp->g->n_stages + 1;
    mp->alpha = minima_alloc((size_t)mp->n_alpha, sizeof *mp->alpha);
    mp->u = minima_alloc(mp->g->n_classes ? (size_t)mp->g->n_classes : 1, sizeof *mp->u);
    mp->head = minima_calloc(P ? P : 1, 1);
    unsigned char *reach = minima_calloc((size_t)model->n_nodes, 1);
    if (!mp->alpha || !mp->u || !mp->head || !reach) { minima_free(reach); goto oom; }
    /* the nodes that write the output: from the output node backwards
     * through nodes without parameters, up to the first linear/conv2d */
    reach[model->n_nodes - 1] = 1;
    for (int i = model->n_nodes - 1; i > 0; i--) {
        if (!reach[i]) continue;
        const minima_node *nd = &model->nodes[i];
        if (is_parametric(nd->kind)) {
            memset(mp->head + nd->weight_offset, 1, nd->n_weight);
            if (nd->n_bias) memset(mp->head + nd->bias_offset, 1, nd->n_bias);
            continue;
        }
        for (int j = 0; j < nd->n_inputs; j++) reach[nd->inputs[j]] = 1;
    }
    minima_free(reach);
    return MINIMA_OK;
oom:
    maps_free(mp);
    MINIMA_FAIL(MINIMA_ENOMEM, "theorem: out of memory");
}

/* The layer/stage-wise map for exponent t (product p->alpha_product): its
 * diagonal (P). */
static minima_status maps_stage(rescale_maps *mp, double t, double *diag)
{
    const minima_model *model = mp->model;
    if (!mp->g) {
        alphas_for(mp->n_alpha, t, mp->p->alpha_product, mp->alpha);
        minima_thm_layer_map(model, mp->alpha, NULL, NULL, diag);
        return MINIMA_OK;
    }
    int S = mp->g->n_stages;
    alphas_for(mp->n_alpha, t, 1.0, mp->alpha);
    MINIMA_TRY(minima_gsym_stage_u(mp->g, mp->alpha, S, 1, 1e-12, mp->u, NULL));
    MINIMA_TRY(minima_gsym_diag(mp->g, model, mp->u, diag));
    if (mp->p->alpha_product != 1)
        for (size_t i = 0; i < model->n_params; i++)
            if (mp->head[i]) diag[i] *= mp->p->alpha_product;
    return MINIMA_OK;
}

/* A random point of the group (log-normal factors, log-spread `spread`):
 * its diagonal (P). */
static minima_status maps_random(rescale_maps *mp, uint64_t seed, double spread, double *diag)
{
    if (!mp->g) {
        MINIMA_TRY(minima_sym_random_scales(mp->model, seed, spread, NULL, mp->scales));
        minima_sym_diag(mp->model, mp->scales, diag);
        return MINIMA_OK;
    }
    MINIMA_TRY(minima_gsym_random_u(mp->g, seed, spread, NULL, mp->u));
    return minima_gsym_diag(mp->g, mp->model, mp->u, diag);
}

/* Hypotheses and applicability shared by Thm 1 and Thm 3: 0 when the check
 * does not apply (reason set). */
static int maps_hypotheses(minima_theorem_result *r, const rescale_maps *mp, int n_free)
{
    const minima_model *model = mp->model;
    if (!mp->g) {
        if (model->n_layers < 2) {
            minima_thm_not_applicable(r, "no hidden layer: T_alpha is the identity");
            return 0;
        }
        report_activation(r, model);
        minima_thm_hypothesis(r, "prod_k alpha_k = %.17g (1 required). ", mp->p->alpha_product);
        return 1;
    }
    if (n_free == 0) {
        minima_thm_not_applicable(r, "the graph's rescaling group is trivial: no free class (every "
                                  "channel is fixed by the input, the output or a tanh node), so "
                                  "there is no map to check");
        return 0;
    }
    char line[200];
    minima_gsym_describe(mp->g, model, line, sizeof line);
    minima_thm_hypothesis(r, "rescaling group: %s; %d stages; tanh channels fixed: every map "
                          "preserves the function. ", line, mp->g->n_stages);
    minima_thm_hypothesis(r, "prod_k alpha_k = %.17g (1 required). ", mp->p->alpha_product);
    return 1;
}

/* ---- main Thm 1 ---------------------------------------------------------- */

minima_status minima_thm_check_thm1(minima_theorem_env *env, const minima_theorem_params *p,
                                    minima_theorem_result *r)
{
    const minima_model *model;
    const minima_dataset *data;
    minima_theorem_net_info info;
    MINIMA_TRY(minima_theorem_env_net(env, MINIMA_THEOREM_NET_DEEP, &model, &data, &info));
    minima_thm_describe_net(r, model, data, &info);
    r->tolerance = p->equiv_tol;
    if (model->is_mlp && model->n_layers > 64)
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "thm1: %d layers, at most 64 supported", model->n_layers);
    rescale_maps mp;
    int n_free = 0;
    MINIMA_TRY(maps_init(&mp, model, p, &n_free));
    if (!maps_hypotheses(r, &mp, n_free)) {
        maps_free(&mp);
        return MINIMA_OK;
    }

    minima_model *copy = NULL;
    double *diag = NULL;
    minima_status s = MINIMA_OK;
    size_t P = model->n_params;
    if ((s = minima_model_copy(model, &copy))) goto fail;
    diag = minima_alloc(P ? P : 1, sizeof *diag);
    if (!diag) { s = minima_error(MINIMA_ENOMEM, "thm1: out of memory"); goto fail; }

    double worst_layer = 0, worst_neuron = 0, worst_t = 0, dmin = INFINITY, dmax = 0;
    minima_sym_equivalence eq;
    for (int i = 0; i < p->alpha_points + 4; i++) {
        double t = 0;
        if (i < p->alpha_points) {
            t = t_of(p, i);
            if ((s = maps_stage(&mp, t, diag))) goto fail;
        } else {   /* random points: log-normal factors spanning the same decades */
            double spread = log(10.0) * p->alpha_decades / 3;
            if ((s = maps_random(&mp, p->seed + (uint64_t)(i - p->alpha_points), spread, diag)))
                goto fail;
        }
        for (size_t j = 0; j < P; j++) {
            copy->theta[j] = diag[j] * model->theta[j];
            dmin = fmin(dmin, diag[j]);
            dmax = fmax(dmax, diag[j]);
        }
        if ((s = minima_sym_check_equivalence(model, copy, data, &eq))) goto fail;
        if (i < p->alpha_points) {
            if (!(eq.rel_diff <= worst_layer)) { worst_layer = eq.rel_diff; worst_t = t; }
        } else if (!(eq.rel_diff <= worst_neuron)) {
            worst_neuron = eq.rel_diff;
        }
        if (minima_interrupted()) { s = minima_error(MINIMA_EINTERRUPTED, "thm1: interrupted"); goto fail; }
    }
    double worst = fmax(worst_layer, worst_neuron);
    r->passed = worst <= p->equiv_tol;
    minima_thm_number(r, "alpha_min", pow(10.0, -p->alpha_decades));
    minima_thm_number(r, "alpha_max", pow(10.0, p->alpha_decades));
    minima_thm_number(r, "n_alpha", p->alpha_points);
    minima_thm_number(r, "n_examples", (double)data->n);
    minima_thm_number(r, "max_rel_diff_layer", worst_layer);
    minima_thm_number(r, "max_rel_diff_neuron", worst_neuron);
    minima_thm_number(r, "max_rel_diff", worst);
    minima_thm_number(r, "diag_min", dmin);
    minima_thm_number(r, "diag_max", dmax);
    if (mp.g) {
        minima_thm_number(r, "n_classes", mp.g->n_classes);
        minima_thm_number(r, "n_stages", mp.g->n_stages);
        minima_thm_detail(r, "%d stage-wise maps T_alpha of the graph's %d stages, alpha_1 = 10^t, "
                          "|t| <= %g, and 4 random points of its group (%d free classes), entries of "
                          "A in [%.2g, %.2g], on %zu examples (reference forward pass): max |f - f'| "
                          "/ max |f| = %.3g (stage-wise, worst at t = %g), %.3g (random points); "
                          "tolerance %.3g.", p->alpha_points, mp.g->n_stages, p->alpha_decades,
                          mp.g->n_classes, dmin, dmax, data->n, worst_layer, worst_t, worst_neuron,
                          p->equiv_tol);
    } else {
        minima_thm_detail(r, "%d layer-wise maps alpha_1 = 10^t, |t| <= %g (with biases: %s) and 4 "
                          "random per-neuron maps on %zu examples: max |f - f'| / max |f| = %.3g "
                          "(layer-wise, worst at t = %g), %.3g (per-neuron); tolerance %.3g.",
                          p->alpha_points, p->alpha_decades, model->has_bias ? "yes" : "no", data->n,
                          worst_layer, worst_t, worst_neuron, p->equiv_tol);
    }
fail:
    minima_free(diag);
    minima_model_free(copy);
    maps_free(&mp);
    return s;
}

/* ---- main Thm 3 ---------------------------------------------------------- */

minima_status minima_thm_check_thm3(minima_theorem_env *env, const minima_theorem_params *p,
                                    minima_theorem_result *r)
{
    const minima_model *model;
    const minima_dataset *data;
    minima_theorem_net_info info;
    MINIMA_TRY(minima_theorem_env_net(env, MINIMA_THEOREM_NET_DEEP, &model, &data, &info));
    minima_thm_describe_net(r, model, data, &info);
    r->tolerance = p->identity_tol;
    if (model->is_mlp && model->n_layers > 64)
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "thm3: %d layers, at most 64 supported", model->n_layers);
    rescale_maps mp;
    int n_free = 0;
    MINIMA_TRY(maps_init(&mp, model, p, &n_free));
    if (!maps_hypotheses(r, &mp, n_free)) {
        maps_free(&mp);
        return MINIMA_OK;
    }

    size_t P = model->n_params;
    int nd = p->n_directions, n_maps = p->alpha_points + 2;
    minima_net *net = NULL, *net2 = NULL;
    double *buf = NULL;
    minima_status s;
    if ((s = minima_net_create(&net, model, data, NULL))) goto fail;
    if ((s = minima_net_create(&net2, model, data, NULL))) goto fail;
    buf = minima_alloc((size_t)(nd + 9) * P + 1, sizeof *buf);
    if (!buf) { s = minima_error(MINIMA_ENOMEM, "thm3: out of memory"); goto fail; }
    double *points = buf, *dirs = points + 2 * P, *diag = dirs + (size_t)nd * P;
    double *at = diag + P, *w = at + P, *hw = w + P, *lhs = hw + P, *g = lhs + P, *g2 = g + P;
    memcpy(points, model->theta, P * sizeof *points);
    perturbed(model->theta, P, p->seed, points + P);
    minima_rng rng;
    minima_rng_seed2(&rng, p->seed, 33);
    for (int j = 0; j < nd; j++) {
        double *v = dirs + (size_t)j * P;
        minima_rng_fill_normal(&rng, v, P);
        double nv = minima_thm_norm(v, P);
        for (size_t i = 0; i < P; i++) v[i] /= nv;
    }
    double err_g = 0, err_h = 0, dmin = INFINITY, dmax = 0;
    for (int pt = 0; pt < 2; pt++) {
        const double *theta = points + (size_t)pt * P;
        if ((s = minima_net_set_point(net, theta))) goto fail;
        double loss;
        if ((s = minima_net_gradient(net, theta, &loss, g))) goto fail;
        for (int m = 0; m < n_maps; m++) {
            if (m < p->alpha_points) {
                if ((s = maps_stage(&mp, t_of(p, m), diag))) goto fail;
            } else {
                double spread = log(10.0) * p->alpha_decades / 3;
                if ((s = maps_random(&mp, p->seed + 100 + (uint64_t)m, spread, diag))) goto fail;
            }
            for (size_t i = 0; i < P; i++) {
                at[i] = diag[i] * theta[i];
                dmin = fmin(dmin, diag[i]);
                dmax = fmax(dmax, diag[i]);
            }
            if ((s = minima_net_set_point(net2, at))) goto fail;
            if (pt == 1) {  /* the gradient identity, at the non-critical point */
                if ((s = minima_net_gradient(net2, at, &loss, g2))) goto fail;
                for (size_t i = 0; i < P; i++) w[i] = g[i] / diag[i];
                double e = minima_thm_rel_err(g2, w, P);
                if (!(e <= err_g)) err_g = e;
            }
            for (int j = 0; j < nd; j++) {
                const double *v = dirs + (size_t)j * P;
                for (size_t i = 0; i < P; i++) w[i] = v[i] / diag[i];
                if ((s = minima_net_hvp(net, w, hw))) goto fail;
                for (size_t i = 0; i < P; i++) hw[i] /= diag[i];
                if ((s = minima_net_hvp(net2, v, lhs))) goto fail;
                double e = minima_thm_rel_err(lhs, hw, P);
                if (!(e <= err_h)) err_h = e;
            }
            if (minima_interrupted()) { s = minima_error(MINIMA_EINTERRUPTED, "thm3: interrupted"); goto fail; }
        }
    }
    r->passed = err_g <= p->identity_tol && err_h <= p->identity_tol;
    minima_thm_number(r, "rel_err_gradient", err_g);
    minima_thm_number(r, "rel_err_hessian", err_h);
    minima_thm_number(r, "n_maps", n_maps);
    minima_thm_number(r, "n_directions", nd);
    minima_thm_number(r, "diag_min", dmin);
    minima_thm_number(r, "diag_max", dmax);
    if (mp.g) {
        minima_thm_number(r, "n_classes", mp.g->n_classes);
        minima_thm_number(r, "n_stages", mp.g->n_stages);
    }
    minima_thm_detail(r, "%d maps A (%s 10^t, |t| <= %g, and %s; entries of A in [%.2g, %.2g]) at "
                      "the network's point and at a non-critical point near it: max ||grad L(A "
                      "theta) - A^-1 grad L(theta)|| / ||.|| = %.3g (non-critical point), max ||H(A "
                      "theta) v - A^-1 H(theta) A^-1 v|| / ||.|| = %.3g over %d random directions; "
                      "tolerance %.3g.", n_maps, mp.g ? "stage-wise" : "layer-wise", p->alpha_decades,
                      mp.g ? "random points of the graph's group" : "per-neuron", dmin, dmax, err_g,
                      err_h, nd, p->identity_tol);
fail:
    minima_free(buf);
    minima_net_free(net2);
    minima_net_free(net);
    maps_free(&mp);
    return s;
}

/* ---- supplement Thm 1 (appendix C) --------------------------------------- */

/* The map of appendix C for factor a: a perceptron's theta_1 -> a theta_1,
 * last layer -> / a (the layer map with alpha = (a, 1, ..., 1, 1/a)); on a
 * graph the stage-wise map with the same factors (alpha_1 = a, the middle
 * ones 1, the last 1/a): every free class gets the factor a, so the
 * parameters reading the input get a, those writing the output 1/a. */
static minima_status maps_first_last(rescale_maps *mp, double a, double *diag)
{
    for (int k = 0; k < mp->n_alpha; k++) mp->alpha[k] = 1;
    mp->alpha[0] = a;
    mp->alpha[mp->n_alpha - 1] = 1 / a;
    if (!mp->g) {
        minima_thm_layer_map(mp->model, mp->alpha, NULL, NULL, diag);
        return MINIMA_OK;
    }
    MINIMA_TRY(minima_gsym_stage_u(mp->g, mp->alpha, mp->g->n_stages, 1, 1e-12, mp->u, NULL));
    return minima_gsym_diag(mp->g, mp->model, mp->u, diag);
}

minima_status minima_thm_check_appc(minima_theorem_env *env, const minima_theorem_params *p,
                                    minima_theorem_result *r)
{
    const minima_model *model;
    const minima_dataset *data;
    minima_theorem_net_info info;
    MINIMA_TRY(minima_theorem_env_net(env, MINIMA_THEOREM_NET_SHALLOW, &model, &data, &info));
    r->tolerance = p->identity_tol;
    minima_thm_describe_net(r, model, data, &info);
    if (model->is_mlp && model->n_layers > 64)
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "appC: %d layers, at most 64 supported", model->n_layers);
    rescale_maps mp;
    int n_free = 0;
    MINIMA_TRY(maps_init(&mp, model, p, &n_free));
    if (model->is_mlp) {
        if (model->n_layers < 2) {
            minima_thm_not_applicable(r, "no hidden layer: the orbit is a single point");
            maps_free(&mp);
            return MINIMA_OK;
        }
        report_activation(r, model);
    } else {
        if (n_free == 0) {
            minima_thm_not_applicable(r, "the graph's rescaling group is trivial (no free class): "
                                      "the orbit is a single point");
            maps_free(&mp);
            return MINIMA_OK;
        }
        char line[200];
        minima_gsym_describe(mp.g, model, line, sizeof line);
        minima_thm_hypothesis(r, "rescaling group of the graph: %s; %d stages; the map: stage-wise "
                              "alpha = (a, 1, ..., 1, 1/a), every free class times a. ", line,
                              mp.g->n_stages);
    }
    size_t P = model->n_params;
    minima_net *net = NULL;
    double *buf = NULL;
    minima_status s;
    if ((s = minima_net_create(&net, model, data, NULL))) goto fail;
    buf = minima_alloc(4 * P, sizeof *buf);
    if (!buf) { s = minima_error(MINIMA_ENOMEM, "appC: out of memory"); goto fail; }
    double *theta = buf, *g = theta + P, *diag = g + P, *at = diag + P;
    int moved = info.grad_norm <= 100 * p->grad_tol;
    if (moved) perturbed(model->theta, P, p->seed, theta);
    else memcpy(theta, model->theta, P * sizeof *theta);
    double loss;
    if ((s = minima_net_gradient(net, theta, &loss, g))) goto fail;
    r->loss = loss;
    r->grad_norm = minima_thm_norm(g, P);
    /* g1: the gradient over the parameters the map multiplies by a (a
     * perceptron's first layer; on a graph every parameter with factor a,
     * found from the map at a = 10), g2 over the rest */
    double g1 = 0, g2 = 0;
    if (model->is_mlp) {
        size_t n1 = minima_model_layer_params(model, 0);
        g1 = minima_thm_norm(g, n1);
        g2 = minima_thm_norm(g + n1, P - n1);
    } else {
        if ((s = maps_first_last(&mp, 10.0, diag))) goto fail;
        for (size_t j = 0; j < P; j++) {
            if (fabs(diag[j] - 10.0) <= 1e-12 * 10.0) g1 += g[j] * g[j];
            else g2 += g[j] * g[j];
        }
        g1 = sqrt(g1);
        g2 = sqrt(g2);
    }
    minima_thm_hypothesis(r, "non-critical point%s: ||grad L|| = %.3g, ||grad_theta1 L|| = %.3g "
                          "(> 0 required%s). ", moved ? " (the network's point moved by 10% of its "
                          "rms: it was critical)" : "", r->grad_norm, g1,
                          model->is_mlp ? "" : "; theta_1: the parameters the map multiplies by a");
    double worst = 0, norm_min_alpha = NAN, norm_one = NAN;
    for (int i = 0; i < p->alpha_points; i++) {
        double t = t_of(p, i), a = pow(10.0, t);
        if ((s = maps_first_last(&mp, a, diag))) goto fail;
        for (size_t j = 0; j < P; j++) at[j] = diag[j] * theta[j];
        double pred = 0;
        for (size_t j = 0; j < P; j++) pred += (g[j] / diag[j]) * (g[j] / diag[j]);
        double l2;
        if ((s = minima_net_gradient(net, at, &l2, diag))) goto fail;  /* diag reused */
        double act = minima_thm_norm(diag, P);
        act *= act;
        double e = fabs(act - pred) / fmax(pred, 1e-300);
        if (!(e <= worst)) worst = e;
        if (i == 0) norm_min_alpha = sqrt(act);
        if (fabs(t) < 1e-12) norm_one = sqrt(act);
    }
    if (isnan(norm_one)) norm_one = r->grad_norm;
    int diverges = norm_min_alpha > norm_one;
    r->passed = g1 > 0 && worst <= p->identity_tol && diverges;
    minima_thm_number(r, "grad_norm_theta1", g1);
    minima_thm_number(r, "grad_norm_rest", g2);
    minima_thm_number(r, "alpha_min", pow(10.0, -p->alpha_decades));
    minima_thm_number(r, "grad_norm_at_alpha_min", norm_min_alpha);
    minima_thm_number(r, "grad_norm_at_alpha_1", norm_one);
    minima_thm_number(r, "max_rel_err", worst);
    if (mp.g) {
        minima_thm_number(r, "n_classes", mp.g->n_classes);
        minima_thm_number(r, "n_stages", mp.g->n_stages);
    }
    minima_thm_detail(r, "%s, alpha = 10^t, |t| <= %g: "
                      "||grad L||^2 matches sum_i g_i^2 / a_i^2 (= alpha^-2 ||g_1||^2 + alpha^2 "
                      "||g_2||^2 for one hidden layer without bias) to %.3g relative (tolerance %.3g); "
                      "||grad L|| = %.3g at alpha = 1 and %.3g at alpha = %.0e: %s.",
                      mp.g ? "every free class of the graph times alpha (stage-wise alpha_1 = alpha, "
                      "the last 1/alpha)" : "theta_1 -> alpha theta_1, last layer / alpha",
                      p->alpha_decades, worst, p->identity_tol, norm_one, norm_min_alpha,
                      pow(10.0, -p->alpha_decades),
                      worst > p->identity_tol ? "THE IDENTITY FAILS (T_alpha is not a symmetry here)" :
                      diverges ? "it grows without bound as alpha -> 0 (not Lipschitz)" : "NO growth");
fail:
    minima_free(buf);
    minima_net_free(net);
    maps_free(&mp);
    return s;
}
