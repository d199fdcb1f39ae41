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
 * inputs, or from the bias units of layers 1..k) of their products. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

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

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    (void)seed;
    path_settings ps;
    MINIMA_TRY(minima_settings_parse("path_norm", table, N_SETTINGS, settings, &ps));
    double p = ps.p;
    minima_settings_json(table, N_SETTINGS, &ps, NULL, out->params, sizeof out->params);

    const minima_model *m = minima_net_model(net);
    MINIMA_TRY(minima_model_require_mlp(m, "measure path_norm (a sum over the paths of layers)"));
    const double *theta = minima_net_point(net);
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
    out->value = pow(sum, 1.0 / p);
    minima_measure_add_extra(out, "sum_of_paths", sum);
    if (!isfinite(sum)) minima_curv_note(out, "the sum over paths overflowed");
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
