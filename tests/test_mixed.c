/* test_mixed.c — mixed precision: float32 products of a float64 net on
 * demand, and mixed-precision Lanczos (float32 phase, float64 refinement)
 * against LAPACK dsyevd and the float64 solver. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/api.h"
#include "minima/eigen.h"
#include "minima/linop.h"
#include "minima/net.h"
#include "minima/rng.h"

/* ---- fixtures ------------------------------------------------------------ */

static minima_model *make_model(int K, const int *widths, minima_loss loss, uint64_t seed)
{
    minima_model *m = NULL;
    if (minima_model_create(&m, K, widths, 1, MINIMA_ACT_RELU) != MINIMA_OK) abort();
    minima_model_init(m, seed);
    m->loss = loss;
    return m;
}

static minima_dataset *make_data(size_t n, int d, int classes, int dtarget, uint64_t seed)
{
    minima_dataset *x = NULL;
    if (minima_dataset_create(&x, n, d, classes, dtarget) != MINIMA_OK) abort();
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    minima_rng_fill_normal(&rng, x->x, n * (size_t)d);
    for (size_t i = 0; classes && i < n; i++)
        x->labels[i] = (int32_t)minima_rng_below(&rng, (uint64_t)classes);
    if (dtarget) minima_rng_fill_normal(&rng, x->targets, n * (size_t)dtarget);
    return x;
}

/* ---- artificial low-precision operators ------------------------------------ */

/* y = A x + e, ||e|| = rel ||A x||, e a Gaussian direction from a private
 * stream (deterministic for a deterministic sequence of products). */
typedef struct { size_t n; const double *a; double rel; minima_rng rng; double *g; } noisy_ctx;

static minima_status noisy_apply(void *ctx, const double *x, double *y)
{
    noisy_ctx *c = ctx;
    int n = (int)c->n;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, n, n, 1.0, c->a, n, x, 1, 0.0, y, 1);
    minima_rng_fill_normal(&c->rng, c->g, c->n);
    double s = c->rel * cblas_dnrm2(n, y, 1) / cblas_dnrm2(n, c->g, 1);
    cblas_daxpy(n, s, c->g, 1, y, 1);
    return MINIMA_OK;
}

/* y = A_f x_f in float: the matrix and the vector rounded to float, the
 * product accumulated in float (as a float32 network product). */
typedef struct { size_t n; float *a, *x, *y; } float_ctx;

static minima_status float_apply(void *ctx, const double *x, double *y)
{
    float_ctx *c = ctx;
    for (size_t i = 0; i < c->n; i++) c->x[i] = (float)x[i];
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)c->n, (int)c->n, 1.0f, c->a, (int)c->n, c->x, 1,
                0.0f, c->y, 1);
    for (size_t i = 0; i < c->n; i++) y[i] = c->y[i];
    return MINIMA_OK;
}

/* ||A x - lambda x|| with a fresh float64 product. */
static double residual(const double *a, size_t n, const double *x, double lambda)
{
    double *y = malloc(n * sizeof *y);
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, a, (int)n, x, 1, 0.0, y, 1);
    cblas_daxpy((int)n, -lambda, x, 1, y, 1);
    double r = cblas_dnrm2((int)n, y, 1);
    free(y);
    return r;
}

/* The result against dsyevd's spectrum (ascending `exact`) and A itself:
 * values, float64 residuals recomputed here, orthonormal vectors. */
static void check_mixed(const minima_eigs_result *r, const double *a, const double *exact,
                        size_t n, const minima_eigs_params *p)
{
    double anorm = fmax(fabs(exact[0]), fabs(exact[n - 1]));
    CHECK(r->converged);
    CHECK(r->n_top == p->k_top && r->n_bottom == p->k_bottom);
    for (int i = 0; i < r->n_top + r->n_bottom; i++) {
        int top = i < r->n_top;
        int k = top ? i : i - r->n_top;
        double lam = top ? r->top[k] : r->bottom[k];
        const double *x = (top ? r->top_vectors : r->bottom_vectors) + (size_t)k * n;
        double want = top ? exact[n - 1 - (size_t)k] : exact[k];
        double rep = top ? r->top_residual[k] : r->bottom_residual[k];
        double tru = top ? r->top_true_residual[k] : r->bottom_true_residual[k];
        double bound = p->tol * fmax(fabs(lam), p->zero_floor * anorm);
        double fresh = residual(a, n, x, lam);
        CHECK_MSG(fabs(lam - want) <= 1e-9 * anorm, "%s %d: %.17g, LAPACK %.17g", top ? "top" : "bottom",
                  k, lam, want);
        CHECK_MSG(rep <= bound && tru == rep, "%s %d: residual %g, bound %g", top ? "top" : "bottom",
                  k, rep, bound);
        /* the reported residual is a float64 one: a fresh product agrees */
        CHECK_MSG(fresh <= 1.5 * bound && fabs(fresh - rep) <= 1e-3 * bound + 1e-13 * anorm,
                  "%s %d: fresh residual %g, reported %g", top ? "top" : "bottom", k, fresh, rep);
    }
    for (int i = 0; i < r->n_top; i++)
        for (int j = 0; j < r->n_top; j++) {
            double d = cblas_ddot((int)n, r->top_vectors + (size_t)i * n, 1,
                                  r->top_vectors + (size_t)j * n, 1);
            CHECK(fabs(d - (i == j)) < 1e-12);
        }
}

/* ---- float32 products of a float64 net ---------------------------------------- */

static void test_net_f32_on_demand(void)
{
    const int widths[] = {6, 9, 8, 4};
    for (int loss = 0; loss < 2; loss++) {
        minima_loss L = loss ? MINIMA_LOSS_MSE : MINIMA_LOSS_CE;
        minima_model *m = make_model(3, widths, L, 80 + (uint64_t)loss);
        minima_dataset *x = make_data(45, 6, 4, loss ? 4 : 0, 81);
        minima_net_params p64 = minima_net_default_params(m), p32 = p64;
        p64.batch_size = p32.batch_size = 16;
        p32.float32 = 1;
        minima_net *a = NULL, *b = NULL, *tight = NULL;
        CHECK_OK(minima_net_create(&a, m, x, &p64));
        CHECK_OK(minima_net_create(&b, m, x, &p32));
        size_t bytes64 = minima_net_cache_bytes(a), bytes32 = minima_net_cache_bytes(b);
        CHECK(bytes32 > bytes64);
        /* a limit that holds the float64 cache but not its float32 copy */
        minima_net_params pt = p64;
        pt.cache_limit = bytes64;
        CHECK_OK(minima_net_create(&tight, m, x, &pt));
        size_t P = m->n_params;
        double *v = malloc(P * sizeof *v), *h64 = malloc(P * sizeof *h64),
               *h64b = malloc(P * sizeof *h64b), *ha = malloc(P * sizeof *ha),
               *hb = malloc(P * sizeof *hb), *ht = malloc(P * sizeof *ht);
        minima_rng rng;
        minima_rng_seed(&rng, 90);
        minima_rng_fill_normal(&rng, v, P);
        CHECK_OK(minima_net_hvp(a, v, h64));
        for (int full = 0; full < 2; full++) {
            CHECK_OK(full ? minima_net_hvp_f32(a, v, ha) : minima_net_ggnvp_f32(a, v, ha));
            CHECK_OK(full ? minima_net_hvp(b, v, hb) : minima_net_ggnvp(b, v, hb));
            CHECK_OK(full ? minima_net_hvp_f32(tight, v, ht) : minima_net_ggnvp_f32(tight, v, ht));
            /* the same float32 passes on the same rounded numbers */
            CHECK(memcmp(ha, hb, P * sizeof *ha) == 0);
            CHECK(memcmp(ha, ht, P * sizeof *ha) == 0);
            CHECK_OK(full ? minima_net_hvp(a, v, h64b) : minima_net_ggnvp(a, v, h64b));
            double e = harness_vec_reldiff(ha, h64b, P, 1e-300);
            CHECK_MSG(e < 1e-5 && e > 0, "loss %d %s: float32 product off by %g", loss,
                      full ? "H" : "G", e);
        }
        /* float64 products are untouched by the float32 ones */
        CHECK_OK(minima_net_hvp(a, v, h64b));
        CHECK(memcmp(h64, h64b, P * sizeof *h64) == 0);
        /* the float32 copy is counted once allocated, and only if kept */
        CHECK(minima_net_cache_bytes(a) == bytes32);
        CHECK(minima_net_cache_bytes(tight) == bytes64);
        CHECK(minima_net_n_products(a) == 6);   /* 2 float32, 4 float64 */
        /* a new anchor reaches the float32 point and cache */
        double *t = malloc(P * sizeof *t);
        for (size_t i = 0; i < P; i++) t[i] = 0.9 * m->theta[i];
        CHECK_OK(minima_net_set_point(a, t));
        CHECK_OK(minima_net_set_point(b, t));
        CHECK_OK(minima_net_hvp_f32(a, v, ha));
        CHECK_OK(minima_net_hvp(b, v, hb));
        CHECK(memcmp(ha, hb, P * sizeof *ha) == 0);
        CHECK_OK(minima_net_hvp(a, v, h64));
        CHECK(harness_vec_reldiff(ha, h64, P, 1e-300) < 1e-5);
        /* the operators */
        minima_linop *oh = NULL, *og = NULL;
        CHECK_OK(minima_linop_hessian_f32(&oh, a));
        CHECK_OK(minima_linop_ggn_f32(&og, a));
        CHECK(oh->n == P && og->n == P);
        CHECK_OK(minima_linop_apply(oh, v, hb));
        CHECK(memcmp(ha, hb, P * sizeof *ha) == 0);
        CHECK_OK(minima_net_ggnvp_f32(a, v, ha));
        CHECK_OK(minima_linop_apply(og, v, hb));
        CHECK(memcmp(ha, hb, P * sizeof *ha) == 0);
        CHECK(minima_linop_hessian_f32(NULL, a) == MINIMA_EINVAL);
        CHECK(minima_net_hvp_f32(a, v, (double *)v) == MINIMA_EINVAL);
        minima_linop_free(oh); minima_linop_free(og);
        free(t); free(v); free(h64); free(h64b); free(ha); free(hb); free(ht);
        minima_net_free(a); minima_net_free(b); minima_net_free(tight);
        minima_dataset_free(x);
        minima_model_free(m);
    }
}

/* ---- mixed-precision Lanczos on dense matrices ---------------------------------- */

static void run_dense_case(const char *what, size_t n, const double *lambda, int kt, int kb,
                           int float_op, double tol, int most_low)
{
    double *a = harness_spectral_matrix(n, lambda, 5);
    double *exact = malloc(n * sizeof *exact);
    CHECK_OK(minima_spectrum_dense(n, a, exact, NULL));
    minima_linop *op = NULL, *low = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    noisy_ctx nc;
    memset(&nc, 0, sizeof nc);
    nc.n = n; nc.a = a; nc.rel = 1e-6; nc.g = malloc(n * sizeof(double));
    float_ctx fc = {n, malloc(n * n * sizeof(float)), malloc(n * sizeof(float)),
                    malloc(n * sizeof(float))};
    for (size_t i = 0; i < n * n; i++) fc.a[i] = (float)a[i];
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = kt;
    p.k_bottom = kb;
    p.tol = tol;
    p.seed = 7;
    minima_eigs_result r, r2, r64;
    for (int rep = 0; rep < 2; rep++) {
        minima_rng_seed(&nc.rng, 99);
        if (float_op) CHECK_OK(minima_linop_create(&low, n, float_apply, &fc, NULL));
        else CHECK_OK(minima_linop_create(&low, n, noisy_apply, &nc, NULL));
        op->n_applies = 0;
        p.op_low = low;
        CHECK_OK(minima_eigs(op, &p, rep ? &r2 : &r));
        minima_eigs_result *x = rep ? &r2 : &r;
        CHECK(x->n_products == op->n_applies + low->n_applies);
        CHECK(x->n_products_low == low->n_applies);
        minima_linop_free(low);
    }
    check_mixed(&r, a, exact, n, &p);
    /* most products in low precision */
    if (most_low)
        CHECK_MSG(2 * r.n_products_low > r.n_products, "%s: %zu of %zu products in low precision",
                  what, r.n_products_low, r.n_products);
    /* same seed, same result */
    CHECK(r.n_products == r2.n_products && r.n_products_low == r2.n_products_low);
    CHECK(memcmp(r.top, r2.top, (size_t)kt * sizeof *r.top) == 0);
    CHECK(memcmp(r.top_vectors, r2.top_vectors, (size_t)kt * n * sizeof(double)) == 0);
    /* the float64 solver agrees and needs comparable work */
    p.op_low = NULL;
    CHECK_OK(minima_eigs(op, &p, &r64));
    for (int i = 0; i < kt; i++) CHECK_REL(r.top[i], r64.top[i], 1e-9);
    for (int i = 0; i < kb; i++) CHECK(fabs(r.bottom[i] - r64.bottom[i]) <= 1e-9 * fabs(exact[n - 1]));
    fprintf(stderr, "  %s: mixed %zu products (%zu low), float64 %zu\n", what, r.n_products,
            r.n_products_low, r64.n_products);
    minima_eigs_result_free(&r); minima_eigs_result_free(&r2); minima_eigs_result_free(&r64);
    minima_linop_free(op);
    free(nc.g); free(fc.a); free(fc.x); free(fc.y);
    free(a); free(exact);
}

static void test_mixed_dense(void)
{
    size_t n = 400;
    double *lambda = malloc(n * sizeof *lambda);
    minima_rng rng;
    minima_rng_seed(&rng, 11);
    /* indefinite: a few outliers over a bulk, as a Hessian */
    for (size_t i = 0; i < n; i++) lambda[i] = minima_rng_uniform(&rng) * 2.0 - 0.5;
    for (int i = 0; i < 8; i++) lambda[i] = 30.0 / (1 + i) + 1.0;
    lambda[8] = -4.0; lambda[9] = -3.0;
    run_dense_case("noisy, top 6 + bottom 2", n, lambda, 6, 2, 0, 1e-10, 0);
    run_dense_case("float matrix, top 6 + bottom 2", n, lambda, 6, 2, 1, 1e-10, 0);
    run_dense_case("float matrix, top 20", n, lambda, 20, 0, 1, 1e-10, 0);
    /* a cluster at the top (relative gaps 1e-4) */
    for (int i = 0; i < 4; i++) lambda[i] = 10.0 - 1e-3 * i;
    run_dense_case("noisy, cluster", n, lambda, 4, 0, 0, 1e-10, 0);
    /* slow convergence (small relative gaps all along a Hessian-like decay):
     * the float32 phase does most of the work */
    n = 600;
    double *decay = malloc(n * sizeof *decay);
    for (size_t i = 0; i < n; i++) decay[i] = 1.0 - (double)i / (double)n;
    run_dense_case("noisy, uniform spectrum, top 3, tol 1e-10", n, decay, 3, 0, 0, 1e-10, 0);
    run_dense_case("noisy, uniform spectrum, top 3, tol 1e-7", n, decay, 3, 0, 0, 1e-7, 1);
    run_dense_case("float matrix, uniform spectrum, top 3 + bottom 1, tol 1e-7", n, decay, 3, 1, 1,
                   1e-7, 1);
    free(decay);
    free(lambda);
}

/* A loose tolerance: the float32 phase does it all; the float64 products
 * only check (one per pair and neighbour). */
static void test_mixed_loose_and_budget(void)
{
    size_t n = 200;
    double *lambda = malloc(n * sizeof *lambda);
    for (size_t i = 0; i < n; i++) lambda[i] = (double)i / (double)n;
    lambda[0] = 5.0; lambda[1] = 4.0; lambda[2] = 3.5;
    double *a = harness_spectral_matrix(n, lambda, 9);
    minima_linop *op = NULL, *low = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    noisy_ctx nc;
    memset(&nc, 0, sizeof nc);
    nc.n = n; nc.a = a; nc.rel = 1e-6; nc.g = malloc(n * sizeof(double));
    minima_rng_seed(&nc.rng, 1);
    CHECK_OK(minima_linop_create(&low, n, noisy_apply, &nc, NULL));
    minima_eigs_params p = minima_eigs_default_params();
    p.k_top = 3;
    p.tol = 1e-4;
    p.op_low = low;
    minima_eigs_result r;
    CHECK_OK(minima_eigs(op, &p, &r));
    CHECK(r.converged);
    /* one float64 product per wanted pair and neighbour (up to 10), no more */
    CHECK_MSG(r.n_products - r.n_products_low >= 3 && r.n_products - r.n_products_low <= 13,
              "%zu float64 products", r.n_products - r.n_products_low);
    for (int i = 0; i < 3; i++) {
        CHECK(r.top_residual[i] <= 1e-4 * r.top[i]);
        CHECK(fabs(residual(a, n, r.top_vectors + (size_t)i * n, r.top[i]) - r.top_residual[i]) <
              1e-12);
    }
    minima_eigs_result_free(&r);
    /* a budget too small: ENOCONV with float64 residuals and the pairs */
    p.tol = 1e-12;
    p.max_products = 30;
    CHECK(minima_eigs(op, &p, &r) == MINIMA_ENOCONV);
    CHECK(!r.converged && r.n_top == 3);
    CHECK(r.n_products <= 30 + 13);
    CHECK(fabs(residual(a, n, r.top_vectors, r.top[0]) - r.top_residual[0]) < 1e-12);
    minima_eigs_result_free(&r);
    /* a low operator of another size */
    minima_linop *small = NULL;
    CHECK_OK(minima_linop_create(&small, n - 1, noisy_apply, &nc, NULL));
    p.op_low = small;
    CHECK(minima_eigs(op, &p, &r) == MINIMA_ESHAPE);
    minima_eigs_result_free(&r);
    minima_linop_free(small);
    minima_linop_free(low);
    minima_linop_free(op);
    free(nc.g); free(a); free(lambda);
}

/* ---- a real network: mixed against float64 ---------------------------------------- */

static void test_mixed_net(void)
{
    const int widths[] = {12, 24, 16, 5};
    minima_model *m = make_model(3, widths, MINIMA_LOSS_CE, 3);
    minima_dataset *x = make_data(300, 12, 5, 0, 4);
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, x, NULL));
    for (int ggn = 0; ggn < 2; ggn++) {
        minima_linop *op = NULL, *low = NULL;
        CHECK_OK(ggn ? minima_linop_ggn(&op, net) : minima_linop_hessian(&op, net));
        CHECK_OK(ggn ? minima_linop_ggn_f32(&low, net) : minima_linop_hessian_f32(&low, net));
        minima_eigs_params p = minima_eigs_default_params();
        p.k_top = 8;
        p.k_bottom = ggn ? 0 : 2;
        minima_eigs_result r64, rm;
        CHECK_OK(minima_eigs(op, &p, &r64));
        size_t before = op->n_applies;
        p.op_low = low;
        CHECK_OK(minima_eigs(op, &p, &rm));
        CHECK(rm.converged && rm.n_products_low == low->n_applies);
        CHECK(rm.n_products - rm.n_products_low == op->n_applies - before);
        double anorm = fabs(r64.top[0]);
        for (int i = 0; i < p.k_top; i++) {
            CHECK_MSG(fabs(rm.top[i] - r64.top[i]) <= 1e-9 * anorm, "%s top %d: %.17g vs %.17g",
                      ggn ? "G" : "H", i, rm.top[i], r64.top[i]);
            CHECK(rm.top_residual[i] <= p.tol * fmax(fabs(rm.top[i]), 0.1 * anorm));
        }
        for (int i = 0; i < p.k_bottom; i++)
            CHECK(fabs(rm.bottom[i] - r64.bottom[i]) <= 1e-9 * anorm);
        /* the reported residual against a fresh float64 product */
        size_t P = op->n;
        double *y = malloc(P * sizeof *y);
        CHECK_OK(minima_linop_apply(op, rm.top_vectors, y));
        cblas_daxpy((int)P, -rm.top[0], rm.top_vectors, 1, y, 1);
        CHECK(fabs(cblas_dnrm2((int)P, y, 1) - rm.top_residual[0]) <= 1e-3 * p.tol * anorm);
        fprintf(stderr, "  net %s: mixed %zu products (%zu float32), float64 %zu\n",
                ggn ? "GGN" : "Hessian", rm.n_products, rm.n_products_low, r64.n_products);
        free(y);
        minima_eigs_result_free(&r64); minima_eigs_result_free(&rm);
        minima_linop_free(op); minima_linop_free(low);
    }
    minima_net_free(net);
    minima_dataset_free(x);
    minima_model_free(m);
}

/* Allocation failures: the lazy float32 workspaces fail cleanly (the net
 * keeps working in float64 and gives the float32 product once memory is
 * back), and so does the mixed solver. */
static void test_nomem(void)
{
    const int widths[] = {5, 7, 3};
    minima_model *m = make_model(2, widths, MINIMA_LOSS_CE, 5);
    minima_dataset *x = make_data(30, 5, 3, 0, 6);
    minima_net *net = NULL, *ref = NULL;
    minima_net_params p32 = minima_net_default_params(m);
    p32.float32 = 1;
    CHECK_OK(minima_net_create(&net, m, x, NULL));
    CHECK_OK(minima_net_create(&ref, m, x, &p32));
    size_t P = m->n_params;
    double *v = malloc(P * sizeof *v), *h = malloc(P * sizeof *h), *h32 = malloc(P * sizeof *h32),
           *h64 = malloc(P * sizeof *h64), *h64b = malloc(P * sizeof *h64b);
    for (size_t i = 0; i < P; i++) v[i] = sin((double)i);
    CHECK_OK(minima_net_hvp(net, v, h64));
    CHECK_OK(minima_net_hvp(ref, v, h32));
    int failures = 0;
    for (long k = 0; k < 40; k++) {
        minima_alloc_fail_after(k);
        minima_status st = minima_net_hvp_f32(net, v, h);
        minima_alloc_fail_after(-1);
        if (st == MINIMA_OK) break;
        CHECK(st == MINIMA_ENOMEM);
        failures++;
        CHECK_OK(minima_net_hvp(net, v, h64b));
        CHECK(memcmp(h64, h64b, P * sizeof *h64) == 0);
    }
    CHECK(failures >= 12);
    CHECK(memcmp(h, h32, P * sizeof *h) == 0);

    minima_linop *op = NULL, *low = NULL;
    CHECK_OK(minima_linop_hessian(&op, net));
    CHECK_OK(minima_linop_hessian_f32(&low, net));
    minima_eigs_params ep = minima_eigs_default_params();
    ep.k_top = 2;
    ep.op_low = low;
    minima_eigs_result r;
    failures = 0;
    for (long k = 0; k < 60; k++) {
        minima_alloc_fail_after(k);
        minima_status st = minima_eigs(op, &ep, &r);
        minima_alloc_fail_after(-1);
        minima_eigs_result_free(&r);
        if (st == MINIMA_OK) break;
        CHECK(st == MINIMA_ENOMEM);
        failures++;
    }
    CHECK(failures > 5);
    minima_linop_free(op); minima_linop_free(low);
    free(v); free(h); free(h32); free(h64); free(h64b);
    minima_net_free(net); minima_net_free(ref);
    minima_dataset_free(x);
    minima_model_free(m);
}

/* The plain-types API's spectrum request takes precision= as the command does. */
static void test_api_precision(void)
{
    const int widths[] = {5, 7, 3};
    minima_model *m = make_model(2, widths, MINIMA_LOSS_CE, 5);
    minima_dataset *x = make_data(30, 5, 3, 0, 6);
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, x, NULL));
    char *json = NULL;
    CHECK_OK(minima_api_spectrum(net, "top=2,precision=mixed,trace=1", &json));
    CHECK(json && strstr(json, "\"precision\": \"mixed\"") && strstr(json, "\"n_hvp_float32\": ") &&
          strstr(json, "\"precision\": \"float32\"}"));
    minima_api_free_string(json);
    json = NULL;
    CHECK_OK(minima_api_spectrum(net, "top=2,trace=1", &json));
    CHECK(json && strstr(json, "\"precision\": \"auto\""));
    minima_api_free_string(json);
    json = NULL;
    CHECK_OK(minima_api_spectrum(net, "top=1,trace=1,precision=float64", &json));
    CHECK(json && strstr(json, "\"n_hvp_float32\": 0,"));
    minima_api_free_string(json);
    json = NULL;
    CHECK(minima_api_spectrum(net, "top=1,precision=half", &json) == MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "'half'") != NULL);
    minima_api_free_string(json);
    minima_net_free(net);
    minima_dataset_free(x);
    minima_model_free(m);
}

int main(void)
{
    RUN(test_net_f32_on_demand);
    RUN(test_mixed_dense);
    RUN(test_mixed_loose_and_budget);
    RUN(test_mixed_net);
    RUN(test_nomem);
    RUN(test_api_precision);
    return harness_report();
}
