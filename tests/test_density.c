/* test_density.c — stochastic Lanczos quadrature on operators with known
 * spectra: quadrature moments, mass in each cluster, integral 1, PyHessian's
 * grid and width, exact quadrature at an invariant subspace. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/density.h"
#include "minima/linop.h"
#include "minima/rng.h"

typedef struct { size_t n; const double *d; } diag_ctx;

static minima_status diag_apply(void *vctx, const double *x, double *y)
{
    const diag_ctx *c = vctx;
    for (size_t i = 0; i < c->n; i++) y[i] = c->d[i] * x[i];
    return MINIMA_OK;
}

/* Trapezoid integral of the density over the grid points within [lo, hi]. */
static double mass(const minima_density_result *r, double lo, double hi)
{
    double s = 0;
    for (size_t g = 0; g + 1 < r->n_grid; g++) {
        if (r->grid[g] < lo || r->grid[g + 1] > hi) continue;
        s += 0.5 * (r->values[g] + r->values[g + 1]) * (r->grid[g + 1] - r->grid[g]);
    }
    return s;
}

/* The mass of phi beyond the grid's ends: the Gaussians of the extreme
 * nodes reach past the 0.01 margin (sigma ~ 0.01 here), which is why
 * PyHessian renormalises. Grid integral + tails = 1 up to the trapezoid
 * rule's error where the grid cuts a Gaussian (~1e-5 here). */
static double tails(const minima_density_result *r)
{
    double s = 0, sd = sqrt(r->sigma2);
    for (size_t i = 0; i < r->n_nodes; i++)
        s += r->weights[i] * 0.5 * (erfc((r->nodes[i] - r->lambda_min) / (sd * sqrt(2.0))) +
                                    erfc((r->lambda_max - r->nodes[i]) / (sd * sqrt(2.0))));
    return s / (double)r->n_draws;
}

/* Three clusters: 300 eigenvalues near -1, 500 near 2, 200 near 10. */
static double *clusters(size_t n)
{
    double *d = malloc(n * sizeof *d);
    minima_rng rng;
    minima_rng_seed(&rng, 5);
    for (size_t i = 0; i < n; i++) {
        double u = minima_rng_uniform(&rng) - 0.5;
        d[i] = i < 300 ? -1.0 + 0.1 * u : i < 800 ? 2.0 + 0.1 * u : 10.0 + 0.2 * u;
    }
    return d;
}

static void test_clusters_pyhessian_defaults(void)
{
    size_t n = 1000;
    double *d = clusters(n);
    diag_ctx ctx = {n, d};
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_create(&op, n, diag_apply, &ctx, NULL));
    minima_density_params p = minima_density_default_params();
    CHECK(p.n_steps == 100 && p.n_draws == 1 && p.n_grid == 10000);
    minima_density_result r;
    CHECK_OK(minima_density_slq(op, &p, &r));
    CHECK(r.n_products == 100 && op->n_applies == 100);
    CHECK(r.n_nodes == 100 && r.draw_start[0] == 0 && r.draw_start[1] == 100);

    /* A unit Rademacher vector has v_i^2 = 1/n: on a diagonal matrix the
     * quadrature's moments are exactly the spectrum's, up to degree 2m-1. */
    double mean = 0, m2 = 0, m3 = 0, wsum = 0, tmean = 0, t2 = 0, t3 = 0;
    for (size_t i = 0; i < n; i++) {
        tmean += d[i] / n;
        t2 += d[i] * d[i] / n;
        t3 += d[i] * d[i] * d[i] / n;
    }
    for (size_t i = 0; i < r.n_nodes; i++) {
        double x = r.nodes[i], w = r.weights[i];
        wsum += w;
        mean += w * x;
        m2 += w * x * x;
        m3 += w * x * x * x;
    }
    CHECK_REL(wsum, 1.0, 1e-12);
    CHECK_REL(mean, tmean, 1e-11);
    CHECK_REL(m2, t2, 1e-11);
    CHECK_REL(m3, t3, 1e-11);

    /* PyHessian's grid and width. */
    double lo = r.nodes[0], hi = r.nodes[r.n_nodes - 1];
    CHECK_REL(r.lambda_min, lo - 0.01, 1e-15);
    CHECK_REL(r.lambda_max, hi + 0.01, 1e-15);
    CHECK_REL(r.sigma2, 1e-5 * (r.lambda_max - r.lambda_min), 1e-15);
    CHECK(r.grid[0] == r.lambda_min && r.grid[9999] == r.lambda_max);
    CHECK(lo >= -1.05 - 1e-9 && lo < -1.0 && hi <= 10.1 + 1e-9 && hi > 10.0);

    /* Integral 1; the right mass near each cluster. */
    double total = mass(&r, -INFINITY, INFINITY), out = tails(&r);
    CHECK_MSG(fabs(total - 1.0) < 1e-2, "integral %.6f", total);
    CHECK_MSG(fabs(total + out - 1.0) < 2e-4, "integral %.8f + tails %.8f", total, out);
    double m1 = mass(&r, -1.2, -0.8), mm2 = mass(&r, 1.8, 2.2), mm3 = mass(&r, 9.7, 10.3);
    CHECK_MSG(fabs(m1 - 0.3) < 0.01 && fabs(mm2 - 0.5) < 0.01 && fabs(mm3 - 0.2) < 0.01,
              "cluster masses %.4f %.4f %.4f, expected 0.3 0.5 0.2", m1, mm2, mm3);
    CHECK(mass(&r, 3.0, 9.0) < 1e-6);
    /* eval agrees with the grid. */
    CHECK_REL(minima_density_eval(&r, r.grid[1234]), r.values[1234], 1e-14);

    /* Same seed, same numbers. */
    minima_density_result r2;
    CHECK_OK(minima_density_slq(op, &p, &r2));
    CHECK(memcmp(r.values, r2.values, r.n_grid * sizeof(double)) == 0);
    CHECK(memcmp(r.nodes, r2.nodes, r.n_nodes * sizeof(double)) == 0);
    minima_density_result_free(&r2);

    /* PyHessian's normalisation: the Riemann sum becomes exactly 1. */
    p.normalize = 1;
    CHECK_OK(minima_density_slq(op, &p, &r2));
    double riemann = 0;
    for (size_t g = 0; g < r2.n_grid; g++) riemann += r2.values[g];
    riemann *= r2.grid[1] - r2.grid[0];
    CHECK_REL(riemann, 1.0, 1e-9);
    minima_density_result_free(&r2);
    minima_density_result_free(&r);
    minima_linop_free(op);
    free(d);
}

/* Gaussian starts, several draws: the masses are right on average. */
static void test_gaussian_draws(void)
{
    size_t n = 1000;
    double *d = clusters(n);
    diag_ctx ctx = {n, d};
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_create(&op, n, diag_apply, &ctx, NULL));
    minima_density_params p = minima_density_default_params();
    p.gaussian_start = 1;
    p.n_draws = 8;
    p.n_steps = 40;
    p.n_grid = 4000;
    minima_density_result r;
    CHECK_OK(minima_density_slq(op, &p, &r));
    CHECK(r.n_draws == 8 && r.n_nodes == 320 && r.n_products == 320);
    for (size_t k = 0; k < 8; k++) {
        double w = 0;
        for (size_t i = r.draw_start[k]; i < r.draw_start[k + 1]; i++) w += r.weights[i];
        CHECK_REL(w, 1.0, 1e-12);
    }
    double total = mass(&r, -INFINITY, INFINITY), out = tails(&r);
    CHECK_MSG(fabs(total - 1.0) < 1e-2, "integral %.6f", total);
    CHECK_MSG(fabs(total + out - 1.0) < 2e-4, "integral %.8f + tails %.8f", total, out);
    /* A Gaussian draw's weight on a cluster of k of n eigenvalues has
     * standard deviation ~ sqrt(2 f (1 - f) / n) ~ 0.02; over 8 draws ~ 0.008. */
    double m1 = mass(&r, -1.2, -0.8), m2 = mass(&r, 1.8, 2.2), m3 = mass(&r, 9.7, 10.3);
    CHECK_MSG(fabs(m1 - 0.3) < 0.035 && fabs(m2 - 0.5) < 0.035 && fabs(m3 - 0.2) < 0.035,
              "cluster masses %.4f %.4f %.4f", m1, m2, m3);
    minima_density_result_free(&r);
    minima_linop_free(op);
    free(d);
}

/* Three distinct eigenvalues: the Krylov space is invariant after three
 * steps, and the quadrature is exact — nodes the eigenvalues, weights the
 * fractions. */
static void test_invariant_exact(void)
{
    size_t n = 100;
    double d[100];
    for (size_t i = 0; i < n; i++) d[i] = i < 20 ? 0.5 : i < 70 ? 3.0 : 7.0;
    diag_ctx ctx = {n, d};
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_create(&op, n, diag_apply, &ctx, NULL));
    minima_density_result r;
    CHECK_OK(minima_density_slq(op, NULL, &r));
    CHECK(r.n_nodes == 3 && r.n_products == 3);
    CHECK_REL(r.nodes[0], 0.5, 1e-13);
    CHECK_REL(r.nodes[1], 3.0, 1e-13);
    CHECK_REL(r.nodes[2], 7.0, 1e-13);
    CHECK_REL(r.weights[0], 0.2, 1e-12);
    CHECK_REL(r.weights[1], 0.5, 1e-12);
    CHECK_REL(r.weights[2], 0.3, 1e-12);
    /* The peak height of a weight-0.5 Gaussian. */
    CHECK_REL(minima_density_eval(&r, 3.0), 0.5 / sqrt(2 * M_PI * r.sigma2), 1e-9);
    minima_density_result_free(&r);

    /* n smaller than m: capped; parameters checked; interruption. */
    minima_density_params p = minima_density_default_params();
    p.n_grid = 1;
    CHECK_STATUS(minima_density_slq(op, &p, &r), MINIMA_EINVAL);
    minima_interrupt();
    CHECK_STATUS(minima_density_slq(op, NULL, &r), MINIMA_EINTERRUPTED);
    CHECK(r.values == NULL && r.n_grid == 0);
    minima_clear_interrupt();
    minima_linop_free(op);
}

int main(void)
{
    RUN(test_clusters_pyhessian_defaults);
    RUN(test_gaussian_draws);
    RUN(test_invariant_exact);
    return harness_report();
}
