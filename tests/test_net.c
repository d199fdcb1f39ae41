/* test_net.c — the engine against finite differences, closed forms, a naive
 * reference implementation, and the exact symmetry identities of docs/symmetry.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/net.h"
#include "minima/rng.h"

/* ---- fixtures ------------------------------------------------------------ */

static minima_model *make_model(int K, const int *widths, int bias, minima_activation act,
                                minima_loss loss, uint64_t seed)
{
    minima_model *m = NULL;
    if (minima_model_create(&m, K, widths, bias, act) != MINIMA_OK) abort();
    minima_model_init(m, seed);
    m->loss = loss;
    return m;
}

static minima_dataset *make_data(size_t n, int d, int classes, int dtarget, uint64_t seed)
{
    minima_dataset *x = NULL;
    if (minima_dataset_create(&x, n, d, classes, dtarget) != MINIMA_OK) abort();
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    minima_rng_fill_normal(&rng, x->x, n * (size_t)d);
    for (size_t i = 0; classes && i < n; i++) x->labels[i] = (int32_t)minima_rng_below(&rng, (uint64_t)classes);
    if (dtarget) minima_rng_fill_normal(&rng, x->targets, n * (size_t)dtarget);
    return x;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double norm(const double *a, size_t n) { return sqrt(dot(a, a, n)); }

/* ---- a naive reference forward pass: loops, no BLAS ------------------------ */

static double ref_phi(const minima_model *m, double z)
{
    switch (m->activation) {
    case MINIMA_ACT_RELU: return z > 0 ? z : 0;
    case MINIMA_ACT_LEAKY_RELU: return z > 0 ? z : m->leaky_slope * z;
    case MINIMA_ACT_TANH: return tanh(z);
    }
    return z;
}

/* Loss of the model at theta; *min_abs_z gets the smallest |Z| of any
 * hidden pre-activation (distance to a ReLU kink). */
static double ref_loss(const minima_model *m, const double *theta, const minima_dataset *x,
                       minima_loss loss, double *min_abs_z)
{
    int K = m->n_layers, maxd = 0;
    for (int k = 0; k <= K; k++) if (m->widths[k] > maxd) maxd = m->widths[k];
    double *a = calloc((size_t)maxd, sizeof *a), *z = calloc((size_t)maxd, sizeof *z);
    double total = 0, mn = INFINITY;
    for (size_t i = 0; i < x->n; i++) {
        memcpy(a, x->x + i * (size_t)x->d, (size_t)x->d * sizeof *a);
        for (int k = 0; k < K; k++) {
            const double *Wk = theta + m->weight_offset[k];
            const double *bk = m->has_bias ? theta + m->bias_offset[k] : NULL;
            for (int r = 0; r < m->widths[k + 1]; r++) {
                double s = bk ? bk[r] : 0;
                for (int c = 0; c < m->widths[k]; c++) s += Wk[r * m->widths[k] + c] * a[c];
                z[r] = s;
            }
            if (k < K - 1)
                for (int r = 0; r < m->widths[k + 1]; r++) {
                    if (fabs(z[r]) < mn) mn = fabs(z[r]);
                    a[r] = ref_phi(m, z[r]);
                }
        }
        int dK = m->widths[K];
        if (loss == MINIMA_LOSS_CE) {
            double mx = z[0], s = 0;
            for (int j = 1; j < dK; j++) if (z[j] > mx) mx = z[j];
            for (int j = 0; j < dK; j++) s += exp(z[j] - mx);
            total += mx + log(s) - z[x->labels[i]];
        } else {
            for (int j = 0; j < dK; j++) {
                double r = z[j] - x->targets[i * (size_t)dK + (size_t)j];
                total += r * r;
            }
        }
    }
    free(a);
    free(z);
    if (min_abs_z) *min_abs_z = mn;
    return total / (double)x->n / (loss == MINIMA_LOSS_MSE ? m->widths[K] : 1);
}

/* ---- tests ----------------------------------------------------------------- */

typedef struct { minima_activation act; minima_loss loss; int bias; } config;
static const config configs[] = {
    {MINIMA_ACT_RELU, MINIMA_LOSS_CE, 1}, {MINIMA_ACT_RELU, MINIMA_LOSS_MSE, 1},
    {MINIMA_ACT_RELU, MINIMA_LOSS_CE, 0}, {MINIMA_ACT_LEAKY_RELU, MINIMA_LOSS_CE, 1},
    {MINIMA_ACT_TANH, MINIMA_LOSS_CE, 1}, {MINIMA_ACT_TANH, MINIMA_LOSS_MSE, 0},
};

static void test_loss_matches_reference(void)
{
    const int widths[] = {5, 7, 6, 3};
    for (size_t c = 0; c < sizeof configs / sizeof *configs; c++) {
        minima_model *m = make_model(3, widths, configs[c].bias, configs[c].act, configs[c].loss, 11 + c);
        minima_dataset *x = make_data(37, 5, 3, configs[c].loss == MINIMA_LOSS_MSE ? 3 : 0, 5 + c);
        minima_net_params p = minima_net_default_params(m);
        p.batch_size = 10;    /* several batches, the last one short */
        minima_net *net = NULL;
        CHECK_OK(minima_net_create(&net, m, x, &p));
        double loss, acc;
        CHECK_OK(minima_net_loss(net, NULL, &loss, &acc));
        CHECK_REL(loss, ref_loss(m, m->theta, x, configs[c].loss, NULL), 1e-13);
        if (configs[c].loss == MINIMA_LOSS_CE) CHECK(acc >= 0 && acc <= 1);
        minima_net_free(net);
        minima_dataset_free(x);
        minima_model_free(m);
    }
}

static void test_gradient_finite_differences(void)
{
    const int widths[] = {5, 7, 6, 3};
    for (size_t c = 0; c < sizeof configs / sizeof *configs; c++) {
        /* Central differences are exact up to O(h^2) only away from ReLU
         * kinks: take the first seed whose hidden pre-activations all stay
         * 100 steps away from zero. */
        const double h = 1e-6;
        minima_model *m = NULL;
        minima_dataset *x = NULL;
        double margin = 0;
        for (uint64_t seed = 21 + c; ; seed += 100) {
            m = make_model(3, widths, configs[c].bias, configs[c].act, configs[c].loss, seed);
            x = make_data(29, 5, 3, configs[c].loss == MINIMA_LOSS_MSE ? 3 : 0, seed);
            ref_loss(m, m->theta, x, configs[c].loss, &margin);
            if (margin > 100 * h || m->activation == MINIMA_ACT_TANH || seed > 3000) break;
            minima_model_free(m);
            minima_dataset_free(x);
        }
        CHECK_MSG(margin > 100 * h || m->activation == MINIMA_ACT_TANH,
                  "no test point away from the kinks: min |Z| = %g", margin);
        minima_net *net = NULL;
        CHECK_OK(minima_net_create(&net, m, x, NULL));
        size_t P = m->n_params;
        double *g = calloc(P, sizeof *g), *t = malloc(P * sizeof *t), loss;
        CHECK_OK(minima_net_gradient(net, NULL, &loss, g));
        double worst = 0;
        for (size_t i = 0; i < P; i++) {
            memcpy(t, m->theta, P * sizeof *t);
            t[i] += h;
            double lp = ref_loss(m, t, x, configs[c].loss, NULL);
            t[i] -= 2 * h;
            double lm = ref_loss(m, t, x, configs[c].loss, NULL);
            double fd = (lp - lm) / (2 * h);
            double err = fabs(fd - g[i]) / (norm(g, P) + 1e-12);
            if (err > worst) worst = err;
        }
        CHECK_MSG(worst < 1e-8, "config %zu: gradient vs finite differences: %g", c, worst);
        free(g);
        free(t);
        minima_net_free(net);
        minima_dataset_free(x);
        minima_model_free(m);
    }
}

static void test_hvp_finite_differences_and_symmetry(void)
{
    const int widths[] = {4, 6, 5, 3};
    for (size_t c = 0; c < sizeof configs / sizeof *configs; c++) {
        minima_model *m = make_model(3, widths, configs[c].bias, configs[c].act, configs[c].loss, 31 + c);
        minima_dataset *x = make_data(31, 4, 3, configs[c].loss == MINIMA_LOSS_MSE ? 3 : 0, 9 + c);
        minima_net *net = NULL;
        CHECK_OK(minima_net_create(&net, m, x, NULL));
        size_t P = m->n_params;
        double *u = malloc(P * sizeof *u), *v = malloc(P * sizeof *v), *hu = malloc(P * sizeof *hu),
               *hv = malloc(P * sizeof *hv), *gp = malloc(P * sizeof *gp), *gm = malloc(P * sizeof *gm),
               *t = malloc(P * sizeof *t), *w = malloc(P * sizeof *w), *hw = malloc(P * sizeof *hw);
        minima_rng rng;
        minima_rng_seed(&rng, 99 + c);
        minima_rng_fill_normal(&rng, u, P);
        minima_rng_fill_normal(&rng, v, P);
        CHECK_OK(minima_net_hvp(net, u, hu));
        CHECK_OK(minima_net_hvp(net, v, hv));
        /* H v against central differences of gradients. */
        const double h = 1e-5;
        for (size_t i = 0; i < P; i++) t[i] = m->theta[i] + h * v[i];
        CHECK_OK(minima_net_gradient(net, t, NULL, gp));
        for (size_t i = 0; i < P; i++) t[i] = m->theta[i] - h * v[i];
        CHECK_OK(minima_net_gradient(net, t, NULL, gm));
        for (size_t i = 0; i < P; i++) t[i] = (gp[i] - gm[i]) / (2 * h);
        CHECK_MSG(harness_vec_reldiff(hv, t, P, 1e-12) < 1e-6,
                  "config %zu: Hv vs FD of gradients: %g", c, harness_vec_reldiff(hv, t, P, 1e-12));
        /* Symmetry u.Hv = v.Hu. */
        double a = dot(u, hv, P), b = dot(v, hu, P);
        CHECK_ABS(a, b, 1e-13 * norm(u, P) * norm(hv, P) + 1e-300);
        /* Linearity. */
        for (size_t i = 0; i < P; i++) w[i] = 2.5 * u[i] - 0.75 * v[i];
        CHECK_OK(minima_net_hvp(net, w, hw));
        for (size_t i = 0; i < P; i++) t[i] = 2.5 * hu[i] - 0.75 * hv[i];
        CHECK(harness_vec_reldiff(hw, t, P, 1e-300) < 1e-13);
        free(u); free(v); free(hu); free(hv); free(gp); free(gm); free(t); free(w); free(hw);
        minima_net_free(net);
        minima_dataset_free(x);
        minima_model_free(m);
    }
}

static void test_cache_and_batches_agree(void)
{
    const int widths[] = {6, 9, 8, 4};
    minima_model *m = make_model(3, widths, 1, MINIMA_ACT_RELU, MINIMA_LOSS_CE, 3);
    minima_dataset *x = make_data(53, 6, 4, 0, 4);
    minima_net_params cached = minima_net_default_params(m), plain = cached, onebatch = cached;
    cached.batch_size = 8;
    plain.batch_size = 8;
    plain.cache_limit = 0;
    onebatch.batch_size = 0;
    minima_net *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(minima_net_create(&a, m, x, &cached));
    CHECK_OK(minima_net_create(&b, m, x, &plain));
    CHECK_OK(minima_net_create(&c, m, x, &onebatch));
    CHECK(minima_net_cache_enabled(a));
    CHECK(!minima_net_cache_enabled(b));
    /* 7-9-8-4 with ReLU: per example the two hidden activations (9 + 8,
     * the next layer's inputs), the signals of the three linear layers
     * (9 + 8 + 4) and the softmax (4) in doubles, and one sign byte per
     * ReLU value (9 + 8). */
    CHECK(minima_net_cache_bytes(a) ==
          53 * ((9 + 8 + 9 + 8 + 4 + 4) * sizeof(double) + (9 + 8)));
    size_t P = m->n_params;
    double *v = malloc(P * sizeof *v), *ha = malloc(P * sizeof *ha), *hb = malloc(P * sizeof *hb),
           *hc = malloc(P * sizeof *hc);
    minima_rng rng;
    minima_rng_seed(&rng, 1);
    for (int rep = 0; rep < 3; rep++) {
        minima_rng_fill_normal(&rng, v, P);
        CHECK_OK(minima_net_hvp(a, v, ha));
        CHECK_OK(minima_net_hvp(b, v, hb));
        CHECK_OK(minima_net_hvp(c, v, hc));
        /* Same batches, same operations: bit-identical with and without cache. */
        CHECK(memcmp(ha, hb, P * sizeof *ha) == 0);
        CHECK(harness_vec_reldiff(ha, hc, P, 1e-300) < 1e-13);
        CHECK_OK(minima_net_ggnvp(a, v, ha));
        CHECK_OK(minima_net_ggnvp(b, v, hb));
        CHECK(memcmp(ha, hb, P * sizeof *ha) == 0);
    }
    /* The gradient from the cache equals the plain pass. */
    double la, lb;
    CHECK_OK(minima_net_gradient(a, NULL, &la, ha));
    CHECK_OK(minima_net_gradient(b, m->theta, &lb, hb));
    CHECK(harness_vec_reldiff(ha, hb, P, 1e-300) < 1e-14);
    CHECK_REL(la, lb, 1e-15);
    /* Moving the anchor drops the cache. */
    for (size_t i = 0; i < P; i++) v[i] = m->theta[i] * 1.1;
    CHECK_OK(minima_net_set_point(a, v));
    CHECK_OK(minima_net_set_point(b, v));
    minima_rng_fill_normal(&rng, hc, P);
    CHECK_OK(minima_net_hvp(a, hc, ha));
    CHECK_OK(minima_net_hvp(b, hc, hb));
    CHECK(memcmp(ha, hb, P * sizeof *ha) == 0);
    CHECK(minima_net_n_products(a) == 7);
    free(v); free(ha); free(hb); free(hc);
    minima_net_free(a); minima_net_free(b); minima_net_free(c);
    minima_dataset_free(x);
    minima_model_free(m);
}

static void test_dense_hessian(void)
{
    const int widths[] = {3, 5, 4, 2};
    minima_model *m = make_model(3, widths, 1, MINIMA_ACT_RELU, MINIMA_LOSS_CE, 8);
    minima_dataset *x = make_data(17, 3, 2, 0, 8);
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, x, NULL));
    size_t P = m->n_params;
    double *H = malloc(P * P * sizeof *H), *v = malloc(P * sizeof *v), *hv = malloc(P * sizeof *hv),
           *Hv = calloc(P, sizeof *Hv);
    CHECK_OK(minima_net_hessian(net, H));
    int symmetric = 1;
    for (size_t i = 0; i < P; i++)
        for (size_t j = 0; j < P; j++) symmetric &= H[i * P + j] == H[j * P + i];
    CHECK(symmetric);
    minima_rng rng;
    minima_rng_seed(&rng, 2);
    minima_rng_fill_normal(&rng, v, P);
    CHECK_OK(minima_net_hvp(net, v, hv));
    for (size_t i = 0; i < P; i++) Hv[i] = dot(H + i * P, v, P);
    CHECK(harness_vec_reldiff(Hv, hv, P, 1e-300) < 1e-13);
    free(H); free(v); free(hv); free(Hv);
    minima_net_free(net);
    minima_dataset_free(x);
    minima_model_free(m);
}

/* With no hidden layer the model is softmax / linear regression, whose
 * Hessians have closed forms: compare entry by entry. */
static void test_closed_form_hessians(void)
{
    const int widths[] = {4, 3};
    for (int loss = 0; loss < 2; loss++) {
        minima_model *m = make_model(1, widths, 1, MINIMA_ACT_RELU, (minima_loss)loss, 4);
        minima_dataset *x = make_data(13, 4, 3, loss ? 3 : 0, 6);
        minima_net *net = NULL;
        CHECK_OK(minima_net_create(&net, m, x, NULL));
        size_t P = m->n_params;    /* 3*4 + 3 */
        double *H = malloc(P * P * sizeof *H), *E = calloc(P * P, sizeof *E);
        CHECK_OK(minima_net_hessian(net, H));
        int C = 3, D = 4;
        double N = (double)x->n;
        for (size_t i = 0; i < x->n; i++) {
            double xt[5];          /* the input with a constant 1 for the bias */
            memcpy(xt, x->x + i * 4, 4 * sizeof *xt);
            xt[4] = 1;
            double S[3][3];        /* output Hessian of example i */
            if (loss == MINIMA_LOSS_CE) {
                const double *W0 = m->theta, *b0 = m->theta + 12;
                double z[3], mx = -INFINITY, s = 0, p[3];
                for (int a = 0; a < C; a++) {
                    z[a] = b0[a];
                    for (int j = 0; j < D; j++) z[a] += W0[a * D + j] * xt[j];
                    if (z[a] > mx) mx = z[a];
                }
                for (int a = 0; a < C; a++) s += exp(z[a] - mx);
                for (int a = 0; a < C; a++) p[a] = exp(z[a] - mx) / s;
                for (int a = 0; a < C; a++)
                    for (int c = 0; c < C; c++) S[a][c] = ((a == c) * p[a] - p[a] * p[c]) / N;
            } else {
                for (int a = 0; a < C; a++)
                    for (int c = 0; c < C; c++) S[a][c] = (a == c) * 2.0 / (N * C);
            }
            /* theta index of (row a, input j): W[a, j] -> a*D + j, b[a] -> 12 + a */
            for (int a = 0; a < C; a++)
                for (int j = 0; j <= D; j++)
                    for (int c = 0; c < C; c++)
                        for (int l = 0; l <= D; l++) {
                            size_t r = j < D ? (size_t)(a * D + j) : (size_t)(12 + a);
                            size_t q = l < D ? (size_t)(c * D + l) : (size_t)(12 + c);
                            E[r * P + q] += S[a][c] * xt[j] * xt[l];
                        }
        }
        CHECK_MSG(harness_vec_reldiff(H, E, P * P, 1e-300) < 1e-13,
                  "loss %d: closed-form Hessian differs by %g", loss, harness_vec_reldiff(H, E, P * P, 1e-300));
        /* A linear model's Gauss-Newton matrix is its Hessian. */
        double *v = malloc(P * sizeof *v), *gv = malloc(P * sizeof *gv), *hv = malloc(P * sizeof *hv);
        for (size_t i = 0; i < P; i++) v[i] = sin((double)i + 1);
        CHECK_OK(minima_net_ggnvp(net, v, gv));
        CHECK_OK(minima_net_hvp(net, v, hv));
        CHECK(harness_vec_reldiff(gv, hv, P, 1e-300) < 1e-14);
        free(v); free(gv); free(hv);
        free(H); free(E);
        minima_net_free(net);
        minima_dataset_free(x);
        minima_model_free(m);
    }
}

/* J v against finite differences of the outputs, and v.Gv = sum_i
 * Jv_i^T H_out,i Jv_i >= 0. */
static void test_jvp_and_ggn(void)
{
    const int widths[] = {4, 6, 3};
    minima_model *m = make_model(2, widths, 1, MINIMA_ACT_RELU, MINIMA_LOSS_CE, 12);
    minima_dataset *x = make_data(19, 4, 3, 0, 13);
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, x, NULL));
    size_t P = m->n_params, NO = 19 * 3;
    double *v = malloc(P * sizeof *v), *rz = malloc(NO * sizeof *rz), *zp = malloc(NO * sizeof *zp),
           *zm = malloc(NO * sizeof *zm), *t = malloc(P * sizeof *t), *gv = malloc(P * sizeof *gv),
           *z0 = malloc(NO * sizeof *z0);
    minima_rng rng;
    minima_rng_seed(&rng, 3);
    minima_rng_fill_normal(&rng, v, P);
    CHECK_OK(minima_net_jvp(net, v, rz));
    const double h = 1e-6;
    for (size_t i = 0; i < P; i++) t[i] = m->theta[i] + h * v[i];
    CHECK_OK(minima_net_outputs(net, t, zp));
    for (size_t i = 0; i < P; i++) t[i] = m->theta[i] - h * v[i];
    CHECK_OK(minima_net_outputs(net, t, zm));
    for (size_t i = 0; i < NO; i++) zp[i] = (zp[i] - zm[i]) / (2 * h);
    CHECK(harness_vec_reldiff(rz, zp, NO, 1e-12) < 1e-7);
    CHECK_OK(minima_net_outputs(net, NULL, z0));
    double quad = 0;
    for (size_t i = 0; i < 19; i++) {
        const double *z = z0 + i * 3, *r = rz + i * 3;
        double mx = fmax(fmax(z[0], z[1]), z[2]), s = 0, p[3], pr = 0;
        for (int a = 0; a < 3; a++) s += exp(z[a] - mx);
        for (int a = 0; a < 3; a++) { p[a] = exp(z[a] - mx) / s; pr += p[a] * r[a]; }
        for (int a = 0; a < 3; a++) quad += r[a] * p[a] * (r[a] - pr) / 19.0;
    }
    CHECK_OK(minima_net_ggnvp(net, v, gv));
    CHECK_REL(dot(v, gv, P), quad, 1e-12);
    CHECK(quad >= 0);
    free(v); free(rz); free(zp); free(zm); free(t); free(gv); free(z0);
    minima_net_free(net);
    minima_dataset_free(x);
    minima_model_free(m);
}

/* docs/symmetry.md: for a positive diagonal A from a layer-wise or per-neuron
 * rescaling, f(A theta) = f(theta), grad L(A theta) = A^-1 grad L(theta) and
 * H(A theta) v = A^-1 H(theta) A^-1 v — exactly, at any theta. */
static void check_identities(minima_model *m, minima_dataset *x, const double *a, const char *what)
{
    size_t P = m->n_params;
    minima_net *n0 = NULL, *n1 = NULL;
    CHECK_OK(minima_net_create(&n0, m, x, NULL));
    CHECK_OK(minima_net_create(&n1, m, x, NULL));
    double *t = malloc(P * sizeof *t);
    for (size_t i = 0; i < P; i++) t[i] = a[i] * m->theta[i];
    CHECK_OK(minima_net_set_point(n1, t));
    size_t NO = x->n * (size_t)m->widths[m->n_layers];
    double *z0 = malloc(NO * sizeof *z0), *z1 = malloc(NO * sizeof *z1);
    CHECK_OK(minima_net_outputs(n0, NULL, z0));
    CHECK_OK(minima_net_outputs(n1, NULL, z1));
    const double ulps = 400 * 2.220446049250313e-16;
    CHECK_MSG(harness_vec_reldiff(z1, z0, NO, 1e-300) < ulps, "%s: outputs differ by %g", what,
              harness_vec_reldiff(z1, z0, NO, 1e-300));
    double *g0 = malloc(P * sizeof *g0), *g1 = malloc(P * sizeof *g1), *v = malloc(P * sizeof *v),
           *w = malloc(P * sizeof *w), *h0 = malloc(P * sizeof *h0), *h1 = malloc(P * sizeof *h1);
    CHECK_OK(minima_net_gradient(n0, NULL, NULL, g0));
    CHECK_OK(minima_net_gradient(n1, NULL, NULL, g1));
    for (size_t i = 0; i < P; i++) g0[i] /= a[i];
    CHECK_MSG(harness_vec_reldiff(g1, g0, P, 1e-300) < ulps, "%s: gradient identity off by %g",
              what, harness_vec_reldiff(g1, g0, P, 1e-300));
    minima_rng rng;
    minima_rng_seed(&rng, 17);
    minima_rng_fill_normal(&rng, v, P);
    CHECK_OK(minima_net_hvp(n1, v, h1));
    for (size_t i = 0; i < P; i++) w[i] = v[i] / a[i];
    CHECK_OK(minima_net_hvp(n0, w, h0));
    for (size_t i = 0; i < P; i++) h0[i] /= a[i];
    CHECK_MSG(harness_vec_reldiff(h1, h0, P, 1e-300) < ulps, "%s: Hessian identity off by %g",
              what, harness_vec_reldiff(h1, h0, P, 1e-300));
    free(t); free(z0); free(z1); free(g0); free(g1); free(v); free(w); free(h0); free(h1);
    minima_net_free(n0);
    minima_net_free(n1);
}

static void test_symmetry_identities(void)
{
    const int widths[] = {5, 8, 7, 3};
    for (int loss = 0; loss < 2; loss++) {
        minima_model *m = make_model(3, widths, 1, MINIMA_ACT_RELU, (minima_loss)loss, 40 + loss);
        minima_dataset *x = make_data(41, 5, 3, loss ? 3 : 0, 41);
        size_t P = m->n_params;
        double *a = malloc(P * sizeof *a);
        /* Layer-wise: alpha = (8, 1/32, 4), product 1; b_k scales by prod_{j<=k} alpha_j. */
        const double alpha[] = {8.0, 1.0 / 32.0, 4.0};
        double cum = 1;
        for (int k = 0; k < 3; k++) {
            cum *= alpha[k];
            for (size_t i = 0; i < minima_model_layer_weights(m, k); i++)
                a[m->weight_offset[k] + i] = alpha[k];
            for (int i = 0; i < m->widths[k + 1]; i++) a[m->bias_offset[k] + (size_t)i] = cum;
        }
        check_identities(m, x, a, "layer-wise");
        /* Per-neuron: unit h of layer k scaled by c_h: row h of W_k, b_k[h] by c_h,
         * column h of W_{k+1} by 1/c_h. */
        for (size_t i = 0; i < P; i++) a[i] = 1;
        minima_rng rng;
        minima_rng_seed(&rng, 5);
        for (int k = 0; k < 2; k++) {
            int out = m->widths[k + 1], in = m->widths[k];
            for (int h = 0; h < out; h++) {
                double c = exp(2.0 * minima_rng_normal(&rng));
                for (int j = 0; j < in; j++) a[m->weight_offset[k] + (size_t)(h * in + j)] *= c;
                a[m->bias_offset[k] + (size_t)h] *= c;
                int next = m->widths[k + 2];
                for (int r = 0; r < next; r++) a[m->weight_offset[k + 1] + (size_t)(r * out + h)] /= c;
            }
        }
        check_identities(m, x, a, "per-neuron");
        free(a);
        minima_dataset_free(x);
        minima_model_free(m);
    }
}

/* float32 products: the same products to float32 accuracy, with and
 * without the cache, for the Hessian and the Gauss-Newton matrix. */
static void test_float32_products(void)
{
    const int widths[] = {6, 9, 8, 4};
    for (size_t c = 0; c < sizeof configs / sizeof *configs; c++) {
        minima_model *m = make_model(3, widths, configs[c].bias, configs[c].act, configs[c].loss, 60 + c);
        minima_dataset *x = make_data(45, 6, 4, configs[c].loss == MINIMA_LOSS_MSE ? 4 : 0, 61 + c);
        minima_net_params p64 = minima_net_default_params(m), p32 = p64, p32nc = p64;
        p64.batch_size = p32.batch_size = p32nc.batch_size = 16;
        p32.float32 = p32nc.float32 = 1;
        p32nc.cache_limit = 0;
        minima_net *a = NULL, *b = NULL, *n = NULL;
        CHECK_OK(minima_net_create(&a, m, x, &p64));
        CHECK_OK(minima_net_create(&b, m, x, &p32));
        CHECK_OK(minima_net_create(&n, m, x, &p32nc));
        CHECK(minima_net_cache_enabled(b) && !minima_net_cache_enabled(n));
        size_t P = m->n_params;
        double *v = malloc(P * sizeof *v), *h64 = malloc(P * sizeof *h64), *h32 = malloc(P * sizeof *h32),
               *hnc = malloc(P * sizeof *hnc);
        minima_rng rng;
        minima_rng_seed(&rng, 70 + c);
        minima_rng_fill_normal(&rng, v, P);
        for (int full = 0; full < 2; full++) {
            CHECK_OK(full ? minima_net_hvp(a, v, h64) : minima_net_ggnvp(a, v, h64));
            CHECK_OK(full ? minima_net_hvp(b, v, h32) : minima_net_ggnvp(b, v, h32));
            CHECK_OK(full ? minima_net_hvp(n, v, hnc) : minima_net_ggnvp(n, v, hnc));
            double e = harness_vec_reldiff(h32, h64, P, 1e-300);
            CHECK_MSG(e < 1e-5 && e > 0, "config %zu %s: float32 product off by %g", c, full ? "H" : "G", e);
            CHECK(memcmp(h32, hnc, P * sizeof *h32) == 0);
        }
        /* A new anchor reaches the float32 copies too. */
        double *t = malloc(P * sizeof *t);
        for (size_t i = 0; i < P; i++) t[i] = 0.9 * m->theta[i];
        CHECK_OK(minima_net_set_point(a, t));
        CHECK_OK(minima_net_set_point(b, t));
        CHECK_OK(minima_net_hvp(a, v, h64));
        CHECK_OK(minima_net_hvp(b, v, h32));
        CHECK(harness_vec_reldiff(h32, h64, P, 1e-300) < 1e-5);
        free(t); free(v); free(h64); free(h32); free(hnc);
        minima_net_free(a); minima_net_free(b); minima_net_free(n);
        minima_dataset_free(x);
        minima_model_free(m);
    }
}

static void test_bad_input(void)
{
    const int widths[] = {4, 5, 3};
    minima_model *m = make_model(2, widths, 1, MINIMA_ACT_RELU, MINIMA_LOSS_CE, 1);
    minima_dataset *x = make_data(10, 4, 3, 0, 1);
    minima_net *net = NULL;
    CHECK_STATUS(minima_net_create(NULL, m, x, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_net_create(&net, NULL, x, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_net_create(&net, m, NULL, NULL), MINIMA_EINVAL);
    minima_dataset *wrong = make_data(10, 6, 3, 0, 1);
    CHECK_STATUS(minima_net_create(&net, m, wrong, NULL), MINIMA_ESHAPE);
    CHECK(strstr(minima_last_error(), "6 features") != NULL);
    minima_dataset_free(wrong);
    x->labels[3] = 3;
    CHECK_STATUS(minima_net_create(&net, m, x, NULL), MINIMA_ERANGE);
    CHECK(strstr(minima_last_error(), "example 3") != NULL);
    x->labels[3] = 0;
    x->x[7] = NAN;
    CHECK_STATUS(minima_net_create(&net, m, x, NULL), MINIMA_ENONFINITE);
    x->x[7] = 0;
    minima_net_params mse = minima_net_default_params(m);
    mse.loss = MINIMA_LOSS_MSE;
    /* MSE on class labels: one-hot targets. */
    CHECK_OK(minima_net_create(&net, m, x, &mse));
    double l_onehot, l_ref;
    CHECK_OK(minima_net_loss(net, NULL, &l_onehot, NULL));
    minima_net_free(net);
    net = NULL;
    {
        minima_dataset *t = make_data(10, 4, 3, 3, 1);
        for (size_t i = 0; i < 10; i++)
            for (int j = 0; j < 3; j++) t->targets[i * 3 + (size_t)j] = j == x->labels[i];
        memcpy(t->x, x->x, 40 * sizeof *t->x);
        l_ref = ref_loss(m, m->theta, t, MINIMA_LOSS_MSE, NULL);
        minima_dataset_free(t);
    }
    CHECK_REL(l_onehot, l_ref, 1e-14);
    m->theta[2] = INFINITY;
    CHECK_STATUS(minima_net_create(&net, m, x, NULL), MINIMA_ENONFINITE);
    m->theta[2] = 0.1;
    CHECK(net == NULL);
    CHECK_OK(minima_net_create(&net, m, x, NULL));
    double *t = malloc(m->n_params * sizeof *t), loss;
    memcpy(t, m->theta, m->n_params * sizeof *t);
    t[0] = NAN;
    CHECK_STATUS(minima_net_set_point(net, t), MINIMA_ENONFINITE);
    CHECK_STATUS(minima_net_loss(net, t, &loss, NULL), MINIMA_ENONFINITE);
    CHECK_STATUS(minima_net_hvp(net, t, t), MINIMA_EINVAL);
    CHECK_STATUS(minima_net_loss(net, NULL, NULL, NULL), MINIMA_EINVAL);
    /* Out-of-memory paths fail cleanly (and leak nothing under ASan). */
    minima_net_free(net);
    for (long n = 0; n < 30; n++) {
        net = NULL;
        minima_alloc_fail_after(n);
        minima_status st = minima_net_create(&net, m, x, NULL);
        minima_alloc_fail_after(-1);
        CHECK(st == MINIMA_OK || st == MINIMA_ENOMEM);
        CHECK((st == MINIMA_OK) == (net != NULL));
        minima_net_free(net);
    }
    free(t);
    minima_dataset_free(x);
    minima_model_free(m);
}

int main(void)
{
    RUN(test_loss_matches_reference);
    RUN(test_gradient_finite_differences);
    RUN(test_hvp_finite_differences_and_symmetry);
    RUN(test_cache_and_batches_agree);
    RUN(test_dense_hessian);
    RUN(test_closed_form_hessians);
    RUN(test_jvp_and_ggn);
    RUN(test_symmetry_identities);
    RUN(test_float32_products);
    RUN(test_bad_input);
    return harness_report();
}
