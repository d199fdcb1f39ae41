/* lanczos.c — thick-restart Lanczos with full reorthogonalization for the
 * extreme eigenpairs of a symmetric operator (see minima/eigen.h).
 *
 * State after k steps. V holds an orthonormal basis v_0..v_{j-1} and the
 * next vector v_j; T (j-by-j) is the projection V^T A V, tridiagonal until
 * the first restart and an arrowhead-plus-tridiagonal matrix after it;
 * A V_j = V_j T_j + beta v_j e_j^T up to rounding. Hence a Ritz pair
 * (theta_i, V_j s_i) has residual |beta| |s_{j-1,i}|. */
#include "minima/eigen.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "minima/alloc.h"
#include "minima/rng.h"

/* Columns of V processed per block in the in-place restart. */
#define RESTART_BLOCK 256

struct minima_lanczos {
    size_t n, m;              /* dimension, basis budget (<= n) */
    minima_eigs_params p;
    minima_linop *op;         /* borrowed */
    double *V;                /* (m + 1, n) row-major: basis vectors */
    double *w;                /* (n) the new vector */
    double *h;                /* (m + 1) Gram-Schmidt coefficients */
    double *T;                /* (m, m) projected matrix, ld m, symmetric */
    double *S;                /* (m, m) its eigenvectors, column-major, ld m */
    double *theta;            /* (m) Ritz values, ascending */
    double *res;              /* (m) residual estimates */
    double *e;                /* (m) off-diagonal for dstev */
    double *work;             /* (lwork) LAPACK workspace */
    int *iwork;               /* (liwork) */
    size_t lwork, liwork;
    double *keep;             /* (m, m) row-major: selected eigenvectors of T */
    double *block;            /* (m, RESTART_BLOCK) restart buffer */
    size_t *keep_idx;         /* (m) */
    size_t j;                 /* basis vectors with a complete column of T */
    double beta;              /* coupling of v_j to the basis (0 after breakdown) */
    int tridiagonal;          /* no restart yet: T is tridiagonal */
    int exhausted;            /* j == n: the basis spans the space */
    double anorm;             /* max ||A v|| seen: a lower bound of ||A|| */
    size_t n_products, n_steps, n_restarts;
    minima_rng rng;
};

minima_eigs_params minima_eigs_default_params(void)
{
    minima_eigs_params p;
    memset(&p, 0, sizeof p);
    p.k_top = 1;
    p.k_bottom = 0;
    p.tol = 1e-8;
    p.zero_floor = 0.1;
    p.max_basis = 0;
    p.max_products = 10000;
    p.seed = 0;
    p.verify = 1;
    return p;
}

void minima_eigs_result_free(minima_eigs_result *r)
{
    if (!r) return;
    minima_free(r->top);
    minima_free(r->top_residual);
    minima_free(r->top_true_residual);
    minima_free(r->top_vectors);
    minima_free(r->bottom);
    minima_free(r->bottom_residual);
    minima_free(r->bottom_true_residual);
    minima_free(r->bottom_vectors);
    memset(r, 0, sizeof *r);
}

void minima_lanczos_free(minima_lanczos *ws)
{
    if (!ws) return;
    minima_free(ws->V);
    minima_free(ws->w);
    minima_free(ws->h);
    minima_free(ws->T);
    minima_free(ws->S);
    minima_free(ws->theta);
    minima_free(ws->res);
    minima_free(ws->e);
    minima_free(ws->work);
    minima_free(ws->iwork);
    minima_free(ws->keep);
    minima_free(ws->block);
    minima_free(ws->keep_idx);
    minima_free(ws);
}

minima_status minima_lanczos_alloc(minima_lanczos **out, size_t n,
                                   const minima_eigs_params *params)
{
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "minima_lanczos_alloc: out is NULL");
    *out = NULL;
    minima_eigs_params p = params ? *params : minima_eigs_default_params();
    if (n == 0 || n > (size_t)INT32_MAX)
        MINIMA_FAIL(MINIMA_EINVAL, "lanczos: dimension must be in [1, 2^31), got %zu", n);
    if (p.k_top < 0 || p.k_bottom < 0 || p.k_top + p.k_bottom < 1)
        MINIMA_FAIL(MINIMA_EINVAL, "lanczos: k_top = %d and k_bottom = %d: expected >= 0 "
                    "each and at least one eigenpair", p.k_top, p.k_bottom);
    size_t k = (size_t)p.k_top + (size_t)p.k_bottom;
    if (k > n)
        MINIMA_FAIL(MINIMA_EINVAL, "lanczos: %zu eigenpairs asked (k_top %d + k_bottom %d) "
                    "of a %zu-dimensional operator", k, p.k_top, p.k_bottom, n);
    if (!(p.tol > 0) || !isfinite(p.tol))
        MINIMA_FAIL(MINIMA_EINVAL, "lanczos: tol = %g, expected a finite value > 0", p.tol);
    if (!(p.zero_floor >= 0) || !isfinite(p.zero_floor))
        MINIMA_FAIL(MINIMA_EINVAL, "lanczos: zero_floor = %g, expected a finite value >= 0",
                    p.zero_floor);
    if (p.max_products < 1)
        MINIMA_FAIL(MINIMA_EINVAL, "lanczos: max_products must be >= 1");
    size_t m = p.max_basis;
    if (m == 0) m = 2 * k + 20 > 40 ? 2 * k + 20 : 40;
    if (m > n) m = n;
    if (m < n && m < k + 2)
        MINIMA_FAIL(MINIMA_EINVAL, "lanczos: max_basis = %zu is too small for %zu eigenpairs: "
                    "expected >= %zu (or the dimension %zu)", m, k, k + 2, n);
    p.max_basis = m;

    minima_lanczos *ws = minima_calloc(1, sizeof *ws);
    if (!ws) goto nomem;
    ws->n = n;
    ws->m = m;
    ws->p = p;
    /* dsyevd on an m-by-m matrix with vectors; dstev needs 2m - 2. */
    ws->lwork = 1 + 6 * m + 2 * m * m;
    ws->liwork = 3 + 5 * m;
    ws->V = minima_alloc((m + 1) * n, sizeof *ws->V);
    ws->w = minima_alloc(n, sizeof *ws->w);
    ws->h = minima_alloc(m + 1, sizeof *ws->h);
    ws->T = minima_calloc(m * m, sizeof *ws->T);
    ws->S = minima_calloc(m * m, sizeof *ws->S);
    ws->theta = minima_calloc(m, sizeof *ws->theta);
    ws->res = minima_calloc(m, sizeof *ws->res);
    ws->e = minima_calloc(m, sizeof *ws->e);
    ws->work = minima_alloc(ws->lwork, sizeof *ws->work);
    ws->iwork = minima_alloc(ws->liwork, sizeof *ws->iwork);
    ws->keep = minima_alloc(m * m, sizeof *ws->keep);
    ws->block = minima_alloc(m * RESTART_BLOCK, sizeof *ws->block);
    ws->keep_idx = minima_alloc(m, sizeof *ws->keep_idx);
    if (!ws->V || !ws->w || !ws->h || !ws->T || !ws->S || !ws->theta || !ws->res || !ws->e ||
        !ws->work || !ws->iwork || !ws->keep || !ws->block || !ws->keep_idx)
        goto nomem;
    *out = ws;
    return MINIMA_OK;
nomem:
    minima_lanczos_free(ws);
    MINIMA_FAIL(MINIMA_ENOMEM, "lanczos: out of memory for a basis of %zu vectors of %zu "
                "values", m + 1, n);
}

/* ---- Gram-Schmidt ---------------------------------------------------- */

/* x -= V[0..k)^T (V[0..k) x), twice (classical Gram-Schmidt, BLAS 2).
 * Returns the coefficient of the last vector, V[k-1], summed over both
 * passes (the Lanczos alpha when V[k-1] is the current vector). */
static double cgs2(minima_lanczos *ws, size_t k, double *x)
{
    double last = 0;
    int n = (int)ws->n;
    if (k == 0) return 0;
    for (int pass = 0; pass < 2; pass++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)k, n, 1.0, ws->V, n, x, 1, 0.0, ws->h, 1);
        cblas_dgemv(CblasRowMajor, CblasTrans, (int)k, n, -1.0, ws->V, n, ws->h, 1, 1.0, x, 1);
        last += ws->h[k - 1];
    }
    return last;
}

/* A fresh random unit vector orthogonal to V[0..k) into V[k] (k < n). */
static minima_status random_orthogonal(minima_lanczos *ws, size_t k)
{
    double *v = ws->V + k * ws->n;
    for (int attempt = 0; attempt < 10; attempt++) {
        minima_rng_fill_normal(&ws->rng, v, ws->n);
        double before = cblas_dnrm2((int)ws->n, v, 1);
        cgs2(ws, k, v);
        double nrm = cblas_dnrm2((int)ws->n, v, 1);
        if (nrm > 1e-8 * before) {
            cblas_dscal((int)ws->n, 1.0 / nrm, v, 1);
            return MINIMA_OK;
        }
    }
    MINIMA_FAIL(MINIMA_EFAILED, "lanczos: no vector orthogonal to a basis of %zu in "
                "dimension %zu could be drawn", k, ws->n);
}

/* ---- the projected problem ------------------------------------------- */

/* Diagonalises T_j; Ritz values ascending into theta, vectors into S,
 * residual estimates |beta s_{j-1,i}| into res. */
static minima_status project(minima_lanczos *ws)
{
    size_t j = ws->j, m = ws->m;
    lapack_int info;
    if (ws->tridiagonal) {
        for (size_t i = 0; i < j; i++) ws->theta[i] = ws->T[i * m + i];
        for (size_t i = 0; i + 1 < j; i++) ws->e[i] = ws->T[(i + 1) * m + i];
        info = LAPACKE_dstev_work(LAPACK_COL_MAJOR, 'V', (lapack_int)j, ws->theta, ws->e,
                                  ws->S, (lapack_int)m, ws->work);
    } else {
        for (size_t c = 0; c < j; c++)
            memcpy(ws->S + c * m, ws->T + c * m, j * sizeof *ws->S);
        info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)j, ws->S,
                                   (lapack_int)m, ws->theta, ws->work, (lapack_int)ws->lwork,
                                   ws->iwork, (lapack_int)ws->liwork);
    }
    if (info != 0)
        MINIMA_FAIL(MINIMA_EFAILED, "lanczos: LAPACK %s failed on the %zu-by-%zu projected "
                    "matrix (info %d)", ws->tridiagonal ? "dstev" : "dsyevd", j, j, (int)info);
    for (size_t i = 0; i < j; i++) ws->res[i] = fabs(ws->beta * ws->S[i * m + (j - 1)]);
    return MINIMA_OK;
}

/* Number of top / bottom pairs available now. */
static void wanted(const minima_lanczos *ws, size_t *kt, size_t *kb)
{
    size_t t = (size_t)ws->p.k_top, b = (size_t)ws->p.k_bottom;
    if (t > ws->j) t = ws->j;
    if (b > ws->j - t) b = ws->j - t;
    *kt = t;
    *kb = b;
}

static int pair_converged(const minima_lanczos *ws, size_t i)
{
    double tnorm = fmax(fabs(ws->theta[0]), fabs(ws->theta[ws->j - 1]));
    double scale = fmax(fabs(ws->theta[i]), ws->p.zero_floor * tnorm);
    return ws->res[i] <= ws->p.tol * scale;
}

minima_status minima_lanczos_test(const minima_lanczos *ws)
{
    if (!ws || ws->j == 0) return MINIMA_ENOCONV;
    size_t kt, kb;
    wanted(ws, &kt, &kb);
    if (kt + kb < (size_t)ws->p.k_top + (size_t)ws->p.k_bottom) return MINIMA_ENOCONV;
    for (size_t i = 0; i < kb; i++)
        if (!pair_converged(ws, i)) return MINIMA_ENOCONV;
    for (size_t i = 0; i < kt; i++)
        if (!pair_converged(ws, ws->j - 1 - i)) return MINIMA_ENOCONV;
    return MINIMA_OK;
}

/* ---- steps and restarts ---------------------------------------------- */

minima_status minima_lanczos_init(minima_lanczos *ws, minima_linop *op, uint64_t seed)
{
    if (!ws || !op) MINIMA_FAIL(MINIMA_EINVAL, "minima_lanczos_init: NULL argument");
    if (op->n != ws->n)
        MINIMA_FAIL(MINIMA_ESHAPE, "lanczos: operator of dimension %zu given to a workspace "
                    "for %zu", op->n, ws->n);
    ws->op = op;
    ws->j = 0;
    ws->beta = 0;
    ws->tridiagonal = 1;
    ws->exhausted = 0;
    ws->anorm = 0;
    ws->n_products = ws->n_steps = ws->n_restarts = 0;
    memset(ws->T, 0, ws->m * ws->m * sizeof *ws->T);
    minima_rng_seed(&ws->rng, seed);
    double *v = ws->V;
    minima_rng_fill_normal(&ws->rng, v, ws->n);
    double nrm = cblas_dnrm2((int)ws->n, v, 1);
    cblas_dscal((int)ws->n, 1.0 / nrm, v, 1);
    return MINIMA_OK;
}

/* Thick restart: keep the wanted Ritz vectors and their neighbours,
 * y_i = V_j s_i, then v_j as the next vector, coupled to each y_i by
 * beta s_{j-1,i}. */
static void restart(minima_lanczos *ws)
{
    size_t j = ws->j, m = ws->m, n = ws->n;
    size_t kt = (size_t)ws->p.k_top, kb = (size_t)ws->p.k_bottom;
    size_t extra = (m - kt - kb) / 2;
    size_t xt = kt ? (kb ? extra / 2 : extra) : 0;
    size_t xb = kb ? extra - xt : 0;
    size_t nt = kt + xt, nb = kb + xb;
    MINIMA_ASSERT(nt + nb < m && nt + nb <= j);

    size_t q = 0;
    for (size_t i = 0; i < nb; i++) ws->keep_idx[q++] = i;
    for (size_t i = j - nt; i < j; i++) ws->keep_idx[q++] = i;
    /* keep: (j, q) row-major, keep[r][c] = S[r, keep_idx[c]]. */
    for (size_t r = 0; r < j; r++)
        for (size_t c = 0; c < q; c++)
            ws->keep[r * q + c] = ws->S[ws->keep_idx[c] * m + r];

    /* V[0..q) = keep^T V[0..j), in place, one block of columns at a time. */
    for (size_t c0 = 0; c0 < n; c0 += RESTART_BLOCK) {
        size_t b = n - c0 < RESTART_BLOCK ? n - c0 : RESTART_BLOCK;
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)q, (int)b, (int)j, 1.0,
                    ws->keep, (int)q, ws->V + c0, (int)n, 0.0, ws->block, (int)b);
        for (size_t r = 0; r < q; r++)
            memcpy(ws->V + r * n + c0, ws->block + r * b, b * sizeof *ws->block);
    }
    memmove(ws->V + q * n, ws->V + j * n, n * sizeof *ws->V);

    memset(ws->T, 0, m * m * sizeof *ws->T);
    for (size_t c = 0; c < q; c++) {
        size_t i = ws->keep_idx[c];
        double s = ws->beta * ws->S[i * m + (j - 1)];
        ws->T[c * m + c] = ws->theta[i];
        ws->T[c * m + q] = s;
        ws->T[q * m + c] = s;
    }
    ws->j = q;
    ws->tridiagonal = 0;
    ws->n_restarts++;
}

minima_status minima_lanczos_iterate(minima_lanczos *ws)
{
    if (!ws || !ws->op) MINIMA_FAIL(MINIMA_EINVAL, "minima_lanczos_iterate: not initialised");
    if (ws->exhausted) return MINIMA_OK;
    /* The product first: if it fails (an interrupt inside it, say) the
     * workspace is left as after the previous step, its Ritz pairs intact.
     * The restart moves the next vector v_j to position q unchanged, so
     * A v_j computed before it is still the product needed after it. */
    MINIMA_TRY(minima_linop_apply(ws->op, ws->V + ws->j * ws->n, ws->w));
    ws->n_products++;
    if (ws->j == ws->m) restart(ws);

    size_t c = ws->j, n = ws->n, m = ws->m;
    double wn = cblas_dnrm2((int)n, ws->w, 1);
    if (!isfinite(wn))
        MINIMA_FAIL(MINIMA_ENONFINITE, "lanczos: the operator's product at step %zu has "
                    "NaN or Inf", ws->n_steps + 1);
    if (wn > ws->anorm) ws->anorm = wn;

    double alpha = cgs2(ws, c + 1, ws->w);
    ws->T[c * m + c] = alpha;
    ws->j = c + 1;
    ws->n_steps++;

    double beta = cblas_dnrm2((int)n, ws->w, 1);
    double breakdown = 10.0 * DBL_EPSILON * sqrt((double)n) * ws->anorm;
    if (ws->j == n) {
        ws->exhausted = 1;
        ws->beta = 0;
    } else if (beta <= breakdown) {
        /* The Krylov space is invariant: every Ritz pair is exact. Go on
         * from a new direction, uncoupled from the basis. */
        ws->beta = 0;
        MINIMA_TRY(random_orthogonal(ws, ws->j));
    } else {
        ws->beta = beta;
        double *next = ws->V + ws->j * n;
        for (size_t i = 0; i < n; i++) next[i] = ws->w[i] / beta;
        if (ws->j < m) {
            ws->T[ws->j * m + c] = beta;
            ws->T[c * m + ws->j] = beta;
        }
    }
    return project(ws);
}

size_t minima_lanczos_n_products(const minima_lanczos *ws)
{
    return ws ? ws->n_products : 0;
}

/* ---- results ---------------------------------------------------------- */

/* Ritz vectors of the Ritz values idx[0..q) into X (q, n) row-major. */
static void ritz_vectors(minima_lanczos *ws, const size_t *idx, size_t q, double *X)
{
    size_t j = ws->j, m = ws->m, n = ws->n;
    for (size_t r = 0; r < j; r++)
        for (size_t c = 0; c < q; c++)
            ws->keep[r * q + c] = ws->S[idx[c] * m + r];
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)q, (int)n, (int)j, 1.0,
                ws->keep, (int)q, ws->V, (int)n, 0.0, X, (int)n);
}

/* ||A x - lambda x|| for each row of X, one product each (into ws->w). */
static minima_status true_residuals(minima_lanczos *ws, const double *X, const double *lambda,
                                    size_t q, double *out)
{
    size_t n = ws->n;
    for (size_t i = 0; i < q; i++) {
        const double *x = X + i * n;
        MINIMA_TRY(minima_linop_apply(ws->op, x, ws->w));
        ws->n_products++;
        double s = 0;
        for (size_t t = 0; t < n; t++) {
            double r = ws->w[t] - lambda[i] * x[t];
            s += r * r;
        }
        out[i] = sqrt(s);
    }
    return MINIMA_OK;
}

minima_status minima_lanczos_result(minima_lanczos *ws, minima_eigs_result *r)
{
    if (!ws || !r) MINIMA_FAIL(MINIMA_EINVAL, "minima_lanczos_result: NULL argument");
    memset(r, 0, sizeof *r);
    if (ws->j == 0) MINIMA_FAIL(MINIMA_EINVAL, "lanczos: no step has been taken yet");
    size_t kt, kb, n = ws->n;
    wanted(ws, &kt, &kb);
    int verify = ws->p.verify;
    minima_status st = MINIMA_OK;
    r->n = n;
    r->converged = minima_lanczos_test(ws) == MINIMA_OK;
    if (kt) {
        r->top = minima_alloc(kt, sizeof *r->top);
        r->top_residual = minima_alloc(kt, sizeof *r->top_residual);
        r->top_vectors = minima_alloc(kt * n, sizeof *r->top_vectors);
        if (verify) r->top_true_residual = minima_alloc(kt, sizeof *r->top_true_residual);
        if (!r->top || !r->top_residual || !r->top_vectors || (verify && !r->top_true_residual))
            goto nomem;
    }
    if (kb) {
        r->bottom = minima_alloc(kb, sizeof *r->bottom);
        r->bottom_residual = minima_alloc(kb, sizeof *r->bottom_residual);
        r->bottom_vectors = minima_alloc(kb * n, sizeof *r->bottom_vectors);
        if (verify) r->bottom_true_residual = minima_alloc(kb, sizeof *r->bottom_true_residual);
        if (!r->bottom || !r->bottom_residual || !r->bottom_vectors ||
            (verify && !r->bottom_true_residual))
            goto nomem;
    }
    r->n_top = (int)kt;
    r->n_bottom = (int)kb;

    /* keep_idx is free between steps: use it for the selection. */
    for (size_t i = 0; i < kt; i++) {
        size_t k = ws->j - 1 - i;
        ws->keep_idx[i] = k;
        r->top[i] = ws->theta[k];
        r->top_residual[i] = ws->res[k];
    }
    if (kt) ritz_vectors(ws, ws->keep_idx, kt, r->top_vectors);
    for (size_t i = 0; i < kb; i++) {
        ws->keep_idx[i] = i;
        r->bottom[i] = ws->theta[i];
        r->bottom_residual[i] = ws->res[i];
    }
    if (kb) ritz_vectors(ws, ws->keep_idx, kb, r->bottom_vectors);
    if (verify && kt) {
        st = true_residuals(ws, r->top_vectors, r->top, kt, r->top_true_residual);
        if (st != MINIMA_OK) goto fail;
    }
    if (verify && kb) {
        st = true_residuals(ws, r->bottom_vectors, r->bottom, kb, r->bottom_true_residual);
        if (st != MINIMA_OK) goto fail;
    }
    r->n_products = ws->n_products;
    r->n_steps = ws->n_steps;
    r->n_restarts = ws->n_restarts;
    return MINIMA_OK;
nomem:
    st = minima_error(MINIMA_ENOMEM, "lanczos: out of memory for %zu + %zu eigenvectors of "
                      "%zu values", kt, kb, n);
fail:
    minima_eigs_result_free(r);
    return st;
}

/* ---- one-shot --------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

minima_status minima_eigs(minima_linop *op, const minima_eigs_params *params,
                          minima_eigs_result *result)
{
    if (result) memset(result, 0, sizeof *result);
    if (!op || !result) MINIMA_FAIL(MINIMA_EINVAL, "minima_eigs: NULL argument");
    minima_eigs_params p = params ? *params : minima_eigs_default_params();
    double t0 = now_seconds();
    minima_lanczos *ws = NULL;
    minima_status st = minima_lanczos_alloc(&ws, op->n, &p);
    if (st != MINIMA_OK) return st;
    st = minima_lanczos_init(ws, op, p.seed);
    if (st != MINIMA_OK) goto done;

    minima_status stop = MINIMA_OK;
    for (;;) {
        if (minima_interrupted()) { stop = MINIMA_EINTERRUPTED; break; }
        st = minima_lanczos_iterate(ws);
        if (st == MINIMA_EINTERRUPTED) { stop = st; break; }     /* inside the product */
        if (st != MINIMA_OK) goto done;
        if (minima_lanczos_test(ws) == MINIMA_OK) break;
        if (ws->n_products >= p.max_products) { stop = MINIMA_ENOCONV; break; }
        minima_progress("lanczos", (double)ws->n_products, (double)p.max_products);
    }
    minima_progress("lanczos", (double)p.max_products, (double)p.max_products);
    if (ws->j > 0) {
        st = minima_lanczos_result(ws, result);
        if (st == MINIMA_EINTERRUPTED && stop == MINIMA_EINTERRUPTED) {
            /* The operator refuses products once interrupted (a network
             * does): the partial result carries the Ritz residual
             * estimates only, without the verifying products. */
            ws->p.verify = 0;
            st = minima_lanczos_result(ws, result);
        }
        if (st != MINIMA_OK) goto done;
    }
    result->seconds = now_seconds() - t0;
    if (stop == MINIMA_EINTERRUPTED)
        st = minima_error(stop, "lanczos: interrupted after %zu products; the result holds "
                          "the current Ritz pairs", ws->n_products);
    else if (stop == MINIMA_ENOCONV)
        st = minima_error(stop, "lanczos: not converged to tol %g within max_products = %zu "
                          "(%zu steps, %zu restarts); the result holds the current Ritz pairs",
                          p.tol, p.max_products, ws->n_steps, ws->n_restarts);
    else
        st = MINIMA_OK;
done:
    minima_lanczos_free(ws);
    return st;
}
