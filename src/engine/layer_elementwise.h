/* engine/layer_elementwise.h — what the elementwise kinds (activations,
 * identity) share: the output has the input's shape. */
#ifndef MINIMA_ENGINE_LAYER_ELEMENTWISE_H
#define MINIMA_ENGINE_LAYER_ELEMENTWISE_H

#include "engine/layer.h"

/* node->shape = the input's shape; no parameters. */
minima_status layer_elementwise_infer(minima_node *node, const minima_shape *in[2],
                                      const char *label);
/* One operation per value. */
double layer_elementwise_flops(const minima_node *node, const minima_shape *in[2]);

#endif
