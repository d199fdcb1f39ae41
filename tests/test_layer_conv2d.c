/* test_layer_conv2d.c — the conv2d kind (src/engine/layer_conv2d.c) on its
 * own, over many settings: forward against a naive direct convolution and
 * values PyTorch computed; backward against the adjoint identities and
 * central differences of forward; the R-passes against central differences
 * (conv is bilinear in (x, w), so central differences are exact up to
 * rounding); float32 against float64; += semantics; infer's refusals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/layer.h"
#include "harness.h"
#include "minima/rng.h"

typedef struct {
    const char *what;
    int C, H, W, O;
    int kh, kw, sh, sw, ph, pw, dh, dw, G;
    int bias;
    size_t b;
} cfg;

static const cfg configs[] = {
    {"3x3 pad 1, batch 3, H != W", 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3},
    {"stride 2", 2, 9, 8, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2},
    {"padding 2", 2, 5, 5, 2, 3, 3, 1, 1, 2, 2, 1, 1, 1, 1, 2},
    {"dilation 2", 2, 9, 7, 3, 3, 3, 1, 1, 2, 2, 2, 2, 1, 1, 2},
    {"groups 2", 4, 6, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1, 2},
    {"depthwise", 3, 6, 7, 3, 3, 3, 1, 1, 1, 1, 1, 1, 3, 1, 2},
    {"depthwise x2, stride 2, no bias", 2, 7, 7, 4, 3, 3, 2, 2, 1, 1, 1, 1, 2, 0, 2},
    {"non-square kernel, stride, padding, dilation", 2, 8, 9, 3, 2, 3, 2, 1, 1, 0, 1, 2, 1, 1, 2},
    {"1x1 (direct, no im2col), no bias", 5, 4, 3, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 3},
    {"1x1 groups 2 (direct)", 4, 3, 5, 2, 1, 1, 1, 1, 0, 0, 1, 1, 2, 1, 2},
    {"1x1 stride 2", 3, 5, 6, 2, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1, 2},
    {"1x1 padded", 2, 3, 4, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1},
    {"kernel covers the padded input", 1, 3, 3, 2, 5, 5, 1, 1, 1, 1, 1, 1, 1, 1, 2},
    {"stride larger than kernel", 2, 10, 11, 2, 2, 2, 3, 3, 0, 1, 1, 1, 1, 1, 1},
    {"padding larger than kernel", 1, 4, 3, 2, 2, 2, 2, 1, 3, 2, 1, 2, 1, 1, 1},
    {"LeNet conv1 shape", 1, 28, 28, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
    {"kernel 2x5, padding (0, 2): Wo = W, Ho < H", 2, 5, 6, 3, 2, 5, 1, 1, 0, 2, 1, 1, 1, 1, 2},
    {"width 1, kernel 3x5, padding (1, 2)", 2, 4, 1, 2, 3, 5, 1, 1, 1, 2, 1, 1, 1, 1, 2},
    {"dilation (1, 3), padding (1, 3): Wo = W", 3, 5, 7, 2, 3, 3, 1, 1, 1, 3, 1, 3, 1, 1, 2},
    /* 32 or more channels per group: forward and rforward by shifted views */
    {"32 channels, 3x3 pad 1 (shifted)", 32, 5, 6, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2},
    {"64 channels, groups 2, kernel 3x2, dilation (2, 1), padding (2, 1) (shifted)", 64, 6, 5, 4,
     3, 2, 1, 1, 2, 1, 2, 1, 2, 1, 2},
    {"32 channels, 2x3 unpadded, dilation (1, 2), no bias (shifted)", 32, 4, 7, 2, 2, 3, 1, 1, 0,
     0, 1, 2, 1, 0, 1},
    {"32 channels, stride 2 (im2col)", 32, 5, 5, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},
};

static const char *LABEL = "node 7 (conv2d 'features.3')";

static minima_node node_of(const cfg *k)
{
    minima_node n = minima_node_make(MINIMA_NODE_CONV2D, 0);
    n.out = k->O;
    n.kernel[0] = k->kh;
    n.kernel[1] = k->kw;
    n.stride[0] = k->sh;
    n.stride[1] = k->sw;
    n.padding[0] = k->ph;
    n.padding[1] = k->pw;
    n.dilation[0] = k->dh;
    n.dilation[1] = k->dw;
    n.groups = k->G;
    n.has_bias = k->bias;
    return n;
}

/* ---- a problem: node, shapes, point, directions ------------------------ */

typedef struct {
    const cfg *k;
    minima_node node;
    minima_shape in;
    size_t nx, ny, nw, nb;       /* batch sizes of x, y; weights; biases */
    double *x, *w, *bias;        /* the point */
    double *rx, *vw, *vb;        /* a direction */
    double *gy, *rgy;            /* output signals */
    void *scratch;
    size_t scratch_size;         /* scratch_bytes; GUARD bytes of a pattern follow */
} problem;

enum { GUARD = 256 };

static double *randn(minima_rng *rng, size_t n)
{
    double *v = malloc(sizeof(double) * (n ? n : 1));
    if (!v) abort();
    minima_rng_fill_normal(rng, v, n);
    return v;
}

static void problem_make(problem *p, const cfg *k, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->k = k;
    p->node = node_of(k);
    p->in = (minima_shape){3, k->C, k->H, k->W};
    const minima_shape *in[2] = {&p->in, &p->in};
    minima_status st = layer_conv2d.infer(&p->node, in, LABEL);
    CHECK_MSG(st == MINIMA_OK, "%s: infer failed: %s", k->what, minima_last_error());
    if (st != MINIMA_OK) abort();
    int Ho = (k->H + 2 * k->ph - k->dh * (k->kh - 1) - 1) / k->sh + 1;
    int Wo = (k->W + 2 * k->pw - k->dw * (k->kw - 1) - 1) / k->sw + 1;
    CHECK(p->node.shape.rank == 3 && p->node.shape.c == k->O && p->node.shape.h == Ho &&
          p->node.shape.w == Wo);
    CHECK(p->node.n_weight == (size_t)k->O * (size_t)(k->C / k->G) * (size_t)(k->kh * k->kw));
    CHECK(p->node.n_bias == (k->bias ? (size_t)k->O : 0));
    CHECK_REL(layer_conv2d.flops(&p->node, in),
              2.0 * k->O * (k->C / k->G) * k->kh * k->kw * (double)Ho * Wo, 1e-15);
    p->nx = k->b * minima_shape_size(p->in);
    p->ny = k->b * minima_shape_size(p->node.shape);
    p->nw = p->node.n_weight;
    p->nb = p->node.n_bias;
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    p->x = randn(&rng, p->nx);
    p->w = randn(&rng, p->nw);
    p->bias = k->bias ? randn(&rng, p->nb) : NULL;
    p->rx = randn(&rng, p->nx);
    p->vw = randn(&rng, p->nw);
    p->vb = k->bias ? randn(&rng, p->nb) : NULL;
    p->gy = randn(&rng, p->ny);
    p->rgy = randn(&rng, p->ny);
    size_t sb = layer_conv2d.scratch_bytes(&p->node, in, k->b);
    CHECK_MSG(sb % 64 == 0, "%s: scratch_bytes %zu is not a multiple of 64", k->what, sb);
    p->scratch_size = sb;
    p->scratch = aligned_alloc(64, (sb + GUARD + 63) / 64 * 64);
    if (!p->scratch) abort();
    memset((char *)p->scratch + sb, 0xA5, GUARD);
}

static void problem_free(problem *p)
{
    /* the passes stayed inside the scratch they declared */
    const unsigned char *g = (const unsigned char *)p->scratch + p->scratch_size;
    int intact = 1;
    for (int i = 0; i < GUARD; i++) intact &= g[i] == 0xA5;
    CHECK_MSG(intact, "%s: a pass wrote past its %zu scratch bytes", p->k->what, p->scratch_size);
    free(p->x); free(p->w); free(p->bias); free(p->rx); free(p->vw); free(p->vb);
    free(p->gy); free(p->rgy); free(p->scratch);
}

static layer_call_f64 call_at(const problem *p, const double *x, const double *w,
                              const double *bias)
{
    layer_call_f64 c;
    memset(&c, 0, sizeof c);
    c.node = &p->node;
    c.in_shape[0] = c.in_shape[1] = &p->in;
    c.b = p->k->b;
    c.x[0] = x;
    c.w = w;
    c.bias = bias;
    c.scratch = p->scratch;
    return c;
}

static double *zeros(size_t n)
{
    double *v = calloc(n ? n : 1, sizeof(double));
    if (!v) abort();
    return v;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* y = conv(x, w) + bias, the definition written as loops. */
static void naive_conv(const problem *p, const double *x, const double *w, const double *bias,
                       double *y)
{
    const cfg *k = p->k;
    int Ho = p->node.shape.h, Wo = p->node.shape.w, Cg = k->C / k->G, Og = k->O / k->G;
    for (size_t n = 0; n < k->b; n++)
        for (int o = 0; o < k->O; o++)
            for (int u = 0; u < Ho; u++)
                for (int v = 0; v < Wo; v++) {
                    double s = bias ? bias[o] : 0.0;
                    int g = o / Og;
                    for (int c = 0; c < Cg; c++)
                        for (int i = 0; i < k->kh; i++)
                            for (int j = 0; j < k->kw; j++) {
                                int h = u * k->sh - k->ph + i * k->dh;
                                int ww = v * k->sw - k->pw + j * k->dw;
                                if (h < 0 || h >= k->H || ww < 0 || ww >= k->W) continue;
                                s += w[((o * Cg + c) * k->kh + i) * k->kw + j] *
                                     x[((n * k->C + (size_t)(g * Cg + c)) * k->H + h) * k->W + ww];
                            }
                    y[((n * k->O + o) * Ho + u) * Wo + v] = s;
                }
}

/* a + t d into out */
static void axpy_into(const double *a, double t, const double *d, size_t n, double *out)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] + t * d[i];
}

/* ---- forward ----------------------------------------------------------- */

static void test_forward_naive(void)
{
    for (size_t t = 0; t < sizeof configs / sizeof *configs; t++) {
        problem p;
        problem_make(&p, &configs[t], 100 + t);
        double *y = zeros(p.ny), *ref = zeros(p.ny);
        for (size_t i = 0; i < p.ny; i++) y[i] = NAN;   /* forward overwrites */
        layer_call_f64 c = call_at(&p, p.x, p.w, p.bias);
        layer_conv2d.forward(&c, y);
        naive_conv(&p, p.x, p.w, p.bias, ref);
        double r = harness_vec_reldiff(y, ref, p.ny, 1e-300);
        CHECK_MSG(r < 1e-13, "%s: forward vs naive: relative difference %.3g", p.k->what, r);
        free(y); free(ref);
        problem_free(&p);
    }
}

/* nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(2, 1),
 * groups=2) in PyTorch 1.13, float64, on x[i] = sin(0.37 i + 0.1) (2
 * examples, 4x7x6), weight[i] = 0.5 cos(0.11 i), bias[o] = 0.1 o - 0.2. */
static void test_forward_pytorch(void)
{
    cfg k = {"pytorch", 4, 7, 6, 6, 3, 2, 2, 1, 1, 2, 2, 1, 2, 1, 2};
    problem p;
    problem_make(&p, &k, 1);
    CHECK(p.node.shape.h == 3 && p.node.shape.w == 9);
    for (size_t i = 0; i < p.nx; i++) p.x[i] = sin(0.37 * (double)i + 0.1);
    for (size_t i = 0; i < p.nw; i++) p.w[i] = 0.5 * cos(0.11 * (double)i);
    for (int o = 0; o < 6; o++) p.bias[o] = 0.1 * o - 0.2;
    double *y = zeros(p.ny);
    layer_call_f64 c = call_at(&p, p.x, p.w, p.bias);
    layer_conv2d.forward(&c, y);
    CHECK(p.ny == 324);
    double s = 0;
    for (size_t i = 0; i < p.ny; i++) s += y[i] * cos(0.05 * (double)i);
    CHECK_REL(s, 2.0276531625484346, 1e-13);
    static const struct { int i; double v; } want[] = {
        {0, -0.20000000000000001}, {1, 0.059049352895574003}, {17, -0.20000000000000001},
        {40, 0.1285681982320232}, {100, 0.37382761794906272}, {161, 0.29999999999999999},
        {200, -0.054942343080724029}, {323, 0.29999999999999999}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        CHECK_ABS(y[want[i].i], want[i].v, 1e-14);
    free(y);
    problem_free(&p);
}

/* ---- backward ---------------------------------------------------------- */

static void test_backward(void)
{
    for (size_t t = 0; t < sizeof configs / sizeof *configs; t++) {
        problem p;
        problem_make(&p, &configs[t], 200 + t);
        const char *what = p.k->what;
        double *gx = zeros(p.nx), *gw = zeros(p.nw), *gb = zeros(p.nb);
        layer_call_f64 c = call_at(&p, p.x, p.w, p.bias);
        double *gxs[2] = {gx, NULL};
        layer_conv2d.backward(&c, p.gy, gxs, gw, p.bias ? gb : NULL);

        /* adjoint identities: <J_x rx, gy> = <rx, gx>, <J_w v, gy> = <v, gw>,
         * <vb 1^T, gy> = <vb, gb> */
        double *jy = zeros(p.ny);
        naive_conv(&p, p.rx, p.w, NULL, jy);
        CHECK_MSG(harness_reldiff(dot(jy, p.gy, p.ny), dot(p.rx, gx, p.nx), 1e-12) < 1e-12,
                  "%s: <J_x rx, gy> %.17g vs <rx, J_x^T gy> %.17g", what, dot(jy, p.gy, p.ny),
                  dot(p.rx, gx, p.nx));
        naive_conv(&p, p.x, p.vw, NULL, jy);
        CHECK_MSG(harness_reldiff(dot(jy, p.gy, p.ny), dot(p.vw, gw, p.nw), 1e-12) < 1e-12,
                  "%s: <J_w v, gy> %.17g vs <v, J_w^T gy> %.17g", what, dot(jy, p.gy, p.ny),
                  dot(p.vw, gw, p.nw));
        if (p.bias) {
            double *z = zeros(p.nw);
            naive_conv(&p, p.x, z, p.vb, jy);
            CHECK_REL(dot(jy, p.gy, p.ny), dot(p.vb, gb, p.nb), 1e-12);
            free(z);
        }

        /* central differences of L = <f(x, w, b), gy>, coordinate by
         * coordinate (a sample of up to 25 each); L is linear in each. */
        double h = 1e-3, *y1 = zeros(p.ny), *y2 = zeros(p.ny);
        double *xp = zeros(p.nx), *wp = zeros(p.nw), *bp = zeros(p.nb);
        memcpy(xp, p.x, sizeof(double) * p.nx);
        memcpy(wp, p.w, sizeof(double) * p.nw);
        if (p.bias) memcpy(bp, p.bias, sizeof(double) * p.nb);
        struct { double *v, *g; size_t n; const char *name; } vars[3] = {
            {xp, gx, p.nx, "x"}, {wp, gw, p.nw, "w"}, {p.bias ? bp : NULL, gb, p.nb, "b"}};
        for (int a = 0; a < 3; a++) {
            if (!vars[a].v) continue;
            size_t step = vars[a].n / 25 + 1;
            for (size_t i = t % step; i < vars[a].n; i += step) {
                double keep = vars[a].v[i];
                layer_call_f64 cc = call_at(&p, xp, wp, p.bias ? bp : NULL);
                vars[a].v[i] = keep + h;
                layer_conv2d.forward(&cc, y1);
                vars[a].v[i] = keep - h;
                layer_conv2d.forward(&cc, y2);
                vars[a].v[i] = keep;
                double fd = (dot(y1, p.gy, p.ny) - dot(y2, p.gy, p.ny)) / (2 * h);
                CHECK_MSG(fabs(fd - vars[a].g[i]) <= 1e-8 * (1 + fabs(fd)),
                          "%s: dL/d%s[%zu] = %.12g by differences, %.12g by backward", what,
                          vars[a].name, i, fd, vars[a].g[i]);
            }
        }

        /* without gx the parameter gradients are the same */
        double *gw2 = zeros(p.nw), *gb2 = zeros(p.nb);
        double *none[2] = {NULL, NULL};
        layer_conv2d.backward(&c, p.gy, none, gw2, p.bias ? gb2 : NULL);
        CHECK(harness_vec_reldiff(gw2, gw, p.nw, 1e-300) == 0);
        CHECK(harness_vec_reldiff(gb2, gb, p.nb, 1e-300) == 0);

        /* += : a second call doubles everything (gw2, gb2 hold one call's) */
        layer_conv2d.backward(&c, p.gy, gxs, gw, p.bias ? gb : NULL);
        for (size_t i = 0; i < p.nw; i++) gw2[i] *= 2;
        for (size_t i = 0; i < p.nb; i++) gb2[i] *= 2;
        CHECK_MSG(harness_vec_reldiff(gw, gw2, p.nw, 1e-300) < 1e-13, "%s: gw not accumulated",
                  what);
        CHECK_MSG(harness_vec_reldiff(gb, gb2, p.nb, 1e-300) < 1e-13, "%s: gb not accumulated",
                  what);
        double *gx1 = zeros(p.nx);
        double *gx1s[2] = {gx1, NULL};
        layer_conv2d.backward(&c, p.gy, gx1s, NULL, NULL);
        for (size_t i = 0; i < p.nx; i++) gx1[i] *= 2;
        CHECK_MSG(harness_vec_reldiff(gx, gx1, p.nx, 1e-300) < 1e-13, "%s: gx not accumulated",
                  what);

        free(gx); free(gw); free(gb); free(jy); free(y1); free(y2); free(xp); free(wp); free(bp);
        free(gw2); free(gb2); free(gx1);
        problem_free(&p);
    }
}

/* ---- R-passes ---------------------------------------------------------- */

static void test_rforward(void)
{
    for (size_t t = 0; t < sizeof configs / sizeof *configs; t++) {
        problem p;
        problem_make(&p, &configs[t], 300 + t);
        const char *what = p.k->what;
        double h = 1e-3;
        double *xp = zeros(p.nx), *xm = zeros(p.nx), *wp = zeros(p.nw), *wm = zeros(p.nw);
        double *bp = zeros(p.nb), *bm = zeros(p.nb), *yp = zeros(p.ny), *ym = zeros(p.ny);
        double *ry = zeros(p.ny), *fd = zeros(p.ny);
        for (int moved = 0; moved < 2; moved++) {   /* rx NULL, then rx given */
            axpy_into(p.x, moved ? h : 0.0, p.rx, p.nx, xp);
            axpy_into(p.x, moved ? -h : 0.0, p.rx, p.nx, xm);
            axpy_into(p.w, h, p.vw, p.nw, wp);
            axpy_into(p.w, -h, p.vw, p.nw, wm);
            if (p.bias) {
                axpy_into(p.bias, h, p.vb, p.nb, bp);
                axpy_into(p.bias, -h, p.vb, p.nb, bm);
            }
            layer_call_f64 cp = call_at(&p, xp, wp, p.bias ? bp : NULL);
            layer_call_f64 cm = call_at(&p, xm, wm, p.bias ? bm : NULL);
            layer_conv2d.forward(&cp, yp);
            layer_conv2d.forward(&cm, ym);
            for (size_t i = 0; i < p.ny; i++) fd[i] = (yp[i] - ym[i]) / (2 * h);
            for (size_t i = 0; i < p.ny; i++) ry[i] = NAN;   /* rforward overwrites */
            layer_call_f64 c = call_at(&p, p.x, p.w, p.bias);
            const double *rxs[2] = {moved ? p.rx : NULL, NULL};
            layer_conv2d.rforward(&c, rxs, p.vw, p.vb, ry);
            double r = harness_vec_reldiff(ry, fd, p.ny, 1.0);
            CHECK_MSG(r < 1e-9, "%s: rforward (rx %s) vs central differences: %.3g", what,
                      moved ? "given" : "NULL", r);
        }
        free(xp); free(xm); free(wp); free(wm); free(bp); free(bm); free(yp); free(ym);
        free(ry); free(fd);
        problem_free(&p);
    }
}

static void test_rbackward(void)
{
    for (size_t t = 0; t < sizeof configs / sizeof *configs; t++) {
        problem p;
        problem_make(&p, &configs[t], 400 + t);
        const char *what = p.k->what;
        double h = 1e-3;
        double *xp = zeros(p.nx), *xm = zeros(p.nx), *wp = zeros(p.nw), *wm = zeros(p.nw);
        double *gp = zeros(p.ny), *gm = zeros(p.ny);
        double *gxp = zeros(p.nx), *gxm = zeros(p.nx), *gwp = zeros(p.nw), *gwm = zeros(p.nw);
        double *gbp = zeros(p.nb), *gbm = zeros(p.nb);
        double *fx = zeros(p.nx), *fw = zeros(p.nw), *fb = zeros(p.nb);
        double *rgx = zeros(p.nx), *hw = zeros(p.nw), *hb = zeros(p.nb);
        layer_call_f64 c = call_at(&p, p.x, p.w, p.bias);
        for (int moved = 0; moved < 2; moved++) {
            /* d/dt backward(x + t rx, w + t v, gy + t rgy) at 0 */
            axpy_into(p.x, moved ? h : 0.0, p.rx, p.nx, xp);
            axpy_into(p.x, moved ? -h : 0.0, p.rx, p.nx, xm);
            axpy_into(p.w, h, p.vw, p.nw, wp);
            axpy_into(p.w, -h, p.vw, p.nw, wm);
            axpy_into(p.gy, h, p.rgy, p.ny, gp);
            axpy_into(p.gy, -h, p.rgy, p.ny, gm);
            memset(gxp, 0, sizeof(double) * p.nx); memset(gxm, 0, sizeof(double) * p.nx);
            memset(gwp, 0, sizeof(double) * p.nw); memset(gwm, 0, sizeof(double) * p.nw);
            memset(gbp, 0, sizeof(double) * p.nb); memset(gbm, 0, sizeof(double) * p.nb);
            layer_call_f64 cp = call_at(&p, xp, wp, p.bias);
            layer_call_f64 cm = call_at(&p, xm, wm, p.bias);
            double *sp[2] = {gxp, NULL}, *sm[2] = {gxm, NULL};
            layer_conv2d.backward(&cp, gp, sp, gwp, p.bias ? gbp : NULL);
            layer_conv2d.backward(&cm, gm, sm, gwm, p.bias ? gbm : NULL);
            for (size_t i = 0; i < p.nx; i++) fx[i] = (gxp[i] - gxm[i]) / (2 * h);
            for (size_t i = 0; i < p.nw; i++) fw[i] = (gwp[i] - gwm[i]) / (2 * h);
            for (size_t i = 0; i < p.nb; i++) fb[i] = (gbp[i] - gbm[i]) / (2 * h);

            memset(rgx, 0, sizeof(double) * p.nx);
            memset(hw, 0, sizeof(double) * p.nw);
            memset(hb, 0, sizeof(double) * p.nb);
            const double *rxs[2] = {moved ? p.rx : NULL, NULL};
            double *rgxs[2] = {rgx, NULL};
            layer_conv2d.rbackward(&c, p.gy, p.rgy, rxs, p.vw, 1, rgxs, hw, p.bias ? hb : NULL);
            double r1 = harness_vec_reldiff(rgx, fx, p.nx, 1.0);
            double r2 = harness_vec_reldiff(hw, fw, p.nw, 1.0);
            double r3 = p.bias ? harness_vec_reldiff(hb, fb, p.nb, 1.0) : 0;
            CHECK_MSG(r1 < 1e-9 && r2 < 1e-9 && r3 < 1e-9, "%s: full rbackward (rx %s) vs "
                      "central differences of backward: rgx %.3g, hw %.3g, hb %.3g", what,
                      moved ? "given" : "NULL", r1, r2, r3);
        }

        /* not full: backward applied to rgy, whatever rx and v are */
        double *bx = zeros(p.nx), *bw = zeros(p.nw), *bb = zeros(p.nb);
        double *bxs[2] = {bx, NULL};
        layer_conv2d.backward(&c, p.rgy, bxs, bw, p.bias ? bb : NULL);
        memset(rgx, 0, sizeof(double) * p.nx);
        memset(hw, 0, sizeof(double) * p.nw);
        memset(hb, 0, sizeof(double) * p.nb);
        const double *rxs[2] = {p.rx, NULL};
        double *rgxs[2] = {rgx, NULL};
        layer_conv2d.rbackward(&c, p.gy, p.rgy, rxs, p.vw, 0, rgxs, hw, p.bias ? hb : NULL);
        CHECK_MSG(harness_vec_reldiff(rgx, bx, p.nx, 1e-300) < 1e-15 &&
                  harness_vec_reldiff(hw, bw, p.nw, 1e-300) < 1e-15 &&
                  harness_vec_reldiff(hb, bb, p.nb, 1e-300) < 1e-15,
                  "%s: rbackward with full = 0 is not backward of rgy", what);

        /* += : a second full call doubles; NULL rgx and hw are skipped */
        double *rgx2 = zeros(p.nx), *hw2 = zeros(p.nw), *hb2 = zeros(p.nb);
        double *rgx2s[2] = {rgx2, NULL}, *none[2] = {NULL, NULL};
        layer_conv2d.rbackward(&c, p.gy, p.rgy, rxs, p.vw, 1, rgx2s, hw2, p.bias ? hb2 : NULL);
        layer_conv2d.rbackward(&c, p.gy, p.rgy, rxs, p.vw, 1, rgx2s, hw2, p.bias ? hb2 : NULL);
        memset(rgx, 0, sizeof(double) * p.nx);
        memset(hw, 0, sizeof(double) * p.nw);
        memset(hb, 0, sizeof(double) * p.nb);
        layer_conv2d.rbackward(&c, p.gy, p.rgy, rxs, p.vw, 1, rgxs, NULL, NULL);
        layer_conv2d.rbackward(&c, p.gy, p.rgy, rxs, p.vw, 1, none, hw, p.bias ? hb : NULL);
        for (size_t i = 0; i < p.nx; i++) rgx[i] *= 2;
        for (size_t i = 0; i < p.nw; i++) hw[i] *= 2;
        for (size_t i = 0; i < p.nb; i++) hb[i] *= 2;
        CHECK_MSG(harness_vec_reldiff(rgx2, rgx, p.nx, 1e-300) < 1e-13 &&
                  harness_vec_reldiff(hw2, hw, p.nw, 1e-300) < 1e-13 &&
                  harness_vec_reldiff(hb2, hb, p.nb, 1e-300) < 1e-13,
                  "%s: rbackward does not accumulate (or NULL outputs change the others)", what);

        free(xp); free(xm); free(wp); free(wm); free(gp); free(gm); free(gxp); free(gxm);
        free(gwp); free(gwm); free(gbp); free(gbm); free(fx); free(fw); free(fb);
        free(rgx); free(hw); free(hb); free(bx); free(bw); free(bb);
        free(rgx2); free(hw2); free(hb2);
        problem_free(&p);
    }
}

/* ---- float32 R-passes against float64 ----------------------------------- */

static float *to_f32(const double *v, size_t n)
{
    float *f = malloc(sizeof(float) * (n ? n : 1));
    if (!f) abort();
    for (size_t i = 0; i < n; i++) f[i] = (float)v[i];
    return f;
}

/* max |a32 - b64| / max |b64| */
static double reldiff_f32(const float *a, const double *b, size_t n)
{
    double d = 0, m = 1e-300;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs(b[i]));
    }
    return d / m;
}

static void test_f32(void)
{
    for (size_t t = 0; t < sizeof configs / sizeof *configs; t++) {
        problem p;
        problem_make(&p, &configs[t], 500 + t);
        const char *what = p.k->what;
        /* the point and directions rounded to float32, so both precisions
         * compute the same products */
        float *x = to_f32(p.x, p.nx), *w = to_f32(p.w, p.nw), *rx = to_f32(p.rx, p.nx);
        float *vw = to_f32(p.vw, p.nw), *gy = to_f32(p.gy, p.ny), *rgy = to_f32(p.rgy, p.ny);
        float *bias = p.bias ? to_f32(p.bias, p.nb) : NULL;
        float *vb = p.bias ? to_f32(p.vb, p.nb) : NULL;
        for (size_t i = 0; i < p.nx; i++) { p.x[i] = x[i]; p.rx[i] = rx[i]; }
        for (size_t i = 0; i < p.nw; i++) { p.w[i] = w[i]; p.vw[i] = vw[i]; }
        for (size_t i = 0; i < p.ny; i++) { p.gy[i] = gy[i]; p.rgy[i] = rgy[i]; }
        for (size_t i = 0; i < p.nb; i++) { p.bias[i] = bias[i]; p.vb[i] = vb[i]; }

        layer_call_f64 c = call_at(&p, p.x, p.w, p.bias);
        layer_call_f32 c32;
        memset(&c32, 0, sizeof c32);
        c32.node = &p.node;
        c32.in_shape[0] = c32.in_shape[1] = &p.in;
        c32.b = p.k->b;
        c32.x[0] = x;
        c32.w = w;
        c32.bias = bias;
        c32.scratch = p.scratch;

        for (int moved = 0; moved < 2; moved++) {
            double *ry = zeros(p.ny);
            float *ry32 = calloc(p.ny, sizeof(float));
            const double *rxs[2] = {moved ? p.rx : NULL, NULL};
            const float *rxs32[2] = {moved ? rx : NULL, NULL};
            layer_conv2d.rforward(&c, rxs, p.vw, p.vb, ry);
            layer_conv2d.rforward_f32(&c32, rxs32, vw, vb, ry32);
            double r = reldiff_f32(ry32, ry, p.ny);
            CHECK_MSG(r < 1e-5, "%s: rforward_f32 vs float64 (rx %s): %.3g", what,
                      moved ? "given" : "NULL", r);
            for (int full = 0; full < 2; full++) {
                double *rgx = zeros(p.nx), *hw = zeros(p.nw), *hb = zeros(p.nb);
                float *rgx32 = calloc(p.nx, sizeof(float)), *hw32 = calloc(p.nw, sizeof(float));
                float *hb32 = calloc(p.nb ? p.nb : 1, sizeof(float));
                double *rgxs[2] = {rgx, NULL};
                float *rgxs32[2] = {rgx32, NULL};
                layer_conv2d.rbackward(&c, p.gy, p.rgy, rxs, p.vw, full, rgxs, hw,
                                       p.bias ? hb : NULL);
                layer_conv2d.rbackward_f32(&c32, gy, rgy, rxs32, vw, full, rgxs32, hw32,
                                           p.bias ? hb32 : NULL);
                double r1 = reldiff_f32(rgx32, rgx, p.nx), r2 = reldiff_f32(hw32, hw, p.nw);
                double r3 = p.bias ? reldiff_f32(hb32, hb, p.nb) : 0;
                CHECK_MSG(r1 < 1e-5 && r2 < 1e-5 && r3 < 1e-5, "%s: rbackward_f32 vs float64 "
                          "(full %d, rx %s): rgx %.3g, hw %.3g, hb %.3g", what, full,
                          moved ? "given" : "NULL", r1, r2, r3);
                free(rgx); free(hw); free(hb); free(rgx32); free(hw32); free(hb32);
            }
            free(ry); free(ry32);
        }
        free(x); free(w); free(rx); free(vw); free(gy); free(rgy); free(bias); free(vb);
        problem_free(&p);
    }
}

/* ---- infer's refusals --------------------------------------------------- */

static void expect_refusal(minima_node n, minima_shape in, minima_status want, const char *what,
                           const char *word)
{
    const minima_shape *ins[2] = {&in, &in};
    minima_status st = layer_conv2d.infer(&n, ins, LABEL);
    CHECK_MSG(st == want, "%s: infer returned %s (%s), expected %s", what, minima_strerror(st),
              minima_last_error(), minima_strerror(want));
    const char *msg = minima_last_error();
    if (!msg) msg = "";
    CHECK_MSG(strstr(msg, LABEL), "%s: message does not name the node: %s", what, msg);
    CHECK_MSG(strstr(msg, word), "%s: message does not say '%s': %s", what, word, msg);
}

static void test_infer_refuses(void)
{
    minima_shape img = {3, 4, 8, 8};
    cfg base = {"base", 4, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 1, 1};
    minima_node n = node_of(&base);
    {
        const minima_shape *ins[2] = {&img, &img};
        minima_node ok = n;
        CHECK_OK(layer_conv2d.infer(&ok, ins, LABEL));
    }
    expect_refusal(n, (minima_shape){1, 256, 1, 1}, MINIMA_ESHAPE, "flat input", "CxHxW");
    expect_refusal(n, (minima_shape){3, 4, 0, 8}, MINIMA_ESHAPE, "empty input", "4x0x8");
    minima_node m;
    m = n; m.stride[0] = 0; expect_refusal(m, img, MINIMA_EINVAL, "stride 0", "stride");
    m = n; m.stride[1] = -1; expect_refusal(m, img, MINIMA_EINVAL, "stride -1", "-1");
    m = n; m.dilation[1] = 0; expect_refusal(m, img, MINIMA_EINVAL, "dilation 0", "dilation");
    m = n; m.kernel[0] = 0; expect_refusal(m, img, MINIMA_EINVAL, "kernel 0", "kernel");
    m = n; m.padding[1] = -2; expect_refusal(m, img, MINIMA_EINVAL, "padding -2", "padding");
    m = n; m.groups = 0; expect_refusal(m, img, MINIMA_EINVAL, "groups 0", "groups");
    m = n; m.groups = 3; m.out = 6;
    expect_refusal(m, img, MINIMA_ESHAPE, "in channels not divisible", "4x8x8");
    m = n; m.out = 5; expect_refusal(m, img, MINIMA_EINVAL, "out channels not divisible", "5");
    m = n; m.out = 0; expect_refusal(m, img, MINIMA_EINVAL, "out 0", "output channels");
    m = n; m.kernel[0] = 11; expect_refusal(m, img, MINIMA_ESHAPE, "kernel too tall", "height");
    m = n; m.kernel[1] = 4; m.dilation[1] = 3; m.padding[1] = 0;
    expect_refusal(m, img, MINIMA_ESHAPE, "dilated kernel too wide", "width");
    m = n; m.out = 200000; m.groups = 1; m.padding[0] = m.padding[1] = 20;
    expect_refusal(m, img, MINIMA_ESHAPE, "output too large", "more than 1e8");
    m = n; m.padding[0] = m.padding[1] = 30000; m.stride[0] = m.stride[1] = 30000;
    expect_refusal(m, img, MINIMA_ESHAPE, "padded plane too large", "padded input plane");
    m = n; m.out = 100000; m.groups = 1; m.kernel[0] = m.kernel[1] = 9;
    expect_refusal(m, (minima_shape){3, 4000, 9, 9}, MINIMA_EINVAL, "too many weights", "weights");
    /* exactly fits: kernel 10 over 8 + 2 padding gives 1 x 1 */
    m = n; m.kernel[0] = m.kernel[1] = 10;
    const minima_shape *ins[2] = {&img, &img};
    CHECK_OK(layer_conv2d.infer(&m, ins, LABEL));
    CHECK(m.shape.h == 1 && m.shape.w == 1);
}

/* A graph with conv2d nodes is checked through the kind: shapes chain and
 * the parameters are counted and laid out as PyTorch's. */
static void test_graph(void)
{
    minima_node nodes[5];
    nodes[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    nodes[0].shape = (minima_shape){3, 1, 28, 28};
    nodes[1] = minima_node_make(MINIMA_NODE_CONV2D, 0);
    nodes[1].out = 32;
    nodes[1].kernel[0] = nodes[1].kernel[1] = 3;
    nodes[1].padding[0] = nodes[1].padding[1] = 1;
    nodes[2] = minima_node_make(MINIMA_NODE_CONV2D, 1);
    nodes[2].out = 8;
    nodes[2].kernel[0] = nodes[2].kernel[1] = 3;
    nodes[2].stride[0] = nodes[2].stride[1] = 2;
    nodes[2].groups = 8;
    nodes[2].has_bias = 0;
    nodes[3] = minima_node_make(MINIMA_NODE_FLATTEN, 2);
    nodes[4] = minima_node_make(MINIMA_NODE_LINEAR, 3);
    nodes[4].out = 10;
    minima_model *m = NULL;
    CHECK_OK(minima_model_create_graph(&m, 5, nodes));
    if (!m) return;
    const minima_node *c1 = &m->nodes[1], *c2 = &m->nodes[2];
    CHECK(c1->shape.c == 32 && c1->shape.h == 28 && c1->shape.w == 28);
    CHECK(c2->shape.c == 8 && c2->shape.h == 13 && c2->shape.w == 13);
    CHECK(c1->n_weight == 32 * 9 && c1->n_bias == 32);
    CHECK(c2->n_weight == 8 * 4 * 9 && c2->n_bias == 0);
    CHECK(c1->weight_offset == 0 && c1->bias_offset == 288 && c2->weight_offset == 320);
    CHECK(m->n_params == 288 + 32 + 288 + 8 * 13 * 13 * 10 + 10);
    minima_model_free(m);

    /* a bad conv node fails the graph with the node named */
    nodes[2].groups = 3;
    m = NULL;
    CHECK_STATUS(minima_model_create_graph(&m, 5, nodes), MINIMA_ESHAPE);
    CHECK_MSG(strstr(minima_last_error(), "node 2 (conv2d)") != NULL, "message: %s",
              minima_last_error());
    minima_model_free(m);
}

/* The registry knows the kind. */
static void test_registry(void)
{
    CHECK(layer_kind_of(MINIMA_NODE_CONV2D) == &layer_conv2d);
    CHECK(strcmp(layer_conv2d.name, minima_node_kind_name(MINIMA_NODE_CONV2D)) == 0);
    CHECK(layer_conv2d.needs == (LAYER_NEEDS_X | LAYER_NEEDS_GY));
}

int main(void)
{
    RUN(test_registry);
    RUN(test_forward_naive);
    RUN(test_forward_pytorch);
    RUN(test_backward);
    RUN(test_rforward);
    RUN(test_rbackward);
    RUN(test_f32);
    RUN(test_infer_refuses);
    RUN(test_graph);
    return harness_report();
}
