/* minima/audit.h — the invariance audit: measures evaluated along a
 * model's rescaling orbit (docs/symmetry.md, docs/audit.md; the point of
 * Dinh et al. 2017 made measurable).
 *
 * For a network at theta (the anchor of a minima_net) the audit builds
 * points of its orbit {A theta} — parameters that compute the same function:
 *
 *   - layer-wise maps T_alpha over several decades: for s in
 *     {-decades, ..., decades} (step decade_step), alpha_1 = 10^s,
 *     alpha_K = 10^-s, every other alpha_k = 1; biases follow
 *     b_k -> (alpha_1...alpha_k) b_k (docs/symmetry.md; paper appendix B). s = 0 is theta
 *     itself, the reference point (point 0);
 *   - neuron_draws random per-neuron maps: every hidden unit scaled by
 *     exp(spread z), z ~ N(0, 1), draw i seeded by seed + 1 + i.
 *
 * That is for a multilayer perceptron (model->is_mlp; minima/symmetry.h).
 * Any other graph (CNNs, residual nets) uses the group of its graph
 * (minima/graph_symmetry.h), whose free channel classes play the hidden
 * units and whose stages play the hidden layers:
 *
 *   - stage-wise maps T_alpha (minima_gsym_stage_u) with alpha_1 = 10^s,
 *     alpha_{S+1} = 10^-s, every other alpha 1, for the same s;
 *   - neuron_draws random per-channel-class points
 *     u = minima_gsym_random_u(g, seed + 1 + i, spread, NULL): every class
 *     scaled by exp(spread z).
 *
 * On an MLP both groups give the same points; the MLP keeps minima/symmetry.h
 * so that its numbers do not depend on the graph code. A graph with no free
 * class (every linear/conv2d channel fixed) has a one-point orbit: refused
 * like a perceptron without hidden layer (MINIMA_EINVAL).
 *
 * Each point is first checked to be observationally equivalent to theta
 * (minima_sym_check_equivalence on the net's data: relative output
 * difference <= equivalence_tol); a point that is not is flagged with its
 * numbers and left out of every statistic. Then every measure is evaluated
 * at every equivalent point (same settings, same seed), and summarised:
 *
 *   v0          the value at theta (point 0)
 *   min, max    over the equivalent points
 *   ratio       max|v| / min|v| when all values are non-zero with one sign,
 *               else NaN (a sign change or a zero: use rel_spread)
 *   rel_spread  max_i |v_i - v0| / |v0| (absolute when v0 = 0, flagged)
 *   verdict     "invariant to 3e-12", "moved by 1.2e+06x", "moved by 4%
 *               (approximately invariant expected)", ...
 *   measured    the measure gave a finite value at every equivalent point
 *               (and, where computed, at the canonical points). If not —
 *               it failed, or returned NaN (e.g. local entropy where
 *               lambda_min < -gamma) — the verdict is "not measured: ..."
 *               with the reason, and it is neither an agreement nor a
 *               disagreement;
 *   agrees      measured, and the behaviour matches the registry's
 *               expectation: EXACT: rel_spread <= invariant_tol; NONE:
 *               rel_spread > moved_tol; APPROX: rel_spread <= approx_tol;
 *               OPEN: always (the verdict says what was measured). A
 *               measured measure that does not agree is a disagreement: a
 *               finding about the measure or the literature, reported, not
 *               a failure of the audit.
 *
 * Canonical values. For every measure not expected to be exactly
 * invariant, the audit also computes, from each equivalent orbit point i,
 * its canonical representative (minima_sym_canonical: the minimum-norm
 * point of the per-neuron orbit; on a graph minima_gsym_canonical, the
 * minimum-norm point of the per-class orbit by Newton's method) and evaluates the measure there (from
 * every point by default; canonical_points limits it to the first ones:
 * theta, the two extreme alphas, the neuron draws, ...). All these
 * points are one point up to rounding, so the values must agree: their
 * relative spread is reported (canonical_rel_spread) and must be
 * <= canonical_tol, else the measure does not agree either. The relative
 * distances between the canonical points themselves are reported per point.
 *
 * Cost: (number of points) x (1 + canonical) evaluations of each measure.
 * Measures take their registry defaults except where `settings` overrides
 * them; minima_audit_default_params() carries a table of cheaper settings
 * for the slow searches (minima_audit_fast_settings), chosen so that an
 * audit of all measures of a 784-128-128-10 network on 2000 examples takes
 * a few minutes on two cores. The settings used are reported per measure.
 *
 * Progress: minima_progress("audit", done, total) per evaluation; the
 * measures report their own. Interruption: MINIMA_EINTERRUPTED, with the
 * result holding what was computed so far (NaN elsewhere) — free it. */
#ifndef MINIMA_AUDIT_H
#define MINIMA_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "minima/net.h"
#include "minima/sharpness.h"
#include "minima/status.h"
#include "minima/symmetry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Settings of one measure for the audit ("k=v,k=v"), overriding the registry defaults. */
typedef struct {
    const char *measure;
    const char *settings;
} minima_audit_setting;

/* The audit's built-in settings for slow measures (a static table). */
const minima_audit_setting *minima_audit_fast_settings(size_t *count);

typedef struct {
    int decades;                /* s = -decades..decades; default 3 (alpha over 12 decades end to end) */
    double decade_step;         /* step of s, in [0.01, 30]; default 1 */
    int neuron_draws;           /* random per-neuron points; default 2 */
    double spread;              /* log-normal spread of their unit scales, >= 0; default 1 */
    uint64_t seed;              /* neuron draws (seed+1+i) and every measure (seed); default 0 */
    double equivalence_tol;     /* relative output difference allowed; default 1e-9 */
    double invariant_tol;       /* "invariant" up to this relative spread; default 1e-6 */
    double moved_tol;           /* "moved" beyond this relative spread; default 1e-2 */
    double approx_tol;          /* APPROX measures agree up to this; default 0.1 */
    double canonical_tol;       /* canonical values must agree to this; default 1e-6 */
    int canonical;              /* evaluate non-invariant measures at the canonical points; default 1 */
    int canonical_points;       /* from at most this many orbit points (the first ones in
                                   order: theta, the extreme alphas, the neuron draws, then
                                   the rest); <= 0: all (default); 4 saves about a third
                                   of an audit's time (the canonical points themselves are
                                   always computed from every point, distances reported) */
    minima_sym_canonical_params canon;   /* default: minima_sym_canonical_default_params();
                                            MLPs only (a graph's Newton method has fixed
                                            settings, graph_symmetry.h) */
    /* Settings overrides, looked up by measure name; the last entry for a
     * name wins. Default: minima_audit_fast_settings(). */
    const minima_audit_setting *settings;
    size_t n_settings;
    /* Further overrides applied after `settings` (e.g. the user's), so a
     * caller can keep the fast table and change one measure. */
    const minima_audit_setting *extra_settings;
    size_t n_extra_settings;
} minima_audit_params;

minima_audit_params minima_audit_default_params(void);

typedef enum {
    MINIMA_AUDIT_POINT_LAYER = 0,   /* T_alpha with alpha_1 = 10^s, alpha_K = 10^-s (s = 0: theta);
                                       on a graph the stage-wise map, alpha_{S+1} = 10^-s */
    MINIMA_AUDIT_POINT_NEURON       /* random per-neuron scales; on a graph per channel class */
} minima_audit_point_kind;

typedef struct {
    minima_audit_point_kind kind;
    double log10_alpha;         /* s (layer points); 0 for neuron points */
    uint64_t seed;              /* neuron points: the draw's seed */
    double spread;              /* neuron points: the spread */
    double norm;                /* ||A theta||_2 */
    minima_sym_equivalence equivalence;   /* outputs at A theta vs at theta */
    int equivalent;             /* equivalence.rel_diff <= equivalence_tol */
    double canonical_distance;  /* ||c(A theta) - c(theta)|| / ||c(theta)||, c = canonical
                                   representative; NaN if not computed */
} minima_audit_point;

typedef struct {
    const minima_measure *measure;
    minima_invariance expected;
    char params[512];           /* settings used (JSON object, from the first evaluation) */
    char settings[256];         /* the settings string passed ("" = registry defaults) */
    char note[256];             /* the first caveat the measure attached to a value, or "" */
    double *values;             /* (n_points) NaN where skipped or failed */
    double *seconds;            /* (n_points) */
    double *canonical;          /* (n_points) values at the canonical points, NaN where not computed;
                                   NULL when the measure is expected invariant or canonical is off */
    double v0, min, max, ratio, rel_spread;
    int spread_absolute;        /* v0 = 0: rel_spread is absolute */
    size_t n_values;            /* finite values that entered the statistics */
    double canonical_value;     /* at the canonical point of theta */
    double canonical_rel_spread;/* max_i |c_i - c_0| / |c_0| (NaN if not computed) */
    size_t n_canonical;
    int measured;               /* finite values at every equivalent (and canonical) point */
    size_t n_missing;           /* equivalent points without a finite value */
    int agrees;                 /* measured and as expected */
    char verdict[320];
    minima_status status;       /* first failure at any point (MINIMA_OK if none) */
    char error[256];            /* its message */
    double seconds_total;
} minima_audit_measure;

typedef struct {
    size_t n_points;
    minima_audit_point *points;       /* (n_points) point 0 is theta */
    size_t n_measures;
    minima_audit_measure *measures;   /* (n_measures) */
    int graph;                        /* the orbit is the group of a graph (graph_symmetry.h):
                                         stage-wise maps and per-class draws; 0 for an MLP */
    size_t n_stages;                  /* stages (an MLP: K - 1 hidden layers) */
    size_t n_classes;                 /* free classes (an MLP: its hidden units) */
    size_t n_not_equivalent;          /* points flagged and left out */
    char canonical_error[256];        /* why no canonical values were computed (the canonical
                                         representative does not exist, e.g. a layer of zero
                                         weights; on a graph also: Newton's method did not
                                         converge, or too many classes), or "" */
    int all_agree;                    /* every measure measured and agrees, and no point was flagged */
    size_t n_disagree;                /* measures measured whose verdict contradicts the expectation */
    size_t n_not_measured;            /* measures not measured (failed or NaN somewhere) */
    double seconds;
} minima_audit_result;

/* Audits the named measures (names: n_names registry names; NULL or
 * n_names = 0: the whole registry) at the anchor of `net` and along its
 * orbit. The net's model gives the architecture (its theta is not used);
 * the anchor is where it was on return. Unknown measure name or bad params:
 * MINIMA_EINVAL. A measure failing at a point records NaN, its status and
 * message, and the audit goes on (it does not agree); a usage error from a
 * measure's settings (MINIMA_EINVAL at point 0) is returned at once. */
minima_status minima_audit_run(minima_net *net, const char *const *names, size_t n_names,
                               const minima_audit_params *params, minima_audit_result *out);
void minima_audit_result_free(minima_audit_result *r);

/* Draws the audit to path (.png, .svg, .pdf): an overview of every
 * measure's value relative to theta's against alpha, then one panel per
 * measure on log axes (layer-wise points as a line, per-neuron draws at
 * alpha = 1, the canonical value dashed). `name` (e.g. the model file)
 * goes into the title; NULL for none. */
minima_status minima_audit_plot(const char *path, const minima_audit_result *r, const char *name);

/* The settings string the audit passes to measure `name` under params
 * (NULL: the registry's defaults). */
const char *minima_audit_settings_for(const minima_audit_params *params, const char *name);

/* Writes the verdict text and agreement for a summary (used by
 * minima_audit_run; exposed for tests and for callers that rebuild a
 * summary). */
void minima_audit_summarize(minima_audit_measure *m, const minima_audit_result *r,
                            const minima_audit_params *params);

#ifdef __cplusplus
}
#endif
#endif
