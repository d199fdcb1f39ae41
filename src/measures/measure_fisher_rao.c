/* measure_fisher_rao.c — the Fisher-Rao norm of Liang, Poggio, Rakhlin &
 * Stokes 2019 (docs/measures/fisher_rao.md), with empirical labels:
 *
 *     ||w||_fr^2 = (1/N) sum_i <w, grad_w l_i>^2,    l_i the loss of example i
 *
 * By the chain rule <w, grad_w l_i> = (dl_i/dz_i)^T (J_i w), J_i the
 * Jacobian of the outputs z_i of example i: one Jacobian-vector product of
 * the whole data set along v = w (minima_net_jvp) and the per-example output
 * gradient (softmax(z_i) - onehot(y_i) for cross-entropy, 2 (z_i - y_i)/d_K
 * for MSE). Biases are part of w.
 *
 * Output form (Liang et al. Lemma 2.1): a bias-free ReLU / leaky ReLU net
 * with K layers is positively homogeneous of degree K in w, so J_i w = K z_i
 * and ||w||_fr^2 = K^2 (1/N) sum_i <dl_i/dz_i, z_i>^2. Reported as an extra;
 * NaN when the net has biases or is not homogeneous (tanh).
 *
 * On a graph the same holds with D in place of K when the network is
 * positively homogeneous of degree D in w: no linear/conv2d node with a
 * bias, no tanh, and every path from the input to the output crosses the
 * same number D of linear/conv2d nodes (relu, leaky relu, max and average
 * pooling, flatten and identity are positively homogeneous of degree 1 in
 * their input; a linear/conv2d node adds one degree; an add of two
 * branches of degree D is of degree D). An add joining branches of
 * different depths (a residual block whose skip crosses fewer layers than
 * its body) makes the output a sum of terms of different degrees: NaN,
 * with a note naming the add. Only nodes on a path to the output count.
 * For an MLP this is the condition above with D = K. */
#include <math.h>
#include <stdio.h>

#include "measures/measure_curv_impl.h"
#include "measures/measure_graph_impl.h"
#include "minima/alloc.h"

/* The degree D of positive homogeneity of the outputs in theta, or -1 with
 * the reason in `why` (size bytes). */
static minima_status homogeneity(const minima_model *m, int *degree, char *why, size_t size)
{
    int n = m->n_nodes, last = n - 1;
    int *dmin = minima_alloc((size_t)n, sizeof *dmin), *dmax = minima_alloc((size_t)n, sizeof *dmax);
    unsigned char *anc = minima_alloc((size_t)n, sizeof *anc);
    if (!dmin || !dmax || !anc) {
        minima_free(dmin);
        minima_free(dmax);
        minima_free(anc);
        MINIMA_FAIL(MINIMA_ENOMEM, "measure fisher_rao: out of memory");
    }
    minima_mgraph_depths(m, dmin, dmax);
    minima_mgraph_ancestors(m, last, anc);
    *degree = dmin[last];
    why[0] = 0;
    char label[128];
    for (int i = 1; i < n && !why[0]; i++) {
        if (!anc[i]) continue;
        const minima_node *nd = &m->nodes[i];
        minima_model_node_label(m, i, label, sizeof label);
        if ((nd->kind == MINIMA_NODE_LINEAR || nd->kind == MINIMA_NODE_CONV2D) && nd->has_bias)
            snprintf(why, size, "%s has a bias", label);
        else if (nd->kind == MINIMA_NODE_TANH)
            snprintf(why, size, "%s is not homogeneous", label);
        else if (nd->kind == MINIMA_NODE_ADD &&
                 (dmin[nd->inputs[0]] != dmin[nd->inputs[1]] ||
                  dmax[nd->inputs[0]] != dmax[nd->inputs[1]] || dmin[i] != dmax[i]))
            snprintf(why, size, "%s joins branches that cross %d..%d and %d..%d linear/conv2d "
                     "nodes, terms of different degrees", label, dmin[nd->inputs[0]],
                     dmax[nd->inputs[0]], dmin[nd->inputs[1]], dmax[nd->inputs[1]]);
    }
    if (!why[0] && dmin[last] != dmax[last])   /* not possible without an add; kept as a guard */
        snprintf(why, size, "paths to the output cross %d..%d linear/conv2d nodes", dmin[last],
                 dmax[last]);
    if (why[0]) *degree = -1;
    minima_free(dmin);
    minima_free(dmax);
    minima_free(anc);
    return MINIMA_OK;
}

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    (void)seed;
    char none;
    MINIMA_TRY(minima_settings_parse("fisher_rao", NULL, 0, settings, &none));
    minima_settings_json(NULL, 0, NULL, "\"labels\": \"empirical\"", out->params, sizeof out->params);
    const minima_model *m = minima_net_model(net);
    const minima_dataset *data = minima_net_data(net);
    minima_loss loss = minima_net_loss_kind(net);
    size_t N = minima_net_n_examples(net);
    int dK = minima_model_n_outputs(m);
    minima_status st = MINIMA_OK;
    double *rz = minima_alloc(N * (size_t)dK, sizeof *rz);  /* (N, d_K) J w */
    double *z = minima_alloc(N * (size_t)dK, sizeof *z);    /* (N, d_K) outputs */
    double *g = minima_alloc((size_t)dK, sizeof *g);        /* (d_K) dl_i/dz_i */
    double *onehot = minima_alloc((size_t)dK, sizeof *onehot);   /* (d_K) */
    if (!rz || !z || !g || !onehot) {
        st = minima_error(MINIMA_ENOMEM, "measure fisher_rao: out of memory for %zu x %d outputs",
                          N, dK);
        goto fail;
    }
    st = minima_net_jvp(net, minima_net_point(net), rz);
    if (st != MINIMA_OK) goto fail;
    st = minima_net_outputs(net, NULL, z);
    if (st != MINIMA_OK) goto fail;
    double sum = 0, sum_out = 0;
    for (size_t i = 0; i < N; i++) {
        const double *zi = z + i * (size_t)dK;
        const double *ti = NULL;   /* MSE: the data's targets, or one-hot as the engine's */
        if (loss == MINIMA_LOSS_MSE) {
            if (data->targets) {
                ti = data->targets + i * (size_t)dK;
            } else {
                for (int j = 0; j < dK; j++) onehot[j] = j == data->labels[i];
                ti = onehot;
            }
        }
        minima_curv_output_grad(loss, zi, dK, data->labels ? data->labels[i] : 0, ti, g, NULL);
        double a = 0, b = 0;
        for (int j = 0; j < dK; j++) {
            a += g[j] * rz[i * (size_t)dK + (size_t)j];
            b += g[j] * zi[j];
        }
        sum += a * a;
        sum_out += b * b;
    }
    out->value = sum / (double)N;
    minima_measure_add_extra(out, "fr_norm", sqrt(out->value));
    /* the output form needs the degree of homogeneity: the depth of a
     * bias-free rectified network (K for an MLP) */
    int degree = -1;
    char why[512];
    if ((st = homogeneity(m, &degree, why, sizeof why)) != MINIMA_OK) goto fail;
    double K = degree;
    minima_measure_add_extra(out, "fr_output_form", degree >= 0 ? K * K * sum_out / (double)N : NAN);
    if (degree < 0)
        minima_curv_note(out, "fr_output_form is NaN: it needs a bias-free ReLU network "
                         "(positively homogeneous of degree K); %s", why);
fail:
    minima_free(rz);
    minima_free(z);
    minima_free(g);
    minima_free(onehot);
    return st;
}

const minima_measure minima_measure_fisher_rao = {
    .name = "fisher_rao",
    .title = "Fisher-Rao norm (squared, empirical labels)",
    .source = "Liang, Poggio, Rakhlin & Stokes 2019, Def. 2.1 and Lemma 2.1",
    .invariance = MINIMA_INVARIANCE_EXACT,
    .settings = NULL,
    .n_settings = 0,
    .compute = compute,
};
