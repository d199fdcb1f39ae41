/* minima/trace.h — the trace of a symmetric operator (docs/spectrum.md).
 *
 * Three estimators, all reporting an estimate with its standard error and
 * what it cost:
 *
 *   exact       sum of e_i^T A e_i: n products, no error. For small nets.
 *   hutchinson  the mean of v^T A v over Rademacher probes v (Hutchinson
 *               1989): unbiased, variance 2 (||A||_F^2 - sum_i a_ii^2) per
 *               probe. The standard error is the sample standard deviation
 *               over sqrt(samples).
 *   hutch++     Meyer, Musco, Musco & Woodruff 2021: Q = orth(A S) for
 *               `sketch` Rademacher vectors S (dgeqrf/dorgqr), the trace on
 *               range(Q) exactly as sum_i q_i^T A q_i, plus Hutchinson on
 *               the complement, (P g)^T A (P g) with P = I - Q Q^T. Unbiased;
 *               for a matrix whose spectrum decays the complement has small
 *               variance. The standard error is that of the complement
 *               probes (the range part, given Q, has none). Products:
 *               2 * sketch + samples. The paper's fixed-budget version with
 *               m products is sketch = m/3, min_samples = max_samples = m/3.
 *
 * Stopping rule (hutchinson, and the complement of hutch++): after each
 * probe, stop once samples >= min_samples and std_error <= rtol * |estimate|,
 * or at max_samples (then converged = 0). It never stops on the change of a
 * running mean (the rule that makes PyHessian's trace vary by +-15 % between
 * runs).
 *
 * Probe i is drawn from stream i of the seed (minima_rng_seed2), so the
 * same seed gives the same probes and bit-identical results. Each function
 * reports progress (task "trace") and honours minima_interrupt(): it then
 * returns MINIMA_EINTERRUPTED with the estimate so far in `result`. */
#ifndef MINIMA_TRACE_H
#define MINIMA_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "minima/linop.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t min_samples;   /* default 10 (at least 2 for a standard error) */
    size_t max_samples;   /* default 1000 */
    double rtol;          /* relative standard error to stop at; default 1e-2 */
    size_t sketch;        /* hutch++ sketch vectors (capped at n); default 30 */
    uint64_t seed;        /* default 0 */
} minima_trace_params;

minima_trace_params minima_trace_default_params(void);

typedef struct {
    const char *method;   /* "exact", "hutchinson" or "hutch++" (static string) */
    double estimate;      /* the trace */
    double std_error;     /* its standard error (0 for exact) */
    size_t samples;       /* random probes averaged (hutch++: complement probes; exact: n) */
    double range_trace;   /* hutch++: the exact part tr(Q^T A Q); else 0 */
    size_t n_products;    /* products of the operator */
    double seconds;       /* wall-clock time */
    int converged;        /* the stopping rule was met (exact: 1) */
} minima_trace_result;

/* The exact trace, n products. */
minima_status minima_trace_exact(minima_linop *op, minima_trace_result *result);
/* Hutchinson with Rademacher probes (params NULL = defaults). */
minima_status minima_trace_hutchinson(minima_linop *op, const minima_trace_params *params,
                                      minima_trace_result *result);
/* Hutch++ (params NULL = defaults). */
minima_status minima_trace_hutchpp(minima_linop *op, const minima_trace_params *params,
                                   minima_trace_result *result);

#ifdef __cplusplus
}
#endif
#endif
