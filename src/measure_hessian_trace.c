/* measure_hessian_trace.c — the trace of the Hessian (SPEC §6 "trace"):
 * exact (P unit products) for small nets, Hutch++ or Hutchinson with its
 * standard error for larger ones. */
#include <math.h>
#include <stdio.h>

#include "measure_curv_impl.h"
#include "minima/linop.h"
#include "minima/trace.h"

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    MINIMA_TRY(minima_settings_check(settings, "exact_max,hutchpp,rtol,min_samples,max_samples,sketch",
                                     "hessian_trace"));
    minima_trace_params tp = minima_trace_default_params();
    tp.max_samples = 300;   /* ~0.1 s a product on a 100k-parameter net: keep it to a minute */
    int exact_max = 3000, hutchpp = 1;
    int min_samples = (int)tp.min_samples, max_samples = (int)tp.max_samples;
    int sketch = (int)tp.sketch;
    MINIMA_TRY(minima_settings_int(settings, "exact_max", &exact_max));
    MINIMA_TRY(minima_settings_int(settings, "hutchpp", &hutchpp));
    MINIMA_TRY(minima_settings_double(settings, "rtol", &tp.rtol));
    MINIMA_TRY(minima_settings_int(settings, "min_samples", &min_samples));
    MINIMA_TRY(minima_settings_int(settings, "max_samples", &max_samples));
    MINIMA_TRY(minima_settings_int(settings, "sketch", &sketch));
    if (exact_max < 0 || (hutchpp != 0 && hutchpp != 1) || min_samples < 2 ||
        max_samples < min_samples || sketch < 1 || !(tp.rtol >= 0))
        MINIMA_FAIL(MINIMA_EINVAL, "measure hessian_trace: expected exact_max >= 0, hutchpp 0 or 1, "
                    "2 <= min_samples <= max_samples, sketch >= 1, rtol >= 0; found %d, %d, %d, "
                    "%d, %d, %g", exact_max, hutchpp, min_samples, max_samples, sketch, tp.rtol);
    tp.min_samples = (size_t)min_samples;
    tp.max_samples = (size_t)max_samples;
    tp.sketch = (size_t)sketch;
    tp.seed = seed;
    size_t P = minima_net_n_params(net);
    int exact = P <= (size_t)exact_max;
    snprintf(out->params, sizeof out->params,
             "{\"exact_max\": %d, \"hutchpp\": %d, \"rtol\": %.17g, \"min_samples\": %d, "
             "\"max_samples\": %d, \"sketch\": %d, \"method\": \"%s\"}",
             exact_max, hutchpp, tp.rtol, min_samples, max_samples, sketch,
             exact ? "exact" : hutchpp ? "hutch++" : "hutchinson");

    minima_linop *op = NULL;
    minima_trace_result r;
    MINIMA_TRY(minima_linop_hessian(&op, net));
    minima_status st = exact ? minima_trace_exact(op, &r)
                       : hutchpp ? minima_trace_hutchpp(op, &tp, &r)
                                 : minima_trace_hutchinson(op, &tp, &r);
    minima_linop_free(op);
    if (st != MINIMA_OK && st != MINIMA_EINTERRUPTED) return st;
    out->value = r.estimate;
    minima_measure_add_extra(out, "std_error", r.std_error);
    minima_measure_add_extra(out, "samples", (double)r.samples);
    minima_measure_add_extra(out, "n_products", (double)r.n_products);
    minima_measure_add_extra(out, "exact", exact);
    minima_measure_add_extra(out, "converged", r.converged);
    if (!exact && !r.converged)
        minima_curv_note(out, "the standard error did not reach rtol x |trace| within "
                         "max_samples probes");
    return st;
}

const minima_measure minima_measure_hessian_trace = {
    .name = "hessian_trace",
    .title = "Hessian trace Tr H",
    .source = "Dinh et al. 2017, Thm 4; Hutchinson 1989; Meyer et al. 2021 (Hutch++)",
    .invariance = MINIMA_INVARIANCE_NONE,
    .settings = "exact_max=3000,hutchpp=1,rtol=1e-2,min_samples=10,max_samples=300,sketch=30",
    .compute = compute,
};
