/* test_eigen.c — Lanczos, power iteration, dense spectra and the linear
 * operators, against LAPACK dsyevd on matrices with known spectra. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/eigen.h"
#include "minima/linop.h"
#include "minima/data.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/rng.h"

/* ---- helpers ------------------------------------------------------------ */

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* max |X X^T - I| over the rows of X (k, n). */
static double orthonormality(const double *x, size_t k, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++) {
            double d = cblas_ddot((int)n, x + i * n, 1, x + j * n, 1) - (i == j);
            if (fabs(d) > worst) worst = fabs(d);
        }
    return worst;
}

/* Stacks top and bottom vectors into one (k, n) array (malloc'd). */
static double *all_vectors(const minima_eigs_result *r)
{
    size_t n = r->n, k = (size_t)(r->n_top + r->n_bottom);
    double *x = malloc((k ? k : 1) * n * sizeof *x);
    if (r->n_top) memcpy(x, r->top_vectors, (size_t)r->n_top * n * sizeof *x);
    if (r->n_bottom)
        memcpy(x + (size_t)r->n_top * n, r->bottom_vectors, (size_t)r->n_bottom * n * sizeof *x);
    return x;
}

/* Checks a converged result against the sorted true spectrum (ascending
 * `exact`): values to 1e-10 relative, residual estimates and true residuals
 * within tolerance, eigenvectors orthonormal. */
static void check_against(const minima_eigs_result *r, const double *exact, size_t n,
                          const minima_eigs_params *p)
{
    double anorm = fmax(fabs(exact[0]), fabs(exact[n - 1]));
    CHECK(r->converged);
    CHECK(r->n_top == p->k_top && r->n_bottom == p->k_bottom);
    for (int i = 0; i < r->n_top; i++) {
        CHECK_REL(r->top[i], exact[n - 1 - (size_t)i], 1e-10);
        CHECK_MSG(r->top_residual[i] <= p->tol * fmax(fabs(r->top[i]), p->zero_floor * anorm),
                  "top %d residual %g", i, r->top_residual[i]);
        CHECK_MSG(r->top_true_residual[i] <= 10 * p->tol * fmax(fabs(r->top[i]), 1e-3 * anorm),
                  "top %d true residual %g", i, r->top_true_residual[i]);
    }
    for (int i = 0; i < r->n_bottom; i++) {
        CHECK_REL(r->bottom[i], exact[i], 1e-10);
        CHECK_MSG(r->bottom_residual[i] <= p->tol * fmax(fabs(r->bottom[i]),
                                                         p->zero_floor * anorm),
                  "bottom %d residual %g", i, r->bottom_residual[i]);
        CHECK_MSG(r->bottom_true_residual[i] <= 10 * p->tol * fmax(fabs(r->bottom[i]),
                                                                   1e-3 * anorm),
                  "bottom %d true residual %g", i, r->bottom_true_residual[i]);
    }
    double *x = all_vectors(r);
    double orth = orthonormality(x, (size_t)(r->n_top + r->n_bottom), n);
    CHECK_MSG(orth < 1e-12, "eigenvectors not orthonormal: max |X X^T - I| = %g", orth);
    free(x);
}

/* ---- Lanczos against dsyevd ------------------------------------------------ */

static void test_lanczos_random_indefinite(void)
{
    size_t n = 400;
    double *lambda = malloc(n * sizeof *lambda);
    minima_rng rng;
    minima_rng_seed(&rng, 11);
    for (size_t i = 0; i < n; i++) lambda[i] = minima_rng_uniform(&rng) * 13.0 - 3.0;
    lambda[0] = 25.0;  lambda[1] = 20.0;  lambda[2] = -9.0;  lambda[3] = -7.5;
    double *a = harness_spectral_matrix(n, lambda, 1);
    double *exact = malloc(n * sizeof *exact);
    CHECK_OK(minima_spectrum_dense(n, a, exact, NULL));
    CHECK_REL(exact[n - 1], 25.0, 1e-12);
    CHECK_REL(exact[0], -9.0, 1e-12);

    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = 6;
    p.k_bottom = 4;
    p.seed = 3;
    minima_eigs_result r;
    CHECK_OK(minima_eigs(op, &p, &r));
    check_against(&r, exact, n, &p);
    CHECK(r.n_products == op->n_applies);
    CHECK(r.n_products == r.n_steps + 10);      /* + verification */
    minima_eigs_result_free(&r);
    minima_linop_free(op);
    free(lambda); free(a); free(exact);
}

static void test_lanczos_clustered(void)
{
    /* A tight cluster at the top (relative gaps 1e-6) and one at the bottom. */
    size_t n = 300;
    double *lambda = malloc(n * sizeof *lambda);
    for (size_t i = 0; i < n; i++) lambda[i] = 1.0 + 4.0 * (double)i / (double)n;
    for (int i = 0; i < 4; i++) lambda[i] = 10.0 - 1e-5 * i;
    for (int i = 4; i < 7; i++) lambda[i] = -2.0 + 1e-6 * i;
    double *a = harness_spectral_matrix(n, lambda, 2);
    double *exact = malloc(n * sizeof *exact);
    CHECK_OK(minima_spectrum_dense(n, a, exact, NULL));
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = 4;
    p.k_bottom = 3;
    minima_eigs_result r;
    CHECK_OK(minima_eigs(op, &p, &r));
    check_against(&r, exact, n, &p);
    minima_eigs_result_free(&r);
    minima_linop_free(op);
    free(lambda); free(a); free(exact);
}

/* An eigenvalue of multiplicity one is reported once, not twice: full
 * reorthogonalization leaves no ghost copies. */
static void test_lanczos_no_spurious_copies(void)
{
    size_t n = 250;
    double *lambda = malloc(n * sizeof *lambda);
    for (size_t i = 0; i < n; i++) lambda[i] = 4.0 * (double)i / (double)n;  /* < 4 */
    lambda[0] = 5.0;
    double *a = harness_spectral_matrix(n, lambda, 3);
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = 5;
    p.tol = 1e-12;           /* converge hard: ghosts would appear by now */
    p.max_basis = 30;        /* and restart many times */
    minima_eigs_result r;
    CHECK_OK(minima_eigs(op, &p, &r));
    int fives = 0;
    for (int i = 0; i < r.n_top; i++) if (fabs(r.top[i] - 5.0) < 1e-6) fives++;
    CHECK_MSG(fives == 1, "eigenvalue 5 (multiplicity 1) reported %d times", fives);
    CHECK(r.n_restarts > 0);
    double orth = orthonormality(r.top_vectors, (size_t)r.n_top, n);
    CHECK_MSG(orth < 1e-12, "orthonormality %g", orth);
    minima_eigs_result_free(&r);
    minima_linop_free(op);
    free(lambda); free(a);
}

/* True of every Lanczos result, repeated eigenvalues or not: walking the
 * exact spectrum (descending for top) alongside the reported values, each
 * reported value is the next exact eigenvalue, except that copies of a
 * repeated eigenvalue may be skipped (missed copies); none is reported
 * more often than its multiplicity. */
static int is_prefix_up_to_copies(const double *got, int k, const double *exact_desc, size_t n,
                                  double tol)
{
    size_t t = 0;
    for (int i = 0; i < k; i++) {
        while (t < n && fabs(got[i] - exact_desc[t]) > tol * fmax(1, fabs(exact_desc[t]))) {
            /* skipping exact_desc[t] is allowed only if it is a copy of a value
             * already reported */
            if (i == 0 || fabs(exact_desc[t] - got[i - 1]) > tol * fmax(1, fabs(got[i - 1])))
                return 0;
            t++;
        }
        if (t == n) return 0;
        t++;
    }
    return 1;
}

/* Multiplicity 3. In exact arithmetic the Krylov space of one start vector
 * meets the eigenspace of 5 in one direction: Lanczos finds 5 once, then
 * the next distinct eigenvalues. In floating point rounding seeds the other
 * directions and, given enough further steps, they grow into genuine extra
 * copies. Both happen below (eigen.h says so); what always holds is that
 * the values are true eigenvalues, never more copies than the
 * multiplicity, only copies skipped, vectors orthonormal. */
static void test_lanczos_repeated_eigenvalue(void)
{
    size_t n = 300;
    double *lambda = malloc(n * sizeof *lambda);
    for (size_t i = 0; i < n; i++) lambda[i] = 3.0 * (double)i / (double)n;  /* < 3 */
    lambda[0] = lambda[1] = lambda[2] = 5.0;
    lambda[3] = 4.0;
    double *a = harness_spectral_matrix(n, lambda, 4);
    double *exact = malloc(n * sizeof *exact);
    CHECK_OK(minima_spectrum_dense(n, a, exact, NULL));
    qsort(exact, n, sizeof *exact, cmp_desc);
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    for (int k = 1; k <= 6; k++) {
        minima_eigs_params p = minima_eigs_default_params();
        p.k_top = k;
        p.seed = 4;
        minima_eigs_result r;
        CHECK_OK(minima_eigs(op, &p, &r));
        CHECK(r.converged && r.n_top == k);
        int fives = 0;
        for (int i = 0; i < r.n_top; i++) if (fabs(r.top[i] - 5.0) < 1e-9) fives++;
        CHECK_MSG(fives >= 1 && fives <= 3, "k %d: %d copies of 5", k, fives);
        CHECK_MSG(is_prefix_up_to_copies(r.top, r.n_top, exact, n, 1e-10),
                  "k %d: reported values are not the top of the spectrum up to missed copies", k);
        double orth = orthonormality(r.top_vectors, (size_t)k, n);
        CHECK_MSG(orth < 1e-12, "k %d: orthonormality %g", k, orth);
        for (int i = 0; i < k; i++) CHECK(r.top_true_residual[i] < 1e-7 * fabs(r.top[i]));
        if (k == 2) {
            /* Converged in ~20 steps, before rounding regrows the copies:
             * the second value is 4, not the second copy of 5. */
            CHECK_REL(r.top[0], 5.0, 1e-12);
            CHECK_REL(r.top[1], 4.0, 1e-12);
        }
        minima_eigs_result_free(&r);
    }
    minima_linop_free(op);
    free(lambda); free(a); free(exact);
}

/* When the Krylov space becomes invariant, Lanczos continues from a new
 * orthogonal direction, which does find further copies: a matrix with
 * three distinct eigenvalues, each ten times. */
static void test_lanczos_invariant_subspace(void)
{
    size_t n = 30;
    double *lambda = malloc(n * sizeof *lambda);
    for (size_t i = 0; i < n; i++) lambda[i] = (double)(1 + i % 3);
    double *a = harness_spectral_matrix(n, lambda, 5);
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = 4;
    p.k_bottom = 2;
    minima_eigs_result r;
    CHECK_OK(minima_eigs(op, &p, &r));
    CHECK(r.converged);
    CHECK_REL(r.top[0], 3.0, 1e-12);
    CHECK_REL(r.top[1], 3.0, 1e-12);
    CHECK_REL(r.top[2], 2.0, 1e-12);
    CHECK_REL(r.top[3], 2.0, 1e-12);
    CHECK_REL(r.bottom[0], 1.0, 1e-12);
    CHECK_REL(r.bottom[1], 1.0, 1e-12);
    CHECK(r.n_steps <= 9);
    double *x = all_vectors(&r);
    CHECK(orthonormality(x, 6, n) < 1e-12);
    for (int i = 0; i < 4; i++) CHECK(r.top_true_residual[i] < 1e-12);
    free(x);
    minima_eigs_result_free(&r);
    minima_linop_free(op);
    free(lambda); free(a);
}

/* A large null space, as a Hessian at a minimum has: the bottom pairs are
 * zeros, converged on the absolute floor tol * zero_floor * ||A|| (their
 * values are still zero to rounding: Lanczos finds exact zeros fast). */
static void test_lanczos_null_space(void)
{
    size_t n = 300;
    double *lambda = malloc(n * sizeof *lambda);
    for (size_t i = 0; i < n; i++) lambda[i] = i < 100 ? 0.0 : 1.0 + 9.0 * (double)i / (double)n;
    double *a = harness_spectral_matrix(n, lambda, 13);
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = 2;
    p.k_bottom = 3;
    minima_eigs_result r;
    CHECK_OK(minima_eigs(op, &p, &r));
    CHECK(r.converged);
    for (int i = 0; i < 3; i++) {
        CHECK_MSG(fabs(r.bottom[i]) < 1e-13 * 10.0, "bottom %d = %g", i, r.bottom[i]);
        CHECK(r.bottom_true_residual[i] <= 1.01 * p.tol * p.zero_floor * 10.0);
    }
    CHECK(orthonormality(r.bottom_vectors, 3, n) < 1e-12);
    minima_eigs_result_free(&r);
    minima_linop_free(op);
    free(lambda); free(a);
}

/* y = diag(d) x for a diagonal operator whose ctx is d. */
static minima_status diag_apply(void *ctx, const double *x, double *y)
{
    const double *d = ctx;
    for (size_t i = 0; d[i] >= 0; i++) y[i] = d[i] * x[i];
    return MINIMA_OK;
}

/* The bottom of a Gauss-Newton matrix: a cluster of thousands of tiny
 * eigenvalues (here in [0, 1e-9 lambda_max]) with no gap. No Krylov method
 * resolves one of them to a relative tolerance; with the default floor the
 * bottom pair converges on the absolute scale tol * zero_floor * ||A|| in
 * well under max_products, and its error is within its residual. */
static void test_lanczos_zero_cluster(void)
{
    size_t n = 3000;
    double *d = malloc((n + 1) * sizeof *d);
    minima_rng rng;
    minima_rng_seed(&rng, 5);
    double dmin = 1;
    for (size_t i = 0; i < n; i++) {
        d[i] = i < 60 ? 0.1 + 0.9 * (double)i / 59.0 : 1e-9 * minima_rng_uniform(&rng);
        if (d[i] < dmin) dmin = d[i];
    }
    d[n] = -1;      /* end marker for diag_apply */
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_create(&op, n, diag_apply, d, NULL));
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = 1;
    p.k_bottom = 1;
    minima_eigs_result r;
    minima_status st = minima_eigs(op, &p, &r);
    CHECK_MSG(st == MINIMA_OK, "status %d after %zu products: %s", (int)st, r.n_products, minima_last_error());
    CHECK(r.converged);
    if (r.n_bottom == 1) {
        CHECK(r.bottom_residual[0] <= p.tol * p.zero_floor * 1.0 + 1e-15);
        CHECK_MSG(fabs(r.bottom[0] - dmin) <= r.bottom_true_residual[0] + 1e-15,
                  "bottom %g, true %g, residual %g", r.bottom[0], dmin, r.bottom_true_residual[0]);
        CHECK(fabs(r.top[0] - 1.0) < 1e-12);
    }
    minima_eigs_result_free(&r);
    minima_linop_free(op);
    free(d);
}

static void test_lanczos_restart_path(void)
{
    size_t n = 500;
    double *lambda = malloc(n * sizeof *lambda);
    minima_rng rng;
    minima_rng_seed(&rng, 21);
    for (size_t i = 0; i < n; i++) lambda[i] = minima_rng_normal(&rng);
    double *a = harness_spectral_matrix(n, lambda, 6);
    double *exact = malloc(n * sizeof *exact);
    CHECK_OK(minima_spectrum_dense(n, a, exact, NULL));
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = 3;
    p.k_bottom = 2;
    p.max_basis = 12;       /* tiny: many restarts */
    minima_eigs_result r;
    CHECK_OK(minima_eigs(op, &p, &r));
    CHECK_MSG(r.n_restarts >= 5, "only %zu restarts", r.n_restarts);
    check_against(&r, exact, n, &p);

    /* A budget too small: partial result and MINIMA_ENOCONV. */
    minima_eigs_result_free(&r);
    p.max_products = 20;
    CHECK_STATUS(minima_eigs(op, &p, &r), MINIMA_ENOCONV);
    CHECK(!r.converged && r.n_top == 3 && r.n_bottom == 2 && r.top_vectors);
    CHECK(r.top[0] <= exact[n - 1] + 1e-12);   /* Ritz values interlace */
    minima_eigs_result_free(&r);
    minima_linop_free(op);
    free(lambda); free(a); free(exact);
}

static void test_lanczos_step_api_and_seed(void)
{
    size_t n = 200;
    double *lambda = malloc(n * sizeof *lambda);
    for (size_t i = 0; i < n; i++) lambda[i] = sin((double)i) * 3.0 + 0.01 * (double)i;
    double *a = harness_spectral_matrix(n, lambda, 7);
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = 3;
    p.k_bottom = 3;
    p.max_basis = 20;
    p.seed = 99;

    minima_eigs_result r1, r2, r3;
    CHECK_OK(minima_eigs(op, &p, &r1));
    CHECK_OK(minima_eigs(op, &p, &r2));

    minima_lanczos *ws = NULL;
    CHECK_OK(minima_lanczos_alloc(&ws, n, &p));
    CHECK_OK(minima_lanczos_init(ws, op, p.seed));
    minima_status st;
    do {
        st = minima_lanczos_iterate(ws);
    } while (st == MINIMA_OK && minima_lanczos_test(ws) != MINIMA_OK);
    CHECK_OK(st);
    CHECK_OK(minima_lanczos_result(ws, &r3));
    CHECK(minima_lanczos_n_products(ws) == r3.n_products);
    minima_lanczos_free(ws);

    const minima_eigs_result *rs[2] = {&r2, &r3};
    for (int t = 0; t < 2; t++) {
        const minima_eigs_result *r = rs[t];
        CHECK(r->n_top == r1.n_top && r->n_bottom == r1.n_bottom);
        CHECK(r->n_products == r1.n_products && r->n_restarts == r1.n_restarts);
        CHECK(memcmp(r->top, r1.top, 3 * sizeof(double)) == 0);
        CHECK(memcmp(r->bottom, r1.bottom, 3 * sizeof(double)) == 0);
        CHECK(memcmp(r->top_vectors, r1.top_vectors, 3 * n * sizeof(double)) == 0);
        CHECK(memcmp(r->bottom_vectors, r1.bottom_vectors, 3 * n * sizeof(double)) == 0);
        CHECK(memcmp(r->top_residual, r1.top_residual, 3 * sizeof(double)) == 0);
    }
    /* Another seed: the same eigenvalues, other rounding. */
    minima_eigs_result r4;
    p.seed = 100;
    CHECK_OK(minima_eigs(op, &p, &r4));
    for (int i = 0; i < 3; i++) CHECK_REL(r4.top[i], r1.top[i], 1e-10);
    minima_eigs_result_free(&r1);
    minima_eigs_result_free(&r2);
    minima_eigs_result_free(&r3);
    minima_eigs_result_free(&r4);
    minima_linop_free(op);
    free(lambda); free(a);
}

/* Small operators: the basis spans everything, eigenvalues are exact. */
static void test_lanczos_small_and_errors(void)
{
    double a[9] = {2, 1, 0, 1, 2, 1, 0, 1, 2};   /* eigenvalues 2 - sqrt2, 2, 2 + sqrt2 */
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, 3, a));
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = 2;
    p.k_bottom = 1;
    minima_eigs_result r;
    CHECK_OK(minima_eigs(op, &p, &r));
    CHECK_REL(r.top[0], 2 + sqrt(2.0), 1e-14);
    CHECK_REL(r.top[1], 2.0, 1e-14);
    CHECK_REL(r.bottom[0], 2 - sqrt(2.0), 1e-14);
    minima_eigs_result_free(&r);

    p.k_top = 3;
    CHECK_STATUS(minima_eigs(op, &p, &r), MINIMA_EINVAL);       /* 4 > n */
    CHECK(r.n_top == 0 && r.top == NULL);
    p.k_top = 0;
    p.k_bottom = 0;
    CHECK_STATUS(minima_eigs(op, &p, &r), MINIMA_EINVAL);
    p = minima_eigs_default_params();
    p.tol = -1;
    CHECK_STATUS(minima_eigs(op, &p, &r), MINIMA_EINVAL);

    minima_lanczos *ws = NULL;
    CHECK_OK(minima_lanczos_alloc(&ws, 4, NULL));
    CHECK_STATUS(minima_lanczos_init(ws, op, 1), MINIMA_ESHAPE);
    minima_lanczos_free(ws);

    /* Interruption: partial result, MINIMA_EINTERRUPTED. */
    minima_interrupt();
    p = minima_eigs_default_params();
    CHECK_STATUS(minima_eigs(op, &p, &r), MINIMA_EINTERRUPTED);
    CHECK(!r.converged);
    minima_clear_interrupt();
    minima_eigs_result_free(&r);
    minima_linop_free(op);
}

static minima_status nan_apply(void *ctx, const double *x, double *y)
{
    size_t n = *(size_t *)ctx;
    for (size_t i = 0; i < n; i++) y[i] = i == 3 ? NAN : x[i];
    return MINIMA_OK;
}

static void test_lanczos_nonfinite_and_nomem(void)
{
    size_t n = 10;
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_create(&op, n, nan_apply, &n, NULL));
    minima_eigs_result r;
    CHECK_STATUS(minima_eigs(op, NULL, &r), MINIMA_ENONFINITE);
    minima_eigs_result_free(&r);
    minima_power_result pr;
    CHECK_STATUS(minima_power_iteration(op, NULL, &pr, NULL), MINIMA_ENONFINITE);
    minima_linop_free(op);

    /* Every allocation failure is reported, and nothing leaks (ASan). */
    double a[16] = {4, 1, 0, 0, 1, 3, 1, 0, 0, 1, 2, 1, 0, 0, 1, 1};
    CHECK_OK(minima_linop_dense(&op, 4, a));
    int failures = 0;
    for (long k = 0; k < 40; k++) {
        minima_alloc_fail_after(k);
        minima_status st = minima_eigs(op, NULL, &r);
        minima_alloc_fail_after(-1);
        minima_eigs_result_free(&r);
        if (st == MINIMA_OK) break;
        CHECK(st == MINIMA_ENOMEM);
        failures++;
    }
    CHECK(failures > 5);
    minima_linop_free(op);
}

/* An operator that raises an interrupt at its 15th product, as Ctrl-C
 * would in the middle of a solve. */
typedef struct { const double *a; size_t n, count; } interrupting_ctx;

static minima_status interrupting_apply(void *vctx, const double *x, double *y)
{
    interrupting_ctx *c = vctx;
    if (++c->count == 15) minima_interrupt();
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)c->n, (int)c->n, 1.0, c->a, (int)c->n, x, 1,
                0.0, y, 1);
    return MINIMA_OK;
}

/* As a network's product does: once interrupted, it refuses to compute. */
static minima_status refusing_apply(void *vctx, const double *x, double *y)
{
    interrupting_ctx *c = vctx;
    if (++c->count == 15) minima_interrupt();
    if (minima_interrupted()) return MINIMA_EINTERRUPTED;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)c->n, (int)c->n, 1.0, c->a, (int)c->n, x, 1,
                0.0, y, 1);
    return MINIMA_OK;
}

/* An interrupt noticed inside the product still leaves the Ritz pairs of
 * the steps before it in the result (without verifying residuals). */
static void test_lanczos_interrupt_inside_product(void)
{
    size_t n = 200;
    double *lambda = malloc(n * sizeof *lambda);
    for (size_t i = 0; i < n; i++) lambda[i] = 1.0 + (double)i / (double)n;
    double *a = harness_spectral_matrix(n, lambda, 12);
    interrupting_ctx ctx = {a, n, 0};
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_create(&op, n, refusing_apply, &ctx, NULL));
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = 3;
    p.k_bottom = 1;
    p.max_basis = 10;       /* the 15th product comes after a restart */
    minima_eigs_result r;
    CHECK_STATUS(minima_eigs(op, &p, &r), MINIMA_EINTERRUPTED);
    CHECK(!r.converged && r.n_steps == 14 && r.n_top == 3 && r.n_bottom == 1);
    CHECK(r.top_true_residual == NULL && r.top_residual != NULL);
    if (r.n_top == 3) CHECK(r.top[0] <= 2.0 && r.top[0] > 1.8 && r.bottom[0] >= 1.0 && r.bottom[0] < 1.2);
    minima_clear_interrupt();
    minima_eigs_result_free(&r);
    minima_linop_free(op);
    free(lambda); free(a);
}

static void test_lanczos_interrupt_partial(void)
{
    size_t n = 200;
    double *lambda = malloc(n * sizeof *lambda);
    for (size_t i = 0; i < n; i++) lambda[i] = 1.0 + (double)i / (double)n;
    double *a = harness_spectral_matrix(n, lambda, 12);
    interrupting_ctx ctx = {a, n, 0};
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_create(&op, n, interrupting_apply, &ctx, NULL));
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = 3;
    p.k_bottom = 1;
    minima_eigs_result r;
    CHECK_STATUS(minima_eigs(op, &p, &r), MINIMA_EINTERRUPTED);
    CHECK(!r.converged && r.n_steps == 15 && r.n_top == 3 && r.n_bottom == 1);
    CHECK(r.top[0] <= 2.0 && r.top[0] > 1.9 && r.bottom[0] >= 1.0 && r.bottom[0] < 1.1);
    /* The partial pairs are honest: the estimates are the true residuals. */
    for (int i = 0; i < 3; i++)
        CHECK_REL(r.top_residual[i], r.top_true_residual[i], 1e-6);
    CHECK(orthonormality(r.top_vectors, 3, n) < 1e-12);
    minima_clear_interrupt();
    minima_eigs_result_free(&r);

    /* The same for power iteration. */
    ctx.count = 0;
    minima_power_result pr;
    double *v = malloc(n * sizeof *v);
    CHECK_STATUS(minima_power_iteration(op, NULL, &pr, v), MINIMA_EINTERRUPTED);
    CHECK(pr.iterations == 15 && pr.eigenvalue > 1.5 && pr.eigenvalue <= 2.0);
    minima_clear_interrupt();
    minima_linop_free(op);
    free(lambda); free(a); free(v);
}

/* ---- power iteration ------------------------------------------------------- */

static void test_power_iteration(void)
{
    size_t n = 300;
    double *lambda = malloc(n * sizeof *lambda);
    for (size_t i = 0; i < n; i++) lambda[i] = 4.0 * (double)i / (double)n;
    lambda[0] = 10.0;
    double *a = harness_spectral_matrix(n, lambda, 8);
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    minima_power_params p = minima_power_default_params();
    minima_power_result r;
    double *v = malloc(n * sizeof *v);
    CHECK_OK(minima_power_iteration(op, &p, &r, v));
    CHECK(r.converged);
    CHECK(r.iterations < 100 && r.n_products == (size_t)r.iterations);
    CHECK(op->n_applies == r.n_products);
    CHECK_REL(r.eigenvalue, 10.0, 1e-3);
    CHECK_REL(cblas_dnrm2((int)n, v, 1), 1.0, 1e-14);

    /* An indefinite matrix whose largest magnitude is negative: power
     * iteration finds -10 (documented), Lanczos' top finds 4. */
    lambda[0] = -10.0;
    free(a);
    a = harness_spectral_matrix(n, lambda, 8);
    minima_linop_free(op);
    CHECK_OK(minima_linop_dense(&op, n, a));
    CHECK_OK(minima_power_iteration(op, &p, &r, NULL));
    CHECK_REL(r.eigenvalue, -10.0, 1e-3);

    /* The cap: max_iter products, not converged, still MINIMA_OK. */
    p.max_iter = 3;
    CHECK_OK(minima_power_iteration(op, &p, &r, NULL));
    CHECK(!r.converged && r.iterations == 3);
    minima_linop_free(op);
    free(lambda); free(a); free(v);
}

/* ---- dense spectra and operators ---------------------------------------- */

static void test_dense_spectrum(void)
{
    size_t n = 50;
    double lambda[50];
    for (size_t i = 0; i < n; i++) lambda[i] = i < 10 ? 0.0 : (double)i - 25.0;
    lambda[30] = 0.0;   /* i = 30 would be 5.0 */
    double *a = harness_spectral_matrix(n, lambda, 9);
    double values[50], *vec = malloc(n * n * sizeof *vec);
    CHECK_OK(minima_spectrum_dense(n, a, values, vec));
    qsort(lambda, n, sizeof *lambda, cmp_desc);
    for (size_t i = 0; i < n; i++) CHECK_ABS(values[i], lambda[n - 1 - i], 1e-12);
    CHECK(orthonormality(vec, n, n) < 1e-12);
    /* A v_i = lambda_i v_i */
    double av[50], worst = 0;
    for (size_t i = 0; i < n; i++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, a, (int)n, vec + i * n, 1,
                    0.0, av, 1);
        for (size_t t = 0; t < n; t++) worst = fmax(worst, fabs(av[t] - values[i] * vec[i * n + t]));
    }
    CHECK(worst < 1e-12);
    /* 12 exact zeros: rank 38 with the default tolerance. */
    CHECK(minima_spectrum_rank(values, n, -1) == 38);
    CHECK_REL(minima_spectrum_rank_tol(values, n), 24.0 * 50 * 2.220446049250313e-16, 1e-12);
    CHECK(minima_spectrum_rank(values, n, 30.0) == 0);
    double levels[3] = {-100, 0.5, 20.5};
    size_t counts[3];
    minima_spectrum_count_above(values, n, levels, 3, counts);
    CHECK_MSG(counts[0] == 50 && counts[1] == 23 && counts[2] == 4, "counts %zu %zu %zu",
              counts[0], counts[1], counts[2]);

    /* The dense matrix of an operator is the matrix itself. */
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    double *b = malloc(n * n * sizeof *b);
    CHECK_OK(minima_linop_to_dense(op, b));
    CHECK(op->n_applies == n);
    CHECK(harness_vec_reldiff(b, a, n * n, 1) < 1e-15);
    minima_linop_free(op);
    free(a); free(b); free(vec);
}

static void test_subset_and_scaled(void)
{
    size_t n = 40;
    double lambda[40];
    for (size_t i = 0; i < n; i++) lambda[i] = (double)i - 10.0;
    double *a = harness_spectral_matrix(n, lambda, 10);
    minima_linop *op = NULL, *sub = NULL, *sc = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));

    size_t idx[7] = {0, 3, 4, 17, 20, 38, 39};
    CHECK_OK(minima_linop_subset(&sub, op, idx, 7));
    CHECK(sub->n == 7);
    double s[49];
    CHECK_OK(minima_linop_to_dense(sub, s));
    for (size_t r = 0; r < 7; r++)
        for (size_t c = 0; c < 7; c++) CHECK_ABS(s[r * 7 + c], a[idx[r] * n + idx[c]], 1e-15);
    CHECK(sub->n_applies == 7 && op->n_applies == 7);
    /* Its eigenvalues through Lanczos equal those of the submatrix. */
    double ev[7];
    CHECK_OK(minima_spectrum_dense(7, s, ev, NULL));
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = 2;
    p.k_bottom = 1;
    minima_eigs_result r;
    CHECK_OK(minima_eigs(sub, &p, &r));
    CHECK_REL(r.top[0], ev[6], 1e-12);
    CHECK_REL(r.top[1], ev[5], 1e-12);
    CHECK_REL(r.bottom[0], ev[0], 1e-12);
    minima_eigs_result_free(&r);

    minima_linop_free(sub);
    size_t bad[2] = {3, 3};
    CHECK_STATUS(minima_linop_subset(&sub, op, bad, 2), MINIMA_EINVAL);
    CHECK(sub == NULL);
    size_t out_of_range[1] = {40};
    CHECK_STATUS(minima_linop_subset(&sub, op, out_of_range, 1), MINIMA_ERANGE);

    double d[40];
    for (size_t i = 0; i < n; i++) d[i] = 0.5 + 0.1 * (double)i;
    CHECK_OK(minima_linop_scaled(&sc, op, d));
    double *m = malloc(n * n * sizeof *m);
    CHECK_OK(minima_linop_to_dense(sc, m));
    for (size_t r2 = 0; r2 < n; r2++)
        for (size_t c = 0; c < n; c++)
            CHECK_ABS(m[r2 * n + c], d[r2] * a[r2 * n + c] * d[c], 1e-13);
    minima_linop_free(sc);
    d[5] = 0;
    CHECK_STATUS(minima_linop_scaled(&sc, op, d), MINIMA_EINVAL);
    CHECK(sc == NULL);
    minima_linop_free(op);
    free(a); free(m);
}

static void test_select_layers(void)
{
    int widths[4] = {6, 8, 5, 3};
    minima_model *m = NULL;
    CHECK_OK(minima_model_create(&m, 3, widths, 1, MINIMA_ACT_RELU));
    /* layout: W0 48 @0, b0 8 @48, W1 40 @56, b1 5 @96, W2 15 @101, b2 3 @116 */
    size_t *idx = NULL, k = 0;
    CHECK_OK(minima_linop_select_layers(m, "2", &idx, &k));
    CHECK(k == 45 && idx[0] == 56 && idx[44] == 100);
    minima_free(idx);
    CHECK_OK(minima_linop_select_layers(m, "4.bias,0.weight", &idx, &k));
    CHECK(k == 51 && idx[0] == 0 && idx[47] == 47 && idx[48] == 116 && idx[50] == 118);
    minima_free(idx);
    CHECK_OK(minima_linop_select_layers(m, "#2", &idx, &k));
    CHECK(k == 18 && idx[0] == 101);
    for (size_t i = 1; i < k; i++) CHECK(idx[i] == idx[i - 1] + 1);
    minima_free(idx);
    CHECK_OK(minima_linop_select_layers(m, "0,2,4", &idx, &k));
    CHECK(k == m->n_params);
    minima_free(idx);
    CHECK_STATUS(minima_linop_select_layers(m, "1", &idx, &k), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "'1'") != NULL);
    CHECK_STATUS(minima_linop_select_layers(m, "0,", &idx, &k), MINIMA_EINVAL);
    CHECK_STATUS(minima_linop_select_layers(m, "0,0.bias", &idx, &k), MINIMA_EINVAL);
    CHECK_STATUS(minima_linop_select_layers(m, "#3", &idx, &k), MINIMA_EINVAL);
    CHECK(idx == NULL && k == 0);
    minima_model_free(m);
}

/* ---- a network's Hessian ---------------------------------------------------- */

/* Lanczos on the Hessian operator of a 6-8-5-3 ReLU net with biases
 * (P = 119) under cross-entropy matches dsyevd of minima_net_hessian; the
 * Gauss-Newton, layer-subset and D H D operators match their dense forms. */
static void test_net_hessian(void)
{
    int widths[4] = {6, 8, 5, 3};
    minima_model *model = NULL;
    minima_dataset *data = NULL;
    minima_net *net = NULL;
    minima_linop *hop = NULL, *gop = NULL, *sub = NULL, *sc = NULL;
    CHECK_OK(minima_model_create(&model, 3, widths, 1, MINIMA_ACT_RELU));
    minima_model_init(model, 17);
    CHECK_OK(minima_dataset_create(&data, 40, 6, 3, 0));
    minima_rng rng;
    minima_rng_seed(&rng, 23);
    minima_rng_fill_normal(&rng, data->x, 40 * 6);
    for (size_t i = 0; i < 40; i++) data->labels[i] = (int32_t)minima_rng_below(&rng, 3);
    CHECK_OK(minima_net_create(&net, model, data, NULL));
    size_t P = minima_net_n_params(net);
    CHECK(P == 119);

    double *h = malloc(P * P * sizeof *h), *ev = malloc(P * sizeof *ev);
    CHECK_OK(minima_net_hessian(net, h));
    CHECK_OK(minima_spectrum_dense(P, h, ev, NULL));
    CHECK(ev[0] < 0 && ev[P - 1] > 0);    /* indefinite away from a minimum */

    CHECK_OK(minima_linop_hessian(&hop, net));
    CHECK(hop->n == P);
    size_t before = minima_net_n_products(net);
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = 5;
    p.k_bottom = 2;
    minima_eigs_result r;
    CHECK_OK(minima_eigs(hop, &p, &r));
    CHECK(r.converged);
    CHECK(minima_net_n_products(net) - before == r.n_products);
    for (int i = 0; i < 5; i++) CHECK_REL(r.top[i], ev[P - 1 - (size_t)i], 1e-10);
    for (int i = 0; i < 2; i++) CHECK_REL(r.bottom[i], ev[i], 1e-10);
    for (int i = 0; i < 5; i++) CHECK(r.top_true_residual[i] <= 1e-7 * fabs(r.top[i]));
    minima_eigs_result_free(&r);

    /* The Gauss-Newton operator: positive semi-definite, top values exact. */
    CHECK_OK(minima_linop_ggn(&gop, net));
    double *g = malloc(P * P * sizeof *g), *gev = malloc(P * sizeof *gev);
    CHECK_OK(minima_linop_to_dense(gop, g));
    CHECK_OK(minima_spectrum_dense(P, g, gev, NULL));
    CHECK(gev[0] > -1e-12 * gev[P - 1]);
    p.k_top = 3;
    p.k_bottom = 0;
    CHECK_OK(minima_eigs(gop, &p, &r));
    for (int i = 0; i < 3; i++) CHECK_REL(r.top[i], gev[P - 1 - (size_t)i], 1e-10);
    minima_eigs_result_free(&r);

    /* The last layer ("4": W 3x5 at 101, b at 116): its Hessian block. */
    size_t *idx = NULL, k = 0;
    CHECK_OK(minima_linop_select_layers(model, "4", &idx, &k));
    CHECK(k == 18 && idx[0] == 101);
    CHECK_OK(minima_linop_subset(&sub, hop, idx, k));
    double blk[18 * 18], want[18 * 18], bev[18];
    CHECK_OK(minima_linop_to_dense(sub, blk));
    for (size_t a = 0; a < k; a++)
        for (size_t b = 0; b < k; b++) want[a * k + b] = h[idx[a] * P + idx[b]];
    CHECK(harness_vec_reldiff(blk, want, k * k, 1e-300) < 1e-12);
    CHECK_OK(minima_spectrum_dense(k, want, bev, NULL));
    p.k_top = 2;
    CHECK_OK(minima_eigs(sub, &p, &r));
    CHECK_REL(r.top[0], bev[k - 1], 1e-10);
    CHECK_REL(r.top[1], bev[k - 2], 1e-10);
    minima_eigs_result_free(&r);
    minima_free(idx);

    /* D H D with a positive diagonal. */
    double *dd = malloc(P * sizeof *dd), *dh = malloc(P * P * sizeof *dh);
    for (size_t i = 0; i < P; i++) dd[i] = 0.5 + minima_rng_uniform(&rng);
    CHECK_OK(minima_linop_scaled(&sc, hop, dd));
    CHECK_OK(minima_linop_to_dense(sc, dh));
    double worst = 0, scale = 0;
    for (size_t a = 0; a < P; a++)
        for (size_t b = 0; b < P; b++) {
            worst = fmax(worst, fabs(dh[a * P + b] - dd[a] * h[a * P + b] * dd[b]));
            scale = fmax(scale, fabs(dh[a * P + b]));
        }
    CHECK_MSG(worst <= 1e-12 * scale, "D H D differs by %g (scale %g)", worst, scale);

    minima_linop_free(sc);
    minima_linop_free(sub);
    minima_linop_free(gop);
    minima_linop_free(hop);
    minima_net_free(net);
    minima_dataset_free(data);
    minima_model_free(model);
    free(h); free(ev); free(g); free(gev); free(dd); free(dh);
}

int main(void)
{
    RUN(test_lanczos_random_indefinite);
    RUN(test_lanczos_clustered);
    RUN(test_lanczos_no_spurious_copies);
    RUN(test_lanczos_repeated_eigenvalue);
    RUN(test_lanczos_invariant_subspace);
    RUN(test_lanczos_null_space);
    RUN(test_lanczos_zero_cluster);
    RUN(test_lanczos_restart_path);
    RUN(test_lanczos_step_api_and_seed);
    RUN(test_lanczos_small_and_errors);
    RUN(test_lanczos_nonfinite_and_nomem);
    RUN(test_lanczos_interrupt_partial);
    RUN(test_lanczos_interrupt_inside_product);
    RUN(test_power_iteration);
    RUN(test_dense_spectrum);
    RUN(test_subset_and_scaled);
    RUN(test_select_layers);
    RUN(test_net_hessian);
    return harness_report();
}
