/* test_sharpness_curv.c — the curvature- and norm-based measures against
 * independent brute-force values on tiny networks (dense Hessian + dsyevd,
 * explicit path enumeration, per-example gradients, grid searches), their
 * invariance or predicted change under rescalings built here by hand, and
 * their reproducibility. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/rng.h"
#include "minima/sharpness.h"

/* ---- fixtures --------------------------------------------------------- */

/* N examples of d Gaussian features; labels in [0, classes) and, when
 * d_target > 0, Gaussian regression targets. Freed with free_data. */
static minima_dataset make_data(size_t n, int d, int classes, int d_target, uint64_t seed)
{
    minima_dataset ds;
    memset(&ds, 0, sizeof ds);
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    ds.n = n;
    ds.d = d;
    ds.x = malloc(n * (size_t)d * sizeof *ds.x);
    minima_rng_fill_normal(&rng, ds.x, n * (size_t)d);
    if (classes > 0) {
        ds.n_classes = classes;
        ds.labels = malloc(n * sizeof *ds.labels);
        for (size_t i = 0; i < n; i++) ds.labels[i] = (int32_t)minima_rng_below(&rng, (uint64_t)classes);
    }
    if (d_target > 0) {
        ds.d_target = d_target;
        ds.targets = malloc(n * (size_t)d_target * sizeof *ds.targets);
        minima_rng_fill_normal(&rng, ds.targets, n * (size_t)d_target);
    }
    ds.name = "test data";
    return ds;
}

static void free_data(minima_dataset *ds)
{
    free(ds->x);
    free(ds->labels);
    free(ds->targets);
}

static minima_model *make_model(const char *arch, int bias, minima_activation act, uint64_t seed)
{
    int *w, K;
    minima_model *m = NULL;
    if (minima_parse_arch(arch, &w, &K) != MINIMA_OK) return NULL;
    if (minima_model_create(&m, K, w, bias, act) == MINIMA_OK) minima_model_init(m, seed);
    minima_free(w);
    if (m && act == MINIMA_ACT_LEAKY_RELU) minima_model_set_activation(m, act, 0.1);
    return m;
}

static minima_net *make_net(minima_model *m, const minima_dataset *ds, minima_loss loss)
{
    minima_net_params p = minima_net_default_params(m);
    p.loss = loss;
    minima_net *net = NULL;
    if (minima_net_create(&net, m, ds, &p) != MINIMA_OK) return NULL;
    return net;
}

/* Layer-wise map, built by hand: W_k -> alpha_k W_k, b_k -> (prod_{j<=k}
 * alpha_j) b_k (alpha has K entries with product 1). */
static void rescale_layers(const minima_model *m, const double *theta, const double *alpha,
                           double *out)
{
    memcpy(out, theta, m->n_params * sizeof *out);
    double cum = 1;
    for (int k = 0; k < m->n_layers; k++) {
        cum *= alpha[k];
        double *w = out + m->weight_offset[k];
        for (size_t i = 0; i < minima_model_layer_weights(m, k); i++) w[i] *= alpha[k];
        if (m->has_bias)
            for (int i = 0; i < m->widths[k + 1]; i++) out[m->bias_offset[k] + (size_t)i] *= cum;
    }
}

/* Per-neuron map, in place: unit h of model layer k (k <= K-2): row h of
 * W_k and b_k[h] times c, column h of W_{k+1} times 1/c. */
static void rescale_neuron(const minima_model *m, double *theta, int k, int h, double c)
{
    int din = m->widths[k], dh = m->widths[k + 1], dout = m->widths[k + 2];
    double *w = theta + m->weight_offset[k];
    for (int j = 0; j < din; j++) w[(size_t)h * (size_t)din + (size_t)j] *= c;
    if (m->has_bias) theta[m->bias_offset[k] + (size_t)h] *= c;
    double *w2 = theta + m->weight_offset[k + 1];
    for (int i = 0; i < dout; i++) w2[(size_t)i * (size_t)dh + (size_t)h] /= c;
}

/* The dense Hessian (P, P) at the anchor and its eigenvalues (ascending)
 * from LAPACKE_dsyevd; the caller frees both. */
static double *dense_hessian(minima_net *net, double **values)
{
    size_t P = minima_net_n_params(net);
    double *h = malloc(P * P * sizeof *h), *a = malloc(P * P * sizeof *a);
    *values = malloc(P * sizeof **values);
    CHECK_OK(minima_net_hessian(net, h));
    memcpy(a, h, P * P * sizeof *a);
    CHECK(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (int)P, a, (int)P, *values) == 0);
    free(a);
    return h;
}

/* ---- Hessian spectral norm and trace ------------------------------------ */

static void test_hessian_max_and_trace_vs_dense(void)
{
    minima_dataset ds = make_data(30, 3, 3, 3, 11);
    for (int bias = 0; bias <= 1; bias++)
        for (int loss = 0; loss <= 1; loss++) {
            minima_model *m = make_model("3-5-4-3", bias, MINIMA_ACT_RELU, 12 + (uint64_t)bias);
            minima_net *net = make_net(m, &ds, loss ? MINIMA_LOSS_MSE : MINIMA_LOSS_CE);
            size_t P = minima_net_n_params(net);
            double *lam, *h = dense_hessian(net, &lam);
            double tr = 0;
            for (size_t i = 0; i < P; i++) tr += h[i * P + i];
            minima_measure_result r;
            double top = harness_measure(net, "hessian_max", NULL, 1, &r);
            CHECK_MSG(harness_reldiff(top, lam[P - 1], 1e-12) <= 1e-9,
                      "bias %d loss %d: lanczos %.17g, dsyevd %.17g", bias, loss, top, lam[P - 1]);
            CHECK(harness_extra(&r, "residual") <= 1e-7 * fabs(top));
            double t = harness_measure(net, "hessian_trace", NULL, 1, &r);
            CHECK_REL(t, tr, 1e-12);
            CHECK(harness_extra(&r, "exact") == 1 && harness_extra(&r, "std_error") == 0);
            /* Hutch++ on the same net: within 5 standard errors of the truth */
            t = harness_measure(net, "hessian_trace",
                                "exact_max=0,rtol=1e-3,max_samples=2000,sketch=10", 3, &r);
            double se = harness_extra(&r, "std_error");
            CHECK(harness_extra(&r, "exact") == 0);
            CHECK_MSG(fabs(t - tr) <= 5 * se + 1e-12 * fabs(tr),
                      "hutch++ %.10g vs exact %.10g, std error %.3g", t, tr, se);
            /* Hutchinson: same */
            t = harness_measure(net, "hessian_trace",
                                "exact_max=0,hutchpp=0,rtol=1e-2,max_samples=3000", 3, &r);
            se = harness_extra(&r, "std_error");
            CHECK_MSG(se > 0 && fabs(t - tr) <= 5 * se, "hutchinson %.10g vs exact %.10g, std error %.3g",
                      t, tr, se);
            free(h);
            free(lam);
            minima_net_free(net);
            minima_model_free(m);
        }
    free_data(&ds);
}

/* Tr grad^2 L(A theta) = sum_k Tr(H_kk) / alpha_k^2 for a bias-free
 * layer-wise map (the diagonal of A^{-1} H A^{-1}), and same seed, same
 * number. */
static void test_hessian_trace_moves_as_predicted(void)
{
    minima_dataset ds = make_data(30, 3, 3, 0, 21);
    minima_model *m = make_model("3-5-4-3", 0, MINIMA_ACT_RELU, 22);
    minima_net *net = make_net(m, &ds, MINIMA_LOSS_CE);
    size_t P = minima_net_n_params(net);
    double *lam, *h = dense_hessian(net, &lam);
    const double alpha[3] = {4.0, 0.1, 2.5};
    double predicted = 0;
    for (int k = 0; k < 3; k++) {
        size_t o = m->weight_offset[k], n = minima_model_layer_weights(m, k);
        for (size_t i = o; i < o + n; i++) predicted += h[i * P + i] / (alpha[k] * alpha[k]);
    }
    double *t2 = malloc(P * sizeof *t2);
    rescale_layers(m, m->theta, alpha, t2);
    CHECK_OK(minima_net_set_point(net, t2));
    double t = harness_measure(net, "hessian_trace", NULL, 0, NULL);
    CHECK_REL(t, predicted, 1e-11);
    /* lambda_max is not invariant either: it moved */
    double top = harness_measure(net, "hessian_max", NULL, 0, NULL);
    CHECK(fabs(top - lam[P - 1]) > 1e-3 * lam[P - 1]);
    /* reproducible: same seed, bit-identical; another seed, another estimate */
    double a = harness_measure(net, "hessian_trace", "exact_max=0", 7, NULL);
    double b = harness_measure(net, "hessian_trace", "exact_max=0", 7, NULL);
    double c = harness_measure(net, "hessian_trace", "exact_max=0", 8, NULL);
    CHECK(a == b);
    CHECK(a != c);
    CHECK(harness_measure(net, "hessian_max", NULL, 7, NULL) ==
          harness_measure(net, "hessian_max", NULL, 7, NULL));
    /* bad settings are refused */
    minima_measure_result r;
    CHECK_STATUS(minima_measure_compute(minima_measure_find("hessian_trace"), net, "exact_max=-1",
                                        0, &r), MINIMA_EINVAL);
    CHECK_STATUS(minima_measure_compute(minima_measure_find("hessian_max"), net, "bogus=1", 0, &r),
                 MINIMA_EINVAL);
    free(t2);
    free(h);
    free(lam);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

/* ---- path norm ----------------------------------------------------------- */

/* Sum over every path that ends at unit `unit` of model layer k's outputs
 * (k = -1: the inputs, each the start of one path of product 1) of the
 * product of |w|^p along it, enumerated edge by edge: from each unit of the
 * layer below through W_k, and the one-edge path from layer k's bias unit. */
static double paths_into(const minima_model *m, const double *theta, int k, int unit, double p)
{
    if (k < 0) return 1.0;
    int din = m->widths[k];
    double s = m->has_bias ? pow(fabs(theta[m->bias_offset[k] + (size_t)unit]), p) : 0.0;
    for (int j = 0; j < din; j++)
        s += pow(fabs(theta[m->weight_offset[k] + (size_t)unit * (size_t)din + (size_t)j]), p) *
             paths_into(m, theta, k - 1, j, p);
    return s;
}

/* The same by explicit enumeration of full paths (a recursion over the
 * start unit and every next unit), to make sure the recursion above is the
 * sum over paths and not a copy of the implementation's formula. */
static double enumerate(const minima_model *m, const double *theta, int k, int unit, double prod,
                        double p, size_t *n_paths)
{
    /* a path is at unit `unit` of the outputs of layer k-1 (k = 0: an input);
     * continue it through layer k, or stop at the outputs */
    if (k == m->n_layers) {
        (*n_paths)++;
        return prod;
    }
    double s = 0;
    int din = m->widths[k];
    for (int i = 0; i < m->widths[k + 1]; i++) {
        double w = theta[m->weight_offset[k] + (size_t)i * (size_t)din + (size_t)unit];
        s += enumerate(m, theta, k + 1, i, prod * pow(fabs(w), p), p, n_paths);
    }
    return s;
}

static double brute_path_sum(const minima_model *m, const double *theta, double p, size_t *n_paths)
{
    double s = 0;
    *n_paths = 0;
    for (int j = 0; j < m->widths[0]; j++) s += enumerate(m, theta, 0, j, 1.0, p, n_paths);
    if (m->has_bias)   /* paths from the bias unit of layer k: first edge b_k[i] */
        for (int k = 0; k < m->n_layers; k++)
            for (int i = 0; i < m->widths[k + 1]; i++)
                s += enumerate(m, theta, k + 1, i,
                               pow(fabs(theta[m->bias_offset[k] + (size_t)i]), p), p, n_paths);
    return s;
}

static void test_path_norm_vs_enumeration(void)
{
    minima_dataset ds = make_data(10, 3, 3, 0, 31);
    const double ps[3] = {2.0, 1.0, 3.0};
    for (int bias = 0; bias <= 1; bias++) {
        minima_model *m = make_model("3-5-4-3", bias, MINIMA_ACT_RELU, 32);
        minima_net *net = make_net(m, &ds, MINIMA_LOSS_CE);
        for (int ip = 0; ip < 3; ip++) {
            char set[32];
            snprintf(set, sizeof set, "p=%g", ps[ip]);
            size_t n_paths;
            double brute = brute_path_sum(m, m->theta, ps[ip], &n_paths);
            /* 3*5*4*3 input paths, plus 5*4*3 + 4*3 + 3 from bias units */
            CHECK(n_paths == (size_t)(bias ? 180 + 60 + 12 + 3 : 180));
            double rec = 0;
            for (int i = 0; i < 3; i++) rec += paths_into(m, m->theta, 2, i, ps[ip]);
            CHECK_REL(rec, brute, 1e-13);
            minima_measure_result r;
            double v = harness_measure(net, "path_norm", set, 0, &r);
            CHECK_REL(v, pow(brute, 1.0 / ps[ip]), 1e-13);
            CHECK_REL(harness_extra(&r, "sum_of_paths"), brute, 1e-13);
        }
        minima_net_free(net);
        minima_model_free(m);
    }
    free_data(&ds);
}

/* ---- Fisher-Rao norm ------------------------------------------------------ */

/* (1/N) sum_i <theta, grad l_i>^2 with grad l_i the gradient of a net over
 * example i alone (its mean loss is l_i). */
static double brute_fisher_rao(const minima_model *m, const minima_dataset *ds, minima_loss loss)
{
    size_t P = m->n_params;
    double *g = malloc(P * sizeof *g), s = 0;
    for (size_t i = 0; i < ds->n; i++) {
        minima_dataset *one = NULL;
        CHECK_OK(minima_dataset_slice(ds, i, 1, &one));
        minima_net *net = make_net((minima_model *)m, one, loss);
        double l, d = 0;
        CHECK_OK(minima_net_gradient(net, NULL, &l, g));
        for (size_t j = 0; j < P; j++) d += m->theta[j] * g[j];
        s += d * d;
        minima_net_free(net);
        minima_dataset_free(one);
    }
    free(g);
    return s / (double)ds->n;
}

static void test_fisher_rao(void)
{
    minima_dataset ds = make_data(30, 3, 3, 3, 41);
    for (int bias = 0; bias <= 1; bias++)
        for (int loss = 0; loss <= 1; loss++) {
            minima_loss lk = loss ? MINIMA_LOSS_MSE : MINIMA_LOSS_CE;
            minima_model *m = make_model("3-5-4-3", bias, MINIMA_ACT_RELU, 42 + (uint64_t)loss);
            minima_net *net = make_net(m, &ds, lk);
            minima_measure_result r;
            double v = harness_measure(net, "fisher_rao", NULL, 0, &r);
            CHECK_REL(v, brute_fisher_rao(m, &ds, lk), 1e-11);
            CHECK_REL(harness_extra(&r, "fr_norm"), sqrt(v), 1e-15);
            double out_form = harness_extra(&r, "fr_output_form");
            if (bias) CHECK(isnan(out_form) && r.note[0]);
            else CHECK_REL(out_form, v, 1e-11);   /* Liang et al. Lemma 2.1 */
            minima_net_free(net);
            minima_model_free(m);
        }
    free_data(&ds);
}


/* ---- relative flatness ------------------------------------------------------ */

/* A_k (n, d_k) of hidden layer k (model layer k-1's outputs, 1 <= k < K) by
 * plain loops. */
static void hidden_acts(const minima_model *m, const double *theta, const double *x, size_t n,
                        int k, double *out)
{
    int wmax = 0;
    for (int l = 0; l <= m->n_layers; l++) wmax = m->widths[l] > wmax ? m->widths[l] : wmax;
    double *a = malloc((size_t)wmax * sizeof *a), *b = malloc((size_t)wmax * sizeof *b);
    for (size_t i = 0; i < n; i++) {
        memcpy(a, x + i * (size_t)m->widths[0], (size_t)m->widths[0] * sizeof *a);
        for (int l = 0; l < k; l++) {
            int din = m->widths[l], dout = m->widths[l + 1];
            for (int u = 0; u < dout; u++) {
                double z = m->has_bias ? theta[m->bias_offset[l] + (size_t)u] : 0.0;
                for (int j = 0; j < din; j++)
                    z += theta[m->weight_offset[l] + (size_t)u * (size_t)din + (size_t)j] * a[j];
                b[u] = z > 0 ? z : 0.0;
            }
            memcpy(a, b, (size_t)dout * sizeof *a);
        }
        memcpy(out + i * (size_t)m->widths[k], a, (size_t)m->widths[k] * sizeof *a);
    }
    free(a);
    free(b);
}

/* kappa from the dense Hessian at the standardised point, block by block. */
static double brute_relative_flatness(minima_model *m, const minima_dataset *ds, minima_loss loss)
{
    int K = m->n_layers, dK = m->widths[K], dh = m->widths[K - 1], dp = m->widths[K - 2];
    size_t P = m->n_params, N = ds->n;
    double *a = malloc(N * (size_t)dh * sizeof *a), *t = malloc(P * sizeof *t);
    hidden_acts(m, m->theta, ds->x, N, K - 1, a);
    memcpy(t, m->theta, P * sizeof *t);
    for (int j = 0; j < dh; j++) {
        double mu = 0, var = 0;
        for (size_t i = 0; i < N; i++) mu += a[i * (size_t)dh + (size_t)j] / (double)N;
        for (size_t i = 0; i < N; i++) {
            double d = a[i * (size_t)dh + (size_t)j] - mu;
            var += d * d / (double)N;
        }
        /* a constant feature carries no information: its standardised column is 0 */
        double sd = var > 0 ? sqrt(var) : 0.0;
        for (int q = 0; sd > 0 && q < dp; q++)
            t[m->weight_offset[K - 2] + (size_t)j * (size_t)dp + (size_t)q] /= sd;
        if (m->has_bias && sd > 0) t[m->bias_offset[K - 2] + (size_t)j] /= sd;
        for (int s = 0; s < dK; s++) t[m->weight_offset[K - 1] + (size_t)s * (size_t)dh + (size_t)j] *= sd;
    }
    minima_model *ms = NULL;
    CHECK_OK(minima_model_copy(m, &ms));
    memcpy(ms->theta, t, P * sizeof *t);
    minima_net *net = make_net(ms, ds, loss);
    double *lam, *h = dense_hessian(net, &lam);
    const double *W = t + m->weight_offset[K - 1];
    size_t o = m->weight_offset[K - 1];
    double kappa = 0;
    for (int s = 0; s < dK; s++)
        for (int s2 = 0; s2 < dK; s2++) {
            double dot = 0, tr = 0;
            for (int j = 0; j < dh; j++) {
                dot += W[(size_t)s * (size_t)dh + (size_t)j] * W[(size_t)s2 * (size_t)dh + (size_t)j];
                size_t r = o + (size_t)s * (size_t)dh + (size_t)j, c = o + (size_t)s2 * (size_t)dh + (size_t)j;
                tr += h[r * P + c];
            }
            kappa += dot * tr;
        }
    free(h);
    free(lam);
    minima_net_free(net);
    minima_model_free(ms);
    free(a);
    free(t);
    return kappa;
}

static void test_relative_flatness_vs_dense(void)
{
    minima_dataset ds = make_data(30, 3, 3, 3, 61);
    for (int bias = 0; bias <= 1; bias++)
        for (int loss = 0; loss <= 1; loss++) {
            minima_loss lk = loss ? MINIMA_LOSS_MSE : MINIMA_LOSS_CE;
            minima_model *m = make_model("3-5-4-3", bias, MINIMA_ACT_RELU, 62 + (uint64_t)bias);
            minima_net *net = make_net(m, &ds, lk);
            double v = harness_measure(net, "relative_flatness", NULL, 0, NULL);
            double want = brute_relative_flatness(m, &ds, lk);
            CHECK_MSG(harness_reldiff(v, want, 1e-300) <= 1e-10, "bias %d loss %d: %.17g vs dense %.17g",
                      bias, loss, v, want);
            /* without standardisation it is another number */
            double raw = harness_measure(net, "relative_flatness", "standardize=0", 0, NULL);
            CHECK(isfinite(raw) && raw != v);
            minima_net_free(net);
            minima_model_free(m);
        }
    free_data(&ds);
}

/* A dead unit feeding the last layer (constant 0 over the data): rescaling
 * it must not move kappa, and the value equals the brute force with that
 * feature's standardised column set to 0. */
static void test_relative_flatness_dead_unit(void)
{
    minima_dataset ds = make_data(30, 3, 3, 3, 64);
    minima_model *m = make_model("3-5-4-3", 1, MINIMA_ACT_RELU, 65);
    int K = m->n_layers, dp = m->widths[K - 2];
    for (int q = 0; q < dp; q++) m->theta[m->weight_offset[K - 2] + (size_t)q] = 0;   /* unit 0 */
    m->theta[m->bias_offset[K - 2]] = -1;
    minima_net *net = make_net(m, &ds, MINIMA_LOSS_CE);
    minima_measure_result res;
    double v = harness_measure(net, "relative_flatness", NULL, 0, &res);
    CHECK(harness_extra(&res, "constant_features") == 1);
    CHECK_MSG(harness_reldiff(v, brute_relative_flatness(m, &ds, MINIMA_LOSS_CE), 1e-300) <= 1e-10,
              "dead unit: %.17g vs dense", v);
    double *t = malloc(m->n_params * sizeof *t);
    memcpy(t, m->theta, m->n_params * sizeof *t);
    rescale_neuron(m, t, K - 2, 0, 1e3);
    CHECK_OK(minima_net_set_point(net, t));
    double w = harness_measure(net, "relative_flatness", NULL, 0, NULL);
    CHECK_MSG(harness_reldiff(v, w, 1e-300) <= 1e-12, "dead unit rescaled by 1e3: %.17g vs %.17g", w, v);
    free(t);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

/* ---- normalized sharpness ------------------------------------------------------ */

/* min over alpha_2, beta_1, beta_2 (alpha_1 = 1: the scale pair is one
 * degree of freedom) of the 2x2 layer objective, by a 3-D grid in the logs,
 * zoomed in around the best point. */
static double grid_min_2x2(const double *h, const double *w)
{
    double c[3] = {0, 0, 0}, half = 6.0, best = INFINITY;
    for (int zoom = 0; zoom < 14; zoom++) {
        double bc[3] = {c[0], c[1], c[2]};
        for (int i = 0; i <= 40; i++)
            for (int j = 0; j <= 40; j++)
                for (int l = 0; l <= 40; l++) {
                    double x[3] = {c[0] + half * (i / 20.0 - 1), c[1] + half * (j / 20.0 - 1),
                                   c[2] + half * (l / 20.0 - 1)};
                    double al[2] = {1.0, exp(x[0])}, be[2] = {exp(x[1]), exp(x[2])}, f = 0;
                    for (int r = 0; r < 2; r++)
                        for (int q = 0; q < 2; q++) {
                            double u = al[r] * be[q];
                            f += h[r * 2 + q] * u * u + w[r * 2 + q] * w[r * 2 + q] / (u * u);
                        }
                    if (f < best) best = f, bc[0] = x[0], bc[1] = x[1], bc[2] = x[2];
                }
        memcpy(c, bc, sizeof c);
        half *= 0.25;
    }
    return best;
}

static void test_normalized_sharpness(void)
{
    /* 2-2-2: each layer has 2x2 weights; the grid search is independent of
     * the alternating minimisation, the diagonal comes from the dense Hessian */
    minima_dataset ds = make_data(30, 2, 2, 0, 71);
    minima_model *m = make_model("2-2-2", 0, MINIMA_ACT_RELU, 73);
    minima_net *net = make_net(m, &ds, MINIMA_LOSS_CE);
    double *lam, *h = dense_hessian(net, &lam);
    size_t P = m->n_params;
    double want = 0;
    int positive = 1;
    for (int k = 0; k < 2; k++) {
        double hd[4], w[4];
        for (int i = 0; i < 4; i++) {
            size_t q = m->weight_offset[k] + (size_t)i;
            hd[i] = h[q * P + q];
            w[i] = m->theta[q];
            positive &= hd[i] > 0;
        }
        want += grid_min_2x2(hd, w);
    }
    CHECK_MSG(positive, "the test net needs a positive Hessian diagonal (choose another seed)");
    minima_measure_result r;
    double v = harness_measure(net, "normalized_sharpness", NULL, 0, &r);
    CHECK_MSG(harness_reldiff(v, want, 1e-300) <= 1e-9, "alternating %.17g vs grid %.17g", v, want);
    CHECK(harness_extra(&r, "converged") == 1 && harness_extra(&r, "diag_method") == 1);
    CHECK(harness_extra(&r, "entrywise_lower_bound") <= v * (1 + 1e-12));
    free(h);
    free(lam);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);

    /* 3-5-4-3: the layer-structure diagonal equals the unit-product one
     * (diag H = diag GGN for ReLU), and Hutchinson comes close */
    ds = make_data(30, 3, 3, 3, 75);
    for (int loss = 0; loss <= 1; loss++) {
        m = make_model("3-5-4-3", 1, MINIMA_ACT_RELU, 76);
        net = make_net(m, &ds, loss ? MINIMA_LOSS_MSE : MINIMA_LOSS_CE);
        double exact = harness_measure(net, "normalized_sharpness", "diag=1", 0, NULL);
        double units = harness_measure(net, "normalized_sharpness", "diag=2", 0, &r);
        CHECK(harness_extra(&r, "diag_method") == 2);
        CHECK_REL(exact, units, 1e-10);
        double hutch = harness_measure(net, "normalized_sharpness", "diag=3,samples=4000", 5, &r);
        CHECK(harness_extra(&r, "diag_method") == 3);
        CHECK_MSG(harness_reldiff(hutch, exact, 1e-300) <= 0.2, "hutchinson %.6g vs exact %.6g",
                  hutch, exact);
        CHECK(harness_measure(net, "normalized_sharpness", "diag=3,samples=20", 5, NULL) ==
              harness_measure(net, "normalized_sharpness", "diag=3,samples=20", 5, NULL));
        minima_net_free(net);
        minima_model_free(m);
    }
    /* leaky ReLU, deeper: the same identity */
    m = make_model("3-4-4-2-3", 1, MINIMA_ACT_LEAKY_RELU, 78);
    net = make_net(m, &ds, MINIMA_LOSS_CE);
    CHECK_REL(harness_measure(net, "normalized_sharpness", "diag=1", 0, NULL),
              harness_measure(net, "normalized_sharpness", "diag=2", 0, NULL), 1e-10);
    minima_net_free(net);
    minima_model_free(m);
    /* tanh: the layer structure is refused, auto uses unit products */
    m = make_model("3-5-4-3", 1, MINIMA_ACT_TANH, 77);
    net = make_net(m, &ds, MINIMA_LOSS_CE);
    CHECK_STATUS(minima_measure_compute(minima_measure_find("normalized_sharpness"), net, "diag=1", 0,
                                        &r), MINIMA_EINVAL);
    harness_measure(net, "normalized_sharpness", NULL, 0, &r);
    CHECK(harness_extra(&r, "diag_method") == 2);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}


/* ---- flat-minimum-search penalty ------------------------------------------ */

/* B averaged over examples from the full Jacobian of each example (a net
 * over that example alone, one JVP per parameter), weights with an all-zero
 * Jacobian column left out as the measure documents. */
static double brute_fms(minima_model *m, const minima_dataset *ds, double eps)
{
    size_t P = m->n_params;
    int dK = m->widths[m->n_layers];
    double *J = malloc(P * (size_t)dK * sizeof *J), *e = calloc(P, sizeof *e), sum = 0;   /* (P, d_K) */
    size_t n_flat = 0;
    for (size_t x = 0; x < ds->n; x++) {
        minima_dataset *one = NULL;
        CHECK_OK(minima_dataset_slice(ds, x, 1, &one));
        minima_net *net = make_net(m, one, MINIMA_LOSS_CE);
        for (size_t q = 0; q < P; q++) {
            e[q] = 1;
            CHECK_OK(minima_net_jvp(net, e, J + q * (size_t)dK));
            e[q] = 0;
        }
        double omega = 0, logs = 0, t2 = 0;
        for (size_t q = 0; q < P; q++) {
            double sq = 0;
            for (int k = 0; k < dK; k++) sq += J[q * (size_t)dK + (size_t)k] * J[q * (size_t)dK + (size_t)k];
            if (sq > 0) omega++, logs += log(sq);
        }
        for (int k = 0; k < dK; k++) {
            double t = 0;
            for (size_t q = 0; q < P; q++) {
                double sq = 0;
                for (int k2 = 0; k2 < dK; k2++) sq += J[q * (size_t)dK + (size_t)k2] * J[q * (size_t)dK + (size_t)k2];
                if (sq > 0) t += fabs(J[q * (size_t)dK + (size_t)k]) / sqrt(sq);
            }
            t2 += t * t;
        }
        if (omega > 0) sum += 0.5 * (-omega * log(eps) + logs + omega * log(t2));
        else n_flat++;
        minima_net_free(net);
        minima_dataset_free(one);
    }
    free(J);
    free(e);
    return sum / (double)(ds->n - n_flat);
}

static void test_fms_penalty(void)
{
    minima_dataset ds = make_data(30, 3, 3, 0, 81);
    minima_activation acts[2] = {MINIMA_ACT_RELU, MINIMA_ACT_LEAKY_RELU};
    for (int a = 0; a < 2; a++)
        for (int bias = 0; bias <= 1; bias++) {
            minima_model *m = make_model("3-5-4-3", bias, acts[a], 82);
            minima_net *net = make_net(m, &ds, MINIMA_LOSS_CE);
            minima_measure_result r;
            double v = harness_measure(net, "fms_penalty", "eps=0.05", 0, &r);
            CHECK_REL(v, brute_fms(m, &ds, 0.05), 1e-11);
            if (acts[a] == MINIMA_ACT_RELU) CHECK(harness_extra(&r, "excluded_frac") > 0);
            else CHECK(harness_extra(&r, "excluded_frac") == 0 &&
                       harness_extra(&r, "mean_omega") == (double)m->n_params);
            /* max_examples takes the first examples */
            minima_dataset *head = NULL;
            CHECK_OK(minima_dataset_slice(&ds, 0, 7, &head));
            CHECK_REL(harness_measure(net, "fms_penalty", "eps=0.05,max_examples=7", 0, NULL),
                      brute_fms(m, head, 0.05), 1e-11);
            minima_dataset_free(head);
            if (acts[a] == MINIMA_ACT_LEAKY_RELU) {
                /* one unit scaled by c: B moves by (fan-out - fan-in) log c */
                size_t P = m->n_params;
                double *t = malloc(P * sizeof *t);
                memcpy(t, m->theta, P * sizeof *t);
                const double c = 9.0;
                rescale_neuron(m, t, 0, 1, c);   /* fan-in 3 (+ bias), fan-out 4 */
                CHECK_OK(minima_net_set_point(net, t));
                double moved = harness_measure(net, "fms_penalty", "eps=0.05", 0, NULL);
                CHECK_ABS(moved - v, (4.0 - (3.0 + bias)) * log(c), 1e-9);
                /* layer-wise: -sum over weights of log(their factor) */
                const double alpha[3] = {4.0, 0.1, 2.5};
                rescale_layers(m, m->theta, alpha, t);
                CHECK_OK(minima_net_set_point(net, t));
                double pred = 0, cum = 1;
                for (int k = 0; k < 3; k++) {
                    cum *= alpha[k];
                    pred -= (double)minima_model_layer_weights(m, k) * log(alpha[k]);
                    if (bias) pred -= m->widths[k + 1] * log(cum);
                }
                moved = harness_measure(net, "fms_penalty", "eps=0.05", 0, NULL);
                CHECK_ABS(moved - v, pred, 1e-9);
                free(t);
            }
            minima_net_free(net);
            minima_model_free(m);
        }
    free_data(&ds);
}


/* ---- eigenvalue counts and local entropy ----------------------------------- */

static void test_hessian_count(void)
{
    minima_dataset ds = make_data(30, 3, 3, 3, 91);
    minima_model *m = make_model("3-5-4-3", 1, MINIMA_ACT_RELU, 92);
    minima_net *net = make_net(m, &ds, MINIMA_LOSS_MSE);
    size_t P = m->n_params;
    double *lam, *h = dense_hessian(net, &lam);
    char set[128];
    double level = 0.5 * (lam[P - 4] + lam[P - 5]);
    CHECK(lam[P - 4] - lam[P - 5] > 1e-6 * lam[P - 1]);   /* a clean gap for Lanczos */
    minima_measure_result r;
    snprintf(set, sizeof set, "threshold=%.17g", level);
    CHECK(harness_measure(net, "hessian_count", set, 0, &r) == 4);
    CHECK(harness_extra(&r, "exact") == 1 && harness_extra(&r, "lower_bound") == 0);
    CHECK_REL(harness_extra(&r, "lambda_max"), lam[P - 1], 1e-12);
    /* (threshold 0 would count rounding noise of the zero eigenvalues) */
    snprintf(set, sizeof set, "threshold=%.17g", lam[0] - 1.0);
    CHECK(harness_measure(net, "hessian_count", set, 0, NULL) == (double)P);
    snprintf(set, sizeof set, "threshold=%.17g,exact_max=0,k=10,tol=1e-10", level);
    CHECK(harness_measure(net, "hessian_count", set, 0, &r) == 4);
    CHECK(harness_extra(&r, "exact") == 0 && harness_extra(&r, "lower_bound") == 0);
    snprintf(set, sizeof set, "threshold=%.17g,exact_max=0,k=2", level);
    CHECK(harness_measure(net, "hessian_count", set, 0, &r) == 2);
    CHECK(harness_extra(&r, "lower_bound") == 1 && r.note[0]);
    /* A budget of Hessian-vector products ends Lanczos: ENOCONV with the
     * Ritz values counted and the budget named, never an endless run. */
    snprintf(set, sizeof set, "threshold=%.17g,exact_max=0,k=10,tol=1e-15,max_products=6", level);
    CHECK_STATUS(minima_measure_compute(minima_measure_find("hessian_count"), net, set, 0, &r), MINIMA_ENOCONV);
    /* (plus one verifying product per Ritz pair) */
    CHECK(harness_extra(&r, "converged") == 0 && harness_extra(&r, "n_products") <= 6 + 10);
    CHECK_MSG(strstr(r.note, "in 6 products") != NULL, "note: %s", r.note);
    CHECK_MSG(strstr(r.params, "\"max_products\": 6") != NULL, "params: %s", r.params);
    snprintf(set, sizeof set, "second_order=1,tol=1e-15,max_products=4");
    harness_measure(net, "dinh_sharpness", set, 0, &r);
    CHECK_MSG(strstr(r.note, "in 4 products") != NULL, "note: %s", r.note);
    free(h);
    free(lam);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

static void test_local_entropy(void)
{
    minima_dataset ds = make_data(30, 3, 3, 0, 101);
    minima_model *m = make_model("3-5-4-3", 1, MINIMA_ACT_RELU, 102);
    minima_net *net = make_net(m, &ds, MINIMA_LOSS_CE);
    size_t P = m->n_params;
    double *lam, *h = dense_hessian(net, &lam);
    double *g = malloc(P * sizeof *g), loss;
    CHECK_OK(minima_net_gradient(net, NULL, &loss, g));
    double gamma = 0.5 + fabs(lam[0]), ld = 0;
    for (size_t i = 0; i < P; i++) ld += log(lam[i] + gamma);
    double want = -loss + 0.5 * (double)P * log(2 * M_PI) - 0.5 * ld;
    /* + 1/2 g^T (H + gamma I)^{-1} g by a Cholesky solve */
    double *a = malloc(P * P * sizeof *a), *x = malloc(P * sizeof *x);
    memcpy(a, h, P * P * sizeof *a);
    memcpy(x, g, P * sizeof *x);
    for (size_t i = 0; i < P; i++) a[i * P + i] += gamma;
    CHECK(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (int)P, 1, a, (int)P, x, 1) == 0);
    double gt = 0;
    for (size_t i = 0; i < P; i++) gt += 0.5 * g[i] * x[i];
    char set[160];
    snprintf(set, sizeof set, "gamma=%.17g,steps=1,noise=0", gamma);
    minima_measure_result r;
    double v = harness_measure(net, "local_entropy", set, 0, &r);
    CHECK_REL(v, want, 1e-12);
    CHECK_REL(harness_extra(&r, "quad_with_grad"), want + gt, 1e-10);
    CHECK_REL(harness_extra(&r, "lambda_min"), lam[0], 1e-10);
    /* one noiseless Langevin step: w - mu = alpha eta g */
    double gn = 0;
    for (size_t i = 0; i < P; i++) gn += g[i] * g[i];
    CHECK_REL(harness_extra(&r, "langevin_grad_norm"), gamma * 0.75 * 0.1 * sqrt(gn), 1e-12);
    CHECK_REL(harness_extra(&r, "langevin_mean_loss"), loss, 1e-14);
    /* SLQ log-determinant: within 5 standard errors of the exact one */
    snprintf(set, sizeof set, "gamma=%.17g,exact_max=0,slq_draws=300,slq_steps=60", gamma);
    double slq = harness_measure(net, "local_entropy", set, 3, &r);
    double se = harness_extra(&r, "slq_std_error");
    CHECK_MSG(se > 0 && fabs(slq - want) <= 5 * se, "SLQ %.10g vs exact %.10g, std error %.3g",
              slq, want, se);
    /* gamma too small for an indefinite Hessian: NaN and a note */
    if (lam[0] < 0) {
        snprintf(set, sizeof set, "gamma=%.17g", 0.5 * fabs(lam[0]));
        harness_measure(net, "local_entropy", set, 0, &r);
        CHECK(isnan(r.value) && strstr(r.note, "gamma") != NULL);
    }
    /* an unstable chain (eta gamma >= 2) is reported, not an error */
    snprintf(set, sizeof set, "gamma=%.17g,eta=1", 100 + gamma);
    v = harness_measure(net, "local_entropy", set, 0, &r);
    CHECK(isfinite(v) && isnan(harness_extra(&r, "langevin_grad_norm")) && strstr(r.note, "diverged"));
    /* ggn=1: the Gauss-Newton matrix J^T H_out J, built here from one JVP
     * per parameter and the softmax Hessians, replaces H */
    {
        size_t N = ds.n;
        double *J = malloc(N * 3 * P * sizeof *J), *e = calloc(P, sizeof *e);   /* (P, N*3) */
        double *z = malloc(N * 3 * sizeof *z), *G = calloc(P * P, sizeof *G), *gl = malloc(P * sizeof *gl);
        for (size_t q = 0; q < P; q++) {
            e[q] = 1;
            CHECK_OK(minima_net_jvp(net, e, J + q * N * 3));
            e[q] = 0;
        }
        CHECK_OK(minima_net_outputs(net, NULL, z));
        for (size_t i = 0; i < N; i++) {
            double p3[3], mx = fmax(z[i * 3], fmax(z[i * 3 + 1], z[i * 3 + 2])), sum = 0;
            for (int c = 0; c < 3; c++) sum += (p3[c] = exp(z[i * 3 + (size_t)c] - mx));
            for (int c = 0; c < 3; c++) p3[c] /= sum;
            for (size_t u = 0; u < P; u++)
                for (size_t w = 0; w < P; w++) {
                    double acc = 0;
                    for (int c = 0; c < 3; c++)
                        for (int d = 0; d < 3; d++)
                            acc += J[u * N * 3 + i * 3 + (size_t)c] * ((c == d) * p3[c] - p3[c] * p3[d]) *
                                   J[w * N * 3 + i * 3 + (size_t)d];
                    G[u * P + w] += acc / (double)N;
                }
        }
        CHECK(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', (int)P, G, (int)P, gl) == 0);
        double gld = 0;
        for (size_t i = 0; i < P; i++) gld += log(gl[i] + 0.03);
        double gwant = -loss + 0.5 * (double)P * log(2 * M_PI) - 0.5 * gld;
        CHECK_REL(harness_measure(net, "local_entropy", "gamma=0.03,ggn=1", 0, &r), gwant, 1e-10);
        free(J);
        free(e);
        free(z);
        free(G);
        free(gl);
    }
    /* the default chain is reproducible */
    harness_measure(net, "local_entropy", NULL, 9, &r);
    double a1 = harness_extra(&r, "langevin_grad_norm");
    harness_measure(net, "local_entropy", NULL, 9, &r);
    CHECK(a1 == harness_extra(&r, "langevin_grad_norm"));
    free(a);
    free(x);
    free(g);
    free(h);
    free(lam);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}


/* ---- every measure on unusual nets ------------------------------------------ */

/* No hidden layer, tanh, leaky ReLU, MSE: every measure returns a finite
 * value (or its documented NaN) and leaves the anchor where it was. */
static void test_edge_nets(void)
{
    static const char *names[] = {"hessian_max", "hessian_trace", "hessian_count", "fisher_rao",
                                  "path_norm", "relative_flatness", "normalized_sharpness",
                                  "fms_penalty", "local_entropy"};
    static const struct { const char *arch; int bias; minima_activation act; minima_loss loss; } nets[] = {
        {"3-3", 1, MINIMA_ACT_RELU, MINIMA_LOSS_CE},
        {"3-4-3", 0, MINIMA_ACT_TANH, MINIMA_LOSS_MSE},
        {"3-4-4-2-3", 1, MINIMA_ACT_LEAKY_RELU, MINIMA_LOSS_CE},
    };
    minima_dataset ds = make_data(20, 3, 3, 3, 111);
    for (size_t q = 0; q < sizeof nets / sizeof nets[0]; q++) {
        minima_model *m = make_model(nets[q].arch, nets[q].bias, nets[q].act, 112);
        minima_net *net = make_net(m, &ds, nets[q].loss);
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            minima_measure_result r;
            /* gamma large enough for any of these spectra */
            const char *set = !strcmp(names[i], "local_entropy") ? "gamma=100,eta=1e-3" : NULL;
            double v = harness_measure(net, names[i], set, 1, &r);
            CHECK_MSG(isfinite(v), "%s on %s: %g (%s)", names[i], nets[q].arch, v, r.note);
            CHECK(r.params[0] == '{' && r.params[strlen(r.params) - 1] == '}');
            CHECK(memcmp(minima_net_point(net), m->theta, m->n_params * sizeof(double)) == 0);
        }
        minima_net_free(net);
        minima_model_free(m);
    }
    free_data(&ds);
}


/* Every allocation failure is a clean MINIMA_ENOMEM (no crash; the sanitizer
 * build also sees no leak), until enough allocations succeed. */
static void test_out_of_memory(void)
{
    static const char *names[] = {"hessian_max", "hessian_trace", "hessian_count", "fisher_rao",
                                  "path_norm", "relative_flatness", "normalized_sharpness",
                                  "fms_penalty", "local_entropy"};
    minima_dataset ds = make_data(20, 3, 3, 0, 121);
    minima_model *m = make_model("3-5-4-3", 1, MINIMA_ACT_RELU, 122);
    minima_net *net = make_net(m, &ds, MINIMA_LOSS_CE);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *set = !strcmp(names[i], "local_entropy") ? "gamma=100,eta=1e-3" : NULL;
        const minima_measure *me = minima_measure_find(names[i]);
        int done = 0, bad = 0;
        for (long n = 0; n < 400 && !done; n++) {
            minima_measure_result r;
            minima_alloc_fail_after(n);
            minima_status st = minima_measure_compute(me, net, set, 0, &r);
            minima_alloc_fail_after(-1);
            if (st == MINIMA_OK) done = 1;
            else bad += st != MINIMA_ENOMEM;
        }
        CHECK_MSG(done && !bad, "%s: succeeded %d, other failures %d", names[i], done, bad);
        /* the same value once memory is back */
        CHECK(isfinite(harness_measure(net, names[i], set, 0, NULL)));
    }
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

/* ---- invariance ----------------------------------------------------------- */

/* Measures that must not move under layer-wise and per-neuron rescaling
 * (each applied alone and both composed), with and without biases. */
static void test_invariance(void)
{
    static const struct { const char *name; double tol; } inv[] = {
        {"fisher_rao", 1e-10}, {"path_norm", 1e-12}, {"relative_flatness", 1e-10},
        {"normalized_sharpness", 1e-8},
    };
    minima_dataset ds = make_data(30, 3, 3, 0, 51);
    for (int bias = 0; bias <= 1; bias++) {
        minima_model *m = make_model("3-5-4-3", bias, MINIMA_ACT_RELU, 52);
        minima_net *net = make_net(m, &ds, MINIMA_LOSS_CE);
        size_t P = m->n_params;
        double *t = malloc(P * sizeof *t);
        const double alpha[3] = {8.0, 0.05, 2.5};
        for (size_t q = 0; q < sizeof inv / sizeof inv[0]; q++) {
            CHECK_OK(minima_net_set_point(net, m->theta));
            double base = harness_measure(net, inv[q].name, NULL, 0, NULL);
            for (int kind = 0; kind < 3; kind++) {
                if (kind == 1) memcpy(t, m->theta, P * sizeof *t);
                else rescale_layers(m, m->theta, alpha, t);
                if (kind >= 1) {
                    rescale_neuron(m, t, 0, 2, 30.0);
                    rescale_neuron(m, t, 1, 0, 0.02);
                    rescale_neuron(m, t, 1, 3, 7.0);
                }
                CHECK_OK(minima_net_set_point(net, t));
                double v = harness_measure(net, inv[q].name, NULL, 0, NULL);
                CHECK_MSG(harness_reldiff(v, base, 1e-300) <= inv[q].tol,
                          "%s bias %d rescaling %d: %.17g vs %.17g", inv[q].name, bias, kind, v, base);
            }
        }
        free(t);
        minima_net_free(net);
        minima_model_free(m);
    }
    free_data(&ds);
}

int main(void)
{
    RUN(test_hessian_max_and_trace_vs_dense);
    RUN(test_hessian_trace_moves_as_predicted);
    RUN(test_path_norm_vs_enumeration);
    RUN(test_fisher_rao);
    RUN(test_relative_flatness_vs_dense);
    RUN(test_relative_flatness_dead_unit);
    RUN(test_normalized_sharpness);
    RUN(test_fms_penalty);
    RUN(test_hessian_count);
    RUN(test_local_entropy);
    RUN(test_edge_nets);
    RUN(test_out_of_memory);
    RUN(test_invariance);
    return harness_report();
}
