/* bench_net.c — cost of the engine's passes on a 784-512-512-10 ReLU network
 * with biases over 10 000 examples, float64, against the machine's own
 * measured GEMM rate.
 *
 *   build/bench_net [--data fashion-mnist] [--n 10000] [--reps 5]
 *
 * Prints, for 1 and 2 BLAS threads: the DGEMM rate of a representative
 * shape, seconds and GFLOP/s of loss+gradient, of one Hessian-vector
 * product with the cache warm, of one Gauss-Newton product, and the ratio
 * HVP/gradient. Times are medians of --reps runs after one warm-up. Flops
 * count the GEMMs only (2 m n k each). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "minima/net.h"
#include "minima/rng.h"

char *openblas_get_corename(void);
void openblas_set_num_threads(int n);

/* GEMM flops of each pass, from the architecture (docs/engine.md). */
static void pass_flops(const minima_model *m, double n, double *grad, double *hvp, double *ggn)
{
    double f = 0, h = 0, g = 0;
    for (int k = 1; k <= m->n_layers; k++) {
        double mn = 2.0 * n * m->widths[k] * m->widths[k - 1];
        int first = k == 1;
        f += mn + mn + (first ? 0 : mn);                 /* forward, dW, G_{k-1} */
        h += mn * (first ? 1 : 2)                        /* R{Z_k} */
           + mn * (first ? 1 : 2)                        /* (Hv)_W: R{G}^T A + G^T R{A} */
           + (first ? 0 : 2 * mn);                       /* R{G_{k-1}} */
        g += mn * (first ? 1 : 2) + mn + (first ? 0 : mn);
    }
    *grad = f;
    *hvp = h;
    *ggn = g;
}

static double gemm_rate(int reps)
{
    /* The dominant GEMM of the passes: (10000 x 784) x (784 x 512). */
    int M = 10000, K = 784, N = 512;
    double *a = malloc(sizeof(double) * (size_t)M * K), *b = malloc(sizeof(double) * (size_t)K * N),
           *c = malloc(sizeof(double) * (size_t)M * N);
    minima_rng rng;
    minima_rng_seed(&rng, 1);
    minima_rng_fill_normal(&rng, a, (size_t)M * K);
    minima_rng_fill_normal(&rng, b, (size_t)K * N);
    double t[32];
    for (int r = -1; r < reps; r++) {
        double t0 = bench_now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0, a, K, b, K, 0.0, c, N);
        if (r >= 0) t[r] = bench_now() - t0;
    }
    free(a); free(b); free(c);
    return 2.0 * M * N * K / bench_median(t, reps) / 1e9;
}

int main(int argc, char **argv)
{
    const char *source = NULL;
    size_t n = 10000;
    int reps = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) source = argv[++i];
        else if (!strcmp(argv[i], "--n") && i + 1 < argc) n = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else { fprintf(stderr, "usage: bench_net [--data SRC] [--n N] [--reps R]\n"); return 2; }
    }
    if (reps < 1 || reps > 31) reps = 5;
    const int widths[] = {784, 512, 512, 10};
    minima_model *m = NULL;
    if (minima_model_create(&m, 3, widths, 1, MINIMA_ACT_RELU) != MINIMA_OK) return 1;
    minima_model_init(m, 1);
    minima_dataset *x = NULL;
    if (source) {
        minima_data_options o = minima_data_default_options();
        o.subset = n;
        if (minima_data_load(source, &o, &x) != MINIMA_OK) {
            fprintf(stderr, "bench_net: %s\n", minima_last_error());
            return 1;
        }
    } else {
        if (minima_dataset_create(&x, n, 784, 10, 0) != MINIMA_OK) return 1;
        minima_rng rng;
        minima_rng_seed(&rng, 2);
        minima_rng_fill_uniform(&rng, x->x, n * 784, 0, 1);
        for (size_t i = 0; i < n; i++) x->labels[i] = (int32_t)minima_rng_below(&rng, 10);
    }
    double fg, fh, fn;
    pass_flops(m, (double)x->n, &fg, &fh, &fn);
    printf("bench_net: 784-512-512-10 ReLU with biases, P = %zu, N = %zu (%s), float64, "
           "OpenBLAS kernels %s, median of %d\n", m->n_params, x->n, source ? source : "random",
           openblas_get_corename(), reps);
    printf("%-8s %10s %22s %22s %22s %10s %10s\n", "threads", "DGEMM", "loss+gradient",
           "HVP (cache warm)", "GGN product", "HVP/grad", "grad/GEMM");
    size_t P = m->n_params;
    double *g = malloc(P * sizeof *g), *v = malloc(P * sizeof *v), *hv = malloc(P * sizeof *hv);
    minima_rng rng;
    minima_rng_seed(&rng, 3);
    minima_rng_fill_normal(&rng, v, P);
    for (int threads = 1; threads <= 2; threads++) {
        openblas_set_num_threads(threads);
        double rate = gemm_rate(reps);
        minima_net *net = NULL;
        if (minima_net_create(&net, m, x, NULL) != MINIMA_OK) {
            fprintf(stderr, "bench_net: %s\n", minima_last_error());
            return 1;
        }
        double tg[32], th[32], tn[32], loss;
        for (int r = -1; r < reps; r++) {
            double t0 = bench_now();
            minima_net_gradient(net, m->theta, &loss, g);   /* explicit theta: a full pass */
            if (r >= 0) tg[r] = bench_now() - t0;
        }
        minima_net_hvp(net, v, hv);                         /* fills the cache */
        for (int r = -1; r < reps; r++) {
            double t0 = bench_now();
            minima_net_hvp(net, v, hv);
            if (r >= 0) th[r] = bench_now() - t0;
        }
        for (int r = -1; r < reps; r++) {
            double t0 = bench_now();
            minima_net_ggnvp(net, v, hv);
            if (r >= 0) tn[r] = bench_now() - t0;
        }
        double sg = bench_median(tg, reps), sh = bench_median(th, reps), sn = bench_median(tn, reps);
        char a[64], b[64], c[64];
        snprintf(a, sizeof a, "%.4fs %6.1f GF/s", sg, fg / sg / 1e9);
        snprintf(b, sizeof b, "%.4fs %6.1f GF/s", sh, fh / sh / 1e9);
        snprintf(c, sizeof c, "%.4fs %6.1f GF/s", sn, fn / sn / 1e9);
        printf("%-8d %5.1f GF/s %22s %22s %22s %10.2f %9.0f%%\n", threads, rate, a, b, c, sh / sg,
               100.0 * (fg / sg / 1e9) / rate);
        minima_net_free(net);
    }
    printf("flops per pass: gradient %.3g, HVP %.3g (ratio %.2f), GGN %.3g\n", fg, fh, fh / fg, fn);
    free(g); free(v); free(hv);
    minima_dataset_free(x);
    minima_model_free(m);
    return 0;
}
