/* layer_global_avgpool.c — global average pooling, as
 * nn.AdaptiveAvgPool2d(1) followed by nn.Flatten(): C x H x W -> flat C.
 *
 *   y[c] = (1 / (H W)) sum_{h, w} x[c, h, w]
 *
 * The output is rank 1 (C values), so a linear layer can read it directly.
 * The node's kernel, stride and padding are not read. Linear in x:
 *   backward   gx[c, h, w] += gy[c] / (H W)
 *   rforward   ry = the same mean of rx      (0 where rx is NULL)
 *   rbackward  rgx += the backward of rgy    (no second-order term)
 * The R-passes read nothing of the point: `needs` is 0. */
#include "engine/layer.h"

static minima_status global_avgpool_infer(minima_node *node, const minima_shape *in[2],
                                          const char *label)
{
    if (in[0]->rank != 3) {
        char s[64];
        minima_shape_string(*in[0], s, sizeof s);
        MINIMA_FAIL(MINIMA_ESHAPE, "%s: a global average pooling needs an image input "
                    "C x H x W, and its input is flat (%s)", label, s);
    }
    node->shape = (minima_shape){1, in[0]->c, 1, 1};
    node->n_weight = node->n_bias = 0;
    return MINIMA_OK;
}

/* One addition per input value, one division per channel. */
static double global_avgpool_flops(const minima_node *node, const minima_shape *in[2])
{
    return (double)minima_shape_size(*in[0]) + in[0]->c;
}

/* ---- float64 ---------------------------------------------------------- */

static void mean_f64(const minima_shape *in, size_t b, const double *x, double *y)
{
    size_t hw = (size_t)in->h * in->w, n = (size_t)in->c * b;
    double div = (double)hw;
    for (size_t r = 0; r < n; r++) {      /* r = example * C + channel */
        const double *xr = x + r * hw;
        double s = 0.0;
        for (size_t j = 0; j < hw; j++) s += xr[j];
        y[r] = s / div;
    }
}

/* gx += the transpose of the mean applied to gy. */
static void spread_f64(const minima_shape *in, size_t b, const double *gy, double *gx)
{
    size_t hw = (size_t)in->h * in->w, n = (size_t)in->c * b;
    double div = (double)hw;
    for (size_t r = 0; r < n; r++) {
        double *gr = gx + r * hw, v = gy[r] / div;
        for (size_t j = 0; j < hw; j++) gr[j] += v;
    }
}

static void global_avgpool_forward(const layer_call_f64 *c, double *y)
{
    mean_f64(c->in_shape[0], c->b, c->x[0], y);
}

static void global_avgpool_backward(const layer_call_f64 *c, const double *gy, double *gx[2],
                                    double *gw, double *gb)
{
    if (gx[0]) spread_f64(c->in_shape[0], c->b, gy, gx[0]);
}

static void global_avgpool_rforward(const layer_call_f64 *c, const double *rx[2],
                                    const double *vw, const double *vb, double *ry)
{
    if (rx[0]) {
        mean_f64(c->in_shape[0], c->b, rx[0], ry);
        return;
    }
    size_t n = c->b * (size_t)c->in_shape[0]->c;
    for (size_t r = 0; r < n; r++) ry[r] = 0.0;
}

static void global_avgpool_rbackward(const layer_call_f64 *c, const double *gy, const double *rgy,
                                     const double *rx[2], const double *vw, int full,
                                     double *rgx[2], double *hw, double *hb)
{
    if (rgx[0]) spread_f64(c->in_shape[0], c->b, rgy, rgx[0]);
}

/* ---- float32: the same R-passes in single precision -------------------- */

static void mean_f32(const minima_shape *in, size_t b, const float *x, float *y)
{
    size_t hw = (size_t)in->h * in->w, n = (size_t)in->c * b;
    float div = (float)hw;
    for (size_t r = 0; r < n; r++) {
        const float *xr = x + r * hw;
        float s = 0.0f;
        for (size_t j = 0; j < hw; j++) s += xr[j];
        y[r] = s / div;
    }
}

static void spread_f32(const minima_shape *in, size_t b, const float *gy, float *gx)
{
    size_t hw = (size_t)in->h * in->w, n = (size_t)in->c * b;
    float div = (float)hw;
    for (size_t r = 0; r < n; r++) {
        float *gr = gx + r * hw, v = gy[r] / div;
        for (size_t j = 0; j < hw; j++) gr[j] += v;
    }
}

static void global_avgpool_rforward_f32(const layer_call_f32 *c, const float *rx[2],
                                        const float *vw, const float *vb, float *ry)
{
    if (rx[0]) {
        mean_f32(c->in_shape[0], c->b, rx[0], ry);
        return;
    }
    size_t n = c->b * (size_t)c->in_shape[0]->c;
    for (size_t r = 0; r < n; r++) ry[r] = 0.0f;
}

static void global_avgpool_rbackward_f32(const layer_call_f32 *c, const float *gy,
                                         const float *rgy, const float *rx[2], const float *vw,
                                         int full, float *rgx[2], float *hw, float *hb)
{
    if (rgx[0]) spread_f32(c->in_shape[0], c->b, rgy, rgx[0]);
}

const layer_kind layer_global_avgpool = {
    .kind = MINIMA_NODE_GLOBAL_AVGPOOL,
    .name = "global_avgpool",
    .n_inputs = 1,
    .needs = 0,
    .infer = global_avgpool_infer,
    .flops = global_avgpool_flops,
    .forward = global_avgpool_forward,
    .backward = global_avgpool_backward,
    .rforward = global_avgpool_rforward,
    .rbackward = global_avgpool_rbackward,
    .rforward_f32 = global_avgpool_rforward_f32,
    .rbackward_f32 = global_avgpool_rbackward_f32,
};
