/* minima/sharpness.h — the sharpness and flatness measures of the
 * literature behind one registry (SPEC §6).
 *
 * Each measure has a name ("keskar_full", "pac_bayes", ...), the source
 * it follows, its expected behaviour under function-preserving rescaling,
 * its settings with the source's defaults, and a compute function. Every
 * measure is evaluated at the anchor of a minima_net — the model's
 * parameters over the data set the net was created with (the training
 * set, as the sources define them) — and leaves the anchor where it was.
 *
 * Settings are a string "key=value,key=value" (NULL or "" for the
 * defaults); unknown keys and malformed values are rejected with a message
 * listing the measure's keys. Each result reports the settings used as a
 * JSON object, so a number always travels with its parameters.
 *
 * Randomness (probes, noise draws, batches) comes from the seed argument:
 * the same seed and thread count give the same value bit for bit. */
#ifndef MINIMA_SHARPNESS_H
#define MINIMA_SHARPNESS_H

#include <stddef.h>
#include <stdint.h>

#include "minima/net.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a function-preserving rescaling (layer-wise and per-neuron, SPEC §3)
 * is expected to do to a measure. */
typedef enum {
    MINIMA_INVARIANCE_NONE = 0,   /* can be moved arbitrarily (e.g. Thm 4) */
    MINIMA_INVARIANCE_EXACT,      /* unchanged, up to rounding */
    MINIMA_INVARIANCE_APPROX,     /* unchanged up to a stated approximation */
    MINIMA_INVARIANCE_OPEN        /* the literature does not say; measure it */
} minima_invariance;

const char *minima_invariance_name(minima_invariance inv);   /* "no", "yes", "approximately", "open" */

#define MINIMA_MEASURE_MAX_EXTRAS 8

typedef struct {
    double value;                     /* the measure */
    int n_extras;                     /* further named numbers: second-order value, bounds, ... */
    struct { char name[32]; double value; } extras[MINIMA_MEASURE_MAX_EXTRAS];
    char params[512];                 /* JSON object of the settings used */
    char note[256];                   /* a caveat about this value, or "" */
    double seconds;                   /* filled by minima_measure_compute */
} minima_measure_result;

typedef struct {
    const char *name;                 /* registry key, [a-z0-9_] */
    const char *title;                /* "Keskar et al. eps-sharpness (full space)" */
    const char *source;               /* "Keskar et al. 2017, metric 2.1" */
    minima_invariance invariance;     /* expected under rescaling */
    const char *settings;             /* documented keys and defaults, "eps=1e-3,iters=10" */
    minima_status (*compute)(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out);
    /* The expected invariance under these settings, for measures whose
     * settings change it (ASAM with eta = 0, the adaptive m-sharpness
     * variants, ...); NULL: always `invariance`. */
    minima_invariance (*invariance_for)(const char *settings);
} minima_measure;

/* The registry, in a stable order; *count gets its length. */
const minima_measure *minima_measures(size_t *count);
/* The measure of that name, or NULL. */
const minima_measure *minima_measure_find(const char *name);
/* Runs m->compute with the anchor saved and restored around it, clears
 * *out first and fills out->seconds. */
minima_status minima_measure_compute(const minima_measure *m, minima_net *net, const char *settings,
                                     uint64_t seed, minima_measure_result *out);

/* The invariance expected of m under `settings` (NULL or "" for the
 * defaults): m->invariance_for(settings) if the measure has one, else
 * m->invariance. */
minima_invariance minima_measure_invariance(const minima_measure *m, const char *settings);

/* Adds a named extra number to a result (ignored past the maximum). */
void minima_measure_add_extra(minima_measure_result *out, const char *name, double value);

/* ---- settings strings, for measure implementations ------------------ */

/* Looks up `key` in "k=v,k=v"; *value keeps the default if absent.
 * MINIMA_EINVAL if present and not a finite number. */
minima_status minima_settings_double(const char *settings, const char *key, double *value);
minima_status minima_settings_int(const char *settings, const char *key, int *value);
/* MINIMA_EINVAL naming the first key of `settings` not in the
 * comma-separated list `known` ("eps,iters,subspace"). */
minima_status minima_settings_check(const char *settings, const char *known, const char *measure);

#ifdef __cplusplus
}
#endif
#endif
