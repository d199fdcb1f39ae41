/* measure_asam.c — adaptive sharpness of Kwon et al. 2021 (ASAM), SPEC §6:
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
#include <stdio.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/sharpness.h"

#define NAME "asam"
static const char KNOWN[] = "rho,eta,p,biases";

typedef struct {
    double rho;
    double eta;
    double p;      /* 2 or INFINITY */
    int biases;    /* 1: T = |b| + eta on biases too; 0: T = 1 there (original) */
} asam_settings;

/* Reads "p=2" / "p=inf" (the generic parser takes numbers only). */
static minima_status parse_p(const char *s, double *p)
{
    for (const char *q = s; q && *q;) {
        if (!strncmp(q, "p=", 2)) {
            const char *v = q + 2;
            size_t n = strcspn(v, ",");
            if ((n == 3 && !strncmp(v, "inf", 3)) || (n == 8 && !strncmp(v, "infinity", 8))) {
                *p = INFINITY;
                return MINIMA_OK;
            }
            if (n == 1 && v[0] == '2') {
                *p = 2;
                return MINIMA_OK;
            }
            MINIMA_FAIL(MINIMA_EINVAL, "measure " NAME ": p = '%.*s', expected 2 or inf", (int)n, v);
        }
        q = strchr(q, ',');
        if (q) q++;
    }
    return MINIMA_OK;
}

static minima_status parse(const char *s, asam_settings *p)
{
    p->rho = 0.5;
    p->eta = 0.01;
    p->p = 2;
    p->biases = 0;
    MINIMA_TRY(minima_settings_check(s, KNOWN, NAME));
    MINIMA_TRY(minima_settings_double(s, "rho", &p->rho));
    MINIMA_TRY(minima_settings_double(s, "eta", &p->eta));
    MINIMA_TRY(parse_p(s, &p->p));
    MINIMA_TRY(minima_settings_int(s, "biases", &p->biases));
    if (!(p->rho > 0)) MINIMA_FAIL(MINIMA_EINVAL, "measure " NAME ": rho = %g, expected > 0", p->rho);
    if (!(p->eta >= 0)) MINIMA_FAIL(MINIMA_EINVAL, "measure " NAME ": eta = %g, expected >= 0", p->eta);
    if (p->biases != 0 && p->biases != 1)
        MINIMA_FAIL(MINIMA_EINVAL, "measure " NAME ": biases = %d, expected 0 or 1", p->biases);
    return MINIMA_OK;
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
    if (model->has_bias && !p.biases)
        for (int k = 0; k < model->n_layers; k++)
            for (int j = 0; j < model->widths[k + 1]; j++) t[model->bias_offset[k] + (size_t)j] = 1;
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
    snprintf(out->params, sizeof out->params,
             "{\"rho\": %.17g, \"eta\": %.17g, \"p\": %s, \"biases\": %d}", p.rho, p.eta,
             isinf(p.p) ? "\"inf\"" : "2", p.biases);
fail:
    minima_free(t);
    minima_free(g);
    minima_free(x);
    return st;
}

/* Exactly invariant when T_w = |w| covers every parameter (eta = 0,
 * biases = 1); approximately otherwise (SPEC §6). */
static minima_invariance invariance_for(const char *settings)
{
    double eta = 0.01;
    int biases = 0;
    if (minima_settings_double(settings, "eta", &eta) != MINIMA_OK ||
        minima_settings_int(settings, "biases", &biases) != MINIMA_OK)
        minima_clear_error();
    return eta == 0 && biases ? MINIMA_INVARIANCE_EXACT : MINIMA_INVARIANCE_APPROX;
}

const minima_measure minima_measure_asam = {
    .name = NAME,
    .title = "ASAM adaptive sharpness (first-order maximiser)",
    .source = "Kwon et al. 2021",
    .invariance = MINIMA_INVARIANCE_APPROX,
    .settings = "rho=0.5,eta=0.01,p=2,biases=0",
    .compute = compute,
    .invariance_for = invariance_for,
};
