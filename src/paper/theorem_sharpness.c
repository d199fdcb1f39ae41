/* theorem_sharpness.c — main §4.3: eps-sharpness (Dinh Def. 2) made large
 * by a rescaling. With alpha = eps / ||theta_1||_2 (theta_1: the first
 * layer's weights and bias) the ball B_2(eps, T_alpha theta) holds the point
 * with theta_1 = 0, whose network is a constant function; so the
 * eps-sharpness at T_alpha theta is at least (L(constant) - L) / (1 + L),
 * however small the eps-sharpness at theta is. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/sharpness.h"
#include "paper/theorem_impl.h"

/* dinh_sharpness (sharpness.h registry) at the net's anchor, or NaN when
 * the registry does not have it. */
static minima_status registry_sharpness(minima_net *net, double eps, uint64_t seed, double *value)
{
    const minima_measure *m = minima_measure_find("dinh_sharpness");
    *value = NAN;
    if (!m) return MINIMA_OK;
    char settings[96];
    snprintf(settings, sizeof settings, "eps=%.17g,second_order=0", eps);
    minima_measure_result res;
    MINIMA_TRY(minima_measure_compute(m, net, settings, seed, &res));
    *value = res.value;
    return MINIMA_OK;
}

minima_status minima_thm_check_sec43(minima_theorem_env *env, const minima_theorem_params *p,
                                     minima_theorem_result *r)
{
    const minima_model *model;
    const minima_dataset *data;
    minima_theorem_net_info info;
    MINIMA_TRY(minima_theorem_env_net(env, MINIMA_THEOREM_NET_DEEP, &model, &data, &info));
    minima_thm_describe_net(r, model, data, &info);
    if (!minima_thm_require_mlp(r, model, "§4.3's construction (the first layer theta_1 scaled "
                                "to norm eps, the second by 1/alpha)")) return MINIMA_OK;
    int K = model->n_layers, ok = 1;
    if (K < 2) {
        minima_thm_not_applicable(r, "no hidden layer: T_alpha is the identity");
        return MINIMA_OK;
    }
    if (K > 64) MINIMA_FAIL(MINIMA_EUNSUPPORTED, "sec4.3: %d layers, at most 64 supported", K);
    if (!minima_thm_require_critical(env, p, r, info.grad_norm, &ok)) return MINIMA_OK;
    minima_thm_hypothesis(r, "activation %s%s. ", minima_activation_name(model->activation),
                          minima_thm_homogeneous(model) ? "" : " (NOT homogeneous)");

    size_t P = model->n_params, n1 = minima_model_layer_params(model, 0);
    double eps = p->sharpness_eps, alpha[64];
    minima_net *net = NULL;
    double *buf = NULL;
    minima_status s;
    if ((s = minima_net_create(&net, model, data, NULL))) return s;
    buf = minima_alloc(2 * P, sizeof *buf);
    if (!buf) { s = minima_error(MINIMA_ENOMEM, "sec4.3: out of memory"); goto fail; }
    double *at = buf, *cst = at + P;
    double norm1 = minima_thm_norm(model->theta, n1);
    if (!(norm1 > 0)) {
        minima_thm_detail(r, "HYPOTHESIS BROKEN: theta_1 = 0. ");
        goto fail;
    }
    double a = eps / norm1;
    for (int k = 0; k < K; k++) alpha[k] = 1;
    alpha[0] = a;
    alpha[1] = 1 / a;
    minima_thm_layer_map(model, alpha, model->theta, at, NULL);
    memcpy(cst, at, P * sizeof *cst);
    memset(cst, 0, n1 * sizeof *cst);   /* theta_1 = 0: a constant function */
    double dist = minima_thm_norm(at, n1);
    double loss = info.loss, loss_t, loss_c;
    if ((s = minima_net_loss(net, at, &loss_t, NULL))) goto fail;
    if ((s = minima_net_loss(net, cst, &loss_c, NULL))) goto fail;
    double target = (loss_c - loss) / (1 + loss);
    double s_theta, s_t;
    if ((s = registry_sharpness(net, eps, p->seed, &s_theta))) goto fail;
    if ((s = minima_net_set_point(net, at))) goto fail;
    if ((s = registry_sharpness(net, eps, p->seed, &s_t))) goto fail;
    /* the explicit point is in the ball: its value is a lower bound */
    double lower_t = (loss_c - loss_t) / (1 + loss_t);
    double best_t = isnan(s_t) ? lower_t : fmax(s_t, lower_t);
    int same = fabs(loss_t - loss) <= 1e-9 * fabs(loss) + 1e-14;
    int inside = dist <= eps * (1 + 1e-12);
    int reaches = best_t >= target * (1 - 1e-9);
    int larger = isnan(s_theta) || best_t > s_theta;
    r->passed = ok && same && inside && reaches && larger && target > 0;
    r->tolerance = 1e-9;
    minima_thm_number(r, "eps", eps);
    minima_thm_number(r, "alpha", a);
    minima_thm_number(r, "norm_theta1", norm1);
    minima_thm_number(r, "dist_to_constant", dist);
    minima_thm_number(r, "loss_constant", loss_c);
    minima_thm_number(r, "loss_t_theta", loss_t);
    minima_thm_number(r, "target", target);
    minima_thm_number(r, "sharpness_theta", s_theta);
    minima_thm_number(r, "sharpness_t_theta_search", s_t);
    minima_thm_number(r, "sharpness_t_theta", best_t);
    minima_thm_detail(r, "eps = %g, alpha = eps / ||theta_1|| = %.4g: the point with theta_1 = 0 is at "
                      "distance %.6g from T_alpha theta (%s); L(constant) = %.6g, target (L(c) - L) / "
                      "(1 + L) = %.6g. eps-sharpness (dinh_sharpness search%s) at theta: %.4g; at "
                      "T_alpha theta: %.6g (search %.4g, explicit point %.6g); L(T_alpha theta) - L = "
                      "%.2g.%s", eps, a, dist, inside ? "inside the ball" : "OUTSIDE", loss_c, target,
                      isnan(s_theta) ? " not in this build" : "", s_theta, best_t, s_t, lower_t,
                      loss_t - loss, !same ? " LOSS CHANGED: T_alpha did not preserve the function." :
                      !larger ? " NOT LARGER than at theta." : !reaches ? " TARGET NOT REACHED." : "");
fail:
    minima_free(buf);
    minima_net_free(net);
    return s;
}
