/* measure_graph.c — depths and node values of a graph for the measures
 * (measure_graph_impl.h). */
#include "measures/measure_graph_impl.h"

#include <string.h>

#include "engine/net_eval_impl.h"
#include "minima/alloc.h"

void minima_mgraph_depths(const minima_model *m, int *dmin, int *dmax)
{
    dmin[0] = dmax[0] = 0;
    for (int i = 1; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        int lo = dmin[nd->inputs[0]], hi = dmax[nd->inputs[0]];
        for (int t = 1; t < nd->n_inputs; t++) {
            int j = nd->inputs[t];
            lo = dmin[j] < lo ? dmin[j] : lo;
            hi = dmax[j] > hi ? dmax[j] : hi;
        }
        int own = nd->kind == MINIMA_NODE_LINEAR || nd->kind == MINIMA_NODE_CONV2D;
        dmin[i] = lo + own;
        dmax[i] = hi + own;
    }
}

void minima_mgraph_ancestors(const minima_model *m, int target, unsigned char *anc)
{
    memset(anc, 0, (size_t)m->n_nodes);
    anc[target] = 1;
    /* nodes read only earlier nodes: one sweep from the target down */
    for (int i = target; i > 0; i--)
        if (anc[i])
            for (int t = 0; t < m->nodes[i].n_inputs; t++) anc[m->nodes[i].inputs[t]] = 1;
    anc[0] = 1;
}

void minima_mgraph_values_free(minima_mgraph_values *v)
{
    minima_model_free(v->sub);
    memset(v, 0, sizeof *v);
}

minima_status minima_mgraph_values_init(minima_mgraph_values *v, const minima_model *m, int node,
                                        const char *what)
{
    memset(v, 0, sizeof *v);
    MINIMA_ASSERT(node >= 0 && node < m->n_nodes);
    v->model = m;
    v->node = node;
    v->n_in = minima_model_n_inputs(m);
    v->n_out = minima_shape_size(m->nodes[node].shape);
    if (m->nodes[node].shape.rank != 1) {
        char label[160];
        minima_model_node_label(m, node, label, sizeof label);
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "%s: the values of %s are not flat", what, label);
    }
    if (node == 0) return MINIMA_OK;
    size_t n_params = m->nodes[node].bias_offset + m->nodes[node].n_bias;
    int head = n_params == 0;
    minima_node *nodes = minima_alloc((size_t)node + 2, sizeof *nodes);
    if (!nodes) MINIMA_FAIL(MINIMA_ENOMEM, "%s: out of memory", what);
    memcpy(nodes, m->nodes, ((size_t)node + 1) * sizeof *nodes);
    if (head) {
        nodes[node + 1] = minima_node_make(MINIMA_NODE_LINEAR, node);
        nodes[node + 1].out = (int)v->n_out;
        nodes[node + 1].has_bias = 0;
    }
    minima_status st = minima_model_create_graph(&v->sub, node + 1 + head, nodes);
    minima_free(nodes);
    if (st != MINIMA_OK) return st;
    /* the parameters of nodes 0..node are theta's first ones, in the same
     * places */
    for (int i = 0; i <= node; i++)
        MINIMA_ASSERT(v->sub->nodes[i].weight_offset == m->nodes[i].weight_offset &&
                      v->sub->nodes[i].bias_offset == m->nodes[i].bias_offset);
    v->head = head;
    if (head) {
        double *w = v->sub->theta + v->sub->nodes[node + 1].weight_offset;   /* (n_out, n_out) */
        for (size_t r = 0; r < v->n_out; r++) w[r * v->n_out + r] = 1.0;
    }
    return MINIMA_OK;
}

minima_status minima_mgraph_values_run(const minima_mgraph_values *v, const double *theta,
                                       const double *x, size_t n, double *out)
{
    if (n == 0) return MINIMA_OK;
    if (!v->sub) {
        memcpy(out, x, n * v->n_in * sizeof *out);
        return MINIMA_OK;
    }
    return minima_eval_outputs(v->sub, v->head ? v->sub->theta : theta, x, n, out);
}
