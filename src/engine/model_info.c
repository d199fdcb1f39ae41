/* model_info.c — the JSON description of a model (`minima info --json`),
 * one writer for the command and the C API (model.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/text_impl.h"
#include "minima/alloc.h"
#include "minima/format.h"
#include "minima/model.h"

static void put_number(minima_text *t, double x)
{
    char buf[MINIMA_DOUBLE_CHARS];
    if (!isfinite(x)) { minima_text_put(t, "null"); return; }
    minima_format_double(buf, sizeof buf, x);
    minima_text_put(t, "%s", buf);
}

static double norm2(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i] * x[i];
    return sqrt(s);
}

static double norm_inf(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s = fabs(x[i]) > s ? fabs(x[i]) : s;
    return s;
}

minima_node_norms minima_model_node_norms(const minima_model *m, int node)
{
    const minima_node *nd = &m->nodes[node];
    const double *w = m->theta + nd->weight_offset;
    minima_node_norms r;
    r.weight_norm = norm2(w, nd->n_weight);
    r.weight_max_abs = norm_inf(w, nd->n_weight);
    r.bias_norm = nd->n_bias ? norm2(m->theta + nd->bias_offset, nd->n_bias) : NAN;
    return r;
}

double minima_model_theta_norm(const minima_model *m)
{
    return norm2(m->theta, m->n_params);
}

/* [h, w] */
static void put_pair(minima_text *t, const char *key, const int v[2])
{
    minima_text_put(t, ", \"%s\": [%d, %d]", key, v[0], v[1]);
}

static int is_activation(minima_node_kind k)
{
    return k == MINIMA_NODE_RELU || k == MINIMA_NODE_LEAKY_RELU || k == MINIMA_NODE_TANH;
}

/* The settings that apply to a node's kind. */
static void put_settings(minima_text *t, const minima_node *nd)
{
    minima_text_put(t, "{");
    switch (nd->kind) {
    case MINIMA_NODE_LINEAR:
        minima_text_put(t, "\"out\": %d", nd->out);
        break;
    case MINIMA_NODE_CONV2D:
        minima_text_put(t, "\"out\": %d", nd->out);
        put_pair(t, "kernel", nd->kernel);
        put_pair(t, "stride", nd->stride);
        put_pair(t, "padding", nd->padding);
        put_pair(t, "dilation", nd->dilation);
        minima_text_put(t, ", \"groups\": %d", nd->groups);
        break;
    case MINIMA_NODE_MAXPOOL2D:
    case MINIMA_NODE_AVGPOOL2D:
        minima_text_put(t, "\"kernel\": [%d, %d]", nd->kernel[0], nd->kernel[1]);
        put_pair(t, "stride", nd->stride);
        put_pair(t, "padding", nd->padding);
        break;
    case MINIMA_NODE_LEAKY_RELU:
        minima_text_put(t, "\"slope\": ");
        put_number(t, nd->slope);
        break;
    default:
        break;
    }
    minima_text_put(t, "}");
}

/* "nodes": the graph, node by node. */
static void put_nodes(minima_text *t, const minima_model *m)
{
    minima_text_put(t, ",\n \"nodes\": [");
    for (int i = 0; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        char shape[64];
        minima_shape_string(nd->shape, shape, sizeof shape);
        minima_text_put(t, "%s\n  {\"index\": %d, \"kind\": ", i ? "," : "", i);
        minima_text_json_string(t, minima_node_kind_name(nd->kind));
        minima_text_put(t, ", \"name\": ");
        minima_text_json_string(t, nd->name);
        minima_text_put(t, ", \"inputs\": [");
        for (int j = 0; j < nd->n_inputs; j++) minima_text_put(t, "%s%d", j ? ", " : "", nd->inputs[j]);
        minima_text_put(t, "], \"shape\": ");
        minima_text_json_string(t, shape);
        minima_text_put(t, ", \"settings\": ");
        put_settings(t, nd);
        size_t np = nd->n_weight + nd->n_bias;
        minima_text_put(t, ", \"bias\": %s, \"n_params\": %zu, \"offset\": ", nd->n_bias ? "true" : "false",
            np);
        if (np) minima_text_put(t, "%zu", nd->weight_offset);
        else minima_text_put(t, "null");
        if (nd->folded_batchnorm) minima_text_put(t, ", \"folded_batchnorm\": true");
        minima_text_put(t, "}");
    }
    minima_text_put(t, "]");
}

/* "layers" of a graph: its nodes with parameters (linear, conv2d); in and
 * out are features for linear, channels for conv2d. */
static void put_graph_layers(minima_text *t, const minima_model *m)
{
    int first = 1;
    for (int i = 1; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        if (!nd->n_weight) continue;
        const minima_node *src = &m->nodes[nd->inputs[0]];
        minima_node_norms nn = minima_model_node_norms(m, i);
        minima_text_put(t, "%s\n  {\"name\": ", first ? "" : ",");
        first = 0;
        minima_text_json_string(t, nd->name);
        minima_text_put(t, ", \"kind\": ");
        minima_text_json_string(t, minima_node_kind_name(nd->kind));
        minima_text_put(t, ", \"node\": %d, \"in\": %d, \"out\": %d, \"bias\": %s, \"n_params\": %zu, "
            "\"offset\": %zu, \"weight_norm\": ", i, src->shape.c, nd->out,
            nd->n_bias ? "true" : "false", nd->n_weight + nd->n_bias, nd->weight_offset);
        put_number(t, nn.weight_norm);
        minima_text_put(t, ", \"weight_max_abs\": ");
        put_number(t, nn.weight_max_abs);
        minima_text_put(t, ", \"bias_norm\": ");
        put_number(t, nn.bias_norm);   /* NaN without a bias: null */
        if (nd->folded_batchnorm) minima_text_put(t, ", \"folded_batchnorm\": true");
        minima_text_put(t, "}");
    }
}

minima_status minima_model_info_json(const minima_model *m, const char *path, char **json)
{
    if (!json) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_info_json: NULL argument");
    *json = NULL;
    if (!m) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_info_json: NULL model");
    minima_text t = {NULL, 0, 0, 0};
    char arch[4096];
    minima_model_arch_string(m, arch, sizeof arch);
    /* A graph has no single activation or bias setting: say what its nodes
     * hold (one activation kind, "none", or "mixed"; biases on every
     * parametric node or not). */
    int has_bias = m->has_bias;
    const char *activation = minima_activation_name(m->activation);
    int leaky = m->activation == MINIMA_ACT_LEAKY_RELU;
    double slope = m->leaky_slope;
    if (!m->is_mlp) {
        int kinds = 0, mixed = 0;
        minima_node_kind act = MINIMA_NODE_RELU;
        has_bias = 1;
        for (int i = 1; i < m->n_nodes; i++) {
            const minima_node *nd = &m->nodes[i];
            if (nd->n_weight && !nd->n_bias) has_bias = 0;
            if (!is_activation(nd->kind)) continue;
            if (!kinds++) {
                act = nd->kind;
                slope = nd->slope;
            } else if (nd->kind != act || (act == MINIMA_NODE_LEAKY_RELU && nd->slope != slope)) {
                mixed = 1;
            }
        }
        leaky = kinds && !mixed && act == MINIMA_NODE_LEAKY_RELU;
        activation = !kinds ? "none" : mixed ? "mixed" : minima_node_kind_name(act);
    }
    minima_text_put(&t, "{\"model\": ");
    if (path) minima_text_json_string(&t, path);
    else minima_text_put(&t, "null");
    minima_text_put(&t, ", \"arch\": ");
    minima_text_json_string(&t, arch);
    minima_text_put(&t, ", \"n_layers\": %d, \"n_params\": %zu, \"has_bias\": %s, ", m->n_layers, m->n_params,
        has_bias ? "true" : "false");
    minima_text_put(&t, "\"activation\": ");
    minima_text_json_string(&t, activation);
    minima_text_put(&t, ", \"activation_source\": ");
    minima_text_json_string(&t, minima_provenance_name(m->activation_source));
    minima_text_put(&t, ", \"layer_order_source\": ");
    minima_text_json_string(&t, minima_provenance_name(m->order_source));
    if (leaky) {
        minima_text_put(&t, ", \"leaky_slope\": ");
        put_number(&t, slope);
    }
    minima_text_put(&t, ", \"loss\": ");
    minima_text_json_string(&t, minima_loss_name(m->loss));
    minima_text_put(&t, ", \"is_mlp\": %s", m->is_mlp ? "true" : "false");
    minima_text_put(&t, ",\n \"layers\": [");
    if (!m->is_mlp) put_graph_layers(&t, m);
    for (int k = 0; m->is_mlp && k < m->n_layers; k++) {
        minima_node_norms nn = minima_model_node_norms(m, 2 * k + 1);
        minima_text_put(&t, "%s\n  {\"name\": ", k ? "," : "");
        minima_text_json_string(&t, m->layer_names[k]);
        minima_text_put(&t, ", \"kind\": \"linear\", \"node\": %d, \"in\": %d, \"out\": %d, \"bias\": %s, "
            "\"n_params\": %zu, \"offset\": %zu, \"weight_norm\": ", 2 * k + 1, m->widths[k],
            m->widths[k + 1], m->has_bias ? "true" : "false", minima_model_layer_params(m, k),
            minima_model_layer_offset(m, k));
        put_number(&t, nn.weight_norm);
        minima_text_put(&t, ", \"weight_max_abs\": ");
        put_number(&t, nn.weight_max_abs);
        minima_text_put(&t, ", \"bias_norm\": ");
        put_number(&t, nn.bias_norm);   /* NaN without a bias: null */
        if (m->nodes[2 * k + 1].folded_batchnorm) minima_text_put(&t, ", \"folded_batchnorm\": true");
        minima_text_put(&t, "}");
    }
    minima_text_put(&t, "]");
    put_nodes(&t, m);
    minima_text_put(&t, ",\n \"theta_norm\": ");
    put_number(&t, minima_model_theta_norm(m));
    minima_text_put(&t, ",\n \"metadata\": {");
    for (int i = 0; i < m->n_meta; i++) {
        minima_text_put(&t, "%s", i ? ", " : "");
        minima_text_json_string(&t, m->meta[i].key);
        minima_text_put(&t, ": ");
        minima_text_json_string(&t, m->meta[i].value);
    }
    minima_text_put(&t, "}}");
    if (t.failed) {
        minima_free(t.s);
        MINIMA_FAIL(MINIMA_ENOMEM, "model info: out of memory for the JSON text");
    }
    *json = t.s;
    return MINIMA_OK;
}
