/* measure_graph_impl.h — what the measures defined on layers need to run on
 * a graph (minima/model.h): the number of linear/conv2d nodes on the paths
 * from the input to each node, and the values of one node (the features a
 * measure reads, e.g. the input of the last layer) computed by the engine.
 * Not part of the public API. */
#ifndef MINIMA_MEASURE_GRAPH_IMPL_H
#define MINIMA_MEASURE_GRAPH_IMPL_H

#include <stddef.h>

#include "minima/model.h"
#include "minima/status.h"

/* For every node i, the least and the largest number of linear/conv2d nodes
 * on a path from the input (node 0) to node i, node i included: dmin and
 * dmax (n_nodes each). For a multilayer perceptron both are k at the k-th
 * linear node. */
void minima_mgraph_depths(const minima_model *m, int *dmin, int *dmax);

/* anc[i] = 1 when node i lies on a path from the input to node `target`
 * (target and the input included), else 0 (n_nodes values). */
void minima_mgraph_ancestors(const minima_model *m, int target, unsigned char *anc);

/* The values of one node of a model, for examples given as rows, by the
 * engine: the model made of nodes 0..node (a node's value depends on earlier
 * nodes only, and their parameters are the first ones of theta), run by
 * minima_eval_outputs. When those nodes hold no parameter (the engine runs
 * no such model) a linear head with the identity matrix is appended, which
 * returns its input unchanged (x * 1 + 0 * others, exact). Node 0 is the
 * input itself (copied). The node's output must be flat (rank 1). */
typedef struct {
    const minima_model *model;
    int node;
    minima_model *sub;     /* NULL for node 0 */
    int head;              /* 1: sub has the identity head (its own theta is used) */
    size_t n_in, n_out;    /* values per example in and out */
} minima_mgraph_values;

minima_status minima_mgraph_values_init(minima_mgraph_values *v, const minima_model *m, int node,
                                        const char *what);
/* out (n, n_out): the node's values of x (n, n_in) at theta (the model's P
 * values). */
minima_status minima_mgraph_values_run(const minima_mgraph_values *v, const double *theta,
                                       const double *x, size_t n, double *out);
void minima_mgraph_values_free(minima_mgraph_values *v);

#endif
