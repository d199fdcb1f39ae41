/* layer_avgpool2d.c — average pooling, as nn.AvgPool2d(kernel, stride,
 * padding) with count_include_pad=True, floor mode, no divisor_override.
 *
 * Input C x H x W, output C x Ho x Wo with Ho = floor((H + 2 ph - kh) / sh)
 * + 1 (Wo likewise). Output (c, oh, ow) is the sum of channel c's input
 * values in the window of rows oh*sh - ph .. oh*sh - ph + kh - 1 and
 * columns ow*sw - pw .. ow*sw - pw + kw - 1 (padding counts as zeros),
 * divided by kh*kw:
 *
 *   y[c, oh, ow] = (1 / (kh kw)) sum_{ih, iw in the window, inside} x[c, ih, iw]
 *
 * The divisor. PyTorch divides by the size of the window clipped to the
 * padded input, (min(a + kh, H + ph) - a) (min(b + kw, W + pw) - b) with
 * a = oh*sh - ph, b = ow*sw - pw. In floor mode the last window ends at
 * (Ho - 1) sh - ph + kh <= H + ph, so no window passes the padded input and
 * the divisor is always kh*kw, padded windows included (a 3x3 window with
 * padding 1 at a corner averages its 4 inside values over 9).
 *
 * Linear in x, so J is the operator itself:
 *   backward   gx[window] += gy / (kh kw), for every output
 *   rforward   ry = the same average of rx   (0 where rx is NULL)
 *   rbackward  rgx += the backward of rgy    (no second-order term)
 * The R-passes read nothing of the point: `needs` is 0. */
#include "engine/layer_pool.h"

static minima_status avgpool2d_infer(minima_node *node, const minima_shape *in[2],
                                     const char *label)
{
    return layer_pool_infer(node, in, label, "an average pooling");
}

/* kh*kw additions and one division per output value. */
static double avgpool2d_flops(const minima_node *node, const minima_shape *in[2])
{
    return (double)minima_shape_size(node->shape) * (node->kernel[0] * (double)node->kernel[1] + 1);
}

/* ---- float64 ---------------------------------------------------------- */

/* out = average pooling of in, b examples. */
static void average_f64(const layer_pool_geom *g, size_t b, const double *in, double *out)
{
    size_t nin = (size_t)g->c * g->h * g->w, nout = (size_t)g->c * g->ho * g->wo;
    double div = (double)g->kh * g->kw;
    for (size_t i = 0; i < b; i++) {
        const double *x = in + i * nin;
        double *y = out + i * nout;
        for (int ch = 0; ch < g->c; ch++) {
            const double *xc = x + (size_t)ch * g->h * g->w;
            for (int oh = 0; oh < g->ho; oh++)
                for (int ow = 0; ow < g->wo; ow++) {
                    int h0, h1, w0, w1;
                    layer_pool_window(g, oh, ow, &h0, &h1, &w0, &w1);
                    double s = 0.0;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) s += xc[ih * g->w + iw];
                    *y++ = s / div;
                }
        }
    }
}

/* gin += the transpose of average pooling applied to gout, b examples. */
static void spread_f64(const layer_pool_geom *g, size_t b, const double *gout, double *gin)
{
    size_t nin = (size_t)g->c * g->h * g->w, nout = (size_t)g->c * g->ho * g->wo;
    double div = (double)g->kh * g->kw;
    for (size_t i = 0; i < b; i++) {
        double *gx = gin + i * nin;
        const double *gy = gout + i * nout;
        for (int ch = 0; ch < g->c; ch++) {
            double *gc = gx + (size_t)ch * g->h * g->w;
            for (int oh = 0; oh < g->ho; oh++)
                for (int ow = 0; ow < g->wo; ow++) {
                    int h0, h1, w0, w1;
                    layer_pool_window(g, oh, ow, &h0, &h1, &w0, &w1);
                    double v = *gy++ / div;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) gc[ih * g->w + iw] += v;
                }
        }
    }
}

static void avgpool2d_forward(const layer_call_f64 *c, double *y)
{
    layer_pool_geom g = layer_pool_geom_of(c->node, c->in_shape[0]);
    average_f64(&g, c->b, c->x[0], y);
}

static void avgpool2d_backward(const layer_call_f64 *c, const double *gy, double *gx[2],
                               double *gw, double *gb)
{
    if (!gx[0]) return;
    layer_pool_geom g = layer_pool_geom_of(c->node, c->in_shape[0]);
    spread_f64(&g, c->b, gy, gx[0]);
}

static void avgpool2d_rforward(const layer_call_f64 *c, const double *rx[2], const double *vw,
                               const double *vb, double *ry)
{
    layer_pool_geom g = layer_pool_geom_of(c->node, c->in_shape[0]);
    if (!rx[0]) {
        size_t n = c->b * minima_shape_size(c->node->shape);
        for (size_t o = 0; o < n; o++) ry[o] = 0.0;
        return;
    }
    average_f64(&g, c->b, rx[0], ry);
}

static void avgpool2d_rbackward(const layer_call_f64 *c, const double *gy, const double *rgy,
                                const double *rx[2], const double *vw, int full, double *rgx[2],
                                double *hw, double *hb)
{
    if (!rgx[0]) return;
    layer_pool_geom g = layer_pool_geom_of(c->node, c->in_shape[0]);
    spread_f64(&g, c->b, rgy, rgx[0]);
}

/* ---- float32: the same R-passes in single precision -------------------- */

static void average_f32(const layer_pool_geom *g, size_t b, const float *in, float *out)
{
    size_t nin = (size_t)g->c * g->h * g->w, nout = (size_t)g->c * g->ho * g->wo;
    float div = (float)g->kh * (float)g->kw;
    for (size_t i = 0; i < b; i++) {
        const float *x = in + i * nin;
        float *y = out + i * nout;
        for (int ch = 0; ch < g->c; ch++) {
            const float *xc = x + (size_t)ch * g->h * g->w;
            for (int oh = 0; oh < g->ho; oh++)
                for (int ow = 0; ow < g->wo; ow++) {
                    int h0, h1, w0, w1;
                    layer_pool_window(g, oh, ow, &h0, &h1, &w0, &w1);
                    float s = 0.0f;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) s += xc[ih * g->w + iw];
                    *y++ = s / div;
                }
        }
    }
}

static void spread_f32(const layer_pool_geom *g, size_t b, const float *gout, float *gin)
{
    size_t nin = (size_t)g->c * g->h * g->w, nout = (size_t)g->c * g->ho * g->wo;
    float div = (float)g->kh * (float)g->kw;
    for (size_t i = 0; i < b; i++) {
        float *gx = gin + i * nin;
        const float *gy = gout + i * nout;
        for (int ch = 0; ch < g->c; ch++) {
            float *gc = gx + (size_t)ch * g->h * g->w;
            for (int oh = 0; oh < g->ho; oh++)
                for (int ow = 0; ow < g->wo; ow++) {
                    int h0, h1, w0, w1;
                    layer_pool_window(g, oh, ow, &h0, &h1, &w0, &w1);
                    float v = *gy++ / div;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) gc[ih * g->w + iw] += v;
                }
        }
    }
}

static void avgpool2d_rforward_f32(const layer_call_f32 *c, const float *rx[2], const float *vw,
                                   const float *vb, float *ry)
{
    layer_pool_geom g = layer_pool_geom_of(c->node, c->in_shape[0]);
    if (!rx[0]) {
        size_t n = c->b * minima_shape_size(c->node->shape);
        for (size_t o = 0; o < n; o++) ry[o] = 0.0f;
        return;
    }
    average_f32(&g, c->b, rx[0], ry);
}

static void avgpool2d_rbackward_f32(const layer_call_f32 *c, const float *gy, const float *rgy,
                                    const float *rx[2], const float *vw, int full, float *rgx[2],
                                    float *hw, float *hb)
{
    if (!rgx[0]) return;
    layer_pool_geom g = layer_pool_geom_of(c->node, c->in_shape[0]);
    spread_f32(&g, c->b, rgy, rgx[0]);
}

const layer_kind layer_avgpool2d = {
    .kind = MINIMA_NODE_AVGPOOL2D,
    .name = "avgpool2d",
    .n_inputs = 1,
    .needs = 0,
    .infer = avgpool2d_infer,
    .flops = avgpool2d_flops,
    .forward = avgpool2d_forward,
    .backward = avgpool2d_backward,
    .rforward = avgpool2d_rforward,
    .rbackward = avgpool2d_rbackward,
    .rforward_f32 = avgpool2d_rforward_f32,
    .rbackward_f32 = avgpool2d_rbackward_f32,
};
