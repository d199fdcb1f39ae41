/* net_eval_impl.h — the engine's forward pass for callers that hold plain
 * arrays rather than a data set, and the hidden activations of a
 * multilayer perceptron computed by the engine. Not part of the public API.
 *
 * The engine (minima/net.h) is the one forward pass that computes with a
 * network; minima/reference.h is the independent one that checks it. Code
 * that needs a network's outputs on examples it holds as an array (a
 * teacher's targets, predictions to compare) calls minima_eval_outputs;
 * code written for layers that needs every layer's activations (per-layer
 * measures, input Jacobians) calls minima_eval_layers_*, which runs each
 * linear layer through the engine as a one-layer network over the previous
 * layer's activations and applies the activation between them. */
#ifndef MINIMA_NET_EVAL_IMPL_H
#define MINIMA_NET_EVAL_IMPL_H

#include <stddef.h>

#include "minima/model.h"
#include "minima/status.h"

/* Outputs (n, n_outputs) of n examples x (n, n_inputs) at theta (NULL: the
 * model's), by the engine (minima_net_outputs on a net over x). */
minima_status minima_eval_outputs(const minima_model *model, const double *theta,
                                  const double *x, size_t n, double *out);

/* The layers of an MLP as one-layer models the engine runs. */
typedef struct {
    const minima_model *model;
    int K;
    minima_model **layer;   /* (K) layer k+1: widths d_k -> d_{k+1}, the model's biases */
    int32_t *labels;        /* placeholder class labels (rows), unread by the outputs */
    size_t rows;
} minima_eval_layers;

/* For up to `rows` examples at a time. MINIMA_EUNSUPPORTED for a model
 * that is not an MLP (names `what`). */
minima_status minima_eval_layers_init(minima_eval_layers *e, const minima_model *model,
                                      size_t rows, const char *what);
/* act[k] (n, d_k) for k = 1..K: A_k = phi(Z_k) for k < K, Z_K (the
 * outputs) for k = K; act[0] is not touched. n <= rows; theta (P values). */
minima_status minima_eval_layers_run(minima_eval_layers *e, const double *theta,
                                     const double *x, size_t n, double *const *act);
void minima_eval_layers_free(minima_eval_layers *e);

/* A = phi(Z) in place, phi the MLP's activation. */
void minima_eval_activate(const minima_model *model, double *z, size_t n);

#endif
