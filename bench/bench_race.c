/* bench_race.c — minima against what a careful PyTorch user runs for the
 * curvature of a network, task by task, in one invocation (docs/performance.md).
 *
 *   build/bench_race [--arch A[,A...]] [--n 10000] [--threads 2] [--tasks LIST]
 *                    [--quick] [--reps R] [--ref-dtypes float64,float32] [--no-ref]
 *                    [--minima-f32] [--trace-method xtrace|hutchpp|hutchinson]
 *                    [--estimates-f64] [--trace-max PRODUCTS] [--eigs-max PRODUCTS] [--keep]
 *
 * For each architecture (default 784-128-128-10 and 784-512-512-10) it trains
 * a ReLU network with biases for one epoch of SGD on the first n
 * Fashion-MNIST training images, writes the model and data to a temporary
 * directory, measures the DGEMM and SGEMM rates at the network's shapes,
 * computes a tight float64 reference spectrum (the exact dense spectrum and
 * trace when P <= 2000, else minima's Lanczos at tol 1e-12), then for each
 * task runs minima through the library API and bench/race_reference.py
 * (PyTorch products, SciPy's eigsh; under /usr/bin/python3 or
 * $MINIMA_RACE_PYTHON) with the same thread count, float64 and float32, and
 * prints one row per reference method:
 *
 *   task | minima s | products | max eig rel error | max float64 residual |
 *   reference | s | products | error | residual | time ratio (ref/minima)
 *
 * Every residual is ||H x - lambda x|| / |lambda| computed with float64
 * products outside the timed part. Tasks (--tasks, comma-separated):
 *   hvp lambda_max power top5 top20@1e-8 top20@1e-4 bottom1 trace@1% trace@0.1% density
 *
 * The minima side of each task is one function in the table `TASKS` below,
 * so that a new solver replaces one entry; --minima-f32 runs minima's
 * products in float32 (its Krylov vectors stay float64) and --trace-method
 * picks the trace estimator (default xtrace, as `minima spectrum --trace`).
 * The trace and the density run on float32 products of the float64 net, as
 * `minima spectrum` does by default (their statistical error is far above
 * float32's ~1e-6); --estimates-f64 runs them in float64. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench_common.h"
#include "minima/alloc.h"
#include "minima/density.h"
#include "minima/eigen.h"
#include "minima/linop.h"
#include "minima/net.h"
#include "minima/npy.h"
#include "minima/rng.h"
#include "minima/safetensors.h"
#include "minima/trace.h"
#include "minima/train.h"

void openblas_set_num_threads(int n);

#define MAXK 32            /* most eigenpairs a task asks for */
#define MAXREF 8           /* reference rows per task */

static void die(const char *what)
{
    fprintf(stderr, "bench_race: %s: %s\n", what, minima_last_error());
    exit(1);
}

/* ---- what one side of a task reports ------------------------------------ */

typedef enum { K_HVP, K_EIGS, K_POWER, K_TRACE, K_DENSITY } task_kind;

typedef struct {
    char label[32];        /* "minima", "eigsh f64", ... */
    int ok;                /* ran and produced numbers */
    int converged;
    double seconds, products;
    int n_vals;            /* eigenpairs returned */
    double vals[MAXK], res[MAXK];
    double estimate, std_error;       /* trace */
    double node_min, node_max;        /* density */
    char note[64];
} side;

/* The tight float64 reference the errors are measured against. */
typedef struct {
    int n_top;
    double top[MAXK];
    int have_bottom;
    double bottom;
    int have_trace;        /* the exact trace (dense case only) */
    double trace;
    const char *how;
} tight_ref;

typedef struct race race;
typedef struct task task;
typedef int (*minima_task_fn)(race *r, const task *t, side *out);

struct task {
    const char *name;
    task_kind kind;
    int k;                 /* eigenpairs (top, or bottom when which_bottom) */
    int bottom;            /* 1: the smallest eigenvalue(s) */
    double tol;            /* eigs: relative residual; trace: relative standard error */
    minima_task_fn minima; /* minima's side: swap this for a new solver */
};

struct race {
    minima_model *m;
    minima_dataset *x;
    minima_net *net64, *net32;
    minima_linop *H64, *H32;
    minima_linop *H64_f32;     /* float32 products of the float64 net (trace, density) */
    int estimate_f32;          /* trace and density on H64_f32, as `spectrum` does */
    int threads, quick, reps, minima_f32, ref, keep;
    const char *ref_dtypes, *trace_method, *python;
    size_t trace_max, eigs_max;
    char dir[64];
    tight_ref tr;
};

/* the operator minima's side uses */
static minima_linop *minima_op(race *r) { return r->minima_f32 ? r->H32 : r->H64; }

/* ||H x - lambda x|| / |lambda| with a float64 product; not timed, and the
 * product is taken off the operator's count. */
static double residual64(race *r, double lambda, const double *x)
{
    size_t P = r->H64->n, c = r->H64->n_applies;
    double *hx = malloc(P * sizeof *hx), nx = 0, s = 0;
    for (size_t i = 0; i < P; i++) nx += x[i] * x[i];
    nx = sqrt(nx);
    if (minima_linop_apply(r->H64, x, hx) != MINIMA_OK) die("residual product");
    for (size_t i = 0; i < P; i++) {
        double d = hx[i] - lambda * x[i] / nx;
        s += d * d;
    }
    r->H64->n_applies = c;
    free(hx);
    return sqrt(s) / fmax(fabs(lambda), 1e-300);
}

/* ---- minima's side: one function per kind of task ---------------------- */

static int m_hvp(race *r, const task *t, side *o)
{
    minima_linop *H = minima_op(r);
    size_t P = H->n;
    double *v = malloc(P * sizeof *v), *hv = malloc(P * sizeof *hv), tm[64];
    minima_rng rng;
    minima_rng_seed(&rng, 7);
    minima_rng_fill_normal(&rng, v, P);
    if (minima_linop_apply(H, v, hv) != MINIMA_OK) die("product");   /* fills the cache */
    int reps = r->reps < 64 ? r->reps : 64;
    for (int i = 0; i < reps; i++) {
        double t0 = bench_now();
        if (minima_linop_apply(H, v, hv) != MINIMA_OK) die("product");
        tm[i] = bench_now() - t0;
    }
    o->seconds = bench_median(tm, reps);
    o->products = 1;
    o->ok = o->converged = 1;
    free(v); free(hv);
    return 0;
}

static int m_eigs(race *r, const task *t, side *o)
{
    minima_eigs_params ep = minima_eigs_default_params();
    ep.k_top = t->bottom ? 0 : t->k;
    ep.k_bottom = t->bottom ? t->k : 0;
    ep.tol = t->tol;
    ep.zero_floor = 0;          /* ARPACK's rule: residual <= tol |lambda| */
    ep.verify = 0;              /* residuals below, in float64, untimed */
    ep.max_products = r->eigs_max;
    minima_eigs_result e;
    minima_status st = minima_eigs(minima_op(r), &ep, &e);
    if (st != MINIMA_OK && st != MINIMA_ENOCONV) {
        snprintf(o->note, sizeof o->note, "failed: %.50s", minima_last_error());
        minima_eigs_result_free(&e);
        return -1;
    }
    int n = t->bottom ? e.n_bottom : e.n_top;
    const double *vals = t->bottom ? e.bottom : e.top;
    const double *vecs = t->bottom ? e.bottom_vectors : e.top_vectors;
    o->seconds = e.seconds;
    o->products = (double)e.n_products;
    o->converged = e.converged;
    o->n_vals = n < MAXK ? n : MAXK;
    for (int i = 0; i < o->n_vals; i++) {
        o->vals[i] = vals[i];
        o->res[i] = residual64(r, vals[i], vecs + (size_t)i * e.n);
    }
    o->ok = 1;
    minima_eigs_result_free(&e);
    return 0;
}

static int m_power(race *r, const task *t, side *o)
{
    minima_power_params pp = minima_power_default_params();     /* PyHessian's 1e-3, 100 */
    minima_power_result pr;
    double *v = malloc(r->H64->n * sizeof *v);
    if (minima_power_iteration(minima_op(r), &pp, &pr, v) != MINIMA_OK) {
        snprintf(o->note, sizeof o->note, "failed: %.50s", minima_last_error());
        free(v);
        return -1;
    }
    o->seconds = pr.seconds;
    o->products = (double)pr.n_products;
    o->converged = pr.converged;
    o->n_vals = 1;
    o->vals[0] = pr.eigenvalue;
    o->res[0] = residual64(r, pr.eigenvalue, v);
    o->ok = 1;
    free(v);
    return 0;
}

static int m_trace(race *r, const task *t, side *o)
{
    minima_trace_params tp = minima_trace_default_params();
    tp.rtol = t->tol;
    minima_trace_result tr;
    minima_status st;
    minima_linop *op = r->estimate_f32 ? r->H64_f32 : minima_op(r);
    if (!strcmp(r->trace_method, "hutchinson")) {
        tp.max_samples = r->trace_max;
        st = minima_trace_hutchinson(op, &tp, &tr);
    } else if (!strcmp(r->trace_method, "xtrace")) {
        tp.max_samples = r->trace_max / 2;   /* two products per test vector */
        st = minima_trace_xtrace(op, &tp, &tr);
    } else {
        size_t sk = tp.sketch;
        tp.max_samples = r->trace_max > 2 * sk + tp.min_samples ? r->trace_max - 2 * sk
                                                                : tp.min_samples;
        st = minima_trace_hutchpp(op, &tp, &tr);
    }
    if (st != MINIMA_OK) {
        snprintf(o->note, sizeof o->note, "failed: %.50s", minima_last_error());
        return -1;
    }
    o->seconds = tr.seconds;
    o->products = (double)tr.n_products;
    o->converged = tr.converged;
    o->estimate = tr.estimate;
    o->std_error = tr.std_error;
    o->ok = 1;
    return 0;
}

static int m_density(race *r, const task *t, side *o)
{
    minima_density_params dp = minima_density_default_params();   /* 100 steps, 1 draw */
    minima_density_result d;
    if (minima_density_slq(r->estimate_f32 ? r->H64_f32 : minima_op(r), &dp, &d) != MINIMA_OK) {
        snprintf(o->note, sizeof o->note, "failed: %.50s", minima_last_error());
        minima_density_result_free(&d);
        return -1;
    }
    o->seconds = d.seconds;
    o->products = (double)d.n_products;
    o->converged = 1;
    o->node_min = INFINITY;
    o->node_max = -INFINITY;
    for (size_t i = 0; i < d.n_nodes; i++) {
        o->node_min = fmin(o->node_min, d.nodes[i]);
        o->node_max = fmax(o->node_max, d.nodes[i]);
    }
    o->ok = 1;
    minima_density_result_free(&d);
    return 0;
}

/* The race. To try a new solver on one task, point its entry elsewhere. */
static const task TASKS[] = {
    {"hvp",        K_HVP,     1, 0, 0,    m_hvp},
    {"lambda_max", K_EIGS,    1, 0, 1e-8, m_eigs},
    {"power",      K_POWER,   1, 0, 1e-3, m_power},
    {"top5",       K_EIGS,    5, 0, 1e-8, m_eigs},
    {"top20@1e-8", K_EIGS,   20, 0, 1e-8, m_eigs},
    {"top20@1e-4", K_EIGS,   20, 0, 1e-4, m_eigs},
    {"bottom1",    K_EIGS,    1, 1, 1e-6, m_eigs},
    {"trace@1%",   K_TRACE,   0, 0, 1e-2, m_trace},
    {"trace@0.1%", K_TRACE,   0, 0, 1e-3, m_trace},
    {"density",    K_DENSITY, 0, 0, 0,    m_density},
};
#define N_TASKS (sizeof TASKS / sizeof TASKS[0])

/* ---- the reference side -------------------------------------------------- */

/* The jobs race_reference.py runs for a task (a JSON list). */
static void ref_jobs(const race *r, const task *t, char *buf, size_t cap)
{
    switch (t->kind) {
    case K_HVP:
        snprintf(buf, cap, "[{\"id\":\"hvp\",\"method\":\"hvp\",\"reps\":%d}]", r->reps);
        break;
    case K_EIGS:
        if (t->k == 5 && !t->bottom)
            snprintf(buf, cap,
                     "[{\"id\":\"eigsh\",\"method\":\"eigsh\",\"which\":\"LA\",\"k\":5,\"tol\":%g,"
                     "\"max_products\":%zu},"
                     "{\"id\":\"deflated power\",\"method\":\"deflated\",\"k\":5,\"tol\":1e-3,"
                     "\"max_iter\":100}]", t->tol, r->eigs_max);
        else if (t->k == 1 && !t->bottom)
            snprintf(buf, cap,
                     "[{\"id\":\"eigsh\",\"method\":\"eigsh\",\"which\":\"LA\",\"k\":1,\"tol\":%g,"
                     "\"max_products\":%zu},"
                     "{\"id\":\"power\",\"method\":\"power\",\"k\":1,\"tol\":1e-3,\"max_iter\":100}]",
                     t->tol, r->eigs_max);
        else
            snprintf(buf, cap,
                     "[{\"id\":\"eigsh\",\"method\":\"eigsh\",\"which\":\"%s\",\"k\":%d,\"tol\":%g,"
                     "\"max_products\":%zu}]", t->bottom ? "SA" : "LA", t->k, t->tol, r->eigs_max);
        break;
    case K_POWER:
        snprintf(buf, cap, "[{\"id\":\"power\",\"method\":\"power\",\"k\":1,\"tol\":%g,"
                           "\"max_iter\":100}]", t->tol);
        break;
    case K_TRACE:
        snprintf(buf, cap,
                 "[{\"id\":\"hutchinson\",\"method\":\"hutchinson\",\"rtol\":%g,\"min_samples\":10,"
                 "\"max_products\":%zu},"
                 "{\"id\":\"hutch++\",\"method\":\"hutchpp\",\"rtol\":%g,\"sketch\":30,"
                 "\"min_samples\":10,\"max_products\":%zu}]",
                 t->tol, r->trace_max, t->tol, r->trace_max);
        break;
    case K_DENSITY:
        snprintf(buf, cap, "[{\"id\":\"slq\",\"method\":\"slq\",\"steps\":100,\"draws\":1}]");
        break;
    }
}

static char *read_all(FILE *p)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    size_t got;
    while ((got = fread(b + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (cap - n < 1024) b = realloc(b, cap *= 2);
    }
    b[n] = '\0';
    return b;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *x = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

/* Runs the reference for task t; fills up to MAXREF sides. */
static int run_reference(race *r, const task *t, side *out, char *why, size_t why_cap)
{
    char jobs[2048], path[256], cmd[2048];
    ref_jobs(r, t, jobs, sizeof jobs);
    snprintf(path, sizeof path, "%s/jobs.json", r->dir);
    FILE *f = fopen(path, "w");
    if (!f) { snprintf(why, why_cap, "cannot write %s", path); return 0; }
    fputs(jobs, f);
    fclose(f);
    /* passive: PyTorch's OpenMP threads must not spin while the BLAS computes */
    snprintf(cmd, sizeof cmd,
             "OMP_WAIT_POLICY=passive OMP_NUM_THREADS=%d OPENBLAS_NUM_THREADS=%d MKL_NUM_THREADS=%d "
             "%s %s/race_reference.py %s/model.safetensors %s/x.npy %s/y.npy %s "
             "--threads %d --dtypes %s 2>%s/reference.log",
             r->threads, r->threads, r->threads, r->python, MINIMA_BENCH_DIR, r->dir, r->dir, r->dir, path,
             r->threads, r->ref_dtypes, r->dir);
    FILE *p = popen(cmd, "r");
    if (!p) { snprintf(why, why_cap, "popen failed"); return 0; }
    char *buf = read_all(p);
    int rc = pclose(p);
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    const cJSON *err = cJSON_GetObjectItem(j, "error");
    if (rc != 0 || !j || err) {
        snprintf(why, why_cap, "%s", cJSON_IsString(err) ? err->valuestring
                                     : "race_reference.py failed (its stderr is reference.log; "
                                       "--keep keeps it)");
        cJSON_Delete(j);
        return 0;
    }
    int n = 0;
    const cJSON *res;
    cJSON_ArrayForEach(res, cJSON_GetObjectItem(j, "results")) {
        if (n == MAXREF) break;
        side *o = &out[n++];
        memset(o, 0, sizeof *o);
        const char *id = cJSON_GetObjectItem(res, "id")->valuestring;
        const char *dt = cJSON_GetObjectItem(res, "dtype")->valuestring;
        snprintf(o->label, sizeof o->label, "%s %s", id, !strcmp(dt, "float64") ? "f64" : "f32");
        o->ok = 1;
        o->seconds = jnum(res, "seconds");
        o->products = jnum(res, "products");
        const cJSON *c = cJSON_GetObjectItem(res, "converged");
        o->converged = c ? cJSON_IsTrue(c) : 1;
        const cJSON *ev = cJSON_GetObjectItem(res, "eigenvalues"),
                    *rv = cJSON_GetObjectItem(res, "residuals");
        for (int i = 0; i < cJSON_GetArraySize(ev) && i < MAXK; i++) {
            o->vals[i] = cJSON_GetArrayItem(ev, i)->valuedouble;
            o->res[i] = rv ? cJSON_GetArrayItem(rv, i)->valuedouble : NAN;
            o->n_vals = i + 1;
        }
        o->estimate = jnum(res, "estimate");
        o->std_error = jnum(res, "std_error");
        const cJSON *nodes = cJSON_GetObjectItem(res, "nodes"), *d;
        o->node_min = INFINITY;
        o->node_max = -INFINITY;
        cJSON_ArrayForEach(d, nodes) {
            const cJSON *v;
            cJSON_ArrayForEach(v, d) {
                o->node_min = fmin(o->node_min, v->valuedouble);
                o->node_max = fmax(o->node_max, v->valuedouble);
            }
        }
    }
    cJSON_Delete(j);
    return n;
}

/* ---- errors against the tight reference ----------------------------------- */

/* max relative eigenvalue error, max residual; NAN where not defined */
static void side_errors(const race *r, const task *t, const side *s, double *err, double *res)
{
    *err = NAN;
    *res = NAN;
    if (!s->ok) return;
    const tight_ref *tr = &r->tr;
    switch (t->kind) {
    case K_EIGS:
    case K_POWER: {
        double e = 0, q = 0;
        for (int i = 0; i < s->n_vals; i++) {
            double ref;
            if (t->bottom) {                   /* the i-th smallest (bottom1: i = 0) */
                if (!tr->have_bottom || i > 0) return;
                ref = tr->bottom;
            } else if (t->kind == K_POWER) {   /* power iteration: the largest magnitude */
                if (!tr->n_top) return;
                ref = tr->have_bottom && fabs(tr->bottom) > fabs(tr->top[0]) ? tr->bottom
                                                                             : tr->top[0];
            } else {                           /* the i-th largest, whatever the method */
                if (i >= tr->n_top) return;
                ref = tr->top[i];
            }
            e = fmax(e, fabs(s->vals[i] - ref) / fabs(ref));
            q = fmax(q, s->res[i]);
        }
        *err = e;
        *res = q;
        break;
    }
    case K_TRACE:       /* the true error if the exact trace is known, else the
                           estimator's own relative standard error */
        *err = tr->have_trace ? fabs(s->estimate - tr->trace) / fabs(tr->trace)
                              : s->std_error / fabs(s->estimate);
        break;
    case K_DENSITY:     /* the largest node against lambda_max */
        if (tr->n_top) *err = fabs(s->node_max - tr->top[0]) / fabs(tr->top[0]);
        break;
    case K_HVP:
        break;
    }
}

/* x in %.1e (sci) or %.0f, "-" when NAN */
static void fmt_num(char *b, size_t cap, double x, int sci)
{
    if (isnan(x)) snprintf(b, cap, "-");
    else if (sci) snprintf(b, cap, "%.1e", x);
    else snprintf(b, cap, "%.0f", x);
}

static void print_row(const race *r, const task *t, const side *mn, const side *rf, int first)
{
    char a[6][24];
    double e, q;
    if (first && mn->ok) {
        side_errors(r, t, mn, &e, &q);
        snprintf(a[0], 24, "%.4g%s", mn->seconds, mn->converged ? "" : "*");
        fmt_num(a[1], 24, mn->products, 0);
        fmt_num(a[2], 24, e, 1);
        fmt_num(a[3], 24, q, 1);
        printf("%-11s %9s %8s %9s %9s |", t->name, a[0], a[1], a[2], a[3]);
    } else if (first) {
        printf("%-11s %-37.37s |", t->name, mn->note[0] ? mn->note : "failed");
    } else {
        printf("%-11s %9s %8s %9s %9s |", "", "", "", "", "");
    }
    if (!rf) { printf("\n"); return; }
    side_errors(r, t, rf, &e, &q);
    snprintf(a[0], 24, "%.4g%s", rf->seconds, rf->converged ? "" : "*");
    fmt_num(a[1], 24, rf->products, 0);
    fmt_num(a[2], 24, e, 1);
    fmt_num(a[3], 24, q, 1);
    if (mn->ok) snprintf(a[4], 24, "%.2f", rf->seconds / mn->seconds);
    else snprintf(a[4], 24, "-");
    printf(" %-18s %9s %8s %9s %9s | %6s\n", rf->label, a[0], a[1], a[2], a[3], a[4]);
}

/* ---- setup ------------------------------------------------------------- */

static double hvp_flops(const minima_model *m, double n)
{
    double h = 0;
    for (int k = 1; k <= m->n_layers; k++) {
        double mn = 2.0 * n * m->widths[k] * m->widths[k - 1];
        h += k == 1 ? 2 * mn : 6 * mn;
    }
    return h;
}

/* GEMM GFLOP/s at the network's shapes: a batch of rows times each layer's
 * weight matrix (the products' GEMMs), median of 5 sweeps; DGEMM, or SGEMM
 * with single set. */
static double gemm_rate(const minima_model *m, size_t rows, int single)
{
    int M = (int)rows, maxw = 0;
    for (int k = 0; k <= m->n_layers; k++) maxw = m->widths[k] > maxw ? m->widths[k] : maxw;
    size_t na = (size_t)M * maxw, nb = (size_t)maxw * maxw;
    double *a = malloc(sizeof(double) * na), *b = malloc(sizeof(double) * nb),
           *c = malloc(sizeof(double) * na), t[5], flops = 0;
    float *af = (float *)a, *bf = (float *)b, *cf = (float *)c;
    for (size_t i = 0; i < na; i++) {
        if (single) af[i] = (float)(i % 17) / 17.0f;
        else a[i] = (double)(i % 17) / 17.0;
    }
    for (size_t i = 0; i < nb; i++) {
        if (single) bf[i] = (float)(i % 13) / 13.0f;
        else b[i] = (double)(i % 13) / 13.0;
    }
    for (int k = 1; k <= m->n_layers; k++) flops += 2.0 * M * m->widths[k] * m->widths[k - 1];
    for (int rep = -1; rep < 5; rep++) {
        double t0 = bench_now();
        for (int k = 1; k <= m->n_layers; k++) {
            int K = m->widths[k - 1], N = m->widths[k];
            if (single)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, af, K, bf, K,
                            0.0f, cf, N);
            else
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0, a, K, b, K, 0.0,
                            c, N);
        }
        if (rep >= 0) t[rep] = bench_now() - t0;
    }
    free(a); free(b); free(c);
    return flops / bench_median(t, 5) / 1e9;
}

static void tight_reference(race *r, int k_top, int bottom)
{
    size_t P = r->H64->n;
    double t0 = bench_now();
    memset(&r->tr, 0, sizeof r->tr);
    if (P <= 2000) {                          /* the exact spectrum */
        double *a = malloc(P * P * sizeof *a), *w = malloc(P * sizeof *w);
        if (minima_linop_to_dense(r->H64, a) != MINIMA_OK ||
            minima_spectrum_dense(P, a, w, NULL) != MINIMA_OK) die("dense spectrum");
        r->tr.n_top = k_top < (int)P ? k_top : (int)P;
        for (int i = 0; i < r->tr.n_top; i++) r->tr.top[i] = w[P - 1 - (size_t)i];
        r->tr.have_bottom = 1;
        r->tr.bottom = w[0];
        r->tr.have_trace = 1;
        for (size_t i = 0; i < P; i++) r->tr.trace += w[i];
        r->tr.how = "dense spectrum (LAPACK dsyevd)";
        free(a); free(w);
    } else {
        minima_eigs_params ep = minima_eigs_default_params();
        ep.k_top = k_top;
        ep.k_bottom = bottom;
        ep.tol = r->quick ? 1e-10 : 1e-12;
        ep.max_products = 20000;
        ep.verify = 0;
        ep.seed = 12345;
        minima_eigs_result e;
        minima_status st = minima_eigs(r->H64, &ep, &e);
        if (st != MINIMA_OK && st != MINIMA_ENOCONV) die("the tight reference");
        r->tr.n_top = e.n_top < MAXK ? e.n_top : MAXK;
        memcpy(r->tr.top, e.top, (size_t)r->tr.n_top * sizeof(double));
        r->tr.have_bottom = e.n_bottom > 0;
        if (e.n_bottom) r->tr.bottom = e.bottom[0];
        r->tr.how = st == MINIMA_OK ? (r->quick ? "minima Lanczos float64, tol 1e-10"
                                                : "minima Lanczos float64, tol 1e-12")
                                    : "minima Lanczos float64 (NOT converged)";
        minima_eigs_result_free(&e);
    }
    printf("tight reference: %s, %.1f s; lambda_max %.12g", r->tr.how, bench_now() - t0,
           r->tr.n_top ? r->tr.top[0] : NAN);
    if (r->tr.n_top >= 20) printf(", lambda_20 %.12g", r->tr.top[19]);
    if (r->tr.have_bottom) printf(", lambda_min %.12g", r->tr.bottom);
    if (r->tr.have_trace) printf(", trace %.12g", r->tr.trace);
    printf("\n");
}

static int task_selected(const char *list, const char *name)
{
    if (!list) return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static void race_model(race *r, const char *arch, size_t n, const char *tasks)
{
    minima_data_options o = minima_data_default_options();
    o.subset = n;
    if (minima_data_load("fashion-mnist", &o, &r->x) != MINIMA_OK) die("loading fashion-mnist");
    int *widths, K;
    if (minima_parse_arch(arch, &widths, &K) != MINIMA_OK) die("--arch");
    if (minima_model_create(&r->m, K, widths, 1, MINIMA_ACT_RELU) != MINIMA_OK) die("model");
    minima_model_init(r->m, 1);
    minima_train_params tp = minima_train_default_params();
    tp.epochs = 1;
    minima_trainer *trn = NULL;
    minima_epoch_stats es;
    if (minima_trainer_alloc(&trn, r->m, r->x, NULL, &tp) != MINIMA_OK) die("trainer");
    double t0 = bench_now();
    if (minima_trainer_epoch(trn, &es) != MINIMA_OK) die("training");
    minima_trainer_free(trn);
    size_t P = r->m->n_params;
    printf("\n== %s ReLU with biases, P = %zu, N = %zu Fashion-MNIST images, trained 1 epoch "
           "(loss %.4f, %.1f s); %d threads\n", arch, P, r->x->n, es.train_loss, bench_now() - t0,
           r->threads);

    snprintf(r->dir, sizeof r->dir, "/tmp/minima-race-XXXXXX");
    if (!mkdtemp(r->dir)) { perror("mkdtemp"); exit(1); }
    char path[512];
    snprintf(path, sizeof path, "%s/model.safetensors", r->dir);
    if (minima_model_save(r->m, path, MINIMA_DTYPE_F64) != MINIMA_OK) die("saving the model");
    size_t shape[2] = {r->x->n, (size_t)r->x->d};
    snprintf(path, sizeof path, "%s/x.npy", r->dir);
    if (minima_npy_write(path, 2, shape, r->x->x) != MINIMA_OK) die("writing x.npy");
    int64_t *y = malloc(r->x->n * sizeof *y);
    for (size_t i = 0; i < r->x->n; i++) y[i] = r->x->labels[i];
    snprintf(path, sizeof path, "%s/y.npy", r->dir);
    if (minima_npy_write_int64(path, 1, shape, y) != MINIMA_OK) die("writing y.npy");
    free(y);

    minima_net_params np = minima_net_default_params(r->m);
    if (minima_net_create(&r->net64, r->m, r->x, &np) != MINIMA_OK) die("net");
    if (minima_linop_hessian(&r->H64, r->net64) != MINIMA_OK) die("operator");
    {   /* the first product fills the net's cache: made here, not in a timed task */
        double *z = calloc(P, sizeof *z), *hz = malloc(P * sizeof *hz);
        if (minima_linop_apply(r->H64, z, hz) != MINIMA_OK) die("product");
        r->H64->n_applies = 0;
        free(z); free(hz);
    }
    r->net32 = NULL;
    r->H32 = NULL;
    r->H64_f32 = NULL;
    if (r->estimate_f32) {
        if (minima_linop_hessian_f32(&r->H64_f32, r->net64) != MINIMA_OK) die("float32 operator");
        double *z = calloc(P, sizeof *z), *hz = malloc(P * sizeof *hz);
        if (minima_linop_apply(r->H64_f32, z, hz) != MINIMA_OK) die("float32 product");
        r->H64_f32->n_applies = 0;
        free(z); free(hz);
    }
    if (r->minima_f32) {
        np.float32 = 1;
        if (minima_net_create(&r->net32, r->m, r->x, &np) != MINIMA_OK) die("float32 net");
        if (minima_linop_hessian(&r->H32, r->net32) != MINIMA_OK) die("float32 operator");
        double *z = calloc(P, sizeof *z), *hz = malloc(P * sizeof *hz);
        if (minima_linop_apply(r->H32, z, hz) != MINIMA_OK) die("float32 product");
        r->H32->n_applies = 0;
        free(z); free(hz);
    }
    size_t rows = minima_net_batch_rows(r->net64);
    double drate = gemm_rate(r->m, rows, 0), srate = gemm_rate(r->m, rows, 1);
    double rate = r->minima_f32 ? srate : drate;      /* what minima's products run on */
    printf("at the network's shapes (%zu rows x each layer): DGEMM %.1f GFLOP/s, SGEMM %.1f "
           "GFLOP/s; %d threads; minima products in %s; reference: %s\n", rows, drate, srate,
           r->threads,
           r->minima_f32 ? "float32" : "float64",
           r->ref ? r->ref_dtypes : "none");

    /* what the tight reference must cover */
    memset(&r->tr, 0, sizeof r->tr);
    int k_top = 0, bottom = 0;
    for (size_t i = 0; i < N_TASKS; i++) {
        if (!task_selected(tasks, TASKS[i].name)) continue;
        if (TASKS[i].kind == K_EIGS && !TASKS[i].bottom && TASKS[i].k > k_top) k_top = TASKS[i].k;
        if (TASKS[i].kind == K_EIGS && TASKS[i].bottom) bottom = 1;
        if (TASKS[i].kind == K_POWER || TASKS[i].kind == K_DENSITY ||
            (TASKS[i].kind == K_TRACE && P <= 2000)) {     /* the dense spectrum's trace */
            bottom = 1;
            if (k_top < 1) k_top = 1;
        }
    }
    if (k_top || bottom) tight_reference(r, k_top ? k_top : 1, bottom);

    printf("\n%-11s %9s %8s %9s %9s | %-18s %9s %8s %9s %9s | %6s\n", "task", "minima s",
           "products", "max err", "max res", "reference", "s", "products", "error", "residual",
           "ratio");
    for (int i = 0; i < 135; i++) putchar('-');
    putchar('\n');
    fflush(stdout);
    for (size_t i = 0; i < N_TASKS; i++) {
        const task *t = &TASKS[i];
        if (!task_selected(tasks, t->name)) continue;
        side mn;
        memset(&mn, 0, sizeof mn);
        t->minima(r, t, &mn);
        side rf[MAXREF];
        char why[512] = "";
        int nref = r->ref ? run_reference(r, t, rf, why, sizeof why) : 0;
        if (nref == 0) print_row(r, t, &mn, NULL, 1);
        for (int j = 0; j < nref; j++) print_row(r, t, &mn, &rf[j], j == 0);
        if (r->ref && nref == 0) printf("%-11s   reference failed: %s\n", "", why);
        if (t->kind == K_HVP && mn.ok)
            printf("%-11s   minima: %.1f GFLOP/s per product = %.0f%% of %s\n", "",
                   hvp_flops(r->m, (double)r->x->n) / mn.seconds / 1e9,
                   100 * hvp_flops(r->m, (double)r->x->n) / mn.seconds / 1e9 / rate,
                   r->minima_f32 ? "SGEMM" : "DGEMM");
        if (t->kind == K_TRACE && mn.ok)
            printf("%-11s   minima %s estimate %.6g +- %.2g\n", "", r->trace_method, mn.estimate,
                   mn.std_error);
        if (t->kind == K_TRACE)
            for (int j = 0; j < nref; j++)
                printf("%-11s   %s estimate %.6g +- %.2g\n", "", rf[j].label, rf[j].estimate,
                       rf[j].std_error);
        fflush(stdout);
    }
    printf("(* = not converged within the product budget; errors against the tight reference; "
           "trace error = %s; density error = largest node vs lambda_max)\n",
           r->tr.have_trace ? "against the exact trace" : "relative standard error");
    if (r->keep) {
        printf("files: %s\n", r->dir);
    } else {
        static const char *files[] = {"model.safetensors", "x.npy", "y.npy", "jobs.json",
                                      "reference.log"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            snprintf(path, sizeof path, "%s/%s", r->dir, files[i]);
            unlink(path);
        }
        rmdir(r->dir);
    }

    minima_linop_free(r->H32);
    minima_net_free(r->net32);
    minima_linop_free(r->H64);
    minima_linop_free(r->H64_f32);
    minima_net_free(r->net64);
    minima_free(widths);
    minima_model_free(r->m);
    minima_dataset_free(r->x);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_race [--arch A[,A...]] [--n N] [--threads T] [--tasks LIST] [--quick]\n"
            "                  [--reps R] [--ref-dtypes float64,float32] [--no-ref] [--minima-f32]\n"
            "                  [--trace-method xtrace|hutchpp|hutchinson] [--estimates-f64] [--trace-max P]\n"
            "                  [--eigs-max P] [--keep]\n"
            "tasks:");
    for (size_t i = 0; i < N_TASKS; i++) fprintf(stderr, " %s", TASKS[i].name);
    fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
    race r;
    memset(&r, 0, sizeof r);
    const char *archs = "784-128-128-10,784-512-512-10", *tasks = NULL;
    size_t n = 10000, trace_max = 0, eigs_max = 0;
    r.threads = 2;
    r.reps = 0;
    r.ref = 1;
    r.ref_dtypes = "float64,float32";
    r.trace_method = "xtrace";
    r.estimate_f32 = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc) n = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc) archs = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) r.threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tasks") && i + 1 < argc) tasks = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) r.reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ref-dtypes") && i + 1 < argc) r.ref_dtypes = argv[++i];
        else if (!strcmp(argv[i], "--trace-method") && i + 1 < argc) r.trace_method = argv[++i];
        else if (!strcmp(argv[i], "--trace-max") && i + 1 < argc) trace_max = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--eigs-max") && i + 1 < argc) eigs_max = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) r.quick = 1;
        else if (!strcmp(argv[i], "--no-ref")) r.ref = 0;
        else if (!strcmp(argv[i], "--keep")) r.keep = 1;
        else if (!strcmp(argv[i], "--minima-f32")) r.minima_f32 = 1;
        else if (!strcmp(argv[i], "--estimates-f64")) r.estimate_f32 = 0;
        else { usage(); return 2; }
    }
    if (strcmp(r.trace_method, "hutchpp") && strcmp(r.trace_method, "hutchinson") &&
        strcmp(r.trace_method, "xtrace")) {
        usage();
        return 2;
    }
    if (tasks) {      /* every name must be a task */
        char *dup = strdup(tasks), *save = NULL;
        for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            size_t i = 0;
            while (i < N_TASKS && strcmp(TASKS[i].name, tok)) i++;
            if (i == N_TASKS) {
                fprintf(stderr, "bench_race: no task '%s'\n", tok);
                usage();
                return 2;
            }
        }
        free(dup);
    }
    if (r.threads < 1) r.threads = 1;
    if (r.reps < 1 || r.reps > 63) r.reps = r.quick ? 3 : 5;
    r.trace_max = trace_max ? trace_max : (r.quick ? 100 : 1000);
    r.eigs_max = eigs_max ? eigs_max : (r.quick ? 3000 : 10000);
    openblas_set_num_threads(r.threads);

    /* the interpreter with torch and scipy: Debian's, unless MINIMA_RACE_PYTHON names another */
    r.python = getenv("MINIMA_RACE_PYTHON");
    if (!r.python || !*r.python) r.python = "/usr/bin/python3";
    char check[512];
    snprintf(check, sizeof check, "'%s' -c 'import numpy, torch, scipy.sparse.linalg' >/dev/null 2>&1",
             r.python);
    if (r.ref && (strchr(r.python, '\'') || system(check) != 0)) {
        printf("bench_race: no reference: %s cannot import numpy, torch and scipy "
               "(MINIMA_WITH_TORCH=1 make setup installs python3-torch and python3-scipy); "
               "minima's side only\n", r.python);
        r.ref = 0;
    }
    printf("bench_race: %d threads (OpenBLAS; the reference with torch.set_num_threads(%d), "
           "OMP_WAIT_POLICY=passive)%s\n", r.threads, r.threads, r.quick ? "; --quick" : "");
    char *list = strdup(archs), *save = NULL;
    for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save))
        race_model(&r, a, n, tasks);
    free(list);
    return 0;
}
