/* measure_curv_impl.h — internals shared by the curvature- and norm-based
 * measures (src/measure_hessian_*.c, measure_fisher_rao.c, ...): every
 * layer's activations of a batch, computed by the engine
 * (engine/net_eval_impl.h), per-example output derivatives and the exact
 * Hessian spectrum of small nets. Not part of the public API. */
#ifndef MINIMA_MEASURE_CURV_IMPL_H
#define MINIMA_MEASURE_CURV_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "engine/net_eval_impl.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/sharpness.h"
#include "minima/status.h"

/* Rows of the data a measure's own forward pass processes at once. */
#define MINIMA_CURV_BATCH 512

/* Activations of a batch: act[k] (b, d_k) for k = 1..K (A_k = phi(Z_k) for
 * k < K, Z_K for k = K); act[0] is left NULL (the caller's inputs). The
 * engine computes them, layer by layer (engine/net_eval_impl.h). */
typedef struct {
    int K;
    size_t rows;        /* capacity in rows */
    double **act;       /* (K+1) */
    minima_eval_layers layers;
} minima_curv_acts;

/* MINIMA_EUNSUPPORTED (naming the measure `what`) unless m is an MLP. */
minima_status minima_curv_acts_alloc(minima_curv_acts *a, const minima_model *m, size_t rows,
                                     const char *what);
void minima_curv_acts_free(minima_curv_acts *a);

/* Forward pass of n <= a->rows examples x (n, d_0) at theta (P values). */
minima_status minima_curv_forward(const minima_model *m, const double *theta, const double *x,
                                  size_t n, minima_curv_acts *a);

/* x .*= phi'(Z), phi'(Z) recovered from A = phi(Z) as the engine does
 * (ReLU: 1 where A > 0, else 0). */
void minima_curv_times_dphi(const minima_model *m, const double *a, double *x, size_t n);

/* Gradient g (d_K) of ONE example's loss (not the mean) with respect to its
 * outputs z (d_K): softmax(z) - onehot(label) for cross-entropy,
 * 2 (z - target) / d_K for MSE (PyTorch's mean over the d_K entries).
 * prob (d_K) gets softmax(z) for cross-entropy when not NULL. */
void minima_curv_output_grad(minima_loss loss, const double *z, int dK, int label,
                             const double *target, double *g, double *prob);

/* All P eigenvalues of the Hessian at the anchor, ascending (dense Hessian
 * from P products, then LAPACK dsyevd). values (P). */
minima_status minima_curv_hessian_spectrum(minima_net *net, double *values);

/* Appends text to out->note ("; " between entries), truncating. */
void minima_curv_note(minima_measure_result *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
