/* minima/sharpness.h — the sharpness and flatness measures of the
 * literature behind one registry (docs/sharpness.md).
 *
 * Each measure has a name ("keskar_full", "pac_bayes", ...), the source
 * it follows, its expected behaviour under function-preserving rescaling,
 * its settings with the source's defaults, and a compute function. Every
 * measure is evaluated at the anchor of a minima_net — the model's
 * parameters over the data set the net was created with (the training
 * set, as the sources define them) — and leaves the anchor where it was.
 *
 * Settings are a string "key=value,key=value" (NULL or "" for the
 * defaults), described by each measure's table of minima_setting (below);
 * unknown keys, malformed and out-of-range values are rejected with a
 * message naming the measure, the key, the range and the value. Each result reports the settings used as a
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

/* What a function-preserving rescaling (layer-wise and per-neuron, docs/symmetry.md)
 * is expected to do to a measure. */
typedef enum {
    MINIMA_INVARIANCE_NONE = 0,   /* can be moved arbitrarily (e.g. Thm 4) */
    MINIMA_INVARIANCE_EXACT,      /* unchanged, up to rounding */
    MINIMA_INVARIANCE_APPROX,     /* unchanged up to a stated approximation */
    MINIMA_INVARIANCE_OPEN        /* the literature does not say; measure it */
} minima_invariance;

const char *minima_invariance_name(minima_invariance inv);   /* "no", "yes", "approximately", "open" */

/* ---- settings ------------------------------------------------------------
 *
 * Each measure describes its settings once, as a table of minima_setting:
 * name, kind, where the value lives in the measure's settings struct, the
 * default, the accepted range and a line of documentation. The parser, the
 * range checks, the JSON of the settings used, `minima sharpness --list`
 * and the tables of docs/measures/ all come from that table. */
typedef enum {
    MINIMA_SETTING_DOUBLE = 0,   /* a finite number; stored as double */
    MINIMA_SETTING_INT,          /* an integer; stored as int */
    MINIMA_SETTING_BOOL,         /* 0 or 1; stored as int */
    MINIMA_SETTING_PNORM         /* the norm p: "2" or "inf"; stored as double (2 or INFINITY) */
} minima_setting_kind;

/* Range flags. */
#define MINIMA_SETTING_MIN_OPEN 1u   /* min itself is excluded (> min) */
#define MINIMA_SETTING_MAX_OPEN 2u   /* max itself is excluded (< max) */

typedef struct {
    const char *name;            /* key, [a-z0-9_] */
    minima_setting_kind kind;
    size_t offset;               /* offsetof(settings struct, field) */
    double def;                  /* default; NaN: chosen by the measure from the others (doc says how) */
    double min, max;             /* accepted range (-INFINITY / INFINITY: unbounded); not for BOOL, PNORM */
    unsigned flags;              /* MINIMA_SETTING_MIN_OPEN, MINIMA_SETTING_MAX_OPEN */
    const char *doc;             /* one line: what it sets; for a NaN default, how it is chosen */
} minima_setting;

/* Fills *values (the struct the table's offsets point into) with the
 * defaults, then reads "k=v,k=v" (NULL or "": the defaults). MINIMA_EINVAL,
 * naming `measure`, the key, what was expected and what was found, for an
 * item that is not key=value, a key not in the table (the message lists the
 * keys), a key given twice, a value of the wrong kind, or a value out of
 * range. A NaN default stays NaN when the key is absent. */
minima_status minima_settings_parse(const char *measure, const minima_setting *table, size_t n,
                                    const char *settings, void *values);

/* Writes the JSON object {"key": value, ...} of every setting in table
 * order (numbers by minima_format_double, p as 2 or "inf", ints and bools
 * as integers), then `extra` ("\"method\": \"exact\"", pre-formatted
 * members, or NULL) before the closing brace. Returns the length it
 * needed, as snprintf. */
int minima_settings_json(const minima_setting *table, size_t n, const void *values, const char *extra,
                         char *buf, size_t size);

/* Text of one setting's accepted values ("> 0", "in [1, 100]", "0 or 1",
 * "2 or inf", "an integer >= 1") and of its default ("0.001", "auto"). */
void minima_setting_range_text(const minima_setting *s, char *buf, size_t size);
void minima_setting_default_text(const minima_setting *s, char *buf, size_t size);

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
    const minima_setting *settings;   /* the settings, their defaults and ranges (table) */
    size_t n_settings;
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

/* The defaults as a settings string, "eps=0.001,iters=10" ("auto" where the
 * default depends on other settings); "" for a measure without settings. */
void minima_measure_defaults(const minima_measure *m, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
