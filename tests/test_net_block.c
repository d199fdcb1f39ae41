/* test_net_block.c — block curvature products (minima_net_hvp_block,
 * minima_net_ggnvp_block) against b single products: on MLPs whose every
 * node runs as a block (linear, relu, leaky_relu, tanh, identity), on graphs
 * whose conv2d, pooling, flatten and add nodes take the per-direction path,
 * with a ragged last batch, without the cache, for b = 1 to 16, both
 * losses; and the refusals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/net.h"
#include "minima/rng.h"

#define MLP_ARCH "12:9,relu,7,tanh,identity,6,lrelu0.1,5"

static minima_net *make_net(const minima_model *m, const minima_dataset *d, minima_loss loss,
                            size_t batch, size_t cache_limit, int f32)
{
    minima_net_params p = minima_net_default_params(m);
    p.loss = loss;
    p.batch_size = batch;
    p.cache_limit = cache_limit;
    p.float32 = f32;
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, d, &p));
    return net;
}

/* Max over rows of the relative difference of the block product and the
 * single products; also checks the product count. */
static double block_vs_single(minima_net *net, size_t nb, int full, uint64_t seed)
{
    size_t P = minima_net_n_params(net);
    double *V = harness_dalloc(nb * P), *HB = harness_dalloc(nb * P), *HS = harness_dalloc(nb * P);
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    minima_rng_fill_normal(&rng, V, nb * P);
    size_t before = minima_net_n_products(net);
    if (full) CHECK_OK(minima_net_hvp_block(net, nb, V, HB));
    else CHECK_OK(minima_net_ggnvp_block(net, nb, V, HB));
    CHECK(minima_net_n_products(net) == before + nb);
    for (size_t j = 0; j < nb; j++) {
        if (full) CHECK_OK(minima_net_hvp(net, V + j * P, HS + j * P));
        else CHECK_OK(minima_net_ggnvp(net, V + j * P, HS + j * P));
    }
    double worst = 0;
    for (size_t j = 0; j < nb; j++) {
        double r = harness_vec_reldiff(HB + j * P, HS + j * P, P, 1e-300);
        if (!(r <= worst)) worst = r;   /* NaN sticks */
    }
    /* The products are not trivially zero. */
    double s = 0;
    for (size_t i = 0; i < nb * P; i++) s += fabs(HS[i]);
    CHECK(s > 0);
    free(V);
    free(HB);
    free(HS);
    return worst;
}

static void check_arch(const char *arch, size_t n, size_t batch, size_t cache_limit,
                       minima_loss loss, const size_t *nbs, int n_nb, uint64_t seed)
{
    harness_current = arch;
    minima_model *m = harness_graph_model(arch, seed);
    minima_dataset *d = m ? harness_graph_data(m, n, seed + 1) : NULL;
    minima_net *net = d ? make_net(m, d, loss, batch, cache_limit, 0) : NULL;
    if (net)
        for (int t = 0; t < n_nb; t++)
            for (int full = 0; full < 2; full++) {
                double r = block_vs_single(net, nbs[t], full, seed + 10 + (uint64_t)t);
                CHECK_MSG(r <= 1e-13, "%s: b = %zu, %s, batch %zu, cache limit %zu: block product "
                          "off by %.3g relative", arch, nbs[t], full ? "Hessian" : "Gauss-Newton",
                          batch, cache_limit, r);
            }
    minima_net_free(net);
    minima_dataset_free(d);
    minima_model_free(m);
}

/* Every node a block kind; 37 examples in batches of 10 (a ragged last
 * batch of 7), both losses, with and without the cache. */
static void test_mlp_blocks(void)
{
    static const size_t nbs[] = {1, 2, 3, 16};
    check_arch(MLP_ARCH, 37, 10, (size_t)1 << 30, MINIMA_LOSS_CE, nbs, 4, 1);
    check_arch(MLP_ARCH, 37, 10, 0, MINIMA_LOSS_CE, nbs, 4, 2);
    check_arch(MLP_ARCH, 37, 10, (size_t)1 << 30, MINIMA_LOSS_MSE, nbs, 4, 3);
    check_arch("10:8,relu,8,relu,3", 23, 0, (size_t)1 << 30, MINIMA_LOSS_CE, nbs, 4, 4);
}

/* conv2d, pooling, flatten, add and global pooling go one direction at a
 * time inside the pass, between block linear and relu nodes. */
static void test_graph_fallback(void)
{
    static const size_t nbs[] = {1, 4};
    check_arch(HARNESS_ARCH_LENET, 13, 5, (size_t)1 << 30, MINIMA_LOSS_CE, nbs, 2, 5);
    check_arch(HARNESS_ARCH_STRIDED, 9, 4, 0, MINIMA_LOSS_MSE, nbs, 2, 6);
    check_arch(HARNESS_ARCH_RESNET, 7, 3, (size_t)1 << 30, MINIMA_LOSS_CE, nbs, 2, 7);
    check_arch("4x6x6:conv4k3p1g2,lrelu0.1,maxpool2,res(conv4k1,relu),tanh,flatten,8,identity,"
               "tanh,3", 11, 4, (size_t)1 << 30, MINIMA_LOSS_CE, nbs, 2, 8);
}

/* A float32 net gives its float32 products, bit for bit. */
static void test_float32(void)
{
    minima_model *m = harness_graph_model(MLP_ARCH, 9);
    minima_dataset *d = m ? harness_graph_data(m, 21, 10) : NULL;
    minima_net *net = d ? make_net(m, d, MINIMA_LOSS_CE, 8, (size_t)1 << 30, 1) : NULL;
    if (net) {
        size_t P = minima_net_n_params(net), nb = 3;
        double *V = harness_dalloc(nb * P), *HB = harness_dalloc(nb * P), *HS = harness_dalloc(P);
        for (size_t i = 0; i < nb * P; i++) V[i] = sin((double)i);
        CHECK_OK(minima_net_hvp_block(net, nb, V, HB));
        for (size_t j = 0; j < nb; j++) {
            CHECK_OK(minima_net_hvp(net, V + j * P, HS));
            CHECK(memcmp(HS, HB + j * P, P * sizeof(double)) == 0);
        }
        free(V);
        free(HB);
        free(HS);
    }
    minima_net_free(net);
    minima_dataset_free(d);
    minima_model_free(m);
}

static void test_refusals(void)
{
    minima_model *m = harness_graph_model(MLP_ARCH, 11);
    minima_dataset *d = m ? harness_graph_data(m, 5, 12) : NULL;
    minima_net *net = d ? make_net(m, d, MINIMA_LOSS_CE, 0, (size_t)1 << 30, 0) : NULL;
    if (net) {
        size_t P = minima_net_n_params(net);
        double *V = harness_dalloc(3 * P);
        CHECK_STATUS(minima_net_hvp_block(net, 0, V, V + P), MINIMA_EINVAL);
        CHECK_STATUS(minima_net_hvp_block(net, 2, V, V + P), MINIMA_EINVAL);   /* overlap */
        CHECK_STATUS(minima_net_ggnvp_block(net, 1, NULL, V), MINIMA_EINVAL);
        CHECK_OK(minima_net_hvp_block(net, 1, V, V + P));
        free(V);
    }
    minima_net_free(net);
    minima_dataset_free(d);
    minima_model_free(m);
}

int main(void)
{
    RUN(test_mlp_blocks);
    RUN(test_graph_fallback);
    RUN(test_float32);
    RUN(test_refusals);
    return harness_report();
}
