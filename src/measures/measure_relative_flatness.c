/* measure_relative_flatness.c — relative flatness of Petzka, Kamp, Adilova,
 * Sminchisescu & Boley 2021 (docs/measures/relative_flatness.md), on the
 * penultimate -> output layer W = W_K (d_K, d_{K-1}) with rows w_s:
 *
 *     kappa = sum_{s,s'} <w_s, w_s'> Tr(H_{s,s'}),
 *
 * H_{s,s'} (d_{K-1}, d_{K-1}) the block of the loss Hessian for rows s and
 * s' of W. First each input feature j of that layer (hidden unit j of
 * layer K-1) is standardised: sigma_j, the standard deviation of A_{K-1}[:, j]
 * over the data (population form, divisor N), divides row j of W_{K-1} and
 * b_{K-1}[j] and multiplies column j of W — a per-neuron rescaling, so the
 * function and the loss do not change.
 *
 * The traces come exactly from the layer structure, not from products:
 * Z_K = A_{K-1} W^T + b is linear in W, so
 *
 *     d^2 L / dW_{sj} dW_{s'j'} = (1/N) sum_i a_ij a_ij' h_i[s, s'],
 *
 * h_i the Hessian of example i's loss in its outputs (diag(p_i) - p_i p_i^T
 * for cross-entropy, (2/d_K) I for MSE). Hence Tr(H_{s,s'}) =
 * (1/N) sum_i ||a_i||^2 h_i[s,s'] and
 *
 *     kappa = (1/N) sum_i ||a'_i||^2 <h_i, W' W'^T>,
 *
 * a' = a / sigma and W' = W diag(sigma) the standardised features and
 * weights: one forward pass, O(N d_K^2) more. A feature with sigma = 0
 * (constant over the data, e.g. a dead unit) carries no information: its
 * standardised column of W is 0 and it is left out of ||a'||^2 (counted in
 * the result). Leaving its column unscaled instead would let a rescaling of
 * that unit move kappa, breaking the invariance the measure is built for.
 *
 * A graph (convolutions, pooling, residual adds): Petzka et al.'s feature
 * layer is the input of the last layer, so the output node (the last) must
 * be `linear` (refused, naming the node, otherwise) and the features are
 * the flat vector it reads — after flatten, global_avgpool or a linear
 * layer. Everything above carries over with W that node's weight and
 * A_{K-1} its input, computed by the engine on the graph cut at that node
 * (measure_graph_impl.h); the outputs are W a + b. Every rescaling of the
 * graph's group (minima/graph_symmetry.h) multiplies feature j by its
 * channel's factor c_j and column j of W by 1/c_j, so standardised the
 * value is exactly invariant. The features are standardised unless no
 * linear/conv2d node lies between the data and them (the MLP without a
 * hidden layer: features that are the data, reshaped or pooled). For an
 * MLP the layer code below is kept (the value bit for bit as before);
 * tests/test_measures_graph.c checks that the graph code gives the same on
 * an MLP written as a graph, and the Hessian-block definition on a CNN. */
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "measures/measure_curv_impl.h"
#include "measures/measure_graph_impl.h"
#include "minima/alloc.h"

typedef struct {
    int standardize;
} rf_settings;

static const minima_setting table[] = {
    {"standardize", MINIMA_SETTING_BOOL, offsetof(rf_settings, standardize), 1, 0, 1, 0,
     "1: standardised features (invariant); 0: kappa of the raw layer (not per-neuron invariant)"},
};
#define N_SETTINGS (sizeof table / sizeof *table)

/* Where the features a (b, d_{K-1}) and the outputs z (b, d_K) of a batch
 * come from: the MLP's layers, or the graph cut at the last node's input. */
typedef struct {
    const minima_model *m;
    int graph;
    minima_curv_acts acts;      /* MLP */
    minima_mgraph_values vals;  /* graph */
    double *a, *z;              /* graph: (rows, dh), (rows, dK) */
    const double *W, *bias;     /* graph: the last node's (dK, dh), (dK) or NULL */
    int dh, dK;
} rf_source;

static void rf_source_free(rf_source *r)
{
    minima_curv_acts_free(&r->acts);
    minima_mgraph_values_free(&r->vals);
    minima_free(r->a);
    minima_free(r->z);
}

static minima_status rf_batch(rf_source *r, const double *theta, const double *x, size_t b,
                              const double **a, const double **z)
{
    const minima_model *m = r->m;
    if (!r->graph) {
        int K = m->n_layers;
        MINIMA_TRY(minima_curv_forward(m, theta, x, b, &r->acts));
        /* (b, d_{K-1}): the last layer's inputs; the data itself without hidden layer */
        *a = K >= 2 ? r->acts.act[K - 1] : x;
        *z = r->acts.act[K];   /* (b, d_K) */
        return MINIMA_OK;
    }
    MINIMA_TRY(minima_mgraph_values_run(&r->vals, theta, x, b, r->a));
    for (size_t i = 0; i < b; i++)
        for (int s = 0; s < r->dK; s++) r->z[i * (size_t)r->dK + (size_t)s] = r->bias ? r->bias[s] : 0.0;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, r->dK, r->dh, 1.0, r->a, r->dh,
                r->W, r->dh, 1.0, r->z, r->dK);
    *a = r->a;
    *z = r->z;
    return MINIMA_OK;
}

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    (void)seed;
    rf_settings rs;
    MINIMA_TRY(minima_settings_parse("relative_flatness", table, N_SETTINGS, settings, &rs));
    int standardize = rs.standardize;
    minima_settings_json(table, N_SETTINGS, &rs, "\"layer\": \"last\", \"std\": \"population\"",
                         out->params, sizeof out->params);

    const minima_model *m = minima_net_model(net);
    const minima_dataset *data = minima_net_data(net);
    const double *theta = minima_net_point(net);
    minima_loss loss = minima_net_loss_kind(net);
    size_t N = minima_net_n_examples(net);
    size_t d0 = minima_model_n_inputs(m);
    int last = m->n_nodes - 1, dK = minima_model_n_outputs(m), dh;
    const double *W;   /* (d_K, d_{K-1}) */
    int hidden;        /* features computed with parameters: standardised */
    if (m->is_mlp) {
        int K = m->n_layers;
        dh = m->widths[K - 1];
        W = theta + m->weight_offset[K - 1];
        hidden = K >= 2;
    } else {
        const minima_node *out_node = &m->nodes[last];
        if (out_node->kind != MINIMA_NODE_LINEAR) {
            char label[160];
            minima_model_node_label(m, last, label, sizeof label);
            MINIMA_FAIL(MINIMA_EUNSUPPORTED, "measure relative_flatness reads the input of the last "
                        "layer, which must be linear; the output node is %s", label);
        }
        int feat = out_node->inputs[0];
        dh = (int)minima_shape_size(m->nodes[feat].shape);
        W = theta + out_node->weight_offset;
        int *dmin = minima_alloc((size_t)m->n_nodes, sizeof *dmin);
        int *dmax = minima_alloc((size_t)m->n_nodes, sizeof *dmax);
        if (!dmin || !dmax) {
            minima_free(dmin);
            minima_free(dmax);
            MINIMA_FAIL(MINIMA_ENOMEM, "measure relative_flatness: out of memory");
        }
        minima_mgraph_depths(m, dmin, dmax);
        hidden = dmax[feat] >= 1;
        minima_free(dmin);
        minima_free(dmax);
    }
    minima_status st = MINIMA_OK;
    rf_source src = {.m = m, .graph = !m->is_mlp, .dh = dh, .dK = dK, .W = W};
    double *mean = minima_calloc((size_t)dh, sizeof *mean);    /* (d_{K-1}) */
    double *var = minima_calloc((size_t)dh, sizeof *var);      /* (d_{K-1}) */
    double *sigma = minima_alloc((size_t)dh, sizeof *sigma);   /* (d_{K-1}) */
    double *ws = minima_alloc((size_t)dK * (size_t)dh, sizeof *ws);  /* (d_K, d_{K-1}) W' */
    double *M = minima_alloc((size_t)dK * (size_t)dK, sizeof *M);    /* (d_K, d_K) W' W'^T */
    double *g = minima_alloc((size_t)dK, sizeof *g), *p = minima_alloc((size_t)dK, sizeof *p);
    if (!mean || !var || !sigma || !ws || !M || !g || !p) {
        st = minima_error(MINIMA_ENOMEM, "measure relative_flatness: out of memory");
        goto fail;
    }
    size_t rows = N < MINIMA_CURV_BATCH ? N : MINIMA_CURV_BATCH;
    if (!src.graph) {
        if ((st = minima_curv_acts_alloc(&src.acts, m, rows, "measure relative_flatness")) != MINIMA_OK)
            goto fail;
    } else {
        const minima_node *out_node = &m->nodes[last];
        src.bias = out_node->has_bias ? theta + out_node->bias_offset : NULL;
        if ((st = minima_mgraph_values_init(&src.vals, m, out_node->inputs[0],
                                            "measure relative_flatness")) != MINIMA_OK)
            goto fail;
        src.a = minima_alloc(rows * (size_t)dh, sizeof *src.a);
        src.z = minima_alloc(rows * (size_t)dK, sizeof *src.z);
        if (!src.a || !src.z) {
            st = minima_error(MINIMA_ENOMEM, "measure relative_flatness: out of memory for %zu "
                              "rows of %d features", rows, dh);
            goto fail;
        }
    }

    /* pass 1: mean and variance of the penultimate activations (two passes:
     * the means, then the squared deviations) */
    size_t n_constant = 0;
    for (int j = 0; j < dh; j++) sigma[j] = 1.0;
    if (hidden && standardize) {
        for (int pass = 0; pass < 2; pass++)
            for (size_t s = 0; s < N; s += rows) {
                size_t b = N - s < rows ? N - s : rows;
                const double *a, *z;   /* (b, d_{K-1}), (b, d_K) */
                if ((st = rf_batch(&src, theta, data->x + s * d0, b, &a, &z)) != MINIMA_OK) goto fail;
                for (size_t i = 0; i < b; i++)
                    for (int j = 0; j < dh; j++) {
                        double v = a[i * (size_t)dh + (size_t)j];
                        if (pass == 0) mean[j] += v;
                        else var[j] += (v - mean[j]) * (v - mean[j]);
                    }
                if (pass == 0 && s + b == N)
                    for (int j = 0; j < dh; j++) mean[j] /= (double)N;
            }
        for (int j = 0; j < dh; j++) {
            double sd = sqrt(var[j] / (double)N);
            if (sd > 0 && isfinite(sd)) sigma[j] = sd;
            else { sigma[j] = 0; n_constant++; }   /* constant: left out (see above) */
        }
    } else if (standardize) {
        minima_curv_note(out, src.graph ? "no linear or conv2d node before the last layer: its "
                         "inputs, computed from the data alone, are not standardised (that would "
                         "change the function)"
                         : "no hidden layer: the inputs are not standardised (that would "
                         "change the function)");
    }
    for (int s = 0; s < dK; s++)
        for (int j = 0; j < dh; j++)
            ws[(size_t)s * (size_t)dh + (size_t)j] =
                sigma[j] > 0 ? W[(size_t)s * (size_t)dh + (size_t)j] * sigma[j] : 0.0;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, dK, dK, dh, 1.0, ws, dh, ws, dh, 0.0, M, dK);

    /* pass 2: kappa = (1/N) sum_i ||a'_i||^2 <h_i, M> */
    double kappa = 0;
    for (size_t s = 0; s < N; s += rows) {
        if (minima_interrupted()) {
            st = minima_error(MINIMA_EINTERRUPTED, "interrupted");
            goto fail;
        }
        size_t b = N - s < rows ? N - s : rows;
        const double *a, *z;   /* (b, d_{K-1}) the last layer's inputs, (b, d_K) */
        if ((st = rf_batch(&src, theta, data->x + s * d0, b, &a, &z)) != MINIMA_OK) goto fail;
        for (size_t i = 0; i < b; i++) {
            double na = 0;
            for (int j = 0; j < dh; j++) {
                if (!(sigma[j] > 0)) continue;     /* a constant feature: left out */
                double v = a[i * (size_t)dh + (size_t)j] / sigma[j];
                na += v * v;
            }
            double hm = 0;   /* <h_i, M> */
            if (loss == MINIMA_LOSS_CE) {
                minima_curv_output_grad(loss, z + i * (size_t)dK, dK, data->labels[s + i], NULL, g, p);
                double quad = 0;
                for (int u = 0; u < dK; u++) {
                    double mp = 0;
                    for (int v = 0; v < dK; v++) mp += M[(size_t)u * (size_t)dK + (size_t)v] * p[v];
                    hm += p[u] * M[(size_t)u * (size_t)dK + (size_t)u];
                    quad += p[u] * mp;
                }
                hm -= quad;
            } else {
                for (int u = 0; u < dK; u++) hm += M[(size_t)u * (size_t)dK + (size_t)u];
                hm *= 2.0 / dK;
            }
            kappa += na * hm;
        }
    }
    out->value = kappa / (double)N;
    minima_measure_add_extra(out, "constant_features", (double)n_constant);
    if (n_constant)
        minima_curv_note(out, "%zu features of the last layer's input are constant over the data "
                         "and were left out (their standardised columns are 0)", n_constant);
fail:
    rf_source_free(&src);
    minima_free(mean);
    minima_free(var);
    minima_free(sigma);
    minima_free(ws);
    minima_free(M);
    minima_free(g);
    minima_free(p);
    return st;
}

/* Standardised, kappa is invariant under layer-wise and per-neuron
 * rescaling. Raw (standardize=0), a hidden unit of layer K-1 scaled by c
 * multiplies its activations by c and its column of W by 1/c, but the
 * products <w_s, w_s'> Tr(H_ss') weight the units' columns and activations
 * unequally: kappa stays put under a layer-wise map of the last two layers
 * only, and per-neuron maps move it. */
static minima_invariance invariance_for(const char *settings)
{
    rf_settings rs;
    if (minima_settings_parse("relative_flatness", table, N_SETTINGS, settings, &rs) != MINIMA_OK)
        minima_clear_error();
    return rs.standardize ? MINIMA_INVARIANCE_EXACT : MINIMA_INVARIANCE_NONE;
}

const minima_measure minima_measure_relative_flatness = {
    .name = "relative_flatness",
    .title = "relative flatness kappa of the last layer (standardised features)",
    .source = "Petzka, Kamp, Adilova, Sminchisescu & Boley 2021, Def. 3",
    .invariance = MINIMA_INVARIANCE_EXACT,
    .settings = table,
    .n_settings = N_SETTINGS,
    .compute = compute,
    .invariance_for = invariance_for,
};
