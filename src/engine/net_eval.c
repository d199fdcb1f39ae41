/* net_eval.c — the engine's forward pass over plain arrays and the layer
 * activations of an MLP (net_eval_impl.h). */
#include "engine/net_eval_impl.h"

#include <math.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/net.h"

/* A data set viewing n rows of x (not owned), with placeholder class
 * labels (all 0, valid for any number of outputs) so that the engine
 * accepts it: the outputs never read them. */
static minima_dataset view_of(const double *x, size_t n, size_t d, int32_t *labels, int dK)
{
    minima_dataset v;
    memset(&v, 0, sizeof v);
    v.n = n;
    v.d = (int)d;
    v.x = (double *)x;
    v.n_classes = dK;
    v.labels = labels;
    v.name = (char *)"examples";
    return v;
}

static minima_status outputs_of(const minima_model *m, const double *theta, const double *x,
                                size_t n, int32_t *labels, double *out)
{
    int dK = minima_model_n_outputs(m);
    minima_dataset v = view_of(x, n, minima_model_n_inputs(m), labels, dK);
    minima_net_params p = minima_net_default_params(m);
    p.loss = MINIMA_LOSS_CE;
    minima_net *net = NULL;
    MINIMA_TRY(minima_net_create(&net, m, &v, &p));
    minima_status st = minima_net_outputs(net, theta ? theta : m->theta, out);
    minima_net_free(net);
    return st;
}

minima_status minima_eval_outputs(const minima_model *m, const double *theta, const double *x,
                                  size_t n, double *out)
{
    if (!m || !x || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_eval_outputs: NULL argument");
    if (n == 0) return MINIMA_OK;
    int32_t *labels = minima_calloc(n, sizeof *labels);
    if (!labels) MINIMA_FAIL(MINIMA_ENOMEM, "outputs of %zu examples: out of memory", n);
    minima_status st = outputs_of(m, theta, x, n, labels, out);
    minima_free(labels);
    return st;
}

void minima_eval_activate(const minima_model *m, double *z, size_t n)
{
    switch (m->activation) {
    case MINIMA_ACT_RELU:
        for (size_t i = 0; i < n; i++) z[i] = z[i] > 0 ? z[i] : 0.0;
        break;
    case MINIMA_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) z[i] = z[i] > 0 ? z[i] : m->leaky_slope * z[i];
        break;
    case MINIMA_ACT_TANH:
        for (size_t i = 0; i < n; i++) z[i] = tanh(z[i]);
        break;
    }
}

void minima_eval_layers_free(minima_eval_layers *e)
{
    if (e->layer)
        for (int k = 0; k < e->K; k++) minima_model_free(e->layer[k]);
    minima_free(e->layer);
    minima_free(e->labels);
    memset(e, 0, sizeof *e);
}

minima_status minima_eval_layers_init(minima_eval_layers *e, const minima_model *m, size_t rows,
                                      const char *what)
{
    memset(e, 0, sizeof *e);
    MINIMA_TRY(minima_model_require_mlp(m, what));
    e->model = m;
    e->K = m->n_layers;
    e->rows = rows;
    e->layer = minima_calloc((size_t)m->n_layers, sizeof *e->layer);
    e->labels = minima_calloc(rows ? rows : 1, sizeof *e->labels);
    if (!e->layer || !e->labels) {
        minima_eval_layers_free(e);
        MINIMA_FAIL(MINIMA_ENOMEM, "%s: out of memory for the layer models", what);
    }
    for (int k = 0; k < m->n_layers; k++) {
        /* linear only: the activation is applied between the layers */
        minima_status st = minima_model_create(&e->layer[k], 1, m->widths + k, m->has_bias,
                                               m->activation);
        if (st != MINIMA_OK) {
            minima_eval_layers_free(e);
            return st;
        }
    }
    return MINIMA_OK;
}

minima_status minima_eval_layers_run(minima_eval_layers *e, const double *theta, const double *x,
                                     size_t n, double *const *act)
{
    MINIMA_ASSERT(n <= e->rows);
    const minima_model *m = e->model;
    if (n == 0) return MINIMA_OK;
    for (int k = 1; k <= e->K; k++) {
        const double *in = k == 1 ? x : act[k - 1];
        /* layer k's parameters (W_k then b_k) are contiguous in theta, in
         * the order of the one-layer model's theta */
        const double *tk = theta + minima_model_layer_offset(m, k - 1);
        MINIMA_TRY(outputs_of(e->layer[k - 1], tk, in, n, e->labels, act[k]));
        if (k < e->K) minima_eval_activate(m, act[k], n * (size_t)m->widths[k]);
    }
    return MINIMA_OK;
}
