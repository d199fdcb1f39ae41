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
#include "minima/trace.h"

int minima_cmd_spectrum(int argc, char **argv);
extern const char minima_cmd_spectrum_summary[];
const char minima_cmd_spectrum_summary[] = "Hessian eigenvalues, trace and spectral density (float64)";

static const char usage[] =
    "usage: minima spectrum --model MODEL --data SRC [--top K] [--bottom K] [--tol X]\n"
    "                       [--trace] [--density] [--exact] [--layers NAMES] [--ggn]\n"
    "                       [--plot FILE] [--json]\n\n"
    "Curvature of the mean training loss at the model's parameters, in float64:\n"
    "  --top/--bottom  the K largest / smallest eigenvalues by Lanczos with full\n"
    "                  reorthogonalization; each is reported with its residual\n"
    "                  ||Hx - lambda x|| and converges when that is\n"
    "                  <= tol max(|lambda|, 0.1 ||H||) (docs/spectrum.md); at most\n"
    "                  --max-products products, else exit 1 with the partial result\n"
    "  --trace         Tr H by Hutch++ (or --trace-method hutchinson|exact), with its\n"
    "                  standard error; stops when stderr <= --trace-rtol |estimate|\n"
    "  --density       spectral density by stochastic Lanczos quadrature (Ghorbani et\n"
    "                  al. 2019; PyHessian's defaults: 100 steps, 1 draw, 10000 grid points)\n"
    "  --exact         the whole spectrum from the dense Hessian (LAPACK dsyevd):\n"
    "                  small networks only; reports rank and counts above --levels\n"
    "  --layers        restrict H to the named layers: '0,2', '4.weight', '#1'\n"
    "  --ggn           use the Gauss-Newton matrix instead of the Hessian\n"
    "  --float32       products in single precision (about twice as fast; eigenvalues\n"
    "                  then carry ~1e-6 relative error, so use --tol 1e-5 or above)\n"
    "  --plot FILE     draw the density (log scale) with the top eigenvalues marked\n"
    "Products reuse the activations cached at the model's parameters (see docs/engine.md).";

typedef struct {
    minima_eigs_result eig;
    int have_eig;
    minima_trace_result trace;
    int have_trace;
    minima_density_result dens;
    int have_dens;
    double *exact;      /* (n) ascending, or NULL */
    size_t n;           /* dimension of the operator (the selected block) */
    size_t model_n_params;
    double loss, grad_norm, seconds;
    size_t rank;
    double rank_tol;
} spectrum_out;

static void print_json(const spectrum_out *s, size_t n_hvp, const minima_model *model)
{
    /* n_params: the size of the operator (the selected block with --layers);
     * model_n_params: the whole model's. */
    printf("{");
    cli_json_model_source(stdout, model);
    printf(", \"n_params\": %zu, \"n\": %zu, \"model_n_params\": %zu, \"loss\": ", s->n, s->n,
           s->model_n_params);
    json_number(stdout, s->loss);
    printf(", \"grad_norm\": ");
    json_number(stdout, s->grad_norm);
    printf(", \"top\": [");
    for (int i = 0; s->have_eig && i < s->eig.n_top; i++) {
        printf("%s{\"eigenvalue\": ", i ? ", " : "");
        json_number(stdout, s->eig.top[i]);
        printf(", \"residual\": ");
        json_number(stdout, s->eig.top_true_residual ? s->eig.top_true_residual[i] : s->eig.top_residual[i]);
        printf("}");
    }
    printf("], \"bottom\": [");
    for (int i = 0; s->have_eig && i < s->eig.n_bottom; i++) {
        printf("%s{\"eigenvalue\": ", i ? ", " : "");
        json_number(stdout, s->eig.bottom[i]);
        printf(", \"residual\": ");
        json_number(stdout, s->eig.bottom_true_residual ? s->eig.bottom_true_residual[i] : s->eig.bottom_residual[i]);
        printf("}");
    }
    printf("]");
    if (s->have_eig) printf(", \"converged\": %s", s->eig.converged ? "true" : "false");
    if (s->have_trace) {
        printf(", \"trace\": {\"estimate\": ");
        json_number(stdout, s->trace.estimate);
        printf(", \"stderr\": ");
        json_number(stdout, s->trace.std_error);
        printf(", \"samples\": %zu, \"method\": ", s->trace.samples);
        json_string(stdout, s->trace.method);
        printf("}");
    }
    if (s->have_dens) {
        printf(", \"density\": {\"grid\": [");
        for (size_t i = 0; i < s->dens.n_grid; i++) {
            if (i) putchar(',');
            json_number(stdout, s->dens.grid[i]);
        }
        printf("], \"values\": [");
        for (size_t i = 0; i < s->dens.n_grid; i++) {
            if (i) putchar(',');
            json_number(stdout, s->dens.values[i]);
        }
        printf("]}");
    }
    if (s->exact) {
        printf(", \"exact\": {\"rank\": %zu, \"rank_tol\": ", s->rank);
        json_number(stdout, s->rank_tol);
        printf(", \"eigenvalues\": [");
        for (size_t i = 0; i < s->n; i++) {
            if (i) putchar(',');
            json_number(stdout, s->exact[s->n - 1 - i]);
        }
        printf("]}");
    }
    printf(", \"n_hvp\": %zu, \"seconds\": ", n_hvp);
    json_number(stdout, s->seconds);
    printf("}\n");
}

int minima_cmd_spectrum(int argc, char **argv)
{
    cli_net_args na = cli_net_default_args();
    int top = 1, bottom = 0, want_trace = 0, want_density = 0, exact = 0, ggn = 0, json = 0;
    double tol = 1e-8, trace_rtol = 1e-2;
    const char *layers = NULL, *plot = NULL, *trace_method = "hutch++", *levels = "1,10,100";
    size_t slq_steps = 100, slq_draws = 1, trace_max = 1000, basis = 0;
    size_t max_products = minima_eigs_default_params().max_products;
    int noconv = 0;
    uint64_t seed = 0;
    const cli_option opts[] = {
        CLI_NET_OPTIONS(na),
        {"--top", OPT_INT, &top, "number of largest eigenvalues", "K", CLI_IN(0, 10000)},
        {"--bottom", OPT_INT, &bottom, "number of smallest eigenvalues", "K", CLI_IN(0, 10000)},
        {"--tol", OPT_DOUBLE, &tol, "Lanczos: converge when ||Hx - lambda x|| <= tol max(|lambda|, 0.1 ||H||)", "X", CLI_OPEN(0, 1)},
        {"--basis", OPT_SIZE, &basis, "Lanczos: Krylov basis size before a restart (0: auto, see eigen.h)", "M", CLI_IN(0, 100000)},
        {"--max-products", OPT_SIZE, &max_products, "Lanczos: stop (exit 1, partial result) after N products", "N", CLI_IN(1, 1e9)},
        {"--trace", OPT_FLAG, &want_trace, "estimate the trace", NULL},
        {"--trace-method", OPT_STRING, &trace_method, "hutch++, hutchinson or exact", "M"},
        {"--trace-rtol", OPT_DOUBLE, &trace_rtol, "stop the trace when stderr <= rtol |estimate|", "X", CLI_OPEN(0, 1)},
        {"--trace-max", OPT_SIZE, &trace_max, "at most this many trace probes", "N", CLI_IN(2, 1e9)},
        {"--density", OPT_FLAG, &want_density, "spectral density by stochastic Lanczos quadrature", NULL},
        {"--slq-steps", OPT_SIZE, &slq_steps, "Lanczos steps per SLQ draw", "M", CLI_IN(1, 100000)},
        {"--slq-draws", OPT_SIZE, &slq_draws, "SLQ random start vectors", "N", CLI_IN(1, 100000)},
        {"--exact", OPT_FLAG, &exact, "full spectrum from the dense Hessian (small nets)", NULL},
        {"--levels", OPT_STRING, &levels, "with --exact: count eigenvalues above these", "L1,L2"},
        {"--layers", OPT_STRING, &layers, "restrict to these layers (names, NAME.weight, #k)", "NAMES"},
        {"--ggn", OPT_FLAG, &ggn, "Gauss-Newton matrix instead of the Hessian", NULL},
        {"--float32", OPT_FLAG, &na.float32, "products in float32: ~2x faster, ~1e-6 relative error "
         "(set --tol above 1e-6)", NULL},
        {"--seed", OPT_U64, &seed, "seed of random start and probe vectors", "S", CLI_ANY},
        {"--plot", OPT_STRING, &plot, "draw the density to FILE (.png, .svg, .pdf); implies --density", "FILE"},
        {"--json", OPT_FLAG, &json, "print the result as JSON on stdout", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("spectrum", usage, opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0) return rc;
    if (top < 0 || bottom < 0) return cli_usage_error("spectrum", "--top and --bottom must be >= 0");
    if (!(tol > 0 && tol < 1)) return cli_usage_error("spectrum", "--tol must be in (0, 1), found %g", tol);
    if (na.float32 && tol < 1e-6)
        return cli_usage_error("spectrum", "--float32 products carry ~1e-6 relative error: "
                               "--tol %g cannot be reached (use 1e-5 or more)", tol);
    if (strcmp(trace_method, "hutch++") && strcmp(trace_method, "hutchinson") && strcmp(trace_method, "exact"))
        return cli_usage_error("spectrum", "--trace-method: expected hutch++, hutchinson or exact, found '%s'", trace_method);
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
    double t0 = cli_now();
    spectrum_out s;
    memset(&s, 0, sizeof s);
    minima_linop *full = NULL, *op = NULL;
    size_t *index = NULL, n_index = 0;
    double *grad = NULL, *dense = NULL;
    minima_status st;
    size_t P = cn.model->n_params;

    grad = minima_alloc(P, sizeof *grad);
    if (!grad) { rc = cli_fail("spectrum", minima_error(MINIMA_ENOMEM, "out of memory")); goto done; }
    if ((st = minima_net_gradient(cn.net, NULL, &s.loss, grad)) != MINIMA_OK) { rc = cli_fail("spectrum", st); goto done; }
    double g2 = 0;
    for (size_t i = 0; i < P; i++) g2 += grad[i] * grad[i];
    s.grad_norm = sqrt(g2);
    st = ggn ? minima_linop_ggn(&full, cn.net) : minima_linop_hessian(&full, cn.net);
    if (st != MINIMA_OK) { rc = cli_fail("spectrum", st); goto done; }
    op = full;
    if (layers) {
        if ((st = minima_linop_select_layers(cn.model, layers, &index, &n_index)) != MINIMA_OK) {
            rc = cli_fail("spectrum", st);
            goto done;
        }
        if ((st = minima_linop_subset(&op, full, index, n_index)) != MINIMA_OK) { rc = cli_fail("spectrum", st); goto done; }
    }
    s.n = op->n;
    s.model_n_params = P;
    if (!json)
        fprintf(stderr, "%s of %s on %s: %zu parameters%s, loss %.10g, |grad| %.3g\n",
                ggn ? "Gauss-Newton" : "Hessian", na.model_path, na.source, s.n,
                layers ? " (the selected layers)" : "", s.loss, s.grad_norm);

    if (exact) {
        if (s.n > 20000) {
            rc = cli_usage_error("spectrum", "--exact needs an n x n matrix; n = %zu is too large "
                                 "(use --top/--bottom, or --layers to restrict)", s.n);
            goto done;
        }
        dense = minima_alloc(s.n * s.n, sizeof *dense);
        s.exact = minima_alloc(s.n, sizeof *s.exact);
        if (!dense || !s.exact) { rc = cli_fail("spectrum", minima_error(MINIMA_ENOMEM, "out of memory for a %zu x %zu matrix", s.n, s.n)); goto done; }
        if ((st = minima_linop_to_dense(op, dense)) != MINIMA_OK ||
            (st = minima_spectrum_dense(s.n, dense, s.exact, NULL)) != MINIMA_OK) {
            rc = cli_fail("spectrum", st);
            goto done;
        }
        s.rank_tol = minima_spectrum_rank_tol(s.exact, s.n);
        s.rank = minima_spectrum_rank(s.exact, s.n, s.rank_tol);
        if (!json) {
            fprintf(stderr, "exact spectrum: lambda_max %.10g, lambda_min %.10g, rank %zu of %zu "
                    "(|lambda| > %.3g)\n", s.exact[s.n - 1], s.exact[0], s.rank, s.n, s.rank_tol);
            for (int i = 0; i < n_levels; i++) {
                size_t count = 0;
                char lv[MINIMA_DOUBLE_CHARS];
                minima_spectrum_count_above(s.exact, s.n, &level_v[i], 1, &count);
                minima_format_double(lv, sizeof lv, level_v[i]);
                fprintf(stderr, "  eigenvalues > %s: %zu\n", lv, count);
            }
        }
    }
    if (top > 0 || bottom > 0) {
        minima_eigs_params ep = minima_eigs_default_params();
        ep.k_top = top;
        ep.k_bottom = bottom;
        ep.tol = tol;
        ep.seed = seed;
        ep.max_basis = basis;
        ep.max_products = max_products;
        st = minima_eigs(op, &ep, &s.eig);
        s.have_eig = s.eig.n_top + s.eig.n_bottom > 0;
        if (st != MINIMA_OK && !s.have_eig) { rc = cli_fail("spectrum", st); goto done; }
        if (st == MINIMA_ENOCONV) {
            noconv = 1;         /* said after the partial result */
            rc = EXIT_COMPUTE;
        } else if (st != MINIMA_OK) {
            rc = cli_fail("spectrum", st);     /* interrupted: 130, the partial result is printed */
        }
        if (!json) {
            for (int i = 0; i < s.eig.n_top; i++)
                fprintf(stderr, "  top %2d   %22.15g   residual %.2e\n", i + 1, s.eig.top[i],
                        s.eig.top_true_residual ? s.eig.top_true_residual[i] : s.eig.top_residual[i]);
            for (int i = 0; i < s.eig.n_bottom; i++)
                fprintf(stderr, "  bottom %2d %20.15g   residual %.2e\n", i + 1, s.eig.bottom[i],
                        s.eig.bottom_true_residual ? s.eig.bottom_true_residual[i] : s.eig.bottom_residual[i]);
            fprintf(stderr, "  Lanczos: %zu products, %zu restarts, %.2f s%s\n", s.eig.n_products,
                    s.eig.n_restarts, s.eig.seconds, s.eig.converged ? "" : " (NOT converged)");
        }
    }
    if (want_trace && rc != 130) {
        minima_trace_params tp = minima_trace_default_params();
        tp.rtol = trace_rtol;
        tp.max_samples = trace_max;
        tp.seed = seed + 1;
        if (s.exact) {
            /* The dense spectrum is at hand: its sum is the trace, exactly. */
            memset(&s.trace, 0, sizeof s.trace);
            s.trace.method = "exact";
            for (size_t i = 0; i < s.n; i++) s.trace.estimate += s.exact[i];
            s.trace.samples = s.n;
            s.trace.converged = 1;
            st = MINIMA_OK;
        } else if (!strcmp(trace_method, "exact")) st = minima_trace_exact(op, &s.trace);
        else if (!strcmp(trace_method, "hutchinson")) st = minima_trace_hutchinson(op, &tp, &s.trace);
        else st = minima_trace_hutchpp(op, &tp, &s.trace);
        if (st != MINIMA_OK) { rc = cli_fail("spectrum", st); goto done; }
        s.have_trace = 1;
        if (!json)
            fprintf(stderr, "  trace (%s) %.10g +- %.2g (%zu samples, %zu products)\n", s.trace.method,
                    s.trace.estimate, s.trace.std_error, s.trace.samples, s.trace.n_products);
    }
    if (want_density && rc != 130) {
        minima_density_params dp = minima_density_default_params();
        dp.n_steps = slq_steps;
        dp.n_draws = slq_draws;
        dp.seed = seed + 2;
        if ((st = minima_density_slq(op, &dp, &s.dens)) != MINIMA_OK) { rc = cli_fail("spectrum", st); goto done; }
        s.have_dens = 1;
        if (!json)
            fprintf(stderr, "  density: %zu grid points on [%.4g, %.4g] from %zu SLQ steps x %zu draws\n",
                    s.dens.n_grid, s.dens.grid[0], s.dens.grid[s.dens.n_grid - 1], slq_steps, slq_draws);
    }
    s.seconds = cli_now() - t0;
    /* The results first: a plot that fails to write loses nothing computed. */
    if (json) print_json(&s, minima_net_n_products(cn.net), cn.model);
    else fprintf(stderr, "%zu Hessian-vector products, %.2f s\n", minima_net_n_products(cn.net), s.seconds);
    if (noconv) {
        char tl[MINIMA_DOUBLE_CHARS];
        minima_format_double(tl, sizeof tl, tol);
        fprintf(stderr, "minima spectrum: Lanczos did not converge in %zu products (--max-products; "
                "--tol %s); partial result printed%s\n", max_products, tl,
                json ? " (\"converged\": false)" : " above");
    }
    if (plot && s.have_dens) {
        char title[512];
        snprintf(title, sizeof title, "Hessian spectral density of %s", na.model_path);
        if ((st = cli_plot_density(plot, &s.dens, s.have_eig ? s.eig.top : NULL,
                                   s.have_eig ? s.eig.n_top : 0, title)) != MINIMA_OK) {
            cli_fail("spectrum", st);
            rc = EXIT_COMPUTE;          /* the results above stand; only the figure is missing */
            goto done;
        }
        if (!json) fprintf(stderr, "wrote %s\n", plot);
    }
    if (rc < 0) rc = EXIT_OK;
done:
    if (s.have_eig) minima_eigs_result_free(&s.eig);
    if (s.have_dens) minima_density_result_free(&s.dens);
    minima_free(s.exact);
    free(level_v);
    minima_free(dense);
    minima_free(grad);
    minima_free(index);
    if (op != full) minima_linop_free(op);
    minima_linop_free(full);
    cli_net_close(&cn);
    return rc;
}
