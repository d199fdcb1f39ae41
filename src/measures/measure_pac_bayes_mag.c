/* measure_pac_bayes_mag.c — magnitude-aware PAC-Bayes flatness of Jiang et
 * al. 2020: the noise has standard deviation sqrt(sigma^2 w_i^2 + eps^2)
 * per parameter (docs/measures/pac_bayes_mag.md notes that a widely copied implementation passes
 * this variance where a standard deviation is expected). The engine and
 * the exact bound formulas are in measure_pac_bayes.c. */
#include "measures/pac_bayes_impl.h"

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    return minima_pac_bayes_compute(net, settings, seed, out, 1, "pac_bayes_mag");
}

const minima_measure minima_measure_pac_bayes_mag = {
    .name = "pac_bayes_mag",
    .title = "Magnitude-aware PAC-Bayes flatness 1/sigma'^2",
    .source = "Jiang et al. 2020 (magnitude-aware perturbation bounds)",
    .invariance = MINIMA_INVARIANCE_APPROX,
    .settings = minima_pac_bayes_settings,
    .n_settings = MINIMA_PAC_BAYES_MAG_N,
    .compute = compute,
    .invariance_for = minima_pac_bayes_mag_invariance,
};
