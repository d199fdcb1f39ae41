/* layer_relu.c — y = max(x, 0) (nn.ReLU), elementwise.
 *
 * The derivative is 1 where x > 0 and 0 elsewhere (0 at x = 0 exactly, as
 * PyTorch takes it). forward records it as one byte per value (aux), so
 * the R-passes read a byte instead of the output's eight: the output need
 * not be kept at the anchor unless a reader wants it. The second
 * derivative is 0 almost everywhere: no second-order term. */
#include "engine/layer.h"
#include "engine/layer_elementwise.h"

static size_t relu_aux_bytes(const minima_node *node, const minima_shape *in[2])
{
    return minima_shape_size(*in[0]);
}

static void relu_forward(const layer_call_f64 *c, double *y)
{
    size_t n = c->b * minima_shape_size(c->node->shape);
    ew_f64(EW_RELU, n, (ew_args){.x = c->x[0], .on = c->aux, .out = y});
}

/* out += on * in */
static void relu_mask_f64(const layer_call_f64 *c, const double *in, double *out)
{
    size_t n = c->b * minima_shape_size(c->node->shape);
    ew_f64(EW_MASK_ADD, n, (ew_args){.x = in, .on = c->aux, .out = out});
}

static void relu_backward(const layer_call_f64 *c, const double *gy, double *gx[2], double *gw,
                          double *gb)
{
    if (gx[0]) relu_mask_f64(c, gy, gx[0]);
}

static void relu_rforward(const layer_call_f64 *c, const double *rx[2], const double *vw,
                          const double *vb, double *ry)
{
    size_t n = c->b * minima_shape_size(c->node->shape);
    if (!rx[0]) ew_f64(EW_ZERO, n, (ew_args){.out = ry});
    else ew_f64(EW_MASK_SET, n, (ew_args){.x = rx[0], .on = c->aux, .out = ry});
}

static void relu_rbackward(const layer_call_f64 *c, const double *gy, const double *rgy,
                           const double *rx[2], const double *vw, int full, double *rgx[2],
                           double *hw, double *hb)
{
    if (rgx[0]) relu_mask_f64(c, rgy, rgx[0]);
}

/* Blocks (engine/layer.h): direction j of example r is the row r*nb + j of
 * the R-tensors; all nb directions use example r's mask. */
static void relu_rforward_block(const layer_call_f64 *c, size_t nb, const double *rx[2],
                                const double *vw, const double *vb, double *ry)
{
    size_t sz = minima_shape_size(c->node->shape);
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
            for (size_t i = 0; i < sz; i++) out[i] = o[i] ? in[i] : 0.0;
        }
}

static void relu_rbackward_block(const layer_call_f64 *c, size_t nb, const double *gy,
                                 const double *rgy, const double *rx[2], const double *vw,
                                 int full, double *rgx[2], double *hw, double *hb)
{
    if (!rgx[0]) return;
    size_t sz = minima_shape_size(c->node->shape);
    const unsigned char *on = c->aux;
    for (size_t r = 0; r < c->b; r++)
        for (size_t j = 0; j < nb; j++) {
            const double *in = rgy + (r * nb + j) * sz;
            double *out = rgx[0] + (r * nb + j) * sz;
            const unsigned char *o = on + r * sz;
            for (size_t i = 0; i < sz; i++) out[i] += o[i] ? in[i] : 0.0;
        }
}

static void relu_rforward_f32(const layer_call_f32 *c, const float *rx[2], const float *vw,
                              const float *vb, float *ry)
{
    size_t n = c->b * minima_shape_size(c->node->shape);
    if (!rx[0]) ew_f32(EW_ZERO, n, (ew_args){.out = ry});
    else ew_f32(EW_MASK_SET, n, (ew_args){.x = rx[0], .on = c->aux, .out = ry});
}

static void relu_rbackward_f32(const layer_call_f32 *c, const float *gy, const float *rgy,
                               const float *rx[2], const float *vw, int full, float *rgx[2],
                               float *hw, float *hb)
{
    if (!rgx[0]) return;
    size_t n = c->b * minima_shape_size(c->node->shape);
    ew_f32(EW_MASK_ADD, n, (ew_args){.x = rgy, .on = c->aux, .out = rgx[0]});
}

const layer_kind layer_relu = {
    .kind = MINIMA_NODE_RELU,
    .name = "relu",
    .n_inputs = 1,
    .needs = 0,
    .infer = layer_elementwise_infer,
    .aux_bytes = relu_aux_bytes,
    .flops = layer_elementwise_flops,
    .forward = relu_forward,
    .backward = relu_backward,
    .rforward = relu_rforward,
    .rbackward = relu_rbackward,
    .rforward_f32 = relu_rforward_f32,
    .rbackward_f32 = relu_rbackward_f32,
    .rforward_block = relu_rforward_block,
    .rbackward_block = relu_rbackward_block,
};
