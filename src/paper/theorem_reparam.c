/* theorem_reparam.c — main §5: flatness depends on the parametrization
 * (§5.1: radial maps of appendix A flip a flatness ranking; the pulled-back
 * Hessian J^T H J checked against finite differences of L o g) and on the
 * input representation (§5.2: standardization and whitening folded into
 * the first layer). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/eigen.h"
#include "minima/graph_symmetry.h"
#include "minima/linop.h"
#include "minima/reference.h"
#include "minima/reparam.h"
#include "minima/rng.h"
#include "minima/symmetry.h"
#include "paper/theorem_impl.h"

/* lambda_max of an operator (Lanczos). */
static minima_status top_eig(minima_linop *op, uint64_t seed, size_t max_products, double *lmax)
{
    minima_eigs_params ep = minima_eigs_default_params();
    ep.tol = 1e-8;
    ep.seed = seed;
    ep.max_products = max_products;
    ep.verify = 0;
    minima_eigs_result res;
    memset(&res, 0, sizeof res);
    minima_status s = minima_eigs(op, &ep, &res);
    if (s == MINIMA_OK) *lmax = res.top[0];
    minima_eigs_result_free(&res);
    return s;
}

/* lambda_max in eta coordinates at centre `c` of the map set: J H J with
 * the Hessian of a net anchored at c. */
static minima_status eta_lmax(minima_net *net, const minima_radial_set *set, const double *c,
                              uint64_t seed, size_t max_products, double *lmax)
{
    minima_linop *h = NULL, *op = NULL;
    minima_status s = minima_net_set_point(net, c);
    if (s == MINIMA_OK) s = minima_linop_hessian(&h, net);
    if (s == MINIMA_OK) s = minima_radial_hessian(&op, h, set, c);
    if (s == MINIMA_OK) s = top_eig(op, seed, max_products, lmax);
    minima_linop_free(op);
    minima_linop_free(h);
    return s;
}

/* grad L_eta(eta) = J(eta)^T grad L(g(eta)) (J symmetric); th, g: (P) scratch. */
static minima_status eta_grad(minima_net *net, const minima_radial_set *set, const double *eta,
                              double *th, double *g, double *out)
{
    double loss;
    minima_radial_to_theta(set, eta, th);
    MINIMA_TRY(minima_net_gradient(net, th, &loss, g));
    minima_radial_jac_apply(set, eta, g, out);
    return MINIMA_OK;
}

minima_status minima_thm_check_sec51(minima_theorem_env *env, const minima_theorem_params *p,
                                     minima_theorem_result *r)
{
    const minima_model *model;
    const minima_dataset *data;
    minima_theorem_net_info info;
    MINIMA_TRY(minima_theorem_env_net(env, MINIMA_THEOREM_NET_DEEP, &model, &data, &info));
    minima_thm_describe_net(r, model, data, &info);
    int ok = 1;
    if (!minima_thm_require_critical(env, p, r, info.grad_norm, &ok)) return MINIMA_OK;
    size_t P = model->n_params;
    /* B is a random rescaling of theta: per-neuron scales on a perceptron
     * (minima/symmetry.h, which rescales every hidden unit, tanh or not:
     * with run_unmet_hypotheses a tanh network is run and B is then another
     * function), a random point of the graph's rescaling group on a graph
     * (minima/graph_symmetry.h; its free classes are a perceptron's hidden
     * units, tanh channels excepted). */
    minima_gsym *grp = NULL;
    size_t nu;
    if (model->is_mlp) {
        nu = minima_sym_n_units(model);
    } else {
        MINIMA_TRY(minima_gsym_create(model, &grp));
        nu = (size_t)grp->n_classes;
    }
    if (nu == 0) {
        minima_gsym_free(grp);
        minima_thm_not_applicable(r, model->is_mlp ? "no hidden unit: the second minimum is made "
                                  "by rescaling" : "the graph's rescaling group is trivial (no free "
                                  "class): the second minimum is made by rescaling");
        return MINIMA_OK;
    }
    minima_net *net = NULL;
    minima_linop *h = NULL, *op = NULL;
    double *buf = NULL;
    minima_status s;
    if ((s = minima_net_create(&net, model, data, NULL))) goto fail;
    buf = minima_alloc(11 * P + nu, sizeof *buf);
    if (!buf) { s = minima_error(MINIMA_ENOMEM, "sec5.1: out of memory"); goto fail; }
    double *b = buf, *center = b + P, *eta0 = center + P, *v = eta0 + P, *hv = v + P;
    double *ep = hv + P, *em = ep + P, *gp = em + P, *gm = gp + P, *th = gm + P, *g = th + P;
    double *u = g + P;

    /* two minima: theta (A) and a random rescaling of it (B) */
    if (!grp) {
        if ((s = minima_sym_random_scales(model, p->seed + 5, 1.0, NULL, u))) goto fail;
        minima_sym_apply(model, u, model->theta, b);
    } else {
        if ((s = minima_gsym_random_u(grp, p->seed + 5, 1.0, NULL, u))) goto fail;
        if ((s = minima_gsym_apply(grp, model, u, model->theta, b))) goto fail;
    }
    const double *centers[2] = {model->theta, b};
    double lam[2], lam_eta[2];
    for (int i = 0; i < 2; i++) {
        if ((s = minima_net_set_point(net, centers[i]))) goto fail;
        if ((s = minima_thm_extremes(net, 1e-8, p->seed, p->max_products, &lam[i], i == 0 ? &r->lambda_min : NULL)))
            goto fail;
    }
    int flat = lam[0] < lam[1] ? 0 : 1;   /* the flatter one becomes the sharpest */
    int order[2] = {flat, 1 - flat};
    minima_radial maps[2];
    double predicted[2];
    minima_radial_plan_params pp = minima_radial_plan_default_params();
    double dist = 0;
    for (size_t i = 0; i < P; i++) dist += (b[i] - model->theta[i]) * (b[i] - model->theta[i]);
    pp.max_delta = sqrt(dist);
    if ((s = minima_radial_plan(P, 2, centers, lam, order, &pp, maps, predicted))) goto fail;
    minima_radial_set set = {P, 2, maps};
    for (int i = 0; i < 2; i++)
        if ((s = eta_lmax(net, &set, centers[i], p->seed, p->max_products, &lam_eta[i]))) goto fail;
    int flipped = (lam[flat] < lam[1 - flat]) && (lam_eta[flat] > lam_eta[1 - flat]);

    /* finite differences: an off-centre radial map with theta in its annulus,
     * where the Jacobian is not a multiple of the identity */
    double rn = minima_thm_norm(model->theta, P), ra = 0.1 * rn / sqrt((double)P) + 1e-3;
    minima_rng rng;
    minima_rng_seed2(&rng, p->seed, 51);
    minima_rng_fill_normal(&rng, v, P);
    double nv = minima_thm_norm(v, P);
    for (size_t i = 0; i < P; i++) center[i] = model->theta[i] + ra * v[i] / nv;
    minima_radial off = {center, 0.4 * ra, 2.0 * ra, 1.3 * ra};
    minima_radial_set oset = {P, 1, &off};
    minima_radial_to_eta(&oset, model->theta, eta0);
    if ((s = minima_net_set_point(net, model->theta))) goto fail;
    if ((s = minima_linop_hessian(&h, net))) goto fail;
    if ((s = minima_radial_hessian(&op, h, &oset, eta0))) goto fail;
    double worst = 0, hstep = p->fd_step;
    for (int j = 0; j < p->n_directions; j++) {
        minima_rng_fill_normal(&rng, v, P);
        nv = minima_thm_norm(v, P);
        for (size_t i = 0; i < P; i++) v[i] /= nv;
        if ((s = minima_linop_apply(op, v, hv))) goto fail;
        for (size_t i = 0; i < P; i++) {
            ep[i] = eta0[i] + hstep * v[i];
            em[i] = eta0[i] - hstep * v[i];
        }
        if ((s = eta_grad(net, &oset, ep, th, g, gp))) goto fail;
        if ((s = eta_grad(net, &oset, em, th, g, gm))) goto fail;
        for (size_t i = 0; i < P; i++) gp[i] = (gp[i] - gm[i]) / (2 * hstep);
        worst = fmax(worst, minima_thm_rel_err(hv, gp, P));
    }
    r->passed = ok && flipped && worst <= p->fd_tol;
    r->tolerance = p->fd_tol;
    minima_thm_number(r, "lambda_max_A", lam[0]);
    minima_thm_number(r, "lambda_max_B", lam[1]);
    minima_thm_number(r, "lambda_max_eta_A", lam_eta[0]);
    minima_thm_number(r, "lambda_max_eta_B", lam_eta[1]);
    minima_thm_number(r, "predicted_eta_A", predicted[0]);
    minima_thm_number(r, "predicted_eta_B", predicted[1]);
    minima_thm_number(r, "fd_rel_err", worst);
    minima_thm_number(r, "fd_step", hstep);
    minima_thm_detail(r, "minima A = theta and B = a random rescaling of it (the same function): "
                      "lambda_max %.4g (A), %.4g (B); after radial maps of appendix A centred at each "
                      "(delta %.3g, %.3g; rhat/rho %.3g, %.3g): %.4g (A), %.4g (B) in eta (predicted "
                      "%.4g, %.4g): the ranking %s. J^T H J v at a point in the annulus of an "
                      "off-centre map vs central differences of grad (L o g), step %g, %d directions: "
                      "max relative error %.3g (tolerance %.3g).", lam[0], lam[1], maps[0].delta,
                      maps[1].delta, maps[0].rhat / maps[0].rho, maps[1].rhat / maps[1].rho,
                      lam_eta[0], lam_eta[1], predicted[0], predicted[1],
                      flipped ? "is flipped" : "is NOT flipped", hstep, p->n_directions, worst,
                      p->fd_tol);
fail:
    minima_linop_free(op);
    minima_linop_free(h);
    minima_free(buf);
    minima_net_free(net);
    minima_gsym_free(grp);
    return s;
}

/* ---- §5.2: input representation ------------------------------------------ */

/* mean input-gradient norm and lambda_max of a model on a data set. */
static minima_status measure_input(const minima_model *m, const minima_dataset *d, uint64_t seed,
                                   size_t max_products, double *norms /* (N) scratch */,
                                   double *mean_norm, double *lmax)
{
    MINIMA_TRY(minima_input_gradient_norms(m, d->x, d->n, norms));
    double acc = 0;
    for (size_t i = 0; i < d->n; i++) acc += norms[i];
    *mean_norm = acc / (double)d->n;
    minima_net *net = NULL;
    MINIMA_TRY(minima_net_create(&net, m, d, NULL));
    minima_status s = minima_thm_extremes(net, 1e-8, seed, max_products, lmax, NULL);
    minima_net_free(net);
    return s;
}

minima_status minima_thm_check_sec52(minima_theorem_env *env, const minima_theorem_params *p,
                                     minima_theorem_result *r)
{
    const minima_model *model;
    const minima_dataset *data;
    minima_theorem_net_info info;
    MINIMA_TRY(minima_theorem_env_net(env, MINIMA_THEOREM_NET_DEEP, &model, &data, &info));
    minima_thm_describe_net(r, model, data, &info);
    if (!minima_thm_require_mlp(r, model, "§5.2 (the input transform folded into the first "
                                "linear layer, input-gradient norms layer by layer)"))
        return MINIMA_OK;
    size_t N = data->n, dK = (size_t)model->widths[model->n_layers];
    minima_input_transform *t = NULL;
    minima_model *folded = NULL;
    minima_dataset *u = NULL;
    double *buf = NULL;
    minima_status s;
    buf = minima_alloc(2 * N * dK + N, sizeof *buf);
    if (!buf) MINIMA_FAIL(MINIMA_ENOMEM, "sec5.2: out of memory");
    double *f0 = buf, *f1 = f0 + N * dK, *norms = f1 + N * dK;
    double gn0, lm0;
    if ((s = minima_reference_forward(model, NULL, data->x, N, f0))) goto fail;
    if ((s = measure_input(model, data, p->seed, p->max_products, norms, &gn0, &lm0))) goto fail;
    minima_thm_number(r, "input_grad_norm_x", gn0);
    minima_thm_number(r, "lambda_max_x", lm0);
    minima_thm_detail(r, "in x: mean ||df/dx||_F = %.4g, lambda_max = %.4g", gn0, lm0);
    int all = 1;
    r->tolerance = p->equiv_tol;
    minima_input_method methods[2] = {MINIMA_INPUT_STANDARDIZE, MINIMA_INPUT_WHITEN_ZCA};
    for (int mi = 0; mi < 2; mi++) {
        minima_input_params ip = minima_input_default_params();
        ip.method = methods[mi];
        if ((s = minima_input_fit(data, &ip, &t))) goto fail;
        if ((s = minima_input_fold(t, model, 1, &folded))) goto fail;
        if ((s = minima_dataset_slice(data, 0, N, &u))) goto fail;
        if ((s = minima_input_apply(t, data->x, N, u->x))) goto fail;
        if ((s = minima_reference_forward(folded, NULL, u->x, N, f1))) goto fail;
        double diff = 0, fmaxabs = 0;
        for (size_t i = 0; i < N * dK; i++) {
            diff = fmax(diff, fabs(f1[i] - f0[i]));
            fmaxabs = fmax(fmaxabs, fabs(f0[i]));
        }
        double rel = diff / fmax(fmaxabs, 1e-300), gn1, lm1;
        if ((s = measure_input(folded, u, p->seed, p->max_products, norms, &gn1, &lm1))) goto fail;
        double dg = fabs(gn1 - gn0) / fmax(gn0, 1e-300), dl = fabs(lm1 - lm0) / fmax(lm0, 1e-300);
        int pass = rel <= p->equiv_tol && dg > p->change_tol && dl > p->change_tol;
        all = all && pass;
        const char *name = minima_input_method_name(methods[mi]);
        char key[40];
        snprintf(key, sizeof key, "pred_rel_diff_%s", name);
        minima_thm_number(r, key, rel);
        snprintf(key, sizeof key, "input_grad_norm_%s", name);
        minima_thm_number(r, key, gn1);
        snprintf(key, sizeof key, "lambda_max_%s", name);
        minima_thm_number(r, key, lm1);
        minima_thm_detail(r, "; %s (folded into layer 1): predictions differ by %.3g relative, mean "
                          "||df/du||_F = %.4g (%+.1f%%), lambda_max = %.4g (%+.1f%%)%s", name, rel, gn1,
                          100 * (gn1 - gn0) / gn0, lm1, 100 * (lm1 - lm0) / lm0,
                          pass ? "" : rel > p->equiv_tol ? " PREDICTIONS DIFFER" :
                          " NO CHANGE (the representation change is close to the identity)");
        minima_input_transform_free(t);
        t = NULL;
        minima_model_free(folded);
        folded = NULL;
        minima_dataset_free(u);
        u = NULL;
    }
    r->passed = all;
    minima_thm_detail(r, ". Same predictions within %.3g, changes above %.3g relative: %s.",
                      p->equiv_tol, p->change_tol, all ? "yes" : "NO");
fail:
    minima_input_transform_free(t);
    minima_model_free(folded);
    minima_dataset_free(u);
    minima_free(buf);
    return s;
}
