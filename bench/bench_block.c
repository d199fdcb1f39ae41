/* bench_block.c — block curvature products and block Lanczos against the
 * single-vector ones, in one invocation (docs/spectrum.md, "Blocks").
 *
 *   build/bench_block products [--n 2000] [--arch 784-512-512-10] [--threads 1] [--reps 3]
 *   build/bench_block eigs [--n 5000] [--arch 784-128-128-10] [--threads 1]
 *                          [--top 20] [--epochs 2] [--blocks 2,4,8] [--basis M]
 *
 * Both train a ReLU network with biases briefly (SGD, --epochs, default 1
 * for products) on the first n Fashion-MNIST training images.
 *   products: seconds per Hessian-vector product with the cache warm, the
 *   single product minima_net_hvp and minima_net_hvp_block with
 *   b = 1, 2, 4, 8, 16 (per vector, and relative to the single one; medians
 *   of --reps; wall clock and this process's CPU time), and the largest relative difference of the block products
 *   from the single ones.
 *   eigs: the top --top eigenvalues of the Hessian to tolerance 1e-8 by
 *   minima_eigs (one vector) and minima_eigs_block for each block size:
 *   products, seconds, restarts, the largest true residual relative to
 *   |lambda| and the largest difference of the eigenvalues from the
 *   single-vector ones. --basis sets max_basis for all (default 0: each
 *   solver's own). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "minima/eigen.h"
#include "minima/linop.h"
#include "minima/net.h"
#include "minima/rng.h"
#include "minima/train.h"

void openblas_set_num_threads(int n);

/* CPU seconds of this process: on a shared machine, with one thread, a
 * steadier measure of the work than the wall clock. */
static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_block: %s: %s\n", what, minima_last_error());
    exit(1);
}

static void products(minima_net *net, int reps)
{
    size_t P = minima_net_n_params(net), maxb = 16;
    double *V = malloc(maxb * P * sizeof *V), *HV = malloc(maxb * P * sizeof *HV),
           *hv = malloc(P * sizeof *hv), t[32], c[32];
    minima_rng rng;
    minima_rng_seed(&rng, 7);
    minima_rng_fill_normal(&rng, V, maxb * P);
    if (minima_net_hvp(net, V, hv) != MINIMA_OK) die("hvp");   /* fills the cache */
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now(), c0 = cpu();
        minima_net_hvp(net, V, hv);
        t[r] = bench_now() - t0;
        c[r] = cpu() - c0;
    }
    double single = bench_median(t, reps), single_cpu = bench_median(c, reps);
    printf("single product        %8.4f s (CPU %.4f s)\n", single, single_cpu);
    static const size_t bs[] = {1, 2, 4, 8, 16};
    for (int k = 0; k < 5; k++) {
        size_t b = bs[k];
        if (minima_net_hvp_block(net, b, V, HV) != MINIMA_OK) die("block");   /* workspaces */
        for (int r = 0; r < reps; r++) {
            double t0 = bench_now(), c0 = cpu();
            minima_net_hvp_block(net, b, V, HV);
            t[r] = bench_now() - t0;
            c[r] = cpu() - c0;
        }
        double per = bench_median(t, reps) / (double)b, per_cpu = bench_median(c, reps) / (double)b;
        double worst = 0, scale = 0;
        for (size_t j = 0; j < b && j < 2; j++) {
            minima_net_hvp(net, V + j * P, hv);
            for (size_t i = 0; i < P; i++) {
                worst = fmax(worst, fabs(hv[i] - HV[j * P + i]));
                scale = fmax(scale, fabs(hv[i]));
            }
        }
        printf("block b = %2zu          %8.4f s per vector  (%.2fx the single; CPU %.4f s, "
               "%.2fx; max rel diff %.1e)\n", b, per, single / per, per_cpu, single_cpu / per_cpu,
               worst / scale);
    }
    free(V);
    free(HV);
    free(hv);
}

static double max_true(const minima_eigs_result *r)
{
    double w = 0;
    for (int i = 0; i < r->n_top; i++) w = fmax(w, r->top_true_residual[i] / fabs(r->top[i]));
    return w;
}

static void eigs(minima_net *net, int top, const char *blocks, size_t basis)
{
    minima_linop *H = NULL;
    if (minima_linop_hessian(&H, net) != MINIMA_OK) die("operator");
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = top;
    p.tol = 1e-8;
    p.max_basis = basis;
    minima_eigs_result r1, rb;
    if (minima_eigs(H, &p, &r1) != MINIMA_OK) die("lanczos");
    printf("single vector: %5zu products %7.2f s  %3zu restarts  max ||Hx-lx||/|l| %.1e  "
           "lambda_1 %.10g  lambda_%d %.10g\n", r1.n_products, r1.seconds, r1.n_restarts,
           max_true(&r1), r1.top[0], top, r1.top[top - 1]);
    for (const char *s = blocks; *s;) {
        size_t b = (size_t)strtoul(s, (char **)&s, 10);
        if (*s == ',') s++;
        if (b < 1) break;
        if (minima_eigs_block(H, b, &p, &rb) != MINIMA_OK) die("block lanczos");
        double dl = 0;
        for (int i = 0; i < top; i++) dl = fmax(dl, fabs(rb.top[i] - r1.top[i]) / fabs(r1.top[i]));
        printf("block b = %2zu:  %5zu products %7.2f s  %3zu restarts  max ||Hx-lx||/|l| %.1e  "
               "max rel diff of lambda %.1e  (time %.2fx the single)\n", b, rb.n_products,
               rb.seconds, rb.n_restarts, max_true(&rb), dl, r1.seconds / rb.seconds);
        minima_eigs_result_free(&rb);
    }
    minima_eigs_result_free(&r1);
    minima_linop_free(H);
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "products") && strcmp(argv[1], "eigs"))) {
        fprintf(stderr, "usage: bench_block products|eigs [--n N] [--arch A] [--threads T] "
                        "[--reps R] [--top K] [--epochs E] [--blocks 2,4,8] [--basis M]\n");
        return 2;
    }
    int prod = !strcmp(argv[1], "products");
    size_t n = prod ? 2000 : 5000;
    const char *arch = prod ? "784-512-512-10" : "784-128-128-10", *blocks = "2,4,8";
    size_t basis = 0;
    int threads = 1, reps = 3, top = 20, epochs = prod ? 1 : 2;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) n = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc) arch = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--top") && i + 1 < argc) top = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--blocks") && i + 1 < argc) blocks = argv[++i];
        else if (!strcmp(argv[i], "--basis") && i + 1 < argc) basis = (size_t)atol(argv[++i]);
        else { fprintf(stderr, "bench_block: unknown option %s\n", argv[i]); return 2; }
    }
    if (reps < 1 || reps > 31) reps = 3;
    openblas_set_num_threads(threads);
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
    tp.epochs = epochs;
    minima_trainer *tr = NULL;
    minima_epoch_stats es;
    if (minima_trainer_alloc(&tr, m, x, NULL, &tp) != MINIMA_OK) die("trainer");
    for (int e = 0; e < epochs; e++)
        if (minima_trainer_epoch(tr, &es) != MINIMA_OK) die("training");
    minima_trainer_free(tr);
    printf("bench_block %s: %s ReLU with biases, P = %zu, N = %zu Fashion-MNIST images, trained "
           "%d epochs (loss %.4f); %d threads\n", argv[1], arch, m->n_params, x->n, epochs,
           es.train_loss, threads);
    minima_net *net = NULL;
    if (minima_net_create(&net, m, x, NULL) != MINIMA_OK) die("net");
    if (prod) products(net, reps);
    else eigs(net, top, blocks, basis);
    minima_net_free(net);
    minima_model_free(m);
    minima_dataset_free(x);
    free(widths);
    return 0;
}
