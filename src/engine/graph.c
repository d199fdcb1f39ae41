/* graph.c — a model as a graph of nodes: shapes, checks, parameter offsets,
 * and the layer view of a multilayer perceptron (minima/model.h). */
#include <stdio.h>
#include <string.h>

#include "engine/layer.h"
#include "engine/model_impl.h"
#include "minima/alloc.h"
#include "minima/model.h"

size_t minima_shape_size(minima_shape s)
{
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

void minima_shape_string(minima_shape s, char *buf, size_t size)
{
    if (s.rank == 3) snprintf(buf, size, "%dx%dx%d", s.c, s.h, s.w);
    else snprintf(buf, size, "%d", s.c);
}

static const char *const kind_names[MINIMA_NODE_KIND_COUNT] = {
    [MINIMA_NODE_INPUT] = "input",         [MINIMA_NODE_LINEAR] = "linear",
    [MINIMA_NODE_CONV2D] = "conv2d",       [MINIMA_NODE_MAXPOOL2D] = "maxpool2d",
    [MINIMA_NODE_AVGPOOL2D] = "avgpool2d", [MINIMA_NODE_GLOBAL_AVGPOOL] = "global_avgpool",
    [MINIMA_NODE_FLATTEN] = "flatten",     [MINIMA_NODE_ADD] = "add",
    [MINIMA_NODE_RELU] = "relu",           [MINIMA_NODE_LEAKY_RELU] = "leaky_relu",
    [MINIMA_NODE_TANH] = "tanh",           [MINIMA_NODE_IDENTITY] = "identity",
};

const char *minima_node_kind_name(minima_node_kind kind)
{
    if ((int)kind < 0 || kind >= MINIMA_NODE_KIND_COUNT) return "unknown";
    return kind_names[kind];
}

minima_status minima_node_kind_parse(const char *s, minima_node_kind *kind)
{
    for (int k = 0; s && k < MINIMA_NODE_KIND_COUNT; k++)
        if (!strcmp(s, kind_names[k])) {
            *kind = (minima_node_kind)k;
            return MINIMA_OK;
        }
    MINIMA_FAIL(MINIMA_EINVAL, "node kind '%s': expected one of linear, conv2d, maxpool2d, "
                "avgpool2d, global_avgpool, flatten, add, relu, leaky_relu, tanh, identity",
                s ? s : "(null)");
}

minima_node minima_node_make(minima_node_kind kind, int input)
{
    minima_node n;
    memset(&n, 0, sizeof n);
    n.kind = kind;
    n.n_inputs = kind == MINIMA_NODE_INPUT ? 0 : kind == MINIMA_NODE_ADD ? 2 : 1;
    n.inputs[0] = input;
    n.inputs[1] = -1;
    for (int i = 0; i < 2; i++) {
        n.kernel[i] = 1;
        n.stride[i] = 1;
        n.dilation[i] = 1;
    }
    n.groups = 1;
    n.has_bias = 1;
    n.slope = 0.01;
    n.name = (char *)"";
    return n;
}

static void label_of(const minima_node *nd, int i, char *buf, size_t size)
{
    if (nd->name && nd->name[0])
        snprintf(buf, size, "node %d (%s '%s')", i, minima_node_kind_name(nd->kind), nd->name);
    else
        snprintf(buf, size, "node %d (%s)", i, minima_node_kind_name(nd->kind));
}

void minima_model_node_label(const minima_model *m, int i, char *buf, size_t size)
{
    if (i < 0 || i >= m->n_nodes) snprintf(buf, size, "node %d", i);
    else label_of(&m->nodes[i], i, buf, size);
}

size_t minima_model_n_inputs(const minima_model *m)
{
    return minima_shape_size(m->nodes[0].shape);
}

int minima_model_n_outputs(const minima_model *m)
{
    return (int)minima_shape_size(m->nodes[m->n_nodes - 1].shape);
}

minima_status minima_model_require_mlp(const minima_model *m, const char *what)
{
    if (m->is_mlp) return MINIMA_OK;
    char kinds[256] = "";
    size_t used = 0;
    int seen[MINIMA_NODE_KIND_COUNT] = {0};
    for (int i = 1; i < m->n_nodes; i++) {
        minima_node_kind k = m->nodes[i].kind;
        if (seen[k] || k == MINIMA_NODE_LINEAR || k == MINIMA_NODE_RELU ||
            k == MINIMA_NODE_LEAKY_RELU || k == MINIMA_NODE_TANH)
            continue;
        seen[k] = 1;
        int n = snprintf(kinds + used, sizeof kinds - used, "%s%s", used ? ", " : "",
                         minima_node_kind_name(k));
        if (n > 0 && (size_t)n < sizeof kinds - used) used += (size_t)n;
    }
    MINIMA_FAIL(MINIMA_EUNSUPPORTED, "%s is defined here for multilayer perceptrons (linear "
                "layers with one activation between them); this model is a graph%s%s",
                what, used ? " with " : " whose activations differ or whose biases are mixed",
                used ? kinds : "");
}

/* Fill the layer view when the graph is an MLP: input flat, then linear
 * (act linear)*, one activation kind (and slope) throughout, biases on all
 * linear nodes or none. */
static minima_status derive_mlp_view(minima_model *m)
{
    const minima_node *nd = m->nodes;
    int n = m->n_nodes;
    m->is_mlp = 0;
    if (nd[0].shape.rank != 1 || n < 2 || n % 2 != 0) return MINIMA_OK;
    minima_node_kind act = MINIMA_NODE_RELU;
    double slope = 0.01;
    for (int i = 1; i < n; i++) {
        if (nd[i].n_inputs != 1 || nd[i].inputs[0] != i - 1) return MINIMA_OK;
        if (i % 2 == 1) {
            if (nd[i].kind != MINIMA_NODE_LINEAR || nd[i].has_bias != nd[1].has_bias)
                return MINIMA_OK;
        } else {
            minima_node_kind k = nd[i].kind;
            if (k != MINIMA_NODE_RELU && k != MINIMA_NODE_LEAKY_RELU && k != MINIMA_NODE_TANH)
                return MINIMA_OK;
            if (i == 2) {
                act = k;
                slope = nd[i].slope;
            } else if (k != act || (k == MINIMA_NODE_LEAKY_RELU && nd[i].slope != slope)) {
                return MINIMA_OK;
            }
        }
    }
    int K = n / 2;
    m->n_layers = K;
    m->has_bias = nd[1].has_bias;
    m->activation = act == MINIMA_NODE_LEAKY_RELU ? MINIMA_ACT_LEAKY_RELU
                    : act == MINIMA_NODE_TANH     ? MINIMA_ACT_TANH
                                                  : MINIMA_ACT_RELU;
    m->leaky_slope = act == MINIMA_NODE_LEAKY_RELU ? slope : 0.01;
    m->widths = minima_alloc((size_t)K + 1, sizeof *m->widths);
    m->layer_names = minima_calloc((size_t)K, sizeof *m->layer_names);
    m->weight_offset = minima_alloc((size_t)K, sizeof *m->weight_offset);
    m->bias_offset = minima_alloc((size_t)K, sizeof *m->bias_offset);
    if (!m->widths || !m->layer_names || !m->weight_offset || !m->bias_offset)
        MINIMA_FAIL(MINIMA_ENOMEM, "out of memory describing a network's layers");
    m->widths[0] = nd[0].shape.c;
    for (int k = 0; k < K; k++) {
        const minima_node *l = &nd[2 * k + 1];
        m->widths[k + 1] = l->out;
        if (!(m->layer_names[k] = minima_strdup(l->name ? l->name : ""))) 
            MINIMA_FAIL(MINIMA_ENOMEM, "out of memory describing a network's layers");
        m->weight_offset[k] = l->weight_offset;
        m->bias_offset[k] = l->has_bias ? l->bias_offset : l->weight_offset + l->n_weight;
    }
    m->is_mlp = 1;
    return MINIMA_OK;
}

void minima_model_free_graph(minima_model *m)
{
    if (!m->nodes) return;
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].name && m->nodes[i].name[0]) minima_free(m->nodes[i].name);
    minima_free(m->nodes);
    m->nodes = NULL;
    m->n_nodes = 0;
}

minima_status minima_model_create_graph(minima_model **out, int n_nodes, const minima_node *spec)
{
    if (!out || !spec) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_create_graph: NULL argument");
    *out = NULL;
    if (n_nodes < 2 || n_nodes > 100000)
        MINIMA_FAIL(MINIMA_EINVAL, "a network needs an input and between 1 and 99999 nodes, got "
                    "%d nodes", n_nodes);
    if (spec[0].kind != MINIMA_NODE_INPUT)
        MINIMA_FAIL(MINIMA_EINVAL, "node 0 must be the input, and it is a %s",
                    minima_node_kind_name(spec[0].kind));
    minima_shape s0 = spec[0].shape;
    if ((s0.rank != 1 && s0.rank != 3) || s0.c < 1 || s0.h < 1 || s0.w < 1 ||
        (s0.rank == 1 && (s0.h != 1 || s0.w != 1)) || minima_shape_size(s0) > 100000000)
        MINIMA_FAIL(MINIMA_EINVAL, "the input shape must be a flat size or CxHxW, each between 1 "
                    "and 1e8 values in all");
    minima_model *m = minima_calloc(1, sizeof *m);
    minima_status st = MINIMA_OK;
    if (!m || !(m->nodes = minima_calloc((size_t)n_nodes, sizeof *m->nodes))) {
        minima_free(m);
        MINIMA_FAIL(MINIMA_ENOMEM, "out of memory creating a network of %d nodes", n_nodes);
    }
    m->n_nodes = n_nodes;
    m->loss = MINIMA_LOSS_CE;
    m->leaky_slope = 0.01;
    size_t off = 0;
    for (int i = 0; i < n_nodes; i++) {
        minima_node *nd = &m->nodes[i];
        *nd = spec[i];
        nd->name = (char *)"";
        if (spec[i].name && spec[i].name[0] && !(nd->name = minima_strdup(spec[i].name))) {
            nd->name = (char *)"";
            st = minima_error(MINIMA_ENOMEM, "out of memory");
            goto fail;
        }
        char label[160];
        label_of(nd, i, label, sizeof label);
        nd->weight_offset = nd->bias_offset = off;
        nd->n_weight = nd->n_bias = 0;
        if (i == 0) continue;
        const layer_kind *k = layer_kind_of(nd->kind);
        if (!k) {
            st = minima_error(MINIMA_EUNSUPPORTED, "%s: kind %d is not one the engine knows "
                              "(or not built in)", label, (int)nd->kind);
            goto fail;
        }
        if (nd->n_inputs != k->n_inputs) {
            st = minima_error(MINIMA_EINVAL, "%s: takes %d input%s, given %d", label,
                              k->n_inputs, k->n_inputs == 1 ? "" : "s", nd->n_inputs);
            goto fail;
        }
        const minima_shape *in[2] = {NULL, NULL};
        for (int j = 0; j < nd->n_inputs; j++) {
            if (nd->inputs[j] < 0 || nd->inputs[j] >= i) {
                st = minima_error(MINIMA_EINVAL, "%s: input %d is node %d; a node reads only "
                                  "earlier nodes (0..%d)", label, j + 1, nd->inputs[j], i - 1);
                goto fail;
            }
            in[j] = &m->nodes[nd->inputs[j]].shape;
        }
        if (!in[1]) in[1] = in[0];
        if ((st = k->infer(nd, in, label)) != MINIMA_OK) goto fail;
        if (minima_shape_size(nd->shape) > 100000000 || minima_shape_size(nd->shape) == 0) {
            st = minima_error(MINIMA_ESHAPE, "%s: output of %zu values per example; expected "
                              "between 1 and 1e8", label, minima_shape_size(nd->shape));
            goto fail;
        }
        if (!k->has_params) nd->has_bias = 0;
        nd->weight_offset = off;
        off += nd->n_weight;
        nd->bias_offset = off;
        off += nd->n_bias;
        if (off > ((size_t)1 << 40)) {
            st = minima_error(MINIMA_ENOMEM, "network too large: more than 2^40 parameters");
            goto fail;
        }
    }
    /* Every node but the output must be read by a later one. */
    for (int i = 0; i < n_nodes - 1; i++) {
        int used = 0;
        for (int j = i + 1; j < n_nodes && !used; j++)
            for (int t = 0; t < m->nodes[j].n_inputs; t++) used |= m->nodes[j].inputs[t] == i;
        if (!used) {
            char label[160];
            label_of(&m->nodes[i], i, label, sizeof label);
            st = minima_error(MINIMA_EINVAL, "%s: no later node reads its output; only the last "
                              "node may be the network's output", label);
            goto fail;
        }
    }
    if (off == 0) {
        st = minima_error(MINIMA_EINVAL, "the network has no parameters: it needs at least one "
                          "linear or conv2d node");
        goto fail;
    }
    m->n_params = off;
    if (!(m->theta = minima_calloc(off ? off : 1, sizeof *m->theta))) {
        st = minima_error(MINIMA_ENOMEM, "out of memory creating a network of %zu parameters",
                          off);
        goto fail;
    }
    if ((st = derive_mlp_view(m)) != MINIMA_OK) goto fail;
    *out = m;
    return MINIMA_OK;
fail:
    minima_model_free(m);
    return st;
}
