/* layer_maxpool2d.c — max pooling, as nn.MaxPool2d(kernel, stride, padding)
 * with dilation 1 and floor mode.
 *
 * Input C x H x W, output C x Ho x Wo with Ho = floor((H + 2 ph - kh) / sh)
 * + 1 (Wo likewise). Output (c, oh, ow) is the largest input value of
 * channel c in the window of rows oh*sh - ph .. oh*sh - ph + kh - 1 and
 * columns ow*sw - pw .. ow*sw - pw + kw - 1; the padding is implicit -inf,
 * so it never wins, and since the padding is at most half the kernel (as
 * PyTorch requires) every window holds at least one input value.
 *
 * The argmax. forward stores, for every output value, the index of the
 * winning input value within the example's input tensor (c*H*W + ih*W + iw,
 * an int32_t) in aux: aux_bytes is 4 * C*Ho*Wo per example. The window is
 * scanned row by row, left to right; a value replaces the current winner
 * when it is strictly greater or when it is NaN. So among equal maxima the
 * first in scan order wins, a NaN beats every number (the output is NaN and
 * the last NaN of the window in scan order is the argmax), and a window of
 * -inf only has its first value as the argmax. This is PyTorch's CPU rule
 * (max_pool2d(..., return_indices=True) gives the same indices, per channel).
 *
 * Derivatives. Away from ties y is locally the selection y = x[argmax]:
 *   backward   gx[argmax] += gy
 *   rforward   ry = rx[argmax]           (0 where rx is NULL)
 *   rbackward  rgx[argmax] += rgy        (the selection is linear: no
 *              second-order term, `full` changes nothing)
 * At a tie this is the derivative of PyTorch's choice (the one-sided
 * derivative along directions that keep the first maximum the largest).
 * The R-passes read only aux, so `needs` is 0: at a cached anchor the
 * engine may pass c->x[0] and c->y NULL. */
#include <math.h>
#include <stdint.h>

#include "engine/layer_pool.h"

static minima_status maxpool2d_infer(minima_node *node, const minima_shape *in[2],
                                     const char *label)
{
    return layer_pool_infer(node, in, label, "a max pooling");
}

static size_t maxpool2d_aux_bytes(const minima_node *node, const minima_shape *in[2])
{
    return sizeof(int32_t) * minima_shape_size(node->shape);
}

/* One comparison per window value. */
static double maxpool2d_flops(const minima_node *node, const minima_shape *in[2])
{
    return (double)minima_shape_size(node->shape) * node->kernel[0] * node->kernel[1];
}

static void maxpool2d_forward(const layer_call_f64 *c, double *y)
{
    layer_pool_geom g = layer_pool_geom_of(c->node, c->in_shape[0]);
    size_t nin = minima_shape_size(*c->in_shape[0]), nout = minima_shape_size(c->node->shape);
    int32_t *arg = c->aux;
    for (size_t i = 0; i < c->b; i++) {
        const double *x = c->x[0] + i * nin;
        double *yi = y + i * nout;
        int32_t *ai = arg + i * nout;
        size_t o = 0;
        for (int ch = 0; ch < g.c; ch++) {
            const double *xc = x + (size_t)ch * g.h * g.w;
            int32_t base = (int32_t)((size_t)ch * g.h * g.w);
            for (int oh = 0; oh < g.ho; oh++)
                for (int ow = 0; ow < g.wo; ow++, o++) {
                    int h0, h1, w0, w1;
                    layer_pool_window(&g, oh, ow, &h0, &h1, &w0, &w1);
                    int best = h0 * g.w + w0;
                    double m = xc[best];
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) {
                            double v = xc[ih * g.w + iw];
                            if (v > m || isnan(v)) {
                                m = v;
                                best = ih * g.w + iw;
                            }
                        }
                    yi[o] = m;
                    ai[o] = base + best;
                }
        }
    }
}

static void maxpool2d_backward(const layer_call_f64 *c, const double *gy, double *gx[2],
                               double *gw, double *gb)
{
    if (!gx[0]) return;
    size_t nin = minima_shape_size(*c->in_shape[0]), nout = minima_shape_size(c->node->shape);
    const int32_t *arg = c->aux;
    for (size_t i = 0; i < c->b; i++) {
        double *g = gx[0] + i * nin;
        const double *gyi = gy + i * nout;
        const int32_t *ai = arg + i * nout;
        for (size_t o = 0; o < nout; o++) g[ai[o]] += gyi[o];
    }
}

static void maxpool2d_rforward(const layer_call_f64 *c, const double *rx[2], const double *vw,
                               const double *vb, double *ry)
{
    size_t nin = minima_shape_size(*c->in_shape[0]), nout = minima_shape_size(c->node->shape);
    if (!rx[0]) {
        for (size_t o = 0; o < c->b * nout; o++) ry[o] = 0.0;
        return;
    }
    const int32_t *arg = c->aux;
    for (size_t i = 0; i < c->b; i++) {
        const double *r = rx[0] + i * nin;
        double *ryi = ry + i * nout;
        const int32_t *ai = arg + i * nout;
        for (size_t o = 0; o < nout; o++) ryi[o] = r[ai[o]];
    }
}

static void maxpool2d_rbackward(const layer_call_f64 *c, const double *gy, const double *rgy,
                                const double *rx[2], const double *vw, int full, double *rgx[2],
                                double *hw, double *hb)
{
    if (!rgx[0]) return;
    size_t nin = minima_shape_size(*c->in_shape[0]), nout = minima_shape_size(c->node->shape);
    const int32_t *arg = c->aux;
    for (size_t i = 0; i < c->b; i++) {
        double *g = rgx[0] + i * nin;
        const double *r = rgy + i * nout;
        const int32_t *ai = arg + i * nout;
        for (size_t o = 0; o < nout; o++) g[ai[o]] += r[o];
    }
}

static void maxpool2d_rforward_f32(const layer_call_f32 *c, const float *rx[2], const float *vw,
                                   const float *vb, float *ry)
{
    size_t nin = minima_shape_size(*c->in_shape[0]), nout = minima_shape_size(c->node->shape);
    if (!rx[0]) {
        for (size_t o = 0; o < c->b * nout; o++) ry[o] = 0.0f;
        return;
    }
    const int32_t *arg = c->aux;
    for (size_t i = 0; i < c->b; i++) {
        const float *r = rx[0] + i * nin;
        float *ryi = ry + i * nout;
        const int32_t *ai = arg + i * nout;
        for (size_t o = 0; o < nout; o++) ryi[o] = r[ai[o]];
    }
}

static void maxpool2d_rbackward_f32(const layer_call_f32 *c, const float *gy, const float *rgy,
                                    const float *rx[2], const float *vw, int full, float *rgx[2],
                                    float *hw, float *hb)
{
    if (!rgx[0]) return;
    size_t nin = minima_shape_size(*c->in_shape[0]), nout = minima_shape_size(c->node->shape);
    const int32_t *arg = c->aux;
    for (size_t i = 0; i < c->b; i++) {
        float *g = rgx[0] + i * nin;
        const float *r = rgy + i * nout;
        const int32_t *ai = arg + i * nout;
        for (size_t o = 0; o < nout; o++) g[ai[o]] += r[o];
    }
}

const layer_kind layer_maxpool2d = {
    .kind = MINIMA_NODE_MAXPOOL2D,
    .name = "maxpool2d",
    .n_inputs = 1,
    .needs = 0,
    .infer = maxpool2d_infer,
    .aux_bytes = maxpool2d_aux_bytes,
    .flops = maxpool2d_flops,
    .forward = maxpool2d_forward,
    .backward = maxpool2d_backward,
    .rforward = maxpool2d_rforward,
    .rbackward = maxpool2d_rbackward,
    .rforward_f32 = maxpool2d_rforward_f32,
    .rbackward_f32 = maxpool2d_rbackward_f32,
};
