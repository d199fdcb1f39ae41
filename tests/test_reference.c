/* test_reference.c — the plain reference forward pass (minima/reference.h)
 * against the engine (minima/net.h), to 1e-12 relative: MLPs of every
 * activation, with and without biases, at the model's theta and at another
 * point; graphs with add, identity, flatten and mixed activations against
 * the engine run piece by piece; conv2d and pooling against values worked
 * out by hand (PyTorch's semantics). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net_eval_impl.h"
#include "harness.h"
#include "minima/alloc.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/reference.h"
#include "minima/rng.h"

#define TOL 1e-12

static minima_dataset make_data(size_t n, int d, int classes, uint64_t seed)
{
    minima_dataset ds;
    memset(&ds, 0, sizeof ds);
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    ds.n = n;
    ds.d = d;
    ds.x = malloc(n * (size_t)d * sizeof *ds.x);
    ds.labels = malloc(n * sizeof *ds.labels);
    ds.n_classes = classes;
    minima_rng_fill_normal(&rng, ds.x, n * (size_t)d);
    for (size_t i = 0; i < n; i++) ds.labels[i] = (int32_t)minima_rng_below(&rng, (uint64_t)classes);
    ds.name = "test data";
    return ds;
}

/* The engine's outputs and the reference's on the same examples, at the
 * model's theta (theta NULL) or another point. */
static void compare_mlp(const char *arch, int bias, minima_activation act, uint64_t seed)
{
    int *w, K;
    minima_model *m = NULL;
    CHECK_OK(minima_parse_arch(arch, &w, &K));
    CHECK_OK(minima_model_create(&m, K, w, bias, act));
    if (!m) { minima_free(w); return; }
    if (act == MINIMA_ACT_LEAKY_RELU) CHECK_OK(minima_model_set_activation(m, act, 0.1));
    minima_model_init(m, seed);
    size_t N = 37, dK = (size_t)w[K], P = m->n_params;
    minima_dataset ds = make_data(N, w[0], w[K], seed + 1);
    minima_net *net = NULL;
    minima_net_params np = minima_net_default_params(m);
    np.batch_size = 16;   /* several batches, the last one partial */
    CHECK_OK(minima_net_create(&net, m, &ds, &np));
    double *e = malloc(N * dK * sizeof *e), *r = malloc(N * dK * sizeof *r);
    double *theta = malloc(P * sizeof *theta);
    minima_rng rng;
    minima_rng_seed(&rng, seed + 2);
    for (size_t i = 0; i < P; i++) theta[i] = m->theta[i] + 0.3 * minima_rng_normal(&rng);
    for (int at = 0; at < 2 && net; at++) {
        const double *t = at ? theta : NULL;
        CHECK_OK(minima_net_outputs(net, t, e));
        CHECK_OK(minima_reference_forward(m, t, ds.x, N, r));
        double rel = harness_vec_reldiff(r, e, N * dK, 1e-300);
        CHECK_MSG(rel <= TOL, "%s bias=%d %s at %s: reference vs engine differ by %.3g relative",
                  arch, bias, minima_activation_name(act), at ? "theta'" : "theta", rel);
    }
    free(e);
    free(r);
    free(theta);
    free(ds.x);
    free(ds.labels);
    minima_net_free(net);
    minima_model_free(m);
    minima_free(w);
}

static void test_mlps(void)
{
    const char *archs[] = {"4-3", "5-7-3", "6-8-8-4", "3-16-1"};
    minima_activation acts[] = {MINIMA_ACT_RELU, MINIMA_ACT_LEAKY_RELU, MINIMA_ACT_TANH};
    for (int a = 0; a < 4; a++)
        for (int f = 0; f < 3; f++)
            for (int b = 0; b < 2; b++) compare_mlp(archs[a], b, acts[f], (uint64_t)(100 * a + 10 * f + b));
}

/* A one-layer model holding node `nd`'s parameters of m: the engine runs
 * it as a piece of the graph. */
static minima_model *linear_piece(const minima_model *m, int node)
{
    const minima_node *nd = &m->nodes[node];
    int w[2] = {(int)(nd->n_weight / (size_t)nd->out), nd->out};
    minima_model *p = NULL;
    if (minima_model_create(&p, 1, w, nd->n_bias > 0, MINIMA_ACT_RELU) != MINIMA_OK) return NULL;
    memcpy(p->theta, m->theta + nd->weight_offset, nd->n_weight * sizeof(double));
    if (nd->n_bias) memcpy(p->theta + nd->n_weight, m->theta + nd->bias_offset, nd->n_bias * sizeof(double));
    return p;
}

static void engine_linear(const minima_model *m, int node, const double *x, size_t n, double *y)
{
    minima_model *p = linear_piece(m, node);
    CHECK(p != NULL);
    if (p) CHECK_OK(minima_eval_outputs(p, NULL, x, n, y));
    minima_model_free(p);
}

/* input 6 -> linear 5 -> relu -> linear 5 -> add(relu, linear) ->
 * leaky_relu -> identity -> linear 3 -> tanh: not an MLP. */
static void test_graph_residual(void)
{
    minima_node nd[9];
    nd[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    nd[0].shape = (minima_shape){1, 6, 1, 1};
    nd[1] = minima_node_make(MINIMA_NODE_LINEAR, 0);
    nd[1].out = 5;
    nd[2] = minima_node_make(MINIMA_NODE_RELU, 1);
    nd[3] = minima_node_make(MINIMA_NODE_LINEAR, 2);
    nd[3].out = 5;
    nd[3].has_bias = 0;
    nd[4] = minima_node_make(MINIMA_NODE_ADD, 2);
    nd[4].inputs[1] = 3;
    nd[5] = minima_node_make(MINIMA_NODE_LEAKY_RELU, 4);
    nd[5].slope = 0.2;
    nd[6] = minima_node_make(MINIMA_NODE_IDENTITY, 5);
    nd[7] = minima_node_make(MINIMA_NODE_LINEAR, 6);
    nd[7].out = 3;
    nd[8] = minima_node_make(MINIMA_NODE_TANH, 7);
    minima_model *m = NULL;
    CHECK_OK(minima_model_create_graph(&m, 9, nd));
    if (!m) return;
    CHECK(!m->is_mlp);
    minima_model_init(m, 7);
    size_t N = 23;
    minima_dataset ds = make_data(N, 6, 3, 8);
    double *h1 = malloc(N * 5 * sizeof *h1), *h3 = malloc(N * 5 * sizeof *h3);
    double *h7 = malloc(N * 3 * sizeof *h7), *r = malloc(N * 3 * sizeof *r);
    engine_linear(m, 1, ds.x, N, h1);
    for (size_t i = 0; i < N * 5; i++) h1[i] = h1[i] > 0 ? h1[i] : 0.0;            /* relu */
    engine_linear(m, 3, h1, N, h3);
    for (size_t i = 0; i < N * 5; i++) {
        double a = h1[i] + h3[i];                                                    /* add */
        h3[i] = a > 0 ? a : 0.2 * a;                                                 /* leaky */
    }
    engine_linear(m, 7, h3, N, h7);
    for (size_t i = 0; i < N * 3; i++) h7[i] = tanh(h7[i]);
    CHECK_OK(minima_reference_forward(m, NULL, ds.x, N, r));
    double rel = harness_vec_reldiff(r, h7, N * 3, 1e-300);
    CHECK_MSG(rel <= TOL, "residual graph: reference vs engine pieces differ by %.3g", rel);
    free(h1); free(h3); free(h7); free(r);
    free(ds.x); free(ds.labels);
    minima_model_free(m);
}

/* An image input flattened: the values in NCHW order, read as they are. */
static void test_graph_flatten(void)
{
    minima_node nd[3];
    nd[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    nd[0].shape = (minima_shape){3, 2, 2, 3};
    nd[1] = minima_node_make(MINIMA_NODE_FLATTEN, 0);
    nd[2] = minima_node_make(MINIMA_NODE_LINEAR, 1);
    nd[2].out = 4;
    minima_model *m = NULL;
    CHECK_OK(minima_model_create_graph(&m, 3, nd));
    if (!m) return;
    minima_model_init(m, 11);
    size_t N = 9;
    minima_dataset ds = make_data(N, 12, 4, 12);
    double *e = malloc(N * 4 * sizeof *e), *r = malloc(N * 4 * sizeof *r);
    engine_linear(m, 2, ds.x, N, e);
    CHECK_OK(minima_reference_forward(m, NULL, ds.x, N, r));
    double rel = harness_vec_reldiff(r, e, N * 4, 1e-300);
    CHECK_MSG(rel <= TOL, "flatten graph: reference vs engine differ by %.3g", rel);
    free(e); free(r);
    free(ds.x); free(ds.labels);
    minima_model_free(m);
}

/* Kinds this build's graph check may not know yet (conv2d, pooling) are
 * tested on hand-built models: two nodes, shapes and offsets set here. */
static minima_model hand_model(minima_node *nd, double *theta, size_t P)
{
    minima_model m;
    memset(&m, 0, sizeof m);
    m.n_nodes = 2;
    m.nodes = nd;
    m.theta = theta;
    m.n_params = P;
    return m;
}

static void test_conv2d(void)
{
    /* 1 x 3 x 3 input 1..9, kernel 2x2 of ones, stride 2, padding 1, bias
     * 0.5: windows (rows -1..0, cols -1..0) = {1}, (-1..0, 1..2) = {2, 3},
     * (1..2, -1..0) = {4, 7}, (1..2, 1..2) = {5, 6, 8, 9}. */
    minima_node nd[2];
    nd[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    nd[0].shape = (minima_shape){3, 1, 3, 3};
    nd[1] = minima_node_make(MINIMA_NODE_CONV2D, 0);
    nd[1].out = 1;
    nd[1].kernel[0] = nd[1].kernel[1] = 2;
    nd[1].stride[0] = nd[1].stride[1] = 2;
    nd[1].padding[0] = nd[1].padding[1] = 1;
    nd[1].shape = (minima_shape){3, 1, 2, 2};
    nd[1].weight_offset = 0;
    nd[1].n_weight = 4;
    nd[1].bias_offset = 4;
    nd[1].n_bias = 1;
    double theta[5] = {1, 1, 1, 1, 0.5};
    minima_model m = hand_model(nd, theta, 5);
    double x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, y[4];
    CHECK_OK(minima_reference_forward(&m, NULL, x, 1, y));
    double want[4] = {1.5, 5.5, 11.5, 28.5};
    for (int i = 0; i < 4; i++) CHECK_ABS(y[i], want[i], 1e-15);

    /* dilation 2 on a 1 x 3 x 3 input, kernel 2x2: the corners, weights
     * 1, 10, 100, 1000: 1 + 30 + 700 + 9000 */
    nd[1].padding[0] = nd[1].padding[1] = 0;
    nd[1].stride[0] = nd[1].stride[1] = 1;
    nd[1].dilation[0] = nd[1].dilation[1] = 2;
    nd[1].shape = (minima_shape){3, 1, 1, 1};
    double t2[5] = {1, 10, 100, 1000, 0};
    m = hand_model(nd, t2, 5);
    CHECK_OK(minima_reference_forward(&m, NULL, x, 1, y));
    CHECK_ABS(y[0], 9731.0, 1e-12);

    /* groups 2: 2 x 1 x 2 input, 2 outputs, kernel 1x2; weight [2, 1, 1, 2];
     * output o reads only channel o. */
    nd[0].shape = (minima_shape){3, 2, 1, 2};
    nd[1].kernel[0] = 1;
    nd[1].kernel[1] = 2;
    nd[1].dilation[0] = nd[1].dilation[1] = 1;
    nd[1].groups = 2;
    nd[1].out = 2;
    nd[1].shape = (minima_shape){3, 2, 1, 1};
    nd[1].n_weight = 4;
    nd[1].bias_offset = 4;
    nd[1].n_bias = 2;
    double t3[6] = {1, 2, 3, 4, 0.25, -0.25};
    m = hand_model(nd, t3, 6);
    double xg[4] = {1, 10, 100, 1000}, yg[2];
    CHECK_OK(minima_reference_forward(&m, NULL, xg, 1, yg));
    CHECK_ABS(yg[0], 1 * 1 + 2 * 10 + 0.25, 1e-12);
    CHECK_ABS(yg[1], 3 * 100 + 4 * 1000 - 0.25, 1e-12);

    /* A conv whose kernel covers its whole input is a linear layer on the
     * flattened input: against the engine. */
    minima_node cn[2];
    cn[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    cn[0].shape = (minima_shape){3, 2, 3, 2};
    cn[1] = minima_node_make(MINIMA_NODE_CONV2D, 0);
    cn[1].out = 4;
    cn[1].kernel[0] = 3;
    cn[1].kernel[1] = 2;
    cn[1].shape = (minima_shape){3, 4, 1, 1};
    cn[1].n_weight = 4 * 12;
    cn[1].bias_offset = 48;
    cn[1].n_bias = 4;
    int w[2] = {12, 4};
    minima_model *lin = NULL;
    CHECK_OK(minima_model_create(&lin, 1, w, 1, MINIMA_ACT_RELU));
    if (!lin) return;
    minima_model_init(lin, 21);
    m = hand_model(cn, lin->theta, lin->n_params);
    size_t N = 7;
    minima_dataset ds = make_data(N, 12, 4, 22);
    double e[28], r[28];
    CHECK_OK(minima_eval_outputs(lin, NULL, ds.x, N, e));
    CHECK_OK(minima_reference_forward(&m, NULL, ds.x, N, r));
    double rel = harness_vec_reldiff(r, e, N * 4, 1e-300);
    CHECK_MSG(rel <= TOL, "full-kernel conv vs engine linear: %.3g", rel);
    free(ds.x); free(ds.labels);
    minima_model_free(lin);
}

static void test_pooling(void)
{
    /* 1 x 4 x 4 input 1..16 (row by row) */
    double x[16];
    for (int i = 0; i < 16; i++) x[i] = i + 1;
    minima_node nd[2];
    nd[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    nd[0].shape = (minima_shape){3, 1, 4, 4};
    nd[1] = minima_node_make(MINIMA_NODE_MAXPOOL2D, 0);
    nd[1].kernel[0] = nd[1].kernel[1] = 2;
    nd[1].stride[0] = nd[1].stride[1] = 2;
    nd[1].shape = (minima_shape){3, 1, 2, 2};
    double dummy = 0;
    minima_model m = hand_model(nd, &dummy, 0);
    double y[9];
    CHECK_OK(minima_reference_forward(&m, NULL, x, 1, y));
    double want_max[4] = {6, 8, 14, 16};
    for (int i = 0; i < 4; i++) CHECK_ABS(y[i], want_max[i], 0);

    /* maxpool with padding 1: padding never wins, even over negatives */
    double xn[16];
    for (int i = 0; i < 16; i++) xn[i] = -(i + 1);
    nd[1].padding[0] = nd[1].padding[1] = 1;
    nd[1].shape = (minima_shape){3, 1, 3, 3};
    CHECK_OK(minima_reference_forward(&m, NULL, xn, 1, y));
    CHECK_ABS(y[0], -1, 0);      /* window {x(0,0)} */
    CHECK_ABS(y[4], -6, 0);      /* window rows 1..2, cols 1..2 */

    /* a NaN in a window wins, as in PyTorch */
    double xnan[16];
    memcpy(xnan, x, sizeof xnan);
    xnan[5] = NAN;               /* (1, 1): in windows (1,1) of the padded grid only */
    CHECK_OK(minima_reference_forward(&m, NULL, xnan, 1, y));
    CHECK(isnan(y[4]));
    CHECK_ABS(y[5], 12, 0);      /* rows 1..2, col 3: max {8, 12} */

    /* avgpool 2x2 stride 2 padding 1, count_include_pad: divisor 4 */
    nd[1].kind = MINIMA_NODE_AVGPOOL2D;
    CHECK_OK(minima_reference_forward(&m, NULL, x, 1, y));
    CHECK_ABS(y[0], 1.0 / 4, 1e-15);
    CHECK_ABS(y[1], (2 + 3) / 4.0, 1e-15);
    CHECK_ABS(y[4], (6 + 7 + 10 + 11) / 4.0, 1e-15);
    CHECK_ABS(y[8], 16.0 / 4, 1e-15);

    /* global average pool: 2 x 2 x 2 -> the channel means */
    nd[0].shape = (minima_shape){3, 2, 2, 2};
    nd[1] = minima_node_make(MINIMA_NODE_GLOBAL_AVGPOOL, 0);
    nd[1].shape = (minima_shape){1, 2, 1, 1};
    CHECK_OK(minima_reference_forward(&m, NULL, x, 1, y));
    CHECK_ABS(y[0], 2.5, 1e-15);
    CHECK_ABS(y[1], 6.5, 1e-15);
}

static void test_arguments(void)
{
    double x[1] = {0}, y[1];
    CHECK_STATUS(minima_reference_forward(NULL, NULL, x, 1, y), MINIMA_EINVAL);
}

int main(void)
{
    RUN(test_mlps);
    RUN(test_graph_residual);
    RUN(test_graph_flatten);
    RUN(test_conv2d);
    RUN(test_pooling);
    RUN(test_arguments);
    return harness_report();
}
