/* theorem_volume.c — main Thm 2 (§4.1): for a one-hidden-layer rectified
 * network the connected region C(L, theta, eps) = {theta' : L(theta') <
 * L(theta) + eps} around theta has infinite volume.
 *
 * 1. A box B = B_inf(r, theta) inside C, CERTIFIED by interval arithmetic:
 *    every parameter in [theta_i - r_i, theta_i + r_i], the network's
 *    pre-activations bounded layer by layer (midpoint-radius interval
 *    products, three matrix products a layer; the activation is
 *    monotone), each example's loss bounded above (MSE: the larger squared
 *    distance of the output interval's ends to the target; cross-entropy:
 *    -lo_y + logsumexp(hi)); the mean of these bounds every L over the
 *    box. r is the largest value (bisection to 1e-6 relative) with that
 *    bound below L + eps. Rounding of the bound itself (~1e-16 relative)
 *    is not directed: a certificate up to floating point. Projected
 *    sign-gradient ascent from corners gives a lower estimate of the true
 *    maximum for comparison.
 * 2. The boxes T_alpha^j(B) lie in C (L is invariant; each holds
 *    T_alpha^j theta, joined to theta along the orbit) and are pairwise
 *    disjoint for alpha = 2(m + r)/(m - r), m = ||theta_1||_inf: the
 *    coordinate where |theta_1| = m lies in alpha^j [m - r, m + r].
 * 3. vol T_alpha^j(B) = vol(B) alpha^{j e}, e = (parameters scaled by
 *    alpha) - (parameters scaled by 1/alpha) = n_1 - n_2 without biases;
 *    so log vol C >= log vol B + log sum_{i<=j} alpha^{i |e|} (direction
 *    alpha^{sign e}), which grows without bound: log(j + 1) when
 *    n_1 = n_2. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/rng.h"
#include "paper/theorem_impl.h"

#define CHECK_IMAGES 3    /* images T_alpha^j(B), j = 1..3, re-certified directly */

static double act(const minima_model *m, double z)
{
    switch (m->activation) {
    case MINIMA_ACT_RELU: return z > 0 ? z : 0;
    case MINIMA_ACT_LEAKY_RELU: return z > 0 ? z : m->leaky_slope * z;
    default: return tanh(z);
    }
}

#define BATCH 256   /* examples per block of the interval bound */

/* Workspace of box_upper_loss: 5 blocks of BATCH x maxw, and P. */
static size_t box_ws_size(int maxw, size_t P)
{
    return 5 * (size_t)BATCH * (size_t)maxw + P;
}

/* Upper bound of L over the box theta +- rad (per-parameter half-widths),
 * an interval forward pass: it propagates enclosures [lo, hi] of every
 * pre-activation over a whole box of parameters, which neither the engine
 * (a point theta) nor the reference forward pass computes, so it is its
 * own code; it reads layers, and the theorems refuse graphs at their entry
 * (minima_theorem_env_user). It is midpoint-radius interval arithmetic,
 * so that each layer is three matrix products: for w = wc +- wr and
 * a = ac +- ar,
 *     w a  in  wc ac +- (|wc| ar + wr |ac| + wr ar)
 * (|w a - wc ac| <= |wc||a - ac| + |w - wc||ac| + |w - wc||a - ac|); the
 * activation is monotone, so [phi(lo), phi(hi)] encloses it. */
static double box_upper_loss(const minima_model *m, const minima_dataset *d, const double *theta,
                             const double *rad, double *ws, int maxw)
{
    int K = m->n_layers, dK = m->widths[K];
    size_t blk = (size_t)BATCH * (size_t)maxw;
    double *ac = ws, *ar = ac + blk, *zc = ar + blk, *zr = zc + blk, *aa = zr + blk, *sw = aa + blk;
    for (int k = 0; k < K; k++) {   /* |wc| + wr, where the weights are */
        size_t w0 = m->weight_offset[k], nw = minima_model_layer_weights(m, k);
        for (size_t i = 0; i < nw; i++) sw[w0 + i] = fabs(theta[w0 + i]) + rad[w0 + i];
    }
    double total = 0;
    for (size_t start = 0; start < d->n; start += BATCH) {
        int nb = (int)(d->n - start < BATCH ? d->n - start : BATCH);
        memcpy(ac, d->x + start * (size_t)d->d, (size_t)nb * (size_t)d->d * sizeof *ac);
        memset(ar, 0, (size_t)nb * (size_t)d->d * sizeof *ar);
        for (int k = 0; k < K; k++) {
            int din = m->widths[k], dout = m->widths[k + 1];
            size_t w0 = m->weight_offset[k], na = (size_t)nb * (size_t)din;
            for (size_t i = 0; i < na; i++) aa[i] = fabs(ac[i]);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, dout, din, 1, ac, din,
                        theta + w0, din, 0, zc, dout);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, dout, din, 1, aa, din,
                        rad + w0, din, 0, zr, dout);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, dout, din, 1, ar, din,
                        sw + w0, din, 1, zr, dout);
            if (m->has_bias) {
                const double *bc = theta + m->bias_offset[k], *br = rad + m->bias_offset[k];
                for (int n = 0; n < nb; n++)
                    for (int i = 0; i < dout; i++) {
                        zc[(size_t)n * (size_t)dout + (size_t)i] += bc[i];
                        zr[(size_t)n * (size_t)dout + (size_t)i] += br[i];
                    }
            }
            if (k == K - 1) break;
            for (size_t i = 0; i < (size_t)nb * (size_t)dout; i++) {
                double lo = act(m, zc[i] - zr[i]), hi = act(m, zc[i] + zr[i]);
                ac[i] = 0.5 * (lo + hi);
                ar[i] = 0.5 * (hi - lo);
            }
        }
        for (int n = 0; n < nb; n++) {
            const double *c = zc + (size_t)n * (size_t)dK, *r = zr + (size_t)n * (size_t)dK;
            size_t ex = start + (size_t)n;
            if (d->targets && m->loss == MINIMA_LOSS_MSE) {
                const double *y = d->targets + ex * (size_t)dK;
                double acc = 0;
                for (int i = 0; i < dK; i++) {
                    double e = fabs(c[i] - y[i]) + r[i];
                    acc += e * e;
                }
                total += acc / dK;
            } else {
                int y = d->labels ? d->labels[ex] : 0;
                double mx = c[0] + r[0];
                for (int i = 1; i < dK; i++) mx = fmax(mx, c[i] + r[i]);
                double se = 0;
                for (int i = 0; i < dK; i++) se += exp(c[i] + r[i] - mx);
                total += -(c[y] - r[y]) + mx + log(se);
            }
        }
    }
    return total / (double)d->n;
}

/* Largest L found by projected sign-gradient ascent in the box theta +- r
 * (uniform), from the gradient-sign corner and `starts` random corners. */
static minima_status box_ascent(minima_net *net, const double *theta, size_t P, double r,
                                uint64_t seed, int starts, int steps, double *buf /* (3P) */,
                                double *best)
{
    double *x = buf, *g = x + P, *delta = g + P, loss;
    minima_rng rng;
    minima_rng_seed2(&rng, seed, 2);
    MINIMA_TRY(minima_net_gradient(net, theta, &loss, g));
    *best = loss;
    for (int s = 0; s <= starts; s++) {
        for (size_t i = 0; i < P; i++)
            delta[i] = s == 0 ? (g[i] >= 0 ? r : -r) : (minima_rng_uniform(&rng) < 0.5 ? -r : r);
        double step = r;
        for (int t = 0; t <= steps; t++) {
            for (size_t i = 0; i < P; i++) x[i] = theta[i] + delta[i];
            MINIMA_TRY(minima_net_gradient(net, x, &loss, g));
            if (loss > *best) *best = loss;
            for (size_t i = 0; i < P; i++)
                delta[i] = fmax(-r, fmin(r, delta[i] + step * (g[i] > 0 ? 1 : g[i] < 0 ? -1 : 0)));
            step *= 0.7;
        }
    }
    return MINIMA_OK;
}

minima_status minima_thm_check_thm2(minima_theorem_env *env, const minima_theorem_params *p,
                                    minima_theorem_result *r)
{
    const minima_model *model;
    const minima_dataset *data;
    minima_theorem_net_info info;
    MINIMA_TRY(minima_theorem_env_net(env, MINIMA_THEOREM_NET_SHALLOW, &model, &data, &info));
    minima_thm_describe_net(r, model, data, &info);
    if (!minima_thm_require_mlp(r, model, "Thm 2's certified box (interval bounds layer by layer) "
                                "and its images under the layer-wise T_alpha")) return MINIMA_OK;
    if (model->n_layers != 2) {
        minima_thm_not_applicable(r, "Thm 2 is stated for one hidden layer (theta_1, theta_2); this "
                                  "network has %d hidden layers", model->n_layers - 1);
        return MINIMA_OK;
    }
    size_t P = model->n_params, n1 = minima_model_layer_params(model, 0);
    size_t nw2 = minima_model_layer_weights(model, 1);
    double m = 0;
    size_t istar = 0;
    for (size_t i = 0; i < n1; i++)
        if (fabs(model->theta[i]) > m) { m = fabs(model->theta[i]); istar = i; }
    double n2norm = minima_thm_norm(model->theta + n1, nw2);
    minima_thm_hypothesis(r, "theta_1 != 0 != theta_2: ||theta_1||_inf = %.4g, ||W_2|| = %.4g; "
                          "activation %s. ", m, n2norm, minima_activation_name(model->activation));
    if (!(m > 0) || !(n2norm > 0)) {
        minima_thm_detail(r, "HYPOTHESIS BROKEN: theta_1 = 0 or theta_2 = 0. ");
        return MINIMA_OK;
    }
    int maxw = 1;
    for (int k = 0; k <= model->n_layers; k++) maxw = maxw > model->widths[k] ? maxw : model->widths[k];
    minima_net *net = NULL;
    double *buf = NULL, alpha[2];
    minima_status s;
    if ((s = minima_net_create(&net, model, data, NULL))) return s;
    buf = minima_alloc(6 * P + box_ws_size(maxw, P), sizeof *buf);
    if (!buf) { s = minima_error(MINIMA_ENOMEM, "thm2: out of memory"); goto fail; }
    double *rad = buf, *img = rad + P, *diag = img + P, *scratch = diag + P, *work = scratch + 3 * P;
    double L = info.loss, eps = p->volume_eps, level = L + eps;

    /* 1. the largest certified r, by bisection */
    double lo = 0, hi = m * (1 - 1e-9);
    for (size_t i = 0; i < P; i++) rad[i] = hi;
    if (box_upper_loss(model, data, model->theta, rad, work, maxw) < level) lo = hi;
    for (int it = 0; it < 60 && hi - lo > 1e-6 * hi; it++) {
        double mid = 0.5 * (lo + hi);
        for (size_t i = 0; i < P; i++) rad[i] = mid;
        if (box_upper_loss(model, data, model->theta, rad, work, maxw) < level) lo = mid;
        else hi = mid;
    }
    double rr = lo;
    for (size_t i = 0; i < P; i++) rad[i] = rr;
    double ub = box_upper_loss(model, data, model->theta, rad, work, maxw), found = NAN;
    if (rr > 0 && (s = box_ascent(net, model->theta, P, rr, p->seed, 4, 20, scratch, &found))) goto fail;
    int certified = rr > 0 && ub < level;

    /* 2. alpha and disjointness along the coordinate of ||theta_1||_inf */
    double alpha_v = certified ? 2 * (m + rr) / (m - rr) : NAN;
    alpha[0] = alpha_v;
    alpha[1] = 1 / alpha_v;
    minima_thm_layer_map(model, alpha, NULL, NULL, diag);
    long e = 0;
    for (size_t i = 0; i < P; i++) e += diag[i] > 1 + 1e-12 ? 1 : diag[i] < 1 - 1e-12 ? -1 : 0;
    int disjoint = certified;
    for (int j = 0; certified && j < p->volume_j; j++) {
        double aj = pow(alpha_v, j), aj1 = pow(alpha_v, j + 1);
        if (!(aj1 * (m - rr) > aj * (m + rr))) disjoint = 0;
    }
    /* images: T_alpha^j(B) is the box around T_alpha^j theta with half-widths
     * diag^j r; its loss at the centre and its certified bound */
    int images_ok = certified;
    double worst_img_loss = 0, worst_img_ub = -INFINITY;
    for (int j = 1; certified && j <= CHECK_IMAGES && j <= p->volume_j; j++) {
        for (size_t i = 0; i < P; i++) {
            double f = pow(diag[i], j);
            img[i] = f * model->theta[i];
            rad[i] = f * rr;
        }
        double lj;
        if ((s = minima_net_loss(net, img, &lj, NULL))) goto fail;
        double ubj = box_upper_loss(model, data, img, rad, work, maxw);
        worst_img_loss = fmax(worst_img_loss, fabs(lj - L));
        worst_img_ub = fmax(worst_img_ub, ubj);
        if (!(fabs(lj - L) <= 1e-9 * L + 1e-14) || !(ubj < level)) images_ok = 0;
    }
    /* 3. the lower bound on log vol C */
    double logvol_b = certified ? (double)P * log(2 * rr) : NAN;
    double la = fabs((double)e) * log(alpha_v);
    int js[6] = {0, 1, 2, 10, p->volume_j, 1000000}, increasing = certified;
    double prev = -INFINITY;
    minima_thm_number(r, "r", rr);
    minima_thm_number(r, "certified_max_loss", ub);
    minima_thm_number(r, "ascent_max_loss", found);
    minima_thm_number(r, "level", level);
    minima_thm_number(r, "alpha", alpha_v);
    minima_thm_number(r, "volume_exponent", (double)e);
    minima_thm_number(r, "log_vol_box", logvol_b);
    minima_thm_detail(r, "eps = %g: B_inf(r = %.4g, theta) certified inside C (interval bound of max L "
                      "over B: %.8g < L + eps = %.8g; ascent finds %.8g); alpha = 2(m + r)/(m - r) = "
                      "%.4g; %d boxes T_alpha^j(B) pairwise disjoint: %s; images j = 1..%d: |L - L(theta)| "
                      "<= %.2g, certified max %.8g; volume exponent e = %ld; log vol C >= ",
                      eps, rr, ub, level, found, alpha_v, p->volume_j + 1, disjoint ? "yes" : "NO",
                      CHECK_IMAGES, worst_img_loss, worst_img_ub, e);
    for (int k = 0; k < 6 && certified; k++) {
        int j = js[k];
        if (k > 0 && j <= js[k - 1]) continue;
        /* log sum_{i<=j} alpha^{i |e|} */
        double lse;
        if (la == 0) lse = log((double)j + 1);
        else lse = (double)j * la + log1p(-exp(-la * (j + 1))) - log1p(-exp(-la));
        double bound = logvol_b + lse;
        if (!(bound > prev)) increasing = 0;
        prev = bound;
        char key[40];
        snprintf(key, sizeof key, "log_vol_bound_j%d", j);
        minima_thm_number(r, key, bound);
        minima_thm_detail(r, "%s%.4g (j = %d)", k ? ", " : "", bound, j);
    }
    r->passed = certified && disjoint && images_ok && increasing;
    r->tolerance = eps;
    minima_thm_detail(r, ": %s.", r->passed ? "it grows without bound with j" :
                      !certified ? "NO certified box" : !images_ok ?
                      "THE IMAGES ARE NOT INSIDE C (T_alpha changed the function)" : "NOT verified");
    (void)istar;
fail:
    minima_free(buf);
    minima_net_free(net);
    return s;
}
