/* test_graph_symmetry.c — the rescaling group of a graph: its classes are
 * the ones counted by hand, its maps preserve the function (engine and the
 * independent reference forward pass) and transform gradients and Hessians
 * exactly, it agrees with the MLP rescaling on an MLP, tanh fixes channels,
 * and the canonical representative is the unique minimum-norm point of an
 * orbit. */
#include <cjson/cJSON.h>
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
#include "minima/symmetry.h"

/* ---- class counts -------------------------------------------------------- */

static void test_class_counts(void)
{
    minima_gsym *g = NULL;

    /* LeNet: conv4 (4 free), conv6 (6), linear 10 (10), the linear 5 is the
     * output: 4 + 6 + 10 = 20 classes, no add. */
    minima_model *m = harness_graph_model(HARNESS_ARCH_LENET, 1);
    CHECK_OK(minima_gsym_create(m, &g));
    CHECK(g && g->n_classes == 20);
    CHECK(g && g->n_residual_classes == 0 && g->n_fixed_nodes == 0 && g->n_parametric == 4);
    if (g) {
        /* The input is fixed, conv1's channel 2 is class 2, the relu and
         * the maxpool after it share it; flatten feature f of the 6x2x2
         * tensor is channel f / 4 of conv2 (classes 4..9). */
        CHECK(minima_gsym_class(g, 0, 0) == -1);
        CHECK(minima_gsym_class(g, 1, 2) == 2);
        CHECK(minima_gsym_class(g, 2, 2) == 2 && minima_gsym_class(g, 3, 2) == 2);
        int flat = -1, conv2 = -1;
        for (int i = 0; i < m->n_nodes; i++) {
            if (m->nodes[i].kind == MINIMA_NODE_FLATTEN) flat = i;
            if (m->nodes[i].kind == MINIMA_NODE_CONV2D) conv2 = i;
        }
        CHECK(flat > 0 && m->nodes[flat].shape.c == 24);
        for (int f = 0; f < 24 && flat > 0; f++)
            CHECK(minima_gsym_class(g, flat, f) == minima_gsym_class(g, conv2, f / 4));
        CHECK(minima_gsym_class(g, conv2, 0) == 4);
        CHECK(minima_gsym_class(g, m->n_nodes - 1, 0) == -1);   /* logits */
        CHECK(minima_gsym_class(g, m->n_nodes - 1, 5) == -2);   /* out of range */
        CHECK(minima_gsym_class(g, m->n_nodes, 0) == -2);
    }
    minima_gsym_free(g);
    minima_model_free(m);

    /* Strided / dilated / grouped with avgpool: conv6 + conv6 = 12. */
    m = harness_graph_model(HARNESS_ARCH_STRIDED, 2);
    CHECK_OK(minima_gsym_create(m, &g));
    CHECK(g && g->n_classes == 12 && g->n_residual_classes == 0 && g->n_parametric == 3);
    minima_gsym_free(g);
    minima_model_free(m);

    /* Two-block residual net. The stem conv's 3 channels are the residual
     * stream: each block's second conv writes into it through the add, so
     * stem, both second convs and both adds share 3 classes. Each block's
     * first conv adds 3 of its own: 3 + 3 + 3 = 9 classes, 3 of them
     * across adds; 6 parametric nodes (stem, 4 body convs, the output). */
    m = harness_graph_model(HARNESS_ARCH_RESNET, 3);
    CHECK_OK(minima_gsym_create(m, &g));
    CHECK(g && g->n_classes == 9 && g->n_residual_classes == 3 && g->n_parametric == 6);
    if (g) {
        int convs[5], nc = 0, adds[2], na = 0;
        for (int i = 0; i < m->n_nodes; i++) {
            if (m->nodes[i].kind == MINIMA_NODE_CONV2D && nc < 5) convs[nc++] = i;
            if (m->nodes[i].kind == MINIMA_NODE_ADD && na < 2) adds[na++] = i;
        }
        CHECK(nc == 5 && na == 2);
        for (int c = 0; c < 3 && nc == 5 && na == 2; c++) {
            int s = minima_gsym_class(g, convs[0], c);
            CHECK(s >= 0);
            CHECK(minima_gsym_class(g, convs[2], c) == s);   /* block 1's second conv */
            CHECK(minima_gsym_class(g, convs[4], c) == s);   /* block 2's second conv */
            CHECK(minima_gsym_class(g, adds[0], c) == s && minima_gsym_class(g, adds[1], c) == s);
            CHECK(minima_gsym_class(g, convs[1], c) != s && minima_gsym_class(g, convs[3], c) != s);
        }
        /* (node, channel) pairs in the stream: stem conv, relu, 2 x (second
         * conv, add, relu), gap = 9 nodes of 3 channels. */
        CHECK_MSG(g->n_residual_pairs == 27, "residual pairs %zu", g->n_residual_pairs);
        char line[256];
        minima_gsym_describe(g, m, line, sizeof line);
        CHECK_MSG(strcmp(line, "9 classes (3 across residual adds); no linear/conv2d node fixed")
                  == 0, "describe: '%s'", line);
    }
    minima_gsym_free(g);
    minima_model_free(m);
}

/* ---- the MLP: the classes are the hidden units ----------------------------- */

static void test_mlp_matches_unit_scales(void)
{
    minima_model *m = harness_graph_model("6-5-4-3", 4);
    minima_gsym *g = NULL;
    CHECK_OK(minima_gsym_create(m, &g));
    if (!m || !g) {
        minima_gsym_free(g);
        minima_model_free(m);
        return;
    }
    size_t nu = minima_sym_n_units(m);
    CHECK(nu == 9 && (size_t)g->n_classes == nu);
    /* Unit h of hidden layer k is class (d_1 + ... + d_k) + h. */
    CHECK(minima_gsym_class(g, 1, 4) == 4 && minima_gsym_class(g, 3, 0) == 5);
    double *u = harness_dalloc(nu), *s = harness_dalloc(nu);
    harness_graph_log_factors(u, (int)nu, 11);
    for (size_t k = 0; k < nu; k++) s[k] = exp(u[k]);
    size_t P = m->n_params;
    double *a = harness_dalloc(P), *b = harness_dalloc(P);
    CHECK_OK(minima_gsym_apply(g, m, u, NULL, a));
    minima_sym_apply(m, s, m->theta, b);
    CHECK(harness_vec_reldiff(a, b, P, 1e-300) <= 1e-15);
    /* The diagonal differs from 1 somewhere (the test can fail). */
    CHECK(harness_vec_reldiff(a, m->theta, P, 1e-300) > 1e-3);
    free(u);
    free(s);
    free(a);
    free(b);
    minima_gsym_free(g);
    minima_model_free(m);
}

/* ---- stages and the stage-wise map ---------------------------------------- */

static void test_stages(void)
{
    /* MLP: stage k is hidden layer k+1, and T_alpha and the random points
     * are those of minima/symmetry.h. */
    minima_model *m = harness_graph_model("6-5-4-3", 4);
    minima_gsym *g = NULL;
    CHECK_OK(minima_gsym_create(m, &g));
    if (m && g) {
        CHECK(g->n_stages == 2);
        CHECK(g->stage_of_class[4] == 0 && g->stage_of_class[5] == 1);
        CHECK(g->node_stage[1] == 0 && g->node_stage[3] == 1 && g->node_stage[5] == -1);
        double alpha[3] = {10.0, 0.25, 0.4}, used[3], used2[3];
        double u[9], s[9], s2[9];
        size_t P = m->n_params;
        double *a = harness_dalloc(P), *b = harness_dalloc(P);
        CHECK_OK(minima_gsym_stage_u(g, alpha, 3, 0, 1e-12, u, used));
        CHECK_OK(minima_sym_layer_scales(m, alpha, 3, 0, 1e-12, s, used2));
        for (int k = 0; k < 9; k++) CHECK(fabs(exp(u[k]) - s[k]) <= 1e-14 * s[k]);
        for (int k = 0; k < 3; k++) CHECK(fabs(used[k] - used2[k]) <= 1e-15 * used2[k]);
        CHECK_OK(minima_gsym_apply(g, m, u, NULL, a));
        minima_sym_apply(m, s, m->theta, b);
        CHECK(harness_vec_reldiff(a, b, P, 1e-300) <= 1e-14);
        /* derive_last: two factors suffice, the third is 1/(10 * 0.25) */
        CHECK_OK(minima_gsym_stage_u(g, alpha, 2, 1, 1e-12, u, used));
        CHECK(fabs(used[2] - 0.4) <= 1e-15);
        /* the product must be 1 */
        alpha[2] = 0.41;
        CHECK(minima_gsym_stage_u(g, alpha, 3, 0, 1e-12, u, used) == MINIMA_EINVAL);
        CHECK(minima_gsym_stage_u(g, alpha, 2, 0, 1e-12, u, used) == MINIMA_EINVAL);
        alpha[0] = -1;
        CHECK(minima_gsym_stage_u(g, alpha, 3, 1, 1e-12, u, used) == MINIMA_EINVAL);
        CHECK_OK(minima_gsym_random_u(g, 77, 0.7, NULL, u));
        CHECK_OK(minima_sym_random_scales(m, 77, 0.7, NULL, s2));
        for (int k = 0; k < 9; k++) CHECK(fabs(exp(u[k]) - s2[k]) <= 1e-14 * s2[k]);
        CHECK(minima_gsym_random_u(g, 77, -1, NULL, u) == MINIMA_EINVAL);
        free(a);
        free(b);
    }
    minima_gsym_free(g);
    minima_model_free(m);

    /* The residual net: the stream (stem + both blocks' second convs) is
     * stage 0, each block's first conv its own stage. */
    m = harness_graph_model(HARNESS_ARCH_RESNET, 5);
    g = NULL;
    CHECK_OK(minima_gsym_create(m, &g));
    if (m && g) {
        CHECK(g->n_stages == 3);
        int convs[5], nc = 0;
        for (int i = 0; i < m->n_nodes; i++)
            if (m->nodes[i].kind == MINIMA_NODE_CONV2D && nc < 5) convs[nc++] = i;
        CHECK(nc == 5);
        CHECK(g->node_stage[convs[0]] == 0 && g->node_stage[convs[2]] == 0 &&
              g->node_stage[convs[4]] == 0);
        CHECK(g->node_stage[convs[1]] == 1 && g->node_stage[convs[3]] == 2);
        CHECK(g->node_stage[m->n_nodes - 1] == -1);
        /* T_alpha keeps the function: outputs by the reference pass */
        double alpha[4] = {1e3, 1e-2, 10.0, 1e-2};
        double u[9];
        CHECK_OK(minima_gsym_stage_u(g, alpha, 4, 0, 1e-12, u, NULL));
        CHECK(fabs(u[g->class_of[g->channel_offset[convs[1]]]] - log(10.0)) <= 1e-13);
        minima_model *moved = NULL;
        CHECK_OK(minima_model_copy(m, &moved));
        minima_dataset *d = harness_graph_data(m, 6, 3);
        if (moved && d) {
            CHECK_OK(minima_gsym_apply(g, m, u, NULL, moved->theta));
            int dK = minima_model_n_outputs(m);
            double *y0 = harness_dalloc(6 * (size_t)dK), *y1 = harness_dalloc(6 * (size_t)dK);
            CHECK_OK(minima_reference_forward(m, NULL, d->x, 6, y0));
            CHECK_OK(minima_reference_forward(moved, NULL, d->x, 6, y1));
            CHECK(harness_vec_reldiff(y1, y0, 6 * (size_t)dK, 1e-300) <= 1e-12);
            free(y0);
            free(y1);
        }
        minima_dataset_free(d);
        minima_model_free(moved);
    }
    minima_gsym_free(g);
    minima_model_free(m);

    /* LeNet: three stages (conv4, conv6 with the flatten, linear 10) */
    m = harness_graph_model(HARNESS_ARCH_LENET, 6);
    g = NULL;
    CHECK_OK(minima_gsym_create(m, &g));
    if (g) CHECK(g->n_stages == 3);
    minima_gsym_free(g);
    minima_model_free(m);
}

/* ---- the identities ------------------------------------------------------------ */

static void check_identities(const char *arch, uint64_t seed)
{
    harness_current = arch;
    minima_model *m = harness_graph_model(arch, seed);
    minima_dataset *d = m ? harness_graph_data(m, 12, seed + 100) : NULL;
    minima_gsym *g = NULL;
    if (m) CHECK_OK(minima_gsym_create(m, &g));
    minima_net *net = NULL;
    if (m && d) CHECK_OK(minima_net_create(&net, m, d, NULL));
    if (!m || !d || !g || !net) goto done;

    size_t P = m->n_params, N = d->n, K = (size_t)minima_model_n_outputs(m);
    int n = g->n_classes;
    double *u = harness_dalloc((size_t)n), *D = harness_dalloc(P), *at = harness_dalloc(P);
    double *o1 = harness_dalloc(N * K), *o2 = harness_dalloc(N * K);
    double *g1 = harness_dalloc(P), *g2 = harness_dalloc(P), *v = harness_dalloc(P), *w = harness_dalloc(P);
    double *h1 = harness_dalloc(P), *h2 = harness_dalloc(P);
    for (int trial = 0; trial < 3; trial++) {
        harness_graph_log_factors(u, n, seed * 10 + (uint64_t)trial);
        CHECK_OK(minima_gsym_diag(g, m, u, D));
        for (size_t p = 0; p < P; p++) at[p] = D[p] * m->theta[p];
        CHECK(harness_vec_reldiff(at, m->theta, P, 1e-300) > 1e-2);   /* it moved */

        /* Outputs: the engine. */
        CHECK_OK(minima_net_outputs(net, m->theta, o1));
        CHECK_OK(minima_net_outputs(net, at, o2));
        double r = harness_vec_reldiff(o2, o1, N * K, 1e-300);
        CHECK_MSG(r <= 1e-13, "%s: engine outputs moved by %.3g relative", arch, r);
        /* Outputs: the reference forward pass. */
        CHECK_OK(minima_reference_forward(m, m->theta, d->x, N, o1));
        CHECK_OK(minima_reference_forward(m, at, d->x, N, o2));
        r = harness_vec_reldiff(o2, o1, N * K, 1e-300);
        CHECK_MSG(r <= 1e-13, "%s: reference outputs moved by %.3g relative", arch, r);

        /* grad L(A theta) = A^{-1} grad L(theta). */
        double l1, l2;
        CHECK_OK(minima_net_gradient(net, m->theta, &l1, g1));
        CHECK_OK(minima_net_gradient(net, at, &l2, g2));
        CHECK_REL(l2, l1, 1e-13);
        for (size_t p = 0; p < P; p++) g1[p] /= D[p];
        r = harness_vec_reldiff(g2, g1, P, 1e-300);
        CHECK_MSG(r <= 1e-12, "%s: gradient identity off by %.3g relative", arch, r);

        /* H(A theta) v = A^{-1} H(theta) A^{-1} v. */
        minima_rng rng;
        minima_rng_seed(&rng, seed + 7 + (uint64_t)trial);
        minima_rng_fill_normal(&rng, v, P);
        CHECK_OK(minima_net_set_point(net, at));
        CHECK_OK(minima_net_hvp(net, v, h2));
        for (size_t p = 0; p < P; p++) w[p] = v[p] / D[p];
        CHECK_OK(minima_net_set_point(net, m->theta));
        CHECK_OK(minima_net_hvp(net, w, h1));
        for (size_t p = 0; p < P; p++) h1[p] /= D[p];
        r = harness_vec_reldiff(h2, h1, P, 1e-300);
        CHECK_MSG(r <= 1e-12, "%s: Hessian identity off by %.3g relative", arch, r);
    }
    free(u); free(D); free(at); free(o1); free(o2);
    free(g1); free(g2); free(v); free(w); free(h1); free(h2);
done:
    minima_net_free(net);
    minima_gsym_free(g);
    minima_dataset_free(d);
    minima_model_free(m);
}

static void test_identities(void)
{
    check_identities(HARNESS_ARCH_LENET, 21);
    check_identities(HARNESS_ARCH_STRIDED, 22);
    check_identities(HARNESS_ARCH_RESNET, 23);
    check_identities("6-5-4-3", 24);
    check_identities("4x6x6:conv4k3p1g2,lrelu0.1,maxpool2,res(conv4k1,relu),tanh,flatten,8,"
                     "identity,relu,4", 25);
}

/* ---- tanh fixes its channels ------------------------------------------------ */

static void test_tanh_fixes_channels(void)
{
    /* Nodes: 0 input, 1 linear 5, 2 tanh, 3 linear 6, 4 relu, 5 linear 3.
     * tanh ties node 1's outputs (and its own) to FIXED: only node 3's 6
     * channels are free. */
    minima_model *m = harness_graph_model("4:5,tanh,6,relu,3", 5);
    minima_gsym *g = NULL;
    CHECK_OK(minima_gsym_create(m, &g));
    if (!m || !g) {
        minima_gsym_free(g);
        minima_model_free(m);
        return;
    }
    CHECK(g->n_classes == 6 && g->n_fixed_nodes == 1 && g->node_fixed[1] && !g->node_fixed[3]);
    CHECK(g->node_fixed[5]);                          /* the output node */
    for (int c = 0; c < 5; c++) CHECK(minima_gsym_class(g, 1, c) == -1 && minima_gsym_class(g, 2, c) == -1);
    char line[256];
    minima_gsym_describe(g, m, line, sizeof line);
    CHECK_MSG(strstr(line, "6 classes (0 across residual adds); 1 linear/conv2d node fixed: node 1")
              == line, "describe: '%s'", line);

    /* The group leaves node 1's rows and node 3's columns alone... */
    double u[6] = {0.7, -1.2, 2.0, 0.3, -0.5, 1.1};
    size_t P = m->n_params;
    double *D = harness_dalloc(P);
    CHECK_OK(minima_gsym_diag(g, m, u, D));
    for (size_t p = 0; p < m->nodes[1].n_weight + m->nodes[1].n_bias; p++)
        CHECK(D[m->nodes[1].weight_offset + p] == 1.0);
    /* ...and it must: scaling node 1's unit 0 as if tanh were homogeneous
     * (row 0 and bias 0 of node 1 times 3, column 0 of node 3 times 1/3)
     * changes the outputs. */
    minima_dataset *d = harness_graph_data(m, 8, 9);
    double *x = harness_dalloc(P), *o1 = harness_dalloc(8 * 3), *o2 = harness_dalloc(8 * 3);
    memcpy(x, m->theta, P * sizeof *x);
    for (int j = 0; j < 4; j++) x[m->nodes[1].weight_offset + (size_t)j] *= 3;
    x[m->nodes[1].bias_offset] *= 3;
    for (int o = 0; o < 6; o++) x[m->nodes[3].weight_offset + (size_t)o * 5] /= 3;
    if (d) {
        CHECK_OK(minima_reference_forward(m, m->theta, d->x, 8, o1));
        CHECK_OK(minima_reference_forward(m, x, d->x, 8, o2));
        CHECK(harness_vec_reldiff(o2, o1, 24, 1e-300) > 1e-3);
    }
    free(D); free(x); free(o1); free(o2);
    minima_dataset_free(d);
    minima_gsym_free(g);
    minima_model_free(m);

    /* Through a residual add: tanh reads the stream that the grouped conv
     * and the block's 1x1 conv both write, so both convs are fixed; only the
     * linear 8 is free: 8 classes, 2 fixed nodes, none across an add (the
     * stream is fixed). */
    m = harness_graph_model("4x6x6:conv4k3p1g2,lrelu0.1,maxpool2,res(conv4k1,relu),tanh,flatten,8,"
                   "identity,relu,4", 6);
    g = NULL;
    CHECK_OK(minima_gsym_create(m, &g));
    CHECK(g && g->n_classes == 8 && g->n_fixed_nodes == 2 && g->n_residual_classes == 0);
    minima_gsym_free(g);
    minima_model_free(m);
}

/* ---- the canonical representative ------------------------------------------- */

static double norm2(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i] * x[i];
    return s;
}

static void check_canonical(const char *arch, uint64_t seed)
{
    harness_current = arch;
    minima_model *m = harness_graph_model(arch, seed);
    minima_gsym *g = NULL;
    if (m) CHECK_OK(minima_gsym_create(m, &g));
    if (!m || !g) {
        minima_gsym_free(g);
        minima_model_free(m);
        return;
    }
    size_t P = m->n_params;
    int n = g->n_classes;
    double *u = harness_dalloc((size_t)n), *u2 = harness_dalloc((size_t)n), *v = harness_dalloc((size_t)n);
    double *tc = harness_dalloc(P), *tc2 = harness_dalloc(P), *orbit = harness_dalloc(P),
           *grad = harness_dalloc((size_t)n);
    minima_gsym_canonical_info info;
    CHECK_OK(minima_gsym_canonical(g, m, NULL, u, tc, &info));
    CHECK(info.n_degenerate == 0);
    CHECK(info.norm_after <= info.norm_before);
    CHECK_REL(info.norm_after, sqrt(norm2(tc, P)), 1e-14);
    /* grad F(u*) = 0 */
    double f;
    CHECK_OK(minima_gsym_norm2(g, m, NULL, u, &f, grad));
    CHECK_REL(f, norm2(tc, P), 1e-13);
    CHECK_MSG(sqrt(norm2(grad, (size_t)n)) <= 1e-12 * f, "%s: ||grad F(u*)|| = %.3g, F = %.3g",
              arch, sqrt(norm2(grad, (size_t)n)), f);
    /* Idempotent: the canonical point of the canonical point is itself. */
    CHECK_OK(minima_gsym_canonical(g, m, tc, u2, tc2, &info));
    CHECK(harness_vec_reldiff(tc2, tc, P, 1e-300) <= 1e-12);
    for (int k = 0; k < n; k++) CHECK(fabs(u2[k]) <= 1e-10);
    /* The same canonical point from several orbit points, each no shorter. */
    for (int trial = 0; trial < 4; trial++) {
        harness_graph_log_factors(v, n, seed * 31 + (uint64_t)trial);
        CHECK_OK(minima_gsym_apply(g, m, v, NULL, orbit));
        CHECK(norm2(tc, P) <= norm2(orbit, P));
        CHECK_OK(minima_gsym_canonical(g, m, orbit, u2, tc2, &info));
        double r = harness_vec_reldiff(tc2, tc, P, 1e-300);
        CHECK_MSG(r <= 1e-10, "%s: canonical points of one orbit differ by %.3g relative", arch, r);
        /* u2 undoes v then applies u: u2 = u - v. */
        for (int k = 0; k < n; k++) CHECK(fabs(u2[k] - (u[k] - v[k])) <= 1e-8);
    }
    free(u); free(u2); free(v); free(tc); free(tc2); free(orbit); free(grad);
    minima_gsym_free(g);
    minima_model_free(m);
}

/* From far out on the orbit: log-factors off by up to 20 (factors up to
 * e^20 ~ 5e8) still reach the same canonical point; off by up to 100 the
 * method gives up cleanly, with a better point than it started from. */
static void test_canonical_far(void)
{
    minima_model *m = harness_graph_model(HARNESS_ARCH_RESNET, 47);
    minima_gsym *g = NULL;
    CHECK_OK(minima_gsym_create(m, &g));
    if (!m || !g) {
        minima_gsym_free(g);
        minima_model_free(m);
        return;
    }
    size_t P = m->n_params;
    int n = g->n_classes;
    double *u = harness_dalloc((size_t)n), *v = harness_dalloc((size_t)n);
    double *tc = harness_dalloc(P), *tc2 = harness_dalloc(P), *orbit = harness_dalloc(P);
    CHECK_OK(minima_gsym_canonical(g, m, NULL, u, tc, NULL));
    minima_gsym_canonical_info info;
    harness_graph_log_factors(v, n, 99);
    for (int k = 0; k < n; k++) v[k] *= 20 / log(10.0);
    CHECK_OK(minima_gsym_apply(g, m, v, NULL, orbit));
    CHECK_OK(minima_gsym_canonical(g, m, orbit, u, tc2, &info));
    CHECK(info.iterations > 10 && info.iterations <= 100);
    CHECK(harness_vec_reldiff(tc2, tc, P, 1e-300) <= 1e-10);
    for (int k = 0; k < n; k++) v[k] *= 5;
    CHECK_OK(minima_gsym_apply(g, m, v, NULL, orbit));
    CHECK_STATUS(minima_gsym_canonical(g, m, orbit, u, tc2, &info), MINIMA_ENOCONV);
    CHECK(info.iterations == 100 && info.norm_after < 1e-3 * info.norm_before);
    CHECK_REL(info.norm_after, sqrt(norm2(tc2, P)), 1e-12);
    free(u); free(v); free(tc); free(tc2); free(orbit);
    minima_gsym_free(g);
    minima_model_free(m);
}

static void test_canonical(void)
{
    check_canonical(HARNESS_ARCH_LENET, 41);
    check_canonical(HARNESS_ARCH_STRIDED, 42);
    check_canonical(HARNESS_ARCH_RESNET, 43);
    check_canonical("6-5-4-3", 44);
}

/* The canonical representative on an MLP agrees with minima_sym's per-neuron
 * group (the same group, another algorithm). */
static void test_canonical_matches_mlp(void)
{
    minima_model *m = harness_graph_model("6-5-4-3", 45);
    minima_gsym *g = NULL;
    CHECK_OK(minima_gsym_create(m, &g));
    if (!m || !g) {
        minima_gsym_free(g);
        minima_model_free(m);
        return;
    }
    size_t P = m->n_params, nu = minima_sym_n_units(m);
    double *u = harness_dalloc(nu), *s = harness_dalloc(nu), *a = harness_dalloc(P), *b = harness_dalloc(P);
    CHECK_OK(minima_gsym_canonical(g, m, NULL, u, a, NULL));
    CHECK_OK(minima_sym_canonical(m, NULL, NULL, s, NULL));
    minima_sym_apply(m, s, m->theta, b);
    double r = harness_vec_reldiff(a, b, P, 1e-300);
    CHECK_MSG(r <= 1e-9, "graph and MLP canonical points differ by %.3g relative", r);
    free(u); free(s); free(a); free(b);
    minima_gsym_free(g);
    minima_model_free(m);
}

/* Degenerate classes are held at u = 0 and the rest still converges. */
static void test_canonical_degenerate(void)
{
    minima_model *m = harness_graph_model("6-5-4-3", 46);
    minima_gsym *g = NULL;
    CHECK_OK(minima_gsym_create(m, &g));
    if (!m || !g) {
        minima_gsym_free(g);
        minima_model_free(m);
        return;
    }
    size_t P = m->n_params;
    int n = g->n_classes;
    const minima_node *l1 = &m->nodes[1], *l2 = &m->nodes[3], *l3 = &m->nodes[5];
    /* Class 0 (unit 0 of layer 1): every parameter zero. Class 6 (unit 1 of
     * layer 2): a dead unit, its outgoing column zero only. */
    for (int j = 0; j < 6; j++) m->theta[l1->weight_offset + (size_t)j] = 0;
    m->theta[l1->bias_offset] = 0;
    for (int o = 0; o < 4; o++) m->theta[l2->weight_offset + (size_t)o * 5] = 0;
    for (int o = 0; o < 3; o++) m->theta[l3->weight_offset + (size_t)o * 4 + 1] = 0;
    double *u = harness_dalloc((size_t)n), *tc = harness_dalloc(P), *grad = harness_dalloc((size_t)n);
    minima_gsym_canonical_info info;
    CHECK_OK(minima_gsym_canonical(g, m, NULL, u, tc, &info));
    CHECK(info.n_degenerate == 2);
    CHECK(u[0] == 0 && u[6] == 0);
    CHECK(info.norm_after < info.norm_before);
    double f;
    CHECK_OK(minima_gsym_norm2(g, m, NULL, u, &f, grad));
    for (int k = 0; k < n; k++)
        if (k != 6) CHECK_MSG(fabs(grad[k]) <= 1e-12 * f, "dF/du_%d = %.3g", k, grad[k]);
    CHECK(grad[6] > 0);      /* it would still decrease towards u_6 -> -infinity */
    /* All parameters zero: every class degenerate, nothing moves. */
    memset(m->theta, 0, P * sizeof *m->theta);
    CHECK_OK(minima_gsym_canonical(g, m, NULL, u, tc, &info));
    CHECK(info.n_degenerate == n && info.norm_after == 0);
    free(u); free(tc); free(grad);
    minima_gsym_free(g);
    minima_model_free(m);
}

/* ---- errors ------------------------------------------------------------------ */

/* ---- info JSON ----------------------------------------------------------- */

/* `minima info --json`: the engine's object plus "symmetry" (last), with
 * the counts worked out in docs/symmetry.md; the other keys untouched. */
static void test_info_json(void)
{
    static const struct { const char *arch; int classes, residual, fixed; } cases[] = {
        {HARNESS_ARCH_RESNET, 9, 3, 0},            /* docs/symmetry.md: 3 + 3 + 3 */
        {"4:5,tanh,6,relu,3", 6, 0, 1},    /* node 1 read by tanh: fixed */
    };
    for (int c = 0; c < 2; c++) {
        minima_model *m = harness_graph_model(cases[c].arch, 3);
        if (!m) continue;
        char *mine = NULL, *base = NULL;
        CHECK_OK(minima_gsym_model_info_json(m, "x.safetensors", &mine));
        CHECK_OK(minima_model_info_json(m, "x.safetensors", &base));
        cJSON *j = mine ? cJSON_Parse(mine) : NULL, *b = base ? cJSON_Parse(base) : NULL;
        CHECK_MSG(j != NULL, "not JSON: %s", mine ? mine : "(null)");
        if (j && b) {
            cJSON *sym = cJSON_GetObjectItemCaseSensitive(j, "symmetry");
            CHECK(cJSON_IsObject(sym));
            CHECK(cJSON_GetArraySize(j) == cJSON_GetArraySize(b) + 1);
            cJSON *n = cJSON_GetObjectItemCaseSensitive(sym, "n_classes");
            cJSON *r = cJSON_GetObjectItemCaseSensitive(sym, "n_residual_classes");
            cJSON *f = cJSON_GetObjectItemCaseSensitive(sym, "n_fixed_nodes");
            cJSON *names = cJSON_GetObjectItemCaseSensitive(sym, "fixed_nodes");
            CHECK_MSG(cJSON_IsNumber(n) && n->valueint == cases[c].classes, "%s: n_classes", cases[c].arch);
            CHECK_MSG(cJSON_IsNumber(r) && r->valueint == cases[c].residual, "%s: residual", cases[c].arch);
            CHECK_MSG(cJSON_IsNumber(f) && f->valueint == cases[c].fixed, "%s: fixed", cases[c].arch);
            CHECK(cJSON_IsArray(names) && cJSON_GetArraySize(names) == cases[c].fixed);
            if (cases[c].fixed == 1 && cJSON_GetArraySize(names) == 1) {
                const char *want = m->nodes[1].name;
                cJSON *name0 = cJSON_GetArrayItem(names, 0);
                CHECK_MSG(cJSON_IsString(name0) && want && want[0] && !strcmp(name0->valuestring, want),
                          "fixed node name '%s', expected '%s'",
                          cJSON_IsString(name0) ? name0->valuestring : "?", want ? want : "?");
            }
            /* the last key, and the rest is the engine's object unchanged */
            cJSON *last = j->child;
            while (last && last->next) last = last->next;
            CHECK(last == sym);
            cJSON_DeleteItemFromObjectCaseSensitive(j, "symmetry");
            CHECK(cJSON_Compare(j, b, 1));
        }
        cJSON_Delete(j);
        cJSON_Delete(b);
        minima_free(mine);
        minima_free(base);
        minima_model_free(m);
    }
    char *t = (char *)"untouched";
    CHECK(minima_gsym_model_info_json(NULL, NULL, &t) == MINIMA_EINVAL && t == NULL);
    CHECK(minima_gsym_model_info_json(NULL, NULL, NULL) == MINIMA_EINVAL);
}

static void test_errors(void)
{
    minima_model *m = harness_graph_model(HARNESS_ARCH_RESNET, 51), *mlp = harness_graph_model("6-5-3", 52);
    minima_gsym *g = NULL;
    if (!m || !mlp) goto done;
    double u[16] = {0}, buf[4096];
    CHECK(m->n_params <= 4096);
    CHECK_STATUS(minima_gsym_create(NULL, &g), MINIMA_EINVAL);
    CHECK_STATUS(minima_gsym_create(m, NULL), MINIMA_EINVAL);
    /* A node of a kind the group does not know. */
    minima_node_kind saved = m->nodes[4].kind;
    m->nodes[4].kind = MINIMA_NODE_KIND_COUNT;
    CHECK_STATUS(minima_gsym_create(m, &g), MINIMA_EUNSUPPORTED);
    CHECK(g == NULL);
    CHECK(strstr(minima_last_error(), "node 4") != NULL);
    m->nodes[4].kind = saved;

    CHECK_OK(minima_gsym_create(m, &g));
    if (!g) goto done;
    CHECK_STATUS(minima_gsym_diag(NULL, m, u, buf), MINIMA_EINVAL);
    CHECK_STATUS(minima_gsym_diag(g, NULL, u, buf), MINIMA_EINVAL);
    CHECK_STATUS(minima_gsym_diag(g, m, u, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_gsym_apply(g, m, u, NULL, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_gsym_canonical(g, m, NULL, NULL, NULL, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_gsym_canonical(NULL, m, NULL, u, NULL, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_gsym_norm2(g, m, NULL, NULL, NULL, NULL), MINIMA_EINVAL);
    /* Another model than the group's. */
    CHECK_STATUS(minima_gsym_diag(g, mlp, u, buf), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "made for a model") != NULL);
    CHECK_STATUS(minima_gsym_canonical(g, mlp, NULL, u, NULL, NULL), MINIMA_EINVAL);
    /* Non-finite log-factors; out-of-range factors. */
    u[2] = NAN;
    CHECK_STATUS(minima_gsym_diag(g, m, u, buf), MINIMA_EINVAL);
    u[2] = 1000;
    CHECK_STATUS(minima_gsym_diag(g, m, u, buf), MINIMA_ERANGE);
    u[2] = 0;
    /* NULL u: the identity. */
    CHECK_OK(minima_gsym_diag(g, m, NULL, buf));
    for (size_t p = 0; p < m->n_params; p++) CHECK(buf[p] == 1.0);
    /* Non-finite theta for the canonical representative. */
    m->theta[3] = INFINITY;
    CHECK_STATUS(minima_gsym_canonical(g, m, NULL, u, NULL, NULL), MINIMA_ENONFINITE);
    m->theta[3] = 0.5;
    minima_gsym_free(NULL);
    char line[8];
    minima_gsym_describe(NULL, m, line, sizeof line);
    CHECK(line[0] == '\0');
    minima_gsym_describe(g, m, line, sizeof line);     /* truncated, terminated */
    CHECK(strlen(line) == 7);
done:
    minima_gsym_free(g);
    minima_model_free(m);
    minima_model_free(mlp);
}

static void test_out_of_memory(void)
{
    minima_model *m = harness_graph_model(HARNESS_ARCH_RESNET, 61);
    if (!m) return;
    double u[9];
    for (long k = 0; k < 120; k++) {
        minima_gsym *g = NULL;
        minima_alloc_fail_after(k);
        minima_status s = minima_gsym_create(m, &g);
        if (s == MINIMA_OK) s = minima_gsym_canonical(g, m, NULL, u, NULL, NULL);
        minima_alloc_fail_after(-1);
        CHECK(s == MINIMA_OK || s == MINIMA_ENOMEM);
        minima_gsym_free(g);
    }
    /* the info JSON: ENOMEM with nothing returned, or the whole text */
    int whole = 0;
    for (long k = 0; k < 60; k++) {
        char *json = NULL;
        minima_alloc_fail_after(k);
        minima_status s = minima_gsym_model_info_json(m, NULL, &json);
        minima_alloc_fail_after(-1);
        CHECK_MSG(s == MINIMA_OK || (s == MINIMA_ENOMEM && json == NULL), "fail after %ld: status %d", k, s);
        if (s == MINIMA_OK) {
            cJSON *j = json ? cJSON_Parse(json) : NULL;
            CHECK(j && cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "symmetry")));
            whole += j != NULL;
            cJSON_Delete(j);
        }
        minima_free(json);
    }
    CHECK(whole > 0);
    minima_model_free(m);
}

int main(void)
{
    RUN(test_class_counts);
    RUN(test_mlp_matches_unit_scales);
    RUN(test_stages);
    RUN(test_identities);
    RUN(test_tanh_fixes_channels);
    RUN(test_canonical);
    RUN(test_canonical_far);
    RUN(test_canonical_matches_mlp);
    RUN(test_canonical_degenerate);
    RUN(test_info_json);
    RUN(test_errors);
    RUN(test_out_of_memory);
    return harness_report();
}
