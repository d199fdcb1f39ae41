/* measure_curv.c — helpers of the curvature- and norm-based measures
 * (measure_curv_impl.h). */
#include "measures/measure_curv_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/eigen.h"

minima_status minima_curv_acts_alloc(minima_curv_acts *a, const minima_model *m, size_t rows,
                                     const char *what)
{
    memset(a, 0, sizeof *a);
    MINIMA_TRY(minima_eval_layers_init(&a->layers, m, rows, what));
    a->K = m->n_layers;
    a->rows = rows;
    a->act = minima_calloc((size_t)m->n_layers + 1, sizeof *a->act);
    if (!a->act) goto fail;
    for (int k = 1; k <= m->n_layers; k++) {
        a->act[k] = minima_alloc(rows * (size_t)m->widths[k], sizeof(double));
        if (!a->act[k]) goto fail;
    }
    return MINIMA_OK;
fail:
    minima_curv_acts_free(a);
    MINIMA_FAIL(MINIMA_ENOMEM, "measure workspace: out of memory for %zu rows of activations",
                rows);
}

void minima_curv_acts_free(minima_curv_acts *a)
{
    if (a->act)
        for (int k = 1; k <= a->K; k++) minima_free(a->act[k]);
    minima_free(a->act);
    minima_eval_layers_free(&a->layers);
    memset(a, 0, sizeof *a);
}

void minima_curv_times_dphi(const minima_model *m, const double *a, double *x, size_t n)
{
    switch (m->activation) {
    case MINIMA_ACT_RELU:
        for (size_t i = 0; i < n; i++) x[i] = a[i] > 0 ? x[i] : 0.0;
        break;
    case MINIMA_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) x[i] = a[i] > 0 ? x[i] : m->leaky_slope * x[i];
        break;
    case MINIMA_ACT_TANH:
        for (size_t i = 0; i < n; i++) x[i] *= 1.0 - a[i] * a[i];
        break;
    }
}

minima_status minima_curv_forward(const minima_model *m, const double *theta, const double *x,
                                  size_t n, minima_curv_acts *a)
{
    MINIMA_ASSERT(n <= a->rows && m == a->layers.model);
    return minima_eval_layers_run(&a->layers, theta, x, n, a->act);
}

void minima_curv_output_grad(minima_loss loss, const double *z, int dK, int label,
                             const double *target, double *g, double *prob)
{
    if (loss == MINIMA_LOSS_CE) {
        double mx = z[0], sum = 0;
        for (int j = 1; j < dK; j++) mx = z[j] > mx ? z[j] : mx;
        for (int j = 0; j < dK; j++) sum += exp(z[j] - mx);
        double lse = mx + log(sum);
        for (int j = 0; j < dK; j++) {
            double p = exp(z[j] - lse);
            if (prob) prob[j] = p;
            g[j] = p - (j == label);
        }
    } else {
        for (int j = 0; j < dK; j++) g[j] = 2.0 * (z[j] - target[j]) / dK;
    }
}

minima_status minima_curv_hessian_spectrum(minima_net *net, double *values)
{
    size_t P = minima_net_n_params(net);
    double *h = minima_alloc(P * P, sizeof *h);   /* (P, P) */
    if (!h)
        MINIMA_FAIL(MINIMA_ENOMEM, "exact Hessian spectrum: out of memory for a %zu x %zu "
                    "matrix (lower the setting exact_max)", P, P);
    minima_status st = minima_net_hessian(net, h);
    if (st == MINIMA_OK) st = minima_spectrum_dense(P, h, values, NULL);
    minima_free(h);
    return st;
}

void minima_curv_note(minima_measure_result *out, const char *fmt, ...)
{
    size_t len = strlen(out->note);
    if (len + 3 >= sizeof out->note) return;
    if (len) {
        memcpy(out->note + len, "; ", 3);
        len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->note + len, sizeof out->note - len, fmt, ap);
    va_end(ap);
}
