/* block_lanczos.c — block Krylov-Schur (thick-restart block Lanczos) with
 * full reorthogonalization for the extreme eigenpairs of a symmetric
 * operator, b vectors per product call (see minima/eigen.h,
 * minima_eigs_block).
 *
 * State. Q holds K processed orthonormal rows q_0..q_{K-1} and the current
 * block U (rows K..K+b-1), orthonormal and orthogonal to them; T (K, K) is
 * the projection Q^T A Q of the processed rows, computed entry by entry by
 * the Gram-Schmidt coefficients (so it is tridiagonal by blocks until the
 * first restart and a diagonal plus its couplings after it). A step applies
 * A to U (one block product), orthogonalizes the result against all K + b
 * rows twice (classical Gram-Schmidt, BLAS 3), which gives T's new b
 * columns, and QR-factors the rest, A U = Q C + U' B with B (b, b) upper
 * triangular: U' is the next block. Then A Q_K = Q_K T + U' B E^T (E the
 * last b columns) up to rounding, and a Ritz pair (theta, Q_K s) has
 * residual ||B s_last||, s_last the last b entries of s. When the basis is
 * full the wanted Ritz vectors and as many neighbours are kept (thick
 * restart): T becomes their Ritz values on the diagonal, and the next step
 * computes the couplings of U to them. A column of A U that vanishes after
 * orthogonalization (the block Krylov space is invariant in that direction)
 * is replaced by a random vector orthogonal to the basis, with B's column
 * zero. */
#include "minima/eigen.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "minima/alloc.h"
#include "minima/rng.h"

#define RESTART_COLUMNS 256   /* columns of Q per block of the in-place restart */

typedef struct {
    size_t n, m, bs;           /* dimension, basis budget, block size */
    minima_eigs_params p;
    minima_linop *op;
    double *Q;                 /* (m + 2 bs, n) row-major: K rows, U, then A U */
    double *T;                 /* (m, m) row-major, symmetric */
    double *C, *C2;            /* (m + bs, bs) Gram-Schmidt coefficients */
    double *h;                 /* (m + 2 bs) */
    double *B;                 /* (bs, bs) row-major, upper triangular */
    double *S;                 /* (m, m) eigenvectors of T, column-major, ld m */
    double *theta, *res;       /* (m) ascending Ritz values, residual estimates */
    double *work;
    int *iwork;
    size_t lwork, liwork;
    double *keep;              /* (m, m) selected eigenvectors, row-major (K, q) */
    double *chunk;             /* (m, RESTART_COLUMNS) */
    size_t *idx;               /* (m) */
    size_t K;
    double anorm;              /* largest ||A u|| seen */
    size_t n_products, n_steps, n_restarts;
    minima_rng rng;
} block_ws;

static void ws_free(block_ws *w)
{
    if (!w) return;
    void *all[] = {w->Q, w->T, w->C, w->C2, w->h, w->B, w->S, w->theta, w->res, w->work,
                   w->iwork, w->keep, w->chunk, w->idx};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) minima_free(all[i]);
    minima_free(w);
}

/* Row r of Q made orthogonal to rows [0, r) (two classical Gram-Schmidt
 * passes) and unit; the coefficients of the rows [from, r) summed over the
 * passes into coef[0 .. r - from). Returns the norm before normalising. A
 * row whose norm falls below `floor` is replaced by a random unit vector
 * orthogonal to rows [0, r) and 0 is returned. */
static minima_status orthonormalize_row(block_ws *w, size_t r, size_t from, double *coef,
                                        double floor, double *norm_out)
{
    int n = (int)w->n;
    double *x = w->Q + r * w->n;
    if (coef) memset(coef, 0, (r - from) * sizeof *coef);
    for (int attempt = 0; attempt < 11; attempt++) {
        for (int pass = 0; pass < 2 && r > 0; pass++) {
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)r, n, 1.0, w->Q, n, x, 1, 0.0, w->h, 1);
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)r, n, -1.0, w->Q, n, w->h, 1, 1.0, x, 1);
            if (coef && attempt == 0)
                for (size_t i = from; i < r; i++) coef[i - from] += w->h[i];
        }
        double nrm = cblas_dnrm2(n, x, 1);
        if (nrm > floor) {
            cblas_dscal(n, 1.0 / nrm, x, 1);
            *norm_out = attempt == 0 ? nrm : 0.0;
            return MINIMA_OK;
        }
        /* Deflated: a fresh random direction (its norm is ~sqrt(n), far
         * above any floor relative to 1). */
        minima_rng_fill_normal(&w->rng, x, w->n);
        floor = 1e-8 * cblas_dnrm2(n, x, 1);
    }
    MINIMA_FAIL(MINIMA_EFAILED, "block lanczos: no vector orthogonal to a basis of %zu in "
                "dimension %zu could be drawn", r, w->n);
}

/* Diagonalise T (K, K): theta ascending, S, residual estimates ||B s_last||. */
static minima_status project(block_ws *w)
{
    size_t K = w->K, m = w->m, bs = w->bs;
    for (size_t c = 0; c < K; c++)
        for (size_t r = 0; r < K; r++) w->S[c * m + r] = w->T[r * m + c];
    lapack_int info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)K, w->S,
                                          (lapack_int)m, w->theta, w->work, (lapack_int)w->lwork,
                                          w->iwork, (lapack_int)w->liwork);
    if (info != 0)
        MINIMA_FAIL(MINIMA_EFAILED, "block lanczos: LAPACK dsyevd failed on the %zu-by-%zu "
                    "projected matrix (info %d)", K, K, (int)info);
    for (size_t i = 0; i < K; i++) {
        const double *s = w->S + i * m + (K - bs);
        double sum = 0;
        for (size_t a = 0; a < bs; a++) {
            double t = 0;
            for (size_t c = a; c < bs; c++) t += w->B[a * bs + c] * s[c];
            sum += t * t;
        }
        w->res[i] = sqrt(sum);
    }
    return MINIMA_OK;
}

static int pair_converged(const block_ws *w, size_t i)
{
    double tnorm = fmax(fabs(w->theta[0]), fabs(w->theta[w->K - 1]));
    double scale = fmax(fabs(w->theta[i]), w->p.zero_floor * tnorm);
    return w->res[i] <= w->p.tol * scale;
}

static int all_converged(const block_ws *w)
{
    size_t kt = (size_t)w->p.k_top, kb = (size_t)w->p.k_bottom;
    if (w->K < kt + kb) return 0;
    for (size_t i = 0; i < kb; i++)
        if (!pair_converged(w, i)) return 0;
    for (size_t i = 0; i < kt; i++)
        if (!pair_converged(w, w->K - 1 - i)) return 0;
    return 1;
}

/* One block step: A U, two Gram-Schmidt passes against the K + b rows (T's
 * new columns), QR of the remainder (B), the next block. */
static minima_status step(block_ws *w)
{
    size_t K = w->K, bs = w->bs, n = w->n, m = w->m, R = K + bs;
    double *U = w->Q + K * n, *Y = w->Q + R * n;
    MINIMA_TRY(minima_linop_apply_block(w->op, bs, U, Y));
    w->n_products += bs;
    w->n_steps++;
    for (size_t i = 0; i < bs * n; i++)
        if (!isfinite(Y[i]))
            MINIMA_FAIL(MINIMA_ENONFINITE, "block lanczos: the operator returned a non-finite "
                        "value (entry %zu of product %zu)", i % n, i / n);
    double ynorm = 0;
    for (size_t c = 0; c < bs; c++) {
        double y = cblas_dnrm2((int)n, Y + c * n, 1);
        ynorm = fmax(ynorm, y);
    }
    w->anorm = fmax(w->anorm, ynorm);
    /* C = Q_R Y^T, Y -= C^T Q_R, twice. */
    memset(w->C, 0, R * bs * sizeof *w->C);
    for (int pass = 0; pass < 2; pass++) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)R, (int)bs, (int)n, 1.0, w->Q,
                    (int)n, Y, (int)n, 0.0, w->C2, (int)bs);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)bs, (int)n, (int)R, -1.0, w->C2,
                    (int)bs, w->Q, (int)n, 1.0, Y, (int)n);
        for (size_t i = 0; i < R * bs; i++) w->C[i] += w->C2[i];
    }
    /* T's columns K..R-1 (and rows, by symmetry); the diagonal block U^T A U
     * symmetrised. */
    for (size_t c = 0; c < bs; c++) {
        for (size_t i = 0; i < K; i++) w->T[i * m + K + c] = w->T[(K + c) * m + i] = w->C[i * bs + c];
        for (size_t a = 0; a < bs; a++)
            w->T[(K + a) * m + K + c] = 0.5 * (w->C[(K + a) * bs + c] + w->C[(K + c) * bs + a]);
    }
    /* QR of Y: B upper triangular. */
    memset(w->B, 0, bs * bs * sizeof *w->B);
    for (size_t c = 0; c < bs; c++) {
        double nrm = 0;
        MINIMA_TRY(orthonormalize_row(w, R + c, R, w->h + m + bs, 1e-12 * fmax(w->anorm, 1e-300),
                                      &nrm));
        for (size_t a = 0; a < c; a++) w->B[a * bs + c] = w->h[m + bs + a];
        w->B[c * bs + c] = nrm;
        if (nrm == 0)
            for (size_t a = 0; a < c; a++) w->B[a * bs + c] = 0;
    }
    w->K = R;
    return project(w);
}

/* Thick restart: the wanted Ritz vectors and neighbours become rows
 * [0, q), the current block follows them, T = diag(their Ritz values). */
static void restart(block_ws *w)
{
    size_t K = w->K, m = w->m, n = w->n, bs = w->bs;
    size_t kt = (size_t)w->p.k_top, kb = (size_t)w->p.k_bottom;
    size_t extra = (m - bs - kt - kb) / 2;
    size_t xt = kt ? (kb ? extra / 2 : extra) : 0, xb = kb ? extra - xt : 0;
    size_t nt = kt + xt, nb = kb + xb, q = 0;
    for (size_t i = 0; i < nb; i++) w->idx[q++] = i;
    for (size_t i = K - nt; i < K; i++) w->idx[q++] = i;
    for (size_t r = 0; r < K; r++)
        for (size_t c = 0; c < q; c++) w->keep[r * q + c] = w->S[w->idx[c] * m + r];
    for (size_t c0 = 0; c0 < n; c0 += RESTART_COLUMNS) {
        size_t nc = n - c0 < RESTART_COLUMNS ? n - c0 : RESTART_COLUMNS;
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)q, (int)nc, (int)K, 1.0,
                    w->keep, (int)q, w->Q + c0, (int)n, 0.0, w->chunk, RESTART_COLUMNS);
        for (size_t r = 0; r < q; r++)
            memcpy(w->Q + r * n + c0, w->chunk + r * RESTART_COLUMNS, nc * sizeof *w->Q);
    }
    memmove(w->Q + q * n, w->Q + K * n, bs * n * sizeof *w->Q);
    memset(w->T, 0, m * m * sizeof *w->T);
    for (size_t c = 0; c < q; c++) w->T[c * m + c] = w->theta[w->idx[c]];
    w->K = q;
    w->n_restarts++;
}

static minima_status ws_alloc(block_ws **out, minima_linop *op, size_t bs,
                              const minima_eigs_params *p0)
{
    *out = NULL;
    minima_eigs_params p = *p0;
    size_t n = op->n;
    if (bs < 1) MINIMA_FAIL(MINIMA_EINVAL, "block lanczos: the block size must be >= 1");
    if (p.k_top < 0 || p.k_bottom < 0 || p.k_top + p.k_bottom < 1)
        MINIMA_FAIL(MINIMA_EINVAL, "block lanczos: k_top = %d and k_bottom = %d: expected >= 0 "
                    "each and at least one eigenpair", p.k_top, p.k_bottom);
    if (!(p.tol > 0) || !isfinite(p.tol))
        MINIMA_FAIL(MINIMA_EINVAL, "block lanczos: tol = %g, expected a finite value > 0", p.tol);
    if (!(p.zero_floor >= 0) || !isfinite(p.zero_floor))
        MINIMA_FAIL(MINIMA_EINVAL, "block lanczos: zero_floor = %g, expected a finite value >= 0",
                    p.zero_floor);
    if (p.max_products < 1) MINIMA_FAIL(MINIMA_EINVAL, "block lanczos: max_products must be >= 1");
    size_t k = (size_t)p.k_top + (size_t)p.k_bottom;
    size_t m = p.max_basis;
    if (m == 0) {
        m = 2 * k + 20 > 40 ? 2 * k + 20 : 40;
        if (m < k + 3 * bs) m = k + 3 * bs;
        if (m + bs > n) m = n > bs ? n - bs : 0;
    }
    if (m < k + 2 * bs || m + bs > n)
        MINIMA_FAIL(MINIMA_EINVAL, "block lanczos: a basis of %zu vectors does not fit %zu "
                    "eigenpairs with blocks of %zu in dimension %zu: expected k + 2b <= max_basis "
                    "<= n - b", m, k, bs, n);
    p.max_basis = m;
    block_ws *w = minima_calloc(1, sizeof *w);
    if (!w) goto nomem;
    *w = (block_ws){.n = n, .m = m, .bs = bs, .p = p, .op = op};
    w->lwork = 1 + 6 * m + 2 * m * m;
    w->liwork = 3 + 5 * m;
    w->Q = minima_alloc((m + 2 * bs) * n, sizeof *w->Q);
    w->T = minima_calloc(m * m, sizeof *w->T);
    w->C = minima_alloc((m + bs) * bs, sizeof *w->C);
    w->C2 = minima_alloc((m + bs) * bs, sizeof *w->C2);
    w->h = minima_alloc(m + 3 * bs, sizeof *w->h);
    w->B = minima_alloc(bs * bs, sizeof *w->B);
    w->S = minima_alloc(m * m, sizeof *w->S);
    w->theta = minima_alloc(m, sizeof *w->theta);
    w->res = minima_alloc(m, sizeof *w->res);
    w->work = minima_alloc(w->lwork, sizeof *w->work);
    w->iwork = minima_alloc(w->liwork, sizeof *w->iwork);
    w->keep = minima_alloc(m * m, sizeof *w->keep);
    w->chunk = minima_alloc(m * RESTART_COLUMNS, sizeof *w->chunk);
    w->idx = minima_alloc(m, sizeof *w->idx);
    if (!w->Q || !w->T || !w->C || !w->C2 || !w->h || !w->B || !w->S || !w->theta || !w->res ||
        !w->work || !w->iwork || !w->keep || !w->chunk || !w->idx)
        goto nomem;
    *out = w;
    return MINIMA_OK;
nomem:
    ws_free(w);
    MINIMA_FAIL(MINIMA_ENOMEM, "block lanczos: out of memory for a basis of %zu + %zu vectors "
                "of %zu", m, 2 * bs, n);
}

/* The result: Ritz pairs, vectors Q_K s, and with verify the true residuals
 * ||A x - theta x|| from one block product of all returned vectors. */
static minima_status make_result(block_ws *w, minima_eigs_result *r)
{
    size_t n = w->n, K = w->K, m = w->m;
    size_t kt = (size_t)w->p.k_top, kb = (size_t)w->p.k_bottom;
    if (kt > K) kt = K;
    if (kb > K - kt) kb = K - kt;
    size_t q = kt + kb;
    double *X = minima_alloc(q * n, sizeof *X), *AX = NULL;
    double *lam = minima_alloc(q, sizeof *lam), *tres = minima_alloc(q, sizeof *tres);
    minima_status st = MINIMA_OK;
    r->n = n;
    r->converged = all_converged(w);
    if (!X || !lam || !tres) goto nomem;
    for (size_t i = 0; i < kt; i++) w->idx[i] = K - 1 - i;
    for (size_t i = 0; i < kb; i++) w->idx[kt + i] = i;
    for (size_t r2 = 0; r2 < K; r2++)
        for (size_t c = 0; c < q; c++) w->keep[r2 * q + c] = w->S[w->idx[c] * m + r2];
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)q, (int)n, (int)K, 1.0, w->keep,
                (int)q, w->Q, (int)n, 0.0, X, (int)n);
    for (size_t i = 0; i < q; i++) lam[i] = w->theta[w->idx[i]];
    if (w->p.verify) {
        if (!(AX = minima_alloc(q * n, sizeof *AX))) goto nomem;
        st = minima_linop_apply_block(w->op, q, X, AX);
        if (st != MINIMA_OK) goto fail;
        w->n_products += q;
        for (size_t i = 0; i < q; i++) {
            double s = 0;
            for (size_t t = 0; t < n; t++) {
                double d = AX[i * n + t] - lam[i] * X[i * n + t];
                s += d * d;
            }
            tres[i] = sqrt(s);
        }
    }
#define TAKE(dst, cnt, from, src, per)                                                        \
    do {                                                                                      \
        if (!(cnt)) break;                                                                    \
        if (!((dst) = minima_alloc((cnt) * (per), sizeof *(dst)))) goto nomem;               \
        memcpy((dst), (src) + (from) * (per), (cnt) * (per) * sizeof *(dst));                \
    } while (0)
    TAKE(r->top, kt, 0, lam, 1);
    TAKE(r->top_vectors, kt, 0, X, n);
    TAKE(r->bottom, kb, kt, lam, 1);
    TAKE(r->bottom_vectors, kb, kt, X, n);
    if (w->p.verify) {
        TAKE(r->top_true_residual, kt, 0, tres, 1);
        TAKE(r->bottom_true_residual, kb, kt, tres, 1);
    }
    for (size_t i = 0; i < q; i++) tres[i] = w->res[w->idx[i]];
    TAKE(r->top_residual, kt, 0, tres, 1);
    TAKE(r->bottom_residual, kb, kt, tres, 1);
#undef TAKE
    r->n_top = (int)kt;
    r->n_bottom = (int)kb;
    r->n_products = w->n_products;
    r->n_steps = w->n_steps;
    r->n_restarts = w->n_restarts;
    goto done;
nomem:
    st = minima_error(MINIMA_ENOMEM, "block lanczos: out of memory for %zu eigenvectors of %zu "
                      "values", q, n);
fail:
    minima_eigs_result_free(r);
done:
    minima_free(X);
    minima_free(AX);
    minima_free(lam);
    minima_free(tres);
    return st;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

minima_status minima_eigs_block(minima_linop *op, size_t block, const minima_eigs_params *params,
                                minima_eigs_result *result)
{
    if (result) memset(result, 0, sizeof *result);
    if (!op || !result) MINIMA_FAIL(MINIMA_EINVAL, "minima_eigs_block: NULL argument");
    minima_eigs_params p = params ? *params : minima_eigs_default_params();
    double t0 = now_seconds();
    block_ws *w = NULL;
    MINIMA_TRY(ws_alloc(&w, op, block, &p));
    minima_status st = MINIMA_OK, stop = MINIMA_OK;
    minima_rng_seed(&w->rng, p.seed);
    minima_rng_fill_normal(&w->rng, w->Q, block * w->n);
    for (size_t c = 0; c < block; c++) {
        double nrm = 0;
        st = orthonormalize_row(w, c, c, NULL, 1e-8, &nrm);
        if (st != MINIMA_OK) goto done;
    }
    for (;;) {
        if (minima_interrupted()) { stop = MINIMA_EINTERRUPTED; break; }
        if (w->K + block > w->m) restart(w);
        st = step(w);
        if (st == MINIMA_EINTERRUPTED) { stop = st; break; }
        if (st != MINIMA_OK) goto done;
        if (all_converged(w)) break;
        if (w->n_products >= p.max_products) { stop = MINIMA_ENOCONV; break; }
        minima_progress("block lanczos", (double)w->n_products, (double)p.max_products);
    }
    minima_progress("block lanczos", (double)p.max_products, (double)p.max_products);
    if (w->K > 0) {
        if (stop == MINIMA_EINTERRUPTED) w->p.verify = 0;   /* no more products */
        st = make_result(w, result);
        if (st != MINIMA_OK) goto done;
    }
    result->seconds = now_seconds() - t0;
    if (stop == MINIMA_EINTERRUPTED)
        st = minima_error(stop, "block lanczos: interrupted after %zu products; the result "
                          "holds the current Ritz pairs", w->n_products);
    else if (stop == MINIMA_ENOCONV)
        st = minima_error(stop, "block lanczos: not converged to tol %g within max_products = "
                          "%zu (%zu block steps of %zu, %zu restarts); the result holds the "
                          "current Ritz pairs", p.tol, p.max_products, w->n_steps, block,
                          w->n_restarts);
    else
        st = MINIMA_OK;
done:
    ws_free(w);
    return st;
}
