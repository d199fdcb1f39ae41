/* minima/report.h — the results of the program's main computations, as the
 * --json output prints them.
 *
 * `minima spectrum`, `minima sharpness` and `minima audit` are thin clients
 * of these functions, and so is the plain-types API (minima/api.h): a
 * request (defaults equal to the command's option defaults), a run that
 * fills a result, and a writer that gives the command's exact --json text
 * (numbers by minima_format_double, null for non-finite values). The same
 * request on the same net gives the same numbers bit for bit, whoever
 * calls; only the "seconds" fields differ between runs.
 *
 * Nothing here prints. A run returns a minima_status with minima_error()'s
 * message; where a result holds something worth printing after a failure
 * (a partial spectrum) the run function says so. */
#ifndef MINIMA_REPORT_H
#define MINIMA_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "minima/audit.h"
#include "minima/density.h"
#include "minima/eigen.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/sharpness.h"
#include "minima/status.h"
#include "minima/symmetry.h"
#include "minima/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the JSON keys "activation", "activation_source" and
 * "layer_order_source" of the model (no comma before or after, no braces)
 * into buf, NUL-terminated. Returns the length written, or -1 when it does
 * not fit (256 bytes always do). */
int minima_model_source_json(const minima_model *model, char *buf, size_t size);

/* ---- spectrum ----------------------------------------------------------- */

/* The stages of a spectrum run, in order, for a caller that reports as it goes. */
typedef enum {
    MINIMA_SPECTRUM_STEP_LOSS = 0,   /* loss, grad_norm, n, model_n_params are set */
    MINIMA_SPECTRUM_STEP_EXACT,      /* exact, rank, levels/count_above are set */
    MINIMA_SPECTRUM_STEP_EIGS,       /* eig is set (also after a failure that keeps the pairs) */
    MINIMA_SPECTRUM_STEP_TRACE,      /* trace is set */
    MINIMA_SPECTRUM_STEP_DENSITY     /* density is set */
} minima_spectrum_step;

struct minima_spectrum_result_s;

/* Precision of a spectrum run's products (docs/spectrum.md). */
typedef enum {
    MINIMA_PRECISION_FLOAT64 = 0, /* every product in float64 */
    MINIMA_PRECISION_MIXED,       /* Lanczos in mixed precision (eigen.h: float32 phase, float64
                                     refinement; float64 residuals), trace and density with
                                     float32 products; the exact spectrum in float64 */
    MINIMA_PRECISION_FLOAT32,     /* Lanczos, trace and density with float32 products (Ritz
                                     residuals of the float32 operator); exact in float64 */
    MINIMA_PRECISION_AUTO         /* the default: Lanczos in float64 (mixed precision is no
                                     faster at tol 1e-8, docs/spectrum.md), trace and density
                                     with float32 products (accurate enough for both) */
} minima_precision;

/* "float64", "mixed", "float32", "auto"; NULL for another value. */
const char *minima_precision_name(minima_precision p);

typedef struct {
    int top;                  /* largest eigenvalues by Lanczos, 0..10000; default 1 */
    int bottom;               /* smallest eigenvalues, 0..10000; default 0 */
    double tol;               /* Lanczos residual tolerance, in (0, 1); default 1e-8 */
    size_t basis;             /* Krylov basis before a restart (0: auto), 0..100000; default 0 */
    size_t max_products;      /* Lanczos stops after this many products, >= 1;
                                 default minima_eigs_default_params().max_products */
    int trace;                /* nonzero: estimate the trace; default 0 */
    const char *trace_method; /* "xtrace", "hutch++", "hutchinson", "exact" or "xnystrace" (PSD
                                 only: with ggn); default "xtrace" (trace.h) */
    double trace_rtol;        /* trace stops when stderr <= rtol |estimate|, in (0, 1); default 1e-2 */
    size_t trace_max;         /* at most this many trace probes, >= 2; default 1000 */
    int density;              /* nonzero: spectral density by SLQ; default 0 */
    size_t slq_steps;         /* Lanczos steps per SLQ draw, 1..100000; default 100 */
    size_t slq_draws;         /* SLQ start vectors, 1..100000; default 1 */
    int exact;                /* nonzero: the whole spectrum from the dense matrix (n <= 20000); default 0 */
    const double *levels;     /* with exact: count eigenvalues above these; default {1, 10, 100} */
    int n_levels;             /* number of levels; default 3 */
    const char *layers;       /* restrict to these layers ("0,2", "4.weight", "#1"); default NULL: all */
    int ggn;                  /* nonzero: the Gauss-Newton matrix instead of the Hessian; default 0 */
    minima_precision precision; /* of the products (above); default MINIMA_PRECISION_AUTO.
                                 A net created with params.float32 has only float32 products:
                                 the run is then float32 whatever this says */
    uint64_t seed;            /* Lanczos start (seed), trace probes (seed+1), SLQ (seed+2); default 0 */
    /* Called after each stage that ran, with the result so far (the command
     * prints its table as it goes); default NULL. */
    void (*on_step)(const struct minima_spectrum_result_s *r, minima_spectrum_step step, void *user);
    void *user;               /* passed to on_step; default NULL */
} minima_spectrum_request;

minima_spectrum_request minima_spectrum_default_request(void);

typedef struct minima_spectrum_result_s {
    /* the model, for the JSON keys "activation", "activation_source", "layer_order_source" */
    minima_activation activation;
    minima_provenance activation_source, order_source;
    size_t n;                 /* dimension of the operator (the selected block with layers) */
    size_t model_n_params;    /* the whole model's parameter count */
    double loss, grad_norm;   /* mean loss and ||gradient|| at the anchor */
    int have_eig;             /* eig holds at least one Ritz pair */
    minima_eigs_result eig;   /* top/bottom Ritz values, residuals, converged, products, ... */
    int have_trace;
    minima_trace_result trace; /* estimate, std_error, samples, method */
    int have_density;
    minima_density_result density; /* grid and values */
    double *exact;            /* (n) eigenvalues ascending with exact, else NULL */
    size_t rank;              /* with exact: eigenvalues with |lambda| > rank_tol */
    double rank_tol;
    int n_levels;             /* with exact: levels[i] and count_above[i], i < n_levels */
    double *levels;
    size_t *count_above;
    size_t n_products;        /* the net's products during the run ("n_hvp") */
    size_t n_products_f32;    /* of those, float32 products ("n_hvp_float32") */
    minima_precision precision; /* what the run used ("precision"): the request's, or
                                   float32 on a float32 net */
    int trace_f32, density_f32; /* the trace / density used float32 products */
    double seconds;           /* wall time of the run */
} minima_spectrum_result;

/* Runs the request on the net at its anchor. MINIMA_OK: everything asked
 * was computed. MINIMA_ENOCONV (Lanczos reached max_products): the result
 * is complete but for convergence ("converged": false), and may be
 * written. MINIMA_EINTERRUPTED (or another failure) while Lanczos ran,
 * with some Ritz pairs: those are in the result (have_eig), which may be
 * written; trace and density are not computed. Any other failure, or one
 * without a Ritz pair: the result is empty. Bad requests: MINIMA_EINVAL naming the
 * field. Free the result with minima_spectrum_result_free in every case. */
minima_status minima_spectrum_run(minima_net *net, const minima_spectrum_request *request,
                                  minima_spectrum_result *out);
/* The command's --json text (with its final newline), allocated with
 * minima_alloc: release it with minima_free. */
minima_status minima_spectrum_json(const minima_spectrum_result *r, char **json);
void minima_spectrum_result_free(minima_spectrum_result *r);

/* ---- sharpness ---------------------------------------------------------- */

struct minima_sharpness_result_s;

typedef struct {
    const char *measures;     /* registry names "a,b,c" or "all"; default "all" */
    const char *const *settings; /* each "NAME:key=value,key=value" (the last for a name wins);
                                    default NULL */
    int n_settings;           /* default 0 */
    int canonical;            /* nonzero: also at the canonical (minimum-norm) point; default 0 */
    uint64_t seed;            /* seed of every random draw; default 0 */
    const char *model_label;  /* the JSON "model" value (the command: the --model path);
                                 default NULL: null */
    const char *data_label;   /* the JSON "data" value; default NULL: null */
    /* Called once the loss (and the canonical point) are known, i = (size_t)-1,
     * then after each measure at the model (canonical_point 0) and at the
     * canonical point (1), with the result so far; default NULL. */
    void (*on_measure)(const struct minima_sharpness_result_s *r, size_t i, int canonical_point, void *user);
    void *user;               /* passed to on_measure; default NULL */
} minima_sharpness_request;

minima_sharpness_request minima_sharpness_default_request(void);

typedef struct {
    const minima_measure *measure;
    minima_invariance invariance;     /* under the settings used */
    const char *settings;             /* the request's settings for it, or NULL */
    minima_status status;             /* MINIMA_OK or why the measure failed */
    minima_measure_result result;     /* value, params, seconds, note, extras */
    char error[256];                  /* the failure's message, or "" */
    minima_status canonical_status;   /* with canonical */
    minima_measure_result canonical;
    char canonical_error[256];
} minima_sharpness_entry;

typedef struct minima_sharpness_result_s {
    minima_activation activation;
    minima_provenance activation_source, order_source;
    char *model_label, *data_label;   /* copies, or NULL */
    size_t n_examples, n_params;
    double loss;
    uint64_t seed;
    int canonical;                    /* canonical_info is filled */
    minima_sym_canonical_info canonical_info;   /* on a graph model from minima_gsym_canonical
                                                   (graph_symmetry.h): n_degenerate counts classes,
                                                   converged is 0 when Newton's method stopped at
                                                   its step limit (its better point is used) */
    size_t n_measures;
    minima_sharpness_entry *measures;
    size_t n_failed;                  /* entries with a failed status (either point) */
    double seconds;
} minima_sharpness_result;

/* Evaluates the measures. A measure that fails is recorded (status, error,
 * note "failed: ...") and the others go on: MINIMA_OK is returned with
 * n_failed > 0. In a list of several, a measure defined for layers that
 * refuses a model that is not an MLP is recorded as not applicable
 * (status MINIMA_EUNSUPPORTED, error, note "not applicable: ...", value
 * NaN) and not counted in n_failed; alone, its refusal is the answer. An unknown measure or setting, a usage error from a
 * measure's settings, an interruption or another failure of the run:
 * that status, and the result is empty. */
minima_status minima_sharpness_run(minima_net *net, const minima_sharpness_request *request,
                                   minima_sharpness_result *out);
minima_status minima_sharpness_json(const minima_sharpness_result *r, char **json);
void minima_sharpness_result_free(minima_sharpness_result *r);

/* ---- audit -------------------------------------------------------------- */

struct minima_audit_report_s;

typedef struct {
    const char *measures;        /* "a,b,c" or "all"; default "all" */
    minima_audit_params params;  /* orbit, tolerances, canonical (minima_audit_default_params();
                                    params.extra_settings: the user's settings) */
    int strict;                  /* recorded in the JSON ("strict"); default 0 */
    const char *model_label;     /* the JSON "model" value; default NULL: null */
    const char *data_label;      /* the JSON "data" value; default NULL: null */
    /* Called once the loss is known, before the orbit is evaluated; default NULL. */
    void (*on_start)(const struct minima_audit_report_s *r, void *user);
    void *user;                  /* passed to on_start; default NULL */
} minima_audit_request;

minima_audit_request minima_audit_default_request(void);

typedef struct minima_audit_report_s {
    minima_activation activation;
    minima_provenance activation_source, order_source;
    char *model_label, *data_label;
    size_t n_examples, n_params;
    double loss;
    minima_audit_params params;  /* as run (its settings pointers are the request's) */
    int strict;
    minima_audit_result audit;   /* points, measures, verdicts */
} minima_audit_report;

/* Runs the audit. On failure other than an interruption the result is
 * empty; on MINIMA_EINTERRUPTED audit may hold what was computed
 * (audit.measures and audit.points not NULL). */
minima_status minima_audit_report_run(minima_net *net, const minima_audit_request *request,
                                      minima_audit_report *out);
minima_status minima_audit_report_json(const minima_audit_report *r, char **json);
void minima_audit_report_free(minima_audit_report *r);

#ifdef __cplusplus
}
#endif
#endif
