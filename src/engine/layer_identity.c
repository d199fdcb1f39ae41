/* layer_identity.c — y = x (nn.Identity): a place holder that keeps a
 * module's name, for example a shortcut without a projection. */
#include <string.h>

#include "engine/layer.h"
#include "engine/layer_elementwise.h"

static size_t values(const minima_node *node, size_t b)
{
    return b * minima_shape_size(node->shape);
}

static void identity_forward(const layer_call_f64 *c, double *y)
{
    ew_f64(EW_COPY, values(c->node, c->b), (ew_args){.x = c->x[0], .out = y});
}

static void add_into_f64(const double *in, double *out, size_t n)
{
    ew_f64(EW_ADD, n, (ew_args){.x = in, .out = out});
}

static void identity_backward(const layer_call_f64 *c, const double *gy, double *gx[2],
                              double *gw, double *gb)
{
    if (gx[0]) add_into_f64(gy, gx[0], values(c->node, c->b));
}

static void identity_rforward(const layer_call_f64 *c, const double *rx[2], const double *vw,
                              const double *vb, double *ry)
{
    size_t n = values(c->node, c->b);
    ew_f64(rx[0] ? EW_COPY : EW_ZERO, n, (ew_args){.x = rx[0], .out = ry});
}

static void identity_rbackward(const layer_call_f64 *c, const double *gy, const double *rgy,
                               const double *rx[2], const double *vw, int full, double *rgx[2],
                               double *hw, double *hb)
{
    if (rgx[0]) add_into_f64(rgy, rgx[0], values(c->node, c->b));
}

/* Blocks (engine/layer.h): a copy does not care how the rows are laid out. */
static void identity_rforward_block(const layer_call_f64 *c, size_t nb, const double *rx[2],
                                    const double *vw, const double *vb, double *ry)
{
    size_t n = values(c->node, c->b) * nb;
    if (rx[0]) memcpy(ry, rx[0], n * sizeof(double));
    else memset(ry, 0, n * sizeof(double));
}

static void identity_rbackward_block(const layer_call_f64 *c, size_t nb, const double *gy,
                                     const double *rgy, const double *rx[2], const double *vw,
                                     int full, double *rgx[2], double *hw, double *hb)
{
    if (rgx[0]) add_into_f64(rgy, rgx[0], values(c->node, c->b) * nb);
}

static void identity_rforward_f32(const layer_call_f32 *c, const float *rx[2], const float *vw,
                                  const float *vb, float *ry)
{
    size_t n = values(c->node, c->b);
    ew_f32(rx[0] ? EW_COPY : EW_ZERO, n, (ew_args){.x = rx[0], .out = ry});
}

static void identity_rbackward_f32(const layer_call_f32 *c, const float *gy, const float *rgy,
                                   const float *rx[2], const float *vw, int full, float *rgx[2],
                                   float *hw, float *hb)
{
    if (rgx[0]) ew_f32(EW_ADD, values(c->node, c->b), (ew_args){.x = rgy, .out = rgx[0]});
}

const layer_kind layer_identity = {
    .kind = MINIMA_NODE_IDENTITY,
    .name = "identity",
    .n_inputs = 1,
    .infer = layer_elementwise_infer,
    .forward = identity_forward,
    .backward = identity_backward,
    .rforward = identity_rforward,
    .rbackward = identity_rbackward,
    .rforward_f32 = identity_rforward_f32,
    .rbackward_f32 = identity_rbackward_f32,
    .rforward_block = identity_rforward_block,
    .rbackward_block = identity_rbackward_block,
};
