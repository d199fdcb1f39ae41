/* model.c — network description and the flat parameter array. */
#include "minima/model.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/rng.h"
#include "engine/model_impl.h"

void minima_model_free(minima_model *m)
{
    if (!m) return;
    if (m->layer_names)
        for (int k = 0; k < m->n_layers; k++) minima_free(m->layer_names[k]);
    for (int i = 0; i < m->n_meta; i++) {
        minima_free(m->meta[i].key);
        minima_free(m->meta[i].value);
    }
    minima_model_free_graph(m);
    minima_free(m->meta);
    minima_free(m->layer_names);
    minima_free(m->widths);
    minima_free(m->weight_offset);
    minima_free(m->bias_offset);
    minima_free(m->theta);
    minima_free(m);
}

static minima_node_kind activation_node(minima_activation a)
{
    return a == MINIMA_ACT_LEAKY_RELU ? MINIMA_NODE_LEAKY_RELU
           : a == MINIMA_ACT_TANH     ? MINIMA_NODE_TANH
                                      : MINIMA_NODE_RELU;
}

minima_status minima_model_create(minima_model **out, int n_layers, const int *widths,
                                  int has_bias, minima_activation activation)
{
    if (!out || !widths) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_create: NULL argument");
    *out = NULL;
    if (n_layers < 1 || n_layers > 1000)
        MINIMA_FAIL(MINIMA_EINVAL, "a network needs between 1 and 1000 layers, got %d", n_layers);
    if (activation != MINIMA_ACT_RELU && activation != MINIMA_ACT_LEAKY_RELU &&
        activation != MINIMA_ACT_TANH)
        MINIMA_FAIL(MINIMA_EINVAL, "unknown activation code %d", (int)activation);
    size_t p = 0;
    for (int k = 0; k <= n_layers; k++) {
        if (widths[k] < 1 || widths[k] > 100000000)
            MINIMA_FAIL(MINIMA_EINVAL, "width d_%d must be between 1 and 1e8, got %d", k, widths[k]);
    }
    for (int k = 0; k < n_layers; k++) {
        size_t w = (size_t)widths[k + 1] * (size_t)widths[k];
        p += w + (has_bias ? (size_t)widths[k + 1] : 0);
        if (p > ((size_t)1 << 40))
            MINIMA_FAIL(MINIMA_ENOMEM, "network too large: more than 2^40 parameters");
    }
    /* nn.Sequential(Linear, act, Linear, ..., Linear): modules "0", "1", "2", ... */
    int n_nodes = 2 * n_layers;
    minima_node *spec = minima_calloc((size_t)n_nodes, sizeof *spec);
    char (*names)[16] = minima_calloc((size_t)n_nodes, sizeof *names);
    if (!spec || !names) {
        minima_free(spec);
        minima_free(names);
        MINIMA_FAIL(MINIMA_ENOMEM, "out of memory creating a network of %d layers", n_layers);
    }
    spec[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    spec[0].shape = (minima_shape){1, widths[0], 1, 1};
    for (int i = 1; i < n_nodes; i++) {
        int k = (i - 1) / 2;   /* layer */
        spec[i] = minima_node_make(i % 2 ? MINIMA_NODE_LINEAR : activation_node(activation), i - 1);
        snprintf(names[i], sizeof names[i], "%d", i - 1);
        spec[i].name = names[i];
        if (i % 2) {
            spec[i].out = widths[k + 1];
            spec[i].has_bias = has_bias ? 1 : 0;
        }
    }
    minima_model *m = NULL;
    minima_status st = minima_model_create_graph(&m, n_nodes, spec);
    minima_free(spec);
    minima_free(names);
    if (st != MINIMA_OK) return st;
    if (!m->is_mlp) {
        minima_model_free(m);
        MINIMA_FAIL(MINIMA_EINVAL, "internal error: a chain of linear layers is not seen as one");
    }
    *out = m;
    return MINIMA_OK;
}

minima_status minima_model_set_activation(minima_model *m, minima_activation a, double slope)
{
    if (!m) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_set_activation: NULL argument");
    if (a != MINIMA_ACT_RELU && a != MINIMA_ACT_LEAKY_RELU && a != MINIMA_ACT_TANH)
        MINIMA_FAIL(MINIMA_EINVAL, "unknown activation code %d", (int)a);
    if (a == MINIMA_ACT_LEAKY_RELU && !(slope > 0 && slope < 1))
        MINIMA_FAIL(MINIMA_EINVAL, "a leaky ReLU needs a slope between 0 and 1 (exclusive), "
                    "got %g", slope);
    for (int i = 1; i < m->n_nodes; i++) {
        minima_node *nd = &m->nodes[i];
        if (nd->kind == MINIMA_NODE_RELU || nd->kind == MINIMA_NODE_LEAKY_RELU ||
            nd->kind == MINIMA_NODE_TANH) {
            nd->kind = activation_node(a);
            nd->slope = a == MINIMA_ACT_LEAKY_RELU ? slope : 0.01;
        }
    }
    m->activation = a;
    m->leaky_slope = a == MINIMA_ACT_LEAKY_RELU ? slope : 0.01;
    return MINIMA_OK;
}

minima_status minima_model_check_activation(const minima_model *m)
{
    if (!m->is_mlp) return MINIMA_OK;
    for (int i = 2; i < m->n_nodes; i += 2) {
        const minima_node *nd = &m->nodes[i];
        if (nd->kind != activation_node(m->activation) ||
            (nd->kind == MINIMA_NODE_LEAKY_RELU && nd->slope != m->leaky_slope))
            MINIMA_FAIL(MINIMA_EINVAL, "internal error: the model's activation (%s) and its "
                        "graph's node %d (%s) disagree; change activations with "
                        "minima_model_set_activation", minima_activation_name(m->activation), i,
                        minima_node_kind_name(nd->kind));
    }
    return MINIMA_OK;
}

minima_status minima_model_set_layer_name(minima_model *m, int k, const char *name)
{
    if (!m || !name || !m->is_mlp || k < 0 || k >= m->n_layers)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_model_set_layer_name: bad argument");
    /* A node's empty name is the shared literal "" (never freed). */
    char *a = minima_strdup(name), *b = name[0] ? minima_strdup(name) : (char *)"";
    if (!a || !b) {
        minima_free(a);
        if (b && b[0]) minima_free(b);
        MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    }
    minima_free(m->layer_names[k]);
    m->layer_names[k] = a;
    minima_node *nd = &m->nodes[2 * k + 1];
    if (nd->name && nd->name[0]) minima_free(nd->name);
    nd->name = b;
    return MINIMA_OK;
}

minima_status minima_model_copy(const minima_model *src, minima_model **out)
{
    if (!src || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_copy: NULL argument");
    MINIMA_TRY(minima_model_check_activation(src));
    minima_model *m;
    MINIMA_TRY(minima_model_create_graph(&m, src->n_nodes, src->nodes));
    m->activation_source = src->activation_source;
    m->order_source = src->order_source;
    m->loss = src->loss;
    memcpy(m->theta, src->theta, src->n_params * sizeof *m->theta);
    for (int i = 0; i < src->n_meta; i++)
        if (minima_model_set_meta(m, src->meta[i].key, src->meta[i].value) != MINIMA_OK) goto nomem;
    *out = m;
    return MINIMA_OK;
nomem:
    minima_model_free(m);
    MINIMA_FAIL(MINIMA_ENOMEM, "out of memory copying a model");
}

minima_status minima_parse_arch(const char *arch, int **widths_out, int *n_layers_out)
{
    if (!arch || !widths_out || !n_layers_out)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_parse_arch: NULL argument");
    int count = 1;
    for (const char *c = arch; *c; c++) count += (*c == '-');
    if (count < 2)
        MINIMA_FAIL(MINIMA_EINVAL, "architecture '%s': expected widths joined by '-', "
                    "input first and output last, e.g. 784-128-10", arch);
    int *w = minima_alloc((size_t)count, sizeof *w);
    if (!w) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    const char *p = arch;
    for (int i = 0; i < count; i++) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 100000000 || (*end != '-' && *end != '\0') ||
            !isdigit((unsigned char)*p)) {
            minima_free(w);
            MINIMA_FAIL(MINIMA_EINVAL, "architecture '%s': width %d is not a positive integer "
                        "(found '%.*s')", arch, i + 1, (int)strcspn(p, "-"), p);
        }
        w[i] = (int)v;
        p = end + (*end == '-');
    }
    *widths_out = w;
    *n_layers_out = count - 1;
    return MINIMA_OK;
}

void minima_model_arch_string(const minima_model *m, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0) return;
    buf[0] = '\0';
    if (!m->is_mlp) {
        minima_arch_format(m, buf, size);
        return;
    }
    for (int k = 0; k <= m->n_layers && used < size; k++) {
        int n = snprintf(buf + used, size - used, k ? "-%d" : "%d", m->widths[k]);
        if (n < 0) break;
        used += (size_t)n;
    }
}

/* PyTorch's default initialisation of nn.Linear and nn.Conv2d: weight and
 * bias uniform in +-1/sqrt(fan_in), fan_in = in/groups * kh * kw. */
void minima_model_init(minima_model *m, uint64_t seed)
{
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    for (int i = 1; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        if (nd->n_weight == 0) continue;
        double fan_in = (double)nd->n_weight / (double)nd->out;
        double bound = 1.0 / sqrt(fan_in);
        minima_rng_fill_uniform(&rng, m->theta + nd->weight_offset, nd->n_weight, -bound, bound);
        if (nd->n_bias)
            minima_rng_fill_uniform(&rng, m->theta + nd->bias_offset, nd->n_bias, -bound, bound);
    }
}

double *minima_model_weight(const minima_model *m, int k)
{
    return m->theta + m->weight_offset[k];
}

double *minima_model_bias(const minima_model *m, int k)
{
    return m->has_bias ? m->theta + m->bias_offset[k] : NULL;
}

size_t minima_model_layer_weights(const minima_model *m, int k)
{
    return (size_t)m->widths[k + 1] * (size_t)m->widths[k];
}

size_t minima_model_layer_params(const minima_model *m, int k)
{
    return minima_model_layer_weights(m, k) + (m->has_bias ? (size_t)m->widths[k + 1] : 0);
}

size_t minima_model_layer_offset(const minima_model *m, int k)
{
    return m->weight_offset[k];
}

minima_status minima_model_check_finite(const minima_model *m)
{
    if (!m->is_mlp) {
        for (int i = 1; i < m->n_nodes; i++) {
            const minima_node *nd = &m->nodes[i];
            for (int part = 0; part < 2; part++) {
                const double *v = m->theta + (part ? nd->bias_offset : nd->weight_offset);
                size_t n = part ? nd->n_bias : nd->n_weight;
                for (size_t j = 0; j < n; j++)
                    if (!isfinite(v[j])) {
                        char label[160];
                        minima_model_node_label(m, i, label, sizeof label);
                        MINIMA_FAIL(MINIMA_ENONFINITE, "%s %s entry %zu is %g; expected a finite "
                                    "number", label, part ? "bias" : "weight", j, v[j]);
                    }
            }
        }
        return MINIMA_OK;
    }
    for (int k = 0; k < m->n_layers; k++) {
        const double *w = minima_model_weight(m, k);
        size_t nw = minima_model_layer_weights(m, k);
        for (size_t i = 0; i < nw; i++)
            if (!isfinite(w[i]))
                MINIMA_FAIL(MINIMA_ENONFINITE, "layer '%s' weight [%zu, %zu] is %g; "
                            "expected a finite number", m->layer_names[k],
                            i / (size_t)m->widths[k], i % (size_t)m->widths[k], w[i]);
        const double *b = minima_model_bias(m, k);
        for (int i = 0; b && i < m->widths[k + 1]; i++)
            if (!isfinite(b[i]))
                MINIMA_FAIL(MINIMA_ENONFINITE, "layer '%s' bias [%d] is %g; expected a finite number",
                            m->layer_names[k], i, b[i]);
    }
    return MINIMA_OK;
}

minima_status minima_model_set_meta(minima_model *m, const char *key, const char *value)
{
    if (!m || !key || !value) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_set_meta: NULL argument");
    char *v = minima_strdup(value);
    if (!v) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    for (int i = 0; i < m->n_meta; i++) {
        if (strcmp(m->meta[i].key, key) == 0) {
            minima_free(m->meta[i].value);
            m->meta[i].value = v;
            return MINIMA_OK;
        }
    }
    char *k = minima_strdup(key);
    minima_meta *grown = k ? minima_realloc(m->meta, (size_t)m->n_meta + 1, sizeof *grown) : NULL;
    if (!grown) {
        minima_free(k);
        minima_free(v);
        MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    }
    m->meta = grown;
    m->meta[m->n_meta].key = k;
    m->meta[m->n_meta].value = v;
    m->n_meta++;
    return MINIMA_OK;
}

const char *minima_model_get_meta(const minima_model *m, const char *key)
{
    for (int i = 0; m && key && i < m->n_meta; i++)
        if (strcmp(m->meta[i].key, key) == 0) return m->meta[i].value;
    return NULL;
}

const char *minima_activation_name(minima_activation a)
{
    switch (a) {
    case MINIMA_ACT_RELU: return "relu";
    case MINIMA_ACT_LEAKY_RELU: return "leaky_relu";
    case MINIMA_ACT_TANH: return "tanh";
    }
    return "unknown";
}

minima_status minima_activation_parse(const char *s, minima_activation *a)
{
    if (s && (!strcmp(s, "relu") || !strcmp(s, "ReLU"))) { *a = MINIMA_ACT_RELU; return MINIMA_OK; }
    if (s && (!strcmp(s, "leaky_relu") || !strcmp(s, "LeakyReLU"))) { *a = MINIMA_ACT_LEAKY_RELU; return MINIMA_OK; }
    if (s && (!strcmp(s, "tanh") || !strcmp(s, "Tanh"))) { *a = MINIMA_ACT_TANH; return MINIMA_OK; }
    MINIMA_FAIL(MINIMA_EINVAL, "activation '%s': expected relu, leaky_relu or tanh", s ? s : "(null)");
}

const char *minima_provenance_name(minima_provenance p)
{
    switch (p) {
    case MINIMA_FROM_PROGRAM: return "program";
    case MINIMA_FROM_FILE: return "file";
    case MINIMA_FROM_OPTION: return "option";
    case MINIMA_FROM_ASSUMED: return "assumed";
    case MINIMA_FROM_INDEX: return "index";
    case MINIMA_FROM_SHAPES: return "shapes";
    }
    return "unknown";
}

const char *minima_loss_name(minima_loss l)
{
    return l == MINIMA_LOSS_MSE ? "mse" : "ce";
}

minima_status minima_loss_parse(const char *s, minima_loss *l)
{
    if (s && (!strcmp(s, "ce") || !strcmp(s, "cross_entropy"))) { *l = MINIMA_LOSS_CE; return MINIMA_OK; }
    if (s && !strcmp(s, "mse")) { *l = MINIMA_LOSS_MSE; return MINIMA_OK; }
    MINIMA_FAIL(MINIMA_EINVAL, "loss '%s': expected ce or mse", s ? s : "(null)");
}
