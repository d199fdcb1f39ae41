/* layer_elementwise.c — shape rule shared by the elementwise kinds, and the
 * element-wise kernels of the engine (engine/layer_elementwise.h).
 *
 * The kernels are plain loops over restrict pointers that the compiler
 * vectorizes (CMakeLists.txt compiles this file with the vectorizer's
 * dynamic cost model and -ffp-contract=off). EW_CLONES asks GCC for an
 * AVX-512 (x86-64-v4), an AVX2 (x86-64-v3) and a baseline copy of each,
 * picked when the program is loaded by what the processor supports (an
 * ifunc); elsewhere (other architectures, other compilers) it is empty and
 * the one copy is the baseline. The *_part functions apply a kernel to one thread's part. */
#include "engine/layer_elementwise.h"

#include <string.h>

#include "engine/parallel.h"

minima_status layer_elementwise_infer(minima_node *node, const minima_shape *in[2],
                                      const char *label)
{
    (void)label;
    node->shape = *in[0];
    node->n_weight = node->n_bias = 0;
    return MINIMA_OK;
}

double layer_elementwise_flops(const minima_node *node, const minima_shape *in[2])
{
    return (double)minima_shape_size(*in[0]);
}

/* ---- run-time choice of the vector units ------------------------------- */

/* Not under ThreadSanitizer: it instruments the ifunc resolvers, which run
 * before its runtime is ready. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_THREAD__)
#if __GNUC__ >= 12
#define EW_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#elif __GNUC__ >= 8
#define EW_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef EW_CLONES
#define EW_CLONES
#endif

/* ---- float64 kernels ---------------------------------------------------- */

EW_CLONES static void relu_f64(size_t n, const double *restrict x, unsigned char *restrict on,
                               double *restrict y)
{
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        unsigned char o = v > 0;
        on[i] = o;
        y[i] = o ? v : 0.0;
    }
}

EW_CLONES static void leaky_f64(size_t n, double a, const double *restrict x,
                                unsigned char *restrict on, double *restrict y)
{
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        unsigned char o = v > 0;
        on[i] = o;
        y[i] = o ? v : a * v;
    }
}

EW_CLONES static void mask_set_f64(size_t n, const unsigned char *restrict on,
                                   const double *restrict x, double *restrict out)
{
    for (size_t i = 0; i < n; i++) {
        double v = x[i];   /* read always: a select, not a masked load */
        out[i] = on[i] ? v : 0.0;
    }
}

EW_CLONES static void mask_add_f64(size_t n, const unsigned char *restrict on,
                                   const double *restrict x, double *restrict out)
{
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        out[i] += on[i] ? v : 0.0;
    }
}

EW_CLONES static void leaky_set_f64(size_t n, double a, const unsigned char *restrict on,
                                    const double *restrict x, double *restrict out)
{
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        out[i] = on[i] ? v : a * v;
    }
}

EW_CLONES static void leaky_add_f64(size_t n, double a, const unsigned char *restrict on,
                                    const double *restrict x, double *restrict out)
{
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        out[i] += on[i] ? v : a * v;
    }
}

EW_CLONES static void dtanh_set_f64(size_t n, const double *restrict x, const double *restrict y,
                                    double *restrict out)
{
    for (size_t i = 0; i < n; i++) out[i] = 0.0 + x[i] * (1.0 - y[i] * y[i]);
}

EW_CLONES static void dtanh_add_f64(size_t n, const double *restrict x, const double *restrict y,
                                    double *restrict out)
{
    for (size_t i = 0; i < n; i++) out[i] += x[i] * (1.0 - y[i] * y[i]);
}

EW_CLONES static void dtanh_add2_f64(size_t n, const double *restrict x, const double *restrict y,
                                     const double *restrict g, const double *restrict r,
                                     double *restrict out)
{
    for (size_t i = 0; i < n; i++) {
        double d = 1.0 - y[i] * y[i];
        double t = out[i] + x[i] * d;
        out[i] = t + g[i] * (-2.0 * y[i] * d) * r[i];
    }
}

EW_CLONES static void add_f64(size_t n, const double *restrict x, double *restrict out)
{
    for (size_t i = 0; i < n; i++) out[i] += x[i];
}

EW_CLONES static void narrow_f64(size_t n, const double *restrict x, float *restrict out)
{
    for (size_t i = 0; i < n; i++) out[i] = (float)x[i];
}

EW_CLONES static void bias_rows_f64(size_t rows, size_t m, const double *restrict bias,
                                    double *restrict out)
{
    for (size_t i = 0; i < rows; i++) {
        double *restrict row = out + i * m;
        for (size_t j = 0; j < m; j++) row[j] += bias[j];
    }
}

/* db[0..w) += column sums of G's columns [0, w), rows of stride m. */
EW_CLONES static void colsum_f64(size_t rows, size_t m, size_t w, const double *restrict G,
                                 double *restrict db)
{
    for (size_t i = 0; i < rows; i++) {
        const double *restrict row = G + i * m;
        for (size_t j = 0; j < w; j++) db[j] += row[j];
    }
}

/* ---- float32 kernels ---------------------------------------------------- */

EW_CLONES static void mask_set_f32(size_t n, const unsigned char *restrict on,
                                   const float *restrict x, float *restrict out)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];   /* read always: a select, not a masked load */
        out[i] = on[i] ? v : 0.0f;
    }
}

EW_CLONES static void mask_add_f32(size_t n, const unsigned char *restrict on,
                                   const float *restrict x, float *restrict out)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] += on[i] ? v : 0.0f;
    }
}

EW_CLONES static void leaky_set_f32(size_t n, float a, const unsigned char *restrict on,
                                    const float *restrict x, float *restrict out)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] = on[i] ? v : a * v;
    }
}

EW_CLONES static void leaky_add_f32(size_t n, float a, const unsigned char *restrict on,
                                    const float *restrict x, float *restrict out)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] += on[i] ? v : a * v;
    }
}

EW_CLONES static void dtanh_set_f32(size_t n, const float *restrict x, const float *restrict y,
                                    float *restrict out)
{
    for (size_t i = 0; i < n; i++) out[i] = x[i] * (1.0f - y[i] * y[i]);
}

EW_CLONES static void dtanh_add_f32(size_t n, const float *restrict x, const float *restrict y,
                                    float *restrict out)
{
    for (size_t i = 0; i < n; i++) out[i] += x[i] * (1.0f - y[i] * y[i]);
}

EW_CLONES static void dtanh_add2_f32(size_t n, const float *restrict x, const float *restrict y,
                                     const float *restrict g, const float *restrict r,
                                     float *restrict out)
{
    for (size_t i = 0; i < n; i++) {
        float d = 1.0f - y[i] * y[i];
        float t = out[i] + x[i] * d;
        out[i] = t + g[i] * (-2.0f * y[i] * d) * r[i];
    }
}

EW_CLONES static void add_f32(size_t n, const float *restrict x, float *restrict out)
{
    for (size_t i = 0; i < n; i++) out[i] += x[i];
}

EW_CLONES static void widen_f32(size_t n, const float *restrict x, double *restrict out)
{
    for (size_t i = 0; i < n; i++) out[i] = x[i];
}

EW_CLONES static void bias_rows_f32(size_t rows, size_t m, const float *restrict bias,
                                    float *restrict out)
{
    for (size_t i = 0; i < rows; i++) {
        float *restrict row = out + i * m;
        for (size_t j = 0; j < m; j++) row[j] += bias[j];
    }
}

EW_CLONES static void colsum_f32(size_t rows, size_t m, size_t w, const float *restrict G,
                                 float *restrict db)
{
    for (size_t i = 0; i < rows; i++) {
        const float *restrict row = G + i * m;
        for (size_t j = 0; j < w; j++) db[j] += row[j];
    }
}

/* ---- the passes: one part per thread ------------------------------------ */

typedef struct { ew_op op; ew_args a; } ew_task;

#define AT(p, T, i) ((p) ? (const T *)(p) + (i) : NULL)

static void part_f64(void *ctx, size_t b, size_t e)
{
    const ew_task *t = ctx;
    size_t n = e - b;
    const double *x = AT(t->a.x, double, b), *y = AT(t->a.y, double, b);
    const double *g = AT(t->a.g, double, b), *r = AT(t->a.r, double, b);
    unsigned char *on = t->a.on ? t->a.on + b : NULL;
    double *out = (double *)t->a.out + (t->op == EW_NARROW ? 0 : b);
    switch (t->op) {
    case EW_ZERO: memset(out, 0, n * sizeof(double)); break;
    case EW_COPY: memcpy(out, x, n * sizeof(double)); break;
    case EW_ADD: add_f64(n, x, out); break;
    case EW_RELU: relu_f64(n, x, on, out); break;
    case EW_LEAKY: leaky_f64(n, t->a.a, x, on, out); break;
    case EW_MASK_SET: mask_set_f64(n, on, x, out); break;
    case EW_MASK_ADD: mask_add_f64(n, on, x, out); break;
    case EW_LEAKY_SET: leaky_set_f64(n, t->a.a, on, x, out); break;
    case EW_LEAKY_ADD: leaky_add_f64(n, t->a.a, on, x, out); break;
    case EW_DTANH_SET: dtanh_set_f64(n, x, y, out); break;
    case EW_DTANH_ADD: dtanh_add_f64(n, x, y, out); break;
    case EW_DTANH_ADD2: dtanh_add2_f64(n, x, y, g, r, out); break;
    case EW_NARROW: narrow_f64(n, x, (float *)t->a.out + b); break;
    case EW_WIDEN: break;
    }
}

static void part_f32(void *ctx, size_t b, size_t e)
{
    const ew_task *t = ctx;
    size_t n = e - b;
    const float *x = AT(t->a.x, float, b), *y = AT(t->a.y, float, b);
    const float *g = AT(t->a.g, float, b), *r = AT(t->a.r, float, b);
    const unsigned char *on = t->a.on ? t->a.on + b : NULL;
    float *out = (float *)t->a.out + (t->op == EW_WIDEN ? 0 : b);
    float a = (float)t->a.a;
    switch (t->op) {
    case EW_ZERO: memset(out, 0, n * sizeof(float)); break;
    case EW_COPY: memcpy(out, x, n * sizeof(float)); break;
    case EW_ADD: add_f32(n, x, out); break;
    case EW_MASK_SET: mask_set_f32(n, on, x, out); break;
    case EW_MASK_ADD: mask_add_f32(n, on, x, out); break;
    case EW_LEAKY_SET: leaky_set_f32(n, a, on, x, out); break;
    case EW_LEAKY_ADD: leaky_add_f32(n, a, on, x, out); break;
    case EW_DTANH_SET: dtanh_set_f32(n, x, y, out); break;
    case EW_DTANH_ADD: dtanh_add_f32(n, x, y, out); break;
    case EW_DTANH_ADD2: dtanh_add2_f32(n, x, y, g, r, out); break;
    case EW_WIDEN: widen_f32(n, x, (double *)t->a.out + b); break;
    case EW_RELU: case EW_LEAKY: case EW_NARROW: break;
    }
}

/* Parts start on multiples of 64 values: a cache line of the mask, whole
 * lines of the float and double arrays. */
void ew_f64(ew_op op, size_t n, ew_args args)
{
    ew_task t = {op, args};
    minima_par_for(n, 1, 64, part_f64, &t);
}

void ew_f32(ew_op op, size_t n, ew_args args)
{
    ew_task t = {op, args};
    minima_par_for(n, 1, 64, part_f32, &t);
}

typedef struct { size_t m; const void *v; void *out; } rows_task;

static void bias_part_f64(void *ctx, size_t b, size_t e)
{
    const rows_task *t = ctx;
    bias_rows_f64(e - b, t->m, t->v, (double *)t->out + b * t->m);
}

static void bias_part_f32(void *ctx, size_t b, size_t e)
{
    const rows_task *t = ctx;
    bias_rows_f32(e - b, t->m, t->v, (float *)t->out + b * t->m);
}

void ew_bias_rows_f64(size_t rows, size_t m, const double *bias, double *out)
{
    rows_task t = {m, bias, out};
    minima_par_for(rows, m, 1, bias_part_f64, &t);
}

void ew_bias_rows_f32(size_t rows, size_t m, const float *bias, float *out)
{
    rows_task t = {m, bias, out};
    minima_par_for(rows, m, 1, bias_part_f32, &t);
}

/* Column sums split by columns (16 at a time): each thread sums its columns
 * over all rows in row order, so the sums do not depend on the split. */
typedef struct { size_t rows, m; const void *G; void *db; } colsum_task;

static void colsum_part_f64(void *ctx, size_t b, size_t e)
{
    const colsum_task *t = ctx;
    colsum_f64(t->rows, t->m, e - b, (const double *)t->G + b, (double *)t->db + b);
}

static void colsum_part_f32(void *ctx, size_t b, size_t e)
{
    const colsum_task *t = ctx;
    colsum_f32(t->rows, t->m, e - b, (const float *)t->G + b, (float *)t->db + b);
}

void ew_colsum_f64(size_t rows, size_t m, const double *G, double *db)
{
    colsum_task t = {rows, m, G, db};
    minima_par_for(m, rows, 16, colsum_part_f64, &t);
}

void ew_colsum_f32(size_t rows, size_t m, const float *G, float *db)
{
    colsum_task t = {rows, m, G, db};
    minima_par_for(m, rows, 16, colsum_part_f32, &t);
}
