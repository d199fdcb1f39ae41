/* measure_keskar_subspace.c — Keskar et al. 2017, metric 2.1 in a random
 * subspace: A is a (P, p) matrix of independent N(0, 1) entries drawn from
 * the seed, p = 100 by default, A^+ theta by least squares (LAPACK dgels).
 * The engine (L-BFGS-B from y = 0) is in measure_keskar_full.c. Memory:
 * A and one copy for dgels, 2 P p doubles. */
#include "measures/keskar_impl.h"

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    return minima_keskar_compute(net, settings, seed, out, 1, "keskar_subspace");
}

const minima_measure minima_measure_keskar_subspace = {
    .name = "keskar_subspace",
    .title = "Keskar et al. eps-sharpness (random p-dimensional subspace, L-BFGS-B)",
    .source = "Keskar et al. 2017, metric 2.1 (A Gaussian, P x p)",
    .invariance = MINIMA_INVARIANCE_OPEN,
    .settings = minima_keskar_settings,
    .n_settings = MINIMA_KESKAR_N_SUBSPACE,
    .compute = compute,
};
