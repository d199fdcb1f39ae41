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

void minima_model_free(minima_model *m)
{
    if (!m) return;
    if (m->layer_names)
        for (int k = 0; k < m->n_layers; k++) minima_free(m->layer_names[k]);
    for (int i = 0; i < m->n_meta; i++) {
        minima_free(m->meta[i].key);
        minima_free(m->meta[i].value);
    }
    minima_free(m->meta);
    minima_free(m->layer_names);
    minima_free(m->widths);
    minima_free(m->weight_offset);
    minima_free(m->bias_offset);
    minima_free(m->theta);
    minima_free(m);
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
    minima_model *m = minima_calloc(1, sizeof *m);
    if (!m) goto nomem;
    m->n_layers = n_layers;
    m->has_bias = has_bias ? 1 : 0;
    m->activation = activation;
    m->leaky_slope = 0.01;
    m->loss = MINIMA_LOSS_CE;
    m->n_params = p;
    m->widths = minima_alloc((size_t)n_layers + 1, sizeof *m->widths);
    m->layer_names = minima_calloc((size_t)n_layers, sizeof *m->layer_names);
    m->weight_offset = minima_alloc((size_t)n_layers, sizeof *m->weight_offset);
    m->bias_offset = minima_alloc((size_t)n_layers, sizeof *m->bias_offset);
    m->theta = minima_calloc(p, sizeof *m->theta);
    if (!m->widths || !m->layer_names || !m->weight_offset || !m->bias_offset || !m->theta)
        goto nomem;
    memcpy(m->widths, widths, ((size_t)n_layers + 1) * sizeof *widths);
    size_t off = 0;
    for (int k = 0; k < n_layers; k++) {
        char name[32];
        snprintf(name, sizeof name, "%d", 2 * k);
        if (!(m->layer_names[k] = minima_strdup(name))) goto nomem;
        m->weight_offset[k] = off;
        off += (size_t)widths[k + 1] * (size_t)widths[k];
        m->bias_offset[k] = off;
        if (has_bias) off += (size_t)widths[k + 1];
    }
    *out = m;
    return MINIMA_OK;
nomem:
    minima_model_free(m);
    MINIMA_FAIL(MINIMA_ENOMEM, "out of memory creating a network of %zu parameters", p);
}

minima_status minima_model_copy(const minima_model *src, minima_model **out)
{
    if (!src || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_copy: NULL argument");
    minima_model *m;
    MINIMA_TRY(minima_model_create(&m, src->n_layers, src->widths, src->has_bias, src->activation));
    m->leaky_slope = src->leaky_slope;
    m->activation_source = src->activation_source;
    m->order_source = src->order_source;
    m->loss = src->loss;
    memcpy(m->theta, src->theta, src->n_params * sizeof *m->theta);
    for (int k = 0; k < src->n_layers; k++) {
        char *name = minima_strdup(src->layer_names[k]);
        if (!name) goto nomem;
        minima_free(m->layer_names[k]);
        m->layer_names[k] = name;
    }
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
    for (int k = 0; k <= m->n_layers && used < size; k++) {
        int n = snprintf(buf + used, size - used, k ? "-%d" : "%d", m->widths[k]);
        if (n < 0) break;
        used += (size_t)n;
    }
}

void minima_model_init(minima_model *m, uint64_t seed)
{
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    for (int k = 0; k < m->n_layers; k++) {
        double bound = 1.0 / sqrt((double)m->widths[k]);
        minima_rng_fill_uniform(&rng, minima_model_weight(m, k),
                                minima_model_layer_weights(m, k), -bound, bound);
        if (m->has_bias)
            minima_rng_fill_uniform(&rng, minima_model_bias(m, k), (size_t)m->widths[k + 1],
                                    -bound, bound);
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
