/* measure_fms_penalty.c — the flat-minimum-search penalty of Hochreiter &
 * Schmidhuber 1997 (docs/measures/fms_penalty.md), averaged over examples x:
 *
 *   B(w, x) = 1/2 ( -omega log eps + sum_ij log sum_k (do_k/dw_ij)^2
 *             + omega log sum_k ( sum_ij |do_k/dw_ij| / sqrt(sum_k' (do_k'/dw_ij)^2) )^2 )
 *
 * o = z the d_K outputs (logits), w_ij every parameter (biases are weights
 * from a constant unit, as in the paper's formalism), omega their number.
 *
 * MLP. Per example the Jacobian of a linear layer factorises: do_k/dW[u, j] =
 * G[k, u] a_j with G (d_K, d_out) the backward signals of the example (d_K
 * backward passes from the identity, done for a whole batch at once by
 * BLAS 3) and a its input to the layer. So sum_k (do_k/dW_uj)^2 = r_u a_j^2,
 * r_u = sum_k G[k, u]^2, and the ratio |G[k,u] a_j| / sqrt(r_u a_j^2) does
 * not depend on j: each layer costs O(d_K (d_out + d_in)) per example once
 * G is known, never the full d_K x P Jacobian.
 *
 * Any other graph (convolutions, pooling, residual adds). A conv weight is
 * used at every output position, so its derivative is a sum over them and
 * does not factorise: the full Jacobian J_x (d_K, P) of each example is
 * taken from the engine (minima_net_output_jacobian: d_K backward passes of
 * one example each) and the sums are made entry by entry, O(d_K P) per
 * example on top of the passes. The definition is the paper's, unchanged:
 * it is written for any weights w_ij and any outputs. On an MLP both ways
 * give the same value (tested to 1e-12).
 *
 * Zero derivatives. A weight whose derivative is zero for every output on
 * example x (into a ReLU unit that is off, or from an input or hidden unit
 * whose value is 0) would put log 0 = -inf into B. Such weights are left
 * out of the sums for that example and omega is the number of weights kept
 * (omega_x, the full count when nothing is zero, e.g. leaky ReLU on
 * generic data); the mean fraction left out is reported. An example on
 * which no output depends on any weight (every unit of a layer off) has
 * no B at all and is left out of the mean (counted as flat_examples).
 *
 * Under theta -> A theta (any positive diagonal map that keeps the
 * function, e.g. a point D(u) of the graph's rescaling group,
 * minima/graph_symmetry.h) the Jacobian becomes J A^{-1}: the last term
 * does not change and B changes by -sum log a_ij over the kept weights —
 * for one unit (channel) scaled by c, (fan-out - fan-in) log c, fan-in
 * counting its bias, a conv channel's fans counting every tap. */
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "measures/measure_curv_impl.h"
#include "minima/alloc.h"

typedef struct {
    double eps;
    int max_examples;
} fms_settings;

static const minima_setting table[] = {
    {"eps", MINIMA_SETTING_DOUBLE, offsetof(fms_settings, eps), 1e-2, 0, INFINITY, MINIMA_SETTING_MIN_OPEN,
     "the tolerable output error; it only shifts B by -(omega/2) log eps (not from the paper)"},
    {"max_examples", MINIMA_SETTING_INT, offsetof(fms_settings, max_examples), 0, 0, INFINITY, 0,
     "use the first n examples (0: all)"},
};
#define N_SETTINGS (sizeof table / sizeof *table)

/* Sums over examples of B and its counts. */
typedef struct {
    double sumB, sum_omega, sum_excl;
    size_t n_flat;   /* examples with every derivative zero */
} fms_sums;

/* The first N examples of an MLP, by the factorised layer Jacobians. */
static minima_status sums_mlp(minima_net *net, size_t N, double eps, fms_sums *acc)
{
    const minima_model *m = minima_net_model(net);
    const minima_dataset *data = minima_net_data(net);
    const double *theta = minima_net_point(net);
    int K = m->n_layers, dK = m->widths[K], d0 = m->widths[0], wmax = 0;
    for (int k = 1; k <= K; k++) wmax = m->widths[k] > wmax ? m->widths[k] : wmax;
    size_t rows = N < 64 ? N : 64;   /* examples per batch: the signals are d_K rows each */
    minima_status st = MINIMA_OK;
    minima_curv_acts acts = {0};
    double *g1 = minima_alloc(rows * (size_t)dK * (size_t)wmax, sizeof *g1);  /* (b d_K, d_out) */
    double *g2 = minima_alloc(rows * (size_t)dK * (size_t)wmax, sizeof *g2);  /* (b d_K, d_in) */
    double *r = minima_alloc((size_t)wmax, sizeof *r);    /* (d_out) r_u */
    double *Tall = minima_alloc(rows * (size_t)dK, sizeof *Tall);  /* (b, d_K) last term's sums */
    double *logsum = minima_alloc(rows, sizeof *logsum);  /* (b) sum_ij log sum_k (do_k/dw_ij)^2 */
    double *omega = minima_alloc(rows, sizeof *omega);    /* (b) weights kept */
    double *excl = minima_alloc(rows, sizeof *excl);      /* (b) weights left out */
    if (!g1 || !g2 || !r || !Tall || !logsum || !omega || !excl) {
        st = minima_error(MINIMA_ENOMEM, "measure fms_penalty: out of memory");
        goto fail;
    }
    if ((st = minima_curv_acts_alloc(&acts, m, rows, "measure fms_penalty")) != MINIMA_OK) goto fail;
    for (size_t s = 0; s < N; s += rows) {
        if (minima_interrupted()) {
            st = minima_error(MINIMA_EINTERRUPTED, "interrupted");
            goto fail;
        }
        size_t b = N - s < rows ? N - s : rows;
        const double *x = data->x + s * (size_t)d0;
        if ((st = minima_curv_forward(m, theta, x, b, &acts)) != MINIMA_OK) goto fail;
        for (size_t i = 0; i < b; i++) logsum[i] = omega[i] = excl[i] = 0;
        memset(Tall, 0, b * (size_t)dK * sizeof *Tall);
        /* G_K = identity for each example: rows i*d_K + c */
        memset(g1, 0, b * (size_t)dK * (size_t)dK * sizeof *g1);
        for (size_t i = 0; i < b; i++)
            for (int c = 0; c < dK; c++) g1[(i * (size_t)dK + (size_t)c) * (size_t)dK + (size_t)c] = 1.0;
        double *G = g1, *Gn = g2;
        for (int k = K - 1; k >= 0; k--) {
            int dout = m->widths[k + 1], din = m->widths[k];
            const double *a = k == 0 ? x : acts.act[k];   /* (b, d_in) */
            for (size_t i = 0; i < b; i++) {
                const double *Gi = G + i * (size_t)dK * (size_t)dout;   /* (d_K, d_out) */
                const double *ai = a + i * (size_t)din;
                size_t nI = 0, nJ = 0;
                double sum_log_r = 0, sum_log_a = 0;
                for (int u = 0; u < dout; u++) {
                    double ru = 0;
                    for (int c = 0; c < dK; c++) ru += Gi[(size_t)c * (size_t)dout + (size_t)u] *
                                                       Gi[(size_t)c * (size_t)dout + (size_t)u];
                    r[u] = ru;
                    if (ru > 0) nI++, sum_log_r += log(ru);
                }
                for (int j = 0; j < din; j++)
                    if (ai[j] != 0) nJ++, sum_log_a += log(ai[j] * ai[j]);
                size_t per_unit = nJ + (m->has_bias ? 1 : 0);   /* kept weights per kept unit */
                logsum[i] += (double)per_unit * sum_log_r + (double)nI * sum_log_a;
                omega[i] += (double)(nI * per_unit);
                excl[i] += (double)((size_t)dout * ((size_t)din + (m->has_bias ? 1 : 0)) - nI * per_unit);
                for (int c = 0; c < dK; c++) {
                    double t = 0;
                    for (int u = 0; u < dout; u++)
                        if (r[u] > 0) t += fabs(Gi[(size_t)c * (size_t)dout + (size_t)u]) / sqrt(r[u]);
                    Tall[i * (size_t)dK + (size_t)c] += (double)per_unit * t;
                }
            }
            if (k == 0) break;
            /* G_{k} (b d_K, d_in) = (G W_k) .* phi'(A_k) of the example of each row */
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(b * (size_t)dK), din, dout,
                        1.0, G, dout, theta + m->weight_offset[k], din, 0.0, Gn, din);
            for (size_t i = 0; i < b; i++)
                for (int c = 0; c < dK; c++)
                    minima_curv_times_dphi(m, acts.act[k] + i * (size_t)din,
                                           Gn + (i * (size_t)dK + (size_t)c) * (size_t)din, (size_t)din);
            double *tmp = G;
            G = Gn;
            Gn = tmp;
        }
        for (size_t i = 0; i < b; i++) {
            double t2 = 0;
            for (int c = 0; c < dK; c++) t2 += Tall[i * (size_t)dK + (size_t)c] * Tall[i * (size_t)dK + (size_t)c];
            if (omega[i] == 0) {   /* no output depends on any weight here */
                acc->n_flat++;
                continue;
            }
            double Bx = 0.5 * (-omega[i] * log(eps) + logsum[i] + omega[i] * log(t2));
            acc->sumB += Bx;
            acc->sum_omega += omega[i];
            acc->sum_excl += excl[i];
        }
        minima_progress("fms penalty", (double)(s + b), (double)N);
    }
fail:
    minima_curv_acts_free(&acts);
    minima_free(g1);
    minima_free(g2);
    minima_free(r);
    minima_free(Tall);
    minima_free(logsum);
    minima_free(omega);
    minima_free(excl);
    return st;
}

/* Examples whose Jacobians (d_K x P each) are held at once: at most
 * JAC_BYTES of them, at least one. */
#define JAC_BYTES ((size_t)32 << 20)
#define JAC_MAX_EXAMPLES 64

/* The first N examples of any graph, from the full per-example Jacobian
 * J_x (d_K, P) of the engine (minima_net_output_jacobian): a conv weight's
 * derivative sums over the output positions, so J does not factorise. */
static minima_status sums_graph(minima_net *net, size_t N, double eps, fms_sums *acc)
{
    const minima_model *m = minima_net_model(net);
    size_t P = minima_net_n_params(net), dK = (size_t)minima_model_n_outputs(m);
    size_t per = dK * P * sizeof(double), rows = JAC_BYTES / (per ? per : 1);
    rows = rows < 1 ? 1 : rows > JAC_MAX_EXAMPLES ? JAC_MAX_EXAMPLES : rows;
    rows = rows > N ? N : rows;
    minima_status st = MINIMA_OK;
    double *jac = minima_alloc(rows * dK * P, sizeof *jac);   /* (b, d_K, P) */
    double *T = minima_alloc(dK, sizeof *T);                  /* (d_K) last term's sums */
    if (!jac || !T) {
        st = minima_error(MINIMA_ENOMEM, "measure fms_penalty: out of memory for the Jacobians "
                          "of %zu examples", rows);
        goto fail;
    }
    for (size_t s = 0; s < N; s += rows) {
        size_t b = N - s < rows ? N - s : rows;
        if ((st = minima_net_output_jacobian(net, s, b, jac)) != MINIMA_OK) goto fail;
        for (size_t i = 0; i < b; i++) {
            const double *J = jac + i * dK * P;
            double logsum = 0, omega = 0;
            memset(T, 0, dK * sizeof *T);
            for (size_t p = 0; p < P; p++) {
                double r = 0;
                for (size_t k = 0; k < dK; k++) r += J[k * P + p] * J[k * P + p];
                if (r == 0) continue;   /* no output depends on w_p here: left out */
                double inv = 1.0 / sqrt(r);
                logsum += log(r);
                omega += 1;
                for (size_t k = 0; k < dK; k++) T[k] += fabs(J[k * P + p]) * inv;
            }
            if (omega == 0) {
                acc->n_flat++;
                continue;
            }
            double t2 = 0;
            for (size_t k = 0; k < dK; k++) t2 += T[k] * T[k];
            acc->sumB += 0.5 * (-omega * log(eps) + logsum + omega * log(t2));
            acc->sum_omega += omega;
            acc->sum_excl += (double)P - omega;
        }
        minima_progress("fms penalty", (double)(s + b), (double)N);
    }
fail:
    minima_free(jac);
    minima_free(T);
    return st;
}

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    (void)seed;
    fms_settings fs;
    MINIMA_TRY(minima_settings_parse("fms_penalty", table, N_SETTINGS, settings, &fs));
    double eps = fs.eps;
    int max_examples = fs.max_examples;
    const minima_model *m = minima_net_model(net);
    size_t N = minima_net_n_examples(net);
    if (max_examples > 0 && (size_t)max_examples < N) N = (size_t)max_examples;
    char used[48];
    snprintf(used, sizeof used, "\"examples_used\": %zu", N);
    minima_settings_json(table, N_SETTINGS, &fs, used, out->params, sizeof out->params);

    fms_sums acc = {0, 0, 0, 0};
    MINIMA_TRY(m->is_mlp ? sums_mlp(net, N, eps, &acc) : sums_graph(net, N, eps, &acc));
    double sumB = acc.sumB, sum_omega = acc.sum_omega, sum_excl = acc.sum_excl;
    size_t n_flat = acc.n_flat;
    out->value = n_flat < N ? sumB / (double)(N - n_flat) : NAN;
    minima_measure_add_extra(out, "mean_omega", sum_omega / (double)N);
    minima_measure_add_extra(out, "excluded_frac",
                             sum_excl / ((double)N * (double)minima_net_n_params(net)));
    minima_measure_add_extra(out, "examples", (double)N);
    minima_measure_add_extra(out, "flat_examples", (double)n_flat);
    if (n_flat)
        minima_curv_note(out, "%zu examples whose outputs depend on no weight (every unit of a "
                         "layer off) are left out of the mean", n_flat);
    if (sum_excl > 0)
        minima_curv_note(out, "weights with zero output derivative on an example (inactive "
                         "ReLU units, zero inputs) are left out of its sums: mean fraction %.3g",
                         sum_excl / ((double)N * (double)minima_net_n_params(net)));
    return MINIMA_OK;
}

const minima_measure minima_measure_fms_penalty = {
    .name = "fms_penalty",
    .title = "flat-minimum-search penalty B(w, x), mean over examples",
    .source = "Hochreiter & Schmidhuber 1997, Flat Minima, eq. for B(w, X_0)",
    .invariance = MINIMA_INVARIANCE_NONE,
    .settings = table,
    .n_settings = N_SETTINGS,
    .compute = compute,
};
