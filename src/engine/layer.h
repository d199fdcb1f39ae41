/* engine/layer.h — what each kind of node gives the engine.
 *
 * The engine (net.c) runs a model's graph over batches of examples. It
 * knows nothing of convolutions or pooling: for every node it calls the
 * functions of the node's kind, found in layer_registry.c, one file per
 * kind (layer_linear.c, layer_conv2d.c, ...). A new kind is a new file
 * defining a `layer_kind` and one line in the registry.
 *
 * Notation for one node y = f(x; w) over a batch of b examples, each
 * tensor (b, size) row-major, one example per row, values in NCHW order:
 *
 *   forward     y = f(x; w)
 *   backward    gx += J_x^T gy,   gw += J_w^T gy            (gradients)
 *   rforward    ry  = J_x rx + J_w v                       (R-operator:
 *               d/dt f(x + t rx; w + t v) at t = 0)
 *   rbackward   rgx += J_x^T rgy,  hw += J_w^T rgy          (always)
 *               and, when `full`, the second-order terms
 *               rgx += d/dt [J_x(x + t rx; w + t v)^T] gy,
 *               hw  += d/dt [J_w(x + t rx; w + t v)^T] gy
 *               (bilinear layers: J_x(v)^T gy and J_w(rx)^T gy;
 *               activations: f''(x) * rx * gy; zero for pooling and add).
 *
 * With full = 0 the backward R-pass is the plain backward pass applied to
 * R{gy}: the Gauss-Newton product. Everything accumulates (+=) so that a
 * node read by several others (a residual branch) sums its signals; the
 * engine zeroes the buffers. A NULL gx[k] or rgx[k] means the engine does
 * not need that input's signal (the data); a NULL rx[k] means R{x} = 0
 * (the data does not move); a NULL gw/hw means no parameter gradient is
 * wanted; gb/hb/vb/bias are NULL when the node has no bias.
 *
 * Which values exist. In the R-passes at a cached anchor the engine keeps
 * only what the kinds declare in `needs`: the inputs x when LAYER_NEEDS_X,
 * the output y when LAYER_NEEDS_Y, the signal gy when LAYER_NEEDS_GY (only
 * read when full is set), and the kind's aux (aux_bytes per example, filled
 * by forward: a max-pooling's argmax). Pointers to values not declared may
 * be NULL there and must not be read. In forward and backward every input
 * and the output are available.
 *
 * float32: the R-passes exist a second time in single precision (the
 * engine's float32 curvature products), written out, not generated, so
 * each is greppable and readable. forward/backward are float64 only.
 *
 * Blocks: rforward_block/rbackward_block (optional, float64) are the
 * R-passes for nb directions at once, for a block product H [v_1 ... v_nb].
 * Every R-tensor then holds the nb directions side by side per example:
 * (b, nb, size) row-major, direction j of example r at (r nb + j) size, so
 * that for a linear node R{X} is one (b nb, in) matrix and X [V_1 ... V_nb]^T
 * one GEMM with nb*out columns. vw, vb, hw, hb hold the nb directions one
 * after another: (nb, n_weight) and (nb, n_bias). The values at the anchor
 * (x, y, gy, aux) are those of the single passes, one per example. The
 * results equal nb single calls up to rounding. A kind without them is
 * called once per direction by the engine (gathering each direction).
 *
 * Scratch: scratch_bytes(b) bytes, 64-byte aligned, the kind's own for the
 * duration of one call (an im2col buffer); the engine sizes one arena for
 * the largest. Calls never allocate. */
#ifndef MINIMA_ENGINE_LAYER_H
#define MINIMA_ENGINE_LAYER_H

#include <stddef.h>

#include "minima/model.h"
#include "minima/status.h"

/* One call on one node, float64. */
typedef struct {
    const minima_model *model;
    const minima_node *node;
    const minima_shape *in_shape[2];   /* shapes of the node's inputs */
    size_t b;                          /* examples in the batch */
    const double *x[2];                /* inputs at the point */
    const double *y;                   /* output at the point (not in forward) */
    const double *w, *bias;            /* parameters at the point, NULL without */
    void *aux;                         /* aux_bytes per example, b of them */
    void *scratch;                     /* scratch_bytes(b) bytes */
} layer_call_f64;

/* The same in float32 (R-passes only). */
typedef struct {
    const minima_model *model;
    const minima_node *node;
    const minima_shape *in_shape[2];
    size_t b;
    const float *x[2];
    const float *y;
    const float *w, *bias;
    void *aux;
    void *scratch;
} layer_call_f32;

enum {
    LAYER_NEEDS_X = 1,     /* the R-passes read the inputs' values */
    LAYER_NEEDS_Y = 2,     /* the R-passes read the output's value */
    LAYER_NEEDS_GY = 4     /* the full R-backward reads the output's signal gy */
};

typedef struct {
    minima_node_kind kind;
    const char *name;                  /* as minima_node_kind_name */
    int n_inputs;                      /* 1, or 2 for add */
    int has_params;                    /* linear, conv2d */
    unsigned needs;                    /* LAYER_NEEDS_* */

    /* Check the node's settings against its inputs' shapes; set
     * node->shape, node->n_weight and node->n_bias (0 without a bias).
     * `label` names the node for messages ("node 3 (conv2d '0')"). */
    minima_status (*infer)(minima_node *node, const minima_shape *in[2], const char *label);
    /* Per-example bytes of state forward leaves for the R-passes (NULL: 0). */
    size_t (*aux_bytes)(const minima_node *node, const minima_shape *in[2]);
    /* Scratch bytes a call on b examples needs (NULL: 0). */
    size_t (*scratch_bytes)(const minima_node *node, const minima_shape *in[2], size_t b);
    /* FLOPs of forward for one example (for benchmarks and progress). */
    double (*flops)(const minima_node *node, const minima_shape *in[2]);

    void (*forward)(const layer_call_f64 *c, double *y);
    void (*backward)(const layer_call_f64 *c, const double *gy, double *gx[2], double *gw,
                     double *gb);
    void (*rforward)(const layer_call_f64 *c, const double *rx[2], const double *vw,
                     const double *vb, double *ry);
    void (*rbackward)(const layer_call_f64 *c, const double *gy, const double *rgy,
                      const double *rx[2], const double *vw, int full, double *rgx[2],
                      double *hw, double *hb);
    void (*rforward_f32)(const layer_call_f32 *c, const float *rx[2], const float *vw,
                         const float *vb, float *ry);
    void (*rbackward_f32)(const layer_call_f32 *c, const float *gy, const float *rgy,
                          const float *rx[2], const float *vw, int full, float *rgx[2],
                          float *hw, float *hb);
    void (*rforward_block)(const layer_call_f64 *c, size_t nb, const double *rx[2],
                           const double *vw, const double *vb, double *ry);
    void (*rbackward_block)(const layer_call_f64 *c, size_t nb, const double *gy,
                            const double *rgy, const double *rx[2], const double *vw, int full,
                            double *rgx[2], double *hw, double *hb);
} layer_kind;

/* The kind of a node (NULL for the input node or an unknown kind). */
const layer_kind *layer_kind_of(minima_node_kind kind);

/* The kinds, one per file. */
extern const layer_kind layer_linear;
extern const layer_kind layer_conv2d;
extern const layer_kind layer_maxpool2d;
extern const layer_kind layer_avgpool2d;
extern const layer_kind layer_global_avgpool;
extern const layer_kind layer_flatten;
extern const layer_kind layer_add;
extern const layer_kind layer_relu;
extern const layer_kind layer_leaky_relu;
extern const layer_kind layer_tanh;
extern const layer_kind layer_identity;

#endif
