/* measure_asam.c — adaptive sharpness of Kwon et al. 2021 (ASAM), docs/measures/asam.md:
 *
 *     max_{||T_w^{-1} e||_p <= rho} L(w + e) - L(w),   T_w = diag(|w| + eta)
 *
 * evaluated at the first-order maximiser, as ASAM's ascent step does:
 *
 *     p = 2:    e* = rho T^2 g / ||T g||_2
 *     p = inf:  e* = rho T sign(g)
 *
 * (g the gradient at w), so the value is L(w + e*) - L(w). As in the
 * original, T = |w| + eta on weights and T = 1 on biases (biases=0);
 * biases=1 puts biases under |b| + eta too. With eta = 0 and biases = 1
 * the value is exactly invariant under rescaling: T -> A T, g -> A^{-1} g,
 * e* -> A e*. Extra: "first_order" = rho ||T g||_q (q dual to p), the
 * value of the linear model. */
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/sharpness.h"

#define NAME "asam"
typedef struct {
    double rho;
    double eta;
    double p;      /* 2 or INFINITY */
    int biases;    /* 1: T = |b| + eta on biases too; 0: T = 1 there (original) */
} asam_settings;

static const minima_setting table[] = {
    {"rho", MINIMA_SETTING_DOUBLE, offsetof(asam_settings, rho), 0.5, 0, INFINITY, MINIMA_SETTING_MIN_OPEN,
     "radius (ASAM's default for CIFAR)"},
    {"eta", MINIMA_SETTING_DOUBLE, offsetof(asam_settings, eta), 0.01, 0, INFINITY, 0,
     "offset eta of T = |w| + eta on weights"},
    {"p", MINIMA_SETTING_PNORM, offsetof(asam_settings, p), 2, 0, 0, 0, "norm of the ball: 2 or inf"},
    {"biases", MINIMA_SETTING_BOOL, offsetof(asam_settings, biases), 0, 0, 1, 0,
     "0: T = 1 on biases (as the original code); 1: T = |b| + eta on biases too"},
};
#define N_SETTINGS (sizeof table / sizeof *table)

static minima_status parse(const char *s, asam_settings *p)
{
    return minima_settings_parse(NAME, table, N_SETTINGS, s, p);
}

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    asam_settings p;
    MINIMA_TRY(parse(settings, &p));
    const minima_model *model = minima_net_model(net);
    size_t n = minima_net_n_params(net);
    const double *w = minima_net_point(net);       /* (P) the anchor */
    minima_status st = MINIMA_OK;
    double *t = minima_alloc(n, sizeof *t);        /* (P) diagonal of T_w */
    double *g = minima_alloc(n, sizeof *g);        /* (P) gradient at w */
    double *x = minima_alloc(n, sizeof *x);        /* (P) w + e* */
    if (!t || !g || !x) {
        st = minima_error(MINIMA_ENOMEM, "measure " NAME ": out of memory for P = %zu", n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) t[i] = fabs(w[i]) + p.eta;
    if (!p.biases)   /* every node's bias (linear, conv2d): any model, not only MLPs */
        for (int i = 1; i < model->n_nodes; i++) {
            const minima_node *nd = &model->nodes[i];
            for (size_t j = 0; j < nd->n_bias; j++) t[nd->bias_offset + j] = 1;
        }
    double L0, L1;
    if ((st = minima_net_gradient(net, NULL, &L0, g)) != MINIMA_OK) goto fail;
    double tg = 0, tg1 = 0;   /* ||T g||_2^2 and ||T g||_1 */
    for (size_t i = 0; i < n; i++) {
        tg += (t[i] * g[i]) * (t[i] * g[i]);
        tg1 += fabs(t[i] * g[i]);
    }
    tg = sqrt(tg);
    double first = 0;
    if (isinf(p.p)) {
        for (size_t i = 0; i < n; i++)
            x[i] = w[i] + p.rho * t[i] * (g[i] > 0 ? 1.0 : g[i] < 0 ? -1.0 : 0.0);
        first = p.rho * tg1;
    } else {
        double s = tg > 0 ? p.rho / tg : 0;
        for (size_t i = 0; i < n; i++) x[i] = w[i] + s * t[i] * t[i] * g[i];
        first = p.rho * tg;
    }
    if ((st = minima_net_loss(net, x, &L1, NULL)) != MINIMA_OK) goto fail;
    out->value = L1 - L0;
    if (!(tg > 0))
        snprintf(out->note, sizeof out->note, "the gradient is zero: the first-order maximiser "
                 "is e = 0 and the value 0");
    minima_measure_add_extra(out, "loss", L0);
    minima_measure_add_extra(out, "first_order", first);
    minima_settings_json(table, N_SETTINGS, &p, NULL, out->params, sizeof out->params);
fail:
    minima_free(t);
    minima_free(g);
    minima_free(x);
    return st;
}

/* Exactly invariant when T_w = |w| covers every parameter (eta = 0,
 * biases = 1); approximately otherwise (docs/measures/asam.md). */
static minima_invariance invariance_for(const char *settings)
{
    asam_settings p;
    if (parse(settings, &p) != MINIMA_OK) minima_clear_error();
    return p.eta == 0 && p.biases ? MINIMA_INVARIANCE_EXACT : MINIMA_INVARIANCE_APPROX;
}

const minima_measure minima_measure_asam = {
    .name = NAME,
    .title = "ASAM adaptive sharpness (first-order maximiser)",
    .source = "Kwon et al. 2021",
    .invariance = MINIMA_INVARIANCE_APPROX,
    .settings = table,
    .n_settings = N_SETTINGS,
    .compute = compute,
    .invariance_for = invariance_for,
};
