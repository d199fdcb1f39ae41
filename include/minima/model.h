/* minima/model.h — a rectified network and its parameters.
 *
 * A network is a graph of nodes (below: linear, conv2d, pooling, flatten,
 * residual add, activations) run in order from the input to the output.
 * All parameters live in one flat float64 array `theta` of length P, node
 * by node, each node's weight (PyTorch's layout) then its bias: PyTorch's
 * `parameters()` order for the equivalent module, so eigenvectors and
 * gradients compare entry by entry with PyTorch.
 *
 * A multilayer perceptron — the paper's setting — is the graph input,
 * linear, activation, linear, ..., linear. The model then also describes it
 * as K linear layers (is_mlp, n_layers, widths, ...):
 *
 *     A_0 = X                        (N, d_0)   one example per row
 *     Z_k = A_{k-1} W_k^T + 1 b_k^T  (N, d_k)   W_k is (d_k, d_{k-1})
 *     A_k = phi(Z_k)  for k < K;  Z_K are the outputs (logits)
 *
 * with layers as views into theta: minima_model_weight(m, k) and
 * minima_model_bias(m, k) (k = 0..K-1 here, layer k+1 of the mathematics).
 *
 * The struct is public and read-only outside the engine: create models
 * with minima_model_create() (an MLP), minima_model_create_graph() or
 * minima_arch_parse(); change parameters through `theta` and activations
 * through minima_model_set_activation(). */
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

/* ---- the graph --------------------------------------------------------
 *
 * A model is a small directed acyclic graph of nodes in topological order.
 * Node 0 is the input; every other node reads one or two earlier nodes and
 * produces, for each example, a tensor of a fixed shape. The last node's
 * output is the network's output (the logits). Values of one example are
 * stored contiguously in PyTorch's NCHW order, so `flatten` moves no data
 * and a flat tensor of size C*H*W is the image read row by row, channel by
 * channel, as torch.flatten would give it.
 *
 * Parameters are views into the one flat theta, node by node in node order:
 * the weight (PyTorch's layout: linear [out, in], conv2d [out, in/groups,
 * kh, kw], row-major), then the bias. That is PyTorch's parameters() order
 * for the equivalent module (docs/model-files.md), so minima and PyTorch
 * index theta identically.
 *
 * docs/engine.md describes each kind; src/engine/layer_<kind>.c implements
 * it; a new kind is one new file and one line in src/engine/layer_registry.c. */
typedef enum {
    MINIMA_NODE_INPUT = 0,     /* node 0 only: the data */
    MINIMA_NODE_LINEAR,        /* y = W x + b; x flat (in), y flat (out) */
    MINIMA_NODE_CONV2D,        /* 2-D cross-correlation as nn.Conv2d: stride, padding (zeros), dilation, groups */
    MINIMA_NODE_MAXPOOL2D,     /* nn.MaxPool2d(kernel, stride, padding), floor mode */
    MINIMA_NODE_AVGPOOL2D,     /* nn.AvgPool2d(kernel, stride, padding), count_include_pad=True, floor mode */
    MINIMA_NODE_GLOBAL_AVGPOOL,/* nn.AdaptiveAvgPool2d(1) then flatten: C x H x W -> flat C */
    MINIMA_NODE_FLATTEN,       /* C x H x W -> flat C*H*W (no arithmetic) */
    MINIMA_NODE_ADD,           /* y = x1 + x2 (a residual connection), same shapes */
    MINIMA_NODE_RELU,          /* max(x, 0) */
    MINIMA_NODE_LEAKY_RELU,    /* max(x, a x), slope a in (0, 1) */
    MINIMA_NODE_TANH,          /* tanh: not homogeneous, for tests that break the paper's hypotheses */
    MINIMA_NODE_IDENTITY,      /* y = x */
    MINIMA_NODE_KIND_COUNT
} minima_node_kind;

/* The shape of one example's tensor: flat (rank 1, d = c, h = w = 1) or an
 * image C x H x W (rank 3). */
typedef struct {
    int rank;                  /* 1 or 3 */
    int c, h, w;
} minima_shape;

/* Number of values of one example: c * h * w. */
size_t minima_shape_size(minima_shape s);
/* "784" or "1x28x28". */
void minima_shape_string(minima_shape s, char *buf, size_t size);

typedef struct {
    minima_node_kind kind;
    int n_inputs;              /* 0 (input node), 1, or 2 (add) */
    int inputs[2];             /* indices of earlier nodes */
    minima_shape shape;        /* the output's shape (set by the graph check) */
    /* Settings. linear: `out` features. conv2d: `out` channels, kernel,
     * stride, padding, dilation, groups. Pooling: kernel, stride, padding.
     * [0] is the height, [1] the width. leaky_relu: slope. */
    int out;
    int kernel[2], stride[2], padding[2], dilation[2];
    int groups;
    int has_bias;              /* linear and conv2d */
    int folded_batchnorm;      /* linear and conv2d: a BatchNorm (evaluation mode) followed this
                                  node in the PyTorch module and was folded into its weight and
                                  bias when the model was loaded (the bias exists because of it) */
    double slope;
    char *name;                /* the PyTorch module path ("features.0", "3.body.2"); "" when none */
    size_t weight_offset;      /* into theta; n_weight entries (0 for kinds without parameters) */
    size_t n_weight;
    size_t bias_offset;        /* n_bias entries (0 without a bias) */
    size_t n_bias;
} minima_node;

/* A node before the graph is checked: what the arch parser, the loaders
 * and the tests fill in. The shape and offsets are computed. */
minima_node minima_node_make(minima_node_kind kind, int input);

/* "linear", "conv2d", "maxpool2d", "avgpool2d", "global_avgpool",
 * "flatten", "add", "relu", "leaky_relu", "tanh", "identity", "input". */
const char *minima_node_kind_name(minima_node_kind kind);
minima_status minima_node_kind_parse(const char *s, minima_node_kind *kind);

/* One free-form metadata entry (safetensors __metadata__ is string->string). */
typedef struct { char *key; char *value; } minima_meta;

typedef struct {
    /* The graph (above): node 0 is the input, node n_nodes-1 the output. */
    int n_nodes;
    minima_node *nodes;
    /* Nonzero when the graph is a multilayer perceptron: flat input, then
     * linear, activation, linear, ..., linear with one activation kind and
     * biases on every linear node or on none. Then the fields below up to
     * order_source describe it as layers (the paper's notation); otherwise
     * n_layers is 0 and widths, layer_names, weight_offset and bias_offset
     * are NULL, and code written for layers must refuse the model
     * (minima_model_require_mlp). */
    int is_mlp;
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

/* A model from a graph: nodes[0] must be MINIMA_NODE_INPUT with its shape
 * set; every other node's kind, inputs and settings set (minima_node_make
 * gives the defaults). Checks the graph and computes every shape and
 * parameter offset; the parameters are zero. Bad graphs fail with
 * MINIMA_ESHAPE or MINIMA_EINVAL and a message naming the node: inputs
 * that are not earlier nodes, shapes that do not chain, an add of
 * different shapes, a kernel larger than its (padded) input, a stride,
 * dilation or group count below 1, channels not divisible by groups.
 * Names are copied. The activation and order provenance are PROGRAM. */
minima_status minima_model_create_graph(minima_model **out, int n_nodes, const minima_node *nodes);

/* "node 5 (conv2d '3.body.0')": how messages name a node. */
void minima_model_node_label(const minima_model *model, int node, char *buf, size_t size);

/* The number of input values of one example and of outputs. */
size_t minima_model_n_inputs(const minima_model *model);
int minima_model_n_outputs(const minima_model *model);

/* MINIMA_EUNSUPPORTED with "<what> is defined for multilayer perceptrons
 * (linear layers and one activation); this model is a graph with conv2d,
 * ... nodes" unless model->is_mlp. */
minima_status minima_model_require_mlp(const minima_model *model, const char *what);

/* Change the activation of every activation node (and the model's
 * `activation`, `leaky_slope`): the only way to change them, since the
 * engine runs the graph. slope is read for leaky ReLU only (0 < a < 1). */
minima_status minima_model_set_activation(minima_model *model, minima_activation a, double slope);
/* MINIMA_EINVAL if an MLP's `activation` field and its graph disagree (a
 * caller wrote the field instead of calling minima_model_set_activation). */
minima_status minima_model_check_activation(const minima_model *model);
/* Rename layer k of an MLP (its linear node); the name is copied. */
minima_status minima_model_set_layer_name(minima_model *model, int k, const char *name);

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
/* Write "784-128-128-10" into buf, or for a model that is not an MLP its
 * general form (minima_arch_format). */
void minima_model_arch_string(const minima_model *model, char *buf, size_t size);

/* ---- the general architecture strings (src/engine/arch.c) -------------
 *
 * "SHAPE:LAYER,LAYER,..." (docs/model-files.md): SHAPE is CxHxW or a flat
 * size; LAYER is N (linear), conv<C>k<K>[s<S>][p<P>][d<D>][g<G>], relu,
 * lrelu<a>, tanh, maxpool<K>[s<S>][p<P>], avgpool<K>[s<S>][p<P>], gap,
 * flatten, identity, res(LAYER,...) (y = x + body(x)), or bn (BatchNorm
 * folded into the conv/linear before it: folded_batchnorm and a bias on
 * that node). N and conv tokens may end in nb (no bias); has_bias = 0
 * makes every layer bias-free. Node names are the module paths of the
 * nn.Sequential the string describes ("3", "2.body.0"). A string without
 * ':' is the MLP form "784-128-10": minima_model_create with `activation`
 * (and slope, for leaky ReLU) between the linear layers; the general form
 * ignores activation and slope. Parameters are zero; minima_model_init
 * fills them. Errors (MINIMA_EINVAL) name the token, its position and what
 * was expected; shape errors are minima_model_create_graph's, after the
 * string. */
minima_status minima_arch_parse(const char *arch, int has_bias, minima_activation activation,
                                double slope, minima_model **out);
/* The general form of a model's graph, as minima_arch_parse reads it back
 * (for an MLP too: "784:128,relu,10"), default settings left out, nb where
 * a node has no bias, never bn. A graph that is not a chain of layers and
 * res blocks (an add whose first input is not the block input) is written
 * node by node with its inputs ("8:8@0,relu@1,add@2+0"), which
 * minima_arch_parse refuses. Truncated to size-1 characters. */
void minima_arch_format(const minima_model *model, char *buf, size_t size);

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

/* The norms `minima info` reports for a node with parameters: ||W||_F,
 * max |W_ij|, ||b||_2 (NaN without a bias); and ||theta||_2. */
typedef struct { double weight_norm, weight_max_abs, bias_norm; } minima_node_norms;
minima_node_norms minima_model_node_norms(const minima_model *model, int node);
double minima_model_theta_norm(const minima_model *model);

/* The JSON description of the model, as `minima info --json` prints it
 * (without the final newline): keys model (path, or null when NULL), arch,
 * n_layers, n_params, has_bias, activation, activation_source,
 * layer_order_source, leaky_slope (leaky ReLU only), loss, is_mlp, layers
 * (name, kind, node, in, out, bias, n_params, offset, weight_norm,
 * weight_max_abs, bias_norm, folded_batchnorm when set: an MLP's layers, a
 * graph's linear and conv2d nodes, in and out being channels for conv2d),
 * nodes (the graph: index, kind, name, inputs, shape "32x28x28", settings
 * {out, kernel, stride, padding, dilation, groups, slope: those that apply},
 * bias, n_params, offset or null, folded_batchnorm when set), theta_norm,
 * metadata. For a graph arch is its general form, n_layers 0, activation
 * the one kind its activation nodes share ("none", "mixed" otherwise) and
 * has_bias whether every linear/conv2d node has a bias. *json is allocated
 * through minima_alloc: release it with minima_free. */
minima_status minima_model_info_json(const minima_model *model, const char *path, char **json);
const char *minima_activation_name(minima_activation a);   /* "relu", "leaky_relu", "tanh" */
minima_status minima_activation_parse(const char *s, minima_activation *a);
const char *minima_loss_name(minima_loss l);               /* "ce", "mse" */
minima_status minima_loss_parse(const char *s, minima_loss *l);

#ifdef __cplusplus
}
#endif
#endif
