/* test_measures_graph.c — path_norm, relative_flatness and fisher_rao on
 * graph models (convolutions, pooling, residual adds):
 *
 *   - finite, and exactly invariant (1e-10 relative) at random points of the
 *     graph's rescaling group on the three architectures HARNESS_ARCH_*
 *     (tests/harness.h);
 *   - the graph code gives the MLP code's value on an MLP written as a graph
 *     (an identity node makes it one that is not an MLP);
 *   - path_norm against an explicit enumeration of the paths of tiny graphs
 *     (max and average pooling, zero padding, a residual add);
 *   - relative_flatness against its Hessian-block definition, from exact
 *     Hessian-vector products at the standardised point of a tiny CNN;
 *   - fisher_rao's output form equals the value on bias-free homogeneous
 *     graphs (a CNN, two branches of equal depth) and is NaN when an add
 *     joins branches of different depth or a node has a bias. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/data.h"
#include "minima/graph_symmetry.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/reference.h"
#include "minima/rng.h"
#include "minima/sharpness.h"

static const char *const MEASURES[] = {"path_norm", "relative_flatness", "fisher_rao"};

/* ---- invariance on the three architectures ------------------------------ */

static void check_invariance(const char *arch, uint64_t seed)
{
    harness_current = arch;
    minima_model *m = harness_graph_model(arch, seed);
    minima_dataset *d = m ? harness_graph_data(m, 16, seed + 100) : NULL;
    minima_gsym *g = NULL;
    if (m) CHECK_OK(minima_gsym_create(m, &g));
    minima_net *net = m && d ? harness_net(m, d, MINIMA_LOSS_CE) : NULL;
    if (!m || !d || !g || !net) goto done;
    CHECK(!m->is_mlp);
    size_t P = m->n_params;
    double *u = harness_dalloc((size_t)g->n_classes), *at = harness_dalloc(P);
    double base[3];
    minima_measure_result r;
    for (int k = 0; k < 3; k++) {
        base[k] = harness_measure(net, MEASURES[k], NULL, 1, &r);
        CHECK_MSG(isfinite(base[k]) && base[k] > 0, "%s on %s: %g", MEASURES[k], arch, base[k]);
        if (!strcmp(MEASURES[k], "fisher_rao")) {
            CHECK(isnan(harness_extra(&r, "fr_output_form")) && strstr(r.note, "has a bias"));
        }
    }
    double raw0 = harness_measure(net, "relative_flatness", "standardize=0", 1, NULL);
    for (int trial = 0; trial < 2; trial++) {
        /* log-factors uniform in [-1.5, 1.5]: factors between 0.22 and 4.5 */
        minima_rng rng;
        minima_rng_seed(&rng, seed * 31 + (uint64_t)trial);
        for (int c = 0; c < g->n_classes; c++) u[c] = 3.0 * minima_rng_uniform(&rng) - 1.5;
        CHECK_OK(minima_gsym_apply(g, m, u, NULL, at));
        CHECK(harness_vec_reldiff(at, m->theta, P, 1e-300) > 1e-2);   /* it moved */
        CHECK_OK(minima_net_set_point(net, at));
        /* the raw layer (standardize=0) is not invariant: the group acts */
        double raw = harness_measure(net, "relative_flatness", "standardize=0", 1, NULL);
        CHECK_MSG(harness_reldiff(raw, raw0, 1e-300) > 1e-3, "raw kappa %g vs %g", raw, raw0);
        for (int k = 0; k < 3; k++) {
            double v = harness_measure(net, MEASURES[k], NULL, 1, NULL);
            double rd = harness_reldiff(v, base[k], 1e-300);
            CHECK_MSG(rd <= 1e-10, "%s on %s, orbit point %d: %.17g vs %.17g (%.3g relative)",
                      MEASURES[k], arch, trial, v, base[k], rd);
        }
    }
    free(u);
    free(at);
done:
    minima_net_free(net);
    minima_gsym_free(g);
    minima_dataset_free(d);
    minima_model_free(m);
}

static void test_invariance(void)
{
    check_invariance(HARNESS_ARCH_LENET, 1);
    check_invariance(HARNESS_ARCH_STRIDED, 2);
    check_invariance(HARNESS_ARCH_RESNET, 3);
}

/* ---- the MLP, written as a graph ---------------------------------------- */

/* The MLP `mlp_arch` and the graph `graph_arch` (the same layers with an
 * identity node: not an MLP) at the same theta give the same values. */
static void check_mlp_as_graph(const char *mlp_arch, const char *graph_arch, int bias,
                               minima_loss loss, double tol)
{
    harness_current = graph_arch;
    minima_model *a = harness_graph_model_bias(mlp_arch, bias, 7),
                 *b = harness_graph_model_bias(graph_arch, bias, 7);
    if (!a || !b) goto done0;
    CHECK(a->is_mlp && !b->is_mlp && a->n_params == b->n_params);
    memcpy(b->theta, a->theta, a->n_params * sizeof *b->theta);
    minima_dataset *d = harness_graph_data(a, 20, 8);
    minima_net *na = d ? harness_net(a, d, loss) : NULL, *nb = d ? harness_net(b, d, loss) : NULL;
    if (na && nb) {
        static const char *const cases[][2] = {
            {"path_norm", "p=1"}, {"path_norm", "p=2"}, {"path_norm", "p=3"},
            {"relative_flatness", NULL}, {"relative_flatness", "standardize=0"},
            {"fisher_rao", NULL}};
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            minima_measure_result ra, rb;
            double va = harness_measure(na, cases[c][0], cases[c][1], 1, &ra);
            double vb = harness_measure(nb, cases[c][0], cases[c][1], 1, &rb);
            double rd = harness_reldiff(va, vb, 1e-300);
            CHECK_MSG(rd <= tol && isfinite(va), "%s (%s) on %s: MLP %.17g, graph %.17g (%.3g)",
                      cases[c][0], cases[c][1] ? cases[c][1] : "", graph_arch, va, vb, rd);
            if (!strcmp(cases[c][0], "fisher_rao")) {
                double oa = harness_extra(&ra, "fr_output_form"), ob = harness_extra(&rb, "fr_output_form");
                CHECK_MSG(bias ? isnan(oa) && isnan(ob) : harness_reldiff(oa, ob, 1e-300) <= tol,
                          "fr_output_form: MLP %.17g, graph %.17g", oa, ob);
                if (!bias) CHECK_REL(ob, vb, 1e-10);
            }
        }
    }
    minima_net_free(na);
    minima_net_free(nb);
    minima_dataset_free(d);
done0:
    minima_model_free(a);
    minima_model_free(b);
}

static void test_mlp_as_graph(void)
{
    check_mlp_as_graph("6-5-4-3", "6:5,relu,4,relu,identity,3", 1, MINIMA_LOSS_CE, 1e-14);
    check_mlp_as_graph("6-5-4-3", "6:5,relu,identity,4,relu,3", 0, MINIMA_LOSS_CE, 1e-14);
    check_mlp_as_graph("6-5-4-3", "6:5,relu,4,relu,identity,3", 1, MINIMA_LOSS_MSE, 1e-14);
    /* no hidden layer: features computed without parameters (identity head) */
    check_mlp_as_graph("6-3", "6:identity,3", 1, MINIMA_LOSS_CE, 1e-14);
}

/* ---- path_norm by enumeration ------------------------------------------- */

static double path_norm_of(const minima_model *m, const char *settings, minima_measure_result *r)
{
    minima_dataset *d = harness_graph_data(m, 4, 1);
    minima_net *net = d ? harness_net(m, d, MINIMA_LOSS_CE) : NULL;
    double v = net ? harness_measure(net, "path_norm", settings, 1, r) : NAN;
    minima_net_free(net);
    minima_dataset_free(d);
    return v;
}

/* 1x3x3 -> conv 2 channels, kernel 2, padding `pad` -> relu -> pool 2
 * (max or average) -> flatten -> linear 2 (weights V, biases c). Every path
 * is listed: from an input pixel through one conv tap to one conv output
 * position (a tap reading the zero padding is no path), or from the conv
 * bias unit at that position; then through the pool to the channel's
 * feature at that window, then through one weight of V; or from V's bias
 * unit. The max pool takes, per window, the largest of the sums of the
 * paths into its positions; the average pool's 1/4 is a constant of the
 * architecture (not raised to p). */
static void check_conv_paths(int pad, int use_max, double p)
{
    char arch[96];
    snprintf(arch, sizeof arch, "1x3x3:conv2k2p%d,relu,%s2,flatten,2", pad,
             use_max ? "maxpool" : "avgpool");
    harness_current = arch;
    minima_model *m = harness_graph_model(arch, 11);
    if (!m) return;
    const minima_node *cv = &m->nodes[1], *lin = &m->nodes[m->n_nodes - 1];
    const double *w = m->theta + cv->weight_offset, *b = m->theta + cv->bias_offset;
    const double *V = m->theta + lin->weight_offset, *c = m->theta + lin->bias_offset;
    int S = 3 + 2 * pad - 1;    /* conv output side */
    int Q = S / 2;              /* pooled side */
    int F = 2 * Q * Q;          /* features */
    CHECK(lin->n_weight == (size_t)(2 * F));
    double feat[64];
    for (int ch = 0; ch < 2; ch++)
        for (int qy = 0; qy < Q; qy++)
            for (int qx = 0; qx < Q; qx++) {
                double best = 0, sum = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int y = 2 * qy + dy, x = 2 * qx + dx;   /* conv output position */
                        double paths = pow(fabs(b[ch]), p);     /* the bias unit */
                        for (int a = 0; a < 2; a++)
                            for (int e = 0; e < 2; e++) {
                                int iy = y - pad + a, ix = x - pad + e;
                                if (iy < 0 || iy >= 3 || ix < 0 || ix >= 3) continue;
                                paths += pow(fabs(w[ch * 4 + a * 2 + e]), p);   /* times input 1 */
                            }
                        best = paths > best ? paths : best;
                        sum += paths;
                    }
                feat[(ch * Q + qy) * Q + qx] = use_max ? best : sum / 4;
            }
    double total = 0;
    for (int o = 0; o < 2; o++) {
        total += pow(fabs(c[o]), p);
        for (int f = 0; f < F; f++) total += pow(fabs(V[o * F + f]), p) * feat[f];
    }
    char set[32];
    snprintf(set, sizeof set, "p=%g", p);
    minima_measure_result r;
    double v = path_norm_of(m, set, &r);
    CHECK_REL(harness_extra(&r, "sum_of_paths"), total, 1e-13);
    CHECK_REL(v, pow(total, 1.0 / p), 1e-13);
    minima_model_free(m);
}

/* 3 -> res(linear 3 (A, a), relu, linear 3 (B, b)) -> relu -> linear 2
 * (C, c): the paths through the skip (input j -> C), through the body
 * (input j -> A -> B -> C), and from the bias units of A, B and C. */
static void check_residual_paths(double p)
{
    const char *arch = "3:res(3,relu,3),relu,2";
    harness_current = arch;
    minima_model *m = harness_graph_model(arch, 12);
    if (!m) return;
    const double *A = NULL, *a = NULL, *B = NULL, *b = NULL, *C = NULL, *c = NULL;
    int nl = 0;
    for (int i = 1; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        if (nd->kind != MINIMA_NODE_LINEAR) continue;
        const double *W = m->theta + nd->weight_offset, *bb = m->theta + nd->bias_offset;
        if (nl == 0) { A = W; a = bb; }
        if (nl == 1) { B = W; b = bb; }
        if (nl == 2) { C = W; c = bb; }
        nl++;
    }
    CHECK(nl == 3);
    if (nl != 3) {
        minima_model_free(m);
        return;
    }
#define PW(x) pow(fabs(x), p)
    double total = 0;
    for (int o = 0; o < 2; o++) {
        total += PW(c[o]);                                   /* C's bias unit */
        for (int k = 0; k < 3; k++) {
            total += PW(C[o * 3 + k]);                       /* input k, skip */
            total += PW(C[o * 3 + k]) * PW(b[k]);            /* B's bias unit */
            for (int h = 0; h < 3; h++) {
                total += PW(C[o * 3 + k]) * PW(B[k * 3 + h]) * PW(a[h]);   /* A's bias unit */
                for (int j = 0; j < 3; j++)                  /* input j, body */
                    total += PW(C[o * 3 + k]) * PW(B[k * 3 + h]) * PW(A[h * 3 + j]);
            }
        }
    }
#undef PW
    char set[32];
    snprintf(set, sizeof set, "p=%g", p);
    minima_measure_result r;
    double v = path_norm_of(m, set, &r);
    CHECK_REL(harness_extra(&r, "sum_of_paths"), total, 1e-13);
    CHECK_REL(v, pow(total, 1.0 / p), 1e-13);
    minima_model_free(m);
}

static void test_path_norm_enumeration(void)
{
    for (int pad = 0; pad <= 1; pad++)
        for (int use_max = 0; use_max <= 1; use_max++) {
            check_conv_paths(pad, use_max, 2);
            check_conv_paths(pad, use_max, 1);
            check_conv_paths(pad, use_max, 3);
        }
    check_residual_paths(2);
    check_residual_paths(1.5);
    /* tanh: counted as the identity, with a note */
    minima_model *m = harness_graph_model("1x4x4:conv2k3,tanh,flatten,3", 13);
    minima_model *r = harness_graph_model("1x4x4:conv2k3,relu,flatten,3", 13);
    if (m && r) {
        minima_measure_result rm, rr;
        double vm = path_norm_of(m, NULL, &rm), vr = path_norm_of(r, NULL, &rr);
        CHECK_REL(vm, vr, 1e-15);
        CHECK(strstr(rm.note, "tanh") && strstr(rm.note, "not invariant") && !rr.note[0]);
    }
    minima_model_free(m);
    minima_model_free(r);
}

/* ---- relative_flatness: the Hessian-block definition -------------------- */

/* 1x4x4 -> conv 3 channels k3 -> relu -> global average pool -> linear 2:
 * the features are the 3 pooled channels, so standardising them is a
 * rescaling of the conv's channels: row c of the conv (weights and bias)
 * divided by sigma_c, column c of the last weight times sigma_c. At that
 * point theta', kappa = sum_{s,s'} <w'_s, w'_s'> Tr(H'_{s,s'}) with the
 * blocks of the last layer's weights read from exact Hessian-vector
 * products. sigma comes from the reference forward pass of the cut model. */
static void check_rf_hessian(minima_loss loss)
{
    const char *arch = "1x4x4:conv3k3,relu,gap,2";
    harness_current = arch;
    minima_model *m = harness_graph_model(arch, 21),
                 *cut = harness_graph_model("1x4x4:conv3k3,relu,gap", 21);
    minima_dataset *d = m ? harness_graph_data(m, 24, 22) : NULL;
    minima_net *net = d ? harness_net(m, d, loss) : NULL;
    if (!m || !cut || !net) goto done;
    const int C = 3, dK = 2;
    size_t N = d->n, P = m->n_params;
    const minima_node *lin = &m->nodes[m->n_nodes - 1];
    const minima_node *cv = &m->nodes[1];
    double *feat = harness_dalloc(N * (size_t)C), *th = harness_dalloc(P), *e = harness_dalloc(P),
           *hv = harness_dalloc(P);
    CHECK(cut->n_params == cv->n_weight + cv->n_bias);
    CHECK_OK(minima_reference_forward(cut, m->theta, d->x, N, feat));
    double sigma[3];
    for (int j = 0; j < C; j++) {
        double mu = 0, var = 0;
        for (size_t i = 0; i < N; i++) mu += feat[i * (size_t)C + (size_t)j];
        mu /= (double)N;
        for (size_t i = 0; i < N; i++) {
            double t = feat[i * (size_t)C + (size_t)j] - mu;
            var += t * t;
        }
        sigma[j] = sqrt(var / (double)N);
        CHECK(sigma[j] > 0);
    }
    memcpy(th, m->theta, P * sizeof *th);
    for (int ch = 0; ch < C; ch++) {
        for (size_t t = 0; t < 9; t++) th[cv->weight_offset + (size_t)ch * 9 + t] /= sigma[ch];
        th[cv->bias_offset + (size_t)ch] /= sigma[ch];
        for (int s = 0; s < dK; s++) th[lin->weight_offset + (size_t)s * (size_t)C + (size_t)ch] *= sigma[ch];
    }
    /* the measure, at theta and at the standardised point */
    double v0 = harness_measure(net, "relative_flatness", NULL, 1, NULL);
    CHECK_OK(minima_net_set_point(net, th));
    double v1 = harness_measure(net, "relative_flatness", NULL, 1, NULL);
    CHECK_REL(v1, v0, 1e-10);
    /* Tr(H'_{s,s'}) = sum_j H'[(s,j), (s',j)] */
    double tr[2][2] = {{0, 0}, {0, 0}};
    for (int s2 = 0; s2 < dK; s2++)
        for (int j = 0; j < C; j++) {
            size_t col = lin->weight_offset + (size_t)s2 * (size_t)C + (size_t)j;
            memset(e, 0, P * sizeof *e);
            e[col] = 1;
            CHECK_OK(minima_net_hvp(net, e, hv));
            for (int s = 0; s < dK; s++) tr[s][s2] += hv[lin->weight_offset + (size_t)s * (size_t)C + (size_t)j];
        }
    double kappa = 0;
    const double *W = th + lin->weight_offset;
    for (int s = 0; s < dK; s++)
        for (int s2 = 0; s2 < dK; s2++) {
            double dot = 0;
            for (int j = 0; j < C; j++) dot += W[s * C + j] * W[s2 * C + j];
            kappa += dot * tr[s][s2];
        }
    CHECK_MSG(kappa > 0, "kappa %g", kappa);
    CHECK_REL(v0, kappa, 1e-10);
    free(feat);
    free(th);
    free(e);
    free(hv);
done:
    minima_net_free(net);
    minima_dataset_free(d);
    minima_model_free(cut);
    minima_model_free(m);
}

static void test_relative_flatness_hessian(void)
{
    check_rf_hessian(MINIMA_LOSS_CE);
    check_rf_hessian(MINIMA_LOSS_MSE);
}

/* The output node must be linear; features computed from the data alone are
 * not standardised. */
static void test_relative_flatness_refusals(void)
{
    const char *bad[] = {"1x4x4:conv2k3,relu,flatten,3,relu", "1x4x4:conv2k3,flatten"};
    const char *kinds[] = {"relu", "flatten"};
    for (int k = 0; k < 2; k++) {
        harness_current = bad[k];
        minima_model *m = harness_graph_model(bad[k], 31);
        minima_dataset *d = m ? harness_graph_data(m, 6, 32) : NULL;
        minima_net *net = d ? harness_net(m, d, MINIMA_LOSS_CE) : NULL;
        if (net) {
            minima_measure_result r;
            CHECK_STATUS(minima_measure_compute(minima_measure_find("relative_flatness"), net, NULL,
                                                1, &r), MINIMA_EUNSUPPORTED);
            CHECK_MSG(strstr(minima_last_error(), kinds[k]) && strstr(minima_last_error(), "linear"),
                      "message: %s", minima_last_error());
            /* the two others compute */
            CHECK(isfinite(harness_measure(net, "path_norm", NULL, 1, NULL)));
            CHECK(isfinite(harness_measure(net, "fisher_rao", NULL, 1, NULL)));
        }
        minima_net_free(net);
        minima_dataset_free(d);
        minima_model_free(m);
    }
    /* pooled inputs: the value does not depend on a per-feature scale of
     * the data being undone; a note says they are not standardised */
    minima_model *m = harness_graph_model("1x4x4:avgpool2,flatten,3", 33);
    minima_dataset *d = m ? harness_graph_data(m, 10, 34) : NULL;
    minima_net *net = d ? harness_net(m, d, MINIMA_LOSS_CE) : NULL;
    if (net) {
        minima_measure_result r;
        double v = harness_measure(net, "relative_flatness", NULL, 1, &r);
        double raw = harness_measure(net, "relative_flatness", "standardize=0", 1, NULL);
        CHECK(isfinite(v) && v > 0 && strstr(r.note, "not standardised"));
        CHECK_REL(v, raw, 1e-15);
    }
    minima_net_free(net);
    minima_dataset_free(d);
    minima_model_free(m);
}

/* ---- fisher_rao: the output form on graphs ------------------------------ */

static void check_output_form(minima_model *m, minima_loss loss, int expect_equal, const char *why)
{
    minima_dataset *d = m ? harness_graph_data(m, 12, 41) : NULL;
    minima_net *net = d ? harness_net(m, d, loss) : NULL;
    if (net) {
        minima_measure_result r;
        double v = harness_measure(net, "fisher_rao", NULL, 1, &r);
        double of = harness_extra(&r, "fr_output_form");
        CHECK(isfinite(v) && v > 0);
        if (expect_equal) {
            CHECK_REL(of, v, 1e-10);
            CHECK(!r.note[0]);
        } else {
            CHECK(isnan(of));
            CHECK_MSG(strstr(r.note, why), "note '%s' lacks '%s'", r.note, why);
        }
    }
    minima_net_free(net);
    minima_dataset_free(d);
}

static void test_fisher_rao_output_form(void)
{
    /* bias-free CNNs, homogeneous of degree 3 */
    const char *cnn = "1x6x6:conv3k3p1,relu,maxpool2,conv4k2,lrelu0.1,flatten,5";
    harness_current = cnn;
    minima_model *m = harness_graph_model_bias(cnn, 0, 42);
    check_output_form(m, MINIMA_LOSS_CE, 1, NULL);
    check_output_form(m, MINIMA_LOSS_MSE, 1, NULL);
    minima_model_free(m);
    m = harness_graph_model_bias(HARNESS_ARCH_STRIDED, 0, 43);
    check_output_form(m, MINIMA_LOSS_CE, 1, NULL);
    minima_model_free(m);
    /* with biases: NaN */
    m = harness_graph_model(cnn, 44);
    check_output_form(m, MINIMA_LOSS_CE, 0, "has a bias");
    minima_model_free(m);
    /* residual blocks: the skip crosses no layer, the body two */
    harness_current = HARNESS_ARCH_RESNET;
    m = harness_graph_model_bias(HARNESS_ARCH_RESNET, 0, 45);
    check_output_form(m, MINIMA_LOSS_CE, 0, "joins branches that cross 1..1 and 3..3");
    minima_model_free(m);
    /* tanh */
    m = harness_graph_model_bias("1x6x6:conv3k3p1,tanh,flatten,4", 0, 46);
    check_output_form(m, MINIMA_LOSS_CE, 0, "not homogeneous");
    minima_model_free(m);
    /* two branches of equal depth joined by an add: homogeneous of degree 2 */
    harness_current = "two branches";
    minima_node nd[8];
    nd[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    nd[0].shape = (minima_shape){3, 2, 5, 5};
    nd[1] = minima_node_make(MINIMA_NODE_CONV2D, 0);
    nd[1].out = 3;
    nd[1].kernel[0] = nd[1].kernel[1] = 3;
    nd[1].padding[0] = nd[1].padding[1] = 1;
    nd[2] = minima_node_make(MINIMA_NODE_CONV2D, 0);
    nd[2].out = 3;
    nd[3] = minima_node_make(MINIMA_NODE_ADD, 1);
    nd[3].inputs[1] = 2;
    nd[4] = minima_node_make(MINIMA_NODE_RELU, 3);
    nd[5] = minima_node_make(MINIMA_NODE_AVGPOOL2D, 4);
    nd[5].kernel[0] = nd[5].kernel[1] = 2;
    nd[5].stride[0] = nd[5].stride[1] = 2;
    nd[6] = minima_node_make(MINIMA_NODE_FLATTEN, 5);
    nd[7] = minima_node_make(MINIMA_NODE_LINEAR, 6);
    nd[7].out = 4;
    for (int i = 1; i < 8; i++) nd[i].has_bias = 0;
    m = NULL;
    CHECK_OK(minima_model_create_graph(&m, 8, nd));
    if (m) {
        minima_model_init(m, 47);
        check_output_form(m, MINIMA_LOSS_CE, 1, NULL);
        /* the same with conv 2 replaced by the identity (a skip): depths 1 and 0 */
        minima_model_free(m);
        m = NULL;
        nd[0].shape = (minima_shape){3, 3, 5, 5};
        nd[2] = minima_node_make(MINIMA_NODE_IDENTITY, 0);
        CHECK_OK(minima_model_create_graph(&m, 8, nd));
        if (m) {
            minima_model_init(m, 48);
            check_output_form(m, MINIMA_LOSS_CE, 0, "joins branches that cross 1..1 and 0..0");
        }
    }
    minima_model_free(m);
}

/* The value against its definition (1/N) sum_i <w, grad l_i>^2, each
 * gradient from a net over example i alone; MSE on class labels uses one-hot
 * targets, as the engine does. */
static void test_fisher_rao_per_example(void)
{
    const char *arch = "1x5x5:conv2k3p1,relu,avgpool2,flatten,3";
    harness_current = arch;
    minima_model *m = harness_graph_model(arch, 51);
    minima_dataset *d = m ? harness_graph_data(m, 7, 52) : NULL;
    if (!d) goto done;
    size_t P = m->n_params, d_in = minima_model_n_inputs(m);
    double *grad = harness_dalloc(P);
    for (int l = 0; l < 2; l++) {
        minima_loss loss = l ? MINIMA_LOSS_MSE : MINIMA_LOSS_CE;
        minima_net *net = harness_net(m, d, loss);
        double v = net ? harness_measure(net, "fisher_rao", NULL, 1, NULL) : NAN;
        minima_net_free(net);
        double want = 0;
        for (size_t i = 0; i < d->n; i++) {
            minima_dataset *one = NULL;
            CHECK_OK(minima_dataset_create(&one, 1, (int)d_in, d->n_classes, 0));
            if (!one) continue;
            memcpy(one->x, d->x + i * d_in, d_in * sizeof *one->x);
            one->labels[0] = d->labels[i];
            minima_net *n1 = harness_net(m, one, loss);
            double li;
            if (n1) CHECK_OK(minima_net_gradient(n1, NULL, &li, grad));
            double dot = 0;
            for (size_t p = 0; p < P; p++) dot += m->theta[p] * grad[p];
            want += dot * dot;
            minima_net_free(n1);
            minima_dataset_free(one);
        }
        want /= (double)d->n;
        CHECK_REL(v, want, 1e-11);
    }
    free(grad);
done:
    minima_dataset_free(d);
    minima_model_free(m);
}

int main(void)
{
    RUN(test_invariance);
    RUN(test_mlp_as_graph);
    RUN(test_path_norm_enumeration);
    RUN(test_relative_flatness_hessian);
    RUN(test_relative_flatness_refusals);
    RUN(test_fisher_rao_output_form);
    RUN(test_fisher_rao_per_example);
    return harness_report();
}
