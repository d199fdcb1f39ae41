/* test_measures_graph2.c — the per-example output Jacobian of the engine
 * (minima_net_output_jacobian) against Jacobian-vector products, and the
 * two measures built on it for graphs: normalized_sharpness (exactly
 * invariant under the graph's rescaling group; the layer-structure Hessian
 * diagonal equals the exact one from products H e_p on a graph with a conv,
 * a max-pooling and a residual add; the graph path equals the MLP path on
 * an MLP) and fms_penalty (its change under a group point is the closed
 * form -sum log D_p over the kept weights; the graph path equals the MLP
 * path on an MLP, and a brute-force per-example Jacobian built from JVPs). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/data.h"
#include "minima/graph_symmetry.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/rng.h"
#include "minima/sharpness.h"

/* A tiny ReLU graph with a conv, a max-pooling and a residual add, small
 * enough for one Hessian product per weight. */
#define ARCH_TINY "1x5x5:conv2k3p1,relu,maxpool2,res(conv2k1,relu),flatten,3"

static const char *const graphs[3] = {HARNESS_ARCH_LENET, HARNESS_ARCH_STRIDED,
                                      HARNESS_ARCH_RESNET};

/* ---- the per-example Jacobian ----------------------------------------- */

static void check_jacobian(const char *arch, uint64_t seed)
{
    harness_current = arch;
    minima_model *m = harness_graph_model(arch, seed);
    minima_dataset *d = m ? harness_graph_data(m, 37, seed + 1) : NULL;   /* more than one chunk of 32 */
    minima_net *net = d ? harness_net(m, d, MINIMA_LOSS_CE) : NULL;
    if (!net) goto done;
    size_t P = m->n_params, N = d->n, K = (size_t)minima_model_n_outputs(m);
    double *jac = harness_dalloc(N * K * P), *v = harness_dalloc(P), *rz = harness_dalloc(N * K);
    CHECK_OK(minima_net_output_jacobian(net, 0, N, jac));
    for (int t = 0; t < 3; t++) {
        minima_rng r;
        minima_rng_seed2(&r, seed, (uint64_t)t);
        minima_rng_fill_normal(&r, v, P);
        CHECK_OK(minima_net_jvp(net, v, rz));
        double worst = 0, scale = 0;
        for (size_t q = 0; q < N * K; q++) {
            double jv = 0;
            for (size_t p = 0; p < P; p++) jv += jac[q * P + p] * v[p];
            worst = fmax(worst, fabs(jv - rz[q]));
            scale = fmax(scale, fabs(rz[q]));
        }
        CHECK_MSG(scale > 1e-3 && worst <= 1e-12 * fmax(scale, 1.0),
                  "%s: |J v - jvp| = %.3g (scale %.3g)", arch, worst, scale);
    }
    /* A slice in the middle equals the same rows of the whole. */
    size_t first = 5, n = 9;
    double *part = harness_dalloc(n * K * P);
    CHECK_OK(minima_net_output_jacobian(net, first, n, part));
    CHECK(memcmp(part, jac + first * K * P, n * K * P * sizeof(double)) == 0);
    CHECK_STATUS(minima_net_output_jacobian(net, N - 2, 3, part), MINIMA_ERANGE);
    CHECK_OK(minima_net_output_jacobian(net, N, 0, NULL));
    free(part);
    free(jac);
    free(v);
    free(rz);
done:
    minima_net_free(net);
    minima_dataset_free(d);
    minima_model_free(m);
}

static void test_jacobian(void)
{
    for (int a = 0; a < 3; a++) check_jacobian(graphs[a], 10 + (uint64_t)a);
    check_jacobian(ARCH_TINY, 20);
}

/* ---- normalized_sharpness -------------------------------------------- */

/* Exactly invariant under the graph's rescaling group: the value at two
 * random orbit points (factors in [0.1, 10]) equals the value at theta. */
static void check_ns_invariance(const char *arch, uint64_t seed)
{
    harness_current = arch;
    minima_model *m = harness_graph_model(arch, seed);
    minima_dataset *d = m ? harness_graph_data(m, 16, seed + 1) : NULL;
    minima_gsym *g = NULL;
    if (m) CHECK_OK(minima_gsym_create(m, &g));
    minima_net *net = d ? harness_net(m, d, MINIMA_LOSS_CE) : NULL;
    if (!net || !g) goto done;
    size_t P = m->n_params;
    double *u = harness_dalloc((size_t)g->n_classes), *t = harness_dalloc(P);
    minima_measure_result r0, r1;
    double v0 = harness_measure(net, "normalized_sharpness", NULL, 1, &r0);
    CHECK_MSG(v0 > 0 && isfinite(v0) && harness_extra(&r0, "converged") == 1 &&
              harness_extra(&r0, "diag_method") == 1, "%s: value %g", arch, v0);
    for (int trial = 0; trial < 2; trial++) {
        harness_graph_log_factors(u, g->n_classes, seed * 7 + (uint64_t)trial);
        CHECK_OK(minima_gsym_apply(g, m, u, NULL, t));
        CHECK(harness_vec_reldiff(t, m->theta, P, 1e-300) > 1e-2);   /* it moved */
        CHECK_OK(minima_net_set_point(net, t));
        double v1 = harness_measure(net, "normalized_sharpness", NULL, 1, &r1);
        CHECK_REL(v1, v0, 1e-9);
        CHECK_REL(harness_extra(&r1, "entrywise_lower_bound"),
                  harness_extra(&r0, "entrywise_lower_bound"), 1e-9);
    }
    /* The test can fail: scaling one conv weight alone (not a group point)
     * changes the value. */
    memcpy(t, m->theta, P * sizeof *t);
    t[0] *= 3.0;
    CHECK_OK(minima_net_set_point(net, t));
    CHECK(harness_reldiff(harness_measure(net, "normalized_sharpness", NULL, 1, NULL), v0, 1e-300) > 1e-6);
    free(u);
    free(t);
done:
    minima_net_free(net);
    minima_gsym_free(g);
    minima_dataset_free(d);
    minima_model_free(m);
}

static void test_ns_invariance(void)
{
    for (int a = 0; a < 3; a++) check_ns_invariance(graphs[a], 30 + (uint64_t)a);
}

/* On a ReLU graph with a conv, a max-pooling and a residual add, every
 * output is piecewise affine in each single weight, so diag H = diag GGN:
 * the diagonal from the per-example Jacobians (sum_i sum_c (J_i^T l_ic)^2,
 * computed here) equals H e_p, and the measure's two exact diagonals
 * (diag=1 from the Jacobians, diag=2 from products) give the same value. */
static void check_ns_diag(minima_loss loss, uint64_t seed)
{
    harness_current = loss == MINIMA_LOSS_CE ? "tiny graph, CE" : "tiny graph, MSE";
    minima_model *m = harness_graph_model(ARCH_TINY, seed);
    minima_dataset *d = m ? harness_graph_data(m, 11, seed + 1) : NULL;
    minima_net *net = d ? harness_net(m, d, loss) : NULL;
    if (!net) goto done;
    size_t P = m->n_params, N = d->n, K = (size_t)minima_model_n_outputs(m);
    double *jac = harness_dalloc(N * K * P), *z = harness_dalloc(N * K), *ggn = harness_dalloc(P),
           *e = harness_dalloc(P), *he = harness_dalloc(P);
    CHECK_OK(minima_net_output_jacobian(net, 0, N, jac));
    CHECK_OK(minima_net_outputs(net, NULL, z));
    for (size_t i = 0; i < N; i++) {
        /* the example's output Hessian h (K, K) of the mean loss */
        double h[16], pr[4], mx = -INFINITY, sum = 0;
        const double *zi = z + i * K;
        for (size_t k = 0; k < K; k++) mx = fmax(mx, zi[k]);
        for (size_t k = 0; k < K; k++) sum += pr[k] = exp(zi[k] - mx);
        for (size_t k = 0; k < K; k++) pr[k] /= sum;
        for (size_t k = 0; k < K; k++)
            for (size_t q = 0; q < K; q++)
                h[k * K + q] = loss == MINIMA_LOSS_CE ? ((k == q) * pr[k] - pr[k] * pr[q]) / (double)N
                                                      : (k == q) * 2.0 / ((double)N * (double)K);
        for (size_t p = 0; p < P; p++) {
            double s = 0;
            for (size_t k = 0; k < K; k++)
                for (size_t q = 0; q < K; q++)
                    s += jac[(i * K + k) * P + p] * h[k * K + q] * jac[(i * K + q) * P + p];
            ggn[p] += s;
        }
    }
    double worst = 0, scale = 0;
    for (size_t p = 0; p < P; p++) {
        e[p] = 1.0;
        CHECK_OK(minima_net_hvp(net, e, he));
        e[p] = 0.0;
        worst = fmax(worst, fabs(he[p] - ggn[p]));
        scale = fmax(scale, fabs(he[p]));
    }
    CHECK_MSG(scale > 0 && worst <= 1e-10 * scale, "diag H vs diag GGN: %.3g (scale %.3g)", worst,
              scale);
    minima_measure_result r1, r2;
    double v1 = harness_measure(net, "normalized_sharpness", "diag=1", 1, &r1);
    double v2 = harness_measure(net, "normalized_sharpness", "diag=2", 1, &r2);
    CHECK(v1 > 0);
    CHECK_REL(v1, v2, 1e-10);
    CHECK_REL(harness_extra(&r1, "entrywise_lower_bound"),
              harness_extra(&r2, "entrywise_lower_bound"), 1e-10);
    free(jac);
    free(z);
    free(ggn);
    free(e);
    free(he);
done:
    minima_net_free(net);
    minima_dataset_free(d);
    minima_model_free(m);
}

static void test_ns_diag(void)
{
    check_ns_diag(MINIMA_LOSS_CE, 40);
    check_ns_diag(MINIMA_LOSS_MSE, 41);
}

/* Closed form where every scale is free: a grouped conv whose groups have
 * one input and one output channel each (per group: one alpha, one beta,
 * all 9 taps sharing alpha beta), then a 1-output linear layer (one alpha,
 * a beta per column). Each (row, column) cell is then its own problem,
 * min_s H s^2 + W / s^2 = 2 sqrt(H W) with H the sum of the cell's
 * diagonal entries and W of its squared weights. Taps with scales of their
 * own would give sum_t 2 sqrt(h_t) |w_t| instead, which is smaller. */
static void test_ns_closed_form(void)
{
    harness_current = "closed form";
    minima_model *m = harness_graph_model("2x5x5:conv2k3g2,relu,gap,1", 100);
    minima_dataset *d = m ? harness_graph_data(m, 9, 101) : NULL;
    minima_net *net = d ? harness_net(m, d, MINIMA_LOSS_MSE) : NULL;
    if (!net) goto done;
    size_t P = m->n_params;
    double *e = harness_dalloc(P), *he = harness_dalloc(P), *h = harness_dalloc(P);
    for (size_t p = 0; p < P; p++) {
        e[p] = 1.0;
        CHECK_OK(minima_net_hvp(net, e, he));
        e[p] = 0.0;
        h[p] = he[p];
    }
    const double *w = m->theta;
    const minima_node *conv = &m->nodes[1], *lin = &m->nodes[m->n_nodes - 1];
    CHECK(conv->kind == MINIMA_NODE_CONV2D && conv->n_weight == 18 && lin->n_weight == 2);
    double want = 0, taps_free = 0;
    for (int o = 0; o < 2; o++) {
        double H = 0, W = 0;
        for (size_t t = 0; t < 9; t++) {
            size_t p = conv->weight_offset + (size_t)o * 9 + t;
            H += h[p];
            W += w[p] * w[p];
            taps_free += 2 * sqrt(h[p]) * fabs(w[p]);
        }
        want += 2 * sqrt(H * W);
    }
    for (size_t j = 0; j < 2; j++) {
        size_t p = lin->weight_offset + j;
        want += 2 * sqrt(h[p]) * fabs(w[p]);
        taps_free += 2 * sqrt(h[p]) * fabs(w[p]);
    }
    minima_measure_result r;
    double v = harness_measure(net, "normalized_sharpness", "diag=2", 1, &r);
    CHECK_REL(v, want, 1e-12);
    CHECK(harness_reldiff(want, taps_free, 1e-300) > 1e-3);
    CHECK_REL(harness_measure(net, "normalized_sharpness", "diag=1", 1, NULL), want, 1e-10);
    free(e);
    free(he);
    free(h);
done:
    minima_net_free(net);
    minima_dataset_free(d);
    minima_model_free(m);
}

/* An MLP and the same network written as a graph (an identity node in
 * front makes it a graph that is not an MLP): same parameters, so the
 * graph paths of both measures must give the MLP paths' values. */
typedef struct {
    const char *mlp, *graph;
    minima_activation act;
    int bias;
} mlp_pair;

static const mlp_pair pairs[] = {
    {"6-5-4-3", "6:identity,5,relu,4,relu,3", MINIMA_ACT_RELU, 1},
    {"6-5-4-3", "6:identity,5nb,relu,4nb,relu,3nb", MINIMA_ACT_RELU, 0},
    {"6-7-3", "6:identity,7,lrelu0.1,3", MINIMA_ACT_LEAKY_RELU, 1},
    {"6-5-3", "6:identity,5,tanh,3", MINIMA_ACT_TANH, 1},
};

static int make_pair(const mlp_pair *pr, uint64_t seed, minima_model **mlp, minima_model **gr)
{
    *mlp = *gr = NULL;
    CHECK_OK(minima_arch_parse(pr->mlp, pr->bias, pr->act, 0.1, mlp));
    CHECK_OK(minima_arch_parse(pr->graph, pr->bias, pr->act, 0.1, gr));
    if (!*mlp || !*gr) return 0;
    minima_model_init(*mlp, seed);
    CHECK((*mlp)->is_mlp && !(*gr)->is_mlp && (*mlp)->n_params == (*gr)->n_params);
    if ((*mlp)->n_params != (*gr)->n_params) return 0;
    memcpy((*gr)->theta, (*mlp)->theta, (*mlp)->n_params * sizeof(double));
    return 1;
}

static void test_ns_mlp_path(void)
{
    for (size_t q = 0; q < sizeof pairs / sizeof *pairs; q++) {
        harness_current = pairs[q].graph;
        minima_model *a, *b;
        minima_dataset *d = NULL;
        minima_net *na = NULL, *nb = NULL;
        if (!make_pair(&pairs[q], 50 + q, &a, &b)) goto next;
        d = harness_graph_data(a, 23, 60 + q);
        for (int l = 0; l < 2 && d; l++) {
            minima_loss loss = l ? MINIMA_LOSS_MSE : MINIMA_LOSS_CE;
            na = harness_net(a, d, loss);
            nb = harness_net(b, d, loss);
            const char *sets[2] = {"diag=0", "diag=2"};
            for (int si = 0; si < 2 && na && nb; si++) {
                minima_measure_result ra, rb;
                double va = harness_measure(na, "normalized_sharpness", sets[si], 1, &ra);
                double vb = harness_measure(nb, "normalized_sharpness", sets[si], 1, &rb);
                CHECK(va > 0);
                CHECK_MSG(harness_extra(&ra, "diag_method") == harness_extra(&rb, "diag_method"), "method");
                CHECK_REL(vb, va, 1e-13);
                CHECK_REL(harness_extra(&rb, "entrywise_lower_bound"),
                          harness_extra(&ra, "entrywise_lower_bound"), 1e-13);
            }
            minima_net_free(na);
            minima_net_free(nb);
            na = nb = NULL;
        }
    next:
        minima_dataset_free(d);
        minima_model_free(a);
        minima_model_free(b);
    }
}

/* ---- fms_penalty ------------------------------------------------------ */

static void test_fms_mlp_path(void)
{
    for (size_t q = 0; q < sizeof pairs / sizeof *pairs; q++) {
        harness_current = pairs[q].graph;
        minima_model *a, *b;
        minima_dataset *d = NULL;
        minima_net *na = NULL, *nb = NULL;
        if (!make_pair(&pairs[q], 70 + q, &a, &b)) goto next;
        d = harness_graph_data(a, 23, 80 + q);
        na = d ? harness_net(a, d, MINIMA_LOSS_CE) : NULL;
        nb = d ? harness_net(b, d, MINIMA_LOSS_CE) : NULL;
        const char *sets[2] = {NULL, "max_examples=9,eps=0.1"};
        for (int si = 0; si < 2 && na && nb; si++) {
            minima_measure_result ra, rb;
            double va = harness_measure(na, "fms_penalty", sets[si], 1, &ra);
            double vb = harness_measure(nb, "fms_penalty", sets[si], 1, &rb);
            CHECK(isfinite(va));
            CHECK_REL(vb, va, 1e-12);
            CHECK_REL(harness_extra(&rb, "mean_omega"), harness_extra(&ra, "mean_omega"), 1e-15);
            CHECK_ABS(harness_extra(&rb, "excluded_frac"), harness_extra(&ra, "excluded_frac"), 1e-15);
            CHECK(harness_extra(&rb, "flat_examples") == harness_extra(&ra, "flat_examples"));
        }
        if (q == 0) {
            /* ReLU nets leave some weights out: the count is exercised */
            minima_measure_result r;
            harness_measure(nb, "fms_penalty", NULL, 1, &r);
            CHECK(harness_extra(&r, "excluded_frac") > 0);
        }
    next:
        minima_net_free(na);
        minima_net_free(nb);
        minima_dataset_free(d);
        minima_model_free(a);
        minima_model_free(b);
    }
}

/* B(w, x) computed here from the Jacobian assembled column by column from
 * JVPs (J e_p), not from minima_net_output_jacobian; kept[i * P + p] gets
 * whether weight p is kept on example i. Returns the mean over the
 * non-flat examples. */
static double fms_brute(minima_net *net, double eps, unsigned char *kept)
{
    const minima_model *m = minima_net_model(net);
    size_t P = m->n_params, N = minima_net_n_examples(net), K = (size_t)minima_model_n_outputs(m);
    double *col = harness_dalloc(N * K * P), *e = harness_dalloc(P), *rz = harness_dalloc(N * K);
    for (size_t p = 0; p < P; p++) {
        e[p] = 1.0;
        CHECK_OK(minima_net_jvp(net, e, rz));
        e[p] = 0.0;
        for (size_t q = 0; q < N * K; q++) col[q * P + p] = rz[q];
    }
    double sum = 0;
    size_t used = 0;
    for (size_t i = 0; i < N; i++) {
        double logsum = 0, omega = 0, T[16] = {0};
        for (size_t p = 0; p < P; p++) {
            double r = 0;
            for (size_t k = 0; k < K; k++) r += col[(i * K + k) * P + p] * col[(i * K + k) * P + p];
            if (kept) kept[i * P + p] = r > 0;
            if (r == 0) continue;
            logsum += log(r);
            omega++;
            for (size_t k = 0; k < K; k++) T[k] += fabs(col[(i * K + k) * P + p]) / sqrt(r);
        }
        if (omega == 0) continue;
        double t2 = 0;
        for (size_t k = 0; k < K; k++) t2 += T[k] * T[k];
        sum += 0.5 * (-omega * log(eps) + logsum + omega * log(t2));
        used++;
    }
    free(col);
    free(e);
    free(rz);
    return used ? sum / (double)used : NAN;
}

/* On the three graphs: the measure equals the brute force, and under a
 * random group point u, B moves by exactly -sum_p log D_p(u) over the
 * weights kept on each example, averaged over the examples. */
static void check_fms_graph(const char *arch, uint64_t seed)
{
    harness_current = arch;
    minima_model *m = harness_graph_model(arch, seed);
    minima_dataset *d = m ? harness_graph_data(m, 12, seed + 1) : NULL;
    minima_gsym *g = NULL;
    if (m) CHECK_OK(minima_gsym_create(m, &g));
    minima_net *net = d ? harness_net(m, d, MINIMA_LOSS_CE) : NULL;
    if (!net || !g) goto done;
    size_t P = m->n_params, N = d->n;
    unsigned char *kept = calloc(N * P, 1);
    double *u = harness_dalloc((size_t)g->n_classes), *D = harness_dalloc(P), *t = harness_dalloc(P);
    minima_measure_result r0, r1;
    double b0 = harness_measure(net, "fms_penalty", "eps=0.05", 1, &r0);
    double brute = fms_brute(net, 0.05, kept);
    CHECK_REL(b0, brute, 1e-11);
    CHECK(harness_extra(&r0, "flat_examples") == 0);
    size_t n_kept = 0;
    for (size_t q = 0; q < N * P; q++) n_kept += kept[q];
    CHECK_REL(harness_extra(&r0, "mean_omega"), (double)n_kept / (double)N, 1e-15);
    for (int trial = 0; trial < 2; trial++) {
        harness_graph_log_factors(u, g->n_classes, seed * 5 + (uint64_t)trial);
        CHECK_OK(minima_gsym_diag(g, m, u, D));
        CHECK_OK(minima_gsym_apply(g, m, u, NULL, t));
        double predicted = 0;
        for (size_t i = 0; i < N; i++)
            for (size_t p = 0; p < P; p++)
                if (kept[i * P + p]) predicted -= log(D[p]);
        predicted /= (double)N;
        CHECK_MSG(fabs(predicted) > 0.1, "%s: predicted change %g too small to test", arch,
                  predicted);
        CHECK_OK(minima_net_set_point(net, t));
        double b1 = harness_measure(net, "fms_penalty", "eps=0.05", 1, &r1);
        CHECK_ABS(b1 - b0, predicted, 1e-9);
        CHECK(harness_extra(&r1, "mean_omega") == harness_extra(&r0, "mean_omega"));
    }
    free(kept);
    free(u);
    free(D);
    free(t);
done:
    minima_net_free(net);
    minima_gsym_free(g);
    minima_dataset_free(d);
    minima_model_free(m);
}

static void test_fms_graph(void)
{
    for (int a = 0; a < 3; a++) check_fms_graph(graphs[a], 90 + (uint64_t)a);
    check_fms_graph(ARCH_TINY, 95);
}

int main(void)
{
    RUN(test_jacobian);
    RUN(test_ns_invariance);
    RUN(test_ns_diag);
    RUN(test_ns_closed_form);
    RUN(test_ns_mlp_path);
    RUN(test_fms_mlp_path);
    RUN(test_fms_graph);
    return harness_report();
}
