/* cmd_spectrum.c — `minima spectrum`: extreme eigenvalues, trace and spectral
 * density of the Hessian (or Gauss-Newton matrix) of a model's loss. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "cli_output.h"
#include "cli_load.h"
#include "cli_plots.h"
#include "minima/alloc.h"
#include "minima/density.h"
#include "minima/eigen.h"
#include "minima/format.h"
#include "minima/linop.h"
#include "minima/report.h"
#include "minima/trace.h"

int minima_cmd_spectrum(int argc, char **argv);
extern const char minima_cmd_spectrum_summary[];
const char minima_cmd_spectrum_summary[] = "Hessian eigenvalues, trace and spectral density";

/* The default --precision, chosen by measurement (docs/spectrum.md). */
#define PRECISION_DEFAULT "auto"

static const char usage[] =
    "usage: minima spectrum --model MODEL --data SRC [--top K] [--bottom K] [--tol X]\n"
    "                       [--trace] [--density] [--exact] [--layers NAMES] [--ggn]\n"
    "                       [--precision auto|float64|mixed|float32] [--plot FILE] [--json]\n\n"
    "Curvature of the mean training loss at the model's parameters:\n"
    "  --top/--bottom  the K largest / smallest eigenvalues by Lanczos with full\n"
    "                  reorthogonalization; each is reported with its residual\n"
    "                  ||Hx - lambda x|| and converges when that is\n"
    "                  <= tol max(|lambda|, 0.1 ||H||) (docs/spectrum.md); at most\n"
    "                  --max-products products, else exit 1 with the partial result\n"
    "  --trace         Tr H with its standard error, by --trace-method: xtrace (the\n"
    "                  default; Epperly, Tropp & Webber 2024: 2-3x fewer products than\n"
    "                  hutch++, docs/spectrum.md), hutch++, hutchinson, exact, or\n"
    "                  xnystrace (positive semidefinite matrices only: needs --ggn);\n"
    "                  stops when stderr <= --trace-rtol |estimate|\n"
    "  --density       spectral density by stochastic Lanczos quadrature (Ghorbani et\n"
    "                  al. 2019; PyHessian's defaults: 100 steps, 1 draw, 10000 grid points)\n"
    "  --exact         the whole spectrum from the dense Hessian (LAPACK dsyevd):\n"
    "                  small networks only; reports rank and counts above --levels\n"
    "  --layers        restrict H to the named layers: '0,2', '4.weight', '#1'\n"
    "  --ggn           use the Gauss-Newton matrix instead of the Hessian\n"
    "  --precision P   float64: every product in float64. mixed: Lanczos runs on\n"
    "                  float32 products (each half the cost) to 1e-5, then refines\n"
    "                  in float64, so every residual printed is a float64 one\n"
    "                  (saves ~30 % at --tol 1e-6, nothing at 1e-8); trace\n"
    "                  and density then use float32 products (their error, ~1e-6\n"
    "                  relative, is far below their own). float32: everything in\n"
    "                  float32 (residuals of the float32 operator; --tol 1e-5 or\n"
    "                  above). auto (the default): Lanczos in float64 (mixed is no\n"
    "                  faster at --tol 1e-8, docs/spectrum.md), trace and density\n"
    "                  with float32 products. --exact is float64 always.\n"
    "  --float32       the same as --precision float32\n"
    "  --plot FILE     draw the density (log scale) with the top eigenvalues marked\n"
    "Products reuse the activations cached at the model's parameters (see docs/engine.md).";

/* The human table on stderr, stage by stage as the run goes. */
typedef struct {
    const char *model_path, *source, *layers;
    int ggn;
    size_t slq_steps, slq_draws;
    double trace_rtol;
} table_ctx;

static void print_step(const minima_spectrum_result *s, minima_spectrum_step step, void *user)
{
    const table_ctx *c = user;
    switch (step) {
    case MINIMA_SPECTRUM_STEP_LOSS:
        fprintf(stderr, "%s of %s on %s: %zu parameters%s, loss %.10g, |grad| %.3g\n",
                c->ggn ? "Gauss-Newton" : "Hessian", c->model_path, c->source, s->n,
                c->layers ? " (the selected layers)" : "", s->loss, s->grad_norm);
        break;
    case MINIMA_SPECTRUM_STEP_EXACT:
        fprintf(stderr, "exact spectrum: lambda_max %.10g, lambda_min %.10g, rank %zu of %zu "
                "(|lambda| > %.3g)\n", s->exact[s->n - 1], s->exact[0], s->rank, s->n, s->rank_tol);
        for (int i = 0; i < s->n_levels; i++) {
            char lv[MINIMA_DOUBLE_CHARS];
            minima_format_double(lv, sizeof lv, s->levels[i]);
            fprintf(stderr, "  eigenvalues > %s: %zu\n", lv, s->count_above[i]);
        }
        break;
    case MINIMA_SPECTRUM_STEP_EIGS:
        for (int i = 0; i < s->eig.n_top; i++)
            fprintf(stderr, "  top %2d   %22.15g   residual %.2e\n", i + 1, s->eig.top[i],
                    s->eig.top_true_residual ? s->eig.top_true_residual[i] : s->eig.top_residual[i]);
        for (int i = 0; i < s->eig.n_bottom; i++)
            fprintf(stderr, "  bottom %2d %20.15g   residual %.2e\n", i + 1, s->eig.bottom[i],
                    s->eig.bottom_true_residual ? s->eig.bottom_true_residual[i] : s->eig.bottom_residual[i]);
        fprintf(stderr, "  Lanczos (%s): %zu products (%zu float32, %zu float64), %zu restarts, %.2f s%s\n",
                minima_precision_name(s->precision), s->eig.n_products, s->eig.n_products_low,
                s->eig.n_products - s->eig.n_products_low, s->eig.n_restarts, s->eig.seconds,
                s->eig.converged ? "" : " (NOT converged)");
        if (s->precision == MINIMA_PRECISION_FLOAT32)
            fprintf(stderr, "  (residuals of the float32 operator: eigenvalues carry ~1e-6 relative error)\n");
        break;
    case MINIMA_SPECTRUM_STEP_TRACE:
        fprintf(stderr, "  trace (%s) %.10g +- %.2g (%zu samples, %zu products)\n", s->trace.method,
                s->trace.estimate, s->trace.std_error, s->trace.samples, s->trace.n_products);
        if (s->trace_f32)
            fprintf(stderr, "  trace: float32 products (error ~1e-6 relative, far below the %g "
                    "relative target)\n", c->trace_rtol);
        break;
    case MINIMA_SPECTRUM_STEP_DENSITY:
        fprintf(stderr, "  density: %zu grid points on [%.4g, %.4g] from %zu SLQ steps x %zu draws\n",
                s->density.n_grid, s->density.grid[0], s->density.grid[s->density.n_grid - 1], c->slq_steps,
                c->slq_draws);
        if (s->density_f32)
            fprintf(stderr, "  density: float32 products (Ritz values off by ~1e-6 ||H||, far below "
                    "the kernel width)\n");
        break;
    }
}

int minima_cmd_spectrum(int argc, char **argv)
{
    cli_net_args na = cli_net_default_args();
    int top = 1, bottom = 0, want_trace = 0, want_density = 0, exact = 0, ggn = 0, json = 0;
    double tol = 1e-8, trace_rtol = 1e-2;
    const char *layers = NULL, *plot = NULL, *trace_method = "xtrace", *levels = "1,10,100";
    size_t slq_steps = 100, slq_draws = 1, trace_max = 1000, basis = 0;
    size_t max_products = minima_eigs_default_params().max_products;
    int noconv = 0, float32 = 0;
    const char *precision = PRECISION_DEFAULT;
    uint64_t seed = 0;
    const cli_option opts[] = {
        CLI_NET_OPTIONS(na),
        {"--top", OPT_INT, &top, "number of largest eigenvalues", "K", CLI_IN(0, 10000)},
        {"--bottom", OPT_INT, &bottom, "number of smallest eigenvalues", "K", CLI_IN(0, 10000)},
        {"--tol", OPT_DOUBLE, &tol, "Lanczos: converge when ||Hx - lambda x|| <= tol max(|lambda|, 0.1 ||H||)", "X", CLI_OPEN(0, 1)},
        {"--basis", OPT_SIZE, &basis, "Lanczos: Krylov basis size before a restart (0: auto, see eigen.h)", "M", CLI_IN(0, 100000)},
        {"--max-products", OPT_SIZE, &max_products, "Lanczos: stop (exit 1, partial result) after N products", "N", CLI_IN(1, 1e9)},
        {"--trace", OPT_FLAG, &want_trace, "estimate the trace", NULL},
        {"--trace-method", OPT_STRING, &trace_method, "xtrace, hutch++, hutchinson, exact or xnystrace (--ggn only)", "M"},
        {"--trace-rtol", OPT_DOUBLE, &trace_rtol, "stop the trace when stderr <= rtol |estimate|", "X", CLI_OPEN(0, 1)},
        {"--trace-max", OPT_SIZE, &trace_max, "at most this many trace probes (xtrace, xnystrace: test vectors)", "N", CLI_IN(2, 1e9)},
        {"--density", OPT_FLAG, &want_density, "spectral density by stochastic Lanczos quadrature", NULL},
        {"--slq-steps", OPT_SIZE, &slq_steps, "Lanczos steps per SLQ draw", "M", CLI_IN(1, 100000)},
        {"--slq-draws", OPT_SIZE, &slq_draws, "SLQ random start vectors", "N", CLI_IN(1, 100000)},
        {"--exact", OPT_FLAG, &exact, "full spectrum from the dense Hessian (small nets)", NULL},
        {"--levels", OPT_STRING, &levels, "with --exact: count eigenvalues above these", "L1,L2"},
        {"--layers", OPT_STRING, &layers, "restrict to these layers (names, NAME.weight, #k)", "NAMES"},
        {"--ggn", OPT_FLAG, &ggn, "Gauss-Newton matrix instead of the Hessian", NULL},
        {"--precision", OPT_STRING, &precision, "auto, float64, mixed or float32 (see --help)", "P"},
        {"--float32", OPT_FLAG, &float32, "the same as --precision float32", NULL},
        {"--seed", OPT_U64, &seed, "seed of random start and probe vectors", "S", CLI_ANY},
        {"--plot", OPT_STRING, &plot, "draw the density to FILE (.png, .svg, .pdf); implies --density", "FILE"},
        {"--json", OPT_FLAG, &json, "print the result as JSON on stdout", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("spectrum", usage, opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0) return rc;
    if (top < 0 || bottom < 0) return cli_usage_error("spectrum", "--top and --bottom must be >= 0");
    if (!(tol > 0 && tol < 1)) return cli_usage_error("spectrum", "--tol must be in (0, 1), found %g", tol);
    minima_precision prec;
    if (float32) precision = "float32";
    if (!strcmp(precision, "float64")) prec = MINIMA_PRECISION_FLOAT64;
    else if (!strcmp(precision, "mixed")) prec = MINIMA_PRECISION_MIXED;
    else if (!strcmp(precision, "float32")) prec = MINIMA_PRECISION_FLOAT32;
    else if (!strcmp(precision, "auto")) prec = MINIMA_PRECISION_AUTO;
    else return cli_usage_error("spectrum", "--precision: expected auto, float64, mixed or float32, found '%s'", precision);
    if (prec == MINIMA_PRECISION_FLOAT32 && tol < 1e-6 && (top > 0 || bottom > 0))
        return cli_usage_error("spectrum", "float32 products carry ~1e-6 relative error: "
                               "--tol %g cannot be reached (use 1e-5 or more, or --precision mixed)", tol);
    if (strcmp(trace_method, "hutch++") && strcmp(trace_method, "hutchinson") && strcmp(trace_method, "exact") &&
        strcmp(trace_method, "xtrace") && strcmp(trace_method, "xnystrace"))
        return cli_usage_error("spectrum", "--trace-method: expected xtrace, hutch++, hutchinson, xnystrace "
                               "or exact, found '%s'", trace_method);
    if (!strcmp(trace_method, "xnystrace") && want_trace && !ggn && !exact)
        return cli_usage_error("spectrum", "--trace-method xnystrace needs a positive semidefinite "
                               "matrix: the Hessian is indefinite in general (use xtrace, or add --ggn)");
    if (plot) want_density = 1;
    double *level_v = NULL;
    cli_range any = CLI_ANY;
    int n_levels = cli_parse_list("spectrum", "--levels", levels, any, &level_v);
    if (n_levels < 0) return EXIT_USAGE;

    {
        cli_files io = {0};
        cli_files_input(&io, "--model", na.model_path);
        cli_files_input(&io, "--data", na.source);
        cli_files_input(&io, "--labels", na.labels);
        cli_files_output(&io, "--plot", plot, CLI_OUT_PLOT);
        if ((rc = cli_files_check("spectrum", &io)) >= 0) {
            free(level_v);
            return rc;
        }
    }

    cli_net cn;
    rc = cli_net_open("spectrum", &na, &cn);
    if (rc >= 0) { free(level_v); return rc; }
    minima_spectrum_request rq = minima_spectrum_default_request();
    rq.top = top;
    rq.bottom = bottom;
    rq.tol = tol;
    rq.basis = basis;
    rq.max_products = max_products;
    rq.trace = want_trace;
    rq.trace_method = trace_method;
    rq.trace_rtol = trace_rtol;
    rq.trace_max = trace_max;
    rq.density = want_density;
    rq.slq_steps = slq_steps;
    rq.slq_draws = slq_draws;
    rq.exact = exact;
    rq.levels = level_v;
    rq.n_levels = n_levels;
    rq.layers = layers;
    rq.ggn = ggn;
    rq.precision = prec;
    rq.seed = seed;
    table_ctx tc = {na.model_path, na.source, layers, ggn, slq_steps, slq_draws, trace_rtol};
    if (!json) {
        rq.on_step = print_step;
        rq.user = &tc;
    }
    minima_spectrum_result s;
    minima_status st = minima_spectrum_run(cn.net, &rq, &s);
    int printable = st == MINIMA_OK || st == MINIMA_ENOCONV || (st == MINIMA_EINTERRUPTED && s.have_eig);
    if (!printable) { rc = cli_fail("spectrum", st); goto done; }
    if (st == MINIMA_ENOCONV) {
        noconv = 1;         /* said after the partial result */
        rc = EXIT_COMPUTE;
    } else if (st != MINIMA_OK) {
        rc = cli_fail("spectrum", st);     /* interrupted: 130, the partial result is printed */
    }
    /* The results first: a plot that fails to write loses nothing computed. */
    if (json) {
        char *text = NULL;
        minima_status jst = minima_spectrum_json(&s, &text);
        if (jst != MINIMA_OK) { rc = cli_fail("spectrum", jst); goto done; }
        fputs(text, stdout);
        minima_free(text);
    } else {
        fprintf(stderr, "%zu Hessian-vector products (%zu float32, %zu float64), %.2f s\n", s.n_products,
                s.n_products_f32, s.n_products - s.n_products_f32, s.seconds);
    }
    if (noconv) {
        char tl[MINIMA_DOUBLE_CHARS];
        minima_format_double(tl, sizeof tl, tol);
        fprintf(stderr, "minima spectrum: Lanczos did not converge in %zu products (--max-products; "
                "--tol %s); partial result printed%s\n", max_products, tl,
                json ? " (\"converged\": false)" : " above");
    }
    if (plot && s.have_density) {
        char title[512];
        snprintf(title, sizeof title, "Hessian spectral density of %s", na.model_path);
        if ((st = cli_plot_density(plot, &s.density, s.have_eig ? s.eig.top : NULL,
                                   s.have_eig ? s.eig.n_top : 0, title)) != MINIMA_OK) {
            cli_fail("spectrum", st);
            rc = EXIT_COMPUTE;          /* the results above stand; only the figure is missing */
            goto done;
        }
        if (!json) fprintf(stderr, "wrote %s\n", plot);
    }
    if (rc < 0) rc = EXIT_OK;
done:
    minima_spectrum_result_free(&s);
    free(level_v);
    cli_net_close(&cn);
    return rc;
}
