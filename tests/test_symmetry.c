/* test_symmetry.c — rescalings preserve the function, transform gradients
 * and Hessians exactly as docs/symmetry.md says, and the canonical representative is
 * the unique minimum-norm point of an orbit. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/rng.h"
#include "minima/symmetry.h"

/* A data set on the stack's terms: N examples of d features, labels in
 * [0, classes). Freed with free_data. */
static minima_dataset make_data(size_t n, int d, int classes, uint64_t seed)
{
    minima_dataset ds;
    memset(&ds, 0, sizeof ds);
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    ds.n = n;
    ds.d = d;
    ds.x = malloc(n * (size_t)d * sizeof *ds.x);
    ds.labels = malloc(n * sizeof *ds.labels);
    ds.n_classes = classes;
    minima_rng_fill_normal(&rng, ds.x, n * (size_t)d);
    for (size_t i = 0; i < n; i++) ds.labels[i] = (int32_t)minima_rng_below(&rng, (uint64_t)classes);
    ds.name = "test data";
    return ds;
}

static void free_data(minima_dataset *ds)
{
    free(ds->x);
    free(ds->labels);
}

static minima_model *make_model(const char *arch, int bias, minima_activation act, uint64_t seed)
{
    int *w, K;
    minima_model *m = NULL;
    if (minima_parse_arch(arch, &w, &K) != MINIMA_OK) return NULL;
    if (minima_model_create(&m, K, w, bias, act) == MINIMA_OK) minima_model_init(m, seed);
    minima_free(w);
    return m;
}

static minima_model *transformed(const minima_model *m, const double *scales)
{
    minima_model *t = NULL;
    if (minima_model_copy(m, &t) != MINIMA_OK) return NULL;
    minima_sym_apply_model(t, scales);
    return t;
}

static double norm2(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i] * x[i];
    return sqrt(s);
}

/* ---- function preservation ------------------------------------------ */

static void test_layerwise_preserves_outputs(void)
{
    minima_dataset ds = make_data(64, 5, 3, 1);
    const double alphas[][3] = {{100, 0.01, 1}, {1e-3, 1e4, 1e-1}, {7, 1.0 / 7, 1}, {0.5, 0.5, 4}};
    for (int bias = 0; bias <= 1; bias++) {
        minima_model *m = make_model("5-8-7-3", bias, MINIMA_ACT_RELU, 2);
        double scales[15], used[3];
        CHECK(minima_sym_n_units(m) == 15);
        for (size_t a = 0; a < sizeof alphas / sizeof alphas[0]; a++) {
            CHECK_OK(minima_sym_layer_scales(m, alphas[a], 3, 0, 1e-12, scales, used));
            minima_model *t = transformed(m, scales);
            minima_sym_equivalence eq;
            CHECK_OK(minima_sym_check_equivalence(m, t, &ds, &eq));
            CHECK_MSG(eq.rel_diff <= 1e-14 * 10, "alpha set %zu bias %d: relative output "
                      "difference %.3g", a, bias, eq.rel_diff);
            CHECK(eq.n_examples == 64);
            /* the parameters did move: layer 1's weights scale by alpha_1 */
            CHECK_REL(minima_model_weight(t, 0)[3], alphas[a][0] * minima_model_weight(m, 0)[3], 1e-15);
            if (bias) /* appendix B: b_2 scales by alpha_1 alpha_2 */
                CHECK_REL(minima_model_bias(t, 1)[2],
                          alphas[a][0] * alphas[a][1] * minima_model_bias(m, 1)[2], 1e-15);
            minima_model_free(t);
        }
        minima_model_free(m);
    }
    free_data(&ds);
}

static void test_neuron_scaling_preserves_outputs(void)
{
    minima_dataset ds = make_data(64, 5, 3, 3);
    minima_activation acts[2] = {MINIMA_ACT_RELU, MINIMA_ACT_LEAKY_RELU};
    for (int a = 0; a < 2; a++) {
        minima_model *m = make_model("5-8-7-6-3", 1, acts[a], 4);
        size_t nu = minima_sym_n_units(m);
        double *scales = malloc(nu * sizeof *scales);
        /* one unit, by a large factor: touches exactly its row, bias and column */
        CHECK_OK(minima_sym_neuron_scales(m, 1, 4, 1e3, scales));
        minima_model *t = transformed(m, scales);
        const double *w1 = minima_model_weight(m, 1), *t1 = minima_model_weight(t, 1);
        const double *w2 = minima_model_weight(m, 2), *t2 = minima_model_weight(t, 2);
        int bad = 0;
        for (int i = 0; i < 7; i++)
            for (int j = 0; j < 8; j++) {
                double want = w1[i * 8 + j] * (i == 4 ? 1e3 : 1.0);
                bad += t1[i * 8 + j] != want;
            }
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 7; j++) {
                double want = j == 4 ? w2[i * 7 + j] * (1.0 / 1e3) : w2[i * 7 + j];
                bad += fabs(t2[i * 7 + j] - want) > 1e-16 * fabs(want);
            }
        CHECK_MSG(bad == 0, "%d entries scaled wrongly by the per-neuron map", bad);
        CHECK(minima_model_bias(t, 1)[4] == 1e3 * minima_model_bias(m, 1)[4]);
        CHECK(minima_model_bias(t, 2)[0] == minima_model_bias(m, 2)[0]);   /* later biases untouched */
        minima_sym_equivalence eq;
        CHECK_OK(minima_sym_check_equivalence(m, t, &ds, &eq));
        CHECK_MSG(eq.rel_diff <= 1e-13, "%s one neuron: relative difference %.3g",
                  minima_activation_name(acts[a]), eq.rel_diff);
        minima_model_free(t);
        /* random orbit points, combined with a layer-wise map */
        const double alpha[4] = {10, 0.1, 5, 0.2};
        for (uint64_t seed = 1; seed <= 4; seed++) {
            CHECK_OK(minima_sym_random_scales(m, seed, 1.5, seed % 2 ? alpha : NULL, scales));
            t = transformed(m, scales);
            CHECK_OK(minima_sym_check_equivalence(m, t, &ds, &eq));
            CHECK_MSG(eq.rel_diff <= 1e-13, "%s orbit point %llu: relative difference %.3g",
                      minima_activation_name(acts[a]), (unsigned long long)seed, eq.rel_diff);
            minima_model_free(t);
        }
        free(scales);
        minima_model_free(m);
    }
    free_data(&ds);
}

/* The check must mean something: tanh is not homogeneous. */
static void test_tanh_breaks_equivalence(void)
{
    minima_dataset ds = make_data(64, 5, 3, 5);
    minima_model *m = make_model("5-8-7-3", 1, MINIMA_ACT_TANH, 6);
    double scales[15];
    const double alpha[3] = {100, 0.01, 1};
    CHECK_OK(minima_sym_layer_scales(m, alpha, 3, 0, 1e-12, scales, NULL));
    minima_model *t = transformed(m, scales);
    minima_sym_equivalence eq;
    CHECK_OK(minima_sym_check_equivalence(m, t, &ds, &eq));
    CHECK_MSG(eq.rel_diff > 1e-2, "tanh network rescaled: relative difference only %.3g", eq.rel_diff);
    minima_model_free(t);
    CHECK_OK(minima_sym_random_scales(m, 9, 1.0, NULL, scales));
    t = transformed(m, scales);
    CHECK_OK(minima_sym_check_equivalence(m, t, &ds, &eq));
    CHECK_MSG(eq.rel_diff > 1e-2, "tanh network, per-neuron: relative difference only %.3g", eq.rel_diff);
    minima_model_free(t);
    /* and a real change of a ReLU net is seen too */
    minima_model *r = make_model("5-8-7-3", 1, MINIMA_ACT_RELU, 6);
    minima_model *r2 = NULL;
    CHECK_OK(minima_model_copy(r, &r2));
    r2->theta[0] += 0.5;
    CHECK_OK(minima_sym_check_equivalence(r, r2, &ds, &eq));
    CHECK(eq.rel_diff > 1e-3);
    minima_model_free(r2);
    minima_model_free(r);
    minima_model_free(m);
    free_data(&ds);
}

static void test_bad_alpha_rejected(void)
{
    minima_model *m = make_model("5-8-7-3", 1, MINIMA_ACT_RELU, 7);
    double scales[15], used[3];
    const double off[3] = {2, 3, 0.1};
    minima_clear_error();
    CHECK_STATUS(minima_sym_layer_scales(m, off, 3, 0, 1e-12, scales, NULL), MINIMA_EINVAL);
    CHECK_MSG(strstr(minima_last_error(), "0.6000000") != NULL, "message should name the product: %s",
              minima_last_error());
    const double neg[3] = {-1, -1, 1};
    CHECK_STATUS(minima_sym_layer_scales(m, neg, 3, 0, 1e-12, scales, NULL), MINIMA_EINVAL);
    const double zero[3] = {0, 1, 1};
    CHECK_STATUS(minima_sym_layer_scales(m, zero, 3, 0, 1e-12, scales, NULL), MINIMA_EINVAL);
    const double nan3[3] = {NAN, 1, 1};
    CHECK_STATUS(minima_sym_layer_scales(m, nan3, 3, 0, 1e-12, scales, NULL), MINIMA_EINVAL);
    const double two[2] = {2, 0.5};
    CHECK_STATUS(minima_sym_layer_scales(m, two, 2, 0, 1e-12, scales, NULL), MINIMA_EINVAL);
    const double four[4] = {2, 0.5, 1, 1};
    CHECK_STATUS(minima_sym_layer_scales(m, four, 4, 0, 1e-12, scales, NULL), MINIMA_EINVAL);
    /* deriving the last factor */
    CHECK_OK(minima_sym_layer_scales(m, off, 2, 1, 1e-12, scales, used));
    CHECK_REL(used[2], 1.0 / 6.0, 1e-15);
    CHECK_REL(scales[0], 2.0, 0);
    CHECK_REL(scales[14], 6.0, 1e-15);
    CHECK_STATUS(minima_sym_neuron_scales(m, 2, 0, 2.0, scales), MINIMA_EINVAL);   /* output layer */
    CHECK_STATUS(minima_sym_neuron_scales(m, 0, 8, 2.0, scales), MINIMA_EINVAL);
    CHECK_STATUS(minima_sym_neuron_scales(m, 0, 1, -2.0, scales), MINIMA_EINVAL);
    CHECK_STATUS(minima_sym_random_scales(m, 1, -1.0, NULL, scales), MINIMA_EINVAL);
    minima_model_free(m);
}

static void test_diag_matches_apply(void)
{
    minima_model *m = make_model("4-6-5-2", 1, MINIMA_ACT_RELU, 8);
    double scales[11];
    size_t P = m->n_params;
    double *d = malloc(P * sizeof *d), *y = malloc(P * sizeof *y);
    CHECK_OK(minima_sym_random_scales(m, 3, 2.0, NULL, scales));
    minima_sym_diag(m, scales, d);
    minima_sym_apply(m, scales, NULL, y);
    int bad = 0;
    for (size_t i = 0; i < P; i++) bad += y[i] != d[i] * m->theta[i] || !(d[i] > 0);
    CHECK(bad == 0);
    free(d);
    free(y);
    minima_model_free(m);
}

/* ---- derivatives: grad L(A theta) = A^{-1} grad L(theta), hess likewise */

static void check_derivative_identities(const char *arch, int bias, minima_loss loss, uint64_t seed)
{
    minima_dataset ds = make_data(50, 5, 3, seed);
    minima_model *m = make_model(arch, bias, MINIMA_ACT_RELU, seed + 1);
    m->loss = loss;
    if (loss == MINIMA_LOSS_MSE) {
        ds.d_target = 3;
        ds.targets = malloc(50 * 3 * sizeof *ds.targets);
        minima_rng rng;
        minima_rng_seed(&rng, seed + 2);
        minima_rng_fill_normal(&rng, ds.targets, 150);
    }
    size_t P = m->n_params, nu = minima_sym_n_units(m);
    double *scales = malloc(nu * sizeof *scales), *d = malloc(P * sizeof *d);
    double *at = malloc(P * sizeof *at), *g1 = malloc(P * sizeof *g1), *g2 = malloc(P * sizeof *g2);
    double *v = malloc(P * sizeof *v), *w = malloc(P * sizeof *w);
    double *h1 = malloc(P * sizeof *h1), *h2 = malloc(P * sizeof *h2);
    minima_net *net = NULL;
    minima_net_params np = minima_net_default_params(m);
    np.batch_size = 16;
    CHECK_OK(minima_net_create(&net, m, &ds, &np));
    minima_rng rng;
    minima_rng_seed(&rng, seed + 3);
    for (int trial = 0; trial < 3; trial++) {
        if (trial == 0) {
            const double alpha[3] = {100, 0.01, 1};
            double a4[4] = {100, 0.1, 0.1, 1};
            CHECK_OK(minima_sym_layer_scales(m, m->n_layers == 3 ? alpha : a4, m->n_layers, 0,
                                             1e-12, scales, NULL));
        } else {
            CHECK_OK(minima_sym_random_scales(m, seed + (uint64_t)trial, 1.0, NULL, scales));
        }
        minima_sym_diag(m, scales, d);
        minima_sym_apply(m, scales, NULL, at);
        double l1, l2;
        CHECK_OK(minima_net_set_point(net, m->theta));
        CHECK_OK(minima_net_gradient(net, NULL, &l1, g1));
        CHECK_OK(minima_net_gradient(net, at, &l2, g2));
        CHECK_REL(l2, l1, 1e-13);
        for (size_t i = 0; i < P; i++) g1[i] /= d[i];               /* A^{-1} grad L(theta) */
        double err = 0;
        for (size_t i = 0; i < P; i++) err = fmax(err, fabs(g2[i] - g1[i]));
        double tol = 300 * DBL_EPSILON * norm2(g1, P);
        CHECK_MSG(err <= tol, "%s trial %d: |grad L(A theta) - A^-1 grad L(theta)|_inf = %.3g > %.3g",
                  arch, trial, err, tol);
        /* H(A theta) v = A^{-1} H(theta) A^{-1} v */
        minima_rng_fill_normal(&rng, v, P);
        for (size_t i = 0; i < P; i++) w[i] = v[i] / d[i];
        CHECK_OK(minima_net_hvp(net, w, h1));
        for (size_t i = 0; i < P; i++) h1[i] /= d[i];
        CHECK_OK(minima_net_set_point(net, at));
        CHECK_OK(minima_net_hvp(net, v, h2));
        err = 0;
        for (size_t i = 0; i < P; i++) err = fmax(err, fabs(h2[i] - h1[i]));
        tol = 300 * DBL_EPSILON * norm2(h1, P);
        CHECK_MSG(err <= tol, "%s trial %d: |H(A theta) v - A^-1 H A^-1 v|_inf = %.3g > %.3g",
                  arch, trial, err, tol);
    }
    minima_net_free(net);
    free(scales); free(d); free(at); free(g1); free(g2); free(v); free(w); free(h1); free(h2);
    free(ds.targets);
    minima_model_free(m);
    free_data(&ds);
}

static void test_gradient_and_hvp_identities(void)
{
    check_derivative_identities("5-8-7-3", 1, MINIMA_LOSS_CE, 11);
    check_derivative_identities("5-8-7-3", 0, MINIMA_LOSS_CE, 12);
    check_derivative_identities("5-6-6-4-3", 1, MINIMA_LOSS_MSE, 13);
}

/* ---- canonical representative ---------------------------------------- */

static double layer_fro(const minima_model *m, const double *theta, int k)
{
    return norm2(theta + m->weight_offset[k], minima_model_layer_weights(m, k));
}

static void canonical_of(const minima_model *m, const double *theta, minima_sym_group g,
                         double *out, minima_sym_canonical_info *info)
{
    size_t nu = minima_sym_n_units(m);
    double *scales = malloc((nu ? nu : 1) * sizeof *scales);
    minima_sym_canonical_params p = minima_sym_canonical_default_params();
    p.group = g;
    CHECK_OK(minima_sym_canonical(m, theta, &p, scales, info));
    CHECK(info->converged);
    minima_sym_apply(m, scales, theta, out);
    free(scales);
}

static void check_canonical(const char *arch, int bias, minima_sym_group g)
{
    minima_model *m = make_model(arch, bias, MINIMA_ACT_RELU, 21);
    size_t P = m->n_params, nu = minima_sym_n_units(m);
    int K = m->n_layers;
    double *c0 = malloc(P * sizeof *c0), *c1 = malloc(P * sizeof *c1), *c2 = malloc(P * sizeof *c2);
    double *orbit = malloc(P * sizeof *orbit), *scales = malloc(nu * sizeof *scales);
    minima_sym_canonical_info info;
    /* start far from balanced: a layer-wise map over decades */
    const double alpha[3] = {30, 0.02, 3};
    CHECK_OK(minima_sym_layer_scales(m, alpha, K - 1, 1, 0, scales, NULL));
    minima_sym_apply_model(m, scales);

    canonical_of(m, NULL, g, c0, &info);
    CHECK(info.norm_after <= info.norm_before);
    CHECK_REL(info.norm_after, norm2(c0, P), 1e-14);
    CHECK_MSG(info.norm_after < 0.9 * info.norm_before, "%s: canonical norm %.6g vs %.6g",
              arch, info.norm_after, info.norm_before);
    /* idempotent */
    canonical_of(m, c0, g, c1, &info);
    CHECK_MSG(harness_vec_reldiff(c1, c0, P, 0) <= 1e-11, "%s group %d: not idempotent (%.3g)",
              arch, (int)g, harness_vec_reldiff(c1, c0, P, 0));
    CHECK_MSG(info.iterations <= (g == MINIMA_SYM_LAYER ? 3 : 200), "%s group %d: %d iterations "
              "from the representative", arch, (int)g, info.iterations);
    /* the same from random points of the orbit */
    for (uint64_t seed = 1; seed <= 4; seed++) {
        double a3[4] = {exp((double)seed), exp(-2.0 * (double)seed), 2, 1}, used[4];
        CHECK_OK(minima_sym_layer_scales(m, a3, K - 1, 1, 0, scales, used));
        if (g == MINIMA_SYM_NEURON)
            CHECK_OK(minima_sym_random_scales(m, seed, 1.0, seed % 2 ? used : NULL, scales));
        minima_sym_apply(m, scales, NULL, orbit);
        canonical_of(m, orbit, g, c2, &info);
        CHECK_MSG(harness_vec_reldiff(c2, c0, P, 0) <= 1e-10, "%s group %d seed %llu: canonical "
                  "points differ by %.3g", arch, (int)g, (unsigned long long)seed,
                  harness_vec_reldiff(c2, c0, P, 0));
    }
    /* optimality conditions */
    if (g == MINIMA_SYM_LAYER && !bias) {
        double f0 = layer_fro(m, c0, 0);
        for (int k = 1; k < K; k++)
            CHECK_MSG(harness_reldiff(layer_fro(m, c0, k), f0, 0) <= 1e-13, "%s: layer %d norm %.17g "
                      "vs layer 0 %.17g", arch, k, layer_fro(m, c0, k), f0);
        double gm = 0;
        for (int k = 0; k < K; k++) gm += log(layer_fro(m, m->theta, k)) / K;
        CHECK_REL(f0, exp(gm), 1e-13);
    } else if (g == MINIMA_SYM_LAYER) {
        /* d f / d t_k = 2 (||W_k||^2 - ||W_{k+1}||^2 + ||b_k||^2) = 0 */
        for (int k = 0; k < K - 1; k++) {
            double a = pow(layer_fro(m, c0, k), 2), b = pow(layer_fro(m, c0, k + 1), 2);
            double bb = pow(norm2(c0 + m->bias_offset[k], (size_t)m->widths[k + 1]), 2);
            CHECK_MSG(fabs(a + bb - b) <= 1e-12 * (a + b), "%s: layer-wise stationarity at %d: "
                      "%.17g + %.17g vs %.17g", arch, k, a, bb, b);
        }
    } else {
        /* every hidden unit balanced: ||row h, bias h||^2 = ||column h||^2 */
        double worst = 0;
        for (int k = 0; k < K - 1; k++) {
            int dh = m->widths[k + 1], din = m->widths[k], dn = m->widths[k + 2];
            for (int h = 0; h < dh; h++) {
                double a = pow(norm2(c0 + m->weight_offset[k] + (size_t)h * (size_t)din, (size_t)din), 2);
                if (bias) a += pow(c0[m->bias_offset[k] + (size_t)h], 2);
                double b = 0;
                for (int i = 0; i < dn; i++) b += pow(c0[m->weight_offset[k + 1] + (size_t)i * (size_t)dh + (size_t)h], 2);
                worst = fmax(worst, fabs(a - b) / (a + b));
            }
        }
        CHECK_MSG(worst <= 1e-11, "%s: per-neuron balance off by %.3g", arch, worst);
    }
    /* the representative computes the same function */
    minima_model *t = NULL;
    CHECK_OK(minima_model_copy(m, &t));
    memcpy(t->theta, c0, P * sizeof *c0);
    minima_dataset ds = make_data(32, m->widths[0], 2, 3);
    minima_sym_equivalence eq;
    CHECK_OK(minima_sym_check_equivalence(m, t, &ds, &eq));
    CHECK(eq.rel_diff <= 1e-13);
    free_data(&ds);
    minima_model_free(t);
    free(c0); free(c1); free(c2); free(orbit); free(scales);
    minima_model_free(m);
}

static void test_canonical(void)
{
    check_canonical("5-8-7-3", 0, MINIMA_SYM_LAYER);
    check_canonical("5-8-7-6-3", 0, MINIMA_SYM_LAYER);
    check_canonical("5-8-7-3", 1, MINIMA_SYM_LAYER);
    check_canonical("5-8-7-6-3", 1, MINIMA_SYM_LAYER);
    check_canonical("5-8-7-3", 0, MINIMA_SYM_NEURON);
    check_canonical("5-8-7-3", 1, MINIMA_SYM_NEURON);
    check_canonical("5-8-7-6-3", 1, MINIMA_SYM_NEURON);
}

static void test_canonical_degenerate(void)
{
    minima_model *m = make_model("3-4-2", 1, MINIMA_ACT_RELU, 31);
    double scales[4];
    minima_sym_canonical_info info;
    /* unit 2 has no outgoing weights: left alone and counted */
    for (int i = 0; i < 2; i++) minima_model_weight(m, 1)[i * 4 + 2] = 0;
    CHECK_OK(minima_sym_canonical(m, NULL, NULL, scales, &info));
    CHECK(info.n_degenerate == 1);
    /* an all-zero layer has no minimum */
    memset(minima_model_weight(m, 1), 0, 8 * sizeof(double));
    CHECK_STATUS(minima_sym_canonical(m, NULL, NULL, scales, &info), MINIMA_EINVAL);
    minima_model_free(m);
    /* no hidden layer: nothing to do */
    m = make_model("3-2", 1, MINIMA_ACT_RELU, 32);
    CHECK_OK(minima_sym_canonical(m, NULL, NULL, scales, &info));
    CHECK(info.norm_after == info.norm_before);
    minima_model_free(m);
}

static void test_equivalence_shapes(void)
{
    minima_model *a = make_model("5-8-3", 1, MINIMA_ACT_RELU, 1);
    minima_model *b = make_model("5-7-3", 1, MINIMA_ACT_RELU, 1);
    minima_dataset ds = make_data(8, 5, 3, 1);
    minima_sym_equivalence eq;
    CHECK_STATUS(minima_sym_check_equivalence(a, b, &ds, &eq), MINIMA_ESHAPE);
    minima_dataset d4 = make_data(8, 4, 3, 1);
    CHECK_STATUS(minima_sym_check_equivalence(a, a, &d4, &eq), MINIMA_ESHAPE);
    CHECK_OK(minima_sym_check_equivalence(a, a, &ds, &eq));
    CHECK(eq.max_abs_diff == 0 && eq.rel_diff == 0);
    free_data(&ds);
    free_data(&d4);
    minima_model_free(a);
    minima_model_free(b);
}


/* Every allocation failure is reported as MINIMA_ENOMEM and leaks nothing
 * (the sanitizer build checks the leaks). */
static void test_out_of_memory(void)
{
    minima_model *m = make_model("5-8-7-3", 1, MINIMA_ACT_RELU, 41);
    minima_dataset ds = make_data(300, 5, 3, 42);
    double scales[15];
    minima_sym_canonical_info info;
    minima_sym_equivalence eq;
    int done = 0;
    for (long n = 0; n < 100 && !done; n++) {
        minima_alloc_fail_after(n);
        minima_status s1 = minima_sym_canonical(m, NULL, NULL, scales, &info);
        minima_alloc_fail_after(n);
        minima_status s2 = minima_sym_check_equivalence(m, m, &ds, &eq);
        minima_alloc_fail_after(-1);
        CHECK(s1 == MINIMA_OK || s1 == MINIMA_ENOMEM);
        CHECK(s2 == MINIMA_OK || s2 == MINIMA_ENOMEM);
        done = s1 == MINIMA_OK && s2 == MINIMA_OK;
    }
    CHECK(done);
    free_data(&ds);
    minima_model_free(m);
}

int main(void)
{
    RUN(test_layerwise_preserves_outputs);
    RUN(test_neuron_scaling_preserves_outputs);
    RUN(test_tanh_breaks_equivalence);
    RUN(test_bad_alpha_rejected);
    RUN(test_diag_matches_apply);
    RUN(test_gradient_and_hvp_identities);
    RUN(test_canonical);
    RUN(test_canonical_degenerate);
    RUN(test_equivalence_shapes);
    RUN(test_out_of_memory);
    return harness_report();
}
