/* test_trace.c — exact, Hutchinson and Hutch++ traces on matrices whose
 * trace is known: exactness, unbiasedness over many seeds, honest standard
 * errors, the stopping rule, and Hutch++'s lower variance. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/linop.h"
#include "minima/rng.h"
#include "minima/trace.h"

/* Per-probe variance of Rademacher Hutchinson: 2 (||A||_F^2 - sum a_ii^2). */
static double hutchinson_variance(const double *a, size_t n)
{
    double f = 0, d = 0;
    for (size_t i = 0; i < n * n; i++) f += a[i] * a[i];
    for (size_t i = 0; i < n; i++) d += a[i * n + i] * a[i * n + i];
    return 2 * (f - d);
}

static void test_exact(void)
{
    size_t n = 60;
    double *a = malloc(n * n * sizeof *a);
    minima_rng rng;
    minima_rng_seed(&rng, 1);
    minima_rng_fill_normal(&rng, a, n * n);
    for (size_t r = 0; r < n; r++)
        for (size_t c = r + 1; c < n; c++) a[c * n + r] = a[r * n + c];
    double diag = 0;
    for (size_t i = 0; i < n; i++) diag += a[i * n + i];
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    minima_trace_result r;
    CHECK_OK(minima_trace_exact(op, &r));
    CHECK_REL(r.estimate, diag, 1e-14);
    CHECK(r.std_error == 0 && r.n_products == n && r.samples == n && r.converged);
    CHECK(strcmp(r.method, "exact") == 0);
    CHECK(op->n_applies == n);
    minima_linop_free(op);
    free(a);
}

/* Mean over 300 seeds of a fixed-size estimate is within 4 standard errors
 * of the true trace, and the reported standard errors match the spread. */
static void test_unbiased(void)
{
    size_t n = 80;
    double lambda[80], tr = 0;
    for (size_t i = 0; i < n; i++) { lambda[i] = cos((double)i) + 0.2; tr += lambda[i]; }
    double *a = harness_spectral_matrix(n, lambda, 2);
    double var1 = hutchinson_variance(a, n);
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));

    for (int method = 0; method < 2; method++) {
        minima_trace_params p = minima_trace_default_params();
        p.min_samples = p.max_samples = 12;
        p.sketch = 6;
        int seeds = 300;
        double sum = 0, sum2 = 0, se2 = 0;
        for (int s = 0; s < seeds; s++) {
            p.seed = (uint64_t)s + 1000;
            minima_trace_result r;
            if (method == 0) CHECK_OK(minima_trace_hutchinson(op, &p, &r));
            else CHECK_OK(minima_trace_hutchpp(op, &p, &r));
            CHECK(r.samples == 12);
            CHECK(r.n_products == (method ? 24u : 12u));
            sum += r.estimate;
            sum2 += r.estimate * r.estimate;
            se2 += r.std_error * r.std_error;
        }
        double mean = sum / seeds;
        double sd = sqrt((sum2 - seeds * mean * mean) / (seeds - 1));
        double rms_se = sqrt(se2 / seeds);
        CHECK_MSG(fabs(mean - tr) <= 4 * sd / sqrt((double)seeds),
                  "method %d: mean %.6g vs trace %.6g (sd %.3g over %d seeds)", method, mean, tr,
                  sd, seeds);
        /* The standard error it reports is the spread it has. */
        CHECK_MSG(rms_se > 0.75 * sd && rms_se < 1.33 * sd,
                  "method %d: reported standard error %.3g vs observed spread %.3g", method,
                  rms_se, sd);
        if (method == 0)
            CHECK_MSG(fabs(sd - sqrt(var1 / 12)) < 0.15 * sqrt(var1 / 12),
                      "hutchinson spread %.4g vs theory %.4g", sd, sqrt(var1 / 12));
    }
    minima_linop_free(op);
    free(a);
}

/* Equal products (60): Hutch++ with 20 + 20 + 20 against Hutchinson with 60,
 * on a spectrum decaying like 1/i^2. */
static void test_hutchpp_lower_variance(void)
{
    size_t n = 200;
    double lambda[200], tr = 0;
    for (size_t i = 0; i < n; i++) { lambda[i] = 1.0 / ((double)(i + 1) * (double)(i + 1)); tr += lambda[i]; }
    double *a = harness_spectral_matrix(n, lambda, 3);
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    double spread[2];
    for (int method = 0; method < 2; method++) {
        minima_trace_params p = minima_trace_default_params();
        p.sketch = 20;
        p.min_samples = p.max_samples = method ? 20 : 60;
        double sum = 0, sum2 = 0;
        int seeds = 100;
        for (int s = 0; s < seeds; s++) {
            p.seed = (uint64_t)s;
            minima_trace_result r;
            if (method == 0) CHECK_OK(minima_trace_hutchinson(op, &p, &r));
            else CHECK_OK(minima_trace_hutchpp(op, &p, &r));
            CHECK(r.n_products == 60);
            sum += r.estimate;
            sum2 += (r.estimate - tr) * (r.estimate - tr);
        }
        spread[method] = sqrt(sum2 / seeds);
        CHECK_MSG(fabs(sum / seeds - tr) < 4 * spread[method] / sqrt((double)seeds) + 1e-12,
                  "method %d biased: %.6g vs %.6g", method, sum / seeds, tr);
    }
    CHECK_MSG(spread[1] < 0.2 * spread[0], "hutch++ rms error %.3g not well below hutchinson's "
              "%.3g", spread[1], spread[0]);
    minima_linop_free(op);
    free(a);
}

static void test_stopping_rule_and_seed(void)
{
    size_t n = 100;
    double lambda[100];
    for (size_t i = 0; i < n; i++) lambda[i] = 1.0 + 0.5 * sin((double)i);
    double *a = harness_spectral_matrix(n, lambda, 4);
    minima_linop *op = NULL;
    CHECK_OK(minima_linop_dense(&op, n, a));
    minima_trace_params p = minima_trace_default_params();
    p.rtol = 1e-2;
    minima_trace_result r, r2;
    CHECK_OK(minima_trace_hutchinson(op, &p, &r));
    CHECK(r.converged);
    CHECK(r.samples >= p.min_samples && r.samples < p.max_samples);
    CHECK(r.std_error <= p.rtol * fabs(r.estimate));
    CHECK(r.n_products == r.samples);
    CHECK_OK(minima_trace_hutchinson(op, &p, &r2));
    CHECK(r2.estimate == r.estimate && r2.std_error == r.std_error && r2.samples == r.samples);

    /* Unreachable tolerance: stops at max_samples, not converged. */
    p.rtol = 1e-9;
    p.max_samples = 25;
    CHECK_OK(minima_trace_hutchinson(op, &p, &r));
    CHECK(!r.converged && r.samples == 25);
    CHECK_OK(minima_trace_hutchpp(op, &p, &r));
    CHECK(!r.converged && r.samples == 25 && r.n_products == 25 + 2 * p.sketch);
    CHECK(strcmp(r.method, "hutch++") == 0);

    /* A sketch as large as n: exact. */
    p.sketch = 500;
    CHECK_OK(minima_trace_hutchpp(op, &p, &r));
    double tr = 0;
    for (size_t i = 0; i < n; i++) tr += lambda[i];
    CHECK_REL(r.estimate, tr, 1e-12);
    CHECK(r.converged && r.std_error == 0 && r.samples == 0 && r.n_products == 2 * n);

    /* Bad parameters; interruption returns the estimate so far. */
    p = minima_trace_default_params();
    p.min_samples = 1;
    CHECK_STATUS(minima_trace_hutchinson(op, &p, &r), MINIMA_EINVAL);
    p = minima_trace_default_params();
    p.sketch = 0;
    CHECK_STATUS(minima_trace_hutchpp(op, &p, &r), MINIMA_EINVAL);
    minima_interrupt();
    CHECK_STATUS(minima_trace_hutchinson(op, NULL, &r), MINIMA_EINTERRUPTED);
    CHECK_STATUS(minima_trace_exact(op, &r), MINIMA_EINTERRUPTED);
    minima_clear_interrupt();
    minima_linop_free(op);
    free(a);
}

int main(void)
{
    RUN(test_exact);
    RUN(test_unbiased);
    RUN(test_hutchpp_lower_variance);
    RUN(test_stopping_rule_and_seed);
    return harness_report();
}
