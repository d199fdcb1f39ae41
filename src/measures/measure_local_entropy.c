/* measure_local_entropy.c — local entropy of Chaudhari et al. 2017
 * (Entropy-SGD; docs/measures/local_entropy.md):
 *
 *     F(w; gamma) = log  integral exp(-L(w') - (gamma/2) ||w - w'||^2) dw'.
 *
 * value: the quadratic (Laplace) value. With L(w') ~ L(w) + 1/2 d^T H d
 * (the gradient term dropped, as at a minimum) the integral is Gaussian:
 *
 *     F_quad = -L(w) + (P/2) log 2 pi - 1/2 sum_i log(lambda_i + gamma),
 *
 * defined when every lambda_i + gamma > 0 (else NaN, with a note). The
 * log-determinant comes from the exact spectrum when P <= exact_max, else
 * from stochastic Lanczos quadrature (density.h): sum_i log(lambda_i + gamma)
 * ~ P * mean over draws of sum_nodes w log(theta + gamma), with its standard
 * error over the draws. Extra quad_with_grad (exact spectrum only) keeps
 * the gradient term, + 1/2 g^T (H + gamma I)^{-1} g. With ggn=1 the
 * Gauss-Newton matrix (PSD, so always defined) replaces H: the usual
 * Laplace approximation away from an exact minimum, not the exact-Hessian value.
 *
 * Langevin extras, as in Entropy-SGD's inner loop (Algorithm 1): w' = mu = w,
 * then `steps` times
 *     dw' = grad L(w') - gamma (w - w');  w' -= eta dw' + sqrt(eta) noise N(0, I);
 *     mu = (1 - alpha) mu + alpha w'
 * (full-batch gradients here; the paper uses mini-batches). This chain
 * does NOT estimate F: it estimates the mean <w'> of the Gibbs measure
 * exp(-L(w') - gamma/2 ||w - w'||^2), whose use is the gradient
 * grad F = -gamma (w - <w'>) (with the paper's tiny thermal noise it is
 * close to a few steps of descent on the coupled loss). Reported:
 * langevin_grad_norm = gamma ||w - mu|| and langevin_mean_loss, the mean of
 * L(w') over the chain. */
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "measures/measure_curv_impl.h"
#include "minima/alloc.h"
#include "minima/density.h"
#include "minima/eigen.h"
#include "minima/linop.h"
#include "minima/rng.h"

/* sum_i log(lambda_i + gamma) and 1/2 g^T (H + gamma I)^{-1} g from the
 * exact spectrum; *lmin the smallest eigenvalue. */
static minima_status exact_logdet(minima_net *net, int ggn, double gamma, const double *grad,
                                  double *logdet, double *grad_term, double *lmin)
{
    size_t P = minima_net_n_params(net);
    minima_status st = MINIMA_OK;
    double *h = minima_alloc(P * P, sizeof *h);      /* (P, P) */
    double *vec = minima_alloc(P * P, sizeof *vec);  /* (P, P) rows: eigenvectors */
    double *lam = minima_alloc(P, sizeof *lam);      /* (P) */
    if (!h || !vec || !lam) {
        st = minima_error(MINIMA_ENOMEM, "measure local_entropy: out of memory for the exact "
                          "spectrum of %zu parameters (lower exact_max)", P);
        goto fail;
    }
    if (ggn) {
        minima_linop *op = NULL;
        if ((st = minima_linop_ggn(&op, net)) != MINIMA_OK) goto fail;
        st = minima_linop_to_dense(op, h);
        minima_linop_free(op);
    } else {
        st = minima_net_hessian(net, h);
    }
    if (st != MINIMA_OK) goto fail;
    if ((st = minima_spectrum_dense(P, h, lam, vec)) != MINIMA_OK) goto fail;
    *lmin = lam[0];
    double ld = 0, gt = 0;
    for (size_t i = 0; i < P; i++) {
        ld += log(lam[i] + gamma);
        double c = cblas_ddot((int)P, vec + i * P, 1, grad, 1);
        gt += c * c / (lam[i] + gamma);
    }
    *logdet = lam[0] + gamma > 0 ? ld : NAN;
    *grad_term = lam[0] + gamma > 0 ? 0.5 * gt : NAN;
fail:
    minima_free(h);
    minima_free(vec);
    minima_free(lam);
    return st;
}

/* The same log-determinant by SLQ; *se its standard error, *lmin the
 * smallest node. */
static minima_status slq_logdet(minima_net *net, int ggn, double gamma, int draws, int steps, uint64_t seed,
                                double *logdet, double *se, double *lmin)
{
    size_t P = minima_net_n_params(net);
    minima_density_params dp = minima_density_default_params();
    dp.n_draws = (size_t)draws;
    dp.n_steps = (size_t)steps;
    dp.n_grid = 2;
    dp.seed = seed;
    minima_linop *op = NULL;
    minima_density_result r;
    memset(&r, 0, sizeof r);
    MINIMA_TRY(ggn ? minima_linop_ggn(&op, net) : minima_linop_hessian(&op, net));
    minima_status st = minima_density_slq(op, &dp, &r);
    minima_linop_free(op);
    if (st != MINIMA_OK) {
        minima_density_result_free(&r);
        return st;
    }
    double sum = 0, sum2 = 0, mn = INFINITY;
    for (size_t d = 0; d < r.n_draws; d++) {
        double q = 0;
        for (size_t i = r.draw_start[d]; i < r.draw_start[d + 1]; i++) {
            mn = fmin(mn, r.nodes[i]);
            q += r.weights[i] * log(r.nodes[i] + gamma);
        }
        sum += q * (double)P;
        sum2 += q * q * (double)P * (double)P;
    }
    double n = (double)r.n_draws, mean = sum / n;
    *lmin = mn;
    *logdet = mn + gamma > 0 ? mean : NAN;
    *se = n > 1 && mn + gamma > 0 ? sqrt(fmax(0.0, (sum2 - n * mean * mean) / (n - 1)) / n) : NAN;
    minima_density_result_free(&r);
    return MINIMA_OK;
}

typedef struct {
    double gamma;
    int ggn, exact_max, slq_draws, slq_steps, steps;
    double eta, noise, alpha;
} le_settings;

static const minima_setting table[] = {
    {"gamma", MINIMA_SETTING_DOUBLE, offsetof(le_settings, gamma), 0.03, 0, INFINITY, MINIMA_SETTING_MIN_OPEN,
     "the scope gamma (Entropy-SGD's starting scope gamma_0)"},
    {"ggn", MINIMA_SETTING_BOOL, offsetof(le_settings, ggn), 0, 0, 1, 0,
     "1: the Gauss-Newton matrix (positive semi-definite) in place of the Hessian"},
    {"exact_max", MINIMA_SETTING_INT, offsetof(le_settings, exact_max), 3000, 0, INFINITY, 0,
     "exact log-determinant when P <= exact_max, else stochastic Lanczos quadrature"},
    {"slq_draws", MINIMA_SETTING_INT, offsetof(le_settings, slq_draws), 4, 1, INFINITY, 0, "SLQ start vectors (larger nets)"},
    {"slq_steps", MINIMA_SETTING_INT, offsetof(le_settings, slq_steps), 50, 2, INFINITY, 0,
     "Lanczos steps per SLQ probe"},
    {"steps", MINIMA_SETTING_INT, offsetof(le_settings, steps), 20, 0, INFINITY, 0,
     "Langevin steps L"},
    {"eta", MINIMA_SETTING_DOUBLE, offsetof(le_settings, eta), 0.1, 0, INFINITY, MINIMA_SETTING_MIN_OPEN,
     "Langevin step eta'"},
    {"noise", MINIMA_SETTING_DOUBLE, offsetof(le_settings, noise), 1e-4, 0, INFINITY, 0, "thermal noise eps"},
    {"alpha", MINIMA_SETTING_DOUBLE, offsetof(le_settings, alpha), 0.75, 0, 1, MINIMA_SETTING_MIN_OPEN,
     "averaging weight of mu"},
};
#define N_SETTINGS (sizeof table / sizeof *table)

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    le_settings ls;
    MINIMA_TRY(minima_settings_parse("local_entropy", table, N_SETTINGS, settings, &ls));
    double gamma = ls.gamma, eta = ls.eta, noise = ls.noise, alpha = ls.alpha;
    int ggn = ls.ggn, exact_max = ls.exact_max, slq_draws = ls.slq_draws, slq_steps = ls.slq_steps,
        steps = ls.steps;
    size_t P = minima_net_n_params(net);
    int exact = P <= (size_t)exact_max;
    minima_settings_json(table, N_SETTINGS, &ls, exact ? "\"logdet\": \"exact\"" : "\"logdet\": \"slq\"",
                         out->params, sizeof out->params);

    minima_status st = MINIMA_OK;
    const double *w = minima_net_point(net);
    double *grad = minima_alloc(P, sizeof *grad);   /* (P) */
    double *wp = minima_alloc(P, sizeof *wp);       /* (P) w' */
    double *mu = minima_alloc(P, sizeof *mu);       /* (P) */
    double *z = minima_alloc(P, sizeof *z);         /* (P) noise */
    if (!grad || !wp || !mu || !z) {
        st = minima_error(MINIMA_ENOMEM, "measure local_entropy: out of memory");
        goto fail;
    }
    double loss;
    if ((st = minima_net_gradient(net, NULL, &loss, grad)) != MINIMA_OK) goto fail;
    double logdet = NAN, lmin = NAN, extra_term = NAN, se = 0;
    if (exact) st = exact_logdet(net, ggn, gamma, grad, &logdet, &extra_term, &lmin);
    else st = slq_logdet(net, ggn, gamma, slq_draws, slq_steps, seed, &logdet, &se, &lmin);
    if (st != MINIMA_OK) goto fail;
    double quad = -loss + 0.5 * (double)P * log(2 * M_PI) - 0.5 * logdet;
    out->value = quad;
    minima_measure_add_extra(out, "loss", loss);
    minima_measure_add_extra(out, exact ? "lambda_min" : "slq_min_node", lmin);
    if (exact) minima_measure_add_extra(out, "quad_with_grad", quad + extra_term);
    else minima_measure_add_extra(out, "slq_std_error", 0.5 * se);
    if (!(lmin + gamma > 0))
        minima_curv_note(out, "undefined here, hence NaN: the quadratic local entropy needs every "
                         "lambda_i + gamma > 0, and the smallest %s is %.6g < -gamma = %.6g (not a "
                         "minimum); use ggn=1, or gamma > %.6g",
                         exact ? "eigenvalue" : "SLQ node", lmin, -gamma, -lmin);
    if (!exact)
        minima_curv_note(out, "log det(%s + gamma I) by stochastic Lanczos quadrature",
                         ggn ? "GGN" : "H");

    /* the Langevin chain of Entropy-SGD */
    memcpy(wp, w, P * sizeof *wp);
    memcpy(mu, w, P * sizeof *mu);
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    double mean_loss = 0;
    int diverged = 0;
    for (int t = 0; t < steps; t++) {
        if (minima_interrupted()) {
            st = minima_error(MINIMA_EINTERRUPTED, "interrupted");
            goto fail;
        }
        int finite = 1;
        for (size_t i = 0; i < P && finite; i++) finite = isfinite(wp[i]);
        if (!finite) {   /* eta * gamma >= 2 or a steep loss: the chain blew up */
            diverged = 1;
            break;
        }
        double lt;
        st = minima_net_gradient(net, wp, &lt, grad);
        if (st == MINIMA_ENONFINITE) {
            st = MINIMA_OK;
            diverged = 1;
            break;
        }
        if (st != MINIMA_OK) goto fail;
        mean_loss += lt / steps;
        minima_rng_fill_normal(&rng, z, P);
        for (size_t i = 0; i < P; i++) {
            double d = grad[i] - gamma * (w[i] - wp[i]);
            wp[i] += -eta * d + sqrt(eta) * noise * z[i];
            mu[i] = (1 - alpha) * mu[i] + alpha * wp[i];
        }
        minima_progress("langevin", t + 1, steps);
    }
    double dist = 0;
    for (size_t i = 0; i < P; i++) dist += (w[i] - mu[i]) * (w[i] - mu[i]);
    minima_measure_add_extra(out, "langevin_grad_norm", diverged ? NAN : gamma * sqrt(dist));
    minima_measure_add_extra(out, "langevin_mean_loss", steps && !diverged ? mean_loss : NAN);
    if (diverged)
        minima_curv_note(out, "the Langevin chain diverged (eta * gamma = %.3g; it needs < 2): its "
                         "extras are NaN", eta * gamma);
fail:
    minima_free(grad);
    minima_free(wp);
    minima_free(mu);
    minima_free(z);
    return st;
}

const minima_measure minima_measure_local_entropy = {
    .name = "local_entropy",
    .title = "local entropy F(w; gamma) (quadratic value; Langevin extras)",
    .source = "Chaudhari et al. 2017, Entropy-SGD, eq. (3) and Algorithm 1",
    .invariance = MINIMA_INVARIANCE_NONE,
    .settings = table,
    .n_settings = N_SETTINGS,
    .compute = compute,
};
