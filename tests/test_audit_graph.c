/* test_audit_graph.c — the invariance audit and `sharpness --canonical` on
 * graph models (a LeNet-style CNN and a two-block residual net): the orbit
 * points of the graph's group (stage-wise maps, per-class draws) compute
 * the same function, the measures expected invariant do not move, the
 * Hessian's spectral norm moves by orders of magnitude, the canonical
 * points are one point and the measures agree there. On an MLP written as
 * a graph the graph path gives the MLP path's points and numbers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/audit.h"
#include "minima/data.h"
#include "minima/graph_symmetry.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/report.h"
#include "minima/sharpness.h"
#include "minima/symmetry.h"

static const minima_audit_measure *find(const minima_audit_result *r, const char *name)
{
    for (size_t j = 0; j < r->n_measures; j++)
        if (!strcmp(r->measures[j].measure->name, name)) return &r->measures[j];
    return NULL;
}

/* Measures that compute on graphs, three of them expected exactly invariant
 * under the settings below (minima_measure_invariance), three expected to
 * move. hessian_trace by Hutch++ (the exact trace costs P products a
 * point): the same seed at every point, so its canonical values agree. */
static const char *const names[] = {"hessian_max", "hessian_trace", "dinh_sharpness",
                                    "pac_bayes_mag", "worst_sharpness", "asam"};
static const minima_audit_setting extra[] = {
    {"hessian_max", "tol=1e-10"},
    {"hessian_trace", "exact_max=0,rtol=0.1,min_samples=4,max_samples=8,sketch=4"},
    {"pac_bayes_mag", "mag_eps=0,depth=12,draws=2"},
    {"worst_sharpness", "adaptive=1,steps=5,n=64"},
    {"asam", "eta=0,biases=1"},
};

static void audit_graph(const char *arch, uint64_t seed, int n_classes_want)
{
    minima_model *m = harness_graph_model(arch, seed);
    minima_dataset *ds = m ? harness_graph_data(m, 64, seed + 100) : NULL;
    if (!m || !ds) return;
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, ds, NULL));
    if (!net) return;
    minima_audit_params p = minima_audit_default_params();
    p.decades = 2;
    p.neuron_draws = 2;
    p.extra_settings = extra;
    p.n_extra_settings = sizeof extra / sizeof *extra;
    minima_audit_result r;
    size_t nm = sizeof names / sizeof *names;
    CHECK_OK(minima_audit_run(net, names, nm, &p, &r));
    CHECK(r.graph == 1);
    CHECK_MSG(r.n_classes == (size_t)n_classes_want, "%zu classes, expected %d", r.n_classes, n_classes_want);
    CHECK(r.n_stages >= 1);
    CHECK(r.n_points == 1 + 4 + 2);
    CHECK(r.n_not_equivalent == 0);
    CHECK_MSG(r.canonical_error[0] == 0, "canonical error: %s", r.canonical_error);
    size_t n_neuron = 0;
    for (size_t i = 0; i < r.n_points; i++) {
        const minima_audit_point *pt = &r.points[i];
        n_neuron += pt->kind == MINIMA_AUDIT_POINT_NEURON;
        CHECK_MSG(pt->equivalent && pt->equivalence.rel_diff <= 1e-12, "%s point %zu: output difference %.3g",
                  arch, i, pt->equivalence.rel_diff);
        CHECK_MSG(pt->canonical_distance <= 1e-9, "%s point %zu: canonical distance %.3g", arch, i,
                  pt->canonical_distance);
        if (i > 0) CHECK(pt->norm != r.points[0].norm);    /* the points are other points */
    }
    CHECK(n_neuron == 2);
    /* the extreme points: a factor 10^4 between the stem's and the output's */
    CHECK(r.points[1].log10_alpha == -2 && r.points[2].log10_alpha == 2);
    for (size_t j = 0; j < r.n_measures; j++) {
        const minima_audit_measure *am = &r.measures[j];
        const char *name = am->measure->name;
        CHECK_MSG(am->measured && am->n_values == r.n_points, "%s on %s: not measured (%s; %s)", name, arch,
                  am->verdict, am->error);
        if (!strcmp(name, "pac_bayes_mag") || !strcmp(name, "worst_sharpness") || !strcmp(name, "asam")) {
            CHECK_MSG(am->expected == MINIMA_INVARIANCE_EXACT, "%s: expected %s", name,
                      minima_invariance_name(am->expected));
            CHECK_MSG(am->rel_spread <= 1e-9, "%s on %s: moved by %.3g along the orbit (%s)", name, arch,
                      am->rel_spread, am->verdict);
            CHECK(am->canonical == NULL);
            CHECK_MSG(am->agrees, "%s: '%s'", name, am->verdict);
        } else {
            CHECK(am->expected == MINIMA_INVARIANCE_NONE);
            CHECK_MSG(am->agrees, "%s: '%s'", name, am->verdict);
            CHECK(am->canonical != NULL && am->n_canonical == r.n_points);
            CHECK_MSG(am->canonical_rel_spread <= 1e-9, "%s on %s: canonical values spread %.3g", name, arch,
                      am->canonical_rel_spread);
        }
    }
    const minima_audit_measure *hm = find(&r, "hessian_max");
    CHECK_MSG(hm && hm->ratio > 100, "%s: hessian_max ratio %.3g at 2 decades", arch, hm ? hm->ratio : NAN);
    const minima_audit_measure *ht = find(&r, "hessian_trace");
    CHECK_MSG(ht && ht->ratio > 100, "%s: hessian_trace ratio %.3g at 2 decades", arch, ht ? ht->ratio : NAN);
    CHECK(r.all_agree);
    /* point 0 is theta, and the anchor is where it was */
    CHECK(memcmp(minima_net_point(net), m->theta, m->n_params * sizeof *m->theta) == 0);
    minima_measure_result res;
    CHECK_OK(minima_measure_compute(minima_measure_find("hessian_max"), net, "tol=1e-10", p.seed, &res));
    CHECK(hm && hm->values[0] == res.value);
    minima_audit_result_free(&r);
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

static void test_audit_lenet(void) { audit_graph(HARNESS_ARCH_LENET, 21, 20); }
static void test_audit_resnet(void) { audit_graph(HARNESS_ARCH_RESNET, 22, 9); }

/* A perceptron written as a graph that is not one (a trailing identity):
 * its group is the MLP's, its points must be the MLP path's points, and
 * the measures the same numbers. */
static void test_mlp_as_graph(void)
{
    minima_model *mlp = NULL, *gm = NULL;
    CHECK_OK(minima_arch_parse("5:6,relu,4,relu,3", 1, MINIMA_ACT_RELU, 0.01, &mlp));
    CHECK_OK(minima_arch_parse("5:6,relu,4,relu,3,identity", 1, MINIMA_ACT_RELU, 0.01, &gm));
    if (!mlp || !gm) return;
    CHECK(mlp->is_mlp && !gm->is_mlp);
    CHECK(mlp->n_params == gm->n_params);
    minima_model_init(mlp, 5);
    memcpy(gm->theta, mlp->theta, mlp->n_params * sizeof *mlp->theta);
    mlp->loss = gm->loss = MINIMA_LOSS_CE;
    minima_dataset *ds = harness_graph_data(mlp, 40, 6);
    minima_net *na = NULL, *nb = NULL;
    CHECK_OK(minima_net_create(&na, mlp, ds, NULL));
    CHECK_OK(minima_net_create(&nb, gm, ds, NULL));
    if (!na || !nb) return;
    const char *const two[] = {"hessian_trace", "fisher_rao"};
    minima_audit_params p = minima_audit_default_params();
    p.decades = 2;
    p.neuron_draws = 2;
    minima_audit_result ra, rb;
    CHECK_OK(minima_audit_run(na, two, 2, &p, &ra));
    CHECK_OK(minima_audit_run(nb, two, 2, &p, &rb));
    CHECK(ra.graph == 0 && rb.graph == 1);
    CHECK(ra.n_stages == 2 && rb.n_stages == 2 && ra.n_classes == 10 && rb.n_classes == 10);
    CHECK(ra.n_points == rb.n_points);
    for (size_t i = 0; i < ra.n_points && i < rb.n_points; i++) {
        CHECK(ra.points[i].kind == rb.points[i].kind && ra.points[i].log10_alpha == rb.points[i].log10_alpha);
        CHECK_REL(ra.points[i].norm, rb.points[i].norm, 1e-14);
        CHECK(rb.points[i].equivalent);
    }
    for (size_t j = 0; j < 2; j++) {
        const minima_audit_measure *a = &ra.measures[j], *b = &rb.measures[j];
        for (size_t i = 0; i < ra.n_points && i < rb.n_points; i++) CHECK_REL(a->values[i], b->values[i], 1e-9);
        if (a->canonical && b->canonical) CHECK_REL(a->canonical_value, b->canonical_value, 1e-9);
        CHECK((a->canonical == NULL) == (b->canonical == NULL));
        CHECK(a->agrees && b->agrees);
    }
    minima_audit_result_free(&ra);
    minima_audit_result_free(&rb);
    minima_net_free(na);
    minima_net_free(nb);
    minima_dataset_free(ds);
    minima_model_free(mlp);
    minima_model_free(gm);
}

/* A graph whose every linear/conv2d channel is fixed has a one-point orbit. */
static void test_no_free_class(void)
{
    const char *archs[] = {"4:3,identity", "4:5,tanh,3,identity"};
    for (int a = 0; a < 2; a++) {
        minima_model *m = NULL;
        CHECK_OK(minima_arch_parse(archs[a], 1, MINIMA_ACT_RELU, 0.01, &m));
        if (!m) continue;
        CHECK(!m->is_mlp);
        minima_model_init(m, 1);
        minima_dataset *ds = harness_graph_data(m, 10, 2);
        minima_net *net = NULL;
        CHECK_OK(minima_net_create(&net, m, ds, NULL));
        const char *const one[] = {"hessian_max"};
        minima_audit_result r;
        CHECK_STATUS(minima_audit_run(net, one, 1, NULL, &r), MINIMA_EINVAL);
        CHECK_MSG(strstr(minima_last_error(), "no free channel class") != NULL, "message: %s",
                  minima_last_error());
        minima_audit_result_free(&r);
        minima_net_free(net);
        minima_dataset_free(ds);
        minima_model_free(m);
    }
}

/* sharpness --canonical on a graph: the canonical point of the model and of
 * a rescaled copy are one point, so the measures agree there, while they
 * differ at the two models themselves. */
static void test_sharpness_canonical(void)
{
    minima_model *m = harness_graph_model(HARNESS_ARCH_RESNET, 31), *moved = NULL;
    if (!m) return;
    CHECK_OK(minima_model_copy(m, &moved));
    minima_gsym *g = NULL;
    CHECK_OK(minima_gsym_create(m, &g));
    if (!g || !moved) return;
    double *u = calloc((size_t)g->n_classes, sizeof *u);
    CHECK_OK(minima_gsym_random_u(g, 7, 1.5, NULL, u));
    CHECK_OK(minima_gsym_apply(g, m, u, NULL, moved->theta));
    minima_dataset *ds = harness_graph_data(m, 48, 8);
    minima_sharpness_result r[2];
    const minima_model *models[2] = {m, moved};
    for (int k = 0; k < 2; k++) {
        minima_net *net = NULL;
        CHECK_OK(minima_net_create(&net, models[k], ds, NULL));
        minima_sharpness_request q = minima_sharpness_default_request();
        q.measures = "hessian_max,hessian_trace";
        const char *sets[] = {"hessian_max:tol=1e-10", "hessian_trace:exact_max=0,min_samples=4,max_samples=8,sketch=4"};
        q.settings = sets;
        q.n_settings = 2;
        q.canonical = 1;
        CHECK_OK(minima_sharpness_run(net, &q, &r[k]));
        CHECK(r[k].canonical && r[k].canonical_info.converged && r[k].canonical_info.n_degenerate == 0);
        CHECK(r[k].canonical_info.norm_after <= r[k].canonical_info.norm_before);
        CHECK(r[k].canonical_info.iterations > 0);
        CHECK(r[k].n_failed == 0 && r[k].n_measures == 2);
        char *json = NULL;
        CHECK_OK(minima_sharpness_json(&r[k], &json));
        CHECK(json && strstr(json, "\"canonical\": {\"norm_before\": ") && strstr(json, "\"converged\": true"));
        minima_free(json);
        minima_net_free(net);
    }
    /* the rescaled model's norm is larger (spread 1.5), the canonical norms equal */
    CHECK(r[1].canonical_info.norm_before > r[0].canonical_info.norm_before);
    CHECK_REL(r[0].canonical_info.norm_after, r[1].canonical_info.norm_after, 1e-12);
    for (size_t i = 0; i < 2; i++) {
        CHECK_MSG(harness_reldiff(r[0].measures[i].result.value, r[1].measures[i].result.value, 0) > 1e-3,
                  "%s did not move", r[0].measures[i].measure->name);
        CHECK_REL(r[0].measures[i].canonical.value, r[1].measures[i].canonical.value, 1e-9);
    }
    minima_sharpness_result_free(&r[0]);
    minima_sharpness_result_free(&r[1]);
    free(u);
    minima_gsym_free(g);
    minima_dataset_free(ds);
    minima_model_free(moved);
    minima_model_free(m);
}

int main(void)
{
    RUN(test_audit_lenet);
    RUN(test_audit_resnet);
    RUN(test_mlp_as_graph);
    RUN(test_no_free_class);
    RUN(test_sharpness_canonical);
    return harness_report();
}
