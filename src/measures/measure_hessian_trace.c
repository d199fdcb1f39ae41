/* measure_hessian_trace.c — the trace of the Hessian (docs/measures/hessian_trace.md):
 * exact (P unit products) for small nets, Hutch++ or Hutchinson with its
 * standard error for larger ones. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "measures/measure_curv_impl.h"
#include "minima/linop.h"
#include "minima/trace.h"

typedef struct {
    int exact_max, hutchpp;
    double rtol;
    int min_samples, max_samples, sketch;
} htrace_settings;

static const minima_setting table[] = {
    {"exact_max", MINIMA_SETTING_INT, offsetof(htrace_settings, exact_max), 3000, 0, INFINITY, 0,
     "exact trace (dense Hessian diagonal by products) when P <= exact_max"},
    {"hutchpp", MINIMA_SETTING_BOOL, offsetof(htrace_settings, hutchpp), 1, 0, 1, 0,
     "1: Hutch++; 0: plain Hutchinson"},
    {"rtol", MINIMA_SETTING_DOUBLE, offsetof(htrace_settings, rtol), 1e-2, 0, INFINITY, 0,
     "stop when the standard error is below rtol |trace|"},
    {"min_samples", MINIMA_SETTING_INT, offsetof(htrace_settings, min_samples), 10, 2, INFINITY, 0,
     "probes at least"},
    {"max_samples", MINIMA_SETTING_INT, offsetof(htrace_settings, max_samples), 300, 2, INFINITY, 0,
     "probes at most (>= min_samples)"},
    {"sketch", MINIMA_SETTING_INT, offsetof(htrace_settings, sketch), 30, 1, INFINITY, 0,
     "Hutch++ sketch size"},
};
#define N_SETTINGS (sizeof table / sizeof *table)

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    htrace_settings hs;
    MINIMA_TRY(minima_settings_parse("hessian_trace", table, N_SETTINGS, settings, &hs));
    if (hs.max_samples < hs.min_samples)
        MINIMA_FAIL(MINIMA_EINVAL, "measure hessian_trace: setting 'max_samples' = %d: expected >= "
                    "min_samples = %d", hs.max_samples, hs.min_samples);
    minima_trace_params tp = minima_trace_default_params();
    int exact_max = hs.exact_max, hutchpp = hs.hutchpp;
    tp.rtol = hs.rtol;
    tp.min_samples = (size_t)hs.min_samples;
    tp.max_samples = (size_t)hs.max_samples;
    tp.sketch = (size_t)hs.sketch;
    tp.seed = seed;
    size_t P = minima_net_n_params(net);
    int exact = P <= (size_t)exact_max;
    minima_settings_json(table, N_SETTINGS, &hs, exact ? "\"method\": \"exact\"" : hutchpp ?
                         "\"method\": \"hutch++\"" : "\"method\": \"hutchinson\"", out->params,
                         sizeof out->params);

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
    .settings = table,
    .n_settings = N_SETTINGS,
    .compute = compute,
};
