/* sharpness_batches_impl.h — the m-sharpness batches shared by
 * worst_sharpness and average_sharpness (Andriushchenko et al. 2023): the
 * first n examples of the net's data cut into batches of m (the last one
 * may be smaller), one net per batch, created once. Defined in
 * measure_worst_sharpness.c. */
#ifndef MINIMA_SHARPNESS_BATCHES_IMPL_H
#define MINIMA_SHARPNESS_BATCHES_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "minima/data.h"
#include "minima/net.h"
#include "minima/sharpness.h"

typedef struct {
    int count;                 /* number of batches */
    size_t examples;           /* examples used: min(n, N) */
    minima_dataset **data;     /* (count) slices of the data */
    minima_net **nets;         /* (count) nets on those slices, the parent's loss */
} minima_sharpness_batches;

minima_status minima_sharpness_batches_create(minima_sharpness_batches *b, minima_net *net,
                                              size_t n, size_t m, const char *name);
void minima_sharpness_batches_free(minima_sharpness_batches *b);

/* Cross-entropy of normalised logits (Andriushchenko et al.'s option):
 * for each row z of `outputs` (n, d), v = z - mean z, u = v / max(||v||,
 * 1e-10), loss = logsumexp(u) - u_label; returns the mean over the n rows.
 * With signal non-NULL, also d(mean loss)/dz into signal (n, d). */
double minima_sharpness_normalized_ce(const double *outputs, const int32_t *labels, size_t n,
                                      int d, double *signal);

/* Expected invariance of the m-sharpness measures: the adaptive variants
 * (c = |w|, the ball scales with the parameters) are exactly invariant
 * (Andriushchenko et al. 2023), the standard ones are not. */
minima_invariance minima_sharpness_adaptive_invariance(int adaptive);

#endif
