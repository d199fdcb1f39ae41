/* test_net_graph.c — the engine on graphs: residual connections, flatten,
 * convolutions and pooling, against finite differences and the exact
 * identities a Hessian must satisfy; bad graphs refused by name.
 *
 * The kinds themselves are tested one by one (test_layer_*.c); here they
 * are composed, and what is checked is the engine's bookkeeping: signals
 * summed over a node's readers, values kept or recomputed, batches, the
 * float32 path. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/layer.h"
#include "harness.h"
#include "minima/alloc.h"
#include "minima/data.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/rng.h"

typedef struct {
    const char *name;
    int n;
    minima_node nodes[24];
} graph_spec;

static minima_node node(minima_node_kind kind, int input)
{
    return minima_node_make(kind, input);
}

static minima_node lin(int input, int out)
{
    minima_node n = node(MINIMA_NODE_LINEAR, input);
    n.out = out;
    return n;
}

static minima_node conv(int input, int out, int k, int s, int p, int d, int g)
{
    minima_node n = node(MINIMA_NODE_CONV2D, input);
    n.out = out;
    n.kernel[0] = n.kernel[1] = k;
    n.stride[0] = n.stride[1] = s;
    n.padding[0] = n.padding[1] = p;
    n.dilation[0] = n.dilation[1] = d;
    n.groups = g;
    return n;
}

static minima_node pool(minima_node_kind kind, int input, int k, int s)
{
    minima_node n = node(kind, input);
    n.kernel[0] = n.kernel[1] = k;
    n.stride[0] = n.stride[1] = s;
    return n;
}

static minima_node add(int a, int b)
{
    minima_node n = node(MINIMA_NODE_ADD, a);
    n.inputs[1] = b;
    return n;
}

static minima_node input(int rank, int c, int h, int w)
{
    minima_node n = node(MINIMA_NODE_INPUT, -1);
    n.shape = (minima_shape){rank, c, h, w};
    return n;
}

/* The graphs. act is the activation of every nonlinearity. */
static graph_spec residual_mlp(minima_node_kind act)
{
    graph_spec g = {"residual mlp", 0, {{0}}};
    minima_node *n = g.nodes;
    n[0] = input(1, 6, 1, 1);
    n[1] = lin(0, 5);            /* 0 */
    n[2] = node(act, 1);
    n[3] = lin(2, 5);            /* residual body */
    n[4] = node(act, 3);
    n[5] = lin(4, 5);
    n[6] = add(2, 5);            /* x + body(x): node 2 has two readers */
    n[7] = node(act, 6);
    n[8] = lin(7, 3);
    g.n = 9;
    return g;
}

static graph_spec small_cnn(minima_node_kind act)
{
    graph_spec g = {"conv, maxpool, flatten", 0, {{0}}};
    minima_node *n = g.nodes;
    n[0] = input(3, 2, 7, 6);
    n[1] = conv(0, 4, 3, 1, 1, 1, 1);
    n[2] = node(act, 1);
    n[3] = pool(MINIMA_NODE_MAXPOOL2D, 2, 2, 2);
    n[4] = conv(3, 4, 2, 1, 0, 1, 2);      /* grouped */
    n[5] = node(act, 4);
    n[6] = node(MINIMA_NODE_FLATTEN, 5);
    n[7] = lin(6, 3);
    g.n = 8;
    return g;
}

static graph_spec resnet(minima_node_kind act)
{
    graph_spec g = {"residual cnn, avgpool, gap", 0, {{0}}};
    minima_node *n = g.nodes;
    n[0] = input(3, 2, 6, 6);
    n[1] = conv(0, 3, 3, 1, 1, 1, 1);
    n[2] = node(act, 1);
    n[3] = conv(2, 3, 3, 1, 2, 2, 1);      /* dilated, same size */
    n[4] = node(act, 3);
    n[5] = conv(4, 3, 3, 1, 1, 1, 3);      /* depthwise */
    n[6] = add(2, 5);
    n[7] = node(act, 6);
    n[8] = pool(MINIMA_NODE_AVGPOOL2D, 7, 2, 2);
    n[9] = conv(8, 4, 3, 2, 1, 1, 1);      /* strided */
    n[10] = node(act, 9);
    n[11] = node(MINIMA_NODE_GLOBAL_AVGPOOL, 10);
    n[12] = lin(11, 3);
    g.n = 13;
    return g;
}

/* Every kind a graph uses is built into the engine. */
static int built_in(const graph_spec *g)
{
    for (int i = 1; i < g->n; i++)
        CHECK_MSG(layer_kind_of(g->nodes[i].kind) != NULL, "'%s': kind %s is not built in",
                  g->name, minima_node_kind_name(g->nodes[i].kind));
    for (int i = 1; i < g->n; i++)
        if (!layer_kind_of(g->nodes[i].kind)) return 0;
    return 1;
}

typedef struct {
    minima_model *m;
    minima_dataset *d;
} problem;

static problem make_problem(const graph_spec *g, size_t n_examples, minima_loss loss,
                            uint64_t seed)
{
    problem p = {NULL, NULL};
    CHECK_OK(minima_model_create_graph(&p.m, g->n, g->nodes));
    if (!p.m) return p;
    minima_model_init(p.m, seed);
    minima_rng r;
    minima_rng_seed(&r, seed + 1);
    /* Biases away from zero so that few pre-activations sit near a kink. */
    for (int i = 1; i < p.m->n_nodes; i++)
        for (size_t j = 0; j < p.m->nodes[i].n_bias; j++)
            p.m->theta[p.m->nodes[i].bias_offset + j] += 0.1 * (double)((j % 3) + 1);
    p.m->loss = loss;
    size_t d_in = minima_model_n_inputs(p.m);
    int classes = minima_model_n_outputs(p.m);
    CHECK_OK(minima_dataset_create(&p.d, n_examples, (int)d_in, classes, 0));
    minima_rng_fill_uniform(&r, p.d->x, n_examples * d_in, -1, 1);
    for (size_t i = 0; i < n_examples; i++) p.d->labels[i] = (int)(i % (size_t)classes);
    return p;
}

static void free_problem(problem *p)
{
    minima_model_free(p->m);
    minima_dataset_free(p->d);
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Finite-difference checks on a smooth (tanh) version of a graph, and the
 * exact identities on the rectified one. */
static void check_graph(const graph_spec *smooth, const graph_spec *rect)
{
    if (!built_in(smooth)) return;
    for (int loss = 0; loss < 2; loss++) {
        problem p = make_problem(smooth, 11, (minima_loss)loss, 7);
        if (!p.m) return;
        size_t P = p.m->n_params;
        minima_net_params np = minima_net_default_params(p.m);
        np.batch_size = 4;
        minima_net *net = NULL;
        CHECK_OK(minima_net_create(&net, p.m, p.d, &np));
        double *g = malloc(P * sizeof *g), *v = malloc(P * sizeof *v), *hv = malloc(P * sizeof *hv),
               *tp = malloc(P * sizeof *tp), *gp = malloc(P * sizeof *gp),
               *gm = malloc(P * sizeof *gm);
        minima_rng r;
        minima_rng_seed(&r, 3);
        minima_rng_fill_normal(&r, v, P);
        double L;
        CHECK_OK(minima_net_gradient(net, NULL, &L, g));
        /* gradient along v against a central difference of the loss */
        double h = 1e-5, lp, lm;
        for (size_t i = 0; i < P; i++) tp[i] = p.m->theta[i] + h * v[i];
        CHECK_OK(minima_net_loss(net, tp, &lp, NULL));
        for (size_t i = 0; i < P; i++) tp[i] = p.m->theta[i] - h * v[i];
        CHECK_OK(minima_net_loss(net, tp, &lm, NULL));
        CHECK_REL(dot(g, v, P), (lp - lm) / (2 * h), 1e-6);
        /* H v against a central difference of gradients */
        CHECK_OK(minima_net_hvp(net, v, hv));
        for (size_t i = 0; i < P; i++) tp[i] = p.m->theta[i] + h * v[i];
        CHECK_OK(minima_net_gradient(net, tp, NULL, gp));
        for (size_t i = 0; i < P; i++) tp[i] = p.m->theta[i] - h * v[i];
        CHECK_OK(minima_net_gradient(net, tp, NULL, gm));
        for (size_t i = 0; i < P; i++) gp[i] = (gp[i] - gm[i]) / (2 * h);
        double rel = harness_vec_reldiff(hv, gp, P, 1e-8);
        CHECK_MSG(rel < 1e-6, "%s (%s): H v vs differences of gradients: %g", smooth->name,
                  loss ? "mse" : "ce", rel);
        free(g); free(v); free(hv); free(tp); free(gp); free(gm);
        minima_net_free(net);
        free_problem(&p);
    }

    if (!built_in(rect)) return;
    problem p = make_problem(rect, 13, MINIMA_LOSS_CE, 11);
    if (!p.m) return;
    size_t P = p.m->n_params;
    double *u = malloc(P * sizeof *u), *v = malloc(P * sizeof *v), *hu = malloc(P * sizeof *hu),
           *hv = malloc(P * sizeof *hv), *a = malloc(P * sizeof *a), *b = malloc(P * sizeof *b);
    minima_rng r;
    minima_rng_seed(&r, 5);
    minima_rng_fill_normal(&r, u, P);
    minima_rng_fill_normal(&r, v, P);
    minima_net_params np = minima_net_default_params(p.m);
    np.batch_size = 5;
    minima_net *net = NULL, *nocache = NULL, *onebatch = NULL, *f32 = NULL;
    CHECK_OK(minima_net_create(&net, p.m, p.d, &np));
    np.cache_limit = 0;
    CHECK_OK(minima_net_create(&nocache, p.m, p.d, &np));
    np.batch_size = 0;
    np.cache_limit = (size_t)1 << 30;
    CHECK_OK(minima_net_create(&onebatch, p.m, p.d, &np));
    np.float32 = 1;
    CHECK_OK(minima_net_create(&f32, p.m, p.d, &np));
    CHECK(minima_net_cache_enabled(net) && !minima_net_cache_enabled(nocache));

    /* symmetry: u . H v = v . H u */
    CHECK_OK(minima_net_hvp(net, u, hu));   /* H u */
    CHECK_OK(minima_net_hvp(net, v, hv));   /* H v */
    CHECK_REL(dot(u, hv, P), dot(v, hu, P), 1e-12);
    /* cached and recomputed: the same numbers, bit for bit */
    CHECK_OK(minima_net_hvp(nocache, u, a));
    CHECK(memcmp(a, hu, P * sizeof *a) == 0);
    CHECK_OK(minima_net_ggnvp(net, u, a));
    CHECK_OK(minima_net_ggnvp(nocache, u, b));
    CHECK(memcmp(a, b, P * sizeof *a) == 0);
    /* Gauss-Newton: symmetric and positive semi-definite along u */
    CHECK(dot(u, a, P) >= -1e-14 * sqrt(dot(a, a, P) * dot(u, u, P)));
    CHECK_OK(minima_net_ggnvp(net, v, b));
    CHECK_REL(dot(u, b, P), dot(v, a, P), 1e-12);
    /* the anchor's gradient from the cache and from a pass */
    CHECK_OK(minima_net_gradient(net, NULL, NULL, a));
    CHECK_OK(minima_net_gradient(net, p.m->theta, NULL, b));
    CHECK(harness_vec_reldiff(a, b, P, 1e-300) < 1e-14);
    /* batches do not change the result beyond rounding */
    CHECK_OK(minima_net_hvp(onebatch, u, a));
    CHECK(harness_vec_reldiff(a, hu, P, 1e-300) < 1e-12);
    /* float32 products within float32 accuracy */
    CHECK_OK(minima_net_hvp(f32, u, a));
    double rel32 = harness_vec_reldiff(a, hu, P, 1e-300);
    CHECK_MSG(rel32 < 1e-4, "%s: float32 H v off by %g", rect->name, rel32);
    /* J v against a central difference of outputs */
    size_t no = p.d->n * (size_t)minima_model_n_outputs(p.m);
    double *jv = malloc(no * sizeof *jv), *op = malloc(no * sizeof *op),
           *om = malloc(no * sizeof *om), *tp = malloc(P * sizeof *tp);
    CHECK_OK(minima_net_jvp(net, u, jv));
    double h = 1e-6;
    for (size_t i = 0; i < P; i++) tp[i] = p.m->theta[i] + h * u[i];
    CHECK_OK(minima_net_outputs(net, tp, op));
    for (size_t i = 0; i < P; i++) tp[i] = p.m->theta[i] - h * u[i];
    CHECK_OK(minima_net_outputs(net, tp, om));
    for (size_t i = 0; i < no; i++) op[i] = (op[i] - om[i]) / (2 * h);
    CHECK_MSG(harness_vec_reldiff(jv, op, no, 1e-8) < 1e-6, "%s: J v vs differences: %g",
              rect->name, harness_vec_reldiff(jv, op, no, 1e-8));
    /* the dense Hessian against products, and symmetric */
    if (P <= 400) {
        double *H = malloc(P * P * sizeof *H);
        CHECK_OK(minima_net_hessian(net, H));
        for (size_t i = 0; i < P; i++) {
            double s = 0;
            for (size_t j = 0; j < P; j++) s += H[i * P + j] * u[j];
            a[i] = s;
        }
        CHECK(harness_vec_reldiff(a, hu, P, 1e-300) < 1e-12);
        free(H);
    }
    free(jv); free(op); free(om); free(tp);
    free(u); free(v); free(hu); free(hv); free(a); free(b);
    minima_net_free(net);
    minima_net_free(nocache);
    minima_net_free(onebatch);
    minima_net_free(f32);
    free_problem(&p);
}

static void test_residual_mlp(void)
{
    graph_spec s = residual_mlp(MINIMA_NODE_TANH), r = residual_mlp(MINIMA_NODE_RELU);
    check_graph(&s, &r);
    /* A residual graph is not an MLP: the layer view is absent. */
    minima_model *m = NULL;
    CHECK_OK(minima_model_create_graph(&m, r.n, r.nodes));
    CHECK(m && !m->is_mlp && m->n_layers == 0 && !m->widths);
    CHECK_STATUS(minima_model_require_mlp(m, "rescaling"), MINIMA_EUNSUPPORTED);
    CHECK(strstr(minima_last_error(), "add") != NULL);
    minima_model_free(m);
}

static void test_small_cnn(void)
{
    graph_spec s = small_cnn(MINIMA_NODE_TANH), r = small_cnn(MINIMA_NODE_RELU);
    check_graph(&s, &r);
}

static void test_resnet(void)
{
    graph_spec s = resnet(MINIMA_NODE_TANH), r = resnet(MINIMA_NODE_LEAKY_RELU);
    for (int i = 1; i < r.n; i++) r.nodes[i].slope = 0.1;
    check_graph(&s, &r);
}

/* An MLP built as a graph is the MLP minima_model_create makes. */
static void test_mlp_graph_is_mlp(void)
{
    int widths[] = {4, 3, 2};
    minima_model *a = NULL, *b = NULL;
    CHECK_OK(minima_model_create(&a, 2, widths, 1, MINIMA_ACT_TANH));
    minima_node n[4] = {input(1, 4, 1, 1), lin(0, 3), node(MINIMA_NODE_TANH, 1), lin(2, 2)};
    CHECK_OK(minima_model_create_graph(&b, 4, n));
    CHECK(a && b && a->is_mlp && b->is_mlp && b->activation == MINIMA_ACT_TANH);
    CHECK(a->n_params == b->n_params && b->n_layers == 2 && b->widths[0] == 4 && b->widths[2] == 2);
    CHECK(b->weight_offset[1] == a->weight_offset[1] && b->bias_offset[1] == a->bias_offset[1]);
    /* the activation changes through the graph */
    CHECK_OK(minima_model_set_activation(a, MINIMA_ACT_LEAKY_RELU, 0.2));
    CHECK(a->nodes[2].kind == MINIMA_NODE_LEAKY_RELU && a->nodes[2].slope == 0.2);
    CHECK_OK(minima_model_check_activation(a));
    a->activation = MINIMA_ACT_RELU;   /* written behind the graph's back */
    CHECK_STATUS(minima_model_check_activation(a), MINIMA_EINVAL);
    minima_dataset *d = NULL;
    CHECK_OK(minima_dataset_create(&d, 3, 4, 2, 0));
    minima_net *net = NULL;
    CHECK_STATUS(minima_net_create(&net, a, d, NULL), MINIMA_EINVAL);
    minima_dataset_free(d);
    minima_model_free(a);
    minima_model_free(b);
}

/* Bad graphs: refused with the node named. */
static void expect_refused(int n, const minima_node *nodes, minima_status want, const char *needle)
{
    minima_model *m = NULL;
    CHECK_STATUS(minima_model_create_graph(&m, n, nodes), want);
    CHECK(m == NULL);
    CHECK_MSG(strstr(minima_last_error(), needle) != NULL, "message '%s' lacks '%s'",
              minima_last_error(), needle);
}

static void test_bad_graphs(void)
{
    minima_node a[4] = {input(1, 4, 1, 1), lin(0, 3), lin(1, 2), add(1, 2)};
    expect_refused(4, a, MINIMA_ESHAPE, "node 3 (add)");          /* 3 + 2 */
    minima_node b[3] = {input(3, 1, 4, 4), lin(0, 3), lin(1, 2)};
    expect_refused(3, b, MINIMA_ESHAPE, "node 1 (linear)");       /* image into linear */
    minima_node c[3] = {input(1, 4, 1, 1), lin(2, 3), lin(1, 2)};
    expect_refused(3, c, MINIMA_EINVAL, "node 1 (linear)");       /* reads a later node */
    minima_node d[4] = {input(1, 4, 1, 1), lin(0, 3), lin(0, 3), lin(2, 2)};
    expect_refused(4, d, MINIMA_EINVAL, "node 1 (linear)");       /* nobody reads it */
    minima_node e[2] = {input(1, 4, 1, 1), node(MINIMA_NODE_RELU, 0)};
    expect_refused(2, e, MINIMA_EINVAL, "no parameters");
    {
        minima_node f[3] = {input(3, 1, 4, 4), conv(0, 2, 3, 0, 0, 1, 1),
                            node(MINIMA_NODE_FLATTEN, 1)};
        expect_refused(3, f, MINIMA_EINVAL, "node 1 (conv2d)");   /* stride 0 */
    }
    {
        minima_node f[4] = {input(3, 1, 4, 4), conv(0, 2, 3, 1, 0, 1, 1),
                            pool(MINIMA_NODE_MAXPOOL2D, 1, 3, 3), node(MINIMA_NODE_FLATTEN, 2)};
        expect_refused(4, f, MINIMA_ESHAPE, "node 2 (maxpool2d)"); /* 3x3 pool of a 2x2 map */
    }
    /* the output must be flat */
    {
        minima_node g[2] = {input(3, 1, 4, 4), conv(0, 2, 3, 1, 0, 1, 1)};
        minima_model *m = NULL;
        CHECK_OK(minima_model_create_graph(&m, 2, g));
        minima_dataset *ds = NULL;
        CHECK_OK(minima_dataset_create(&ds, 2, 16, 8, 0));
        minima_net *net = NULL;
        CHECK_STATUS(minima_net_create(&net, m, ds, NULL), MINIMA_ESHAPE);
        CHECK(strstr(minima_last_error(), "flat") != NULL);
        minima_dataset_free(ds);
        minima_model_free(m);
    }
}

int main(void)
{
    RUN(test_mlp_graph_is_mlp);
    RUN(test_residual_mlp);
    RUN(test_small_cnn);
    RUN(test_resnet);
    RUN(test_bad_graphs);
    return harness_report();
}
