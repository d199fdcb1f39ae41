/* bench_elementwise.c — how much of the engine's passes is element-wise work,
 * and how it scales from 1 to 2 threads, against the scaling of GEMM alone.
 *
 *   build/bench_elementwise [--data fashion-mnist] [--n 5000] [--reps 3]
 *                           [--threads 1,2] [--op all|gemm|grad|first|hvp|hvp32] [--min]
 *
 * On a 784-512-512-10 ReLU network with biases, for each thread count (set
 * with openblas_set_num_threads, which minima's own threads follow):
 * the DGEMM rate of the dominant shape, seconds of loss+gradient (a full
 * pass at an explicit point), of the first HVP (fills the cache), of one
 * HVP with the cache warm in float64 and in float32. Medians of --reps after
 * a warm-up (--min: the fastest of --reps, a steadier figure on a machine
 * shared with other jobs). The last line gives the 2-thread speed-ups. --op runs one kind
 * of pass only, --reps times, for a profiler (perf record -g). */
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

static int use_min;   /* --min: the fastest run instead of the median */

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, bench_cmp_double);
    if (use_min) return t[0];
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static double gemm_seconds(size_t M, int reps)
{
    int K = 784, N = 512;
    double *a = malloc(sizeof(double) * M * K), *b = malloc(sizeof(double) * (size_t)K * N),
           *c = malloc(sizeof(double) * M * N);
    minima_rng rng;
    minima_rng_seed(&rng, 1);
    minima_rng_fill_normal(&rng, a, M * K);
    minima_rng_fill_normal(&rng, b, (size_t)K * N);
    double t[32];
    for (int r = -1; r < reps; r++) {
        double t0 = bench_now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, N, K, 1.0, a, K, b, K, 0.0,
                    c, N);
        if (r >= 0) t[r] = bench_now() - t0;
    }
    free(a); free(b); free(c);
    return median(t, reps);
}

enum { OP_GEMM, OP_GRAD, OP_FIRST, OP_HVP, OP_HVP32, N_OPS };
static const char *op_names[N_OPS] = {"gemm", "grad", "first", "hvp", "hvp32"};

int main(int argc, char **argv)
{
    const char *source = NULL, *only = "all", *tlist = "1,2";
    size_t n = 5000;
    int reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) source = argv[++i];
        else if (!strcmp(argv[i], "--n") && i + 1 < argc) n = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--op") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) tlist = argv[++i];
        else if (!strcmp(argv[i], "--min")) use_min = 1;
        else {
            fprintf(stderr, "usage: bench_elementwise [--data SRC] [--n N] [--reps R] "
                    "[--threads 1,2] [--op all|gemm|grad|first|hvp|hvp32] [--min]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 31) reps = 3;
    int want[N_OPS];
    for (int k = 0; k < N_OPS; k++) want[k] = !strcmp(only, "all") || !strcmp(only, op_names[k]);
    const int widths[] = {784, 512, 512, 10};
    minima_model *m = NULL;
    if (minima_model_create(&m, 3, widths, 1, MINIMA_ACT_RELU) != MINIMA_OK) return 1;
    minima_model_init(m, 1);
    minima_dataset *x = NULL;
    if (source) {
        minima_data_options o = minima_data_default_options();
        o.subset = n;
        if (minima_data_load(source, &o, &x) != MINIMA_OK) {
            fprintf(stderr, "bench_elementwise: %s\n", minima_last_error());
            return 1;
        }
    } else {
        if (minima_dataset_create(&x, n, 784, 10, 0) != MINIMA_OK) return 1;
        minima_rng rng;
        minima_rng_seed(&rng, 2);
        minima_rng_fill_uniform(&rng, x->x, n * 784, 0, 1);
        for (size_t i = 0; i < n; i++) x->labels[i] = (int32_t)minima_rng_below(&rng, 10);
    }
    printf("bench_elementwise: 784-512-512-10 ReLU, P = %zu, N = %zu (%s), OpenBLAS %s, "
           "%s of %d\n", m->n_params, x->n, source ? source : "random",
           openblas_get_corename(), use_min ? "fastest" : "median", reps);
    printf("%-8s %10s %10s %10s %10s %10s\n", "threads", "GEMM", "gradient", "first HVP",
           "HVP f64", "HVP f32");
    size_t P = m->n_params;
    double *g = malloc(P * sizeof *g), *v = malloc(P * sizeof *v), *hv = malloc(P * sizeof *hv);
    minima_rng rng;
    minima_rng_seed(&rng, 3);
    minima_rng_fill_normal(&rng, v, P);
    double sec[2][N_OPS] = {{0}};
    int nt = 0;
    for (const char *p = tlist; *p && nt < 2; nt++) {
        int threads = atoi(p);
        openblas_set_num_threads(threads);
        double *s = sec[nt], t[32];
        if (want[OP_GEMM]) s[OP_GEMM] = gemm_seconds(x->n, reps);
        minima_net *net = NULL, *net32 = NULL;
        minima_net_params p32 = minima_net_default_params(m);
        p32.float32 = 1;
        if (minima_net_create(&net, m, x, NULL) != MINIMA_OK ||
            minima_net_create(&net32, m, x, &p32) != MINIMA_OK) {
            fprintf(stderr, "bench_elementwise: %s\n", minima_last_error());
            return 1;
        }
        double loss;
        if (want[OP_GRAD]) {
            for (int r = -1; r < reps; r++) {
                double t0 = bench_now();
                minima_net_gradient(net, m->theta, &loss, g);
                if (r >= 0) t[r] = bench_now() - t0;
            }
            s[OP_GRAD] = median(t, reps);
        }
        if (want[OP_FIRST]) {
            for (int r = 0; r < reps; r++) {
                minima_net_set_point(net, m->theta);            /* drops the cache */
                double t0 = bench_now();
                minima_net_hvp(net, v, hv);
                t[r] = bench_now() - t0;
            }
            s[OP_FIRST] = median(t, reps);
        }
        if (want[OP_HVP]) {
            minima_net_hvp(net, v, hv);
            for (int r = 0; r < reps; r++) {
                double t0 = bench_now();
                minima_net_hvp(net, v, hv);
                t[r] = bench_now() - t0;
            }
            s[OP_HVP] = median(t, reps);
        }
        if (want[OP_HVP32]) {
            minima_net_hvp(net32, v, hv);
            for (int r = 0; r < reps; r++) {
                double t0 = bench_now();
                minima_net_hvp(net32, v, hv);
                t[r] = bench_now() - t0;
            }
            s[OP_HVP32] = median(t, reps);
        }
        printf("%-8d %9.4fs %9.4fs %9.4fs %9.4fs %9.4fs\n", threads, s[OP_GEMM], s[OP_GRAD],
               s[OP_FIRST], s[OP_HVP], s[OP_HVP32]);
        minima_net_free(net);
        minima_net_free(net32);
        while (*p && *p != ',') p++;
        if (*p == ',') p++;
    }
    if (nt == 2) {
        printf("%-8s", "speed-up");
        for (int k = 0; k < N_OPS; k++)
            printf(" %9.2fx", sec[1][k] > 0 ? sec[0][k] / sec[1][k] : 0.0);
        printf("\n");
    }
    free(g); free(v); free(hv);
    minima_dataset_free(x);
    minima_model_free(m);
    return 0;
}
