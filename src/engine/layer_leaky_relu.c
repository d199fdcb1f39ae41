/* layer_leaky_relu.c — y = max(x, a x) with slope 0 < a < 1 (nn.LeakyReLU).
 *
 * Positively homogeneous like ReLU. The derivative is 1 where x > 0 and a
 * elsewhere (a at x = 0, as PyTorch); forward records which, one byte per
 * value (aux), for the R-passes. The second derivative is 0 almost
 * everywhere. */
#include <math.h>

#include "engine/layer.h"
#include "engine/layer_elementwise.h"

static minima_status leaky_infer(minima_node *node, const minima_shape *in[2], const char *label)
{
    if (!(node->slope > 0 && node->slope < 1))
        MINIMA_FAIL(MINIMA_EINVAL, "%s: a leaky ReLU needs a slope between 0 and 1 (exclusive), "
                    "got %g", label, node->slope);
    return layer_elementwise_infer(node, in, label);
}

static size_t leaky_aux_bytes(const minima_node *node, const minima_shape *in[2])
{
    return minima_shape_size(*in[0]);
}

static void leaky_forward(const layer_call_f64 *c, double *y)
{
    size_t n = c->b * minima_shape_size(c->node->shape);
    ew_f64(EW_LEAKY, n, (ew_args){.x = c->x[0], .on = c->aux, .out = y, .a = c->node->slope});
}

/* out += phi'(x) * in, phi' read from the recorded signs. */
static void leaky_scale_f64(const layer_call_f64 *c, const double *in, double *out)
{
    size_t n = c->b * minima_shape_size(c->node->shape);
    ew_f64(EW_LEAKY_ADD, n, (ew_args){.x = in, .on = c->aux, .out = out, .a = c->node->slope});
}

static void leaky_backward(const layer_call_f64 *c, const double *gy, double *gx[2], double *gw,
                           double *gb)
{
    if (gx[0]) leaky_scale_f64(c, gy, gx[0]);
}

static void leaky_rforward(const layer_call_f64 *c, const double *rx[2], const double *vw,
                           const double *vb, double *ry)
{
    size_t n = c->b * minima_shape_size(c->node->shape);
    if (!rx[0]) ew_f64(EW_ZERO, n, (ew_args){.out = ry});
    else ew_f64(EW_LEAKY_SET, n, (ew_args){.x = rx[0], .on = c->aux, .out = ry,
                                           .a = c->node->slope});
}

static void leaky_rbackward(const layer_call_f64 *c, const double *gy, const double *rgy,
                            const double *rx[2], const double *vw, int full, double *rgx[2],
                            double *hw, double *hb)
{
    if (rgx[0]) leaky_scale_f64(c, rgy, rgx[0]);
}

/* Blocks (engine/layer.h): all nb directions of example r use its signs. */
static void leaky_rforward_block(const layer_call_f64 *c, size_t nb, const double *rx[2],
                                 const double *vw, const double *vb, double *ry)
{
    size_t sz = minima_shape_size(c->node->shape);
    double a = c->node->slope;
    const unsigned char *on = c->aux;
    for (size_t r = 0; r < c->b; r++)
        for (size_t j = 0; j < nb; j++) {
            double *out = ry + (r * nb + j) * sz;
            const unsigned char *o = on + r * sz;
            if (!rx[0]) {
                for (size_t i = 0; i < sz; i++) out[i] = 0.0;
                continue;
            }
            const double *in = rx[0] + (r * nb + j) * sz;
            for (size_t i = 0; i < sz; i++) out[i] = o[i] ? in[i] : a * in[i];
        }
}

static void leaky_rbackward_block(const layer_call_f64 *c, size_t nb, const double *gy,
                                  const double *rgy, const double *rx[2], const double *vw,
                                  int full, double *rgx[2], double *hw, double *hb)
{
    if (!rgx[0]) return;
    size_t sz = minima_shape_size(c->node->shape);
    double a = c->node->slope;
    const unsigned char *on = c->aux;
    for (size_t r = 0; r < c->b; r++)
        for (size_t j = 0; j < nb; j++) {
            const double *in = rgy + (r * nb + j) * sz;
            double *out = rgx[0] + (r * nb + j) * sz;
            const unsigned char *o = on + r * sz;
            for (size_t i = 0; i < sz; i++) out[i] += o[i] ? in[i] : a * in[i];
        }
}

static void leaky_rforward_f32(const layer_call_f32 *c, const float *rx[2], const float *vw,
                               const float *vb, float *ry)
{
    size_t n = c->b * minima_shape_size(c->node->shape);
    if (!rx[0]) ew_f32(EW_ZERO, n, (ew_args){.out = ry});
    else ew_f32(EW_LEAKY_SET, n, (ew_args){.x = rx[0], .on = c->aux, .out = ry,
                                           .a = c->node->slope});
}

static void leaky_rbackward_f32(const layer_call_f32 *c, const float *gy, const float *rgy,
                                const float *rx[2], const float *vw, int full, float *rgx[2],
                                float *hw, float *hb)
{
    if (!rgx[0]) return;
    size_t n = c->b * minima_shape_size(c->node->shape);
    ew_f32(EW_LEAKY_ADD, n, (ew_args){.x = rgy, .on = c->aux, .out = rgx[0],
                                      .a = c->node->slope});
}

const layer_kind layer_leaky_relu = {
    .kind = MINIMA_NODE_LEAKY_RELU,
    .name = "leaky_relu",
    .n_inputs = 1,
    .needs = 0,
    .infer = leaky_infer,
    .aux_bytes = leaky_aux_bytes,
    .flops = layer_elementwise_flops,
    .forward = leaky_forward,
    .backward = leaky_backward,
    .rforward = leaky_rforward,
    .rbackward = leaky_rbackward,
    .rforward_f32 = leaky_rforward_f32,
    .rbackward_f32 = leaky_rbackward_f32,
    .rforward_block = leaky_rforward_block,
    .rbackward_block = leaky_rbackward_block,
};
