/* net_jacobian.c — the per-example Jacobian of a net's outputs with respect
 * to its parameters (minima_net_output_jacobian, minima/net.h).
 *
 * The engine's products (net.c) sum over the examples of a batch: a
 * backward pass gives gw += sum_i J_i^T g_i. A measure that needs J_i
 * itself (per-example squares, per-example ratios) cannot get it from
 * them. Here the graph is run with the node kinds' own functions
 * (engine/layer.h), exactly as net.c runs them:
 *
 *   forward    the values V_j of every node for a chunk of examples
 *              (batched, as the engine does);
 *   backward   for each example e of the chunk and each output k, one
 *              backward pass over a batch of ONE row (the row of e in
 *              every node's values and aux) from the signal e_k at the
 *              output; the kinds' gw / gb accumulate straight into the
 *              Jacobian's row (e, k): d_K backward passes per example.
 *
 * Everything is read through the public accessors (model, data, anchor):
 * net.c's private struct, workspaces and cache are not touched, so this
 * file needs no change to net.c. The workspaces are allocated for the
 * call (values of a chunk of examples, one signal row per node, one
 * scratch arena) and freed before it returns. */
#include <stdint.h>
#include <string.h>

#include "engine/layer.h"
#include "minima/alloc.h"
#include "minima/dist.h"
#include "minima/net.h"

/* Examples whose values are computed by one forward call. */
#define JAC_CHUNK 32

typedef struct {
    const layer_kind *kind;
    const minima_node *node;
    const minima_shape *in_shape[2];
    size_t size;   /* values per example */
    size_t aux;    /* aux bytes per example */
} jac_node;

static layer_call_f64 call_of(const minima_model *m, const jac_node *p, int i, size_t b,
                              size_t row, const double *x0, size_t d_in, double **V,
                              unsigned char **A, const double *theta, void *scratch)
{
    const minima_node *nd = p[i].node;
    layer_call_f64 c;
    c.model = m;
    c.node = nd;
    c.in_shape[0] = p[i].in_shape[0];
    c.in_shape[1] = p[i].in_shape[1];
    c.b = b;
    for (int k = 0; k < 2; k++) {
        int src = k < nd->n_inputs ? nd->inputs[k] : -1;
        c.x[k] = src < 0 ? NULL : src == 0 ? x0 + row * d_in : V[src] + row * p[src].size;
    }
    c.y = V[i] + row * p[i].size;
    c.w = nd->n_weight ? theta + nd->weight_offset : NULL;
    c.bias = nd->n_bias ? theta + nd->bias_offset : NULL;
    c.aux = A[i] ? A[i] + row * p[i].aux : NULL;
    c.scratch = scratch;
    return c;
}

minima_status minima_net_output_jacobian(minima_net *net, size_t first, size_t n, double *jac)
{
    if (!net || (!jac && n)) MINIMA_FAIL(MINIMA_EINVAL, "minima_net_output_jacobian: NULL argument");
    size_t N = minima_net_n_examples(net);
    if (first > N || n > N - first)
        MINIMA_FAIL(MINIMA_ERANGE, "minima_net_output_jacobian: examples [%zu, %zu) are not in "
                    "the data set of %zu examples", first, first + n, N);
    if (n == 0) return MINIMA_OK;
    const minima_model *m = minima_net_model(net);
    const minima_dataset *data = minima_net_data(net);
    const double *theta = minima_net_point(net);
    size_t P = minima_net_n_params(net), dK = (size_t)minima_model_n_outputs(m);
    size_t d_in = minima_model_n_inputs(m);
    int nn = m->n_nodes;
    size_t rows = n < JAC_CHUNK ? n : JAC_CHUNK;

    minima_status st = MINIMA_OK;
    jac_node *p = minima_calloc((size_t)nn, sizeof *p);
    double **V = minima_calloc((size_t)nn, sizeof *V), **G = minima_calloc((size_t)nn, sizeof *G);
    unsigned char **A = minima_calloc((size_t)nn, sizeof *A);
    void *scratch_block = NULL;
    if (!p || !V || !G || !A) goto oom;
    size_t scratch = 1;
    for (int i = 1; i < nn; i++) {
        p[i].node = &m->nodes[i];
        p[i].kind = layer_kind_of(p[i].node->kind);
        if (!p[i].kind) {
            char label[160];
            minima_model_node_label(m, i, label, sizeof label);
            st = minima_error(MINIMA_EUNSUPPORTED, "minima_net_output_jacobian: %s: kind not "
                              "built into this engine", label);
            goto fail;
        }
        for (int k = 0; k < 2; k++) {
            int src = p[i].node->inputs[k < p[i].node->n_inputs ? k : 0];
            p[i].in_shape[k] = &m->nodes[src].shape;
        }
        p[i].size = minima_shape_size(p[i].node->shape);
        p[i].aux = p[i].kind->aux_bytes ? p[i].kind->aux_bytes(p[i].node, p[i].in_shape) : 0;
        if (p[i].kind->scratch_bytes) {
            size_t s1 = p[i].kind->scratch_bytes(p[i].node, p[i].in_shape, rows);
            size_t s2 = p[i].kind->scratch_bytes(p[i].node, p[i].in_shape, 1);
            if (s1 > scratch) scratch = s1;
            if (s2 > scratch) scratch = s2;
        }
        if (!(V[i] = minima_alloc(rows * p[i].size, sizeof(double)))) goto oom;
        if (!(G[i] = minima_alloc(p[i].size, sizeof(double)))) goto oom;
        if (p[i].aux && !(A[i] = minima_alloc(rows, p[i].aux))) goto oom;
    }
    p[0].size = d_in;
    if (!(scratch_block = minima_alloc(scratch + 64, 1))) goto oom;
    void *scr = (void *)(((uintptr_t)scratch_block + 63) & ~(uintptr_t)63);
    int out = nn - 1;

    /* With several ranks, this rank computes the rows of its own block of
     * examples (minima/dist.h) and the rest arrive by the gather below. */
    size_t lo, hi;
    minima_dist_block(N, &lo, &hi);
    size_t own_lo = lo > first ? lo - first : 0;
    size_t own_hi = hi > first ? (hi - first < n ? hi - first : n) : 0;
    for (size_t s = own_lo; s < own_hi; s += rows) {
        if (minima_interrupted()) {
            st = minima_error(MINIMA_EINTERRUPTED, "interrupted");
            goto fail;
        }
        size_t b = own_hi - s < rows ? own_hi - s : rows;
        const double *x0 = data->x + (first + s) * d_in;
        for (int i = 1; i < nn; i++) {
            layer_call_f64 c = call_of(m, p, i, b, 0, x0, d_in, V, A, theta, scr);
            p[i].kind->forward(&c, V[i]);
        }
        for (size_t e = 0; e < b; e++)
            for (size_t k = 0; k < dK; k++) {
                double *row = jac + ((s + e) * dK + k) * P;
                memset(row, 0, P * sizeof *row);
                for (int i = 1; i < out; i++) memset(G[i], 0, p[i].size * sizeof(double));
                memset(G[out], 0, dK * sizeof(double));
                G[out][k] = 1.0;
                for (int i = out; i >= 1; i--) {
                    const minima_node *nd = p[i].node;
                    layer_call_f64 c = call_of(m, p, i, 1, e, x0, d_in, V, A, theta, scr);
                    double *gx[2] = {NULL, NULL};
                    for (int q = 0; q < nd->n_inputs; q++)
                        gx[q] = nd->inputs[q] == 0 ? NULL : G[nd->inputs[q]];
                    p[i].kind->backward(&c, G[i], gx, nd->n_weight ? row + nd->weight_offset : NULL,
                                        nd->n_bias ? row + nd->bias_offset : NULL);
                }
            }
    }
    goto fail;
oom:
    st = minima_error(MINIMA_ENOMEM, "minima_net_output_jacobian: out of memory for the values "
                      "of %zu examples", rows);
fail:
    if (V)
        for (int i = 0; i < nn; i++) minima_free(V[i]);
    if (G)
        for (int i = 0; i < nn; i++) minima_free(G[i]);
    if (A)
        for (int i = 0; i < nn; i++) minima_free(A[i]);
    minima_free(V);
    minima_free(G);
    minima_free(A);
    minima_free(p);
    minima_free(scratch_block);
    if (!minima_dist_active()) return st;
    st = minima_dist_agree(st);
    if (st == MINIMA_OK) st = minima_dist_gather_rows(jac, first, n, dK * P, N);
    return st;
}
