/* minima/model.h — a rectified feed-forward network and its parameters.
 *
 * A network has K linear layers:
 *
 *     A_0 = X                        (N, d_0)   one example per row
 *     Z_k = A_{k-1} W_k^T + 1 b_k^T  (N, d_k)   W_k is (d_k, d_{k-1})
 *     A_k = phi(Z_k)  for k < K;  Z_K are the outputs (logits)
 *
 * All parameters live in one flat float64 array `theta` of length P in
 * PyTorch's `parameters()` order for an nn.Sequential of Linear layers:
 * layer by layer, W_k row-major, then b_k. Layers are views into it:
 * minima_model_weight(m, k) and minima_model_bias(m, k) (k = 0..K-1 here,
 * layer k+1 of the mathematics). Eigenvectors and gradients therefore
 * compare entry by entry with PyTorch.
 *
 * The struct is public and read-only outside model.c: create models with
 * minima_model_create(), change parameters through `theta`. */
#ifndef MINIMA_MODEL_H
#define MINIMA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MINIMA_ACT_RELU = 0,       /* max(z, 0) */
    MINIMA_ACT_LEAKY_RELU,     /* max(z, a z), 0 < a < 1: still non-negative homogeneous */
    MINIMA_ACT_TANH            /* NOT homogeneous: exists so tests can break Thm 1 on purpose */
} minima_activation;

typedef enum {
    MINIMA_LOSS_CE = 0,        /* PyTorch CrossEntropyLoss(): mean over examples */
    MINIMA_LOSS_MSE            /* PyTorch MSELoss(): mean over all N*d_K entries */
} minima_loss;

/* Where a fact about a model came from: its activation, or the order of its
 * layers. A model made by the program (minima_model_create) says PROGRAM;
 * minima_model_load says FILE (recorded in the file's __metadata__),
 * OPTION (given by the caller, overriding the file), ASSUMED (the file is
 * silent and the default was taken: relu), and, for the layer order, INDEX
 * (the layers are one numbered family such as "0", "2", "4", run in the
 * order of that number) or SHAPES (the only order, among those the
 * numbering allows, in which the shapes chain). */
typedef enum {
    MINIMA_FROM_PROGRAM = 0,
    MINIMA_FROM_FILE,
    MINIMA_FROM_OPTION,
    MINIMA_FROM_ASSUMED,
    MINIMA_FROM_INDEX,
    MINIMA_FROM_SHAPES
} minima_provenance;

/* "program", "file", "option", "assumed", "index", "shapes". */
const char *minima_provenance_name(minima_provenance p);

/* One free-form metadata entry (safetensors __metadata__ is string->string). */
typedef struct { char *key; char *value; } minima_meta;

typedef struct {
    int n_layers;              /* K >= 1 */
    int *widths;               /* (K+1): d_0 .. d_K */
    int has_bias;              /* biases on every layer, or on none */
    minima_activation activation;
    double leaky_slope;        /* a, for MINIMA_ACT_LEAKY_RELU */
    minima_provenance activation_source;   /* where activation (and leaky_slope) came from */
    minima_provenance order_source;        /* how the order of the layers was decided */
    minima_loss loss;          /* the loss the model was trained with */
    char **layer_names;        /* (K): PyTorch names, e.g. "0", "2", "4" or "fc1" */
    size_t n_params;           /* P */
    size_t *weight_offset;     /* (K): W_k starts at theta + weight_offset[k] */
    size_t *bias_offset;       /* (K): b_k starts at theta + bias_offset[k] (if has_bias) */
    double *theta;             /* (P) */
    minima_meta *meta;         /* (n_meta) extra metadata, kept on save */
    int n_meta;
} minima_model;

/* A new model with the given widths (n_layers+1 of them, all >= 1),
 * parameters zero, layer names "0", "2", "4", ... (the names of an
 * nn.Sequential(Linear, ReLU, Linear, ...)). */
minima_status minima_model_create(minima_model **out, int n_layers, const int *widths,
                                  int has_bias, minima_activation activation);
void minima_model_free(minima_model *model);
/* A deep copy (parameters, names, metadata). */
minima_status minima_model_copy(const minima_model *model, minima_model **out);

/* Parse "784-128-128-10" into widths; *n_layers = number of dashes. The
 * caller frees *widths with minima_free. */
minima_status minima_parse_arch(const char *arch, int **widths, int *n_layers);
/* Write "784-128-128-10" into buf. */
void minima_model_arch_string(const minima_model *model, char *buf, size_t size);

/* PyTorch's default nn.Linear initialisation: W and b uniform in
 * +-1/sqrt(fan_in), from minima's seeded generator (so the scale, not the
 * exact numbers, match PyTorch). */
void minima_model_init(minima_model *model, uint64_t seed);

/* Views into theta. k = 0..K-1. The bias is NULL without biases. */
double *minima_model_weight(const minima_model *model, int k);  /* (d_{k+1}, d_k) */
double *minima_model_bias(const minima_model *model, int k);    /* (d_{k+1}) */
/* Number of entries of layer k's weight matrix and of all its parameters. */
size_t minima_model_layer_weights(const minima_model *model, int k);
size_t minima_model_layer_params(const minima_model *model, int k);
/* Offset in theta of layer k's first parameter (its weight). */
size_t minima_model_layer_offset(const minima_model *model, int k);

/* MINIMA_ENONFINITE with the layer and entry named if theta has NaN/Inf. */
minima_status minima_model_check_finite(const minima_model *model);

/* Metadata: set (copying both strings, replacing an existing key) or get
 * (NULL if absent). */
minima_status minima_model_set_meta(minima_model *model, const char *key, const char *value);
const char *minima_model_get_meta(const minima_model *model, const char *key);

/* The JSON description of the model, as `minima info --json` prints it
 * (without the final newline): keys model (path, or null when NULL), arch,
 * n_layers, n_params, has_bias, activation, activation_source,
 * layer_order_source, leaky_slope (leaky ReLU only), loss, layers (name,
 * in, out, bias, n_params, offset, weight_norm, weight_max_abs, bias_norm),
 * theta_norm, metadata. *json is allocated through minima_alloc: release
 * it with minima_free. */
minima_status minima_model_info_json(const minima_model *model, const char *path, char **json);
const char *minima_activation_name(minima_activation a);   /* "relu", "leaky_relu", "tanh" */
minima_status minima_activation_parse(const char *s, minima_activation *a);
const char *minima_loss_name(minima_loss l);               /* "ce", "mse" */
minima_status minima_loss_parse(const char *s, minima_loss *l);

#ifdef __cplusplus
}
#endif
#endif
