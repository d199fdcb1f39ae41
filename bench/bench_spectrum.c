/* bench_spectrum.c — minima against a PyTorch reference on the same network,
 * data, weights and thread count, in one invocation.
 *
 *   build/bench_spectrum [--n 10000] [--arch 784-512-512-10] [--threads 2]
 *                        [--reps 5] [--no-torch] [--top 20]
 *
 * Trains a ReLU network with biases briefly (one epoch of SGD) on the first
 * n Fashion-MNIST training images, writes the model and data to a temporary
 * directory, then measures for minima (float64):
 *   seconds per Hessian-vector product (cache warm) and its GFLOP/s against
 *   the DGEMM rate measured here, and the same in float32 with its error; the top eigenvalue by Lanczos to relative
 *   residual 1e-8 (seconds, products, eigenvalue, residual); PyHessian's power
 *   iteration run by minima (same products, for comparison); the trace by
 *   Hutchinson with 100 samples and by Hutch++; the top-k eigenvalues;
 * and runs bench/torch_hessian.py (Debian's python3-torch) in float64 and
 * float32 with OMP_WAIT_POLICY=passive and the same thread count: its
 * seconds per product (double backprop over batches), power iteration to
 * 1e-3, and Hutchinson with 100 samples. Medians of --reps runs. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench_common.h"
#include "minima/alloc.h"
#include "minima/eigen.h"
#include "minima/linop.h"
#include "minima/net.h"
#include "minima/npy.h"
#include "minima/rng.h"
#include "minima/safetensors.h"
#include "minima/trace.h"
#include "minima/train.h"

char *openblas_get_corename(void);
void openblas_set_num_threads(int n);

static void die(const char *what)
{
    fprintf(stderr, "bench_spectrum: %s: %s\n", what, minima_last_error());
    exit(1);
}

static double hvp_flops(const minima_model *m, double n)
{
    double h = 0;
    for (int k = 1; k <= m->n_layers; k++) {
        double mn = 2.0 * n * m->widths[k] * m->widths[k - 1];
        h += k == 1 ? 2 * mn : 6 * mn;
    }
    return h;
}

static double dgemm_rate(void)
{
    int M = 10000, K = 784, N = 512;
    double *a = malloc(sizeof(double) * (size_t)M * K), *b = malloc(sizeof(double) * (size_t)K * N),
           *c = malloc(sizeof(double) * (size_t)M * N), t[5];
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (double)(i % 17) / 17.0;
    for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (double)(i % 13) / 13.0;
    for (int r = -1; r < 5; r++) {
        double t0 = bench_now();
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0, a, K, b, K, 0.0, c, N);
        if (r >= 0) t[r] = bench_now() - t0;
    }
    free(a); free(b); free(c);
    return 2.0 * M * N * K / bench_median(t, 5) / 1e9;
}

static cJSON *run_torch(const char *dir, const char *dtype, int threads, int reps)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "OMP_WAIT_POLICY=passive OMP_NUM_THREADS=%d /usr/bin/python3 %s/torch_hessian.py "
             "%s/model.safetensors %s/x.npy %s/y.npy --threads %d --dtype %s --hvp-reps %d",
             threads, MINIMA_BENCH_DIR, dir, dir, dir, threads, dtype, reps);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    if (pclose(p) != 0) return NULL;
    return cJSON_Parse(buf);
}

static double jnum(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItem(o, a);
    if (b) x = cJSON_GetObjectItem(x, b);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

int main(int argc, char **argv)
{
    size_t n = 10000;
    const char *arch = "784-512-512-10";
    int threads = 2, reps = 5, torch = 1, top = 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) n = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc) arch = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--top") && i + 1 < argc) top = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else {
            fprintf(stderr, "usage: bench_spectrum [--n N] [--arch A] [--threads T] [--reps R] "
                            "[--top K] [--no-torch]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 31) reps = 5;
    openblas_set_num_threads(threads);

    /* data, model, one epoch of SGD */
    minima_data_options o = minima_data_default_options();
    o.subset = n;
    minima_dataset *x = NULL;
    if (minima_data_load("fashion-mnist", &o, &x) != MINIMA_OK) die("loading fashion-mnist");
    int *widths, K;
    if (minima_parse_arch(arch, &widths, &K) != MINIMA_OK) die("--arch");
    minima_model *m = NULL;
    if (minima_model_create(&m, K, widths, 1, MINIMA_ACT_RELU) != MINIMA_OK) die("model");
    minima_model_init(m, 1);
    minima_train_params tp = minima_train_default_params();
    tp.epochs = 1;
    minima_trainer *tr = NULL;
    minima_epoch_stats es;
    if (minima_trainer_alloc(&tr, m, x, NULL, &tp) != MINIMA_OK) die("trainer");
    double t0 = bench_now();
    if (minima_trainer_epoch(tr, &es) != MINIMA_OK) die("training");
    minima_trainer_free(tr);
    printf("bench_spectrum: %s ReLU with biases, P = %zu, N = %zu Fashion-MNIST images, "
           "trained 1 epoch (loss %.4f, %.1f s); %d threads; OpenBLAS kernels %s; medians of %d\n",
           arch, m->n_params, x->n, es.train_loss, bench_now() - t0, threads, openblas_get_corename(), reps);

    char dir[] = "/tmp/minima-bench-XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (minima_model_save(m, path, MINIMA_DTYPE_F64) != MINIMA_OK) die("saving the model");
    size_t shape[2] = {x->n, (size_t)x->d};
    snprintf(path, sizeof path, "%s/x.npy", dir);
    if (minima_npy_write(path, 2, shape, x->x) != MINIMA_OK) die("writing x.npy");
    int64_t *y = malloc(x->n * sizeof *y);
    for (size_t i = 0; i < x->n; i++) y[i] = x->labels[i];
    snprintf(path, sizeof path, "%s/y.npy", dir);
    if (minima_npy_write_int64(path, 1, shape, y) != MINIMA_OK) die("writing y.npy");

    /* minima */
    double rate = dgemm_rate();
    minima_net *net = NULL;
    if (minima_net_create(&net, m, x, NULL) != MINIMA_OK) die("net");
    minima_linop *H = NULL;
    if (minima_linop_hessian(&H, net) != MINIMA_OK) die("operator");
    size_t P = m->n_params;
    double *v = malloc(P * sizeof *v), *hv = malloc(P * sizeof *hv), th[32];
    minima_rng rng;
    minima_rng_seed(&rng, 7);
    minima_rng_fill_normal(&rng, v, P);
    t0 = bench_now();
    minima_net_hvp(net, v, hv);                      /* fills the cache */
    double first = bench_now() - t0;
    for (int r = 0; r < reps; r++) {
        t0 = bench_now();
        minima_net_hvp(net, v, hv);
        th[r] = bench_now() - t0;
    }
    double sec_hvp = bench_median(th, reps);
    double gf = hvp_flops(m, (double)x->n) / sec_hvp / 1e9;
    /* the float32 products */
    minima_net_params p32 = minima_net_default_params(m);
    p32.float32 = 1;
    minima_net *net32 = NULL;
    if (minima_net_create(&net32, m, x, &p32) != MINIMA_OK) die("float32 net");
    double *hv32 = malloc(P * sizeof *hv32);
    minima_net_hvp(net32, v, hv32);
    for (int r = 0; r < reps; r++) {
        t0 = bench_now();
        minima_net_hvp(net32, v, hv32);
        th[r] = bench_now() - t0;
    }
    double sec_hvp32 = bench_median(th, reps), err32 = 0, nrm = 0;
    minima_net_hvp(net, v, hv);
    for (size_t i = 0; i < P; i++) {
        err32 = fmax(err32, fabs(hv32[i] - hv[i]));
        nrm = fmax(nrm, fabs(hv[i]));
    }
    minima_net_free(net32);
    free(hv32);

    minima_eigs_params ep = minima_eigs_default_params();
    ep.tol = 1e-8;
    minima_eigs_result e1;
    if (minima_eigs(H, &ep, &e1) != MINIMA_OK) die("Lanczos top-1");
    minima_power_params pp = minima_power_default_params();
    minima_power_result pr;
    if (minima_power_iteration(H, &pp, &pr, hv) != MINIMA_OK) die("power iteration");
    minima_trace_params tpar = minima_trace_default_params();
    tpar.min_samples = tpar.max_samples = 100;
    tpar.rtol = 0;
    minima_trace_result hutch, hpp;
    if (minima_trace_hutchinson(H, &tpar, &hutch) != MINIMA_OK) die("Hutchinson");
    minima_trace_params tpp = minima_trace_default_params();
    tpp.max_samples = 100;            /* the same probe budget as Hutchinson's */
    if (minima_trace_hutchpp(H, &tpp, &hpp) != MINIMA_OK) die("Hutch++");
    minima_eigs_result ek;
    ep.k_top = top;
    if (minima_eigs(H, &ep, &ek) != MINIMA_OK) die("Lanczos top-k");

    printf("\nDGEMM here: %.1f GFLOP/s (10000x784 by 784x512)\n", rate);
    printf("\n%-34s %14s %14s %14s\n", "", "minima f64", "torch f64", "torch f32");
    cJSON *t64 = torch ? run_torch(dir, "float64", threads, reps) : NULL;
    cJSON *t32 = torch ? run_torch(dir, "float32", threads, reps) : NULL;
    if (torch && (!t64 || !t32))
        fprintf(stderr, "bench_spectrum: the PyTorch reference failed (is python3-torch installed? "
                        "MINIMA_WITH_TORCH=1 make setup)\n");
    printf("%-34s %13.3fs %13.3fs %13.3fs\n", "seconds per HVP", sec_hvp,
           jnum(t64, "seconds_per_hvp", NULL), jnum(t32, "seconds_per_hvp", NULL));
    printf("%-34s %13.3fs %14s %13.3fs\n", "seconds per HVP, minima float32", sec_hvp32, "",
           jnum(t32, "seconds_per_hvp", NULL));
    printf("%-34s %14.2f %14.2f %14.2f   (float32 column: minima float32 vs torch float32)\n",
           "  speed-up of minima", 1.0, jnum(t64, "seconds_per_hvp", NULL) / sec_hvp,
           jnum(t32, "seconds_per_hvp", NULL) / sec_hvp32);
    printf("%-34s %14.2e   (max |Hv32 - Hv64| / max |Hv64|)\n", "  minima float32 error", err32 / nrm);
    printf("%-34s %9.1f GF/s in float32\n", "  minima float32 HVP rate",
           hvp_flops(m, (double)x->n) / sec_hvp32 / 1e9);
    printf("%-34s %9.1f GF/s (%.0f%% of DGEMM; first product with cache fill %.3fs)\n",
           "  minima HVP rate", gf, 100 * gf / rate, first);
    printf("%-34s %13.3fs %13.3fs %13.3fs\n", "top eigenvalue: seconds", e1.seconds,
           jnum(t64, "power", "seconds"), jnum(t32, "power", "seconds"));
    printf("%-34s %14zu %14.0f %14.0f\n", "  products", e1.n_products,
           jnum(t64, "power", "iterations"), jnum(t32, "power", "iterations"));
    printf("%-34s %14.10g %14.10g %14.10g\n", "  eigenvalue", e1.top[0],
           jnum(t64, "power", "eigenvalue"), jnum(t32, "power", "eigenvalue"));
    printf("%-34s %14.2e %14.2e %14.2e\n", "  relative residual",
           e1.top_true_residual[0] / fabs(e1.top[0]), jnum(t64, "power", "relative_residual"),
           jnum(t32, "power", "relative_residual"));
    printf("%-34s %14s %13.3g%% %13.3g%%\n", "  error of power iteration", "-",
           100 * fabs(jnum(t64, "power", "eigenvalue") - e1.top[0]) / e1.top[0],
           100 * fabs(jnum(t32, "power", "eigenvalue") - e1.top[0]) / e1.top[0]);
    printf("%-34s %13.3fs %14s %14s\n", "  power iteration run by minima", pr.seconds, "", "");
    printf("%-34s %14d %14s %14s   (eigenvalue %.10g, error %.3g%%)\n", "    products", pr.iterations,
           "", "", pr.eigenvalue, 100 * fabs(pr.eigenvalue - e1.top[0]) / e1.top[0]);
    printf("%-34s %13.3fs %13.3fs %13.3fs\n", "trace, Hutchinson 100: seconds", hutch.seconds,
           jnum(t64, "trace", "seconds"), jnum(t32, "trace", "seconds"));
    printf("%-34s %14.6g %14.6g %14.6g\n", "  estimate", hutch.estimate,
           jnum(t64, "trace", "estimate"), jnum(t32, "trace", "estimate"));
    printf("%-34s %14.3g %14.3g %14.3g\n", "  standard error", hutch.std_error,
           jnum(t64, "trace", "stderr"), jnum(t32, "trace", "stderr"));
    printf("%-34s %13.3fs  (estimate %.6g +- %.3g, %zu products)\n", "trace, Hutch++ (<= 100 probes)",
           hpp.seconds, hpp.estimate, hpp.std_error, hpp.n_products);
    printf("%-34s %13.3fs  (%zu products, %zu restarts, lambda_%d = %.6g, %s)\n",
           "top eigenvalues by Lanczos", ek.seconds, ek.n_products, ek.n_restarts, ek.n_top,
           ek.n_top ? ek.top[ek.n_top - 1] : NAN, ek.converged ? "converged" : "NOT converged");
    printf("\nfiles: %s\n", dir);
    cJSON_Delete(t64);
    cJSON_Delete(t32);
    minima_eigs_result_free(&e1);
    minima_eigs_result_free(&ek);
    minima_linop_free(H);
    minima_net_free(net);
    free(v); free(hv); free(y);
    minima_free(widths);
    minima_model_free(m);
    minima_dataset_free(x);
    return 0;
}
