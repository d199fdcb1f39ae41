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

/* keep (j, q) row-major: keep[r][c] = S[r, keep_idx[c]], the selected
 * eigenvectors of T. */
static void select_keep(minima_lanczos *ws, size_t q)
{
    size_t j = ws->j, m = ws->m;
    for (size_t r = 0; r < j; r++)
        for (size_t c = 0; c < q; c++)
            ws->keep[r * q + c] = ws->S[ws->keep_idx[c] * m + r];
}

/* M[0..q) = keep^T M[0..j) for rows of n values, in place, one block of
 * columns at a time (M is the basis V, or its products A V). */
static void combine_rows(minima_lanczos *ws, double *M, size_t q)
{
    size_t j = ws->j, n = ws->n;
    for (size_t c0 = 0; c0 < n; c0 += RESTART_BLOCK) {
        size_t b = n - c0 < RESTART_BLOCK ? n - c0 : RESTART_BLOCK;
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)q, (int)b, (int)j, 1.0,
                    ws->keep, (int)q, M + c0, (int)n, 0.0, ws->block, (int)b);
        for (size_t r = 0; r < q; r++)
            memcpy(M + r * n + c0, ws->block + r * b, b * sizeof *ws->block);
    }
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
    select_keep(ws, q);
    combine_rows(ws, ws->V, q);
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

/* ---- mixed precision: the float64 refinement ----------------------------
 *
 * Phase 2 of minima_eigs with params.op_low (eigen.h). The basis U lives in
 * ws->V (rows [0, j)), its float64 products A U in AU (rows [0, j)), the
 * projected matrix H = U^T A U in ws->T; project() diagonalises it (T is
 * then a full symmetric matrix, as after a restart). */

/* Neighbours of the wanted pairs carried from the float32 phase, and kept
 * at a restart of the refinement: they make the float64 Rayleigh-Ritz see
 * the gap below the last wanted eigenvalue. */
#define MIXED_NEIGHBOURS 10

typedef struct {
    double *AU;               /* (m, n) */
    double tnorm;             /* largest |Ritz value| of either phase */
    size_t products;          /* float64 products so far */
    size_t restarts;
    int converged;
} refine_state;

/* The q = nb + nt Ritz pairs to keep: the wanted ones and up to g
 * neighbours, split as the thick restart does; into ws->keep_idx. */
static size_t refine_keep(minima_lanczos *ws, size_t g)
{
    size_t j = ws->j, kt, kb;
    wanted(ws, &kt, &kb);
    if (kt + kb + g > j) g = j - kt - kb;
    size_t xt = kt ? (kb ? g / 2 : g) : 0, xb = kb ? g - xt : 0;
    size_t nt = kt + xt, nb = kb + xb, q = 0;
    for (size_t i = 0; i < nb; i++) ws->keep_idx[q++] = i;
    for (size_t i = j - nt; i < j; i++) ws->keep_idx[q++] = i;
    return q;
}

/* Appends the unit vector in V[j] (already orthogonal to V[0..j)): its
 * float64 product into AU[j] and column j of H. */
static minima_status refine_append(minima_lanczos *ws, refine_state *rs)
{
    size_t j = ws->j, n = ws->n, m = ws->m;
    double *au = rs->AU + j * n;
    MINIMA_TRY(minima_linop_apply(ws->op, ws->V + j * n, au));
    rs->products++;
    double an = cblas_dnrm2((int)n, au, 1);
    if (!isfinite(an))
        MINIMA_FAIL(MINIMA_ENONFINITE, "lanczos: the float64 product of refinement vector %zu "
                    "has NaN or Inf", rs->products);
    if (an > ws->anorm) ws->anorm = an;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)(j + 1), (int)n, 1.0, ws->V, (int)n, au, 1, 0.0,
                ws->h, 1);
    for (size_t i = 0; i <= j; i++) ws->T[i * m + j] = ws->T[j * m + i] = ws->h[i];
    ws->j = j + 1;
    return MINIMA_OK;
}

/* The float64 residual of Ritz pair i of the projection on U = V[0..j)
 * into out: (A U) s_i - theta_i U s_i. */
static double refine_residual(minima_lanczos *ws, const refine_state *rs, size_t j, size_t i,
                              double *out)
{
    size_t n = ws->n;
    const double *s = ws->S + i * ws->m;
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)j, (int)n, 1.0, rs->AU, (int)n, s, 1, 0.0, out, 1);
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)j, (int)n, -ws->theta[i], ws->V, (int)n, s, 1, 1.0,
                out, 1);
    return cblas_dnrm2((int)n, out, 1);
}

/* Rayleigh-Ritz on U and the residuals of the wanted pairs into ws->res.
 * Returns the number of wanted pairs not yet converged; lists them (top
 * first, largest first; then bottom, smallest first) in ws->keep_idx. */
static minima_status refine_project(minima_lanczos *ws, refine_state *rs, size_t *n_open)
{
    ws->tridiagonal = 0;
    ws->beta = 0;
    MINIMA_TRY(project(ws));
    size_t j = ws->j, kt, kb, q = 0;
    double tn = fmax(fabs(ws->theta[0]), fabs(ws->theta[j - 1]));
    if (tn > rs->tnorm) rs->tnorm = tn;
    wanted(ws, &kt, &kb);
    for (size_t c = 0; c < kt + kb; c++) {
        size_t i = c < kt ? j - 1 - c : c - kt;
        ws->res[i] = refine_residual(ws, rs, j, i, ws->w);
        double scale = fmax(fabs(ws->theta[i]), ws->p.zero_floor * rs->tnorm);
        if (!(ws->res[i] <= ws->p.tol * scale)) ws->keep_idx[q++] = i;
    }
    *n_open = q;
    return MINIMA_OK;
}

/* Restart the refinement on the kept Ritz vectors: U <- U S_keep,
 * A U <- (A U) S_keep, H <- diag(theta_keep). No product. */
static void refine_restart(minima_lanczos *ws, refine_state *rs, size_t g)
{
    size_t q = refine_keep(ws, g), m = ws->m;
    select_keep(ws, q);
    combine_rows(ws, ws->V, q);
    combine_rows(ws, rs->AU, q);
    memset(ws->T, 0, m * m * sizeof *ws->T);
    for (size_t c = 0; c < q; c++) ws->T[c * m + c] = ws->theta[ws->keep_idx[c]];
    ws->j = q;
    rs->restarts++;
}

/* Phase 2: from the state phase 1 left (its Ritz pairs projected), refine
 * in float64 until the wanted pairs converge, at most `budget` products.
 * *stop: MINIMA_OK (converged), MINIMA_ENOCONV or MINIMA_EINTERRUPTED.
 * Leaves ws projected on the final basis with the wanted float64 residuals
 * in ws->res. */
static minima_status refine(minima_lanczos *ws, minima_linop *op, refine_state *rs,
                            size_t budget, size_t done_before, size_t max_products,
                            minima_status *stop)
{
    size_t n = ws->n, m = ws->m, k = (size_t)ws->p.k_top + (size_t)ws->p.k_bottom;
    *stop = MINIMA_OK;
    ws->op = op;
    rs->tnorm = fmax(fabs(ws->theta[0]), fabs(ws->theta[ws->j - 1]));

    /* U = the wanted float32 Ritz vectors and their neighbours, made
     * orthonormal again in float64, each with its float64 product. */
    size_t g = MIXED_NEIGHBOURS;
    if (m < n && k + g + 1 > m) g = m > k + 1 ? m - k - 1 : 0;
    size_t q = refine_keep(ws, g);
    select_keep(ws, q);
    combine_rows(ws, ws->V, q);
    memset(ws->T, 0, m * m * sizeof *ws->T);
    ws->j = 0;
    for (size_t t = 0; t < q; t++) {
        double *u = ws->V + t * n;
        cgs2(ws, t, u);
        double nrm = cblas_dnrm2((int)n, u, 1);
        if (nrm > 0.5) cblas_dscal((int)n, 1.0 / nrm, u, 1);
        else MINIMA_TRY(random_orthogonal(ws, t));
        if (minima_interrupted()) { *stop = MINIMA_EINTERRUPTED; break; }
        minima_status st = refine_append(ws, rs);
        if (st == MINIMA_EINTERRUPTED) { *stop = st; break; }
        MINIMA_TRY(st);
    }
    if (ws->j == 0) {
        /* interrupted before the first float64 product: nothing to show */
        MINIMA_FAIL(MINIMA_EINTERRUPTED, "lanczos: interrupted");
    }

    for (;;) {
        size_t open;
        MINIMA_TRY(refine_project(ws, rs, &open));
        if (open == 0 && ws->j >= k) { rs->converged = 1; return MINIMA_OK; }
        if (*stop != MINIMA_OK) return MINIMA_OK;
        if (rs->products >= budget) { *stop = MINIMA_ENOCONV; return MINIMA_OK; }
        if (ws->j >= n) {
            /* U spans the space: the Ritz pairs are exact up to rounding and
             * cannot improve. */
            *stop = MINIMA_ENOCONV;
            return MINIMA_OK;
        }
        size_t cap = m < n ? m : n;
        if (ws->j + open > cap && ws->j > k + g) {
            refine_restart(ws, rs, g);
            MINIMA_TRY(refine_project(ws, rs, &open));
            if (open == 0 && ws->j >= k) { rs->converged = 1; return MINIMA_OK; }
        }
        /* The open pairs' residuals, orthonormalised, extend U (keep_idx
         * lists them; S and theta stay those of the projection on the first
         * j0 vectors until the next one). */
        size_t j0 = ws->j, added = 0;
        for (size_t c = 0; c < open; c++) {
            if (ws->j >= cap || rs->products >= budget) break;
            double *r = ws->V + ws->j * n;
            double rn = refine_residual(ws, rs, j0, ws->keep_idx[c], r);
            cgs2(ws, ws->j, r);
            double nrm = cblas_dnrm2((int)n, r, 1);
            if (!(nrm > 1e-3 * rn)) continue;          /* already in U to rounding */
            cblas_dscal((int)n, 1.0 / nrm, r, 1);
            if (minima_interrupted()) { *stop = MINIMA_EINTERRUPTED; break; }
            minima_status st = refine_append(ws, rs);
            if (st == MINIMA_EINTERRUPTED) { *stop = st; break; }
            MINIMA_TRY(st);
            added++;
        }
        if (added == 0 && *stop == MINIMA_OK && ws->j < cap && rs->products < budget) {
            /* nothing new (every residual lies in U to rounding): a random
             * direction keeps the space growing */
            MINIMA_TRY(random_orthogonal(ws, ws->j));
            minima_status st = refine_append(ws, rs);
            if (st == MINIMA_EINTERRUPTED) *stop = st;
            else MINIMA_TRY(st);
        }
        minima_progress("lanczos", (double)(done_before + rs->products), (double)max_products);
    }
}

/* ---- one-shot --------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The step loop until the wanted pairs converge (*stop MINIMA_OK), the
 * workspace has made `limit` products (MINIMA_ENOCONV) or an interrupt
 * (MINIMA_EINTERRUPTED). Progress counts from done_before. */
static minima_status iterate_until(minima_lanczos *ws, size_t limit, size_t done_before,
                                   size_t max_products, minima_status *stop)
{
    *stop = MINIMA_OK;
    for (;;) {
        if (minima_interrupted()) { *stop = MINIMA_EINTERRUPTED; return MINIMA_OK; }
        minima_status st = minima_lanczos_iterate(ws);
        if (st == MINIMA_EINTERRUPTED) { *stop = st; return MINIMA_OK; }   /* inside the product */
        if (st != MINIMA_OK) return st;
        if (minima_lanczos_test(ws) == MINIMA_OK) return MINIMA_OK;
        if (ws->n_products >= limit) { *stop = MINIMA_ENOCONV; return MINIMA_OK; }
        minima_progress("lanczos", (double)(done_before + ws->n_products), (double)max_products);
    }
}

/* minima_eigs with params.op_low: phase 1 on op_low, phase 2 refine(). */
static minima_status eigs_mixed(minima_linop *op, const minima_eigs_params *p,
                                minima_eigs_result *result, double t0)
{
    if (p->op_low->n != op->n)
        MINIMA_FAIL(MINIMA_ESHAPE, "minima_eigs: op_low has dimension %zu, op %zu",
                    p->op_low->n, op->n);
    if (!(p->tol_low >= 0) || !isfinite(p->tol_low))
        MINIMA_FAIL(MINIMA_EINVAL, "lanczos: tol_low = %g, expected a finite value >= 0 "
                    "(0: automatic)", p->tol_low);
    minima_eigs_params p1 = *p;
    p1.tol = p->tol_low > 0 ? p->tol_low : fmax(p->tol, 1e-5);
    p1.verify = 0;
    minima_lanczos *ws = NULL;
    refine_state rs;
    memset(&rs, 0, sizeof rs);
    minima_status st = minima_lanczos_alloc(&ws, op->n, &p1), stop = MINIMA_OK;
    if (st != MINIMA_OK) return st;
    size_t m = ws->m, n = ws->n;
    if (!(rs.AU = minima_alloc(m * n, sizeof *rs.AU))) {
        st = minima_error(MINIMA_ENOMEM, "lanczos: out of memory for the %zu float64 products "
                          "of the mixed-precision refinement (%zu values each)", m, n);
        goto done;
    }
    if ((st = minima_lanczos_init(ws, p->op_low, p->seed)) != MINIMA_OK) goto done;
    /* Phase 1: at most half the budget in low precision. */
    size_t limit1 = p->max_products / 2 > 0 ? p->max_products / 2 : 1;
    if ((st = iterate_until(ws, limit1, 0, p->max_products, &stop)) != MINIMA_OK) goto done;
    size_t low = ws->n_products, low_steps = ws->n_steps, low_restarts = ws->n_restarts;
    if (stop == MINIMA_EINTERRUPTED) {
        /* only low-precision Ritz pairs exist: return them as they are */
        if (ws->j > 0 && (st = minima_lanczos_result(ws, result)) != MINIMA_OK) goto done;
        result->n_products_low = result->n_products;
        st = minima_error(stop, "lanczos: interrupted after %zu low-precision products; the "
                          "result holds their Ritz pairs (residuals of the low-precision "
                          "operator)", low);
        goto done;
    }
    /* Phase 2: float64, to the asked tolerance, with what is left. */
    ws->p.tol = p->tol;
    size_t budget = p->max_products > low ? p->max_products - low : 1;
    if ((st = refine(ws, op, &rs, budget, low, p->max_products, &stop)) != MINIMA_OK) goto done;
    minima_progress("lanczos", (double)p->max_products, (double)p->max_products);
    if ((st = minima_lanczos_result(ws, result)) != MINIMA_OK) goto done;
    result->converged = rs.converged;
    result->n_products = low + rs.products;
    result->n_products_low = low;
    result->n_steps = low_steps;
    result->n_restarts = low_restarts + rs.restarts;
    if (p->verify) {
        /* the residuals are float64 ones already (from A U): no more products */
        size_t kt = (size_t)result->n_top, kb = (size_t)result->n_bottom;
        if (kt) result->top_true_residual = minima_alloc(kt, sizeof *result->top_true_residual);
        if (kb)
            result->bottom_true_residual = minima_alloc(kb, sizeof *result->bottom_true_residual);
        if ((kt && !result->top_true_residual) || (kb && !result->bottom_true_residual)) {
            minima_eigs_result_free(result);
            st = minima_error(MINIMA_ENOMEM, "lanczos: out of memory");
            goto done;
        }
        if (kt) memcpy(result->top_true_residual, result->top_residual, kt * sizeof(double));
        if (kb) memcpy(result->bottom_true_residual, result->bottom_residual, kb * sizeof(double));
    }
    result->seconds = now_seconds() - t0;
    if (stop == MINIMA_EINTERRUPTED)
        st = minima_error(stop, "lanczos: interrupted after %zu products (%zu in low precision); "
                          "the result holds the current Ritz pairs", result->n_products, low);
    else if (stop == MINIMA_ENOCONV)
        st = minima_error(stop, "lanczos: not converged to tol %g within max_products = %zu "
                          "(%zu in low precision); the result holds the current Ritz pairs",
                          p->tol, p->max_products, low);
    else
        st = MINIMA_OK;
done:
    minima_free(rs.AU);
    minima_lanczos_free(ws);
    return st;
}

minima_status minima_eigs(minima_linop *op, const minima_eigs_params *params,
                          minima_eigs_result *result)
{
    if (result) memset(result, 0, sizeof *result);
    if (!op || !result) MINIMA_FAIL(MINIMA_EINVAL, "minima_eigs: NULL argument");
    minima_eigs_params p = params ? *params : minima_eigs_default_params();
    double t0 = now_seconds();
    if (p.op_low) return eigs_mixed(op, &p, result, t0);
    minima_lanczos *ws = NULL;
    minima_status st = minima_lanczos_alloc(&ws, op->n, &p);
    if (st != MINIMA_OK) return st;
    st = minima_lanczos_init(ws, op, p.seed);
    if (st != MINIMA_OK) goto done;

    minima_status stop = MINIMA_OK;
    if ((st = iterate_until(ws, p.max_products, 0, p.max_products, &stop)) != MINIMA_OK) goto done;
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
