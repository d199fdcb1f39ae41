/* graph_load_impl.h — a state dict or a minima file into a given graph
 * (internal to the library; defined in safetensors.c).
 *
 * minima_model_load reads a graph model from an architecture string (the
 * file's __metadata__ "arch", or minima_load_options.arch) parsed by
 * minima_arch_parse; this is the same load with the graph already built,
 * for callers (and tests) that have one: `graph` gives the nodes, kinds,
 * settings, names and folded_batchnorm flags, and the file's tensors fill
 * its parameters exactly as minima_model_load fills those of a parsed
 * architecture (safetensors.h):
 *
 *   state_dict nonzero: a PyTorch state dict, tensors in the natural order
 *     of their module names filling the nodes in node order, BatchNorms
 *     after nodes with folded_batchnorm folded, every node's bias decided
 *     by the tensors; the nodes take their modules' names; order and
 *     activation sources "option".
 *   state_dict zero: a file minima wrote, "<node name>.weight"/".bias" by
 *     name (names from __metadata__ "layers" when present), biases as the
 *     graph says; sources "file".
 *
 * graph is not changed; *out is a new model (NULL on failure). */
#ifndef MINIMA_GRAPH_LOAD_IMPL_H
#define MINIMA_GRAPH_LOAD_IMPL_H

#include "minima/model.h"
#include "minima/safetensors.h"
#include "minima/status.h"

minima_status minima_model_load_graph(const char *path, const minima_load_options *opts,
                                      const minima_model *graph, int state_dict,
                                      minima_model **out);

#endif
