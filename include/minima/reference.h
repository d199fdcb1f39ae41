/* minima/reference.h — a deliberately plain forward pass, independent of
 * the engine.
 *
 * The engine (minima/net.h) computes a network's outputs with BLAS, in
 * batches, through the kernels of src/engine/layer_*.c. This is a second
 * forward pass written only for clarity: one example at a time, plain
 * loops in float64, no BLAS, no code shared with the engine beyond the
 * model's description (its nodes, shapes and parameter offsets). It exists
 * so that results can be checked by a computation that does not share the
 * engine's code: the test suite compares the engine against it, and the
 * function-equivalence check of a transformed model
 * (minima_sym_check_equivalence) compares two models through it.
 *
 * It runs every node kind of minima/model.h: linear, conv2d (nn.Conv2d:
 * stride, zero padding, dilation, groups; weight [out, in/groups, kh, kw]),
 * maxpool2d (padding counts as -inf), avgpool2d (count_include_pad=True),
 * global_avgpool, flatten, add, relu, leaky_relu, tanh and identity.
 *
 * It is slow (no blocking, no vectorisation): not for hot loops. Anything
 * that computes with a network's outputs should use the engine. */
#ifndef MINIMA_REFERENCE_H
#define MINIMA_REFERENCE_H

#include <stddef.h>

#include "minima/model.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The outputs (n, n_outputs) of n examples x (n, n_inputs), one per row in
 * PyTorch's NCHW order, at theta (model->n_params values; NULL: the
 * model's own theta). MINIMA_EINVAL for a NULL argument, MINIMA_ENOMEM. */
minima_status minima_reference_forward(const minima_model *model, const double *theta,
                                       const double *x, size_t n, double *out);

#ifdef __cplusplus
}
#endif
#endif
