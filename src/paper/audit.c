/* audit.c — the invariance audit (audit.h): measures along a model's
 * rescaling orbit, with an observational-equivalence check of every point
 * and the values at the canonical representative. */
#include "minima/audit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "minima/alloc.h"
#include "minima/graph_symmetry.h"

/* Cheaper settings for the searches that dominate an audit's time. They
 * change the numbers a measure reports (fewer steps, draws or batches),
 * not what a rescaling does to them; each is reported with its value. */
static const minima_audit_setting fast_settings[] = {
    {"dinh_sharpness", "steps=10,starts=1,second_order=0"},
    {"keskar_subspace", "dim=20"},
    {"hessian_max", "tol=1e-4"},
    {"hessian_trace", "rtol=0.1,min_samples=6,max_samples=16,sketch=6"},
    {"pac_bayes", "depth=16,draws=2"},
    {"pac_bayes_mag", "depth=16,draws=2"},
    {"worst_sharpness", "steps=10,n=256"},
    {"average_sharpness", "draws=5,n=256"},
    {"fms_penalty", "max_examples=200"},
    {"hessian_count", "threshold=10,k=5,tol=1e-3"},
    /* the Hessian's quadratic value is undefined (NaN) wherever lambda_min < -gamma,
     * which a trained net's Hessian usually has: the Gauss-Newton form is defined */
    {"local_entropy", "ggn=1,slq_draws=1,slq_steps=15,steps=5"},
};

const minima_audit_setting *minima_audit_fast_settings(size_t *count)
{
    if (count) *count = sizeof fast_settings / sizeof *fast_settings;
    return fast_settings;
}

minima_audit_params minima_audit_default_params(void)
{
    minima_audit_params p;
    memset(&p, 0, sizeof p);
    p.decades = 3;
    p.decade_step = 1;
    p.neuron_draws = 2;
    p.spread = 1;
    p.seed = 0;
    p.equivalence_tol = 1e-9;
    p.invariant_tol = 1e-6;
    p.moved_tol = 1e-2;
    p.approx_tol = 0.1;
    p.canonical_tol = 1e-6;
    p.canonical = 1;
    p.canonical_points = 0;
    p.canon = minima_sym_canonical_default_params();
    p.settings = minima_audit_fast_settings(&p.n_settings);
    return p;
}

const char *minima_audit_settings_for(const minima_audit_params *params, const char *name)
{
    const char *found = NULL;
    for (size_t i = 0; params && i < params->n_settings; i++)
        if (params->settings[i].measure && !strcmp(params->settings[i].measure, name))
            found = params->settings[i].settings;
    for (size_t i = 0; params && i < params->n_extra_settings; i++)
        if (params->extra_settings[i].measure && !strcmp(params->extra_settings[i].measure, name))
            found = params->extra_settings[i].settings;
    return found;
}

void minima_audit_result_free(minima_audit_result *r)
{
    if (!r) return;
    for (size_t i = 0; r->measures && i < r->n_measures; i++) {
        minima_free(r->measures[i].values);
        minima_free(r->measures[i].seconds);
        minima_free(r->measures[i].canonical);
    }
    minima_free(r->measures);
    minima_free(r->points);
    memset(r, 0, sizeof *r);
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* "3e-12", "4%", "1.2e+06x": short magnitudes for verdicts. */
static void format_move(char *buf, size_t size, double rel, double ratio)
{
    if (isfinite(ratio) && ratio >= 2) snprintf(buf, size, "moved by %.2gx", ratio);
    else if (isfinite(ratio) || rel < 1) snprintf(buf, size, "moved by %.2g%%", 100 * rel);
    else snprintf(buf, size, "moved by %.2g (relative; values change sign or reach 0)", rel);
}

void minima_audit_summarize(minima_audit_measure *m, const minima_audit_result *r,
                            const minima_audit_params *p)
{
    size_t n = r->n_points;
    m->v0 = m->values[0];
    m->min = INFINITY;
    m->max = -INFINITY;
    m->n_values = 0;
    m->n_missing = 0;
    double amin = INFINITY, amax = 0, dmax = 0;
    int pos = 0, neg = 0, zero = 0;
    for (size_t i = 0; i < n; i++) {
        double v = m->values[i];
        if (!r->points[i].equivalent) continue;
        if (!isfinite(v)) { m->n_missing++; continue; }
        m->n_values++;
        if (v < m->min) m->min = v;
        if (v > m->max) m->max = v;
        pos += v > 0;
        neg += v < 0;
        zero += v == 0;
        if (fabs(v) < amin) amin = fabs(v);
        if (fabs(v) > amax) amax = fabs(v);
        if (isfinite(m->v0) && fabs(v - m->v0) > dmax) dmax = fabs(v - m->v0);
    }
    if (m->n_values == 0) {
        m->min = m->max = m->ratio = m->rel_spread = NAN;
    } else {
        m->ratio = (!zero && (!pos || !neg)) ? amax / amin : NAN;
        m->spread_absolute = m->v0 == 0;
        m->rel_spread = !isfinite(m->v0) ? NAN : m->v0 == 0 ? dmax : dmax / fabs(m->v0);
    }
    /* the canonical values */
    m->canonical_value = NAN;
    m->canonical_rel_spread = NAN;
    m->n_canonical = 0;
    if (m->canonical) {
        double c0 = m->canonical[0], cmax = 0;
        m->canonical_value = c0;
        for (size_t i = 0; i < n; i++) {
            double c = m->canonical[i];
            if (!r->points[i].equivalent || !isfinite(c)) continue;   /* NaN also where not computed */
            m->n_canonical++;
            if (isfinite(c0) && fabs(c - c0) > cmax) cmax = fabs(c - c0);
        }
        if (m->n_canonical > 0 && isfinite(c0)) m->canonical_rel_spread = c0 == 0 ? cmax : cmax / fabs(c0);
    }
    /* verdict */
    char what[96];
    double rel = m->rel_spread;
    const char *abs_note = m->spread_absolute ? " (absolute: value 0 at theta)" : "";
    m->measured = m->status == MINIMA_OK && m->n_missing == 0 && m->n_values >= 2 && isfinite(rel) &&
                  !(m->canonical && m->n_canonical > 0 && !isfinite(m->canonical_rel_spread));
    if (!m->measured) {
        /* not a disagreement: say why there is nothing to compare */
        m->agrees = 0;
        char why[240];
        size_t n_eq = m->n_values + m->n_missing;
        if (m->status != MINIMA_OK)
            snprintf(why, sizeof why, "failed at %zu of %zu points: %.160s", m->n_missing, n_eq,
                     m->error[0] ? m->error : minima_strerror(m->status));
        else if (m->n_missing)
            snprintf(why, sizeof why, "no finite value at %zu of %zu points%s%.160s", m->n_missing, n_eq,
                     m->note[0] ? ": " : "", m->note);
        else if (m->n_values < 2)
            snprintf(why, sizeof why, "%zu finite value%s, at least 2 needed", m->n_values,
                     m->n_values == 1 ? "" : "s");
        else if (!isfinite(rel))
            snprintf(why, sizeof why, "no finite value at theta");
        else
            snprintf(why, sizeof why, "no finite value at the canonical point of theta");
        snprintf(m->verdict, sizeof m->verdict, "not measured: %s", why);
        return;
    }
    if (rel <= p->invariant_tol) {
        if (rel == 0) snprintf(what, sizeof what, "invariant (identical values)");
        else snprintf(what, sizeof what, "invariant to %.1g%s", rel, abs_note);
    } else {
        format_move(what, sizeof what, rel, m->ratio);
    }
    const char *expect = "";
    switch (m->expected) {
    case MINIMA_INVARIANCE_EXACT:
        m->agrees = rel <= p->invariant_tol;
        if (!m->agrees) expect = " (invariance expected)";
        break;
    case MINIMA_INVARIANCE_NONE:
        m->agrees = rel > p->moved_tol;
        if (!m->agrees) expect = " (expected to move)";
        break;
    case MINIMA_INVARIANCE_APPROX:
        m->agrees = rel <= p->approx_tol;
        if (rel > p->invariant_tol) expect = " (approximately invariant expected)";
        break;
    case MINIMA_INVARIANCE_OPEN:
        m->agrees = 1;
        expect = " (open question)";
        break;
    }
    const char *canon = "";
    if (m->canonical && isfinite(m->canonical_rel_spread) && m->canonical_rel_spread > p->canonical_tol) {
        m->agrees = 0;
        canon = " [canonical values differ]";
    }
    snprintf(m->verdict, sizeof m->verdict, "%s%s%s", what, expect, canon);
}

static minima_status check_params(const minima_audit_params *p)
{
    if (p->decades < 0 || p->decades > 30)
        MINIMA_FAIL(MINIMA_EINVAL, "audit: decades = %d, expected 0..30", p->decades);
    /* [0.01, 30]: decades / decade_step (at most 3000) becomes an int */
    if (!(p->decade_step >= 0.01 && p->decade_step <= 30))
        MINIMA_FAIL(MINIMA_EINVAL, "audit: decade_step = %g, expected in [0.01, 30]", p->decade_step);
    if (p->neuron_draws < 0 || p->neuron_draws > 1000)
        MINIMA_FAIL(MINIMA_EINVAL, "audit: neuron_draws = %d, expected 0..1000", p->neuron_draws);
    if (!(p->spread >= 0 && p->spread <= 20))
        MINIMA_FAIL(MINIMA_EINVAL, "audit: spread = %g, expected in [0, 20]", p->spread);
    if (!(p->equivalence_tol >= 0) || !(p->invariant_tol >= 0) || !(p->moved_tol >= 0) ||
        !(p->approx_tol >= 0) || !(p->canonical_tol >= 0))
        MINIMA_FAIL(MINIMA_EINVAL, "audit: tolerances must be >= 0 (equivalence %g, invariant %g, "
                    "moved %g, approx %g, canonical %g)", p->equivalence_tol, p->invariant_tol,
                    p->moved_tol, p->approx_tol, p->canonical_tol);
    return MINIMA_OK;
}

/* Orbit points in evaluation order: theta, the two extreme alphas, the
 * neuron draws, then the other alphas (so canonical_points = 3 or 4 keeps
 * the most telling ones). Display order is by the caller (kind, s). */
static minima_status build_points(const minima_audit_params *p, minima_audit_result *r)
{
    int n_s = (int)floor(p->decades / p->decade_step + 1e-9);
    size_t n = 1 + 2 * (size_t)n_s + (size_t)p->neuron_draws;
    r->points = minima_calloc(n, sizeof *r->points);
    if (!r->points) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory for %zu orbit points", n);
    r->n_points = n;
    size_t k = 0;
    r->points[k++].kind = MINIMA_AUDIT_POINT_LAYER;   /* theta, s = 0 */
    if (n_s > 0) {
        r->points[k].kind = MINIMA_AUDIT_POINT_LAYER;
        r->points[k++].log10_alpha = -n_s * p->decade_step;
        r->points[k].kind = MINIMA_AUDIT_POINT_LAYER;
        r->points[k++].log10_alpha = n_s * p->decade_step;
    }
    for (int i = 0; i < p->neuron_draws; i++) {
        r->points[k].kind = MINIMA_AUDIT_POINT_NEURON;
        r->points[k].seed = p->seed + 1 + (uint64_t)i;
        r->points[k++].spread = p->spread;
    }
    for (int j = 1; j < n_s; j++) {
        r->points[k].kind = MINIMA_AUDIT_POINT_LAYER;
        r->points[k++].log10_alpha = -j * p->decade_step;
        r->points[k].kind = MINIMA_AUDIT_POINT_LAYER;
        r->points[k++].log10_alpha = j * p->decade_step;
    }
    MINIMA_ASSERT(k == n);
    for (size_t i = 0; i < n; i++) r->points[i].canonical_distance = NAN;
    return MINIMA_OK;
}

/* The unit scales of orbit point pt. */
static minima_status point_scales(const minima_model *model, const minima_audit_point *pt,
                                  double *alpha /* (K) */, double *scales /* (n_units) */)
{
    int K = model->n_layers;
    if (pt->kind == MINIMA_AUDIT_POINT_NEURON)
        return minima_sym_random_scales(model, pt->seed, pt->spread, NULL, scales);
    for (int k = 0; k < K; k++) alpha[k] = 1;
    if (K >= 2) {
        alpha[0] = pow(10, pt->log10_alpha);
        alpha[K - 1] = pow(10, -pt->log10_alpha);
    }
    return minima_sym_layer_scales(model, alpha, K, 1, 1e-12, scales, NULL);
}

/* The log-factors of orbit point pt in the group of a graph: the
 * stage-wise map with alpha_1 = 10^s, alpha_{S+1} = 10^-s (every other
 * alpha 1), or a random point u = spread z (graph_symmetry.h). */
static minima_status point_u(const minima_gsym *g, const minima_audit_point *pt,
                             double *alpha /* (n_stages + 1) */, double *u /* (n_classes) */)
{
    if (pt->kind == MINIMA_AUDIT_POINT_NEURON) return minima_gsym_random_u(g, pt->seed, pt->spread, NULL, u);
    int S = g->n_stages;
    for (int k = 0; k <= S; k++) alpha[k] = 1;
    alpha[0] = pow(10, pt->log10_alpha);
    alpha[S] = pow(10, -pt->log10_alpha);   /* S >= 1: the graph has a free class */
    return minima_gsym_stage_u(g, alpha, S + 1, 1, 1e-12, u, NULL);
}

static double dist_rel(const double *a, const double *b, size_t n)
{
    double d = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        nb += b[i] * b[i];
    }
    return nb > 0 ? sqrt(d / nb) : sqrt(d);
}

/* Evaluates measure m at the net's current anchor into (*value, *secs);
 * records the first failure in the summary. Returns non-OK only for what
 * must stop the audit (interruption, out of memory, a settings error). */
static minima_status evaluate(minima_net *net, minima_audit_measure *am, const char *settings,
                              uint64_t seed, int first, double *value, double *secs)
{
    minima_measure_result res;
    minima_status st = minima_measure_compute(am->measure, net, settings, seed, &res);
    *secs = res.seconds;
    am->seconds_total += res.seconds;
    if (!am->note[0] && res.note[0]) snprintf(am->note, sizeof am->note, "%s", res.note);
    if (st == MINIMA_OK) {
        *value = res.value;
        if (first && !am->params[0]) snprintf(am->params, sizeof am->params, "%s", res.params);
        return MINIMA_OK;
    }
    *value = NAN;
    if (st == MINIMA_EINTERRUPTED || st == MINIMA_ENOMEM || (first && st == MINIMA_EINVAL)) return st;
    if (am->status == MINIMA_OK) {
        am->status = st;
        snprintf(am->error, sizeof am->error, "%s", minima_last_error());
    }
    return MINIMA_OK;
}

minima_status minima_audit_run(minima_net *net, const char *const *names, size_t n_names,
                               const minima_audit_params *params, minima_audit_result *out)
{
    if (!net || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_audit_run: NULL argument");
    memset(out, 0, sizeof *out);
    minima_audit_params p = params ? *params : minima_audit_default_params();
    MINIMA_TRY(check_params(&p));
    double t_start = now_seconds();
    size_t n_reg;
    const minima_measure *reg = minima_measures(&n_reg);
    size_t n_meas = (names && n_names) ? n_names : n_reg;
    for (size_t j = 0; names && j < n_names; j++)
        if (!minima_measure_find(names[j])) {
            size_t len = 0;
            char list[1024] = "";
            for (size_t i = 0; i < n_reg && len < sizeof list; i++)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", reg[i].name);
            MINIMA_FAIL(MINIMA_EINVAL, "audit: unknown measure '%s'; the registry has %s",
                        names[j] ? names[j] : "(null)", list);
        }

    const minima_model *arch = minima_net_model(net);
    const minima_dataset *data = minima_net_data(net);
    size_t P = minima_net_n_params(net);
    /* A multilayer perceptron keeps its own group (minima/symmetry.h: layers
     * and hidden units, the audit's original numbers); any other graph uses
     * the group of its graph (minima/graph_symmetry.h: stages and channel
     * classes). For an MLP the two are the same group. */
    minima_gsym *g = NULL;
    size_t nu = 0;
    int K = 0;
    if (arch->is_mlp) {
        nu = minima_sym_n_units(arch);
        K = arch->n_layers;
        if (K < 2)
            MINIMA_FAIL(MINIMA_EINVAL, "audit: the network has %d layer%s and no hidden unit: its rescaling "
                        "orbit is the single point theta, there is nothing to audit", K, K == 1 ? "" : "s");
        out->n_stages = K - 1;
        out->n_classes = nu;
    } else {
        MINIMA_TRY(minima_gsym_create(arch, &g));
        if (g->n_classes == 0) {
            minima_gsym_free(g);
            MINIMA_FAIL(MINIMA_EINVAL, "audit: the graph has no free channel class (every channel of "
                        "its linear/conv2d nodes is fixed: the output node, or read by tanh): its "
                        "rescaling orbit is the single point theta, there is nothing to audit");
        }
        out->graph = 1;
        out->n_stages = (size_t)g->n_stages;
        out->n_classes = (size_t)g->n_classes;
        nu = (size_t)g->n_classes;          /* the log-factors u */
        K = g->n_stages + 1;                /* the stage factors alpha */
    }
    minima_status st = MINIMA_OK;
    minima_model *ref = NULL, *moved = NULL;
    double *theta0 = NULL, *scales = NULL, *alpha = NULL, *cscales = NULL;
    int anchor_saved = 0;       /* theta0 holds the anchor (restored on the way out) */
    double *points = NULL;   /* (n_points, P) the orbit points */
    double *cpoints = NULL;  /* (n_points, P) their canonical representatives, or NULL */
    int want_canonical = 0;

    if ((st = build_points(&p, out)) != MINIMA_OK) goto fail;
    size_t np = out->n_points;
    out->measures = minima_calloc(n_meas, sizeof *out->measures);
    if (!out->measures) { st = minima_error(MINIMA_ENOMEM, "out of memory"); goto fail; }
    out->n_measures = n_meas;
    for (size_t j = 0; j < n_meas; j++) {
        minima_audit_measure *am = &out->measures[j];
        am->measure = (names && n_names) ? minima_measure_find(names[j]) : &reg[j];
        const char *set = minima_audit_settings_for(&p, am->measure->name);
        snprintf(am->settings, sizeof am->settings, "%s", set ? set : "");
        am->expected = minima_measure_invariance(am->measure, set);
        am->values = minima_alloc(np, sizeof *am->values);
        am->seconds = minima_calloc(np, sizeof *am->seconds);
        if (!am->values || !am->seconds) { st = minima_error(MINIMA_ENOMEM, "out of memory"); goto fail; }
        for (size_t i = 0; i < np; i++) am->values[i] = NAN;
        if (p.canonical && am->expected != MINIMA_INVARIANCE_EXACT) {
            am->canonical = minima_alloc(np, sizeof *am->canonical);
            if (!am->canonical) { st = minima_error(MINIMA_ENOMEM, "out of memory"); goto fail; }
            for (size_t i = 0; i < np; i++) am->canonical[i] = NAN;
            want_canonical = 1;
        }
    }

    theta0 = minima_alloc(P, sizeof *theta0);
    scales = minima_alloc(nu ? nu : 1, sizeof *scales);
    cscales = minima_alloc(nu ? nu : 1, sizeof *cscales);
    alpha = minima_alloc((size_t)K, sizeof *alpha);
    points = minima_alloc(np * P, sizeof *points);
    if (!theta0 || !scales || !cscales || !alpha || !points) {
        st = minima_error(MINIMA_ENOMEM, "out of memory for %zu orbit points of %zu parameters", np, P);
        goto fail;
    }
    if (want_canonical && !(cpoints = minima_alloc(np * P, sizeof *cpoints))) {
        st = minima_error(MINIMA_ENOMEM, "out of memory for %zu canonical points of %zu parameters", np, P);
        goto fail;
    }
    memcpy(theta0, minima_net_point(net), P * sizeof *theta0);
    anchor_saved = 1;
    if ((st = minima_model_copy(arch, &ref)) != MINIMA_OK) goto fail;
    if ((st = minima_model_copy(arch, &moved)) != MINIMA_OK) goto fail;
    memcpy(ref->theta, theta0, P * sizeof *theta0);

    /* the points, their equivalence with theta, their canonical points */
    for (size_t i = 0; i < np; i++) {
        minima_audit_point *pt = &out->points[i];
        double *x = points + i * P;
        if (g) {
            /* scales holds the log-factors u */
            if ((st = point_u(g, pt, alpha, scales)) != MINIMA_OK) goto fail;
            if ((st = minima_gsym_apply(g, arch, scales, theta0, x)) != MINIMA_OK) goto fail;
        } else {
            if ((st = point_scales(arch, pt, alpha, scales)) != MINIMA_OK) goto fail;
            minima_sym_apply(arch, scales, theta0, x);
        }
        double nrm = 0;
        for (size_t q = 0; q < P; q++) nrm += x[q] * x[q];
        pt->norm = sqrt(nrm);
        memcpy(moved->theta, x, P * sizeof *x);
        if ((st = minima_sym_check_equivalence(ref, moved, data, &pt->equivalence)) != MINIMA_OK) goto fail;
        pt->equivalent = i == 0 || pt->equivalence.rel_diff <= p.equivalence_tol;
        if (!pt->equivalent) out->n_not_equivalent++;
        if (cpoints) {
            double *c = cpoints + i * P;
            if (g) st = minima_gsym_canonical(g, arch, x, cscales, c, NULL);
            else st = minima_sym_canonical(arch, x, &p.canon, cscales, NULL);
            if (st == MINIMA_EINTERRUPTED || st == MINIMA_ENOMEM) goto fail;
            if (st != MINIMA_OK) {
                /* no canonical representative: audit without canonical values */
                snprintf(out->canonical_error, sizeof out->canonical_error, "%s", minima_last_error());
                minima_free(cpoints);
                cpoints = NULL;
                for (size_t j = 0; j < n_meas; j++) {
                    minima_free(out->measures[j].canonical);
                    out->measures[j].canonical = NULL;
                }
                for (size_t q = 0; q < np; q++) out->points[q].canonical_distance = NAN;
                st = MINIMA_OK;
                continue;
            }
            if (!g) minima_sym_apply(arch, cscales, x, c);
            pt->canonical_distance = dist_rel(c, cpoints, P);
        }
    }

    /* evaluations: point by point, so measures share the net's cache */
    size_t n_canon_pts = (p.canonical_points > 0 && (size_t)p.canonical_points < np) ? (size_t)p.canonical_points : np;
    double total = 0, done = 0;
    for (size_t j = 0; j < n_meas; j++) {
        for (size_t i = 0; i < np; i++) total += out->points[i].equivalent;
        if (out->measures[j].canonical)
            for (size_t i = 0; i < n_canon_pts; i++) total += out->points[i].equivalent;
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && !cpoints) break;
        for (size_t i = 0; i < np; i++) {
            if (!out->points[i].equivalent) continue;
            if (pass == 1 && i >= n_canon_pts) break;
            if ((st = minima_net_set_point(net, (pass ? cpoints : points) + i * P)) != MINIMA_OK) goto fail;
            for (size_t j = 0; j < n_meas; j++) {
                minima_audit_measure *am = &out->measures[j];
                if (pass == 1 && !am->canonical) continue;
                if (minima_interrupted()) { st = minima_error(MINIMA_EINTERRUPTED, "audit interrupted"); goto fail; }
                const char *set = am->settings[0] ? am->settings : NULL;
                double v, secs;
                st = evaluate(net, am, set, p.seed, pass == 0 && i == 0, &v, &secs);
                if (st != MINIMA_OK) goto fail;
                if (pass == 0) {
                    am->values[i] = v;
                    am->seconds[i] = secs;
                } else {
                    am->canonical[i] = v;
                }
                minima_progress("audit", ++done, total);
            }
        }
    }
    for (size_t j = 0; j < n_meas; j++) minima_audit_summarize(&out->measures[j], out, &p);
    out->all_agree = out->n_not_equivalent == 0;
    for (size_t j = 0; j < n_meas; j++) {
        const minima_audit_measure *am = &out->measures[j];
        out->all_agree &= am->agrees;
        out->n_disagree += am->measured && !am->agrees;
        out->n_not_measured += !am->measured;
    }
    st = MINIMA_OK;
fail:
    if (anchor_saved && minima_net_point(net) && memcmp(theta0, minima_net_point(net), P * sizeof *theta0)) {
        minima_status st2 = minima_net_set_point(net, theta0);
        if (st == MINIMA_OK) st = st2;
    }
    if (st != MINIMA_OK && out->measures) {
        /* partial results stay readable (NaN where not computed) */
        for (size_t j = 0; j < out->n_measures; j++)
            if (out->measures[j].values && out->points) minima_audit_summarize(&out->measures[j], out, &p);
        out->all_agree = 0;
    }
    out->seconds = now_seconds() - t_start;
    minima_model_free(ref);
    minima_model_free(moved);
    minima_free(theta0);
    minima_free(scales);
    minima_free(cscales);
    minima_free(alpha);
    minima_free(points);
    minima_free(cpoints);
    minima_gsym_free(g);
    return st;
}
