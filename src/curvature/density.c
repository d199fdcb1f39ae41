/* density.c — spectral density by stochastic Lanczos quadrature (see
 * minima/density.h). */
#include "minima/density.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "minima/alloc.h"
#include "minima/rng.h"

minima_density_params minima_density_default_params(void)
{
    minima_density_params p;
    memset(&p, 0, sizeof p);
    p.n_steps = 100;
    p.n_draws = 1;
    p.n_grid = 10000;
    p.sigma2_scale = 1e-5;
    p.margin = 0.01;
    p.gaussian_start = 0;
    p.normalize = 0;
    p.seed = 0;
    return p;
}

void minima_density_result_free(minima_density_result *r)
{
    if (!r) return;
    minima_free(r->grid);
    minima_free(r->values);
    minima_free(r->draw_start);
    minima_free(r->nodes);
    minima_free(r->weights);
    memset(r, 0, sizeof *r);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Workspace of one Lanczos run. */
typedef struct {
    size_t n, m;
    double *V;       /* (m, n) row-major basis */
    double *w;       /* (n) */
    double *h;       /* (m) Gram-Schmidt coefficients */
    double *alpha;   /* (m) diagonal of T */
    double *beta;    /* (m) off-diagonal of T */
    double *z;       /* (m, m) eigenvectors of T, column-major */
    double *work;    /* (2m) dstev */
    double total;    /* products expected over all draws, for progress */
} slq_ws;

/* m Lanczos steps from V[0] (unit), fully reorthogonalized; *steps gets
 * the number taken (fewer at an invariant subspace). Products are counted
 * in *products. */
static minima_status lanczos_run(minima_linop *op, slq_ws *ws, size_t *steps, size_t *products)
{
    size_t n = ws->n, m = ws->m;
    double anorm = 0;
    size_t j = 0;
    for (;;) {
        if (minima_interrupted())
            MINIMA_FAIL(MINIMA_EINTERRUPTED, "density: interrupted after %zu products", *products);
        MINIMA_TRY(minima_linop_apply(op, ws->V + j * n, ws->w));
        (*products)++;
        double wn = cblas_dnrm2((int)n, ws->w, 1);
        if (!isfinite(wn))
            MINIMA_FAIL(MINIMA_ENONFINITE, "density: the operator's product %zu has NaN or Inf",
                        *products);
        if (wn > anorm) anorm = wn;
        double a = 0;
        for (int pass = 0; pass < 2; pass++) {   /* classical Gram-Schmidt, twice */
            cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)(j + 1), (int)n, 1.0, ws->V, (int)n,
                        ws->w, 1, 0.0, ws->h, 1);
            cblas_dgemv(CblasRowMajor, CblasTrans, (int)(j + 1), (int)n, -1.0, ws->V, (int)n,
                        ws->h, 1, 1.0, ws->w, 1);
            a += ws->h[j];
        }
        ws->alpha[j] = a;
        j++;
        minima_progress("density", (double)*products, ws->total);
        if (j == m) break;
        double b = cblas_dnrm2((int)n, ws->w, 1);
        if (b <= 10.0 * DBL_EPSILON * sqrt((double)n) * anorm) break;   /* invariant */
        ws->beta[j - 1] = b;
        double *next = ws->V + j * n;
        for (size_t i = 0; i < n; i++) next[i] = ws->w[i] / b;
    }
    *steps = j;
    return MINIMA_OK;
}

static double gaussian(double t, double mu, double sigma2)
{
    double d = t - mu;
    return exp(-d * d / (2.0 * sigma2)) / sqrt(2.0 * M_PI * sigma2);
}

double minima_density_eval(const minima_density_result *r, double t)
{
    double s = 0;
    for (size_t i = 0; i < r->n_nodes; i++) s += r->weights[i] * gaussian(t, r->nodes[i], r->sigma2);
    return r->n_draws ? s / (double)r->n_draws : 0;
}

minima_status minima_density_slq(minima_linop *op, const minima_density_params *params,
                                 minima_density_result *r)
{
    if (r) memset(r, 0, sizeof *r);
    if (!op || !r) MINIMA_FAIL(MINIMA_EINVAL, "minima_density_slq: NULL argument");
    minima_density_params p = params ? *params : minima_density_default_params();
    if (p.n_steps < 1 || p.n_draws < 1 || p.n_grid < 2)
        MINIMA_FAIL(MINIMA_EINVAL, "density: n_steps = %zu, n_draws = %zu, n_grid = %zu: "
                    "expected >= 1, >= 1 and >= 2", p.n_steps, p.n_draws, p.n_grid);
    if (!(p.sigma2_scale > 0) || !isfinite(p.sigma2_scale) || !(p.margin >= 0) ||
        !isfinite(p.margin))
        MINIMA_FAIL(MINIMA_EINVAL, "density: sigma2_scale = %g (expected > 0) and margin = %g "
                    "(expected >= 0)", p.sigma2_scale, p.margin);
    size_t n = op->n, m = p.n_steps < n ? p.n_steps : n;
    if (n > (size_t)INT32_MAX)
        MINIMA_FAIL(MINIMA_EINVAL, "density: n = %zu is too large for BLAS", n);
    double t0 = now_seconds();
    minima_status st = MINIMA_OK;
    slq_ws ws;
    memset(&ws, 0, sizeof ws);
    ws.n = n;
    ws.m = m;
    ws.total = (double)m * (double)p.n_draws;
    ws.V = minima_alloc(m * n, sizeof *ws.V);
    ws.w = minima_alloc(n, sizeof *ws.w);
    ws.h = minima_alloc(m, sizeof *ws.h);
    ws.alpha = minima_alloc(m, sizeof *ws.alpha);
    ws.beta = minima_alloc(m, sizeof *ws.beta);
    ws.z = minima_alloc(m * m, sizeof *ws.z);
    ws.work = minima_alloc(2 * m, sizeof *ws.work);
    r->grid = minima_alloc(p.n_grid, sizeof *r->grid);
    r->values = minima_alloc(p.n_grid, sizeof *r->values);
    r->draw_start = minima_calloc(p.n_draws + 1, sizeof *r->draw_start);
    r->nodes = minima_alloc(p.n_draws * m, sizeof *r->nodes);
    r->weights = minima_alloc(p.n_draws * m, sizeof *r->weights);
    if (!ws.V || !ws.w || !ws.h || !ws.alpha || !ws.beta || !ws.z || !ws.work || !r->grid ||
        !r->values || !r->draw_start || !r->nodes || !r->weights) {
        st = minima_error(MINIMA_ENOMEM, "density: out of memory for %zu Lanczos vectors of %zu "
                          "and a grid of %zu", m, n, p.n_grid);
        goto done;
    }
    r->n_grid = p.n_grid;
    r->n_draws = p.n_draws;

    double sum_min = 0, sum_max = 0;
    for (size_t d = 0; d < p.n_draws; d++) {
        minima_rng rng;
        minima_rng_seed2(&rng, p.seed, d);
        if (p.gaussian_start) minima_rng_fill_normal(&rng, ws.V, n);
        else minima_rng_fill_rademacher(&rng, ws.V, n);
        cblas_dscal((int)n, 1.0 / cblas_dnrm2((int)n, ws.V, 1), ws.V, 1);
        size_t steps = 0;
        st = lanczos_run(op, &ws, &steps, &r->n_products);
        if (st != MINIMA_OK) goto done;
        lapack_int info = LAPACKE_dstev_work(LAPACK_COL_MAJOR, 'V', (lapack_int)steps, ws.alpha,
                                             ws.beta, ws.z, (lapack_int)m, ws.work);
        if (info != 0) {
            st = minima_error(MINIMA_EFAILED, "density: LAPACK dstev failed on the %zu x %zu "
                              "tridiagonal matrix of draw %zu (info %d)", steps, steps, d,
                              (int)info);
            goto done;
        }
        size_t at = r->draw_start[d];
        for (size_t i = 0; i < steps; i++) {
            double u = ws.z[i * m];   /* first component of eigenvector i */
            r->nodes[at + i] = ws.alpha[i];
            r->weights[at + i] = u * u;
        }
        r->draw_start[d + 1] = at + steps;
        sum_min += ws.alpha[0];
        sum_max += ws.alpha[steps - 1];
    }
    r->n_nodes = r->draw_start[p.n_draws];
    r->lambda_min = sum_min / (double)p.n_draws - p.margin;
    r->lambda_max = sum_max / (double)p.n_draws + p.margin;
    r->sigma2 = p.sigma2_scale * fmax(1.0, r->lambda_max - r->lambda_min);
    double step = (r->lambda_max - r->lambda_min) / (double)(p.n_grid - 1);
    double total = 0;
    for (size_t g = 0; g < p.n_grid; g++) {
        r->grid[g] = g + 1 == p.n_grid ? r->lambda_max : r->lambda_min + step * (double)g;
        r->values[g] = minima_density_eval(r, r->grid[g]);
        total += r->values[g];
    }
    if (p.normalize && total > 0 && step > 0)
        for (size_t g = 0; g < p.n_grid; g++) r->values[g] /= total * step;
done:
    if (st != MINIMA_OK) minima_density_result_free(r);
    r->seconds = now_seconds() - t0;
    minima_free(ws.V);
    minima_free(ws.w);
    minima_free(ws.h);
    minima_free(ws.alpha);
    minima_free(ws.beta);
    minima_free(ws.z);
    minima_free(ws.work);
    return st;
}
