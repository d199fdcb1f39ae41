/* keskar_impl.h — the shared engine of the two Keskar et al. measures
 * (measure_keskar_full.c, measure_keskar_subspace.c). */
#ifndef MINIMA_KESKAR_IMPL_H
#define MINIMA_KESKAR_IMPL_H

#include <stdint.h>

#include "minima/net.h"
#include "minima/sharpness.h"

/* Keskar et al. 2017, metric 2.1, maximised by L-BFGS-B from y = 0.
 * subspace = 0: A = I (full space, y has P entries); subspace = 1: A is
 * a (P, p) Gaussian matrix drawn from `seed`. `name` is the registry key,
 * used in messages. */
minima_status minima_keskar_compute(minima_net *net, const char *settings, uint64_t seed,
                                    minima_measure_result *out, int subspace, const char *name);

/* The settings of both measures: keskar_full takes the first
 * MINIMA_KESKAR_N_FULL, keskar_subspace all (dim last). */
extern const minima_setting minima_keskar_settings[];
#define MINIMA_KESKAR_N_FULL 6
#define MINIMA_KESKAR_N_SUBSPACE 7

#endif
