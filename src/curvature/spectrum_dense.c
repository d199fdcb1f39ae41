/* spectrum_dense.c — the exact spectrum of a dense symmetric matrix
 * (LAPACK dsyevd), numerical rank and eigenvalue counts, and the dense
 * matrix of a small operator (see minima/eigen.h). */
#include "minima/eigen.h"

#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "minima/alloc.h"

minima_status minima_spectrum_dense(size_t n, const double *a, double *values, double *vectors)
{
    if (!a || !values) MINIMA_FAIL(MINIMA_EINVAL, "minima_spectrum_dense: NULL argument");
    if (n == 0 || n > (size_t)INT32_MAX)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_spectrum_dense: n must be in [1, 2^31), got %zu", n);
    double *z = vectors;
    if (!z) {
        z = minima_alloc(n * n, sizeof *z);
        if (!z) MINIMA_FAIL(MINIMA_ENOMEM, "minima_spectrum_dense: out of memory for a %zu x "
                            "%zu matrix", n, n);
    }
    if (z != a) memcpy(z, a, n * n * sizeof *a);
    /* Row-major upper triangle = column-major lower triangle. In column-
     * major order the eigenvectors come out as contiguous columns, i.e.
     * as the rows of a row-major (n, n) array. */
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, vectors ? 'V' : 'N', 'L', (lapack_int)n,
                                     z, (lapack_int)n, values);
    if (z != vectors) minima_free(z);
    if (info < 0)
        MINIMA_FAIL(MINIMA_ENOMEM, "minima_spectrum_dense: LAPACKE_dsyevd failed (info %d: "
                    "out of workspace memory or a bad argument)", (int)info);
    if (info > 0)
        MINIMA_FAIL(MINIMA_ENOCONV, "minima_spectrum_dense: dsyevd did not converge on the "
                    "%zu x %zu matrix (info %d; does it hold NaN or Inf?)", n, n, (int)info);
    return MINIMA_OK;
}

double minima_spectrum_rank_tol(const double *values, size_t n)
{
    double mx = 0;
    for (size_t i = 0; i < n; i++) if (fabs(values[i]) > mx) mx = fabs(values[i]);
    return mx * (double)n * DBL_EPSILON;
}

size_t minima_spectrum_rank(const double *values, size_t n, double tol)
{
    if (tol < 0) tol = minima_spectrum_rank_tol(values, n);
    size_t r = 0;
    for (size_t i = 0; i < n; i++) if (fabs(values[i]) > tol) r++;
    return r;
}

void minima_spectrum_count_above(const double *values, size_t n, const double *levels,
                                 size_t n_levels, size_t *counts)
{
    for (size_t l = 0; l < n_levels; l++) {
        size_t c = 0;
        for (size_t i = 0; i < n; i++) if (values[i] > levels[l]) c++;
        counts[l] = c;
    }
}

minima_status minima_linop_to_dense(minima_linop *op, double *a)
{
    if (!op || !a) MINIMA_FAIL(MINIMA_EINVAL, "minima_linop_to_dense: NULL argument");
    size_t n = op->n;
    minima_status st = MINIMA_OK;
    double *e = minima_calloc(n, sizeof *e);     /* (n) unit vector e_i */
    double *col = minima_alloc(n, sizeof *col);  /* (n) A e_i */
    if (!e || !col) {
        st = minima_error(MINIMA_ENOMEM, "minima_linop_to_dense: out of memory for n = %zu", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (minima_interrupted()) {
            st = minima_error(MINIMA_EINTERRUPTED, "dense operator: interrupted after %zu of "
                              "%zu columns", i, n);
            goto done;
        }
        e[i] = 1.0;
        st = minima_linop_apply(op, e, col);
        e[i] = 0.0;
        if (st != MINIMA_OK) goto done;
        for (size_t r = 0; r < n; r++) a[r * n + i] = col[r];
        minima_progress("dense", (double)(i + 1), (double)n);
    }
    for (size_t r = 0; r < n; r++)
        for (size_t c = r + 1; c < n; c++) {
            double s = 0.5 * (a[r * n + c] + a[c * n + r]);
            a[r * n + c] = s;
            a[c * n + r] = s;
        }
done:
    minima_free(e);
    minima_free(col);
    return st;
}
