/* test_block_lanczos.c — block Lanczos (minima_eigs_block) against LAPACK
 * dsyevd on dense matrices with clustered and repeated eigenvalues, on a
 * small network's Hessian and Gauss-Newton matrix (block products through
 * minima_linop_apply_block), the block apply of the operators, and the
 * refusals. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/eigen.h"
#include "minima/linop.h"
#include "minima/net.h"
#include "minima/rng.h"

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

/* ||A x - lambda x|| recomputed here with a dense GEMV. */
static double residual(const double *a, size_t n, const double *x, double lambda)
{
    double *y = malloc(n * sizeof *y), s = 0;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)n, 1.0, a, (int)n, x, 1, 0.0, y, 1);
    for (size_t i = 0; i < n; i++) s += (y[i] - lambda * x[i]) * (y[i] - lambda * x[i]);
    free(y);
    return sqrt(s);
}

/* A converged block result against the exact ascending spectrum: values to
 * 1e-10 relative, the reported true residuals equal to ones recomputed
 * here and within the tolerance, the estimates within it, orthonormal
 * vectors. */
static void check_result(const minima_eigs_result *r, const double *a, const double *exact,
                         size_t n, const minima_eigs_params *p)
{
    double anorm = fmax(fabs(exact[0]), fabs(exact[n - 1]));
    CHECK(r->converged);
    CHECK(r->n_top == p->k_top && r->n_bottom == p->k_bottom);
    for (int i = 0; i < r->n_top; i++) {
        double scale = fmax(fabs(r->top[i]), p->zero_floor * anorm);
        CHECK_MSG(harness_reldiff(r->top[i], exact[n - 1 - (size_t)i], 1e-300) <= 1e-10,
                  "top %d: %.15g, exact %.15g", i, r->top[i], exact[n - 1 - (size_t)i]);
        CHECK_MSG(r->top_residual[i] <= p->tol * scale, "top %d estimate %g", i,
                  r->top_residual[i]);
        double mine = residual(a, n, r->top_vectors + (size_t)i * n, r->top[i]);
        CHECK_MSG(fabs(mine - r->top_true_residual[i]) <= 1e-12 * anorm,
                  "top %d: reported true residual %g, recomputed %g", i, r->top_true_residual[i],
                  mine);
        CHECK_MSG(mine <= 10 * p->tol * scale, "top %d true residual %g", i, mine);
    }
    for (int i = 0; i < r->n_bottom; i++) {
        double scale = fmax(fabs(r->bottom[i]), p->zero_floor * anorm);
        CHECK_MSG(harness_reldiff(r->bottom[i], exact[i], 1e-300) <= 1e-10, "bottom %d", i);
        double mine = residual(a, n, r->bottom_vectors + (size_t)i * n, r->bottom[i]);
        CHECK_MSG(fabs(mine - r->bottom_true_residual[i]) <= 1e-12 * anorm, "bottom %d", i);
        CHECK_MSG(mine <= 10 * p->tol * scale, "bottom %d true residual %g", i, mine);
    }
    size_t k = (size_t)r->n_top;
    if (k) CHECK(orthonormality(r->top_vectors, k, n) < 1e-12);
}

/* The top 12 in four tight clusters of three (gaps 1e-7), one of them an
 * exact triple, above a bulk in [-1, 1]: every copy found, for blocks of
 * 1 (single vector: the triple needs luck, so only distinct values are
 * asked), 3 and 4, with restarts. */
static void test_clustered(void)
{
    size_t n = 300;
    double *lambda = malloc(n * sizeof *lambda), *exact = malloc(n * sizeof *exact);
    minima_rng rng;
    minima_rng_seed(&rng, 5);
    for (size_t i = 0; i < n; i++) lambda[i] = 2 * minima_rng_uniform(&rng) - 1;
    for (int c = 0; c < 4; c++)
        for (int t = 0; t < 3; t++)
            lambda[3 * c + t] = 10.0 - 2.0 * c + (c == 1 ? 0.0 : 1e-7 * t);
    double *a = harness_spectral_matrix(n, lambda, 6);
    CHECK_OK(minima_spectrum_dense(n, a, exact, NULL));
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    static const size_t blocks[] = {3, 4, 5};
    for (int t = 0; t < 3; t++) {
        minima_eigs_params p = minima_eigs_default_params();
        p.k_top = 12;
        p.k_bottom = t == 2 ? 2 : 0;
        p.max_basis = 44;   /* forces restarts */
        p.seed = 7;
        minima_eigs_result r;
        size_t before = op->n_applies;
        CHECK_OK(minima_eigs_block(op, blocks[t], &p, &r));
        check_result(&r, a, exact, n, &p);
        CHECK(r.n_restarts > 0);
        CHECK(r.n_products == op->n_applies - before);
        CHECK(r.n_products == r.n_steps * blocks[t] + 12 + (size_t)p.k_bottom);
        minima_eigs_result_free(&r);
    }
    /* Block of 1 on distinct eigenvalues equals the single-vector method's
     * values. */
    {
        minima_eigs_params p = minima_eigs_default_params();
        p.k_top = 3;
        p.k_bottom = 3;
        minima_eigs_result r;
        for (size_t i = 0; i < n; i++) lambda[i] = (double)i / (double)n;
        lambda[0] = 5;
        lambda[1] = 4;
        lambda[2] = 3.5;
        double *b = harness_spectral_matrix(n, lambda, 8);
        minima_linop *ob = NULL;
        CHECK_OK(minima_spectrum_dense(n, b, exact, NULL));
        CHECK_OK(minima_linop_dense(&ob, n, b));
        CHECK_OK(minima_eigs_block(ob, 1, &p, &r));
        check_result(&r, b, exact, n, &p);
        minima_eigs_result_free(&r);
        minima_linop_free(ob);
        free(b);
    }
    minima_linop_free(op);
    free(a);
    free(lambda);
    free(exact);
}

/* A small network: top 5 of the Hessian and of the Gauss-Newton matrix by
 * blocks of 4 against the dense matrices; the operators' block apply
 * equals single applies. */
static void test_network(void)
{
    const char *arch = "6:7,relu,6,tanh,4";
    minima_model *m = harness_graph_model(arch, 3);
    minima_dataset *d = m ? harness_graph_data(m, 40, 4) : NULL;
    minima_net *net = d ? harness_net(m, d, MINIMA_LOSS_CE) : NULL;
    if (!net) goto out;
    size_t P = minima_net_n_params(net);
    double *H = malloc(P * P * sizeof *H), *exact = malloc(P * sizeof *exact);
    CHECK_OK(minima_net_hessian(net, H));
    CHECK_OK(minima_spectrum_dense(P, H, exact, NULL));
    for (int ggn = 0; ggn < 2; ggn++) {
        minima_linop *op = NULL;
        if (ggn) CHECK_OK(minima_linop_ggn(&op, net));
        else CHECK_OK(minima_linop_hessian(&op, net));
        if (!op) continue;
        CHECK(op->apply_block != NULL);
        if (ggn) {   /* the dense Gauss-Newton matrix from its products */
            CHECK_OK(minima_linop_to_dense(op, H));
            CHECK_OK(minima_spectrum_dense(P, H, exact, NULL));
        }
        /* block apply = single applies, counted as 3 */
        double *X = malloc(3 * P * sizeof *X), *Y = malloc(3 * P * sizeof *Y), *y = malloc(P * sizeof *y);
        for (size_t i = 0; i < 3 * P; i++) X[i] = cos(0.7 * (double)i);
        size_t before = op->n_applies;
        CHECK_OK(minima_linop_apply_block(op, 3, X, Y));
        CHECK(op->n_applies == before + 3);
        for (size_t j = 0; j < 3; j++) {
            CHECK_OK(minima_linop_apply(op, X + j * P, y));
            CHECK(harness_vec_reldiff(Y + j * P, y, P, 1e-300) <= 1e-13);
        }
        minima_eigs_params p = minima_eigs_default_params();
        p.k_top = 5;
        p.seed = 2;
        minima_eigs_result r;
        CHECK_OK(minima_eigs_block(op, 4, &p, &r));
        check_result(&r, H, exact, P, &p);
        minima_eigs_result_free(&r);
        free(X);
        free(Y);
        free(y);
        minima_linop_free(op);
    }
    free(H);
    free(exact);
out:
    minima_net_free(net);
    minima_dataset_free(d);
    minima_model_free(m);
}

static void test_refusals(void)
{
    size_t n = 30;
    double *lambda = malloc(n * sizeof *lambda);
    for (size_t i = 0; i < n; i++) lambda[i] = (double)i;
    double *a = harness_spectral_matrix(n, lambda, 1);
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    minima_eigs_params p = minima_eigs_default_params();
    minima_eigs_result r;
    CHECK_STATUS(minima_eigs_block(op, 0, &p, &r), MINIMA_EINVAL);
    p.max_basis = 5;
    p.k_top = 2;
    CHECK_STATUS(minima_eigs_block(op, 2, &p, &r), MINIMA_EINVAL);   /* 2 + 4 > 5 */
    p.max_basis = 28;
    CHECK_STATUS(minima_eigs_block(op, 4, &p, &r), MINIMA_EINVAL);   /* 28 + 4 > 30 */
    p.max_basis = 0;
    p.max_products = 8;
    p.tol = 1e-14;
    CHECK_STATUS(minima_eigs_block(op, 4, &p, &r), MINIMA_ENOCONV);
    CHECK(r.n_top == 2 && !r.converged && r.top_true_residual);
    minima_eigs_result_free(&r);
    CHECK_STATUS(minima_linop_apply_block(op, 0, a, a + n), MINIMA_EINVAL);
    minima_linop_free(op);
    free(a);
    free(lambda);
}

int main(void)
{
    RUN(test_clustered);
    RUN(test_network);
    RUN(test_refusals);
    return harness_report();
}
