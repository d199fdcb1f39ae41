/* bench_scale.c — how the cost and the memory of curvature grow with the
 * network and the data on one machine (docs/performance.md, "Scale").
 *
 *   build/bench_scale [--arch 784-1024-512-10] [--n 60000] [--ns 10000,20000,40000,60000]
 *                     [--widths 256,512,1024] [--top 0] [--epochs 1] [--memory-gb 24]
 *
 * For the network --arch on the first --n Fashion-MNIST training images,
 * trained --epochs epochs of SGD first (a trained network's spectrum, not a
 * random one's, sets the number of Lanczos products), it prints:
 *   - the memory of the curvature cache, of all activations of one pass
 *     (what an autodiff framework holds for one double-backward over the
 *     whole batch), and the process's peak resident size;
 *   - the time of the first product (fills the cache), of a warm one and
 *     of the gradient; lambda_max by Lanczos to residual 1e-8 (time,
 *     products); with --top K > 1 the top-K too;
 * then the time of a warm product for every N in --ns (the same network)
 * and for the hidden widths --widths (784-w-w-10, N = 10000), and the
 * largest N that fits in --memory-gb with the cache and without it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_common.h"
#include "minima/eigen.h"
#include "minima/net.h"
#include "minima/rng.h"
#include "minima/train.h"

char *openblas_get_corename(void);
int openblas_get_num_threads(void);

static double peak_gb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1e6;   /* kB -> GB */
}

static void die(const char *what)
{
    fprintf(stderr, "bench_scale: %s: %s\n", what, minima_last_error());
    exit(1);
}

static minima_model *make_model(const char *arch)
{
    minima_model *m = NULL;
    if (minima_arch_parse(arch, 1, MINIMA_ACT_RELU, 0, &m) != MINIMA_OK) die(arch);
    minima_model_init(m, 1);
    return m;
}

static double warm_product(minima_model *m, minima_dataset *x, size_t n, double *first)
{
    minima_dataset *sub = NULL;
    if (minima_dataset_slice(x, 0, n < x->n ? n : x->n, &sub) != MINIMA_OK) die("slice");
    minima_net *net = NULL;
    if (minima_net_create(&net, m, sub, NULL) != MINIMA_OK) die("net");
    size_t P = m->n_params;
    double *v = malloc(P * sizeof *v), *hv = malloc(P * sizeof *hv);
    minima_rng rng;
    minima_rng_seed(&rng, 3);
    minima_rng_fill_normal(&rng, v, P);
    double t0 = bench_now();
    minima_net_hvp(net, v, hv);
    if (first) *first = bench_now() - t0;
    double best = 1e300;
    for (int r = 0; r < 3; r++) {
        t0 = bench_now();
        minima_net_hvp(net, v, hv);
        double t = bench_now() - t0;
        if (t < best) best = t;
    }
    free(v); free(hv);
    minima_net_free(net);
    minima_dataset_free(sub);
    return best;
}

int main(int argc, char **argv)
{
    const char *arch = "784-1024-512-10", *ns = "10000,20000,40000,60000", *widths = "256,512,1024";
    size_t n = 60000;
    int top = 0, epochs = 1;
    double mem_gb = 24;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--arch") && i + 1 < argc) arch = argv[++i];
        else if (!strcmp(argv[i], "--n") && i + 1 < argc) n = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--ns") && i + 1 < argc) ns = argv[++i];
        else if (!strcmp(argv[i], "--widths") && i + 1 < argc) widths = argv[++i];
        else if (!strcmp(argv[i], "--top") && i + 1 < argc) top = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--memory-gb") && i + 1 < argc) mem_gb = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_scale [--arch A] [--n N] [--ns N,N] [--widths W,W] "
                    "[--top K] [--epochs E] [--memory-gb G]\n");
            return 2;
        }
    }
    minima_dataset *x = NULL;
    minima_data_options o = minima_data_default_options();
    o.subset = n;
    if (minima_data_load("fashion-mnist", &o, &x) != MINIMA_OK) die("fashion-mnist");
    minima_model *m = make_model(arch);
    printf("bench_scale: %s, %zu parameters, N = %zu Fashion-MNIST images, float64, "
           "%d BLAS thread(s), OpenBLAS %s\n", arch, m->n_params, x->n, openblas_get_num_threads(),
           openblas_get_corename());
    if (epochs > 0) {
        minima_train_params tp = minima_train_default_params();
        tp.epochs = epochs;
        tp.batch_size = 128;
        tp.opt.lr = 0.05;
        tp.eval_train = 0;
        minima_trainer *tr = NULL;
        if (minima_trainer_alloc(&tr, m, x, NULL, &tp) != MINIMA_OK) die("trainer");
        double t0 = bench_now();
        while (!minima_trainer_done(tr)) {
            minima_epoch_stats st;
            if (minima_trainer_epoch(tr, &st) != MINIMA_OK) die("training");
        }
        minima_trainer_free(tr);
        printf("trained %d epoch(s) of SGD (batch 128, lr 0.05) in %.1f s\n", epochs, bench_now() - t0);
    }

    minima_net *net = NULL;
    if (minima_net_create(&net, m, x, NULL) != MINIMA_OK) die("net");
    size_t cache = minima_net_cache_bytes(net), act = minima_net_activation_bytes(net);
    double data_gb = 8e-9 * (double)x->n * (double)x->d;
    printf("memory: curvature cache %.2f GB (%.0f bytes per example); activations of one pass "
           "over all N %.2f GB; the features %.2f GB\n", 1e-9 * (double)cache,
           (double)cache / (double)x->n, 1e-9 * (double)act, data_gb);
    size_t P = m->n_params;
    double *v = malloc(P * sizeof *v), *hv = malloc(P * sizeof *hv), *g = malloc(P * sizeof *g);
    minima_rng rng;
    minima_rng_seed(&rng, 3);
    minima_rng_fill_normal(&rng, v, P);
    double loss, t0 = bench_now();
    minima_net_gradient(net, m->theta, &loss, g);
    double tgrad = bench_now() - t0;
    t0 = bench_now();
    minima_net_hvp(net, v, hv);
    double tfirst = bench_now() - t0;
    t0 = bench_now();
    minima_net_hvp(net, v, hv);
    double twarm = bench_now() - t0;
    printf("gradient %.2f s; first HVP (fills the cache) %.2f s; warm HVP %.2f s; peak resident "
           "%.2f GB\n", tgrad, tfirst, twarm, peak_gb());

    minima_linop *op = NULL;
    if (minima_linop_hessian(&op, net) != MINIMA_OK) die("operator");
    for (int k = 1; k <= (top > 1 ? 2 : 1); k++) {
        int want = k == 1 ? 1 : top;
        minima_eigs_params ep = minima_eigs_default_params();
        ep.k_top = want;
        ep.tol = 1e-8;
        minima_eigs_result r;
        memset(&r, 0, sizeof r);
        t0 = bench_now();
        minima_status st = minima_eigs(op, &ep, &r);
        printf("top-%d by Lanczos to residual 1e-8: %.1f s, %zu products, lambda_1 = %.10g%s\n",
               want, bench_now() - t0, r.n_products, r.n_top ? r.top[0] : 0.0,
               st == MINIMA_OK ? "" : " (not converged)");
        minima_eigs_result_free(&r);
    }
    minima_linop_free(op);
    minima_net_free(net);
    free(v); free(hv); free(g);

    printf("\nwarm HVP against N (%s):\n%10s %10s %14s\n", arch, "N", "seconds", "us/example");
    for (const char *s = ns; *s;) {
        size_t k = (size_t)strtoull(s, NULL, 10);
        const char *comma = strchr(s, ',');
        s = comma ? comma + 1 : s + strlen(s);
        if (!k || k > x->n) continue;
        double t = warm_product(m, x, k, NULL);
        printf("%10zu %10.3f %14.1f\n", k, t, 1e6 * t / (double)k);
    }
    size_t nw = x->n < 10000 ? x->n : 10000;
    printf("\nwarm HVP against width (784-w-w-10, N = %zu):\n%8s %10s %10s %12s\n", nw, "w", "P",
           "seconds", "ns/(P*ex)");
    for (const char *s = widths; *s;) {
        int w = atoi(s);
        const char *comma = strchr(s, ',');
        s = comma ? comma + 1 : s + strlen(s);
        if (w <= 0) continue;
        char a[64];
        snprintf(a, sizeof a, "784-%d-%d-10", w, w);
        minima_model *mw = make_model(a);
        double t = warm_product(mw, x, nw, NULL);
        printf("%8d %10zu %10.3f %12.2f\n", w, mw->n_params, t,
               1e9 * t / ((double)mw->n_params * (double)nw));
        minima_model_free(mw);
    }
    /* What fits: the cache grows by cache/N per example, the features by
     * 8 d bytes, the workspaces are fixed (batches of 1000). */
    double per_ex_cache = (double)cache / (double)x->n, per_ex_data = 8.0 * (double)x->d;
    double budget = mem_gb * 1e9 * 0.9;   /* leave 10 % for the rest of the system */
    printf("\nin %.0f GB (90 %% usable), %s: with the cache N <= %.0f examples; without it "
           "(each product recomputes the passes) N <= %.0f (the features alone)\n", mem_gb, arch,
           budget / (per_ex_cache + per_ex_data), budget / per_ex_data);
    minima_model_free(m);
    minima_dataset_free(x);
    return 0;
}
