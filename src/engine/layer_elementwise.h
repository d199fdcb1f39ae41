/* engine/layer_elementwise.h — what the elementwise kinds (activations,
 * identity) share: the output has the input's shape; and the element-wise
 * kernels of the engine's passes.
 *
 * Kernels. Every loop of the engine that does a few operations per value
 * (an activation's mask, a bias added to every row, a column sum, a
 * conversion to float32) runs through ew_f64 / ew_f32 / ew_bias_rows_* /
 * ew_colsum_*: split among the engine's threads (engine/parallel.h) and,
 * on x86-64, compiled for AVX-512, AVX2 and the baseline, the variant
 * chosen at run time for the processor (GCC's target_clones; the build
 * itself still targets baseline x86-64). Each value is computed by the
 * same operations in the same order as the scalar loops they replace, with
 * no contraction into fused multiply-adds (the file is compiled with
 * -ffp-contract=off), so the results are the same bit for bit on every
 * processor and with any number of threads. */
#ifndef MINIMA_ENGINE_LAYER_ELEMENTWISE_H
#define MINIMA_ENGINE_LAYER_ELEMENTWISE_H

#include "engine/layer.h"

/* node->shape = the input's shape; no parameters. */
minima_status layer_elementwise_infer(minima_node *node, const minima_shape *in[2],
                                      const char *label);
/* One operation per value. */
double layer_elementwise_flops(const minima_node *node, const minima_shape *in[2]);

/* What ew_f64 / ew_f32 compute for each of n values i (x, y, g, r, on,
 * out are the arrays of ew_args; a the slope). */
typedef enum {
    EW_ZERO,          /* out = 0 */
    EW_COPY,          /* out = x */
    EW_ADD,           /* out += x */
    EW_RELU,          /* on = x > 0; out = on ? x : 0             (float64) */
    EW_LEAKY,         /* on = x > 0; out = on ? x : a x           (float64) */
    EW_MASK_SET,      /* out = on ? x : 0 */
    EW_MASK_ADD,      /* out += on ? x : 0 */
    EW_LEAKY_SET,     /* out = on ? x : a x */
    EW_LEAKY_ADD,     /* out += on ? x : a x */
    EW_DTANH_SET,     /* float64: out = 0 + x (1 - y^2); float32: out = x (1 - y^2) */
    EW_DTANH_ADD,     /* out += x (1 - y^2) */
    EW_DTANH_ADD2,    /* out = (out + x d) + g (-2 y d) r,  d = 1 - y^2 */
    EW_NARROW,        /* ew_f64: out (float *) = (float)x */
    EW_WIDEN          /* ew_f32: out (double *) = x */
} ew_op;

typedef struct {
    const void *x, *y, *g, *r;   /* inputs (double or float as the function) */
    unsigned char *on;           /* the mask: read, or written by EW_RELU/EW_LEAKY */
    void *out;
    double a;                    /* the leaky slope */
} ew_args;

void ew_f64(ew_op op, size_t n, ew_args args);
void ew_f32(ew_op op, size_t n, ew_args args);

/* out (rows, m) += bias on every row. */
void ew_bias_rows_f64(size_t rows, size_t m, const double *bias, double *out);
void ew_bias_rows_f32(size_t rows, size_t m, const float *bias, float *out);
/* db (m) += the column sums of G (rows, m), each column summed in row order. */
void ew_colsum_f64(size_t rows, size_t m, const double *G, double *db);
void ew_colsum_f32(size_t rows, size_t m, const float *G, float *db);

#endif
