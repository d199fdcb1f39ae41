/* trace.c — exact, Hutchinson and Hutch++ traces of a symmetric operator
 * (see minima/trace.h). */
#include "minima/trace.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "minima/alloc.h"
#include "minima/rng.h"

/* Streams of the seed: probes of Hutchinson / the complement use 0, 1, ...;
 * the Hutch++ sketch uses streams from this offset on. */
#define SKETCH_STREAM 0x5ca1ab1e00000000ULL

minima_trace_params minima_trace_default_params(void)
{
    minima_trace_params p;
    memset(&p, 0, sizeof p);
    p.min_samples = 10;
    p.max_samples = 1000;
    p.rtol = 1e-2;
    p.sketch = 30;
    p.seed = 0;
    return p;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static minima_status check_params(const minima_trace_params *p, const char *method)
{
    if (p->min_samples < 2)
        MINIMA_FAIL(MINIMA_EINVAL, "%s trace: min_samples = %zu, expected >= 2 (a standard "
                    "error needs two probes)", method, p->min_samples);
    if (p->max_samples < p->min_samples)
        MINIMA_FAIL(MINIMA_EINVAL, "%s trace: max_samples = %zu is below min_samples = %zu",
                    method, p->max_samples, p->min_samples);
    if (!(p->rtol >= 0) || !isfinite(p->rtol))
        MINIMA_FAIL(MINIMA_EINVAL, "%s trace: rtol = %g, expected a finite value >= 0",
                    method, p->rtol);
    return MINIMA_OK;
}

static minima_status product(minima_linop *op, const double *x, double *y, size_t *count)
{
    MINIMA_TRY(minima_linop_apply(op, x, y));
    (*count)++;
    return MINIMA_OK;
}

static minima_status quadratic_form(minima_linop *op, const double *x, double *y,
                                    size_t *count, double *out)
{
    MINIMA_TRY(product(op, x, y, count));
    double q = cblas_ddot((int)op->n, x, 1, y, 1);
    if (!isfinite(q))
        MINIMA_FAIL(MINIMA_ENONFINITE, "trace: the operator's product %zu has NaN or Inf",
                    *count);
    *out = q;
    return MINIMA_OK;
}

minima_status minima_trace_exact(minima_linop *op, minima_trace_result *r)
{
    if (r) memset(r, 0, sizeof *r);
    if (!op || !r) MINIMA_FAIL(MINIMA_EINVAL, "minima_trace_exact: NULL argument");
    r->method = "exact";
    size_t n = op->n;
    double t0 = now_seconds();
    minima_status st = MINIMA_OK;
    double *e = minima_calloc(n, sizeof *e);    /* (n) e_i */
    double *y = minima_alloc(n, sizeof *y);     /* (n) A e_i */
    if (!e || !y) {
        st = minima_error(MINIMA_ENOMEM, "exact trace: out of memory for n = %zu", n);
        goto done;
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (minima_interrupted()) {
            st = minima_error(MINIMA_EINTERRUPTED, "exact trace: interrupted after %zu of %zu "
                              "diagonal entries", i, n);
            break;
        }
        e[i] = 1.0;
        st = product(op, e, y, &r->n_products);
        e[i] = 0.0;
        if (st != MINIMA_OK) goto done;
        if (!isfinite(y[i])) {
            st = minima_error(MINIMA_ENONFINITE, "exact trace: diagonal entry %zu is %g", i, y[i]);
            goto done;
        }
        sum += y[i];
        r->samples = i + 1;
        minima_progress("trace", (double)(i + 1), (double)n);
    }
    r->estimate = sum;
    r->converged = st == MINIMA_OK;
done:
    r->seconds = now_seconds() - t0;
    minima_free(e);
    minima_free(y);
    return st;
}

/* Welford's running mean and variance. */
typedef struct { size_t k; double mean, m2; } running;

static void running_add(running *s, double x)
{
    s->k++;
    double d = x - s->mean;
    s->mean += d / (double)s->k;
    s->m2 += d * (x - s->mean);
}

static double running_stderr(const running *s)
{
    if (s->k < 2) return INFINITY;
    return sqrt(s->m2 / (double)(s->k - 1) / (double)s->k);
}

/* Hutchinson's loop over Rademacher probes, projected by I - Q Q^T when
 * q (k, n) is given: adds `offset` to the mean for the estimate. */
static minima_status hutchinson_loop(minima_linop *op, const minima_trace_params *p,
                                     const double *q, size_t k, double offset, double *v,
                                     double *y, double *coef, minima_trace_result *r)
{
    size_t n = op->n;
    running s = {0, 0, 0};
    minima_status st = MINIMA_OK;
    for (size_t i = 0; i < p->max_samples; i++) {
        if (minima_interrupted()) {
            st = minima_error(MINIMA_EINTERRUPTED, "%s trace: interrupted after %zu probes",
                              r->method, i);
            break;
        }
        minima_rng rng;
        minima_rng_seed2(&rng, p->seed, i);
        minima_rng_fill_rademacher(&rng, v, n);
        if (q && k > 0) {   /* v = (I - Q Q^T) v */
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)k, (int)n, 1.0, q, (int)n, v, 1, 0.0,
                        coef, 1);
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, -1.0, q, (int)n, coef, 1, 1.0,
                        v, 1);
        }
        double x = 0;
        st = quadratic_form(op, v, y, &r->n_products, &x);
        if (st != MINIMA_OK) return st;
        running_add(&s, x);
        r->samples = s.k;
        r->estimate = offset + s.mean;
        r->std_error = running_stderr(&s);
        if (s.k >= p->min_samples && r->std_error <= p->rtol * fabs(r->estimate)) {
            r->converged = 1;
            minima_progress("trace", 1, 1);       /* finished before the budget */
            break;
        }
        minima_progress("trace", (double)(i + 1), (double)p->max_samples);
    }
    return st;
}

minima_status minima_trace_hutchinson(minima_linop *op, const minima_trace_params *params,
                                      minima_trace_result *r)
{
    if (r) memset(r, 0, sizeof *r);
    if (!op || !r) MINIMA_FAIL(MINIMA_EINVAL, "minima_trace_hutchinson: NULL argument");
    r->method = "hutchinson";
    minima_trace_params p = params ? *params : minima_trace_default_params();
    MINIMA_TRY(check_params(&p, "hutchinson"));
    size_t n = op->n;
    double t0 = now_seconds();
    minima_status st;
    double *v = minima_alloc(n, sizeof *v);   /* (n) probe */
    double *y = minima_alloc(n, sizeof *y);   /* (n) A v */
    if (!v || !y)
        st = minima_error(MINIMA_ENOMEM, "hutchinson trace: out of memory for n = %zu", n);
    else
        st = hutchinson_loop(op, &p, NULL, 0, 0.0, v, y, NULL, r);
    r->seconds = now_seconds() - t0;
    minima_free(v);
    minima_free(y);
    return st;
}

minima_status minima_trace_hutchpp(minima_linop *op, const minima_trace_params *params,
                                   minima_trace_result *r)
{
    if (r) memset(r, 0, sizeof *r);
    if (!op || !r) MINIMA_FAIL(MINIMA_EINVAL, "minima_trace_hutchpp: NULL argument");
    r->method = "hutch++";
    minima_trace_params p = params ? *params : minima_trace_default_params();
    MINIMA_TRY(check_params(&p, "hutch++"));
    if (p.sketch < 1)
        MINIMA_FAIL(MINIMA_EINVAL, "hutch++ trace: sketch = 0, expected >= 1 (use Hutchinson "
                    "for no sketch)");
    size_t n = op->n, k = p.sketch < n ? p.sketch : n;
    if (n > (size_t)INT32_MAX)
        MINIMA_FAIL(MINIMA_EINVAL, "hutch++ trace: n = %zu is too large for LAPACK", n);
    double t0 = now_seconds();
    minima_status st = MINIMA_OK;
    double *s = minima_alloc(n, sizeof *s);        /* (n) a sketch vector, then probes */
    double *q = minima_alloc(k * n, sizeof *q);    /* (k, n) A S, then Q (rows orthonormal) */
    double *y = minima_alloc(n, sizeof *y);        /* (n) products */
    double *tau = minima_alloc(k, sizeof *tau);    /* (k) Householder scalars; coefficients */
    if (!s || !q || !y || !tau) {
        st = minima_error(MINIMA_ENOMEM, "hutch++ trace: out of memory for a sketch of %zu "
                          "vectors of %zu", k, n);
        goto done;
    }
    /* Y = A S, one row per sketch vector. */
    for (size_t i = 0; i < k; i++) {
        if (minima_interrupted()) {
            st = minima_error(MINIMA_EINTERRUPTED, "hutch++ trace: interrupted while sketching "
                              "(%zu of %zu); no estimate yet", i, k);
            goto done;
        }
        minima_rng rng;
        minima_rng_seed2(&rng, p.seed, SKETCH_STREAM + i);
        minima_rng_fill_rademacher(&rng, s, n);
        st = product(op, s, q + i * n, &r->n_products);
        if (st != MINIMA_OK) goto done;
        minima_progress("trace", (double)(i + 1), (double)(2 * k + p.max_samples));
    }
    /* Q = orth(Y): row-major (k, n) is column-major (n, k). */
    lapack_int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)k, q,
                                     (lapack_int)n, tau);
    if (info == 0)
        info = LAPACKE_dorgqr(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)k, (lapack_int)k, q,
                              (lapack_int)n, tau);
    if (info != 0) {
        st = minima_error(info < 0 ? MINIMA_ENOMEM : MINIMA_ENONFINITE, "hutch++ trace: QR of "
                          "the %zu x %zu sketch failed (LAPACK info %d)", n, k, (int)info);
        goto done;
    }
    /* The trace on range(Q), exactly. */
    double range = 0;
    for (size_t i = 0; i < k; i++) {
        if (minima_interrupted()) {
            st = minima_error(MINIMA_EINTERRUPTED, "hutch++ trace: interrupted on the range "
                              "(%zu of %zu); no estimate yet", i, k);
            goto done;
        }
        double x = 0;
        st = quadratic_form(op, q + i * n, y, &r->n_products, &x);
        if (st != MINIMA_OK) goto done;
        range += x;
        minima_progress("trace", (double)(k + i + 1), (double)(2 * k + p.max_samples));
    }
    r->range_trace = range;
    r->estimate = range;
    if (k == n) {            /* Q spans everything: the trace is exact */
        r->std_error = 0;
        r->converged = 1;
        minima_progress("trace", 1, 1);
        goto done;
    }
    st = hutchinson_loop(op, &p, q, k, range, s, y, tau, r);
done:
    r->seconds = now_seconds() - t0;
    minima_free(s);
    minima_free(q);
    minima_free(y);
    minima_free(tau);
    return st;
}
