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

/* The three architectures of tests/test_graph_symmetry.c. */
#define ARCH_LENET "1x12x12:conv4k3p1,relu,maxpool2,conv6k3,relu,maxpool2,flatten,10,relu,5"
#define ARCH_STRIDED "2x11x9:conv6k3s2p1,relu,conv6k3p2d2g3,relu,avgpool2,flatten,7"
#define ARCH_RESNET "2x8x8:conv3k3p1,relu,res(conv3k3p1,relu,conv3k3p1),relu," \
                    "res(conv3k3p1,relu,conv3k3p1),relu,gap,3"
/* A tiny ReLU graph with a conv, a max-pooling and a residual add, small
 * enough for one Hessian product per weight. */
#define ARCH_TINY "1x5x5:conv2k3p1,relu,maxpool2,res(conv2k1,relu),flatten,3"

static const char *const graphs[3] = {ARCH_LENET, ARCH_STRIDED, ARCH_RESNET};

static minima_model *make_model(const char *arch, uint64_t seed)
{
    minima_model *m = NULL;
    CHECK_OK(minima_arch_parse(arch, 1, MINIMA_ACT_RELU, 0.01, &m));
    if (!m) return NULL;
    minima_model_init(m, seed);
    /* Biases away from zero so that few pre-activations sit near a kink. */
    for (int i = 1; i < m->n_nodes; i++)
        for (size_t j = 0; j < m->nodes[i].n_bias; j++)
            m->theta[m->nodes[i].bias_offset + j] += 0.05 * (double)((j % 3) + 1);
    m->loss = MINIMA_LOSS_CE;
    return m;
}

static minima_dataset *make_data(const minima_model *m, size_t n, uint64_t seed)
{
    minima_dataset *d = NULL;
    size_t d_in = minima_model_n_inputs(m);
    int classes = minima_model_n_outputs(m);
    CHECK_OK(minima_dataset_create(&d, n, (int)d_in, classes, 0));
    if (!d) return NULL;
    minima_rng r;
    minima_rng_seed(&r, seed);
    minima_rng_fill_uniform(&r, d->x, n * d_in, -1, 1);
    for (size_t i = 0; i < n; i++) d->labels[i] = (int)(i % (size_t)classes);
    return d;
}

static minima_net *make_net(const minima_model *m, const minima_dataset *d, minima_loss loss)
{
    minima_net_params p = minima_net_default_params(m);
    p.loss = loss;
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, d, &p));
    return net;
}

/* Log-factors spread over two decades: factors in [0.1, 10]. */
static void random_u(double *u, int n, uint64_t seed)
{
    minima_rng r;
    minima_rng_seed(&r, seed);
    for (int k = 0; k < n; k++) u[k] = log(10.0) * (2 * minima_rng_uniform(&r) - 1);
}

static double *dalloc(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

/* The measure `name` on net; NaN (and a failed check) on error. */
static double measure(minima_net *net, const char *name, const char *settings,
                      minima_measure_result *res)
{
    minima_measure_result tmp;
    if (!res) res = &tmp;
    const minima_measure *ms = minima_measure_find(name);
    CHECK_MSG(ms != NULL, "measure %s is not registered", name);
    if (!ms) return NAN;
    minima_status st = minima_measure_compute(ms, net, settings, 1, res);
    CHECK_MSG(st == MINIMA_OK, "%s: %s (%s)", name, minima_strerror(st), minima_last_error());
    return st == MINIMA_OK ? res->value : NAN;
}

static double extra(const minima_measure_result *r, const char *name)
{
    for (int i = 0; i < r->n_extras; i++)
        if (!strcmp(r->extras[i].name, name)) return r->extras[i].value;
    CHECK_MSG(0, "extra %s missing", name);
    return NAN;
}

/* ---- the per-example Jacobian ----------------------------------------- */

static void check_jacobian(const char *arch, uint64_t seed)
{
    harness_current = arch;
    minima_model *m = make_model(arch, seed);
    minima_dataset *d = m ? make_data(m, 37, seed + 1) : NULL;   /* more than one chunk of 32 */
    minima_net *net = d ? make_net(m, d, MINIMA_LOSS_CE) : NULL;
    if (!net) goto done;
    size_t P = m->n_params, N = d->n, K = (size_t)minima_model_n_outputs(m);
    double *jac = dalloc(N * K * P), *v = dalloc(P), *rz = dalloc(N * K);
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
    double *part = dalloc(n * K * P);
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

int main(void)
{
    RUN(test_jacobian);
    return harness_report();
}
