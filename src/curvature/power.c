/* power.c — power iteration exactly as PyHessian's hessian.eigenvalues()
 * does it, kept as a baseline for Lanczos (see minima/eigen.h). */
#include "minima/eigen.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "minima/alloc.h"
#include "minima/rng.h"

minima_power_params minima_power_default_params(void)
{
    minima_power_params p;
    memset(&p, 0, sizeof p);
    p.max_iter = 100;
    p.tol = 1e-3;
    p.seed = 0;
    return p;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

minima_status minima_power_iteration(minima_linop *op, const minima_power_params *params,
                                     minima_power_result *result, double *vector)
{
    if (result) memset(result, 0, sizeof *result);
    if (!op || !result) MINIMA_FAIL(MINIMA_EINVAL, "minima_power_iteration: NULL argument");
    minima_power_params p = params ? *params : minima_power_default_params();
    if (p.max_iter < 1)
        MINIMA_FAIL(MINIMA_EINVAL, "power iteration: max_iter = %d, expected >= 1", p.max_iter);
    if (!(p.tol > 0))
        MINIMA_FAIL(MINIMA_EINVAL, "power iteration: tol = %g, expected > 0", p.tol);
    size_t n = op->n;
    double t0 = now_seconds();
    minima_status st = MINIMA_OK;
    double *v = minima_alloc(n, sizeof *v);    /* (n) current unit vector */
    double *hv = minima_alloc(n, sizeof *hv);  /* (n) A v */
    if (!v || !hv) {
        st = minima_error(MINIMA_ENOMEM, "power iteration: out of memory for n = %zu", n);
        goto done;
    }
    minima_rng rng;
    minima_rng_seed(&rng, p.seed);
    minima_rng_fill_normal(&rng, v, n);
    cblas_dscal((int)n, 1.0 / cblas_dnrm2((int)n, v, 1), v, 1);

    double lambda = 0;
    int have = 0;
    for (int it = 0; it < p.max_iter; it++) {
        if (minima_interrupted()) {
            st = minima_error(MINIMA_EINTERRUPTED, "power iteration: interrupted after %d "
                              "products", it);
            break;
        }
        st = minima_linop_apply(op, v, hv);
        if (st != MINIMA_OK) goto done;
        result->iterations = it + 1;
        result->n_products++;
        double rq = cblas_ddot((int)n, v, 1, hv, 1);
        double nrm = cblas_dnrm2((int)n, hv, 1);
        if (!isfinite(rq) || !isfinite(nrm)) {
            st = minima_error(MINIMA_ENONFINITE, "power iteration: the product at step %d has "
                              "NaN or Inf", it + 1);
            goto done;
        }
        if (nrm == 0) {   /* v is in the null space: 0 is an exact eigenvalue */
            lambda = 0;
            have = 1;
            result->converged = 1;
            break;
        }
        for (size_t i = 0; i < n; i++) v[i] = hv[i] / nrm;
        if (!have) {
            lambda = rq;
            have = 1;
        } else if (fabs(lambda - rq) / (fabs(lambda) + 1e-6) < p.tol) {
            result->converged = 1;
            minima_progress("power", 1, 1);       /* finished before the budget */
            break;
        } else {
            lambda = rq;
        }
        minima_progress("power", it + 1, p.max_iter);
    }
    result->eigenvalue = lambda;
    if (vector) memcpy(vector, v, n * sizeof *v);
done:
    result->seconds = now_seconds() - t0;
    minima_free(v);
    minima_free(hv);
    return st;
}
