#define _POSIX_C_SOURCE 200809L
/* bench_mixed.c — mixed-precision and thick-restart Lanczos on a trained
 * network: products and seconds of the top-K eigenpairs in float64 and in
 * mixed precision, for a few Krylov basis sizes (docs/spectrum.md).
 *
 *   build/bench_mixed MODEL [--data fashion-mnist] [--n 5000] [--top 20]
 *                     [--tol 1e-8] [--tol-low X] [--basis 0,60,100] [--precision float64,mixed]
 *
 * First the cost of one float32 product relative to one float64 product,
 * measured here (median of 5, alternating after a warm-up), so that a run
 * is also given in float64-product units (float64 + ratio x float32), a
 * figure that a busy machine disturbs less than seconds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"
#include "minima/data.h"
#include "minima/eigen.h"
#include "minima/linop.h"
#include "minima/net.h"
#include "minima/rng.h"
#include "minima/safetensors.h"

int main(int argc, char **argv)
{
    const char *model_path = NULL, *source = "fashion-mnist", *bases = "0", *precs = "float64,mixed";
    size_t n = 5000;
    int top = 20;
    double tol = 1e-8, tol_low = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) source = argv[++i];
        else if (!strcmp(argv[i], "--n") && i + 1 < argc) n = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--top") && i + 1 < argc) top = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tol") && i + 1 < argc) tol = atof(argv[++i]);
        else if (!strcmp(argv[i], "--tol-low") && i + 1 < argc) tol_low = atof(argv[++i]);
        else if (!strcmp(argv[i], "--basis") && i + 1 < argc) bases = argv[++i];
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) precs = argv[++i];
        else if (argv[i][0] != '-' && !model_path) model_path = argv[i];
        else {
            fprintf(stderr, "usage: bench_mixed MODEL [--data SRC] [--n N] [--top K] [--tol X] "
                    "[--basis M1,M2] [--precision float64,mixed]\n");
            return 2;
        }
    }
    if (!model_path) { fprintf(stderr, "bench_mixed: MODEL is required\n"); return 2; }
    minima_model *m = NULL;
    minima_dataset *x = NULL;
    minima_net *net = NULL;
    minima_data_options o = minima_data_default_options();
    o.subset = n;
    if (minima_model_load(model_path, NULL, &m) != MINIMA_OK ||
        minima_data_load(source, &o, &x) != MINIMA_OK ||
        minima_net_create(&net, m, x, NULL) != MINIMA_OK) {
        fprintf(stderr, "bench_mixed: %s\n", minima_last_error());
        return 1;
    }
    size_t P = minima_net_n_params(net);
    double *v = malloc(P * sizeof *v), *hv = malloc(P * sizeof *hv);
    minima_rng rng;
    minima_rng_seed(&rng, 1);
    minima_rng_fill_normal(&rng, v, P);
    minima_net_hvp(net, v, hv);
    minima_net_hvp_f32(net, v, hv);
    double t64[5], t32[5];
    for (int r = 0; r < 5; r++) {
        double t0 = bench_now();
        minima_net_hvp(net, v, hv);
        double t1 = bench_now();
        minima_net_hvp_f32(net, v, hv);
        t64[r] = t1 - t0;
        t32[r] = bench_now() - t1;
    }
    qsort(t64, 5, sizeof *t64, bench_cmp_double);
    qsort(t32, 5, sizeof *t32, bench_cmp_double);
    double ratio = t32[2] / t64[2];
    printf("%zu parameters, %zu examples: HVP %.3f s float64, %.3f s float32 (ratio %.2f)\n", P,
           minima_net_n_examples(net), t64[2], t32[2], ratio);
    printf("%-8s %6s %9s %9s %9s %9s %8s %9s\n", "prec", "basis", "products", "float32", "float64",
           "restarts", "seconds", "f64-units");

    minima_linop *op = NULL, *low = NULL;
    minima_linop_hessian(&op, net);
    minima_linop_hessian_f32(&low, net);
    char *bl = strdup(bases);
    char *sb = NULL, *sp = NULL;
    for (char *b = strtok_r(bl, ",", &sb); b; b = strtok_r(NULL, ",", &sb)) {
        char *pl = strdup(precs);
        for (char *p = strtok_r(pl, ",", &sp); p; p = strtok_r(NULL, ",", &sp)) {
            minima_eigs_params ep = minima_eigs_default_params();
            ep.k_top = top;
            ep.tol = tol;
            ep.max_basis = (size_t)atol(b);
            ep.tol_low = tol_low;
            if (!strcmp(p, "mixed")) ep.op_low = low;
            minima_eigs_result r;
            minima_status st = minima_eigs(op, &ep, &r);
            size_t f64 = r.n_products - r.n_products_low;
            printf("%-8s %6s %9zu %9zu %9zu %9zu %8.1f %9.1f%s\n", p, b, r.n_products,
                   r.n_products_low, f64, r.n_restarts, r.seconds,
                   (double)f64 + ratio * (double)r.n_products_low,
                   st == MINIMA_OK ? "" : "  (failed)");
            if (st == MINIMA_OK) {
                double worst = 0;
                for (int i = 0; i < r.n_top; i++)
                    worst = fmax(worst, r.top_true_residual[i] / fabs(r.top[i]));
                printf("         lambda_1 %.12g, lambda_%d %.12g, max residual/|lambda| %.1e\n",
                       r.top[0], top, r.top[top - 1], worst);
            }
            fflush(stdout);
            minima_eigs_result_free(&r);
        }
        free(pl);
    }
    free(bl);
    minima_linop_free(op);
    minima_linop_free(low);
    minima_net_free(net);
    minima_dataset_free(x);
    minima_model_free(m);
    free(v); free(hv);
    return 0;
}
