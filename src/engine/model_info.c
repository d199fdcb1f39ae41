/* model_info.c — the JSON description of a model (`minima info --json`),
 * one writer for the command and the C API (model.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/format.h"
#include "minima/model.h"

typedef struct {
    char *s;
    size_t len, cap;
    int failed;                /* an allocation failed: the text is incomplete */
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text *t, const char *fmt, ...)
{
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { t->failed = 1; return; }
        if (t->s && (size_t)n < t->cap - t->len) { t->len += (size_t)n; return; }
        size_t cap = t->cap ? t->cap : 256;
        while (cap <= t->len + (size_t)n) cap *= 2;
        char *p = minima_realloc(t->s, cap, 1);
        if (!p) { t->failed = 1; return; }
        t->s = p;
        t->cap = cap;
    }
}

static void put_number(text *t, double x)
{
    char buf[MINIMA_DOUBLE_CHARS];
    if (!isfinite(x)) { put(t, "null"); return; }
    minima_format_double(buf, sizeof buf, x);
    put(t, "%s", buf);
}

/* A JSON string, escaped as the command line's json_string does. */
static void put_string(text *t, const char *s)
{
    put(t, "\"");
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': put(t, "\\\""); break;
        case '\\': put(t, "\\\\"); break;
        case '\n': put(t, "\\n"); break;
        case '\t': put(t, "\\t"); break;
        case '\r': put(t, "\\r"); break;
        default:
            if (*p < 0x20) put(t, "\\u%04x", *p);
            else put(t, "%c", *p);
        }
    }
    put(t, "\"");
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

minima_status minima_model_info_json(const minima_model *m, const char *path, char **json)
{
    if (!json) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_info_json: NULL argument");
    *json = NULL;
    if (!m) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_info_json: NULL model");
    text t = {NULL, 0, 0, 0};
    char arch[4096];
    minima_model_arch_string(m, arch, sizeof arch);
    put(&t, "{\"model\": ");
    if (path) put_string(&t, path);
    else put(&t, "null");
    put(&t, ", \"arch\": ");
    put_string(&t, arch);
    put(&t, ", \"n_layers\": %d, \"n_params\": %zu, \"has_bias\": %s, ", m->n_layers, m->n_params,
        m->has_bias ? "true" : "false");
    put(&t, "\"activation\": ");
    put_string(&t, minima_activation_name(m->activation));
    put(&t, ", \"activation_source\": ");
    put_string(&t, minima_provenance_name(m->activation_source));
    put(&t, ", \"layer_order_source\": ");
    put_string(&t, minima_provenance_name(m->order_source));
    if (m->activation == MINIMA_ACT_LEAKY_RELU) {
        put(&t, ", \"leaky_slope\": ");
        put_number(&t, m->leaky_slope);
    }
    put(&t, ", \"loss\": ");
    put_string(&t, minima_loss_name(m->loss));
    put(&t, ",\n \"layers\": [");
    for (int k = 0; k < m->n_layers; k++) {
        const double *w = minima_model_weight(m, k), *b = minima_model_bias(m, k);
        size_t nw = minima_model_layer_weights(m, k);
        put(&t, "%s\n  {\"name\": ", k ? "," : "");
        put_string(&t, m->layer_names[k]);
        put(&t, ", \"in\": %d, \"out\": %d, \"bias\": %s, \"n_params\": %zu, \"offset\": %zu, "
            "\"weight_norm\": ", m->widths[k], m->widths[k + 1], m->has_bias ? "true" : "false",
            minima_model_layer_params(m, k), minima_model_layer_offset(m, k));
        put_number(&t, norm2(w, nw));
        put(&t, ", \"weight_max_abs\": ");
        put_number(&t, norm_inf(w, nw));
        put(&t, ", \"bias_norm\": ");
        if (b) put_number(&t, norm2(b, (size_t)m->widths[k + 1]));
        else put(&t, "null");
        put(&t, "}");
    }
    put(&t, "],\n \"theta_norm\": ");
    put_number(&t, norm2(m->theta, m->n_params));
    put(&t, ",\n \"metadata\": {");
    for (int i = 0; i < m->n_meta; i++) {
        put(&t, "%s", i ? ", " : "");
        put_string(&t, m->meta[i].key);
        put(&t, ": ");
        put_string(&t, m->meta[i].value);
    }
    put(&t, "}}");
    if (t.failed) {
        minima_free(t.s);
        MINIMA_FAIL(MINIMA_ENOMEM, "model info: out of memory for the JSON text");
    }
    *json = t.s;
    return MINIMA_OK;
}
