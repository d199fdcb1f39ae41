/* measure_keskar_full.c — eps-sharpness of Keskar et al. 2017, metric 2.1
 * (docs/measures/keskar_full.md), and the L-BFGS-B engine it shares with keskar_subspace:
 *
 *     phi = 100 (max_{y in C} L(theta + A y) - L(theta)) / (1 + L(theta))
 *     C   = { y : |y_i| <= eps (|(A^+ theta)_i| + 1) }
 *
 * A = I here (full space: A^+ theta = theta); a (P, p) Gaussian matrix in
 * keskar_subspace, A^+ theta by least squares (LAPACK dgels). The maximum
 * is searched by L-BFGS-B 3.0 (Debian's liblbfgsb, Fortran `setulb`,
 * reverse communication) minimising -L(theta + A y) from y = 0 for
 * `iters` iterations, as in the paper. Every point L-BFGS-B evaluates is
 * inside the box, and the largest loss among them is reported, so the
 * value is a certified lower bound of the maximum. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "measures/keskar_impl.h"
#include "minima/alloc.h"
#include "minima/rng.h"

/* L-BFGS-B 3.0 (Fortran 77; gfortran passes the lengths of CHARACTER
 * arguments as trailing size_t values). wa: (2m + 5) n + 11 m^2 + 8 m,
 * iwa: 3 n, task and csave: CHARACTER*60, lsave: LOGICAL(4), isave:
 * INTEGER(44), dsave: DOUBLE PRECISION(29). */
extern void setulb_(const int *n, const int *m, double *x, const double *l, const double *u,
                    const int *nbd, double *f, double *g, const double *factr,
                    const double *pgtol, double *wa, int *iwa, char *task, const int *iprint,
                    char *csave, int *lsave, int *isave, double *dsave, size_t task_len,
                    size_t csave_len);


typedef struct {
    double eps;        /* box half-width factor */
    int iters;         /* L-BFGS-B iterations */
    int corrections;   /* L-BFGS-B memory m */
    int maxfun;        /* cap on loss evaluations */
    double factr;      /* L-BFGS-B relative-decrease stop, in units of machine epsilon */
    double pgtol;      /* L-BFGS-B projected-gradient stop */
    int dim;           /* p, subspace dimension */
} keskar_settings;

/* The full-space measure's settings are the first MINIMA_KESKAR_N_FULL;
 * the subspace measure adds dim. */
const minima_setting minima_keskar_settings[] = {
    {"eps", MINIMA_SETTING_DOUBLE, offsetof(keskar_settings, eps), 1e-3, 0, INFINITY, MINIMA_SETTING_MIN_OPEN,
     "box half-width factor (the paper also uses 5e-4)"},
    {"iters", MINIMA_SETTING_INT, offsetof(keskar_settings, iters), 10, 1, INFINITY, 0,
     "L-BFGS-B iterations (the paper's maxiter)"},
    {"corrections", MINIMA_SETTING_INT, offsetof(keskar_settings, corrections), 10, 1, 100, 0,
     "L-BFGS-B memory m"},
    {"maxfun", MINIMA_SETTING_INT, offsetof(keskar_settings, maxfun), 1000, 1, INFINITY, 0,
     "cap on loss evaluations"},
    {"factr", MINIMA_SETTING_DOUBLE, offsetof(keskar_settings, factr), 0, 0, INFINITY, 0,
     "L-BFGS-B relative-decrease stop, in units of machine epsilon (0: off)"},
    {"pgtol", MINIMA_SETTING_DOUBLE, offsetof(keskar_settings, pgtol), 0, 0, INFINITY, 0,
     "L-BFGS-B projected-gradient stop (0: off)"},
    {"dim", MINIMA_SETTING_INT, offsetof(keskar_settings, dim), 100, 1, INFINITY, 0,
     "subspace dimension p (keskar_subspace only)"},
};

static minima_status parse(const char *s, keskar_settings *p, int subspace, const char *name)
{
    return minima_settings_parse(name, minima_keskar_settings,
                                 subspace ? MINIMA_KESKAR_N_SUBSPACE : MINIMA_KESKAR_N_FULL, s, p);
}

/* The first word of a Fortran CHARACTER*60 value, for messages. */
static void task_word(const char *task, char *buf, size_t size)
{
    size_t n = 0;
    while (n + 1 < size && n < 60 && task[n] != ' ' && task[n]) { buf[n] = task[n]; n++; }
    buf[n] = '\0';
}

/* z = A^+ theta for the column-major (P, p) matrix A: the least-squares
 * solution of A z = theta (minimum norm if P < p), by LAPACK dgels. */
static minima_status pinv_apply(const double *a, size_t P, int p, const double *theta, double *z,
                                const char *name)
{
    size_t rows = P > (size_t)p ? P : (size_t)p;
    double *acopy = minima_alloc(P * (size_t)p, sizeof *acopy);  /* (P, p) col-major */
    double *b = minima_calloc(rows, sizeof *b);                   /* (max(P, p)) */
    minima_status st = MINIMA_OK;
    if (!acopy || !b) {
        st = minima_error(MINIMA_ENOMEM, "measure %s: out of memory for the (%zu, %d) "
                          "least-squares problem", name, P, p);
        goto done;
    }
    memcpy(acopy, a, P * (size_t)p * sizeof *acopy);
    memcpy(b, theta, P * sizeof *b);
    lapack_int info = LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', (lapack_int)P, p, 1, acopy,
                                    (lapack_int)P, b, (lapack_int)rows);
    if (info != 0) {
        st = minima_error(MINIMA_EFAILED, "measure %s: LAPACK dgels for A^+ theta returned "
                          "info = %d (expected 0: A has full rank)", name, (int)info);
        goto done;
    }
    memcpy(z, b, (size_t)p * sizeof *z);
done:
    minima_free(acopy);
    minima_free(b);
    return st;
}

minima_status minima_keskar_compute(minima_net *net, const char *settings, uint64_t seed,
                                    minima_measure_result *out, int subspace, const char *name)
{
    keskar_settings p;
    MINIMA_TRY(parse(settings, &p, subspace, name));
    size_t P = minima_net_n_params(net);
    size_t n = subspace ? (size_t)p.dim : P;          /* optimisation variables */
    if (n > 0x7fffffffu || (subspace && P > 0x7fffffffu))
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "measure %s: %zu variables exceed L-BFGS-B's "
                    "32-bit INTEGER", name, n);
    const double *theta = minima_net_point(net);      /* (P) the anchor */
    size_t m = (size_t)p.corrections;
    size_t nwa = (2 * m + 5) * n + 11 * m * m + 8 * m;
    minima_status st = MINIMA_OK;
    double *a = NULL;                                  /* (P, p) col-major, subspace only */
    double *y = minima_alloc(n, sizeof *y);            /* (n) the variables */
    double *lo = minima_alloc(n, sizeof *lo);          /* (n) lower bounds */
    double *hi = minima_alloc(n, sizeof *hi);          /* (n) upper bounds */
    int *nbd = minima_alloc(n, sizeof *nbd);           /* (n) 2: both bounds */
    double *gy = minima_alloc(n, sizeof *gy);          /* (n) gradient of -L in y */
    double *wa = minima_alloc(nwa, sizeof *wa);
    int *iwa = minima_alloc(3 * n, sizeof *iwa);
    double *x = minima_alloc(P, sizeof *x);            /* (P) theta + A y */
    double *g = minima_alloc(P, sizeof *g);            /* (P) gradient of L at x */
    if (!y || !lo || !hi || !nbd || !gy || !wa || !iwa || !x || !g) {
        st = minima_error(MINIMA_ENOMEM, "measure %s: out of memory for L-BFGS-B on %zu "
                          "variables", name, n);
        goto fail;
    }
    if (subspace) {
        a = minima_alloc(P * n, sizeof *a);
        if (!a) {
            st = minima_error(MINIMA_ENOMEM, "measure %s: out of memory for the (%zu, %zu) "
                              "matrix A (%.1f MB)", name, P, n, 8e-6 * (double)P * (double)n);
            goto fail;
        }
        minima_rng rng;
        minima_rng_seed(&rng, seed);
        minima_rng_fill_normal(&rng, a, P * n);
        /* lo temporarily holds A^+ theta */
        if ((st = pinv_apply(a, P, p.dim, theta, lo, name)) != MINIMA_OK) goto fail;
    } else {
        memcpy(lo, theta, P * sizeof *lo);
    }
    for (size_t i = 0; i < n; i++) {
        double r = p.eps * (fabs(lo[i]) + 1);
        lo[i] = -r;
        hi[i] = r;
        nbd[i] = 2;
        y[i] = 0;
    }
    double L0;
    if ((st = minima_net_loss(net, NULL, &L0, NULL)) != MINIMA_OK) goto fail;
    double best = L0;
    char task[60], csave[60], word[16];
    int lsave[4], isave[44];
    double dsave[29];
    memset(task, ' ', sizeof task);
    memcpy(task, "START", 5);
    memset(csave, ' ', sizeof csave);
    const int ni = (int)n, mi = (int)m, iprint = -1;
    double f = 0;
    int nfev = 0, nit = 0;
    const char *stop = "iterations";
    for (;;) {
        setulb_(&ni, &mi, y, lo, hi, nbd, &f, gy, &p.factr, &p.pgtol, wa, iwa, task, &iprint,
                csave, lsave, isave, dsave, sizeof task, sizeof csave);
        if (!strncmp(task, "FG", 2)) {
            if (nfev >= p.maxfun) { stop = "maxfun"; break; }
            if (subspace) {
                memcpy(x, theta, P * sizeof *x);
                cblas_dgemv(CblasColMajor, CblasNoTrans, (int)P, (int)n, 1.0, a, (int)P, y, 1,
                            1.0, x, 1);
            } else {
                for (size_t i = 0; i < P; i++) x[i] = theta[i] + y[i];
            }
            double L;
            if ((st = minima_net_gradient(net, x, &L, g)) != MINIMA_OK) goto fail;
            nfev++;
            if (L > best) best = L;
            f = -L;
            if (subspace)
                cblas_dgemv(CblasColMajor, CblasTrans, (int)P, (int)n, -1.0, a, (int)P, g, 1,
                            0.0, gy, 1);
            else
                for (size_t i = 0; i < P; i++) gy[i] = -g[i];
        } else if (!strncmp(task, "NEW_X", 5)) {
            nit++;
            minima_progress(name, nit, p.iters);
            if (nit >= p.iters) break;
        } else if (!strncmp(task, "CONV", 4)) {
            stop = "converged";
            break;
        } else if (!strncmp(task, "ABNO", 4)) {
            stop = "abnormal line search";
            break;
        } else {
            task_word(task, word, sizeof word);
            st = minima_error(MINIMA_EFAILED, "measure %s: L-BFGS-B stopped with task '%s' "
                              "(expected FG, NEW_X or CONVERGENCE)", name, word);
            goto fail;
        }
    }
    out->value = 100 * (best - L0) / (1 + L0);
    minima_measure_add_extra(out, "loss", L0);
    minima_measure_add_extra(out, "max_loss", best);
    minima_measure_add_extra(out, "iterations", nit);
    minima_measure_add_extra(out, "evaluations", nfev);
    if (strcmp(stop, "iterations") != 0)
        snprintf(out->note, sizeof out->note, "L-BFGS-B stopped early (%s) after %d iterations",
                 stop, nit);
    minima_settings_json(minima_keskar_settings, subspace ? MINIMA_KESKAR_N_SUBSPACE : MINIMA_KESKAR_N_FULL,
                         &p, NULL, out->params, sizeof out->params);
fail:
    minima_free(a);
    minima_free(y);
    minima_free(lo);
    minima_free(hi);
    minima_free(nbd);
    minima_free(gy);
    minima_free(wa);
    minima_free(iwa);
    minima_free(x);
    minima_free(g);
    return st;
}

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    return minima_keskar_compute(net, settings, seed, out, 0, "keskar_full");
}

const minima_measure minima_measure_keskar_full = {
    .name = "keskar_full",
    .title = "Keskar et al. eps-sharpness (full space, box, L-BFGS-B)",
    .source = "Keskar et al. 2017, metric 2.1 (A = I)",
    .invariance = MINIMA_INVARIANCE_NONE,
    .settings = minima_keskar_settings,
    .n_settings = MINIMA_KESKAR_N_FULL,
    .compute = compute,
};
