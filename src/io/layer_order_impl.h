/* layer_order_impl.h — which order the linear layers of a state dict run in
 * (internal to the library; used by safetensors.c).
 *
 * A state dict names its layers but does not say in which order they are
 * applied. Two things are known for sure:
 *
 *   - names that share a prefix and end in an integer ("0", "2", "4";
 *     "layers.0", "layers.1"; "features.0", "features.3"; "fc1", "fc2")
 *     are positions of one container (nn.Sequential, nn.ModuleList) or a
 *     numbered family, and run in the order of that integer;
 *   - shapes chain: in of each layer = out of the layer before it, and the
 *     first layer's in is the data's feature count when that is known.
 *
 * minima_layer_orders enumerates the orders that satisfy both, up to a
 * limit. The caller decides what to do with none, one or several. */
#ifndef MINIMA_LAYER_ORDER_IMPL_H
#define MINIMA_LAYER_ORDER_IMPL_H

#include <stdint.h>

#include "minima/status.h"

typedef struct {
    const char *name;          /* layer name, e.g. "features.0" */
    uint64_t in, out;          /* weight shape [out, in] */
} minima_layer_shape;

typedef struct {
    int n_found;               /* orders found (at most max_orders) */
    int truncated;             /* the search stopped early: more orders may exist */
    int index_only;            /* all layers are one numbered family: the index alone orders them */
} minima_layer_order_result;

/* Enumerates orders of the n layers (n >= 1) that respect the numbering
 * rule and chain (first_in = 0: the first layer's width is free). Writes
 * up to max_orders orders, each n layer indices, to orders[max_orders * n];
 * layers are tried in the natural order of their names, so the first order
 * found is the one closest to name order. The search looks at most
 * `budget` times at a candidate for the next position (truncated is then
 * set), which bounds its time on any file. Fails only on bad
 * arguments or memory. */
minima_status minima_layer_orders(const minima_layer_shape *layers, int n, uint64_t first_in,
                                  int max_orders, long budget, int *orders,
                                  minima_layer_order_result *result);

/* The length of the integer at the end of name (0 if it does not end in a digit). */
size_t minima_layer_index_digits(const char *name);

#endif
