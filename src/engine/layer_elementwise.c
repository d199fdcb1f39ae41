/* layer_elementwise.c — shape rule shared by the elementwise kinds. */
#include "engine/layer_elementwise.h"

minima_status layer_elementwise_infer(minima_node *node, const minima_shape *in[2],
                                      const char *label)
{
    (void)label;
    node->shape = *in[0];
    node->n_weight = node->n_bias = 0;
    return MINIMA_OK;
}

double layer_elementwise_flops(const minima_node *node, const minima_shape *in[2])
{
    return (double)minima_shape_size(*in[0]);
}
