/* test_dist.c — the engine's results do not depend on how the examples are
 * shared among MPI ranks (minima/dist.h).
 *
 * Plain (ctest): the single-process contract of dist.h (one rank, the whole
 * range as the block, sums and gathers that change nothing, agreement that
 * returns the local status), then every engine result computed once.
 *
 * `test_dist OUT.txt` writes every engine result (loss, accuracy, gradient
 * at the anchor and at another point, Hessian-, Gauss-Newton- and Jacobian-
 * vector products, the outputs, a slice of the per-example Jacobian, block
 * products, block Lanczos) as numbers, one per line. tests/cli_mpi.sh runs
 * it plain and under `mpirun -np 2` and `-np 3` and compares the files to
 * 1e-12: the paths the command line does not reach (the per-example
 * Jacobian with a range that crosses blocks, block products) are checked
 * under MPI too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/dist.h"
#include "minima/eigen.h"
#include "minima/net.h"
#include "minima/rng.h"
#include "minima/synthetic.h"

static void put(FILE *f, const double *x, size_t n)
{
    if (!f) return;
    for (size_t i = 0; i < n; i++) fprintf(f, "%.17g\n", x[i]);
}

static void engine_results(FILE *f)
{
    minima_model *m = NULL;
    minima_dataset *x = NULL;
    const int widths[] = {2, 16, 16, 4};
    CHECK_OK(minima_model_create(&m, 3, widths, 1, MINIMA_ACT_RELU));
    minima_model_init(m, 7);
    CHECK_OK(minima_synthetic_load("blobs:301", 3, &x));
    minima_net_params np = minima_net_default_params(m);
    np.batch_size = 40;   /* several batches per rank, the last one ragged */
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, x, &np));
    size_t P = m->n_params, N = x->n, dK = 4;
    double *v = malloc(3 * P * sizeof *v), *out = malloc(3 * P * sizeof *out);
    double *big = malloc(N * dK * P * sizeof *big);
    minima_rng rng;
    minima_rng_seed(&rng, 11);
    minima_rng_fill_normal(&rng, v, 3 * P);
    double loss, acc;
    CHECK_OK(minima_net_loss(net, NULL, &loss, &acc));
    put(f, &loss, 1);
    put(f, &acc, 1);
    CHECK_OK(minima_net_gradient(net, NULL, &loss, out));   /* from the cache */
    put(f, &loss, 1);
    put(f, out, P);
    double *theta = malloc(P * sizeof *theta);
    for (size_t i = 0; i < P; i++) theta[i] = m->theta[i] + 0.01 * v[i];
    CHECK_OK(minima_net_gradient(net, theta, &loss, out));  /* a full pass elsewhere */
    put(f, &loss, 1);
    put(f, out, P);
    CHECK_OK(minima_net_hvp(net, v, out));
    put(f, out, P);
    CHECK_OK(minima_net_ggnvp(net, v, out));
    put(f, out, P);
    CHECK_OK(minima_net_jvp(net, v, big));
    put(f, big, N * dK);
    CHECK_OK(minima_net_outputs(net, theta, big));
    put(f, big, N * dK);
    CHECK_OK(minima_net_output_jacobian(net, 95, 120, big));   /* crosses every block edge */
    put(f, big, 120 * dK * P);
    CHECK_OK(minima_net_hvp_block(net, 3, v, out));
    put(f, out, 3 * P);
    CHECK_OK(minima_net_ggnvp_block(net, 3, v, out));
    put(f, out, 3 * P);
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_hessian(&op, net));
    minima_eigs_params ep = minima_eigs_default_params();
    ep.k_top = 3;
    ep.tol = 1e-10;
    minima_eigs_result r;
    memset(&r, 0, sizeof r);
    CHECK_OK(minima_eigs_block(op, 2, &ep, &r));
    put(f, r.top, (size_t)r.n_top);
    CHECK(r.n_top == 3);
    minima_eigs_result_free(&r);
    minima_linop_free(op);
    free(v); free(out); free(big); free(theta);
    minima_net_free(net);
    minima_dataset_free(x);
    minima_model_free(m);
}

static void single_process_contract(void)
{
    CHECK(minima_dist_size() == 1);
    CHECK(minima_dist_rank() == 0);
    CHECK(!minima_dist_active());
    CHECK(minima_dist_writer());
    size_t lo = 9, hi = 9;
    minima_dist_block(301, &lo, &hi);
    CHECK(lo == 0 && hi == 301);
    double x[3] = {1, 2, 3};
    CHECK_OK(minima_dist_sum(x, 3));
    CHECK(x[0] == 1 && x[1] == 2 && x[2] == 3);
    CHECK_OK(minima_dist_gather_rows(x, 0, 3, 1, 3));
    CHECK(x[2] == 3);
    CHECK(minima_dist_agree(MINIMA_ESHAPE) == MINIMA_ESHAPE);
    CHECK(minima_dist_agree(MINIMA_OK) == MINIMA_OK);
    CHECK(minima_dist_min_int(5) == 5);
}

int main(int argc, char **argv)
{
    if (minima_dist_init(&argc, &argv, 0) != MINIMA_OK) {
        fprintf(stderr, "test_dist: %s\n", minima_last_error());
        return 1;
    }
    if (argc > 1) {
        FILE *f = minima_dist_writer() ? fopen(argv[1], "w") : NULL;
        if (minima_dist_writer() && !f) {
            perror(argv[1]);
            minima_dist_abort(1);
        }
        engine_results(f);
        if (f) fclose(f);
        minima_dist_finalize();
        return harness_failures ? 1 : 0;
    }
    single_process_contract();
    engine_results(NULL);
    return harness_report();
}
