/* test_layer_pool.c — the pooling kinds (maxpool2d, avgpool2d,
 * global_avgpool) called directly through engine/layer.h: forward against
 * naive loops and numbers computed with PyTorch, the derivatives against
 * each other (adjoint identity, R-backward = backward of R{gy}) and against
 * central differences, float32 against float64, the argmax rule,
 * accumulation and NULL conventions, and the shape checks. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/layer.h"
#include "harness.h"
#include "minima/model.h"
#include "minima/rng.h"

enum { NB = 3 };   /* examples per batch */

typedef struct {
    int c, h, w, kh, kw, sh, sw, ph, pw;
} cfg;

static const cfg configs[] = {
    {2, 4, 6, 2, 2, 2, 2, 0, 0},   /* kernel 2 stride 2 */
    {3, 5, 5, 3, 3, 2, 2, 1, 1},   /* kernel 3 stride 2 padding 1 */
    {2, 6, 5, 3, 3, 1, 1, 0, 0},   /* kernel 3 stride 1 */
    {2, 7, 5, 3, 2, 2, 1, 1, 1},   /* non-square kernel and stride, padded */
    {4, 7, 5, 2, 3, 1, 2, 1, 0},   /* non-square, odd sizes, 4 channels */
    {1, 7, 5, 3, 3, 2, 2, 1, 1},   /* odd sizes, one channel */
    {3, 5, 7, 5, 4, 3, 2, 2, 2},   /* large kernel, padding half the kernel */
};
#define N_CONFIGS (sizeof configs / sizeof configs[0])

static const minima_node_kind kinds[] = {MINIMA_NODE_MAXPOOL2D, MINIMA_NODE_AVGPOOL2D,
                                         MINIMA_NODE_GLOBAL_AVGPOOL};

/* One node ready to be called on NB examples. */
typedef struct {
    const layer_kind *k;
    minima_node node;
    minima_shape in;
    size_t nin, nout;   /* values per example */
    void *aux;          /* NB * aux_bytes */
} fixture;

static void fixture_init(fixture *f, minima_node_kind kind, const cfg *g)
{
    memset(f, 0, sizeof *f);
    f->k = layer_kind_of(kind);
    if (!f->k) abort();
    f->node = minima_node_make(kind, 0);
    f->node.kernel[0] = g->kh;
    f->node.kernel[1] = g->kw;
    f->node.stride[0] = g->sh;
    f->node.stride[1] = g->sw;
    f->node.padding[0] = g->ph;
    f->node.padding[1] = g->pw;
    f->in = (minima_shape){3, g->c, g->h, g->w};
    const minima_shape *in[2] = {&f->in, &f->in};
    if (f->k->infer(&f->node, in, "node 1 (test)") != MINIMA_OK) {
        fprintf(stderr, "infer: %s\n", minima_last_error());
        abort();
    }
    f->nin = minima_shape_size(f->in);
    f->nout = minima_shape_size(f->node.shape);
    size_t ab = f->k->aux_bytes ? f->k->aux_bytes(&f->node, in) : 0;
    f->aux = calloc(NB, ab ? ab : 1);
}

static void fixture_free(fixture *f) { free(f->aux); }

static layer_call_f64 call64(const fixture *f, const double *x, const double *y)
{
    layer_call_f64 c;
    memset(&c, 0, sizeof c);
    c.node = &f->node;
    c.in_shape[0] = c.in_shape[1] = &f->in;
    c.b = NB;
    c.x[0] = x;
    c.y = y;
    c.aux = f->aux;
    return c;
}

static layer_call_f32 call32(const fixture *f)
{
    layer_call_f32 c;
    memset(&c, 0, sizeof c);
    c.node = &f->node;
    c.in_shape[0] = c.in_shape[1] = &f->in;
    c.b = NB;
    c.aux = f->aux;   /* x and y NULL: the R-passes must read only aux */
    return c;
}

static double *vec(size_t n) { return calloc(n, sizeof(double)); }

static double *normal(minima_rng *rng, size_t n)
{
    double *v = vec(n);
    minima_rng_fill_normal(rng, v, n);
    return v;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void forward(const fixture *f, const double *x, double *y)
{
    layer_call_f64 c = call64(f, x, NULL);
    f->k->forward(&c, y);
}

/* J^T g into a fresh (zero) vector, at the point forward saw last. */
static double *backward(const fixture *f, const double *x, const double *y, const double *g)
{
    double *gx = vec(NB * f->nin);
    double *gxs[2] = {gx, NULL};
    layer_call_f64 c = call64(f, x, y);
    f->k->backward(&c, g, gxs, NULL, NULL);
    return gx;
}

/* ---- naive references ----------------------------------------------------- */

/* Max pooling with the window written out; padded positions skipped
 * (-inf); the first strict maximum wins. arg: index within the example. */
static void ref_max(const cfg *g, const double *x, double *y, int32_t *arg)
{
    int ho = (g->h + 2 * g->ph - g->kh) / g->sh + 1, wo = (g->w + 2 * g->pw - g->kw) / g->sw + 1;
    size_t o = 0;
    for (int i = 0; i < NB; i++)
        for (int c = 0; c < g->c; c++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++, o++) {
                    double m = -INFINITY;
                    int best = -1;
                    for (int a = 0; a < g->kh; a++)
                        for (int bb = 0; bb < g->kw; bb++) {
                            int ih = oh * g->sh - g->ph + a, iw = ow * g->sw - g->pw + bb;
                            if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
                            int idx = (c * g->h + ih) * g->w + iw;
                            double v = x[(size_t)i * g->c * g->h * g->w + idx];
                            if (best < 0 || v > m) {
                                m = v;
                                best = idx;
                            }
                        }
                    y[o] = m;
                    if (arg) arg[o] = best;
                }
}

/* Average pooling with PyTorch's divisor (count_include_pad=True): the
 * window clipped to the padded input, hend = min(hstart + kh, H + ph). */
static void ref_avg(const cfg *g, const double *x, double *y)
{
    int ho = (g->h + 2 * g->ph - g->kh) / g->sh + 1, wo = (g->w + 2 * g->pw - g->kw) / g->sw + 1;
    size_t o = 0;
    for (int i = 0; i < NB; i++)
        for (int c = 0; c < g->c; c++)
            for (int oh = 0; oh < ho; oh++)
                for (int ow = 0; ow < wo; ow++, o++) {
                    int hs = oh * g->sh - g->ph, ws = ow * g->sw - g->pw;
                    int he = hs + g->kh < g->h + g->ph ? hs + g->kh : g->h + g->ph;
                    int we = ws + g->kw < g->w + g->pw ? ws + g->kw : g->w + g->pw;
                    int div = (he - hs) * (we - ws);
                    double s = 0;
                    for (int ih = hs; ih < he; ih++)
                        for (int iw = ws; iw < we; iw++)
                            if (ih >= 0 && ih < g->h && iw >= 0 && iw < g->w)
                                s += x[((size_t)i * g->c + c) * g->h * g->w +
                                       (size_t)ih * g->w + iw];
                    y[o] = s / div;
                }
}

static void ref_gap(const cfg *g, const double *x, double *y)
{
    for (int r = 0; r < NB * g->c; r++) {
        double s = 0;
        for (int j = 0; j < g->h * g->w; j++) s += x[(size_t)r * g->h * g->w + j];
        y[r] = s / (g->h * g->w);
    }
}

/* ---- tests -------------------------------------------------------------- */

static void test_registry(void)
{
    CHECK(layer_kind_of(MINIMA_NODE_MAXPOOL2D) == &layer_maxpool2d);
    CHECK(layer_kind_of(MINIMA_NODE_AVGPOOL2D) == &layer_avgpool2d);
    CHECK(layer_kind_of(MINIMA_NODE_GLOBAL_AVGPOOL) == &layer_global_avgpool);
    for (size_t t = 0; t < 3; t++) {
        const layer_kind *k = layer_kind_of(kinds[t]);
        CHECK(!strcmp(k->name, minima_node_kind_name(kinds[t])));
        CHECK(k->n_inputs == 1 && !k->has_params);
        CHECK(k->needs == 0);   /* the R-passes read only aux */
        CHECK(k->forward && k->backward && k->rforward && k->rbackward && k->rforward_f32 &&
              k->rbackward_f32 && k->infer && k->flops);
    }
}

static void test_forward_naive(void)
{
    minima_rng rng;
    minima_rng_seed(&rng, 11);
    for (size_t ci = 0; ci < N_CONFIGS; ci++)
        for (size_t t = 0; t < 3; t++) {
            const cfg *g = &configs[ci];
            fixture f;
            fixture_init(&f, kinds[t], g);
            double *x = normal(&rng, NB * f.nin), *y = vec(NB * f.nout), *r = vec(NB * f.nout);
            forward(&f, x, y);
            if (kinds[t] == MINIMA_NODE_MAXPOOL2D) {
                int32_t *arg = calloc(NB * f.nout, sizeof *arg);
                ref_max(g, x, r, arg);
                int same = 1;
                for (size_t o = 0; o < NB * f.nout; o++)
                    same &= y[o] == r[o] && ((int32_t *)f.aux)[o] == arg[o];
                CHECK_MSG(same, "config %zu: max pooling differs from the naive loops", ci);
                free(arg);
            } else {
                if (kinds[t] == MINIMA_NODE_AVGPOOL2D) ref_avg(g, x, r);
                else ref_gap(g, x, r);
                CHECK_MSG(harness_vec_reldiff(y, r, NB * f.nout, 1e-300) < 1e-14,
                          "config %zu kind %s: %g", ci, f.k->name,
                          harness_vec_reldiff(y, r, NB * f.nout, 1e-300));
            }
            free(x);
            free(y);
            free(r);
            fixture_free(&f);
        }
}

/* Inputs of one example, 2 x 4 x 5. A has ties (11 values among 20 per
 * channel): A = ((torch.arange(40) * 7) % 11 - 5) / 4. */
static void input_a(double *x)
{
    for (int i = 0; i < 40; i++) x[i] = ((i * 7) % 11 - 5) / 4.0;
}

static const double input_b[40] = {
    0.31, -1.27, 0.88, 2.05, -0.46, 1.13, -0.72, 0.09, -1.94, 0.67,
    1.58, -0.25, -0.83, 0.44, 1.21, -1.66, 0.97, -0.38, 0.12, -0.59,
    -0.14, 0.76, -1.09, 1.37, 0.52, -2.21, 0.28, 1.84, -0.67, 0.03,
    0.95, -0.31, 0.61, -1.45, 1.02, -0.88, 0.19, -0.57, 1.49, -1.12};

/* Run one kind on one example (copied to all NB) and compare to `want`;
 * `want_arg` (maxpool) is the argmax within the example. */
static void check_torch(minima_node_kind kind, const cfg *g, const double *x1,
                        const double *want, const int32_t *want_arg, size_t n_want)
{
    fixture f;
    fixture_init(&f, kind, g);
    CHECK(f.nout == n_want);
    double *x = vec(NB * f.nin), *y = vec(NB * f.nout);
    for (int i = 0; i < NB; i++) memcpy(x + i * f.nin, x1, f.nin * sizeof *x);
    forward(&f, x, y);
    for (int i = 0; i < NB; i++)
        for (size_t o = 0; o < n_want; o++) {
            CHECK_ABS(y[i * f.nout + o], want[o], 1e-15);
            if (want_arg) CHECK(((int32_t *)f.aux)[i * f.nout + o] == want_arg[o]);
        }
    free(x);
    free(y);
    fixture_free(&f);
}

/* The numbers below were made with PyTorch 1.13 in float64, A and B as
 * (1, 2, 4, 5) tensors; argmax indices are return_indices=True's (per
 * channel) plus channel * 20 (minima's are within the example). */
static void test_forward_torch(void)
{
    double a[40];
    input_a(a);
    /* y, idx = F.max_pool2d(A, 3, 2, 1, return_indices=True) */
    static const double max_a_k3s2p1[12] = {1, 1.25, 1.25, 1, 1, 1.25, 1.25, 1, 1, 1.25, 1.25, 1};
    static const int32_t idx_a_k3s2p1[12] = {6, 3, 3, 6, 6, 14, 25, 28, 28, 25, 36, 28};
    check_torch(MINIMA_NODE_MAXPOOL2D, &(cfg){2, 4, 5, 3, 3, 2, 2, 1, 1}, a, max_a_k3s2p1,
                idx_a_k3s2p1, 12);
    /* y, idx = F.max_pool2d(A, 2, 2, 0, return_indices=True) */
    static const double max_a_k2s2[8] = {1, 1.25, 0.25, 1, 1.25, 1, 1.25, 0.25};
    static const int32_t idx_a_k2s2[8] = {6, 3, 15, 17, 25, 28, 36, 37};
    check_torch(MINIMA_NODE_MAXPOOL2D, &(cfg){2, 4, 5, 2, 2, 2, 2, 0, 0}, a, max_a_k2s2,
                idx_a_k2s2, 8);
    /* y, idx = F.max_pool2d(B, (3, 2), (2, 1), (1, 1), return_indices=True) */
    static const double max_b[24] = {
        1.1299999999999999, 1.1299999999999999, 0.88, 2.0499999999999998, 2.0499999999999998,
        0.67000000000000004, 1.5800000000000001, 1.5800000000000001, 0.96999999999999997, 0.44,
        1.21, 1.21, -0.14000000000000001, 0.76000000000000001, 1.8400000000000001,
        1.8400000000000001, 1.3700000000000001, 0.52000000000000002, 0.94999999999999996,
        0.94999999999999996, 1.8400000000000001, 1.8400000000000001, 1.49, 1.02};
    static const int32_t idx_b[24] = {5,  5,  2,  3,  3,  9,  10, 10, 16, 13, 14, 14,
                                      20, 21, 27, 27, 23, 24, 30, 30, 27, 27, 38, 34};
    check_torch(MINIMA_NODE_MAXPOOL2D, &(cfg){2, 4, 5, 3, 2, 2, 1, 1, 1}, input_b, max_b, idx_b,
                24);
    /* nn.AvgPool2d(3, 2, 1)(B): the corner windows hold 4 values and divide by 9 */
    static const double avg_b_k3s2p1[12] = {
        -0.061111111111111116, -0.10111111111111112, 0.035555555555555549, 0.11666666666666667,
        -0.27777777777777779, -0.010000000000000009, -0.14555555555555555, 0.27666666666666667,
        0.13888888888888892, -0.22, 0.15666666666666668, -0.077777777777777779};
    check_torch(MINIMA_NODE_AVGPOOL2D, &(cfg){2, 4, 5, 3, 3, 2, 2, 1, 1}, input_b, avg_b_k3s2p1,
                NULL, 12);
    /* nn.AvgPool2d((3, 2), (2, 1), (1, 1))(B) */
    static const double avg_b_k32[24] = {
        0.23999999999999999, -0.091666666666666674, -0.16999999999999996, 0.17999999999999994,
        0.053333333333333323, 0.035000000000000003, 0.17500000000000002, 0.17500000000000002,
        -0.18666666666666668, -0.41666666666666657, -0.015000000000000013, 0.215,
        -0.39166666666666666, -0.2183333333333333, 0.29833333333333334, 0.2416666666666667,
        0.20833333333333337, 0.091666666666666674, -0.35666666666666669, -0.33000000000000002,
        0.34000000000000002, 0.20833333333333334, -0.11666666666666665, -0.011666666666666678};
    check_torch(MINIMA_NODE_AVGPOOL2D, &(cfg){2, 4, 5, 3, 2, 2, 1, 1, 1}, input_b, avg_b_k32,
                NULL, 24);
    /* torch.flatten(nn.AdaptiveAvgPool2d(1)(B), 1) */
    static const double gap_b[2] = {0.067500000000000032, 0.031};
    check_torch(MINIMA_NODE_GLOBAL_AVGPOOL, &(cfg){2, 4, 5, 1, 1, 1, 1, 0, 0}, input_b, gap_b,
                NULL, 2);
}

/* <J rx, gy> = <rx, J^T gy>: rforward and backward are each other's transpose. */
static void test_adjoint(void)
{
    minima_rng rng;
    minima_rng_seed(&rng, 12);
    for (size_t ci = 0; ci < N_CONFIGS; ci++)
        for (size_t t = 0; t < 3; t++) {
            fixture f;
            fixture_init(&f, kinds[t], &configs[ci]);
            double *x = normal(&rng, NB * f.nin), *y = vec(NB * f.nout);
            double *rx = normal(&rng, NB * f.nin), *gy = normal(&rng, NB * f.nout);
            double *ry = vec(NB * f.nout);
            forward(&f, x, y);
            const double *rxs[2] = {rx, NULL};
            layer_call_f64 c = call64(&f, x, y);
            f.k->rforward(&c, rxs, NULL, NULL, ry);
            double *gx = backward(&f, x, y, gy);
            double lhs = dot(ry, gy, NB * f.nout), rhs = dot(rx, gx, NB * f.nin);
            CHECK_MSG(fabs(lhs - rhs) <= 1e-13 * (fabs(lhs) + 1),
                      "config %zu %s: <J rx, gy> = %.17g, <rx, J^T gy> = %.17g", ci, f.k->name,
                      lhs, rhs);
            free(x);
            free(y);
            free(rx);
            free(gy);
            free(ry);
            free(gx);
            fixture_free(&f);
        }
}

/* Inputs without ties: each example a random permutation of 0..n-1 (plus a
 * little noise), so steps of 1e-3 never change a window's maximum and the
 * max pooling is linear around x: central differences are exact but for
 * rounding. */
static double *untied(minima_rng *rng, size_t n_per)
{
    double *x = vec(NB * n_per);
    size_t *perm = calloc(n_per, sizeof *perm);
    for (int i = 0; i < NB; i++) {
        minima_rng_permutation(rng, perm, n_per);
        for (size_t j = 0; j < n_per; j++)
            x[i * n_per + j] = 0.1 * (double)perm[j] + 0.01 * minima_rng_uniform(rng) - 3.0;
    }
    free(perm);
    return x;
}

static void test_central_differences(void)
{
    minima_rng rng;
    minima_rng_seed(&rng, 13);
    const double h = 1e-3;
    for (size_t ci = 0; ci < N_CONFIGS; ci++)
        for (size_t t = 0; t < 3; t++) {
            fixture f;
            fixture_init(&f, kinds[t], &configs[ci]);
            size_t ni = NB * f.nin, no = NB * f.nout;
            double *x = untied(&rng, f.nin), *y = vec(no), *rx = normal(&rng, ni);
            double *gy = normal(&rng, no), *ry = vec(no), *yp = vec(no), *ym = vec(no);
            double *xp = vec(ni);
            forward(&f, x, y);
            double *gx = backward(&f, x, y, gy);
            const double *rxs[2] = {rx, NULL};
            layer_call_f64 c = call64(&f, x, y);
            f.k->rforward(&c, rxs, NULL, NULL, ry);
            /* rforward: (f(x + h rx) - f(x - h rx)) / 2h */
            for (size_t j = 0; j < ni; j++) xp[j] = x[j] + h * rx[j];
            forward(&f, xp, yp);
            for (size_t j = 0; j < ni; j++) xp[j] = x[j] - h * rx[j];
            forward(&f, xp, ym);
            double worst = 0;
            for (size_t o = 0; o < no; o++) {
                double d = fabs((yp[o] - ym[o]) / (2 * h) - ry[o]);
                if (d > worst) worst = d;
            }
            CHECK_MSG(worst < 1e-9, "config %zu %s: rforward vs central differences: %g", ci,
                      f.k->name, worst);
            /* backward: d/dx_j <gy, f(x)> for every input value */
            worst = 0;
            memcpy(xp, x, ni * sizeof *x);
            for (size_t j = 0; j < ni; j++) {
                xp[j] = x[j] + h;
                forward(&f, xp, yp);
                xp[j] = x[j] - h;
                forward(&f, xp, ym);
                xp[j] = x[j];
                double d = fabs((dot(gy, yp, no) - dot(gy, ym, no)) / (2 * h) - gx[j]);
                if (d > worst) worst = d;
            }
            CHECK_MSG(worst < 1e-9, "config %zu %s: backward vs central differences: %g", ci,
                      f.k->name, worst);
            free(x);
            free(y);
            free(rx);
            free(gy);
            free(ry);
            free(yp);
            free(ym);
            free(xp);
            free(gx);
            fixture_free(&f);
        }
}

/* rbackward, full or not, adds exactly what backward adds for R{gy}; the
 * R-passes run as at a cached anchor (x and y NULL). */
static void test_rbackward(void)
{
    minima_rng rng;
    minima_rng_seed(&rng, 14);
    for (size_t ci = 0; ci < N_CONFIGS; ci++)
        for (size_t t = 0; t < 3; t++) {
            fixture f;
            fixture_init(&f, kinds[t], &configs[ci]);
            size_t ni = NB * f.nin, no = NB * f.nout;
            double *x = normal(&rng, ni), *y = vec(no), *rx = normal(&rng, ni);
            double *gy = normal(&rng, no), *rgy = normal(&rng, no), *start = normal(&rng, ni);
            double *want = vec(ni), *got = vec(ni);
            forward(&f, x, y);
            memcpy(want, start, ni * sizeof *want);
            double *ws[2] = {want, NULL};
            layer_call_f64 c = call64(&f, x, y);
            f.k->backward(&c, rgy, ws, NULL, NULL);
            layer_call_f64 anchor = call64(&f, NULL, NULL);
            const double *rxs[2] = {rx, NULL};
            for (int full = 0; full <= 1; full++) {
                memcpy(got, start, ni * sizeof *got);
                double *gs[2] = {got, NULL};
                f.k->rbackward(&anchor, gy, rgy, rxs, NULL, full, gs, NULL, NULL);
                CHECK_MSG(!memcmp(got, want, ni * sizeof *got),
                          "config %zu %s full %d: rbackward is not backward of rgy", ci,
                          f.k->name, full);
            }
            /* rforward at the anchor equals rforward at the point */
            double *r1 = vec(no), *r2 = vec(no);
            f.k->rforward(&c, rxs, NULL, NULL, r1);
            f.k->rforward(&anchor, rxs, NULL, NULL, r2);
            CHECK(!memcmp(r1, r2, no * sizeof *r1));
            free(r1);
            free(r2);
            free(x);
            free(y);
            free(rx);
            free(gy);
            free(rgy);
            free(start);
            free(want);
            free(got);
            fixture_free(&f);
        }
}

static void test_float32(void)
{
    minima_rng rng;
    minima_rng_seed(&rng, 15);
    for (size_t ci = 0; ci < N_CONFIGS; ci++)
        for (size_t t = 0; t < 3; t++) {
            fixture f;
            fixture_init(&f, kinds[t], &configs[ci]);
            size_t ni = NB * f.nin, no = NB * f.nout;
            double *x = normal(&rng, ni), *y = vec(no), *rx = normal(&rng, ni);
            double *rgy = normal(&rng, no), *ry = vec(no), *rgx = vec(ni);
            float *rx32 = calloc(ni, sizeof *rx32), *rgy32 = calloc(no, sizeof *rgy32);
            float *ry32 = calloc(no, sizeof *ry32), *rgx32 = calloc(ni, sizeof *rgx32);
            for (size_t j = 0; j < ni; j++) rx32[j] = (float)rx[j];
            for (size_t o = 0; o < no; o++) rgy32[o] = (float)rgy[o];
            forward(&f, x, y);
            layer_call_f64 c = call64(&f, x, y);
            const double *rxs[2] = {rx, NULL};
            double *rgxs[2] = {rgx, NULL};
            f.k->rforward(&c, rxs, NULL, NULL, ry);
            f.k->rbackward(&c, NULL, rgy, rxs, NULL, 0, rgxs, NULL, NULL);
            layer_call_f32 c32 = call32(&f);
            const float *rxs32[2] = {rx32, NULL};
            float *rgxs32[2] = {rgx32, NULL};
            f.k->rforward_f32(&c32, rxs32, NULL, NULL, ry32);
            f.k->rbackward_f32(&c32, NULL, rgy32, rxs32, NULL, 1, rgxs32, NULL, NULL);
            double *a = vec(ni), *b = vec(no);
            for (size_t o = 0; o < no; o++) b[o] = ry32[o];
            for (size_t j = 0; j < ni; j++) a[j] = rgx32[j];
            CHECK_MSG(harness_vec_reldiff(b, ry, no, 1e-300) < 1e-6, "config %zu %s: ry32 %g",
                      ci, f.k->name, harness_vec_reldiff(b, ry, no, 1e-300));
            CHECK_MSG(harness_vec_reldiff(a, rgx, ni, 1e-300) < 1e-6, "config %zu %s: rgx32 %g",
                      ci, f.k->name, harness_vec_reldiff(a, rgx, ni, 1e-300));
            /* NULL conventions in float32: rx NULL gives 0, rgx NULL is skipped */
            const float *none[2] = {NULL, NULL};
            float *nog[2] = {NULL, NULL};
            f.k->rforward_f32(&c32, none, NULL, NULL, ry32);
            int zero = 1;
            for (size_t o = 0; o < no; o++) zero &= ry32[o] == 0.0f;
            CHECK(zero);
            f.k->rbackward_f32(&c32, NULL, rgy32, none, NULL, 1, nog, NULL, NULL);
            free(a);
            free(b);
            free(x);
            free(y);
            free(rx);
            free(rgy);
            free(ry);
            free(rgx);
            free(rx32);
            free(rgy32);
            free(ry32);
            free(rgx32);
            fixture_free(&f);
        }
}

/* Max pooling of one 1 x h x w example (copied to all NB), kernel k,
 * stride s, padding p; returns the argmax of output o of example 0. */
static int32_t argmax_of(const double *x1, int h, int w, int k, int s, int p, int o, double *y0)
{
    fixture f;
    fixture_init(&f, MINIMA_NODE_MAXPOOL2D, &(cfg){1, h, w, k, k, s, s, p, p});
    double *x = vec(NB * f.nin), *y = vec(NB * f.nout);
    for (int i = 0; i < NB; i++) memcpy(x + i * f.nin, x1, f.nin * sizeof *x);
    forward(&f, x, y);
    int32_t a = ((int32_t *)f.aux)[o];
    /* every example has the same argmax, offset by nothing (within example) */
    for (int i = 1; i < NB; i++) CHECK(((int32_t *)f.aux)[i * f.nout + (size_t)o] == a);
    if (y0) *y0 = y[o];
    free(x);
    free(y);
    fixture_free(&f);
    return a;
}

static void test_argmax_rule(void)
{
    double y0;
    /* all equal: the first value of the window */
    const double flat[9] = {2, 2, 2, 2, 2, 2, 2, 2, 2};
    CHECK(argmax_of(flat, 3, 3, 3, 1, 0, 0, &y0) == 0 && y0 == 2);
    /* the maximum 5 three times: the first in row-by-row order (row 0, col 1) */
    const double three[9] = {0, 5, 1, 5, 2, 5, 0, 0, 5};
    CHECK(argmax_of(three, 3, 3, 3, 1, 0, 0, &y0) == 1 && y0 == 5);
    /* an earlier row beats an earlier column: (0, 2) before (1, 0) */
    const double rows[9] = {0, 1, 7, 7, 0, 0, 0, 0, 0};
    CHECK(argmax_of(rows, 3, 3, 3, 1, 0, 0, &y0) == 2 && y0 == 7);
    /* a NaN wins over every number, and the last NaN in scan order is the
     * argmax (PyTorch: max_pool2d of [[1, nan], [nan, 2]] gives index 2) */
    const double nan2[4] = {1, NAN, NAN, 2};
    CHECK(argmax_of(nan2, 2, 2, 2, 2, 0, 0, &y0) == 2 && isnan(y0));
    const double nan1[4] = {NAN, 5, 3, 2};
    CHECK(argmax_of(nan1, 2, 2, 2, 2, 0, 0, &y0) == 0 && isnan(y0));
    /* a window of -inf: its first value inside the input (PyTorch gives
     * indices 0, 1, 3, 4 for a 3x3 of -inf, kernel 3, stride 2, padding 1) */
    double ninf[9];
    for (int i = 0; i < 9; i++) ninf[i] = -INFINITY;
    const int32_t want[4] = {0, 1, 3, 4};
    for (int o = 0; o < 4; o++) {
        CHECK(argmax_of(ninf, 3, 3, 3, 2, 1, o, &y0) == want[o]);
        CHECK(y0 == -INFINITY);
    }
    /* padding never wins, even over negative values: the corner window
     * holds -5, -4, -2, -9 */
    const double neg[9] = {-5, -4, -3, -2, -9, -8, -7, -6, -1};
    CHECK(argmax_of(neg, 3, 3, 3, 2, 1, 0, &y0) == 3 && y0 == -2);
    /* the gradient at a tie goes to the first maximum only */
    fixture f;
    fixture_init(&f, MINIMA_NODE_MAXPOOL2D, &(cfg){1, 3, 3, 3, 3, 1, 1, 0, 0});
    double x[NB * 9], y[NB], gy[NB] = {1, 2, 3};
    for (int i = 0; i < NB; i++) memcpy(x + 9 * i, three, sizeof three);
    forward(&f, x, y);
    double *gx = backward(&f, x, y, gy);
    for (int i = 0; i < NB; i++)
        for (int j = 0; j < 9; j++) CHECK(gx[9 * i + j] == (j == 1 ? gy[i] : 0.0));
    free(gx);
    fixture_free(&f);
}

/* Two calls add twice (up to the order of the additions where windows
 * overlap); NULL gx/rgx are skipped; NULL rx gives ry = 0. */
static void test_accumulate(void)
{
    minima_rng rng;
    minima_rng_seed(&rng, 16);
    for (size_t t = 0; t < 3; t++) {
        fixture f;
        fixture_init(&f, kinds[t], &configs[3]);
        size_t ni = NB * f.nin, no = NB * f.nout;
        double *x = normal(&rng, ni), *y = vec(no), *gy = normal(&rng, no);
        double *once = vec(ni), *twice = vec(ni), *ry = vec(no);
        forward(&f, x, y);
        layer_call_f64 c = call64(&f, x, y);
        double *o1[2] = {once, NULL}, *o2[2] = {twice, NULL}, *none[2] = {NULL, NULL};
        f.k->backward(&c, gy, o1, NULL, NULL);
        f.k->backward(&c, gy, o2, NULL, NULL);
        f.k->backward(&c, gy, o2, NULL, NULL);
        f.k->backward(&c, gy, none, NULL, NULL);
        int ok = 1, nonzero = 0;
        for (size_t j = 0; j < ni; j++) {
            ok &= fabs(twice[j] - 2 * once[j]) <= 1e-15 * (fabs(once[j]) + 1);
            nonzero |= once[j] != 0;
        }
        CHECK_MSG(ok && nonzero, "%s: backward does not accumulate", f.k->name);
        memset(twice, 0, ni * sizeof *twice);
        f.k->rbackward(&c, gy, gy, (const double *[2]){NULL, NULL}, NULL, 1, o2, NULL, NULL);
        f.k->rbackward(&c, gy, gy, (const double *[2]){NULL, NULL}, NULL, 0, o2, NULL, NULL);
        f.k->rbackward(&c, gy, gy, (const double *[2]){NULL, NULL}, NULL, 1, none, NULL, NULL);
        ok = 1;
        for (size_t j = 0; j < ni; j++)
            ok &= fabs(twice[j] - 2 * once[j]) <= 1e-15 * (fabs(once[j]) + 1);
        CHECK_MSG(ok, "%s: rbackward does not accumulate", f.k->name);
        for (size_t o = 0; o < no; o++) ry[o] = 7.0;
        f.k->rforward(&c, (const double *[2]){NULL, NULL}, NULL, NULL, ry);
        ok = 1;
        for (size_t o = 0; o < no; o++) ok &= ry[o] == 0.0;
        CHECK_MSG(ok, "%s: rforward with rx NULL is not 0", f.k->name);
        /* float32 accumulates too */
        float *g32 = calloc(ni, sizeof *g32), *gy32 = calloc(no, sizeof *gy32);
        for (size_t o = 0; o < no; o++) gy32[o] = (float)gy[o];
        layer_call_f32 c32 = call32(&f);
        float *g32s[2] = {g32, NULL};
        f.k->rbackward_f32(&c32, NULL, gy32, (const float *[2]){NULL, NULL}, NULL, 0, g32s, NULL,
                           NULL);
        float first = 0;
        size_t jmax = 0;
        for (size_t j = 0; j < ni; j++)
            if (fabsf(g32[j]) > fabsf(g32[jmax])) jmax = j;
        first = g32[jmax];
        f.k->rbackward_f32(&c32, NULL, gy32, (const float *[2]){NULL, NULL}, NULL, 0, g32s, NULL,
                           NULL);
        CHECK(first != 0 && fabsf(g32[jmax] - 2 * first) <= 1e-6f * fabsf(first));
        free(g32);
        free(gy32);
        free(x);
        free(y);
        free(gy);
        free(once);
        free(twice);
        free(ry);
        fixture_free(&f);
    }
}

/* infer on a node with the given settings and input; returns the status. */
static minima_status infer_with(minima_node_kind kind, minima_shape in, int kh, int kw, int sh,
                                int sw, int ph, int pw, minima_node *out)
{
    minima_node n = minima_node_make(kind, 0);
    n.kernel[0] = kh;
    n.kernel[1] = kw;
    n.stride[0] = sh;
    n.stride[1] = sw;
    n.padding[0] = ph;
    n.padding[1] = pw;
    const minima_shape *ins[2] = {&in, &in};
    minima_clear_error();
    minima_status st = layer_kind_of(kind)->infer(&n, ins, "node 4 (maxpool2d 'features.3')");
    if (out) *out = n;
    return st;
}

#define CHECK_REFUSED(call, want, word) do { \
    CHECK_STATUS((call), (want)); \
    CHECK_MSG(strstr(minima_last_error(), "node 4 (maxpool2d 'features.3')") && \
              strstr(minima_last_error(), (word)), "message: %s", minima_last_error()); \
} while (0)

static void test_infer(void)
{
    const minima_shape img = {3, 3, 7, 5}, flat = {1, 12, 1, 1};
    const minima_node_kind mx = MINIMA_NODE_MAXPOOL2D, av = MINIMA_NODE_AVGPOOL2D;
    minima_node n;
    /* accepted: Ho = floor((7 + 2 - 3) / 2) + 1 = 4, Wo = floor((5 + 2 - 3) / 2) + 1 = 3 */
    CHECK_OK(infer_with(mx, img, 3, 3, 2, 2, 1, 1, &n));
    CHECK(n.shape.rank == 3 && n.shape.c == 3 && n.shape.h == 4 && n.shape.w == 3);
    CHECK(n.n_weight == 0 && n.n_bias == 0);
    const minima_shape *ins[2] = {&img, &img};
    CHECK(layer_maxpool2d.aux_bytes(&n, ins) == sizeof(int32_t) * 3 * 4 * 3);
    CHECK(layer_maxpool2d.flops(&n, ins) == 3.0 * 4 * 3 * 9);
    CHECK_OK(infer_with(av, img, 3, 2, 2, 1, 1, 1, &n));   /* non-square */
    CHECK(n.shape.h == 4 && n.shape.w == 6);
    CHECK_OK(infer_with(mx, img, 2, 2, 2, 2, 1, 1, &n));   /* padding = kernel / 2 */
    CHECK(n.shape.h == 4 && n.shape.w == 3);
    CHECK_OK(infer_with(mx, img, 9, 7, 1, 1, 1, 1, &n));   /* kernel = padded input */
    CHECK(n.shape.h == 1 && n.shape.w == 1);
    /* refused */
    CHECK_REFUSED(infer_with(mx, flat, 2, 2, 2, 2, 0, 0, NULL), MINIMA_ESHAPE, "flat (12)");
    CHECK_REFUSED(infer_with(av, flat, 2, 2, 2, 2, 0, 0, NULL), MINIMA_ESHAPE, "average pooling");
    CHECK_REFUSED(infer_with(mx, img, 0, 2, 1, 1, 0, 0, NULL), MINIMA_EINVAL, "kernel height is 0");
    CHECK_REFUSED(infer_with(mx, img, 2, -1, 1, 1, 0, 0, NULL), MINIMA_EINVAL,
                  "kernel width is -1");
    CHECK_REFUSED(infer_with(mx, img, 2, 2, 0, 1, 0, 0, NULL), MINIMA_EINVAL, "stride height is 0");
    CHECK_REFUSED(infer_with(av, img, 2, 2, 1, 0, 0, 0, NULL), MINIMA_EINVAL, "stride width is 0");
    CHECK_REFUSED(infer_with(mx, img, 2, 2, 1, 1, -1, 0, NULL), MINIMA_EINVAL,
                  "padding height is -1");
    CHECK_REFUSED(infer_with(mx, img, 3, 3, 1, 1, 1, 2, NULL), MINIMA_EINVAL,
                  "width has padding 2 with kernel 3");
    CHECK_REFUSED(infer_with(av, img, 3, 3, 1, 1, 2, 1, NULL), MINIMA_EINVAL,
                  "height has padding 2 with kernel 3");
    CHECK_REFUSED(infer_with(mx, img, 8, 2, 1, 1, 0, 0, NULL), MINIMA_ESHAPE,
                  "kernel height is 8 for an input height of 7 padded to 7");
    CHECK_REFUSED(infer_with(av, img, 3, 8, 1, 1, 1, 1, NULL), MINIMA_ESHAPE,
                  "kernel width is 8 for an input width of 5 padded to 7");
    CHECK_REFUSED(infer_with(mx, img, 2000000000, 2, 1, 1, 0, 0, NULL), MINIMA_ESHAPE,
                  "kernel height is 2000000000 for an input height of 7 padded to 7");
    /* the largest settings do not overflow: H + 2p - k = 7 - 1 */
    CHECK_OK(infer_with(mx, img, INT_MAX, 1, 1, 1, INT_MAX / 2, 0, &n));
    CHECK(n.shape.h == 7 && n.shape.w == 5);
    /* global average pooling: image in, flat C out; flat input refused */
    CHECK_OK(infer_with(MINIMA_NODE_GLOBAL_AVGPOOL, img, 1, 1, 1, 1, 0, 0, &n));
    CHECK(n.shape.rank == 1 && n.shape.c == 3 && n.shape.h == 1 && n.shape.w == 1);
    CHECK(n.n_weight == 0 && n.n_bias == 0);
    CHECK(layer_global_avgpool.flops(&n, ins) == 3.0 * 7 * 5 + 3);
    CHECK_REFUSED(infer_with(MINIMA_NODE_GLOBAL_AVGPOOL, flat, 1, 1, 1, 1, 0, 0, NULL),
                  MINIMA_ESHAPE, "global average pooling needs an image input");
}

/* The kinds in a model's graph: shapes chain, and a bad pooling is named. */
static void test_graph(void)
{
    minima_node nodes[5];
    nodes[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    nodes[0].shape = (minima_shape){3, 2, 7, 5};
    nodes[1] = minima_node_make(MINIMA_NODE_MAXPOOL2D, 0);
    nodes[1].kernel[0] = nodes[1].kernel[1] = 3;
    nodes[1].stride[0] = nodes[1].stride[1] = 2;
    nodes[1].padding[0] = nodes[1].padding[1] = 1;
    nodes[2] = minima_node_make(MINIMA_NODE_AVGPOOL2D, 1);
    nodes[2].kernel[0] = nodes[2].kernel[1] = 2;
    nodes[3] = minima_node_make(MINIMA_NODE_GLOBAL_AVGPOOL, 2);
    nodes[4] = minima_node_make(MINIMA_NODE_LINEAR, 3);
    nodes[4].out = 4;
    minima_model *m = NULL;
    CHECK_OK(minima_model_create_graph(&m, 5, nodes));
    if (m) {
        CHECK(m->nodes[1].shape.h == 4 && m->nodes[1].shape.w == 3);
        CHECK(m->nodes[2].shape.h == 3 && m->nodes[2].shape.w == 2);
        CHECK(m->nodes[3].shape.rank == 1 && m->nodes[3].shape.c == 2);
        CHECK(m->n_params == 4 * 2 + 4);
        CHECK(!m->is_mlp);
        minima_model_free(m);
    }
    nodes[1].padding[1] = 2;
    nodes[1].name = (char *)"features.3";
    m = NULL;
    CHECK_STATUS(minima_model_create_graph(&m, 5, nodes), MINIMA_EINVAL);
    CHECK_MSG(strstr(minima_last_error(), "node 1 (maxpool2d 'features.3')") != NULL,
              "message: %s", minima_last_error());
    CHECK(m == NULL);
}

int main(void)
{
    RUN(test_registry);
    RUN(test_forward_naive);
    RUN(test_forward_torch);
    RUN(test_adjoint);
    RUN(test_central_differences);
    RUN(test_rbackward);
    RUN(test_float32);
    RUN(test_argmax_rule);
    RUN(test_accumulate);
    RUN(test_infer);
    RUN(test_graph);
    return harness_report();
}
