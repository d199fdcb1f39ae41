/* engine/arch_impl.h — the architecture grammar's first half, for the tests.
 *
 * minima_arch_parse (minima/model.h) is two steps: the string becomes a list
 * of nodes (arch_parse_nodes: the grammar, the names, the settings, every
 * error that the string alone shows), then minima_model_create_graph checks
 * the shapes and lays out the parameters. The first step needs no layer
 * kind to be built into the engine, so it is tested on its own. */
#ifndef MINIMA_ENGINE_ARCH_IMPL_H
#define MINIMA_ENGINE_ARCH_IMPL_H

#include "minima/model.h"

/* The nodes of an architecture string: node 0 is the input with its shape
 * set; the others have kind, inputs, settings, has_bias, folded_batchnorm
 * and name set (shapes and offsets are left to minima_model_create_graph).
 * Every name is allocated: release the list with arch_nodes_free. */
typedef struct {
    int n_nodes;
    minima_node *nodes;
} arch_nodes;

/* The general form "SHAPE:LAYER,..." only (a string without ':' is refused:
 * the MLP form is read by minima_arch_parse itself). has_bias = 0 makes
 * every linear and conv2d node bias-free unless a `bn` follows it. Fails
 * with MINIMA_EINVAL and a message naming the token, its character
 * position and what was expected. */
minima_status arch_parse_nodes(const char *arch, int has_bias, arch_nodes *out);
void arch_nodes_free(arch_nodes *a);

/* The deepest nesting of res(...) that the grammar reads. */
#define ARCH_MAX_DEPTH 64

#endif
