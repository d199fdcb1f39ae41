/* test_graph_refusals.c — code written for layers refuses a model that is
 * not a multilayer perceptron (MINIMA_EUNSUPPORTED, naming the node kinds)
 * instead of reading the layer fields, which are NULL there; code that only
 * needs theta, the graph and the engine works on it.
 *
 * The graph: input 6 -> linear 5 -> relu -> linear 5 -> add(relu, linear)
 * -> linear 3. Checks that need a minima_net over the graph (measures,
 * audit, sharpness) run in a child process, so that an engine that cannot
 * run graphs shows as a failure of this test naming it, not as a crash of
 * every check: each must succeed or refuse, never crash. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/api.h"
#include "minima/audit.h"
#include "minima/landscape.h"
#include "minima/linop.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/reparam.h"
#include "minima/report.h"
#include "minima/rng.h"
#include "minima/safetensors.h"
#include "minima/sharpness.h"
#include "minima/symmetry.h"
#include "minima/theorem.h"

#define N_EX 12

static minima_model *make_graph(void)
{
    minima_node nd[6];
    nd[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    nd[0].shape = (minima_shape){1, 6, 1, 1};
    nd[1] = minima_node_make(MINIMA_NODE_LINEAR, 0);
    nd[1].out = 5;
    nd[1].name = (char *)"fc1";
    nd[2] = minima_node_make(MINIMA_NODE_RELU, 1);
    nd[3] = minima_node_make(MINIMA_NODE_LINEAR, 2);
    nd[3].out = 5;
    nd[3].name = (char *)"fc2";
    nd[4] = minima_node_make(MINIMA_NODE_ADD, 2);
    nd[4].inputs[1] = 3;
    nd[5] = minima_node_make(MINIMA_NODE_LINEAR, 4);
    nd[5].out = 3;
    nd[5].name = (char *)"head";
    minima_model *m = NULL;
    if (minima_model_create_graph(&m, 6, nd) != MINIMA_OK) return NULL;
    minima_model_init(m, 3);
    return m;
}

static minima_dataset make_data(void)
{
    minima_dataset ds;
    memset(&ds, 0, sizeof ds);
    minima_rng rng;
    minima_rng_seed(&rng, 5);
    ds.n = N_EX;
    ds.d = 6;
    ds.x = malloc(N_EX * 6 * sizeof *ds.x);
    ds.labels = malloc(N_EX * sizeof *ds.labels);
    ds.n_classes = 3;
    minima_rng_fill_normal(&rng, ds.x, N_EX * 6);
    for (size_t i = 0; i < N_EX; i++) ds.labels[i] = (int32_t)(i % 3);
    ds.name = "graph data";
    return ds;
}

/* The refusal: EUNSUPPORTED, a message that says why. */
#define CHECK_REFUSED(expr) do { \
        minima_clear_error(); \
        CHECK_STATUS((expr), MINIMA_EUNSUPPORTED); \
        CHECK_MSG(strstr(minima_last_error(), "multilayer perceptrons") && \
                  strstr(minima_last_error(), "add"), \
                  "%s: message '%s' does not say the model is a graph with add nodes", #expr, \
                  minima_last_error()); \
    } while (0)

static minima_status identity_apply(void *ctx, const double *x, double *y)
{
    size_t n = *(size_t *)ctx;
    memcpy(y, x, n * sizeof *y);
    return MINIMA_OK;
}

/* Everything written for layers that takes a model, not a net. */
static void test_refusals(void)
{
    minima_model *m = make_graph();
    CHECK(m != NULL);
    if (!m) return;
    CHECK(!m->is_mlp && m->n_layers == 0 && !m->widths);
    minima_dataset ds = make_data();
    size_t P = m->n_params;
    double scales[64], alpha[2] = {2, 0.5}, used[2];
    double *xi = calloc(P + 64, sizeof *xi), *theta = calloc(P, sizeof *theta);

    CHECK_REFUSED(minima_sym_layer_scales(m, alpha, 2, 0, 1e-12, scales, used));
    CHECK_REFUSED(minima_sym_neuron_scales(m, 0, 0, 2.0, scales));
    CHECK_REFUSED(minima_sym_random_scales(m, 1, 1.0, NULL, scales));
    minima_sym_canonical_params cp = minima_sym_canonical_default_params();
    CHECK_REFUSED(minima_sym_canonical(m, NULL, &cp, scales, NULL));
    CHECK_REFUSED(minima_wn_from_theta(m, NULL, 1.0, xi));
    CHECK_REFUSED(minima_wn_to_theta(m, xi, theta));
    size_t *idx = NULL, nidx = 0;
    CHECK_REFUSED(minima_wn_v_index(m, &idx, &nidx));
    minima_linop *h = NULL, *wh = NULL;
    CHECK_OK(minima_linop_create(&h, P, identity_apply, &P, NULL));
    if (h) CHECK_REFUSED(minima_wn_hessian(&wh, h, m, xi));
    minima_linop_free(h);
    minima_input_transform *t = NULL;
    minima_input_params ip = minima_input_default_params();
    CHECK_OK(minima_input_fit(&ds, &ip, &t));
    minima_model *folded = NULL;
    if (t) CHECK_REFUSED(minima_input_fold(t, m, 1, &folded));
    minima_input_transform_free(t);
    double norms[N_EX];
    CHECK_REFUSED(minima_input_gradient_norms(m, ds.x, N_EX, norms));
    /* the theorem checks accept a graph (tests/test_theorem_graph.c) */
    minima_theorem_env *env = NULL;
    CHECK_OK(minima_theorem_env_user(&env, m, &ds));
    minima_theorem_env_free(env);
    minima_model *rescaled = NULL;
    /* rescaling goes through the graph's group (tests/test_landscape_graph.c) */
    CHECK_OK(minima_api_model_rescale(m, "neurons=1:0.5", &rescaled));
    CHECK(rescaled && rescaled->n_params == m->n_params);
    minima_model_free(rescaled);
    /* a graph saves and loads (in the general form) */
    char path[512];
    snprintf(path, sizeof path, "%s/graph.safetensors", harness_tmpdir());
    CHECK_OK(minima_model_save(m, path, MINIMA_DTYPE_F64));
    minima_model *back = NULL;
    CHECK_OK(minima_model_load(path, NULL, &back));
    CHECK(back && !back->is_mlp && back->n_params == m->n_params);
    minima_model_free(back);
    free(xi);
    free(theta);
    free(ds.x);
    free(ds.labels);
    minima_model_free(m);
}

/* What needs only theta and the graph works on it. */
static void test_graph_capable(void)
{
    minima_model *m = make_graph();
    if (!m) return;
    minima_dataset ds = make_data();
    size_t P = m->n_params;

    /* the equivalence check runs the reference forward pass on any graph */
    minima_sym_equivalence eq;
    CHECK_OK(minima_sym_check_equivalence(m, m, &ds, &eq));
    CHECK(eq.max_abs_diff == 0 && eq.n_examples == N_EX && eq.max_abs_output > 0);
    minima_model *c = NULL;
    CHECK_OK(minima_model_copy(m, &c));
    if (c) {
        c->theta[m->nodes[5].bias_offset] += 1.0;   /* the head's first bias */
        CHECK_OK(minima_sym_check_equivalence(m, c, &ds, &eq));
        CHECK_ABS(eq.max_abs_diff, 1.0, 1e-12);
    }

    /* filter normalisation: every output row of every linear node gets the
     * norm of theta's row; biases zeroed */
    double *d = malloc(P * sizeof *d);
    CHECK_OK(minima_dir_filter(m, NULL, 9, MINIMA_FILTER_BIAS_ZERO, d));
    for (int i = 1; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        if (!nd->n_weight) continue;
        size_t cols = nd->n_weight / (size_t)nd->out;
        for (int r = 0; r < nd->out; r++) {
            double tn = 0, dn = 0;
            for (size_t j = 0; j < cols; j++) {
                double tv = m->theta[nd->weight_offset + (size_t)r * cols + j];
                double dv = d[nd->weight_offset + (size_t)r * cols + j];
                tn += tv * tv;
                dn += dv * dv;
            }
            CHECK_REL(sqrt(dn), sqrt(tn), 1e-12);
        }
        for (size_t j = 0; j < nd->n_bias; j++) CHECK(d[nd->bias_offset + j] == 0);
    }
    /* the straight line to a copy of the same graph */
    if (c) {
        CHECK_OK(minima_dir_interpolation(m, c, d));
        CHECK_ABS(d[m->nodes[5].bias_offset], 1.0, 1e-15);
    }
    free(d);
    minima_model_free(c);
    free(ds.x);
    free(ds.labels);
    minima_model_free(m);
}

/* ---- with a net over the graph, in a child process -------------------- */

/* Exit codes of the child: 0 every call succeeded or refused as it should,
 * 1 one returned something else (printed). */
static int engine_checks(void)
{
    minima_model *m = make_graph();
    minima_dataset ds = make_data();
    minima_net *net = NULL;
    minima_status st = minima_net_create(&net, m, &ds, NULL);
    if (st != MINIMA_OK) {
        /* an engine that cannot run graphs may refuse them cleanly */
        printf("engine refuses the graph: %s\n", minima_last_error());
        return st == MINIMA_EUNSUPPORTED ? 0 : 1;
    }
    int bad = 0;
    /* every measure computes on a graph (or fails without crashing) */
    static const char *const engine_only[] = {"hessian_max", "hessian_trace", "fisher_rao", "asam",
                                              "normalized_sharpness", "fms_penalty", "path_norm",
                                              "relative_flatness"};
    for (size_t i = 0; i < sizeof engine_only / sizeof *engine_only; i++) {
        const minima_measure *me = minima_measure_find(engine_only[i]);
        if (!me) { printf("no measure %s\n", engine_only[i]); bad = 1; continue; }
        minima_measure_result r;
        st = minima_measure_compute(me, net, NULL, 1, &r);
        printf("measure %s on a graph: %s (%g)\n", engine_only[i],
               st == MINIMA_OK ? "ok" : minima_last_error(), r.value);
        if (st != MINIMA_OK) bad = 1;
    }
    /* the audit runs on the graph's group (a measure that refuses graphs is
     * "not measured"); a sharpness list reports the layered measure's
     * refusal as that measure's failure and computes the others */
    minima_audit_result ar;
    st = minima_audit_run(net, NULL, 0, NULL, &ar);
    if (st != MINIMA_OK || !ar.graph || ar.n_not_equivalent) {
        printf("audit on a graph: status %d (%s), expected OK with every point equivalent\n", (int)st,
               st == MINIMA_OK ? "" : minima_last_error());
        bad = 1;
    }
    if (st == MINIMA_OK) minima_audit_result_free(&ar);
    /* a measure that does not apply to a graph (relative flatness needs a
     * linear output node; this graph ends with a relu): a sharpness list
     * reports it as not applicable and computes the others */
    minima_model *m2 = NULL;
    minima_net *net2 = NULL;
    minima_sharpness_request q = minima_sharpness_default_request();
    minima_sharpness_result sr;
    if (minima_arch_parse("6:5,relu,3,relu", 1, MINIMA_ACT_RELU, 0.01, &m2) != MINIMA_OK ||
        minima_net_create(&net2, m2, &ds, NULL) != MINIMA_OK) {
        printf("cannot build the relu-output graph: %s\n", minima_last_error());
        bad = 1;
    } else {
        q.measures = "relative_flatness,hessian_max";
        st = minima_sharpness_run(net2, &q, &sr);
        if (st != MINIMA_OK || sr.n_measures != 2 || sr.measures[0].status != MINIMA_EUNSUPPORTED ||
            !strstr(sr.measures[0].result.note, "not applicable") || sr.n_failed != 0 ||
            sr.measures[1].status != MINIMA_OK) {
            printf("sharpness list: status %d, relative_flatness status %d (note '%s'), %zu failed; "
                   "expected EUNSUPPORTED, not applicable, hessian_max computed\n", (int)st,
                   st == MINIMA_OK && sr.n_measures ? (int)sr.measures[0].status : -1,
                   st == MINIMA_OK && sr.n_measures ? sr.measures[0].result.note : "",
                   st == MINIMA_OK ? sr.n_failed : 0);
            bad = 1;
        }
        if (st == MINIMA_OK) minima_sharpness_result_free(&sr);
        q.measures = "relative_flatness";
        st = minima_sharpness_run(net2, &q, &sr);
        if (st != MINIMA_EUNSUPPORTED) {
            printf("sharpness relative_flatness alone on a relu-output graph: status %d, expected "
                   "EUNSUPPORTED\n", (int)st);
            bad = 1;
            if (st == MINIMA_OK) minima_sharpness_result_free(&sr);
        }
    }
    minima_net_free(net2);
    minima_model_free(m2);
    q.measures = "hessian_max";
    q.canonical = 1;
    st = minima_sharpness_run(net, &q, &sr);
    if (st != MINIMA_OK) {
        printf("sharpness --canonical on a graph: status %d (%s), expected OK\n", (int)st, minima_last_error());
        bad = 1;
    } else {
        if (!sr.canonical || sr.measures[0].canonical_status != MINIMA_OK) {
            printf("sharpness --canonical on a graph: no canonical value\n");
            bad = 1;
        }
        minima_sharpness_result_free(&sr);
    }
    minima_net_free(net);
    free(ds.x);
    free(ds.labels);
    minima_model_free(m);
    return bad;
}

static void test_with_engine(void)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid < 0) return;
    if (pid == 0) {
        int rc = engine_checks();
        fflush(stdout);
        _exit(rc);
    }
    int ws = 0;
    CHECK(waitpid(pid, &ws, 0) == pid);
    CHECK_MSG(!WIFSIGNALED(ws), "the checks with a net over a graph crashed (signal %d): "
              "minima_net_create or a measure read what a graph does not have",
              WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    CHECK_MSG(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
              "a call with a net over a graph neither succeeded nor refused (see above)");
}

int main(void)
{
    RUN(test_refusals);
    RUN(test_graph_capable);
    RUN(test_with_engine);
    return harness_report();
}
