/* test_audit.c — the invariance audit: expected-invariant measures stay put
 * along the orbit, the others move, the Hessian trace moves exactly as
 * docs/symmetry.md predicts, canonical values agree, non-equivalent points (tanh)
 * are flagged, verdicts handle signs and zeros. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/audit.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/rng.h"
#include "minima/symmetry.h"

static minima_dataset make_data(size_t n, int d, int classes, uint64_t seed)
{
    minima_dataset ds;
    memset(&ds, 0, sizeof ds);
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    ds.n = n;
    ds.d = d;
    ds.x = malloc(n * (size_t)d * sizeof *ds.x);
    ds.labels = malloc(n * sizeof *ds.labels);
    ds.n_classes = classes;
    minima_rng_fill_normal(&rng, ds.x, n * (size_t)d);
    for (size_t i = 0; i < n; i++) ds.labels[i] = (int32_t)minima_rng_below(&rng, (uint64_t)classes);
    ds.name = "test data";
    return ds;
}

static void free_data(minima_dataset *ds)
{
    free(ds->x);
    free(ds->labels);
}

static minima_model *make_model(const char *arch, int bias, minima_activation act, uint64_t seed)
{
    int *w, K;
    minima_model *m = NULL;
    if (minima_parse_arch(arch, &w, &K) != MINIMA_OK) return NULL;
    if (minima_model_create(&m, K, w, bias, act) == MINIMA_OK) minima_model_init(m, seed);
    minima_free(w);
    return m;
}

static const minima_audit_measure *find(const minima_audit_result *r, const char *name)
{
    for (size_t j = 0; j < r->n_measures; j++)
        if (!strcmp(r->measures[j].measure->name, name)) return &r->measures[j];
    return NULL;
}

/* Cheap registry measures: four expected invariant, two not. */
static const char *const cheap[] = {"path_norm", "fisher_rao", "relative_flatness",
                                    "normalized_sharpness", "hessian_trace", "hessian_max"};

static void audit_cheap(int bias)
{
    minima_model *m = make_model("5-6-4-3", bias, MINIMA_ACT_RELU, 11);
    minima_dataset ds = make_data(40, 5, 3, 2);
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, &ds, NULL));
    minima_audit_params p = minima_audit_default_params();
    p.decades = 2;
    p.neuron_draws = 2;
    p.canonical_points = 0;   /* canonical values from every point */
    minima_audit_result r;
    CHECK_OK(minima_audit_run(net, cheap, 6, &p, &r));
    CHECK(r.n_points == 1 + 4 + 2);
    CHECK(r.n_not_equivalent == 0);
    for (size_t i = 0; i < r.n_points; i++) {
        CHECK_MSG(r.points[i].equivalent && r.points[i].equivalence.rel_diff < 1e-12,
                  "point %zu: output difference %.3g", i, r.points[i].equivalence.rel_diff);
        /* every canonical point is the canonical point of theta */
        CHECK_MSG(r.points[i].canonical_distance < 1e-10, "point %zu: canonical distance %.3g", i,
                  r.points[i].canonical_distance);
    }
    for (size_t j = 0; j < r.n_measures; j++) {
        const minima_audit_measure *am = &r.measures[j];
        CHECK(am->n_values == r.n_points);
        CHECK_MSG(am->agrees, "%s: verdict '%s' disagrees (%s)", am->measure->name, am->verdict, am->error);
        if (am->expected == MINIMA_INVARIANCE_EXACT) {
            CHECK_MSG(am->rel_spread < 1e-9, "%s (bias %d): spread %.3g along the orbit", am->measure->name,
                      bias, am->rel_spread);
            CHECK(am->canonical == NULL);
            CHECK(strncmp(am->verdict, "invariant", 9) == 0);
        } else {
            /* alpha_1 = 10^2 on the first layer: the Hessian's weight block scales by 1e-4, the last by 1e4 */
            CHECK_MSG(am->ratio > 100, "%s: ratio %.3g", am->measure->name, am->ratio);
            CHECK(strncmp(am->verdict, "moved by", 8) == 0);
            CHECK(am->canonical != NULL);
            CHECK(am->n_canonical == r.n_points);
            CHECK_MSG(am->canonical_rel_spread < 1e-8, "%s: canonical values spread %.3g", am->measure->name,
                      am->canonical_rel_spread);
        }
    }
    CHECK(r.all_agree);
    /* the anchor is where it was */
    CHECK(memcmp(minima_net_point(net), m->theta, m->n_params * sizeof *m->theta) == 0);
    /* point 0's values are the measures at theta */
    const minima_audit_measure *pn = find(&r, "path_norm");
    minima_measure_result res;
    CHECK_OK(minima_measure_compute(minima_measure_find("path_norm"), net, NULL, 0, &res));
    CHECK(pn && pn->values[0] == res.value);
    minima_audit_result_free(&r);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

static void test_invariant_and_moving(void)
{
    audit_cheap(0);
    audit_cheap(1);
}

/* Bias-free layer-wise map: hess L(A theta) = A^-1 H A^-1, so
 * Tr = sum_k Tr(H_kk) / alpha_k^2 with H_kk the diagonal block of layer k. */
static void test_trace_prediction(void)
{
    minima_model *m = make_model("4-5-5-3", 0, MINIMA_ACT_RELU, 5);
    minima_dataset ds = make_data(30, 4, 3, 7);
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, &ds, NULL));
    size_t P = m->n_params;
    int K = m->n_layers;
    double *H = minima_alloc(P * P, sizeof *H);
    CHECK_OK(minima_net_hessian(net, H));
    double tr[8] = {0};
    for (int k = 0; k < K; k++) {
        size_t off = m->weight_offset[k], nk = minima_model_layer_weights(m, k);
        for (size_t q = off; q < off + nk; q++) tr[k] += H[q * P + q];
    }
    minima_audit_params p = minima_audit_default_params();
    p.decades = 3;
    p.neuron_draws = 0;
    const char *names[] = {"hessian_trace"};
    minima_audit_result r;
    CHECK_OK(minima_audit_run(net, names, 1, &p, &r));
    CHECK(r.n_points == 7);
    const minima_audit_measure *am = &r.measures[0];
    double pmin = INFINITY, pmax = 0;
    for (size_t i = 0; i < r.n_points; i++) {
        double s = r.points[i].log10_alpha;
        double a1 = pow(10, s), aK = pow(10, -s);
        double pred = tr[0] / (a1 * a1) + tr[K - 1] / (aK * aK);
        for (int k = 1; k < K - 1; k++) pred += tr[k];
        CHECK_REL(am->values[i], pred, 1e-9);
        pmin = fmin(pmin, pred);
        pmax = fmax(pmax, pred);
    }
    CHECK_REL(am->ratio, pmax / pmin, 1e-9);
    CHECK_REL(am->min, pmin, 1e-9);
    CHECK_REL(am->max, pmax, 1e-9);
    CHECK(am->agrees);
    minima_audit_result_free(&r);
    minima_free(H);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

/* tanh is not homogeneous: every point but theta computes another function. */
static void test_tanh_flagged(void)
{
    minima_model *m = make_model("5-6-3", 1, MINIMA_ACT_TANH, 3);
    minima_dataset ds = make_data(20, 5, 3, 4);
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, &ds, NULL));
    minima_audit_params p = minima_audit_default_params();
    p.decades = 1;
    p.neuron_draws = 1;
    const char *names[] = {"path_norm", "hessian_trace"};
    minima_audit_result r;
    CHECK_OK(minima_audit_run(net, names, 2, &p, &r));
    CHECK(r.n_points == 4);
    CHECK(r.points[0].equivalent);
    CHECK(r.n_not_equivalent == 3);
    for (size_t i = 1; i < r.n_points; i++) {
        CHECK(!r.points[i].equivalent);
        CHECK_MSG(r.points[i].equivalence.rel_diff > 1e-3, "point %zu: rel_diff %.3g", i,
                  r.points[i].equivalence.rel_diff);
        CHECK(isnan(r.measures[0].values[i]));
    }
    CHECK(!r.all_agree);
    CHECK(!r.measures[0].agrees);   /* one value: nothing measured */
    CHECK(strstr(r.measures[0].verdict, "not measured") != NULL);
    minima_audit_result_free(&r);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

static void test_bad_arguments(void)
{
    minima_model *m = make_model("3-4-2", 0, MINIMA_ACT_RELU, 3);
    minima_dataset ds = make_data(10, 3, 2, 4);
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, &ds, NULL));
    minima_audit_params p = minima_audit_default_params();
    minima_audit_result r;
    const char *bad[] = {"no_such_measure"};
    CHECK_STATUS(minima_audit_run(net, bad, 1, &p, &r), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "no_such_measure") != NULL);
    minima_audit_result_free(&r);
    p.decades = -1;
    const char *good[] = {"path_norm"};
    CHECK_STATUS(minima_audit_run(net, good, 1, &p, &r), MINIMA_EINVAL);
    minima_audit_result_free(&r);
    p = minima_audit_default_params();
    p.spread = -1;
    CHECK_STATUS(minima_audit_run(net, good, 1, &p, &r), MINIMA_EINVAL);
    minima_audit_result_free(&r);
    /* decades / decade_step is converted to an int: a tiny step is refused */
    p = minima_audit_default_params();
    p.decade_step = 1e-300;
    CHECK_STATUS(minima_audit_run(net, good, 1, &p, &r), MINIMA_EINVAL);
    minima_audit_result_free(&r);
    /* a bad settings override is the caller's error, reported at once */
    p = minima_audit_default_params();
    minima_audit_setting over[] = {{"path_norm", "q=3"}};
    p.extra_settings = over;
    p.n_extra_settings = 1;
    CHECK_STATUS(minima_audit_run(net, good, 1, &p, &r), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "q") != NULL);
    minima_audit_result_free(&r);
    CHECK(!strcmp(minima_audit_settings_for(&p, "path_norm"), "q=3"));
    /* interruption: stops, partial result freed by the caller */
    p = minima_audit_default_params();
    minima_interrupt();
    CHECK_STATUS(minima_audit_run(net, good, 1, &p, &r), MINIMA_EINTERRUPTED);
    minima_clear_interrupt();
    minima_audit_result_free(&r);
    CHECK(memcmp(minima_net_point(net), m->theta, m->n_params * sizeof *m->theta) == 0);
    minima_net_free(net);
    minima_model_free(m);
    /* no hidden layer: no orbit */
    m = make_model("3-2", 1, MINIMA_ACT_RELU, 3);
    CHECK_OK(minima_net_create(&net, m, &ds, NULL));
    CHECK_STATUS(minima_audit_run(net, good, 1, &p, &r), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "no hidden unit") != NULL);
    minima_audit_result_free(&r);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

/* canonical_points limits the canonical evaluations to the first points. */
static void test_canonical_points(void)
{
    minima_model *m = make_model("4-5-3", 1, MINIMA_ACT_RELU, 9);
    minima_dataset ds = make_data(20, 4, 3, 1);
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, &ds, NULL));
    minima_audit_params p = minima_audit_default_params();
    p.decades = 2;
    p.canonical_points = 3;
    const char *names[] = {"hessian_max"};
    minima_audit_result r;
    CHECK_OK(minima_audit_run(net, names, 1, &p, &r));
    const minima_audit_measure *am = &r.measures[0];
    CHECK(am->n_canonical == 3);
    CHECK(isfinite(am->canonical[2]) && isnan(am->canonical[3]));
    /* evaluation order: theta, then the extreme alphas */
    CHECK(r.points[1].log10_alpha == -2 && r.points[2].log10_alpha == 2);
    CHECK(am->canonical_rel_spread < 1e-8);
    minima_audit_result_free(&r);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

/* A layer of zero weights: no canonical representative; the audit goes on without it. */
static void test_no_canonical(void)
{
    minima_model *m = make_model("4-5-3", 1, MINIMA_ACT_RELU, 9);
    memset(minima_model_weight(m, 1), 0, minima_model_layer_weights(m, 1) * sizeof(double));
    minima_dataset ds = make_data(20, 4, 3, 1);
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, &ds, NULL));
    minima_audit_params p = minima_audit_default_params();
    p.decades = 1;
    p.neuron_draws = 1;
    const char *names[] = {"path_norm", "hessian_trace"};
    minima_audit_result r;
    CHECK_OK(minima_audit_run(net, names, 2, &p, &r));
    CHECK(r.canonical_error[0] != '\0');
    CHECK(r.measures[1].canonical == NULL);
    CHECK(isnan(r.points[1].canonical_distance));
    CHECK(r.n_not_equivalent == 0);
    CHECK(r.measures[0].agrees);
    minima_audit_result_free(&r);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

/* Verdicts and statistics on hand-made values: signs, zeros, expectations. */
static void test_summarize(void)
{
    minima_audit_point pts[4];
    memset(pts, 0, sizeof pts);
    for (int i = 0; i < 4; i++) pts[i].equivalent = 1;
    minima_audit_result r;
    memset(&r, 0, sizeof r);
    r.points = pts;
    r.n_points = 4;
    minima_audit_params p = minima_audit_default_params();
    minima_audit_measure am;
    double v[4];

    memset(&am, 0, sizeof am);
    am.values = v;
    am.expected = MINIMA_INVARIANCE_EXACT;
    v[0] = 2; v[1] = 2 * (1 + 3e-12); v[2] = 2; v[3] = 2 * (1 - 1e-12);
    minima_audit_summarize(&am, &r, &p);
    CHECK(am.agrees);
    CHECK_REL(am.rel_spread, 3e-12, 1e-3);
    CHECK_MSG(!strcmp(am.verdict, "invariant to 3e-12"), "verdict '%s'", am.verdict);

    am.expected = MINIMA_INVARIANCE_NONE;
    v[0] = 1; v[1] = 1e6; v[2] = 1e-2; v[3] = 5;
    minima_audit_summarize(&am, &r, &p);
    CHECK(am.agrees);
    CHECK_REL(am.ratio, 1e8, 1e-12);
    CHECK(am.min == 1e-2 && am.max == 1e6);
    CHECK_MSG(!strcmp(am.verdict, "moved by 1e+08x"), "verdict '%s'", am.verdict);

    /* a sign change: no ratio, the relative spread says how far */
    v[0] = -1; v[1] = 2; v[2] = -1; v[3] = -1;
    minima_audit_summarize(&am, &r, &p);
    CHECK(isnan(am.ratio));
    CHECK_REL(am.rel_spread, 3, 1e-12);
    CHECK(am.agrees);

    /* all negative: ratio of magnitudes */
    v[0] = -1; v[1] = -4; v[2] = -2; v[3] = -1;
    minima_audit_summarize(&am, &r, &p);
    CHECK_REL(am.ratio, 4, 1e-12);

    /* zero at theta: the spread is absolute, and says so */
    am.expected = MINIMA_INVARIANCE_EXACT;
    v[0] = 0; v[1] = 0; v[2] = 1e-20; v[3] = 0;
    minima_audit_summarize(&am, &r, &p);
    CHECK(am.spread_absolute);
    CHECK(am.agrees);
    CHECK(isnan(am.ratio));
    CHECK(strstr(am.verdict, "absolute") != NULL);

    /* approximately invariant: small moves agree and are named */
    am.expected = MINIMA_INVARIANCE_APPROX;
    v[0] = 1; v[1] = 1.04; v[2] = 0.99; v[3] = 1;
    minima_audit_summarize(&am, &r, &p);
    CHECK(am.agrees);
    CHECK_MSG(!strcmp(am.verdict, "moved by 4% (approximately invariant expected)"), "verdict '%s'", am.verdict);
    v[1] = 3;
    minima_audit_summarize(&am, &r, &p);
    CHECK(!am.agrees);

    /* expected invariant, moved: disagrees; expected to move, did not */
    am.expected = MINIMA_INVARIANCE_EXACT;
    minima_audit_summarize(&am, &r, &p);
    CHECK(!am.agrees);
    CHECK(strstr(am.verdict, "invariance expected") != NULL);
    am.expected = MINIMA_INVARIANCE_NONE;
    v[0] = v[1] = v[2] = v[3] = 7;
    minima_audit_summarize(&am, &r, &p);
    CHECK(!am.agrees);
    CHECK(strstr(am.verdict, "expected to move") != NULL);

    /* a measure with no value at an equivalent point is not measured, not a
     * disagreement, and the verdict says why */
    am.expected = MINIMA_INVARIANCE_EXACT;
    v[0] = 1; v[1] = NAN; v[2] = 1; v[3] = 1;
    snprintf(am.note, sizeof am.note, "lambda_min < -gamma");
    minima_audit_summarize(&am, &r, &p);
    CHECK(!am.measured && !am.agrees && am.n_missing == 1);
    CHECK_MSG(!strcmp(am.verdict, "not measured: no finite value at 1 of 4 points: lambda_min < -gamma"),
              "verdict '%s'", am.verdict);
    am.note[0] = '\0';
    am.status = MINIMA_EFAILED;
    snprintf(am.error, sizeof am.error, "did not converge");
    minima_audit_summarize(&am, &r, &p);
    CHECK(!am.measured && !am.agrees);
    CHECK_MSG(!strcmp(am.verdict, "not measured: failed at 1 of 4 points: did not converge"), "verdict '%s'",
              am.verdict);
    am.status = MINIMA_OK;
    am.error[0] = '\0';
    v[1] = 1;
    minima_audit_summarize(&am, &r, &p);
    CHECK(am.measured && am.agrees);
    am.expected = MINIMA_INVARIANCE_NONE;
    v[0] = v[1] = v[2] = v[3] = 7;

    /* a flagged point does not count */
    pts[3].equivalent = 0;
    v[3] = 1e9;
    minima_audit_summarize(&am, &r, &p);
    CHECK(am.n_values == 3);
    CHECK(am.max == 7);

    /* canonical values that disagree make the measure disagree */
    pts[3].equivalent = 1;
    am.expected = MINIMA_INVARIANCE_NONE;
    v[0] = 1; v[1] = 100; v[2] = 0.01; v[3] = 1;
    double c[4] = {5, 5, 5, 5.1};
    am.canonical = c;
    minima_audit_summarize(&am, &r, &p);
    CHECK_REL(am.canonical_rel_spread, 0.02, 1e-9);
    CHECK(am.n_canonical == 4);
    CHECK(!am.agrees);
    c[3] = 5;
    minima_audit_summarize(&am, &r, &p);
    CHECK(am.agrees);
    CHECK(am.canonical_value == 5);
}

/* The expected invariance follows the settings where the source says so. */
static void test_invariance_for_settings(void)
{
    const minima_measure *w = minima_measure_find("worst_sharpness");
    const minima_measure *a = minima_measure_find("average_sharpness");
    const minima_measure *asam = minima_measure_find("asam");
    const minima_measure *mag = minima_measure_find("pac_bayes_mag");
    const minima_measure *h = minima_measure_find("hessian_max");
    CHECK(w && a && asam && mag && h);
    if (!w || !a || !asam || !mag || !h) return;
    CHECK(minima_measure_invariance(w, NULL) == MINIMA_INVARIANCE_NONE);
    CHECK(minima_measure_invariance(w, "adaptive=1,p=inf") == MINIMA_INVARIANCE_EXACT);
    CHECK(minima_measure_invariance(a, "adaptive=1") == MINIMA_INVARIANCE_EXACT);
    CHECK(minima_measure_invariance(asam, "") == MINIMA_INVARIANCE_APPROX);
    CHECK(minima_measure_invariance(asam, "eta=0") == MINIMA_INVARIANCE_APPROX);
    CHECK(minima_measure_invariance(asam, "eta=0,biases=1") == MINIMA_INVARIANCE_EXACT);
    CHECK(minima_measure_invariance(mag, "mag_eps=0") == MINIMA_INVARIANCE_EXACT);
    CHECK(minima_measure_invariance(mag, NULL) == MINIMA_INVARIANCE_APPROX);
    CHECK(minima_measure_invariance(mag, "mag_eps=0,variance_as_std=1") == MINIMA_INVARIANCE_NONE);
    CHECK(minima_measure_invariance(h, "adaptive=1") == MINIMA_INVARIANCE_NONE);
    const minima_measure *rf = minima_measure_find("relative_flatness");
    const minima_measure *ns = minima_measure_find("normalized_sharpness");
    CHECK(rf && ns);
    if (!rf || !ns) return;
    CHECK(minima_measure_invariance(rf, NULL) == MINIMA_INVARIANCE_EXACT);
    CHECK(minima_measure_invariance(rf, "standardize=0") == MINIMA_INVARIANCE_NONE);
    CHECK(minima_measure_invariance(ns, NULL) == MINIMA_INVARIANCE_EXACT);
    CHECK(minima_measure_invariance(ns, "diag=2") == MINIMA_INVARIANCE_EXACT);
    CHECK(minima_measure_invariance(ns, "diag=3") == MINIMA_INVARIANCE_APPROX);
}

/* Raw relative flatness (standardize=0) moves under per-neuron maps; the
 * audit expects it to, so its verdict agrees. */
static void test_raw_relative_flatness(void)
{
    minima_model *m = make_model("5-6-4-3", 1, MINIMA_ACT_RELU, 11);
    minima_dataset ds = make_data(40, 5, 3, 2);
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, &ds, NULL));
    minima_audit_params p = minima_audit_default_params();
    p.decades = 1;
    p.neuron_draws = 2;
    minima_audit_setting raw = {"relative_flatness", "standardize=0"};
    p.extra_settings = &raw;
    p.n_extra_settings = 1;
    const char *names[] = {"relative_flatness"};
    minima_audit_result r;
    CHECK_OK(minima_audit_run(net, names, 1, &p, &r));
    const minima_audit_measure *am = find(&r, "relative_flatness");
    CHECK(am != NULL);
    if (am) {
        CHECK(am->expected == MINIMA_INVARIANCE_NONE);
        CHECK_MSG(am->rel_spread > 1e-2, "raw kappa spread %.3g", am->rel_spread);
        CHECK_MSG(am->agrees, "verdict '%s'", am->verdict);
    }
    minima_audit_result_free(&r);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

/* Every allocation failure in the audit and in its figure returns
 * MINIMA_ENOMEM cleanly (ASan checks the leaks), and the figure's own
 * buffers go through the library's allocator (so that a failure there is
 * reported as one). */
static void test_out_of_memory(void)
{
    minima_model *m = make_model("3-3-2", 1, MINIMA_ACT_RELU, 5);
    minima_dataset ds = make_data(6, 3, 2, 4);
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, &ds, NULL));
    minima_audit_params p = minima_audit_default_params();
    p.decades = 1;
    p.neuron_draws = 1;
    const char *names[] = {"path_norm", "hessian_trace"};
    int ran = 0;
    for (long n = 0; n < 5000 && !ran; n++) {
        minima_audit_result r;
        minima_alloc_fail_after(n);
        minima_status s = minima_audit_run(net, names, 2, &p, &r);
        minima_alloc_fail_after(-1);
        CHECK_MSG(s == MINIMA_OK || s == MINIMA_ENOMEM, "audit after %ld allocations: %s (%s)", n,
                  minima_strerror(s), minima_last_error());
        ran = s == MINIMA_OK;
        minima_audit_result_free(&r);
    }
    CHECK(ran);
    minima_audit_result r;
    CHECK_OK(minima_audit_run(net, names, 2, &p, &r));
    char path[1024];
    snprintf(path, sizeof path, "%s/oom_audit.png", harness_tmpdir());
    int drawn = 0, buffers_failed = 0;
    for (long n = 0; n < 5000 && !drawn; n++) {
        minima_alloc_fail_after(n);
        minima_status s = minima_audit_plot(path, &r, "oom");
        minima_alloc_fail_after(-1);
        CHECK_MSG(s == MINIMA_OK || s == MINIMA_ENOMEM, "plot after %ld allocations: %s (%s)", n,
                  minima_strerror(s), minima_last_error());
        if (s == MINIMA_ENOMEM && strstr(minima_last_error(), "drawing the audit")) buffers_failed = 1;
        drawn = s == MINIMA_OK;
    }
    CHECK(drawn);
    CHECK_MSG(buffers_failed, "no allocation failure reached the figure's own buffers");
    /* the figure marks a measure not measured with ?, not as a disagreement (≠) */
    r.measures[1].values[1] = NAN;
    minima_audit_summarize(&r.measures[1], &r, &p);
    CHECK(!r.measures[1].measured);
    snprintf(path, sizeof path, "%s/not_measured.svg", harness_tmpdir());
    CHECK_OK(minima_audit_plot(path, &r, "oom"));
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        static char svg[1 << 20];
        size_t len = fread(svg, 1, sizeof svg - 1, f);
        svg[len] = '\0';
        fclose(f);
        /* the SVG writes text as character references */
        char want[512], wrong[512];
        const char *title = "hessian_trace (not inv.) ?";
        size_t k = 0;
        for (const char *c = title; *c && k + 8 < sizeof want; c++)
            k += (size_t)snprintf(want + k, sizeof want - k, "&#x%x;", (unsigned)(unsigned char)*c);
        snprintf(wrong, sizeof wrong, "%.*s&#x2260;", (int)(k - 7), want);   /* "... " then the not-equal sign */
        CHECK_MSG(strstr(svg, want) != NULL, "no panel titled '%s'", title);
        CHECK_MSG(strstr(svg, wrong) == NULL, "a not-measured measure is drawn as a disagreement");
    }
    minima_audit_result_free(&r);
    minima_net_free(net);
    minima_model_free(m);
    free_data(&ds);
}

int main(void)
{
    RUN(test_summarize);
    RUN(test_invariant_and_moving);
    RUN(test_trace_prediction);
    RUN(test_tanh_flagged);
    RUN(test_bad_arguments);
    RUN(test_canonical_points);
    RUN(test_no_canonical);
    RUN(test_invariance_for_settings);
    RUN(test_out_of_memory);
    RUN(test_raw_relative_flatness);
    return harness_report();
}
