/* bench_eigen.c — Lanczos (top-1, top-20) against PyHessian's power
 * iteration on a dense n-by-n operator with a known, Hessian-like spectrum
 * (30 outliers with 7 % gaps, a bulk decaying to 0, two small negatives).
 * Prints products, seconds (median of `runs` after one warm-up run) and
 * the error of the top eigenvalue.
 *
 *     bench_eigen [n=2000] [runs=5]
 *
 * The operator is a dense matrix-vector product (2 n^2 flops), so seconds
 * scale with the BLAS; the product counts are the portable figure. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "minima/eigen.h"
#include "minima/linop.h"
#include "minima/rng.h"

char *openblas_get_corename(void);
int openblas_get_num_threads(void);

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, int k)
{
    qsort(x, (size_t)k, sizeof *x, cmp_double);
    return k % 2 ? x[k / 2] : 0.5 * (x[k / 2 - 1] + x[k / 2]);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 2000;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 100 || runs < 1) {
        fprintf(stderr, "usage: bench_eigen [n >= 100] [runs >= 1]\n");
        return 2;
    }
    printf("bench_eigen: n = %zu, median of %d runs; OpenBLAS core %s, %d threads\n", n, runs,
           openblas_get_corename(), openblas_get_num_threads());

    /* A = Q diag(lambda) Q^T. */
    double *lambda = malloc(n * sizeof *lambda), *q = malloc(n * n * sizeof *q);
    double *tau = malloc(n * sizeof *tau), *a = malloc(n * n * sizeof *a);
    if (!lambda || !q || !tau || !a) { fprintf(stderr, "out of memory\n"); return 1; }
    /* 30 outliers 100 * 0.93^i (relative gaps of 7 %), a bulk decaying
     * from ~1 to ~0, two small negative eigenvalues. */
    for (size_t i = 0; i < n; i++)
        lambda[i] = i < 30 ? 100.0 * pow(0.93, (double)i)
                           : 30.0 / (double)((i + 1) * (i + 1)) + 1e-3 * sin((double)i);
    lambda[n - 1] = -0.5;
    lambda[n - 2] = -0.2;
    double top = 100.0;
    minima_rng rng;
    minima_rng_seed(&rng, 1);
    minima_rng_fill_normal(&rng, q, n * n);
    LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (int)n, (int)n, q, (int)n, tau);
    LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (int)n, (int)n, (int)n, q, (int)n, tau);
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < n; c++) a[r * n + c] = q[r * n + c] * lambda[c];
    double *b = malloc(n * n * sizeof *b);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)n, 1.0, a, (int)n,
                q, (int)n, 0.0, b, (int)n);
    for (size_t r = 0; r < n; r++)
        for (size_t c = r + 1; c < n; c++) b[c * n + r] = b[r * n + c];
    free(q); free(tau); free(a);
    minima_linop *op = NULL;
    if (minima_linop_dense(&op, n, b) != MINIMA_OK) {
        fprintf(stderr, "%s\n", minima_last_error());
        return 1;
    }
    free(b);

    /* One product, for scale. */
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), tp[64];
    minima_rng_fill_normal(&rng, x, n);
    for (int r = 0; r < runs + 1 && r < 64; r++) {
        double t0 = now_seconds();
        for (int k = 0; k < 20; k++) minima_linop_apply(op, x, y);
        tp[r] = (now_seconds() - t0) / 20;
    }
    double t_prod = median(tp + 1, runs);
    printf("  one product: %.3g ms (%.2f GFLOP/s)\n", 1e3 * t_prod,
           2.0 * (double)n * (double)n / t_prod * 1e-9);
    printf("  %-26s %9s %9s %11s %12s\n", "method", "products", "restarts", "seconds",
           "top rel.err");

    const int ks[2] = {1, 20};
    for (int c = 0; c < 2; c++) {
        minima_eigs_params p = minima_eigs_default_params();
        p.k_top = ks[c];
        p.verify = 0;
        double secs[64];
        minima_eigs_result res;
        size_t prods = 0, restarts = 0;
        double err = 0;
        for (int r = 0; r < runs + 1 && r < 64; r++) {
            p.seed = (uint64_t)r;
            minima_status st = minima_eigs(op, &p, &res);
            if (st != MINIMA_OK) {
                fprintf(stderr, "lanczos: %s\n", minima_last_error());
                return 1;
            }
            secs[r] = res.seconds;
            prods = res.n_products;
            restarts = res.n_restarts;
            err = fabs(res.top[0] - top) / top;
            minima_eigs_result_free(&res);
        }
        char name[64];
        snprintf(name, sizeof name, "lanczos top-%d (tol 1e-8)", ks[c]);
        printf("  %-26s %9zu %9zu %11.4g %12.2e\n", name, prods, restarts,
               median(secs + 1, runs), err);
    }
    {
        minima_power_params p = minima_power_default_params();
        minima_power_result res;
        double secs[64], err = 0;
        size_t prods = 0;
        for (int r = 0; r < runs + 1 && r < 64; r++) {
            p.seed = (uint64_t)r;
            if (minima_power_iteration(op, &p, &res, NULL) != MINIMA_OK) {
                fprintf(stderr, "power: %s\n", minima_last_error());
                return 1;
            }
            secs[r] = res.seconds;
            prods = res.n_products;
            err = fabs(res.eigenvalue - top) / top;
        }
        printf("  %-26s %9zu %9s %11.4g %12.2e\n", "power (PyHessian, 1e-3)", prods, "-",
               median(secs + 1, runs), err);
    }
    {
        /* The exact alternative: the dense matrix and all eigenvalues. */
        double *dense = malloc(n * n * sizeof *dense), *ev = malloc(n * sizeof *ev);
        double t0 = now_seconds();
        size_t before = op->n_applies;
        if (!dense || !ev || minima_linop_to_dense(op, dense) != MINIMA_OK ||
            minima_spectrum_dense(n, dense, ev, NULL) != MINIMA_OK) {
            fprintf(stderr, "dense: %s\n", minima_last_error());
            return 1;
        }
        printf("  %-26s %9zu %9s %11.4g %12.2e   (one run)\n", "dense + dsyevd (all)",
               op->n_applies - before, "-", now_seconds() - t0, fabs(ev[n - 1] - top) / top);
        free(dense);
        free(ev);
    }
    minima_linop_free(op);
    free(lambda); free(x); free(y);
    return 0;
}
