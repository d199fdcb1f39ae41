/* layer_tanh.c — y = tanh(x) (nn.Tanh), elementwise.
 *
 * Not positively homogeneous: it exists so that tests can break the
 * paper's hypotheses on purpose. phi' = 1 - y^2 and phi'' = -2 y (1 - y^2)
 * come from the output; the full R-backward adds phi''(x) R{x} gy, so it
 * reads the output's signal gy. */
#include <math.h>

#include "engine/layer.h"
#include "engine/layer_elementwise.h"
#include "engine/parallel.h"

typedef struct { const double *x; double *y; } tanh_task;

static void tanh_part(void *ctx, size_t b, size_t e)
{
    const tanh_task *t = ctx;
    for (size_t i = b; i < e; i++) t->y[i] = tanh(t->x[i]);
}

/* tanh from the C library, value by value, split among the engine's threads. */
static void tanh_forward(const layer_call_f64 *c, double *y)
{
    size_t n = c->b * minima_shape_size(c->node->shape);
    tanh_task t = {c->x[0], y};
    minima_par_for(n, 16, 8, tanh_part, &t);
}

/* out += (1 - y^2) * in */
static void tanh_scale_f64(const layer_call_f64 *c, const double *in, double *out)
{
    size_t n = c->b * minima_shape_size(c->node->shape);
    ew_f64(EW_DTANH_ADD, n, (ew_args){.x = in, .y = c->y, .out = out});
}

static void tanh_backward(const layer_call_f64 *c, const double *gy, double *gx[2], double *gw,
                          double *gb)
{
    if (gx[0]) tanh_scale_f64(c, gy, gx[0]);
}

static void tanh_rforward(const layer_call_f64 *c, const double *rx[2], const double *vw,
                          const double *vb, double *ry)
{
    size_t n = c->b * minima_shape_size(c->node->shape);
    if (rx[0]) ew_f64(EW_DTANH_SET, n, (ew_args){.x = rx[0], .y = c->y, .out = ry});
    else ew_f64(EW_ZERO, n, (ew_args){.out = ry});
}

static void tanh_rbackward(const layer_call_f64 *c, const double *gy, const double *rgy,
                           const double *rx[2], const double *vw, int full, double *rgx[2],
                           double *hw, double *hb)
{
    if (!rgx[0]) return;
    size_t n = c->b * minima_shape_size(c->node->shape);
    if (full && rx[0])   /* both terms in one pass, added in the same order */
        ew_f64(EW_DTANH_ADD2, n, (ew_args){.x = rgy, .y = c->y, .g = gy, .r = rx[0],
                                          .out = rgx[0]});
    else
        tanh_scale_f64(c, rgy, rgx[0]);
}

/* Blocks (engine/layer.h): all nb directions of example r use its y and gy. */
static void tanh_rforward_block(const layer_call_f64 *c, size_t nb, const double *rx[2],
                                const double *vw, const double *vb, double *ry)
{
    size_t sz = minima_shape_size(c->node->shape);
    for (size_t r = 0; r < c->b; r++)
        for (size_t j = 0; j < nb; j++) {
            double *out = ry + (r * nb + j) * sz;
            const double *y = c->y + r * sz;
            if (!rx[0]) {
                for (size_t i = 0; i < sz; i++) out[i] = 0.0;
                continue;
            }
            const double *in = rx[0] + (r * nb + j) * sz;
            for (size_t i = 0; i < sz; i++) out[i] = in[i] * (1.0 - y[i] * y[i]);
        }
}

static void tanh_rbackward_block(const layer_call_f64 *c, size_t nb, const double *gy,
                                 const double *rgy, const double *rx[2], const double *vw,
                                 int full, double *rgx[2], double *hw, double *hb)
{
    if (!rgx[0]) return;
    size_t sz = minima_shape_size(c->node->shape);
    for (size_t r = 0; r < c->b; r++)
        for (size_t j = 0; j < nb; j++) {
            size_t at = (r * nb + j) * sz;
            const double *y = c->y + r * sz, *in = rgy + at;
            double *out = rgx[0] + at;
            for (size_t i = 0; i < sz; i++) out[i] += in[i] * (1.0 - y[i] * y[i]);
            if (full && rx[0]) {
                const double *g = gy + r * sz, *rxi = rx[0] + at;
                for (size_t i = 0; i < sz; i++)
                    out[i] += g[i] * (-2.0 * y[i] * (1.0 - y[i] * y[i])) * rxi[i];
            }
        }
}

static void tanh_rforward_f32(const layer_call_f32 *c, const float *rx[2], const float *vw,
                              const float *vb, float *ry)
{
    size_t n = c->b * minima_shape_size(c->node->shape);
    if (rx[0]) ew_f32(EW_DTANH_SET, n, (ew_args){.x = rx[0], .y = c->y, .out = ry});
    else ew_f32(EW_ZERO, n, (ew_args){.out = ry});
}

static void tanh_rbackward_f32(const layer_call_f32 *c, const float *gy, const float *rgy,
                               const float *rx[2], const float *vw, int full, float *rgx[2],
                               float *hw, float *hb)
{
    if (!rgx[0]) return;
    size_t n = c->b * minima_shape_size(c->node->shape);
    if (full && rx[0])
        ew_f32(EW_DTANH_ADD2, n, (ew_args){.x = rgy, .y = c->y, .g = gy, .r = rx[0],
                                          .out = rgx[0]});
    else
        ew_f32(EW_DTANH_ADD, n, (ew_args){.x = rgy, .y = c->y, .out = rgx[0]});
}

const layer_kind layer_tanh = {
    .kind = MINIMA_NODE_TANH,
    .name = "tanh",
    .n_inputs = 1,
    .needs = LAYER_NEEDS_Y | LAYER_NEEDS_GY,
    .infer = layer_elementwise_infer,
    .flops = layer_elementwise_flops,
    .forward = tanh_forward,
    .backward = tanh_backward,
    .rforward = tanh_rforward,
    .rbackward = tanh_rbackward,
    .rforward_f32 = tanh_rforward_f32,
    .rbackward_f32 = tanh_rbackward_f32,
    .rforward_block = tanh_rforward_block,
    .rbackward_block = tanh_rbackward_block,
};
