/* layer_registry.c — every kind of node the engine knows, by kind.
 * A new kind: its file layer_<kind>.c, its enum value in minima/model.h,
 * its `extern` in engine/layer.h, and one line here. */
#include "engine/layer.h"

static const layer_kind *const registry[MINIMA_NODE_KIND_COUNT] = {
    [MINIMA_NODE_LINEAR] = &layer_linear,
    [MINIMA_NODE_CONV2D] = &layer_conv2d,
    [MINIMA_NODE_MAXPOOL2D] = &layer_maxpool2d,
    [MINIMA_NODE_AVGPOOL2D] = &layer_avgpool2d,
    [MINIMA_NODE_GLOBAL_AVGPOOL] = &layer_global_avgpool,
    [MINIMA_NODE_FLATTEN] = &layer_flatten,
    [MINIMA_NODE_ADD] = &layer_add,
    [MINIMA_NODE_RELU] = &layer_relu,
    [MINIMA_NODE_LEAKY_RELU] = &layer_leaky_relu,
    [MINIMA_NODE_TANH] = &layer_tanh,
    [MINIMA_NODE_IDENTITY] = &layer_identity,
};

const layer_kind *layer_kind_of(minima_node_kind kind)
{
    if ((int)kind <= 0 || kind >= MINIMA_NODE_KIND_COUNT) return NULL;
    return registry[kind];
}
