/* sharpness.c — the measure registry. */
#include "minima/sharpness.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "minima/alloc.h"

#define MEASURE(sym) extern const minima_measure sym;
#include "measures/measures.def"
#undef MEASURE

static const minima_measure *const registry[] = {
#define MEASURE(sym) &sym,
#include "measures/measures.def"
#undef MEASURE
    NULL
};

/* A flat copy for minima_measures(); built on first use. */
static minima_measure table[sizeof registry / sizeof *registry];

const char *minima_invariance_name(minima_invariance inv)
{
    switch (inv) {
    case MINIMA_INVARIANCE_NONE: return "no";
    case MINIMA_INVARIANCE_EXACT: return "yes";
    case MINIMA_INVARIANCE_APPROX: return "approximately";
    case MINIMA_INVARIANCE_OPEN: return "open";
    }
    return "unknown";
}

const minima_measure *minima_measures(size_t *count)
{
    size_t n = 0;
    for (; registry[n]; n++) table[n] = *registry[n];
    if (count) *count = n;
    return table;
}

const minima_measure *minima_measure_find(const char *name)
{
    for (size_t i = 0; name && registry[i]; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i];
    return NULL;
}

minima_invariance minima_measure_invariance(const minima_measure *m, const char *settings)
{
    return m->invariance_for ? m->invariance_for(settings) : m->invariance;
}

void minima_measure_add_extra(minima_measure_result *out, const char *name, double value)
{
    if (out->n_extras >= MINIMA_MEASURE_MAX_EXTRAS) return;
    snprintf(out->extras[out->n_extras].name, sizeof out->extras[0].name, "%s", name);
    out->extras[out->n_extras].value = value;
    out->n_extras++;
}

minima_status minima_measure_compute(const minima_measure *m, minima_net *net, const char *settings,
                                     uint64_t seed, minima_measure_result *out)
{
    if (!m || !net || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_measure_compute: NULL argument");
    memset(out, 0, sizeof *out);
    out->value = NAN;
    snprintf(out->params, sizeof out->params, "{}");
    size_t P = minima_net_n_params(net);
    double *saved = minima_alloc(P, sizeof *saved);
    if (!saved) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    memcpy(saved, minima_net_point(net), P * sizeof *saved);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    minima_status st = m->compute(net, settings, seed, out);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    /* Put the anchor back if the measure moved it (restoring drops the cache). */
    if (memcmp(saved, minima_net_point(net), P * sizeof *saved) != 0) {
        minima_status st2 = minima_net_set_point(net, saved);
        if (st == MINIMA_OK) st = st2;
    }
    minima_free(saved);
    return st;
}
