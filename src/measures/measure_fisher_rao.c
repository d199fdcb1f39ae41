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
 * NaN when the net has biases or is not homogeneous (tanh). */
#include <math.h>
#include <stdio.h>

#include "measures/measure_curv_impl.h"
#include "minima/alloc.h"

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
    if (!rz || !z || !g) {
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
        minima_curv_output_grad(loss, zi, dK, data->labels ? data->labels[i] : 0,
                                data->targets ? data->targets + i * (size_t)dK : NULL, g, NULL);
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
     * bias-free rectified MLP */
    int homogeneous = m->is_mlp && !m->has_bias && m->activation != MINIMA_ACT_TANH;
    double K = m->n_layers;
    minima_measure_add_extra(out, "fr_output_form", homogeneous ? K * K * sum_out / (double)N : NAN);
    if (!homogeneous)
        minima_curv_note(out, "fr_output_form is NaN: it needs a bias-free ReLU network "
                         "(positively homogeneous of degree K)%s",
                         m->is_mlp ? "" : "; this model is a graph, not a multilayer perceptron");
fail:
    minima_free(rz);
    minima_free(z);
    minima_free(g);
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
