/* cmd_demo.c — `minima demo`: the main job. Trains (or reuses) a ReLU network
 * on Fashion-MNIST, measures its curvature and sharpness, moves it along its
 * orbit of function-preserving rescalings, shows which measures move, runs
 * the theorem checks, draws the figures and writes DIR/report.md. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli_common.h"
#include "cli_load.h"
#include "cli_output.h"
#include "cli_plots.h"
#include "minima/alloc.h"
#include "minima/audit.h"
#include "minima/density.h"
#include "minima/eigen.h"
#include "minima/figures.h"
#include "minima/graph_symmetry.h"
#include "minima/landscape.h"
#include "minima/linop.h"
#include "minima/net.h"
#include "minima/safetensors.h"
#include "minima/symmetry.h"
#include "minima/tempfile.h"
#include "minima/theorem.h"
#include "minima/trace.h"
#include "minima/train.h"

int minima_cmd_demo(int argc, char **argv);
extern const char minima_cmd_demo_summary[];
const char minima_cmd_demo_summary[] = "the main job: one network, its curvature, its orbit, the paper's theorems, a report";

static const char usage[] =
    "usage: minima demo [--out DIR] [--data SRC] [--subset N] [--arch A] [--epochs E]\n"
    "                   [--measure NAMES|all] [--cnn-arch A|none] [--cnn-subset N]\n"
    "                   [--cnn-epochs E] [--cnn-measure NAMES|all] [--retrain] [--quick]\n"
    "                   [--strict]\n\n"
    "The main job, in about three minutes on two cores, for two networks: a ReLU\n"
    "multilayer perceptron and a small convolutional network (--cnn-arch none: the\n"
    "perceptron only):\n"
    "  1. train them on Fashion-MNIST (or reuse DIR/model.safetensors, DIR/cnn.safetensors);\n"
    "  2. measure them: test accuracy, top Hessian eigenvalues, trace, spectral density;\n"
    "  3. rescale each over several decades (layer-wise, or stage-wise on the CNN's graph)\n"
    "     and per neuron or channel at random, confirm the predictions are unchanged, and\n"
    "     evaluate the sharpness measures of the literature at every point (the audit);\n"
    "  4. print one table per network: for each measure, the range it took over\n"
    "     parameters that all compute the same function, whether the literature says it\n"
    "     should move, and its value at the canonical (minimum-norm) point;\n"
    "  5. draw loss landscapes through each network and through rescaled copies;\n"
    "  6. run the checks of the paper's theorems (and thm1, thm3 on the CNN);\n"
    "  7. write DIR/report.md with the tables, the verdicts and the figures.\n"
    "A measure whose verdict disagrees with the literature's expectation is a finding,\n"
    "reported in the table and the report, not a failure. Exit codes: 0 the demo ran\n"
    "and every theorem check passed; 1 a theorem check or a computation failed, or,\n"
    "with --strict, the audit has a disagreement, a measure not measured or a point\n"
    "that is not equivalent; 2 bad usage or input; 130 interrupted.";

/* ---- the report ----------------------------------------------------------- */

typedef struct {
    FILE *f;
    const char *dir;
} report;

static void rp(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rp(report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->f, fmt, ap);
    va_end(ap);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

static void path_in(char *buf, size_t size, const char *dir, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

static int make_dir(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

/* ---- steps ----------------------------------------------------------------- */

/* One network of the demo, and what was measured on it. */
typedef struct {
    const char *label;        /* "MLP", "CNN": headings and console lines */
    const char *arch;         /* minima_arch_parse's form */
    const char *file;         /* model file in DIR */
    const char *prefix;       /* of its figures' names: "" or "cnn_" */
    const char *measures;     /* "all" or registry names, comma-separated */
    int epochs, adam;
    double lr;
    size_t subset, curv_subset, audit_subset;   /* training examples used (0: all) */
    double trace_rtol;
    size_t density_steps;
    minima_model *model;
    minima_dataset *train, *curv_data, *audit_data;   /* slices of the training set */
    double test_loss, test_accuracy, train_loss, train_accuracy;
    int trained_now;
    double train_seconds;
    int agree;                /* the audit met every expectation */
} demo_net;

typedef struct {
    const char *dir, *source;
    int retrain, quick;
    minima_dataset *train_all, *test;
    demo_net nets[2];
    int n_nets;
} demo;

static minima_status slice(const minima_dataset *all, size_t n, minima_dataset **out)
{
    return minima_dataset_slice(all, 0, n && n < all->n ? n : all->n, out);
}

/* A model in DIR that this run may reuse: the same graph (activations and
 * biases included) and, for a perceptron, an activation the file records. */
static int reusable(const minima_model *m, const minima_model *want)
{
    char a[1024], b[1024];
    minima_arch_format(m, a, sizeof a);
    minima_arch_format(want, b, sizeof b);
    if (strcmp(a, b) != 0 || m->n_params != want->n_params) return 0;
    return !m->is_mlp || (m->activation == MINIMA_ACT_RELU && m->activation_source == MINIMA_FROM_FILE);
}

/* Step 1: the model, trained now or reused. */
static minima_status step_model(demo *d, demo_net *n)
{
    char path[4096];
    path_in(path, sizeof path, d->dir, n->file);
    minima_model *want = NULL;
    minima_status st;
    if ((st = minima_arch_parse(n->arch, 1, MINIMA_ACT_RELU, 0.01, &want)) != MINIMA_OK) return st;
    if ((st = slice(d->train_all, n->subset, &n->train)) != MINIMA_OK) goto done;
    if ((st = slice(n->train, n->curv_subset, &n->curv_data)) != MINIMA_OK) goto done;
    if ((st = slice(n->train, n->audit_subset, &n->audit_data)) != MINIMA_OK) goto done;
    if (!d->retrain) {
        minima_model *m = NULL;
        if (minima_model_load(path, NULL, &m) == MINIMA_OK && reusable(m, want)) {
            n->model = m;
            say("[1/7] %s: reusing %s (delete it or pass --retrain to train again)\n", n->label, path);
        } else {
            minima_model_free(m);
        }
    }
    if (!n->model) {
        n->model = want;
        want = NULL;
        minima_model_init(n->model, minima_train_init_seed(1));
        minima_train_params tp = minima_train_default_params();
        tp.epochs = n->epochs;
        if (n->adam) {
            tp.opt.kind = MINIMA_OPT_ADAM;
            tp.opt.lr = n->lr;
            tp.eval_train = 0;   /* the training set is large: the batches' mean loss */
        }
        minima_trainer *tr = NULL;
        if ((st = minima_trainer_alloc(&tr, n->model, n->train, d->test, &tp)) != MINIMA_OK) goto done;
        const minima_train_params *used = minima_trainer_params(tr);
        if (n->adam)
            say("[1/7] %s: training %s on %zu Fashion-MNIST images for %d epoch%s (Adam, lr %g, batch %zu)\n",
                n->label, n->arch, n->train->n, n->epochs, n->epochs == 1 ? "" : "s", used->opt.lr,
                used->batch_size);
        else
            say("[1/7] %s: training %s on %zu Fashion-MNIST images for %d epoch%s (SGD, lr %g, momentum %g, batch %zu)\n",
                n->label, n->arch, n->train->n, n->epochs, n->epochs == 1 ? "" : "s", used->opt.lr,
                used->opt.momentum, used->batch_size);
        double t0 = cli_now();
        while (!minima_trainer_done(tr)) {
            minima_epoch_stats es;
            if ((st = minima_trainer_epoch(tr, &es)) != MINIMA_OK) break;
            if (n->adam)
                say("      epoch %d: mean batch loss %.4f, test loss %.4f acc %.2f%%, %.1f s\n", es.epoch,
                    es.train_loss, es.test_loss, 100 * es.test_accuracy, es.seconds);
            else
                say("      epoch %d: train loss %.4f acc %.2f%%, test loss %.4f acc %.2f%%\n", es.epoch,
                    es.train_loss, 100 * es.train_accuracy, es.test_loss, 100 * es.test_accuracy);
        }
        minima_trainer_free(tr);
        if (st != MINIMA_OK) goto done;
        n->train_seconds = cli_now() - t0;
        n->trained_now = 1;
        minima_model_set_meta(n->model, "trained_by", "minima demo");
        minima_model_set_meta(n->model, "seed", "1");   /* the initialisation, for PAC-Bayes' w_0 */
        minima_model_set_meta(n->model, "data", d->source);
        if ((st = minima_model_save(n->model, path, MINIMA_DTYPE_F64)) != MINIMA_OK) goto done;
    }
    minima_net *net = NULL;
    if ((st = minima_net_create(&net, n->model, d->test, NULL)) != MINIMA_OK) goto done;
    st = minima_net_loss(net, NULL, &n->test_loss, &n->test_accuracy);
    minima_net_free(net);
    if (st != MINIMA_OK) goto done;
    if ((st = minima_net_create(&net, n->model, n->train, NULL)) != MINIMA_OK) goto done;
    st = minima_net_loss(net, NULL, &n->train_loss, &n->train_accuracy);
    minima_net_free(net);
    say("      test accuracy %.2f%% (loss %.4f), train accuracy %.2f%% (loss %.4f)\n",
        100 * n->test_accuracy, n->test_loss, 100 * n->train_accuracy, n->train_loss);
done:
    minima_model_free(want);
    return st;
}

/* Step 2: curvature at theta. */
static minima_status step_spectrum(demo *d, demo_net *n, report *r)
{
    minima_net *net = NULL;
    minima_linop *H = NULL;
    minima_eigs_result eig;
    minima_trace_result tr;
    minima_density_result dens;
    memset(&eig, 0, sizeof eig);
    memset(&dens, 0, sizeof dens);
    double *g = NULL;
    minima_status st;
    if ((st = minima_net_create(&net, n->model, n->curv_data, NULL)) != MINIMA_OK) return st;
    if ((st = minima_linop_hessian(&H, net)) != MINIMA_OK) goto done;
    size_t P = n->model->n_params;
    g = minima_alloc(P, sizeof *g);
    double loss = NAN, gn = 0;
    if (!g) { st = minima_error(MINIMA_ENOMEM, "out of memory"); goto done; }
    if ((st = minima_net_gradient(net, NULL, &loss, g)) != MINIMA_OK) goto done;
    for (size_t i = 0; i < P; i++) gn += g[i] * g[i];
    gn = sqrt(gn);
    say("[2/7] %s: curvature at theta: %zu parameters, %zu training examples\n", n->label, P, n->curv_data->n);
    double t0 = cli_now();
    minima_eigs_params ep = minima_eigs_default_params();
    ep.k_top = 5;
    ep.k_bottom = 1;
    if ((st = minima_eigs(H, &ep, &eig)) != MINIMA_OK) goto done;
    minima_trace_params tp = minima_trace_default_params();
    tp.rtol = n->trace_rtol;
    if ((st = minima_trace_hutchpp(H, &tp, &tr)) != MINIMA_OK) goto done;
    minima_density_params dp = minima_density_default_params();
    dp.n_steps = n->density_steps;
    if ((st = minima_density_slq(H, &dp, &dens)) != MINIMA_OK) goto done;
    double secs = cli_now() - t0;
    char path[4096];
    char name[64];
    snprintf(name, sizeof name, "%sspectrum.png", n->prefix);
    path_in(path, sizeof path, d->dir, name);
    if ((st = cli_plot_density(path, &dens, eig.top, eig.n_top,
                               n->prefix[0] ? "The CNN: Hessian spectral density (SLQ) and top eigenvalues (Lanczos)"
                                            : "Hessian spectral density (SLQ) and top eigenvalues (Lanczos)")) != MINIMA_OK)
        goto done;
    say("      lambda_max %.6g (residual %.1e), lambda_min %.6g, trace %.6g +- %.2g; %zu products, %.1f s\n",
        eig.top[0], eig.top_true_residual[0], eig.bottom[0], tr.estimate, tr.std_error,
        minima_net_n_products(net), secs);
    rp(r, "### %s\n\n", n->label);
    rp(r, "On %zu training examples: loss %.6f, gradient norm %.3g (a trained network is near, not at, "
       "a critical point).\n\n", n->curv_data->n, loss, gn);
    rp(r, "| quantity | value | how |\n|---|---|---|\n");
    for (int i = 0; i < eig.n_top; i++)
        rp(r, "| λ_%d | %.8g | Lanczos, residual ‖Hx − λx‖ = %.1e |\n", i + 1, eig.top[i],
           eig.top_true_residual[i]);
    rp(r, "| λ_min | %.6g | Lanczos, residual %.1e |\n", eig.bottom[0], eig.bottom_true_residual[0]);
    rp(r, "| Tr H | %.6g ± %.2g | Hutch++, %zu products (to %g relative standard error) |\n", tr.estimate,
       tr.std_error, tr.n_products, n->trace_rtol);
    rp(r, "\n%zu Hessian-vector products in %.1f s, all exact (R-operator) in float64.\n\n",
       minima_net_n_products(net), secs);
    rp(r, "![%s spectrum](%s)\n\n", n->label, name);
done:
    minima_density_result_free(&dens);
    minima_eigs_result_free(&eig);
    minima_free(g);
    minima_linop_free(H);
    minima_net_free(net);
    return st;
}

static const char *fmt_value(char *buf, size_t n, double v)
{
    if (!isfinite(v)) snprintf(buf, n, "–");
    else snprintf(buf, n, "%.4g", v);
    return buf;
}

/* Steps 3-4: the orbit and the table. */
static minima_status step_audit(demo *d, demo_net *n, report *r)
{
    minima_net *net = NULL;
    minima_audit_result ar;
    memset(&ar, 0, sizeof ar);
    minima_status st;
    if ((st = minima_net_create(&net, n->model, n->audit_data, NULL)) != MINIMA_OK) return st;
    minima_audit_params ap = minima_audit_default_params();
    if (d->quick) {
        ap.decades = 2;
        ap.neuron_draws = 1;
    }
    const char *names[64];
    size_t n_names = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", n->measures);
    if (strcmp(n->measures, "all") != 0)
        for (char *tok = strtok(buf, ","); tok && n_names < 64; tok = strtok(NULL, ",")) names[n_names++] = tok;
    int graph = !n->model->is_mlp;
    say("[3/7] %s: invariance audit on %zu training examples: %s alpha over %g decades each way, "
        "%d random per-%s rescalings\n", n->label, n->audit_data->n, graph ? "stage-wise" : "layer-wise",
        ap.decades * ap.decade_step, ap.neuron_draws, graph ? "channel" : "neuron");
    st = minima_audit_run(net, n_names ? names : NULL, n_names, &ap, &ar);
    if (st != MINIMA_OK) goto done;
    n->agree = ar.all_agree;
    say("\n[4/7] %s: every parameter point below computes the same function (largest output change %s)\n\n",
        n->label, ar.n_not_equivalent ? "TOO LARGE at some points" : "within 1e-9 relative");
    say("  %-22s %-14s %12s %12s %12s  %s\n", "measure", "invariant?", "min", "max", "max/min", "measured");
    rp(r, "### %s\n\n", n->label);
    if (graph)
        rp(r, "The network was rescaled stage-wise through the rescaling group of its graph (every "
           "channel of the first stage by 10^s, the output layer's weights by 10^−s, s from −%g to %g; "
           "docs/symmetry.md) and per channel at random (%d draw%s, log-normal spread %g); each of "
           "the %zu parameter points computes the same function (largest relative output change over "
           "%zu examples, by an independent forward pass: ", ap.decades * ap.decade_step,
           ap.decades * ap.decade_step, ap.neuron_draws, ap.neuron_draws == 1 ? "" : "s", ap.spread,
           ar.n_points, n->audit_data->n);
    else
        rp(r, "The network was rescaled layer-wise (α_1 = 10^s, α_K = 10^−s, s from −%g to %g) and "
           "per neuron at random (%d draw%s, log-normal spread %g); each of the %zu parameter points "
           "computes the same function (largest relative output change over %zu examples: ",
           ap.decades * ap.decade_step, ap.decades * ap.decade_step, ap.neuron_draws,
           ap.neuron_draws == 1 ? "" : "s", ap.spread,
           ar.n_points, n->audit_data->n);
    double worst = 0;
    for (size_t i = 0; i < ar.n_points; i++)
        if (ar.points[i].equivalence.rel_diff > worst) worst = ar.points[i].equivalence.rel_diff;
    rp(r, "%.1e). Each measure was evaluated at every point; the audit took %.0f s.\n\n", worst, ar.seconds);
    rp(r, "| measure | paper/literature: invariant? | min | max | max/min | measured | at the canonical point |\n");
    rp(r, "|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < ar.n_measures; i++) {
        const minima_audit_measure *m = &ar.measures[i];
        char a[32], b[32], c[32], e[32];
        if (m->status != MINIMA_OK && m->n_values == 0) {
            say("  %-22s %-14s %s\n", m->measure->name, minima_invariance_name(m->expected), m->error);
            rp(r, "| %s | %s | – | – | – | failed: %s | – |\n", m->measure->name,
               minima_invariance_name(m->expected), m->error);
            continue;
        }
        say("  %-22s %-14s %12s %12s %12s  %s%s\n", m->measure->name, minima_invariance_name(m->expected),
            fmt_value(a, sizeof a, m->min), fmt_value(b, sizeof b, m->max), fmt_value(c, sizeof c, m->ratio),
            m->verdict, m->measured && !m->agrees ? "  <-- disagrees" : "");
        rp(r, "| %s | %s | %s | %s | %s | %s%s | %s |\n", m->measure->title,
           minima_invariance_name(m->expected), a, b, c, m->verdict,
           m->measured && !m->agrees ? " (**disagrees**)" : "",
           m->canonical ? fmt_value(e, sizeof e, m->canonical_value) : "(invariant)");
    }
    int any = 0;
    for (size_t i = 0; i < ar.n_measures; i++) {
        const minima_audit_measure *m = &ar.measures[i];
        if (!m->measured || m->agrees) continue;
        if (!any) rp(r, "\n**Where the measurement disagrees with the literature's expectation.** ");
        any = 1;
        rp(r, "`%s` (%s): expected %s, measured \"%s\" with the source's default settings `%s`. ",
           m->measure->name, m->measure->source, minima_invariance_name(m->expected), m->verdict,
           m->params);
    }
    if (any)
        rp(r, "Measures that are only approximately invariant (a floor such as ASAM's η or the "
           "magnitude-aware PAC-Bayes ε added to |w|) stop being invariant once rescaling pushes "
           "weights far below that floor; with the floor set to 0 they are exactly invariant "
           "(`minima audit --set asam:eta=0,biases=1`, docs/audit.md).\n");
    if (ar.n_not_measured)
        rp(r, "\n%zu measure%s could not be compared with the expectation (not measured: a failure or "
           "no finite value at some point; the reason is in the table).\n", ar.n_not_measured,
           ar.n_not_measured == 1 ? "" : "s");
    rp(r, "\nFor every measure that moves, the last column is its value at the orbit's minimum-norm "
       "point (the canonical representative, docs/symmetry.md), which is the same for every parameter point "
       "of the function and so invariant by construction.\n\n");
    char path[4096];
    char name[64];
    snprintf(name, sizeof name, "%saudit.png", n->prefix);
    path_in(path, sizeof path, d->dir, name);
    if (minima_audit_plot(path, &ar, graph ? "the demo CNN" : "the demo MLP") == MINIMA_OK)
        rp(r, "![%s audit](%s)\n\n", n->label, name);
    say("\n");
done:
    minima_audit_result_free(&ar);
    minima_net_free(net);
    return st;
}

/* One before/after comparison: random and filter-normalized 1-D slices
 * through theta and through theta_r, a rescaled copy (the same function). */
static minima_status compare_slices(minima_net *net, const double *theta_r, size_t npts,
                                    const char *path, const char *title, double diff[2])
{
    minima_landscape before[2], after[2];
    memset(before, 0, sizeof before);
    memset(after, 0, sizeof after);
    size_t P = minima_net_n_params(net);
    double *theta = minima_alloc(P, sizeof *theta), *d = minima_alloc(P, sizeof *d);
    minima_status st = theta && d ? MINIMA_OK : minima_error(MINIMA_ENOMEM, "out of memory");
    if (st == MINIMA_OK) memcpy(theta, minima_net_point(net), P * sizeof *theta);
    const minima_dir_kind kinds[2] = {MINIMA_DIR_RANDOM, MINIMA_DIR_FILTER};
    for (int i = 0; i < 2 && st == MINIMA_OK; i++) {
        minima_dir_params dp = minima_dir_default_params();
        dp.kind = kinds[i];
        dp.seed = 11;
        for (int side = 0; side < 2 && st == MINIMA_OK; side++) {
            const double *pt = side ? theta_r : theta;
            if ((st = minima_dir_make(net, pt, &dp, d, NULL)) == MINIMA_OK)
                st = minima_landscape_1d(net, pt, d, -1, 1, npts, side ? &after[i] : &before[i]);
        }
        if (st == MINIMA_OK) minima_landscape_diff(&before[i], &after[i], &diff[i], NULL);
    }
    if (theta && minima_net_set_point(net, theta) != MINIMA_OK && st == MINIMA_OK)
        st = minima_error(MINIMA_EFAILED, "cannot restore the anchor");
    if (st == MINIMA_OK) {
        const minima_landscape *b[2] = {&before[0], &before[1]}, *a[2] = {&after[0], &after[1]};
        const char *names[2] = {"random direction", "filter-normalized"};
        minima_landscape_plot_options po = minima_landscape_plot_default_options();
        po.xlabel = "t (step along the direction)";
        po.title = title;
        st = minima_landscape_plot_compare(path, b, a, names, 2, "through θ", "through A θ", &po);
    }
    for (int i = 0; i < 2; i++) {
        minima_landscape_free(&before[i]);
        minima_landscape_free(&after[i]);
    }
    minima_free(theta);
    minima_free(d);
    return st;
}

/* The two rescaled copies of the landscape step: the layer-wise (stage-wise
 * on a graph) map alpha = (10, 1, ..., 1, 0.1) when which = 0, random
 * per-neuron (per-channel) factors of log-normal spread 0.5 when which = 1. */
static minima_status rescaled_copy(const minima_model *m, int which, double *theta_r)
{
    minima_status st = MINIMA_OK;
    double alpha[256];
    if (m->is_mlp) {
        size_t nu = minima_sym_n_units(m);
        double *scales = minima_alloc(nu ? nu : 1, sizeof *scales);
        if (!scales) return minima_error(MINIMA_ENOMEM, "out of memory");
        int K = m->n_layers;
        if (K > 256) st = minima_error(MINIMA_EUNSUPPORTED, "more than 256 layers");
        for (int k = 0; k < K && st == MINIMA_OK; k++) alpha[k] = k == 0 ? 10 : k == K - 1 ? 0.1 : 1;
        if (st == MINIMA_OK)
            st = which == 0 ? minima_sym_layer_scales(m, alpha, K, 0, 1e-12, scales, NULL)
                            : minima_sym_random_scales(m, 5, 0.5, NULL, scales);
        if (st == MINIMA_OK) minima_sym_apply(m, scales, m->theta, theta_r);
        minima_free(scales);
        return st;
    }
    minima_gsym *g = NULL;
    MINIMA_TRY(minima_gsym_create(m, &g));
    double *u = minima_alloc(g->n_classes ? (size_t)g->n_classes : 1, sizeof *u);
    int S = g->n_stages;
    if (!u) st = minima_error(MINIMA_ENOMEM, "out of memory");
    else if (S + 1 > 256) st = minima_error(MINIMA_EUNSUPPORTED, "more than 255 stages");
    for (int k = 0; k <= S && st == MINIMA_OK; k++) alpha[k] = k == 0 ? 10 : k == S ? 0.1 : 1;
    if (st == MINIMA_OK)
        st = which == 0 ? minima_gsym_stage_u(g, alpha, S + 1, 0, 1e-12, u, NULL)
                        : minima_gsym_random_u(g, 5, 0.5, NULL, u);
    if (st == MINIMA_OK) st = minima_gsym_apply(g, m, u, NULL, theta_r);
    minima_free(u);
    minima_gsym_free(g);
    return st;
}

/* Landscapes before and after function-preserving rescalings. */
static minima_status step_landscape(demo *d, demo_net *n, report *r)
{
    minima_status st;
    minima_net *net = NULL;
    int graph = !n->model->is_mlp;
    double *theta_r = minima_alloc(n->model->n_params, sizeof *theta_r);
    if (!theta_r) return minima_error(MINIMA_ENOMEM, "out of memory");
    if ((st = minima_net_create(&net, n->model, n->audit_data, NULL)) != MINIMA_OK) goto done;
    size_t npts = d->quick ? 21 : 41;
    say("[5/7] %s: loss landscapes through theta and through rescaled copies (same function), %zu points each\n",
        n->label, npts);
    double dl[2], dn[2];
    char path[4096], name[64];
    if ((st = rescaled_copy(n->model, 0, theta_r)) != MINIMA_OK) goto done;
    snprintf(name, sizeof name, "%slandscape_layerwise.png", n->prefix);
    path_in(path, sizeof path, d->dir, name);
    if ((st = compare_slices(net, theta_r, npts, path,
                             graph ? "The same function: θ and A θ, stage-wise α = (10, …, 0.1)"
                                   : "The same function: θ and A θ = T#dα#u θ, layer-wise α = (10, …, 0.1)",
                             dl)) != MINIMA_OK)
        goto done;
    if ((st = rescaled_copy(n->model, 1, theta_r)) != MINIMA_OK) goto done;
    snprintf(name, sizeof name, "%slandscape_neuron.png", n->prefix);
    path_in(path, sizeof path, d->dir, name);
    if ((st = compare_slices(net, theta_r, npts, path,
                             graph ? "The same function: θ and A θ, random per-channel scales (spread 0.5)"
                                   : "The same function: θ and A θ, random per-neuron scales (spread 0.5)",
                             dn)) != MINIMA_OK)
        goto done;
    say("      largest loss change of the slice: %s rescaling: random %.3g, filter-normalized %.3g; "
        "per-%s: random %.3g, filter-normalized %.3g\n", graph ? "stage-wise" : "layer-wise", dl[0], dl[1],
        graph ? "channel" : "neuron", dn[0], dn[1]);
    rp(r, "### %s\n\n", n->label);
    rp(r, "1-D slices L(θ + t d) on %zu training examples, through θ and through a rescaled Aθ that "
       "computes exactly the same function, along a random Gaussian direction (scaled to ‖θ‖) and "
       "along Li et al.'s filter-normalized direction from the same draw (one norm per %s).\n\n",
       n->audit_data->n, graph ? "filter: a convolution's output channel, a linear layer's row" : "row");
    rp(r, "| rescaling | largest change of the slice, random direction | filter-normalized |\n|---|---|---|\n");
    rp(r, "| %s, α = (10, …, 0.1) | %.3g | %.3g |\n", graph ? "stage-wise" : "layer-wise", dl[0], dl[1]);
    rp(r, "| per-%s, log-normal spread 0.5 | %.3g | %.3g |\n\n", graph ? "channel" : "neuron", dn[0], dn[1]);
    if (!graph)
        rp(r, "Filter normalization undoes a layer-wise rescaling exactly (each row's own factor cancels), "
           "but not a per-neuron one: the column factors 1/c of the next layer survive "
           "(docs/landscape.md derives this). Slicing through the canonical minimum-norm point "
           "(`minima landscape --canonical`) removes both.\n\n");
    else
        rp(r, "As for the perceptron, filter normalization undoes a stage-wise map exactly: every "
           "filter's weights share one factor, since the channels a filter reads all belong to one "
           "stage. A per-channel map leaves the factors of the input channels inside each filter, "
           "which the filter's norm does not undo.\n\n");
    rp(r, "![%s stage-wise](%slandscape_layerwise.png)\n\n![%s per-unit](%slandscape_neuron.png)\n\n",
       n->label, n->prefix, n->label, n->prefix);
done:
    minima_free(theta_r);
    minima_net_free(net);
    return st;
}

/* One theorem check: its line on stderr and its row of the report's table
 * (paper NULL: the table without the paper column; on: the network it ran
 * on, or NULL for the built-in ones). Clears *all_passed when it failed. */
static void report_check(report *r, const minima_theorem_result *t, const char *paper, const char *on,
                         int *all_passed)
{
    const char *verdict = !t->applicable ? "not applicable" : t->passed ? "passed" : "**FAILED**";
    if (t->applicable && !t->passed) *all_passed = 0;
    say("  %-8s %-15s %s%s%s%s\n", t->name, t->applicable ? (t->passed ? "passed" : "FAILED") : "n/a",
        t->title, on ? " (on the " : "", on ? on : "", on ? ")" : "");
    rp(r, "| %s: %s | ", t->name, t->title);
    if (paper) rp(r, "%s | ", paper);
    rp(r, "%s | ", verdict);
    /* a table cell: one line, with '|' escaped */
    for (const char *c = t->applicable ? t->details : t->reason; *c; c++) {
        if (*c == '|') fputs("\\|", r->f);
        else fputc(*c == '\n' ? ' ' : *c, r->f);
    }
    rp(r, " |\n");
}

/* Step 5: the theorems. */
static minima_status step_theorems(demo *d, report *r, int *all_passed)
{
    minima_theorem_params tp = minima_theorem_default_params();
    minima_theorem_env *env = NULL;
    say("[6/7] the paper's theorems, checked numerically on built-in networks at exact critical points\n");
    MINIMA_TRY(minima_theorem_env_builtin(&env, &tp));
    size_t n_checks = 0;
    const minima_theorem_check *checks = minima_theorems(&n_checks);
    *all_passed = 1;
    rp(r, "## 6. The paper's theorems, checked numerically\n\n");
    rp(r, "On built-in networks at exact critical points (a ReLU teacher whose target noise is "
       "projected so that it stays a critical point, and a one-hidden-layer student trained by "
       "full-batch gradient descent and polished by Newton steps); `minima theorem all` prints the "
       "same with every hypothesis and number (docs/theorem.md).\n\n");
    rp(r, "| check | paper | verdict | result |\n|---|---|---|---|\n");
    minima_status st = MINIMA_OK;
    for (size_t i = 0; i < n_checks; i++) {
        minima_theorem_result t;
        st = minima_theorem_run(&checks[i], env, &tp, &t);
        if (st != MINIMA_OK) break;
        report_check(r, &t, checks[i].paper, NULL, all_passed);
    }
    rp(r, "\n");
    minima_theorem_env_free(env);
    env = NULL;
    /* thm1 and thm3 on the trained graph networks, through their groups */
    static const char *const on_graph[] = {"thm1", "thm3"};
    for (int k = 0; k < d->n_nets && st == MINIMA_OK; k++) {
        demo_net *n = &d->nets[k];
        if (n->model->is_mlp) continue;
        if ((st = minima_theorem_env_user(&env, n->model, n->audit_data)) != MINIMA_OK) break;
        rp(r, "On the trained %s and %zu of its training images (stage-wise maps and random "
           "per-channel factors of its rescaling group; `minima theorem thm1 --model %s --data "
           "...`):\n\n| check | verdict | result |\n|---|---|---|\n", n->label, n->audit_data->n, n->file);
        for (size_t i = 0; i < 2 && st == MINIMA_OK; i++) {
            minima_theorem_result t;
            const minima_theorem_check *c = minima_theorem_find(on_graph[i]);
            if (!c) break;
            if ((st = minima_theorem_run(c, env, &tp, &t)) != MINIMA_OK) break;
            report_check(r, &t, NULL, n->label, all_passed);
        }
        rp(r, "\n");
        minima_theorem_env_free(env);
        env = NULL;
    }
    minima_theorem_env_free(env);
    return st;
}

static minima_status step_figures(demo *d, report *r)
{
    char dir[4096];
    path_in(dir, sizeof dir, d->dir, "figures");
    if (make_dir(dir) != 0) return minima_error(MINIMA_EIO, "cannot create directory '%s'", dir);
    minima_figures_params fp = minima_figures_default_params();
    if (d->quick) fp.grid = 81;
    minima_figures_report fr;
    minima_status st = minima_figures_draw(dir, &fp, &fr);
    if (st != MINIMA_OK) return st;
    rp(r, "## The paper's figures, from real computations\n\n");
    rp(r, "Each is computed on a small real network (docs/figures.md says how).\n\n");
    rp(r, "| | |\n|---|---|\n");
    rp(r, "| ![Fig. 1](figures/fig1_flatness.png) | ![Fig. 2](figures/fig2_levelsets.png) |\n");
    rp(r, "| ![Fig. 3](figures/fig3_boxes.png) | ![Fig. 4](figures/fig4_balls.png) |\n");
    rp(r, "| ![Fig. 5](figures/fig5_reparam.png) | ![Supp. Fig. 1](figures/supp_fig1_radial.png) |\n\n");
    return MINIMA_OK;
}

static void net_free(demo_net *n)
{
    minima_model_free(n->model);
    minima_dataset_free(n->train);
    minima_dataset_free(n->curv_data);
    minima_dataset_free(n->audit_data);
}

/* The summary table of section 1: one row a network. */
static void report_networks(const demo *d, report *r)
{
    rp(r, "## 1. The networks\n\n");
    rp(r, "| network | architecture | parameters | trained | test accuracy | training accuracy |\n");
    rp(r, "|---|---|---|---|---|---|\n");
    for (int k = 0; k < d->n_nets; k++) {
        const demo_net *n = &d->nets[k];
        char how[160];
        if (n->trained_now)
            snprintf(how, sizeof how, "%d epoch%s of %s on %zu images, %.0f s", n->epochs, n->epochs == 1 ? "" : "s",
                     n->adam ? "Adam" : "SGD", n->train->n, n->train_seconds);
        else
            snprintf(how, sizeof how, "reused (`%s`, trained by an earlier run)", n->file);
        rp(r, "| %s | `%s` | %zu | %s | **%.2f%%** (loss %.4f, %zu images) | %.2f%% (loss %.4f) |\n", n->label,
           n->arch, n->model->n_params, how, 100 * n->test_accuracy, n->test_loss, d->test->n,
           100 * n->train_accuracy, n->train_loss);
    }
    rp(r, "\nBoth are rectified (ReLU) networks with biases, in float64, on Fashion-MNIST; the models are "
       "in `model.safetensors`%s.\n\n", d->n_nets > 1 ? " and `cnn.safetensors`" : "");
}

int minima_cmd_demo(int argc, char **argv)
{
    demo d;
    const char *max_data_bytes = NULL;
    int strict = 0;
    memset(&d, 0, sizeof d);
    d.dir = "minima-demo";
    d.source = "fashion-mnist";
    demo_net *mlp = &d.nets[0], *cnn = &d.nets[1];
    *mlp = (demo_net){.label = "MLP", .arch = "784-64-64-10", .file = "model.safetensors", .prefix = "",
                      .measures = "all", .epochs = 8, .lr = 0, .subset = 5000, .curv_subset = 0,
                      .audit_subset = 1000, .trace_rtol = 0.01, .density_steps = 100};
    *cnn = (demo_net){.label = "CNN", .arch = "1x28x28:conv8k5p2,relu,maxpool2,conv16k5,relu,maxpool2,flatten,64,relu,10",
                      .file = "cnn.safetensors", .prefix = "cnn_", .measures = "all", .epochs = 4,
                      .adam = 1, .lr = 0.002, .subset = 0, .curv_subset = 500, .audit_subset = 100,
                      .trace_rtol = 0.05, .density_steps = 40};
    const cli_option opts[] = {
        {"--out", OPT_STRING, &d.dir, "directory for the models, the figures and report.md", "DIR"},
        {"--data", OPT_STRING, &d.source, "training data (its test split is SRC:test)", "SRC"},
        {"--subset", OPT_SIZE, &mlp->subset, "the MLP's training examples (0: all)", "N", CLI_IN(0, 1e9)},
        CLI_DATA_LIMIT_OPTION(max_data_bytes),
        {"--audit-subset", OPT_SIZE, &mlp->audit_subset, "training examples the MLP's audit and landscapes use (0: all it trained on)", "N", CLI_IN(0, 1e9)},
        {"--arch", OPT_STRING, &mlp->arch, "the MLP's widths", "A"},
        {"--epochs", OPT_INT, &mlp->epochs, "the MLP's training epochs", "E", CLI_IN(1, 1000000)},
        {"--measure", OPT_STRING, &mlp->measures, "measures to audit on the MLP (registry names, comma-separated)", "NAMES"},
        {"--cnn-arch", OPT_STRING, &cnn->arch, "the CNN (SHAPE:LAYER,..., docs/model-files.md), or none", "A"},
        {"--cnn-subset", OPT_SIZE, &cnn->subset, "the CNN's training examples (0: all)", "N", CLI_IN(0, 1e9)},
        {"--cnn-epochs", OPT_INT, &cnn->epochs, "the CNN's training epochs (Adam, lr 0.002)", "E", CLI_IN(1, 1000000)},
        {"--cnn-curvature-subset", OPT_SIZE, &cnn->curv_subset, "training examples of the CNN's curvature (0: all it trained on)", "N", CLI_IN(0, 1e9)},
        {"--cnn-audit-subset", OPT_SIZE, &cnn->audit_subset, "training examples of the CNN's audit, landscapes and theorem checks (0: all)", "N", CLI_IN(0, 1e9)},
        {"--cnn-measure", OPT_STRING, &cnn->measures, "measures to audit on the CNN", "NAMES"},
        {"--retrain", OPT_FLAG, &d.retrain, "train even if the models exist in DIR", NULL},
        {"--quick", OPT_FLAG, &d.quick, "fewer orbit points and coarser figures (for tests)", NULL},
        {"--strict", OPT_FLAG, &strict, "exit 1 when an audit has a disagreement or a measure not measured", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("demo", usage, opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0) return rc;
    if (mlp->epochs < 1 || cnn->epochs < 1) return cli_usage_error("demo", "--epochs and --cnn-epochs must be >= 1");
    d.n_nets = strcmp(cnn->arch, "none") == 0 ? 1 : 2;
    for (int k = 0; k < d.n_nets; k++) {   /* a bad architecture costs nothing */
        minima_model *m = NULL;
        if (minima_arch_parse(d.nets[k].arch, 1, MINIMA_ACT_RELU, 0.01, &m) != MINIMA_OK)
            return cli_usage_error("demo", "%s: %s", k ? "--cnn-arch" : "--arch", minima_last_error());
        minima_model_free(m);
    }
    if (make_dir(d.dir) != 0)
        return cli_usage_error("demo", "cannot create the output directory '%s': %s", d.dir, strerror(errno));
    {   /* before the training: a directory that cannot be written costs nothing */
        cli_files io = {0};
        cli_files_output(&io, "--out", d.dir, CLI_OUT_DIR);
        if ((rc = cli_files_check("demo", &io)) >= 0) return rc;
    }
    double t0 = cli_now();
    minima_status st;
    report r = {NULL, d.dir};
    char path[4096], tmp[4200];
    int report_slot = -1;
    minima_data_options o = minima_data_default_options();
    o.subset = 0;   /* all the training examples any network needs */
    for (int k = 0; k < d.n_nets; k++) {
        if (d.nets[k].subset == 0) { o.subset = 0; break; }
        if (d.nets[k].subset > o.subset) o.subset = d.nets[k].subset;
    }
    if ((rc = cli_data_limit("demo", max_data_bytes, &o.max_bytes)) >= 0) goto done;
    if ((st = minima_data_load(d.source, &o, &d.train_all)) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }
    char test_src[512];
    snprintf(test_src, sizeof test_src, "%s:test", d.source);
    o.subset = 0;
    if ((st = minima_data_load(strchr(d.source, ':') ? d.source : test_src, &o, &d.test)) != MINIMA_OK) {
        rc = cli_fail("demo", st);
        goto done;
    }
    for (int k = 0; k < d.n_nets; k++) {   /* every network fits the data before any trains */
        minima_model *m = NULL;
        if ((st = minima_arch_parse(d.nets[k].arch, 1, MINIMA_ACT_RELU, 0.01, &m)) != MINIMA_OK) {
            rc = cli_fail("demo", st);
            goto done;
        }
        size_t in = minima_model_n_inputs(m);
        int out = minima_model_n_outputs(m);
        minima_model_free(m);
        if (in != (size_t)d.train_all->d || (d.train_all->n_classes > 0 && out != d.train_all->n_classes)) {
            rc = cli_usage_error("demo", "%s '%s' maps %zu inputs to %d outputs, but '%s' has %d features "
                                 "and %d classes; pass %s for this data", k ? "--cnn-arch" : "--arch",
                                 d.nets[k].arch, in, out, d.source, d.train_all->d, d.train_all->n_classes,
                                 k ? "a matching --cnn-arch, or --cnn-arch none," : "a matching --arch");
            goto done;
        }
    }
    for (int k = 0; k < d.n_nets; k++)
        if ((st = step_model(&d, &d.nets[k])) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }
    path_in(path, sizeof path, d.dir, "report.md");
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    /* The report grows in report.md.tmp for the whole run: a failure removes
     * it, and so does a second Ctrl-C (through the registry). */
    report_slot = minima_tempfile_register(tmp);
    if (!(r.f = fopen(tmp, "w"))) {
        rc = cli_usage_error("demo", "cannot write '%s': %s", tmp, strerror(errno));
        goto done;
    }
    rp(&r, "# minima demo report\n\n");
    rp(&r, "*Sharp minima can generalize* (Dinh et al. 2017): for a rectified network, the usual "
       "notions of a flat minimum can be changed at will by reparametrizations that leave the "
       "function unchanged. This report measures that on real networks.\n\n");
    report_networks(&d, &r);
    rp(&r, "## 2. Curvature at the trained parameters\n\n");
    for (int k = 0; k < d.n_nets; k++)
        if ((st = step_spectrum(&d, &d.nets[k], &r)) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }
    int agree = 1, passed = 0;
    rp(&r, "## 3–4. One function, many parameters: which measures move?\n\n");
    for (int k = 0; k < d.n_nets; k++) {
        if ((st = step_audit(&d, &d.nets[k], &r)) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }
        agree &= d.nets[k].agree;
    }
    rp(&r, "## 5. Loss landscapes: the picture depends on the parametrization\n\n");
    for (int k = 0; k < d.n_nets; k++)
        if ((st = step_landscape(&d, &d.nets[k], &r)) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }
    if ((st = step_theorems(&d, &r, &passed)) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }
    say("[7/7] the paper's figures\n");
    if ((st = step_figures(&d, &r)) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }
    rp(&r, "---\nWritten by `minima demo` in %.0f s.\n", cli_now() - t0);
    if (fclose(r.f) != 0 || minima_tempfile_commit(tmp, path) != 0) {
        r.f = NULL;
        rc = cli_usage_error("demo", "cannot write '%s': %s", path, strerror(errno));
        unlink(tmp);
        goto done;
    }
    r.f = NULL;
    minima_tempfile_unregister(report_slot);
    report_slot = -1;
    say("\nreport: %s (figures beside it), %.0f s in all\n", path, cli_now() - t0);
    if (!agree)
        say("note: some measured verdicts disagree with the literature's expectations; that is a "
            "finding, not a failure (see the tables)\n");
    if (!passed) say("error: some theorem checks failed (see the report)\n");
    rc = passed ? EXIT_OK : EXIT_COMPUTE;
    if (strict && !agree) {
        say("error: --strict: the audit has findings (disagreements, measures not measured or points "
            "flagged; see the tables)\n");
        rc = EXIT_COMPUTE;
    }
done:
    if (r.f) {                            /* an unfinished report: no stale report.md.tmp */
        fclose(r.f);
        unlink(tmp);
    }
    minima_tempfile_unregister(report_slot);
    for (int k = 0; k < 2; k++) net_free(&d.nets[k]);
    minima_dataset_free(d.train_all);
    minima_dataset_free(d.test);
    return rc;
}
