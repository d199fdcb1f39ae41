/* bench_dist.c — the cost of a distributed product (docs/distributed.md).
 *
 *   build/bench_dist [--arch 784-512-512-10] [--data fashion-mnist] [--n 60000]
 *                    [--reps 5] [--sizes 670000,10000000] [--allreduce-reps 20]
 *
 * Run it plain or under mpirun; it measures whatever configuration it runs
 * in (ranks x OPENBLAS_NUM_THREADS) and prints one line per quantity, from
 * rank 0:
 *   - the DGEMM rate at the network's dominant shape, on one rank;
 *   - the loss and gradient at an explicit point (a full pass) and the
 *     Hessian-vector product with the cache warm: median seconds over
 *     --reps, every rank's block of the n examples computed in parallel
 *     and summed by one MPI_Allreduce (minima_dist_sum);
 *   - with more than one rank: the time of minima_dist_sum alone on
 *     vectors of each --sizes length (median over --allreduce-reps).
 * bench/dist_scaling.sh runs it as 1 rank x 1 thread, 1 rank x 2 threads
 * and 2 ranks x 1 thread and prints the parallel efficiencies. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "minima/dist.h"
#include "minima/net.h"
#include "minima/rng.h"

char *openblas_get_corename(void);
int openblas_get_num_threads(void);

/* The same wall time on every rank: the slowest rank's. */
static double slowest(double t)
{
    double s = t;
    if (minima_dist_active()) {
        /* a max through the sum: every rank adds its time in its own slot */
        int P = minima_dist_size();
        double *all = calloc((size_t)P, sizeof *all);
        all[minima_dist_rank()] = t;
        minima_dist_sum(all, (size_t)P);
        for (int r = 0; r < P; r++)
            if (all[r] > s) s = all[r];
        free(all);
    }
    return s;
}

static double gemm_rate(int M, int K, int N, int reps)
{
    double *a = malloc(sizeof(double) * (size_t)M * K), *b = malloc(sizeof(double) * (size_t)K * N),
           *c = malloc(sizeof(double) * (size_t)M * N);
    minima_rng rng;
    minima_rng_seed(&rng, 1);
    minima_rng_fill_normal(&rng, a, (size_t)M * K);
    minima_rng_fill_normal(&rng, b, (size_t)K * N);
    double t[64];
    for (int r = -1; r < reps; r++) {
        double t0 = bench_now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0, a, K, b, K, 0.0, c, N);
        if (r >= 0) t[r] = bench_now() - t0;
    }
    free(a); free(b); free(c);
    return 2.0 * M * N * K / bench_median(t, reps) / 1e9;
}

#define SAY(...) do { if (minima_dist_writer()) { printf(__VA_ARGS__); fflush(stdout); } } while (0)

int main(int argc, char **argv)
{
    if (minima_dist_init(&argc, &argv, 0) != MINIMA_OK) {
        fprintf(stderr, "bench_dist: %s\n", minima_last_error());
        return 1;
    }
    const char *arch = "784-512-512-10", *source = "fashion-mnist", *sizes = "670000,10000000";
    size_t n = 60000;
    int reps = 5, areps = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--arch") && i + 1 < argc) arch = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) source = argv[++i];
        else if (!strcmp(argv[i], "--n") && i + 1 < argc) n = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sizes") && i + 1 < argc) sizes = argv[++i];
        else if (!strcmp(argv[i], "--allreduce-reps") && i + 1 < argc) areps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_dist [--arch A] [--data SRC] [--n N] [--reps R] "
                    "[--sizes N,N] [--allreduce-reps R]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 63) reps = 5;
    if (areps < 1 || areps > 63) areps = 20;
    minima_model *m = NULL;
    minima_dataset *x = NULL;
    if (minima_arch_parse(arch, 1, MINIMA_ACT_RELU, 0, &m) != MINIMA_OK) {
        fprintf(stderr, "bench_dist: %s\n", minima_last_error());
        return 2;
    }
    minima_model_init(m, 1);
    minima_data_options o = minima_data_default_options();
    o.subset = n;
    if (minima_data_load(source, &o, &x) != MINIMA_OK) {
        fprintf(stderr, "bench_dist: %s\n", minima_last_error());
        return 1;
    }
    int P = minima_dist_size(), threads = openblas_get_num_threads();
    size_t lo, hi;
    minima_dist_block(x->n, &lo, &hi);
    SAY("bench_dist: %s, %zu parameters, N = %zu (%s); %d rank%s x %d BLAS thread%s "
        "(OpenBLAS %s); block of rank 0: %zu examples\n", arch, m->n_params, x->n, source, P,
        P > 1 ? "s" : "", threads, threads > 1 ? "s" : "", openblas_get_corename(), hi - lo);
    double rate = gemm_rate(1000, (int)minima_model_n_inputs(m), 512, reps);
    SAY("DGEMM (1000 x %zu) x (%zu x 512) on rank 0: %.1f GFLOP/s\n", minima_model_n_inputs(m),
        minima_model_n_inputs(m), rate);

    minima_net *net = NULL;
    if (minima_net_create(&net, m, x, NULL) != MINIMA_OK) {
        fprintf(stderr, "bench_dist: %s\n", minima_last_error());
        return 1;
    }
    size_t Pn = m->n_params;
    double *g = malloc(Pn * sizeof *g), *v = malloc(Pn * sizeof *v), *hv = malloc(Pn * sizeof *hv);
    minima_rng rng;
    minima_rng_seed(&rng, 3);
    minima_rng_fill_normal(&rng, v, Pn);
    double tg[64], th[64], loss, t0 = bench_now();
    minima_net_hvp(net, v, hv);                     /* fills the cache */
    double first = slowest(bench_now() - t0);
    for (int r = 0; r < reps; r++) {
        t0 = bench_now();
        minima_net_gradient(net, m->theta, &loss, g);   /* explicit theta: a full pass */
        tg[r] = slowest(bench_now() - t0);
    }
    for (int r = 0; r < reps; r++) {
        t0 = bench_now();
        minima_net_hvp(net, v, hv);
        th[r] = slowest(bench_now() - t0);
    }
    SAY("first HVP (fills the cache of %.2f GB on rank 0): %.3f s\n",
        (double)minima_net_cache_bytes(net) / 1e9, first);
    SAY("loss+gradient: %.4f s   HVP (cache warm): %.4f s   (median of %d; the slowest rank's "
        "time, allreduce included)\n", bench_median(tg, reps), bench_median(th, reps), reps);
    SAY("RESULT ranks=%d threads=%d grad_s=%.6f hvp_s=%.6f first_s=%.6f gemm_gflops=%.2f\n", P,
        threads, bench_median(tg, reps), bench_median(th, reps), first, rate);
    minima_net_free(net);
    free(g); free(v); free(hv);

    if (minima_dist_active()) {
        for (const char *s = sizes; *s;) {
            size_t len = (size_t)strtoull(s, NULL, 10);
            const char *comma = strchr(s, ',');
            s = comma ? comma + 1 : s + strlen(s);
            if (!len) continue;
            double *buf = malloc(len * sizeof *buf), t[64];
            for (size_t i = 0; i < len; i++) buf[i] = 1e-3 * (double)(i % 1000);
            minima_dist_sum(buf, len);                       /* warm-up */
            for (int r = 0; r < areps; r++) {
                t0 = bench_now();
                minima_dist_sum(buf, len);
                t[r] = slowest(bench_now() - t0);
            }
            double sec = bench_median(t, areps);
            SAY("allreduce of %zu float64 (%.1f MB) over %d ranks: %.5f s median of %d "
                "(%.2f GB/s of vector per rank)\n", len, 8e-6 * (double)len, P, sec, areps,
                8e-9 * (double)len / sec);
            SAY("RESULT allreduce_n=%zu ranks=%d seconds=%.6f\n", len, P, sec);
            free(buf);
        }
    }
    minima_dataset_free(x);
    minima_model_free(m);
    minima_dist_finalize();
    return 0;
}
