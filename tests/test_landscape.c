/* test_landscape.c — loss-landscape slices and their directions: the slice
 * through theta at t = 0 is the model's loss, a slice along a Hessian
 * eigenvector is L + lambda t^2 / 2 near 0, interpolation ends at both
 * models, filter-normalized rows have the model's row norms, and the
 * invariance of slices under function-preserving rescalings is exactly what
 * docs/landscape.md derives: filter-normalized slices are the same under the
 * layer-wise T_alpha and differ under per-neuron rescaling, plain random ones
 * differ under both. CSV round trip, figures, bad input, interruption and
 * allocation failures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/landscape.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/rng.h"
#include "minima/symmetry.h"

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
    ds.name = "landscape test data";
    return ds;
}

static void free_data(minima_dataset *ds)
{
    free(ds->x);
    free(ds->labels);
}

static minima_model *make_model(const char *arch, int bias, uint64_t seed)
{
    int *w, K;
    minima_model *m = NULL;
    if (minima_parse_arch(arch, &w, &K) != MINIMA_OK) return NULL;
    if (minima_model_create(&m, K, w, bias, MINIMA_ACT_RELU) == MINIMA_OK) minima_model_init(m, seed);
    minima_free(w);
    return m;
}

static minima_net *make_net(const minima_model *m, const minima_dataset *ds)
{
    minima_net_params np = minima_net_default_params(m);
    np.batch_size = 16;   /* several batches per evaluation */
    minima_net *net = NULL;
    minima_status s = minima_net_create(&net, m, ds, &np);
    CHECK_OK(s);
    return net;
}

static double max_rel_diff(const minima_landscape *a, const minima_landscape *b)
{
    double mr;
    minima_landscape_diff(a, b, NULL, &mr);
    return mr;
}

/* ---- slices ------------------------------------------------------------- */

static void test_slice_at_zero_is_the_loss(void)
{
    minima_dataset ds = make_data(64, 5, 3, 1);
    minima_model *m = make_model("5-8-6-3", 1, 2);
    minima_net *net = make_net(m, &ds);
    size_t P = m->n_params;
    double *d = malloc(P * sizeof *d), *d2 = malloc(P * sizeof *d2);
    double loss, acc;
    CHECK_OK(minima_net_loss(net, NULL, &loss, &acc));
    CHECK_OK(minima_dir_filter(m, NULL, 5, MINIMA_FILTER_BIAS_ZERO, d));
    CHECK_OK(minima_dir_filter(m, NULL, 6, MINIMA_FILTER_BIAS_ZERO, d2));
    minima_landscape ls, l2;
    CHECK_OK(minima_landscape_1d(net, NULL, d, -1, 1, 51, &ls));
    CHECK(ls.dims == 1 && ls.nx == 51 && ls.ny == 1 && ls.n_done == 51 && !ls.y);
    CHECK(ls.x[25] == 0.0 && ls.x[0] == -1.0 && ls.x[50] == 1.0);
    CHECK(ls.loss[25] == loss);          /* theta + 0 d is theta, bit for bit */
    CHECK(ls.accuracy[25] == acc);
    CHECK(ls.loss0 == loss && ls.accuracy0 == acc);
    for (size_t i = 0; i < 51; i++) CHECK(isfinite(ls.loss[i]) && ls.accuracy[i] >= 0 && ls.accuracy[i] <= 1);
    /* One point by hand. */
    double *pt = malloc(P * sizeof *pt), lpt;
    for (size_t p = 0; p < P; p++) pt[p] = m->theta[p] + ls.x[7] * d[p];
    CHECK_OK(minima_net_loss(net, pt, &lpt, NULL));
    CHECK(lpt == ls.loss[7]);
    /* The 2-D slice: its t = 0 row is the 1-D slice along d1; (0, 0) is theta. */
    CHECK_OK(minima_landscape_2d(net, NULL, d, d2, -1, 1, 51, -0.5, 0.5, 11, &l2));
    CHECK(l2.dims == 2 && l2.nx == 51 && l2.ny == 11 && l2.n_done == 51 * 11 && l2.y[5] == 0.0);
    for (size_t i = 0; i < 51; i++) CHECK(l2.loss[5 * 51 + i] == ls.loss[i]);
    CHECK(l2.loss[5 * 51 + 25] == loss);
    for (size_t p = 0; p < P; p++) pt[p] = m->theta[p] + l2.x[3] * d[p] + l2.y[9] * d2[p];
    CHECK_OK(minima_net_loss(net, pt, &lpt, NULL));
    CHECK(lpt == l2.loss[9 * 51 + 3]);
    /* The anchor is not moved by a slice. */
    CHECK(memcmp(minima_net_point(net), m->theta, P * sizeof *pt) == 0);
    /* An explicit theta other than the anchor. */
    minima_landscape l3;
    CHECK_OK(minima_landscape_1d(net, pt, d, -1, 1, 3, &l3));
    CHECK(l3.loss[1] == lpt && l3.loss0 == lpt);
    minima_landscape_free(&l3);
    minima_landscape_free(&l2);
    minima_landscape_free(&ls);
    CHECK(ls.loss == NULL && ls.nx == 0);
    minima_landscape_free(&ls);   /* twice is fine */
    free(pt);
    free(d);
    free(d2);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

/* The loss of a ReLU network is only piecewise smooth along a line: some
 * pre-activation of some example crosses 0 within |t| < h with a
 * probability that grows with h (about 50 % for h = 1e-3 here), and the
 * second difference then measures the kink. So: a tanh network (smooth) at
 * h = 1e-2 and 1e-3, and the ReLU network at h = 1e-5, where rounding
 * (~1e-16 / (lambda h^2)) still leaves ~1e-5 relative. */
static void eigen_quadratic(minima_activation act, const double *hs, const double *tols, int nh)
{
    minima_dataset ds = make_data(64, 5, 3, 3);
    minima_model *m = make_model("5-8-6-3", 1, 4);
    minima_model_set_activation(m, act, m->leaky_slope);
    minima_net *net = make_net(m, &ds);
    size_t P = m->n_params;
    double *v = malloc(2 * P * sizeof *v), lambda[2];
    minima_eigs_params ep = minima_eigs_default_params();
    ep.tol = 1e-10;
    CHECK_OK(minima_dir_eigen(net, 2, &ep, v, lambda));
    CHECK(lambda[0] >= lambda[1] && lambda[0] > 0);
    CHECK_REL(minima_dir_norm(v, P), 1.0, 1e-12);
    double dot = 0;
    for (size_t p = 0; p < P; p++) dot += v[p] * v[P + p];
    CHECK(fabs(dot) < 1e-10);
    /* Symmetric differences remove the gradient (odd) term:
     * (L(h) + L(-h)) / 2 - L(0) = lambda h^2 / 2 + O(h^4). */
    for (int e = 0; e < 2; e++)
        for (int i = 0; i < nh; i++) {
            minima_landscape ls;
            double h = hs[i];
            CHECK_OK(minima_landscape_1d(net, NULL, v + (size_t)e * P, -h, h, 3, &ls));
            double curv = (ls.loss[0] + ls.loss[2]) / 2 - ls.loss[1];
            CHECK_MSG(harness_reldiff(curv, 0.5 * lambda[e] * h * h, 1e-300) <= tols[i],
                      "%s, eigenvector %d, h = %g: second difference %.10g, lambda h^2/2 = %.10g",
                      minima_activation_name(act), e + 1, h, curv, 0.5 * lambda[e] * h * h);
            minima_landscape_free(&ls);
        }
    /* And in 2-D, along the diagonal s = t = h: lambda_1 + lambda_2 (the
     * eigenvectors are orthogonal and H-conjugate). */
    minima_landscape l2;
    double h = hs[nh - 1];
    CHECK_OK(minima_landscape_2d(net, NULL, v, v + P, -h, h, 3, -h, h, 3, &l2));
    double curv = (l2.loss[0] + l2.loss[8]) / 2 - l2.loss[4];
    CHECK_MSG(harness_reldiff(curv, 0.5 * (lambda[0] + lambda[1]) * h * h, 1e-300) <= tols[nh - 1],
              "%s, diagonal: %.10g vs %.10g", minima_activation_name(act), curv,
              0.5 * (lambda[0] + lambda[1]) * h * h);
    minima_landscape_free(&l2);
    free(v);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

static void test_eigenvector_slice_is_quadratic(void)
{
    const double h_tanh[] = {1e-2, 1e-3}, tol_tanh[] = {1e-4, 1e-6};
    eigen_quadratic(MINIMA_ACT_TANH, h_tanh, tol_tanh, 2);
    const double h_relu[] = {1e-5}, tol_relu[] = {1e-4};
    eigen_quadratic(MINIMA_ACT_RELU, h_relu, tol_relu, 1);
}

static void test_interpolation_endpoints(void)
{
    minima_dataset ds = make_data(64, 5, 3, 5);
    minima_model *a = make_model("5-8-6-3", 1, 6), *b = make_model("5-8-6-3", 1, 7);
    minima_net *net = make_net(a, &ds);
    size_t P = a->n_params;
    double *d = malloc(P * sizeof *d), la, lb, aa, ab;
    CHECK_OK(minima_dir_interpolation(a, b, d));
    CHECK_OK(minima_net_loss(net, a->theta, &la, &aa));
    CHECK_OK(minima_net_loss(net, b->theta, &lb, &ab));
    CHECK(fabs(la - lb) > 1e-3);   /* two different models */
    minima_landscape ls;
    CHECK_OK(minima_landscape_1d(net, NULL, d, -0.5, 1.5, 41, &ls));
    CHECK(ls.x[10] == 0.0 && ls.x[30] == 1.0);
    CHECK(ls.loss[10] == la);
    CHECK_REL(ls.loss[30], lb, 1e-12);
    CHECK(ls.accuracy[30] == ab);
    minima_landscape_free(&ls);
    free(d);
    minima_net_free(net);
    minima_model_free(a);
    minima_model_free(b);
    free_data(&ds);
}

/* ---- directions ---------------------------------------------------------- */

static void test_random_direction(void)
{
    double a[200], b[200], c[200];
    CHECK_OK(minima_dir_random(200, 9, 3.5, a));
    CHECK_OK(minima_dir_random(200, 9, 3.5, b));
    CHECK_OK(minima_dir_random(200, 10, 3.5, c));
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    CHECK_REL(minima_dir_norm(a, 200), 3.5, 1e-14);
    double big[3] = {1e200, 1e200, 0}, tiny[2] = {3e-200, 4e-200};
    CHECK_REL(minima_dir_norm(big, 3), sqrt(2.0) * 1e200, 1e-15);
    CHECK_REL(minima_dir_norm(tiny, 2), 5e-200, 1e-15);
    CHECK(minima_dir_norm(big, 0) == 0);
}

static void test_filter_row_norms(void)
{
    minima_model *m = make_model("5-8-6-3", 1, 11);
    size_t P = m->n_params;
    double *d = malloc(P * sizeof *d), *r = malloc(P * sizeof *r);
    const minima_filter_bias modes[] = {MINIMA_FILTER_BIAS_ZERO, MINIMA_FILTER_BIAS_COPY, MINIMA_FILTER_BIAS_ROW};
    CHECK_OK(minima_dir_random(P, 12, 1.0, r));
    for (int mi = 0; mi < 3; mi++) {
        CHECK_OK(minima_dir_filter(m, NULL, 12, modes[mi], d));
        for (int k = 0; k < m->n_layers; k++) {
            size_t rows = (size_t)m->widths[k + 1], cols = (size_t)m->widths[k];
            const double *tw = minima_model_weight(m, k), *tb = minima_model_bias(m, k);
            const double *dw = d + m->weight_offset[k], *db = d + m->bias_offset[k];
            const double *rw = r + m->weight_offset[k];
            for (size_t i = 0; i < rows; i++) {
                double tn = minima_dir_norm(tw + i * cols, cols), dn = minima_dir_norm(dw + i * cols, cols);
                if (modes[mi] == MINIMA_FILTER_BIAS_ROW) {
                    tn = sqrt(tn * tn + tb[i] * tb[i]);
                    dn = sqrt(dn * dn + db[i] * db[i]);
                }
                CHECK_REL(dn, tn, 1e-13);
                /* Each row is the Gaussian draw's row, rescaled: same direction. */
                double f = dw[i * cols] / rw[i * cols];
                CHECK(f > 0);
                for (size_t j = 0; j < cols; j++) CHECK_REL(dw[i * cols + j], f * rw[i * cols + j], 1e-13);
                if (modes[mi] == MINIMA_FILTER_BIAS_ZERO) CHECK(db[i] == 0);
                if (modes[mi] == MINIMA_FILTER_BIAS_COPY) CHECK(db[i] == tb[i]);
                if (modes[mi] == MINIMA_FILTER_BIAS_ROW) CHECK_REL(db[i], f * r[m->bias_offset[k] + i], 1e-13);
            }
        }
    }
    /* A zero row of theta gives a zero row of d; a model without biases. */
    memset(m->theta + m->weight_offset[1] + 2 * 8, 0, 8 * sizeof(double));
    CHECK_OK(minima_dir_filter(m, NULL, 12, MINIMA_FILTER_BIAS_ZERO, d));
    for (size_t j = 0; j < 8; j++) CHECK(d[m->weight_offset[1] + 2 * 8 + j] == 0);
    minima_model *nb = make_model("5-8-6-3", 0, 11);
    double *e = malloc(nb->n_params * sizeof *e), *e2 = malloc(nb->n_params * sizeof *e2);
    CHECK_OK(minima_dir_filter(nb, NULL, 3, MINIMA_FILTER_BIAS_ROW, e));
    CHECK_OK(minima_dir_filter(nb, NULL, 3, MINIMA_FILTER_BIAS_ZERO, e2));
    CHECK(memcmp(e, e2, nb->n_params * sizeof *e) == 0);   /* no bias: modes agree */
    free(e);
    free(e2);
    minima_model_free(nb);
    free(d);
    free(r);
    minima_model_free(m);
}

/* ---- invariance under function-preserving rescalings ------------------------ */

typedef struct {
    double random_diff, filter_zero_diff, filter_copy_diff, filter_row_diff;
    double layer0_equivariance;   /* max rel | d'_0 - (A d)_0 | on the first layer's weights */
    double rest_equivariance;     /* the same on the later layers' weights */
} invariance;

static invariance slices_before_after(minima_model *m, minima_net *net, const double *scales)
{
    invariance r;
    size_t P = m->n_params;
    double *th2 = malloc(P * sizeof *th2), *d = malloc(P * sizeof *d), *d2 = malloc(P * sizeof *d2);
    double *diag = malloc(P * sizeof *diag);
    minima_sym_apply(m, scales, m->theta, th2);
    minima_sym_diag(m, scales, diag);
    minima_landscape b, a;
    /* plain random: ||d|| = ||theta|| at each point */
    CHECK_OK(minima_dir_random(P, 21, minima_dir_norm(m->theta, P), d));
    CHECK_OK(minima_dir_random(P, 21, minima_dir_norm(th2, P), d2));
    CHECK_OK(minima_landscape_1d(net, NULL, d, -1, 1, 21, &b));
    CHECK_OK(minima_landscape_1d(net, th2, d2, -1, 1, 21, &a));
    CHECK(a.loss[10] == a.loss0);
    CHECK_REL(a.loss0, b.loss0, 1e-13);   /* the same function */
    r.random_diff = max_rel_diff(&b, &a);
    minima_landscape_free(&b);
    minima_landscape_free(&a);
    const minima_filter_bias modes[] = {MINIMA_FILTER_BIAS_ZERO, MINIMA_FILTER_BIAS_COPY, MINIMA_FILTER_BIAS_ROW};
    double *out[] = {&r.filter_zero_diff, &r.filter_copy_diff, &r.filter_row_diff};
    for (int mi = 0; mi < 3; mi++) {
        CHECK_OK(minima_dir_filter(m, NULL, 22, modes[mi], d));
        CHECK_OK(minima_dir_filter(m, th2, 22, modes[mi], d2));
        CHECK_OK(minima_landscape_1d(net, NULL, d, -1, 1, 21, &b));
        CHECK_OK(minima_landscape_1d(net, th2, d2, -1, 1, 21, &a));
        *out[mi] = max_rel_diff(&b, &a);
        if (mi == 0) {
            r.layer0_equivariance = r.rest_equivariance = 0;
            for (size_t p = 0; p < P; p++) {
                double want = diag[p] * d[p];
                double e = fabs(d2[p] - want) / fmax(fabs(want), 1e-300);
                if (want == 0 && d2[p] == 0) e = 0;
                if (p < minima_model_layer_weights(m, 0)) r.layer0_equivariance = fmax(r.layer0_equivariance, e);
                else if (p >= minima_model_layer_offset(m, 1)) r.rest_equivariance = fmax(r.rest_equivariance, e);
            }
        }
        minima_landscape_free(&b);
        minima_landscape_free(&a);
    }
    free(th2);
    free(d);
    free(d2);
    free(diag);
    return r;
}

static void test_layerwise_invariance(void)
{
    minima_dataset ds = make_data(64, 5, 3, 13);
    const double alphas[][3] = {{10, 0.1, 1}, {3, 0.5, 2.0 / 3.0}, {0.2, 2, 2.5}};
    for (int bias = 0; bias <= 1; bias++) {
        minima_model *m = make_model("5-8-6-3", bias, 14);
        minima_net *net = make_net(m, &ds);
        double scales[14], used[3];
        for (size_t ai = 0; ai < sizeof alphas / sizeof alphas[0]; ai++) {
            CHECK_OK(minima_sym_layer_scales(m, alphas[ai], 3, 1, 1e-12, scales, used));
            invariance r = slices_before_after(m, net, scales);
            /* Filter-normalized (bias zero or copied): the SAME slice. */
            CHECK_MSG(r.filter_zero_diff <= 1e-13, "bias %d alpha %zu: filter (zero) slices differ by %.3g",
                      bias, ai, r.filter_zero_diff);
            CHECK_MSG(r.filter_copy_diff <= 1e-13, "bias %d alpha %zu: filter (copy) slices differ by %.3g",
                      bias, ai, r.filter_copy_diff);
            CHECK(r.layer0_equivariance <= 1e-13 && r.rest_equivariance <= 1e-13);
            /* Plain random: another landscape for the same function. */
            CHECK_MSG(r.random_diff > 1e-2, "bias %d alpha %zu: random slices differ only by %.3g",
                      bias, ai, r.random_diff);
            /* Bias inside the row: broken by T_alpha when there are biases. */
            if (bias) CHECK_MSG(r.filter_row_diff > 1e-6, "alpha %zu: row-bias slices differ only by %.3g",
                                ai, r.filter_row_diff);
            else CHECK(r.filter_row_diff <= 1e-13);
        }
        minima_net_free(net);
        minima_model_free(m);
    }
    free_data(&ds);
}

static void test_per_neuron_breaks_filter_normalization(void)
{
    minima_dataset ds = make_data(64, 5, 3, 15);
    for (int bias = 0; bias <= 1; bias++) {
        minima_model *m = make_model("5-8-6-3", bias, 16);
        minima_net *net = make_net(m, &ds);
        double scales[14];
        CHECK_OK(minima_sym_random_scales(m, 17, 1.0, NULL, scales));
        invariance r = slices_before_after(m, net, scales);
        /* The row factor s_k[i] cancels: the first layer (inputs unscaled)
         * is still equivariant; the column factors 1/s_{k-1}[j] do not. */
        CHECK(r.layer0_equivariance <= 1e-13);
        CHECK_MSG(r.rest_equivariance > 1e-2, "later layers equivariant to %.3g", r.rest_equivariance);
        CHECK_MSG(r.filter_zero_diff > 1e-3, "bias %d: per-neuron filter slices differ only by %.3g",
                  bias, r.filter_zero_diff);
        CHECK_MSG(r.filter_copy_diff > 1e-3, "bias %d: per-neuron filter (copy) slices differ only by %.3g",
                  bias, r.filter_copy_diff);
        CHECK(r.random_diff > 1e-2);
        /* Scaling one unit of the last hidden layer is enough: it scales a
         * column of the output layer's weights. */
        double one[14];
        CHECK_OK(minima_sym_neuron_scales(m, 1, 2, 5.0, one));
        invariance r1 = slices_before_after(m, net, one);
        CHECK(r1.filter_zero_diff > 1e-6);
        minima_net_free(net);
        minima_model_free(m);
    }
    free_data(&ds);
}

/* The one-call API the command uses: minima_dir_make and
 * minima_landscape_rescaled agree with the building blocks. */
static void test_dir_make_and_rescaled(void)
{
    minima_dataset ds = make_data(64, 5, 3, 41);
    minima_model *m = make_model("5-8-6-3", 1, 42);
    minima_net *net = make_net(m, &ds);
    size_t P = m->n_params;
    double *d = malloc(2 * P * sizeof *d), *e = malloc(P * sizeof *e), *pt = malloc(P * sizeof *pt);
    minima_dir_params dp = minima_dir_default_params();
    CHECK(dp.kind == MINIMA_DIR_FILTER && dp.dims == 1 && dp.bias == MINIMA_FILTER_BIAS_ZERO);
    minima_dir_kind k;
    CHECK_OK(minima_dir_kind_parse("eigen", &k));
    CHECK(k == MINIMA_DIR_EIGEN && !strcmp(minima_dir_kind_name(k), "eigen"));
    CHECK_STATUS(minima_dir_kind_parse("sideways", &k), MINIMA_EINVAL);
    dp.dims = 2;
    dp.seed = 7;
    CHECK_OK(minima_dir_make(net, NULL, &dp, d, NULL));
    CHECK_OK(minima_dir_filter(m, NULL, 8, MINIMA_FILTER_BIAS_ZERO, e));
    CHECK(memcmp(d + P, e, P * sizeof *e) == 0);
    dp.kind = MINIMA_DIR_RANDOM;
    CHECK_OK(minima_dir_make(net, NULL, &dp, d, NULL));
    CHECK_REL(minima_dir_norm(d, P), minima_dir_norm(m->theta, P), 1e-14);
    CHECK_OK(minima_dir_random(P, 7, minima_dir_norm(m->theta, P), e));
    CHECK(memcmp(d, e, P * sizeof *e) == 0);
    /* Eigenvectors at another point: the anchor comes back. */
    for (size_t p = 0; p < P; p++) pt[p] = 1.1 * m->theta[p];
    dp.kind = MINIMA_DIR_EIGEN;
    dp.dims = 1;
    dp.eig_tol = 1e-10;
    double lam_at_pt, lam_check;
    CHECK_OK(minima_dir_make(net, pt, &dp, d, &lam_at_pt));
    CHECK(memcmp(minima_net_point(net), m->theta, P * sizeof *pt) == 0);
    CHECK_OK(minima_net_set_point(net, pt));
    CHECK_OK(minima_dir_eigen(net, 1, NULL, e, &lam_check));
    CHECK_REL(lam_at_pt, lam_check, 1e-9);
    CHECK_OK(minima_net_set_point(net, m->theta));
    dp.dims = 3;
    CHECK_STATUS(minima_dir_make(net, NULL, &dp, d, NULL), MINIMA_EINVAL);
    dp.dims = 1;
    dp.eig_tol = 0;
    CHECK_STATUS(minima_dir_make(net, NULL, &dp, d, NULL), MINIMA_EINVAL);

    /* Before and after T_alpha in one call. */
    double scales[14], used[3], alpha[3] = {10, 0.1, 1};
    CHECK_OK(minima_sym_layer_scales(m, alpha, 3, 0, 1e-12, scales, used));
    minima_landscape b, a;
    double eb[2], ea[2];
    const minima_dir_kind kinds[3] = {MINIMA_DIR_FILTER, MINIMA_DIR_RANDOM, MINIMA_DIR_EIGEN};
    for (int dims = 1; dims <= 2; dims++)
        for (int ki = 0; ki < 3; ki++) {
            dp = minima_dir_default_params();
            dp.kind = kinds[ki];
            dp.dims = dims;
            CHECK_OK(minima_landscape_rescaled(net, scales, &dp, -1, 1, dims == 1 ? 21 : 7, &b, &a, eb, ea));
            CHECK(b.dims == dims && a.dims == dims);
            CHECK_REL(a.loss0, b.loss0, 1e-13);
            double mr = max_rel_diff(&b, &a);
            if (kinds[ki] == MINIMA_DIR_FILTER) CHECK_MSG(mr <= 1e-13, "filter %d-D: %.3g", dims, mr);
            else CHECK_MSG(mr > 1e-2, "%s %d-D differs only by %.3g", minima_dir_kind_name(kinds[ki]), dims, mr);
            if (kinds[ki] == MINIMA_DIR_EIGEN) CHECK(fabs(eb[0] - ea[0]) > 1e-3 * eb[0]);
            minima_landscape_free(&b);
            minima_landscape_free(&a);
        }
    CHECK(memcmp(minima_net_point(net), m->theta, P * sizeof *pt) == 0);
    scales[3] = -1;
    CHECK_STATUS(minima_landscape_rescaled(net, scales, NULL, -1, 1, 5, &b, &a, NULL, NULL), MINIMA_EINVAL);
    scales[3] = 1e-300;   /* W_1[i, 3] -> s_2[i] / s_1[3] W_1[i, 3] = 1e600 W: overflows */
    scales[8] = 1e300;
    CHECK_STATUS(minima_landscape_rescaled(net, scales, NULL, -1, 1, 5, &b, &a, NULL, NULL), MINIMA_EINVAL);
    CHECK(b.loss == NULL && a.loss == NULL);
    minima_landscape_free(&b);
    minima_landscape_free(&a);
    free(d);
    free(e);
    free(pt);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

/* Slices through the canonical (minimum-norm) representative of the orbit
 * are the same for every point of the orbit: any rescaling, any direction. */
static void test_canonical_representative_is_invariant(void)
{
    minima_dataset ds = make_data(64, 5, 3, 35);
    minima_model *m = make_model("5-8-6-3", 1, 36);
    minima_net *net = make_net(m, &ds);
    size_t P = m->n_params;
    double scales[14], cs[14], alpha[3] = {10, 0.1, 1};
    double *th2 = malloc(P * sizeof *th2), *c1 = malloc(P * sizeof *c1), *c2 = malloc(P * sizeof *c2);
    double *d = malloc(P * sizeof *d), *d2 = malloc(P * sizeof *d2);
    CHECK_OK(minima_sym_random_scales(m, 37, 1.0, alpha, scales));
    minima_sym_apply(m, scales, m->theta, th2);
    CHECK_OK(minima_sym_canonical(m, NULL, NULL, cs, NULL));
    minima_sym_apply(m, cs, m->theta, c1);
    CHECK_OK(minima_sym_canonical(m, th2, NULL, cs, NULL));
    minima_sym_apply(m, cs, th2, c2);
    CHECK(harness_vec_reldiff(c2, c1, P, 1e-300) <= 1e-10);
    for (int kind = 0; kind < 2; kind++) {
        minima_landscape b, a;
        if (kind == 0) {
            CHECK_OK(minima_dir_random(P, 3, minima_dir_norm(c1, P), d));
            CHECK_OK(minima_dir_random(P, 3, minima_dir_norm(c2, P), d2));
        } else {
            CHECK_OK(minima_dir_filter(m, c1, 3, MINIMA_FILTER_BIAS_ZERO, d));
            CHECK_OK(minima_dir_filter(m, c2, 3, MINIMA_FILTER_BIAS_ZERO, d2));
        }
        CHECK_OK(minima_landscape_1d(net, c1, d, -1, 1, 21, &b));
        CHECK_OK(minima_landscape_1d(net, c2, d2, -1, 1, 21, &a));
        CHECK_MSG(max_rel_diff(&b, &a) <= 1e-9, "%s: canonical slices differ by %.3g",
                  kind ? "filter" : "random", max_rel_diff(&b, &a));
        minima_landscape_free(&b);
        minima_landscape_free(&a);
    }
    free(th2);
    free(c1);
    free(c2);
    free(d);
    free(d2);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

/* ---- CSV --------------------------------------------------------------------- */

static int same_slice(const minima_landscape *a, const minima_landscape *b)
{
    if (a->dims != b->dims || a->nx != b->nx || a->ny != b->ny) return 0;
    if (memcmp(a->x, b->x, a->nx * sizeof(double))) return 0;
    if (a->dims == 2 && memcmp(a->y, b->y, a->ny * sizeof(double))) return 0;
    for (size_t i = 0; i < a->nx * a->ny; i++) {
        if (!(a->loss[i] == b->loss[i] || (isnan(a->loss[i]) && isnan(b->loss[i])))) return 0;
        if (!(a->accuracy[i] == b->accuracy[i] || (isnan(a->accuracy[i]) && isnan(b->accuracy[i])))) return 0;
    }
    return 1;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_csv_round_trip(void)
{
    minima_dataset ds = make_data(64, 5, 3, 19);
    minima_model *m = make_model("5-8-6-3", 1, 20);
    minima_net *net = make_net(m, &ds);
    size_t P = m->n_params;
    double *d = malloc(2 * P * sizeof *d);
    CHECK_OK(minima_dir_filter(m, NULL, 1, MINIMA_FILTER_BIAS_ZERO, d));
    CHECK_OK(minima_dir_filter(m, NULL, 2, MINIMA_FILTER_BIAS_ZERO, d + P));
    minima_landscape l1, l2, back;
    CHECK_OK(minima_landscape_1d(net, NULL, d, -1, 1, 31, &l1));
    CHECK_OK(minima_landscape_2d(net, NULL, d, d + P, -1, 1, 7, -0.5, 2, 5, &l2));
    l1.accuracy[3] = NAN;   /* NaN survives as "nan" */
    char p1[512], p2[512], p3[512], bad[512];
    snprintf(p1, sizeof p1, "%s/l1.csv", harness_tmpdir());
    snprintf(p2, sizeof p2, "%s/l2.csv", harness_tmpdir());
    snprintf(p3, sizeof p3, "%s/series.csv", harness_tmpdir());
    snprintf(bad, sizeof bad, "%s/bad.csv", harness_tmpdir());
    const minima_landscape *one1[1] = {&l1}, *one2[1] = {&l2};
    CHECK_OK(minima_landscape_write_csv(p1, one1, NULL, 1));
    CHECK_OK(minima_landscape_read_csv(p1, NULL, &back));
    CHECK(same_slice(&l1, &back));
    CHECK(back.loss0 == l1.loss0);
    minima_landscape_free(&back);
    CHECK_OK(minima_landscape_write_csv(p2, one2, NULL, 1));
    CHECK_OK(minima_landscape_read_csv(p2, NULL, &back));
    CHECK(same_slice(&l2, &back) && back.dims == 2);
    minima_landscape_free(&back);
    /* Several series in one long-format file. */
    minima_landscape l1b;
    CHECK_OK(minima_landscape_1d(net, NULL, d + P, -1, 1, 31, &l1b));
    const minima_landscape *two[2] = {&l1, &l1b};
    const char *names[2] = {"filter_before", "filter_after"};
    CHECK_OK(minima_landscape_write_csv(p3, two, names, 2));
    CHECK_OK(minima_landscape_read_csv(p3, "filter_after", &back));
    CHECK(same_slice(&l1b, &back));
    minima_landscape_free(&back);
    CHECK_OK(minima_landscape_read_csv(p3, "filter_before", &back));
    CHECK(same_slice(&l1, &back));
    minima_landscape_free(&back);
    CHECK_STATUS(minima_landscape_read_csv(p3, "filter", &back), MINIMA_EINVAL);
    CHECK_STATUS(minima_landscape_read_csv(p3, NULL, &back), MINIMA_EINVAL);
    CHECK_STATUS(minima_landscape_read_csv(p1, "x", &back), MINIMA_EINVAL);
    const char *bad_names[2] = {"a,b", "c"};
    CHECK_STATUS(minima_landscape_write_csv(p3, two, bad_names, 2), MINIMA_EINVAL);
    CHECK_STATUS(minima_landscape_write_csv(p3, two, NULL, 2), MINIMA_EINVAL);
    const minima_landscape *mixed[2] = {&l1, &l2};
    CHECK_STATUS(minima_landscape_write_csv(p3, mixed, names, 2), MINIMA_EINVAL);
    /* The failed writes left the file as it was. */
    CHECK_OK(minima_landscape_read_csv(p3, "filter_after", &back));
    minima_landscape_free(&back);
    /* A directory that does not exist: EIO, nothing written. */
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir.csv", harness_tmpdir());
    CHECK_STATUS(minima_landscape_write_csv(nodir, one1, NULL, 1), MINIMA_EIO);
    /* Malformed files. */
    CHECK_STATUS(minima_landscape_read_csv(nodir, NULL, &back), MINIMA_EIO);
    write_text(bad, "");
    CHECK_STATUS(minima_landscape_read_csv(bad, NULL, &back), MINIMA_EFORMAT);
    write_text(bad, "x,y\n1,2\n");
    CHECK_STATUS(minima_landscape_read_csv(bad, NULL, &back), MINIMA_EFORMAT);
    write_text(bad, "t,loss,accuracy\n0,1,0.5\n1,abc,0.5\n");
    CHECK_STATUS(minima_landscape_read_csv(bad, NULL, &back), MINIMA_EFORMAT);
    write_text(bad, "t,loss,accuracy\n0,1,0.5\n1,2\n");
    CHECK_STATUS(minima_landscape_read_csv(bad, NULL, &back), MINIMA_EFORMAT);
    write_text(bad, "t,loss,accuracy\n0,1,0.5\n1,2,0.5,7\n");
    CHECK_STATUS(minima_landscape_read_csv(bad, NULL, &back), MINIMA_EFORMAT);
    write_text(bad, "t,loss,accuracy\n1,1,0.5\n0,2,0.5\n");      /* t decreasing */
    CHECK_STATUS(minima_landscape_read_csv(bad, NULL, &back), MINIMA_EFORMAT);
    write_text(bad, "t,loss,accuracy\n0,1,0.5\n");                /* one point */
    CHECK_STATUS(minima_landscape_read_csv(bad, NULL, &back), MINIMA_EFORMAT);
    write_text(bad, "s,t,loss,accuracy\n0,0,1,1\n1,0,1,1\n0,1,1,1\n");   /* incomplete grid */
    CHECK_STATUS(minima_landscape_read_csv(bad, NULL, &back), MINIMA_EFORMAT);
    write_text(bad, "s,t,loss,accuracy\n0,0,1,1\n1,0,1,1\n0,1,1,1\n2,1,1,1\n");   /* irregular */
    CHECK_STATUS(minima_landscape_read_csv(bad, NULL, &back), MINIMA_EFORMAT);
    write_text(bad, "t,loss,accuracy\nnan,1,0.5\n1,2,0.5\n");
    CHECK_STATUS(minima_landscape_read_csv(bad, NULL, &back), MINIMA_EFORMAT);
    CHECK(back.loss == NULL);
    minima_landscape_free(&l1b);
    minima_landscape_free(&l1);
    minima_landscape_free(&l2);
    free(d);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

/* ---- figures ------------------------------------------------------------------ */

static int file_nonempty(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 1000;
}

static void test_figures(void)
{
    minima_dataset ds = make_data(64, 5, 3, 23);
    minima_model *m = make_model("5-8-6-3", 1, 24);
    minima_net *net = make_net(m, &ds);
    size_t P = m->n_params;
    double *d = malloc(2 * P * sizeof *d);
    CHECK_OK(minima_dir_filter(m, NULL, 1, MINIMA_FILTER_BIAS_ZERO, d));
    CHECK_OK(minima_dir_filter(m, NULL, 2, MINIMA_FILTER_BIAS_ZERO, d + P));
    minima_landscape l1, l1b, l2, l2b;
    CHECK_OK(minima_landscape_1d(net, NULL, d, -1, 1, 21, &l1));
    CHECK_OK(minima_landscape_1d(net, NULL, d + P, -1, 1, 21, &l1b));
    CHECK_OK(minima_landscape_2d(net, NULL, d, d + P, -1, 1, 9, -1, 1, 9, &l2));
    CHECK_OK(minima_landscape_2d(net, NULL, d + P, d, -1, 1, 9, -1, 1, 9, &l2b));
    char path[512];
    minima_landscape_plot_options o = minima_landscape_plot_default_options();
    o.title = "test";
    const minima_landscape *p1[2] = {&l1, &l1b}, *p2[1] = {&l2}, *p2b[1] = {&l2b};
    const char *names[2] = {"one", "two"};
    snprintf(path, sizeof path, "%s/l1.png", harness_tmpdir());
    CHECK_OK(minima_landscape_plot(path, p1, names, 2, &o));
    CHECK(file_nonempty(path));
    o.log_loss = 1;
    o.mark_x1 = 0.5;
    o.mark_label1 = "B";
    snprintf(path, sizeof path, "%s/l1log.png", harness_tmpdir());
    CHECK_OK(minima_landscape_plot(path, p1, NULL, 1, &o));
    CHECK(file_nonempty(path));
    snprintf(path, sizeof path, "%s/l2.png", harness_tmpdir());
    o.clip_quantile = 0.9;
    CHECK_OK(minima_landscape_plot(path, p2, NULL, 1, &o));
    CHECK(file_nonempty(path));
    snprintf(path, sizeof path, "%s/c1.png", harness_tmpdir());
    const minima_landscape *b1[1] = {&l1}, *a1[1] = {&l1b};
    CHECK_OK(minima_landscape_plot_compare(path, b1, a1, names, 1, "θ", "A θ", NULL));
    CHECK(file_nonempty(path));
    snprintf(path, sizeof path, "%s/c2.png", harness_tmpdir());
    CHECK_OK(minima_landscape_plot_compare(path, p2, p2b, names, 1, NULL, NULL, &o));
    CHECK(file_nonempty(path));
    /* Two 2-D slices in one plain figure, a 1-D against a 2-D, a map with a
     * hole, an unknown extension. */
    const minima_landscape *two2[2] = {&l2, &l2b};
    CHECK_STATUS(minima_landscape_plot(path, two2, NULL, 2, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_landscape_plot_compare(path, b1, p2, NULL, 1, NULL, NULL, NULL), MINIMA_EINVAL);
    l2.loss[4] = NAN;
    CHECK_STATUS(minima_landscape_plot(path, p2, NULL, 1, NULL), MINIMA_EINVAL);
    snprintf(path, sizeof path, "%s/l1.txt", harness_tmpdir());
    CHECK_STATUS(minima_landscape_plot(path, p1, NULL, 1, NULL), MINIMA_EINVAL);
    minima_landscape_free(&l1);
    minima_landscape_free(&l1b);
    minima_landscape_free(&l2);
    minima_landscape_free(&l2b);
    free(d);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

/* ---- bad input, interruption, out of memory ------------------------------------ */

static void test_bad_input(void)
{
    minima_dataset ds = make_data(32, 5, 3, 25);
    minima_model *m = make_model("5-8-6-3", 1, 26);
    minima_model *other = make_model("5-8-7-3", 1, 27), *deeper = make_model("5-8-6-6-3", 1, 28);
    minima_model *nobias = make_model("5-8-6-3", 0, 29);
    minima_net *net = make_net(m, &ds);
    size_t P = m->n_params;
    double *d = malloc(P * sizeof *d);
    minima_landscape ls;
    CHECK_STATUS(minima_dir_interpolation(m, other, d), MINIMA_ESHAPE);
    CHECK(strstr(minima_last_error(), "d_2 is 6") != NULL);
    CHECK_STATUS(minima_dir_interpolation(m, deeper, d), MINIMA_ESHAPE);
    CHECK_STATUS(minima_dir_interpolation(m, nobias, d), MINIMA_ESHAPE);
    other->theta[0] = NAN;
    minima_model *same = make_model("5-8-6-3", 1, 30);
    same->theta[3] = INFINITY;
    CHECK_STATUS(minima_dir_interpolation(m, same, d), MINIMA_ENONFINITE);
    CHECK_STATUS(minima_dir_random(P, 1, 0.0, d), MINIMA_EINVAL);
    CHECK_STATUS(minima_dir_random(P, 1, NAN, d), MINIMA_EINVAL);
    CHECK_STATUS(minima_dir_random(0, 1, 1.0, d), MINIMA_EINVAL);
    CHECK_STATUS(minima_dir_filter_normalize(m, NULL, (minima_filter_bias)7, d), MINIMA_EINVAL);
    CHECK_STATUS(minima_dir_filter(same, NULL, 1, MINIMA_FILTER_BIAS_ZERO, d), MINIMA_ENONFINITE);
    CHECK_STATUS(minima_dir_eigen(net, 0, NULL, d, NULL), MINIMA_EINVAL);
    CHECK_OK(minima_dir_random(P, 1, 1.0, d));
    /* Ranges and grids. */
    CHECK_STATUS(minima_landscape_1d(net, NULL, d, 1, -1, 11, &ls), MINIMA_EINVAL);
    CHECK(ls.loss == NULL);
    CHECK_STATUS(minima_landscape_1d(net, NULL, d, 1, 1, 11, &ls), MINIMA_EINVAL);
    CHECK_STATUS(minima_landscape_1d(net, NULL, d, NAN, 1, 11, &ls), MINIMA_EINVAL);
    CHECK_STATUS(minima_landscape_1d(net, NULL, d, -INFINITY, 1, 11, &ls), MINIMA_EINVAL);
    CHECK_STATUS(minima_landscape_1d(net, NULL, d, -1, 1, 1, &ls), MINIMA_EINVAL);
    CHECK_STATUS(minima_landscape_1d(net, NULL, d, -1, 1, 0, &ls), MINIMA_EINVAL);
    CHECK_STATUS(minima_landscape_2d(net, NULL, d, d, -1, 1, 5, 0, 0, 5, &ls), MINIMA_EINVAL);
    CHECK_STATUS(minima_landscape_2d(net, NULL, d, d, -1, 1, 5, -1, 1, 1, &ls), MINIMA_EINVAL);
    CHECK_STATUS(minima_landscape_2d(net, NULL, d, NULL, -1, 1, 5, -1, 1, 5, &ls), MINIMA_EINVAL);
    CHECK_STATUS(minima_landscape_1d(NULL, NULL, d, -1, 1, 5, &ls), MINIMA_EINVAL);
    CHECK_STATUS(minima_landscape_1d(net, NULL, NULL, -1, 1, 5, &ls), MINIMA_EINVAL);
    double x[3];
    CHECK_STATUS(minima_landscape_grid(0, 1, 2000000, x), MINIMA_EINVAL);
    /* A range whose edge is not representable. */
    double *big = malloc(P * sizeof *big);
    CHECK_OK(minima_dir_random(P, 1, 1e3, big));
    CHECK_STATUS(minima_landscape_1d(net, NULL, big, -1e307, 1e307, 5, &ls), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "overflows") != NULL);
    CHECK_STATUS(minima_landscape_2d(net, NULL, d, big, -1, 1, 3, -1e307, 1e307, 3, &ls), MINIMA_EINVAL);
    free(big);
    d[5] = NAN;
    CHECK_STATUS(minima_landscape_1d(net, NULL, d, -1, 1, 5, &ls), MINIMA_ENONFINITE);
    CHECK(strstr(minima_last_error(), "entry 5") != NULL);
    /* A differing pair of grids has no difference. */
    double ma, mr;
    minima_landscape_diff(NULL, NULL, &ma, &mr);
    CHECK(isnan(ma) && isnan(mr));
    free(d);
    minima_net_free(net);
    minima_model_free(m);
    minima_model_free(other);
    minima_model_free(deeper);
    minima_model_free(nobias);
    minima_model_free(same);
    free_data(&ds);
}

static int progress_calls;
static double progress_last;
static void count_progress(const char *task, double done, double total, void *user)
{
    (void)user;
    if (!strcmp(task, "landscape")) {
        progress_calls++;
        progress_last = done / total;
    }
}

static void test_progress_and_interrupt(void)
{
    minima_dataset ds = make_data(32, 5, 3, 31);
    minima_model *m = make_model("5-8-6-3", 1, 32);
    minima_net *net = make_net(m, &ds);
    size_t P = m->n_params;
    double *d = malloc(P * sizeof *d);
    CHECK_OK(minima_dir_random(P, 1, 1.0, d));
    minima_landscape ls;
    minima_set_progress(count_progress, NULL);
    CHECK_OK(minima_landscape_2d(net, NULL, d, d, -1, 1, 4, -1, 1, 3, &ls));
    CHECK(progress_calls == 13 && progress_last == 1.0);
    minima_landscape_free(&ls);
    minima_set_progress(NULL, NULL);
    minima_interrupt();
    CHECK_STATUS(minima_landscape_1d(net, NULL, d, -1, 1, 9, &ls), MINIMA_EINTERRUPTED);
    minima_clear_interrupt();
    /* The partial result: no point done, every value NaN, the grid set. */
    CHECK(ls.loss && ls.n_done == 0 && ls.nx == 9 && isnan(ls.loss[0]) && ls.x[8] == 1.0);
    minima_landscape_free(&ls);
    free(d);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

static void test_out_of_memory(void)
{
    minima_dataset ds = make_data(32, 5, 3, 33);
    minima_model *m = make_model("5-8-6-3", 1, 34);
    minima_net *net = make_net(m, &ds);
    size_t P = m->n_params;
    double *d = malloc(P * sizeof *d);
    CHECK_OK(minima_dir_random(P, 1, 1.0, d));
    char path[512];
    snprintf(path, sizeof path, "%s/oom.csv", harness_tmpdir());
    minima_landscape ref;
    CHECK_OK(minima_landscape_2d(net, NULL, d, d, -1, 1, 3, -1, 1, 3, &ref));
    const minima_landscape *one[1] = {&ref};
    CHECK_OK(minima_landscape_write_csv(path, one, NULL, 1));
    int ok_slice = 0, ok_read = 0;
    for (long n = 0; n < 40 && !(ok_slice && ok_read); n++) {
        minima_landscape ls;
        minima_alloc_fail_after(n);
        minima_status s = minima_landscape_2d(net, NULL, d, d, -1, 1, 3, -1, 1, 3, &ls);
        minima_alloc_fail_after(-1);
        CHECK(s == MINIMA_OK || s == MINIMA_ENOMEM);
        if (s == MINIMA_OK) {
            ok_slice = 1;
            CHECK(same_slice(&ls, &ref));
        } else {
            CHECK(ls.loss == NULL);
        }
        minima_landscape_free(&ls);
        minima_alloc_fail_after(n);
        s = minima_landscape_read_csv(path, NULL, &ls);
        minima_alloc_fail_after(-1);
        CHECK(s == MINIMA_OK || s == MINIMA_ENOMEM);
        if (s == MINIMA_OK) ok_read = 1;
        minima_landscape_free(&ls);
        minima_alloc_fail_after(n);
        s = minima_landscape_write_csv(path, one, NULL, 1);
        minima_alloc_fail_after(-1);
        CHECK(s == MINIMA_OK || s == MINIMA_ENOMEM);
    }
    CHECK(ok_slice && ok_read);
    /* The one-call comparison, random and eigen directions (Lanczos, the
     * anchor moved and restored). */
    double scales[14], alpha[3] = {2, 0.5, 1};
    CHECK_OK(minima_sym_layer_scales(m, alpha, 3, 0, 1e-12, scales, NULL));
    for (int kind = 0; kind < 2; kind++) {
        minima_dir_params dp = minima_dir_default_params();
        dp.kind = kind ? MINIMA_DIR_EIGEN : MINIMA_DIR_RANDOM;
        int ok = 0;
        for (long n = 0; n < 400 && !ok; n++) {
            minima_landscape b, a;
            minima_alloc_fail_after(n);
            minima_status s = minima_landscape_rescaled(net, scales, &dp, -1, 1, 3, &b, &a, NULL, NULL);
            minima_alloc_fail_after(-1);
            CHECK_MSG(s == MINIMA_OK || s == MINIMA_ENOMEM, "%s after %ld allocations: %s",
                      minima_dir_kind_name(dp.kind), n, minima_strerror(s));
            if (s == MINIMA_OK) ok = 1;
            else CHECK(b.loss == NULL && a.loss == NULL);
            minima_landscape_free(&b);
            minima_landscape_free(&a);
            CHECK(memcmp(minima_net_point(net), m->theta, P * sizeof(double)) == 0);
        }
        CHECK(ok);
    }
    minima_landscape_free(&ref);
    free(d);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

int main(void)
{
    RUN(test_slice_at_zero_is_the_loss);
    RUN(test_eigenvector_slice_is_quadratic);
    RUN(test_interpolation_endpoints);
    RUN(test_random_direction);
    RUN(test_filter_row_norms);
    RUN(test_layerwise_invariance);
    RUN(test_per_neuron_breaks_filter_normalization);
    RUN(test_dir_make_and_rescaled);
    RUN(test_canonical_representative_is_invariant);
    RUN(test_csv_round_trip);
    RUN(test_figures);
    RUN(test_bad_input);
    RUN(test_progress_and_interrupt);
    RUN(test_out_of_memory);
    return harness_report();
}
