/* minima/trace.h — the trace of a symmetric operator (docs/spectrum.md).
 *
 * Five estimators, all reporting an estimate with its standard error and
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
 *   xtrace      Epperly, Tropp & Webber 2024, for any symmetric operator
 *               (the Hessian, indefinite, included): m test vectors uniform
 *               on the sphere of radius sqrt(n), Y = A Omega = Q R, Z = A Q.
 *               Each test vector i gives an unbiased estimate t_i: the exact
 *               trace on the range of A Omega without column i (one QR; the
 *               m deletions come from the unit-normed columns of R^{-T}),
 *               plus vector i, projected off that range and rescaled to
 *               the length of a uniform probe of the rest, as the residual
 *               probe. The estimate is the mean of the t_i, the standard
 *               error their sample standard deviation over sqrt(m) (the
 *               paper's leave-one-out error estimate). Every product serves
 *               both the low-rank part and the probes, so on a decaying
 *               spectrum it needs several times fewer products than
 *               hutch++. samples = m, products 2m, range_trace = tr(Q^T A Q).
 *   xnystrace   the same exchangeable average over Nystrom approximations
 *               Y (Omega^T Y)^{-1} Y^T: 1 product per test vector, but ONLY
 *               for positive semidefinite operators (the Gauss-Newton
 *               matrix, not the Hessian). It refuses (MINIMA_EINVAL) when
 *               the sketch proves the operator indefinite (Omega^T A Omega
 *               not positive definite); an indefinite operator whose sketch
 *               happens to look PSD gets a biased estimate, so never pass it
 *               one. samples = m, products m, range_trace = tr of the
 *               Nystrom approximation.
 *   xtrace and xnystrace use min_samples / max_samples as the least and
 *   most test vectors (max_samples capped at n; `sketch` is unused). When m
 *   reaches n the test vectors span everything and the trace is exact
 *   (std_error 0). Memory: two (m, n) blocks (Omega and Q, or Omega and Y),
 *   grown as m grows.
 *
 * Stopping rule (hutchinson, and the complement of hutch++): after each
 * probe, stop once samples >= min_samples and std_error <= rtol * |estimate|,
 * or at max_samples (then converged = 0). It never stops on the change of a
 * running mean (the rule that makes PyHessian's trace vary by +-15 % between
 * runs). xtrace / xnystrace test the same rule after each block of test
 * vectors (min_samples first, then about m/8 more each time; the blocks
 * only decide when the rule is tested: m test vectors cost 2m or m
 * products however they were grouped) and stop when it holds at two tests
 * in a row, or at max_samples: one small spread of 10-16 leave-one-out
 * estimates is too often a lucky one (docs/spectrum.md has the coverage
 * measured). As for any rule that stops on its own error estimate, the
 * reported standard error is an estimate, not a bound; XNysTrace's is the
 * less reliable (it underestimated its spread 2-4x on a fast-decaying
 * spectrum). Past the operator's numerical rank xtrace's sketch has only
 * rounding left in new directions: it reorthogonalizes (up to 3 more
 * passes) and, when the basis of A Omega still cannot be kept
 * orthonormal, refuses (MINIMA_EUNSUPPORTED) rather than guess (seen on a
 * 123-parameter network's rank-100 Hessian asked for 108 test vectors).
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
    size_t min_samples;   /* default 10 (at least 2 for a standard error); xtrace/xnystrace: test vectors */
    size_t max_samples;   /* default 1000; xtrace/xnystrace: test vectors (2 or 1 products each) */
    double rtol;          /* relative standard error to stop at; default 1e-2 */
    size_t sketch;        /* hutch++ sketch vectors (capped at n); default 30 */
    uint64_t seed;        /* default 0 */
} minima_trace_params;

minima_trace_params minima_trace_default_params(void);

typedef struct {
    const char *method;   /* "exact", "hutchinson", "hutch++", "xtrace" or "xnystrace" (static) */
    double estimate;      /* the trace */
    double std_error;     /* its standard error (0 for exact) */
    size_t samples;       /* random probes averaged (hutch++: complement probes; exact: n;
                             xtrace/xnystrace: test vectors m) */
    double range_trace;   /* hutch++, xtrace: tr(Q^T A Q); xnystrace: tr of the Nystrom
                             approximation from all m vectors; else 0 */
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
/* XTrace (params NULL = defaults): any symmetric operator. */
minima_status minima_trace_xtrace(minima_linop *op, const minima_trace_params *params,
                                  minima_trace_result *result);
/* XNysTrace (params NULL = defaults): positive semidefinite operators only
 * (MINIMA_EINVAL when the sketch shows the operator is not). */
minima_status minima_trace_xnystrace(minima_linop *op, const minima_trace_params *params,
                                     minima_trace_result *result);

#ifdef __cplusplus
}
#endif
#endif
