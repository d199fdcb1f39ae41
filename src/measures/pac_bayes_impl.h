/* pac_bayes_impl.h — the shared engine of the two PAC-Bayes flatness
 * measures of Jiang et al. 2020 (measure_pac_bayes.c,
 * measure_pac_bayes_mag.c). */
#ifndef MINIMA_PAC_BAYES_IMPL_H
#define MINIMA_PAC_BAYES_IMPL_H

#include <stdint.h>

#include "minima/net.h"
#include "minima/sharpness.h"

/* magnitude = 0: u ~ N(0, sigma^2 I); magnitude = 1: u_i ~ N(0, sigma^2
 * w_i^2 + mag_eps^2). `name` is the registry key, used in messages. */
minima_status minima_pac_bayes_compute(minima_net *net, const char *settings, uint64_t seed,
                                       minima_measure_result *out, int magnitude,
                                       const char *name);

/* The settings of both measures: pac_bayes takes the first
 * MINIMA_PAC_BAYES_N, pac_bayes_mag all (mag_eps last). */
extern const minima_setting minima_pac_bayes_settings[];
#define MINIMA_PAC_BAYES_N 6
#define MINIMA_PAC_BAYES_MAG_N 7

/* pac_bayes_mag's expected invariance under these settings (the defaults
 * where they do not parse): exact with mag_eps = 0, approximate with
 * mag_eps > 0, none with variance_as_std = 1. */
minima_invariance minima_pac_bayes_mag_invariance(const char *settings);

#endif
