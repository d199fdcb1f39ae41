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
    "                   [--measure NAMES|all] [--retrain] [--quick] [--strict]\n\n"
    "The main job, in a few minutes on two cores:\n"
    "  1. train a ReLU network on Fashion-MNIST (or reuse DIR/model.safetensors);\n"
    "  2. measure it: test accuracy, top Hessian eigenvalues, trace, spectral density,\n"
    "     sharpness measures of the literature;\n"
    "  3. rescale it layer-wise over several decades and per neuron at random, confirm\n"
    "     the predictions are unchanged, and measure again (the invariance audit);\n"
    "  4. print one table: for each measure, the range it took over parameters that\n"
    "     all compute the same function, and whether the paper says it should move;\n"
    "  5. run the checks of the paper's theorems;\n"
    "  6. write DIR/report.md with the tables, the verdicts and the figures (spectrum,\n"
    "     audit, loss landscapes before/after rescaling, the paper's figures).\n"
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

typedef struct {
    const char *dir, *source, *arch, *measures;
    size_t subset, audit_subset;
    int epochs, retrain, quick;
    minima_model *model;
    minima_dataset *train, *test, *audit_data;
    double test_loss, test_accuracy, train_loss, train_accuracy;
    int trained_now;
    double train_seconds;
} demo;

/* Step 1: the model, trained now or reused. */
static minima_status step_model(demo *d)
{
    char path[4096];
    path_in(path, sizeof path, d->dir, "model.safetensors");
    int *widths = NULL, K = 0;
    MINIMA_TRY(minima_parse_arch(d->arch, &widths, &K));
    minima_status st = MINIMA_OK;
    if (!d->retrain) {
        minima_model *m = NULL;
        if (minima_model_load(path, NULL, &m) == MINIMA_OK) {
            /* only a model that records the relu the demo trains with is the demo's */
            int same = m->n_layers == K && m->has_bias && m->activation == MINIMA_ACT_RELU &&
                       m->activation_source == MINIMA_FROM_FILE;
            for (int k = 0; same && k <= K; k++) same = m->widths[k] == widths[k];
            if (same) {
                d->model = m;
                say("[1/6] reusing %s (delete it or pass --retrain to train again)\n", path);
            } else {
                minima_model_free(m);
            }
        }
    }
    if (!d->model) {
        if ((st = minima_model_create(&d->model, K, widths, 1, MINIMA_ACT_RELU)) != MINIMA_OK) goto done;
        minima_model_init(d->model, minima_train_init_seed(1));
        minima_train_params tp = minima_train_default_params();
        tp.epochs = d->epochs;
        minima_trainer *tr = NULL;
        if ((st = minima_trainer_alloc(&tr, d->model, d->train, d->test, &tp)) != MINIMA_OK) goto done;
        say("[1/6] training %s on %zu Fashion-MNIST images for %d epochs (SGD, lr %g, momentum %g, batch %zu)\n",
            d->arch, d->train->n, d->epochs, minima_trainer_params(tr)->opt.lr,
            minima_trainer_params(tr)->opt.momentum, minima_trainer_params(tr)->batch_size);
        double t0 = cli_now();
        while (!minima_trainer_done(tr)) {
            minima_epoch_stats es;
            if ((st = minima_trainer_epoch(tr, &es)) != MINIMA_OK) break;
            say("      epoch %d: train loss %.4f acc %.2f%%, test loss %.4f acc %.2f%%\n", es.epoch,
                es.train_loss, 100 * es.train_accuracy, es.test_loss, 100 * es.test_accuracy);
        }
        minima_trainer_free(tr);
        if (st != MINIMA_OK) goto done;
        d->train_seconds = cli_now() - t0;
        d->trained_now = 1;
        minima_model_set_meta(d->model, "trained_by", "minima demo");
        minima_model_set_meta(d->model, "seed", "1");   /* the initialisation, for PAC-Bayes' w_0 */
        minima_model_set_meta(d->model, "data", d->source);
        if ((st = minima_model_save(d->model, path, MINIMA_DTYPE_F64)) != MINIMA_OK) goto done;
    }
    minima_net *net = NULL;
    if ((st = minima_net_create(&net, d->model, d->test, NULL)) != MINIMA_OK) goto done;
    st = minima_net_loss(net, NULL, &d->test_loss, &d->test_accuracy);
    minima_net_free(net);
    if (st != MINIMA_OK) goto done;
    if ((st = minima_net_create(&net, d->model, d->train, NULL)) != MINIMA_OK) goto done;
    st = minima_net_loss(net, NULL, &d->train_loss, &d->train_accuracy);
    minima_net_free(net);
    say("      test accuracy %.2f%% (loss %.4f), train accuracy %.2f%% (loss %.4f)\n",
        100 * d->test_accuracy, d->test_loss, 100 * d->train_accuracy, d->train_loss);
done:
    minima_free(widths);
    return st;
}

/* Step 2: curvature at theta. */
static minima_status step_spectrum(demo *d, report *r)
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
    if ((st = minima_net_create(&net, d->model, d->train, NULL)) != MINIMA_OK) return st;
    if ((st = minima_linop_hessian(&H, net)) != MINIMA_OK) goto done;
    size_t P = d->model->n_params;
    g = minima_alloc(P, sizeof *g);
    double loss = NAN, gn = 0;
    if (!g) { st = minima_error(MINIMA_ENOMEM, "out of memory"); goto done; }
    if ((st = minima_net_gradient(net, NULL, &loss, g)) != MINIMA_OK) goto done;
    for (size_t i = 0; i < P; i++) gn += g[i] * g[i];
    gn = sqrt(gn);
    say("[2/6] curvature at theta: %zu parameters, %zu training examples\n", P, d->train->n);
    double t0 = cli_now();
    minima_eigs_params ep = minima_eigs_default_params();
    ep.k_top = 5;
    ep.k_bottom = 1;
    if ((st = minima_eigs(H, &ep, &eig)) != MINIMA_OK) goto done;
    minima_trace_params tp = minima_trace_default_params();
    if ((st = minima_trace_hutchpp(H, &tp, &tr)) != MINIMA_OK) goto done;
    minima_density_params dp = minima_density_default_params();
    if ((st = minima_density_slq(H, &dp, &dens)) != MINIMA_OK) goto done;
    double secs = cli_now() - t0;
    char path[4096];
    path_in(path, sizeof path, d->dir, "spectrum.png");
    if ((st = cli_plot_density(path, &dens, eig.top, eig.n_top,
                               "Hessian spectral density (SLQ) and top eigenvalues (Lanczos)")) != MINIMA_OK)
        goto done;
    say("      lambda_max %.6g (residual %.1e), lambda_min %.6g, trace %.6g +- %.2g; %zu products, %.1f s\n",
        eig.top[0], eig.top_true_residual[0], eig.bottom[0], tr.estimate, tr.std_error,
        minima_net_n_products(net), secs);
    rp(r, "## 2. Curvature at the trained parameters\n\n");
    rp(r, "Training loss %.6f, gradient norm %.3g (a trained network is near, not at, a critical point).\n\n",
       loss, gn);
    rp(r, "| quantity | value | how |\n|---|---|---|\n");
    for (int i = 0; i < eig.n_top; i++)
        rp(r, "| λ_%d | %.8g | Lanczos, residual ‖Hx − λx‖ = %.1e |\n", i + 1, eig.top[i],
           eig.top_true_residual[i]);
    rp(r, "| λ_min | %.6g | Lanczos, residual %.1e |\n", eig.bottom[0], eig.bottom_true_residual[0]);
    rp(r, "| Tr H | %.6g ± %.2g | Hutch++, %zu products |\n", tr.estimate, tr.std_error, tr.n_products);
    rp(r, "\n%zu Hessian-vector products in %.1f s, all exact (R-operator) in float64.\n\n",
       minima_net_n_products(net), secs);
    rp(r, "![spectrum](spectrum.png)\n\n");
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
static minima_status step_audit(demo *d, report *r, int *agree)
{
    minima_net *net = NULL;
    minima_audit_result ar;
    memset(&ar, 0, sizeof ar);
    minima_status st;
    if ((st = minima_net_create(&net, d->model, d->audit_data, NULL)) != MINIMA_OK) return st;
    minima_audit_params ap = minima_audit_default_params();
    if (d->quick) {
        ap.decades = 2;
        ap.neuron_draws = 1;
    }
    const char *names[64];
    size_t n_names = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", d->measures);
    if (strcmp(d->measures, "all") != 0)
        for (char *tok = strtok(buf, ","); tok && n_names < 64; tok = strtok(NULL, ",")) names[n_names++] = tok;
    say("[3/6] invariance audit on %zu training examples: layer-wise alpha over %g decades each way, "
        "%d random per-neuron rescalings\n", d->audit_data->n, ap.decades * ap.decade_step, ap.neuron_draws);
    st = minima_audit_run(net, n_names ? names : NULL, n_names, &ap, &ar);
    if (st != MINIMA_OK) goto done;
    *agree = ar.all_agree;
    say("\n[4/6] every parameter point below computes the same function (largest output change %s)\n\n",
        ar.n_not_equivalent ? "TOO LARGE at some points" : "within 1e-9 relative");
    say("  %-22s %-14s %12s %12s %12s  %s\n", "measure", "invariant?", "min", "max", "max/min", "measured");
    rp(r, "## 3–4. One function, many parameters: which measures move?\n\n");
    rp(r, "The network was rescaled layer-wise (α_1 = 10^s, α_K = 10^−s, s from −%g to %g) and "
       "per neuron at random (%d draws, log-normal spread %g); each of the %zu parameter points "
       "computes the same function (largest relative output change over the data: ",
       ap.decades * ap.decade_step, ap.decades * ap.decade_step, ap.neuron_draws, ap.spread, ar.n_points);
    double worst = 0;
    for (size_t i = 0; i < ar.n_points; i++)
        if (ar.points[i].equivalence.rel_diff > worst) worst = ar.points[i].equivalence.rel_diff;
    rp(r, "%.1e). Each measure was evaluated at every point.\n\n", worst);
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
    path_in(path, sizeof path, d->dir, "audit.png");
    if (minima_audit_plot(path, &ar, "the demo network") == MINIMA_OK) rp(r, "![audit](audit.png)\n\n");
    say("\n");
done:
    minima_audit_result_free(&ar);
    minima_net_free(net);
    return st;
}

/* One before/after comparison: random and filter-normalized 1-D slices
 * through theta and through A theta (scales: the rescaling's unit scales). */
static minima_status compare_slices(minima_net *net, const double *scales, size_t npts,
                                    const char *path, const char *title, double diff[2])
{
    minima_landscape before[2], after[2];
    memset(before, 0, sizeof before);
    memset(after, 0, sizeof after);
    minima_status st = MINIMA_OK;
    const minima_dir_kind kinds[2] = {MINIMA_DIR_RANDOM, MINIMA_DIR_FILTER};
    for (int i = 0; i < 2 && st == MINIMA_OK; i++) {
        minima_dir_params dp = minima_dir_default_params();
        dp.kind = kinds[i];
        dp.seed = 11;
        st = minima_landscape_rescaled(net, scales, &dp, -1, 1, npts, &before[i], &after[i], NULL, NULL);
        if (st == MINIMA_OK) minima_landscape_diff(&before[i], &after[i], &diff[i], NULL);
    }
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
    return st;
}

/* Landscapes before and after function-preserving rescalings. */
static minima_status step_landscape(demo *d, report *r)
{
    minima_status st;
    minima_net *net = NULL;
    size_t nu = minima_sym_n_units(d->model);
    double *scales = minima_alloc(nu ? nu : 1, sizeof *scales);
    if (!scales) return minima_error(MINIMA_ENOMEM, "out of memory");
    if ((st = minima_net_create(&net, d->model, d->audit_data, NULL)) != MINIMA_OK) goto done;
    size_t npts = d->quick ? 21 : 41;
    say("[5/6] loss landscapes through theta and through rescaled copies (same function), %zu points each\n", npts);
    double alpha[64], dl[2], dn[2];
    int K = d->model->n_layers;
    for (int k = 0; k < K; k++) alpha[k] = 1;
    alpha[0] = 10;
    alpha[K - 1] = 0.1;
    char path[4096];
    if ((st = minima_sym_layer_scales(d->model, alpha, K, 0, 1e-12, scales, NULL)) != MINIMA_OK) goto done;
    path_in(path, sizeof path, d->dir, "landscape_layerwise.png");
    if ((st = compare_slices(net, scales, npts, path,
                             "The same function: θ and A θ = T#dα#u θ, layer-wise α = (10, …, 0.1)", dl)) != MINIMA_OK)
        goto done;
    if ((st = minima_sym_random_scales(d->model, 5, 0.5, NULL, scales)) != MINIMA_OK) goto done;
    path_in(path, sizeof path, d->dir, "landscape_neuron.png");
    if ((st = compare_slices(net, scales, npts, path,
                             "The same function: θ and A θ, random per-neuron scales (spread 0.5)", dn)) != MINIMA_OK)
        goto done;
    say("      largest loss change of the slice: layer-wise rescaling: random %.3g, filter-normalized %.3g; "
        "per-neuron: random %.3g, filter-normalized %.3g\n", dl[0], dl[1], dn[0], dn[1]);
    rp(r, "## 5. Loss landscapes: the picture depends on the parametrization\n\n");
    rp(r, "1-D slices L(θ + t d) on %zu training examples, through θ and through a rescaled Aθ that "
       "computes exactly the same function, along a random Gaussian direction (scaled to ‖θ‖) and "
       "along Li et al.'s filter-normalized direction from the same draw.\n\n", d->audit_data->n);
    rp(r, "| rescaling | largest change of the slice, random direction | filter-normalized |\n|---|---|---|\n");
    rp(r, "| layer-wise, α = (10, …, 0.1) | %.3g | %.3g |\n", dl[0], dl[1]);
    rp(r, "| per-neuron, log-normal spread 0.5 | %.3g | %.3g |\n\n", dn[0], dn[1]);
    rp(r, "Filter normalization undoes a layer-wise rescaling exactly (each row's own factor cancels), "
       "but not a per-neuron one: the column factors 1/c of the next layer survive "
       "(docs/landscape.md derives this). Slicing through the canonical minimum-norm point "
       "(`minima landscape --canonical`) removes both.\n\n");
    rp(r, "![layer-wise](landscape_layerwise.png)\n\n![per-neuron](landscape_neuron.png)\n\n");
done:
    minima_free(scales);
    minima_net_free(net);
    return st;
}

/* Step 5: the theorems. */
static minima_status step_theorems(report *r, int *all_passed)
{
    minima_theorem_params tp = minima_theorem_default_params();
    minima_theorem_env *env = NULL;
    say("[6/6] the paper's theorems, checked numerically on built-in networks at exact critical points\n");
    MINIMA_TRY(minima_theorem_env_builtin(&env, &tp));
    size_t n = 0;
    const minima_theorem_check *checks = minima_theorems(&n);
    *all_passed = 1;
    rp(r, "## 6. The paper's theorems, checked numerically\n\n");
    rp(r, "On built-in networks at exact critical points (a ReLU teacher whose target noise is "
       "projected so that it stays a critical point, and a one-hidden-layer student trained by "
       "full-batch gradient descent and polished by Newton steps); `minima theorem all` prints the "
       "same with every hypothesis and number (docs/theorem.md).\n\n");
    rp(r, "| check | paper | verdict | result |\n|---|---|---|---|\n");
    minima_status st = MINIMA_OK;
    for (size_t i = 0; i < n; i++) {
        minima_theorem_result t;
        st = minima_theorem_run(&checks[i], env, &tp, &t);
        if (st != MINIMA_OK) break;
        const char *verdict = !t.applicable ? "not applicable" : t.passed ? "passed" : "**FAILED**";
        if (t.applicable && !t.passed) *all_passed = 0;
        say("  %-8s %-15s %s\n", t.name, t.applicable ? (t.passed ? "passed" : "FAILED") : "n/a", t.title);
        rp(r, "| %s: %s | %s | %s | ", t.name, t.title, checks[i].paper, verdict);
        /* a table cell: one line, with '|' escaped */
        for (const char *c = t.applicable ? t.details : t.reason; *c; c++) {
            if (*c == '|') fputs("\\|", r->f);
            else fputc(*c == '\n' ? ' ' : *c, r->f);
        }
        rp(r, " |\n");
    }
    rp(r, "\n");
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

int minima_cmd_demo(int argc, char **argv)
{
    demo d;
    const char *max_data_bytes = NULL;
    int strict = 0;
    memset(&d, 0, sizeof d);
    d.dir = "minima-demo";
    d.source = "fashion-mnist";
    d.arch = "784-64-64-10";
    d.measures = "all";
    d.subset = 5000;
    d.audit_subset = 1000;
    d.epochs = 8;
    const cli_option opts[] = {
        {"--out", OPT_STRING, &d.dir, "directory for the model, the figures and report.md", "DIR"},
        {"--data", OPT_STRING, &d.source, "training data (its test split is SRC:test)", "SRC"},
        {"--subset", OPT_SIZE, &d.subset, "training examples", "N", CLI_IN(1, 1e9)},
        CLI_DATA_LIMIT_OPTION(max_data_bytes),
        {"--audit-subset", OPT_SIZE, &d.audit_subset, "training examples the audit and landscapes use", "N", CLI_IN(0, 1e9)},
        {"--arch", OPT_STRING, &d.arch, "network widths", "A"},
        {"--epochs", OPT_INT, &d.epochs, "training epochs", "E", CLI_IN(1, 1000000)},
        {"--measure", OPT_STRING, &d.measures, "measures to audit (registry names, comma-separated)", "NAMES"},
        {"--retrain", OPT_FLAG, &d.retrain, "train even if DIR/model.safetensors exists", NULL},
        {"--quick", OPT_FLAG, &d.quick, "fewer orbit points and coarser figures (for tests)", NULL},
        {"--strict", OPT_FLAG, &strict, "exit 1 when the audit has a disagreement or a measure not measured", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("demo", usage, opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0) return rc;
    if (d.epochs < 1) return cli_usage_error("demo", "--epochs must be >= 1");
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
    o.subset = d.subset;
    if ((rc = cli_data_limit("demo", max_data_bytes, &o.max_bytes)) >= 0) goto done;
    if ((st = minima_data_load(d.source, &o, &d.train)) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }
    char test_src[512];
    snprintf(test_src, sizeof test_src, "%s:test", d.source);
    o.subset = 0;
    if ((st = minima_data_load(strchr(d.source, ':') ? d.source : test_src, &o, &d.test)) != MINIMA_OK) {
        rc = cli_fail("demo", st);
        goto done;
    }
    size_t na = d.audit_subset && d.audit_subset < d.train->n ? d.audit_subset : d.train->n;
    if ((st = minima_dataset_slice(d.train, 0, na, &d.audit_data)) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }

    if ((st = step_model(&d)) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }
    path_in(path, sizeof path, d.dir, "report.md");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
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
       "function unchanged. This report measures that on a real network.\n\n");
    rp(&r, "## 1. The network\n\n");
    rp(&r, "A %s ReLU network with biases (%zu parameters), %s on %zu Fashion-MNIST training images "
       "(model: `model.safetensors`). Test accuracy **%.2f%%** (loss %.4f) on %zu test images; "
       "training accuracy %.2f%% (loss %.4f).\n\n", d.arch, d.model->n_params,
       d.trained_now ? "trained by this run" : "trained by an earlier run and reused", d.train->n,
       100 * d.test_accuracy, d.test_loss, d.test->n, 100 * d.train_accuracy, d.train_loss);
    if ((st = step_spectrum(&d, &r)) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }
    int agree = 0, passed = 0;
    if ((st = step_audit(&d, &r, &agree)) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }
    if ((st = step_landscape(&d, &r)) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }
    if ((st = step_theorems(&r, &passed)) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }
    if ((st = step_figures(&d, &r)) != MINIMA_OK) { rc = cli_fail("demo", st); goto done; }
    rp(&r, "---\nWritten by `minima demo` in %.0f s.\n", cli_now() - t0);
    if (fclose(r.f) != 0 || rename(tmp, path) != 0) {
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
            "finding, not a failure (see the table)\n");
    if (!passed) say("error: some theorem checks failed (see the report)\n");
    rc = passed ? EXIT_OK : EXIT_COMPUTE;
    if (strict && !agree) {
        say("error: --strict: the audit has findings (disagreements, measures not measured or points "
            "flagged; see the table)\n");
        rc = EXIT_COMPUTE;
    }
done:
    if (r.f) {                            /* an unfinished report: no stale report.md.tmp */
        fclose(r.f);
        unlink(tmp);
    }
    minima_tempfile_unregister(report_slot);
    minima_model_free(d.model);
    minima_dataset_free(d.train);
    minima_dataset_free(d.test);
    minima_dataset_free(d.audit_data);
    return rc;
}
