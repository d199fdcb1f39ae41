/* measure_path_norm.c — the l_p path norm of Neyshabur et al. 2015
 * (docs/measures/path_norm.md).
 *
 * (sum over input->output paths of prod_e |w_e|^p)^(1/p). A bias b_k[h] is
 * the edge from a constant unit of value 1 into unit h of layer k, so the
 * paths are those from an input unit and those from the bias unit of any
 * layer. All of them are summed by one linear forward pass of an all-ones
 * input through the network with every parameter replaced by |w|^p and no
 * nonlinearity:
 *
 *     u_0 = 1 (d_0),   u_k = |W_k|^p u_{k-1} + |b_k|^p,   value = (1^T u_K)^(1/p)
 *
 * since u_k[h] is the sum over the paths ending at unit h of layer k (from
 * inputs, or from the bias units of layers 1..k) of their products.
 *
 * A graph (convolutions, pooling, residual adds) gets the definition Jiang
 * et al. 2019 ("Fantastic generalization measures") use for convolutional
 * networks: the network's own forward pass of an all-ones input with every
 * parameter theta replaced by |theta|^p, the outputs summed. Node by node:
 *
 *   linear, conv2d   |W|^p x + |b|^p; a weight is an edge from one input
 *                    value to one output value, a bias an edge from a
 *                    constant unit; zero padding reads 0 and adds no path
 *   relu, leaky_relu, identity, tanh
 *                    the identity (every value is >= 0, so relu and leaky
 *                    relu are the identity there; a path goes through the
 *                    unit; tanh is ignored as the MLP formula ignores the
 *                    activation, and the value is then not invariant)
 *   avgpool2d, global_avgpool
 *                    the average: the pool's fixed 1/k^2 (1/(HW)) is a
 *                    constant of the architecture, not a parameter, and is
 *                    not raised to p (the network's own forward pass; a
 *                    constant factor of the paths through the window)
 *   maxpool2d        the largest value of the window: on non-negative
 *                    values, the largest sum of the paths into one position
 *                    of the window; it commutes with a positive factor per
 *                    channel, so the value stays exactly invariant
 *   flatten          a reshape;  add  the sum (paths through either branch)
 *
 * It is run by the engine (minima_eval_outputs) on a copy of the graph
 * whose activation nodes are identity nodes, at |theta|^p. For a
 * multilayer perceptron this is the formula above; the MLP keeps its own
 * loop (the value bit for bit as before) and tests/test_measures_graph.c
 * checks that both agree on an MLP written as a graph. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "engine/net_eval_impl.h"
#include "measures/measure_curv_impl.h"
#include "minima/alloc.h"

typedef struct {
    double p;
} path_settings;

static const minima_setting table[] = {
    {"p", MINIMA_SETTING_DOUBLE, offsetof(path_settings, p), 2, 0, INFINITY, MINIMA_SETTING_MIN_OPEN,
     "the path norm's p"},
};
#define N_SETTINGS (sizeof table / sizeof *table)

static void finish(double sum, double p, minima_measure_result *out)
{
    out->value = pow(sum, 1.0 / p);
    minima_measure_add_extra(out, "sum_of_paths", sum);
    if (!isfinite(sum)) minima_curv_note(out, "the sum over paths overflowed");
}

/* The sum over the paths of a graph (above). */
static minima_status graph_paths(const minima_model *m, const double *theta, double p,
                                 minima_measure_result *out)
{
    minima_status st = MINIMA_OK;
    minima_model *c = NULL;
    size_t P = m->n_params, d0 = minima_model_n_inputs(m);
    int dK = minima_model_n_outputs(m), n_tanh = 0;
    minima_node *nodes = minima_alloc((size_t)m->n_nodes, sizeof *nodes);
    double *tp = minima_alloc(P, sizeof *tp);              /* (P) |theta|^p */
    double *ones = minima_alloc(d0, sizeof *ones);         /* (d_0) */
    double *u = minima_alloc((size_t)dK, sizeof *u);       /* (d_K) */
    if (!nodes || !tp || !ones || !u) {
        st = minima_error(MINIMA_ENOMEM, "measure path_norm: out of memory");
        goto done;
    }
    memcpy(nodes, m->nodes, (size_t)m->n_nodes * sizeof *nodes);
    for (int i = 1; i < m->n_nodes; i++) {
        minima_node_kind k = nodes[i].kind;
        if (k == MINIMA_NODE_RELU || k == MINIMA_NODE_LEAKY_RELU || k == MINIMA_NODE_TANH) {
            n_tanh += k == MINIMA_NODE_TANH;
            nodes[i].kind = MINIMA_NODE_IDENTITY;
        }
    }
    int finite = 1;
    for (size_t j = 0; j < P; j++) {
        tp[j] = pow(fabs(theta[j]), p);
        finite &= isfinite(tp[j]) != 0;
    }
    for (size_t j = 0; j < d0; j++) ones[j] = 1.0;
    double sum = INFINITY;   /* a parameter's |w|^p overflowed */
    if (finite) {
        if ((st = minima_model_create_graph(&c, m->n_nodes, nodes)) != MINIMA_OK) goto done;
        if ((st = minima_eval_outputs(c, tp, ones, 1, u)) != MINIMA_OK) goto done;
        sum = 0;
        for (int i = 0; i < dK; i++) sum += u[i];
    }
    finish(sum, p, out);
    if (n_tanh)
        minima_curv_note(out, "%d tanh node%s counted as the identity: the path norm is not "
                         "invariant through tanh", n_tanh, n_tanh == 1 ? "" : "s");
done:
    minima_model_free(c);
    minima_free(nodes);
    minima_free(tp);
    minima_free(ones);
    minima_free(u);
    return st;
}

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    (void)seed;
    path_settings ps;
    MINIMA_TRY(minima_settings_parse("path_norm", table, N_SETTINGS, settings, &ps));
    double p = ps.p;
    minima_settings_json(table, N_SETTINGS, &ps, NULL, out->params, sizeof out->params);

    const minima_model *m = minima_net_model(net);
    const double *theta = minima_net_point(net);
    if (!m->is_mlp) return graph_paths(m, theta, p, out);
    int wmax = 0;
    for (int k = 0; k <= m->n_layers; k++) wmax = m->widths[k] > wmax ? m->widths[k] : wmax;
    double *u = minima_alloc((size_t)wmax, sizeof *u);   /* (d_{k-1}) */
    double *v = minima_alloc((size_t)wmax, sizeof *v);   /* (d_k) */
    if (!u || !v) {
        minima_free(u);
        minima_free(v);
        MINIMA_FAIL(MINIMA_ENOMEM, "measure path_norm: out of memory");
    }
    for (int j = 0; j < m->widths[0]; j++) u[j] = 1.0;
    for (int k = 0; k < m->n_layers; k++) {
        int din = m->widths[k], dout = m->widths[k + 1];
        const double *w = theta + m->weight_offset[k];   /* (d_out, d_in) */
        const double *b = m->has_bias ? theta + m->bias_offset[k] : NULL;
        for (int i = 0; i < dout; i++) {
            double s = b ? pow(fabs(b[i]), p) : 0.0;
            const double *row = w + (size_t)i * (size_t)din;
            for (int j = 0; j < din; j++) s += pow(fabs(row[j]), p) * u[j];
            v[i] = s;
        }
        memcpy(u, v, (size_t)dout * sizeof *u);
    }
    double sum = 0;
    for (int i = 0; i < m->widths[m->n_layers]; i++) sum += u[i];
    minima_free(u);
    minima_free(v);
    finish(sum, p, out);
    return MINIMA_OK;
}

const minima_measure minima_measure_path_norm = {
    .name = "path_norm",
    .title = "l_p path norm",
    .source = "Neyshabur, Salakhutdinov & Srebro 2015 (Path-SGD); Neyshabur et al. 2015 (norm-based capacity)",
    .invariance = MINIMA_INVARIANCE_EXACT,
    .settings = table,
    .n_settings = N_SETTINGS,
    .compute = compute,
};
