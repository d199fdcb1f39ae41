/* measure_normalized_sharpness.c — normalized sharpness of Tsuzuku, Sato &
 * Sugiyama 2020 (docs/measures/normalized_sharpness.md):
 *
 *     sum over parametric nodes k of  min_{alpha > 0, beta > 0}
 *         sum_{ij} [ H_(ij),(ij) (alpha_i beta_j)^2 + W_ij^2 / (alpha_i beta_j)^2 ]
 *
 * over the weights W_k of each linear or conv2d node (biases take no
 * part), H_(ij),(ij) the diagonal of the loss Hessian at those weights.
 * For linear, W_k is (d_out, d_in): a row i per output feature, a column j
 * per input feature (for an MLP: the paper's layers). For conv2d
 * [Cout, Cin/G, kh, kw] (natural extension, see the doc page): output
 * channel o is a row (alpha_o), global input channel j a column (beta_j),
 * and every tap of W[o, jj, :, :] is scaled by alpha_o beta_j with
 * j = in(o, jj) = (o / (Cout/G)) (Cin/G) + jj; a cell (o, j) then holds the
 * sums over its taps of H and of W^2, cells across groups are empty. These
 * are the rows and columns the graph's rescaling group scales
 * (minima/graph_symmetry.h): an output channel's factor is absorbed by
 * alpha, an input channel's by beta, so the value is exactly invariant.
 * The minimum is found by alternating the exact minimisers of each block,
 *
 *     alpha_i^4 = sum_j W2_ij / beta_j^2  /  sum_j H_ij beta_j^2,
 *     beta_j^4  = sum_i W2_ij / alpha_i^2 /  sum_i H_ij alpha_i^2,
 *
 * (W2, H the cells' sums) a block coordinate descent on a function that
 * is convex in (log alpha, log beta), so it converges to the minimum. Rows
 * or columns whose curvature or weights are all zero (a dead unit, a zero
 * input pixel) have infimum 0 at alpha or beta -> infinity or 0: they are
 * taken out first (repeatedly, as removing one can empty another),
 * contributing 0. Negative diagonal entries (possible for tanh nets or a
 * Hutchinson estimate) are set to 0 and counted.
 *
 * The Hessian diagonal (setting diag):
 *   1 layer structure, exact: when every node is piecewise linear (ReLU,
 *     leaky ReLU, identity, max / average pooling, flatten, residual adds,
 *     linear, conv2d: no tanh), each output is piecewise affine in every
 *     single weight (a weight of node k moves only node k's output, affinely,
 *     and what follows is piecewise linear), so the second derivative of the
 *     outputs along one weight is 0 and the diagonal of H equals that of
 *     the Gauss-Newton matrix, sum_i sum_c (J_i^T l_ic)^2 with
 *     h_i = sum_c l_ic l_ic^T (l_ic = sqrt(p_ic)(e_c - p_i) for cross-entropy).
 *     An MLP: d_K backward passes of the whole data by BLAS 3, the squares
 *     factorising per layer. Any other graph: the per-example Jacobians J_i
 *     (minima_net_output_jacobian, d_K backward passes of one example each),
 *     then L_i J_i per example (a conv weight's derivative sums over the
 *     output positions and does not factorise);
 *   2 one product H e_i per weight (exact, any activation; for small nets);
 *   3 Hutchinson's diagonal estimator mean_v (v .* Hv) over `samples`
 *     Rademacher v (Bekas et al. 2007);
 *   0 (default) 1 without tanh nodes, else 2 when P <= exact_max, else 3.
 *
 * The constant factors of the original text could not be checked
 * (docs/measures/normalized_sharpness.md); this is the formula above. */
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "measures/measure_curv_impl.h"
#include "minima/alloc.h"
#include "minima/rng.h"

/* Hessian diagonal at the weights from the layer structure of an MLP
 * (ReLU nets): diag (P) gets the weight entries; biases are left as they
 * are. */
static minima_status diag_layers(minima_net *net, double *diag)
{
    const minima_model *m = minima_net_model(net);
    const minima_dataset *data = minima_net_data(net);
    const double *theta = minima_net_point(net);
    minima_loss loss = minima_net_loss_kind(net);
    size_t N = minima_net_n_examples(net);
    int K = m->n_layers, dK = m->widths[K], d0 = m->widths[0], wmax = 0;
    for (int k = 0; k <= K; k++) wmax = m->widths[k] > wmax ? m->widths[k] : wmax;
    size_t rows = N < MINIMA_CURV_BATCH ? N : MINIMA_CURV_BATCH;
    minima_status st = MINIMA_OK;
    minima_curv_acts acts = {0};
    double **sq = minima_calloc((size_t)K, sizeof *sq);   /* sq[k] (b, d_k) = A_k .^ 2, k < K */
    double *s1 = minima_alloc(rows * (size_t)wmax, sizeof *s1);   /* (b, d_k) signal */
    double *s2 = minima_alloc(rows * (size_t)wmax, sizeof *s2);   /* (b, d_k) signal */
    double *ssq = minima_alloc(rows * (size_t)wmax, sizeof *ssq); /* (b, d_k) signal .^ 2 */
    double *g = minima_alloc((size_t)dK, sizeof *g), *p = minima_alloc((size_t)dK, sizeof *p);
    double *prob = minima_alloc(rows * (size_t)dK, sizeof *prob); /* (b, d_K) softmax */
    if (!sq || !s1 || !s2 || !ssq || !g || !p || !prob) goto oom;
    for (int k = 0; k < K; k++)
        if (!(sq[k] = minima_alloc(rows * (size_t)m->widths[k], sizeof(double)))) goto oom;
    if ((st = minima_curv_acts_alloc(&acts, m, rows, "measure normalized_sharpness")) != MINIMA_OK) goto fail;
    for (int k = 0; k < K; k++)
        memset(diag + m->weight_offset[k], 0, minima_model_layer_weights(m, k) * sizeof *diag);

    for (size_t s = 0; s < N; s += rows) {
        if (minima_interrupted()) {
            st = minima_error(MINIMA_EINTERRUPTED, "interrupted");
            goto fail;
        }
        size_t b = N - s < rows ? N - s : rows;
        const double *x = data->x + s * (size_t)d0;
        if ((st = minima_curv_forward(m, theta, x, b, &acts)) != MINIMA_OK) goto fail;
        for (int k = 0; k < K; k++) {
            const double *a = k == 0 ? x : acts.act[k];
            for (size_t t = 0; t < b * (size_t)m->widths[k]; t++) sq[k][t] = a[t] * a[t];
        }
        if (loss == MINIMA_LOSS_CE)
            for (size_t i = 0; i < b; i++)
                minima_curv_output_grad(loss, acts.act[K] + i * (size_t)dK, dK,
                                        data->labels[s + i], NULL, g, prob + i * (size_t)dK);
        for (int c = 0; c < dK; c++) {
            /* S_K (b, d_K): the factor column l_c of every example's output Hessian */
            for (size_t i = 0; i < b; i++) {
                double *row = s1 + i * (size_t)dK;
                if (loss == MINIMA_LOSS_CE) {
                    const double *pi = prob + i * (size_t)dK;
                    double f = sqrt(pi[c] / (double)N);
                    for (int u = 0; u < dK; u++) row[u] = f * ((u == c) - pi[u]);
                } else {
                    for (int u = 0; u < dK; u++) row[u] = 0.0;
                    row[c] = sqrt(2.0 / ((double)N * dK));
                }
            }
            double *S = s1, *Snext = s2;
            for (int k = K - 1; k >= 0; k--) {
                int dout = m->widths[k + 1], din = m->widths[k];
                for (size_t t = 0; t < b * (size_t)dout; t++) ssq[t] = S[t] * S[t];
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dout, din, (int)b, 1.0, ssq,
                            dout, sq[k], din, 1.0, diag + m->weight_offset[k], din);
                if (k == 0) break;
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b, din, dout, 1.0, S,
                            dout, theta + m->weight_offset[k], din, 0.0, Snext, din);
                minima_curv_times_dphi(m, acts.act[k], Snext, b * (size_t)din);
                double *tmp = S;
                S = Snext;
                Snext = tmp;
            }
        }
        minima_progress("Hessian diagonal", (double)(s + b), (double)N);
    }
    goto fail;
oom:
    st = minima_error(MINIMA_ENOMEM, "measure normalized_sharpness: out of memory");
fail:
    if (sq)
        for (int k = 0; k < K; k++) minima_free(sq[k]);
    minima_free(sq);
    minima_curv_acts_free(&acts);
    minima_free(s1);
    minima_free(s2);
    minima_free(ssq);
    minima_free(g);
    minima_free(p);
    minima_free(prob);
    return st;
}

/* Examples whose Jacobians (d_K x P each) are held at once: at most
 * JAC_BYTES of them, at least one. */
#define JAC_BYTES ((size_t)32 << 20)
#define JAC_MAX_EXAMPLES 64

/* The same diagonal on any graph of piecewise-linear nodes, from the
 * per-example output Jacobians J_i (d_K, P) of the engine
 * (minima_net_output_jacobian): diag += sum_c (J_i^T l_ic)^2, the d_K
 * vectors J_i^T l_ic as one product L_i J_i, L_i (d_K, d_K) holding the
 * l_ic as rows. Every entry of diag (P) is written (biases too). */
static minima_status diag_graph(minima_net *net, double *diag)
{
    const minima_model *m = minima_net_model(net);
    const minima_dataset *data = minima_net_data(net);
    minima_loss loss = minima_net_loss_kind(net);
    size_t N = minima_net_n_examples(net), P = minima_net_n_params(net);
    int dK = minima_model_n_outputs(m);
    size_t per = (size_t)dK * P * sizeof(double), rows = JAC_BYTES / (per ? per : 1);
    rows = rows < 1 ? 1 : rows > JAC_MAX_EXAMPLES ? JAC_MAX_EXAMPLES : rows;
    rows = rows > N ? N : rows;
    minima_status st = MINIMA_OK;
    double *z = minima_alloc(N * (size_t)dK, sizeof *z);            /* (N, d_K) outputs */
    double *jac = minima_alloc(rows * (size_t)dK * P, sizeof *jac);  /* (b, d_K, P) */
    double *u = minima_alloc((size_t)dK * P, sizeof *u);             /* (d_K, P) L_i J_i */
    double *L = minima_alloc((size_t)dK * (size_t)dK, sizeof *L);    /* (d_K, d_K) */
    double *g = minima_alloc((size_t)dK, sizeof *g), *prob = minima_alloc((size_t)dK, sizeof *prob);
    if (!z || !jac || !u || !L || !g || !prob) {
        st = minima_error(MINIMA_ENOMEM, "measure normalized_sharpness: out of memory for the "
                          "Jacobians of %zu examples", rows);
        goto fail;
    }
    if ((st = minima_net_outputs(net, NULL, z)) != MINIMA_OK) goto fail;
    memset(diag, 0, P * sizeof *diag);
    for (size_t s = 0; s < N; s += rows) {
        size_t b = N - s < rows ? N - s : rows;
        if ((st = minima_net_output_jacobian(net, s, b, jac)) != MINIMA_OK) goto fail;
        for (size_t i = 0; i < b; i++) {
            const double *Ji = jac + i * (size_t)dK * P;
            if (loss == MINIMA_LOSS_CE) {
                minima_curv_output_grad(loss, z + (s + i) * (size_t)dK, dK, data->labels[s + i],
                                        NULL, g, prob);
                for (int c = 0; c < dK; c++) {
                    double f = sqrt(prob[c] / (double)N);
                    for (int q = 0; q < dK; q++)
                        L[(size_t)c * (size_t)dK + (size_t)q] = f * ((q == c) - prob[q]);
                }
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, dK, (int)P, dK, 1.0, L, dK,
                            Ji, (int)P, 0.0, u, (int)P);
                for (int c = 0; c < dK; c++) {
                    const double *uc = u + (size_t)c * P;
                    for (size_t p = 0; p < P; p++) diag[p] += uc[p] * uc[p];
                }
            } else {
                double f2 = 2.0 / ((double)N * dK);
                for (int c = 0; c < dK; c++) {
                    const double *jc = Ji + (size_t)c * P;
                    for (size_t p = 0; p < P; p++) diag[p] += f2 * jc[p] * jc[p];
                }
            }
        }
        minima_progress("Hessian diagonal", (double)(s + b), (double)N);
    }
fail:
    minima_free(z);
    minima_free(jac);
    minima_free(u);
    minima_free(L);
    minima_free(g);
    minima_free(prob);
    return st;
}

/* One product H e_i per weight entry. */
static minima_status diag_units(minima_net *net, double *diag, double *v, double *hv)
{
    const minima_model *m = minima_net_model(net);
    size_t P = minima_net_n_params(net), done = 0, total = 0;
    for (int k = 1; k < m->n_nodes; k++) total += m->nodes[k].n_weight;
    memset(v, 0, P * sizeof *v);
    for (int k = 1; k < m->n_nodes; k++) {
        size_t o = m->nodes[k].weight_offset, n = m->nodes[k].n_weight;
        for (size_t i = o; i < o + n; i++) {
            v[i] = 1.0;
            minima_status st = minima_net_hvp(net, v, hv);
            v[i] = 0.0;
            if (st != MINIMA_OK) return st;
            diag[i] = hv[i];
            minima_progress("Hessian diagonal", (double)++done, (double)total);
        }
    }
    return MINIMA_OK;
}

/* Hutchinson: diag ~ mean over Rademacher v of v .* (H v); probe t from
 * stream t of the seed. */
static minima_status diag_hutchinson(minima_net *net, double *diag, double *v, double *hv,
                                     int samples, uint64_t seed)
{
    size_t P = minima_net_n_params(net);
    memset(diag, 0, P * sizeof *diag);
    for (int t = 0; t < samples; t++) {
        minima_rng rng;
        minima_rng_seed2(&rng, seed, (uint64_t)t);
        minima_rng_fill_rademacher(&rng, v, P);
        MINIMA_TRY(minima_net_hvp(net, v, hv));
        for (size_t i = 0; i < P; i++) diag[i] += v[i] * hv[i];
        minima_progress("Hessian diagonal", (double)(t + 1), (double)samples);
    }
    for (size_t i = 0; i < P; i++) diag[i] /= samples;
    return MINIMA_OK;
}

/* min over alpha (r), beta (c) > 0 of sum_ij h_ij (a_i b_j)^2 + w2_ij / (a_i b_j)^2
 * for one layer (h, w2 = the squared weights, both (r, c); h >= 0). act_r (r), act_c (c), al (r), be
 * (c) are workspaces. *iters gets the sweeps made, *conv whether converged. */
static double minimise_layer(const double *h, const double *w2, int r, int c, int max_iter,
                             double tol, char *act_r, char *act_c, double *al, double *be,
                             int *iters, int *conv)
{
    /* take out rows / columns with no curvature or no weight among the active ones */
    for (int i = 0; i < r; i++) act_r[i] = 1;
    for (int j = 0; j < c; j++) act_c[j] = 1;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < r; i++) {
            if (!act_r[i]) continue;
            int hh = 0, ww = 0;
            for (int j = 0; j < c; j++)
                if (act_c[j]) {
                    hh |= h[(size_t)i * (size_t)c + (size_t)j] > 0;
                    ww |= w2[(size_t)i * (size_t)c + (size_t)j] != 0;
                }
            if (!hh || !ww) act_r[i] = 0, changed = 1;
        }
        for (int j = 0; j < c; j++) {
            if (!act_c[j]) continue;
            int hh = 0, ww = 0;
            for (int i = 0; i < r; i++)
                if (act_r[i]) {
                    hh |= h[(size_t)i * (size_t)c + (size_t)j] > 0;
                    ww |= w2[(size_t)i * (size_t)c + (size_t)j] != 0;
                }
            if (!hh || !ww) act_c[j] = 0, changed = 1;
        }
    }
    for (int i = 0; i < r; i++) al[i] = 1.0;
    for (int j = 0; j < c; j++) be[j] = 1.0;
    *conv = 0;
    int it = 0;
    for (; it < max_iter; it++) {
        double change = 0;
        for (int i = 0; i < r; i++) {
            if (!act_r[i]) continue;
            double num = 0, den = 0;
            for (int j = 0; j < c; j++)
                if (act_c[j]) {
                    num += w2[(size_t)i * (size_t)c + (size_t)j] / (be[j] * be[j]);
                    den += h[(size_t)i * (size_t)c + (size_t)j] * be[j] * be[j];
                }
            double a = pow(num / den, 0.25);
            change = fmax(change, fabs(log(a / al[i])));
            al[i] = a;
        }
        for (int j = 0; j < c; j++) {
            if (!act_c[j]) continue;
            double num = 0, den = 0;
            for (int i = 0; i < r; i++)
                if (act_r[i]) {
                    num += w2[(size_t)i * (size_t)c + (size_t)j] / (al[i] * al[i]);
                    den += h[(size_t)i * (size_t)c + (size_t)j] * al[i] * al[i];
                }
            double bj = pow(num / den, 0.25);
            change = fmax(change, fabs(log(bj / be[j])));
            be[j] = bj;
        }
        /* the pair (alpha t, beta / t) is the same point: keep the scales balanced */
        double la = 0, lb = 0;
        int na = 0, nb = 0;
        for (int i = 0; i < r; i++)
            if (act_r[i]) la += log(al[i]), na++;
        for (int j = 0; j < c; j++)
            if (act_c[j]) lb += log(be[j]), nb++;
        if (na && nb) {
            double t = exp(0.5 * (lb / nb - la / na));
            for (int i = 0; i < r; i++) al[i] *= t;
            for (int j = 0; j < c; j++) be[j] /= t;
        }
        if (change <= tol) {
            *conv = 1;
            it++;
            break;
        }
    }
    *iters = it;
    double f = 0;
    for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++)
            if (act_r[i] && act_c[j]) {
                double u = al[i] * be[j];
                f += h[(size_t)i * (size_t)c + (size_t)j] * u * u +
                     w2[(size_t)i * (size_t)c + (size_t)j] / (u * u);
            }
    return f;
}

typedef struct {
    int diag, exact_max, samples, max_iter;
    double tol;
} ns_settings;

static const minima_setting table[] = {
    {"diag", MINIMA_SETTING_INT, offsetof(ns_settings, diag), 0, 0, 3, 0,
     "Hessian diagonal: 1 layer structure (ReLU), 2 unit products, 3 Hutchinson, 0 automatic"},
    {"exact_max", MINIMA_SETTING_INT, offsetof(ns_settings, exact_max), 3000, 0, INFINITY, 0,
     "P limit for unit products under diag=0 (tanh)"},
    {"samples", MINIMA_SETTING_INT, offsetof(ns_settings, samples), 100, 1, INFINITY, 0, "Hutchinson probes"},
    {"max_iter", MINIMA_SETTING_INT, offsetof(ns_settings, max_iter), 10000, 1, INFINITY, 0,
     "alternating sweeps at most"},
    {"tol", MINIMA_SETTING_DOUBLE, offsetof(ns_settings, tol), 1e-10, 0, INFINITY, MINIMA_SETTING_MIN_OPEN,
     "stop when no log alpha, log beta moves more than this"},
};
#define N_SETTINGS (sizeof table / sizeof *table)

/* Nonzero when every node is piecewise linear (no tanh): then each output
 * is piecewise affine in every single weight and the layer-structure
 * diagonal is exact. For an MLP: activation relu or leaky_relu. */
static int piecewise_linear(const minima_model *m)
{
    for (int i = 1; i < m->n_nodes; i++)
        if (m->nodes[i].kind == MINIMA_NODE_TANH) return 0;
    return 1;
}

/* The (rows, cols) problem of parametric node k: rows its output channels
 * (features), cols its input channels (features). For linear, hs = h and
 * w2 = W .^ 2 entry by entry. For conv2d [Cout, Cin/G, kh, kw], entry
 * (o, j) with j = in(o, jj) = (o / (Cout/G)) (Cin/G) + jj, the global input
 * channel the weights W[o, jj, :, :] read, sums the kh kw taps (they share
 * alpha_o beta_j); entries of other groups are 0 (they take no part). */
static void node_problem(const minima_model *m, int k, const double *h, const double *w,
                         double *hs, double *w2, int *rows, int *cols)
{
    const minima_node *nd = &m->nodes[k];
    int r = nd->out;
    if (nd->kind == MINIMA_NODE_LINEAR) {
        int c = (int)(nd->n_weight / (size_t)r);
        for (size_t t = 0; t < nd->n_weight; t++) hs[t] = h[t], w2[t] = w[t] * w[t];
        *rows = r;
        *cols = c;
        return;
    }
    int cin = m->nodes[nd->inputs[0]].shape.c, G = nd->groups, og = r / G, cg = cin / G;
    size_t T = (size_t)nd->kernel[0] * (size_t)nd->kernel[1];
    memset(hs, 0, (size_t)r * (size_t)cin * sizeof *hs);
    memset(w2, 0, (size_t)r * (size_t)cin * sizeof *w2);
    for (int o = 0; o < r; o++)
        for (int jj = 0; jj < cg; jj++) {
            size_t at = ((size_t)o * (size_t)cg + (size_t)jj) * T;
            size_t j = (size_t)(o / og) * (size_t)cg + (size_t)jj;
            double sh = 0, sw = 0;
            for (size_t t = 0; t < T; t++) sh += h[at + t], sw += w[at + t] * w[at + t];
            hs[(size_t)o * (size_t)cin + j] = sh;
            w2[(size_t)o * (size_t)cin + j] = sw;
        }
    *rows = r;
    *cols = cin;
}

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    ns_settings ns;
    MINIMA_TRY(minima_settings_parse("normalized_sharpness", table, N_SETTINGS, settings, &ns));
    int diag_method = ns.diag, exact_max = ns.exact_max, samples = ns.samples, max_iter = ns.max_iter;
    double tol = ns.tol;
    const minima_model *m = minima_net_model(net);
    int homogeneous = piecewise_linear(m);
    if (diag_method == 1 && !homogeneous)
        MINIMA_FAIL(MINIMA_EINVAL, "measure normalized_sharpness: diag=1 (layer structure) needs a "
                    "net of piecewise-linear nodes (ReLU, leaky ReLU, pooling, adds); this one has "
                    "tanh");
    size_t P = minima_net_n_params(net);
    int method = diag_method ? diag_method : homogeneous ? 1 : P <= (size_t)exact_max ? 2 : 3;
    static const char *names[4] = {"", "layer_exact", "unit_products", "hutchinson"};
    char dm[48];
    snprintf(dm, sizeof dm, "\"diag_method\": \"%s\"", names[method]);
    minima_settings_json(table, N_SETTINGS, &ns, dm, out->params, sizeof out->params);

    /* Workspace sizes: the largest (rows, cols) problem of a node. */
    size_t rc_max = 1;
    int rmax = 1, cmax = 1;
    for (int k = 1; k < m->n_nodes; k++) {
        const minima_node *nd = &m->nodes[k];
        if (!nd->n_weight) continue;
        int r = nd->out, c = nd->kind == MINIMA_NODE_LINEAR ? (int)(nd->n_weight / (size_t)r)
                                                             : m->nodes[nd->inputs[0]].shape.c;
        rmax = r > rmax ? r : rmax;
        cmax = c > cmax ? c : cmax;
        rc_max = (size_t)r * (size_t)c > rc_max ? (size_t)r * (size_t)c : rc_max;
    }
    minima_status st = MINIMA_OK;
    double *diag = minima_alloc(P, sizeof *diag);   /* (P) H_ii at the weights */
    double *v = minima_alloc(P, sizeof *v), *hv = minima_alloc(P, sizeof *hv);   /* (P) */
    double *hs = minima_alloc(rc_max, sizeof *hs), *w2 = minima_alloc(rc_max, sizeof *w2);
    char *act_r = minima_alloc((size_t)rmax, 1), *act_c = minima_alloc((size_t)cmax, 1);
    double *al = minima_alloc((size_t)rmax, sizeof *al), *be = minima_alloc((size_t)cmax, sizeof *be);
    if (!diag || !v || !hv || !hs || !w2 || !act_r || !act_c || !al || !be) {
        st = minima_error(MINIMA_ENOMEM, "measure normalized_sharpness: out of memory");
        goto fail;
    }
    st = method == 1 ? (m->is_mlp ? diag_layers(net, diag) : diag_graph(net, diag))
         : method == 2 ? diag_units(net, diag, v, hv)
                       : diag_hutchinson(net, diag, v, hv, samples, seed);
    if (st != MINIMA_OK) goto fail;
    const double *theta = minima_net_point(net);
    size_t n_negative = 0;
    double total = 0, bound = 0;
    int worst_iters = 0, all_conv = 1;
    for (int k = 1; k < m->n_nodes; k++) {
        const minima_node *nd = &m->nodes[k];
        if (!nd->n_weight) continue;
        double *h = diag + nd->weight_offset;
        const double *w = theta + nd->weight_offset;
        for (size_t i = 0; i < nd->n_weight; i++) {
            if (h[i] < 0) h[i] = 0, n_negative++;
            bound += 2.0 * sqrt(h[i]) * fabs(w[i]);
        }
        int r, c, iters, conv;
        node_problem(m, k, h, w, hs, w2, &r, &c);
        total += minimise_layer(hs, w2, r, c, max_iter, tol, act_r, act_c, al, be, &iters, &conv);
        worst_iters = iters > worst_iters ? iters : worst_iters;
        all_conv &= conv;
    }
    out->value = total;
    minima_measure_add_extra(out, "entrywise_lower_bound", bound);
    minima_measure_add_extra(out, "diag_method", method);
    minima_measure_add_extra(out, "iterations", worst_iters);
    minima_measure_add_extra(out, "converged", all_conv);
    minima_measure_add_extra(out, "negative_diagonal", (double)n_negative);
    minima_curv_note(out, "Hessian diagonal: %s", method == 1 ? "exact from the layer structure"
                     : method == 2 ? "exact, one product per weight"
                                   : "Hutchinson estimate (noisy)");
    if (n_negative)
        minima_curv_note(out, "%zu negative diagonal entries were set to 0", n_negative);
    if (!all_conv)
        minima_curv_note(out, "the alternating minimisation stopped at max_iter before tol");
fail:
    minima_free(diag);
    minima_free(v);
    minima_free(hv);
    minima_free(hs);
    minima_free(w2);
    minima_free(act_r);
    minima_free(act_c);
    minima_free(al);
    minima_free(be);
    return st;
}

/* Exact with an exact Hessian diagonal (diag = 1 or 2, and diag = 0 on the
 * nets a rescaling preserves). Hutchinson's estimate (diag=3) is not: its
 * probes v are not rescaled with the weights, so v .* (A^-1 H A^-1) v is not
 * A^-2 (v .* H v), and the value moves by the estimator's noise. */
static minima_invariance invariance_for(const char *settings)
{
    ns_settings ns;
    if (minima_settings_parse("normalized_sharpness", table, N_SETTINGS, settings, &ns) != MINIMA_OK)
        minima_clear_error();
    return ns.diag == 3 ? MINIMA_INVARIANCE_APPROX : MINIMA_INVARIANCE_EXACT;
}

const minima_measure minima_measure_normalized_sharpness = {
    .name = "normalized_sharpness",
    .title = "normalized sharpness (Hessian diagonal, per-layer scale minimisation)",
    .source = "Tsuzuku, Sato & Sugiyama 2020, ICML (constant factors not checked)",
    .invariance = MINIMA_INVARIANCE_EXACT,
    .settings = table,
    .n_settings = N_SETTINGS,
    .compute = compute,
    .invariance_for = invariance_for,
};
