/* layer_flatten.c — C x H x W -> flat C*H*W (nn.Flatten).
 *
 * Values are stored in NCHW order, so flattening moves nothing: every pass
 * copies (forward) or adds (backward) the values as they are. */
#include <string.h>

#include "engine/layer.h"

static minima_status flatten_infer(minima_node *node, const minima_shape *in[2], const char *label)
{
    (void)label;
    node->shape = (minima_shape){1, (int)minima_shape_size(*in[0]), 1, 1};
    node->n_weight = node->n_bias = 0;
    return MINIMA_OK;
}

static size_t values(const minima_node *node, size_t b)
{
    return b * minima_shape_size(node->shape);
}

static void flatten_forward(const layer_call_f64 *c, double *y)
{
    memcpy(y, c->x[0], values(c->node, c->b) * sizeof(double));
}

static void flatten_backward(const layer_call_f64 *c, const double *gy, double *gx[2], double *gw,
                             double *gb)
{
    if (!gx[0]) return;
    size_t n = values(c->node, c->b);
    for (size_t i = 0; i < n; i++) gx[0][i] += gy[i];
}

static void flatten_rforward(const layer_call_f64 *c, const double *rx[2], const double *vw,
                             const double *vb, double *ry)
{
    size_t n = values(c->node, c->b);
    if (rx[0]) memcpy(ry, rx[0], n * sizeof(double));
    else memset(ry, 0, n * sizeof(double));
}

static void flatten_rbackward(const layer_call_f64 *c, const double *gy, const double *rgy,
                              const double *rx[2], const double *vw, int full, double *rgx[2],
                              double *hw, double *hb)
{
    if (!rgx[0]) return;
    size_t n = values(c->node, c->b);
    for (size_t i = 0; i < n; i++) rgx[0][i] += rgy[i];
}

static void flatten_rforward_f32(const layer_call_f32 *c, const float *rx[2], const float *vw,
                                 const float *vb, float *ry)
{
    size_t n = values(c->node, c->b);
    if (rx[0]) memcpy(ry, rx[0], n * sizeof(float));
    else memset(ry, 0, n * sizeof(float));
}

static void flatten_rbackward_f32(const layer_call_f32 *c, const float *gy, const float *rgy,
                                  const float *rx[2], const float *vw, int full, float *rgx[2],
                                  float *hw, float *hb)
{
    if (!rgx[0]) return;
    size_t n = values(c->node, c->b);
    for (size_t i = 0; i < n; i++) rgx[0][i] += rgy[i];
}

const layer_kind layer_flatten = {
    .kind = MINIMA_NODE_FLATTEN,
    .name = "flatten",
    .n_inputs = 1,
    .infer = flatten_infer,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .rforward = flatten_rforward,
    .rbackward = flatten_rbackward,
    .rforward_f32 = flatten_rforward_f32,
    .rbackward_f32 = flatten_rbackward_f32,
};
