/* measure_pac_bayes.c — PAC-Bayes flatness of Jiang et al. 2020 (docs/measures/pac_bayes.md)
 * and the engine it shares with pac_bayes_mag:
 *
 *     sigma' = the largest sigma with E_u[err(w + u)] - err(w) <= target
 *
 * err the training-set 0-1 error (1 - accuracy), u ~ N(0, sigma^2 I)
 * (pac_bayes) or u_i ~ N(0, sigma^2 w_i^2 + eps^2), i.e. standard
 * deviation sqrt(sigma^2 w_i^2 + eps^2) (pac_bayes_mag). sigma' is found
 * by bisection on [0, 2] of depth 15, the expectation by `draws` = 10
 * Monte-Carlo draws per sigma. The draws are common random numbers: draw j
 * uses the same standard normal vector z_j at every sigma (regenerated
 * from the seed, never stored), so the estimated deviation is a smooth,
 * nearly monotone function of sigma and the bisection is well posed. As
 * in the widely used implementation, sigma' is the last midpoint
 * evaluated; with tol > 0 the search also stops as soon as
 * |deviation - target| < tol (that implementation uses 0.01; the pure
 * bisection is tol = 0, the default).
 *
 * Reported: value = 1/sigma'^2, and the bounds (m training examples,
 * w_0 the initialisation):
 *
 *   pac_bayes:     bound_orig = ||w||^2 / (4 sigma'^2) + log(m / sigma') + 10
 *                  bound_init = ||w - w_0||^2 / (4 sigma'^2) + log(m / sigma') + 10
 *
 *   pac_bayes_mag: the same KL form for the posterior Q = N(w, diag(s^2)),
 *                  s_i^2 = sigma'^2 w_i^2 + eps^2 (the noise measured), and
 *                  the prior N(mu, tau^2 I) with mu = 0 (orig) or w_0
 *                  (init) and the KL-optimal tau^2 = (sum_i s_i^2 +
 *                  ||w - mu||^2) / omega (omega = P), for which
 *                  KL(Q||P) = 1/2 sum_i log(tau^2 / s_i^2); the bound is
 *                  KL/2 + log(m / sigma') + 10 as in the isotropic case
 *                  (where KL/2 = ||w - mu||^2 / (4 sigma^2)).
 *                  bound_orig_code / bound_init_code: the formula of the
 *                  widely used implementation, tau^2 = eps^2 + (sigma'^2 +
 *                  1) ||w - mu||^2 / omega and s_i^2 = eps^2 + sigma'^2
 *                  (w_i - w0_i)^2 in both (it equals ours for orig up to
 *                  that s_i^2).
 *
 * w_0 is known when the model was trained by `minima train` (metadata
 * "trained_by" = "minima ..." and "seed" = S): minima_model_init with
 * minima_train_init_seed(S), as the trainer draws it. Otherwise the
 * bounds that need w_0 are NaN with a note. All norms are over every parameter (weights and
 * biases); some implementations use the weights only. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/model.h"
#include "minima/rng.h"
#include "minima/train.h"
#include "measures/pac_bayes_impl.h"


typedef struct {
    double target;    /* allowed increase of the 0-1 error */
    int depth;        /* bisection steps */
    int draws;        /* Monte-Carlo draws per sigma */
    double upper;     /* right end of the search interval */
    double tol;       /* early stop when |deviation - target| < tol (0: never) */
    int var_as_std;   /* 1: the reference code's noise (the variance used as standard deviation) */
    double mag_eps;   /* eps of the magnitude-aware noise */
} pb_settings;

/* pac_bayes takes the first MINIMA_PAC_BAYES_N settings; pac_bayes_mag all
 * (mag_eps last). */
const minima_setting minima_pac_bayes_settings[] = {
    {"target", MINIMA_SETTING_DOUBLE, offsetof(pb_settings, target), 0.1, 0, 1,
     MINIMA_SETTING_MIN_OPEN | MINIMA_SETTING_MAX_OPEN, "allowed increase of the 0-1 training error"},
    {"depth", MINIMA_SETTING_INT, offsetof(pb_settings, depth), 15, 1, 60, 0, "bisection steps"},
    {"draws", MINIMA_SETTING_INT, offsetof(pb_settings, draws), 10, 1, INFINITY, 0,
     "Monte-Carlo draws per sigma"},
    {"upper", MINIMA_SETTING_DOUBLE, offsetof(pb_settings, upper), 2, 0, INFINITY, MINIMA_SETTING_MIN_OPEN,
     "right end of the search interval of sigma"},
    {"tol", MINIMA_SETTING_DOUBLE, offsetof(pb_settings, tol), 0, 0, INFINITY, 0,
     "stop when |deviation - target| < tol (0: pure bisection)"},
    {"variance_as_std", MINIMA_SETTING_BOOL, offsetof(pb_settings, var_as_std), 0, 0, 1, 0,
     "1: reproduce Jiang et al.'s reference code, which passes the variance where the sampler "
     "expects a standard deviation: u = sigma^2 z (u_i = (sigma^2 w_i^2 + eps^2) z_i magnitude-aware)"},
    {"mag_eps", MINIMA_SETTING_DOUBLE, offsetof(pb_settings, mag_eps), 1e-3, 0, INFINITY, 0,
     "eps of the magnitude-aware noise (pac_bayes_mag only)"},
};

static minima_status parse(const char *s, pb_settings *p, int mag, const char *name)
{
    return minima_settings_parse(name, minima_pac_bayes_settings,
                                 mag ? MINIMA_PAC_BAYES_MAG_N : MINIMA_PAC_BAYES_N, s, p);
}

minima_invariance minima_pac_bayes_mag_invariance(const char *settings)
{
    pb_settings p;
    if (parse(settings, &p, 1, "pac_bayes_mag") != MINIMA_OK) minima_clear_error();
    if (p.var_as_std) return MINIMA_INVARIANCE_NONE;   /* noise sigma^2 w_i^2: scales as c^2, not c */
    return p.mag_eps == 0 ? MINIMA_INVARIANCE_EXACT : MINIMA_INVARIANCE_APPROX;
}

/* The initialisation w_0 into w0 (P), when the model says how it was
 * drawn: "trained_by" = "minima ..." and "seed" = S, as `minima train`
 * writes them; the trainer draws w_0 with minima_model_init(model,
 * minima_train_init_seed(S)) (train.h). *known = 0 otherwise. */
static minima_status init_point(const minima_model *model, double *w0, int *known)
{
    *known = 0;
    memset(w0, 0, model->n_params * sizeof *w0);
    const char *by = minima_model_get_meta(model, "trained_by");
    const char *s = minima_model_get_meta(model, "seed");
    if (!by || strncmp(by, "minima", 6) != 0 || !s || !*s) return MINIMA_OK;
    char *end;
    errno = 0;
    unsigned long long seed = strtoull(s, &end, 10);
    if (*end || errno) return MINIMA_OK;
    minima_model *copy = NULL;
    MINIMA_TRY(minima_model_copy(model, &copy));
    minima_model_init(copy, minima_train_init_seed((uint64_t)seed));
    memcpy(w0, copy->theta, model->n_params * sizeof *w0);
    minima_model_free(copy);
    *known = 1;
    return MINIMA_OK;
}

/* Mean 0-1 error over the draws at this sigma. */
static minima_status mean_error(minima_net *net, const pb_settings *p, int mag, double sigma,
                                uint64_t seed, const double *w, double *x, double *z,
                                double *err)
{
    size_t n = minima_net_n_params(net);
    double sum = 0;
    for (int j = 0; j < p->draws; j++) {
        minima_rng rng;
        minima_rng_seed2(&rng, seed, (uint64_t)j);
        minima_rng_fill_normal(&rng, z, n);
        if (mag)
            for (size_t i = 0; i < n; i++) {
                double var = sigma * sigma * w[i] * w[i] + p->mag_eps * p->mag_eps;
                x[i] = w[i] + z[i] * (p->var_as_std ? var : sqrt(var));
            }
        else
            for (size_t i = 0; i < n; i++) x[i] = w[i] + (p->var_as_std ? sigma * sigma : sigma) * z[i];
        double L, acc;
        MINIMA_TRY(minima_net_loss(net, x, &L, &acc));
        sum += 1 - acc;
    }
    *err = sum / p->draws;
    return MINIMA_OK;
}

minima_status minima_pac_bayes_compute(minima_net *net, const char *settings, uint64_t seed,
                                       minima_measure_result *out, int mag, const char *name)
{
    pb_settings p;
    MINIMA_TRY(parse(settings, &p, mag, name));
    const minima_dataset *data = minima_net_data(net);
    if (!data->labels)
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "measure %s: needs class labels for the 0-1 error, but "
                    "data '%s' has regression targets only", name, data->name ? data->name : "?");
    const minima_model *model = minima_net_model(net);
    size_t n = minima_net_n_params(net);
    const double *w = minima_net_point(net);        /* (P) the anchor */
    minima_status st = MINIMA_OK;
    double *x = minima_alloc(n, sizeof *x);         /* (P) w + u */
    double *z = minima_alloc(n, sizeof *z);         /* (P) standard normal draw */
    double *w0 = minima_alloc(n, sizeof *w0);       /* (P) initialisation */
    if (!x || !z || !w0) {
        st = minima_error(MINIMA_ENOMEM, "measure %s: out of memory for P = %zu", name, n);
        goto fail;
    }
    double L0, acc0;
    if ((st = minima_net_loss(net, NULL, &L0, &acc0)) != MINIMA_OK) goto fail;
    double err0 = 1 - acc0;
    double lo = 0, hi = p.upper, sigma = hi / 2, dev = NAN;
    int steps = 0;
    for (int d = 0; d < p.depth; d++) {
        sigma = (lo + hi) / 2;
        double e;
        if ((st = mean_error(net, &p, mag, sigma, seed, w, x, z, &e)) != MINIMA_OK) goto fail;
        dev = e - err0;
        steps++;
        minima_progress(name, d + 1, p.depth);
        if (p.tol > 0 && fabs(dev - p.target) < p.tol) break;
        if (dev > p.target) hi = sigma;
        else lo = sigma;
    }
    int known;
    if ((st = init_point(model, w0, &known)) != MINIMA_OK) goto fail;
    double m = (double)minima_net_n_examples(net), omega = (double)n;
    double tail = log(m / sigma) + 10;
    double nw2 = 0, nd2 = 0;   /* ||w||^2, ||w - w0||^2 */
    for (size_t i = 0; i < n; i++) {
        nw2 += w[i] * w[i];
        nd2 += (w[i] - w0[i]) * (w[i] - w0[i]);
    }
    out->value = 1 / (sigma * sigma);
    minima_measure_add_extra(out, "sigma", sigma);
    minima_measure_add_extra(out, "train_error", err0);
    if (!mag) {
        minima_measure_add_extra(out, "bound_orig", nw2 / (4 * sigma * sigma) + tail);
        minima_measure_add_extra(out, "bound_init", known ? nd2 / (4 * sigma * sigma) + tail : NAN);
    } else {
        double e2 = p.mag_eps * p.mag_eps, s2sum = 0;
        for (size_t i = 0; i < n; i++) s2sum += sigma * sigma * w[i] * w[i] + e2;
        double tau_o = (s2sum + nw2) / omega, tau_i = (s2sum + nd2) / omega;
        double code_o = e2 + (sigma * sigma + 1) * nw2 / omega;
        double code_i = e2 + (sigma * sigma + 1) * nd2 / omega;
        double ko = 0, ki = 0, co = 0, ci = 0;
        for (size_t i = 0; i < n; i++) {
            double s2 = sigma * sigma * w[i] * w[i] + e2;
            double dc = e2 + sigma * sigma * (w[i] - w0[i]) * (w[i] - w0[i]);
            ko += log(tau_o / s2);
            ki += log(tau_i / s2);
            co += log(code_o / dc);
            ci += log(code_i / dc);
        }
        minima_measure_add_extra(out, "bound_orig", ko / 4 + tail);
        minima_measure_add_extra(out, "bound_init", known ? ki / 4 + tail : NAN);
        minima_measure_add_extra(out, "bound_orig_code", known ? co / 4 + tail : NAN);
        minima_measure_add_extra(out, "bound_init_code", known ? ci / 4 + tail : NAN);
    }
    minima_measure_add_extra(out, "deviation", dev);
    if (!known)
        snprintf(out->note, sizeof out->note, "the initialisation is unknown (the model's metadata "
                 "has no \"trained_by\": \"minima\" and \"seed\"): bounds that need w_0 are NaN");
    if (lo == 0 && steps == p.depth)
        snprintf(out->note, sizeof out->note, "every sigma tried raised the error by more than "
                 "%g: sigma' is at the bottom of the search", p.target);
    if (hi == p.upper && steps == p.depth)
        snprintf(out->note, sizeof out->note, "no sigma up to %g raised the error by %g: sigma' "
                 "is at the top of the search interval", p.upper, p.target);
    minima_settings_json(minima_pac_bayes_settings, mag ? MINIMA_PAC_BAYES_MAG_N : MINIMA_PAC_BAYES_N, &p,
                         NULL, out->params, sizeof out->params);
fail:
    minima_free(x);
    minima_free(z);
    minima_free(w0);
    return st;
}

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    return minima_pac_bayes_compute(net, settings, seed, out, 0, "pac_bayes");
}

const minima_measure minima_measure_pac_bayes = {
    .name = "pac_bayes",
    .title = "PAC-Bayes flatness 1/sigma'^2 (isotropic Gaussian noise)",
    .source = "Jiang et al. 2020 (PAC-Bayes flatness and bounds)",
    .invariance = MINIMA_INVARIANCE_NONE,
    .settings = minima_pac_bayes_settings,
    .n_settings = MINIMA_PAC_BAYES_N,
    .compute = compute,
};
