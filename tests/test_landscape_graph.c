/* test_landscape_graph.c — slices of graph models before and after a
 * rescaling of their group (minima_landscape_rescaled_point), and the
 * minimum-norm point over the stage-wise maps (minima_gsym_stage_canonical).
 *
 * What is checked: the new entry gives exactly the slices of
 * minima_landscape_rescaled on a perceptron; on a CNN and a residual net the
 * filter-normalized slice is the same after the stage-wise map (every filter
 * scaled by one factor) and not after a per-class point, random directions
 * change in both cases, and the canonical points of two orbit points give
 * one picture. The stage-wise canonical point agrees with the perceptron's
 * layer-wise one on a perceptron, has a zero stage gradient (summed from the
 * class gradient of minima_gsym_norm2), is the same from two stage-wise
 * points, lies between the whole-group minimum and theta in norm, and holds
 * a dead stage at 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/data.h"
#include "minima/graph_stage.h"
#include "minima/graph_symmetry.h"
#include "minima/landscape.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/symmetry.h"

static minima_net *make_net(const minima_model *m, const minima_dataset *ds)
{
    minima_net_params np = minima_net_default_params(m);
    np.batch_size = 16;
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, ds, &np));
    return net;
}

static double max_rel_diff(const minima_landscape *a, const minima_landscape *b)
{
    double mr;
    minima_landscape_diff(a, b, NULL, &mr);
    return mr;
}

/* ---- the new entry equals the old one on a perceptron ------------------- */

static void test_point_entry_matches_scales_entry(void)
{
    minima_model *m = NULL;
    int widths[4] = {5, 8, 6, 3};
    CHECK_OK(minima_model_create(&m, 3, widths, 1, MINIMA_ACT_RELU));
    minima_model_init(m, 3);
    minima_dataset *ds = harness_graph_data(m, 48, 4);
    minima_net *net = make_net(m, ds);
    size_t P = m->n_params, nu = minima_sym_n_units(m);
    double *scales = harness_dalloc(nu), *theta_r = harness_dalloc(P);
    CHECK_OK(minima_sym_random_scales(m, 9, 0.7, NULL, scales));
    minima_sym_apply(m, scales, m->theta, theta_r);
    const minima_dir_kind kinds[2] = {MINIMA_DIR_FILTER, MINIMA_DIR_RANDOM};
    for (int k = 0; k < 2; k++) {
        minima_dir_params dp = minima_dir_default_params();
        dp.kind = kinds[k];
        dp.seed = 5;
        minima_landscape b1, a1, b2, a2;
        CHECK_OK(minima_landscape_rescaled(net, scales, &dp, -1, 1, 9, &b1, &a1, NULL, NULL));
        CHECK_OK(minima_landscape_rescaled_point(net, theta_r, &dp, -1, 1, 9, &b2, &a2, NULL, NULL));
        CHECK(b1.loss && b2.loss && a1.loss && a2.loss);
        if (b1.loss && b2.loss && a1.loss && a2.loss) {
            CHECK(memcmp(b1.loss, b2.loss, 9 * sizeof(double)) == 0);
            CHECK(memcmp(a1.loss, a2.loss, 9 * sizeof(double)) == 0);
        }
        minima_landscape_free(&b1);
        minima_landscape_free(&a1);
        minima_landscape_free(&b2);
        minima_landscape_free(&a2);
    }
    /* bad input: both results come back empty */
    minima_landscape b, a;
    CHECK_STATUS(minima_landscape_rescaled_point(net, NULL, NULL, -1, 1, 5, &b, &a, NULL, NULL),
                 MINIMA_EINVAL);
    theta_r[2] = NAN;
    CHECK_STATUS(minima_landscape_rescaled_point(net, theta_r, NULL, -1, 1, 5, &b, &a, NULL, NULL),
                 MINIMA_EINVAL);
    CHECK(b.loss == NULL && a.loss == NULL);
    theta_r[2] = 1;
    minima_dir_params dp = minima_dir_default_params();
    dp.dims = 3;
    CHECK_STATUS(minima_landscape_rescaled_point(net, theta_r, &dp, -1, 1, 5, &b, &a, NULL, NULL),
                 MINIMA_EINVAL);
    CHECK(memcmp(minima_net_point(net), m->theta, P * sizeof(double)) == 0);
    free(scales);
    free(theta_r);
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

/* ---- graphs: which slices survive which rescaling ---------------------- */

/* max relative difference of the before/after slices of kind k (1-D, 15
 * points on [-1, 1], seed 3) through theta and theta_r */
static double slice_diff(minima_net *net, const double *theta_r, minima_dir_kind k,
                         minima_filter_bias bias)
{
    minima_dir_params dp = minima_dir_default_params();
    dp.kind = k;
    dp.bias = bias;
    dp.seed = 3;
    minima_landscape b, a;
    double mr = NAN;
    CHECK_OK(minima_landscape_rescaled_point(net, theta_r, &dp, -1, 1, 15, &b, &a, NULL, NULL));
    if (b.loss && a.loss) {
        CHECK_REL(a.loss0, b.loss0, 1e-12);
        mr = max_rel_diff(&b, &a);
    }
    minima_landscape_free(&b);
    minima_landscape_free(&a);
    return mr;
}

static void graph_invariance(const char *arch, int n_stages)
{
    minima_model *m = harness_graph_model(arch, 11);
    minima_dataset *ds = harness_graph_data(m, 40, 12);
    minima_net *net = make_net(m, ds);
    minima_gsym *g = NULL;
    CHECK_OK(minima_gsym_create(m, &g));
    if (!g || !net) goto done;
    CHECK(g->n_stages == n_stages);
    size_t P = m->n_params;
    double *u = harness_dalloc((size_t)g->n_classes), *theta_r = harness_dalloc(P),
           *theta_c = harness_dalloc(P), *theta_rc = harness_dalloc(P);
    double alpha[8] = {3.0, 0.25, 2.0, 0.5, 1.5, 4.0, 0.2, 1.0};
    CHECK(n_stages < 8);

    /* the stage-wise map: every filter by one factor */
    CHECK_OK(minima_gsym_stage_u(g, alpha, n_stages, 1, 1e-12, u, NULL));
    CHECK_OK(minima_gsym_apply(g, m, u, NULL, theta_r));
    double fz = slice_diff(net, theta_r, MINIMA_DIR_FILTER, MINIMA_FILTER_BIAS_ZERO);
    double fc = slice_diff(net, theta_r, MINIMA_DIR_FILTER, MINIMA_FILTER_BIAS_COPY);
    double fr = slice_diff(net, theta_r, MINIMA_DIR_FILTER, MINIMA_FILTER_BIAS_ROW);
    double rd = slice_diff(net, theta_r, MINIMA_DIR_RANDOM, MINIMA_FILTER_BIAS_ZERO);
    CHECK_MSG(fz <= 1e-13, "%s: stage-wise, filter (bias zero): %.3g", arch, fz);
    CHECK_MSG(fc <= 1e-13, "%s: stage-wise, filter (bias copy): %.3g", arch, fc);
    CHECK_MSG(fr > 1e-6, "%s: stage-wise, filter (bias in the row) differs only by %.3g", arch, fr);
    CHECK_MSG(rd > 1e-2, "%s: stage-wise, random differs only by %.3g", arch, rd);

    /* a per-class point: input channels of one filter scaled differently */
    CHECK_OK(minima_gsym_random_u(g, 21, 1.0, NULL, u));
    CHECK_OK(minima_gsym_apply(g, m, u, NULL, theta_r));
    double pf = slice_diff(net, theta_r, MINIMA_DIR_FILTER, MINIMA_FILTER_BIAS_ZERO);
    CHECK_MSG(pf > 1e-4, "%s: per-class, filter differs only by %.3g", arch, pf);

    /* canonical points of theta and of theta_r: one picture */
    CHECK_OK(minima_gsym_canonical(g, m, NULL, u, theta_c, NULL));
    CHECK_OK(minima_gsym_canonical(g, m, theta_r, u, theta_rc, NULL));
    CHECK(harness_vec_reldiff(theta_rc, theta_c, P, 1e-300) <= 1e-9);
    CHECK_OK(minima_net_set_point(net, theta_c));
    double cf = slice_diff(net, theta_rc, MINIMA_DIR_FILTER, MINIMA_FILTER_BIAS_ZERO);
    double cr = slice_diff(net, theta_rc, MINIMA_DIR_RANDOM, MINIMA_FILTER_BIAS_ZERO);
    CHECK_MSG(cf <= 1e-9 && cr <= 1e-9, "%s: canonical: filter %.3g, random %.3g", arch, cf, cr);
    CHECK_OK(minima_net_set_point(net, m->theta));
    free(u);
    free(theta_r);
    free(theta_c);
    free(theta_rc);
done:
    minima_gsym_free(g);
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

static void test_graph_slices(void)
{
    graph_invariance(HARNESS_ARCH_LENET, 3);
    graph_invariance(HARNESS_ARCH_RESNET, 3);
}

/* ---- the stage-wise canonical point ------------------------------------ */

/* The stage gradient at u: the class gradient of F summed over each stage. */
static double stage_grad_rel(const minima_gsym *g, const minima_model *m, const double *theta,
                             const double *u)
{
    double f = 0, worst = 0;
    double *gc = harness_dalloc((size_t)g->n_classes), *gs = harness_dalloc((size_t)g->n_stages);
    CHECK_OK(minima_gsym_norm2(g, m, theta, u, &f, gc));
    for (int c = 0; c < g->n_classes; c++) gs[g->stage_of_class[c]] += gc[c];
    for (int s = 0; s < g->n_stages; s++) worst = fmax(worst, fabs(gs[s]));
    free(gc);
    free(gs);
    return worst / f;
}

static void test_stage_canonical_on_graphs(void)
{
    const char *archs[2] = {HARNESS_ARCH_LENET, HARNESS_ARCH_RESNET};
    for (int a = 0; a < 2; a++) {
        minima_model *m = harness_graph_model(archs[a], 30 + (uint64_t)a);
        minima_gsym *g = NULL;
        CHECK_OK(minima_gsym_create(m, &g));
        if (!g) {
            minima_model_free(m);
            continue;
        }
        size_t P = m->n_params;
        int S = g->n_stages, C = g->n_classes;
        double *u = harness_dalloc((size_t)C), *u2 = harness_dalloc((size_t)C), *theta_r = harness_dalloc(P),
               *c1 = harness_dalloc(P), *c2 = harness_dalloc(P), *alpha = harness_dalloc((size_t)S + 1),
               *alpha2 = harness_dalloc((size_t)S + 1), *ug = harness_dalloc((size_t)C);
        /* a far stage-wise point first: factors 1e-2 .. 1e2 */
        double far[4] = {100.0, 0.01, 30.0, 1.0};
        CHECK_OK(minima_gsym_stage_u(g, far, S, 1, 1e-12, u, NULL));
        CHECK_OK(minima_gsym_apply(g, m, u, NULL, theta_r));
        minima_gsym_canonical_info i1, i2, ig;
        CHECK_OK(minima_gsym_stage_canonical(g, m, NULL, alpha, u, c1, &i1));
        CHECK_OK(minima_gsym_stage_canonical(g, m, theta_r, alpha2, u2, c2, &i2));
        CHECK(i1.n_degenerate == 0 && i2.n_degenerate == 0);
        CHECK_MSG(harness_vec_reldiff(c2, c1, P, 1e-300) <= 1e-9, "%s: two stage-wise points, "
                  "canonical points differ by %.3g", archs[a], harness_vec_reldiff(c2, c1, P, 1e-300));
        CHECK_REL(i1.norm_after, i2.norm_after, 1e-12);
        CHECK(i1.norm_after <= i1.norm_before);
        CHECK(i2.norm_before > 10 * i2.norm_after);   /* the far point was far */
        CHECK_MSG(stage_grad_rel(g, m, NULL, u) <= 1e-11, "%s: stage gradient %.3g F", archs[a],
                  stage_grad_rel(g, m, NULL, u));
        /* alpha: product 1 and it gives back u */
        double prod = 1;
        for (int s = 0; s <= S; s++) prod *= alpha[s];
        CHECK_REL(prod, 1.0, 1e-12);
        CHECK_OK(minima_gsym_stage_u(g, alpha, S + 1, 0, 1e-12, ug, NULL));
        CHECK(harness_vec_reldiff(ug, u, (size_t)C, 1) <= 1e-14);
        /* between the whole-group minimum and theta */
        CHECK_OK(minima_gsym_canonical(g, m, NULL, ug, NULL, &ig));
        CHECK(ig.norm_after <= i1.norm_after * (1 + 1e-12));
        CHECK(ig.norm_after < i1.norm_after * (1 - 1e-6));   /* a real restriction here */
        /* the canonical point of the canonical point is itself */
        CHECK_OK(minima_gsym_stage_canonical(g, m, c1, NULL, u2, NULL, &i2));
        for (int c = 0; c < C; c++) CHECK_ABS(u2[c], 0.0, 1e-9);
        /* theta_out may be theta */
        memcpy(c2, m->theta, P * sizeof *c2);
        CHECK_OK(minima_gsym_stage_canonical(g, m, c2, NULL, u2, c2, NULL));
        CHECK(harness_vec_reldiff(c2, c1, P, 1e-300) <= 1e-12);
        free(u);
        free(u2);
        free(theta_r);
        free(c1);
        free(c2);
        free(alpha);
        free(alpha2);
        free(ug);
        minima_gsym_free(g);
        minima_model_free(m);
    }
}

/* On a perceptron the stages are the hidden layers and the stage-wise map
 * is T_alpha: the same point as minima_sym_canonical's layer group. */
static void test_stage_canonical_matches_perceptron(void)
{
    minima_model *m = NULL;
    int widths[5] = {6, 9, 7, 5, 3};
    CHECK_OK(minima_model_create(&m, 4, widths, 1, MINIMA_ACT_RELU));
    minima_model_init(m, 17);
    size_t P = m->n_params, nu = minima_sym_n_units(m);
    /* move it along the layers first so that there is something to undo */
    double lay[4] = {5.0, 0.1, 3.0, 1.0 / 1.5}, used[4], *scales = harness_dalloc(nu);
    CHECK_OK(minima_sym_layer_scales(m, lay, 4, 0, 1e-12, scales, used));
    minima_sym_apply_model(m, scales);
    minima_gsym *g = NULL;
    CHECK_OK(minima_gsym_create(m, &g));
    if (g) {
        CHECK(g->n_stages == 3);
        double *u = harness_dalloc((size_t)g->n_classes), *c1 = harness_dalloc(P), *c2 = harness_dalloc(P);
        double alpha[4];
        CHECK_OK(minima_gsym_stage_canonical(g, m, NULL, alpha, u, c1, NULL));
        minima_sym_canonical_params cp = minima_sym_canonical_default_params();
        cp.group = MINIMA_SYM_LAYER;
        minima_sym_canonical_info ci;
        CHECK_OK(minima_sym_canonical(m, NULL, &cp, scales, &ci));
        CHECK(ci.converged);
        minima_sym_apply(m, scales, m->theta, c2);
        CHECK_MSG(harness_vec_reldiff(c1, c2, P, 1e-300) <= 1e-9, "graph stage-wise vs perceptron "
                  "layer-wise canonical: %.3g", harness_vec_reldiff(c1, c2, P, 1e-300));
        free(u);
        free(c1);
        free(c2);
    }
    free(scales);
    minima_gsym_free(g);
    minima_model_free(m);
}

/* A stage with every parameter zero on its incoming side: held at 0. */
static void test_stage_canonical_degenerate_and_errors(void)
{
    minima_model *m = harness_graph_model(HARNESS_ARCH_RESNET, 40);
    minima_gsym *g = NULL;
    CHECK_OK(minima_gsym_create(m, &g));
    if (!g) {
        minima_model_free(m);
        return;
    }
    /* the first block's inner conv: the second conv2d node */
    int inner = -1, seen = 0;
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].kind == MINIMA_NODE_CONV2D && seen++ == 1) inner = i;
    CHECK(inner > 0);
    int stage = inner > 0 ? g->node_stage[inner] : -1;
    CHECK(stage >= 0);
    if (inner > 0) {
        const minima_node *nd = &m->nodes[inner];
        for (size_t j = 0; j < nd->n_weight; j++) m->theta[nd->weight_offset + j] = 0;
        for (size_t j = 0; j < nd->n_bias; j++) m->theta[nd->bias_offset + j] = 0;
    }
    double *u = harness_dalloc((size_t)g->n_classes), alpha[4];
    minima_gsym_canonical_info inf;
    CHECK_OK(minima_gsym_stage_canonical(g, m, NULL, alpha, u, NULL, &inf));
    CHECK(inf.n_degenerate == 1);
    for (int c = 0; c < g->n_classes; c++)
        if (g->stage_of_class[c] == stage) CHECK(u[c] == 0);
    {   /* the other stages are at their minimum */
        double f = 0, worst = 0;
        double *gc = harness_dalloc((size_t)g->n_classes), *gs = harness_dalloc((size_t)g->n_stages);
        CHECK_OK(minima_gsym_norm2(g, m, NULL, u, &f, gc));
        for (int c = 0; c < g->n_classes; c++) gs[g->stage_of_class[c]] += gc[c];
        for (int s = 0; s < g->n_stages; s++)
            if (s != stage) worst = fmax(worst, fabs(gs[s]));
        CHECK_MSG(worst <= 1e-11 * f, "stage gradient %.3g F", worst / f);
        free(gc);
        free(gs);
    }
    /* errors */
    CHECK_STATUS(minima_gsym_stage_canonical(NULL, m, NULL, NULL, u, NULL, NULL), MINIMA_EINVAL);
    CHECK_STATUS(minima_gsym_stage_canonical(g, m, NULL, NULL, NULL, NULL, NULL), MINIMA_EINVAL);
    minima_model *other = harness_graph_model(HARNESS_ARCH_LENET, 1);
    CHECK_STATUS(minima_gsym_stage_canonical(g, other, NULL, NULL, u, NULL, NULL), MINIMA_EINVAL);
    minima_model_free(other);
    m->theta[0] = INFINITY;
    CHECK_STATUS(minima_gsym_stage_canonical(g, m, NULL, NULL, u, NULL, NULL), MINIMA_ENONFINITE);
    free(u);
    minima_gsym_free(g);
    minima_model_free(m);
}

int main(void)
{
    RUN(test_point_entry_matches_scales_entry);
    RUN(test_graph_slices);
    RUN(test_stage_canonical_on_graphs);
    RUN(test_stage_canonical_matches_perceptron);
    RUN(test_stage_canonical_degenerate_and_errors);
    return harness_report();
}
