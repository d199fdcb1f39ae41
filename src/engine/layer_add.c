/* layer_add.c — y = x1 + x2, a residual connection (x + body(x)).
 *
 * Both inputs must have the same shape. Linear: each input's signal is the
 * output's, and there is no second-order term. */
#include <string.h>

#include "engine/layer.h"

static minima_status add_infer(minima_node *node, const minima_shape *in[2], const char *label)
{
    if (in[0]->rank != in[1]->rank || in[0]->c != in[1]->c || in[0]->h != in[1]->h ||
        in[0]->w != in[1]->w) {
        char a[64], b[64];
        minima_shape_string(*in[0], a, sizeof a);
        minima_shape_string(*in[1], b, sizeof b);
        MINIMA_FAIL(MINIMA_ESHAPE, "%s: an add needs two inputs of the same shape, and they are "
                    "%s and %s", label, a, b);
    }
    node->shape = *in[0];
    node->n_weight = node->n_bias = 0;
    return MINIMA_OK;
}

static double add_flops(const minima_node *node, const minima_shape *in[2])
{
    return (double)minima_shape_size(*in[0]);
}

static size_t values(const minima_node *node, size_t b)
{
    return b * minima_shape_size(node->shape);
}

static void add_forward(const layer_call_f64 *c, double *y)
{
    size_t n = values(c->node, c->b);
    for (size_t i = 0; i < n; i++) y[i] = c->x[0][i] + c->x[1][i];
}

static void add_backward(const layer_call_f64 *c, const double *gy, double *gx[2], double *gw,
                         double *gb)
{
    size_t n = values(c->node, c->b);
    for (int k = 0; k < 2; k++)
        if (gx[k])
            for (size_t i = 0; i < n; i++) gx[k][i] += gy[i];
}

static void add_rforward(const layer_call_f64 *c, const double *rx[2], const double *vw,
                         const double *vb, double *ry)
{
    size_t n = values(c->node, c->b);
    memset(ry, 0, n * sizeof(double));
    for (int k = 0; k < 2; k++)
        if (rx[k])
            for (size_t i = 0; i < n; i++) ry[i] += rx[k][i];
}

static void add_rbackward(const layer_call_f64 *c, const double *gy, const double *rgy,
                          const double *rx[2], const double *vw, int full, double *rgx[2],
                          double *hw, double *hb)
{
    add_backward(c, rgy, rgx, NULL, NULL);
}

static void add_rforward_f32(const layer_call_f32 *c, const float *rx[2], const float *vw,
                             const float *vb, float *ry)
{
    size_t n = values(c->node, c->b);
    memset(ry, 0, n * sizeof(float));
    for (int k = 0; k < 2; k++)
        if (rx[k])
            for (size_t i = 0; i < n; i++) ry[i] += rx[k][i];
}

static void add_rbackward_f32(const layer_call_f32 *c, const float *gy, const float *rgy,
                              const float *rx[2], const float *vw, int full, float *rgx[2],
                              float *hw, float *hb)
{
    size_t n = values(c->node, c->b);
    for (int k = 0; k < 2; k++)
        if (rgx[k])
            for (size_t i = 0; i < n; i++) rgx[k][i] += rgy[i];
}

const layer_kind layer_add = {
    .kind = MINIMA_NODE_ADD,
    .name = "add",
    .n_inputs = 2,
    .infer = add_infer,
    .flops = add_flops,
    .forward = add_forward,
    .backward = add_backward,
    .rforward = add_rforward,
    .rbackward = add_rbackward,
    .rforward_f32 = add_rforward_f32,
    .rbackward_f32 = add_rbackward_f32,
};
