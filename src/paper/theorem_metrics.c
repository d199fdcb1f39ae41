/* theorem_metrics.c — appendix D: metrics built on the Euclidean distance
 * (mean squared error, earth mover's distance) rank models differently in
 * another representation of the same data; the log-likelihood, with the
 * change-of-variables term, does not.
 *
 * The design. The representation changed is that of the regression
 * targets, y' = S (y - mu), a bijection: S = diag(1/std) (standardization)
 * or S = Sigma_y^{-1/2} (ZCA whitening), fitted on the targets; a model's
 * predictions map the same way. Two models that err on different outputs:
 * the network's predictions f shifted by delta_a on output a (model A) or
 * by delta_b on output b (model B), where a, b are the outputs with the
 * smallest and largest target standard deviation (ratio rho = std_b /
 * std_a). A shift delta of output j adds u_j = 2 delta m_j + delta^2 (m_j
 * the mean residual) to its mean squared error; the shifts are solved for
 * u_a = std_a^2 rho < u_b = std_a^2 rho^2, so A is better in the raw
 * representation, while standardized (divided by std_j^2) A adds rho
 * against B's 1: the MSE ranking flips whenever rho > 1, i.e. whenever
 * standardization is not a uniform scaling, on any network.
 * Each model is also a density, p(y | x) = N(f(x), Sigma) with Sigma the
 * maximum-likelihood covariance of its residuals, refitted in each
 * representation: its mean negative log-likelihood moves by exactly
 * log|det S| for every model (change of variables), so its ranking cannot
 * change. The check verifies that identity, the unchanged likelihood
 * ranking and the flipped MSE ranking; the EMD (sum over outputs of the 1-D
 * Wasserstein-1 distance between the predicted and target marginals)
 * ranking is reported. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net_eval_impl.h"
#include "minima/alloc.h"
#include "minima/eigen.h"
#include "paper/theorem_impl.h"

#define NLL_RTOL 1e-9

typedef struct {
    double mse, emd, nll;
} scores;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* log det of a symmetric positive definite d x d matrix (Cholesky, in
 * place); -INFINITY if not positive definite. */
static double logdet_spd(double *a, int d)
{
    double ld = 0;
    for (int j = 0; j < d; j++) {
        double s = a[j * d + j];
        for (int k = 0; k < j; k++) s -= a[j * d + k] * a[j * d + k];
        if (!(s > 0)) return -INFINITY;
        double l = sqrt(s);
        a[j * d + j] = l;
        ld += 2 * log(l);
        for (int i = j + 1; i < d; i++) {
            double t = a[i * d + j];
            for (int k = 0; k < j; k++) t -= a[i * d + k] * a[j * d + k];
            a[i * d + j] = t / l;
        }
    }
    return ld;
}

/* Scores of predictions f (N, d) against targets y (N, d), both already
 * in the representation. work: 2N + d*d doubles. */
static void score(const double *f, const double *y, size_t N, int d, double *work, scores *out)
{
    double *a = work, *b = a + N, *cov = b + N;
    double se = 0;
    for (size_t i = 0; i < N * (size_t)d; i++) se += (f[i] - y[i]) * (f[i] - y[i]);
    out->mse = se / (double)(N * (size_t)d);
    double emd = 0;
    for (int j = 0; j < d; j++) {
        for (size_t i = 0; i < N; i++) {
            a[i] = f[i * (size_t)d + (size_t)j];
            b[i] = y[i * (size_t)d + (size_t)j];
        }
        qsort(a, N, sizeof *a, cmp_double);
        qsort(b, N, sizeof *b, cmp_double);
        double w = 0;
        for (size_t i = 0; i < N; i++) w += fabs(a[i] - b[i]);
        emd += w / (double)N;
    }
    out->emd = emd;
    memset(cov, 0, (size_t)d * (size_t)d * sizeof *cov);
    for (size_t i = 0; i < N; i++)
        for (int j = 0; j < d; j++)
            for (int k = 0; k <= j; k++) {
                double rj = y[i * (size_t)d + (size_t)j] - f[i * (size_t)d + (size_t)j];
                double rk = y[i * (size_t)d + (size_t)k] - f[i * (size_t)d + (size_t)k];
                cov[j * d + k] += rj * rk / (double)N;
            }
    for (int j = 0; j < d; j++)
        for (int k = 0; k < j; k++) cov[k * d + j] = cov[j * d + k];
    double ld = logdet_spd(cov, d);
    out->nll = 0.5 * ((double)d * log(2 * M_PI) + ld + (double)d);
}

/* out = S (in - mu) for N rows of d. */
static void represent(const double *s, const double *mu, const double *in, size_t N, int d, double *out)
{
    for (size_t i = 0; i < N; i++)
        for (int j = 0; j < d; j++) {
            double acc = 0;
            for (int k = 0; k < d; k++) acc += s[j * d + k] * (in[i * (size_t)d + (size_t)k] - mu[k]);
            out[i * (size_t)d + (size_t)j] = acc;
        }
}

static int sign3(double x) { return (x > 0) - (x < 0); }

minima_status minima_thm_check_appd(minima_theorem_env *env, const minima_theorem_params *p,
                                    minima_theorem_result *r)
{
    const minima_model *model;
    const minima_dataset *data;
    minima_theorem_net_info info;
    MINIMA_TRY(minima_theorem_env_net(env, MINIMA_THEOREM_NET_DEEP, &model, &data, &info));
    minima_thm_describe_net(r, model, data, &info);
    int d = minima_model_n_outputs(model);   /* a perceptron's d_K, any graph's outputs */
    if (!data->targets || data->d_target != d) {
        minima_thm_not_applicable(r, "needs regression targets of the output width (MSE data); "
                                  "this data set has %s", data->targets ? "targets of another width" :
                                  "class labels only");
        return MINIMA_OK;
    }
    if (d < 2) {
        minima_thm_not_applicable(r, "needs at least 2 outputs: with one, standardization is a "
                                  "uniform scaling and preserves every ranking");
        return MINIMA_OK;
    }
    size_t N = data->n, Nd = N * (size_t)d, dd = (size_t)d * (size_t)d;
    double *buf = minima_alloc(7 * Nd + 2 * N + 5 * dd + 3 * (size_t)d, sizeof *buf);
    if (!buf) MINIMA_FAIL(MINIMA_ENOMEM, "appD: out of memory");
    minima_status s;
    double *f = buf, *fa = f + Nd, *fb = fa + Nd, *y2 = fb + Nd, *fa2 = y2 + Nd, *fb2 = fa2 + Nd;
    double *work = fb2 + Nd;                       /* 2N + dd */
    double *cov = work + 2 * N + dd, *vecs = cov + dd, *smat = vecs + dd, *ident = smat + dd;
    double *mu = ident + dd, *sd = mu + d, *vals = sd + d;
    (void)fb2;
    if ((s = minima_eval_outputs(model, NULL, data->x, N, f))) goto fail;
    const double *y = data->targets;
    for (int j = 0; j < d; j++) {
        double m = 0, v = 0;
        for (size_t i = 0; i < N; i++) m += y[i * (size_t)d + (size_t)j];
        m /= (double)N;
        for (size_t i = 0; i < N; i++) v += (y[i * (size_t)d + (size_t)j] - m) * (y[i * (size_t)d + (size_t)j] - m);
        mu[j] = m;
        sd[j] = sqrt(v / (double)N);
    }
    int a = 0, b = 0;
    for (int j = 1; j < d; j++) {
        if (sd[j] < sd[a]) a = j;
        if (sd[j] > sd[b]) b = j;
    }
    double rho = sd[b] / sd[a];
    minima_thm_hypothesis(r, "targets: std of output %d = %.4g, of output %d = %.4g (ratio %.4g; > 1 + "
                          "%.0e needed for standardization to be more than a uniform scaling). ",
                          a, sd[a], b, sd[b], rho, p->change_tol);
    if (!(sd[a] > 0)) {
        minima_thm_not_applicable(r, "a target output is constant: no bijective standardization");
        goto fail;
    }
    /* shifting output j by delta adds N u_j, u_j = 2 delta m_j + delta^2, to its
     * sum of squared errors (m_j its mean residual); choose u_a = std_a^2 rho <
     * u_b = std_a^2 rho^2, so A is better raw and, divided by std_j^2, worse
     * standardized (rho > 1 against 1) */
    double ma = 0, mb = 0;
    for (size_t i = 0; i < N; i++) {
        ma += (f[i * (size_t)d + (size_t)a] - y[i * (size_t)d + (size_t)a]) / (double)N;
        mb += (f[i * (size_t)d + (size_t)b] - y[i * (size_t)d + (size_t)b]) / (double)N;
    }
    double ua = sd[a] * sd[a] * rho, ub = sd[a] * sd[a] * rho * rho;
    double da = -ma + sqrt(ua + ma * ma), db = -mb + sqrt(ub + mb * mb);
    memcpy(fa, f, Nd * sizeof *fa);
    memcpy(fb, f, Nd * sizeof *fb);
    for (size_t i = 0; i < N; i++) {
        fa[i * (size_t)d + (size_t)a] += da;
        fb[i * (size_t)d + (size_t)b] += db;
    }
    /* representations: identity, standardization, ZCA whitening */
    memset(ident, 0, dd * sizeof *ident);
    for (int j = 0; j < d; j++) ident[j * d + j] = 1;
    memset(cov, 0, dd * sizeof *cov);
    for (size_t i = 0; i < N; i++)
        for (int j = 0; j < d; j++)
            for (int k = 0; k < d; k++)
                cov[j * d + k] += (y[i * (size_t)d + (size_t)j] - mu[j]) *
                                  (y[i * (size_t)d + (size_t)k] - mu[k]) / (double)N;
    if ((s = minima_spectrum_dense((size_t)d, cov, vals, vecs))) goto fail;
    if (!(vals[0] > 0)) {
        minima_thm_not_applicable(r, "the targets' covariance is singular: no whitening");
        goto fail;
    }
    scores sc[3][2];
    double logdet_s[3];
    const char *names[3] = {"raw", "standardized", "whitened"};
    for (int rep = 0; rep < 3; rep++) {
        const double *mrep = mu;   /* centring changes none of the scores */
        if (rep == 0) {
            memcpy(smat, ident, dd * sizeof *smat);
            logdet_s[rep] = 0;
        } else if (rep == 1) {
            memcpy(smat, ident, dd * sizeof *smat);
            logdet_s[rep] = 0;
            for (int j = 0; j < d; j++) {
                smat[j * d + j] = 1 / sd[j];
                logdet_s[rep] -= log(sd[j]);
            }
        } else {   /* S = Q Lambda^{-1/2} Q^T */
            logdet_s[rep] = 0;
            for (int j = 0; j < d; j++) logdet_s[rep] -= 0.5 * log(vals[j]);
            for (int j = 0; j < d; j++)
                for (int k = 0; k < d; k++) {
                    double acc = 0;
                    for (int q = 0; q < d; q++)
                        acc += vecs[q * (size_t)d + (size_t)j] * vecs[q * (size_t)d + (size_t)k] / sqrt(vals[q]);
                    smat[j * d + k] = acc;
                }
        }
        represent(smat, mrep, y, N, d, y2);
        represent(smat, mrep, fa, N, d, fa2);
        score(fa2, y2, N, d, work, &sc[rep][0]);
        represent(smat, mrep, fb, N, d, fa2);
        score(fa2, y2, N, d, work, &sc[rep][1]);
    }
    int mse0 = sign3(sc[0][0].mse - sc[0][1].mse), emd0 = sign3(sc[0][0].emd - sc[0][1].emd);
    int nll0 = sign3(sc[0][0].nll - sc[0][1].nll);
    int mse_flip = 0, emd_flip = 0, nll_kept = nll0 != 0, cov_ok = 1;
    double worst_cov = 0;
    for (int rep = 1; rep < 3; rep++) {
        if (sign3(sc[rep][0].mse - sc[rep][1].mse) != mse0) mse_flip = 1;
        if (sign3(sc[rep][0].emd - sc[rep][1].emd) != emd0) emd_flip = 1;
        if (sign3(sc[rep][0].nll - sc[rep][1].nll) != nll0) nll_kept = 0;
        for (int mdl = 0; mdl < 2; mdl++) {
            double shift = sc[rep][mdl].nll - sc[0][mdl].nll, want = logdet_s[rep];
            double err = fabs(shift - want) / (fabs(want) + fabs(sc[0][mdl].nll) + 1);
            worst_cov = fmax(worst_cov, err);
            if (!(err <= NLL_RTOL)) cov_ok = 0;
        }
    }
    r->passed = rho > 1 + p->change_tol && mse_flip && nll_kept && cov_ok;
    r->tolerance = NLL_RTOL;
    minima_thm_number(r, "std_ratio", rho);
    minima_thm_number(r, "delta_a", da);
    minima_thm_number(r, "delta_b", db);
    for (int rep = 0; rep < 3; rep++) {
        char key[40];
        const char *nm = rep == 0 ? "raw" : rep == 1 ? "std" : "white";
        snprintf(key, sizeof key, "mse_A_%s", nm);
        minima_thm_number(r, key, sc[rep][0].mse);
        snprintf(key, sizeof key, "mse_B_%s", nm);
        minima_thm_number(r, key, sc[rep][1].mse);
        snprintf(key, sizeof key, "emd_A_%s", nm);
        minima_thm_number(r, key, sc[rep][0].emd);
        snprintf(key, sizeof key, "emd_B_%s", nm);
        minima_thm_number(r, key, sc[rep][1].emd);
        snprintf(key, sizeof key, "nll_A_%s", nm);
        minima_thm_number(r, key, sc[rep][0].nll);
        snprintf(key, sizeof key, "nll_B_%s", nm);
        minima_thm_number(r, key, sc[rep][1].nll);
        snprintf(key, sizeof key, "log_det_S_%s", nm);
        minima_thm_number(r, key, logdet_s[rep]);
        minima_thm_detail(r, "%s%s: MSE A %.4g %s B %.4g, EMD A %.4g %s B %.4g, NLL A %.6g %s B %.6g "
                          "(log|det S| = %.4g)", rep ? "; " : "", names[rep], sc[rep][0].mse,
                          sc[rep][0].mse < sc[rep][1].mse ? "<" : ">=", sc[rep][1].mse, sc[rep][0].emd,
                          sc[rep][0].emd < sc[rep][1].emd ? "<" : ">=", sc[rep][1].emd, sc[rep][0].nll,
                          sc[rep][0].nll < sc[rep][1].nll ? "<" : ">=", sc[rep][1].nll, logdet_s[rep]);
    }
    minima_thm_number(r, "nll_change_of_variables_err", worst_cov);
    minima_thm_detail(r, ". Models: f + %.3g on output %d (A), f + %.3g on output %d (B). MSE ranking "
                      "%s, EMD ranking %s, NLL ranking %s; NLL' - NLL = log|det S| to %.2g (tolerance "
                      "%.0e).", da, a, db, b, mse_flip ? "CHANGES" : "does not change",
                      emd_flip ? "CHANGES" : "does not change", nll_kept ? "is kept" : "CHANGES",
                      worst_cov, NLL_RTOL);
fail:
    minima_free(buf);
    return s;
}
