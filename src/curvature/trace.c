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

/* ---- XTrace and XNysTrace (Epperly, Tropp & Webber 2024) ---------------------
 *
 * Both draw test vectors omega_1..omega_m uniform on the sphere of radius
 * sqrt(n) and average m leave-one-out estimates t_i, each unbiased and each
 * using all the products: a low-rank approximation built from the other
 * m - 1 vectors, whose trace is exact, plus one residual probe by omega_i.
 * The t_i are exchangeable; the estimate is their mean and its standard
 * error is their sample standard deviation over sqrt(m).
 *
 * XTrace.  Y = A Omega = Q R, Z = A Q, H = Q^T Z. With S the columns of
 * R^{-T} scaled to unit norm, range(Y without column i) is range(Q) minus
 * the direction Q s_i (R^{-T} e_i is orthogonal to every other column of
 * R), so its projector is P_i = Q Q^T - Q s_i s_i^T Q^T and
 *   t_i = tr H - s_i^T H s_i + sc_i u_i^T A u_i,   u_i = (I - P_i) omega_i.
 * With w = Q^T omega_i, c = s_i^T w, v = w - c s_i: u_i = omega_i - Q v,
 * ||u_i||^2 = ||omega_i||^2 - ||w||^2 + c^2 and, as Q^T A omega_i = Q^T y_i
 * = R e_i, u_i^T A u_i = omega_i^T y_i - 2 (R e_i)^T v + v^T H v. The
 * improved probe is u_i rescaled to length sqrt(n - m + 1), the dimension
 * of range(P_i)'s complement: sc_i = (n - m + 1) / ||u_i||^2. Given the
 * other vectors, u_i / ||u_i|| is uniform on that complement's sphere, so
 * the probe stays unbiased and its length no longer adds variance.
 * 2 products per test vector.
 *
 * XNysTrace (PSD A only).  The Nystrom approximation A<Omega> =
 * Y (Omega^T Y)^{-1} Y^T. With G = Omega^T Y = C^T C (Cholesky),
 * B = Y C^{-1}, x_i = C^{-T} e_i and s_i = x_i / ||x_i||, deleting column i
 * gives A<Omega_{-i}> = B B^T - (B s_i)(B s_i)^T and the residual
 * omega_i^T (A - A<Omega_{-i}>) omega_i = 1 / ||x_i||^2 = 1 / (G^{-1})_ii.
 * A - A<Omega_{-i}> vanishes on range(Omega_{-i}), so the improved probe
 * scales the residual by (n - m + 1) / ||(I - Pi_i) omega_i||^2 =
 * (n - m + 1) ((Omega^T Omega)^{-1})_ii. With K = B^T B:
 *   t_i = tr K - s_i^T K s_i + (n - m + 1) ((Omega^T Omega)^{-1})_ii / (G^{-1})_ii.
 * For rounding, the approximation is of A + nu I with a tiny nu, and nu n
 * is subtracted. 1 product per test vector.
 *
 * Both grow m in blocks (about an eighth of m each) and test the stopping
 * rule after each block; XTrace extends Q by block Gram-Schmidt so no
 * product is ever recomputed: m test vectors cost exactly 2m (XTrace) or
 * m (XNysTrace) products whatever the blocks. */

#define XTRACE_STREAM 0x7874726163650000ULL

/* Test vector j: uniform on the sphere of radius sqrt(n). */
static void sphere_vector(uint64_t seed, size_t j, double *x, size_t n)
{
    minima_rng rng;
    minima_rng_seed2(&rng, seed, XTRACE_STREAM + j);
    minima_rng_fill_normal(&rng, x, n);
    double norm = cblas_dnrm2((int)n, x, 1);
    cblas_dscal((int)n, norm > 0 ? sqrt((double)n) / norm : 1.0, x, 1);
}

/* The block schedule: first min_samples vectors, then an eighth more. */
static size_t next_size(size_t m, size_t first, size_t cap)
{
    size_t t = m == 0 ? first : m + (m + 7) / 8;
    return t < cap ? t : cap;
}

/* Workspace that grows with m: `cols` vectors of n, square matrices of
 * leading dimension `ld`. */
typedef struct {
    size_t n, m, ld;
    double *omega;   /* (ld, n): test vector j at omega + j n */
    double *q;       /* (ld, n): xtrace: Q; xnystrace: Y = A Omega */
    double *r, *h, *w; /* (ld, ld) column-major: xtrace's R = Q^T Y, H = Q^T A Q, W = Q^T Omega */
    double *quad;    /* (ld) omega_j^T A omega_j */
    double *norm2;   /* (ld) ||omega_j||^2 */
    double *t;       /* (ld) the leave-one-out estimates */
    double *work;    /* (ld, n) a block of products / xnystrace's B */
    double *s1, *s2, *s3, *s4; /* (ld, ld) small work matrices */
} xstate;

static void xstate_free(xstate *x)
{
    double **p[] = {&x->omega, &x->q, &x->r, &x->h, &x->w, &x->quad, &x->norm2, &x->t,
                    &x->work, &x->s1, &x->s2, &x->s3, &x->s4};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) {
        minima_free(*p[i]);
        *p[i] = NULL;
    }
}

/* Grows a square column-major matrix from leading dimension old to ld
 * (the m x m block is kept, the rest zeroed). */
static int grow_square(double **a, size_t old, size_t m, size_t ld)
{
    double *b = minima_calloc(ld * ld, sizeof *b);
    if (!b) return 0;
    if (*a)
        for (size_t j = 0; j < m; j++) memcpy(b + j * ld, *a + j * old, m * sizeof *b);
    minima_free(*a);
    *a = b;
    return 1;
}

static minima_status xstate_reserve(xstate *x, size_t need, size_t cap, const char *method)
{
    if (need <= x->ld) return MINIMA_OK;
    size_t ld = 2 * x->ld > need ? 2 * x->ld : need;
    if (ld > cap) ld = cap;
    size_t n = x->n;
    double *v;
    double **vecs[] = {&x->omega, &x->q, &x->work};
    for (size_t i = 0; i < 3; i++) {
        if (!(v = minima_realloc(*vecs[i], ld * n, sizeof *v))) goto oom;
        *vecs[i] = v;
    }
    double **small[] = {&x->quad, &x->norm2, &x->t};
    for (size_t i = 0; i < 3; i++) {
        if (!(v = minima_realloc(*small[i], ld, sizeof *v))) goto oom;
        *small[i] = v;
    }
    double **sq[] = {&x->r, &x->h, &x->w, &x->s1, &x->s2, &x->s3, &x->s4};
    for (size_t i = 0; i < 7; i++)
        if (!grow_square(sq[i], x->ld, x->m, ld)) goto oom;
    x->ld = ld;
    return MINIMA_OK;
oom:
    return minima_error(MINIMA_ENOMEM, "%s trace: out of memory for %zu test vectors of %zu", method,
                        ld, n);
}

/* Mean and standard error of t[0..m). */
static void loo_stats(const double *t, size_t m, double *mean, double *se)
{
    running s = {0, 0, 0};
    for (size_t i = 0; i < m; i++) running_add(&s, t[i]);
    *mean = s.mean;
    *se = running_stderr(&s);
}

/* Draws test vectors j0..j1 and computes y_j = A omega_j into dst + (j - j0) n. */
static minima_status draw_and_apply(minima_linop *op, const minima_trace_params *p, xstate *x,
                                    size_t j0, size_t j1, double *dst, minima_trace_result *r,
                                    size_t total)
{
    size_t n = x->n;
    for (size_t j = j0; j < j1; j++) {
        if (minima_interrupted())
            return minima_error(MINIMA_EINTERRUPTED, "%s trace: interrupted after %zu products%s",
                                r->method, r->n_products, r->samples ? "" : "; no estimate yet");
        double *om = x->omega + j * n;
        sphere_vector(p->seed, j, om, n);
        x->norm2[j] = cblas_ddot((int)n, om, 1, om, 1);
        MINIMA_TRY(quadratic_form(op, om, dst + (j - j0) * n, &r->n_products, &x->quad[j]));
        minima_progress("trace", (double)r->n_products, (double)total);
    }
    return MINIMA_OK;
}

/* XTrace: extends Q, R, H, W from k to m test vectors (2 (m - k) products). */
static minima_status xtrace_extend(minima_linop *op, const minima_trace_params *p, xstate *x,
                                   size_t m, minima_trace_result *r, size_t total)
{
    size_t n = x->n, k = x->m, b = m - k, ld = x->ld;
    int N = (int)n, L = (int)ld, K = (int)k, B = (int)b;
    double *qa = x->q + k * n;     /* the new block of Q, first Y's new columns */
    MINIMA_TRY(draw_and_apply(op, p, x, k, m, qa, r, total));
    double *r12 = x->r + k * ld;   /* R[0:k, k:m] */
    double *tmp = x->s1;           /* (k, b) with leading dimension ld */
    if (k > 0) {
        /* Block Gram-Schmidt, twice: Y_new -= Q_old (Q_old^T Y_new). */
        for (int pass = 0; pass < 2; pass++) {
            cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, K, B, N, 1.0, x->q, N, qa, N, 0.0,
                        tmp, L);
            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, N, B, K, -1.0, x->q, N, tmp, L,
                        1.0, qa, N);
            for (size_t j = 0; j < b; j++)
                for (size_t i = 0; i < k; i++)
                    r12[i + j * ld] = (pass ? r12[i + j * ld] : 0.0) + tmp[i + j * ld];
        }
    }
    /* Householder QR of the remainder: Q_add R22. */
    double *tau = x->t + k;        /* t[k:m] is free until the estimate */
    lapack_int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, N, B, qa, N, tau);
    for (size_t j = 0; j < b; j++)
        for (size_t i = 0; i < b; i++)
            x->r[(k + i) + (k + j) * ld] = i <= j ? qa[i + j * n] : 0.0;
    for (size_t j = k; j < m; j++)
        for (size_t i = 0; i < k; i++) x->r[j + i * ld] = 0.0;   /* R[k:m, 0:k] */
    if (info == 0) info = LAPACKE_dorgqr(LAPACK_COL_MAJOR, N, B, B, qa, N, tau);
    if (info == 0 && k > 0) {
        /* Again against Q_old until orthogonal (at most 4 times), so that Q
         * stays orthonormal even where the remainder was (near) zero, i.e.
         * rounding: Q_add = Q_old E + Q_add' F, then R12 += E R22 and
         * R22 = F R22. */
        double *e = x->s2, *f = x->s3;
        for (int pass = 0; pass < 4 && info == 0; pass++) {
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, K, B, N, 1.0, x->q, N, qa, N, 0.0, e, L);
        double emax = 0;
        for (size_t j = 0; j < b; j++)
            for (size_t i = 0; i < k; i++)
                if (fabs(e[i + j * ld]) > emax) emax = fabs(e[i + j * ld]);
        if (emax <= 1e-12) break;
        if (pass == 3) {
            if (emax <= 1e-8) break;
            return minima_error(MINIMA_EUNSUPPORTED, "xtrace trace: cannot keep the basis of the "
                                "sketch orthonormal at %zu test vectors (the operator's numerical "
                                "rank is about %zu); use fewer test vectors (max_samples) or the "
                                "exact trace", m, k);
        }
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, N, B, K, -1.0, x->q, N, e, L, 1.0, qa, N);
        info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, N, B, qa, N, tau);
        if (info == 0) {
            for (size_t j = 0; j < b; j++)
                for (size_t i = 0; i < b; i++) f[i + j * ld] = i <= j ? qa[i + j * n] : 0.0;
            info = LAPACKE_dorgqr(LAPACK_COL_MAJOR, N, B, B, qa, N, tau);
        }
        if (info == 0) {
            double *r22 = x->r + k + k * ld;
            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, K, B, B, 1.0, e, L, r22, L, 1.0,
                        r12, L);
            cblas_dtrmm(CblasColMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, B, B, 1.0,
                        f, L, r22, L);
        }
        }
    }
    if (info != 0)
        return minima_error(info < 0 ? MINIMA_ENOMEM : MINIMA_ENONFINITE, "xtrace trace: QR of "
                            "the %zu x %zu sketch failed (LAPACK info %d)", n, b, (int)info);
    /* Z = A Q_add, then H[0:m, k:m] = Q^T Z and its mirror. */
    double *z = x->work;
    for (size_t j = 0; j < b; j++) {
        if (minima_interrupted())
            return minima_error(MINIMA_EINTERRUPTED, "xtrace trace: interrupted after %zu products%s",
                                r->n_products, r->samples ? "" : "; no estimate yet");
        MINIMA_TRY(product(op, qa + j * n, z + j * n, &r->n_products));
        minima_progress("trace", (double)r->n_products, (double)total);
    }
    double *h = x->h;
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)m, B, N, 1.0, x->q, N, z, N, 0.0,
                h + k * ld, L);
    for (size_t j = k; j < m; j++)
        for (size_t i = k; i < j; i++) {
            double a = 0.5 * (h[i + j * ld] + h[j + i * ld]);
            h[i + j * ld] = h[j + i * ld] = a;
        }
    for (size_t j = k; j < m; j++)
        for (size_t i = 0; i < k; i++) h[j + i * ld] = h[i + j * ld];
    /* W = Q^T Omega: the new column block for the old rows, all columns of the new rows. */
    if (k > 0)
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, K, B, N, 1.0, x->q, N,
                    x->omega + k * n, N, 0.0, x->w + k * ld, L);
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, B, (int)m, N, 1.0, qa, N, x->omega, N,
                0.0, x->w + k, L);
    x->m = m;
    return MINIMA_OK;
}

/* XTrace's m leave-one-out estimates into x->t. */
static minima_status xtrace_estimates(xstate *x, double *range, int range_only)
{
    size_t n = x->n, m = x->m, ld = x->ld;
    int M = (int)m, L = (int)ld;
    const double *R = x->r, *H = x->h, *W = x->w;
    double *rinv = x->s1, *S = x->s2, *V = x->s3, *HV = x->s4;
    double trh = 0;
    for (size_t i = 0; i < m; i++) trh += H[i + i * ld];
    *range = trh;
    if (!isfinite(trh))
        return minima_error(MINIMA_ENONFINITE, "xtrace trace: the operator's products have NaN or Inf");
    if (range_only) return MINIMA_OK;
    for (size_t j = 0; j < m; j++)
        for (size_t i = 0; i < m; i++) rinv[i + j * ld] = i <= j ? R[i + j * ld] : 0.0;
    lapack_int info = LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'U', 'N', M, rinv, L);
    if (info < 0)
        return minima_error(MINIMA_ENOMEM, "xtrace trace: triangular inverse failed (LAPACK info %d)",
                            (int)info);
    if (info > 0) {
        /* A Omega is exactly rank-deficient: A has rank < m and range(Q)
         * holds range(A), so tr(Q^T A Q) is the trace. */
        for (size_t i = 0; i < m; i++) x->t[i] = trh;
        return MINIMA_OK;
    }
    /* S: the columns of R^{-T} (the rows of R^{-1}) at unit norm. */
    for (size_t i = 0; i < m; i++) {
        double s2 = 0;
        for (size_t j = i; j < m; j++) s2 += rinv[i + j * ld] * rinv[i + j * ld];
        double inv = 1.0 / sqrt(s2);
        for (size_t j = 0; j < m; j++) S[j + i * ld] = j >= i ? rinv[i + j * ld] * inv : 0.0;
    }
    /* V = W - S diag(c), c_i = s_i^T w_i. */
    double *c = x->t;   /* overwritten below, after use */
    for (size_t i = 0; i < m; i++) {
        c[i] = cblas_ddot(M, S + i * ld, 1, W + i * ld, 1);
        for (size_t j = 0; j < m; j++) V[j + i * ld] = W[j + i * ld] - c[i] * S[j + i * ld];
    }
    /* HV, then H S into rinv (no longer needed). */
    cblas_dsymm(CblasColMajor, CblasLeft, CblasUpper, M, M, 1.0, H, L, V, L, 0.0, HV, L);
    cblas_dsymm(CblasColMajor, CblasLeft, CblasUpper, M, M, 1.0, H, L, S, L, 0.0, rinv, L);
    double dim = (double)(n - m + 1);
    for (size_t i = 0; i < m; i++) {
        const double *s = S + i * ld, *w = W + i * ld, *v = V + i * ld, *ri = R + i * ld;
        double shs = cblas_ddot(M, s, 1, rinv + i * ld, 1);
        double uau = x->quad[i] - 2 * cblas_ddot((int)(i + 1), ri, 1, v, 1) +
                     cblas_ddot(M, v, 1, HV + i * ld, 1);
        double u2 = x->norm2[i] - cblas_ddot(M, w, 1, w, 1) + c[i] * c[i];
        if (!(u2 > 0) || !isfinite(uau))
            return minima_error(MINIMA_ENONFINITE, "xtrace trace: leave-one-out estimate %zu of %zu "
                                "is not finite (residual norm^2 %g)", i + 1, m, u2);
        x->t[i] = trh - shs + dim / u2 * uau;
    }
    return MINIMA_OK;
}

/* XNysTrace's m leave-one-out estimates into x->t (Y = A Omega in x->q). */
static minima_status xnystrace_estimates(xstate *x, double *range, int range_only)
{
    size_t n = x->n, m = x->m, ld = x->ld;
    int N = (int)n, M = (int)m, L = (int)ld;
    double *G = x->s1, *K = x->s2, *S = x->s3, *O = x->s4, *Bm = x->work;
    double eps = 2.220446049250313e-16;
    double fro2 = 0;
    for (size_t j = 0; j < m; j++) {
        double c = cblas_dnrm2(N, x->q + j * n, 1);
        fro2 += c * c;
    }
    double nu = sqrt((double)n) * eps * sqrt(fro2);
    /* B = Y + nu Omega; G = Omega^T B. */
    memcpy(Bm, x->q, n * m * sizeof *Bm);
    for (size_t j = 0; j < m; j++) cblas_daxpy(N, nu, x->omega + j * n, 1, Bm + j * n, 1);
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, M, M, N, 1.0, x->omega, N, Bm, N, 0.0, G, L);
    for (size_t j = 0; j < m; j++) {
        if (!(G[j + j * ld] > 0))
            return minima_error(MINIMA_EINVAL, "xnystrace trace: omega^T A omega = %g <= 0 for test "
                                "vector %zu: the operator is not positive semidefinite (XNysTrace "
                                "is for PSD operators such as the Gauss-Newton matrix; use xtrace)",
                                x->quad[j], j + 1);
        for (size_t i = 0; i < j; i++) G[i + j * ld] = 0.5 * (G[i + j * ld] + G[j + i * ld]);
    }
    lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', M, G, L);
    if (info > 0)
        return minima_error(MINIMA_EINVAL, "xnystrace trace: Omega^T A Omega (%zu x %zu) is not "
                            "positive definite: the operator is not positive semidefinite (XNysTrace "
                            "is for PSD operators such as the Gauss-Newton matrix; use xtrace)", m, m);
    if (info < 0)
        return minima_error(MINIMA_ENOMEM, "xnystrace trace: Cholesky failed (LAPACK info %d)", (int)info);
    /* B = (Y + nu Omega) C^{-1}; K = B^T B. */
    cblas_dtrsm(CblasColMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, N, M, 1.0, G, L,
                Bm, N);
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, M, N, 1.0, Bm, N, 0.0, K, L);
    double trk = 0;
    for (size_t i = 0; i < m; i++) trk += K[i + i * ld];
    *range = trk - nu * (double)n;
    if (!isfinite(trk))
        return minima_error(MINIMA_ENONFINITE, "xnystrace trace: the operator's products have NaN or Inf");
    if (range_only) return MINIMA_OK;
    /* C^{-1}: its rows are x_i^T = (C^{-T} e_i)^T; S = those at unit norm. */
    info = LAPACKE_dtrtri(LAPACK_COL_MAJOR, 'U', 'N', M, G, L);
    if (info != 0)
        return minima_error(MINIMA_ENONFINITE, "xnystrace trace: the Cholesky factor is singular "
                            "(LAPACK info %d)", (int)info);
    double *gii = x->t;
    for (size_t i = 0; i < m; i++) {
        double s2 = 0;
        for (size_t j = i; j < m; j++) s2 += G[i + j * ld] * G[i + j * ld];
        gii[i] = s2;
        double inv = 1.0 / sqrt(s2);
        for (size_t j = 0; j < m; j++) S[j + i * ld] = j >= i ? G[i + j * ld] * inv : 0.0;
    }
    /* K S into G (free now). */
    cblas_dsymm(CblasColMajor, CblasLeft, CblasUpper, M, M, 1.0, K, L, S, L, 0.0, G, L);
    /* (Omega^T Omega)^{-1}'s diagonal. */
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, M, N, 1.0, x->omega, N, 0.0, O, L);
    info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', M, O, L);
    if (info == 0) info = LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', M, O, L);
    if (info != 0)
        return minima_error(MINIMA_ENONFINITE, "xnystrace trace: the test vectors are linearly "
                            "dependent (LAPACK info %d)", (int)info);
    double dim = (double)(n - m + 1);
    for (size_t i = 0; i < m; i++) {
        double sks = cblas_ddot(M, S + i * ld, 1, G + i * ld, 1);
        double t = trk - sks + dim * O[i + i * ld] / gii[i] - nu * (double)n;
        if (!isfinite(t))
            return minima_error(MINIMA_ENONFINITE, "xnystrace trace: leave-one-out estimate %zu of %zu "
                                "is not finite", i + 1, m);
        x->t[i] = t;
    }
    return MINIMA_OK;
}

static minima_status xtrace_run(minima_linop *op, const minima_trace_params *params,
                                minima_trace_result *r, int nystrom)
{
    const char *method = nystrom ? "xnystrace" : "xtrace";
    if (r) memset(r, 0, sizeof *r);
    if (!op || !r) MINIMA_FAIL(MINIMA_EINVAL, "minima_trace_%s: NULL argument", method);
    r->method = method;
    minima_trace_params p = params ? *params : minima_trace_default_params();
    MINIMA_TRY(check_params(&p, method));
    size_t n = op->n;
    if (n < 1) MINIMA_FAIL(MINIMA_EINVAL, "%s trace: empty operator", method);
    if (n > (size_t)INT32_MAX)
        MINIMA_FAIL(MINIMA_EINVAL, "%s trace: n = %zu is too large for LAPACK", method, n);
    size_t cap = p.max_samples < n ? p.max_samples : n;
    size_t first = p.min_samples < cap ? p.min_samples : cap;
    size_t per = nystrom ? 1 : 2, total = per * cap;
    double t0 = now_seconds();
    xstate x;
    memset(&x, 0, sizeof x);
    x.n = n;
    minima_status st = MINIMA_OK;
    int met_before = 0;
    for (size_t m = next_size(0, first, cap);; m = next_size(m, first, cap)) {
        if ((st = xstate_reserve(&x, m, cap, method)) != MINIMA_OK) break;
        if (nystrom) {
            st = draw_and_apply(op, &p, &x, x.m, m, x.q + x.m * n, r, total);
            if (st == MINIMA_OK) x.m = m;
        } else {
            st = xtrace_extend(op, &p, &x, m, r, total);
        }
        if (st != MINIMA_OK) break;
        double range = 0, mean, se;
        st = nystrom ? xnystrace_estimates(&x, &range, m == n) : xtrace_estimates(&x, &range, m == n);
        if (st != MINIMA_OK) break;
        r->samples = m;
        r->range_trace = range;
        if (m == n) {
            /* The test vectors span everything: the approximation is A itself. */
            r->estimate = range;
            r->std_error = 0;
            r->converged = 1;
            break;
        }
        loo_stats(x.t, m, &mean, &se);
        r->estimate = mean;
        r->std_error = se;
        /* The rule must hold at two tests in a row (or at the last one
         * allowed): a single small sample standard deviation of a few t_i
         * is too often a lucky one. */
        int met = m >= p.min_samples && se <= p.rtol * fabs(mean);
        if (met && (met_before || m == cap)) {
            r->converged = 1;
            break;
        }
        met_before = met;
        if (m == cap) break;
    }
    if (r->converged) minima_progress("trace", 1, 1);
    r->seconds = now_seconds() - t0;
    xstate_free(&x);
    return st;
}

minima_status minima_trace_xtrace(minima_linop *op, const minima_trace_params *params,
                                  minima_trace_result *r)
{
    return xtrace_run(op, params, r, 0);
}

minima_status minima_trace_xnystrace(minima_linop *op, const minima_trace_params *params,
                                     minima_trace_result *r)
{
    return xtrace_run(op, params, r, 1);
}
